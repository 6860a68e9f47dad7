// Sorted-set commands with Redis 7.2 semantics (reply types, error texts, the
// order of checks), and the blocking BZPOPMIN, BZPOPMAX and BZMPOP. The
// value is a store::ZsetValue; every change takes a fresh version of the key
// (keyspace.h: UpdateTyped), and a change that empties it deletes the key.
// A blocking command whose keys are all missing waits in the dispatcher
// (command/blocking.h); when it runs with nothing to pop (inside MULTI), it
// replies a null array, as a timeout would.
//
// Scores are read as Redis reads them: ZADD, ZINCRBY and WEIGHTS with
// string2d (args.h: ParseDouble); range bounds with a bare strtod, so that
// an empty bound is 0 and an overflowing one is infinite. Replies spell
// scores with Writer::Double (Redis 7.2's shortest form).
//
// Redis keeps a listpack's scores as text, and a zero score as the integer
// 0: -0 stored in a listpack reads back as 0, while a skiplist keeps -0. The
// commands reproduce that by storing 0 for -0 wherever the set is, and stays,
// a listpack.
#include "cmd_zset.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/util/glob.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::CollectionLimits;
using store::LexBound;
using store::LexRange;
using store::OpStatus;
using store::ScoreRange;
using store::SetValue;
using store::ZsetValue;

// (member, score) pairs viewing into a set (or into owned strings).
using ScoredItems = std::vector<std::pair<std::string_view, double>>;

// The limits with which an insert converts a listpack at once: a set that
// Redis would create as a skiplist is built with these.
CollectionLimits SkiplistLimits(const CollectionLimits& limits) {
  CollectionLimits forced = limits;
  forced.zset_max_listpack_entries = 0;
  return forced;
}

// Whether `z` is still a listpack once Set(member) with `limits` ran.
bool StaysListpack(const ZsetValue& z, std::string_view member, const CollectionLimits& limits) {
  if (z.encoding() != ZsetValue::Encoding::kListpack) return false;
  double current;
  if (z.Score(member, &current)) return true;
  return z.size() < limits.zset_max_listpack_entries &&
         member.size() <= limits.zset_max_listpack_value;
}

// The score to store: a listpack keeps no negative zero (see the top).
double StoredScore(const ZsetValue& z, std::string_view member, double score,
                   const CollectionLimits& limits) {
  if (score == 0 && std::signbit(score) && StaysListpack(z, member, limits)) return 0.0;
  return score;
}

// The sorted set of `key` for a write (no keyspace hit or miss counted, as
// Redis's write lookups): true with *z (nullptr when missing), false with
// WRONGTYPE written.
bool FindZsetForWrite(Context& ctx, std::string_view key, const ZsetValue** z) {
  *z = nullptr;
  if (ctx.db().FindTyped(key, z) == OpStatus::kWrongType) {
    ctx.w.Error(err::kWrongType);
    return false;
  }
  return true;
}

void WriteWrongArity(Context& ctx) {
  ctx.w.Error("wrong number of arguments for '" + ctx.client.last_command + "' command");
}

// Members and scores as ZRANGE ... WITHSCORES replies them: a flat array in
// RESP2, [member, score] pairs in RESP3.
void WriteScored(Context& ctx, const ScoredItems& items, bool with_scores) {
  const bool pairs = with_scores && ctx.client.protocol >= 3;
  const auto n = static_cast<int64_t>(items.size());
  ctx.w.ArrayHeader(with_scores && !pairs ? n * 2 : n);
  for (const auto& [member, score] : items) {
    if (pairs) ctx.w.ArrayHeader(2);
    ctx.w.Bulk(member);
    if (with_scores) ctx.w.Double(score);
  }
}

// --- Parsing -----------------------------------------------------------------

// A score bound as Redis's zslParseRange reads it: an optional '(' (the bound
// is excluded), then strtod up to the argument's end (or a NUL in it); no
// check for space, emptiness or overflow; NaN refused.
bool ParseScoreBound(std::string_view arg, double* value, bool* exclusive) {
  const std::string text(arg);
  const char* p = text.c_str();
  *exclusive = *p == '(';
  if (*exclusive) ++p;
  char* end = nullptr;
  *value = std::strtod(p, &end);
  return *end == '\0' && !std::isnan(*value);
}

bool ParseScoreRange(std::string_view min, std::string_view max, ScoreRange* range) {
  return ParseScoreBound(min, &range->min, &range->min_exclusive) &&
         ParseScoreBound(max, &range->max, &range->max_exclusive);
}

// A lex bound: "-" / "+" (a NUL may follow, as Redis reads the C string),
// "[value" or "(value".
bool ParseLexBound(std::string_view arg, LexBound* bound) {
  if (arg.empty()) return false;
  switch (arg[0]) {
    case '+':
    case '-':
      if (arg.size() > 1 && arg[1] != '\0') return false;
      bound->kind = arg[0] == '+' ? LexBound::kPlusInf : LexBound::kMinusInf;
      bound->value = {};
      return true;
    case '(':
    case '[':
      bound->kind = arg[0] == '(' ? LexBound::kExclusive : LexBound::kInclusive;
      bound->value = arg.substr(1);
      return true;
    default:
      return false;
  }
}

bool ParseLexRange(std::string_view min, std::string_view max, LexRange* range) {
  return ParseLexBound(min, &range->min) && ParseLexBound(max, &range->max);
}

// Redis's rank range rule (ZRANGE, ZREMRANGEBYRANK): negative counts from the
// end; false when the range is empty.
bool ResolveRankRange(int64_t start, int64_t end, size_t size, size_t* first, size_t* last) {
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

// --- ZADD, ZINCRBY -----------------------------------------------------------

struct AddTally {
  int64_t added = 0;
  int64_t updated = 0;
  int64_t processed = 0;  // pairs that were not skipped (NX, XX, GT, LT)
  double score = 0;       // the last new score (INCR's reply)
  bool nan = false;       // INCR produced NaN; nothing changed
};

// Redis's zsetAdd for each pair, in order; stops at a NaN.
void AddAll(ZsetValue* z, const ZAddOptions& o, std::span<const ScoredMember> pairs,
            const CollectionLimits& limits, AddTally* t) {
  for (const ScoredMember& pair : pairs) {
    double score = pair.score;
    double current;
    if (z->Score(pair.member, &current)) {
      if (o.nx) continue;
      if (o.incr) {
        score += current;
        if (std::isnan(score)) {
          t->nan = true;
          return;
        }
      }
      if ((o.lt && score >= current) || (o.gt && score <= current)) continue;
      if (score != current) {
        z->Set(pair.member, StoredScore(*z, pair.member, score, limits), limits);
        ++t->updated;
      }
    } else if (o.xx) {
      continue;
    } else {
      z->Set(pair.member, StoredScore(*z, pair.member, score, limits), limits);
      ++t->added;
    }
    ++t->processed;
    t->score = score;
  }
}

}  // namespace

void ZAddPairs(Context& ctx, std::string_view key, const ZAddOptions& opts,
               std::span<const ScoredMember> pairs) {
  const ZsetValue* existing;
  if (!FindZsetForWrite(ctx, key, &existing)) return;
  const CollectionLimits& limits = ctx.db().collection_limits();
  const CollectionLimits skiplist_limits = SkiplistLimits(limits);
  AddTally t;
  if (existing == nullptr) {
    if (!opts.xx) {
      // Redis 7.2 creates the set in the encoding the number of pairs and
      // the first member's length call for.
      const bool skiplist = pairs.size() > limits.zset_max_listpack_entries ||
                            pairs.front().member.size() > limits.zset_max_listpack_value;
      ZsetValue* z = ZsetValue::Create();
      AddAll(z, opts, pairs, skiplist ? skiplist_limits : limits, &t);
      const OpStatus status =
          ctx.db().StoreTyped(key, store::ValueType::kZset, z, store::TtlUpdate::Clear());
      if (status != OpStatus::kOk) {
        WriteStoreError(ctx.w, status);
        return;
      }
    }
  } else if (existing->encoding() == ZsetValue::Encoding::kListpack &&
             pairs.size() > limits.zset_max_listpack_entries) {
    // More pairs than a listpack holds: Redis 7.2 converts the set before
    // adding, whether or not the members are new. A converted copy takes
    // the changes, and replaces the set only if there are any.
    std::string bytes;
    existing->Serialize(&bytes);
    ZsetValue* z = ZsetValue::Deserialize(bytes, skiplist_limits);
    if (z == nullptr) {  // cannot happen: the bytes are the set's own
      ctx.w.Error("-ERR internal error: cannot convert the sorted set");
      return;
    }
    AddAll(z, opts, pairs, limits, &t);
    if (t.nan || t.added + t.updated == 0) {
      ZsetValue::Destroy(z);
    } else {
      const OpStatus status =
          ctx.db().StoreTyped(key, store::ValueType::kZset, z, store::TtlUpdate::Keep());
      if (status != OpStatus::kOk) {
        WriteStoreError(ctx.w, status);
        return;
      }
    }
  } else if (!UpdateTypedValue<ZsetValue>(ctx, key, false, [&](ZsetValue* z) {
               AddAll(z, opts, pairs, limits, &t);
               return t.added + t.updated > 0;
             })) {
    return;
  }
  if (!t.nan && t.added + t.updated > 0) {
    Notify(ctx, config::kNotifyZset, opts.incr ? "zincr" : "zadd", key);
  }
  if (t.nan) {
    ctx.w.Error(err::kZsetNanScore);
  } else if (opts.incr) {
    if (t.processed > 0) {
      ctx.w.Double(t.score);
    } else {
      ctx.w.Null();
    }
  } else {
    ctx.w.Integer(opts.ch ? t.added + t.updated : t.added);
  }
}

bool StoreZset(Context& ctx, std::string_view dst, std::string_view event,
               std::span<const std::pair<std::string_view, double>> items, ZsetBuild build,
               size_t size_hint) {
  if (items.empty()) {
    if (ctx.db().Delete(dst)) Notify(ctx, config::kNotifyGeneric, "del", dst);
    return true;
  }
  const CollectionLimits& limits = ctx.db().collection_limits();
  ZsetValue* z = ZsetValue::Create();
  if (build == ZsetBuild::kAdded) {
    const CollectionLimits insert_limits =
        size_hint > limits.zset_max_listpack_entries ? SkiplistLimits(limits) : limits;
    for (const auto& [member, score] : items) {
      z->Set(member, StoredScore(*z, member, score, insert_limits), insert_limits);
    }
  } else {
    // Redis builds the result as a skiplist and converts it to a listpack
    // when it fits.
    bool listpack = items.size() <= limits.zset_max_listpack_entries;
    for (size_t i = 0; listpack && i < items.size(); ++i) {
      listpack = items[i].first.size() <= limits.zset_max_listpack_value;
    }
    const CollectionLimits insert_limits = listpack ? limits : SkiplistLimits(limits);
    for (const auto& [member, score] : items) {
      z->Set(member, listpack && score == 0 ? 0.0 : score, insert_limits);
    }
  }
  const OpStatus status =
      ctx.db().StoreTyped(dst, store::ValueType::kZset, z, store::TtlUpdate::Clear());
  if (status != OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return false;
  }
  Notify(ctx, config::kNotifyZset, event, dst);
  return true;
}

namespace {

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...];
// ZINCRBY key increment member is ZADD with INCR (its options parsed the
// same way, as Redis does).
void ZAddGeneric(Context& ctx, bool incr) {
  ZAddOptions o;
  o.incr = incr;
  size_t i = 2;
  for (; i < ctx.args.size(); ++i) {
    const std::string_view opt = ctx.args[i];
    if (EqualsIgnoreCase(opt, "nx")) {
      o.nx = true;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      o.xx = true;
    } else if (EqualsIgnoreCase(opt, "ch")) {
      o.ch = true;
    } else if (EqualsIgnoreCase(opt, "incr")) {
      o.incr = true;
    } else if (EqualsIgnoreCase(opt, "gt")) {
      o.gt = true;
    } else if (EqualsIgnoreCase(opt, "lt")) {
      o.lt = true;
    } else {
      break;
    }
  }
  const size_t rest = ctx.args.size() - i;
  if (rest == 0 || rest % 2 != 0) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const size_t elements = rest / 2;
  if (o.nx && o.xx) {
    ctx.w.Error(err::kZaddXxNx);
    return;
  }
  if ((o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt)) {
    ctx.w.Error(err::kZaddGtLtNx);
    return;
  }
  if (o.incr && elements > 1) {
    ctx.w.Error(err::kZaddIncrPairs);
    return;
  }
  std::vector<ScoredMember> pairs(elements);
  for (size_t j = 0; j < elements; ++j) {
    if (!ParseDouble(ctx.args[i + 2 * j], &pairs[j].score)) {
      ctx.w.Error(err::kNotFloat);
      return;
    }
    pairs[j].member = ctx.args[i + 2 * j + 1];
  }
  ZAddPairs(ctx, ctx.args[1], o, pairs);
}
void ZAdd(Context& ctx) { ZAddGeneric(ctx, false); }
void ZIncrBy(Context& ctx) { ZAddGeneric(ctx, true); }

// --- Single-key reads ---------------------------------------------------------

void ZCard(Context& ctx) {
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.Integer(z == nullptr ? 0 : static_cast<int64_t>(z->size()));
}

void ZScore(Context& ctx) {
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  double score;
  if (z != nullptr && z->Score(ctx.args[2], &score)) {
    ctx.w.Double(score);
  } else {
    ctx.w.Null();
  }
}

void ZMScore(Context& ctx) {
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    double score;
    if (z != nullptr && z->Score(ctx.args[i], &score)) {
      ctx.w.Double(score);
    } else {
      ctx.w.Null();
    }
  }
}

// ZRANK/ZREVRANK key member [WITHSCORE]
void RankGeneric(Context& ctx, bool reverse) {
  if (ctx.args.size() > 4) {
    WriteWrongArity(ctx);
    return;
  }
  const bool with_score = ctx.args.size() == 4;
  if (with_score && !EqualsIgnoreCase(ctx.args[3], "withscore")) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  size_t rank;
  double score;
  if (z == nullptr || !z->Rank(ctx.args[2], reverse, &rank) || !z->Score(ctx.args[2], &score)) {
    if (with_score) {
      ctx.w.NullArray();
    } else {
      ctx.w.Null();
    }
    return;
  }
  if (with_score) ctx.w.ArrayHeader(2);
  ctx.w.Integer(static_cast<int64_t>(rank));
  if (with_score) ctx.w.Double(score);
}
void ZRank(Context& ctx) { RankGeneric(ctx, false); }
void ZRevRank(Context& ctx) { RankGeneric(ctx, true); }

void ZCount(Context& ctx) {
  ScoreRange range;
  if (!ParseScoreRange(ctx.args[2], ctx.args[3], &range)) {
    ctx.w.Error(err::kZsetNotFloatRange);
    return;
  }
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.Integer(z == nullptr ? 0 : static_cast<int64_t>(z->CountInScoreRange(range)));
}

void ZLexCount(Context& ctx) {
  LexRange range;
  if (!ParseLexRange(ctx.args[2], ctx.args[3], &range)) {
    ctx.w.Error(err::kZsetNotLexRange);
    return;
  }
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  ctx.w.Integer(z == nullptr ? 0 : static_cast<int64_t>(z->CountInLexRange(range)));
}

// --- ZRANGE and its older forms ----------------------------------------------

enum class RangeBy { kAuto, kRank, kScore, kLex };
enum class Direction { kAuto, kForward, kReverse };

// The ZRANGE family, from args[key_index] (the source key); `store`: the
// result goes to args[1] (ZRANGESTORE). `by` and `dir` are fixed by the
// older commands and left to the options (BYSCORE, BYLEX, REV) by ZRANGE.
void RangeGeneric(Context& ctx, size_t key_index, bool store, RangeBy by, Direction dir) {
  const auto& args = ctx.args;
  const size_t argc = args.size();
  size_t min_index = key_index + 1;
  size_t max_index = key_index + 2;
  bool with_scores = false;
  int64_t offset = 0;
  int64_t limit = -1;
  for (size_t j = key_index + 3; j < argc; ++j) {
    const size_t left = argc - j - 1;
    const std::string_view opt = args[j];
    if (!store && EqualsIgnoreCase(opt, "withscores")) {
      with_scores = true;
    } else if (EqualsIgnoreCase(opt, "limit") && left >= 2) {
      if (!ParseInt64(args[j + 1], &offset) || !ParseInt64(args[j + 2], &limit)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      j += 2;
    } else if (dir == Direction::kAuto && EqualsIgnoreCase(opt, "rev")) {
      dir = Direction::kReverse;
    } else if (by == RangeBy::kAuto && EqualsIgnoreCase(opt, "bylex")) {
      by = RangeBy::kLex;
    } else if (by == RangeBy::kAuto && EqualsIgnoreCase(opt, "byscore")) {
      by = RangeBy::kScore;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  if (dir == Direction::kAuto) dir = Direction::kForward;
  if (by == RangeBy::kAuto) by = RangeBy::kRank;
  const bool reverse = dir == Direction::kReverse;
  // Redis tests the limit's value, so LIMIT with a count of -1 passes.
  if (limit != -1 && by == RangeBy::kRank) {
    ctx.w.Error(err::kZrangeLimit);
    return;
  }
  if (with_scores && by == RangeBy::kLex) {
    ctx.w.Error(err::kZrangeLexScores);
    return;
  }
  // A reversed score or lex range is given as max, min.
  if (reverse && by != RangeBy::kRank) std::swap(min_index, max_index);

  int64_t start = 0, end = 0;
  ScoreRange score_range{};
  LexRange lex_range{};
  switch (by) {
    case RangeBy::kAuto:
    case RangeBy::kRank:
      if (!ParseInt64(args[min_index], &start) || !ParseInt64(args[max_index], &end)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      break;
    case RangeBy::kScore:
      if (!ParseScoreRange(args[min_index], args[max_index], &score_range)) {
        ctx.w.Error(err::kZsetNotFloatRange);
        return;
      }
      break;
    case RangeBy::kLex:
      if (!ParseLexRange(args[min_index], args[max_index], &lex_range)) {
        ctx.w.Error(err::kZsetNotLexRange);
        return;
      }
      break;
  }

  const ZsetValue* z;
  if (!LookupTyped(ctx, args[key_index], &z)) return;
  ScoredItems items;
  if (z != nullptr) {
    auto take = [&](std::string_view member, double score) {
      items.emplace_back(member, score);
      return limit < 0 || static_cast<int64_t>(items.size()) < limit;
    };
    const auto size = static_cast<int64_t>(z->size());
    // A negative offset skips everything in Redis; LIMIT x 0 takes nothing.
    const bool none = offset < 0 || (offset > 0 && offset >= size) || limit == 0;
    if (by == RangeBy::kRank) {
      size_t first, last;
      if (ResolveRankRange(start, end, z->size(), &first, &last)) {
        items.reserve(last - first + 1);
        z->ForRankRange(first, last, reverse, [&](std::string_view member, double score) {
          items.emplace_back(member, score);
        });
      }
    } else if (!none && by == RangeBy::kScore) {
      z->ForScoreRange(score_range, reverse, static_cast<size_t>(offset), take);
    } else if (!none) {
      z->ForLexRange(lex_range, reverse, static_cast<size_t>(offset), take);
    }
  }
  if (!store) {
    WriteScored(ctx, items, with_scores);
    return;
  }
  // Redis adds the members in the order of the range, to a set created for
  // the range's length when it is known (a rank range).
  if (StoreZset(ctx, args[1], "zrangestore", items, ZsetBuild::kAdded,
                by == RangeBy::kRank ? items.size() : 0)) {
    ctx.w.Integer(static_cast<int64_t>(items.size()));
  }
}

void ZRange(Context& ctx) { RangeGeneric(ctx, 1, false, RangeBy::kAuto, Direction::kAuto); }
void ZRangeStore(Context& ctx) { RangeGeneric(ctx, 2, true, RangeBy::kAuto, Direction::kAuto); }
void ZRevRange(Context& ctx) { RangeGeneric(ctx, 1, false, RangeBy::kRank, Direction::kReverse); }
void ZRangeByScore(Context& ctx) {
  RangeGeneric(ctx, 1, false, RangeBy::kScore, Direction::kForward);
}
void ZRevRangeByScore(Context& ctx) {
  RangeGeneric(ctx, 1, false, RangeBy::kScore, Direction::kReverse);
}
void ZRangeByLex(Context& ctx) { RangeGeneric(ctx, 1, false, RangeBy::kLex, Direction::kForward); }
void ZRevRangeByLex(Context& ctx) {
  RangeGeneric(ctx, 1, false, RangeBy::kLex, Direction::kReverse);
}

// --- Removals ------------------------------------------------------------------

void ZRem(Context& ctx) {
  const ZsetValue* existing;
  if (!FindZsetForWrite(ctx, ctx.args[1], &existing)) return;
  int64_t removed = 0;
  Change change;
  if (existing != nullptr &&
      !UpdateTypedValue<ZsetValue>(
          ctx, ctx.args[1], false,
          [&](ZsetValue* z) {
            for (size_t i = 2; i < ctx.args.size() && z->size() > 0; ++i) {
              removed += z->Remove(ctx.args[i]) ? 1 : 0;
            }
            return removed > 0;
          },
          &change)) {
    return;
  }
  NotifyChange(ctx, change, config::kNotifyZset, "zrem", ctx.args[1]);
  ctx.w.Integer(removed);
}

enum class RemoveBy { kRank, kScore, kLex };

// ZREMRANGEBYRANK/BYSCORE/BYLEX key min max
void RemoveRangeGeneric(Context& ctx, RemoveBy by) {
  int64_t start = 0, end = 0;
  ScoreRange score_range{};
  LexRange lex_range{};
  if (by == RemoveBy::kRank) {
    if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
      ctx.w.Error(err::kNotInteger);
      return;
    }
  } else if (by == RemoveBy::kScore) {
    if (!ParseScoreRange(ctx.args[2], ctx.args[3], &score_range)) {
      ctx.w.Error(err::kZsetNotFloatRange);
      return;
    }
  } else if (!ParseLexRange(ctx.args[2], ctx.args[3], &lex_range)) {
    ctx.w.Error(err::kZsetNotLexRange);
    return;
  }
  const ZsetValue* existing;
  if (!FindZsetForWrite(ctx, ctx.args[1], &existing)) return;
  size_t first = 0, last = 0;
  if (existing == nullptr ||
      (by == RemoveBy::kRank && !ResolveRankRange(start, end, existing->size(), &first, &last))) {
    ctx.w.Integer(0);
    return;
  }
  size_t removed = 0;
  Change change;
  if (UpdateTypedValue<ZsetValue>(
          ctx, ctx.args[1], false,
          [&](ZsetValue* z) {
            switch (by) {
              case RemoveBy::kRank:
                removed = z->RemoveRankRange(first, last);
                break;
              case RemoveBy::kScore:
                removed = z->RemoveScoreRange(score_range);
                break;
              case RemoveBy::kLex:
                removed = z->RemoveLexRange(lex_range);
                break;
            }
            return removed > 0;
          },
          &change)) {
    const char* event = by == RemoveBy::kRank    ? "zremrangebyrank"
                        : by == RemoveBy::kScore ? "zremrangebyscore"
                                                 : "zremrangebylex";
    NotifyChange(ctx, change, config::kNotifyZset, event, ctx.args[1]);
    ctx.w.Integer(static_cast<int64_t>(removed));
  }
}
void ZRemRangeByRank(Context& ctx) { RemoveRangeGeneric(ctx, RemoveBy::kRank); }
void ZRemRangeByScore(Context& ctx) { RemoveRangeGeneric(ctx, RemoveBy::kScore); }
void ZRemRangeByLex(Context& ctx) { RemoveRangeGeneric(ctx, RemoveBy::kLex); }

// --- Pops ------------------------------------------------------------------------

// Pops from the first of `keys` that holds a sorted set (Redis's
// genericZpopCommand): a key of another type met before it is an error.
// `count` -1 pops one without a count given. Reply shapes:
//   ZPOPMIN/MAX:        [m, s, ...] (RESP3 with a count: [[m, s], ...])
//   BZPOPMIN/MAX:       [key, m, s]
//   ZMPOP/BZMPOP:       [key, [[m, s], ...]]
// With no sorted set: a null array when `nil_when_empty`, else [].
void PopGeneric(Context& ctx, std::span<const std::string_view> keys, bool max, bool emit_key,
                int64_t count, bool nested, bool nil_when_empty) {
  const ZsetValue* z = nullptr;
  std::string_view key;
  for (std::string_view k : keys) {
    const ZsetValue* found;
    if (!FindZsetForWrite(ctx, k, &found)) return;
    if (found != nullptr) {
      z = found;
      key = k;
      break;
    }
  }
  if (z == nullptr) {
    if (nil_when_empty) {
      ctx.w.NullArray();
    } else {
      ctx.w.ArrayHeader(0);
    }
    return;
  }
  if (count == 0) {
    ctx.w.ArrayHeader(0);
    return;
  }
  if (count == -1) count = 1;
  const size_t n = std::min(static_cast<size_t>(count), z->size());
  std::vector<std::pair<std::string, double>> popped;
  popped.reserve(n);
  z->ForRankRange(0, n - 1, max, [&](std::string_view member, double score) {
    popped.emplace_back(member, score);
  });
  Change change;
  if (!UpdateTypedValue<ZsetValue>(
          ctx, key, false,
          [&](ZsetValue* v) {
            const size_t size = v->size();
            v->RemoveRankRange(max ? size - n : 0, max ? size - 1 : n - 1);
            return true;
          },
          &change)) {
    return;
  }
  NotifyChange(ctx, change, config::kNotifyZset, max ? "zpopmax" : "zpopmin", key);
  const auto len = static_cast<int64_t>(n);
  if (!emit_key) {
    ctx.w.ArrayHeader(nested ? len : len * 2);
  } else if (!nested) {
    ctx.w.ArrayHeader(len * 2 + 1);
    ctx.w.Bulk(key);
  } else {
    ctx.w.ArrayHeader(2);
    ctx.w.Bulk(key);
    ctx.w.ArrayHeader(len);
  }
  for (const auto& [member, score] : popped) {
    if (nested) ctx.w.ArrayHeader(2);
    ctx.w.Bulk(member);
    ctx.w.Double(score);
  }
}

// ZPOPMIN/ZPOPMAX key [count]
void PopMinMax(Context& ctx, bool max) {
  if (ctx.args.size() > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  int64_t count = -1;
  if (ctx.args.size() == 3 && (!ParseInt64(ctx.args[2], &count) || count < 0)) {
    ctx.w.Error(err::kNotPositive);
    return;
  }
  const bool nested = ctx.client.protocol >= 3 && count != -1;
  PopGeneric(ctx, ctx.args.subspan(1, 1), max, false, count, nested, false);
}
void ZPopMin(Context& ctx) { PopMinMax(ctx, false); }
void ZPopMax(Context& ctx) { PopMinMax(ctx, true); }

bool CheckTimeout(Context& ctx, std::string_view arg) {
  int64_t ms;
  const char* error;
  if (ParseBlockingTimeout(arg, ctx.store.now_ms(), &ms, &error)) return true;
  ctx.w.Error(error);
  return false;
}

// BZPOPMIN/BZPOPMAX key [key ...] timeout
void BPopMinMax(Context& ctx, bool max) {
  if (!CheckTimeout(ctx, ctx.args.back())) return;
  PopGeneric(ctx, ctx.args.subspan(1, ctx.args.size() - 2), max, true, -1, false, true);
}
void BZPopMin(Context& ctx) { BPopMinMax(ctx, false); }
void BZPopMax(Context& ctx) { BPopMinMax(ctx, true); }

// [ZMPOP|BZMPOP timeout] numkeys key [key ...] MIN|MAX [COUNT count], from
// args[first] (numkeys). As Redis, the blocking form reads its timeout after
// the other arguments.
void MPopGeneric(Context& ctx, size_t first) {
  const size_t argc = ctx.args.size();
  int64_t numkeys;
  if (!ParseInt64(ctx.args[first], &numkeys) || numkeys < 1) {
    ctx.w.Error(err::kNumkeys);
    return;
  }
  if (static_cast<uint64_t>(numkeys) >= argc - first - 1) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const size_t where = first + static_cast<size_t>(numkeys) + 1;
  bool max;
  if (EqualsIgnoreCase(ctx.args[where], "min")) {
    max = false;
  } else if (EqualsIgnoreCase(ctx.args[where], "max")) {
    max = true;
  } else {
    ctx.w.Error(err::kSyntax);
    return;
  }
  int64_t count = -1;
  for (size_t j = where + 1; j < argc; ++j) {
    if (count == -1 && EqualsIgnoreCase(ctx.args[j], "count") && j + 1 < argc) {
      ++j;
      if (!ParseInt64(ctx.args[j], &count) || count < 1) {
        ctx.w.Error(err::kCountPositive);
        return;
      }
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  if (count == -1) count = 1;
  if (first == 2 && !CheckTimeout(ctx, ctx.args[1])) return;
  PopGeneric(ctx, ctx.args.subspan(first + 1, static_cast<size_t>(numkeys)), max, true, count,
             true, true);
}
void ZMPop(Context& ctx) { MPopGeneric(ctx, 1); }
void BZMPop(Context& ctx) { MPopGeneric(ctx, 2); }

// --- ZRANDMEMBER, ZSCAN ------------------------------------------------------------

void WriteRandomEntry(Context& ctx, std::string_view member, double score, bool with_scores) {
  if (with_scores && ctx.client.protocol >= 3) ctx.w.ArrayHeader(2);
  ctx.w.Bulk(member);
  if (with_scores) ctx.w.Double(score);
}

// ZRANDMEMBER key [count [WITHSCORES]]
void ZRandMember(Context& ctx) {
  if (ctx.args.size() == 2) {
    const ZsetValue* z;
    if (!LookupTyped(ctx, ctx.args[1], &z)) return;
    if (z == nullptr) {
      ctx.w.Null();
    } else {
      ctx.w.Bulk(z->Random(CommandRandom()).first);
    }
    return;
  }
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (count == INT64_MIN) {
    ctx.w.Error(err::kRandCountRange);
    return;
  }
  const bool with_scores = ctx.args.size() == 4;
  if (ctx.args.size() > 4 || (with_scores && !EqualsIgnoreCase(ctx.args[3], "withscores"))) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (with_scores && (count < -(INT64_MAX / 2) || count > INT64_MAX / 2)) {
    ctx.w.Error(err::kRandCountWithScoresRange);
    return;
  }
  const ZsetValue* z;
  if (!LookupTyped(ctx, ctx.args[1], &z)) return;
  if (z == nullptr || count == 0) {
    ctx.w.ArrayHeader(0);
    return;
  }
  const bool resp2_pairs = with_scores && ctx.client.protocol < 3;
  const auto size = static_cast<int64_t>(z->size());
  if (count < 0 || count == 1) {
    // With repetitions (or just one): independent draws, in random order.
    const int64_t n = count < 0 ? -count : 1;
    ctx.w.ArrayHeader(resp2_pairs ? n * 2 : n);
    for (int64_t i = 0; i < n; ++i) {
      const auto [member, score] = z->Random(CommandRandom());
      WriteRandomEntry(ctx, member, score, with_scores);
    }
    return;
  }
  const int64_t n = std::min(count, size);
  ctx.w.ArrayHeader(resp2_pairs ? n * 2 : n);
  if (count >= size) {
    // The whole set, highest rank first: Redis walks it from the tail.
    z->ForRankRange(0, z->size() - 1, true, [&](std::string_view member, double score) {
      WriteRandomEntry(ctx, member, score, with_scores);
    });
    return;
  }
  // Distinct members: drawn until there are enough, which takes few draws
  // when count is well below the size (listed in the order drawn);
  // otherwise the members left out are drawn instead.
  const bool pick_kept = count * 3 <= size;
  const int64_t draws = pick_kept ? count : size - count;
  std::unordered_set<std::string_view> picked;
  while (static_cast<int64_t>(picked.size()) < draws) {
    const auto [member, score] = z->Random(CommandRandom());
    if (picked.insert(member).second && pick_kept) {
      WriteRandomEntry(ctx, member, score, with_scores);
    }
  }
  if (pick_kept) return;
  z->ForRankRange(0, z->size() - 1, false, [&](std::string_view member, double score) {
    if (picked.count(member) == 0) WriteRandomEntry(ctx, member, score, with_scores);
  });
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]
void ZScan(Context& ctx) {
  uint64_t cursor;
  const ZsetValue* z;
  ScanOptions opts;
  if (!BeginCollectionScan(ctx, &z, &cursor, &opts)) return;
  ScoredItems found;
  // COUNT counts members before MATCH filters them, as in Redis.
  cursor = z->Scan(cursor, static_cast<size_t>(opts.count), [&](std::string_view m, double s) {
    if (!opts.has_pattern || util::GlobMatch(opts.pattern, m)) found.emplace_back(m, s);
  });
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(std::to_string(cursor));
  ctx.w.ArrayHeader(static_cast<int64_t>(found.size() * 2));
  // Scores as strings, as Redis spells them (the same text as a RESP2 double).
  for (const auto& [member, score] : found) {
    ctx.w.Bulk(member);
    ctx.w.Bulk(resp::DoubleToString(score));
  }
}

// --- ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD -------------------------

enum class SetOp { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

// An input: a sorted set, a set (its members score 1), or a missing key.
struct Source {
  const ZsetValue* zset = nullptr;
  const SetValue* set = nullptr;
  double weight = 1;

  size_t size() const { return zset ? zset->size() : set ? set->size() : 0; }
  bool Same(const Source& o) const {
    return (zset != nullptr && zset == o.zset) || (set != nullptr && set == o.set);
  }
  bool Find(std::string_view member, double* score) const {
    if (zset != nullptr) return zset->Score(member, score);
    *score = 1.0;
    return set != nullptr && set->Contains(member);
  }
  // fn(member, score) for each element; the member view lives for the call.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (zset != nullptr && zset->size() > 0) {
      zset->ForRankRange(0, zset->size() - 1, false, fn);
    } else if (set != nullptr) {
      set->ForEach([&](std::string_view m) { fn(m, 1.0); });
    }
  }
};

// A sorted set or a set, as Redis's union/intersection read their inputs:
// false, with WRONGTYPE written, for another type.
bool LoadSource(Context& ctx, std::string_view key, Source* out) {
  const ZsetValue* z;
  switch (ctx.db().FindTyped(key, &z)) {
    case OpStatus::kOk:
      ++ctx.server.stats.keyspace_hits;
      out->zset = z;
      return true;
    case OpStatus::kWrongType:
      break;
    default:
      CountMiss(ctx, key);
      return true;
  }
  ++ctx.server.stats.keyspace_hits;
  const SetValue* s;
  if (ctx.db().FindTyped(key, &s) == OpStatus::kOk) {
    out->set = s;
    return true;
  }
  ctx.w.Error(err::kWrongType);
  return false;
}

void AggregateInto(double* target, double value, Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kSum:
      *target += value;
      // inf + -inf: Redis's convention is 0.
      if (std::isnan(*target)) *target = 0.0;
      break;
    case Aggregate::kMin:
      *target = value < *target ? value : *target;
      break;
    case Aggregate::kMax:
      *target = value > *target ? value : *target;
      break;
  }
}

// [ZUNION|ZINTER|ZDIFF] numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE
// SUM|MIN|MAX] [WITHSCORES], the *STORE forms (destination first, no
// WITHSCORES) and ZINTERCARD numkeys key [key ...] [LIMIT limit].
void SetOpGeneric(Context& ctx, SetOp op, bool store, bool card_only) {
  const auto& args = ctx.args;
  const size_t argc = args.size();
  const size_t numkeys_index = store ? 2 : 1;
  int64_t setnum;
  if (!ParseInt64(args[numkeys_index], &setnum)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (setnum < 1) {
    ctx.w.Error("at least 1 input key is needed for '" + ctx.client.last_command + "' command");
    return;
  }
  if (static_cast<uint64_t>(setnum) > argc - numkeys_index - 1) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const auto n = static_cast<size_t>(setnum);
  std::vector<Source> sources(n);
  size_t j = numkeys_index + 1;
  for (size_t i = 0; i < n; ++i, ++j) {
    if (!LoadSource(ctx, args[j], &sources[i])) return;
  }
  Aggregate aggregate = Aggregate::kSum;
  bool with_scores = false;
  int64_t limit = 0;
  size_t remaining = argc - j;
  while (remaining > 0) {
    const std::string_view opt = args[j];
    if (op != SetOp::kDiff && !card_only && remaining >= n + 1 &&
        EqualsIgnoreCase(opt, "weights")) {
      ++j;
      --remaining;
      for (size_t i = 0; i < n; ++i, ++j, --remaining) {
        if (!ParseDouble(args[j], &sources[i].weight)) {
          ctx.w.Error(err::kWeightNotFloat);
          return;
        }
      }
    } else if (op != SetOp::kDiff && !card_only && remaining >= 2 &&
               EqualsIgnoreCase(opt, "aggregate")) {
      const std::string_view how = args[j + 1];
      if (EqualsIgnoreCase(how, "sum")) {
        aggregate = Aggregate::kSum;
      } else if (EqualsIgnoreCase(how, "min")) {
        aggregate = Aggregate::kMin;
      } else if (EqualsIgnoreCase(how, "max")) {
        aggregate = Aggregate::kMax;
      } else {
        ctx.w.Error(err::kSyntax);
        return;
      }
      j += 2;
      remaining -= 2;
    } else if (!store && !card_only && EqualsIgnoreCase(opt, "withscores")) {
      with_scores = true;
      ++j;
      --remaining;
    } else if (card_only && remaining >= 2 && EqualsIgnoreCase(opt, "limit")) {
      if (!ParseInt64(args[j + 1], &limit) || limit < 0) {
        ctx.w.Error(err::kLimitNegative);
        return;
      }
      j += 2;
      remaining -= 2;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }

  // Smallest input first (a stable order, as glibc's qsort): the
  // intersection walks it; the weights stay with their inputs.
  if (op != SetOp::kDiff) {
    std::stable_sort(sources.begin(), sources.end(),
                     [](const Source& a, const Source& b) { return a.size() < b.size(); });
  }
  std::vector<std::pair<std::string, double>> result;
  int64_t cardinality = 0;
  if (op == SetOp::kInter) {
    if (sources[0].size() > 0) {
      bool done = false;
      sources[0].ForEach([&](std::string_view member, double s) {
        if (done) return true;
        double score = sources[0].weight * s;
        if (std::isnan(score)) score = 0;
        for (size_t i = 1; i < n; ++i) {
          double value;
          if (sources[i].Same(sources[0])) {
            value = s * sources[i].weight;
          } else if (sources[i].Find(member, &value)) {
            value *= sources[i].weight;
          } else {
            return true;
          }
          AggregateInto(&score, value, aggregate);
        }
        if (card_only) {
          ++cardinality;
          done = limit != 0 && cardinality >= limit;
        } else {
          result.emplace_back(member, score);
        }
        return !done;
      });
    }
  } else if (op == SetOp::kUnion) {
    std::unordered_map<std::string, double> accumulator;
    for (const Source& src : sources) {
      src.ForEach([&](std::string_view member, double s) {
        double score = src.weight * s;
        if (std::isnan(score)) score = 0;
        auto [it, inserted] = accumulator.try_emplace(std::string(member), score);
        if (!inserted) AggregateInto(&it->second, score, aggregate);
      });
    }
    result.assign(std::make_move_iterator(accumulator.begin()),
                  std::make_move_iterator(accumulator.end()));
  } else {
    sources[0].ForEach([&](std::string_view member, double s) {
      for (size_t i = 1; i < n; ++i) {
        double ignored;
        if (sources[i].Same(sources[0]) || sources[i].Find(member, &ignored)) return;
      }
      result.emplace_back(member, s);
    });
  }
  if (card_only) {
    ctx.w.Integer(cardinality);
    return;
  }
  // The result in sorted-set order: by score, then member bytes.
  std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first < b.first);
  });
  ScoredItems items;
  items.reserve(result.size());
  for (const auto& [member, score] : result) items.emplace_back(member, score);
  if (!store) {
    WriteScored(ctx, items, with_scores);
    return;
  }
  const char* event = op == SetOp::kUnion   ? "zunionstore"
                      : op == SetOp::kInter ? "zinterstore"
                                            : "zdiffstore";
  if (StoreZset(ctx, args[1], event, items)) ctx.w.Integer(static_cast<int64_t>(items.size()));
}

void ZUnion(Context& ctx) { SetOpGeneric(ctx, SetOp::kUnion, false, false); }
void ZInter(Context& ctx) { SetOpGeneric(ctx, SetOp::kInter, false, false); }
void ZDiff(Context& ctx) { SetOpGeneric(ctx, SetOp::kDiff, false, false); }
void ZUnionStore(Context& ctx) { SetOpGeneric(ctx, SetOp::kUnion, true, false); }
void ZInterStore(Context& ctx) { SetOpGeneric(ctx, SetOp::kInter, true, false); }
void ZDiffStore(Context& ctx) { SetOpGeneric(ctx, SetOp::kDiff, true, false); }
void ZInterCard(Context& ctx) { SetOpGeneric(ctx, SetOp::kInter, false, true); }

// --- What the blocking forms wait for (CommandSpec::blocking_args) ---

// BZPOPMIN/BZPOPMAX key [key ...] timeout
bool KeysThenTimeout(std::span<const std::string_view> args, std::vector<std::string_view>* keys,
                     std::string_view* timeout) {
  if (args.size() < 3) return false;
  keys->assign(args.begin() + 1, args.end() - 1);
  *timeout = args.back();
  return true;
}

// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]. Malformed
// arguments (those MPopGeneric refuses) do not block: the command runs and
// replies with the error at once, as Redis does.
bool NumKeysAfterTimeout(std::span<const std::string_view> args,
                         std::vector<std::string_view>* keys, std::string_view* timeout) {
  int64_t numkeys;
  if (args.size() < 5 || !ParseInt64(args[2], &numkeys) || numkeys <= 0 ||
      numkeys > static_cast<int64_t>(args.size()) - 4) {
    return false;
  }
  const size_t where = 3 + static_cast<size_t>(numkeys);
  if (!EqualsIgnoreCase(args[where], "min") && !EqualsIgnoreCase(args[where], "max")) {
    return false;
  }
  const size_t rest = args.size() - where - 1;
  int64_t count;
  if (rest != 0 && (rest != 2 || !EqualsIgnoreCase(args[where + 1], "count") ||
                    !ParseInt64(args[where + 2], &count) || count < 1)) {
    return false;
  }
  keys->assign(args.begin() + 3, args.begin() + 3 + numkeys);
  *timeout = args[1];
  return true;
}

}  // namespace

void RegisterZsetCommands(std::vector<CommandSpec>* out) {
  const std::string g = "sorted-set";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, Handler h,
                 const char* since, const char* summary, const char* complexity,
                 const char* args) -> CommandSpec& {
    out->push_back({name, arity, flags, first, last, first > 0 ? 1 : 0, h, g, since, summary,
                    complexity, args, {}});
    return out->back();
  };
  const char* kLogN = "O(log(N)) where N is the number of elements in the sorted set.";
  const char* kRangeComplexity =
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
      "elements returned.";
  add("zadd", -4, kWr | kFast, 1, 1, ZAdd, "1.2.0",
      "Adds one or more members to a sorted set, or updates their scores. Creates the key if it "
      "doesn't exist.",
      "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
      "key:key [NX|XX] [GT|LT] [CH] [INCR] score:double member:string...");
  add("zincrby", 4, kWr | kFast, 1, 1, ZIncrBy, "1.2.0",
      "Increments the score of a member in a sorted set.", kLogN,
      "key:key increment:integer member:string");
  add("zrem", -3, kWrite | kFast, 1, 1, ZRem, "1.2.0",
      "Removes one or more members from a sorted set. Deletes the sorted set if all members "
      "were removed.",
      "O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
      "elements to be removed.",
      "key:key member:string...");
  add("zcard", 2, kReadOnly | kFast, 1, 1, ZCard, "1.2.0",
      "Returns the number of members in a sorted set.", "O(1)", "key:key");
  add("zcount", 4, kReadOnly | kFast, 1, 1, ZCount, "2.0.0",
      "Returns the count of members in a sorted set that have scores within a range.",
      kLogN, "key:key min:double max:double");
  add("zlexcount", 4, kReadOnly | kFast, 1, 1, ZLexCount, "2.8.9",
      "Returns the number of members in a sorted set within a lexicographical range.", kLogN,
      "key:key min:string max:string");
  add("zscore", 3, kReadOnly | kFast, 1, 1, ZScore, "1.2.0",
      "Returns the score of a member in a sorted set.", "O(1)", "key:key member:string");
  add("zmscore", -3, kReadOnly | kFast, 1, 1, ZMScore, "6.2.0",
      "Returns the score of one or more members in a sorted set.",
      "O(N) where N is the number of members being requested.", "key:key member:string...");
  add("zrank", -3, kReadOnly | kFast, 1, 1, ZRank, "2.0.0",
      "Returns the index of a member in a sorted set ordered by ascending scores.", kLogN,
      "key:key member:string [WITHSCORE]");
  add("zrevrank", -3, kReadOnly | kFast, 1, 1, ZRevRank, "2.0.0",
      "Returns the index of a member in a sorted set ordered by descending scores.", kLogN,
      "key:key member:string [WITHSCORE]");
  add("zrange", -4, kReadOnly, 1, 1, ZRange, "1.2.0",
      "Returns members in a sorted set within a range of indexes.", kRangeComplexity,
      "key:key start:string stop:string [BYSCORE|BYLEX] [REV] [LIMIT=offset:integer] "
      "[count:integer] [WITHSCORES]");
  add("zrangestore", -5, kWr, 1, 2, ZRangeStore, "6.2.0",
      "Stores a range of members from sorted set in a key.",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
      "elements stored into the destination key.",
      "dst:key src:key min:string max:string [BYSCORE|BYLEX] [REV] [LIMIT=offset:integer] "
      "[count:integer]");
  add("zrangebyscore", -4, kReadOnly, 1, 1, ZRangeByScore, "1.0.5",
      "Returns members in a sorted set within a range of scores.", kRangeComplexity,
      "key:key min:double max:double [WITHSCORES] [LIMIT=offset:integer] [count:integer]");
  add("zrevrangebyscore", -4, kReadOnly, 1, 1, ZRevRangeByScore, "2.2.0",
      "Returns members in a sorted set within a range of scores in reverse order.",
      kRangeComplexity,
      "key:key max:double min:double [WITHSCORES] [LIMIT=offset:integer] [count:integer]");
  add("zrangebylex", -4, kReadOnly, 1, 1, ZRangeByLex, "2.8.9",
      "Returns members in a sorted set within a lexicographical range.", kRangeComplexity,
      "key:key min:string max:string [LIMIT=offset:integer] [count:integer]");
  add("zrevrangebylex", -4, kReadOnly, 1, 1, ZRevRangeByLex, "2.8.9",
      "Returns members in a sorted set within a lexicographical range in reverse order.",
      kRangeComplexity, "key:key max:string min:string [LIMIT=offset:integer] [count:integer]");
  add("zrevrange", -4, kReadOnly, 1, 1, ZRevRange, "1.2.0",
      "Returns members in a sorted set within a range of indexes in reverse order.",
      kRangeComplexity, "key:key start:integer stop:integer [WITHSCORES]");
  add("zremrangebyrank", 4, kWrite, 1, 1, ZRemRangeByRank, "2.0.0",
      "Removes members in a sorted set within a range of indexes. Deletes the sorted set if "
      "all members were removed.",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
      "elements removed by the operation.",
      "key:key start:integer stop:integer");
  add("zremrangebyscore", 4, kWrite, 1, 1, ZRemRangeByScore, "1.2.0",
      "Removes members in a sorted set within a range of scores. Deletes the sorted set if all "
      "members were removed.",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
      "elements removed by the operation.",
      "key:key min:double max:double");
  add("zremrangebylex", 4, kWrite, 1, 1, ZRemRangeByLex, "2.8.9",
      "Removes members in a sorted set within a lexicographical range. Deletes the sorted set "
      "if all members were removed.",
      "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
      "elements removed by the operation.",
      "key:key min:string max:string");
  add("zpopmin", -2, kWrite | kFast, 1, 1, ZPopMin, "5.0.0",
      "Returns the lowest-scoring members from a sorted set after removing them. Deletes the "
      "sorted set if the last member was popped.",
      "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
      "number of elements popped.",
      "key:key [count:integer]");
  add("zpopmax", -2, kWrite | kFast, 1, 1, ZPopMax, "5.0.0",
      "Returns the highest-scoring members from a sorted set after removing them. Deletes the "
      "sorted set if the last member was popped.",
      "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
      "number of elements popped.",
      "key:key [count:integer]");
  add("zmpop", -4, kWrite, 2, -1, ZMPop, "7.0.0",
      "Returns the highest- or lowest-scoring members from one or more sorted sets after "
      "removing them. Deletes the sorted set if the last member was popped.",
      "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
      "elements in the sorted set, and M being the number of elements popped.",
      "numkeys:integer key:key... MIN|MAX [COUNT=count:integer]");
  add("bzpopmin", -3, kWrite | kFast, 1, -2, BZPopMin, "5.0.0",
      "Removes and returns the member with the lowest score from one or more sorted sets. "
      "Blocks until a member is available otherwise. Deletes the sorted set if the last "
      "element was popped.",
      "O(log(N)) with N being the number of elements in the sorted set.",
      "key:key... timeout:double")
      .blocking_args = KeysThenTimeout;
  add("bzpopmax", -3, kWrite | kFast, 1, -2, BZPopMax, "5.0.0",
      "Removes and returns the member with the highest score from one or more sorted sets. "
      "Blocks until a member available otherwise.  Deletes the sorted set if the last element "
      "was popped.",
      "O(log(N)) with N being the number of elements in the sorted set.",
      "key:key... timeout:double")
      .blocking_args = KeysThenTimeout;
  add("bzmpop", -5, kWrite, 3, -1, BZMPop, "7.0.0",
      "Removes and returns a member by score from one or more sorted sets. Blocks until a "
      "member is available otherwise. Deletes the sorted set if the last element was popped.",
      "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
      "elements in the sorted set, and M being the number of elements popped.",
      "timeout:double numkeys:integer key:key... MIN|MAX [COUNT=count:integer]")
      .blocking_args = NumKeysAfterTimeout;
  add("zrandmember", -2, kReadOnly | kRandom, 1, 1, ZRandMember, "6.2.0",
      "Returns one or more random members from a sorted set.",
      "O(N) where N is the number of members returned",
      "key:key [count:integer] [WITHSCORES]");
  add("zunion", -3, kReadOnly, 2, -1, ZUnion, "6.2.0",
      "Returns the union of multiple sorted sets.",
      "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M "
      "being the number of elements in the resulting sorted set.",
      "numkeys:integer key:key... [WEIGHTS=weight:integer...] [AGGREGATE=SUM|MIN|MAX] "
      "[WITHSCORES]");
  add("zinter", -3, kReadOnly, 2, -1, ZInter, "6.2.0",
      "Returns the intersect of multiple sorted sets.",
      "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
      "number of input sorted sets and M being the number of elements in the resulting sorted "
      "set.",
      "numkeys:integer key:key... [WEIGHTS=weight:integer...] [AGGREGATE=SUM|MIN|MAX] "
      "[WITHSCORES]");
  add("zdiff", -3, kReadOnly, 2, -1, ZDiff, "6.2.0",
      "Returns the difference between multiple sorted sets.",
      "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, "
      "N is the size of the first set, and K is the size of the result set.",
      "numkeys:integer key:key... [WITHSCORES]");
  add("zunionstore", -4, kWr, 1, -1, ZUnionStore, "2.0.0",
      "Stores the union of multiple sorted sets in a key.",
      "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M "
      "being the number of elements in the resulting sorted set.",
      "destination:key numkeys:integer key:key... [WEIGHTS=weight:integer...] "
      "[AGGREGATE=SUM|MIN|MAX]");
  add("zinterstore", -4, kWr, 1, -1, ZInterStore, "2.0.0",
      "Stores the intersect of multiple sorted sets in a key.",
      "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
      "number of input sorted sets and M being the number of elements in the resulting sorted "
      "set.",
      "destination:key numkeys:integer key:key... [WEIGHTS=weight:integer...] "
      "[AGGREGATE=SUM|MIN|MAX]");
  add("zdiffstore", -4, kWr, 1, -1, ZDiffStore, "6.2.0",
      "Stores the difference of multiple sorted sets in a key.",
      "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, "
      "N is the size of the first set, and K is the size of the result set.",
      "destination:key numkeys:integer key:key...");
  add("zintercard", -3, kReadOnly, 2, -1, ZInterCard, "7.0.0",
      "Returns the number of members of the intersect of multiple sorted sets.",
      "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
      "input sorted sets.",
      "numkeys:integer key:key... [LIMIT=limit:integer]");
  add("zscan", -3, kReadOnly | kRandom, 1, 1, ZScan, "2.8.0",
      "Iterates over members and scores of a sorted set.",
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
      "the cursor to return back to 0. N is the number of elements inside the collection.",
      "key:key cursor:integer [MATCH=pattern:pattern] [COUNT=count:integer]");
}

}  // namespace causalkv::command
