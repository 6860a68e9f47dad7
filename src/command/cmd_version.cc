// VGET / VPUT / VDEL: the versioned commands.
//
// Reply shape (all three): [version, [value, ...]] where version is the
// highest version among the key's siblings (0 for a missing key) and values
// are ordered oldest first. VGET key WITHVERSIONS returns
// [version, [[v1, value1], [v2, value2], ...]] instead.
//
// With peers the version is the key's context: an opaque token (bulk
// string; "0" for a key never written) that VPUT/VDEL take back, and
// WITHVERSIONS shows each sibling's dot as "<node id>:<counter>". Siblings
// are in dot order, the same on every node. `VGET ... R n`, `VPUT ... W n`
// and `VDEL ... W n` set the quorum of one request (1..N; on a single node
// N is 1); the dispatcher does the waiting (command/replicator.h).
#include <spdlog/spdlog.h>

#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/command/replicator.h"
#include "causalkv/store/causal.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

void WriteSiblings(resp::Writer& w, const store::SiblingSet* set, bool with_versions) {
  w.ArrayHeader(2);
  if (set == nullptr) {
    w.Integer(0);
    w.ArrayHeader(0);
    return;
  }
  w.Integer(static_cast<int64_t>(set->max_version().counter()));
  w.ArrayHeader(set->size());  // a single node's key of another type is refused before
  for (store::Sibling s : *set) {
    if (with_versions) {
      w.ArrayHeader(2);
      w.Integer(static_cast<int64_t>(s.version.counter()));
    }
    w.Bulk(s.value);
  }
}

void WriteState(resp::Writer& w, const store::KeyState* state, bool with_versions) {
  w.ArrayHeader(2);
  if (state == nullptr) {
    w.Bulk("0");
    w.ArrayHeader(0);
    return;
  }
  w.Bulk(store::EncodeContextToken(state->context));
  // A collection written concurrently with the strings is not theirs to
  // show (its key reads as a string: the newest sibling is one).
  int64_t strings = 0;
  for (const store::SiblingValue& s : state->siblings) strings += s.type == store::ValueType::kString;
  w.ArrayHeader(strings);
  for (const store::SiblingValue& s : state->siblings) {
    if (s.type != store::ValueType::kString) continue;
    if (with_versions) {
      w.ArrayHeader(2);
      w.Bulk(store::FormatDot(s.dot));
    }
    w.Bulk(s.value);
  }
}

// WriteState for a live block, from views into it (no copy of the values):
// VGET's common case and every VPUT reply.
void WriteBlockState(Context& ctx, const store::SiblingSet* set, bool with_versions) {
  thread_local std::vector<store::VersionVector::Entry> entries;
  thread_local std::vector<store::SiblingRef> siblings;
  thread_local std::string token;
  ctx.db().BlockView(set, &entries, &siblings, nullptr);
  store::EncodeContextToken(entries, &token);
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(token);
  int64_t strings = 0;
  for (const store::SiblingRef& s : siblings) strings += s.type == store::ValueType::kString;
  ctx.w.ArrayHeader(strings);
  for (const store::SiblingRef& s : siblings) {
    if (s.type != store::ValueType::kString) continue;
    if (with_versions) {
      ctx.w.ArrayHeader(2);
      ctx.w.Bulk(store::FormatDot(s.dot));
    }
    ctx.w.Bulk(s.value);
  }
}

int Replicas(Context& ctx) {
  Replicator* r = ctx.dispatcher.replicator();
  return r == nullptr ? 1 : r->replicas();
}

// A trailing "<letter> n" (W or R) sets this request's quorum. *argc is
// the argument count without it. False after writing the error reply.
bool ParseQuorumSuffix(Context& ctx, char letter, size_t min_argc, size_t* argc) {
  *argc = ctx.args.size();
  if (*argc < min_argc + 2) return true;
  const char name[2] = {letter, 0};
  if (!EqualsIgnoreCase(ctx.args[*argc - 2], name)) return true;
  int64_t n;
  const int replicas = Replicas(ctx);
  if (!ParseInt64(ctx.args[*argc - 1], &n) || n < 1 || n > replicas) {
    ctx.w.Error(std::string(name) + " must be between 1 and the number of replicas (" +
                std::to_string(replicas) + ")");
    return false;
  }
  ctx.client.quorum_override = static_cast<int>(n);
  *argc -= 2;
  return true;
}

bool ParseContext(Context& ctx, std::string_view arg, store::VersionVector* out) {
  std::string why;
  if (!store::DecodeContextToken(arg, out, &why)) {
    ctx.w.Error("invalid context token (" + why +
                "): pass the version VGET returned, or 0 for a blind write");
    return false;
  }
  return true;
}

// The version a client read: a decimal integer >= 0. The store checks that
// the server has issued it.
bool ParseSeenVersion(Context& ctx, std::string_view arg, store::Version* out) {
  int64_t v;
  if (!ParseInt64(arg, &v) || v < 0) {
    ctx.w.Error(err::kVersionFormat);
    return false;
  }
  *out = store::Version(static_cast<uint64_t>(v));
  return true;
}

void VGet(Context& ctx) {
  bool with_versions = false;
  size_t argc;
  if (!ParseQuorumSuffix(ctx, 'R', 2, &argc)) return;
  if (argc > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (argc == 3) {
    if (!EqualsIgnoreCase(ctx.args[2], "withversions")) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    with_versions = true;
  }
  if (ctx.store.causal()) {
    // A live block of strings only (the common case) replies from the block.
    const store::SiblingSet* set = ctx.db().FindReadOnly(ctx.args[1]);
    if (set != nullptr && !set->has_typed()) {
      ++ctx.server.stats.keyspace_hits;
      WriteBlockState(ctx, set, with_versions);
      return;
    }
    // Live keys only: a tombstone or an expired key reads as a missing key,
    // but its context is still the one to write with, so that a write after
    // a delete does not come back as a sibling of it.
    store::KeyState state;
    bool found = set != nullptr;
    if (found) {
      state = ctx.db().PeekState(set);  // a block with a collection sibling
    } else {
      found = ctx.db().ReadState(ctx.args[1], &state);
    }
    const bool live = found && !state.tombstone();
    if (live && state.newest().type != store::ValueType::kString) {
      ++ctx.server.stats.keyspace_hits;
      ctx.w.Error(err::kWrongType);
      return;
    }
    if (live) {
      ++ctx.server.stats.keyspace_hits;
    } else {
      CountMiss(ctx, ctx.args[1]);
    }
    WriteState(ctx.w, found ? &state : nullptr, with_versions);
    return;
  }
  const store::SiblingSet* set;
  if (LookupString(ctx, ctx.args[1], &set)) WriteSiblings(ctx.w, set, with_versions);
}

// VPUT's and VDEL's events: `event` (class v), then `sibling` (class c)
// when the key is left with more than one sibling, and not the ones it had.
void NotifyVersioned(Context& ctx, std::string_view event, uint64_t siblings_before) {
  Notify(ctx, config::kNotifyVersioned, event, ctx.args[1]);
  ctx.dispatcher.NotifySiblingsAfter(ctx.client.db, ctx.args[1], siblings_before);
}

// The key's live sibling count (0: missing), for VDEL's event: it is
// notified only when it removed something, as DEL's "del" is.
uint32_t LiveSiblings(Context& ctx) {
  if ((ctx.server.config.notify_keyspace_events & config::kNotifyVersioned) == 0) return 0;
  const store::SiblingSet* set = ctx.db().FindWithoutTouch(ctx.args[1]);
  return set == nullptr ? 0 : set->size();
}

// A VPUT the store refused: the reply, and for max-siblings a log line.
void WriteVPutError(Context& ctx, store::OpStatus status) {
  if (status != store::OpStatus::kTooManySiblings) {
    WriteStoreError(ctx.w, status);
    return;
  }
  // Writers that never merge would grow the key without bound; refusing
  // loses nothing, and the client can merge and write with the version it read.
  const std::string key(ctx.args[1]);
  const uint32_t max = static_cast<uint32_t>(ctx.server.config.max_siblings);
  spdlog::warn("VPUT refused: key '{}' would exceed max-siblings ({})", key, max);
  ctx.w.Error("key '" + key + "' would have more than " + std::to_string(max) +
              " siblings (max-siblings); read it, merge the siblings and write with the "
              "version you read");
}

void VPut(Context& ctx) {
  size_t argc;
  if (!ParseQuorumSuffix(ctx, 'W', 4, &argc)) return;
  // The version first (its error wins, as before), then the options.
  store::VersionVector context;
  store::Version seen;
  if (ctx.store.causal() ? !ParseContext(ctx, ctx.args[2], &context)
                         : !ParseSeenVersion(ctx, ctx.args[2], &seen)) {
    return;
  }
  Context trimmed{ctx.dispatcher, ctx.server, ctx.store, ctx.table, ctx.client, ctx.w,
                  ctx.args.first(argc)};
  SetOptions opts;
  if (!ParseSetOptions(trimmed, 4, OptionSet::kVPut, &opts)) return;
  int64_t at_ms;
  if (!ResolveExpire(trimmed, opts, &at_ms)) return;
  const store::TtlUpdate ttl = TtlFor(opts, at_ms);
  const uint64_t siblings_before = ctx.dispatcher.SiblingsBefore(ctx.client.db, ctx.args[1]);
  if (ctx.store.causal()) {
    const store::SiblingSet* after = nullptr;
    const store::OpStatus status =
        ctx.db().VPutCausal(ctx.args[1], context, ctx.args[3], ttl, &after);
    if (status != store::OpStatus::kOk) {
      WriteVPutError(ctx, status);
      return;
    }
    NotifyVersioned(ctx, "vput", siblings_before);
    WriteBlockState(ctx, after, false);
    return;
  }
  const store::SiblingSet* after = nullptr;
  const store::OpStatus status = ctx.db().VPut(ctx.args[1], seen, ctx.args[3], ttl, &after);
  if (status != store::OpStatus::kOk) {
    WriteVPutError(ctx, status);
    return;
  }
  NotifyVersioned(ctx, "vput", siblings_before);
  WriteSiblings(ctx.w, after, false);
}

void VDel(Context& ctx) {
  size_t argc;
  if (!ParseQuorumSuffix(ctx, 'W', 3, &argc)) return;
  if (argc != 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const uint64_t siblings_before = ctx.dispatcher.SiblingsBefore(ctx.client.db, ctx.args[1]);
  const uint32_t count_before = LiveSiblings(ctx);
  if (ctx.store.causal()) {
    store::VersionVector seen;
    if (!ParseContext(ctx, ctx.args[2], &seen)) return;
    store::KeyState after;
    const store::OpStatus status = ctx.db().VDelCausal(ctx.args[1], seen, &after);
    if (status != store::OpStatus::kOk) {
      WriteStoreError(ctx.w, status);
      return;
    }
    if (LiveSiblings(ctx) != count_before) NotifyVersioned(ctx, "vdel", siblings_before);
    WriteState(ctx.w, after.context.empty() && after.tombstone() ? nullptr : &after, false);
    return;
  }
  store::Version seen;
  if (!ParseSeenVersion(ctx, ctx.args[2], &seen)) return;
  const store::SiblingSet* after = nullptr;
  const store::OpStatus status = ctx.db().VDel(ctx.args[1], seen, &after);
  if (status != store::OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return;
  }
  if (LiveSiblings(ctx) != count_before) NotifyVersioned(ctx, "vdel", siblings_before);
  WriteSiblings(ctx.w, after, false);
}

}  // namespace

void RegisterVersionCommands(std::vector<CommandSpec>* out) {
  const std::string group = "causalkv";
  out->push_back({"vget", -2, kReadOnly | kFast, 1, 1, 1, VGet, group, "0.1.0",
                  "Returns every sibling of a key and the key's version.",
                  "O(N) where N is the number of siblings",
                  "key:key [WITHVERSIONS] [R=replicas:integer]", {}});
  out->push_back({"vput", -4, kWrite | kDenyOom, 1, 1, 1, VPut, group, "0.1.0",
                  "Writes a value, replacing the siblings the client had read (those with a "
                  "version up to the given one) and keeping concurrent ones.",
                  "O(N) where N is the number of siblings",
                  "key:key version:integer value:string [EX=seconds:integer] "
                  "[PX=milliseconds:integer] [KEEPTTL] [W=replicas:integer]",
                  {}});
  out->push_back({"vdel", -3, kWrite | kFast, 1, 1, 1, VDel, group, "0.1.0",
                  "Removes the siblings the client had read (those with a version up to the "
                  "given one), keeping concurrent ones.",
                  "O(N) where N is the number of siblings",
                  "key:key version:integer [W=replicas:integer]", {}});
}

}  // namespace causalkv::command
