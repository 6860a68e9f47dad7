// Tracking's table and delivery (command/tracking.h), and MONITOR's line
// format (command/monitor.h).
#include "tracking.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "monitor.h"

namespace causalkv::command {
namespace {

class TrackingTest : public ::testing::Test {
 protected:
  TrackingTest() : tracking_(&server_) {
    server_.push_to_client = [this](uint64_t id, std::string_view bytes) {
      received_[id].emplace_back(bytes);
    };
    for (uint64_t id = 1; id <= 4; ++id) {
      clients_[id].id = id;
      clients_[id].protocol = 3;
      server_.clients[id] = &clients_[id];
    }
  }

  void Enable(uint64_t id, Tracking::Options options = {}) {
    std::string error;
    ASSERT_TRUE(tracking_.Enable(clients_[id], options, &error)) << error;
  }
  std::vector<std::string> Take(uint64_t id) {
    tracking_.Flush();
    return std::exchange(received_[id], {});
  }
  static std::string Invalidate(const std::string& key) {
    return ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + std::to_string(key.size()) + "\r\n" + key +
           "\r\n";
  }

  ServerState server_;
  Tracking tracking_;
  std::map<uint64_t, ClientState> clients_;
  std::map<uint64_t, std::vector<std::string>> received_;
};

TEST_F(TrackingTest, AReadKeyIsInvalidatedOnceThenForgotten) {
  Enable(1);
  tracking_.RememberKeys(clients_[1], {"k"});
  tracking_.RememberKeys(clients_[1], {"k"});
  EXPECT_EQ(tracking_.tracked_keys(), 1u);
  EXPECT_EQ(tracking_.tracked_items(), 1u);
  tracking_.KeyChanged("k", 2);
  EXPECT_EQ(Take(1), (std::vector<std::string>{Invalidate("k")}));
  tracking_.KeyChanged("k", 2);  // not read since: nothing
  EXPECT_TRUE(Take(1).empty());
  EXPECT_EQ(tracking_.tracked_keys(), 0u);
}

TEST_F(TrackingTest, NoloopSkipsTheClientsOwnChanges) {
  Tracking::Options options;
  options.noloop = true;
  Enable(1, options);
  tracking_.RememberKeys(clients_[1], {"k"});
  tracking_.KeyChanged("k", 1);
  EXPECT_TRUE(Take(1).empty());
}

TEST_F(TrackingTest, OptinRemembersOnlyAfterCachingYes) {
  Tracking::Options options;
  options.optin = true;
  Enable(1, options);
  tracking_.RememberKeys(clients_[1], {"a"});
  clients_[1].tracking.caching = true;
  tracking_.RememberKeys(clients_[1], {"b"});
  tracking_.KeyChanged("a", 0);
  tracking_.KeyChanged("b", 0);
  EXPECT_EQ(Take(1), (std::vector<std::string>{Invalidate("b")}));
}

TEST_F(TrackingTest, BcastBatchesEveryChangeUnderAPrefix) {
  Tracking::Options options;
  options.bcast = true;
  options.prefixes = {"user:", "job:"};
  Enable(1, options);
  tracking_.KeyChanged("user:1", 2);
  tracking_.KeyChanged("misc", 2);
  tracking_.KeyChanged("user:2", 2);
  EXPECT_EQ(Take(1), (std::vector<std::string>{
                         ">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n"}));
  EXPECT_EQ(clients_[1].tracking.prefixes, (std::vector<std::string>{"job:", "user:"}));
  std::string error;
  options.prefixes = {"user:9"};
  EXPECT_FALSE(tracking_.Enable(clients_[1], options, &error));
  EXPECT_EQ(error, "Prefix 'user:9' overlaps with an existing prefix 'user:'. Prefixes for a "
                   "single client must not overlap.");
  tracking_.Disable(clients_[1]);
  EXPECT_EQ(tracking_.prefixes(), 0u);
  EXPECT_EQ(tracking_.tracking_clients(), 0u);
}

TEST_F(TrackingTest, TheLimitForgetsKeysWithoutTellingBcastClients) {
  server_.config.tracking_table_max_keys = 2;
  Enable(1);
  Tracking::Options bcast;
  bcast.bcast = true;
  Enable(2, bcast);
  tracking_.RememberKeys(clients_[1], {"a", "b", "c"});
  EXPECT_EQ(tracking_.tracked_keys(), 2u);
  EXPECT_EQ(Take(1).size(), 1u);  // the forgotten key, invalidated
  EXPECT_TRUE(Take(2).empty());   // it did not change
}

TEST_F(TrackingTest, RedirectsAndBrokenRedirects) {
  clients_[2].protocol = 2;
  clients_[2].channels.emplace("__redis__:invalidate");
  clients_[2].subscriptions = 1;
  Tracking::Options options;
  options.redirect = 2;
  Enable(1, options);
  tracking_.RememberKeys(clients_[1], {"k"});
  tracking_.KeyChanged("k", 0);
  EXPECT_EQ(Take(2), (std::vector<std::string>{
                         "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"}));
  server_.clients.erase(2);
  tracking_.RememberKeys(clients_[1], {"k"});
  tracking_.KeyChanged("k", 0);
  EXPECT_EQ(Take(1), (std::vector<std::string>{">2\r\n$21\r\ntracking-redir-broken\r\n:2\r\n"}));
  EXPECT_TRUE(clients_[1].tracking.redirect_broken);
}

TEST_F(TrackingTest, FlushTellsEveryTrackingClientToDropEverything) {
  Enable(1);
  Enable(3);
  tracking_.RememberKeys(clients_[1], {"k"});
  tracking_.Flushed();
  EXPECT_EQ(Take(1), (std::vector<std::string>{">2\r\n$10\r\ninvalidate\r\n_\r\n"}));
  EXPECT_EQ(Take(3), (std::vector<std::string>{">2\r\n$10\r\ninvalidate\r\n_\r\n"}));
  EXPECT_TRUE(Take(2).empty());
  EXPECT_EQ(tracking_.tracked_keys(), 0u);
}

TEST(MonitorLineTest, QuotesAsRedisAndRedactsSecrets) {
  const std::vector<std::string_view> set = {"SET", "k", "a \"q\"\n\x01\xff\\ \t\a\b\r"};
  EXPECT_EQ(MonitorLine(1796316611520501, 0, "127.0.0.1:4000", "set", set),
            "+1796316611.520501 [0 127.0.0.1:4000] \"SET\" \"k\" "
            "\"a \\\"q\\\"\\n\\x01\\xff\\\\ \\t\\a\\b\\r\"\r\n");
  const std::vector<std::string_view> hello = {"HELLO", "3", "AUTH", "default", "pw"};
  EXPECT_EQ(MonitorLine(5, 3, "lua", "hello", hello),
            "+0.000005 [3 lua] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n");
}

}  // namespace
}  // namespace causalkv::command
