// Fuzz target: store::DecodeContextToken, the parser of the context tokens
// clients hand back in VPUT/VDEL (store/causal.h).
//
// Checks, beyond not crashing:
//   - a token that decodes re-encodes to exactly the same string (the
//     encoding is canonical: strict base64url, canonical varints), into a
//     vector whose entries are sorted by node id, unique, with counters > 0;
//   - a refused token comes with a reason;
//   - the other way round: a version vector built from the input bytes
//     encodes to a printable token without spaces that decodes to it.
// Input: the token; the same bytes also build the vector.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "causalkv/store/causal.h"
#include "fuzz_support.h"

namespace {

using causalkv::fuzz::Escape;
using causalkv::store::VersionVector;

std::string Show(const VersionVector& v) {
  std::string out = "{";
  for (const auto& [actor, counter] : v.entries()) {
    out += " " + causalkv::store::FormatDot({actor, counter});
  }
  return out + " }";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace store = causalkv::store;
  const std::string_view token(reinterpret_cast<const char*>(data), size);

  VersionVector decoded;
  std::string error;
  if (store::DecodeContextToken(token, &decoded, &error)) {
    const auto& entries = decoded.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      FUZZ_REQUIRE(entries[i].first != 0 && entries[i].second != 0 &&
                       (i == 0 || entries[i - 1].first < entries[i].first),
                   "\"" + Escape(token) + "\" decodes to " + Show(decoded));
    }
    const std::string again = store::EncodeContextToken(decoded);
    FUZZ_REQUIRE(again == token, "\"" + Escape(token) + "\" decodes to " + Show(decoded) +
                                     ", which encodes to \"" + Escape(again) + "\"");
  } else {
    FUZZ_REQUIRE(!error.empty(), "\"" + Escape(token) + "\" refused without a reason");
  }

  FuzzedDataProvider in(data, size);
  VersionVector built;
  const int entries = in.ConsumeIntegralInRange(0, 64);
  for (int i = 0; i < entries && in.remaining_bytes() > 0; ++i) {
    const uint64_t actor = in.ConsumeIntegral<uint64_t>();
    const uint64_t counter = in.ConsumeIntegral<uint64_t>();
    if (actor != 0) built.Advance(actor, counter);  // 0 is "no actor"; a 0 counter adds nothing
  }
  const std::string encoded = store::EncodeContextToken(built);
  for (const char c : encoded) {
    FUZZ_REQUIRE(c > ' ' && c < 0x7f, "token \"" + Escape(encoded) + "\" is not printable");
  }
  VersionVector back;
  FUZZ_REQUIRE(store::DecodeContextToken(encoded, &back, &error) && back == built,
               Show(built) + " encodes to \"" + encoded + "\", which decodes to " + Show(back) +
                   " " + error);
  return 0;
}
