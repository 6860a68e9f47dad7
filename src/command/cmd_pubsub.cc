// Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE
// SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB, with Redis 7.2's replies. In a
// cluster a PUBLISH also goes to every other node (Replicator::Publish),
// whose subscribers get it as if it were published there: each node's
// reply counts its own receivers, as a Redis Cluster node's does.
#include <string>
#include <string_view>

#include "causalkv/command/dispatch.h"
#include "causalkv/command/replicator.h"
#include "cmd_common.h"
#include "pubsub.h"

namespace causalkv::command {
namespace {

using Kind = PubSub::Kind;

// The count a (un)subscribe reply carries: channels and patterns together,
// shard channels on their own (as Redis counts them).
int64_t SubscriptionCount(const ClientState& c, Kind kind) {
  if (kind == Kind::kShard) return static_cast<int64_t>(c.shard_channels.size());
  return static_cast<int64_t>(c.channels.size() + c.patterns.size());
}

void WriteSubscriptionReply(Context& ctx, std::string_view what, const std::string_view* name,
                            Kind kind) {
  ctx.w.PushHeader(3);
  ctx.w.Bulk(what);
  if (name != nullptr) {
    ctx.w.Bulk(*name);
  } else {
    ctx.w.Null();
  }
  ctx.w.Integer(SubscriptionCount(ctx.client, kind));
}

void SubscribeTo(Context& ctx, Kind kind, std::string_view what) {
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    ctx.dispatcher.pubsub().Subscribe(ctx.client, kind, ctx.args[i]);
    WriteSubscriptionReply(ctx, what, &ctx.args[i], kind);
  }
}

void UnsubscribeFrom(Context& ctx, Kind kind, std::string_view what) {
  PubSub& pubsub = ctx.dispatcher.pubsub();
  if (ctx.args.size() > 1) {
    for (size_t i = 1; i < ctx.args.size(); ++i) {
      pubsub.Unsubscribe(ctx.client, kind, ctx.args[i]);
      WriteSubscriptionReply(ctx, what, &ctx.args[i], kind);
    }
    return;
  }
  const auto& names = kind == Kind::kChannel   ? ctx.client.channels
                      : kind == Kind::kPattern ? ctx.client.patterns
                                               : ctx.client.shard_channels;
  if (names.empty()) {
    WriteSubscriptionReply(ctx, what, nullptr, kind);
    return;
  }
  while (!names.empty()) {
    const std::string name = *names.begin();
    pubsub.Unsubscribe(ctx.client, kind, name);
    const std::string_view view = name;
    WriteSubscriptionReply(ctx, what, &view, kind);
  }
}

void Subscribe(Context& ctx) { SubscribeTo(ctx, Kind::kChannel, "subscribe"); }
void PSubscribe(Context& ctx) { SubscribeTo(ctx, Kind::kPattern, "psubscribe"); }
void SSubscribe(Context& ctx) { SubscribeTo(ctx, Kind::kShard, "ssubscribe"); }
void Unsubscribe(Context& ctx) { UnsubscribeFrom(ctx, Kind::kChannel, "unsubscribe"); }
void PUnsubscribe(Context& ctx) { UnsubscribeFrom(ctx, Kind::kPattern, "punsubscribe"); }
void SUnsubscribe(Context& ctx) { UnsubscribeFrom(ctx, Kind::kShard, "sunsubscribe"); }

void PublishTo(Context& ctx, bool shard) {
  // A RESP3 publisher subscribed to the channel gets the message after the
  // PUBLISH reply (and after EXEC's whole reply inside MULTI), as in Redis
  // 7.2; 7.0 pushed it before, into the middle of an EXEC reply.
  const int64_t receivers = ctx.dispatcher.pubsub().Publish(ctx.args[1], ctx.args[2], shard,
                                                            ctx.dispatcher.executing_client());
  Replicator* replicator = ctx.dispatcher.replicator();
  if (replicator != nullptr && !ctx.client.peer) {
    replicator->Publish(std::string(ctx.args[1]), std::string(ctx.args[2]), shard);
  }
  ctx.w.Integer(receivers);
}

void Publish(Context& ctx) { PublishTo(ctx, false); }
void SPublish(Context& ctx) { PublishTo(ctx, true); }

void ListChannels(Context& ctx, bool shard) {
  if (ctx.args.size() > 3) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                std::string(ctx.args[1]) + "'. Try PUBSUB HELP.");
    return;
  }
  const std::string_view pattern = ctx.args.size() == 3 ? ctx.args[2] : std::string_view("*");
  const auto names = ctx.dispatcher.pubsub().ActiveChannels(shard, pattern);
  ctx.w.ArrayHeader(static_cast<int64_t>(names.size()));
  for (std::string_view name : names) ctx.w.Bulk(name);
}

void CountSubscribers(Context& ctx, bool shard) {
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2) * 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.w.Bulk(ctx.args[i]);
    ctx.w.Integer(ctx.dispatcher.pubsub().Subscribers(shard, ctx.args[i]));
  }
}

void PubSubChannels(Context& ctx) { ListChannels(ctx, false); }
void PubSubShardChannels(Context& ctx) { ListChannels(ctx, true); }
void PubSubNumSub(Context& ctx) { CountSubscribers(ctx, false); }
void PubSubShardNumSub(Context& ctx) { CountSubscribers(ctx, true); }
void PubSubNumPat(Context& ctx) { ctx.w.Integer(ctx.dispatcher.pubsub().PatternCount()); }

void PubSubHelp(Context& ctx) {
  static const char* const kLines[] = {
      "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CHANNELS [<pattern>]",
      "    Return the currently active channels matching a <pattern> (default: '*').",
      "NUMPAT",
      "    Return number of subscriptions to patterns.",
      "NUMSUB [<channel> ...]",
      "    Return the number of subscribers for the specified channels, excluding",
      "    pattern subscriptions(default: no channels).",
      "SHARDCHANNELS [<pattern>]",
      "    Return the currently active shard level channels matching a <pattern> (default: "
      "'*').",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Return the number of subscribers for the specified shard level channel(s)",
      "HELP",
      "    Prints this help."};
  WriteHelp(ctx, kLines);
}

}  // namespace

void RegisterPubSubCommands(std::vector<CommandSpec>* out) {
  const std::string g = "pubsub";
  // Redis's flags for these: pubsub, noscript (the subscriptions), loading, stale.
  const uint32_t kSub = kNoScript | kLoading | kStale;
  auto add = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                 const char* summary, const char* complexity, const char* args) {
    out->push_back({name, arity, flags, 0, 0, 0, h, g, since, summary, complexity, args, {}});
  };
  add("subscribe", -2, kSub, Subscribe, "2.0.0",
      "Listens for messages published to channels.",
      "O(N) where N is the number of channels to subscribe to.", "channel:string...");
  add("unsubscribe", -1, kSub, Unsubscribe, "2.0.0",
      "Stops listening to messages posted to channels.",
      "O(N) where N is the number of channels to unsubscribe.", "[channel:string...]");
  add("psubscribe", -2, kSub, PSubscribe, "2.0.0",
      "Listens for messages published to channels that match one or more patterns.",
      "O(N) where N is the number of patterns to subscribe to.", "pattern:pattern...");
  add("punsubscribe", -1, kSub, PUnsubscribe, "2.0.0",
      "Stops listening to messages published to channels that match one or more patterns.",
      "O(N) where N is the number of patterns to unsubscribe.", "[pattern:pattern...]");
  add("publish", 3, kLoading | kStale | kFast, Publish, "2.0.0",
      "Posts a message to a channel.",
      "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
      "the total number of subscribed patterns (by any client).",
      "channel:string message:string");
  // The shard channels are "keys" for Redis Cluster's slot routing; a
  // causalkv node holds every slot, so they route nowhere and are not keys
  // here (key positions would make the dispatcher treat them as data).
  add("ssubscribe", -2, kSub, SSubscribe, "7.0.0",
      "Listens for messages published to shard channels.",
      "O(N) where N is the number of shard channels to subscribe to.",
      "shardchannel:string...");
  add("sunsubscribe", -1, kSub, SUnsubscribe, "7.0.0",
      "Stops listening to messages posted to shard channels.",
      "O(N) where N is the number of shard channels to unsubscribe.",
      "[shardchannel:string...]");
  add("spublish", 3, kLoading | kStale | kFast, SPublish, "7.0.0",
      "Post a message to a shard channel",
      "O(N) where N is the number of clients subscribed to the receiving shard channel.",
      "shardchannel:string message:string");

  CommandSpec pubsub{"pubsub", -2, 0, 0, 0, 0, nullptr, g, "2.8.0",
                     "A container for Pub/Sub commands.", "Depends on subcommand.", "", {}};
  auto sub = [&](const char* name, int arity, Handler h, const char* since, const char* summary,
                 const char* complexity, const char* args) {
    pubsub.subcommands.push_back({name, arity, kLoading | kStale, 0, 0, 0, h, g, since, summary,
                                  complexity, args, {}});
  };
  sub("pubsub|channels", -2, PubSubChannels, "2.8.0", "Returns the active channels.",
      "O(N) where N is the number of active channels, and assuming constant time pattern "
      "matching (relatively short channels and patterns)",
      "[pattern:pattern]");
  sub("pubsub|numpat", 2, PubSubNumPat, "2.8.0",
      "Returns a count of unique pattern subscriptions.", "O(1)", "");
  sub("pubsub|numsub", -2, PubSubNumSub, "2.8.0",
      "Returns a count of subscribers to channels.",
      "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
      "[channel:string...]");
  sub("pubsub|shardchannels", -2, PubSubShardChannels, "7.0.0",
      "Returns the active shard channels.",
      "O(N) where N is the number of active shard channels, and assuming constant time "
      "pattern matching (relatively short shard channels).",
      "[pattern:pattern]");
  sub("pubsub|shardnumsub", -2, PubSubShardNumSub, "7.0.0",
      "Returns the count of subscribers of shard channels.",
      "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
      "[shardchannel:string...]");
  sub("pubsub|help", 2, PubSubHelp, "6.2.0", "Returns helpful text about the different "
      "subcommands.", "O(1)", "");
  out->push_back(std::move(pubsub));
}

}  // namespace causalkv::command
