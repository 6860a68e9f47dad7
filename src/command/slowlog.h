// SlowLog: the most recent commands that ran for at least
// slowlog-log-slower-than microseconds, newest first, with Redis's entry
// shape (SLOWLOG GET): id, unix time, duration, arguments, client address
// and name.
//
// Thread-compatibility: loop thread only (owned by the Dispatcher).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::command {

struct SlowLogEntry {
  uint64_t id = 0;
  int64_t unix_time_s = 0;
  int64_t duration_us = 0;
  std::vector<std::string> args;  // as SlowLogArgs() shapes them
  std::string client_addr;
  std::string client_name;
};

class SlowLog {
 public:
  // Adds `entry` (its id is assigned here) and drops the oldest entries
  // beyond `max_len`.
  void Push(SlowLogEntry entry, uint64_t max_len);
  // Empties the log; ids keep increasing, as in Redis.
  void Reset() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  // Newest first.
  const std::deque<SlowLogEntry>& entries() const { return entries_; }

 private:
  std::deque<SlowLogEntry> entries_;
  uint64_t next_id_ = 0;
};

// Which of a command's arguments hold a secret, as Redis redacts them in
// SLOWLOG and MONITOR: AUTH's arguments, HELLO's AUTH pair and the value of
// CONFIG SET requirepass. `command` is the spec's name ("auth", "config|set").
std::vector<bool> SecretArgs(std::string_view command, std::span<const std::string_view> args);

// The arguments as Redis logs them: at most 32 (the 32nd then says how many
// more there were), each cut at 128 bytes (with how many more there were),
// and secrets replaced by "(redacted)": AUTH's arguments, HELLO's AUTH pair
// and the value of CONFIG SET requirepass. `command` is the spec's name
// ("auth", "config|set").
std::vector<std::string> SlowLogArgs(std::string_view command,
                                     std::span<const std::string_view> args);

}  // namespace causalkv::command
