// IntrusiveTable<Entry, Traits>: a chained hash table of heap entries that
// carry their own chain link (so there is no node allocation), keyed by a
// string each entry holds, with Redis-style incremental rehashing and a
// reverse-binary SCAN cursor. Two instantiations share this one algorithm:
//   - HashTable, the keyspace's table of SiblingSet blocks (below);
//   - HashValue's hashtable encoding (store/hash_value.h).
//
// Traits, all static and inline, so that a lookup costs what a table written
// for one entry type would:
//   Entry** NextSlot(Entry* e)          the entry's chain link
//   std::string_view Key(const Entry* e) the key the entry is hashed by
//   bool KeyEquals(const Entry* e, std::string_view key)
//                                       Key(e) == key, cheapest test first
//   void Destroy(Entry* e)              frees an entry (Clear(), destruction)
//
// Invariants:
//   - bucket counts are powers of two (minimum kMinBuckets);
//   - every entry is in exactly one chain: bucket Hash(key) & mask of table
//     0, or of table 1 while rehashing; keys are unique (Insert REQUIRES it);
//   - while rehashing, buckets of table 0 below rehash_index_ are empty, and
//     new entries go to table 1;
//   - a resize starts when the load reaches 1 or falls below 1/8 (never
//     below kMinBuckets), and targets bit_ceil(size + 1) buckets;
//   - the table owns its entries and frees them on Clear() and destruction.
//
// Links (Entry**) returned by FindLink() point at the slot that holds the
// entry. They stay valid until the next call that inserts, unlinks or
// rehashes, so callers must not hold one across such calls. Nothing here
// rehashes implicitly: the owner calls RehashStep() at the start of each
// operation, never in the middle of one. Rehashing moves entries between
// chains but never frees or moves an entry itself, so pointers to entries
// (and views into them) survive it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "causalkv/store/sibling_set.h"
#include "causalkv/util/hash.h"

namespace causalkv::store {
namespace table_internal {

// A zeroed array of `n` bucket pointers; throws std::bad_alloc.
void* AllocateBuckets(size_t n);
// malloc_usable_size(p), kept out of line so that this header needs no <malloc.h>.
size_t UsableBytes(const void* p);

inline uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  return __builtin_bswap64(v);
}

}  // namespace table_internal

template <typename Entry, typename Traits>
class IntrusiveTable {
 public:
  static constexpr size_t kMinBuckets = 4;

  // `initial_buckets` (rounded up to a power of two) sizes the table for a
  // known number of entries, so that filling it needs no resize.
  explicit IntrusiveTable(uint64_t seed, size_t initial_buckets = kMinBuckets);
  ~IntrusiveTable();
  IntrusiveTable(const IntrusiveTable&) = delete;
  IntrusiveTable& operator=(const IntrusiveTable&) = delete;

  size_t size() const { return size_; }
  size_t bucket_count() const {
    return table_[0].mask + 1 + (IsRehashing() ? table_[1].mask + 1 : 0);
  }
  bool IsRehashing() const { return table_[1].buckets != nullptr; }
  size_t bucket_bytes() const { return bucket_count() * sizeof(Entry*); }
  // The allocator's usable bytes of the bucket array(s): bucket_bytes() plus
  // the allocator's rounding, for exact memory accounting.
  size_t bucket_usable_bytes() const {
    return table_internal::UsableBytes(table_[0].buckets) +
           (IsRehashing() ? table_internal::UsableBytes(table_[1].buckets) : 0);
  }

  // The slot holding the entry for `key`, or nullptr.
  Entry** FindLink(std::string_view key) {
    return const_cast<Entry**>(std::as_const(*this).FindSlot(key));
  }
  // The entry for `key`, or nullptr.
  const Entry* Find(std::string_view key) const {
    Entry* const* link = FindSlot(key);
    return link == nullptr ? nullptr : *link;
  }
  // Hints for a batch of lookups (no effect on the contents): stage 0 asks
  // the CPU for the bucket slot of `key`, stage 1 (a few lookups later, once
  // that slot is cached) for the first entry of its chain. A random lookup
  // in a large table is two cache misses, and this overlaps them.
  void Prefetch(std::string_view key, int stage) const;
  // REQUIRES: no entry with this key.
  void Insert(Entry* entry);
  // Removes the entry in *link from its chain and returns it (not freed).
  Entry* Unlink(Entry** link);
  // Puts `entry` in the chain position of the entry in *link, which it
  // replaces (not freed). REQUIRES: the same key.
  void Replace(Entry** link, Entry* entry) {
    *Traits::NextSlot(entry) = *Traits::NextSlot(*link);
    *link = entry;
  }
  // Frees every entry.
  void Clear();
  // Makes this table a copy of `other` of the same shape (bucket counts,
  // rehash progress, chain order, seed), so that it iterates in the same
  // order; copy(const Entry*) returns a new entry with the same key.
  // REQUIRES: this table is empty.
  template <typename CopyFn>
  void CopyFrom(const IntrusiveTable& other, CopyFn&& copy);

  // Moves up to `steps` buckets from table 0 to table 1; starts a resize when
  // the load calls for one. Returns true while more rehashing is pending.
  bool RehashStep(int steps);

  // Visits the bucket(s) `cursor` names and returns the next cursor (0 when
  // the iteration is complete). Every key present for the whole iteration is
  // visited at least once, however the table grows or shrinks in between.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) const;

  // A random entry, or nullptr when empty: a random non-empty bucket, then a
  // random entry of its chain (cheap; entries of short chains are favoured,
  // as with Redis's dictGetRandomKey). `rnd` is a caller-supplied random source.
  template <typename Rng>
  Entry* Random(Rng& rnd) const;
  // A uniformly random entry, or nullptr when empty. Rejection sampling over
  // (bucket, rank) pairs, rank < kUniformChainBound: a pair is kept when its
  // bucket's chain has an entry at that rank, so every entry is equally
  // likely while no chain is longer than the bound. Rank bound - 1 of a
  // longer chain stands for the whole tail, so its entries stay reachable,
  // a little less likely; with a seeded hash and a load of at most 1 such a
  // chain is practically impossible (about 1e-6 per bucket). A pick costs
  // about kUniformChainBound / load pairs (8 to 64 between the resize
  // thresholds); they are drawn in batches whose bucket slots, then chain
  // heads, are prefetched together, so a pick waits for a few cache misses,
  // not for one per pair (SPOP on a large set is bound by these misses).
  template <typename Rng>
  Entry* UniformRandom(Rng& rnd) const;
  static constexpr size_t kUniformChainBound = 8;

  // Calls fn(const void*) with each bucket array: the blocks the table
  // itself allocated (tests check memory accounting with it).
  template <typename Fn>
  void TEST_ForEachBucketArray(Fn&& fn) const {
    for (const Table& table : table_)
      if (table.buckets != nullptr) fn(static_cast<const void*>(table.buckets));
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (int t = 0; t < 2; ++t) {
      if (table_[t].buckets == nullptr) continue;
      for (size_t i = 0; i <= table_[t].mask; ++i)
        for (Entry* e = table_[t].buckets[i]; e != nullptr; e = *Traits::NextSlot(e)) fn(e);
    }
  }

 private:
  struct Table {
    Entry** buckets = nullptr;
    size_t mask = 0;
  };
  uint64_t Hash(std::string_view key) const { return util::HashString(key, seed_); }
  Entry* const* FindSlot(std::string_view key) const;
  static Table NewTable(size_t buckets) {
    return Table{static_cast<Entry**>(table_internal::AllocateBuckets(buckets)), buckets - 1};
  }
  void StartResize(size_t buckets);
  void MaybeResize();
  // The head of a random non-empty bucket. REQUIRES: size_ > 0.
  template <typename Rng>
  Entry* RandomChain(Rng& rnd, size_t* length) const;

  Table table_[2];
  size_t rehash_index_ = 0;
  size_t size_ = 0;
  uint64_t seed_;
};

// The keyspace's table: SiblingSet blocks keyed by their key. A class of its
// own rather than an alias because SiblingSet befriends HashTable to let it
// reach the blocks' next_ link, so HashTable is its own Traits.
class HashTable : public IntrusiveTable<SiblingSet, HashTable> {
 public:
  explicit HashTable(uint64_t seed) : IntrusiveTable(seed) {}

 private:
  friend class IntrusiveTable<SiblingSet, HashTable>;
  static SiblingSet** NextSlot(SiblingSet* set) { return &set->next_; }
  static std::string_view Key(const SiblingSet* set) { return set->key(); }
  // The length first: it is in the header, while the key's offset depends on
  // the block's optional parts.
  static bool KeyEquals(const SiblingSet* set, std::string_view key) {
    return set->key_len_ == key.size() && set->key() == key;
  }
  static void Destroy(SiblingSet* set) { SiblingSet::Destroy(set); }
};

// --- IntrusiveTable implementation ------------------------------------------

template <typename Entry, typename Traits>
IntrusiveTable<Entry, Traits>::IntrusiveTable(uint64_t seed, size_t initial_buckets) : seed_(seed) {
  table_[0] = NewTable(std::bit_ceil(std::max(initial_buckets, kMinBuckets)));
}

template <typename Entry, typename Traits>
IntrusiveTable<Entry, Traits>::~IntrusiveTable() {
  Clear();
  std::free(table_[0].buckets);
}

template <typename Entry, typename Traits>
Entry* const* IntrusiveTable<Entry, Traits>::FindSlot(std::string_view key) const {
  const uint64_t h = Hash(key);
  for (int t = 0; t < 2; ++t) {
    const Table& table = table_[t];
    if (table.buckets == nullptr) break;
    const size_t idx = h & table.mask;
    if (t == 0 && IsRehashing() && idx < rehash_index_) continue;  // already moved
    for (Entry* const* link = &table.buckets[idx]; *link != nullptr;
         link = Traits::NextSlot(*link)) {
      if (Traits::KeyEquals(*link, key)) return link;
    }
  }
  return nullptr;
}

template <typename Entry, typename Traits>
void IntrusiveTable<Entry, Traits>::Prefetch(std::string_view key, int stage) const {
  const uint64_t h = Hash(key);
  for (int t = 0; t < 2; ++t) {
    const Table& table = table_[t];
    if (table.buckets == nullptr) break;
    Entry* const* slot = &table.buckets[h & table.mask];
    if (stage == 0) {
      __builtin_prefetch(slot);
    } else if (*slot != nullptr) {
      __builtin_prefetch(*slot);
    }
  }
}

template <typename Entry, typename Traits>
void IntrusiveTable<Entry, Traits>::Insert(Entry* entry) {
  Table& table = IsRehashing() ? table_[1] : table_[0];
  Entry** bucket = &table.buckets[Hash(Traits::Key(entry)) & table.mask];
  *Traits::NextSlot(entry) = *bucket;
  *bucket = entry;
  ++size_;
  // Grow only: a table sized ahead for a bulk fill must not start shrinking
  // at its first insert (RehashStep shrinks a table that emptied).
  if (!IsRehashing() && size_ >= table_[0].mask + 1) StartResize(std::bit_ceil(size_ + 1));
}

template <typename Entry, typename Traits>
Entry* IntrusiveTable<Entry, Traits>::Unlink(Entry** link) {
  Entry* e = *link;
  *link = *Traits::NextSlot(e);
  *Traits::NextSlot(e) = nullptr;
  --size_;
  return e;
}

template <typename Entry, typename Traits>
void IntrusiveTable<Entry, Traits>::Clear() {
  for (int t = 0; t < 2; ++t) {
    Table& table = table_[t];
    if (table.buckets == nullptr) continue;
    for (size_t i = 0; i <= table.mask; ++i) {
      Entry* e = table.buckets[i];
      while (e != nullptr) {
        Entry* next = *Traits::NextSlot(e);
        Traits::Destroy(e);
        e = next;
      }
    }
  }
  std::free(table_[0].buckets);
  std::free(table_[1].buckets);
  table_[1] = Table{};
  table_[0] = Table{};  // in case the allocation below throws
  table_[0] = NewTable(kMinBuckets);
  rehash_index_ = 0;
  size_ = 0;
}

template <typename Entry, typename Traits>
template <typename CopyFn>
void IntrusiveTable<Entry, Traits>::CopyFrom(const IntrusiveTable& other, CopyFn&& copy) {
  std::free(table_[0].buckets);
  table_[0] = Table{};
  seed_ = other.seed_;
  rehash_index_ = other.rehash_index_;
  // Each table complete (buckets allocated, zeroed) before any copy, so that
  // a failed allocation leaves a table Clear() can free.
  for (int t = 0; t < 2; ++t) {
    if (other.table_[t].buckets != nullptr) table_[t] = NewTable(other.table_[t].mask + 1);
  }
  for (int t = 0; t < 2; ++t) {
    if (other.table_[t].buckets == nullptr) continue;
    for (size_t i = 0; i <= other.table_[t].mask; ++i) {
      Entry** tail = &table_[t].buckets[i];
      for (Entry* e = other.table_[t].buckets[i]; e != nullptr; e = *Traits::NextSlot(e)) {
        Entry* c = copy(e);
        *Traits::NextSlot(c) = nullptr;
        *tail = c;
        tail = Traits::NextSlot(c);
        ++size_;
      }
    }
  }
}

template <typename Entry, typename Traits>
void IntrusiveTable<Entry, Traits>::MaybeResize() {
  if (IsRehashing()) return;
  const size_t buckets = table_[0].mask + 1;
  if (size_ >= buckets) {
    StartResize(std::bit_ceil(size_ + 1));
  } else if (buckets > kMinBuckets && size_ * 8 < buckets) {
    StartResize(std::max(kMinBuckets, std::bit_ceil(size_ + 1)));
  }
}

template <typename Entry, typename Traits>
void IntrusiveTable<Entry, Traits>::StartResize(size_t buckets) {
  if (buckets == table_[0].mask + 1) return;
  table_[1] = NewTable(buckets);
  rehash_index_ = 0;
}

template <typename Entry, typename Traits>
bool IntrusiveTable<Entry, Traits>::RehashStep(int steps) {
  if (!IsRehashing()) {
    MaybeResize();
    if (!IsRehashing()) return false;
  }
  // Bound the empty buckets visited too, so one step stays cheap in a sparse table.
  int empty_visits = steps * 10;
  const size_t n0 = table_[0].mask + 1;
  while (steps > 0 && rehash_index_ < n0) {
    Entry* e = table_[0].buckets[rehash_index_];
    if (e == nullptr) {
      ++rehash_index_;
      if (--empty_visits == 0) return true;
      continue;
    }
    while (e != nullptr) {
      Entry* next = *Traits::NextSlot(e);
      Entry** bucket = &table_[1].buckets[Hash(Traits::Key(e)) & table_[1].mask];
      *Traits::NextSlot(e) = *bucket;
      *bucket = e;
      e = next;
    }
    table_[0].buckets[rehash_index_++] = nullptr;
    --steps;
  }
  if (rehash_index_ < n0) return true;
  std::free(table_[0].buckets);
  table_[0] = table_[1];
  table_[1] = Table{};
  rehash_index_ = 0;
  MaybeResize();  // the size may have moved far since the resize started
  return IsRehashing();
}

template <typename Entry, typename Traits>
template <typename Fn>
uint64_t IntrusiveTable<Entry, Traits>::Scan(uint64_t cursor, Fn&& fn) const {
  using table_internal::ReverseBits;
  auto visit = [&fn](Entry* e) {
    for (; e != nullptr; e = *Traits::NextSlot(e)) fn(e);
  };
  uint64_t v = cursor;
  if (!IsRehashing()) {
    const uint64_t m0 = table_[0].mask;
    visit(table_[0].buckets[v & m0]);
    // Increment the reversed cursor: iterating high bits first is what makes
    // the cursor valid across a resize (a bucket's keys move only to buckets
    // that share its low bits).
    v |= ~m0;
    v = ReverseBits(v);
    ++v;
    return ReverseBits(v);
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
    v = ReverseBits(v);
    ++v;
    v = ReverseBits(v);
  } while (v & (m0 ^ m1));
  return v;
}

template <typename Entry, typename Traits>
template <typename Rng>
Entry* IntrusiveTable<Entry, Traits>::RandomChain(Rng& rnd, size_t* length) const {
  Entry* head = nullptr;
  const size_t n0 = table_[0].mask + 1;
  const size_t n1 = IsRehashing() ? table_[1].mask + 1 : 0;
  // The load factor never falls below 1/8, so this ends after a few probes.
  while (head == nullptr) {
    size_t i = rnd() % (n0 + n1 - (IsRehashing() ? rehash_index_ : 0));
    if (IsRehashing()) i += rehash_index_;  // skip emptied buckets of table 0
    head = i < n0 ? table_[0].buckets[i] : table_[1].buckets[i - n0];
  }
  size_t len = 0;
  for (Entry* e = head; e != nullptr; e = *Traits::NextSlot(e)) ++len;
  *length = len;
  return head;
}

template <typename Entry, typename Traits>
template <typename Rng>
Entry* IntrusiveTable<Entry, Traits>::Random(Rng& rnd) const {
  if (size_ == 0) return nullptr;
  size_t len;
  Entry* e = RandomChain(rnd, &len);
  size_t pick = rnd() % len;
  while (pick-- > 0) e = *Traits::NextSlot(e);
  return e;
}

template <typename Entry, typename Traits>
template <typename Rng>
Entry* IntrusiveTable<Entry, Traits>::UniformRandom(Rng& rnd) const {
  static_assert(std::has_single_bit(kUniformChainBound));
  if (size_ == 0) return nullptr;
  // The live buckets, numbered 0..span-1: table 0 from rehash_index_, then table 1.
  const size_t n0 = table_[0].mask + 1;
  const size_t skip = IsRehashing() ? rehash_index_ : 0;
  const size_t span = n0 - skip + (IsRehashing() ? table_[1].mask + 1 : 0);
  constexpr int kBatch = 8;
  Entry* const* slot[kBatch];
  uint32_t rank[kBatch];
  // One draw from the caller's generator seeds a SplitMix64 sequence for the
  // pairs: a pick may take dozens, and mt19937_64 costs several times more.
  uint64_t state = static_cast<uint64_t>(rnd());
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (;;) {
    for (int c = 0; c < kBatch; ++c) {
      const uint64_t r = next();
      // The bucket from the high bits (multiply-shift, no division), the rank
      // from the low ones, which barely move the product: independent draws.
      const size_t i =
          skip + static_cast<size_t>((static_cast<unsigned __int128>(r) * span) >> 64);
      slot[c] = i < n0 ? &table_[0].buckets[i] : &table_[1].buckets[i - n0];
      rank[c] = static_cast<uint32_t>(r & (kUniformChainBound - 1));
      __builtin_prefetch(slot[c]);
    }
    for (int c = 0; c < kBatch; ++c) {
      Entry* head = *slot[c];
      if (head != nullptr && rank[c] != 0) __builtin_prefetch(Traits::NextSlot(head));
    }
    // In draw order, so that the first kept pair is a plain rejection sample.
    for (int c = 0; c < kBatch; ++c) {
      Entry* e = *slot[c];
      for (uint32_t k = rank[c]; e != nullptr && k > 0; --k) e = *Traits::NextSlot(e);
      if (e == nullptr) continue;
      if (rank[c] == kUniformChainBound - 1 && *Traits::NextSlot(e) != nullptr) {
        size_t tail = 0;
        for (Entry* t = e; t != nullptr; t = *Traits::NextSlot(t)) ++tail;
        for (size_t pick = next() % tail; pick > 0; --pick) e = *Traits::NextSlot(e);
      }
      return e;
    }
  }
}

}  // namespace causalkv::store
