// Fast seeded 64-bit hash for keys. The seed is random per process so that
// clients cannot choose keys that all land in one bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace causalkv::util {

uint64_t HashBytes(const void* data, size_t len, uint64_t seed);
inline uint64_t HashString(std::string_view s, uint64_t seed) {
  return HashBytes(s.data(), s.size(), seed);
}

}  // namespace causalkv::util
