#include "server.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "causalkv/command/persistence.h"
#include "causalkv/persist/node_identity.h"
#include "client_limits.h"
#include "connection.h"
#include "daemon.h"
#include "log_file.h"

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

namespace {
// The sink of `logfile`, kept for ReopenLogFile(); null when logging to
// standard output.
std::shared_ptr<LogFile> g_log_file;
}  // namespace

bool SetupLogging(const config::Config& config, std::string* error) {
  try {
    std::shared_ptr<spdlog::logger> logger;
    if (config.logfile.empty()) {
      logger = spdlog::stdout_logger_mt("causalkv");
    } else {
      g_log_file = std::make_shared<LogFile>(config.logfile);
      logger = std::make_shared<spdlog::logger>("causalkv", g_log_file);
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

void ReopenLogFile() {
  if (g_log_file == nullptr) {
    spdlog::info("received SIGHUP; logging to standard output, nothing to reopen");
    return;
  }
  std::string error;
  if (!g_log_file->Reopen(&error)) {
    spdlog::warn("received SIGHUP but {}; still logging to the old file", error);
    return;
  }
  spdlog::info("received SIGHUP, log file reopened");
}

namespace {

std::string RandomHex(size_t digits, std::random_device& rd) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (char& c : out) c = kHex[rd() % 16];
  return out;
}

}  // namespace

Server::Server(config::Config config, Launch launch) : launch_(launch) {
  uv_loop_init(&loop_);
  state_.config = std::move(config);
  state_.pid = static_cast<int>(getpid());
  switch (launch_.supervised) {
    case config::Supervised::kSystemd:
      state_.supervised_by = "systemd";
      break;
    case config::Supervised::kUpstart:
      state_.supervised_by = "upstart";
      break;
    default:
      state_.supervised_by = "no";
  }
  state_.start_time_ms = command::WallClockMs();
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) state_.executable.assign(exe, static_cast<size_t>(n));
  std::random_device rd;
  state_.run_id = RandomHex(40, rd);
  const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  dispatcher_ = std::make_unique<command::Dispatcher>(&state_, seed);
  state_.on_config_changed = [this](const std::string& option) { ApplyConfigChange(option); };
  state_.resume_client = [this](uint64_t id, uint64_t seq, std::string reply, bool run_command) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    if (seq == 0) {
      it->second->ResumeFromCluster(reply, run_command);
    } else {
      it->second->ReleaseHeldReply(seq, std::move(reply));
    }
  };
  state_.push_to_client = [this](uint64_t id, std::string_view bytes) {
    auto it = connections_.find(id);
    if (it != connections_.end()) it->second->Push(bytes);
  };
  state_.rerun_read = [this](uint64_t id, uint64_t seq, std::vector<std::string> args, int db) {
    auto it = connections_.find(id);
    if (it != connections_.end()) it->second->RerunRead(seq, std::move(args), db);
  };
  uv_idle_init(&loop_, &script_idle_);
  script_idle_.data = this;
  state_.script_suspended = [this](bool suspended) {
    if (!suspended) {
      uv_idle_stop(&script_idle_);
      if (signal_shutdown_pending_) {
        signal_shutdown_pending_ = false;
        if (!dispatcher_->persistence().SaveOnShutdown(false, false)) {
          spdlog::warn("the final snapshot failed; exiting anyway");
        }
        RequestShutdown();
      }
      return;
    }
    uv_idle_start(&script_idle_, [](uv_idle_t* handle) {
      static_cast<Server*>(handle->data)->dispatcher_->ContinueScript();
    });
  };
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, OnPrepare);
  uv_idle_init(&loop_, &idle_);
  idle_.data = this;
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &block_timer_);
  block_timer_.data = this;
  const uint64_t period_ms = 1000 / std::max(1, state_.config.hz);
  uv_timer_start(&timer_, OnTimer, period_ms, period_ms);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_signal_init(&loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  uv_signal_init(&loop_, &sighup_);
  sighup_.data = this;
  uv_signal_start(&sighup_, OnSighup, SIGHUP);
}

Server::~Server() {
  // Every path out of Run() closes every handle first.
  const int rc = uv_loop_close(&loop_);
  if (rc != 0) spdlog::warn("event loop closed with handles still open: {}", uv_err_name(rc));
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
  if (option == "maxclients") AdjustOpenFilesLimit(false);
  if (option == "peer-timeout" && coordinator_ != nullptr) coordinator_->ConfigChanged();
}

void Server::AdjustOpenFilesLimit(bool reduce) {
  // Redis's reserve for its own descriptors (listeners, files, ...).
  constexpr rlim_t kReservedFds = 32;
  const auto wanted = static_cast<rlim_t>(state_.config.maxclients) + kReservedFds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  const rlim_t old_limit = limit.rlim_cur;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  if (limit.rlim_cur > old_limit && setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("increased maximum number of open files to {} (it was originally set to {}).",
                 limit.rlim_cur, old_limit);
  } else {
    limit.rlim_cur = old_limit;
  }
  if (limit.rlim_cur >= wanted) return;
  const int64_t possible =
      static_cast<int64_t>(limit.rlim_cur) - static_cast<int64_t>(kReservedFds);
  if (!reduce) {
    spdlog::warn("maxclients is {}, but the open files limit ({}) leaves room for {} clients; "
                 "increase 'ulimit -n'", state_.config.maxclients, limit.rlim_cur,
                 std::max<int64_t>(possible, 1));
    return;
  }
  // At startup, as Redis: the configured number could never be reached.
  state_.config.maxclients = std::max<int64_t>(possible, 1);
  spdlog::warn("You requested maxclients of {} requiring at least {} max file descriptors. "
               "Current maximum open files is {}. maxclients has been reduced to {} to "
               "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
               wanted - kReservedFds, wanted, limit.rlim_cur, state_.config.maxclients);
}

namespace {

// The coordinator's view of this node's store, through the dispatcher.
class DispatcherStore final : public cluster::LocalStore {
 public:
  explicit DispatcherStore(command::Dispatcher* d) : d_(d) {}
  int databases() const override { return d_->database_count(); }
  bool MergeLocal(int db, std::string_view key, std::string_view state, bool* changed,
                  bool fetched) override {
    return d_->MergePeerState(db, key, state, changed, fetched);
  }
  bool ExportLocal(int db, std::string_view key, std::string* state) override {
    return d_->ExportState(db, key, state);
  }
  bool DigestLocal(int db, std::string_view key, uint64_t* digest) override {
    return d_->StateDigest(db, key, digest);
  }
  uint64_t SlotDigest(int db, int slot) override { return d_->SlotDigest(db, slot); }
  void DumpSlots(int db, const std::vector<bool>& slots,
                 const std::function<void(std::string_view, std::string_view)>& fn) override {
    d_->DumpSlots(db, slots, fn);
  }
  size_t Tombstones() override { return d_->TombstoneCount(); }
  size_t ExpiredStates() override { return d_->ExpiredStateCount(); }
  int64_t LastPeerMergeMs() override { return d_->last_peer_merge_ms(); }
  void OldHiddenStates(int64_t deleted_before_ms, int64_t expired_before_ms, size_t limit,
                       const std::function<void(int, std::string_view, std::string_view)>& fn)
      override {
    d_->OldHiddenStates(deleted_before_ms, expired_before_ms, limit, fn);
  }
  bool Reap(int db, std::string_view key, std::string_view state) override {
    return d_->ReapHidden(db, key, state);
  }

 private:
  command::Dispatcher* d_;
};

}  // namespace

bool Server::SetupIdentity() {
  const std::string& dir = state_.config.dir;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    spdlog::critical("cannot create data directory '{}': {}", dir, std::strerror(errno));
    return false;
  }
  persist::NodeIdentity identity;
  std::string error;
  if (!persist::StartNodeIdentity(dir, &identity, &error)) {
    spdlog::critical("cannot set up the node id: {}", error);
    return false;
  }
  node_id_ = identity.id;
  state_.node_id = persist::FormatNodeId(identity.id);
  switch (identity.origin) {
    case persist::NodeIdentity::Origin::kNew:
      spdlog::info("new node id {}", state_.node_id);
      break;
    case persist::NodeIdentity::Origin::kResumed:
      spdlog::info("node id {}", state_.node_id);
      break;
    case persist::NodeIdentity::Origin::kReplacedAfterUncleanStop:
      // Its last writes may be lost here while peers hold them: new dots
      // under the old id could claim to cover those.
      spdlog::warn("the last run of node {} did not stop cleanly: continuing as node {}",
                   persist::FormatNodeId(identity.previous_id), state_.node_id);
      break;
    case persist::NodeIdentity::Origin::kReplacedUnreadable:
      spdlog::warn("unreadable node id file: continuing as new node {}", state_.node_id);
      break;
  }
  if (state_.config.peers.empty()) return true;
  cluster_store_ = std::make_unique<DispatcherStore>(dispatcher_.get());
  coordinator_ = std::make_unique<cluster::Coordinator>(&loop_, &state_.config, state_.node_id,
                                                        cluster_store_.get());
  dispatcher_->EnableCluster(node_id_, coordinator_.get());
  state_.peers_info = [this](std::string* out) { coordinator_->WriteInfo(out); };
  spdlog::info("cluster node {} with {} peers (write quorum {}, read quorum {})", state_.node_id,
               state_.config.peers.size(), config::EffectiveWriteQuorum(state_.config),
               config::EffectiveReadQuorum(state_.config));
  return true;
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
  // The snapshot's data comes before the counter: a snapshot copied into a
  // directory without its mark file must still never see its versions reused.
  uint64_t snapshot_counter = 0;
  if (!dispatcher_->persistence().LoadAtStartup(&snapshot_counter)) return false;
  if (!dispatcher_->LoadFunctions()) return false;
  mark = std::max(mark, snapshot_counter);
  const uint64_t reserve = state_.config.version_reserve;
  // Everything up to the saved mark may have been issued before a crash:
  // resume above it, and reserve the next range before serving anyone.
  if (!hwm_->Save(mark + reserve, &error)) {
    spdlog::critical("cannot persist the version high-water mark: {}", error);
    return false;
  }
  dispatcher_->InitVersionCounter(
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
  command::Dispatcher* dispatcher;
  uint64_t mark;
  bool ok;
  std::string error;
};
}  // namespace

void Server::RaiseMarkAsync(uint64_t mark) {
  auto* work = new MarkWork{{}, this, hwm_.get(), dispatcher_.get(), mark, false, {}};
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
          w->dispatcher->VersionLimitRaised(w->mark);
        } else {
          spdlog::warn("cannot persist the version high-water mark: {}", w->error);
          w->dispatcher->VersionLimitRaiseFailed();
        }
        delete w;
      });
  if (rc != 0) {
    spdlog::warn("uv_queue_work failed: {}", uv_err_name(rc));
    dispatcher_->VersionLimitRaiseFailed();
    delete work;
  }
}

bool Server::Listen() {
  state_.tcp_port = state_.config.port;
  if (state_.config.port == 0 && state_.config.unixsocket.empty()) {
    spdlog::critical("Configured to not listen anywhere (port 0 and no unixsocket), exiting.");
    return false;
  }
  return ListenTcp() && ListenUnix();
}

bool Server::ListenTcp() {
  const int port = state_.config.port;
  if (port == 0) return true;  // TCP disabled
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

bool Server::ListenUnix() {
  const std::string& path = state_.config.unixsocket;
  if (path.empty()) return true;
  // A socket file left by a previous run would make the bind fail; Redis
  // removes it the same way.
  unlink(path.c_str());
  unix_listener_ = std::make_unique<uv_pipe_t>();
  uv_pipe_init(&loop_, unix_listener_.get(), 0);
  unix_listener_->data = this;
  int rc = uv_pipe_bind(unix_listener_.get(), path.c_str());
  if (rc == 0 && state_.config.unixsocketperm != 0 &&
      chmod(path.c_str(), static_cast<mode_t>(state_.config.unixsocketperm)) != 0) {
    rc = uv_translate_sys_error(errno);
  }
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(unix_listener_.get()),
                   state_.config.tcp_backlog, OnConnection);
  }
  if (rc != 0) {
    spdlog::critical("could not listen on unix socket {}: {}", path, uv_err_name(rc));
    return false;
  }
  spdlog::info("The server is now ready to accept connections at {}", path);
  return true;
}

namespace {

// The two halves of a peer or local address, Redis style ("[::1]:6379" for
// IPv6).
struct Endpoint {
  std::string ip;
  int port = 0;
  std::string Format() const {
    const bool v6 = ip.find(':') != std::string::npos;
    return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  }
};

Endpoint ToEndpoint(const sockaddr_storage& sa) {
  Endpoint e;
  char ip[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    uv_ip6_name(in6, ip, sizeof ip);
    e.port = ntohs(in6->sin6_port);
  } else {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    uv_ip4_name(in, ip, sizeof ip);
    e.port = ntohs(in->sin_port);
  }
  e.ip = ip;
  return e;
}

}  // namespace

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) {
    spdlog::warn("accept failed: {}", uv_err_name(status));
    return;
  }
  self->Accept(listener);
}

void Server::Accept(uv_stream_t* listener) {
  const bool unix_socket = listener->type == UV_NAMED_PIPE;
  auto* conn = new Connection(this, state_.next_client_id++, unix_socket);
  if (unix_socket) {
    uv_pipe_init(&loop_, conn->pipe(), 0);
  } else {
    uv_tcp_init(&loop_, conn->tcp());
  }
  if (uv_accept(listener, conn->stream()) != 0) {
    uv_close(conn->handle(), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  if (shutting_down_) {
    conn->Close();
    return;
  }
  command::ClientState& client = conn->client();
  client.authenticated = state_.config.requirepass.empty();
  client.created_ms = command::WallClockMs();
  client.last_interaction_ms = client.created_ms;
  const std::string peer_ip = SetupSocket(conn);
  // As Redis: a client over maxclients is not counted as received; one
  // refused by protected mode is, and both are rejected connections.
  if (state_.clients.size() >= static_cast<size_t>(state_.config.maxclients)) {
    Refuse(conn, kMaxClientsReached);
    return;
  }
  ++state_.stats.total_connections_received;
  if (ProtectedModeRefuses(state_.config.protected_mode, !state_.config.requirepass.empty(),
                           unix_socket, peer_ip)) {
    spdlog::debug("refused {}: protected mode", client.addr);
    Refuse(conn, kProtectedModeDenied);
    return;
  }
  state_.clients.emplace(client.id, &client);
  connections_.emplace(client.id, conn);
  spdlog::debug("accepted {} (client {})", client.addr, client.id);
  if (!conn->Start()) conn->Close();
}

std::string Server::SetupSocket(Connection* conn) {
  command::ClientState& client = conn->client();
  uv_os_fd_t fd;
  if (uv_fileno(conn->handle(), &fd) == 0) client.fd = fd;
  if (client.unix_socket) {
    client.addr = client.laddr = state_.config.unixsocket + ":0";  // as Redis shows them
    return {};
  }
  uv_tcp_nodelay(conn->tcp(), 1);
  if (state_.config.tcp_keepalive > 0) {
    uv_tcp_keepalive(conn->tcp(), 1, static_cast<unsigned>(state_.config.tcp_keepalive));
  }
  std::string peer_ip;
  sockaddr_storage sa{};
  int len = sizeof sa;
  if (uv_tcp_getpeername(conn->tcp(), reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    const Endpoint peer = ToEndpoint(sa);
    peer_ip = peer.ip;
    client.addr = peer.Format();
  }
  len = sizeof sa;
  if (uv_tcp_getsockname(conn->tcp(), reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    client.laddr = ToEndpoint(sa).Format();
  }
  return peer_ip;
}

void Server::Refuse(Connection* conn, std::string_view reply) {
  ++state_.stats.rejected_connections;
  // Best effort, as Redis: the socket is fresh, so the kernel takes the
  // short text at once or not at all.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reply.data()), static_cast<unsigned>(reply.size()));
  uv_try_write(conn->stream(), &buf, 1);
  conn->Close();
}

void Server::OnConnectionClosed(Connection* conn) {
  dispatcher_->ClientGone(conn->client().id);
  state_.clients.erase(conn->client().id);
  connections_.erase(conn->client().id);
  // Every copy: a listed connection must never outlive its entry.
  std::erase(pending_writes_, conn);
  std::erase(blocked_, conn);
  state_.blocked_clients = blocked_.size();
  MaybeFinishShutdown();
}

void Server::AddBlocked(Connection* conn) {
  blocked_.push_back(conn);
  state_.blocked_clients = blocked_.size();
}

void Server::AfterCommand() {
  if (!state_.clients_to_close.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(state_.clients_to_close);
    for (const uint64_t id : ids) {
      auto it = connections_.find(id);
      if (it != connections_.end()) it->second->Close();
    }
  }
  if (state_.shutdown_requested) RequestShutdown();
}

void Server::ResumeBlocked() {
  if (blocked_.empty()) return;
  const command::ClientPause& pause = state_.pause;
  if (pause.end_ms != 0 && command::WallClockMs() < pause.end_ms) return;
  state_.pause = command::ClientPause{};
  // A resumed client may block again (a new pause) or close others: work on
  // a copy; closed connections are only freed after this loop phase.
  std::vector<Connection*> batch;
  batch.swap(blocked_);
  state_.blocked_clients = 0;
  for (Connection* conn : batch) conn->Unblock();
}

void Server::FlushAppendLog() { dispatcher_->persistence().FlushLog(); }

void Server::FlushPending() {
  // A flush can list a connection again (it resumed reading), so swap first.
  // Connections closed meanwhile are only freed in the loop's close phase,
  // after this callback, and Flush() skips them.
  std::vector<Connection*> batch;
  batch.swap(pending_writes_);
  FlushAppendLog();
  for (Connection* conn : batch) {
    // Cleared here, where the entry leaves the list (not in Flush, which
    // also runs early while the connection is still listed).
    conn->pending_listed_ = false;
    conn->Flush();
  }
}

void Server::OnPrepare(uv_prepare_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  ++self->loop_turn_;
  // CLIENT UNPAUSE (or the end of a pause) takes effect before the loop
  // sleeps, and the replies of the resumed commands go out now.
  self->ResumeBlocked();
  // Clients in BLPOP & co. whose keys the commands just run made ready
  // (not in the middle of a suspended script).
  if (!self->state_.script_running) self->dispatcher_->ServeBlocked();
  // CLIENT TRACKING's BCAST batches, and the invalidations that no client's
  // command raised (a peer's state, expiry).
  self->dispatcher_->FlushInvalidations();
  // A subscriber those messages pushed past its output limit closes now.
  self->AfterCommand();
  self->ArmBlockTimer();
  self->FlushPending();
  if (self->pending_writes_.empty()) {
    uv_idle_stop(&self->idle_);
  } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&self->idle_))) {
    uv_idle_start(&self->idle_, [](uv_idle_t*) {});
  }
}

void Server::ArmBlockTimer() {
  const int64_t next = dispatcher_->NextBlockedDeadline();
  if (next == block_timer_at_ms_) return;
  block_timer_at_ms_ = next;
  if (next == 0) {
    uv_timer_stop(&block_timer_);
    return;
  }
  const int64_t now = command::WallClockMs();
  uv_timer_start(
      &block_timer_,
      [](uv_timer_t* handle) {
        auto* self = static_cast<Server*>(handle->data);
        self->block_timer_at_ms_ = 0;
        self->dispatcher_->ExpireBlocked(command::WallClockMs());
        self->ArmBlockTimer();
      },
      static_cast<uint64_t>(std::max<int64_t>(0, next - now)), 0);
}

void Server::Cron() {
  // A suspended script (past busy-reply-threshold) must not see keys
  // expire, nor a snapshot or log rewrite take half of it.
  if (state_.script_running) return;
  const int64_t now = command::WallClockMs();
  const int64_t period_us = 1000000 / std::max(1, state_.config.hz);
  // A pause also holds back what expiry would delete, as in Redis. Expiry
  // takes a quarter of the period at most, as Redis's slow expire cycle.
  const bool paused = state_.pause.end_ms != 0 && now < state_.pause.end_ms;
  dispatcher_->StoreCron(now, period_us / 4, !paused);
  dispatcher_->persistence().Cron();
  ClientsCron(now);
  SampleMetrics();
  ResumeBlocked();
  // About 1% of the time, for INFO's siblings and avg_ttl.
  dispatcher_->SurveyStep(std::max<int64_t>(200, period_us / 100));
}

void Server::ClientsCron(int64_t wall_ms) {
  const int64_t loop_ms = static_cast<int64_t>(uv_now(&loop_));
  size_t max_input = 0;
  size_t max_output = 0;
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (auto& [id, conn] : connections_) all.push_back(conn);
  for (Connection* conn : all) {
    conn->Cron(wall_ms, loop_ms);
    if (conn->closing()) continue;
    max_input = std::max(max_input, conn->query_bytes());
    max_output = std::max(max_output, conn->pending_output());
  }
  state_.recent_max_input_buffer = max_input;
  state_.recent_max_output_buffer = max_output;
}

double Server::RateSampler::Track(int64_t now_ms, uint64_t value) {
  // CONFIG RESETSTAT may have set the counter back: start over from it.
  if (last_ms >= 0 && now_ms > last_ms && value >= last_value) {
    samples[next] = static_cast<double>(value - last_value) * 1000.0 /
                    static_cast<double>(now_ms - last_ms);
    next = (next + 1) % std::size(samples);
  }
  last_ms = now_ms;
  last_value = value;
  double sum = 0;
  for (const double sample : samples) sum += sample;
  return sum / static_cast<double>(std::size(samples));
}

void Server::SampleMetrics() {
  const int64_t now = static_cast<int64_t>(uv_now(&loop_));
  if (now - last_sample_ms_ < 100) return;
  last_sample_ms_ = now;
  const command::ServerStats& stats = state_.stats;
  command::InstantaneousMetrics& m = state_.instantaneous;
  m.ops_per_sec = ops_rate_.Track(now, stats.total_commands_processed);
  m.input_kbps = input_rate_.Track(now, stats.total_net_input_bytes) / 1024;
  m.output_kbps = output_rate_.Track(now, stats.total_net_output_bytes) / 1024;
}

void Server::OnTimer(uv_timer_t* handle) { static_cast<Server*>(handle->data)->Cron(); }

void Server::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  if (self->state_.script_running) {
    spdlog::warn("received {} while a script runs: shutting down once it ends (SCRIPT KILL or "
                 "SHUTDOWN NOSAVE end it sooner)", signum == SIGINT ? "SIGINT" : "SIGTERM");
    self->signal_shutdown_pending_ = true;
    return;
  }
  spdlog::info("received {}, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  // A signal cannot be refused: the snapshot is attempted, then the server exits.
  if (!self->dispatcher_->persistence().SaveOnShutdown(false, false)) {
    spdlog::warn("the final snapshot failed; exiting anyway");
  }
  self->RequestShutdown();
}

void Server::OnSighup(uv_signal_t*, int) { ReopenLogFile(); }

void Server::RequestShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  state_.shutdown_requested = true;
  if (launch_.supervised == config::Supervised::kSystemd) {
    std::string error;
    if (!NotifySystemd("STOPPING=1\n", &error)) spdlog::warn("systemd notify: {}", error);
  }
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
  if (unix_listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(unix_listener_.release()),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  // SIGHUP stays handled until the end: log rotation during the grace
  // period below must not kill the process (its default action).
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

void Server::MarkCleanStop() {
  if (exit_code_ != 0 || node_id_ == 0) return;
  // Clean means the files hold every write this node stamped: a final
  // snapshot with nothing after it, or the append-only log.
  command::Persistence& p = dispatcher_->persistence();
  const bool everything_saved =
      p.changes_since_last_save() == 0 || (p.aof_enabled() && p.aof_last_write_ok());
  if (!everything_saved) return;
  std::string error;
  if (!persist::MarkNodeIdentityClean(state_.config.dir, node_id_, &error)) {
    spdlog::warn("cannot mark the node id file clean: {}", error);
  }
}

void Server::MaybeFinishShutdown() {
  if (!shutting_down_ || !connections_.empty() || finished_) return;
  finished_ = true;
  if (coordinator_ != nullptr) coordinator_->Close();
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&block_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&script_idle_), nullptr);
}

void Server::AnnounceReady() {
  // The pid file comes first: whoever waits for readiness may read it.
  pidfile_ = state_.config.pidfile;
  if (pidfile_.empty() && launch_.daemonized) pidfile_ = config::kDefaultPidFile;
  std::string error;
  if (!pidfile_.empty() && !WritePidFile(pidfile_, state_.pid, &error)) {
    spdlog::warn("Failed to write PID file: {}", error);
    pidfile_.clear();
  }
  switch (launch_.supervised) {
    case config::Supervised::kSystemd:
      if (NotifySystemd("STATUS=Ready to accept connections\nREADY=1\n", &error)) {
        spdlog::info("supervised by systemd: readiness reported");
      } else {
        spdlog::warn("supervised by systemd, but cannot report readiness: {}", error);
      }
      break;
    case config::Supervised::kUpstart:
      NotifyUpstartReady();
      break;
    default:
      break;
  }
  if (launch_.daemonized) ReportReady(launch_.ready_fd);
  launch_.ready_fd = -1;
}

void Server::RemoveFilesAtExit() {
  if (!pidfile_.empty()) unlink(pidfile_.c_str());
  if (!state_.config.unixsocket.empty()) unlink(state_.config.unixsocket.c_str());
}

int Server::Run() {
  AdjustOpenFilesLimit(true);
  if (!SetupIdentity() || !SetupVersionCounter() || !Listen()) {
    // Close every handle that did open, so that the loop ends and the loop
    // can be closed.
    RequestShutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return 1;
  }
  spdlog::info("causalkv {} ready: port {}, pid {}, config '{}', {} databases",
               CAUSALKV_VERSION, state_.tcp_port, state_.pid, state_.config.config_file,
               state_.config.databases);
  AnnounceReady();
  if (coordinator_ != nullptr) coordinator_->Start();
  uv_run(&loop_, UV_RUN_DEFAULT);
  RemoveFilesAtExit();
  MarkCleanStop();
  spdlog::info("causalkv is now ready to exit, bye bye...");
  return exit_code_;
}

}  // namespace causalkv::server
