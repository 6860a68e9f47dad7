#include "causalkv/util/split_args.h"

namespace causalkv::util {
namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// isspace() in the C locale; Redis uses it to skip blanks between arguments
// and to accept what follows a closing quote.
bool IsCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// An unquoted argument, though, ends only at these: "a\vb" is one argument
// in Redis, while a leading '\v' is skipped.
bool EndsBareArg(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads one argument starting at line[*i] (not a blank) into *storage.
// Returns false on unbalanced quotes or a closing quote glued to more text.
bool SplitOneArg(std::string_view line, size_t* i, std::string* storage) {
  const size_t n = line.size();
  size_t p = *i;
  enum class Mode { kBare, kDouble, kSingle };
  Mode mode = Mode::kBare;
  while (true) {
    if (mode == Mode::kBare) {
      if (p == n || EndsBareArg(line[p])) break;
      // A quote opens quoting even in mid-argument: foo"bar baz" is one
      // argument, `foobar baz`, as in Redis.
      if (line[p] == '"') {
        mode = Mode::kDouble;
      } else if (line[p] == '\'') {
        mode = Mode::kSingle;
      } else {
        storage->push_back(line[p]);
      }
      ++p;
      continue;
    }
    if (p == n) return false;  // the line ended inside quotes
    const char c = line[p];
    const char quote = mode == Mode::kDouble ? '"' : '\'';
    if (c == quote) {
      // Redis wants the closing quote followed by a blank or the end, so
      // `"a"b` is rejected instead of silently becoming `ab`.
      if (p + 1 < n && !IsCSpace(line[p + 1])) return false;
      ++p;
      break;
    }
    if (mode == Mode::kDouble && c == '\\' && p + 3 < n && line[p + 1] == 'x' &&
        IsHexDigit(line[p + 2]) && IsHexDigit(line[p + 3])) {
      storage->push_back(static_cast<char>(HexValue(line[p + 2]) * 16 + HexValue(line[p + 3])));
      p += 4;
    } else if (mode == Mode::kDouble && c == '\\' && p + 1 < n) {
      char e = line[p + 1];
      switch (e) {
        case 'n': e = '\n'; break;
        case 'r': e = '\r'; break;
        case 't': e = '\t'; break;
        case 'b': e = '\b'; break;
        case 'a': e = '\a'; break;
        default: break;  // \\, \" and any other \c stand for c
      }
      storage->push_back(e);
      p += 2;
    } else if (mode == Mode::kSingle && c == '\\' && p + 1 < n && line[p + 1] == '\'') {
      storage->push_back('\'');
      p += 2;
    } else {
      // Includes a backslash that is the line's last byte: kept literally,
      // and the missing closing quote then fails the line.
      storage->push_back(c);
      ++p;
    }
  }
  *i = p;
  return true;
}

}  // namespace

bool SplitArgs(std::string_view line, std::string* storage,
               std::vector<std::pair<size_t, size_t>>* spans) {
  storage->clear();
  spans->clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsCSpace(line[i])) ++i;
    if (i == line.size()) return true;
    const size_t start = storage->size();
    if (!SplitOneArg(line, &i, storage)) {
      storage->clear();
      spans->clear();
      return false;
    }
    spans->emplace_back(start, storage->size() - start);
  }
}

}  // namespace causalkv::util
