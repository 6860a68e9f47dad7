// Snapshots: the whole store (every database, key, TTL, sibling with its
// version) plus the version counter, in one file. A single node writes
// format 2; a store in causal mode (with peers) writes format 3, which keeps
// each key's causal state (dots, context, TTL stamp) and the tombstones.
//
// File formats (DO NOT CHANGE a released one: existing files depend on it;
// add a new format version instead). Fixed-width integers are little-endian;
// varints are LEB128 (7 bits a byte, low first, high bit = more follows).
//
//   header   8 bytes "CKVSNAP\0", u32 format version, u64 last issued version
//            (format 3: the writer's highest counter), u32 number of databases;
//            format 3 only: u64 node id of the store that wrote it
//   records  u8 kind, then
//     format 3 (causal mode only, written since 2026-12-02):
//              0x01 database:    varint index
//              0x04 key:         varint key length, key bytes, varint state length,
//                                the key's state (store::EncodeKeyState: node ids,
//                                never the process-local actor indexes; siblings,
//                                context, TTL and its stamp); never a tombstone
//              0x05 tombstone:   varint key length, key bytes, varint deletion time
//                                (milliseconds, never negative), varint state
//                                length, the state (no siblings, a non-empty context)
//     format 2 (written since 2026-11-27):
//              0x01 database:    varint index      (the keys that follow belong to it)
//              0x02 key:         varint key length, key bytes, varint sibling count,
//                                then per sibling (oldest first): varint version gap
//                                (the version minus the previous sibling's, or
//                                minus 0 for the first; always > 0), varint value
//                                length, value bytes
//              0x03 key with TTL: as 0x02 with varint expire_at_ms after the key
//     format 1 (still read):
//              0x01 database: u32 index
//              0x02 key:      u32 key length, key bytes, i64 expire_at_ms (-1: none),
//                             u32 sibling count, then per sibling (oldest first):
//                             u64 version, u32 value length, value bytes
//     all:     0xFF end
//   trailer  u64 CRC-64 (ECMA-182, reflected) of every byte before it
//
// Saving writes a temporary file in the same directory, fsyncs it, renames it
// over the old snapshot and fsyncs the directory: a crash at any moment
// leaves either the old or the new snapshot, never a torn one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "causalkv/store/store.h"

namespace causalkv::persist {

struct SnapshotStats {
  uint64_t keys = 0;
  uint64_t bytes = 0;
};

// Writes `store` to dir/filename atomically: format 3 if store.causal(),
// else format 2. Safe to call in a forked child (it only reads the store,
// without even counting accesses, and uses plain system calls).
bool SaveSnapshot(store::Store& store, const std::string& dir, const std::string& filename,
                  SnapshotStats* stats, std::string* error);

// Where the process `writer` writes dir/filename before renaming it into
// place: a killed writer leaves this file behind for its parent to remove.
std::string SnapshotTempPath(const std::string& dir, const std::string& filename, pid_t writer);

// kIncompatible: a sound file this store must not load (a cluster node's
// format 3 into a single-node store): starting empty instead would drop it.
enum class LoadResult { kLoaded, kNoFile, kCorrupt, kIoError, kIncompatible };

// Loads dir/filename into an empty `store`. kCorrupt: *error names the file
// and the byte offset where reading failed (truncation, bad record, checksum).
// Formats 1 and 2 load into either mode (in causal mode their siblings
// become dots of this node); format 3 only into a causal store
// (kIncompatible otherwise, *error saying so), where dots of another node id
// than this store's are other actors' (a node that got a new id).
// *last_issued receives the counter to resume above: the saved counter
// (format 3: only if this node wrote the file) and, format 3, the highest
// counter of this node's own dots.
LoadResult LoadSnapshot(const std::string& path, store::Store* store, uint64_t* last_issued,
                        SnapshotStats* stats, std::string* error);

// CRC-64 as used in the trailer (exposed for tests).
uint64_t Crc64(uint64_t crc, const void* data, size_t len);

}  // namespace causalkv::persist
