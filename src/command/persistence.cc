#include "causalkv/command/persistence.h"

#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "causalkv/command/dispatch.h"
#include "causalkv/persist/snapshot.h"

namespace causalkv::command {

Persistence::Persistence(ServerState* server, store::Store* store)
    : server_(server), store_(store) {
  last_save_unix_ = WallClockMs() / 1000;
  last_save_attempt_unix_ = last_save_unix_;
}

std::string Persistence::Path() const {
  return server_->config.dir + "/" + server_->config.dbfilename;
}

bool Persistence::LoadAtStartup(uint64_t* last_issued) {
  *last_issued = 0;
  const std::string path = Path();
  std::string error;
  persist::SnapshotStats stats;
  const auto start = std::chrono::steady_clock::now();
  switch (persist::LoadSnapshot(path, store_, last_issued, &stats, &error)) {
    case persist::LoadResult::kNoFile:
      return true;
    case persist::LoadResult::kLoaded: {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      spdlog::info("snapshot {} loaded: {} keys, {} bytes, {} ms", path, stats.keys, stats.bytes,
                   ms);
      return true;
    }
    case persist::LoadResult::kIoError:
      spdlog::critical("{}", error);
      return false;
    case persist::LoadResult::kCorrupt:
      break;
  }
  if (!server_->config.start_empty_on_corrupt_snapshot) {
    spdlog::critical("{}; refusing to start (set start-empty-on-corrupt-snapshot yes to set it "
                     "aside and start empty)", error);
    return false;
  }
  // Never overwrite the bad file: a later save would, so move it aside first.
  const std::string aside = path + ".corrupt-" + std::to_string(WallClockMs() / 1000);
  if (std::rename(path.c_str(), aside.c_str()) != 0) {
    spdlog::critical("{}; and cannot move it aside to {}", error, aside);
    return false;
  }
  store_->FlushAll();
  *last_issued = 0;
  spdlog::warn("{}; moved to {} and starting empty", error, aside);
  return true;
}

bool Persistence::Save(std::string* error) {
  if (child_ > 0) {
    *error = "Background save already in progress";
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  persist::SnapshotStats stats;
  last_save_attempt_unix_ = WallClockMs() / 1000;
  if (!persist::SaveSnapshot(*store_, server_->config.dir, server_->config.dbfilename, &stats,
                             error)) {
    spdlog::warn("snapshot failed: {}", *error);
    return false;
  }
  last_save_duration_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start).count();
  dirty_ = 0;
  last_save_unix_ = last_save_attempt_unix_;
  spdlog::info("snapshot saved: {} keys, {} bytes, {} ms", stats.keys, stats.bytes,
               last_save_duration_ms_);
  return true;
}

Persistence::BackgroundStart Persistence::StartBackgroundSave(std::string* error) {
  if (child_ > 0) return BackgroundStart::kAlreadyRunning;
  spdlog::default_logger()->flush();  // the child must not repeat buffered lines
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork failed: ") + std::strerror(errno);
    last_bgsave_ok_ = false;
    return BackgroundStart::kFailed;
  }
  if (pid == 0) {
    // Child: write the snapshot from the copy-on-write image and leave
    // without running any destructor or atexit handler of the parent's.
    std::string child_error;
    const bool ok = persist::SaveSnapshot(*store_, server_->config.dir,
                                          server_->config.dbfilename, nullptr, &child_error);
    if (!ok) {
      const std::string line = "background snapshot failed: " + child_error + "\n";
      (void)!::write(STDERR_FILENO, line.data(), line.size());
    }
    _exit(ok ? 0 : 1);
  }
  child_ = pid;
  dirty_at_fork_ = dirty_;
  bgsave_started_ms_ = WallClockMs();
  last_save_attempt_unix_ = bgsave_started_ms_ / 1000;
  spdlog::info("background saving started by pid {}", pid);
  return BackgroundStart::kStarted;
}

void Persistence::FinishBackgroundSave(bool ok) {
  child_ = -1;
  last_bgsave_ok_ = ok;
  if (!ok) {
    spdlog::warn("background saving error");
    return;
  }
  // Writes that came after the fork are not in the snapshot.
  dirty_ -= std::min(dirty_, dirty_at_fork_);
  last_save_unix_ = bgsave_started_ms_ / 1000;
  last_save_duration_ms_ = WallClockMs() - bgsave_started_ms_;
  spdlog::info("background saving terminated with success");
}

void Persistence::Cron() {
  if (child_ > 0) {
    int status = 0;
    const pid_t done = waitpid(child_, &status, WNOHANG);
    if (done == child_) {
      FinishBackgroundSave(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    } else if (done < 0) {
      FinishBackgroundSave(false);
    }
    return;
  }
  const int64_t now = WallClockMs() / 1000;
  for (const config::Config::SavePoint& point : server_->config.save_points) {
    // After a failed save, wait a little before trying again, as Redis does.
    const bool retry_ok = last_bgsave_ok_ || now - last_save_attempt_unix_ >= 5;
    if (dirty_ >= static_cast<uint64_t>(point.changes) && dirty_ > 0 &&
        now - last_save_unix_ >= point.seconds && retry_ok) {
      spdlog::info("{} changes in {} seconds. Saving...", point.changes, point.seconds);
      std::string error;
      if (StartBackgroundSave(&error) == BackgroundStart::kFailed) spdlog::warn("{}", error);
      return;
    }
  }
}

bool Persistence::SaveOnShutdown(bool force, bool skip) {
  if (child_ > 0) {
    // The child's snapshot may predate the last writes; a fresh one follows.
    kill(child_, SIGKILL);
    int status = 0;
    waitpid(child_, &status, 0);
    child_ = -1;
  }
  if (skip || (!force && server_->config.save_points.empty())) return true;
  spdlog::info("saving the final snapshot before exiting");
  std::string error;
  return Save(&error);
}

}  // namespace causalkv::command
