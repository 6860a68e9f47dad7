#include "causalkv/util/cycle_clock.h"

#include <chrono>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace causalkv::util {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

#if defined(__x86_64__)
// Ticks per nanosecond, measured over ~2 ms the first time it is needed.
double TicksPerNano() {
  static const double rate = [] {
    const int64_t t0 = SteadyNanos();
    const uint64_t c0 = __rdtsc();
    int64_t t1 = t0;
    while (t1 - t0 < 2'000'000) t1 = SteadyNanos();
    const uint64_t c1 = __rdtsc();
    const double r = static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
    return r > 0 ? r : 1.0;
  }();
  return rate;
}
#endif

}  // namespace

uint64_t CycleClock::Now() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(SteadyNanos());
#endif
}

int64_t CycleClock::ToNanos(uint64_t ticks) {
#if defined(__x86_64__)
  return static_cast<int64_t>(static_cast<double>(ticks) / TicksPerNano());
#else
  return static_cast<int64_t>(ticks);
#endif
}

uint64_t CycleClock::FromNanos(int64_t nanos) {
#if defined(__x86_64__)
  const auto ticks = static_cast<uint64_t>(static_cast<double>(nanos) * TicksPerNano());
#else
  const auto ticks = static_cast<uint64_t>(nanos);
#endif
  return ticks == 0 ? 1 : ticks;
}

}  // namespace causalkv::util
