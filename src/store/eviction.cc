#include "causalkv/store/eviction.h"

#include <array>
#include <cctype>
#include <utility>

namespace causalkv::store {
namespace {

constexpr std::array<std::pair<EvictionPolicy, std::string_view>, 8> kNames = {{
    {EvictionPolicy::kNoEviction, "noeviction"},
    {EvictionPolicy::kAllKeysLru, "allkeys-lru"},
    {EvictionPolicy::kAllKeysLfu, "allkeys-lfu"},
    {EvictionPolicy::kAllKeysRandom, "allkeys-random"},
    {EvictionPolicy::kVolatileLru, "volatile-lru"},
    {EvictionPolicy::kVolatileLfu, "volatile-lfu"},
    {EvictionPolicy::kVolatileRandom, "volatile-random"},
    {EvictionPolicy::kVolatileTtl, "volatile-ttl"},
}};

}  // namespace

bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* out) {
  for (const auto& [policy, policy_name] : kNames) {
    if (policy_name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) == policy_name[i];
    }
    if (same) {
      *out = policy;
      return true;
    }
  }
  return false;
}

std::string_view EvictionPolicyName(EvictionPolicy policy) {
  for (const auto& [p, name] : kNames)
    if (p == policy) return name;
  return "noeviction";
}

namespace lfu {

uint8_t Decayed(uint32_t access, int64_t now_ms, int decay_time) {
  const uint8_t counter = Counter(access);
  if (decay_time <= 0) return counter;
  // Minutes wrap every ~45 days; a wrapped difference still counts forward.
  const uint16_t elapsed = static_cast<uint16_t>(MinutesOf(now_ms) - Minutes(access));
  const unsigned periods = elapsed / static_cast<unsigned>(decay_time);
  return periods >= counter ? 0 : static_cast<uint8_t>(counter - periods);
}

uint8_t LogIncrement(uint8_t counter, int log_factor, double random01) {
  if (counter == 255) return 255;
  const double base = counter > kInitialCounter ? counter - kInitialCounter : 0;
  const double p = 1.0 / (base * log_factor + 1);
  return random01 < p ? static_cast<uint8_t>(counter + 1) : counter;
}

}  // namespace lfu
}  // namespace causalkv::store
