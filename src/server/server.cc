#include "server.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "connection.h"

#ifndef CAUSALKV_VERSION
#define CAUSALKV_VERSION "0.0.0"
#endif

namespace causalkv::server {

void ApplyLogLevel(config::LogLevel level) {
  // Redis's four levels onto spdlog's: client errors are logged at "verbose".
  switch (level) {
    case config::LogLevel::kDebug:
      spdlog::set_level(spdlog::level::trace);
      break;
    case config::LogLevel::kVerbose:
      spdlog::set_level(spdlog::level::debug);
      break;
    case config::LogLevel::kNotice:
      spdlog::set_level(spdlog::level::info);
      break;
    case config::LogLevel::kWarning:
      spdlog::set_level(spdlog::level::warn);
      break;
    case config::LogLevel::kNothing:
      spdlog::set_level(spdlog::level::off);
      break;
  }
}

bool SetupLogging(const config::Config& config, std::string* error) {
  try {
    std::shared_ptr<spdlog::logger> logger;
    if (config.logfile.empty()) {
      logger = spdlog::stdout_logger_mt("causalkv");
    } else {
      logger = spdlog::basic_logger_mt("causalkv", config.logfile);
    }
    spdlog::set_default_logger(logger);
  } catch (const spdlog::spdlog_ex& e) {
    *error = std::string("cannot open log file: ") + e.what();
    return false;
  }
  spdlog::set_pattern("%P:M %d %b %Y %H:%M:%S.%e %L %v");
  spdlog::flush_on(spdlog::level::info);
  ApplyLogLevel(config.loglevel);
  return true;
}

Server::Server(config::Config config) {
  uv_loop_init(&loop_);
  state_.config = std::move(config);
  state_.pid = static_cast<int>(getpid());
  state_.start_time_ms = command::WallClockMs();
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) state_.executable.assign(exe, static_cast<size_t>(n));
  std::random_device rd;
  const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  store_ = std::make_unique<store::Store>(state_.config.databases, seed);
  dispatcher_ = std::make_unique<command::Dispatcher>(&state_, store_.get());
  state_.on_config_changed = [this](const std::string& option) { ApplyConfigChange(option); };
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, OnPrepare);
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  const uint64_t period_ms = 1000 / std::max(1, state_.config.hz);
  uv_timer_start(&timer_, OnTimer, period_ms, period_ms);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_signal_init(&loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
}

Server::~Server() {
  // The loop has no live handle left once Run() returns.
  uv_loop_close(&loop_);
}

resp::ParserLimits Server::parser_limits() const {
  resp::ParserLimits limits;
  limits.max_bulk_len = state_.config.proto_max_bulk_len;
  return limits;
}

void Server::ApplyConfigChange(const std::string& option) {
  if (option == "loglevel") ApplyLogLevel(state_.config.loglevel);
  if (option == "hz") {
    const uint64_t period_ms = 1000 / std::max(1, state_.config.hz);
    uv_timer_start(&timer_, OnTimer, period_ms, period_ms);
  }
  // Redis reads the limit per request: existing connections see it too.
  if (option == "proto-max-bulk-len") {
    for (auto& [id, conn] : connections_) conn->parser_.set_limits(parser_limits());
  }
}

bool Server::SetupVersionCounter() {
  const std::string& dir = state_.config.dir;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    spdlog::critical("cannot create data directory '{}': {}", dir, std::strerror(errno));
    return false;
  }
  hwm_ = std::make_unique<persist::HighWaterMark>(dir);
  uint64_t mark = 0;
  std::string error;
  if (!hwm_->Load(&mark, &error)) {
    spdlog::critical("{}; refusing to start: versions could repeat", error);
    return false;
  }
  const uint64_t reserve = state_.config.version_reserve;
  // Everything up to the saved mark may have been issued before a crash:
  // resume above it, and reserve the next range before serving anyone.
  if (!hwm_->Save(mark + reserve, &error)) {
    spdlog::critical("cannot persist the version high-water mark: {}", error);
    return false;
  }
  store_->counter().Init(
      mark, mark + reserve, reserve,
      [this](uint64_t m) {
        std::string err;
        if (hwm_->Save(m, &err)) return true;
        spdlog::warn("cannot persist the version high-water mark: {}", err);
        return false;
      },
      [this](uint64_t m) { RaiseMarkAsync(m); });
  spdlog::info("version counter resumes after {} (high-water mark {}, file {})", mark,
               mark + reserve, hwm_->path());
  return true;
}

namespace {
struct MarkWork {
  uv_work_t req;
  Server* server;
  persist::HighWaterMark* hwm;
  store::VersionCounter* counter;
  uint64_t mark;
  bool ok;
  std::string error;
};
}  // namespace

void Server::RaiseMarkAsync(uint64_t mark) {
  auto* work = new MarkWork{{}, this, hwm_.get(), &store_->counter(), mark, false, {}};
  work->req.data = work;
  const int rc = uv_queue_work(
      &loop_, &work->req,
      [](uv_work_t* req) {
        auto* w = static_cast<MarkWork*>(req->data);
        w->ok = w->hwm->Save(w->mark, &w->error);
      },
      [](uv_work_t* req, int) {
        auto* w = static_cast<MarkWork*>(req->data);
        if (w->ok) {
          w->counter->RaiseLimit(w->mark);
        } else {
          spdlog::warn("cannot persist the version high-water mark: {}", w->error);
          w->counter->AsyncRaiseFailed();
        }
        delete w;
      });
  if (rc != 0) {
    spdlog::warn("uv_queue_work failed: {}", uv_err_name(rc));
    store_->counter().AsyncRaiseFailed();
    delete work;
  }
}

bool Server::Listen() {
  const int port = state_.config.port;
  state_.tcp_port = port;
  if (port == 0) return true;
  for (std::string addr : state_.config.bind) {
    const bool optional = !addr.empty() && addr[0] == '-';
    if (optional) addr.erase(0, 1);
    if (addr == "*") addr = "0.0.0.0";
    if (addr == "::*") addr = "::";
    sockaddr_storage sa{};
    const bool v6 = addr.find(':') != std::string::npos;
    int rc = v6 ? uv_ip6_addr(addr.c_str(), port, reinterpret_cast<sockaddr_in6*>(&sa))
                : uv_ip4_addr(addr.c_str(), port, reinterpret_cast<sockaddr_in*>(&sa));
    if (rc != 0) {
      spdlog::critical("invalid bind address '{}': {}", addr, uv_err_name(rc));
      return false;
    }
    auto tcp = std::make_unique<uv_tcp_t>();
    uv_tcp_init(&loop_, tcp.get());
    tcp->data = this;
    rc = uv_tcp_bind(tcp.get(), reinterpret_cast<sockaddr*>(&sa), v6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp.get()), state_.config.tcp_backlog,
                                OnConnection);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp.release()),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      if (optional && (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT)) {
        spdlog::warn("skipping optional bind address {}: {}", addr, uv_err_name(rc));
        continue;
      }
      spdlog::critical("could not listen on {}:{}: {}", addr, port, uv_err_name(rc));
      return false;
    }
    spdlog::info("listening on {}:{}", addr, port);
    listeners_.push_back(std::move(tcp));
  }
  if (listeners_.empty()) {
    spdlog::critical("no address to listen on");
    return false;
  }
  return true;
}

namespace {
std::string FormatAddr(const sockaddr_storage& sa) {
  char ip[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    uv_ip6_name(in6, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    return std::string("[") + ip + "]:" + std::to_string(port);
  }
  const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
  uv_ip4_name(in, ip, sizeof ip);
  port = ntohs(in->sin_port);
  return std::string(ip) + ":" + std::to_string(port);
}
}  // namespace

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) {
    spdlog::warn("accept failed: {}", uv_err_name(status));
    return;
  }
  auto* conn = new Connection(self, self->state_.next_client_id++);
  uv_tcp_init(&self->loop_, conn->tcp());
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(conn->tcp())) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(conn->tcp()),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  if (self->shutting_down_) {
    conn->Close();
    return;
  }
  uv_tcp_nodelay(conn->tcp(), 1);
  command::ClientState& client = conn->client();
  client.authenticated = self->state_.config.requirepass.empty();
  client.created_ms = command::WallClockMs();
  client.last_interaction_ms = client.created_ms;
  sockaddr_storage sa{};
  int len = sizeof sa;
  if (uv_tcp_getpeername(conn->tcp(), reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    client.addr = FormatAddr(sa);
  len = sizeof sa;
  if (uv_tcp_getsockname(conn->tcp(), reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    client.laddr = FormatAddr(sa);
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(conn->tcp()), &fd) == 0) client.fd = fd;
  self->state_.clients.emplace(client.id, &client);
  self->connections_.emplace(client.id, conn);
  ++self->state_.stats.total_connections_received;
  spdlog::debug("accepted {} (client {})", client.addr, client.id);
  if (!conn->Start()) conn->Close();
}

void Server::OnConnectionClosed(Connection* conn) {
  state_.clients.erase(conn->client().id);
  connections_.erase(conn->client().id);
  auto it = std::find(pending_writes_.begin(), pending_writes_.end(), conn);
  if (it != pending_writes_.end()) pending_writes_.erase(it);
  MaybeFinishShutdown();
}

void Server::FlushPending() {
  // A flush can list a connection again (it resumed reading), so swap first.
  // Connections closed meanwhile are only freed in the loop's close phase,
  // after this callback, and Flush() skips them.
  std::vector<Connection*> batch;
  batch.swap(pending_writes_);
  for (Connection* conn : batch) conn->Flush();
}

void Server::OnPrepare(uv_prepare_t* handle) {
  static_cast<Server*>(handle->data)->FlushPending();
}

void Server::Cron() {
  store_->set_now_ms(command::WallClockMs());
  const int64_t period_us = 1000000 / std::max(1, state_.config.hz);
  // A quarter of the period at most, as Redis's slow expire cycle.
  store_->ActiveExpireCycle(period_us / 4);
  store_->RehashCycle(1000);
}

void Server::OnTimer(uv_timer_t* handle) { static_cast<Server*>(handle->data)->Cron(); }

void Server::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  spdlog::info("received {}, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  self->RequestShutdown();
}

void Server::RequestShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  state_.shutdown_requested = true;
  CloseEverything();
}

void Server::CloseEverything() {
  // Stop accepting; let every connection finish sending the replies it
  // already has, then close. The loop ends when the last handle is closed.
  for (auto& tcp : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp.release()),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  }
  listeners_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  // A client that never reads its replies must not hold the shutdown up.
  uv_timer_stop(&timer_);
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        spdlog::warn("closing {} clients that did not read their replies",
                     self->connections_.size());
        std::vector<Connection*> all;
        for (auto& [id, conn] : self->connections_) all.push_back(conn);
        for (Connection* conn : all) conn->Close();
      },
      kShutdownGraceMs, 0);
  std::vector<Connection*> all;
  for (auto& [id, conn] : connections_) all.push_back(conn);
  for (Connection* conn : all) conn->CloseAfterFlush();
  MaybeFinishShutdown();
}

void Server::MaybeFinishShutdown() {
  if (!shutting_down_ || !connections_.empty() || finished_) return;
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
}

int Server::Run() {
  if (!SetupVersionCounter()) return 1;
  if (!Listen()) {
    CloseEverything();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return 1;
  }
  spdlog::info("causalkv {} ready: port {}, pid {}, config '{}', {} databases",
               CAUSALKV_VERSION, state_.tcp_port, state_.pid, state_.config.config_file,
               state_.config.databases);
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("causalkv is now ready to exit, bye bye...");
  return exit_code_;
}

}  // namespace causalkv::server
