// Store: every database (SELECT 0..n-1), the version counter they share, the
// command clock and the background work (active expiry, incremental rehash).
//
// Thread-compatibility: used from the loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "causalkv/store/keyspace.h"
#include "causalkv/store/version_counter.h"

namespace causalkv::store {

class Store {
 public:
  Store(int databases, uint64_t hash_seed);

  int database_count() const { return static_cast<int>(dbs_.size()); }
  // REQUIRES: 0 <= index < database_count().
  Keyspace& db(int index) { return *dbs_[index]; }
  // SWAPDB: the two databases trade contents. A single node only: in
  // causal mode the peers' databases would not follow. REQUIRES: valid indexes.
  void SwapDatabases(int a, int b) {
    std::swap(dbs_[a], dbs_[b]);
    dbs_[a]->set_event_sink(&key_events_, a);
    dbs_[b]->set_event_sink(&key_events_, b);
  }

  VersionCounter& counter() { return counter_; }

  // Causal mode for every database (see keyspace.h): this node is `self`.
  // REQUIRES: called once, before any write that must be replicated.
  void EnableCausal(ActorId self);
  bool causal() const { return actors_ != nullptr; }
  // REQUIRES: causal().
  const ActorTable& actors() const { return *actors_; }
  const KeyspaceStats& stats() const { return stats_; }

  // Fixes "now" for the command about to run (Redis caches the time per
  // command too, so a key cannot expire half-way through one).
  void set_now_ms(int64_t now_ms) { clock_.now_ms = now_ms; }
  int64_t now_ms() const { return clock_.now_ms; }

  void FlushAll();

  // One active-expiry pass over every database: samples keys with a TTL and
  // keeps going in a database while more than a quarter of a sample had
  // expired, until `budget_us` microseconds are spent. Returns keys expired.
  size_t ActiveExpireCycle(int64_t budget_us);
  // Rehashes for up to `budget_us` microseconds; true if work remains.
  bool RehashCycle(int64_t budget_us);

  // Eviction: the policy every keyspace uses, and one eviction by it. False
  // when nothing can be evicted (noeviction, or no candidate key at all).
  // In causal mode an expired state goes first, whatever the policy
  // (Keyspace::DropExpiredState).
  void set_eviction(const EvictionSettings& settings) { eviction_ = settings; }
  void set_max_siblings(uint32_t max) { max_siblings_ = max; }
  // The collections' encoding thresholds, for every keyspace.
  void set_collection_limits(const CollectionLimits& limits) { collection_limits_ = limits; }
  const EvictionSettings& eviction() const { return eviction_; }
  bool EvictOne();
  // Keys of database `db` that EvictOne leaves alone while set (the keys of
  // the write about to run: a state it fetched back must still be there).
  // The views must outlive their use; cleared with an empty span.
  void set_evict_protected(int db, std::span<const std::string_view> keys) {
    evict_protected_db_ = db;
    evict_protected_ = keys;
  }
  // Called after EvictOne deleted `key` from database `db` (the append-only
  // log records it as gone). Expiry needs no such call: a TTL is an absolute
  // time, so a replayed key past it expires again by itself.
  using EvictionListener = std::function<void(int db, std::string_view key)>;
  void set_eviction_listener(EvictionListener listener) {
    eviction_listener_ = std::move(listener);
  }
  // Keyspace notifications: the key events (keyspace.h KeyEvent) in
  // `wanted` go to `fn`, from every database. A second listener beside the
  // eviction listener: evictions reach both (the log first).
  void set_key_event_listener(uint32_t wanted,
                              std::function<void(KeyEvent, int db, std::string_view key)> fn) {
    key_events_.wanted = fn ? wanted : 0;
    key_events_.fn = std::move(fn);
  }
  // Bytes held by every keyspace (see Keyspace::memory_bytes).
  size_t MemoryBytes() const;

 private:
  VersionCounter counter_;
  std::unique_ptr<ActorTable> actors_;
  Clock clock_;
  KeyspaceStats stats_;
  std::vector<std::unique_ptr<Keyspace>> dbs_;
  size_t expire_db_cursor_ = 0;
  EvictionSettings eviction_;
  uint32_t max_siblings_ = 0;
  CollectionLimits collection_limits_;
  EvictionPool pool_;
  size_t random_evict_cursor_ = 0;
  size_t expired_drop_db_ = 0;  // where EvictOne looks for an expired state first
  int evict_protected_db_ = 0;
  std::span<const std::string_view> evict_protected_;
  EvictionListener eviction_listener_;
  KeyEventSink key_events_;
  // Tells the listeners that EvictOne deleted `key` from database `db`.
  void Evicted(int db, std::string_view key);
};

}  // namespace causalkv::store
