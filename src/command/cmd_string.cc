// String commands with Redis semantics. On a key with several siblings, a
// read sees the newest sibling, and a write replaces every sibling with one
// new value at a fresh version.
#include <charconv>
#include <cmath>
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using config::kNotifyGeneric;
using config::kNotifyString;
using store::OpStatus;
using store::SiblingSet;
using store::TtlUpdate;

bool Stored(Context& ctx, OpStatus status) {
  if (status == OpStatus::kOk) return true;
  WriteStoreError(ctx.w, status);
  return false;
}

// SET's events: "set", then "expire" when it gave the key a TTL. The check
// stays inline (SET's hot path: one load and a branch with notifications
// off), the publishing does not.
[[gnu::noinline]] void PublishSetEvents(Context& ctx, bool expire) {
  Notify(ctx, kNotifyString, "set", ctx.args[1]);
  if (expire) Notify(ctx, kNotifyGeneric, "expire", ctx.args[1]);
}
inline void NotifySet(Context& ctx, bool expire) {
  if (ctx.server.config.notify_keyspace_events & (kNotifyString | kNotifyGeneric)) {
    PublishSetEvents(ctx, expire);
  }
}

void WriteNewest(Context& ctx, const SiblingSet* set) {
  if (set == nullptr) {
    ctx.w.Null();
  } else {
    ctx.w.Bulk(set->newest().value);
  }
}

void Get(Context& ctx) {
  const SiblingSet* set;
  if (LookupString(ctx, ctx.args[1], &set)) WriteNewest(ctx, set);
}

// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t | KEEPTTL]
void Set(Context& ctx) {
  SetOptions opts;
  if (!ParseSetOptions(ctx, 3, OptionSet::kSet, &opts)) return;
  int64_t at_ms;
  if (!ResolveExpire(ctx, opts, &at_ms)) return;
  if (!opts.get && !opts.nx && !opts.xx) {
    // The common case needs no lookup of its own: Set() finds the key once.
    if (Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[2], TtlFor(opts, at_ms)))) {
      NotifySet(ctx, opts.unit != SetOptions::Unit::kNone);
      ctx.w.Ok();
    }
    return;
  }
  const SiblingSet* existing = nullptr;
  if (!opts.get) {
    existing = ctx.db().FindReadOnly(ctx.args[1]);
  } else if (!LookupString(ctx, ctx.args[1], &existing)) {
    return;
  }
  if ((opts.nx && existing != nullptr) || (opts.xx && existing == nullptr)) {
    if (opts.get) {
      WriteNewest(ctx, existing);
    } else {
      ctx.w.Null();
    }
    return;
  }
  if (!opts.get) {
    if (Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[2], TtlFor(opts, at_ms)))) {
      NotifySet(ctx, opts.unit != SetOptions::Unit::kNone);
      ctx.w.Ok();
    }
    return;
  }
  // The write replaces the block the old value lives in: keep a copy for the reply.
  const bool had_value = existing != nullptr;
  const std::string old = had_value ? std::string(existing->newest().value) : std::string();
  if (!Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[2], TtlFor(opts, at_ms)))) return;
  // As Redis: the old value is the reply, written before the events.
  if (had_value) {
    ctx.w.Bulk(old);
  } else {
    ctx.w.Null();
  }
  NotifySet(ctx, opts.unit != SetOptions::Unit::kNone);
}

void SetNx(Context& ctx) {
  if (ctx.db().FindReadOnly(ctx.args[1]) != nullptr) {
    ctx.w.Integer(0);
    return;
  }
  if (Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[2], TtlUpdate::Clear()))) {
    NotifySet(ctx, false);
    ctx.w.Integer(1);
  }
}

// SETEX key seconds value / PSETEX key milliseconds value
void SetExGeneric(Context& ctx, SetOptions::Unit unit) {
  SetOptions opts;
  opts.unit = unit;
  opts.expire_arg = ctx.args[2];
  int64_t at_ms;
  if (!ResolveExpire(ctx, opts, &at_ms)) return;
  if (Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[3], TtlUpdate::At(at_ms)))) {
    NotifySet(ctx, true);
    ctx.w.Ok();
  }
}
void SetEx(Context& ctx) { SetExGeneric(ctx, SetOptions::Unit::kEx); }
void PSetEx(Context& ctx) { SetExGeneric(ctx, SetOptions::Unit::kPx); }

void GetSet(Context& ctx) {
  const SiblingSet* existing;
  if (!LookupString(ctx, ctx.args[1], &existing)) return;
  const bool had_value = existing != nullptr;
  const std::string old = had_value ? std::string(existing->newest().value) : std::string();
  if (!Stored(ctx, ctx.db().Set(ctx.args[1], ctx.args[2], TtlUpdate::Clear()))) return;
  if (had_value) {
    ctx.w.Bulk(old);
  } else {
    ctx.w.Null();
  }
  NotifySet(ctx, false);
}

void GetDel(Context& ctx) {
  const SiblingSet* existing;
  if (!LookupString(ctx, ctx.args[1], &existing)) return;
  WriteNewest(ctx, existing);
  if (existing != nullptr && ctx.db().Delete(ctx.args[1])) {
    Notify(ctx, kNotifyGeneric, "del", ctx.args[1]);
  }
}

// GETEX key [EX|PX|EXAT|PXAT t | PERSIST]
void GetEx(Context& ctx) {
  SetOptions opts;
  if (!ParseSetOptions(ctx, 2, OptionSet::kGetEx, &opts)) return;
  // As Redis: a missing key replies nil before the time is checked.
  const SiblingSet* existing;
  if (!LookupString(ctx, ctx.args[1], &existing)) return;
  int64_t at_ms;
  if (existing != nullptr && !ResolveExpire(ctx, opts, &at_ms)) return;
  WriteNewest(ctx, existing);
  if (existing == nullptr) return;
  if (opts.persist) {
    if (ctx.db().Persist(ctx.args[1])) {
      ctx.dispatcher.watch_registry()->TtlChanged(ctx.client.db, ctx.args[1]);
      Notify(ctx, kNotifyGeneric, "persist", ctx.args[1]);
    }
  } else if (opts.unit != SetOptions::Unit::kNone) {
    if (at_ms <= ctx.store.now_ms()) {
      ctx.db().Delete(ctx.args[1]);
      Notify(ctx, kNotifyGeneric, "del", ctx.args[1]);
    } else {
      ctx.db().SetExpire(ctx.args[1], at_ms);
      ctx.dispatcher.watch_registry()->TtlChanged(ctx.client.db, ctx.args[1]);
      Notify(ctx, kNotifyGeneric, "expire", ctx.args[1]);
    }
  }
}

void MGet(Context& ctx) {
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 1));
  // As Redis: a key of another type reads as missing.
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const SiblingSet* set = LookupRead(ctx, ctx.args[i]);
    WriteNewest(ctx, set != nullptr && set->holds_string() ? set : nullptr);
  }
}

bool CheckPairs(Context& ctx) {
  if (ctx.args.size() % 2 == 0) {
    ctx.w.Error("wrong number of arguments for '" + ctx.client.last_command + "' command");
    return false;
  }
  return true;
}

void MSet(Context& ctx) {
  if (!CheckPairs(ctx)) return;
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    const OpStatus status = ctx.db().Set(ctx.args[i], ctx.args[i + 1], TtlUpdate::Clear());
    if (!Stored(ctx, status)) return;
    Notify(ctx, kNotifyString, "set", ctx.args[i]);
  }
  ctx.w.Ok();
}

void MSetNx(Context& ctx) {
  if (!CheckPairs(ctx)) return;
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    if (ctx.db().FindReadOnly(ctx.args[i]) != nullptr) {
      ctx.w.Integer(0);
      return;
    }
  }
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    const OpStatus status = ctx.db().Set(ctx.args[i], ctx.args[i + 1], TtlUpdate::Clear());
    if (!Stored(ctx, status)) return;
    Notify(ctx, kNotifyString, "set", ctx.args[i]);
  }
  ctx.w.Integer(1);
}

bool CheckLength(Context& ctx, uint64_t total) {
  if (total > ctx.server.config.proto_max_bulk_len) {
    ctx.w.Error(err::kTooBig);
    return false;
  }
  return true;
}

void Append(Context& ctx) {
  const std::string_view suffix = ctx.args[2];
  std::string joined;
  size_t length = 0;
  bool computed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        if (existing == nullptr) {
          *value = suffix;
        } else {
          const std::string_view old = existing->newest().value;
          if (!CheckLength(ctx, old.size() + suffix.size())) return false;
          joined.reserve(old.size() + suffix.size());
          joined.append(old).append(suffix);
          *value = joined;
        }
        length = value->size();
        computed = true;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (Stored(ctx, status)) {
    Notify(ctx, kNotifyString, "append", ctx.args[1]);
    ctx.w.Integer(static_cast<int64_t>(length));
  }
}

void StrLen(Context& ctx) {
  const SiblingSet* set;
  if (!LookupString(ctx, ctx.args[1], &set)) return;
  ctx.w.Integer(set == nullptr ? 0 : static_cast<int64_t>(set->newest().value.size()));
}

void GetRange(Context& ctx) {
  int64_t start, end;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  const SiblingSet* set;
  if (!LookupString(ctx, ctx.args[1], &set)) return;
  const std::string_view value = set == nullptr ? std::string_view() : set->newest().value;
  const int64_t len = static_cast<int64_t>(value.size());
  if (start < 0 && end < 0 && start > end) {
    ctx.w.Bulk("");
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) {
    ctx.w.Bulk("");
    return;
  }
  ctx.w.Bulk(value.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void SetRange(Context& ctx) {
  int64_t offset;
  if (!ParseInt64(ctx.args[2], &offset)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (offset < 0) {
    ctx.w.Error(err::kOffsetRange);
    return;
  }
  const std::string_view patch = ctx.args[3];
  std::string patched;
  bool computed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        const std::string_view old =
            existing == nullptr ? std::string_view() : existing->newest().value;
        if (patch.empty()) {
          // Nothing to write: no key is created and no version is taken.
          ctx.w.Integer(static_cast<int64_t>(old.size()));
          return false;
        }
        if (!CheckLength(ctx, static_cast<uint64_t>(offset) + patch.size())) return false;
        patched.assign(old);
        const size_t needed = static_cast<size_t>(offset) + patch.size();
        if (patched.size() < needed) patched.resize(needed, '\0');
        patched.replace(static_cast<size_t>(offset), patch.size(), patch);
        *value = patched;
        computed = true;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (Stored(ctx, status)) {
    Notify(ctx, kNotifyString, "setrange", ctx.args[1]);
    ctx.w.Integer(static_cast<int64_t>(patched.size()));
  }
}

void IncrByGeneric(Context& ctx, int64_t delta) {
  int64_t result = 0;
  char buf[24];
  bool computed = false;
  // Errors are written inside the rewrite, which then stores nothing.
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        int64_t current = 0;
        if (existing != nullptr && !ParseInt64(existing->newest().value, &current)) {
          ctx.w.Error(err::kNotInteger);
          return false;
        }
        if ((delta < 0 && current < 0 && delta < INT64_MIN - current) ||
            (delta > 0 && current > 0 && delta > INT64_MAX - current)) {
          ctx.w.Error(err::kOverflow);
          return false;
        }
        result = current + delta;
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, result);
        (void)ec;  // 24 bytes always hold an int64
        *value = std::string_view(buf, static_cast<size_t>(end - buf));
        computed = true;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (Stored(ctx, status)) {
    // DECR and DECRBY too, as in Redis.
    Notify(ctx, kNotifyString, "incrby", ctx.args[1]);
    ctx.w.Integer(result);
  }
}

bool ParseDelta(Context& ctx, int64_t* delta) {
  if (!ParseInt64(ctx.args[2], delta)) {
    ctx.w.Error(err::kNotInteger);
    return false;
  }
  return true;
}

void Incr(Context& ctx) { IncrByGeneric(ctx, 1); }
void Decr(Context& ctx) { IncrByGeneric(ctx, -1); }
void IncrBy(Context& ctx) {
  int64_t delta;
  if (ParseDelta(ctx, &delta)) IncrByGeneric(ctx, delta);
}
void DecrBy(Context& ctx) {
  int64_t delta;
  if (!ParseDelta(ctx, &delta)) return;
  if (delta == INT64_MIN) {
    ctx.w.Error("decrement would overflow");
    return;
  }
  IncrByGeneric(ctx, -delta);
}

void IncrByFloat(Context& ctx) {
  std::string text;
  bool computed = false;
  // As Redis: the key's type first, then its value, then the increment.
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        long double current = 0;
        long double delta;
        if ((existing != nullptr && !ParseLongDouble(existing->newest().value, &current)) ||
            !ParseLongDouble(ctx.args[2], &delta)) {
          ctx.w.Error(err::kNotFloat);
          return false;
        }
        const long double result = current + delta;
        if (std::isnan(result) || std::isinf(result)) {
          ctx.w.Error(err::kNanOrInf);
          return false;
        }
        text = FormatLongDouble(result);
        *value = text;
        computed = true;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (Stored(ctx, status)) {
    Notify(ctx, kNotifyString, "incrbyfloat", ctx.args[1]);
    ctx.w.Bulk(text);
  }
}

}  // namespace

void RegisterStringCommands(std::vector<CommandSpec>* out) {
  const std::string g = "string";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, int step,
                 Handler h, const char* since, const char* summary, const char* complexity,
                 const char* args) {
    out->push_back(
        {name, arity, flags, first, last, step, h, g, since, summary, complexity, args, {}});
  };
  add("get", 2, kReadOnly | kFast, 1, 1, 1, Get, "1.0.0", "Returns the string value of a key.",
      "O(1)", "key:key");
  add("set", -3, kWr, 1, 1, 1, Set, "1.0.0",
      "Sets the string value of a key, ignoring its type. The key is created if it doesn't "
      "exist.",
      "O(1)",
      "key:key value:string [NX] [XX] [GET] [EX=seconds:integer] [PX=milliseconds:integer] "
      "[EXAT=unix-time-seconds:unix-time] [PXAT=unix-time-milliseconds:unix-time] [KEEPTTL]");
  add("setnx", 3, kWr | kFast, 1, 1, 1, SetNx, "1.0.0",
      "Set the string value of a key only when the key doesn't exist.", "O(1)",
      "key:key value:string");
  add("setex", 4, kWr, 1, 1, 1, SetEx, "2.0.0",
      "Sets the string value and expiration time of a key. Creates the key if it doesn't "
      "exist.",
      "O(1)", "key:key seconds:integer value:string");
  add("psetex", 4, kWr, 1, 1, 1, PSetEx, "2.6.0",
      "Sets both string value and expiration time in milliseconds of a key. The key is "
      "created if it doesn't exist.",
      "O(1)", "key:key milliseconds:integer value:string");
  add("getset", 3, kWr | kFast, 1, 1, 1, GetSet, "1.0.0",
      "Returns the previous string value of a key after setting it to a new value.", "O(1)",
      "key:key value:string");
  add("getdel", 2, kWrite | kFast, 1, 1, 1, GetDel, "6.2.0",
      "Returns the string value of a key after deleting the key.", "O(1)", "key:key");
  add("getex", -2, kWrite | kFast, 1, 1, 1, GetEx, "6.2.0",
      "Returns the string value of a key after setting its expiration time.", "O(1)",
      "key:key [EX=seconds:integer] [PX=milliseconds:integer] "
      "[EXAT=unix-time-seconds:unix-time] [PXAT=unix-time-milliseconds:unix-time] [PERSIST]");
  add("mget", -2, kReadOnly | kFast, 1, -1, 1, MGet, "1.0.0",
      "Atomically returns the string values of one or more keys.",
      "O(N) where N is the number of keys to retrieve.", "key:key...");
  add("mset", -3, kWr, 1, -1, 2, MSet, "1.0.1",
      "Atomically creates or modifies the string values of one or more keys.",
      "O(N) where N is the number of keys to set.", "key:key... value:string...");
  add("msetnx", -3, kWr, 1, -1, 2, MSetNx, "1.0.1",
      "Atomically modifies the string values of one or more keys only when all keys don't "
      "exist.",
      "O(N) where N is the number of keys to set.", "key:key... value:string...");
  add("append", 3, kWr | kFast, 1, 1, 1, Append, "2.0.0",
      "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)",
      "key:key value:string");
  add("strlen", 2, kReadOnly | kFast, 1, 1, 1, StrLen, "2.2.0",
      "Returns the length of a string value.", "O(1)", "key:key");
  add("getrange", 4, kReadOnly, 1, 1, 1, GetRange, "2.4.0",
      "Returns a substring of the string stored at a key.",
      "O(N) where N is the length of the returned string.",
      "key:key start:integer end:integer");
  add("setrange", 4, kWr, 1, 1, 1, SetRange, "2.2.0",
      "Overwrites a part of a string value with another by an offset. Creates the key if it "
      "doesn't exist.",
      "O(1), not counting the time taken to copy the new string in place.",
      "key:key offset:integer value:string");
  add("incr", 2, kWr | kFast, 1, 1, 1, Incr, "1.0.0",
      "Increments the integer value of a key by one. Uses 0 as initial value if the key "
      "doesn't exist.",
      "O(1)", "key:key");
  add("decr", 2, kWr | kFast, 1, 1, 1, Decr, "1.0.0",
      "Decrements the integer value of a key by one. Uses 0 as initial value if the key "
      "doesn't exist.",
      "O(1)", "key:key");
  add("incrby", 3, kWr | kFast, 1, 1, 1, IncrBy, "1.0.0",
      "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
      "doesn't exist.",
      "O(1)", "key:key increment:integer");
  add("decrby", 3, kWr | kFast, 1, 1, 1, DecrBy, "1.0.0",
      "Decrements a number from the integer value of a key. Uses 0 as initial value if the "
      "key doesn't exist.",
      "O(1)", "key:key decrement:integer");
  add("incrbyfloat", 3, kWr | kFast, 1, 1, 1, IncrByFloat, "2.6.0",
      "Increment the floating point value of a key by a number. Uses 0 as initial value if "
      "the key doesn't exist.",
      "O(1)", "key:key increment:double");
}

}  // namespace causalkv::command
