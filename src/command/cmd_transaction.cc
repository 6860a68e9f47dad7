// MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis semantics.
//
// WATCH records a fingerprint of each key (existence, newest version, sibling
// count, TTL, TTL changes). Every write that stores a value takes a fresh
// version, every removal changes the count or the existence, and the commands
// that change a TTL count it (watch_registry.h), so EXEC aborts exactly when a
// watched key was modified in between, whoever did it: another client, VPUT or
// VDEL, expiry, FLUSHALL. It costs the write path one branch while nothing is
// watched. One difference from Redis: a key missing at WATCH that is created
// and deleted again before EXEC leaves the transaction alone, since the state
// it read still holds.
#include <string>

#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

void Multi(Context& ctx) {
  if (ctx.client.in_multi) {
    ctx.w.Error("MULTI calls can not be nested");
    return;
  }
  ctx.client.in_multi = true;
  ctx.client.multi_error = false;
  ctx.client.queued.clear();
  ctx.client.queued_bytes = 0;
  ctx.w.Ok();
}

bool WatchedKeysUnchanged(Context& ctx) {
  for (const WatchedKey& watched : ctx.client.watched) {
    if (ctx.dispatcher.Fingerprint(watched.db, watched.key) != watched.seen) return false;
  }
  return true;
}

void Exec(Context& ctx) {
  ClientState& client = ctx.client;
  if (!client.in_multi) {
    ctx.w.Error("EXEC without MULTI");
    return;
  }
  if (client.multi_error) {
    Dispatcher::DiscardTransaction(client);
    ctx.w.Error("-EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  if (!WatchedKeysUnchanged(ctx)) {
    Dispatcher::DiscardTransaction(client);
    ctx.w.NullArray();
    return;
  }
  client.watched.Clear();
  ctx.dispatcher.ExecQueued(client, ctx.w);
}

void Discard(Context& ctx) {
  if (!ctx.client.in_multi) {
    ctx.w.Error("DISCARD without MULTI");
    return;
  }
  Dispatcher::DiscardTransaction(ctx.client);
  ctx.w.Ok();
}

void Watch(Context& ctx) {
  if (ctx.client.in_multi) {
    ctx.w.Error("WATCH inside MULTI is not allowed");
    return;
  }
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string_view key = ctx.args[i];
    if (ctx.client.watched.Contains(ctx.client.db, key)) continue;
    ctx.client.watched.Add(ctx.dispatcher.watch_registry(), ctx.client.db, key,
                           ctx.dispatcher.Fingerprint(ctx.client.db, key));
  }
  ctx.w.Ok();
}

void Unwatch(Context& ctx) {
  ctx.client.watched.Clear();
  ctx.w.Ok();
}

}  // namespace

void RegisterTransactionCommands(std::vector<CommandSpec>* out) {
  const std::string g = "transactions";
  const uint32_t kTx = kNoScript | kLoading | kStale | kFast | kTxControl;
  out->push_back({"multi", 1, kTx, 0, 0, 0, Multi, g, "1.2.0", "Starts a transaction.", "O(1)",
                  "", {}});
  out->push_back({"exec", 1, kNoScript | kLoading | kStale | kTxControl | kSkipSlowlog, 0, 0, 0,
                  Exec, g, "1.2.0", "Executes all commands in a transaction.",
                  "Depends on commands in the transaction", "", {}});
  out->push_back({"discard", 1, kTx, 0, 0, 0, Discard, g, "2.0.0", "Discards a transaction.",
                  "O(N), when N is the number of queued commands", "", {}});
  out->push_back({"watch", -2, kTx, 1, -1, 1, Watch, g, "2.2.0",
                  "Monitors changes to keys to determine the execution of a transaction.",
                  "O(1) for every key.", "key:key...", {}});
  // Not kTxControl: inside MULTI, Redis queues UNWATCH like any command.
  out->push_back({"unwatch", 1, kNoScript | kLoading | kStale | kFast, 0, 0, 0, Unwatch, g, "2.2.0",
                  "Forgets about watched keys of a transaction.", "O(1)", "", {}});
}

}  // namespace causalkv::command
