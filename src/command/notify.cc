#include "notify.h"

#include <string>

#include "pubsub.h"

namespace causalkv::command {
namespace {

void BuildChannel(std::string* out, std::string_view kind, int db, std::string_view tail) {
  out->assign("__");
  out->append(kind);
  out->push_back('@');
  out->append(std::to_string(db));
  out->append("__:");
  out->append(tail);
}

void Publish(PubSub& pubsub, uint32_t flags, std::string_view event,
             std::string_view keyspace_message, std::string_view key, int db,
             uint64_t defer_to) {
  // Nobody listening (a snapshot loading with `n` on, a server nobody
  // subscribed to): no channel name is built.
  if (pubsub.ChannelCount(false) == 0 && pubsub.PatternCount() == 0) return;
  // Reused (loop thread only); a subscriber's delivery never publishes.
  thread_local std::string channel;
  if (flags & config::kNotifyKeyspace) {
    BuildChannel(&channel, "keyspace", db, key);
    pubsub.Publish(channel, keyspace_message, /*shard=*/false, defer_to);
  }
  if (flags & config::kNotifyKeyevent) {
    BuildChannel(&channel, "keyevent", db, event);
    pubsub.Publish(channel, key, /*shard=*/false, defer_to);
  }
}

}  // namespace

void PublishKeyspaceEvent(PubSub& pubsub, uint32_t flags, uint32_t /*type*/,
                          std::string_view event, std::string_view key, int db,
                          uint64_t defer_to) {
  Publish(pubsub, flags, event, event, key, db, defer_to);
}

void PublishSiblingEvent(PubSub& pubsub, uint32_t flags, std::string_view key, int db,
                         size_t count, uint64_t defer_to) {
  if ((flags & config::kNotifyConflict) == 0) return;
  const std::string message = "sibling:" + std::to_string(count);
  Publish(pubsub, flags, "sibling", message, key, db, defer_to);
}

}  // namespace causalkv::command
