#include "causalkv/store/version_counter.h"

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

bool VersionCounter::Next(Version* out) {
  if (last_issued_ == UINT64_MAX) return false;
  const uint64_t next = last_issued_ + 1;
  if (next > limit_) {
    // The background raise has not landed in time: this write waits.
    if (!sync_raise_) return false;
    const uint64_t mark = next + reserve_;
    if (!sync_raise_(mark)) return false;
    limit_ = mark;
  }
  last_issued_ = next;
  if (async_raise_ && !async_pending_ && limit_ - last_issued_ < reserve_ / 2) {
    async_pending_ = true;
    async_raise_(last_issued_ + reserve_);
  }
  *out = Version(next);
  return true;
}

void VersionCounter::RaiseLimit(uint64_t mark) {
  async_pending_ = false;
  if (mark > limit_) limit_ = mark;
}

}  // namespace causalkv::store
