// Causal mode on disk: snapshots (format 3) and the append-only log (format
// 3) keep every key's state (dots of several nodes, extra context, TTL and
// its stamp) and the tombstones with their deletion times; files of the
// single-node formats still load into either mode; a cluster node's files
// never load into a single-node store; damaged files are refused, never
// crash. Also the startup path (command::Persistence) that turns a single
// node's log into a causal one.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "causalkv/command/persistence.h"
#include "causalkv/command/server_state.h"
#include "causalkv/persist/aof.h"
#include "causalkv/persist/snapshot.h"
#include "causalkv/store/store.h"
#include "causalkv/util/key_slot.h"

namespace causalkv::persist {
namespace {

using store::ActorId;
using store::Dot;
using store::KeyState;
using store::Keyspace;
using store::OpStatus;
using store::SiblingValue;
using store::Store;
using store::TtlUpdate;
using store::Version;
using store::VersionVector;

constexpr ActorId kSelf = 0x1111111111111111ull;
constexpr ActorId kB = 0x2222222222222222ull;
constexpr ActorId kC = 0x3333333333333333ull;
constexpr ActorId kNewId = 0x4444444444444444ull;  // this node after it got a new id
constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kFilledAt = kNow + 9;  // FillCausal's clock when it returns

// `databases`: fewer for the loops that build a store per try (each
// database of a causal store costs a digest per hash slot).
std::unique_ptr<Store> CausalStore(ActorId self, int databases = 16) {
  auto s = std::make_unique<Store>(databases, 7);
  s->set_now_ms(kNow);
  s->EnableCausal(self);
  return s;
}

KeyState State(std::vector<VersionVector::Entry> context, std::vector<SiblingValue> siblings,
               int64_t expire_at_ms = KeyState::kNoExpire, Dot stamp = {}) {
  KeyState state;
  state.context = VersionVector(std::move(context));
  state.siblings = std::move(siblings);
  state.expire_at_ms = expire_at_ms;
  state.ttl_stamp = stamp;
  return state;
}

std::string Print(const KeyState& state) {
  std::string out = "ctx{";
  for (const auto& [actor, counter] : state.context.entries()) {
    out += store::FormatDot({actor, counter}) + ",";
  }
  out += "}";
  for (const SiblingValue& s : state.siblings) {
    out += " [" + store::FormatDot(s.dot) + "]" + s.value;
  }
  if (state.expire_at_ms != KeyState::kNoExpire) {
    out += " ttl=" + std::to_string(state.expire_at_ms) + "@" + store::FormatDot(state.ttl_stamp);
  }
  return out;
}

// Every key of every database (live or tombstone), read back through
// GetState, as sorted "db:key state" lines; tombstones with their deletion time.
std::vector<std::string> Dump(Store& s) {
  std::vector<std::string> lines;
  for (int db = 0; db < s.database_count(); ++db) {
    Keyspace& ks = s.db(db);
    std::vector<std::string> keys;
    std::map<std::string, int64_t> since;
    ks.ForEachLive([&](const store::SiblingSet* set) { keys.emplace_back(set->key()); });
    ks.ForEachHidden([&](std::string_view key, const KeyState&, int64_t ms) {
      keys.emplace_back(key);
      since[std::string(key)] = ms;
    });
    for (const std::string& key : keys) {
      KeyState state;
      EXPECT_TRUE(ks.GetState(key, &state)) << key;
      std::string line = std::to_string(db) + ":" + key + " " + Print(state);
      if (since.count(key) != 0) line += " deleted@" + std::to_string(since[key]);
      lines.push_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Siblings of three nodes, extra context, TTLs stamped by this node and by
// another, tombstones from a local delete and from a peer, an expired state,
// two databases.
void FillCausal(Store& s) {
  s.set_now_ms(kNow);
  Keyspace& db0 = s.db(0);
  KeyState after;
  bool changed = false;
  ASSERT_EQ(db0.VPutCausal("cart", {}, "milk", TtlUpdate::Clear(), &after), OpStatus::kOk);
  // B wrote eggs concurrently and had seen C's counter 900 (no value of C's left).
  ASSERT_EQ(db0.MergeState("cart", State({{kB, 700}, {kC, 900}}, {{{kB, 700}, "eggs"}}), &changed),
            OpStatus::kOk);
  ASSERT_EQ(db0.VPutCausal("ttl", {}, "soon", TtlUpdate::At(kNow + 60'000), &after),
            OpStatus::kOk);
  const KeyState b_ttl = State({{kB, 800}}, {{{kB, 800}, "b"}}, kNow + 90'000, {kB, 800});
  ASSERT_EQ(db0.MergeState("b-ttl", b_ttl, &changed), OpStatus::kOk);
  ASSERT_EQ(db0.VPutCausal(std::string("bin\0key", 7), {}, std::string("\0\r\n\xff", 4),
                           TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  ASSERT_EQ(db0.VPutCausal("gone", {}, "x", TtlUpdate::Clear(), &after), OpStatus::kOk);
  s.set_now_ms(kNow + 5);
  ASSERT_TRUE(db0.Delete("gone"));  // leaves a tombstone
  s.set_now_ms(kNow + 7);
  ASSERT_EQ(db0.MergeState("c-tomb", State({{kC, 950}}, {}), &changed), OpStatus::kOk);
  ASSERT_EQ(db0.VPutCausal("expired", {}, "was", TtlUpdate::At(kNow + 8), &after),
            OpStatus::kOk);
  Keyspace& db9 = s.db(9);
  ASSERT_EQ(db9.VPutCausal("x", {}, "1", TtlUpdate::Clear(), &after), OpStatus::kOk);
  s.set_now_ms(kFilledAt);
  ASSERT_EQ(db0.FindReadOnly("expired"), nullptr);  // held as an expired state
  ASSERT_EQ(db9.VDelCausal("x", after.context, &after), OpStatus::kOk);
  ASSERT_EQ(db9.VPutCausal("y", {}, "2", TtlUpdate::Clear(), &after), OpStatus::kOk);
  s.set_now_ms(kNow);
  ASSERT_EQ(s.db(0).tombstone_count(), 2u);
  ASSERT_EQ(s.db(9).tombstone_count(), 1u);
}

template <typename T>
void PutLe(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

std::string Encoded(const KeyState& state) {
  std::string out;
  store::EncodeKeyState(state, &out);
  return out;
}

class CausalPersistTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/causalkv-causal-persist-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name = "dump.ckv") const { return dir_ + "/" + name; }
  std::string ReadFile(const std::string& name = "dump.ckv") const {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void WriteFile(const std::string& data, const std::string& name = "dump.ckv") const {
    std::ofstream out(Path(name), std::ios::binary | std::ios::trunc);
    out << data;
  }

  LoadResult Load(Store* into, uint64_t* counter, std::string* error) {
    return LoadSnapshot(Path(), into, counter, nullptr, error);
  }

  std::string dir_;
};

// --- Snapshots ---------------------------------------------------------------

TEST_F(CausalPersistTest, SnapshotRoundTripKeepsStatesTombstonesAndCounter) {
  auto saved = CausalStore(kSelf);
  FillCausal(*saved);
  SnapshotStats stats;
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", &stats, &error)) << error;
  EXPECT_EQ(stats.keys, 5u) << "live keys; tombstones are not keys";
  const std::string file = ReadFile();
  uint32_t format = 0;
  uint64_t writer = 0;
  std::memcpy(&format, file.data() + 8, 4);
  std::memcpy(&writer, file.data() + 24, 8);
  EXPECT_EQ(format, 3u);
  EXPECT_EQ(writer, kSelf);

  auto loaded = CausalStore(kSelf);
  loaded->set_now_ms(kFilledAt);  // the source's clock: "expired" has expired
  uint64_t counter = 0;
  ASSERT_EQ(LoadSnapshot(Path(), loaded.get(), &counter, &stats, &error), LoadResult::kLoaded)
      << error;
  EXPECT_EQ(counter, saved->counter().last_issued().counter());
  EXPECT_LE(counter, Version::kCounterMask) << "a counter, never a packed version";
  const std::vector<std::string> dump = Dump(*saved);
  EXPECT_EQ(Dump(*loaded), dump);
  EXPECT_EQ(dump.size(), 9u);
  for (int slot = 0; slot < 16384; ++slot) {
    ASSERT_EQ(loaded->db(0).slot_digest(slot), saved->db(0).slot_digest(slot)) << slot;
  }
  KeyState cart;
  ASSERT_TRUE(loaded->db(0).GetState("cart", &cart));
  EXPECT_EQ(cart.siblings.size(), 2u);
  EXPECT_EQ(cart.context.Get(kC), 900u);
  KeyState gone;
  ASSERT_TRUE(loaded->db(0).GetState("gone", &gone));
  EXPECT_TRUE(gone.tombstone());
  EXPECT_EQ(loaded->db(0).FindReadOnly("gone"), nullptr);
  EXPECT_EQ(loaded->db(0).expires_count(), 2u);
  KeyState expired;
  ASSERT_TRUE(loaded->db(0).GetState("expired", &expired));
  ASSERT_EQ(expired.siblings.size(), 1u) << "an expired state keeps its values";
  EXPECT_EQ(loaded->db(0).FindReadOnly("expired"), nullptr);
  EXPECT_EQ(loaded->db(0).expired_state_count(), 1u);

  // A second round trip gives the same bytes: nothing is lost or added.
  std::string second_dir = dir_ + "/again";
  std::filesystem::create_directory(second_dir);
  ASSERT_TRUE(SaveSnapshot(*loaded, second_dir, "dump.ckv", nullptr, &error)) << error;
  EXPECT_EQ(std::filesystem::file_size(second_dir + "/dump.ckv"), file.size());
}

TEST_F(CausalPersistTest, SnapshotOfANodeWithANewIdKeepsTheOldDotsAsAnotherActors) {
  auto saved = CausalStore(kSelf);
  FillCausal(*saved);
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", nullptr, &error)) << error;
  auto loaded = CausalStore(kNewId);
  loaded->set_now_ms(kFilledAt);  // the source's clock: "expired" has expired
  uint64_t counter = 99;
  ASSERT_EQ(Load(loaded.get(), &counter, &error), LoadResult::kLoaded) << error;
  EXPECT_EQ(Dump(*loaded), Dump(*saved));
  EXPECT_EQ(counter, 0u) << "the old id's counter says nothing about the new id's";
  // The new id writes over the old one's dots as over any other node's.
  loaded->counter().Init(counter, UINT64_MAX, 0, nullptr, nullptr);
  KeyState cart, after;
  ASSERT_TRUE(loaded->db(0).GetState("cart", &cart));
  ASSERT_EQ(loaded->db(0).VPutCausal("cart", cart.context, "merged", TtlUpdate::Clear(), &after),
            OpStatus::kOk);
  ASSERT_EQ(after.siblings.size(), 1u);
  EXPECT_EQ(after.siblings[0].dot.actor, kNewId);
}

TEST_F(CausalPersistTest, Format2SnapshotsLoadIntoBothModes) {
  Store single(16, 1);
  single.set_now_ms(kNow);
  const store::SiblingSet* after = nullptr;
  single.db(0).VPut("cart", Version(0), "milk", TtlUpdate::Clear(), &after);        // 1
  single.db(0).VPut("cart", Version(0), "eggs", TtlUpdate::Clear(), &after);        // 2
  single.db(0).VPut("cart", Version(1), "milk flour", TtlUpdate::Clear(), &after);  // 3
  single.db(4).Set("ttl", "soon", TtlUpdate::At(kNow + 60'000));                   // 4
  std::string error;
  ASSERT_TRUE(SaveSnapshot(single, dir_, "dump.ckv", nullptr, &error)) << error;
  uint32_t format = 0;
  std::memcpy(&format, ReadFile().data() + 8, 4);
  ASSERT_EQ(format, 2u) << "a single node keeps writing format 2";

  Store plain(16, 2);
  plain.set_now_ms(kNow);
  uint64_t counter = 0;
  ASSERT_EQ(Load(&plain, &counter, &error), LoadResult::kLoaded) << error;
  EXPECT_EQ(counter, 4u);
  EXPECT_EQ(plain.db(0).FindReadOnly("cart")->size(), 2u);

  // Into a cluster node: the siblings become this node's dots.
  auto causal = CausalStore(kSelf);
  ASSERT_EQ(Load(causal.get(), &counter, &error), LoadResult::kLoaded) << error;
  EXPECT_EQ(counter, 4u);
  const std::string self = store::FormatDot({kSelf, 0}).substr(0, 16);
  EXPECT_EQ(Dump(*causal), (std::vector<std::string>{
                               "0:cart ctx{" + self + ":3,} [" + self + ":2]eggs [" + self +
                                   ":3]milk flour",
                               "4:ttl ctx{" + self + ":4,} [" + self + ":4]soon ttl=" +
                                   std::to_string(kNow + 60'000) + "@0000000000000000:0",
                           }));
}

TEST_F(CausalPersistTest, Format3IntoASingleNodeStoreFailsClearly) {
  auto saved = CausalStore(kSelf);
  FillCausal(*saved);
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", nullptr, &error)) << error;
  Store single(16, 2);
  uint64_t counter = 0;
  EXPECT_EQ(Load(&single, &counter, &error), LoadResult::kIncompatible);
  EXPECT_NE(error.find("belongs to a cluster node"), std::string::npos) << error;
  EXPECT_NE(error.find("1111111111111111"), std::string::npos) << error;
  EXPECT_NE(error.find(Path()), std::string::npos) << error;
  for (int db = 0; db < 16; ++db) EXPECT_EQ(single.db(db).size(), 0u);
}

// The single-node format is exactly as before: the bytes of a small store,
// built from the documented format 2 layout.
TEST_F(CausalPersistTest, SingleNodeSnapshotBytesAreUnchanged) {
  Store single(16, 1);
  const store::SiblingSet* after = nullptr;
  single.db(0).Set("a", "1", TtlUpdate::Clear());                          // 1
  single.db(1).Set("t", "x", TtlUpdate::At(5'000'000));                   // 2
  single.db(3).VPut("b", Version(0), "p", TtlUpdate::Clear(), &after);    // 3
  single.db(3).VPut("b", Version(0), "qq", TtlUpdate::Clear(), &after);   // 4
  std::string error;
  ASSERT_TRUE(SaveSnapshot(single, dir_, "dump.ckv", nullptr, &error)) << error;
  std::string expected("CKVSNAP", 8);
  PutLe<uint32_t>(&expected, 2);
  PutLe<uint64_t>(&expected, 4);
  PutLe<uint32_t>(&expected, 16);
  expected += std::string("\x01\x00" "\x02\x01" "a" "\x01\x01\x01" "1", 9);
  expected += std::string("\x01\x01" "\x03\x01" "t", 5);
  PutVarint(&expected, 5'000'000);
  expected += std::string("\x01\x02\x01" "x", 4);
  expected += std::string("\x01\x03" "\x02\x01" "b" "\x02" "\x03\x01" "p" "\x01\x02" "qq", 13);
  expected += '\xff';
  PutLe<uint64_t>(&expected, Crc64(0, expected.data(), expected.size()));
  EXPECT_EQ(ReadFile(), expected);
}

std::string SnapshotHeader3(uint64_t counter, uint64_t writer) {
  std::string out("CKVSNAP", 8);
  PutLe<uint32_t>(&out, 3);
  PutLe<uint64_t>(&out, counter);
  PutLe<uint32_t>(&out, 16);
  PutLe<uint64_t>(&out, writer);
  return out;
}

std::string Sealed(std::string body) {
  PutLe<uint64_t>(&body, Crc64(0, body.data(), body.size()));
  return body;
}

constexpr uint64_t kNoSince = UINT64_MAX;

std::string KeyRecord(uint8_t kind, std::string_view key, const std::string& state,
                      uint64_t since = kNoSince) {
  std::string out(1, static_cast<char>(kind));
  PutVarint(&out, key.size());
  out += key;
  if (since != kNoSince) PutVarint(&out, since);
  PutVarint(&out, state.size());
  out += state;
  return out;
}

TEST_F(CausalPersistTest, DamagedFormat3SnapshotsAreRefused) {
  auto saved = CausalStore(kSelf);
  KeyState after;
  saved->db(0).VPutCausal("k", {}, "v", TtlUpdate::At(kNow + 1000), &after);
  saved->db(0).VPutCausal("d", {}, "v", TtlUpdate::Clear(), &after);
  saved->db(0).Delete("d");
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", nullptr, &error)) << error;
  const std::string whole = ReadFile();
  for (size_t len = 0; len < whole.size(); ++len) {
    WriteFile(whole.substr(0, len));
    auto loaded = CausalStore(kSelf, 10);
    uint64_t counter = 0;
    ASSERT_EQ(Load(loaded.get(), &counter, &error), LoadResult::kCorrupt) << len;
    EXPECT_TRUE(Dump(*loaded).empty());
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    std::string bad = whole;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    WriteFile(bad);
    auto loaded = CausalStore(kSelf, 10);
    uint64_t counter = 0;
    ASSERT_EQ(Load(loaded.get(), &counter, &error), LoadResult::kCorrupt) << i;
  }
}

// Well-sealed files that break format 3's rules.
TEST_F(CausalPersistTest, RuleBreakingFormat3SnapshotsAreRefused) {
  const std::string live = Encoded(State({{kSelf, 5}}, {{{kSelf, 5}, "v"}}));
  const std::string tomb = Encoded(State({{kB, 5}}, {}));
  const std::string uncovered = [] {
    // A sibling whose dot the context does not cover: encoded by hand.
    std::string s;
    PutVarint(&s, 1);
    PutLe<uint64_t>(&s, kSelf);
    PutVarint(&s, 4);
    PutVarint(&s, 1);
    PutLe<uint64_t>(&s, kSelf);
    PutVarint(&s, 5);
    PutVarint(&s, 1);
    s += "v";
    PutVarint(&s, 0);
    PutLe<uint64_t>(&s, 0);
    PutVarint(&s, 0);
    return s;
  }();
  const std::string db0("\x01\x00", 2);
  const std::string end("\xff", 1);
  std::string huge_len(1, '\x04');
  PutVarint(&huge_len, 1);
  huge_len += "k";
  PutVarint(&huge_len, 1u << 30);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {SnapshotHeader3(9, 0) + db0 + end, "bad node id"},
      {SnapshotHeader3(9, kSelf) + KeyRecord(4, "k", live) + end, "before any database"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", tomb) + end, "does not match"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(5, "k", live, 1) + end, "does not match"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(5, "k", Encoded(KeyState()), 1) + end,
       "does not match"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", live + "x") + end, "bad key state"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", live.substr(0, live.size() - 1)) + end,
       "bad key state"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", uncovered) + end, "bad key state"},
      {SnapshotHeader3(9, kSelf) + db0 + huge_len + end, "bad key state"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(5, "k", tomb, INT64_MAX) + "\xff" + end,
       "bytes after the end"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(5, "k", tomb, uint64_t{1} << 63) + end,
       "bad tombstone record"},
      {SnapshotHeader3(9, kSelf) + db0 +
           KeyRecord(5, "k", Encoded(State({{kB, Version::kCounterMask + 1}}, {})), 1) + end,
       "counter out of range"},
      {SnapshotHeader3(Version::kCounterMask + 1, kSelf) + db0 + end, "counter out of range"},
      {SnapshotHeader3(9, kSelf) + db0 + std::string("\x02\x01k\x01\x01\x01v", 7) + end,
       "unknown record kind"},
      {SnapshotHeader3(9, kSelf) + std::string("\x01\x10", 2) + end, "database index"},
      {SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", live), "missing end record"},
  };
  for (const auto& [body, expected] : cases) {
    WriteFile(Sealed(body));
    auto loaded = CausalStore(kSelf);
    uint64_t counter = 0;
    std::string error;
    ASSERT_EQ(Load(loaded.get(), &counter, &error), LoadResult::kCorrupt) << expected;
    EXPECT_NE(error.find(expected), std::string::npos) << expected << ": " << error;
    EXPECT_NE(error.find("offset"), std::string::npos) << error;
  }
  // And a well-formed one of the same pieces loads.
  WriteFile(Sealed(SnapshotHeader3(9, kSelf) + db0 + KeyRecord(4, "k", live) +
                   KeyRecord(5, "t", tomb, 123) + end));
  auto loaded = CausalStore(kSelf);
  uint64_t counter = 0;
  std::string error;
  ASSERT_EQ(Load(loaded.get(), &counter, &error), LoadResult::kLoaded) << error;
  EXPECT_EQ(counter, 9u);
  EXPECT_EQ(loaded->db(0).tombstone_count(), 1u);
}

// Random damage under a valid checksum: refused or loaded, never a crash
// (bounds-checked reads; every loaded state passes store::Valid).
TEST_F(CausalPersistTest, ResealedRandomDamageNeverCrashes) {
  auto saved = CausalStore(kSelf);
  FillCausal(*saved);
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", nullptr, &error)) << error;
  const std::string whole = ReadFile();
  const std::string body = whole.substr(0, whole.size() - 8);
  std::mt19937 rnd(12345);
  int refused = 0;
  for (int round = 0; round < 500; ++round) {
    std::string bad = body;
    const int changes = 1 + static_cast<int>(rnd() % 3);
    for (int c = 0; c < changes; ++c) {
      const size_t at = 32 + rnd() % (bad.size() - 32);  // past the header
      bad[at] = static_cast<char>(rnd());
    }
    if (rnd() % 4 == 0) bad.resize(32 + rnd() % (bad.size() - 32));
    WriteFile(Sealed(bad));
    auto loaded = CausalStore(kSelf, 10);
    uint64_t counter = 0;
    const LoadResult result = Load(loaded.get(), &counter, &error);
    ASSERT_TRUE(result == LoadResult::kLoaded || result == LoadResult::kCorrupt);
    refused += result == LoadResult::kCorrupt;
  }
  EXPECT_GT(refused, 0);
}

// --- The append-only log -----------------------------------------------------

// Logs every key of `keys` (db, key) as `source` holds it now, tombstones
// with their own deletion time.
using KeyList = std::vector<std::pair<int, std::string>>;

void LogKeys(AofWriter& writer, Store& source, const KeyList& keys) {
  for (const auto& [db, key] : keys) {
    int64_t since = 0;
    source.db(db).ForEachHidden([&](std::string_view k, const KeyState&, int64_t ms) {
      if (k == key) since = ms;
    });
    KeyState state;
    const uint64_t counter = source.counter().last_issued().counter();
    if (source.db(db).GetState(key, &state)) {
      writer.AppendKeyState(counter, static_cast<uint32_t>(db), key, state, since);
    } else {
      writer.AppendKey(counter, static_cast<uint32_t>(db), key, nullptr);
    }
  }
}

const KeyList kCausalKeys = {
    {0, "cart"}, {0, "ttl"}, {0, "b-ttl"}, {0, std::string("bin\0key", 7)},
    {0, "gone"}, {0, "c-tomb"}, {0, "expired"}, {9, "x"}, {9, "y"}};

TEST_F(CausalPersistTest, LogReplayReproducesStatesAndIsIdempotent) {
  auto source = CausalStore(kSelf);
  FillCausal(*source);
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kSelf)) << error;
    EXPECT_EQ(writer.format(), AofFormat::kCausal);
    LogKeys(writer, *source, kCausalKeys);
    ASSERT_TRUE(writer.Flush(AofFsync::kAlways));
  }
  EXPECT_EQ(ReadFile("log").compare(0, 8, AofHeader(AofFormat::kCausal)), 0);
  auto loaded = CausalStore(kSelf);
  loaded->set_now_ms(kFilledAt);  // the source's clock: "expired" has expired
  uint64_t max_version = 0;
  AofReplayStats stats;
  std::string error;
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded)
      << error;
  EXPECT_EQ(stats.records, kCausalKeys.size() + 1) << "and the writer record";
  EXPECT_EQ(max_version, source->counter().last_issued().counter());
  EXPECT_EQ(Dump(*loaded), Dump(*source));
  // Records are states: replaying again over the result changes nothing.
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded);
  EXPECT_EQ(Dump(*loaded), Dump(*source));
}

TEST_F(CausalPersistTest, LogKeepsDeletesAsTombstonesAndGoneAsNothing) {
  auto source = CausalStore(kSelf);
  AofWriter writer;
  std::string error;
  ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kSelf)) << error;
  KeyState after;
  source->db(0).VPutCausal("k", {}, "v", TtlUpdate::Clear(), &after);
  LogKeys(writer, *source, {{0, "k"}});
  source->set_now_ms(kNow + 100);
  source->db(0).Delete("k");
  LogKeys(writer, *source, {{0, "k"}});
  source->db(0).VPutCausal("evicted", {}, "v", TtlUpdate::Clear(), &after);
  LogKeys(writer, *source, {{0, "evicted"}});
  writer.AppendKey(source->counter().last_issued().counter(), 0, "evicted", nullptr);
  source->db(3).VPutCausal("flushed", {}, "v", TtlUpdate::Clear(), &after);
  LogKeys(writer, *source, {{3, "flushed"}});
  writer.AppendClear(source->counter().last_issued().counter(), 3);
  ASSERT_TRUE(writer.Flush(AofFsync::kAlways));
  writer.Close();

  auto loaded = CausalStore(kSelf);
  uint64_t max_version = 0;
  AofReplayStats stats;
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded)
      << error;
  KeyState k;
  ASSERT_TRUE(loaded->db(0).GetState("k", &k));
  EXPECT_TRUE(k.tombstone());
  EXPECT_FALSE(k.context.empty());
  int64_t since = 0;
  loaded->db(0).ForEachHidden(
      [&](std::string_view, const KeyState&, int64_t ms) { since = ms; });
  EXPECT_EQ(since, kNow + 100);
  EXPECT_FALSE(loaded->db(0).GetState("evicted", &k)) << "gone leaves not even a tombstone";
  EXPECT_EQ(loaded->db(0).tombstone_count(), 1u);
  EXPECT_EQ(loaded->db(3).size(), 0u) << "cleared";
}

TEST_F(CausalPersistTest, Format3LogIntoASingleNodeStoreFailsClearly) {
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kSelf)) << error;
  }
  const std::string before = ReadFile("log");
  Store single(16, 1);
  uint64_t max_version = 0;
  AofReplayStats stats;
  std::string error;
  EXPECT_EQ(ReplayAof(Path("log"), true, &single, &max_version, &stats, &error),
            AofLoadResult::kIncompatible);
  EXPECT_NE(error.find("belongs to a cluster node"), std::string::npos) << error;
  EXPECT_EQ(ReadFile("log"), before) << "left as it was";
  // Nor can a node without an id append to it, or start one.
  AofWriter writer;
  EXPECT_FALSE(writer.Open(Path("log"), &error));
  EXPECT_NE(error.find("format 3"), std::string::npos) << error;
  EXPECT_FALSE(writer.Open(Path("new-log"), &error, AofFormat::kCausal, 0));
}

TEST_F(CausalPersistTest, Format2LogsReplayIntoBothModes) {
  Store single(16, 1);
  single.set_now_ms(kNow);
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("log"), &error)) << error;
    const store::SiblingSet* after = nullptr;
    single.db(0).VPut("cart", Version(0), "milk", TtlUpdate::Clear(), &after);  // 1
    single.db(0).VPut("cart", Version(0), "eggs", TtlUpdate::Clear(), &after);  // 2
    writer.AppendKey(2, 0, "cart", single.db(0).FindReadOnly("cart"));
    single.db(0).Set("del", "x", TtlUpdate::Clear());  // 3
    writer.AppendKey(3, 0, "del", single.db(0).FindReadOnly("del"));
    single.db(0).Delete("del");
    writer.AppendKey(3, 0, "del", nullptr);
    ASSERT_TRUE(writer.Flush(AofFsync::kAlways));
  }
  for (bool causal_mode : {false, true}) {
    std::unique_ptr<Store> loaded =
        causal_mode ? CausalStore(kSelf) : std::make_unique<Store>(16, 2);
    uint64_t max_version = 0;
    AofReplayStats stats;
    std::string error;
    ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
              AofLoadResult::kLoaded)
        << error;
    EXPECT_EQ(max_version, 3u);
    EXPECT_EQ(loaded->db(0).size(), 1u);
    EXPECT_EQ(loaded->db(0).FindReadOnly("cart")->size(), 2u);
    if (!causal_mode) continue;
    EXPECT_EQ(loaded->db(0).tombstone_count(), 0u) << "a single node's delete needs no tombstone";
    KeyState cart;
    ASSERT_TRUE(loaded->db(0).GetState("cart", &cart));
    EXPECT_EQ(cart.siblings[0].dot, (Dot{kSelf, 1}));
    EXPECT_EQ(cart.siblings[1].dot, (Dot{kSelf, 2}));
  }
}

// Found by fuzz_aof: a single node's log with a flush and then a write of a
// flushed key, replayed into a causal store (a causal start), left the key
// both live and a tombstone (the flush leaves tombstones in causal mode; the
// later record restored the value beside it). Digests then counted both, and
// a snapshot of that store (which the causal start folds the log into)
// loaded the tombstone over the value: the key was lost.
TEST_F(CausalPersistTest, Format2LogWithAFlushThenAWriteKeepsTheKeyInACausalStore) {
  Store single(16, 1);
  single.set_now_ms(kNow);
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("log"), &error)) << error;
    single.db(0).Set("cart", "milk", TtlUpdate::Clear());  // 1
    writer.AppendKey(1, 0, "cart", single.db(0).FindReadOnly("cart"));
    single.FlushAll();
    writer.AppendClear(1, kAofAllDatabases);
    single.db(0).Set("cart", "eggs", TtlUpdate::Clear());  // 2
    writer.AppendKey(2, 0, "cart", single.db(0).FindReadOnly("cart"));
    ASSERT_TRUE(writer.Flush(AofFsync::kAlways));
  }
  auto loaded = CausalStore(kSelf);
  uint64_t max_version = 0;
  AofReplayStats stats;
  std::string error;
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded)
      << error;
  EXPECT_EQ(Dump(*loaded), std::vector<std::string>{"0:cart ctx{1111111111111111:2,} "
                                                    "[1111111111111111:2]eggs"});
  EXPECT_EQ(loaded->db(0).tombstone_count(), 0u);

  // The same keys, and the same digests, after a snapshot.
  loaded->counter().Init(max_version, UINT64_MAX, 0, nullptr, nullptr);
  ASSERT_TRUE(SaveSnapshot(*loaded, dir_, "dump.ckv", nullptr, &error)) << error;
  auto reloaded = CausalStore(kSelf);
  uint64_t counter = 0;
  ASSERT_EQ(Load(reloaded.get(), &counter, &error), LoadResult::kLoaded) << error;
  EXPECT_EQ(Dump(*reloaded), Dump(*loaded));
  const int slot = util::KeySlot("cart");
  EXPECT_EQ(reloaded->db(0).slot_digest(slot), loaded->db(0).slot_digest(slot));
}

// After a node got a new id it keeps appending to its log: the old id's
// records are another actor's, and only the new id's counters count.
TEST_F(CausalPersistTest, LogRecordsOfAnotherIdDoNotRaiseTheCounter) {
  auto old_life = CausalStore(kSelf);
  old_life->set_now_ms(kNow + 60'000);  // its hybrid-clock counters are higher
  KeyState after;
  for (int i = 0; i < 5; ++i) {
    old_life->db(0).VPutCausal("old", {}, "v" + std::to_string(i), TtlUpdate::Clear(), &after);
  }
  std::string error;
  {
    AofWriter writer;
    ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kSelf)) << error;
    LogKeys(writer, *old_life, {{0, "old"}});
  }
  auto new_life = CausalStore(kNewId);
  {
    uint64_t max_version = 0;
    AofReplayStats stats;
    ASSERT_EQ(ReplayAof(Path("log"), false, new_life.get(), &max_version, &stats, &error),
              AofLoadResult::kLoaded)
        << error;
    EXPECT_EQ(max_version, 0u);
    AofWriter writer;
    ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kNewId)) << error;
    new_life->db(0).VPutCausal("new", {}, "n", TtlUpdate::Clear(), &after);
    LogKeys(writer, *new_life, {{0, "new"}});
  }
  auto loaded = CausalStore(kNewId);
  uint64_t max_version = 0;
  AofReplayStats stats;
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded)
      << error;
  EXPECT_EQ(stats.records, 4u) << "two writer records";
  EXPECT_EQ(max_version, new_life->counter().last_issued().counter());
  EXPECT_LT(max_version, old_life->counter().last_issued().counter());
  EXPECT_EQ(Dump(*loaded), Dump(*new_life));
}

// One record, framed as format 2 and 3 frame them (CRC-64's low half).
std::string Record(const std::string& payload) {
  std::string out;
  PutLe<uint32_t>(&out, static_cast<uint32_t>(payload.size()));
  PutLe<uint32_t>(&out, ~static_cast<uint32_t>(payload.size()));
  PutLe<uint32_t>(&out, static_cast<uint32_t>(Crc64(0, payload.data(), payload.size())));
  return out + payload;
}

std::string WriterPayload(ActorId id) {
  std::string p("\x07\x00", 2);
  PutLe<uint64_t>(&p, id);
  return p;
}

std::string StatePayload(uint8_t kind, const std::string& state, uint64_t since = kNoSince) {
  std::string p(1, static_cast<char>(kind));
  p += std::string("\x05\x00\x01k", 4);  // counter 5, db 0, key "k"
  if (since != kNoSince) PutVarint(&p, since);
  return p + state;
}

TEST_F(CausalPersistTest, MalformedFormat3LogRecordsAreRefused) {
  const std::string header(AofHeader(AofFormat::kCausal));
  const std::string live = Encoded(State({{kSelf, 5}}, {{{kSelf, 5}, "v"}}));
  const std::string tomb = Encoded(State({{kB, 5}}, {}));
  const std::string writer = Record(WriterPayload(kSelf));
  const std::string good = Record(StatePayload(0x05, live));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Record(StatePayload(0x05, live)), "before the writer record"},
      {writer + Record(WriterPayload(0)), "malformed record"},
      {writer + Record(StatePayload(0x05, tomb)), "does not match"},
      {writer + Record(StatePayload(0x06, live, 3)), "does not match"},
      {writer + Record(StatePayload(0x06, Encoded(KeyState()), 3)), "does not match"},
      {writer + Record(StatePayload(0x05, live + "x")), "malformed key state"},
      {writer + Record(StatePayload(0x05, live.substr(0, 5))), "malformed key state"},
      {writer + Record(std::string("\x01\x05\x00\x01k\x01\x01\x01v", 9)), "malformed record"},
      {writer + Record(std::string("\x04\x05\x00\x01k\x01\x01\x01v", 9)), "malformed record"},
      {writer + Record(std::string("\x05\x05\x10\x01k", 5) + live), "malformed record"},
      {writer + Record(StatePayload(0x06, tomb, uint64_t{1} << 63)), "malformed record"},
      {writer + Record(std::string("\x05\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x01k", 12) + live),
       "counter out of range"},
  };
  for (const auto& [records, expected] : cases) {
    // A good record after the bad one: damage before the last record.
    WriteFile(header + records + good, "log");
    auto loaded = CausalStore(kSelf);
    uint64_t max_version = 0;
    AofReplayStats stats;
    std::string error;
    ASSERT_EQ(ReplayAof(Path("log"), true, loaded.get(), &max_version, &stats, &error),
              AofLoadResult::kCorrupt)
        << expected;
    EXPECT_NE(error.find(expected), std::string::npos) << expected << ": " << error;
  }
  WriteFile(header + writer + good + Record(StatePayload(0x06, tomb, 3)), "log");
  auto loaded = CausalStore(kSelf);
  uint64_t max_version = 0;
  AofReplayStats stats;
  std::string error;
  ASSERT_EQ(ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error),
            AofLoadResult::kLoaded)
      << error;
  EXPECT_EQ(max_version, 5u);
}

TEST_F(CausalPersistTest, Format3LogTornTailIsCutAndRandomDamageNeverCrashes) {
  auto source = CausalStore(kSelf);
  FillCausal(*source);
  std::vector<size_t> ends;
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("log"), &error, AofFormat::kCausal, kSelf)) << error;
    for (const auto& key : kCausalKeys) {
      LogKeys(writer, *source, {key});
      ASSERT_TRUE(writer.Flush(AofFsync::kNo));
      ends.push_back(writer.size());
    }
  }
  const std::string full = ReadFile("log");
  for (size_t cut = ends[ends.size() - 2] + 1; cut < full.size(); cut += 5) {
    WriteFile(full.substr(0, cut), "log");
    auto loaded = CausalStore(kSelf, 10);
    uint64_t max_version = 0;
    AofReplayStats stats;
    std::string error;
    ASSERT_EQ(ReplayAof(Path("log"), true, loaded.get(), &max_version, &stats, &error),
              AofLoadResult::kLoaded)
        << error;
    EXPECT_EQ(stats.truncated_at, ends[ends.size() - 2]);
    EXPECT_EQ(ReadFile("log"), full.substr(0, ends[ends.size() - 2]));
  }
  // Payload bytes changed under a recomputed checksum: refused or applied,
  // never a crash.
  std::mt19937 rnd(777);
  size_t refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::string data = full.substr(0, 8);
    size_t off = 8;
    while (off < full.size()) {
      uint32_t len = 0;
      std::memcpy(&len, full.data() + off, 4);
      std::string payload = full.substr(off + 12, len);
      if (rnd() % 3 == 0 && !payload.empty()) {
        payload[rnd() % payload.size()] = static_cast<char>(rnd());
        if (rnd() % 4 == 0) payload.resize(rnd() % payload.size());
      }
      data += Record(payload);
      off += 12 + len;
    }
    WriteFile(data, "log");
    auto loaded = CausalStore(kSelf, 10);
    uint64_t max_version = 0;
    AofReplayStats stats;
    std::string error;
    const AofLoadResult result =
        ReplayAof(Path("log"), false, loaded.get(), &max_version, &stats, &error);
    ASSERT_TRUE(result == AofLoadResult::kLoaded || result == AofLoadResult::kCorrupt) << error;
    refused += result == AofLoadResult::kCorrupt;
  }
  EXPECT_GT(refused, 0u);
}

// --- Startup (command::Persistence) --------------------------------------------

class CausalStartupTest : public CausalPersistTest {
 protected:
  void SetUp() override {
    CausalPersistTest::SetUp();
    server_.config.dir = dir_;
    server_.config.appendonly = true;
  }
  // A fresh start of a store (with its own Persistence) on dir_.
  bool Start(Store* store) {
    command::Persistence persistence(&server_, store);
    uint64_t last_issued = 0;
    return persistence.LoadAtStartup(&last_issued);
  }
  command::ServerState server_;
};

// A single node's directory (base and log of format 2) joining a cluster:
// the log cannot take causal records, so the start folds it into a causal
// base and a new causal log; the next start loads the same states.
TEST_F(CausalStartupTest, ASingleNodesLogIsFoldedIntoACausalBase) {
  Store single(16, 1);
  single.set_now_ms(kNow);
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path("appendonly.ckv"), &error)) << error;
    single.db(0).Set("a", "1", TtlUpdate::Clear());
    writer.AppendKey(1, 0, "a", single.db(0).FindReadOnly("a"));
    single.db(2).Set("b", "2", TtlUpdate::At(kNow + 60'000));
    writer.AppendKey(2, 2, "b", single.db(2).FindReadOnly("b"));
  }
  WriteFile(std::string(AofHeader(AofFormat::kVarint)), "appendonly.ckv.next");
  auto first = CausalStore(kSelf);
  ASSERT_TRUE(Start(first.get()));
  EXPECT_EQ(ReadFile("appendonly.ckv").compare(0, 8, AofHeader(AofFormat::kCausal)), 0);
  EXPECT_FALSE(std::filesystem::exists(Path("appendonly.ckv.next")));
  const std::string base = ReadFile("appendonly.ckv.base");
  ASSERT_GE(base.size(), 12u);
  uint32_t format = 0;
  std::memcpy(&format, base.data() + 8, 4);
  EXPECT_EQ(format, 3u);
  const std::vector<std::string> dump = Dump(*first);
  EXPECT_EQ(dump.size(), 2u);

  auto second = CausalStore(kSelf);
  ASSERT_TRUE(Start(second.get()));
  EXPECT_EQ(Dump(*second), dump);

  // And the directory is now a cluster node's: a single node refuses it.
  Store again(16, 1);
  EXPECT_FALSE(Start(&again));
}

TEST_F(CausalStartupTest, AClusterSnapshotIsNeverSetAsideByASingleNode) {
  server_.config.appendonly = false;
  server_.config.start_empty_on_corrupt_snapshot = true;
  auto saved = CausalStore(kSelf);
  FillCausal(*saved);
  std::string error;
  ASSERT_TRUE(SaveSnapshot(*saved, dir_, "dump.ckv", nullptr, &error)) << error;
  const std::string before = ReadFile();
  Store single(16, 1);
  EXPECT_FALSE(Start(&single));
  EXPECT_EQ(ReadFile(), before);
  auto causal = CausalStore(kSelf);
  causal->set_now_ms(kFilledAt);
  ASSERT_TRUE(Start(causal.get()));
  EXPECT_EQ(Dump(*causal), Dump(*saved));
}

}  // namespace
}  // namespace causalkv::persist
