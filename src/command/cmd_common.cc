#include "cmd_common.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "errors.h"

namespace causalkv::command {

bool ParseSetOptions(Context& ctx, size_t first, OptionSet which, SetOptions* o) {
  using Unit = SetOptions::Unit;
  const auto& args = ctx.args;
  for (size_t j = first; j < args.size(); ++j) {
    const std::string_view opt = args[j];
    const bool has_next = j + 1 < args.size();
    const bool has_expire = o->unit != Unit::kNone;
    if (which == OptionSet::kSet && EqualsIgnoreCase(opt, "nx") && !o->xx) {
      o->nx = true;
    } else if (which == OptionSet::kSet && EqualsIgnoreCase(opt, "xx") && !o->nx) {
      o->xx = true;
    } else if (which == OptionSet::kSet && EqualsIgnoreCase(opt, "get")) {
      o->get = true;
    } else if (which != OptionSet::kGetEx && EqualsIgnoreCase(opt, "keepttl") && !has_expire) {
      o->keepttl = true;
    } else if (which == OptionSet::kGetEx && EqualsIgnoreCase(opt, "persist") && !has_expire) {
      o->persist = true;
    } else if (has_next && !o->keepttl && !o->persist &&
               (EqualsIgnoreCase(opt, "ex") || EqualsIgnoreCase(opt, "px") ||
                EqualsIgnoreCase(opt, "exat") || EqualsIgnoreCase(opt, "pxat"))) {
      const Unit unit = EqualsIgnoreCase(opt, "ex")     ? Unit::kEx
                        : EqualsIgnoreCase(opt, "px")   ? Unit::kPx
                        : EqualsIgnoreCase(opt, "exat") ? Unit::kExAt
                                                        : Unit::kPxAt;
      // One kind of expiry only; repeating the same kind is allowed.
      if (has_expire && o->unit != unit) {
        ctx.w.Error(err::kSyntax);
        return false;
      }
      if (which == OptionSet::kVPut && (unit == Unit::kExAt || unit == Unit::kPxAt)) {
        ctx.w.Error(err::kSyntax);
        return false;
      }
      o->unit = unit;
      o->expire_arg = args[++j];
    } else {
      ctx.w.Error(err::kSyntax);
      return false;
    }
  }
  return true;
}

void WriteInvalidExpire(Context& ctx) {
  const std::string& name = ctx.client.last_command;
  ctx.w.Error("invalid expire time in '" + name + "' command");
}

bool ResolveExpire(Context& ctx, const SetOptions& o, int64_t* at_ms) {
  using Unit = SetOptions::Unit;
  *at_ms = store::SiblingSet::kNoExpire;
  if (o.unit == Unit::kNone) return true;
  int64_t v;
  if (!ParseInt64(o.expire_arg, &v)) {
    ctx.w.Error(err::kNotInteger);
    return false;
  }
  if (v <= 0) {
    WriteInvalidExpire(ctx);
    return false;
  }
  if (o.unit == Unit::kEx || o.unit == Unit::kExAt) {
    if (v > INT64_MAX / 1000) {
      WriteInvalidExpire(ctx);
      return false;
    }
    v *= 1000;
  }
  if (o.unit == Unit::kEx || o.unit == Unit::kPx) {
    const int64_t now = ctx.store.now_ms();
    if (v > INT64_MAX - now) {
      WriteInvalidExpire(ctx);
      return false;
    }
    v += now;
  }
  *at_ms = v;
  return true;
}

store::TtlUpdate TtlFor(const SetOptions& o, int64_t at_ms) {
  if (o.keepttl) return store::TtlUpdate::Keep();
  if (o.unit != SetOptions::Unit::kNone) return store::TtlUpdate::At(at_ms);
  return store::TtlUpdate::Clear();
}

void WriteStoreError(resp::Writer& w, store::OpStatus status) {
  switch (status) {
    case store::OpStatus::kVersionFromFuture:
      w.Error(err::kVersionFromFuture);
      return;
    case store::OpStatus::kVersionUnavailable:
      w.Error(err::kVersionUnavailable);
      return;
    case store::OpStatus::kNotFound:
      w.Error(err::kNoSuchKey);
      return;
    case store::OpStatus::kWrongType:
      w.Error(err::kWrongType);
      return;
    case store::OpStatus::kMalformedValue:
      w.Error("a state's collection value does not decode; nothing was stored");
      return;
    case store::OpStatus::kTooManyActors:
      w.Error("the key's state names more node ids than a node can hold; nothing was stored");
      return;
    default:
      w.Error("internal error");
      return;
  }
}

void WriteHelp(Context& ctx, std::span<const char* const> lines) {
  ctx.w.ArrayHeader(static_cast<int64_t>(lines.size()));
  for (const char* line : lines) ctx.w.SimpleString(line);
}

void PublishEvent(Context& ctx, uint32_t flags, uint32_t type, std::string_view event,
                  std::string_view key, int db) {
  PublishKeyspaceEvent(ctx.dispatcher.pubsub(), flags, type, event, key, db,
                       ctx.dispatcher.executing_client());
}

void CountMiss(Context& ctx, std::string_view key) {
  ++ctx.server.stats.keyspace_misses;
  Notify(ctx, config::kNotifyKeyMiss, "keymiss", key);
}

bool LookupString(Context& ctx, std::string_view key, const store::SiblingSet** set) {
  *set = LookupRead(ctx, key);
  if (*set == nullptr || (*set)->holds_string()) return true;
  ctx.w.Error(err::kWrongType);
  return false;
}

const store::SiblingSet* LookupRead(Context& ctx, std::string_view key) {
  const store::SiblingSet* set = ctx.db().FindReadOnly(key);
  if (set == nullptr) {
    CountMiss(ctx, key);
  } else {
    ++ctx.server.stats.keyspace_hits;
  }
  return set;
}

}  // namespace causalkv::command

namespace causalkv::command {

std::mt19937_64& CommandRandom() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return random;
}

bool ParseScanCursor(Context& ctx, std::string_view arg, uint64_t* cursor) {
  // Redis reads the cursor with strtoul and its leniency ("+5", "-1" wraps,
  // "" is 0), refusing only a leading space, trailing garbage and overflow.
  const std::string text(arg);
  char* end = nullptr;
  errno = 0;
  *cursor = std::strtoull(text.c_str(), &end, 10);
  if (std::isspace(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE) {
    ctx.w.Error(err::kCursor);
    return false;
  }
  return true;
}

bool ParseScanOptions(Context& ctx, size_t first, bool allow_type, ScanOptions* opts) {
  for (size_t j = first; j < ctx.args.size(); j += 2) {
    if (j + 1 >= ctx.args.size()) {
      ctx.w.Error(err::kSyntax);
      return false;
    }
    const std::string_view opt = ctx.args[j];
    if (EqualsIgnoreCase(opt, "count")) {
      if (!ParseInt64(ctx.args[j + 1], &opts->count)) {
        ctx.w.Error(err::kNotInteger);
        return false;
      }
      if (opts->count < 1) {
        ctx.w.Error(err::kSyntax);
        return false;
      }
    } else if (EqualsIgnoreCase(opt, "match")) {
      opts->pattern = ctx.args[j + 1];
      opts->has_pattern = !(opts->pattern.size() == 1 && opts->pattern[0] == '*');
    } else if (allow_type && EqualsIgnoreCase(opt, "type")) {
      opts->type = ctx.args[j + 1];
      opts->has_type = true;
    } else {
      ctx.w.Error(err::kSyntax);
      return false;
    }
  }
  return true;
}

}  // namespace causalkv::command
