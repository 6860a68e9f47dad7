#include "blocking.h"

#include <algorithm>

namespace causalkv::command {

void BlockedClients::Wait(uint64_t client, int db, const std::vector<std::string_view>& keys,
                          int64_t deadline_ms, int protocol, bool wake_when_missing) {
  if (waiters_.count(client) != 0) return;
  Waiter w{db, {}, deadline_ms, protocol, wake_when_missing};
  for (std::string_view key : keys) {
    // BLPOP k k: one place in k's queue.
    if (std::find(w.keys.begin(), w.keys.end(), key) != w.keys.end()) continue;
    w.keys.emplace_back(key);
    by_key_[KeyRef(db, std::string(key))].push_back(client);
  }
  if (deadline_ms != 0) deadlines_.emplace(deadline_ms, client);
  waiters_.emplace(client, std::move(w));
}

void BlockedClients::Forget(uint64_t client) {
  auto it = waiters_.find(client);
  if (it == waiters_.end()) return;
  const Waiter& w = it->second;
  for (const std::string& key : w.keys) {
    auto q = by_key_.find(KeyRef(w.db, key));
    if (q == by_key_.end()) continue;
    std::erase(q->second, client);
    if (q->second.empty()) by_key_.erase(q);
  }
  if (w.deadline_ms != 0) {
    auto [first, last] = deadlines_.equal_range(w.deadline_ms);
    for (auto d = first; d != last; ++d) {
      if (d->second == client) {
        deadlines_.erase(d);
        break;
      }
    }
  }
  waiters_.erase(it);
}

std::vector<uint64_t> BlockedClients::WaitersOf(const KeyRef& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

int64_t BlockedClients::NextDeadline() const {
  return deadlines_.empty() ? 0 : deadlines_.begin()->first;
}

std::vector<BlockedClients::Expired> BlockedClients::TakeExpired(int64_t now_ms) {
  std::vector<Expired> out;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    const uint64_t client = deadlines_.begin()->second;
    out.push_back(Expired{client, waiters_.at(client).protocol});
    Forget(client);
  }
  return out;
}

}  // namespace causalkv::command
