// Coordinator: this node's side of the cluster. It implements the command
// layer's Replicator (quorum writes and reads), keeps one PeerLink to every
// other node, queues hints for peers that missed a write, and runs
// anti-entropy against each peer every anti-entropy-interval.
//
// Writes: each key's state (never the command) goes to every replica of its
// slot. The states written during one loop iteration leave together, after
// its commands ran: one PEER.MERGE per peer (up to kMergeBatchKeys keys),
// which answers a status byte per key. A peer holds a write once it
// acknowledged every key of it. A peer that did not (down, timed out,
// refused, or more than kMaxBytesInFlight behind) gets the keys queued as
// hints: delivered, with the key's state at that moment, once its link is up
// again. Hints are bounded by hints-max-memory (split between peers); what
// they miss, anti-entropy repairs.
//
// Reads: batched per iteration the same way, as PEER.MGET with this node's
// digest of each key's state; a peer answers only where it holds something
// else. Each such answer is merged into this node (MergeLocal), and a
// replica whose answer lacked something this node has gets this node's
// state back (read repair).
//
// Tombstones and expired states (store/keyspace.h): once a tombstone is
// older than tombstone-grace, or an expired state's TTL passed more than
// expired-grace ago, this node asks every replica for its state of the key;
// if each holds exactly the same one, it tells them all to drop it
// (PEER.REAP) and drops its own. A replica that is down or differs keeps it
// (and so does this node) until a later try.
//
// Anti-entropy, per peer and database: compare 128 group digests, then the
// 128 slot digests of each differing group, then exchange the states of the
// keys in differing slots both ways (the peer's in pages, PEER.DUMP's
// cursor). Digests are kept per slot by the store on every write, so a
// round that finds nothing costs two small messages. This node compares the
// peer's digests with its own as of each request, so its own writes in
// flight are no difference; a round waits while peers send states (theirs
// would be), unless it is long overdue.
//
// Thread-compatibility: the loop thread only. Callbacks given to Replicate
// and Fetch run later on the loop, never inside the call.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "causalkv/cluster/peer_link.h"
#include "causalkv/command/replicator.h"
#include "causalkv/config/config.h"

struct redisReply;

namespace causalkv::cluster {

// What the coordinator needs of this node's store, as plain data (encoded
// key states, store::EncodeKeyState).
class LocalStore {
 public:
  virtual ~LocalStore() = default;
  virtual int databases() const = 0;
  // Merges a peer's encoded state (and logs it); false if malformed.
  // `fetched`: the state answers this node's own read (Fetch), so a key it
  // evicted is taken back; repair (anti-entropy) leaves evicted keys out.
  virtual bool MergeLocal(int db, std::string_view key, std::string_view state, bool* changed,
                          bool fetched) = 0;
  // The key's encoded state; false if this node has none.
  virtual bool ExportLocal(int db, std::string_view key, std::string* state) = 0;
  // The key's state digest (store::Keyspace::StateDigest); false if none.
  virtual bool DigestLocal(int db, std::string_view key, uint64_t* digest) = 0;
  virtual uint64_t SlotDigest(int db, int slot) = 0;
  // Every key (tombstones included) in the marked slots.
  virtual void DumpSlots(int db, const std::vector<bool>& slots,
                         const std::function<void(std::string_view key, std::string_view state)>&
                             fn) = 0;
  virtual size_t Tombstones() = 0;
  virtual size_t ExpiredStates() = 0;
  // Tombstones deleted at or before `deleted_before_ms`, and expired states
  // whose TTL passed at or before `expired_before_ms` (at most `limit`).
  virtual void OldHiddenStates(
      int64_t deleted_before_ms, int64_t expired_before_ms, size_t limit,
      const std::function<void(int db, std::string_view key, std::string_view state)>& fn) = 0;
  // Drops a tombstone or expired state if it is still exactly `state`.
  virtual bool Reap(int db, std::string_view key, std::string_view state) = 0;
  // When a peer last sent this node a state (PEER.MERGE), wall-clock ms; 0
  // if never.
  virtual int64_t LastPeerMergeMs() = 0;
};

// The replicas of a hash slot, as indexes into the peer list (this node is
// always a replica too). Today every node holds every slot; scale-out will
// change only this function and add data movement.
std::vector<size_t> ReplicaPeersOfSlot(int slot, size_t peer_count);

// Parses "host:port" or "[v6]:port". False if malformed.
bool SplitHostPort(std::string_view spec, std::string* host, int* port);

// Hands out filled vectors as shared batches and keeps their capacity once
// the last holder lets go: a batch is often past glibc's 64 KB free
// threshold, and freeing one per loop iteration made malloc_consolidate a
// hot spot. REQUIRES: the pool outlives every batch it handed out.
template <typename T>
class BatchPool {
 public:
  // Moves *from into a shared batch; *from is left empty, with the capacity
  // of an earlier batch.
  std::shared_ptr<std::vector<T>> Share(std::vector<T>* from) {
    std::unique_ptr<std::vector<T>> v;
    if (spare_.empty()) {
      v = std::make_unique<std::vector<T>>();
    } else {
      v = std::move(spare_.back());
      spare_.pop_back();
    }
    v->swap(*from);
    return std::shared_ptr<std::vector<T>>(v.release(), [this](std::vector<T>* p) {
      p->clear();
      if (spare_.size() < kKeep) {
        spare_.emplace_back(p);
      } else {
        delete p;
      }
    });
  }

 private:
  static constexpr size_t kKeep = 8;
  std::vector<std::unique_ptr<std::vector<T>>> spare_;
};

class Coordinator final : public command::Replicator {
 public:
  // `config` is the server's live config (quorums and timeouts may change
  // at runtime); `self_id` this node's id (16 hex digits). Both, `loop` and
  // `local` must outlive the coordinator.
  Coordinator(uv_loop_t* loop, const config::Config* config, std::string self_id,
              LocalStore* local);
  ~Coordinator() override;

  // Starts the peer links and the timer.
  void Start();
  // Closes the links and the timer; run the loop until closed().
  void Close();
  bool closed() const;

  // command::Replicator
  int replicas() const override { return static_cast<int>(peers_.size()) + 1; }
  void Replicate(std::vector<command::KeyStateUpdate> updates, int needed,
                 std::function<void(int holders)> done) override;
  void Fetch(std::vector<command::KeyRef> keys, int needed,
             std::function<void(int answered, bool changed)> done) override;
  void Publish(std::string channel, std::string message, bool shard) override;

  // The config changed (CONFIG SET): peer-timeout applies to the links now;
  // the quorums, intervals and limits are read from the config as needed.
  void ConfigChanged();

  // INFO "# Peers".
  void WriteInfo(std::string* out) const;

  // Test and INFO hooks.
  uint64_t anti_entropy_rounds() const { return stats_.anti_entropy_rounds; }

 private:
  struct Hints {
    std::deque<command::KeyRef> queue;
    std::unordered_set<std::string> queued;  // db + '\0' + key, for dedupe
    size_t bytes = 0;
    uint64_t dropped = 0;
  };
  struct Peer {
    std::unique_ptr<PeerLink> link;
    std::string address;  // as configured
    Hints hints;
    bool ae_running = false;
    int64_t ae_last_ms = 0;
    std::vector<uint32_t> outbox;       // indexes into outbox_, for the next flush
    std::vector<uint32_t> read_outbox;  // indexes into read_outbox_
    size_t bytes_queued = 0;       // of those
    size_t bytes_in_flight = 0;    // sent, not yet answered
  };
  struct Op;
  // A key state to send this loop iteration, shared by every peer's batch.
  struct Outgoing {
    int db = 0;
    std::string key;
    std::string state;        // emptied once sent
    std::shared_ptr<Op> op;   // null: nobody waits (W=1)
    bool hint = false;        // a hint delivered (INFO hints_delivered)
  };
  // A key to ask the peers for this loop iteration.
  struct Wanted {
    int db = 0;
    std::string key;
    std::shared_ptr<Op> op;
    bool digest_known = false;
    uint64_t digest = 0;  // of this node's state as asked (0: none)
  };
  struct Stats {
    uint64_t write_quorum_failures = 0;
    uint64_t read_quorum_failures = 0;
    uint64_t read_repairs = 0;
    uint64_t anti_entropy_rounds = 0;
    uint64_t keys_exchanged = 0;
    uint64_t hints_delivered = 0;
    uint64_t tombstones_reaped = 0;
    uint64_t messages_forwarded = 0;  // pub/sub, per peer
    uint64_t messages_dropped = 0;    // pub/sub: peer down or too far behind
  };

  void Tick();
  void FlushSoon();
  void FlushOutbox();
  void FlushReads();
  void ResolveReads(size_t peer, const std::vector<Wanted>& batch,
                    const std::vector<uint32_t>& order, size_t begin, size_t end,
                    const redisReply* reply);
  void ResolveMerges(size_t peer, const std::vector<Outgoing>& batch,
                     const std::vector<uint32_t>& order, size_t begin, size_t end,
                     const redisReply* reply);
  void Complete(const std::shared_ptr<Op>& op);
  void CompleteSoon(std::shared_ptr<Op> op);
  void AddHint(size_t peer, int db, const std::string& key);
  void DeliverHints(size_t peer);
  // Queues this node's state of `key` for `peer` alone (repair, hints,
  // anti-entropy), in this iteration's batch; if the peer does not take it,
  // it becomes a hint.
  void Push(size_t peer, int db, std::string_view key, bool hint);
  void StartAntiEntropy(size_t peer);
  void AntiEntropyDb(size_t peer, int db, std::shared_ptr<int> left);
  void CompareGroups(size_t peer, int db, std::string_view remote,
                     const std::vector<uint64_t>& mine, std::shared_ptr<int> left);
  void ExchangeSlots(size_t peer, int db, std::vector<int> slots, std::shared_ptr<int> left);
  struct Exchange;
  void DumpPage(std::shared_ptr<Exchange> ex, const std::string& cursor);
  void FinishDb(size_t peer, std::shared_ptr<int> left);
  size_t hint_budget_per_peer() const;
  void ReapTombstones();

  uv_loop_t* loop_;
  const config::Config* config_;
  std::string self_id_;
  LocalStore* local_;
  // Declared before peers_: batches held by the links' callbacks go back
  // to these pools when the links are destroyed.
  BatchPool<Outgoing> outgoing_pool_;
  BatchPool<Wanted> wanted_pool_;
  BatchPool<uint32_t> order_pool_;
  std::vector<Peer> peers_;
  uv_timer_t tick_;
  uv_timer_t soon_;
  uv_check_t flush_check_;       // sends outbox_ after this iteration's commands
  uv_prepare_t flush_prepare_;
  uv_timer_t lazy_flush_;        // ... or a little later when nobody waits
  // outbox_ leaves at this iteration's end (a write waits, or it is full).
  bool outbox_waiting_ = false;
  size_t outbox_bytes_ = 0;
  std::vector<Outgoing> outbox_;
  std::vector<Wanted> read_outbox_;
  std::string digest_text_;                 // FlushReads' scratch
  std::vector<std::string_view> digest_views_;
  std::vector<std::shared_ptr<Op>> soon_ops_;
  int handles_open_ = 0;
  int64_t last_reap_ms_ = 0;
  size_t reaps_in_flight_ = 0;
  bool reap_backlog_ = false;  // the last round was full: the next goes at once
  bool started_ = false;
  bool closing_ = false;
  Stats stats_;
};

}  // namespace causalkv::cluster
