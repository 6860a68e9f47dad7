// WatchRegistry: the keys some client WATCHes, each with how many watchers
// it has and how often a command changed its TTL since it was first watched.
//
// WATCH compares a fingerprint of each key (existence, newest version,
// sibling count, TTL; see client.h). A TTL changed and changed back (EXPIRE
// then PERSIST) leaves that fingerprint equal, yet Redis aborts EXEC, since
// the key was modified. The commands that change a TTL without taking a new
// version report it here, and the count is part of the fingerprint.
//
// Invariants: an entry exists exactly while its watcher count is above zero;
// its TTL-change count only grows while it exists. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace causalkv::command {

class WatchRegistry {
 public:
  // One more watcher of `key` in database `db`.
  void Acquire(int db, std::string_view key);
  // One watcher fewer. REQUIRES: a matching Acquire.
  void Release(int db, std::string_view key);
  // A command set, changed or removed the TTL of `key` without giving it a
  // new version. Costs one branch while nobody watches anything.
  void TtlChanged(int db, std::string_view key) {
    if (!keys_.empty()) CountTtlChange(db, key);
  }
  // How often the TTL of a watched `key` changed; 0 for a key nobody watches.
  uint64_t TtlChanges(int db, std::string_view key) const;
  size_t watched_keys() const { return keys_.size(); }

 private:
  struct Entry {
    uint32_t watchers = 0;
    uint64_t ttl_changes = 0;
  };
  static std::string Name(int db, std::string_view key);
  void CountTtlChange(int db, std::string_view key);

  std::unordered_map<std::string, Entry> keys_;
};

}  // namespace causalkv::command
