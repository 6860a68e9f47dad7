// Append-only log records: round trips through the writer and replay, the
// torn tail a crash leaves (cut off, or refused), and damage before the end,
// each in both file formats (format 1 logs written before format 2 must
// keep replaying, and keep being appended to in their own format).
#include "causalkv/persist/aof.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "causalkv/persist/snapshot.h"
#include "causalkv/store/store.h"

namespace causalkv::persist {
namespace {

using store::Keyspace;
using store::SiblingSet;
using store::Store;
using store::TtlUpdate;
using store::Version;

class AofTest : public testing::TestWithParam<AofFormat> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/causalkv-aof-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path() const { return dir_ + "/appendonly.ckv"; }

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

  // Writes a log of `source`'s changes: every key of `keys` in db 0 as it is
  // now, one record each, and returns the record boundaries.
  std::vector<size_t> WriteLog(Store& source, const std::vector<std::string>& keys) {
    AofWriter writer;
    std::string error;
    EXPECT_TRUE(writer.Open(Path(), &error, GetParam())) << error;
    EXPECT_EQ(writer.format(), GetParam());
    std::vector<size_t> ends;
    for (const std::string& key : keys) {
      writer.AppendKey(source.counter().last_issued().counter(), 0, key,
                       source.db(0).FindReadOnly(key));
      EXPECT_TRUE(writer.Flush(AofFsync::kAlways));
      ends.push_back(writer.size());
    }
    writer.Close();
    return ends;
  }

  AofLoadResult Replay(bool truncate, Store* into, uint64_t* max_version, std::string* error,
                       AofReplayStats* stats) {
    return ReplayAof(Path(), truncate, into, max_version, stats, error);
  }

  std::string dir_;
};

void Fill(Store& s) {
  s.set_now_ms(1'000'000);
  const SiblingSet* after = nullptr;
  Keyspace& db0 = s.db(0);
  db0.VPut("cart", Version(0), "milk", TtlUpdate::Clear(), &after);        // 1
  db0.VPut("cart", Version(0), "eggs", TtlUpdate::Clear(), &after);        // 2
  db0.VPut("cart", Version(1), "milk flour", TtlUpdate::Clear(), &after);  // 3
  db0.Set("ttl", "soon", TtlUpdate::At(5'000'000));                        // 4
  db0.Set("empty", "", TtlUpdate::Clear());                                // 5
  db0.Set(std::string("bin\0key", 7), std::string("\0\r\n\xff", 4), TtlUpdate::Clear());
}

const std::vector<std::string> kKeys = {"cart", "ttl", "empty", std::string("bin\0key", 7)};

TEST_P(AofTest, ReplayReproducesSiblingsVersionsTtlsAndCounter) {
  Store source(16, 1);
  Fill(source);
  source.db(0).Set("gone", "x", TtlUpdate::Clear());  // 7
  WriteLog(source, kKeys);
  {
    // Later records: a key that is now gone, a cleared database, db 15.
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path(), &error)) << error;
    source.db(0).Delete("gone");
    writer.AppendKey(7, 0, "gone", nullptr);
    source.db(15).Set("last-db", "y", TtlUpdate::Clear());  // 8
    writer.AppendKey(8, 15, "last-db", source.db(15).FindReadOnly("last-db"));
    writer.AppendClear(8, 3);
    ASSERT_TRUE(writer.Flush(AofFsync::kEverysec));
  }
  Store loaded(16, 2);
  loaded.set_now_ms(1'000'000);
  loaded.db(0).Set("gone", "stale", TtlUpdate::Clear());
  loaded.db(3).Set("cleared", "stale", TtlUpdate::Clear());
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  ASSERT_EQ(Replay(false, &loaded, &max_version, &error, &stats), AofLoadResult::kLoaded) << error;
  EXPECT_EQ(stats.records, 7u);
  EXPECT_EQ(stats.truncated_at, 0u);
  EXPECT_EQ(max_version, 8u);
  EXPECT_EQ(Dump(loaded), Dump(source));
  constexpr char kBin[] = "0:bin\0key@-1: [6]\0\r\n\xff";
  EXPECT_EQ(Dump(loaded), (std::vector<std::string>{
                              std::string(kBin, sizeof kBin - 1),
                              "0:cart@-1: [2]eggs [3]milk flour",
                              "0:empty@-1: [5]",
                              "0:ttl@5000000: [4]soon",
                              "15:last-db@-1: [8]y",
                          }));
}

TEST_P(AofTest, MissingFileIsNoFile) {
  Store s(16, 1);
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  EXPECT_EQ(Replay(true, &s, &max_version, &error, &stats), AofLoadResult::kNoFile);
}

TEST_P(AofTest, TornTailIsCutOffOnlyWhenAllowed) {
  Store source(16, 1);
  Fill(source);
  const std::vector<size_t> ends = WriteLog(source, kKeys);
  const std::string full = ReadFile();
  // Every cut inside the last record, and a flipped byte in it.
  std::vector<std::string> damaged;
  for (size_t cut = ends[2] + 1; cut < ends[3]; cut += 3) damaged.push_back(full.substr(0, cut));
  std::string flipped = full;
  flipped[ends[3] - 2] ^= 0x40;
  damaged.push_back(flipped);
  for (const std::string& data : damaged) {
    WriteFile(data);
    Store refused(16, 1);
    uint64_t max_version = 0;
    std::string error;
    AofReplayStats stats;
    ASSERT_EQ(Replay(false, &refused, &max_version, &error, &stats), AofLoadResult::kCorrupt);
    EXPECT_NE(error.find(Path()), std::string::npos) << error;
    EXPECT_NE(error.find("offset " + std::to_string(ends[2])), std::string::npos) << error;
    EXPECT_EQ(ReadFile(), data);  // refusing changes nothing

    Store loaded(16, 1);
    stats = AofReplayStats{};
    ASSERT_EQ(Replay(true, &loaded, &max_version, &error, &stats), AofLoadResult::kLoaded)
        << error;
    EXPECT_EQ(stats.records, 3u);
    EXPECT_EQ(stats.truncated_at, ends[2]);
    EXPECT_EQ(ReadFile(), full.substr(0, ends[2]));
    EXPECT_EQ(loaded.db(0).size(), 3u);
  }
}

TEST_P(AofTest, DamageBeforeTheLastRecordRefuses) {
  Store source(16, 1);
  Fill(source);
  const std::vector<size_t> ends = WriteLog(source, kKeys);
  std::string data = ReadFile();
  data[ends[0] + 20] ^= 0x01;  // inside the second record's payload
  WriteFile(data);
  for (bool truncate : {false, true}) {
    Store loaded(16, 1);
    uint64_t max_version = 0;
    std::string error;
    AofReplayStats stats;
    ASSERT_EQ(Replay(truncate, &loaded, &max_version, &error, &stats), AofLoadResult::kCorrupt);
    EXPECT_NE(error.find("offset " + std::to_string(ends[0])), std::string::npos) << error;
    EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  }
  EXPECT_EQ(ReadFile(), data);
}

TEST_P(AofTest, DamagedLengthIsCorruptionNotATornTail) {
  Store source(16, 1);
  Fill(source);
  const std::vector<size_t> ends = WriteLog(source, kKeys);
  const std::string full = ReadFile();
  // The second record's length made huge: it would reach past the end.
  std::string data = full;
  data[ends[0] + 3] ^= 0x7f;
  WriteFile(data);
  Store loaded(16, 1);
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  ASSERT_EQ(Replay(true, &loaded, &max_version, &error, &stats), AofLoadResult::kCorrupt);
  EXPECT_NE(error.find("offset " + std::to_string(ends[0]) + ": bad record length"),
            std::string::npos) << error;
  EXPECT_EQ(ReadFile(), data);
  // Zeros where the last writes never landed are a torn tail.
  WriteFile(full.substr(0, ends[1]) + std::string(100, '\0'));
  Store zeroed(16, 1);
  stats = AofReplayStats{};
  ASSERT_EQ(Replay(true, &zeroed, &max_version, &error, &stats), AofLoadResult::kLoaded)
      << error;
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(ReadFile(), full.substr(0, ends[1]));
}

TEST_P(AofTest, ForeignFileRefuses) {
  WriteFile("REDIS0011 not ours at all");
  Store loaded(16, 1);
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  EXPECT_EQ(Replay(true, &loaded, &max_version, &error, &stats), AofLoadResult::kCorrupt);
  EXPECT_NE(error.find("offset 0"), std::string::npos) << error;
}

TEST_P(AofTest, WriterAppendsToAnExistingLog) {
  Store source(16, 1);
  Fill(source);
  WriteLog(source, {"cart"});
  const size_t first = ReadFile().size();
  WriteLog(source, {"ttl"});
  EXPECT_GT(ReadFile().size(), first);
  EXPECT_EQ(ReadFile().compare(0, 8, AofHeader(GetParam())), 0);
  Store loaded(16, 1);
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  ASSERT_EQ(Replay(false, &loaded, &max_version, &error, &stats), AofLoadResult::kLoaded);
  EXPECT_EQ(stats.records, 2u);
}

// An existing log keeps its format whatever a new file would get.
TEST_P(AofTest, AppendingKeepsTheFormatOfTheFile) {
  Store source(16, 1);
  Fill(source);
  WriteLog(source, {"cart"});
  const AofFormat other =
      GetParam() == AofFormat::kVarint ? AofFormat::kFixedWidth : AofFormat::kVarint;
  {
    AofWriter writer;
    std::string error;
    ASSERT_TRUE(writer.Open(Path(), &error, other)) << error;
    EXPECT_EQ(writer.format(), GetParam());
    writer.AppendKey(6, 0, "ttl", source.db(0).FindReadOnly("ttl"));
  }
  Store loaded(16, 1);
  loaded.set_now_ms(1'000'000);
  uint64_t max_version = 0;
  std::string error;
  AofReplayStats stats;
  ASSERT_EQ(Replay(false, &loaded, &max_version, &error, &stats), AofLoadResult::kLoaded) << error;
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(Dump(loaded), (std::vector<std::string>{"0:cart@-1: [2]eggs [3]milk flour",
                                                    "0:ttl@5000000: [4]soon"}));
}

TEST_P(AofTest, NoAppendingToAForeignFile) {
  WriteFile("REDIS0011 not ours at all");
  AofWriter writer;
  std::string error;
  EXPECT_FALSE(writer.Open(Path(), &error, GetParam()));
  EXPECT_NE(error.find("not an append-only log"), std::string::npos) << error;
  EXPECT_EQ(ReadFile(), "REDIS0011 not ours at all");
}

// A version whose top bits would name an actor (store/version.h) comes only
// from damage: the record is refused, though its checksum is good.
TEST_P(AofTest, VersionBeyondTheCounterRangeIsRefused) {
  const bool varint = GetParam() == AofFormat::kVarint;
  auto wide = [&](std::string* out, uint64_t v, size_t width) {
    if (!varint) {
      out->append(reinterpret_cast<const char*>(&v), width);
      return;
    }
    while (v >= 0x80) {
      out->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  };
  const uint64_t too_big = Version::kCounterMask + 1;
  enum Case { kGood, kBadCounter, kBadSibling };
  for (const Case c : {kGood, kBadCounter, kBadSibling}) {
    std::string payload(1, '\x01');  // key state, without a TTL
    wide(&payload, c == kBadCounter ? too_big : 1, 8);
    wide(&payload, 0, 4);  // db
    wide(&payload, 1, 4);
    payload += "k";
    if (!varint) wide(&payload, static_cast<uint64_t>(-1), 8);  // no TTL
    wide(&payload, 1, 4);                                      // one sibling
    wide(&payload, c == kBadSibling ? too_big : 1, 8);
    wide(&payload, 1, 4);
    payload += "v";
    std::string record;
    const auto len = static_cast<uint32_t>(payload.size());
    const uint32_t check = ~len;
    const uint64_t crc = Crc64(0, payload.data(), payload.size());
    record.append(reinterpret_cast<const char*>(&len), 4);
    record.append(reinterpret_cast<const char*>(&check), 4);
    record.append(reinterpret_cast<const char*>(&crc), varint ? 4 : 8);
    record += payload;
    WriteFile(std::string(AofHeader(GetParam())) + record + record);
    Store loaded(16, 1);
    uint64_t max_version = 0;
    std::string error;
    AofReplayStats stats;
    const AofLoadResult result = Replay(true, &loaded, &max_version, &error, &stats);
    if (c == kGood) {
      EXPECT_EQ(result, AofLoadResult::kLoaded) << error;
      continue;
    }
    ASSERT_EQ(result, AofLoadResult::kCorrupt) << c;
    EXPECT_NE(error.find("offset 8"), std::string::npos) << error;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, AofTest,
                         testing::Values(AofFormat::kFixedWidth, AofFormat::kVarint),
                         [](const testing::TestParamInfo<AofFormat>& info) {
                           return info.param == AofFormat::kVarint ? "Format2" : "Format1";
                         });

// Format 2 spends varints where format 1 spent fixed widths: the state of a
// 16-byte key with one 16-byte value, a version near a million, costs 55
// bytes (format 1: 89; Redis's AOF for the SET: 59).
TEST(AofSizeTest, Format2RecordsAreCompact) {
  Store source(16, 1);
  source.counter().Init(1'000'000, UINT64_MAX, 0, nullptr, nullptr);
  source.db(0).Set("key:000000123456", "0123456789abcdef", TtlUpdate::Clear());
  for (AofFormat format : {AofFormat::kFixedWidth, AofFormat::kVarint}) {
    char tmpl[] = "/tmp/causalkv-aof-size-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/log";
    {
      AofWriter writer;
      std::string error;
      ASSERT_TRUE(writer.Open(path, &error, format)) << error;
      writer.AppendKey(source.counter().last_issued().counter(), 0, "key:000000123456",
                       source.db(0).FindReadOnly("key:000000123456"));
      ASSERT_TRUE(writer.Flush(AofFsync::kNo));
      EXPECT_EQ(writer.size() - 8, format == AofFormat::kVarint ? 55u : 89u);
    }
    std::filesystem::remove_all(tmpl);
  }
}

}  // namespace
}  // namespace causalkv::persist
