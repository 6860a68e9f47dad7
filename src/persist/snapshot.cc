#include "causalkv/persist/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "causalkv/persist/durable_rename.h"
#include "causalkv/util/errno_message.h"
#include "own_counter.h"
#include "read_file.h"
#include "typed_sibling.h"
#include "varint.h"

namespace causalkv::persist {
namespace {

constexpr char kMagic[8] = {'C', 'K', 'V', 'S', 'N', 'A', 'P', '\0'};
constexpr uint32_t kFormatFixedWidth = 1;  // read only
constexpr uint32_t kFormatVarint = 2;      // written by a single node
constexpr uint32_t kFormatCausal = 3;      // written in causal mode
constexpr uint8_t kRecordDatabase = 0x01;
constexpr uint8_t kRecordKey = 0x02;
constexpr uint8_t kRecordKeyWithTtl = 0x03;  // format 2 only
constexpr uint8_t kRecordKeyState = 0x04;    // format 3 only
constexpr uint8_t kRecordTombstone = 0x05;   // format 3 only
constexpr uint8_t kRecordEnd = 0xFF;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero
// bytes, so eight input bytes cost eight lookups and no loop-carried shift
// per byte. Snapshots are checksummed whole, at disk speed or better.
using CrcTables = std::array<std::array<uint64_t, 256>, 8>;

CrcTables MakeCrcTables() {
  // Reflected ECMA-182 polynomial.
  constexpr uint64_t kPoly = 0xC96C5795D7870F42ull;
  CrcTables t{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kPoly : crc >> 1;
    t[0][i] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

// Buffered file output that keeps the running checksum (computed per
// drained block, not per field).
class Output {
 public:
  explicit Output(int fd) : fd_(fd) { buf_.reserve(kCapacity); }
  void Bytes(const void* data, size_t len) {
    const char* p = static_cast<const char*>(data);
    if (buf_.size() + len > kCapacity) Drain();
    if (len >= kCapacity) {
      crc_ = Crc64(crc_, p, len);
      WriteAll(p, len);
      written_ += len;
      return;
    }
    buf_.insert(buf_.end(), p, p + len);
  }
  template <typename T>
  void Int(T v) {
    Bytes(&v, sizeof v);  // little-endian hosts only (checked below)
  }
  void Varint(uint64_t v) {
    uint8_t bytes[kMaxVarintBytes];
    Bytes(bytes, EncodeVarint(v, bytes));
  }
  bool Finish() {
    Drain();
    const uint64_t crc = crc_;
    WriteAll(reinterpret_cast<const char*>(&crc), sizeof crc);
    written_ += sizeof crc;
    return ok_;
  }
  uint64_t written() const { return written_; }

 private:
  static constexpr size_t kCapacity = 256 * 1024;
  void Drain() {
    crc_ = Crc64(crc_, buf_.data(), buf_.size());
    WriteAll(buf_.data(), buf_.size());
    written_ += buf_.size();
    buf_.clear();
  }
  void WriteAll(const char* p, size_t len) {
    while (ok_ && len > 0) {
      const ssize_t n = ::write(fd_, p, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        ok_ = false;
        return;
      }
      p += n;
      len -= static_cast<size_t>(n);
    }
  }
  int fd_;
  std::vector<char> buf_;
  uint64_t crc_ = 0;
  uint64_t written_ = 0;
  bool ok_ = true;
};

static_assert(std::endian::native == std::endian::little, "the snapshot format is little-endian");

// Bounds-checked reader over the loaded file.
class Input {
 public:
  Input(const std::string& data) : data_(data) {}
  bool Bytes(size_t len, std::string_view* out) {
    if (data_.size() - pos_ < len) return false;
    *out = std::string_view(data_).substr(pos_, len);
    pos_ += len;
    return true;
  }
  template <typename T>
  bool Int(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  template <typename T>
  bool Varint(T* v) {
    const char* p = data_.data() + pos_;
    if (!DecodeVarint(&p, data_.data() + data_.size(), v)) return false;
    pos_ = static_cast<size_t>(p - data_.data());
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

// Format 2 records: each database's live keys with their siblings'
// versions (actor 0: a single node's). Returns the number of keys written.
uint64_t WriteRecords(store::Store& store, Output& out) {
  uint64_t keys = 0;
  std::string typed;  // a collection's plain-data form
  for (int db = 0; db < store.database_count(); ++db) {
    store::Keyspace& ks = store.db(db);
    if (ks.size() == 0) continue;
    out.Int<uint8_t>(kRecordDatabase);
    out.Varint(static_cast<uint64_t>(db));
    ks.ForEachLive([&](const store::SiblingSet* set) {
      const int64_t expire_at = set->expire_at_ms();
      out.Int<uint8_t>(expire_at < 0 ? kRecordKey : kRecordKeyWithTtl);
      out.Varint(set->key().size());
      out.Bytes(set->key().data(), set->key().size());
      if (expire_at >= 0) out.Varint(static_cast<uint64_t>(expire_at));
      out.Varint(set->size());
      uint64_t previous = 0;
      for (store::Sibling sib : *set) {
        // Versions ascend within a key: the gaps are small numbers.
        out.Varint(sib.version.counter() - previous);
        previous = sib.version.counter();
        if (sib.typed()) {
          typed.clear();
          store::SerializeTypedValue(sib.type, sib.object(), &typed);
          out.Varint(kTypedValueMark + static_cast<uint32_t>(sib.type));
          sib.value = typed;
        }
        out.Varint(sib.value.size());
        out.Bytes(sib.value.data(), sib.value.size());
      }
      ++keys;
    });
  }
  return keys;
}

// Format 3 records: each database's keys (whose TTL may have passed), then
// its tombstones and expired states, as key states (an expired state as a
// key state record: loading holds it as expired again). Returns the number
// of key states written.
uint64_t WriteCausalRecords(store::Store& store, Output& out) {
  uint64_t keys = 0;
  std::string encoded;
  auto put = [&](uint8_t kind, std::string_view key, const store::KeyState& state,
                 int64_t since_ms) {
    out.Int<uint8_t>(kind);
    out.Varint(key.size());
    out.Bytes(key.data(), key.size());
    if (kind == kRecordTombstone) out.Varint(static_cast<uint64_t>(std::max<int64_t>(since_ms, 0)));
    encoded.clear();
    store::EncodeKeyState(state, &encoded);
    out.Varint(encoded.size());
    out.Bytes(encoded.data(), encoded.size());
  };
  for (int db = 0; db < store.database_count(); ++db) {
    store::Keyspace& ks = store.db(db);
    if (ks.size() == 0 && ks.hidden_count() == 0) continue;
    out.Int<uint8_t>(kRecordDatabase);
    out.Varint(static_cast<uint64_t>(db));
    ks.ForEachStored([&](const store::SiblingSet* set) {
      put(kRecordKeyState, set->key(), ks.PeekState(set), 0);
      ++keys;
    });
    ks.ForEachHidden([&](std::string_view key, const store::KeyState& state, int64_t since) {
      put(state.tombstone() ? kRecordTombstone : kRecordKeyState, key, state, since);
    });
  }
  return keys;
}

// Reads format 3 records up to `end` (the end record included) into the
// causal `store`. Returns nullptr, or what is wrong at in.pos().
const char* LoadCausalRecords(Input& in, size_t end, store::Store* store, uint64_t* keys,
                              uint64_t* own_max) {
  const store::ActorId self = store->actors().self();
  uint32_t db = 0;
  bool have_db = false;
  store::KeyState state;
  std::string decode_error;
  for (;;) {
    uint8_t kind;
    if (in.pos() >= end || !in.Int(&kind)) return "missing end record";
    if (kind == kRecordEnd) return nullptr;
    if (kind == kRecordDatabase) {
      if (!in.Varint(&db)) return "truncated database record";
      if (db >= static_cast<uint32_t>(store->database_count())) {
        return "database index beyond the configured 'databases'";
      }
      have_db = true;
      continue;
    }
    if (kind != kRecordKeyState && kind != kRecordTombstone) return "unknown record kind";
    if (!have_db) return "key record before any database record";
    uint32_t key_len = 0;
    std::string_view key;
    if (!in.Varint(&key_len) || !in.Bytes(key_len, &key)) return "bad key record";
    uint64_t since = 0;
    if (kind == kRecordTombstone &&
        (!in.Varint(&since) || since > static_cast<uint64_t>(INT64_MAX))) {
      return "bad tombstone record";
    }
    uint32_t state_len = 0;
    std::string_view encoded;
    if (!in.Varint(&state_len) || !in.Bytes(state_len, &encoded)) return "bad key state";
    if (!store::DecodeKeyState(&encoded, &state, &decode_error) || !encoded.empty()) {
      return "bad key state";
    }
    if (kind == kRecordKeyState ? state.tombstone() : !state.tombstone() || state.context.empty()) {
      return "key state does not match its record kind";
    }
    if (!CountersFit(state)) return "counter out of range";
    *own_max = std::max(*own_max, OwnCounter(state, self));
    if (store->db(static_cast<int>(db))
            .RestoreState(key, std::move(state), static_cast<int64_t>(since)) !=
        store::OpStatus::kOk) {
      return "more node ids than a store can hold";
    }
    if (kind == kRecordKeyState) ++*keys;
  }
}

}  // namespace

uint64_t Crc64(uint64_t crc, const void* data, size_t len) {
  static const CrcTables kT = MakeCrcTables();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian (checked above)
    crc ^= word;
    crc = kT[7][crc & 0xff] ^ kT[6][(crc >> 8) & 0xff] ^ kT[5][(crc >> 16) & 0xff] ^
          kT[4][(crc >> 24) & 0xff] ^ kT[3][(crc >> 32) & 0xff] ^ kT[2][(crc >> 40) & 0xff] ^
          kT[1][(crc >> 48) & 0xff] ^ kT[0][crc >> 56];
  }
  for (; len > 0; --len, ++p) crc = kT[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string SnapshotTempPath(const std::string& dir, const std::string& filename, pid_t writer) {
  return dir + "/temp-" + std::to_string(writer) + "-" + filename;
}

bool SaveSnapshot(store::Store& store, const std::string& dir, const std::string& filename,
                  SnapshotStats* stats, std::string* error) {
  const std::string path = dir + "/" + filename;
  const std::string tmp = SnapshotTempPath(dir, filename, getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = util::ErrnoMessage("cannot create " + tmp);
    return false;
  }
  Output out(fd);
  out.Bytes(kMagic, sizeof kMagic);
  out.Int<uint32_t>(store.causal() ? kFormatCausal : kFormatVarint);
  out.Int<uint64_t>(store.counter().last_issued().counter());
  out.Int<uint32_t>(static_cast<uint32_t>(store.database_count()));
  if (store.causal()) out.Int<uint64_t>(store.actors().self());
  const uint64_t keys = store.causal() ? WriteCausalRecords(store, out) : WriteRecords(store, out);
  out.Int<uint8_t>(kRecordEnd);
  const bool written = out.Finish();
  if (!written || ::fsync(fd) != 0) {
    *error = util::ErrnoMessage("cannot write " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  ::close(fd);
  if (!RenameDurably(tmp, path, dir, error)) {
    ::unlink(tmp.c_str());
    return false;
  }
  if (stats != nullptr) {
    stats->keys = keys;
    stats->bytes = out.written();
  }
  return true;
}

LoadResult LoadSnapshot(const std::string& path, store::Store* store, uint64_t* last_issued,
                        SnapshotStats* stats, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return LoadResult::kNoFile;
    *error = util::ErrnoMessage("cannot open " + path);
    return LoadResult::kIoError;
  }
  std::string data;
  if (!ReadWholeFileAndClose(fd, &data)) {
    *error = util::ErrnoMessage("cannot read " + path);
    return LoadResult::kIoError;
  }

  Input in(data);
  auto corrupt = [&](const char* what) {
    *error = path + " is corrupt at byte offset " + std::to_string(in.pos()) + ": " + what;
    return LoadResult::kCorrupt;
  };
  // The checksum covers everything but its own 8 bytes: check it first, so a
  // torn or altered file is refused before anything is loaded.
  if (data.size() < sizeof kMagic + 4 + 8 + 4 + 1 + 8) return corrupt("file too short");
  uint64_t stored_crc;
  std::memcpy(&stored_crc, data.data() + data.size() - 8, 8);
  std::string_view magic;
  in.Bytes(sizeof kMagic, &magic);
  if (magic != std::string_view(kMagic, sizeof kMagic)) return corrupt("not a causalkv snapshot");
  uint32_t format = 0;
  in.Int(&format);
  if (format != kFormatFixedWidth && format != kFormatVarint && format != kFormatCausal) {
    return corrupt("unknown format version");
  }
  if (Crc64(0, data.data(), data.size() - 8) != stored_crc) {
    return corrupt("checksum mismatch (truncated or altered file)");
  }
  uint64_t counter = 0;
  uint32_t databases = 0;
  in.Int(&counter);
  in.Int(&databases);
  const size_t end = data.size() - 8;
  uint64_t keys = 0;
  if (format == kFormatCausal) {
    uint64_t writer = 0;
    if (!in.Int(&writer) || writer == 0) return corrupt("bad node id in the header");
    if (counter > store::Version::kCounterMask) return corrupt("version counter out of range");
    if (!store->causal()) {
      char id[17];
      std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(writer));
      *error = path + " was written by cluster node " + id +
               " (format 3: dots, contexts and tombstones); this data directory belongs to a "
               "cluster node: start it with its peers configured (as a single node it would "
               "drop that causal state)";
      return LoadResult::kIncompatible;
    }
    uint64_t own_max = 0;
    if (const char* what = LoadCausalRecords(in, end, store, &keys, &own_max)) return corrupt(what);
    if (in.pos() != end) return corrupt("bytes after the end record");
    // Another node id's counter says nothing about ours.
    *last_issued = std::max(own_max, writer == store->actors().self() ? counter : 0);
    if (stats != nullptr) {
      stats->keys = keys;
      stats->bytes = data.size();
    }
    return LoadResult::kLoaded;
  }
  // A version above this would carry an actor index in its top bits.
  if (counter > store::Version::kCounterMask) return corrupt("version counter out of range");
  const bool varint = format == kFormatVarint;
  // Lengths and counts: u32 in format 1, varints in format 2.
  auto length = [&](uint32_t* v) { return varint ? in.Varint(v) : in.Int(v); };
  uint32_t db = 0;
  std::vector<store::Sibling> siblings;
  for (;;) {
    uint8_t kind;
    if (in.pos() >= end || !in.Int(&kind)) return corrupt("missing end record");
    if (kind == kRecordEnd) break;
    if (kind == kRecordDatabase) {
      if (!length(&db)) return corrupt("truncated database record");
      if (db >= static_cast<uint32_t>(store->database_count())) {
        return corrupt("database index beyond the configured 'databases'");
      }
      continue;
    }
    if (kind != kRecordKey && !(varint && kind == kRecordKeyWithTtl)) {
      return corrupt("unknown record kind");
    }
    uint32_t key_len = 0, count = 0;
    std::string_view key;
    int64_t expire_at = -1;
    if (!length(&key_len) || !in.Bytes(key_len, &key)) return corrupt("bad key record");
    if (!varint) {
      if (!in.Int(&expire_at)) return corrupt("bad key record");
      // Format 1 wrote -1 for "no TTL"; any negative time means the same,
      // as in the log and the later formats (which cannot express one). A
      // block never holds a negative expiry: its state would be invalid on
      // the wire (found by fuzz_snapshot, through an expired key's tombstone).
      if (expire_at < 0) expire_at = store::SiblingSet::kNoExpire;
    } else if (kind == kRecordKeyWithTtl) {
      uint64_t at = 0;
      if (!in.Varint(&at) || at > static_cast<uint64_t>(INT64_MAX)) {
        return corrupt("bad key record");
      }
      expire_at = static_cast<int64_t>(at);
    }
    if (!length(&count) || count == 0) return corrupt("bad key record");
    siblings.clear();
    uint64_t previous = 0;
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t version = 0;
      uint32_t len = 0;
      std::string_view value;
      bool ok;
      if (varint) {
        uint64_t gap = 0;
        ok = in.Varint(&gap) && gap > 0 && gap <= UINT64_MAX - previous;
        version = previous + gap;
      } else {
        ok = in.Int(&version);
      }
      store::ValueType type = store::ValueType::kString;
      bool unknown_type = false;
      if (ok && length(&len) && TypedValueOf(len, &type, &unknown_type)) ok = length(&len);
      if (!ok || unknown_type || !in.Bytes(len, &value)) return corrupt("bad sibling record");
      if (version <= previous || version > counter) return corrupt("sibling versions out of order");
      previous = version;
      siblings.push_back(store::Sibling{store::Version(version), value, type});
    }
    if (store->db(static_cast<int>(db)).Restore(key, expire_at, siblings) !=
        store::OpStatus::kOk) {
      return corrupt("a collection value does not decode");
    }
    ++keys;
  }
  if (in.pos() != end) return corrupt("bytes after the end record");
  *last_issued = counter;
  if (stats != nullptr) {
    stats->keys = keys;
    stats->bytes = data.size();
  }
  return LoadResult::kLoaded;
}

}  // namespace causalkv::persist
