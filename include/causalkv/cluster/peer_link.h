// PeerLink: one outgoing connection from this node to one peer, through
// hiredis's asynchronous API on this node's libuv loop. It is the lowest
// layer of the cluster module: it knows nothing about keys or quorums, only
// how to keep a link up and how to give every request exactly one answer.
//
// Life of a link:
//
//   kDown --Start()/backoff--> kConnecting --TCP up--> kHandshaking --ok--> kUp
//     ^                             |                       |                |
//     +------ failure, timeout, error reply, drop ----------+----------------+
//
//   - The link reconnects by itself forever, waiting reconnect_min_ms after
//     a failure and doubling the wait up to reconnect_max_ms; coming up
//     resets the wait. Only Close() stops it.
//   - A connect attempt (the TCP handshake) and the peer handshake each time
//     out after request_timeout_ms: a SIGSTOPped or firewalled peer must not
//     hold the link in kConnecting forever.
//   - The link is kUp only once the reply to the handshake command arrived and
//     is not an error. An error reply (a wrong secret) keeps it down and is
//     retried with backoff; its text is logged as a warning once per distinct
//     failure, then at debug level while it repeats.
//
// Invariants:
//   - Every Send() that returned true gets its callback called exactly once:
//     with the reply, or with nullptr (timeout, link dropped, Close()).
//   - Requests are answered in order (Redis replies in order), so in-flight
//     requests are a FIFO; those already failed by a timeout stay in it,
//     marked, until their late reply arrives and is discarded, so that later
//     replies still match later requests. The timed-out ones are always a
//     prefix of the FIFO, since every request has the same timeout.
//   - The FIFO (answered or timed out) never holds more than max_pending
//     requests, and no request stays in it longer than 4 * request_timeout_ms:
//     past that the connection is dropped and reopened. So a slow peer may
//     catch up, but a wedged one cannot hold memory forever.
//   - hiredis contexts are never freed from inside a hiredis callback; a drop
//     requested there (by the handshake reply, or by a reply callback that
//     calls Close()) frees the context on the next loop iteration.
//
// Thread-compatibility: everything, callbacks included, runs on the thread
// that runs `loop`. Nothing here is thread-safe.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

// From <hiredis/hiredis.h>; callers that read replies include it themselves.
struct redisReply;
struct redisAsyncContext;

namespace causalkv::cluster {

struct PeerLinkOptions {
  std::string name;  // for logs, e.g. the peer's "host:port"
  // The peer's IP address. A host name would work but hiredis resolves it
  // with a blocking getaddrinfo() on the loop thread, so pass an address.
  std::string host;
  int port = 0;
  // Local address to connect from (this node's first bind address), so that
  // firewalls and tests can tell nodes on one machine apart. Empty: the OS
  // picks.
  std::string source_address;
  // Sent first on every new connection; empty: none (the link is up as soon
  // as TCP is). E.g. {"PEER.HELLO", secret, node_id} or {"AUTH", secret}.
  std::vector<std::string> handshake;
  uint64_t request_timeout_ms = 1000;  // > 0
  uint64_t reconnect_min_ms = 100;     // > 0
  uint64_t reconnect_max_ms = 1000;    // >= reconnect_min_ms
  size_t max_pending = 10000;          // > 0
};

enum class PeerLinkState { kDown, kConnecting, kHandshaking, kUp };

// "down", "connecting", "handshaking", "up": the words INFO shows.
const char* PeerLinkStateName(PeerLinkState state);

class PeerLink {
 public:
  // `reply` is owned by hiredis and valid only during the call; nullptr means
  // no answer (the request timed out, the link dropped, or Close()). An error
  // reply from the peer is a reply (type REDIS_REPLY_ERROR), not nullptr.
  // The callback may call Send() and Close() on this link.
  using ReplyCallback = std::function<void(const redisReply* reply)>;

  // Does not connect yet (see Start()). `loop` must outlive the link.
  PeerLink(uv_loop_t* loop, PeerLinkOptions options);
  // REQUIRES: closed(). The link embeds libuv handles, so destroying it
  // earlier would leave the loop pointing at freed memory; it aborts instead.
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Begins connecting; from then on the link keeps itself connected.
  // REQUIRES: not started before. Does nothing after Close().
  void Start();

  // Sends one command, binary-safe (each element of `argv` is one argument).
  // Returns false, without calling `cb`, when the link is not kUp, when
  // `argv` is empty, when max_pending requests are already in flight, or when
  // hiredis refuses the command (the connection is going away). Otherwise
  // returns true and calls `cb` exactly once, later, never from inside Send():
  // with the reply, or with nullptr if no reply came within
  // request_timeout_ms (measured with the loop clock, uv_now()), the link
  // dropped, or Close() was called. A reply that arrives after its request
  // timed out is discarded.
  bool Send(const std::vector<std::string_view>& argv, ReplyCallback cb);
  // Send() of a command FormatCommand() encoded: a coordinator sending one
  // batch to several peers encodes it once. REQUIRES: `command` is one
  // complete RESP array of bulk strings.
  bool SendFormatted(std::string_view command, ReplyCallback cb);
  // The RESP array of bulk strings for `argv`, into *out (replaced).
  static void FormatCommand(const std::vector<std::string_view>& argv, std::string* out);

  // Fails every pending callback with nullptr, disconnects, stops the
  // timers and begins closing every libuv handle the link created.
  // Idempotent; may be called from inside a ReplyCallback. The handles finish
  // closing as the loop runs on: run it until closed() before destroying the
  // link (after which uv_loop_close() can succeed).
  void Close();
  // True once Close() was called and every handle's close callback has run.
  bool closed() const;

  PeerLinkState state() const { return state_; }
  const char* state_name() const { return PeerLinkStateName(state_); }
  bool is_up() const { return state_ == PeerLinkState::kUp; }
  const PeerLinkOptions& options() const { return options_; }
  // CONFIG SET peer-timeout: requests sent and connects started from now on
  // use the new timeout. REQUIRES: ms > 0.
  void set_request_timeout_ms(uint64_t ms) { options_.request_timeout_ms = ms; }

  // Introspection for INFO.
  // Wall-clock time (ms since the epoch) of the last reply of any kind,
  // handshake and late replies included; 0 if none yet.
  int64_t last_reply_ms() const { return last_reply_ms_; }
  // RESP bytes of every command queued, the handshake included.
  uint64_t bytes_sent() const { return bytes_sent_; }
  // Approximate: the RESP2 encoding size of every reply received.
  uint64_t bytes_received() const { return bytes_received_; }
  // Send() calls that returned true, and those that timed out.
  uint64_t requests_sent() const { return requests_sent_; }
  uint64_t requests_timed_out() const { return requests_timed_out_; }
  // Requests whose callback has not run yet.
  size_t pending() const;
  // Requests in the FIFO: pending plus timed out but not yet answered. Send()
  // refuses while this is max_pending.
  size_t in_flight() const { return requests_.size(); }
  // How many times the link came up.
  uint64_t connects() const { return connects_; }

 private:
  struct Request {
    ReplyCallback cb;
    uint64_t sent_ms = 0;  // uv_now() when queued
    bool handshake = false;
  };
  // Marks that we are inside a hiredis callback (see FreeContext()).
  struct HiredisCallbackScope;

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnStateTimer(uv_timer_t* timer);
  static void OnRequestTimer(uv_timer_t* timer);
  static void OnFreeTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);
  friend struct PeerLinkEvents;  // the libuv adapter in peer_link.cc

  void Connect();
  void RequestFlush();
  void Flush();
  bool Queue(const std::vector<std::string_view>& argv, Request request);
  bool QueueFormatted(std::string_view command, Request request);
  void HandleReply(const redisReply* reply);
  void HandleHandshakeReply(const redisReply* reply);
  void BecomeUp();
  // Ends the current connection (if any) for `reason`: frees the context,
  // fails every pending request, and schedules a reconnect unless closing.
  void Drop(const std::string& reason);
  // The same after hiredis has freed (or is about to free) the context itself.
  void Lost(const std::string& reason);
  void FreeContext(redisAsyncContext* ac);
  void FailAll();
  void ScheduleReconnect();
  void ArmRequestTimer();
  // Logs a failure to connect or to handshake: a warning the first time this
  // text is seen since the link was last up, debug after that.
  void LogFailure(const std::string& what);
  void CloseHandle(uv_handle_t* handle);

  uv_loop_t* loop_;
  PeerLinkOptions options_;
  PeerLinkState state_ = PeerLinkState::kDown;
  redisAsyncContext* ac_ = nullptr;  // the current connection, if any
  // Contexts dropped from inside a hiredis callback, freed by free_timer_.
  std::vector<redisAsyncContext*> doomed_;
  int hiredis_callback_depth_ = 0;
  bool started_ = false;
  bool closing_ = false;
  bool ever_up_ = false;
  // Bumped whenever requests_ is failed wholesale, so a loop that calls user
  // callbacks can tell that the FIFO it was walking is gone.
  uint64_t epoch_ = 0;

  std::deque<Request> requests_;
  size_t timed_out_ = 0;  // the first timed_out_ requests_ have timed out

  uv_timer_t state_timer_;    // connect timeout, or reconnect backoff
  uv_timer_t request_timer_;  // request timeouts and the 4x drop rule
  uv_timer_t free_timer_;     // frees doomed_ on the next iteration
  uv_check_t flush_check_;    // writes what this iteration queued, once
  uv_prepare_t flush_prepare_;
  bool flush_wanted_ = false;
  uint64_t request_timer_due_ = 0;  // uv_now() time it fires; 0: stopped
  int open_handles_ = 0;            // timers and poll handles not yet closed
  uint64_t backoff_ms_;
  std::string last_failure_;

  std::string command_scratch_;  // Send()'s and Queue()'s RESP encoding, reused

  int64_t last_reply_ms_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t requests_sent_ = 0;
  uint64_t requests_timed_out_ = 0;
  uint64_t connects_ = 0;
};

}  // namespace causalkv::cluster
