// The HyperLogLog representation and estimator against Redis: the expected
// bytes, lengths and counts below were read from redis-server 7.0.15 after
// the same PFADDs (GET of the key before any PFCOUNT, and PFCOUNT of the key
// with a missing second key, which leaves the cache alone).
#include "hyperloglog.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace causalkv::command::hll {
namespace {

using std::string_literals::operator""s;

constexpr size_t kSparseMax = kDefaultSparseMaxBytes;

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

std::string Header(uint8_t encoding) {
  std::string h = "HYLL"s + static_cast<char>(encoding) + std::string(11, '\0');
  return h;
}

std::string AddAll(std::vector<std::string_view> elements) {
  std::string hll = CreateEmpty();
  for (std::string_view e : elements) EXPECT_NE(Add(&hll, e, kSparseMax), SetResult::kCorrupt);
  return hll;
}

uint64_t Count(std::string_view hll) {
  uint64_t n = 0;
  EXPECT_TRUE(Estimate(hll, &n));
  return n;
}

TEST(HyperLogLogTest, EmptyIsOneXZeroRun) {
  const std::string empty = CreateEmpty();
  EXPECT_EQ(empty, Header(kSparse) + "\x7f\xff"s);
  EXPECT_TRUE(LooksValid(empty));
  EXPECT_FALSE(IsDense(empty));
  EXPECT_EQ(Count(empty), 0u);
}

TEST(HyperLogLogTest, SparseBytesAreRedisBytes) {
  // PFADD h a b c; PFADD h ""; PFADD h "hello world, this is long"
  const std::string stale = Header(kSparse).replace(15, 1, "\x80");
  EXPECT_EQ(AddAll({"a", "b", "c"}), stale + "`\xf3\x80P\xb1\x84K\xfb\x80" "BZ"s);
  EXPECT_EQ(AddAll({""}), stale + "W1\x84h\xcc"s);
  EXPECT_EQ(AddAll({"hello world, this is long"}), stale + "C\x1b\x80|\xe2"s);
  EXPECT_EQ(Count(AddAll({"a", "b", "c"})), 3u);
}

TEST(HyperLogLogTest, AddingTheSameElementAgainChangesNothing) {
  std::string hll = AddAll({"a", "b"});
  const std::string before = hll;
  EXPECT_EQ(Add(&hll, "a", kSparseMax), SetResult::kUnchanged);
  EXPECT_EQ(hll, before);
}

// "elem:0" .. "elem:<n-1>" added one at a time, as Redis saw them.
TEST(HyperLogLogTest, GrowthThroughSparseToDenseMatchesRedis) {
  struct Checkpoint {
    int elements;
    size_t length;
    uint64_t count;
    uint64_t fnv;
  };
  const Checkpoint checkpoints[] = {
      {1, 21, 1, 0x6492407f7eeeec07ull},
      {10, 47, 10, 0x7ecf34470eab2c08ull},
      {100, 277, 100, 0x2efa48de64f17043ull},
      {500, 1047, 505, 0x6b5fd1c45b8110e7ull},
      {1000, 1913, 1005, 0x951b49e4092fe72full},
      {1500, 2739, 1504, 0x70e67db651006234ull},
      {2000, 12304, 1994, 0x2e90772b80d2afdcull},
      {3000, 12304, 2987, 0xf3f1ae7891bdc861ull},
      {10000, 12304, 9922, 0x3f345ca9cab0497aull},
      {100000, 12304, 99904, 0xa27c89bdf140b344ull},
  };
  std::string hll = CreateEmpty();
  int added = 0;
  for (const Checkpoint& c : checkpoints) {
    for (; added < c.elements; ++added) {
      const std::string e = "elem:" + std::to_string(added);
      ASSERT_NE(Add(&hll, e, kSparseMax), SetResult::kCorrupt) << e;
      // Redis promoted this key to dense when adding element 1660.
      ASSERT_EQ(IsDense(hll), added >= 1660) << e;
    }
    SCOPED_TRACE(c.elements);
    EXPECT_EQ(hll.size(), c.length);
    EXPECT_EQ(Count(hll), c.count);
    EXPECT_EQ(Fnv1a(hll), c.fnv);
  }
}

TEST(HyperLogLogTest, LowerSparseLimitPromotesEarlier) {
  std::string hll = CreateEmpty();
  EXPECT_EQ(Add(&hll, "a", 0), SetResult::kChanged);
  EXPECT_TRUE(IsDense(hll));
  EXPECT_EQ(hll.size(), kDenseSize);
  EXPECT_EQ(Count(hll), 1u);
}

TEST(HyperLogLogTest, DenseRegistersDoNotDisturbTheirNeighbours) {
  std::string dense = CreateEmpty();
  ASSERT_TRUE(ToDense(&dense));
  std::vector<uint8_t> expect(kRegisters, 0);
  std::mt19937 rng(7);
  for (int round = 0; round < 4; ++round) {
    for (uint32_t i = 0; i < static_cast<uint32_t>(kRegisters); ++i) {
      const auto v = static_cast<uint8_t>(rng() % 64);
      if (v > expect[i]) {
        EXPECT_EQ(SetRegister(&dense, i, v, kSparseMax), SetResult::kChanged);
        expect[i] = v;
      }
    }
  }
  std::vector<uint8_t> got(kRegisters, 0);
  ASSERT_TRUE(MergeInto(dense, got.data()));
  EXPECT_EQ(got, expect);
  EXPECT_EQ(dense.size(), kDenseSize);
  EXPECT_EQ(EstimateRegisters(expect.data()), Count(dense));
}

TEST(HyperLogLogTest, SparseAndDenseAgree) {
  std::mt19937 rng(11);
  std::string sparse = CreateEmpty();
  std::string dense = CreateEmpty();
  ASSERT_TRUE(ToDense(&dense));
  for (int n = 0; n < 300; ++n) {
    const uint32_t index = rng() % kRegisters;
    const auto count = static_cast<uint8_t>(1 + rng() % 32);
    const SetResult a = SetRegister(&sparse, index, count, 1 << 20);
    const SetResult b = SetRegister(&dense, index, count, 1 << 20);
    ASSERT_EQ(a, b) << n;
  }
  ASSERT_FALSE(IsDense(sparse));
  EXPECT_EQ(Count(sparse), Count(dense));
  std::string converted = sparse;
  ASSERT_TRUE(ToDense(&converted));
  EXPECT_EQ(converted.substr(kHeaderSize), dense.substr(kHeaderSize));
}

TEST(HyperLogLogTest, ValuesOver32PromoteToDense) {
  std::string hll = CreateEmpty();
  EXPECT_EQ(SetRegister(&hll, 5, 33, kSparseMax), SetResult::kChanged);
  EXPECT_TRUE(IsDense(hll));
  std::vector<uint8_t> regs(kRegisters, 0);
  ASSERT_TRUE(MergeInto(hll, regs.data()));
  EXPECT_EQ(regs[5], 33);
}

TEST(HyperLogLogTest, NeighbouringValuesMergeIntoOneOpcode) {
  // Registers 0 and 1 at 2: XZERO:16384 -> VAL:2,1 XZERO:16383 -> VAL:2,2 XZERO:16382.
  std::string hll = CreateEmpty();
  SetRegister(&hll, 0, 2, kSparseMax);
  EXPECT_EQ(hll.substr(kHeaderSize), "\x84\x7f\xfe"s);
  SetRegister(&hll, 1, 2, kSparseMax);
  EXPECT_EQ(hll.substr(kHeaderSize), "\x85\x7f\xfd"s);
  SetRegister(&hll, 3, 2, kSparseMax);  // ZERO:1 in between, then VAL
  EXPECT_EQ(hll.substr(kHeaderSize), "\x85\x00\x84\x7f\xfb"s);
  SetRegister(&hll, 2, 2, kSparseMax);  // fills the gap: one VAL:2,4
  EXPECT_EQ(hll.substr(kHeaderSize), "\x87\x7f\xfb"s);
}

TEST(HyperLogLogTest, ValidityIsTheHeaderOnly) {
  EXPECT_FALSE(LooksValid(""));
  EXPECT_FALSE(LooksValid("HYLL\x01\x00\x00\x00"s));
  EXPECT_FALSE(LooksValid("hyll" + std::string(14, '\0')));
  EXPECT_FALSE(LooksValid(Header(2) + "\x7f\xff"s));
  EXPECT_FALSE(LooksValid(Header(kDense) + std::string(100, '\0')));
  EXPECT_TRUE(LooksValid(Header(kDense) + std::string(kDenseSize - kHeaderSize, '\0')));
  EXPECT_TRUE(LooksValid(Header(kSparse)));  // no opcodes: corrupt, found when used
}

TEST(HyperLogLogTest, SparseFormsNotCoveringEveryRegisterAreCorrupt) {
  uint64_t n;
  std::vector<uint8_t> regs(kRegisters, 0);
  for (const std::string& body : {"\x7f\xfe"s,       // 16383 registers
                                  "\x7f\xff\x80"s,   // a value past the last
                                  "\x7f\xff\x00"s,   // a zero past the last
                                  ""s}) {
    const std::string hll = Header(kSparse) + body;
    EXPECT_FALSE(Estimate(hll, &n)) << testing::PrintToString(body);
    EXPECT_FALSE(MergeInto(hll, regs.data()));
    std::string copy = hll;
    EXPECT_FALSE(ToDense(&copy));
    EXPECT_EQ(copy, hll);
  }
  // The register to set is past the opcodes.
  std::string short_form = Header(kSparse) + "\x7f\xfe"s;
  EXPECT_EQ(SetRegister(&short_form, 16383, 1, kSparseMax), SetResult::kCorrupt);
  // Within them it is set, as Redis does, corrupt or not.
  std::string other = Header(kSparse) + "\x7f\xfe"s;
  EXPECT_EQ(SetRegister(&other, 0, 1, kSparseMax), SetResult::kChanged);
}

TEST(HyperLogLogTest, CachedCardinality) {
  std::string hll = AddAll({"a"});
  uint64_t n = 0;
  EXPECT_FALSE(CachedCardinality(hll, &n));  // a change marks it stale
  hll.replace(8, 8, "\x39\x30\0\0\0\0\0\0"s);
  ASSERT_TRUE(CachedCardinality(hll, &n));
  EXPECT_EQ(n, 12345u);
  InvalidateCache(&hll);
  EXPECT_FALSE(CachedCardinality(hll, &n));
  EXPECT_EQ(hll.substr(8, 8), "\x39\x30\0\0\0\0\0\x80"s);
}

TEST(HyperLogLogTest, EstimatorOnRegisterArrays) {
  std::vector<uint8_t> regs(kRegisters, 0);
  EXPECT_EQ(EstimateRegisters(regs.data()), 0u);
  std::string hll = AddAll({"x", "y"});
  ASSERT_TRUE(MergeInto(hll, regs.data()));
  EXPECT_EQ(EstimateRegisters(regs.data()), 2u);
}

TEST(HyperLogLogTest, MurmurHash64A) {
  // The tail bytes are folded in little endian, whole blocks read as
  // little-endian words: a 9-byte input exercises both.
  EXPECT_EQ(MurmurHash64A("", 0), 0u);
  EXPECT_NE(MurmurHash64A("abcdefghi", 0), MurmurHash64A("abcdefghj", 0));
  EXPECT_NE(MurmurHash64A("a", 0), MurmurHash64A("a", 1));
  uint32_t index;
  uint8_t count;
  HashElement("a", &index, &count);
  EXPECT_LT(index, static_cast<uint32_t>(kRegisters));
  EXPECT_GE(count, 1);
  EXPECT_LE(count, 51);
}

}  // namespace
}  // namespace causalkv::command::hll
