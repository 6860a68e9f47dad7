// Causality for a replicated key, as plain data: dots, version vectors and
// the state of one key (its siblings and causal context), with the merge
// that replicas apply to each other's states. This is the dotted version
// vector algebra (Preguiça et al. 2010; Almeida et al. 2014) with one
// difference: a dot's counter is the node's server-wide counter (never
// reused for the node's id, see persist/node_identity.h), not a per-key one.
//
// Why a server-wide counter is sound: a node stamps a key's writes in
// counter order, each on a local state that holds (or covers) all of its
// earlier writes to that key. So "the context holds counter c of node n"
// implies that every earlier dot of n on this key is known too, and a
// context needs one entry per node, as a per-key counter would. It breaks
// when a node loses its state of a key that others still hold, then writes
// the key: its new dot would claim to cover its lost, replicated ones.
//   - A crash with an unsynced log: such a node restarts under a new id.
//   - Eviction (of a live key, or of an expired state under memory
//     pressure): a node that has evicted keys first fetches a key it does
//     not hold from its peers before writing it (command/dispatch.cc).
//   - Expiry keeps the key's state (an expired state, store/keyspace.h),
//     and reaping drops a tombstone or expired state only once every
//     replica holds it, so nothing of it is left to cover.
//
// Invariants of a KeyState (Valid() checks them):
//   - every sibling's dot is covered by the context;
//   - no two siblings share a dot;
//   - siblings are sorted by (counter, actor): the same order on every node;
//   - context entries are sorted by actor, and no counter is 0;
//   - no siblings means a tombstone: a deleted key's context.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causalkv/store/value_type.h"

namespace causalkv::store {

// A node id (see persist/node_identity.h). 0 is "no actor".
using ActorId = uint64_t;

// With peers, a dot's counter is at least the coordinator's wall-clock
// milliseconds shifted by this many bits (a hybrid clock: 1024 writes per
// millisecond per node before it runs ahead of the clock), so that "newest"
// follows the coordinators' clocks.
inline constexpr int kHybridClockShift = 10;

struct Dot {
  ActorId actor = 0;
  uint64_t counter = 0;
  bool operator==(const Dot&) const = default;
  // The order every node shows siblings in, and "newest" (the highest): the
  // counter is the coordinator's hybrid clock (wall-clock milliseconds << 10
  // plus a sequence), so this is the coordinator's time of the write, ties
  // broken by node id.
  bool operator<(const Dot& o) const {
    return counter != o.counter ? counter < o.counter : actor < o.actor;
  }
};

// node -> highest counter known. Entries sorted by actor, counters > 0.
class VersionVector {
 public:
  using Entry = std::pair<ActorId, uint64_t>;

  VersionVector() = default;
  // REQUIRES: entries sorted by actor, unique, counters > 0.
  explicit VersionVector(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  uint64_t Get(ActorId actor) const;
  bool Covers(const Dot& dot) const { return dot.counter <= Get(dot.actor); }
  // Raises the entry of `actor` to at least `counter`.
  void Advance(ActorId actor, uint64_t counter);
  // Pointwise maximum.
  void Join(const VersionVector& other);
  // Every entry of `other` is <= ours.
  bool Descends(const VersionVector& other) const;

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  // Hands over the entries (leaving this vector empty), so that a decoder
  // can reuse their storage.
  std::vector<Entry> Release() { return std::move(entries_); }
  bool operator==(const VersionVector&) const = default;

 private:
  std::vector<Entry> entries_;
};

// A typed sibling (a collection) carries its value's plain-data form
// (store/value_type.h: SerializeTypedValue).
struct SiblingValue {
  Dot dot;
  std::string value;
  ValueType type = ValueType::kString;
  bool operator==(const SiblingValue&) const = default;
};

struct KeyState {
  static constexpr int64_t kNoExpire = -1;

  VersionVector context;
  std::vector<SiblingValue> siblings;  // sorted by dot
  // The TTL is a last-writer-wins register: the value whose stamp is highest
  // wins a merge. A stamp of {0, 0} means "never set" (no TTL) and loses to any.
  int64_t expire_at_ms = kNoExpire;
  Dot ttl_stamp;

  bool tombstone() const { return siblings.empty(); }
  // The newest sibling (GET, INCR, APPEND). REQUIRES: !tombstone().
  const SiblingValue& newest() const { return siblings.back(); }
  bool operator==(const KeyState&) const = default;
};

// Checks the invariants above.
bool Valid(const KeyState& state);

// The merge of two replicas' states of one key: idempotent, commutative and
// associative. A sibling survives unless the other side's context covers its
// dot and the other side no longer holds it (it was overwritten or deleted
// there). Contexts join; the TTL with the higher stamp wins.
KeyState Sync(const KeyState& a, const KeyState& b);

// True when merging `incoming` into `local` would change nothing: local
// already holds everything incoming knows.
bool Includes(const KeyState& local, const KeyState& incoming);

// A write by a client that read `seen`: drops the siblings `seen` covers,
// joins `seen` into the context, and (unless `value` is null: a delete) adds
// `value` at `dot`, which must be new (above every counter of dot.actor
// in the state and in `seen`).
void ApplyWrite(KeyState* state, const VersionVector& seen, const Dot& dot,
                const std::string* value, ValueType type = ValueType::kString);

// How many siblings a write (not a delete) with `seen` would leave.
size_t SiblingsAfterWrite(const KeyState& state, const VersionVector& seen);

// Client context tokens: a printable string without spaces (base64url),
// versioned and checksummed, whose size grows with the number of nodes in the
// vector only. "0" is the empty vector (a blind write).
std::string EncodeContextToken(const VersionVector& context);
// The same into *out (replaced), from a context's entries (sorted by actor,
// counters > 0), without building a VersionVector.
void EncodeContextToken(std::span<const VersionVector::Entry> context, std::string* out);
// False (and *error says why) for anything EncodeContextToken could not
// have produced.
bool DecodeContextToken(std::string_view token, VersionVector* out, std::string* error);

// A dot as VGET WITHVERSIONS shows it: "<16 hex digits of the node>:<counter>".
std::string FormatDot(const Dot& dot);

// The binary form peers exchange (also stored by snapshots and the log).
// Layout (DO NOT CHANGE, version 1, with its typed-sibling extension):
// varint-framed; see causal.cc.
void EncodeKeyState(const KeyState& state, std::string* out);
// The same bytes from the parts of a state, without owning its values:
// `context` folded and sorted by actor, `siblings` in dot order (as
// KeyState keeps them). Appends to *out.
struct SiblingRef {
  Dot dot;
  std::string_view value;  // a typed sibling: its plain-data form
  ValueType type = ValueType::kString;
};
void EncodeKeyStateParts(const std::vector<VersionVector::Entry>& context,
                         const std::vector<SiblingRef>& siblings, int64_t expire_at_ms,
                         const Dot& ttl_stamp, std::string* out);
// Decodes one state from the front of `in`, advancing it, into *out, whose
// vectors' storage it reuses (a peer decodes every batch into the same
// states). False, with *error, for malformed input (bounds-checked; never
// reads past `in`), and *out is then left empty; a decoded state always
// passes Valid().
bool DecodeKeyState(std::string_view* in, KeyState* out, std::string* error);

}  // namespace causalkv::store
