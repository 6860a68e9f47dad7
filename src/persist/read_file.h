// Private to persist: reading a whole file that loaders then parse in memory.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace causalkv::persist {

// Reads everything from `fd` (which it closes) into *data. False on a read
// error, with errno set.
inline bool ReadWholeFileAndClose(int fd, std::string* data) {
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) data->reserve(static_cast<size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
    if (n == 0) break;
    data->append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

}  // namespace causalkv::persist
