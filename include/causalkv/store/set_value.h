// SetValue: the value of a Redis set key (SADD, SREM, SISMEMBER, SPOP,
// SSCAN, ...), as plain data: no protocol, no keyspace. The keyspace owns
// each SetValue through a typed sibling (store/value_type.h).
//
// Three encodings, as in Redis 7.2 (OBJECT ENCODING intset, listpack,
// hashtable):
//
//   intset     one malloc'd buffer: uint32 width (2, 4 or 8 bytes), uint32
//              count, then count signed integers of that width, strictly
//              ascending. The width is the smallest that holds every value
//              ever added; it grows (re-encoding every value) when a value
//              needs more, and never shrinks (as Redis's intset). Lookups
//              are binary searches; inserts and removals memmove the tail.
//   listpack   one malloc'd buffer, members back to back in insertion order:
//                uint32 count, uint32 bytes used (header included),
//                then per member: varint length, bytes.
//              Lookups are linear; it is meant for small sets.
//   hashtable  an IntrusiveTable (store/hash_table.h) of one malloc'd block
//              per member:
//                MemberEntry* next, varint length, bytes.
//              For a 13-byte member ("member:123456") that is 22 bytes, which
//              the allocator rounds to 24 usable, plus 8-16 bytes of bucket
//              per member: below Redis's 56-64 (dictEntry, sds, bucket).
//
// A member is a byte string. An intset holds only members that are integers
// in Redis's canonical text (ParseInteger: "0", or an optional '-' and a
// nonzero digit first, fitting int64), for which text and value are one to
// one; so "01", "-0", "+1" and " 1" are members of their own, never equal to
// 1, and force an intset to convert. Varints are LEB128 (7 bits a byte, low
// bits first), minimal.
//
// Invariants:
//   - members are unique, and a stored set is not empty once the keyspace
//     holds it (the keyspace deletes a key whose set empties);
//   - under the limits of each Add, an intset holds at most
//     min(set_max_intset_entries, 2^30) members; a listpack at most
//     set_max_listpack_entries members, none longer than
//     set_max_listpack_value bytes, and at most kMaxListpackBytes bytes in
//     all: when an Add would break one of these it converts first;
//   - the encoding only ever goes intset -> listpack -> hashtable or intset
//     -> hashtable (as Redis), never back, however small the set gets;
//   - memory_bytes_ is the usable size of this object, of the intset or
//     listpack buffer or of the table object, and of every member block;
//     memory_bytes() adds the table's bucket arrays.
//
// Views passed to ForEach/Scan callbacks: a listpack's or hashtable's point
// into this set and stay valid until its next change; an intset's point into
// a scratch buffer valid during that call only. Add/Remove each move a
// hashtable's incremental rehash on by one bucket; const calls change
// nothing.
//
// Thread-compatibility: one thread at a time (the loop thread).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "causalkv/store/collection_limits.h"
#include "causalkv/store/trusted_varint.h"
#include "causalkv/store/hash_table.h"

namespace causalkv::store {

class SetValue {
 public:
  enum class Encoding { kIntset, kListpack, kHashtable };
  // A listpack bigger than this converts whatever the limits say (Redis's
  // LISTPACK_MAX_SAFETY_SIZE); it also keeps the header's uint32s in range.
  static constexpr size_t kMaxListpackBytes = size_t{1} << 30;
  // An intset never holds more than this, whatever set_max_intset_entries
  // says (Redis's intsetMaxEntries cap).
  static constexpr size_t kMaxIntsetEntries = size_t{1} << 30;

  // An empty set in the encoding Redis 7.2's setTypeCreate would choose for
  // a first member `first` when about `size_hint` members will be added
  // (SADD key m1..mn passes n; SMOVE passes 1): intset if `first` is an
  // integer (ParseInteger) and size_hint <= set_max_intset_entries; else
  // listpack if size_hint <= set_max_listpack_entries and first.size() <=
  // set_max_listpack_value; else a hashtable sized for size_hint members.
  // `first` is not added: the caller Adds it (and the rest) next.
  static SetValue* Create(std::string_view first, size_t size_hint, const CollectionLimits& limits);
  static void Destroy(SetValue* s);           // nullptr allowed
  static SetValue* Clone(const SetValue& s);  // deep copy, same encoding and order
  SetValue(const SetValue&) = delete;
  SetValue& operator=(const SetValue&) = delete;

  // Redis's string2ll: true, with *value set, if `s` is the canonical decimal
  // text of an int64 ("0", or an optional '-', a digit 1-9, then digits;
  // no '+', no spaces, no leading zeros, no "-0"). Such members can live in
  // an intset.
  static bool ParseInteger(std::string_view s, int64_t* value);

  size_t size() const {
    switch (encoding_) {
      case Encoding::kIntset:
        return intset_header()->count;
      case Encoding::kListpack:
        return listpack_header()->count;
      case Encoding::kHashtable:
        break;
    }
    return table_->size();
  }
  Encoding encoding() const { return encoding_; }
  // Every byte this value holds on the heap: malloc_usable_size() of each of
  // its allocations, this object included (kept incrementally: O(1)).
  size_t memory_bytes() const {
    return memory_bytes_ + (encoding_ == Encoding::kHashtable ? table_->bucket_usable_bytes() : 0);
  }
  bool Contains(std::string_view member) const;
  // Adds `member`; returns true if it was new. Converts first, as Redis
  // 7.2's setTypeAddAux, when the set could not hold it:
  //   intset, integer member: to a hashtable when the count would exceed
  //     min(set_max_intset_entries, kMaxIntsetEntries);
  //   intset, other member: to a listpack (the integers in ascending order,
  //     then `member`) if size() < set_max_listpack_entries, member.size()
  //     <= set_max_listpack_value, every integer's text fits
  //     set_max_listpack_value too, and the listpack would fit
  //     kMaxListpackBytes; else to a hashtable;
  //   listpack, new member: to a hashtable unless size() <
  //     set_max_listpack_entries, member.size() <= set_max_listpack_value
  //     and the listpack would fit kMaxListpackBytes.
  // Never converts back. `member` may point into this set.
  bool Add(std::string_view member, const CollectionLimits& limits);
  // Before adding about `count` members to an existing set (SADD key m1..mn
  // passes n): converts to a hashtable sized for them when count exceeds
  // set_max_listpack_entries (a listpack) or set_max_intset_entries (an
  // intset), as Redis 7.2's setTypeMaybeConvert does, whether or not the
  // members turn out to be new. Changes nothing otherwise.
  void PrepareToAdd(size_t count, const CollectionLimits& limits);
  // Removes `member`; false if absent. Never converts.
  bool Remove(std::string_view member);
  // Every member: intset ascending by integer value (Redis's order),
  // listpack in insertion order, hashtable in bucket order.
  // fn(std::string_view member); it must not change this set.
  template <typename Fn>
  void ForEach(Fn&& fn) const;
  // SSCAN: intset and listpack visit everything and return 0 (as Redis does
  // for small encodings). Hashtable: as Redis's SSCAN, visits buckets from
  // `cursor` (reverse-binary cursor) until `count` members were returned or
  // 10 * count buckets were visited, and returns the next cursor (0 at the
  // end); every member present for the whole iteration is returned at least
  // once, across growth, shrink and an incremental rehash. A member may be
  // returned more than once. fn as ForEach's.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const;
  // A uniformly random member (REQUIRES size() > 0); `random` returns
  // uniform uint64s. A copy: an intset has no bytes to view.
  template <typename Rng>
  std::string Random(Rng& random) const;
  // Appends the value's bytes: varint count, then per member varint length,
  // bytes. An intset's members ascending by value, a hashtable's sorted by
  // bytes (so that equal sets in these encodings give the same bytes on
  // every node, whatever their hash seed), a listpack's in its order.
  // DO NOT CHANGE: snapshots, the append-only log and peers carry this form.
  void Serialize(std::string* out) const;
  // The inverse; nullptr when the bytes are malformed (truncated, a length
  // beyond the bytes left, a count larger than the bytes could hold,
  // trailing bytes, a duplicate member, an empty set). The encoding is the
  // one Create(first member, count, limits) and an Add of each member in
  // order would give. Never crashes, and allocates at most a small multiple
  // of bytes.size() whatever the input (about 16 times at worst, for tiny
  // members in a hashtable): it is fed from peers and files.
  static SetValue* Deserialize(std::string_view bytes, const CollectionLimits& limits);

  // Calls fn(const void*) with each heap block this value holds, so that a
  // test can sum their malloc_usable_size() against memory_bytes().
  template <typename Fn>
  void TEST_ForEachAllocation(Fn&& fn) const;

 private:
  struct IntsetHeader {
    uint32_t width;  // bytes per value: 2, 4 or 8
    uint32_t count;
  };
  struct ListpackHeader {
    uint32_t count;  // members
    uint32_t bytes;  // bytes used, this header included
  };
  // A hashtable member: this header, then varint length and bytes.
  struct MemberEntry {
    MemberEntry* next;
    const char* member() const { return reinterpret_cast<const char*>(this) + sizeof(MemberEntry); }
    char* member() { return reinterpret_cast<char*>(this) + sizeof(MemberEntry); }
  };
  struct EntryTraits {
    static MemberEntry** NextSlot(MemberEntry* e) { return &e->next; }
    static std::string_view Key(const MemberEntry* e) { return MemberAt(e->member()); }
    static bool KeyEquals(const MemberEntry* e, std::string_view key) { return Key(e) == key; }
    static void Destroy(MemberEntry* e) { std::free(e); }
  };
  using MemberTable = IntrusiveTable<MemberEntry, EntryTraits>;
  // "-9223372036854775808"
  static constexpr size_t kMaxIntegerChars = 20;

  SetValue() = default;
  ~SetValue() = default;

  // The length-prefixed member at `p`.
  static std::string_view MemberAt(const char* p) {
    size_t len;
    p = ReadTrustedVarint(p, &len);
    return {p, len};
  }
  static std::string_view FormatInteger(int64_t v, char (&buf)[kMaxIntegerChars]) {
    const auto result = std::to_chars(buf, buf + kMaxIntegerChars, v);
    return {buf, static_cast<size_t>(result.ptr - buf)};
  }

  const IntsetHeader* intset_header() const {
    return reinterpret_cast<const IntsetHeader*>(block_);
  }
  IntsetHeader* intset_header() { return reinterpret_cast<IntsetHeader*>(block_); }
  const ListpackHeader* listpack_header() const {
    return reinterpret_cast<const ListpackHeader*>(block_);
  }
  ListpackHeader* listpack_header() { return reinterpret_cast<ListpackHeader*>(block_); }

  // --- intset (set_value.cc) ---
  static int64_t ReadInteger(const char* p, uint32_t width) {
    switch (width) {
      case 2: {
        int16_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
      }
      case 4: {
        int32_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
      }
      default: {
        int64_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
      }
    }
  }
  int64_t IntsetGet(size_t i) const {
    const uint32_t width = intset_header()->width;
    return ReadInteger(block_ + sizeof(IntsetHeader) + i * width, width);
  }
  size_t IntsetBytes() const {
    return sizeof(IntsetHeader) + size_t{intset_header()->count} * intset_header()->width;
  }
  // True if `v` is stored; *index is where it is or would be inserted.
  bool IntsetFind(int64_t v, size_t* index) const;
  // REQUIRES: `v` absent, `index` from IntsetFind(v).
  void IntsetInsert(int64_t v, size_t index);
  bool IntsetErase(int64_t v);
  bool AddToIntset(std::string_view member, const CollectionLimits& limits);
  void ConvertIntsetToListpack(std::string_view extra);

  // --- listpack ---
  const char* ListpackBegin() const { return block_ + sizeof(ListpackHeader); }
  const char* ListpackEnd() const { return block_ + listpack_header()->bytes; }
  // The member's entry in the listpack, or nullptr.
  const char* ListpackFind(std::string_view member) const;
  bool PointsIntoListpack(std::string_view s) const;
  bool AddToListpack(std::string_view member, const CollectionLimits& limits);

  // --- shared by intset and listpack ---
  // Replaces `old_len` of the block's `used` bytes at `offset` by `new_len`
  // bytes (left unwritten), moving the tail and reallocating; returns where
  // they start. The caller updates the header.
  char* ResizeBlockRange(size_t used, size_t offset, size_t old_len, size_t new_len);
  void ReallocateBlock(size_t bytes);

  // --- hashtable ---
  // Moves every member to a new table sized for about `members` members.
  void ConvertToTable(size_t members);
  // An empty table sized for about `members`, counted in memory_bytes_.
  MemberTable* NewTable(size_t members);
  bool AddToTable(std::string_view member);
  MemberEntry* NewEntry(std::string_view member);

  union {
    char* block_ = nullptr;  // kIntset, kListpack
    MemberTable* table_;     // kHashtable
  };
  size_t memory_bytes_ = 0;
  Encoding encoding_ = Encoding::kIntset;
};

template <typename Fn>
void SetValue::ForEach(Fn&& fn) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      char buf[kMaxIntegerChars];
      const size_t n = intset_header()->count;
      for (size_t i = 0; i < n; ++i) fn(FormatInteger(IntsetGet(i), buf));
      return;
    }
    case Encoding::kListpack: {
      const char* end = ListpackEnd();
      for (const char* p = ListpackBegin(); p != end;) {
        const std::string_view member = MemberAt(p);
        p = member.data() + member.size();
        fn(member);
      }
      return;
    }
    case Encoding::kHashtable:
      table_->ForEach([&](const MemberEntry* e) { fn(MemberAt(e->member())); });
      return;
  }
}

template <typename Fn>
uint64_t SetValue::Scan(uint64_t cursor, size_t count, Fn&& fn) const {
  if (encoding_ != Encoding::kHashtable) {
    ForEach(fn);
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
    cursor = table_->Scan(cursor, [&](const MemberEntry* e) {
      fn(MemberAt(e->member()));
      ++returned;
    });
  } while (cursor != 0 && returned < wanted && --buckets_left > 0);
  return cursor;
}

template <typename Rng>
std::string SetValue::Random(Rng& random) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      char buf[kMaxIntegerChars];
      const uint64_t i = static_cast<uint64_t>(random()) % intset_header()->count;
      return std::string(FormatInteger(IntsetGet(i), buf));
    }
    case Encoding::kListpack: {
      uint64_t skip = static_cast<uint64_t>(random()) % listpack_header()->count;
      const char* p = ListpackBegin();
      std::string_view member = MemberAt(p);
      while (skip-- > 0) member = MemberAt(member.data() + member.size());
      return std::string(member);
    }
    case Encoding::kHashtable:
      break;
  }
  return std::string(MemberAt(table_->UniformRandom(random)->member()));
}

template <typename Fn>
void SetValue::TEST_ForEachAllocation(Fn&& fn) const {
  fn(static_cast<const void*>(this));
  if (encoding_ != Encoding::kHashtable) {
    fn(static_cast<const void*>(block_));
    return;
  }
  fn(static_cast<const void*>(table_));
  table_->TEST_ForEachBucketArray(fn);
  table_->ForEach([&](const MemberEntry* e) { fn(static_cast<const void*>(e)); });
}

}  // namespace causalkv::store
