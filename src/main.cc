// causalkv-server [/path/to/causalkv.conf] [--option value ...]
// causalkv-server --check-config /path/to/causalkv.conf [--option value ...]
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "causalkv/config/config.h"
#include "server/daemon.h"
#include "server/server.h"

#ifndef CAUSALKV_VERSION
#define CAUSALKV_VERSION "0.0.0"
#endif

namespace {

void PrintUsage() {
  std::printf(
      "Usage: causalkv-server [/path/to/causalkv.conf] [options]\n"
      "       causalkv-server --check-config /path/to/causalkv.conf [options]\n"
      "       causalkv-server -v or --version\n"
      "       causalkv-server -h or --help\n\n"
      "Options are the config file's directives with '--' in front, applied after\n"
      "the file, e.g.:\n"
      "       causalkv-server --port 7777\n"
      "       causalkv-server conf/causalkv.conf --loglevel verbose --dir /var/lib/causalkv\n"
      "       causalkv-server --bind 127.0.0.1 ::1\n");
}

}  // namespace

int main(int argc, char** argv) {
  causalkv::config::Config config;
  std::string error;
  switch (causalkv::config::LoadFromArgs(argc, argv, &config, &error)) {
    case causalkv::config::LoadResult::kHelp:
      PrintUsage();
      return 0;
    case causalkv::config::LoadResult::kVersion:
      std::printf("causalkv server v=%s (Redis protocol compatible with 7.2)\n", CAUSALKV_VERSION);
      return 0;
    case causalkv::config::LoadResult::kCheckConfig:
      std::printf("Configuration file '%s' is OK\n", config.config_file.c_str());
      return 0;
    case causalkv::config::LoadResult::kError:
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    case causalkv::config::LoadResult::kRun:
      break;
  }
  // As Redis: under a supervisor the server stays in the foreground whatever
  // `daemonize` says, since the supervisor tracks the process it started.
  // A client that closes without reading its replies must cost it the
  // connection (EPIPE), never kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  causalkv::server::Launch launch;
  launch.supervised = causalkv::server::ResolveSupervised(config.supervised);
  if (config.daemonize && launch.supervised == causalkv::config::Supervised::kNo) {
    // Before anything opens files or threads: only the child returns.
    if (!causalkv::server::Daemonize(&launch.ready_fd, &error)) {
      std::fprintf(stderr, "cannot daemonize: %s\n", error.c_str());
      return 1;
    }
    launch.daemonized = true;
  }
  if (!causalkv::server::SetupLogging(config, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (config.config_file.empty()) {
    spdlog::warn("no config file specified, using the default config; to specify one use "
                 "causalkv-server /path/to/causalkv.conf");
  }
  causalkv::server::Server server(std::move(config), launch);
  return server.Run();
}
