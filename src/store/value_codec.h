// Private to the store: the byte-level helpers the collection values share
// (hash_value.cc, set_value.cc, zset_value.cc, list_value.cc).
//
// Varints are LEB128 (7 bits a byte, low bits first, high bit set on all
// but the last), as every collection's compact encoding and plain-data form
// write them. ReadVarint is for untrusted bytes (files, peers): bounded by
// `end` and by ten bytes, and refusing values past 64 bits.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string_view>

namespace causalkv::store::codec {

inline constexpr size_t kMaxVarintBytes = 10;

inline void* Allocate(size_t bytes) {
  void* p = std::malloc(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

inline size_t Usable(const void* p) { return malloc_usable_size(const_cast<void*>(p)); }

// Random once per process, so that clients cannot choose fields or members
// that all land in one bucket. Every collection table shares it, which keeps
// a clone's table in the same bucket order.
inline uint64_t TableHashSeed() {
  static const uint64_t seed = [] {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }();
  return seed;
}

inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

inline char* WriteVarint(char* p, uint64_t v) {
  for (; v >= 0x80; v >>= 7) *p++ = static_cast<char>(v | 0x80);
  *p++ = static_cast<char>(v);
  return p;
}

// Reads a varint from untrusted [*p, end) and advances *p. False if it runs
// past `end` or does not fit in 64 bits. Finds the last byte (high bit
// clear) first, so that the value is folded from the top down.
inline bool ReadVarint(const char** p, const char* end, uint64_t* v) {
  const char* const begin = *p;
  const char* const limit =
      static_cast<size_t>(end - begin) > kMaxVarintBytes ? begin + kMaxVarintBytes : end;
  const char* last = begin;
  while (last != limit && (static_cast<uint8_t>(*last) & 0x80) != 0) ++last;
  if (last == limit) return false;  // out of bytes, or longer than ten
  // Ten bytes hold 70 bits: the tenth may only carry bit 63.
  if (static_cast<size_t>(last - begin) == kMaxVarintBytes - 1 && static_cast<uint8_t>(*last) > 1)
    return false;
  uint64_t result = 0;
  for (const char* q = last + 1; q != begin;) {
    result = (result << 7) | (static_cast<uint8_t>(*--q) & 0x7fu);
  }
  *v = result;
  *p = last + 1;
  return true;
}

// Replaces `old_len` bytes at `offset` of the malloc'd block *block, which
// has `used` bytes in use, by `new_len` bytes (left unwritten), moving the
// tail: the block grows exactly (as Redis's listpack: small values stay
// small) and shrinks once `shrink_slack` bytes or more would be left over.
// *memory_bytes follows the block's usable size. Returns where the new bytes
// start; the bytes in use are then used - old_len + new_len.
inline char* ResizeRange(char** block, size_t used, size_t offset, size_t old_len,
                         size_t new_len, size_t shrink_slack, size_t* memory_bytes) {
  if (old_len == new_len) return *block + offset;
  const size_t tail = used - offset - old_len;
  const size_t new_used = used - old_len + new_len;
  auto reallocate = [&](size_t bytes) {
    const size_t old_usable = Usable(*block);
    void* p = std::realloc(*block, bytes);
    if (p == nullptr) throw std::bad_alloc();
    *block = static_cast<char*>(p);
    *memory_bytes = *memory_bytes - old_usable + Usable(p);
  };
  // Grow before moving the tail right; shrink after moving it left.
  const size_t usable = Usable(*block);
  if (new_used > usable) reallocate(new_used);
  std::memmove(*block + offset + new_len, *block + offset + old_len, tail);
  if (new_used <= usable && usable - new_used >= shrink_slack) reallocate(new_used);
  return *block + offset;
}

// A length-prefixed string of untrusted [*p, end), viewed in place.
inline bool ReadString(const char** p, const char* end, std::string_view* s) {
  uint64_t len;
  if (!ReadVarint(p, end, &len) || len > static_cast<uint64_t>(end - *p)) return false;
  *s = std::string_view(*p, len);
  *p += len;
  return true;
}

}  // namespace causalkv::store::codec
