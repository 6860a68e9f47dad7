#include "causalkv/command/dispatch.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <chrono>
#include <cstring>
#include <string>

#include "args.h"
#include "blocking.h"
#include "causalkv/command/persistence.h"
#include "causalkv/command/replicator.h"
#include "causalkv/store/causal.h"
#include "causalkv/store/store.h"
#include "causalkv/util/cycle_clock.h"
#include "command_table.h"
#include "errors.h"
#include "keyspace_survey.h"
#include "notify.h"
#include "scripting.h"
#include "pubsub.h"
#include "tracking.h"
#include "monitor.h"
#include "slowlog.h"

namespace causalkv::command {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Redis quotes at most ~128 bytes of the command and its arguments, and stops
// a name at NUL as its %s does.
std::string_view Clip(std::string_view s, size_t max) {
  const size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  return s.substr(0, std::min(s.size(), max));
}

void UnknownCommand(resp::Writer& w, std::span<const std::string_view> args) {
  std::string text = "unknown command '";
  text += Clip(args[0], 128);
  text += "', with args beginning with: ";
  std::string quoted;
  for (size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
    const size_t room = 128 - quoted.size();
    quoted += '\'';
    quoted += Clip(args[i], room);
    quoted += "' ";
  }
  text += quoted;
  w.Error(text);
}

std::string WrongArity(const std::string& name) {
  return "wrong number of arguments for '" + name + "' command";
}

bool ArityOk(int arity, size_t argc) {
  return arity > 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace

Dispatcher::Dispatcher(ServerState* server, uint64_t seed)
    : server_(server),
      owned_store_(std::make_unique<store::Store>(server->config.databases, seed)),
      store_(owned_store_.get()),
      table_(std::make_unique<CommandTable>()),
      persistence_(std::make_unique<Persistence>(server, store_)) {
  command_stats_.resize(table_->id_count());
  slowlog_ = std::make_unique<SlowLog>();
  survey_ = std::make_unique<KeyspaceSurvey>();
  blocked_ = std::make_unique<BlockedClients>();
  pubsub_ = std::make_unique<PubSub>(server);
  tracking_ = std::make_unique<Tracking>(server);
  monitors_ = std::make_unique<Monitors>(server);
  ApplyStoreSettings();
}

void Dispatcher::ApplyStoreSettings() {
  const config::Config& cfg = server_->config;
  store::EvictionSettings eviction;
  store::ParseEvictionPolicy(cfg.maxmemory_policy, &eviction.policy);  // validated by config
  eviction.samples = cfg.maxmemory_samples;
  eviction.lfu_log_factor = cfg.lfu_log_factor;
  eviction.lfu_decay_time = cfg.lfu_decay_time;
  store_->set_eviction(eviction);
  store_->set_max_siblings(static_cast<uint32_t>(cfg.max_siblings));
  auto clamp = [](int64_t v) { return static_cast<uint32_t>(std::min<int64_t>(v, UINT32_MAX)); };
  store::CollectionLimits limits;
  limits.hash_max_listpack_entries = clamp(cfg.hash_max_listpack_entries);
  limits.hash_max_listpack_value = clamp(cfg.hash_max_listpack_value);
  limits.set_max_intset_entries = clamp(cfg.set_max_intset_entries);
  limits.set_max_listpack_entries = clamp(cfg.set_max_listpack_entries);
  limits.set_max_listpack_value = clamp(cfg.set_max_listpack_value);
  limits.zset_max_listpack_entries = clamp(cfg.zset_max_listpack_entries);
  limits.zset_max_listpack_value = clamp(cfg.zset_max_listpack_value);
  limits.list_max_listpack_size = static_cast<int32_t>(cfg.list_max_listpack_size);
  limits.stream_node_max_bytes = cfg.stream_node_max_bytes;
  limits.stream_node_max_entries = static_cast<uint64_t>(cfg.stream_node_max_entries);
  store_->set_collection_limits(limits);
  // Keyspace notifications of what the store does by itself: new keys,
  // expiry, eviction. Wanted only when some channel would carry them.
  // Expiry and eviction always: CLIENT TRACKING invalidates those keys too,
  // and a tracking client may come at any time.
  const uint32_t notify = cfg.notify_keyspace_events;
  uint32_t wanted = store::kKeyExpired | store::kKeyEvicted;
  if ((notify & (config::kNotifyKeyspace | config::kNotifyKeyevent)) &&
      (notify & config::kNotifyNew)) {
    wanted |= store::kKeyAdded;
  }
  store_->set_key_event_listener(
      wanted, [this](store::KeyEvent event, int db, std::string_view key) {
        const uint32_t flags = server_->config.notify_keyspace_events;
        switch (event) {
          case store::kKeyAdded:
            NotifyKeyspaceEvent(*pubsub_, flags, config::kNotifyNew, "new", key, db,
                                executing_client_);
            return;
          case store::kKeyExpired:
            NotifyKeyspaceEvent(*pubsub_, flags, config::kNotifyExpired, "expired", key, db,
                                executing_client_);
            break;
          case store::kKeyEvicted:
            // Eviction runs before the command does (as in Redis 7.2, where
            // these events reach even the command's own client at once).
            NotifyKeyspaceEvent(*pubsub_, flags, config::kNotifyEvicted, "evicted", key, db,
                                /*defer_to=*/0);
            break;
        }
        if (tracking_->active()) tracking_->KeyChanged(key, 0);
      });
}

size_t Dispatcher::UsedMemory() {
  const size_t data = store_->MemoryBytes();
  const int64_t now = store_->now_ms();
  if (overhead_sampled_ms_ < 0 || now - overhead_sampled_ms_ >= 1000) {
    const struct mallinfo2 mi = mallinfo2();
    const size_t total = mi.uordblks + mi.hblkhd;
    memory_overhead_ = total > data ? total - data : 0;
    overhead_sampled_ms_ = now;
  }
  return data + memory_overhead_;
}

bool Dispatcher::EnforceMaxmemory() {
  const uint64_t limit = server_->config.maxmemory;
  if (UsedMemory() <= limit) return true;
  // Evict in bounded bursts (about a millisecond), so one command never
  // stalls the loop; the next command continues where this one stopped.
  const auto start = std::chrono::steady_clock::now();
  for (int evicted = 1; UsedMemory() > limit; ++evicted) {
    if (!store_->EvictOne()) return false;
    if (evicted % 16 == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::milliseconds(1)) {
      return true;
    }
  }
  return true;
}

Dispatcher::~Dispatcher() = default;

bool Dispatcher::MustBlock(ClientState& client, std::span<const std::string_view> args,
                           std::vector<std::string>* rewritten) {
  if (client.in_multi) return false;  // queued, and EXEC never blocks
  if (server_->script_timed_out) return false;  // Dispatch answers -BUSY
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr || spec->blocking_args == nullptr) return false;
  if ((spec->arity > 0 && static_cast<int>(args.size()) != spec->arity) ||
      static_cast<int>(args.size()) < -spec->arity) {
    return false;
  }
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  std::string_view timeout_arg;
  int64_t timeout_ms;
  const char* error;
  const int64_t now = store_->now_ms();
  if (!spec->blocking_args(args, &keys, &timeout_arg)) return false;  // the command reports it
  if (spec->blocking_timeout_ms) {
    if (!ParseInt64(timeout_arg, &timeout_ms) || timeout_ms < 0 ||
        timeout_ms > INT64_MAX - now) {
      return false;
    }
  } else if (!ParseBlockingTimeout(timeout_arg, now, &timeout_ms, &error)) {
    return false;
  }
  store::Keyspace& ks = store_->db(client.db);
  auto run_now = [&] {
    blocked_->Forget(client.id);
    client.blocked_on_keys = false;
    return false;
  };
  if (spec->would_block != nullptr) {
    if (!spec->would_block(ks, args, rewritten)) return run_now();
  } else {
    for (std::string_view key : keys) {
      if (ks.FindWithoutTouch(key) != nullptr) return run_now();
    }
  }
  // Not in a cluster: an unreplicated version there would stand concurrent
  // to the next write made through another node.
  if (spec->on_block != nullptr && replicator_ == nullptr && !blocked_->IsWaiting(client.id)) {
    std::string discarded;
    resp::Writer w(&discarded, client.protocol);
    Context ctx{*this, *server_, *store_, *table_, client, w, args};
    spec->on_block(ctx);
  }
  blocked_->Wait(client.id, client.db, keys, timeout_ms == 0 ? 0 : now + timeout_ms,
                 client.protocol, /*wake_when_missing=*/spec->would_block != nullptr);
  client.last_command = spec->name;  // CLIENT LIST shows what it waits in (cmd=)
  client.blocked_on_keys = true;
  client.cluster_wait = true;
  client.wait_seq = 0;
  return true;
}

void Dispatcher::SignalKeysChanged(const CommandSpec& spec, const ClientState& client,
                                   std::span<const std::string_view> args) {
  if (blocked_->empty()) return;
  ForEachKeyArg(spec, args, [&](std::string_view key) { blocked_->KeyChanged(client.db, key); });
  int db;
  std::string_view key;
  if (ExtraWrittenKey(spec, args, client.db, store_->database_count(), &db, &key)) {
    blocked_->KeyChanged(db, key);
  }
}

void Dispatcher::ServeBlocked() {
  // A served command may make more keys ready (BLMOVE's destination):
  // bounded rounds, the rest waits for the next turn of the loop.
  for (int round = 0; round < 16 && !blocked_->empty(); ++round) {
    std::vector<BlockedClients::KeyRef> ready = blocked_->TakeReady();
    if (ready.empty()) return;
    for (const auto& [db, key] : ready) {
      for (uint64_t id : blocked_->WaitersOf({db, key})) {
        // A stream reader runs again even for a deleted key (it then
        // reports NOGROUP, as Redis 7.2); a pop waits for the key.
        if (store_->db(db).FindWithoutTouch(key) == nullptr && !blocked_->WakesWhenMissing(id)) {
          continue;
        }
        if (server_->resume_client) server_->resume_client(id, 0, "", true);
      }
    }
  }
}

int64_t Dispatcher::NextBlockedDeadline() const { return blocked_->NextDeadline(); }

std::string Dispatcher::ReplyInsteadOfRunning(uint64_t id, std::string reply) {
  auto it = server_->clients.find(id);
  if (it == server_->clients.end()) return reply;
  ClientState& client = *it->second;
  client.blocked_on_keys = false;
  // The command never reaches Dispatch, which would apply CLIENT REPLY
  // OFF/SKIP to its reply: applied here (the SKIP was this command's).
  if (client.skip_next_reply) {
    client.skip_next_reply = false;
    return {};
  }
  return client.reply_off ? std::string() : reply;
}

void Dispatcher::ExpireBlocked(int64_t now_ms) {
  for (const BlockedClients::Expired& e : blocked_->TakeExpired(now_ms)) {
    std::string reply = ReplyInsteadOfRunning(e.client, e.protocol >= 3 ? "_\r\n" : "*-1\r\n");
    if (server_->resume_client) server_->resume_client(e.client, 0, std::move(reply), false);
  }
}

bool Dispatcher::UnblockClient(uint64_t id, bool error) {
  if (!blocked_->IsWaiting(id)) return false;
  int protocol = 2;
  auto it = server_->clients.find(id);
  if (it != server_->clients.end()) protocol = it->second->protocol;
  blocked_->Forget(id);
  std::string reply = ReplyInsteadOfRunning(
      id, error ? "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
                : (protocol >= 3 ? "_\r\n" : "*-1\r\n"));
  if (server_->resume_client) server_->resume_client(id, 0, std::move(reply), false);
  return true;
}

void Dispatcher::ClientGone(uint64_t id) {
  blocked_->Forget(id);
  auto client = server_->clients.find(id);
  if (client == server_->clients.end()) return;
  pubsub_->UnsubscribeAll(*client->second);
  tracking_->Disable(*client->second);
  monitors_->Remove(*client->second);
}

void Dispatcher::FlushInvalidations() {
  tracking_->Flush();
  pubsub_->FlushDeferred();  // those kept behind a held reply
}

void Dispatcher::DatabaseReplaced(int db) { blocked_->DatabaseChanged(db); }

void Dispatcher::KeyChangedByPeer(int db, std::string_view key) {
  blocked_->KeyChanged(db, key);  // a push through another node wakes waiters here
  if (tracking_->active()) tracking_->KeyChanged(key, 0);
}

size_t Dispatcher::blocked_on_keys() const { return blocked_->size(); }

void Dispatcher::InitVersionCounter(uint64_t last_issued, uint64_t limit, uint64_t reserve,
                                    std::function<bool(uint64_t mark)> save,
                                    std::function<void(uint64_t mark)> raise_async) {
  store_->counter().Init(last_issued, limit, reserve, std::move(save), std::move(raise_async));
}

void Dispatcher::VersionLimitRaised(uint64_t mark) { store_->counter().RaiseLimit(mark); }

void Dispatcher::VersionLimitRaiseFailed() { store_->counter().AsyncRaiseFailed(); }

uint64_t Dispatcher::LastIssuedVersion() const {
  return store_->counter().last_issued().counter();
}

void Dispatcher::StoreCron(int64_t now_ms, int64_t expire_budget_us, bool expire) {
  store_->set_now_ms(now_ms);
  // With peers, dots follow the clock (store/causal.h): keep the high-water
  // mark ahead of it.
  if (store_->causal()) {
    store_->counter().KeepAheadOf(static_cast<uint64_t>(now_ms) << store::kHybridClockShift);
  }
  if (expire) store_->ActiveExpireCycle(expire_budget_us);
  store_->RehashCycle(1000);
}

int64_t Dispatcher::NowMs() {
  const uint64_t ticks = util::CycleClock::Now();
  // A cycle clock that went backwards (another CPU) reads again too.
  if (ticks >= clock_next_ticks_ || ticks < clock_read_ticks_) {
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    store_->set_now_ms(ns / 1'000'000);
    const int64_t left_ns = std::clamp<int64_t>(1'000'000 - ns % 1'000'000, 1, 1'000'000);
    clock_read_ticks_ = ticks;
    // Aim an eighth early: an error in the cycle clock's measured rate must
    // make us read again too soon (and get the same millisecond), never too late.
    clock_next_ticks_ = ticks + util::CycleClock::FromNanos(left_ns - left_ns / 8);
  }
  return store_->now_ms();
}

Scripting& Dispatcher::scripting() {
  if (scripting_ == nullptr) scripting_ = std::make_unique<Scripting>(this, server_, table_.get());
  return *scripting_;
}

bool Dispatcher::LoadFunctions() {
  std::string error;
  if (scripting().LoadFunctions(&error)) return true;
  spdlog::critical("cannot load the function libraries: {}", error);
  return false;
}

void Dispatcher::DispatchFromScript(ClientState& client, std::span<const std::string_view> args,
                                    resp::Writer& w) {
  DispatchCommand(client, args, w);
}

void Dispatcher::ContinueScript() {
  if (scripting_ != nullptr) scripting_->Continue();
}

namespace {

// While a script runs past busy-reply-threshold, as Redis: only what can
// end it (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE) or watch it
// (FUNCTION STATS) runs.
bool AllowedWhileBusy(std::span<const std::string_view> args) {
  if (args.size() >= 2 && EqualsIgnoreCase(args[0], "script")) {
    return EqualsIgnoreCase(args[1], "kill");
  }
  if (args.size() >= 2 && EqualsIgnoreCase(args[0], "function")) {
    return EqualsIgnoreCase(args[1], "kill") || EqualsIgnoreCase(args[1], "stats");
  }
  if (EqualsIgnoreCase(args[0], "shutdown")) {
    for (std::string_view arg : args.subspan(1)) {
      if (EqualsIgnoreCase(arg, "nosave")) return true;
    }
  }
  return false;
}

}  // namespace

void Dispatcher::Dispatch(ClientState& client, std::span<const std::string_view> args,
                          resp::Writer& w) {
  if (server_->script_timed_out && !AllowedWhileBusy(args)) {
    ++server_->stats.total_error_replies;
    w.Error(scripting_ != nullptr && scripting_->running_function()
                ? "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                  "SHUTDOWN NOSAVE."
                : "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                  "SHUTDOWN NOSAVE.");
    return;
  }
  const size_t reply_start = w.buffer()->size();
  const bool skip_this = client.skip_next_reply;
  client.skip_next_reply = false;
  const uint64_t outer_client = executing_client_;
  executing_client_ = client.id;
  // With peers, the keys a client's write changed are collected (EXEC's
  // commands included) and replicated once the whole command has run.
  collecting_ = replicator_ != nullptr && !client.peer;
  const bool checked_read = replicator_ != nullptr && !client.peer && !client.fetched &&
                            !client.in_multi && client.authenticated;
  DispatchCommand(client, args, w);
  std::string& out = *w.buffer();
  // INFO's total_error_replies: a reply is an error when it starts with '-'.
  if (out.size() > reply_start && out[reply_start] == '-') ++server_->stats.total_error_replies;
  // CLIENT REPLY OFF/SKIP: the command ran; its reply is dropped.
  if (skip_this || client.reply_off) out.resize(reply_start);
  if (collecting_) {
    collecting_ = false;
    if (scripting_ != nullptr && scripting_->suspended()) {
      EndScriptSlice();  // the script goes on later: its writes leave when it ends
    } else if (!written_keys_.empty()) {
      ReplicateCollected(client, w, reply_start);
    }
  }
  // An error reply (WRONGTYPE, syntax) reads nothing worth checking.
  if (checked_read && !client.cluster_wait && out.size() > reply_start &&
      out[reply_start] != '-') {
    CheckReadWithReplicas(client, args, w, reply_start);
  }
  client.fetched = false;
  client.quorum_override = 0;
  // CLIENT CACHING covers the next command only (inside MULTI, up to EXEC;
  // the other CLIENT subcommands leave it).
  if (client.tracking.caching && !client.in_multi && !EqualsIgnoreCase(args[0], "client")) {
    client.tracking.caching = false;
  }
  // Invalidations raised by this command go out after its reply, then the
  // keyspace notifications it sent its own client (Redis 7.2's order).
  tracking_->Flush();
  executing_client_ = outer_client;
  // A reply held for its quorum (or a read's replicas) is queued by the
  // connection once this returns: the frames wait for the loop's next turn
  // (FlushInvalidations), or for the next delivery, and so follow it.
  if (!client.cluster_wait) pubsub_->FlushDeferred();
}

bool Dispatcher::IsReadOnly(std::string_view name) const {
  const CommandSpec* spec = table_->Find(name);
  return spec != nullptr && (spec->flags & kReadOnly) && !(spec->flags & kWrite);
}

void Dispatcher::CheckReadWithReplicas(ClientState& client,
                                       std::span<const std::string_view> args, resp::Writer& w,
                                       size_t reply_start) {
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr || !(spec->flags & kReadOnly) || (spec->flags & kWrite) ||
      spec->first_key <= 0 || spec->key_step <= 0) {
    return;
  }
  const int needed = client.quorum_override > 0 ? client.quorum_override
                                                : config::EffectiveReadQuorum(server_->config);
  if (needed <= 1) return;
  const int argc = static_cast<int>(args.size());
  const int last = spec->last_key < 0 ? argc + spec->last_key : spec->last_key;
  // What the reply was computed from (each key's state digest; 0: none): if
  // it differs once the replicas answered (their answers, or anything else
  // that arrived meanwhile), the read runs again. Every R > 1 read makes
  // one, so it is one allocation (the arguments and digests packed in one
  // string) and its callback captures one pointer.
  struct PendingRead {
    Dispatcher* dispatcher;
    uint64_t client_id;
    uint64_t seq;
    int db;
    int needed;
    int first_key, last_key, key_step;
    std::string held;
    // The digests seen (uint64), then each argument as a uint32 size and
    // its bytes.
    std::string packed;
    size_t keys = 0;
    uint64_t seen(size_t n) const {
      uint64_t d;
      std::memcpy(&d, packed.data() + n * sizeof d, sizeof d);
      return d;
    }
    std::vector<std::string> args() const {
      std::vector<std::string> out;
      size_t at = keys * sizeof(uint64_t);
      while (at < packed.size()) {
        uint32_t size;
        std::memcpy(&size, packed.data() + at, sizeof size);
        at += sizeof size;
        out.emplace_back(packed, at, size);
        at += size;
      }
      return out;
    }
  };
  auto read = std::make_shared<PendingRead>();
  std::vector<KeyRef> keys;
  size_t packed_size = 0;
  for (std::string_view arg : args) packed_size += sizeof(uint32_t) + arg.size();
  for (int i = spec->first_key; i <= last && i < argc; i += spec->key_step) {
    uint64_t digest = 0;
    StateDigest(client.db, args[i], &digest);
    keys.push_back(KeyRef{client.db, std::string(args[i]), true, digest});
  }
  if (keys.empty()) return;
  read->keys = keys.size();
  read->packed.reserve(keys.size() * sizeof(uint64_t) + packed_size);
  for (const KeyRef& k : keys) {
    read->packed.append(reinterpret_cast<const char*>(&k.digest), sizeof k.digest);
  }
  for (std::string_view arg : args) {
    const auto size = static_cast<uint32_t>(arg.size());
    read->packed.append(reinterpret_cast<const char*>(&size), sizeof size);
    read->packed.append(arg);
  }
  std::string& out = *w.buffer();
  read->held.assign(out, reply_start);
  out.resize(reply_start);
  client.cluster_wait = true;
  client.wait_is_read = true;
  client.wait_seq = client.next_wait_seq++;
  read->dispatcher = this;
  read->client_id = client.id;
  read->seq = client.wait_seq;
  read->db = client.db;
  read->needed = needed;
  read->first_key = spec->first_key;
  read->last_key = last;
  read->key_step = spec->key_step;
  replicator_->Fetch(std::move(keys), needed, [read](int answered, bool changed) {
    Dispatcher& self = *read->dispatcher;
    ServerState* server = self.server_;
    if (answered < read->needed) {
      if (server->resume_client) {
        server->resume_client(read->client_id, read->seq,
                              "-NOQUORUM the read reached " + std::to_string(answered) + " of " +
                                  std::to_string(self.replicator_->replicas()) + " replicas (" +
                                  std::to_string(read->needed) +
                                  " needed) within peer-timeout\r\n",
                              false);
      }
      return;
    }
    // Unchanged: every answer was what this node held when the read ran, so
    // the reply stands. Otherwise it stands only if each key's state is
    // still what the read saw.
    bool same = true;
    if (changed) {
      const std::vector<std::string> args = read->args();
      const int argc = static_cast<int>(args.size());
      size_t n = 0;
      for (int i = read->first_key; same && i <= read->last_key && i < argc;
           i += read->key_step, ++n) {
        uint64_t now = 0;
        self.StateDigest(read->db, args[static_cast<size_t>(i)], &now);
        same = now == read->seen(n);
      }
    }
    if (same) {
      if (server->resume_client) {
        server->resume_client(read->client_id, read->seq, std::move(read->held), false);
      }
    } else if (server->rerun_read) {
      server->rerun_read(read->client_id, read->seq, read->args(), read->db);
    }
  });
}

void Dispatcher::EnableCluster(uint64_t self, Replicator* replicator) {
  store_->EnableCausal(self);
  replicator_ = replicator;
}

void Dispatcher::CollectWrittenKeys(const CommandSpec& spec, const ClientState& client,
                                    std::span<const std::string_view> args) {
  if (spec.name == "flushdb" || spec.name == "flushall") {
    // Every key the flush deleted left a tombstone just now: those go to
    // the peers, so that a flush acts on the whole cluster.
    const int64_t now = store_->now_ms();
    const int first = spec.name == "flushdb" ? client.db : 0;
    const int last = spec.name == "flushdb" ? client.db : store_->database_count() - 1;
    for (int db = first; db <= last; ++db) {
      store_->db(db).ForEachHidden(
          [&](std::string_view key, const store::KeyState&, int64_t since_ms) {
            if (since_ms >= now) written_keys_.emplace_back(db, std::string(key));
          });
    }
    return;
  }
  // The same key positions the append-only log records.
  ForEachKeyArg(spec, args,
                [&](std::string_view key) { written_keys_.emplace_back(client.db, key); });
  int target;
  std::string_view key;
  if (ExtraWrittenKey(spec, args, client.db, store_->database_count(), &target, &key)) {
    written_keys_.emplace_back(target, std::string(key));
  }
}

std::vector<KeyStateUpdate> Dispatcher::TakeStates(
    std::vector<std::pair<int, std::string>>* keys) {
  std::vector<KeyStateUpdate> updates;
  updates.reserve(keys->size());
  std::sort(keys->begin(), keys->end());
  keys->erase(std::unique(keys->begin(), keys->end()), keys->end());
  for (auto& [db, key] : *keys) {
    KeyStateUpdate update;
    if (!ExportState(db, key, &update.state)) continue;  // never existed: nothing to send
    update.db = db;
    update.key = std::move(key);
    updates.push_back(std::move(update));
  }
  keys->clear();
  return updates;
}

void Dispatcher::EndScriptSlice() {
  collecting_ = false;
  std::move(written_keys_.begin(), written_keys_.end(), std::back_inserter(script_written_keys_));
  written_keys_.clear();
}

void Dispatcher::FinishSuspendedScript(uint64_t id, uint64_t seq, std::string reply) {
  std::vector<KeyStateUpdate> updates = TakeStates(&script_written_keys_);
  const int needed = config::EffectiveWriteQuorum(server_->config);
  if (updates.empty() || replicator_ == nullptr || needed <= 1 || reply.empty()) {
    if (!updates.empty() && replicator_ != nullptr) {
      replicator_->Replicate(std::move(updates), 1, nullptr);
    }
    if (server_->resume_client) server_->resume_client(id, seq, std::move(reply), false);
    return;
  }
  ReplicateThenRelease(std::move(updates), needed, id, seq, std::move(reply));
}

void Dispatcher::ReplicateCollected(ClientState& client, resp::Writer& w, size_t reply_start) {
  std::vector<KeyStateUpdate> updates = TakeStates(&written_keys_);
  if (updates.empty()) return;
  const int needed = client.quorum_override > 0 ? client.quorum_override
                                                 : config::EffectiveWriteQuorum(server_->config);
  // No reply to hold back (CLIENT REPLY OFF/SKIP): nothing to wait for.
  if (needed <= 1 || w.buffer()->size() == reply_start) {
    replicator_->Replicate(std::move(updates), 1, nullptr);
    return;
  }
  // The reply waits for the quorum, like a blocked client's (STYLE.md); the
  // connection runs the client's later commands meanwhile and queues their
  // replies behind this one.
  std::string& out = *w.buffer();
  std::string held = out.substr(reply_start);
  out.resize(reply_start);
  client.cluster_wait = true;
  client.wait_is_read = false;
  client.wait_seq = client.next_wait_seq++;
  ReplicateThenRelease(std::move(updates), needed, client.id, client.wait_seq, std::move(held));
}

void Dispatcher::ReplicateThenRelease(std::vector<KeyStateUpdate> updates, int needed,
                                      uint64_t id, uint64_t seq, std::string held) {
  const int replicas = replicator_->replicas();
  replicator_->Replicate(
      std::move(updates), needed,
      [server = server_, id, seq, held = std::move(held), needed, replicas](int holders) {
        if (!server->resume_client) return;
        if (holders >= needed) {
          server->resume_client(id, seq, held, false);
          return;
        }
        server->resume_client(
            id, seq,
            "-NOQUORUM the write reached " + std::to_string(holders) + " of " +
                std::to_string(replicas) + " replicas (" + std::to_string(needed) +
                " needed) within peer-timeout; it is kept on those and will still reach the "
                "others\r\n",
            false);
      });
}

bool Dispatcher::MustWaitForFetch(ClientState& client, std::span<const std::string_view> args) {
  if (replicator_ == nullptr || client.peer || client.fetched || client.in_multi) return false;
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr || spec->first_key <= 0 || spec->key_step <= 0 || !client.authenticated) {
    return false;
  }
  // Reads are checked after they ran (CheckReadWithReplicas). A write is
  // local, unless this node has evicted keys and does not hold one it
  // writes: it may have evicted its own replicated dots of that key, and a
  // new dot on an empty state would claim to cover them (store/causal.h).
  // Fetching the peers' states first restores them.
  if (!(spec->flags & kWrite) ||
      (store_->stats().evicted_keys == 0 && store_->stats().expired_states_dropped == 0)) {
    return false;
  }
  store::Keyspace& ks = store_->db(client.db);
  bool missing = false;
  store::KeyState state;
  std::vector<KeyRef> keys;
  ForEachKeyArg(*spec, args, [&](std::string_view key) {
    missing = missing || (ks.MaybeEvicted(key) && !ks.GetState(key, &state));
    keys.push_back(KeyRef{client.db, std::string(key)});
  });
  if (!missing) return false;
  // At least one peer's answer, whatever R is.
  const int needed = std::min(replicator_->replicas(),
                              std::max(config::EffectiveReadQuorum(server_->config), 2));
  client.cluster_wait = true;
  client.wait_seq = 0;
  const int replicas = replicator_->replicas();
  replicator_->Fetch(std::move(keys), needed,
                     [server = server_, id = client.id, needed, replicas](int answered, bool) {
                       if (!server->resume_client) return;
                       if (answered >= needed) {
                         server->resume_client(id, 0, "", true);
                         return;
                       }
                       server->resume_client(
                           id, 0,
                           "-NOQUORUM the read before this write reached " +
                               std::to_string(answered) + " of " +
                               std::to_string(replicas) + " replicas (" +
                               std::to_string(needed) + " needed) within peer-timeout\r\n",
                           false);
                     });
  return true;
}

bool Dispatcher::MergePeerState(int db, std::string_view key, std::string_view encoded,
                                bool* changed, bool take_evicted) {
  store::KeyState state;
  std::string error;
  std::string_view in = encoded;
  if (!store::DecodeKeyState(&in, &state, &error) || !in.empty()) return false;
  NowMs();
  const uint64_t siblings_before = SiblingsBefore(db, key);
  if (store_->db(db).MergeState(key, state, changed, take_evicted) != store::OpStatus::kOk) {
    return false;
  }
  if (*changed) {
    persistence_->LogKey(db, key);
    KeyChangedByPeer(db, key);
    NotifySiblingsAfter(db, key, siblings_before);
  }
  return true;
}

namespace {

// The versions of a key's siblings, hashed (FNV-1a over the raw versions,
// which are distinct and sorted): two sibling sets agree when it does.
uint64_t HashSiblings(const store::SiblingSet* set) {
  uint64_t h = 1469598103934665603ull ^ set->size();
  for (store::Sibling s : *set) {
    uint64_t v = s.version.raw();
    for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xff)) * 1099511628211ull;
  }
  return h | 1;  // never 0, which stands for "no siblings"
}

}  // namespace

uint64_t Dispatcher::SiblingsBefore(int db, std::string_view key) {
  if ((server_->config.notify_keyspace_events & config::kNotifyConflict) == 0) return 0;
  // Peek: looking must neither expire the key nor count an access.
  const store::SiblingSet* set = store_->db(db).Peek(key);
  return set == nullptr ? 0 : HashSiblings(set);
}

void Dispatcher::NotifySiblingsAfter(int db, std::string_view key, uint64_t before) {
  const uint32_t flags = server_->config.notify_keyspace_events;
  if ((flags & config::kNotifyConflict) == 0) return;
  const store::SiblingSet* set = store_->db(db).Peek(key);
  if (set == nullptr || set->size() < 2 || HashSiblings(set) == before) return;
  if (set->has_expire() && set->expire_at_ms() <= store_->now_ms()) return;
  PublishSiblingEvent(*pubsub_, flags, key, db, set->size(), executing_client_);
}

int Dispatcher::database_count() const { return store_->database_count(); }

uint64_t Dispatcher::SlotDigest(int db, int slot) const { return store_->db(db).slot_digest(slot); }

void Dispatcher::DumpSlots(
    int db, const std::vector<bool>& slots,
    const std::function<void(std::string_view key, std::string_view state)>& fn) {
  NowMs();
  std::string encoded;
  store_->db(db).ForEachStateInSlots(slots, [&](std::string_view key, const store::KeyState& s) {
    encoded.clear();
    store::EncodeKeyState(s, &encoded);
    fn(key, encoded);
  });
}

size_t Dispatcher::TombstoneCount() const {
  size_t n = 0;
  for (int i = 0; i < store_->database_count(); ++i) n += store_->db(i).tombstone_count();
  return n;
}

size_t Dispatcher::ExpiredStateCount() const {
  size_t n = 0;
  for (int i = 0; i < store_->database_count(); ++i) n += store_->db(i).expired_state_count();
  return n;
}

void Dispatcher::OldHiddenStates(
    int64_t deleted_before_ms, int64_t expired_before_ms, size_t limit,
    const std::function<void(int db, std::string_view key, std::string_view state)>& fn) {
  // A bounded slice per call, resuming where the last call stopped: a
  // FLUSHALL or a mass delete in a cluster leaves a tombstone per key, so
  // there can be millions, and the reaper runs on the loop.
  constexpr size_t kBucketsPerStep = 64;
  constexpr size_t kMaxBucketsPerCall = 4096;
  std::string encoded;
  size_t found = 0;
  size_t buckets = 0;
  const int dbs = store_->database_count();
  int dbs_finished = 0;
  while (found < limit && buckets < kMaxBucketsPerCall && dbs_finished <= dbs) {
    if (reap_scan_db_ >= dbs) {
      reap_scan_db_ = 0;
      reap_scan_cursor_ = 0;
    }
    store::Keyspace& keyspace = store_->db(reap_scan_db_);
    if (keyspace.hidden_count() != 0) {
      const int db = reap_scan_db_;
      reap_scan_cursor_ = keyspace.ScanHidden(
          reap_scan_cursor_, kBucketsPerStep,
          [&](std::string_view key, const store::KeyState& state, int64_t since_ms) {
            const int64_t before_ms = state.tombstone() ? deleted_before_ms : expired_before_ms;
            if (found >= limit || since_ms > before_ms) return;
            ++found;
            encoded.clear();
            store::EncodeKeyState(state, &encoded);
            fn(db, key, encoded);
          });
      buckets += kBucketsPerStep;
    } else {
      reap_scan_cursor_ = 0;
    }
    if (reap_scan_cursor_ == 0) {
      ++reap_scan_db_;
      ++dbs_finished;
    }
  }
}

bool Dispatcher::ReapHidden(int db, std::string_view key, std::string_view encoded) {
  store::KeyState state;
  std::string error;
  std::string_view in = encoded;
  if (!store::DecodeKeyState(&in, &state, &error) || !in.empty()) return false;
  if (!store_->db(db).ReapHidden(key, state)) return false;
  persistence_->LogKey(db, key);
  return true;
}

bool Dispatcher::ExportState(int db, std::string_view key, std::string* encoded) {
  NowMs();
  return store_->db(db).EncodeState(key, encoded);
}

int64_t Dispatcher::last_peer_merge_ms() const { return server_->last_peer_merge_ms; }

bool Dispatcher::StateDigest(int db, std::string_view key, uint64_t* digest) {
  NowMs();
  return store_->db(db).StateDigest(key, digest);
}

namespace {

// A RESP2 client subscribed to anything receives messages in place of
// replies, so only the commands whose replies look like messages may run.
bool IsScriptCall(std::string_view name) {
  return name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro" ||
         name == "fcall" || name == "fcall_ro";
}

bool AllowedWhileSubscribed(std::string_view name) {
  return name == "ping" || name == "subscribe" || name == "unsubscribe" ||
         name == "psubscribe" || name == "punsubscribe" || name == "ssubscribe" ||
         name == "sunsubscribe" || name == "quit" || name == "reset";
}

}  // namespace

void Dispatcher::DispatchCommand(ClientState& client, std::span<const std::string_view> args,
                                 resp::Writer& w) {
  client.last_interaction_ms = NowMs();
  const CommandSpec* spec = table_->Find(args[0]);
  // Inside MULTI a command that cannot even be queued makes EXEC abort.
  // Once the (sub)command is known, commandstats count the rejection.
  const CommandSpec* known = nullptr;
  auto reject = [&](std::string_view message) {  // message as Writer::Error takes it
    if (known != nullptr) ++command_stats_[known->id].rejected_calls;
    if (known != nullptr && known->name == "exec") {
      // As Redis (execCommandAbort): a refused EXEC ends the transaction and
      // forgets the watched keys, inside MULTI or not, so the commands after
      // it run instead of being queued.
      DiscardTransaction(client);
      if (message.starts_with('-')) message.remove_prefix(1);
      w.Error("-EXECABORT Transaction discarded because of: " + std::string(message));
      return;
    }
    w.Error(message);
    if (client.in_multi) client.multi_error = true;
  };
  if (spec == nullptr) {
    UnknownCommand(w, args);
    if (client.in_multi) client.multi_error = true;
    return;
  }
  // A container command with a handler of its own (COMMAND) runs it when
  // given no subcommand.
  if (!spec->subcommands.empty() && !(args.size() == 1 && spec->handler != nullptr)) {
    if (args.size() < 2) {
      reject(WrongArity(spec->name));
      return;
    }
    const CommandSpec* sub = CommandTable::FindSub(*spec, args[1]);
    if (sub == nullptr) {
      std::string upper = spec->name;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      reject("unknown subcommand '" + std::string(Clip(args[1], 128)) + "'. Try " + upper +
             " HELP.");
      return;
    }
    spec = sub;
  }
  known = spec;
  if (!ArityOk(spec->arity, args.size())) {
    reject(WrongArity(spec->name));
    return;
  }
  if (!client.authenticated && !(spec->flags & kNoAuth)) {
    reject(err::kNoAuth);
    return;
  }
  if (client.in_multi && (spec->flags & kNoMulti)) {
    reject("Command not allowed inside a transaction");
    return;
  }
  if (client.protocol == 2 && client.subscribed() && !AllowedWhileSubscribed(spec->name)) {
    reject("Can't execute '" + spec->name +
           "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
           "context");
    return;
  }
  if (client.monitor && (spec->flags & (kReadOnly | kWrite))) {
    reject("Replica can't interact with the keyspace");  // Redis's words: a monitor is one
    return;
  }
  if ((spec->flags & kPeerOnly) && !client.peer) {
    reject("-NOPERM this command is only for the nodes of a cluster (PEER.HELLO first)");
    return;
  }
  if (server_->config.maxmemory != 0 && UsedMemory() > server_->config.maxmemory) {
    // A write's own keys stay: their states may just have been fetched
    // back (MustWaitForFetch), and the write must cover them.
    thread_local std::vector<std::string_view> own_keys;
    own_keys.clear();
    if ((spec->flags & kWrite) && store_->causal()) {
      ForEachKeyArg(*spec, args, [&](std::string_view key) { own_keys.push_back(key); });
    }
    store_->set_evict_protected(client.db, own_keys);
    const bool under_limit = EnforceMaxmemory();
    store_->set_evict_protected(0, {});
    if (!under_limit && (spec->flags & kDenyOom) && !client.allow_oom) {
      reject("-OOM command not allowed when used memory > 'maxmemory'.");
      return;
    }
  }
  if (client.in_multi && !(spec->flags & kTxControl)) {
    client.queued.emplace_back(args.begin(), args.end());
    for (std::string_view arg : args) client.queued_bytes += arg.size();
    client.last_command = spec->name;  // as Redis: CLIENT LIST shows it (cmd=)
    w.SimpleString("QUEUED");
    return;
  }
  client.last_command = spec->name;
  ++server_->stats.total_commands_processed;
  Context ctx{*this, *server_, *store_, *table_, client, w, args};
  const size_t reply_start = w.buffer()->size();
  // CLIENT TRACKING and MONITOR watch commands: one branch when nobody does.
  const bool observed = tracking_->active() || !monitors_->empty();
  std::vector<TrackedKey> tracked;
  const bool fed_before = observed && ObserveBefore(*spec, client, args, &tracked);
  const uint64_t started = util::CycleClock::Now();
  spec->handler(ctx);
  const int64_t elapsed_ns = util::CycleClock::ToNanos(util::CycleClock::Now() - started);
  const bool failed = w.buffer()->size() > reply_start && (*w.buffer())[reply_start] == '-';
  RecordCall(*spec, client, args, elapsed_ns, failed);
  if (spec->flags & kWrite) {
    persistence_->NoteWrite();
    if (!failed) persistence_->LogWrite(*spec, client, args);
    if (!failed && collecting_) CollectWrittenKeys(*spec, client, args);
    if (!failed) SignalKeysChanged(*spec, client, args);
  }
  if (observed) ObserveAfter(*spec, client, args, tracked, fed_before);
}

bool Dispatcher::ObserveBefore(const CommandSpec& spec, const ClientState& client,
                               std::span<const std::string_view> args,
                               std::vector<TrackedKey>* tracked) {
  // CLIENT TRACKING: which keys a write really changed (their fingerprints
  // before and after), so that a write that changed nothing (SET NX on an
  // existing key, DEL of a missing one) invalidates nothing, as in Redis.
  if ((spec.flags & kWrite) && tracking_->active()) {
    ForEachKeyArg(spec, args, [&](std::string_view key) {
      tracked->push_back({client.db, key, Fingerprint(client.db, key)});
    });
    int db;
    std::string_view key;
    if (ExtraWrittenKey(spec, args, client.db, store_->database_count(), &db, &key)) {
      tracked->push_back({db, key, Fingerprint(db, key)});
    }
  }
  // MONITOR shows a command once it ran, but a script's command before the
  // commands its script runs (as Redis orders them).
  if (monitors_->empty() || (spec.flags & kAdmin) || !IsScriptCall(spec.name)) return false;
  monitors_->Feed(client, spec.name, args);
  return true;
}

void Dispatcher::ObserveAfter(const CommandSpec& spec, ClientState& client,
                              std::span<const std::string_view> args,
                              const std::vector<TrackedKey>& tracked, bool fed_before) {
  if (!fed_before && !monitors_->empty() && !(spec.flags & kAdmin)) {
    monitors_->Feed(client, spec.name, args);
  }
  for (const TrackedKey& k : tracked) {
    if (Fingerprint(k.db, k.key) != k.before) tracking_->KeyChanged(k.key, client.id);
  }
  if ((spec.flags & kReadOnly) && !(spec.flags & kWrite) && client.tracking.on) {
    std::vector<std::string_view> keys;
    ForEachKeyArg(spec, args, [&](std::string_view key) { keys.push_back(key); });
    tracking_->RememberKeys(client, keys);
  }
}

void Dispatcher::ExecQueued(ClientState& client, resp::Writer& w) {
  std::vector<std::vector<std::string>> queued;
  queued.swap(client.queued);
  client.queued_bytes = 0;
  client.in_multi = false;
  client.multi_error = false;
  w.ArrayHeader(static_cast<int64_t>(queued.size()));
  std::vector<std::string_view> views;
  executing_queued_ = true;
  for (const std::vector<std::string>& command : queued) {
    views.assign(command.begin(), command.end());
    DispatchCommand(client, views, w);
  }
  executing_queued_ = false;
}

void Dispatcher::DiscardTransaction(ClientState& client) {
  client.in_multi = false;
  client.multi_error = false;
  client.queued.clear();
  client.queued_bytes = 0;
  client.watched.Clear();
}

void Dispatcher::RecordCall(const CommandSpec& spec, const ClientState& client,
                            std::span<const std::string_view> args, int64_t duration_ns,
                            bool failed) {
  CommandStats& stats = command_stats_[spec.id];
  ++stats.calls;
  stats.nsec += static_cast<uint64_t>(duration_ns);
  const int64_t duration_us = duration_ns / 1000;
  if (failed) ++stats.failed_calls;
  const int64_t slower_than = server_->config.slowlog_log_slower_than;
  if (slower_than < 0 || duration_us < slower_than || (spec.flags & kSkipSlowlog)) return;
  SlowLogEntry entry;
  entry.unix_time_s = store_->now_ms() / 1000;
  entry.duration_us = duration_us;
  entry.args = SlowLogArgs(spec.name, args);
  entry.client_addr = client.addr;
  entry.client_name = client.name;
  slowlog_->Push(std::move(entry), server_->config.slowlog_max_len);
}

const CommandStats& Dispatcher::command_stats(const CommandSpec& spec) const {
  return command_stats_[spec.id];
}

void Dispatcher::ResetCommandStats() {
  command_stats_.assign(command_stats_.size(), CommandStats{});
}

bool Dispatcher::MustWaitForPause(const ClientState& client,
                                  std::span<const std::string_view> args) {
  ClientPause& pause = server_->pause;
  if (pause.end_ms == 0) return false;
  if (WallClockMs() >= pause.end_ms) {
    pause = ClientPause{};
    return false;
  }
  // Redis holds back everything in ALL mode, CLIENT UNPAUSE included.
  if (pause.all) return true;
  auto writes = [this](std::span<const std::string_view> command) {
    const CommandSpec* spec = table_->Find(command[0]);
    if (spec == nullptr) return false;  // the error reply is not held back
    if (!spec->subcommands.empty() && command.size() >= 2) {
      if (const CommandSpec* sub = CommandTable::FindSub(*spec, command[1])) spec = sub;
    }
    if (spec->find_keys == ScriptKeys) return scripting().MayWrite(command);
    return (spec->flags & kWrite) != 0;
  };
  if (writes(args)) return true;
  // EXEC waits when it would run a write.
  if (client.in_multi && EqualsIgnoreCase(args[0], "exec")) {
    std::vector<std::string_view> views;
    for (const std::vector<std::string>& queued : client.queued) {
      views.assign(queued.begin(), queued.end());
      if (writes(views)) return true;
    }
  }
  return false;
}

void Dispatcher::SurveyStep(int64_t budget_us) {
  survey_->Step(*store_, WallClockMs(), budget_us,
                static_cast<uint32_t>(server_->config.max_siblings));
}

KeyFingerprint Dispatcher::Fingerprint(int db, std::string_view key) {
  KeyFingerprint fp;
  fp.ttl_changes = watch_registry_->TtlChanges(db, key);
  const store::SiblingSet* set = store_->db(db).FindReadOnly(key);
  if (set == nullptr) return fp;
  fp.exists = true;
  fp.max_version = set->max_version().raw();
  fp.siblings = set->size();
  fp.expire_at_ms = set->expire_at_ms();
  return fp;
}

}  // namespace causalkv::command
