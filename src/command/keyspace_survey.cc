#include "keyspace_survey.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

namespace causalkv::command {

void KeyspaceSurvey::Step(store::Store& store, int64_t now_ms, int64_t budget_us,
                          uint32_t sibling_limit) {
  if (!in_pass_) {
    if (now_ms - started_ms_ < interval_ms_) return;
    in_pass_ = true;
    started_ms_ = now_ms;
    work_us_ = 0;
    db_ = 0;
    cursor_ = 0;
    current_ = SurveyResult{};
    ttl_sums_.clear();
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::microseconds(budget_us);
  auto count_work = [&] {
    work_us_ += std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start).count();
  };
  for (int calls = 0;; ++calls) {
    if (db_ >= store.database_count()) {
      count_work();
      Finish(now_ms);
      return;
    }
    store::Keyspace& keyspace = store.db(db_);
    // An empty table has no buckets to scan; a cursor into a database that
    // was emptied meanwhile is simply abandoned.
    if (keyspace.size() != 0) {
      const int db = db_;
      cursor_ = keyspace.Scan(cursor_, [&](const store::SiblingSet* set) {
        Visit(*set, db, now_ms, sibling_limit);
      });
    } else {
      cursor_ = 0;
    }
    if (cursor_ == 0) ++db_;
    if (calls % 64 == 63 && std::chrono::steady_clock::now() >= deadline) {
      count_work();
      return;
    }
  }
}

void KeyspaceSurvey::Visit(const store::SiblingSet& set, int db, int64_t now_ms,
                           uint32_t sibling_limit) {
  ++current_.keys;
  const uint32_t siblings = set.size();
  current_.total_siblings += siblings;
  if (siblings > 1) ++current_.keys_with_siblings;
  if (sibling_limit != 0 && siblings >= sibling_limit) ++current_.keys_at_limit;
  if (siblings > current_.max_siblings) {
    current_.max_siblings = siblings;
    current_.max_siblings_db = db;
    current_.max_siblings_key.assign(set.key());
  }
  if (set.has_expire()) {
    auto& [sum_ms, keys] = ttl_sums_[db];
    // Expiry times near 2^63 ms are legal (EXPIREAT takes them), so the sum
    // saturates instead of overflowing; the average is an estimate anyway.
    const int64_t ttl_ms = std::max<int64_t>(0, set.expire_at_ms() - now_ms);
    sum_ms = ttl_ms > std::numeric_limits<int64_t>::max() - sum_ms
                 ? std::numeric_limits<int64_t>::max()
                 : sum_ms + ttl_ms;
    ++keys;
  }
}

void KeyspaceSurvey::Finish(int64_t now_ms) {
  for (const auto& [db, sum] : ttl_sums_) {
    current_.avg_ttl_ms[db] = static_cast<int64_t>(sum.first / static_cast<int64_t>(sum.second));
  }
  current_.completed_ms = now_ms;
  current_.duration_ms = now_ms - started_ms_;
  interval_ms_ = std::max(kMinPassIntervalMs, work_us_ * kIntervalMsPerWorkUs);
  last_ = std::move(current_);
  current_ = SurveyResult{};
  in_pass_ = false;
}

}  // namespace causalkv::command
