// FUNCTION (LOAD LIST DELETE FLUSH DUMP RESTORE STATS KILL HELP) and FCALL
// FCALL_RO (Redis 7.2). Every change to the libraries is saved at once
// (Scripting::SaveFunctions), so functions survive a restart.
#include <array>
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/util/glob.h"
#include "cmd_common.h"
#include "scripting.h"

namespace causalkv::command {
namespace {

void FCall(Context& ctx) { ctx.dispatcher.scripting().FCall(ctx, false); }
void FCallRo(Context& ctx) { ctx.dispatcher.scripting().FCall(ctx, true); }

void FunctionLoad(Context& ctx) {
  bool replace = false;
  size_t i = 2;
  for (; i + 1 < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "replace")) {
      replace = true;
    } else {
      ctx.w.Error("Unknown option given: " + std::string(ctx.args[i]));
      return;
    }
  }
  if (i >= ctx.args.size()) {
    ctx.w.Error("Function code is missing");
    return;
  }
  Scripting& scripting = ctx.dispatcher.scripting();
  std::string name, error;
  if (!scripting.engine().LoadLibrary(ctx.args[i], replace, &name, &error)) {
    ctx.w.Error("-" + error);
    return;
  }
  scripting.SaveFunctions();
  ctx.w.Bulk(name);
}

void FunctionDelete(Context& ctx) {
  Scripting& scripting = ctx.dispatcher.scripting();
  if (!scripting.engine().DeleteLibrary(ctx.args[2])) {
    ctx.w.Error("Library not found");
    return;
  }
  scripting.SaveFunctions();
  ctx.w.Ok();
}

void FunctionFlush(Context& ctx) {
  if (ctx.args.size() > 3 || (ctx.args.size() == 3 && !EqualsIgnoreCase(ctx.args[2], "async") &&
                              !EqualsIgnoreCase(ctx.args[2], "sync"))) {
    ctx.w.Error("FUNCTION FLUSH only supports SYNC|ASYNC option");
    return;
  }
  Scripting& scripting = ctx.dispatcher.scripting();
  scripting.engine().FlushLibraries();
  scripting.SaveFunctions();
  ctx.w.Ok();
}

void FunctionList(Context& ctx) {
  bool with_code = false;
  std::string_view pattern;
  bool has_pattern = false;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "withcode")) {
      with_code = true;
    } else if (EqualsIgnoreCase(ctx.args[i], "libraryname")) {
      if (i + 1 >= ctx.args.size()) {
        ctx.w.Error("library name argument was not given");
        return;
      }
      if (has_pattern) {
        ctx.w.Error("Unknown argument libraryname");
        return;
      }
      pattern = ctx.args[++i];
      has_pattern = true;
    } else {
      ctx.w.Error("Unknown argument " + std::string(ctx.args[i]));
      return;
    }
  }
  script::Engine& engine = ctx.dispatcher.scripting().engine();
  std::vector<const script::Library*> libs;
  for (const auto& [name, lib] : engine.libraries()) {
    if (has_pattern && !util::GlobMatch(pattern, name, false)) continue;
    libs.push_back(&lib);
  }
  resp::Writer& w = ctx.w;
  w.ArrayHeader(static_cast<int64_t>(libs.size()));
  for (const script::Library* lib : libs) {
    w.MapHeader(with_code ? 4 : 3);
    w.Bulk("library_name");
    w.Bulk(lib->name);
    w.Bulk("engine");
    w.Bulk("LUA");
    w.Bulk("functions");
    w.ArrayHeader(static_cast<int64_t>(lib->functions.size()));
    for (const std::string& fname : lib->functions) {
      const script::Function* fn = engine.FindFunction(fname);
      w.MapHeader(3);
      w.Bulk("name");
      w.Bulk(fn->name);
      w.Bulk("description");
      if (fn->description.empty()) {
        w.Null();
      } else {
        w.Bulk(fn->description);
      }
      w.Bulk("flags");
      const std::vector<std::string> flags = script::FlagNames(fn->flags);
      w.SetHeader(static_cast<int64_t>(flags.size()));
      for (const std::string& f : flags) w.SimpleString(f);
    }
    if (with_code) {
      w.Bulk("library_code");
      w.Bulk(lib->code);
    }
  }
}

void FunctionDump(Context& ctx) { ctx.w.Bulk(ctx.dispatcher.scripting().engine().DumpLibraries()); }

void FunctionRestore(Context& ctx) {
  std::string policy = "APPEND";
  if (ctx.args.size() > 4) {
    ctx.w.Error("wrong number of arguments for 'function|restore' command");
    return;
  }
  if (ctx.args.size() == 4) {
    policy = ctx.args[3];
    for (char& c : policy) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (policy != "FLUSH" && policy != "APPEND" && policy != "REPLACE") {
      ctx.w.Error("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
      return;
    }
  }
  Scripting& scripting = ctx.dispatcher.scripting();
  std::string error;
  if (!scripting.engine().RestoreLibraries(ctx.args[2], policy, &error)) {
    ctx.w.Error("-" + error);
    return;
  }
  scripting.SaveFunctions();
  ctx.w.Ok();
}

void FunctionStats(Context& ctx) {
  Scripting& scripting = ctx.dispatcher.scripting();
  resp::Writer& w = ctx.w;
  w.MapHeader(2);
  w.Bulk("running_script");
  if (scripting.running_function()) {
    w.MapHeader(3);
    w.Bulk("name");
    w.Bulk(scripting.running_name());
    w.Bulk("command");
    w.ArrayHeader(static_cast<int64_t>(scripting.running_command().size()));
    for (const std::string& arg : scripting.running_command()) w.Bulk(arg);
    w.Bulk("duration_ms");
    w.Integer(scripting.running_ms());
  } else {
    w.Null();
  }
  w.Bulk("engines");
  w.MapHeader(1);
  w.Bulk("LUA");
  w.MapHeader(2);
  w.Bulk("libraries_count");
  w.Integer(static_cast<int64_t>(scripting.engine().libraries().size()));
  w.Bulk("functions_count");
  w.Integer(static_cast<int64_t>(scripting.engine().function_count()));
}

void FunctionKill(Context& ctx) {
  const std::string error = ctx.dispatcher.scripting().Kill(true);
  if (error.empty()) {
    ctx.w.Ok();
  } else {
    ctx.w.Error(error);
  }
}

void FunctionHelp(Context& ctx) {
  static constexpr std::array<const char*, 36> kLines = {
      "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "LOAD [REPLACE] <FUNCTION CODE>",
      "    Create a new library with the given library name and code.",
      "DELETE <LIBRARY NAME>",
      "    Delete the given library.",
      "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
      "    Return general information on all the libraries:",
      "    * Library name",
      "    * The engine used to run the Library",
      "    * Library description",
      "    * Functions list",
      "    * Library code (if WITHCODE is given)",
      "    It also possible to get only function that matches a pattern using LIBRARYNAME "
      "argument.",
      "STATS",
      "    Return information about the current function running:",
      "    * Function name",
      "    * Command used to run the function",
      "    * Duration in MS that the function is running",
      "    If no function is running, return nil",
      "    In addition, returns a list of available engines.",
      "KILL",
      "    Kill the current running function.",
      "FLUSH [ASYNC|SYNC]",
      "    Delete all the libraries.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the libraries.",
      "    * SYNC: Synchronously flush the libraries.",
      "DUMP",
      "    Return a serialized payload representing the current libraries, can be restored "
      "using FUNCTION RESTORE command",
      "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
      "    Restore the libraries represented by the given payload, it is possible to give a "
      "restore policy to",
      "    control how to handle existing libraries (default APPEND):",
      "    * FLUSH: delete all existing libraries.",
      "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
      "abort.",
      "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
      "replace the old"};
  static constexpr std::array<const char*, 4> kTail = {
      "      libraries with the new libraries (notice that even on this option there is a "
      "chance of failure",
      "      in case of functions name collision with another library).", "HELP",
      "    Prints this help."};
  std::vector<const char*> lines(kLines.begin(), kLines.end());
  lines.insert(lines.end(), kTail.begin(), kTail.end());
  WriteHelp(ctx, lines);
}

}  // namespace

void RegisterFunctionCommands(std::vector<CommandSpec>* out) {
  const std::string g = "scripting";
  auto spec = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                  const char* summary, const char* complexity, const char* args) {
    return CommandSpec{name, arity, flags, 0, 0, 0, h, g, since, summary, complexity, args, {}};
  };
  const char* kArgs = "function:string numkeys:integer [key:key...] [arg:string...]";
  out->push_back(spec("fcall", -3, kNoScript | kStale, FCall, "7.0.0", "Invokes a function.",
                      "Depends on the function that is executed.", kArgs));
  out->push_back(spec("fcall_ro", -3, kNoScript | kStale | kReadOnly, FCallRo, "7.0.0",
                      "Invokes a read-only function.", "Depends on the function that is executed.",
                      kArgs));
  for (size_t i = out->size() - 2; i < out->size(); ++i) (*out)[i].find_keys = ScriptKeys;
  CommandSpec fn = spec("function", -2, 0, nullptr, "7.0.0", "A container for function commands.",
                        "Depends on subcommand.", "");
  const uint32_t kChange = kWrite | kDenyOom | kNoScript;
  fn.subcommands.push_back(
      spec("function|load", -3, kChange, FunctionLoad, "7.0.0", "Creates a library.",
           "O(1) (considering compilation time is redundant)", "[REPLACE] function-code:string"));
  fn.subcommands.push_back(spec("function|delete", 3, kWrite | kNoScript, FunctionDelete, "7.0.0",
                                "Deletes a library and its functions.", "O(1)",
                                "library-name:string"));
  fn.subcommands.push_back(spec("function|flush", -2, kWrite | kNoScript, FunctionFlush, "7.0.0",
                                "Deletes all libraries and functions.",
                                "O(N) where N is the number of functions deleted", "[ASYNC|SYNC]"));
  fn.subcommands.push_back(spec("function|list", -2, kNoScript, FunctionList, "7.0.0",
                                "Returns information about all libraries.",
                                "O(N) where N is the number of functions",
                                "[LIBRARYNAME=library-name-pattern:string] [WITHCODE]"));
  fn.subcommands.push_back(spec("function|dump", 2, kNoScript, FunctionDump, "7.0.0",
                                "Dumps all libraries into a serialized binary payload.",
                                "O(N) where N is the number of functions", ""));
  fn.subcommands.push_back(spec("function|restore", -3, kChange, FunctionRestore, "7.0.0",
                                "Restores all libraries from a payload.",
                                "O(N) where N is the number of functions on the payload",
                                "serialized-value:string [FLUSH|APPEND|REPLACE]"));
  fn.subcommands.push_back(spec("function|stats", 2, kNoScript, FunctionStats, "7.0.0",
                                "Returns information about a function during execution.", "O(1)",
                                ""));
  fn.subcommands.push_back(spec("function|kill", 2, kNoScript, FunctionKill, "7.0.0",
                                "Terminates a function during execution.", "O(1)", ""));
  fn.subcommands.push_back(spec("function|help", 2, kLoading | kStale, FunctionHelp, "7.0.0",
                                "Returns helpful text about the different subcommands.", "O(1)",
                                ""));
  out->push_back(std::move(fn));
}

}  // namespace causalkv::command
