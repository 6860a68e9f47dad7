// Private to persist: LEB128 varints, as the snapshot and log formats use
// them (7 bits a byte, low bits first, high bit set on all but the last).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace causalkv::persist {

constexpr size_t kMaxVarintBytes = 10;

// Writes `v` to `out` (room for kMaxVarintBytes); returns the bytes used.
inline size_t EncodeVarint(uint64_t v, uint8_t* out) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

// Reads a varint from [*p, end) and advances *p. False if it runs past
// `end`, is longer than ten bytes, or does not fit in T.
template <typename T>
bool DecodeVarint(const char** p, const char* end, T* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    const uint8_t byte = static_cast<uint8_t>(*(*p)++);
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) return false;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (result > std::numeric_limits<T>::max()) return false;
      *v = static_cast<T>(result);
      return true;
    }
  }
  return false;
}

}  // namespace causalkv::persist
