#include "causalkv/store/hash_table.h"

#include <bit>
#include <cstdlib>
#include <new>

#include "causalkv/util/hash.h"

namespace causalkv::store {
namespace {

SiblingSet** AllocateBuckets(size_t n) {
  void* p = std::calloc(n, sizeof(SiblingSet*));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<SiblingSet**>(p);
}

}  // namespace

HashTable::HashTable(uint64_t seed) : seed_(seed) {
  table_[0].buckets = AllocateBuckets(kMinBuckets);
  table_[0].mask = kMinBuckets - 1;
}

HashTable::~HashTable() {
  Clear();
  std::free(table_[0].buckets);
}

uint64_t HashTable::Hash(std::string_view key) const { return util::HashString(key, seed_); }

SiblingSet** HashTable::FindLink(std::string_view key) {
  const uint64_t h = Hash(key);
  for (int t = 0; t < 2; ++t) {
    Table& table = table_[t];
    if (table.buckets == nullptr) break;
    const size_t idx = h & table.mask;
    if (t == 0 && IsRehashing() && idx < rehash_index_) continue;  // already moved
    for (SiblingSet** link = &table.buckets[idx]; *link != nullptr; link = &(*link)->next_) {
      SiblingSet* e = *link;
      if (e->key_len_ == key.size() && e->key() == key) return link;
    }
  }
  return nullptr;
}

void HashTable::Prefetch(std::string_view key, int stage) const {
  const uint64_t h = Hash(key);
  for (int t = 0; t < 2; ++t) {
    const Table& table = table_[t];
    if (table.buckets == nullptr) break;
    SiblingSet* const* slot = &table.buckets[h & table.mask];
    if (stage == 0) {
      __builtin_prefetch(slot);
    } else if (*slot != nullptr) {
      __builtin_prefetch(*slot);
    }
  }
}

void HashTable::Insert(SiblingSet* set) {
  Table& table = IsRehashing() ? table_[1] : table_[0];
  SiblingSet** bucket = &table.buckets[Hash(set->key()) & table.mask];
  set->next_ = *bucket;
  *bucket = set;
  ++size_;
  MaybeResize();
}

SiblingSet* HashTable::Unlink(SiblingSet** link) {
  SiblingSet* e = *link;
  *link = e->next_;
  e->next_ = nullptr;
  --size_;
  return e;
}

void HashTable::Clear() {
  for (int t = 0; t < 2; ++t) {
    Table& table = table_[t];
    if (table.buckets == nullptr) continue;
    for (size_t i = 0; i <= table.mask; ++i) {
      SiblingSet* e = table.buckets[i];
      while (e != nullptr) {
        SiblingSet* next = e->next_;
        SiblingSet::Destroy(e);
        e = next;
      }
    }
  }
  std::free(table_[0].buckets);
  std::free(table_[1].buckets);
  table_[1] = Table{};
  table_[0].buckets = AllocateBuckets(kMinBuckets);
  table_[0].mask = kMinBuckets - 1;
  rehash_index_ = 0;
  size_ = 0;
}

void HashTable::MaybeResize() {
  if (IsRehashing()) return;
  const size_t buckets = table_[0].mask + 1;
  if (size_ >= buckets) {
    StartResize(std::bit_ceil(size_ + 1));
  } else if (buckets > kMinBuckets && size_ * 8 < buckets) {
    StartResize(std::max(kMinBuckets, std::bit_ceil(size_ + 1)));
  }
}

void HashTable::StartResize(size_t buckets) {
  if (buckets == table_[0].mask + 1) return;
  table_[1].buckets = AllocateBuckets(buckets);
  table_[1].mask = buckets - 1;
  rehash_index_ = 0;
}

bool HashTable::RehashStep(int steps) {
  if (!IsRehashing()) {
    MaybeResize();
    if (!IsRehashing()) return false;
  }
  // Bound the empty buckets visited too, so one step stays cheap in a sparse table.
  int empty_visits = steps * 10;
  const size_t n0 = table_[0].mask + 1;
  while (steps > 0 && rehash_index_ < n0) {
    SiblingSet* e = table_[0].buckets[rehash_index_];
    if (e == nullptr) {
      ++rehash_index_;
      if (--empty_visits == 0) return true;
      continue;
    }
    while (e != nullptr) {
      SiblingSet* next = e->next_;
      SiblingSet** bucket = &table_[1].buckets[Hash(e->key()) & table_[1].mask];
      e->next_ = *bucket;
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

}  // namespace causalkv::store
