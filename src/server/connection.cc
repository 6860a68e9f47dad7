#include "connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "client_limits.h"
#include "server.h"

namespace causalkv::server {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// Input read from one client per loop iteration, at most (a single read may
// exceed it). Past it the client waits for the next iteration, whose poll
// reports the socket again at once: the replies so far go out in between, so
// a client sending a long pipelined batch gets its first replies early, and
// one heavy client cannot hold the others' replies back for long (Redis
// reads 16 KB per client per iteration).
constexpr size_t kReadBudgetPerTurn = 16 * 1024;
// Past this much unsent output, replies are pushed to the socket right away
// instead of waiting for the end of the loop iteration.
constexpr size_t kEagerFlushBytes = 64 * 1024;
// Past this much unsent output, stop reading requests until the client reads
// its replies: a client that pipelines without reading cannot grow our memory
// without bound, and other clients are unaffected. This works under any
// client-output-buffer-limit: a lower hard limit closes the client first; a
// higher one is then reached only by a single huge reply; a soft limit below
// it still runs out, checked from the timer.
constexpr size_t kPauseReadingBytes = 16 * 1024 * 1024;
// Buffers above this capacity are given back once empty.
constexpr size_t kKeepCapacity = 64 * 1024;
// How long the reply buffer peak (rbp) covers, as Redis.
constexpr int64_t kReplyPeakWindowMs = 5000;
// A connection idle this long gives its empty buffers back, whatever their
// size: thousands of idle clients must not each pin a read chunk (Redis
// frees the query buffer of a client idle for 2 s, clientsCronResizeQueryBuffer).
constexpr int64_t kIdleReleaseMs = 2000;
// uv_buf_t holds an unsigned int length: larger output goes out in pieces
// of at most this (a multiple of the page size, well below UINT_MAX).
constexpr size_t kMaxWriteChunk = size_t{1} << 30;
constexpr size_t kMaxWriteChunks = 4;
constexpr size_t kMaxWriteBytes = kMaxWriteChunk * kMaxWriteChunks;

// Fills bufs with up to kMaxWriteBytes of [data, data + len); returns how many.
unsigned ChunkBufs(char* data, size_t len, uv_buf_t (&bufs)[kMaxWriteChunks]) {
  unsigned n = 0;
  while (len > 0 && n < kMaxWriteChunks) {
    const size_t part = std::min(len, kMaxWriteChunk);
    bufs[n++] = uv_buf_init(data, static_cast<unsigned>(part));
    data += part;
    len -= part;
  }
  return n;
}

// The first bytes of a query buffer, quoted, for the log line of a client
// closed for its query buffer (Redis shows 64).
std::string QuotedPrefix(std::string_view bytes) {
  std::string out = "\"";
  for (const char c : bytes.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Connection::Connection(Server* server, uint64_t id, bool unix_socket)
    : server_(server), parser_(server->parser_limits()), writer_(&out_, 2) {
  client_.id = id;
  client_.unix_socket = unix_socket;
  client_.io = this;
  handle_.tcp.data = this;
  write_req_.data = this;
}

Connection::~Connection() = default;

bool Connection::Start() {
  const int rc = uv_read_start(stream(), OnAlloc, OnRead);
  if (rc != 0) {
    spdlog::warn("uv_read_start failed: {}", uv_err_name(rc));
    return false;
  }
  reading_ = true;
  return true;
}

void Connection::UpdateReading() {
  // A command waiting unexecuted (pause, fetch) keeps its arguments in the
  // input buffer, which reading could move: no reading meanwhile. One waiting
  // in a blocking command owns copies of them, and reading goes on.
  const bool want = !closing_ && !close_after_flush_ && !output_paused_ && !blocked_ &&
                    (!cluster_waiting_ || !owned_args_.empty());
  if (want == reading_) return;
  if (want) {
    const int rc = uv_read_start(stream(), OnAlloc, OnRead);
    if (rc != 0) {
      spdlog::debug("client {} uv_read_start failed: {}", client_.id, uv_err_name(rc));
      Close();
      return;
    }
  } else {
    uv_read_stop(stream());
  }
  reading_ = want;
}

void Connection::CompactInput() {
  if (in_start_ == 0) return;
  const size_t live = in_end_ - in_start_;
  if (live != 0) std::memmove(in_.data(), in_.data() + in_start_, live);
  in_start_ = 0;
  in_end_ = live;
}

void Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  const uint64_t turn = self->server_->loop_turn();
  if (self->read_turn_ != turn) {
    self->read_turn_ = turn;
    self->turn_read_bytes_ = 0;
  } else if (self->turn_read_bytes_ >= kReadBudgetPerTurn) {
    // An empty buffer ends libuv's read loop for this iteration (OnRead
    // gets UV_ENOBUFS); the socket stays watched.
    *buf = uv_buf_init(nullptr, 0);
    self->read_declined_ = true;
    return;
  }
  // For a large bulk, grow towards its announced size, but at most doubling
  // what has actually arrived: a client that only sends a 512 MB header must
  // not make us allocate 512 MB.
  size_t want = kReadChunk;
  const size_t live = self->in_end_ - self->in_start_;
  const size_t needed = self->parser_.BytesWanted();
  if (needed > live) want = std::max(want, std::min(needed - live, live));
  if (self->in_.size() - self->in_end_ < want) {
    self->CompactInput();
    if (self->in_.size() - self->in_end_ < want) self->in_.resize(self->in_end_ + want);
  }
  buf->base = self->in_.data() + self->in_end_;
  buf->len = self->in_.size() - self->in_end_;
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread == UV_ENOBUFS && self->read_declined_) {
    self->read_declined_ = false;  // the budget of this iteration is spent (OnAlloc)
    return;
  }
  if (nread < 0) {
    if (nread != UV_EOF) spdlog::debug("client {} read error: {}", self->client_.id,
                                       uv_err_name(static_cast<int>(nread)));
    self->Close();
    return;
  }
  if (nread == 0) return;
  self->in_end_ += static_cast<size_t>(nread);
  self->turn_read_bytes_ += static_cast<size_t>(nread);
  self->client_.last_interaction_ms = self->server_->dispatcher().NowMs();
  self->server_->state().stats.total_net_input_bytes += static_cast<uint64_t>(nread);
  ++self->server_->state().stats.total_reads_processed;
  self->ProcessInput();
  if (!self->closing_) self->CheckQueryLimit();
}

void Connection::ProcessInput() {
  command::Dispatcher& dispatcher = server_->dispatcher();
  while (!close_after_flush_ && !closing_ && !blocked_ && !output_paused_ && !cluster_waiting_) {
    if (!has_command_) {
      if (in_start_ == in_end_) break;
      size_t consumed = 0;
      const resp::ParseStatus status =
          parser_.Parse(in_.data() + in_start_, in_end_ - in_start_, &consumed, &args_);
      if (status == resp::ParseStatus::kNeedMore) break;
      if (status == resp::ParseStatus::kProtocolError) {
        spdlog::debug("protocol error from client {} ({}): {}", client_.id, client_.addr,
                      parser_.error());
        writer_.Error(parser_.error());
        in_start_ = in_end_;
        CloseAfterFlush();
        break;
      }
      if (args_.empty()) {
        in_start_ += consumed;
        continue;
      }
      has_command_ = true;
      command_bytes_ = consumed;
      argv_bytes_ = 0;
      for (std::string_view arg : args_) argv_bytes_ += arg.size();
    }
    if (dispatcher.MustWaitForPause(client_, args_)) {
      Block();
      break;
    }
    if (pending_reads_ > 0 && !dispatcher.IsReadOnly(args_[0])) {
      waiting_reads_ = true;
      cluster_waiting_ = true;
      UpdateReading();
      break;
    }
    rewritten_args_.clear();
    if (dispatcher.MustBlock(client_, args_, &rewritten_args_)) {
      // A blocking command may wait for long: its arguments move out of the
      // input buffer, so that reading goes on (a disconnect is noticed, and
      // the client's next commands queue up behind it). XREAD's `$` comes
      // back resolved (rewritten_args_): the command runs with that.
      if (!rewritten_args_.empty()) {
        owned_args_ = std::move(rewritten_args_);
        args_.assign(owned_args_.begin(), owned_args_.end());
      } else if (owned_args_.empty()) {
        owned_args_.assign(args_.begin(), args_.end());
        args_.assign(owned_args_.begin(), owned_args_.end());
      }
      cluster_waiting_ = true;
      UpdateReading();
      break;
    }
    if (dispatcher.MustWaitForFetch(client_, args_)) {
      // The command stays parsed (its arguments still in the input buffer)
      // until the replicas answer.
      cluster_waiting_ = true;
      UpdateReading();
      break;
    }
    const size_t reply_mark = out_.size();
    RunCommand();
    if (closing_) return;
    if (client_.cluster_wait) {
      // The dispatcher holds this command's reply until its write quorum
      // is decided, or until a read's replicas have answered; later
      // commands run meanwhile, their replies queued behind it.
      client_.cluster_wait = false;
      held_.push_back(HeldReply{client_.wait_seq, false, {}, client_.wait_is_read});
      if (client_.wait_is_read) ++pending_reads_;
      if (client_.wait_stops_input) {  // a busy script: resumed by ReleaseHeldReply
        client_.wait_stops_input = false;
        cluster_waiting_ = true;
        UpdateReading();
        break;
      }
    } else if (!held_.empty() && out_.size() > reply_mark) {
      std::string later = out_.substr(reply_mark);
      out_.resize(reply_mark);
      AppendInOrder(later);
    }
    if (held_.size() >= kMaxHeldReplies) {
      cluster_waiting_ = true;
      UpdateReading();
      break;
    }
    if (out_.size() >= kEagerFlushBytes) Flush();
    if (closing_ || CheckOutputLimit(uv_now(server_->loop()))) return;
    if (pending_output() >= kPauseReadingBytes) {
      spdlog::warn("client {} ({}) is not reading its replies ({} bytes pending): pausing its "
                   "requests until it does", client_.id, client_.addr, pending_output());
      output_paused_ = true;
      UpdateReading();
    }
  }
  if (closing_) return;
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
    if (in_.size() > kKeepCapacity) std::string().swap(in_);
  }
  MarkPending();
}

void Connection::RunCommand() {
  has_command_ = false;
  server_->dispatcher().Dispatch(client_, args_, writer_);
  owned_args_.clear();
  in_start_ += command_bytes_;
  argv_bytes_ = 0;
  reply_peak_ = std::max(reply_peak_, out_.size());
  if (client_.close_after_reply) CloseAfterFlush();
  server_->AfterCommand();
}

void Connection::Block() {
  blocked_ = true;
  client_.blocked = true;
  UpdateReading();
  server_->AddBlocked(this);
}

void Connection::Unblock() {
  if (!blocked_ || closing_) return;
  blocked_ = false;
  client_.blocked = false;
  UpdateReading();
  ProcessInput();
}

void Connection::AppendInOrder(std::string_view bytes) {
  if (bytes.empty()) return;
  if (held_.empty()) {
    out_.append(bytes);
  } else if (held_.back().ready) {
    held_.back().bytes.append(bytes);
  } else {
    held_.push_back(HeldReply{0, true, std::string(bytes)});
  }
}

void Connection::ReleaseHeldReply(uint64_t seq, std::string reply) {
  if (closing_) return;
  for (HeldReply& h : held_) {
    if (h.seq == seq && !h.ready) {
      h.bytes = std::move(reply);
      h.ready = true;
      if (h.read) --pending_reads_;
      break;
    }
  }
  while (!held_.empty() && held_.front().ready) {
    out_.append(held_.front().bytes);
    held_.pop_front();
  }
  MarkPending();
  // A client stopped for holding too many replies goes on (a client
  // waiting for a fetch stays waiting: that command has not run).
  if (waiting_reads_ && pending_reads_ == 0) waiting_reads_ = false;
  if (cluster_waiting_ && !client_.cluster_wait && !waiting_reads_ &&
      held_.size() < kMaxHeldReplies) {
    cluster_waiting_ = false;
    UpdateReading();
    ProcessInput();
  }
}

void Connection::RerunRead(uint64_t seq, std::vector<std::string> args, int db) {
  if (closing_) return;
  // Run as the command ran then: its database, outside any transaction the
  // client has opened since, without taking a CLIENT REPLY SKIP meant for
  // a later command; `fetched` keeps it from being held again.
  std::string reply;
  resp::Writer writer(&reply, client_.protocol);
  const int saved_db = client_.db;
  const bool saved_multi = client_.in_multi;
  const bool saved_skip = client_.skip_next_reply;
  const bool saved_off = client_.reply_off;
  client_.db = db;
  client_.in_multi = false;
  client_.skip_next_reply = false;
  client_.reply_off = false;
  client_.fetched = true;
  std::vector<std::string_view> views(args.begin(), args.end());
  server_->dispatcher().Dispatch(client_, views, writer);
  client_.db = saved_db;
  client_.in_multi = saved_multi;
  client_.skip_next_reply = saved_skip;
  client_.reply_off = saved_off;
  ReleaseHeldReply(seq, std::move(reply));
}

void Connection::ResumeFromCluster(std::string_view reply, bool run_command) {
  if (!cluster_waiting_ || closing_) return;
  cluster_waiting_ = false;
  client_.cluster_wait = false;
  UpdateReading();
  AppendInOrder(reply);
  if (has_command_) {
    if (run_command) {
      client_.fetched = true;
    } else {
      // The read could not reach its quorum (or a blocking command timed
      // out): its reply is given, and the command goes.
      has_command_ = false;
      owned_args_.clear();
      in_start_ += command_bytes_;
      argv_bytes_ = 0;
    }
  }
  ProcessInput();
}

void Connection::Cron(int64_t wall_ms, int64_t loop_ms) {
  const int timeout_s = server_->state().config.timeout;
  // As in Redis, a client waiting for a pause or in a blocking command is not idle.
  if (timeout_s > 0 && !blocked_ && !client_.blocked_on_keys &&
      wall_ms - client_.last_interaction_ms > static_cast<int64_t>(timeout_s) * 1000) {
    spdlog::debug("Closing idle client {}", Describe());
    Close();
    return;
  }
  // A client that stopped reading stays over the soft limit without adding
  // replies: only the timer notices its time is up.
  if (CheckOutputLimit(loop_ms)) return;
  if (loop_ms - reply_peak_reset_ms_ >= kReplyPeakWindowMs) {
    reply_peak_ = out_.size();
    reply_peak_reset_ms_ = loop_ms;
  }
  if (wall_ms - client_.last_interaction_ms >= kIdleReleaseMs) ReleaseIdleBuffers();
}

void Connection::ReleaseIdleBuffers() {
  // Unconsumed input (a partial or waiting command) keeps its buffer: the
  // parser and args_ refer to it.
  if (in_start_ == in_end_ && !has_command_ && in_.capacity() != 0) {
    in_start_ = in_end_ = 0;
    std::string().swap(in_);
  }
  if (out_.empty() && out_.capacity() != 0) std::string().swap(out_);
  if (!write_in_flight_ && sending_.capacity() != 0) {
    std::string().swap(sending_);
    sending_offset_ = 0;
  }
}

void Connection::Push(std::string_view bytes) {
  if (closing_ || client_.close_asap) return;
  AppendInOrder(bytes);
  MarkPending();
  if (OutputLimitReached(OutputLimit(), pending_output(), uv_now(server_->loop()),
                         &soft_limit_since_ms_)) {
    spdlog::warn("Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                 Describe());
    ++server_->state().stats.client_output_buffer_limit_disconnections;
    client_.close_asap = true;
    server_->state().clients_to_close.push_back(client_.id);
  }
}

const config::OutputBufferLimit& Connection::OutputLimit() const {
  // A monitor is of Redis's replica class; a subscribed client of the
  // pubsub class, whatever its protocol.
  const config::ClientClass cls = client_.monitor        ? config::kClientReplica
                                  : client_.subscribed() ? config::kClientPubsub
                                                         : config::kClientNormal;
  return server_->state().config.client_output_buffer_limit[cls];
}

bool Connection::CheckOutputLimit(int64_t loop_ms) {
  const config::OutputBufferLimit& limit = OutputLimit();
  if (!OutputLimitReached(limit, pending_output(), loop_ms, &soft_limit_since_ms_)) return false;
  spdlog::warn("Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
               Describe());
  ++server_->state().stats.client_output_buffer_limit_disconnections;
  Close();
  return true;
}

bool Connection::CheckQueryLimit() {
  const size_t bytes = query_bytes() + client_.queued_bytes;
  if (!QueryLimitReached(bytes, server_->state().config.client_query_buffer_limit,
                         client_.authenticated)) {
    return false;
  }
  spdlog::warn("Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
               Describe(),
               QuotedPrefix(std::string_view(in_.data() + in_start_, in_end_ - in_start_)));
  ++server_->state().stats.client_query_buffer_limit_disconnections;
  Close();
  return true;
}

std::string Connection::Describe() const {
  std::string text = command::DescribeClient(client_, command::WallClockMs());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

command::ClientIo Connection::Io() const {
  command::ClientIo io;
  io.qbuf = query_bytes();
  io.qbuf_free = in_.size() - in_end_;
  io.argv_mem = argv_bytes_;
  io.rbs = out_.capacity();
  io.rbp = std::max(reply_peak_, out_.size());
  io.oll = (out_.empty() ? 0 : 1) + (sending_.size() > sending_offset_ ? 1 : 0);
  io.omem = pending_output();
  io.tot_mem = sizeof(*this) + in_.capacity() + out_.capacity() + sending_.capacity();
  io.reading = reading_;
  io.writing = write_in_flight_;
  return io;
}

void Connection::MarkPending() {
  // A closed connection is freed in the loop's close phase: it must not be
  // listed for a flush in the next iteration.
  if (closing_) return;
  if (!pending_listed_ && (!out_.empty() || close_after_flush_)) {
    pending_listed_ = true;
    server_->AddPendingWrite(this);
  }
}

void Connection::Flush() {
  if (closing_) return;
  if (write_in_flight_) return;  // OnWrite flushes the rest
  if (!out_.empty()) {
    server_->FlushAppendLog();  // no reply before the writes it acknowledges are logged
    uv_buf_t bufs[kMaxWriteChunks];
    const unsigned nbufs = ChunkBufs(out_.data(), out_.size(), bufs);
    int n = uv_try_write(stream(), bufs, nbufs);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      spdlog::debug("client {} write error: {}", client_.id, uv_err_name(n));
      Close();
      return;
    }
    if (n > 0) client_.last_interaction_ms = server_->dispatcher().NowMs();
    server_->state().stats.total_net_output_bytes += static_cast<uint64_t>(n);
    if (n > 0) ++server_->state().stats.total_writes_processed;
    if (static_cast<size_t>(n) == out_.size()) {
      out_.clear();
      if (out_.capacity() > kKeepCapacity) std::string().swap(out_);
    } else {
      // The rest goes out with queued writes; new replies keep accumulating
      // in out_ meanwhile. Swapping hands over the unsent tail without a
      // copy, and gives out_ the previous send buffer to reuse.
      sending_.swap(out_);
      sending_offset_ = static_cast<size_t>(n);
      out_.clear();
      StartQueuedWrite();
      return;
    }
  }
  if (close_after_flush_ && held_.empty()) {
    Close();
    return;
  }
  if (output_paused_) {
    // Output drained: accept requests again, and parse what was left waiting.
    output_paused_ = false;
    UpdateReading();
    ProcessInput();
  }
}

bool Connection::StartQueuedWrite() {
  uv_buf_t bufs[kMaxWriteChunks];
  const size_t left = sending_.size() - sending_offset_;
  const unsigned nbufs = ChunkBufs(sending_.data() + sending_offset_, left, bufs);
  sending_now_ = std::min(left, kMaxWriteBytes);
  const int rc = uv_write(&write_req_, stream(), bufs, nbufs, OnWrite);
  if (rc != 0) {
    spdlog::debug("client {} uv_write failed: {}", client_.id, uv_err_name(rc));
    Close();
    return false;
  }
  write_in_flight_ = true;
  return true;
}

void Connection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->write_in_flight_ = false;
  if (status < 0) {
    spdlog::debug("client {} write failed: {}", self->client_.id, uv_err_name(status));
    self->Close();
    return;
  }
  self->client_.last_interaction_ms = self->server_->dispatcher().NowMs();
  self->server_->state().stats.total_net_output_bytes += self->sending_now_;
  ++self->server_->state().stats.total_writes_processed;
  self->sending_offset_ += self->sending_now_;
  self->sending_now_ = 0;
  // Only a reply above kMaxWriteBytes takes more than one queued write.
  if (self->sending_offset_ < self->sending_.size()) {
    self->StartQueuedWrite();
    return;
  }
  self->sending_.clear();
  self->sending_offset_ = 0;
  if (self->sending_.capacity() > kKeepCapacity) std::string().swap(self->sending_);
  self->Flush();
}

void Connection::CloseAfterFlush() {
  close_after_flush_ = true;
  UpdateReading();
  MarkPending();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  server_->OnConnectionClosed(this);
  uv_close(handle(), OnClose);
}

void Connection::OnClose(uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); }

}  // namespace causalkv::server
