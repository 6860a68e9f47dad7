#include "connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server.h"

namespace causalkv::server {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// Past this much unsent output, replies are pushed to the socket right away
// instead of waiting for the end of the loop iteration.
constexpr size_t kEagerFlushBytes = 64 * 1024;
// Past this much unsent output, stop reading requests until the client reads
// its replies: a client that pipelines without reading cannot grow our memory
// without bound, and other clients are unaffected.
constexpr size_t kPauseReadingBytes = 16 * 1024 * 1024;
// Buffers above this capacity are given back once empty.
constexpr size_t kKeepCapacity = 64 * 1024;

}  // namespace

Connection::Connection(Server* server, uint64_t id)
    : server_(server), parser_(server->parser_limits()), writer_(&out_, 2) {
  client_.id = id;
  tcp_.data = this;
  write_req_.data = this;
}

Connection::~Connection() = default;

bool Connection::Start() {
  const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  if (rc != 0) {
    spdlog::warn("uv_read_start failed: {}", uv_err_name(rc));
    return false;
  }
  reading_ = true;
  return true;
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
  if (nread < 0) {
    if (nread != UV_EOF) spdlog::debug("client {} read error: {}", self->client_.id,
                                       uv_err_name(static_cast<int>(nread)));
    self->Close();
    return;
  }
  if (nread == 0) return;
  self->in_end_ += static_cast<size_t>(nread);
  self->server_->state().stats.total_net_input_bytes += static_cast<uint64_t>(nread);
  self->ProcessInput();
}

void Connection::ProcessInput() {
  command::Dispatcher& dispatcher = server_->dispatcher();
  while (in_start_ < in_end_ && !close_after_flush_ && !closing_) {
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
    if (!args_.empty()) {
      client_.query_buffer_bytes = in_end_ - in_start_;
      client_.output_buffer_bytes = out_.size() + sending_.size();
      dispatcher.Dispatch(client_, args_, writer_);
      if (client_.close_after_reply) CloseAfterFlush();
      if (server_->state().shutdown_requested) server_->RequestShutdown();
    }
    in_start_ += consumed;
    if (out_.size() >= kEagerFlushBytes) Flush();
    if (out_.size() + sending_.size() >= kPauseReadingBytes && reading_) {
      spdlog::warn("client {} ({}) is not reading its replies ({} bytes pending): pausing its "
                   "requests until it does", client_.id, client_.addr,
                   out_.size() + sending_.size());
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      reading_ = false;
      break;
    }
  }
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
    if (in_.size() > kKeepCapacity) std::string().swap(in_);
  }
  MarkPending();
}

void Connection::MarkPending() {
  if (!pending_listed_ && (!out_.empty() || close_after_flush_)) {
    pending_listed_ = true;
    server_->AddPendingWrite(this);
  }
}

void Connection::Flush() {
  pending_listed_ = false;
  if (closing_) return;
  if (write_in_flight_) return;  // OnWrite flushes the rest
  if (!out_.empty()) {
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      spdlog::debug("client {} write error: {}", client_.id, uv_err_name(n));
      Close();
      return;
    }
    server_->state().stats.total_net_output_bytes += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) == out_.size()) {
      out_.clear();
      if (out_.capacity() > kKeepCapacity) std::string().swap(out_);
    } else {
      // The rest goes out with one queued write; new replies keep
      // accumulating in out_ meanwhile.
      sending_.assign(out_, static_cast<size_t>(n));
      out_.clear();
      buf = uv_buf_init(sending_.data(), static_cast<unsigned>(sending_.size()));
      const int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
      if (rc != 0) {
        spdlog::debug("client {} uv_write failed: {}", client_.id, uv_err_name(rc));
        Close();
        return;
      }
      write_in_flight_ = true;
      return;
    }
  }
  if (close_after_flush_) {
    Close();
    return;
  }
  if (!reading_ && !closing_) {
    // Output drained: accept requests again, and parse what was left waiting.
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
    ProcessInput();
  }
}

void Connection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->write_in_flight_ = false;
  if (status < 0) {
    spdlog::debug("client {} write failed: {}", self->client_.id, uv_err_name(status));
    self->Close();
    return;
  }
  self->server_->state().stats.total_net_output_bytes += self->sending_.size();
  self->sending_.clear();
  if (self->sending_.capacity() > kKeepCapacity) std::string().swap(self->sending_);
  self->Flush();
}

void Connection::CloseAfterFlush() {
  close_after_flush_ = true;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
  MarkPending();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  server_->OnConnectionClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
}

void Connection::OnClose(uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); }

}  // namespace causalkv::server
