// ClientState: what the command layer knows about one connection. The server
// owns it (inside its Connection) and keeps the I/O fields current.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace causalkv::command {

// What WATCH remembers of a key: every write that stores a value takes a new
// version, and every removal changes the sibling count or the existence, so
// an equal fingerprint at EXEC means the key was not modified.
struct KeyFingerprint {
  bool exists = false;
  uint64_t max_version = 0;
  uint32_t siblings = 0;
  int64_t expire_at_ms = -1;
  bool operator==(const KeyFingerprint&) const = default;
};

struct WatchedKey {
  int db = 0;
  std::string key;
  KeyFingerprint seen;
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
  // Kept current by the server, shown by CLIENT LIST.
  size_t query_buffer_bytes = 0;
  size_t output_buffer_bytes = 0;
  // MULTI: commands queued for EXEC (owned copies of their arguments), and
  // whether one failed to queue (EXEC then aborts).
  bool in_multi = false;
  bool multi_error = false;
  std::vector<std::vector<std::string>> queued;
  std::vector<WatchedKey> watched;
  // CLIENT REPLY OFF / SKIP.
  bool reply_off = false;
  bool skip_next_reply = false;
  // Set by a handler: the server closes the connection once the replies
  // written so far have been sent (QUIT, protocol errors).
  bool close_after_reply = false;
};

}  // namespace causalkv::command
