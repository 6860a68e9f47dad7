// Tests of the packed per-key block: every mutation must keep the layout
// invariants (sorted, unique versions, key/TTL/ttl_slot intact), whatever the
// values look like (empty, binary, large) and however many siblings there are.
#include "causalkv/store/sibling_set.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace causalkv::store {
namespace {

using std::string_literals::operator""s;

// The model of a block: what the set must read back as.
struct Expected {
  std::string key;
  int64_t expire_at_ms = SiblingSet::kNoExpire;
  std::vector<std::pair<uint64_t, std::string>> siblings;
};

// Owns a block so that a failing assertion cannot leak it (ASan would then
// report the leak instead of the real failure).
class Holder {
 public:
  explicit Holder(SiblingSet* set) : set_(set) {}
  ~Holder() {
    if (set_ != nullptr) SiblingSet::Destroy(set_);
  }
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  SiblingSet* get() const { return set_; }
  // Every mutator consumes the old pointer and returns the new one.
  void reset(SiblingSet* set) { set_ = set; }

 private:
  SiblingSet* set_;
};

SiblingSet* Make(std::string_view key, int64_t expire_at_ms,
                 const std::vector<std::pair<uint64_t, std::string>>& siblings) {
  std::vector<Sibling> in;
  for (const auto& [v, value] : siblings) in.push_back(Sibling{Version(v), value});
  return SiblingSet::Create(key, expire_at_ms, in);
}

// Human-readable form, so a failure shows the whole state at once.
std::string Describe(const SiblingSet* set) {
  std::string out = "key=" + std::string(set->key());
  if (set->has_expire()) out += " exp=" + std::to_string(set->expire_at_ms());
  out += ":";
  for (Sibling s : *set) {
    out += " [" + std::to_string(s.version.counter()) + "]";
    if (s.value.size() <= 32) {
      out += std::string(s.value);
    } else {
      out += "<" + std::to_string(s.value.size()) + " bytes>";
    }
  }
  return out;
}

// Checks every invariant of the header comment, plus the exact contents.
void ExpectMatches(const SiblingSet* set, const Expected& want) {
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->key(), want.key);
  EXPECT_EQ(set->has_expire(), want.expire_at_ms != SiblingSet::kNoExpire);
  EXPECT_EQ(set->expire_at_ms(), want.expire_at_ms);
  ASSERT_EQ(set->size(), want.siblings.size()) << Describe(set);
  ASSERT_GT(set->size(), 0u) << "a stored set is never empty";
  size_t i = 0;
  uint64_t previous = 0;
  size_t payload = 0;
  for (Sibling s : *set) {
    // Sorted and unique: strictly increasing versions, all nonzero (0 is "read nothing").
    EXPECT_GT(s.version.counter(), previous) << "at sibling " << i << ": " << Describe(set);
    previous = s.version.counter();
    EXPECT_EQ(s.version.counter(), want.siblings[i].first) << "at sibling " << i;
    EXPECT_EQ(s.value, want.siblings[i].second) << "at sibling " << i;
    payload += 12 + s.value.size();
    ++i;
  }
  EXPECT_EQ(i, want.siblings.size());
  EXPECT_EQ(set->newest().version.counter(), want.siblings.back().first);
  EXPECT_EQ(set->newest().value, want.siblings.back().second);
  EXPECT_EQ(set->max_version().counter(), want.siblings.back().first);
  // The documented layout: 24-byte header, 8-byte expiry if any, key, siblings.
  const size_t ttl = want.expire_at_ms != SiblingSet::kNoExpire ? 8 : 0;
  EXPECT_EQ(set->BlockSize(), 24 + ttl + want.key.size() + payload);
}

TEST(SiblingSetTest, CreateOneSiblingCostsHeaderKeyAndValue) {
  Holder h(Make("cart", SiblingSet::kNoExpire, {{1, "milk"}}));
  ExpectMatches(h.get(), {"cart", SiblingSet::kNoExpire, {{1, "milk"}}});
  // The header comment promises 24 + key + 12 + value for this case.
  EXPECT_EQ(h.get()->BlockSize(), 24u + 4 + 12 + 4);
  EXPECT_EQ(Describe(h.get()), "key=cart: [1]milk");
}

TEST(SiblingSetTest, CreateWithTtlStartsAtSlotZero) {
  Holder h(Make("k", 123456789012345, {{3, "a"}, {7, "bb"}}));
  ExpectMatches(h.get(), {"k", 123456789012345, {{3, "a"}, {7, "bb"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 0u);
  EXPECT_EQ(Describe(h.get()), "key=k exp=123456789012345: [3]a [7]bb");
}

TEST(SiblingSetTest, CreateAcceptsEmptyKeyAndEmptyValues) {
  Holder h(Make("", SiblingSet::kNoExpire, {{1, ""}, {2, ""}, {3, "x"}}));
  ExpectMatches(h.get(), {"", SiblingSet::kNoExpire, {{1, ""}, {2, ""}, {3, "x"}}});
}

TEST(SiblingSetTest, TtlAtZeroIsATtlNotNoExpire) {
  // 0 is a valid (past) expiry time; only kNoExpire means "no TTL".
  Holder h(Make("k", 0, {{1, "v"}}));
  EXPECT_TRUE(h.get()->has_expire());
  EXPECT_EQ(h.get()->expire_at_ms(), 0);
}

TEST(SiblingSetTest, ReplaceAllKeepsKeyTtlAndSlot) {
  Holder h(Make("key", 5000, {{1, "a"}, {2, "bbbbbbbbbbbb"}, {4, "c"}}));
  h.get()->set_ttl_slot(41);
  // Shrinking replacement.
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(9), "z"));
  ExpectMatches(h.get(), {"key", 5000, {{9, "z"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 41u);
  // Growing replacement.
  const std::string big(4096, 'q');
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(10), big));
  ExpectMatches(h.get(), {"key", 5000, {{10, big}}});
  EXPECT_EQ(h.get()->ttl_slot(), 41u);
  // Empty replacement.
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(11), ""));
  ExpectMatches(h.get(), {"key", 5000, {{11, ""}}});
  EXPECT_EQ(h.get()->ttl_slot(), 41u);
}

TEST(SiblingSetTest, ReplaceAllWithoutTtl) {
  Holder h(Make("key", SiblingSet::kNoExpire, {{1, "a"}, {2, "b"}}));
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(3), "c"));
  ExpectMatches(h.get(), {"key", SiblingSet::kNoExpire, {{3, "c"}}});
}

TEST(SiblingSetTest, PutWithSeenNoneKeepsEverySiblingAndAppends) {
  Holder h(Make("cart", SiblingSet::kNoExpire, {{1, "milk"}}));
  h.reset(SiblingSet::Put(h.get(), Version::None(), Version(2), "eggs"));
  ExpectMatches(h.get(), {"cart", SiblingSet::kNoExpire, {{1, "milk"}, {2, "eggs"}}});
}

TEST(SiblingSetTest, PutDropsExactlyTheCoveredPrefix) {
  Holder h(Make("k", SiblingSet::kNoExpire, {{2, "a"}, {4, "b"}, {6, "c"}, {8, "d"}}));
  // 5 covers 2 and 4 (<= 5) but not 6 and 8.
  h.reset(SiblingSet::Put(h.get(), Version(5), Version(9), "e"));
  ExpectMatches(h.get(), {"k", SiblingSet::kNoExpire, {{6, "c"}, {8, "d"}, {9, "e"}}});
  // Covering a version exactly removes it (s <= v).
  h.reset(SiblingSet::Put(h.get(), Version(6), Version(10), "f"));
  ExpectMatches(h.get(), {"k", SiblingSet::kNoExpire, {{8, "d"}, {9, "e"}, {10, "f"}}});
}

TEST(SiblingSetTest, PutCoveringEverythingLeavesOnlyTheNewValue) {
  Holder h(Make("k", 777, {{1, "a"}, {2, "b"}}));
  h.get()->set_ttl_slot(3);
  h.reset(SiblingSet::Put(h.get(), Version(2), Version(3), "c"));
  ExpectMatches(h.get(), {"k", 777, {{3, "c"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 3u);
}

TEST(SiblingSetTest, PutKeepsTtlAndSlotWhetherTheBlockGrowsOrShrinks) {
  const std::string big(10000, 'x');
  Holder h(Make("key", 99, {{1, big}, {2, "small"}}));
  h.get()->set_ttl_slot(12345);
  h.reset(SiblingSet::Put(h.get(), Version(1), Version(3), "s"));  // drops the big one
  ExpectMatches(h.get(), {"key", 99, {{2, "small"}, {3, "s"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 12345u);
  h.reset(SiblingSet::Put(h.get(), Version::None(), Version(4), big));  // grows
  ExpectMatches(h.get(), {"key", 99, {{2, "small"}, {3, "s"}, {4, big}}});
  EXPECT_EQ(h.get()->ttl_slot(), 12345u);
}

TEST(SiblingSetTest, DropCoveredOfNothingReturnsTheSameBlock) {
  Holder h(Make("k", SiblingSet::kNoExpire, {{5, "a"}, {6, "b"}}));
  SiblingSet* before = h.get();
  h.reset(SiblingSet::DropCovered(h.get(), Version(4)));
  EXPECT_EQ(h.get(), before);
  ExpectMatches(h.get(), {"k", SiblingSet::kNoExpire, {{5, "a"}, {6, "b"}}});
}

TEST(SiblingSetTest, DropCoveredRemovesThePrefixAndKeepsTtl) {
  Holder h(Make("kk", 31337, {{1, "a"}, {2, "bb"}, {3, "ccc"}}));
  h.get()->set_ttl_slot(8);
  h.reset(SiblingSet::DropCovered(h.get(), Version(2)));
  ExpectMatches(h.get(), {"kk", 31337, {{3, "ccc"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 8u);
}

TEST(SiblingSetTest, DropCoveredOfEverythingFreesAndReturnsNull) {
  SiblingSet* set = Make("k", 10, {{1, "a"}, {2, "b"}});
  // The block is freed here; ASan would report a leak otherwise.
  EXPECT_EQ(SiblingSet::DropCovered(set, Version(2)), nullptr);
  SiblingSet* set2 = Make("k", SiblingSet::kNoExpire, {{1, "a"}});
  EXPECT_EQ(SiblingSet::DropCovered(set2, Version(100)), nullptr);
}

TEST(SiblingSetTest, WithExpireAddsChangesAndRemovesTheTtlBlock) {
  Holder h(Make("the-key", SiblingSet::kNoExpire, {{1, "one"}, {2, "two"}}));
  // Adding shifts key and siblings right by the TTL block.
  h.reset(SiblingSet::WithExpire(h.get(), 1000));
  ExpectMatches(h.get(), {"the-key", 1000, {{1, "one"}, {2, "two"}}});
  h.get()->set_ttl_slot(77);
  // Changing keeps the slot: the keyspace's TTL index still points here.
  h.reset(SiblingSet::WithExpire(h.get(), 2000));
  ExpectMatches(h.get(), {"the-key", 2000, {{1, "one"}, {2, "two"}}});
  EXPECT_EQ(h.get()->ttl_slot(), 77u);
  // Removing shifts everything back.
  h.reset(SiblingSet::WithExpire(h.get(), SiblingSet::kNoExpire));
  ExpectMatches(h.get(), {"the-key", SiblingSet::kNoExpire, {{1, "one"}, {2, "two"}}});
  // Removing again is a no-op.
  h.reset(SiblingSet::WithExpire(h.get(), SiblingSet::kNoExpire));
  ExpectMatches(h.get(), {"the-key", SiblingSet::kNoExpire, {{1, "one"}, {2, "two"}}});
}

TEST(SiblingSetTest, WithExpireOnEmptyKeyAndEmptyValues) {
  Holder h(Make("", SiblingSet::kNoExpire, {{1, ""}}));
  h.reset(SiblingSet::WithExpire(h.get(), 5));
  ExpectMatches(h.get(), {"", 5, {{1, ""}}});
  h.reset(SiblingSet::WithExpire(h.get(), SiblingSet::kNoExpire));
  ExpectMatches(h.get(), {"", SiblingSet::kNoExpire, {{1, ""}}});
}

TEST(SiblingSetTest, BinaryKeysAndValuesRoundTrip) {
  // Every byte value, NUL and CR/LF included: nothing may treat them as text.
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string key = "k\0e\r\ny"s;
  const std::string crlf = "\r\n\r\n\0\0"s;
  Holder h(Make(key, SiblingSet::kNoExpire, {{1, all}}));
  ExpectMatches(h.get(), {key, SiblingSet::kNoExpire, {{1, all}}});
  h.reset(SiblingSet::Put(h.get(), Version::None(), Version(2), crlf));
  h.reset(SiblingSet::WithExpire(h.get(), 42));
  ExpectMatches(h.get(), {key, 42, {{1, all}, {2, crlf}}});
  h.reset(SiblingSet::DropCovered(h.get(), Version(1)));
  ExpectMatches(h.get(), {key, 42, {{2, crlf}}});
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(3), all));
  ExpectMatches(h.get(), {key, 42, {{3, all}}});
}

TEST(SiblingSetTest, OneMegabyteValuesSurviveEveryMutation) {
  std::string a(1 << 20, '\0');
  std::string b(1 << 20, '\0');
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<char>(i * 31 + 7);
    b[i] = static_cast<char>(i * 17 + 3);
  }
  Holder h(Make("big", SiblingSet::kNoExpire, {{1, a}}));
  h.reset(SiblingSet::Put(h.get(), Version::None(), Version(2), b));
  ExpectMatches(h.get(), {"big", SiblingSet::kNoExpire, {{1, a}, {2, b}}});
  h.reset(SiblingSet::WithExpire(h.get(), 1));
  ExpectMatches(h.get(), {"big", 1, {{1, a}, {2, b}}});
  // Dropping the first megabyte moves the second one to the front.
  h.reset(SiblingSet::Put(h.get(), Version(1), Version(3), a));
  ExpectMatches(h.get(), {"big", 1, {{2, b}, {3, a}}});
  h.reset(SiblingSet::DropCovered(h.get(), Version(2)));
  ExpectMatches(h.get(), {"big", 1, {{3, a}}});
  h.reset(SiblingSet::WithExpire(h.get(), SiblingSet::kNoExpire));
  h.reset(SiblingSet::ReplaceAll(h.get(), Version(4), b));
  ExpectMatches(h.get(), {"big", SiblingSet::kNoExpire, {{4, b}}});
}

TEST(SiblingSetTest, ThousandSiblings) {
  Expected want{"many", SiblingSet::kNoExpire, {{1, "v1"}}};
  Holder h(Make("many", SiblingSet::kNoExpire, want.siblings));
  // 999 blind writes: each is concurrent with everything, so all stay.
  for (uint64_t v = 2; v <= 1000; ++v) {
    const std::string value = "v" + std::to_string(v);
    h.reset(SiblingSet::Put(h.get(), Version::None(), Version(v), value));
    want.siblings.emplace_back(v, value);
  }
  ExpectMatches(h.get(), want);
  EXPECT_EQ(h.get()->size(), 1000u);
  // A write that had read up to 500 supersedes exactly the first 500.
  h.reset(SiblingSet::Put(h.get(), Version(500), Version(1001), "merged"));
  want.siblings.erase(want.siblings.begin(), want.siblings.begin() + 500);
  want.siblings.emplace_back(1001, "merged");
  ExpectMatches(h.get(), want);
  h.reset(SiblingSet::WithExpire(h.get(), 123));
  want.expire_at_ms = 123;
  ExpectMatches(h.get(), want);
  h.reset(SiblingSet::DropCovered(h.get(), Version(999)));
  want.siblings.erase(want.siblings.begin(), want.siblings.begin() + 499);
  ExpectMatches(h.get(), want);
  EXPECT_EQ(Describe(h.get()), "key=many exp=123: [1000]v1000 [1001]merged");
}

// Random sequences of every mutation against a vector model, checking the
// layout after each step (block moves, shrinks and grows all get exercised).
TEST(SiblingSetTest, RandomMutationsKeepInvariants) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Expected want{"key" + std::to_string(seed), SiblingSet::kNoExpire, {{1, "first"}}};
    Holder h(Make(want.key, want.expire_at_ms, want.siblings));
    uint32_t slot = 0;
    uint64_t next = 2;
    for (int step = 0; step < 500; ++step) {
      const std::string value(rng() % 3 == 0 ? 0 : rng() % 200, static_cast<char>('a' + step % 26));
      const uint64_t newest = want.siblings.back().first;
      const uint64_t seen = rng() % 4 == 0 ? 0 : rng() % (newest + 1);
      switch (rng() % 5) {
        case 0:
          h.reset(SiblingSet::ReplaceAll(h.get(), Version(next), value));
          want.siblings = {{next++, value}};
          break;
        case 1:
        case 2: {
          h.reset(SiblingSet::Put(h.get(), Version(seen), Version(next), value));
          std::erase_if(want.siblings, [&](const auto& s) { return s.first <= seen; });
          want.siblings.emplace_back(next++, value);
          break;
        }
        case 3: {
          if (seen >= newest) break;  // would free the block; tested separately
          h.reset(SiblingSet::DropCovered(h.get(), Version(seen)));
          std::erase_if(want.siblings, [&](const auto& s) { return s.first <= seen; });
          break;
        }
        case 4: {
          const int64_t at = rng() % 3 == 0 ? SiblingSet::kNoExpire : static_cast<int64_t>(rng());
          const bool had = want.expire_at_ms != SiblingSet::kNoExpire;
          h.reset(SiblingSet::WithExpire(h.get(), at));
          if (at != SiblingSet::kNoExpire && !had) {
            slot = rng();
            h.get()->set_ttl_slot(slot);
          }
          want.expire_at_ms = at;
          break;
        }
      }
      ExpectMatches(h.get(), want);
      if (want.expire_at_ms != SiblingSet::kNoExpire) {
        ASSERT_EQ(h.get()->ttl_slot(), slot) << "step " << step;
      }
      if (testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace causalkv::store
