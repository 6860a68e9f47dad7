// A cheap monotonic clock for timing every command (commandstats, SLOWLOG).
//
// Three clock_gettime calls per command cost about a tenth of the server's
// time at a million commands per second (measured with perf: __vdso_clock_gettime
// 11%). On x86-64 the time-stamp counter is read instead (a few cycles; it is
// invariant on every CPU this server targets) and converted with a rate
// measured once against steady_clock. Elsewhere it falls back to steady_clock.
#pragma once

#include <cstdint>

namespace causalkv::util {

class CycleClock {
 public:
  // Opaque ticks; only differences are meaningful.
  static uint64_t Now();
  // Converts a difference of ticks to nanoseconds.
  static int64_t ToNanos(uint64_t ticks);
  // Ticks in `nanos` nanoseconds (at least 1).
  static uint64_t FromNanos(int64_t nanos);
};

}  // namespace causalkv::util
