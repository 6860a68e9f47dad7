// List commands with Redis 7.2 semantics (reply types, error texts, the order
// of checks), and the blocking pops. The value is a store::ListValue; every
// change takes a fresh version of the key (keyspace.h: UpdateTyped). A
// blocking command whose keys are all missing waits in the dispatcher
// (command/blocking.h) and runs again when one is pushed to; when it runs
// with nothing to pop (inside MULTI), it replies as a timeout would.
#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using config::kNotifyList;

using store::ListValue;
using store::OpStatus;

constexpr const char* kOutOfRangePositive = "value is out of range, must be positive";

enum class End { kLeft, kRight };

bool ParseEnd(std::string_view arg, End* end) {
  if (EqualsIgnoreCase(arg, "left")) {
    *end = End::kLeft;
  } else if (EqualsIgnoreCase(arg, "right")) {
    *end = End::kRight;
  } else {
    return false;
  }
  return true;
}

// Redis's index rule: negative counts from the end. False when outside.
bool ResolveIndex(int64_t index, size_t size, size_t* out) {
  const auto n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return false;
  *out = static_cast<size_t>(index);
  return true;
}

std::string Pop(ListValue* l, End end, const store::CollectionLimits& limits) {
  return end == End::kLeft ? l->PopFront(limits) : l->PopBack(limits);
}

void Push(ListValue* l, End end, std::string_view v, const store::CollectionLimits& limits) {
  if (end == End::kLeft) {
    l->PushFront(v, limits);
  } else {
    l->PushBack(v, limits);
  }
}

// LPUSH/RPUSH key element [element ...]; the X forms only onto an existing list.
void PushGeneric(Context& ctx, End end, bool only_existing) {
  size_t length = 0;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  Change change;
  const bool stored = UpdateTypedValue<ListValue>(
      ctx, ctx.args[1], !only_existing,
      [&](ListValue* l) {
        const auto values = ctx.args.subspan(2);
        if (end == End::kLeft) {
          l->PushFrontAll(values, limits);
        } else {
          l->PushBackAll(values, limits);
        }
        length = l->size();
        return true;
      },
      &change);
  if (!stored) return;
  NotifyChange(ctx, change, kNotifyList, end == End::kLeft ? "lpush" : "rpush", ctx.args[1]);
  ctx.w.Integer(static_cast<int64_t>(length));
}
void LPush(Context& ctx) { PushGeneric(ctx, End::kLeft, false); }
void RPush(Context& ctx) { PushGeneric(ctx, End::kRight, false); }
void LPushX(Context& ctx) { PushGeneric(ctx, End::kLeft, true); }
void RPushX(Context& ctx) { PushGeneric(ctx, End::kRight, true); }

// Pops up to `count` elements from one end of the list at `key`
// (REQUIRES: a list there); the key goes when it empties.
// Notifies the pop (lpop/rpop, then del when the list emptied).
bool PopElements(Context& ctx, std::string_view key, End end, size_t count,
                 std::vector<std::string>* out) {
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  Change change;
  if (!UpdateTypedValue<ListValue>(
          ctx, key, false,
          [&](ListValue* l) {
            for (size_t i = 0; i < count && l->size() > 0; ++i) {
              out->push_back(Pop(l, end, limits));
            }
            return !out->empty();
          },
          &change)) {
    return false;
  }
  NotifyChange(ctx, change, kNotifyList, end == End::kLeft ? "lpop" : "rpop", key);
  return true;
}

void WriteArray(Context& ctx, const std::vector<std::string>& values) {
  ctx.w.ArrayHeader(static_cast<int64_t>(values.size()));
  for (const std::string& v : values) ctx.w.Bulk(v);
}

// LPOP/RPOP key [count]
void PopGeneric(Context& ctx, End end) {
  if (ctx.args.size() > 3) {
    ctx.w.Error("wrong number of arguments for '" + ctx.client.last_command + "' command");
    return;
  }
  const bool with_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (with_count && (!ParseInt64(ctx.args[2], &count) || count < 0)) {
    ctx.w.Error(kOutOfRangePositive);  // Redis's text for any bad count
    return;
  }
  const ListValue* l;
  if (!LookupTypedForWrite(ctx, ctx.args[1], &l)) return;
  if (l == nullptr) {
    if (with_count) {
      ctx.w.NullArray();
    } else {
      ctx.w.Null();
    }
    return;
  }
  if (with_count && count == 0) {
    ctx.w.ArrayHeader(0);
    return;
  }
  std::vector<std::string> popped;
  if (!PopElements(ctx, ctx.args[1], end, static_cast<size_t>(count), &popped)) return;
  if (with_count) {
    WriteArray(ctx, popped);
  } else {
    ctx.w.Bulk(popped.front());
  }
}
void LPop(Context& ctx) { PopGeneric(ctx, End::kLeft); }
void RPop(Context& ctx) { PopGeneric(ctx, End::kRight); }

void LLen(Context& ctx) {
  const ListValue* l;
  if (!LookupTyped(ctx, ctx.args[1], &l)) return;
  ctx.w.Integer(l == nullptr ? 0 : static_cast<int64_t>(l->size()));
}

void LIndex(Context& ctx) {
  // As Redis: the key (missing, or of another type) before the index.
  const ListValue* l;
  if (!LookupTyped(ctx, ctx.args[1], &l)) return;
  if (l == nullptr) {
    ctx.w.Null();
    return;
  }
  int64_t index;
  if (!ParseInt64(ctx.args[2], &index)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  size_t at;
  if (!ResolveIndex(index, l->size(), &at)) {
    ctx.w.Null();
    return;
  }
  ctx.w.Bulk(l->At(at));
}

void LSet(Context& ctx) {
  const ListValue* existing;
  if (!LookupTypedForWrite(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr) {
    ctx.w.Error(err::kNoSuchKey);
    return;
  }
  int64_t index;
  if (!ParseInt64(ctx.args[2], &index)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  size_t at;
  if (!ResolveIndex(index, existing->size(), &at)) {
    ctx.w.Error("index out of range");
    return;
  }
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  if (UpdateTypedValue<ListValue>(ctx, ctx.args[1], false, [&](ListValue* l) {
        l->Set(at, ctx.args[3], limits);
        return true;
      })) {
    Notify(ctx, kNotifyList, "lset", ctx.args[1]);
    ctx.w.Ok();
  }
}

// Redis's range rule for LRANGE and LTRIM: false for an empty range.
bool ResolveRange(int64_t start, int64_t end, size_t size, size_t* first, size_t* last) {
  const auto n = static_cast<int64_t>(size);
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0) start = 0;
  if (start > end || start >= n) return false;
  if (end >= n) end = n - 1;
  *first = static_cast<size_t>(start);
  *last = static_cast<size_t>(end);
  return true;
}

bool ParseTwoInts(Context& ctx, int64_t* a, int64_t* b) {
  if (!ParseInt64(ctx.args[2], a) || !ParseInt64(ctx.args[3], b)) {
    ctx.w.Error(err::kNotInteger);
    return false;
  }
  return true;
}

void LRange(Context& ctx) {
  int64_t start, end;
  if (!ParseTwoInts(ctx, &start, &end)) return;
  const ListValue* l;
  if (!LookupTyped(ctx, ctx.args[1], &l)) return;
  size_t first, last;
  if (l == nullptr || !ResolveRange(start, end, l->size(), &first, &last)) {
    ctx.w.ArrayHeader(0);
    return;
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(last - first + 1));
  l->ForRange(first, last, false, [&](std::string_view v, size_t) {
    ctx.w.Bulk(v);
    return true;
  });
}

void LTrim(Context& ctx) {
  int64_t start, end;
  if (!ParseTwoInts(ctx, &start, &end)) return;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  Change change;
  if (UpdateTypedValue<ListValue>(
          ctx, ctx.args[1], false,
          [&](ListValue* l) {
            size_t first, last;
            const size_t size = l->size();
            if (!ResolveRange(start, end, size, &first, &last)) {
              l->Erase(0, size, limits);
              return true;
            }
            if (last + 1 < size) l->Erase(last + 1, size - last - 1, limits);
            if (first > 0) l->Erase(0, first, limits);
            return true;  // as Redis: a write even when it trims nothing (WATCH sees it)
          },
          &change)) {
    NotifyChange(ctx, change, kNotifyList, "ltrim", ctx.args[1]);
    ctx.w.Ok();
  }
}

// The indexes of the elements equal to `element`, from the head (or from
// the tail when `from_tail`), at most `limit` of them (0: all).
std::vector<size_t> Matches(const ListValue& l, std::string_view element, bool from_tail,
                            size_t limit, size_t maxlen = 0) {
  std::vector<size_t> out;
  if (l.size() == 0) return out;
  size_t seen = 0;
  l.ForRange(0, l.size() - 1, from_tail, [&](std::string_view v, size_t index) {
    if (maxlen != 0 && seen++ >= maxlen) return false;
    if (v == element) out.push_back(index);
    return limit == 0 || out.size() < limit;
  });
  return out;
}

void LRem(Context& ctx) {
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  int64_t removed = 0;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  Change change;
  if (UpdateTypedValue<ListValue>(
          ctx, ctx.args[1], false,
          [&](ListValue* l) {
            const size_t limit =
                count == INT64_MIN ? 0 : static_cast<size_t>(count < 0 ? -count : count);
            std::vector<size_t> at = Matches(*l, ctx.args[3], count < 0, limit);
            // Highest index first, so the others stay where they are.
            std::sort(at.rbegin(), at.rend());
            for (size_t i : at) l->Erase(i, 1, limits);
            removed = static_cast<int64_t>(at.size());
            return removed > 0;
          },
          &change)) {
    NotifyChange(ctx, change, kNotifyList, "lrem", ctx.args[1]);
    ctx.w.Integer(removed);
  }
}

// LINSERT key BEFORE|AFTER pivot element
void LInsert(Context& ctx) {
  bool after;
  if (EqualsIgnoreCase(ctx.args[2], "after")) {
    after = true;
  } else if (EqualsIgnoreCase(ctx.args[2], "before")) {
    after = false;
  } else {
    ctx.w.Error(err::kSyntax);
    return;
  }
  int64_t length = 0;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  if (UpdateTypedValue<ListValue>(ctx, ctx.args[1], false, [&](ListValue* l) {
        const std::vector<size_t> at = Matches(*l, ctx.args[3], false, 1);
        if (at.empty()) {
          length = -1;
          return false;
        }
        if (after) {
          l->InsertAfter(at.front(), ctx.args[4], limits);
        } else {
          l->Insert(at.front(), ctx.args[4], limits);
        }
        length = static_cast<int64_t>(l->size());
        return true;
      })) {
    if (length > 0) Notify(ctx, kNotifyList, "linsert", ctx.args[1]);
    ctx.w.Integer(length);
  }
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
void LPos(Context& ctx) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t j = 3; j < ctx.args.size(); j += 2) {
    const std::string_view opt = ctx.args[j];
    const bool known = EqualsIgnoreCase(opt, "rank") || EqualsIgnoreCase(opt, "count") ||
                       EqualsIgnoreCase(opt, "maxlen");
    if (!known || j + 1 >= ctx.args.size()) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    int64_t v;
    const bool parsed = ParseInt64(ctx.args[j + 1], &v);
    if (EqualsIgnoreCase(opt, "rank")) {
      if (!parsed) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (v == INT64_MIN) {
        ctx.w.Error("value is out of range, value must between -9223372036854775807 and "
                    "9223372036854775807");
        return;
      }
      if (v == 0) {
        ctx.w.Error("RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list");
        return;
      }
      rank = v;
    } else if (EqualsIgnoreCase(opt, "count")) {
      if (!parsed || v < 0) {
        ctx.w.Error("COUNT can't be negative");
        return;
      }
      count = v;
    } else {
      if (!parsed || v < 0) {
        ctx.w.Error("MAXLEN can't be negative");
        return;
      }
      maxlen = v;
    }
  }
  const ListValue* l;
  if (!LookupTyped(ctx, ctx.args[1], &l)) return;
  if (l == nullptr) {
    if (count >= 0) {
      ctx.w.ArrayHeader(0);
    } else {
      ctx.w.Null();
    }
    return;
  }
  // Skip rank-1 matches, then take `count` (0: all; none given: one).
  const size_t skip = static_cast<size_t>((rank < 0 ? -rank : rank) - 1);
  const size_t want = count < 0 ? 1 : static_cast<size_t>(count);
  const size_t limit = want == 0 ? 0 : skip + want;
  std::vector<size_t> at = Matches(*l, ctx.args[2], rank < 0, limit, static_cast<size_t>(maxlen));
  at.erase(at.begin(), at.begin() + static_cast<std::ptrdiff_t>(std::min(skip, at.size())));
  if (count < 0) {
    if (at.empty()) {
      ctx.w.Null();
    } else {
      ctx.w.Integer(static_cast<int64_t>(at.front()));
    }
    return;
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(at.size()));
  for (size_t i : at) ctx.w.Integer(static_cast<int64_t>(i));
}

// Moves one element from the `from` end of `src` to the `to` end of `dst`
// (LMOVE, RPOPLPUSH and their blocking forms once they run). False with
// the reply written when there was nothing to move or it failed.
bool MoveElement(Context& ctx, std::string_view src, std::string_view dst, End from, End to,
                 std::string* moved) {
  const ListValue* source;
  if (!LookupTypedForWrite(ctx, src, &source)) return false;
  if (source == nullptr) return false;
  const ListValue* destination;
  if (!LookupTypedForWrite(ctx, dst, &destination)) return false;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  // Redis's events: the push on `dst` first, then the pop on `src` (and its
  // del when it emptied).
  const char* push_event = to == End::kLeft ? "lpush" : "rpush";
  const char* pop_event = from == End::kLeft ? "lpop" : "rpop";
  if (src == dst) {
    // A rotation, in one change: the list never empties, so it keeps its TTL.
    if (!UpdateTypedValue<ListValue>(ctx, src, false, [&](ListValue* l) {
          *moved = Pop(l, from, limits);
          Push(l, to, *moved, limits);
          return true;
        })) {
      return false;
    }
    Notify(ctx, kNotifyList, push_event, dst);
    Notify(ctx, kNotifyList, pop_event, src);
    return true;
  }
  Change popped_change;
  if (!UpdateTypedValue<ListValue>(
          ctx, src, false,
          [&](ListValue* l) {
            *moved = Pop(l, from, limits);
            return true;
          },
          &popped_change)) {
    return false;
  }
  if (!UpdateTypedValue<ListValue>(ctx, dst, true, [&](ListValue* l) {
        Push(l, to, *moved, limits);
        return true;
      })) {
    return false;
  }
  Notify(ctx, kNotifyList, push_event, dst);
  NotifyChange(ctx, popped_change, kNotifyList, pop_event, src);
  return true;
}

void LMoveGeneric(Context& ctx, End from, End to) {
  std::string moved;
  const size_t reply_mark = ctx.w.buffer()->size();
  if (MoveElement(ctx, ctx.args[1], ctx.args[2], from, to, &moved)) {
    ctx.w.Bulk(moved);
    return;
  }
  if (ctx.w.buffer()->size() != reply_mark) return;  // an error was written
  // Nothing to move (a blocking form gets here only where it cannot block,
  // inside MULTI, and replies the same, as Redis does there).
  ctx.w.Null();
}

void LMove(Context& ctx) {
  End from, to;
  if (!ParseEnd(ctx.args[3], &from) || !ParseEnd(ctx.args[4], &to)) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  LMoveGeneric(ctx, from, to);
}
void RPopLPush(Context& ctx) { LMoveGeneric(ctx, End::kRight, End::kLeft); }

bool CheckTimeout(Context& ctx, std::string_view arg) {
  int64_t ms;
  const char* error;
  if (ParseBlockingTimeout(arg, ctx.store.now_ms(), &ms, &error)) return true;
  ctx.w.Error(error);
  return false;
}

void BLMove(Context& ctx) {
  End from, to;
  if (!ParseEnd(ctx.args[3], &from) || !ParseEnd(ctx.args[4], &to)) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (!CheckTimeout(ctx, ctx.args[5])) return;
  LMoveGeneric(ctx, from, to);
}
void BRPopLPush(Context& ctx) {
  if (!CheckTimeout(ctx, ctx.args[3])) return;
  LMoveGeneric(ctx, End::kRight, End::kLeft);
}

// BLPOP/BRPOP key [key ...] timeout: the first key holding a list.
void BPopGeneric(Context& ctx, End end) {
  if (!CheckTimeout(ctx, ctx.args.back())) return;
  for (size_t i = 1; i + 1 < ctx.args.size(); ++i) {
    const ListValue* l;
    if (!LookupTypedForWrite(ctx, ctx.args[i], &l)) return;
    if (l == nullptr) continue;
    std::vector<std::string> popped;
    if (!PopElements(ctx, ctx.args[i], end, 1, &popped)) return;
    ctx.w.ArrayHeader(2);
    ctx.w.Bulk(ctx.args[i]);
    ctx.w.Bulk(popped.front());
    return;
  }
  ctx.w.NullArray();
}
void BLPop(Context& ctx) { BPopGeneric(ctx, End::kLeft); }
void BRPop(Context& ctx) { BPopGeneric(ctx, End::kRight); }

// [LMPOP|BLMPOP timeout] numkeys key [key ...] LEFT|RIGHT [COUNT count],
// from args[first] (the numkeys).
void MPopGeneric(Context& ctx, size_t first) {
  int64_t numkeys;
  if (!ParseInt64(ctx.args[first], &numkeys) || numkeys <= 0) {
    ctx.w.Error("numkeys should be greater than 0");
    return;
  }
  // No room for LEFT|RIGHT after the keys: a syntax error, as Redis says.
  if (numkeys >= static_cast<int64_t>(ctx.args.size() - first - 1)) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  size_t j = first + 1 + static_cast<size_t>(numkeys);
  End end;
  if (j >= ctx.args.size() || !ParseEnd(ctx.args[j], &end)) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  int64_t count = 1;
  bool count_given = false;
  for (++j; j < ctx.args.size(); ++j) {
    if (!count_given && EqualsIgnoreCase(ctx.args[j], "count") && j + 1 < ctx.args.size()) {
      if (!ParseInt64(ctx.args[j + 1], &count) || count <= 0) {
        ctx.w.Error("count should be greater than 0");
        return;
      }
      count_given = true;
      ++j;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  // As Redis: BLMPOP's timeout is read after the other arguments.
  if (first == 2 && !CheckTimeout(ctx, ctx.args[1])) return;
  for (size_t i = first + 1; i < first + 1 + static_cast<size_t>(numkeys); ++i) {
    const ListValue* l;
    if (!LookupTypedForWrite(ctx, ctx.args[i], &l)) return;
    if (l == nullptr) continue;
    std::vector<std::string> popped;
    if (!PopElements(ctx, ctx.args[i], end, static_cast<size_t>(count), &popped)) return;
    ctx.w.ArrayHeader(2);
    ctx.w.Bulk(ctx.args[i]);
    WriteArray(ctx, popped);
    return;
  }
  ctx.w.NullArray();
}
void LMPop(Context& ctx) { MPopGeneric(ctx, 1); }
void BLMPop(Context& ctx) { MPopGeneric(ctx, 2); }

// --- What the blocking forms wait for (CommandSpec::blocking_args) ---

bool KeysThenTimeout(std::span<const std::string_view> args, std::vector<std::string_view>* keys,
                     std::string_view* timeout) {
  if (args.size() < 3) return false;
  keys->assign(args.begin() + 1, args.end() - 1);
  *timeout = args.back();
  return true;
}

// BLMOVE src dst from to timeout / BRPOPLPUSH src dst timeout: false for a
// malformed LEFT|RIGHT, which then runs and replies its error at once.
bool SourceKey(std::span<const std::string_view> args, std::vector<std::string_view>* keys,
               std::string_view* timeout) {
  if (args.size() < 4) return false;
  End end;
  if (args.size() == 6 && (!ParseEnd(args[3], &end) || !ParseEnd(args[4], &end))) return false;
  keys->assign(1, args[1]);
  *timeout = args.back();
  return true;
}

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: false
// for anything malformed, which then runs and replies its error at once.
bool NumKeysAfterTimeout(std::span<const std::string_view> args,
                         std::vector<std::string_view>* keys, std::string_view* timeout) {
  int64_t numkeys;
  if (args.size() < 4 || !ParseInt64(args[2], &numkeys) || numkeys <= 0 ||
      numkeys > static_cast<int64_t>(args.size()) - 4) {
    return false;
  }
  const size_t where = 3 + static_cast<size_t>(numkeys);
  End end;
  if (!ParseEnd(args[where], &end)) return false;
  if (args.size() > where + 1) {
    int64_t count;
    if (args.size() != where + 3 || !EqualsIgnoreCase(args[where + 1], "count") ||
        !ParseInt64(args[where + 2], &count) || count <= 0) {
      return false;
    }
  }
  keys->assign(args.begin() + 3, args.begin() + 3 + numkeys);
  *timeout = args[1];
  return true;
}

}  // namespace

void RegisterListCommands(std::vector<CommandSpec>* out) {
  const std::string g = "list";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, Handler h,
                 const char* since, const char* summary, const char* complexity,
                 const char* args) -> CommandSpec& {
    out->push_back({name, arity, flags, first, last, first > 0 ? 1 : 0, h, g, since, summary,
                    complexity, args, {}});
    return out->back();
  };
  add("lpush", -3, kWr | kFast, 1, 1, LPush, "1.0.0", "Prepends one or more elements to a list. "
      "Creates the key if it doesn't exist.",
      "O(1) for each element added, so O(N) to add N elements when the command is called with "
      "multiple arguments.",
      "key:key element:string...");
  add("rpush", -3, kWr | kFast, 1, 1, RPush, "1.0.0", "Appends one or more elements to a list. "
      "Creates the key if it doesn't exist.",
      "O(1) for each element added, so O(N) to add N elements when the command is called with "
      "multiple arguments.",
      "key:key element:string...");
  add("lpushx", -3, kWr | kFast, 1, 1, LPushX, "2.2.0",
      "Prepends one or more elements to a list only when the list exists.",
      "O(1) for each element added, so O(N) to add N elements when the command is called with "
      "multiple arguments.",
      "key:key element:string...");
  add("rpushx", -3, kWr | kFast, 1, 1, RPushX, "2.2.0",
      "Appends an element to a list only when the list exists.",
      "O(1) for each element added, so O(N) to add N elements when the command is called with "
      "multiple arguments.",
      "key:key element:string...");
  add("lpop", -2, kWrite | kFast, 1, 1, LPop, "1.0.0",
      "Returns the first elements in a list after removing it. Deletes the list if the last "
      "element was popped.",
      "O(N) where N is the number of elements returned", "key:key [count:integer]");
  add("rpop", -2, kWrite | kFast, 1, 1, RPop, "1.0.0",
      "Returns and removes the last elements of a list. Deletes the list if the last element "
      "was popped.",
      "O(N) where N is the number of elements returned", "key:key [count:integer]");
  add("llen", 2, kReadOnly | kFast, 1, 1, LLen, "1.0.0", "Returns the length of a list.",
      "O(1)", "key:key");
  add("lindex", 3, kReadOnly, 1, 1, LIndex, "1.0.0", "Returns an element from a list by its "
      "index.",
      "O(N) where N is the number of elements to traverse to get to the element at index.",
      "key:key index:integer");
  add("lset", 4, kWr, 1, 1, LSet, "1.0.0", "Sets the value of an element in a list by its index.",
      "O(N) where N is the length of the list.", "key:key index:integer element:string");
  add("lrange", 4, kReadOnly, 1, 1, LRange, "1.0.0", "Returns a range of elements from a list.",
      "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest "
      "end (HEAD or TAIL) for large lists; and N is the number of elements in the specified "
      "range.",
      "key:key start:integer stop:integer");
  add("ltrim", 4, kWrite, 1, 1, LTrim, "1.0.0",
      "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
      "O(N) where N is the number of elements to be removed by the operation.",
      "key:key start:integer stop:integer");
  add("lrem", 4, kWrite, 1, 1, LRem, "1.0.0",
      "Removes elements from a list. Deletes the list if the last element was removed.",
      "O(N+M) where N is the length of the list and M is the number of elements removed.",
      "key:key count:integer element:string");
  add("linsert", 5, kWr, 1, 1, LInsert, "2.2.0",
      "Inserts an element before or after another element in a list.",
      "O(N) where N is the number of elements to traverse before seeing the value pivot.",
      "key:key BEFORE|AFTER pivot:string element:string");
  add("lpos", -3, kReadOnly, 1, 1, LPos, "6.0.6",
      "Returns the index of matching elements in a list.",
      "O(N) where N is the number of elements in the list, for the average case.",
      "key:key element:string [RANK=rank:integer] [COUNT=num-matches:integer] "
      "[MAXLEN=len:integer]");
  add("lmove", 5, kWr, 1, 2, LMove, "6.2.0",
      "Returns an element after popping it from one list and pushing it to another. Deletes "
      "the list if the last element was moved.",
      "O(1)", "source:key destination:key LEFT|RIGHT LEFT|RIGHT");
  add("rpoplpush", 3, kWr, 1, 2, RPopLPush, "1.2.0",
      "Returns the last element of a list after removing and pushing it to another list. "
      "Deletes the list if the last element was popped.",
      "O(1)", "source:key destination:key");
  add("lmpop", -4, kWrite, 2, -1, LMPop, "7.0.0",
      "Returns multiple elements from a list after removing them. Deletes the list if the "
      "last element was popped.",
      "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
      "numkeys:integer key:key... LEFT|RIGHT [COUNT=count:integer]");
  add("blpop", -3, kWrite, 1, -2, BLPop, "2.0.0",
      "Removes and returns the first element in a list. Blocks until an element is available "
      "otherwise. Deletes the list if the last element was popped.",
      "O(N) where N is the number of provided keys.", "key:key... timeout:double")
      .blocking_args = KeysThenTimeout;
  add("brpop", -3, kWrite, 1, -2, BRPop, "2.0.0",
      "Removes and returns the last element in a list. Blocks until an element is available "
      "otherwise. Deletes the list if the last element was popped.",
      "O(N) where N is the number of provided keys.", "key:key... timeout:double")
      .blocking_args = KeysThenTimeout;
  add("blmove", 6, kWr, 1, 2, BLMove, "6.2.0",
      "Pops an element from a list, pushes it to another list and returns it. Blocks until an "
      "element is available otherwise. Deletes the list if the last element was moved.",
      "O(1)", "source:key destination:key LEFT|RIGHT LEFT|RIGHT timeout:double")
      .blocking_args = SourceKey;
  add("brpoplpush", 4, kWr, 1, 2, BRPopLPush, "2.2.0",
      "Pops an element from a list, pushes it to another list and returns it. Block until an "
      "element is available otherwise. Deletes the list if the last element was popped.",
      "O(1)", "source:key destination:key timeout:double")
      .blocking_args = SourceKey;
  add("blmpop", -5, kWrite, 3, -1, BLMPop, "7.0.0",
      "Pops the first element from one of multiple lists. Blocks until an element is "
      "available otherwise. Deletes the list if the last element was popped.",
      "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
      "timeout:double numkeys:integer key:key... LEFT|RIGHT [COUNT=count:integer]")
      .blocking_args = NumKeysAfterTimeout;
}

}  // namespace causalkv::command
