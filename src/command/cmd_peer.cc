// The commands nodes send each other (never clients). Every one but
// PEER.HELLO is refused on a connection that has not authenticated with
// peer-secret, because PEER.MERGE can overwrite any key.
//
//   PEER.HELLO secret node-id   -> +OK; the connection is a peer's from now on
//   PEER.MERGE db key state [db key state ...]
//                               -> one status byte per key: '1' the local
//                                  state changed, '0' it held that already,
//                                  'e' refused (out of memory, limits)
//   PEER.GET db key             -> the key's encoded state, or null
//   PEER.MGET db key digest [db key digest ...]
//                               -> one string, per key: '=' if this node's
//                                  state has that digest (decimal
//                                  StateDigest; empty: the asker has none)
//                                  or neither has one, '-' if only the asker
//                                  has one, else '+', a 4-byte little-endian
//                                  length and this node's encoded state
//   PEER.DIGEST db              -> 128 group digests (fixed64 each, 1 KB): the
//                                  XOR of the digests of 128 consecutive slots;
//                                  "" when every one is 0 (an empty database)
//   PEER.DIGEST db group ...    -> per group asked, its 128 slot digests
//   PEER.DUMP db cursor slot ...
//                               -> [next-cursor, key, state, key, state ...]:
//                                  one page of the keys (tombstones included)
//                                  in those slots; walk from cursor 0 until
//                                  the next cursor is 0 again
//   PEER.REAP db key state [db key state ...]
//                               -> :n, how many of these tombstones were
//                                  exactly `state` here and are now dropped
//
// States are store::EncodeKeyState bytes. A malformed state or argument is
// an error reply and changes nothing.
#include <spdlog/spdlog.h>

#include <charconv>
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/command/persistence.h"
#include "causalkv/store/causal.h"
#include "causalkv/util/key_slot.h"
#include "cmd_common.h"
#include "errors.h"
#include "pubsub.h"

namespace causalkv::command {
namespace {

constexpr int kSlotsPerGroup = 128;
constexpr int kGroups = util::kHashSlots / kSlotsPerGroup;
// Hash buckets one PEER.DUMP walks: a page costs well under a millisecond,
// whatever the size of the keyspace.
constexpr size_t kDumpPageBuckets = 4096;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

bool ParseDb(Context& ctx, std::string_view arg, int* db) {
  int64_t v;
  if (!ParseInt64(arg, &v) || v < 0 || v >= ctx.store.database_count()) {
    ctx.w.Error(err::kDbRange);
    return false;
  }
  *db = static_cast<int>(v);
  return true;
}

// The databases of a (db, key, x) triple list (PEER.MGET, PEER.REAP), into
// *dbs; false, with the error written, if the list or a database is bad.
bool ParseTripleDbs(Context& ctx, std::vector<int>* dbs) {
  if ((ctx.args.size() - 1) % 3 != 0) {
    ctx.w.Error(err::kSyntax);
    return false;
  }
  dbs->resize((ctx.args.size() - 1) / 3);
  for (size_t i = 0; i < dbs->size(); ++i) {
    if (!ParseDb(ctx, ctx.args[1 + 3 * i], &(*dbs)[i])) return false;
  }
  return true;
}

void AppendFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PeerHello(Context& ctx) {
  const std::string& secret = ctx.server.config.peer_secret;
  if (ctx.server.config.peers.empty() || secret.empty()) {
    ctx.w.Error("-PEERAUTH this server is not a cluster node (no peers configured)");
    return;
  }
  if (!ConstantTimeEquals(ctx.args[1], secret)) {
    spdlog::warn("refused a peer link from {}: wrong peer-secret", ctx.client.addr);
    ctx.w.Error("-PEERAUTH invalid peer secret");
    return;
  }
  ctx.client.peer = true;
  ctx.client.authenticated = true;
  spdlog::debug("peer link from {} (node {})", ctx.client.addr, std::string(ctx.args[2]));
  ctx.w.Ok();
}

// A batch of (db, key, x) triples: each key's lookup is started a few keys
// ahead of the one being processed (HashTable::Prefetch's two stages).
void PrefetchAhead(Context& ctx, const std::vector<int>& dbs, size_t i) {
  constexpr size_t kBucketAhead = 8;
  constexpr size_t kEntryAhead = 4;
  if (i + kBucketAhead < dbs.size()) {
    ctx.store.db(dbs[i + kBucketAhead]).Prefetch(ctx.args[2 + 3 * (i + kBucketAhead)], 0);
  }
  if (i + kEntryAhead < dbs.size()) {
    ctx.store.db(dbs[i + kEntryAhead]).Prefetch(ctx.args[2 + 3 * (i + kEntryAhead)], 1);
  }
}

void PeerMerge(Context& ctx) {
  if ((ctx.args.size() - 1) % 3 != 0) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (!ctx.store.causal()) {
    ctx.w.Error("this server is not a cluster node");
    return;
  }
  // All or nothing for malformed input: every triple is checked first.
  const size_t count = (ctx.args.size() - 1) / 3;
  // Kept between batches: freeing a batch's worth every time made glibc
  // consolidate its free lists on every batch.
  static thread_local std::vector<int> dbs;
  static thread_local std::vector<store::KeyState> states;
  dbs.resize(count);
  states.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!ParseDb(ctx, ctx.args[1 + 3 * i], &dbs[i])) return;
    std::string why;
    std::string_view in = ctx.args[3 + 3 * i];
    if (!store::DecodeKeyState(&in, &states[i], &why) || !in.empty()) {
      spdlog::warn("peer {} sent a malformed state for a key: {}", ctx.client.addr, why);
      ctx.w.Error("malformed key state: " + why);
      return;
    }
  }
  ctx.server.last_peer_merge_ms = ctx.store.now_ms();
  std::string statuses(count, '0');
  for (size_t i = 0; i < count; ++i) {
    PrefetchAhead(ctx, dbs, i);
    const std::string_view key = ctx.args[2 + 3 * i];
    bool changed = false;
    const uint64_t siblings_before = ctx.dispatcher.SiblingsBefore(dbs[i], key);
    const store::OpStatus status =
        ctx.store.db(dbs[i]).MergeState(key, states[i], &changed, false);
    if (status != store::OpStatus::kOk) {
      // Refused here (out of memory, too many siblings): the coordinator
      // keeps it as a hint; anti-entropy tries again later.
      statuses[i] = 'e';
      spdlog::debug("refused a peer's state of a key in db {}: status {}", dbs[i],
                    static_cast<int>(status));
      continue;
    }
    if (changed) {
      statuses[i] = '1';
      ctx.dispatcher.persistence().LogKey(dbs[i], key);
      ctx.dispatcher.KeyChangedByPeer(dbs[i], key);
      ctx.dispatcher.NotifySiblingsAfter(dbs[i], key, siblings_before);
    }
  }
  ctx.w.Bulk(statuses);
  // Values not kept; the vectors are, for the next batch's decoding.
  for (store::KeyState& state : states) state.siblings.clear();
}

void PeerGet(Context& ctx) {
  int db;
  if (!ParseDb(ctx, ctx.args[1], &db)) return;
  store::KeyState state;
  if (!ctx.store.causal() || !ctx.store.db(db).GetState(ctx.args[2], &state)) {
    ctx.w.Null();
    return;
  }
  std::string encoded;
  store::EncodeKeyState(state, &encoded);
  ctx.w.Bulk(encoded);
}

void PeerMget(Context& ctx) {
  std::vector<int> dbs;
  if (!ParseTripleDbs(ctx, &dbs)) return;
  const size_t count = dbs.size();
  // One string for the whole batch (a reply element per key would cost the
  // asker an allocation per key): per key '=' (the asker holds this state,
  // or neither has one), '-' (none here, the asker has one) or '+', a
  // 4-byte little-endian length and this node's encoded state.
  std::string out;
  std::string encoded;
  for (size_t i = 0; i < count; ++i) {
    PrefetchAhead(ctx, dbs, i);
    store::Keyspace& ks = ctx.store.db(dbs[i]);
    const std::string_view key = ctx.args[2 + 3 * i];
    const std::string_view theirs = ctx.args[3 + 3 * i];
    uint64_t digest = 0;
    // A state this node evicted still counts as held (its digest is still
    // in the slot digest): the asker's copy is enough for a read, and a
    // reaper may drop it everywhere.
    const bool have = ctx.store.causal() && ks.HeldDigest(key, &digest);
    if (!have) {
      out.push_back(theirs.empty() ? '=' : '-');
      continue;
    }
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, digest);
    if (ec == std::errc() && theirs == std::string_view(digits, end - digits)) {
      out.push_back('=');
      continue;
    }
    if (!ks.EncodeState(key, &encoded)) {  // evicted here, and not what the asker holds
      out.push_back(theirs.empty() ? '=' : '-');
      continue;
    }
    out.push_back('+');
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(encoded.size() >> (8 * b)));
    out.append(encoded);
  }
  ctx.w.Bulk(out);
}

void PeerDigest(Context& ctx) {
  int db;
  if (!ParseDb(ctx, ctx.args[1], &db)) return;
  store::Keyspace& ks = ctx.store.db(db);
  std::string out;
  if (ctx.args.size() == 2) {
    out.reserve(kGroups * 8);
    bool all_zero = true;
    for (int g = 0; g < kGroups; ++g) {
      uint64_t x = 0;
      for (int s = g * kSlotsPerGroup; s < (g + 1) * kSlotsPerGroup; ++s) x ^= ks.slot_digest(s);
      all_zero = all_zero && x == 0;
      AppendFixed64(&out, x);
    }
    // An empty database (most of the 16) answers in a few bytes.
    ctx.w.Bulk(all_zero ? std::string_view() : std::string_view(out));
    return;
  }
  std::vector<int> groups;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    int64_t g;
    if (!ParseInt64(ctx.args[i], &g) || g < 0 || g >= kGroups) {
      ctx.w.Error("invalid digest group");
      return;
    }
    groups.push_back(static_cast<int>(g));
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(groups.size()));
  for (int g : groups) {
    out.clear();
    for (int s = g * kSlotsPerGroup; s < (g + 1) * kSlotsPerGroup; ++s) {
      AppendFixed64(&out, ks.slot_digest(s));
    }
    ctx.w.Bulk(out);
  }
}

void PeerDump(Context& ctx) {
  int db;
  if (!ParseDb(ctx, ctx.args[1], &db)) return;
  uint64_t cursor = 0;
  {
    const std::string_view arg = ctx.args[2];
    const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), cursor);
    if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size()) {
      ctx.w.Error("invalid cursor");
      return;
    }
  }
  std::vector<bool> slots(util::kHashSlots, false);
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    int64_t s;
    if (!ParseInt64(ctx.args[i], &s) || s < 0 || s >= util::kHashSlots) {
      ctx.w.Error("invalid slot");
      return;
    }
    slots[static_cast<size_t>(s)] = true;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  uint64_t next = 0;
  if (ctx.store.causal()) {
    next = ctx.store.db(db).ScanStatesInSlots(
        slots, cursor, kDumpPageBuckets, [&](std::string_view key, const store::KeyState& state) {
          std::string encoded;
          store::EncodeKeyState(state, &encoded);
          entries.emplace_back(std::string(key), std::move(encoded));
        });
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(1 + entries.size() * 2));
  ctx.w.Bulk(std::to_string(next));
  for (const auto& [key, state] : entries) {
    ctx.w.Bulk(key);
    ctx.w.Bulk(state);
  }
}

// PEER.PUBLISH channel message [SHARD]: a message published on another
// node, for this node's subscribers only (never forwarded again).
void PeerPublish(Context& ctx) {
  bool shard = false;
  if (ctx.args.size() >= 4) {
    if (ctx.args.size() > 4 || !EqualsIgnoreCase(ctx.args[3], "shard")) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    shard = true;
  }
  ctx.w.Integer(ctx.dispatcher.pubsub().Publish(ctx.args[1], ctx.args[2], shard));
}

void PeerReap(Context& ctx) {
  std::vector<int> dbs;
  if (!ParseTripleDbs(ctx, &dbs)) return;
  int64_t reaped = 0;
  for (size_t i = 0; i < dbs.size(); ++i) {
    if (ctx.dispatcher.ReapHidden(dbs[i], ctx.args[2 + 3 * i], ctx.args[3 + 3 * i])) ++reaped;
  }
  ctx.w.Integer(reaped);
}

}  // namespace

void RegisterPeerCommands(std::vector<CommandSpec>* out) {
  const std::string g = "causalkv";
  out->push_back({"peer.hello", 3, kFast | kNoAuth | kTxControl, 0, 0, 0, PeerHello, g, "0.2.0",
                  "Authenticates a link from another node of the cluster.", "O(1)",
                  "secret:string node-id:string", {}});
  // No key positions: the keys may be in several databases, so the handler
  // logs each one it changed itself.
  out->push_back({"peer.merge", -4, kWrite | kPeerOnly, 0, 0, 0, PeerMerge, g, "0.2.0",
                  "Merges peers' states of keys.",
                  "O(N) where N is the number of keys and siblings",
                  "db:integer key:key state:string [db:integer key:key state:string ...]", {}});
  out->push_back({"peer.get", 3, kReadOnly | kPeerOnly, 0, 0, 0, PeerGet, g, "0.2.0",
                  "Returns this node's state of a key.", "O(N) where N is the number of siblings",
                  "db:integer key:key", {}});
  out->push_back({"peer.mget", -4, kReadOnly | kPeerOnly, 0, 0, 0, PeerMget, g, "0.2.0",
                  "Returns this node's states of keys that differ from the asker's.",
                  "O(N) where N is the number of keys and siblings",
                  "db:integer key:key digest:string [db:integer key:key digest:string ...]", {}});
  out->push_back({"peer.digest", -2, kReadOnly | kPeerOnly, 0, 0, 0, PeerDigest, g, "0.2.0",
                  "Returns digests of this node's hash slots, for anti-entropy.",
                  "O(slots)", "db:integer [group:integer...]", {}});
  out->push_back({"peer.reap", -4, kPeerOnly, 0, 0, 0, PeerReap, g, "0.2.0",
                  "Drops tombstones that every replica holds.",
                  "O(N) where N is the number of keys",
                  "db:integer key:key state:string [db:integer key:key state:string ...]", {}});
  out->push_back({"peer.publish", -3, kPeerOnly | kFast, 0, 0, 0, PeerPublish, g, "0.3.0",
                  "Delivers a message published on another node to this node's subscribers.",
                  "O(N+M) as PUBLISH", "channel:string message:string [SHARD]", {}});
  out->push_back({"peer.dump", -4, kReadOnly | kPeerOnly, 0, 0, 0, PeerDump, g, "0.2.0",
                  "Returns a page of the states of the keys in the given hash slots.",
                  "O(N) where N is the number of keys in the page's buckets",
                  "db:integer cursor:integer slot:integer...", {}});
}

}  // namespace causalkv::command
