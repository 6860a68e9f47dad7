#include "causalkv/store/keyspace.h"

#include <malloc.h>

#include <array>
#include <memory>
#include <vector>

namespace causalkv::store {

const EvictionSettings Keyspace::kDefaultEvictionSettings{};
const KeyEventSink Keyspace::kNoEvents{};

void EvictionPool::Offer(uint64_t score, int db, std::string_view key) {
  if (candidates_.size() == kSize && score <= candidates_.front().score) return;
  for (const Candidate& c : candidates_)
    if (c.db == db && c.key == key) return;
  auto at = candidates_.begin();
  while (at != candidates_.end() && at->score < score) ++at;
  candidates_.insert(at, Candidate{score, db, std::string(key)});
  if (candidates_.size() > kSize) candidates_.erase(candidates_.begin());
}

bool EvictionPool::PopBest(Candidate* out) {
  if (candidates_.empty()) return false;
  *out = std::move(candidates_.back());
  candidates_.pop_back();
  return true;
}

Keyspace::Keyspace(VersionCounter* counter, const Clock* clock, KeyspaceStats* stats,
                   uint64_t seed)
    : table_(seed), counter_(counter), clock_(clock), stats_(stats),
      rnd_(static_cast<uint32_t>(seed | 1)) {}

Keyspace::~Keyspace() = default;

SiblingSet** Keyspace::FindLive(std::string_view key) {
  table_.RehashStep(1);
  SiblingSet** link = table_.FindLink(key);
  if (link == nullptr) return nullptr;
  if (IsExpired(*link)) {
    ExpireKey(link);
    return nullptr;
  }
  Touch(*link);
  return link;
}

const SiblingSet* Keyspace::FindWithoutTouch(std::string_view key) {
  table_.RehashStep(1);
  SiblingSet** link = table_.FindLink(key);
  if (link == nullptr) return nullptr;
  if (IsExpired(*link)) {
    ExpireKey(link);
    return nullptr;
  }
  return *link;
}

const SiblingSet* Keyspace::FindReadOnly(std::string_view key) {
  SiblingSet** link = FindLive(key);
  return link == nullptr ? nullptr : *link;
}

void Keyspace::Remove(SiblingSet** link) {
  SiblingSet* set = *link;
  if (!slot_digests_.empty()) DigestToggleBlock(set);
  if (set->has_expire()) UnindexTtl(set);
  table_.Unlink(link);
  data_bytes_ -= BlockBytes(set);
  SiblingSet::Destroy(set);
}

void Keyspace::ExpireKey(SiblingSet** link) {
  ++stats_->expired_keys;
  // The event follows the deletion, as in Redis; the name is copied first,
  // since it lives in the block deleted.
  thread_local std::string expired;
  const bool report = (events_->wanted & kKeyExpired) != 0;
  if (report) expired.assign((*link)->key());
  if (causal()) {
    HoldExpired(link);  // keyspace.h: why a cluster keeps the expired state
  } else {
    Remove(link);
  }
  if (report) events_->fn(kKeyExpired, index_, expired);
}

void Keyspace::Adopt(SiblingSet* set) {
  data_bytes_ += BlockBytes(set);
  // A new key starts as just accessed (LRU) or at the initial counter (LFU),
  // as in Redis, so it is not evicted before it had a chance to be read.
  const int64_t now = clock_->now_ms;
  set->set_access(IsLfu(settings_->policy) ? lfu::Pack(lfu::MinutesOf(now), lfu::kInitialCounter)
                                           : static_cast<uint32_t>(now / 1000));
  table_.Insert(set);
  if (!slot_digests_.empty()) {
    ForgetEvicted(set->key());
    DigestToggleBlock(set);
  }
  if (events_->wanted & kKeyAdded) events_->fn(kKeyAdded, index_, set->key());
}

void Keyspace::Touch(const SiblingSet* set) {
  const int64_t now = clock_->now_ms;
  if (IsLfu(settings_->policy)) {
    uint8_t counter = lfu::Decayed(set->access(), now, settings_->lfu_decay_time);
    counter = lfu::LogIncrement(counter, settings_->lfu_log_factor,
                                static_cast<double>(rnd_() - rnd_.min()) /
                                    static_cast<double>(rnd_.max() - rnd_.min() + 1));
    set->set_access(lfu::Pack(lfu::MinutesOf(now), counter));
  } else {
    // Stored only when it changes: most reads then leave the block's cache
    // line clean.
    const auto clock = static_cast<uint32_t>(now / 1000);
    if (set->access() != clock) set->set_access(clock);
  }
}

uint64_t Keyspace::EvictionScore(const SiblingSet* set) const {
  const int64_t now = clock_->now_ms;
  switch (settings_->policy) {
    case EvictionPolicy::kVolatileTtl:
      return UINT64_MAX - static_cast<uint64_t>(set->expire_at_ms());
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLfu:
      return 255 - lfu::Decayed(set->access(), now, settings_->lfu_decay_time);
    default:
      return static_cast<uint32_t>(static_cast<uint32_t>(now / 1000) - set->access());
  }
}

void Keyspace::SampleForEviction(int db_index, EvictionPool* pool) {
  const bool volatile_only = IsVolatile(settings_->policy);
  for (int i = 0; i < settings_->samples; ++i) {
    const SiblingSet* set = nullptr;
    if (volatile_only) {
      if (ttl_index_.empty()) return;
      set = ttl_index_[rnd_() % ttl_index_.size()];
    } else {
      set = table_.Random(rnd_);
      if (set == nullptr) return;
    }
    pool->Offer(EvictionScore(set), db_index, set->key());
  }
}

bool Keyspace::CurrentEvictionScore(std::string_view key, uint64_t* score) {
  SiblingSet** link = table_.FindLink(key);
  if (link == nullptr || IsExpired(*link)) return false;
  if (IsVolatile(settings_->policy) && !(*link)->has_expire()) return false;
  *score = EvictionScore(*link);
  return true;
}

bool Keyspace::Evict(std::string_view key) {
  SiblingSet** link = table_.FindLink(key);
  if (link == nullptr) return false;
  if (causal()) RememberEvicted((*link)->key(), BlockHash(*link), (*link)->expire_at_ms());
  Remove(link);
  ++stats_->evicted_keys;
  return true;
}

bool Keyspace::EvictRandom(std::string* evicted) {
  const SiblingSet* set = nullptr;
  if (IsVolatile(settings_->policy)) {
    if (ttl_index_.empty()) return false;
    set = ttl_index_[rnd_() % ttl_index_.size()];
  } else {
    set = table_.Random(rnd_);
  }
  if (set == nullptr) return false;
  evicted->assign(set->key());
  return Evict(*evicted);
}

void Keyspace::IndexTtl(SiblingSet* set) {
  set->set_ttl_slot(static_cast<uint32_t>(ttl_index_.size()));
  ttl_index_.push_back(set);
}

void Keyspace::UnindexTtl(SiblingSet* set) {
  const uint32_t slot = set->ttl_slot();
  SiblingSet* last = ttl_index_.back();
  ttl_index_[slot] = last;
  last->set_ttl_slot(slot);
  ttl_index_.pop_back();
}

void Keyspace::ApplyTtl(SiblingSet** link, TtlUpdate ttl) {
  SiblingSet* set = *link;
  switch (ttl.kind) {
    case TtlUpdate::Kind::kKeep:
      return;
    case TtlUpdate::Kind::kClear:
      if (!set->has_expire()) return;
      UnindexTtl(set);
      *link = Mutate(set, [](SiblingSet* s) { return SiblingSet::WithExpire(s, SiblingSet::kNoExpire); });
      return;
    case TtlUpdate::Kind::kSet:
      if (set->has_expire()) {
        set->set_expire_at_ms(ttl.at_ms);
        return;
      }
      set = Mutate(set, [&](SiblingSet* s) { return SiblingSet::WithExpire(s, ttl.at_ms); });
      *link = set;
      IndexTtl(set);
      return;
  }
}

OpStatus Keyspace::VPut(std::string_view key, Version seen, std::string_view value,
                        TtlUpdate ttl, const SiblingSet** after) {
  if (seen > counter_->last_issued()) return OpStatus::kVersionFromFuture;
  SiblingSet** link = FindLive(key);
  if (link != nullptr && !(*link)->holds_string()) return OpStatus::kWrongType;
  if (link != nullptr && *max_siblings_ != 0) {
    // Siblings the write keeps (those `seen` does not cover), plus the new one.
    uint32_t kept = 0;
    for (Sibling s : **link) kept += seen.Covers(s.version) ? 0 : 1;
    if (kept + 1 > *max_siblings_) return OpStatus::kTooManySiblings;
  }
  Version v;
  if (!counter_->Next(&v)) return OpStatus::kVersionUnavailable;
  if (link == nullptr) {
    const Sibling only{v, value};
    SiblingSet* set = SiblingSet::Create(key, SiblingSet::kNoExpire, {&only, 1});
    Adopt(set);
    link = table_.FindLink(key);
  } else {
    Relink(link, Mutate(*link, [&](SiblingSet* s) { return SiblingSet::Put(s, seen, v, value); }));
  }
  ApplyTtl(link, ttl);
  *after = *link;
  return OpStatus::kOk;
}

OpStatus Keyspace::VDel(std::string_view key, Version seen, const SiblingSet** after) {
  if (seen > counter_->last_issued()) return OpStatus::kVersionFromFuture;
  *after = nullptr;
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return OpStatus::kOk;
  if (!(*link)->holds_string()) return OpStatus::kWrongType;
  if (seen.Covers((*link)->max_version())) {
    Remove(link);
    return OpStatus::kOk;
  }
  // Some sibling survives, so DropCovered cannot free the block.
  Relink(link, Mutate(*link, [&](SiblingSet* s) { return SiblingSet::DropCovered(s, seen); }));
  *after = *link;
  return OpStatus::kOk;
}

OpStatus Keyspace::Set(std::string_view key, std::string_view value, TtlUpdate ttl) {
  if (causal()) return CausalStoreOnly(key, value, ttl);
  SiblingSet** link = FindLive(key);
  Version v;
  if (!counter_->Next(&v)) return OpStatus::kVersionUnavailable;
  if (link == nullptr) {
    const Sibling only{v, value};
    const int64_t at = ttl.kind == TtlUpdate::Kind::kSet ? ttl.at_ms : SiblingSet::kNoExpire;
    SiblingSet* set = SiblingSet::Create(key, at, {&only, 1});
    if (set->has_expire()) IndexTtl(set);
    Adopt(set);
    return OpStatus::kOk;
  }
  ReplaceAll(link, v, value);
  ApplyTtl(link, ttl);
  return OpStatus::kOk;
}

void Keyspace::ReplaceAll(SiblingSet** link, Version v, std::string_view value) {
  size_t usable = malloc_usable_size(*link);
  data_bytes_ -= usable + (*link)->TypedBytes();
  SiblingSet* set = SiblingSet::ReplaceAll(*link, v, value, &usable);
  data_bytes_ += usable;
  Relink(link, set);
}

OpStatus Keyspace::StoreOnly(SiblingSet** link, std::string_view key, std::string_view value) {
  Version v;
  if (!counter_->Next(&v)) return OpStatus::kVersionUnavailable;
  if (link == nullptr) {
    const Sibling only{v, value};
    Adopt(SiblingSet::Create(key, SiblingSet::kNoExpire, {&only, 1}));
  } else {
    ReplaceAll(link, v, value);
  }
  return OpStatus::kOk;
}

OpStatus Keyspace::Restore(std::string_view key, int64_t expire_at_ms,
                           std::span<const Sibling> siblings) {
  thread_local std::vector<Sibling> decoded;
  thread_local std::vector<Sibling::ObjectBytes> objects;
  decoded.assign(siblings.begin(), siblings.end());
  if (!SiblingSet::MaterializeTyped(decoded, *limits_, &objects)) {
    return OpStatus::kMalformedValue;
  }
  // Like every other operation, one rehash step each: without them a
  // resize started during a load never finishes and chains grow without bound.
  table_.RehashStep(1);
  if (SiblingSet** link = table_.FindLink(key)) {
    Remove(link);
  } else if (!hidden_.empty()) {
    // Causal mode: a tombstone of the key (a flush replayed from a single
    // node's log leaves them) is replaced too; no key is live and hidden.
    auto it = hidden_.find(std::string(key));
    if (it != hidden_.end()) EraseHidden(it);
  }
  SiblingSet* set = SiblingSet::Create(key, expire_at_ms, decoded);
  if (set->has_expire()) IndexTtl(set);
  Adopt(set);
  return OpStatus::kOk;
}

bool Keyspace::Delete(std::string_view key) {
  if (causal()) {
    bool existed;
    CausalDelete(key, &existed);
    return existed;
  }
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return false;
  Remove(link);
  return true;
}

bool Keyspace::SetExpire(std::string_view key, int64_t at_ms) {
  if (causal()) {
    bool existed;
    return CausalSetExpire(key, at_ms, &existed) == OpStatus::kOk && existed;
  }
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return false;
  ApplyTtl(link, TtlUpdate::At(at_ms));
  return true;
}

bool Keyspace::Persist(std::string_view key) {
  SiblingSet** link = FindLive(key);
  if (link == nullptr || !(*link)->has_expire()) return false;
  if (causal()) {
    bool existed;
    return CausalSetExpire(key, SiblingSet::kNoExpire, &existed) == OpStatus::kOk;
  }
  ApplyTtl(link, TtlUpdate::Clear());
  return true;
}

SiblingSet* Keyspace::CopyWithFreshVersions(const SiblingSet* src, std::string_view key,
                                            OpStatus* status, bool clone) {
  // Fresh versions in the same order: a client holding an old version of the
  // destination must not be able to remove values it never read.
  Version first;
  if (!counter_->NextRange(src->size(), &first)) {
    *status = OpStatus::kVersionUnavailable;
    return nullptr;
  }
  std::vector<Sibling> moved;
  moved.reserve(src->size());
  uint64_t next = first.counter();
  std::vector<Sibling::ObjectBytes> clones;
  clones.reserve(src->size());
  for (Sibling s : *src) {
    if (clone && s.typed()) {
      s.value = clones.emplace_back(Sibling::BytesOf(CloneTypedValue(s.type, s.object()))).view();
    }
    moved.push_back(Sibling{Version(next++), s.value, s.type});
  }
  *status = OpStatus::kOk;
  return SiblingSet::Create(key, src->expire_at_ms(), moved);
}

OpStatus Keyspace::Rename(std::string_view src, std::string_view dst, bool nx) {
  SiblingSet** src_link = FindLive(src);
  if (src_link == nullptr) return OpStatus::kNotFound;
  if (src == dst) return nx ? OpStatus::kExists : OpStatus::kOk;
  // Looked up live so that an expired destination counts as expired.
  const bool dst_exists = FindLive(dst) != nullptr;
  if (nx && dst_exists) return OpStatus::kExists;
  if (causal()) return CausalMove(src, this, dst);
  src_link = table_.FindLink(src);  // FindLive(dst) may have rehashed or unlinked
  OpStatus status;
  SiblingSet* moved = CopyWithFreshVersions(*src_link, dst, &status);
  if (moved == nullptr) return status;
  DisownTypedValues(*src_link);  // `moved` holds them now
  Remove(src_link);
  if (dst_exists) Remove(table_.FindLink(dst));
  if (moved->has_expire()) IndexTtl(moved);
  Adopt(moved);
  return OpStatus::kOk;
}

OpStatus Keyspace::MoveTo(std::string_view key, Keyspace* target) {
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return OpStatus::kNotFound;
  if (target->FindLive(key) != nullptr) return OpStatus::kExists;
  if (causal()) return CausalMove(key, target, key);
  OpStatus status;
  SiblingSet* moved = target->CopyWithFreshVersions(*link, key, &status);
  if (moved == nullptr) return status;
  DisownTypedValues(*link);  // `moved` holds them now
  Remove(link);
  if (moved->has_expire()) target->IndexTtl(moved);
  target->Adopt(moved);
  return OpStatus::kOk;
}

OpStatus Keyspace::Copy(std::string_view src, Keyspace* target, std::string_view dst,
                        bool replace) {
  if (FindLive(src) == nullptr) return OpStatus::kNotFound;
  const bool dst_exists = target->FindLive(dst) != nullptr;
  if (dst_exists && !replace) return OpStatus::kExists;
  if (causal()) return CausalMove(src, target, dst, /*keep_source=*/true);
  OpStatus status;
  SiblingSet* copy =
      target->CopyWithFreshVersions(*table_.FindLink(src), dst, &status, /*clone=*/true);
  if (copy == nullptr) return status;
  if (dst_exists) target->Remove(target->table_.FindLink(dst));
  if (copy->has_expire()) target->IndexTtl(copy);
  target->Adopt(copy);
  return OpStatus::kOk;
}

void Keyspace::Clear() {
  if (causal()) {
    // With peers, a flush deletes: every key leaves a tombstone, so that no
    // replica's copy brings it back.
    std::vector<std::string> keys;
    table_.ForEach([&](const SiblingSet* set) { keys.emplace_back(set->key()); });
    for (const std::string& key : keys) Delete(key);
    // An expired state here may be alive elsewhere (a PERSIST this node
    // missed): the flush deletes it too, as a tombstone.
    DeleteExpiredStates();
    return;
  }
  data_bytes_ = 0;
  ttl_index_.clear();
  ttl_index_.shrink_to_fit();
  table_.Clear();
}

const SiblingSet* Keyspace::RandomKey() {
  // Expired keys found on the way are deleted; give up after a bounded number
  // of tries when nearly everything has expired, as Redis does.
  for (int tries = 0; tries < 100 && table_.size() > 0; ++tries) {
    SiblingSet* set = table_.Random(rnd_);
    if (!IsExpired(set)) return set;
    ExpireKey(table_.FindLink(set->key()));
  }
  return nullptr;
}

size_t Keyspace::ExpireSample(size_t samples, size_t* sampled) {
  size_t expired = 0;
  *sampled = 0;
  for (size_t i = 0; i < samples && !ttl_index_.empty(); ++i) {
    SiblingSet* set = ttl_index_[rnd_() % ttl_index_.size()];
    ++*sampled;
    if (!IsExpired(set)) continue;
    ExpireKey(table_.FindLink(set->key()));
    ++expired;
  }
  return expired;
}

}  // namespace causalkv::store
