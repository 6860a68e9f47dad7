// HyperLogLog commands (PFADD PFCOUNT PFMERGE) on string values in Redis's
// representation (hyperloglog.h), with Redis's replies and errors. A read
// uses the newest sibling; a write replaces every sibling with one new value
// at a fresh version, keeping the key's TTL.
//
// PFCOUNT does not write the cardinality it computed back into the value's
// cache, as Redis does: that would be a change to the value without a new
// version, and replicas of the key would then disagree on its bytes with
// nothing to tell them apart. A valid cache (a value written with one) is
// still used, and the count is the same estimate either way; only GET of a
// key after PFCOUNT differs from Redis, in bytes 8-15.
#include <vector>

#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"
#include "hyperloglog.h"

namespace causalkv::command {
namespace {

using store::OpStatus;
using store::SiblingSet;

bool Stored(Context& ctx, OpStatus status) {
  if (status == OpStatus::kOk) return true;
  WriteStoreError(ctx.w, status);
  return false;
}

size_t SparseMaxBytes(const Context& ctx) {
  return static_cast<size_t>(ctx.server.config.hll_sparse_max_bytes);
}

// Reads `key` as a HyperLogLog: true with *found and *hll (its value when
// found), or false with WRONGTYPE written for another type or a string that
// is not one.
bool LookupHll(Context& ctx, std::string_view key, bool* found, std::string_view* hll) {
  const SiblingSet* set;
  if (!LookupString(ctx, key, &set)) return false;
  *found = set != nullptr;
  if (!*found) return true;
  *hll = set->newest().value;
  if (hll::LooksValid(*hll)) return true;
  ctx.w.Error(err::kHllWrongType);
  return false;
}

// PFADD key [element ...]
void PfAdd(Context& ctx) {
  const size_t sparse_max = SparseMaxBytes(ctx);
  std::string hll;
  bool updated = false;
  bool computed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        if (existing == nullptr) {
          hll = hll::CreateEmpty();
          updated = true;  // creating the key is a change, even with no element
        } else {
          const std::string_view old = existing->newest().value;
          if (!hll::LooksValid(old)) {
            ctx.w.Error(err::kHllWrongType);
            return false;
          }
          hll.assign(old);
        }
        for (size_t i = 2; i < ctx.args.size(); ++i) {
          const hll::SetResult r = hll::Add(&hll, ctx.args[i], sparse_max);
          if (r == hll::SetResult::kCorrupt) {
            ctx.w.Error(err::kHllCorrupt);
            return false;
          }
          updated = updated || r == hll::SetResult::kChanged;
        }
        computed = true;
        if (!updated) return false;  // no register moved: no new version
        hll::InvalidateCache(&hll);
        *value = hll;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (!Stored(ctx, status)) return;
  if (updated) Notify(ctx, config::kNotifyString, "pfadd", ctx.args[1]);
  ctx.w.Integer(updated ? 1 : 0);
}

// PFCOUNT key [key ...]
void PfCount(Context& ctx) {
  bool found;
  std::string_view value;
  if (ctx.args.size() > 2) {
    // The union of every key's registers, counted once; the caches are not used.
    std::vector<uint8_t> max(hll::kRegisters, 0);
    for (size_t i = 1; i < ctx.args.size(); ++i) {
      if (!LookupHll(ctx, ctx.args[i], &found, &value)) return;
      if (!found) continue;
      if (!hll::MergeInto(value, max.data())) {
        ctx.w.Error(err::kHllCorrupt);
        return;
      }
    }
    ctx.w.Integer(static_cast<int64_t>(hll::EstimateRegisters(max.data())));
    return;
  }
  if (!LookupHll(ctx, ctx.args[1], &found, &value)) return;
  if (!found) {
    ctx.w.Integer(0);
    return;
  }
  uint64_t cardinality;
  if (!hll::CachedCardinality(value, &cardinality) && !hll::Estimate(value, &cardinality)) {
    ctx.w.Error(err::kHllCorrupt);
    return;
  }
  ctx.w.Integer(static_cast<int64_t>(cardinality));
}

// PFMERGE destkey [sourcekey ...]: the destination is one of the sources.
void PfMerge(Context& ctx) {
  std::vector<uint8_t> max(hll::kRegisters, 0);
  bool use_dense = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    bool found;
    std::string_view value;
    if (!LookupHll(ctx, ctx.args[i], &found, &value)) return;
    if (!found) continue;
    use_dense = use_dense || hll::IsDense(value);
    if (!hll::MergeInto(value, max.data())) {
      ctx.w.Error(err::kHllCorrupt);
      return;
    }
  }
  // As Redis, the destination is updated register by register, so a sparse
  // result has the opcodes Redis's would have.
  const size_t sparse_max = SparseMaxBytes(ctx);
  std::string hll;
  bool computed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        hll = existing == nullptr ? hll::CreateEmpty() : std::string(existing->newest().value);
        if (use_dense && !hll::ToDense(&hll)) {
          ctx.w.Error(err::kHllCorrupt);
          return false;
        }
        for (uint32_t i = 0; i < static_cast<uint32_t>(hll::kRegisters); ++i) {
          if (max[i] != 0) hll::SetRegister(&hll, i, max[i], sparse_max);
        }
        hll::InvalidateCache(&hll);
        computed = true;
        *value = hll;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (!Stored(ctx, status)) return;
  Notify(ctx, config::kNotifyString, "pfadd", ctx.args[1]);  // Redis's name for PFMERGE's
  ctx.w.Ok();
}

}  // namespace

void RegisterHyperLogLogCommands(std::vector<CommandSpec>* out) {
  const std::string g = "hyperloglog";
  auto add = [&](const char* name, uint32_t flags, int last_key, Handler h, const char* summary,
                 const char* complexity, const char* args) {
    out->push_back(
        {name, -2, flags, 1, last_key, 1, h, g, "2.8.9", summary, complexity, args, {}});
  };
  add("pfadd", kWrite | kDenyOom | kFast, 1, PfAdd,
      "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
      "O(1) to add every element.", "key:key [element:string...]");
  add("pfcount", kReadOnly, -1, PfCount,
      "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
      "O(1) with a very small average constant time when called with a single key. O(N) with "
      "N being the number of keys, and much bigger constant times, when called with multiple "
      "keys.",
      "key:key...");
  add("pfmerge", kWrite | kDenyOom, -1, PfMerge,
      "Merges one or more HyperLogLog values into a single key.",
      "O(N) to merge N HyperLogLogs, but with high constant times.",
      "destkey:key [sourcekey:key...]");
}

}  // namespace causalkv::command
