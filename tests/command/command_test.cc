// The command layer end to end, below the network: Dispatcher::Dispatch on a
// real Store, comparing raw RESP bytes. Redis's texts and reply shapes are
// the spec here (client libraries parse them), so most checks are exact.
//
// Dispatch reads the wall clock itself, so TTL tests use relative times far
// from their boundaries, or absolute times already in the past.
#include "causalkv/command/dispatch.h"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"
#include "causalkv/resp/writer.h"
#include "causalkv/store/store.h"

namespace causalkv::command {
namespace {

using std::string_literals::operator""s;

// --- A small RESP2/RESP3 reader, for replies whose shape matters more than
// their bytes (SCAN, COMMAND DOCS, INFO). ---------------------------------------

struct Resp {
  char type = 0;  // the RESP type byte; '$' / '*' with null=true for nulls
  bool null = false;
  std::string str;  // simple, error, bulk, verbatim (without "txt:"), double
  int64_t integer = 0;
  std::vector<Resp> elems;  // array, map (k, v, k, v...), set, push
};

bool ReadLine(std::string_view in, size_t* pos, std::string* line) {
  const size_t end = in.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = std::string(in.substr(*pos, end - *pos));
  *pos = end + 2;
  return true;
}

bool ParseOne(std::string_view in, size_t* pos, Resp* out) {
  if (*pos >= in.size()) return false;
  out->type = in[(*pos)++];
  std::string line;
  if (!ReadLine(in, pos, &line)) return false;
  switch (out->type) {
    case '+':
    case '-':
    case ',':
      out->str = line;
      return true;
    case ':':
      out->integer = std::stoll(line);
      return true;
    case '_':
      out->null = true;
      return true;
    case '#':
      out->integer = line == "t";
      return true;
    case '$':
    case '=': {
      const int64_t len = std::stoll(line);
      if (len < 0) {
        out->null = true;
        return true;
      }
      if (*pos + len + 2 > in.size()) return false;
      out->str = std::string(in.substr(*pos, len));
      *pos += len + 2;
      if (out->type == '=') out->str = out->str.substr(4);
      return true;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      int64_t n = std::stoll(line);
      if (n < 0) {
        out->null = true;
        return true;
      }
      if (out->type == '%') n *= 2;
      for (int64_t i = 0; i < n; ++i) {
        out->elems.emplace_back();
        if (!ParseOne(in, pos, &out->elems.back())) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// Parses exactly one reply covering all of `in`.
Resp Parse(std::string_view in) {
  Resp r;
  size_t pos = 0;
  EXPECT_TRUE(ParseOne(in, &pos, &r)) << "unparsable reply: " << in;
  EXPECT_EQ(pos, in.size()) << "trailing bytes after one reply: " << in;
  return r;
}

// A map reply's value for `key` (works on RESP2 flat arrays and RESP3 maps).
const Resp* MapGet(const Resp& map, std::string_view key) {
  for (size_t i = 0; i + 1 < map.elems.size(); i += 2) {
    if (map.elems[i].str == key) return &map.elems[i + 1];
  }
  return nullptr;
}

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

class CommandTest : public testing::Test {
 protected:
  CommandTest() {
    client_.authenticated = true;
    client_.id = 7;
  }

  // Runs one command and returns the raw reply bytes.
  std::string Run(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    resp::Writer w(&out, client_.protocol);
    dispatcher_.Dispatch(client_, views, w);
    return out;
  }
  uint64_t Counter() { return dispatcher_.LastIssuedVersion(); }

  ServerState state_;
  Dispatcher dispatcher_{&state_, 0x5eed};
  ClientState client_;
};

// --- The versioned commands ----------------------------------------------------

TEST_F(CommandTest, SeedCartScenarioExactBytes) {
  struct Step {
    std::vector<std::string> cmd;
    std::string reply;
  };
  const Step steps[] = {
      {{"vput", "cart", "0", "milk"}, "*2\r\n:1\r\n*1\r\n$4\r\nmilk\r\n"},
      {{"VPUT", "cart", "0", "eggs"}, "*2\r\n:2\r\n*2\r\n$4\r\nmilk\r\n$4\r\neggs\r\n"},
      {{"vput", "cart", "1", "milk flour"},
       "*2\r\n:3\r\n*2\r\n$4\r\neggs\r\n$10\r\nmilk flour\r\n"},
      {{"vput", "cart", "2", "eggs milk ham"},
       "*2\r\n:4\r\n*2\r\n$10\r\nmilk flour\r\n$13\r\neggs milk ham\r\n"},
      {{"vput", "cart", "3", "milk flour eggs bacon"},
       "*2\r\n:5\r\n*2\r\n$13\r\neggs milk ham\r\n$21\r\nmilk flour eggs bacon\r\n"},
      {{"vget", "cart"},
       "*2\r\n:5\r\n*2\r\n$13\r\neggs milk ham\r\n$21\r\nmilk flour eggs bacon\r\n"},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.cmd[0] + " " + step.cmd[1] + (step.cmd.size() > 2 ? " " + step.cmd[2] : ""));
    EXPECT_EQ(Run(step.cmd), step.reply);
  }
}

TEST_F(CommandTest, VGetOfMissingKeyIsVersionZeroAndEmpty) {
  EXPECT_EQ(Run({"vget", "nope"}), "*2\r\n:0\r\n*0\r\n");
  EXPECT_EQ(Run({"vget", "nope", "WITHVERSIONS"}), "*2\r\n:0\r\n*0\r\n");
}

TEST_F(CommandTest, VGetWithVersions) {
  Run({"vput", "cart", "0", "milk"});
  Run({"vput", "cart", "0", "eggs"});
  EXPECT_EQ(Run({"vget", "cart", "WITHVERSIONS"}),
            "*2\r\n:2\r\n*2\r\n*2\r\n:1\r\n$4\r\nmilk\r\n*2\r\n:2\r\n$4\r\neggs\r\n");
  EXPECT_EQ(Run({"vget", "cart", "withversions"}),
            "*2\r\n:2\r\n*2\r\n*2\r\n:1\r\n$4\r\nmilk\r\n*2\r\n:2\r\n$4\r\neggs\r\n");
  EXPECT_EQ(Run({"vget", "cart", "versions"}), "-ERR syntax error\r\n");
}

// Regression test (bug found at d9364b1, fixed in ac93737): VGet() checked
// only args.size() == 3 under arity -2, so extra arguments were silently
// ignored and a plain VGET reply was sent instead of a syntax error.
TEST_F(CommandTest, VGetRejectsExtraArguments) {
  Run({"vput", "cart", "0", "milk"});
  EXPECT_EQ(Run({"vget", "cart", "WITHVERSIONS", "extra"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vget", "cart", "a", "b"}), "-ERR syntax error\r\n");
}

TEST_F(CommandTest, VDelKeepsConcurrentSiblingsAndTakesNoVersion) {
  Run({"vput", "k", "0", "a"});
  Run({"vput", "k", "0", "b"});
  EXPECT_EQ(Run({"vdel", "k", "1"}), "*2\r\n:2\r\n*1\r\n$1\r\nb\r\n");
  EXPECT_EQ(Run({"vdel", "k", "2"}), "*2\r\n:0\r\n*0\r\n");
  EXPECT_EQ(Run({"exists", "k"}), ":0\r\n");
  EXPECT_EQ(Run({"vdel", "k", "2"}), "*2\r\n:0\r\n*0\r\n");
  EXPECT_EQ(Counter(), 2u);
  EXPECT_EQ(Run({"vput", "k", "0", "c"}), "*2\r\n:3\r\n*1\r\n$1\r\nc\r\n");
}

TEST_F(CommandTest, VersionErrors) {
  const std::string format = "-ERR version is not a non-negative integer\r\n";
  const std::string future = "-ERR version is greater than any version this server has issued\r\n";
  EXPECT_EQ(Run({"vput", "k", "abc", "v"}), format);
  EXPECT_EQ(Run({"vput", "k", "-1", "v"}), format);
  EXPECT_EQ(Run({"vput", "k", "1.5", "v"}), format);
  EXPECT_EQ(Run({"vput", "k", "", "v"}), format);
  EXPECT_EQ(Run({"vput", "k", " 1", "v"}), format);
  EXPECT_EQ(Run({"vdel", "k", "x"}), format);
  EXPECT_EQ(Run({"vput", "k", "1", "v"}), future) << "nothing issued yet";
  EXPECT_EQ(Run({"vdel", "k", "1"}), future);
  Run({"vput", "k", "0", "v"});
  EXPECT_EQ(Run({"vput", "k", "2", "w"}), future);
  EXPECT_EQ(Run({"vput", "k", "9223372036854775807", "w"}), future);
  EXPECT_EQ(Run({"vdel", "k", "2"}), future);
  // Nothing changed, no version was taken.
  EXPECT_EQ(Run({"vget", "k"}), "*2\r\n:1\r\n*1\r\n$1\r\nv\r\n");
  EXPECT_EQ(Counter(), 1u);
  // A format error is reported before an option error.
  EXPECT_EQ(Run({"vput", "k", "x", "v", "EX", "0"}), format);
}

TEST_F(CommandTest, VPutTtlOptions) {
  EXPECT_EQ(Run({"vput", "k", "0", "a", "EX", "100"}), "*2\r\n:1\r\n*1\r\n$1\r\na\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "b", "KEEPTTL"}), "*2\r\n:2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n");
  // Without an option the key has no TTL afterwards, as with SET.
  Run({"vput", "k", "0", "c"});
  EXPECT_EQ(Run({"ttl", "k"}), ":-1\r\n");
  Run({"vput", "k", "0", "d", "px", "100000"});
  const std::string pttl = Run({"pttl", "k"});
  ASSERT_EQ(pttl.substr(0, 1), ":");
  const int64_t ms = std::stoll(pttl.substr(1));
  EXPECT_GT(ms, 90000);
  EXPECT_LE(ms, 100000);
}

TEST_F(CommandTest, VPutOptionErrors) {
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EXAT", "100"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "PXAT", "100"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "NX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "GET"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EX", "10", "KEEPTTL"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EX", "10", "PX", "10"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EX", "0"}),
            "-ERR invalid expire time in 'vput' command\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "v", "EX", "ten"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"exists", "k"}), ":0\r\n");
  EXPECT_EQ(Counter(), 0u);
}

TEST_F(CommandTest, BinaryValuesAreSafe) {
  const std::string value = "a\0b\r\nc"s;
  EXPECT_EQ(Run({"vput", "bin", "0", value}), "*2\r\n:1\r\n*1\r\n$6\r\n" + value + "\r\n");
  EXPECT_EQ(Run({"get", "bin"}), "$6\r\n" + value + "\r\n");
  EXPECT_EQ(Run({"set", "k\0k"s, value}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "k\0k"s}), "$6\r\n" + value + "\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
}

TEST_F(CommandTest, PlainCommandsOnVersionedKeys) {
  Run({"vput", "k", "0", "old"});
  Run({"vput", "k", "0", "new"});
  // GET reads the newest sibling.
  EXPECT_EQ(Run({"get", "k"}), "$3\r\nnew\r\n");
  EXPECT_EQ(Run({"strlen", "k"}), ":3\r\n");
  EXPECT_EQ(Run({"type", "k"}), "+string\r\n");
  // SET replaces every sibling by one at a new version.
  EXPECT_EQ(Run({"set", "k", "plain"}), "+OK\r\n");
  EXPECT_EQ(Run({"vget", "k"}), "*2\r\n:3\r\n*1\r\n$5\r\nplain\r\n");
  // APPEND reads the newest and replaces all.
  Run({"vput", "k", "0", "x"});
  EXPECT_EQ(Run({"append", "k", "!"}), ":2\r\n");
  EXPECT_EQ(Run({"vget", "k"}), "*2\r\n:5\r\n*1\r\n$2\r\nx!\r\n");
  // INCR likewise.
  Run({"vput", "n", "0", "5"});
  Run({"vput", "n", "0", "7"});
  EXPECT_EQ(Run({"incr", "n"}), ":8\r\n");
  EXPECT_EQ(Run({"vget", "n"}), "*2\r\n:8\r\n*1\r\n$1\r\n8\r\n");
  // DEL removes every sibling; versions go on.
  EXPECT_EQ(Run({"del", "k", "n"}), ":2\r\n");
  EXPECT_EQ(Run({"vget", "k"}), "*2\r\n:0\r\n*0\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "again"}), "*2\r\n:9\r\n*1\r\n$5\r\nagain\r\n");
}

TEST_F(CommandTest, RenameGivesFreshVersionsThroughCommands) {
  Run({"vput", "dst", "0", "d"});  // 1
  Run({"vput", "src", "0", "a"});  // 2
  Run({"vput", "src", "0", "b"});  // 3
  EXPECT_EQ(Run({"rename", "src", "dst"}), "+OK\r\n");
  EXPECT_EQ(Run({"vget", "dst"}), "*2\r\n:5\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(Run({"vget", "dst", "WITHVERSIONS"}),
            "*2\r\n:5\r\n*2\r\n*2\r\n:4\r\n$1\r\na\r\n*2\r\n:5\r\n$1\r\nb\r\n");
  // A client that read dst at version 1 cannot remove what it never read.
  EXPECT_EQ(Run({"vdel", "dst", "3"}), "*2\r\n:5\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(Run({"rename", "nope", "x"}), "-ERR no such key\r\n");
  EXPECT_EQ(Run({"rename", "dst", "dst"}), "+OK\r\n");
  EXPECT_EQ(Run({"renamenx", "dst", "dst"}), ":0\r\n");
  Run({"set", "other", "o"});  // 6
  EXPECT_EQ(Run({"renamenx", "dst", "other"}), ":0\r\n");
  EXPECT_EQ(Counter(), 6u);
  EXPECT_EQ(Run({"renamenx", "dst", "fresh"}), ":1\r\n");
  EXPECT_EQ(Run({"vget", "fresh"}), "*2\r\n:8\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST_F(CommandTest, WritesThatStoreNothingTakeNoVersion) {
  Run({"set", "k", "v"});
  Run({"set", "n", "notanumber"});
  ASSERT_EQ(Counter(), 2u);
  EXPECT_EQ(Run({"set", "k", "w", "NX"}), "$-1\r\n");
  EXPECT_EQ(Run({"set", "missing", "w", "XX"}), "$-1\r\n");
  EXPECT_EQ(Run({"setnx", "k", "w"}), ":0\r\n");
  EXPECT_EQ(Run({"msetnx", "k", "w", "z", "z"}), ":0\r\n");
  EXPECT_EQ(Run({"incr", "n"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "n", "1"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(Run({"setrange", "k", "0", ""}), ":1\r\n");
  EXPECT_EQ(Run({"setrange", "missing", "3", ""}), ":0\r\n");
  EXPECT_EQ(Run({"exists", "missing", "z"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "k", "100"}), ":1\r\n");
  EXPECT_EQ(Run({"persist", "k"}), ":1\r\n");
  EXPECT_EQ(Run({"renamenx", "k", "n"}), ":0\r\n");
  EXPECT_EQ(Run({"getex", "k", "EX", "50"}), "$1\r\nv\r\n");
  EXPECT_EQ(Counter(), 2u);
  EXPECT_EQ(Run({"vget", "k"}), "*2\r\n:1\r\n*1\r\n$1\r\nv\r\n");
}

// --- Errors --------------------------------------------------------------------

TEST_F(CommandTest, UnknownCommandTextIsRedis) {
  EXPECT_EQ(Run({"foo", "a"}), "-ERR unknown command 'foo', with args beginning with: 'a' \r\n");
  EXPECT_EQ(Run({"foo"}), "-ERR unknown command 'foo', with args beginning with: \r\n");
  EXPECT_EQ(Run({"FoO", "a", "b c"}),
            "-ERR unknown command 'FoO', with args beginning with: 'a' 'b c' \r\n");
  // CR/LF from the client cannot split the reply.
  EXPECT_EQ(Run({"foo", "a\r\nb"}),
            "-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n");
}

TEST_F(CommandTest, UnknownCommandClipsArgumentsAt128BytesAsRedis) {
  // Redis appends "'%.*s' " with 128 - (bytes so far) while under 128 bytes.
  const std::string long_arg(200, 'x');
  EXPECT_EQ(
      Run({"foo", long_arg, "next"}),
      "-ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'x') + "' \r\n");
  const std::string hundred(100, 'a');
  EXPECT_EQ(Run({"foo", hundred, long_arg}),
            "-ERR unknown command 'foo', with args beginning with: '" + hundred + "' '" +
                std::string(25, 'x') + "' \r\n");
  // The name itself is clipped at 128 bytes ("%.128s").
  EXPECT_EQ(Run({std::string(300, 'n')}),
            "-ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: \r\n");
}

TEST_F(CommandTest, WrongArityTextIsRedis) {
  EXPECT_EQ(Run({"get"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Run({"GET", "a", "b"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Run({"vput", "k", "0"}), "-ERR wrong number of arguments for 'vput' command\r\n");
  EXPECT_EQ(Run({"vdel", "k"}), "-ERR wrong number of arguments for 'vdel' command\r\n");
  EXPECT_EQ(Run({"vget"}), "-ERR wrong number of arguments for 'vget' command\r\n");
  EXPECT_EQ(Run({"mset", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(Run({"ping", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  // Subcommands are named "container|sub", as Redis 7 does.
  EXPECT_EQ(Run({"config", "get"}), "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(Run({"client"}), "-ERR wrong number of arguments for 'client' command\r\n");
  EXPECT_EQ(Run({"config", "foo"}), "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
}

TEST_F(CommandTest, ConnectionStaysUsableAfterErrors) {
  Run({"foo"});
  Run({"get"});
  EXPECT_EQ(Run({"ping"}), "+PONG\r\n");
  EXPECT_FALSE(client_.close_after_reply);
}

TEST_F(CommandTest, AuthenticationGate) {
  state_.config.requirepass = "secret";
  client_.authenticated = false;
  EXPECT_EQ(Run({"get", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(Run({"ping"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(Run({"auth", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(Run({"auth", "secret"}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
}

// --- Strings -------------------------------------------------------------------

TEST_F(CommandTest, SetOptionCombinations) {
  EXPECT_EQ(Run({"set", "k", "v1"}), "+OK\r\n");
  EXPECT_EQ(Run({"set", "k", "v2", "NX"}), "$-1\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$2\r\nv1\r\n");
  EXPECT_EQ(Run({"set", "k", "v2", "XX"}), "+OK\r\n");
  EXPECT_EQ(Run({"set", "none", "v", "XX"}), "$-1\r\n");
  EXPECT_EQ(Run({"exists", "none"}), ":0\r\n");
  EXPECT_EQ(Run({"set", "k", "v3", "GET"}), "$2\r\nv2\r\n");
  EXPECT_EQ(Run({"set", "new", "v", "GET"}), "$-1\r\n");
  EXPECT_EQ(Run({"get", "new"}), "$1\r\nv\r\n");
  // NX GET on an existing key: no write, the old value back.
  EXPECT_EQ(Run({"set", "k", "v4", "NX", "GET"}), "$2\r\nv3\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$2\r\nv3\r\n");
  EXPECT_EQ(Run({"set", "k", "v5", "xx", "get"}), "$2\r\nv3\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$2\r\nv5\r\n");

  // Expiry forms.
  EXPECT_EQ(Run({"set", "t", "v", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":100\r\n");
  EXPECT_EQ(Run({"set", "t", "v", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":100\r\n");
  EXPECT_EQ(Run({"set", "t", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":-1\r\n") << "a plain SET clears the TTL";
  EXPECT_EQ(Run({"set", "t", "v", "EXAT", "4000000000"}), "+OK\r\n");
  EXPECT_EQ(Run({"expiretime", "t"}), ":4000000000\r\n");
  EXPECT_EQ(Run({"set", "t", "v", "PXAT", "4000000000123"}), "+OK\r\n");
  EXPECT_EQ(Run({"pexpiretime", "t"}), ":4000000000123\r\n");
  EXPECT_EQ(Run({"set", "t", "v", "EX", "10", "EX", "200"}), "+OK\r\n") << "the same kind repeats";
  EXPECT_EQ(Run({"ttl", "t"}), ":200\r\n");
  EXPECT_EQ(Run({"set", "t", "v", "NX", "EX", "10"}), "$-1\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":200\r\n");
  // An absolute time in the past stores a key that is already gone.
  EXPECT_EQ(Run({"set", "gone", "v", "PXAT", "1"}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "gone"}), "$-1\r\n");

  // Conflicts and bad values.
  const std::string syntax = "-ERR syntax error\r\n";
  EXPECT_EQ(Run({"set", "k", "v", "NX", "XX"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "XX", "NX"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "10", "PX", "10"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "KEEPTTL", "EX", "10"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "10", "KEEPTTL"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "PERSIST"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "FOO"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "PX", "-5"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "EX", "9223372036854775807"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "EX", "1.5"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$2\r\nv5\r\n") << "a refused SET changes nothing";
}

TEST_F(CommandTest, SetExFamilyAndGetVariants) {
  EXPECT_EQ(Run({"setex", "k", "100", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n");
  EXPECT_EQ(Run({"setex", "k", "0", "v"}), "-ERR invalid expire time in 'setex' command\r\n");
  EXPECT_EQ(Run({"psetex", "k", "-1", "v"}), "-ERR invalid expire time in 'psetex' command\r\n");
  EXPECT_EQ(Run({"setex", "k", "x", "v"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"psetex", "p", "100000", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "p"}), ":100\r\n");
  EXPECT_EQ(Run({"setnx", "n", "1"}), ":1\r\n");
  EXPECT_EQ(Run({"setnx", "n", "2"}), ":0\r\n");
  EXPECT_EQ(Run({"getset", "n", "3"}), "$1\r\n1\r\n");
  EXPECT_EQ(Run({"getset", "m", "3"}), "$-1\r\n");
  EXPECT_EQ(Run({"getdel", "n"}), "$1\r\n3\r\n");
  EXPECT_EQ(Run({"getdel", "n"}), "$-1\r\n");
  EXPECT_EQ(Run({"mset", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(Run({"mget", "a", "nope", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"msetnx", "c", "3", "d", "4"}), ":1\r\n");
  EXPECT_EQ(Run({"msetnx", "d", "5", "e", "6"}), ":0\r\n");
  EXPECT_EQ(Run({"exists", "e"}), ":0\r\n");
  EXPECT_EQ(Run({"append", "s", "abc"}), ":3\r\n");
  EXPECT_EQ(Run({"append", "s", "def"}), ":6\r\n");
  EXPECT_EQ(Run({"get", "s"}), "$6\r\nabcdef\r\n");
  EXPECT_EQ(Run({"strlen", "s"}), ":6\r\n");
  EXPECT_EQ(Run({"strlen", "nope"}), ":0\r\n");
  // GETEX: read, then change the TTL.
  EXPECT_EQ(Run({"getex", "s", "EX", "100"}), "$6\r\nabcdef\r\n");
  EXPECT_EQ(Run({"ttl", "s"}), ":100\r\n");
  EXPECT_EQ(Run({"append", "s", "g"}), ":7\r\n");
  EXPECT_EQ(Run({"ttl", "s"}), ":100\r\n") << "APPEND keeps the TTL";
  EXPECT_EQ(Run({"getex", "s", "PERSIST"}), "$7\r\nabcdefg\r\n");
  EXPECT_EQ(Run({"ttl", "s"}), ":-1\r\n");
  EXPECT_EQ(Run({"getex", "s", "PXAT", "1"}), "$7\r\nabcdefg\r\n");
  EXPECT_EQ(Run({"exists", "s"}), ":0\r\n");
  EXPECT_EQ(Run({"getex", "nope", "EX", "10"}), "$-1\r\n");
  EXPECT_EQ(Run({"getex", "a", "KEEPTTL"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"getex", "a", "EX", "10", "PERSIST"}), "-ERR syntax error\r\n");
}

TEST_F(CommandTest, IncrFamily) {
  EXPECT_EQ(Run({"incr", "n"}), ":1\r\n");
  EXPECT_EQ(Run({"incrby", "n", "41"}), ":42\r\n");
  EXPECT_EQ(Run({"decr", "n"}), ":41\r\n");
  EXPECT_EQ(Run({"decrby", "n", "50"}), ":-9\r\n");
  EXPECT_EQ(Run({"get", "n"}), "$2\r\n-9\r\n");
  EXPECT_EQ(Run({"decr", "fresh"}), ":-1\r\n");
  EXPECT_EQ(Run({"incrby", "n", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"incrby", "n", "1.0"}), "-ERR value is not an integer or out of range\r\n");
  Run({"set", "s", " 1"});
  EXPECT_EQ(Run({"incr", "s"}), "-ERR value is not an integer or out of range\r\n");
  Run({"set", "max", "9223372036854775807"});
  EXPECT_EQ(Run({"incr", "max"}), "-ERR increment or decrement would overflow\r\n");
  Run({"set", "min", "-9223372036854775808"});
  EXPECT_EQ(Run({"decr", "min"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(Run({"decrby", "n", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
  EXPECT_EQ(Run({"get", "n"}), "$2\r\n-9\r\n") << "failed increments change nothing";
  // INCR keeps the TTL, as in Redis.
  Run({"set", "t", "1", "EX", "100"});
  EXPECT_EQ(Run({"incr", "t"}), ":2\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":100\r\n");

  EXPECT_EQ(Run({"set", "f", "10.50"}), "+OK\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "f", "0.1"}), "$4\r\n10.6\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "f", "-10.6"}), "$1\r\n0\r\n");
  EXPECT_EQ(Run({"set", "e", "5.0e3"}), "+OK\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "e", "2.0e2"}), "$4\r\n5200\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "g", "3"}), "$1\r\n3\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "g", "x"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(Run({"incrbyfloat", "g", "inf"}), "-ERR increment would produce NaN or Infinity\r\n");
  EXPECT_EQ(Run({"get", "g"}), "$1\r\n3\r\n");
}

TEST_F(CommandTest, GetRangeAndSetRange) {
  Run({"set", "s", "Hello World"});
  EXPECT_EQ(Run({"getrange", "s", "0", "4"}), "$5\r\nHello\r\n");
  EXPECT_EQ(Run({"getrange", "s", "-5", "-1"}), "$5\r\nWorld\r\n");
  EXPECT_EQ(Run({"getrange", "s", "0", "-1"}), "$11\r\nHello World\r\n");
  EXPECT_EQ(Run({"getrange", "s", "6", "1000"}), "$5\r\nWorld\r\n");
  EXPECT_EQ(Run({"getrange", "s", "5", "2"}), "$0\r\n\r\n");
  EXPECT_EQ(Run({"getrange", "s", "-1", "-5"}), "$0\r\n\r\n");
  EXPECT_EQ(Run({"getrange", "s", "100", "200"}), "$0\r\n\r\n");
  EXPECT_EQ(Run({"getrange", "s", "-100", "2"}), "$3\r\nHel\r\n");
  EXPECT_EQ(Run({"getrange", "nope", "0", "-1"}), "$0\r\n\r\n");
  EXPECT_EQ(Run({"getrange", "s", "a", "1"}), "-ERR value is not an integer or out of range\r\n");

  EXPECT_EQ(Run({"setrange", "s", "6", "Redis"}), ":11\r\n");
  EXPECT_EQ(Run({"get", "s"}), "$11\r\nHello Redis\r\n");
  EXPECT_EQ(Run({"setrange", "s", "11", "!"}), ":12\r\n");
  EXPECT_EQ(Run({"get", "s"}), "$12\r\nHello Redis!\r\n");
  EXPECT_EQ(Run({"setrange", "pad", "3", "x"}), ":4\r\n");
  EXPECT_EQ(Run({"get", "pad"}), "$4\r\n\0\0\0x\r\n"s);
  EXPECT_EQ(Run({"setrange", "s", "-1", "x"}), "-ERR offset is out of range\r\n");
  EXPECT_EQ(Run({"setrange", "s", "536870912", "x"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  EXPECT_EQ(Run({"setrange", "new", "0", ""}), ":0\r\n");
  EXPECT_EQ(Run({"exists", "new"}), ":0\r\n") << "an empty SETRANGE creates no key";
  Run({"set", "t", "abc", "EX", "100"});
  EXPECT_EQ(Run({"setrange", "t", "1", "X"}), ":3\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":100\r\n") << "SETRANGE keeps the TTL";
}

// --- Keyspace --------------------------------------------------------------------

TEST_F(CommandTest, ExpireOptions) {
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"expire", "k", "100", "XX"}), ":0\r\n") << "XX: no TTL yet";
  EXPECT_EQ(Run({"expire", "k", "100", "GT"}), ":0\r\n") << "GT: no TTL counts as infinite";
  EXPECT_EQ(Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(Run({"expire", "k", "100", "NX"}), ":1\r\n");
  EXPECT_EQ(Run({"expire", "k", "200", "NX"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "k", "50", "GT"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "k", "200", "gt"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":200\r\n");
  EXPECT_EQ(Run({"expire", "k", "300", "LT"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "k", "150", "LT"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":150\r\n");
  EXPECT_EQ(Run({"expire", "k", "120", "XX", "LT"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":120\r\n");
  Run({"persist", "k"});
  EXPECT_EQ(Run({"expire", "k", "100", "LT"}), ":1\r\n") << "LT: no TTL counts as infinite";
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n");

  EXPECT_EQ(Run({"expire", "k", "10", "NX", "XX"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(Run({"expire", "k", "10", "NX", "GT"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(Run({"expire", "k", "10", "GT", "LT"}),
            "-ERR GT and LT options at the same time are not compatible\r\n");
  EXPECT_EQ(Run({"expire", "k", "10", "FOO"}), "-ERR Unsupported option FOO\r\n");
  EXPECT_EQ(Run({"expire", "k", "ten"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"expire", "k", "9223372036854775807"}),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n") << "refused EXPIREs change nothing";
  EXPECT_EQ(Run({"expire", "nope", "10"}), ":0\r\n");
  // A time already past deletes the key.
  EXPECT_EQ(Run({"expire", "k", "-1"}), ":1\r\n");
  EXPECT_EQ(Run({"exists", "k"}), ":0\r\n");
}

TEST_F(CommandTest, ExpireFamilyAndTtlReplies) {
  EXPECT_EQ(Run({"ttl", "nope"}), ":-2\r\n");
  EXPECT_EQ(Run({"pttl", "nope"}), ":-2\r\n");
  EXPECT_EQ(Run({"expiretime", "nope"}), ":-2\r\n");
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"pttl", "k"}), ":-1\r\n");
  EXPECT_EQ(Run({"expiretime", "k"}), ":-1\r\n");
  EXPECT_EQ(Run({"expireat", "k", "4000000000"}), ":1\r\n");
  EXPECT_EQ(Run({"expiretime", "k"}), ":4000000000\r\n");
  EXPECT_EQ(Run({"pexpiretime", "k"}), ":4000000000000\r\n");
  EXPECT_EQ(Run({"pexpireat", "k", "4000000000500"}), ":1\r\n");
  EXPECT_EQ(Run({"pexpiretime", "k"}), ":4000000000500\r\n");
  EXPECT_EQ(Run({"pexpire", "k", "100000"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":100\r\n");
  EXPECT_EQ(Run({"persist", "k"}), ":1\r\n");
  EXPECT_EQ(Run({"persist", "k"}), ":0\r\n");
  EXPECT_EQ(Run({"persist", "nope"}), ":0\r\n");
  EXPECT_EQ(Run({"pexpireat", "k", "1"}), ":1\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
}

TEST_F(CommandTest, LazyExpiryCountsInInfoStats) {
  // PXAT in the past stores a key that is expired on its next lookup.
  Run({"set", "a", "v", "PXAT", "1"});
  Run({"vput", "b", "0", "v"});
  EXPECT_EQ(Run({"dbsize"}), ":2\r\n") << "not reclaimed until looked at";
  EXPECT_EQ(Run({"get", "a"}), "$-1\r\n");
  EXPECT_EQ(Run({"dbsize"}), ":1\r\n");
  const Resp info = Parse(Run({"info", "stats"}));
  EXPECT_NE(info.str.find("\r\nexpired_keys:1\r\n"), std::string::npos) << info.str;
}

TEST_F(CommandTest, DelExistsTypeTouch) {
  Run({"mset", "a", "1", "b", "2"});
  EXPECT_EQ(Run({"exists", "a", "a", "b", "c"}), ":3\r\n");
  EXPECT_EQ(Run({"touch", "a", "c"}), ":1\r\n");
  EXPECT_EQ(Run({"type", "a"}), "+string\r\n");
  EXPECT_EQ(Run({"type", "c"}), "+none\r\n");
  EXPECT_EQ(Run({"del", "a", "c", "a"}), ":1\r\n");
  EXPECT_EQ(Run({"unlink", "b"}), ":1\r\n");
  EXPECT_EQ(Run({"dbsize"}), ":0\r\n");
}

TEST_F(CommandTest, KeysAndRandomKey) {
  EXPECT_EQ(Run({"randomkey"}), "$-1\r\n");
  EXPECT_EQ(Run({"keys", "*"}), "*0\r\n");
  Run({"mset", "user:1", "a", "user:2", "b", "other", "c"});
  std::set<std::string> got;
  for (const Resp& e : Parse(Run({"keys", "user:*"})).elems) got.insert(e.str);
  EXPECT_EQ(got, (std::set<std::string>{"user:1", "user:2"}));
  EXPECT_EQ(Parse(Run({"keys", "*"})).elems.size(), 3u);
  EXPECT_EQ(Run({"keys", "user:[3-9]"}), "*0\r\n");
  Run({"del", "user:1", "user:2"});
  EXPECT_EQ(Run({"randomkey"}), "$5\r\nother\r\n");
}

TEST_F(CommandTest, ScanReplyShape) {
  EXPECT_EQ(Run({"scan", "0"}), "*2\r\n$1\r\n0\r\n*0\r\n");
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"scan", "0"}), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
  EXPECT_EQ(Run({"scan", "0", "TYPE", "string"}), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
  EXPECT_EQ(Run({"scan", "0", "TYPE", "list"}), "*2\r\n$1\r\n0\r\n*0\r\n");
  EXPECT_EQ(Run({"scan", "0", "MATCH", "x*"}), "*2\r\n$1\r\n0\r\n*0\r\n");
  EXPECT_EQ(Run({"scan", "abc"}), "-ERR invalid cursor\r\n");
  // Redis parses the cursor with strtoul: an empty one is 0.
  EXPECT_EQ(Run({"scan", ""}), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
  EXPECT_EQ(Run({"scan", "0", "COUNT", "0"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"scan", "0", "COUNT", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"scan", "0", "COUNT"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"scan", "0", "FOO", "bar"}), "-ERR syntax error\r\n");
}

TEST_F(CommandTest, ScanIteratesEveryKeyWithSmallCounts) {
  std::set<std::string> want;
  for (int i = 0; i < 200; ++i) {
    const std::string key = (i % 4 == 0 ? "user:" : "item:") + std::to_string(i);
    Run({"set", key, "v"});
    want.insert(key);
  }
  std::set<std::string> all, users;
  std::string cursor = "0";
  int calls = 0;
  do {
    const Resp r = Parse(Run({"scan", cursor, "COUNT", "7"}));
    ASSERT_EQ(r.type, '*');
    ASSERT_EQ(r.elems.size(), 2u);
    ASSERT_EQ(r.elems[0].type, '$') << "the cursor is a bulk string";
    ASSERT_EQ(r.elems[1].type, '*');
    for (const Resp& k : r.elems[1].elems) all.insert(k.str);
    cursor = r.elems[0].str;
    ASSERT_LT(++calls, 1000);
  } while (cursor != "0");
  EXPECT_EQ(all, want);
  EXPECT_GT(calls, 5) << "COUNT 7 over 200 keys takes several calls";
  cursor = "0";
  do {
    const Resp r = Parse(Run({"scan", cursor, "MATCH", "user:*", "COUNT", "1000"}));
    for (const Resp& k : r.elems[1].elems) users.insert(k.str);
    cursor = r.elems[0].str;
  } while (cursor != "0");
  EXPECT_EQ(users.size(), 50u);
  for (const std::string& u : users) EXPECT_EQ(u.rfind("user:", 0), 0u) << u;
}

// Regression test (bug found at d9364b1, fixed in ac93737): Scan() computed
// `count * 10` in int64_t, which overflows (undefined behaviour, reported by
// UBSan) for COUNT above INT64_MAX / 10; in practice it wrapped negative and
// the call stopped after one bucket. Redis returns the whole small keyspace.
TEST_F(CommandTest, ScanWithHugeCountReturnsEverything) {
  for (int i = 0; i < 50; ++i) Run({"set", "k" + std::to_string(i), "v"});
  const Resp r = Parse(Run({"scan", "0", "COUNT", "1000000000000000000"}));
  ASSERT_EQ(r.elems.size(), 2u);
  EXPECT_EQ(r.elems[0].str, "0");
  EXPECT_EQ(r.elems[1].elems.size(), 50u);
}

TEST_F(CommandTest, SelectAndMove) {
  Run({"set", "k", "db0"});
  EXPECT_EQ(Run({"select", "1"}), "+OK\r\n");
  EXPECT_EQ(client_.db, 1);
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
  Run({"set", "k", "db1"});
  EXPECT_EQ(Run({"select", "0"}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$3\r\ndb0\r\n");
  EXPECT_EQ(Run({"select", "16"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(Run({"select", "-1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(Run({"select", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(client_.db, 0);

  Run({"vput", "m", "0", "a"});
  Run({"vput", "m", "0", "b"});  // versions 3, 4
  EXPECT_EQ(Run({"move", "m", "2"}), ":1\r\n");
  EXPECT_EQ(Run({"exists", "m"}), ":0\r\n");
  EXPECT_EQ(Run({"move", "m", "2"}), ":0\r\n");
  EXPECT_EQ(Run({"move", "k", "1"}), ":0\r\n") << "the target already has k";
  EXPECT_EQ(Run({"move", "k", "0"}), "-ERR source and destination objects are the same\r\n");
  EXPECT_EQ(Run({"move", "k", "99"}), "-ERR DB index is out of range\r\n");
  Run({"select", "2"});
  EXPECT_EQ(Run({"vget", "m"}), "*2\r\n:6\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n") << "fresh versions";
}

TEST_F(CommandTest, FlushKeepsVersionsIncreasing) {
  Run({"vput", "k", "0", "a"});
  Run({"select", "3"});
  Run({"vput", "k", "0", "b"});
  EXPECT_EQ(Run({"flushdb"}), "+OK\r\n");
  EXPECT_EQ(Run({"dbsize"}), ":0\r\n");
  Run({"select", "0"});
  EXPECT_EQ(Run({"dbsize"}), ":1\r\n");
  EXPECT_EQ(Run({"flushall", "ASYNC"}), "+OK\r\n");
  EXPECT_EQ(Run({"dbsize"}), ":0\r\n");
  EXPECT_EQ(Run({"flushall", "sync"}), "+OK\r\n");
  EXPECT_EQ(Run({"flushall", "now"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"vput", "k", "0", "c"}), "*2\r\n:3\r\n*1\r\n$1\r\nc\r\n");
}

// --- Connection and server -------------------------------------------------------

TEST_F(CommandTest, PingEcho) {
  EXPECT_EQ(Run({"ping"}), "+PONG\r\n");
  EXPECT_EQ(Run({"PING", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Run({"echo", "a\r\nb"}), "$4\r\na\r\nb\r\n");
}

TEST_F(CommandTest, QuitShutdownTime) {
  EXPECT_EQ(Run({"time"}).rfind("*2\r\n$10\r\n", 0), 0u) << "[seconds, microseconds] as bulks";
  const Resp time = Parse(Run({"time"}));
  ASSERT_EQ(time.elems.size(), 2u);
  EXPECT_GT(std::stoll(time.elems[0].str), 1'600'000'000);
  EXPECT_LT(std::stoll(time.elems[1].str), 1'000'000);
  EXPECT_EQ(Run({"shutdown", "bogus"}), "-ERR syntax error\r\n");
  EXPECT_FALSE(state_.shutdown_requested);
  EXPECT_EQ(Run({"quit"}), "+OK\r\n");
  EXPECT_TRUE(client_.close_after_reply);
  client_.close_after_reply = false;
  EXPECT_EQ(Run({"shutdown", "NOSAVE"}), "") << "like Redis, no reply: the connection closes";
  EXPECT_TRUE(state_.shutdown_requested);
  EXPECT_TRUE(client_.close_after_reply);
}

TEST_F(CommandTest, ConfigSetAndResetStat) {
  EXPECT_EQ(Run({"config", "set", "hz", "20"}), "+OK\r\n");
  EXPECT_EQ(Run({"config", "get", "hz"}), "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n");
  EXPECT_EQ(state_.config.hz, 20);
  // All or nothing: a bad second pair leaves the first unapplied.
  EXPECT_EQ(Run({"config", "set", "hz", "30", "no-such-option", "1"}).substr(0, 5), "-ERR ");
  EXPECT_EQ(state_.config.hz, 20);
  EXPECT_EQ(Run({"config", "set", "hz", "30", "hz", "40"}).substr(0, 5), "-ERR ");
  EXPECT_EQ(state_.config.hz, 20);
  EXPECT_EQ(Run({"config", "set", "hz", "30", "databases"}), "-ERR syntax error\r\n");
  Run({"set", "k", "v"});
  Run({"get", "k"});
  Run({"get", "k"});
  Run({"get", "nope"});
  const Resp stats = Parse(Run({"info", "stats"}));
  EXPECT_NE(stats.str.find("\r\nkeyspace_hits:2\r\n"), std::string::npos) << stats.str;
  EXPECT_NE(stats.str.find("\r\nkeyspace_misses:1\r\n"), std::string::npos) << stats.str;
  EXPECT_EQ(Run({"config", "resetstat"}), "+OK\r\n");
  const Resp after = Parse(Run({"info", "stats"}));
  EXPECT_NE(after.str.find("\r\nkeyspace_hits:0\r\n"), std::string::npos) << after.str;
}

TEST_F(CommandTest, HelloSwitchesToResp3) {
  const std::string reply = Run({"hello", "3"});
  ASSERT_EQ(reply.rfind("%7\r\n", 0), 0u) << reply;
  EXPECT_EQ(client_.protocol, 3);
  const Resp hello = Parse(reply);
  ASSERT_EQ(hello.type, '%');
  ASSERT_NE(MapGet(hello, "version"), nullptr);
  const std::string version = MapGet(hello, "version")->str;
  EXPECT_EQ(version.rfind("7.2.", 0), 0u) << version;
  EXPECT_EQ(reply, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n" + Bulk(version) +
                       "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                       "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
  // Later replies use RESP3 types.
  EXPECT_EQ(Run({"get", "nope"}), "_\r\n");
  EXPECT_EQ(Run({"config", "get", "port"}), "%1\r\n$4\r\nport\r\n$4\r\n6379\r\n");
  EXPECT_EQ(Run({"vget", "nope"}), "*2\r\n:0\r\n*0\r\n");
  const std::string info = Run({"info", "server"});
  EXPECT_EQ(info[0], '=') << "INFO is verbatim text in RESP3";
  EXPECT_NE(info.find("txt:# Server\r\n"), std::string::npos);
  // And HELLO 2 switches back.
  const std::string back = Run({"hello", "2"});
  EXPECT_EQ(back.rfind("*14\r\n", 0), 0u) << back;
  EXPECT_EQ(client_.protocol, 2);
  EXPECT_EQ(Run({"get", "nope"}), "$-1\r\n");
}

TEST_F(CommandTest, HelloArgumentsAndErrors) {
  EXPECT_EQ(Run({"hello"}).rfind("*14\r\n", 0), 0u) << "no argument keeps RESP2";
  EXPECT_EQ(client_.protocol, 2);
  EXPECT_EQ(Run({"hello", "4"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(Run({"hello", "1"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(Run({"hello", "x"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"hello", "3", "FOO"}), "-ERR Syntax error in HELLO option 'FOO'\r\n");
  EXPECT_EQ(client_.protocol, 2) << "a refused HELLO changes nothing";
  EXPECT_EQ(Run({"hello", "3", "SETNAME", "me"}).rfind("%7\r\n", 0), 0u);
  EXPECT_EQ(client_.name, "me");
}

TEST_F(CommandTest, HelloAuth) {
  state_.config.requirepass = "pw";
  client_.authenticated = false;
  EXPECT_EQ(Run({"hello", "3"}).rfind("-NOAUTH HELLO must be called", 0), 0u);
  EXPECT_EQ(Run({"hello", "3", "AUTH", "default", "bad"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_FALSE(client_.authenticated);
  EXPECT_EQ(Run({"hello", "3", "AUTH", "default", "pw"}).rfind("%7\r\n", 0), 0u);
  EXPECT_TRUE(client_.authenticated);
}

TEST_F(CommandTest, ConfigGet) {
  EXPECT_EQ(Run({"config", "get", "port"}), "*2\r\n$4\r\nport\r\n$4\r\n6379\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "PORT"}), "*2\r\n$4\r\nport\r\n$4\r\n6379\r\n");
  EXPECT_EQ(Run({"config", "get", "databases"}), "*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n");
  EXPECT_EQ(Run({"config", "get", "no-such-option"}), "*0\r\n");
  const Resp both = Parse(Run({"config", "get", "port", "databases"}));
  EXPECT_EQ(both.elems.size(), 4u);
  const Resp all = Parse(Run({"config", "get", "*"}));
  EXPECT_EQ(all.elems.size() % 2, 0u);
  EXPECT_NE(MapGet(all, "port"), nullptr);
}

TEST_F(CommandTest, CommandCountMatchesTheTable) {
  const std::string count = Run({"command", "count"});
  ASSERT_EQ(count[0], ':');
  const int64_t n = std::stoll(count.substr(1));
  EXPECT_GE(n, 50) << "every command of the spec's section 4";
  EXPECT_EQ(Parse(Run({"command", "list"})).elems.size(), static_cast<size_t>(n));
  EXPECT_EQ(Parse(Run({"command", "docs"})).elems.size(), static_cast<size_t>(2 * n));
  // Every command the spec names is in the table.
  std::set<std::string> names;
  for (const Resp& e : Parse(Run({"command", "list"})).elems) names.insert(e.str);
  for (const char* name :
       {"vget",        "vput",      "vdel",    "ping",      "echo",     "quit",
        "hello",       "select",    "client",  "command",   "time",     "info",
        "config",      "dbsize",    "flushdb", "flushall",  "shutdown", "get",
        "set",         "setnx",     "setex",   "psetex",    "getset",   "getdel",
        "getex",       "mget",      "mset",    "msetnx",    "append",   "strlen",
        "getrange",    "setrange",  "incr",    "decr",      "incrby",   "decrby",
        "incrbyfloat", "del",       "unlink",  "exists",    "type",     "rename",
        "renamenx",    "keys",      "scan",    "randomkey", "expire",   "pexpire",
        "expireat",    "pexpireat", "ttl",     "pttl",      "persist",  "expiretime",
        "pexpiretime", "touch"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
}

TEST_F(CommandTest, CommandInfoShapeForKeylessCommands) {
  const Resp info = Parse(Run({"command", "info", "ping", "nosuch"}));
  ASSERT_EQ(info.elems.size(), 2u);
  const Resp& ping = info.elems[0];
  ASSERT_EQ(ping.elems.size(), 10u) << "Redis 7's ten fields";
  EXPECT_EQ(ping.elems[0].str, "ping");
  EXPECT_EQ(ping.elems[1].integer, -1);
  EXPECT_EQ(ping.elems[3].integer, 0);
  EXPECT_EQ(ping.elems[8].type, '*');
  EXPECT_TRUE(ping.elems[8].elems.empty()) << "no key specs";
  EXPECT_TRUE(info.elems[1].null) << "unknown command: null";
  EXPECT_EQ(Run({"command", "getkeys", "mset", "a", "1", "b", "2"}),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

// Regression test (bug found at d9364b1, fixed in ac93737): WriteCommandInfo()
// opened the key-spec map with MapHeader(4) but wrote three pairs, so every
// COMMAND / COMMAND INFO reply for a command with keys was malformed and put
// the client's parser out of step. Redis writes 3 pairs (4 only with "notes").
TEST_F(CommandTest, CommandInfoForCommandsWithKeysIsWellFormed) {
  const Resp info = Parse(Run({"command", "info", "get", "nosuch"}));
  ASSERT_EQ(info.elems.size(), 2u);
  const Resp& get = info.elems[0];
  ASSERT_EQ(get.elems.size(), 10u) << "Redis 7's ten fields";
  EXPECT_EQ(get.elems[0].str, "get");
  EXPECT_EQ(get.elems[1].integer, 2);
  EXPECT_EQ(get.elems[3].integer, 1);
  EXPECT_EQ(get.elems[4].integer, 1);
  EXPECT_EQ(get.elems[5].integer, 1);
  ASSERT_EQ(get.elems[8].elems.size(), 1u) << "one key spec";
  const Resp& key_spec = get.elems[8].elems[0];
  EXPECT_NE(MapGet(key_spec, "flags"), nullptr);
  EXPECT_NE(MapGet(key_spec, "begin_search"), nullptr);
  EXPECT_NE(MapGet(key_spec, "find_keys"), nullptr);
  EXPECT_EQ(get.elems[9].type, '*') << "subcommands";
  EXPECT_TRUE(info.elems[1].null) << "unknown command: null";
  // Every command's entry, as COMMAND INFO with no name lists them.
  const std::string count = Run({"command", "count"});
  EXPECT_EQ(Parse(Run({"command", "info"})).elems.size(),
            static_cast<size_t>(std::stoll(count.substr(1))));
}

// Regression test (bug found at d9364b1, fixed in ac93737): Dispatch() required
// a subcommand for every container command, so COMMAND with no argument got
// "-ERR wrong number of arguments for 'command' command" instead of the info
// of every command. Only the array header is checked here, to keep this apart
// from the key-spec bug above.
TEST_F(CommandTest, BareCommandListsEveryCommand) {
  const std::string count = Run({"command", "count"});
  ASSERT_EQ(count[0], ':');
  const std::string reply = Run({"command"});
  EXPECT_EQ(reply.substr(0, reply.find("\r\n") + 2), "*" + count.substr(1));
}

// redis-cli walks COMMAND DOCS and asserts on its shape: a map of command
// name -> map with at least summary, since, group, complexity (bulk strings),
// optional "arguments" (array of maps with name and type) and optional
// "subcommands" (the same map shape again).
void CheckDocsMap(const Resp& docs, char map_type, int depth) {
  ASSERT_EQ(docs.type, map_type);
  ASSERT_EQ(docs.elems.size() % 2, 0u);
  for (size_t i = 0; i < docs.elems.size(); i += 2) {
    const Resp& name = docs.elems[i];
    const Resp& doc = docs.elems[i + 1];
    SCOPED_TRACE(name.str);
    ASSERT_EQ(name.type, '$');
    ASSERT_EQ(doc.type, map_type);
    ASSERT_EQ(doc.elems.size() % 2, 0u);
    for (const char* field : {"summary", "since", "group", "complexity"}) {
      const Resp* v = MapGet(doc, field);
      ASSERT_NE(v, nullptr) << field;
      EXPECT_EQ(v->type, '$') << field;
    }
    for (size_t j = 0; j < doc.elems.size(); j += 2) {
      const std::string& field = doc.elems[j].str;
      EXPECT_TRUE(field == "summary" || field == "since" || field == "group" ||
                  field == "complexity" || field == "arguments" || field == "subcommands" ||
                  field == "doc_flags" || field == "history" || field == "deprecated_since" ||
                  field == "replaced_by")
          << "unexpected field " << field;
    }
    if (const Resp* args = MapGet(doc, "arguments")) {
      ASSERT_EQ(args->type, '*');
      EXPECT_FALSE(args->elems.empty());
      for (const Resp& arg : args->elems) {
        ASSERT_EQ(arg.type, map_type);
        ASSERT_NE(MapGet(arg, "name"), nullptr);
        ASSERT_NE(MapGet(arg, "type"), nullptr);
        EXPECT_FALSE(MapGet(arg, "name")->str.empty());
      }
    }
    if (const Resp* subs = MapGet(doc, "subcommands")) {
      ASSERT_LT(depth, 1) << "subcommands do not nest";
      CheckDocsMap(*subs, map_type, depth + 1);
      for (size_t j = 0; j < subs->elems.size(); j += 2) {
        EXPECT_EQ(subs->elems[j].str.rfind(name.str + "|", 0), 0u) << subs->elems[j].str;
      }
    }
  }
}

TEST_F(CommandTest, CommandDocsShape) {
  {
    SCOPED_TRACE("RESP2");
    CheckDocsMap(Parse(Run({"command", "docs"})), '*', 0);
  }
  // One command: the flat map name -> flat map, with Redis's texts for GET.
  const Resp get = Parse(Run({"command", "docs", "get"}));
  ASSERT_EQ(get.elems.size(), 2u);
  EXPECT_EQ(get.elems[0].str, "get");
  const Resp& doc = get.elems[1];
  ASSERT_NE(MapGet(doc, "summary"), nullptr);
  EXPECT_EQ(MapGet(doc, "summary")->str, "Returns the string value of a key.");
  EXPECT_EQ(MapGet(doc, "since")->str, "1.0.0");
  EXPECT_EQ(MapGet(doc, "group")->str, "string");
  EXPECT_EQ(MapGet(doc, "complexity")->str, "O(1)");
  const Resp* args = MapGet(doc, "arguments");
  ASSERT_NE(args, nullptr);
  ASSERT_EQ(args->elems.size(), 1u);
  EXPECT_EQ(MapGet(args->elems[0], "name")->str, "key");
  EXPECT_EQ(MapGet(args->elems[0], "type")->str, "key");
  // SET's options: pure tokens are flagged optional and carry their token.
  const Resp set = Parse(Run({"command", "docs", "set"}));
  ASSERT_EQ(set.elems.size(), 2u);
  const Resp* set_args = MapGet(set.elems[1], "arguments");
  ASSERT_NE(set_args, nullptr);
  bool found_nx = false;
  for (const Resp& arg : set_args->elems) {
    if (MapGet(arg, "name")->str != "nx") continue;
    found_nx = true;
    EXPECT_EQ(MapGet(arg, "type")->str, "pure-token");
    ASSERT_NE(MapGet(arg, "token"), nullptr);
    EXPECT_EQ(MapGet(arg, "token")->str, "NX");
    ASSERT_NE(MapGet(arg, "flags"), nullptr);
    ASSERT_EQ(MapGet(arg, "flags")->elems.size(), 1u);
    EXPECT_EQ(MapGet(arg, "flags")->elems[0].str, "optional");
  }
  EXPECT_TRUE(found_nx);
  EXPECT_EQ(Run({"command", "docs", "nosuch"}), "*0\r\n");
  const Resp client = Parse(Run({"command", "docs", "client"}));
  ASSERT_EQ(client.elems.size(), 2u);
  ASSERT_NE(MapGet(client.elems[1], "subcommands"), nullptr);
  EXPECT_NE(MapGet(*MapGet(client.elems[1], "subcommands"), "client|setname"), nullptr);
  Run({"hello", "3"});
  {
    SCOPED_TRACE("RESP3");
    CheckDocsMap(Parse(Run({"command", "docs"})), '%', 0);
  }
}

TEST_F(CommandTest, ClientNameAndId) {
  EXPECT_EQ(Run({"client", "getname"}), "$-1\r\n");
  EXPECT_EQ(Run({"client", "setname", "worker-1"}), "+OK\r\n");
  EXPECT_EQ(Run({"client", "getname"}), "$8\r\nworker-1\r\n");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "has space"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(Run({"client", "getname"}), "$8\r\nworker-1\r\n");
  EXPECT_EQ(Run({"client", "setname", ""}), "+OK\r\n") << "an empty name clears it";
  EXPECT_EQ(Run({"client", "getname"}), "$-1\r\n");
  EXPECT_EQ(Run({"client", "id"}), ":7\r\n");
  EXPECT_EQ(Run({"client", "setname"}),
            "-ERR wrong number of arguments for 'client|setname' command\r\n");
  EXPECT_EQ(Run({"client", "setinfo", "lib-name", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(client_.lib_name, "redis-py");
}

TEST_F(CommandTest, InfoForClientLibraries) {
  const std::string reply = Run({"info"});
  ASSERT_EQ(reply[0], '$');
  const Resp info = Parse(reply);
  EXPECT_NE(info.str.find("redis_version:7.2"), std::string::npos);
  EXPECT_NE(info.str.find("\r\nloading:0\r\n"), std::string::npos);
  EXPECT_NE(info.str.find("\r\ncausalkv_version:"), std::string::npos);
  for (const char* section :
       {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Stats\r\n", "# Keyspace\r\n"}) {
    EXPECT_NE(info.str.find(section), std::string::npos) << section;
  }
  EXPECT_EQ(info.str.rfind("# Server\r\n", 0), 0u);
  ASSERT_GE(info.str.size(), 4u);
  EXPECT_EQ(info.str.substr(info.str.size() - 2), "\r\n");
  EXPECT_NE(info.str.substr(info.str.size() - 4), "\r\n\r\n") << "no blank line at the end";
  Run({"set", "k", "v", "EX", "100"});
  Run({"set", "j", "v"});
  const Resp keyspace = Parse(Run({"info", "keyspace"}));
  EXPECT_EQ(keyspace.str.rfind("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=", 0), 0u)
      << keyspace.str;
  EXPECT_EQ(keyspace.str.substr(keyspace.str.size() - 2), "\r\n");
  EXPECT_EQ(keyspace.str.find("db1:"), std::string::npos) << "empty databases are not listed";
  // Sections are picked by name, case-insensitively.
  const Resp server = Parse(Run({"info", "SERVER"}));
  EXPECT_EQ(server.str.find("# Clients"), std::string::npos);
}

// Differences the differential test found against redis-server 7.
TEST_F(CommandTest, RedisErrorTextsFoundByTheDifferentialTest) {
  EXPECT_EQ(Run({"select", "4294967296"}),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  EXPECT_EQ(Run({"select", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"slowlog", "get", "abc", ""}),
            "-ERR unknown subcommand or wrong number of arguments for 'get'. "
            "Try SLOWLOG HELP.\r\n");
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"pexpireat", "k", "9223372036854775807"}), ":1\r\n");
  EXPECT_EQ(Run({"expiretime", "k"}), ":9223372036854776\r\n");
  EXPECT_EQ(Run({"pexpiretime", "k"}), ":9223372036854775807\r\n");
}

// The order in which Redis checks arguments decides which error a client
// sees; these orders were found by the differential test.
TEST_F(CommandTest, RedisCheckOrdersFoundByTheDifferentialTest) {
  // GETEX looks the key up before it checks the time.
  EXPECT_EQ(Run({"getex", "missing", "ex", "-1"}), "$-1\r\n");
  EXPECT_EQ(Run({"getex", "missing", "px", "abc"}), "$-1\r\n");
  EXPECT_EQ(Run({"getex", "missing", "ex"}), "-ERR syntax error\r\n");
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"getex", "k", "ex", "-1"}), "-ERR invalid expire time in 'getex' command\r\n");
  EXPECT_EQ(Run({"getex", "k", "px", "abc"}),
            "-ERR value is not an integer or out of range\r\n");
  // HELLO checks each SETNAME where it stands.
  EXPECT_EQ(Run({"hello", "3", "setname", "a b", "bogus"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(Run({"hello", "3", "setname", "a b", "setname", "ok"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(client_.protocol, 2);
  EXPECT_EQ(client_.name, "");
  // CONFIG SET with a name and no value is a syntax error, as in Redis 7.2.
  EXPECT_EQ(Run({"config", "set", "maxclients", "10", "hz"}), "-ERR syntax error\r\n");
  // CLIENT KILL checks each filter before the dangling last argument.
  EXPECT_EQ(Run({"client", "kill", "id", "abc", "x"}),
            "-ERR client-id should be greater than 0\r\n");
  EXPECT_EQ(Run({"client", "kill", "type", "nosuch", "x"}),
            "-ERR Unknown client type 'nosuch'\r\n");
  EXPECT_EQ(Run({"client", "kill", "id", "1", "x"}), "-ERR syntax error\r\n");
}

TEST_F(CommandTest, RefusedExecEndsTheTransactionAndItsWatches) {
  Run({"watch", "k"});
  Run({"multi"});
  EXPECT_EQ(Run({"set", "x", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(Run({"save"}), "-ERR Command not allowed inside a transaction\r\n");
  EXPECT_EQ(Run({"exec", "extra"}),
            "-EXECABORT Transaction discarded because of: wrong number of arguments for "
            "'exec' command\r\n");
  EXPECT_FALSE(client_.in_multi);
  EXPECT_TRUE(client_.watched.empty());
  EXPECT_EQ(dispatcher_.watch_registry()->watched_keys(), 0u);
  EXPECT_EQ(Run({"set", "y", "1"}), "+OK\r\n");
}

TEST_F(CommandTest, WatchCountsTtlChangesAndForgetsReleasedKeys) {
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"watch", "k", "other"}), "+OK\r\n");
  EXPECT_EQ(dispatcher_.watch_registry()->watched_keys(), 2u);
  Run({"expire", "k", "100"});
  Run({"persist", "k"});
  Run({"multi"});
  EXPECT_EQ(Run({"exec"}), "*-1\r\n");  // aborted: the TTL changed and changed back
  EXPECT_EQ(dispatcher_.watch_registry()->watched_keys(), 0u);
  {
    ClientState other;
    other.authenticated = true;
    std::vector<std::string_view> watch = {"watch", "k"};
    std::string out;
    resp::Writer w(&out, 2);
    dispatcher_.Dispatch(other, watch, w);
    EXPECT_EQ(dispatcher_.watch_registry()->watched_keys(), 1u);
  }  // a client that goes away releases its keys
  EXPECT_EQ(dispatcher_.watch_registry()->watched_keys(), 0u);
  Run({"watch", "k"});
  Run({"persist", "k"});  // no TTL to remove: not a change
  Run({"multi"});
  EXPECT_EQ(Run({"exec"}), "*0\r\n");
}

}  // namespace
}  // namespace causalkv::command
