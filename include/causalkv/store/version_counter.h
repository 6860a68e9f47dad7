// VersionCounter hands out versions, strictly increasing, never repeating
// for the same data directory.
//
// It never issues a version above the persisted high-water mark ("limit").
// The owner (the server) persists marks: when fewer than half a reserve of
// versions is left below the limit, Next() asks for the mark to be raised in
// the background (async_raise); only if the limit is reached before that has
// finished does Next() raise it synchronously (sync_raise), so a write
// normally never waits on a disk sync. If the mark cannot be persisted, Next()
// fails and the write that asked must fail without changing anything.
//
// Thread-compatibility: used from the loop thread only; RaiseLimit() too.
#pragma once

#include <cstdint>
#include <functional>

#include "causalkv/store/version.h"

namespace causalkv::store {

class VersionCounter {
 public:
  // Persists `mark` (durably) and returns true, or returns false.
  using SyncRaise = std::function<bool(uint64_t mark)>;
  // Starts persisting `mark`; calls RaiseLimit(mark) on the loop thread when done.
  using AsyncRaise = std::function<void(uint64_t mark)>;

  // With no hooks, the limit is unbounded (tests, in-memory use).
  VersionCounter() = default;

  // Resumes after `last_issued` with `limit` as the persisted mark.
  void Init(uint64_t last_issued, uint64_t limit, uint64_t reserve, SyncRaise sync_raise,
            AsyncRaise async_raise);

  // The next version, or false if it could not be made durable.
  bool Next(Version* out) { return NextRange(1, out); }
  // `count` consecutive versions starting at *first, all or none (a write
  // that needs several, like RENAME, must not take some and then fail).
  bool NextRange(uint64_t count, Version* first);
  // The next version, at least `floor` (a hybrid clock: with peers, dots
  // follow the wall clock, see store/causal.h). Jumping ahead may wait for
  // the mark to be raised, as NextRange does at the limit.
  bool NextAtLeast(uint64_t floor, Version* out);

  // Hybrid clock: starts raising the mark ahead of time when `floor` (the
  // clock's next value) comes within half a reserve of the limit, so that
  // the first write after an idle spell does not wait for a disk sync.
  void KeepAheadOf(uint64_t floor);

  // The highest version handed out so far (0 before the first write).
  Version last_issued() const { return Version(last_issued_); }
  uint64_t limit() const { return limit_; }

  // Called when an async raise has been persisted.
  void RaiseLimit(uint64_t mark);
  // Called when an async raise failed: the next Next() at the limit retries synchronously.
  void AsyncRaiseFailed() { async_pending_ = false; }

 private:
  uint64_t last_issued_ = 0;
  uint64_t limit_ = UINT64_MAX;
  uint64_t reserve_ = 0;
  bool async_pending_ = false;
  SyncRaise sync_raise_;
  AsyncRaise async_raise_;
};

}  // namespace causalkv::store
