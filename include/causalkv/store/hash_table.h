// HashTable: chained hash table of SiblingSet blocks, keyed by their key,
// with Redis-style incremental rehashing and a reverse-binary SCAN cursor.
//
// Invariants:
//   - bucket counts are powers of two (minimum kMinBuckets);
//   - while rehashing, buckets of table 0 below rehash_index_ are empty, and
//     new entries go to table 1;
//   - the table owns its entries and frees them on Clear() and destruction.
//
// Links (SiblingSet**) returned by FindLink() point at the slot that holds the
// entry. They stay valid until the next call that inserts, unlinks or
// rehashes, so callers must not hold one across such calls. Nothing here
// rehashes implicitly: the owner calls RehashStep() at the start of each
// operation, never in the middle of one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "causalkv/store/sibling_set.h"

namespace causalkv::store {

class HashTable {
 public:
  explicit HashTable(uint64_t seed);
  ~HashTable();
  HashTable(const HashTable&) = delete;
  HashTable& operator=(const HashTable&) = delete;

  size_t size() const { return size_; }
  size_t bucket_count() const { return table_[0].mask + 1 + (IsRehashing() ? table_[1].mask + 1 : 0); }
  bool IsRehashing() const { return table_[1].buckets != nullptr; }
  size_t bucket_bytes() const { return bucket_count() * sizeof(SiblingSet*); }

  // The slot holding the entry for `key`, or nullptr.
  SiblingSet** FindLink(std::string_view key);
  // Hints for a batch of lookups (no effect on the contents): stage 0 asks
  // the CPU for the bucket slot of `key`, stage 1 (a few lookups later, once
  // that slot is cached) for the first entry of its chain. A random lookup
  // in a large table is two cache misses, and this overlaps them.
  void Prefetch(std::string_view key, int stage) const;
  // REQUIRES: no entry with this key.
  void Insert(SiblingSet* set);
  // Removes the entry in *link from its chain and returns it (not freed).
  SiblingSet* Unlink(SiblingSet** link);
  // Puts `set` in the chain position of the entry in *link, which it
  // replaces (not freed). REQUIRES: the same key.
  void Replace(SiblingSet** link, SiblingSet* set) {
    set->next_ = (*link)->next_;
    *link = set;
  }
  // Frees every entry.
  void Clear();

  // Moves up to `steps` buckets from table 0 to table 1; starts a resize when
  // the load calls for one. Returns true while more rehashing is pending.
  bool RehashStep(int steps);

  // Visits the bucket(s) `cursor` names and returns the next cursor (0 when
  // the iteration is complete). Every key present for the whole iteration is
  // visited at least once, however the table grows or shrinks in between.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) const;

  // A random entry, or nullptr when empty. `rnd` is a caller-supplied random source.
  template <typename Rng>
  SiblingSet* Random(Rng& rnd) const;

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (int t = 0; t < 2; ++t) {
      if (table_[t].buckets == nullptr) continue;
      for (size_t i = 0; i <= table_[t].mask; ++i)
        for (SiblingSet* e = table_[t].buckets[i]; e != nullptr; e = e->next_) fn(e);
    }
  }

  static constexpr size_t kMinBuckets = 4;

 private:
  struct Table {
    SiblingSet** buckets = nullptr;
    size_t mask = 0;
  };
  uint64_t Hash(std::string_view key) const;
  void StartResize(size_t buckets);
  void MaybeResize();
  static uint64_t Reverse(uint64_t v);

  Table table_[2];
  size_t rehash_index_ = 0;
  size_t size_ = 0;
  uint64_t seed_;
};

inline uint64_t HashTable::Reverse(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  return __builtin_bswap64(v);
}

template <typename Fn>
uint64_t HashTable::Scan(uint64_t cursor, Fn&& fn) const {
  auto visit = [&fn](SiblingSet* e) {
    for (; e != nullptr; e = e->next_) fn(e);
  };
  uint64_t v = cursor;
  if (!IsRehashing()) {
    const uint64_t m0 = table_[0].mask;
    visit(table_[0].buckets[v & m0]);
    // Increment the reversed cursor: iterating high bits first is what makes
    // the cursor valid across a resize (a bucket's keys move only to buckets
    // that share its low bits).
    v |= ~m0;
    v = Reverse(v);
    ++v;
    return Reverse(v);
  }
  const Table* small = &table_[0];
  const Table* large = &table_[1];
  if (small->mask > large->mask) std::swap(small, large);
  const uint64_t m0 = small->mask;
  const uint64_t m1 = large->mask;
  visit(small->buckets[v & m0]);
  // Then every bucket of the larger table that expands the small one's.
  do {
    visit(large->buckets[v & m1]);
    v |= ~m1;
    v = Reverse(v);
    ++v;
    v = Reverse(v);
  } while (v & (m0 ^ m1));
  return v;
}

template <typename Rng>
SiblingSet* HashTable::Random(Rng& rnd) const {
  if (size_ == 0) return nullptr;
  SiblingSet* head = nullptr;
  const size_t n0 = table_[0].mask + 1;
  const size_t n1 = IsRehashing() ? table_[1].mask + 1 : 0;
  // The load factor never falls below 1/8, so this ends after a few probes.
  while (head == nullptr) {
    size_t i = rnd() % (n0 + n1 - (IsRehashing() ? rehash_index_ : 0));
    if (IsRehashing()) i += rehash_index_;  // skip emptied buckets of table 0
    head = i < n0 ? table_[0].buckets[i] : table_[1].buckets[i - n0];
  }
  size_t len = 0;
  for (SiblingSet* e = head; e != nullptr; e = e->next_) ++len;
  size_t pick = rnd() % len;
  while (pick-- > 0) head = head->next_;
  return head;
}

}  // namespace causalkv::store
