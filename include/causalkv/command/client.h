// ClientState: what the command layer knows about one connection. The server
// owns it (inside its Connection) and keeps the I/O fields current.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::command {

class WatchRegistry;

// What WATCH remembers of a key: every write that stores a value takes a new
// version, every removal changes the sibling count or the existence, and
// every TTL change without a new version is counted (watch_registry.h), so
// an equal fingerprint at EXEC means the key was not modified.
struct KeyFingerprint {
  bool exists = false;
  uint64_t max_version = 0;
  uint32_t siblings = 0;
  int64_t expire_at_ms = -1;
  uint64_t ttl_changes = 0;
  bool operator==(const KeyFingerprint&) const = default;
};

struct WatchedKey {
  int db = 0;
  std::string key;
  KeyFingerprint seen;
};

// The keys one client WATCHes. Each is registered with the dispatcher's
// WatchRegistry while it is in the list: Clear and the destructor release
// them, so a client that disconnects leaves nothing registered. Holding the
// registry shared keeps that safe whatever is destroyed first.
class WatchList {
 public:
  WatchList() = default;
  WatchList(const WatchList&) = delete;
  WatchList& operator=(const WatchList&) = delete;
  ~WatchList() { Clear(); }

  bool Contains(int db, std::string_view key) const;
  // REQUIRES: !Contains(db, key); `seen` taken from the same registry.
  void Add(const std::shared_ptr<WatchRegistry>& registry, int db, std::string_view key,
           const KeyFingerprint& seen);
  void Clear();

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  std::vector<WatchedKey>::const_iterator begin() const { return keys_.begin(); }
  std::vector<WatchedKey>::const_iterator end() const { return keys_.end(); }

 private:
  std::shared_ptr<WatchRegistry> registry_;
  std::vector<WatchedKey> keys_;
};

// A client's buffers and socket as CLIENT LIST shows them (Redis's field
// names). The server fills it in; a client with no connection shows zeros.
struct ClientIo {
  size_t qbuf = 0;       // received, not yet executed
  size_t qbuf_free = 0;  // room left in the input buffer
  size_t argv_mem = 0;   // arguments of the command being run or waiting
  size_t rbs = 0;        // reply buffer capacity
  size_t rbp = 0;        // reply buffer peak, recent
  size_t obl = 0;        // unused: causalkv has no fixed reply buffer
  size_t oll = 0;        // reply buffers waiting to be sent
  size_t omem = 0;       // reply bytes waiting to be sent
  size_t tot_mem = 0;    // everything the connection holds
  bool reading = false;  // events=r
  bool writing = false;  // events=w
};

// Implemented by the server's connection; the command layer only reads it.
class ClientIoSource {
 public:
  virtual ClientIo Io() const = 0;

 protected:
  ~ClientIoSource() = default;
};

// CLIENT TRACKING's state of one client (command/tracking.h).
struct ClientTracking {
  bool on = false;
  bool bcast = false;
  bool optin = false;
  bool optout = false;
  bool noloop = false;
  // CLIENT CACHING YES (OPTIN) or NO (OPTOUT), for the next command only.
  bool caching = false;
  bool redirect_broken = false;  // its redirect client went away
  uint64_t redirect = 0;         // 0: none
  std::vector<std::string> prefixes;  // BCAST
};

struct ClientState {
  uint64_t id = 0;
  int db = 0;
  int protocol = 2;  // 2 or 3, switched by HELLO
  bool authenticated = false;
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  std::string addr;   // "ip:port" of the peer
  std::string laddr;  // "ip:port" of our end
  int fd = -1;
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  std::string last_command = "NULL";
  bool unix_socket = false;
  // The connection's buffers; nullptr for a client without one (tests).
  const ClientIoSource* io = nullptr;
  // Waiting for CLIENT PAUSE to end (flag "b"); set by the server.
  bool blocked = false;
  // Waiting in a blocking command (BLPOP ...) for a key (flag "b"); set by
  // the dispatcher (command/blocking.h).
  bool blocked_on_keys = false;
  // CLIENT KILL: the server closes it once the current command is done.
  bool close_asap = false;
  // MULTI: commands queued for EXEC (owned copies of their arguments), and
  // whether one failed to queue (EXEC then aborts).
  bool in_multi = false;
  bool multi_error = false;
  std::vector<std::vector<std::string>> queued;
  size_t queued_bytes = 0;  // argument bytes in `queued` (multi-mem)
  WatchList watched;
  // CLIENT REPLY OFF / SKIP.
  bool reply_off = false;
  bool skip_next_reply = false;
  // Set by a handler: the server closes the connection once the replies
  // written so far have been sent (QUIT, protocol errors).
  bool close_after_reply = false;
  // Cluster (command/replicator.h). `peer`: authenticated with peer-secret
  // (PEER.HELLO), so the peer commands are allowed and its writes are not
  // replicated again. `cluster_wait`: set by the dispatcher when this
  // client's reply (or its next command) waits for other replicas; the
  // server holds the client's later commands until ServerState::resume_client
  // is called for it. `wait_seq`: which wait (0: the command held before
  // running, waiting for a fetch; above 0: a reply held after running,
  // waiting for its write quorum, while the client's later commands run and
  // their replies queue behind it). `fetched`: the replicas' states for the
  // command about to run have been fetched. `quorum_override`: the W or R
  // given to the running command (VPUT ... W n), 0 for none.
  bool peer = false;
  bool cluster_wait = false;
  bool wait_is_read = false;  // the held reply is a read's, checked against R replicas
  uint64_t wait_seq = 0;
  uint64_t next_wait_seq = 1;
  bool fetched = false;
  // Set with cluster_wait by a script suspended past busy-reply-threshold:
  // unlike a quorum wait, the client's later commands wait too (the
  // client is inside its script, as in Redis).
  bool wait_stops_input = false;
  int quorum_override = 0;
  // Pub/sub (command/pubsub.h): what this client is subscribed to. Kept by
  // the dispatcher's PubSub, which registers each name under the client's
  // id; sorted, so UNSUBSCRIBE without arguments answers in a stable order.
  std::set<std::string, std::less<>> channels;
  std::set<std::string, std::less<>> patterns;
  std::set<std::string, std::less<>> shard_channels;
  // Subscribed to anything (Redis's CLIENT_PUBSUB): in RESP2 only the
  // subscription commands, PING, QUIT and RESET run, and the pubsub class
  // of client-output-buffer-limit applies.
  // (One load: it is checked for every command.)
  bool subscribed() const { return subscriptions != 0; }
  // channels + patterns + shard_channels sizes, kept by PubSub.
  uint32_t subscriptions = 0;
  ClientTracking tracking;
  // MONITOR: this client receives every command's line (command/monitor.h).
  bool monitor = false;
  // The client state a script's redis.call runs under (MONITOR shows it as
  // "lua").
  bool in_script = false;
  // A script flagged allow-oom: its writes run even over maxmemory.
  bool allow_oom = false;
};

// One CLIENT LIST line, with Redis's fields and their order (ends in "\n").
// Also used by the server's log lines about a client.
std::string DescribeClient(const ClientState& client, int64_t now_ms);

}  // namespace causalkv::command
