// Server: the libuv loop, the TCP listeners, every connection, the periodic
// tasks (active expiry, rehash) and graceful shutdown on SIGINT/SIGTERM or
// SHUTDOWN.
//
// One loop thread runs everything; the only other thread is libuv's pool,
// which persists the version high-water mark off the loop.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "causalkv/command/dispatch.h"
#include "causalkv/command/server_state.h"
#include "causalkv/config/config.h"
#include "causalkv/persist/high_water_mark.h"
#include "causalkv/resp/parser.h"
#include "causalkv/store/store.h"

namespace causalkv::server {

class Connection;

class Server {
 public:
  explicit Server(config::Config config);
  ~Server();

  // Binds, loads the high-water mark and runs until shut down. Returns the
  // process exit code (0 after a clean shutdown).
  int Run();

  // Used by connections.
  command::Dispatcher& dispatcher() { return *dispatcher_; }
  command::ServerState& state() { return state_; }
  uv_loop_t* loop() { return &loop_; }
  void AddPendingWrite(Connection* conn) { pending_writes_.push_back(conn); }
  void OnConnectionClosed(Connection* conn);
  void RequestShutdown();
  resp::ParserLimits parser_limits() const;

 private:
  bool Listen();
  bool SetupVersionCounter();
  void RaiseMarkAsync(uint64_t mark);
  void ApplyConfigChange(const std::string& option);
  void FlushPending();
  void Cron();
  void CloseEverything();
  void MaybeFinishShutdown();
  static constexpr uint64_t kShutdownGraceMs = 5000;

  static void OnConnection(uv_stream_t* listener, int status);
  static void OnPrepare(uv_prepare_t* handle);
  static void OnTimer(uv_timer_t* handle);
  static void OnSignal(uv_signal_t* handle, int signum);

  uv_loop_t loop_;
  command::ServerState state_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<command::Dispatcher> dispatcher_;
  std::unique_ptr<persist::HighWaterMark> hwm_;
  std::vector<std::unique_ptr<uv_tcp_t>> listeners_;
  uv_prepare_t prepare_;
  uv_timer_t timer_;
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  std::vector<Connection*> pending_writes_;
  std::unordered_map<uint64_t, Connection*> connections_;
  bool shutting_down_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
};

// Applies the config's loglevel/logfile to spdlog's default logger.
bool SetupLogging(const config::Config& config, std::string* error);
void ApplyLogLevel(config::LogLevel level);

}  // namespace causalkv::server
