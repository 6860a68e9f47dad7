// Server: the libuv loop, the TCP and unix socket listeners, every
// connection and the limits on them (maxclients, protected mode, idle
// timeout, CLIENT PAUSE and KILL), the periodic tasks (active expiry,
// rehash, INFO's samples), log reopening on SIGHUP, and graceful shutdown on
// SIGINT/SIGTERM or SHUTDOWN.
//
// One loop thread runs everything; the only other thread is libuv's pool,
// which persists the version high-water mark off the loop.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "causalkv/cluster/coordinator.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/command/server_state.h"
#include "causalkv/config/config.h"
#include "causalkv/persist/high_water_mark.h"
#include "causalkv/resp/parser.h"

namespace causalkv::server {

class Connection;

// How the process was started, for the readiness report and the pid file.
struct Launch {
  bool daemonized = false;  // forked into the background (daemonize yes)
  int ready_fd = -1;        // the waiting parent's pipe, when daemonized
  config::Supervised supervised = config::Supervised::kNo;  // as resolved
};

class Server {
 public:
  explicit Server(config::Config config, Launch launch = {});
  ~Server();

  // Binds, loads the high-water mark and runs until shut down. Returns the
  // process exit code (0 after a clean shutdown).
  int Run();

  // Used by connections.
  command::Dispatcher& dispatcher() { return *dispatcher_; }
  command::ServerState& state() { return state_; }
  uv_loop_t* loop() { return &loop_; }
  // Counts loop iterations (each prepare phase), for per-iteration budgets.
  uint64_t loop_turn() const { return loop_turn_; }
  void AddPendingWrite(Connection* conn) { pending_writes_.push_back(conn); }
  // Before any reply leaves: writes what the commands since the last call
  // logged to the append-only log (and with appendfsync always, fsyncs it),
  // so an acknowledged write is in the log. One write and one fsync cover
  // every command of a loop iteration (group commit, as Redis's beforeSleep).
  void FlushAppendLog();
  // A connection whose next command waits for CLIENT PAUSE to end.
  void AddBlocked(Connection* conn);
  void OnConnectionClosed(Connection* conn);
  // After each command: closes the clients CLIENT KILL named, and starts a
  // shutdown SHUTDOWN asked for.
  void AfterCommand();
  void RequestShutdown();
  resp::ParserLimits parser_limits() const;

 private:
  bool Listen();
  bool ListenTcp();
  bool ListenUnix();
  void Accept(uv_stream_t* listener);
  // Socket options and the client's addresses (addr, laddr, fd); returns
  // the peer's IP ("" for a unix socket), for protected mode.
  std::string SetupSocket(Connection* conn);
  // Sends `reply` (best effort) and closes a connection that was refused.
  void Refuse(Connection* conn, std::string_view reply);
  // Raises RLIMIT_NOFILE for maxclients; when that is impossible, lowers
  // maxclients (`reduce`, at startup) or warns (CONFIG SET).
  void AdjustOpenFilesLimit(bool reduce);
  void AnnounceReady();
  void RemoveFilesAtExit();
  // The node id (persist/node_identity.h) and, with peers, the cluster:
  // causal mode for the store and the coordinator. Before any data loads.
  bool SetupIdentity();
  bool SetupVersionCounter();
  void RaiseMarkAsync(uint64_t mark);
  void ApplyConfigChange(const std::string& option);
  void FlushPending();
  void Cron();
  void ClientsCron(int64_t wall_ms);
  void SampleMetrics();
  void ResumeBlocked();
  void CloseEverything();
  void MaybeFinishShutdown();
  // At a clean exit: marks the node id file clean when the files hold
  // every write (see persist/node_identity.h).
  void MarkCleanStop();
  static constexpr uint64_t kShutdownGraceMs = 5000;

  static void OnConnection(uv_stream_t* listener, int status);
  static void OnPrepare(uv_prepare_t* handle);
  static void OnTimer(uv_timer_t* handle);
  static void OnSignal(uv_signal_t* handle, int signum);
  static void OnSighup(uv_signal_t* handle, int signum);

  uv_loop_t loop_;
  command::ServerState state_;
  std::unique_ptr<command::Dispatcher> dispatcher_;
  std::unique_ptr<persist::HighWaterMark> hwm_;
  uint64_t node_id_ = 0;
  std::unique_ptr<cluster::LocalStore> cluster_store_;
  std::unique_ptr<cluster::Coordinator> coordinator_;
  std::vector<std::unique_ptr<uv_tcp_t>> listeners_;
  std::unique_ptr<uv_pipe_t> unix_listener_;
  Launch launch_;
  std::string pidfile_;  // written at start, removed at exit; empty: none
  uv_prepare_t prepare_;
  // Keeps the loop from blocking in poll while replies produced during the
  // prepare phase (a client resumed there) still wait to be flushed.
  uv_idle_t idle_;
  // While a script is suspended past busy-reply-threshold: runs its next
  // slice on every turn of the loop (ServerState::script_suspended).
  uv_idle_t script_idle_;
  uv_timer_t timer_;
  // Fires at the earliest deadline of a client in a blocking command.
  uv_timer_t block_timer_;
  int64_t block_timer_at_ms_ = 0;  // when it is due (0: not armed)
  void ArmBlockTimer();
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  uv_signal_t sighup_;
  std::vector<Connection*> pending_writes_;
  uint64_t loop_turn_ = 1;
  std::vector<Connection*> blocked_;  // waiting for CLIENT PAUSE to end
  // INFO's instantaneous_* rates, sampled every 100 ms as Redis does.
  struct RateSampler {
    int64_t last_ms = -1;
    uint64_t last_value = 0;
    double samples[16] = {};
    size_t next = 0;
    double Track(int64_t now_ms, uint64_t value);
  };
  RateSampler ops_rate_, input_rate_, output_rate_;
  int64_t last_sample_ms_ = 0;
  std::unordered_map<uint64_t, Connection*> connections_;
  bool shutting_down_ = false;
  // SIGTERM/SIGINT arrived while a script was suspended: the final save and
  // the shutdown wait for it to end (a snapshot must not hold half of it).
  bool signal_shutdown_pending_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
};

// Applies the config's loglevel/logfile to spdlog's default logger.
bool SetupLogging(const config::Config& config, std::string* error);
void ApplyLogLevel(config::LogLevel level);
// Reopens the log file (SIGHUP, for log rotation); a no-op when logging to
// standard output.
void ReopenLogFile();

}  // namespace causalkv::server
