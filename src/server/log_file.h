// LogFile: the spdlog sink behind `logfile`, which the server reopens on
// SIGHUP. Log rotation (logrotate's default "create" mode) renames the file
// and sends SIGHUP; the reopen then starts a new file at the configured path
// while nothing is lost: lines before the reopen went to the renamed file.
//
// Thread-safety: safe from any thread (spdlog's sink mutex).
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace causalkv::server {

class LogFile final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Opens `path` for appending; throws spdlog::spdlog_ex when it cannot.
  explicit LogFile(std::string path);
  ~LogFile() override;

  // Closes the file and opens `path` again (creating it). On failure keeps
  // logging to the old file and returns false with *error set.
  bool Reopen(std::string* error);

 private:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace causalkv::server
