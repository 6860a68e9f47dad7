// The server's admission and disconnection rules (client_limits.h), without
// sockets: protected mode's notion of a local client, and when the output
// and query buffer limits disconnect a client.
#include "client_limits.h"

#include <gtest/gtest.h>

namespace causalkv::server {
namespace {

TEST(ProtectedModeTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackIp("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackIp("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackIp("::1"));
  EXPECT_TRUE(IsLoopbackIp("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackIp("192.0.2.2"));
  EXPECT_FALSE(IsLoopbackIp("10.127.0.1"));
  EXPECT_FALSE(IsLoopbackIp("::2"));
  EXPECT_FALSE(IsLoopbackIp("fe80::1"));
  EXPECT_FALSE(IsLoopbackIp(""));
}

TEST(ProtectedModeTest, RefusesOnlyRemoteTcpClientsWithoutPassword) {
  //                                 protected  password  unix   peer
  EXPECT_TRUE(ProtectedModeRefuses(true, false, false, "192.0.2.2"));
  EXPECT_FALSE(ProtectedModeRefuses(true, false, false, "127.0.0.1"));
  EXPECT_FALSE(ProtectedModeRefuses(true, false, true, ""));
  EXPECT_FALSE(ProtectedModeRefuses(true, true, false, "192.0.2.2"));
  EXPECT_FALSE(ProtectedModeRefuses(false, false, false, "192.0.2.2"));
}

TEST(ProtectedModeTest, TheTextIsRedisError) {
  EXPECT_TRUE(kProtectedModeDenied.starts_with("-DENIED Redis is running in protected mode"));
  EXPECT_TRUE(kProtectedModeDenied.ends_with("from the outside.\r\n"));
  EXPECT_EQ(kProtectedModeDenied.find('\n'), kProtectedModeDenied.size() - 1);
}

TEST(OutputLimitTest, UnlimitedNeverDisconnects) {
  int64_t soft_since = -1;
  EXPECT_FALSE(OutputLimitReached({0, 0, 0}, size_t{1} << 40, 1000, &soft_since));
  EXPECT_EQ(soft_since, -1);
}

TEST(OutputLimitTest, HardLimitAtOnce) {
  int64_t soft_since = -1;
  const config::OutputBufferLimit limit{1000, 0, 0};
  EXPECT_FALSE(OutputLimitReached(limit, 999, 0, &soft_since));
  EXPECT_TRUE(OutputLimitReached(limit, 1000, 0, &soft_since));
}

TEST(OutputLimitTest, SoftLimitMustHoldForItsSeconds) {
  int64_t soft_since = -1;
  const config::OutputBufferLimit limit{0, 500, 2};
  EXPECT_FALSE(OutputLimitReached(limit, 600, 10'000, &soft_since));
  EXPECT_EQ(soft_since, 10'000);
  EXPECT_FALSE(OutputLimitReached(limit, 700, 11'999, &soft_since));
  EXPECT_TRUE(OutputLimitReached(limit, 600, 12'000, &soft_since));
}

TEST(OutputLimitTest, DroppingBelowTheSoftLimitRestartsTheClock) {
  int64_t soft_since = -1;
  const config::OutputBufferLimit limit{0, 500, 2};
  EXPECT_FALSE(OutputLimitReached(limit, 600, 10'000, &soft_since));
  EXPECT_FALSE(OutputLimitReached(limit, 100, 11'000, &soft_since));
  EXPECT_EQ(soft_since, -1);
  EXPECT_FALSE(OutputLimitReached(limit, 600, 12'500, &soft_since));
  EXPECT_FALSE(OutputLimitReached(limit, 600, 14'000, &soft_since));
  EXPECT_TRUE(OutputLimitReached(limit, 600, 14'500, &soft_since));
}

TEST(OutputLimitTest, SoftLimitWithZeroSecondsActsAtOnce) {
  int64_t soft_since = -1;
  EXPECT_TRUE(OutputLimitReached({0, 500, 0}, 500, 7, &soft_since));
}

TEST(QueryLimitTest, LimitAndTheUnauthenticatedCap) {
  EXPECT_FALSE(QueryLimitReached(1000, 1000, true));
  EXPECT_TRUE(QueryLimitReached(1001, 1000, true));
  const uint64_t big = uint64_t{1} << 30;
  EXPECT_FALSE(QueryLimitReached(kUnauthenticatedQueryLimit + 1, big, true));
  EXPECT_TRUE(QueryLimitReached(kUnauthenticatedQueryLimit + 1, big, false));
  EXPECT_FALSE(QueryLimitReached(kUnauthenticatedQueryLimit, big, false));
}

}  // namespace
}  // namespace causalkv::server
