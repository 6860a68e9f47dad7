// The server's settings: defaults, the config file (redis.conf syntax), the
// command line (`causalkv-server [file] [--name value ...]`), and CONFIG GET/SET.
//
// Config is a plain value: the server keeps one and replaces fields only
// through SetOption(), which validates before changing anything.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::config {

enum class LogLevel { kDebug, kVerbose, kNotice, kWarning, kNothing };

// `supervised`: how the server tells a supervisor it is ready (Redis's values).
enum class Supervised { kNo, kUpstart, kSystemd, kAuto };

// The client classes of `client-output-buffer-limit`, in Redis's order. Only
// normal clients exist so far; the other limits are kept for CONFIG GET/SET
// and config files written for Redis.
enum ClientClass { kClientNormal = 0, kClientReplica = 1, kClientPubsub = 2, kClientClasses = 3 };

// A client is disconnected once its pending replies reach `hard_bytes`, or
// stay above `soft_bytes` for `soft_seconds`. 0 disables a limit.
struct OutputBufferLimit {
  uint64_t hard_bytes = 0;
  uint64_t soft_bytes = 0;
  int64_t soft_seconds = 0;
  bool operator==(const OutputBufferLimit&) const = default;
};

struct Config {
  int port = 6379;
  std::vector<std::string> bind = {"127.0.0.1", "-::1"};  // "-" prefix: skip if unavailable
  int tcp_backlog = 511;
  int databases = 16;
  LogLevel loglevel = LogLevel::kNotice;
  std::string logfile;  // empty: standard output
  std::string dir = "./";
  uint64_t proto_max_bulk_len = 512ull * 1024 * 1024;
  int hz = 10;
  std::string requirepass;  // empty: no password
  // Protection, client limits, running as a daemon and the slow log.
  bool protected_mode = true;  // no password: only loopback clients may connect
  std::string unixsocket;      // empty: no unix socket
  int unixsocketperm = 0;      // permission bits of the socket file; 0: umask's
  int64_t maxclients = 10000;
  int timeout = 0;         // seconds a client may stay idle; 0: forever
  int tcp_keepalive = 300;  // seconds between keepalive probes; 0: off
  std::array<OutputBufferLimit, kClientClasses> client_output_buffer_limit = {{
      {0, 0, 0},                                       // normal: unlimited, as Redis
      {256ull * 1024 * 1024, 64ull * 1024 * 1024, 60},  // replica
      {32ull * 1024 * 1024, 8ull * 1024 * 1024, 60},    // pubsub
  }};
  uint64_t client_query_buffer_limit = 1024ull * 1024 * 1024;
  bool daemonize = false;
  std::string pidfile;  // empty: none, unless daemonized (then kDefaultPidFile)
  Supervised supervised = Supervised::kNo;
  int64_t slowlog_log_slower_than = 10000;  // microseconds; -1: off; 0: every command
  // A script running longer (ms) makes other clients get -BUSY and can be
  // killed (SCRIPT KILL, FUNCTION KILL). Alias lua-time-limit.
  int64_t busy_reply_threshold = 5000;
  uint64_t slowlog_max_len = 128;
  // How far ahead of the last issued version the saved high-water mark is
  // pushed; larger means fewer disk syncs and bigger gaps after a restart.
  uint64_t version_reserve = 1'000'000;
  // Memory limit and eviction (0: no limit). The policy is kept by name and
  // validated against the store's list.
  uint64_t maxmemory = 0;
  std::string maxmemory_policy = "noeviction";
  int maxmemory_samples = 5;
  int lfu_log_factor = 10;
  int lfu_decay_time = 1;
  // CLIENT TRACKING: keys remembered for invalidation at most (0: no limit).
  uint64_t tracking_table_max_keys = 1'000'000;
  // A VPUT that would leave a key with more siblings than this is refused.
  int max_siblings = 64;
  // Collections: the sizes up to which a value keeps its compact encoding
  // (Redis's names and defaults; the older *-ziplist-* names are aliases).
  int64_t hash_max_listpack_entries = 512;
  int64_t hash_max_listpack_value = 64;
  int64_t set_max_intset_entries = 512;
  int64_t set_max_listpack_entries = 128;
  int64_t set_max_listpack_value = 64;
  int64_t zset_max_listpack_entries = 128;
  int64_t zset_max_listpack_value = 64;
  int64_t list_max_listpack_size = -2;
  int64_t list_compress_depth = 0;  // accepted; lists are not compressed
  // A stream node's limits (0: none), as Redis's stream-node-max-*.
  uint64_t stream_node_max_bytes = 4096;
  int64_t stream_node_max_entries = 100;
  // A HyperLogLog's sparse form is promoted to dense when it would grow
  // past this many bytes, header included (Redis's name and default).
  uint64_t hll_sparse_max_bytes = 3000;
  // notify-keyspace-events as a set of NotifyClass bits (0: off).
  uint32_t notify_keyspace_events = 0;
  // Snapshots: automatic save points (after `seconds` if at least `changes`
  // writes happened; none by default, as a cache), the file name in `dir`,
  // and whether a corrupt snapshot is set aside (true) or stops the start.
  struct SavePoint {
    int64_t seconds;
    int64_t changes;
    bool operator==(const SavePoint&) const = default;
  };
  std::vector<SavePoint> save_points;
  std::string dbfilename = "dump.ckv";
  bool start_empty_on_corrupt_snapshot = false;
  // Append-only log (persist/aof.h).
  bool appendonly = false;
  std::string appendfilename = "appendonly.ckv";
  std::string appendfsync = "everysec";  // always | everysec | no
  bool aof_load_truncated = true;
  int auto_aof_rewrite_percentage = 100;
  uint64_t auto_aof_rewrite_min_size = 64ull << 20;
  // Cluster (leaderless replication). No peers: a single node, as before.
  // Each peer is "host:port" or "[ipv6]:port"; every node lists all others.
  std::vector<std::string> peers;
  std::string peer_secret;  // required when peers is set (ValidateCluster)
  // 0: a majority of ClusterSize(); see EffectiveWriteQuorum/EffectiveReadQuorum.
  int write_quorum = 0;
  int read_quorum = 0;
  // A peer that has not answered within this time counts as not answering.
  int64_t peer_timeout_ms = 1000;
  // Time between two anti-entropy rounds with each peer.
  int64_t anti_entropy_interval_ms = 10'000;
  // A tombstone is kept at least this long after every replica holds it.
  int64_t tombstone_grace_ms = 3'600'000;
  // An expired key's state is kept at least this long after its TTL, until
  // every replica holds it (store/keyspace.h).
  int64_t expired_grace_ms = 10'000;
  // Memory for writes queued for unreachable peers (hints); 0: keep none.
  uint64_t hints_max_memory = 64ull << 20;
  std::string config_file;  // absolute path of the file loaded; empty if none
};

// Result of reading the command line. kCheckConfig: `--check-config FILE`
// found nothing wrong; the caller reports success instead of starting.
enum class LoadResult { kRun, kHelp, kVersion, kCheckConfig, kError };

// Parses argv: an optional config file path first, then `--name value...`
// pairs that override it (as redis-server does). `--check-config FILE
// [--name value...]` reads the same way (the file is then required) and
// returns kCheckConfig instead of kRun. On kError, *error holds a message
// naming the option and, for file errors, the file and line number, in
// Redis's format under a "*** FATAL CONFIG FILE ERROR (causalkv <version>)
// ***" header; a check and a start print the same message for one file.
LoadResult LoadFromArgs(int argc, const char* const* argv, Config* out, std::string* error);

// Applies the config file text (redis.conf syntax: one directive per line,
// `#` comments, quoted arguments). `source` names it in error messages.
bool LoadFromText(std::string_view text, std::string_view source, Config* out, std::string* error);

// One directive, e.g. ("port", {"7000"}). `runtime` is true for CONFIG SET,
// which refuses options that cannot change while running, and quorums above
// ClusterSize() (at startup `peers` may still follow, so ValidateCluster()
// checks them then). Nothing changes on error.
bool SetOption(Config* cfg, std::string_view name, const std::vector<std::string>& values,
               bool runtime, std::string* error);

// Names of every supported option, in a stable order.
const std::vector<std::string>& OptionNames();

// The value as CONFIG GET shows it (e.g. bind "127.0.0.1 -::1", memory in bytes,
// write-quorum and read-quorum as the effective number, never 0).
// Returns false for an unknown name.
bool GetOption(const Config& cfg, std::string_view name, std::string* value);

std::string_view LogLevelName(LogLevel level);

// Where a daemonized server writes its pid when `pidfile` is not set.
inline constexpr const char* kDefaultPidFile = "/var/run/causalkv.pid";

// CONFIG REWRITE: the text of a config file that was `old_text`, updated to
// `cfg` the way Redis does it: the first line of each known directive is
// rewritten in place (later repeats are dropped), comments, blank lines and
// anything else are kept, and options that differ from their default but had
// no line are appended at the end. Memory sizes are written with units.
// Quorums are written as configured, so 0 stays "a majority" if peers change.
std::string RewriteConfigText(const Config& cfg, std::string_view old_text);

// Rewrites cfg.config_file with RewriteConfigText(), atomically (a temporary
// file in the same directory, synced, then renamed over the original, with
// the original's permissions). On failure *error says why and the file is
// unchanged.
bool RewriteConfigFile(const Config& cfg, std::string* error);

// The number of nodes holding every key: the peers plus this node.
int ClusterSize(const Config& cfg);

// The quorums a request uses when it names none: the configured value, or a
// majority of ClusterSize() (N/2+1) when it is 0. Only a config that passed
// ValidateCluster() is guaranteed to give a value in 1..ClusterSize().
int EffectiveWriteQuorum(const Config& cfg);
int EffectiveReadQuorum(const Config& cfg);

// Checks what no single option can check alone, because `peers` may come
// after the quorums in a file: both quorums are at most ClusterSize(), and a
// node with peers has a peer-secret. LoadFromArgs() calls it once, after the
// file and the flags, and fails with kError; CONFIG SET needs no call, since
// peers and peer-secret cannot change at runtime and SetOption() bounds the
// quorums itself. Returns false with a message saying what to fix in *error.
bool ValidateCluster(const Config& cfg, std::string* error);

// Parses "100", "1k", "1kb", "5mb", "2gb" (Redis units: k=1000, kb=1024 ...).
bool ParseMemory(std::string_view text, uint64_t* bytes);

// notify-keyspace-events: which keyspace notifications are published. The
// letters and bits of Redis (K E g $ l s h z x e t m d n, A for g$lshzxetd),
// plus causalkv's own: v (VPUT/VDEL events) and c (the `sibling` conflict
// event), which A leaves out so that Redis's "KEA" means Redis's events.
// The bits are internal (never stored); only the letters are an interface.
enum NotifyClass : uint32_t {
  kNotifyKeyspace = 1u << 0,   // K: __keyspace@<db>__:<key> channels
  kNotifyKeyevent = 1u << 1,   // E: __keyevent@<db>__:<event> channels
  kNotifyGeneric = 1u << 2,    // g
  kNotifyString = 1u << 3,     // $
  kNotifyList = 1u << 4,       // l
  kNotifySet = 1u << 5,        // s
  kNotifyHash = 1u << 6,       // h
  kNotifyZset = 1u << 7,       // z
  kNotifyExpired = 1u << 8,    // x
  kNotifyEvicted = 1u << 9,    // e
  kNotifyStream = 1u << 10,    // t
  kNotifyKeyMiss = 1u << 11,   // m
  kNotifyModule = 1u << 12,    // d (accepted; nothing emits it)
  kNotifyNew = 1u << 13,       // n
  kNotifyVersioned = 1u << 14, // v (causalkv)
  kNotifyConflict = 1u << 15,  // c (causalkv)
  kNotifyAll = kNotifyGeneric | kNotifyString | kNotifyList | kNotifySet | kNotifyHash |
               kNotifyZset | kNotifyExpired | kNotifyEvicted | kNotifyStream | kNotifyModule,
};

// The letters in any order and repeated; false on any other character (the
// empty string is valid: no notifications).
bool ParseNotifyKeyspaceEvents(std::string_view text, uint32_t* flags);
// The normal form CONFIG GET shows, as Redis writes it: "A" for all of
// g$lshzxetd (then n is not shown, as in Redis) or else the class letters in
// the order g$lshzxetdn, then causalkv's v and c, then K, E and m. So "KEA"
// reads back "AKE" and "Ex" as "xE".
std::string NotifyKeyspaceEventsString(uint32_t flags);

}  // namespace causalkv::config
