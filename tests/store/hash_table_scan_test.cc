// SCAN's guarantee (every key present for the whole iteration is returned at
// least once, however the table grows or shrinks between calls), checked on
// the raw hash table and through Keyspace; plus RandomKey and ExpireSample,
// which also walk the table's buckets.
#include "causalkv/store/hash_table.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "causalkv/store/keyspace.h"
#include "causalkv/store/version_counter.h"

namespace causalkv::store {
namespace {

std::string Key(int i) { return "key:" + std::to_string(i); }

// A HashTable plus the set of keys it should hold.
class Table {
 public:
  explicit Table(uint64_t seed) : table_(seed) {}

  void Insert(const std::string& key) {
    const Sibling only{Version(1), "v"};
    table_.Insert(SiblingSet::Create(key, SiblingSet::kNoExpire, {&only, 1}));
    keys_.insert(key);
  }
  void Erase(const std::string& key) {
    SiblingSet** link = table_.FindLink(key);
    ASSERT_NE(link, nullptr) << key;
    SiblingSet::Destroy(table_.Unlink(link));
    keys_.erase(key);
  }
  void FinishRehash() {
    while (table_.RehashStep(1000)) {
    }
  }
  // One SCAN call; checks that only keys currently stored are reported.
  uint64_t ScanOnce(uint64_t cursor, std::map<std::string, int>* seen) {
    return table_.Scan(cursor, [&](SiblingSet* e) {
      const std::string key(e->key());
      EXPECT_TRUE(keys_.contains(key)) << "scan returned a key that is not stored: " << key;
      ++(*seen)[key];
    });
  }

  HashTable& raw() { return table_; }
  const std::set<std::string>& keys() const { return keys_; }

 private:
  HashTable table_;
  std::set<std::string> keys_;
};

TEST(HashTableScanTest, StableTableReturnsEachKeyExactlyOnce) {
  for (int n : {0, 1, 3, 4, 5, 17, 1000, 4096}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    Table t(n * 31 + 1);
    for (int i = 0; i < n; ++i) t.Insert(Key(i));
    t.FinishRehash();
    ASSERT_FALSE(t.raw().IsRehashing());
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
      cursor = t.ScanOnce(cursor, &seen);
      ++calls;
    } while (cursor != 0);
    ASSERT_EQ(seen.size(), static_cast<size_t>(n));
    for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << key;
    // One call per bucket: the cursor really walks the table, no more.
    EXPECT_EQ(calls, t.raw().bucket_count());
  }
}

TEST(HashTableScanTest, FindLinkAndUnlinkDuringRehash) {
  Table t(5);
  for (int i = 0; i < 100; ++i) t.Insert(Key(i));
  t.FinishRehash();
  for (int i = 100; i < 200; ++i) t.Insert(Key(i));  // starts a resize
  ASSERT_TRUE(t.raw().IsRehashing());
  t.raw().RehashStep(10);
  ASSERT_TRUE(t.raw().IsRehashing()) << "the test needs a half-moved table";
  for (int i = 0; i < 200; ++i) ASSERT_NE(t.raw().FindLink(Key(i)), nullptr) << Key(i);
  EXPECT_EQ(t.raw().FindLink("absent"), nullptr);
  for (int i = 0; i < 200; i += 2) t.Erase(Key(i));
  EXPECT_EQ(t.raw().size(), 100u);
  t.FinishRehash();
  for (int i = 0; i < 200; ++i) EXPECT_EQ(t.raw().FindLink(Key(i)) != nullptr, i % 2 == 1);
}

// A table frozen half-way through a resize (growing or shrinking): one call
// per bucket of the smaller table, each key exactly once. Walking the larger
// table's buckets one call at a time would also be complete, but costs more
// calls and returns duplicates.
TEST(HashTableScanTest, ScanOfAHalfMovedTableVisitsEachKeyOnceInSmallTableCalls) {
  for (const bool grow : {true, false}) {
    SCOPED_TRACE(grow ? "growing" : "shrinking");
    Table t(11);
    if (grow) {
      for (int i = 0; i < 128; ++i) t.Insert(Key(i));
      t.FinishRehash();
      ASSERT_EQ(t.raw().bucket_count(), 256u);
      for (int i = 128; i < 256; ++i) t.Insert(Key(i));  // the 256th key starts 256 -> 512
    } else {
      for (int i = 0; i < 1024; ++i) t.Insert(Key(i));
      t.FinishRehash();
      ASSERT_EQ(t.raw().bucket_count(), 2048u);
      for (int i = 0; i < 1024; ++i) {
        if (i % 8 != 0) t.Erase(Key(i));
      }
      t.raw().RehashStep(0);  // starts the shrink 2048 -> 256
    }
    t.raw().RehashStep(3);
    ASSERT_TRUE(t.raw().IsRehashing());
    const size_t small = 256;  // both cases: 256 <-> 512, and 2048 -> 256
    ASSERT_EQ(t.raw().bucket_count(), grow ? 256u + 512u : 2048u + 256u);
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
      cursor = t.ScanOnce(cursor, &seen);
      ++calls;
    } while (cursor != 0);
    EXPECT_EQ(calls, small);
    EXPECT_EQ(seen.size(), t.keys().size());
    for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << key;
  }
}

// Scans while keys are added between calls, so the table grows (and is often
// mid-rehash) during the iteration.
TEST(HashTableScanTest, ScanWhileGrowingReturnsEveryOriginalKey) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Table t(seed);
    for (int i = 0; i < 100; ++i) t.Insert(Key(i));
    t.FinishRehash();
    const std::set<std::string> original = t.keys();
    const size_t buckets_before = t.raw().bucket_count();
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    int next = 100;
    int calls_while_rehashing = 0;
    do {
      if (t.raw().IsRehashing()) ++calls_while_rehashing;
      cursor = t.ScanOnce(cursor, &seen);
      for (int i = 0; i < 40; ++i) t.Insert(Key(next++));
      t.raw().RehashStep(1);
    } while (cursor != 0);
    for (const std::string& key : original) EXPECT_TRUE(seen.contains(key)) << key;
    EXPECT_GE(t.raw().bucket_count(), buckets_before * 8) << "the table must have grown";
    EXPECT_GT(calls_while_rehashing, 0) << "some calls must have met a half-moved table";
  }
}

// Scans while most keys are deleted between calls, so the table shrinks.
TEST(HashTableScanTest, ScanWhileShrinkingReturnsEveryKeptKey) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Table t(seed);
    for (int i = 0; i < 4000; ++i) t.Insert(Key(i));
    t.FinishRehash();
    const size_t buckets_before = t.raw().bucket_count();
    std::set<std::string> kept;
    std::vector<std::string> doomed;
    for (int i = 0; i < 4000; ++i) {
      if (i % 40 == 0) {
        kept.insert(Key(i));
      } else {
        doomed.push_back(Key(i));
      }
    }
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::shuffle(doomed.begin(), doomed.end(), rng);
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    int calls_while_rehashing = 0;
    size_t smallest = buckets_before;
    do {
      if (t.raw().IsRehashing()) ++calls_while_rehashing;
      cursor = t.ScanOnce(cursor, &seen);
      for (int i = 0; i < 300 && !doomed.empty(); ++i) {
        t.Erase(doomed.back());
        doomed.pop_back();
      }
      t.raw().RehashStep(1);
      smallest = std::min(smallest, t.raw().bucket_count());
    } while (cursor != 0);
    for (const std::string& key : kept) EXPECT_TRUE(seen.contains(key)) << key;
    EXPECT_LE(smallest * 4, buckets_before) << "the table must have shrunk";
    EXPECT_GT(calls_while_rehashing, 0);
  }
}

// Random mixes of growth, shrinkage and rehash work between calls. The keys
// that are present for the whole iteration are those inserted before it and
// never deleted; anything reported must be stored at that moment.
TEST(HashTableScanTest, ScanUnderRandomResizesReturnsEveryStableKey) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Table t(seed * 1000003ull);
    int next = 0;
    const int initial = 1 + static_cast<int>(rng() % 2000);
    for (; next < initial; ++next) t.Insert(Key(next));
    if (rng() % 2 == 0) t.FinishRehash();
    std::set<std::string> stable = t.keys();
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    do {
      cursor = t.ScanOnce(cursor, &seen);
      const int action = static_cast<int>(rng() % 4);
      if (action == 0) {
        const int n = static_cast<int>(rng() % 500);
        for (int i = 0; i < n; ++i) t.Insert(Key(next++));
      } else if (action == 1 && !t.keys().empty()) {
        const int n = static_cast<int>(rng() % (t.keys().size() + 1));
        for (int i = 0; i < n && !t.keys().empty(); ++i) {
          // Delete a stored key near a random one (a set lookup keeps this
          // cheap); it stops being "present throughout".
          auto it = t.keys().lower_bound(Key(static_cast<int>(rng() % next)));
          if (it == t.keys().end()) it = t.keys().begin();
          const std::string key = *it;
          stable.erase(key);
          t.Erase(key);
        }
      }
      t.raw().RehashStep(static_cast<int>(rng() % 4));
    } while (cursor != 0);
    for (const std::string& key : stable) ASSERT_TRUE(seen.contains(key)) << key;
  }
}

// Fills `t` with 1100 keys and leaves it growing, `moved` buckets into the
// move: random draws must reach the keys on both of its tables.
void FillHalfMoved(Table& t, int moved) {
  for (int i = 0; i < 1000; ++i) t.Insert(Key(i));
  t.FinishRehash();
  for (int i = 1000; i < 1100; ++i) t.Insert(Key(i));
  t.raw().RehashStep(moved);
  ASSERT_TRUE(t.raw().IsRehashing()) << "sample a half-moved table";
}

TEST(HashTableScanTest, RandomReturnsOnlyStoredEntriesAndReachesThemAll) {
  Table t(77);
  std::mt19937 rng(1);
  EXPECT_EQ(t.raw().Random(rng), nullptr);
  ASSERT_NO_FATAL_FAILURE(FillHalfMoved(t, 5));
  std::set<std::string> drawn;
  for (int i = 0; i < 30000; ++i) {
    SiblingSet* e = t.raw().Random(rng);
    ASSERT_NE(e, nullptr);
    const std::string key(e->key());
    ASSERT_TRUE(t.keys().contains(key)) << key;
    drawn.insert(key);
  }
  EXPECT_GE(drawn.size(), 1000u) << "keys on both tables must be reachable";
}

TEST(HashTableScanTest, UniformRandomIsUniformOnBothTablesOfAResize) {
  Table t(91);
  std::mt19937_64 rng(3);
  EXPECT_EQ(t.raw().UniformRandom(rng), nullptr);
  ASSERT_NO_FATAL_FAILURE(FillHalfMoved(t, 300));
  std::map<std::string, int> hits;
  const int kPerKey = 400;
  for (int i = 0; i < kPerKey * 1100; ++i) {
    SiblingSet* e = t.raw().UniformRandom(rng);
    ASSERT_NE(e, nullptr);
    ++hits[std::string(e->key())];
  }
  ASSERT_EQ(hits.size(), 1100u);
  // Binomial(440000, 1/1100): mean 400, deviation 20; 7 deviations either way.
  for (const auto& [key, count] : hits) {
    ASSERT_TRUE(t.keys().contains(key)) << key;
    EXPECT_GT(count, 260) << key;
    EXPECT_LT(count, 540) << key;
  }
}

TEST(HashTableScanTest, UniformRandomReachesEveryEntryOfChainsLongerThanItsBound) {
  // Without RehashStep the table never gets past its first resize (4 + 8
  // buckets): chains of about 25, far beyond kUniformChainBound, whose tails
  // must stay reachable.
  Table t(5);
  for (int i = 0; i < 200; ++i) t.Insert(Key(i));
  ASSERT_LE(t.raw().bucket_count(), 12u);
  std::mt19937_64 rng(4);
  std::set<std::string> drawn;
  for (int i = 0; i < 200000 && drawn.size() < 200; ++i) {
    drawn.insert(std::string(t.raw().UniformRandom(rng)->key()));
  }
  EXPECT_EQ(drawn.size(), 200u);
}

// --- Through Keyspace -------------------------------------------------------

class KeyspaceScanTest : public testing::Test {
 protected:
  KeyspaceScanTest() { clock_.now_ms = 1'000'000; }

  void Add(const std::string& key, int64_t at = SiblingSet::kNoExpire) {
    ASSERT_EQ(
        ks_.Set(key, "v", at == SiblingSet::kNoExpire ? TtlUpdate::Clear() : TtlUpdate::At(at)),
        OpStatus::kOk);
  }
  std::set<std::string> LiveKeys() {
    std::set<std::string> out;
    ks_.ForEachLive([&](const SiblingSet* s) { out.emplace(s->key()); });
    return out;
  }

  VersionCounter counter_;
  Clock clock_;
  KeyspaceStats stats_;
  Keyspace ks_{&counter_, &clock_, &stats_, 2024};
};

TEST_F(KeyspaceScanTest, ScanCompleteWhileTheKeyspaceGrowsAndShrinks) {
  for (int i = 0; i < 500; ++i) Add(Key(i));
  while (ks_.RehashStep(100)) {
  }
  const size_t initial_buckets = ks_.TEST_bucket_count();
  std::set<std::string> stable;
  for (int i = 0; i < 500; i += 5) stable.insert(Key(i));
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int call = 0;
  int next = 500;
  int doomed = 0;  // keys below this one (except stable ones) are deleted
  size_t largest = initial_buckets;
  size_t smallest_after_peak = SIZE_MAX;
  do {
    cursor = ks_.Scan(cursor, [&](const SiblingSet* s) { seen.emplace(s->key()); });
    if (call < 8) {
      // Grow: many new keys (each Set also does a rehash step).
      for (int i = 0; i < 1000; ++i) Add(Key(next++));
    } else {
      // Shrink: delete everything but the stable keys, a slice per call.
      for (int deleted = 0; doomed < next && deleted < 600; ++doomed) {
        if (doomed < 500 && doomed % 5 == 0) continue;
        ASSERT_TRUE(ks_.Delete(Key(doomed)));
        ++deleted;
      }
      smallest_after_peak = std::min(smallest_after_peak, ks_.TEST_bucket_count());
    }
    ks_.RehashStep(1);
    largest = std::max(largest, ks_.TEST_bucket_count());
    ++call;
  } while (cursor != 0);
  for (const std::string& key : stable) EXPECT_TRUE(seen.contains(key)) << key;
  EXPECT_GE(largest, initial_buckets * 8);
  EXPECT_LT(smallest_after_peak, largest / 2) << "the keyspace must also have shrunk mid-scan";
}

TEST_F(KeyspaceScanTest, RandomKeyReturnsOnlyLiveKeys) {
  EXPECT_EQ(ks_.RandomKey(), nullptr) << "empty keyspace";
  for (int i = 0; i < 100; ++i) Add(Key(i), i < 90 ? 1'000'010 : SiblingSet::kNoExpire);
  clock_.now_ms = 1'000'011;  // 90 of 100 have expired
  const std::set<std::string> live = LiveKeys();
  ASSERT_EQ(live.size(), 10u);
  std::set<std::string> drawn;
  for (int i = 0; i < 300; ++i) {
    const SiblingSet* s = ks_.RandomKey();
    if (s == nullptr) continue;  // allowed: gave up after many expired picks
    EXPECT_TRUE(live.contains(std::string(s->key()))) << s->key();
    drawn.emplace(s->key());
  }
  EXPECT_EQ(drawn, live) << "every live key is eventually drawn";
  // Expired keys met on the way were reclaimed and counted.
  EXPECT_EQ(ks_.size(), 10u + (90u - stats_.expired_keys));
  EXPECT_GT(stats_.expired_keys, 0u);
  EXPECT_EQ(ks_.expires_count(), 90u - stats_.expired_keys);
}

TEST_F(KeyspaceScanTest, RandomKeyWhenEverythingExpiredEndsAndReturnsNull) {
  for (int i = 0; i < 20; ++i) Add(Key(i), 1'000'001);
  clock_.now_ms = 1'000'002;
  const SiblingSet* s = ks_.RandomKey();
  EXPECT_EQ(s, nullptr);
  // 20 keys need at most 20 tries of its 100, so all were reclaimed.
  EXPECT_EQ(ks_.size(), 0u);
  EXPECT_EQ(stats_.expired_keys, 20u);
}

TEST_F(KeyspaceScanTest, ExpireSampleRemovesExpiredKeysOnly) {
  size_t sampled = 99;
  EXPECT_EQ(ks_.ExpireSample(20, &sampled), 0u);
  EXPECT_EQ(sampled, 0u) << "nothing with a TTL to sample";
  for (int i = 0; i < 300; ++i) {
    if (i < 100) {
      Add(Key(i), 1'000'100);  // will expire
    } else if (i < 200) {
      Add(Key(i), 9'000'000);  // will not
    } else {
      Add(Key(i));  // no TTL
    }
  }
  // Churn the TTL index so that slots get reused: drop some TTLs from the middle.
  for (int i = 150; i < 160; ++i) ASSERT_TRUE(ks_.Persist(Key(i)));
  for (int i = 160; i < 170; ++i) ASSERT_TRUE(ks_.Delete(Key(i)));
  ASSERT_EQ(ks_.expires_count(), 180u);
  clock_.now_ms = 1'000'101;
  const std::set<std::string> live_before = LiveKeys();
  ASSERT_EQ(live_before.size(), 190u);
  size_t removed = 0;
  for (int round = 0; round < 1000 && removed < 100; ++round) {
    size_t n = 0;
    const size_t r = ks_.ExpireSample(20, &n);
    EXPECT_LE(n, 20u);
    EXPECT_LE(r, n);
    removed += r;
  }
  EXPECT_EQ(removed, 100u);
  EXPECT_EQ(stats_.expired_keys, 100u);
  EXPECT_EQ(ks_.size(), 190u);
  EXPECT_EQ(ks_.expires_count(), 80u);
  EXPECT_EQ(LiveKeys(), live_before) << "no live key may be removed";
  // Nothing left to expire.
  for (int round = 0; round < 50; ++round) {
    size_t n = 0;
    EXPECT_EQ(ks_.ExpireSample(20, &n), 0u);
    EXPECT_EQ(n, 20u);
  }
}

// The TTL index is a vector with swap-with-last removal; every way of
// dropping a TTL must keep each key's slot right, or active expiry stops
// finding keys (and keeps pointers to freed ones).
TEST_F(KeyspaceScanTest, ExpireSampleFindsEveryTtlKeyAfterRemovalsInAnyOrder) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ks_.Clear();
    stats_.expired_keys = 0;
    clock_.now_ms = 1'000'000;
    std::mt19937 rng(seed);
    std::vector<int> order;
    for (int i = 0; i < 60; ++i) {
      Add(Key(i), 1'000'500);
      order.push_back(i);
    }
    Add("plain");
    std::shuffle(order.begin(), order.end(), rng);
    // Drop the TTL of 40 keys, each in one of the ways a command can.
    int kept_without_ttl = 0;
    for (int n = 0; n < 40; ++n) {
      const std::string key = Key(order[n]);
      const SiblingSet* after = nullptr;
      switch (n % 5) {
        case 0:
          ASSERT_TRUE(ks_.Persist(key));
          ++kept_without_ttl;
          break;
        case 1:
          ASSERT_TRUE(ks_.Delete(key));
          break;
        case 2:
          ASSERT_EQ(ks_.Set(key, "w", TtlUpdate::Clear()), OpStatus::kOk);
          ++kept_without_ttl;
          break;
        case 3:
          ASSERT_EQ(ks_.VPut(key, Version(0), "w", TtlUpdate::Clear(), &after), OpStatus::kOk);
          ++kept_without_ttl;
          break;
        case 4:
          // Renaming moves the TTL: the old entry goes, a new one comes.
          ASSERT_EQ(ks_.Rename(key, key + ":renamed", false), OpStatus::kOk);
          ASSERT_TRUE(ks_.Persist(key + ":renamed"));
          ++kept_without_ttl;
          break;
      }
      ASSERT_EQ(ks_.expires_count(), static_cast<size_t>(60 - n - 1));
    }
    clock_.now_ms = 1'000'501;
    size_t removed = 0;
    for (int round = 0; round < 2000 && removed < 20; ++round) {
      size_t n = 0;
      removed += ks_.ExpireSample(20, &n);
    }
    EXPECT_EQ(removed, 20u) << "every remaining TTL key is found by sampling";
    EXPECT_EQ(ks_.expires_count(), 0u);
    EXPECT_EQ(ks_.size(), static_cast<size_t>(kept_without_ttl + 1));
  }
}

}  // namespace
}  // namespace causalkv::store
