// Keyspace notifications (notify-keyspace-events), with Redis's channels and
// messages: for an event on `key` in database `db`,
//   K: PUBLISH __keyspace@<db>__:<key> <event>
//   E: PUBLISH __keyevent@<db>__:<event> <key>
// in that order, each only when its letter and the event's class are both
// enabled. Delivered to this node's subscribers only (never forwarded to
// peers, as in Redis Cluster): each node notifies what happens to its own
// keyspace. A state merged in from a peer carries no command: it notifies
// `new` (the store's hook) and `sibling` only. As in Redis 7.2, a RESP3
// client subscribed to the events its own command causes receives them
// after that command's reply.
//
// causalkv's own event `sibling` (class c) differs in one way: its keyspace
// message is "sibling:<count>", the key's sibling count after the change.
//
// Cost: with notifications off (the default) a call is one load of the
// config flags and a branch, inlined at the call site; the channel names are
// built only when an event is published.
//
// Thread-compatibility: loop thread only.
#pragma once

#include <cstdint>
#include <string_view>

#include "causalkv/config/config.h"

namespace causalkv::command {

class PubSub;

// Publishes the event. REQUIRES: `flags & type` (use NotifyKeyspaceEvent).
// `defer_to`: the client whose command is running (0: none), which gets
// its frames after the command's reply (PubSub::Publish).
void PublishKeyspaceEvent(PubSub& pubsub, uint32_t flags, uint32_t type, std::string_view event,
                          std::string_view key, int db, uint64_t defer_to);
// `sibling` (class c) with its keyspace message "sibling:<count>".
void PublishSiblingEvent(PubSub& pubsub, uint32_t flags, std::string_view key, int db,
                         size_t count, uint64_t defer_to);

// `flags`: config::Config::notify_keyspace_events; `type`: the event's
// class (config::NotifyClass, one bit).
inline void NotifyKeyspaceEvent(PubSub& pubsub, uint32_t flags, uint32_t type,
                                std::string_view event, std::string_view key, int db,
                                uint64_t defer_to) {
  if ((flags & type) == 0) return;
  PublishKeyspaceEvent(pubsub, flags, type, event, key, db, defer_to);
}

}  // namespace causalkv::command
