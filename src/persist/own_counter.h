// Private to persist: what a loaded causal key state says about counters:
// this node's own (for the counter's restart) and whether they fit.
#pragma once

#include <algorithm>
#include <cstdint>

#include "causalkv/store/causal.h"
#include "causalkv/store/version.h"

namespace causalkv::persist {

// The highest counter of `self`'s dots in `state`: its siblings, its
// context entry and its TTL stamp (0 if none).
inline uint64_t OwnCounter(const store::KeyState& state, store::ActorId self) {
  uint64_t max = state.context.Get(self);
  for (const store::SiblingValue& s : state.siblings) {
    if (s.dot.actor == self) max = std::max(max, s.dot.counter);
  }
  if (state.ttl_stamp.actor == self) max = std::max(max, state.ttl_stamp.counter);
  return max;
}

// False if a counter of `state` could not be packed in a Version: only a
// damaged file (or a bug) holds one, and loading it would stop this node's
// counter or its writes to the key.
inline bool CountersFit(const store::KeyState& state) {
  constexpr uint64_t kMax = store::Version::kCounterMask;
  for (const auto& [actor, counter] : state.context.entries()) {
    if (counter > kMax) return false;
  }
  // Siblings are covered by the context; only the TTL stamp is apart.
  return state.ttl_stamp.counter <= kMax;
}

}  // namespace causalkv::persist
