// KeyspaceSurvey: the INFO figures that need every key looked at (the
// siblings section, avg_ttl), gathered by a pass over all databases that
// the server's timer advances a slice at a time, so that INFO itself stays
// O(1) however large the keyspace is. INFO shows the last completed pass:
// a new pass starts at most once a second, and a pass over a small keyspace
// completes in one timer tick, so small keyspaces are at most about a second
// behind. Passes are spaced so that they take at most 0.1% of the loop's
// time (a pass that worked w microseconds waits w milliseconds before the
// next starts): on an idle node with 100k keys a pass a second was 1% of a
// core. So a large keyspace is behind by up to about keys / 10 ms (100 s
// for 1M keys), plus its pass time.
//
// Thread-compatibility: loop thread only (owned by the Dispatcher).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "causalkv/store/store.h"

namespace causalkv::command {

struct SurveyResult {
  uint64_t keys = 0;
  uint64_t keys_with_siblings = 0;  // keys holding more than one sibling
  uint64_t total_siblings = 0;
  uint32_t max_siblings = 0;        // the largest sibling count of one key
  uint64_t keys_at_limit = 0;       // keys holding max-siblings siblings or more
  int max_siblings_db = -1;
  std::string max_siblings_key;     // one key with that count
  std::map<int, int64_t> avg_ttl_ms;  // databases with TTLs: mean time left
  int64_t completed_ms = 0;         // when the pass ended; 0: no pass yet
  int64_t duration_ms = 0;          // wall time from its start to its end
};

class KeyspaceSurvey {
 public:
  // Continues (or starts, if a second has passed since the last start) the
  // pass for about `budget_us` microseconds. `sibling_limit` is max-siblings
  // (0: none), for keys_at_limit.
  void Step(store::Store& store, int64_t now_ms, int64_t budget_us, uint32_t sibling_limit);
  const SurveyResult& last() const { return last_; }
  // The least time from one pass's start to the next's.
  int64_t pass_interval_ms() const { return interval_ms_; }

 private:
  static constexpr int64_t kMinPassIntervalMs = 1000;
  // Milliseconds between pass starts per microsecond a pass worked: 1000 x
  // its work, at most 0.1% of the time.
  static constexpr int64_t kIntervalMsPerWorkUs = 1;

  void Visit(const store::SiblingSet& set, int db, int64_t now_ms, uint32_t sibling_limit);
  void Finish(int64_t now_ms);

  bool in_pass_ = false;
  int64_t started_ms_ = -kMinPassIntervalMs;
  int64_t interval_ms_ = kMinPassIntervalMs;  // from the last pass's work
  int64_t work_us_ = 0;                       // of the pass in progress
  int db_ = 0;
  uint64_t cursor_ = 0;
  SurveyResult current_;
  std::map<int, std::pair<int64_t, uint64_t>> ttl_sums_;  // db -> (sum ms, keys)
  SurveyResult last_;
};

}  // namespace causalkv::command
