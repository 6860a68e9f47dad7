#include "causalkv/cluster/coordinator.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>

#include "causalkv/util/key_slot.h"

namespace causalkv::cluster {
namespace {

constexpr uint64_t kTickMs = 100;
constexpr int kSlotsPerGroup = 128;
constexpr int kGroups = util::kHashSlots / kSlotsPerGroup;
// Each PEER.DUMP costs the peer one pass over its keys: few, large requests.
constexpr size_t kSlotsPerDump = 4096;
// Requests in flight per peer link: bounds the memory a write burst at W=1
// can hold in the coordinator (beyond it, writes become hints).
constexpr size_t kMaxInFlight = 10000;
constexpr size_t kHintOverhead = 64;  // deque entry, set node, strings
// Key states sent to a peer and not yet answered, beyond which a write waits
// as a hint: W=1 writes may outrun a slow peer, and this bounds what that
// costs (the size of Redis's replica output buffer soft limit).
constexpr size_t kMaxBytesInFlight = 64u << 20;
// One PEER.MERGE carries at most this much; more goes in the next one.
constexpr size_t kMergeBatchKeys = 1024;
constexpr size_t kMergeBatchBytes = 1u << 20;
// W=1 writes wait at most this long for others to share their batch.
constexpr uint64_t kLazyFlushMs = 1;
// Anti-entropy waits until no peer sent a state for this long ...
constexpr int64_t kQuietMs = 1000;
// ... unless the round is this many intervals late.
constexpr int64_t kAntiEntropyOverdue = 6;

// A database's number as text, without formatting it per key. The views
// stay valid: a batch holds one per key until it is sent.
std::string_view DbName(int db) {
  static std::deque<std::string> names;
  while (names.size() <= static_cast<size_t>(db)) names.push_back(std::to_string(names.size()));
  return names[static_cast<size_t>(db)];
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsError(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

// One key's answer from the front of a PEER.MGET reply, advancing *in: '='
// (the same state), '-' (none there) or '+' with *state. False when
// malformed (or *in is empty).
bool NextMgetAnswer(std::string_view* in, char* tag, std::string_view* state) {
  if (in->empty()) return false;
  *tag = (*in)[0];
  in->remove_prefix(1);
  if (*tag == '=' || *tag == '-') return true;
  if (*tag != '+' || in->size() < 4) return false;
  uint32_t len = 0;
  for (int b = 0; b < 4; ++b) {
    len |= static_cast<uint32_t>(static_cast<uint8_t>((*in)[b])) << (8 * b);
  }
  if (in->size() - 4 < len) return false;
  *state = in->substr(4, len);
  in->remove_prefix(4 + len);
  return true;
}

uint64_t ReadFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string HintId(int db, std::string_view key) {
  std::string id = std::to_string(db);
  id.push_back('\0');
  id.append(key);
  return id;
}

}  // namespace

// One peer's share of an op: it counts once every key of the op is answered.
struct PeerShare {
  size_t left = 0;
  bool failed = false;
};

// A replicated write or read in progress: `count` replicas (this node
// included) hold it or answered; `outstanding` peers have not resolved yet.
struct Coordinator::Op {
  int needed = 1;
  int count = 1;
  int outstanding = 0;
  bool finished = false;
  bool write = true;
  bool changed = false;  // a read: this node's state is not what the reader saw
  std::function<void(int)> done;
  std::function<void(int, bool)> read_done;
  // Per peer; a cluster of up to 5 nodes needs no second allocation.
  std::array<PeerShare, 4> few_shares;
  std::vector<PeerShare> more_shares;
  void InitShares(size_t peers) {
    if (peers > few_shares.size()) more_shares.resize(peers);
  }
  PeerShare& share(size_t peer) {
    return more_shares.empty() ? few_shares[peer] : more_shares[peer];
  }
  bool Decided() const {
    return count >= needed || outstanding == 0 || count + outstanding < needed;
  }
};

std::vector<size_t> ReplicaPeersOfSlot(int /*slot*/, size_t peer_count) {
  std::vector<size_t> all(peer_count);
  for (size_t i = 0; i < peer_count; ++i) all[i] = i;
  return all;
}

bool SplitHostPort(std::string_view spec, std::string* host, int* port) {
  size_t colon;
  if (!spec.empty() && spec.front() == '[') {
    const size_t close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return false;
    }
    *host = std::string(spec.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = spec.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    *host = std::string(spec.substr(0, colon));
  }
  const std::string digits(spec.substr(colon + 1));
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *port = std::stoi(digits);
  return *port > 0 && *port < 65536;
}

Coordinator::Coordinator(uv_loop_t* loop, const config::Config* config, std::string self_id,
                         LocalStore* local)
    : loop_(loop), config_(config), self_id_(std::move(self_id)), local_(local) {
  std::string source;
  for (const std::string& b : config->bind) {
    std::string addr = b;
    if (!addr.empty() && addr[0] == '-') addr.erase(0, 1);
    if (addr == "*" || addr == "0.0.0.0" || addr == "::" || addr == "::*") addr.clear();
    source = addr;
    break;
  }
  for (const std::string& spec : config->peers) {
    PeerLinkOptions opts;
    opts.name = spec;
    if (!SplitHostPort(spec, &opts.host, &opts.port)) {
      spdlog::warn("peer '{}' is not host:port; ignored", spec);  // config validated it
      continue;
    }
    opts.source_address = source;
    opts.handshake = {"PEER.HELLO", config->peer_secret, self_id_};
    opts.request_timeout_ms = static_cast<uint64_t>(std::max<int64_t>(1, config->peer_timeout_ms));
    opts.reconnect_min_ms = 50;
    opts.reconnect_max_ms = std::max<uint64_t>(500, opts.request_timeout_ms);
    opts.max_pending = kMaxInFlight;
    Peer peer;
    peer.address = spec;
    peer.link = std::make_unique<PeerLink>(loop, std::move(opts));
    peers_.push_back(std::move(peer));
  }
  uv_timer_init(loop_, &tick_);
  uv_timer_init(loop_, &soon_);
  uv_check_init(loop_, &flush_check_);
  uv_prepare_init(loop_, &flush_prepare_);
  uv_timer_init(loop_, &lazy_flush_);
  tick_.data = this;
  soon_.data = this;
  flush_check_.data = this;
  flush_prepare_.data = this;
  lazy_flush_.data = this;
  handles_open_ = 5;
}

Coordinator::~Coordinator() = default;

void Coordinator::Start() {
  if (started_) return;
  started_ = true;
  for (Peer& p : peers_) p.link->Start();
  const int64_t now = WallMs();
  for (Peer& p : peers_) p.ae_last_ms = now;  // the first round one interval after start
  uv_timer_start(
      &tick_, [](uv_timer_t* t) { static_cast<Coordinator*>(t->data)->Tick(); }, kTickMs, kTickMs);
}

void Coordinator::ConfigChanged() {
  const auto timeout = static_cast<uint64_t>(std::max<int64_t>(1, config_->peer_timeout_ms));
  for (Peer& p : peers_) p.link->set_request_timeout_ms(timeout);
}

void Coordinator::Close() {
  if (closing_) return;
  closing_ = true;
  for (Peer& p : peers_) p.link->Close();
  auto on_closed = [](uv_handle_t* h) { --static_cast<Coordinator*>(h->data)->handles_open_; };
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&soon_), on_closed);
  FlushOutbox();  // fails every batch at once: the links are down
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_prepare_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&lazy_flush_), on_closed);
  // Whoever still waits gets what is known now.
  std::vector<std::shared_ptr<Op>> ops;
  ops.swap(soon_ops_);
  for (auto& op : ops) Complete(op);
}

bool Coordinator::closed() const {
  if (handles_open_ != 0) return false;
  for (const Peer& p : peers_) {
    if (!p.link->closed()) return false;
  }
  return true;
}

void Coordinator::Complete(const std::shared_ptr<Op>& op) {
  if (op->finished) return;
  op->finished = true;
  if (op->count < op->needed) {
    ++(op->write ? stats_.write_quorum_failures : stats_.read_quorum_failures);
  }
  if (op->done) op->done(op->count);
  if (op->read_done) op->read_done(op->count, op->changed);
}

void Coordinator::CompleteSoon(std::shared_ptr<Op> op) {
  soon_ops_.push_back(std::move(op));
  if (closing_) return;
  uv_timer_start(
      &soon_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Coordinator*>(t->data);
        std::vector<std::shared_ptr<Op>> ops;
        ops.swap(self->soon_ops_);
        for (auto& op : ops) self->Complete(op);
      },
      0, 0);
}

void Coordinator::Replicate(std::vector<command::KeyStateUpdate> updates, int needed,
                            std::function<void(int holders)> done) {
  std::shared_ptr<Op> op;
  if (done) {  // W=1 writes: nobody waits, so nothing is counted
    op = std::make_shared<Op>();
    op->needed = needed;
    op->done = std::move(done);
    op->write = true;
    op->InitShares(peers_.size());
  }
  size_t bytes = 0;
  for (const auto& u : updates) bytes += u.key.size() + u.state.size();
  const auto first = static_cast<uint32_t>(outbox_.size());
  // Every peer is a replica of every slot today (ReplicaPeersOfSlot).
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (!peer.link->is_up() ||
        peer.bytes_in_flight + peer.bytes_queued + bytes > kMaxBytesInFlight) {
      // Down, or so far behind that the write waits as a hint instead.
      for (const auto& u : updates) AddHint(p, u.db, u.key);
      continue;
    }
    peer.bytes_queued += bytes;
    for (uint32_t i = 0; i < updates.size(); ++i) peer.outbox.push_back(first + i);
    if (op) {
      op->share(p).left = updates.size();
      ++op->outstanding;
    }
  }
  for (auto& u : updates) {
    outbox_.push_back(Outgoing{u.db, std::move(u.key), std::move(u.state), op});
  }
  if (op && op->Decided()) CompleteSoon(op);
  outbox_bytes_ += bytes;
  if (outbox_.empty()) return;
  if (op || outbox_waiting_ || outbox_.size() >= kMergeBatchKeys ||
      outbox_bytes_ >= kMergeBatchBytes) {
    // Someone waits (or the batch is full): sent once this loop iteration's
    // commands have run, one PEER.MERGE per peer carrying them all.
    outbox_waiting_ = true;
    FlushSoon();
  } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&lazy_flush_))) {
    // Nobody waits (W=1): up to kLazyFlushMs of writes share one batch, so
    // a stream of small writes costs the peers (and this node) one request
    // and one acknowledgement per batch, not per loop iteration.
    uv_timer_start(
        &lazy_flush_, [](uv_timer_t* t) { static_cast<Coordinator*>(t->data)->FlushOutbox(); },
        kLazyFlushMs, 0);
  }
}

void Coordinator::FlushSoon() {
  // Check runs right after this iteration's I/O callbacks; prepare covers
  // work queued elsewhere (timers, resumed clients) before the loop blocks.
  uv_check_start(&flush_check_,
                 [](uv_check_t* h) { static_cast<Coordinator*>(h->data)->FlushOutbox(); });
  uv_prepare_start(&flush_prepare_,
                   [](uv_prepare_t* h) { static_cast<Coordinator*>(h->data)->FlushOutbox(); });
}

void Coordinator::FlushOutbox() {
  uv_check_stop(&flush_check_);
  uv_prepare_stop(&flush_prepare_);
  uv_timer_stop(&lazy_flush_);
  outbox_waiting_ = false;
  outbox_bytes_ = 0;
  FlushReads();
  if (outbox_.empty()) return;
  auto batch = outgoing_pool_.Share(&outbox_);
  // As in FlushReads: everything is taken before anything is sent.
  std::vector<std::shared_ptr<std::vector<uint32_t>>> orders(peers_.size());
  for (size_t p = 0; p < peers_.size(); ++p) {
    if (peers_[p].outbox.empty()) continue;
    orders[p] = order_pool_.Share(&peers_[p].outbox);
    peers_[p].bytes_queued = 0;
  }
  std::vector<std::string_view> argv;
  // Peers usually get the same states in the same order (every write goes
  // to every replica): a batch encoded for one peer is reused for the next
  // when its entries are the same ones.
  std::string encoded;
  std::vector<uint32_t> encoded_entries;
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (!orders[p]) continue;
    auto order = std::move(orders[p]);
    size_t begin = 0;
    while (begin < order->size()) {
      size_t end = begin;
      size_t bytes = 0;
      while (end < order->size() && end - begin < kMergeBatchKeys && bytes < kMergeBatchBytes) {
        const Outgoing& e = (*batch)[(*order)[end]];
        bytes += e.key.size() + e.state.size();
        ++end;
      }
      const auto first = order->begin() + static_cast<std::ptrdiff_t>(begin);
      const auto last = order->begin() + static_cast<std::ptrdiff_t>(end);
      if (!std::equal(first, last, encoded_entries.begin(), encoded_entries.end())) {
        argv.assign(1, "PEER.MERGE");
        for (auto it = first; it != last; ++it) {
          const Outgoing& e = (*batch)[*it];
          argv.push_back(DbName(e.db));
          argv.push_back(e.key);
          argv.push_back(e.state);
        }
        PeerLink::FormatCommand(argv, &encoded);
        encoded_entries.assign(first, last);
      }
      peer.bytes_in_flight += bytes;
      const bool sent = peer.link->SendFormatted(
          encoded, [this, batch, order, p, begin, end, bytes](const redisReply* reply) {
            peers_[p].bytes_in_flight -= bytes;
            ResolveMerges(p, *batch, *order, begin, end, reply);
          });
      if (!sent) {
        peer.bytes_in_flight -= bytes;
        ResolveMerges(p, *batch, *order, begin, end, nullptr);
      }
      begin = end;
    }
  }
  // hiredis copied them; only the keys stay, for hints.
  for (Outgoing& e : *batch) std::string().swap(e.state);
}

void Coordinator::ResolveMerges(size_t peer, const std::vector<Outgoing>& batch,
                                const std::vector<uint32_t>& order, size_t begin, size_t end,
                                const redisReply* reply) {
  // The reply has one status byte per key: '1' changed, '0' held already,
  // anything else refused (the peer logs why).
  bool all_failed = IsError(reply) || reply->type != REDIS_REPLY_STRING ||
                    reply->len != end - begin;
  if (all_failed && reply != nullptr) {
    spdlog::warn("peer {} refused a batch of states: {}", peers_[peer].address,
                 reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                                  : std::string("unexpected reply"));
  }
  for (size_t k = begin; k < end; ++k) {
    const Outgoing& e = batch[order[k]];
    const char status = all_failed ? 'e' : reply->str[k - begin];
    const bool held = status == '0' || status == '1';
    if (!held) AddHint(peer, e.db, e.key);
    if (held && e.hint) ++stats_.hints_delivered;
    if (!e.op) continue;
    Op& op = *e.op;
    PeerShare& share = op.share(peer);
    if (!held) share.failed = true;
    if (--share.left != 0) continue;
    --op.outstanding;
    if (!share.failed) ++op.count;
    if (op.Decided()) Complete(e.op);
  }
}

void Coordinator::Publish(std::string channel, std::string message, bool shard) {
  const size_t bytes = channel.size() + message.size();
  std::vector<std::string_view> argv{"PEER.PUBLISH", channel, message};
  if (shard) argv.push_back("SHARD");
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    // A subscriber elsewhere only hears what is published while its node
    // is reachable: nothing is queued for a peer that is down, and a peer
    // this far behind drops messages rather than grow this node's memory.
    if (!peer.link->is_up() ||
        peer.bytes_in_flight + peer.bytes_queued + bytes > kMaxBytesInFlight) {
      ++stats_.messages_dropped;
      continue;
    }
    if (peer.link->Send(argv, [this, p, bytes](const redisReply*) {
          peers_[p].bytes_in_flight -= bytes;
        })) {
      peer.bytes_in_flight += bytes;
      ++stats_.messages_forwarded;
    } else {
      ++stats_.messages_dropped;
    }
  }
}

void Coordinator::Fetch(std::vector<command::KeyRef> keys, int needed,
                        std::function<void(int answered, bool changed)> done) {
  auto op = std::make_shared<Op>();
  op->needed = needed;
  op->read_done = std::move(done);
  op->write = false;
  op->InitShares(peers_.size());
  const auto first = static_cast<uint32_t>(read_outbox_.size());
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (!peer.link->is_up()) continue;
    for (uint32_t i = 0; i < keys.size(); ++i) peer.read_outbox.push_back(first + i);
    op->share(p).left = keys.size();
    ++op->outstanding;
  }
  for (auto& k : keys) {
    read_outbox_.push_back(Wanted{k.db, std::move(k.key), op, k.digest_known, k.digest});
  }
  if (op->Decided()) CompleteSoon(op);
  if (!read_outbox_.empty()) {
    FlushSoon();
  }
}

void Coordinator::FlushReads() {
  if (read_outbox_.empty()) return;
  auto batch = wanted_pool_.Share(&read_outbox_);
  // What this node holds now: a peer answers only where it holds something else.
  constexpr size_t kDigits = 20;  // a uint64_t in decimal
  digest_text_.resize(batch->size() * kDigits);
  std::vector<std::string_view>& digests = digest_views_;
  digests.assign(batch->size(), std::string_view());
  for (size_t i = 0; i < batch->size(); ++i) {
    Wanted& w = (*batch)[i];
    if (!w.digest_known) {
      w.digest_known = true;
      if (!local_->DigestLocal(w.db, w.key, &w.digest)) w.digest = 0;
    }
    if (w.digest == 0) continue;  // none: the empty string
    char* at = digest_text_.data() + i * kDigits;
    const auto result = std::to_chars(at, at + kDigits, w.digest);
    digests[i] = std::string_view(at, static_cast<size_t>(result.ptr - at));
  }
  // Everything is taken before anything is sent: a failed send resolves its
  // reads at once, and what their callbacks ask for goes in the next batch.
  std::vector<std::shared_ptr<std::vector<uint32_t>>> orders(peers_.size());
  for (size_t p = 0; p < peers_.size(); ++p) {
    if (!peers_[p].read_outbox.empty()) orders[p] = order_pool_.Share(&peers_[p].read_outbox);
  }
  std::vector<std::string_view> argv;
  // As in FlushOutbox: a batch encoded for one peer is reused for the next.
  std::string encoded;
  std::vector<uint32_t> encoded_entries;
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (!orders[p]) continue;
    auto order = std::move(orders[p]);
    for (size_t begin = 0; begin < order->size();) {
      const size_t end = std::min(order->size(), begin + kMergeBatchKeys);
      const auto first = order->begin() + static_cast<std::ptrdiff_t>(begin);
      const auto last = order->begin() + static_cast<std::ptrdiff_t>(end);
      if (!std::equal(first, last, encoded_entries.begin(), encoded_entries.end())) {
        argv.assign(1, "PEER.MGET");
        for (auto it = first; it != last; ++it) {
          argv.push_back(DbName((*batch)[*it].db));
          argv.push_back((*batch)[*it].key);
          argv.push_back(digests[*it]);
        }
        PeerLink::FormatCommand(argv, &encoded);
        encoded_entries.assign(first, last);
      }
      const bool sent = peer.link->SendFormatted(encoded, [this, batch, order, p, begin, end](
                                                              const redisReply* reply) {
        ResolveReads(p, *batch, *order, begin, end, reply);
      });
      if (!sent) ResolveReads(p, *batch, *order, begin, end, nullptr);
      begin = end;
    }
  }
}

void Coordinator::ResolveReads(size_t peer, const std::vector<Wanted>& batch,
                               const std::vector<uint32_t>& order, size_t begin, size_t end,
                               const redisReply* reply) {
  // PEER.MGET's answer: a tag per key ('=' same, '-' none there, '+' and a
  // state); anything malformed fails the whole batch.
  const bool usable = !IsError(reply) && reply->type == REDIS_REPLY_STRING;
  std::string_view in = usable ? std::string_view(reply->str, reply->len) : std::string_view();
  bool failed = !usable;
  for (size_t k = begin; k < end; ++k) {
    const Wanted& w = batch[order[k]];
    Op& op = *w.op;
    PeerShare& share = op.share(peer);
    char tag = 0;
    std::string_view theirs;
    failed = failed || !NextMgetAnswer(&in, &tag, &theirs);
    if (failed) {
      share.failed = true;
    } else if (tag != '=') {
      // The peer holds something else than this node did when it asked.
      bool changed = false;
      if (tag == '+' && !local_->MergeLocal(w.db, w.key, theirs, &changed, true)) {
        spdlog::warn("peer {} answered a malformed state", peers_[peer].address);
        share.failed = true;
      } else {
        uint64_t now = 0;
        if (!local_->DigestLocal(w.db, w.key, &now)) now = 0;
        if (now != w.digest) op.changed = true;
        // Read repair: the peer gets this node's state where its answer
        // lacked something (a missing key included).
        std::string mine;
        if (local_->ExportLocal(w.db, w.key, &mine) && mine != theirs) {
          ++stats_.read_repairs;
          Push(peer, w.db, w.key, false);
        }
      }
    }
    if (--share.left != 0) continue;
    --op.outstanding;
    if (!share.failed) ++op.count;
    if (op.Decided()) Complete(w.op);
  }
}

void Coordinator::Push(size_t peer, int db, std::string_view key, bool hint) {
  std::string state;
  if (!local_->ExportLocal(db, key, &state)) return;  // expired or evicted here
  Peer& p = peers_[peer];
  p.bytes_queued += key.size() + state.size();
  p.outbox.push_back(static_cast<uint32_t>(outbox_.size()));
  outbox_.push_back(Outgoing{db, std::string(key), std::move(state), nullptr, hint});
  outbox_waiting_ = true;  // repair goes out with this iteration's batch
  FlushSoon();
}

size_t Coordinator::hint_budget_per_peer() const {
  if (peers_.empty()) return 0;
  return static_cast<size_t>(config_->hints_max_memory) / peers_.size();
}

void Coordinator::AddHint(size_t peer, int db, const std::string& key) {
  Hints& h = peers_[peer].hints;
  std::string id = HintId(db, key);
  if (h.queued.count(id) != 0) return;  // the state sent later covers both writes
  const size_t cost = 2 * key.size() + kHintOverhead;
  if (h.bytes + cost > hint_budget_per_peer()) {
    ++h.dropped;  // anti-entropy will repair it
    return;
  }
  h.bytes += cost;
  h.queued.insert(std::move(id));
  h.queue.push_back(command::KeyRef{db, key});
}

void Coordinator::DeliverHints(size_t peer) {
  Peer& p = peers_[peer];
  // Up to half the in-flight bound, so hints never crowd out new writes;
  // the next tick goes on.
  while (!p.hints.queue.empty() && p.link->is_up() &&
         p.bytes_in_flight + p.bytes_queued < kMaxBytesInFlight / 2) {
    command::KeyRef hint = std::move(p.hints.queue.front());
    p.hints.queue.pop_front();
    p.hints.queued.erase(HintId(hint.db, hint.key));
    p.hints.bytes -= std::min(p.hints.bytes, 2 * hint.key.size() + kHintOverhead);
    Push(peer, hint.db, hint.key, true);  // refused or lost: a hint again
  }
}

void Coordinator::Tick() {
  const int64_t now = WallMs();
  if (now - last_reap_ms_ >= 1000 || (reap_backlog_ && reaps_in_flight_ == 0)) {
    last_reap_ms_ = now;
    ReapTombstones();
  }
  for (size_t p = 0; p < peers_.size(); ++p) {
    Peer& peer = peers_[p];
    if (!peer.link->is_up()) continue;
    if (!peer.hints.queue.empty()) DeliverHints(p);
    // Anti-entropy is background work. This node's own writes in flight do
    // not disturb it (AntiEntropyDb), but the peers' do: while states keep
    // arriving, the digests differ for nothing but those, so a round waits
    // for a quiet second; hints not yet sent are differences already on
    // their way, so it waits for them too. It runs anyway once it is
    // kAntiEntropyOverdue intervals late.
    const int64_t interval = config_->anti_entropy_interval_ms;
    const bool quiet =
        now - local_->LastPeerMergeMs() >= kQuietMs && peer.hints.queue.empty();
    if (!peer.ae_running && now - peer.ae_last_ms >= interval &&
        (quiet || now - peer.ae_last_ms >= kAntiEntropyOverdue * interval)) {
      StartAntiEntropy(p);
    }
  }
}

void Coordinator::ReapTombstones() {
  // A round takes up to kReapBatch old tombstones, asks every peer for all of
  // them in one PEER.MGET (answer '=': the peer's state has this digest),
  // and drops the ones every replica holds with one PEER.REAP per peer, which
  // drops only an exactly equal state. A full round is followed by the next
  // one at the next tick, so a FLUSHALL's or a mass delete's tombstones go
  // at up to ~10k a second (it was 256).
  constexpr size_t kReapBatch = 1024;
  if (reaps_in_flight_ != 0) return;
  reap_backlog_ = false;
  for (const Peer& p : peers_) {
    if (!p.link->is_up()) return;  // a replica that cannot confirm keeps everyone's
  }
  struct Round {
    std::vector<int> dbs;
    std::vector<std::string> keys;
    std::vector<std::string> states;
    std::vector<std::string> digests;
    std::vector<bool> everywhere;
    size_t peers_left = 0;
  };
  auto round = std::make_shared<Round>();
  const int64_t now = WallMs();
  local_->OldHiddenStates(now - config_->tombstone_grace_ms, now - config_->expired_grace_ms,
                          kReapBatch,
                          [&](int db, std::string_view key, std::string_view state) {
                            round->dbs.push_back(db);
                            round->keys.emplace_back(key);
                            round->states.emplace_back(state);
                          });
  if (round->keys.empty()) return;
  reap_backlog_ = round->keys.size() >= kReapBatch;
  for (size_t i = 0; i < round->keys.size(); ++i) {
    uint64_t digest = 0;
    local_->DigestLocal(round->dbs[i], round->keys[i], &digest);
    round->digests.push_back(std::to_string(digest));
  }
  round->everywhere.assign(round->keys.size(), true);
  round->peers_left = peers_.size();
  ++reaps_in_flight_;
  auto finish = [this, round]() {
    if (--round->peers_left != 0) return;
    --reaps_in_flight_;
    std::vector<std::string_view> argv{"PEER.REAP"};
    for (size_t i = 0; i < round->keys.size(); ++i) {
      if (!round->everywhere[i]) continue;
      argv.push_back(DbName(round->dbs[i]));
      argv.push_back(round->keys[i]);
      argv.push_back(round->states[i]);
    }
    if (argv.size() == 1) return;
    // Every replica holds exactly these tombstones: drop them everywhere.
    for (Peer& peer : peers_) peer.link->Send(argv, [](const redisReply*) {});
    for (size_t i = 0; i < round->keys.size(); ++i) {
      if (round->everywhere[i] && local_->Reap(round->dbs[i], round->keys[i], round->states[i])) {
        ++stats_.tombstones_reaped;
      }
    }
  };
  std::vector<std::string_view> argv{"PEER.MGET"};
  for (size_t i = 0; i < round->keys.size(); ++i) {
    argv.push_back(DbName(round->dbs[i]));
    argv.push_back(round->keys[i]);
    argv.push_back(round->digests[i]);
  }
  for (Peer& peer : peers_) {
    const bool sent = peer.link->Send(argv, [round, finish](const redisReply* reply) {
      // A tag per key: '=' the same state; '-' none; '+', a 4-byte length
      // and another state. Anything malformed confirms nothing.
      const bool usable = !IsError(reply) && reply->type == REDIS_REPLY_STRING;
      std::string_view in = usable ? std::string_view(reply->str, reply->len) : std::string_view();
      bool failed = !usable;
      for (size_t i = 0; i < round->keys.size(); ++i) {
        char tag = 0;
        std::string_view theirs;
        failed = failed || !NextMgetAnswer(&in, &tag, &theirs);
        if (failed || tag != '=') round->everywhere[i] = false;
      }
      finish();
    });
    if (!sent) {
      round->everywhere.assign(round->keys.size(), false);
      finish();
    }
  }
}

void Coordinator::StartAntiEntropy(size_t peer) {
  Peer& p = peers_[peer];
  p.ae_running = true;
  const int dbs = local_->databases();
  auto left = std::make_shared<int>(dbs);
  for (int db = 0; db < dbs; ++db) AntiEntropyDb(peer, db, left);
}

void Coordinator::FinishDb(size_t peer, std::shared_ptr<int> left) {
  if (--*left != 0) return;
  Peer& p = peers_[peer];
  p.ae_running = false;
  p.ae_last_ms = WallMs();
  ++stats_.anti_entropy_rounds;
}

void Coordinator::AntiEntropyDb(size_t peer, int db, std::shared_ptr<int> left) {
  // This node's digests as of the request: every write it sent the peer
  // before is ahead of the request on the same link, so writes still in
  // flight make no difference, and a busy node can compare while it writes.
  FlushOutbox();
  auto mine = std::make_shared<std::vector<uint64_t>>(kGroups, 0);
  for (int g = 0; g < kGroups; ++g) {
    for (int s = g * kSlotsPerGroup; s < (g + 1) * kSlotsPerGroup; ++s) {
      (*mine)[static_cast<size_t>(g)] ^= local_->SlotDigest(db, s);
    }
  }
  const bool sent = peers_[peer].link->Send(
      {"PEER.DIGEST", DbName(db)}, [this, peer, db, left, mine](const redisReply* reply) {
        if (IsError(reply) || reply->type != REDIS_REPLY_STRING ||
            (reply->len != static_cast<size_t>(kGroups) * 8 && reply->len != 0)) {
          FinishDb(peer, left);
          return;
        }
        static const std::string kAllZero(static_cast<size_t>(kGroups) * 8, '\0');
        const std::string_view remote =
            reply->len == 0 ? std::string_view(kAllZero) : std::string_view(reply->str, reply->len);
        CompareGroups(peer, db, remote, *mine, left);
      });
  if (!sent) FinishDb(peer, left);
}

void Coordinator::CompareGroups(size_t peer, int db, std::string_view remote,
                                const std::vector<uint64_t>& mine, std::shared_ptr<int> left) {
  std::vector<std::string> argv_store = {"PEER.DIGEST", std::to_string(db)};
  std::vector<int> groups;
  for (int g = 0; g < kGroups; ++g) {
    if (mine[static_cast<size_t>(g)] != ReadFixed64(remote.data() + 8 * g)) {
      groups.push_back(g);
      argv_store.push_back(std::to_string(g));
    }
  }
  if (groups.empty()) {
    FinishDb(peer, left);
    return;
  }
  FlushOutbox();  // as in AntiEntropyDb: the slot digests as of this request
  auto slot_digests = std::make_shared<std::vector<uint64_t>>();
  for (int g : groups) {
    for (int s = g * kSlotsPerGroup; s < (g + 1) * kSlotsPerGroup; ++s) {
      slot_digests->push_back(local_->SlotDigest(db, s));
    }
  }
  std::vector<std::string_view> argv(argv_store.begin(), argv_store.end());
  const bool sent = peers_[peer].link->Send(
      argv, [this, peer, db, groups, left, slot_digests](const redisReply* reply) {
        if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != groups.size()) {
          FinishDb(peer, left);
          return;
        }
        std::vector<int> slots;
        for (size_t i = 0; i < groups.size(); ++i) {
          const redisReply* e = reply->element[i];
          if (e->type != REDIS_REPLY_STRING || e->len != kSlotsPerGroup * 8) continue;
          for (int j = 0; j < kSlotsPerGroup; ++j) {
            const int slot = groups[i] * kSlotsPerGroup + j;
            const uint64_t mine = (*slot_digests)[i * kSlotsPerGroup + static_cast<size_t>(j)];
            if (mine != ReadFixed64(e->str + 8 * j)) slots.push_back(slot);
          }
        }
        if (slots.empty()) {
          FinishDb(peer, left);
          return;
        }
        ExchangeSlots(peer, db, std::move(slots), left);
      });
  if (!sent) FinishDb(peer, left);
}

// One batch of differing slots being exchanged with a peer: its keys come in
// pages (PEER.DUMP's cursor), and are remembered until the last page, when
// this node sends back whatever the peer lacked.
struct Coordinator::Exchange {
  size_t peer = 0;
  int db = 0;
  std::vector<bool> slots;
  std::vector<std::string> slot_args;
  std::map<std::string, std::string, std::less<>> theirs;
  std::shared_ptr<int> left;
};

void Coordinator::ExchangeSlots(size_t peer, int db, std::vector<int> slots,
                                std::shared_ptr<int> left) {
  // One more pending step per extra chunk, so the db finishes after the last.
  const size_t chunks = (slots.size() + kSlotsPerDump - 1) / kSlotsPerDump;
  *left += static_cast<int>(chunks) - 1;
  for (size_t c = 0; c < chunks; ++c) {
    auto ex = std::make_shared<Exchange>();
    ex->peer = peer;
    ex->db = db;
    ex->left = left;
    ex->slots.assign(util::kHashSlots, false);
    for (size_t i = c * kSlotsPerDump; i < std::min(slots.size(), (c + 1) * kSlotsPerDump); ++i) {
      ex->slot_args.push_back(std::to_string(slots[i]));
      ex->slots[static_cast<size_t>(slots[i])] = true;
    }
    DumpPage(std::move(ex), "0");
  }
}

void Coordinator::DumpPage(std::shared_ptr<Exchange> ex, const std::string& cursor) {
  std::vector<std::string_view> argv = {"PEER.DUMP", DbName(ex->db), cursor};
  argv.insert(argv.end(), ex->slot_args.begin(), ex->slot_args.end());
  Exchange* raw = ex.get();
  const bool sent = peers_[raw->peer].link->Send(argv, [this, ex](const redisReply* reply) {
    if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
      FinishDb(ex->peer, ex->left);
      return;
    }
    // Theirs into ours, remembering what they had ...
    for (size_t i = 1; i + 1 < reply->elements; i += 2) {
      const redisReply* k = reply->element[i];
      const redisReply* s = reply->element[i + 1];
      if (k->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING) continue;
      std::string key(k->str, k->len);
      std::string_view state(s->str, s->len);
      bool changed = false;
      if (local_->MergeLocal(ex->db, key, state, &changed, false)) {
        if (changed) ++stats_.keys_exchanged;
        ex->theirs.insert_or_assign(std::move(key), std::string(state));
      }
    }
    const std::string next(reply->element[0]->str, reply->element[0]->len);
    if (next != "0") {
      DumpPage(ex, next);
      return;
    }
    // ... then ours into theirs, where they lack something.
    std::vector<std::string> to_push;
    local_->DumpSlots(ex->db, ex->slots, [&](std::string_view key, std::string_view state) {
      auto it = ex->theirs.find(key);
      if (it == ex->theirs.end() || it->second != state) to_push.emplace_back(key);
    });
    for (const std::string& key : to_push) {
      ++stats_.keys_exchanged;
      Push(ex->peer, ex->db, key, false);
    }
    FinishDb(ex->peer, ex->left);
  });
  if (!sent) FinishDb(raw->peer, raw->left);
}

void Coordinator::WriteInfo(std::string* out) const {
  auto line = [&](const std::string& name, const std::string& value) {
    out->append(name).append(":").append(value).append("\r\n");
  };
  line("node_id", self_id_);
  line("replicas", std::to_string(peers_.size() + 1));
  line("write_quorum", std::to_string(config::EffectiveWriteQuorum(*config_)));
  line("read_quorum", std::to_string(config::EffectiveReadQuorum(*config_)));
  for (size_t i = 0; i < peers_.size(); ++i) {
    const Peer& p = peers_[i];
    const PeerLink& l = *p.link;
    line("peer" + std::to_string(i),
         "addr=" + p.address + ",link=" + l.state_name() +
             ",last_reply_ms=" + std::to_string(l.last_reply_ms()) +
             ",hints=" + std::to_string(p.hints.queue.size()) +
             ",hints_dropped=" + std::to_string(p.hints.dropped) +
             ",pending=" + std::to_string(l.pending()) +
             ",timeouts=" + std::to_string(l.requests_timed_out()) +
             ",bytes_sent=" + std::to_string(l.bytes_sent()) +
             ",bytes_received=" + std::to_string(l.bytes_received()));
  }
  line("write_quorum_failures", std::to_string(stats_.write_quorum_failures));
  line("read_quorum_failures", std::to_string(stats_.read_quorum_failures));
  line("read_repairs", std::to_string(stats_.read_repairs));
  line("hints_delivered", std::to_string(stats_.hints_delivered));
  line("anti_entropy_rounds", std::to_string(stats_.anti_entropy_rounds));
  line("anti_entropy_keys_exchanged", std::to_string(stats_.keys_exchanged));
  line("tombstones", std::to_string(local_->Tombstones()));
  line("expired_states", std::to_string(local_->ExpiredStates()));
  line("tombstones_reaped", std::to_string(stats_.tombstones_reaped));
  line("pubsub_messages_forwarded", std::to_string(stats_.messages_forwarded));
  line("pubsub_messages_dropped", std::to_string(stats_.messages_dropped));
}

}  // namespace causalkv::cluster
