#include "slowlog.h"

#include <algorithm>
#include <utility>

#include "args.h"

namespace causalkv::command {
namespace {

// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
constexpr size_t kMaxArgs = 32;
constexpr size_t kMaxArgBytes = 128;
constexpr std::string_view kRedacted = "(redacted)";

}  // namespace

std::vector<bool> SecretArgs(std::string_view command, std::span<const std::string_view> args) {
  std::vector<bool> secret(args.size(), false);
  if (command == "auth") {
    for (size_t i = 1; i < args.size(); ++i) secret[i] = true;
  } else if (command == "hello") {
    // HELLO [protover [AUTH username password] [SETNAME clientname]]
    for (size_t i = 2; i < args.size(); ++i) {
      const size_t left = args.size() - i - 1;
      if (EqualsIgnoreCase(args[i], "auth") && left >= 2) {
        secret[i + 1] = secret[i + 2] = true;
        i += 2;
      } else if (EqualsIgnoreCase(args[i], "setname") && left >= 1) {
        ++i;
      }
    }
  } else if (command == "config|set") {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (EqualsIgnoreCase(args[i], "requirepass")) secret[i + 1] = true;
    }
  }
  return secret;
}

void SlowLog::Push(SlowLogEntry entry, uint64_t max_len) {
  entry.id = next_id_++;
  entries_.push_front(std::move(entry));
  while (entries_.size() > max_len) entries_.pop_back();
}

std::vector<std::string> SlowLogArgs(std::string_view command,
                                     std::span<const std::string_view> args) {
  const std::vector<bool> secret = SecretArgs(command, args);
  const size_t shown = std::min(args.size(), kMaxArgs);
  std::vector<std::string> out;
  out.reserve(shown);
  for (size_t i = 0; i < shown; ++i) {
    if (i == kMaxArgs - 1 && args.size() > kMaxArgs) {
      out.push_back("... (" + std::to_string(args.size() - kMaxArgs + 1) + " more arguments)");
    } else if (secret[i]) {
      out.emplace_back(kRedacted);
    } else if (args[i].size() > kMaxArgBytes) {
      out.push_back(std::string(args[i].substr(0, kMaxArgBytes)) + "... (" +
                    std::to_string(args[i].size() - kMaxArgBytes) + " more bytes)");
    } else {
      out.emplace_back(args[i]);
    }
  }
  return out;
}

}  // namespace causalkv::command
