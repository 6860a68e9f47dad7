// HashValue: the value of a Redis hash key (HSET, HGET, HDEL, HSCAN, ...),
// as plain data: no protocol, no keyspace. The keyspace owns each HashValue
// through a typed sibling (store/value_type.h).
//
// Two encodings, as in Redis, both keeping every string inline:
//
//   listpack   one malloc'd buffer, entries back to back in insertion order:
//                uint32 count, uint32 bytes used (header included),
//                then per entry: varint field length, field,
//                                varint value length, value.
//              Lookups are linear; it is meant for small hashes.
//   hashtable  an IntrusiveTable (store/hash_table.h, the keyspace's table
//              algorithm) of one malloc'd block per entry:
//                HashEntry* next, then the entry exactly as above.
//              For 8-byte fields and values that is 26 bytes, which the
//              allocator rounds to 40 usable, plus about 8-16 bytes of bucket
//              per entry: below Redis's 64-72 (dictEntry, two sds, bucket).
//
// An entry's bytes are the serialized form of that entry (Serialize below),
// so serializing copies them. Varints are LEB128 (7 bits a byte, low bits
// first), always minimal in memory.
//
// Invariants:
//   - fields are unique, and a stored hash is not empty once the keyspace
//     holds it (the keyspace deletes a key whose hash empties);
//   - a listpack never holds more than hash_max_listpack_entries entries, a
//     field or value longer than hash_max_listpack_value bytes, nor more
//     than kMaxListpackBytes bytes in all, under the limits of each Set:
//     when a Set would break one of these it converts to a hashtable first;
//   - the encoding only ever goes from listpack to hashtable (as Redis);
//   - memory_bytes_ is the usable size of this object, of the listpack or
//     of the table object, and of every entry; memory_bytes() adds the
//     table's bucket arrays, which only the table allocates.
//
// Views returned (Get, ForEach, Scan, Random) point into this hash and stay
// valid until its next change. Set/Erase each move the incremental rehash on
// by one bucket; const calls change nothing.
//
// Thread-compatibility: one thread at a time (the loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "causalkv/store/collection_limits.h"
#include "causalkv/store/trusted_varint.h"
#include "causalkv/store/hash_table.h"

namespace causalkv::store {


class HashValue {
 public:
  enum class Encoding { kListpack, kHashtable };
  // A listpack bigger than this converts whatever the limits say (Redis has
  // the same safety cap); it also keeps the header's uint32 sizes in range.
  static constexpr size_t kMaxListpackBytes = size_t{1} << 30;

  static HashValue* Create();                   // empty, listpack encoding
  static void Destroy(HashValue* h);            // nullptr allowed
  static HashValue* Clone(const HashValue& h);  // deep copy, same encoding and order
  HashValue(const HashValue&) = delete;
  HashValue& operator=(const HashValue&) = delete;

  size_t size() const {
    return encoding_ == Encoding::kListpack ? header()->count : table_->size();
  }
  Encoding encoding() const { return encoding_; }
  // Every byte this value holds on the heap: malloc_usable_size() of each of
  // its allocations, this object included (kept incrementally: O(1)).
  size_t memory_bytes() const {
    return memory_bytes_ + (encoding_ == Encoding::kHashtable ? table_->bucket_usable_bytes() : 0);
  }
  // The value of `field`; the view stays valid until the next change to this hash.
  bool Get(std::string_view field, std::string_view* value) const;
  // Sets `field` to `value`; returns true if the field was new. An existing
  // field keeps its place in a listpack (as Redis). Converts to a hashtable
  // when the entry count would exceed limits.hash_max_listpack_entries or the
  // field or value is longer than hash_max_listpack_value bytes. Never
  // converts back (as Redis). `field`/`value` may point into this hash
  // (HSET f f-of-HGET).
  bool Set(std::string_view field, std::string_view value, const CollectionLimits& limits);
  // Removes `field`; false if absent.
  bool Erase(std::string_view field);
  // Every (field, value): listpack in insertion order (Redis's HGETALL
  // order), hashtable in bucket order.
  // fn(std::string_view field, std::string_view value); it must not change this hash.
  template <typename Fn>
  void ForEach(Fn&& fn) const;
  // HSCAN: listpack visits everything and returns 0 (as Redis does for small
  // encodings). Hashtable: as Redis's HSCAN, visits buckets from `cursor`
  // (reverse-binary cursor) until `count` entries were returned or 10 *
  // count buckets were visited, and returns the next cursor (0 at the end);
  // every field present for the whole iteration is returned at least once,
  // across growth, shrink and an incremental rehash. A field may be returned
  // more than once.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const;
  // A uniformly random entry (REQUIRES size() > 0); `random` returns uniform uint64s.
  template <typename Rng>
  std::pair<std::string_view, std::string_view> Random(Rng& random) const;
  // Appends the value's bytes: varint count, then per entry varint field
  // length, field, varint value length, value; a listpack's entries in their
  // order, a hashtable's sorted by field (the same bytes on every node).
  // DO NOT CHANGE: snapshots, the append-only log and peers carry this form.
  void Serialize(std::string* out) const;
  // The inverse; nullptr when the bytes are malformed (truncated, a length
  // beyond the bytes left, a count larger than the bytes could hold,
  // trailing bytes, a duplicate field, an empty hash). The encoding is
  // chosen by `limits` as if the entries were Set in order. Never crashes,
  // and allocates at most a small multiple of bytes.size() whatever the
  // input (about 12 times at worst, for tiny entries in a hashtable): it is
  // fed from peers and files.
  static HashValue* Deserialize(std::string_view bytes, const CollectionLimits& limits);

  // Calls fn(const void*) with each heap block this value holds, so that a
  // test can sum their malloc_usable_size() against memory_bytes().
  template <typename Fn>
  void TEST_ForEachAllocation(Fn&& fn) const;

 private:
  struct ListpackHeader {
    uint32_t count;  // entries
    uint32_t bytes;  // bytes used, this header included
  };
  // A hashtable entry: this header, then the entry bytes (see the top).
  struct HashEntry {
    HashEntry* next;
    const char* entry() const { return reinterpret_cast<const char*>(this) + sizeof(HashEntry); }
    char* entry() { return reinterpret_cast<char*>(this) + sizeof(HashEntry); }
  };
  struct EntryTraits {
    static HashEntry** NextSlot(HashEntry* e) { return &e->next; }
    static std::string_view Key(const HashEntry* e) { return FieldAt(e->entry()); }
    static bool KeyEquals(const HashEntry* e, std::string_view key) { return Key(e) == key; }
    static void Destroy(HashEntry* e) { std::free(e); }
  };
  using FieldTable = IntrusiveTable<HashEntry, EntryTraits>;

  HashValue() = default;
  ~HashValue() = default;

  static std::string_view FieldAt(const char* entry) {
    size_t len;
    const char* p = ReadTrustedVarint(entry, &len);
    return {p, len};
  }
  // Decodes the entry at `entry`; returns the byte after it.
  static const char* DecodeEntry(const char* entry, std::string_view* field,
                                 std::string_view* value) {
    size_t len;
    const char* p = ReadTrustedVarint(entry, &len);
    *field = {p, len};
    p = ReadTrustedVarint(p + len, &len);
    *value = {p, len};
    return p + len;
  }

  const ListpackHeader* header() const {
    return reinterpret_cast<const ListpackHeader*>(listpack_);
  }
  ListpackHeader* header() { return reinterpret_cast<ListpackHeader*>(listpack_); }
  const char* ListpackBegin() const { return listpack_ + sizeof(ListpackHeader); }
  const char* ListpackEnd() const { return listpack_ + header()->bytes; }
  // The entry for `field` in the listpack, or nullptr.
  const char* ListpackFind(std::string_view field) const;
  bool PointsIntoListpack(std::string_view s) const;
  // Replaces `old_len` listpack bytes at `offset` by `new_len` bytes (left
  // unwritten), moving the tail and reallocating; returns where they start.
  char* ResizeListpackRange(size_t offset, size_t old_len, size_t new_len);
  bool SetInListpack(std::string_view field, std::string_view value,
                     const CollectionLimits& limits);
  bool SetInTable(std::string_view field, std::string_view value);
  void ConvertToTable();
  HashEntry* NewEntry(std::string_view field, std::string_view value);
  void FreeEntry(HashEntry* e);

  union {
    char* listpack_ = nullptr;  // kListpack
    FieldTable* table_;         // kHashtable
  };
  size_t memory_bytes_ = 0;
  Encoding encoding_ = Encoding::kListpack;
};

template <typename Fn>
void HashValue::ForEach(Fn&& fn) const {
  std::string_view field, value;
  if (encoding_ == Encoding::kListpack) {
    const char* end = ListpackEnd();
    for (const char* p = ListpackBegin(); p != end;) {
      p = DecodeEntry(p, &field, &value);
      fn(field, value);
    }
    return;
  }
  table_->ForEach([&](const HashEntry* e) {
    DecodeEntry(e->entry(), &field, &value);
    fn(field, value);
  });
}

template <typename Fn>
uint64_t HashValue::Scan(uint64_t cursor, size_t count, Fn&& fn) const {
  if (encoding_ == Encoding::kListpack) {
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
  std::string_view field, value;
  do {
    cursor = table_->Scan(cursor, [&](const HashEntry* e) {
      DecodeEntry(e->entry(), &field, &value);
      fn(field, value);
      ++returned;
    });
  } while (cursor != 0 && returned < wanted && --buckets_left > 0);
  return cursor;
}

template <typename Rng>
std::pair<std::string_view, std::string_view> HashValue::Random(Rng& random) const {
  std::string_view field, value;
  if (encoding_ == Encoding::kListpack) {
    uint64_t skip = static_cast<uint64_t>(random()) % header()->count;
    const char* p = ListpackBegin();
    do {
      p = DecodeEntry(p, &field, &value);
    } while (skip-- > 0);
    return {field, value};
  }
  DecodeEntry(table_->UniformRandom(random)->entry(), &field, &value);
  return {field, value};
}

template <typename Fn>
void HashValue::TEST_ForEachAllocation(Fn&& fn) const {
  fn(static_cast<const void*>(this));
  if (encoding_ == Encoding::kListpack) {
    fn(static_cast<const void*>(listpack_));
    return;
  }
  fn(static_cast<const void*>(table_));
  table_->TEST_ForEachBucketArray(fn);
  table_->ForEach([&](const HashEntry* e) { fn(static_cast<const void*>(e)); });
}

}  // namespace causalkv::store
