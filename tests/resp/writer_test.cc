#include "causalkv/resp/writer.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

namespace causalkv::resp {
namespace {

using std::string_literals::operator""s;

std::string Resp2(void (*write)(Writer*)) {
  std::string out;
  Writer w(&out, 2);
  write(&w);
  return out;
}

std::string Resp3(void (*write)(Writer*)) {
  std::string out;
  Writer w(&out, 3);
  write(&w);
  return out;
}

TEST(RespWriterTest, ProtocolAndBuffer) {
  std::string out;
  Writer w(&out);
  EXPECT_EQ(w.protocol(), 2);
  EXPECT_EQ(w.buffer(), &out);
  w.set_protocol(3);
  EXPECT_EQ(w.protocol(), 3);
  w.Null();
  EXPECT_EQ(out, "_\r\n");
}

TEST(RespWriterTest, AppendsWithoutTouchingExistingBytes) {
  std::string out = "pending";
  Writer w(&out);
  w.Ok();
  w.Integer(7);
  EXPECT_EQ(out, "pending+OK\r\n:7\r\n");
}

TEST(RespWriterTest, SimpleString) {
  EXPECT_EQ(Resp2([](Writer* w) { w->SimpleString("PONG"); }), "+PONG\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->SimpleString(""); }), "+\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Ok(); }), "+OK\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Ok(); }), "+OK\r\n");
  // Forbidden by the contract, but still cannot split the reply.
  EXPECT_EQ(Resp2([](Writer* w) { w->SimpleString("a\r\nb"); }), "+a  b\r\n");
}

TEST(RespWriterTest, Error) {
  EXPECT_EQ(Resp2([](Writer* w) { w->Error("unknown command"); }), "-ERR unknown command\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Error("unknown command"); }), "-ERR unknown command\r\n");
  EXPECT_EQ(Resp2([](Writer* w) {
              w->Error("-WRONGTYPE Operation against a key holding the wrong kind of value");
            }),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Error(""); }), "-ERR \r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Error("-"); }), "-\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Error("ERR x"); }), "-ERR ERR x\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Error("bad key 'a\r\nb\nc\r'"); }),
            "-ERR bad key 'a  b c '\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Error("-NOPERM a\nb"); }), "-NOPERM a b\r\n");
}

TEST(RespWriterTest, Integer) {
  EXPECT_EQ(Resp2([](Writer* w) { w->Integer(0); }), ":0\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Integer(-1); }), ":-1\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Integer(1234567890); }), ":1234567890\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Integer(std::numeric_limits<int64_t>::max()); }),
            ":9223372036854775807\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Integer(std::numeric_limits<int64_t>::min()); }),
            ":-9223372036854775808\r\n");
}

TEST(RespWriterTest, Bulk) {
  EXPECT_EQ(Resp2([](Writer* w) { w->Bulk("hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Bulk("hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Bulk(""); }), "$0\r\n\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Bulk("a\0\r\nb"s); }), "$5\r\na\0\r\nb\r\n"s);
  std::string out;
  Writer w(&out);
  const std::string big(100000, 'z');
  w.Bulk(big);
  EXPECT_EQ(out, "$100000\r\n" + big + "\r\n");
}

TEST(RespWriterTest, Nulls) {
  EXPECT_EQ(Resp2([](Writer* w) { w->Null(); }), "$-1\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Null(); }), "_\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->NullArray(); }), "*-1\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->NullArray(); }), "_\r\n");
}

TEST(RespWriterTest, AggregateHeaders) {
  EXPECT_EQ(Resp2([](Writer* w) { w->ArrayHeader(3); }), "*3\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->ArrayHeader(3); }), "*3\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->ArrayHeader(0); }), "*0\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->ArrayHeader(-1); }), "*-1\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->ArrayHeader(1234567); }), "*1234567\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->MapHeader(2); }), "*4\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->MapHeader(2); }), "%2\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->MapHeader(0); }), "*0\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->SetHeader(5); }), "*5\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->SetHeader(5); }), "~5\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->PushHeader(3); }), "*3\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->PushHeader(3); }), ">3\r\n");
}

TEST(RespWriterTest, Bool) {
  EXPECT_EQ(Resp2([](Writer* w) { w->Bool(true); }), ":1\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Bool(false); }), ":0\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Bool(true); }), "#t\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Bool(false); }), "#f\r\n");
}

TEST(RespWriterTest, Verbatim) {
  EXPECT_EQ(Resp3([](Writer* w) { w->Verbatim("txt", "hello"); }), "=9\r\ntxt:hello\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Verbatim("mkd", ""); }), "=4\r\nmkd:\r\n");
  EXPECT_EQ(Resp3([](Writer* w) { w->Verbatim("txt", "a\r\nb"); }), "=8\r\ntxt:a\r\nb\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Verbatim("txt", "hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(Resp2([](Writer* w) { w->Verbatim("mkd", "# x\r\ny"); }), "$6\r\n# x\r\ny\r\n");
}

std::string Resp3Double(double v) {
  std::string out;
  Writer(&out, 3).Double(v);
  return out;
}

std::string Resp2Double(double v) {
  std::string out;
  Writer(&out, 2).Double(v);
  return out;
}

TEST(RespWriterTest, DoubleSpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Resp3Double(inf), ",inf\r\n");
  EXPECT_EQ(Resp3Double(-inf), ",-inf\r\n");
  EXPECT_EQ(Resp3Double(nan), ",nan\r\n");
  EXPECT_EQ(Resp3Double(-nan), ",nan\r\n");
  EXPECT_EQ(Resp3Double(0.0), ",0\r\n");
  EXPECT_EQ(Resp3Double(-0.0), ",-0\r\n");
  EXPECT_EQ(Resp2Double(inf), "$3\r\ninf\r\n");
  EXPECT_EQ(Resp2Double(-inf), "$4\r\n-inf\r\n");
  EXPECT_EQ(Resp2Double(nan), "$3\r\nnan\r\n");
  EXPECT_EQ(Resp2Double(-0.0), "$2\r\n-0\r\n");
}

struct DoubleCase {
  double value;
  const char* text;
};

// Expected texts follow Redis 7.2's d2string(): integers within +-2^62 as
// integers, else the shortest round-trip digits laid out by fpconv's rules.
TEST(RespWriterTest, DoubleFormatting) {
  const DoubleCase cases[] = {
      {1.5, "1.5"},
      {3.0, "3"},
      {-2.5, "-2.5"},
      {1.0, "1"},
      {-7.0, "-7"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3, "0.3333333333333333"},
      {3.14159, "3.14159"},
      {0.001, "0.001"},
      {1e-5, "0.00001"},
      {1.5e-5, "0.000015"},
      {1e-7, "1e-7"},
      {1.5e-7, "1.5e-7"},
      {1234.5, "1234.5"},
      {123456.789, "123456.789"},
      {12345.678901, "12345.678901"},
      // fpconv switches to the exponent form once seven or more fraction
      // digits meet an exponent of 4 or more.
      {12345.6789012, "1.23456789012e+4"},
      {123456789012.0, "123456789012"},
      {1e15, "1000000000000000"},
      {4611686018427387904.0, "4611686018427387904"},    // 2^62: still an integer
      {-4611686018427387904.0, "-4611686018427387904"},
      {9223372036854775808.0, "9223372036854776000"},    // 2^63: shortest digits, zero filled
      {1e19, "1e+19"},
      {1e22, "1e+22"},
      {1e100, "1e+100"},
      {1e105, "1e+105"},
      {1.5e300, "1.5e+300"},
      {-1.5e300, "-1.5e+300"},
      {1e-300, "1e-300"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
      {std::numeric_limits<double>::lowest(), "-1.7976931348623157e+308"},
      {std::numeric_limits<double>::denorm_min(), "5e-324"},
      {std::numeric_limits<double>::min(), "2.2250738585072014e-308"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Resp3Double(c.value), ","s + c.text + "\r\n") << c.text;
    EXPECT_EQ(Resp2Double(c.value), "$" + std::to_string(std::strlen(c.text)) + "\r\n" + c.text + "\r\n")
        << c.text;
  }
}

TEST(RespWriterTest, DoubleRoundTrips) {
  std::mt19937_64 rng(42);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    if (std::isnan(v)) continue;
    const std::string out = Resp3Double(v);
    ASSERT_GE(out.size(), 4u);
    ASSERT_EQ(out.front(), ',');
    ASSERT_EQ(out.substr(out.size() - 2), "\r\n");
    const std::string text = out.substr(1, out.size() - 3);
    ASSERT_LE(text.size(), 25u) << text;
    char* end = nullptr;
    const double back = std::strtod(text.c_str(), &end);
    ASSERT_EQ(*end, '\0') << text;
    uint64_t back_bits;
    std::memcpy(&back_bits, &back, sizeof(back));
    ASSERT_EQ(back_bits, bits) << text;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
}

// hiredis (0.14, RESP2 only) as an independent reader of RESP2 output.
class HiredisReader {
 public:
  HiredisReader() : reader_(redisReaderCreate()) {}
  ~HiredisReader() { redisReaderFree(reader_); }
  HiredisReader(const HiredisReader&) = delete;
  HiredisReader& operator=(const HiredisReader&) = delete;

  void Feed(const std::string& bytes) {
    ASSERT_EQ(redisReaderFeed(reader_, bytes.data(), bytes.size()), REDIS_OK);
  }

  // The next complete reply, or null if there is none yet.
  std::unique_ptr<redisReply, void (*)(void*)> Next() {
    void* reply = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader_, &reply), REDIS_OK);
    return {static_cast<redisReply*>(reply), freeReplyObject};
  }

 private:
  redisReader* reader_;
};

std::string Str(const redisReply* r) { return std::string(r->str, r->len); }

TEST(RespWriterTest, HiredisReadsRespTwoReplies) {
  std::string out;
  Writer w(&out, 2);
  w.ArrayHeader(11);
  w.Bulk("a\0\r\nb"s);
  w.Integer(std::numeric_limits<int64_t>::min());
  w.Null();
  w.NullArray();
  w.MapHeader(2);
  w.Bulk("k1");
  w.Double(1.5);
  w.Bulk("k2");
  w.Bool(true);
  w.SetHeader(2);
  w.SimpleString("member");
  w.Double(-std::numeric_limits<double>::infinity());
  w.PushHeader(2);
  w.Bulk("message");
  w.Integer(42);
  w.Verbatim("txt", "line1\r\nline2");
  w.Error("oops\r\nsplit");
  w.Error("-WRONGTYPE wrong");
  w.ArrayHeader(0);

  HiredisReader reader;
  reader.Feed(out);
  auto reply = reader.Next();
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(reply->elements, 11u);
  redisReply** e = reply->element;
  EXPECT_EQ(e[0]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(Str(e[0]), "a\0\r\nb"s);
  EXPECT_EQ(e[1]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(e[1]->integer, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(e[2]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(e[3]->type, REDIS_REPLY_NIL);
  ASSERT_EQ(e[4]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(e[4]->elements, 4u);
  EXPECT_EQ(Str(e[4]->element[0]), "k1");
  EXPECT_EQ(e[4]->element[1]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(Str(e[4]->element[1]), "1.5");
  EXPECT_EQ(Str(e[4]->element[2]), "k2");
  EXPECT_EQ(e[4]->element[3]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(e[4]->element[3]->integer, 1);
  ASSERT_EQ(e[5]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(e[5]->elements, 2u);
  EXPECT_EQ(e[5]->element[0]->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(Str(e[5]->element[0]), "member");
  EXPECT_EQ(Str(e[5]->element[1]), "-inf");
  ASSERT_EQ(e[6]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(e[6]->elements, 2u);
  EXPECT_EQ(Str(e[6]->element[0]), "message");
  EXPECT_EQ(e[6]->element[1]->integer, 42);
  EXPECT_EQ(e[7]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(Str(e[7]), "line1\r\nline2");
  EXPECT_EQ(e[8]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Str(e[8]), "ERR oops  split");
  EXPECT_EQ(e[9]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Str(e[9]), "WRONGTYPE wrong");
  EXPECT_EQ(e[10]->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(e[10]->elements, 0u);
  EXPECT_EQ(reader.Next(), nullptr);  // nothing left over
}

TEST(RespWriterTest, HiredisReadsStreamOfRepliesInPieces) {
  std::string out;
  Writer w(&out);
  std::string big(100 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  std::vector<double> doubles = {0.1, 1e-7, 1e300, -0.0, 12345.6789012};
  for (int i = 0; i < 100; ++i) {
    w.Integer(i * 1000003LL - 50);
    w.Bulk(big.substr(0, static_cast<size_t>(i) * 997));
    w.Double(doubles[static_cast<size_t>(i) % doubles.size()]);
  }

  HiredisReader reader;
  size_t fed = 0;
  int i = 0;
  int step = 0;
  std::mt19937 rng(7);
  while (fed < out.size()) {
    const size_t n = std::min<size_t>(rng() % 5000 + 1, out.size() - fed);
    reader.Feed(out.substr(fed, n));
    fed += n;
    while (auto reply = reader.Next()) {
      switch (step % 3) {
        case 0:
          ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
          EXPECT_EQ(reply->integer, i * 1000003LL - 50);
          break;
        case 1:
          ASSERT_EQ(reply->type, REDIS_REPLY_STRING);
          ASSERT_EQ(reply->len, static_cast<size_t>(i) * 997);
          EXPECT_TRUE(Str(reply.get()) == big.substr(0, reply->len));
          break;
        default: {
          ASSERT_EQ(reply->type, REDIS_REPLY_STRING);
          const double expected = doubles[static_cast<size_t>(i) % doubles.size()];
          EXPECT_EQ(std::strtod(Str(reply.get()).c_str(), nullptr), expected) << Str(reply.get());
          ++i;
          break;
        }
      }
      ++step;
    }
  }
  EXPECT_EQ(i, 100);
}

}  // namespace
}  // namespace causalkv::resp
