// Version: the server-wide counter value a write was stamped with.
//
// Kept a named type so that the store never spreads bare integers around:
// when causalkv becomes multi-replica, a sibling's version becomes a dot
// (replica id, counter) and a key's version a version vector; the single
// server is the one-replica case, where comparing counters is enough.
#pragma once

#include <compare>
#include <cstdint>

namespace causalkv::store {

class Version {
 public:
  constexpr Version() = default;
  constexpr explicit Version(uint64_t counter) : counter_(counter) {}

  // Version 0 is "read nothing": a blind write names it.
  static constexpr Version None() { return Version(0); }

  constexpr uint64_t counter() const { return counter_; }
  constexpr bool IsNone() const { return counter_ == 0; }

  // A sibling with version s is superseded by a write that names version v
  // exactly when s <= v: the writer had read it.
  constexpr bool Covers(Version sibling) const { return sibling.counter_ <= counter_; }

  constexpr auto operator<=>(const Version&) const = default;

 private:
  uint64_t counter_ = 0;
};

}  // namespace causalkv::store
