// Dispatcher: looks a command up in the table, checks arity and
// authentication, runs its handler and writes the reply.
//
// Thread-compatibility: loop thread only. Handlers never block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/replicator.h"
#include "causalkv/command/server_state.h"
#include "causalkv/command/watch_registry.h"
#include "causalkv/resp/writer.h"

namespace causalkv::store {
class Store;
}

namespace causalkv::command {

class CommandTable;
class Persistence;
class Replicator;
struct CommandSpec;
class KeyspaceSurvey;
class BlockedClients;
class PubSub;
class Tracking;
class Monitors;
class SlowLog;
class Scripting;

// INFO commandstats, per command and subcommand, as Redis counts them:
// calls ran, time spent, rejected before running (arity, NOAUTH, OOM ...)
// and failed (ran and replied with an error). Time is kept in nanoseconds:
// most commands take less than a microsecond, and summing truncated
// microseconds would report almost nothing.
struct CommandStats {
  uint64_t calls = 0;
  uint64_t nsec = 0;
  uint64_t rejected_calls = 0;
  uint64_t failed_calls = 0;
};

class Dispatcher {
 public:
  // Creates the store (server->config.databases, hash seed `seed`) that the
  // commands work on: the server reaches it only through this class.
  Dispatcher(ServerState* server, uint64_t seed);
  ~Dispatcher();

  // The version counter, whose durable high-water mark the server keeps
  // (see store::VersionCounter): every version up to `last_issued` may have
  // been issued; new ones are issued up to `limit`, which is raised `reserve`
  // at a time: synchronously through `save` when it is reached, ahead of
  // time through `raise_async`, which reports back with VersionLimitRaised
  // or VersionLimitRaiseFailed on the loop thread.
  void InitVersionCounter(uint64_t last_issued, uint64_t limit, uint64_t reserve,
                          std::function<bool(uint64_t mark)> save,
                          std::function<void(uint64_t mark)> raise_async);
  void VersionLimitRaised(uint64_t mark);
  void VersionLimitRaiseFailed();
  // The highest version issued so far.
  uint64_t LastIssuedVersion() const;

  // The server's timer: advances the store's clock to `now_ms`, expires
  // keys for at most `expire_budget_us` (none when `expire` is false: a
  // client pause holds expiry back too) and moves incremental rehashing on.
  void StoreCron(int64_t now_ms, int64_t expire_budget_us, bool expire);

  // Runs one command (args[0] is its name, any case) and appends its reply.
  // Inside MULTI, queues it instead. REQUIRES: !args.empty(); writer uses
  // client.protocol.
  void Dispatch(ClientState& client, std::span<const std::string_view> args,
                resp::Writer& writer);

  Persistence& persistence() { return *persistence_; }

  // EVAL and FCALL (command/scripting.h), created on first use.
  Scripting& scripting();
  // Loads the function libraries saved in `dir` (at startup, after the
  // data). False if they cannot be read (logged): the server must not start.
  bool LoadFunctions();
  // Runs a command for a running script (its redis.call): as a command of
  // EXEC, with the script's own client state and reply writer.
  void DispatchFromScript(ClientState& client, std::span<const std::string_view> args,
                          resp::Writer& writer);
  // Runs the next slice of a suspended script (ServerState::script_suspended).
  void ContinueScript();
  // Cluster: a suspended script's slices collect the keys its writes change
  // (Begin/End around each slice, kept together with those of its first
  // slice); once it has ended, FinishSuspendedScript sends their states to
  // the peers and releases its reply (`seq` of client `id`) when the write
  // quorum is reached, as for any write: peers never see half a script.
  void BeginScriptSlice() { collecting_ = replicator_ != nullptr; }
  void EndScriptSlice();
  void FinishSuspendedScript(uint64_t id, uint64_t seq, std::string reply);
  // True while EXEC runs its queued commands (a script among them must
  // finish inside EXEC, never be suspended).
  bool executing_queued() const { return executing_queued_; }

  // The command clock: milliseconds since the Unix epoch, as the store sees
  // them (Store::now_ms). Reading the wall clock for every command and socket
  // event cost several percent of the server's time, so it is read once per
  // millisecond instead: each read also works out, on the cycle clock, when
  // the wall clock's millisecond will next change, and until then the value
  // read stands. So the value is what a read would return (not merely close
  // to it: TTL checks and EXPIRE GT/LT agree with a per-command read), at a
  // cost of one cycle-clock read per call. Loop thread only.
  int64_t NowMs();

  // Runs the commands queued by MULTI, writing EXEC's reply (used by EXEC).
  void ExecQueued(ClientState& client, resp::Writer& writer);

  // Forgets a client's transaction state (RESET, disconnect).
  static void DiscardTransaction(ClientState& client);

  // Pushes the config's eviction and max-siblings settings to the store
  // (at start and after CONFIG SET).
  void ApplyStoreSettings();
  // used_memory as eviction sees it: the store's exact bytes plus the rest of
  // the process's allocations, sampled at most once a second.
  size_t UsedMemory();

  // --- Blocking commands (BLPOP ...; command/blocking.h) ---
  // True when `args` is a blocking command whose keys are all missing: the
  // client is registered as waiting, client.cluster_wait is set, and the
  // caller must hold the command until resume_client runs it (a key became
  // ready) or drops it (timeout, CLIENT UNBLOCK) with the reply given.
  // A command with CommandSpec::would_block (XREAD, XREADGROUP) blocks by
  // that rule instead, and may fill *rewritten (nullable) with the arguments
  // the caller must hold instead of `args` while it waits.
  bool MustBlock(ClientState& client, std::span<const std::string_view> args,
                 std::vector<std::string>* rewritten = nullptr);
  // Before the loop sleeps: wakes the waiters of the keys made ready since.
  void ServeBlocked();
  // The earliest deadline of a waiting client (0: none), and resumes the
  // clients whose deadline has passed with their timeout reply.
  int64_t NextBlockedDeadline() const;
  void ExpireBlocked(int64_t now_ms);
  // CLIENT UNBLOCK: true if `id` was waiting (it gets a null reply, or the
  // UNBLOCKED error with `error`).
  bool UnblockClient(uint64_t id, bool error);
  // A client left (disconnect): it waits no more and is subscribed to nothing.
  void ClientGone(uint64_t id);

  // Pub/sub subscriptions and delivery (command/pubsub.h).
  PubSub& pubsub() { return *pubsub_; }
  // The client whose command Dispatch is running (0: none): the keyspace
  // notifications it causes for itself follow its reply.
  uint64_t executing_client() const { return executing_client_; }
  // Client-side caching (command/tracking.h). The server calls
  // FlushInvalidations before the loop sleeps: BCAST batches, and the
  // invalidations raised outside any client's command (peers, expiry).
  Tracking& tracking() { return *tracking_; }
  // MONITOR's clients (command/monitor.h).
  Monitors& monitors() { return *monitors_; }
  void FlushInvalidations();
  // A state merged from a peer changed `key` (clients may wait for it).
  void KeyChangedByPeer(int db, std::string_view key);
  // Keyspace notifications, class c (causalkv's `sibling` event): the
  // fingerprint of a key's siblings before a change (0 when the class is
  // off), and after the change the event, when the key now has more than
  // one live sibling and they are not the ones it had.
  uint64_t SiblingsBefore(int db, std::string_view key);
  void NotifySiblingsAfter(int db, std::string_view key, uint64_t before);
  // SWAPDB gave database `db` other contents: any key waited for may be ready.
  void DatabaseReplaced(int db);
  size_t blocked_on_keys() const;

  // True when CLIENT PAUSE holds this command back: the caller must keep it,
  // unexecuted, until the pause ends. Clears a pause that has run out.
  bool MustWaitForPause(const ClientState& client, std::span<const std::string_view> args);

  const CommandStats& command_stats(const CommandSpec& spec) const;
  void ResetCommandStats();
  SlowLog& slowlog() { return *slowlog_; }

  // Background work for INFO (siblings, avg_ttl): continues the current pass
  // over the keyspace for about `budget_us` microseconds.
  void SurveyStep(int64_t budget_us);
  const KeyspaceSurvey& survey() const { return *survey_; }

  // The fingerprint WATCH compares, and the registry of watched keys that
  // the commands changing a TTL without a new version report to.
  KeyFingerprint Fingerprint(int db, std::string_view key);
  const std::shared_ptr<WatchRegistry>& watch_registry() { return watch_registry_; }

  // --- Cluster (with peers) ---
  // Switches the store to causal mode as node `self` and replicates every
  // client write through `replicator` (not owned; outlives this). Called
  // once at startup, before data is loaded.
  void EnableCluster(uint64_t self, Replicator* replicator);
  Replicator* replicator() { return replicator_; }
  // True when the write command `args` must first fetch its keys' states
  // (this node evicted one of them): the fetch has started,
  // client.cluster_wait is set, and the caller must hold the command until
  // resume_client runs it.
  bool MustWaitForFetch(ClientState& client, std::span<const std::string_view> args);
  // True for a command that only reads (it may run while the same client's
  // earlier reads still wait for their replicas; anything else waits).
  bool IsReadOnly(std::string_view name) const;
  // Merges a state received from a peer into db `db` (and logs the key).
  // *changed: the local state changed. False if `encoded` is malformed.
  // `take_evicted` as store::Keyspace::MergeState has it.
  bool MergePeerState(int db, std::string_view key, std::string_view encoded, bool* changed,
                      bool take_evicted);
  // The encoded state of a key (store::EncodeKeyState); false if none.
  bool ExportState(int db, std::string_view key, std::string* encoded);
  // store::Keyspace::StateDigest of a key; false if it has no state.
  bool StateDigest(int db, std::string_view key, uint64_t* digest);
  int64_t last_peer_merge_ms() const;
  // Anti-entropy: the digest of one hash slot, and the encoded state of
  // every key (tombstones included) in the marked slots.
  int database_count() const;
  uint64_t SlotDigest(int db, int slot) const;
  void DumpSlots(int db, const std::vector<bool>& slots,
                 const std::function<void(std::string_view key, std::string_view state)>& fn);
  size_t TombstoneCount() const;
  size_t ExpiredStateCount() const;
  // Tombstones deleted at or before `deleted_before_ms` and expired states
  // whose TTL passed at or before `expired_before_ms`, at most `limit` of
  // them, from a bounded slice of the hidden states that goes on where the
  // last call stopped (so every old one comes up within a few calls):
  // fn(db, key, encoded state).
  void OldHiddenStates(int64_t deleted_before_ms, int64_t expired_before_ms, size_t limit,
                       const std::function<void(int db, std::string_view key,
                                                std::string_view state)>& fn);
  // Drops the tombstone or expired state of `key` if this node's state is
  // still exactly `encoded` (and logs it). True if it was dropped.
  bool ReapHidden(int db, std::string_view key, std::string_view encoded);

 private:
  void DispatchCommand(ClientState& client, std::span<const std::string_view> args,
                       resp::Writer& writer);

  // Counts a command that ran in commandstats, and logs it in SLOWLOG when
  // it was slow enough.
  void RecordCall(const CommandSpec& spec, const ClientState& client,
                  std::span<const std::string_view> args, int64_t duration_ns, bool failed);

  // Evicts until used memory is under maxmemory (bounded per call). False
  // when over the limit and nothing more can be evicted.
  bool EnforceMaxmemory();
  // Cluster: notes the keys a write command changed, for replication.
  void CollectWrittenKeys(const CommandSpec& spec, const ClientState& client,
                          std::span<const std::string_view> args);
  // Cluster: sends the collected keys' states; with a write quorum above 1,
  // holds the reply written since `reply_start` until it is reached.
  void ReplicateCollected(ClientState& client, resp::Writer& w, size_t reply_start);
  // The states of the collected keys (each once; keys that never existed
  // are left out); empties `keys`.
  std::vector<KeyStateUpdate> TakeStates(std::vector<std::pair<int, std::string>>* keys);
  // Sends `updates` and gives client `id` the reply `held` (its wait `seq`)
  // once `needed` replicas hold them, or -NOQUORUM after peer-timeout.
  void ReplicateThenRelease(std::vector<KeyStateUpdate> updates, int needed, uint64_t id,
                            uint64_t seq, std::string held);
  // Cluster, R > 1: the read just ran on this node's state; its reply is
  // held while the other replicas are asked, and released as it is, or
  // replaced by a rerun when their answers changed the keys.
  void CheckReadWithReplicas(ClientState& client, std::span<const std::string_view> args,
                             resp::Writer& w, size_t reply_start);

  ServerState* server_;
  std::unique_ptr<store::Store> owned_store_;
  store::Store* store_;  // owned_store_, kept at hand for the hot path
  uint64_t clock_read_ticks_ = 0;  // cycle clock at the last wall clock read
  uint64_t clock_next_ticks_ = 0;  // cycle clock when the millisecond read then ends
  size_t memory_overhead_ = 0;
  int64_t overhead_sampled_ms_ = -1;
  std::unique_ptr<CommandTable> table_;
  std::vector<CommandStats> command_stats_;  // by CommandSpec::id
  std::unique_ptr<SlowLog> slowlog_;
  std::shared_ptr<WatchRegistry> watch_registry_ = std::make_shared<WatchRegistry>();
  std::unique_ptr<KeyspaceSurvey> survey_;
  std::unique_ptr<BlockedClients> blocked_;
  std::unique_ptr<PubSub> pubsub_;
  uint64_t executing_client_ = 0;
  std::unique_ptr<Tracking> tracking_;
  std::unique_ptr<Monitors> monitors_;
  // The reply of a blocked command that ends without running (timeout,
  // CLIENT UNBLOCK), as the client's CLIENT REPLY OFF/SKIP leave it.
  std::string ReplyInsteadOfRunning(uint64_t id, std::string reply);
  // After a write: its keys may wake clients blocked on them.
  void SignalKeysChanged(const CommandSpec& spec, const ClientState& client,
                         std::span<const std::string_view> args);
  // A key a write may change, and its fingerprint before the write ran.
  struct TrackedKey {
    int db;
    std::string_view key;
    KeyFingerprint before;
  };
  // CLIENT TRACKING and MONITOR around a command, when either is in use:
  // before it, the fingerprints of the keys a write may change, and the
  // MONITOR line of a script call (true if fed); after it, the other MONITOR
  // lines, the invalidations of the keys it changed and the keys a tracking
  // client read.
  bool ObserveBefore(const CommandSpec& spec, const ClientState& client,
                     std::span<const std::string_view> args, std::vector<TrackedKey>* tracked);
  void ObserveAfter(const CommandSpec& spec, ClientState& client,
                    std::span<const std::string_view> args,
                    const std::vector<TrackedKey>& tracked, bool fed_before);
  int reap_scan_db_ = 0;            // where OldTombstones goes on
  uint64_t reap_scan_cursor_ = 0;
  std::unique_ptr<Persistence> persistence_;
  std::unique_ptr<Scripting> scripting_;
  bool executing_queued_ = false;
  Replicator* replicator_ = nullptr;
  bool collecting_ = false;
  std::vector<std::pair<int, std::string>> written_keys_;
  // Those of a suspended script, until it ends (FinishSuspendedScript).
  std::vector<std::pair<int, std::string>> script_written_keys_;
};

// Milliseconds since the Unix epoch (the clock commands and TTLs use).
int64_t WallClockMs();

}  // namespace causalkv::command
