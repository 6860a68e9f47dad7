#include "monitor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "slowlog.h"

namespace causalkv::command {
namespace {

// Redis's sdscatrepr: the argument between double quotes, with \\ \" \n \r
// \t \a \b escaped and other unprintable bytes as \xHH.
void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out->push_back(static_cast<char>(c));
        } else {
          char hex[5];
          std::snprintf(hex, sizeof hex, "\\x%02x", c);
          out->append(hex);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string MonitorLine(int64_t unix_us, int db, std::string_view origin, std::string_view name,
                        std::span<const std::string_view> args) {
  char head[64];
  std::snprintf(head, sizeof head, "+%lld.%06lld [%d ", static_cast<long long>(unix_us / 1000000),
                static_cast<long long>(unix_us % 1000000), db);
  std::string line = head;
  line.append(origin);
  line.push_back(']');
  const std::vector<bool> secret = SecretArgs(name, args);
  for (size_t i = 0; i < args.size(); ++i) {
    line.push_back(' ');
    AppendQuoted(&line, secret[i] ? std::string_view("(redacted)") : args[i]);
  }
  line.append("\r\n");
  return line;
}

void Monitors::Add(ClientState& client) {
  if (client.monitor) return;
  client.monitor = true;
  ids_.push_back(client.id);
}

void Monitors::Remove(ClientState& client) {
  if (!client.monitor) return;
  client.monitor = false;
  std::erase(ids_, client.id);
}

void Monitors::Feed(const ClientState& client, std::string_view name,
                    std::span<const std::string_view> args) {
  if (!server_->push_to_client) return;
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::string origin;
  if (client.in_script) {
    origin = "lua";
  } else if (client.unix_socket) {
    origin = "unix:" + server_->config.unixsocket;
  } else {
    origin = client.addr;
  }
  const std::string line = MonitorLine(now_us, client.db, origin, name, args);
  for (uint64_t id : ids_) server_->push_to_client(id, line);
}

}  // namespace causalkv::command
