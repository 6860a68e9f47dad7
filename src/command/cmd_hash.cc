// Hash commands with Redis 7 semantics (reply types, error texts, the order
// of checks). The value is a store::HashValue; every change takes a fresh
// version of the key (keyspace.h: UpdateTyped), so WATCH, the log and the
// peers see it as any other write.
#include <charconv>
#include <climits>
#include <cmath>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/util/glob.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::HashValue;
using store::OpStatus;

constexpr const char* kHashNotInteger = "hash value is not an integer";
constexpr const char* kHashNotFloat = "hash value is not a float";

bool LookupHash(Context& ctx, std::string_view key, const HashValue** hash) {
  return LookupTyped(ctx, key, hash);
}

template <typename Fn>
bool UpdateHash(Context& ctx, bool create, Fn&& fn) {
  return UpdateTypedValue<HashValue>(ctx, ctx.args[1], create, fn);
}

bool CheckFieldValuePairs(Context& ctx) {
  if (ctx.args.size() % 2 == 0) return true;
  ctx.w.Error("wrong number of arguments for '" + ctx.client.last_command + "' command");
  return false;
}

// HSET key field value [field value ...] / HMSET (same, replying OK)
int64_t SetPairs(Context& ctx, bool* stored) {
  int64_t added = 0;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  *stored = UpdateHash(ctx, true, [&](HashValue* h) {
    for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
      added += h->Set(ctx.args[i], ctx.args[i + 1], limits) ? 1 : 0;
    }
    return true;
  });
  return added;
}

void HSet(Context& ctx) {
  if (!CheckFieldValuePairs(ctx)) return;
  bool stored;
  const int64_t added = SetPairs(ctx, &stored);
  if (!stored) return;
  Notify(ctx, config::kNotifyHash, "hset", ctx.args[1]);  // even when nothing changed
  ctx.w.Integer(added);
}

void HMSet(Context& ctx) {
  if (!CheckFieldValuePairs(ctx)) return;
  bool stored;
  SetPairs(ctx, &stored);
  if (!stored) return;
  Notify(ctx, config::kNotifyHash, "hset", ctx.args[1]);
  ctx.w.Ok();
}

void HSetNx(Context& ctx) {
  bool added = false;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  const bool stored = UpdateHash(ctx, true, [&](HashValue* h) {
    std::string_view existing;
    if (h->Get(ctx.args[2], &existing)) return false;
    added = h->Set(ctx.args[2], ctx.args[3], limits);
    return true;
  });
  if (!stored) return;
  if (added) Notify(ctx, config::kNotifyHash, "hset", ctx.args[1]);
  ctx.w.Integer(added ? 1 : 0);
}

void HGet(Context& ctx) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  std::string_view value;
  if (h != nullptr && h->Get(ctx.args[2], &value)) {
    ctx.w.Bulk(value);
  } else {
    ctx.w.Null();
  }
}

void HMGet(Context& ctx) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::string_view value;
    if (h != nullptr && h->Get(ctx.args[i], &value)) {
      ctx.w.Bulk(value);
    } else {
      ctx.w.Null();
    }
  }
}

void HDel(Context& ctx) {
  int64_t removed = 0;
  Change change;
  const bool stored = UpdateTypedValue<HashValue>(
      ctx, ctx.args[1], false,
      [&](HashValue* h) {
        for (size_t i = 2; i < ctx.args.size() && h->size() > 0; ++i) {
          removed += h->Erase(ctx.args[i]) ? 1 : 0;
        }
        return removed > 0;
      },
      &change);
  if (!stored) return;
  NotifyChange(ctx, change, config::kNotifyHash, "hdel", ctx.args[1]);
  ctx.w.Integer(removed);
}

void HLen(Context& ctx) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  ctx.w.Integer(h == nullptr ? 0 : static_cast<int64_t>(h->size()));
}

void HStrLen(Context& ctx) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  std::string_view value;
  const bool found = h != nullptr && h->Get(ctx.args[2], &value);
  ctx.w.Integer(found ? static_cast<int64_t>(value.size()) : 0);
}

void HExists(Context& ctx) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  std::string_view value;
  ctx.w.Integer(h != nullptr && h->Get(ctx.args[2], &value) ? 1 : 0);
}

enum class Part { kFields, kValues, kBoth };

void WriteAll(Context& ctx, Part part) {
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  const auto n = static_cast<int64_t>(h == nullptr ? 0 : h->size());
  if (part == Part::kBoth) {
    ctx.w.MapHeader(n);
  } else {
    ctx.w.ArrayHeader(n);
  }
  if (h == nullptr) return;
  h->ForEach([&](std::string_view field, std::string_view value) {
    if (part != Part::kValues) ctx.w.Bulk(field);
    if (part != Part::kFields) ctx.w.Bulk(value);
  });
}
void HGetAll(Context& ctx) { WriteAll(ctx, Part::kBoth); }
void HKeys(Context& ctx) { WriteAll(ctx, Part::kFields); }
void HVals(Context& ctx) { WriteAll(ctx, Part::kValues); }

void HIncrBy(Context& ctx) {
  int64_t delta;
  if (!ParseInt64(ctx.args[3], &delta)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  int64_t result = 0;
  bool computed = false;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  const bool stored = UpdateHash(ctx, true, [&](HashValue* h) {
    int64_t current = 0;
    std::string_view existing;
    if (h->Get(ctx.args[2], &existing) && !ParseInt64(existing, &current)) {
      ctx.w.Error(kHashNotInteger);
      return false;
    }
    if ((delta < 0 && current < 0 && delta < INT64_MIN - current) ||
        (delta > 0 && current > 0 && delta > INT64_MAX - current)) {
      ctx.w.Error(err::kOverflow);
      return false;
    }
    result = current + delta;
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, result);
    (void)ec;  // 24 bytes always hold an int64
    h->Set(ctx.args[2], std::string_view(buf, static_cast<size_t>(end - buf)), limits);
    computed = true;
    return true;
  });
  if (!stored || !computed) return;
  Notify(ctx, config::kNotifyHash, "hincrby", ctx.args[1]);
  ctx.w.Integer(result);
}

void HIncrByFloat(Context& ctx) {
  long double delta;
  if (!ParseLongDouble(ctx.args[3], &delta)) {
    ctx.w.Error(err::kNotFloat);
    return;
  }
  if (std::isnan(delta) || std::isinf(delta)) {
    ctx.w.Error("value is NaN or Infinity");
    return;
  }
  std::string text;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  const bool stored = UpdateHash(ctx, true, [&](HashValue* h) {
    long double current = 0;
    std::string_view existing;
    if (h->Get(ctx.args[2], &existing) && !ParseLongDouble(existing, &current)) {
      ctx.w.Error(kHashNotFloat);
      return false;
    }
    const long double result = current + delta;
    if (std::isnan(result) || std::isinf(result)) {
      ctx.w.Error(err::kNanOrInf);
      return false;
    }
    text = FormatLongDouble(result);
    h->Set(ctx.args[2], text, limits);
    return true;
  });
  if (!stored || text.empty()) return;
  Notify(ctx, config::kNotifyHash, "hincrbyfloat", ctx.args[1]);
  ctx.w.Bulk(text);
}

void WriteRandomEntry(Context& ctx, std::string_view field, std::string_view value,
                      bool with_values) {
  if (with_values && ctx.client.protocol >= 3) ctx.w.ArrayHeader(2);
  ctx.w.Bulk(field);
  if (with_values) ctx.w.Bulk(value);
}

// HRANDFIELD key [count [WITHVALUES]]
void HRandField(Context& ctx) {
  if (ctx.args.size() == 2) {
    const HashValue* h;
    if (!LookupHash(ctx, ctx.args[1], &h)) return;
    if (h == nullptr) {
      ctx.w.Null();
      return;
    }
    ctx.w.Bulk(h->Random(CommandRandom()).first);
    return;
  }
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (count == INT64_MIN) {
    ctx.w.Error("value is out of range, value must between -9223372036854775807 and "
                "9223372036854775807");
    return;
  }
  const bool with_values = ctx.args.size() == 4;
  if (ctx.args.size() > 4 || (with_values && !EqualsIgnoreCase(ctx.args[3], "withvalues"))) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (with_values && (count < -(INT64_MAX / 2) || count > INT64_MAX / 2)) {
    ctx.w.Error("value is out of range");
    return;
  }
  const HashValue* h;
  if (!LookupHash(ctx, ctx.args[1], &h)) return;
  if (h == nullptr || count == 0) {
    ctx.w.ArrayHeader(0);
    return;
  }
  const bool resp2_pairs = with_values && ctx.client.protocol < 3;
  const auto size = static_cast<int64_t>(h->size());
  if (count < 0 || count == 1) {
    // With repetitions (or just one): independent draws, in random order.
    const int64_t n = count < 0 ? -count : 1;
    ctx.w.ArrayHeader(resp2_pairs ? n * 2 : n);
    for (int64_t i = 0; i < n; ++i) {
      const auto [field, value] = h->Random(CommandRandom());
      WriteRandomEntry(ctx, field, value, with_values);
    }
    return;
  }
  if (count >= size) {
    // The whole hash, in its order, as Redis replies.
    ctx.w.ArrayHeader(resp2_pairs ? size * 2 : size);
    h->ForEach([&](std::string_view field, std::string_view value) {
      WriteRandomEntry(ctx, field, value, with_values);
    });
    return;
  }
  // Distinct fields: drawn until there are enough, which takes few draws
  // when count is well below the size; otherwise the fields left out are
  // drawn instead.
  const bool pick_kept = count * 3 <= size;
  const int64_t draws = pick_kept ? count : size - count;
  std::unordered_set<std::string_view> picked;
  while (static_cast<int64_t>(picked.size()) < draws) picked.insert(h->Random(CommandRandom()).first);
  ctx.w.ArrayHeader(resp2_pairs ? count * 2 : count);
  h->ForEach([&](std::string_view field, std::string_view value) {
    if ((picked.count(field) != 0) == pick_kept) WriteRandomEntry(ctx, field, value, with_values);
  });
}

// HSCAN key cursor [MATCH pattern] [COUNT count]
void HScan(Context& ctx) {
  uint64_t cursor;
  const HashValue* h;
  ScanOptions opts;
  if (!BeginCollectionScan(ctx, &h, &cursor, &opts)) return;
  // Views into the hash stay valid: scanning changes nothing.
  std::vector<std::pair<std::string_view, std::string_view>> found;
  auto visit = [&](std::string_view field, std::string_view value) {
    if (opts.has_pattern && !util::GlobMatch(opts.pattern, field)) return;
    found.emplace_back(field, value);
  };
  // COUNT counts fields before MATCH filters them, as in Redis.
  cursor = h->Scan(cursor, static_cast<size_t>(opts.count), visit);
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(std::to_string(cursor));
  ctx.w.ArrayHeader(static_cast<int64_t>(found.size() * 2));
  for (const auto& [field, value] : found) {
    ctx.w.Bulk(field);
    ctx.w.Bulk(value);
  }
}

}  // namespace

void RegisterHashCommands(std::vector<CommandSpec>* out) {
  const std::string g = "hash";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                 const char* summary, const char* complexity, const char* args) {
    out->push_back({name, arity, flags, 1, 1, 1, h, g, since, summary, complexity, args, {}});
  };
  add("hset", -4, kWr | kFast, HSet, "2.0.0",
      "Creates or modifies the value of a field in a hash.",
      "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
      "command is called with multiple field/value pairs.",
      "key:key field:string value:string...");
  add("hmset", -4, kWr | kFast, HMSet, "2.0.0", "Sets the values of multiple fields.",
      "O(N) where N is the number of fields being set.", "key:key field:string value:string...");
  add("hsetnx", 4, kWr | kFast, HSetNx, "2.0.0",
      "Sets the value of a field in a hash only when the field doesn't exist.", "O(1)",
      "key:key field:string value:string");
  add("hget", 3, kReadOnly | kFast, HGet, "2.0.0", "Returns the value of a field in a hash.",
      "O(1)", "key:key field:string");
  add("hmget", -3, kReadOnly | kFast, HMGet, "2.0.0",
      "Returns the values of all fields in a hash.",
      "O(N) where N is the number of fields being requested.", "key:key field:string...");
  add("hdel", -3, kWrite | kFast, HDel, "2.0.0",
      "Deletes one or more fields and their values from a hash. Deletes the hash if no "
      "fields remain.",
      "O(N) where N is the number of fields to be removed.", "key:key field:string...");
  add("hlen", 2, kReadOnly | kFast, HLen, "2.0.0", "Returns the number of fields in a hash.",
      "O(1)", "key:key");
  add("hstrlen", 3, kReadOnly | kFast, HStrLen, "3.2.0",
      "Returns the length of the value of a field.", "O(1)", "key:key field:string");
  add("hexists", 3, kReadOnly | kFast, HExists, "2.0.0",
      "Determines whether a field exists in a hash.", "O(1)", "key:key field:string");
  add("hgetall", 2, kReadOnly, HGetAll, "2.0.0", "Returns all fields and values in a hash.",
      "O(N) where N is the size of the hash.", "key:key");
  add("hkeys", 2, kReadOnly, HKeys, "2.0.0", "Returns all fields in a hash.",
      "O(N) where N is the size of the hash.", "key:key");
  add("hvals", 2, kReadOnly, HVals, "2.0.0", "Returns all values in a hash.",
      "O(N) where N is the size of the hash.", "key:key");
  add("hincrby", 4, kWr | kFast, HIncrBy, "2.0.0",
      "Increments the integer value of a field in a hash by a number. Uses 0 as initial "
      "value if the field doesn't exist.",
      "O(1)", "key:key field:string increment:integer");
  add("hincrbyfloat", 4, kWr | kFast, HIncrByFloat, "2.6.0",
      "Increments the floating point value of a field by a number. Uses 0 as initial value "
      "if the field doesn't exist.",
      "O(1)", "key:key field:string increment:double");
  add("hrandfield", -2, kReadOnly | kRandom, HRandField, "6.2.0",
      "Returns one or more random fields from a hash.",
      "O(N) where N is the number of fields returned", "key:key [count:integer] [WITHVALUES]");
  add("hscan", -3, kReadOnly | kRandom, HScan, "2.8.0",
      "Iterates over fields and values of a hash.",
      "O(1) for every call. O(N) for a complete iteration, including enough command calls "
      "for the cursor to return back to 0. N is the number of elements inside the collection.",
      "key:key cursor:integer [MATCH=pattern:pattern] [COUNT=count:integer]");
}

}  // namespace causalkv::command
