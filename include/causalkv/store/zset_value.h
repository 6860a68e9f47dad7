// ZsetValue: the value of a Redis sorted-set key (ZADD, ZSCORE, ZRANK,
// ZRANGE, ZCOUNT, ZREMRANGEBY*, ZRANDMEMBER, ZSCAN, ...), as plain data: no
// protocol, no keyspace. The keyspace owns each ZsetValue through a typed
// sibling (store/value_type.h), as it owns a HashValue.
//
// Order: by score, then by member bytes (memcmp; on a common prefix the
// shorter first), as Redis. Scores are doubles and never NaN: every call
// taking a score REQUIRES that (the command layer refuses NaN). -0.0 and 0.0
// compare equal, so they tie and their members decide (as Redis), and ±inf
// are ordinary scores. A score is stored with the exact bits given (ZSCORE
// of -0 gives -0, as Redis).
//
// Two encodings, as in Redis, both keeping every string inline:
//
//   listpack   one malloc'd buffer, entries back to back in rank order:
//                uint32 count, uint32 bytes used (header included),
//                then per entry: varint member length, member,
//                                8-byte score (IEEE bits, little endian).
//              Every operation is linear; it is meant for small sets.
//   skiplist   (Redis's OBJECT ENCODING name; the structure is not a
//              skiplist) one malloc'd block per entry:
//                ZsetEntry* next, double score, varint member length, member,
//              reached two ways:
//              - an IntrusiveTable (store/hash_table.h) by member: ZSCORE,
//                and the ZSCAN cursor;
//              - an order-statistic B+tree of entry pointers: leaves of up to
//                kLeafCapacity pointers in rank order, linked both ways;
//                inner nodes hold, per child, its entry count and its
//                smallest entry, with that entry's score cached so that a
//                descent by score reads no entry. Rank, select by rank,
//                positions by score or member, insert and remove are
//                O(log N); ranges then walk the leaves.
//              A 1M-member set of "member:NNNNNN" with random scores takes
//              61.5 bytes a member as memory_bytes() counts them (entry 40,
//              bucket 8.4, tree 13.1 with leaves 70% full), 69.7 with
//              malloc's chunk headers, against about 125 for Redis 7
//              (dictEntry 32, sds 32, skiplist node about 53, bucket 8).
//
// A listpack entry's bytes are that member's serialized form (Serialize
// below). Varints are LEB128 (7 bits a byte, low bits first), always
// minimal in memory.
//
// Invariants:
//   - members are unique; scores are not NaN;
//   - a listpack holds its entries in strictly increasing (score, member)
//     order; it never holds more than zset_max_listpack_entries entries, a
//     member longer than zset_max_listpack_value bytes, nor more than
//     kMaxListpackBytes bytes in all, under the limits of the Set that added
//     each member: a Set that would break one converts to skiplist first;
//   - the encoding only goes from listpack to skiplist, except that
//     Deserialize picks it by the final size (as Redis's RDB load does);
//   - skiplist: the table and the tree hold the same entries; the tree's
//     leaves, left to right, hold them in strictly increasing order; all
//     leaves are at one depth; no node but a root leaf is empty; an inner
//     root has at least two children; for each inner slot i, counts[i] is
//     the number of entries under children[i], mins[i] is its leftmost entry
//     and min_scores[i] that entry's score (an entry's score only changes
//     while the entry is out of the tree, which keeps the cache true);
//   - a removal that takes a node below a quarter of its capacity merges
//     it with a sibling or refills it from one (when it has a sibling);
//     splits are even, except at the two ends of the tree, where a run of
//     appends (or prepends) fills nodes completely, as sequential scores
//     are common;
//   - memory_bytes_ is the usable size of this object, of the listpack or of
//     the Large block, of every entry and of every tree node; memory_bytes()
//     adds the table's bucket arrays, which only the table allocates.
//
// Views passed to callbacks or returned (Random) point into this set and stay
// valid until its next change; callbacks must not change this set. Set,
// Remove and Remove*Range each move the incremental rehash on by one bucket;
// const calls change nothing.
//
// Lex queries (ZRANGEBYLEX and friends) assume that every member has the same
// score, as Redis documents; with mixed scores which members they see is
// unspecified (Redis's two encodings disagree there too), but they stay safe
// and Count agrees with For (offset 0) and Remove.
//
// Thread-compatibility: one thread at a time (the loop thread).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "causalkv/store/collection_limits.h"
#include "causalkv/store/trusted_varint.h"
#include "causalkv/store/hash_table.h"

namespace causalkv::store {

// A score interval as ZRANGEBYSCORE parses it ("(1" is exclusive; -inf and
// +inf are plain doubles). min > max, or min == max with either end
// exclusive, is empty.
struct ScoreRange {
  double min, max;
  bool min_exclusive = false, max_exclusive = false;
};
// A lex bound as ZRANGEBYLEX parses it: "-" / "+" are the infinities (a
// kMinusInf max or kPlusInf min makes an empty range); otherwise "[v"
// inclusive or "(v" exclusive bytes. `value` is not owned.
struct LexBound {
  enum Kind { kMinusInf, kPlusInf, kInclusive, kExclusive } kind;
  std::string_view value;
};
struct LexRange {
  LexBound min, max;
};

class ZsetValue {
 public:
  // OBJECT ENCODING: "listpack", "skiplist" (Redis's names).
  enum class Encoding { kListpack, kSkiplist };
  // A listpack bigger than this converts whatever the limits say (as
  // HashValue); it also keeps the header's uint32 sizes in range.
  static constexpr size_t kMaxListpackBytes = size_t{1} << 30;
  static constexpr size_t kLeafCapacity = 64;   // entry pointers per leaf
  static constexpr size_t kInnerCapacity = 64;  // children per inner node

  static ZsetValue* Create();                   // empty, listpack encoding
  static void Destroy(ZsetValue* z);            // nullptr allowed
  // A deep copy with the same encoding (as Redis's COPY) and members; a
  // skiplist's table keeps its bucket order, and its tree is rebuilt packed.
  static ZsetValue* Clone(const ZsetValue& z);
  ZsetValue(const ZsetValue&) = delete;
  ZsetValue& operator=(const ZsetValue&) = delete;

  size_t size() const {
    return encoding_ == Encoding::kListpack ? header()->count : large_->table.size();
  }
  Encoding encoding() const { return encoding_; }
  // Every byte this value holds on the heap: malloc_usable_size() of each of
  // its allocations, this object included (kept incrementally: O(1)).
  size_t memory_bytes() const {
    return memory_bytes_ +
           (encoding_ == Encoding::kSkiplist ? large_->table.bucket_usable_bytes() : 0);
  }

  // The score of `member`; false if absent. O(1) for skiplist.
  bool Score(std::string_view member, double* score) const;
  // Inserts `member` with `score`, or moves it to `score`; returns true if
  // it was new. A member whose score compares equal (0.0 and -0.0 included)
  // is left as it was, bits and all, as Redis's ZADD does. Converts to
  // skiplist before adding a member past limits.zset_max_listpack_entries,
  // or one longer than zset_max_listpack_value bytes; never converts back.
  // `member` may point into this set. REQUIRES: score is not NaN.
  bool Set(std::string_view member, double score, const CollectionLimits& limits);
  // Removes `member`; false if absent.
  bool Remove(std::string_view member);

  // The 0-based rank of `member` in ascending order (descending when
  // `reverse`); false if absent. O(log N) for skiplist.
  bool Rank(std::string_view member, bool reverse, size_t* rank) const;
  // Visits ranks [first, last], ascending, or descending ranks when
  // `reverse` (rank 0 = highest score), in rank order. fn(std::string_view
  // member, double score) may return false to stop (or return void).
  // O(log N + visited). REQUIRES: first <= last < size() (else nothing).
  template <typename Fn>
  void ForRankRange(size_t first, size_t last, bool reverse, Fn&& fn) const;
  // The members of `r`, ascending (descending when `reverse`, from the top
  // of the range), after skipping `offset` of them; fn as above.
  // O(log N + visited) for skiplist: the offset is skipped by rank.
  template <typename Fn>
  void ForScoreRange(const ScoreRange& r, bool reverse, size_t offset, Fn&& fn) const;
  // The same for a lex range (see the top about mixed scores).
  template <typename Fn>
  void ForLexRange(const LexRange& r, bool reverse, size_t offset, Fn&& fn) const;
  size_t CountInScoreRange(const ScoreRange& r) const;  // O(log N) for skiplist
  size_t CountInLexRange(const LexRange& r) const;      // O(log N) for skiplist

  // ZREMRANGEBY*: remove and return how many. Ranks are ascending and
  // clamped to the set (last >= size() removes through the end; first >
  // last removes nothing). O(log N + removed) tree work for skiplist, plus
  // freeing each removed entry.
  size_t RemoveRankRange(size_t first, size_t last);
  size_t RemoveScoreRange(const ScoreRange& r);
  size_t RemoveLexRange(const LexRange& r);

  // A uniformly random member and its score (REQUIRES size() > 0); `random`
  // returns uniform uint64s. O(log N) for skiplist: a random rank.
  template <typename Rng>
  std::pair<std::string_view, double> Random(Rng& random) const;

  // ZSCAN, as HashValue::Scan: a listpack visits everything (in rank order)
  // and returns 0; a skiplist visits table buckets from `cursor` (reverse-
  // binary) until `count` members were returned or 10 * count buckets were
  // visited, and returns the next cursor (0 at the end). Every member present
  // for the whole iteration is returned at least once, across growth,
  // shrink, an incremental rehash and Clone; one may be returned more than
  // once. fn(std::string_view member, double score).
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const;

  // Appends the value's bytes: varint count, then per member in rank order:
  // varint member length, member, fixed64 score bits (little endian). The
  // same set gives the same bytes in either encoding and on every node.
  // DO NOT CHANGE: snapshots, the append-only log and peers carry this form.
  void Serialize(std::string* out) const;
  // The inverse; nullptr when the bytes are malformed: truncated, a length
  // beyond the bytes left, a count larger than the bytes could hold,
  // trailing bytes, a NaN score, entries out of (score, member) order, a
  // duplicate member, an empty set. The encoding is chosen by the final size
  // under `limits` (listpack when every member fits, as Redis's load does).
  // Never crashes, and allocates at most a small multiple of bytes.size()
  // (about 5 times at worst: 2-byte members in a skiplist): it is fed from
  // peers and files.
  static ZsetValue* Deserialize(std::string_view bytes, const CollectionLimits& limits);

  // Calls fn(const void*) with each heap block this value holds, so that a
  // test can sum their malloc_usable_size() against memory_bytes().
  template <typename Fn>
  void TEST_ForEachAllocation(Fn&& fn) const;
  // Checks the invariants above (the tree's in full: O(N)); on a breach
  // returns false and says which in *error.
  bool TEST_CheckInvariants(std::string* error) const;
  // The tree's shape, for tests of balance: height 0 for a listpack, 1 for
  // a lone leaf.
  struct TreeShape {
    size_t height = 0, leaves = 0, inner_nodes = 0;
  };
  TreeShape TEST_Shape() const;

 private:
  struct ListpackHeader {
    uint32_t count;  // entries
    uint32_t bytes;  // bytes used, this header included
  };
  // A skiplist entry: this header, then varint member length and member.
  struct ZsetEntry {
    ZsetEntry* next;  // the table's chain
    double score;
    const char* tail() const { return reinterpret_cast<const char*>(this) + sizeof(ZsetEntry); }
    std::string_view member() const {
      size_t len;
      const char* p = ReadTrustedVarint(tail(), &len);
      return {p, len};
    }
  };
  struct EntryTraits {
    static ZsetEntry** NextSlot(ZsetEntry* e) { return &e->next; }
    static std::string_view Key(const ZsetEntry* e) { return e->member(); }
    static bool KeyEquals(const ZsetEntry* e, std::string_view key) { return e->member() == key; }
    static void Destroy(ZsetEntry* e) { std::free(e); }
  };
  using MemberTable = IntrusiveTable<ZsetEntry, EntryTraits>;

  // B+tree nodes. A node is a Leaf or an Inner by `leaf`.
  struct Node {
    uint32_t n;     // entries (leaf) or children (inner)
    uint32_t leaf;  // 1 for a Leaf
  };
  struct Leaf : Node {
    Leaf* prev;
    Leaf* next;
    ZsetEntry* entries[kLeafCapacity];
  };
  struct Inner : Node {
    uint64_t counts[kInnerCapacity];
    Node* children[kInnerCapacity];
    ZsetEntry* mins[kInnerCapacity];
    double min_scores[kInnerCapacity];
  };
  // The skiplist encoding: one block.
  struct Large {
    explicit Large(uint64_t seed) : table(seed) {}
    MemberTable table;  // owns the entries
    Node* root = nullptr;
  };

  ZsetValue() = default;
  ~ZsetValue() = default;

  static double LoadScore(const char* p) {
    uint64_t bits;
    std::memcpy(&bits, p, sizeof bits);
    if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap64(bits);
    return std::bit_cast<double>(bits);
  }
  // Decodes the listpack entry at `entry`; returns the byte after it.
  static const char* DecodeEntry(const char* entry, std::string_view* member, double* score) {
    size_t len;
    const char* p = ReadTrustedVarint(entry, &len);
    *member = {p, len};
    *score = LoadScore(p + len);
    return p + len + sizeof(double);
  }
  // Calls fn(member, score); a void fn never stops.
  template <typename Fn>
  static bool Visit(Fn& fn, std::string_view member, double score) {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, std::string_view, double>>) {
      fn(member, score);
      return true;
    } else {
      return static_cast<bool>(fn(member, score));
    }
  }

  const ListpackHeader* header() const {
    return reinterpret_cast<const ListpackHeader*>(listpack_);
  }
  ListpackHeader* header() { return reinterpret_cast<ListpackHeader*>(listpack_); }
  const char* ListpackBegin() const { return listpack_ + sizeof(ListpackHeader); }
  const char* ListpackEnd() const { return listpack_ + header()->bytes; }
  // The listpack entry for `member` and its rank, or nullptr.
  const char* ListpackFind(std::string_view member, size_t* rank) const;
  bool PointsIntoListpack(std::string_view s) const;
  char* ResizeListpackRange(size_t offset, size_t old_len, size_t new_len);
  bool SetInListpack(std::string_view member, double score, const CollectionLimits& limits);
  bool SetInLarge(std::string_view member, double score);
  // Moves the listpack's entries into a new skiplist; the listpack is kept
  // if an allocation throws.
  void ConvertToLarge();
  Large* NewLarge();
  // Inserts into the table of a bulk fill, moving the rehash on as Set does.
  void InsertIntoTable(ZsetEntry* e);
  ZsetEntry* NewEntry(std::string_view member, double score);
  void FreeEntry(ZsetEntry* e);

  // The number of leading entries (in rank order) for which
  // before(score, member_fn) holds, where member_fn() returns the member:
  // a partition point, exact when `before` holds for a prefix of the order.
  template <typename Before>
  size_t PartitionPoint(const Before& before) const;
  // [*begin, *end) ranks of a range (begin <= end).
  void ScoreRanks(const ScoreRange& r, size_t* begin, size_t* end) const;
  void LexRanks(const LexRange& r, size_t* begin, size_t* end) const;
  // Visits ascending ranks [begin, end), or them in descending order when
  // `reverse`. REQUIRES: begin <= end <= size().
  template <typename Fn>
  void VisitRanks(size_t begin, size_t end, bool reverse, Fn& fn) const;
  // Removes ascending ranks [begin, end).
  size_t RemoveRanks(size_t begin, size_t end);

  // --- Tree (skiplist encoding) ---
  // The leaf holding `rank`, and its index there. REQUIRES: rank < size().
  const Leaf* SelectLeaf(size_t rank, size_t* index) const;
  Leaf* NewLeaf();
  Inner* NewInner();
  void FreeNode(Node* node);
  void FreeTree(Node* node);
  static size_t EntriesUnder(const Node* node);
  static ZsetEntry* LeftmostEntry(const Node* node);
  static double LeftmostScore(const Node* node);
  static void RefreshSlot(Inner* in, size_t i);
  // Inserts `e` at `rank` (an entry position in `node`'s subtree); returns
  // the new right sibling if `node` split, else nullptr.
  Node* InsertIn(Node* node, size_t rank, ZsetEntry* e, bool leftmost, bool rightmost);
  void TreeInsert(size_t rank, ZsetEntry* e);
  // Removes up to `max` entries from `rank` on, all from one leaf, into
  // removed[]; returns how many.
  size_t EraseIn(Node* node, size_t rank, size_t max, ZsetEntry** removed);
  size_t TreeErase(size_t rank, size_t max, ZsetEntry** removed);
  // Merges or refills children[i] of `in` with a neighbour.
  void Rebalance(Inner* in, size_t i);
  void RemoveSlot(Inner* in, size_t i);
  bool CheckNode(const Node* node, size_t depth, size_t* leaf_depth, const ZsetEntry** last,
                 const Leaf** last_leaf, size_t* count, std::string* error) const;
  template <typename Fn>
  static void ForEachNode(const Node* node, Fn& fn);

  union {
    char* listpack_ = nullptr;  // kListpack
    Large* large_;              // kSkiplist
  };
  size_t memory_bytes_ = 0;
  Encoding encoding_ = Encoding::kListpack;
};

// --- Templates ---------------------------------------------------------------

template <typename Fn>
void ZsetValue::VisitRanks(size_t begin, size_t end, bool reverse, Fn& fn) const {
  if (begin >= end) return;
  std::string_view member;
  double score;
  if (encoding_ == Encoding::kListpack) {
    const char* p = ListpackBegin();
    for (size_t i = 0; i < begin; ++i) p = DecodeEntry(p, &member, &score);
    if (!reverse) {
      for (size_t i = begin; i < end; ++i) {
        p = DecodeEntry(p, &member, &score);
        if (!Visit(fn, member, score)) return;
      }
      return;
    }
    // Entries cannot be read backwards: note where each starts (a listpack
    // is small).
    std::vector<const char*> starts;
    starts.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      starts.push_back(p);
      p = DecodeEntry(p, &member, &score);
    }
    for (size_t i = starts.size(); i-- > 0;) {
      DecodeEntry(starts[i], &member, &score);
      if (!Visit(fn, member, score)) return;
    }
    return;
  }
  size_t index;
  size_t left = end - begin;
  const Leaf* leaf = SelectLeaf(reverse ? end - 1 : begin, &index);
  for (;;) {
    const ZsetEntry* e = leaf->entries[index];
    if (!Visit(fn, e->member(), e->score) || --left == 0) return;
    if (!reverse) {
      if (++index == leaf->n) {
        leaf = leaf->next;
        index = 0;
      }
    } else if (index-- == 0) {
      leaf = leaf->prev;
      index = leaf->n - 1;
    }
  }
}

template <typename Fn>
void ZsetValue::ForRankRange(size_t first, size_t last, bool reverse, Fn&& fn) const {
  const size_t n = size();
  if (first > last || last >= n) return;
  if (reverse) {
    VisitRanks(n - 1 - last, n - first, true, fn);
  } else {
    VisitRanks(first, last + 1, false, fn);
  }
}

template <typename Fn>
void ZsetValue::ForScoreRange(const ScoreRange& r, bool reverse, size_t offset, Fn&& fn) const {
  size_t begin, end;
  ScoreRanks(r, &begin, &end);
  if (offset >= end - begin) return;
  if (reverse) {
    VisitRanks(begin, end - offset, true, fn);
  } else {
    VisitRanks(begin + offset, end, false, fn);
  }
}

template <typename Fn>
void ZsetValue::ForLexRange(const LexRange& r, bool reverse, size_t offset, Fn&& fn) const {
  size_t begin, end;
  LexRanks(r, &begin, &end);
  if (offset >= end - begin) return;
  if (reverse) {
    VisitRanks(begin, end - offset, true, fn);
  } else {
    VisitRanks(begin + offset, end, false, fn);
  }
}

template <typename Rng>
std::pair<std::string_view, double> ZsetValue::Random(Rng& random) const {
  const size_t rank = static_cast<size_t>(static_cast<uint64_t>(random()) % size());
  std::pair<std::string_view, double> out;
  auto take = [&out](std::string_view member, double score) { out = {member, score}; };
  VisitRanks(rank, rank + 1, false, take);
  return out;
}

template <typename Fn>
uint64_t ZsetValue::Scan(uint64_t cursor, size_t count, Fn&& fn) const {
  if (encoding_ == Encoding::kListpack) {
    std::string_view member;
    double score;
    const char* end = ListpackEnd();
    for (const char* p = ListpackBegin(); p != end;) {
      p = DecodeEntry(p, &member, &score);
      fn(member, score);
    }
    return 0;
  }
  const size_t wanted = count == 0 ? 1 : count;
  // A sparse table (load down to 1/8) would return little per bucket; the
  // bucket budget still bounds one call.
  size_t buckets_left = wanted > std::numeric_limits<size_t>::max() / 10
                            ? std::numeric_limits<size_t>::max()
                            : wanted * 10;
  size_t returned = 0;
  do {
    cursor = large_->table.Scan(cursor, [&](const ZsetEntry* e) {
      fn(e->member(), e->score);
      ++returned;
    });
  } while (cursor != 0 && returned < wanted && --buckets_left > 0);
  return cursor;
}

template <typename Fn>
void ZsetValue::ForEachNode(const Node* node, Fn& fn) {
  fn(node);
  if (node->leaf) return;
  const Inner* in = static_cast<const Inner*>(node);
  for (uint32_t i = 0; i < in->n; ++i) ForEachNode(in->children[i], fn);
}

template <typename Fn>
void ZsetValue::TEST_ForEachAllocation(Fn&& fn) const {
  fn(static_cast<const void*>(this));
  if (encoding_ == Encoding::kListpack) {
    fn(static_cast<const void*>(listpack_));
    return;
  }
  fn(static_cast<const void*>(large_));
  large_->table.TEST_ForEachBucketArray(fn);
  large_->table.ForEach([&](const ZsetEntry* e) { fn(static_cast<const void*>(e)); });
  auto node_fn = [&](const Node* node) { fn(static_cast<const void*>(node)); };
  ForEachNode(large_->root, node_fn);
}

}  // namespace causalkv::store
