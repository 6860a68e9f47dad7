// PeerLink against a real redis-server (from PATH), started by each test on
// a free port bound to 127.0.0.1 with a password, on an in-process libuv
// loop. The link's handshake is {"AUTH", secret}, which stands in for the
// cluster's own PEER.HELLO. Every loop run is bounded by a deadline; every
// redis-server gets PR_SET_PDEATHSIG and is killed by its owner's destructor;
// TearDown closes every link and checks that uv_loop_close() succeeds.
#include "causalkv/cluster/peer_link.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace causalkv::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kSecret[] = "s3cret";

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

// `status OK`, `error ERR ...`, `string "x"`, `integer 1`, `nil`, `[a, b]`;
// "(null)" for no reply.
std::string ReplyText(const redisReply* r) {
  if (r == nullptr) return "(null)";
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

// The exact RESP size of a command, as hiredis formats it.
uint64_t FormattedSize(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  int len = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  redisFreeCommand(cmd);
  return static_cast<uint64_t>(len);
}

// One redis-server process on 127.0.0.1 with a password.
class RedisProcess {
 public:
  ~RedisProcess() {
    Kill();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Starts on `port` and waits until it answers; "" or why not.
  std::string Start(int port) {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/causalkv-peer-link-XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
      dir_ = tmpl;
    }
    port_ = port;
    std::string log = dir_ + "/redis.log";
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port), "--bind",
                                     "127.0.0.1", "--requirepass", kSecret, "--save", "",
                                     "--appendonly", "no", "--dir", dir_, "--daemonize", "no"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execvp("redis-server", argv.data());
      _exit(127);
    }
    auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start (port " + std::to_string(port) + ")";
      }
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{1, 0});
      bool ready = false;
      if (c != nullptr && !c->err) {
        redisSetTimeout(c, timeval{2, 0});
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ready = ReplyText(r).rfind("error NOAUTH", 0) == 0;
        if (r != nullptr) freeReplyObject(r);
      }
      if (c != nullptr) redisFree(c);
      if (ready) return "";
      std::this_thread::sleep_for(20ms);
    }
    Kill();
    return "redis-server did not answer within 10 s";
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);  // works on a stopped process too
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void Pause() { kill(pid_, SIGSTOP); }
  void Resume() { kill(pid_, SIGCONT); }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::string dir_;
};

// A libuv loop with a 10 ms heartbeat while running, so every run is
// bounded by its deadline even when nothing happens.
class Loop {
 public:
  Loop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~Loop() {
    if (!shut_down_) Shutdown();
  }
  uv_loop_t* get() { return &loop_; }

  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    if (shut_down_) return done();
    auto deadline = Clock::now() + timeout;
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 10, 10);
    while (!done() && Clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return done();
  }
  // Runs for `duration` whatever happens.
  void RunFor(std::chrono::milliseconds duration) {
    RunUntil([] { return false; }, duration);
  }

  // Closes the heartbeat, lets pending closes finish and returns
  // uv_loop_close()'s result (0 if already shut down). A non-zero result means a handle was left
  // open; those are then closed too, so one failed test does not leak.
  int Shutdown() {
    if (shut_down_) return 0;
    shut_down_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    for (int i = 0; i < 10; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) {
      uv_walk(&loop_, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); },
              nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    }
    return rc;
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
  bool shut_down_ = false;
};

// Captures what the links log, at debug level, while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("peer-link-test", sink);
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  // Lines that start with `level` and contain `text`.
  int Count(const std::string& level, const std::string& text) const {
    std::istringstream in(out_.str());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(level + " ", 0) == 0 && line.find(text) != std::string::npos) ++n;
    }
    return n;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Replies as text, recorded through shared ownership: when a test fails
// early, TearDown's Close() still calls the pending callbacks, after the test
// body's locals are gone.
using Replies = std::shared_ptr<std::vector<std::string>>;
Replies NewReplies() { return std::make_shared<std::vector<std::string>>(); }
PeerLink::ReplyCallback Into(const Replies& replies) {
  return [replies](const redisReply* r) { replies->push_back(ReplyText(r)); };
}

class PeerLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err = "no attempt";
    for (int attempt = 0; attempt < 3 && !err.empty(); ++attempt) err = server_.Start(FreePort());
    ASSERT_EQ(err, "");
  }

  void TearDown() override {
    for (auto& link : links_) link->Close();
    bool closed = loop_.RunUntil([&] {
      for (auto& link : links_) {
        if (!link->closed()) return false;
      }
      return true;
    }, 5s);
    EXPECT_TRUE(closed) << "a link did not finish closing";
    for (auto& link : links_) {
      if (!link->closed()) (void)link.release();  // destroying it would abort
    }
    links_.clear();
    EXPECT_EQ(loop_.Shutdown(), 0) << "a libuv handle was left open";
  }

  PeerLinkOptions Options(const std::string& secret = kSecret) {
    PeerLinkOptions o;
    o.name = "test";
    o.host = "127.0.0.1";
    o.port = server_.port();
    o.handshake = {"AUTH", secret};
    o.request_timeout_ms = 200;
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 200;
    o.max_pending = 1000;
    return o;
  }

  PeerLink* NewLink(PeerLinkOptions options) {
    links_.push_back(std::make_unique<PeerLink>(loop_.get(), std::move(options)));
    return links_.back().get();
  }

  PeerLink* StartedLink(PeerLinkOptions options) {
    PeerLink* link = NewLink(std::move(options));
    link->Start();
    EXPECT_TRUE(loop_.RunUntil([&] { return link->is_up(); })) << "state " << link->state_name();
    return link;
  }

  // Sends one command; "(not sent)" if Send refused, else the reply text.
  std::string Call(PeerLink* link, const std::vector<std::string>& argv) {
    std::vector<std::string_view> views(argv.begin(), argv.end());
    Replies replies = NewReplies();
    if (!link->Send(views, Into(replies))) return "(not sent)";
    EXPECT_TRUE(loop_.RunUntil([&] { return !replies->empty(); })) << "no callback";
    return replies->empty() ? "(no callback)" : replies->front();
  }

  RedisProcess server_;
  Loop loop_;
  std::vector<std::unique_ptr<PeerLink>> links_;
};

std::vector<std::string_view> Args(const std::vector<std::string>& argv) {
  return {argv.begin(), argv.end()};
}

TEST_F(PeerLinkTest, ComesUpAndAnswersInOrder) {
  int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  PeerLink* link = NewLink(Options());
  EXPECT_STREQ(link->state_name(), "down");
  EXPECT_EQ(link->last_reply_ms(), 0);
  link->Start();
  ASSERT_TRUE(loop_.RunUntil([&] { return link->is_up(); }));
  EXPECT_STREQ(link->state_name(), "up");
  EXPECT_EQ(link->connects(), 1u);

  // Binary-safe arguments: NUL, CR LF and an empty argument.
  const std::string value("a\0b\r\n$3\r\n", 10);
  const std::vector<std::vector<std::string>> commands = {
      {"PING"}, {"SET", "k\r\n", value}, {"GET", "k\r\n"}, {"ECHO", ""}, {"NOSUCHCOMMAND"}};
  Replies replies = NewReplies();
  for (const auto& argv : commands) ASSERT_TRUE(link->Send(Args(argv), Into(replies)));
  EXPECT_EQ(link->pending(), commands.size());
  ASSERT_TRUE(loop_.RunUntil([&] { return replies->size() == commands.size(); }));
  const std::vector<std::string>& got = *replies;
  EXPECT_EQ(got[0], "status PONG");
  EXPECT_EQ(got[1], "status OK");
  EXPECT_EQ(got[2], "string \"" + value + "\"");
  EXPECT_EQ(got[3], "string \"\"");
  EXPECT_EQ(got[4].rfind("error ERR unknown command", 0), 0u) << got[4];

  uint64_t sent = FormattedSize({"AUTH", kSecret});
  for (const auto& argv : commands) sent += FormattedSize(argv);
  EXPECT_EQ(link->bytes_sent(), sent);
  // +OK, +PONG, +OK, $10 value, $0, and the error line.
  uint64_t error_line = got[4].size() - std::string("error ").size() + 3;
  EXPECT_EQ(link->bytes_received(), 5u + 7u + 5u + (5u + 10u + 2u) + 6u + error_line);
  EXPECT_EQ(link->requests_sent(), commands.size());
  EXPECT_EQ(link->requests_timed_out(), 0u);
  EXPECT_EQ(link->pending(), 0u);
  EXPECT_EQ(link->in_flight(), 0u);
  int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  EXPECT_GE(link->last_reply_ms(), before);
  EXPECT_LE(link->last_reply_ms(), after);

  // Commands sent from inside a callback keep their order too.
  Replies chain = NewReplies();
  struct Chain {
    static void Next(PeerLink* link, Replies chain, int i) {
      EXPECT_TRUE(link->Send(Args({"ECHO", std::to_string(i)}), [=](const redisReply* r) {
        chain->push_back(ReplyText(r));
        if (r != nullptr && i < 4) Next(link, chain, i + 1);
      }));
    }
  };
  Chain::Next(link, chain, 0);
  ASSERT_TRUE(loop_.RunUntil([&] { return chain->size() == 5; }));
  EXPECT_EQ(*chain, (std::vector<std::string>{"string \"0\"", "string \"1\"", "string \"2\"",
                                             "string \"3\"", "string \"4\""}));
  EXPECT_FALSE(link->Send({}, [](const redisReply*) {})) << "an empty command is refused";

  // One encoding sent twice (a coordinator's batch to two peers).
  std::string encoded;
  PeerLink::FormatCommand(Args({"ECHO", "", "x"}), &encoded);
  EXPECT_EQ(encoded, "*3\r\n$4\r\nECHO\r\n$0\r\n\r\n$1\r\nx\r\n");
  PeerLink::FormatCommand(Args({"ECHO", "again"}), &encoded);
  EXPECT_EQ(encoded, "*2\r\n$4\r\nECHO\r\n$5\r\nagain\r\n") << "the buffer is replaced";
  const uint64_t sent_before = link->bytes_sent();
  Replies twice = NewReplies();
  ASSERT_TRUE(link->SendFormatted(encoded, Into(twice)));
  ASSERT_TRUE(link->SendFormatted(encoded, Into(twice)));
  ASSERT_TRUE(loop_.RunUntil([&] { return twice->size() == 2; }));
  EXPECT_EQ(*twice, (std::vector<std::string>{"string \"again\"", "string \"again\""}));
  EXPECT_EQ(link->bytes_sent(), sent_before + 2 * encoded.size());
  EXPECT_FALSE(link->SendFormatted("", [](const redisReply*) {})) << "an empty command is refused";
}

TEST_F(PeerLinkTest, WrongSecretStaysDownAndWarnsOnce) {
  LogCapture log;
  PeerLink* wrong = NewLink(Options("wrong"));
  wrong->Start();
  Replies refused = NewReplies();
  auto deadline = Clock::now() + 600ms;
  bool ever_up = false;
  while (Clock::now() < deadline) {
    loop_.RunFor(20ms);
    ever_up = ever_up || wrong->is_up();
    EXPECT_FALSE(wrong->Send(Args({"PING"}), Into(refused)));
  }
  EXPECT_FALSE(ever_up);
  EXPECT_TRUE(refused->empty()) << "a refused Send must not call its callback";
  EXPECT_EQ(wrong->connects(), 0u);
  EXPECT_EQ(wrong->requests_sent(), 0u);
  EXPECT_GT(wrong->last_reply_ms(), 0) << "the error reply is a reply";
  // Retried several times (backoff 20, 40, 80, 160, 200 ms), warned once.
  EXPECT_EQ(log.Count("warning", "handshake refused: WRONGPASS"), 1) << log.text();
  EXPECT_GE(log.Count("debug", "handshake refused: WRONGPASS"), 1) << log.text();

  PeerLink* right = StartedLink(Options());
  EXPECT_TRUE(right->is_up());
  EXPECT_EQ(Call(right, {"PING"}), "status PONG");
  EXPECT_EQ(log.Count("info", "link up"), 1) << log.text();
}

TEST_F(PeerLinkTest, StoppedPeerTimesOutThenRecovers) {
  PeerLink* link = StartedLink(Options());
  ASSERT_TRUE(link->is_up());
  server_.Pause();
  uv_update_time(loop_.get());
  auto sent_at = Clock::now();
  Replies first = NewReplies();
  ASSERT_TRUE(link->Send(Args({"ECHO", "first"}), Into(first)));
  ASSERT_TRUE(loop_.RunUntil([&] { return !first->empty(); }, 2s));
  auto waited = Clock::now() - sent_at;
  EXPECT_EQ(*first, std::vector<std::string>{"(null)"});
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 1s);
  EXPECT_EQ(link->requests_timed_out(), 1u);
  EXPECT_EQ(link->pending(), 0u);
  EXPECT_EQ(link->in_flight(), 1u) << "kept until its late reply arrives";
  EXPECT_TRUE(link->is_up()) << "a slow peer keeps its connection";

  server_.Resume();
  // The late reply to "first" is discarded; "second" gets its own.
  EXPECT_EQ(Call(link, {"ECHO", "second"}), "string \"second\"");
  EXPECT_EQ(link->in_flight(), 0u);
  EXPECT_EQ(link->connects(), 1u);
  EXPECT_EQ(link->requests_timed_out(), 1u);
}

TEST_F(PeerLinkTest, WedgedPeerIsDroppedAndHandshakeTimesOut) {
  LogCapture log;
  PeerLink* link = StartedLink(Options());
  ASSERT_TRUE(link->is_up());
  server_.Pause();
  Replies ping = NewReplies();
  ASSERT_TRUE(link->Send(Args({"PING"}), Into(ping)));
  // Past 4 x 200 ms with no reply the connection is dropped.
  ASSERT_TRUE(loop_.RunUntil([&] { return !link->is_up(); }, 3s));
  EXPECT_EQ(*ping, std::vector<std::string>{"(null)"}) << "called once, at the timeout";
  EXPECT_EQ(log.Count("warning", "link down: no reply in 800 ms"), 1) << log.text();
  // Reconnects reach the kernel's backlog, but the handshake gets no reply.
  bool ever_up = false;
  auto deadline = Clock::now() + 800ms;
  while (Clock::now() < deadline) {
    loop_.RunFor(20ms);
    ever_up = ever_up || link->is_up();
  }
  EXPECT_FALSE(ever_up);
  EXPECT_GE(log.Count("warning", "no reply to the handshake")
            + log.Count("debug", "no reply to the handshake"), 1) << log.text();
  server_.Resume();
  ASSERT_TRUE(loop_.RunUntil([&] { return link->is_up(); }, 5s));
  EXPECT_EQ(link->connects(), 2u);
  EXPECT_EQ(Call(link, {"PING"}), "status PONG");
}

TEST_F(PeerLinkTest, KilledAndRestartedPeerComesBackByItself) {
  PeerLink* link = StartedLink(Options());
  ASSERT_TRUE(link->is_up());
  EXPECT_EQ(Call(link, {"SET", "k", "v"}), "status OK");
  int port = server_.port();
  server_.Kill();
  ASSERT_TRUE(loop_.RunUntil([&] { return !link->is_up(); }, 3s));
  EXPECT_FALSE(link->Send(Args({"PING"}), [](const redisReply*) {}));
  loop_.RunFor(300ms);  // several refused reconnects
  EXPECT_FALSE(link->is_up());
  ASSERT_EQ(server_.Start(port), "");
  ASSERT_TRUE(loop_.RunUntil([&] { return link->is_up(); }, 5s)) << link->state_name();
  EXPECT_EQ(link->connects(), 2u);
  EXPECT_EQ(Call(link, {"GET", "k"}), "nil") << "a fresh server, without the key";
}

// A refused connect is noticed when it happens, not when the connect
// timeout fires: with a 5 s timeout the link still comes up within about
// the backoff once the peer starts listening.
TEST_F(PeerLinkTest, RefusedConnectRetriesWithoutWaitingForTimeout) {
  RedisProcess late;
  int port = FreePort();
  PeerLinkOptions options = Options();
  options.port = port;
  options.request_timeout_ms = 5000;
  PeerLink* link = NewLink(options);
  link->Start();
  loop_.RunFor(300ms);
  EXPECT_FALSE(link->is_up());
  ASSERT_EQ(late.Start(port), "");
  auto started = Clock::now();
  ASSERT_TRUE(loop_.RunUntil([&] { return link->is_up(); }, 10s));
  EXPECT_LT(Clock::now() - started, 2s);
  link->Close();
  EXPECT_TRUE(loop_.RunUntil([&] { return link->closed(); }));
}

TEST_F(PeerLinkTest, ConnectsFromTheSourceAddress) {
  PeerLinkOptions options = Options();
  options.source_address = "127.0.0.2";
  PeerLink* link = StartedLink(options);
  ASSERT_TRUE(link->is_up());
  std::string clients = Call(link, {"CLIENT", "LIST"});
  EXPECT_NE(clients.find(" addr=127.0.0.2:"), std::string::npos) << clients;
  EXPECT_EQ(clients.find(" addr=127.0.0.1:"), std::string::npos) << clients;

  PeerLink* plain = StartedLink(Options());
  std::string own = Call(plain, {"CLIENT", "INFO"});
  EXPECT_NE(own.find(" addr=127.0.0.1:"), std::string::npos) << own;
}

TEST_F(PeerLinkTest, CloseFailsEveryPendingRequestOnce) {
  // Close() right after sending: nothing has been answered yet.
  PeerLink* link = StartedLink(Options());
  std::vector<Replies> each;
  for (int i = 0; i < 5; ++i) {
    each.push_back(NewReplies());
    ASSERT_TRUE(link->Send(Args({"PING"}), Into(each.back())));
  }
  link->Close();
  for (const Replies& replies : each) EXPECT_EQ(*replies, std::vector<std::string>{"(null)"});
  EXPECT_FALSE(link->Send(Args({"PING"}), Into(each[0])));
  link->Close();  // idempotent
  EXPECT_EQ(each[0]->size(), 1u);
  EXPECT_STREQ(link->state_name(), "down");

  // Close() from inside a reply callback, with more requests behind it.
  PeerLink* inner = StartedLink(Options());
  Replies got = NewReplies();
  ASSERT_TRUE(inner->Send(Args({"ECHO", "a"}), [got, inner](const redisReply* r) {
    got->push_back(ReplyText(r));
    inner->Close();
  }));
  for (const char* v : {"b", "c"}) ASSERT_TRUE(inner->Send(Args({"ECHO", v}), Into(got)));
  ASSERT_TRUE(loop_.RunUntil([&] { return got->size() >= 3; }));
  loop_.RunFor(50ms);  // no second call
  EXPECT_EQ(*got, (std::vector<std::string>{"string \"a\"", "(null)", "(null)"}));

  // Close() while still connecting, and on a link never started.
  PeerLink* connecting = NewLink(Options());
  connecting->Start();
  connecting->Close();
  PeerLink* never = NewLink(Options());
  never->Close();

  ASSERT_TRUE(loop_.RunUntil([&] {
    return link->closed() && inner->closed() && connecting->closed() && never->closed();
  }));
  links_.clear();  // closed links may be destroyed
  EXPECT_EQ(loop_.Shutdown(), 0);
}

TEST_F(PeerLinkTest, MaxPendingBoundsRequestsInFlight) {
  PeerLinkOptions options = Options();
  options.max_pending = 4;
  options.request_timeout_ms = 300;
  PeerLink* link = StartedLink(options);
  ASSERT_TRUE(link->is_up());
  Replies replies = NewReplies();
  Replies refused = NewReplies();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(link->Send(Args({"PING"}), Into(replies)));
  EXPECT_FALSE(link->Send(Args({"PING"}), Into(refused)));
  EXPECT_EQ(link->in_flight(), 4u);
  ASSERT_TRUE(loop_.RunUntil([&] { return replies->size() == 4; }));
  EXPECT_EQ(*replies, std::vector<std::string>(4, "status PONG"));
  EXPECT_EQ(Call(link, {"PING"}), "status PONG");

  // Timed-out requests still hold their place until their late reply.
  server_.Pause();
  Replies late = NewReplies();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(link->Send(Args({"PING"}), Into(late)));
  ASSERT_TRUE(loop_.RunUntil([&] { return late->size() == 4; }, 2s));
  EXPECT_EQ(*late, std::vector<std::string>(4, "(null)"));
  EXPECT_EQ(link->pending(), 0u);
  EXPECT_EQ(link->in_flight(), 4u);
  EXPECT_TRUE(link->is_up());
  EXPECT_FALSE(link->Send(Args({"PING"}), Into(refused)));
  server_.Resume();
  ASSERT_TRUE(loop_.RunUntil([&] { return link->in_flight() == 0; }, 2s));
  EXPECT_EQ(late->size(), 4u) << "late replies are discarded";
  EXPECT_EQ(Call(link, {"PING"}), "status PONG");
  EXPECT_TRUE(refused->empty());
  EXPECT_EQ(link->connects(), 1u);
}

}  // namespace
}  // namespace causalkv::cluster
