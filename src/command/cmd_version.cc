// VGET / VPUT / VDEL: the versioned commands.
//
// Reply shape (all three): [version, [value, ...]] where version is the
// highest version among the key's siblings (0 for a missing key) and values
// are ordered oldest first. VGET key WITHVERSIONS returns
// [version, [[v1, value1], [v2, value2], ...]] instead.
#include <spdlog/spdlog.h>

#include <string>

#include "args.h"
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
  w.ArrayHeader(set->size());
  for (store::Sibling s : *set) {
    if (with_versions) {
      w.ArrayHeader(2);
      w.Integer(static_cast<int64_t>(s.version.counter()));
    }
    w.Bulk(s.value);
  }
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
  if (ctx.args.size() > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (ctx.args.size() == 3) {
    if (!EqualsIgnoreCase(ctx.args[2], "withversions")) {
      ctx.w.Error(err::kSyntax);
      return;
    }
    with_versions = true;
  }
  WriteSiblings(ctx.w, LookupRead(ctx, ctx.args[1]), with_versions);
}

void VPut(Context& ctx) {
  store::Version seen;
  if (!ParseSeenVersion(ctx, ctx.args[2], &seen)) return;
  SetOptions opts;
  if (!ParseSetOptions(ctx, 4, OptionSet::kVPut, &opts)) return;
  int64_t at_ms;
  if (!ResolveExpire(ctx, opts, &at_ms)) return;
  const store::SiblingSet* after = nullptr;
  const store::OpStatus status =
      ctx.db().VPut(ctx.args[1], seen, ctx.args[3], TtlFor(opts, at_ms), &after);
  if (status == store::OpStatus::kTooManySiblings) {
    // Writers that never merge would grow the key without bound; refusing
    // loses nothing, and the client can merge and write with the version it read.
    const std::string key(ctx.args[1]);
    const uint32_t max = static_cast<uint32_t>(ctx.server.config.max_siblings);
    spdlog::warn("VPUT refused: key '{}' would exceed max-siblings ({})", key, max);
    ctx.w.Error("key '" + key + "' would have more than " + std::to_string(max) +
                " siblings (max-siblings); read it, merge the siblings and write with the "
                "version you read");
    return;
  }
  if (status != store::OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return;
  }
  WriteSiblings(ctx.w, after, false);
}

void VDel(Context& ctx) {
  store::Version seen;
  if (!ParseSeenVersion(ctx, ctx.args[2], &seen)) return;
  const store::SiblingSet* after = nullptr;
  const store::OpStatus status = ctx.db().VDel(ctx.args[1], seen, &after);
  if (status != store::OpStatus::kOk) {
    WriteStoreError(ctx.w, status);
    return;
  }
  WriteSiblings(ctx.w, after, false);
}

}  // namespace

void RegisterVersionCommands(std::vector<CommandSpec>* out) {
  const std::string group = "causalkv";
  out->push_back({"vget", -2, kReadOnly | kFast, 1, 1, 1, VGet, group, "0.1.0",
                  "Returns every sibling of a key and the key's version.",
                  "O(N) where N is the number of siblings", "key:key [WITHVERSIONS]", {}});
  out->push_back({"vput", -4, kWrite | kDenyOom, 1, 1, 1, VPut, group, "0.1.0",
                  "Writes a value, replacing the siblings the client had read (those with a "
                  "version up to the given one) and keeping concurrent ones.",
                  "O(N) where N is the number of siblings",
                  "key:key version:integer value:string [EX=seconds:integer] "
                  "[PX=milliseconds:integer] [KEEPTTL]",
                  {}});
  out->push_back({"vdel", 3, kWrite | kFast, 1, 1, 1, VDel, group, "0.1.0",
                  "Removes the siblings the client had read (those with a version up to the "
                  "given one), keeping concurrent ones.",
                  "O(N) where N is the number of siblings", "key:key version:integer", {}});
}

}  // namespace causalkv::command
