// The store's key events (keyspace.h KeyEvent), which keyspace notifications
// and client tracking listen to: a key added, expired (lazily or actively)
// or evicted, each reported once, after the change, with the database number
// it happened in (SWAPDB renumbers), only when wanted, and beside the
// eviction listener the append-only log uses.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "causalkv/store/store.h"

namespace causalkv::store {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;

class KeyEventsTest : public ::testing::Test {
 protected:
  KeyEventsTest() : store_(4, 42) {
    store_.set_now_ms(kStart);
    Listen(kKeyAdded | kKeyExpired | kKeyEvicted);
  }

  void Listen(uint32_t wanted) {
    store_.set_key_event_listener(wanted, [this](KeyEvent event, int db, std::string_view key) {
      const char* name = event == kKeyAdded ? "added" : event == kKeyExpired ? "expired" : "evicted";
      // The key is already gone (or there) when the event comes.
      const bool present = store_.db(db).Peek(key) != nullptr;
      events_.push_back(std::string(name) + " " + std::to_string(db) + " " + std::string(key) +
                        (present ? " present" : " gone"));
    });
  }

  std::vector<std::string> Take() {
    std::vector<std::string> out;
    out.swap(events_);
    return out;
  }

  Store store_;
  std::vector<std::string> events_;
};

TEST_F(KeyEventsTest, AddedOnlyForNewKeys) {
  ASSERT_EQ(store_.db(2).Set("a", "1", TtlUpdate::Clear()), OpStatus::kOk);
  ASSERT_EQ(store_.db(2).Set("a", "2", TtlUpdate::Clear()), OpStatus::kOk);  // an update
  EXPECT_EQ(Take(), (std::vector<std::string>{"added 2 a present"}));
  ASSERT_TRUE(store_.db(2).Delete("a"));
  EXPECT_TRUE(Take().empty());  // a command's own delete is the command's to notify
}

TEST_F(KeyEventsTest, ExpiredLazilyAndActivelyAfterTheKeyIsGone) {
  store_.db(0).Set("lazy", "1", TtlUpdate::At(kStart + 10));
  store_.db(1).Set("active", "1", TtlUpdate::At(kStart + 10));
  Take();
  store_.set_now_ms(kStart + 20);
  EXPECT_EQ(store_.db(0).FindReadOnly("lazy"), nullptr);
  EXPECT_EQ(Take(), (std::vector<std::string>{"expired 0 lazy gone"}));
  store_.ActiveExpireCycle(100000);
  EXPECT_EQ(Take(), (std::vector<std::string>{"expired 1 active gone"}));
}

TEST_F(KeyEventsTest, EvictedReachesBothListeners) {
  std::vector<std::string> logged;
  store_.set_eviction_listener(
      [&](int db, std::string_view key) { logged.push_back(std::to_string(db) + std::string(key)); });
  EvictionSettings s;
  s.policy = EvictionPolicy::kAllKeysRandom;
  store_.set_eviction(s);
  store_.db(3).Set("only", "1", TtlUpdate::Clear());
  Take();
  ASSERT_TRUE(store_.EvictOne());
  EXPECT_EQ(Take(), (std::vector<std::string>{"evicted 3 only gone"}));
  EXPECT_EQ(logged, (std::vector<std::string>{"3only"}));
}

TEST_F(KeyEventsTest, SwapDatabasesRenumbersAndUnwantedEventsAreNotCalled) {
  store_.SwapDatabases(0, 3);
  store_.db(3).Set("k", "1", TtlUpdate::Clear());
  store_.db(0).Set("k", "1", TtlUpdate::Clear());
  EXPECT_EQ(Take(), (std::vector<std::string>{"added 3 k present", "added 0 k present"}));
  Listen(kKeyExpired);
  store_.db(1).Set("n", "1", TtlUpdate::At(kStart + 10));
  EXPECT_TRUE(Take().empty());
  store_.set_key_event_listener(kKeyAdded, nullptr);  // no listener: nothing wanted
  store_.set_now_ms(kStart + 20);
  EXPECT_EQ(store_.db(1).FindReadOnly("n"), nullptr);
  EXPECT_TRUE(Take().empty());
}

}  // namespace
}  // namespace causalkv::store
