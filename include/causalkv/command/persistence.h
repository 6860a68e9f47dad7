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
#include <string>

#include "causalkv/command/server_state.h"
#include "causalkv/store/store.h"

namespace causalkv::command {

class Persistence {
 public:
  Persistence(ServerState* server, store::Store* store);

  // Loads the snapshot in `dir`, if any, before the server listens.
  // *last_issued receives its version counter (0 without a snapshot). False:
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

  uint64_t changes_since_last_save() const { return dirty_; }
  int64_t last_save_unix() const { return last_save_unix_; }
  bool bgsave_in_progress() const { return child_ > 0; }
  const char* last_bgsave_status() const { return last_bgsave_ok_ ? "ok" : "err"; }
  int64_t last_save_duration_ms() const { return last_save_duration_ms_; }

 private:
  std::string Path() const;
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
};

}  // namespace causalkv::command
