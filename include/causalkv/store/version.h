// Version: the server-wide counter value a write was stamped with, packed
// with the writer's actor (a small index into the store's ActorTable) in the
// top kActorBits bits.
//
// A single node stamps everything with actor 0, so a version is just the
// counter and comparing versions is comparing counters (the seed's
// algorithm). With peers, a sibling's version is a dot (actor, counter) in
// 8 bytes, and what covers it is a key's context (store/causal.h).
#pragma once

#include <compare>
#include <cstdint>

namespace causalkv::store {

class Version {
 public:
  static constexpr int kActorBits = 12;
  static constexpr int kCounterBits = 64 - kActorBits;
  static constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;
  static constexpr uint32_t kMaxActors = 1u << kActorBits;

  constexpr Version() = default;
  // The packed form as stored (actor bits and counter).
  constexpr explicit Version(uint64_t raw) : counter_(raw) {}
  // REQUIRES: actor < kMaxActors, counter <= kCounterMask.
  static constexpr Version Dot(uint32_t actor, uint64_t counter) {
    return Version((uint64_t{actor} << kCounterBits) | counter);
  }

  // Version 0 is "read nothing": a blind write names it.
  static constexpr Version None() { return Version(0); }

  constexpr uint64_t counter() const { return counter_ & kCounterMask; }
  constexpr uint32_t actor() const { return static_cast<uint32_t>(counter_ >> kCounterBits); }
  constexpr uint64_t raw() const { return counter_; }
  constexpr bool IsNone() const { return counter_ == 0; }

  // Single node: a sibling with version s is superseded by a write that
  // names version v exactly when s <= v: the writer had read it.
  constexpr bool Covers(Version sibling) const { return sibling.counter_ <= counter_; }

  constexpr auto operator<=>(const Version&) const = default;

 private:
  uint64_t counter_ = 0;
};

}  // namespace causalkv::store
