// SLOWLOG's entry arguments (Redis's shortening and redaction), the log's
// length bound, and the keyspace survey behind INFO siblings and avg_ttl.
#include "slowlog.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/store/store.h"
#include "keyspace_survey.h"

namespace causalkv::command {
namespace {

using Args = std::vector<std::string>;

Args Shaped(std::string_view command, const std::vector<std::string_view>& args) {
  return SlowLogArgs(command, args);
}

TEST(SlowLogArgsTest, ShortArgumentsAreKept) {
  EXPECT_EQ(Shaped("set", {"SET", "k", "v"}), (Args{"SET", "k", "v"}));
}

TEST(SlowLogArgsTest, LongArgumentsAreCutAt128Bytes) {
  const std::string value(200, 'x');
  const Args shaped = Shaped("set", {"SET", "k", value});
  EXPECT_EQ(shaped[2], std::string(128, 'x') + "... (72 more bytes)");
  EXPECT_EQ(Shaped("set", {"SET", "k", std::string(128, 'y')})[2], std::string(128, 'y'));
}

TEST(SlowLogArgsTest, AtMost32ArgumentsTheLastCountingTheRest) {
  std::vector<std::string> owned = {"MSET"};
  for (int i = 0; i < 40; ++i) owned.push_back("a" + std::to_string(i));
  const std::vector<std::string_view> views(owned.begin(), owned.end());
  const Args shaped = Shaped("mset", views);
  ASSERT_EQ(shaped.size(), 32u);
  EXPECT_EQ(shaped[30], "a29");
  EXPECT_EQ(shaped[31], "... (10 more arguments)");
  // Exactly 32 arguments are all shown.
  const Args exact = Shaped("mset", {views.begin(), views.begin() + 32});
  EXPECT_EQ(exact.back(), "a30");
}

TEST(SlowLogArgsTest, SecretsAreRedacted) {
  EXPECT_EQ(Shaped("auth", {"AUTH", "pw"}), (Args{"AUTH", "(redacted)"}));
  EXPECT_EQ(Shaped("auth", {"AUTH", "default", "pw"}),
            (Args{"AUTH", "(redacted)", "(redacted)"}));
  EXPECT_EQ(Shaped("hello", {"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"}),
            (Args{"HELLO", "3", "AUTH", "(redacted)", "(redacted)", "SETNAME", "me"}));
  // A client named "auth" is not a secret.
  EXPECT_EQ(Shaped("hello", {"HELLO", "3", "SETNAME", "auth"}),
            (Args{"HELLO", "3", "SETNAME", "auth"}));
  EXPECT_EQ(Shaped("config|set", {"CONFIG", "SET", "timeout", "5", "REQUIREPASS", "pw"}),
            (Args{"CONFIG", "SET", "timeout", "5", "REQUIREPASS", "(redacted)"}));
}

TEST(SlowLogTest, NewestFirstBoundedWithIncreasingIds) {
  SlowLog log;
  for (int i = 0; i < 5; ++i) {
    SlowLogEntry entry;
    entry.duration_us = i;
    log.Push(entry, 3);
  }
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log.entries()[0].id, 4u);
  EXPECT_EQ(log.entries()[0].duration_us, 4);
  EXPECT_EQ(log.entries()[2].id, 2u);
  log.Reset();
  EXPECT_EQ(log.size(), 0u);
  log.Push(SlowLogEntry{}, 3);
  EXPECT_EQ(log.entries()[0].id, 5u) << "ids go on after RESET";
  log.Push(SlowLogEntry{}, 0);
  EXPECT_EQ(log.size(), 0u);
}

TEST(KeyspaceSurveyTest, SiblingsAndAverageTtl) {
  store::Store store(4, 11);
  store.set_now_ms(1'000'000);
  const store::SiblingSet* after = nullptr;
  for (const char* value : {"a", "b", "c"}) {  // three blind writes: three siblings
    ASSERT_EQ(store.db(2).VPut("cart", store::Version(0), value, store::TtlUpdate::Clear(),
                               &after),
              store::OpStatus::kOk);
  }
  ASSERT_EQ(store.db(0).Set("t1", "v", store::TtlUpdate::At(1'010'000)), store::OpStatus::kOk);
  ASSERT_EQ(store.db(0).Set("t2", "v", store::TtlUpdate::At(1'030'000)), store::OpStatus::kOk);
  ASSERT_EQ(store.db(0).Set("plain", "v", store::TtlUpdate::Clear()), store::OpStatus::kOk);

  KeyspaceSurvey survey;
  EXPECT_EQ(survey.last().completed_ms, 0);
  survey.Step(store, 1'000'000, 1'000'000, /*sibling_limit=*/3);
  const SurveyResult& r = survey.last();
  EXPECT_EQ(r.completed_ms, 1'000'000);
  EXPECT_EQ(r.keys, 4u);
  EXPECT_EQ(r.keys_with_siblings, 1u);
  EXPECT_EQ(r.total_siblings, 6u);
  EXPECT_EQ(r.max_siblings, 3u);
  EXPECT_EQ(r.max_siblings_db, 2);
  EXPECT_EQ(r.max_siblings_key, "cart");
  EXPECT_EQ(r.keys_at_limit, 1u);
  ASSERT_EQ(r.avg_ttl_ms.count(0), 1u);
  EXPECT_EQ(r.avg_ttl_ms.at(0), 20'000);
  EXPECT_EQ(r.avg_ttl_ms.count(2), 0u);

  // The next pass waits a second after the last one started.
  store.FlushAll();
  survey.Step(store, 1'000'500, 1'000'000, 3);
  EXPECT_EQ(survey.last().keys, 4u);
  survey.Step(store, 1'001'000, 1'000'000, 3);
  EXPECT_EQ(survey.last().keys, 0u);
  EXPECT_EQ(survey.last().max_siblings_db, -1);
}

TEST(KeyspaceSurveyTest, PassesOverALargeKeyspaceAreSpacedByTheirWork) {
  store::Store store(1, 11);
  store.set_now_ms(1'000'000);
  // Half a million keys take milliseconds to visit on any machine.
  for (int i = 0; i < 500'000; ++i) {
    ASSERT_EQ(store.db(0).Set("key:" + std::to_string(i), "v", store::TtlUpdate::Clear()),
              store::OpStatus::kOk);
  }
  KeyspaceSurvey survey;
  EXPECT_EQ(survey.pass_interval_ms(), 1000);
  survey.Step(store, 1'000'000, 60'000'000, 0);
  ASSERT_EQ(survey.last().keys, 500'000u);
  const int64_t interval = survey.pass_interval_ms();
  EXPECT_GT(interval, 1000) << "a pass of more than a millisecond waits more than a second";
  store.FlushAll();
  survey.Step(store, 1'000'000 + interval - 1, 60'000'000, 0);
  EXPECT_EQ(survey.last().keys, 500'000u);
  survey.Step(store, 1'000'000 + interval, 60'000'000, 0);
  EXPECT_EQ(survey.last().keys, 0u);
  EXPECT_EQ(survey.pass_interval_ms(), 1000) << "an empty keyspace is surveyed each second again";
}

TEST(KeyspaceSurveyTest, ExpiryTimesNearTheEndOfTimeDoNotOverflowTheAverage) {
  // Found by CI's sanitize run of the differential test: EXPIREAT takes times
  // near 2^63 ms, and two of them summed overflowed int64 (UBSan aborts).
  store::Store store(1, 11);
  store.set_now_ms(1'000'000);
  const int64_t far = std::numeric_limits<int64_t>::max() - 10;
  ASSERT_EQ(store.db(0).Set("a", "v", store::TtlUpdate::At(far)), store::OpStatus::kOk);
  ASSERT_EQ(store.db(0).Set("b", "v", store::TtlUpdate::At(far)), store::OpStatus::kOk);
  KeyspaceSurvey survey;
  survey.Step(store, 1'000'000, 1'000'000, 0);
  ASSERT_EQ(survey.last().avg_ttl_ms.count(0), 1u);
  EXPECT_GT(survey.last().avg_ttl_ms.at(0), std::numeric_limits<int64_t>::max() / 4);
}

}  // namespace
}  // namespace causalkv::command
