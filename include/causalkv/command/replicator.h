// Replicator: what the command layer asks of the cluster (implemented by
// cluster::Coordinator; absent on a single node). Plain data only, so the
// command layer knows nothing of peers, sockets or libuv.
//
// Every call is made on the loop thread, and every callback runs on it
// later (never inside the call itself), exactly once.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace causalkv::command {

// One key's state after a write, encoded by store::EncodeKeyState.
struct KeyStateUpdate {
  int db = 0;
  std::string key;
  std::string state;
};

struct KeyRef {
  int db = 0;
  std::string key;
  // For Fetch: the digest of this node's state the caller read
  // (store::Keyspace::StateDigest; 0: none), if it has one.
  bool digest_known = false;
  uint64_t digest = 0;
};

class Replicator {
 public:
  virtual ~Replicator() = default;

  // Replicas per key, this node included (N).
  virtual int replicas() const = 0;

  // Sends the states to every other replica of their keys (a peer that
  // cannot be reached gets them later: hints, then anti-entropy). `done`,
  // if set, receives how many replicas hold every state (this node
  // included) as soon as that reaches `needed`, or when peer-timeout has
  // passed with fewer.
  virtual void Replicate(std::vector<KeyStateUpdate> updates, int needed,
                         std::function<void(int holders)> done) = 0;

  // Asks the other replicas for their states of `keys` and merges each
  // answer into this node through the merge hook the coordinator was built
  // with (repairing the replicas that answered something older). `done`
  // receives how many replicas answered for every key (this node included)
  // once that reaches `needed`, or when peer-timeout has passed with fewer,
  // and `changed`: some replica held something else, and this node's state
  // of that key is no longer what the caller read (the key's `digest`, or
  // its state when Fetch was called). Not changed: the caller's read already
  // reflects every answer.
  virtual void Fetch(std::vector<KeyRef> keys, int needed,
                     std::function<void(int answered, bool changed)> done) = 0;

  // Pub/sub: delivers a message published on this node to the subscribers
  // of every other node (PUBLISH, or SPUBLISH when `shard`). At most once,
  // as in Redis Cluster: a peer that is down or too far behind misses it;
  // messages from this node reach each peer in the order published.
  virtual void Publish(std::string channel, std::string message, bool shard) = 0;
};

}  // namespace causalkv::command
