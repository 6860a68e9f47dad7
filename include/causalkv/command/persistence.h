// Persistence: snapshots and the append-only log as an operator drives them
// (SAVE, BGSAVE, save points, BGREWRITEAOF, automatic rewrites, CONFIG SET
// appendonly, a snapshot at shutdown, loading at start), on top of
// persist/snapshot.h and persist/aof.h.
//
// BGSAVE and log rewrites fork: the child writes a snapshot from its
// copy-on-write view of the store and exits; the loop thread keeps serving
// and reaps the child in Cron(). One child at a time, as in Redis: a log
// rewrite asked for during a BGSAVE is scheduled for when it ends; a BGSAVE
// during a rewrite is refused, or scheduled with BGSAVE SCHEDULE.
//
// The append-only log's files, in `dir` (<log> is appendfilename):
//   <log>.base  a snapshot: the state the log starts from
//   <log>       the records written since that base was taken
//   <log>.next  only while a rewrite runs (or after a crash during one): the
//               records since the rewrite's fork; they continue <log>
// A rewrite closes <log>, starts <log>.next, and forks a child that writes
// the state at the fork to <log>.base.new. When the child succeeds,
// <log>.base.new is renamed over <log>.base, then <log>.next over <log>.
// Records are idempotent key states (persist/aof.h), so replaying a log
// over a base taken after some of its records changes nothing: whatever
// moment a crash strikes, base + <log> + <log>.next is the latest state.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "causalkv/command/server_state.h"

namespace causalkv::persist {
class AofWriter;
}
namespace causalkv::store {
class Store;
}

namespace causalkv::command {

struct ClientState;
struct CommandSpec;

class Persistence {
 public:
  Persistence(ServerState* server, store::Store* store);
  ~Persistence();

  // Loads the snapshot in `dir`, if any, before the server listens, then
  // (appendonly yes) replays the append-only log over it and opens the log
  // for appending. *last_issued receives the highest version either names
  // (0 without both). False:
  // the server must not start (the reason is logged). A corrupt snapshot is
  // set aside under a new name when start-empty-on-corrupt-snapshot is yes.
  bool LoadAtStartup(uint64_t* last_issued);

  // SAVE: a synchronous snapshot. False with *error on failure.
  bool Save(std::string* error);
  enum class BackgroundStart { kStarted, kScheduled, kAlreadyRunning, kOtherChild, kFailed };
  // BGSAVE. With a log rewrite running: kOtherChild, or with `schedule`,
  // kScheduled (it starts when the rewrite ends).
  BackgroundStart StartBackgroundSave(bool schedule, std::string* error);
  // Called by the server's timer: reaps a finished child, starts what is
  // scheduled or due (save points, automatic log rewrites).
  void Cron();
  // At shutdown: saves if save points are configured (or `force`), unless
  // `skip`. False if a needed save failed.
  bool SaveOnShutdown(bool force, bool skip);

  // One write command ran (the "changes" of save points).
  void NoteWrite() { ++dirty_; }
  // Appendonly: logs the state of every key the write command `spec` (run
  // by `client` with `args`) touched. No-op without appendonly.
  void LogWrite(const CommandSpec& spec, const ClientState& client,
                std::span<const std::string_view> args);
  // Appendonly: logs the current state of one key (a peer's state merged
  // outside any client command). No-op without appendonly.
  void LogKey(int db, std::string_view key);
  // Appendonly: writes what the commands logged since the last call (and
  // with appendfsync always, fsyncs). The server calls it before any reply
  // leaves (server::Server::FlushAppendLog). Cheap when nothing is pending.
  void FlushLog();

  // BGREWRITEAOF: starts a forked rewrite of the log (see the top of this
  // file), or schedules it behind a running BGSAVE (kScheduled). kFailed
  // with *error without appendonly or when fork fails (the old files stay,
  // and stay correct).
  BackgroundStart StartLogRewrite(std::string* error);

  // CONFIG SET appendonly. Turning it on starts a new log from the current
  // state (a rewrite, as Redis does); turning it off closes the log and
  // stops a running rewrite. False with *error if the log cannot be opened.
  bool SetAppendOnly(bool on, std::string* error);

  bool aof_enabled() const { return aof_ != nullptr; }
  bool aof_last_write_ok() const;
  uint64_t aof_current_size() const;
  uint64_t aof_base_size() const { return base_size_; }
  bool aof_rewrite_in_progress() const { return child_job_ == ChildJob::kLogRewrite; }
  bool aof_rewrite_scheduled() const { return rewrite_scheduled_; }
  const char* last_rewrite_status() const { return last_rewrite_ok_ ? "ok" : "err"; }
  // -1 before the first rewrite.
  int64_t last_rewrite_duration_ms() const { return last_rewrite_duration_ms_; }
  uint64_t rewrites() const { return rewrites_; }

  uint64_t changes_since_last_save() const { return dirty_; }
  int64_t last_save_unix() const { return last_save_unix_; }
  bool bgsave_in_progress() const { return child_job_ == ChildJob::kSnapshot; }
  bool bgsave_scheduled() const { return bgsave_scheduled_; }
  // Seconds the running child has been at work (-1: none).
  int64_t child_running_seconds() const;
  const char* last_bgsave_status() const { return last_bgsave_ok_ ? "ok" : "err"; }
  int64_t last_save_duration_ms() const { return last_save_duration_ms_; }

 private:
  enum class ChildJob { kNone, kSnapshot, kLogRewrite };

  std::string Path() const;
  std::string LogPath() const;
  std::string NextLogPath() const;
  std::string BasePath() const;
  std::string NewBaseName() const;
  bool LoadBase(bool* found, uint64_t* last_issued);
  bool ReplayLogs(uint64_t* max_version);
  bool ReplayOneLog(const std::string& path, uint64_t* max_version);
  bool OpenLog(const std::string& path, std::string* error);
  bool StartNextLog(std::string* error);
  void MaybeRewriteLog();
  // Forks a child that writes the store as a snapshot to dir/filename and
  // exits 0 on success. False with *error if fork fails.
  bool ForkChild(ChildJob job, const std::string& dir, const std::string& filename,
                 std::string* error);
  void ReapChild();
  void StopChild();
  void FinishBackgroundSave(bool ok);
  void FinishLogRewrite(bool ok);

  ServerState* server_;
  store::Store* store_;
  uint64_t dirty_ = 0;
  uint64_t dirty_at_fork_ = 0;
  int64_t last_save_unix_ = 0;
  int64_t last_save_attempt_unix_ = 0;
  int64_t last_save_duration_ms_ = 0;
  bool last_bgsave_ok_ = true;
  bool bgsave_scheduled_ = false;

  pid_t child_ = -1;
  ChildJob child_job_ = ChildJob::kNone;
  int64_t child_started_ms_ = 0;

  std::unique_ptr<persist::AofWriter> aof_;
  // `dir` when the log was opened: CONFIG SET dir moves where snapshots go,
  // not the open log (it follows at the next CONFIG SET appendonly yes).
  std::string log_dir_;
  // Records go to <log>.next: a rewrite is running, or failed, or a crash
  // interrupted one. Cleared when a rewrite's files are renamed into place.
  bool on_next_log_ = false;
  // The log has no base of its own yet (first start with appendonly yes,
  // CONFIG SET appendonly yes, or <log>.next found at start): the next
  // Cron() starts a rewrite, once the version counter is set up.
  bool base_pending_ = false;
  bool rewrite_scheduled_ = false;
  bool last_rewrite_ok_ = true;
  int64_t last_rewrite_attempt_ms_ = 0;
  int64_t last_rewrite_duration_ms_ = -1;
  uint64_t rewrites_ = 0;
  uint64_t base_size_ = 0;
};

}  // namespace causalkv::command
