// Fuzz target: persist::ReplayAof, the append-only log replay (formats 1, 2
// and 3), into a single-node store and into a causal (cluster) store.
//
// Checks, beyond not crashing:
//   - a replayed store is sound and a snapshot of it loads back the same
//     (store_check.h: CheckLoadedStore), with no version above the one the
//     replay says to resume above;
//   - replay is repeatable: the file as the replay left it (a torn tail cut
//     off) replays into a fresh store with nothing left to cut, to the same
//     keys and the same counter;
//   - replay is idempotent (records are states): replaying the log again
//     over the store it produced changes nothing;
//   - a torn tail is an error unless cutting it is allowed; a refusal is
//     kCorrupt naming the file, or kIncompatible for a format 3 log and a
//     single-node store.
// Input: byte 0 chooses the store (bit 0: causal), whether the target fixes
// each record's length complement and checksum so that mutations reach the
// payloads (bit 1), and whether a torn tail may be cut (bit 2); the rest is
// the log.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "causalkv/persist/aof.h"
#include "causalkv/persist/snapshot.h"
#include "fuzz_support.h"
#include "store_check.h"

namespace {

namespace persist = causalkv::persist;

// Rewrites each whole record's length complement and checksum, as the
// writer would have; a record cut short is left as it is (a torn tail).
void Reframe(std::string* log) {
  if (log->size() < 8) return;
  const std::string_view magic(log->data(), 8);
  size_t header;
  if (magic == persist::AofHeader(persist::AofFormat::kFixedWidth)) {
    header = 16;
  } else if (magic == persist::AofHeader(persist::AofFormat::kVarint) ||
             magic == persist::AofHeader(persist::AofFormat::kCausal)) {
    header = 12;
  } else {
    return;
  }
  size_t off = 8;
  while (log->size() - off >= header) {
    uint32_t len;
    std::memcpy(&len, log->data() + off, 4);
    const size_t payload = off + header;
    if (log->size() - payload < len) return;
    const uint32_t check = ~len;
    const uint64_t crc = persist::Crc64(0, log->data() + payload, len);
    std::memcpy(log->data() + off + 4, &check, 4);
    std::memcpy(log->data() + off + 8, &crc, header - 8);
    off = payload + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fuzz = causalkv::fuzz;
  if (size == 0) return 0;
  const bool causal = (data[0] & 1) != 0;
  const bool reframe = (data[0] & 2) != 0;
  const bool cut_torn = (data[0] & 4) != 0;
  std::string log(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (reframe) Reframe(&log);
  const std::string path = fuzz::TempDir() + "/appendonly.ckv";
  fuzz::WriteWholeFile(path, log);

  auto s = fuzz::NewStore(causal);
  uint64_t max_version = 0;
  persist::AofReplayStats stats;
  std::string error;
  const persist::AofLoadResult result =
      persist::ReplayAof(path, cut_torn, s.get(), &max_version, &stats, &error);
  switch (result) {
    case persist::AofLoadResult::kLoaded:
      FUZZ_REQUIRE(cut_torn || stats.truncated_at == 0, "a torn tail was cut without leave");
      break;
    case persist::AofLoadResult::kCorrupt:
      FUZZ_REQUIRE(error.find(path) != std::string::npos, "kCorrupt without the path: " + error);
      return 0;
    case persist::AofLoadResult::kIncompatible:
      FUZZ_REQUIRE(!causal && log.substr(0, 8) == persist::AofHeader(persist::AofFormat::kCausal),
                   "kIncompatible: " + error);
      return 0;
    default:
      FUZZ_REQUIRE(false,
                   "unexpected result " + std::to_string(static_cast<int>(result)) + ": " + error);
  }
  const std::vector<std::string> dump = fuzz::CheckLoadedStore(*s, max_version);

  auto fresh = fuzz::NewStore(causal);
  uint64_t fresh_max = 0;
  persist::AofReplayStats fresh_stats;
  FUZZ_REQUIRE(persist::ReplayAof(path, false, fresh.get(), &fresh_max, &fresh_stats, &error) ==
                       persist::AofLoadResult::kLoaded &&
                   fresh_stats.truncated_at == 0,
               "the log as the replay left it: " + error);
  fuzz::ExpireAll(*fresh);
  const std::vector<std::string> fresh_dump = fuzz::CheckAndDump(*fresh, fresh_max);
  FUZZ_REQUIRE(fresh_max == max_version && fresh_dump == dump,
               "replayed again (max " + std::to_string(fresh_max) + ", was " +
                   std::to_string(max_version) + "):\n" + fuzz::Join(fresh_dump) + "first:\n" +
                   fuzz::Join(dump));

  uint64_t again_max = 0;
  persist::AofReplayStats again_stats;
  FUZZ_REQUIRE(persist::ReplayAof(path, false, s.get(), &again_max, &again_stats, &error) ==
                   persist::AofLoadResult::kLoaded,
               "replay over its own result: " + error);
  fuzz::ExpireAll(*s);
  const std::vector<std::string> again_dump = fuzz::CheckAndDump(*s, again_max);
  FUZZ_REQUIRE(
      again_max == max_version && again_dump == dump,
      "replayed over its own result:\n" + fuzz::Join(again_dump) + "first:\n" + fuzz::Join(dump));
  return 0;
}
