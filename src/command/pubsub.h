// PubSub: who is subscribed to what, and the delivery of published messages
// (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and PUBLISH, SPUBLISH; later the
// keyspace notifications).
//
// Three namespaces, as Redis has them: channels, glob patterns over channel
// names (util/glob.h, Redis's matching rules), and shard channels, which a
// pattern never matches. The registry maps each name to the ids of its
// subscribers in the order they subscribed; each client keeps its own names
// (ClientState::channels, patterns, shard_channels).
//
// Invariants: a client id is listed under a name exactly when that name is
// in the client's own set; no name is listed without subscribers.
//
// Delivery writes each message in the receiving client's protocol (a RESP2
// array, or a RESP3 push frame) through ServerState::push_to_client, so this
// class never touches a connection. A message is encoded at most once per
// protocol and kind per publish.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"

namespace causalkv::command {

class PubSub {
 public:
  enum class Kind { kChannel, kPattern, kShard };

  explicit PubSub(ServerState* server) : server_(server) {}

  // Adds or removes one subscription of `client`; false when there was
  // nothing to change (already subscribed, or not subscribed).
  bool Subscribe(ClientState& client, Kind kind, std::string_view name);
  bool Unsubscribe(ClientState& client, Kind kind, std::string_view name);
  // Drops every subscription of `client` without a reply (RESET, disconnect).
  void UnsubscribeAll(ClientState& client);

  // Delivers `message` to the subscribers of `channel` (and, unless
  // `shard`, to those of every pattern matching it) on this node. Returns
  // how many deliveries were made (a client subscribed to the channel and to
  // a matching pattern counts twice, as in Redis).
  int64_t Publish(std::string_view channel, std::string_view message, bool shard);
  // The same, except that the frames for client `defer_to` (the client
  // whose command is running) are kept until FlushDeferred: keyspace
  // notifications reach the client that caused them after its command's
  // reply, as Redis 7.2 delivers them (also inside MULTI/EXEC).
  int64_t Publish(std::string_view channel, std::string_view message, bool shard,
                  uint64_t defer_to);
  // Pushes the kept frames (after the running command's reply, or once a
  // reply held for a quorum is queued). Inline: it runs after every
  // command, and almost always has nothing to do. A delivery to the client
  // whose frames are kept pushes them first.
  void FlushDeferred() {
    if (!deferred_.empty()) PushDeferred();
  }

  // PUBSUB CHANNELS / SHARDCHANNELS: the names with subscribers matching
  // `pattern` (every name when empty), in no particular order.
  std::vector<std::string_view> ActiveChannels(bool shard, std::string_view pattern) const;
  // PUBSUB NUMSUB / SHARDNUMSUB.
  int64_t Subscribers(bool shard, std::string_view channel) const;
  // PUBSUB NUMPAT: distinct patterns with subscribers.
  int64_t PatternCount() const { return static_cast<int64_t>(patterns_.size()); }
  // INFO: pubsub_channels, pubsubshard_channels.
  int64_t ChannelCount(bool shard) const {
    return static_cast<int64_t>(shard ? shard_channels_.size() : channels_.size());
  }

 private:
  using Registry = std::unordered_map<std::string, std::vector<uint64_t>>;
  Registry& RegistryOf(Kind kind);
  static std::set<std::string, std::less<>>& NamesOf(ClientState& client, Kind kind);
  // Appends one message frame for `protocol` to *out; a pmessage when
  // `pattern` is set (it may be "": PSUBSCRIBE "" is valid).
  static void EncodeMessage(int protocol, std::string_view kind, const std::string* pattern,
                            std::string_view channel, std::string_view message,
                            std::string* out);
  void PushDeferred();
  void Deliver(const std::vector<uint64_t>& receivers, std::string_view kind,
               const std::string* pattern, std::string_view channel, std::string_view message);

  ServerState* server_;
  Registry channels_;
  Registry patterns_;
  Registry shard_channels_;
  // Reused between deliveries (loop thread only).
  std::vector<uint64_t> receivers_;
  std::string frame_[2];
  uint64_t defer_to_ = 0;  // 0: no client's frames are kept
  uint64_t deferred_client_ = 0;
  std::string deferred_;  // kept frames of deferred_client_
};

}  // namespace causalkv::command
