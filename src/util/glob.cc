// Glob matching with Redis 7 stringmatchlen() semantics, but iterative.
//
// Redis walks '*' by recursion, which needs a nesting cap and a pruning flag
// to stay usable on hostile patterns. Here every token other than '*' consumes
// exactly one subject byte, so remembering only the most recent '*' is enough:
// when a later token fails, that star absorbs one more byte and matching
// resumes right after it. Earlier stars never need revisiting, because the
// star-free segment they precede was placed at its leftmost possible position,
// which leaves the most subject for everything after it. That bounds the work
// at O(pattern * subject) with constant stack.
#include "causalkv/util/glob.h"

#include <cstddef>

namespace causalkv::util {
namespace {

constexpr size_t kNoStar = static_cast<size_t>(-1);

// ASCII-only so that results never depend on the process locale.
unsigned char Lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

bool SameByte(unsigned char a, unsigned char b, bool nocase) {
  return a == b || (nocase && Lower(a) == Lower(b));
}

// The class starting at pattern[*pos] == '['. Quirks kept from Redis so that
// patterns behave exactly as clients expect from a real server:
//  - an unterminated class runs to the end of the pattern;
//  - a leading ']' closes the class at once ("[]" matches nothing);
//  - "x-y" is a range whenever a '-' follows, even when y is ']';
//  - reversed ranges ("[z-a]") are swapped, then lowered under nocase;
//  - an escaped byte inside a class is compared case-sensitively.
bool MatchClass(std::string_view pattern, size_t* pos, unsigned char c, bool nocase) {
  const size_t n = pattern.size();
  size_t i = *pos + 1;
  const bool negate = i < n && pattern[i] == '^';
  if (negate) ++i;
  bool match = false;
  while (i < n) {
    const auto p = static_cast<unsigned char>(pattern[i]);
    if (p == '\\' && i + 1 < n) {
      if (static_cast<unsigned char>(pattern[i + 1]) == c) match = true;
      i += 2;
    } else if (p == ']') {
      ++i;
      break;
    } else if (i + 2 < n && pattern[i + 1] == '-') {
      unsigned char lo = p;
      unsigned char hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo > hi) {
        const unsigned char t = lo;
        lo = hi;
        hi = t;
      }
      unsigned char subject = c;
      if (nocase) {
        lo = Lower(lo);
        hi = Lower(hi);
        subject = Lower(subject);
      }
      if (subject >= lo && subject <= hi) match = true;
      i += 3;
    } else {
      if (SameByte(p, c, nocase)) match = true;
      ++i;
    }
  }
  *pos = i;
  return match != negate;
}

// Matches the one-byte token at pattern[*pos] ('?', a class, an escape or a
// literal) against `c` and moves *pos past it. Where a token ends never
// depends on `c`, so the caller can retry it at another subject position.
bool MatchToken(std::string_view pattern, size_t* pos, unsigned char c, bool nocase) {
  size_t i = *pos;
  switch (pattern[i]) {
    case '?':
      *pos = i + 1;
      return true;
    case '[':
      return MatchClass(pattern, pos, c, nocase);
    case '\\':
      // A trailing backslash has nothing to escape and stands for itself.
      if (i + 1 < pattern.size()) ++i;
      [[fallthrough]];
    default:
      *pos = i + 1;
      return SameByte(static_cast<unsigned char>(pattern[i]), c, nocase);
  }
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase) {
  // Redis 7 only looks at the pattern while subject bytes remain, so an empty
  // subject matches nothing but the empty pattern, not even "*".
  if (subject.empty()) return pattern.empty();

  const size_t m = pattern.size();
  const size_t n = subject.size();
  size_t p = 0;
  size_t s = 0;
  size_t star_p = kNoStar;  // pattern index just past the latest run of '*'
  size_t star_s = 0;        // subject index where that star's match ends for now
  while (s < n) {
    if (p < m && pattern[p] == '*') {
      while (p < m && pattern[p] == '*') ++p;
      if (p == m) return true;
      star_p = p;
      star_s = s;
      continue;
    }
    if (p < m) {
      size_t next = p;
      if (MatchToken(pattern, &next, static_cast<unsigned char>(subject[s]), nocase)) {
        p = next;
        ++s;
        continue;
      }
    }
    if (star_p == kNoStar) return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < m && pattern[p] == '*') ++p;
  return p == m;
}

}  // namespace causalkv::util
