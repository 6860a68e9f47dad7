// ServerState: server-wide facts and counters that commands read or update
// (INFO, CLIENT LIST, SHUTDOWN, CONFIG). Owned by the server; plain data plus
// hooks, so the command layer never depends on libuv.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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
  uint64_t total_reads_processed = 0;   // socket reads that returned data
  uint64_t total_writes_processed = 0;  // socket writes that sent data
  uint64_t client_query_buffer_limit_disconnections = 0;
  uint64_t client_output_buffer_limit_disconnections = 0;
};

// Rates the server samples from its timer, as Redis's instantaneous_* fields.
struct InstantaneousMetrics {
  double ops_per_sec = 0;
  double input_kbps = 0;
  double output_kbps = 0;
};

// CLIENT PAUSE: until end_ms, the commands of every client (all) or only the
// writes wait, unexecuted. end_ms 0: no pause.
struct ClientPause {
  int64_t end_ms = 0;
  bool all = false;
};

struct ServerState {
  config::Config config;
  ServerStats stats;
  int64_t start_time_ms = 0;
  int pid = 0;
  int tcp_port = 0;  // the port actually listened on
  std::string executable;
  std::string run_id;  // 40 random hex digits, new at every start
  std::string supervised_by = "no";  // "systemd" or "upstart" when supervised
  uint64_t next_client_id = 1;
  // Every connected client, by id (CLIENT LIST order).
  std::map<uint64_t, ClientState*> clients;
  // CLIENT KILL of other clients: the server closes these once the current
  // command is done (the killer's own connection uses close_after_reply).
  std::vector<uint64_t> clients_to_close;
  ClientPause pause;
  // Kept by the server for INFO: clients waiting for a pause to end, the
  // largest buffers among the clients (sampled every second), and rates.
  size_t blocked_clients = 0;
  size_t recent_max_input_buffer = 0;
  size_t recent_max_output_buffer = 0;
  InstantaneousMetrics instantaneous;
  // A script (EVAL, FCALL) is running; it has run past busy-reply-threshold
  // (other clients then get -BUSY).
  bool script_running = false;
  bool script_timed_out = false;
  // A script past busy-reply-threshold was suspended (true) so that the
  // server serves others (-BUSY, SCRIPT KILL): until it is called with
  // false, the server calls Dispatcher::ContinueScript on every turn of its
  // loop, and runs no timer work (expiry, saves) and flushes no log record,
  // so that nothing sees half a script. May be empty (never suspended).
  std::function<void(bool suspended)> script_suspended;
  // Set by SHUTDOWN; the server stops after the current replies.
  bool shutdown_requested = false;
  // Called after CONFIG SET changed an option, so the server can apply it
  // (log level, parser limits). May be empty.
  std::function<void(const std::string& option)> on_config_changed;
  // Cluster: ends a client's wait (ClientState::cluster_wait, wait_seq).
  // For a held reply (seq > 0), `reply` takes its place in the client's
  // reply order. For a fetch (seq 0), `reply` is appended; with
  // `run_command` the command held back runs now, otherwise it is dropped
  // (its reply is `reply`). A client that disconnected meanwhile is ignored.
  std::function<void(uint64_t client_id, uint64_t seq, std::string reply, bool run_command)>
      resume_client;
  // Cluster: a read whose reply is held (seq) found that the replicas'
  // answers changed its keys: run it again (args, in database db) and let
  // the new reply take the held one's place.
  std::function<void(uint64_t client_id, uint64_t seq, std::vector<std::string> args, int db)>
      rerun_read;
  // Pub/sub: appends `bytes` (a message, in the client's protocol) to client
  // `client_id`'s output, after the replies queued so far. A client whose
  // output passes its limit is closed once the current command is done,
  // never during the call. May be empty (tests without a server).
  std::function<void(uint64_t client_id, std::string_view bytes)> push_to_client;
  // Cluster: this node's id (16 hex digits) for INFO; empty on a single node
  // before the identity is loaded.
  std::string node_id;
  // Cluster: when a peer last sent a state (PEER.MERGE), wall-clock ms.
  int64_t last_peer_merge_ms = 0;
  // Cluster: INFO's "# Peers" section, written by the coordinator.
  std::function<void(std::string* out)> peers_info;
};

}  // namespace causalkv::command
