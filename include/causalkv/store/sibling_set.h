// SiblingSet: one key of the keyspace, stored as a single heap block.
//
// Invariants:
//   - siblings are sorted by version, oldest first;
//   - versions are unique (each write takes a fresh counter value);
//   - a stored set has at least one sibling (an empty set is a missing key);
//   - the TTL belongs to the key, not to a sibling;
//   - a sibling holds a string, or a typed value (store/value_type.h) that
//     the block owns: its bytes are then a pointer to the value, freed with
//     the block or when the sibling is dropped or replaced. The block's
//     typed bit says whether any sibling is typed, so that string-only
//     blocks never look;
//   - on a single node a block with a typed sibling has only that one;
//   - with peers (store/causal.h), siblings are sorted by dot order instead
//     (counter, then node id), and the key's context is the fold of its
//     siblings' dots joined with the causal block's extra entries.
//
// Memory layout (one malloc per key; every field after the header is read
// with memcpy, so nothing needs alignment):
//
//   offset 0   SiblingSet* next      hash-chain link, owned by the hash table
//          8   uint32 key_len
//         12   uint32 meta           bit 31: has TTL; bit 30: has causal block;
//                                    bit 29: has a typed sibling;
//                                    bits 0..28: sibling count
//         16   uint32 access         LRU clock or LFU counter (eviction)
//         20   uint32 ttl_slot       index in the keyspace's TTL index (if TTL)
//         24   [int64 expire_at_ms, only if has TTL]
//              [causal block, only with peers and only when needed:
//               uint64 ttl_stamp (a packed Version; 0: never set),
//               uint32 n, n x uint64 extra context entries (packed Versions:
//               context entries above what the siblings' dots imply)]
//              key bytes
//              per sibling: uint64 version, uint32 value_len, value bytes
//                (value_len >= kTypedLen: a typed value of type
//                value_len - kTypedLen, whose 8 bytes are its pointer)
//
// A one-sibling key with no TTL therefore costs 24 + key + 12 + value bytes,
// against Redis's dictEntry + key sds + robj + value (about 40 bytes more).
// Appending a sibling and dropping covered ones (the versioned write) is one
// pass over the block; because siblings are sorted, "every sibling whose
// version <= v" is always a prefix.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "causalkv/store/value_type.h"
#include "causalkv/store/version.h"

namespace causalkv::store {

struct Sibling {
  Version version;
  std::string_view value;  // a typed sibling: the 8 bytes of its pointer
  ValueType type = ValueType::kString;

  bool typed() const { return type != ValueType::kString; }
  // REQUIRES: typed().
  void* object() const {
    void* p;
    std::memcpy(&p, value.data(), sizeof p);
    return p;
  }
  // The bytes a typed sibling's `value` views (a pointer, as the block stores it).
  struct ObjectBytes {
    char bytes[sizeof(void*)];
    std::string_view view() const { return {bytes, sizeof bytes}; }
  };
  static ObjectBytes BytesOf(const void* object) {
    ObjectBytes b;
    std::memcpy(b.bytes, &object, sizeof object);
    return b;
  }
};

class HashTable;

class SiblingSet {
 public:
  static constexpr uint32_t kMaxSiblings = 0x1fffffff;
  static constexpr int64_t kNoExpire = -1;

  // Allocates a set holding `siblings` (sorted, non-empty) for `key`.
  // The block owns the typed siblings' values from then on.
  static SiblingSet* Create(std::string_view key, int64_t expire_at_ms,
                            std::span<const Sibling> siblings);
  // Turns the typed siblings among `siblings`, which carry their values'
  // plain-data form (SerializeTypedValue), into values that Create can take:
  // each value's pointer bytes, kept in *storage (its capacity must hold one
  // per sibling, so that the views stay put). False, with nothing left
  // allocated, if one of them does not decode.
  static bool MaterializeTyped(std::span<Sibling> siblings, const CollectionLimits& limits,
                               std::vector<Sibling::ObjectBytes>* storage);
  // Frees the block and its typed values.
  static void Destroy(SiblingSet* set);
  // Gives up the block's typed values (they were handed to another block):
  // Destroy then frees the block alone.
  static void DisownTypedValues(SiblingSet* set);
  // The same for the one sibling whose value is `object`.
  static void DisownTypedValue(SiblingSet* set, const void* object);
  // Sets the version of a one-sibling block (a collection write on a
  // single node changes its value in place). REQUIRES: size() == 1.
  void set_only_version(Version v) {
    const uint64_t raw = v.raw();
    std::memcpy(Base() + SiblingsOffset(), &raw, sizeof raw);
  }
  // With peers: also the TTL's stamp (Version() if never set) and the extra
  // context entries (packed Versions, one per actor, sorted by actor index).
  // The causal block is left out when both are empty.
  static SiblingSet* CreateCausal(std::string_view key, int64_t expire_at_ms, Version ttl_stamp,
                                  std::span<const Version> extra_context,
                                  std::span<const Sibling> siblings);

  // Each of these consumes `set` and returns the (possibly moved) block; the
  // caller must update whatever pointed at the old one. The returned set has
  // the same key, TTL and ttl_slot. `value` must not point into `set`.
  //
  // Replaces every sibling by (v, value). *usable is the block's
  // malloc_usable_size() on entry, and the returned block's on return (the
  // caller accounts memory with it). The block is rewritten in place when the
  // new size fits it as closely as realloc would leave it (an overwrite with a
  // same-sized value, the common SET): no allocator call at all.
  static SiblingSet* ReplaceAll(SiblingSet* set, Version v, std::string_view value,
                                size_t* usable);
  static SiblingSet* ReplaceAll(SiblingSet* set, Version v, std::string_view value);
  // Drops the siblings `seen` covers (freeing their typed values), then
  // appends (v, value). REQUIRES: v > every version.
  static SiblingSet* Put(SiblingSet* set, Version seen, Version v, std::string_view value);
  // Drops the siblings `seen` covers. Returns nullptr (and frees) if none is left.
  static SiblingSet* DropCovered(SiblingSet* set, Version seen);
  // Adds or removes the TTL block.
  static SiblingSet* WithExpire(SiblingSet* set, int64_t expire_at_ms);

  std::string_view key() const {
    return {reinterpret_cast<const char*>(this) + KeyOffset(), key_len_};
  }
  uint32_t size() const { return meta_ & kCountMask; }
  bool has_expire() const { return (meta_ & kTtlBit) != 0; }
  int64_t expire_at_ms() const {
    if (!has_expire()) return kNoExpire;
    int64_t v;
    std::memcpy(&v, Base() + kHeaderSize, sizeof v);
    return v;
  }
  bool has_causal() const { return (meta_ & kCausalBit) != 0; }
  bool has_typed() const { return (meta_ & kTypedBit) != 0; }
  // The visible value (the newest sibling) is a string: most keys, and
  // then only the header is read.
  bool holds_string() const { return !has_typed() || !newest().typed(); }
  // The heap bytes of the typed values (0 without any).
  size_t TypedBytes() const;
  Version ttl_stamp() const { return has_causal() ? Version(ReadU64(CausalOffset())) : Version(); }
  uint32_t extra_context_size() const {
    if (!has_causal()) return 0;
    uint32_t n;
    std::memcpy(&n, Base() + CausalOffset() + 8, sizeof n);
    return n;
  }
  // REQUIRES: i < extra_context_size().
  Version extra_context(uint32_t i) const {
    return Version(ReadU64(CausalOffset() + kCausalHeader + 8 * size_t{i}));
  }
  // Only meaningful with a TTL: the slot of this key in its keyspace's TTL index.
  uint32_t ttl_slot() const { return ttl_slot_; }
  void set_ttl_slot(uint32_t slot) { ttl_slot_ = slot; }
  // Eviction bookkeeping (see store/eviction.h): an LRU clock or LFU counter.
  uint32_t access() const { return access_; }
  void set_access(uint32_t access) const { access_ = access; }
  // REQUIRES: has_expire().
  void set_expire_at_ms(int64_t ms) { std::memcpy(Base() + kHeaderSize, &ms, sizeof ms); }

  // Walks siblings oldest first.
  class Iterator {
   public:
    explicit Iterator(const char* p, uint32_t left) : p_(p), left_(left) {}
    Sibling operator*() const {
      uint64_t v;
      uint32_t len;
      std::memcpy(&v, p_, 8);
      std::memcpy(&len, p_ + 8, 4);
      if (len >= kTypedLen) {
        return Sibling{Version(v), std::string_view(p_ + kSiblingHeader, sizeof(void*)),
                       static_cast<ValueType>(len - kTypedLen)};
      }
      return Sibling{Version(v), std::string_view(p_ + kSiblingHeader, len)};
    }
    Iterator& operator++() {
      p_ += kSiblingHeader + StoredLength(p_);
      --left_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return left_ != o.left_; }

   private:
    const char* p_;
    uint32_t left_;
  };
  Iterator begin() const { return Iterator(Base() + SiblingsOffset(), size()); }
  Iterator end() const { return Iterator(nullptr, 0); }

  // The sibling with the highest version (what GET returns).
  Sibling newest() const;
  // The key's version: the newest sibling's.
  Version max_version() const { return newest().version; }
  // Bytes of the whole block (header, TTL, key, siblings).
  size_t BlockSize() const;

 private:
  friend class HashTable;
  static constexpr uint32_t kTtlBit = 0x80000000u;
  static constexpr uint32_t kCausalBit = 0x40000000u;
  static constexpr uint32_t kTypedBit = 0x20000000u;
  static constexpr uint32_t kCountMask = 0x1fffffffu;
  // value_len from here up marks a typed sibling (strings are far shorter).
  static constexpr uint32_t kTypedLen = 0xffffff00u;
  // The bytes after a sibling's header.
  static size_t StoredLength(const char* sibling) {
    uint32_t len;
    std::memcpy(&len, sibling + 8, 4);
    return len >= kTypedLen ? sizeof(void*) : len;
  }
  // Frees the typed values of the `n` siblings from `p`.
  static void ReleaseTyped(const char* p, uint32_t n);
  // The typed bit for siblings from `p` on (n of them).
  static uint32_t TypedBitOf(const char* p, uint32_t n);
  // Writes one sibling at `p`; returns the end of it.
  static char* WriteSibling(char* p, const Sibling& s);
  static constexpr size_t kCausalHeader = 12;
  static constexpr size_t kHeaderSize = 24;
  static constexpr size_t kTtlBlockSize = 8;
  static constexpr size_t kSiblingHeader = 12;

  SiblingSet() = default;
  // The first sibling `seen` does not cover (or the end); *kept counts it and those after.
  static const char* FirstUncovered(const SiblingSet* set, Version seen, uint32_t* kept);
  const char* Base() const { return reinterpret_cast<const char*>(this); }
  char* Base() { return reinterpret_cast<char*>(this); }
  size_t CausalOffset() const { return kHeaderSize + (has_expire() ? kTtlBlockSize : 0); }
  size_t CausalBlockSize() const {
    return has_causal() ? kCausalHeader + 8 * size_t{extra_context_size()} : 0;
  }
  size_t KeyOffset() const { return CausalOffset() + CausalBlockSize(); }
  uint64_t ReadU64(size_t offset) const {
    uint64_t v;
    std::memcpy(&v, Base() + offset, sizeof v);
    return v;
  }
  size_t SiblingsOffset() const { return KeyOffset() + key_len_; }

  SiblingSet* next_;
  uint32_t key_len_;
  uint32_t meta_;
  // Reads update it (LRU/LFU), so it may change through a const view.
  mutable uint32_t access_;
  uint32_t ttl_slot_;
};
static_assert(sizeof(SiblingSet) == 24, "the header layout above is stored as is");
static_assert(sizeof(void*) == 8, "layout assumes 64-bit pointers");

}  // namespace causalkv::store
