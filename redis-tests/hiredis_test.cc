// Black-box tests through hiredis (the C client most Redis clients wrap):
// the server binary named by $CAUSALKV_SERVER is started on a free port with
// a fresh temporary data directory for every test, driven with the
// synchronous hiredis API, and stopped with SIGTERM (exit code 0 expected).
//
// The child gets PR_SET_PDEATHSIG so it dies with this process even if a
// ctest timeout kills the test binary, and every wait is bounded.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = 15s;
constexpr auto kStopTimeout = 15s;
constexpr timeval kIoTimeout{30, 0};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

// A port the kernel reports free right now (the server start retries if it
// was taken in between).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string ReplyText(const redisReply* r) {
  if (r == nullptr) return "(null reply)";
  switch (r->type) {
    case REDIS_REPLY_STRING: return "string \"" + std::string(r->str, r->len) + "\"";
    case REDIS_REPLY_STATUS: return "status " + std::string(r->str, r->len);
    case REDIS_REPLY_ERROR: return "error " + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER: return "integer " + std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; ++i) s += (i ? ", " : "") + ReplyText(r->element[i]);
      return s + "]";
    }
    default: return "type " + std::to_string(r->type);
  }
}

// The server under test, one per test.
class Server {
 public:
  ~Server() { Kill(); }

  // Returns an empty string on success, else what went wrong.
  std::string Start() {
    const char* bin = std::getenv("CAUSALKV_SERVER");
    if (bin == nullptr || *bin == '\0') {
      return "CAUSALKV_SERVER is not set (run through ctest or export it)";
    }
    if (access(bin, X_OK) != 0) return std::string("CAUSALKV_SERVER=") + bin + " is not executable";
    char tmpl[] = "/tmp/causalkv-hiredis-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    base_ = tmpl;
    dir_ = base_ + "/data";
    std::filesystem::create_directory(dir_);
    log_ = base_ + "/server.log";
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreePort();
      Spawn(bin);
      if (WaitReady()) return "";
      Kill();  // exited early (port race?) or never answered: try another port
    }
    return "server did not answer PING within the timeout; log:\n" + LogTail();
  }

  // SIGTERM and wait; returns the exit code (or -1 on signal/timeout).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int code = WaitExit(kStopTimeout);
    if (code == kTimedOut) {
      Kill();
      return -1;
    }
    pid_ = -1;
    return code;
  }

  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  void RemoveDir() {
    if (!base_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(base_, ec);
    }
  }

  int port() const { return port_; }

  std::string LogTail() const {
    std::string text;
    if (FILE* f = fopen(log_.c_str(), "rb")) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      fclose(f);
    }
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

  Context Connect() const {
    Context c(redisConnectWithTimeout("127.0.0.1", port_, timeval{5, 0}));
    if (c && !c->err) redisSetTimeout(c.get(), kIoTimeout);
    return c;
  }

 private:
  static constexpr int kTimedOut = -1000;

  void Spawn(const char* bin) {
    std::string port = std::to_string(port_);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the parent already died
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      execl(bin, bin, "--port", port.c_str(), "--dir", dir_.c_str(), "--bind", "127.0.0.1",
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }

  int WaitExit(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      if (r < 0) return -1;
      std::this_thread::sleep_for(10ms);
    }
    return kTimedOut;
  }

  bool WaitReady() {
    auto deadline = Clock::now() + kReadyTimeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      Context c(redisConnectWithTimeout("127.0.0.1", port_, timeval{1, 0}));
      if (c && !c->err) {
        redisSetTimeout(c.get(), timeval{2, 0});
        Reply r(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
        if (r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG") return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  pid_t pid_ = -1;
  int port_ = -1;
  std::string base_, dir_, log_;
};

class HiredisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err = server_.Start();
    ASSERT_EQ(err, "") << "could not start the server";
    started_ = true;
    c_ = server_.Connect();
    ASSERT_TRUE(c_ && !c_->err) << "connect failed: " << (c_ ? c_->errstr : "out of memory");
  }

  void TearDown() override {
    c_.reset();
    if (started_) {
      int code = server_.Stop();
      EXPECT_EQ(code, 0) << "server exit code after SIGTERM; log:\n" << server_.LogTail();
    }
    server_.Kill();
    server_.RemoveDir();
  }

  Reply Command(redisContext* c, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    void* r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return Reply(static_cast<redisReply*>(r));
  }

  Reply GetReply(redisContext* c) {
    void* r = nullptr;
    if (redisGetReply(c, &r) != REDIS_OK) return Reply(nullptr);
    return Reply(static_cast<redisReply*>(r));
  }

  // Asserts `r` is [version, [values...]], the VGET/VPUT/VDEL shape.
  static void ExpectVersioned(const redisReply* r, long long version,
                              const std::vector<std::string>& values) {
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << ReplyText(r);
    ASSERT_EQ(r->elements, 2u) << ReplyText(r);
    ASSERT_EQ(r->element[0]->type, REDIS_REPLY_INTEGER) << ReplyText(r);
    EXPECT_EQ(r->element[0]->integer, version) << ReplyText(r);
    const redisReply* vals = r->element[1];
    ASSERT_EQ(vals->type, REDIS_REPLY_ARRAY) << ReplyText(r);
    ASSERT_EQ(vals->elements, values.size()) << ReplyText(r);
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(vals->element[i]->type, REDIS_REPLY_STRING) << ReplyText(r);
      EXPECT_EQ(std::string(vals->element[i]->str, vals->element[i]->len), values[i]) << ReplyText(r);
    }
  }

  Server server_;
  Context c_;
  bool started_ = false;
};

TEST_F(HiredisTest, Pipelines10000SetAndGetCommandsInOrder) {
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(redisAppendCommand(c_.get(), "SET key:%d value:%d", i, i), REDIS_OK);
    ASSERT_EQ(redisAppendCommand(c_.get(), "GET key:%d", i), REDIS_OK);
  }
  for (int i = 0; i < kN; ++i) {
    Reply set = GetReply(c_.get());
    ASSERT_TRUE(set) << "no reply to SET #" << i << ": " << c_->errstr;
    ASSERT_EQ(set->type, REDIS_REPLY_STATUS) << "SET #" << i << ": " << ReplyText(set.get());
    ASSERT_STREQ(set->str, "OK");
    Reply get = GetReply(c_.get());
    ASSERT_TRUE(get) << "no reply to GET #" << i << ": " << c_->errstr;
    ASSERT_EQ(get->type, REDIS_REPLY_STRING) << "GET #" << i << ": " << ReplyText(get.get());
    ASSERT_EQ(std::string(get->str, get->len), "value:" + std::to_string(i));
  }
  Reply size = Command(c_.get(), "DBSIZE");
  ASSERT_TRUE(size);
  EXPECT_EQ(size->integer, kN);
}

TEST_F(HiredisTest, BinaryKeysAndValuesWithNulCrLf) {
  const std::string key = "bin\0key\r\n"s;
  const std::string value = "\0\r\n$3\r\n*1\r\n\0\xff end\r"s;
  Reply set = Command(c_.get(), "SET %b %b", key.data(), key.size(), value.data(), value.size());
  ASSERT_TRUE(set);
  EXPECT_EQ(ReplyText(set.get()), "status OK");
  Reply get = Command(c_.get(), "GET %b", key.data(), key.size());
  ASSERT_TRUE(get);
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(get->str, get->len), value);
  Reply len = Command(c_.get(), "STRLEN %b", key.data(), key.size());
  ASSERT_TRUE(len);
  EXPECT_EQ(len->integer, static_cast<long long>(value.size()));
  Reply app = Command(c_.get(), "APPEND %b %b", key.data(), key.size(), "\0\n", size_t{2});
  ASSERT_TRUE(app);
  EXPECT_EQ(app->integer, static_cast<long long>(value.size() + 2));
  Reply keys = Command(c_.get(), "KEYS *");
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(keys->elements, 1u);
  EXPECT_EQ(std::string(keys->element[0]->str, keys->element[0]->len), key);
}

TEST_F(HiredisTest, BinaryValuesThroughVput) {
  const std::string key = "v\0key\r\n"s;
  const std::string first = "\0\r\n"s;
  const std::string second = "a\r\n*2\r\n\0"s;
  Reply r1 = Command(c_.get(), "VPUT %b 0 %b", key.data(), key.size(), first.data(), first.size());
  ExpectVersioned(r1.get(), 1, {first});
  Reply r2 = Command(c_.get(), "VPUT %b 0 %b", key.data(), key.size(), second.data(), second.size());
  ExpectVersioned(r2.get(), 2, {first, second});
  Reply r3 = Command(c_.get(), "VGET %b", key.data(), key.size());
  ExpectVersioned(r3.get(), 2, {first, second});
}

TEST_F(HiredisTest, TenMegabyteValueRoundTrip) {
  std::string big(10 * 1024 * 1024, '\0');
  uint32_t x = 12345;
  for (auto& ch : big) {  // deterministic noise, every byte value occurs
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  Reply set = Command(c_.get(), "SET big %b", big.data(), big.size());
  ASSERT_TRUE(set) << c_->errstr;
  EXPECT_EQ(ReplyText(set.get()), "status OK");
  Reply get = Command(c_.get(), "GET big");
  ASSERT_TRUE(get) << c_->errstr;
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  ASSERT_EQ(get->len, big.size());
  EXPECT_TRUE(std::memcmp(get->str, big.data(), big.size()) == 0) << "10 MB value came back different";
  Reply len = Command(c_.get(), "STRLEN big");
  ASSERT_TRUE(len);
  EXPECT_EQ(len->integer, static_cast<long long>(big.size()));
  Reply tail = Command(c_.get(), "GETRANGE big -3 -1");
  ASSERT_TRUE(tail);
  EXPECT_EQ(std::string(tail->str, tail->len), big.substr(big.size() - 3));
}

TEST_F(HiredisTest, ProtocolErrorClosesOnlyThatConnection) {
  Context other = server_.Connect();
  ASSERT_TRUE(other && !other->err);
  Reply set = Command(other.get(), "SET survivor yes");
  ASSERT_TRUE(set);

  struct Case {
    std::string request, error;
  };
  const std::vector<Case> cases = {
      {"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"},
      {"*abc\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*2\r\n$3\r\nfoo\r\n+x\r\n", "ERR Protocol error: expected '$', got '+'"},
      {"*1\r\n$600000000\r\n", "ERR Protocol error: invalid bulk length"},
      {"SET \"unbalanced\r\n", "ERR Protocol error: unbalanced quotes in request"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.request);
    Context bad = server_.Connect();
    ASSERT_TRUE(bad && !bad->err);
    redisSetTimeout(bad.get(), timeval{5, 0});  // a missing close fails in 5 s, not 30
    // A good command first: its reply must arrive before the error.
    ASSERT_EQ(redisAppendCommand(bad.get(), "PING"), REDIS_OK);
    ASSERT_EQ(redisAppendFormattedCommand(bad.get(), tc.request.data(), tc.request.size()), REDIS_OK);
    Reply pong = GetReply(bad.get());
    ASSERT_TRUE(pong) << bad->errstr;
    EXPECT_EQ(ReplyText(pong.get()), "status PONG");
    Reply err = GetReply(bad.get());
    ASSERT_TRUE(err) << "no error reply before the close: " << bad->errstr;
    EXPECT_EQ(ReplyText(err.get()), "error " + tc.error);
    // Then the server closes this connection.
    Reply after = GetReply(bad.get());
    EXPECT_FALSE(after) << "connection still open, got " << ReplyText(after.get());
    EXPECT_TRUE(bad->err == REDIS_ERR_EOF || bad->err == REDIS_ERR_IO)
        << "expected EOF, got err=" << bad->err << " " << bad->errstr;

    // The other connection is unaffected.
    Reply get = Command(other.get(), "GET survivor");
    ASSERT_TRUE(get) << other->errstr;
    EXPECT_EQ(ReplyText(get.get()), "string \"yes\"");
  }
}

TEST_F(HiredisTest, CommandErrorsKeepTheConnectionUsable) {
  Reply unknown = Command(c_.get(), "NOSUCH a b");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(ReplyText(unknown.get()),
            "error ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
  Reply arity = Command(c_.get(), "GET");
  ASSERT_TRUE(arity);
  EXPECT_EQ(ReplyText(arity.get()), "error ERR wrong number of arguments for 'get' command");
  Reply ping = Command(c_.get(), "PING");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ReplyText(ping.get()), "status PONG");
}

TEST_F(HiredisTest, SeedCartScenarioExactReplies) {
  Reply empty = Command(c_.get(), "VGET cart");
  ExpectVersioned(empty.get(), 0, {});

  struct Step {
    int given;
    const char* value;
    long long version;
    std::vector<std::string> siblings;
  };
  const std::vector<Step> steps = {
      {0, "milk", 1, {"milk"}},
      {0, "eggs", 2, {"milk", "eggs"}},
      {1, "milk flour", 3, {"eggs", "milk flour"}},
      {2, "eggs milk ham", 4, {"milk flour", "eggs milk ham"}},
      {3, "milk flour eggs bacon", 5, {"eggs milk ham", "milk flour eggs bacon"}},
  };
  for (const auto& s : steps) {
    SCOPED_TRACE(std::string("VPUT cart ") + std::to_string(s.given) + " " + s.value);
    // %s interpolates one argument even when it contains spaces.
    Reply r = Command(c_.get(), "VPUT cart %d %s", s.given, s.value);
    ExpectVersioned(r.get(), s.version, s.siblings);
  }
  Reply final_state = Command(c_.get(), "VGET cart");
  ExpectVersioned(final_state.get(), 5, {"eggs milk ham", "milk flour eggs bacon"});
  Reply newest = Command(c_.get(), "GET cart");
  ASSERT_TRUE(newest);
  EXPECT_EQ(ReplyText(newest.get()), "string \"milk flour eggs bacon\"");
}

TEST_F(HiredisTest, SeedCartScenarioPipelined) {
  const char* values[] = {"milk", "eggs", "milk flour", "eggs milk ham", "milk flour eggs bacon"};
  const int given[] = {0, 0, 1, 2, 3};
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(redisAppendCommand(c_.get(), "VPUT cart %d %s", given[i], values[i]), REDIS_OK);
  }
  for (int i = 0; i < 5; ++i) {
    Reply r = GetReply(c_.get());
    ASSERT_TRUE(r) << c_->errstr;
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << ReplyText(r.get());
    ASSERT_EQ(r->elements, 2u);
    EXPECT_EQ(r->element[0]->integer, i + 1);
  }
}

}  // namespace
