#include "causalkv/persist/aof.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "causalkv/persist/snapshot.h"

#include "read_file.h"

namespace causalkv::persist {
namespace {

constexpr char kMagic[8] = {'C', 'K', 'V', 'A', 'O', 'F', '1', '\0'};
constexpr uint8_t kKeyState = 0x01;
constexpr uint8_t kKeyGone = 0x02;
constexpr uint8_t kCleared = 0x03;
constexpr size_t kRecordHeader = 2 * sizeof(uint32_t) + sizeof(uint64_t);

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);  // little-endian hosts only
}

// Reserves the record header, returns its offset; Seal fills it in.
size_t BeginRecord(std::string* out, uint8_t kind, uint64_t last_issued) {
  const size_t start = out->size();
  out->append(kRecordHeader, '\0');
  Put<uint8_t>(out, kind);
  Put<uint64_t>(out, last_issued);
  return start;
}

void Seal(std::string* out, size_t start) {
  const size_t payload = start + kRecordHeader;
  const uint32_t len = static_cast<uint32_t>(out->size() - payload);
  const uint32_t check = ~len;
  const uint64_t crc = Crc64(0, out->data() + payload, len);
  std::memcpy(out->data() + start, &len, sizeof len);
  std::memcpy(out->data() + start + sizeof len, &check, sizeof check);
  std::memcpy(out->data() + start + 2 * sizeof len, &crc, sizeof crc);
}

// Reads a payload; every Get fails once past the end.
class Reader {
 public:
  Reader(const char* p, size_t len) : p_(p), left_(len) {}
  template <typename T>
  bool Get(T* v) {
    if (left_ < sizeof(T)) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    left_ -= sizeof(T);
    return true;
  }
  bool Bytes(uint32_t len, std::string_view* out) {
    if (left_ < len) return false;
    *out = std::string_view(p_, len);
    p_ += len;
    left_ -= len;
    return true;
  }
  bool done() const { return left_ == 0; }

 private:
  const char* p_;
  size_t left_;
};

// Applies one payload; false if it is malformed.
bool Apply(const char* p, size_t len, store::Store* store, uint64_t* max_version) {
  Reader r(p, len);
  uint8_t kind = 0;
  uint64_t counter = 0;
  uint32_t db = 0;
  if (!r.Get(&kind) || !r.Get(&counter) || !r.Get(&db)) return false;
  *max_version = std::max(*max_version, counter);
  if (kind == kCleared) {
    if (!r.done()) return false;
    if (db == kAofAllDatabases) {
      store->FlushAll();
      return true;
    }
    if (db >= static_cast<uint32_t>(store->database_count())) return false;
    store->db(static_cast<int>(db)).Clear();
    return true;
  }
  if (db >= static_cast<uint32_t>(store->database_count())) return false;
  uint32_t key_len = 0;
  std::string_view key;
  if (!r.Get(&key_len) || !r.Bytes(key_len, &key)) return false;
  store::Keyspace& keyspace = store->db(static_cast<int>(db));
  if (kind == kKeyGone) {
    if (!r.done()) return false;
    keyspace.Delete(key);
    return true;
  }
  if (kind != kKeyState) return false;
  int64_t expire = 0;
  uint32_t count = 0;
  if (!r.Get(&expire) || !r.Get(&count) || count == 0) return false;
  std::vector<store::Sibling> siblings;
  siblings.reserve(std::min<uint32_t>(count, 1024));
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t version = 0;
    uint32_t value_len = 0;
    std::string_view value;
    if (!r.Get(&version) || !r.Get(&value_len) || !r.Bytes(value_len, &value)) return false;
    // The sibling set's invariant: versions unique and ascending.
    if (version == 0 || (!siblings.empty() && version <= siblings.back().version.counter())) {
      return false;
    }
    siblings.push_back({store::Version(version), value});
    *max_version = std::max(*max_version, version);
  }
  if (!r.done()) return false;
  keyspace.Restore(key, expire < 0 ? store::SiblingSet::kNoExpire : expire, siblings);
  return true;
}

}  // namespace

std::string_view AofHeader() { return std::string_view(kMagic, sizeof kMagic); }

void EncodeAofKey(std::string* out, uint64_t last_issued, uint32_t db, std::string_view key,
                  const store::SiblingSet* set) {
  const size_t start = BeginRecord(out, set == nullptr ? kKeyGone : kKeyState, last_issued);
  Put<uint32_t>(out, db);
  Put<uint32_t>(out, static_cast<uint32_t>(key.size()));
  out->append(key);
  if (set != nullptr) {
    Put<int64_t>(out, set->has_expire() ? set->expire_at_ms() : -1);
    Put<uint32_t>(out, set->size());
    for (const store::Sibling& sibling : *set) {
      Put<uint64_t>(out, sibling.version.counter());
      Put<uint32_t>(out, static_cast<uint32_t>(sibling.value.size()));
      out->append(sibling.value);
    }
  }
  Seal(out, start);
}

void EncodeAofClear(std::string* out, uint64_t last_issued, uint32_t db) {
  const size_t start = BeginRecord(out, kCleared, last_issued);
  Put<uint32_t>(out, db);
  Seal(out, start);
}

AofWriter::~AofWriter() { Close(); }

bool AofWriter::Open(const std::string& path, std::string* error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = Errno("cannot open append-only log " + path);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = Errno("cannot stat append-only log " + path);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) {
    buf_.assign(AofHeader());
    if (!Flush(AofFsync::kAlways)) {
      *error = Errno("cannot write append-only log " + path);
      ::close(fd_);
      fd_ = -1;
      return false;
    }
  }
  stop_ = false;
  sync_thread_ = std::thread([this] { SyncLoop(); });
  return true;
}

bool AofWriter::Flush(AofFsync mode) {
  size_t done = 0;
  while (done < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    done += static_cast<size_t>(n);
  }
  size_ += done;
  const bool complete = done == buf_.size();
  buf_.erase(0, done);
  if (!complete) {
    last_write_ok_ = false;
    return false;
  }
  if (mode == AofFsync::kAlways) {
    if (fdatasync(fd_) != 0) {
      last_write_ok_ = false;
      return false;
    }
  } else if (mode == AofFsync::kEverysec && done > 0) {
    unsynced_.store(true, std::memory_order_release);
  }
  last_write_ok_ = true;
  return true;
}

bool AofWriter::Truncate(std::string* error) {
  if (!Flush(AofFsync::kNo)) {
    *error = Errno("cannot write the append-only log");
    return false;
  }
  // O_APPEND: the next write goes to the new end.
  if (ftruncate(fd_, static_cast<off_t>(sizeof kMagic)) != 0 || fdatasync(fd_) != 0) {
    *error = Errno("cannot truncate the append-only log");
    return false;
  }
  size_ = sizeof kMagic;
  return true;
}

void AofWriter::SyncLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    if (unsynced_.exchange(false, std::memory_order_acq_rel)) fdatasync(fd_);
  }
}

void AofWriter::Close() {
  if (fd_ < 0) return;
  if (sync_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    sync_thread_.join();
  }
  Flush(AofFsync::kAlways);
  ::close(fd_);
  fd_ = -1;
}

AofLoadResult ReplayAof(const std::string& path, bool truncate_torn_tail, store::Store* store,
                        uint64_t* max_version, AofReplayStats* stats, std::string* error) {
  *max_version = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return AofLoadResult::kNoFile;
    *error = Errno("cannot open append-only log " + path);
    return AofLoadResult::kIoError;
  }
  std::string data;
  if (!ReadWholeFileAndClose(fd, &data)) {
    *error = Errno("cannot read append-only log " + path);
    return AofLoadResult::kIoError;
  }
  auto corrupt = [&](size_t offset, const char* what) {
    *error = "append-only log " + path + " is corrupt at offset " + std::to_string(offset) +
             ": " + what;
    return AofLoadResult::kCorrupt;
  };
  size_t off = 0;
  size_t torn_at = SIZE_MAX;
  const char* torn_why = nullptr;
  if (data.size() < sizeof kMagic) {
    // A crash while the header was first written.
    if (data.size() > 0 && data.compare(0, data.size(), AofHeader().substr(0, data.size())) != 0) {
      return corrupt(0, "not an append-only log (bad header)");
    }
    torn_at = 0;
    torn_why = "truncated header";
  } else if (data.compare(0, sizeof kMagic, AofHeader()) != 0) {
    return corrupt(0, "not an append-only log (bad header)");
  } else {
    off = sizeof kMagic;
  }
  while (torn_at == SIZE_MAX && off < data.size()) {
    if (data.size() - off < kRecordHeader) {
      torn_at = off;
      torn_why = "truncated record header";
      break;
    }
    uint32_t len = 0;
    uint32_t check = 0;
    uint64_t crc = 0;
    std::memcpy(&len, data.data() + off, sizeof len);
    std::memcpy(&check, data.data() + off + sizeof len, sizeof check);
    std::memcpy(&crc, data.data() + off + 2 * sizeof len, sizeof crc);
    if (check != ~len) {
      // A crash can leave zeros where the last write never landed.
      if (data.find_first_not_of('\0', off) == std::string::npos) {
        torn_at = off;
        torn_why = "zero-filled tail";
        break;
      }
      return corrupt(off, "bad record length");
    }
    const size_t payload = off + kRecordHeader;
    if (data.size() - payload < len) {
      torn_at = off;
      torn_why = "truncated record";
      break;
    }
    if (Crc64(0, data.data() + payload, len) != crc) {
      if (payload + len == data.size()) {
        torn_at = off;
        torn_why = "bad checksum on the last record";
        break;
      }
      return corrupt(off, "bad record checksum");
    }
    if (!Apply(data.data() + payload, len, store, max_version)) {
      return corrupt(off, "malformed record");
    }
    ++stats->records;
    off = payload + len;
  }
  if (torn_at != SIZE_MAX) {
    if (!truncate_torn_tail) {
      return corrupt(torn_at, torn_why);
    }
    const size_t keep = std::max(torn_at, sizeof kMagic);
    if (torn_at < sizeof kMagic) {
      // Rewrite the header entirely.
      const int wfd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      const bool ok = wfd >= 0 && ::write(wfd, kMagic, sizeof kMagic) ==
                                      static_cast<ssize_t>(sizeof kMagic) && fsync(wfd) == 0;
      if (wfd >= 0) ::close(wfd);
      if (!ok) {
        *error = Errno("cannot repair append-only log " + path);
        return AofLoadResult::kIoError;
      }
    } else if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
      *error = Errno("cannot truncate append-only log " + path);
      return AofLoadResult::kIoError;
    }
    stats->truncated_at = keep;
    *error = std::string(torn_why) + " at offset " + std::to_string(torn_at);
  }
  return AofLoadResult::kLoaded;
}

}  // namespace causalkv::persist
