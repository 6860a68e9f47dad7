#include "causalkv/resp/writer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

namespace causalkv::resp {

namespace {

constexpr std::string_view kCrlf = "\r\n";

// Longest output of FormatDouble: "-" + 24 digits (a plain integer up to
// 1e24), or "-1.7976931348623157e+308"; keep slack.
constexpr size_t kDoubleBufSize = 48;

// Writes v the way Redis 7.2's d2string() does, so clients and tests see
// the bytes a real server would send: "nan", "inf"/"-inf", "0"/"-0",
// integral values within +-2^62 as integers, everything else as the
// shortest digits that read back to the same double, laid out by fpconv's
// rules (fixed notation for moderate exponents, otherwise "1.5e+300").
size_t FormatDouble(double v, char* buf) {
  char* const end = buf + kDoubleBufSize;
  if (std::isnan(v)) {
    std::memcpy(buf, "nan", 3);  // one spelling, whatever the NaN's sign or payload
    return 3;
  }
  if (std::isinf(v)) {
    if (v < 0) {
      std::memcpy(buf, "-inf", 4);
      return 4;
    }
    std::memcpy(buf, "inf", 3);
    return 3;
  }
  if (v == 0) {
    if (std::signbit(v)) {
      std::memcpy(buf, "-0", 2);
      return 2;
    }
    buf[0] = '0';
    return 1;
  }
  // Redis's integer fast path covers exactly this window (LLONG_MAX/2
  // rounds to 2^62 as a double), so 2^62 prints as an integer but 2^63
  // takes the exponent form.
  constexpr double kIntWindow = 4611686018427387904.0;  // 2^62
  if (v >= -kIntWindow && v <= kIntWindow) {
    const auto as_int = static_cast<int64_t>(v);
    if (static_cast<double>(as_int) == v) {
      return static_cast<size_t>(std::to_chars(buf, end, as_int).ptr - buf);
    }
  }

  // to_chars without a precision yields the shortest round-trip digits;
  // scientific form makes them easy to pick apart: "-d.ddde+XX".
  char sci[kDoubleBufSize];
  const char* sci_end = std::to_chars(sci, sci + sizeof(sci), v, std::chars_format::scientific).ptr;
  const char* p = sci;
  const bool negative = *p == '-';
  if (negative) ++p;
  char digits[24];
  int ndigits = 0;
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[ndigits++] = *p;
  }
  ++p;  // 'e'
  int exp10 = 0;  // v = d.ddd * 10^exp10
  std::from_chars(*p == '+' ? p + 1 : p, sci_end, exp10);
  const int scale = exp10 - (ndigits - 1);  // v = ddd * 10^scale
  const int abs_exp = exp10 < 0 ? -exp10 : exp10;

  char* out = buf;
  if (negative) *out++ = '-';
  if (scale >= 0 && abs_exp < ndigits + 7) {
    // A large integer that is still short to write out in full.
    std::memcpy(out, digits, ndigits);
    out += ndigits;
    std::memset(out, '0', scale);
    out += scale;
  } else if (scale < 0 && (scale > -7 || abs_exp < 4)) {
    const int int_digits = ndigits + scale;
    if (int_digits <= 0) {
      *out++ = '0';
      *out++ = '.';
      std::memset(out, '0', -int_digits);
      out += -int_digits;
      std::memcpy(out, digits, ndigits);
      out += ndigits;
    } else {
      std::memcpy(out, digits, int_digits);
      out += int_digits;
      *out++ = '.';
      std::memcpy(out, digits + int_digits, ndigits - int_digits);
      out += ndigits - int_digits;
    }
  } else {
    *out++ = digits[0];
    if (ndigits > 1) {
      *out++ = '.';
      std::memcpy(out, digits + 1, ndigits - 1);
      out += ndigits - 1;
    }
    *out++ = 'e';
    *out++ = exp10 < 0 ? '-' : '+';
    out = std::to_chars(out, end, abs_exp).ptr;
  }
  return static_cast<size_t>(out - buf);
}

// Overwrites CR and LF in the bytes appended since `from`, so text from a
// user (a key name in an error message, say) cannot end the reply early and
// smuggle in a second one.
void BlankLineBreaks(std::string* out, size_t from) {
  for (size_t i = from; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
}

}  // namespace

void Writer::Header(char prefix, int64_t n) {
  char buf[1 + 20 + 2];
  buf[0] = prefix;
  char* p = std::to_chars(buf + 1, buf + sizeof(buf), n).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out_->append(buf, static_cast<size_t>(p - buf));
}

void Writer::SimpleString(std::string_view s) {
  out_->push_back('+');
  const size_t from = out_->size();
  out_->append(s);
  // The contract forbids CR/LF; blanking them keeps a violation harmless.
  BlankLineBreaks(out_, from);
  out_->append(kCrlf);
}

void Writer::Error(std::string_view text) {
  if (text.empty() || text[0] != '-') out_->append("-ERR ");
  const size_t from = out_->size();
  out_->append(text);
  BlankLineBreaks(out_, from);
  out_->append(kCrlf);
}

void Writer::Integer(int64_t v) { Header(':', v); }

void Writer::Bulk(std::string_view s) {
  // A short bulk string (most replies) is one append: each append costs a
  // capacity check and a call.
  constexpr size_t kShort = 64;
  char buf[1 + 20 + 2 + kShort + 2];
  buf[0] = '$';
  char* p = std::to_chars(buf + 1, buf + 21, s.size()).ptr;
  *p++ = '\r';
  *p++ = '\n';
  if (s.size() <= kShort) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());  // data() may be null
    p += s.size();
    *p++ = '\r';
    *p++ = '\n';
    out_->append(buf, static_cast<size_t>(p - buf));
    return;
  }
  out_->append(buf, static_cast<size_t>(p - buf));
  out_->append(s);
  out_->append(kCrlf);
}

void Writer::Null() { out_->append(protocol_ >= 3 ? "_\r\n" : "$-1\r\n"); }

void Writer::NullArray() { out_->append(protocol_ >= 3 ? "_\r\n" : "*-1\r\n"); }

void Writer::ArrayHeader(int64_t n) { Header('*', n); }

void Writer::MapHeader(int64_t n) {
  if (protocol_ >= 3) {
    Header('%', n);
  } else {
    Header('*', n * 2);
  }
}

void Writer::SetHeader(int64_t n) { Header(protocol_ >= 3 ? '~' : '*', n); }

void Writer::PushHeader(int64_t n) { Header(protocol_ >= 3 ? '>' : '*', n); }

void Writer::Double(double v) {
  char buf[kDoubleBufSize];
  const size_t len = FormatDouble(v, buf);
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(buf, len);
    out_->append(kCrlf);
  } else {
    Bulk(std::string_view(buf, len));
  }
}

void Writer::DoubleText(std::string_view text) {
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(text);
    out_->append(kCrlf);
  } else {
    Bulk(text);
  }
}

std::string DoubleToString(double v) {
  char buf[kDoubleBufSize];
  return std::string(buf, FormatDouble(v, buf));
}

void Writer::Bool(bool v) {
  if (protocol_ >= 3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n");
  }
}

void Writer::Verbatim(std::string_view format, std::string_view text) {
  if (protocol_ < 3) {
    Bulk(text);
    return;
  }
  // The prefix is fixed-width on the wire; a wrong-sized format would make
  // the announced length lie, so fall back to plain text.
  assert(format.size() == 3);
  if (format.size() != 3) format = "txt";
  Header('=', static_cast<int64_t>(text.size() + 4));
  out_->append(format);
  out_->push_back(':');
  out_->append(text);
  out_->append(kCrlf);
}

}  // namespace causalkv::resp
