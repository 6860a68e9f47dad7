// Helpers shared by the command families.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>

#include "causalkv/store/keyspace.h"
#include "command_table.h"
#include "errors.h"
#include "notify.h"

namespace causalkv::command {

// Reported to clients as the Redis version we are compatible with (HELLO,
// INFO): client libraries gate features on it.
inline constexpr const char* kRedisCompatVersion = "7.2.4";

// Redis's SET-style expiry options. Parsed options are validated together
// (conflicts are a syntax error) before any number is read, as Redis does.
struct SetOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  bool keepttl = false;
  bool persist = false;  // GETEX only
  enum class Unit { kNone, kEx, kPx, kExAt, kPxAt } unit = Unit::kNone;
  std::string_view expire_arg;
};

enum class OptionSet { kSet, kVPut, kGetEx };

// Parses args[first..] as options of `which`. On failure writes the error
// reply and returns false.
bool ParseSetOptions(Context& ctx, size_t first, OptionSet which, SetOptions* out);

// Turns the parsed expire option into an absolute time. On failure writes
// "invalid expire time in '<cmd>' command" (or the integer error) and returns false.
bool ResolveExpire(Context& ctx, const SetOptions& opts, int64_t* at_ms);

// The TTL effect of SET-style options (after ResolveExpire).
store::TtlUpdate TtlFor(const SetOptions& opts, int64_t at_ms);

// Writes the error reply for a failed store operation.
void WriteStoreError(resp::Writer& w, store::OpStatus status);

// A keyspace notification (notify.h) of `event` on `key` in the client's
// database, or in database `db`; `type` is its config::NotifyClass. One
// branch when the class is off.
void PublishEvent(Context& ctx, uint32_t flags, uint32_t type, std::string_view event,
                  std::string_view key, int db);
inline void Notify(Context& ctx, uint32_t type, std::string_view event, std::string_view key) {
  const uint32_t flags = ctx.server.config.notify_keyspace_events;
  if ((flags & type) == 0) return;
  PublishEvent(ctx, flags, type, event, key, ctx.client.db);
}
inline void NotifyIn(Context& ctx, int db, uint32_t type, std::string_view event,
                     std::string_view key) {
  const uint32_t flags = ctx.server.config.notify_keyspace_events;
  if ((flags & type) == 0) return;
  PublishEvent(ctx, flags, type, event, key, db);
}
// Counts a read that found no key (INFO keyspace_misses) and notifies
// `keymiss` (m), where Redis's read lookups do both. Out of line and cold:
// the hit path of a lookup stays as short as before.
[[gnu::cold]] void CountMiss(Context& ctx, std::string_view key);

// Read lookup that counts keyspace hits and misses.
const store::SiblingSet* LookupRead(Context& ctx, std::string_view key);
// LookupRead for a command that reads strings only: true with *set the key
// (nullptr if missing), or false, with WRONGTYPE written, for another type.
bool LookupString(Context& ctx, std::string_view key, const store::SiblingSet** set);

// The value of type T (store::HashValue ...) of `key` for a read, counting
// a keyspace hit or miss: true with *value (nullptr when the key is
// missing), false with WRONGTYPE written.
template <typename T>
bool LookupTyped(Context& ctx, std::string_view key, const T** value) {
  *value = nullptr;
  switch (ctx.db().FindTyped(key, value)) {
    case store::OpStatus::kOk:
      ++ctx.server.stats.keyspace_hits;
      return true;
    case store::OpStatus::kWrongType:
      ++ctx.server.stats.keyspace_hits;
      ctx.w.Error(err::kWrongType);
      return false;
    default:
      CountMiss(ctx, key);
      return true;
  }
}

// LookupTyped for a write command's own lookup: Redis's write lookups
// count no keyspace hit or miss and notify no keymiss.
template <typename T>
bool LookupTypedForWrite(Context& ctx, std::string_view key, const T** value) {
  *value = nullptr;
  if (ctx.db().FindTyped(key, value) != store::OpStatus::kWrongType) return true;
  ctx.w.Error(err::kWrongType);
  return false;
}

// What a change made by UpdateTypedValue did, for its events: `changed`
// when fn reported a change, `emptied` when that left the value empty, so
// the store deleted the key (Redis then notifies "del" after the event).
struct Change {
  bool changed = false;
  bool emptied = false;
};

// The events of a change: `event` (class `type`) on `key` when it changed,
// then "del" when it emptied.
inline void NotifyChange(Context& ctx, const Change& change, uint32_t type,
                         std::string_view event, std::string_view key) {
  if (change.changed) Notify(ctx, type, event, key);
  if (change.emptied) Notify(ctx, config::kNotifyGeneric, "del", key);
}

// Runs a change of the value of type T of `key` (store::Keyspace::
// UpdateTyped): false, with the error written, when it could not run or
// could not be stored. A missing key without `create` is not an error.
template <typename T, typename Fn>
bool UpdateTypedValue(Context& ctx, std::string_view key, bool create, Fn&& fn) {
  const store::OpStatus status = ctx.db().UpdateTyped<T>(key, create, fn);
  if (status == store::OpStatus::kOk || status == store::OpStatus::kNotFound) return true;
  WriteStoreError(ctx.w, status);
  return false;
}

// The same, recording in *change what it did (for NotifyChange).
template <typename T, typename Fn>
bool UpdateTypedValue(Context& ctx, std::string_view key, bool create, Fn&& fn, Change* change) {
  *change = Change{};
  return UpdateTypedValue<T>(ctx, key, create, [&](T* value) {
    const bool changed = fn(value);
    change->changed = changed;
    change->emptied = changed && value->size() == 0 && !store::KeepsEmptyKey<T>();
    return changed;
  });
}

// The random source of the commands that pick elements (HRANDFIELD, SPOP ...).
std::mt19937_64& CommandRandom();

// SCAN-family arguments, as Redis parses them: the cursor (false, with the
// error written, if malformed), then MATCH/COUNT[/TYPE] pairs from `first`.
bool ParseScanCursor(Context& ctx, std::string_view arg, uint64_t* cursor);
struct ScanOptions {
  std::string_view pattern;
  bool has_pattern = false;  // a pattern other than "*"
  int64_t count = 10;
  std::string_view type;
  bool has_type = false;
};
bool ParseScanOptions(Context& ctx, size_t first, bool allow_type, ScanOptions* opts);

// The start of HSCAN/SSCAN/ZSCAN key cursor [MATCH pattern] [COUNT count],
// in Redis's order: the cursor, the key (an empty page for a missing one),
// then the options. False when the reply is already written.
template <typename T>
bool BeginCollectionScan(Context& ctx, const T** value, uint64_t* cursor, ScanOptions* opts) {
  if (!ParseScanCursor(ctx, ctx.args[2], cursor)) return false;
  if (!LookupTyped(ctx, ctx.args[1], value)) return false;
  if (*value == nullptr) {
    ctx.w.ArrayHeader(2);
    ctx.w.Bulk("0");
    ctx.w.ArrayHeader(0);
    return false;
  }
  return ParseScanOptions(ctx, 3, /*allow_type=*/false, opts);
}

// A container command's HELP reply: one status line each.
void WriteHelp(Context& ctx, std::span<const char* const> lines);

// "invalid expire time in '<name>' command".
void WriteInvalidExpire(Context& ctx);

}  // namespace causalkv::command
