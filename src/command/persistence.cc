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
#include "causalkv/persist/aof.h"
#include "causalkv/persist/snapshot.h"
#include "args.h"
#include "command_table.h"

namespace causalkv::command {

Persistence::Persistence(ServerState* server, store::Store* store)
    : server_(server), store_(store) {
  last_save_unix_ = WallClockMs() / 1000;
  last_save_attempt_unix_ = last_save_unix_;
}

Persistence::~Persistence() = default;

bool Persistence::aof_last_write_ok() const { return aof_ == nullptr || aof_->last_write_ok(); }
uint64_t Persistence::aof_current_size() const { return aof_ == nullptr ? 0 : aof_->size(); }

bool Persistence::ReplayLog(uint64_t* max_version) {
  const config::Config& cfg = server_->config;
  const std::string path = cfg.dir + "/" + cfg.appendfilename;
  persist::AofReplayStats stats;
  std::string error;
  uint64_t version = 0;
  const auto start = std::chrono::steady_clock::now();
  switch (persist::ReplayAof(path, cfg.aof_load_truncated, store_, &version, &stats, &error)) {
    case persist::AofLoadResult::kNoFile:
      break;
    case persist::AofLoadResult::kLoaded: {
      if (stats.truncated_at != 0) {
        spdlog::warn("append-only log {}: {}; truncated to {} bytes (aof-load-truncated yes)",
                     path, error, stats.truncated_at);
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      spdlog::info("append-only log {} replayed: {} records, {} ms", path, stats.records, ms);
      break;
    }
    case persist::AofLoadResult::kCorrupt:
      spdlog::critical("{}; refusing to start (a torn last record is cut off only with "
                       "aof-load-truncated yes)", error);
      return false;
    case persist::AofLoadResult::kIoError:
      spdlog::critical("{}", error);
      return false;
  }
  *max_version = std::max(*max_version, version);
  auto writer = std::make_unique<persist::AofWriter>();
  if (!writer->Open(path, &error)) {
    spdlog::critical("{}", error);
    return false;
  }
  aof_ = std::move(writer);
  store_->set_eviction_listener([this](int db, std::string_view key) { LogKey(db, key); });
  return true;
}

void Persistence::LogKey(int db, std::string_view key) {
  persist::EncodeAofKey(aof_->buffer(), store_->counter().last_issued().counter(),
                        static_cast<uint32_t>(db), key, store_->db(db).Peek(key));
}

void Persistence::LogWrite(const CommandSpec& spec, const ClientState& client,
                           std::span<const std::string_view> args) {
  if (aof_ == nullptr) return;
  const uint64_t counter = store_->counter().last_issued().counter();
  if (spec.name == "flushdb") {
    persist::EncodeAofClear(aof_->buffer(), counter, static_cast<uint32_t>(client.db));
    return;
  }
  if (spec.name == "flushall") {
    persist::EncodeAofClear(aof_->buffer(), counter, persist::kAofAllDatabases);
    return;
  }
  if (spec.first_key <= 0 || spec.key_step <= 0) return;
  const int argc = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) {
    LogKey(client.db, args[i]);
  }
  if (spec.name == "move" && argc >= 3) {
    // The key also changed in the target database.
    int64_t target = -1;
    if (ParseInt64(args[2], &target) && target >= 0 && target < store_->database_count() &&
        target != client.db) {
      LogKey(static_cast<int>(target), args[1]);
    }
  }
}

void Persistence::FlushLog() {
  if (aof_ == nullptr || !aof_->has_pending()) return;
  const std::string& mode = server_->config.appendfsync;
  const persist::AofFsync fsync = mode == "always"     ? persist::AofFsync::kAlways
                                  : mode == "everysec" ? persist::AofFsync::kEverysec
                                                       : persist::AofFsync::kNo;
  if (aof_->Flush(fsync)) return;
  if (fsync == persist::AofFsync::kAlways) {
    // As Redis: the reply would acknowledge a write that may not survive.
    spdlog::critical("cannot write the append-only log with appendfsync always: {}; exiting",
                     std::strerror(errno));
    spdlog::default_logger()->flush();
    _exit(1);
  }
  spdlog::warn("cannot write the append-only log: {}; will retry", std::strerror(errno));
}

std::string Persistence::Path() const {
  return server_->config.dir + "/" + server_->config.dbfilename;
}

bool Persistence::LoadBase(bool* found, uint64_t* last_issued) {
  const config::Config& cfg = server_->config;
  const std::string path = cfg.dir + "/" + cfg.appendfilename + ".base";
  std::string error;
  persist::SnapshotStats stats;
  *found = false;
  switch (persist::LoadSnapshot(path, store_, last_issued, &stats, &error)) {
    case persist::LoadResult::kNoFile:
      return true;
    case persist::LoadResult::kLoaded:
      spdlog::info("append-only log base {} loaded: {} keys, {} bytes", path, stats.keys,
                   stats.bytes);
      *found = true;
      base_size_ = stats.bytes;
      return true;
    case persist::LoadResult::kCorrupt:
      spdlog::critical("{}; refusing to start (the append-only log's base)", error);
      return false;
    case persist::LoadResult::kIoError:
      spdlog::critical("{}", error);
      return false;
  }
  return false;
}

bool Persistence::LoadAtStartup(uint64_t* last_issued) {
  *last_issued = 0;
  if (server_->config.appendonly) {
    // With a base, base + log is the whole state (the snapshot may be older
    // or newer, and is not read). Without one, the log, if any, started from
    // the snapshot.
    bool found = false;
    if (!LoadBase(&found, last_issued)) return false;
    if (found) return ReplayLog(last_issued);
    base_pending_ = true;
  }
  const std::string path = Path();
  std::string error;
  persist::SnapshotStats stats;
  const auto start = std::chrono::steady_clock::now();
  switch (persist::LoadSnapshot(path, store_, last_issued, &stats, &error)) {
    case persist::LoadResult::kNoFile:
      return !server_->config.appendonly || ReplayLog(last_issued);
    case persist::LoadResult::kLoaded: {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      spdlog::info("snapshot {} loaded: {} keys, {} bytes, {} ms", path, stats.keys, stats.bytes,
                   ms);
      return !server_->config.appendonly || ReplayLog(last_issued);
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
  return !server_->config.appendonly || ReplayLog(last_issued);
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

bool Persistence::RewriteLog(std::string* error) {
  if (aof_ == nullptr) {
    *error = "append only file is disabled (appendonly no)";
    return false;
  }
  const config::Config& cfg = server_->config;
  const auto start = std::chrono::steady_clock::now();
  persist::SnapshotStats stats;
  // Order matters: the new base first (atomically), then the empty log. A
  // crash between them leaves the new base and the old log, whose records
  // are states no newer than the base's: replaying them changes nothing.
  if (!persist::SaveSnapshot(*store_, cfg.dir, cfg.appendfilename + ".base", &stats, error) ||
      !aof_->Truncate(error)) {
    spdlog::warn("append-only log rewrite failed: {}", *error);
    return false;
  }
  base_pending_ = false;
  base_size_ = stats.bytes;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  spdlog::info("append-only log rewritten: base of {} keys, {} bytes, {} ms", stats.keys,
               stats.bytes, ms);
  return true;
}

void Persistence::MaybeRewriteLog() {
  if (aof_ == nullptr) return;
  const config::Config& cfg = server_->config;
  const uint64_t size = aof_->size();
  const bool grown = cfg.auto_aof_rewrite_percentage > 0 &&
                     size >= cfg.auto_aof_rewrite_min_size &&
                     size * 100 >= static_cast<uint64_t>(cfg.auto_aof_rewrite_percentage) *
                                       std::max<uint64_t>(base_size_, 1);
  if (!base_pending_ && !grown) return;
  if (grown) spdlog::info("append-only log of {} bytes has grown past its base; rewriting", size);
  std::string error;
  RewriteLog(&error);
}

void Persistence::Cron() {
  // Records no reply has pushed out yet (CLIENT REPLY OFF, evictions).
  FlushLog();
  MaybeRewriteLog();
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
