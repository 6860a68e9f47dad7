// Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, CLIENT.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"
#include "pubsub.h"
#include "tracking.h"
#include "monitor.h"

namespace causalkv::command {

namespace {

void Ping(Context& ctx) {
  if (ctx.args.size() > 2) {
    ctx.w.Error("wrong number of arguments for 'ping' command");
    return;
  }
  if (ctx.client.protocol == 2 && ctx.client.subscribed()) {
    // Subscribed, a RESP2 client reads messages: the reply looks like one.
    ctx.w.ArrayHeader(2);
    ctx.w.Bulk("pong");
    ctx.w.Bulk(ctx.args.size() == 2 ? ctx.args[1] : std::string_view());
    return;
  }
  if (ctx.args.size() == 2) {
    ctx.w.Bulk(ctx.args[1]);
  } else {
    ctx.w.SimpleString("PONG");
  }
}

void Echo(Context& ctx) { ctx.w.Bulk(ctx.args[1]); }

void Quit(Context& ctx) {
  ctx.w.Ok();
  ctx.client.close_after_reply = true;
}

// Checks a username/password pair against requirepass (the only user is
// "default"). Returns false after writing the error.
bool CheckCredentials(Context& ctx, std::string_view user, std::string_view pass) {
  const std::string& required = ctx.server.config.requirepass;
  if (user == "default" && (required.empty() || pass == required)) return true;
  ctx.w.Error(err::kWrongPass);
  return false;
}

void Auth(Context& ctx) {
  if (ctx.args.size() > 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (ctx.args.size() == 2) {
    if (ctx.server.config.requirepass.empty()) {
      ctx.w.Error(
          "AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
      return;
    }
    if (!CheckCredentials(ctx, "default", ctx.args[1])) return;
  } else if (!CheckCredentials(ctx, ctx.args[1], ctx.args[2])) {
    return;
  }
  ctx.client.authenticated = true;
  ctx.w.Ok();
}

bool ValidClientName(std::string_view name) {
  for (char c : name)
    if (c < '!' || c > '~') return false;
  return true;
}

void WriteHelloMap(Context& ctx) {
  ctx.w.MapHeader(7);
  ctx.w.Bulk("server");
  ctx.w.Bulk("redis");
  ctx.w.Bulk("version");
  ctx.w.Bulk(kRedisCompatVersion);
  ctx.w.Bulk("proto");
  ctx.w.Integer(ctx.client.protocol);
  ctx.w.Bulk("id");
  ctx.w.Integer(static_cast<int64_t>(ctx.client.id));
  ctx.w.Bulk("mode");
  ctx.w.Bulk("standalone");
  ctx.w.Bulk("role");
  ctx.w.Bulk("master");
  ctx.w.Bulk("modules");
  ctx.w.ArrayHeader(0);
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
void Hello(Context& ctx) {
  int64_t version = ctx.client.protocol;
  size_t j = 1;
  if (ctx.args.size() >= 2) {
    if (!ParseInt64(ctx.args[1], &version)) {
      ctx.w.Error("Protocol version is not an integer or out of range");
      return;
    }
    j = 2;
    if (version < 2 || version > 3) {
      ctx.w.Error("-NOPROTO unsupported protocol version");
      return;
    }
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  for (; j < ctx.args.size(); ++j) {
    const size_t left = ctx.args.size() - j - 1;
    if (EqualsIgnoreCase(ctx.args[j], "auth") && left >= 2) {
      user = ctx.args[j + 1];
      pass = ctx.args[j + 2];
      has_auth = true;
      j += 2;
    } else if (EqualsIgnoreCase(ctx.args[j], "setname") && left >= 1) {
      // Each name is checked where it stands, as Redis does, so an invalid
      // one is reported before a later option's error and a later SETNAME.
      name = ctx.args[j + 1];
      if (!ValidClientName(name)) {
        ctx.w.Error("Client names cannot contain spaces, newlines or special characters.");
        return;
      }
      has_name = true;
      j += 1;
    } else {
      ctx.w.Error("Syntax error in HELLO option '" + std::string(ctx.args[j]) + "'");
      return;
    }
  }
  if (has_auth) {
    if (!CheckCredentials(ctx, user, pass)) return;
    ctx.client.authenticated = true;
  }
  if (!ctx.client.authenticated) {
    ctx.w.Error("-NOAUTH HELLO must be called with the client already authenticated, "
                "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                "authenticate the client and select the RESP protocol version at the same "
                "time");
    return;
  }
  if (has_name) ctx.client.name = std::string(name);
  ctx.client.protocol = static_cast<int>(version);
  ctx.w.set_protocol(ctx.client.protocol);
  WriteHelloMap(ctx);
}

void Select(Context& ctx) {
  int64_t db;
  if (!ParseInt64(ctx.args[1], &db)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  if (db < INT32_MIN || db > INT32_MAX) {  // Redis's text, typo included
    ctx.w.Error("value is out of range, value must between -2147483648 and 2147483647");
    return;
  }
  if (db < 0 || db >= ctx.store.database_count()) {
    ctx.w.Error(err::kDbRange);
    return;
  }
  ctx.client.db = static_cast<int>(db);
  ctx.w.Ok();
}

void WriteText(Context& ctx, const std::string& text) {
  if (ctx.w.protocol() == 3) {
    ctx.w.Verbatim("txt", text);
  } else {
    ctx.w.Bulk(text);
  }
}

void ClientId(Context& ctx) { ctx.w.Integer(static_cast<int64_t>(ctx.client.id)); }

void ClientSetName(Context& ctx) {
  if (!ValidClientName(ctx.args[2])) {
    ctx.w.Error("Client names cannot contain spaces, newlines or special characters.");
    return;
  }
  ctx.client.name = std::string(ctx.args[2]);
  ctx.w.Ok();
}

void ClientGetName(Context& ctx) {
  if (ctx.client.name.empty()) {
    ctx.w.Null();
  } else {
    ctx.w.Bulk(ctx.client.name);
  }
}

void ClientSetInfo(Context& ctx) {
  const std::string_view attr = ctx.args[2];
  const std::string_view value = ctx.args[3];
  std::string* field = nullptr;
  if (EqualsIgnoreCase(attr, "lib-name")) {
    field = &ctx.client.lib_name;
  } else if (EqualsIgnoreCase(attr, "lib-ver")) {
    field = &ctx.client.lib_ver;
  } else {
    ctx.w.Error("Unrecognized option '" + std::string(attr) + "'");
    return;
  }
  if (!ValidClientName(value)) {
    ctx.w.Error(std::string(attr) + " cannot contain spaces, newlines or special characters.");
    return;
  }
  *field = std::string(value);
  ctx.w.Ok();
}

// The client classes of CLIENT LIST/KILL TYPE: a client subscribed to
// anything is of the pubsub class (as Redis's getClientType); causalkv has
// no master or replica clients.
enum class ClientType { kAny, kNormal, kPubsub, kNone };

bool ParseClientType(std::string_view name, ClientType* type) {
  if (EqualsIgnoreCase(name, "normal")) {
    *type = ClientType::kNormal;
  } else if (EqualsIgnoreCase(name, "pubsub")) {
    *type = ClientType::kPubsub;
  } else if (EqualsIgnoreCase(name, "master") || EqualsIgnoreCase(name, "replica") ||
             EqualsIgnoreCase(name, "slave")) {
    *type = ClientType::kNone;
  } else {
    return false;
  }
  return true;
}

bool ClientTypeMatches(ClientType type, const ClientState& c) {
  switch (type) {
    case ClientType::kAny:
      return true;
    case ClientType::kNormal:
      return !c.subscribed();
    case ClientType::kPubsub:
      return c.subscribed();
    case ClientType::kNone:
      break;
  }
  return false;
}

void ClientList(Context& ctx) {
  // CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
  bool only_ids = false;
  std::vector<uint64_t> ids;
  ClientType type = ClientType::kAny;
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "type") && j + 1 < ctx.args.size()) {
      const std::string_view t = ctx.args[++j];
      if (ParseClientType(t, &type)) continue;
      ctx.w.Error("Unknown client type '" + std::string(t) + "'");
      return;
    } else if (EqualsIgnoreCase(ctx.args[j], "id") && j + 1 < ctx.args.size()) {
      only_ids = true;
      for (++j; j < ctx.args.size(); ++j) {
        int64_t id;
        if (!ParseInt64(ctx.args[j], &id) || id <= 0) {
          ctx.w.Error("Invalid client ID");
          return;
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  std::string text;
  const int64_t now = ctx.store.now_ms();
  for (const auto& [id, client] : ctx.server.clients) {
    if (only_ids && std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
    if (!ClientTypeMatches(type, *client)) continue;
    text += DescribeClient(*client, now);
  }
  WriteText(ctx, text);
}

void ClientInfo(Context& ctx) { WriteText(ctx, DescribeClient(ctx.client, ctx.store.now_ms())); }

// Ends `victim`'s connection after the current command: the server closes
// other clients; the caller's own connection closes once its reply is sent,
// as in Redis.
void Kill(Context& ctx, ClientState& victim) {
  if (&victim == &ctx.client) {
    victim.close_after_reply = true;
  } else if (!victim.close_asap) {
    victim.close_asap = true;
    ctx.server.clients_to_close.push_back(victim.id);
  }
}

// What CLIENT KILL's filters select.
struct KillFilter {
  bool by_id = false;
  uint64_t id = 0;
  const std::string_view* addr = nullptr;
  const std::string_view* laddr = nullptr;
  ClientType type = ClientType::kAny;
  bool skip_me = true;
};

// Parses the `<option> <value>` pairs of CLIENT KILL. Writes the error and
// returns false on a bad one.
bool ParseKillFilter(Context& ctx, KillFilter* f) {
  const auto args = ctx.args;
  // Filters are checked in order, as Redis does: a bad value is reported
  // before a dangling last option.
  for (size_t j = 2; j < args.size(); j += 2) {
    if (j + 1 == args.size()) {
      ctx.w.Error(err::kSyntax);
      return false;
    }
    const std::string_view option = args[j];
    const std::string_view& value = args[j + 1];
    if (EqualsIgnoreCase(option, "id")) {
      int64_t id = 0;
      if (!ParseInt64(value, &id) || id <= 0) {
        ctx.w.Error("client-id should be greater than 0");
        return false;
      }
      f->by_id = true;
      f->id = static_cast<uint64_t>(id);
    } else if (EqualsIgnoreCase(option, "type")) {
      if (!ParseClientType(value, &f->type)) {
        ctx.w.Error("Unknown client type '" + std::string(value) + "'");
        return false;
      }
    } else if (EqualsIgnoreCase(option, "addr")) {
      f->addr = &value;
    } else if (EqualsIgnoreCase(option, "laddr")) {
      f->laddr = &value;
    } else if (EqualsIgnoreCase(option, "user")) {
      if (value != "default") {
        ctx.w.Error("No such user '" + std::string(value) + "'");
        return false;
      }
    } else if (EqualsIgnoreCase(option, "skipme")) {
      if (EqualsIgnoreCase(value, "yes")) {
        f->skip_me = true;
      } else if (EqualsIgnoreCase(value, "no")) {
        f->skip_me = false;
      } else {
        ctx.w.Error(err::kSyntax);
        return false;
      }
    } else {
      ctx.w.Error(err::kSyntax);
      return false;
    }
  }
  return true;
}

bool KillFilterMatches(const KillFilter& f, const ClientState& c, const ClientState& me) {
  if (!ClientTypeMatches(f.type, c)) return false;
  if (f.by_id && c.id != f.id) return false;
  if (f.addr != nullptr && c.addr != *f.addr) return false;
  if (f.laddr != nullptr && c.laddr != *f.laddr) return false;
  if (f.skip_me && &c == &me) return false;
  return true;
}

// CLIENT KILL ip:port (replies OK, or an error when no client has that
// address), or CLIENT KILL <option> <value> ... (replies how many matched).
void ClientKill(Context& ctx) {
  std::vector<ClientState*> victims;
  if (ctx.args.size() == 3) {
    for (const auto& [id, client] : ctx.server.clients) {
      if (client->addr == ctx.args[2]) victims.push_back(client);
    }
    if (victims.empty()) {
      ctx.w.Error("No such client");
      return;
    }
    for (ClientState* victim : victims) Kill(ctx, *victim);
    ctx.w.Ok();
    return;
  }
  KillFilter filter;
  if (!ParseKillFilter(ctx, &filter)) return;
  for (const auto& [id, client] : ctx.server.clients) {
    if (KillFilterMatches(filter, *client, ctx.client)) victims.push_back(client);
  }
  for (ClientState* victim : victims) Kill(ctx, *victim);
  ctx.w.Integer(static_cast<int64_t>(victims.size()));
}

// CLIENT PAUSE timeout [WRITE|ALL]: commands wait (they are not refused)
// until the pause ends; the server resumes them. A second pause only ever
// extends the end or widens WRITE to ALL, as in Redis.
void ClientPauseCmd(Context& ctx) {
  int64_t timeout_ms = 0;
  if (!ParseInt64(ctx.args[2], &timeout_ms)) {
    ctx.w.Error("timeout is not an integer or out of range");
    return;
  }
  if (timeout_ms < 0) {
    ctx.w.Error("timeout is negative");
    return;
  }
  bool all = true;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "write")) {
      all = false;
    } else if (!EqualsIgnoreCase(ctx.args[3], "all")) {
      ctx.w.Error("CLIENT PAUSE mode must be WRITE or ALL");
      return;
    }
  } else if (ctx.args.size() > 4) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const int64_t now = WallClockMs();
  const int64_t end =
      timeout_ms > INT64_MAX - now ? INT64_MAX : now + timeout_ms;
  ClientPause& pause = ctx.server.pause;
  if (pause.end_ms == 0 || now >= pause.end_ms) pause = ClientPause{};
  pause.end_ms = std::max(pause.end_ms, end);
  pause.all = pause.all || all;
  ctx.w.Ok();
}

// CLIENT UNBLOCK id [TIMEOUT|ERROR]
void ClientUnblock(Context& ctx) {
  if (ctx.args.size() > 4) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                std::string(ctx.args[1]) + "'. Try CLIENT HELP.");
    return;
  }
  bool error = false;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "error")) {
      error = true;
    } else if (!EqualsIgnoreCase(ctx.args[3], "timeout")) {
      ctx.w.Error("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
      return;
    }
  }
  int64_t id;
  if (!ParseInt64(ctx.args[2], &id)) {
    ctx.w.Error(err::kNotInteger);
    return;
  }
  ctx.w.Integer(ctx.dispatcher.UnblockClient(static_cast<uint64_t>(id), error) ? 1 : 0);
}

void ClientUnpause(Context& ctx) {
  ctx.server.pause = ClientPause{};
  ctx.w.Ok();
}

// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP send no reply of their own; the
// dispatcher drops the replies they suppress.
void ClientReply(Context& ctx) {
  const std::string_view mode = ctx.args[2];
  if (EqualsIgnoreCase(mode, "on")) {
    ctx.client.reply_off = false;
    ctx.client.skip_next_reply = false;
    ctx.w.Ok();
  } else if (EqualsIgnoreCase(mode, "off")) {
    ctx.client.reply_off = true;
  } else if (EqualsIgnoreCase(mode, "skip")) {
    if (!ctx.client.reply_off) ctx.client.skip_next_reply = true;
  } else {
    ctx.w.Error(err::kSyntax);
  }
}

// CLIENT NO-EVICT / NO-TOUCH on|off: accepted; this server has no eviction
// and keeps no access times yet, so there is nothing for them to change.
void ClientOnOffFlag(Context& ctx) {
  const std::string_view v = ctx.args[2];
  if (EqualsIgnoreCase(v, "on") || EqualsIgnoreCase(v, "off")) {
    ctx.w.Ok();
  } else {
    ctx.w.Error(err::kSyntax);
  }
}

// RESET: the connection as if new: no transaction, no watches, database 0,
// RESP2, no name, replies on, and logged out when a password is required.
void Reset(Context& ctx) {
  ClientState& c = ctx.client;
  Dispatcher::DiscardTransaction(c);
  ctx.dispatcher.pubsub().UnsubscribeAll(c);
  ctx.dispatcher.tracking().Disable(c);
  ctx.dispatcher.monitors().Remove(c);
  c.db = 0;
  c.protocol = 2;
  ctx.w.set_protocol(2);
  c.name.clear();
  c.reply_off = false;
  c.skip_next_reply = false;
  c.authenticated = ctx.server.config.requirepass.empty();
  ctx.w.SimpleString("RESET");
}

// Outside cluster mode Redis refuses these the same way.
void ClusterOnly(Context& ctx) { ctx.w.Error("This instance has cluster support disabled"); }

void ClientHelp(Context& ctx) {
  static const char* const kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CACHING (YES|NO)",
      "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
      "GETREDIR",
      "    Return the client ID we are redirecting to when tracking is enabled.",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are:",
      "    * ADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made from the specified address",
      "    * LADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made to specified local address",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Kill connections by type.",
      "    * USER <username>",
      "      Kill connections authenticated by <username>.",
      "    * SKIPME (YES|NO)",
      "      Skip killing current connection (default: yes).",
      "    * ID <client-id>",
      "      Kill connections by client id.",
      "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
      "    Return information about client connections.",
      "UNPAUSE",
      "    Stop the current client pause, resuming traffic.",
      "PAUSE <timeout> [WRITE|ALL]",
      "    Suspend all, or just write, clients for <timeout> milliseconds.",
      "UNBLOCK <clientid> [TIMEOUT|ERROR]",
      "    Unblock the specified blocked client.",
      "REPLY (ON|OFF|SKIP)",
      "    Control the replies sent to the current connection.",
      "SETINFO <option> <value>",
      "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
      "         [OPTIN] [OPTOUT] [NOLOOP]",
      "    Control server assisted client side caching.",
      "TRACKINGINFO",
      "    Report tracking status for the current connection.",
      "NO-EVICT (ON|OFF)",
      "    Protect current client connection from eviction.",
      "HELP",
      "    Print this help."};
  WriteHelp(ctx, kLines);
}

}  // namespace

std::string DescribeClient(const ClientState& c, int64_t now_ms) {
  const ClientIo io = c.io != nullptr ? c.io->Io() : ClientIo{};
  std::string flags;
  if (c.monitor) flags += 'O';
  if (c.subscribed()) flags += 'P';
  if (c.in_multi) flags += 'x';
  if (c.blocked || c.blocked_on_keys) flags += 'b';
  if (c.tracking.on) flags += 't';
  if (c.tracking.redirect_broken) flags += 'R';
  if (c.tracking.bcast) flags += 'B';
  if (c.close_after_reply) flags += 'c';
  if (c.close_asap) flags += 'A';
  if (c.unix_socket) flags += 'U';
  if (flags.empty()) flags = "N";
  std::string events;
  if (io.reading) events += 'r';
  if (io.writing) events += 'w';
  auto n = [](auto v) { return std::to_string(v); };
  std::string s;
  s.reserve(320);
  s += "id=" + n(c.id);
  s += " addr=" + c.addr;
  s += " laddr=" + c.laddr;
  s += " fd=" + n(c.fd);
  s += " name=" + c.name;
  s += " age=" + n((now_ms - c.created_ms) / 1000);
  s += " idle=" + n((now_ms - c.last_interaction_ms) / 1000);
  s += " flags=" + flags;
  s += " db=" + n(c.db);
  s += " sub=" + n(c.channels.size());
  s += " psub=" + n(c.patterns.size());
  s += " ssub=" + n(c.shard_channels.size());
  s += " multi=" + (c.in_multi ? n(c.queued.size()) : std::string("-1"));
  s += " qbuf=" + n(io.qbuf);
  s += " qbuf-free=" + n(io.qbuf_free);
  s += " argv-mem=" + n(io.argv_mem);
  s += " multi-mem=" + n(c.queued_bytes);
  s += " rbs=" + n(io.rbs);
  s += " rbp=" + n(io.rbp);
  s += " obl=" + n(io.obl);
  s += " oll=" + n(io.oll);
  s += " omem=" + n(io.omem);
  s += " tot-mem=" + n(io.tot_mem + c.queued_bytes);
  s += " events=" + events;
  s += " cmd=" + c.last_command;
  s += " user=default redir=" +
       (c.tracking.on ? n(static_cast<int64_t>(c.tracking.redirect)) : std::string("-1"));
  s += " resp=" + n(c.protocol);
  s += " lib-name=" + c.lib_name;
  s += " lib-ver=" + c.lib_ver;
  s += "\n";
  return s;
}

void RegisterConnectionCommands(std::vector<CommandSpec>* out) {
  const std::string g = "connection";
  const uint32_t kConn = kNoScript | kLoading | kStale;
  auto spec = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                  const char* summary, const char* complexity, const char* args) {
    return CommandSpec{name, arity, flags, 0, 0, 0, h, g, since, summary, complexity, args, {}};
  };
  out->push_back(spec("ping", -1, kFast, Ping, "1.0.0", "Returns the server's liveliness "
                      "response.", "O(1)", "[message:string]"));
  out->push_back(spec("echo", 2, kFast, Echo, "1.0.0", "Returns the given string.", "O(1)",
                      "message:string"));
  out->push_back(spec("quit", -1, kConn | kFast | kNoAuth | kTxControl, Quit, "1.0.0",
                      "Closes the connection.", "O(1)", ""));
  out->push_back(spec("auth", -2, kConn | kFast | kNoAuth, Auth, "1.0.0",
                      "Authenticates the connection.",
                      "O(N) where N is the number of passwords defined for the user",
                      "[username:string] password:string"));
  out->push_back(spec("hello", -1, kConn | kFast | kNoAuth, Hello, "6.0.0",
                      "Handshakes with the Redis server.", "O(1)",
                      "[protover:integer] [AUTH=username:string] [password:string] "
                      "[SETNAME=clientname:string]"));
  out->push_back(spec("reset", 1, kConn | kFast | kNoAuth | kTxControl, Reset, "6.2.0",
                      "Resets the connection.", "O(1)", ""));
  out->push_back(spec("readonly", 1, kConn | kFast, ClusterOnly, "3.0.0",
                      "Enables read-only queries for a connection to a Redis Cluster replica "
                      "node.", "O(1)", ""));
  out->push_back(spec("readwrite", 1, kConn | kFast, ClusterOnly, "3.0.0",
                      "Enables read-write queries for a connection to a Redis Cluster replica "
                      "node.", "O(1)", ""));
  // Not noscript (as Redis): inside a script it selects the script's own database.
  out->push_back(spec("select", 2, (kConn & ~kNoScript) | kFast, Select, "1.0.0",
                      "Changes the selected database.", "O(1)", "index:integer"));
  CommandSpec client = spec("client", -2, 0, nullptr, "2.4.0",
                            "A container for client connection commands.",
                            "Depends on subcommand.", "");
  auto sub = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                 const char* summary, const char* args) {
    client.subcommands.push_back(
        spec(name, arity, flags, h, since, summary, "O(1)", args));
  };
  sub("client|id", 2, kConn, ClientId, "5.0.0", "Returns the unique client ID of the "
      "connection.", "");
  sub("client|setname", 3, kConn, ClientSetName, "2.6.9", "Sets the connection name.",
      "connection-name:string");
  sub("client|getname", 2, kConn, ClientGetName, "2.6.9", "Returns the name of the "
      "connection.", "");
  sub("client|setinfo", 4, kConn, ClientSetInfo, "7.2.0",
      "Sets information specific to the client or connection.",
      "LIB-NAME=libname:string LIB-VER=libver:string");
  sub("client|list", -2, kConn | kAdmin, ClientList, "2.4.0", "Lists open connections.",
      "[TYPE=type:string] [ID=client-id:integer...]");
  sub("client|info", 2, kConn, ClientInfo, "6.2.0",
      "Returns information about the connection.", "");
  sub("client|reply", 3, kConn, ClientReply, "3.2.0",
      "Instructs the server whether to reply to commands.", "ON|OFF|SKIP");
  sub("client|no-evict", 3, kConn | kAdmin, ClientOnOffFlag, "7.0.0",
      "Sets the client eviction mode of the connection.", "ON|OFF");
  sub("client|no-touch", 3, kConn, ClientOnOffFlag, "7.2.0",
      "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
      "ON|OFF");
  sub("client|kill", -3, kConn | kAdmin, ClientKill, "2.4.0",
      "Terminates open connections.",
      "[ID=client-id:integer] [TYPE=type:string] [USER=username:string] "
      "[ADDR=ip:port:string] [LADDR=ip:port:string] [SKIPME=yes/no:string]");
  sub("client|pause", -3, kConn | kAdmin, ClientPauseCmd, "3.0.0",
      "Suspends commands processing.", "timeout:integer [WRITE|ALL]");
  sub("client|unpause", 2, kConn | kAdmin, ClientUnpause, "6.2.0",
      "Resumes processing commands from paused clients.", "");
  sub("client|unblock", -3, kConn | kAdmin, ClientUnblock, "5.0.0",
      "Unblocks a client blocked by a blocking command from a different connection.",
      "client-id:integer [TIMEOUT|ERROR]");
  sub("client|help", 2, kConn, ClientHelp, "5.0.0", "Returns helpful text about the different "
      "subcommands.", "");
  RegisterTrackingSubcommands(&client);
  out->push_back(std::move(client));
}

}  // namespace causalkv::command
