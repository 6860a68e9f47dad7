#include "split_args.h"

#include <cstddef>

namespace causalkv::config::internal {
namespace {

// Blanks skipped between arguments. Redis uses isspace() here, which (in the
// C locale) also accepts \v and \f.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Bytes that end an unquoted argument. Narrower than IsBlank() on purpose:
// Redis keeps \v and \f inside an unquoted argument.
bool EndsBareArg(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class Quote { kNone, kDouble, kSingle };

}  // namespace

bool SplitArgs(std::string_view line, std::vector<std::string>* args) {
  args->clear();
  const size_t n = line.size();
  size_t i = 0;
  while (true) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n) return true;

    std::string current;
    Quote quote = Quote::kNone;
    bool done = false;
    while (!done) {
      if (quote == Quote::kDouble) {
        if (i == n) return false;  // unterminated
        const char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          current.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 4;
        } else if (c == '\\' && i + 1 < n) {
          char unescaped = line[i + 1];
          switch (unescaped) {
            case 'n':
              unescaped = '\n';
              break;
            case 'r':
              unescaped = '\r';
              break;
            case 't':
              unescaped = '\t';
              break;
            case 'b':
              unescaped = '\b';
              break;
            case 'a':
              unescaped = '\a';
              break;
            default:
              break;
          }
          current.push_back(unescaped);
          i += 2;
        } else if (c == '"') {
          if (i + 1 < n && !IsBlank(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          current.push_back(c);
          ++i;
        }
      } else if (quote == Quote::kSingle) {
        if (i == n) return false;  // unterminated
        const char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          current.push_back('\'');
          i += 2;
        } else if (c == '\'') {
          if (i + 1 < n && !IsBlank(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          current.push_back(c);
          ++i;
        }
      } else {
        if (i == n || EndsBareArg(line[i])) {
          done = true;
        } else if (line[i] == '"') {
          quote = Quote::kDouble;
          ++i;
        } else if (line[i] == '\'') {
          quote = Quote::kSingle;
          ++i;
        } else {
          current.push_back(line[i]);
          ++i;
        }
      }
    }
    args->push_back(std::move(current));
  }
}

std::string QuoteArg(std::string_view arg) {
  bool plain = !arg.empty();
  for (const char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7f || c == '"' || c == '\'' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(arg);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (u < ' ' || u >= 0x7f) {
          out += "\\x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace causalkv::config::internal
