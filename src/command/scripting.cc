#include "scripting.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/persist/durable_rename.h"
#include "causalkv/util/errno_message.h"

namespace causalkv::command {
namespace {

constexpr const char* kFunctionsFile = "functions.lua-libraries";

bool ArityOk(int arity, size_t argc) {
  return arity > 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace

void ScriptKeys(std::span<const std::string_view> args, std::vector<std::string_view>* keys) {
  int64_t numkeys = 0;
  if (args.size() < 3 || !ParseInt64(args[2], &numkeys) || numkeys < 0 ||
      static_cast<uint64_t>(numkeys) > args.size() - 3) {
    return;
  }
  keys->insert(keys->end(), args.begin() + 3,
               args.begin() + 3 + static_cast<std::ptrdiff_t>(numkeys));
}

Scripting::Scripting(Dispatcher* dispatcher, ServerState* server, const CommandTable* table)
    : dispatcher_(dispatcher), server_(server), table_(table) {}

int64_t Scripting::running_ms() const { return running_ ? WallClockMs() - started_ms_ : 0; }

bool Scripting::SplitKeys(Context& ctx, std::vector<std::string>* keys,
                          std::vector<std::string>* argv) {
  int64_t numkeys;
  if (!ParseInt64(ctx.args[2], &numkeys)) {
    ctx.w.Error(ctx.args[0].size() >= 5 && EqualsIgnoreCase(ctx.args[0].substr(0, 5), "fcall")
                    ? "Bad number of keys provided"
                    : "value is not an integer or out of range");
    return false;
  }
  if (numkeys < 0) {
    ctx.w.Error("Number of keys can't be negative");
    return false;
  }
  if (static_cast<uint64_t>(numkeys) > ctx.args.size() - 3) {
    ctx.w.Error("Number of keys can't be greater than number of args");
    return false;
  }
  const size_t first_arg = 3 + static_cast<size_t>(numkeys);
  keys->assign(ctx.args.begin() + 3, ctx.args.begin() + static_cast<std::ptrdiff_t>(first_arg));
  argv->assign(ctx.args.begin() + static_cast<std::ptrdiff_t>(first_arg), ctx.args.end());
  return true;
}

void Scripting::Begin(Context& ctx, bool is_function, bool read_only, uint32_t flags,
                      std::string name) {
  ClientState& c = script_client_;
  c.in_script = true;
  c.id = ctx.client.id;
  c.db = ctx.client.db;
  c.protocol = 2;
  c.authenticated = true;
  c.name = ctx.client.name;
  c.addr = ctx.client.addr;
  c.laddr = ctx.client.laddr;
  c.peer = false;
  c.in_multi = false;
  c.reply_off = false;
  c.skip_next_reply = false;
  c.quorum_override = ctx.client.quorum_override;
  c.allow_oom = (flags & script::kAllowOom) != 0;
  running_ = true;
  is_function_ = is_function;
  read_only_ = read_only;
  flags_ = flags;
  wrote_ = false;
  kill_requested_ = false;
  started_ms_ = WallClockMs();
  running_name_ = std::move(name);
  running_command_.assign(ctx.args.begin(), ctx.args.end());
  server_->script_running = true;
  // Suspending holds the caller's reply: not for a command of EXEC (its
  // reply is part of EXEC's).
  may_suspend_ = server_->script_suspended && !dispatcher_->executing_queued() &&
                 !ctx.client.peer;
}

void Scripting::AfterRun(Context& ctx, script::Engine::RunStatus status) {
  if (status == script::Engine::RunStatus::kDone) {
    End();
    return;
  }
  // The reply waits, as a held reply of the connection (its later
  // commands wait behind it); the loop serves others meanwhile.
  ClientState& client = ctx.client;
  client.cluster_wait = true;
  client.wait_is_read = false;
  client.wait_seq = client.next_wait_seq++;
  client.wait_stops_input = true;
  caller_id_ = client.id;
  caller_seq_ = client.wait_seq;
  caller_protocol_ = client.protocol;
  suspended_ = true;
  if (server_->script_suspended) server_->script_suspended(true);
}

void Scripting::Continue() {
  if (!suspended_) return;
  std::string reply;
  resp::Writer w(&reply, caller_protocol_);
  last_slice_ms_ = WallClockMs();
  dispatcher_->BeginScriptSlice();
  const script::Engine::RunStatus status = engine_.Resume(w);
  dispatcher_->EndScriptSlice();
  if (status == script::Engine::RunStatus::kSuspended) return;
  suspended_ = false;
  End();
  if (server_->script_suspended) server_->script_suspended(false);
  if (!reply.empty() && reply[0] == '-') ++server_->stats.total_error_replies;
  // CLIENT REPLY OFF since: the reply is dropped, as Dispatch would.
  auto caller = server_->clients.find(caller_id_);
  if (caller != server_->clients.end() && caller->second->reply_off) reply.clear();
  dispatcher_->FinishSuspendedScript(caller_id_, caller_seq_, std::move(reply));
}

void Scripting::End() {
  running_ = false;
  server_->script_running = false;
  server_->script_timed_out = false;
  running_command_.clear();
}

bool Scripting::RefusedForCluster(Context& ctx, uint32_t flags) {
  if (!(flags & script::kNoCluster) || dispatcher_->replicator() == nullptr) return false;
  ctx.w.Error("Can not run script on cluster, 'no-cluster' flag is set.");
  return true;
}

bool Scripting::RefusedForMemory(Context& ctx, uint32_t flags) {
  // As Redis: a script that declares its flags and may write does not even
  // start over maxmemory, unless allow-oom (one without a shebang starts,
  // and its writes fail).
  if (!(flags & script::kHasShebang) || (flags & (script::kAllowOom | script::kNoWrites))) {
    return false;
  }
  const uint64_t limit = server_->config.maxmemory;
  if (limit == 0 || dispatcher_->UsedMemory() <= limit) return false;
  ctx.w.Error("-OOM command not allowed when used memory > 'maxmemory'.");
  return true;
}

void Scripting::Eval(Context& ctx, bool by_sha, bool read_only) {
  std::vector<std::string> keys, argv;
  if (!SplitKeys(ctx, &keys, &argv)) return;
  std::string sha;
  uint32_t flags = 0;
  if (by_sha) {
    if (!engine_.FindScript(ctx.args[1], &flags)) {
      ctx.w.Error("-NOSCRIPT No matching script. Please use EVAL.");
      return;
    }
    sha = ToLower(ctx.args[1]);
  } else {
    std::string error;
    if (!engine_.LoadScript(ctx.args[1], &sha, &error)) {
      ctx.w.Error("-" + error);
      return;
    }
    engine_.FindScript(sha, &flags);
  }
  if (read_only && (flags & script::kHasShebang) && !(flags & script::kNoWrites)) {
    ctx.w.Error("Can not execute a script with write flag using *_ro command.");
    return;
  }
  if (RefusedForCluster(ctx, flags) || RefusedForMemory(ctx, flags)) return;
  const bool no_writes = read_only || (flags & script::kNoWrites);
  std::vector<std::string_view> key_views(keys.begin(), keys.end());
  std::vector<std::string_view> arg_views(argv.begin(), argv.end());
  Begin(ctx, false, no_writes, flags, sha);
  AfterRun(ctx, engine_.RunScript(sha, key_views, arg_views, *this, ctx.w));
}

void Scripting::FCall(Context& ctx, bool read_only) {
  const script::Function* fn = engine_.FindFunction(ctx.args[1]);
  if (fn == nullptr) {
    ctx.w.Error("Function not found");
    return;
  }
  std::vector<std::string> keys, argv;
  if (!SplitKeys(ctx, &keys, &argv)) return;
  if (read_only && !(fn->flags & script::kNoWrites)) {
    ctx.w.Error("Can not execute a script with write flag using *_ro command.");
    return;
  }
  // Functions always declare their flags (Redis treats them as a shebang).
  if (RefusedForCluster(ctx, fn->flags) || RefusedForMemory(ctx, fn->flags | script::kHasShebang)) {
    return;
  }
  const bool no_writes = read_only || (fn->flags & script::kNoWrites);
  std::vector<std::string_view> key_views(keys.begin(), keys.end());
  std::vector<std::string_view> arg_views(argv.begin(), argv.end());
  Begin(ctx, true, no_writes, fn->flags, fn->name);
  AfterRun(ctx, engine_.RunFunction(*fn, key_views, arg_views, *this, ctx.w));
}

void Scripting::Call(std::span<const std::string_view> args, int resp, std::string* reply) {
  resp::Writer w(reply, resp);
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr) {
    w.Error("Unknown Redis command called from script");
    return;
  }
  if (!spec->subcommands.empty() && args.size() >= 2) {
    if (const CommandSpec* sub = CommandTable::FindSub(*spec, args[1])) spec = sub;
  }
  if (!ArityOk(spec->arity, args.size())) {
    w.Error("Wrong number of args calling Redis command from script");
    return;
  }
  // Blocking commands are noscript in Redis 7 (BLPOP ... BZMPOP); XREAD
  // and XREADGROUP (would_block) run, and refuse BLOCK themselves.
  if ((spec->flags & kNoScript) ||
      (spec->blocking_args != nullptr && spec->would_block == nullptr)) {
    w.Error("This Redis command is not allowed from script");
    return;
  }
  if ((spec->flags & kWrite) && read_only_) {
    w.Error("Write commands are not allowed from read-only scripts.");
    return;
  }
  script_client_.protocol = resp;
  dispatcher_->DispatchFromScript(script_client_, args, w);
  if (spec->flags & kWrite) wrote_ = true;
}

bool Scripting::MayWrite(std::span<const std::string_view> args) {
  if (args.size() < 2) return false;
  uint32_t flags = 0;
  if (EqualsIgnoreCase(args[0], "eval")) {
    if (!script::Engine::ScriptFlags(args[1], &flags)) return false;
    return !(flags & script::kNoWrites);
  }
  if (EqualsIgnoreCase(args[0], "evalsha")) {
    return !engine_.FindScript(args[1], &flags) || !(flags & script::kNoWrites);
  }
  if (EqualsIgnoreCase(args[0], "fcall")) {
    const script::Function* fn = engine_.FindFunction(args[1]);
    return fn == nullptr || !(fn->flags & script::kNoWrites);
  }
  return false;
}

bool Scripting::CommandExists(std::span<const std::string_view> args) {
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr) return false;
  return spec->subcommands.empty() || args.size() < 2 ||
         CommandTable::FindSub(*spec, args[1]) != nullptr;
}

script::CallHandler::TickAction Scripting::Tick() {
  if (kill_requested_) return TickAction::kKill;
  const int64_t now = WallClockMs();
  if (!server_->script_timed_out && now - started_ms_ >= server_->config.busy_reply_threshold) {
    server_->script_timed_out = true;
    spdlog::warn("slow script detected: still in execution after {} milliseconds",
                 now - started_ms_);
  }
  // Past the threshold the script runs in slices of about 50 ms, the
  // server serving others (BUSY, SCRIPT KILL) between them. Not with peers:
  // the keys it wrote are collected for replication by the command that
  // started it.
  if (server_->script_timed_out && may_suspend_ && now - last_slice_ms_ >= 50) {
    return TickAction::kYield;
  }
  return TickAction::kContinue;
}

std::string Scripting::Kill(bool function) {
  if (!running_) return "-NOTBUSY No scripts in execution right now.";
  if (wrote_) {
    return "-UNKILLABLE Sorry the script already executed write commands against the dataset. "
           "You can either wait the script termination or kill the server in a hard way using "
           "the SHUTDOWN NOSAVE command.";
  }
  if (!function && is_function_) {
    return "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN "
           "NOSAVE.";
  }
  if (function && !is_function_) {
    return "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
           "NOSAVE.";
  }
  kill_requested_ = true;
  return "";
}

bool Scripting::LoadFunctions(std::string* error) {
  const std::string path = server_->config.dir + "/" + kFunctionsFile;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string data;
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    data.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  std::string restore_error;
  if (!engine_.RestoreLibraries(data, "FLUSH", &restore_error)) {
    *error = path + ": " + restore_error;
    return false;
  }
  spdlog::info("{} function libraries loaded from {}", engine_.libraries().size(), path);
  return true;
}

void Scripting::SaveFunctions() {
  const std::string& dir = server_->config.dir;
  const std::string path = dir + "/" + kFunctionsFile;
  const std::string tmp = path + ".tmp";
  const std::string data = engine_.DumpLibraries();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  std::string error;
  if (!ok) {
    spdlog::warn("cannot write {}: {}", tmp, std::strerror(errno));
    return;
  }
  if (!persist::RenameDurably(tmp, path, dir, &error)) {
    spdlog::warn("cannot save the function libraries: {}", error);
  }
}

}  // namespace causalkv::command
