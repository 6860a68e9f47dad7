// The server's settings: defaults, the config file (redis.conf syntax), the
// command line (`causalkv-server [file] [--name value ...]`), and CONFIG GET/SET.
//
// Config is a plain value: the server keeps one and replaces fields only
// through SetOption(), which validates before changing anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::config {

enum class LogLevel { kDebug, kVerbose, kNotice, kWarning, kNothing };

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
  // A VPUT that would leave a key with more siblings than this is refused.
  int max_siblings = 64;
  std::string config_file;  // absolute path of the file loaded; empty if none
};

// Result of reading the command line.
enum class LoadResult { kRun, kHelp, kVersion, kError };

// Parses argv: an optional config file path first, then `--name value...`
// pairs that override it (as redis-server does). On kError, *error holds a
// message naming the option and, for file errors, the file and line number.
LoadResult LoadFromArgs(int argc, const char* const* argv, Config* out, std::string* error);

// Applies the config file text (redis.conf syntax: one directive per line,
// `#` comments, quoted arguments). `source` names it in error messages.
bool LoadFromText(std::string_view text, std::string_view source, Config* out, std::string* error);

// One directive, e.g. ("port", {"7000"}). `runtime` is true for CONFIG SET,
// which refuses options that cannot change while running. Nothing changes on error.
bool SetOption(Config* cfg, std::string_view name, const std::vector<std::string>& values,
               bool runtime, std::string* error);

// Names of every supported option, in a stable order.
const std::vector<std::string>& OptionNames();

// The value as CONFIG GET shows it (e.g. bind "127.0.0.1 -::1", memory in bytes).
// Returns false for an unknown name.
bool GetOption(const Config& cfg, std::string_view name, std::string* value);

std::string_view LogLevelName(LogLevel level);

// Parses "100", "1k", "1kb", "5mb", "2gb" (Redis units: k=1000, kb=1024 ...).
bool ParseMemory(std::string_view text, uint64_t* bytes);

}  // namespace causalkv::config
