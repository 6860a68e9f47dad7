#include "causalkv/store/version_counter.h"

#include <algorithm>
#include <utility>

namespace causalkv::store {

void VersionCounter::Init(uint64_t last_issued, uint64_t limit, uint64_t reserve,
                          SyncRaise sync_raise, AsyncRaise async_raise) {
  last_issued_ = last_issued;
  limit_ = limit;
  reserve_ = reserve;
  async_pending_ = false;
  sync_raise_ = std::move(sync_raise);
  async_raise_ = std::move(async_raise);
}

bool VersionCounter::NextRange(uint64_t count, Version* first) {
  if (count == 0 || last_issued_ > UINT64_MAX - count - reserve_) return false;
  const uint64_t last = last_issued_ + count;
  if (last > limit_) {
    // The background raise has not landed in time: this write waits.
    if (!sync_raise_) return false;
    const uint64_t mark = last + reserve_;
    if (!sync_raise_(mark)) return false;
    limit_ = mark;
  }
  *first = Version(last_issued_ + 1);
  last_issued_ = last;
  if (async_raise_ && !async_pending_ && limit_ - last_issued_ < reserve_ / 2) {
    async_pending_ = true;
    async_raise_(last_issued_ + reserve_);
  }
  return true;
}

bool VersionCounter::NextAtLeast(uint64_t floor, Version* out) {
  if (floor == 0 || last_issued_ + 1 >= floor) return NextRange(1, out);
  // Skip ahead as a range, so a failure changes nothing.
  Version first;
  if (!NextRange(floor - last_issued_, &first)) return false;
  *out = Version(last_issued_);
  return true;
}

void VersionCounter::KeepAheadOf(uint64_t floor) {
  const uint64_t base = std::max(last_issued_, floor);
  if (!async_raise_ || async_pending_ || base > UINT64_MAX - reserve_) return;
  if (limit_ > base && limit_ - base >= reserve_ / 2) return;
  async_pending_ = true;
  async_raise_(base + reserve_);
}

void VersionCounter::RaiseLimit(uint64_t mark) {
  async_pending_ = false;
  if (mark > limit_) limit_ = mark;
}

}  // namespace causalkv::store
