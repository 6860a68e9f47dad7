// EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT (Redis 7.2): the handlers;
// the running of scripts is scripting.h's.
#include <array>
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "scripting.h"

namespace causalkv::command {
namespace {

void Eval(Context& ctx) { ctx.dispatcher.scripting().Eval(ctx, false, false); }
void EvalSha(Context& ctx) { ctx.dispatcher.scripting().Eval(ctx, true, false); }
void EvalRo(Context& ctx) { ctx.dispatcher.scripting().Eval(ctx, false, true); }
void EvalShaRo(Context& ctx) { ctx.dispatcher.scripting().Eval(ctx, true, true); }

void ScriptLoad(Context& ctx) {
  std::string sha, error;
  if (!ctx.dispatcher.scripting().engine().LoadScript(ctx.args[2], &sha, &error)) {
    ctx.w.Error("-" + error);
    return;
  }
  ctx.w.Bulk(sha);
}

void ScriptExists(Context& ctx) {
  script::Engine& engine = ctx.dispatcher.scripting().engine();
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.w.Integer(engine.FindScript(ctx.args[i], nullptr) ? 1 : 0);
  }
}

// [ASYNC|SYNC]: both flush at once (the cache is small).
bool FlushModeOk(Context& ctx) {
  if (ctx.args.size() == 2) return true;
  if (ctx.args.size() == 3 &&
      (EqualsIgnoreCase(ctx.args[2], "async") || EqualsIgnoreCase(ctx.args[2], "sync"))) {
    return true;
  }
  ctx.w.Error("SCRIPT FLUSH only support SYNC|ASYNC option");
  return false;
}

void ScriptFlush(Context& ctx) {
  if (!FlushModeOk(ctx)) return;
  ctx.dispatcher.scripting().engine().FlushScripts();
  ctx.w.Ok();
}

void ScriptKill(Context& ctx) {
  const std::string error = ctx.dispatcher.scripting().Kill(false);
  if (error.empty()) {
    ctx.w.Ok();
  } else {
    ctx.w.Error(error);
  }
}

// SCRIPT DEBUG: the Lua debugger is not provided; NO is accepted.
void ScriptDebug(Context& ctx) {
  if (EqualsIgnoreCase(ctx.args[2], "no")) {
    ctx.w.Ok();
  } else if (EqualsIgnoreCase(ctx.args[2], "yes") || EqualsIgnoreCase(ctx.args[2], "sync")) {
    ctx.w.Error("SCRIPT DEBUG is not supported by causalkv");
  } else {
    ctx.w.Error("Use SCRIPT DEBUG YES/SYNC/NO");
  }
}

void ScriptHelp(Context& ctx) {
  static constexpr std::array<const char*, 20> kLines = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DEBUG (YES|SYNC|NO)",
      "    Set the debug mode for subsequent scripts executed.",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the scripts cache.",
      "    * SYNC: Synchronously flush the scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help.",
      nullptr,
      nullptr,
      nullptr};
  WriteHelp(ctx, std::span<const char* const>(kLines.data(), 17));
}

}  // namespace

void RegisterScriptCommands(std::vector<CommandSpec>* out) {
  const std::string g = "scripting";
  auto spec = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                  const char* summary, const char* complexity, const char* args) {
    return CommandSpec{name, arity, flags, 0, 0, 0, h, g, since, summary, complexity, args, {}};
  };
  const uint32_t kEval = kNoScript | kStale;
  const char* kEvalArgs = "script:string numkeys:integer [key:key...] [arg:string...]";
  const char* kShaArgs = "sha1:string numkeys:integer [key:key...] [arg:string...]";
  out->push_back(spec("eval", -3, kEval, Eval, "2.6.0", "Executes a server-side Lua script.",
                      "Depends on the script that is executed.", kEvalArgs));
  out->push_back(spec("evalsha", -3, kEval, EvalSha, "2.6.0",
                      "Executes a server-side Lua script by SHA1 digest.",
                      "Depends on the script that is executed.", kShaArgs));
  out->push_back(spec("eval_ro", -3, kEval | kReadOnly, EvalRo, "7.0.0",
                      "Executes a read-only server-side Lua script.",
                      "Depends on the script that is executed.", kEvalArgs));
  out->push_back(spec("evalsha_ro", -3, kEval | kReadOnly, EvalShaRo, "7.0.0",
                      "Executes a read-only server-side Lua script by SHA1 digest.",
                      "Depends on the script that is executed.", kShaArgs));
  for (size_t i = out->size() - 4; i < out->size(); ++i) (*out)[i].find_keys = ScriptKeys;
  CommandSpec script =
      spec("script", -2, 0, nullptr, "2.6.0", "A container for Lua scripts management commands.",
           "Depends on subcommand.", "");
  script.subcommands.push_back(spec("script|debug", 3, kNoScript, ScriptDebug, "3.2.0",
                                    "Sets the debug mode of server-side Lua scripts.", "O(1)",
                                    "YES|SYNC|NO"));
  script.subcommands.push_back(spec("script|exists", -3, kNoScript, ScriptExists, "2.6.0",
                                    "Determines whether server-side Lua scripts exist in the "
                                    "script cache.",
                                    "O(N) with N being the number of scripts to check (so "
                                    "checking a single script is an O(1) operation).",
                                    "sha1:string..."));
  script.subcommands.push_back(spec("script|flush", -2, kNoScript, ScriptFlush, "2.6.0",
                                    "Removes all server-side Lua scripts from the script cache.",
                                    "O(N) with N being the number of scripts in cache",
                                    "[ASYNC|SYNC]"));
  script.subcommands.push_back(spec("script|kill", 2, kNoScript, ScriptKill, "2.6.0",
                                    "Terminates a server-side Lua script during execution.", "O(1)",
                                    ""));
  script.subcommands.push_back(spec("script|load", 3, kNoScript | kStale, ScriptLoad, "2.6.0",
                                    "Loads a server-side Lua script to the script cache.",
                                    "O(N) with N being the length in bytes of the script body.",
                                    "script:string"));
  script.subcommands.push_back(spec("script|help", 2, kLoading | kStale, ScriptHelp, "5.0.0",
                                    "Returns helpful text about the different subcommands.", "O(1)",
                                    ""));
  out->push_back(std::move(script));
}

}  // namespace causalkv::command
