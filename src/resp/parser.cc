#include "causalkv/resp/parser.h"

#include "causalkv/util/split_args.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace causalkv::resp {

namespace {

// Redis takes a length only in canonical decimal form: "0", or an optional
// '-' then digits with no leading zero. '+', spaces, "-0" and overflow are
// all rejected, so "*01" or "$ 3" is a protocol error rather than a guess.
bool ParseCanonicalInt(const char* s, size_t n, int64_t* out) {
  // Redis rejects anything of 21 characters or more before looking at it.
  if (n == 0 || n > 20) return false;
  if (n == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i == n || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    // Every length header goes through here: overflow flags, not a division per digit.
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, digit, &v)) return false;
  }
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > kMax + 1) return false;
    // Negate in unsigned arithmetic so INT64_MIN does not overflow.
    *out = static_cast<int64_t>(~v + 1);
  } else {
    if (v > kMax) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

size_t DecimalDigits(uint64_t v) {
  size_t digits = 1;
  while (v >= 10) {
    v /= 10;
    ++digits;
  }
  return digits;
}

// A header number on the fast path: 1..kFastDigits digits ending in '\r', the
// first not '0' (so "0" itself, signs and anything longer are left to the
// general path). *p moves past the "\r\n". False when anything differs or
// the line is incomplete; the byte after '\r' is not checked (as Redis).
constexpr size_t kFastDigits = 18;  // cannot overflow int64
inline bool FastNumber(const char* data, size_t len, size_t* p, int64_t* out) {
  size_t i = *p;
  if (i >= len || data[i] < '1' || data[i] > '9') return false;
  const size_t limit = std::min(len, i + kFastDigits);
  int64_t v = 0;
  for (; i < limit && data[i] >= '0' && data[i] <= '9'; ++i) v = v * 10 + (data[i] - '0');
  if (i + 1 >= len || data[i] != '\r') return false;
  *p = i + 2;
  *out = v;
  return true;
}

enum class LineScan { kFound, kNeedMore, kTooLong };

// Looks for the '\r' ending a header line that starts at line_start. *scan
// is where an earlier call stopped (every byte before it is known not to be
// '\r'), so a header trickling in byte by byte is scanned once overall.
// kFound leaves *scan on the '\r'. Like Redis, the byte after '\r' is taken
// to be '\n' without checking; Redis only insists that it has arrived.
LineScan ScanHeaderLine(const char* data, size_t len, size_t line_start,
                        size_t max_line, size_t* scan) {
  if (len < line_start) return LineScan::kNeedMore;  // caller passed fewer bytes than before
  size_t from = std::max(*scan, line_start);
  const void* cr = from < len ? std::memchr(data + from, '\r', len - from) : nullptr;
  if (cr == nullptr) {
    // Redis measures from the line's start to the end of what it has, and
    // only when no '\r' is in sight.
    if (len - line_start > max_line) return LineScan::kTooLong;
    *scan = len;
    return LineScan::kNeedMore;
  }
  *scan = static_cast<size_t>(static_cast<const char*>(cr) - data);
  if (*scan + 1 >= len) return LineScan::kNeedMore;  // the '\n' is still to come
  return LineScan::kFound;
}

}  // namespace

Parser::Parser(ParserLimits limits) : limits_(limits) {}

void Parser::Reset() {
  args_expected_ = -1;
  pos_ = 0;
  bulk_len_ = -1;
  arg_spans_.clear();
  // inline_storage_ is left alone: the last kOk's views may still point at it.
}

size_t Parser::BytesWanted() const {
  if (bulk_len_ < 0) return 0;
  const size_t bulk = static_cast<size_t>(bulk_len_);
  const size_t max = std::numeric_limits<size_t>::max();
  if (bulk > max - 2 || pos_ > max - 2 - bulk) return max;
  return pos_ + bulk + 2;
}

bool Parser::ParseWhole(const char* data, size_t len, size_t* consumed,
                        std::vector<std::string_view>* args) {
  // Header lines here are at most kFastDigits + 3 bytes: within any sane line limit.
  if (limits_.max_inline_len < kFastDigits + 3) return false;
  size_t p = 1;  // data[0] == '*'
  int64_t count;
  if (!FastNumber(data, len, &p, &count) || count > limits_.max_multibulk_len) return false;
  for (int64_t i = 0; i < count; ++i) {
    int64_t bulk_len;
    if (p >= len || data[p] != '$') break;
    ++p;
    if (p < len && data[p] == '0') {
      // "$0": the empty string, the one canonical length starting with '0'.
      if (p + 2 >= len || data[p + 1] != '\r') break;
      bulk_len = 0;
      p += 3;
    } else if (!FastNumber(data, len, &p, &bulk_len) ||
               static_cast<uint64_t>(bulk_len) > limits_.max_bulk_len) {
      break;
    }
    const size_t need = static_cast<size_t>(bulk_len) + 2;
    if (len - p < need) break;
    args->emplace_back(data + p, static_cast<size_t>(bulk_len));
    p += need;
  }
  if (static_cast<int64_t>(args->size()) != count) {
    args->clear();
    return false;
  }
  *consumed = p;
  pos_ = 0;  // a previous kNeedMore may have scanned part of the header
  return true;
}

ParseStatus Parser::Parse(const char* data, size_t len, size_t* consumed,
                          std::vector<std::string_view>* args) {
  *consumed = 0;
  args->clear();
  if (len == 0) return ParseStatus::kNeedMore;

  auto fail = [this](std::string message) {
    error_ = std::move(message);
    Reset();
    return ParseStatus::kProtocolError;
  };

  if (data[0] != '*') {
    // Inline command. pos_ counts bytes already known to hold no '\n'.
    const size_t from = std::min(pos_, len);
    const void* nl = std::memchr(data + from, '\n', len - from);
    if (nl == nullptr) {
      if (len > limits_.max_inline_len) return fail("Protocol error: too big inline request");
      pos_ = len;
      return ParseStatus::kNeedMore;
    }
    const size_t nl_at = static_cast<size_t>(static_cast<const char*>(nl) - data);
    size_t line_len = nl_at;
    if (line_len > 0 && data[line_len - 1] == '\r') --line_len;
    if (!util::SplitArgs(std::string_view(data, line_len), &inline_storage_, &inline_spans_)) {
      return fail("Protocol error: unbalanced quotes in request");
    }
    args->reserve(inline_spans_.size());
    for (const auto& [offset, length] : inline_spans_) {
      args->emplace_back(inline_storage_.data() + offset, length);
    }
    *consumed = nl_at + 1;
    Reset();
    return ParseStatus::kOk;
  }

  if (args_expected_ < 0 && ParseWhole(data, len, consumed, args)) return ParseStatus::kOk;

  if (args_expected_ < 0) {
    switch (ScanHeaderLine(data, len, 0, limits_.max_inline_len, &pos_)) {
      case LineScan::kTooLong:
        return fail("Protocol error: too big mbulk count string");
      case LineScan::kNeedMore:
        return ParseStatus::kNeedMore;
      case LineScan::kFound:
        break;
    }
    int64_t count = 0;
    if (!ParseCanonicalInt(data + 1, pos_ - 1, &count) || count > limits_.max_multibulk_len) {
      return fail("Protocol error: invalid multibulk length");
    }
    if (count <= 0) {
      // Redis drops "*0", "*-1" and any other non-positive count silently.
      *consumed = pos_ + 2;
      Reset();
      return ParseStatus::kOk;
    }
    args_expected_ = count;
    pos_ += 2;
    arg_spans_.clear();
    // The count is untrusted: a 20-byte header must not reserve megabytes.
    arg_spans_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
  }

  while (static_cast<int64_t>(arg_spans_.size()) < args_expected_) {
    if (bulk_len_ < 0) {
      // The line starts right after the previous bulk's CRLF, or after the
      // "*<count>\r\n" header, whose length follows from the count because
      // only canonical numbers were accepted.
      size_t line_start;
      if (arg_spans_.empty()) {
        line_start = 1 + DecimalDigits(static_cast<uint64_t>(args_expected_)) + 2;
      } else {
        line_start = arg_spans_.back().first + arg_spans_.back().second + 2;
      }
      switch (ScanHeaderLine(data, len, line_start, limits_.max_inline_len, &pos_)) {
        case LineScan::kTooLong:
          return fail("Protocol error: too big bulk count string");
        case LineScan::kNeedMore:
          return ParseStatus::kNeedMore;
        case LineScan::kFound:
          break;
      }
      if (data[line_start] != '$') {
        return fail(std::string("Protocol error: expected '$', got '") + data[line_start] + "'");
      }
      int64_t bulk_len = 0;
      if (!ParseCanonicalInt(data + line_start + 1, pos_ - line_start - 1, &bulk_len) ||
          bulk_len < 0 || static_cast<uint64_t>(bulk_len) > limits_.max_bulk_len) {
        return fail("Protocol error: invalid bulk length");
      }
      bulk_len_ = bulk_len;
      pos_ += 2;
    }
    // Like Redis, the two bytes after the value are skipped unchecked: the
    // length, not a terminator, delimits a binary-safe value.
    const size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (pos_ > len || len - pos_ < need) return ParseStatus::kNeedMore;
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    bulk_len_ = -1;
  }

  args->reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) args->emplace_back(data + offset, length);
  *consumed = pos_;
  Reset();
  // One huge MSET should not pin its span table for the connection's lifetime.
  if (arg_spans_.capacity() > 4096) std::vector<std::pair<size_t, size_t>>().swap(arg_spans_);
  return ParseStatus::kOk;
}

}  // namespace causalkv::resp
