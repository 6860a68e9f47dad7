#include "causalkv/command/watch_registry.h"

#include <cstring>

#include "causalkv/command/client.h"

namespace causalkv::command {

std::string WatchRegistry::Name(int db, std::string_view key) {
  std::string name(sizeof(db), '\0');
  std::memcpy(name.data(), &db, sizeof(db));
  name.append(key);
  return name;
}

void WatchRegistry::Acquire(int db, std::string_view key) { ++keys_[Name(db, key)].watchers; }

void WatchRegistry::Release(int db, std::string_view key) {
  auto it = keys_.find(Name(db, key));
  if (it != keys_.end() && --it->second.watchers == 0) keys_.erase(it);
}

void WatchRegistry::CountTtlChange(int db, std::string_view key) {
  auto it = keys_.find(Name(db, key));
  if (it != keys_.end()) ++it->second.ttl_changes;
}

uint64_t WatchRegistry::TtlChanges(int db, std::string_view key) const {
  auto it = keys_.find(Name(db, key));
  return it == keys_.end() ? 0 : it->second.ttl_changes;
}

bool WatchList::Contains(int db, std::string_view key) const {
  for (const WatchedKey& watched : keys_) {
    if (watched.db == db && watched.key == key) return true;
  }
  return false;
}

void WatchList::Add(const std::shared_ptr<WatchRegistry>& registry, int db,
                    std::string_view key, const KeyFingerprint& seen) {
  registry_ = registry;
  registry_->Acquire(db, key);
  keys_.push_back(WatchedKey{db, std::string(key), seen});
}

void WatchList::Clear() {
  for (const WatchedKey& watched : keys_) registry_->Release(watched.db, watched.key);
  keys_.clear();
  registry_.reset();
}

}  // namespace causalkv::command
