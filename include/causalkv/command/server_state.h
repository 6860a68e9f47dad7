// ServerState: server-wide facts and counters that commands read or update
// (INFO, CLIENT LIST, SHUTDOWN, CONFIG). Owned by the server; plain data plus
// hooks, so the command layer never depends on libuv.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "causalkv/command/client.h"
#include "causalkv/config/config.h"

namespace causalkv::command {

struct ServerStats {
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;
  uint64_t total_net_input_bytes = 0;
  uint64_t total_net_output_bytes = 0;
  uint64_t rejected_connections = 0;
  uint64_t total_error_replies = 0;
};

struct ServerState {
  config::Config config;
  ServerStats stats;
  int64_t start_time_ms = 0;
  int pid = 0;
  int tcp_port = 0;  // the port actually listened on
  std::string executable;
  uint64_t next_client_id = 1;
  // Every connected client, by id (CLIENT LIST order).
  std::map<uint64_t, ClientState*> clients;
  // Set by SHUTDOWN; the server stops after the current replies.
  bool shutdown_requested = false;
  // Called after CONFIG SET changed an option, so the server can apply it
  // (log level, parser limits). May be empty.
  std::function<void(const std::string& option)> on_config_changed;
};

}  // namespace causalkv::command
