// MONITOR: every command the server runs, as one line per command in
// Redis's format, sent to the clients that asked for it:
//   +<unix seconds>.<microseconds> [<db> <origin>] "arg" "arg" ...
// where <origin> is the client's ip:port, "unix:<socket path>", or "lua"
// for a command a script called. Arguments are quoted as Redis's
// sdscatrepr does, and secrets are "(redacted)" (slowlog.h SecretArgs).
//
// Which commands, as Redis 7.2: not the admin commands (CONFIG, DEBUG,
// MONITOR ...), not those refused before running (unknown, wrong arity,
// NOAUTH); EXEC's commands one by one and then EXEC; EVAL/FCALL before the
// commands their script runs.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"

namespace causalkv::command {

class Monitors {
 public:
  explicit Monitors(ServerState* server) : server_(server) {}

  bool empty() const { return ids_.empty(); }
  // MONITOR: `client` receives every later command (its own included).
  void Add(ClientState& client);
  // RESET, disconnect.
  void Remove(ClientState& client);

  // Sends the line of a command that ran: `name` is its spec's name
  // ("auth", "config|set") for redaction, `args` as the client sent them.
  void Feed(const ClientState& client, std::string_view name,
            std::span<const std::string_view> args);

 private:
  ServerState* server_;
  std::vector<uint64_t> ids_;
};

// One MONITOR line (with its "+" and "\r\n"): exposed for tests.
std::string MonitorLine(int64_t unix_us, int db, std::string_view origin, std::string_view name,
                        std::span<const std::string_view> args);

}  // namespace causalkv::command
