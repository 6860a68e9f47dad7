// Fuzz target: persist::HighWaterMark::Load, the reader of <dir>/causalkv.hwm.
//
// Checks, beyond not crashing:
//   - Load accepts exactly the files RefParse below accepts, the ones Save
//     writes: the whole file is "causalkv-hwm 1 ", a value that fits in 64
//     bits in decimal without leading zeros, and "\n"; with the same mark.
//     Anything else must be refused: a misread mark could make the server
//     issue versions twice;
//   - a loaded mark survives Save and Load, Save writes it in exactly that
//     form, and a lower mark never replaces a higher one.
// Input: the file's bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "causalkv/persist/high_water_mark.h"
#include "fuzz_support.h"

namespace {

bool RefParse(std::string_view file, uint64_t* mark) {
  constexpr std::string_view kMagic = "causalkv-hwm 1 ";
  if (file.substr(0, kMagic.size()) != kMagic || file.size() < kMagic.size() + 2 ||
      file.back() != '\n') {
    return false;
  }
  const std::string_view digits = file.substr(kMagic.size(), file.size() - kMagic.size() - 1);
  if (digits.size() > 1 && digits[0] == '0') return false;
  uint64_t v = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *mark = v;
  return true;
}

std::string Canonical(uint64_t mark) { return "causalkv-hwm 1 " + std::to_string(mark) + "\n"; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using causalkv::fuzz::Escape;
  using causalkv::persist::HighWaterMark;
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  const std::string& dir = causalkv::fuzz::TempDir();
  const std::string path = dir + "/" + HighWaterMark::kFileName;
  causalkv::fuzz::WriteWholeFile(path, file);

  HighWaterMark hwm(dir);
  uint64_t mark = 12345;
  std::string error;
  const bool loaded = hwm.Load(&mark, &error);
  uint64_t want = 0;
  const bool want_loaded = RefParse(file, &want);
  FUZZ_REQUIRE(loaded == want_loaded && (!loaded || mark == want),
               "\"" + Escape(file) + "\": Load " +
                   (loaded ? "gives " + std::to_string(mark) : "refuses: " + error) +
                   ", expected " + (want_loaded ? std::to_string(want) : "a refusal"));
  if (!loaded) {
    FUZZ_REQUIRE(!error.empty(), "refused without a reason");
    return 0;
  }
  if (mark == UINT64_MAX) return 0;

  // A higher mark is written in the canonical form; a lower one then changes nothing.
  FUZZ_REQUIRE(hwm.Save(mark + 1, &error), "Save: " + error);
  FUZZ_REQUIRE(causalkv::fuzz::ReadWholeFile(path) == Canonical(mark + 1),
               "Save(" + std::to_string(mark + 1) + ") wrote \"" +
                   Escape(causalkv::fuzz::ReadWholeFile(path)) + "\"");
  FUZZ_REQUIRE(hwm.Save(mark, &error), "Save: " + error);
  HighWaterMark reader(dir);
  uint64_t back = 0;
  FUZZ_REQUIRE(reader.Load(&back, &error) && back == mark + 1,
               "after Save(" + std::to_string(mark + 1) + ") and Save(" + std::to_string(mark) +
                   "), Load gives " + std::to_string(back) + " " + error);
  return 0;
}
