// Set commands with Redis 7.2 semantics (reply types, error texts, the order
// of checks). The value is a store::SetValue; every change takes a fresh
// version of the key (keyspace.h: UpdateTyped).
#include <algorithm>
#include <climits>
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

using config::kNotifySet;

using store::OpStatus;
using store::SetValue;

constexpr const char* kOutOfRangePositive = "value is out of range, must be positive";

// Members as owned strings: an intset member's view lives only for one call.
std::vector<std::string> MembersOf(const SetValue& s) {
  std::vector<std::string> out;
  out.reserve(s.size());
  s.ForEach([&](std::string_view m) { out.emplace_back(m); });
  return out;
}

void WriteMembers(Context& ctx, const std::vector<std::string>& members, bool as_set) {
  const auto n = static_cast<int64_t>(members.size());
  if (as_set) {
    ctx.w.SetHeader(n);
  } else {
    ctx.w.ArrayHeader(n);
  }
  for (const std::string& m : members) ctx.w.Bulk(m);
}

// A new set holding `members`, built as Redis builds a computed set (an
// empty intset that converts as members arrive), so that its encoding and
// its order match Redis's.
SetValue* BuildSet(Context& ctx, const std::vector<std::string>& members) {
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  SetValue* s = SetValue::Create("0", 0, limits);
  for (const std::string& m : members) s->Add(m, limits);
  return s;
}

void SAdd(Context& ctx) {
  int64_t added = 0;
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  // A new set starts in the encoding its first member and size call for.
  store::OpStatus status;
  const SetValue* existing = nullptr;
  status = ctx.db().FindTyped(ctx.args[1], &existing);
  if (status == OpStatus::kWrongType) {
    ctx.w.Error(err::kWrongType);
    return;
  }
  if (status == OpStatus::kNotFound) {
    SetValue* s = SetValue::Create(ctx.args[2], ctx.args.size() - 2, limits);
    for (size_t i = 2; i < ctx.args.size(); ++i) added += s->Add(ctx.args[i], limits) ? 1 : 0;
    status = ctx.db().StoreTyped(ctx.args[1], store::ValueType::kSet, s, store::TtlUpdate::Clear());
    if (status != OpStatus::kOk) {
      WriteStoreError(ctx.w, status);
      return;
    }
    Notify(ctx, kNotifySet, "sadd", ctx.args[1]);
    ctx.w.Integer(added);
    return;
  }
  const bool stored = UpdateTypedValue<SetValue>(ctx, ctx.args[1], false, [&](SetValue* s) {
    // As Redis: the argument count alone may convert a small set first
    // (a change of encoding only: no new version when nothing is added).
    s->PrepareToAdd(ctx.args.size() - 2, limits);
    for (size_t i = 2; i < ctx.args.size(); ++i) added += s->Add(ctx.args[i], limits) ? 1 : 0;
    return added > 0;
  });
  if (!stored) return;
  if (added > 0) Notify(ctx, kNotifySet, "sadd", ctx.args[1]);
  ctx.w.Integer(added);
}

void SRem(Context& ctx) {
  int64_t removed = 0;
  Change change;
  const bool stored = UpdateTypedValue<SetValue>(
      ctx, ctx.args[1], false,
      [&](SetValue* s) {
        for (size_t i = 2; i < ctx.args.size() && s->size() > 0; ++i) {
          removed += s->Remove(ctx.args[i]) ? 1 : 0;
        }
        return removed > 0;
      },
      &change);
  if (!stored) return;
  NotifyChange(ctx, change, kNotifySet, "srem", ctx.args[1]);
  ctx.w.Integer(removed);
}

void SMembers(Context& ctx) {
  const SetValue* s;
  if (!LookupTyped(ctx, ctx.args[1], &s)) return;
  if (s == nullptr) {
    ctx.w.SetHeader(0);
    return;
  }
  ctx.w.SetHeader(static_cast<int64_t>(s->size()));
  s->ForEach([&](std::string_view m) { ctx.w.Bulk(m); });
}

void SIsMember(Context& ctx) {
  const SetValue* s;
  if (!LookupTyped(ctx, ctx.args[1], &s)) return;
  ctx.w.Integer(s != nullptr && s->Contains(ctx.args[2]) ? 1 : 0);
}

void SMIsMember(Context& ctx) {
  const SetValue* s;
  if (!LookupTyped(ctx, ctx.args[1], &s)) return;
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.w.Integer(s != nullptr && s->Contains(ctx.args[i]) ? 1 : 0);
  }
}

void SCard(Context& ctx) {
  const SetValue* s;
  if (!LookupTyped(ctx, ctx.args[1], &s)) return;
  ctx.w.Integer(s == nullptr ? 0 : static_cast<int64_t>(s->size()));
}

// `count` distinct random members of `s` (count < size).
std::vector<std::string> DistinctRandom(const SetValue& s, size_t count) {
  if (count == 1) return {s.Random(CommandRandom())};  // SPOP's common case
  // Few draws when count is well below the size; otherwise draw the members
  // left out, as Redis's SPOP/SRANDMEMBER do for large counts.
  const bool pick_kept = count * 3 <= s.size();
  const size_t draws = pick_kept ? count : s.size() - count;
  std::unordered_set<std::string> picked;
  while (picked.size() < draws) picked.insert(s.Random(CommandRandom()));
  if (pick_kept) return {picked.begin(), picked.end()};
  std::vector<std::string> kept;
  kept.reserve(count);
  s.ForEach([&](std::string_view m) {
    if (picked.count(std::string(m)) == 0) kept.emplace_back(m);
  });
  return kept;
}

// SPOP key [count]
void SPop(Context& ctx) {
  if (ctx.args.size() > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const bool with_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (with_count && (!ParseInt64(ctx.args[2], &count) || count < 0)) {
    ctx.w.Error(kOutOfRangePositive);  // Redis's text for any bad count
    return;
  }
  const SetValue* existing;
  if (!LookupTypedForWrite(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr || (with_count && count == 0)) {
    if (with_count) {
      ctx.w.SetHeader(0);
    } else {
      ctx.w.Null();
    }
    return;
  }
  std::vector<std::string> popped =
      static_cast<size_t>(count) >= existing->size()
          ? MembersOf(*existing)
          : DistinctRandom(*existing, static_cast<size_t>(count));
  Change change;
  const bool stored = UpdateTypedValue<SetValue>(
      ctx, ctx.args[1], false,
      [&](SetValue* s) {
        for (const std::string& m : popped) s->Remove(m);
        return true;
      },
      &change);
  if (!stored) return;
  NotifyChange(ctx, change, kNotifySet, "spop", ctx.args[1]);
  if (!with_count) {
    ctx.w.Bulk(popped.front());
    return;
  }
  WriteMembers(ctx, popped, /*as_set=*/true);
}

// SRANDMEMBER key [count]
void SRandMember(Context& ctx) {
  if (ctx.args.size() > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (ctx.args.size() == 2) {
    const SetValue* s;
    if (!LookupTyped(ctx, ctx.args[1], &s)) return;
    if (s == nullptr) {
      ctx.w.Null();
    } else {
      ctx.w.Bulk(s->Random(CommandRandom()));
    }
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
  const SetValue* s;
  if (!LookupTyped(ctx, ctx.args[1], &s)) return;
  if (s == nullptr || count == 0) {
    ctx.w.ArrayHeader(0);
    return;
  }
  if (count < 0) {
    ctx.w.ArrayHeader(-count);
    for (int64_t i = 0; i < -count; ++i) ctx.w.Bulk(s->Random(CommandRandom()));
    return;
  }
  WriteMembers(ctx,
               static_cast<size_t>(count) >= s->size()
                   ? MembersOf(*s)
                   : DistinctRandom(*s, static_cast<size_t>(count)),
               /*as_set=*/false);
}

// SMOVE source destination member
void SMove(Context& ctx) {
  // As Redis: a missing source replies 0 before the destination's type is checked.
  const SetValue* src;
  if (!LookupTypedForWrite(ctx, ctx.args[1], &src)) return;
  if (src == nullptr) {
    ctx.w.Integer(0);
    return;
  }
  const SetValue* dst;
  if (!LookupTypedForWrite(ctx, ctx.args[2], &dst)) return;
  if (!src->Contains(ctx.args[3])) {
    ctx.w.Integer(0);
    return;
  }
  if (ctx.args[1] == ctx.args[2]) {
    ctx.w.Integer(1);
    return;
  }
  const std::string member(ctx.args[3]);
  Change removed;
  if (!UpdateTypedValue<SetValue>(
          ctx, ctx.args[1], false, [&](SetValue* s) { return s->Remove(member); }, &removed)) {
    return;
  }
  // Redis's events: srem on the source (and its del), then sadd.
  NotifyChange(ctx, removed, kNotifySet, "srem", ctx.args[1]);
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  if (dst == nullptr) {
    SetValue* s = SetValue::Create(member, 1, limits);
    s->Add(member, limits);
    const OpStatus status =
        ctx.db().StoreTyped(ctx.args[2], store::ValueType::kSet, s, store::TtlUpdate::Clear());
    if (status != OpStatus::kOk) {
      WriteStoreError(ctx.w, status);
      return;
    }
  } else if (!UpdateTypedValue<SetValue>(ctx, ctx.args[2], false, [&](SetValue* s) {
               return s->Add(member, limits);
             })) {
    return;
  }
  Notify(ctx, kNotifySet, "sadd", ctx.args[2]);
  ctx.w.Integer(1);
}

enum class SetOp { kInter, kUnion, kDiff };

// The sets of `keys` (nullptr for a missing key); false, with WRONGTYPE
// written, if one holds another type. Every key is checked, as Redis does.
bool LoadSets(Context& ctx, std::span<const std::string_view> keys,
              std::vector<const SetValue*>* sets) {
  sets->clear();
  for (std::string_view key : keys) {
    const SetValue* s;
    if (!LookupTyped(ctx, key, &s)) return false;
    sets->push_back(s);
  }
  return true;
}

// The members of the operation's result, in the order Redis would list them
// for small sets (the first operand's order for intersections and
// differences, first seen for unions). Stops at `limit` members (0: none).
std::vector<std::string> Combine(const std::vector<const SetValue*>& sets, SetOp op,
                                 size_t limit = 0) {
  std::vector<std::string> out;
  if (op == SetOp::kUnion) {
    std::unordered_set<std::string> seen;
    for (const SetValue* s : sets) {
      if (s == nullptr) continue;
      s->ForEach([&](std::string_view m) {
        if (seen.emplace(m).second) out.emplace_back(m);
      });
    }
    return out;
  }
  if (sets.empty() || sets.front() == nullptr) return out;
  if (op == SetOp::kInter) {
    for (const SetValue* s : sets) {
      if (s == nullptr) return out;
    }
    // Walk the smallest set, probing the others.
    std::vector<const SetValue*> by_size(sets);
    std::stable_sort(by_size.begin(), by_size.end(),
              [](const SetValue* a, const SetValue* b) { return a->size() < b->size(); });
    by_size.front()->ForEach([&](std::string_view m) {
      if (limit != 0 && out.size() >= limit) return;
      for (size_t i = 1; i < by_size.size(); ++i) {
        if (!by_size[i]->Contains(m)) return;
      }
      out.emplace_back(m);
    });
    return out;
  }
  sets.front()->ForEach([&](std::string_view m) {
    for (size_t i = 1; i < sets.size(); ++i) {
      if (sets[i] != nullptr && sets[i]->Contains(m)) return;
    }
    out.emplace_back(m);
  });
  return out;
}

void SetOpCommand(Context& ctx, SetOp op) {
  std::vector<const SetValue*> sets;
  if (!LoadSets(ctx, ctx.args.subspan(1), &sets)) return;
  std::vector<std::string> members = Combine(sets, op);
  if (op != SetOp::kInter && !members.empty()) {
    // Redis lists a union or difference from the set it built.
    SetValue* built = BuildSet(ctx, members);
    members = MembersOf(*built);
    SetValue::Destroy(built);
  }
  WriteMembers(ctx, members, /*as_set=*/true);
}
void SInter(Context& ctx) { SetOpCommand(ctx, SetOp::kInter); }
void SUnion(Context& ctx) { SetOpCommand(ctx, SetOp::kUnion); }
void SDiff(Context& ctx) { SetOpCommand(ctx, SetOp::kDiff); }

void SetOpStore(Context& ctx, SetOp op) {
  std::vector<const SetValue*> sets;
  if (!LoadSets(ctx, ctx.args.subspan(2), &sets)) return;
  const std::vector<std::string> members = Combine(sets, op);
  if (members.empty()) {
    const bool existed = ctx.db().Delete(ctx.args[1]);
    ctx.w.Integer(0);
    if (existed) Notify(ctx, config::kNotifyGeneric, "del", ctx.args[1]);
    return;
  }
  const OpStatus status = ctx.db().StoreTyped(ctx.args[1], store::ValueType::kSet,
                                              BuildSet(ctx, members), store::TtlUpdate::Clear());
  if (status != OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return;
  }
  // As Redis: the reply, then the event.
  ctx.w.Integer(static_cast<int64_t>(members.size()));
  Notify(ctx, kNotifySet,
         op == SetOp::kInter   ? "sinterstore"
         : op == SetOp::kUnion ? "sunionstore"
                               : "sdiffstore",
         ctx.args[1]);
}
void SInterStore(Context& ctx) { SetOpStore(ctx, SetOp::kInter); }
void SUnionStore(Context& ctx) { SetOpStore(ctx, SetOp::kUnion); }
void SDiffStore(Context& ctx) { SetOpStore(ctx, SetOp::kDiff); }

// SINTERCARD numkeys key [key ...] [LIMIT limit]
void SInterCard(Context& ctx) {
  int64_t numkeys;
  if (!ParseInt64(ctx.args[1], &numkeys) || numkeys <= 0) {
    ctx.w.Error("numkeys should be greater than 0");
    return;
  }
  if (numkeys > static_cast<int64_t>(ctx.args.size()) - 2) {
    ctx.w.Error("Number of keys can't be greater than number of args");
    return;
  }
  int64_t limit = 0;
  for (size_t j = 2 + static_cast<size_t>(numkeys); j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "limit") && j + 1 < ctx.args.size()) {
      if (!ParseInt64(ctx.args[j + 1], &limit) || limit < 0) {
        ctx.w.Error("LIMIT can't be negative");
        return;
      }
      ++j;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  std::vector<const SetValue*> sets;
  if (!LoadSets(ctx, ctx.args.subspan(2, static_cast<size_t>(numkeys)), &sets)) return;
  ctx.w.Integer(static_cast<int64_t>(
      Combine(sets, SetOp::kInter, static_cast<size_t>(limit)).size()));
}

// SSCAN key cursor [MATCH pattern] [COUNT count]
void SScan(Context& ctx) {
  uint64_t cursor;
  const SetValue* s;
  ScanOptions opts;
  if (!BeginCollectionScan(ctx, &s, &cursor, &opts)) return;
  std::vector<std::string> found;
  cursor = s->Scan(cursor, static_cast<size_t>(opts.count), [&](std::string_view m) {
    if (!opts.has_pattern || util::GlobMatch(opts.pattern, m)) found.emplace_back(m);
  });
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(std::to_string(cursor));
  WriteMembers(ctx, found, /*as_set=*/false);
}

}  // namespace

void RegisterSetCommands(std::vector<CommandSpec>* out) {
  const std::string g = "set";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, Handler h,
                 const char* since, const char* summary, const char* complexity,
                 const char* args) {
    out->push_back({name, arity, flags, first, last, first > 0 ? 1 : 0, h, g, since, summary,
                    complexity, args, {}});
  };
  add("sadd", -3, kWr | kFast, 1, 1, SAdd, "1.0.0",
      "Adds one or more members to a set. Creates the key if it doesn't exist.",
      "O(1) for each element added, so O(N) to add N elements when the command is called "
      "with multiple arguments.",
      "key:key member:string...");
  add("srem", -3, kWrite | kFast, 1, 1, SRem, "1.0.0",
      "Removes one or more members from a set. Deletes the set if the last member was removed.",
      "O(N) where N is the number of members to be removed.", "key:key member:string...");
  add("smembers", 2, kReadOnly, 1, 1, SMembers, "1.0.0", "Returns all members of a set.",
      "O(N) where N is the set cardinality.", "key:key");
  add("sismember", 3, kReadOnly | kFast, 1, 1, SIsMember, "1.0.0",
      "Determines whether a member belongs to a set.", "O(1)", "key:key member:string");
  add("smismember", -3, kReadOnly | kFast, 1, 1, SMIsMember, "6.2.0",
      "Determines whether multiple members belong to a set.",
      "O(N) where N is the number of elements being checked for membership",
      "key:key member:string...");
  add("scard", 2, kReadOnly | kFast, 1, 1, SCard, "1.0.0",
      "Returns the number of members in a set.", "O(1)", "key:key");
  add("spop", -2, kWrite | kFast | kRandom, 1, 1, SPop, "1.0.0",
      "Returns one or more random members from a set after removing them. Deletes the set if "
      "the last member was popped.",
      "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
      "count.",
      "key:key [count:integer]");
  add("srandmember", -2, kReadOnly | kRandom, 1, 1, SRandMember, "1.0.0",
      "Get one or multiple random members from a set",
      "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
      "passed count.",
      "key:key [count:integer]");
  add("smove", 4, kWrite | kFast, 1, 2, SMove, "1.0.0",
      "Moves a member from one set to another.", "O(1)",
      "source:key destination:key member:string");
  add("sinter", -2, kReadOnly, 1, -1, SInter, "1.0.0", "Returns the intersect of multiple sets.",
      "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
      "of sets.",
      "key:key...");
  add("sintercard", -3, kReadOnly, 2, -1, SInterCard, "7.0.0",
      "Returns the number of members of the intersect of multiple sets.",
      "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
      "of sets.",
      "numkeys:integer key:key... [LIMIT=limit:integer]");
  add("sunion", -2, kReadOnly, 1, -1, SUnion, "1.0.0", "Returns the union of multiple sets.",
      "O(N) where N is the total number of elements in all given sets.", "key:key...");
  add("sdiff", -2, kReadOnly, 1, -1, SDiff, "1.0.0", "Returns the difference of multiple sets.",
      "O(N) where N is the total number of elements in all given sets.", "key:key...");
  add("sinterstore", -3, kWr, 1, -1, SInterStore, "1.0.0",
      "Stores the intersect of multiple sets in a key.",
      "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
      "of sets.",
      "destination:key key:key...");
  add("sunionstore", -3, kWr, 1, -1, SUnionStore, "1.0.0",
      "Stores the union of multiple sets in a key.",
      "O(N) where N is the total number of elements in all given sets.",
      "destination:key key:key...");
  add("sdiffstore", -3, kWr, 1, -1, SDiffStore, "1.0.0",
      "Stores the difference of multiple sets in a key.",
      "O(N) where N is the total number of elements in all given sets.",
      "destination:key key:key...");
  add("sscan", -3, kReadOnly | kRandom, 1, 1, SScan, "2.8.0",
      "Iterates over members of a set.",
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
      "the cursor to return back to 0. N is the number of elements inside the collection.",
      "key:key cursor:integer [MATCH=pattern:pattern] [COUNT=count:integer]");
}

}  // namespace causalkv::command
