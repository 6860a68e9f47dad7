// Keyspace in causal mode: digests, eviction bookkeeping.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "causalkv/store/store.h"
#include "causalkv/util/key_slot.h"

namespace causalkv::store {
namespace {

constexpr ActorId kSelf = 0x1111;
constexpr ActorId kPeer = 0x2222;

class CausalKeyspaceTest : public ::testing::Test {
 protected:
  CausalKeyspaceTest() : a_(1, 7), b_(1, 7) {
    a_.EnableCausal(kSelf);
    b_.EnableCausal(kPeer);
    a_.set_now_ms(1'700'000'000'000);
    b_.set_now_ms(1'700'000'000'000);
  }
  // Every key's state of `from`, merged into `to`.
  static void Copy(Store& from, Store& to, std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
      KeyState state;
      ASSERT_TRUE(from.db(0).GetState(key, &state)) << key;
      bool changed;
      ASSERT_EQ(to.db(0).MergeState(key, state, &changed), OpStatus::kOk);
    }
  }
  Store a_;
  Store b_;
};

TEST_F(CausalKeyspaceTest, EqualStatesGiveEqualDigests) {
  KeyState after;
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "v1", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "v2", TtlUpdate::At(1'800'000'000'000),
                                &after),
            OpStatus::kOk);
  ASSERT_EQ(a_.db(0).Set("gone", "x", TtlUpdate::Clear()), OpStatus::kOk);
  ASSERT_TRUE(a_.db(0).Delete("gone"));
  Copy(a_, b_, {"k", "gone"});
  for (int slot = 0; slot < 16384; ++slot) {
    ASSERT_EQ(a_.db(0).slot_digest(slot), b_.db(0).slot_digest(slot)) << slot;
  }
  EXPECT_EQ(b_.db(0).tombstone_count(), 1u);
}

TEST_F(CausalKeyspaceTest, StateDigestIsWhatTheSlotDigestFolds) {
  uint64_t digest = 0;
  EXPECT_FALSE(a_.db(0).StateDigest("k", &digest));
  KeyState after;
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "v1", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  const int slot = util::KeySlot("k");
  ASSERT_TRUE(a_.db(0).StateDigest("k", &digest));
  EXPECT_NE(digest, 0u);
  EXPECT_EQ(digest, a_.db(0).slot_digest(slot));  // the only key of its slot
  // The same state on another node has the same digest; a new write changes it.
  Copy(a_, b_, {"k"});
  uint64_t theirs = 0;
  ASSERT_TRUE(b_.db(0).StateDigest("k", &theirs));
  EXPECT_EQ(theirs, digest);
  ASSERT_EQ(b_.db(0).VPutCausal("k", after.context, "v2", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  ASSERT_TRUE(b_.db(0).StateDigest("k", &theirs));
  EXPECT_NE(theirs, digest);
  // A tombstone has a digest too, the one its slot folds.
  ASSERT_TRUE(b_.db(0).Delete("k"));
  ASSERT_TRUE(b_.db(0).StateDigest("k", &theirs));
  EXPECT_EQ(theirs, b_.db(0).slot_digest(slot));
}

TEST_F(CausalKeyspaceTest, EncodeStateIsEncodeKeyStateOfGetState) {
  std::string out;
  EXPECT_FALSE(a_.db(0).EncodeState("k", &out));
  KeyState after;
  // Siblings from two nodes (merged in), a TTL, a covered dot in the
  // context, then a tombstone: each time the same bytes both ways.
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "mine", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  ASSERT_EQ(b_.db(0).VPutCausal("k", VersionVector(), std::string(300, 'x'),
                                TtlUpdate::At(1'800'000'000'000), &after),
            OpStatus::kOk);
  ASSERT_EQ(b_.db(0).VPutCausal("k", VersionVector(), "", TtlUpdate::Keep(), &after),
            OpStatus::kOk);
  auto check = [&](Store& store) {
    KeyState state;
    ASSERT_TRUE(store.db(0).GetState("k", &state));
    std::string expected;
    EncodeKeyState(state, &expected);
    ASSERT_TRUE(store.db(0).EncodeState("k", &out));
    EXPECT_EQ(out, expected);
  };
  check(a_);
  Copy(b_, a_, {"k"});
  check(a_);
  KeyState state;
  ASSERT_TRUE(a_.db(0).GetState("k", &state));
  ASSERT_EQ(a_.db(0).VPutCausal("k", state.context, "next", TtlUpdate::Keep(), &after),
            OpStatus::kOk);
  check(a_);
  ASSERT_TRUE(a_.db(0).Delete("k"));
  check(a_);
}

TEST_F(CausalKeyspaceTest, EvictedStateKeepsItsDigestAndIsNotTakenBack) {
  KeyState after;
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "v", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  Copy(a_, b_, {"k"});
  ASSERT_TRUE(a_.db(0).Evict("k"));
  EXPECT_EQ(a_.db(0).size(), 0u);
  EXPECT_TRUE(a_.db(0).MaybeEvicted("k"));
  for (int slot = 0; slot < 16384; ++slot) {
    ASSERT_EQ(a_.db(0).slot_digest(slot), b_.db(0).slot_digest(slot)) << slot;
  }
  // Repair offers exactly what was evicted: it stays out (this also checks
  // that a block's hash equals the hash of its unpacked state).
  bool changed = true;
  ASSERT_EQ(a_.db(0).MergeState("k", after, &changed), OpStatus::kOk);
  EXPECT_FALSE(changed);
  EXPECT_EQ(a_.db(0).size(), 0u);
  // A read or a write that needs it takes it back.
  ASSERT_EQ(a_.db(0).MergeState("k", after, &changed, /*take_evicted=*/true), OpStatus::kOk);
  EXPECT_TRUE(changed);
  EXPECT_FALSE(a_.db(0).MaybeEvicted("k"));
  for (int slot = 0; slot < 16384; ++slot) {
    ASSERT_EQ(a_.db(0).slot_digest(slot), b_.db(0).slot_digest(slot)) << slot;
  }
}

TEST_F(CausalKeyspaceTest, DeleteOfAKeyNotYetReceivedLeavesTheClientsTombstone) {
  KeyState after;
  ASSERT_EQ(b_.db(0).VPutCausal("k", VersionVector(), "v", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  // A client read k from b and deletes it through a, which has not got it.
  KeyState deleted;
  ASSERT_EQ(a_.db(0).VDelCausal("k", after.context, &deleted), OpStatus::kOk);
  EXPECT_TRUE(deleted.tombstone());
  Copy(a_, b_, {"k"});
  KeyState on_b;
  ASSERT_TRUE(b_.db(0).GetState("k", &on_b));
  EXPECT_TRUE(on_b.tombstone());
}

// Found by the soak run: SET k v PX 5000, DEL k, APPEND k x through one node
// of a cluster, and k vanished 5 s later on every node: the write kept the
// TTL its tombstone still held. A key that is not live has no TTL to keep.
TEST_F(CausalKeyspaceTest, KeepingTheTtlOfADeletedKeyGivesNone) {
  const int64_t now = 1'700'000'000'000;
  for (const char* key : {"plain", "versioned"}) {
    SCOPED_TRACE(key);
    const bool versioned = std::string(key) == "versioned";
    a_.set_now_ms(now);
    b_.set_now_ms(now);
    ASSERT_EQ(a_.db(0).Set(key, "v", TtlUpdate::At(now + 5000)), OpStatus::kOk);
    ASSERT_TRUE(a_.db(0).Delete(key));
    KeyState after;
    if (versioned) {
      ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), "x", TtlUpdate::Keep(), &after),
                OpStatus::kOk);
    } else {
      ASSERT_EQ(a_.db(0).Set(key, "x", TtlUpdate::Keep()), OpStatus::kOk);
    }
    KeyState state;
    ASSERT_TRUE(a_.db(0).GetState(key, &state));
    EXPECT_EQ(state.expire_at_ms, KeyState::kNoExpire);
    Copy(a_, b_, {key});
    a_.set_now_ms(now + 10000);
    b_.set_now_ms(now + 10000);
    for (Store* store : {&a_, &b_}) {
      ASSERT_TRUE(store->db(0).GetState(key, &state));
      ASSERT_EQ(state.siblings.size(), 1u);
      EXPECT_EQ(state.siblings[0].value, "x");
    }
    // A live key keeps its TTL, as before.
    ASSERT_EQ(a_.db(0).Set(key, "v", TtlUpdate::At(now + 20000)), OpStatus::kOk);
    ASSERT_EQ(a_.db(0).Set(key, "y", TtlUpdate::Keep()), OpStatus::kOk);
    ASSERT_TRUE(a_.db(0).GetState(key, &state));
    EXPECT_EQ(state.expire_at_ms, now + 20000);
  }
}

// Found by the soak run (SOAK_MIXED_TTLS=1) when expiry left a value-less
// tombstone: a replica that missed a PERSIST expired the key at the old
// time, and its tombstone removed the value from every replica. Expiry holds
// the whole state instead, so the PERSIST that the other replicas hold
// brings the key back, on both.
TEST_F(CausalKeyspaceTest, APersistAReplicaMissedKeepsTheKeyAfterTheOldTtl) {
  const int64_t now = 1'700'000'000'000;
  for (const char* how : {"persist", "later expire"}) {
    SCOPED_TRACE(how);
    const bool persist = std::string(how) == "persist";
    const char* key = persist ? "k1" : "k2";
    a_.set_now_ms(now);
    b_.set_now_ms(now);
    ASSERT_EQ(a_.db(0).Set(key, "v", TtlUpdate::At(now + 1000)), OpStatus::kOk);
    Copy(a_, b_, {key});  // b_ then misses the TTL change
    if (persist) {
      ASSERT_TRUE(a_.db(0).Persist(key));
    } else {
      ASSERT_TRUE(a_.db(0).SetExpire(key, now + 60'000));
    }
    a_.set_now_ms(now + 2000);
    b_.set_now_ms(now + 2000);
    EXPECT_EQ(b_.db(0).FindReadOnly(key), nullptr) << "b_ expired its copy";
    EXPECT_EQ(b_.db(0).expired_state_count(), 1u);
    EXPECT_EQ(b_.db(0).tombstone_count(), 0u);
    // Either direction of repair gives the key back, alive, on both.
    Copy(b_, a_, {key});
    Copy(a_, b_, {key});
    for (Store* store : {&a_, &b_}) {
      const SiblingSet* set = store->db(0).FindReadOnly(key);
      ASSERT_NE(set, nullptr);
      EXPECT_EQ((*set->begin()).value, "v");
      EXPECT_EQ(set->expire_at_ms(), persist ? KeyState::kNoExpire : now + 60'000);
      EXPECT_EQ(store->db(0).expired_state_count(), 0u);
    }
  }
}

// The limitation expiry tombstones were meant to fix, fixed by holding the
// expired state: b_ missed a SET with a TTL that replaced "old"; once that
// TTL passed, repair in either direction must not bring "old" back.
TEST_F(CausalKeyspaceTest, AReplicaThatMissedAWriteWithATtlCannotBringBackWhatItReplaced) {
  const int64_t now = 1'700'000'000'000;
  ASSERT_EQ(a_.db(0).Set("k", "old", TtlUpdate::Clear()), OpStatus::kOk);
  Copy(a_, b_, {"k"});
  ASSERT_EQ(a_.db(0).Set("k", "new", TtlUpdate::At(now + 1000)), OpStatus::kOk);
  a_.set_now_ms(now + 2000);
  b_.set_now_ms(now + 2000);
  EXPECT_EQ(a_.db(0).FindReadOnly("k"), nullptr);
  EXPECT_EQ(a_.db(0).size(), 0u);
  ASSERT_NE(b_.db(0).FindReadOnly("k"), nullptr) << "b_ still holds the replaced value";
  Copy(b_, a_, {"k"});
  EXPECT_EQ(a_.db(0).FindReadOnly("k"), nullptr) << "the replaced value came back";
  Copy(a_, b_, {"k"});
  EXPECT_EQ(b_.db(0).FindReadOnly("k"), nullptr);
  EXPECT_EQ(b_.stats().expired_keys, 1u);
  KeyState on_a;
  KeyState on_b;
  ASSERT_TRUE(a_.db(0).GetState("k", &on_a));
  ASSERT_TRUE(b_.db(0).GetState("k", &on_b));
  EXPECT_EQ(on_a, on_b);
  ASSERT_EQ(on_a.siblings.size(), 1u);
  EXPECT_EQ(on_a.siblings[0].value, "new");
  EXPECT_EQ(a_.db(0).slot_digest(util::KeySlot("k")), b_.db(0).slot_digest(util::KeySlot("k")));
}

TEST_F(CausalKeyspaceTest, ExpiryHoldsTheStateHiddenWithTheSameDigest) {
  const int64_t now = 1'700'000'000'000;
  const size_t empty = a_.db(0).memory_bytes();
  std::vector<uint64_t> digests;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(a_.db(0).Set(key, std::string(100, 'v'), TtlUpdate::At(now + 10)), OpStatus::kOk);
    digests.push_back(a_.db(0).slot_digest(util::KeySlot(key)));
  }
  a_.set_now_ms(now + 20);
  EXPECT_EQ(a_.db(0).RandomKey(), nullptr);
  for (int round = 0; round < 100 && a_.db(0).size() > 0; ++round) a_.ActiveExpireCycle(100000);
  EXPECT_EQ(a_.db(0).size(), 0u);
  EXPECT_EQ(a_.db(0).tombstone_count(), 0u);
  EXPECT_EQ(a_.db(0).expired_state_count(), 50u);
  EXPECT_EQ(a_.stats().expired_keys, 50u);
  EXPECT_GE(a_.db(0).memory_bytes(), empty + 50 * 100) << "held values count";
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(a_.db(0).slot_digest(util::KeySlot(key)), digests[i]) << "expiry changes no digest";
    EXPECT_EQ(a_.db(0).FindReadOnly(key), nullptr);
    KeyState read;
    ASSERT_TRUE(a_.db(0).ReadState(key, &read));
    EXPECT_TRUE(read.tombstone()) << "VGET reads an expired key as deleted";
    EXPECT_FALSE(read.context.empty()) << "with the context to write with";
  }
  // The reaper's walk sees them, dated by their TTL, and drops them.
  size_t seen = 0;
  uint64_t cursor = 0;
  do {
    cursor = a_.db(0).ScanHidden(cursor, 7, [&](std::string_view, const KeyState& state,
                                                int64_t since_ms) {
      EXPECT_FALSE(state.tombstone());
      EXPECT_EQ(since_ms, now + 10);
      ++seen;
    });
  } while (cursor != 0);
  EXPECT_EQ(seen, 50u);
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i);
    KeyState state;
    ASSERT_TRUE(a_.db(0).GetState(key, &state));
    ASSERT_TRUE(a_.db(0).ReapHidden(key, state));
  }
  EXPECT_EQ(a_.db(0).expired_state_count(), 0u);
  EXPECT_LE(a_.db(0).memory_bytes(), empty + 4096) << "what stays is the bucket array";
  // A state merged after its TTL is held too (so that every replica holds
  // the same and the reaper can drop it), but not counted as expired here:
  // this node never held it live.
  ASSERT_EQ(b_.db(0).Set("m", "v", TtlUpdate::At(now + 10)), OpStatus::kOk);
  Copy(b_, a_, {"m"});
  EXPECT_EQ(a_.db(0).FindReadOnly("m"), nullptr);
  EXPECT_EQ(a_.db(0).expired_state_count(), 1u);
  EXPECT_EQ(a_.stats().expired_keys, 50u);
}

// Found by review: b_ gave the key a TTL, a_ (which never held the key) wrote
// it later without one, after b_'s TTL had passed. A plain write stamps the
// TTL register even with no TTL to clear, so the later write's "no TTL" wins
// the merge and its value stays; unstamped, it lost to b_'s TTL and was
// hidden with b_'s expired state. The stamp costs no memory: a block stores
// none that is its newest dot.
TEST_F(CausalKeyspaceTest, ALaterPlainWriteThroughANodeWithoutTheKeyBeatsAnOldTtl) {
  const int64_t now = 1'700'000'000'000;
  for (const char* write : {"set", "vput", "rewrite"}) {
    SCOPED_TRACE(write);
    const std::string key = std::string("k-") + write;
    b_.set_now_ms(now);
    ASSERT_EQ(b_.db(0).Set(key, "a", TtlUpdate::At(now + 1000)), OpStatus::kOk);
    a_.set_now_ms(now + 2000);
    b_.set_now_ms(now + 2000);
    EXPECT_EQ(b_.db(0).FindReadOnly(key), nullptr) << "expired on b_";
    const std::string w(write);
    KeyState after;
    if (w == "set") {
      ASSERT_EQ(a_.db(0).Set(key, "b", TtlUpdate::Clear()), OpStatus::kOk);
    } else if (w == "vput") {
      ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), "b", TtlUpdate::Clear(), &after),
                OpStatus::kOk);
    } else {
      ASSERT_EQ(a_.db(0).Rewrite(key,
                                 [](const SiblingSet*, std::string_view* value) {
                                   *value = "b";
                                   return true;
                                 }),
                OpStatus::kOk);
    }
    const SiblingSet* block = a_.db(0).FindReadOnly(key);
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(block->ttl_stamp().raw(), 0u) << "the stamp is implicit: no memory";
    Copy(a_, b_, {key.c_str()});
    Copy(b_, a_, {key.c_str()});
    for (Store* store : {&a_, &b_}) {
      const SiblingSet* set = store->db(0).FindReadOnly(key);
      ASSERT_NE(set, nullptr) << "the later write was hidden";
      EXPECT_FALSE(set->has_expire());
      bool has_b = false;
      for (Sibling s : *set) has_b = has_b || s.value == "b";
      EXPECT_TRUE(has_b);
    }
    // Equal states, equal digests.
    EXPECT_EQ(a_.db(0).slot_digest(util::KeySlot(key)), b_.db(0).slot_digest(util::KeySlot(key)));
  }
}

// No write sees an expired state's values: they do not come back as
// siblings of a blind VPUT, a KEEPTTL write gets no TTL, and a VDEL answers
// the context without them.
TEST_F(CausalKeyspaceTest, WritesOverAnExpiredStateDoNotSeeItsValues) {
  const int64_t now = 1'700'000'000'000;
  for (const char* write : {"vput", "vput keepttl", "set keepttl", "rewrite", "vdel"}) {
    SCOPED_TRACE(write);
    const std::string key = std::string("k-") + write;
    a_.set_now_ms(now);
    KeyState after;
    ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), "x", TtlUpdate::At(now + 10), &after),
              OpStatus::kOk);
    ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), "y", TtlUpdate::Keep(), &after),
              OpStatus::kOk);
    ASSERT_EQ(after.siblings.size(), 2u);
    const VersionVector held = after.context;
    a_.set_now_ms(now + 20);
    const std::string w(write);
    if (w == "vdel") {
      ASSERT_EQ(a_.db(0).VDelCausal(key, VersionVector(), &after), OpStatus::kOk);
      EXPECT_TRUE(after.tombstone());
      EXPECT_EQ(after.context, held);
      EXPECT_EQ(a_.db(0).FindReadOnly(key), nullptr);
      EXPECT_EQ(a_.db(0).expired_state_count(), 1u) << "a blind VDEL removes nothing";
      continue;
    }
    if (w == "vput" || w == "vput keepttl") {
      ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), "z",
                                    w == "vput" ? TtlUpdate::Clear() : TtlUpdate::Keep(), &after),
                OpStatus::kOk);
    } else if (w == "set keepttl") {
      ASSERT_EQ(a_.db(0).Set(key, "z", TtlUpdate::Keep()), OpStatus::kOk);
    } else {
      ASSERT_EQ(a_.db(0).Rewrite(key,
                                 [](const SiblingSet* current, std::string_view* value) {
                                   EXPECT_EQ(current, nullptr);
                                   *value = "z";
                                   return true;
                                 }),
                OpStatus::kOk);
    }
    const SiblingSet* set = a_.db(0).FindReadOnly(key);
    ASSERT_NE(set, nullptr);
    EXPECT_EQ(set->size(), 1u);
    EXPECT_EQ((*set->begin()).value, "z");
    EXPECT_FALSE(set->has_expire());
    KeyState state;
    ASSERT_TRUE(a_.db(0).GetState(key, &state));
    EXPECT_TRUE(state.context.Descends(held)) << "the write covers the expired values";
  }
  EXPECT_EQ(a_.db(0).expired_state_count(), 1u);
}

// Under memory pressure an expired state goes first, whatever the policy
// (its values are gone for clients already), and stays "held" for repair
// and the reaper: its digest stays, a peer's copy is not taken back, and a
// PEER.REAP of it forgets it as the replicas that held it drop theirs.
TEST_F(CausalKeyspaceTest, MemoryPressureDropsExpiredStatesFirstAndKeepsTheirDigests) {
  const int64_t now = 1'700'000'000'000;
  ASSERT_EQ(a_.db(0).Set("live", "v", TtlUpdate::Clear()), OpStatus::kOk);
  for (int i = 0; i < 20; ++i) {
    const std::string key = "gone" + std::to_string(i);
    ASSERT_EQ(a_.db(0).Set(key, std::string(200, 'x'), TtlUpdate::At(now + 10)), OpStatus::kOk);
  }
  Copy(a_, b_, {"gone0"});
  a_.set_now_ms(now + 20);
  b_.set_now_ms(now + 20);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(a_.db(0).FindReadOnly("gone" + std::to_string(i)), nullptr);
  }
  ASSERT_EQ(a_.db(0).expired_state_count(), 20u);
  KeyState held;
  ASSERT_TRUE(a_.db(0).GetState("gone0", &held));
  const int gone0_slot = util::KeySlot("gone0");
  const uint64_t gone0_digest = a_.db(0).slot_digest(gone0_slot);
  const size_t before = a_.db(0).memory_bytes();
  a_.set_eviction(EvictionSettings{});  // noeviction
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(a_.EvictOne()) << i;
  EXPECT_FALSE(a_.EvictOne()) << "noeviction: the live key stays";
  EXPECT_NE(a_.db(0).FindReadOnly("live"), nullptr);
  EXPECT_EQ(a_.db(0).expired_state_count(), 0u);
  EXPECT_LE(a_.db(0).memory_bytes() + 20 * 200, before);
  EXPECT_EQ(a_.stats().evicted_keys, 0u) << "no key was evicted";
  EXPECT_EQ(a_.db(0).slot_digest(gone0_slot), gone0_digest);
  uint64_t digest = 0;
  EXPECT_FALSE(a_.db(0).StateDigest("gone0", &digest));
  ASSERT_TRUE(a_.db(0).HeldDigest("gone0", &digest));
  // Repair does not bring it back, and the TTL sweep does not forget it.
  bool changed = true;
  ASSERT_EQ(a_.db(0).MergeState("gone0", held, &changed), OpStatus::kOk);
  EXPECT_FALSE(changed);
  a_.db(0).SweepEvicted(1000);
  EXPECT_EQ(a_.db(0).slot_digest(gone0_slot), gone0_digest);
  // Reaped everywhere: b_ drops its copy, a_ forgets it; the digests agree.
  ASSERT_TRUE(b_.db(0).ReapHidden("gone0", held));
  ASSERT_TRUE(a_.db(0).ReapHidden("gone0", held));
  EXPECT_FALSE(a_.db(0).HeldDigest("gone0", &digest));
  EXPECT_EQ(a_.db(0).slot_digest(gone0_slot), b_.db(0).slot_digest(gone0_slot));
  EXPECT_FALSE(a_.db(0).ReapHidden("gone0", held)) << "once";
}

// MergeState decides the common case (incoming supersedes the live block)
// on the block, without unpacking it: whatever the path, the result must be
// Sync's. Random histories of three nodes (blind and stale-context VPUTs,
// SETs, deletes, TTL changes from every node) merged in random directions.
TEST_F(CausalKeyspaceTest, MergeIsSyncWhicheverPathItTakes) {
  std::mt19937_64 rng(20261204);
  const int64_t now = 1'700'000'000'000;
  Store c(1, 7);
  c.EnableCausal(0x3333);
  c.set_now_ms(now);
  Store* nodes[] = {&a_, &b_, &c};
  std::map<std::string, VersionVector> read_contexts;
  int superseding = 0;
  int other = 0;
  int unchanged = 0;
  for (int round = 0; round < 12000; ++round) {
    const std::string key = "k" + std::to_string(rng() % 12);
    Store& node = *nodes[rng() % 3];
    const std::string value(rng() % 30, static_cast<char>('a' + rng() % 26));
    KeyState after;
    switch (rng() % 9) {
      case 0:
        ASSERT_EQ(node.db(0).VPutCausal(key, VersionVector(), value, TtlUpdate::Keep(), &after),
                  OpStatus::kOk);
        break;
      case 1:
        ASSERT_EQ(node.db(0).VPutCausal(key, read_contexts[key], value, TtlUpdate::Keep(), &after),
                  OpStatus::kOk);
        break;
      case 2:
        ASSERT_EQ(node.db(0).Set(key, value, TtlUpdate::Keep()), OpStatus::kOk);
        break;
      case 3:
        node.db(0).Delete(key);
        break;
      case 4:
        if (rng() % 2 == 0) {
          node.db(0).SetExpire(key, now + 1'000'000 + static_cast<int64_t>(rng() % 1000));
        } else {
          node.db(0).Persist(key);
        }
        break;
      case 5: {
        KeyState state;
        if (node.db(0).GetState(key, &state)) read_contexts[key] = state.context;
        break;
      }
      default: {
        Store& from = *nodes[rng() % 3];
        if (&from == &node) break;
        KeyState incoming;
        if (!from.db(0).GetState(key, &incoming)) break;
        KeyState before;
        const bool had = node.db(0).GetState(key, &before);
        bool changed = false;
        ASSERT_EQ(node.db(0).MergeState(key, incoming, &changed), OpStatus::kOk);
        const KeyState want = had ? Sync(before, incoming) : incoming;
        KeyState got;
        ASSERT_TRUE(node.db(0).GetState(key, &got));
        ASSERT_EQ(got, want) << "round " << round;
        ASSERT_EQ(node.db(0).FindReadOnly(key) != nullptr, !want.tombstone())
            << "a live key is a block, a tombstone is not; round " << round;
        EXPECT_EQ(changed, !had || !(before == want)) << "round " << round;
        if (had && !before.tombstone()) {
          if (!(before == want) && want == incoming) {
            ++superseding;
          } else if (before == want) {
            ++unchanged;
          } else {
            ++other;
          }
        }
        // The digest follows the state.
        Store fresh(1, 7);
        fresh.EnableCausal(0x4444);
        ASSERT_EQ(fresh.db(0).MergeState(key, got, &changed), OpStatus::kOk);
        uint64_t mine = 0;
        uint64_t theirs = 0;
        ASSERT_TRUE(node.db(0).StateDigest(key, &mine));
        ASSERT_TRUE(fresh.db(0).StateDigest(key, &theirs));
        EXPECT_EQ(mine, theirs);
        break;
      }
    }
  }
  EXPECT_GT(superseding, 300) << other << " " << unchanged;
  EXPECT_GT(other, 150);
  EXPECT_GT(unchanged, 150);
}

// A flush deletes expired states too (one may be alive on a replica that
// missed a PERSIST), as tombstones dated now, which go to the peers.
TEST_F(CausalKeyspaceTest, AFlushTurnsExpiredStatesIntoTombstones) {
  const int64_t now = 1'700'000'000'000;
  ASSERT_EQ(a_.db(0).Set("gone", "v", TtlUpdate::At(now + 10)), OpStatus::kOk);
  ASSERT_EQ(a_.db(0).Set("live", "v", TtlUpdate::Clear()), OpStatus::kOk);
  a_.set_now_ms(now + 20);
  EXPECT_EQ(a_.db(0).FindReadOnly("gone"), nullptr);
  a_.db(0).Clear();
  EXPECT_EQ(a_.db(0).expired_state_count(), 0u);
  EXPECT_EQ(a_.db(0).tombstone_count(), 2u);
  a_.db(0).ForEachHidden([&](std::string_view, const KeyState& state, int64_t since_ms) {
    EXPECT_TRUE(state.tombstone());
    EXPECT_EQ(since_ms, now + 20);
  });
}

TEST_F(CausalKeyspaceTest, TombstonesCountInMemoryAndScanVisitsEachOnce) {
  const size_t empty = a_.db(0).memory_bytes();
  std::set<std::string> made;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "a-rather-long-key-name-" + std::to_string(i);
    ASSERT_EQ(a_.db(0).Set(key, "v", TtlUpdate::Clear()), OpStatus::kOk);
    ASSERT_TRUE(a_.db(0).Delete(key));
    made.insert(key);
  }
  const size_t with_tombstones = a_.db(0).memory_bytes();
  EXPECT_GE(with_tombstones, empty + 1000 * 64);
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = a_.db(0).ScanHidden(cursor, 7, [&](std::string_view key, const KeyState& state,
                                                    int64_t) {
      EXPECT_TRUE(state.tombstone());
      seen.emplace(key);
    });
  } while (cursor != 0);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), made);
  EXPECT_EQ(seen.size(), made.size());
  for (const std::string& key : made) {
    KeyState state;
    ASSERT_TRUE(a_.db(0).GetState(key, &state));
    ASSERT_TRUE(a_.db(0).ReapHidden(key, state));
  }
  EXPECT_EQ(a_.db(0).tombstone_count(), 0u);
  // What stays is the map's bucket array.
  EXPECT_LE(a_.db(0).memory_bytes(), with_tombstones - 1000 * 64);
}

// A plain write over a live key is computed on the block (the hot path of a
// cluster's SET), and a VPUT's block replaces the old one in its chain; both
// must give what the KeyState algebra gives, whatever the key held: siblings
// of two nodes, extra context, TTLs stamped by either node, stale contexts,
// and every kind of TTL update.
TEST_F(CausalKeyspaceTest, PlainWriteOverALiveKeyIsTheAlgebrasWrite) {
  std::mt19937_64 rng(20261203);
  const int64_t now = 1'700'000'000'000;
  auto random_ttl = [&]() {
    switch (rng() % 3) {
      case 0:
        return TtlUpdate::Keep();
      case 1:
        return TtlUpdate::Clear();
      default:
        return TtlUpdate::At(now + 1'000'000 + static_cast<int64_t>(rng() % 1000));
    }
  };
  int checked = 0;
  int checked_vput = 0;
  std::map<std::string, VersionVector> read_contexts;
  for (int round = 0; round < 4000; ++round) {
    const std::string key = "k" + std::to_string(rng() % 20);
    const std::string value(rng() % 40, static_cast<char>('a' + rng() % 26));
    KeyState after;
    switch (rng() % 8) {
      case 0:
        ASSERT_EQ(a_.db(0).VPutCausal(key, VersionVector(), value, random_ttl(), &after),
                  OpStatus::kOk);
        break;
      case 1:
        // Half of them reach a_ later, if at all (case 3 copies the other way).
        ASSERT_EQ(b_.db(0).VPutCausal(key, VersionVector(), value, random_ttl(), &after),
                  OpStatus::kOk);
        if (rng() % 2 == 0) Copy(b_, a_, {key.c_str()});
        break;
      case 2:
        ASSERT_EQ(b_.db(0).Set(key, value, random_ttl()), OpStatus::kOk);
        Copy(b_, a_, {key.c_str()});
        break;
      case 3: {
        KeyState state;
        if (a_.db(0).GetState(key, &state)) Copy(a_, b_, {key.c_str()});
        break;
      }
      case 4: {
        // A VPUT with a context read earlier (often stale): the algebra's
        // write, stored over whatever is there now.
        KeyState before;
        a_.db(0).GetState(key, &before);
        const VersionVector seen = read_contexts[key];
        const TtlUpdate ttl = random_ttl();
        ASSERT_EQ(a_.db(0).VPutCausal(key, seen, value, ttl, &after), OpStatus::kOk);
        KeyState got;
        ASSERT_TRUE(a_.db(0).GetState(key, &got));
        EXPECT_EQ(got, after);
        KeyState want = before;
        Dot mine{};  // the write's dot: this node's one sibling the key did not know
        for (const SiblingValue& sv : got.siblings) {
          if (sv.dot.actor == kSelf && sv.dot.counter > before.context.Get(kSelf)) mine = sv.dot;
        }
        ASSERT_NE(mine.counter, 0u);
        ApplyWrite(&want, seen, mine, &value);
        const bool was_live = !before.tombstone();
        const TtlUpdate applied =
            !was_live && ttl.kind == TtlUpdate::Kind::kKeep ? TtlUpdate::Clear() : ttl;
        if (applied.kind == TtlUpdate::Kind::kSet) {
          want.expire_at_ms = applied.at_ms;
          want.ttl_stamp = mine;
        } else if (applied.kind == TtlUpdate::Kind::kClear) {
          want.expire_at_ms = KeyState::kNoExpire;  // stamped even with no TTL to clear
          want.ttl_stamp = mine;
        }
        ASSERT_EQ(got, want) << "round " << round;
        ++checked_vput;
        break;
      }
      case 5: {
        // Read through either node: b_'s context may hold dots a_ has not
        // seen yet (a client that reads through one node and writes
        // through another).
        KeyState state;
        Store& through = rng() % 2 == 0 ? a_ : b_;
        if (through.db(0).GetState(key, &state)) read_contexts[key] = state.context;
        break;
      }
      default: {
        KeyState before;
        const bool live = a_.db(0).GetState(key, &before) && !before.tombstone();
        const TtlUpdate ttl = random_ttl();
        ASSERT_EQ(a_.db(0).Set(key, value, ttl), OpStatus::kOk);
        if (!live) break;
        ++checked;
        KeyState got;
        ASSERT_TRUE(a_.db(0).GetState(key, &got));
        ASSERT_EQ(got.siblings.size(), 1u);
        const Dot dot = got.siblings[0].dot;
        EXPECT_EQ(dot.actor, kSelf);
        EXPECT_GT(dot.counter, before.context.Get(kSelf));
        KeyState want = before;
        ApplyWrite(&want, before.context, dot, &value);
        switch (ttl.kind) {
          case TtlUpdate::Kind::kKeep:
            break;
          case TtlUpdate::Kind::kClear:
            want.expire_at_ms = KeyState::kNoExpire;  // stamped even with no TTL to clear
            want.ttl_stamp = dot;
            break;
          case TtlUpdate::Kind::kSet:
            want.expire_at_ms = ttl.at_ms;
            want.ttl_stamp = dot;
            break;
        }
        ASSERT_EQ(got, want) << "round " << round;
        // The block's digest is the state's.
        uint64_t digest = 0;
        ASSERT_TRUE(a_.db(0).StateDigest(key, &digest));
        Store fresh(1, 7);
        fresh.EnableCausal(kPeer);
        bool changed = false;
        ASSERT_EQ(fresh.db(0).MergeState(key, got, &changed), OpStatus::kOk);
        uint64_t theirs = 0;
        ASSERT_TRUE(fresh.db(0).StateDigest(key, &theirs));
        EXPECT_EQ(digest, theirs);
        break;
      }
    }
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(checked_vput, 300);
  // Every slot digest is still the XOR of its keys' state digests.
  Store rebuilt(1, 7);
  rebuilt.EnableCausal(kSelf);
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    KeyState state;
    if (!a_.db(0).GetState(key, &state)) continue;
    ASSERT_EQ(rebuilt.db(0).RestoreState(key, state, 0), OpStatus::kOk);
  }
  for (int slot = 0; slot < 16384; ++slot) {
    ASSERT_EQ(a_.db(0).slot_digest(slot), rebuilt.db(0).slot_digest(slot)) << slot;
  }
}

// Found by test_cluster (flaky): PERSIST through node B right after SET EX
// through node A lost the TTL register to A's older stamp when B's dot was
// lower (B's clock behind A's, or the same millisecond with a lower
// sequence): the TTL came back. A TTL change's dot is now above the stamp
// it replaces (a hybrid logical clock), so the causally later one wins.
TEST_F(CausalKeyspaceTest, ACausallyLaterTtlChangeWinsWhateverTheClocks) {
  const int64_t now = 1'700'000'000'000;
  b_.set_now_ms(now - 10'000);  // B's clock is ten seconds behind
  for (const char* how : {"persist", "expire", "set", "vput", "rename"}) {
    SCOPED_TRACE(how);
    const std::string what(how);
    ASSERT_EQ(a_.db(0).Set("k", "v", TtlUpdate::At(now + 100'000)), OpStatus::kOk);
    Copy(a_, b_, {"k"});
    KeyState after;
    if (what == "persist") {
      ASSERT_TRUE(b_.db(0).Persist("k"));
    } else if (what == "expire") {
      ASSERT_TRUE(b_.db(0).SetExpire("k", now + 500'000));
    } else if (what == "set") {
      ASSERT_EQ(b_.db(0).Set("k", "w", TtlUpdate::Clear()), OpStatus::kOk);
    } else if (what == "vput") {
      KeyState read;
      ASSERT_TRUE(b_.db(0).GetState("k", &read));
      ASSERT_EQ(b_.db(0).VPutCausal("k", read.context, "w", TtlUpdate::Clear(), &after),
                OpStatus::kOk);
    } else {
      ASSERT_EQ(b_.db(0).Rename("k", "k2", false), OpStatus::kOk);
      ASSERT_EQ(b_.db(0).Rename("k2", "k", false), OpStatus::kOk);
      ASSERT_TRUE(b_.db(0).Persist("k"));
    }
    KeyState on_b;
    ASSERT_TRUE(b_.db(0).GetState("k", &on_b));
    Copy(b_, a_, {"k"});
    KeyState on_a;
    ASSERT_TRUE(a_.db(0).GetState("k", &on_a));
    EXPECT_EQ(on_a.expire_at_ms, on_b.expire_at_ms);
    EXPECT_EQ(on_a, on_b);
    EXPECT_EQ(on_a.expire_at_ms, what == "expire" ? now + 500'000 : KeyState::kNoExpire);
  }
}

}  // namespace
}  // namespace causalkv::store
