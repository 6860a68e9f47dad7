// Engine: the Lua 5.1 virtual machine behind EVAL and FCALL, with Redis
// 7.2's sandbox, its `redis` API, the cjson, cmsgpack, bit and struct
// libraries, the conversions between Lua values and RESP replies, the cache
// of EVAL scripts (by SHA1) and the function libraries of FUNCTION LOAD.
//
// The engine knows no store and no sockets: a script's redis.call goes
// through CallHandler, which the command layer implements by running the
// command and handing back its RESP reply; the engine turns that reply into
// Lua values, and the script's result into a reply on the caller's Writer.
//
// Invariants:
// - Globals never leak from one run to the next: the globals a script sees
//   are a read-only proxy (writing one raises "Attempt to modify a readonly
//   table", reading a missing one "Script attempted to access nonexistent
//   global variable"), and whatever a script manages to store in it anyway
//   (rawset) is wiped when the run ends, with KEYS and ARGV.
// - One run at a time: Run* is never re-entered (the command layer refuses
//   EVAL and FCALL inside a script: they are flagged noscript), and no run
//   starts while one is suspended (the command layer answers -BUSY).
// - A run is a Lua coroutine, so that it can be suspended past the busy
//   threshold (Run* and Resume return kSuspended) and go on later. A hook
//   can only yield through Lua frames: pcall and the coroutine functions
//   scripts see are wrappers that keep this true (engine.cc), so only a
//   loop inside a C callback (gsub, table.sort), a metamethod or an
//   iterator cannot be suspended or killed until it returns.
// - Errors reach the client as Redis 7 words them: "<error> script: <sha or
//   function name>, on @user_script:<line>."
//
// Thread-compatibility: one thread (the server's loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "causalkv/resp/writer.h"

struct lua_State;

namespace causalkv::script {

// Shebang flags (`#!lua flags=...`) and register_function flags.
enum ScriptFlag : uint32_t {
  kNoWrites = 1u << 0,
  kAllowOom = 1u << 1,
  kAllowStale = 1u << 2,
  kNoCluster = 1u << 3,
  kAllowCrossSlotKeys = 1u << 4,
  // An EVAL script that starts with a shebang: its flags are its own, not
  // the defaults Redis gives to scripts without one.
  kHasShebang = 1u << 5,
};

// The names in Redis's order (FUNCTION LIST's flags).
std::vector<std::string> FlagNames(uint32_t flags);

// What the command layer provides to a running script. Called on the
// engine's thread, from inside Run*.
class CallHandler {
 public:
  // redis.call / redis.pcall: runs `args` (args[0] the command name) and
  // appends its reply to *reply in RESP version `resp` (2 or 3, as the
  // script chose with redis.setresp). An error reply starts with '-'.
  virtual void Call(std::span<const std::string_view> args, int resp, std::string* reply) = 0;
  // Called every hundred thousand Lua instructions. kKill ends the script
  // with the kill error (SCRIPT KILL, FUNCTION KILL), raised again at the
  // script's next line if a pcall caught it; kYield suspends it (Run*
  // return kSuspended) where that is safe, so that the server can serve
  // others; Resume goes on.
  enum class TickAction { kContinue, kYield, kKill };
  virtual TickAction Tick() = 0;
  // redis.acl_check_cmd: whether `args` names a known command (and
  // subcommand). causalkv has no ACL users: every known command is allowed.
  virtual bool CommandExists(std::span<const std::string_view> args) = 0;

 protected:
  ~CallHandler() = default;
};

struct Function {
  std::string name;
  std::string description;
  uint32_t flags = 0;
  std::string library;
  int ref = 0;  // the callback, in the Lua registry
};

struct Library {
  std::string name;
  std::string code;
  std::vector<std::string> functions;  // names, in registration order
  int env_ref = 0;                     // the library's global environment
};

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- EVAL scripts ---
  // Compiles `body` and caches it under its SHA1 (*sha, 40 lowercase hex
  // digits); a cached body is not compiled again. False with *error (the
  // error reply's text, code included) when it does not compile or its
  // shebang is wrong.
  bool LoadScript(std::string_view body, std::string* sha, std::string* error);
  // The flags of a cached script; false if `sha` is not cached (any case).
  bool FindScript(std::string_view sha, uint32_t* flags) const;
  void FlushScripts();
  // The shebang flags of a script body (0 without a shebang; kHasShebang
  // with one), without compiling or caching it. False if the shebang is
  // malformed.
  static bool ScriptFlags(std::string_view body, uint32_t* flags);
  size_t script_count() const { return scripts_.size(); }
  // Bytes of script bodies held by the cache.
  size_t scripts_memory() const { return scripts_bytes_; }

  // Runs a cached script with KEYS and ARGV set, and writes its reply
  // (or its error) with `w`. REQUIRES: FindScript(sha).
  enum class RunStatus { kDone, kSuspended };
  RunStatus RunScript(std::string_view sha, std::span<const std::string_view> keys,
                      std::span<const std::string_view> argv, CallHandler& handler,
                      resp::Writer& w);
  // Continues a suspended run; its reply is written with `w` once done.
  RunStatus Resume(resp::Writer& w);

  // --- Functions ---
  // FUNCTION LOAD: runs the library's code (which must start with
  // `#!lua name=<lib>`), registering its functions. With `replace`, a
  // library of the same name is replaced. False with *error, and nothing
  // changed. *name: the library's name.
  bool LoadLibrary(std::string_view code, bool replace, std::string* name, std::string* error);
  bool DeleteLibrary(std::string_view name);
  void FlushLibraries();
  const Function* FindFunction(std::string_view name) const;
  const std::map<std::string, Library>& libraries() const { return libraries_; }
  size_t function_count() const { return functions_.size(); }
  // Bytes of library code held.
  size_t functions_memory() const;
  // Calls a function with its keys and arguments, writing its reply.
  RunStatus RunFunction(const Function& fn, std::span<const std::string_view> keys,
                        std::span<const std::string_view> argv, CallHandler& handler,
                        resp::Writer& w);
  // FUNCTION DUMP / RESTORE: every library's code, in our own format
  // (payload.h). Restore loads them all or nothing; `policy` is "FLUSH",
  // "APPEND" or "REPLACE". False with *error as Redis words it.
  std::string DumpLibraries() const;
  bool RestoreLibraries(std::string_view payload, std::string_view policy, std::string* error);

  // Bytes the Lua heap uses (used_memory_lua).
  size_t lua_memory() const;

 private:
  struct Script {
    std::string body;
    uint32_t flags = 0;
    int ref = 0;  // the compiled chunk, in the Lua registry
  };
  RunStatus Run(int ref, bool is_function, std::string_view name,
                std::span<const std::string_view> keys, std::span<const std::string_view> argv,
                CallHandler& handler, resp::Writer& w);
  RunStatus Step(int nargs, resp::Writer& w);
  void ClearRunGlobals();
  void RemoveLibrary(const std::string& name);

  lua_State* L_;
  std::unordered_map<std::string, Script> scripts_;
  size_t scripts_bytes_ = 0;
  std::map<std::string, Library> libraries_;
  std::map<std::string, Function> functions_;
  // The run in progress: its coroutine (anchored in the registry), name,
  // and state shared with the redis.* functions.
  lua_State* co_ = nullptr;
  int co_ref_ = 0;
  std::string run_name_;
  std::unique_ptr<struct RunState> run_;
};

// SHA1 of `data` as 40 lowercase hex digits (redis.sha1hex, script ids).
std::string Sha1Hex(std::string_view data);

}  // namespace causalkv::script
