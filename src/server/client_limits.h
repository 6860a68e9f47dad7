// The server's admission and disconnection rules, as pure functions so that
// they can be tested without sockets: protected mode, maxclients, and the
// client output and query buffer limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "causalkv/config/config.h"

namespace causalkv::server {

// Redis's reply to a client refused by protected mode, sent before the
// connection is closed (the text Redis 7.0 sends, kept word for word:
// operators search for it).
extern const std::string_view kProtectedModeDenied;
inline constexpr std::string_view kMaxClientsReached = "-ERR max number of clients reached\r\n";

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104: what Redis treats as local.
bool IsLoopbackIp(std::string_view ip);

// Protected mode refuses a client when it is on, no password is set, and the
// client came over TCP from a non-loopback address. Unix socket clients are
// always local.
bool ProtectedModeRefuses(bool protected_mode, bool has_password, bool unix_socket,
                          std::string_view peer_ip);

// Whether a client holding `pending` bytes of unsent replies must be
// disconnected under `limit` at `now_ms`. *soft_since_ms is the client's
// state: when it went over the soft limit (-1 while under it); updated here.
bool OutputLimitReached(const config::OutputBufferLimit& limit, size_t pending, int64_t now_ms,
                        int64_t* soft_since_ms);

// Redis 7.2 caps the query buffer of a client that has not authenticated
// yet at 1 MB, whatever client-query-buffer-limit says.
inline constexpr size_t kUnauthenticatedQueryLimit = 1024 * 1024;

// Whether `query_bytes` (received and not executed, including what MULTI
// queued) exceeds what the client may hold.
bool QueryLimitReached(size_t query_bytes, uint64_t limit, bool authenticated);

}  // namespace causalkv::server
