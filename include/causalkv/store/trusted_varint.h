// Reading back the LEB128 varints a collection value wrote into its own
// blocks (hash_value.h, set_value.h, zset_value.h, list_value.h). Those
// bytes are well formed by construction, so nothing is bounds-checked here;
// bytes from outside (files, peers) go through Deserialize's checked reader.
#pragma once

#include <cstddef>
#include <cstdint>

namespace causalkv::store {

// Reads the varint at `p` into *v; returns the byte after it.
inline const char* ReadTrustedVarint(const char* p, size_t* v) {
  size_t result = 0;
  int shift = 0;
  uint8_t byte;
  do {
    byte = static_cast<uint8_t>(*p++);
    result |= static_cast<size_t>(byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  *v = result;
  return p;
}

}  // namespace causalkv::store
