// Eviction (issue 5, "Memory limit and eviction" and "Sibling growth guard"):
// the LFU counter, policy names, the eviction pool, Store::EvictOne under
// every policy with a controlled clock, the keyspace's memory accounting and
// the max-siblings guard on VPUT.
//
// Sampling uses the keyspace's seeded generator, so every test here is
// deterministic; the tests that depend on sampling use far more samples than
// keys (kManySamples for at most 20 keys: a key is missed with a probability
// below 1e-10 even with the hash table's uneven bucket sampling), so that
// they hold for any seed, not just this one.
#include "causalkv/store/eviction.h"

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "causalkv/store/keyspace.h"
#include "causalkv/store/store.h"
#include "causalkv/store/version_counter.h"

namespace causalkv::store {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
// Samples per eviction in the Store tests (the config caps maxmemory-samples
// at 64; the Store itself takes any number).
constexpr int kManySamples = 1000;
// A start time well away from 0 (an access field of 0 means "new key" to LFU).
constexpr int64_t kStart = 1'700'000'000'000;

// ---------------------------------------------------------------------------
// lfu::LogIncrement
// ---------------------------------------------------------------------------

TEST(EvictionLfuTest, AlwaysIncrementsAtOrBelowTheInitialCounter) {
  for (int factor : {0, 1, 10, 100, 1000}) {
    for (uint8_t c = 0; c <= lfu::kInitialCounter; ++c) {
      for (double r : {0.0, 0.5, 0.999999}) {
        EXPECT_EQ(lfu::LogIncrement(c, factor, r), c + 1)
            << "counter " << int(c) << " factor " << factor << " r " << r;
      }
    }
  }
}

TEST(EvictionLfuTest, ProbabilityIsOneOverBaseTimesFactorPlusOne) {
  // counter 6, factor 10: p = 1/(1*10+1) = 0.0909...
  EXPECT_EQ(lfu::LogIncrement(6, 10, 0.0), 7);
  EXPECT_EQ(lfu::LogIncrement(6, 10, 0.0909), 7);
  EXPECT_EQ(lfu::LogIncrement(6, 10, 0.0910), 6);
  EXPECT_EQ(lfu::LogIncrement(6, 10, 0.5), 6);
  // counter 15, factor 10: p = 1/101.
  EXPECT_EQ(lfu::LogIncrement(15, 10, 0.0098), 16);
  EXPECT_EQ(lfu::LogIncrement(15, 10, 0.0100), 15);
  // factor 0: every access counts, whatever the counter.
  EXPECT_EQ(lfu::LogIncrement(200, 0, 0.999999), 201);
  EXPECT_EQ(lfu::LogIncrement(254, 0, 0.999999), 255);
}

TEST(EvictionLfuTest, SaturatesAt255) {
  for (int factor : {0, 1, 10}) {
    for (double r : {0.0, 0.3, 0.999999}) {
      EXPECT_EQ(lfu::LogIncrement(255, factor, r), 255) << "factor " << factor << " r " << r;
    }
  }
}

// The fraction of a grid of evenly spaced random inputs that increments the
// counter is the increment probability.
double IncrementRate(uint8_t counter, int factor) {
  constexpr int kInputs = 100'000;
  int incremented = 0;
  for (int i = 0; i < kInputs; ++i) {
    const double r = (i + 0.5) / kInputs;
    if (lfu::LogIncrement(counter, factor, r) != counter) ++incremented;
  }
  return static_cast<double>(incremented) / kInputs;
}

TEST(EvictionLfuTest, IncrementsRarelyAtHighCounters) {
  EXPECT_NEAR(IncrementRate(6, 10), 1.0 / 11, 1e-4);
  EXPECT_NEAR(IncrementRate(55, 10), 1.0 / 501, 1e-4);
  EXPECT_NEAR(IncrementRate(105, 10), 1.0 / 1001, 1e-4);
  EXPECT_NEAR(IncrementRate(254, 10), 1.0 / 2491, 1e-4);
  EXPECT_NEAR(IncrementRate(105, 1), 1.0 / 101, 1e-4);
  EXPECT_NEAR(IncrementRate(105, 100), 1.0 / 10001, 2e-5);
  // Monotonic: the higher the counter, the rarer an increment.
  double previous = 1.0;
  for (int c = 5; c <= 254; c += 7) {
    const double rate = IncrementRate(static_cast<uint8_t>(c), 10);
    EXPECT_LE(rate, previous) << "counter " << c;
    previous = rate;
  }
}

// Counter after `hits` accesses from the initial value, with a fixed-seed generator.
int CounterAfter(int64_t hits, int factor, uint32_t seed) {
  std::mt19937 rnd(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  uint8_t c = lfu::kInitialCounter;
  for (int64_t i = 0; i < hits; ++i) c = lfu::LogIncrement(c, factor, uniform(rnd));
  return c;
}

// Mean counter over ten fixed seeds.
double MeanCounterAfter(int64_t hits, int factor) {
  double sum = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) sum += CounterAfter(hits, factor, seed);
  return sum / 10;
}

TEST(EvictionLfuTest, GrowsLogarithmicallyAsRedisDocuments) {
  // redis.conf's table: factor 10: 100 hits ~10, 1000 ~18, 100K ~142, 1M
  // 255; factor 1: 1000 hits ~49; factor 100: 100K hits ~49. From the
  // formula, n hits reach about 5 + sqrt(n / (factor / 2)).
  EXPECT_NEAR(MeanCounterAfter(100, 10), 10, 1.5);
  EXPECT_NEAR(MeanCounterAfter(1'000, 10), 19.5, 3);
  EXPECT_NEAR(MeanCounterAfter(100'000, 10), 147, 10);
  EXPECT_NEAR(MeanCounterAfter(1'000, 1), 49, 5);
  EXPECT_NEAR(MeanCounterAfter(100'000, 100), 50, 5);
  for (uint32_t seed : {1u, 2u, 3u}) EXPECT_EQ(CounterAfter(1'000'000, 10, seed), 255);
  // A larger factor grows more slowly; factor 0 counts every hit.
  EXPECT_LT(CounterAfter(100'000, 100, 7), CounterAfter(100'000, 10, 7));
  EXPECT_EQ(CounterAfter(100, 0, 7), 105);
  EXPECT_EQ(CounterAfter(1'000, 0, 7), 255);
}

// ---------------------------------------------------------------------------
// lfu::Decayed and packing
// ---------------------------------------------------------------------------

TEST(EvictionLfuTest, PackKeepsMinutesAndCounter) {
  const uint32_t a = lfu::Pack(0xBEEF, 0x42);
  EXPECT_EQ(lfu::Minutes(a), 0xBEEF);
  EXPECT_EQ(lfu::Counter(a), 0x42);
  EXPECT_EQ(lfu::MinutesOf(0), 0);
  EXPECT_EQ(lfu::MinutesOf(kMinute - 1), 0);
  EXPECT_EQ(lfu::MinutesOf(kMinute), 1);
  EXPECT_EQ(lfu::MinutesOf(65536 * kMinute + 3 * kMinute), 3);  // 16 bits of minutes
}

TEST(EvictionLfuTest, LosesOnePointPerDecayTimeMinutes) {
  const int64_t base = 1000 * kMinute;
  const uint32_t access = lfu::Pack(lfu::MinutesOf(base), 20);
  EXPECT_EQ(lfu::Decayed(access, base, 1), 20);
  EXPECT_EQ(lfu::Decayed(access, base + kMinute - 1, 1), 20);
  EXPECT_EQ(lfu::Decayed(access, base + kMinute, 1), 19);
  EXPECT_EQ(lfu::Decayed(access, base + 7 * kMinute + 30 * kSecond, 1), 13);
  // decay_time 3: a point per three whole minutes.
  EXPECT_EQ(lfu::Decayed(access, base + 2 * kMinute, 3), 20);
  EXPECT_EQ(lfu::Decayed(access, base + 3 * kMinute, 3), 19);
  EXPECT_EQ(lfu::Decayed(access, base + 8 * kMinute, 3), 18);
  EXPECT_EQ(lfu::Decayed(access, base + 9 * kMinute, 3), 17);
  // Never below 0.
  EXPECT_EQ(lfu::Decayed(access, base + 20 * kMinute, 1), 0);
  EXPECT_EQ(lfu::Decayed(access, base + 500 * kMinute, 1), 0);
}

TEST(EvictionLfuTest, DecayTimeZeroNeverDecays) {
  const int64_t base = 1000 * kMinute;
  const uint32_t access = lfu::Pack(lfu::MinutesOf(base), 20);
  EXPECT_EQ(lfu::Decayed(access, base + 10'000 * kMinute, 0), 20);
  EXPECT_EQ(lfu::Decayed(access, base + 60'000 * kMinute, 0), 20);
}

TEST(EvictionLfuTest, DecayCountsForwardAcrossTheMinuteWrap) {
  // The last decay at minute 65534 (of the 16-bit minute clock); now is 5
  // minutes later, when the minute clock has wrapped to 3.
  const uint32_t access = lfu::Pack(65534, 30);
  const int64_t now = (65536 + 3) * kMinute;
  ASSERT_EQ(lfu::MinutesOf(now), 3);
  EXPECT_EQ(lfu::Decayed(access, now, 1), 25);
  EXPECT_EQ(lfu::Decayed(access, now, 5), 29);
  EXPECT_EQ(lfu::Decayed(access, now, 0), 30);
}

// ---------------------------------------------------------------------------
// Policy names
// ---------------------------------------------------------------------------

constexpr EvictionPolicy kAllPolicies[] = {
    EvictionPolicy::kNoEviction,     EvictionPolicy::kAllKeysLru,  EvictionPolicy::kAllKeysLfu,
    EvictionPolicy::kAllKeysRandom,  EvictionPolicy::kVolatileLru, EvictionPolicy::kVolatileLfu,
    EvictionPolicy::kVolatileRandom, EvictionPolicy::kVolatileTtl,
};

TEST(EvictionPolicyNameTest, RoundTripsEveryPolicy) {
  std::set<std::string> names;
  for (EvictionPolicy p : kAllPolicies) {
    const std::string_view name = EvictionPolicyName(p);
    names.insert(std::string(name));
    EvictionPolicy parsed = EvictionPolicy::kNoEviction;
    ASSERT_TRUE(ParseEvictionPolicy(name, &parsed)) << name;
    EXPECT_EQ(parsed, p) << name;
  }
  EXPECT_EQ(names.size(), std::size(kAllPolicies)) << "names are not distinct";
  EXPECT_EQ(EvictionPolicyName(EvictionPolicy::kAllKeysLru), "allkeys-lru");
  EXPECT_EQ(EvictionPolicyName(EvictionPolicy::kVolatileTtl), "volatile-ttl");
  EXPECT_EQ(EvictionPolicyName(EvictionPolicy::kNoEviction), "noeviction");
}

TEST(EvictionPolicyNameTest, ParsingIgnoresCase) {
  EvictionPolicy p = EvictionPolicy::kNoEviction;
  ASSERT_TRUE(ParseEvictionPolicy("ALLKEYS-LRU", &p));
  EXPECT_EQ(p, EvictionPolicy::kAllKeysLru);
  ASSERT_TRUE(ParseEvictionPolicy("Volatile-TTL", &p));
  EXPECT_EQ(p, EvictionPolicy::kVolatileTtl);
  ASSERT_TRUE(ParseEvictionPolicy("NoEviction", &p));
  EXPECT_EQ(p, EvictionPolicy::kNoEviction);
  ASSERT_TRUE(ParseEvictionPolicy("allKeys-lFu", &p));
  EXPECT_EQ(p, EvictionPolicy::kAllKeysLfu);
}

TEST(EvictionPolicyNameTest, RejectsOtherNamesAndLeavesTheOutputAlone) {
  for (std::string_view bad : {"", "lru", "allkeys", "allkeys-lru ", " allkeys-lru", "allkeys_lru",
                               "allkeys-lruu", "volatile-lr", "no-eviction", "allkeys-mru"}) {
    EvictionPolicy p = EvictionPolicy::kVolatileRandom;
    EXPECT_FALSE(ParseEvictionPolicy(bad, &p)) << "'" << bad << "'";
    EXPECT_EQ(p, EvictionPolicy::kVolatileRandom) << "'" << bad << "'";
  }
}

TEST(EvictionPolicyNameTest, CaseFoldingDoesNotMatchControlCharacters) {
  // The comparison folds case with `c | 0x20`, which also maps '\r' (0x0d)
  // to '-' (0x2d) and '\f'/0x0c to ','; only ASCII letters may fold.
  EvictionPolicy p = EvictionPolicy::kNoEviction;
  EXPECT_FALSE(ParseEvictionPolicy("allkeys\rlru", &p));
  EXPECT_FALSE(ParseEvictionPolicy("volatile\rttl", &p));
}

TEST(EvictionPolicyNameTest, VolatileAndLfuClassification) {
  for (EvictionPolicy p : kAllPolicies) {
    const std::string name(EvictionPolicyName(p));
    EXPECT_EQ(IsVolatile(p), name.rfind("volatile-", 0) == 0) << name;
    EXPECT_EQ(IsLfu(p), name.size() > 4 && name.substr(name.size() - 4) == "-lfu") << name;
  }
}

// ---------------------------------------------------------------------------
// EvictionPool
// ---------------------------------------------------------------------------

std::vector<uint64_t> DrainScores(EvictionPool* pool) {
  std::vector<uint64_t> out;
  EvictionPool::Candidate c;
  while (pool->PopBest(&c)) out.push_back(c.score);
  return out;
}

TEST(EvictionPoolTest, EmptyPoolPopsNothing) {
  EvictionPool pool;
  EvictionPool::Candidate c{7, 3, "unchanged"};
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_FALSE(pool.PopBest(&c));
}

TEST(EvictionPoolTest, KeepsTheSixteenBestAndPopsThemBestFirst) {
  EvictionPool pool;
  // Scores 1..40 in a scrambled order.
  std::vector<uint64_t> scores;
  for (uint64_t s = 1; s <= 40; ++s) scores.push_back(s);
  std::shuffle(scores.begin(), scores.end(), std::mt19937(12345));
  for (uint64_t s : scores) {
    pool.Offer(s, 0, "k" + std::to_string(s));
    EXPECT_LE(pool.size(), EvictionPool::kSize);
  }
  ASSERT_EQ(pool.size(), 16u);
  EvictionPool::Candidate c;
  for (uint64_t expect = 40; expect > 24; --expect) {
    ASSERT_TRUE(pool.PopBest(&c));
    EXPECT_EQ(c.score, expect);
    EXPECT_EQ(c.key, "k" + std::to_string(expect));
    EXPECT_EQ(c.db, 0);
  }
  EXPECT_FALSE(pool.PopBest(&c));
}

TEST(EvictionPoolTest, FullPoolRefusesCandidatesNoBetterThanItsWorst) {
  EvictionPool pool;
  for (uint64_t s = 100; s < 116; ++s) pool.Offer(s, 0, "k" + std::to_string(s));
  ASSERT_EQ(pool.size(), 16u);
  pool.Offer(5, 0, "worse");
  pool.Offer(100, 0, "tie-with-worst");
  EXPECT_EQ(pool.size(), 16u);
  pool.Offer(1000, 0, "better");
  EXPECT_EQ(pool.size(), 16u);
  EvictionPool::Candidate c;
  ASSERT_TRUE(pool.PopBest(&c));
  EXPECT_EQ(c.key, "better");
  std::vector<uint64_t> rest = DrainScores(&pool);
  ASSERT_EQ(rest.size(), 15u);
  EXPECT_EQ(rest.front(), 115u);
  EXPECT_EQ(rest.back(), 101u);  // 100, the worst, was pushed out
}

TEST(EvictionPoolTest, NoDuplicateKeysInOneDatabase) {
  EvictionPool pool;
  pool.Offer(10, 0, "a");
  pool.Offer(10, 0, "a");
  pool.Offer(20, 0, "a");
  pool.Offer(5, 0, "a");
  EXPECT_EQ(pool.size(), 1u);
  // The same key name in another database is another key.
  pool.Offer(10, 1, "a");
  EXPECT_EQ(pool.size(), 2u);
  EvictionPool::Candidate c;
  std::set<int> dbs;
  while (pool.PopBest(&c)) {
    EXPECT_EQ(c.key, "a");
    dbs.insert(c.db);
  }
  EXPECT_EQ(dbs, (std::set<int>{0, 1}));
}

TEST(EvictionPoolTest, OrderedDrainAfterMixedOffersAndPops) {
  EvictionPool pool;
  std::mt19937 rnd(99);
  std::multiset<uint64_t> model;  // scores of what the pool should hold
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 5; ++i) {
      const uint64_t score = rnd() % 1000;
      const std::string key = "k" + std::to_string(round) + "-" + std::to_string(i);
      const bool full = model.size() == EvictionPool::kSize;
      pool.Offer(score, 0, key);
      if (!full) {
        model.insert(score);
      } else if (score > *model.begin()) {
        model.erase(model.begin());
        model.insert(score);
      }
    }
    ASSERT_EQ(pool.size(), model.size());
    EvictionPool::Candidate c;
    ASSERT_TRUE(pool.PopBest(&c));
    EXPECT_EQ(c.score, *model.rbegin()) << "round " << round;
    model.erase(std::prev(model.end()));
  }
  const std::vector<uint64_t> drained = DrainScores(&pool);
  EXPECT_TRUE(std::is_sorted(drained.rbegin(), drained.rend()));
  EXPECT_EQ(drained.size(), model.size());
}

// ---------------------------------------------------------------------------
// Store::EvictOne
// ---------------------------------------------------------------------------

class EvictionStoreTest : public testing::Test {
 protected:
  EvictionStoreTest() { store_.set_now_ms(kStart); }

  void SetPolicy(EvictionPolicy policy, int samples = kManySamples) {
    EvictionSettings s;
    s.policy = policy;
    s.samples = samples;
    s.lfu_log_factor = 10;
    s.lfu_decay_time = 1;
    store_.set_eviction(s);
  }
  Keyspace& db(int i = 0) { return store_.db(i); }
  void Set(const std::string& key, const std::string& value = "value", int db_index = 0) {
    ASSERT_EQ(db(db_index).Set(key, value, TtlUpdate::Clear()), OpStatus::kOk);
  }
  void SetWithTtl(const std::string& key, int64_t at_ms, int db_index = 0) {
    ASSERT_EQ(db(db_index).Set(key, "value", TtlUpdate::At(at_ms)), OpStatus::kOk);
  }
  bool Exists(const std::string& key, int db_index = 0) {
    // A lookup is an access: this checks presence without one, by scanning.
    bool found = false;
    db(db_index).ForEachLive([&](const SiblingSet* s) { found |= s->key() == key; });
    return found;
  }
  std::set<std::string> Keys(int db_index = 0) {
    std::set<std::string> out;
    db(db_index).ForEachLive([&](const SiblingSet* s) { out.insert(std::string(s->key())); });
    return out;
  }
  // Evicts one key and returns which one ("" when EvictOne returned false).
  std::string EvictOneKey(int db_index = 0) {
    const std::set<std::string> before = Keys(db_index);
    if (!store_.EvictOne()) {
      EXPECT_EQ(Keys(db_index), before) << "EvictOne returned false but removed a key";
      return "";
    }
    const std::set<std::string> after = Keys(db_index);
    std::vector<std::string> gone;
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(gone));
    EXPECT_EQ(gone.size(), 1u) << "EvictOne must remove exactly one key";
    EXPECT_TRUE(std::includes(before.begin(), before.end(), after.begin(), after.end()));
    return gone.empty() ? "" : gone.front();
  }

  Store store_{2, 0x5eed};
};

TEST_F(EvictionStoreTest, NoEvictionEvictsNothing) {
  SetPolicy(EvictionPolicy::kNoEviction);
  for (int i = 0; i < 10; ++i) Set("k" + std::to_string(i));
  SetWithTtl("t", kStart + 1000);
  EXPECT_FALSE(store_.EvictOne());
  EXPECT_EQ(db().size(), 11u);
  EXPECT_EQ(store_.stats().evicted_keys, 0u);
}

TEST_F(EvictionStoreTest, EmptyStoreEvictsNothingUnderAnyPolicy) {
  for (EvictionPolicy p : kAllPolicies) {
    SetPolicy(p);
    EXPECT_FALSE(store_.EvictOne()) << EvictionPolicyName(p);
  }
  EXPECT_EQ(store_.stats().evicted_keys, 0u);
}

TEST_F(EvictionStoreTest, VolatilePoliciesNeverEvictKeysWithoutTtl) {
  for (EvictionPolicy p : {EvictionPolicy::kVolatileLru, EvictionPolicy::kVolatileLfu,
                           EvictionPolicy::kVolatileRandom, EvictionPolicy::kVolatileTtl}) {
    SCOPED_TRACE(std::string(EvictionPolicyName(p)));
    store_.FlushAll();
    SetPolicy(p);
    const uint64_t evicted_before = store_.stats().evicted_keys;
    for (int i = 0; i < 10; ++i) Set("plain" + std::to_string(i));
    // Only keys without a TTL: nothing to evict.
    EXPECT_EQ(EvictOneKey(), "");
    EXPECT_EQ(db().size(), 10u);
    // Some keys with a TTL, in both databases: exactly those go, then nothing.
    for (int i = 0; i < 5; ++i) SetWithTtl("ttl" + std::to_string(i), kStart + 100'000 + i);
    SetWithTtl("other-db", kStart + 50'000, 1);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(store_.EvictOne()) << "eviction " << i;
    }
    EXPECT_FALSE(store_.EvictOne());
    EXPECT_EQ(db().size(), 10u);
    EXPECT_EQ(db(1).size(), 0u);
    EXPECT_EQ(db().expires_count(), 0u);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(Exists("plain" + std::to_string(i))) << i;
    EXPECT_EQ(store_.stats().evicted_keys - evicted_before, 6u);
  }
}

TEST_F(EvictionStoreTest, VolatileTtlEvictsTheNearestExpiryFirst) {
  SetPolicy(EvictionPolicy::kVolatileTtl);
  const int order[] = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4};  // written in this order
  for (int i : order) SetWithTtl("t" + std::to_string(i), kStart + 10'000 + 1000 * i);
  for (int i = 0; i < 5; ++i) Set("plain" + std::to_string(i));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(EvictOneKey(), "t" + std::to_string(i));
  EXPECT_EQ(EvictOneKey(), "");
  EXPECT_EQ(db().size(), 5u);
}

// A key already in the pool is sampled again after its TTL was shortened:
// the fresh score must count. Redis's pool has no duplicate check, so the
// new sample goes in with its new score and is evicted next; this pool
// refuses the duplicate and keeps the stale score, so the key that now
// expires first is evicted last.
TEST_F(EvictionStoreTest, VolatileTtlSeesATtlShortenedAfterSampling) {
  SetPolicy(EvictionPolicy::kVolatileTtl);
  for (int i = 0; i < 10; ++i) SetWithTtl("t" + std::to_string(i), kStart + 10'000 + 1000 * i);
  EXPECT_EQ(EvictOneKey(), "t0");  // samples t1..t9 into the pool
  ASSERT_TRUE(db().SetExpire("t9", kStart + 5'000));
  EXPECT_EQ(EvictOneKey(), "t9") << "the nearest expiry is t9 now";
}

TEST_F(EvictionStoreTest, AllKeysLruEvictsTheLeastRecentlyAccessed) {
  SetPolicy(EvictionPolicy::kAllKeysLru);
  // Written a second apart (the LRU clock has a resolution of one second).
  for (int i = 0; i < 10; ++i) {
    store_.set_now_ms(kStart + i * kSecond);
    Set("k" + std::to_string(i));
  }
  // Read k0, k5 and k2 later, in that order, a second apart.
  int64_t t = kStart + 20 * kSecond;
  for (const char* key : {"k0", "k5", "k2"}) {
    store_.set_now_ms(t);
    ASSERT_NE(db().FindReadOnly(key), nullptr);
    t += kSecond;
  }
  store_.set_now_ms(t + 5 * kSecond);
  std::vector<std::string> evicted;
  for (int i = 0; i < 10; ++i) evicted.push_back(EvictOneKey());
  EXPECT_EQ(evicted,
            (std::vector<std::string>{"k1", "k3", "k4", "k6", "k7", "k8", "k9", "k0", "k5", "k2"}));
  EXPECT_EQ(EvictOneKey(), "");
  EXPECT_EQ(store_.stats().evicted_keys, 10u);
}

TEST_F(EvictionStoreTest, AllKeysLruCountsWritesAsAccesses) {
  SetPolicy(EvictionPolicy::kAllKeysLru);
  for (int i = 0; i < 10; ++i) {
    store_.set_now_ms(kStart + i * kSecond);
    Set("k" + std::to_string(i));
  }
  store_.set_now_ms(kStart + 30 * kSecond);
  Set("k0", "rewritten");
  const SiblingSet* after = nullptr;
  store_.set_now_ms(kStart + 31 * kSecond);
  ASSERT_EQ(db().VPut("k1", Version(0), "sibling", TtlUpdate::Clear(), &after), OpStatus::kOk);
  store_.set_now_ms(kStart + 40 * kSecond);
  std::vector<std::string> evicted;
  for (int i = 0; i < 10; ++i) evicted.push_back(EvictOneKey());
  EXPECT_EQ(evicted,
            (std::vector<std::string>{"k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k0", "k1"}));
}

TEST_F(EvictionStoreTest, VolatileLruEvictsTheLeastRecentlyAccessedKeyWithTtl) {
  SetPolicy(EvictionPolicy::kVolatileLru);
  for (int i = 0; i < 6; ++i) {
    store_.set_now_ms(kStart + i * kSecond);
    SetWithTtl("t" + std::to_string(i), kStart + 3'600'000);
    Set("plain" + std::to_string(i));  // older than later TTL keys, but never a candidate
  }
  store_.set_now_ms(kStart + 20 * kSecond);
  ASSERT_NE(db().FindReadOnly("t0"), nullptr);
  store_.set_now_ms(kStart + 30 * kSecond);
  std::vector<std::string> evicted;
  for (int i = 0; i < 6; ++i) evicted.push_back(EvictOneKey());
  EXPECT_EQ(evicted, (std::vector<std::string>{"t1", "t2", "t3", "t4", "t5", "t0"}));
  EXPECT_EQ(EvictOneKey(), "");
  EXPECT_EQ(db().size(), 6u);
}

TEST_F(EvictionStoreTest, AllKeysLfuPrefersRarelyAccessedKeys) {
  SetPolicy(EvictionPolicy::kAllKeysLfu);
  for (int i = 0; i < 20; ++i) Set("k" + std::to_string(i));
  // The even keys are read 300 times each (their counters climb well above
  // the initial value); the odd ones never.
  for (int n = 0; n < 300; ++n)
    for (int i = 0; i < 20; i += 2) ASSERT_NE(db().FindReadOnly("k" + std::to_string(i)), nullptr);
  std::set<std::string> first_ten;
  for (int i = 0; i < 10; ++i) first_ten.insert(EvictOneKey());
  std::set<std::string> odd;
  for (int i = 1; i < 20; i += 2) odd.insert("k" + std::to_string(i));
  EXPECT_EQ(first_ten, odd);
  EXPECT_EQ(db().size(), 10u);
}

TEST_F(EvictionStoreTest, AllKeysLfuMoreHitsMeansLaterEviction) {
  SetPolicy(EvictionPolicy::kAllKeysLfu);
  // k_i read 4^i times (1, 4, 16, ... 16384): the counters are ordered.
  for (int i = 0; i < 8; ++i) {
    const std::string key = "k" + std::to_string(i);
    Set(key);
    for (int n = 0, hits = 1 << (2 * i); n < hits; ++n) ASSERT_NE(db().FindReadOnly(key), nullptr);
  }
  // Adjacent low counts can tie; compare keys far enough apart.
  std::vector<std::string> evicted;
  for (int i = 0; i < 8; ++i) evicted.push_back(EvictOneKey());
  auto pos = [&](const std::string& k) {
    return std::find(evicted.begin(), evicted.end(), k) - evicted.begin();
  };
  EXPECT_LT(pos("k0"), pos("k4"));
  EXPECT_LT(pos("k2"), pos("k6"));
  EXPECT_LT(pos("k4"), pos("k7"));
  EXPECT_EQ(evicted.back(), "k7");
}

TEST_F(EvictionStoreTest, AllKeysLfuCountersDecayWithTime) {
  SetPolicy(EvictionPolicy::kAllKeysLfu);
  Set("once-hot");
  for (int n = 0; n < 5000; ++n) ASSERT_NE(db().FindReadOnly("once-hot"), nullptr);
  // An hour later (decay 1 point a minute), the old counter has decayed to
  // nothing and fresh keys, at the initial counter, are worth more.
  store_.set_now_ms(kStart + 60 * kMinute);
  for (int i = 0; i < 5; ++i) Set("fresh" + std::to_string(i));
  EXPECT_EQ(EvictOneKey(), "once-hot");
}

TEST_F(EvictionStoreTest, AllKeysLfuWithoutDecayKeepsTheOldCounter) {
  EvictionSettings s;
  s.policy = EvictionPolicy::kAllKeysLfu;
  s.samples = kManySamples;
  s.lfu_decay_time = 0;
  store_.set_eviction(s);
  Set("once-hot");
  for (int n = 0; n < 5000; ++n) ASSERT_NE(db().FindReadOnly("once-hot"), nullptr);
  store_.set_now_ms(kStart + 600 * kMinute);
  for (int i = 0; i < 5; ++i) Set("fresh" + std::to_string(i));
  for (int i = 0; i < 5; ++i) EXPECT_NE(EvictOneKey(), "once-hot") << i;
  EXPECT_TRUE(Exists("once-hot"));
}

TEST_F(EvictionStoreTest, RandomPoliciesEvictSomething) {
  SetPolicy(EvictionPolicy::kAllKeysRandom);
  for (int i = 0; i < 30; ++i) Set("k" + std::to_string(i));
  for (int i = 0; i < 10; ++i) Set("o" + std::to_string(i), "v", 1);
  for (int n = 40; n > 0; --n) {
    ASSERT_TRUE(store_.EvictOne()) << n << " keys left";
    EXPECT_EQ(db(0).size() + db(1).size(), static_cast<size_t>(n - 1));
  }
  EXPECT_FALSE(store_.EvictOne());
  EXPECT_EQ(store_.stats().evicted_keys, 40u);

  SetPolicy(EvictionPolicy::kVolatileRandom);
  for (int i = 0; i < 10; ++i) Set("plain" + std::to_string(i));
  for (int i = 0; i < 10; ++i) SetWithTtl("ttl" + std::to_string(i), kStart + 99'999);
  SetWithTtl("ttl-db1", kStart + 99'999, 1);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(store_.EvictOne()) << i;
  EXPECT_FALSE(store_.EvictOne());
  EXPECT_EQ(Keys().size(), 10u);
  for (const std::string& k : Keys()) EXPECT_EQ(k.rfind("plain", 0), 0u) << k;
  EXPECT_EQ(store_.stats().evicted_keys, 51u);
}

TEST_F(EvictionStoreTest, AllKeysRandomSpreadsOverKeys) {
  // Not always the same key: over many refills, most keys get evicted at least once.
  SetPolicy(EvictionPolicy::kAllKeysRandom);
  std::set<std::string> seen;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 20; ++i) Set("k" + std::to_string(i));
    seen.insert(EvictOneKey());
  }
  EXPECT_GE(seen.size(), 15u);
}

TEST_F(EvictionStoreTest, SamplesEveryDatabase) {
  SetPolicy(EvictionPolicy::kAllKeysLru);
  store_.set_now_ms(kStart);
  Set("old", "v", 1);
  store_.set_now_ms(kStart + 10 * kSecond);
  for (int i = 0; i < 5; ++i) Set("new" + std::to_string(i), "v", 0);
  store_.set_now_ms(kStart + 20 * kSecond);
  ASSERT_TRUE(store_.EvictOne());
  EXPECT_EQ(db(1).size(), 0u) << "the oldest key, in db 1, should have gone first";
  EXPECT_EQ(db(0).size(), 5u);
}

TEST_F(EvictionStoreTest, EvictedKeysCountsEvictionsOnly) {
  SetPolicy(EvictionPolicy::kAllKeysLru);
  for (int i = 0; i < 10; ++i) Set("k" + std::to_string(i));
  EXPECT_TRUE(db().Delete("k0"));
  SetWithTtl("soon", kStart + 1);
  store_.set_now_ms(kStart + 2);
  EXPECT_EQ(db().FindReadOnly("soon"), nullptr);  // expired, not evicted
  EXPECT_EQ(store_.stats().evicted_keys, 0u);
  EXPECT_EQ(store_.stats().expired_keys, 1u);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store_.EvictOne());
    EXPECT_EQ(store_.stats().evicted_keys, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(store_.stats().expired_keys, 1u);
  store_.FlushAll();
  EXPECT_EQ(store_.stats().evicted_keys, 3u);
}

TEST_F(EvictionStoreTest, AKeyDeletedAfterSamplingIsSkipped) {
  SetPolicy(EvictionPolicy::kAllKeysLru);
  for (int i = 0; i < 10; ++i) {
    store_.set_now_ms(kStart + i * kSecond);
    Set("k" + std::to_string(i));
  }
  store_.set_now_ms(kStart + 20 * kSecond);
  EXPECT_EQ(EvictOneKey(), "k0");  // the pool now holds the other nine
  ASSERT_TRUE(db().Delete("k1"));
  ASSERT_TRUE(db().Delete("k2"));
  EXPECT_EQ(EvictOneKey(), "k3");
  EXPECT_EQ(store_.stats().evicted_keys, 2u);
  store_.FlushAll();
  EXPECT_FALSE(store_.EvictOne()) << "pooled keys of a flushed database must not count";
  EXPECT_EQ(store_.stats().evicted_keys, 2u);
}

TEST_F(EvictionStoreTest, EvictionRemovesEverySibling) {
  SetPolicy(EvictionPolicy::kAllKeysRandom);
  const SiblingSet* after = nullptr;
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(db().VPut("cart", Version(0), "v" + std::to_string(i), TtlUpdate::Clear(), &after),
              OpStatus::kOk);
  ASSERT_EQ(after->size(), 5u);
  ASSERT_TRUE(store_.EvictOne());
  EXPECT_EQ(db().FindReadOnly("cart"), nullptr);
  EXPECT_EQ(db().size(), 0u);
}

TEST_F(EvictionStoreTest, VersionCounterIsUnaffectedByEviction) {
  SetPolicy(EvictionPolicy::kAllKeysRandom);
  const SiblingSet* after = nullptr;
  uint64_t highest = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(db().VPut("cart", Version(0), "v" + std::to_string(i), TtlUpdate::Clear(), &after),
              OpStatus::kOk);
    highest = std::max(highest, after->max_version().counter());
    Set("other" + std::to_string(i));
  }
  highest = std::max(highest, store_.counter().last_issued().counter());
  while (store_.EvictOne()) {
  }
  EXPECT_EQ(db().size(), 0u);
  EXPECT_EQ(store_.counter().last_issued().counter(), highest) << "eviction took versions";
  ASSERT_EQ(db().VPut("cart", Version(0), "again", TtlUpdate::Clear(), &after), OpStatus::kOk);
  EXPECT_GT(after->max_version().counter(), highest);
  EXPECT_EQ(after->size(), 1u) << "no evicted sibling may come back";
  // A client still holding an old version cannot name one from the future,
  // and a write naming an old version keeps the new sibling.
  ASSERT_EQ(db().VPut("cart", Version(highest), "stale-merge", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  EXPECT_EQ(after->size(), 2u);
}

// The pool keeps candidates across evictions. A candidate sampled while it
// had a TTL must not be evicted by a volatile policy once it has none:
// volatile-* never evicts a key without a TTL (Redis re-checks the expires
// dict when it pops a pooled key).
TEST_F(EvictionStoreTest, VolatileLruDoesNotEvictAPooledKeyThatLostItsTtl) {
  SetPolicy(EvictionPolicy::kVolatileLru);
  for (int i = 0; i < 10; ++i) {
    store_.set_now_ms(kStart + i * kSecond);
    SetWithTtl("t" + std::to_string(i), kStart + 3'600'000);
  }
  store_.set_now_ms(kStart + 20 * kSecond);
  EXPECT_EQ(EvictOneKey(), "t0");  // samples the others into the pool
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(db().Persist("t" + std::to_string(i)));
  ASSERT_EQ(db().expires_count(), 0u);
  EXPECT_EQ(EvictOneKey(), "") << "evicted a key without a TTL under volatile-lru";
  EXPECT_EQ(db().size(), 9u);
}

TEST_F(EvictionStoreTest, SwitchingToAVolatilePolicyDoesNotEvictKeysWithoutTtl) {
  // CONFIG SET maxmemory-policy allkeys-lru, some evictions, then
  // CONFIG SET maxmemory-policy volatile-lru with only keys without a TTL.
  SetPolicy(EvictionPolicy::kAllKeysLru);
  for (int i = 0; i < 10; ++i) Set("k" + std::to_string(i));
  ASSERT_TRUE(store_.EvictOne());
  SetPolicy(EvictionPolicy::kVolatileLru);
  EXPECT_EQ(EvictOneKey(), "") << "evicted a key without a TTL under volatile-lru";
  EXPECT_EQ(db().size(), 9u);
}

// ---------------------------------------------------------------------------
// Keyspace::memory_bytes
// ---------------------------------------------------------------------------

class EvictionMemoryTest : public testing::Test {
 protected:
  EvictionMemoryTest() { clock_.now_ms = kStart; }

  // The allocator's usable size of every stored block, expired ones
  // included (they hold memory until they are removed): the walk runs with
  // the clock at 0, when nothing has expired.
  size_t UsableBytes(Keyspace& ks) {
    const int64_t now = clock_.now_ms;
    clock_.now_ms = 0;
    size_t total = 0;
    ks.ForEachLive(
        [&](const SiblingSet* s) { total += malloc_usable_size(const_cast<SiblingSet*>(s)); });
    clock_.now_ms = now;
    return total;
  }
  size_t BucketBytes(Keyspace& ks) { return ks.TEST_bucket_count() * sizeof(SiblingSet*); }
  // What memory_bytes holds beyond the blocks and buckets: the TTL index.
  int64_t Residue(Keyspace& ks) {
    return static_cast<int64_t>(ks.memory_bytes()) - static_cast<int64_t>(UsableBytes(ks)) -
           static_cast<int64_t>(BucketBytes(ks));
  }

  VersionCounter counter_;
  Clock clock_;
  KeyspaceStats stats_;
  Keyspace ks_{&counter_, &clock_, &stats_, 7};
};

TEST_F(EvictionMemoryTest, EmptyKeyspaceHoldsOnlyBuckets) {
  EXPECT_EQ(ks_.memory_bytes(), BucketBytes(ks_));
}

TEST_F(EvictionMemoryTest, GrowsWithDataAndShrinksAfterDeletes) {
  const size_t empty = ks_.memory_bytes();
  const std::string value(100, 'x');
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(ks_.Set("key:" + std::to_string(i), value, TtlUpdate::Clear()), OpStatus::kOk);
  const size_t full = ks_.memory_bytes();
  // At least the block bytes (24 header + key + 12 + value per key).
  EXPECT_GE(full - empty, 1000u * (24 + 5 + 12 + 100));
  EXPECT_LE(full - empty, 1000u * (24 + 8 + 12 + 100) * 2 + BucketBytes(ks_));
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));

  for (int i = 0; i < 500; ++i) ASSERT_TRUE(ks_.Delete("key:" + std::to_string(i)));
  const size_t half = ks_.memory_bytes();
  EXPECT_LT(half, full);
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));
  EXPECT_GE(full - half, 500u * (24 + 5 + 12 + 100));

  // Larger values take more; overwriting with a smaller one gives it back.
  const size_t before_big = ks_.memory_bytes();
  ASSERT_EQ(ks_.Set("key:999", std::string(10'000, 'y'), TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_GE(ks_.memory_bytes(), before_big + 9'000);
  ASSERT_EQ(ks_.Set("key:999", "small", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));
  EXPECT_LT(ks_.memory_bytes(), before_big + 9'000);
}

TEST_F(EvictionMemoryTest, ClearLeavesOnlyBuckets) {
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(ks_.Set("k" + std::to_string(i), "value",
                      i % 3 == 0 ? TtlUpdate::At(kStart + 60'000) : TtlUpdate::Clear()),
              OpStatus::kOk);
  }
  EXPECT_GT(ks_.memory_bytes(), 2000u * 40);
  ks_.Clear();
  EXPECT_EQ(ks_.size(), 0u);
  EXPECT_EQ(ks_.memory_bytes(), BucketBytes(ks_));
  EXPECT_LE(ks_.memory_bytes(), 4096u);
  // And it counts again from there.
  ASSERT_EQ(ks_.Set("again", "v", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));
}

TEST_F(EvictionMemoryTest, SiblingsAreCounted) {
  const SiblingSet* after = nullptr;
  ASSERT_EQ(ks_.VPut("cart", Version(0), std::string(200, 'a'), TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  const size_t one = ks_.memory_bytes();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(ks_.VPut("cart", Version(0), std::string(200, 'b'), TtlUpdate::Clear(), &after),
              OpStatus::kOk);
  EXPECT_GE(ks_.memory_bytes(), one + 5 * 200);
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));
  // A merge collapses the siblings and gives their bytes back.
  ASSERT_EQ(ks_.VPut("cart", after->max_version(), "merged", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  EXPECT_LT(ks_.memory_bytes(), one);
  EXPECT_EQ(ks_.memory_bytes(), UsableBytes(ks_) + BucketBytes(ks_));
  // VDel of everything removes the block.
  ASSERT_EQ(ks_.VDel("cart", after->max_version(), &after), OpStatus::kOk);
  EXPECT_EQ(ks_.memory_bytes(), BucketBytes(ks_));
}

TEST_F(EvictionMemoryTest, ExactAccountingThroughEveryOperation) {
  // A long random mix of every operation; after each, memory_bytes must be
  // the usable size of every block plus buckets plus a TTL index that holds
  // at least every key with a TTL.
  std::mt19937 rnd(2024);
  size_t max_expires = 0;
  Keyspace other(&counter_, &clock_, &stats_, 8);
  for (int step = 0; step < 20'000; ++step) {
    clock_.now_ms = kStart + step;
    const std::string key = "k" + std::to_string(rnd() % 200);
    const std::string value(rnd() % 300, 'v');
    const SiblingSet* after = nullptr;
    switch (rnd() % 12) {
      case 0:
        ks_.Set(key, value, TtlUpdate::Clear());
        break;
      case 1:
        ks_.Set(key, value, TtlUpdate::At(clock_.now_ms + static_cast<int64_t>(rnd() % 500)));
        break;
      case 2:
      case 3:
        ks_.VPut(key, Version(rnd() % 2 == 0 ? 0 : counter_.last_issued().counter() - rnd() % 5),
                 value, rnd() % 4 == 0 ? TtlUpdate::Keep() : TtlUpdate::Clear(), &after);
        break;
      case 4:
        ks_.VDel(key, Version(counter_.last_issued().counter() - rnd() % 10), &after);
        break;
      case 5:
        ks_.Delete(key);
        break;
      case 6:
        ks_.SetExpire(key, clock_.now_ms + static_cast<int64_t>(rnd() % 1000));
        break;
      case 7:
        ks_.Persist(key);
        break;
      case 8:
        ks_.Rename(key, "k" + std::to_string(rnd() % 200), rnd() % 2 == 0);
        break;
      case 9:
        ks_.Rewrite(key, [&](const SiblingSet* cur, std::string_view* out) {
          static std::string appended;
          appended = cur == nullptr ? std::string() : std::string(cur->newest().value);
          appended += value.substr(0, 20);
          *out = appended;
          return true;
        });
        break;
      case 10: {
        size_t sampled = 0;
        ks_.ExpireSample(20, &sampled);
        break;
      }
      case 11:
        ks_.MoveTo(key, &other);
        other.Delete(key);
        break;
    }
    max_expires = std::max(max_expires, ks_.expires_count());
    const int64_t residue = Residue(ks_);
    ASSERT_GE(residue, static_cast<int64_t>(ks_.expires_count() * sizeof(SiblingSet*)))
        << "step " << step;
    ASSERT_LE(residue, static_cast<int64_t>(2 * max_expires * sizeof(SiblingSet*) + 64))
        << "step " << step;
    // `other` holds nothing but a TTL index of at most one slot.
    ASSERT_EQ(other.size(), 0u) << "step " << step;
    ASSERT_GE(Residue(other), 0) << "step " << step;
    ASSERT_LE(Residue(other), 64) << "step " << step;
  }
  ks_.Clear();
  EXPECT_EQ(ks_.memory_bytes(), BucketBytes(ks_));
}

TEST_F(EvictionMemoryTest, StoreSumsItsDatabases) {
  Store store(3, 11);
  store.set_now_ms(kStart);
  const size_t empty = store.MemoryBytes();
  EXPECT_EQ(empty,
            store.db(0).memory_bytes() + store.db(1).memory_bytes() + store.db(2).memory_bytes());
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(
        store.db(i % 3).Set("k" + std::to_string(i), std::string(50, 'x'), TtlUpdate::Clear()),
        OpStatus::kOk);
  EXPECT_EQ(store.MemoryBytes(),
            store.db(0).memory_bytes() + store.db(1).memory_bytes() + store.db(2).memory_bytes());
  EXPECT_GT(store.MemoryBytes(), empty + 100 * 80);
  store.FlushAll();
  EXPECT_EQ(store.MemoryBytes(), store.db(0).TEST_bucket_count() * 8 +
                                     store.db(1).TEST_bucket_count() * 8 +
                                     store.db(2).TEST_bucket_count() * 8);
}

TEST_F(EvictionMemoryTest, EvictionGivesMemoryBack) {
  Store store(1, 3);
  store.set_now_ms(kStart);
  EvictionSettings s;
  s.policy = EvictionPolicy::kAllKeysLru;
  store.set_eviction(s);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(store.db(0).Set("k" + std::to_string(i), std::string(1000, 'x'), TtlUpdate::Clear()),
              OpStatus::kOk);
  const size_t full = store.MemoryBytes();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store.EvictOne());
  EXPECT_LE(store.MemoryBytes(), full - 50 * 1000);
  EXPECT_EQ(store.MemoryBytes(), UsableBytes(store.db(0)) + BucketBytes(store.db(0)));
}

// ---------------------------------------------------------------------------
// max-siblings
// ---------------------------------------------------------------------------

class EvictionSiblingsTest : public testing::Test {
 protected:
  EvictionSiblingsTest() {
    clock_.now_ms = kStart;
    ks_.set_max_siblings(&limit_);
  }

  OpStatus VPut(const std::string& key, uint64_t seen, const std::string& value) {
    const SiblingSet* after = nullptr;
    return ks_.VPut(key, Version(seen), value, TtlUpdate::Clear(), &after);
  }
  std::string Siblings(const std::string& key) {
    const SiblingSet* set = ks_.FindReadOnly(key);
    if (set == nullptr) return "(none)";
    std::string out;
    for (Sibling s : *set)
      out += "[" + std::to_string(s.version.counter()) + "]" + std::string(s.value) + " ";
    return out;
  }

  uint32_t limit_ = 3;
  VersionCounter counter_;
  Clock clock_;
  KeyspaceStats stats_;
  Keyspace ks_{&counter_, &clock_, &stats_, 5};
};

TEST_F(EvictionSiblingsTest, BlindWritePastTheLimitIsRefusedAndChangesNothing) {
  ASSERT_EQ(VPut("cart", 0, "a"), OpStatus::kOk);
  ASSERT_EQ(VPut("cart", 0, "b"), OpStatus::kOk);
  ASSERT_EQ(VPut("cart", 0, "c"), OpStatus::kOk);
  const std::string before = Siblings("cart");
  EXPECT_EQ(before, "[1]a [2]b [3]c ");
  const size_t memory = ks_.memory_bytes();
  EXPECT_EQ(VPut("cart", 0, "d"), OpStatus::kTooManySiblings);
  EXPECT_EQ(Siblings("cart"), before);
  EXPECT_EQ(counter_.last_issued().counter(), 3u) << "a refused write took a version";
  EXPECT_EQ(ks_.memory_bytes(), memory);
  // A write that covers only the oldest sibling still leaves 3 siblings.
  EXPECT_EQ(VPut("cart", 1, "b'"), OpStatus::kOk);
  EXPECT_EQ(Siblings("cart"), "[2]b [3]c [4]b' ");
  EXPECT_EQ(VPut("cart", 1, "again"), OpStatus::kTooManySiblings);
  EXPECT_EQ(counter_.last_issued().counter(), 4u);
}

TEST_F(EvictionSiblingsTest, MergeNamingTheMaxVersionSucceeds) {
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(VPut("cart", 0, v), OpStatus::kOk);
  ASSERT_EQ(VPut("cart", 0, "d"), OpStatus::kTooManySiblings);
  EXPECT_EQ(VPut("cart", 3, "a b c d"), OpStatus::kOk);
  EXPECT_EQ(Siblings("cart"), "[4]a b c d ");
  EXPECT_EQ(VPut("cart", 0, "e"), OpStatus::kOk);
  EXPECT_EQ(Siblings("cart"), "[4]a b c d [5]e ");
}

TEST_F(EvictionSiblingsTest, LimitIsSharedAndChangesTakeEffectAtOnce) {
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(VPut("k", 0, v), OpStatus::kOk);
  limit_ = 5;
  EXPECT_EQ(VPut("k", 0, "d"), OpStatus::kOk);
  EXPECT_EQ(VPut("k", 0, "e"), OpStatus::kOk);
  EXPECT_EQ(VPut("k", 0, "f"), OpStatus::kTooManySiblings);
  limit_ = 2;
  // Already above a lowered limit: only a write that leaves <= 2 succeeds.
  EXPECT_EQ(VPut("k", 3, "x"), OpStatus::kTooManySiblings);  // keeps d, e + x
  EXPECT_EQ(VPut("k", 4, "x"), OpStatus::kOk);               // keeps e + x
  EXPECT_EQ(Siblings("k"), "[5]e [6]x ");
  limit_ = 0;  // no limit
  for (int i = 0; i < 100; ++i) ASSERT_EQ(VPut("k", 0, "v"), OpStatus::kOk);
  EXPECT_EQ(ks_.FindReadOnly("k")->size(), 102u);
}

TEST_F(EvictionSiblingsTest, LimitOfOneAllowsOnlyMerges) {
  limit_ = 1;
  EXPECT_EQ(VPut("k", 0, "first"), OpStatus::kOk);  // a new key always fits
  EXPECT_EQ(VPut("k", 0, "blind"), OpStatus::kTooManySiblings);
  EXPECT_EQ(VPut("k", 1, "merge"), OpStatus::kOk);
  EXPECT_EQ(Siblings("k"), "[2]merge ");
  // Plain SET is never refused: it replaces every sibling.
  EXPECT_EQ(ks_.Set("k", "set", TtlUpdate::Clear()), OpStatus::kOk);
}

TEST_F(EvictionSiblingsTest, FutureVersionIsStillReportedFirst) {
  for (const char* v : {"a", "b", "c"}) ASSERT_EQ(VPut("k", 0, v), OpStatus::kOk);
  EXPECT_EQ(VPut("k", 99, "x"), OpStatus::kVersionFromFuture);
}

TEST_F(EvictionSiblingsTest, StoreAppliesItsLimitToEveryDatabase) {
  Store store(2, 9);
  store.set_now_ms(kStart);
  store.set_max_siblings(2);
  for (int d = 0; d < 2; ++d) {
    const SiblingSet* after = nullptr;
    ASSERT_EQ(store.db(d).VPut("k", Version(0), "a", TtlUpdate::Clear(), &after), OpStatus::kOk);
    ASSERT_EQ(store.db(d).VPut("k", Version(0), "b", TtlUpdate::Clear(), &after), OpStatus::kOk);
    EXPECT_EQ(store.db(d).VPut("k", Version(0), "c", TtlUpdate::Clear(), &after),
              OpStatus::kTooManySiblings)
        << "db " << d;
  }
  store.set_max_siblings(3);
  const SiblingSet* after = nullptr;
  EXPECT_EQ(store.db(1).VPut("k", Version(0), "c", TtlUpdate::Clear(), &after), OpStatus::kOk);
}

}  // namespace
}  // namespace causalkv::store
