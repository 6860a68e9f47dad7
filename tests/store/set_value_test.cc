// Tests of the set value type: every encoding against a std::set model and
// an independent statement of Redis 7.2's conversion rules, the thresholds,
// intset widths, members that look like integers, order per encoding,
// SSCAN's guarantee across resizes, uniform Random, the serialized form (and
// hostile variants of it), Clone, and memory accounting exact to the
// allocator's usable sizes.
#include "causalkv/store/set_value.h"
#include "value_test_support.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace causalkv::store {
namespace {

using Encoding = SetValue::Encoding;
using Model = std::set<std::string>;

struct Destroyer {
  void operator()(SetValue* s) const { SetValue::Destroy(s); }
};
// Owns a set so that a failing assertion cannot leak it.
using SetPtr = std::unique_ptr<SetValue, Destroyer>;

CollectionLimits Limits(uint32_t intset_entries, uint32_t listpack_entries,
                        uint32_t listpack_value) {
  CollectionLimits limits;
  limits.set_max_intset_entries = intset_entries;
  limits.set_max_listpack_entries = listpack_entries;
  limits.set_max_listpack_value = listpack_value;
  return limits;
}

// Create(first, hint) and Add of every member, as SADD key m1..mn does.
SetPtr SetOf(const std::vector<std::string>& members, const CollectionLimits& limits = {}) {
  SetPtr s(SetValue::Create(members.empty() ? "" : members[0], members.size(), limits));
  for (const std::string& m : members) s->Add(m, limits);
  return s;
}

std::string Member(int i) { return "member:" + std::to_string(i); }

std::vector<std::string> Members(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Member(i));
  return out;
}

std::vector<std::string> Integers(int n, int64_t first = 0, int64_t step = 1) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(std::to_string(first + i * step));
  return out;
}

// Adds members one at a time (hint 1 each), as separate SADDs would.
SetPtr AddOneByOne(const std::vector<std::string>& members, const CollectionLimits& limits = {}) {
  SetPtr s(SetValue::Create(members.at(0), 1, limits));
  for (const std::string& m : members) s->Add(m, limits);
  return s;
}

// "a b c", in ForEach order.
std::string Print(const SetValue& s) {
  std::string out;
  s.ForEach([&](std::string_view member) {
    if (!out.empty()) out += ' ';
    out.append(member);
  });
  return out;
}

std::vector<std::string> Order(const SetValue& s) {
  std::vector<std::string> out;
  s.ForEach([&](std::string_view member) { out.emplace_back(member); });
  return out;
}

// The contents as a set; a member reported twice fails the test.
Model Contents(const SetValue& s) {
  Model out;
  s.ForEach([&](std::string_view member) {
    EXPECT_TRUE(out.emplace(member).second) << "ForEach repeated " << member;
  });
  return out;
}

const char* Name(Encoding e) {
  switch (e) {
    case Encoding::kIntset:
      return "intset";
    case Encoding::kListpack:
      return "listpack";
    case Encoding::kHashtable:
      return "hashtable";
  }
  return "?";
}

// memory_bytes() must be the sum of malloc_usable_size() over every block.
// The block count is checked too, so a block left out of the enumeration
// cannot hide: the object and its intset or listpack, or the object, its
// table, one or two bucket arrays and one block per member.
void ExpectExactMemory(const SetValue& s) {
  size_t sum = 0;
  size_t blocks = 0;
  s.TEST_ForEachAllocation([&](const void* p) {
    sum += malloc_usable_size(const_cast<void*>(p));
    ++blocks;
  });
  EXPECT_EQ(s.memory_bytes(), sum);
  if (s.encoding() == Encoding::kHashtable) {
    EXPECT_GE(blocks, s.size() + 3);
    EXPECT_LE(blocks, s.size() + 4);
  } else {
    EXPECT_EQ(blocks, 2u);
  }
}

// The usable size of an intset's or listpack's buffer.
size_t BlockUsableBytes(const SetValue& s) {
  size_t bytes = 0;
  int i = 0;
  s.TEST_ForEachAllocation([&](const void* p) {
    if (i++ == 1) bytes = malloc_usable_size(const_cast<void*>(p));
  });
  return bytes;
}

void PutVarint(std::string* out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out->push_back(static_cast<char>(v | 0x80));
  out->push_back(static_cast<char>(v));
}

// The serialized form, written straight from the format's description.
std::string Encode(const std::vector<std::string>& members) {
  std::string out;
  PutVarint(&out, members.size());
  for (const std::string& m : members) {
    PutVarint(&out, m.size());
    out += m;
  }
  return out;
}

// --- Redis 7.2's rules, stated independently of the implementation -----------

bool IsInteger(const std::string& s) {
  int64_t v;
  return SetValue::ParseInteger(s, &v);
}

// t_set.c setTypeCreate.
Encoding ExpectedCreate(const std::string& first, size_t hint, const CollectionLimits& l) {
  if (IsInteger(first) && hint <= l.set_max_intset_entries) return Encoding::kIntset;
  if (hint <= l.set_max_listpack_entries && first.size() <= l.set_max_listpack_value)
    return Encoding::kListpack;
  return Encoding::kHashtable;
}

// t_set.c setTypeAddAux (and maybeConvertIntset) for a member not yet in `before`.
Encoding ExpectedAfterAdd(Encoding enc, const Model& before, const std::string& member,
                          const CollectionLimits& l) {
  const size_t n = before.size();
  switch (enc) {
    case Encoding::kIntset:
      if (IsInteger(member)) {
        return n + 1 > std::min<size_t>(l.set_max_intset_entries, size_t{1} << 30)
                   ? Encoding::kHashtable
                   : Encoding::kIntset;
      } else {
        size_t longest = 0;
        for (const std::string& m : before) longest = std::max(longest, m.size());
        return n < l.set_max_listpack_entries && member.size() <= l.set_max_listpack_value &&
                       longest <= l.set_max_listpack_value
                   ? Encoding::kListpack
                   : Encoding::kHashtable;
      }
    case Encoding::kListpack:
      return n < l.set_max_listpack_entries && member.size() <= l.set_max_listpack_value
                 ? Encoding::kListpack
                 : Encoding::kHashtable;
    case Encoding::kHashtable:
      break;
  }
  return Encoding::kHashtable;
}

bool NumericLess(const std::string& a, const std::string& b) {
  int64_t x, y;
  SetValue::ParseInteger(a, &x);
  SetValue::ParseInteger(b, &y);
  return x < y;
}

// ---------------------------------------------------------------------------

TEST(SetValueTest, CreateChoosesTheEncodingAsRedis) {
  const CollectionLimits d;  // 512 intset, 128 listpack entries, 64 bytes
  struct Case {
    std::string first;
    size_t hint;
    CollectionLimits limits;
    Encoding expected;
  };
  const Case cases[] = {
      {"1", 1, d, Encoding::kIntset},
      {"-9223372036854775808", 1, d, Encoding::kIntset},
      {"1", 512, d, Encoding::kIntset},
      {"1", 513, d, Encoding::kHashtable},  // past both limits
      {"1", 0, Limits(0, 128, 64), Encoding::kIntset},
      {"1", 1, Limits(0, 128, 64), Encoding::kListpack},  // an integer, but too many for an intset
      {"a", 1, d, Encoding::kListpack},
      {"a", 128, d, Encoding::kListpack},
      {"a", 129, d, Encoding::kHashtable},
      {"01", 1, d, Encoding::kListpack},
      {std::string(64, 'x'), 1, d, Encoding::kListpack},
      {std::string(65, 'x'), 1, d, Encoding::kHashtable},
      {"a", 1, Limits(512, 0, 64), Encoding::kHashtable},
      {"", 1, d, Encoding::kListpack},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.first.substr(0, 20) + " hint " + std::to_string(c.hint));
    SetPtr s(SetValue::Create(c.first, c.hint, c.limits));
    EXPECT_EQ(s->encoding(), c.expected) << Name(s->encoding());
    EXPECT_EQ(ExpectedCreate(c.first, c.hint, c.limits), c.expected);
    EXPECT_EQ(s->size(), 0u);
    EXPECT_FALSE(s->Contains(c.first));
    EXPECT_FALSE(s->Remove(c.first));
    EXPECT_EQ(Print(*s), "");
    EXPECT_EQ(s->Scan(0, 10, [](std::string_view) { FAIL(); }), 0u);
    ExpectExactMemory(*s);
    EXPECT_TRUE(s->Add(c.first, c.limits));
    EXPECT_TRUE(s->Contains(c.first));
    EXPECT_EQ(s->size(), 1u);
    ExpectExactMemory(*s);
  }
  SetValue::Destroy(nullptr);
}

TEST(SetValueTest, AddContainsRemoveInEveryEncoding) {
  struct Case {
    std::vector<std::string> members;
    Encoding expected;
  };
  const Case cases[] = {
      {Integers(5, -2), Encoding::kIntset},  {Integers(500, -250), Encoding::kIntset},
      {Members(5), Encoding::kListpack},     {Members(300), Encoding::kHashtable},
      {Integers(600), Encoding::kHashtable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.members.size()) + " from " + c.members[0]);
    SetPtr s = SetOf(c.members);
    EXPECT_EQ(s->encoding(), c.expected);
    EXPECT_EQ(s->size(), c.members.size());
    for (const std::string& m : c.members) {
      ASSERT_TRUE(s->Contains(m)) << m;
      ASSERT_FALSE(s->Add(m, {})) << m;
    }
    EXPECT_FALSE(s->Contains("absent"));
    EXPECT_FALSE(s->Contains("1000000"));
    EXPECT_TRUE(s->Remove(c.members[1]));
    EXPECT_FALSE(s->Remove(c.members[1]));
    EXPECT_FALSE(s->Contains(c.members[1]));
    EXPECT_FALSE(s->Remove("absent"));
    EXPECT_EQ(s->size(), c.members.size() - 1);
    EXPECT_EQ(s->encoding(), c.expected);
    ExpectExactMemory(*s);
  }
}

// Thousands of random Add/Remove/Contains against std::set, through every
// conversion, with members that are integers, look like integers, are binary
// or long, under several limits; each Add's encoding is checked against
// Redis's rules as stated above.
TEST(SetValueTest, RandomOperationsMatchAModel) {
  const CollectionLimits limit_sets[] = {{},
                                         Limits(16, 8, 8),
                                         Limits(0, 128, 64),
                                         Limits(1000, 1000, 1000),
                                         Limits(300, 0, 64),
                                         Limits(40, 100, 3)};
  std::map<std::pair<Encoding, Encoding>, int> conversions;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const CollectionLimits& limits = limit_sets[seed % std::size(limit_sets)];
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    // Runs that stay integer for long reach the intset limit; the rest mix.
    const bool mostly_integers = seed % 3 != 0;
    auto random_member = [&]() -> std::string {
      const uint64_t kind = rng() % 100;
      if (kind < (mostly_integers ? 97u : 40u)) {
        switch (rng() % 4) {
          case 0:
            return std::to_string(static_cast<int64_t>(rng() % 2000) - 1000);
          case 1:
            return std::to_string(static_cast<int64_t>(rng() % 200000) - 100000);
          case 2:
            return std::to_string(static_cast<int64_t>(rng()));  // any int64
          default:
            return std::to_string(rng() % 700);
        }
      }
      if (kind < (mostly_integers ? 98u : 50u)) {
        const char* lookalikes[] = {"01", "-0", "+1", " 1", "1 ", "9223372036854775808", "00"};
        return lookalikes[rng() % std::size(lookalikes)];
      }
      // Mostly short, sometimes around the default value limit, bytes 0-255.
      const size_t len = rng() % 50 == 0 ? 60 + rng() % 10 : rng() % 11;
      std::string s(len, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() : 'a' + rng() % 3);
      return s;
    };
    const std::string first = random_member();
    const size_t hint = rng() % 3;
    SetPtr s(SetValue::Create(first, hint, limits));
    ASSERT_EQ(s->encoding(), ExpectedCreate(first, hint, limits));
    Model model;
    std::vector<std::string> listpack_order;  // what a listpack must iterate in
    size_t peak = 0;
    const int kOps = 6000;
    for (int op = 0; op < kOps; ++op) {
      // Grow for most of the run, then drain, so both resizes happen.
      const bool draining = op > kOps * 2 / 3;
      const uint64_t dice = rng() % 10;
      const std::string member =
          op == 0 ? first
          : rng() % 2 == 0 || model.empty()
              ? random_member()
              : *std::next(model.begin(), static_cast<long>(rng() % model.size()));
      if (op == 0 || dice < (draining ? 3u : 6u)) {
        const bool is_new = !model.contains(member);
        const Encoding before = s->encoding();
        const Encoding expected = is_new ? ExpectedAfterAdd(before, model, member, limits) : before;
        ASSERT_EQ(s->Add(member, limits), is_new) << op;
        ASSERT_EQ(s->encoding(), expected) << op << " " << Name(before) << " + " << member;
        if (expected != before) ++conversions[{before, expected}];
        if (before == Encoding::kIntset && expected == Encoding::kListpack) {
          // The integers ascending, then the new member.
          listpack_order.assign(model.begin(), model.end());
          std::sort(listpack_order.begin(), listpack_order.end(), NumericLess);
        }
        if (is_new) listpack_order.push_back(member);
        model.insert(member);
      } else if (dice < 9) {
        ASSERT_EQ(s->Remove(member), model.erase(member) == 1) << op;
        std::erase(listpack_order, member);
      } else {
        ASSERT_EQ(s->Contains(member), model.contains(member)) << op;
      }
      ASSERT_EQ(s->size(), model.size()) << op;
      peak = std::max(peak, model.size());
      if (op % 97 == 0 || op == kOps - 1) {
        ASSERT_EQ(Contents(*s), model) << op;
        const std::vector<std::string> order = Order(*s);
        if (s->encoding() == Encoding::kIntset) {
          ASSERT_TRUE(std::is_sorted(order.begin(), order.end(), NumericLess));
          for (const std::string& m : order) ASSERT_TRUE(IsInteger(m)) << m;
        } else if (s->encoding() == Encoding::kListpack) {
          ASSERT_EQ(order, listpack_order);
        }
        ExpectExactMemory(*s);
      }
    }
    EXPECT_GT(peak, 150u) << "grow well past the default listpack limit";
  }
  // Every conversion happened, more than once.
  EXPECT_GT((conversions[{Encoding::kIntset, Encoding::kListpack}]), 1);
  EXPECT_GT((conversions[{Encoding::kIntset, Encoding::kHashtable}]), 1);
  EXPECT_GT((conversions[{Encoding::kListpack, Encoding::kHashtable}]), 1);
  for (const auto& [from_to, n] : conversions) {
    std::printf("[ convert  ] %s -> %s: %d\n", Name(from_to.first), Name(from_to.second), n);
  }
}

TEST(SetValueTest, IntsetConvertsToAHashtableOnTheMemberAfterTheIntsetLimit) {
  const CollectionLimits limits;  // 512
  SetPtr s = AddOneByOne(Integers(512), limits);
  EXPECT_EQ(s->encoding(), Encoding::kIntset);
  // A duplicate, a removal and a re-add at the limit do not convert.
  EXPECT_FALSE(s->Add("511", limits));
  EXPECT_TRUE(s->Remove("0"));
  EXPECT_TRUE(s->Add("0", limits));
  EXPECT_EQ(s->encoding(), Encoding::kIntset);
  ExpectExactMemory(*s);
  EXPECT_TRUE(s->Add("512", limits));
  EXPECT_EQ(s->encoding(), Encoding::kHashtable);
  const std::vector<std::string> all = Integers(513);
  EXPECT_EQ(Contents(*s), Model(all.begin(), all.end()));
  ExpectExactMemory(*s);

  // Smaller limits; zero converts on the first member.
  SetPtr small = AddOneByOne(Integers(3), Limits(3, 128, 64));
  EXPECT_EQ(small->encoding(), Encoding::kIntset);
  EXPECT_TRUE(small->Add("3", Limits(3, 128, 64)));
  EXPECT_EQ(small->encoding(), Encoding::kHashtable);
  SetPtr zero(SetValue::Create("7", 0, Limits(0, 128, 64)));
  EXPECT_EQ(zero->encoding(), Encoding::kIntset);
  EXPECT_TRUE(zero->Add("7", Limits(0, 128, 64)));
  EXPECT_EQ(zero->encoding(), Encoding::kHashtable);
}

// A non-integer converts an intset to a listpack only while it holds fewer
// than set_max_listpack_entries members and the new member and every
// integer's text fit set_max_listpack_value; else to a hashtable.
TEST(SetValueTest, IntsetConvertsToAListpackOrAHashtableOnANonInteger) {
  struct Case {
    const char* name;
    std::vector<std::string> integers;
    std::string member;
    CollectionLimits limits;
    Encoding expected;
  };
  const CollectionLimits d;
  const Case cases[] = {
      {"127 integers", Integers(127), "a", d, Encoding::kListpack},
      {"128 integers", Integers(128), "a", d, Encoding::kHashtable},
      {"member of 64 bytes", Integers(5), std::string(64, 'm'), d, Encoding::kListpack},
      {"member of 65 bytes", Integers(5), std::string(65, 'm'), d, Encoding::kHashtable},
      {"empty intset", {}, "a", d, Encoding::kListpack},
      {"empty intset, no listpack", {}, "a", Limits(512, 0, 64), Encoding::kHashtable},
      // Integer texts against the value limit: "-99" and "999" are 3 bytes, "1000" 4.
      {"integers of 3 chars", {"-99", "5", "999"}, "abc", Limits(512, 128, 3), Encoding::kListpack},
      {"an integer of 4 chars", {"1", "1000"}, "abc", Limits(512, 128, 3), Encoding::kHashtable},
      {"a negative of 4 chars", {"-100", "1"}, "a", Limits(512, 128, 3), Encoding::kHashtable},
      {"int64 extremes",
       {"-9223372036854775808", "9223372036854775807"},
       "x",
       Limits(512, 128, 20),
       Encoding::kListpack},
      {"int64 min, 19 allowed",
       {"-9223372036854775808"},
       "x",
       Limits(512, 128, 19),
       Encoding::kHashtable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SetPtr s(SetValue::Create("0", 1, c.limits));
    for (const std::string& i : c.integers) ASSERT_TRUE(s->Add(i, c.limits));
    ASSERT_EQ(s->encoding(), Encoding::kIntset);
    EXPECT_TRUE(s->Add(c.member, c.limits));
    EXPECT_EQ(s->encoding(), c.expected) << Name(s->encoding());
    EXPECT_EQ(s->size(), c.integers.size() + 1);
    for (const std::string& i : c.integers) EXPECT_TRUE(s->Contains(i)) << i;
    EXPECT_TRUE(s->Contains(c.member));
    ExpectExactMemory(*s);
  }
}

TEST(SetValueTest, ListpackConvertsOnTheMemberAfterTheEntryLimitOrALongMember) {
  const CollectionLimits limits;  // 128 entries, 64 bytes
  SetPtr s = AddOneByOne(Members(128), limits);
  EXPECT_EQ(s->encoding(), Encoding::kListpack);
  EXPECT_FALSE(s->Add(Member(127), limits));
  EXPECT_TRUE(s->Remove(Member(0)));
  EXPECT_TRUE(s->Add(Member(0), limits));
  EXPECT_EQ(s->encoding(), Encoding::kListpack);
  EXPECT_TRUE(s->Add(Member(128), limits));
  EXPECT_EQ(s->encoding(), Encoding::kHashtable);
  EXPECT_EQ(s->size(), 129u);
  for (int i = 0; i < 129; ++i) ASSERT_TRUE(s->Contains(Member(i))) << i;
  ExpectExactMemory(*s);

  for (size_t len : {64, 65}) {
    SetPtr t = AddOneByOne(Members(5), limits);
    EXPECT_TRUE(t->Add(std::string(len, 'x'), limits));
    EXPECT_EQ(t->encoding(), len <= 64 ? Encoding::kListpack : Encoding::kHashtable) << len;
    EXPECT_TRUE(t->Contains(std::string(len, 'x')));
    EXPECT_EQ(t->size(), 6u);
    ExpectExactMemory(*t);
  }
  // Integers added to a listpack stay in it (as text).
  SetPtr u = AddOneByOne({"a", "1", "2"}, limits);
  EXPECT_EQ(u->encoding(), Encoding::kListpack);
  EXPECT_EQ(Print(*u), "a 1 2");
}

TEST(SetValueTest, NeverConvertsBack) {
  const CollectionLimits limits;
  SetPtr s = AddOneByOne(Members(200), limits);
  ASSERT_EQ(s->encoding(), Encoding::kHashtable);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(s->Remove(Member(i)));
  EXPECT_TRUE(s->Add("1", limits));
  EXPECT_EQ(s->encoding(), Encoding::kHashtable);
  ExpectExactMemory(*s);

  SetPtr t = AddOneByOne({"1", "a"}, limits);
  ASSERT_EQ(t->encoding(), Encoding::kListpack);
  EXPECT_TRUE(t->Remove("a"));
  EXPECT_TRUE(t->Add("2", limits));
  EXPECT_EQ(t->encoding(), Encoding::kListpack);
  EXPECT_EQ(Print(*t), "1 2");
}

// SADD on an existing key with n members converts first when n alone is
// past the limit (setTypeMaybeConvert), even if no member is new.
TEST(SetValueTest, PrepareToAddConvertsAsSetTypeMaybeConvert) {
  const CollectionLimits limits;
  SetPtr s = AddOneByOne(Integers(3), limits);
  s->PrepareToAdd(512, limits);
  EXPECT_EQ(s->encoding(), Encoding::kIntset);
  s->PrepareToAdd(513, limits);
  EXPECT_EQ(s->encoding(), Encoding::kHashtable);
  EXPECT_EQ(Print(*s).size(), 5u);  // "0 1 2" in some order
  ExpectExactMemory(*s);

  SetPtr t = AddOneByOne(Members(3), limits);
  t->PrepareToAdd(128, limits);
  EXPECT_EQ(t->encoding(), Encoding::kListpack);
  t->PrepareToAdd(129, limits);
  EXPECT_EQ(t->encoding(), Encoding::kHashtable);
  EXPECT_EQ(Contents(*t), Model({Member(0), Member(1), Member(2)}));
  ExpectExactMemory(*t);
  // A hashtable stays one, with a large hint or not.
  t->PrepareToAdd(1, limits);
  t->PrepareToAdd(100000, limits);
  EXPECT_EQ(t->encoding(), Encoding::kHashtable);
  ExpectExactMemory(*t);
}

TEST(SetValueTest, IntsetWidthsUpgradeAndKeepTheOrder) {
  const CollectionLimits limits;
  SetPtr s(SetValue::Create("0", 1, limits));
  // 100 values of int16 hold in 8 + 100 * 2 bytes.
  for (const std::string& v : Integers(100, -50)) ASSERT_TRUE(s->Add(v, limits));
  EXPECT_GE(BlockUsableBytes(*s), 8u + 100 * 2);
  EXPECT_LT(BlockUsableBytes(*s), 8u + 100 * 4);
  // Values out of the current width are simply absent.
  for (const char* v : {"32768", "-32769", "9223372036854775807", "-9223372036854775808"}) {
    EXPECT_FALSE(s->Contains(v)) << v;
    EXPECT_FALSE(s->Remove(v)) << v;
  }
  // Each boundary: the last value of a width, then the first of the next,
  // above (appended) and below (prepended).
  const std::vector<std::string> boundaries = {"32767",
                                               "-32768",
                                               "32768",
                                               "-32769",
                                               "2147483647",
                                               "-2147483648",
                                               "2147483648",
                                               "-2147483649",
                                               "9223372036854775807",
                                               "-9223372036854775808"};
  Model model;
  for (const std::string& v : Integers(100, -50)) model.insert(v);
  for (const std::string& v : boundaries) {
    ASSERT_TRUE(s->Add(v, limits)) << v;
    model.insert(v);
    ASSERT_EQ(s->encoding(), Encoding::kIntset);
    const std::vector<std::string> order = Order(*s);
    ASSERT_TRUE(std::is_sorted(order.begin(), order.end(), NumericLess)) << v;
    ASSERT_EQ(Model(order.begin(), order.end()), model) << v;
    for (const std::string& m : model) ASSERT_TRUE(s->Contains(m)) << m;
    ExpectExactMemory(*s);
  }
  EXPECT_GE(BlockUsableBytes(*s), 8u + s->size() * 8);
  EXPECT_EQ(Order(*s).front(), "-9223372036854775808");
  EXPECT_EQ(Order(*s).back(), "9223372036854775807");
  // Removing the wide values keeps the width (as Redis) and the rest intact.
  for (const std::string& v : boundaries) {
    ASSERT_TRUE(s->Remove(v)) << v;
    model.erase(v);
  }
  EXPECT_EQ(Contents(*s), model);
  EXPECT_TRUE(s->Add("70000", limits));  // fits the width it has
  EXPECT_TRUE(s->Contains("70000"));
  EXPECT_EQ(Order(*s).back(), "70000");
  ExpectExactMemory(*s);

  // An upgrade that goes straight from int16 to int64, and one from int32.
  SetPtr t = AddOneByOne({"1", "-1", "9223372036854775807"}, limits);
  EXPECT_EQ(Print(*t), "-1 1 9223372036854775807");
  SetPtr u = AddOneByOne({"100000", "-100000", "-9223372036854775808", "5"}, limits);
  EXPECT_EQ(Print(*u), "-9223372036854775808 -100000 5 100000");
}

// Only Redis's canonical integer text is an integer; every other spelling is
// a member of its own, and makes an intset convert.
TEST(SetValueTest, MembersEqualToAnIntegersTextAreDistinctMembers) {
  struct Parse {
    std::string text;
    bool integer;
    int64_t value;
  };
  const Parse parses[] = {
      {"1", true, 1},
      {"0", true, 0},
      {"-1", true, -1},
      {"9223372036854775807", true, INT64_MAX},
      {"-9223372036854775808", true, INT64_MIN},
      {"01", false, 0},
      {"-0", false, 0},
      {"+1", false, 0},
      {" 1", false, 0},
      {"1 ", false, 0},
      {"9223372036854775808", false, 0},
      {"-9223372036854775809", false, 0},
      {"18446744073709551616", false, 0},
      {"99999999999999999999", false, 0},
      {"100000000000000000000", false, 0},
      {"", false, 0},
      {"-", false, 0},
      {"00", false, 0},
      {"1e3", false, 0},
      {"0x10", false, 0},
      {std::string("1\0", 2), false, 0},
  };
  for (const Parse& p : parses) {
    int64_t v = 42;
    EXPECT_EQ(SetValue::ParseInteger(p.text, &v), p.integer) << p.text;
    if (p.integer) {
      EXPECT_EQ(v, p.value) << p.text;
    }
  }

  const CollectionLimits limits;
  for (const char* lookalike : {"01", "-0", "+1", " 1", "9223372036854775808"}) {
    SCOPED_TRACE(lookalike);
    SetPtr s = AddOneByOne({"1", "0", "2"}, limits);
    ASSERT_EQ(s->encoding(), Encoding::kIntset);
    EXPECT_FALSE(s->Contains(lookalike));
    EXPECT_FALSE(s->Remove(lookalike));
    EXPECT_TRUE(s->Add(lookalike, limits));
    EXPECT_EQ(s->encoding(), Encoding::kListpack);
    EXPECT_EQ(Print(*s), std::string("0 1 2 ") + lookalike);
    EXPECT_TRUE(s->Remove(lookalike));
    EXPECT_TRUE(s->Contains("1"));
    EXPECT_TRUE(s->Contains("0"));
    EXPECT_FALSE(s->Add("1", limits));
    EXPECT_EQ(s->size(), 3u);
    // Created with the look-alike first: not an intset.
    SetPtr t(SetValue::Create(lookalike, 1, limits));
    EXPECT_EQ(t->encoding(), Encoding::kListpack);
    EXPECT_TRUE(t->Add(lookalike, limits));
    EXPECT_TRUE(t->Add("1", limits));
    EXPECT_EQ(t->size(), 2u);
  }
  // In a hashtable too, "1" and "01" are two members.
  SetPtr h = AddOneByOne(Members(200), limits);
  EXPECT_TRUE(h->Add("1", limits));
  EXPECT_TRUE(h->Add("01", limits));
  EXPECT_FALSE(h->Add("1", limits));
  EXPECT_TRUE(h->Remove("01"));
  EXPECT_TRUE(h->Contains("1"));
  EXPECT_FALSE(h->Contains("01"));
}

TEST(SetValueTest, OrderPerEncoding) {
  const CollectionLimits limits;
  // Intset: ascending by value, whatever the insertion order.
  SetPtr i = AddOneByOne({"5", "-3", "100000", "2", "-40000", "10"}, limits);
  EXPECT_EQ(Print(*i), "-40000 -3 2 5 10 100000");
  EXPECT_TRUE(i->Remove("5"));
  EXPECT_TRUE(i->Add("7", limits));
  EXPECT_EQ(Print(*i), "-40000 -3 2 7 10 100000");
  // Intset to listpack: the integers ascending, then the new member; from
  // then on insertion order.
  EXPECT_TRUE(i->Add("b", limits));
  EXPECT_TRUE(i->Add("4", limits));
  EXPECT_TRUE(i->Add("a", limits));
  EXPECT_EQ(Print(*i), "-40000 -3 2 7 10 100000 b 4 a");
  // Listpack: insertion order across removes and re-adds.
  SetPtr l = AddOneByOne({"d", "a", "c", "b"}, limits);
  EXPECT_EQ(Print(*l), "d a c b");
  EXPECT_TRUE(l->Remove("a"));
  EXPECT_TRUE(l->Add("a", limits));
  EXPECT_TRUE(l->Add("e", limits));
  EXPECT_TRUE(l->Remove("d"));
  EXPECT_EQ(Print(*l), "c b a e");
  ExpectExactMemory(*l);
}

// A member may be a view into the set it is added to: the listpack must not
// move (or convert) from under it.
TEST(SetValueTest, AddMayReadFromTheSetItself) {
  const CollectionLimits limits;
  for (int n : {4, 200}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    SetPtr s = AddOneByOne(Members(n), limits);
    ASSERT_TRUE(s->Add(std::string(64, 'b'), limits));
    Model model = Contents(*s);
    std::string_view stored, longest;
    s->ForEach([&](std::string_view m) {
      if (m == Member(1)) stored = m;
      if (m.size() == 64) longest = m;
    });
    EXPECT_FALSE(s->Add(stored, limits));
    EXPECT_TRUE(s->Add(stored.substr(1), limits));  // grows the listpack
    model.insert(Member(1).substr(1));
    ASSERT_EQ(Contents(*s), model);
    s->ForEach([&](std::string_view m) {
      if (m.size() == 64) longest = m;
    });
    // 65 bytes, the first 64 read from the listpack: converts while reading.
    std::string big(longest);
    big += 'x';
    s->ForEach([&](std::string_view m) {
      if (m.size() == 64) longest = m;
    });
    EXPECT_TRUE(s->Add(std::string(longest) + "x", limits));
    model.insert(big);
    EXPECT_EQ(s->encoding(), Encoding::kHashtable);
    s->ForEach([&](std::string_view m) {
      if (m == big) longest = m;
    });
    EXPECT_TRUE(s->Add(longest.substr(2), limits));  // a view into a table entry
    model.insert(big.substr(2));
    ASSERT_EQ(Contents(*s), model);
    ExpectExactMemory(*s);
  }
  // A listpack view that forces the conversion by count.
  SetPtr full = AddOneByOne(Members(128), limits);
  std::string_view view;
  full->ForEach([&](std::string_view m) {
    if (m == Member(5)) view = m;
  });
  EXPECT_TRUE(full->Add(view.substr(0, 7), limits));  // "member:"
  EXPECT_EQ(full->encoding(), Encoding::kHashtable);
  EXPECT_TRUE(full->Contains("member:"));
  EXPECT_TRUE(full->Contains(Member(5)));
}

TEST(SetValueTest, ScanOfSmallEncodingsReturnsEverythingAndZero) {
  for (const auto& members : {Integers(300), Members(50)}) {
    SetPtr s = SetOf(members);
    ASSERT_NE(s->encoding(), Encoding::kHashtable);
    std::vector<std::string> seen;
    EXPECT_EQ(s->Scan(0, 1, [&](std::string_view m) { seen.emplace_back(m); }), 0u);
    EXPECT_EQ(seen, Order(*s));
  }
}

TEST(SetValueTest, ScanOfAStableTableReturnsEachMemberOnce) {
  SetPtr s = SetOf(Members(5000));
  const Model model = Contents(*s);
  for (size_t count : {0, 1, 10, 1000}) {
    SCOPED_TRACE("count=" + std::to_string(count));
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    do {
      cursor = s->Scan(cursor, count, [&](std::string_view m) {
        EXPECT_TRUE(model.contains(std::string(m)));
        ++seen[std::string(m)];
      });
    } while (cursor != 0);
    EXPECT_EQ(seen.size(), model.size());
    for (const auto& [member, n] : seen) EXPECT_EQ(n, 1) << member;
  }
}

// Members present for the whole iteration are returned at least once while
// the table grows (several doublings) and then shrinks (below 1/8 load)
// between calls; every member returned is stored at that moment.
TEST(SetValueTest, ScanReturnsEveryStableMemberAcrossGrowthAndShrink) {
  const CollectionLimits limits;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const int kStable = 1000;
    SetPtr s = SetOf(Members(kStable), limits);
    Model model = Contents(*s);
    std::vector<std::string> transient;
    int next = kStable;
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    do {
      cursor = s->Scan(cursor, 1 + rng() % 20, [&](std::string_view m) {
        ASSERT_TRUE(model.contains(std::string(m))) << "returned a member not stored: " << m;
        seen.emplace(m);
      });
      if (calls < 40) {  // grow to about 30 times the size
        for (int i = 0; i < 700; ++i, ++next) {
          ASSERT_TRUE(s->Add(Member(next), limits));
          model.insert(Member(next));
          transient.push_back(Member(next));
        }
      } else {  // then drain back to the stable members, in random order
        for (int i = 0; i < 500 && !transient.empty(); ++i) {
          std::swap(transient[rng() % transient.size()], transient.back());
          ASSERT_TRUE(s->Remove(transient.back()));
          model.erase(transient.back());
          transient.pop_back();
        }
      }
      ++calls;
    } while (cursor != 0);
    EXPECT_TRUE(transient.empty()) << "the iteration ended before the shrink; make it longer";
    for (int i = 0; i < kStable; ++i) EXPECT_TRUE(seen.contains(Member(i))) << Member(i);
    ExpectExactMemory(*s);
  }
}

TEST(SetValueTest, RandomReachesEveryMemberUniformly) {
  struct Case {
    std::vector<std::string> members;
    Encoding expected;
  };
  const Case cases[] = {
      {{"7"}, Encoding::kIntset},
      {Integers(20, -10), Encoding::kIntset},
      {Integers(500, -100000, 397), Encoding::kIntset},
      {Members(1), Encoding::kListpack},
      {Members(20), Encoding::kListpack},
      {Members(128), Encoding::kListpack},
      {Members(129), Encoding::kHashtable},
      {Members(1000), Encoding::kHashtable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.members.size()) + " " + Name(c.expected));
    SetPtr s = AddOneByOne(c.members);
    ASSERT_EQ(s->encoding(), c.expected);
    // Remove some so that a table is sparse and has a resize pending.
    for (size_t i = 0; i < c.members.size() / 2; i += 2) s->Remove(c.members[i]);
    const Model model = Contents(*s);
    std::mt19937_64 rng(c.members.size());
    std::map<std::string, int> hits;
    const int kPerMember = 400;
    const int draws = kPerMember * static_cast<int>(model.size());
    for (int i = 0; i < draws; ++i) {
      const std::string m = s->Random(rng);
      ASSERT_TRUE(model.contains(m)) << m;
      ++hits[m];
    }
    ASSERT_EQ(hits.size(), model.size());
    // Binomial(draws, 1/size): the mean is 400 and the deviation 20, so
    // 250..550 is over 7 deviations either way.
    for (const auto& [member, count] : hits) {
      EXPECT_GT(count, 250) << member;
      EXPECT_LT(count, 550) << member;
    }
  }
}

TEST(SetValueTest, SerializeWritesTheDocumentedForm) {
  const CollectionLimits limits;
  // Intset: ascending by value.
  SetPtr i = AddOneByOne({"10", "-5", "3"}, limits);
  std::string out = "prefix";
  i->Serialize(&out);
  EXPECT_EQ(out, std::string("prefix\3\2-5\0013\00210"));
  EXPECT_EQ(out, "prefix" + Encode({"-5", "3", "10"}));
  // Listpack: insertion order, with a length of two varint bytes.
  const CollectionLimits wide = Limits(512, 128, 1000);
  SetPtr l = AddOneByOne({"b", std::string(200, 'a'), ""}, wide);
  ASSERT_EQ(l->encoding(), Encoding::kListpack);
  out.clear();
  l->Serialize(&out);
  EXPECT_EQ(out, Encode({"b", std::string(200, 'a'), ""}));
  EXPECT_EQ(out.substr(0, 5), "\3\1b\310\1");  // 200 as two varint bytes
  // Hashtable: sorted by bytes (unsigned), whatever the bucket order.
  std::vector<std::string> members = Members(300);
  members.push_back(std::string("\xff", 1));
  members.push_back(std::string("\0", 1));
  SetPtr h = AddOneByOne(members, limits);
  ASSERT_EQ(h->encoding(), Encoding::kHashtable);
  out.clear();
  h->Serialize(&out);
  std::sort(members.begin(), members.end());
  EXPECT_EQ(out, Encode(members));
  // And back, with a length of three varint bytes too.
  h->Add(std::string(20000, 'v'), limits);
  out.clear();
  h->Serialize(&out);
  SetPtr back(SetValue::Deserialize(out, limits));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(Contents(*back), Contents(*h));
}

// Replicas compare states: two nodes that built the same intset or
// hashtable in different orders (and with different bucket layouts) must
// write the same bytes.
TEST(SetValueTest, EqualSetsSerializeToTheSameBytes) {
  const CollectionLimits limits;
  for (const auto& members : {Integers(300, -150), Members(1000)}) {
    std::vector<std::string> shuffled = members;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(7));
    SetPtr a = AddOneByOne(members, limits);
    SetPtr b = AddOneByOne(shuffled, limits);
    // b also went through growth and a shrink (a table) or an insert and
    // removal in the middle (an intset).
    const bool integers = a->encoding() == Encoding::kIntset;
    auto transient = [&](int i) {
      return integers ? std::to_string(7 + i * 3) : "transient:" + std::to_string(i);
    };
    for (int i = 0; i < (integers ? 200 : 3000); ++i) b->Add(transient(i), limits);
    for (int i = 0; i < (integers ? 200 : 3000); ++i) b->Remove(transient(i));
    for (const std::string& m : members) b->Add(m, limits);  // what the intset lost
    ASSERT_EQ(a->encoding(), b->encoding());
    std::string bytes_a, bytes_b;
    a->Serialize(&bytes_a);
    b->Serialize(&bytes_b);
    EXPECT_EQ(bytes_a, bytes_b) << Name(a->encoding());
  }
}

TEST(SetValueTest, SerializeRoundTripsEveryEncoding) {
  const CollectionLimits limits;
  struct Case {
    std::vector<std::string> members;
    Encoding expected;
  };
  std::vector<std::string> with_binary = Members(5);
  with_binary.push_back(std::string("binary\0member\xff", 14));
  with_binary.push_back("");
  const Case cases[] = {
      {{"1"}, Encoding::kIntset},
      {Integers(512, -9223372036854775807, 18014398509481983), Encoding::kIntset},
      {with_binary, Encoding::kListpack},
      {Members(128), Encoding::kListpack},
      {Members(129), Encoding::kHashtable},
      {Members(3000), Encoding::kHashtable},
      {Integers(513), Encoding::kHashtable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.members.size()) + " " + Name(c.expected));
    SetPtr s = AddOneByOne(c.members, limits);
    ASSERT_EQ(s->encoding(), c.expected);
    std::string bytes;
    s->Serialize(&bytes);
    SetPtr back(SetValue::Deserialize(bytes, limits));
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->encoding(), c.expected);
    EXPECT_EQ(Contents(*back), Contents(*s));
    if (c.expected != Encoding::kHashtable) {
      EXPECT_EQ(Order(*back), Order(*s));
    }
    std::string again;
    back->Serialize(&again);
    EXPECT_EQ(again, bytes);
    ExpectExactMemory(*back);
  }
}

// The encoding comes from the limits given, as Create(first, count) and an
// Add of each member in order would choose it.
TEST(SetValueTest, DeserializeChoosesTheEncodingAsCreateAndAdd) {
  struct Case {
    const char* name;
    std::vector<std::string> members;
    CollectionLimits limits;
    Encoding expected;
  };
  std::vector<std::string> ints_then_text = Integers(10);
  ints_then_text.push_back("text");
  std::vector<std::string> long_last = Members(3);
  long_last.push_back(std::string(65, 'x'));
  const Case cases[] = {
      {"300 integers", Integers(300), {}, Encoding::kIntset},
      {"600 integers: past the intset limit by count", Integers(600), {}, Encoding::kHashtable},
      {"600 integers, larger limit", Integers(600), Limits(1000, 128, 64), Encoding::kIntset},
      {"integers then text", ints_then_text, {}, Encoding::kListpack},
      {"integers then text, small listpack", ints_then_text, Limits(512, 10, 64),
       Encoding::kHashtable},
      {"200 members, larger limit", Members(200), Limits(512, 200, 64), Encoding::kListpack},
      {"5 members, tiny value limit", Members(5), Limits(512, 128, 5), Encoding::kHashtable},
      {"a long member last", long_last, {}, Encoding::kHashtable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SetPtr s(SetValue::Deserialize(Encode(c.members), c.limits));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->encoding(), c.expected) << Name(s->encoding());
    EXPECT_EQ(Contents(*s), Model(c.members.begin(), c.members.end()));
    ExpectExactMemory(*s);
  }
  // A hashtable of 300 integers (it was once over the intset limit) comes
  // back as an intset: the encoding is the receiver's choice.
  SetPtr big = AddOneByOne(Integers(600));
  for (int i = 300; i < 600; ++i) big->Remove(std::to_string(i));
  ASSERT_EQ(big->encoding(), Encoding::kHashtable);
  std::string bytes;
  big->Serialize(&bytes);
  SetPtr back(SetValue::Deserialize(bytes, {}));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->encoding(), Encoding::kIntset);
  EXPECT_EQ(Contents(*back), Contents(*big));
}

TEST(SetValueTest, DeserializeRejectsMalformedInput) {
  const std::string valid = Encode({"f", "g"});
  std::vector<std::string> dup_late = Members(200);
  dup_late.push_back(Member(7));  // a duplicate after the conversion
  std::vector<std::string> dup_int = Integers(50);
  dup_int.push_back("7");
  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case cases[] = {
      {"empty input", ""},
      {"empty set", Encode({})},
      {"truncated count", "\x80"},
      {"count without members", "\x01"},
      {"count beyond the bytes", "\x05" + valid.substr(1)},
      {"count beyond what unique members could take",
       "\x03\x00\x00\x01"
       "a"},
      {"huge count", "\xff\xff\xff\xff\xff\xff\xff\xff\x7f" + valid.substr(1)},
      {"count over 64 bits", std::string(10, '\xff') + "\x01" + valid.substr(1)},
      {"count varint of 11 bytes", std::string(10, '\x80') + '\0' + valid.substr(1)},
      {"tenth varint byte over 1", std::string(9, '\x80') + "\x02" + valid.substr(1)},
      // Octal escapes: a hex escape would swallow the letter after it.
      {"length beyond the bytes", "\1\5ab"},
      {"huge length", "\1\377\377\377\377\17a"},
      {"length 2^64-1", "\1" + std::string(9, '\xff') + "\1a"},
      {"truncated length", "\2\1a\200"},
      {"trailing bytes", valid + "x"},
      {"fewer members than counted", "\x03" + valid.substr(1)},
      {"duplicate member", Encode({"f", "f"})},
      {"duplicate empty member", Encode({"", "a", ""})},
      {"duplicate integer", Encode(dup_int)},
      {"duplicate member in a hashtable", Encode(dup_late)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SetValue::Deserialize(c.bytes, {}), nullptr) << c.name;
  }
  SetPtr ok(SetValue::Deserialize(valid, {}));
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(Print(*ok), "f g");
  SetPtr with_empty(SetValue::Deserialize(Encode({"", "a"}), {}));
  ASSERT_NE(with_empty, nullptr);
  EXPECT_EQ(with_empty->size(), 2u);
}

// The smallest distinct members (two bytes: three with the length) cost the
// most heap per input byte; that must stay a small multiple.
TEST(SetValueTest, DeserializeAllocatesInProportionToItsInput) {
  std::vector<std::string> members;
  for (int i = 0; i < 30000; ++i) {
    members.push_back(std::string{static_cast<char>(i & 0x7f), static_cast<char>(i >> 7)});
  }
  const std::string bytes = Encode(members);
  SetPtr s(SetValue::Deserialize(bytes, {}));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->size(), members.size());
  std::printf("[ bytes    ] %zu input bytes, %zu heap bytes\n", bytes.size(), s->memory_bytes());
  EXPECT_LT(s->memory_bytes(), 16 * bytes.size());
}

// A decoded set must be consistent whatever the input: sizes, contents and
// memory agree, and it serializes to something that decodes to the same.
void ExpectConsistent(const SetValue& s) {
  const Model contents = Contents(s);
  EXPECT_EQ(contents.size(), s.size());
  EXPECT_GT(s.size(), 0u);
  for (const std::string& m : contents) EXPECT_TRUE(s.Contains(m));
  ExpectExactMemory(s);
  std::string bytes;
  s.Serialize(&bytes);
  SetPtr again(SetValue::Deserialize(bytes, {}));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Contents(*again), contents);
}

TEST(SetValueTest, DeserializeSurvivesFlipsAndTruncations) {
  std::vector<std::string> valid;
  for (const auto& members : {Integers(1), Integers(3, -1), Integers(40, -20, 1001),
                              Integers(600, 7, 3), Members(3), Members(40), Members(300)}) {
    std::string bytes;
    SetOf(members)->Serialize(&bytes);
    valid.push_back(bytes);
  }
  valid.push_back(Encode({std::string(300, 'f'), std::string(20000, 'v'), ""}));

  const int accepted = value_testing::DecodeDamagedForms<SetValue>(
      valid, [](const SetValue& v) { ExpectConsistent(v); });
  // Flipping a byte of a member keeps the input valid, so some must decode
  // (the consistency checks above did run).
  EXPECT_GT(accepted, 100);
}

TEST(SetValueTest, CloneIsADeepCopyWithTheSameEncodingAndOrder) {
  const CollectionLimits limits;
  const std::vector<std::string> inputs[] = {{},           Integers(7, -3, 40000), Integers(512),
                                             Members(7),   Members(128),           Members(129),
                                             Members(2000)};
  for (const auto& members : inputs) {
    SCOPED_TRACE(std::to_string(members.size()));
    SetPtr s(SetValue::Create(members.empty() ? "1" : members[0], 1, limits));
    for (const std::string& m : members) s->Add(m, limits);
    for (size_t i = 0; i < members.size(); i += 3) s->Remove(members[i]);  // maybe mid-rehash
    SetPtr copy(SetValue::Clone(*s));
    EXPECT_EQ(copy->encoding(), s->encoding());
    EXPECT_EQ(Print(*copy), Print(*s));
    EXPECT_EQ(copy->size(), s->size());
    ExpectExactMemory(*copy);
    // Independent: changing one leaves the other as it was.
    const std::string before = Print(*copy);
    s->Add("new", limits);
    s->Add("-77", limits);
    if (members.size() > 2) s->Remove(members[1]);
    EXPECT_EQ(Print(*copy), before);
    copy->Add("only in the copy", limits);
    EXPECT_FALSE(s->Contains("only in the copy"));
    ExpectExactMemory(*copy);
  }
}

TEST(SetValueTest, MemoryBytesIsTheSumOfUsableSizes) {
  const CollectionLimits limits;
  SetPtr s(SetValue::Create("1", 1, limits));
  ExpectExactMemory(*s);
  // An intset through its width upgrades and reallocations.
  for (int i = 0; i < 500; ++i) {
    const int64_t v = i % 3 == 0 ? int64_t{i} << 40 : i % 3 == 1 ? -i * 1000 : i;
    s->Add(std::to_string(v), limits);
    if (i % 25 == 0) ExpectExactMemory(*s);
  }
  ASSERT_EQ(s->encoding(), Encoding::kIntset);
  for (int i = 0; i < 500; i += 2) s->Remove(std::to_string(i));
  ExpectExactMemory(*s);
  // Listpack, conversion, table growth and the two bucket arrays of a
  // rehash (the sum is not monotonic: finishing a rehash frees the old array).
  SetPtr t(SetValue::Create("a", 1, limits));
  for (int i = 0; i < 5000; ++i) {
    t->Add(Member(i), limits);
    if (i % 50 == 0 || i == 127 || i == 128) ExpectExactMemory(*t);
  }
  EXPECT_GT(t->memory_bytes(), 5000u * 24);
  for (int i = 0; i < 5000; ++i) {
    t->Remove(Member(i));
    if (i % 50 == 0) ExpectExactMemory(*t);
  }
  EXPECT_EQ(t->size(), 0u);
  ExpectExactMemory(*t);
  // An intset to a listpack, and to a hashtable by count.
  SetPtr u = AddOneByOne(Integers(100), limits);
  u->Add("x", limits);
  ASSERT_EQ(u->encoding(), Encoding::kListpack);
  ExpectExactMemory(*u);
  SetPtr v = AddOneByOne(Integers(513), limits);
  ASSERT_EQ(v->encoding(), Encoding::kHashtable);
  ExpectExactMemory(*v);
}

// Not a check of exact numbers (they depend on the allocator) but of the
// design target: fewer heap bytes per member such as "member:123456" than
// Redis 7's 56-64. Prints the measurement.
TEST(SetValueTest, BytesPerMemberOf13ByteMembers) {
  const CollectionLimits limits;
  char member[32];
  for (int n : {100, 1000, 100000, 1000000}) {
    SetPtr s(SetValue::Create("member:000000", 1, limits));
    for (int i = 0; i < n; ++i) {
      std::snprintf(member, sizeof member, "member:%06d", i);
      s->Add({member, 13}, limits);
    }
    ASSERT_EQ(s->size(), static_cast<size_t>(n));
    ExpectExactMemory(*s);
    const double per_member = static_cast<double>(s->memory_bytes()) / n;
    std::printf("[ bytes    ] %d members (%s): %.1f bytes per member\n", n, Name(s->encoding()),
                per_member);
    EXPECT_LT(per_member, 56.0);
  }
  // Integers, for comparison: an intset, then a table past 512.
  for (int n : {512, 100000}) {
    SetPtr s(SetValue::Create("0", 1, limits));
    for (int i = 0; i < n; ++i) s->Add(std::to_string(i * 7919), limits);
    ExpectExactMemory(*s);
    std::printf("[ bytes    ] %d integers (%s): %.1f bytes per member\n", n, Name(s->encoding()),
                static_cast<double>(s->memory_bytes()) / n);
  }
}

}  // namespace
}  // namespace causalkv::store
