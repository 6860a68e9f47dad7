#include "causalkv/persist/node_identity.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <string_view>

#include "causalkv/persist/durable_rename.h"
#include "causalkv/util/errno_message.h"

#include "read_file.h"

namespace causalkv::persist {
namespace {

// DO NOT CHANGE: the on-disk format of node.id (see node_identity.h).
constexpr std::string_view kMagic = "causalkv-node 1 ";
constexpr std::string_view kRunning = "running";
constexpr std::string_view kClean = "clean";
constexpr size_t kIdDigits = 16;

std::string DirOrDot(const std::string& dir) { return dir.empty() ? "." : dir; }

std::string IdPath(const std::string& dir) { return DirOrDot(dir) + "/" + kNodeIdFileName; }

// What a node.id line says; false when it is not exactly one such line.
bool ParseLine(std::string_view text, uint64_t* id, bool* clean) {
  if (text.substr(0, kMagic.size()) != kMagic || text.back() != '\n') return false;
  text.remove_prefix(kMagic.size());
  text.remove_suffix(1);
  if (text.size() < kIdDigits + 1 || text[kIdDigits] != ' ') return false;
  const std::string_view state = text.substr(kIdDigits + 1);
  if (state != kRunning && state != kClean) return false;
  if (!ParseNodeId(text.substr(0, kIdDigits), id)) return false;
  *clean = state == kClean;
  return true;
}

// A uniformly random id, neither 0 nor `avoid`, from the kernel's CSPRNG:
// ids of independent directories must not collide, and a replacement id
// must never equal the one it replaces.
bool NewRandomId(uint64_t avoid, uint64_t* id, std::string* error) {
  for (;;) {
    uint64_t candidate = 0;
    const ssize_t n = ::getrandom(&candidate, sizeof candidate, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof candidate)) {
      *error = util::ErrnoMessage("cannot get a random node id (getrandom)");
      return false;
    }
    if (candidate != 0 && candidate != avoid) {
      *id = candidate;
      return true;
    }
  }
}

// Replaces node.id with the line for (id, state): temp file, fsync, then a
// durable rename, so that a crash leaves the old line or the new one.
bool WriteIdFile(const std::string& dir, uint64_t id, std::string_view state, std::string* error) {
  const std::string path = IdPath(dir);
  const std::string tmp = path + ".tmp";
  std::string line(kMagic);
  line += FormatNodeId(id);
  line += ' ';
  line += state;
  line += '\n';
  // "e": O_CLOEXEC. stdio does the short-write loop for us.
  std::FILE* f = std::fopen(tmp.c_str(), "we");
  if (f == nullptr) {
    *error = util::ErrnoMessage("cannot create " + tmp);
    return false;
  }
  const bool written = std::fwrite(line.data(), 1, line.size(), f) == line.size() &&
                       std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  if (!written) {
    *error = util::ErrnoMessage("cannot write " + tmp);
    std::fclose(f);
    ::unlink(tmp.c_str());
    return false;
  }
  if (std::fclose(f) != 0) {
    *error = util::ErrnoMessage("cannot write " + tmp);
    ::unlink(tmp.c_str());
    return false;
  }
  return RenameDurably(tmp, path, DirOrDot(dir), error);
}

}  // namespace

std::string FormatNodeId(uint64_t id) {
  char buf[kIdDigits + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return std::string(buf, kIdDigits);
}

bool ParseNodeId(std::string_view text, uint64_t* id) {
  if (text.size() != kIdDigits) return false;
  uint64_t value = 0;
  for (const char c : text) {
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;  // uppercase too: one spelling per id, so ids compare as text
    }
    value = (value << 4) | digit;
  }
  if (value == 0) return false;
  *id = value;
  return true;
}

bool StartNodeIdentity(const std::string& dir, NodeIdentity* out, std::string* error) {
  const std::string path = IdPath(dir);
  NodeIdentity identity;
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) {
    *error = util::ErrnoMessage("cannot open " + path);
    return false;
  }
  if (fd >= 0 && !ReadWholeFileAndClose(fd, &text)) {
    *error = util::ErrnoMessage("cannot read " + path);
    return false;
  }

  uint64_t old_id = 0;
  bool clean = false;
  if (fd < 0) {
    identity.origin = NodeIdentity::Origin::kNew;
  } else if (!ParseLine(text, &old_id, &clean)) {
    identity.origin = NodeIdentity::Origin::kReplacedUnreadable;
    spdlog::warn(
        "{} is unreadable (expected \"causalkv-node 1 <16 hex digits> running|clean\"): this "
        "node takes a new id",
        path);
  } else if (clean) {
    identity.origin = NodeIdentity::Origin::kResumed;
    identity.id = old_id;
  } else {
    identity.origin = NodeIdentity::Origin::kReplacedAfterUncleanStop;
    identity.previous_id = old_id;
  }
  if (identity.id == 0 && !NewRandomId(old_id, &identity.id, error)) return false;

  // Durable before any write is stamped with the id: from here on, a crash
  // must make the next start give it up.
  if (!WriteIdFile(dir, identity.id, kRunning, error)) return false;
  *out = identity;
  return true;
}

bool MarkNodeIdentityClean(const std::string& dir, uint64_t id, std::string* error) {
  if (id == 0) {
    *error = "node id 0 is not a node";
    return false;
  }
  return WriteIdFile(dir, id, kClean, error);
}

}  // namespace causalkv::persist
