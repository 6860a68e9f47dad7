#include "causalkv/persist/durable_rename.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace causalkv::persist {

bool SyncDirectory(const std::string& dir, std::string* error) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    *error = "cannot sync directory " + dir + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

bool RenameDurably(const std::string& from, const std::string& to, const std::string& dir,
                   std::string* error) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    *error = "cannot rename " + from + " to " + to + ": " + std::strerror(errno);
    return false;
  }
  return SyncDirectory(dir, error);
}

}  // namespace causalkv::persist
