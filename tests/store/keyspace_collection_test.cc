// Typed values in the keyspace (keyspace.h, value_type.h): ownership by the
// key block through every path that drops, replaces, moves or copies it;
// memory accounting; the one-value rule in causal mode, where concurrent
// writes stay siblings and the newest is the visible value; and the plain-data
// round trip (KeyState, restore).
#include <gtest/gtest.h>

#include <malloc.h>

#include <map>
#include <string>

#include "causalkv/store/store.h"

namespace causalkv::store {
namespace {

constexpr ActorId kSelf = 0x1111;
constexpr ActorId kPeer = 0x2222;

using Fields = std::map<std::string, std::string>;

OpStatus HSet(Keyspace& ks, const std::string& key, const Fields& fields) {
  return ks.UpdateTyped<HashValue>(key, true, [&](HashValue* h) {
    for (const auto& [f, v] : fields) h->Set(f, v, ks.collection_limits());
    return true;
  });
}

// The hash of `key`, or {"<status>"} when it cannot be read as one.
Fields HGetAll(Keyspace& ks, const std::string& key) {
  const HashValue* h = nullptr;
  const OpStatus status = ks.FindTyped(key, &h);
  if (status != OpStatus::kOk) return {{"<status>", std::to_string(static_cast<int>(status))}};
  Fields out;
  h->ForEach([&](std::string_view f, std::string_view v) { out.emplace(f, v); });
  return out;
}

Fields Many(int n) {
  Fields f;
  for (int i = 0; i < n; ++i) f["field:" + std::to_string(i)] = "value:" + std::to_string(i);
  return f;
}

class SingleNodeCollectionTest : public ::testing::Test {
 protected:
  SingleNodeCollectionTest() : store_(2, 7) { store_.set_now_ms(1'700'000'000'000); }
  Keyspace& db() { return store_.db(0); }
  Store store_;
};

TEST_F(SingleNodeCollectionTest, WritesTakeVersionsAndAnEmptiedHashIsDeleted) {
  ASSERT_EQ(HSet(db(), "h", {{"a", "1"}}), OpStatus::kOk);
  const Version first = db().FindReadOnly("h")->max_version();
  ASSERT_EQ(HSet(db(), "h", {{"b", "2"}}), OpStatus::kOk);
  EXPECT_GT(db().FindReadOnly("h")->max_version(), first);
  EXPECT_EQ(db().FindReadOnly("h")->size(), 1u);
  ValueType type;
  ASSERT_TRUE(db().TypeOf("h", &type));
  EXPECT_EQ(type, ValueType::kHash);
  // A change that changes nothing takes no version.
  const Version before = db().FindReadOnly("h")->max_version();
  ASSERT_EQ(db().UpdateTyped<HashValue>("h", false, [](HashValue*) { return false; }),
            OpStatus::kOk);
  EXPECT_EQ(db().FindReadOnly("h")->max_version(), before);
  ASSERT_EQ(db().UpdateTyped<HashValue>("h", false,
                                        [](HashValue* h) { return h->Erase("a") | h->Erase("b"); }),
            OpStatus::kOk);
  EXPECT_EQ(db().FindReadOnly("h"), nullptr);
  EXPECT_EQ(db().UpdateTyped<HashValue>("h", false, [](HashValue*) { return true; }),
            OpStatus::kNotFound);
  // Creating nothing leaves nothing.
  ASSERT_EQ(db().UpdateTyped<HashValue>("h", true, [](HashValue*) { return true; }), OpStatus::kOk);
  EXPECT_EQ(db().FindReadOnly("h"), nullptr);
}

TEST_F(SingleNodeCollectionTest, TypesRefuseEachOther) {
  ASSERT_EQ(db().Set("s", "v", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(HSet(db(), "s", {{"a", "1"}}), OpStatus::kWrongType);
  ASSERT_EQ(HSet(db(), "h", {{"a", "1"}}), OpStatus::kOk);
  EXPECT_EQ(db().Rewrite("h", [](const SiblingSet*, std::string_view* v) {
    *v = "x";
    return true;
  }),
            OpStatus::kWrongType);
  const SiblingSet* after = nullptr;
  EXPECT_EQ(db().VPut("h", Version(), "x", TtlUpdate::Keep(), &after), OpStatus::kWrongType);
  EXPECT_EQ(db().VDel("h", db().FindReadOnly("h")->max_version(), &after), OpStatus::kWrongType);
  EXPECT_EQ(HGetAll(db(), "h"), (Fields{{"a", "1"}}));
  // SET replaces any type, as in Redis.
  ASSERT_EQ(db().Set("h", "now a string", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_TRUE(db().FindReadOnly("h")->holds_string());
}

TEST_F(SingleNodeCollectionTest, MemoryFollowsTheValueThroughEveryPath) {
  const size_t empty = db().memory_bytes();
  ASSERT_EQ(HSet(db(), "h", Many(600)), OpStatus::kOk);  // a table
  const SiblingSet* set = db().FindReadOnly("h");
  const size_t hash_bytes =
      static_cast<const HashValue*>(set->newest().object())->memory_bytes();
  EXPECT_GT(hash_bytes, 600u * 20);
  EXPECT_EQ(db().memory_bytes() - empty,
            malloc_usable_size(const_cast<SiblingSet*>(set)) + hash_bytes);
  // Moved, renamed, expired, overwritten, deleted: always the same sum.
  ASSERT_EQ(db().Rename("h", "h2", false), OpStatus::kOk);
  EXPECT_EQ(HGetAll(db(), "h2"), Many(600));
  ASSERT_EQ(db().MoveTo("h2", &store_.db(1)), OpStatus::kOk);
  EXPECT_EQ(db().memory_bytes(), empty);
  EXPECT_EQ(HGetAll(store_.db(1), "h2"), Many(600));
  ASSERT_EQ(store_.db(1).Set("h2", "plain", TtlUpdate::Clear()), OpStatus::kOk);
  const SiblingSet* plain = store_.db(1).FindReadOnly("h2");
  EXPECT_EQ(store_.db(1).memory_bytes() - empty,
            malloc_usable_size(const_cast<SiblingSet*>(plain)));
  ASSERT_EQ(HSet(db(), "x", Many(10)), OpStatus::kOk);
  ASSERT_TRUE(db().SetExpire("x", store_.now_ms() + 1000));
  ASSERT_EQ(HSet(db(), "x", {{"extra", "x"}}), OpStatus::kOk);  // keeps the TTL
  EXPECT_EQ(db().FindReadOnly("x")->expire_at_ms(), store_.now_ms() + 1000);
  ASSERT_TRUE(db().Persist("x"));
  ASSERT_TRUE(db().Delete("x"));
  EXPECT_EQ(db().memory_bytes(), empty + sizeof(SiblingSet*));  // the TTL index keeps its slot
}

TEST_F(SingleNodeCollectionTest, RestoreDecodesThePlainDataForm) {
  ASSERT_EQ(HSet(db(), "h", Many(200)), OpStatus::kOk);
  const SiblingSet* set = db().FindReadOnly("h");
  std::string bytes;
  SerializeTypedValue(ValueType::kHash, set->newest().object(), &bytes);
  const Sibling loaded{Version(3), bytes, ValueType::kHash};
  ASSERT_EQ(store_.db(1).Restore("h", SiblingSet::kNoExpire, {&loaded, 1}), OpStatus::kOk);
  EXPECT_EQ(HGetAll(store_.db(1), "h"), Many(200));
  const Sibling broken{Version(4), "\x05garbage", ValueType::kHash};
  EXPECT_EQ(store_.db(1).Restore("h", SiblingSet::kNoExpire, {&broken, 1}),
            OpStatus::kMalformedValue);
  EXPECT_EQ(HGetAll(store_.db(1), "h"), Many(200));  // unchanged
}

class CausalCollectionTest : public ::testing::Test {
 protected:
  CausalCollectionTest() : a_(1, 7), b_(1, 7) {
    a_.EnableCausal(kSelf);
    b_.EnableCausal(kPeer);
    a_.set_now_ms(1'700'000'000'000);
    b_.set_now_ms(1'700'000'000'000);
  }
  static void Copy(Store& from, Store& to, const char* key) {
    KeyState state;
    ASSERT_TRUE(from.db(0).GetState(key, &state)) << key;
    bool changed;
    ASSERT_EQ(to.db(0).MergeState(key, state, &changed), OpStatus::kOk);
  }
  Store a_;
  Store b_;
};

TEST_F(CausalCollectionTest, ConcurrentWritesConvergeToTheNewestWholeValue) {
  ASSERT_EQ(HSet(a_.db(0), "k", {{"base", "0"}}), OpStatus::kOk);
  Copy(a_, b_, "k");
  ASSERT_EQ(HSet(a_.db(0), "k", {{"from-a", "1"}}), OpStatus::kOk);
  b_.set_now_ms(b_.now_ms() + 5000);  // B's write is the newer one
  ASSERT_EQ(HSet(b_.db(0), "k", {{"from-b", "1"}}), OpStatus::kOk);
  Copy(a_, b_, "k");
  Copy(b_, a_, "k");
  KeyState on_a, on_b;
  ASSERT_TRUE(a_.db(0).GetState("k", &on_a));
  ASSERT_TRUE(b_.db(0).GetState("k", &on_b));
  EXPECT_EQ(on_a, on_b);
  EXPECT_EQ(on_a.siblings.size(), 2u);  // kept, so that every merge order agrees
  const Fields newest{{"base", "0"}, {"from-b", "1"}};
  EXPECT_EQ(HGetAll(a_.db(0), "k"), newest);
  EXPECT_EQ(HGetAll(b_.db(0), "k"), newest);
  // The next write through either node replaces the other value.
  ASSERT_EQ(HSet(a_.db(0), "k", {{"after", "x"}}), OpStatus::kOk);
  ASSERT_TRUE(a_.db(0).GetState("k", &on_a));
  ASSERT_EQ(on_a.siblings.size(), 1u);
  Copy(a_, b_, "k");
  EXPECT_EQ(HGetAll(b_.db(0), "k"), (Fields{{"base", "0"}, {"from-b", "1"}, {"after", "x"}}));
  EXPECT_EQ(a_.db(0).memory_bytes() > 0, true);
}

TEST_F(CausalCollectionTest, StringAndHashSiblingsShowTheNewestType) {
  ASSERT_EQ(HSet(a_.db(0), "k", {{"f", "v"}}), OpStatus::kOk);
  b_.set_now_ms(b_.now_ms() + 5000);
  ASSERT_EQ(b_.db(0).Set("k", "string", TtlUpdate::Clear()), OpStatus::kOk);
  Copy(a_, b_, "k");
  Copy(b_, a_, "k");
  for (Store* s : {&a_, &b_}) {
    const SiblingSet* set = s->db(0).FindReadOnly("k");
    ASSERT_NE(set, nullptr);
    EXPECT_EQ(set->size(), 2u);
    EXPECT_TRUE(set->holds_string());
    EXPECT_EQ(set->newest().value, "string");
    EXPECT_EQ(HSet(s->db(0), "k", {{"x", "y"}}), OpStatus::kWrongType);
  }
  // A VPUT that does not cover the hash keeps it (the state path), and the
  // hash's memory moves with it.
  const SiblingSet* after = nullptr;
  ASSERT_EQ(a_.db(0).VPutCausal("k", VersionVector(), "blind", TtlUpdate::Keep(), &after),
            OpStatus::kOk);
  EXPECT_EQ(after->size(), 3u);
  // SET replaces both.
  ASSERT_EQ(a_.db(0).Set("k", "final", TtlUpdate::Clear()), OpStatus::kOk);
  EXPECT_EQ(a_.db(0).FindReadOnly("k")->size(), 1u);
  EXPECT_FALSE(a_.db(0).FindReadOnly("k")->has_typed());
}

TEST_F(CausalCollectionTest, DeleteAndRenameAndMalformedStates) {
  ASSERT_EQ(HSet(a_.db(0), "k", Many(300)), OpStatus::kOk);
  ASSERT_EQ(a_.db(0).Rename("k", "k2", false), OpStatus::kOk);
  EXPECT_EQ(HGetAll(a_.db(0), "k2"), Many(300));
  Copy(a_, b_, "k2");
  EXPECT_EQ(HGetAll(b_.db(0), "k2"), Many(300));
  ASSERT_TRUE(a_.db(0).Delete("k2"));
  Copy(a_, b_, "k2");
  EXPECT_EQ(b_.db(0).FindReadOnly("k2"), nullptr);
  // A peer's state whose collection does not decode changes nothing.
  KeyState state;
  ASSERT_EQ(HSet(a_.db(0), "h", {{"f", "v"}}), OpStatus::kOk);
  ASSERT_TRUE(a_.db(0).GetState("h", &state));
  state.siblings[0].value = "\x07truncated";
  bool changed = true;
  EXPECT_EQ(b_.db(0).MergeState("h", state, &changed), OpStatus::kMalformedValue);
  EXPECT_EQ(b_.db(0).FindReadOnly("h"), nullptr);
  // The encoded form keeps the type.
  ASSERT_TRUE(a_.db(0).GetState("h", &state));
  std::string encoded, why;
  EncodeKeyState(state, &encoded);
  std::string_view in = encoded;
  KeyState decoded;
  ASSERT_TRUE(DecodeKeyState(&in, &decoded, &why)) << why;
  EXPECT_EQ(decoded, state);
  EXPECT_EQ(decoded.siblings[0].type, ValueType::kHash);
}

}  // namespace
}  // namespace causalkv::store
