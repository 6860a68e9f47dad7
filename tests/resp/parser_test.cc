#include "causalkv/resp/parser.h"
#include "causalkv/util/split_args.h"

#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace causalkv::resp {
namespace {

using std::string_literals::operator""s;
using Args = std::vector<std::string>;

std::string EncodeCommand(const Args& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

Args ToStrings(const std::vector<std::string_view>& views) {
  return Args(views.begin(), views.end());
}

struct Result {
  ParseStatus status;
  size_t consumed;
  Args args;
};

Result ParseOnce(Parser* parser, std::string_view data) {
  size_t consumed = 12345;
  std::vector<std::string_view> args;
  ParseStatus status = parser->Parse(data.data(), data.size(), &consumed, &args);
  return {status, consumed, ToStrings(args)};
}

// Expects `input` to be rejected with `error`, both when it arrives at once
// and when it trickles in byte by byte (the error must not fire early or late).
void ExpectProtocolError(std::string_view input, std::string_view error,
                         ParserLimits limits = {}) {
  SCOPED_TRACE(testing::PrintToString(std::string(input)));
  {
    Parser parser(limits);
    Result r = ParseOnce(&parser, input);
    EXPECT_EQ(r.status, ParseStatus::kProtocolError);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(parser.error(), error);
  }
  Parser parser(limits);
  for (size_t k = 1; k < input.size(); ++k) {
    Result r = ParseOnce(&parser, input.substr(0, k));
    ASSERT_EQ(r.status, ParseStatus::kNeedMore) << "prefix " << k;
  }
  EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kProtocolError);
  EXPECT_EQ(parser.error(), error);
}

// Each command is fed in two calls split at every byte, and also byte by
// byte through one parser with the buffer moving between calls (arguments
// are offsets, so relocation must not matter).
void ExpectParsesAtEverySplit(const std::string& input, const Args& expected) {
  SCOPED_TRACE(testing::PrintToString(input));
  for (size_t k = 0; k < input.size(); ++k) {
    Parser parser;
    Result first = ParseOnce(&parser, std::string_view(input).substr(0, k));
    ASSERT_EQ(first.status, ParseStatus::kNeedMore) << "split " << k;
    ASSERT_EQ(first.consumed, 0u);
    const std::string moved = input;  // a different address, same bytes
    Result second = ParseOnce(&parser, moved);
    ASSERT_EQ(second.status, ParseStatus::kOk) << "split " << k;
    ASSERT_EQ(second.consumed, input.size()) << "split " << k;
    ASSERT_EQ(second.args, expected) << "split " << k;
  }
  Parser parser;
  for (size_t k = 1; k <= input.size(); ++k) {
    // Padding that changes every step moves the command to a new address.
    std::string buf(k % 7, '#');
    buf.append(input, 0, k);
    Result r = ParseOnce(&parser, std::string_view(buf).substr(k % 7));
    if (k < input.size()) {
      ASSERT_EQ(r.status, ParseStatus::kNeedMore) << "prefix " << k;
      ASSERT_EQ(r.consumed, 0u);
    } else {
      ASSERT_EQ(r.status, ParseStatus::kOk);
      EXPECT_EQ(r.consumed, input.size());
      EXPECT_EQ(r.args, expected);
    }
  }
}

TEST(RespParserTest, SimpleMultibulk) {
  Parser parser;
  Result r = ParseOnce(&parser, "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 14u);
  EXPECT_EQ(r.args, Args({"PING"}));
}

TEST(RespParserTest, MultibulkArgsAreViewsIntoInput) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
  Parser parser;
  size_t consumed = 0;
  std::vector<std::string_view> args;
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed, &args), ParseStatus::kOk);
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0].data(), input.data() + 8);
  EXPECT_EQ(args[1].data(), input.data() + 17);
  EXPECT_EQ(args[2].data(), input.data() + 24);
  EXPECT_EQ(args[2], "value");
  EXPECT_EQ(consumed, input.size());
}

TEST(RespParserTest, OnlyTheFirstCommandIsConsumed) {
  const std::string one = EncodeCommand({"GET", "a"});
  const std::string input = one + "*1\r\n$4\r\nPI";
  Parser parser;
  Result r = ParseOnce(&parser, input);
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, one.size());
  EXPECT_EQ(r.args, Args({"GET", "a"}));
  r = ParseOnce(&parser, std::string_view(input).substr(one.size()));
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(RespParserTest, EmptyInputNeedsMore) {
  Parser parser;
  Result r = ParseOnce(&parser, "");
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(r.args.empty());
}

TEST(RespParserTest, EverySplitPoint) {
  const std::string binary = "a\0b\r\nc\r\n\0\n\r"s;
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  Args many;
  for (int i = 0; i < 12; ++i) many.push_back("arg" + std::to_string(i));
  Args hundred;
  for (int i = 0; i < 101; ++i) hundred.push_back(std::string(i % 5, 'x'));

  ExpectParsesAtEverySplit("*1\r\n$4\r\nPING\r\n", {"PING"});
  ExpectParsesAtEverySplit(EncodeCommand({"SET", "key", "value"}), {"SET", "key", "value"});
  ExpectParsesAtEverySplit(EncodeCommand({"SET", binary, binary}), {"SET", binary, binary});
  ExpectParsesAtEverySplit(EncodeCommand({"SET", "k", all_bytes}), {"SET", "k", all_bytes});
  ExpectParsesAtEverySplit(EncodeCommand({"", "", ""}), {"", "", ""});
  ExpectParsesAtEverySplit(EncodeCommand({"$3\r\nfoo", "*2"}), {"$3\r\nfoo", "*2"});
  ExpectParsesAtEverySplit(EncodeCommand(many), many);
  ExpectParsesAtEverySplit(EncodeCommand(hundred), hundred);
  ExpectParsesAtEverySplit("PING\r\n", {"PING"});
  ExpectParsesAtEverySplit("set k \"a b\\x00\"\n", {"set", "k", "a b\0"s});
  ExpectParsesAtEverySplit("\r\n", {});
  ExpectParsesAtEverySplit("*0\r\n", {});
  ExpectParsesAtEverySplit("*-1\r\n", {});
}

TEST(RespParserTest, HundredKilobyteValueAtEverySplitPoint) {
  std::string value(100 * 1024, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 131 + i / 256);
  const std::string input = EncodeCommand({"SET", "big", value});
  const size_t value_offset = input.size() - 2 - value.size();
  ASSERT_EQ(input.substr(value_offset - 10, 10), "\n$102400\r\n");

  // Two calls per split point; only the value's address and size are
  // compared per split, since the bytes are checked once below.
  for (size_t k = 0; k < input.size(); ++k) {
    Parser parser;
    size_t consumed = 1;
    std::vector<std::string_view> args;
    ASSERT_EQ(parser.Parse(input.data(), k, &consumed, &args), ParseStatus::kNeedMore) << k;
    ASSERT_EQ(consumed, 0u);
    ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed, &args), ParseStatus::kOk) << k;
    ASSERT_EQ(consumed, input.size());
    ASSERT_EQ(args.size(), 3u);
    ASSERT_EQ(args[2].data(), input.data() + value_offset);
    ASSERT_EQ(args[2].size(), value.size());
  }

  // One parser, one more byte per call: the value's length is known as
  // soon as its header is in, and BytesWanted reports the whole command.
  const size_t value_header = value_offset - 9;
  Parser parser;
  size_t consumed = 0;
  std::vector<std::string_view> args;
  for (size_t k = 1; k < input.size(); ++k) {
    ASSERT_EQ(parser.Parse(input.data(), k, &consumed, &args), ParseStatus::kNeedMore) << k;
    if (k >= value_header) {
      ASSERT_EQ(parser.BytesWanted(), k >= value_offset ? input.size() : 0u) << k;
    }
  }
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed, &args), ParseStatus::kOk);
  EXPECT_EQ(consumed, input.size());
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0], "SET");
  EXPECT_EQ(args[1], "big");
  EXPECT_TRUE(args[2] == value);
  EXPECT_EQ(parser.BytesWanted(), 0u);
}

// A mix of multibulk and inline commands with known arguments.
std::vector<std::pair<std::string, Args>> MakePipeline(size_t n) {
  std::vector<std::pair<std::string, Args>> commands;
  for (size_t i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    switch (i % 5) {
      case 0:
        commands.push_back({EncodeCommand({"SET", "key:" + id, "v\r\n" + id}), {"SET", "key:" + id, "v\r\n" + id}});
        break;
      case 1:
        commands.push_back({EncodeCommand({"GET", "key:" + id}), {"GET", "key:" + id}});
        break;
      case 2:
        commands.push_back({"INCR counter:" + id + "\r\n", {"INCR", "counter:" + id}});
        break;
      case 3: {
        Args args = {"MSET"};
        for (size_t j = 0; j < i % 23; ++j) {
          args.push_back("k" + std::to_string(j));
          args.push_back(std::string(j, static_cast<char>('a' + j % 26)));
        }
        commands.push_back({EncodeCommand(args), args});
        break;
      }
      default:
        commands.push_back({"ECHO \"x\\ty " + id + "\"\n", {"ECHO", "x\ty " + id}});
        break;
    }
  }
  return commands;
}

TEST(RespParserTest, PipelineOfThousandCommandsInOneBuffer) {
  const auto commands = MakePipeline(1000);
  std::string buffer;
  for (const auto& c : commands) buffer += c.first;

  Parser parser;
  size_t offset = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    Result r = ParseOnce(&parser, std::string_view(buffer).substr(offset));
    ASSERT_EQ(r.status, ParseStatus::kOk) << "command " << i;
    ASSERT_EQ(r.consumed, commands[i].first.size()) << "command " << i;
    ASSERT_EQ(r.args, commands[i].second) << "command " << i;
    offset += r.consumed;
  }
  EXPECT_EQ(offset, buffer.size());
  EXPECT_EQ(ParseOnce(&parser, "").status, ParseStatus::kNeedMore);
}

TEST(RespParserTest, PipelineArrivingInRandomChunks) {
  const auto commands = MakePipeline(1000);
  std::string stream;
  for (const auto& c : commands) stream += c.first;

  // Behaves like a connection: append what was read, parse as much as
  // possible, drop what was consumed (which moves the remaining bytes).
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> chunk(1, 97);
  Parser parser;
  std::string inbuf;
  size_t next = 0;
  size_t fed = 0;
  while (fed < stream.size()) {
    const size_t n = std::min(chunk(rng), stream.size() - fed);
    inbuf.append(stream, fed, n);
    fed += n;
    while (true) {
      Result r = ParseOnce(&parser, inbuf);
      ASSERT_NE(r.status, ParseStatus::kProtocolError) << parser.error();
      if (r.status == ParseStatus::kNeedMore) break;
      ASSERT_LT(next, commands.size());
      ASSERT_EQ(r.consumed, commands[next].first.size()) << "command " << next;
      ASSERT_EQ(r.args, commands[next].second) << "command " << next;
      inbuf.erase(0, r.consumed);
      ++next;
    }
  }
  EXPECT_EQ(next, commands.size());
  EXPECT_TRUE(inbuf.empty());
}

TEST(RespParserTest, NonPositiveCountsAreSkipped) {
  for (const char* input : {"*0\r\n", "*-1\r\n", "*-5\r\n", "*-10\r\n", "*-9223372036854775808\r\n"}) {
    Parser parser;
    Result r = ParseOnce(&parser, input);
    EXPECT_EQ(r.status, ParseStatus::kOk) << input;
    EXPECT_EQ(r.consumed, std::strlen(input)) << input;
    EXPECT_TRUE(r.args.empty()) << input;
    // The next command is parsed normally.
    r = ParseOnce(&parser, "*1\r\n$4\r\nPING\r\n");
    EXPECT_EQ(r.status, ParseStatus::kOk);
    EXPECT_EQ(r.args, Args({"PING"}));
  }
}

TEST(RespParserTest, InvalidMultibulkLength) {
  const std::string error = "Protocol error: invalid multibulk length";
  for (const char* input :
       {"*abc\r\n", "*\r\n", "*+1\r\n", "* 1\r\n", "*1 \r\n", "*01\r\n", "*00\r\n", "*-0\r\n",
        "*-\r\n", "*--1\r\n", "*1x\r\n", "*0x10\r\n", "*1.0\r\n", "*1048577\r\n",
        "*9223372036854775808\r\n", "*99999999999999999999\r\n", "*123456789012345678901\r\n",
        "*-9223372036854775809\r\n"}) {
    ExpectProtocolError(input, error);
  }
  ExpectProtocolError("*1\0\r\n"s, error);
}

TEST(RespParserTest, MultibulkLengthLimit) {
  Parser parser;
  EXPECT_EQ(ParseOnce(&parser, "*1048576\r\n").status, ParseStatus::kNeedMore);

  ParserLimits limits;
  limits.max_multibulk_len = 3;
  ExpectProtocolError("*4\r\n", "Protocol error: invalid multibulk length", limits);
  Parser small(limits);
  Result r = ParseOnce(&small, EncodeCommand({"a", "b", "c"}));
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"a", "b", "c"}));
}

TEST(RespParserTest, CommandWithMaximumArgumentCount) {
  const size_t n = 1024 * 1024;
  std::string input = "*" + std::to_string(n) + "\r\n";
  input.reserve(input.size() + n * 7);
  for (size_t i = 0; i < n; ++i) input += "$1\r\nx\r\n";
  Parser parser;
  size_t consumed = 0;
  std::vector<std::string_view> args;
  ASSERT_EQ(parser.Parse(input.data(), input.size() - 1, &consumed, &args), ParseStatus::kNeedMore);
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed, &args), ParseStatus::kOk);
  EXPECT_EQ(consumed, input.size());
  ASSERT_EQ(args.size(), n);
  EXPECT_EQ(args.back(), "x");
  EXPECT_EQ(args.back().data(), input.data() + input.size() - 3);
}

TEST(RespParserTest, InvalidBulkLength) {
  const std::string error = "Protocol error: invalid bulk length";
  for (const char* header : {"$abc", "$", "$-1", "$-10", "$+1", "$ 1", "$1 ", "$01", "$-0", "$0x1",
                             "$1e3", "$536870913", "$9223372036854775808",
                             "$123456789012345678901"}) {
    ExpectProtocolError("*1\r\n"s + header + "\r\n", error);
    // A later argument is checked the same way.
    ExpectProtocolError("*2\r\n$3\r\nGET\r\n"s + header + "\r\n", error);
  }
}

TEST(RespParserTest, BulkLengthLimit) {
  Parser parser;
  Result r = ParseOnce(&parser, "*1\r\n$536870912\r\n");
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(parser.BytesWanted(), 16u + 536870912u + 2u);

  ParserLimits limits;
  limits.max_bulk_len = 10;
  ExpectProtocolError("*1\r\n$11\r\n", "Protocol error: invalid bulk length", limits);
  Parser small(limits);
  r = ParseOnce(&small, EncodeCommand({"0123456789"}));
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"0123456789"}));
}

TEST(RespParserTest, ExpectedDollar) {
  ExpectProtocolError("*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
  ExpectProtocolError("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  ExpectProtocolError("*1\r\n*1\r\n", "Protocol error: expected '$', got '*'");
  ExpectProtocolError("*1\r\n\r\n", "Protocol error: expected '$', got '\r'");
  // From Redis's own protocol tests: a value longer than announced.
  ExpectProtocolError("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
                      "Protocol error: expected '$', got 'f'");
}

TEST(RespParserTest, HeaderLineIsJudgedOnlyWhenComplete) {
  // Like Redis, a bad header byte is reported once the line's CRLF is in.
  Parser parser;
  EXPECT_EQ(ParseOnce(&parser, "*1\r\nfoo").status, ParseStatus::kNeedMore);
  EXPECT_EQ(ParseOnce(&parser, "*1\r\nfoo\r").status, ParseStatus::kNeedMore);
  EXPECT_EQ(ParseOnce(&parser, "*1\r\nfoo\r\n").status, ParseStatus::kProtocolError);
  Parser header;
  EXPECT_EQ(ParseOnce(&header, "*x").status, ParseStatus::kNeedMore);
  EXPECT_EQ(ParseOnce(&header, "*x\r").status, ParseStatus::kNeedMore);
}

TEST(RespParserTest, TooBigMultibulkCountString) {
  const std::string error = "Protocol error: too big mbulk count string";
  // Default limit: a header of 64 KiB without CR waits, one byte more fails.
  {
    Parser parser;
    std::string input = "*" + std::string(64 * 1024 - 1, '1');
    EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kNeedMore);
    input += '1';
    EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kProtocolError);
    EXPECT_EQ(parser.error(), error);
  }
  ParserLimits limits;
  limits.max_inline_len = 16;
  ExpectProtocolError("*" + std::string(16, '1'), error, limits);
  // A CR at the very end means the line is complete but for its LF.
  Parser parser(limits);
  EXPECT_EQ(ParseOnce(&parser, "*" + std::string(15, '1') + "\r").status, ParseStatus::kNeedMore);
  // A whole line longer than the limit is judged as a number, as in Redis.
  Parser whole(limits);
  EXPECT_EQ(ParseOnce(&whole, "*" + std::string(30, '1') + "\r\n").status,
            ParseStatus::kProtocolError);
  EXPECT_EQ(whole.error(), "Protocol error: invalid multibulk length");
}

TEST(RespParserTest, TooBigBulkCountString) {
  const std::string error = "Protocol error: too big bulk count string";
  ParserLimits limits;
  limits.max_inline_len = 16;
  // The limit counts from the start of the bulk header, not the command.
  const std::string prefix = "*2\r\n$3\r\nGET\r\n";
  {
    Parser parser(limits);
    Result r = ParseOnce(&parser, prefix + "$" + std::string(15, '1'));
    EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  }
  ExpectProtocolError(prefix + "$" + std::string(16, '1'), error, limits);
  ExpectProtocolError("*1\r\n" + std::string(17, 'x'), error, limits);
  {
    Parser parser;
    std::string input = "*1\r\n$" + std::string(64 * 1024, '1');
    EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kProtocolError);
    EXPECT_EQ(parser.error(), error);
  }
}

TEST(RespParserTest, TooBigInlineRequest) {
  const std::string error = "Protocol error: too big inline request";
  ParserLimits limits;
  limits.max_inline_len = 16;
  ExpectProtocolError(std::string(17, 'a'), error, limits);
  {
    Parser parser(limits);
    EXPECT_EQ(ParseOnce(&parser, std::string(16, 'a')).status, ParseStatus::kNeedMore);
  }
  {
    // Redis only limits a line whose end has not been seen.
    Parser parser(limits);
    Result r = ParseOnce(&parser, "ECHO " + std::string(40, 'b') + "\r\n");
    EXPECT_EQ(r.status, ParseStatus::kOk);
    EXPECT_EQ(r.args, Args({"ECHO", std::string(40, 'b')}));
  }
  {
    Parser parser;
    std::string input(64 * 1024, 'x');
    EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kNeedMore);
    input += 'x';
    EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kProtocolError);
    EXPECT_EQ(parser.error(), error);
  }
}

TEST(RespParserTest, UnbalancedQuotes) {
  const std::string error = "Protocol error: unbalanced quotes in request";
  for (const char* input :
       {"SET \"foo\r\n", "SET 'foo\r\n", "SET \"a\"b\r\n", "SET 'a'b\r\n", "\"a\"\"b\"\n",
        "ECHO \"abc\\\"\n", "ECHO \"abc\\\n", "ECHO 'abc\\'\n", "\"\n"}) {
    ExpectProtocolError(input, error);
  }
}

TEST(RespParserTest, InlineCommands) {
  struct Case {
    std::string input;
    size_t consumed;
    Args args;
  };
  const std::vector<Case> cases = {
      {"PING\r\n", 6, {"PING"}},
      {"PING\n", 5, {"PING"}},
      {"\r\n", 2, {}},
      {"\n", 1, {}},
      {"   \t \r\n", 7, {}},
      {"set  a   b\r\n", 12, {"set", "a", "b"}},
      {" \t set a \t\r\n", 12, {"set", "a"}},
      {"a\rb\n", 4, {"a", "b"}},
      {"a\r\r\n", 4, {"a"}},
      {"a\vb\n", 4, {"a\vb"}},
      {"\v\fa\n", 4, {"a"}},
      {"SET k \"\"\n", 9, {"SET", "k", ""}},
      {"$3\r\n", 4, {"$3"}},
      {"PING\r\nPING\r\n", 6, {"PING"}},
  };
  for (const auto& c : cases) {
    Parser parser;
    Result r = ParseOnce(&parser, c.input);
    EXPECT_EQ(r.status, ParseStatus::kOk) << testing::PrintToString(c.input);
    EXPECT_EQ(r.consumed, c.consumed) << testing::PrintToString(c.input);
    EXPECT_EQ(r.args, c.args) << testing::PrintToString(c.input);
  }
}

TEST(RespParserTest, InlineArgsOutliveTheInput) {
  std::string input = "SET \"k\" v\r\n";
  Parser parser;
  size_t consumed = 0;
  std::vector<std::string_view> args;
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed, &args), ParseStatus::kOk);
  input.assign(input.size(), '?');  // the caller drops consumed bytes
  EXPECT_EQ(ToStrings(args), Args({"SET", "k", "v"}));
}

TEST(RespParserTest, BytesWanted) {
  Parser parser;
  EXPECT_EQ(parser.BytesWanted(), 0u);
  const std::string input = EncodeCommand({"foo", "hello"});  // *2 $3 foo $5 hello
  ASSERT_EQ(input.size(), 4u + 9u + 11u);
  ParseOnce(&parser, std::string_view(input).substr(0, 3));
  EXPECT_EQ(parser.BytesWanted(), 0u);  // no bulk header yet
  ParseOnce(&parser, std::string_view(input).substr(0, 8));
  EXPECT_EQ(parser.BytesWanted(), 13u);  // "foo" ends at 11, plus CRLF
  ParseOnce(&parser, std::string_view(input).substr(0, 14));
  EXPECT_EQ(parser.BytesWanted(), 0u);  // between bulks
  ParseOnce(&parser, std::string_view(input).substr(0, 17));
  EXPECT_EQ(parser.BytesWanted(), input.size());
  EXPECT_EQ(ParseOnce(&parser, input).status, ParseStatus::kOk);
  EXPECT_EQ(parser.BytesWanted(), 0u);
  // Inline requests never announce a size.
  ParseOnce(&parser, "GET ke");
  EXPECT_EQ(parser.BytesWanted(), 0u);
}

TEST(RespParserTest, ResetForgetsPartialCommand) {
  Parser parser;
  EXPECT_EQ(ParseOnce(&parser, "*3\r\n$3\r\nSET\r\n$1").status, ParseStatus::kNeedMore);
  parser.Reset();
  EXPECT_EQ(parser.BytesWanted(), 0u);
  Result r = ParseOnce(&parser, "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 14u);
  EXPECT_EQ(r.args, Args({"PING"}));

  EXPECT_EQ(ParseOnce(&parser, "ECHO aaaa").status, ParseStatus::kNeedMore);
  parser.Reset();
  r = ParseOnce(&parser, "GET b\n");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"GET", "b"}));
}

TEST(RespParserTest, StateIsFreshAfterEachCommand) {
  Parser parser;
  Result r = ParseOnce(&parser, EncodeCommand({"a", "bb", "ccc"}));
  ASSERT_EQ(r.status, ParseStatus::kOk);
  r = ParseOnce(&parser, "x y\n");
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"x", "y"}));
  r = ParseOnce(&parser, EncodeCommand({"dddddddddd"}));
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"dddddddddd"}));
  r = ParseOnce(&parser, "*1\r\n$2\r\nzz\r\n");
  EXPECT_EQ(r.args, Args({"zz"}));
}

TEST(RespParserTest, ParserIsReusableAfterAnError) {
  Parser parser;
  EXPECT_EQ(ParseOnce(&parser, "*1\r\n$x\r\n").status, ParseStatus::kProtocolError);
  Result r = ParseOnce(&parser, "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.args, Args({"PING"}));
}

TEST(RespParserTest, SetLimitsAppliesToLaterInput) {
  Parser parser;
  ParserLimits limits;
  limits.max_bulk_len = 2;
  parser.set_limits(limits);
  EXPECT_EQ(ParseOnce(&parser, "*1\r\n$3\r\nabc\r\n").status, ParseStatus::kProtocolError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
}

// Redis skips the two bytes after a header's CR and after a value without
// looking at them; the declared lengths are what delimit the command.
TEST(RespParserTest, TerminatorsAreSkippedLikeRedis) {
  Parser parser;
  Result r = ParseOnce(&parser, "*1\rX$1\rYaZW");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(r.args, Args({"a"}));
}

struct Split {
  std::string line;
  Args args;
};

void PrintTo(const Split& split, std::ostream* os) { *os << testing::PrintToString(split.line); }

class RespSplitInlineArgsTest : public testing::TestWithParam<Split> {};

TEST_P(RespSplitInlineArgsTest, SplitsLikeSdssplitargs) {
  const Split& c = GetParam();
  std::string storage = "stale";
  std::vector<std::pair<size_t, size_t>> spans = {{7, 7}};
  ASSERT_TRUE(causalkv::util::SplitArgs(c.line, &storage, &spans));
  Args args;
  for (const auto& [offset, length] : spans) {
    ASSERT_LE(offset + length, storage.size());
    args.push_back(storage.substr(offset, length));
  }
  EXPECT_EQ(args, c.args);
}

INSTANTIATE_TEST_SUITE_P(
    Lines, RespSplitInlineArgsTest,
    testing::Values(
        Split{"", {}}, Split{"   ", {}}, Split{"a", {"a"}}, Split{"  a  b  ", {"a", "b"}},
        Split{"\"a b\" c", {"a b", "c"}},
        Split{R"("\n\r\t\b\a\\\"")", {"\n\r\t\b\a\\\""}},
        Split{R"("\x41\x4a\x4A\xff\x00\x7f")", {"AJJ\xff\0\x7f"s}},
        Split{R"("\x4g")", {"x4g"}},   // not two hex digits: "\x" is just 'x'
        Split{R"("\x4")", {"x4"}},
        Split{R"("\q\'")", {"q'"}},    // unknown escapes stand for the character
        Split{R"('a "b" c')", {"a \"b\" c"}},
        Split{R"('it\'s')", {"it's"}},
        Split{R"('\n\x41\\b')", {"\\n\\x41\\\\b"}},  // single quotes escape only \'
        Split{R"('a\\' b')", {"a\\' b"}},  // so \\' is a backslash then an escaped quote
        Split{R"("it's")", {"it's"}},
        Split{R"("" '')", {"", ""}},
        Split{R"(foo"bar baz")", {"foobar baz"}},  // a quote opens mid-argument
        Split{R"(foo'x y'  z)", {"foox y", "z"}},
        Split{"\"a\"\tb", {"a", "b"}},
        Split{"\"a\"\vb", {"a", "b"}},
        Split{"'a'\fb", {"a", "b"}},
        Split{"a\\x41 b\\", {"a\\x41", "b\\"}},  // no escapes outside quotes
        Split{"\"a\nb\" c", {"a\nb", "c"}},
        Split{"a\0b c"s, {"a\0b"s, "c"}},
        Split{"\"\xc3\xa9t\xc3\xa9\"", {"\xc3\xa9t\xc3\xa9"}}));

TEST(RespParserTest, SplitInlineArgsRejectsBadQuoting) {
  for (const std::string line :
       {"\"abc", "'abc", "\"a\"b", "'a'b", "x \"a\"\"b\"", "\"abc\\\"", "\"abc\\", "'abc\\'",
        "\"", "'", "a \"b", "\"a\"'b'"}) {
    std::string storage;
    std::vector<std::pair<size_t, size_t>> spans;
    EXPECT_FALSE(causalkv::util::SplitArgs(line, &storage, &spans)) << line;
  }
}

}  // namespace
}  // namespace causalkv::resp
