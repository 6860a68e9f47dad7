#include "causalkv/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace causalkv::config {
namespace {

namespace fs = std::filesystem;

// Redis's header, with causalkv's name and version where Redis has its own.
const std::string kFatalHeader = "*** FATAL CONFIG FILE ERROR (causalkv " CAUSALKV_VERSION ") ***\n";

// Every observable setting, to check that a failed call changed nothing.
std::map<std::string, std::string> Snapshot(const Config& cfg) {
  std::map<std::string, std::string> values;
  for (const std::string& name : OptionNames()) {
    std::string value;
    EXPECT_TRUE(GetOption(cfg, name, &value)) << name;
    values[name] = value;
  }
  values["(config_file)"] = cfg.config_file;
  return values;
}

std::string Get(const Config& cfg, std::string_view name) {
  std::string value;
  EXPECT_TRUE(GetOption(cfg, name, &value)) << name;
  return value;
}

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "causalkv-config-test-XXXXXX").string();
    char* made = ::mkdtemp(templ.data());
    EXPECT_NE(made, nullptr);
    path_ = fs::canonical(templ);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  std::string Write(const std::string& name, std::string_view contents) const {
    const fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << contents;
    return file.string();
  }

 private:
  fs::path path_;
};

LoadResult LoadArgs(const std::vector<std::string>& args, Config* cfg, std::string* error) {
  std::vector<const char*> argv = {"causalkv-server"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return LoadFromArgs(static_cast<int>(argv.size()), argv.data(), cfg, error);
}

bool Load(std::string_view text, Config* cfg, std::string* error) {
  return LoadFromText(text, "test.conf", cfg, error);
}

std::string FileError(int line, std::string_view shown, std::string_view reason,
                      std::string_view source = "test.conf") {
  return kFatalHeader + "Reading the configuration file '" + std::string(source) +
         "', at line " + std::to_string(line) + "\n>>> '" + std::string(shown) + "'\n" +
         std::string(reason);
}

std::string ArgError(std::string_view option, std::string_view shown, std::string_view reason) {
  return kFatalHeader + "Reading the command line, at option '--" +
         std::string(option) + "'\n>>> '" + std::string(shown) + "'\n" + std::string(reason);
}

std::string SetError(std::string_view name, std::string_view reason) {
  return "CONFIG SET failed (possibly related to argument '" + std::string(name) + "') - " +
         std::string(reason);
}

// Expects a config file line `directive` to fail with `reason`, leaving the
// config as it was.
void ExpectLineFails(const std::string& directive, std::string_view reason) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_FALSE(Load(directive + "\n", &cfg, &error)) << directive;
  EXPECT_EQ(error, FileError(1, directive, reason)) << directive;
  EXPECT_EQ(Snapshot(cfg), before) << directive;
}

// Expects `directive` to load, and CONFIG GET of `name` to show `shown`.
void ExpectLineGives(const std::string& directive, std::string_view name, std::string_view shown) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load(directive + "\n", &cfg, &error)) << directive << ": " << error;
  EXPECT_EQ(Get(cfg, name), shown) << directive;
}

constexpr std::string_view kNotInteger = "argument couldn't be parsed into an integer";
constexpr std::string_view kNotMemory = "argument must be a memory value";
constexpr std::string_view kWrongArgs = "wrong number of arguments";
constexpr std::string_view kBadDirective = "Bad directive or wrong number of arguments";

// ---------------------------------------------------------------------------
// Defaults and option names

TEST(ConfigTest, Defaults) {
  const Config cfg;
  EXPECT_EQ(cfg.port, 6379);
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"127.0.0.1", "-::1"}));
  EXPECT_EQ(cfg.tcp_backlog, 511);
  EXPECT_EQ(cfg.databases, 16);
  EXPECT_EQ(cfg.loglevel, LogLevel::kNotice);
  EXPECT_EQ(cfg.logfile, "");
  EXPECT_EQ(cfg.dir, "./");
  EXPECT_EQ(cfg.proto_max_bulk_len, 512ull * 1024 * 1024);
  EXPECT_EQ(cfg.hz, 10);
  EXPECT_EQ(cfg.requirepass, "");
  EXPECT_EQ(cfg.version_reserve, 1000000u);
  EXPECT_TRUE(cfg.peers.empty());
  EXPECT_EQ(cfg.peer_secret, "");
  EXPECT_EQ(cfg.write_quorum, 0);
  EXPECT_EQ(cfg.read_quorum, 0);
  EXPECT_EQ(cfg.peer_timeout_ms, 1000);
  EXPECT_EQ(cfg.anti_entropy_interval_ms, 10000);
  EXPECT_EQ(cfg.tombstone_grace_ms, 3600000);
  EXPECT_EQ(cfg.hints_max_memory, 64ull * 1024 * 1024);
  EXPECT_EQ(cfg.config_file, "");

  const std::map<std::string, std::string> expected = {
      {"port", "6379"},
      {"bind", "127.0.0.1 -::1"},
      {"tcp-backlog", "511"},
      {"databases", "16"},
      {"loglevel", "notice"},
      {"logfile", ""},
      {"dir", "./"},
      {"proto-max-bulk-len", "536870912"},
      {"hz", "10"},
      {"requirepass", ""},
      {"protected-mode", "yes"},
      {"unixsocket", ""},
      {"unixsocketperm", "0"},
      {"maxclients", "10000"},
      {"timeout", "0"},
      {"tcp-keepalive", "300"},
      {"client-output-buffer-limit",
       "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
      {"client-query-buffer-limit", "1073741824"},
      {"daemonize", "no"},
      {"pidfile", ""},
      {"supervised", "no"},
      {"slowlog-log-slower-than", "10000"},
      {"slowlog-max-len", "128"},
      {"busy-reply-threshold", "5000"},
      {"lua-time-limit", "5000"},
      {"version-reserve", "1000000"},
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"maxmemory-samples", "5"},
      {"lfu-log-factor", "10"},
      {"lfu-decay-time", "1"},
      {"tracking-table-max-keys", "1000000"},
      {"max-siblings", "64"},
      {"hash-max-listpack-entries", "512"},
      {"hash-max-listpack-value", "64"},
      {"hash-max-ziplist-entries", "512"},
      {"hash-max-ziplist-value", "64"},
      {"set-max-intset-entries", "512"},
      {"set-max-listpack-entries", "128"},
      {"set-max-listpack-value", "64"},
      {"zset-max-listpack-entries", "128"},
      {"zset-max-listpack-value", "64"},
      {"zset-max-ziplist-entries", "128"},
      {"zset-max-ziplist-value", "64"},
      {"list-max-listpack-size", "-2"},
      {"list-max-ziplist-size", "-2"},
      {"list-compress-depth", "0"},
      {"stream-node-max-bytes", "4096"},
      {"stream-node-max-entries", "100"},
      {"hll-sparse-max-bytes", "3000"},
      {"notify-keyspace-events", ""},
      {"save", ""},
      {"dbfilename", "dump.ckv"},
      {"start-empty-on-corrupt-snapshot", "no"},
      {"appendonly", "no"},
      {"appendfilename", "appendonly.ckv"},
      {"appendfsync", "everysec"},
      {"aof-load-truncated", "yes"},
      {"auto-aof-rewrite-percentage", "100"},
      {"auto-aof-rewrite-min-size", "67108864"},
      {"peers", ""},
      {"peer-secret", ""},
      {"write-quorum", "1"},
      {"read-quorum", "1"},
      {"peer-timeout", "1000"},
      {"anti-entropy-interval", "10000"},
      {"tombstone-grace", "3600000"},
      {"expired-grace", "10000"},
      {"hints-max-memory", "67108864"},
      {"(config_file)", ""},
  };
  EXPECT_EQ(Snapshot(cfg), expected);
}

TEST(ConfigTest, OptionNamesAreStableAndComplete) {
  EXPECT_EQ(OptionNames(),
            (std::vector<std::string>{"port", "bind", "tcp-backlog", "databases", "loglevel",
                                      "logfile", "dir", "proto-max-bulk-len", "hz", "requirepass",
                                      "protected-mode", "unixsocket", "unixsocketperm",
                                      "maxclients", "timeout", "tcp-keepalive",
                                      "client-output-buffer-limit", "client-query-buffer-limit",
                                      "daemonize", "pidfile", "supervised",
                                      "slowlog-log-slower-than", "slowlog-max-len",
                                      "busy-reply-threshold", "lua-time-limit",
                                      "version-reserve", "maxmemory", "maxmemory-policy",
                                      "maxmemory-samples", "lfu-log-factor", "lfu-decay-time",
                                      "tracking-table-max-keys",
                                      "save", "dbfilename", "start-empty-on-corrupt-snapshot",
                                      "appendonly", "appendfilename", "appendfsync",
                                      "aof-load-truncated", "auto-aof-rewrite-percentage",
                                      "auto-aof-rewrite-min-size", "hash-max-listpack-entries", "hash-max-listpack-value",
                                      "hash-max-ziplist-entries", "hash-max-ziplist-value",
                                      "set-max-intset-entries", "set-max-listpack-entries",
                                      "set-max-listpack-value", "zset-max-listpack-entries",
                                      "zset-max-listpack-value", "zset-max-ziplist-entries",
                                      "zset-max-ziplist-value", "list-max-listpack-size",
                                      "list-max-ziplist-size", "list-compress-depth",
                                      "stream-node-max-bytes", "stream-node-max-entries",
                                      "hll-sparse-max-bytes", "notify-keyspace-events",
                                      "max-siblings", "peers",
                                      "peer-secret", "write-quorum", "read-quorum",
                                      "peer-timeout", "anti-entropy-interval",
                                      "tombstone-grace", "expired-grace",
                                      "hints-max-memory"}));
  EXPECT_EQ(&OptionNames(), &OptionNames());
}

TEST(ConfigTest, GetOptionUnknownName) {
  const Config cfg;
  std::string value = "untouched";
  EXPECT_FALSE(GetOption(cfg, "no-such-option", &value));
  EXPECT_FALSE(GetOption(cfg, "", &value));
  EXPECT_FALSE(GetOption(cfg, "port ", &value));
  EXPECT_FALSE(GetOption(cfg, "*", &value));  // patterns are the caller's job
  EXPECT_EQ(value, "untouched");
}

TEST(ConfigTest, GetOptionNameIsCaseInsensitive) {
  const Config cfg;
  EXPECT_EQ(Get(cfg, "PORT"), "6379");
  EXPECT_EQ(Get(cfg, "Proto-Max-Bulk-Len"), "536870912");
}

TEST(ConfigTest, LogLevelNames) {
  EXPECT_EQ(LogLevelName(LogLevel::kDebug), "debug");
  EXPECT_EQ(LogLevelName(LogLevel::kVerbose), "verbose");
  EXPECT_EQ(LogLevelName(LogLevel::kNotice), "notice");
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warning");
  EXPECT_EQ(LogLevelName(LogLevel::kNothing), "nothing");
}

// ---------------------------------------------------------------------------
// ParseMemory

TEST(ParseMemoryTest, PlainBytesAndUnits) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"0", 0},
      {"100", 100},
      {"007", 7},
      {"1b", 1},
      {"5B", 5},
      {"1k", 1000},
      {"1K", 1000},
      {"1kb", 1024},
      {"1KB", 1024},
      {"1kB", 1024},
      {"1m", 1000000},
      {"1mb", 1048576},
      {"5mb", 5 * 1048576ull},
      {"1Mb", 1048576},
      {"1g", 1000000000},
      {"1gb", 1073741824},
      {"2GB", 2147483648ull},
      {"512mb", 536870912},
      {"0gb", 0},
      {"18446744073709551615", 18446744073709551615ull},
      {"17179869183gb", 17179869183ull * 1073741824ull},
  };
  for (const auto& [text, expected] : cases) {
    uint64_t bytes = 12345;
    EXPECT_TRUE(ParseMemory(text, &bytes)) << text;
    EXPECT_EQ(bytes, expected) << text;
  }
}

TEST(ParseMemoryTest, RejectsGarbageNegativeAndOverflow) {
  const std::vector<std::string> bad = {
      "",
      "-1",
      "-1mb",
      "+1",
      " 1",
      "1 ",
      "1 mb",
      "mb",
      "k",
      "1.5mb",
      "1t",
      "1tb",
      "1kbb",
      "1mbx",
      "0x10",
      "abc",
      "1e6",
      "1kib",
      "1 kb",
      "18446744073709551616",  // one past UINT64_MAX
      "17179869184gb",         // 2^34 * 2^30 overflows
      "99999999999999999999999999999",
  };
  for (const std::string& text : bad) {
    uint64_t bytes = 12345;
    EXPECT_FALSE(ParseMemory(text, &bytes)) << "'" << text << "'";
    EXPECT_EQ(bytes, 12345u) << text;
  }
  uint64_t bytes = 0;
  EXPECT_FALSE(ParseMemory(std::string_view("1\0", 2), &bytes));
  EXPECT_FALSE(ParseMemory(std::string_view("1k\0", 3), &bytes));
}

// ---------------------------------------------------------------------------
// Config file syntax

TEST(LoadFromTextTest, EmptyTextChangesNothing) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_TRUE(Load("", &cfg, &error));
  EXPECT_TRUE(Load("\n\n   \n# only a comment\n", &cfg, &error));
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(LoadFromTextTest, AppliesEveryOption) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(
      Load("port 7000\n"
           "bind 10.0.0.1 ::1 -192.168.1.1\n"
           "tcp-backlog 1024\n"
           "databases 4\n"
           "loglevel warning\n"
           "logfile /var/log/causalkv.log\n"
           "dir /var/lib/causalkv\n"
           "proto-max-bulk-len 1gb\n"
           "hz 100\n"
           "requirepass s3cret\n"
           "version-reserve 5000\n",
           &cfg, &error))
      << error;
  EXPECT_EQ(cfg.port, 7000);
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"10.0.0.1", "::1", "-192.168.1.1"}));
  EXPECT_EQ(cfg.tcp_backlog, 1024);
  EXPECT_EQ(cfg.databases, 4);
  EXPECT_EQ(cfg.loglevel, LogLevel::kWarning);
  EXPECT_EQ(cfg.logfile, "/var/log/causalkv.log");
  EXPECT_EQ(cfg.dir, "/var/lib/causalkv");
  EXPECT_EQ(cfg.proto_max_bulk_len, 1073741824u);
  EXPECT_EQ(cfg.hz, 100);
  EXPECT_EQ(cfg.requirepass, "s3cret");
  EXPECT_EQ(cfg.version_reserve, 5000u);
  EXPECT_EQ(cfg.config_file, "");  // only LoadFromArgs knows the file
}

TEST(LoadFromTextTest, CommentsBlankLinesWhitespaceAndCrlf) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(
      Load("# leading comment\r\n"
           "\r\n"
           "   \t  \n"
           "   # indented comment\n"
           "\t port \t 7001   \r\n"
           "#port 9999\n"
           "  hz\t20",  // no final newline
           &cfg, &error))
      << error;
  EXPECT_EQ(cfg.port, 7001);
  EXPECT_EQ(cfg.hz, 20);
}

TEST(LoadFromTextTest, DirectiveNamesAreCaseInsensitive) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("PORT 7002\nLogLevel DEBUG\nProto-Max-Bulk-Len 2MB\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.port, 7002);
  EXPECT_EQ(cfg.loglevel, LogLevel::kDebug);
  EXPECT_EQ(cfg.proto_max_bulk_len, 2u * 1048576);
}

TEST(LoadFromTextTest, LaterDirectivesWin) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("port 1\nbind 1.1.1.1 2.2.2.2\nport 2\nbind 3.3.3.3\n", &cfg, &error));
  EXPECT_EQ(cfg.port, 2);
  EXPECT_EQ(cfg.bind, std::vector<std::string>{"3.3.3.3"});
}

TEST(LoadFromTextTest, DoubleQuotesAndEscapes) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(
      Load("requirepass \"a b\\tc\\n\\r\\b\\a\\\\d\\\"e\\x41\\x7a\\q\"\n"
           "logfile \"\"\n"
           "dir \"/tmp/with space\"\n",
           &cfg, &error))
      << error;
  EXPECT_EQ(cfg.requirepass, "a b\tc\n\r\b\a\\d\"eAzq");
  EXPECT_EQ(cfg.logfile, "");
  EXPECT_EQ(cfg.dir, "/tmp/with space");
}

TEST(LoadFromTextTest, HexEscapesAreBinarySafe) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("requirepass \"\\x00\\xff\\xAb\"\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.requirepass, std::string("\0\xff\xab", 3));
  // Not a complete \xHH: the backslash escapes just the 'x'.
  ASSERT_TRUE(Load("requirepass \"\\x4g\"\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.requirepass, "x4g");
}

TEST(LoadFromTextTest, SingleQuotes) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("requirepass 'it\\'s \"raw\" \\n'\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.requirepass, "it's \"raw\" \\n");
  ASSERT_TRUE(Load("logfile ''\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.logfile, "");
}

TEST(LoadFromTextTest, QuotesMayOpenInsideAnArgumentAndQuoteTheName) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("requirepass ab\"c d\"\n\"port\" '7003'\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.requirepass, "abc d");
  EXPECT_EQ(cfg.port, 7003);
}

TEST(LoadFromTextTest, UnbalancedQuotes) {
  const std::string reason = "Unbalanced quotes in configuration line";
  ExpectLineFails("requirepass \"abc", reason);
  ExpectLineFails("requirepass 'abc", reason);
  ExpectLineFails("requirepass \"abc\\\"", reason);   // escaped closing quote
  ExpectLineFails("requirepass \"abc\"def", reason);  // closing quote glued to text
  ExpectLineFails("requirepass 'abc'def", reason);
}

TEST(LoadFromTextTest, TrailingCommentIsNotAComment) {
  // As in redis.conf, '#' only starts a comment at the start of a line.
  ExpectLineFails("port 7000 # the port", kWrongArgs);
}

TEST(LoadFromTextTest, UnknownDirective) {
  ExpectLineFails("no-such-option 100mb", kBadDirective);
  ExpectLineFails("include /etc/other.conf", kBadDirective);
  ExpectLineFails("portt 1", kBadDirective);
}

TEST(LoadFromTextTest, ErrorNamesSourceLineAndDirective) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_FALSE(LoadFromText("# comment\n\nloglevel debug\n  port 7000\n\n\n   port abc  \nhz 5\n",
                            "/etc/causalkv.conf", &cfg, &error));
  EXPECT_EQ(error,
            kFatalHeader +
            "Reading the configuration file '/etc/causalkv.conf', at line 7\n"
            ">>> 'port abc'\n"
            "argument couldn't be parsed into an integer");
  // Earlier valid lines were not applied either.
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(LoadFromTextTest, ErrorWithoutSourceName) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(LoadFromText("bogus 1\n", "", &cfg, &error));
  EXPECT_EQ(error,
            kFatalHeader +
            "Reading the configuration file, at line 1\n"
            ">>> 'bogus 1'\n"
            "Bad directive or wrong number of arguments");
}

TEST(LoadFromTextTest, CrlfLineNumbersAndTrimmedLineInError) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(Load("port 1\r\nhz x\r\n", &cfg, &error));
  EXPECT_EQ(error, FileError(2, "hz x", kNotInteger));
}

TEST(LoadFromTextTest, WrongNumberOfArguments) {
  ExpectLineFails("port", kWrongArgs);
  ExpectLineFails("port 1 2", kWrongArgs);
  ExpectLineFails("loglevel", kWrongArgs);
  ExpectLineFails("logfile a b", kWrongArgs);
  ExpectLineFails("requirepass", kWrongArgs);
  ExpectLineFails("dir a b", kWrongArgs);
  ExpectLineFails("hz 1 2", kWrongArgs);
  ExpectLineFails("proto-max-bulk-len", kWrongArgs);
  ExpectLineFails("version-reserve 1000 2000", kWrongArgs);
  ExpectLineFails("bind", kWrongArgs);
}

// ---------------------------------------------------------------------------
// Per-option validation

TEST(OptionTest, Port) {
  ExpectLineGives("port 0", "port", "0");
  ExpectLineGives("port 65535", "port", "65535");
  ExpectLineGives("port 6380", "port", "6380");
  ExpectLineFails("port abc", kNotInteger);
  ExpectLineFails("port 12x", kNotInteger);
  ExpectLineFails("port +1", kNotInteger);
  ExpectLineFails("port 01", kNotInteger);
  ExpectLineFails("port 1.0", kNotInteger);
  ExpectLineFails("port \"\"", kNotInteger);
  ExpectLineFails("port -0", kNotInteger);
  ExpectLineFails("port 99999999999999999999", kNotInteger);
  ExpectLineFails("port -1", "argument must be between 0 and 65535 inclusive");
  ExpectLineFails("port 65536", "argument must be between 0 and 65535 inclusive");
}

TEST(OptionTest, Bind) {
  ExpectLineGives("bind 0.0.0.0", "bind", "0.0.0.0");
  ExpectLineGives("bind 127.0.0.1 -::1", "bind", "127.0.0.1 -::1");
  std::string sixteen = "bind";
  for (int i = 0; i < 16; ++i) sixteen += " 10.0.0." + std::to_string(i);
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load(sixteen, &cfg, &error)) << error;
  EXPECT_EQ(cfg.bind.size(), 16u);
  EXPECT_EQ(cfg.bind.back(), "10.0.0.15");

  ExpectLineFails(sixteen + " 10.0.0.16", "Too many bind addresses specified.");
  ExpectLineFails("bind \"\"", "bind address can't be empty");
  ExpectLineFails("bind 1.2.3.4 ''", "bind address can't be empty");
}

// Found by fuzz_config: a quoted bind address could hold what an address
// never does (blanks, quotes), and CONFIG REWRITE writes the list unquoted,
// so the rewritten file loaded other addresses, or none at all. CONFIG GET's
// blank-separated list fed back to SET was one address too.
TEST(OptionTest, BindAddressesAreWordsThatRewriteAndSetKeep) {
  ExpectLineFails("bind \"-a'b\"", "bind address '-a'b' is not a host name or an IP address");
  ExpectLineFails("bind \"1.2.3.4\t::1\"",
                  "bind address '1.2.3.4\t::1' is not a host name or an IP address");
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("bind \"10.0.0.1 -::1\" fe80::1%eth0 *\n", &cfg, &error)) << error;
  const std::vector<std::string> want = {"10.0.0.1", "-::1", "fe80::1%eth0", "*"};
  EXPECT_EQ(cfg.bind, want);
  Config rewritten;
  ASSERT_TRUE(Load(RewriteConfigText(cfg, ""), &rewritten, &error)) << error;
  EXPECT_EQ(rewritten.bind, want);
  Config set;
  ASSERT_TRUE(SetOption(&set, "bind", {Get(cfg, "bind")}, false, &error)) << error;
  EXPECT_EQ(set.bind, want);
}

TEST(OptionTest, TcpBacklog) {
  ExpectLineGives("tcp-backlog 0", "tcp-backlog", "0");
  ExpectLineGives("tcp-backlog 2147483647", "tcp-backlog", "2147483647");
  ExpectLineFails("tcp-backlog -1", "argument must be between 0 and 2147483647 inclusive");
  ExpectLineFails("tcp-backlog 2147483648", "argument must be between 0 and 2147483647 inclusive");
  ExpectLineFails("tcp-backlog lots", kNotInteger);
}

TEST(OptionTest, Databases) {
  ExpectLineGives("databases 1", "databases", "1");
  ExpectLineGives("databases 1000000", "databases", "1000000");
  ExpectLineFails("databases 0", "argument must be between 1 and 1000000 inclusive");
  ExpectLineFails("databases 1000001", "argument must be between 1 and 1000000 inclusive");
  ExpectLineFails("databases sixteen", kNotInteger);
}

TEST(OptionTest, LogLevel) {
  ExpectLineGives("loglevel debug", "loglevel", "debug");
  ExpectLineGives("loglevel verbose", "loglevel", "verbose");
  ExpectLineGives("loglevel notice", "loglevel", "notice");
  ExpectLineGives("loglevel warning", "loglevel", "warning");
  ExpectLineGives("loglevel nothing", "loglevel", "nothing");
  ExpectLineGives("loglevel WARNING", "loglevel", "warning");  // shown canonical
  const std::string_view reason =
      "argument(s) must be one of the following: debug, verbose, notice, warning, nothing";
  ExpectLineFails("loglevel loud", reason);
  ExpectLineFails("loglevel \"\"", reason);
  ExpectLineFails("loglevel 2", reason);
}

TEST(OptionTest, LogFile) {
  ExpectLineGives("logfile \"\"", "logfile", "");
  ExpectLineGives("logfile /tmp/x.log", "logfile", "/tmp/x.log");
  ExpectLineGives("logfile \"with space.log\"", "logfile", "with space.log");
}

TEST(OptionTest, Dir) {
  ExpectLineGives("dir ./data", "dir", "./data");
  ExpectLineGives("dir /var/lib/causalkv", "dir", "/var/lib/causalkv");
  ExpectLineFails("dir \"\"", "dir can't be empty");
}

TEST(OptionTest, ProtoMaxBulkLen) {
  ExpectLineGives("proto-max-bulk-len 1mb", "proto-max-bulk-len", "1048576");
  ExpectLineGives("proto-max-bulk-len 1048576", "proto-max-bulk-len", "1048576");
  ExpectLineGives("proto-max-bulk-len 2GB", "proto-max-bulk-len", "2147483648");
  ExpectLineGives("proto-max-bulk-len 1g", "proto-max-bulk-len", "1000000000");
  ExpectLineGives("proto-max-bulk-len 9223372036854775807", "proto-max-bulk-len",
                  "9223372036854775807");
  const std::string_view range =
      "argument must be between 1048576 and 9223372036854775807 inclusive";
  ExpectLineFails("proto-max-bulk-len 1048575", range);
  ExpectLineFails("proto-max-bulk-len 1m", range);  // 1000000 < 1mb
  ExpectLineFails("proto-max-bulk-len 0", range);
  ExpectLineFails("proto-max-bulk-len 9223372036854775808", range);
  ExpectLineFails("proto-max-bulk-len 9000000000gb", range);
  ExpectLineFails("proto-max-bulk-len -1", kNotMemory);
  ExpectLineFails("proto-max-bulk-len 1.5mb", kNotMemory);
  ExpectLineFails("proto-max-bulk-len big", kNotMemory);
  ExpectLineFails("proto-max-bulk-len 99999999999999999999999", kNotMemory);
}

TEST(OptionTest, HzIsClampedLikeRedis) {
  ExpectLineGives("hz 1", "hz", "1");
  ExpectLineGives("hz 500", "hz", "500");
  ExpectLineGives("hz 0", "hz", "1");
  ExpectLineGives("hz 501", "hz", "500");
  ExpectLineGives("hz 2147483647", "hz", "500");
  ExpectLineFails("hz -1", "argument must be between 0 and 2147483647 inclusive");
  ExpectLineFails("hz 2147483648", "argument must be between 0 and 2147483647 inclusive");
  ExpectLineFails("hz fast", kNotInteger);
}

TEST(OptionTest, RequirePass) {
  ExpectLineGives("requirepass hunter2", "requirepass", "hunter2");
  ExpectLineGives("requirepass \"\"", "requirepass", "");
}

TEST(OptionTest, VersionReserve) {
  ExpectLineGives("version-reserve 1000", "version-reserve", "1000");
  ExpectLineGives("version-reserve 1000000000000", "version-reserve", "1000000000000");
  const std::string_view range = "argument must be between 1000 and 1000000000000 inclusive";
  ExpectLineFails("version-reserve 999", range);
  ExpectLineFails("version-reserve 0", range);
  ExpectLineFails("version-reserve -5", range);
  ExpectLineFails("version-reserve 1000000000001", range);
  ExpectLineFails("version-reserve lots", kNotInteger);
  ExpectLineFails("version-reserve 1m", kNotInteger);  // an integer, not a memory size
}

// ---------------------------------------------------------------------------
// Command line

TEST(LoadFromArgsTest, NoArgumentsKeepsDefaults) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_EQ(LoadArgs({}, &cfg, &error), LoadResult::kRun);
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(LoadFromArgsTest, VersionAndHelp) {
  for (const std::string flag : {"--version", "-v"}) {
    Config cfg;
    std::string error;
    EXPECT_EQ(LoadArgs({flag}, &cfg, &error), LoadResult::kVersion) << flag;
    EXPECT_EQ(LoadArgs({flag, "--port", "abc"}, &cfg, &error), LoadResult::kVersion) << flag;
  }
  for (const std::string flag : {"--help", "-h"}) {
    Config cfg;
    std::string error;
    EXPECT_EQ(LoadArgs({flag}, &cfg, &error), LoadResult::kHelp) << flag;
  }
}

TEST(LoadFromArgsTest, OptionsWithoutFile) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--port", "7000", "--loglevel", "debug", "--proto-max-bulk-len", "2mb"}, &cfg,
                     &error),
            LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.port, 7000);
  EXPECT_EQ(cfg.loglevel, LogLevel::kDebug);
  EXPECT_EQ(cfg.proto_max_bulk_len, 2u * 1048576);
  EXPECT_EQ(cfg.config_file, "");
}

TEST(LoadFromArgsTest, MultiValueBind) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--bind", "127.0.0.1", "::1", "-10.0.0.1", "--port", "7001"}, &cfg, &error),
            LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"127.0.0.1", "::1", "-10.0.0.1"}));
  EXPECT_EQ(cfg.port, 7001);
}

TEST(LoadFromArgsTest, OptionNamesAreCaseInsensitive) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--PORT", "7002", "--LogLevel", "WARNING"}, &cfg, &error), LoadResult::kRun);
  EXPECT_EQ(cfg.port, 7002);
  EXPECT_EQ(cfg.loglevel, LogLevel::kWarning);
}

TEST(LoadFromArgsTest, FirstValueMayStartWithDashes) {
  // As in redis-server, the argument right after a bare --name is its value.
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--requirepass", "--secret--", "--port", "7003"}, &cfg, &error),
            LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.requirepass, "--secret--");
  EXPECT_EQ(cfg.port, 7003);
}

TEST(LoadFromArgsTest, EmptyValues) {
  Config cfg;
  cfg.logfile = "/tmp/x.log";
  std::string error;
  ASSERT_EQ(LoadArgs({"--logfile", "", "--requirepass", ""}, &cfg, &error), LoadResult::kRun);
  EXPECT_EQ(cfg.logfile, "");
  EXPECT_EQ(cfg.requirepass, "");
}

TEST(LoadFromArgsTest, NameAndValueInOneArgument) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--port 7004", "--bind \"127.0.0.2\" ::1"}, &cfg, &error), LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.port, 7004);
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"127.0.0.2", "::1"}));
}

TEST(LoadFromArgsTest, BadValueNamesTheOption) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_EQ(LoadArgs({"--loglevel", "debug", "--port", "abc"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("port", "port abc", kNotInteger));
  EXPECT_EQ(Snapshot(cfg), before);  // the valid --loglevel was not applied either
}

TEST(LoadFromArgsTest, ErrorQuotesValuesThatNeedIt) {
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--hz", "1 0"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("hz", "hz \"1 0\"", kNotInteger));
  EXPECT_EQ(LoadArgs({"--hz", ""}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("hz", "hz \"\"", kNotInteger));
}

TEST(LoadFromArgsTest, UnknownOption) {
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--no-such-option", "1gb"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("no-such-option", "no-such-option 1gb", kBadDirective));
}

TEST(LoadFromArgsTest, WrongNumberOfValues) {
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--port", "1", "2"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("port", "port 1 2", kWrongArgs));
  EXPECT_EQ(LoadArgs({"--port"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("port", "port", kWrongArgs));
  EXPECT_EQ(LoadArgs({"--bind", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
                      "n", "o", "p", "q"},
                     &cfg, &error),
            LoadResult::kError);
  EXPECT_NE(error.find("Too many bind addresses specified."), std::string::npos) << error;
}

TEST(LoadFromArgsTest, CheckConfigAcceptsAFileAndItsOverrides) {
  TempDir dir;
  const std::string path = dir.Write("ok.conf", "port 7005\nloglevel debug\n");
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--check-config", path, "--port", "7006"}, &cfg, &error),
            LoadResult::kCheckConfig)
      << error;
  EXPECT_EQ(cfg.port, 7006);
  EXPECT_EQ(cfg.loglevel, LogLevel::kDebug);
  EXPECT_EQ(cfg.config_file, fs::canonical(path).string());
}

TEST(LoadFromArgsTest, CheckConfigReportsWhatAStartReports) {
  TempDir dir;
  const std::string path = dir.Write("bad.conf", "# one\nport 7005\n\nmaxclients many\nhz 5\n");
  const std::string canonical = fs::canonical(path).string();
  Config checked;
  std::string check_error;
  EXPECT_EQ(LoadArgs({"--check-config", path}, &checked, &check_error), LoadResult::kError);
  EXPECT_EQ(check_error, kFatalHeader + "Reading the configuration file '" + canonical +
                             "', at line 4\n>>> 'maxclients many'\n"
                             "argument couldn't be parsed into an integer");
  Config started;
  std::string start_error;
  EXPECT_EQ(LoadArgs({path}, &started, &start_error), LoadResult::kError);
  EXPECT_EQ(start_error, check_error);
  EXPECT_EQ(checked.port, 6379);  // nothing applied
}

TEST(LoadFromArgsTest, CheckConfigChecksOverridesAndTheClusterRules) {
  TempDir dir;
  const std::string path = dir.Write("c.conf", "peers 127.0.0.2:7000\n");
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--check-config", path}, &cfg, &error), LoadResult::kError);
  EXPECT_NE(error.find("peer-secret"), std::string::npos) << error;
  EXPECT_EQ(LoadArgs({"--check-config", path, "--peer-secret", "s"}, &cfg, &error),
            LoadResult::kCheckConfig)
      << error;
  EXPECT_EQ(LoadArgs({"--check-config", path, "--port", "x"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, ArgError("port", "port x", "argument couldn't be parsed into an integer"));
}

TEST(LoadFromArgsTest, CheckConfigNeedsAFile) {
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--check-config"}, &cfg, &error), LoadResult::kError);
  EXPECT_NE(error.find("--check-config needs the file"), std::string::npos) << error;
  // Whatever follows is the file: an option name there is a missing file,
  // never a check of the built-in defaults.
  EXPECT_EQ(LoadArgs({"--check-config", "--port", "7000"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error.rfind("Fatal error, can't open config file '--port'", 0), 0u) << error;
}

TEST(LoadFromArgsTest, StrayArgumentAfterFile) {
  TempDir dir;
  const std::string path = dir.Write("a.conf", "port 7005\n");
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({path, "extra", "--port", "1"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error,
            kFatalHeader +
            "Reading the command line, at argument 2\n"
            ">>> 'extra'\n"
            "expected an option starting with '--'");
  EXPECT_EQ(cfg.port, 6379);
}

TEST(LoadFromArgsTest, FileThenOverrides) {
  TempDir dir;
  const std::string path = dir.Write("causalkv.conf",
                                     "port 7000\n"
                                     "loglevel warning\n"
                                     "bind 10.1.1.1\n"
                                     "hz 50\n");
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({path, "--port", "7100", "--bind", "127.0.0.1", "::1"}, &cfg, &error),
            LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.port, 7100);                    // overridden
  EXPECT_EQ(cfg.loglevel, LogLevel::kWarning);  // from the file
  EXPECT_EQ(cfg.hz, 50);                        // from the file
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(cfg.config_file, path);
}

TEST(LoadFromArgsTest, ConfigFileIsMadeAbsolute) {
  TempDir dir;
  fs::create_directory(dir.path() / "sub");
  dir.Write("real.conf", "port 7006\n");
  fs::create_symlink(dir.path() / "real.conf", dir.path() / "sub" / "link.conf");

  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path() / "sub");
  Config cfg;
  std::string error;
  const LoadResult result = LoadArgs({"../sub/./link.conf"}, &cfg, &error);
  fs::current_path(old_cwd);

  ASSERT_EQ(result, LoadResult::kRun) << error;
  EXPECT_EQ(cfg.port, 7006);
  EXPECT_EQ(cfg.config_file, (dir.path() / "real.conf").string());
}

TEST(LoadFromArgsTest, ErrorInFileNamesFileAndLine) {
  TempDir dir;
  const std::string path = dir.Write("bad.conf", "# causalkv\n\nport 7000\nhz 10 20\n");
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_EQ(LoadArgs({path, "--loglevel", "debug"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, FileError(4, "hz 10 20", kWrongArgs, path));
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(LoadFromArgsTest, MissingFile) {
  TempDir dir;
  const std::string path = (dir.path() / "missing.conf").string();
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_EQ(LoadArgs({path, "--port", "7000"}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, "Fatal error, can't open config file '" + path + "': No such file or directory");
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(LoadFromArgsTest, DirectoryInsteadOfFile) {
  TempDir dir;
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({dir.path().string()}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error,
            "Fatal error, can't open config file '" + dir.path().string() + "': Is a directory");
}

TEST(LoadFromArgsTest, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any file";
  TempDir dir;
  const std::string path = dir.Write("secret.conf", "port 1\n");
  fs::permissions(path, fs::perms::none);
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({path}, &cfg, &error), LoadResult::kError);
  EXPECT_EQ(error, "Fatal error, can't open config file '" + path + "': Permission denied");
}

// ---------------------------------------------------------------------------
// CONFIG SET / CONFIG GET

TEST(SetOptionTest, RuntimeRoundTrips) {
  Config cfg;
  std::string error;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"loglevel", "VERBOSE", "verbose"},
      {"loglevel", "nothing", "nothing"},
      {"dir", "/srv/data", "/srv/data"},
      {"proto-max-bulk-len", "64mb", "67108864"},
      {"proto-max-bulk-len", "2000000", "2000000"},
      {"hz", "42", "42"},
      {"hz", "1000", "500"},
      {"hz", "0", "1"},
      {"requirepass", "pa ss", "pa ss"},
      {"requirepass", "", ""},
  };
  for (const auto& [name, value, shown] : cases) {
    ASSERT_TRUE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error))
        << name << " " << value << ": " << error;
    EXPECT_EQ(Get(cfg, name), shown) << name << " " << value;
  }
  EXPECT_EQ(cfg.loglevel, LogLevel::kNothing);
  EXPECT_EQ(cfg.hz, 1);
}

TEST(SetOptionTest, ImmutableOptionsAreRefusedAtRuntime) {
  Config cfg;
  const auto before = Snapshot(cfg);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"port", "7000"},    {"bind", "0.0.0.0"},       {"tcp-backlog", "10"},
      {"databases", "2"},  {"logfile", "/tmp/x.log"}, {"version-reserve", "5000"},
      {"port", "garbage"},  // refused as immutable before the value is looked at
  };
  for (const auto& [name, value] : cases) {
    std::string error;
    EXPECT_FALSE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error)) << name;
    EXPECT_EQ(error, SetError(name, "can't set immutable config"));
  }
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(SetOptionTest, ImmutableRefusalUsesTheNameAsTyped) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(SetOption(&cfg, "PORT", {"1"}, true, &error));
  EXPECT_EQ(error,
            "CONFIG SET failed (possibly related to argument 'PORT') - "
            "can't set immutable config");
}

TEST(SetOptionTest, ImmutableOptionsCanBeSetAtStartup) {
  Config cfg;
  std::string error;
  EXPECT_TRUE(SetOption(&cfg, "port", {"7000"}, /*runtime=*/false, &error)) << error;
  EXPECT_TRUE(SetOption(&cfg, "bind", {"10.0.0.1", "10.0.0.2"}, false, &error)) << error;
  EXPECT_TRUE(SetOption(&cfg, "version-reserve", {"2000"}, false, &error)) << error;
  EXPECT_EQ(cfg.port, 7000);
  EXPECT_EQ(Get(cfg, "bind"), "10.0.0.1 10.0.0.2");
  EXPECT_EQ(cfg.version_reserve, 2000u);
}

TEST(SetOptionTest, UnknownOption) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(SetOption(&cfg, "foo", {"1"}, /*runtime=*/true, &error));
  EXPECT_EQ(error, "Unknown option or number of arguments for CONFIG SET - 'foo'");
  EXPECT_FALSE(SetOption(&cfg, "foo", {"1"}, /*runtime=*/false, &error));
  EXPECT_EQ(error, "option 'foo': Bad directive or wrong number of arguments");
}

TEST(SetOptionTest, BadValuesAtRuntime) {
  Config cfg;
  const auto before = Snapshot(cfg);
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"hz", "abc", std::string(kNotInteger)},
      {"hz", "-1", "argument must be between 0 and 2147483647 inclusive"},
      {"proto-max-bulk-len", "1000",
       "argument must be between 1048576 and 9223372036854775807 "
       "inclusive"},
      {"proto-max-bulk-len", "-1", std::string(kNotMemory)},
      {"proto-max-bulk-len", "1.5mb", std::string(kNotMemory)},
      {"loglevel", "loud",
       "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"},
      {"dir", "", "dir can't be empty"},
  };
  for (const auto& [name, value, reason] : cases) {
    std::string error;
    EXPECT_FALSE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error)) << name << " " << value;
    EXPECT_EQ(error, SetError(name, reason));
  }
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(SetOptionTest, HllSparseMaxBytesIsASize) {
  Config cfg;
  std::string error;
  EXPECT_EQ(cfg.hll_sparse_max_bytes, 3000u);
  ASSERT_TRUE(SetOption(&cfg, "hll-sparse-max-bytes", {"0"}, /*runtime=*/true, &error)) << error;
  EXPECT_EQ(Get(cfg, "hll-sparse-max-bytes"), "0");
  ASSERT_TRUE(SetOption(&cfg, "hll-sparse-max-bytes", {"4kb"}, true, &error)) << error;
  EXPECT_EQ(cfg.hll_sparse_max_bytes, 4096u);
  const auto before = Snapshot(cfg);
  for (const char* bad : {"-1", "abc", "1.5kb"}) {
    EXPECT_FALSE(SetOption(&cfg, "hll-sparse-max-bytes", {bad}, true, &error)) << bad;
    EXPECT_EQ(error, SetError("hll-sparse-max-bytes", kNotMemory)) << bad;
  }
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(SetOptionTest, ValueErrorsUseTheCanonicalName) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(SetOption(&cfg, "HZ", {"abc"}, true, &error));
  EXPECT_EQ(error, SetError("hz", kNotInteger));
  EXPECT_TRUE(SetOption(&cfg, "Hz", {"20"}, true, &error));
  EXPECT_EQ(cfg.hz, 20);
}

TEST(SetOptionTest, WrongNumberOfValues) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  EXPECT_FALSE(SetOption(&cfg, "hz", {}, true, &error));
  EXPECT_EQ(error, SetError("hz", kWrongArgs));
  EXPECT_FALSE(SetOption(&cfg, "hz", {"1", "2"}, true, &error));
  EXPECT_EQ(error, SetError("hz", kWrongArgs));
  EXPECT_FALSE(SetOption(&cfg, "port", {"1", "2"}, false, &error));
  EXPECT_EQ(error, "option 'port': wrong number of arguments");
  EXPECT_FALSE(SetOption(&cfg, "bind", {}, false, &error));
  EXPECT_EQ(error, "option 'bind': wrong number of arguments");
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(SetOptionTest, StartupValueErrorNamesTheOption) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(SetOption(&cfg, "databases", {"0"}, false, &error));
  EXPECT_EQ(error, "option 'databases': argument must be between 1 and 1000000 inclusive");
}

TEST(SetOptionTest, NothingChangesOnErrorForEveryOption) {
  Config base;
  std::string error;
  ASSERT_TRUE(
      LoadFromText("port 1234\nbind 1.2.3.4\ntcp-backlog 7\ndatabases 3\n"
                   "loglevel debug\nlogfile l\ndir d\nproto-max-bulk-len 3mb\nhz 7\n"
                   "requirepass p\nversion-reserve 7777\n",
                   "", &base, &error))
      << error;
  const auto before = Snapshot(base);
  const std::vector<std::vector<std::string>> attempts = {
      {}, {"", ""}, {"-1"}, {"not a number"}, {""}};
  int failures = 0;
  for (const std::string& name : OptionNames()) {
    for (const bool runtime : {false, true}) {
      for (const std::vector<std::string>& values : attempts) {
        Config cfg = base;
        std::string set_error;
        if (SetOption(&cfg, name, values, runtime, &set_error)) continue;  // valid for strings
        ++failures;
        EXPECT_FALSE(set_error.empty());
        EXPECT_EQ(Snapshot(cfg), before) << name << " runtime=" << runtime;
      }
    }
  }
  EXPECT_GT(failures, 60);
}

TEST(SetOptionTest, GetShowsWhatSetStored) {
  // Every option's GET output can be fed back to SET (at startup) unchanged.
  Config cfg;
  std::string error;
  ASSERT_TRUE(LoadFromText("bind 1.1.1.1 -::1\nproto-max-bulk-len 3mb\nloglevel verbose\n", "",
                           &cfg, &error));
  for (const std::string& name : OptionNames()) {
    const std::string shown = Get(cfg, name);
    Config copy = cfg;
    std::vector<std::string> values = {shown};
    if (name == "bind") values = {"1.1.1.1", "-::1"};
    ASSERT_TRUE(SetOption(&copy, name, values, false, &error)) << name << ": " << error;
    EXPECT_EQ(Snapshot(copy), Snapshot(cfg)) << name;
  }
}

// ---------------------------------------------------------------------------
// The shipped conf/causalkv.conf

// tests/CMakeLists.txt does not define CAUSALKV_SOURCE_DIR, and ctest runs
// this binary from build/tests while a manual run uses build/ or the source
// root, so the fallback tries the source tree as seen from __FILE__ (CMake
// compiles with absolute paths) and then the usual relative locations.
std::string DefaultConfPath() {
#ifdef CAUSALKV_SOURCE_DIR
  return std::string(CAUSALKV_SOURCE_DIR) + "/conf/causalkv.conf";
#else
  const std::vector<fs::path> candidates = {
      fs::path(__FILE__).parent_path().parent_path().parent_path() / "conf" / "causalkv.conf",
      "../conf/causalkv.conf",
      "../../conf/causalkv.conf",
  };
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return candidates[1].string();
#endif
}

TEST(DefaultConfTest, ShippedConfigLoadsWithDocumentedDefaults) {
  const std::string path = DefaultConfPath();
  Config cfg;
  cfg.port = 1;  // make sure the file, not the struct's defaults, sets these
  cfg.hz = 99;
  cfg.bind = {"9.9.9.9"};
  std::string error;
  ASSERT_EQ(LoadArgs({path}, &cfg, &error), LoadResult::kRun)
      << "cwd " << fs::current_path() << ": " << error;

  EXPECT_EQ(cfg.port, 6379);
  EXPECT_EQ(cfg.bind, (std::vector<std::string>{"127.0.0.1", "-::1"}));
  EXPECT_EQ(cfg.tcp_backlog, 511);
  EXPECT_EQ(cfg.databases, 16);
  EXPECT_EQ(cfg.loglevel, LogLevel::kNotice);
  EXPECT_EQ(cfg.logfile, "");
  EXPECT_EQ(cfg.dir, "./data");
  EXPECT_EQ(cfg.proto_max_bulk_len, 512ull * 1024 * 1024);
  EXPECT_EQ(cfg.hz, 10);
  EXPECT_EQ(cfg.requirepass, "");
  EXPECT_EQ(cfg.version_reserve, 1000000u);
  EXPECT_EQ(cfg.config_file, fs::canonical(path).string());
}

TEST(DefaultConfTest, ShippedConfigHasTheLimitAndDaemonDefaults) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({DefaultConfPath()}, &cfg, &error), LoadResult::kRun) << error;
  const Config defaults;
  for (const char* name :
       {"protected-mode", "unixsocket", "unixsocketperm", "maxclients", "timeout",
        "tcp-keepalive", "client-output-buffer-limit", "client-query-buffer-limit", "daemonize",
        "pidfile", "supervised", "slowlog-log-slower-than", "slowlog-max-len"}) {
    EXPECT_EQ(Get(cfg, name), Get(defaults, name)) << name;
  }
}

TEST(DefaultConfTest, ShippedConfigMentionsEveryOption) {
  std::ifstream in(DefaultConfPath());
  ASSERT_TRUE(in) << DefaultConfPath();
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string& name : OptionNames()) {
    // Options off by default (requirepass, maxmemory ...) are shown commented out.
    const bool active = text.find("\n" + name + " ") != std::string::npos;
    const bool commented = text.find("\n# " + name + " ") != std::string::npos;
    EXPECT_TRUE(active || commented) << name;
  }
  EXPECT_NE(text.find("causalkv.hwm"), std::string::npos);
}


TEST(DefaultConfTest, ShippedConfigIsASingleNodeWithTheClusterDefaults) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({DefaultConfPath()}, &cfg, &error), LoadResult::kRun) << error;
  const Config defaults;
  for (const char* name : {"peers", "peer-secret", "write-quorum", "read-quorum", "peer-timeout",
                           "anti-entropy-interval", "tombstone-grace", "expired-grace",
                           "hints-max-memory"}) {
    EXPECT_EQ(Get(cfg, name), Get(defaults, name)) << name;
  }
  EXPECT_EQ(cfg.write_quorum, 0);
  EXPECT_EQ(cfg.read_quorum, 0);
}

// ---------------------------------------------------------------------------
// Protection, client limits, daemon and slow log options

TEST(ProtectionOptionTest, YesNoOptions) {
  ExpectLineGives("protected-mode no", "protected-mode", "no");
  ExpectLineGives("protected-mode YES", "protected-mode", "yes");
  ExpectLineGives("daemonize yes", "daemonize", "yes");
  ExpectLineFails("protected-mode maybe", "argument must be 'yes' or 'no'");
  ExpectLineFails("daemonize 1", "argument must be 'yes' or 'no'");
}

TEST(ProtectionOptionTest, UnixSocketPermIsOctal) {
  ExpectLineGives("unixsocket /run/causalkv.sock", "unixsocket", "/run/causalkv.sock");
  ExpectLineGives("unixsocketperm 700", "unixsocketperm", "700");
  ExpectLineGives("unixsocketperm 0770", "unixsocketperm", "770");
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("unixsocketperm 750\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.unixsocketperm, 0750);
  ExpectLineFails("unixsocketperm 789", kNotInteger);
  ExpectLineFails("unixsocketperm 1000", "argument must be between 0 and 511 inclusive");
}

TEST(ProtectionOptionTest, IntegerRangesAsRedis) {
  ExpectLineGives("maxclients 1", "maxclients", "1");
  ExpectLineGives("maxclients 4294967295", "maxclients", "4294967295");
  ExpectLineFails("maxclients 0", "argument must be between 1 and 4294967295 inclusive");
  ExpectLineGives("timeout 300", "timeout", "300");
  ExpectLineFails("timeout -1", "argument must be between 0 and 2147483647 inclusive");
  ExpectLineGives("tcp-keepalive 0", "tcp-keepalive", "0");
  ExpectLineFails("tcp-keepalive x", kNotInteger);
  ExpectLineGives("slowlog-log-slower-than -1", "slowlog-log-slower-than", "-1");
  ExpectLineFails("slowlog-log-slower-than -2",
                  "argument must be between -1 and 9223372036854775807 inclusive");
  ExpectLineGives("slowlog-max-len 0", "slowlog-max-len", "0");
  ExpectLineFails("slowlog-max-len -1",
                  "argument must be between 0 and 9223372036854775807 inclusive");
}

TEST(ProtectionOptionTest, QueryBufferLimitIsAMemoryValueOfAtLeast1mb) {
  ExpectLineGives("client-query-buffer-limit 1mb", "client-query-buffer-limit", "1048576");
  ExpectLineGives("client-query-buffer-limit 2gb", "client-query-buffer-limit", "2147483648");
  ExpectLineFails("client-query-buffer-limit 1000",
                  "argument must be between 1048576 and 9223372036854775807 inclusive");
  ExpectLineFails("client-query-buffer-limit lots", kNotMemory);
}

TEST(ProtectionOptionTest, SupervisedModes) {
  for (const char* mode : {"no", "systemd", "auto", "upstart"}) {
    ExpectLineGives(std::string("supervised ") + mode, "supervised", mode);
  }
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("supervised SYSTEMD\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.supervised, Supervised::kSystemd);
  ExpectLineFails("supervised launchd",
                  "argument(s) must be one of the following: upstart, systemd, auto, no");
}

TEST(OutputBufferLimitTest, FileLineWithSeveralClasses) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("client-output-buffer-limit normal 1mb 512kb 10 replica 1gb 0 0\n", &cfg,
                   &error))
      << error;
  EXPECT_EQ(cfg.client_output_buffer_limit[kClientNormal],
            (OutputBufferLimit{1024 * 1024, 512 * 1024, 10}));
  EXPECT_EQ(cfg.client_output_buffer_limit[kClientReplica],
            (OutputBufferLimit{1024ull * 1024 * 1024, 0, 0}));
  EXPECT_EQ(Get(cfg, "client-output-buffer-limit"),
            "normal 1048576 524288 10 slave 1073741824 0 0 pubsub 33554432 8388608 60");
}

TEST(OutputBufferLimitTest, ConfigSetTakesOneStringAsRedis) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(SetOption(&cfg, "client-output-buffer-limit", {"normal 1mb 2mb 10"}, true, &error))
      << error;
  EXPECT_EQ(cfg.client_output_buffer_limit[kClientNormal],
            (OutputBufferLimit{1024 * 1024, 2 * 1024 * 1024, 10}));
  ASSERT_TRUE(SetOption(&cfg, "client-output-buffer-limit", {"slave 1 2 3 normal 4 5 6"}, true,
                        &error))
      << error;
  EXPECT_EQ(Get(cfg, "client-output-buffer-limit"),
            "normal 4 5 6 slave 1 2 3 pubsub 33554432 8388608 60");
}

TEST(OutputBufferLimitTest, ErrorsAsRedisAndNothingChanges) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"normal 1mb 2mb", "Wrong number of arguments in buffer limit configuration."},
      {"", "Wrong number of arguments in buffer limit configuration."},
      {"foo 1mb 2mb 3", "Invalid client class specified in buffer limit configuration."},
      {"master 1 2 3", "Invalid client class specified in buffer limit configuration."},
      {"normal 1mb 2mb x",
       "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
      {"normal -1 2 3",
       "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
      // The first class is valid, the second is not: all or nothing.
      {"normal 1 2 3 pubsub 1 2 -3",
       "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
  };
  for (const auto& [value, reason] : cases) {
    Config cfg;
    const auto before = Snapshot(cfg);
    std::string error;
    EXPECT_FALSE(SetOption(&cfg, "client-output-buffer-limit", {value}, true, &error)) << value;
    EXPECT_EQ(error, SetError("client-output-buffer-limit", reason)) << value;
    EXPECT_EQ(Snapshot(cfg), before) << value;
  }
}

TEST(ProtectionOptionTest, WhatCanChangeAtRuntime) {
  Config cfg;
  std::string error;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"protected-mode", "no"},
           {"maxclients", "50"},
           {"timeout", "30"},
           {"tcp-keepalive", "60"},
           {"client-query-buffer-limit", "2mb"},
           {"slowlog-log-slower-than", "0"},
           {"slowlog-max-len", "5"}}) {
    EXPECT_TRUE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error)) << name << error;
  }
  for (const char* name : {"unixsocket", "unixsocketperm", "daemonize", "pidfile", "supervised"}) {
    EXPECT_FALSE(SetOption(&cfg, name, {"1"}, /*runtime=*/true, &error)) << name;
    EXPECT_EQ(error, SetError(name, "can't set immutable config"));
  }
}

// ---------------------------------------------------------------------------
// CONFIG REWRITE

TEST(RewriteTest, UnchangedDefaultsKeepTheFileAsItWas) {
  const Config cfg;
  const std::string text = "# a comment\n\nport 6379\n  # indented comment\nhz 10\n";
  EXPECT_EQ(RewriteConfigText(cfg, text), text);
}

TEST(RewriteTest, DirectivesAreRewrittenInPlaceAndNewOnesAppended) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("timeout 30\nmaxclients 50\nslowlog-max-len 5\n"
                   "client-output-buffer-limit \"normal 1mb 512kb 10\"\n"
                   "logfile \"/var/log/a b.log\"\n",
                   &cfg, &error))
      << error;
  const std::string old_text =
      "# Top comment\n"
      "timeout 0   \n"
      "\n"
      "# about clients\n"
      "MAXCLIENTS 10000\n"
      "maxclients 7\n"
      "hz 10\n";
  EXPECT_EQ(RewriteConfigText(cfg, old_text),
            "# Top comment\n"
            "timeout 30\n"
            "\n"
            "# about clients\n"
            "maxclients 50\n"
            "hz 10\n"
            "# Generated by CONFIG REWRITE\n"
            "logfile \"/var/log/a b.log\"\n"
            "client-output-buffer-limit normal 1048576 524288 10 slave 268435456 67108864 60 "
            "pubsub 33554432 8388608 60\n"
            "slowlog-max-len 5\n");
}

TEST(RewriteTest, MemorySizesWithUnitsAndOneSignatureOnly) {
  Config cfg;
  cfg.client_query_buffer_limit = 2ull * 1024 * 1024 * 1024;
  cfg.proto_max_bulk_len = 1536 * 1024;
  const std::string once = RewriteConfigText(cfg, "port 6379");
  EXPECT_EQ(once,
            "port 6379\n"
            "# Generated by CONFIG REWRITE\n"
            "proto-max-bulk-len 1536kb\n"
            "client-query-buffer-limit 2gb\n");
  cfg.timeout = 5;
  EXPECT_EQ(RewriteConfigText(cfg, once), once + "timeout 5\n");
}

TEST(RewriteTest, TheRewrittenFileLoadsBackToTheSameConfig) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("bind 127.0.0.1 ::1\nrequirepass \"p\\\"w d\"\nunixsocketperm 700\n"
                   "protected-mode no\nsupervised auto\nslowlog-log-slower-than -1\n",
                   &cfg, &error))
      << error;
  Config loaded;
  ASSERT_TRUE(Load(RewriteConfigText(cfg, "# empty\n"), &loaded, &error)) << error;
  EXPECT_EQ(Snapshot(loaded), Snapshot(cfg));
}

TEST(RewriteTest, RewriteConfigFileReplacesTheFileAndKeepsItsMode) {
  TempDir dir;
  const std::string path = dir.Write("causalkv.conf", "# keep me\nport 7000\n");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({path}, &cfg, &error), LoadResult::kRun) << error;
  cfg.timeout = 12;
  ASSERT_TRUE(RewriteConfigFile(cfg, &error)) << error;
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "# keep me\nport 7000\n# Generated by CONFIG REWRITE\ntimeout 12\n");
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(RewriteTest, SavePointsAreWrittenAsWordsAndNoneAsEmptyString) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("save 3600 1 300 100\n", &cfg, &error)) << error;
  EXPECT_EQ(RewriteConfigText(cfg, "save \"\"\n"), "save 3600 1 300 100\n");
  cfg.save_points.clear();
  EXPECT_EQ(RewriteConfigText(cfg, "save 60 1\n"), "save \"\"\n");
}

TEST(RewriteTest, WithoutConfigFile) {
  const Config cfg;
  std::string error;
  EXPECT_FALSE(RewriteConfigFile(cfg, &error));
  EXPECT_EQ(error, "The server is running without a config file");
}

// ---------------------------------------------------------------------------
// Cluster options

constexpr std::string_view kSecretMissing =
    "peers is set but peer-secret is empty: the commands nodes send each other can overwrite any "
    "key, so peer links must authenticate; set peer-secret to the same secret on every node";

// Loads `text` as a file through LoadFromArgs(), so that ValidateCluster() runs.
LoadResult LoadFileArgs(std::string_view text, const std::vector<std::string>& flags,
                        Config* cfg, std::string* error) {
  TempDir dir;
  std::vector<std::string> args = {dir.Write("cluster.conf", text)};
  args.insert(args.end(), flags.begin(), flags.end());
  return LoadArgs(args, cfg, error);
}

std::string ClusterError(std::string_view reason) {
  return kFatalHeader + "Checking the cluster options\n" + std::string(reason);
}

TEST(ConfigClusterTest, PeersAcceptsIpv4HostnamesAndBracketedIpv6) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("peers 10.0.0.2:6379 db-2.example.com:7000 [::1]:6380 localhost:65535\n", &cfg,
                   &error))
      << error;
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"10.0.0.2:6379", "db-2.example.com:7000",
                                                 "[::1]:6380", "localhost:65535"}));
  EXPECT_EQ(Get(cfg, "peers"), "10.0.0.2:6379 db-2.example.com:7000 [::1]:6380 localhost:65535");
  EXPECT_EQ(ClusterSize(cfg), 5);
}

TEST(ConfigClusterTest, PeersEmptyStringClearsAndLaterLinesReplace) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("peers a:1 b:2\npeers c:3\n", &cfg, &error)) << error;
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"c:3"}));
  ASSERT_TRUE(Load("peers \"\"\n", &cfg, &error)) << error;
  EXPECT_TRUE(cfg.peers.empty());
  EXPECT_EQ(ClusterSize(cfg), 1);
}

TEST(ConfigClusterTest, PeersFromTheCommandLineAndAsOneString) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadArgs({"--peers", "127.0.0.2:6379", "127.0.0.3:6379", "--peer-secret", "s"}, &cfg,
                     &error),
            LoadResult::kRun)
      << error;
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"127.0.0.2:6379", "127.0.0.3:6379"}));
  EXPECT_EQ(cfg.peer_secret, "s");
  // CONFIG GET's one-string form reads back the same (as `save` does).
  Config copy;
  ASSERT_TRUE(SetOption(&copy, "peers", {Get(cfg, "peers")}, /*runtime=*/false, &error)) << error;
  EXPECT_EQ(copy.peers, cfg.peers);
}

TEST(ConfigClusterTest, BadPeers) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"peers", std::string(kWrongArgs)},
      {"peers host", "peer 'host' must be host:port"},
      {"peers host:", "peer 'host:' must end with a port from 1 to 65535"},
      {"peers host:0", "peer 'host:0' must end with a port from 1 to 65535"},
      {"peers host:65536", "peer 'host:65536' must end with a port from 1 to 65535"},
      {"peers host:+1", "peer 'host:+1' must end with a port from 1 to 65535"},
      {"peers host:007", "peer 'host:007' must end with a port from 1 to 65535"},
      {"peers host:x", "peer 'host:x' must end with a port from 1 to 65535"},
      {"peers :6379", "peer ':6379' has no host"},
      {"peers ::1:6379", "peer '::1:6379' has an IPv6 address without brackets (write it as "
                         "[address]:port)"},
      {"peers []:6379", "peer '[]:6379' has a bad IPv6 address (write it as [address]:port)"},
      {"peers [::1:6379", "peer '[::1:6379' has a bad IPv6 address (write it as [address]:port)"},
      {"peers [zz::1]:6379",
       "peer '[zz::1]:6379' has a bad IPv6 address (write it as [address]:port)"},
      {"peers [10.0.0.1]:6379",
       "peer '[10.0.0.1]:6379' has a bad IPv6 address (write it as [address]:port)"},
      {"peers 300.1.1.1:6379", "peer '300.1.1.1:6379' has a bad IPv4 address"},
      {"peers 10.0.0:6379", "peer '10.0.0:6379' has a bad IPv4 address"},
      {"peers host!:6379", "peer 'host!:6379' has a bad host name"},
      {"peers -host:6379", "peer '-host:6379' has a bad host name"},
      {"peers a..b:6379", "peer 'a..b:6379' has a bad host name"},
      {"peers a:1 b:2 a:1", "peer 'a:1' is listed twice"},
      {"peers db:1 DB:1", "peer 'DB:1' is listed twice"},
      {"peers [::1]:7 [0:0::1]:7", "peer '[0:0::1]:7' is listed twice"},
  };
  for (const auto& [line, reason] : cases) ExpectLineFails(line, reason);
  // The same host on another port is another node; underscores, which
  // container host names often have, resolve fine.
  ExpectLineGives("peers a:1 a:2 my_db.local:3", "peers", "a:1 a:2 my_db.local:3");
}

TEST(ConfigClusterTest, PeersAndSecretAreStartupOnly) {
  Config cfg;
  const auto before = Snapshot(cfg);
  std::string error;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"peers", "a:1"}, {"peer-secret", "s"}}) {
    EXPECT_FALSE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error)) << name;
    EXPECT_EQ(error, SetError(name, "can't set immutable config"));
  }
  EXPECT_EQ(Snapshot(cfg), before);
}

TEST(ConfigClusterTest, PeerSecretIsShownLikeRequirepass) {
  ExpectLineGives("peer-secret \"s3 cret\"", "peer-secret", "s3 cret");
  ExpectLineFails("peer-secret a b", kWrongArgs);
}

TEST(ConfigClusterTest, DurationsAndHintMemory) {
  const std::vector<std::tuple<std::string, std::string, std::string>> good = {
      {"peer-timeout 1", "peer-timeout", "1"},
      {"peer-timeout 3600000", "peer-timeout", "3600000"},
      {"anti-entropy-interval 10", "anti-entropy-interval", "10"},
      {"anti-entropy-interval 86400000", "anti-entropy-interval", "86400000"},
      {"tombstone-grace 0", "tombstone-grace", "0"},
      {"tombstone-grace 2592000000", "tombstone-grace", "2592000000"},
      {"expired-grace 0", "expired-grace", "0"},
      {"expired-grace 2592000000", "expired-grace", "2592000000"},
      {"hints-max-memory 0", "hints-max-memory", "0"},
      {"hints-max-memory 1gb", "hints-max-memory", "1073741824"},
      {"hints-max-memory 100k", "hints-max-memory", "100000"},
  };
  for (const auto& [line, name, shown] : good) ExpectLineGives(line, name, shown);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"peer-timeout 0", "argument must be between 1 and 3600000 inclusive"},
      {"peer-timeout 3600001", "argument must be between 1 and 3600000 inclusive"},
      {"peer-timeout 1s", std::string(kNotInteger)},
      {"anti-entropy-interval 9", "argument must be between 10 and 86400000 inclusive"},
      {"tombstone-grace -1", "argument must be between 0 and 2592000000 inclusive"},
      {"tombstone-grace 2592000001", "argument must be between 0 and 2592000000 inclusive"},
      {"expired-grace -1", "argument must be between 0 and 2592000000 inclusive"},
      {"hints-max-memory -1", std::string(kNotMemory)},
      {"hints-max-memory 1tb", std::string(kNotMemory)},
  };
  for (const auto& [line, reason] : bad) ExpectLineFails(line, reason);

  Config cfg;
  std::string error;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"peer-timeout", "250"},
           {"anti-entropy-interval", "500"},
           {"tombstone-grace", "0"},
           {"expired-grace", "250"},
           {"hints-max-memory", "1mb"}}) {
    EXPECT_TRUE(SetOption(&cfg, name, {value}, /*runtime=*/true, &error)) << name << error;
  }
  EXPECT_EQ(cfg.peer_timeout_ms, 250);
  EXPECT_EQ(cfg.anti_entropy_interval_ms, 500);
  EXPECT_EQ(cfg.tombstone_grace_ms, 0);
  EXPECT_EQ(cfg.expired_grace_ms, 250);
  EXPECT_EQ(cfg.hints_max_memory, 1024u * 1024);
}

TEST(ConfigClusterTest, DefaultQuorumIsAMajorityOfTheNodes) {
  // N = peers + 1 -> N/2+1.
  const std::vector<std::pair<std::string, int>> cases = {
      {"", 1}, {"a:1", 2}, {"a:1 b:1", 2}, {"a:1 b:1 c:1", 3}, {"a:1 b:1 c:1 d:1", 3}};
  for (const auto& [peers, majority] : cases) {
    Config cfg;
    std::string error;
    ASSERT_TRUE(SetOption(&cfg, "peers", {peers}, false, &error)) << error;
    EXPECT_EQ(EffectiveWriteQuorum(cfg), majority) << peers;
    EXPECT_EQ(EffectiveReadQuorum(cfg), majority) << peers;
    EXPECT_EQ(Get(cfg, "write-quorum"), std::to_string(majority)) << peers;
    EXPECT_EQ(Get(cfg, "read-quorum"), std::to_string(majority)) << peers;
    EXPECT_EQ(cfg.write_quorum, 0);
  }
}

TEST(ConfigClusterTest, ConfiguredQuorumsAreShownAsConfigured) {
  Config cfg;
  std::string error;
  ASSERT_EQ(LoadFileArgs("write-quorum 1\nread-quorum 3\npeers a:1 b:1\npeer-secret s\n", {},
                         &cfg, &error),
            LoadResult::kRun)
      << error;  // the quorums come before peers: checked only at the end
  EXPECT_EQ(EffectiveWriteQuorum(cfg), 1);
  EXPECT_EQ(EffectiveReadQuorum(cfg), 3);
  EXPECT_EQ(Get(cfg, "write-quorum"), "1");
  EXPECT_EQ(Get(cfg, "read-quorum"), "3");
}

TEST(ConfigClusterTest, QuorumValuesAtStartup) {
  ExpectLineGives("write-quorum 1000", "write-quorum", "1000");  // bounded later by N
  ExpectLineFails("write-quorum 1001", "argument must be between 0 and 1000 inclusive");
  ExpectLineFails("read-quorum -1", "argument must be between 0 and 1000 inclusive");
  ExpectLineFails("read-quorum two", kNotInteger);
}

TEST(ConfigClusterTest, ConfigSetQuorumIsBoundedByTheClusterSize) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("peers a:1 b:1\npeer-secret s\n", &cfg, &error)) << error;
  ASSERT_TRUE(SetOption(&cfg, "write-quorum", {"3"}, /*runtime=*/true, &error)) << error;
  ASSERT_TRUE(SetOption(&cfg, "read-quorum", {"1"}, /*runtime=*/true, &error)) << error;
  EXPECT_EQ(Get(cfg, "write-quorum"), "3");
  EXPECT_EQ(Get(cfg, "read-quorum"), "1");

  const auto before = Snapshot(cfg);
  EXPECT_FALSE(SetOption(&cfg, "write-quorum", {"4"}, /*runtime=*/true, &error));
  EXPECT_EQ(error, SetError("write-quorum",
                            "write-quorum 4 is more than the 3 nodes of the cluster "
                            "(peers + this node)"));
  EXPECT_FALSE(SetOption(&cfg, "READ-QUORUM", {"9"}, /*runtime=*/true, &error));
  EXPECT_EQ(error, SetError("read-quorum",
                            "read-quorum 9 is more than the 3 nodes of the cluster "
                            "(peers + this node)"));
  EXPECT_EQ(Snapshot(cfg), before);

  // 0 restores the majority.
  ASSERT_TRUE(SetOption(&cfg, "write-quorum", {"0"}, /*runtime=*/true, &error)) << error;
  EXPECT_EQ(cfg.write_quorum, 0);
  EXPECT_EQ(Get(cfg, "write-quorum"), "2");

  Config single;
  EXPECT_FALSE(SetOption(&single, "write-quorum", {"2"}, /*runtime=*/true, &error));
  EXPECT_EQ(error, SetError("write-quorum",
                            "write-quorum 2 is more than the 1 node of the cluster "
                            "(peers + this node)"));
  EXPECT_TRUE(SetOption(&single, "write-quorum", {"1"}, /*runtime=*/true, &error)) << error;
}

TEST(ConfigClusterTest, ValidateCluster) {
  std::string error;
  Config cfg;
  EXPECT_TRUE(ValidateCluster(cfg, &error)) << error;  // a single node needs no secret

  cfg.peers = {"a:1", "b:1"};
  EXPECT_FALSE(ValidateCluster(cfg, &error));
  EXPECT_EQ(error, kSecretMissing);

  cfg.peer_secret = "s";
  EXPECT_TRUE(ValidateCluster(cfg, &error)) << error;

  cfg.write_quorum = 4;
  EXPECT_FALSE(ValidateCluster(cfg, &error));
  EXPECT_EQ(error, "write-quorum 4 is more than the 3 nodes of the cluster (peers + this node)");
  cfg.write_quorum = 3;
  cfg.read_quorum = 5;
  EXPECT_FALSE(ValidateCluster(cfg, &error));
  EXPECT_EQ(error, "read-quorum 5 is more than the 3 nodes of the cluster (peers + this node)");
  cfg.read_quorum = 0;
  EXPECT_TRUE(ValidateCluster(cfg, &error)) << error;
}

TEST(ConfigClusterTest, LoadFromArgsRefusesABadCombinationAndChangesNothing) {
  const std::vector<std::tuple<std::string, std::vector<std::string>, std::string>> cases = {
      {"peers a:1 b:1\n", {}, std::string(kSecretMissing)},
      // The flag's quorum is checked against the file's peers.
      {"peers a:1 b:1\npeer-secret s\n",
       {"--write-quorum", "4"},
       "write-quorum 4 is more than the 3 nodes of the cluster (peers + this node)"},
      // A quorum that fitted the file's peers no longer fits once a flag clears them.
      {"peers a:1 b:1\npeer-secret s\nread-quorum 2\n",
       {"--peers", ""},
       "read-quorum 2 is more than the 1 node of the cluster (peers + this node)"},
  };
  for (const auto& [text, flags, reason] : cases) {
    Config cfg;
    const auto before = Snapshot(cfg);
    std::string error;
    EXPECT_EQ(LoadFileArgs(text, flags, &cfg, &error), LoadResult::kError) << text;
    EXPECT_EQ(error, ClusterError(reason)) << text;
    EXPECT_EQ(Snapshot(cfg), before) << text;
  }
  Config cfg;
  std::string error;
  EXPECT_EQ(LoadArgs({"--peers", "a:1", "--peer-secret", "s", "--write-quorum", "2"}, &cfg,
                     &error),
            LoadResult::kRun)
      << error;
}

TEST(ConfigClusterTest, RewriteRoundTripKeepsAMajorityQuorumAsZero) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(Load("peers 127.0.0.2:7000 [::1]:7001\npeer-secret \"a secret\"\n"
                   "read-quorum 3\npeer-timeout 250\nanti-entropy-interval 5000\n"
                   "tombstone-grace 0\nhints-max-memory 128mb\n",
                   &cfg, &error))
      << error;
  const std::string text = RewriteConfigText(cfg, "# cluster\npeers \"\"\nwrite-quorum 0\n");
  EXPECT_EQ(text,
            "# cluster\n"
            "peers 127.0.0.2:7000 [::1]:7001\n"
            "write-quorum 0\n"  // still "a majority", though GET shows 2 today
            "# Generated by CONFIG REWRITE\n"
            "peer-secret \"a secret\"\n"
            "read-quorum 3\n"
            "peer-timeout 250\n"
            "anti-entropy-interval 5000\n"
            "tombstone-grace 0\n"
            "hints-max-memory 128mb\n");
  Config loaded;
  ASSERT_TRUE(Load(text, &loaded, &error)) << error;
  EXPECT_EQ(Snapshot(loaded), Snapshot(cfg));
  EXPECT_EQ(loaded.write_quorum, 0);
  EXPECT_EQ(loaded.read_quorum, 3);

  // Back to one node: `peers ""`, and nothing appended for the defaults.
  Config single = loaded;
  single.peers.clear();
  single.peer_secret.clear();
  single.read_quorum = 0;
  single.peer_timeout_ms = 1000;
  single.anti_entropy_interval_ms = 10000;
  single.tombstone_grace_ms = 3600000;
  single.hints_max_memory = 64ull << 20;
  EXPECT_EQ(RewriteConfigText(single, "peers a:1 b:2\n"), "peers \"\"\n");
}

// notify-keyspace-events: Redis's letters and normal form (read back from
// redis-server 7.0.15), and causalkv's v and c, which A leaves out.
TEST(ConfigTest, NotifyKeyspaceEventsParseAndNormalForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},           {"KEA", "AKE"},     {"Ex", "xE"},          {"gK$", "g$K"},
      {"A", "A"},         {"KA", "AK"},       {"KEAmn", "AKEm"},     {"KEn", "nKE"},
      {"KEtn", "tnKE"},   {"mn", "nm"},       {"g$lshzxetd", "A"},   {"g$lshzxet", "g$lshzxet"},
      {"KKEE", "KE"},     {"Ed", "dE"},       {"KEe", "eKE"},        {"Kl", "lK"},
      {"KEAvc", "AvcKE"}, {"cvK", "vcK"},     {"Ev", "vE"},          {"KEAm", "AKEm"}};
  for (const auto& [text, normal] : cases) {
    uint32_t flags = 0;
    ASSERT_TRUE(ParseNotifyKeyspaceEvents(text, &flags)) << text;
    EXPECT_EQ(NotifyKeyspaceEventsString(flags), normal) << text;
    // The normal form parses back to the same classes, except n under A
    // (Redis hides it there too).
    uint32_t again = 0;
    ASSERT_TRUE(ParseNotifyKeyspaceEvents(normal, &again)) << normal;
    EXPECT_EQ(again, flags & ~((flags & kNotifyAll) == kNotifyAll ? kNotifyNew : 0u)) << text;
  }
  uint32_t flags = 0;
  ASSERT_TRUE(ParseNotifyKeyspaceEvents("KEA", &flags));
  EXPECT_EQ(flags & (kNotifyVersioned | kNotifyConflict | kNotifyKeyMiss | kNotifyNew), 0u);
  EXPECT_TRUE(flags & kNotifyStream);
  for (const char* bad : {"Kq", "K E", "kea", "KEA ", "V", "C", "a"}) {
    EXPECT_FALSE(ParseNotifyKeyspaceEvents(bad, &flags)) << bad;
  }

  Config cfg;
  std::string error;
  ASSERT_TRUE(SetOption(&cfg, "notify-keyspace-events", {"KEA"}, /*runtime=*/true, &error));
  EXPECT_EQ(Get(cfg, "notify-keyspace-events"), "AKE");
  EXPECT_FALSE(SetOption(&cfg, "notify-keyspace-events", {"Kq"}, true, &error));
  EXPECT_EQ(error, SetError("notify-keyspace-events",
                            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."));
  EXPECT_EQ(Get(cfg, "notify-keyspace-events"), "AKE");  // unchanged on error
  // CONFIG REWRITE writes the normal form, and it loads back.
  ASSERT_TRUE(SetOption(&cfg, "notify-keyspace-events", {"KE$lvc"}, true, &error));
  const std::string text = RewriteConfigText(cfg, "");
  EXPECT_NE(text.find("notify-keyspace-events $lvcKE\n"), std::string::npos) << text;
  Config loaded;
  ASSERT_TRUE(Load(text, &loaded, &error)) << error;
  EXPECT_EQ(loaded.notify_keyspace_events, cfg.notify_keyspace_events);
  ASSERT_TRUE(SetOption(&cfg, "notify-keyspace-events", {""}, true, &error));
  EXPECT_EQ(cfg.notify_keyspace_events, 0u);
}

}  // namespace
}  // namespace causalkv::config
