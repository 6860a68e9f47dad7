// Tracking: client-side caching (CLIENT TRACKING), as Redis 7.2 has it.
//
// Default mode: the keys a tracking client reads are remembered in a table
// (key -> ids of the clients that may cache it; databases are not told
// apart, as in Redis). The first change of such a key sends each of those
// clients an invalidation and forgets the key, until it is read again.
// BCAST mode: nothing is remembered per key; every change of a key under one
// of the client's prefixes is sent, batched once per loop iteration.
// OPTIN / OPTOUT: a read is remembered only after CLIENT CACHING YES /
// unless after CLIENT CACHING NO. NOLOOP: a client is not told of its own
// changes.
//
// Invalidations go to the client itself in RESP3 (a push frame), or to its
// REDIRECT client: a push in RESP3, a message on __redis__:invalidate in
// RESP2 when that client is subscribed to it. A RESP2 client without a
// redirect receives nothing, as in Redis. A redirect client that is gone is
// reported in place of each invalidation (tracking-redir-broken, RESP3).
//
// Invalidations raised while a command runs are sent after the command's
// reply (EXEC's and scripts' included): Flush(), called by the dispatcher.
// The table is bounded by tracking-table-max-keys: past it, keys are
// forgotten (their clients invalidated) as they are added.
//
// Invariants: a key is in the table only with at least one client id; the
// per-prefix lists name only clients in BCAST mode that hold that prefix;
// a client that stops tracking or disconnects is in no list.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"

namespace causalkv::command {

class Tracking {
 public:
  explicit Tracking(ServerState* server) : server_(server) {}

  // True when any client tracks: the dispatcher's write path skips all of
  // this otherwise.
  bool active() const { return tracking_clients_ != 0; }

  struct Options {
    uint64_t redirect = 0;  // 0: none
    bool bcast = false;
    bool optin = false;
    bool optout = false;
    bool noloop = false;
    std::vector<std::string> prefixes;
  };
  // CLIENT TRACKING ON (options validated by the caller, Redis's rules):
  // turns tracking on, or changes its options when already on (adding
  // prefixes). *error is set (and nothing changes) when a prefix overlaps
  // one the client has.
  bool Enable(ClientState& client, const Options& options, std::string* error);
  // CLIENT TRACKING OFF, RESET, disconnect.
  void Disable(ClientState& client);

  // A read-only command of `client` read `keys`: remembered if the client
  // tracks in default mode and its OPTIN/OPTOUT state allows.
  void RememberKeys(ClientState& client, const std::vector<std::string_view>& keys);
  // `key` changed (`by`: the client that changed it, 0 for none: expiry,
  // eviction, a peer).
  void KeyChanged(std::string_view key, uint64_t by);
  // FLUSHALL / FLUSHDB: every tracking client is told to drop everything.
  void Flushed();
  // Sends what waited for the end of the current command, and the BCAST
  // batches (before the loop sleeps). Inline: it runs after every command
  // and almost never has anything to do.
  void Flush() {
    if (pending_bcast_ || !deferred_.empty()) FlushPending();
  }

  size_t tracked_keys() const { return table_.size(); }
  size_t tracked_items() const { return items_; }
  size_t prefixes() const { return prefixes_.size(); }
  size_t tracking_clients() const { return tracking_clients_; }

 private:
  struct Prefix {
    std::vector<uint64_t> clients;
    // Keys changed since the last batch, with who changed each (NOLOOP).
    std::vector<std::pair<std::string, uint64_t>> pending;
  };
  // Sends an invalidation of `keys` (nullptr: of everything) to what
  // `client` redirects to.
  void Send(ClientState& client, const std::vector<std::string_view>* keys);
  void Deliver(uint64_t id, std::string bytes);
  void FlushPending();
  // Tells the clients that remembered `key` (default mode) and forgets it.
  void InvalidateRemembered(std::string_view key, uint64_t by);
  void EnforceLimit();

  ServerState* server_;
  std::unordered_map<std::string, std::vector<uint64_t>> table_;
  size_t items_ = 0;
  std::map<std::string, Prefix, std::less<>> prefixes_;
  size_t tracking_clients_ = 0;
  bool pending_bcast_ = false;
  // Invalidations for after the current command: (client id, frame).
  std::vector<std::pair<uint64_t, std::string>> deferred_;
};

}  // namespace causalkv::command
