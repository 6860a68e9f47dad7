// Fuzz target: store::DecodeKeyState, the decoder of key states received
// from peers (PEER.MERGE, anti-entropy) and stored in format 3 snapshots and
// logs, and the merge (Sync) that is applied to what it decodes.
//
// Checks, beyond not crashing:
//   - a decoded state passes Valid() and re-encodes to exactly the bytes it
//     was decoded from (the encoding is canonical); a refusal leaves the
//     input where it was and says why;
//   - on up to three states decoded one after the other from the input, the
//     merge laws of store/causal.h: the merge is valid and round-trips
//     through the encoding; Sync(a, a) == a; Sync(Sync(a, b), b) ==
//     Sync(a, b); Sync(Sync(a, b), c) == Sync(a, Sync(b, c)); Sync(a, b) ==
//     Sync(b, a) unless both hold one dot with different values (a write
//     has one value: only forged input does that); Includes(a, b) exactly
//     when Sync(a, b) == a; the merge Includes both sides.
// Input: encoded states, back to back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/store/causal.h"
#include "fuzz_support.h"

namespace {

using causalkv::fuzz::Escape;
using causalkv::store::KeyState;

std::string Show(const KeyState& s) {
  namespace store = causalkv::store;
  std::string out = "ctx{";
  for (const auto& [actor, counter] : s.context.entries()) {
    out += " " + store::FormatDot({actor, counter});
  }
  out += " }";
  for (const auto& sib : s.siblings)
    out += " [" + store::FormatDot(sib.dot) + "]" + Escape(sib.value);
  out += " ttl=" + std::to_string(s.expire_at_ms) + "@" + store::FormatDot(s.ttl_stamp);
  return out;
}

std::string Encode(const KeyState& s) {
  std::string out;
  causalkv::store::EncodeKeyState(s, &out);
  return out;
}

// Both hold a dot, with different values.
bool Conflicting(const KeyState& a, const KeyState& b) {
  for (const auto& x : a.siblings) {
    for (const auto& y : b.siblings) {
      if (x.dot == y.dot && x.value != y.value) return true;
    }
  }
  return false;
}

void CheckMerge(const KeyState& a, const KeyState& b) {
  namespace store = causalkv::store;
  const std::string both = "a = " + Show(a) + "\nb = " + Show(b);
  const KeyState ab = store::Sync(a, b);
  FUZZ_REQUIRE(store::Valid(ab), both + "\nSync = " + Show(ab));
  const std::string encoded = Encode(ab);
  std::string_view in = encoded;
  KeyState decoded;
  std::string error;
  FUZZ_REQUIRE(store::DecodeKeyState(&in, &decoded, &error) && in.empty() && decoded == ab,
               both + "\nSync = " + Show(ab) + " does not round-trip: " + error);
  FUZZ_REQUIRE(store::Sync(ab, b) == ab, both + "\nSync(Sync(a, b), b) differs");
  if (!Conflicting(a, b)) {
    FUZZ_REQUIRE(store::Sync(b, a) == ab,
                 both + "\nSync(a, b) = " + Show(ab) + "\nSync(b, a) = " + Show(store::Sync(b, a)));
  }
  FUZZ_REQUIRE(store::Includes(a, b) == (ab == a),
               both + "\nIncludes(a, b) = " + std::to_string(store::Includes(a, b)) +
                   " but Sync(a, b) = " + Show(ab));
  FUZZ_REQUIRE(store::Includes(ab, a) && store::Includes(ab, b),
               both + "\nSync(a, b) = " + Show(ab) + " does not include both");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace store = causalkv::store;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<KeyState> states;
  while (states.size() < 3) {
    const std::string_view before = in;
    KeyState state;
    std::string error;
    if (!store::DecodeKeyState(&in, &state, &error)) {
      FUZZ_REQUIRE(!error.empty() && in.data() == before.data() && in.size() == before.size(),
                   "a refusal moved the input or gave no reason");
      break;
    }
    const std::string_view consumed = before.substr(0, before.size() - in.size());
    FUZZ_REQUIRE(store::Valid(state), "decoded an invalid state: " + Show(state));
    const std::string again = Encode(state);
    FUZZ_REQUIRE(again == consumed, "\"" + Escape(consumed) + "\" decodes to " + Show(state) +
                                        ", which encodes to \"" + Escape(again) + "\"");
    if (consumed.empty()) break;  // cannot happen (a state has fixed fields); never loop on it
    states.push_back(std::move(state));
  }
  for (const KeyState& a : states) {
    FUZZ_REQUIRE(store::Sync(a, a) == a, "Sync(a, a) != a for " + Show(a));
    for (const KeyState& b : states) CheckMerge(a, b);
  }
  if (states.size() == 3) {
    const KeyState& a = states[0];
    const KeyState& b = states[1];
    const KeyState& c = states[2];
    const KeyState left = store::Sync(store::Sync(a, b), c);
    const KeyState right = store::Sync(a, store::Sync(b, c));
    FUZZ_REQUIRE(left == right, "a = " + Show(a) + "\nb = " + Show(b) + "\nc = " + Show(c) +
                                    "\n(ab)c = " + Show(left) + "\na(bc) = " + Show(right));
  }
  return 0;
}
