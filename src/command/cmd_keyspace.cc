// Keyspace commands: they act on whole keys, every sibling at once.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/util/glob.h"
#include "cmd_common.h"
#include "tracking.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::OpStatus;
using store::SiblingSet;

void Del(Context& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (!ctx.db().Delete(ctx.args[i])) continue;
    ++deleted;
    Notify(ctx, config::kNotifyGeneric, "del", ctx.args[i]);
  }
  ctx.w.Integer(deleted);
}

// EXISTS and TOUCH: reads, counted (and notified: keymiss) as Redis does.
void Exists(Context& ctx) {
  int64_t found = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i)
    found += LookupRead(ctx, ctx.args[i]) != nullptr ? 1 : 0;
  ctx.w.Integer(found);
}

void Type(Context& ctx) {
  const SiblingSet* set = LookupRead(ctx, ctx.args[1]);
  ctx.w.SimpleString(set == nullptr ? "none" : store::TypeName(set->newest().type));
}

void RenameGeneric(Context& ctx, bool nx) {
  const OpStatus status = ctx.db().Rename(ctx.args[1], ctx.args[2], nx);
  switch (status) {
    case OpStatus::kOk:
      if (ctx.args[1] != ctx.args[2]) {  // a key renamed to itself: no event, as Redis
        Notify(ctx, config::kNotifyGeneric, "rename_from", ctx.args[1]);
        Notify(ctx, config::kNotifyGeneric, "rename_to", ctx.args[2]);
      }
      if (nx) {
        ctx.w.Integer(1);
      } else {
        ctx.w.Ok();
      }
      return;
    case OpStatus::kExists:
      ctx.w.Integer(0);
      return;
    default:
      WriteStoreError(ctx.w, status);
  }
}
void Rename(Context& ctx) { RenameGeneric(ctx, false); }
void RenameNx(Context& ctx) { RenameGeneric(ctx, true); }

// A database number as Redis reads it (getIntFromObjectOrReply): false
// with the error written for a non-integer or one outside int's range.
bool ParseIntArg(Context& ctx, std::string_view arg, int64_t* out) {
  if (!ParseInt64(arg, out)) {
    ctx.w.Error(err::kNotInteger);
    return false;
  }
  if (*out < INT32_MIN || *out > INT32_MAX) {
    ctx.w.Error("value is out of range, value must between -2147483648 and 2147483647");
    return false;
  }
  return true;
}

void Move(Context& ctx) {
  int64_t db;
  if (!ParseIntArg(ctx, ctx.args[2], &db)) return;
  if (db < 0 || db >= ctx.store.database_count()) {
    ctx.w.Error(err::kDbRange);
    return;
  }
  if (db == ctx.client.db) {
    ctx.w.Error("source and destination objects are the same");
    return;
  }
  const OpStatus status = ctx.db().MoveTo(ctx.args[1], &ctx.store.db(static_cast<int>(db)));
  if (status == OpStatus::kOk) {
    Notify(ctx, config::kNotifyGeneric, "move_from", ctx.args[1]);
    NotifyIn(ctx, static_cast<int>(db), config::kNotifyGeneric, "move_to", ctx.args[1]);
    ctx.w.Integer(1);
  } else if (status == OpStatus::kNotFound || status == OpStatus::kExists) {
    ctx.w.Integer(0);
  } else {
    WriteStoreError(ctx.w, status);
  }
}

// COPY source destination [DB destination-db] [REPLACE]
void Copy(Context& ctx) {
  int64_t db = ctx.client.db;
  bool replace = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "replace")) {
      replace = true;
    } else if (EqualsIgnoreCase(ctx.args[j], "db") && j + 1 < ctx.args.size()) {
      if (!ParseIntArg(ctx, ctx.args[j + 1], &db)) return;
      if (db < 0 || db >= ctx.store.database_count()) {
        ctx.w.Error(err::kDbRange);
        return;
      }
      ++j;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  if (db == ctx.client.db && ctx.args[1] == ctx.args[2]) {
    ctx.w.Error("source and destination objects are the same");
    return;
  }
  const OpStatus status =
      ctx.db().Copy(ctx.args[1], &ctx.store.db(static_cast<int>(db)), ctx.args[2], replace);
  if (status == OpStatus::kOk) {
    NotifyIn(ctx, static_cast<int>(db), config::kNotifyGeneric, "copy_to", ctx.args[2]);
    ctx.w.Integer(1);
  } else if (status == OpStatus::kNotFound || status == OpStatus::kExists) {
    if (status == OpStatus::kNotFound) CountMiss(ctx, ctx.args[1]);  // Redis reads the source
    ctx.w.Integer(0);
  } else {
    WriteStoreError(ctx.w, status);
  }
}

void SwapDb(Context& ctx) {
  int64_t dbs[2];
  for (int i = 0; i < 2; ++i) {
    if (!ParseInt64(ctx.args[1 + i], &dbs[i]) || dbs[i] < INT32_MIN || dbs[i] > INT32_MAX) {
      ctx.w.Error(i == 0 ? "invalid first DB index" : "invalid second DB index");
      return;
    }
  }
  if (dbs[0] < 0 || dbs[0] >= ctx.store.database_count() || dbs[1] < 0 ||
      dbs[1] >= ctx.store.database_count()) {
    ctx.w.Error(err::kDbRange);
    return;
  }
  if (ctx.store.causal()) {
    ctx.w.Error("SWAPDB is not allowed in a cluster: the other nodes' databases would not "
                "be swapped");
    return;
  }
  ctx.store.SwapDatabases(static_cast<int>(dbs[0]), static_cast<int>(dbs[1]));
  ctx.dispatcher.DatabaseReplaced(static_cast<int>(dbs[0]));
  ctx.dispatcher.DatabaseReplaced(static_cast<int>(dbs[1]));
  ctx.w.Ok();
}

void Keys(Context& ctx) {
  const std::string_view pattern = ctx.args[1];
  const bool all = pattern == "*";
  std::vector<std::string_view> keys;
  ctx.db().ForEachLive([&](const SiblingSet* set) {
    if (all || util::GlobMatch(pattern, set->key())) keys.push_back(set->key());
  });
  ctx.w.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (std::string_view k : keys) ctx.w.Bulk(k);
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
void Scan(Context& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx, ctx.args[1], &cursor)) return;
  ScanOptions opts;
  if (!ParseScanOptions(ctx, 2, /*allow_type=*/true, &opts)) return;
  const std::string_view pattern = opts.pattern;
  const bool has_pattern = opts.has_pattern;
  const std::string_view type = opts.type;
  const bool has_type = opts.has_type;
  const int64_t count = opts.count;
  // An unknown TYPE matches nothing, but the cursor still walks the table
  // as Redis's does.
  // Scanning deletes nothing, so views into the keyspace stay valid until the reply is written.
  std::vector<std::string_view> keys;
  // Redis's bound on empty buckets visited per call; saturate for huge COUNTs.
  int64_t max_iterations = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
  do {
    cursor = ctx.db().Scan(cursor, [&](const SiblingSet* set) {
      if (has_type && !EqualsIgnoreCase(type, store::TypeName(set->newest().type))) return;
      if (has_pattern && !util::GlobMatch(pattern, set->key())) return;
      keys.push_back(set->key());
    });
  } while (cursor != 0 && max_iterations-- > 0 && static_cast<int64_t>(keys.size()) < count);
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(std::to_string(cursor));
  ctx.w.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (std::string_view k : keys) ctx.w.Bulk(k);
}

void RandomKey(Context& ctx) {
  const SiblingSet* set = ctx.db().RandomKey();
  if (set == nullptr) {
    ctx.w.Null();
  } else {
    ctx.w.Bulk(set->key());
  }
}

enum ExpireFlag { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT]
void ExpireGeneric(Context& ctx, bool seconds, bool relative) {
  int flags = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const std::string_view opt = ctx.args[j];
    if (EqualsIgnoreCase(opt, "nx")) {
      flags |= kNx;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      flags |= kXx;
    } else if (EqualsIgnoreCase(opt, "gt")) {
      flags |= kGt;
    } else if (EqualsIgnoreCase(opt, "lt")) {
      flags |= kLt;
    } else {
      ctx.w.Error("Unsupported option " + std::string(opt));
      return;
    }
  }
  if ((flags & kNx) && (flags & (kXx | kGt | kLt))) {
    ctx.w.Error("NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if ((flags & kGt) && (flags & kLt)) {
    ctx.w.Error("GT and LT options at the same time are not compatible");
    return;
  }
  int64_t when;
  if (!ParseInt64(ctx.args[2], &when)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (seconds) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
      WriteInvalidExpire(ctx);
      return;
    }
    when *= 1000;
  }
  const int64_t base = relative ? ctx.store.now_ms() : 0;
  if (when > INT64_MAX - base) {
    WriteInvalidExpire(ctx);
    return;
  }
  when += base;
  const SiblingSet* set = ctx.db().FindReadOnly(ctx.args[1]);
  if (set == nullptr) {
    ctx.w.Integer(0);
    return;
  }
  const int64_t current = set->expire_at_ms();  // kNoExpire (-1) without a TTL
  const bool has_ttl = set->has_expire();
  if (((flags & kNx) && has_ttl) || ((flags & kXx) && !has_ttl) ||
      ((flags & kGt) && (!has_ttl || when <= current)) ||
      ((flags & kLt) && has_ttl && when >= current)) {
    ctx.w.Integer(0);
    return;
  }
  if (when <= ctx.store.now_ms()) {
    ctx.db().Delete(ctx.args[1]);
    Notify(ctx, config::kNotifyGeneric, "del", ctx.args[1]);
    ctx.w.Integer(1);
  } else {
    ctx.db().SetExpire(ctx.args[1], when);
    ctx.dispatcher.watch_registry()->TtlChanged(ctx.client.db, ctx.args[1]);
    ctx.w.Integer(1);  // as Redis: the reply, then the event
    Notify(ctx, config::kNotifyGeneric, "expire", ctx.args[1]);
  }
}
void Expire(Context& ctx) { ExpireGeneric(ctx, true, true); }
void PExpire(Context& ctx) { ExpireGeneric(ctx, false, true); }
void ExpireAt(Context& ctx) { ExpireGeneric(ctx, true, false); }
void PExpireAt(Context& ctx) { ExpireGeneric(ctx, false, false); }

// TTL-family replies: -2 missing key, -1 no TTL.
void TtlGeneric(Context& ctx, bool seconds, bool absolute) {
  const SiblingSet* set = LookupRead(ctx, ctx.args[1]);
  if (set == nullptr) {
    ctx.w.Integer(-2);
    return;
  }
  if (!set->has_expire()) {
    ctx.w.Integer(-1);
    return;
  }
  int64_t ms = set->expire_at_ms();
  if (!absolute) {
    ms -= ctx.store.now_ms();
    if (ms < 0) ms = 0;
  }
  // Rounded in unsigned arithmetic: a time near 2^63 ms must not wrap.
  ctx.w.Integer(seconds ? static_cast<int64_t>((static_cast<uint64_t>(ms) + 500) / 1000) : ms);
}
void Ttl(Context& ctx) { TtlGeneric(ctx, true, false); }
void PTtl(Context& ctx) { TtlGeneric(ctx, false, false); }
void ExpireTime(Context& ctx) { TtlGeneric(ctx, true, true); }
void PExpireTime(Context& ctx) { TtlGeneric(ctx, false, true); }

void Persist(Context& ctx) {
  const bool removed = ctx.db().Persist(ctx.args[1]);
  if (removed) ctx.dispatcher.watch_registry()->TtlChanged(ctx.client.db, ctx.args[1]);
  if (removed) Notify(ctx, config::kNotifyGeneric, "persist", ctx.args[1]);
  ctx.w.Integer(removed ? 1 : 0);
}

void Touch(Context& ctx) { Exists(ctx); }

void DbSize(Context& ctx) { ctx.w.Integer(static_cast<int64_t>(ctx.db().size())); }

bool ParseFlushMode(Context& ctx) {
  if (ctx.args.size() > 2) {
    ctx.w.Error(err::kSyntax);
    return false;
  }
  if (ctx.args.size() == 2 && !EqualsIgnoreCase(ctx.args[1], "sync") &&
      !EqualsIgnoreCase(ctx.args[1], "async")) {
    ctx.w.Error(err::kSyntax);
    return false;
  }
  return true;
}

// ASYNC is accepted and done synchronously: freeing is fast enough here, and
// the version counter is never reset either way.
void FlushDb(Context& ctx) {
  if (!ParseFlushMode(ctx)) return;
  ctx.db().Clear();
  ctx.dispatcher.tracking().Flushed();
  ctx.w.Ok();
}

void FlushAll(Context& ctx) {
  if (!ParseFlushMode(ctx)) return;
  ctx.store.FlushAll();
  ctx.dispatcher.tracking().Flushed();
  ctx.w.Ok();
}

// OBJECT's lookup: no access is counted, so that IDLETIME and FREQ report
// what the clients did. Replies nil for a missing key.
const SiblingSet* ObjectLookup(Context& ctx) {
  const SiblingSet* set = ctx.db().FindWithoutTouch(ctx.args[2]);
  if (set == nullptr) ctx.w.Null();
  return set;
}

// A string's encoding as Redis would store it: an integer of up to 20
// characters in canonical form, a short string (embstr), or raw.
std::string_view StringEncoding(std::string_view value) {
  int64_t n;
  if (value.size() <= 20 && ParseInt64(value, &n) && std::to_string(n) == value) return "int";
  return value.size() <= 44 ? "embstr" : "raw";
}

void ObjectEncoding(Context& ctx) {
  const SiblingSet* set = ObjectLookup(ctx);
  if (set == nullptr) return;
  const store::Sibling newest = set->newest();
  ctx.w.Bulk(newest.typed() ? store::TypedValueEncoding(newest.type, newest.object())
                            : StringEncoding(newest.value));
}

constexpr const char* kSwitchingNote =
    " Please note that when switching between policies at runtime LRU and LFU data will take "
    "some time to adjust.";

void ObjectFreq(Context& ctx) {
  const SiblingSet* set = ObjectLookup(ctx);
  if (set == nullptr) return;
  const store::EvictionSettings& eviction = ctx.store.eviction();
  if (!store::IsLfu(eviction.policy)) {
    ctx.w.Error(std::string("An LFU maxmemory policy is not selected, access frequency not "
                            "tracked.") + kSwitchingNote);
    return;
  }
  ctx.w.Integer(store::lfu::Decayed(set->access(), ctx.store.now_ms(), eviction.lfu_decay_time));
}

void ObjectIdleTime(Context& ctx) {
  const SiblingSet* set = ObjectLookup(ctx);
  if (set == nullptr) return;
  if (store::IsLfu(ctx.store.eviction().policy)) {
    ctx.w.Error(std::string("An LFU maxmemory policy is selected, idle time not tracked.") +
                kSwitchingNote);
    return;
  }
  const int64_t now_s = ctx.store.now_ms() / 1000;
  const auto clock = static_cast<uint32_t>(now_s);
  ctx.w.Integer(clock >= set->access() ? clock - set->access() : 0);
}

void ObjectRefCount(Context& ctx) {
  const SiblingSet* set = ObjectLookup(ctx);
  if (set == nullptr) return;
  // Redis shares the integers 0..9999 (a huge reference count) unless an
  // LRU/LFU limit needs per-key access data.
  const store::Sibling newest = set->newest();
  int64_t n = -1;
  const store::EvictionPolicy policy = ctx.store.eviction().policy;
  const bool per_key_access = ctx.server.config.maxmemory != 0 &&
                              policy != store::EvictionPolicy::kNoEviction &&
                              policy != store::EvictionPolicy::kAllKeysRandom &&
                              policy != store::EvictionPolicy::kVolatileRandom &&
                              policy != store::EvictionPolicy::kVolatileTtl;
  const bool shared = !newest.typed() && StringEncoding(newest.value) == "int" &&
                      ParseInt64(newest.value, &n) && n >= 0 && n < 10000 && !per_key_access;
  ctx.w.Integer(shared ? INT32_MAX : 1);
}

void ObjectHelp(Context& ctx) {
  static const char* const kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  WriteHelp(ctx, kLines);
}

}  // namespace

void RegisterKeyspaceCommands(std::vector<CommandSpec>* out) {
  const std::string g = "generic";
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, int step,
                 Handler h, const char* since, const char* summary, const char* complexity,
                 const char* args) {
    out->push_back(
        {name, arity, flags, first, last, step, h, g, since, summary, complexity, args, {}});
  };
  const char* expire_args_s = "key:key seconds:integer [NX] [XX] [GT] [LT]";
  add("del", -2, kWrite, 1, -1, 1, Del, "1.0.0", "Deletes one or more keys.",
      "O(N) where N is the number of keys that will be removed.", "key:key...");
  add("unlink", -2, kWrite | kFast, 1, -1, 1, Del, "4.0.0",
      "Asynchronously deletes one or more keys.",
      "O(1) for each key removed regardless of its size.", "key:key...");
  add("exists", -2, kReadOnly | kFast, 1, -1, 1, Exists, "1.0.0",
      "Determines whether one or more keys exist.",
      "O(N) where N is the number of keys to check.", "key:key...");
  add("type", 2, kReadOnly | kFast, 1, 1, 1, Type, "1.0.0",
      "Determines the type of value stored at a key.", "O(1)", "key:key");
  add("rename", 3, kWrite, 1, 2, 1, Rename, "1.0.0", "Renames a key and overwrites the "
      "destination.", "O(1)", "key:key newkey:key");
  add("renamenx", 3, kWrite | kFast, 1, 2, 1, RenameNx, "1.0.0",
      "Renames a key only when the target key name doesn't exist.", "O(1)",
      "key:key newkey:key");
  add("copy", -3, kWrite | kDenyOom, 1, 2, 1, Copy, "6.2.0", "Copies the value of a key to a new key.",
      "O(N) worst case for collections, where N is the number of nested items. O(1) for string "
      "values.",
      "source:key destination:key [DB=destination-db:integer] [REPLACE]");
  add("swapdb", 3, kWrite | kFast, 0, 0, 0, SwapDb, "4.0.0", "Swaps two Redis databases.",
      "O(N) where N is the count of clients watching or blocking on keys from both databases.",
      "index1:integer index2:integer");
  add("move", 3, kWrite | kFast, 1, 1, 1, Move, "1.0.0", "Moves a key to another database.",
      "O(1)", "key:key db:integer");
  add("keys", 2, kReadOnly, 0, 0, 0, Keys, "1.0.0", "Returns all key names that match a "
      "pattern.", "O(N) with N being the number of keys in the database", "pattern:pattern");
  add("scan", -2, kReadOnly, 0, 0, 0, Scan, "2.8.0", "Iterates over the key names in the "
      "database.", "O(1) for every call. O(N) for a complete iteration.",
      "cursor:integer [MATCH=pattern:pattern] [COUNT=count:integer] [TYPE=type:string]");
  add("randomkey", 1, kReadOnly | kRandom, 0, 0, 0, RandomKey, "1.0.0",
      "Returns a random key name from the database.", "O(1)", "");
  add("expire", -3, kWrite | kFast, 1, 1, 1, Expire, "1.0.0",
      "Sets the expiration time of a key in seconds.", "O(1)", expire_args_s);
  add("pexpire", -3, kWrite | kFast, 1, 1, 1, PExpire, "2.6.0",
      "Sets the expiration time of a key in milliseconds.", "O(1)",
      "key:key milliseconds:integer [NX] [XX] [GT] [LT]");
  add("expireat", -3, kWrite | kFast, 1, 1, 1, ExpireAt, "1.2.0",
      "Sets the expiration time of a key to a Unix timestamp.", "O(1)",
      "key:key unix-time-seconds:unix-time [NX] [XX] [GT] [LT]");
  add("pexpireat", -3, kWrite | kFast, 1, 1, 1, PExpireAt, "2.6.0",
      "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)",
      "key:key unix-time-milliseconds:unix-time [NX] [XX] [GT] [LT]");
  add("ttl", 2, kReadOnly | kFast | kRandom, 1, 1, 1, Ttl, "1.0.0",
      "Returns the expiration time in seconds of a key.", "O(1)", "key:key");
  add("pttl", 2, kReadOnly | kFast | kRandom, 1, 1, 1, PTtl, "2.6.0",
      "Returns the expiration time in milliseconds of a key.", "O(1)", "key:key");
  add("expiretime", 2, kReadOnly | kFast, 1, 1, 1, ExpireTime, "7.0.0",
      "Returns the expiration time of a key as a Unix timestamp.", "O(1)", "key:key");
  add("pexpiretime", 2, kReadOnly | kFast, 1, 1, 1, PExpireTime, "7.0.0",
      "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)",
      "key:key");
  add("persist", 2, kWrite | kFast, 1, 1, 1, Persist, "2.2.0",
      "Removes the expiration time of a key.", "O(1)", "key:key");
  add("touch", -2, kReadOnly | kFast, 1, -1, 1, Touch, "3.2.1",
      "Returns the number of existing keys out of those specified after updating the time "
      "they were last accessed.",
      "O(N) where N is the number of keys that will be touched.", "key:key...");
  add("dbsize", 1, kReadOnly | kFast, 0, 0, 0, DbSize, "1.0.0",
      "Returns the number of keys in the database.", "O(1)", "");
  add("flushdb", -1, kWrite, 0, 0, 0, FlushDb, "1.0.0", "Removes all keys from the current "
      "database.", "O(N) where N is the number of keys in the selected database",
      "[ASYNC] [SYNC]");
  add("flushall", -1, kWrite, 0, 0, 0, FlushAll, "1.0.0", "Removes all keys from all "
      "databases.", "O(N) where N is the total number of keys in all databases",
      "[ASYNC] [SYNC]");
  CommandSpec object{"object", -2, 0, 0, 0, 0, nullptr, g, "2.2.3",
                     "A container for object introspection commands.",
                     "Depends on subcommand.", "", {}};
  auto sub = [&](const char* name, Handler h, const char* summary, const char* args,
                 int first_key) {
    object.subcommands.push_back({name, first_key > 0 ? 3 : 2, kReadOnly, first_key, first_key,
                                  first_key > 0 ? 1 : 0, h, g, "2.2.3", summary, "O(1)", args,
                                  {}});
  };
  sub("object|encoding", ObjectEncoding, "Returns the internal encoding of a Redis object.",
      "key:key", 2);
  sub("object|freq", ObjectFreq, "Returns the logarithmic access frequency counter of a Redis "
      "object.", "key:key", 2);
  sub("object|idletime", ObjectIdleTime, "Returns the time since the last access to a Redis "
      "object.", "key:key", 2);
  sub("object|refcount", ObjectRefCount, "Returns the reference count of a value of a key.",
      "key:key", 2);
  sub("object|help", ObjectHelp, "Returns helpful text about the different subcommands.", "", 0);
  out->push_back(std::move(object));
}

}  // namespace causalkv::command
