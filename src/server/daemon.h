// Running as a daemon: forking into the background, the pid file, and
// telling a supervisor (systemd, upstart) that the server is ready.
// Everything here is plain POSIX: no libsystemd.
#pragma once

#include <string>
#include <string_view>

#include "causalkv/config/config.h"

namespace causalkv::server {

// Forks into the background (Redis's daemonize()). The parent never returns:
// it waits for the child to call ReportReady() and exits 0, or exits with
// the child's status (1 if it cannot tell) when the child dies first, so a
// failed start shows in the launching shell's exit code. The child returns
// true in a new session, with stdin and stdout on /dev/null, and
// *ready_fd set for ReportReady(). Returns false (with *error) in the
// original process if fork() or pipe() fails.
bool Daemonize(int* ready_fd, std::string* error);

// In a daemonized child: releases the waiting parent and points stderr at
// /dev/null too (startup errors went to the launching terminal until now).
void ReportReady(int ready_fd);

// `supervised auto`: systemd when $NOTIFY_SOCKET is set, upstart when
// $UPSTART_JOB is, otherwise none. Other modes are returned as given.
config::Supervised ResolveSupervised(config::Supervised mode);

// Sends `state` (e.g. "READY=1\n") to systemd's $NOTIFY_SOCKET as one
// datagram (sd_notify's protocol; a leading '@' names an abstract socket).
bool NotifySystemd(std::string_view state, std::string* error);

// Upstart's "expect stop": the job is ready when the server stops itself.
void NotifyUpstartReady();

// Writes "<pid>\n" to `path`.
bool WritePidFile(const std::string& path, int pid, std::string* error);

}  // namespace causalkv::server
