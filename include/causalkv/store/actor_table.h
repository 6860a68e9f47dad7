// ActorTable: the node ids (store/causal.h ActorId) that stamped the dots
// this store holds, each under a small index that packed Versions carry.
//
// Invariants: index 0 is this node's own id; an id, once added, keeps its
// index for the life of the process; at most Version::kMaxActors ids. The
// indexes are local to one process: whatever leaves it (peer messages,
// snapshots, the log) names actors by id.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "causalkv/store/causal.h"
#include "causalkv/store/version.h"

namespace causalkv::store {

class ActorTable {
 public:
  // REQUIRES: self != 0.
  explicit ActorTable(ActorId self) { Add(self); }

  ActorId self() const { return ids_[0]; }
  // The index of `id`, adding it if new. False when the table is full (the
  // write or merge that needed it must fail without changing anything).
  bool IndexOf(ActorId id, uint32_t* index) {
    auto it = index_.find(id);
    if (it != index_.end()) {
      *index = it->second;
      return true;
    }
    if (ids_.size() >= Version::kMaxActors) return false;
    *index = Add(id);
    return true;
  }
  // REQUIRES: index < size().
  ActorId IdOf(uint32_t index) const { return ids_[index]; }
  size_t size() const { return ids_.size(); }

 private:
  uint32_t Add(ActorId id) {
    const auto index = static_cast<uint32_t>(ids_.size());
    ids_.push_back(id);
    index_.emplace(id, index);
    return index;
  }
  std::vector<ActorId> ids_;
  std::unordered_map<ActorId, uint32_t> index_;
};

}  // namespace causalkv::store
