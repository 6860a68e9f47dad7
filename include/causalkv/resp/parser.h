// Incremental RESP2 request parser: multibulk (`*N\r\n$len\r\n...`) and inline
// commands (a plain text line, split with Redis's quoting rules).
//
// The parser never owns the connection's input buffer. Parse() looks at the
// bytes not yet consumed, and either returns one whole command or remembers
// how far it got, so a request split at any byte boundary costs O(bytes), not
// O(bytes * reads). Multibulk arguments are views into the caller's buffer
// (zero copy); inline arguments are unescaped into the parser's own storage.
//
// Thread-compatibility: one Parser per connection, used from that
// connection's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::resp {

enum class ParseStatus {
  kOk,             // one command parsed; *consumed bytes of input belong to it
  kNeedMore,       // the command is incomplete; call again with the same bytes plus more
  kProtocolError,  // the input is malformed; error() says why; the connection must close
};

struct ParserLimits {
  uint64_t max_bulk_len = 512ull * 1024 * 1024;  // proto-max-bulk-len
  size_t max_inline_len = 64 * 1024;             // inline request, and any header line
  int64_t max_multibulk_len = 1024 * 1024;       // number of arguments
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {});

  // Parses at most one command from data[0, len), which must start where the
  // previous kOk left off (the caller drops consumed bytes; it may move the
  // remaining ones between calls, but must pass them again, unchanged, plus
  // any new bytes).
  //
  // kOk: *consumed is set, *args holds the command's arguments. Views into
  //   `data` stay valid while the caller keeps those bytes; views into the
  //   parser's storage stay valid until the next Parse(). An empty line or
  //   `*0`/`*-1` gives kOk with empty *args (Redis ignores those).
  // kNeedMore: *consumed is 0; the parser keeps its progress.
  // kProtocolError: error() is Redis's text, e.g. "Protocol error: invalid bulk length".
  ParseStatus Parse(const char* data, size_t len, size_t* consumed,
                    std::vector<std::string_view>* args);

  // Total bytes the command in progress needs, when a bulk header has told
  // it; 0 when unknown. Lets the caller reserve room for a large value once.
  size_t BytesWanted() const;

  const std::string& error() const { return error_; }
  void set_limits(const ParserLimits& limits) { limits_ = limits; }

  // Forgets any partial command.
  void Reset();

 private:
  // The common case in one pass and no state: a whole multibulk command
  // already in `data`, with short canonical headers. False (and *args empty)
  // for anything else, which the general path then parses, errors included.
  // REQUIRES: data[0] == '*', no command in progress.
  bool ParseWhole(const char* data, size_t len, size_t* consumed,
                  std::vector<std::string_view>* args);

  ParserLimits limits_;
  std::string error_;
  // Progress through the current multibulk command: offsets are relative to
  // the start of the command, so the caller may move its buffer.
  int64_t args_expected_ = -1;  // -1: header not parsed yet
  size_t pos_ = 0;              // bytes of the command examined so far
  int64_t bulk_len_ = -1;       // length of the bulk being read, -1 if none
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length)
  std::string inline_storage_;
  std::vector<std::pair<size_t, size_t>> inline_spans_;
};

}  // namespace causalkv::resp
