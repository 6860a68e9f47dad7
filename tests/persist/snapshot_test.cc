// Snapshot round trips and the documented refusals (truncated, altered,
// foreign files), through persist::SaveSnapshot / LoadSnapshot.
#include "causalkv/persist/snapshot.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "causalkv/store/store.h"

namespace causalkv::persist {
namespace {

using store::Keyspace;
using store::SiblingSet;
using store::Store;
using store::TtlUpdate;
using store::Version;

class SnapshotTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/causalkv-snapshot-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path() const { return dir_ + "/dump.ckv"; }

  // Every database's keys as "db:key@exp: [v]value ..." lines, sorted.
  static std::vector<std::string> Dump(Store& s) {
    std::vector<std::string> lines;
    for (int db = 0; db < s.database_count(); ++db) {
      s.db(db).ForEachLive([&](const SiblingSet* set) {
        std::string line = std::to_string(db) + ":" + std::string(set->key()) + "@" +
                           std::to_string(set->expire_at_ms()) + ":";
        for (store::Sibling sib : *set) {
          line += " [" + std::to_string(sib.version.counter()) + "]" + std::string(sib.value);
        }
        lines.push_back(line);
      });
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  std::string ReadFile() const {
    std::ifstream in(Path(), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void WriteFile(const std::string& data) const {
    std::ofstream out(Path(), std::ios::binary | std::ios::trunc);
    out << data;
  }

  std::string dir_;
};

void Fill(Store& s) {
  s.set_now_ms(1'000'000);
  const SiblingSet* after = nullptr;
  Keyspace& db0 = s.db(0);
  db0.VPut("cart", Version(0), "milk", TtlUpdate::Clear(), &after);  // 1
  db0.VPut("cart", Version(0), "eggs", TtlUpdate::Clear(), &after);  // 2
  db0.VPut("cart", Version(1), "milk flour", TtlUpdate::Clear(), &after);  // 3
  db0.Set("ttl", "soon", TtlUpdate::At(5'000'000));                          // 4
  db0.Set("empty", "", TtlUpdate::Clear());                                  // 5
  db0.Set(std::string("bin\0key", 7), std::string("\0\r\n\xff", 4), TtlUpdate::Clear());
  s.db(15).Set("last-db", "x", TtlUpdate::Clear());
  s.db(3).Set("big", std::string(10 * 1024 * 1024, 'b'), TtlUpdate::Clear());
  for (int i = 0; i < 32; ++i) {  // blind writes: 32 concurrent siblings
    s.db(7).VPut("crowd", Version(0), "s" + std::to_string(i), TtlUpdate::Clear(), &after);
  }
}

TEST_F(SnapshotTest, RoundTripKeepsSiblingsVersionsTtlsAndCounter) {
  Store saved(16, 1);
  Fill(saved);
  SnapshotStats stats;
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", &stats, &error)) << error;
  EXPECT_EQ(stats.keys, 7u);

  Store loaded(16, 2);
  loaded.set_now_ms(1'000'000);
  uint64_t counter = 0;
  ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, &stats, &error), LoadResult::kLoaded)
      << error;
  EXPECT_EQ(counter, saved.counter().last_issued().counter());
  EXPECT_EQ(Dump(loaded), Dump(saved));
  EXPECT_EQ(loaded.db(0).expires_count(), 1u);
  ASSERT_NE(loaded.db(7).FindReadOnly("crowd"), nullptr);
  EXPECT_EQ(loaded.db(7).FindReadOnly("crowd")->size(), 32u);
  EXPECT_EQ((*loaded.db(3).FindReadOnly("big")->begin()).value.size(), 10u * 1024 * 1024);
  // The loaded siblings keep working as siblings: a write naming version 2
  // replaces eggs but not the concurrent "milk flour" (3).
  loaded.counter().Init(counter, UINT64_MAX, 0, nullptr, nullptr);
  const SiblingSet* after = nullptr;
  ASSERT_EQ(loaded.db(0).VPut("cart", Version(2), "merged", TtlUpdate::Clear(), &after),
            store::OpStatus::kOk);
  EXPECT_EQ(after->size(), 2u);
}

TEST_F(SnapshotTest, EmptyStoreRoundTrips) {
  Store saved(16, 1);
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", nullptr, &error)) << error;
  Store loaded(16, 2);
  uint64_t counter = 99;
  ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kLoaded);
  EXPECT_EQ(counter, 0u);
  EXPECT_TRUE(Dump(loaded).empty());
}

TEST_F(SnapshotTest, MissingFileIsNotAnError) {
  Store loaded(16, 2);
  uint64_t counter = 0;
  std::string error;
  EXPECT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kNoFile);
}

TEST_F(SnapshotTest, EveryTruncationIsRefusedWithAnOffset) {
  Store saved(16, 1);
  saved.db(0).Set("a", "1", TtlUpdate::Clear());
  saved.db(0).Set("b", "22", TtlUpdate::Clear());
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", nullptr, &error));
  const std::string whole = ReadFile();
  for (size_t len = 0; len < whole.size(); ++len) {
    WriteFile(whole.substr(0, len));
    Store loaded(16, 2);
    uint64_t counter = 0;
    error.clear();
    ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kCorrupt)
        << "truncated to " << len;
    EXPECT_NE(error.find("dump.ckv"), std::string::npos) << error;
    EXPECT_NE(error.find("offset"), std::string::npos) << error;
    EXPECT_TRUE(Dump(loaded).empty()) << "nothing is loaded from a bad file";
  }
}

TEST_F(SnapshotTest, EveryFlippedByteIsRefused) {
  Store saved(16, 1);
  saved.db(0).Set("key", "value", TtlUpdate::Clear());
  saved.db(2).Set("k2", "v2", TtlUpdate::At(123456789));
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", nullptr, &error));
  const std::string whole = ReadFile();
  for (size_t i = 0; i < whole.size(); ++i) {
    std::string bad = whole;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    WriteFile(bad);
    Store loaded(16, 2);
    uint64_t counter = 0;
    ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kCorrupt)
        << "byte " << i;
  }
}

TEST_F(SnapshotTest, SaveReplacesAtomicallyAndLeavesNoTempFile) {
  Store s(16, 1);
  s.db(0).Set("v", "1", TtlUpdate::Clear());
  std::string error;
  ASSERT_TRUE(SaveSnapshot(s, dir_, "dump.ckv", nullptr, &error));
  s.db(0).Set("v", "2", TtlUpdate::Clear());
  ASSERT_TRUE(SaveSnapshot(s, dir_, "dump.ckv", nullptr, &error));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "dump.ckv");
  }
  EXPECT_EQ(files, 1);
  Store loaded(16, 2);
  uint64_t counter = 0;
  ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kLoaded);
  EXPECT_EQ(loaded.db(0).FindReadOnly("v")->newest().value, "2");
}

TEST_F(SnapshotTest, UnwritableDirectoryFails) {
  Store s(16, 1);
  std::string error;
  EXPECT_FALSE(SaveSnapshot(s, dir_ + "/missing-subdir", "dump.ckv", nullptr, &error));
  EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
}

// Loading inserts keys without any other operation in between: the hash
// table must still finish its resizes (a regression made this quadratic).
TEST_F(SnapshotTest, ManyKeysLoadAndAreAllFound) {
  Store saved(16, 1);
  constexpr int kKeys = 200000;
  for (int i = 0; i < kKeys; ++i) {
    saved.db(0).Set("key:" + std::to_string(i), "v", TtlUpdate::Clear());
  }
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", nullptr, &error)) << error;
  Store loaded(16, 2);
  uint64_t counter = 0;
  ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kLoaded);
  EXPECT_EQ(loaded.db(0).size(), static_cast<size_t>(kKeys));
  EXPECT_LT(loaded.db(0).TEST_bucket_count(), 4u * kKeys) << "the resize finished";
  for (int i = 0; i < kKeys; i += 997) {
    ASSERT_NE(loaded.db(0).FindReadOnly("key:" + std::to_string(i)), nullptr) << i;
  }
}

// Little-endian fixed-width field, as the file formats store them.
template <typename T>
void PutLe(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Appends the CRC-64 trailer a valid file ends with.
std::string Sealed(std::string body) {
  PutLe<uint64_t>(&body, Crc64(0, body.data(), body.size()));
  return body;
}

std::string Header(uint32_t format, uint64_t counter) {
  std::string out("CKVSNAP", 8);
  PutLe<uint32_t>(&out, format);
  PutLe<uint64_t>(&out, counter);
  PutLe<uint32_t>(&out, 16);
  return out;
}

// Files written before format 2 must keep loading.
TEST_F(SnapshotTest, Format1FilesStillLoad) {
  std::string f = Header(1, 9);
  f += '\x01';
  PutLe<uint32_t>(&f, 3);  // database 3
  f += '\x02';
  PutLe<uint32_t>(&f, 4);
  f += "cart";
  PutLe<int64_t>(&f, 5'000'000);
  PutLe<uint32_t>(&f, 2);
  PutLe<uint64_t>(&f, 2);
  PutLe<uint32_t>(&f, 4);
  f += "eggs";
  PutLe<uint64_t>(&f, 7);
  PutLe<uint32_t>(&f, 0);
  f += '\xff';
  WriteFile(Sealed(f));
  Store loaded(16, 2);
  loaded.set_now_ms(1'000'000);
  uint64_t counter = 0;
  std::string error;
  ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kLoaded)
      << error;
  EXPECT_EQ(counter, 9u);
  EXPECT_EQ(Dump(loaded), std::vector<std::string>{"3:cart@5000000: [2]eggs [7]"});
}

// Found by fuzz_snapshot: a format-1 record with a negative expiry other than
// -1 loaded as a key with that expiry; in a cluster, expiring it left a
// tombstone whose TTL no state may have, which peers would refuse. Any
// negative time is "no TTL", as in the log and in formats 2 and 3.
TEST_F(SnapshotTest, Format1NegativeExpiryMeansNoTtl) {
  std::string f = Header(1, 9);
  f += '\x02';
  PutLe<uint32_t>(&f, 4);
  f += "cart";
  PutLe<int64_t>(&f, -327681);
  PutLe<uint32_t>(&f, 1);
  PutLe<uint64_t>(&f, 2);
  PutLe<uint32_t>(&f, 4);
  f += "eggs";
  f += '\xff';
  WriteFile(Sealed(f));
  for (const bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "single");
    Store loaded(16, 2);
    if (causal) loaded.EnableCausal(0x1111);
    loaded.set_now_ms(1'000'000);
    uint64_t counter = 0;
    std::string error;
    ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kLoaded)
        << error;
    const store::SiblingSet* set = loaded.db(0).FindReadOnly("cart");
    ASSERT_NE(set, nullptr);
    EXPECT_FALSE(set->has_expire());
    if (causal) {
      store::KeyState state;
      ASSERT_TRUE(loaded.db(0).GetState("cart", &state));
      EXPECT_TRUE(store::Valid(state));
      EXPECT_EQ(state.expire_at_ms, store::KeyState::kNoExpire);
    }
  }
}

// A well-sealed file that breaks the format's rules is still refused: a
// version gap of 0 (two siblings with one version), a sibling above the
// counter, an overlong varint.
TEST_F(SnapshotTest, RuleBreakingFilesAreRefusedDespiteAGoodChecksum) {
  const std::string key_record = std::string("\x01\x00\x02\x01k\x02", 6);
  const std::vector<std::pair<std::string, std::string>> cases = {
      // Hex escapes stop at the closing quote: "\x01" "a" is two bytes.
      {key_record + std::string("\x02\x01" "a" "\x00\x01" "b" "\xff", 8), "bad sibling record"},
      {key_record + std::string("\x02\x01" "a" "\x09\x01" "b" "\xff", 8), "out of order"},
      {std::string("\x01\x00\x02\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 14),
       "bad key record"},
  };
  for (const auto& [body, expected] : cases) {
    WriteFile(Sealed(Header(2, 10) + body));
    Store loaded(16, 2);
    uint64_t counter = 0;
    std::string error;
    ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kCorrupt)
        << expected;
    EXPECT_NE(error.find(expected), std::string::npos) << expected << ": " << error;
  }
}

// A version counter whose top bits would name an actor (store/version.h)
// comes only from damage: refused, in either format, whatever the mode.
TEST_F(SnapshotTest, CounterBeyondTheVersionRangeIsRefused) {
  for (uint32_t format : {1u, 2u}) {
    WriteFile(Sealed(Header(format, Version::kCounterMask + 1) + "\xff"));
    Store loaded(16, 2);
    uint64_t counter = 0;
    std::string error;
    ASSERT_EQ(LoadSnapshot(Path(), &loaded, &counter, nullptr, &error), LoadResult::kCorrupt);
    EXPECT_NE(error.find("counter out of range"), std::string::npos) << error;
  }
}

// Format 2 spends varints where format 1 spent fixed widths: a key of 16
// bytes with one 16-byte value and no TTL costs 39 bytes (Redis's RDB: 35).
TEST_F(SnapshotTest, RecordsAreCompact) {
  Store saved(16, 1);
  constexpr int kKeys = 10000;
  char key[32];
  for (int i = 0; i < kKeys; ++i) {
    std::snprintf(key, sizeof key, "key:%012d", i);
    saved.db(0).Set(key, "0123456789abcdef", TtlUpdate::Clear());
  }
  SnapshotStats stats;
  std::string error;
  ASSERT_TRUE(SaveSnapshot(saved, dir_, "dump.ckv", &stats, &error)) << error;
  EXPECT_LE(stats.bytes, 39u * kKeys + 64);
}

TEST(Crc64Test, KnownValueAndIncremental) {
  // CRC-64/XZ check value for "123456789".
  EXPECT_EQ(Crc64(0, "123456789", 9), 0x995DC9BBDF1939FAull);
  EXPECT_EQ(Crc64(Crc64(0, "1234", 4), "56789", 5), Crc64(0, "123456789", 9));
}

// The eight-bytes-at-a-time loop agrees with the plain bitwise definition at
// every length and alignment.
TEST(Crc64Test, MatchesTheBitwiseDefinition) {
  auto bitwise = [](const unsigned char* p, size_t n) {
    uint64_t crc = ~0ull;
    for (size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0xC96C5795D7870F42ull : crc >> 1;
    }
    return ~crc;
  };
  std::vector<unsigned char> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 131 + 7);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len + offset <= data.size(); len += 13) {
      ASSERT_EQ(Crc64(0, data.data() + offset, len), bitwise(data.data() + offset, len))
          << offset << "+" << len;
    }
  }
}

}  // namespace
}  // namespace causalkv::persist
