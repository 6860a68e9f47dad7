// The versioned rules of the spec (issue 2, section 3), one test per rule,
// stated against a printed form of the keyspace so that a failure shows the
// whole key at once. Also the TTL rules, RENAME/MOVE, and the version
// counter's durability hooks.
#include "causalkv/store/keyspace.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "causalkv/store/store.h"
#include "causalkv/store/version_counter.h"

namespace causalkv::store {
namespace {

// "cart@5: [4]eggs milk ham [5]milk flour eggs bacon"; a TTL shows as
// " exp=<ms>" after the version; a missing key is "cart@0: (none)", the same
// version 0 that VGET reports for it.
std::string DumpSet(std::string_view key, const SiblingSet* set) {
  if (set == nullptr) return std::string(key) + "@0: (none)";
  std::string out = std::string(set->key()) + "@" + std::to_string(set->max_version().counter());
  if (set->has_expire()) out += " exp=" + std::to_string(set->expire_at_ms());
  out += ":";
  for (Sibling s : *set) {
    out += " [" + std::to_string(s.version.counter()) + "]";
    out += s.value;
  }
  return out;
}

// A failed operation prints as its status, so it compares like a state.
std::string StatusName(OpStatus status) {
  switch (status) {
    case OpStatus::kOk:
      return "kOk";
    case OpStatus::kNotFound:
      return "kNotFound";
    case OpStatus::kTooManySiblings:
      return "kTooManySiblings";
    case OpStatus::kTooManyActors:
      return "kTooManyActors";
    case OpStatus::kExists:
      return "kExists";
    case OpStatus::kVersionFromFuture:
      return "kVersionFromFuture";
    case OpStatus::kVersionUnavailable:
      return "kVersionUnavailable";
    case OpStatus::kWrongType:
      return "kWrongType";
    case OpStatus::kMalformedValue:
      return "kMalformedValue";
  }
  return "unknown status";
}

// Reads through the public lookup, so lazy expiry applies as for a client.
std::string Dump(Keyspace& ks, std::string_view key) { return DumpSet(key, ks.FindReadOnly(key)); }

class KeyspaceTest : public testing::Test {
 protected:
  KeyspaceTest() { clock_.now_ms = 1'000'000; }

  // VPut returning the reply's printed form, or the failing status.
  std::string VPut(std::string_view key, uint64_t seen, std::string_view value,
                   TtlUpdate ttl = TtlUpdate::Clear()) {
    const SiblingSet* after = nullptr;
    const OpStatus status = ks_.VPut(key, Version(seen), value, ttl, &after);
    if (status != OpStatus::kOk) return StatusName(status);
    return DumpSet(key, after);
  }
  std::string VDel(std::string_view key, uint64_t seen) {
    const SiblingSet* after = reinterpret_cast<const SiblingSet*>(1);  // must be overwritten
    const OpStatus status = ks_.VDel(key, Version(seen), &after);
    if (status != OpStatus::kOk) return StatusName(status);
    return DumpSet(key, after);
  }
  uint64_t LastIssued() const { return counter_.last_issued().counter(); }

  VersionCounter counter_;
  Clock clock_;
  KeyspaceStats stats_;
  Keyspace ks_{&counter_, &clock_, &stats_, 42};
};

// The seed scenario (DDIA figure 5-13), exactly as the spec lists it.
TEST_F(KeyspaceTest, SeedCartScenario) {
  struct Step {
    uint64_t seen;
    const char* value;
    uint64_t want_version;
    const char* want;
  };
  const Step steps[] = {
      {0, "milk", 1, "cart@1: [1]milk"},
      {0, "eggs", 2, "cart@2: [1]milk [2]eggs"},
      {1, "milk flour", 3, "cart@3: [2]eggs [3]milk flour"},
      {2, "eggs milk ham", 4, "cart@4: [3]milk flour [4]eggs milk ham"},
      {3, "milk flour eggs bacon", 5, "cart@5: [4]eggs milk ham [5]milk flour eggs bacon"},
  };
  EXPECT_EQ(LastIssued(), 0u) << "a fresh counter starts at 0";
  for (const Step& step : steps) {
    SCOPED_TRACE(std::string("VPUT cart ") + std::to_string(step.seen) + " " + step.value);
    const SiblingSet* after = nullptr;
    ASSERT_EQ(ks_.VPut("cart", Version(step.seen), step.value, TtlUpdate::Clear(), &after),
              OpStatus::kOk);
    EXPECT_EQ(after->max_version().counter(), step.want_version);
    EXPECT_EQ(DumpSet("cart", after), step.want);
    // The stored state is what the reply said.
    EXPECT_EQ(Dump(ks_, "cart"), step.want);
    EXPECT_EQ(LastIssued(), step.want_version);
  }
}

TEST_F(KeyspaceTest, MissingKeyReadsAsVersionZeroAndNoSiblings) {
  EXPECT_EQ(Dump(ks_, "nope"), "nope@0: (none)");
  EXPECT_EQ(ks_.size(), 0u);
}

TEST_F(KeyspaceTest, EveryStoringWriteTakesTheNextCounterValue) {
  EXPECT_EQ(VPut("a", 0, "x"), "a@1: [1]x");
  ASSERT_EQ(ks_.Set("b", "y", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "b"), "b@2: [2]y");
  EXPECT_EQ(VPut("a", 0, "z"), "a@3: [1]x [3]z");
  ASSERT_EQ(ks_.Set("a", "w", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "a"), "a@4: [4]w");
  EXPECT_EQ(LastIssued(), 4u);
}

TEST_F(KeyspaceTest, BlindWriteIsConcurrentWithEverything) {
  EXPECT_EQ(VPut("k", 0, "a"), "k@1: [1]a");
  EXPECT_EQ(VPut("k", 0, "b"), "k@2: [1]a [2]b");
  EXPECT_EQ(VPut("k", 0, "c"), "k@3: [1]a [2]b [3]c");
}

TEST_F(KeyspaceTest, VPutDropsEverySiblingUpToTheSeenVersion) {
  for (int i = 0; i < 5; ++i) VPut("k", 0, "v" + std::to_string(i + 1));
  ASSERT_EQ(Dump(ks_, "k"), "k@5: [1]v1 [2]v2 [3]v3 [4]v4 [5]v5");
  // 3 covers 1, 2 and 3 (the client read them), not 4 and 5.
  EXPECT_EQ(VPut("k", 3, "m"), "k@6: [4]v4 [5]v5 [6]m");
  // Naming the key's own version supersedes every sibling.
  EXPECT_EQ(VPut("k", 6, "all"), "k@7: [7]all");
}

TEST_F(KeyspaceTest, VPutWithAVersionOfAnotherKeyStillOnlyCoversOlderSiblings) {
  // Versions are server-wide: a version read from key b covers every sibling
  // of a that is older, which is what "version <= seen" means.
  VPut("a", 0, "a1");  // 1
  VPut("b", 0, "b1");  // 2
  VPut("a", 0, "a2");  // 3
  EXPECT_EQ(VPut("a", 2, "a3"), "a@4: [3]a2 [4]a3");
}

TEST_F(KeyspaceTest, VersionFromTheFutureIsRefusedAndChangesNothing) {
  VPut("k", 0, "a");
  VPut("k", 0, "b");
  ASSERT_EQ(LastIssued(), 2u);
  EXPECT_EQ(VPut("k", 3, "c"), "kVersionFromFuture");
  EXPECT_EQ(VPut("k", UINT64_MAX, "c"), "kVersionFromFuture");
  EXPECT_EQ(VPut("new", 3, "c"), "kVersionFromFuture");
  EXPECT_EQ(VDel("k", 3), "kVersionFromFuture");
  EXPECT_EQ(VDel("new", 100), "kVersionFromFuture");
  EXPECT_EQ(Dump(ks_, "k"), "k@2: [1]a [2]b");
  EXPECT_EQ(Dump(ks_, "new"), "new@0: (none)");
  EXPECT_EQ(LastIssued(), 2u) << "a refused write takes no version";
  // The highest issued version itself is fine.
  EXPECT_EQ(VPut("k", 2, "c"), "k@3: [3]c");
}

TEST_F(KeyspaceTest, VersionFromTheFutureCountsEveryKeyNotJustThisOne) {
  // The limit is the server's counter, not the key's version.
  VPut("a", 0, "a");  // 1
  VPut("b", 0, "b");  // 2
  EXPECT_EQ(VPut("a", 2, "x"), "a@3: [3]x");
}

TEST_F(KeyspaceTest, VDelRemovesCoveredSiblingsAndKeepsConcurrentOnes) {
  VPut("k", 0, "a");  // 1
  VPut("k", 0, "b");  // 2
  VPut("k", 0, "c");  // 3
  EXPECT_EQ(VDel("k", 1), "k@3: [2]b [3]c");
  EXPECT_EQ(Dump(ks_, "k"), "k@3: [2]b [3]c");
  // Nothing covered: nothing changes.
  EXPECT_EQ(VDel("k", 0), "k@3: [2]b [3]c");
  EXPECT_EQ(LastIssued(), 3u) << "VDEL stores nothing, so it takes no version";
}

TEST_F(KeyspaceTest, VDelOfEverySiblingRemovesTheKey) {
  VPut("k", 0, "a");
  VPut("k", 0, "b");
  EXPECT_EQ(VDel("k", 2), "k@0: (none)");
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
  EXPECT_EQ(ks_.size(), 0u);
  // Versions go on from where they were.
  EXPECT_EQ(VPut("k", 0, "c"), "k@3: [3]c");
}

TEST_F(KeyspaceTest, VDelOfMissingKeyIsOkAndEmpty) {
  VPut("other", 0, "x");
  EXPECT_EQ(VDel("k", 1), "k@0: (none)");
  EXPECT_EQ(ks_.size(), 1u);
}

TEST_F(KeyspaceTest, SetReplacesEverySiblingWithOneNewValue) {
  VPut("k", 0, "a");
  VPut("k", 0, "b");
  ASSERT_EQ(ks_.Set("k", "plain", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@3: [3]plain");
  // The newest sibling is what GET reads.
  VPut("k", 0, "c");
  EXPECT_EQ(ks_.FindReadOnly("k")->newest().value, "c");
}

TEST_F(KeyspaceTest, EmptyAndBinaryValuesAreValues) {
  const std::string binary("a\0b\r\nc", 6);
  EXPECT_EQ(VPut("k", 0, ""), "k@1: [1]");
  EXPECT_EQ(VPut("k", 0, binary), "k@2: [1] [2]" + binary);
  EXPECT_EQ(ks_.FindReadOnly("k")->newest().value, binary);
  EXPECT_EQ(VPut("", 0, "empty key"), "@3: [3]empty key");
}

TEST_F(KeyspaceTest, DeleteRemovesEverySiblingAndVersionsNeverRepeat) {
  VPut("k", 0, "a");
  VPut("k", 0, "b");
  EXPECT_TRUE(ks_.Delete("k"));
  EXPECT_FALSE(ks_.Delete("k"));
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
  EXPECT_EQ(VPut("k", 0, "c"), "k@3: [3]c");
}

TEST_F(KeyspaceTest, ClearNeverResetsTheCounter) {
  VPut("a", 0, "x");
  ks_.Set("b", "y", TtlUpdate::At(2'000'000));
  ks_.Clear();
  EXPECT_EQ(ks_.size(), 0u);
  EXPECT_EQ(ks_.expires_count(), 0u);
  EXPECT_EQ(Dump(ks_, "a"), "a@0: (none)");
  EXPECT_EQ(VPut("a", 0, "z"), "a@3: [3]z");
  // The keyspace is usable with TTLs after Clear (its TTL index was reset too).
  EXPECT_EQ(VPut("b", 0, "t", TtlUpdate::At(2'000'000)), "b@4 exp=2000000: [4]t");
  EXPECT_EQ(ks_.expires_count(), 1u);
}

TEST(StoreTest, FlushAllNeverResetsTheSharedCounter) {
  Store store(4, 7);
  store.set_now_ms(1000);
  const SiblingSet* after = nullptr;
  ASSERT_EQ(store.db(0).VPut("k", Version(0), "a", TtlUpdate::Clear(), &after), OpStatus::kOk);
  ASSERT_EQ(store.db(3).VPut("k", Version(0), "b", TtlUpdate::Clear(), &after), OpStatus::kOk);
  EXPECT_EQ(DumpSet("k", after), "k@2: [2]b") << "one counter for every database";
  store.FlushAll();
  EXPECT_EQ(store.db(0).size(), 0u);
  EXPECT_EQ(store.db(3).size(), 0u);
  ASSERT_EQ(store.db(1).VPut("k", Version(0), "c", TtlUpdate::Clear(), &after), OpStatus::kOk);
  EXPECT_EQ(DumpSet("k", after), "k@3: [3]c");
  EXPECT_EQ(store.counter().last_issued().counter(), 3u);
}

TEST(StoreTest, ActiveExpireCycleReclaimsExpiredKeysInEveryDatabase) {
  Store store(3, 9);
  store.set_now_ms(1000);
  for (int db = 0; db < 3; ++db) {
    for (int i = 0; i < 50; ++i) {
      // Even keys expire at 1500, odd ones much later.
      const int64_t at = i % 2 == 0 ? 1500 : 100000;
      ASSERT_EQ(store.db(db).Set("k" + std::to_string(i), "v", TtlUpdate::At(at)), OpStatus::kOk);
    }
    ASSERT_EQ(store.db(db).Set("forever", "v", TtlUpdate::Clear()), OpStatus::kOk);
  }
  store.set_now_ms(2000);
  size_t total = 0;
  // Sampling is random; a generous budget and a few rounds reclaim all 75.
  for (int round = 0; round < 200 && total < 75; ++round) total += store.ActiveExpireCycle(100000);
  EXPECT_EQ(total, 75u);
  EXPECT_EQ(store.stats().expired_keys, 75u);
  for (int db = 0; db < 3; ++db) {
    EXPECT_EQ(store.db(db).size(), 26u);
    EXPECT_EQ(store.db(db).expires_count(), 25u);
  }
}

TEST_F(KeyspaceTest, ExpiryNeverResetsTheCounter) {
  VPut("k", 0, "a", TtlUpdate::At(1'000'100));
  clock_.now_ms = 1'000'101;
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
  EXPECT_EQ(VPut("k", 0, "b"), "k@2: [2]b");
}

// --- TTL rules ---------------------------------------------------------------

TEST_F(KeyspaceTest, VPutWithoutTtlClearsIt) {
  EXPECT_EQ(VPut("k", 0, "a", TtlUpdate::At(2'000'000)), "k@1 exp=2000000: [1]a");
  EXPECT_EQ(ks_.expires_count(), 1u);
  EXPECT_EQ(VPut("k", 0, "b"), "k@2: [1]a [2]b");
  EXPECT_EQ(ks_.expires_count(), 0u);
}

TEST_F(KeyspaceTest, VPutKeepTtlKeepsItWhileSiblingsChange) {
  VPut("k", 0, "a", TtlUpdate::At(2'000'000));
  EXPECT_EQ(VPut("k", 0, "b", TtlUpdate::Keep()), "k@2 exp=2000000: [1]a [2]b");
  EXPECT_EQ(VPut("k", 2, "c", TtlUpdate::Keep()), "k@3 exp=2000000: [3]c");
  EXPECT_EQ(ks_.expires_count(), 1u);
  // KEEPTTL on a new key: there is nothing to keep.
  EXPECT_EQ(VPut("n", 0, "x", TtlUpdate::Keep()), "n@4: [4]x");
  EXPECT_EQ(ks_.expires_count(), 1u);
}

TEST_F(KeyspaceTest, VPutWithTtlSetsOrMovesIt) {
  VPut("k", 0, "a");
  EXPECT_EQ(VPut("k", 0, "b", TtlUpdate::At(1'500'000)), "k@2 exp=1500000: [1]a [2]b");
  EXPECT_EQ(VPut("k", 0, "c", TtlUpdate::At(1'600'000)), "k@3 exp=1600000: [1]a [2]b [3]c");
  EXPECT_EQ(ks_.expires_count(), 1u);
}

TEST_F(KeyspaceTest, TtlBelongsToTheKeyNotToASibling) {
  VPut("k", 0, "a", TtlUpdate::At(2'000'000));
  VPut("k", 0, "b", TtlUpdate::Keep());
  // Dropping the sibling that was written with the TTL keeps the TTL.
  EXPECT_EQ(VDel("k", 1), "k@2 exp=2000000: [2]b");
  EXPECT_EQ(ks_.expires_count(), 1u);
  // And the whole key expires together.
  VPut("k", 0, "c", TtlUpdate::Keep());
  clock_.now_ms = 2'000'001;
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
}

TEST_F(KeyspaceTest, SetTtlVariants) {
  ASSERT_EQ(ks_.Set("k", "a", TtlUpdate::At(1'100'000)), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@1 exp=1100000: [1]a");
  ASSERT_EQ(ks_.Set("k", "b", TtlUpdate::Keep()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=1100000: [2]b");
  ASSERT_EQ(ks_.Set("k", "c", TtlUpdate::At(1'200'000)), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@3 exp=1200000: [3]c");
  ASSERT_EQ(ks_.Set("k", "d", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@4: [4]d");
  EXPECT_EQ(ks_.expires_count(), 0u);
  ASSERT_EQ(ks_.Set("n", "e", TtlUpdate::Keep()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "n"), "n@5: [5]e");
}

TEST_F(KeyspaceTest, SetExpireAndPersist) {
  EXPECT_FALSE(ks_.SetExpire("k", 1'500'000)) << "missing key";
  EXPECT_FALSE(ks_.Persist("k"));
  VPut("k", 0, "a");
  VPut("k", 0, "b");
  EXPECT_FALSE(ks_.Persist("k")) << "no TTL to remove";
  EXPECT_TRUE(ks_.SetExpire("k", 1'500'000));
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=1500000: [1]a [2]b");
  EXPECT_TRUE(ks_.SetExpire("k", 1'400'000));
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=1400000: [1]a [2]b");
  EXPECT_EQ(ks_.expires_count(), 1u);
  EXPECT_TRUE(ks_.Persist("k"));
  EXPECT_EQ(Dump(ks_, "k"), "k@2: [1]a [2]b");
  EXPECT_EQ(ks_.expires_count(), 0u);
  EXPECT_EQ(LastIssued(), 2u) << "TTL changes store no value and take no version";
}

TEST_F(KeyspaceTest, LazyExpiryUsesTheClockAndCountsInStats) {
  VPut("k", 0, "a", TtlUpdate::At(1'000'500));
  VPut("other", 0, "b");
  // Redis's rule: a key is expired once now > expire time, not at it.
  clock_.now_ms = 1'000'500;
  EXPECT_EQ(Dump(ks_, "k"), "k@1 exp=1000500: [1]a");
  EXPECT_EQ(stats_.expired_keys, 0u);
  clock_.now_ms = 1'000'501;
  // Still physically present until something looks at it.
  EXPECT_EQ(ks_.size(), 2u);
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
  EXPECT_EQ(stats_.expired_keys, 1u);
  EXPECT_EQ(ks_.size(), 1u);
  EXPECT_EQ(ks_.expires_count(), 0u);
  // Looking again does not count it twice.
  EXPECT_EQ(Dump(ks_, "k"), "k@0: (none)");
  EXPECT_EQ(stats_.expired_keys, 1u);
}

TEST_F(KeyspaceTest, WritesTreatAnExpiredKeyAsMissing) {
  VPut("k", 0, "a", TtlUpdate::At(1'000'010));
  VPut("k", 0, "b", TtlUpdate::Keep());
  clock_.now_ms = 1'000'011;
  // A blind write must not resurrect the expired siblings nor their TTL.
  EXPECT_EQ(VPut("k", 0, "c"), "k@3: [3]c");
  EXPECT_EQ(stats_.expired_keys, 1u);
  EXPECT_EQ(ks_.expires_count(), 0u);

  VPut("d", 0, "x", TtlUpdate::At(1'000'020));
  VPut("s", 0, "x", TtlUpdate::At(1'000'020));
  VPut("e", 0, "x", TtlUpdate::At(1'000'020));
  VPut("p", 0, "x", TtlUpdate::At(1'000'020));
  VPut("v", 0, "x", TtlUpdate::At(1'000'020));
  clock_.now_ms = 1'000'021;
  EXPECT_FALSE(ks_.Delete("d"));
  EXPECT_FALSE(ks_.SetExpire("e", 2'000'000));
  EXPECT_FALSE(ks_.Persist("p"));
  EXPECT_EQ(VDel("v", 8), "v@0: (none)");
  ASSERT_EQ(ks_.Set("s", "new", TtlUpdate::Keep()), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "s"), "s@9: [9]new") << "KEEPTTL keeps nothing of an expired key";
  EXPECT_EQ(stats_.expired_keys, 6u);
  EXPECT_EQ(ks_.size(), 2u);
  EXPECT_EQ(ks_.expires_count(), 0u);
}

TEST_F(KeyspaceTest, ScanAndForEachLiveSkipExpiredKeys) {
  VPut("live", 0, "a");
  VPut("dead", 0, "b", TtlUpdate::At(1'000'001));
  clock_.now_ms = 1'000'002;
  std::vector<std::string> scanned;
  uint64_t cursor = 0;
  do {
    cursor = ks_.Scan(cursor, [&](const SiblingSet* s) { scanned.emplace_back(s->key()); });
  } while (cursor != 0);
  EXPECT_EQ(scanned, std::vector<std::string>{"live"});
  std::vector<std::string> each;
  ks_.ForEachLive([&](const SiblingSet* s) { each.emplace_back(s->key()); });
  EXPECT_EQ(each, std::vector<std::string>{"live"});
}

// --- RENAME and MOVE ---------------------------------------------------------

TEST_F(KeyspaceTest, RenameGivesFreshVersionsInOrder) {
  VPut("src", 0, "a");  // 1
  VPut("src", 0, "b");  // 2
  VPut("dst", 0, "z");  // 3
  ASSERT_EQ(ks_.Rename("src", "dst", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "src"), "src@0: (none)");
  EXPECT_EQ(Dump(ks_, "dst"), "dst@5: [4]a [5]b");
  EXPECT_EQ(ks_.size(), 1u);
  EXPECT_EQ(LastIssued(), 5u);
}

TEST_F(KeyspaceTest, OldVersionOfTheDestinationCannotRemoveRenamedValues) {
  VPut("dst", 0, "old");  // 1: a client reads dst at version 1...
  VPut("src", 0, "a");    // 2
  VPut("src", 0, "b");    // 3
  ASSERT_EQ(ks_.Rename("src", "dst", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@5: [4]a [5]b");
  // ...and would otherwise, with version 3 (read elsewhere), wipe what it never read.
  EXPECT_EQ(VDel("dst", 1), "dst@5: [4]a [5]b");
  EXPECT_EQ(VDel("dst", 3), "dst@5: [4]a [5]b");
  EXPECT_EQ(VPut("dst", 3, "mine"), "dst@6: [4]a [5]b [6]mine");
}

TEST_F(KeyspaceTest, RenameMovesTheTtlAndReplacesTheDestinationTtl) {
  VPut("src", 0, "a", TtlUpdate::At(1'500'000));
  VPut("dst", 0, "z", TtlUpdate::At(1'900'000));
  VPut("plain", 0, "p");
  ASSERT_EQ(ks_.Rename("src", "dst", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@4 exp=1500000: [4]a");
  EXPECT_EQ(ks_.expires_count(), 1u);
  // A source without TTL leaves the destination without one.
  ASSERT_EQ(ks_.Rename("plain", "dst", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@5: [5]p");
  EXPECT_EQ(ks_.expires_count(), 0u);
  // And the TTL still works after the move.
  VPut("t", 0, "x", TtlUpdate::At(1'000'100));
  ASSERT_EQ(ks_.Rename("t", "t2", false), OpStatus::kOk);
  clock_.now_ms = 1'000'101;
  EXPECT_EQ(Dump(ks_, "t2"), "t2@0: (none)");
}

TEST_F(KeyspaceTest, RenameToItselfChangesNothing) {
  VPut("k", 0, "a", TtlUpdate::At(1'500'000));
  VPut("k", 0, "b", TtlUpdate::Keep());
  EXPECT_EQ(ks_.Rename("k", "k", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=1500000: [1]a [2]b");
  EXPECT_EQ(ks_.Rename("k", "k", true), OpStatus::kExists) << "RENAMENX k k replies 0 in Redis";
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=1500000: [1]a [2]b");
  EXPECT_EQ(LastIssued(), 2u);
  EXPECT_EQ(ks_.Rename("missing", "missing", false), OpStatus::kNotFound);
}

TEST_F(KeyspaceTest, RenameFailuresChangeNothingAndTakeNoVersion) {
  VPut("a", 0, "x");
  VPut("b", 0, "y");
  EXPECT_EQ(ks_.Rename("missing", "a", false), OpStatus::kNotFound);
  EXPECT_EQ(ks_.Rename("a", "b", true), OpStatus::kExists);
  EXPECT_EQ(Dump(ks_, "a"), "a@1: [1]x");
  EXPECT_EQ(Dump(ks_, "b"), "b@2: [2]y");
  EXPECT_EQ(LastIssued(), 2u);
  ASSERT_EQ(ks_.Rename("a", "c", true), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "c"), "c@3: [3]x");
}

TEST_F(KeyspaceTest, RenameNxOverAnExpiredDestinationSucceeds) {
  VPut("src", 0, "a");
  VPut("dst", 0, "b", TtlUpdate::At(1'000'001));
  clock_.now_ms = 1'000'002;
  EXPECT_EQ(ks_.Rename("src", "dst", true), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@3: [3]a");
  EXPECT_EQ(stats_.expired_keys, 1u);
}

TEST_F(KeyspaceTest, RenameOfAnExpiredSourceIsNotFound) {
  VPut("src", 0, "a", TtlUpdate::At(1'000'001));
  VPut("dst", 0, "b");
  clock_.now_ms = 1'000'002;
  EXPECT_EQ(ks_.Rename("src", "dst", false), OpStatus::kNotFound);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@2: [2]b");
  EXPECT_EQ(stats_.expired_keys, 1u);
}

// Regression test (bug found at d9364b1, fixed in ac93737): Rename() removed
// an expired destination without FindLive(), so the expiry was not counted in
// expired_keys (Redis's RENAME looks the destination up with lookupKeyWrite,
// which counts it).
TEST_F(KeyspaceTest, RenameOverAnExpiredDestinationCountsTheExpiry) {
  VPut("src", 0, "a");
  VPut("dst", 0, "b", TtlUpdate::At(1'000'001));
  clock_.now_ms = 1'000'002;
  ASSERT_EQ(ks_.Rename("src", "dst", false), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "dst"), "dst@3: [3]a");
  EXPECT_EQ(stats_.expired_keys, 1u);
}

TEST(StoreTest, MoveToGivesFreshVersionsAndKeepsTheTtl) {
  Store store(2, 3);
  store.set_now_ms(1000);
  Keyspace& db0 = store.db(0);
  Keyspace& db1 = store.db(1);
  const SiblingSet* after = nullptr;
  db0.VPut("k", Version(0), "a", TtlUpdate::At(5000), &after);  // 1
  db0.VPut("k", Version(0), "b", TtlUpdate::Keep(), &after);    // 2
  db1.VPut("x", Version(0), "c", TtlUpdate::Clear(), &after);   // 3
  ASSERT_EQ(db0.MoveTo("k", &db1), OpStatus::kOk);
  EXPECT_EQ(Dump(db0, "k"), "k@0: (none)");
  EXPECT_EQ(Dump(db1, "k"), "k@5 exp=5000: [4]a [5]b");
  EXPECT_EQ(db0.expires_count(), 0u);
  EXPECT_EQ(db1.expires_count(), 1u);
  // The TTL index of the target knows the key: it expires there.
  store.set_now_ms(5001);
  size_t sampled = 0;
  EXPECT_EQ(db1.ExpireSample(10, &sampled), 1u);
  EXPECT_EQ(db1.size(), 1u);
}

TEST(StoreTest, MoveToFailuresChangeNothing) {
  Store store(2, 3);
  store.set_now_ms(1000);
  Keyspace& db0 = store.db(0);
  Keyspace& db1 = store.db(1);
  const SiblingSet* after = nullptr;
  db0.VPut("k", Version(0), "a", TtlUpdate::Clear(), &after);
  db1.VPut("k", Version(0), "b", TtlUpdate::Clear(), &after);
  EXPECT_EQ(db0.MoveTo("k", &db1), OpStatus::kExists);
  EXPECT_EQ(db0.MoveTo("none", &db1), OpStatus::kNotFound);
  EXPECT_EQ(Dump(db0, "k"), "k@1: [1]a");
  EXPECT_EQ(Dump(db1, "k"), "k@2: [2]b");
  EXPECT_EQ(store.counter().last_issued().counter(), 2u);
}

TEST(StoreTest, MoveToOverAnExpiredTargetKeySucceeds) {
  Store store(2, 3);
  store.set_now_ms(1000);
  const SiblingSet* after = nullptr;
  store.db(0).VPut("k", Version(0), "a", TtlUpdate::Clear(), &after);
  store.db(1).VPut("k", Version(0), "b", TtlUpdate::At(1001), &after);
  store.set_now_ms(1002);
  EXPECT_EQ(store.db(0).MoveTo("k", &store.db(1)), OpStatus::kOk);
  EXPECT_EQ(Dump(store.db(1), "k"), "k@3: [3]a");
  EXPECT_EQ(store.stats().expired_keys, 1u);
}

// --- Writes that store nothing -------------------------------------------------

TEST_F(KeyspaceTest, OperationsThatStoreNothingTakeNoVersion) {
  VPut("k", 0, "a", TtlUpdate::At(1'500'000));
  const uint64_t before = LastIssued();
  VDel("k", 0);
  VDel("missing", 1);
  ks_.FindReadOnly("k");
  ks_.SetExpire("k", 1'600'000);
  ks_.Persist("k");
  ks_.Delete("missing");
  ks_.Rename("missing", "x", false);
  ks_.Rename("k", "k", false);
  VPut("k", 99, "future");
  EXPECT_EQ(LastIssued(), before);
}

// --- VersionCounter and its durability hooks --------------------------------

TEST(VersionCounterTest, UnboundedWithoutHooks) {
  VersionCounter c;
  Version v;
  for (uint64_t i = 1; i <= 1000; ++i) {
    ASSERT_TRUE(c.Next(&v));
    ASSERT_EQ(v.counter(), i);
  }
  EXPECT_EQ(c.last_issued().counter(), 1000u);
}

// Records hook calls; the sync hook's answer is configurable.
struct Hooks {
  std::vector<uint64_t> sync_marks;
  std::vector<uint64_t> async_marks;
  bool sync_ok = true;
  VersionCounter::SyncRaise Sync() {
    return [this](uint64_t mark) {
      sync_marks.push_back(mark);
      return sync_ok;
    };
  }
  VersionCounter::AsyncRaise Async() {
    return [this](uint64_t mark) { async_marks.push_back(mark); };
  }
};

TEST(VersionCounterTest, ResumesAfterTheLastIssuedVersion) {
  Hooks hooks;
  VersionCounter c;
  c.Init(1000, 2000, 1000, hooks.Sync(), hooks.Async());
  Version v;
  ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(v.counter(), 1001u);
  EXPECT_TRUE(hooks.sync_marks.empty());
  EXPECT_TRUE(hooks.async_marks.empty());
}

TEST(VersionCounterTest, AsyncRaiseWhenLessThanHalfAReserveRemains) {
  Hooks hooks;
  VersionCounter c;
  c.Init(0, 20, 20, hooks.Sync(), hooks.Async());
  Version v;
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(c.Next(&v));
  // 10 remain below the limit: exactly half, not less.
  EXPECT_TRUE(hooks.async_marks.empty());
  ASSERT_TRUE(c.Next(&v));  // 11: 9 remain
  EXPECT_EQ(hooks.async_marks, std::vector<uint64_t>{31});
  // Only one raise in flight at a time.
  for (uint64_t i = 12; i <= 20; ++i) ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(hooks.async_marks.size(), 1u);
  EXPECT_TRUE(hooks.sync_marks.empty()) << "no write waited while the limit held";
  EXPECT_EQ(c.limit(), 20u);
  // The background raise lands.
  c.RaiseLimit(31);
  EXPECT_EQ(c.limit(), 31u);
  for (uint64_t i = 21; i <= 31; ++i) ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(v.counter(), 31u);
  EXPECT_TRUE(hooks.sync_marks.empty());
  // At 22 fewer than 10 remained again, so a second raise was requested.
  EXPECT_EQ(hooks.async_marks, (std::vector<uint64_t>{31, 42}));
}

TEST(VersionCounterTest, SyncRaiseWhenTheLimitIsReachedFirst) {
  Hooks hooks;
  VersionCounter c;
  c.Init(0, 4, 10, hooks.Sync(), hooks.Async());
  Version v;
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(c.Next(&v));
    EXPECT_EQ(v.counter(), i);
  }
  EXPECT_TRUE(hooks.sync_marks.empty());
  ASSERT_EQ(hooks.async_marks.size(), 1u);  // requested at once: 3 < 5 remained
  // The async raise has not landed: version 5 is above the limit and waits.
  ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(v.counter(), 5u);
  EXPECT_EQ(hooks.sync_marks, std::vector<uint64_t>{15});
  EXPECT_EQ(c.limit(), 15u);
  // A late async raise to a lower mark never lowers the limit.
  c.RaiseLimit(hooks.async_marks[0]);
  EXPECT_EQ(c.limit(), 15u);
}

TEST(VersionCounterTest, FailedSyncRaiseIssuesNothing) {
  Hooks hooks;
  hooks.sync_ok = false;
  VersionCounter c;
  c.Init(7, 7, 10, hooks.Sync(), hooks.Async());
  Version v(123);
  EXPECT_FALSE(c.Next(&v));
  EXPECT_EQ(v.counter(), 123u) << "out untouched on failure";
  EXPECT_EQ(c.last_issued().counter(), 7u);
  EXPECT_EQ(c.limit(), 7u);
  EXPECT_FALSE(c.Next(&v)) << "still failing: retried, not remembered as success";
  EXPECT_EQ(hooks.sync_marks.size(), 2u);
  hooks.sync_ok = true;
  ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(v.counter(), 8u);
}

TEST(VersionCounterTest, NoSyncHookAtTheLimitFails) {
  Hooks hooks;
  VersionCounter c;
  c.Init(0, 2, 10, nullptr, hooks.Async());
  Version v;
  ASSERT_TRUE(c.Next(&v));
  ASSERT_TRUE(c.Next(&v));
  EXPECT_FALSE(c.Next(&v));
  EXPECT_EQ(c.last_issued().counter(), 2u);
}

TEST(VersionCounterTest, NextRangeIsConsecutiveAndAllOrNone) {
  Hooks hooks;
  VersionCounter c;
  c.Init(0, 4, 10, hooks.Sync(), hooks.Async());
  Version first;
  EXPECT_FALSE(c.NextRange(0, &first)) << "an empty range is not a range";
  ASSERT_TRUE(c.NextRange(3, &first));
  EXPECT_EQ(first.counter(), 1u);
  EXPECT_EQ(c.last_issued().counter(), 3u);
  EXPECT_TRUE(hooks.sync_marks.empty());
  // 4..6 crosses the limit of 4: one synchronous raise covers the whole range.
  ASSERT_TRUE(c.NextRange(3, &first));
  EXPECT_EQ(first.counter(), 4u);
  EXPECT_EQ(c.last_issued().counter(), 6u);
  EXPECT_EQ(hooks.sync_marks, std::vector<uint64_t>{16});
  // A range that cannot be made durable takes nothing, not a prefix.
  hooks.sync_ok = false;
  first = Version(99);
  EXPECT_FALSE(c.NextRange(11, &first));
  EXPECT_EQ(first.counter(), 99u);
  EXPECT_EQ(c.last_issued().counter(), 6u);
  EXPECT_EQ(c.limit(), 16u);
}

TEST(VersionCounterTest, AsyncRaiseFailedAllowsANewRequest) {
  Hooks hooks;
  VersionCounter c;
  c.Init(0, 10, 10, hooks.Sync(), hooks.Async());
  Version v;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(c.Next(&v));  // 6: 4 < 5 remain
  ASSERT_EQ(hooks.async_marks.size(), 1u);
  ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(hooks.async_marks.size(), 1u);
  c.AsyncRaiseFailed();
  ASSERT_TRUE(c.Next(&v));
  EXPECT_EQ(hooks.async_marks.size(), 2u);
}

class CounterHookKeyspaceTest : public testing::Test {
 protected:
  CounterHookKeyspaceTest() { clock_.now_ms = 1000; }
  Hooks hooks_;
  VersionCounter counter_;
  Clock clock_;
  KeyspaceStats stats_;
  Keyspace ks_{&counter_, &clock_, &stats_, 5};
};

TEST_F(CounterHookKeyspaceTest, VersionUnavailableChangesNothing) {
  counter_.Init(0, 2, 10, hooks_.Sync(), hooks_.Async());
  const SiblingSet* after = nullptr;
  ASSERT_EQ(ks_.VPut("k", Version(0), "a", TtlUpdate::At(5000), &after), OpStatus::kOk);
  ASSERT_EQ(ks_.VPut("k", Version(0), "b", TtlUpdate::Keep(), &after), OpStatus::kOk);
  ASSERT_EQ(Dump(ks_, "k"), "k@2 exp=5000: [1]a [2]b");
  hooks_.sync_ok = false;
  EXPECT_EQ(ks_.VPut("k", Version(2), "c", TtlUpdate::Clear(), &after),
            OpStatus::kVersionUnavailable);
  EXPECT_EQ(ks_.VPut("new", Version(0), "c", TtlUpdate::Clear(), &after),
            OpStatus::kVersionUnavailable);
  EXPECT_EQ(ks_.Set("k", "c", TtlUpdate::Clear()), OpStatus::kVersionUnavailable);
  EXPECT_EQ(ks_.Set("new", "c", TtlUpdate::At(9000)), OpStatus::kVersionUnavailable);
  EXPECT_EQ(ks_.Rename("k", "dst", false), OpStatus::kVersionUnavailable);
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=5000: [1]a [2]b");
  EXPECT_EQ(Dump(ks_, "new"), "new@0: (none)");
  EXPECT_EQ(Dump(ks_, "dst"), "dst@0: (none)");
  EXPECT_EQ(ks_.size(), 1u);
  EXPECT_EQ(ks_.expires_count(), 1u);
  EXPECT_EQ(counter_.last_issued().counter(), 2u);
  // VDEL needs no version, so it still works.
  EXPECT_EQ(ks_.VDel("k", Version(1), &after), OpStatus::kOk);
  EXPECT_EQ(Dump(ks_, "k"), "k@2 exp=5000: [2]b");
  // Once the mark can be persisted again, writes resume with the next version.
  hooks_.sync_ok = true;
  ASSERT_EQ(ks_.VPut("k", Version(2), "c", TtlUpdate::Clear(), &after), OpStatus::kOk);
  EXPECT_EQ(DumpSet("k", after), "k@3: [3]c");
}

// Regression test (bug found at d9364b1, fixed in ac93737): RENAME took its
// fresh versions one by one, so when the counter failed part-way (here at the
// second of two siblings) it returned kVersionUnavailable having consumed a
// version for a write that stored nothing.
TEST_F(CounterHookKeyspaceTest, FailedRenameHalfWayTakesNoVersion) {
  counter_.Init(0, 3, 10, hooks_.Sync(), hooks_.Async());
  const SiblingSet* after = nullptr;
  ASSERT_EQ(ks_.VPut("src", Version(0), "a", TtlUpdate::Clear(), &after), OpStatus::kOk);
  ASSERT_EQ(ks_.VPut("src", Version(0), "b", TtlUpdate::Clear(), &after), OpStatus::kOk);
  hooks_.sync_ok = false;
  // One version is left below the limit, the rename needs two.
  EXPECT_EQ(ks_.Rename("src", "dst", false), OpStatus::kVersionUnavailable);
  EXPECT_EQ(Dump(ks_, "src"), "src@2: [1]a [2]b");
  EXPECT_EQ(Dump(ks_, "dst"), "dst@0: (none)");
  EXPECT_EQ(counter_.last_issued().counter(), 2u);
}

// MOVE shares RENAME's copy with fresh versions: same all-or-none rule.
TEST(StoreTest, FailedMoveHalfWayTakesNoVersion) {
  Hooks hooks;
  Store store(2, 1);
  store.set_now_ms(1000);
  store.counter().Init(0, 3, 10, hooks.Sync(), hooks.Async());
  const SiblingSet* after = nullptr;
  ASSERT_EQ(store.db(0).VPut("k", Version(0), "a", TtlUpdate::Clear(), &after), OpStatus::kOk);
  ASSERT_EQ(store.db(0).VPut("k", Version(0), "b", TtlUpdate::Clear(), &after), OpStatus::kOk);
  hooks.sync_ok = false;
  EXPECT_EQ(store.db(0).MoveTo("k", &store.db(1)), OpStatus::kVersionUnavailable);
  EXPECT_EQ(Dump(store.db(0), "k"), "k@2: [1]a [2]b");
  EXPECT_EQ(Dump(store.db(1), "k"), "k@0: (none)");
  EXPECT_EQ(store.counter().last_issued().counter(), 2u);
  hooks.sync_ok = true;
  EXPECT_EQ(store.db(0).MoveTo("k", &store.db(1)), OpStatus::kOk);
  EXPECT_EQ(Dump(store.db(1), "k"), "k@4: [3]a [4]b");
}

}  // namespace
}  // namespace causalkv::store
