#include "pubsub.h"

#include <algorithm>

#include "causalkv/util/glob.h"

namespace causalkv::command {

PubSub::Registry& PubSub::RegistryOf(Kind kind) {
  switch (kind) {
    case Kind::kPattern:
      return patterns_;
    case Kind::kShard:
      return shard_channels_;
    case Kind::kChannel:
      break;
  }
  return channels_;
}

std::set<std::string, std::less<>>& PubSub::NamesOf(ClientState& client, Kind kind) {
  switch (kind) {
    case Kind::kPattern:
      return client.patterns;
    case Kind::kShard:
      return client.shard_channels;
    case Kind::kChannel:
      break;
  }
  return client.channels;
}

bool PubSub::Subscribe(ClientState& client, Kind kind, std::string_view name) {
  if (!NamesOf(client, kind).emplace(name).second) return false;
  ++client.subscriptions;
  RegistryOf(kind)[std::string(name)].push_back(client.id);
  return true;
}

bool PubSub::Unsubscribe(ClientState& client, Kind kind, std::string_view name) {
  auto& names = NamesOf(client, kind);
  auto mine = names.find(name);
  if (mine == names.end()) return false;
  names.erase(mine);
  --client.subscriptions;
  Registry& registry = RegistryOf(kind);
  auto it = registry.find(std::string(name));
  if (it != registry.end()) {
    std::erase(it->second, client.id);
    if (it->second.empty()) registry.erase(it);
  }
  return true;
}

void PubSub::UnsubscribeAll(ClientState& client) {
  for (Kind kind : {Kind::kChannel, Kind::kPattern, Kind::kShard}) {
    auto& names = NamesOf(client, kind);
    while (!names.empty()) {
      const std::string name = *names.begin();
      Unsubscribe(client, kind, name);
    }
  }
}

void PubSub::EncodeMessage(int protocol, std::string_view kind, const std::string* pattern,
                           std::string_view channel, std::string_view message,
                           std::string* out) {
  auto bulk = [out](std::string_view s) {
    out->push_back('$');
    out->append(std::to_string(s.size()));
    out->append("\r\n");
    out->append(s);
    out->append("\r\n");
  };
  out->push_back(protocol >= 3 ? '>' : '*');
  out->push_back(pattern == nullptr ? '3' : '4');
  out->append("\r\n");
  bulk(kind);
  if (pattern != nullptr) bulk(*pattern);
  bulk(channel);
  bulk(message);
}

void PubSub::Deliver(const std::vector<uint64_t>& receivers, std::string_view kind,
                     const std::string* pattern, std::string_view channel,
                     std::string_view message) {
  if (!server_->push_to_client) return;
  frame_[0].clear();
  frame_[1].clear();
  for (uint64_t id : receivers) {
    auto client = server_->clients.find(id);
    if (client == server_->clients.end()) continue;
    const int protocol = client->second->protocol;
    std::string& frame = frame_[protocol >= 3 ? 1 : 0];
    if (frame.empty()) EncodeMessage(protocol, kind, pattern, channel, message, &frame);
    if (id == defer_to_) {
      if (deferred_client_ != id) FlushDeferred();  // another command's, never left behind
      deferred_client_ = id;
      deferred_ += frame;
      continue;
    }
    // Frames kept for this client go first: its messages stay in order.
    if (id == deferred_client_) FlushDeferred();
    server_->push_to_client(id, frame);
  }
}

int64_t PubSub::Publish(std::string_view channel, std::string_view message, bool shard) {
  int64_t receivers = 0;
  Registry& registry = shard ? shard_channels_ : channels_;
  auto it = registry.find(std::string(channel));
  if (it != registry.end()) {
    // A copy: push_to_client never unsubscribes anyone, but the list must
    // not be the one a later change could reallocate while it is walked.
    receivers_ = it->second;
    receivers += static_cast<int64_t>(receivers_.size());
    Deliver(receivers_, shard ? "smessage" : "message", nullptr, channel, message);
  }
  if (shard) return receivers;
  for (const auto& [pattern, clients] : patterns_) {
    if (!util::GlobMatch(pattern, channel)) continue;
    receivers_ = clients;
    receivers += static_cast<int64_t>(receivers_.size());
    Deliver(receivers_, "pmessage", &pattern, channel, message);
  }
  return receivers;
}

int64_t PubSub::Publish(std::string_view channel, std::string_view message, bool shard,
                        uint64_t defer_to) {
  defer_to_ = defer_to;
  const int64_t receivers = Publish(channel, message, shard);
  defer_to_ = 0;
  return receivers;
}

void PubSub::PushDeferred() {
  std::string frames;
  frames.swap(deferred_);
  if (server_->push_to_client) server_->push_to_client(deferred_client_, frames);
}

std::vector<std::string_view> PubSub::ActiveChannels(bool shard, std::string_view pattern) const {
  const Registry& registry = shard ? shard_channels_ : channels_;
  std::vector<std::string_view> out;
  for (const auto& [name, clients] : registry) {
    if (pattern.empty() || util::GlobMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

int64_t PubSub::Subscribers(bool shard, std::string_view channel) const {
  const Registry& registry = shard ? shard_channels_ : channels_;
  auto it = registry.find(std::string(channel));
  return it == registry.end() ? 0 : static_cast<int64_t>(it->second.size());
}

}  // namespace causalkv::command
