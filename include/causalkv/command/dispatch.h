// Dispatcher: looks a command up in the table, checks arity and
// authentication, runs its handler and writes the reply.
//
// Thread-compatibility: loop thread only. Handlers never block.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"
#include "causalkv/resp/writer.h"
#include "causalkv/store/store.h"

namespace causalkv::command {

class CommandTable;

class Dispatcher {
 public:
  Dispatcher(ServerState* server, store::Store* store);
  ~Dispatcher();

  // Runs one command (args[0] is its name, any case) and appends its reply.
  // Inside MULTI, queues it instead. REQUIRES: !args.empty(); writer uses
  // client.protocol.
  void Dispatch(ClientState& client, std::span<const std::string_view> args,
                resp::Writer& writer);

  // Runs the commands queued by MULTI, writing EXEC's reply (used by EXEC).
  void ExecQueued(ClientState& client, resp::Writer& writer);

  // Forgets a client's transaction state (RESET, disconnect).
  static void DiscardTransaction(ClientState& client);

  // Pushes the config's eviction and max-siblings settings to the store
  // (at start and after CONFIG SET).
  void ApplyStoreSettings();
  // used_memory as eviction sees it: the store's exact bytes plus the rest of
  // the process's allocations, sampled at most once a second.
  size_t UsedMemory();

  // The fingerprint WATCH compares.
  KeyFingerprint Fingerprint(int db, std::string_view key);

 private:
  void DispatchCommand(ClientState& client, std::span<const std::string_view> args,
                       resp::Writer& writer);

  // Evicts until used memory is under maxmemory (bounded per call). False
  // when over the limit and nothing more can be evicted.
  bool EnforceMaxmemory();

  ServerState* server_;
  store::Store* store_;
  size_t memory_overhead_ = 0;
  int64_t overhead_sampled_ms_ = -1;
  std::unique_ptr<CommandTable> table_;
};

// Milliseconds since the Unix epoch (the clock commands and TTLs use).
int64_t WallClockMs();

}  // namespace causalkv::command
