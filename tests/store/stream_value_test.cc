// Tests of the stream value type: node splitting at the stream-node-max-*
// limits, XDEL flags and node freeing, trimming (exact, approximate, LIMIT,
// MINID), ID edge cases, Redis 7's first-ID / lag bookkeeping, the
// serialized form (round trip, hostile variants), Clone, and a randomized
// run against a std::map model.
#include "causalkv/store/stream_value.h"
#include "causalkv/store/store.h"
#include "value_test_support.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace causalkv::store {
namespace {

struct Destroyer {
  void operator()(StreamValue* s) const { StreamValue::Destroy(s); }
};
using StreamPtr = std::unique_ptr<StreamValue, Destroyer>;
using Model = std::map<StreamId, std::vector<std::string>>;

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

// Every live entry in order, as "ms-seq f=v f=v;".
std::string Print(const StreamValue& s, bool reverse = false) {
  std::string out;
  s.Range({}, StreamId::Max(), reverse, [&](StreamId id, const std::vector<std::string_view>& fv) {
    out += id.ToString();
    for (size_t i = 0; i < fv.size(); i += 2) {
      out += " " + std::string(fv[i]) + "=" + std::string(fv[i + 1]);
    }
    out += ";";
    return true;
  });
  return out;
}

std::string PrintModel(const Model& m) {
  std::string out;
  for (const auto& [id, fv] : m) {
    out += id.ToString();
    for (size_t i = 0; i < fv.size(); i += 2) out += " " + fv[i] + "=" + fv[i + 1];
    out += ";";
  }
  return out;
}

StreamPtr StreamOf(int n, const CollectionLimits& limits) {
  StreamPtr s(StreamValue::Create());
  for (int i = 1; i <= n; ++i) {
    std::vector<std::string> fv = {"f", "v" + std::to_string(i)};
    s->Append({static_cast<uint64_t>(i), 0}, Views(fv), limits);
  }
  return s;
}

std::string Serialized(const StreamValue& s) {
  std::string out;
  s.Serialize(&out);
  return out;
}

TEST(StreamValueTest, AppendAndRangeBothWays) {
  const CollectionLimits limits;
  StreamPtr s(StreamValue::Create());
  std::vector<std::string> a = {"name", "ann", "age", "3"};
  std::vector<std::string> b = {"name", "bob", "age", "4"};
  std::vector<std::string> c = {"other", "x"};
  s->Append({5, 0}, Views(a), limits);
  s->Append({5, 1}, Views(b), limits);
  s->Append({9, 7}, Views(c), limits);
  EXPECT_EQ(Print(*s), "5-0 name=ann age=3;5-1 name=bob age=4;9-7 other=x;");
  EXPECT_EQ(Print(*s, true), "9-7 other=x;5-1 name=bob age=4;5-0 name=ann age=3;");
  EXPECT_EQ(s->size(), 3u);
  EXPECT_EQ(s->last_id(), (StreamId{9, 7}));
  EXPECT_EQ(s->first_id(), (StreamId{5, 0}));
  EXPECT_EQ(s->LastEntryId(), (StreamId{9, 7}));
  EXPECT_EQ(s->entries_added(), 3u);
  EXPECT_EQ(s->node_count(), 1u);
  std::vector<std::string_view> fv;
  ASSERT_TRUE(s->Lookup({5, 1}, &fv));
  EXPECT_EQ(fv[1], "bob");
  EXPECT_FALSE(s->Lookup({5, 2}, &fv));
}

TEST(StreamValueTest, NodesSplitAtTheEntryAndByteLimits) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 10;
  StreamPtr s = StreamOf(35, limits);
  EXPECT_EQ(s->node_count(), 4u);
  limits.stream_node_max_entries = 0;
  limits.stream_node_max_bytes = 100;
  StreamPtr t = StreamOf(100, limits);
  EXPECT_GT(t->node_count(), 5u);
  EXPECT_LT(t->node_count(), 50u);
  // An entry bigger than the byte limit gets a node of its own.
  std::vector<std::string> big = {"f", std::string(500, 'x')};
  t->Append({1000, 0}, Views(big), limits);
  std::vector<std::string> small = {"f", "y"};
  t->Append({1001, 0}, Views(small), limits);
  std::vector<std::string_view> fv;
  ASSERT_TRUE(t->Lookup({1000, 0}, &fv));
  EXPECT_EQ(fv[1].size(), 500u);
  // Both limits off: one node.
  limits.stream_node_max_bytes = 0;
  EXPECT_EQ(StreamOf(1000, limits)->node_count(), 1u);
}

TEST(StreamValueTest, DeleteFlagsAndFreesEmptyNodes) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 3;
  StreamPtr s = StreamOf(9, limits);
  EXPECT_EQ(s->node_count(), 3u);
  EXPECT_TRUE(s->Delete({1, 0}));
  EXPECT_FALSE(s->Delete({1, 0}));
  EXPECT_FALSE(s->Delete({100, 0}));
  EXPECT_EQ(s->first_id(), (StreamId{2, 0}));
  EXPECT_TRUE(s->Delete({2, 0}));
  EXPECT_EQ(s->node_count(), 3u);
  EXPECT_TRUE(s->Delete({3, 0}));
  EXPECT_EQ(s->node_count(), 2u);
  EXPECT_EQ(s->max_deleted_id(), (StreamId{3, 0}));
  EXPECT_EQ(s->first_id(), (StreamId{4, 0}));
  EXPECT_TRUE(s->Delete({5, 0}));
  EXPECT_EQ(Print(*s), "4-0 f=v4;6-0 f=v6;7-0 f=v7;8-0 f=v8;9-0 f=v9;");
  for (int i : {4, 6, 7, 8, 9}) EXPECT_TRUE(s->Delete({static_cast<uint64_t>(i), 0}));
  EXPECT_EQ(s->size(), 0u);
  EXPECT_EQ(s->node_count(), 0u);
  EXPECT_TRUE(s->first_id().IsZero());  // as Redis after removing the last entry
  EXPECT_EQ(s->last_id(), (StreamId{9, 0}));
  // Appending again starts a node and a first ID.
  std::vector<std::string> fv = {"a", "b"};
  s->Append({10, 0}, Views(fv), limits);
  EXPECT_EQ(s->first_id(), (StreamId{10, 0}));
  EXPECT_EQ(s->size(), 1u);
}

TEST(StreamValueTest, TrimMaxLenExactApproxAndLimit) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 10;
  StreamPtr s = StreamOf(100, limits);
  EXPECT_EQ(s->TrimMaxLen(95, /*approx=*/true, 0), 0u);  // no whole node fits
  EXPECT_EQ(s->TrimMaxLen(85, true, 0), 10u);
  EXPECT_EQ(s->size(), 90u);
  EXPECT_EQ(s->TrimMaxLen(85, false, 0), 5u);
  EXPECT_EQ(s->size(), 85u);
  EXPECT_EQ(s->first_id(), (StreamId{16, 0}));
  EXPECT_EQ(s->TrimMaxLen(10, true, 24), 15u);  // the limit stops at whole nodes
  EXPECT_EQ(s->size(), 70u);
  EXPECT_EQ(s->TrimMaxLen(10, true, 20), 20u);
  EXPECT_EQ(s->TrimMaxLen(0, false, 0), 50u);
  EXPECT_EQ(s->size(), 0u);
  EXPECT_EQ(s->node_count(), 0u);
  EXPECT_TRUE(s->max_deleted_id().IsZero());  // trimming is not deleting
}

TEST(StreamValueTest, TrimMinId) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 10;
  StreamPtr s = StreamOf(50, limits);
  EXPECT_EQ(s->TrimMinId({15, 0}, true, 0), 10u);
  EXPECT_EQ(s->TrimMinId({15, 0}, false, 0), 4u);
  EXPECT_EQ(s->first_id(), (StreamId{15, 0}));
  EXPECT_EQ(s->TrimMinId({15, 0}, false, 0), 0u);
  EXPECT_EQ(s->TrimMinId({1000, 0}, false, 0), 36u);
  EXPECT_EQ(s->size(), 0u);
}

TEST(StreamValueTest, IdArithmeticEdges) {
  StreamId id{0, 0};
  EXPECT_FALSE(id.Decrement());
  id = StreamId::Max();
  EXPECT_FALSE(id.Increment());
  id = {5, UINT64_MAX};
  ASSERT_TRUE(id.Increment());
  EXPECT_EQ(id, (StreamId{6, 0}));
  ASSERT_TRUE(id.Decrement());
  EXPECT_EQ(id, (StreamId{5, UINT64_MAX}));
  // The largest IDs are stored and read back exactly, deltas included.
  const CollectionLimits limits;
  StreamPtr s(StreamValue::Create());
  std::vector<std::string> fv = {"f", "v"};
  s->Append({0, 1}, Views(fv), limits);
  s->Append({UINT64_MAX, 0}, Views(fv), limits);
  s->Append(StreamId::Max(), Views(fv), limits);
  EXPECT_EQ(Print(*s), "0-1 f=v;18446744073709551615-0 f=v;"
                       "18446744073709551615-18446744073709551615 f=v;");
  StreamPtr back(StreamValue::Deserialize(Serialized(*s), limits));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(Print(*back), Print(*s));
}

TEST(StreamValueTest, EntriesReadEstimateAndTombstones) {
  const CollectionLimits limits;
  StreamPtr s = StreamOf(5, limits);
  EXPECT_EQ(s->EstimateEntriesRead({5, 0}), 5);
  EXPECT_EQ(s->EstimateEntriesRead({0, 0}), 0);
  EXPECT_EQ(s->EstimateEntriesRead({1, 0}), 1);
  EXPECT_EQ(s->EstimateEntriesRead({3, 0}), -1);
  EXPECT_EQ(s->EstimateEntriesRead({6, 0}), -1);
  EXPECT_FALSE(s->RangeHasTombstones({}, StreamId::Max()));
  s->Delete({3, 0});
  EXPECT_TRUE(s->RangeHasTombstones({}, StreamId::Max()));
  EXPECT_FALSE(s->RangeHasTombstones({4, 0}, StreamId::Max()));
  s->Delete({1, 0});
  s->Delete({2, 0});
  EXPECT_FALSE(s->RangeHasTombstones({}, StreamId::Max()));  // all before the first entry
}

TEST(StreamValueTest, SerializeRoundTripWithGroups) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 4;
  StreamPtr s = StreamOf(20, limits);
  std::vector<std::string> other = {"a", "1", "b", ""};
  s->Append({25, 3}, Views(other), limits);
  s->Delete({7, 0});
  s->TrimMaxLen(15, false, 0);
  StreamGroup& g = s->mutable_groups()["g1"];
  g.last_id = {12, 0};
  g.entries_read = 12;
  for (uint64_t ms : {9, 11}) {
    g.pel[{ms, 0}] = StreamPendingEntry{"alice", 1000 + static_cast<int64_t>(ms), 2};
    g.consumers["alice"].pending.insert({ms, 0});
  }
  g.consumers["bob"].seen_time = 77;
  s->mutable_groups()["g0"].entries_read = -1;
  const std::string bytes = Serialized(*s);
  for (uint64_t max_entries : {0, 1, 4, 100}) {
    CollectionLimits other_limits;
    other_limits.stream_node_max_entries = max_entries;
    StreamPtr back(StreamValue::Deserialize(bytes, other_limits));
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(Print(*back), Print(*s));
    EXPECT_EQ(Serialized(*back), bytes);
    EXPECT_EQ(back->first_id(), s->first_id());
    EXPECT_EQ(back->max_deleted_id(), s->max_deleted_id());
    EXPECT_EQ(back->entries_added(), s->entries_added());
  }
  StreamPtr clone(StreamValue::Clone(*s));
  EXPECT_EQ(Serialized(*clone), bytes);
  // An empty stream (all removed) round-trips too, with its first ID.
  StreamPtr empty = StreamOf(3, limits);
  empty->TrimMaxLen(0, false, 0);
  StreamPtr back(StreamValue::Deserialize(Serialized(*empty), limits));
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(back->first_id().IsZero());
  EXPECT_EQ(back->size(), 0u);
}

TEST(StreamValueTest, SmallestGroupRoundTrips) {
  // An empty stream with one group of an empty name and no consumers: the
  // tightest form a count bound must still accept (found by fuzzing).
  StreamPtr s(StreamValue::Create());
  s->mutable_groups()[""].last_id = {118, 0};
  const std::string bytes = Serialized(*s);
  StreamPtr back(StreamValue::Deserialize(bytes, {}));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(Serialized(*back), bytes);
}

TEST(StreamValueTest, HostileFormsNeverCrash) {
  CollectionLimits limits;
  limits.stream_node_max_entries = 3;
  std::vector<std::string> valid;
  StreamPtr s = StreamOf(8, limits);
  valid.push_back(Serialized(*s));
  StreamGroup& g = s->mutable_groups()["grp"];
  g.pel[{2, 0}] = StreamPendingEntry{"c", 5, 1};
  g.consumers["c"].pending.insert({2, 0});
  g.consumers["d"];
  valid.push_back(Serialized(*s));
  StreamPtr empty(StreamValue::Create());
  valid.push_back(Serialized(*empty));
  const int accepted = value_testing::DecodeDamagedForms<StreamValue>(
      valid, [](const StreamValue& v) {
        // Whatever decodes re-encodes stably.
        std::string once = Serialized(v);
        StreamPtr again(StreamValue::Deserialize(once, {}));
        ASSERT_NE(again, nullptr);
        EXPECT_EQ(Serialized(*again), once);
      });
  EXPECT_GT(accepted, 50);
  // Hand-made lies: a huge count, IDs going down, a PEL ID owned twice.
  std::string huge;
  for (int i = 0; i < 5; ++i) huge += '\0';
  huge += "\xff\xff\xff\xff\x0f";
  EXPECT_EQ(StreamValue::Deserialize(huge, {}), nullptr);
  StreamPtr twice = StreamOf(2, {});
  StreamGroup& tg = twice->mutable_groups()["g"];
  tg.pel[{1, 0}] = StreamPendingEntry{"a", 0, 1};
  tg.consumers["a"].pending.insert({1, 0});
  tg.consumers["b"].pending.insert({1, 0});
  tg.pel[{1, 0}].consumer = "a";
  // Serialize looks each consumer's IDs up in the PEL: b's copy of 1-0
  // repeats an ID, which Deserialize must refuse.
  EXPECT_EQ(StreamValue::Deserialize(Serialized(*twice), {}), nullptr);
}

TEST(StreamValueTest, RandomizedAgainstAModel) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    CollectionLimits limits;
    limits.stream_node_max_entries = 1 + rng() % 12;
    limits.stream_node_max_bytes = rng() % 2 ? 0 : 40 + rng() % 200;
    StreamPtr s(StreamValue::Create());
    Model model;
    StreamId last;
    for (int op = 0; op < 600; ++op) {
      const int what = static_cast<int>(rng() % 10);
      if (what < 6) {
        StreamId id = last;
        if (rng() % 3 == 0) {
          id.ms += 1 + rng() % 1000;
          id.seq = rng() % 3;
        } else {
          id.Increment();
        }
        std::vector<std::string> fv;
        const int fields = 1 + static_cast<int>(rng() % 3);
        for (int f = 0; f < fields; ++f) {
          fv.push_back(rng() % 4 ? "f" + std::to_string(f) : "g" + std::to_string(rng() % 5));
          fv.push_back(std::string(rng() % 20, static_cast<char>('a' + rng() % 26)));
        }
        s->Append(id, Views(fv), limits);
        model[id] = fv;
        last = id;
      } else if (what < 8 && !model.empty()) {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        EXPECT_TRUE(s->Delete(it->first));
        model.erase(it);
      } else if (what == 8) {
        const uint64_t keep = rng() % (model.size() + 5);
        const bool approx = rng() % 2;
        const uint64_t removed = s->TrimMaxLen(keep, approx, 0);
        for (uint64_t i = 0; i < removed; ++i) model.erase(model.begin());
        if (!approx) {
          EXPECT_LE(model.size(), keep);
        }
      } else if (!model.empty()) {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        const StreamId minid = it->first;
        const uint64_t removed = s->TrimMinId(minid, rng() % 2, 0);
        for (uint64_t i = 0; i < removed; ++i) model.erase(model.begin());
      }
      ASSERT_EQ(s->size(), model.size());
    }
    EXPECT_EQ(Print(*s), PrintModel(model));
    std::string reversed;
    for (auto it = model.rbegin(); it != model.rend(); ++it) {
      Model one{{it->first, it->second}};
      reversed += PrintModel(one);
    }
    EXPECT_EQ(Print(*s, true), reversed);
    if (!model.empty()) {
      // A window in both directions.
      auto lo = model.begin();
      std::advance(lo, model.size() / 3);
      auto hi = lo;
      std::advance(hi, (model.size() - model.size() / 3) / 2);
      Model window(lo, std::next(hi));
      std::string got;
      s->Range(lo->first, hi->first, false,
               [&](StreamId id, const std::vector<std::string_view>& fv) {
                 Model one{{id, std::vector<std::string>(fv.begin(), fv.end())}};
                 got += PrintModel(one);
                 return true;
               });
      EXPECT_EQ(got, PrintModel(window));
      EXPECT_EQ(s->first_id(), model.begin()->first);
      EXPECT_EQ(s->LastEntryId(), model.rbegin()->first);
    }
    StreamPtr back(StreamValue::Deserialize(Serialized(*s), limits));
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(Print(*back), Print(*s));
  }
}

// In the keyspace: an emptied stream keeps its key (unlike the other
// collections), a stream created empty is stored, and its plain-data form
// goes through Restore and the peers' KeyState encoding with its type;
// malformed bytes change nothing.
TEST(StreamKeyspaceTest, EmptyStreamsStayAndTheFormTravels) {
  Store store(2, 7);
  store.set_now_ms(1'700'000'000'000);
  Keyspace& ks = store.db(0);
  std::vector<std::string> fv = {"f", "v"};
  ASSERT_EQ(ks.UpdateTyped<StreamValue>("s", true, [&](StreamValue* s) {
    s->Append({1, 1}, Views(fv), ks.collection_limits());
    return true;
  }), OpStatus::kOk);
  ASSERT_EQ(ks.UpdateTyped<StreamValue>("s", false, [](StreamValue* s) {
    return s->Delete({1, 1});
  }), OpStatus::kOk);
  ValueType type;
  ASSERT_TRUE(ks.TypeOf("s", &type));
  EXPECT_EQ(type, ValueType::kStream);
  EXPECT_EQ(TypeName(type), "stream");
  ASSERT_EQ(ks.UpdateTyped<StreamValue>("mk", true, [](StreamValue* s) {
    s->mutable_groups()["g"];
    return true;
  }), OpStatus::kOk);
  const StreamValue* made = nullptr;
  ASSERT_EQ(ks.FindTyped("mk", &made), OpStatus::kOk);
  EXPECT_EQ(made->size(), 0u);
  EXPECT_EQ(made->groups().size(), 1u);
  EXPECT_EQ(TypedValueEncoding(ValueType::kStream, made), "stream");
  // A no-op create stores nothing.
  ASSERT_EQ(ks.UpdateTyped<StreamValue>("none", true, [](StreamValue*) { return false; }),
            OpStatus::kOk);
  EXPECT_EQ(ks.FindReadOnly("none"), nullptr);

  std::string bytes;
  SerializeTypedValue(ValueType::kStream, made, &bytes);
  const Sibling loaded{Version(3), bytes, ValueType::kStream};
  ASSERT_EQ(store.db(1).Restore("mk", SiblingSet::kNoExpire, {&loaded, 1}), OpStatus::kOk);
  const StreamValue* restored = nullptr;
  ASSERT_EQ(store.db(1).FindTyped("mk", &restored), OpStatus::kOk);
  EXPECT_EQ(Serialized(*restored), bytes);
  const Sibling broken{Version(4), "\x05garbage", ValueType::kStream};
  EXPECT_EQ(store.db(1).Restore("mk", SiblingSet::kNoExpire, {&broken, 1}),
            OpStatus::kMalformedValue);
  // Between cluster nodes (causal mode): the state carries the type.
  Store node_a(1, 7), node_b(1, 7);
  node_a.EnableCausal(0x1111);
  node_b.EnableCausal(0x2222);
  ASSERT_EQ(node_a.db(0).UpdateTyped<StreamValue>("mk", true, [](StreamValue* s) {
    s->mutable_groups()["g"];
    return true;
  }), OpStatus::kOk);
  KeyState state;
  ASSERT_TRUE(node_a.db(0).GetState("mk", &state));
  bool changed = false;
  ASSERT_EQ(node_b.db(0).MergeState("mk", state, &changed), OpStatus::kOk);
  const StreamValue* merged = nullptr;
  ASSERT_EQ(node_b.db(0).FindTyped("mk", &merged), OpStatus::kOk);
  EXPECT_EQ(Serialized(*merged), bytes);
  std::string encoded, why;
  EncodeKeyState(state, &encoded);
  std::string_view in = encoded;
  KeyState decoded;
  ASSERT_TRUE(DecodeKeyState(&in, &decoded, &why)) << why;
  EXPECT_EQ(decoded.siblings[0].type, ValueType::kStream);
}

}  // namespace
}  // namespace causalkv::store
