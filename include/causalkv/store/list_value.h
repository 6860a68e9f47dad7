// ListValue: the value of a Redis list key (LPUSH, LPOP, LRANGE, LSET,
// LINSERT, LTRIM, LREM, ...), as plain data: no protocol, no keyspace. The
// keyspace owns each ListValue through a typed sibling (store/value_type.h).
//
// Both encodings are made of one kind of block, a node: one malloc'd
// block holding a 32-byte header (links, element count, Redis size, where
// its bytes start and end) and then the elements back to back, each as
//
//     varint length, bytes, the same varint mirrored (its bytes reversed)
//
// so that an element can be read forwards from its start and backwards from
// its end (the mirrored length plays the part of Redis's listpack backlen).
// A 10-byte element takes 12 bytes, as in Redis's listpack. The node's bytes
// sit anywhere in its block: room is kept at either end, so that pushes and
// pops at both ends of a node are O(1) amortized.
//
//   listpack   at most one node (none while the list is empty).
//   quicklist  a doubly linked list of nodes, none of them empty.
//
// A node's size is reckoned as Redis would reckon it: redis_bytes is what
// Redis's listpack of the same elements takes (lpBytes: 7 bytes of header
// and end, each element with its Redis encoding and backlen, a string such
// as "123" as an integer). Every decision below uses that reckoning, so that
// nodes fill, split, merge and the encoding flips exactly where Redis 7.2's
// would, and OBJECT ENCODING matches (but for the two writes below where
// Redis 7.2 lets a node grow past its limit and this list does not). The limit of a node is
// limits.list_max_listpack_size ("fill"): positive, that many elements and
// at most 8 KB (Redis's SIZE_SAFETY_LIMIT); 0 counts as 1; -1..-5, 4, 8, 16,
// 32 or 64 KB (below -5 counts as -5). As in Redis, the conversions check
// the limits passed to each write, while a quicklist's nodes keep the fill
// in force when it was converted (a later CONFIG SET changes only new
// quicklists' nodes). Following Redis 7.2 (t_list.c
// listTypeTryConvertListpack / listTypeTryConvertQuicklist, quicklist.c):
//
//   - listpack -> quicklist, before a write that adds elements (every push,
//     Insert, Set): when the listpack's bytes plus the raw lengths of the
//     elements being added exceed the limit (count mode: or its elements
//     plus the added ones exceed fill). The listpack becomes the first node.
//     PushFrontAll/PushBackAll decide once for all their elements, as
//     LPUSH/RPUSH with several elements do.
//   - quicklist -> listpack, after a write that removes elements (pops,
//     Erase, Set): when one node is left and it is at most half the limit
//     (size mode: its bytes <= limit / 2; count mode: its elements <=
//     fill / 2). The half keeps a list at the boundary from flipping on
//     every write. A node holding one element of 1 GB or more stays a
//     quicklist (Redis keeps it as a plain node).
//   - a push goes into the end node when that node's bytes + the element's
//     length + 8 (Redis's SIZE_ESTIMATE_OVERHEAD) stay within the limit,
//     else into a new node; a pop frees its node when it empties.
//   - Insert/InsertAfter follow Redis's _quicklistInsert: into the node when
//     it has room; at a node's edge into the neighbour with room, else into
//     a new node; otherwise the node is split at the position, the element
//     goes into the part on its side, and the nodes around are merged
//     pairwise when the merge fits the limit (Redis's _quicklistMergeNodes).
//     Where that part has no room for the element, Redis 7.2 adds it anyway,
//     past the limit; here it gets a node of its own, merged where it fits.
//   - Erase (Redis's quicklistDelRange) frees the nodes it empties and merges
//     nothing: merging would change when a shrinking quicklist is down to one
//     node, and so OBJECT ENCODING.
//   - Set replaces in place. Where a larger element would take the node past
//     its limit (and the node holds others) the element is moved to a node
//     of its own, merged where it fits as Insert's. Redis 7.2 replaces in
//     place whatever the size (later versions isolate only an element larger
//     than a node: redis/redis#12659), so its nodes can grow without bound.
//
// Invariants:
//   - no node is empty; a listpack has at most one node; size() is the sum
//     of the node counts; each node's redis_bytes is 7 plus its elements';
//   - a node of two or more elements is within its limit (under the fill
//     it was made with), give or take the last element added to a listpack
//     (the check counts raw lengths, as Redis's); a listpack converted whole
//     by PushFrontAll/PushBackAll may be larger, as in Redis, and only
//     shrinks from then on;
//   - memory_bytes_ is the usable size of this object and of every node.
//
// Views returned (At, ForRange) point into this list and stay valid until
// its next change. No argument of a change may point into this list: copy
// it first (PopFront/PopBack already return copies).
//
// Thread-compatibility: one thread at a time (the loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "causalkv/store/collection_limits.h"
#include "causalkv/store/trusted_varint.h"

namespace causalkv::store {

class ListValue {
 public:
  enum class Encoding { kListpack, kQuicklist };  // OBJECT ENCODING: listpack, quicklist
  // The longest element a list holds (node offsets are 32-bit). Redis 7.2
  // would store a longer one in a plain node; callers reply an error.
  static constexpr size_t kMaxElementBytes = 0xffffffffu - 64;

  static ListValue* Create();                   // empty, listpack encoding
  static void Destroy(ListValue* l);            // nullptr allowed
  static ListValue* Clone(const ListValue& l);  // deep copy: same encoding and nodes
  ListValue(const ListValue&) = delete;
  ListValue& operator=(const ListValue&) = delete;

  size_t size() const { return size_; }
  Encoding encoding() const { return encoding_; }
  // Every byte this value holds on the heap: malloc_usable_size() of each of
  // its allocations, this object included (kept incrementally: O(1)).
  size_t memory_bytes() const { return memory_bytes_; }
  // Nodes (1 or 0 for a listpack), as Redis's DEBUG OBJECT ql_nodes.
  size_t node_count() const { return nodes_; }

  // Every write below takes the limits in force; the conversions they may
  // make are described at the top. REQUIRES for each element v:
  // v.size() <= kMaxElementBytes, and v does not point into this list.

  // LPUSH/RPUSH of one element; O(1) amortized.
  void PushFront(std::string_view v, const CollectionLimits& limits);
  void PushBack(std::string_view v, const CollectionLimits& limits);
  // LPUSH/RPUSH of several: each of `values` in turn to the front (so they
  // end up reversed, as LPUSH's) or the back, the conversion decided once
  // for all of them beforehand, as Redis does.
  void PushFrontAll(std::span<const std::string_view> values, const CollectionLimits& limits);
  void PushBackAll(std::span<const std::string_view> values, const CollectionLimits& limits);
  // Removes and returns the first/last element (REQUIRES size() > 0).
  std::string PopFront(const CollectionLimits& limits);
  std::string PopBack(const CollectionLimits& limits);
  // Element `index` (REQUIRES index < size()); the view is valid until the
  // next change. O(nodes skipped + one node).
  std::string_view At(size_t index) const;
  // LSET: replaces element `index` (REQUIRES index < size()).
  void Set(size_t index, std::string_view v, const CollectionLimits& limits);
  // LINSERT BEFORE: inserts before element `index` (REQUIRES index <= size();
  // index == size() appends).
  void Insert(size_t index, std::string_view v, const CollectionLimits& limits);
  // LINSERT AFTER: inserts after element `index` (REQUIRES index < size()).
  // The same as Insert(index + 1) but for which node gets the element, as
  // in Redis.
  void InsertAfter(size_t index, std::string_view v, const CollectionLimits& limits);
  // Removes `count` elements from `index` on (REQUIRES index + count <=
  // size()): LTRIM, LREM's work, LPOP/RPOP with a count. count == 0 only
  // runs the shrinking conversion check, as an LTRIM that keeps everything.
  void Erase(size_t index, size_t count, const CollectionLimits& limits);

  // The conversion checks on their own, for the few commands whose Redis
  // counterparts run them apart from the change: LINSERT converts for its
  // element before looking for the pivot (so even when it is missing), and
  // LSET before checking the index; LMOVE of a list onto itself pushes
  // before it checks the source for shrinking. Both do nothing when the
  // list is not in the encoding they convert from.
  void MaybeConvertBeforeGrowth(size_t added_bytes, size_t added_count,
                                const CollectionLimits& limits);
  void MaybeConvertAfterShrink(const CollectionLimits& limits);

  // Visits elements [first, last] (REQUIRES first <= last < size()) in
  // order, or from `last` down to `first` when `reverse`. fn(std::string_view
  // v, size_t index) returns false to stop (or returns void). It must not
  // change this list. O(nodes skipped + elements visited).
  template <typename Fn>
  void ForRange(size_t first, size_t last, bool reverse, Fn&& fn) const;

  // Appends the value's bytes: varint count, then per element varint length
  // and bytes, front to back. Varints are LEB128 (7 bits a byte, low bits
  // first). DO NOT CHANGE: snapshots, the append-only log and peers carry
  // this form.
  void Serialize(std::string* out) const;
  // The inverse; nullptr when the bytes are malformed (truncated, a length
  // beyond the bytes left or over kMaxElementBytes, a count larger than the
  // bytes could hold, trailing bytes, an empty list). Built as if each
  // element were PushBack'ed in order under `limits`, so the same bytes give
  // the same encoding and nodes on every node of the cluster. Never
  // crashes; it is fed from peers and files. Allocates at most a small
  // multiple of bytes.size() (about 3 times by default; up to 48 times with
  // list-max-listpack-size 1, one node per element).
  static ListValue* Deserialize(std::string_view bytes, const CollectionLimits& limits);

  // Calls fn(const void*) with each heap block this value holds, so that a
  // test can sum their malloc_usable_size() against memory_bytes().
  template <typename Fn>
  void TEST_ForEachAllocation(Fn&& fn) const;
  // Calls fn(size_t count, size_t redis_bytes) for each node, front to back.
  template <typename Fn>
  void TEST_ForEachNode(Fn&& fn) const;
  // Checks the invariants that need no limits (links, counts, sizes, every
  // element well formed); returns what is wrong, or "" when all hold.
  std::string TEST_CheckInvariants() const;

 private:
  struct Node {
    Node* prev;
    Node* next;
    uint32_t count;        // elements, >= 1 once linked
    uint32_t redis_bytes;  // Redis's lpBytes for these elements
    uint32_t begin;        // the elements are data()[begin, end)
    uint32_t end;
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
    const char* first() const { return data() + begin; }
    const char* last() const { return data() + end; }
    size_t used() const { return end - begin; }
  };
  static_assert(sizeof(Node) == 32);
  // A node's limit: `bytes` in size mode, `count` in count mode (the other
  // is SIZE_MAX).
  struct NodeLimit {
    size_t bytes;
    size_t count;
  };

  ListValue() = default;
  ~ListValue() = default;

  // The element starting at `p`; returns where the next one starts.
  static const char* DecodeEntry(const char* p, std::string_view* v) {
    size_t len;
    const char* bytes = ReadTrustedVarint(p, &len);
    *v = std::string_view(bytes, len);
    return bytes + len + (bytes - p);  // the mirrored length is as long as the length
  }
  // The element ending at `end`; returns where it starts.
  static const char* DecodeEntryBackward(const char* end, std::string_view* v) {
    size_t len = 0;
    int shift = 0;
    const char* q = end;
    uint8_t byte;
    do {
      byte = static_cast<uint8_t>(*--q);
      len |= static_cast<size_t>(byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    const size_t varint_len = end - q;
    *v = std::string_view(q - len, len);
    return q - len - varint_len;
  }

  // The node holding element `index` (< size()) and the element's position
  // in it; walks from the nearer end.
  Node* FindNode(size_t index, size_t* offset) const;
  // The byte offset, from n->begin, of the node's element `k` (<= count);
  // walks from the nearer end of the node.
  static size_t EntryOffset(const Node* n, size_t k);

  static NodeLimit LimitOf(int32_t list_max_listpack_size);
  static bool AllowInsert(const Node* n, size_t len, const NodeLimit& limit);
  static bool AllowMerge(const Node* a, const Node* b, const NodeLimit& limit);
  size_t ListpackRedisBytes() const;

  void PushUnchecked(std::string_view v, bool front, const NodeLimit& limit);
  std::string Pop(bool front, const CollectionLimits& limits);
  void InsertNear(size_t index, bool after, std::string_view v, const CollectionLimits& limits);

  // Node allocation and links. Every function that can move a node takes
  // it by reference and relinks it.
  Node* NewNode(size_t capacity);
  void FreeNode(Node* n);  // REQUIRES: unlinked
  void LinkBetween(Node* prev, Node* next, Node* n);
  void LinkAfter(Node* pos, Node* n) { LinkBetween(pos, pos ? pos->next : head_, n); }
  void LinkBefore(Node* pos, Node* n) { LinkBetween(pos ? pos->prev : tail_, pos, n); }
  void Unlink(Node* n);
  void Relink(Node* n);
  static size_t Capacity(const Node* n);
  // Lays the node's bytes out again: the first `at` at new_begin, then a gap
  // of `gap` bytes, then the rest; in a block of `capacity` data bytes
  // (the current one when equal). Returns the node.
  Node* Relayout(Node* n, size_t at, size_t gap, size_t capacity, size_t new_begin);
  // Opens `len` bytes at byte offset `at` (from begin) and returns them.
  char* OpenGap(Node*& n, size_t at, size_t len);
  // Removes `len` bytes at `at`; gives memory back when the node got sparse.
  void CloseGap(Node*& n, size_t at, size_t len);
  void ShrinkToFit(Node*& n);
  // Element-level changes of one node: count and redis_bytes follow.
  void NodeInsert(Node*& n, size_t at, std::string_view v);
  void NodeErase(Node*& n, size_t first, size_t count);
  // Replaces the element of `old_bytes` at `at` by v; the node's Redis size
  // becomes node_redis_bytes.
  void ReplaceEntry(Node*& n, size_t at, size_t old_bytes, std::string_view v,
                    size_t node_redis_bytes);
  // Moves elements [k, count) (0 < k < count) to a new node linked after n.
  Node* Split(Node*& n, size_t k);
  // Merges adjacent a (before) and b; returns the node that holds both.
  Node* Merge(Node* a, Node* b);
  void MergeAround(Node* center, const NodeLimit& limit);

  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  size_t size_ = 0;
  size_t nodes_ = 0;
  size_t memory_bytes_ = 0;
  Encoding encoding_ = Encoding::kListpack;
  // The node limit of the quicklist, taken from the limits in force when it
  // was converted (Redis sets quicklist->fill then).
  int32_t fill_ = 0;
};

template <typename Fn>
void ListValue::ForRange(size_t first, size_t last, bool reverse, Fn&& fn) const {
  auto call = [&fn](std::string_view v, size_t index) -> bool {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, std::string_view, size_t>>) {
      fn(v, index);
      return true;
    } else {
      return static_cast<bool>(fn(v, index));
    }
  };
  std::string_view v;
  size_t offset;
  if (!reverse) {
    const Node* n = FindNode(first, &offset);
    const char* p = n->first() + EntryOffset(n, offset);
    for (size_t i = first;; ++i) {
      p = DecodeEntry(p, &v);
      if (!call(v, i) || i == last) return;
      if (++offset == n->count) {
        n = n->next;
        offset = 0;
        p = n->first();
      }
    }
  }
  const Node* n = FindNode(last, &offset);
  const char* end = n->first() + EntryOffset(n, offset + 1);
  for (size_t i = last;; --i) {
    end = DecodeEntryBackward(end, &v);
    if (!call(v, i) || i == first) return;
    if (offset-- == 0) {
      n = n->prev;
      offset = n->count - 1;
      end = n->last();
    }
  }
}

template <typename Fn>
void ListValue::TEST_ForEachAllocation(Fn&& fn) const {
  fn(static_cast<const void*>(this));
  for (const Node* n = head_; n != nullptr; n = n->next) fn(static_cast<const void*>(n));
}

template <typename Fn>
void ListValue::TEST_ForEachNode(Fn&& fn) const {
  for (const Node* n = head_; n != nullptr; n = n->next) {
    fn(static_cast<size_t>(n->count), static_cast<size_t>(n->redis_bytes));
  }
}

}  // namespace causalkv::store
