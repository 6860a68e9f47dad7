// Append-only log: after every write, the resulting state of each key it
// touched, so that replaying the log reproduces the exact effect (the same
// siblings with the same versions), never a request that could replay
// differently. Records are idempotent states, so replaying the whole log
// over the snapshot it started from yields the state at the last record.
//
// File formats (DO NOT CHANGE a released one: existing files depend on it;
// add a new format instead). Fixed-width integers are little-endian; varints
// are LEB128 as in snapshot.h. A file keeps the format its header names:
// records appended to an existing log use that log's format, and every new
// log (at first start, or the .next of a rewrite) gets format 2, or format 3
// in causal mode (with peers), whose records are key states with dots,
// contexts and tombstones. (A single node's log found at a causal start is
// folded into a format 3 base and a new log: command/persistence.cc.)
//
//   header   8 bytes "CKVAOF3\0" (format 3), "CKVAOF2\0" (format 2) or
//            "CKVAOF1\0" (format 1)
//   records  u32 payload length, u32 its complement (~length: a damaged length
//            is corruption, never mistaken for a record cut short), then the
//            payload's CRC-64 (as snapshot.h): format 1 all 8 bytes, formats 2
//            and 3 its low 4 bytes; then the payload:
//     format 3 (causal mode only, written since 2026-12-02): u8 kind, varint
//              the writer's last issued counter when it was written, then
//              0x07 writer:     (its counter 0) u64 node id: the records that
//                               follow (up to the next 0x07) were written by that
//                               node. First in every file, and again each time
//                               the file is opened for appending.
//              0x05 key state:  varint db, varint key length, key, then to the end
//                               of the payload the key's state
//                               (store::EncodeKeyState: node ids, never local
//                               actor indexes; never a tombstone)
//              0x06 tombstone:  varint db, varint key length, key, varint deletion
//                               time (milliseconds: when the record was written,
//                               never earlier than the deletion), then to the end
//                               the state (no siblings, a non-empty context)
//              0x02 key gone:   as format 2 (neither a value nor a tombstone is
//                               left: expired, evicted, or a tombstone reaped)
//              0x03 cleared:    as format 2 (replayed as the flush it was: each
//                               live key leaves a tombstone, dated at replay)
//     format 2: u8 kind, varint last issued version when it was written, then
//              0x01 key state:  varint db, varint key length, key, varint sibling
//                               count, per sibling (oldest first): varint version
//                               gap (minus the previous sibling's version, or 0;
//                               always > 0), varint value length, value bytes
//              0x04 key state with a TTL: as 0x01 with varint expire_at_ms after the key
//              0x02 key gone:   varint db, varint key length, key
//              0x03 cleared:    varint db (0xFFFFFFFF: every database)
//     format 1: u8 kind, u64 last issued version when it was written, then
//              0x01 key state: u32 db, u32 key length, key, i64 expire_at_ms (-1: none),
//                              u32 sibling count, per sibling (oldest first):
//                              u64 version, u32 value length, value bytes
//              0x02 key gone:  u32 db, u32 key length, key
//              0x03 cleared:   u32 db (0xFFFFFFFF: every database)
//
// A crash can leave the last record torn (cut short, a bad CRC on the last
// record, or a zero-filled tail); anything else bad is corruption.
//
// Thread-compatibility: AofWriter is used from the loop thread; its own
// background thread only calls fdatasync on the file descriptor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "causalkv/store/sibling_set.h"
#include "causalkv/store/store.h"

namespace causalkv::persist {

constexpr uint32_t kAofAllDatabases = 0xFFFFFFFFu;

enum class AofFormat : uint8_t { kFixedWidth = 1, kVarint = 2, kCausal = 3 };

// The file header of a log in `format`.
std::string_view AofHeader(AofFormat format);

enum class AofFsync { kAlways, kEverysec, kNo };

class AofWriter {
 public:
  AofWriter() = default;
  ~AofWriter();
  AofWriter(const AofWriter&) = delete;
  AofWriter& operator=(const AofWriter&) = delete;

  // Opens `path` for appending and starts the once-a-second fsync thread.
  // A missing or empty file is created with the header of `new_file_format`
  // (tests ask for format 1 to check it is still read); an existing log
  // keeps its own. A format 3 log gets a writer record naming `writer` (this
  // node's id). False with *error, also for a file of no known format and
  // for a format 3 one without a writer (`writer` 0: not a cluster node).
  bool Open(const std::string& path, std::string* error,
            AofFormat new_file_format = AofFormat::kVarint, store::ActorId writer = 0);
  bool is_open() const { return fd_ >= 0; }
  AofFormat format() const { return format_; }

  // Records go to an in-memory buffer until Flush(). AppendKey logs the
  // state of `key` in database `db` (`set` nullptr: the key is gone);
  // AppendClear a cleared database (kAofAllDatabases: all of them).
  // `last_issued` is the version counter when the write ran.
  // REQUIRES: set == nullptr in format 3 (use AppendKeyState).
  void AppendKey(uint64_t last_issued, uint32_t db, std::string_view key,
                 const store::SiblingSet* set);
  // Format 3: logs the state of `key` (a tombstone when it has no siblings,
  // recorded as deleted at `tombstone_since_ms`). REQUIRES: format() is
  // kCausal, Valid(state), and a tombstone's context is not empty.
  void AppendKeyState(uint64_t last_issued, uint32_t db, std::string_view key,
                      const store::KeyState& state, int64_t tombstone_since_ms);
  void AppendClear(uint64_t last_issued, uint32_t db);
  bool has_pending() const { return !buf_.empty(); }

  // Writes the buffer; kAlways then fdatasyncs before returning, kEverysec
  // leaves the fsync to the background thread (at most a second later), kNo
  // leaves it to the OS. False (and the unwritten rest kept for the next
  // call) on a write or fsync error.
  bool Flush(AofFsync mode);

  // Bytes in the file (header included) once the buffer is written.
  uint64_t size() const { return size_; }
  bool last_write_ok() const { return last_write_ok_; }

  // Writes and fsyncs what is pending, stops the thread and closes.
  void Close();

 private:
  void SyncLoop();
  // Format 3: the record naming the node whose records follow.
  void AppendWriter(store::ActorId writer);

  int fd_ = -1;
  AofFormat format_ = AofFormat::kVarint;
  std::string buf_;
  uint64_t size_ = 0;
  bool last_write_ok_ = true;
  std::atomic<bool> unsynced_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread sync_thread_;
};

struct AofReplayStats {
  uint64_t records = 0;
  uint64_t truncated_at = 0;  // offset where a torn tail was cut (0: none)
};

// kIncompatible: a sound log this store must not replay (a cluster node's
// format 3 into a single-node store).
enum class AofLoadResult { kLoaded, kNoFile, kCorrupt, kIoError, kIncompatible };

// Applies every record of `path` to `store` in order. *max_version receives
// the highest version the log mentions (record counters and siblings), so
// that the counter can resume above it; in a format 3 log, only this node's:
// the counters of its own dots and of the records it wrote. A torn last
// record is cut off (the file truncated at the last good record,
// stats->truncated_at set) when `truncate_torn_tail`; otherwise, and for any
// damage before the last record, kCorrupt with *error naming the file and
// the byte offset. Formats 1 and 2 replay into either mode (a key gone
// leaves no tombstone); format 3 only into a causal store (kIncompatible
// otherwise, *error saying so), where records of another node id are other
// actors' dots (a node that got a new id).
AofLoadResult ReplayAof(const std::string& path, bool truncate_torn_tail, store::Store* store,
                        uint64_t* max_version, AofReplayStats* stats, std::string* error);

}  // namespace causalkv::persist
