// CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR and CLIENT TRACKINGINFO,
// with Redis 7.2's options, errors and replies (command/tracking.h).
#include <string>
#include <string_view>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "tracking.h"

namespace causalkv::command {
namespace {

void ClientTrackingCmd(Context& ctx) {
  Tracking::Options options;
  int64_t redirect = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const bool more = j + 1 < ctx.args.size();
    const std::string_view opt = ctx.args[j];
    if (EqualsIgnoreCase(opt, "redirect") && more) {
      ++j;
      if (redirect != 0) {
        ctx.w.Error("A client can only redirect to a single other client");
        return;
      }
      if (!ParseInt64(ctx.args[j], &redirect)) {
        ctx.w.Error(err::kNotInteger);
        return;
      }
      // The client must exist now; that it may leave later is reported then.
      if (redirect <= 0 || ctx.server.clients.count(static_cast<uint64_t>(redirect)) == 0) {
        ctx.w.Error("The client ID you want redirect to does not exist");
        return;
      }
    } else if (EqualsIgnoreCase(opt, "bcast")) {
      options.bcast = true;
    } else if (EqualsIgnoreCase(opt, "optin")) {
      options.optin = true;
    } else if (EqualsIgnoreCase(opt, "optout")) {
      options.optout = true;
    } else if (EqualsIgnoreCase(opt, "noloop")) {
      options.noloop = true;
    } else if (EqualsIgnoreCase(opt, "prefix") && more) {
      options.prefixes.emplace_back(ctx.args[++j]);
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  options.redirect = static_cast<uint64_t>(redirect);
  ClientState& c = ctx.client;
  Tracking& tracking = ctx.dispatcher.tracking();
  if (EqualsIgnoreCase(ctx.args[2], "off")) {
    tracking.Disable(c);
    ctx.w.Ok();
    return;
  }
  if (!EqualsIgnoreCase(ctx.args[2], "on")) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (!options.bcast && !options.prefixes.empty()) {
    ctx.w.Error("PREFIX option requires BCAST mode to be enabled");
    return;
  }
  if (c.tracking.on && c.tracking.bcast != options.bcast) {
    ctx.w.Error("You can't switch BCAST mode on/off before disabling tracking for this client, "
                "and then re-enabling it with a different mode.");
    return;
  }
  if (options.bcast && (options.optin || options.optout)) {
    ctx.w.Error("OPTIN and OPTOUT are not compatible with BCAST");
    return;
  }
  if (options.optin && options.optout) {
    ctx.w.Error("You can't specify both OPTIN mode and OPTOUT mode");
    return;
  }
  if ((options.optin && c.tracking.optout) || (options.optout && c.tracking.optin)) {
    ctx.w.Error("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
                "and then re-enabling it with a different mode.");
    return;
  }
  std::string error;
  if (!tracking.Enable(c, options, &error)) {
    ctx.w.Error(error);
    return;
  }
  ctx.w.Ok();
}

void ClientCaching(Context& ctx) {
  ClientTracking& t = ctx.client.tracking;
  if (!t.on) {
    ctx.w.Error("CLIENT CACHING can be called only when the client is in tracking mode with "
                "OPTIN or OPTOUT mode enabled");
    return;
  }
  const std::string_view opt = ctx.args[2];
  if (EqualsIgnoreCase(opt, "yes")) {
    if (!t.optin) {
      ctx.w.Error("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
      return;
    }
  } else if (EqualsIgnoreCase(opt, "no")) {
    if (!t.optout) {
      ctx.w.Error("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
      return;
    }
  } else {
    ctx.w.Error(err::kSyntax);
    return;
  }
  t.caching = true;  // for the next command (the dispatcher clears it)
  ctx.w.Ok();
}

void ClientGetRedir(Context& ctx) {
  const ClientTracking& t = ctx.client.tracking;
  ctx.w.Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
}

void ClientTrackingInfo(Context& ctx) {
  const ClientTracking& t = ctx.client.tracking;
  std::vector<std::string_view> flags;
  flags.push_back(t.on ? "on" : "off");
  if (t.bcast) flags.push_back("bcast");
  if (t.optin) flags.push_back("optin");
  if (t.optout) flags.push_back("optout");
  if (t.caching && t.optin) flags.push_back("caching-yes");
  if (t.caching && t.optout) flags.push_back("caching-no");
  if (t.noloop) flags.push_back("noloop");
  if (t.redirect_broken) flags.push_back("broken_redirect");
  ctx.w.MapHeader(3);
  ctx.w.Bulk("flags");
  ctx.w.SetHeader(static_cast<int64_t>(flags.size()));
  for (std::string_view f : flags) ctx.w.Bulk(f);
  ctx.w.Bulk("redirect");
  ctx.w.Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
  ctx.w.Bulk("prefixes");
  ctx.w.ArrayHeader(static_cast<int64_t>(t.prefixes.size()));
  for (const std::string& p : t.prefixes) ctx.w.Bulk(p);
}

}  // namespace

void RegisterTrackingSubcommands(CommandSpec* client) {
  const uint32_t flags = kNoScript | kLoading | kStale;
  auto sub = [&](const char* name, int arity, Handler h, const char* since, const char* summary,
                 const char* complexity, const char* args) {
    client->subcommands.push_back({name, arity, flags, 0, 0, 0, h, "connection", since, summary,
                                   complexity, args, {}});
  };
  sub("client|tracking", -3, ClientTrackingCmd, "6.0.0",
      "Controls server-assisted client-side caching for the connection.",
      "O(1). Some options may introduce additional complexity.",
      "ON|OFF [REDIRECT=client-id:integer] [PREFIX=prefix:string...] [BCAST] [OPTIN] [OPTOUT] "
      "[NOLOOP]");
  sub("client|caching", 3, ClientCaching, "6.0.0",
      "Instructs the server whether to track the keys in the next request.", "O(1)",
      "YES|NO");
  sub("client|getredir", 2, ClientGetRedir, "6.0.0",
      "Returns the client ID to which the connection's tracking notifications are redirected.",
      "O(1)", "");
  sub("client|trackinginfo", 2, ClientTrackingInfo, "6.2.0",
      "Returns information about server-assisted client-side caching for the connection.",
      "O(1)", "");
}

}  // namespace causalkv::command
