#include "causalkv/persist/aof.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <vector>

#include "causalkv/persist/snapshot.h"
#include "causalkv/util/errno_message.h"

#include "own_counter.h"
#include "read_file.h"
#include "typed_sibling.h"
#include "varint.h"

namespace causalkv::persist {
namespace {

constexpr size_t kMagicSize = 8;
constexpr char kMagicFixedWidth[kMagicSize] = {'C', 'K', 'V', 'A', 'O', 'F', '1', '\0'};
constexpr char kMagicVarint[kMagicSize] = {'C', 'K', 'V', 'A', 'O', 'F', '2', '\0'};
constexpr char kMagicCausal[kMagicSize] = {'C', 'K', 'V', 'A', 'O', 'F', '3', '\0'};
constexpr uint8_t kKeyState = 0x01;          // formats 1 and 2
constexpr uint8_t kKeyGone = 0x02;
constexpr uint8_t kCleared = 0x03;
constexpr uint8_t kKeyStateWithTtl = 0x04;   // format 2 only
constexpr uint8_t kCausalKeyState = 0x05;    // format 3 only
constexpr uint8_t kCausalTombstone = 0x06;   // format 3 only
constexpr uint8_t kWriter = 0x07;            // format 3 only

constexpr AofFormat kFormats[] = {AofFormat::kCausal, AofFormat::kVarint, AofFormat::kFixedWidth};

// Length, its complement, then the payload's CRC-64 (format 1) or its low
// half (formats 2 and 3).
size_t RecordHeaderSize(AofFormat format) {
  return 2 * sizeof(uint32_t) + (format == AofFormat::kFixedWidth ? 8 : 4);
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);  // little-endian hosts only
}

// Encodes the fields of one record in a format.
class RecordWriter {
 public:
  RecordWriter(std::string* out, AofFormat format, uint8_t kind, uint64_t last_issued)
      : out_(out), format_(format), start_(out->size()) {
    out_->append(RecordHeaderSize(format), '\0');
    Put<uint8_t>(out_, kind);
    Wide<uint64_t>(last_issued);
  }
  // A u32 in format 1, a varint in formats 2 and 3.
  void U32(uint32_t v) { Wide<uint32_t>(v); }
  template <typename T>
  void Wide(T v) {
    if (format_ == AofFormat::kFixedWidth) {
      Put<T>(out_, v);
    } else {
      uint8_t bytes[kMaxVarintBytes];
      out_->append(reinterpret_cast<const char*>(bytes), EncodeVarint(v, bytes));
    }
  }
  void Bytes(std::string_view b) { out_->append(b); }
  // Fills in the header once the payload is complete.
  void Seal() {
    const size_t header = RecordHeaderSize(format_);
    const size_t payload = start_ + header;
    const uint32_t len = static_cast<uint32_t>(out_->size() - payload);
    const uint32_t check = ~len;
    const uint64_t crc = Crc64(0, out_->data() + payload, len);
    std::memcpy(out_->data() + start_, &len, sizeof len);
    std::memcpy(out_->data() + start_ + sizeof len, &check, sizeof check);
    std::memcpy(out_->data() + start_ + 2 * sizeof len, &crc, header - 2 * sizeof len);
  }

 private:
  std::string* out_;
  AofFormat format_;
  size_t start_;
};

// Reads a payload; every read fails once past the end.
class Reader {
 public:
  Reader(const char* p, size_t len, AofFormat format) : p_(p), end_(p + len), format_(format) {}
  // A fixed-width T in format 1, a varint in formats 2 and 3.
  template <typename T>
  bool Wide(T* v) {
    if (format_ != AofFormat::kFixedWidth) return DecodeVarint(&p_, end_, v);
    return Fixed(v);
  }
  template <typename T>
  bool Fixed(T* v) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool Bytes(uint32_t len, std::string_view* out) {
    if (static_cast<size_t>(end_ - p_) < len) return false;
    *out = std::string_view(p_, len);
    p_ += len;
    return true;
  }
  // The rest of the payload.
  std::string_view Rest() {
    const std::string_view rest(p_, static_cast<size_t>(end_ - p_));
    p_ = end_;
    return rest;
  }
  bool done() const { return p_ == end_; }
  AofFormat format() const { return format_; }

 private:
  const char* p_;
  const char* end_;
  AofFormat format_;
};

constexpr const char* kMalformed = "malformed record";

// What replay carries from one record to the next.
struct ReplayState {
  store::ActorId writer = 0;  // format 3: who wrote the records being read
};

// Applies a format 3 key state or tombstone record (its key read already).
const char* ApplyCausal(Reader& r, uint8_t kind, store::Keyspace& keyspace, std::string_view key,
                        store::ActorId self, uint64_t* max_version) {
  uint64_t since = 0;
  if (kind == kCausalTombstone) {
    if (!r.Wide(&since) || since > static_cast<uint64_t>(INT64_MAX)) return kMalformed;
  } else if (kind != kCausalKeyState) {
    return kMalformed;
  }
  std::string_view encoded = r.Rest();
  store::KeyState state;
  std::string why;
  if (!store::DecodeKeyState(&encoded, &state, &why) || !encoded.empty()) {
    return "malformed key state";
  }
  if (kind == kCausalKeyState ? state.tombstone()
                              : !state.tombstone() || state.context.empty()) {
    return "key state does not match its record kind";
  }
  if (!CountersFit(state)) return "counter out of range";
  *max_version = std::max(*max_version, OwnCounter(state, self));
  if (keyspace.RestoreState(key, std::move(state), static_cast<int64_t>(since)) !=
      store::OpStatus::kOk) {
    return "more node ids than a store can hold";
  }
  return nullptr;
}

// Applies one payload; nullptr, or why it could not be applied.
const char* Apply(Reader& r, store::Store* store, ReplayState* replay, uint64_t* max_version) {
  const bool varint = r.format() == AofFormat::kVarint;
  const bool causal_format = r.format() == AofFormat::kCausal;
  uint8_t kind = 0;
  uint64_t counter = 0;
  uint32_t db = 0;
  if (!r.Fixed(&kind) || !r.Wide(&counter)) return kMalformed;
  // A counter above this would carry an actor index in a packed Version.
  if (counter > store::Version::kCounterMask) return "counter out of range";
  if (causal_format) {
    // Only this node's counters matter to its restart (another id's dots
    // are another actor's, even in our own directory after an id change).
    const store::ActorId self = store->actors().self();
    if (kind == kWriter) {
      uint64_t id = 0;
      if (!r.Fixed(&id) || id == 0 || !r.done()) return kMalformed;
      replay->writer = id;
      return nullptr;
    }
    if (replay->writer == 0) return "record before the writer record";
    if (replay->writer == self) *max_version = std::max(*max_version, counter);
  } else {
    *max_version = std::max(*max_version, counter);
  }
  if (!r.Wide(&db)) return kMalformed;
  if (kind == kCleared) {
    if (!r.done()) return kMalformed;
    if (db == kAofAllDatabases) {
      store->FlushAll();
      return nullptr;
    }
    if (db >= static_cast<uint32_t>(store->database_count())) return kMalformed;
    store->db(static_cast<int>(db)).Clear();
    return nullptr;
  }
  if (db >= static_cast<uint32_t>(store->database_count())) return kMalformed;
  uint32_t key_len = 0;
  std::string_view key;
  if (!r.Wide(&key_len) || !r.Bytes(key_len, &key)) return kMalformed;
  store::Keyspace& keyspace = store->db(static_cast<int>(db));
  if (kind == kKeyGone) {
    if (!r.done()) return kMalformed;
    if (store->causal()) {
      // Gone means gone: a delete in causal mode logs its tombstone instead.
      keyspace.RestoreState(key, store::KeyState(), 0);
    } else {
      keyspace.Delete(key);
    }
    return nullptr;
  }
  if (causal_format) {
    return ApplyCausal(r, kind, keyspace, key, store->actors().self(), max_version);
  }
  int64_t expire = -1;
  if (kind == kKeyState && !varint) {
    if (!r.Fixed(&expire)) return kMalformed;
  } else if (kind == kKeyStateWithTtl && varint) {
    uint64_t at = 0;
    if (!r.Wide(&at) || at > static_cast<uint64_t>(INT64_MAX)) return kMalformed;
    expire = static_cast<int64_t>(at);
  } else if (kind != kKeyState) {
    return kMalformed;
  }
  uint32_t count = 0;
  if (!r.Wide(&count) || count == 0) return kMalformed;
  std::vector<store::Sibling> siblings;
  siblings.reserve(std::min<uint32_t>(count, 1024));
  uint64_t previous = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t version = 0;
    uint32_t value_len = 0;
    std::string_view value;
    if (varint) {
      uint64_t gap = 0;
      if (!r.Wide(&gap) || gap == 0 || gap > UINT64_MAX - previous) return kMalformed;
      version = previous + gap;
    } else if (!r.Fixed(&version)) {
      return kMalformed;
    }
    store::ValueType type = store::ValueType::kString;
    bool unknown_type = false;
    if (!r.Wide(&value_len)) return kMalformed;
    if (TypedValueOf(value_len, &type, &unknown_type) && !r.Wide(&value_len)) return kMalformed;
    if (unknown_type || !r.Bytes(value_len, &value)) return kMalformed;
    // The sibling set's invariant: versions unique and ascending; and a
    // single node's versions carry no actor bits.
    if (version <= previous || version > store::Version::kCounterMask) return kMalformed;
    previous = version;
    siblings.push_back({store::Version(version), value, type});
    *max_version = std::max(*max_version, version);
  }
  if (!r.done()) return kMalformed;
  if (keyspace.Restore(key, expire < 0 ? store::SiblingSet::kNoExpire : expire, siblings) !=
      store::OpStatus::kOk) {
    return "a collection value does not decode";
  }
  return nullptr;
}

}  // namespace

std::string_view AofHeader(AofFormat format) {
  switch (format) {
    case AofFormat::kFixedWidth:
      return std::string_view(kMagicFixedWidth, kMagicSize);
    case AofFormat::kVarint:
      return std::string_view(kMagicVarint, kMagicSize);
    case AofFormat::kCausal:
      break;
  }
  return std::string_view(kMagicCausal, kMagicSize);
}

void AofWriter::AppendKey(uint64_t last_issued, uint32_t db, std::string_view key,
                          const store::SiblingSet* set) {
  const bool ttl_kind = format_ == AofFormat::kVarint && set != nullptr && set->has_expire();
  RecordWriter w(&buf_, format_,
                 set == nullptr ? kKeyGone : (ttl_kind ? kKeyStateWithTtl : kKeyState),
                 last_issued);
  w.U32(db);
  w.U32(static_cast<uint32_t>(key.size()));
  w.Bytes(key);
  if (set != nullptr) {
    if (format_ == AofFormat::kFixedWidth) {
      Put<int64_t>(&buf_, set->has_expire() ? set->expire_at_ms() : -1);
    } else if (ttl_kind) {
      w.Wide<uint64_t>(static_cast<uint64_t>(set->expire_at_ms()));
    }
    w.U32(set->size());
    uint64_t previous = 0;
    for (const store::Sibling& sibling : *set) {
      const uint64_t version = sibling.version.counter();
      if (format_ == AofFormat::kFixedWidth) {
        Put<uint64_t>(&buf_, version);
      } else {
        w.Wide<uint64_t>(version - previous);  // ascending: small gaps
      }
      previous = version;
      if (sibling.typed()) {
        thread_local std::string typed;  // a collection's plain-data form
        typed.clear();
        store::SerializeTypedValue(sibling.type, sibling.object(), &typed);
        w.U32(kTypedValueMark + static_cast<uint32_t>(sibling.type));
        w.U32(static_cast<uint32_t>(typed.size()));
        w.Bytes(typed);
      } else {
        w.U32(static_cast<uint32_t>(sibling.value.size()));
        w.Bytes(sibling.value);
      }
    }
  }
  w.Seal();
}

void AofWriter::AppendKeyState(uint64_t last_issued, uint32_t db, std::string_view key,
                               const store::KeyState& state, int64_t tombstone_since_ms) {
  const bool tombstone = state.tombstone();
  RecordWriter w(&buf_, format_, tombstone ? kCausalTombstone : kCausalKeyState, last_issued);
  w.U32(db);
  w.U32(static_cast<uint32_t>(key.size()));
  w.Bytes(key);
  if (tombstone) w.Wide<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(tombstone_since_ms, 0)));
  store::EncodeKeyState(state, &buf_);
  w.Seal();
}

void AofWriter::AppendWriter(store::ActorId writer) {
  RecordWriter w(&buf_, format_, kWriter, 0);
  Put<uint64_t>(&buf_, writer);
  w.Seal();
}

void AofWriter::AppendClear(uint64_t last_issued, uint32_t db) {
  RecordWriter w(&buf_, format_, kCleared, last_issued);
  w.U32(db);
  w.Seal();
}

AofWriter::~AofWriter() { Close(); }

bool AofWriter::Open(const std::string& path, std::string* error, AofFormat new_file_format,
                     store::ActorId writer) {
  if (new_file_format == AofFormat::kCausal && writer == 0) {
    *error = "cannot open append-only log " + path + " for format 3 without a node id";
    return false;
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = util::ErrnoMessage("cannot open append-only log " + path);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = util::ErrnoMessage("cannot stat append-only log " + path);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) {
    format_ = new_file_format;
    buf_.assign(AofHeader(format_));
    // The writer record goes with the header: no format 3 file lacks one.
    if (format_ == AofFormat::kCausal) AppendWriter(writer);
    if (!Flush(AofFsync::kAlways)) {
      *error = util::ErrnoMessage("cannot write append-only log " + path);
      ::close(fd_);
      fd_ = -1;
      return false;
    }
  } else {
    // Appended records must be in the format the file started with.
    char magic[kMagicSize] = {};
    const std::string_view found(magic, kMagicSize);
    const bool read = ::pread(fd_, magic, kMagicSize, 0) == static_cast<ssize_t>(kMagicSize);
    const auto known = std::find_if(std::begin(kFormats), std::end(kFormats),
                                    [&](AofFormat f) { return AofHeader(f) == found; });
    if (!read || known == std::end(kFormats)) {
      *error = "cannot append to " + path + ": not an append-only log of a known format";
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    format_ = *known;
    if (format_ == AofFormat::kCausal) {
      if (writer == 0) {
        *error = "cannot append to " + path + ": a cluster node's log (format 3), and this "
                 "node has no node id";
        ::close(fd_);
        fd_ = -1;
        return false;
      }
      // Records from here on are this node's (its id may have changed).
      AppendWriter(writer);
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
    *error = util::ErrnoMessage("cannot open append-only log " + path);
    return AofLoadResult::kIoError;
  }
  std::string data;
  if (!ReadWholeFileAndClose(fd, &data)) {
    *error = util::ErrnoMessage("cannot read append-only log " + path);
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
  AofFormat format = AofFormat::kVarint;
  const std::string_view head = std::string_view(data).substr(0, kMagicSize);
  auto is_prefix_of = [&](AofFormat f) { return AofHeader(f).substr(0, head.size()) == head; };
  const auto known = std::find_if(std::begin(kFormats), std::end(kFormats),
                                  [&](AofFormat f) { return AofHeader(f) == head; });
  if (data.size() < kMagicSize) {
    // A crash while the header was first written.
    if (std::none_of(std::begin(kFormats), std::end(kFormats), is_prefix_of)) {
      return corrupt(0, "not an append-only log (bad header)");
    }
    torn_at = 0;
    torn_why = "truncated header";
  } else if (known != std::end(kFormats)) {
    format = *known;
    off = kMagicSize;
  } else {
    return corrupt(0, "not an append-only log (bad header)");
  }
  if (format == AofFormat::kCausal && !store->causal()) {
    *error = "append-only log " + path + " is a cluster node's (format 3: dots, contexts and "
             "tombstones); this data directory belongs to a cluster node: start it with its "
             "peers configured (as a single node it would drop that causal state)";
    return AofLoadResult::kIncompatible;
  }
  ReplayState replay;
  const size_t header_size = RecordHeaderSize(format);
  while (torn_at == SIZE_MAX && off < data.size()) {
    if (data.size() - off < header_size) {
      torn_at = off;
      torn_why = "truncated record header";
      break;
    }
    uint32_t len = 0;
    uint32_t check = 0;
    uint64_t crc = 0;
    std::memcpy(&len, data.data() + off, sizeof len);
    std::memcpy(&check, data.data() + off + sizeof len, sizeof check);
    std::memcpy(&crc, data.data() + off + 2 * sizeof len, header_size - 2 * sizeof len);
    if (check != ~len) {
      // A crash can leave zeros where the last write never landed.
      if (data.find_first_not_of('\0', off) == std::string::npos) {
        torn_at = off;
        torn_why = "zero-filled tail";
        break;
      }
      return corrupt(off, "bad record length");
    }
    const size_t payload = off + header_size;
    if (data.size() - payload < len) {
      torn_at = off;
      torn_why = "truncated record";
      break;
    }
    uint64_t expected = Crc64(0, data.data() + payload, len);
    if (format != AofFormat::kFixedWidth) expected &= 0xFFFFFFFFu;
    if (expected != crc) {
      if (payload + len == data.size()) {
        torn_at = off;
        torn_why = "bad checksum on the last record";
        break;
      }
      return corrupt(off, "bad record checksum");
    }
    Reader reader(data.data() + payload, len, format);
    if (const char* what = Apply(reader, store, &replay, max_version)) return corrupt(off, what);
    ++stats->records;
    off = payload + len;
  }
  if (torn_at != SIZE_MAX) {
    if (!truncate_torn_tail) {
      return corrupt(torn_at, torn_why);
    }
    const size_t keep = std::max(torn_at, kMagicSize);
    if (torn_at < kMagicSize) {
      // Rewrite the header entirely (the file held no record yet), in the
      // format this store appends in.
      const std::string_view header =
          AofHeader(store->causal() ? AofFormat::kCausal : AofFormat::kVarint);
      const int wfd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      const bool ok = wfd >= 0 && ::write(wfd, header.data(), header.size()) ==
                                      static_cast<ssize_t>(header.size()) && fsync(wfd) == 0;
      if (wfd >= 0) ::close(wfd);
      if (!ok) {
        *error = util::ErrnoMessage("cannot repair append-only log " + path);
        return AofLoadResult::kIoError;
      }
    } else if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
      *error = util::ErrnoMessage("cannot truncate append-only log " + path);
      return AofLoadResult::kIoError;
    }
    stats->truncated_at = keep;
    *error = std::string(torn_why) + " at offset " + std::to_string(torn_at);
  }
  return AofLoadResult::kLoaded;
}

}  // namespace causalkv::persist
