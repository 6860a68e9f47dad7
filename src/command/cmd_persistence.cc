// SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF (see command/persistence.h).
#include <string>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/command/persistence.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

void Save(Context& ctx) {
  std::string error;
  if (ctx.dispatcher.persistence().Save(&error)) {
    ctx.w.Ok();
  } else {
    ctx.w.Error(error);
  }
}

// BGSAVE [SCHEDULE]: SCHEDULE waits for a running log rewrite to end.
void BgSave(Context& ctx) {
  const bool schedule = ctx.args.size() == 2;
  if (schedule && !EqualsIgnoreCase(ctx.args[1], "schedule")) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  std::string error;
  switch (ctx.dispatcher.persistence().StartBackgroundSave(schedule, &error)) {
    case Persistence::BackgroundStart::kStarted:
      ctx.w.SimpleString("Background saving started");
      return;
    case Persistence::BackgroundStart::kScheduled:
      ctx.w.SimpleString("Background saving scheduled");
      return;
    case Persistence::BackgroundStart::kAlreadyRunning:
      ctx.w.Error("Background save already in progress");
      return;
    case Persistence::BackgroundStart::kOtherChild:
      ctx.w.Error("Another child process is active (AOF?): can't BGSAVE right now. "
                  "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible");
      return;
    case Persistence::BackgroundStart::kFailed:
      ctx.w.Error(error);
      return;
  }
}

// BGREWRITEAOF: forks the rewrite (see command/persistence.h), or schedules
// it behind a running BGSAVE.
void BgRewriteAof(Context& ctx) {
  std::string error;
  switch (ctx.dispatcher.persistence().StartLogRewrite(&error)) {
    case Persistence::BackgroundStart::kStarted:
      ctx.w.SimpleString("Background append only file rewriting started");
      return;
    case Persistence::BackgroundStart::kScheduled:
      ctx.w.SimpleString("Background append only file rewriting scheduled");
      return;
    case Persistence::BackgroundStart::kAlreadyRunning:
      ctx.w.Error("Background append only file rewriting already in progress");
      return;
    case Persistence::BackgroundStart::kOtherChild:
    case Persistence::BackgroundStart::kFailed:
      ctx.w.Error(error);
      return;
  }
}

void LastSave(Context& ctx) { ctx.w.Integer(ctx.dispatcher.persistence().last_save_unix()); }

}  // namespace

void RegisterPersistenceCommands(std::vector<CommandSpec>* out) {
  const std::string g = "server";
  out->push_back({"save", 1, kAdmin | kNoScript | kNoMulti, 0, 0, 0, Save, g, "1.0.0",
                  "Synchronously saves the database(s) to disk.",
                  "O(N) where N is the total number of keys in all databases", "", {}});
  out->push_back({"bgsave", -1, kAdmin | kNoScript, 0, 0, 0, BgSave, g, "1.0.0",
                  "Asynchronously saves the database(s) to disk.",
                  "O(1)", "[SCHEDULE]", {}});
  out->push_back({"bgrewriteaof", 1, kAdmin | kNoScript, 0, 0, 0, BgRewriteAof, g, "1.0.0",
                  "Asynchronously rewrites the append-only file to disk.", "O(1)", "", {}});
  out->push_back({"lastsave", 1, kLoading | kStale | kFast | kRandom, 0, 0, 0, LastSave, g,
                  "1.0.0", "Returns the Unix timestamp of the last successful save to disk.",
                  "O(1)", "", {}});
}

}  // namespace causalkv::command
