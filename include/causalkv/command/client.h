// ClientState: what the command layer knows about one connection. The server
// owns it (inside its Connection) and keeps the I/O fields current.
#pragma once

#include <cstdint>
#include <string>

namespace causalkv::command {

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
  // Set by a handler: the server closes the connection once the replies
  // written so far have been sent (QUIT, protocol errors).
  bool close_after_reply = false;
};

}  // namespace causalkv::command
