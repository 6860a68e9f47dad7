#include "causalkv/store/store.h"

#include <chrono>
#include <string>

namespace causalkv::store {
namespace {

int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Store::Store(int databases, uint64_t hash_seed) {
  dbs_.reserve(databases);
  for (int i = 0; i < databases; ++i) {
    dbs_.push_back(std::make_unique<Keyspace>(&counter_, &clock_, &stats_,
                                              hash_seed + 0x9e3779b97f4a7c15ull * i));
    dbs_.back()->set_eviction_settings(&eviction_);
    dbs_.back()->set_max_siblings(&max_siblings_);
    dbs_.back()->set_collection_limits(&collection_limits_);
    dbs_.back()->set_event_sink(&key_events_, i);
  }
}

void Store::Evicted(int db, std::string_view key) {
  if (eviction_listener_) eviction_listener_(db, key);
  if (key_events_.wanted & kKeyEvicted) key_events_.fn(kKeyEvicted, db, key);
}

void Store::EnableCausal(ActorId self) {
  actors_ = std::make_unique<ActorTable>(self);
  for (auto& db : dbs_) db->EnableCausal(actors_.get());
}

void Store::FlushAll() {
  for (auto& db : dbs_) db->Clear();
}

size_t Store::ActiveExpireCycle(int64_t budget_us) {
  constexpr size_t kSamples = 20;
  const int64_t start = MonotonicMicros();
  size_t total = 0;
  for (size_t n = 0; n < dbs_.size(); ++n) {
    Keyspace& db = *dbs_[expire_db_cursor_];
    expire_db_cursor_ = (expire_db_cursor_ + 1) % dbs_.size();
    db.SweepEvicted(64);
    for (;;) {
      size_t sampled = 0;
      const size_t expired = db.ExpireSample(kSamples, &sampled);
      total += expired;
      if (sampled == 0 || expired * 4 <= sampled) break;
      if (MonotonicMicros() - start > budget_us) return total;
    }
    if (MonotonicMicros() - start > budget_us) break;
  }
  return total;
}

bool Store::EvictOne() {
  if (causal()) {
    for (size_t n = 0; n < dbs_.size(); ++n) {
      const size_t index = expired_drop_db_;
      expired_drop_db_ = (expired_drop_db_ + 1) % dbs_.size();
      std::string key;
      const bool protect = static_cast<int>(index) == evict_protected_db_;
      if (dbs_[index]->DropExpiredState(
              &key, protect ? evict_protected_ : std::span<const std::string_view>())) {
        // An expired state, not a live key: nothing a client saw leaves, so
        // it is logged but not notified as an eviction.
        if (eviction_listener_) eviction_listener_(static_cast<int>(index), key);
        return true;
      }
    }
  }
  const EvictionPolicy policy = eviction_.policy;
  if (policy == EvictionPolicy::kNoEviction) return false;
  if (policy == EvictionPolicy::kAllKeysRandom || policy == EvictionPolicy::kVolatileRandom) {
    for (size_t n = 0; n < dbs_.size(); ++n) {
      const int index = static_cast<int>(random_evict_cursor_);
      random_evict_cursor_ = (random_evict_cursor_ + 1) % dbs_.size();
      std::string key;
      if (dbs_[index]->EvictRandom(&key)) {
        Evicted(index, key);
        return true;
      }
    }
    return false;
  }
  // Candidates kept from earlier rounds may be stale: a key deleted, read
  // again, given a shorter TTL or none, or the policy changed. Re-score them
  // (16 lookups at most) before adding fresh samples.
  pool_.Refresh([this](int db, const std::string& key, uint64_t* score) {
    return db < database_count() && dbs_[db]->CurrentEvictionScore(key, score);
  });
  for (size_t i = 0; i < dbs_.size(); ++i) {
    if (dbs_[i]->size() != 0) dbs_[i]->SampleForEviction(static_cast<int>(i), &pool_);
  }
  EvictionPool::Candidate best;
  while (pool_.PopBest(&best)) {
    if (dbs_[best.db]->Evict(best.key)) {
      Evicted(best.db, best.key);
      return true;
    }
  }
  return false;
}

size_t Store::MemoryBytes() const {
  size_t total = 0;
  for (const auto& db : dbs_) total += db->memory_bytes();
  return total;
}

bool Store::RehashCycle(int64_t budget_us) {
  const int64_t start = MonotonicMicros();
  bool pending = false;
  for (auto& db : dbs_) {
    while (db->RehashStep(100)) {
      if (MonotonicMicros() - start > budget_us) return true;
    }
  }
  return pending;
}

}  // namespace causalkv::store
