// Fuzz target: resp::Parser, the incremental request parser (multibulk and
// inline), fed arbitrary bytes.
//
// Checks, beyond not crashing:
//   - the same bytes parsed from one buffer and fed in random chunks (the
//     caller dropping consumed bytes and moving the rest, as a connection
//     does, each call on a fresh exact-size copy so that ASan sees any
//     pointer kept across calls) give the same commands, each consuming the
//     same number of bytes, then the same end: the same error text, or the
//     same bytes left waiting. With small limits, a "too big" error depends
//     on how much has arrived: the commands parsed before it must then be a
//     prefix of the other run's;
//   - every kOk consumes at least one byte; kNeedMore consumes none, and
//     BytesWanted(), when known, is more than what is buffered;
//   - every parsed command, re-encoded as a multibulk request and parsed
//     again, gives the same arguments and consumes exactly the encoding.
// Input: the request bytes; the last bytes (FuzzedDataProvider integers)
// choose the limits and the chunk sizes.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/resp/parser.h"
#include "fuzz_support.h"

namespace {

using causalkv::fuzz::Escape;
using causalkv::resp::Parser;
using causalkv::resp::ParserLimits;
using causalkv::resp::ParseStatus;
using Command = std::vector<std::string>;

struct Parsed {
  Command args;
  size_t consumed;
  bool operator==(const Parsed&) const = default;
};

struct Outcome {
  std::vector<Parsed> commands;
  bool failed = false;  // a protocol error ended the stream
  std::string error;
  size_t left = 0;  // bytes waiting for more when the stream ended
};

std::string Show(const Outcome& o) {
  std::string out;
  for (const Parsed& p : o.commands) {
    out += "  [" + std::to_string(p.consumed) + "]";
    for (const std::string& a : p.args) out += " \"" + Escape(a) + "\"";
    out += "\n";
  }
  out += o.failed ? "  error: " + o.error : "  waiting with " + std::to_string(o.left) + " bytes";
  return out + "\n";
}

// One Parse() call on an exact-size heap copy of `bytes`.
ParseStatus ParseCopy(Parser& parser, std::string_view bytes, Parsed* parsed) {
  std::unique_ptr<char[]> copy(new char[bytes.size() + 1]);  // +1: never a zero-size array
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  size_t consumed = 12345;
  std::vector<std::string_view> args;
  const ParseStatus status = parser.Parse(copy.get(), bytes.size(), &consumed, &args);
  parsed->args.assign(args.begin(), args.end());
  parsed->consumed = consumed;
  switch (status) {
    case ParseStatus::kOk:
      FUZZ_REQUIRE(
          consumed > 0 && consumed <= bytes.size(),
          "kOk consumed " + std::to_string(consumed) + " of " + std::to_string(bytes.size()));
      break;
    case ParseStatus::kNeedMore: {
      FUZZ_REQUIRE(consumed == 0, "kNeedMore consumed " + std::to_string(consumed));
      const size_t wanted = parser.BytesWanted();
      FUZZ_REQUIRE(wanted == 0 || wanted > bytes.size(),
                   "BytesWanted " + std::to_string(wanted) + " with " +
                       std::to_string(bytes.size()) + " buffered");
      break;
    }
    case ParseStatus::kProtocolError:
      FUZZ_REQUIRE(!parser.error().empty(), "a protocol error without a message");
      break;
  }
  return status;
}

Outcome ParseWhole(std::string_view stream, const ParserLimits& limits) {
  Parser parser(limits);
  Outcome out;
  size_t off = 0;
  for (;;) {
    Parsed parsed;
    const ParseStatus status = ParseCopy(parser, stream.substr(off), &parsed);
    if (status == ParseStatus::kOk) {
      off += parsed.consumed;
      out.commands.push_back(std::move(parsed));
      continue;
    }
    if (status == ParseStatus::kProtocolError) {
      out.failed = true;
      out.error = parser.error();
    }
    out.left = stream.size() - off;
    return out;
  }
}

Outcome ParseChunked(std::string_view stream, const ParserLimits& limits, uint32_t seed) {
  Parser parser(limits);
  Outcome out;
  std::minstd_rand rng(seed);
  const uint32_t max_chunk = 1 + (seed >> 24) % 32;
  std::string pending;
  size_t fed = 0;
  while (fed < stream.size()) {
    const size_t chunk = std::min<size_t>(1 + rng() % max_chunk, stream.size() - fed);
    pending.append(stream.substr(fed, chunk));
    fed += chunk;
    for (;;) {
      Parsed parsed;
      const ParseStatus status = ParseCopy(parser, pending, &parsed);
      if (status == ParseStatus::kNeedMore) break;
      if (status == ParseStatus::kProtocolError) {
        out.failed = true;
        out.error = parser.error();
        out.left = pending.size();
        return out;
      }
      pending.erase(0, parsed.consumed);
      out.commands.push_back(std::move(parsed));
    }
  }
  out.left = pending.size();
  return out;
}

bool IsPrefix(const std::vector<Parsed>& a, const std::vector<Parsed>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool TooBig(const Outcome& o) { return o.failed && o.error.find("too big") != std::string::npos; }

void CheckReencoded(const Command& args) {
  if (args.empty()) return;
  std::string encoded = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    encoded += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  }
  Parser parser;
  Parsed again;
  const ParseStatus status = ParseCopy(parser, encoded, &again);
  FUZZ_REQUIRE(status == ParseStatus::kOk && again.consumed == encoded.size() && again.args == args,
               "re-encoded \"" + Escape(encoded) + "\" parsed as status " +
                   std::to_string(static_cast<int>(status)) + " consumed " +
                   std::to_string(again.consumed) + " error " + parser.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Integers come from the end of the input, the stream is the rest.
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();
  ParserLimits limits;
  if (mode & 1) {
    limits.max_bulk_len = in.ConsumeIntegralInRange<uint64_t>(0, 64);
    limits.max_inline_len = in.ConsumeIntegralInRange<size_t>(0, 64);
    limits.max_multibulk_len = in.ConsumeIntegralInRange<int64_t>(0, 16);
  }
  const std::string stream = in.ConsumeRemainingBytesAsString();

  const Outcome whole = ParseWhole(stream, limits);
  const Outcome chunked = ParseChunked(stream, limits, seed);
  const std::string detail =
      "stream \"" + Escape(stream) + "\"\nwhole:\n" + Show(whole) + "chunked:\n" + Show(chunked);
  if (TooBig(whole) || TooBig(chunked)) {
    const Outcome& early = TooBig(chunked) ? chunked : whole;
    const Outcome& other = TooBig(chunked) ? whole : chunked;
    FUZZ_REQUIRE(IsPrefix(early.commands, other.commands), detail);
  } else {
    FUZZ_REQUIRE(whole.commands == chunked.commands, detail);
    // After an error the chunked run has not even read the rest.
    FUZZ_REQUIRE(whole.failed == chunked.failed && whole.error == chunked.error &&
                     (whole.failed || whole.left == chunked.left),
                 detail);
  }
  for (const Parsed& p : whole.commands) CheckReencoded(p.args);
  return 0;
}
