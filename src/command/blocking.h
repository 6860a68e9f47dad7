// BlockedClients: clients waiting in a blocking command (BLPOP, BLMOVE,
// BZPOPMIN, ...) for one of their keys to exist, served first come, first
// served, as Redis does.
//
// The model: a blocking command whose keys are all missing does not run. Its
// client is registered here, and its connection holds the command unexecuted
// (as for a cluster fetch, ServerState::resume_client). When a write (or a
// state merged from a peer) touches one of its keys, the key is marked ready;
// before the loop sleeps, each ready key wakes its waiters in order while
// the key exists, and each woken command runs again. One that finds its keys
// missing again (another client took the element) stays registered, in its
// place. A deadline passing, or CLIENT UNBLOCK, resumes the client with the
// reply instead and drops the command.
//
// Invariants: a client is registered under each of its keys exactly once
// while it waits, and nowhere once it stops waiting (served, timed out,
// unblocked, or disconnected).
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace causalkv::command {

class BlockedClients {
 public:
  using KeyRef = std::pair<int, std::string>;  // database, key

  bool empty() const { return waiters_.empty(); }
  size_t size() const { return waiters_.size(); }
  bool IsWaiting(uint64_t client) const { return waiters_.count(client) != 0; }

  // Registers `client` as waiting for any of `keys` in `db` until
  // `deadline_ms` (0: forever). A client already waiting keeps its place.
  // wake_when_missing: woken by a write of a key even when it leaves the
  // key missing (stream readers, which then report the missing group).
  void Wait(uint64_t client, int db, const std::vector<std::string_view>& keys,
            int64_t deadline_ms, int protocol, bool wake_when_missing = false);
  bool WakesWhenMissing(uint64_t client) const {
    auto it = waiters_.find(client);
    return it != waiters_.end() && it->second.wake_when_missing;
  }
  // Forgets a client (it ran, or disconnected); nothing if it was not waiting.
  void Forget(uint64_t client);

  // A write changed `key`: if anyone waits for it, it is ready.
  void KeyChanged(int db, std::string_view key) {
    if (!waiters_.empty() && by_key_.count(KeyRef(db, std::string(key))) != 0) {
      ready_.emplace_back(db, std::string(key));
    }
  }
  // Every key waited for in `db` is ready (SWAPDB replaced its contents).
  void DatabaseChanged(int db) {
    for (const auto& [key, queue] : by_key_) {
      if (key.first == db) ready_.push_back(key);
    }
  }
  // Takes the ready keys (in the order they became ready).
  std::vector<KeyRef> TakeReady() { return std::exchange(ready_, {}); }
  // The clients waiting for a key, first come first.
  std::vector<uint64_t> WaitersOf(const KeyRef& key) const;

  // The earliest deadline (0: none).
  int64_t NextDeadline() const;
  struct Expired {
    uint64_t client;
    int protocol;
  };
  // Forgets and returns the clients whose deadline is at or before `now_ms`.
  std::vector<Expired> TakeExpired(int64_t now_ms);

 private:
  struct Waiter {
    int db;
    std::vector<std::string> keys;
    int64_t deadline_ms;
    int protocol;
    bool wake_when_missing;
  };
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::map<KeyRef, std::deque<uint64_t>> by_key_;
  std::multimap<int64_t, uint64_t> deadlines_;  // deadline -> client (none for 0)
  std::vector<KeyRef> ready_;
};

}  // namespace causalkv::command
