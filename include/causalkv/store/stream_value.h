// StreamValue: the value of a Redis stream key (XADD, XRANGE, XREADGROUP,
// ...), as plain data: no protocol, no keyspace. The keyspace owns each
// StreamValue through a typed sibling (store/value_type.h).
//
// Entries are kept packed, as Redis keeps them in listpacks under a radix
// tree: an ordered index (std::map keyed by the node's master ID, the ID of
// the first entry ever put in the node) of nodes, each one malloc'd buffer:
//
//   uint32 bytes used (header included), uint32 entries (deleted included),
//   uint32 live entries,
//   master fields: varint count, then per field varint length, bytes,
//   entries back to back, each:
//     flags byte: bit 0 deleted (XDEL, XTRIM), bit 1 same fields (the
//                 entry's field names are the master fields, in order),
//     varint ms - master ms,
//     varint seq - master seq when the ms are equal, else the seq itself,
//     same fields: per field varint value length, value;
//     otherwise:   varint field count, per field varint length, field,
//                  varint length, value.
//
// A node takes new entries until it holds stream_node_max_entries entries
// or the next entry would take it past stream_node_max_bytes (0: no limit;
// 1 GB at most whatever the limit), as Redis's stream-node-max-* options; an
// entry bigger than the byte limit still gets a node of its own. XDEL flags an entry; a node whose entries
// are all flagged is freed. Entries are never moved between nodes.
//
// Beside the entries, as Redis 7: last_id (the top ID ever added; XADD must
// go above it), entries_added (every entry ever added), max_deleted_id (the
// highest ID XDEL removed), and the consumer groups (XGROUP, XREADGROUP):
// each with its last delivered ID, its entries-read counter (-1: unknown),
// its pending entries list (PEL: ID -> owner, delivery time, delivery
// count), and its consumers, each with the IDs of the PEL it owns and its
// seen / active times (7.2).
//
// Invariants:
//   - entry IDs are unique, increase with the node order and within a node,
//     and are at most last_id; size() counts the live entries;
//   - every node holds at least one live entry;
//   - a group's PEL and its consumers' pending sets hold the same IDs, each
//     owned by exactly the consumer its PEL entry names.
// Unlike the other collections, an empty stream is a value that stays
// (XDEL of the last entry keeps the key, as Redis does): kKeepsEmptyKey.
//
// Thread-compatibility: one thread at a time (the loop thread).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/store/collection_limits.h"

namespace causalkv::store {

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  auto operator<=>(const StreamId&) const = default;
  static constexpr StreamId Max() {
    return {std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max()};
  }
  bool IsZero() const { return ms == 0 && seq == 0; }
  // The next ID up; false at Max().
  bool Increment() {
    if (seq != std::numeric_limits<uint64_t>::max()) {
      ++seq;
      return true;
    }
    if (ms == std::numeric_limits<uint64_t>::max()) return false;
    ++ms;
    seq = 0;
    return true;
  }
  // The next ID down; false at 0-0.
  bool Decrement() {
    if (seq != 0) {
      --seq;
      return true;
    }
    if (ms == 0) return false;
    --ms;
    seq = std::numeric_limits<uint64_t>::max();
    return true;
  }
  std::string ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }
};

struct StreamConsumer {
  int64_t seen_time = 0;    // last time it was named (read, claim ...)
  int64_t active_time = -1;  // last successful read or claim (-1: never)
  std::set<StreamId> pending;
};

struct StreamPendingEntry {
  std::string consumer;
  int64_t delivery_time = 0;
  uint64_t delivery_count = 1;
};

struct StreamGroup {
  StreamId last_id;
  int64_t entries_read = -1;  // -1: unknown
  std::map<StreamId, StreamPendingEntry> pel;
  std::map<std::string, StreamConsumer, std::less<>> consumers;
};

class StreamValue {
 public:
  // Keyspace::UpdateTyped keeps a stream whose entries are all gone.
  static constexpr bool kKeepsEmptyKey = true;
  static constexpr int64_t kInvalidEntriesRead = -1;

  static StreamValue* Create();
  static void Destroy(StreamValue* s);  // nullptr allowed
  static StreamValue* Clone(const StreamValue& s);
  StreamValue(const StreamValue&) = delete;
  StreamValue& operator=(const StreamValue&) = delete;

  size_t size() const { return length_; }
  // Heap bytes: nodes exactly (usable sizes), index and groups estimated.
  size_t memory_bytes() const;
  size_t node_count() const { return nodes_.size(); }

  StreamId last_id() const { return last_id_; }
  uint64_t entries_added() const { return entries_added_; }
  StreamId max_deleted_id() const { return max_deleted_id_; }
  // XSETID: the caller checked Redis's rules.
  void set_last_id(StreamId id) { last_id_ = id; }
  void set_entries_added(uint64_t n) { entries_added_ = n; }
  void set_max_deleted_id(StreamId id) { max_deleted_id_ = id; }
  // Redis's recorded first ID: the first live entry's, 0-0 when empty.
  StreamId first_id() const { return first_id_; }
  // The last live entry's ID; 0-0 when empty.
  StreamId LastEntryId() const;

  // Adds an entry. REQUIRES id > last_id(), fields_values non-empty with an
  // even size (field, value, field, value ...), none of the views pointing
  // into this stream. Sets last_id, counts entries_added.
  void Append(StreamId id, const std::vector<std::string_view>& fields_values,
              const CollectionLimits& limits);
  // Flags the entry deleted; false if there is no such live entry.
  // Raises max_deleted_id.
  bool Delete(StreamId id);
  // XTRIM / XADD's trimming: removes the oldest entries until at most
  // `maxlen` remain (TrimMaxLen) or none is below `minid` (TrimMinId).
  // approx: whole nodes only. limit: at most that many entries (0: none).
  // Returns how many were removed. max_deleted_id is left alone (as Redis).
  uint64_t TrimMaxLen(uint64_t maxlen, bool approx, uint64_t limit);
  uint64_t TrimMinId(StreamId minid, bool approx, uint64_t limit);

  // Calls fn(StreamId, const std::vector<std::string_view>& fields_values)
  // for each live entry with start <= ID <= end, in ID order (reverse:
  // descending) until fn returns false. The views stay valid until the next
  // change; fn must not change this stream.
  template <typename Fn>
  void Range(StreamId start, StreamId end, bool reverse, Fn&& fn) const;
  // The live entry `id`: its fields and values; false if absent.
  bool Lookup(StreamId id, std::vector<std::string_view>* fields_values) const;

  const std::map<std::string, StreamGroup, std::less<>>& groups() const { return groups_; }
  std::map<std::string, StreamGroup, std::less<>>& mutable_groups() { return groups_; }
  StreamGroup* FindGroup(std::string_view name);

  // Redis 7's lag bookkeeping (XINFO, XREADGROUP): whether a deleted entry
  // may lie in [start, end], and how many entries were added up to `id`
  // (kInvalidEntriesRead when it cannot be told).
  bool RangeHasTombstones(StreamId start, StreamId end) const;
  int64_t EstimateEntriesRead(StreamId id) const;

  // Appends the plain-data form: varints last_id ms, seq, entries_added,
  // max_deleted_id ms, seq, entry count; per entry ms minus the previous
  // entry's ms, seq, field count, then each field and value (varint length,
  // bytes); group count; per group (ascending names) name, last_id ms, seq,
  // zigzag entries_read, consumer count; per consumer (ascending names)
  // name, zigzag seen_time, zigzag active_time, pending count; per pending
  // entry (ascending IDs) ms, seq, zigzag delivery time, delivery count.
  // DO NOT CHANGE: snapshots, the append-only log and peers carry this form.
  void Serialize(std::string* out) const;
  // The inverse; nullptr when the bytes are malformed (truncated, trailing
  // bytes, IDs not increasing or above last_id, an entry without fields,
  // entries_added below the length, names not strictly ascending, an ID in
  // two consumers' pending sets, counts larger than the bytes could hold).
  // Never crashes; allocates a small multiple of bytes.size() at most.
  static StreamValue* Deserialize(std::string_view bytes, const CollectionLimits& limits);

 private:
  struct NodeHeader {
    uint32_t used;
    uint32_t total;
    uint32_t live;
  };
  enum : uint8_t { kDeleted = 1, kSameFields = 2 };
  using NodeMap = std::map<StreamId, char*>;

  StreamValue() = default;
  ~StreamValue();

  static NodeHeader* Header(char* node) { return reinterpret_cast<NodeHeader*>(node); }
  static const NodeHeader* Header(const char* node) {
    return reinterpret_cast<const NodeHeader*>(node);
  }
  // The first entry of a node (past the master fields).
  static const char* FirstEntry(const char* node);
  // Decodes the entry at p of a node with `master` and master fields
  // `master_fields`; fills *id, *flags, and (when fv) the fields and values.
  // Returns the byte after it.
  static const char* DecodeEntry(const char* p, StreamId master, const char* master_fields,
                                 StreamId* id, uint8_t* flags, std::vector<std::string_view>* fv);
  template <typename Fn>
  static bool VisitNode(StreamId master, const char* node, StreamId start, StreamId end,
                        bool reverse, Fn& fn);
  void FreeNode(NodeMap::iterator it);
  // Flags the live entries of the first node from its start while pred(id)
  // holds and at most `max` of them; returns how many.
  uint64_t FlagFromFront(uint64_t max, const std::function<bool(StreamId)>& pred);
  StreamId NodeLastEntryId(NodeMap::const_iterator it) const;
  // Recomputes first_id_ after entries were removed.
  void UpdateFirstId();

  NodeMap nodes_;
  size_t node_bytes_ = 0;  // usable bytes of every node buffer
  uint64_t length_ = 0;
  StreamId last_id_;
  uint64_t entries_added_ = 0;
  StreamId max_deleted_id_;
  StreamId first_id_;
  std::map<std::string, StreamGroup, std::less<>> groups_;
};

template <typename Fn>
bool StreamValue::VisitNode(StreamId master, const char* node, StreamId start, StreamId end,
                            bool reverse, Fn& fn) {
  thread_local std::vector<std::string_view> fv;
  const char* const begin = FirstEntry(node);
  const char* const stop = node + Header(node)->used;
  const char* master_fields = node + sizeof(NodeHeader);
  StreamId id;
  uint8_t flags;
  if (!reverse) {
    for (const char* p = begin; p != stop;) {
      fv.clear();
      p = DecodeEntry(p, master, master_fields, &id, &flags, &fv);
      if (id > end) return false;
      if ((flags & kDeleted) || id < start) continue;
      if (!fn(id, static_cast<const std::vector<std::string_view>&>(fv))) return false;
    }
    return true;
  }
  thread_local std::vector<const char*> offsets;
  offsets.clear();
  for (const char* p = begin; p != stop;) {
    offsets.push_back(p);
    p = DecodeEntry(p, master, master_fields, &id, &flags, nullptr);
  }
  for (size_t i = offsets.size(); i-- > 0;) {
    fv.clear();
    DecodeEntry(offsets[i], master, master_fields, &id, &flags, &fv);
    if (id < start) return false;
    if ((flags & kDeleted) || id > end) continue;
    if (!fn(id, static_cast<const std::vector<std::string_view>&>(fv))) return false;
  }
  return true;
}

template <typename Fn>
void StreamValue::Range(StreamId start, StreamId end, bool reverse, Fn&& fn) const {
  if (start > end || nodes_.empty()) return;
  if (!reverse) {
    auto it = nodes_.upper_bound(start);
    if (it != nodes_.begin()) --it;
    for (; it != nodes_.end() && it->first <= end; ++it) {
      if (!VisitNode(it->first, it->second, start, end, false, fn)) return;
    }
    return;
  }
  auto it = nodes_.upper_bound(end);
  while (it != nodes_.begin()) {
    --it;
    if (!VisitNode(it->first, it->second, start, end, true, fn)) return;
  }
}

}  // namespace causalkv::store
