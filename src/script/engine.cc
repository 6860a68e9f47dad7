#include "causalkv/script/engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
int luaopen_cjson(lua_State* L);
int luaopen_bit(lua_State* L);
}

#include "libraries.h"
#include "payload.h"
#include "resp_lua.h"

namespace causalkv::script {

// The run in progress (one at a time, on one thread).
struct RunState {
  CallHandler* handler = nullptr;
  int resp = 2;
  bool killed = false;
  // FUNCTION LOAD in progress: where register_function puts what it gets.
  std::vector<Function>* registering = nullptr;
  // The coroutine the run is in: the only thread a hook may yield (a
  // coroutine of the script's own would return to the script instead).
  lua_State* thread = nullptr;
  // A hook asked to pause the run (set by the hook or Pause, taken by the
  // pcall and coroutine wrappers and by Engine::Step).
  bool pausing = false;
  // FUNCTION LOAD: when the library's code has run too long.
  std::chrono::steady_clock::time_point load_deadline;
};

namespace {

// Redis 7.2's version as scripts see it (redis.REDIS_VERSION): the version
// INFO reports as redis_version.
constexpr const char* kRedisVersion = "7.2.4";
constexpr int kRedisVersionNum = 0x070204;

// Registry keys.
constexpr const char* kGlobalsKey = "causalkv.globals";       // the real globals
constexpr const char* kLoadRedisKey = "causalkv.load_redis";  // redis during FUNCTION LOAD
constexpr const char* kRunProxyKey = "causalkv.run_globals";  // what scripts see as globals

// The run (or FUNCTION LOAD) in progress: what the C functions work for.
RunState* current = nullptr;

// Raises `msg` from a C function with the position of the Lua code that
// called it, as a Lua runtime error would read ("user_script:1: ...").
int RaiseAt(lua_State* L, int level, const char* msg) {
  luaL_where(L, level);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

// Pushes an error table {err = msg} (msg carries its own code).
void PushErrorTable(lua_State* L, std::string_view msg) {
  lua_newtable(L);
  lua_pushstring(L, "err");
  lua_pushlstring(L, msg.data(), msg.size());
  lua_rawset(L, -3);
}

// Raises {err = msg}. Like every lua_error here, it is only called where no
// C++ object with a destructor is alive in the calling C function: Lua 5.1
// unwinds with longjmp, which skips destructors.
int RaiseTable(lua_State* L, const char* msg) {
  PushErrorTable(L, msg);
  return lua_error(L);
}

int ReadonlyNewIndex(lua_State* L) { return RaiseAt(L, 1, "Attempt to modify a readonly table"); }

int MissingGlobal(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  luaL_where(L, 1);
  lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'",
                  name != nullptr ? name : "?");
  lua_concat(L, 2);
  return lua_error(L);
}

// Globals lookup of a script (upvalue 1: the table looked in): a missing
// one is an error, as in Redis.
int StrictIndex(lua_State* L) {
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  return MissingGlobal(L);
}

bool IsReadonlyProxy(lua_State* L, int index) {
  if (!lua_getmetatable(L, index)) return false;
  lua_getfield(L, -1, "__newindex");
  const bool readonly = lua_tocfunction(L, -1) == ReadonlyNewIndex;
  lua_pop(L, 2);
  return readonly;
}

// Pushes a read-only proxy of the table at `index`: reads go through to
// it (strict: a missing key is an error), writes fail.
void PushReadonlyProxy(lua_State* L, int index, bool strict) {
  if (index < 0) index = lua_gettop(L) + 1 + index;
  lua_newtable(L);  // proxy
  lua_newtable(L);  // its metatable
  if (strict) {
    lua_pushvalue(L, index);
    lua_pushcclosure(L, StrictIndex, 1);
  } else {
    lua_pushvalue(L, index);
  }
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyNewIndex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

// --- redis.* ---

// Formats a number argument of redis.call as Redis does (%.17g).
void NumberArg(lua_State* L, int i, std::string* out) {
  const lua_Number n = lua_tonumber(L, i);
  char buf[64];
  const int len = std::snprintf(buf, sizeof(buf), "%.17g", static_cast<double>(n));
  out->assign(buf, static_cast<size_t>(len));
}

// redis.call / redis.pcall: 1 with the reply's value pushed, or 0 with an
// error table pushed for the caller to raise (once the strings here are
// gone: see RaiseTable).
int RedisCallImpl(lua_State* L, bool raise) {
  const int argc = lua_gettop(L);
  if (argc == 0) {
    PushErrorTable(L, "ERR Please specify at least one argument for this redis lib call");
    return 0;
  }
  thread_local std::vector<std::string> owned;
  thread_local std::vector<std::string_view> args;
  owned.resize(static_cast<size_t>(argc));
  args.clear();
  for (int i = 1; i <= argc; ++i) {
    std::string& arg = owned[static_cast<size_t>(i - 1)];
    const int t = lua_type(L, i);
    if (t == LUA_TSTRING) {
      size_t len;
      const char* s = lua_tolstring(L, i, &len);
      arg.assign(s, len);
    } else if (t == LUA_TNUMBER) {
      NumberArg(L, i, &arg);
    } else {
      PushErrorTable(L, "ERR Lua redis lib command arguments must be strings or integers");
      return 0;
    }
  }
  for (const std::string& a : owned) args.emplace_back(a);
  if (current == nullptr || current->handler == nullptr) {
    PushErrorTable(L, "ERR redis.call is not available here");
    return 0;
  }
  std::string reply;
  current->handler->Call(args, current->resp, &reply);
  if (raise && !reply.empty() && reply[0] == '-') {
    size_t end = reply.find("\r\n");
    if (end == std::string::npos) end = reply.size();
    PushErrorTable(L, std::string_view(reply).substr(1, end - 1));
    return 0;
  }
  if (!PushReply(L, reply)) {
    PushErrorTable(L, "ERR unreadable reply from the command");
    return 0;
  }
  return 1;
}

int RedisCall(lua_State* L) { return RedisCallImpl(L, true) == 1 ? 1 : lua_error(L); }
int RedisPCall(lua_State* L) { return RedisCallImpl(L, false) == 1 ? 1 : lua_error(L); }

bool CheckCommand(lua_State* L) {
  std::vector<std::string> owned;
  for (int i = 1; i <= lua_gettop(L); ++i) {
    std::string arg;
    if (lua_type(L, i) == LUA_TNUMBER) {
      NumberArg(L, i, &arg);
    } else {
      size_t len;
      const char* s = lua_tolstring(L, i, &len);
      arg.assign(s, len);
    }
    owned.push_back(std::move(arg));
  }
  std::vector<std::string_view> args(owned.begin(), owned.end());
  return current != nullptr && current->handler != nullptr && current->handler->CommandExists(args);
}

int RedisAclCheckCmd(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc == 0) {
    return RaiseTable(L, "ERR Please specify at least one argument for this redis lib call");
  }
  for (int i = 1; i <= argc; ++i) {
    if (lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER) {
      return RaiseTable(L, "ERR Lua redis lib command arguments must be strings or integers");
    }
  }
  if (!CheckCommand(L)) return RaiseTable(L, "ERR Invalid command passed to redis.acl_check_cmd()");
  lua_pushboolean(L, 1);
  return 1;
}

int RedisSha1Hex(lua_State* L) {
  if (lua_gettop(L) != 1) return RaiseTable(L, "ERR wrong number of arguments");
  size_t len;
  const char* s = lua_tolstring(L, 1, &len);
  const std::string hex = Sha1Hex(s != nullptr ? std::string_view(s, len) : std::string_view());
  lua_pushlstring(L, hex.data(), hex.size());
  return 1;
}

// redis.error_reply / redis.status_reply: {err=...} / {ok=...}.
int ReplyTable(lua_State* L, const char* field) {
  // As Redis: the error is returned (as an error table), not raised.
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    PushErrorTable(L, "ERR wrong number or type of arguments");
    return 1;
  }
  lua_newtable(L);
  lua_pushstring(L, field);
  lua_pushvalue(L, 1);
  lua_rawset(L, -3);
  return 1;
}
int RedisErrorReply(lua_State* L) {
  // As Redis 7: the code is the text's first word; "-" is implied.
  if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char* s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-') {
      lua_pushlstring(L, s + 1, len - 1);
      lua_replace(L, 1);
    }
  }
  return ReplyTable(L, "err");
}
int RedisStatusReply(lua_State* L) { return ReplyTable(L, "ok"); }

int RedisLog(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc < 2) return RaiseTable(L, "ERR redis.log() requires two arguments or more.");
  if (!lua_isnumber(L, 1)) return RaiseTable(L, "ERR First argument must be a number (log level).");
  const int level = static_cast<int>(lua_tonumber(L, 1));
  if (level < 0 || level > 3) return RaiseTable(L, "ERR Invalid debug level.");
  std::string msg;
  for (int i = 2; i <= argc; ++i) {
    size_t len;
    const char* s = lua_tolstring(L, i, &len);
    if (s == nullptr) continue;
    if (i > 2) msg += ' ';
    msg.append(s, len);
  }
  switch (level) {
    case 0:
      spdlog::debug("script: {}", msg);
      break;
    case 1:
      spdlog::info("script: {}", msg);
      break;  // verbose
    case 2:
      spdlog::info("script: {}", msg);
      break;  // notice
    default:
      spdlog::warn("script: {}", msg);
      break;
  }
  return 0;
}

int RedisSetResp(lua_State* L) {
  if (lua_gettop(L) != 1) return RaiseTable(L, "ERR redis.setresp() requires one argument.");
  const int v = static_cast<int>(lua_tonumber(L, 1));
  if (v != 2 && v != 3) return RaiseTable(L, "ERR RESP version must be 2 or 3.");
  if (current != nullptr) current->resp = v;
  return 0;
}

// Effects are always replicated as key states (the script never is), so
// the replication mode has nothing to choose: accepted and ignored.
int RedisSetRepl(lua_State* L) {
  if (lua_gettop(L) != 1) return RaiseTable(L, "ERR redis.set_repl() requires two arguments.");
  const int v = static_cast<int>(lua_tonumber(L, 1));
  if (v < 0 || v > 3)
    return RaiseTable(
        L, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
  return 0;
}

int RedisTrue(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}
int RedisNothing(lua_State*) { return 0; }

int RegisterFunction(lua_State* L);

bool IsReadonlyProxy(lua_State* L, int index);

// rawset, refused on the read-only tables (globals, libraries).
int ScriptRawset(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (IsReadonlyProxy(L, 1)) {
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
  }
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

void SetNumber(lua_State* L, const char* name, lua_Number v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, name);
}
void SetFunc(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

// Pushes a table with what both `redis` tables (runtime and load) have.
void PushRedisCommon(lua_State* L) {
  lua_newtable(L);
  SetFunc(L, "log", RedisLog);
  SetNumber(L, "LOG_DEBUG", 0);
  SetNumber(L, "LOG_VERBOSE", 1);
  SetNumber(L, "LOG_NOTICE", 2);
  SetNumber(L, "LOG_WARNING", 3);
  SetFunc(L, "setresp", RedisSetResp);
  lua_pushstring(L, kRedisVersion);
  lua_setfield(L, -2, "REDIS_VERSION");
  SetNumber(L, "REDIS_VERSION_NUM", kRedisVersionNum);
}

// --- the message handler of every run: makes the error a table with err,
// source and line, as Redis's error handler does ---
int ErrorHandler(lua_State* L) {
  lua_Debug ar;
  bool have = false;
  // Level 0 is this handler; 1 raised the error. When that is a C
  // function (error(), redis.call), the Lua code that called it is next.
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar)) {
    have = true;
    if (std::strcmp(ar.what, "C") == 0) {
      have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    }
  }
  if (!lua_istable(L, 1)) {
    const char* s = lua_tostring(L, 1);
    std::string msg = "ERR ";
    msg += s != nullptr ? s : (lua_isnil(L, 1) ? "nil" : "unknown error");
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushlstring(L, msg.data(), msg.size());
    lua_rawset(L, -3);
    lua_replace(L, 1);
  }
  if (have && ar.currentline > 0) {
    lua_pushstring(L, "source");
    lua_pushstring(L, ar.source);
    lua_rawset(L, 1);
    lua_pushstring(L, "line");
    lua_pushinteger(L, ar.currentline);
    lua_rawset(L, 1);
  }
  lua_settop(L, 1);
  return 1;
}

std::string FieldString(lua_State* L, int table, const char* field) {
  lua_pushstring(L, field);
  lua_rawget(L, table);
  std::string out;
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
    size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    out.assign(s, len);
  }
  lua_pop(L, 1);
  return out;
}

// The error object at the top (a table from ErrorHandler) as Redis's reply.
std::string ErrorReplyText(lua_State* L, std::string_view name) {
  std::string msg;
  std::string source, line;
  if (lua_istable(L, -1)) {
    const int t = lua_gettop(L);
    msg = FieldString(L, t, "err");
    source = FieldString(L, t, "source");
    line = FieldString(L, t, "line");
  } else if (const char* s = lua_tostring(L, -1)) {
    msg = std::string("ERR ") + s;
  }
  if (msg.empty()) msg = "ERR unknown error";
  if (!source.empty() && !line.empty()) {
    msg += " script: ";
    msg += name;
    msg += ", on ";
    msg += source;
    msg += ":";
    msg += line;
    msg += ".";
  }
  for (char& c : msg) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return msg;
}

// A yield from a hook unwinds only Lua frames: none may be a C function
// (pcall, gsub's callback ...), a metamethod or an iterator, which Lua 5.1
// calls through C.
bool CanYield(lua_State* L, int first_level = 0) {
  lua_Debug ar;
  for (int level = first_level; lua_getstack(L, level, &ar); ++level) {
    if (!lua_getinfo(L, "nS", &ar)) return false;
    if (std::strcmp(ar.what, "C") == 0) return false;
    if (ar.namewhat != nullptr && (std::strcmp(ar.namewhat, "metamethod") == 0 ||
                                   std::strcmp(ar.namewhat, "for iterator") == 0)) {
      return false;
    }
  }
  return true;
}

void CountHook(lua_State* L, lua_Debug* ar) {
  if (current == nullptr || current->handler == nullptr) return;
  // Once killed, the error is raised at the script's next line, not in the
  // pcall/coroutine wrappers' own (kPauseWrappers): as in Redis, a kill
  // caught by pcall on the line that called it stays caught.
  if (current->killed && lua_getinfo(L, "S", ar) &&
      std::strcmp(ar->source, "=pause_wrappers") == 0) {
    return;
  }
  if (!current->killed) {
    const CallHandler::TickAction action = current->handler->Tick();
    if (action == CallHandler::TickAction::kContinue) return;
    if (action == CallHandler::TickAction::kYield) {
      // In a coroutine of the script's own (or a pcall, which runs its
      // function as one: kPauseWrappers), the wrapper that resumed it
      // passes the pause up to the run's thread.
      if (CanYield(L)) {
        current->pausing = true;
        lua_yield(L, 0);
      }
      return;
    }
  }
  current->killed = true;
  // Raised again at every line, so that a pcall in the script cannot
  // swallow the kill.
  lua_sethook(L, CountHook, LUA_MASKLINE, 0);
  if (current->thread != nullptr && current->thread != L) {
    lua_sethook(current->thread, CountHook, LUA_MASKLINE, 0);
  }
  // Redis says SCRIPT KILL whichever command killed it.
  RaiseTable(L, "ERR Script killed by user with SCRIPT KILL...");
}

// FUNCTION LOAD's code may run 500 ms at most, as in Redis; the error is
// raised again at every line so that pcall cannot keep it running.
void LoadHook(lua_State* L, lua_Debug*) {
  if (current == nullptr || std::chrono::steady_clock::now() < current->load_deadline) return;
  lua_sethook(L, LoadHook, LUA_MASKLINE | LUA_MASKCOUNT, 1000);
  lua_pushstring(L, "FUNCTION LOAD timeout");
  lua_error(L);
}

// For kPauseWrappers: whether a pause is under way (and takes it), pauses
// the calling thread when it can, and tells Lua functions from C ones.
int TakePause(lua_State* L) {
  const bool pausing = current != nullptr && current->pausing;
  if (pausing) current->pausing = false;
  lua_pushboolean(L, pausing);
  return 1;
}
int Pause(lua_State* L) {
  if (current == nullptr || !CanYield(L, 1)) return 0;  // goes on unpaused
  current->pausing = true;
  return lua_yield(L, 0);
}
int InRunThread(lua_State* L) {
  lua_pushboolean(L, current != nullptr && current->thread == L);
  return 1;
}
int IsLuaFunction(lua_State* L) {
  lua_pushboolean(L, lua_isfunction(L, 1) && !lua_iscfunction(L, 1));
  return 1;
}

// pcall, coroutine.resume and coroutine.wrap as scripts see them. pcall
// runs a Lua function as a coroutine (an error ends it, as pcall's would),
// so that a long loop inside it can still be paused for the server to serve
// others and be killed: a hook can only yield through Lua frames. A pause
// inside a coroutine comes out of its resume as a yield with no values
// while TakePause says so; the wrapper then pauses its own thread and
// resumes the coroutine once it goes on. An error table (what redis.call
// raises) comes out of pcall as its err string, as in Redis.
constexpr const char* kPauseWrappers = R"lua(
local take, pause, is_lua, in_run_thread = ...
local create, resume, status = coroutine.create, coroutine.resume, coroutine.status
local raw_pcall, raw_xpcall, select, unpack, type, error = pcall, xpcall, select, unpack, type,
                                                        error
local function pack(...) return {n = select('#', ...), ...} end
local function drive(co, ...)
  local r = pack(resume(co, ...))
  while r[1] and r.n == 1 and status(co) == 'suspended' and take() do
    pause()
    r = pack(resume(co))
  end
  return r
end
local function result(r)
  if r[1] then return unpack(r, 1, r.n) end
  local err = r[2]
  if type(err) == 'table' and type(err.err) == 'string' then err = err.err end
  return false, err
end
pcall = function(f, ...)
  if not is_lua(f) then return result(pack(raw_pcall(f, ...))) end
  local co = create(f)
  local r = drive(co, ...)
  -- A yield of the script's own inside pcall fails as Lua 5.1's C pcall
  -- makes it fail.
  if r[1] and status(co) == 'suspended' then
    return false, 'attempt to yield across metamethod/C-call boundary'
  end
  return result(r)
end
local yield = coroutine.yield
-- The script's own thread has nothing to yield to (in Redis it runs under
-- a C pcall): fail as Lua does there.
coroutine.yield = function(...)
  if in_run_thread() then error('attempt to yield across metamethod/C-call boundary', 0) end
  return yield(...)
end
-- The handler runs after the function's coroutine died rather than at the
-- error (no traceback is available to scripts anyway); an error inside it
-- reads as Lua's own "error in error handling".
local function handle(handler, err)
  local ok, v = raw_pcall(handler, err)
  if ok then return false, v end
  return false, 'error in error handling'
end
xpcall = function(f, handler)
  if not is_lua(f) then return raw_xpcall(f, handler) end
  local co = create(f)
  local r = drive(co)
  if r[1] and status(co) == 'suspended' then
    return handle(handler, 'attempt to yield across metamethod/C-call boundary')
  end
  if r[1] then return unpack(r, 1, r.n) end
  return handle(handler, r[2])
end
coroutine.resume = function(co, ...)
  local r = drive(co, ...)
  return unpack(r, 1, r.n)
end
coroutine.wrap = function(f)
  local co = create(f)
  return function(...)
    local r = drive(co, ...)
    if r[1] then return unpack(r, 2, r.n) end
    error(r[2], 0)
  end
end
)lua";

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

constexpr const char* kBadFunctionName =
    "Function names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long";
constexpr const char* kBadLibraryName =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long";

bool ParseFlag(std::string_view name, uint32_t* flags) {
  if (name == "no-writes")
    *flags |= kNoWrites;
  else if (name == "allow-oom")
    *flags |= kAllowOom;
  else if (name == "allow-stale")
    *flags |= kAllowStale;
  else if (name == "no-cluster")
    *flags |= kNoCluster;
  else if (name == "allow-cross-slot-keys")
    *flags |= kAllowCrossSlotKeys;
  else
    return false;
  return true;
}

// Raised with a plain string: the error handler gives it its "ERR " code.
int RaisePlain(lua_State* L, const char* msg) {
  lua_pushstring(L, msg);
  return lua_error(L);
}

// The checks and registration of redis.register_function: nullptr, or the
// error to raise (raised by the caller once `fn` is gone: see RaiseTable).
const char* RegisterFunctionImpl(lua_State* L) {
  if (current == nullptr || current->registering == nullptr) {
    return "redis.register_function can only be called on FUNCTION LOAD command";
  }
  Function fn;
  auto fail = [&](const char* error) {
    if (fn.ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, fn.ref);
    return error;
  };
  const int argc = lua_gettop(L);
  if (argc == 1 && lua_istable(L, 1)) {
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return fail("named argument key given to redis.register_function is not a string");
      const std::string_view key = lua_tostring(L, -2);
      if (key == "function_name") {
        if (lua_type(L, -1) != LUA_TSTRING)
          return fail("function_name argument given to redis.register_function must be a string");
        fn.name = lua_tostring(L, -1);
      } else if (key == "description") {
        if (lua_type(L, -1) != LUA_TSTRING)
          return fail("description argument given to redis.register_function must be a string");
        fn.description = lua_tostring(L, -1);
      } else if (key == "callback") {
        if (!lua_isfunction(L, -1))
          return fail("callback argument given to redis.register_function must be a function");
        lua_pushvalue(L, -1);
        fn.ref = luaL_ref(L, LUA_REGISTRYINDEX);
      } else if (key == "flags") {
        if (!lua_istable(L, -1))
          return fail(
              "flags argument to redis.register_function must be a table representing function "
              "flags");
        for (int i = 1;; ++i) {
          lua_rawgeti(L, -1, i);
          if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
          }
          if (lua_type(L, -1) != LUA_TSTRING) return fail("unknown flag given");
          if (!ParseFlag(lua_tostring(L, -1), &fn.flags)) return fail("unknown flag given");
          lua_pop(L, 1);
        }
      } else {
        return fail("unknown argument given to redis.register_function");
      }
      lua_pop(L, 1);
    }
    if (fn.name.empty() && fn.ref == 0)
      return fail("redis.register_function must get a function name argument");
    if (fn.name.empty()) return fail("redis.register_function must get a function name argument");
    if (fn.ref == 0) return fail("redis.register_function must get a callback argument");
  } else {
    if (argc != 2) return fail("wrong number of arguments to redis.register_function");
    if (lua_type(L, 1) != LUA_TSTRING)
      return fail("first argument to redis.register_function must be a string");
    if (!lua_isfunction(L, 2))
      return fail("second argument to redis.register_function must be a function");
    fn.name = lua_tostring(L, 1);
    lua_pushvalue(L, 2);
    fn.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (!ValidName(fn.name)) return fail(kBadFunctionName);
  for (const Function& other : *current->registering) {
    if (other.name == fn.name) return fail("Function already exists in the library");
  }
  current->registering->push_back(std::move(fn));
  return nullptr;
}

int RegisterFunction(lua_State* L) {
  const char* error = RegisterFunctionImpl(L);
  return error == nullptr ? 0 : RaisePlain(L, error);
}

void OpenLib(lua_State* L, lua_CFunction open, const char* name) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  lua_setglobal(L, name);
}

// Shebang of an EVAL script: "#!lua" then optional "flags=a,b". False
// with *error.
bool ParseScriptShebang(std::string_view line, uint32_t* flags, std::string* error) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) parts.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (parts.empty() || parts[0] != "#!lua") {
    *error =
        "ERR Unexpected engine in script shebang: " + std::string(parts.empty() ? line : parts[0]);
    return false;
  }
  *flags = kHasShebang;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (!p.starts_with("flags=")) {
      *error = "ERR Unknown lua shebang option: " + std::string(p);
      return false;
    }
    p.remove_prefix(6);
    while (!p.empty()) {
      size_t comma = p.find(',');
      std::string_view f = p.substr(0, comma);
      if (!f.empty() && !ParseFlag(f, flags)) {
        *error = "ERR Unexpected flag in script shebang: " + std::string(f);
        return false;
      }
      if (comma == std::string_view::npos) break;
      p.remove_prefix(comma + 1);
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> FlagNames(uint32_t flags) {
  std::vector<std::string> out;
  if (flags & kNoWrites) out.emplace_back("no-writes");
  if (flags & kAllowOom) out.emplace_back("allow-oom");
  if (flags & kAllowStale) out.emplace_back("allow-stale");
  if (flags & kNoCluster) out.emplace_back("no-cluster");
  if (flags & kAllowCrossSlotKeys) out.emplace_back("allow-cross-slot-keys");
  return out;
}

Engine::Engine() : L_(luaL_newstate()) {
  lua_State* L = L_;
  const luaL_Reg libs[] = {{"", luaopen_base},
                           {LUA_TABLIBNAME, luaopen_table},
                           {LUA_STRLIBNAME, luaopen_string},
                           {LUA_MATHLIBNAME, luaopen_math}};
  for (const luaL_Reg& lib : libs) {
    lua_pushcfunction(L, lib.func);
    lua_pushstring(L, lib.name);
    lua_call(L, 1, 0);
  }
  OpenLib(L, luaopen_cjson, "cjson");
  OpenLib(L, luaopen_bit, "bit");
  OpenLib(L, OpenStruct, "struct");
  OpenLib(L, OpenCmsgpack, "cmsgpack");
  if (luaL_loadbuffer(L, kPauseWrappers, std::strlen(kPauseWrappers), "=pause_wrappers") != 0) {
    spdlog::critical("scripting: {}", lua_tostring(L, -1));
    std::abort();
  }
  lua_pushcfunction(L, TakePause);
  lua_pushcfunction(L, Pause);
  lua_pushcfunction(L, IsLuaFunction);
  lua_pushcfunction(L, InRunThread);
  lua_call(L, 4, 0);
  lua_pushcfunction(L, ScriptRawset);
  lua_setglobal(L, "rawset");
  // As Redis 7: no file access, no changing environments (which could
  // reach the real globals), no print, no userdata factory.
  for (const char* name : {"loadfile", "dofile", "setfenv", "getfenv", "newproxy", "print"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  // redis (runtime).
  PushRedisCommon(L);
  SetFunc(L, "call", RedisCall);
  SetFunc(L, "pcall", RedisPCall);
  SetFunc(L, "sha1hex", RedisSha1Hex);
  SetFunc(L, "acl_check_cmd", RedisAclCheckCmd);
  SetFunc(L, "error_reply", RedisErrorReply);
  SetFunc(L, "status_reply", RedisStatusReply);
  SetFunc(L, "set_repl", RedisSetRepl);
  SetFunc(L, "replicate_commands", RedisTrue);
  SetFunc(L, "breakpoint", RedisNothing);
  SetFunc(L, "debug", RedisNothing);
  SetNumber(L, "REPL_NONE", 0);
  SetNumber(L, "REPL_AOF", 1);
  SetNumber(L, "REPL_SLAVE", 2);
  SetNumber(L, "REPL_REPLICA", 2);
  SetNumber(L, "REPL_ALL", 3);
  lua_setglobal(L, "redis");
  // redis during FUNCTION LOAD: register_function, log, setresp, versions.
  PushRedisCommon(L);
  SetFunc(L, "register_function", RegisterFunction);
  PushReadonlyProxy(L, -1, true);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadRedisKey);
  lua_pop(L, 1);
  // Library tables become read-only proxies.
  for (const char* name :
       {"redis", "string", "table", "math", "coroutine", "cjson", "bit", "struct", "cmsgpack"}) {
    lua_getglobal(L, name);
    PushReadonlyProxy(L, -1, false);
    lua_setglobal(L, name);
    lua_pop(L, 1);
  }
  // Strings' metatable: its __index becomes the read-only string library,
  // and getmetatable('') sees a read-only proxy of it, so that no script
  // can change what string methods do for the next one.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_getglobal(L, "string");
  lua_setfield(L, -2, "__index");
  PushReadonlyProxy(L, -1, false);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  // What scripts see as their globals: a strict read-only proxy of _G.
  // It becomes the thread's globals too, so that what loadstring compiles,
  // and getfenv(0), see the proxy rather than the real table.
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_setfield(L, LUA_REGISTRYINDEX, kGlobalsKey);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  PushReadonlyProxy(L, -1, true);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, kRunProxyKey);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "_G");  // _G names the proxy too (rawset(_G, ...) stays in it)
  lua_replace(L, LUA_GLOBALSINDEX);
  lua_pop(L, 1);
}

Engine::~Engine() { lua_close(L_); }

size_t Engine::lua_memory() const {
  return static_cast<size_t>(lua_gc(L_, LUA_GCCOUNT, 0)) * 1024 +
         static_cast<size_t>(lua_gc(L_, LUA_GCCOUNTB, 0));
}

bool Engine::LoadScript(std::string_view body, std::string* sha, std::string* error) {
  *sha = Sha1Hex(body);
  if (scripts_.contains(*sha)) return true;
  Script script;
  std::string_view code = body;
  if (body.starts_with("#!")) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    if (!ParseScriptShebang(line, &script.flags, error)) return false;
    // The shebang line is left out, its newline kept: line numbers stay.
    code = nl == std::string_view::npos ? std::string_view() : body.substr(nl);
  }
  if (luaL_loadbuffer(L_, code.data(), code.size(), "@user_script") != 0) {
    *error = std::string("ERR Error compiling script (new function): ") + lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return false;
  }
  lua_getfield(L_, LUA_REGISTRYINDEX, kRunProxyKey);
  lua_setfenv(L_, -2);
  script.ref = luaL_ref(L_, LUA_REGISTRYINDEX);
  script.body.assign(body);
  scripts_bytes_ += body.size();
  scripts_.emplace(*sha, std::move(script));
  return true;
}

bool Engine::ScriptFlags(std::string_view body, uint32_t* flags) {
  *flags = 0;
  if (!body.starts_with("#!")) return true;
  std::string error;
  return ParseScriptShebang(body.substr(0, body.find('\n')), flags, &error);
}

bool Engine::FindScript(std::string_view sha, uint32_t* flags) const {
  if (sha.size() != 40) return false;
  std::string lower(sha);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = scripts_.find(lower);
  if (it == scripts_.end()) return false;
  if (flags != nullptr) *flags = it->second.flags;
  return true;
}

void Engine::FlushScripts() {
  for (auto& [sha, script] : scripts_) luaL_unref(L_, LUA_REGISTRYINDEX, script.ref);
  scripts_.clear();
  scripts_bytes_ = 0;
  lua_gc(L_, LUA_GCCOLLECT, 0);
}

Engine::RunStatus Engine::RunScript(std::string_view sha, std::span<const std::string_view> keys,
                                    std::span<const std::string_view> argv, CallHandler& handler,
                                    resp::Writer& w) {
  std::string lower(sha);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const Script& script = scripts_.at(lower);
  return Run(script.ref, false, lower, keys, argv, handler, w);
}

Engine::RunStatus Engine::RunFunction(const Function& fn, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> argv, CallHandler& handler,
                                      resp::Writer& w) {
  return Run(fn.ref, true, fn.name, keys, argv, handler, w);
}

namespace {
void PushStringArray(lua_State* L, std::span<const std::string_view> items) {
  lua_createtable(L, static_cast<int>(items.size()), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    lua_pushlstring(L, items[i].data(), items[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

// The error a dead coroutine ended with, as the reply's text: the table
// redis.call raised, or {err = "ERR " .. message}, with the position of
// the innermost Lua frame (the stack of a coroutine that failed is kept).
std::string DeadThreadError(lua_State* co, std::string_view name) {
  lua_Debug ar;
  bool have = false;
  for (int level = 0; lua_getstack(co, level, &ar); ++level) {
    if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0 &&
        std::strcmp(ar.source, "=pause_wrappers") != 0) {
      have = true;
      break;
    }
  }
  const int top = lua_gettop(co);
  if (!lua_istable(co, top)) {
    const char* s = lua_tostring(co, top);
    std::string msg = "ERR ";
    msg += s != nullptr ? s : (lua_isnil(co, top) ? "nil" : "unknown error");
    lua_newtable(co);
    lua_pushstring(co, "err");
    lua_pushlstring(co, msg.data(), msg.size());
    lua_rawset(co, -3);
    lua_replace(co, top);
  }
  if (have) {
    lua_pushstring(co, "source");
    lua_pushstring(co, ar.source);
    lua_rawset(co, top);
    lua_pushstring(co, "line");
    lua_pushinteger(co, ar.currentline);
    lua_rawset(co, top);
  }
  return ErrorReplyText(co, name);
}
}  // namespace

Engine::RunStatus Engine::Run(int ref, bool is_function, std::string_view name,
                              std::span<const std::string_view> keys,
                              std::span<const std::string_view> argv, CallHandler& handler,
                              resp::Writer& w) {
  lua_State* L = L_;
  run_ = std::make_unique<RunState>();
  run_->handler = &handler;
  run_name_.assign(name);
  co_ = lua_newthread(L);
  co_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  run_->thread = co_;
  lua_rawgeti(co_, LUA_REGISTRYINDEX, ref);
  int nargs = 0;
  if (is_function) {
    PushStringArray(co_, keys);
    PushStringArray(co_, argv);
    nargs = 2;
  } else {
    lua_getfield(L, LUA_REGISTRYINDEX, kRunProxyKey);
    lua_pushstring(L, "KEYS");
    PushStringArray(L, keys);
    lua_rawset(L, -3);
    lua_pushstring(L, "ARGV");
    PushStringArray(L, argv);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  lua_sethook(co_, CountHook, LUA_MASKCOUNT, 100000);
  return Step(nargs, w);
}

Engine::RunStatus Engine::Resume(resp::Writer& w) { return Step(0, w); }

Engine::RunStatus Engine::Step(int nargs, resp::Writer& w) {
  current = run_.get();
  int rc = lua_resume(co_, nargs);
  // A yield of the script's own outside any coroutine of its own: it has
  // nobody to yield to, so it goes on at once.
  while (rc == LUA_YIELD && !run_->pausing) {
    lua_settop(co_, 0);
    rc = lua_resume(co_, 0);
  }
  current = nullptr;
  if (rc == LUA_YIELD) {
    run_->pausing = false;
    lua_settop(co_, 0);
    return RunStatus::kSuspended;
  }
  if (rc != 0) {
    w.Error("-" + DeadThreadError(co_, run_name_));
  } else if (lua_gettop(co_) == 0) {
    w.Null();
  } else {
    WriteLuaValue(co_, 1, run_->resp, w);
  }
  lua_sethook(co_, nullptr, 0, 0);
  lua_settop(co_, 0);
  luaL_unref(L_, LUA_REGISTRYINDEX, co_ref_);
  co_ = nullptr;
  run_.reset();
  ClearRunGlobals();
  return RunStatus::kDone;
}

void Engine::ClearRunGlobals() {
  // Whatever a run stored in its globals proxy (KEYS, ARGV, rawset) goes.
  lua_State* L = L_;
  lua_getfield(L, LUA_REGISTRYINDEX, kRunProxyKey);
  const int t = lua_gettop(L);
  for (;;) {
    lua_pushnil(L);
    if (lua_next(L, t) == 0) break;
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawset(L, t);
  }
  lua_pop(L, 1);
}

// --- function libraries ---

const Function* Engine::FindFunction(std::string_view name) const {
  auto it = functions_.find(std::string(name));
  return it == functions_.end() ? nullptr : &it->second;
}

size_t Engine::functions_memory() const {
  size_t bytes = 0;
  for (const auto& [name, lib] : libraries_) bytes += lib.code.size();
  return bytes;
}

void Engine::RemoveLibrary(const std::string& name) {
  auto it = libraries_.find(name);
  if (it == libraries_.end()) return;
  for (const std::string& fn : it->second.functions) {
    auto f = functions_.find(fn);
    if (f != functions_.end()) {
      luaL_unref(L_, LUA_REGISTRYINDEX, f->second.ref);
      functions_.erase(f);
    }
  }
  luaL_unref(L_, LUA_REGISTRYINDEX, it->second.env_ref);
  libraries_.erase(it);
}

bool Engine::DeleteLibrary(std::string_view name) {
  if (!libraries_.contains(std::string(name))) return false;
  RemoveLibrary(std::string(name));
  lua_gc(L_, LUA_GCCOLLECT, 0);
  return true;
}

void Engine::FlushLibraries() {
  while (!libraries_.empty()) RemoveLibrary(libraries_.begin()->first);
  lua_gc(L_, LUA_GCCOLLECT, 0);
}

namespace {

// Index of a library's globals during FUNCTION LOAD: `redis` is the load
// table, anything else as at run time (strict).
int RunIndex(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kGlobalsKey);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) return 1;
  return MissingGlobal(L);
}

int LoadIndex(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING && std::strcmp(lua_tostring(L, 2), "redis") == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, kLoadRedisKey);
    return 1;
  }
  return RunIndex(L);
}

// Metadata of a library: "#!lua name=<lib>". False with *error.
bool ParseLibraryShebang(std::string_view code, std::string* name, std::string* error) {
  if (!code.starts_with("#!")) {
    *error = "ERR Missing library metadata";
    return false;
  }
  std::string_view line = code.substr(0, code.find('\n'));
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) parts.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  const std::string_view engine = parts[0].substr(2);
  if (engine != "lua" && engine != "LUA") {
    *error = "ERR Engine '" + std::string(engine) + "' not found";
    return false;
  }
  bool named = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (!parts[i].starts_with("name=")) {
      *error = "ERR Invalid metadata value given: " + std::string(parts[i]);
      return false;
    }
    *name = parts[i].substr(5);
    named = true;
  }
  if (!named) {
    *error = "ERR Library name was not given";
    return false;
  }
  if (!ValidName(*name)) {
    *error = std::string("ERR ") + kBadLibraryName;
    return false;
  }
  return true;
}

}  // namespace

bool Engine::LoadLibrary(std::string_view code, bool replace, std::string* name,
                         std::string* error) {
  lua_State* L = L_;
  if (!ParseLibraryShebang(code, name, error)) return false;
  if (libraries_.contains(*name) && !replace) {
    *error = "ERR Library '" + *name + "' already exists";
    return false;
  }
  const size_t nl = code.find('\n');
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : code.substr(nl);
  if (luaL_loadbuffer(L, body.data(), body.size(), "@user_function") != 0) {
    *error = std::string("ERR Error compiling function: ") + lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  // The library's environment: read-only, resolving through the load
  // table now and through the run-time globals once loaded (its
  // functions keep it as their environment).
  lua_newtable(L);
  lua_newtable(L);
  lua_pushcfunction(L, LoadIndex);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyNewIndex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  const int env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setfenv(L, -2);
  std::vector<Function> registered;
  RunState ctx;
  ctx.registering = &registered;
  ctx.load_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  RunState* saved = current;
  current = &ctx;
  lua_pushcfunction(L, ErrorHandler);
  lua_insert(L, -2);
  lua_sethook(L, LoadHook, LUA_MASKCOUNT, 100000);
  const int rc = lua_pcall(L, 0, 0, -2);
  lua_sethook(L, nullptr, 0, 0);
  current = saved;
  auto drop = [&] {
    for (const Function& fn : registered) luaL_unref(L, LUA_REGISTRYINDEX, fn.ref);
    luaL_unref(L, LUA_REGISTRYINDEX, env_ref);
  };
  if (rc != 0) {
    std::string msg;
    if (lua_istable(L, -1))
      msg = FieldString(L, lua_gettop(L), "err");
    else if (const char* s = lua_tostring(L, -1))
      msg = s;
    lua_pop(L, 2);
    drop();
    *error = "ERR Error registering functions: " + msg;
    return false;
  }
  lua_pop(L, 1);  // the error handler
  if (registered.empty()) {
    drop();
    *error = "ERR No functions registered";
    return false;
  }
  for (const Function& fn : registered) {
    auto it = functions_.find(fn.name);
    if (it != functions_.end() && it->second.library != *name) {
      *error = "ERR Function " + fn.name + " already exists";
      drop();
      return false;
    }
  }
  RemoveLibrary(*name);
  // From now on its globals are the run-time ones.
  lua_rawgeti(L, LUA_REGISTRYINDEX, env_ref);
  lua_getmetatable(L, -1);
  lua_pushcfunction(L, RunIndex);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 2);
  Library lib;
  lib.name = *name;
  lib.code.assign(code);
  lib.env_ref = env_ref;
  for (Function& fn : registered) {
    fn.library = *name;
    lib.functions.push_back(fn.name);
    functions_.emplace(fn.name, std::move(fn));
  }
  libraries_.emplace(*name, std::move(lib));
  return true;
}

std::string Engine::DumpLibraries() const {
  std::vector<std::string_view> codes;
  for (const auto& [name, lib] : libraries_) codes.push_back(lib.code);
  return EncodeLibraries(codes);
}

bool Engine::RestoreLibraries(std::string_view payload, std::string_view policy,
                              std::string* error) {
  std::vector<std::string> codes;
  if (!DecodeLibraries(payload, &codes)) {
    *error = "ERR DUMP payload version or checksum are wrong";
    return false;
  }
  // All or nothing: on a failure, the libraries as they were come back.
  std::vector<std::string> before;
  for (const auto& [name, lib] : libraries_) before.push_back(lib.code);
  auto restore_before = [&] {
    FlushLibraries();
    std::string n, e;
    for (const std::string& code : before) LoadLibrary(code, true, &n, &e);
  };
  if (policy == "APPEND") {
    // Redis words this collision without quotes (unlike FUNCTION LOAD's).
    for (const std::string& code : codes) {
      std::string name, ignored;
      if (ParseLibraryShebang(code, &name, &ignored) && libraries_.contains(name)) {
        *error = "ERR Library " + name + " already exists";
        return false;
      }
    }
  }
  if (policy == "FLUSH") FlushLibraries();
  for (const std::string& code : codes) {
    std::string name;
    if (!LoadLibrary(code, policy == "REPLACE", &name, error)) {
      restore_before();
      return false;
    }
  }
  return true;
}

}  // namespace causalkv::script
