// Fuzz target: util::SplitArgs, the splitter of inline requests and config
// file lines (Redis's sdssplitargs rules), and its inverse for config files,
// config::internal::QuoteArg.
//
// Checks, beyond not crashing:
//   - SplitArgs agrees with RefSplit below, a direct port of Redis's
//     sdssplitargs() (except that the line ends at its length, not at a NUL
//     byte: ours is binary safe), on success and on refusal;
//   - the spans lie end to end in the storage, and a refusal clears both;
//   - config::internal::SplitArgs gives the same arguments;
//   - every argument, quoted by QuoteArg, splits back to exactly itself, and
//     the quoted arguments joined by spaces split back to the same list.
// Input: one line of arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causalkv/util/split_args.h"
#include "fuzz_support.h"
#include "split_args.h"  // src/config: QuoteArg

namespace {

using causalkv::fuzz::Escape;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// sdssplitargs() from Redis's sds.c, with `at(i)` standing for the NUL
// terminator past the end.
bool RefSplit(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  const size_t n = line.size();
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };
  size_t p = 0;
  for (;;) {
    while (p < n && IsSpace(line[p])) ++p;
    if (p >= n) return true;
    bool inq = false, insq = false, done = false;
    std::string current;
    while (!done) {
      if (inq) {
        if (at(p) == '\\' && at(p + 1) == 'x' && IsHex(at(p + 2)) && IsHex(at(p + 3))) {
          current.push_back(static_cast<char>(HexValue(at(p + 2)) * 16 + HexValue(at(p + 3))));
          p += 3;
        } else if (at(p) == '\\' && p + 1 < n) {
          ++p;
          char c = at(p);
          switch (c) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              break;
          }
          current.push_back(c);
        } else if (p < n && at(p) == '"') {
          if (p + 1 < n && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (p >= n) {
          return false;  // unterminated quotes
        } else {
          current.push_back(at(p));
        }
      } else if (insq) {
        if (at(p) == '\\' && p + 1 < n && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (p < n && at(p) == '\'') {
          if (p + 1 < n && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (p >= n) {
          return false;
        } else {
          current.push_back(at(p));
        }
      } else if (p >= n) {
        done = true;
      } else {
        switch (at(p)) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case '\'':
            insq = true;
            break;
          default:
            current.push_back(at(p));
            break;
        }
      }
      if (p < n) ++p;
    }
    out->push_back(std::move(current));
  }
}

std::string Show(const std::vector<std::string>& args) {
  std::string out = "[";
  for (const std::string& a : args) out += " \"" + Escape(a) + "\"";
  return out + " ]";
}

std::vector<std::string> Split(std::string_view line, bool* ok) {
  std::string storage = "stale";
  std::vector<std::pair<size_t, size_t>> spans = {{1, 2}};
  *ok = causalkv::util::SplitArgs(line, &storage, &spans);
  if (!*ok) {
    FUZZ_REQUIRE(storage.empty() && spans.empty(), "a refusal left output behind");
    return {};
  }
  std::vector<std::string> args;
  size_t next = 0;
  for (const auto& [offset, length] : spans) {
    FUZZ_REQUIRE(offset == next && length <= storage.size() - offset,
                 "span (" + std::to_string(offset) + ", " + std::to_string(length) +
                     ") in storage of " + std::to_string(storage.size()));
    args.push_back(storage.substr(offset, length));
    next = offset + length;
  }
  FUZZ_REQUIRE(next == storage.size(), "storage holds bytes no span covers");
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace config = causalkv::config::internal;
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  bool ok = false;
  const std::vector<std::string> args = Split(line, &ok);
  std::vector<std::string> want;
  const bool want_ok = RefSplit(line, &want);
  FUZZ_REQUIRE(ok == want_ok && (!ok || args == want),
               "line \"" + Escape(line) + "\": SplitArgs " + (ok ? Show(args) : "refused") +
                   ", sdssplitargs " + (want_ok ? Show(want) : "refused"));

  std::vector<std::string> config_args = {"stale"};
  const bool config_ok = config::SplitArgs(line, &config_args);
  FUZZ_REQUIRE(config_ok == ok && (!ok || config_args == args),
               "config::internal::SplitArgs differs on \"" + Escape(line) + "\"");
  if (!ok) return 0;

  std::string joined;
  for (const std::string& arg : args) {
    const std::string quoted = config::QuoteArg(arg);
    bool quoted_ok = false;
    const std::vector<std::string> back = Split(quoted, &quoted_ok);
    FUZZ_REQUIRE(quoted_ok && back == std::vector<std::string>{arg},
                 "QuoteArg(\"" + Escape(arg) + "\") = \"" + Escape(quoted) + "\" splits as " +
                     (quoted_ok ? Show(back) : "refused"));
    if (!joined.empty()) joined += ' ';
    joined += quoted;
  }
  bool joined_ok = false;
  const std::vector<std::string> back = Split(joined, &joined_ok);
  FUZZ_REQUIRE(joined_ok && back == args, "quoted line \"" + Escape(joined) + "\" splits as " +
                                              (joined_ok ? Show(back) : "refused"));
  return 0;
}
