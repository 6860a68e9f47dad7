// What the geo commands share with the sorted-set commands: a geo set is a
// sorted set (geohash.h: the score is the point), written the way ZADD and
// the *STORE commands write one.
#pragma once

#include <span>
#include <string_view>
#include <utility>

#include "command_table.h"

namespace causalkv::command {

// ZADD's options (NX XX GT LT CH INCR), checked for conflicts by the caller.
struct ZAddOptions {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
};
struct ScoredMember {
  double score;
  std::string_view member;
};

// Runs ZADD on `key` with parsed options and (score, member) pairs (at
// least one; one with INCR; no NaN) and writes its reply: the number added
// (or added and changed, with CH), or with INCR the new score or a null.
// A missing key is created, in the encoding Redis 7.2 picks from the
// number of pairs and the first member's length.
void ZAddPairs(Context& ctx, std::string_view key, const ZAddOptions& opts,
               std::span<const ScoredMember> pairs);

// How Redis builds a stored result, which decides where a -0 score
// survives (a listpack keeps none):
//   kComputed  built whole, then made a listpack if it fits (ZUNIONSTORE and
//              friends, GEORADIUS ... STORE): -0 survives only in a skiplist;
//   kAdded     added member by member to a set that starts as a listpack
//              (a skiplist when `size_hint` is over the limit), as ZADD does
//              (ZRANGESTORE): -0 survives only if added after a conversion.
enum class ZsetBuild { kComputed, kAdded };

// Stores (member, score) pairs with distinct members as the sorted set at
// `dst`, replacing whatever it held (and its TTL), or deletes `dst` when
// there are none: the *STORE commands' result. The encoding is Redis's:
// listpack when it fits the zset-max-listpack-* limits. False, with the
// error written, if it could not be stored. The views may point into the
// keyspace (a source that is also `dst`). Notifies `event` (class z) on
// `dst` when stored, or "del" when it deleted an existing `dst`.
bool StoreZset(Context& ctx, std::string_view dst, std::string_view event,
               std::span<const std::pair<std::string_view, double>> items,
               ZsetBuild build = ZsetBuild::kComputed, size_t size_hint = 0);

}  // namespace causalkv::command
