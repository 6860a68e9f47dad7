// Connection: one client socket. Owns its input buffer (requests are parsed
// in place), its output buffer (replies batched until the loop is about to
// poll) and its ClientState.
//
// Life: created by the listener on accept, destroyed in the uv_close
// callback. Close() may be called any number of times.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/resp/parser.h"
#include "causalkv/resp/writer.h"

namespace causalkv::server {

class Server;

class Connection {
 public:
  Connection(Server* server, uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_tcp_t* tcp() { return &tcp_; }
  command::ClientState& client() { return client_; }

  // Starts reading; call once after accept.
  bool Start();
  // Sends what is pending; called from the server's prepare hook (once per
  // loop iteration) and when output grows large.
  void Flush();
  bool HasPendingOutput() const { return !out_.empty(); }
  // Closes once pending output is sent (graceful) or at once.
  void CloseAfterFlush();
  void Close();
  bool closing() const { return closing_; }

 private:
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  void ProcessInput();
  void CompactInput();
  void MarkPending();

  Server* server_;
  uv_tcp_t tcp_;
  uv_write_t write_req_;
  command::ClientState client_;
  resp::Parser parser_;
  std::vector<std::string_view> args_;

  // Input: bytes [in_start_, in_end_) of in_ are received but not consumed.
  std::string in_;
  size_t in_start_ = 0;
  size_t in_end_ = 0;

  // Output: replies appended to out_; sending_ is the buffer of the one
  // uv_write in flight (if any), from sending_offset_ on.
  std::string out_;
  resp::Writer writer_;
  std::string sending_;
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool pending_listed_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;

  friend class Server;
};

}  // namespace causalkv::server
