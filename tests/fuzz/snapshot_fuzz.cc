// Fuzz target: persist::LoadSnapshot, formats 1, 2 and 3, into a
// single-node store and into a causal (cluster) store.
//
// Checks, beyond not crashing:
//   - a loaded store is sound and a snapshot of it loads back the same
//     (store_check.h: CheckLoadedStore);
//   - a file whose checksum does not match never loads;
//   - a refusal is kCorrupt naming the file, or kIncompatible for a format
//     3 file and a single-node store; nothing else.
// Input: byte 0 chooses the store (bit 0: causal) and whether the rest is
// the file as is (bit 1 clear) or the file without its checksum trailer,
// which the target appends (bit 1 set), so that mutations reach the
// records behind the checksum.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "causalkv/persist/snapshot.h"
#include "fuzz_support.h"
#include "store_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = causalkv::fuzz;
  namespace persist = causalkv::persist;
  if (size == 0) return 0;
  const bool causal = (data[0] & 1) != 0;
  const bool reseal = (data[0] & 2) != 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (reseal) {
    const uint64_t crc = persist::Crc64(0, file.data(), file.size());
    file.append(reinterpret_cast<const char*>(&crc), sizeof crc);
  }
  const std::string path = fuzz::TempDir() + "/dump.ckv";
  fuzz::WriteWholeFile(path, file);

  auto s = fuzz::NewStore(causal);
  uint64_t last_issued = 0;
  persist::SnapshotStats stats;
  std::string error;
  const persist::LoadResult result =
      persist::LoadSnapshot(path, s.get(), &last_issued, &stats, &error);
  const bool sealed = [&] {
    if (file.size() < 8) return false;
    uint64_t stored;
    std::memcpy(&stored, file.data() + file.size() - 8, 8);
    return persist::Crc64(0, file.data(), file.size() - 8) == stored;
  }();
  switch (result) {
    case persist::LoadResult::kLoaded:
      FUZZ_REQUIRE(sealed, "a file with a bad checksum loaded");
      fuzz::CheckLoadedStore(*s, last_issued);
      break;
    case persist::LoadResult::kCorrupt:
      FUZZ_REQUIRE(error.find(path) != std::string::npos, "kCorrupt without the path: " + error);
      break;
    case persist::LoadResult::kIncompatible: {
      uint32_t format = 0;
      if (file.size() >= 12) std::memcpy(&format, file.data() + 8, 4);
      FUZZ_REQUIRE(!causal && format == 3 && !error.empty(),
                   "kIncompatible for format " + std::to_string(format) + ": " + error);
      break;
    }
    default:
      FUZZ_REQUIRE(false,
                   "unexpected result " + std::to_string(static_cast<int>(result)) + ": " + error);
  }
  return 0;
}
