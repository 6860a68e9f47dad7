// Keyspace in causal mode (with peers): see keyspace.h and causal.h.
//
// Every change goes through the plain-data KeyState: load the stored state,
// apply the causal algebra, store the result as a new block. Simpler than
// editing packed blocks in place, and the network round trip of a
// replicated write costs far more than the copy.
#include <malloc.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "causalkv/store/keyspace.h"
#include "causalkv/util/hash.h"
#include "causalkv/util/key_slot.h"

namespace causalkv::store {
namespace {

// Fixed, so that every node computes the same digest for the same state.
constexpr uint64_t kDigestSeed = 0x63617573616c6b76ull;  // "causalkv"

// A tombstone still holds the TTL its key had (the TTL register merges by its
// stamp, and a delete takes no dot): a write that keeps the TTL of a key that
// is not live (APPEND, INCR, SETRANGE, SET or VPUT KEEPTTL after a DEL)
// creates a key without one, as on a single node, not one that vanishes when
// the deleted key would have expired.
TtlUpdate NoTtlToKeep(TtlUpdate ttl) {
  return ttl.kind == TtlUpdate::Kind::kKeep ? TtlUpdate::Clear() : ttl;
}

}  // namespace

int Keyspace::KeySlotOf(std::string_view key) { return util::KeySlot(key); }

void Keyspace::EnableCausal(ActorTable* actors) {
  actors_ = actors;
  slot_digests_.assign(util::kHashSlots, 0);
  // Keys already loaded (a single node's data joining a cluster) count too.
  table_.ForEach([&](const SiblingSet* set) { DigestToggleBlock(set); });
}

namespace {

// A block's dots and extra context folded into a context: sorted by actor,
// the highest counter of each (in place, no second vector).
void SortAndFold(std::vector<VersionVector::Entry>* context) {
  std::sort(context->begin(), context->end());
  size_t folded = 0;
  for (size_t i = 0; i < context->size(); ++i) {
    const VersionVector::Entry entry = (*context)[i];
    if (folded > 0 && (*context)[folded - 1].first == entry.first) {
      (*context)[folded - 1].second = std::max((*context)[folded - 1].second, entry.second);
    } else {
      (*context)[folded++] = entry;
    }
  }
  context->resize(folded);
}

// The extra context of a block written at a fresh dot of this node (actor
// index 0, which implies every earlier dot of this node): per other actor
// index the highest counter of `context`, sorted by index (in place).
void FoldOtherActors(std::vector<Version>* context) {
  std::erase_if(*context, [](Version v) { return v.actor() == 0; });
  std::sort(context->begin(), context->end(),
            [](Version a, Version b) { return a.raw() < b.raw(); });
  size_t folded = 0;
  for (const Version v : *context) {
    if (folded > 0 && (*context)[folded - 1].actor() == v.actor()) {
      (*context)[folded - 1] = v;  // sorted: the later one is higher
    } else {
      (*context)[folded++] = v;
    }
  }
  context->resize(folded);
}

}  // namespace

KeyState Keyspace::Unpack(const SiblingSet* set, bool with_values) const {
  KeyState state;
  state.expire_at_ms = set->expire_at_ms();
  std::vector<VersionVector::Entry> context;
  context.reserve(set->size() + set->extra_context_size());
  if (with_values) state.siblings.reserve(set->size());
  for (Sibling s : *set) {
    const Dot dot{actors_->IdOf(s.version.actor()), s.version.counter()};
    if (with_values) {
      SiblingValue& v = state.siblings.emplace_back(SiblingValue{dot, {}, s.type});
      if (s.typed()) {
        SerializeTypedValue(s.type, s.object(), &v.value);
      } else {
        v.value.assign(s.value);
      }
    }
    context.emplace_back(dot.actor, dot.counter);
  }
  for (uint32_t i = 0; i < set->extra_context_size(); ++i) {
    const Version v = set->extra_context(i);
    context.emplace_back(actors_->IdOf(v.actor()), v.counter());
  }
  SortAndFold(&context);
  state.context = VersionVector(std::move(context));
  // A block written before causal mode (a single node's data) keeps its
  // siblings in counter order, which is dot order for one actor.
  std::sort(state.siblings.begin(), state.siblings.end(),
            [](const SiblingValue& a, const SiblingValue& b) { return a.dot < b.dot; });
  state.ttl_stamp = BlockStamp(set);
  return state;
}

Dot Keyspace::BlockStamp(const SiblingSet* set) const {
  const Version stamp = set->ttl_stamp();
  if (stamp.raw() != 0) return Dot{actors_->IdOf(stamp.actor()), stamp.counter()};
  Dot newest;
  if (set->expire_at_ms() != SiblingSet::kNoExpire) return newest;  // never set
  for (Sibling s : *set) {
    const Dot dot{actors_->IdOf(s.version.actor()), s.version.counter()};
    if (newest < dot) newest = dot;
  }
  return newest;
}

bool Keyspace::StoredStamp(int64_t expire_at_ms, const Dot& stamp, const Dot& newest,
                           Version* out) {
  *out = Version();
  if (stamp.counter == 0) return true;
  if (expire_at_ms == SiblingSet::kNoExpire && stamp == newest) return true;
  uint32_t index;
  if (!actors_->IndexOf(stamp.actor, &index) || stamp.counter > Version::kCounterMask) {
    return false;
  }
  *out = Version::Dot(index, stamp.counter);
  return true;
}

SiblingSet* Keyspace::Pack(std::string_view key, const KeyState& state, OpStatus* status) {
  // Scratch kept between calls: this runs on every replicated write.
  thread_local std::vector<Sibling> siblings;
  thread_local std::vector<Version> extra;
  thread_local std::vector<Sibling::ObjectBytes> objects;
  siblings.clear();
  extra.clear();
  for (const SiblingValue& s : state.siblings) {
    uint32_t index;
    if (!actors_->IndexOf(s.dot.actor, &index) || s.dot.counter > Version::kCounterMask) {
      *status = OpStatus::kTooManyActors;
      return nullptr;
    }
    siblings.push_back(Sibling{Version::Dot(index, s.dot.counter), s.value, s.type});
  }
  // Only the context entries the siblings' dots do not imply are stored.
  for (const auto& [actor, counter] : state.context.entries()) {
    uint64_t implied = 0;
    for (const SiblingValue& s : state.siblings) {
      if (s.dot.actor == actor) implied = std::max(implied, s.dot.counter);
    }
    if (counter <= implied) continue;
    uint32_t index;
    if (!actors_->IndexOf(actor, &index) || counter > Version::kCounterMask) {
      *status = OpStatus::kTooManyActors;
      return nullptr;
    }
    extra.push_back(Version::Dot(index, counter));
  }
  // By actor index, as SiblingSet documents it and the block-to-block
  // writes build it (their in-place check compares entry by entry).
  std::sort(extra.begin(), extra.end(), [](Version a, Version b) { return a.raw() < b.raw(); });
  Version stamp;
  const Dot newest = state.siblings.empty() ? Dot{} : state.siblings.back().dot;
  if (!StoredStamp(state.expire_at_ms, state.ttl_stamp, newest, &stamp)) {
    *status = OpStatus::kTooManyActors;
    return nullptr;
  }
  // Typed values last: nothing else can fail once they exist.
  if (!SiblingSet::MaterializeTyped(siblings, *limits_, &objects)) {
    *status = OpStatus::kMalformedValue;
    return nullptr;
  }
  *status = OpStatus::kOk;
  return SiblingSet::CreateCausal(key, state.expire_at_ms, stamp, extra, siblings);
}

namespace {

// The bytes a key state's digest hash covers: the key, then 64-bit words.
// Values are left out: a dot names exactly one value. One buffer, sized
// once for `words` Put()s and written through a pointer: every write and
// merge hashes a block or two, and an append per word cost more than the hash.
class HashInput {
 public:
  HashInput(std::string_view key, size_t words) {
    bytes_.resize(key.size() + words * sizeof(uint64_t));
    if (!key.empty()) std::memcpy(bytes_.data(), key.data(), key.size());
    end_ = bytes_.data() + key.size();
  }
  // REQUIRES: at most `words` calls.
  void Put(uint64_t v) {
    assert(end_ + sizeof v <= bytes_.data() + bytes_.size());
    std::memcpy(end_, &v, sizeof v);
    end_ += sizeof v;
  }
  uint64_t Hash() const {
    return util::HashBytes(bytes_.data(), static_cast<size_t>(end_ - bytes_.data()), kDigestSeed);
  }

 private:
  char* end_;
  static thread_local std::string bytes_;
};
thread_local std::string HashInput::bytes_;

}  // namespace

uint64_t Keyspace::StateHash(std::string_view key, const KeyState& state) {
  HashInput in(key, 5 + 2 * (state.context.size() + state.siblings.size()));
  in.Put(state.context.size());
  for (const auto& [actor, counter] : state.context.entries()) {
    in.Put(actor);
    in.Put(counter);
  }
  in.Put(state.siblings.size());
  for (const SiblingValue& s : state.siblings) {
    in.Put(s.dot.actor);
    in.Put(s.dot.counter);
  }
  in.Put(static_cast<uint64_t>(state.expire_at_ms));
  in.Put(state.ttl_stamp.actor);
  in.Put(state.ttl_stamp.counter);
  return in.Hash();
}

uint64_t Keyspace::BlockHash(const SiblingSet* set) const {
  // StateHash(key, Unpack(set)) without copying the values.
  thread_local std::vector<VersionVector::Entry> context;
  thread_local std::vector<Dot> dots;
  context.clear();
  dots.clear();
  for (Sibling s : *set) {
    const Dot dot{actors_->IdOf(s.version.actor()), s.version.counter()};
    dots.push_back(dot);
    context.emplace_back(dot.actor, dot.counter);
  }
  for (uint32_t i = 0; i < set->extra_context_size(); ++i) {
    const Version v = set->extra_context(i);
    context.emplace_back(actors_->IdOf(v.actor()), v.counter());
  }
  std::sort(dots.begin(), dots.end());
  SortAndFold(&context);
  HashInput in(set->key(), 5 + 2 * (context.size() + dots.size()));
  in.Put(context.size());
  for (const auto& [actor, counter] : context) {
    in.Put(actor);
    in.Put(counter);
  }
  in.Put(dots.size());
  for (const Dot& d : dots) {
    in.Put(d.actor);
    in.Put(d.counter);
  }
  in.Put(static_cast<uint64_t>(set->expire_at_ms()));
  const Dot stamp = BlockStamp(set);
  in.Put(stamp.actor);
  in.Put(stamp.counter);
  return in.Hash();
}

void Keyspace::DigestToggle(std::string_view key, const KeyState& state) {
  if (slot_digests_.empty()) return;
  slot_digests_[util::KeySlot(key)] ^= StateHash(key, state);
}

void Keyspace::RememberEvicted(std::string_view key, uint64_t hash, int64_t expire_at_ms) {
  // Toggled in, so that the removal's toggle out leaves the hash in the digest.
  slot_digests_[util::KeySlot(key)] ^= hash;
  auto [it, inserted] = evicted_.emplace(std::string(key), Evicted{hash, expire_at_ms});
  if (!inserted) {
    slot_digests_[util::KeySlot(key)] ^= it->second.hash;  // an older eviction of it
    it->second = Evicted{hash, expire_at_ms};
    return;
  }
  evicted_order_.emplace_back(key);
  while (evicted_.size() > kMaxEvictedRemembered) {
    const std::string& oldest = evicted_order_[evicted_order_head_++];
    auto old = evicted_.find(oldest);
    if (old != evicted_.end()) {
      slot_digests_[util::KeySlot(oldest)] ^= old->second.hash;
      evicted_.erase(old);
      evicted_overflowed_ = true;
    }
  }
  if (evicted_order_head_ > evicted_order_.size() / 2 && evicted_order_head_ > 1024) {
    evicted_order_.erase(evicted_order_.begin(),
                         evicted_order_.begin() + static_cast<ptrdiff_t>(evicted_order_head_));
    evicted_sweep_ =
        evicted_sweep_ > evicted_order_head_ ? evicted_sweep_ - evicted_order_head_ : 0;
    evicted_order_head_ = 0;
  }
}

void Keyspace::SweepEvicted(size_t budget) {
  if (evicted_.empty()) return;
  for (size_t n = 0; n < budget; ++n) {
    if (evicted_sweep_ < evicted_order_head_ || evicted_sweep_ >= evicted_order_.size()) {
      evicted_sweep_ = evicted_order_head_;
      if (evicted_sweep_ >= evicted_order_.size()) return;
    }
    const std::string& key = evicted_order_[evicted_sweep_++];
    auto it = evicted_.find(key);
    if (it == evicted_.end() || it->second.expire_at_ms == KeyState::kNoExpire ||
        it->second.expire_at_ms >= clock_->now_ms) {
      continue;
    }
    slot_digests_[util::KeySlot(key)] ^= it->second.hash;
    evicted_.erase(it);
  }
}

void Keyspace::ForgetEvicted(std::string_view key) {
  if (evicted_.empty()) return;
  auto it = evicted_.find(std::string(key));
  if (it == evicted_.end()) return;
  slot_digests_[util::KeySlot(key)] ^= it->second.hash;
  evicted_.erase(it);
}

bool Keyspace::LoadState(std::string_view key, SiblingSet*** link, KeyState* out,
                         bool with_values) {
  *link = FindLive(key);
  if (*link != nullptr) {
    *out = Unpack(**link, with_values);
    return true;
  }
  auto it = hidden_.find(std::string(key));
  if (it == hidden_.end()) return false;
  *out = it->second.state;
  return true;
}

bool Keyspace::GetState(std::string_view key, KeyState* out) {
  SiblingSet** link;
  return LoadState(key, &link, out);
}

bool Keyspace::ReadState(std::string_view key, KeyState* out) {
  SiblingSet** link;
  if (!LoadState(key, &link, out)) return false;
  if (link == nullptr) out->siblings.clear();  // hidden: a tombstone or expired
  return true;
}

bool Keyspace::EncodeState(std::string_view key, std::string* out) {
  out->clear();
  SiblingSet** link = FindLive(key);
  if (link == nullptr) {
    auto it = hidden_.find(std::string(key));
    if (it == hidden_.end()) return false;
    EncodeKeyState(it->second.state, out);
    return true;
  }
  const SiblingSet* set = *link;
  if (set->has_typed()) {
    EncodeKeyState(Unpack(set), out);
    return true;
  }
  // Into scratch space that outlives the call.
  thread_local std::vector<VersionVector::Entry> context;
  thread_local std::vector<SiblingRef> siblings;
  Dot ttl_stamp;
  BlockView(set, &context, &siblings, &ttl_stamp);
  EncodeKeyStateParts(context, siblings, set->expire_at_ms(), ttl_stamp, out);
  return true;
}

void Keyspace::BlockView(const SiblingSet* set, std::vector<VersionVector::Entry>* context,
                         std::vector<SiblingRef>* siblings, Dot* ttl_stamp) const {
  // Unpack's order and fold, without copying a value.
  context->clear();
  siblings->clear();
  for (Sibling s : *set) {
    const Dot dot{actors_->IdOf(s.version.actor()), s.version.counter()};
    siblings->push_back(SiblingRef{dot, s.value, s.type});
    context->emplace_back(dot.actor, dot.counter);
  }
  for (uint32_t i = 0; i < set->extra_context_size(); ++i) {
    const Version v = set->extra_context(i);
    context->emplace_back(actors_->IdOf(v.actor()), v.counter());
  }
  SortAndFold(context);
  std::sort(siblings->begin(), siblings->end(),
            [](const SiblingRef& a, const SiblingRef& b) { return a.dot < b.dot; });
  if (ttl_stamp != nullptr) *ttl_stamp = BlockStamp(set);
}

bool Keyspace::StateDigest(std::string_view key, uint64_t* digest) {
  SiblingSet** link = FindLive(key);
  if (link != nullptr) {
    *digest = BlockHash(*link);
    return true;
  }
  auto it = hidden_.find(std::string(key));
  if (it == hidden_.end()) return false;
  *digest = StateHash(key, it->second.state);
  return true;
}

OpStatus Keyspace::RestoreState(std::string_view key, KeyState state,
                                int64_t tombstone_since_ms) {
  // One rehash step each, as Restore: a load does nothing else in between.
  table_.RehashStep(1);
  const bool tombstone = state.tombstone() && !state.context.empty();
  const OpStatus status = SaveState(key, table_.FindLink(key), std::move(state));
  if (status == OpStatus::kOk && tombstone) {
    hidden_.find(std::string(key))->second.since_ms = tombstone_since_ms;
  }
  return status;
}

OpStatus Keyspace::SaveState(std::string_view key, SiblingSet** link, KeyState state) {
  const bool expired = !state.tombstone() && ExpiredAt(state, clock_->now_ms);
  if (!state.tombstone() && !expired) return SaveLive(key, link, state);
  ForgetEvicted(key);
  // Out with the old (Remove takes the live key's hash out of the digest) ...
  if (link != nullptr) {
    Remove(link);
  } else {
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) EraseHidden(it);
  }
  // ... in with the new.
  if (state.context.empty()) return OpStatus::kOk;
  const int64_t since_ms = expired ? state.expire_at_ms : clock_->now_ms;
  AddHidden(key, std::move(state), since_ms);
  return OpStatus::kOk;
}

OpStatus Keyspace::SaveLive(std::string_view key, SiblingSet** link, const KeyState& state) {
  OpStatus status;
  SiblingSet* block = Pack(key, state, &status);
  if (block == nullptr) return status;
  if (link != nullptr) {
    const uint64_t old_hash = BlockHash(*link);
    ReplaceBlock(link, block);
    DigestReplaced(old_hash, block);
    return OpStatus::kOk;
  }
  if (!hidden_.empty()) {
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) EraseHidden(it);
  }
  if (block->has_expire()) IndexTtl(block);
  Adopt(block);  // forgets an eviction of the key
  return OpStatus::kOk;
}

void Keyspace::ReplaceBlock(SiblingSet** link, SiblingSet* block) {
  // The new block takes the old one's place in its chain: no second lookup,
  // and an overwrite keeps the key's LRU/LFU, as Redis's does.
  SiblingSet* old = *link;
  block->set_access(old->access());
  if (old->has_expire()) UnindexTtl(old);
  table_.Replace(link, block);
  if (block->has_expire()) IndexTtl(block);
  data_bytes_ += BlockBytes(block);
  data_bytes_ -= BlockBytes(old);
  SiblingSet::Destroy(old);
}

size_t Keyspace::HiddenBytes(const std::string& key, const KeyState& state) {
  // libstdc++'s node: next pointer, the pair, the cached hash.
  constexpr size_t kNode = sizeof(void*) + sizeof(HiddenMap::value_type) + sizeof(size_t);
  constexpr size_t kInlineString = 15;  // the short-string buffer
  size_t bytes = kNode + (key.size() > kInlineString ? key.capacity() + 1 : 0) +
                 state.context.size() * sizeof(VersionVector::Entry) +
                 state.siblings.capacity() * sizeof(SiblingValue);
  for (const SiblingValue& s : state.siblings) {
    if (s.value.size() > kInlineString) bytes += s.value.capacity() + 1;
  }
  return bytes;
}

void Keyspace::AddHidden(std::string_view key, KeyState state, int64_t since_ms) {
  // REQUIRES: no hidden state of `key` (callers erase the old one first).
  DigestToggle(key, state);
  const bool expired = !state.tombstone();
  auto [it, inserted] = hidden_.emplace(std::string(key), Hidden{std::move(state), since_ms});
  if (!inserted) return;
  hidden_bytes_ += HiddenBytes(it->first, it->second.state);
  if (expired) ++expired_held_;
}

void Keyspace::EraseHidden(HiddenMap::iterator it) {
  DigestToggle(it->first, it->second.state);
  hidden_bytes_ -= HiddenBytes(it->first, it->second.state);
  if (!it->second.state.tombstone()) --expired_held_;
  hidden_.erase(it);
}

void Keyspace::HoldExpired(SiblingSet** link) {
  // The block's hash leaves the digest and the state's equal hash comes
  // back in: expiry changes no digest, so it costs no anti-entropy.
  KeyState state = Unpack(*link);
  std::string key((*link)->key());
  const int64_t since_ms = state.expire_at_ms;
  Remove(link);
  AddHidden(key, std::move(state), since_ms);  // a live key has no hidden state
}

void Keyspace::DeleteExpiredStates() {
  if (expired_held_ == 0) return;
  std::vector<std::string> keys;
  for (const auto& [key, hidden] : hidden_) {
    if (!hidden.state.tombstone()) keys.push_back(key);
  }
  for (const std::string& key : keys) {
    auto it = hidden_.find(key);
    KeyState state = it->second.state;  // EraseHidden reads the stored one
    EraseHidden(it);
    state.siblings.clear();
    AddHidden(key, std::move(state), clock_->now_ms);
  }
}

bool Keyspace::NextDot(Dot* dot, const Dot& after) {
  Version v;
  uint64_t floor = static_cast<uint64_t>(std::max<int64_t>(clock_->now_ms, 0))
                   << kHybridClockShift;
  // Above the TTL stamp the write is based on, whichever node's clock made
  // it: a hybrid logical clock, so that a causally later EXPIRE or PERSIST
  // wins the TTL register even against a node whose clock is ahead (or
  // wrote earlier in the same millisecond).
  if (after.counter < Version::kCounterMask) floor = std::max(floor, after.counter + 1);
  if (!counter_->NextAtLeast(floor, &v)) return false;
  *dot = Dot{actors_->self(), v.counter()};
  return true;
}

void Keyspace::ApplyTtlCausal(KeyState* state, TtlUpdate ttl, const Dot& dot) {
  ApplyTtlUpdate(ttl, dot, &state->expire_at_ms, &state->ttl_stamp);
}

void Keyspace::ApplyTtlUpdate(TtlUpdate ttl, const Dot& dot, int64_t* expire_at_ms,
                              Dot* stamp) {
  switch (ttl.kind) {
    case TtlUpdate::Kind::kKeep:
      return;
    case TtlUpdate::Kind::kClear:
      // Stamped even when the key had no TTL: a SET clears a TTL that a
      // concurrent, earlier write gave the key through another node (the
      // register is last-writer-wins, as Redis's later command wins). An
      // unstamped clear lost to any TTL, so a write through a node that
      // never held the key was hidden with a concurrent write's expired
      // state. Free in the common case: a block stores no stamp that is its
      // newest dot (BlockStamp).
      *expire_at_ms = KeyState::kNoExpire;
      *stamp = dot;
      return;
    case TtlUpdate::Kind::kSet:
      *expire_at_ms = ttl.at_ms;
      *stamp = dot;
      return;
  }
}

Keyspace::BlockMerge Keyspace::ClassifyMerge(const SiblingSet* set,
                                             const KeyState& incoming) const {
  // Sync(local, incoming) is incoming when (a) local's context is below
  // incoming's, so every local sibling is covered: kept if incoming holds
  // it, dropped if not; (b) no incoming sibling is one local knows and no
  // longer holds; (c) the TTL register is incoming's. A replicated write
  // almost always is such a successor of what its replicas hold.
  thread_local std::vector<VersionVector::Entry> context;
  context.clear();
  size_t held_by_both = 0;
  for (Sibling s : *set) {
    const Dot dot{actors_->IdOf(s.version.actor()), s.version.counter()};
    context.emplace_back(dot.actor, dot.counter);
    const bool held = std::binary_search(
        incoming.siblings.begin(), incoming.siblings.end(), SiblingValue{dot, {}},
        [](const SiblingValue& a, const SiblingValue& b) { return a.dot < b.dot; });
    held_by_both += held ? 1 : 0;
  }
  for (uint32_t i = 0; i < set->extra_context_size(); ++i) {
    const Version v = set->extra_context(i);
    context.emplace_back(actors_->IdOf(v.actor()), v.counter());
  }
  SortAndFold(&context);
  for (const auto& [actor, counter] : context) {
    if (incoming.context.Get(actor) < counter) return BlockMerge::kOther;  // (a)
  }
  if (incoming.siblings.size() != held_by_both) {
    // (b): an incoming sibling local does not hold must be new to local.
    const VersionVector local_context(context);
    for (const SiblingValue& s : incoming.siblings) {
      if (!local_context.Covers(s.dot)) continue;
      bool held = false;
      for (Sibling mine : *set) {
        held = held || (mine.version.counter() == s.dot.counter &&
                        actors_->IdOf(mine.version.actor()) == s.dot.actor);
      }
      if (!held) return BlockMerge::kOther;
    }
  }
  const Dot stamp = BlockStamp(set);
  const bool same_ttl = stamp == incoming.ttl_stamp && set->expire_at_ms() == incoming.expire_at_ms;
  const bool incoming_ttl_newer =
      stamp == incoming.ttl_stamp ? set->expire_at_ms() < incoming.expire_at_ms
                                  : stamp < incoming.ttl_stamp;
  if (!same_ttl && !incoming_ttl_newer) return BlockMerge::kOther;  // (c)
  const bool same = same_ttl && held_by_both == set->size() &&
                    held_by_both == incoming.siblings.size() &&
                    context == incoming.context.entries();
  return same ? BlockMerge::kSame : BlockMerge::kIncoming;
}

OpStatus Keyspace::MergeState(std::string_view key, const KeyState& incoming, bool* changed,
                              bool take_evicted) {
  *changed = false;
  SiblingSet** link = FindLive(key);
  if (link != nullptr && !incoming.tombstone() && !ExpiredAt(incoming, clock_->now_ms)) {
    // The common case of replication, without unpacking the local values.
    switch (ClassifyMerge(*link, incoming)) {
      case BlockMerge::kSame:
        return OpStatus::kOk;
      case BlockMerge::kIncoming: {
        const OpStatus status = SaveLive(key, link, incoming);
        *changed = status == OpStatus::kOk;
        return status;
      }
      case BlockMerge::kOther:
        break;
    }
  }
  KeyState local;
  bool had = link != nullptr;
  if (had) {
    local = Unpack(*link);
  } else if (!hidden_.empty()) {
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) {
      local = it->second.state;
      had = true;
    }
  }
  if (had && Includes(local, incoming)) return OpStatus::kOk;
  if (!had && !take_evicted && !evicted_.empty()) {
    // Exactly what this node evicted: keep it evicted.
    auto it = evicted_.find(std::string(key));
    if (it != evicted_.end() && it->second.hash == StateHash(key, incoming)) return OpStatus::kOk;
  }
  if (!had && !incoming.tombstone() && !ExpiredAt(incoming, clock_->now_ms)) {
    // A key new here, live (replication's other common case): stored as it
    // came, without a copy of the state first.
    const OpStatus status = SaveLive(key, nullptr, incoming);
    *changed = status == OpStatus::kOk;
    return status;
  }
  KeyState merged = had ? Sync(local, incoming) : incoming;
  // A merge whose TTL has passed is held as an expired state (keyspace.h),
  // even with nothing here before: every replica then holds the same one,
  // which is what lets the reaper drop it.
  const bool expires_here = link != nullptr && ExpiredAt(merged, clock_->now_ms);
  const OpStatus status = SaveState(key, link, std::move(merged));
  if (status == OpStatus::kOk && expires_here) ++stats_->expired_keys;
  *changed = status == OpStatus::kOk;
  return status;
}

OpStatus Keyspace::VPutCausal(std::string_view key, const VersionVector& seen,
                              std::string_view value, TtlUpdate ttl, KeyState* after) {
  const SiblingSet* block = nullptr;
  const OpStatus status = VPutCausal(key, seen, value, ttl, &block);
  if (status == OpStatus::kOk) *after = Unpack(block);
  return status;
}

OpStatus Keyspace::VPutCausal(std::string_view key, const VersionVector& seen,
                              std::string_view value, TtlUpdate ttl, const SiblingSet** after) {
  if (seen.Get(actors_->self()) > counter_->last_issued().counter()) {
    return OpStatus::kVersionFromFuture;
  }
  SiblingSet** link = FindLive(key);
  if (link != nullptr && !(*link)->holds_string()) return OpStatus::kWrongType;
  if (link != nullptr && !(*link)->has_typed()) {
    const OpStatus status = VPutLive(link, seen, value, ttl);
    if (status == OpStatus::kOk) *after = *link;
    return status;
  }
  if (link != nullptr) {
    // A concurrent collection sibling stays unless `seen` covers it: rare,
    // so through the state (which copies it) rather than block to block.
    KeyState state = Unpack(*link);
    if (*max_siblings_ != 0 && SiblingsAfterWrite(state, seen) > *max_siblings_) {
      return OpStatus::kTooManySiblings;
    }
    Dot dot;
    if (!NextDot(&dot, state.ttl_stamp)) return OpStatus::kVersionUnavailable;
    const std::string owned(value);
    ApplyWrite(&state, seen, dot, &owned);
    ApplyTtlCausal(&state, ttl, dot);
    const OpStatus status = SaveLive(key, link, state);
    if (status == OpStatus::kOk) *after = *table_.FindLink(key);
    return status;
  }
  // A new key, a deleted or an expired one: through the state, which
  // covers the hidden state's context. Its values are gone for every write
  // (keyspace.h).
  KeyState state;
  if (!hidden_.empty()) {
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) {
      state.context = it->second.state.context;
      state.expire_at_ms = it->second.state.expire_at_ms;
      state.ttl_stamp = it->second.state.ttl_stamp;
    }
  }
  ttl = NoTtlToKeep(ttl);
  Dot dot;
  if (!NextDot(&dot, state.ttl_stamp)) return OpStatus::kVersionUnavailable;
  const std::string owned(value);
  ApplyWrite(&state, seen, dot, &owned);
  ApplyTtlCausal(&state, ttl, dot);
  const OpStatus status = SaveLive(key, nullptr, state);
  if (status == OpStatus::kOk) *after = *table_.FindLink(key);
  return status;
}

OpStatus Keyspace::VPutLive(SiblingSet** link, const VersionVector& seen, std::string_view value,
                            TtlUpdate ttl) {
  // What the KeyState round trip (Unpack, ApplyWrite with `seen`,
  // ApplyTtlCausal, Pack) gives, computed on the block: the siblings `seen`
  // does not cover stay, the new value joins them at a fresh dot of this
  // node (actor index 0), and the context is the old one joined with `seen`.
  SiblingSet* old = *link;
  thread_local std::vector<Sibling> siblings;
  thread_local std::vector<Version> context;
  siblings.clear();
  context.clear();
  for (Sibling s : *old) {
    context.push_back(s.version);
    if (seen.Get(actors_->IdOf(s.version.actor())) < s.version.counter()) siblings.push_back(s);
  }
  if (*max_siblings_ != 0 && siblings.size() + 1 > *max_siblings_) {
    return OpStatus::kTooManySiblings;
  }
  for (uint32_t i = 0; i < old->extra_context_size(); ++i) context.push_back(old->extra_context(i));
  for (const auto& [actor, counter] : seen.entries()) {
    uint32_t index;
    if (!actors_->IndexOf(actor, &index) || counter > Version::kCounterMask) {
      return OpStatus::kTooManyActors;
    }
    context.push_back(Version::Dot(index, counter));
  }
  const Dot old_stamp = BlockStamp(old);
  Dot dot;
  if (!NextDot(&dot, old_stamp)) return OpStatus::kVersionUnavailable;
  if (dot.counter > Version::kCounterMask) return OpStatus::kTooManyActors;
  const Version fresh_dot = Version::Dot(0, dot.counter);
  // The new dot is above every counter of this node the key or `seen`
  // holds: it implies the context's entry for index 0.
  siblings.push_back(Sibling{fresh_dot, value});
  // In dot order, as Pack leaves them (a few siblings: sorting is cheap).
  std::sort(siblings.begin(), siblings.end(), [&](const Sibling& a, const Sibling& b) {
    return Dot{actors_->IdOf(a.version.actor()), a.version.counter()} <
           Dot{actors_->IdOf(b.version.actor()), b.version.counter()};
  });
  // Extra context: what FoldOtherActors keeps, unless a sibling of that
  // actor implies it.
  FoldOtherActors(&context);
  std::erase_if(context, [&](Version v) {
    return std::any_of(siblings.begin(), siblings.end(), [&](const Sibling& s) {
      return s.version.actor() == v.actor() && s.version.counter() >= v.counter();
    });
  });
  int64_t expire_at_ms = old->expire_at_ms();
  Dot stamp = old_stamp;
  ApplyTtlUpdate(ttl, dot, &expire_at_ms, &stamp);
  const Sibling& newest = siblings.back();
  Version stored_stamp;
  if (!StoredStamp(expire_at_ms, stamp,
                   Dot{actors_->IdOf(newest.version.actor()), newest.version.counter()},
                   &stored_stamp)) {
    return OpStatus::kTooManyActors;
  }
  // The new block is made before the old one goes: the kept values point
  // into it.
  SiblingSet* block =
      SiblingSet::CreateCausal(old->key(), expire_at_ms, stored_stamp, context, siblings);
  const uint64_t old_hash = BlockHash(old);
  ReplaceBlock(link, block);
  DigestReplaced(old_hash, block);
  return OpStatus::kOk;
}

OpStatus Keyspace::VDelCausal(std::string_view key, const VersionVector& seen, KeyState* after) {
  if (seen.Get(actors_->self()) > counter_->last_issued().counter()) {
    return OpStatus::kVersionFromFuture;
  }
  SiblingSet** link = FindLive(key);
  if (link != nullptr && !(*link)->holds_string()) return OpStatus::kWrongType;
  KeyState state;
  if (!LoadState(key, &link, &state) && seen.empty()) {
    *after = KeyState();
    return OpStatus::kOk;
  }
  // A key this node has not received yet, deleted by a client that read it
  // elsewhere, still leaves the tombstone of what the client read: that is
  // what removes the value when it arrives.
  ApplyWrite(&state, seen, Dot{}, nullptr);
  *after = state;
  // The client sees what is left of an expired state as deleted: its
  // context, no values. The stored state keeps them (keyspace.h).
  if (ExpiredAt(*after, clock_->now_ms)) after->siblings.clear();
  return SaveState(key, link, std::move(state));
}

OpStatus Keyspace::CausalStoreOnly(std::string_view key, std::string_view value, TtlUpdate ttl) {
  return CausalStoreOnly(key, Sibling{{}, value}, ttl);
}

OpStatus Keyspace::CausalStoreOnly(std::string_view key, const Sibling& value, TtlUpdate ttl) {
  if (SiblingSet** link = FindLive(key)) {
    const OpStatus status = CausalReplaceLive(link, value, ttl);
    if (status != OpStatus::kOk && value.typed()) DestroyTypedValue(value.type, value.object());
    return status;
  }
  // A new key, a deleted or an expired one: the write covers the hidden
  // state's context, so an expired state's values go too. A typed value
  // goes in through its plain-data form, which SaveState decodes.
  std::string owned;
  if (value.typed()) {
    SerializeTypedValue(value.type, value.object(), &owned);
    DestroyTypedValue(value.type, value.object());
  } else {
    owned.assign(value.value);
  }
  KeyState state;
  if (!hidden_.empty()) {
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) state = it->second.state;
  }
  ttl = NoTtlToKeep(ttl);
  Dot dot;
  if (!NextDot(&dot, state.ttl_stamp)) return OpStatus::kVersionUnavailable;
  const VersionVector seen = state.context;
  ApplyWrite(&state, seen, dot, &owned, value.type);
  ApplyTtlCausal(&state, ttl, dot);
  return SaveState(key, nullptr, std::move(state));
}

OpStatus Keyspace::CausalReplaceLive(SiblingSet** link, const Sibling& value, TtlUpdate ttl) {
  // What the KeyState round trip (Unpack, ApplyWrite with the whole local
  // context, ApplyTtlCausal, Pack) gives, computed on the block: this is
  // the hot path of every plain write in a cluster. The new value takes a
  // fresh dot of this node (actor index 0), which implies every earlier dot
  // of this node; every other node's highest dot here stays as context.
  SiblingSet* old = *link;
  const Dot old_stamp = BlockStamp(old);
  Dot dot;
  if (!NextDot(&dot, old_stamp)) return OpStatus::kVersionUnavailable;
  if (dot.counter > Version::kCounterMask) return OpStatus::kTooManyActors;
  thread_local std::vector<Version> extra;
  extra.clear();
  for (Sibling s : *old) extra.push_back(s.version);
  for (uint32_t i = 0; i < old->extra_context_size(); ++i) {
    extra.push_back(old->extra_context(i));
  }
  FoldOtherActors(&extra);
  const Version fresh_dot = Version::Dot(0, dot.counter);
  int64_t expire_at_ms = old->expire_at_ms();
  Dot stamp_dot = old_stamp;
  ApplyTtlUpdate(ttl, dot, &expire_at_ms, &stamp_dot);
  Version stamp;  // as stored: none when it is the new value's dot and there is no TTL
  if (!StoredStamp(expire_at_ms, stamp_dot, dot, &stamp)) return OpStatus::kTooManyActors;
  const uint64_t old_hash = BlockHash(old);
  bool same_header = expire_at_ms == old->expire_at_ms() && stamp == old->ttl_stamp() &&
                     extra.size() == old->extra_context_size();
  for (size_t i = 0; same_header && i < extra.size(); ++i) {
    same_header = extra[i] == old->extra_context(static_cast<uint32_t>(i));
  }
  bool held = false;  // a typed value of this block, changed in place
  if (value.typed()) {
    for (const Sibling s : *old) held = held || (s.typed() && s.object() == value.object());
  }
  if (same_header && held && old->size() == 1) {
    // A collection changed in place by its only writer: a new dot, nothing else.
    old->set_only_version(fresh_dot);
  } else if (same_header && !value.typed()) {
    // The common overwrite (one writer, same TTL): the block is rewritten in
    // place, as on a single node.
    ReplaceAll(link, fresh_dot, value.value);
  } else {
    const Sibling only{fresh_dot, value.value, value.type};
    SiblingSet* block =
        SiblingSet::CreateCausal(old->key(), expire_at_ms, stamp, extra, {&only, 1});
    if (held) {
      // The value moves to the new block; the old one frees only the others.
      data_bytes_ -= TypedValueBytes(value.type, value.object());
      SiblingSet::DisownTypedValue(old, value.object());
    }
    ReplaceBlock(link, block);
  }
  DigestReplaced(old_hash, *link);
  return OpStatus::kOk;
}

OpStatus Keyspace::CausalDelete(std::string_view key, bool* existed) {
  SiblingSet** link = FindLive(key);
  *existed = link != nullptr;
  if (link == nullptr) return OpStatus::kOk;
  KeyState state = Unpack(*link, /*with_values=*/false);
  return SaveState(key, link, std::move(state));
}

OpStatus Keyspace::CausalSetExpire(std::string_view key, int64_t at_ms, bool* existed) {
  SiblingSet** link = FindLive(key);
  *existed = link != nullptr;
  if (link == nullptr) return OpStatus::kOk;
  KeyState state = Unpack(*link);
  if (state.expire_at_ms == at_ms) return OpStatus::kOk;
  Dot dot;
  if (!NextDot(&dot, state.ttl_stamp)) return OpStatus::kVersionUnavailable;
  state.expire_at_ms = at_ms;
  state.ttl_stamp = dot;
  return SaveState(key, table_.FindLink(key), std::move(state));
}

OpStatus Keyspace::CausalMove(std::string_view src, Keyspace* target, std::string_view dst,
                              bool keep_source) {
  SiblingSet** src_link = FindLive(src);
  if (src_link == nullptr) return OpStatus::kNotFound;
  KeyState moving = Unpack(*src_link);
  SiblingSet** dst_link;
  KeyState dst_state;
  target->LoadState(dst, &dst_link, &dst_state);
  // Fresh dots, in the siblings' order: a client holding a context of the
  // destination must not be able to remove values it never read.
  std::vector<Dot> dots(moving.siblings.size() + 1);
  const Dot& newer_stamp =
      dst_state.ttl_stamp < moving.ttl_stamp ? moving.ttl_stamp : dst_state.ttl_stamp;
  for (Dot& d : dots) {
    if (!NextDot(&d, newer_stamp)) return OpStatus::kVersionUnavailable;
  }
  VersionVector seen = dst_state.context;
  for (size_t i = 0; i < moving.siblings.size(); ++i) {
    ApplyWrite(&dst_state, seen, dots[i], &moving.siblings[i].value, moving.siblings[i].type);
    seen = VersionVector();
  }
  dst_state.expire_at_ms = moving.expire_at_ms;
  dst_state.ttl_stamp = dots.back();
  // Store the destination first: if it cannot be stored, the source stays.
  const OpStatus status =
      target->SaveState(dst, target->table_.FindLink(dst), std::move(dst_state));
  if (status != OpStatus::kOk || keep_source) return status;
  moving.siblings.clear();
  return SaveState(src, table_.FindLink(src), std::move(moving));
}

bool Keyspace::ReapHidden(std::string_view key, const KeyState& state) {
  // A key whose TTL passed but that nothing read since is expired first.
  if (FindLive(key) != nullptr) return false;
  auto it = hidden_.find(std::string(key));
  if (it == hidden_.end()) {
    // Evicted here while every replica held it: the others drop it now.
    auto evicted = evicted_.find(std::string(key));
    if (evicted == evicted_.end() || evicted->second.hash != StateHash(key, state)) return false;
    ForgetEvicted(key);
    return true;
  }
  if (!(it->second.state == state)) return false;
  EraseHidden(it);
  return true;
}

bool Keyspace::HeldDigest(std::string_view key, uint64_t* digest) {
  if (StateDigest(key, digest)) return true;
  if (evicted_.empty()) return false;
  auto it = evicted_.find(std::string(key));
  if (it == evicted_.end()) return false;
  *digest = it->second.hash;
  return true;
}

bool Keyspace::DropExpiredState(std::string* dropped, std::span<const std::string_view> keep) {
  if (expired_held_ == 0) return false;
  // Bounded: tombstones may outnumber expired states by far.
  constexpr size_t kMaxBuckets = 1024;
  const size_t buckets = hidden_.bucket_count();
  for (size_t n = 0; n < std::min(buckets, kMaxBuckets); ++n) {
    const size_t b = expired_drop_cursor_++ % buckets;
    for (auto it = hidden_.begin(b); it != hidden_.end(b); ++it) {
      if (it->second.state.tombstone()) continue;
      if (std::find(keep.begin(), keep.end(), std::string_view(it->first)) != keep.end()) continue;
      const std::string key = it->first;
      const uint64_t hash = StateHash(key, it->second.state);
      EraseHidden(hidden_.find(key));
      // Never forgotten by TTL (it has passed): the reaper's PEER.REAP, or
      // the cap, forgets it.
      RememberEvicted(key, hash, KeyState::kNoExpire);
      ++stats_->expired_states_dropped;
      *dropped = key;
      return true;
    }
  }
  return false;
}

}  // namespace causalkv::store
