// Keyspace: one logical database (SELECT n): keys -> SiblingSet, a TTL index,
// lazy expiry on access and a sampled active-expiry step.
//
// Operations return plain data (a status and views of the stored set), never
// protocol replies. A `const SiblingSet*` handed out stays valid until the
// next call that changes this keyspace. Every check is made before anything
// changes, so an operation that fails changes nothing.
//
// Causal mode (with peers, after EnableCausal): every write stamps a dot
// (this node, a hybrid-clock counter) and keeps the key's context
// (store/causal.h); a delete leaves a tombstone, kept apart from the live
// keys so that no read sees it; and each hash slot keeps a digest of its
// keys' states (the XOR of a hash per key state), updated on every change,
// for anti-entropy. The operations below keep their single-node contracts,
// with "a fresh version" meaning a fresh dot, and "delete" leaving a
// tombstone. Eviction is local and leaves nothing.
//
// Expiry holds the key's whole state (values, dots, context, TTL register)
// hidden beside the tombstones instead of dropping it: an *expired state*.
// No read or write sees its values, but merges do, so that
//   - a replica that missed a write with a TTL cannot bring back the value
//     that write replaced (the expired state's context covers it), and
//   - a replica that missed a PERSIST, or an EXPIRE to a later time, gets
//     the key back alive when the merge brings the newer TTL register (the
//     values are still there; a value-less tombstone would have removed
//     them everywhere, which is why expiry does not leave one).
// Expired states are reaped as tombstones are, once every replica holds the
// same one, after expired-grace instead of tombstone-grace; they count in
// memory_bytes() with their values. Their digest is the live key's, so
// expiry causes no anti-entropy traffic. A write to a key whose state is
// expired here covers its values (they expired, from this node's view).
//
// Thread-compatibility: used from the loop thread only.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "causalkv/store/actor_table.h"
#include "causalkv/store/causal.h"
#include "causalkv/store/eviction.h"
#include "causalkv/store/collections.h"
#include "causalkv/store/hash_table.h"
#include "causalkv/store/sibling_set.h"
#include "causalkv/store/version.h"
#include "causalkv/store/version_counter.h"

namespace causalkv::store {

enum class OpStatus {
  kOk,
  kNotFound,
  kExists,              // RENAMENX / NX-style refusal
  kVersionFromFuture,   // a client named a version the server never issued
  kVersionUnavailable,  // the counter could not be made durable; nothing stored
  kTooManySiblings,     // the write would exceed max-siblings; nothing stored
  kTooManyActors,       // the state names more node ids than a store can hold
  kWrongType,           // the key holds a value of another type; nothing changed
  kMalformedValue,      // a state's typed value does not decode; nothing stored
};

// What a write does to the key's TTL.
struct TtlUpdate {
  enum class Kind { kClear, kKeep, kSet };
  Kind kind = Kind::kClear;
  int64_t at_ms = SiblingSet::kNoExpire;
  static TtlUpdate Clear() { return {Kind::kClear, SiblingSet::kNoExpire}; }
  static TtlUpdate Keep() { return {Kind::kKeep, SiblingSet::kNoExpire}; }
  static TtlUpdate At(int64_t ms) { return {Kind::kSet, ms}; }
};

// Shared by every keyspace of a Store.
struct Clock {
  int64_t now_ms = 0;  // wall-clock milliseconds, fixed for the duration of one command
};
// What the keyspaces report about their keys, for keyspace notifications
// (command/notify.h): a key added (one that did not exist: a write, a
// RESTORE, a state merged from a peer), deleted by expiry (lazily or by
// active expiry), or evicted (Store::EvictOne). Shared by every keyspace of
// a Store. `wanted` is checked before anything else, so a sink that wants
// nothing costs a load and a branch; `fn` runs while the store is in the
// middle of an operation and must not touch the store.
enum KeyEvent : uint32_t { kKeyAdded = 1u << 0, kKeyExpired = 1u << 1, kKeyEvicted = 1u << 2 };
struct KeyEventSink {
  uint32_t wanted = 0;
  std::function<void(KeyEvent event, int db, std::string_view key)> fn;
};

struct KeyspaceStats {
  uint64_t expired_keys = 0;
  uint64_t evicted_keys = 0;
  uint64_t expired_states_dropped = 0;  // by DropExpiredState
};

// The best eviction candidates seen while sampling (highest score first out),
// as Redis's eviction pool: a few entries, kept across evictions.
class EvictionPool {
 public:
  static constexpr size_t kSize = 16;
  struct Candidate {
    uint64_t score;
    int db;
    std::string key;
  };
  // Keeps the candidate if it is among the kSize best (and not already there).
  void Offer(uint64_t score, int db, std::string_view key);
  // Removes and returns the best candidate; false when empty.
  bool PopBest(Candidate* out);
  // Re-scores every candidate with `rescore(db, key, &score)`, dropping those
  // for which it returns false, and restores the order.
  template <typename Fn>
  void Refresh(Fn&& rescore) {
    std::vector<Candidate> kept;
    for (Candidate& c : candidates_) {
      if (rescore(c.db, c.key, &c.score)) kept.push_back(std::move(c));
    }
    std::sort(kept.begin(), kept.end(),
              [](const Candidate& a, const Candidate& b) { return a.score < b.score; });
    candidates_ = std::move(kept);
  }
  size_t size() const { return candidates_.size(); }

 private:
  std::vector<Candidate> candidates_;  // sorted by score, ascending
};

class Keyspace {
 public:
  Keyspace(VersionCounter* counter, const Clock* clock, KeyspaceStats* stats, uint64_t seed);
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  size_t size() const { return table_.size(); }
  size_t expires_count() const { return ttl_index_.size(); }

  // The key's siblings, or nullptr if it is missing or has expired (an expired
  // key is deleted here: lazy expiry).
  const SiblingSet* FindReadOnly(std::string_view key);
  // The same without counting an access (OBJECT: looking must not change
  // what it reports).
  const SiblingSet* FindWithoutTouch(std::string_view key);

  // The key as stored, expired or not, without counting an access or
  // expiring it (the append-only log records what a write left).
  const SiblingSet* Peek(std::string_view key) {
    SiblingSet** link = table_.FindLink(key);
    return link == nullptr ? nullptr : *link;
  }

  // The versioned write: drops the siblings `seen` covers and adds `value` at
  // a fresh version. *after is the key afterwards. VPut, VDel and their
  // causal forms refuse a key holding a collection (kWrongType).
  OpStatus VPut(std::string_view key, Version seen, std::string_view value, TtlUpdate ttl,
                const SiblingSet** after);
  // Drops the siblings `seen` covers; *after is nullptr when none is left.
  OpStatus VDel(std::string_view key, Version seen, const SiblingSet** after);

  // The plain write: replaces every sibling by `value` at a fresh version.
  // REQUIRES: `value` does not point into this keyspace.
  OpStatus Set(std::string_view key, std::string_view value, TtlUpdate ttl);

  // Read-modify-write with one lookup (INCR, APPEND, SETRANGE), of a
  // string (kWrongType, calling nothing, for a key of another type):
  // fn(current or nullptr, &value) returns true to store `value` as the only
  // sibling at a fresh version (an existing key keeps its TTL, a new one has
  // none), or false to store nothing and take no version. `value` must not
  // point into this keyspace.
  template <typename Fn>
  OpStatus Rewrite(std::string_view key, Fn&& fn);

  // Loading a snapshot: stores `siblings` (sorted, versions already issued)
  // with their own versions, replacing any existing key. Takes no version.
  // Typed siblings carry their values' plain-data form; kMalformedValue,
  // changing nothing, if one does not decode.
  OpStatus Restore(std::string_view key, int64_t expire_at_ms, std::span<const Sibling> siblings);

  bool Delete(std::string_view key);
  // Sets the TTL of an existing key (the caller deletes instead for a time
  // already past, as Redis does). Returns false if the key is missing.
  bool SetExpire(std::string_view key, int64_t at_ms);
  // Removes the TTL; false if the key is missing or had none.
  bool Persist(std::string_view key);

  // Moves `src` (every sibling, with its TTL) to `dst` in the same keyspace,
  // giving the moved siblings fresh versions in their order. kNotFound if src
  // is missing; kExists if `nx` and dst exists. src == dst changes nothing.
  OpStatus Rename(std::string_view src, std::string_view dst, bool nx);
  // Moves `key` to another keyspace (MOVE); the siblings get fresh versions.
  OpStatus MoveTo(std::string_view key, Keyspace* target);
  // COPY: `dst` in `target` (this keyspace or another) gets a copy of
  // every sibling of `src` (typed values deep-copied) with its TTL, at
  // fresh versions. kNotFound if src is missing; kExists if dst exists and
  // not `replace`. REQUIRES: not the same key of the same keyspace.
  OpStatus Copy(std::string_view src, Keyspace* target, std::string_view dst, bool replace);

  void Clear();

  // SCAN: visits the keys in the buckets `cursor` names (expired keys are
  // skipped) and returns the next cursor, 0 at the end.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn);
  template <typename Fn>
  void ForEachLive(Fn&& fn);
  // Every key block, a TTL already passed or not, changing nothing (a
  // snapshot in a forked child, where a write would copy the page).
  template <typename Fn>
  void ForEachStored(Fn&& fn) {
    table_.ForEach([&](const SiblingSet* set) { fn(set); });
  }
  // A random live key, or nullptr.
  const SiblingSet* RandomKey();

  // Samples up to `samples` keys with a TTL and deletes the expired ones.
  // Returns how many it deleted; *sampled how many it looked at.
  size_t ExpireSample(size_t samples, size_t* sampled);
  // Incremental rehash work: a small step per operation, more from the server's timer.
  bool RehashStep(int buckets) { return table_.RehashStep(buckets); }

  // Eviction (see eviction.h). The settings are shared with the Store; with
  // none set, accesses are tracked as LRU and nothing is evicted.
  void set_eviction_settings(const EvictionSettings* settings) { settings_ = settings; }
  // The most siblings a VPUT may leave on a key (0: no limit); shared with the Store.
  void set_max_siblings(const uint32_t* max) { max_siblings_ = max; }
  // The collections' encoding thresholds; shared with the Store.
  void set_collection_limits(const CollectionLimits* limits) { limits_ = limits; }
  // Where key events go (shared with the Store), and this keyspace's
  // database number as the events name it (SWAPDB changes it).
  void set_event_sink(const KeyEventSink* sink, int index) {
    events_ = sink;
    index_ = index;
  }
  const CollectionLimits& collection_limits() const { return *limits_; }

  // --- Typed values (collections: store/value_type.h) ---
  //
  // A key's visible value is its newest sibling (what GET reads); its type
  // is the key's type. The value of type T (HashValue, ...) of a live key:
  // kNotFound if the key is missing, kWrongType if it holds another type.
  // The pointer stays valid until the next change to this keyspace.
  template <typename T>
  OpStatus FindTyped(std::string_view key, const T** value);
  // Changes the value of type T of `key` in place: fn(T*) returns whether it
  // changed anything. A missing key starts as an empty value when `create`
  // (and nothing is stored unless fn leaves it non-empty); otherwise fn is
  // not called and the result is kNotFound. A type whose empty value needs
  // arguments (a set's encoding depends on its first member) is never
  // created here: its callers create it with StoreTyped. A change takes a fresh version
  // (dot) and keeps the key's TTL; in a cluster it replaces every other
  // sibling of the key (they were seen: the collection's one-value rule). A
  // value left empty deletes the key, as Redis does, unless its type says
  // T::kKeepsEmptyKey (a stream: XDEL of its last entry keeps it, and
  // XGROUP CREATE ... MKSTREAM makes an empty one).
  template <typename T, typename Fn>
  OpStatus UpdateTyped(std::string_view key, bool create, Fn&& fn);
  // Stores `value` (owned from now on, non-empty) as the key's only value,
  // over whatever the key held, at a fresh version; ttl as Set. For the
  // commands that store a computed collection (SINTERSTORE, SORT STORE, ...).
  OpStatus StoreTyped(std::string_view key, ValueType type, void* value, TtlUpdate ttl);
  // The visible type of a live key; false if it is missing.
  bool TypeOf(std::string_view key, ValueType* type);
  // Adds `settings.samples` sampled keys (all keys, or those with a TTL for
  // volatile policies) to the pool.
  void SampleForEviction(int db_index, EvictionPool* pool);
  // Deletes `key` if present, counting an eviction.
  bool Evict(std::string_view key);
  // Causal mode, under memory pressure (before any live key, whatever the
  // policy: its values are already gone for clients): drops one expired
  // state, found within a bounded walk from where the last call stopped,
  // and remembers it as evicted, so that repair does not bring it back and
  // a reaper's question about it is answered as if it were still held
  // (HeldDigest). False if none was found. Counts no eviction (no key).
  // *dropped receives its key. Skips the keys in `keep` (those the command
  // about to run writes: it may just have fetched them back).
  bool DropExpiredState(std::string* dropped, std::span<const std::string_view> keep = {});
  // A pooled candidate's current score, or false if it no longer qualifies
  // (deleted, or without a TTL under a volatile policy). Does not count as an access.
  bool CurrentEvictionScore(std::string_view key, uint64_t* score);
  // Deletes one random key (or random key with a TTL); false if there is none.
  // *evicted receives the deleted key's name.
  bool EvictRandom(std::string* evicted);
  // Bytes this keyspace holds: the allocator's usable size of every key
  // block, plus the bucket arrays and the TTL index.
  size_t memory_bytes() const {
    return data_bytes_ + table_.bucket_bytes() + ttl_index_.capacity() * sizeof(SiblingSet*) +
           hidden_bytes_ + HiddenBucketBytes();
  }

  // --- Causal mode (see the top of this file) ---

  // Switches this keyspace to causal mode; keys already there (a single
  // node's data) become this node's dots (actor index 0). REQUIRES: `actors`
  // outlives it, and its index 0 is this node.
  void EnableCausal(ActorTable* actors);
  bool causal() const { return actors_ != nullptr; }

  // The key's state: a live key, a tombstone or an expired state (a live
  // key whose TTL passed is made one first). False if none exists.
  bool GetState(std::string_view key, KeyState* out);
  // What a client reads (VGET): GetState, with an expired state's values
  // left out, so that it reads as a deleted key (its context still the one
  // to write with).
  bool ReadState(std::string_view key, KeyState* out);
  // HashTable::Prefetch, for a caller about to look up many keys in a row.
  void Prefetch(std::string_view key, int stage) const { table_.Prefetch(key, stage); }
  // The hash of the key's state that the slot digests fold (StateHash):
  // equal digests mean equal states (dots, context, TTL) without copying any
  // value. False, as GetState, if the key has neither a value nor a tombstone.
  bool StateDigest(std::string_view key, uint64_t* digest);
  // StateDigest, or else the digest of the state this node evicted and
  // still counts in its slot digest: what it answers a peer asking whether
  // it holds a state (PEER.MGET). The state itself is not here.
  bool HeldDigest(std::string_view key, uint64_t* digest);
  // EncodeKeyState(GetState(key)) into *out (replaced), without copying the
  // values out of the block first. False, as GetState, if neither exists.
  bool EncodeState(std::string_view key, std::string* out);
  // The state of a live key's block as ForEachLive hands it out, without
  // counting an access or changing anything (snapshots read it in a forked
  // child, where a write would copy the page).
  KeyState PeekState(const SiblingSet* set) const { return Unpack(set); }
  // Loading (a snapshot, the log): sets the state of `key` exactly, live or
  // a tombstone deleted at `tombstone_since_ms`, replacing whatever is
  // there. An empty state (no siblings, empty context) leaves nothing.
  // Takes no dot; a state whose TTL has passed is held as an expired state.
  // Only kTooManyActors fails, and then changes nothing. REQUIRES: Valid(state).
  OpStatus RestoreState(std::string_view key, KeyState state, int64_t tombstone_since_ms);
  // Merges a state received from a peer (never limited by max-siblings:
  // a limit must not block repair). A merge whose TTL has passed is held as
  // an expired state. *changed: the local state changed.
  // `take_evicted`: a state equal to one this node evicted is taken back
  // (a read or a write needs it); otherwise it stays evicted (repair).
  OpStatus MergeState(std::string_view key, const KeyState& incoming, bool* changed,
                      bool take_evicted = false);
  // The versioned write and delete with a client's context (a token).
  // kVersionFromFuture if `seen` names a counter of this node above any it
  // issued. *after is the key's state afterwards.
  OpStatus VPutCausal(std::string_view key, const VersionVector& seen, std::string_view value,
                      TtlUpdate ttl, KeyState* after);
  // The same, handing out the key's block afterwards (valid until the next
  // change to this keyspace) instead of a copy of its state: VPUT replies
  // from it (BlockView) without copying the values.
  OpStatus VPutCausal(std::string_view key, const VersionVector& seen, std::string_view value,
                      TtlUpdate ttl, const SiblingSet** after);
  // A live block's state as views: the context folded and sorted by actor,
  // the siblings in dot order (their values point into the block), the TTL
  // stamp (unless ttl_stamp is null: a reply does not show it). The vectors
  // are replaced.
  void BlockView(const SiblingSet* set, std::vector<VersionVector::Entry>* context,
                 std::vector<SiblingRef>* siblings, Dot* ttl_stamp) const;
  OpStatus VDelCausal(std::string_view key, const VersionVector& seen, KeyState* after);

  uint64_t slot_digest(int slot) const { return slot_digests_.empty() ? 0 : slot_digests_[slot]; }
  // Eviction stays local: an evicted key's state keeps counting in its
  // slot's digest (so anti-entropy does not push it back), and a peer's
  // state equal to the evicted one is not taken back in. At most
  // kMaxEvictedRemembered keys are remembered; beyond that the oldest are
  // forgotten (their digests then differ until repaired: bounded traffic).
  static constexpr size_t kMaxEvictedRemembered = 1 << 20;
  // True when `key` is remembered as evicted here, or when some evicted key
  // had to be forgotten (so any missing key might have been evicted).
  bool MaybeEvicted(std::string_view key) const {
    return evicted_overflowed_ || evicted_.count(std::string(key)) != 0;
  }
  // Forgets up to `budget` remembered evicted keys whose TTL has passed
  // (every other node expires them too). Called by active expiry.
  void SweepEvicted(size_t budget);
  // Tombstones (deleted keys) and expired states, which share one map.
  size_t tombstone_count() const { return hidden_.size() - expired_held_; }
  size_t expired_state_count() const { return expired_held_; }
  size_t hidden_count() const { return hidden_.size(); }
  // Every key (live or tombstone) whose slot is marked in `slots` (one flag
  // per hash slot), with its state: fn(key, state).
  template <typename Fn>
  void ForEachStateInSlots(const std::vector<bool>& slots, Fn&& fn);
  // The same, a page at a time, so that a large keyspace is never walked in
  // one go: visits about `buckets` hash buckets from `cursor` (0: start, and
  // then the hidden states come first) and returns the next cursor, 0 at the
  // end. As SCAN, a key present for the whole walk is visited at least once.
  template <typename Fn>
  uint64_t ScanStatesInSlots(const std::vector<bool>& slots, uint64_t cursor, size_t buckets,
                             Fn&& fn);
  // Drops the tombstone or expired state of `key` if it is still exactly
  // `state`, or forgets it if it is the state this node evicted.
  bool ReapHidden(std::string_view key, const KeyState& state);
  // Every tombstone and expired state: fn(key, state, since milliseconds),
  // where "since" is when the key was deleted (a tombstone: no siblings) or
  // when its TTL passed (an expired state).
  template <typename Fn>
  void ForEachHidden(Fn&& fn) {
    for (const auto& [key, hidden] : hidden_) {
      fn(std::string_view(key), hidden.state, hidden.since_ms);
    }
  }
  // The same, about `buckets` hash buckets at a time from `cursor` (0: the
  // start); returns the next cursor, 0 at the end. For the periodic reaper,
  // which must not walk every tombstone of a large keyspace at once. A
  // rehash between calls may skip or repeat some (the next pass sees them).
  template <typename Fn>
  uint64_t ScanHidden(uint64_t cursor, size_t buckets, Fn&& fn) {
    const size_t count = hidden_.bucket_count();
    size_t b = static_cast<size_t>(cursor);
    for (size_t n = 0; n < buckets && b < count; ++n, ++b) {
      for (auto it = hidden_.begin(b); it != hidden_.end(b); ++it) {
        fn(std::string_view(it->first), it->second.state, it->second.since_ms);
      }
    }
    return b >= count ? 0 : b;
  }

  // Test hook: bucket count, to check SCAN across resizes.
  size_t TEST_bucket_count() const { return table_.bucket_count(); }

 private:
  static int KeySlotOf(std::string_view key);
  bool IsExpired(const SiblingSet* set) const {
    return set->has_expire() && set->expire_at_ms() < clock_->now_ms;
  }
  // Finds a live key's slot; deletes it (ExpireKey) and returns nullptr if
  // its TTL has passed.
  SiblingSet** FindLive(std::string_view key);
  void Remove(SiblingSet** link);
  // Deletes the expired key in *link and counts it.
  void ExpireKey(SiblingSet** link);
  // Stores `set` (a block that moved or changed) in *link and the TTL index.
  void Relink(SiblingSet** link, SiblingSet* set) {
    *link = set;
    if (set->has_expire()) ttl_index_[set->ttl_slot()] = set;
  }
  // Accounts a new block and inserts it. REQUIRES: key absent.
  void Adopt(SiblingSet* set);
  // Runs a block mutation (which may move the block) and accounts its size.
  template <typename Op>
  SiblingSet* Mutate(SiblingSet* set, Op op) {
    data_bytes_ -= BlockBytes(set);
    set = op(set);
    data_bytes_ += BlockBytes(set);
    return set;
  }
  // Hands the block's typed values over to another block (which accounts
  // them when it is adopted).
  void DisownTypedValues(SiblingSet* set) {
    data_bytes_ -= set->TypedBytes();
    SiblingSet::DisownTypedValues(set);
  }
  // The bytes a key takes: its block and its typed values.
  static size_t BlockBytes(const SiblingSet* set) {
    return malloc_usable_size(const_cast<SiblingSet*>(set)) + set->TypedBytes();
  }
  // Records an access for LRU/LFU.
  void Touch(const SiblingSet* set);
  uint64_t EvictionScore(const SiblingSet* set) const;
  void IndexTtl(SiblingSet* set);
  void UnindexTtl(SiblingSet* set);
  // Applies `ttl` to the block in *link (after a write).
  void ApplyTtl(SiblingSet** link, TtlUpdate ttl);
  // Replaces every sibling of the key in *link by (v, value), accounting its size.
  void ReplaceAll(SiblingSet** link, Version v, std::string_view value);
  // Stores `value` as the only sibling of the key in *link (nullptr: a new key).
  OpStatus StoreOnly(SiblingSet** link, std::string_view key, std::string_view value);
  // A new block for `key` with src's siblings at fresh versions of this
  // keyspace's counter; typed values are shared with src (a move: the
  // caller disowns them there) or, with `clone`, deep-copied.
  SiblingSet* CopyWithFreshVersions(const SiblingSet* src, std::string_view key, OpStatus* status,
                                    bool clone = false);

  // --- causal mode ---
  // A state no read sees: a tombstone (no siblings) or an expired state.
  struct Hidden {
    KeyState state;
    int64_t since_ms;  // deleted at, or the TTL (expired states)
  };
  using HiddenMap = std::unordered_map<std::string, Hidden>;
  static bool ExpiredAt(const KeyState& state, int64_t now_ms) {
    return state.expire_at_ms != KeyState::kNoExpire && state.expire_at_ms < now_ms;
  }
  // Every insertion and erasure of a hidden state goes through these two,
  // which keep hidden_bytes_, expired_held_ and the slot digests.
  void AddHidden(std::string_view key, KeyState state, int64_t since_ms);
  void EraseHidden(HiddenMap::iterator it);
  // Replaces the live key in *link by its expired state (ExpireKey).
  void HoldExpired(SiblingSet** link);
  // Turns every expired state into a tombstone of its context, deleted now
  // (a flush).
  void DeleteExpiredStates();
  // The heap a hidden state takes: the map node, the key beyond its inline
  // buffer, the context entries, the siblings and their values.
  static size_t HiddenBytes(const std::string& key, const KeyState& state);
  // libstdc++ keeps the single bucket of a map that never grew inline.
  size_t HiddenBucketBytes() const {
    return hidden_.bucket_count() > 1 ? hidden_.bucket_count() * sizeof(void*) : 0;
  }
  // `with_values` false: the siblings are left out (their dots still count
  // in the context), for a write that replaces them all.
  KeyState Unpack(const SiblingSet* set, bool with_values = true) const;
  // The TTL register's stamp of a live block. A block stores none when the
  // key has no TTL and the stamp is its newest sibling's dot (the case of
  // every plain write, which stamps the register: see ApplyTtlCausal), so
  // that the register costs no memory in the common case. A live state
  // with no TTL whose stamp is {0, 0} (never set: data from before) is
  // stored the same way, so it reads back stamped at its newest dot.
  Dot BlockStamp(const SiblingSet* set) const;
  // What a block stores for a TTL register (expire_at_ms, stamp) over
  // siblings whose newest dot is `newest`: Version() for none (above).
  // False if the stamp's actor cannot be given an index.
  bool StoredStamp(int64_t expire_at_ms, const Dot& stamp, const Dot& newest, Version* out);
  // The block for a live state; nullptr (nothing changed) with kTooManyActors.
  SiblingSet* Pack(std::string_view key, const KeyState& state, OpStatus* status);
  // Loads the stored state (live, tombstone or expired) of `key`; false if
  // none. *link is the live key's slot (nullptr for a hidden state or nothing).
  bool LoadState(std::string_view key, SiblingSet*** link, KeyState* out,
                 bool with_values = true);
  // Replaces whatever is stored for `key` by `state`: live, a tombstone
  // when it has no siblings, an expired state when its TTL has passed.
  // *link as LoadState gave it.
  OpStatus SaveState(std::string_view key, SiblingSet** link, KeyState state);
  // SaveState for a live state (REQUIRES: siblings, and a TTL not passed).
  OpStatus SaveLive(std::string_view key, SiblingSet** link, const KeyState& state);
  // Puts `block` (the same key) in place of the block in *link, which it
  // frees: TTL index, memory and LRU/LFU kept up; the digest is the caller's.
  void ReplaceBlock(SiblingSet** link, SiblingSet* block);
  // A fresh dot of this node; false if the counter could not be made durable.
  // Its counter is above `after`'s (a TTL stamp the write is based on).
  bool NextDot(Dot* dot, const Dot& after = Dot{});
  // How merging `incoming` into the live block `set` would turn out, decided
  // on the block without unpacking its values: kIncoming when the merge is
  // `incoming` itself (it holds or knows as overwritten everything the
  // block has, and its TTL register is not older), kSame when it is also
  // the block's state (nothing changes), kOther when only Sync can tell.
  enum class BlockMerge { kIncoming, kSame, kOther };
  BlockMerge ClassifyMerge(const SiblingSet* set, const KeyState& incoming) const;
  // Applies a TTL update of a write stamped `dot`: to a state, or to a
  // register's parts.
  static void ApplyTtlCausal(KeyState* state, TtlUpdate ttl, const Dot& dot);
  static void ApplyTtlUpdate(TtlUpdate ttl, const Dot& dot, int64_t* expire_at_ms, Dot* stamp);
  // A typed value changed in place (UpdateTyped) takes a fresh version.
  OpStatus CommitTyped(SiblingSet** link, const Sibling& changed);
  // Deletes the live key in *link (a tombstone in causal mode).
  OpStatus DeleteLive(SiblingSet** link);
  // Store a single value over every local sibling (SET, INCR ...).
  OpStatus CausalStoreOnly(std::string_view key, std::string_view value, TtlUpdate ttl);
  // The same for any value; a typed one is owned from then on, whatever the
  // outcome. REQUIRES: a typed value is none of the key's.
  OpStatus CausalStoreOnly(std::string_view key, const Sibling& value, TtlUpdate ttl);
  // VPutCausal over the live key in *link, block to block (REQUIRES: the
  // caller checked `seen` against the counter).
  OpStatus VPutLive(SiblingSet** link, const VersionVector& seen, std::string_view value,
                    TtlUpdate ttl);
  // CausalStoreOnly over the live key in *link, block to block: `value`
  // (its version ignored) at a fresh dot replaces every sibling. A typed
  // value that is already one of the block's (a collection changed in
  // place) moves to the new block.
  OpStatus CausalReplaceLive(SiblingSet** link, const Sibling& value, TtlUpdate ttl);
  OpStatus CausalDelete(std::string_view key, bool* existed);
  OpStatus CausalSetExpire(std::string_view key, int64_t at_ms, bool* existed);
  // RENAME and MOVE: `dst` in `target` gets src's values at fresh dots, over
  // whatever target held; `src` leaves a tombstone. REQUIRES: src is live.
  OpStatus CausalMove(std::string_view src, Keyspace* target, std::string_view dst,
                      bool keep_source = false);
  // Digest upkeep: the hash a key state adds to its slot's digest.
  static uint64_t StateHash(std::string_view key, const KeyState& state);
  void DigestToggle(std::string_view key, const KeyState& state);
  // StateHash of a live block, without copying its values.
  uint64_t BlockHash(const SiblingSet* set) const;
  void DigestToggleBlock(const SiblingSet* set) {
    if (!slot_digests_.empty()) slot_digests_[KeySlotOf(set->key())] ^= BlockHash(set);
  }
  // The digest upkeep of a block that replaced one of hash `old_hash` (the
  // same key): one slot computation for both. Causal mode only.
  void DigestReplaced(uint64_t old_hash, const SiblingSet* block) {
    slot_digests_[KeySlotOf(block->key())] ^= old_hash ^ BlockHash(block);
  }

  // Eviction bookkeeping (see MaybeEvicted): key -> its state's digest hash.
  // The hash goes (back) into the slot digest; `expire_at_ms` is when
  // SweepEvicted may forget it (kNoExpire: never).
  void RememberEvicted(std::string_view key, uint64_t hash, int64_t expire_at_ms);
  void ForgetEvicted(std::string_view key);
  struct Evicted {
    uint64_t hash;
    int64_t expire_at_ms;
  };
  std::unordered_map<std::string, Evicted> evicted_;
  size_t evicted_sweep_ = 0;  // cursor into evicted_order_ for SweepEvicted
  std::vector<std::string> evicted_order_;  // insertion order, for the cap
  size_t evicted_order_head_ = 0;
  bool evicted_overflowed_ = false;

  ActorTable* actors_ = nullptr;
  HiddenMap hidden_;
  size_t hidden_bytes_ = 0;
  size_t expired_held_ = 0;  // the expired states in hidden_
  size_t expired_drop_cursor_ = 0;  // the hidden_ bucket DropExpiredState goes on from
  std::vector<uint64_t> slot_digests_;  // causal mode: one per hash slot

  HashTable table_;
  // Every key with a TTL, each knowing its slot: O(1) add/remove and uniform
  // sampling for active expiry, for 8 bytes per key with a TTL.
  std::vector<SiblingSet*> ttl_index_;
  VersionCounter* counter_;
  const Clock* clock_;
  KeyspaceStats* stats_;
  std::minstd_rand rnd_;
  size_t data_bytes_ = 0;
  const EvictionSettings* settings_ = &kDefaultEvictionSettings;
  const uint32_t* max_siblings_ = &kNoSiblingLimit;
  const CollectionLimits* limits_ = &kDefaultCollectionLimits;
  const KeyEventSink* events_ = &kNoEvents;
  int index_ = 0;
  static const KeyEventSink kNoEvents;
  static const CollectionLimits kDefaultCollectionLimits;
  static constexpr uint32_t kNoSiblingLimit = 0;
  static const EvictionSettings kDefaultEvictionSettings;
};

template <typename T>
constexpr bool KeepsEmptyKey() {
  if constexpr (requires { T::kKeepsEmptyKey; }) {
    return T::kKeepsEmptyKey;
  } else {
    return false;
  }
}

template <typename T>
OpStatus Keyspace::FindTyped(std::string_view key, const T** value) {
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return OpStatus::kNotFound;
  const Sibling newest = (*link)->newest();
  if (newest.type != ValueTypeOf<T>::kType) return OpStatus::kWrongType;
  *value = static_cast<const T*>(newest.object());
  return OpStatus::kOk;
}

template <typename T, typename Fn>
OpStatus Keyspace::UpdateTyped(std::string_view key, bool create, Fn&& fn) {
  SiblingSet** link = FindLive(key);
  if (link == nullptr) {
    if constexpr (requires { T::Create(); }) {
      if (!create) return OpStatus::kNotFound;
      T* fresh = T::Create();
      if (!fn(fresh) || (fresh->size() == 0 && !KeepsEmptyKey<T>())) {
        T::Destroy(fresh);
        return OpStatus::kOk;
      }
      return StoreTyped(key, ValueTypeOf<T>::kType, fresh, TtlUpdate::Clear());
    } else {
      return OpStatus::kNotFound;  // made by the caller (StoreTyped): it needs arguments
    }
  }
  const Sibling newest = (*link)->newest();
  if (newest.type != ValueTypeOf<T>::kType) return OpStatus::kWrongType;
  T* value = static_cast<T*>(newest.object());
  const size_t bytes_before = value->memory_bytes();
  const bool changed = fn(value);
  data_bytes_ += value->memory_bytes();
  data_bytes_ -= bytes_before;
  if (!changed) return OpStatus::kOk;
  if (value->size() == 0 && !KeepsEmptyKey<T>()) return DeleteLive(link);
  return CommitTyped(link, newest);
}

template <typename Fn>
OpStatus Keyspace::Rewrite(std::string_view key, Fn&& fn) {
  SiblingSet** link = FindLive(key);
  if (link != nullptr && !(*link)->holds_string()) return OpStatus::kWrongType;
  std::string_view value;
  if (!fn(link == nullptr ? nullptr : static_cast<const SiblingSet*>(*link), &value)) {
    return OpStatus::kOk;
  }
  if (causal()) return CausalStoreOnly(key, value, TtlUpdate::Keep());
  return StoreOnly(link, key, value);
}

template <typename Fn>
void Keyspace::ForEachStateInSlots(const std::vector<bool>& slots, Fn&& fn) {
  // One pass over the table for a whole batch of slots: there is no per-slot
  // key index (it would cost memory on every key), and anti-entropy asks
  // only after the digests showed which slots differ.
  std::vector<std::string> keys;
  table_.ForEach([&](const SiblingSet* set) {
    if (slots[KeySlotOf(set->key())]) keys.emplace_back(set->key());
  });
  for (const auto& [key, hidden] : hidden_) {
    if (slots[KeySlotOf(key)]) keys.push_back(key);
  }
  KeyState state;
  for (const std::string& key : keys) {
    if (GetState(key, &state)) fn(std::string_view(key), state);
  }
}

template <typename Fn>
uint64_t Keyspace::ScanStatesInSlots(const std::vector<bool>& slots, uint64_t cursor,
                                     size_t buckets, Fn&& fn) {
  std::vector<std::string> keys;
  if (cursor == 0) {
    for (const auto& [key, hidden] : hidden_) {
      if (slots[KeySlotOf(key)]) keys.push_back(key);
    }
  }
  if (table_.size() == 0) {
    cursor = 0;
  } else {
    do {
      cursor = table_.Scan(cursor, [&](const SiblingSet* set) {
        if (slots[KeySlotOf(set->key())]) keys.emplace_back(set->key());
      });
    } while (cursor != 0 && --buckets > 0);
  }
  // Read after the walk: GetState may delete an expired key.
  KeyState state;
  for (const std::string& key : keys) {
    if (GetState(key, &state)) fn(std::string_view(key), state);
  }
  return cursor;
}

template <typename Fn>
uint64_t Keyspace::Scan(uint64_t cursor, Fn&& fn) {
  return table_.Scan(cursor, [&](const SiblingSet* set) {
    if (!IsExpired(set)) fn(set);
  });
}

template <typename Fn>
void Keyspace::ForEachLive(Fn&& fn) {
  table_.ForEach([&](const SiblingSet* set) {
    if (!IsExpired(set)) fn(set);
  });
}

}  // namespace causalkv::store
