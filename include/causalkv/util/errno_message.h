// The text of a failed system call for error messages and log lines.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace causalkv::util {

// "<what>: <strerror(errno)>". Call it right after the failing call, before
// anything else can change errno.
inline std::string ErrnoMessage(std::string_view what) {
  const int saved = errno;
  std::string out(what);
  out += ": ";
  out += std::strerror(saved);
  return out;
}

}  // namespace causalkv::util
