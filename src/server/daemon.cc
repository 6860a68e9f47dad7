#include "daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>

#include "causalkv/util/errno_message.h"

namespace causalkv::server {
namespace {

void RedirectToDevNull(int target_fd) {
  const int fd = ::open("/dev/null", O_RDWR);
  if (fd < 0) return;
  ::dup2(fd, target_fd);
  if (fd != target_fd) ::close(fd);
}

// The parent's side: exit as soon as the child says it is ready.
[[noreturn]] void WaitForChild(pid_t child, int read_fd) {
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(read_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1) std::_Exit(0);
  // The pipe closed without a word: the child died during startup.
  int status = 0;
  if (::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    std::_Exit(WEXITSTATUS(status));
  }
  std::_Exit(1);
}

}  // namespace

bool Daemonize(int* ready_fd, std::string* error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = util::ErrnoMessage("pipe");
    return false;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = util::ErrnoMessage("fork");
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid > 0) {
    ::close(fds[1]);
    WaitForChild(pid, fds[0]);
  }
  ::close(fds[0]);
  ::setsid();
  RedirectToDevNull(STDIN_FILENO);
  RedirectToDevNull(STDOUT_FILENO);
  *ready_fd = fds[1];
  return true;
}

void ReportReady(int ready_fd) {
  if (ready_fd < 0) return;
  const char byte = 1;
  ssize_t n;
  do {
    n = ::write(ready_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  ::close(ready_fd);
  RedirectToDevNull(STDERR_FILENO);
}

config::Supervised ResolveSupervised(config::Supervised mode) {
  if (mode != config::Supervised::kAuto) return mode;
  if (std::getenv("NOTIFY_SOCKET") != nullptr) return config::Supervised::kSystemd;
  if (std::getenv("UPSTART_JOB") != nullptr) return config::Supervised::kUpstart;
  return config::Supervised::kNo;
}

bool NotifySystemd(std::string_view state, std::string* error) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') {
    *error = "NOTIFY_SOCKET not found";
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) {
    *error = "NOTIFY_SOCKET path too long";
    return false;
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = util::ErrnoMessage("socket");
    return false;
  }
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), addr_len);
  const int saved = errno;
  ::close(fd);
  if (sent < 0) {
    errno = saved;
    *error = util::ErrnoMessage("sendto NOTIFY_SOCKET");
    return false;
  }
  return true;
}

void NotifyUpstartReady() {
  if (std::getenv("UPSTART_JOB") == nullptr) return;
  ::raise(SIGSTOP);
  ::unsetenv("UPSTART_JOB");
}

bool WritePidFile(const std::string& path, int pid, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    *error = util::ErrnoMessage(path);
    return false;
  }
  std::fprintf(file, "%d\n", pid);
  if (std::fclose(file) != 0) {
    *error = util::ErrnoMessage(path);
    return false;
  }
  return true;
}

}  // namespace causalkv::server
