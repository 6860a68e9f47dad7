#include "causalkv/util/hash.h"

#include <cstring>

namespace causalkv::util {
namespace {

constexpr uint64_t kP0 = 0xa0761d6478bd642full;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;

// Full 64x64->128 multiply folded back to 64 bits: one instruction on x86-64
// and it mixes every input bit into the result.
inline uint64_t MulFold(uint64_t a, uint64_t b) {
  const __uint128_t m = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

uint64_t HashBytes(const void* data, size_t len, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed ^ MulFold(seed ^ kP0, len ^ kP1);
  while (len >= 16) {
    h = MulFold(Load64(p) ^ kP1, Load64(p + 8) ^ h);
    p += 16;
    len -= 16;
  }
  uint64_t a = 0;
  uint64_t b = 0;
  if (len >= 8) {
    a = Load64(p);
    b = Load64(p + len - 8);  // overlaps `a` when len < 16; fine for hashing
  } else if (len > 0) {
    // 1..7 bytes: first, middle and last byte plus the low bytes.
    a = (static_cast<uint64_t>(p[0]) << 16) | (static_cast<uint64_t>(p[len >> 1]) << 8) |
        p[len - 1];
    if (len >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + len - 4, 4);
      b = (static_cast<uint64_t>(hi) << 32) | lo;
    }
  }
  h = MulFold(a ^ kP1 ^ h, b ^ kP2);
  return MulFold(h ^ kP0, h ^ len ^ kP2);
}

}  // namespace causalkv::util
