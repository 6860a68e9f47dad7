// Shared by the loader fuzz targets (snapshot, aof): the stores they load
// into, and the check that a loaded store is sound, read through the public
// API only:
//   - every key iteration reports can be read back, once per database, and
//     a full SCAN reports the same keys;
//   - single node: siblings non-empty, versions ascending, of actor 0, none
//     above the counter the loader says to resume above;
//   - causal: every live state and tombstone passes store::Valid, no key is
//     both live and a tombstone, a tombstone has a context, and no dot of
//     this node is above the counter to resume above;
//   - a snapshot of the store loads back into a fresh store as the same keys
//     (the same printed form), the same counter and, in causal mode, the
//     same anti-entropy digest in every hash slot.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "causalkv/persist/snapshot.h"
#include "causalkv/store/causal.h"
#include "causalkv/store/store.h"
#include "causalkv/util/key_slot.h"
#include "fuzz_support.h"

namespace causalkv::fuzz {

inline constexpr store::ActorId kSelf = 0x1111111111111111ull;
inline constexpr int kDatabases = 2;  // a causal database costs 128 KB of digests
inline constexpr int64_t kNow = 1'700'000'000'000;

inline std::unique_ptr<store::Store> NewStore(bool causal) {
  auto s = std::make_unique<store::Store>(kDatabases, 7);
  s->set_now_ms(kNow);
  if (causal) s->EnableCausal(kSelf);
  return s;
}

inline std::string Print(const store::KeyState& state) {
  std::string out = "ctx{";
  for (const auto& [actor, counter] : state.context.entries()) {
    out += store::FormatDot({actor, counter}) + ",";
  }
  out += "}";
  for (const store::SiblingValue& s : state.siblings) {
    out += " [" + store::FormatDot(s.dot) + "]" + Escape(s.value);
  }
  out += " ttl=" + std::to_string(state.expire_at_ms) + "@" + store::FormatDot(state.ttl_stamp);
  return out;
}

inline std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "  " + line + "\n";
  return out;
}

// Checks the store (see the top of this file) and returns its keys as
// sorted printable lines. `last_issued`: what the loader said to resume above.
inline std::vector<std::string> CheckAndDump(store::Store& s, uint64_t last_issued) {
  std::vector<std::string> lines;
  for (int db = 0; db < s.database_count(); ++db) {
    store::Keyspace& ks = s.db(db);
    const std::string prefix = std::to_string(db) + ":";
    std::set<std::string> live;
    std::map<std::string, std::string> printed;
    ks.ForEachLive([&](const store::SiblingSet* set) {
      const std::string key(set->key());
      FUZZ_REQUIRE(live.insert(key).second, "key \"" + Escape(key) + "\" reported twice");
      std::string line = prefix + Escape(key) + " exp=" + std::to_string(set->expire_at_ms());
      if (!s.causal()) {
        FUZZ_REQUIRE(set->size() > 0, "key \"" + Escape(key) + "\" has no sibling");
        uint64_t previous = 0;
        for (store::Sibling sib : *set) {
          FUZZ_REQUIRE(sib.version.actor() == 0 && sib.version.counter() > previous &&
                           sib.version.counter() <= last_issued,
                       "key \"" + Escape(key) + "\": version " + std::to_string(sib.version.raw()) +
                           " after " + std::to_string(previous) + ", counter " +
                           std::to_string(last_issued));
          previous = sib.version.counter();
          line += " [" + std::to_string(previous) + "]" + Escape(sib.value);
        }
      }
      printed[key] = line;
    });
    FUZZ_REQUIRE(live.size() <= ks.size() && ks.expires_count() <= ks.size(),
                 std::to_string(live.size()) + " live keys, size " + std::to_string(ks.size()));
    std::set<std::string> scanned;
    uint64_t cursor = 0;
    do {
      cursor = ks.Scan(cursor, [&](const store::SiblingSet* set) { scanned.emplace(set->key()); });
    } while (cursor != 0);
    FUZZ_REQUIRE(scanned == live, "SCAN reports " + std::to_string(scanned.size()) +
                                      " keys, iteration " + std::to_string(live.size()));
    for (const std::string& key : live) {
      if (!s.causal()) {
        const store::SiblingSet* set = ks.FindReadOnly(key);
        FUZZ_REQUIRE(set != nullptr && set->key() == key,
                     "key \"" + Escape(key) + "\" cannot be read back");
        lines.push_back(printed[key]);
        continue;
      }
      store::KeyState state;
      FUZZ_REQUIRE(ks.GetState(key, &state), "key \"" + Escape(key) + "\" cannot be read back");
      FUZZ_REQUIRE(store::Valid(state) && !state.tombstone(),
                   "key \"" + Escape(key) + "\": " + Print(state));
      for (const store::SiblingValue& sib : state.siblings) {
        FUZZ_REQUIRE(sib.dot.actor != kSelf || sib.dot.counter <= last_issued,
                     "key \"" + Escape(key) + "\": " + Print(state) + " above counter " +
                         std::to_string(last_issued));
      }
      FUZZ_REQUIRE(state.context.Get(kSelf) <= last_issued &&
                       (state.ttl_stamp.actor != kSelf || state.ttl_stamp.counter <= last_issued),
                   "key \"" + Escape(key) + "\": " + Print(state) + " above counter " +
                       std::to_string(last_issued));
      lines.push_back(printed[key] + " " + Print(state));
    }
    if (!s.causal()) continue;
    ks.ForEachHidden([&](std::string_view key, const store::KeyState& state, int64_t since) {
      // A tombstone (a context, no values) or an expired state (values and
      // a TTL that has passed).
      const bool expired = !state.tombstone();
      const char* what = expired ? "expired state" : "tombstone";
      FUZZ_REQUIRE(live.count(std::string(key)) == 0,
                   "key \"" + Escape(key) + "\" is both live and a " + what + " " + Print(state));
      FUZZ_REQUIRE(store::Valid(state) && !state.context.empty() &&
                       (!expired || (state.expire_at_ms != store::KeyState::kNoExpire &&
                                     state.expire_at_ms < s.now_ms())),
                   std::string(what) + " \"" + Escape(key) + "\": " + Print(state));
      FUZZ_REQUIRE(state.context.Get(kSelf) <= last_issued,
                   std::string(what) + " \"" + Escape(key) + "\": " + Print(state) +
                       " above counter " + std::to_string(last_issued));
      lines.push_back(prefix + Escape(key) + " " + what + " since " + std::to_string(since) + " " +
                      Print(state));
    });
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// In causal mode, turns the keys whose TTL has passed into expired states
// (reading a key's state does), so that a snapshot and its reload agree on
// what is live.
inline void ExpireAll(store::Store& s) {
  if (!s.causal()) return;
  const std::vector<bool> all(util::kHashSlots, true);
  for (int db = 0; db < s.database_count(); ++db) {
    s.db(db).ForEachStateInSlots(all, [](std::string_view, const store::KeyState&) {});
  }
}

// Checks a store a loader produced, then that a snapshot of it loads back
// the same. `last_issued`: what the loader said to resume above. Returns
// the store's printed form (CheckAndDump).
inline std::vector<std::string> CheckLoadedStore(store::Store& s, uint64_t last_issued) {
  ExpireAll(s);
  const std::vector<std::string> dump = CheckAndDump(s, last_issued);

  // The server sets the counter from what the loader returned.
  s.counter().Init(last_issued, UINT64_MAX, 0, nullptr, nullptr);
  std::string error;
  persist::SnapshotStats stats;
  FUZZ_REQUIRE(persist::SaveSnapshot(s, TempDir(), "resaved.ckv", &stats, &error),
               "SaveSnapshot: " + error);
  auto again = NewStore(s.causal());
  uint64_t last_again = 0;
  const persist::LoadResult result =
      persist::LoadSnapshot(TempDir() + "/resaved.ckv", again.get(), &last_again, &stats, &error);
  FUZZ_REQUIRE(result == persist::LoadResult::kLoaded,
               "the snapshot of a loaded store is refused: " + error + "\nstore:\n" + Join(dump));
  FUZZ_REQUIRE(last_again == last_issued, "counter " + std::to_string(last_issued) +
                                              " reloads as " + std::to_string(last_again));
  const std::vector<std::string> dump_again = CheckAndDump(*again, last_again);
  FUZZ_REQUIRE(dump_again == dump,
               "the snapshot of\n" + Join(dump) + "loads back as\n" + Join(dump_again));
  if (!s.causal()) return dump;
  for (int db = 0; db < s.database_count(); ++db) {
    for (int slot = 0; slot < util::kHashSlots; ++slot) {
      FUZZ_REQUIRE(s.db(db).slot_digest(slot) == again->db(db).slot_digest(slot),
                   "db " + std::to_string(db) + " slot " + std::to_string(slot) +
                       ": digests differ after a snapshot round trip; store:\n" + Join(dump));
    }
  }
  return dump;
}

}  // namespace causalkv::fuzz
