#include "client_limits.h"

namespace causalkv::server {

const std::string_view kProtectedModeDenied =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start accepting connections from "
    "the outside.\r\n";

bool IsLoopbackIp(std::string_view ip) {
  if (ip.starts_with("::ffff:")) ip.remove_prefix(7);
  return ip.starts_with("127.") || ip == "::1";
}

bool ProtectedModeRefuses(bool protected_mode, bool has_password, bool unix_socket,
                          std::string_view peer_ip) {
  return protected_mode && !has_password && !unix_socket && !IsLoopbackIp(peer_ip);
}

bool OutputLimitReached(const config::OutputBufferLimit& limit, size_t pending, int64_t now_ms,
                        int64_t* soft_since_ms) {
  if (limit.hard_bytes != 0 && pending >= limit.hard_bytes) return true;
  if (limit.soft_bytes == 0 || pending < limit.soft_bytes) {
    *soft_since_ms = -1;
    return false;
  }
  if (*soft_since_ms < 0) *soft_since_ms = now_ms;
  return now_ms - *soft_since_ms >= limit.soft_seconds * 1000;
}

bool QueryLimitReached(size_t query_bytes, uint64_t limit, bool authenticated) {
  if (query_bytes > limit) return true;
  return !authenticated && query_bytes > kUnauthenticatedQueryLimit;
}

}  // namespace causalkv::server
