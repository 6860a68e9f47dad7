// Fuzz target: util::GlobMatch (KEYS, SCAN MATCH, CONFIG GET patterns).
//
// Checks, beyond not crashing:
//   - GlobMatch agrees with RefMatch below, a plain recursive matcher written
//     the way Redis 7's stringmatchlen() is (without its 1000-level nesting
//     cap, and with bytes unsigned, as util/glob.h and its tests specify),
//     for random patterns and subjects, with and without nocase;
//   - a pattern that escapes every byte of a subject matches that subject
//     and nothing one byte shorter.
// Input: a nocase flag, then a pattern and a subject (FuzzedDataProvider).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "causalkv/util/glob.h"
#include "fuzz_support.h"

namespace {

using Byte = unsigned char;

Byte Lower(Byte c) { return (c >= 'A' && c <= 'Z') ? static_cast<Byte>(c - 'A' + 'a') : c; }

bool SameByte(Byte a, Byte b, bool nocase) { return nocase ? Lower(a) == Lower(b) : a == b; }

// *skip_longer: no match for the rest of the pattern anywhere in the rest of
// the subject, so no earlier '*' needs to absorb more (Redis's pruning; it
// changes no result, only keeps the recursion polynomial).
bool RefMatch(const Byte* p, size_t plen, const Byte* s, size_t slen, bool nocase,
              bool* skip_longer) {
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (RefMatch(p + 1, plen - 1, s, slen, nocase, skip_longer)) return true;
          if (*skip_longer) return false;
          ++s;
          --slen;
        }
        *skip_longer = true;
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        const bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        for (;;) {
          if (plen == 0) {  // unterminated: the class ran to the end
            --p;
            ++plen;
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) match = true;  // escaped: exact, even with nocase
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            Byte lo = p[0];
            Byte hi = p[2];
            Byte c = s[0];
            if (lo > hi) std::swap(lo, hi);
            if (nocase) {
              lo = Lower(lo);
              hi = Lower(hi);
              c = Lower(c);
            }
            if (c >= lo && c <= hi) match = true;
            p += 2;
            plen -= 2;
          } else if (SameByte(p[0], s[0], nocase)) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (match == negate) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (!SameByte(p[0], s[0], nocase)) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

bool RefMatch(const std::string& pattern, const std::string& subject, bool nocase) {
  bool skip_longer = false;
  return RefMatch(reinterpret_cast<const Byte*>(pattern.data()), pattern.size(),
                  reinterpret_cast<const Byte*>(subject.data()), subject.size(), nocase,
                  &skip_longer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using causalkv::fuzz::Escape;
  FuzzedDataProvider in(data, size);
  const bool nocase = in.ConsumeBool();
  // Bounded so that one input stays fast in the reference too.
  const std::string pattern = in.ConsumeRandomLengthString(256);
  const std::string subject = in.ConsumeRandomLengthString(256);

  const bool got = causalkv::util::GlobMatch(pattern, subject, nocase);
  const bool want = RefMatch(pattern, subject, nocase);
  FUZZ_REQUIRE(got == want, "pattern \"" + Escape(pattern) + "\" subject \"" + Escape(subject) +
                                "\" nocase=" + std::to_string(nocase) + ": GlobMatch=" +
                                std::to_string(got) + " reference=" + std::to_string(want));

  std::string escaped;
  for (const char c : subject) {
    escaped.push_back('\\');
    escaped.push_back(c);
  }
  FUZZ_REQUIRE(causalkv::util::GlobMatch(escaped, subject, nocase),
               "escaped \"" + Escape(escaped) + "\" does not match its subject");
  if (!subject.empty()) {
    FUZZ_REQUIRE(!causalkv::util::GlobMatch(escaped, subject.substr(1), false),
                 "escaped \"" + Escape(escaped) + "\" matches a shorter subject");
  }
  return 0;
}
