// Stream commands with Redis 7.2 semantics (reply shapes in RESP2 and RESP3,
// error texts, the order of checks): XADD XLEN XRANGE XREVRANGE XDEL XTRIM
// XSETID XREAD XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XGROUP XINFO.
// The value is a store::StreamValue. Every change, consumer-group state
// included (XREADGROUP, XCLAIM, XACK), takes a fresh version of the key
// (keyspace.h: UpdateTyped), so the log and the peers carry the whole
// stream as any other write.
//
// XREAD and XREADGROUP block through the dispatcher (blocking.h): their
// CommandSpec::would_block says whether nothing could be served now, and
// resolves XREAD's `$` to the stream's last ID at the moment the client
// starts waiting; the command then runs again when one of its keys is
// written.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::OpStatus;
using store::StreamConsumer;
using store::StreamGroup;
using store::StreamId;
using store::StreamPendingEntry;
using store::StreamValue;

constexpr uint32_t kStreamEvents = config::kNotifyStream;
constexpr const char* kInvalidId = "Invalid stream ID specified as stream command argument";
constexpr const char* kXaddTooSmall =
    "The ID specified in XADD is equal or smaller than the target stream top item";
constexpr const char* kXaddZero = "The ID specified in XADD must be greater than 0-0";
constexpr const char* kExhausted =
    "The stream has exhausted the last possible ID, unable to add more items";
constexpr const char* kNeedKey =
    "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
    "the MKSTREAM option to create an empty stream automatically.";

// Redis's string2ull: decimal, no sign but an optional '+', leading
// zeros allowed, within 64 bits.
bool ParseU64(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && s[i] == '+') ++i;
  if (i == s.size()) return false;
  const char* begin = s.data() + i;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(begin, end, *out);
  return ec == std::errc() && p == end;
}

// An ID argument, as Redis's streamGenericParseIDOrReply: "-" and "+"
// (unless strict), "ms" (seq = missing_seq) or "ms-seq", and with
// seq_given "ms-*" (XADD: *seq_given false).
bool ParseId(std::string_view s, uint64_t missing_seq, bool strict, bool* seq_given,
             StreamId* id) {
  if (s.size() > 127) return false;
  if (seq_given != nullptr) *seq_given = true;
  if (s == "-" || s == "+") {
    if (strict) return false;
    *id = s == "-" ? StreamId{} : StreamId::Max();
    return true;
  }
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    id->seq = missing_seq;
    return ParseU64(s, &id->ms);
  }
  if (!ParseU64(s.substr(0, dash), &id->ms)) return false;
  std::string_view seq = s.substr(dash + 1);
  if (seq_given != nullptr && seq == "*") {
    id->seq = 0;
    *seq_given = false;
    return true;
  }
  return ParseU64(seq, &id->seq);
}

bool ParseIdOrReply(Context& ctx, std::string_view s, uint64_t missing_seq, bool strict,
                    StreamId* id) {
  if (ParseId(s, missing_seq, strict, nullptr, id)) return true;
  ctx.w.Error(kInvalidId);
  return false;
}

// An XRANGE/XPENDING bound: an ID, or "(" and an ID for an exclusive one.
bool ParseRangeBound(Context& ctx, std::string_view s, uint64_t missing_seq, bool* exclusive,
                     StreamId* id) {
  *exclusive = s.size() > 1 && s[0] == '(';
  if (*exclusive) s.remove_prefix(1);
  return ParseIdOrReply(ctx, s, missing_seq, *exclusive, id);
}

bool ParseRange(Context& ctx, std::string_view start_arg, std::string_view end_arg,
                StreamId* start, StreamId* end) {
  bool start_ex, end_ex;
  if (!ParseRangeBound(ctx, start_arg, 0, &start_ex, start) ||
      !ParseRangeBound(ctx, end_arg, UINT64_MAX, &end_ex, end)) {
    return false;
  }
  if (start_ex && !start->Increment()) {
    ctx.w.Error("invalid start ID for the interval");
    return false;
  }
  if (end_ex && !end->Decrement()) {
    ctx.w.Error("invalid end ID for the interval");
    return false;
  }
  return true;
}

void WriteId(Context& ctx, StreamId id) { ctx.w.Bulk(id.ToString()); }

// An argument as Redis's "%s" prints it in an error: up to its first NUL.
std::string CStr(std::string_view s, size_t max = std::string_view::npos) {
  return std::string(s.substr(0, std::min(s.find('\0'), max)));
}

void WriteEntry(Context& ctx, StreamId id, const std::vector<std::string_view>& fv) {
  ctx.w.ArrayHeader(2);
  WriteId(ctx, id);
  ctx.w.ArrayHeader(static_cast<int64_t>(fv.size()));
  for (std::string_view s : fv) ctx.w.Bulk(s);
}

// Entries start..end (reverse: end..start), at most count (0: all).
int64_t WriteRange(Context& ctx, const StreamValue& s, StreamId start, StreamId end,
                   uint64_t count, bool reverse) {
  std::vector<std::pair<StreamId, std::vector<std::string_view>>> entries;
  s.Range(start, end, reverse, [&](StreamId id, const std::vector<std::string_view>& fv) {
    entries.emplace_back(id, fv);
    return count == 0 || entries.size() < count;
  });
  ctx.w.ArrayHeader(static_cast<int64_t>(entries.size()));
  for (const auto& [id, fv] : entries) WriteEntry(ctx, id, fv);
  return static_cast<int64_t>(entries.size());
}

bool LookupStream(Context& ctx, std::string_view key, const StreamValue** s) {
  return LookupTyped(ctx, key, s);
}

// The mutable stream of a key, outside UpdateTyped, for the checks made
// before a change: nullptr when missing; false with WRONGTYPE written.
bool PeekStream(Context& ctx, std::string_view key, const StreamValue** s) {
  *s = nullptr;
  const OpStatus status = ctx.db().FindTyped(key, s);
  if (status == OpStatus::kWrongType) {
    ctx.w.Error(err::kWrongType);
    return false;
  }
  return true;
}

template <typename Fn>
bool UpdateStream(Context& ctx, std::string_view key, bool create, Fn&& fn) {
  return UpdateTypedValue<StreamValue>(ctx, key, create, fn);
}

// The consumer `name` of a group, created (and counted in *created) when
// missing; its seen time is now, as every command naming it sets (7.2).
StreamConsumer* SeeConsumer(StreamGroup* g, std::string_view name, int64_t now, bool* created) {
  auto [it, fresh] = g->consumers.try_emplace(std::string(name));
  if (fresh) *created = true;
  it->second.seen_time = now;
  return &it->second;
}

// --- Trimming arguments (XADD, XTRIM) ---------------------------------------

struct TrimArgs {
  enum class Strategy { kNone, kMaxLen, kMinId } strategy = Strategy::kNone;
  bool approx = false;
  uint64_t maxlen = 0;
  StreamId minid;
  int64_t limit = -1;  // -1: not given
  bool nomkstream = false;
  bool id_given = false;
  bool seq_given = true;
  StreamId id;
  size_t next = 0;  // XADD: the first field
};

// Redis's streamParseAddOrTrimArgsOrReply. False with the error written.
bool ParseTrimArgs(Context& ctx, bool xadd, TrimArgs* a) {
  size_t i = 2;
  const size_t argc = ctx.args.size();
  for (; i < argc; ++i) {
    const size_t more = argc - 1 - i;
    std::string_view opt = ctx.args[i];
    if (xadd && opt == "*") {
      break;
    } else if ((EqualsIgnoreCase(opt, "maxlen") || EqualsIgnoreCase(opt, "minid")) && more > 0) {
      const bool maxlen = EqualsIgnoreCase(opt, "maxlen");
      const TrimArgs::Strategy other =
          maxlen ? TrimArgs::Strategy::kMinId : TrimArgs::Strategy::kMaxLen;
      if (a->strategy == other) {
        ctx.w.Error("syntax error, MAXLEN and MINID options at the same time are not compatible");
        return false;
      }
      a->approx = false;
      std::string_view next = ctx.args[i + 1];
      if (more >= 2 && (next == "~" || next == "=")) {
        a->approx = next == "~";
        ++i;
      }
      if (!maxlen) {
        if (!ParseIdOrReply(ctx, ctx.args[i + 1], 0, false, &a->minid)) return false;
        a->strategy = TrimArgs::Strategy::kMinId;
        ++i;
        continue;
      }
      int64_t n;
      if (!ParseInt64(ctx.args[i + 1], &n)) {
        ctx.w.Error(err::kNotInteger);
        return false;
      }
      if (n < 0) {
        ctx.w.Error("The MAXLEN argument must be >= 0.");
        return false;
      }
      a->maxlen = static_cast<uint64_t>(n);
      a->strategy = TrimArgs::Strategy::kMaxLen;
      ++i;
    } else if (EqualsIgnoreCase(opt, "limit") && more > 0) {
      int64_t n;
      if (!ParseInt64(ctx.args[i + 1], &n)) {
        ctx.w.Error(err::kNotInteger);
        return false;
      }
      if (n < 0) {
        ctx.w.Error("The LIMIT argument must be >= 0.");
        return false;
      }
      a->limit = n;
      ++i;
    } else if (xadd && EqualsIgnoreCase(opt, "nomkstream")) {
      a->nomkstream = true;
    } else if (xadd) {
      bool seq_given;
      if (!ParseId(opt, 0, true, &seq_given, &a->id)) {
        ctx.w.Error(kInvalidId);
        return false;
      }
      a->id_given = true;
      a->seq_given = seq_given;
      break;
    } else {
      ctx.w.Error(err::kSyntax);
      return false;
    }
  }
  a->next = i + 1;
  if (a->limit >= 0 && a->strategy == TrimArgs::Strategy::kNone) {
    ctx.w.Error("syntax error, LIMIT cannot be used without specifying a trimming strategy");
    return false;
  }
  if (a->limit >= 0 && !a->approx) {
    ctx.w.Error("syntax error, LIMIT cannot be used without the special ~ option");
    return false;
  }
  return true;
}

uint64_t ApplyTrim(StreamValue* s, const TrimArgs& a, const store::CollectionLimits& limits) {
  uint64_t limit = 0;
  if (a.approx) {
    if (a.limit >= 0) {
      limit = static_cast<uint64_t>(a.limit);
    } else {
      // Redis's default effort for "~": a hundred nodes' worth.
      limit = limits.stream_node_max_entries == 0 ? 10000
                                                  : 100 * limits.stream_node_max_entries;
      limit = std::min<uint64_t>(limit, 1000000);
    }
  }
  if (a.strategy == TrimArgs::Strategy::kMaxLen) return s->TrimMaxLen(a.maxlen, a.approx, limit);
  if (a.strategy == TrimArgs::Strategy::kMinId) return s->TrimMinId(a.minid, a.approx, limit);
  return 0;
}

// --- XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID ---------------------------

void XAdd(Context& ctx) {
  TrimArgs a;
  if (!ParseTrimArgs(ctx, true, &a)) return;
  const size_t fields = ctx.args.size() - std::min(a.next, ctx.args.size());
  if (fields < 2 || fields % 2 == 1) {
    ctx.w.Error("wrong number of arguments for 'xadd' command");
    return;
  }
  if (a.id_given && a.seq_given && a.id.IsZero()) {
    ctx.w.Error(kXaddZero);
    return;
  }
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr && a.nomkstream) {
    ctx.w.Null();
    return;
  }
  std::vector<std::string_view> fv(ctx.args.begin() + a.next, ctx.args.end());
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  const int64_t now = ctx.store.now_ms();
  bool added = false, trimmed = false;
  UpdateStream(ctx, ctx.args[1], true, [&](StreamValue* s) {
    const StreamId last = s->last_id();
    if (last == StreamId::Max()) {
      ctx.w.Error(kExhausted);
      return false;
    }
    StreamId id;
    if (!a.id_given) {
      if (static_cast<uint64_t>(now) > last.ms) {
        id = {static_cast<uint64_t>(now), 0};
      } else {
        id = last;
        id.Increment();
      }
    } else if (!a.seq_given) {
      id = a.id;
      if (a.id.ms == last.ms) {
        if (last.seq == UINT64_MAX) {
          ctx.w.Error(kXaddTooSmall);
          return false;
        }
        id.seq = last.seq + 1;
      } else if (a.id.ms < last.ms) {
        ctx.w.Error(kXaddTooSmall);
        return false;
      }
    } else {
      id = a.id;
      if (id <= last) {
        ctx.w.Error(kXaddTooSmall);
        return false;
      }
    }
    s->Append(id, fv, limits);
    WriteId(ctx, id);
    trimmed = ApplyTrim(s, a, limits) > 0;
    added = true;
    return true;
  });
  if (added) Notify(ctx, kStreamEvents, "xadd", ctx.args[1]);
  if (trimmed) Notify(ctx, kStreamEvents, "xtrim", ctx.args[1]);
}

void XLen(Context& ctx) {
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[1], &s)) return;
  ctx.w.Integer(s == nullptr ? 0 : static_cast<int64_t>(s->size()));
}

void RangeGeneric(Context& ctx, bool reverse) {
  StreamId start, end;
  if (!ParseRange(ctx, ctx.args[reverse ? 3 : 2], ctx.args[reverse ? 2 : 3], &start, &end)) {
    return;
  }
  int64_t count = -1;
  for (size_t i = 4; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "count") && i + 1 < ctx.args.size()) {
      if (!ParseInt64(ctx.args[i + 1], &count)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (count < 0) count = 0;
      ++i;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[1], &s)) return;
  if (s == nullptr) {
    ctx.w.ArrayHeader(0);
    return;
  }
  if (count == 0) {
    ctx.w.NullArray();
    return;
  }
  WriteRange(ctx, *s, start, end, count < 0 ? 0 : static_cast<uint64_t>(count), reverse);
}

void XRange(Context& ctx) { RangeGeneric(ctx, false); }
void XRevRange(Context& ctx) { RangeGeneric(ctx, true); }

void XDel(Context& ctx) {
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr) {
    ctx.w.Integer(0);
    return;
  }
  std::vector<StreamId> ids;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    StreamId id;
    if (!ParseIdOrReply(ctx, ctx.args[i], 0, true, &id)) return;
    ids.push_back(id);
  }
  int64_t deleted = 0;
  if (!UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
        for (StreamId id : ids) deleted += s->Delete(id) ? 1 : 0;
        return deleted > 0;
      })) {
    return;
  }
  if (deleted > 0) Notify(ctx, kStreamEvents, "xdel", ctx.args[1]);
  ctx.w.Integer(deleted);
}

void XTrim(Context& ctx) {
  TrimArgs a;
  if (!ParseTrimArgs(ctx, false, &a)) return;
  if (a.strategy == TrimArgs::Strategy::kNone) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const store::CollectionLimits& limits = ctx.db().collection_limits();
  uint64_t removed = 0;
  if (!UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
        removed = ApplyTrim(s, a, limits);
        return removed > 0;
      })) {
    return;
  }
  if (removed > 0) Notify(ctx, kStreamEvents, "xtrim", ctx.args[1]);
  ctx.w.Integer(static_cast<int64_t>(removed));
}

void XSetId(Context& ctx) {
  StreamId id;
  if (!ParseIdOrReply(ctx, ctx.args[2], 0, true, &id)) return;
  int64_t entries_added = -1;
  StreamId max_xdel;
  bool has_max_xdel = false;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    const bool more = i + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[i], "entriesadded") && more) {
      if (!ParseInt64(ctx.args[i + 1], &entries_added)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (entries_added < 0) {
        ctx.w.Error("entries_added must be positive");
        return;
      }
      ++i;
    } else if (EqualsIgnoreCase(ctx.args[i], "maxdeletedid") && more) {
      if (!ParseIdOrReply(ctx, ctx.args[i + 1], 0, true, &max_xdel)) return;
      if (id < max_xdel) {
        ctx.w.Error("The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
        return;
      }
      has_max_xdel = true;
      ++i;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr) {
    ctx.w.Error(err::kNoSuchKey);
    return;
  }
  UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
    if (s->size() > 0 && id < s->LastEntryId()) {
      ctx.w.Error("The ID specified in XSETID is smaller than the target stream top item");
      return false;
    }
    if (s->size() > 0 && entries_added != -1 &&
        static_cast<uint64_t>(entries_added) < s->size()) {
      ctx.w.Error("The entries_added specified in XSETID is smaller than the target stream length");
      return false;
    }
    s->set_last_id(id);
    if (entries_added != -1) s->set_entries_added(static_cast<uint64_t>(entries_added));
    if (has_max_xdel) s->set_max_deleted_id(max_xdel);
    ctx.w.Ok();
    Notify(ctx, kStreamEvents, "xsetid", ctx.args[1]);
    return true;
  });
}

// --- XREAD / XREADGROUP -----------------------------------------------------

struct ReadArgs {
  int64_t count = 0;
  bool block = false;
  int64_t block_ms = 0;
  bool noack = false;
  std::string_view group;
  std::string_view consumer;
  size_t streams = 0;  // index of the first key
  size_t nkeys = 0;
};

// Parses XREAD / XREADGROUP options; `error` (nullable) receives Redis's
// error text. The IDs are checked by the caller.
bool ParseReadArgs(std::span<const std::string_view> args, bool group, ReadArgs* r,
                   std::string* error, bool in_script = false, int64_t now_ms = 0) {
  auto fail = [&](std::string text) {
    if (error != nullptr) *error = std::move(text);
    return false;
  };
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t more = args.size() - 1 - i;
    std::string_view opt = args[i];
    if (EqualsIgnoreCase(opt, "block") && more > 0) {
      if (in_script) {
        return fail(CStr(args[0]) + " command is not allowed with BLOCK option from scripts");
      }
      ++i;
      if (!ParseInt64(args[i], &r->block_ms)) return fail("timeout is not an integer or out of range");
      if (r->block_ms < 0) return fail("timeout is negative");
      // Redis 7.2 checks that the deadline fits (7.0 wrapped around).
      if (r->block_ms > INT64_MAX - now_ms) return fail("timeout is out of range");
      r->block = true;
    } else if (EqualsIgnoreCase(opt, "count") && more > 0) {
      ++i;
      if (!ParseInt64(args[i], &r->count)) return fail(err::kNotInteger);
      if (r->count < 0) r->count = 0;
    } else if (EqualsIgnoreCase(opt, "streams") && more > 0) {
      r->streams = i + 1;
      const size_t n = args.size() - r->streams;
      if (n % 2 != 0) {
        // Redis 7.2's text (7.0 said XREAD for both, without quotes).
        return fail(group ? "Unbalanced 'xreadgroup' list of streams: for each stream key an ID "
                            "or '>' must be specified."
                          : "Unbalanced 'xread' list of streams: for each stream key an ID or "
                            "'$' must be specified.");
      }
      r->nkeys = n / 2;
      break;
    } else if (group && EqualsIgnoreCase(opt, "group") && more >= 2) {
      r->group = args[i + 1];
      r->consumer = args[i + 2];
      i += 2;
    } else if (group && EqualsIgnoreCase(opt, "noack")) {
      r->noack = true;
    } else {
      return fail(err::kSyntax);
    }
  }
  if (r->streams == 0) return fail(err::kSyntax);
  if (group && r->group.empty() && r->consumer.empty()) {
    return fail("Missing GROUP option for XREADGROUP");
  }
  return true;
}

void XReadKeys(std::span<const std::string_view> args, std::vector<std::string_view>* keys) {
  // Redis's xreadGetKeys: the keys follow STREAMS, skipping option values.
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "block") || EqualsIgnoreCase(args[i], "count")) {
      ++i;
    } else if (EqualsIgnoreCase(args[i], "group")) {
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "streams")) {
      const size_t n = (args.size() - i - 1) / 2;
      for (size_t k = 0; k < n; ++k) keys->push_back(args[i + 1 + k]);
      return;
    }
  }
}

bool XReadBlockingArgs(std::span<const std::string_view> args,
                       std::vector<std::string_view>* keys, std::string_view* timeout) {
  ReadArgs r;
  const bool group = EqualsIgnoreCase(args[0], "xreadgroup");
  if (!ParseReadArgs(args, group, &r, nullptr) || !r.block) return false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "block")) {
      *timeout = args[i + 1];
      break;
    }
    if (EqualsIgnoreCase(args[i], "streams")) break;
    if (EqualsIgnoreCase(args[i], "count")) ++i;
    if (group && EqualsIgnoreCase(args[i], "group")) i += 2;
  }
  for (size_t k = 0; k < r.nkeys; ++k) keys->push_back(args[r.streams + k]);
  return true;
}

// Whether XREAD would find nothing now; resolves "$" in *rewritten.
bool XReadWouldBlock(store::Keyspace& ks, std::span<const std::string_view> args,
                     std::vector<std::string>* rewritten) {
  ReadArgs r;
  if (!ParseReadArgs(args, false, &r, nullptr)) return false;
  bool dollar = false;
  for (size_t k = 0; k < r.nkeys; ++k) dollar = dollar || args[r.streams + r.nkeys + k] == "$";
  if (dollar && rewritten != nullptr) rewritten->assign(args.begin(), args.end());
  bool would_block = true;
  for (size_t k = 0; k < r.nkeys; ++k) {
    const StreamValue* s = nullptr;
    const OpStatus status = ks.FindTyped(args[r.streams + k], &s);
    if (status == OpStatus::kWrongType) return false;  // the command reports it
    std::string_view arg = args[r.streams + r.nkeys + k];
    StreamId id;
    if (arg == "$") {
      id = s == nullptr ? StreamId{} : s->last_id();
      if (rewritten != nullptr) (*rewritten)[r.streams + r.nkeys + k] = id.ToString();
    } else if (!ParseId(arg, 0, true, nullptr, &id)) {
      return false;
    }
    if (s != nullptr && s->size() > 0 && s->LastEntryId() > id) would_block = false;
  }
  return would_block;
}

bool XReadGroupWouldBlock(store::Keyspace& ks, std::span<const std::string_view> args,
                          std::vector<std::string>*) {
  ReadArgs r;
  if (!ParseReadArgs(args, true, &r, nullptr)) return false;
  for (size_t k = 0; k < r.nkeys; ++k) {
    const StreamValue* s = nullptr;
    if (ks.FindTyped(args[r.streams + k], &s) != OpStatus::kOk) return false;
    auto g = s->groups().find(r.group);
    if (g == s->groups().end()) return false;  // the command reports NOGROUP
    if (args[r.streams + r.nkeys + k] != ">") return false;  // history is served at once
    if (s->size() > 0 && s->LastEntryId() > g->second.last_id) return false;
  }
  return true;
}

// Delivers new entries (">") to a consumer: Redis's streamReplyWithRange
// with a group. Writes the entries array.
void DeliverNew(Context& ctx, StreamValue* s, StreamGroup* g, StreamConsumer* consumer,
                std::string_view consumer_name, uint64_t count, bool noack, int64_t now) {
  StreamId start = g->last_id;
  start.Increment();
  std::vector<std::pair<StreamId, std::vector<std::string_view>>> entries;
  s->Range(start, StreamId::Max(), false, [&](StreamId id, const std::vector<std::string_view>& fv) {
    entries.emplace_back(id, fv);
    return count == 0 || entries.size() < count;
  });
  ctx.w.ArrayHeader(static_cast<int64_t>(entries.size()));
  for (const auto& [id, fv] : entries) {
    if (id > g->last_id) {
      if (g->entries_read != StreamValue::kInvalidEntriesRead &&
          !s->RangeHasTombstones(id, StreamId::Max())) {
        ++g->entries_read;
      } else if (s->entries_added() != 0) {
        g->entries_read = s->EstimateEntriesRead(id);
      }
      g->last_id = id;
    }
    WriteEntry(ctx, id, fv);
    if (noack) continue;
    auto [it, fresh] = g->pel.try_emplace(id);
    if (!fresh) {
      // Re-delivered after SETID went back: it moves to this consumer.
      auto old = g->consumers.find(it->second.consumer);
      if (old != g->consumers.end()) old->second.pending.erase(id);
    }
    it->second = StreamPendingEntry{std::string(consumer_name), now, 1};
    consumer->pending.insert(id);
  }
  if (!entries.empty()) consumer->active_time = now;
}

// The consumer's own pending entries after `after` (history reads).
void DeliverHistory(Context& ctx, StreamValue* s, StreamGroup* g, StreamConsumer* consumer,
                    StreamId after, uint64_t count, int64_t now) {
  std::vector<StreamId> ids;
  StreamId start = after;
  if (!start.Increment()) {
    ctx.w.ArrayHeader(0);
    return;
  }
  for (auto it = consumer->pending.lower_bound(start);
       it != consumer->pending.end() && (count == 0 || ids.size() < count); ++it) {
    ids.push_back(*it);
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(ids.size()));
  std::vector<std::string_view> fv;
  for (StreamId id : ids) {
    if (s->Lookup(id, &fv)) {
      WriteEntry(ctx, id, fv);
      StreamPendingEntry& pe = g->pel.at(id);
      pe.delivery_time = now;
      ++pe.delivery_count;
    } else {
      ctx.w.ArrayHeader(2);
      WriteId(ctx, id);
      ctx.w.NullArray();
    }
  }
}

void ReadGeneric(Context& ctx, bool group) {
  ReadArgs r;
  std::string error;
  if (!ParseReadArgs(ctx.args, group, &r, &error, ctx.client.in_script, ctx.store.now_ms())) {
    ctx.w.Error(error);
    return;
  }
  const size_t ids_at = r.streams + r.nkeys;
  std::vector<StreamId> ids(r.nkeys);
  std::vector<bool> new_only(r.nkeys, false);
  for (size_t k = 0; k < r.nkeys; ++k) {
    std::string_view key = ctx.args[r.streams + k];
    std::string_view arg = ctx.args[ids_at + k];
    const StreamValue* s = nullptr;
    const OpStatus status = ctx.db().FindTyped(key, &s);
    if (status == OpStatus::kWrongType) {
      ctx.w.Error(err::kWrongType);
      return;
    }
    if (group) {
      if (s == nullptr || s->groups().find(r.group) == s->groups().end()) {
        ctx.w.Error("-NOGROUP No such key '" + CStr(key) + "' or consumer group '" +
                    CStr(r.group) + "' in XREADGROUP with GROUP option");
        return;
      }
      if (arg == ">") {
        new_only[k] = true;
        continue;
      }
      if (arg == "$") {
        ctx.w.Error("The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                    "history of this consumer by specifying a proper ID, or use the > ID to get "
                    "new messages. The $ ID would just return an empty result set.");
        return;
      }
    } else {
      if (arg == "$") {
        ids[k] = s == nullptr ? StreamId{} : s->last_id();
        continue;
      }
      if (arg == ">") {
        ctx.w.Error("The > ID can be specified only when calling XREADGROUP using the GROUP "
                    "<group> <consumer> option.");
        return;
      }
    }
    if (!ParseIdOrReply(ctx, arg, 0, true, &ids[k])) return;
  }
  // Which streams are served: XREAD those with an entry above the ID, a
  // group those with history asked for or entries past last-delivered.
  std::vector<size_t> served;
  for (size_t k = 0; k < r.nkeys; ++k) {
    const StreamValue* s = nullptr;
    ctx.db().FindTyped(ctx.args[r.streams + k], &s);
    if (s == nullptr) continue;
    if (group && !new_only[k]) {
      served.push_back(k);
    } else if (s->size() > 0) {
      const StreamId after = group ? s->groups().find(r.group)->second.last_id : ids[k];
      if (s->LastEntryId() > after) served.push_back(k);
    }
  }
  // A group read creates (and sees) its consumer in every stream it names,
  // as 7.2 does, served or not; a key takes a fresh version where something
  // is served or the consumer is new.
  if (served.empty()) {
    if (group) {
      const int64_t now = ctx.store.now_ms();
      for (size_t k = 0; k < r.nkeys; ++k) {
        bool created = false;
        UpdateStream(ctx, ctx.args[r.streams + k], false, [&](StreamValue* s) {
          SeeConsumer(s->FindGroup(r.group), r.consumer, now, &created);
          return created;
        });
        if (created) {
          Notify(ctx, kStreamEvents, "xgroup-createconsumer", ctx.args[r.streams + k]);
        }
      }
    }
    ctx.w.NullArray();
    return;
  }
  if (ctx.client.protocol >= 3) {
    ctx.w.MapHeader(static_cast<int64_t>(served.size()));
  } else {
    ctx.w.ArrayHeader(static_cast<int64_t>(served.size()));
  }
  const uint64_t count = static_cast<uint64_t>(r.count);
  for (size_t k : served) {
    std::string_view key = ctx.args[r.streams + k];
    if (ctx.client.protocol < 3) ctx.w.ArrayHeader(2);
    ctx.w.Bulk(key);
    if (!group) {
      const StreamValue* s = nullptr;
      ctx.db().FindTyped(key, &s);
      StreamId start = ids[k];
      start.Increment();
      WriteRange(ctx, *s, start, StreamId::Max(), count, false);
      continue;
    }
    const int64_t now = ctx.store.now_ms();
    bool created = false;
    UpdateStream(ctx, key, false, [&](StreamValue* s) {
      StreamGroup* g = s->FindGroup(r.group);
      StreamConsumer* c = SeeConsumer(g, r.consumer, now, &created);
      if (new_only[k]) {
        DeliverNew(ctx, s, g, c, r.consumer, count, r.noack, now);
      } else {
        DeliverHistory(ctx, s, g, c, ids[k], count, now);
      }
      return true;
    });
    if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", key);
  }
  if (group) {
    // Streams not served still saw the consumer.
    const int64_t now = ctx.store.now_ms();
    for (size_t k = 0; k < r.nkeys; ++k) {
      if (std::find(served.begin(), served.end(), k) != served.end()) continue;
      bool created = false;
      UpdateStream(ctx, ctx.args[r.streams + k], false, [&](StreamValue* s) {
        SeeConsumer(s->FindGroup(r.group), r.consumer, now, &created);
        return created;
      });
      if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", ctx.args[r.streams + k]);
    }
  }
}

// An XREADGROUP that starts waiting has created (and seen) its consumer in
// every stream it names, as 7.2's first run does.
void XReadGroupOnBlock(Context& ctx) {
  ReadArgs r;
  if (!ParseReadArgs(ctx.args, true, &r, nullptr)) return;
  const int64_t now = ctx.store.now_ms();
  for (size_t k = 0; k < r.nkeys; ++k) {
    std::string_view key = ctx.args[r.streams + k];
    bool created = false;
    UpdateStream(ctx, key, false, [&](StreamValue* s) {
      StreamGroup* g = s->FindGroup(r.group);
      if (g != nullptr) SeeConsumer(g, r.consumer, now, &created);
      return created;
    });
    if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", key);
  }
}

void XRead(Context& ctx) { ReadGeneric(ctx, false); }
void XReadGroup(Context& ctx) { ReadGeneric(ctx, true); }

// --- XACK XPENDING XCLAIM XAUTOCLAIM ----------------------------------------

std::string NoGroup(std::string_view key, std::string_view group) {
  return "-NOGROUP No such key '" + CStr(key) + "' or consumer group '" + CStr(group) + "'";
}

void RemovePending(StreamGroup* g, std::map<StreamId, StreamPendingEntry>::iterator it) {
  auto c = g->consumers.find(it->second.consumer);
  if (c != g->consumers.end()) c->second.pending.erase(it->first);
  g->pel.erase(it);
}

void XAck(Context& ctx) {
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr || existing->groups().find(ctx.args[2]) == existing->groups().end()) {
    ctx.w.Integer(0);
    return;
  }
  std::vector<StreamId> ids;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    StreamId id;
    if (!ParseIdOrReply(ctx, ctx.args[i], 0, true, &id)) return;
    ids.push_back(id);
  }
  int64_t acked = 0;
  UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
    StreamGroup* g = s->FindGroup(ctx.args[2]);
    for (StreamId id : ids) {
      auto it = g->pel.find(id);
      if (it == g->pel.end()) continue;
      RemovePending(g, it);
      ++acked;
    }
    return acked > 0;
  });
  ctx.w.Integer(acked);
}

void XPending(Context& ctx) {
  const size_t argc = ctx.args.size();
  const bool summary = argc == 3;
  int64_t min_idle = 0;
  StreamId start, end;
  int64_t count = 0;
  std::string_view consumer;
  bool has_consumer = false;
  if (!summary) {
    size_t i = 3;
    if (argc < 6) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    if (EqualsIgnoreCase(ctx.args[3], "idle")) {
      if (!ParseInt64(ctx.args[4], &min_idle)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (argc < 8) {
        ctx.w.Error(err::kSyntax);
        return;
      }
      i += 2;
    }
    if (argc > i + 4) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    if (!ParseRange(ctx, ctx.args[i], ctx.args[i + 1], &start, &end)) return;
    if (!ParseInt64(ctx.args[i + 2], &count)) {
      ctx.w.Error(err::kNotInteger);
      return;
    }
    if (count < 0) count = 0;
    if (argc == i + 4) {
      consumer = ctx.args[i + 3];
      has_consumer = true;
    }
  }
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[1], &s)) return;
  auto git = s == nullptr ? decltype(s->groups().end()){} : s->groups().find(ctx.args[2]);
  if (s == nullptr || git == s->groups().end()) {
    ctx.w.Error(NoGroup(ctx.args[1], ctx.args[2]));
    return;
  }
  const StreamGroup& g = git->second;
  if (summary) {
    ctx.w.ArrayHeader(4);
    ctx.w.Integer(static_cast<int64_t>(g.pel.size()));
    if (g.pel.empty()) {
      ctx.w.Null();
      ctx.w.Null();
      ctx.w.NullArray();
      return;
    }
    WriteId(ctx, g.pel.begin()->first);
    WriteId(ctx, g.pel.rbegin()->first);
    int64_t with_pending = 0;
    for (const auto& [name, c] : g.consumers) with_pending += c.pending.empty() ? 0 : 1;
    ctx.w.ArrayHeader(with_pending);
    for (const auto& [name, c] : g.consumers) {
      if (c.pending.empty()) continue;
      ctx.w.ArrayHeader(2);
      ctx.w.Bulk(name);
      ctx.w.Bulk(std::to_string(c.pending.size()));
    }
    return;
  }
  const int64_t now = ctx.store.now_ms();
  std::vector<std::pair<StreamId, const StreamPendingEntry*>> out;
  auto consider = [&](StreamId id) {
    const StreamPendingEntry& pe = g.pel.at(id);
    if (min_idle > 0 && now - pe.delivery_time < min_idle) return;
    out.emplace_back(id, &pe);
  };
  if (has_consumer) {
    auto c = g.consumers.find(consumer);
    if (c != g.consumers.end()) {
      for (auto it = c->second.pending.lower_bound(start);
           it != c->second.pending.end() && *it <= end && out.size() < static_cast<uint64_t>(count);
           ++it) {
        consider(*it);
      }
    }
  } else {
    for (auto it = g.pel.lower_bound(start);
         it != g.pel.end() && it->first <= end && out.size() < static_cast<uint64_t>(count); ++it) {
      consider(it->first);
    }
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(out.size()));
  for (const auto& [id, pe] : out) {
    ctx.w.ArrayHeader(4);
    WriteId(ctx, id);
    ctx.w.Bulk(pe->consumer);
    ctx.w.Integer(std::max<int64_t>(0, now - pe->delivery_time));
    ctx.w.Integer(static_cast<int64_t>(pe->delivery_count));
  }
}

// Gives the pending entry `it` to `consumer`.
void MovePending(StreamGroup* g, std::map<StreamId, StreamPendingEntry>::iterator it,
                 std::string_view consumer) {
  if (it->second.consumer == consumer) return;
  auto old = g->consumers.find(it->second.consumer);
  if (old != g->consumers.end()) old->second.pending.erase(it->first);
  it->second.consumer = std::string(consumer);
  g->consumers[std::string(consumer)].pending.insert(it->first);
}

void XClaim(Context& ctx) {
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr || existing->groups().find(ctx.args[2]) == existing->groups().end()) {
    ctx.w.Error(NoGroup(ctx.args[1], ctx.args[2]));
    return;
  }
  int64_t min_idle;
  if (!ParseInt64(ctx.args[4], &min_idle)) {
    ctx.w.Error("Invalid min-idle-time argument for XCLAIM");
    return;
  }
  if (min_idle < 0) min_idle = 0;
  std::vector<StreamId> ids;
  size_t j = 5;
  for (; j < ctx.args.size(); ++j) {
    StreamId id;
    if (!ParseId(ctx.args[j], 0, true, nullptr, &id)) break;
    ids.push_back(id);
  }
  const int64_t now = ctx.store.now_ms();
  int64_t delivery_time = -1;
  int64_t retry_count = -1;
  bool force = false, justid = false;
  StreamId last_id;
  for (; j < ctx.args.size(); ++j) {
    const bool more = j + 1 < ctx.args.size();
    std::string_view opt = ctx.args[j];
    if (EqualsIgnoreCase(opt, "force")) {
      force = true;
    } else if (EqualsIgnoreCase(opt, "justid")) {
      justid = true;
    } else if (EqualsIgnoreCase(opt, "idle") && more) {
      if (!ParseInt64(ctx.args[++j], &delivery_time)) {
        ctx.w.Error("Invalid IDLE option argument for XCLAIM");
        return;
      }
      delivery_time = now - delivery_time;
    } else if (EqualsIgnoreCase(opt, "time") && more) {
      if (!ParseInt64(ctx.args[++j], &delivery_time)) {
        ctx.w.Error("Invalid TIME option argument for XCLAIM");
        return;
      }
    } else if (EqualsIgnoreCase(opt, "retrycount") && more) {
      if (!ParseInt64(ctx.args[++j], &retry_count)) {
        ctx.w.Error("Invalid RETRYCOUNT option argument for XCLAIM");
        return;
      }
    } else if (EqualsIgnoreCase(opt, "lastid") && more) {
      if (!ParseIdOrReply(ctx, ctx.args[++j], 0, true, &last_id)) return;
    } else {
      ctx.w.Error("Unrecognized XCLAIM option '" + CStr(opt) + "'");
      return;
    }
  }
  if (delivery_time < 0 || delivery_time > now) delivery_time = now;
  std::string_view name = ctx.args[3];
  bool created = false;
  UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
    StreamGroup* g = s->FindGroup(ctx.args[2]);
    if (last_id > g->last_id) g->last_id = last_id;
    StreamConsumer* consumer = SeeConsumer(g, name, now, &created);
    std::vector<StreamId> claimed;
    std::vector<std::string_view> fv;
    for (StreamId id : ids) {
      auto it = g->pel.find(id);
      if (!s->Lookup(id, &fv)) {
        if (it != g->pel.end()) RemovePending(g, it);
        continue;
      }
      // FORCE makes a pending entry from nothing (no owner, no idle time).
      bool forced = false;
      if (it == g->pel.end()) {
        if (!force) continue;
        it = g->pel.emplace(id, StreamPendingEntry{std::string(), now, 1}).first;
        forced = true;
      }
      if (!forced && min_idle > 0 && now - it->second.delivery_time < min_idle) continue;
      if (forced) {
        it->second.consumer = std::string(name);
        consumer->pending.insert(id);
      } else {
        MovePending(g, it, name);
      }
      it->second.delivery_time = delivery_time;
      if (retry_count >= 0) {
        it->second.delivery_count = static_cast<uint64_t>(retry_count);
      } else if (!justid) {
        ++it->second.delivery_count;
      }
      claimed.push_back(id);
      consumer->active_time = now;
    }
    ctx.w.ArrayHeader(static_cast<int64_t>(claimed.size()));
    for (StreamId id : claimed) {
      if (justid) {
        WriteId(ctx, id);
      } else if (s->Lookup(id, &fv)) {
        WriteEntry(ctx, id, fv);
      } else {
        ctx.w.Null();
      }
    }
    return true;
  });
  if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", ctx.args[1]);
}

void XAutoClaim(Context& ctx) {
  int64_t min_idle;
  if (!ParseInt64(ctx.args[4], &min_idle)) {
    ctx.w.Error("Invalid min-idle-time argument for XAUTOCLAIM");
    return;
  }
  if (min_idle < 0) min_idle = 0;
  StreamId start;
  bool start_ex;
  if (!ParseRangeBound(ctx, ctx.args[5], 0, &start_ex, &start)) return;
  if (start_ex && !start.Increment()) {
    ctx.w.Error("invalid start ID for the interval");
    return;
  }
  int64_t count = 100;
  bool justid = false;
  const int64_t kMaxCount = LONG_MAX / (static_cast<int64_t>(sizeof(StreamId)) * 2);  // as Redis
  for (size_t j = 6; j < ctx.args.size(); ++j) {
    const bool more = j + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[j], "count") && more) {
      if (!ParseInt64(ctx.args[j + 1], &count) || count < 1 || count > kMaxCount) {
        ctx.w.Error("COUNT must be > 0");
        return;
      }
      ++j;
    } else if (EqualsIgnoreCase(ctx.args[j], "justid")) {
      justid = true;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  const StreamValue* existing;
  if (!PeekStream(ctx, ctx.args[1], &existing)) return;
  if (existing == nullptr || existing->groups().find(ctx.args[2]) == existing->groups().end()) {
    ctx.w.Error(NoGroup(ctx.args[1], ctx.args[2]));
    return;
  }
  const int64_t now = ctx.store.now_ms();
  std::string_view name = ctx.args[3];
  bool created = false;
  UpdateStream(ctx, ctx.args[1], false, [&](StreamValue* s) {
    StreamGroup* g = s->FindGroup(ctx.args[2]);
    StreamConsumer* consumer = SeeConsumer(g, name, now, &created);
    std::vector<StreamId> claimed, deleted;
    std::vector<std::string_view> fv;
    // Redis scans at most count * 10 PEL entries per call.
    int64_t attempts = count * 10;
    auto it = g->pel.lower_bound(start);
    while (attempts-- > 0 && count > 0 && it != g->pel.end()) {
      const StreamId id = it->first;
      if (!s->Lookup(id, &fv)) {
        deleted.push_back(id);
        auto next = std::next(it);
        RemovePending(g, it);
        it = next;
        --count;
        continue;
      }
      if (min_idle > 0 && now - it->second.delivery_time < min_idle) {
        ++it;
        continue;
      }
      MovePending(g, it, name);
      it->second.delivery_time = now;
      if (!justid) ++it->second.delivery_count;
      claimed.push_back(id);
      consumer->active_time = now;
      --count;
      ++it;
    }
    const StreamId next_start = it == g->pel.end() ? StreamId{} : it->first;
    ctx.w.ArrayHeader(3);
    WriteId(ctx, next_start);
    ctx.w.ArrayHeader(static_cast<int64_t>(claimed.size()));
    for (StreamId id : claimed) {
      if (justid) {
        WriteId(ctx, id);
      } else {
        s->Lookup(id, &fv);
        WriteEntry(ctx, id, fv);
      }
    }
    ctx.w.ArrayHeader(static_cast<int64_t>(deleted.size()));
    for (StreamId id : deleted) WriteId(ctx, id);
    return true;
  });
  if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", ctx.args[1]);
}

// --- XGROUP -----------------------------------------------------------------

bool ParseEntriesRead(Context& ctx, std::string_view arg, int64_t* out) {
  if (!ParseInt64(arg, out)) {
    ctx.w.Error(err::kNotInteger);
    return false;
  }
  if (*out < 0 && *out != StreamValue::kInvalidEntriesRead) {
    ctx.w.Error("value for ENTRIESREAD must be positive or -1");
    return false;
  }
  return true;
}

// The checks every XGROUP subcommand but HELP starts with, in Redis's
// order. False with the reply written.
bool XGroupPreamble(Context& ctx, bool may_create, const StreamValue** s) {
  if (!PeekStream(ctx, ctx.args[2], s)) return false;
  if (*s == nullptr && !may_create) {
    ctx.w.Error(kNeedKey);
    return false;
  }
  return true;
}

bool NeedGroup(Context& ctx, const StreamValue* s) {
  if (s->groups().find(ctx.args[3]) != s->groups().end()) return true;
  ctx.w.Error("-NOGROUP No such consumer group '" + CStr(ctx.args[3]) + "' for key name '" +
              CStr(ctx.args[2]) + "'");
  return false;
}

void XGroupCreate(Context& ctx) {
  bool mkstream = false;
  int64_t entries_read = StreamValue::kInvalidEntriesRead;
  for (size_t i = 5; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "mkstream")) {
      mkstream = true;
    } else if (EqualsIgnoreCase(ctx.args[i], "entriesread") && i + 1 < ctx.args.size()) {
      if (!ParseEntriesRead(ctx, ctx.args[i + 1], &entries_read)) return;
      ++i;
    } else {
      ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                  CStr(ctx.args[1], 128) + "'. Try XGROUP HELP.");
      return;
    }
  }
  const StreamValue* s;
  if (!XGroupPreamble(ctx, mkstream, &s)) return;
  if (ctx.args.size() > 8) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                CStr(ctx.args[1], 128) + "'. Try XGROUP HELP.");
    return;
  }
  StreamId id;
  const bool dollar = ctx.args[4] == "$";
  if (!dollar && !ParseIdOrReply(ctx, ctx.args[4], 0, true, &id)) return;
  bool created = false;
  UpdateStream(ctx, ctx.args[2], true, [&](StreamValue* v) {
    if (v->FindGroup(ctx.args[3]) != nullptr) {
      ctx.w.Error("-BUSYGROUP Consumer Group name already exists");
      return false;
    }
    StreamGroup& g = v->mutable_groups()[std::string(ctx.args[3])];
    g.last_id = dollar ? v->last_id() : id;
    g.entries_read = entries_read;
    ctx.w.Ok();
    created = true;
    return true;
  });
  if (created) Notify(ctx, kStreamEvents, "xgroup-create", ctx.args[2]);
}

void XGroupSetId(Context& ctx) {
  if (ctx.args.size() != 5 && ctx.args.size() != 7) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                CStr(ctx.args[1], 128) + "'. Try XGROUP HELP.");
    return;
  }
  const StreamValue* s;
  if (!XGroupPreamble(ctx, false, &s) || !NeedGroup(ctx, s)) return;
  StreamId id;
  const bool dollar = ctx.args[4] == "$";
  if (!dollar && !ParseIdOrReply(ctx, ctx.args[4], 0, false, &id)) return;
  int64_t entries_read = StreamValue::kInvalidEntriesRead;
  if (ctx.args.size() == 7) {
    if (!EqualsIgnoreCase(ctx.args[5], "entriesread")) {
      ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                  CStr(ctx.args[1], 128) + "'. Try XGROUP HELP.");
      return;
    }
    if (!ParseEntriesRead(ctx, ctx.args[6], &entries_read)) return;
  }
  UpdateStream(ctx, ctx.args[2], false, [&](StreamValue* v) {
    StreamGroup* g = v->FindGroup(ctx.args[3]);
    g->last_id = dollar ? v->last_id() : id;
    g->entries_read = entries_read;
    return true;
  });
  ctx.w.Ok();
  Notify(ctx, kStreamEvents, "xgroup-setid", ctx.args[2]);
}

void XGroupDestroy(Context& ctx) {
  const StreamValue* s;
  if (!XGroupPreamble(ctx, false, &s)) return;
  bool destroyed = false;
  UpdateStream(ctx, ctx.args[2], false, [&](StreamValue* v) {
    destroyed = v->mutable_groups().erase(std::string(ctx.args[3])) > 0;
    return destroyed;
  });
  ctx.w.Integer(destroyed ? 1 : 0);
  if (destroyed) Notify(ctx, kStreamEvents, "xgroup-destroy", ctx.args[2]);
}

void XGroupCreateConsumer(Context& ctx) {
  const StreamValue* s;
  if (!XGroupPreamble(ctx, false, &s) || !NeedGroup(ctx, s)) return;
  bool created = false;
  const int64_t now = ctx.store.now_ms();
  UpdateStream(ctx, ctx.args[2], false, [&](StreamValue* v) {
    auto [it, fresh] = v->FindGroup(ctx.args[3])->consumers.try_emplace(std::string(ctx.args[4]));
    if (fresh) it->second.seen_time = now;
    created = fresh;
    return fresh;
  });
  ctx.w.Integer(created ? 1 : 0);
  if (created) Notify(ctx, kStreamEvents, "xgroup-createconsumer", ctx.args[2]);
}

void XGroupDelConsumer(Context& ctx) {
  const StreamValue* s;
  if (!XGroupPreamble(ctx, false, &s) || !NeedGroup(ctx, s)) return;
  int64_t pending = 0;
  bool deleted = false;
  UpdateStream(ctx, ctx.args[2], false, [&](StreamValue* v) {
    StreamGroup* g = v->FindGroup(ctx.args[3]);
    auto c = g->consumers.find(ctx.args[4]);
    if (c == g->consumers.end()) return false;
    pending = static_cast<int64_t>(c->second.pending.size());
    for (StreamId id : c->second.pending) g->pel.erase(id);
    g->consumers.erase(c);
    deleted = true;
    return true;
  });
  ctx.w.Integer(pending);
  if (deleted) Notify(ctx, kStreamEvents, "xgroup-delconsumer", ctx.args[2]);
}

void XGroupHelp(Context& ctx) {
  static const char* const kLines[] = {
      "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CREATE <key> <groupname> <id|$> [option]",
      "    Create a new consumer group. Options are:",
      "    * MKSTREAM",
      "      Create the empty stream if it does not exist.",
      "    * ENTRIESREAD entries_read",
      "      Set the group's entries_read counter (internal use).",
      "CREATECONSUMER <key> <groupname> <consumer>",
      "    Create a new consumer in the specified group.",
      "DELCONSUMER <key> <groupname> <consumer>",
      "    Remove the specified consumer.",
      "DESTROY <key> <groupname>",
      "    Remove the specified group.",
      "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
      "    Set the current group ID and entries_read counter.",
      "HELP",
      "    Prints this help.",
  };
  WriteHelp(ctx, kLines);
}

// --- XINFO ------------------------------------------------------------------

void MapOrArray(Context& ctx, int64_t pairs) {
  if (ctx.client.protocol >= 3) {
    ctx.w.MapHeader(pairs);
  } else {
    ctx.w.ArrayHeader(pairs * 2);
  }
}

// A group's lag (Redis 7), or false when it cannot be told (null).
bool GroupLag(const StreamValue& s, const StreamGroup& g, int64_t* lag) {
  if (s.entries_added() == 0) {
    *lag = 0;
    return true;
  }
  if (g.entries_read != StreamValue::kInvalidEntriesRead &&
      !s.RangeHasTombstones(g.last_id, StreamId::Max())) {
    *lag = static_cast<int64_t>(s.entries_added()) - g.entries_read;
    return true;
  }
  const int64_t read = s.EstimateEntriesRead(g.last_id);
  if (read == StreamValue::kInvalidEntriesRead) return false;
  *lag = static_cast<int64_t>(s.entries_added()) - read;
  return true;
}

void WriteEntriesRead(Context& ctx, const StreamGroup& g) {
  if (g.entries_read == StreamValue::kInvalidEntriesRead) {
    ctx.w.Null();
  } else {
    ctx.w.Integer(g.entries_read);
  }
}

void WriteLag(Context& ctx, const StreamValue& s, const StreamGroup& g) {
  int64_t lag;
  if (GroupLag(s, g, &lag)) {
    ctx.w.Integer(lag);
  } else {
    ctx.w.Null();
  }
}

void WriteEdgeEntry(Context& ctx, const StreamValue& s, bool last) {
  bool found = false;
  s.Range({}, StreamId::Max(), last, [&](StreamId id, const std::vector<std::string_view>& fv) {
    WriteEntry(ctx, id, fv);
    found = true;
    return false;
  });
  if (!found) ctx.w.Null();
}

void XInfoStream(Context& ctx) {
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[2], &s)) return;
  if (s == nullptr) {
    ctx.w.Error(err::kNoSuchKey);
    return;
  }
  bool full = false;
  int64_t count = 10;
  const size_t argc = ctx.args.size();
  if (argc != 3 && argc != 4 && argc != 6) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                CStr(ctx.args[1], 128) + "'. Try XINFO HELP.");
    return;
  }
  if (argc > 3) {
    if (!EqualsIgnoreCase(ctx.args[3], "full") ||
        (argc == 6 && !EqualsIgnoreCase(ctx.args[4], "count"))) {
      ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                  CStr(ctx.args[1], 128) + "'. Try XINFO HELP.");
      return;
    }
    full = true;
    if (argc == 6) {
      if (!ParseInt64(ctx.args[5], &count)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      if (count < 0) count = 10;
    }
  }
  MapOrArray(ctx, full ? 9 : 10);
  ctx.w.Bulk("length");
  ctx.w.Integer(static_cast<int64_t>(s->size()));
  ctx.w.Bulk("radix-tree-keys");
  ctx.w.Integer(static_cast<int64_t>(s->node_count()));
  ctx.w.Bulk("radix-tree-nodes");
  ctx.w.Integer(static_cast<int64_t>(s->node_count() + 1));
  ctx.w.Bulk("last-generated-id");
  WriteId(ctx, s->last_id());
  ctx.w.Bulk("max-deleted-entry-id");
  WriteId(ctx, s->max_deleted_id());
  ctx.w.Bulk("entries-added");
  ctx.w.Integer(static_cast<int64_t>(s->entries_added()));
  ctx.w.Bulk("recorded-first-entry-id");
  WriteId(ctx, s->first_id());
  if (!full) {
    ctx.w.Bulk("groups");
    ctx.w.Integer(static_cast<int64_t>(s->groups().size()));
    ctx.w.Bulk("first-entry");
    WriteEdgeEntry(ctx, *s, false);
    ctx.w.Bulk("last-entry");
    WriteEdgeEntry(ctx, *s, true);
    return;
  }
  const uint64_t limit = static_cast<uint64_t>(count);  // 0: everything
  ctx.w.Bulk("entries");
  WriteRange(ctx, *s, {}, StreamId::Max(), limit, false);
  ctx.w.Bulk("groups");
  ctx.w.ArrayHeader(static_cast<int64_t>(s->groups().size()));
  for (const auto& [name, g] : s->groups()) {
    MapOrArray(ctx, 7);
    ctx.w.Bulk("name");
    ctx.w.Bulk(name);
    ctx.w.Bulk("last-delivered-id");
    WriteId(ctx, g.last_id);
    ctx.w.Bulk("entries-read");
    WriteEntriesRead(ctx, g);
    ctx.w.Bulk("lag");
    WriteLag(ctx, *s, g);
    ctx.w.Bulk("pel-count");
    ctx.w.Integer(static_cast<int64_t>(g.pel.size()));
    ctx.w.Bulk("pending");
    const size_t pel_out = limit == 0 ? g.pel.size() : std::min<size_t>(g.pel.size(), limit);
    ctx.w.ArrayHeader(static_cast<int64_t>(pel_out));
    size_t n = 0;
    for (auto it = g.pel.begin(); n < pel_out; ++it, ++n) {
      ctx.w.ArrayHeader(4);
      WriteId(ctx, it->first);
      ctx.w.Bulk(it->second.consumer);
      ctx.w.Integer(it->second.delivery_time);
      ctx.w.Integer(static_cast<int64_t>(it->second.delivery_count));
    }
    ctx.w.Bulk("consumers");
    ctx.w.ArrayHeader(static_cast<int64_t>(g.consumers.size()));
    for (const auto& [cname, c] : g.consumers) {
      MapOrArray(ctx, 5);
      ctx.w.Bulk("name");
      ctx.w.Bulk(cname);
      ctx.w.Bulk("seen-time");
      ctx.w.Integer(c.seen_time);
      ctx.w.Bulk("active-time");
      ctx.w.Integer(c.active_time);
      ctx.w.Bulk("pel-count");
      ctx.w.Integer(static_cast<int64_t>(c.pending.size()));
      ctx.w.Bulk("pending");
      const size_t cout = limit == 0 ? c.pending.size() : std::min<size_t>(c.pending.size(), limit);
      ctx.w.ArrayHeader(static_cast<int64_t>(cout));
      size_t m = 0;
      for (auto it = c.pending.begin(); m < cout; ++it, ++m) {
        const StreamPendingEntry& pe = g.pel.at(*it);
        ctx.w.ArrayHeader(3);
        WriteId(ctx, *it);
        ctx.w.Integer(pe.delivery_time);
        ctx.w.Integer(static_cast<int64_t>(pe.delivery_count));
      }
    }
  }
}

void XInfoGroups(Context& ctx) {
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[2], &s)) return;
  if (s == nullptr) {
    ctx.w.Error(err::kNoSuchKey);
    return;
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(s->groups().size()));
  for (const auto& [name, g] : s->groups()) {
    MapOrArray(ctx, 6);
    ctx.w.Bulk("name");
    ctx.w.Bulk(name);
    ctx.w.Bulk("consumers");
    ctx.w.Integer(static_cast<int64_t>(g.consumers.size()));
    ctx.w.Bulk("pending");
    ctx.w.Integer(static_cast<int64_t>(g.pel.size()));
    ctx.w.Bulk("last-delivered-id");
    WriteId(ctx, g.last_id);
    ctx.w.Bulk("entries-read");
    WriteEntriesRead(ctx, g);
    ctx.w.Bulk("lag");
    WriteLag(ctx, *s, g);
  }
}

void XInfoConsumers(Context& ctx) {
  const StreamValue* s;
  if (!LookupStream(ctx, ctx.args[2], &s)) return;
  if (s == nullptr) {
    ctx.w.Error(err::kNoSuchKey);
    return;
  }
  auto git = s->groups().find(ctx.args[3]);
  if (git == s->groups().end()) {
    ctx.w.Error("-NOGROUP No such consumer group '" + CStr(ctx.args[3]) + "' for key name '" +
                CStr(ctx.args[2]) + "'");
    return;
  }
  const int64_t now = ctx.store.now_ms();
  ctx.w.ArrayHeader(static_cast<int64_t>(git->second.consumers.size()));
  for (const auto& [name, c] : git->second.consumers) {
    MapOrArray(ctx, 4);
    ctx.w.Bulk("name");
    ctx.w.Bulk(name);
    ctx.w.Bulk("pending");
    ctx.w.Integer(static_cast<int64_t>(c.pending.size()));
    ctx.w.Bulk("idle");
    ctx.w.Integer(std::max<int64_t>(0, now - c.seen_time));
    ctx.w.Bulk("inactive");
    ctx.w.Integer(c.active_time < 0 ? -1 : std::max<int64_t>(0, now - c.active_time));
  }
}

void XInfoHelp(Context& ctx) {
  static const char* const kLines[] = {
      "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CONSUMERS <key> <groupname>",
      "    Show consumers of <groupname>.",
      "GROUPS <key>",
      "    Show the stream consumer groups.",
      "STREAM <key> [FULL [COUNT <count>]",
      "    Show information about the stream.",
      "HELP",
      "    Prints this help.",
  };
  WriteHelp(ctx, kLines);
}

}  // namespace

void RegisterStreamCommands(std::vector<CommandSpec>* out) {
  const std::string g = "stream";
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                 const char* summary, const char* complexity, const char* args) {
    out->push_back({name, arity, flags, 1, 1, 1, h, g, since, summary, complexity, args, {}});
  };
  add("xadd", -5, kWr | kFast, XAdd, "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.",
      "O(1) when adding a new entry, O(N) when trimming where N being the number of entries "
      "evicted.",
      "key:key [NOMKSTREAM] [MAXLEN|MINID] [~] [threshold:string] [LIMIT=count:integer] "
      "id:string field:string value:string...");
  add("xlen", 2, kReadOnly | kFast, XLen, "5.0.0", "Return the number of messages in a stream.",
      "O(1)", "key:key");
  add("xrange", -4, kReadOnly, XRange, "5.0.0",
      "Returns the messages from a stream within a range of IDs.",
      "O(N) with N being the number of elements being returned.",
      "key:key start:string end:string [COUNT=count:integer]");
  add("xrevrange", -4, kReadOnly, XRevRange, "5.0.0",
      "Returns the messages from a stream within a range of IDs in reverse order.",
      "O(N) with N being the number of elements returned.",
      "key:key end:string start:string [COUNT=count:integer]");
  add("xdel", -3, kWrite | kFast, XDel, "5.0.0",
      "Returns the number of messages after removing them from a stream.",
      "O(1) for each single item to delete in the stream.", "key:key id:string...");
  add("xtrim", -4, kWrite, XTrim, "5.0.0",
      "Deletes messages from the beginning of a stream.",
      "O(N), with N being the number of evicted entries.",
      "key:key MAXLEN|MINID [~] threshold:string [LIMIT=count:integer]");
  add("xsetid", -3, kWr | kFast, XSetId, "5.0.0",
      "An internal command for replicating stream values.", "O(1)",
      "key:key last-id:string [ENTRIESADDED=entries-added:integer] "
      "[MAXDELETEDID=max-deleted-id:string]");
  add("xack", -4, kWrite | kFast, XAck, "5.0.0",
      "Returns the number of messages that were successfully acknowledged by the consumer "
      "group member of a stream.",
      "O(1) for each message ID processed.", "key:key group:string id:string...");
  add("xpending", -3, kReadOnly, XPending, "5.0.0",
      "Returns the information and entries from a stream consumer group's pending entries list.",
      "O(N) with N being the number of elements returned.",
      "key:key group:string [IDLE=min-idle-time:integer] [start:string] [end:string] "
      "[count:integer] [consumer:string]");
  add("xclaim", -6, kWrite | kFast, XClaim, "5.0.0",
      "Changes, or acquires, ownership of a message in a consumer group, as if the message was "
      "delivered a consumer group member.",
      "O(log N) with N being the number of messages in the PEL of the consumer group.",
      "key:key group:string consumer:string min-idle-time:string id:string... "
      "[IDLE=ms:integer] [TIME=unix-time-milliseconds:unix-time] [RETRYCOUNT=count:integer] "
      "[FORCE] [JUSTID] [LASTID=lastid:string]");
  add("xautoclaim", -6, kWrite | kFast, XAutoClaim, "6.2.0",
      "Changes, or acquires, ownership of messages in a consumer group, as if the messages were "
      "delivered to as consumer group member.",
      "O(1) if COUNT is small.",
      "key:key group:string consumer:string min-idle-time:string start:string "
      "[COUNT=count:integer] [JUSTID]");
  CommandSpec xread{"xread", -4, kReadOnly, 0, 0, 0, XRead, g, "5.0.0",
                    "Returns messages from multiple streams with IDs greater than the ones "
                    "requested. Blocks until a message is available otherwise.",
                    "", "[COUNT=count:integer] [BLOCK=milliseconds:integer] STREAMS key:key... "
                    "id:string...", {}};
  xread.blocking_args = XReadBlockingArgs;
  xread.blocking_timeout_ms = true;
  xread.would_block = XReadWouldBlock;
  xread.find_keys = XReadKeys;
  out->push_back(std::move(xread));
  CommandSpec xreadgroup{"xreadgroup", -7, kWrite, 0, 0, 0, XReadGroup, g, "5.0.0",
                         "Returns new or historical messages from a stream for a consumer in a "
                         "group. Blocks until a message is available otherwise.",
                         "For each stream mentioned: O(M) with M being the number of elements "
                         "returned. If M is constant (e.g. always asking for the first 10 "
                         "elements with COUNT), you can consider it O(1). On the other side when "
                         "XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N "
                         "clients blocked on the stream getting new data.",
                         "GROUP group:string consumer:string [COUNT=count:integer] "
                         "[BLOCK=milliseconds:integer] [NOACK] STREAMS key:key... id:string...",
                         {}};
  xreadgroup.blocking_args = XReadBlockingArgs;
  xreadgroup.blocking_timeout_ms = true;
  xreadgroup.would_block = XReadGroupWouldBlock;
  xreadgroup.on_block = XReadGroupOnBlock;
  xreadgroup.find_keys = XReadKeys;
  out->push_back(std::move(xreadgroup));

  CommandSpec xgroup{"xgroup", -2, 0, 0, 0, 0, nullptr, g, "5.0.0",
                     "A container for consumer groups commands.", "Depends on subcommand.", "", {}};
  auto gsub = [&](const char* name, int arity, uint32_t flags, Handler h, const char* summary,
                  const char* args) {
    xgroup.subcommands.push_back(
        {name, arity, flags, flags != 0 ? 2 : 0, flags != 0 ? 2 : 0, flags != 0 ? 1 : 0, h, g,
         "5.0.0", summary, "O(1)", args, {}});
  };
  gsub("xgroup|create", -5, kWr, XGroupCreate, "Creates a consumer group.",
       "key:key group:string id:string [MKSTREAM] [ENTRIESREAD=entries-read:integer]");
  gsub("xgroup|setid", -5, kWrite, XGroupSetId, "Sets the last-delivered ID of a consumer group.",
       "key:key group:string id:string [ENTRIESREAD=entries-read:integer]");
  gsub("xgroup|destroy", 4, kWrite, XGroupDestroy, "Destroys a consumer group.",
       "key:key group:string");
  gsub("xgroup|createconsumer", 5, kWr, XGroupCreateConsumer,
       "Creates a consumer in a consumer group.", "key:key group:string consumer:string");
  gsub("xgroup|delconsumer", 5, kWrite, XGroupDelConsumer,
       "Deletes a consumer from a consumer group.", "key:key group:string consumer:string");
  gsub("xgroup|help", 2, 0, XGroupHelp, "Returns helpful text about the different subcommands.",
       "");
  out->push_back(std::move(xgroup));

  CommandSpec xinfo{"xinfo", -2, 0, 0, 0, 0, nullptr, g, "5.0.0",
                    "A container for stream introspection commands.", "Depends on subcommand.",
                    "", {}};
  auto isub = [&](const char* name, int arity, Handler h, const char* summary, const char* args,
                  bool keyed) {
    xinfo.subcommands.push_back({name, arity, keyed ? kReadOnly : 0u, keyed ? 2 : 0,
                                 keyed ? 2 : 0, keyed ? 1 : 0, h, g, "5.0.0", summary, "O(1)",
                                 args, {}});
  };
  isub("xinfo|stream", -3, XInfoStream, "Returns information about a stream.",
       "key:key [FULL] [COUNT=count:integer]", true);
  isub("xinfo|groups", 3, XInfoGroups, "Returns a list of the consumer groups of a stream.",
       "key:key", true);
  isub("xinfo|consumers", 4, XInfoConsumers,
       "Returns a list of the consumers in a consumer group.", "key:key group:string", true);
  isub("xinfo|help", 2, XInfoHelp, "Returns helpful text about the different subcommands.", "",
       false);
  out->push_back(std::move(xinfo));
}

}  // namespace causalkv::command
