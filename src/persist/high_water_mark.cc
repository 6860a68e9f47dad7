#include "causalkv/persist/high_water_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "causalkv/persist/durable_rename.h"
#include "causalkv/util/errno_message.h"

namespace causalkv::persist {
namespace {

constexpr const char* kMagic = "causalkv-hwm 1 ";

bool WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

HighWaterMark::HighWaterMark(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) dir_ = ".";
  path_ = dir_ + "/" + kFileName;
}

bool HighWaterMark::Load(uint64_t* mark, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  *mark = 0;
  FILE* f = std::fopen(path_.c_str(), "r");
  if (f == nullptr) {
    if (errno == ENOENT) return true;
    *error = util::ErrnoMessage("cannot open " + path_);
    return false;
  }
  char buf[128] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string text(buf, n);
  const size_t magic_len = std::strlen(kMagic);
  // Only what Save writes (at most 36 bytes, no leading zeros): a file that
  // fills the buffer may go on, and its start alone must not be taken for a mark.
  if (text.compare(0, magic_len, kMagic) != 0 || text.empty() || text.back() != '\n' ||
      n == sizeof buf - 1) {
    *error = path_ + " is corrupt (expected \"causalkv-hwm 1 <mark>\")";
    return false;
  }
  uint64_t v = 0;
  size_t digits = 0;
  for (size_t i = magic_len; i + 1 < text.size(); ++i, ++digits) {
    const char c = text[i];
    if (c < '0' || c > '9' || v > (UINT64_MAX - (c - '0')) / 10) {
      *error = path_ + " is corrupt (bad mark)";
      return false;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (digits == 0) {
    *error = path_ + " is corrupt (no mark)";
    return false;
  }
  if (digits > 1 && text[magic_len] == '0') {
    *error = path_ + " is corrupt (bad mark)";
    return false;
  }
  *mark = v;
  saved_ = v;
  return true;
}

bool HighWaterMark::Save(uint64_t mark, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (mark <= saved_) return true;  // a higher mark is already durable
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = util::ErrnoMessage("cannot create " + tmp);
    return false;
  }
  const std::string line = kMagic + std::to_string(mark) + "\n";
  if (!WriteAll(fd, line.data(), line.size()) || ::fsync(fd) != 0) {
    *error = util::ErrnoMessage("cannot write " + tmp);
    ::close(fd);
    return false;
  }
  ::close(fd);
  // The rename itself must survive a crash too.
  if (!RenameDurably(tmp, path_, dir_, error)) return false;
  saved_ = mark;
  return true;
}

}  // namespace causalkv::persist
