// Scripting: EVAL and FCALL on top of script::Engine. Runs a script's
// redis.call through the dispatcher, as a separate client state (its own
// database, RESP version and no transaction), with Redis's checks first
// (unknown command, arity, noscript, writes from read-only scripts).
//
// Effects, not scripts, are logged and replicated: EVAL and FCALL are not
// write commands, so neither the append-only log nor the peers ever see
// them; each write a script runs is logged and collected like a command
// of EXEC, and the log is written only once the script has ended (the
// server flushes it before replying, never during the script), so a crash
// never keeps half of a script. In a cluster, the EVAL's reply waits for
// the write quorum of every key the script wrote, as EXEC's does.
//
// Busy scripts: scripts run in a Lua coroutine. Past busy-reply-threshold
// the count hook yields every ~50 ms (libuv's loop cannot be re-entered from
// a callback, so the script is suspended instead of the loop being polled
// from inside it): the caller's reply is held like a quorum wait, the
// server's idle handle resumes the script on every turn of the loop, and
// meanwhile other clients get -BUSY (dispatch.cc), timers and the log
// flush wait. A script cannot yield inside a C callback (gsub,
// table.sort), a metamethod or an iterator (pcall and coroutines are
// wrapped so that it can: script/engine.cc): a loop there is not served
// until it leaves them. In a cluster the keys a suspended script writes are
// collected across its slices and replicated once it ends, its reply held
// for their write quorum (Dispatcher::FinishSuspendedScript).
//
// Functions are persisted in `dir`/functions.lua-libraries (the payload of
// FUNCTION DUMP, written to a temporary file and renamed durably after
// every change); the script cache is not persisted, as in Redis.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"
#include "causalkv/script/engine.h"
#include "command_table.h"

namespace causalkv::command {

class Dispatcher;

// CommandSpec::find_keys of EVAL and FCALL and their variants: the numkeys
// arguments after the third (none when numkeys is malformed), as Redis's
// keynum key spec.
void ScriptKeys(std::span<const std::string_view> args, std::vector<std::string_view>* keys);

class Scripting : public script::CallHandler {
 public:
  Scripting(Dispatcher* dispatcher, ServerState* server, const CommandTable* table);

  script::Engine& engine() { return engine_; }

  // EVAL/EVALSHA[_RO]: ctx.args are `cmd script|sha numkeys key... arg...`.
  void Eval(Context& ctx, bool by_sha, bool read_only);
  // FCALL[_RO]: `cmd function numkeys key... arg...`.
  void FCall(Context& ctx, bool read_only);

  // CLIENT PAUSE WRITE holds back EVAL, EVALSHA and FCALL when their
  // script may write, as Redis: one without a shebang, or whose flags lack
  // no-writes (an unknown script or function too: it is held, then fails).
  bool MayWrite(std::span<const std::string_view> args);

  bool running() const { return running_; }
  bool running_function() const { return running_ && is_function_; }
  // Paused past busy-reply-threshold, its caller's reply held.
  bool suspended() const { return suspended_; }
  // The name and command line of the running function (FUNCTION STATS).
  const std::string& running_name() const { return running_name_; }
  const std::vector<std::string>& running_command() const { return running_command_; }
  int64_t running_ms() const;
  // SCRIPT KILL / FUNCTION KILL: the error reply, or "" when the kill is
  // under way.
  std::string Kill(bool function);

  // Functions on disk (see the top of this file). Load: at startup, false
  // with *error when the file is unreadable or a library fails to load.
  bool LoadFunctions(std::string* error);
  void SaveFunctions();

  // script::CallHandler
  void Call(std::span<const std::string_view> args, int resp, std::string* reply) override;
  TickAction Tick() override;
  bool CommandExists(std::span<const std::string_view> args) override;
  // A run suspended past busy-reply-threshold goes on for a slice (the
  // server calls it on every turn of its loop while script_suspended).
  void Continue();

 private:
  // Parses numkeys: false with the error written.
  bool SplitKeys(Context& ctx, std::vector<std::string>* keys, std::vector<std::string>* argv);
  // With peers, a script flagged no-cluster does not run (as in Redis
  // Cluster): the error is written and true returned.
  bool RefusedForCluster(Context& ctx, uint32_t flags);
  // Writes -OOM and returns true when the script must not start.
  bool RefusedForMemory(Context& ctx, uint32_t flags);
  void Begin(Context& ctx, bool is_function, bool read_only, uint32_t flags, std::string name);
  void End();
  // After Run*: a suspended run holds the caller's reply (like a quorum
  // wait) until Continue finishes it.
  void AfterRun(Context& ctx, script::Engine::RunStatus status);

  Dispatcher* dispatcher_;
  ServerState* server_;
  const CommandTable* table_;
  script::Engine engine_;
  ClientState script_client_;
  bool running_ = false;
  bool is_function_ = false;
  bool read_only_ = false;
  bool wrote_ = false;
  bool kill_requested_ = false;
  bool suspended_ = false;
  bool may_suspend_ = false;
  uint64_t caller_id_ = 0;
  uint64_t caller_seq_ = 0;
  int caller_protocol_ = 2;
  int64_t last_slice_ms_ = 0;
  uint32_t flags_ = 0;
  int64_t started_ms_ = 0;
  std::string running_name_;
  std::vector<std::string> running_command_;
};

}  // namespace causalkv::command
