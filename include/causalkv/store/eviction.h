// Eviction settings and the per-key access bookkeeping they rely on.
//
// Every key carries 32 bits of access information (SiblingSet::access):
//   LRU policies: the second (wall clock, truncated to 32 bits) of the last access;
//   LFU policies: bits 8..23 the minute of the last decay, bits 0..7 a
//                 logarithmic access counter (Redis's LFU: the counter grows
//                 with probability 1/((counter-5)*log_factor+1) and loses one
//                 point per `decay_time` minutes without access).
// Eviction is approximate, as in Redis: it samples `samples` keys per
// database into a small pool of the best candidates and evicts the best, so
// it costs no memory per key beyond those 32 bits.
#pragma once

#include <cstdint>
#include <string_view>

namespace causalkv::store {

enum class EvictionPolicy {
  kNoEviction,
  kAllKeysLru,
  kAllKeysLfu,
  kAllKeysRandom,
  kVolatileLru,
  kVolatileLfu,
  kVolatileRandom,
  kVolatileTtl,
};

bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* out);
std::string_view EvictionPolicyName(EvictionPolicy policy);
inline bool IsLfu(EvictionPolicy p) {
  return p == EvictionPolicy::kAllKeysLfu || p == EvictionPolicy::kVolatileLfu;
}
inline bool IsVolatile(EvictionPolicy p) {
  return p == EvictionPolicy::kVolatileLru || p == EvictionPolicy::kVolatileLfu ||
         p == EvictionPolicy::kVolatileRandom || p == EvictionPolicy::kVolatileTtl;
}

struct EvictionSettings {
  EvictionPolicy policy = EvictionPolicy::kNoEviction;
  int samples = 5;
  int lfu_log_factor = 10;
  int lfu_decay_time = 1;  // minutes per point of decay; 0: never decay
};

namespace lfu {

inline constexpr uint8_t kInitialCounter = 5;

inline uint32_t Pack(uint16_t minutes, uint8_t counter) {
  return (static_cast<uint32_t>(minutes) << 8) | counter;
}
inline uint8_t Counter(uint32_t access) { return static_cast<uint8_t>(access & 0xff); }
inline uint16_t Minutes(uint32_t access) { return static_cast<uint16_t>(access >> 8); }
inline uint16_t MinutesOf(int64_t now_ms) { return static_cast<uint16_t>(now_ms / 60000); }

// The counter after decay for the minutes elapsed since its last decay.
uint8_t Decayed(uint32_t access, int64_t now_ms, int decay_time);
// One access: maybe +1, with a probability that falls as the counter grows.
// `random01` is uniform in [0, 1).
uint8_t LogIncrement(uint8_t counter, int log_factor, double random01);

}  // namespace lfu
}  // namespace causalkv::store
