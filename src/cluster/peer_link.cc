#include "causalkv/cluster/peer_link.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace causalkv::cluster {

// Our own hiredis <-> libuv adapter, in place of <hiredis/adapters/libuv.h>.
// The stock one returns early when libuv reports an error, and libuv reports
// POLLERR (a refused connect, a reset connection) as UV_EBADF after stopping
// the handle: a refused connect would then never reach hiredis, and the link
// would sit in kConnecting until its timeout on every attempt. This one lets
// hiredis look at the socket and find the error itself, and tells the link
// when each poll handle has finished closing, so closed() is exact.
struct PeerLinkEvents {
  redisAsyncContext* context;  // nullptr once hiredis has let go of it
  PeerLink* link;
  uv_poll_t poll;
  int events = 0;
  bool flushing = false;  // inside PeerLink::Flush(): a write interest is real

  // Attaches a fresh context to `loop`; false if libuv refused the fd.
  static bool Attach(redisAsyncContext* ac, uv_loop_t* loop, PeerLink* link) {
    auto* ev = new PeerLinkEvents{ac, link, {}, 0, false};
    int rc = uv_poll_init(loop, &ev->poll, ac->c.fd);
    if (rc != 0) {
      spdlog::warn("peer {}: uv_poll_init failed: {}", link->options_.name, uv_err_name(rc));
      delete ev;
      return false;
    }
    ev->poll.data = ev;
    ++link->open_handles_;
    ac->ev.addRead = [](void* p) { static_cast<PeerLinkEvents*>(p)->Update(UV_READABLE, 0); };
    ac->ev.delRead = [](void* p) { static_cast<PeerLinkEvents*>(p)->Update(0, UV_READABLE); };
    ac->ev.addWrite = [](void* p) { static_cast<PeerLinkEvents*>(p)->AddWrite(); };
    ac->ev.delWrite = [](void* p) { static_cast<PeerLinkEvents*>(p)->Update(0, UV_WRITABLE); };
    ac->ev.cleanup = [](void* p) {
      auto* self = static_cast<PeerLinkEvents*>(p);
      self->context = nullptr;  // hiredis is freeing it; the poll may still fire once
      uv_close(reinterpret_cast<uv_handle_t*>(&self->poll), &PeerLinkEvents::OnClosed);
    };
    ac->ev.data = ev;
    return true;
  }

  // hiredis asks for a write after every command it queues. Once connected,
  // the write waits for the end of this loop iteration instead: every command
  // queued meanwhile leaves in one write(), and the socket is not re-armed in
  // epoll per command. Only a write the kernel did not take whole waits for
  // POLLOUT. (Before the connect completes, POLLOUT is how hiredis learns it.)
  void AddWrite() {
    if (!flushing && context != nullptr && context == link->ac_ &&
        (context->c.flags & REDIS_CONNECTED) != 0) {
      link->RequestFlush();
      return;
    }
    Update(UV_WRITABLE, 0);
  }

  void Update(int add, int remove) {
    const int wanted = (events | add) & ~remove;
    if (wanted == events) return;  // each uv_poll_start is an epoll_ctl or two
    events = wanted;
    if (events == 0) {
      uv_poll_stop(&poll);
      return;
    }
    // Cannot fail on a live fd; if it did, the request timeouts end the link.
    int rc = uv_poll_start(&poll, events, &PeerLinkEvents::OnPoll);
    if (rc != 0) {
      spdlog::warn("peer {}: uv_poll_start failed: {}", link->options_.name, uv_err_name(rc));
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<PeerLinkEvents*>(handle->data);
    redisAsyncContext* ac = self->context;
    if (ac == nullptr) return;
    if (status < 0) {
      if (!(ac->c.flags & REDIS_CONNECTED)) {
        // The connect check (SO_ERROR) reports the failure to OnConnect.
        redisAsyncHandleWrite(ac);
        return;
      }
      // Read what arrived before the error, and the error (ECONNRESET).
      redisAsyncHandleRead(ac);
      // libuv stopped the handle: if hiredis found nothing wrong, the
      // connection would hang unnoticed, so end it here.
      if (self->context != nullptr && self->context == self->link->ac_) {
        self->link->Drop(std::string("socket error: ") + uv_strerror(status));
      }
      return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(ac);
    // The read may have freed the context (cleanup cleared self->context).
    if (self->context != nullptr && (events & UV_WRITABLE)) redisAsyncHandleWrite(ac);
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<PeerLinkEvents*>(handle->data);
    --self->link->open_handles_;
    delete self;
  }
};

namespace {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t DecimalDigits(long long v) {
  uint64_t n = v < 0 ? 2 : 1;  // the sign counts
  unsigned long long u = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : v;
  while (u >= 10) {
    u /= 10;
    ++n;
  }
  return n;
}

// The size of `reply` in RESP2, as the peer sent it (a nil array counts as a
// nil bulk string: hiredis 0.14 does not tell them apart).
uint64_t RespSize(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return 1 + DecimalDigits(static_cast<long long>(r->len)) + 2 + r->len + 2;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return 1 + r->len + 2;
    case REDIS_REPLY_INTEGER:
      return 1 + DecimalDigits(r->integer) + 2;
    case REDIS_REPLY_NIL:
      return 5;
    case REDIS_REPLY_ARRAY: {
      uint64_t n = 1 + DecimalDigits(static_cast<long long>(r->elements)) + 2;
      for (size_t i = 0; i < r->elements; ++i) n += RespSize(r->element[i]);
      return n;
    }
    default:
      return 0;
  }
}

}  // namespace

const char* PeerLinkStateName(PeerLinkState state) {
  switch (state) {
    case PeerLinkState::kDown: return "down";
    case PeerLinkState::kConnecting: return "connecting";
    case PeerLinkState::kHandshaking: return "handshaking";
    case PeerLinkState::kUp: return "up";
  }
  return "unknown";
}

struct PeerLink::HiredisCallbackScope {
  explicit HiredisCallbackScope(PeerLink* l) : link(l) { ++link->hiredis_callback_depth_; }
  ~HiredisCallbackScope() { --link->hiredis_callback_depth_; }
  HiredisCallbackScope(const HiredisCallbackScope&) = delete;
  HiredisCallbackScope& operator=(const HiredisCallbackScope&) = delete;
  PeerLink* link;
};

PeerLink::PeerLink(uv_loop_t* loop, PeerLinkOptions options)
    : loop_(loop), options_(std::move(options)) {
  if (options_.name.empty()) options_.name = options_.host + ":" + std::to_string(options_.port);
  options_.request_timeout_ms = std::max<uint64_t>(options_.request_timeout_ms, 1);
  options_.reconnect_min_ms = std::max<uint64_t>(options_.reconnect_min_ms, 1);
  options_.reconnect_max_ms = std::max(options_.reconnect_max_ms, options_.reconnect_min_ms);
  options_.max_pending = std::max<size_t>(options_.max_pending, 1);
  backoff_ms_ = options_.reconnect_min_ms;
  for (uv_timer_t* t : {&state_timer_, &request_timer_, &free_timer_}) {
    uv_timer_init(loop_, t);  // cannot fail for timers
    t->data = this;
    ++open_handles_;
  }
  uv_check_init(loop_, &flush_check_);  // cannot fail either
  uv_prepare_init(loop_, &flush_prepare_);
  flush_check_.data = this;
  flush_prepare_.data = this;
  open_handles_ += 2;
}

void PeerLink::RequestFlush() {
  if (flush_wanted_ || closing_) return;
  flush_wanted_ = true;
  // Check runs right after the I/O callbacks of this iteration (client
  // commands); prepare right before the next poll (timer callbacks).
  uv_check_start(&flush_check_, [](uv_check_t* h) { static_cast<PeerLink*>(h->data)->Flush(); });
  uv_prepare_start(&flush_prepare_,
                   [](uv_prepare_t* h) { static_cast<PeerLink*>(h->data)->Flush(); });
}

void PeerLink::Flush() {
  uv_check_stop(&flush_check_);
  uv_prepare_stop(&flush_prepare_);
  if (!std::exchange(flush_wanted_, false) || ac_ == nullptr ||
      (ac_->c.flags & REDIS_CONNECTED) == 0) {
    return;  // a new connection's writes wait for its connect (POLLOUT)
  }
  auto* events = static_cast<PeerLinkEvents*>(ac_->ev.data);
  // The events object outlives this call: it is deleted when its poll
  // handle has closed, which is never inside a callback like this one.
  events->flushing = true;
  redisAsyncHandleWrite(ac_);
  events->flushing = false;
}

PeerLink::~PeerLink() {
  if (!closed()) {
    spdlog::critical("peer {}: PeerLink destroyed before Close() completed", options_.name);
    std::abort();
  }
}

void PeerLink::Start() {
  if (started_ || closing_) return;
  started_ = true;
  Connect();
}

bool PeerLink::closed() const { return closing_ && open_handles_ == 0; }

size_t PeerLink::pending() const {
  size_t n = requests_.size() - timed_out_;
  if (!requests_.empty() && requests_.front().handshake) --n;
  return n;
}

void PeerLink::Connect() {
  state_ = PeerLinkState::kConnecting;
  redisAsyncContext* ac =
      options_.source_address.empty()
          ? redisAsyncConnect(options_.host.c_str(), options_.port)
          : redisAsyncConnectBind(options_.host.c_str(), options_.port,
                                  options_.source_address.c_str());
  std::string error;
  if (ac == nullptr) {
    error = "out of memory";
  } else if (ac->err) {
    error = ac->errstr;
  } else if (!PeerLinkEvents::Attach(ac, loop_, this)) {
    error = "cannot watch the socket";
  }
  if (!error.empty()) {
    // Nothing is attached and no callback is set: freeing it here is safe.
    if (ac != nullptr) redisAsyncFree(ac);
    state_ = PeerLinkState::kDown;
    LogFailure("connect failed: " + error);
    ScheduleReconnect();
    return;
  }
  ac->data = this;
  ac_ = ac;
  // Setting the connect callback is what starts watching for the connect.
  redisAsyncSetConnectCallback(ac, &PeerLink::OnConnect);
  redisAsyncSetDisconnectCallback(ac, &PeerLink::OnDisconnect);
  uv_timer_start(&state_timer_, &PeerLink::OnStateTimer, options_.request_timeout_ms, 0);
}

void PeerLink::OnConnect(const redisAsyncContext* ac, int status) {
  auto* link = static_cast<PeerLink*>(ac->data);
  HiredisCallbackScope scope(link);
  if (ac != link->ac_) {
    // A doomed context: on failure hiredis frees it after this returns.
    if (status != REDIS_OK) std::erase(link->doomed_, ac);
    return;
  }
  if (status != REDIS_OK) {
    link->Lost(std::string("connect failed: ") + ac->errstr);
    return;
  }
  uv_timer_stop(&link->state_timer_);
  if (link->options_.handshake.empty()) {
    link->BecomeUp();
    return;
  }
  link->state_ = PeerLinkState::kHandshaking;
  std::vector<std::string_view> argv(link->options_.handshake.begin(),
                                     link->options_.handshake.end());
  Request request;
  request.handshake = true;
  if (!link->Queue(argv, std::move(request))) link->Drop("could not queue the handshake");
}

void PeerLink::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* link = static_cast<PeerLink*>(ac->data);
  HiredisCallbackScope scope(link);
  if (ac != link->ac_) {
    std::erase(link->doomed_, ac);  // hiredis frees it after this returns
    return;
  }
  link->Lost(status == REDIS_OK ? std::string("disconnected") : std::string(ac->errstr));
}

void PeerLink::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* link = static_cast<PeerLink*>(privdata);
  HiredisCallbackScope scope(link);
  // No reply: hiredis is tearing the context down; Drop() or Lost() fails
  // the requests. A context other than the current one has been dropped.
  if (reply == nullptr || ac != link->ac_) return;
  link->HandleReply(static_cast<const redisReply*>(reply));
}

bool PeerLink::Send(const std::vector<std::string_view>& argv, ReplyCallback cb) {
  if (state_ != PeerLinkState::kUp || argv.empty()) return false;
  FormatCommand(argv, &command_scratch_);
  const bool sent = SendFormatted(command_scratch_, std::move(cb));
  // A large batch's scratch is not kept for ever.
  if (command_scratch_.capacity() > (4u << 20)) std::string().swap(command_scratch_);
  return sent;
}

bool PeerLink::SendFormatted(std::string_view command, ReplyCallback cb) {
  if (state_ != PeerLinkState::kUp || command.empty() || requests_.size() >= options_.max_pending) {
    return false;
  }
  Request request;
  request.cb = std::move(cb);
  if (!QueueFormatted(command, std::move(request))) return false;
  ++requests_sent_;
  return true;
}

void PeerLink::FormatCommand(const std::vector<std::string_view>& argv, std::string* out) {
  // RESP formatted here, through a pointer into a buffer sized for the
  // longest headers: hiredis's own formatting (sdscatfmt per argument), and
  // then appends per header, were a visible share of a coordinator's profile.
  constexpr size_t kHeaderMax = 1 + 20 + 2;
  size_t most = kHeaderMax;
  for (std::string_view arg : argv) most += kHeaderMax + arg.size() + 2;
  out->resize(most);
  char* const begin = out->data();
  char* p = begin;
  auto put_header = [&p](char type, size_t n) {
    *p++ = type;
    p = std::to_chars(p, p + 20, n).ptr;
    *p++ = '\r';
    *p++ = '\n';
  };
  put_header('*', argv.size());
  for (std::string_view arg : argv) {
    put_header('$', arg.size());
    if (!arg.empty()) std::memcpy(p, arg.data(), arg.size());
    p += arg.size();
    *p++ = '\r';
    *p++ = '\n';
  }
  out->resize(static_cast<size_t>(p - begin));
}

bool PeerLink::Queue(const std::vector<std::string_view>& argv, Request request) {
  FormatCommand(argv, &command_scratch_);
  const bool queued = QueueFormatted(command_scratch_, std::move(request));
  // A large batch's scratch is not kept for ever.
  if (command_scratch_.capacity() > (4u << 20)) std::string().swap(command_scratch_);
  return queued;
}

bool PeerLink::QueueFormatted(std::string_view out, Request request) {
  if (redisAsyncFormattedCommand(ac_, &PeerLink::OnReply, this, out.data(), out.size()) !=
      REDIS_OK) {
    return false;
  }
  bytes_sent_ += out.size();
  request.sent_ms = uv_now(loop_);
  uint64_t deadline = request.sent_ms + options_.request_timeout_ms;
  requests_.push_back(std::move(request));
  if (request_timer_due_ == 0 || deadline < request_timer_due_) ArmRequestTimer();
  return true;
}

void PeerLink::HandleReply(const redisReply* reply) {
  last_reply_ms_ = WallClockMs();
  bytes_received_ += RespSize(reply);
  if (requests_.empty()) {
    Drop("a reply to no request");  // cannot happen unless the peer misbehaves
    return;
  }
  Request request = std::move(requests_.front());
  requests_.pop_front();
  if (requests_.empty()) {
    uv_timer_stop(&request_timer_);
    request_timer_due_ = 0;
  }
  if (timed_out_ > 0) {
    --timed_out_;  // its callback already ran with nullptr
    return;
  }
  if (request.handshake) {
    HandleHandshakeReply(reply);
    return;
  }
  request.cb(reply);
}

void PeerLink::HandleHandshakeReply(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    Drop("handshake refused: " + std::string(reply->str, reply->len));
    return;
  }
  BecomeUp();
}

void PeerLink::BecomeUp() {
  state_ = PeerLinkState::kUp;
  ++connects_;
  backoff_ms_ = options_.reconnect_min_ms;
  last_failure_.clear();
  spdlog::info("peer {}: link up ({}:{})", options_.name, options_.host, options_.port);
}

void PeerLink::Lost(const std::string& reason) {
  ac_ = nullptr;  // hiredis frees it once our callback returns
  Drop(reason);
}

void PeerLink::Drop(const std::string& reason) {
  bool was_up = state_ == PeerLinkState::kUp;
  redisAsyncContext* ac = std::exchange(ac_, nullptr);
  uv_timer_stop(&state_timer_);
  state_ = PeerLinkState::kDown;
  if (ac != nullptr) FreeContext(ac);
  if (closing_) {
    spdlog::debug("peer {}: link closed", options_.name);
  } else if (was_up) {
    spdlog::warn("peer {}: link down: {}", options_.name, reason);
    last_failure_ = reason;
  } else {
    LogFailure(reason);
  }
  FailAll();
  // A callback run by FailAll() may have called Close().
  if (!closing_) ScheduleReconnect();
}

void PeerLink::FreeContext(redisAsyncContext* ac) {
  if (hiredis_callback_depth_ > 0) {
    // hiredis would go on using the context after our callback returns.
    doomed_.push_back(ac);
    uv_timer_start(&free_timer_, &PeerLink::OnFreeTimer, 0, 0);
  } else {
    redisAsyncFree(ac);  // flushes its callbacks with nullptr; OnReply ignores them
  }
}

void PeerLink::OnFreeTimer(uv_timer_t* timer) {
  auto* link = static_cast<PeerLink*>(timer->data);
  std::vector<redisAsyncContext*> doomed;
  doomed.swap(link->doomed_);
  for (redisAsyncContext* ac : doomed) redisAsyncFree(ac);
  if (link->closing_ && link->doomed_.empty()) {
    link->CloseHandle(reinterpret_cast<uv_handle_t*>(&link->free_timer_));
  }
}

void PeerLink::FailAll() {
  ++epoch_;
  std::deque<Request> failed;
  failed.swap(requests_);
  size_t already = std::exchange(timed_out_, 0);
  uv_timer_stop(&request_timer_);
  request_timer_due_ = 0;
  // Callbacks may call Send() (it fails: the link is down) or Close().
  for (size_t i = already; i < failed.size(); ++i) {
    if (!failed[i].handshake) failed[i].cb(nullptr);
  }
}

void PeerLink::ScheduleReconnect() {
  spdlog::debug("peer {}: reconnecting in {} ms", options_.name, backoff_ms_);
  uv_timer_start(&state_timer_, &PeerLink::OnStateTimer, backoff_ms_, 0);
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
}

void PeerLink::OnStateTimer(uv_timer_t* timer) {
  auto* link = static_cast<PeerLink*>(timer->data);
  if (link->state_ == PeerLinkState::kDown) {
    link->Connect();
  } else if (link->state_ == PeerLinkState::kConnecting) {
    link->Drop("connect timed out after " + std::to_string(link->options_.request_timeout_ms) +
               " ms");
  }
}

void PeerLink::ArmRequestTimer() {
  if (requests_.empty()) {
    uv_timer_stop(&request_timer_);
    request_timer_due_ = 0;
    return;
  }
  const uint64_t timeout = options_.request_timeout_ms;
  uint64_t due = requests_.front().sent_ms + 4 * timeout;
  if (timed_out_ < requests_.size()) due = std::min(due, requests_[timed_out_].sent_ms + timeout);
  uint64_t now = uv_now(loop_);
  uv_timer_start(&request_timer_, &PeerLink::OnRequestTimer, due > now ? due - now : 0, 0);
  request_timer_due_ = due;
}

void PeerLink::OnRequestTimer(uv_timer_t* timer) {
  auto* link = static_cast<PeerLink*>(timer->data);
  link->request_timer_due_ = 0;
  const uint64_t timeout = link->options_.request_timeout_ms;
  const uint64_t now = uv_now(link->loop_);
  const uint64_t epoch = link->epoch_;
  auto& requests = link->requests_;
  while (link->timed_out_ < requests.size() &&
         requests[link->timed_out_].sent_ms + timeout <= now) {
    Request& request = requests[link->timed_out_];
    if (request.handshake) {
      link->Drop("no reply to the handshake in " + std::to_string(timeout) + " ms");
      return;
    }
    // The request stays in the FIFO, so that its late reply is matched and
    // discarded; the connection stays open, since a slow peer may catch up.
    ++link->timed_out_;
    ++link->requests_timed_out_;
    ReplyCallback cb = std::move(request.cb);
    request.cb = nullptr;
    spdlog::debug("peer {}: a request timed out after {} ms", link->options_.name, timeout);
    cb(nullptr);
    if (epoch != link->epoch_) return;  // the callback closed the link
  }
  // A wedged connection must not hold requests (and memory) forever.
  if (!requests.empty() && requests.front().sent_ms + 4 * timeout <= now) {
    link->Drop("no reply in " + std::to_string(4 * timeout) + " ms");
    return;
  }
  link->ArmRequestTimer();
}

void PeerLink::LogFailure(const std::string& what) {
  if (what != last_failure_) {
    spdlog::warn("peer {}: {}", options_.name, what);
    last_failure_ = what;
  } else {
    spdlog::debug("peer {}: {}", options_.name, what);
  }
}

void PeerLink::Close() {
  if (closing_) return;
  closing_ = true;
  Drop("closed");
  CloseHandle(reinterpret_cast<uv_handle_t*>(&state_timer_));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&request_timer_));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&flush_check_));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&flush_prepare_));
  flush_wanted_ = false;
  // With contexts still to free, OnFreeTimer closes its own timer after.
  if (doomed_.empty()) CloseHandle(reinterpret_cast<uv_handle_t*>(&free_timer_));
}

void PeerLink::CloseHandle(uv_handle_t* handle) {
  uv_close(handle, &PeerLink::OnHandleClosed);
}

void PeerLink::OnHandleClosed(uv_handle_t* handle) {
  --static_cast<PeerLink*>(handle->data)->open_handles_;
}

}  // namespace causalkv::cluster
