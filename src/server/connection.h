// Connection: one client socket (TCP or unix). Owns its input buffer
// (requests are parsed in place), its output buffer (replies batched until
// the loop is about to poll) and its ClientState.
//
// Reading stops while any of these holds, and resumes when it ends:
//   * the pending replies passed kPauseReadingBytes (back-pressure);
//   * the next command waits for CLIENT PAUSE to end ("blocked");
//   * the connection is closing.
// The client limits (client-output-buffer-limit, client-query-buffer-limit,
// timeout) close it at once, with a log line.
//
// Life: created by the listener on accept, destroyed in the uv_close
// callback. Close() may be called any number of times.
#pragma once

#include <uv.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/config/config.h"
#include "causalkv/resp/parser.h"
#include "causalkv/resp/writer.h"

namespace causalkv::server {

class Server;

class Connection final : public command::ClientIoSource {
 public:
  Connection(Server* server, uint64_t id, bool unix_socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The libuv handle: a uv_tcp_t, or a uv_pipe_t for unix socket clients.
  uv_tcp_t* tcp() { return &handle_.tcp; }
  uv_pipe_t* pipe() { return &handle_.pipe; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&handle_); }
  command::ClientState& client() { return client_; }

  // Starts reading; call once after accept.
  bool Start();
  // Sends what is pending; called from the server's prepare hook (once per
  // loop iteration) and when output grows large.
  void Flush();
  // Closes once pending output is sent (graceful) or at once.
  void CloseAfterFlush();
  void Close();
  bool closing() const { return closing_; }

  // CLIENT PAUSE is over: runs the command that waited and reads on.
  void Unblock();
  // The cluster answered for the command this client waits on (see
  // command::ServerState::resume_client): appends `reply`, runs the held
  // command (`run_command`) or drops it, and goes on with the input.
  void ResumeFromCluster(std::string_view reply, bool run_command);
  // A write's quorum is decided: its reply (`seq`, see command::ClientState)
  // takes its place, and every reply queued behind it that is now first in
  // line goes out.
  void ReleaseHeldReply(uint64_t seq, std::string reply);
  // Pub/sub: a message for this client, after the replies queued so far.
  // Past the output limit the client is closed once the current command is
  // done (ServerState::clients_to_close), never inside this call: the
  // publisher is walking the subscriber lists.
  void Push(std::string_view bytes);
  // A held read must run again (see command::ServerState::rerun_read).
  void RerunRead(uint64_t seq, std::vector<std::string> args, int db);
  // From the server's timer: the idle timeout and the soft output limit.
  // May close the connection.
  void Cron(int64_t wall_ms, int64_t loop_ms);

  size_t pending_output() const { return out_.size() + sending_.size() - sending_offset_; }
  size_t query_bytes() const { return in_end_ - in_start_; }

  // command::ClientIoSource
  command::ClientIo Io() const override;

 private:
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  void ProcessInput();
  void RunCommand();
  void Block();
  void CompactInput();
  void MarkPending();
  // Queues a uv_write of sending_ from sending_offset_ (at most kMaxWriteBytes).
  bool StartQueuedWrite();
  // Gives back the memory of empty buffers (the server's timer calls it for
  // a connection idle for a while).
  void ReleaseIdleBuffers();
  // Starts or stops reading to match the conditions in the file comment.
  void UpdateReading();
  // Close the connection (and return true) when a limit is passed.
  bool CheckOutputLimit(int64_t loop_ms);
  // The client-output-buffer-limit of this client's class.
  const config::OutputBufferLimit& OutputLimit() const;
  bool CheckQueryLimit();
  // The client as CLIENT LIST shows it, for log lines.
  std::string Describe() const;

  Server* server_;
  union Handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_write_t write_req_;
  command::ClientState client_;
  resp::Parser parser_;
  std::vector<std::string_view> args_;
  // The held command's arguments, copied out of the input buffer while it
  // waits in a blocking command (args_ then views these): reading goes on.
  std::vector<std::string> owned_args_;
  std::vector<std::string> rewritten_args_;  // MustBlock's (XREAD's resolved `$`)

  // Input: bytes [in_start_, in_end_) of in_ are received but not consumed.
  std::string in_;
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  // A parsed command not run yet (it waits for CLIENT PAUSE to end): args_
  // holds it, and its command_bytes_ are still in the input buffer.
  bool has_command_ = false;
  size_t command_bytes_ = 0;
  size_t argv_bytes_ = 0;  // arguments of the command running or waiting
  // Bytes read in loop iteration read_turn_ (see kReadBudgetPerTurn).
  uint64_t read_turn_ = 0;
  size_t turn_read_bytes_ = 0;
  bool read_declined_ = false;  // OnAlloc gave libuv an empty buffer

  // Output: replies appended to out_; sending_ is the buffer of the one
  // uv_write in flight (if any), and its bytes before sending_offset_ are
  // already sent. A partial write swaps the two buffers rather than copying
  // the unsent tail.
  std::string out_;
  resp::Writer writer_;
  std::string sending_;
  size_t sending_offset_ = 0;
  size_t sending_now_ = 0;  // bytes the uv_write in flight covers
  size_t reply_peak_ = 0;           // largest out_ since the last reset (rbp)
  int64_t reply_peak_reset_ms_ = 0;
  int64_t soft_limit_since_ms_ = -1;  // over the soft output limit since then
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool output_paused_ = false;  // too much unsent output: not reading
  bool blocked_ = false;        // waiting for CLIENT PAUSE to end
  bool cluster_waiting_ = false;  // waiting for other replicas (a fetch, or too many held)
  // Replies of quorum writes not yet decided, in order, and the replies of
  // the later commands queued behind them (ready). Replies leave in the
  // order their commands ran.
  struct HeldReply {
    uint64_t seq;  // 0 for replies that are ready
    bool ready;
    std::string bytes;
    bool read = false;  // a read checked against its replicas
  };
  // Held reads not yet released: a command that is not a pure read waits
  // until there are none (waiting_reads_), so a read that runs again never
  // sees this client's later writes.
  size_t pending_reads_ = 0;
  bool waiting_reads_ = false;
  std::deque<HeldReply> held_;
  // Beyond this many held replies the client's next commands wait.
  static constexpr size_t kMaxHeldReplies = 1024;
  // Appends a reply after everything already queued (held or not).
  void AppendInOrder(std::string_view bytes);
  bool pending_listed_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;

  friend class Server;
};

}  // namespace causalkv::server
