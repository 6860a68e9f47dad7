// Black-box tests through hiredis's asynchronous API on a libuv loop (the
// libuv adapter, <hiredis/adapters/libuv.h>): the server binary named by
// $CAUSALKV_SERVER is started on a free port with a fresh temporary data
// directory for every test and stopped with SIGTERM (exit code 0 expected).
//
// hiredis 0.14 (Debian) speaks RESP2 only, so these tests are RESP2.
// Every loop run is bounded by a deadline; replies are recorded in the
// callbacks and compared after the loop, so a missing callback shows up as a
// count mismatch rather than a hang. The server process gets
// PR_SET_PDEATHSIG so it dies with this process even on a ctest timeout.

#include <gtest/gtest.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = 15s;
constexpr auto kStopTimeout = 15s;
constexpr auto kLoopTimeout = 20s;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// One reply as text: `string "x"`, `status OK`, `error ERR ...`,
// `integer 1`, `nil`, `[a, b]`; "(no reply)" when the callback got none.
std::string ReplyText(const redisReply* r) {
  if (r == nullptr) return "(no reply)";
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

std::string Str(const std::string& s) { return "string \"" + s + "\""; }
std::string Int(long long v) { return "integer " + std::to_string(v); }
// The VGET/VPUT reply [version, [values...]] as ReplyText prints it.
std::string Versioned(long long version, const std::vector<std::string>& values) {
  std::string s = "[" + Int(version) + ", [";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + Str(values[i]);
  return s + "]]";
}

// The server under test (the same approach as hiredis_test.cc), with extra
// command-line arguments and readiness that accepts -NOAUTH.
class Server {
 public:
  ~Server() {
    Kill();
    RemoveDir();
  }

  std::string Start(std::vector<std::string> extra = {}) {
    const char* bin = std::getenv("CAUSALKV_SERVER");
    if (bin == nullptr || *bin == '\0') return "CAUSALKV_SERVER is not set (run through ctest)";
    if (access(bin, X_OK) != 0) return std::string("CAUSALKV_SERVER=") + bin + " is not executable";
    char tmpl[] = "/tmp/causalkv-hiredis-async-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    base_ = tmpl;
    dir_ = base_ + "/data";
    std::filesystem::create_directory(dir_);
    log_ = base_ + "/server.log";
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreePort();
      Spawn(bin, extra);
      if (WaitReady()) return "";
      Kill();
    }
    return "server did not become ready; log:\n" + LogTail();
  }

  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    auto deadline = Clock::now() + kStopTimeout;
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    Kill();
    return -1;
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
      base_.clear();
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

 private:
  void Spawn(const char* bin, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {bin, "--port", std::to_string(port_), "--dir", dir_,
                                     "--bind", "127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      execv(bin, argv.data());
      _exit(127);
    }
  }

  bool WaitReady() {
    auto deadline = Clock::now() + kReadyTimeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeval{1, 0});
      if (c != nullptr && !c->err) {
        redisSetTimeout(c, timeval{2, 0});
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        std::string text = ReplyText(r);
        if (r != nullptr) freeReplyObject(r);
        redisFree(c);
        if (text == "status PONG" || text.rfind("error NOAUTH", 0) == 0) return true;
      } else if (c != nullptr) {
        redisFree(c);
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  pid_t pid_ = -1;
  int port_ = -1;
  std::string base_, dir_, log_;
};

// A libuv loop with a 10 ms heartbeat while running, so every run is
// bounded by its deadline even when no I/O arrives.
class Loop {
 public:
  Loop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop_) != 0) {
      // A handle is still open (a test failed mid-way): close it too.
      uv_walk(&loop_, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); },
              nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    }
  }
  uv_loop_t* get() { return &loop_; }
  void RunNoWait() { uv_run(&loop_, UV_RUN_NOWAIT); }

  // Runs the loop until done() or the deadline; returns done().
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kLoopTimeout) {
    auto deadline = Clock::now() + timeout;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 10, 10);
    while (!done() && Clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return done();
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
};

// One hiredis async connection attached to the loop. Commands take a
// std::function callback; the trampoline owns and frees it.
class AsyncClient {
 public:
  using Callback = std::function<void(redisReply*)>;

  AsyncClient(Loop& loop, int port) : loop_(loop) {
    ac_ = redisAsyncConnect("127.0.0.1", port);
    if (ac_ == nullptr || ac_->err) {
      error_ = ac_ ? ac_->errstr : "out of memory";
      return;
    }
    ac_->data = this;
    if (redisLibuvAttach(ac_, loop.get()) != REDIS_OK) {
      error_ = "redisLibuvAttach failed";
      return;
    }
    redisAsyncSetConnectCallback(ac_, &AsyncClient::OnConnect);
    redisAsyncSetDisconnectCallback(ac_, &AsyncClient::OnDisconnect);
  }

  ~AsyncClient() {
    if (ac_ != nullptr && !disconnected_) {
      redisAsyncFree(ac_);  // closes the adapter's poll handle
      loop_.RunNoWait();      // ... and lets libuv finish closing it
    }
  }

  const std::string& error() const { return error_; }
  bool connected() const { return connect_status_ == REDIS_OK; }
  int connect_status() const { return connect_status_; }
  bool disconnected() const { return disconnected_; }
  int disconnect_status() const { return disconnect_status_; }
  redisAsyncContext* ctx() { return ac_; }

  // Sends one command; returns false if hiredis refused to queue it.
  bool Command(Callback cb, const char* fmt, ...) {
    if (ac_ == nullptr || disconnected_) return false;
    auto* owned = new Callback(std::move(cb));
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(ac_, &AsyncClient::Trampoline, owned, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
      delete owned;
      return false;
    }
    return true;
  }

  // Sends one command and records its reply text into *out (and counts).
  bool Record(std::vector<std::string>* out, const char* fmt, ...) {
    if (ac_ == nullptr || disconnected_) return false;
    auto* owned = new Callback([out](redisReply* r) { out->push_back(ReplyText(r)); });
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(ac_, &AsyncClient::Trampoline, owned, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
      delete owned;
      return false;
    }
    return true;
  }

  // Clean disconnect: hiredis waits for the pending replies, then closes.
  void Disconnect() {
    if (ac_ != nullptr && !disconnected_) redisAsyncDisconnect(ac_);
  }

 private:
  static void Trampoline(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<Callback> cb(static_cast<Callback*>(privdata));
    // redisAsyncFree (TearDown after a failed test) flushes the pending
    // callbacks with no reply; their captures may be gone by then.
    if (ac->c.flags & REDIS_FREEING) return;
    (*cb)(static_cast<redisReply*>(reply));
  }
  static void OnConnect(const redisAsyncContext* ac, int status) {
    static_cast<AsyncClient*>(ac->data)->connect_status_ = status;
  }
  static void OnDisconnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<AsyncClient*>(ac->data);
    self->disconnected_ = true;  // hiredis frees the context after this returns
    self->disconnect_status_ = status;
  }

  Loop& loop_;
  redisAsyncContext* ac_ = nullptr;
  std::string error_;
  int connect_status_ = -1000;
  bool disconnected_ = false;
  int disconnect_status_ = -1000;
};

class HiredisAsyncTest : public ::testing::Test {
 protected:
  virtual std::vector<std::string> ServerArgs() { return {}; }

  void SetUp() override {
    std::string err = server_.Start(ServerArgs());
    ASSERT_EQ(err, "") << "could not start the server";
    started_ = true;
  }

  void TearDown() override {
    clients_.clear();
    if (started_) {
      int code = server_.Stop();
      EXPECT_EQ(code, 0) << "server exit code after SIGTERM; log:\n" << server_.LogTail();
    }
  }

  // A connected client: the first PING's reply proves the connection.
  AsyncClient* Connect() {
    clients_.push_back(std::make_unique<AsyncClient>(loop_, server_.port()));
    AsyncClient* c = clients_.back().get();
    EXPECT_EQ(c->error(), "");
    if (!c->error().empty()) return c;
    std::vector<std::string> pong;
    EXPECT_TRUE(c->Record(&pong, "PING"));
    EXPECT_TRUE(loop_.RunUntil([&] { return !pong.empty(); })) << "no reply to the first PING";
    EXPECT_TRUE(c->connected()) << "connect callback status " << c->connect_status();
    EXPECT_EQ(pong, std::vector<std::string>{"status PONG"});
    return c;
  }

  // Sends the commands (each a format + no args) and waits for all replies.
  std::vector<std::string> RunAll(AsyncClient* c, const std::vector<std::string>& commands) {
    std::vector<std::string> got;
    for (const auto& cmd : commands) EXPECT_TRUE(c->Record(&got, cmd.c_str())) << cmd;
    EXPECT_TRUE(loop_.RunUntil([&] { return got.size() == commands.size(); }))
        << got.size() << " of " << commands.size() << " callbacks fired";
    return got;
  }

  // Disconnects cleanly and checks the disconnect callback's status.
  void DisconnectCleanly(AsyncClient* c) {
    c->Disconnect();
    EXPECT_TRUE(loop_.RunUntil([&] { return c->disconnected(); })) << "no disconnect callback";
    EXPECT_EQ(c->disconnect_status(), REDIS_OK) << "disconnect was not clean";
  }

  Server server_;
  bool started_ = false;
  Loop loop_;
  std::vector<std::unique_ptr<AsyncClient>> clients_;
};

// The seed scenario (DDIA figure 5-13) with two async clients on one loop:
// each writes only after the other's reply arrived, and each sends the
// version of its own last reply, as in the figure.
TEST_F(HiredisAsyncTest, SeedCartScenarioTwoClientsExactReplies) {
  AsyncClient* c1 = Connect();
  AsyncClient* c2 = Connect();
  ASSERT_TRUE(c1->connected() && c2->connected());

  struct Step {
    AsyncClient* client;
    const char* value;
    std::string expected;
  };
  const std::vector<Step> steps = {
      {c1, "milk", Versioned(1, {"milk"})},
      {c2, "eggs", Versioned(2, {"milk", "eggs"})},
      {c1, "milk flour", Versioned(3, {"eggs", "milk flour"})},
      {c2, "eggs milk ham", Versioned(4, {"milk flour", "eggs milk ham"})},
      {c1, "milk flour eggs bacon", Versioned(5, {"eggs milk ham", "milk flour eggs bacon"})},
  };
  std::vector<std::string> got;
  long long last_version[2] = {0, 0};  // per client: the version of its last reply
  std::function<void(size_t)> send_step = [&](size_t i) {
    if (i == steps.size()) return;
    const Step& s = steps[i];
    int who = s.client == c1 ? 0 : 1;
    bool queued = s.client->Command(
        [&, i, who](redisReply* r) {
          got.push_back(ReplyText(r));
          if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_INTEGER) {
            last_version[who] = r->element[0]->integer;
          }
          send_step(i + 1);  // the next write is sent from inside this callback
        },
        "VPUT cart %lld %s", last_version[who], s.value);
    EXPECT_TRUE(queued);
  };
  send_step(0);
  ASSERT_TRUE(loop_.RunUntil([&] { return got.size() == steps.size(); }))
      << got.size() << " of " << steps.size() << " replies";
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(got[i], steps[i].expected) << "step " << i + 1 << ": VPUT cart ... " << steps[i].value;
  }

  EXPECT_EQ(RunAll(c2, {"VGET cart", "VGET cart WITHVERSIONS", "GET cart"}),
            (std::vector<std::string>{
                Versioned(5, {"eggs milk ham", "milk flour eggs bacon"}),
                "[" + Int(5) + ", [[" + Int(4) + ", " + Str("eggs milk ham") + "], [" + Int(5) + ", " +
                    Str("milk flour eggs bacon") + "]]]",
                Str("milk flour eggs bacon")}));
  // A reader merges both siblings and writes the merge with the version it read.
  std::vector<std::string> merged;
  ASSERT_TRUE(c2->Record(&merged, "VPUT cart %d %s", 5, "milk flour eggs bacon ham"));
  ASSERT_TRUE(loop_.RunUntil([&] { return merged.size() == 1; }));
  EXPECT_EQ(merged[0], Versioned(6, {"milk flour eggs bacon ham"}));

  DisconnectCleanly(c1);
  DisconnectCleanly(c2);
}

// The same scenario sent in one go without waiting (pipelined): the replies
// arrive in command order with the same exact values.
TEST_F(HiredisAsyncTest, SeedCartScenarioPipelined) {
  AsyncClient* c = Connect();
  ASSERT_TRUE(c->connected());
  std::vector<std::string> got;
  ASSERT_TRUE(c->Record(&got, "VGET cart"));
  ASSERT_TRUE(c->Record(&got, "VPUT cart 0 %s", "milk"));
  ASSERT_TRUE(c->Record(&got, "VPUT cart 0 %s", "eggs"));
  ASSERT_TRUE(c->Record(&got, "VPUT cart 1 %s", "milk flour"));
  ASSERT_TRUE(c->Record(&got, "VPUT cart 2 %s", "eggs milk ham"));
  ASSERT_TRUE(c->Record(&got, "VPUT cart 3 %s", "milk flour eggs bacon"));
  c->Disconnect();  // pending replies are still delivered before the close
  ASSERT_TRUE(loop_.RunUntil([&] { return c->disconnected(); }));
  EXPECT_EQ(c->disconnect_status(), REDIS_OK);
  EXPECT_EQ(got, (std::vector<std::string>{
                     Versioned(0, {}),
                     Versioned(1, {"milk"}),
                     Versioned(2, {"milk", "eggs"}),
                     Versioned(3, {"eggs", "milk flour"}),
                     Versioned(4, {"milk flour", "eggs milk ham"}),
                     Versioned(5, {"eggs milk ham", "milk flour eggs bacon"}),
                 }));
}

// 1,000 commands issued without waiting; every callback must fire, in order,
// with the right reply; then a clean disconnect.
TEST_F(HiredisAsyncTest, PipelinedBurstOf1000Commands) {
  AsyncClient* c = Connect();
  ASSERT_TRUE(c->connected());
  constexpr int kGroups = 250;  // 4 commands each
  std::vector<std::string> expected;
  std::vector<std::string> got;
  std::vector<int> order;
  auto record = [&](int index) {
    return [&, index](redisReply* r) {
      order.push_back(index);
      got.push_back(ReplyText(r));
    };
  };
  int index = 0;
  for (int i = 0; i < kGroups; ++i) {
    ASSERT_TRUE(c->Command(record(index++), "SET burst:%d value:%d", i, i));
    expected.push_back("status OK");
    ASSERT_TRUE(c->Command(record(index++), "GET burst:%d", i));
    expected.push_back(Str("value:" + std::to_string(i)));
    ASSERT_TRUE(c->Command(record(index++), "INCR burst:counter"));
    expected.push_back(Int(i + 1));
    ASSERT_TRUE(c->Command(record(index++), "VPUT burst:v:%d 0 %s", i, ("item " + std::to_string(i)).c_str()));
    // One counter for every stored value: SET, INCR and VPUT each take the next
    // version, and the server was fresh.
    expected.push_back(Versioned(3LL * i + 3, {"item " + std::to_string(i)}));
  }
  ASSERT_EQ(index, 1000);
  ASSERT_TRUE(loop_.RunUntil([&] { return got.size() == expected.size(); }))
      << got.size() << " of " << expected.size() << " callbacks fired";
  int mismatches = 0;
  for (size_t i = 0; i < expected.size() && mismatches < 10; ++i) {
    if (got[i] != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << "reply #" << i << ": got " << got[i] << ", expected " << expected[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
  for (int i = 0; i < static_cast<int>(order.size()); ++i) {
    ASSERT_EQ(order[i], i) << "callbacks fired out of order";
  }
  EXPECT_EQ(RunAll(c, {"DBSIZE", "GET burst:counter"}),
            (std::vector<std::string>{Int(2 * kGroups + 1), Str(std::to_string(kGroups))}));
  DisconnectCleanly(c);
}

// The cache workload through the async API: TTLs, GET/MGET/DEL, SELECT,
// SCAN iteration driven from the callbacks, and a pipeline.
TEST_F(HiredisAsyncTest, CacheWorkload) {
  AsyncClient* c = Connect();
  ASSERT_TRUE(c->connected());
  EXPECT_EQ(RunAll(c, {"SELECT 2", "SET user:1 alice EX 100", "SET user:2 bob PX 100000",
                       "TTL user:1", "GET user:1", "GET user:9", "MGET user:1 user:9 user:2",
                       "SET short x PX 100", "DEL user:2 user:9", "MGET user:1 user:2"}),
            (std::vector<std::string>{
                "status OK", "status OK", "status OK", Int(100), Str("alice"), "nil",
                "[" + Str("alice") + ", nil, " + Str("bob") + "]", "status OK", Int(1),
                "[" + Str("alice") + ", nil]"}));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(RunAll(c, {"GET short", "TTL short", "SELECT 0", "GET user:1"}),
            (std::vector<std::string>{"nil", Int(-2), "status OK", "nil"}));

  // SCAN iteration: each reply's callback sends the next SCAN with its cursor.
  std::vector<std::string> setup;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(c->Record(&setup, "SET scan:%d x", i));
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c->Record(&setup, "SET other:%d x", i));
  ASSERT_TRUE(loop_.RunUntil([&] { return setup.size() == 230; }));
  std::vector<std::string> keys;
  int rounds = 0;
  bool finished = false;
  std::string failure;
  std::function<void(const std::string&)> scan = [&](const std::string& cursor) {
    bool queued = c->Command(
        [&](redisReply* r) {
          ++rounds;
          if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
              r->element[0]->type != REDIS_REPLY_STRING ||
              r->element[1]->type != REDIS_REPLY_ARRAY) {
            failure = "bad SCAN reply: " + ReplyText(r);
            finished = true;
            return;
          }
          for (size_t i = 0; i < r->element[1]->elements; ++i) {
            const redisReply* k = r->element[1]->element[i];
            keys.emplace_back(k->str, k->len);
          }
          std::string next(r->element[0]->str, r->element[0]->len);
          if (next == "0" || rounds > 1000) {
            finished = true;
          } else {
            scan(next);
          }
        },
        "SCAN %s MATCH scan:* COUNT 20", cursor.c_str());
    EXPECT_TRUE(queued);
  };
  scan("0");
  ASSERT_TRUE(loop_.RunUntil([&] { return finished; }));
  EXPECT_EQ(failure, "");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<std::string> want;
  for (int i = 0; i < 200; ++i) want.push_back("scan:" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
  EXPECT_GT(rounds, 3) << "expected several SCAN round trips with COUNT 20";
  DisconnectCleanly(c);
}

// MULTI/EXEC through the async API, and a WATCH-based optimistic update that
// another client's write aborts, retried from the callbacks.
TEST_F(HiredisAsyncTest, TransactionsAndWatchRetry) {
  AsyncClient* a = Connect();
  AsyncClient* b = Connect();
  ASSERT_TRUE(a->connected() && b->connected());
  EXPECT_EQ(RunAll(a, {"MULTI", "SET tx 10", "INCRBY tx 5", "GET tx", "EXEC"}),
            (std::vector<std::string>{"status OK", "status QUEUED", "status QUEUED", "status QUEUED",
                                      "[status OK, " + Int(15) + ", " + Str("15") + "]"}));
  EXPECT_EQ(RunAll(a, {"MULTI", "SET never 1", "GET", "EXEC", "EXISTS never"}),
            (std::vector<std::string>{
                "status OK", "status QUEUED",
                "error ERR wrong number of arguments for 'get' command",
                "error EXECABORT Transaction discarded because of previous errors.", Int(0)}));

  // Optimistic update: WATCH, GET, (B writes on the first attempt), MULTI,
  // SET, EXEC; a nil EXEC means retry.
  EXPECT_EQ(RunAll(a, {"SET stock 10"}), std::vector<std::string>{"status OK"});
  std::vector<std::string> exec_results;
  std::vector<std::string> side;  // WATCH, MULTI, SET and B's INCRBY replies
  bool done = false;
  std::function<void(int)> attempt = [&](int n) {
    a->Record(&side, "WATCH stock");
    a->Command(
        [&, n](redisReply* r) {
          long long current = r && r->type == REDIS_REPLY_STRING ? std::atoll(r->str) : -1000;
          auto finish = [&, n, current] {
            a->Record(&side, "MULTI");
            a->Record(&side, "SET stock %lld", current - 1);
            a->Command(
                [&, n](redisReply* e) {
                  exec_results.push_back(ReplyText(e));
                  if (e != nullptr && e->type == REDIS_REPLY_NIL && n < 5) {
                    attempt(n + 1);
                  } else {
                    done = true;
                  }
                },
                "EXEC");
          };
          if (n == 1) {  // the concurrent write, between A's read and A's EXEC
            b->Command(
                [&, finish](redisReply* r) {
                  side.push_back(ReplyText(r));
                  finish();
                },
                "INCRBY stock 100");
          } else {
            finish();
          }
        },
        "GET stock");
  };
  attempt(1);
  ASSERT_TRUE(loop_.RunUntil([&] { return done; }));
  EXPECT_EQ(exec_results, (std::vector<std::string>{"nil", "[status OK]"}));
  EXPECT_EQ(side, (std::vector<std::string>{"status OK", Int(110), "status OK", "status QUEUED",
                                            "status OK", "status OK", "status QUEUED"}));
  EXPECT_EQ(RunAll(b, {"GET stock"}), std::vector<std::string>{Str("109")});
  DisconnectCleanly(a);
  DisconnectCleanly(b);
}

class HiredisAsyncAuthTest : public HiredisAsyncTest {
 protected:
  std::vector<std::string> ServerArgs() override { return {"--requirepass", "s3cret"}; }
};

TEST_F(HiredisAsyncAuthTest, AuthThenSelect) {
  auto* c = new AsyncClient(loop_, server_.port());
  clients_.emplace_back(c);
  ASSERT_EQ(c->error(), "");
  EXPECT_EQ(RunAll(c, {"GET k", "AUTH wrong", "AUTH s3cret", "SELECT 3", "SET k v", "GET k",
                       "SELECT 0", "GET k", "AUTH default s3cret"}),
            (std::vector<std::string>{
                "error NOAUTH Authentication required.",
                "error WRONGPASS invalid username-password pair or user is disabled.", "status OK",
                "status OK", "status OK", Str("v"), "status OK", "nil", "status OK"}));
  EXPECT_TRUE(c->connected());
  DisconnectCleanly(c);
}

}  // namespace
