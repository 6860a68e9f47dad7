#include "causalkv/util/glob.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace causalkv::util {
namespace {

using std::string_literals::operator""s;

bool Match(std::string_view pattern, std::string_view subject) {
  return GlobMatch(pattern, subject);
}

bool MatchNoCase(std::string_view pattern, std::string_view subject) {
  return GlobMatch(pattern, subject, /*nocase=*/true);
}

TEST(GlobTest, EmptyPatternAndSubject) {
  EXPECT_TRUE(Match("", ""));
  EXPECT_FALSE(Match("", "a"));
  EXPECT_FALSE(Match("a", ""));
  EXPECT_FALSE(Match("?", ""));
  EXPECT_FALSE(Match("[a]", ""));
  // Redis 7 never matches an empty subject against a non-empty pattern, not
  // even "*" (KEYS/SCAN special-case a lone "*" before calling the matcher).
  EXPECT_FALSE(Match("*", ""));
  EXPECT_FALSE(Match("**", ""));
}

TEST(GlobTest, Literals) {
  EXPECT_TRUE(Match("hello", "hello"));
  EXPECT_FALSE(Match("hello", "hell"));
  EXPECT_FALSE(Match("hell", "hello"));
  EXPECT_FALSE(Match("hello", "Hello"));
  EXPECT_FALSE(Match("hello", "hellp"));
}

TEST(GlobTest, Star) {
  EXPECT_TRUE(Match("*", "anything"));
  EXPECT_TRUE(Match("*", "x"));
  EXPECT_TRUE(Match("h*o", "hello"));
  EXPECT_TRUE(Match("h*o", "ho"));
  EXPECT_FALSE(Match("h*o", "hellx"));
  EXPECT_TRUE(Match("*o", "o"));
  EXPECT_TRUE(Match("o*", "o"));
  EXPECT_TRUE(Match("*o*", "o"));
  EXPECT_TRUE(Match("a*b*c", "aXbYc"));
  EXPECT_TRUE(Match("a*b*c", "abc"));
  EXPECT_FALSE(Match("a*b*c", "aXbY"));
  EXPECT_TRUE(Match("**a**", "a"));
  EXPECT_TRUE(Match("a*", "a"));
  EXPECT_TRUE(Match("a**", "a"));
  EXPECT_TRUE(Match("*ab", "aab"));  // first 'a' must not be committed to
  EXPECT_TRUE(Match("*aab", "aaab"));
  EXPECT_TRUE(Match("*a*b", "xaxxab"));
  EXPECT_FALSE(Match("*a*b", "xaxxa"));
  EXPECT_TRUE(Match("user:*:name", "user:1000:name"));
  EXPECT_FALSE(Match("user:*:name", "user:1000:age"));
}

TEST(GlobTest, QuestionMark) {
  EXPECT_TRUE(Match("h?llo", "hello"));
  EXPECT_TRUE(Match("h?llo", "hallo"));
  EXPECT_FALSE(Match("h?llo", "hllo"));
  EXPECT_TRUE(Match("???", "abc"));
  EXPECT_FALSE(Match("???", "ab"));
  EXPECT_FALSE(Match("???", "abcd"));
  EXPECT_TRUE(Match("?*", "a"));
  EXPECT_TRUE(Match("*?", "a"));
  EXPECT_FALSE(Match("*??", "a"));
}

TEST(GlobTest, Classes) {
  EXPECT_TRUE(Match("h[ae]llo", "hello"));
  EXPECT_TRUE(Match("h[ae]llo", "hallo"));
  EXPECT_FALSE(Match("h[ae]llo", "hillo"));
  EXPECT_FALSE(Match("h[ae]llo", "hllo"));
  EXPECT_TRUE(Match("h[^e]llo", "hallo"));
  EXPECT_FALSE(Match("h[^e]llo", "hello"));
  EXPECT_TRUE(Match("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(Match("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(Match("[a-c]", "a"));
  EXPECT_TRUE(Match("[a-c]", "c"));
  EXPECT_FALSE(Match("[a-c]", "d"));
  EXPECT_TRUE(Match("[^a-c]", "d"));
  EXPECT_FALSE(Match("[^a-c]", "b"));
  EXPECT_TRUE(Match("[0-9a-f]", "7"));
  EXPECT_TRUE(Match("[0-9a-f]", "e"));
  EXPECT_FALSE(Match("[0-9a-f]", "g"));
  EXPECT_TRUE(Match("[a-]", "a"));  // see RangeEndingInBracket below
  EXPECT_TRUE(Match("x[abc]*", "xcyz"));
  EXPECT_TRUE(Match("[*]", "*"));  // no special meaning inside a class
  EXPECT_FALSE(Match("[*]", "a"));
  EXPECT_TRUE(Match("[?]", "?"));
  EXPECT_FALSE(Match("[?]", "a"));
}

TEST(GlobTest, ReversedRangesAreSwapped) {
  EXPECT_TRUE(Match("[z-a]", "m"));
  EXPECT_TRUE(Match("[z-a]", "a"));
  EXPECT_TRUE(Match("[z-a]", "z"));
  EXPECT_FALSE(Match("[z-a]", "A"));
  EXPECT_TRUE(Match("[9-0]", "5"));
}

TEST(GlobTest, EmptyAndNegatedEmptyClasses) {
  // A ']' right after '[' (or "[^") closes the class at once.
  EXPECT_FALSE(Match("[]", "a"));
  EXPECT_FALSE(Match("[]", "]"));
  EXPECT_FALSE(Match("[]a]", "a"));
  EXPECT_FALSE(Match("[]a]", "]a]"));
  EXPECT_TRUE(Match("[^]", "x"));
  EXPECT_TRUE(Match("[^]a", "xa"));
}

TEST(GlobTest, UnterminatedClassRunsToEndOfPattern) {
  EXPECT_TRUE(Match("[abc", "b"));
  EXPECT_FALSE(Match("[abc", "d"));
  EXPECT_TRUE(Match("x[abc", "xc"));
  EXPECT_FALSE(Match("[abc", "ab"));  // the whole rest is one class
  EXPECT_FALSE(Match("[", "["));
  EXPECT_FALSE(Match("[", "a"));
  EXPECT_TRUE(Match("[^", "z"));
  EXPECT_TRUE(Match("[^a", "b"));
  EXPECT_FALSE(Match("[^a", "a"));
  EXPECT_TRUE(Match("*[ab", "xxb"));
}

TEST(GlobTest, BracketInsideClassIsLiteral) {
  EXPECT_TRUE(Match("[[]", "["));
  EXPECT_FALSE(Match("[[]", "]"));
  EXPECT_TRUE(Match("[a[]x", "[x"));
  EXPECT_TRUE(Match("[a[]x", "ax"));
  // "[-]" is the range '['..']' (which includes '\\'); the last ']' closes.
  EXPECT_TRUE(Match("[[-]]", "["));
  EXPECT_TRUE(Match("[[-]]", "\\"));
  EXPECT_FALSE(Match("[[-]]", "-"));
}

TEST(GlobTest, RangeEndingInBracket) {
  // Redis treats "a-]" as the range ']'..'a' (swapped), and the class then
  // has no closing bracket, so it runs to the end of the pattern.
  EXPECT_TRUE(Match("[a-]", "_"));
  EXPECT_TRUE(Match("[a-]", "]"));
  EXPECT_FALSE(Match("[a-]", "b"));
  EXPECT_FALSE(Match("[a-]", "-"));
}

TEST(GlobTest, Escapes) {
  EXPECT_TRUE(Match("\\*", "*"));
  EXPECT_FALSE(Match("\\*", "a"));
  EXPECT_FALSE(Match("\\*", ""));
  EXPECT_TRUE(Match("\\?", "?"));
  EXPECT_FALSE(Match("\\?", "a"));
  EXPECT_TRUE(Match("\\[a]", "[a]"));
  EXPECT_FALSE(Match("\\[a]", "a"));
  EXPECT_TRUE(Match("\\\\", "\\"));
  EXPECT_TRUE(Match("\\a", "a"));
  EXPECT_TRUE(Match("a\\*b*", "a*bcd"));
  EXPECT_FALSE(Match("a\\*b*", "axbcd"));
}

TEST(GlobTest, TrailingBackslashIsLiteral) {
  EXPECT_TRUE(Match("a\\", "a\\"));
  EXPECT_FALSE(Match("a\\", "a"));
  EXPECT_FALSE(Match("a\\", "ab"));
  EXPECT_TRUE(Match("\\", "\\"));
  EXPECT_TRUE(Match("*\\", "abc\\"));
}

TEST(GlobTest, EscapesInsideClass) {
  EXPECT_TRUE(Match("[\\]]", "]"));
  EXPECT_FALSE(Match("[\\]]", "\\"));
  EXPECT_TRUE(Match("[\\-]", "-"));
  EXPECT_TRUE(Match("[a\\-z]", "-"));
  EXPECT_TRUE(Match("[a\\-z]", "z"));
  EXPECT_FALSE(Match("[a\\-z]", "b"));  // escaped '-' is not a range
  EXPECT_TRUE(Match("[\\^a]", "^"));
  // A backslash that is the last byte of an unterminated class is literal.
  EXPECT_TRUE(Match("[a\\", "\\"));
  EXPECT_TRUE(Match("[a\\", "a"));
}

TEST(GlobTest, NoCase) {
  EXPECT_TRUE(MatchNoCase("HELLO", "hello"));
  EXPECT_TRUE(MatchNoCase("hello", "HeLLo"));
  EXPECT_FALSE(Match("HELLO", "hello"));
  EXPECT_TRUE(MatchNoCase("h*O", "HELLO"));
  EXPECT_TRUE(MatchNoCase("[A-Z]", "q"));
  EXPECT_TRUE(MatchNoCase("[a-z]", "Q"));
  EXPECT_FALSE(MatchNoCase("[^A-Z]", "q"));
  EXPECT_TRUE(MatchNoCase("[XY]", "y"));
  EXPECT_TRUE(MatchNoCase("h\\E", "he"));  // escaped literal outside a class folds case
  EXPECT_TRUE(MatchNoCase("max*", "MAXMEMORY"));
  // Redis compares an escaped byte inside a class exactly, even with nocase.
  EXPECT_FALSE(MatchNoCase("[\\E]", "e"));
  EXPECT_TRUE(MatchNoCase("[\\E]", "E"));
  // Non-ASCII bytes are never case-folded.
  EXPECT_FALSE(MatchNoCase("\xc3\x89", "\xc3\xa9"));
}

TEST(GlobTest, BinarySafe) {
  const std::string with_nul = "a\0b"s;
  EXPECT_TRUE(Match(with_nul, with_nul));
  EXPECT_FALSE(Match(with_nul, "a\0c"s));
  EXPECT_FALSE(Match(with_nul, "a"));
  EXPECT_TRUE(Match("*\0*"s, "xx\0yy"s));
  EXPECT_FALSE(Match("*\0*"s, "xxyy"));
  EXPECT_TRUE(Match("?"s, "\0"s));
  EXPECT_TRUE(Match("[\0]"s, "\0"s));
  EXPECT_TRUE(Match("?", "\xff"));
  EXPECT_TRUE(Match("[\x80-\xff]", "\xc3"));
  EXPECT_FALSE(Match("[\x80-\xff]", "a"));
  EXPECT_TRUE(Match("[^\x80-\xff]", "a"));
  EXPECT_TRUE(Match("caf\xc3\xa9*", "caf\xc3\xa9 au lait"));
}

TEST(GlobTest, PathologicalPatternsRunInPolynomialTime) {
  const std::string subject(100000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(Match("a*a*a*a*a*a*a*a*b", subject));
  EXPECT_TRUE(Match("a*a*a*a*a*a*a*a*a", subject));

  std::string many_stars;
  for (int i = 0; i < 200; ++i) many_stars += "*a";
  EXPECT_FALSE(Match(many_stars + "*b", std::string(5000, 'a')));
  EXPECT_TRUE(Match(many_stars + "*", std::string(5000, 'a')));
  // Far deeper than Redis's 1000-level recursion cap; still exact here.
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "a*";
  EXPECT_TRUE(Match(deep, std::string(6000, 'a')));
  EXPECT_FALSE(Match(deep, std::string(4999, 'a')));
  // The true worst case: every subject position re-checks a long segment.
  EXPECT_FALSE(Match("*" + std::string(300, 'a') + "b", std::string(20000, 'a')));

  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Exponential backtracking would take astronomically long; a linear pass
  // over ~10^7 steps takes milliseconds (seconds under sanitizers at worst).
  EXPECT_LT(elapsed, std::chrono::seconds(20));
}

// Straightforward dynamic programming over the plain glob language ('*', '?',
// literals), used to cross-check the backtracking on random inputs.
bool ReferenceMatch(std::string_view pattern, std::string_view subject) {
  if (subject.empty()) return pattern.empty();
  const size_t m = pattern.size();
  const size_t n = subject.size();
  // ok[i][j]: pattern[i..] matches subject[j..].
  std::vector<std::vector<char>> ok(m + 1, std::vector<char>(n + 1, 0));
  ok[m][n] = 1;
  for (size_t i = m; i-- > 0;) {
    for (size_t j = n + 1; j-- > 0;) {
      if (pattern[i] == '*') {
        ok[i][j] = ok[i + 1][j] || (j < n && ok[i][j + 1]);
      } else if (j < n && (pattern[i] == '?' || pattern[i] == subject[j])) {
        ok[i][j] = ok[i + 1][j + 1];
      }
    }
  }
  return ok[0][0] != 0;
}

TEST(GlobTest, AgreesWithReferenceOnRandomInputs) {
  std::mt19937 rng(12345);
  const std::string pattern_alphabet = "ab*?";
  const std::string subject_alphabet = "ab";
  for (int round = 0; round < 20000; ++round) {
    std::string pattern(rng() % 9, ' ');
    for (char& c : pattern) c = pattern_alphabet[rng() % pattern_alphabet.size()];
    std::string subject(rng() % 9, ' ');
    for (char& c : subject) c = subject_alphabet[rng() % subject_alphabet.size()];
    ASSERT_EQ(Match(pattern, subject), ReferenceMatch(pattern, subject))
        << "pattern '" << pattern << "' subject '" << subject << "'";
  }
}

TEST(GlobTest, NeverReadsOutOfBoundsOnRandomBytes) {
  // Run under ASan: random patterns full of '[', ']', '\\', '-', '^', '*'.
  std::mt19937 rng(777);
  const std::string alphabet = "[]\\-^*?ab";
  int matches = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string pattern(rng() % 12, ' ');
    for (char& c : pattern) c = alphabet[rng() % alphabet.size()];
    std::string subject(rng() % 12, ' ');
    for (char& c : subject) c = alphabet[rng() % alphabet.size()];
    // Heap copies so that ASan sees the exact bounds.
    const std::vector<char> p(pattern.begin(), pattern.end());
    const std::vector<char> s(subject.begin(), subject.end());
    matches += GlobMatch(std::string_view(p.data(), p.size()), std::string_view(s.data(), s.size()),
                         round % 2 == 0);
  }
  EXPECT_GT(matches, 0);
}

}  // namespace
}  // namespace causalkv::util
