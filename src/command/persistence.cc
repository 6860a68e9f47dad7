#include "causalkv/command/persistence.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "causalkv/command/dispatch.h"
#include "causalkv/persist/aof.h"
#include "causalkv/persist/durable_rename.h"
#include "causalkv/persist/snapshot.h"
#include "causalkv/store/store.h"
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

namespace {

// How long an automatic rewrite or save waits after a failed one.
constexpr int64_t kRetryAfterFailureMs = 5000;

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Removes temp-<pid>-<name> files of `dir` that a killed writer left, for
// each name in `names` (see persist::SnapshotTempPath).
void RemoveLeftoverTempFiles(const std::string& dir, std::initializer_list<std::string> names) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* entry = ::readdir(d)) {
    const std::string_view file = entry->d_name;
    if (!file.starts_with("temp-")) continue;
    const size_t dash = file.find('-', 5);
    if (dash == std::string_view::npos || dash == 5) continue;
    const std::string_view pid = file.substr(5, dash - 5);
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    for (const std::string& name : names) {
      if (file.substr(dash + 1) == name) {
        spdlog::info("removing {}/{}, left by a writer that did not finish", dir, file);
        ::unlink((dir + "/" + std::string(file)).c_str());
      }
    }
  }
  ::closedir(d);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string Persistence::LogPath() const {
  return log_dir_ + "/" + server_->config.appendfilename;
}
std::string Persistence::NextLogPath() const { return LogPath() + ".next"; }
std::string Persistence::BasePath() const { return LogPath() + ".base"; }
std::string Persistence::NewBaseName() const { return server_->config.appendfilename + ".base.new"; }

bool Persistence::ReplayOneLog(const std::string& path, uint64_t* max_version) {
  const config::Config& cfg = server_->config;
  persist::AofReplayStats stats;
  std::string error;
  uint64_t version = 0;
  const auto start = std::chrono::steady_clock::now();
  switch (persist::ReplayAof(path, cfg.aof_load_truncated, store_, &version, &stats, &error)) {
    case persist::AofLoadResult::kNoFile:
      return true;
    case persist::AofLoadResult::kLoaded: {
      if (stats.truncated_at != 0) {
        spdlog::warn("append-only log {}: {}; truncated to {} bytes (aof-load-truncated yes)",
                     path, error, stats.truncated_at);
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      spdlog::info("append-only log {} replayed: {} records, {} ms", path, stats.records, ms);
      *max_version = std::max(*max_version, version);
      return true;
    }
    case persist::AofLoadResult::kCorrupt:
      spdlog::critical("{}; refusing to start (a torn last record is cut off only with "
                       "aof-load-truncated yes)", error);
      return false;
    case persist::AofLoadResult::kIoError:
    case persist::AofLoadResult::kIncompatible:
      spdlog::critical("{}", error);
      return false;
  }
  return false;
}

bool Persistence::OpenLog(const std::string& path, std::string* error) {
  auto writer = std::make_unique<persist::AofWriter>();
  const bool causal = store_->causal();
  if (!writer->Open(path, error, causal ? persist::AofFormat::kCausal : persist::AofFormat::kVarint,
                    causal ? store_->actors().self() : 0)) {
    return false;
  }
  if (aof_ != nullptr) aof_->Close();
  aof_ = std::move(writer);
  store_->set_eviction_listener([this](int db, std::string_view key) { LogKey(db, key); });
  return true;
}

bool Persistence::ReplayLogs(uint64_t* max_version) {
  // A rewrite's finished base that was never renamed into place: the base
  // and logs it would have replaced still hold everything.
  ::unlink((log_dir_ + "/" + NewBaseName()).c_str());
  if (!ReplayOneLog(LogPath(), max_version)) return false;
  on_next_log_ = Exists(NextLogPath());
  if (on_next_log_) {
    // A crash during a rewrite: <log>.next continues <log>. Keep appending
    // to it; the first Cron() rewrites, which folds both into a new base.
    spdlog::warn("{} found: a log rewrite was interrupted; replaying it too and rewriting",
                 NextLogPath());
    if (!ReplayOneLog(NextLogPath(), max_version)) return false;
    base_pending_ = true;
  }
  std::string error;
  if (!OpenLog(on_next_log_ ? NextLogPath() : LogPath(), &error)) {
    spdlog::critical("{}", error);
    return false;
  }
  if (store_->causal() && aof_->format() != persist::AofFormat::kCausal) {
    // A single node's log, now in causal mode: a file keeps its format, and
    // causal records need format 3. Fold everything into a (format 3) base
    // now and start an empty log. Each step leaves a loadable directory:
    // the old logs replayed over the new base give its state again, and so
    // does <log>.next alone, which is why <log> goes first.
    spdlog::info("append-only log of a single node found: writing a causal base and a new log");
    aof_->Close();
    auto unlink = [&](const std::string& path) {
      if (::unlink(path.c_str()) == 0 || errno == ENOENT) return true;
      error = "cannot remove " + path + ": " + std::strerror(errno);
      return false;
    };
    if (!persist::SaveSnapshot(*store_, log_dir_, server_->config.appendfilename + ".base",
                               nullptr, &error) ||
        !unlink(LogPath()) || !unlink(NextLogPath()) ||
        !persist::SyncDirectory(log_dir_, &error) || !OpenLog(LogPath(), &error)) {
      spdlog::critical("cannot start the causal append-only log: {}", error);
      return false;
    }
    on_next_log_ = false;
    base_pending_ = false;
    base_size_ = FileSize(BasePath());
  }
  return true;
}

void Persistence::LogKey(int db, std::string_view key) {
  if (aof_ == nullptr) return;
  const uint64_t counter = store_->counter().last_issued().counter();
  store::Keyspace& keyspace = store_->db(db);
  const store::SiblingSet* set = keyspace.Peek(key);
  if (!store_->causal()) {
    aof_->AppendKey(counter, static_cast<uint32_t>(db), key, set);
    return;
  }
  // Read without counting an access. A deleted key keeps a tombstone, and
  // the log keeps it too; only a key with neither (expired, evicted, its
  // tombstone reaped) is gone. A tombstone is logged as deleted now: never
  // earlier than it was, so that replay can only delay its reaping.
  store::KeyState state;
  if (set != nullptr) state = keyspace.PeekState(set);
  if (set != nullptr || keyspace.GetState(key, &state)) {
    aof_->AppendKeyState(counter, static_cast<uint32_t>(db), key, state, store_->now_ms());
  } else {
    aof_->AppendKey(counter, static_cast<uint32_t>(db), key, nullptr);
  }
}

void Persistence::LogWrite(const CommandSpec& spec, const ClientState& client,
                           std::span<const std::string_view> args) {
  if (aof_ == nullptr) return;
  const uint64_t counter = store_->counter().last_issued().counter();
  if (spec.name == "flushdb") {
    aof_->AppendClear(counter, static_cast<uint32_t>(client.db));
    return;
  }
  if (spec.name == "flushall") {
    aof_->AppendClear(counter, persist::kAofAllDatabases);
    return;
  }
  if (spec.name == "swapdb") {
    // Both databases as they are now: rare enough to log whole.
    for (std::string_view arg : args.subspan(1)) {
      int64_t db;
      if (!ParseInt64(arg, &db)) return;
      aof_->AppendClear(counter, static_cast<uint32_t>(db));
      store_->db(static_cast<int>(db)).ForEachLive(
          [&](const store::SiblingSet* set) { LogKey(static_cast<int>(db), set->key()); });
    }
    return;
  }
  if (spec.find_keys == nullptr && (spec.first_key <= 0 || spec.key_step <= 0)) return;
  ForEachKeyArg(spec, args, [&](std::string_view key) { LogKey(client.db, key); });
  int target;
  std::string_view key;
  if (ExtraWrittenKey(spec, args, client.db, store_->database_count(), &target, &key)) {
    LogKey(target, key);
  }
}

void Persistence::FlushLog() {
  if (aof_ == nullptr || !aof_->has_pending()) return;
  // A script's records go out together, once it has ended: a crash never
  // keeps half of one (it may be suspended, the loop turning, meanwhile).
  if (server_->script_running) return;
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
  const std::string path = BasePath();
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
    case persist::LoadResult::kIncompatible:
      spdlog::critical("{}", error);
      return false;
  }
  return false;
}

bool Persistence::LoadAtStartup(uint64_t* last_issued) {
  *last_issued = 0;
  log_dir_ = server_->config.dir;
  RemoveLeftoverTempFiles(log_dir_, {server_->config.dbfilename, NewBaseName(),
                                     server_->config.appendfilename + ".base"});
  if (server_->config.appendonly) {
    // With a base, base + log is the whole state (the snapshot may be older
    // or newer, and is not read). Without one, the log, if any, started from
    // the snapshot.
    bool found = false;
    if (!LoadBase(&found, last_issued)) return false;
    if (found) return ReplayLogs(last_issued);
    base_pending_ = true;
  }
  const std::string path = Path();
  std::string error;
  persist::SnapshotStats stats;
  const auto start = std::chrono::steady_clock::now();
  switch (persist::LoadSnapshot(path, store_, last_issued, &stats, &error)) {
    case persist::LoadResult::kNoFile:
      return !server_->config.appendonly || ReplayLogs(last_issued);
    case persist::LoadResult::kLoaded: {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      spdlog::info("snapshot {} loaded: {} keys, {} bytes, {} ms", path, stats.keys, stats.bytes,
                   ms);
      return !server_->config.appendonly || ReplayLogs(last_issued);
    }
    case persist::LoadResult::kIoError:
    case persist::LoadResult::kIncompatible:  // never set aside: it is not damaged
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
  return !server_->config.appendonly || ReplayLogs(last_issued);
}

bool Persistence::Save(std::string* error) {
  if (child_job_ == ChildJob::kSnapshot) {
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

int64_t Persistence::child_running_seconds() const {
  return child_job_ == ChildJob::kNone ? -1 : (WallClockMs() - child_started_ms_) / 1000;
}

bool Persistence::ForkChild(ChildJob job, const std::string& dir, const std::string& filename,
                            std::string* error) {
  spdlog::default_logger()->flush();  // the child must not repeat buffered lines
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork failed: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Child: dies with its parent. An orphan finishing later would put an
    // old snapshot (or log base) in place of what a restarted server has
    // written since.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
    // Write from the copy-on-write image and leave without running any
    // destructor or atexit handler of the parent's.
    std::string child_error;
    if (persist::SaveSnapshot(*store_, dir, filename, nullptr, &child_error)) _exit(0);
    const std::string line = "background write of " + filename + " failed: " + child_error + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    _exit(1);
  }
  child_ = pid;
  child_job_ = job;
  child_started_ms_ = WallClockMs();
  return true;
}

Persistence::BackgroundStart Persistence::StartBackgroundSave(bool schedule, std::string* error) {
  if (child_job_ == ChildJob::kSnapshot) return BackgroundStart::kAlreadyRunning;
  if (child_job_ != ChildJob::kNone) {
    if (!schedule) return BackgroundStart::kOtherChild;
    bgsave_scheduled_ = true;
    return BackgroundStart::kScheduled;
  }
  bgsave_scheduled_ = false;
  last_save_attempt_unix_ = WallClockMs() / 1000;
  if (!ForkChild(ChildJob::kSnapshot, server_->config.dir, server_->config.dbfilename, error)) {
    last_bgsave_ok_ = false;
    return BackgroundStart::kFailed;
  }
  dirty_at_fork_ = dirty_;
  spdlog::info("background saving started by pid {}", child_);
  return BackgroundStart::kStarted;
}

void Persistence::FinishBackgroundSave(bool ok) {
  last_bgsave_ok_ = ok;
  if (!ok) {
    spdlog::warn("background saving error");
    return;
  }
  // Writes that came after the fork are not in the snapshot.
  dirty_ -= std::min(dirty_, dirty_at_fork_);
  last_save_unix_ = child_started_ms_ / 1000;
  last_save_duration_ms_ = WallClockMs() - child_started_ms_;
  spdlog::info("background saving terminated with success");
}

bool Persistence::StartNextLog(std::string* error) {
  // Every record so far belongs to <log>: write and fsync them there before
  // later ones go to <log>.next. A stale <log>.next cannot exist here (it
  // is adopted at start and renamed away by every finished rewrite), but
  // starting it empty is what makes it the continuation of <log>.
  FlushLog();
  ::unlink(NextLogPath().c_str());
  if (!OpenLog(NextLogPath(), error)) return false;
  on_next_log_ = true;
  return true;
}

Persistence::BackgroundStart Persistence::StartLogRewrite(std::string* error) {
  if (aof_ == nullptr) {
    *error = "append only file is disabled (appendonly no)";
    return BackgroundStart::kFailed;
  }
  if (child_job_ == ChildJob::kLogRewrite) return BackgroundStart::kAlreadyRunning;
  if (child_job_ != ChildJob::kNone) {
    rewrite_scheduled_ = true;
    return BackgroundStart::kScheduled;
  }
  rewrite_scheduled_ = false;
  last_rewrite_attempt_ms_ = WallClockMs();
  // Still on <log>.next after a failed rewrite: keep it, it continues <log>.
  if ((!on_next_log_ && !StartNextLog(error)) ||
      !ForkChild(ChildJob::kLogRewrite, log_dir_, NewBaseName(), error)) {
    last_rewrite_ok_ = false;
    spdlog::warn("append-only log rewrite not started: {}", *error);
    return BackgroundStart::kFailed;
  }
  spdlog::info("background append-only log rewrite started by pid {}", child_);
  return BackgroundStart::kStarted;
}

void Persistence::FinishLogRewrite(bool ok) {
  const std::string& dir = log_dir_;
  const std::string new_base = dir + "/" + NewBaseName();
  std::string error;
  // The order is what keeps every moment recoverable (see persistence.h):
  // the new base replaces the old one before <log>.next replaces <log>.
  if (ok && aof_ != nullptr && on_next_log_ &&
      persist::RenameDurably(new_base, BasePath(), dir, &error) &&
      persist::RenameDurably(NextLogPath(), LogPath(), dir, &error)) {
    // The writer's descriptor follows the file to its new name.
    on_next_log_ = false;
    base_pending_ = false;
    base_size_ = FileSize(BasePath());
    last_rewrite_ok_ = true;
    last_rewrite_duration_ms_ = WallClockMs() - child_started_ms_;
    ++rewrites_;
    spdlog::info("background append-only log rewrite done: base of {} bytes, {} ms", base_size_,
                 last_rewrite_duration_ms_);
    return;
  }
  ::unlink(new_base.c_str());
  last_rewrite_ok_ = false;
  spdlog::warn("background append-only log rewrite failed{}{}", error.empty() ? "" : ": ",
               error);
}

void Persistence::ReapChild() {
  int status = 0;
  const pid_t done = waitpid(child_, &status, WNOHANG);
  if (done == 0) return;
  const bool ok = done == child_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const ChildJob job = child_job_;
  child_ = -1;
  child_job_ = ChildJob::kNone;
  if (job == ChildJob::kSnapshot) {
    FinishBackgroundSave(ok);
  } else {
    FinishLogRewrite(ok);
  }
}

void Persistence::StopChild() {
  if (child_job_ == ChildJob::kNone) return;
  kill(child_, SIGKILL);
  int status = 0;
  waitpid(child_, &status, 0);
  if (child_job_ == ChildJob::kSnapshot) {
    ::unlink(persist::SnapshotTempPath(server_->config.dir, server_->config.dbfilename, child_)
                 .c_str());
  } else {
    ::unlink(persist::SnapshotTempPath(log_dir_, NewBaseName(), child_).c_str());
    ::unlink((log_dir_ + "/" + NewBaseName()).c_str());
  }
  spdlog::info("background {} by pid {} stopped",
               child_job_ == ChildJob::kSnapshot ? "saving" : "log rewrite", child_);
  child_ = -1;
  child_job_ = ChildJob::kNone;
}

bool Persistence::SetAppendOnly(bool on, std::string* error) {
  if (on == (aof_ != nullptr)) return true;
  if (!on) {
    if (child_job_ == ChildJob::kLogRewrite) StopChild();
    FlushLog();
    aof_->Close();
    aof_.reset();
    store_->set_eviction_listener(nullptr);
    rewrite_scheduled_ = false;
    base_pending_ = false;
    on_next_log_ = false;
    spdlog::info("append-only log turned off");
    return true;
  }
  // Files left from an earlier appendonly period are out of date: a base
  // or log replayed at the next start would bring back what changed since.
  // The new log starts as <log>.next with no base, until the rewrite below
  // writes the base of the current state.
  log_dir_ = server_->config.dir;
  for (const std::string& stale : {BasePath(), LogPath(), NextLogPath()}) {
    if (::unlink(stale.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot remove " + stale + ": " + std::strerror(errno);
      return false;
    }
  }
  ::unlink((log_dir_ + "/" + NewBaseName()).c_str());
  if (!StartNextLog(error)) return false;
  base_size_ = 0;
  base_pending_ = true;
  spdlog::info("append-only log turned on; writing its base");
  StartLogRewrite(error);  // a failure is retried by Cron()
  error->clear();
  return true;
}

void Persistence::MaybeRewriteLog() {
  if (aof_ == nullptr || child_job_ != ChildJob::kNone) return;
  const config::Config& cfg = server_->config;
  const uint64_t size = aof_->size();
  const bool grown = cfg.auto_aof_rewrite_percentage > 0 &&
                     size >= cfg.auto_aof_rewrite_min_size &&
                     size * 100 >= static_cast<uint64_t>(cfg.auto_aof_rewrite_percentage) *
                                       std::max<uint64_t>(base_size_, 1);
  if (!rewrite_scheduled_ && !base_pending_ && !grown) return;
  // After a failure, the automatic triggers wait a little before trying again.
  if (!rewrite_scheduled_ && !last_rewrite_ok_ &&
      WallClockMs() - last_rewrite_attempt_ms_ < kRetryAfterFailureMs) {
    return;
  }
  if (grown && !rewrite_scheduled_ && !base_pending_) {
    spdlog::info("append-only log of {} bytes has grown past its base; rewriting", size);
  }
  std::string error;
  StartLogRewrite(&error);
}

void Persistence::Cron() {
  // Records no reply has pushed out yet (CLIENT REPLY OFF, evictions).
  FlushLog();
  if (child_job_ != ChildJob::kNone) ReapChild();
  MaybeRewriteLog();
  if (child_job_ != ChildJob::kNone) return;
  if (bgsave_scheduled_) {
    std::string error;
    if (StartBackgroundSave(false, &error) == BackgroundStart::kFailed) spdlog::warn("{}", error);
    return;
  }
  const int64_t now = WallClockMs() / 1000;
  for (const config::Config::SavePoint& point : server_->config.save_points) {
    // After a failed save, wait a little before trying again, as Redis does.
    const bool retry_ok =
        last_bgsave_ok_ || now - last_save_attempt_unix_ >= kRetryAfterFailureMs / 1000;
    if (dirty_ >= static_cast<uint64_t>(point.changes) && dirty_ > 0 &&
        now - last_save_unix_ >= point.seconds && retry_ok) {
      spdlog::info("{} changes in {} seconds. Saving...", point.changes, point.seconds);
      std::string error;
      if (StartBackgroundSave(false, &error) == BackgroundStart::kFailed) {
        spdlog::warn("{}", error);
      }
      return;
    }
  }
}

bool Persistence::SaveOnShutdown(bool force, bool skip) {
  // A child's snapshot may predate the last writes; a fresh one follows. A
  // stopped rewrite leaves <log>.next, which the next start replays.
  StopChild();
  if (skip || (!force && server_->config.save_points.empty())) return true;
  spdlog::info("saving the final snapshot before exiting");
  std::string error;
  return Save(&error);
}

}  // namespace causalkv::command
