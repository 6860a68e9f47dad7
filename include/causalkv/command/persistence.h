// Persistence: snapshots as an operator drives them (SAVE, BGSAVE, save
// points, a snapshot at shutdown, loading at start), on top of
// persist/snapshot.h.
//
// BGSAVE forks: the child writes the snapshot from its copy-on-write view of
// the store and exits; the loop thread keeps serving and reaps the child in
// Cron(). Thread-compatibility: loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "causalkv/command/server_state.h"
#include "causalkv/store/store.h"

namespace causalkv::persist {
class AofWriter;
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
  enum class BackgroundStart { kStarted, kAlreadyRunning, kFailed };
  BackgroundStart StartBackgroundSave(std::string* error);
  // Called by the server's timer: reaps a finished BGSAVE, starts one when a
  // save point is due.
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
  // Appendonly: writes what the commands logged since the last call (and
  // with appendfsync always, fsyncs). The server calls it before any reply
  // leaves (server::Server::FlushAppendLog). Cheap when nothing is pending.
  void FlushLog();

  // BGREWRITEAOF and the automatic rewrite: writes the current state as the
  // log's new base (<appendfilename>.base, a snapshot, atomically replaced)
  // and empties the log. Synchronous: the loop waits for it (a forked
  // rewrite is future work). False with *error (the old base and log stay,
  // and stay correct).
  bool RewriteLog(std::string* error);

  bool aof_enabled() const { return aof_ != nullptr; }
  bool aof_last_write_ok() const;
  uint64_t aof_current_size() const;

  uint64_t changes_since_last_save() const { return dirty_; }
  int64_t last_save_unix() const { return last_save_unix_; }
  bool bgsave_in_progress() const { return child_ > 0; }
  const char* last_bgsave_status() const { return last_bgsave_ok_ ? "ok" : "err"; }
  int64_t last_save_duration_ms() const { return last_save_duration_ms_; }

 private:
  std::string Path() const;
  bool ReplayLog(uint64_t* max_version);
  bool LoadBase(bool* found, uint64_t* last_issued);
  void MaybeRewriteLog();
  void LogKey(int db, std::string_view key);
  void FinishBackgroundSave(bool ok);

  ServerState* server_;
  store::Store* store_;
  uint64_t dirty_ = 0;
  uint64_t dirty_at_fork_ = 0;
  int64_t last_save_unix_ = 0;
  int64_t last_save_attempt_unix_ = 0;
  int64_t last_save_duration_ms_ = 0;
  int64_t bgsave_started_ms_ = 0;
  bool last_bgsave_ok_ = true;
  pid_t child_ = -1;
  std::unique_ptr<persist::AofWriter> aof_;
  // The log started from a state that has no base file yet (first start
  // with appendonly yes): the first Cron() writes one, once the version
  // counter is set up.
  bool base_pending_ = false;
  uint64_t base_size_ = 0;
};

}  // namespace causalkv::command
