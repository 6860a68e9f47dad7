// PubSub's registry and delivery: the invariants of pubsub.h (a client is
// listed under a name exactly when the name is in its own set), the counts
// PUBLISH replies, and the frames each protocol receives.
#include "pubsub.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace causalkv::command {
namespace {

class PubSubTest : public ::testing::Test {
 protected:
  PubSubTest() : pubsub_(&server_) {
    server_.push_to_client = [this](uint64_t id, std::string_view bytes) {
      received_[id].emplace_back(bytes);
    };
    for (uint64_t id = 1; id <= 3; ++id) {
      clients_[id].id = id;
      server_.clients[id] = &clients_[id];
    }
    clients_[3].protocol = 3;
  }

  ServerState server_;
  PubSub pubsub_;
  std::map<uint64_t, ClientState> clients_;
  std::map<uint64_t, std::vector<std::string>> received_;
};

TEST_F(PubSubTest, SubscribeIsIdempotentAndUnsubscribeForgets) {
  EXPECT_TRUE(pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "a"));
  EXPECT_FALSE(pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "a"));
  EXPECT_EQ(pubsub_.Subscribers(false, "a"), 1);
  EXPECT_TRUE(clients_[1].subscribed());
  EXPECT_FALSE(pubsub_.Unsubscribe(clients_[2], PubSub::Kind::kChannel, "a"));
  EXPECT_TRUE(pubsub_.Unsubscribe(clients_[1], PubSub::Kind::kChannel, "a"));
  EXPECT_EQ(pubsub_.Subscribers(false, "a"), 0);
  EXPECT_EQ(pubsub_.ChannelCount(false), 0);  // no name left without subscribers
  EXPECT_FALSE(clients_[1].subscribed());
}

TEST_F(PubSubTest, PublishCountsEveryDeliveryInEachProtocol) {
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "news");
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kPattern, "n*");
  pubsub_.Subscribe(clients_[3], PubSub::Kind::kChannel, "news");
  pubsub_.Subscribe(clients_[2], PubSub::Kind::kShard, "news");  // another namespace
  EXPECT_EQ(pubsub_.Publish("news", "hi", false), 3);
  EXPECT_EQ(received_[1], (std::vector<std::string>{
                              "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
                              "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"}));
  EXPECT_EQ(received_[3],
            (std::vector<std::string>{">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"}));
  EXPECT_TRUE(received_[2].empty());
  EXPECT_EQ(pubsub_.Publish("news", "s", true), 1);  // patterns never match shard channels
  EXPECT_EQ(received_[2],
            (std::vector<std::string>{"*3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$1\r\ns\r\n"}));
}

TEST_F(PubSubTest, AnEmptyPatternIsStillAPattern) {
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kPattern, "");
  EXPECT_EQ(pubsub_.Publish("", "x", false), 1);
  EXPECT_EQ(received_[1], (std::vector<std::string>{
                              "*4\r\n$8\r\npmessage\r\n$0\r\n\r\n$0\r\n\r\n$1\r\nx\r\n"}));
  EXPECT_EQ(pubsub_.Publish("a", "x", false), 0);
}

TEST_F(PubSubTest, UnsubscribeAllLeavesNothingRegistered) {
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "a");
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "b");
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kPattern, "*");
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kShard, "s");
  pubsub_.Subscribe(clients_[2], PubSub::Kind::kChannel, "a");
  pubsub_.UnsubscribeAll(clients_[1]);
  EXPECT_FALSE(clients_[1].subscribed());
  EXPECT_EQ(pubsub_.PatternCount(), 0);
  EXPECT_EQ(pubsub_.ChannelCount(true), 0);
  EXPECT_EQ(pubsub_.ActiveChannels(false, "*"), (std::vector<std::string_view>{"a"}));
  EXPECT_EQ(pubsub_.Publish("a", "m", false), 1);
  EXPECT_TRUE(received_[1].empty());
}

TEST_F(PubSubTest, ActiveChannelsMatchTheGlob) {
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kChannel, "news.art");
  pubsub_.Subscribe(clients_[2], PubSub::Kind::kChannel, "sport");
  EXPECT_EQ(pubsub_.ActiveChannels(false, "news.*"),
            (std::vector<std::string_view>{"news.art"}));
  EXPECT_EQ(pubsub_.ActiveChannels(false, "*").size(), 2u);
  EXPECT_TRUE(pubsub_.ActiveChannels(true, "*").empty());
}

// Keyspace notifications a client's own command causes reach it after the
// reply: Publish with `defer_to` keeps that client's frames (only its own)
// until FlushDeferred, in order.
TEST_F(PubSubTest, DeferredFramesWaitForFlushInOrder) {
  pubsub_.Subscribe(clients_[3], PubSub::Kind::kPattern, "__key*__:*");
  pubsub_.Subscribe(clients_[1], PubSub::Kind::kPattern, "__key*__:*");
  EXPECT_EQ(pubsub_.Publish("__keyspace@0__:a", "set", false, /*defer_to=*/3), 2);
  EXPECT_EQ(pubsub_.Publish("__keyevent@0__:set", "a", false, /*defer_to=*/3), 2);
  EXPECT_EQ(received_[1].size(), 2u);  // another subscriber: at once
  EXPECT_TRUE(received_[3].empty());
  pubsub_.Publish("plain", "x", false);  // no deferral asked: PUBLISH as before
  pubsub_.FlushDeferred();
  ASSERT_EQ(received_[3].size(), 1u);
  EXPECT_EQ(received_[3][0],
            ">4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:a\r\n$3\r\nset\r\n"
            ">4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:set\r\n$1\r\na\r\n");
  pubsub_.FlushDeferred();  // nothing left
  EXPECT_EQ(received_[3].size(), 1u);
}

}  // namespace
}  // namespace causalkv::command
