// Keyspace: typed values (collections). See keyspace.h and value_type.h.
#include "causalkv/store/keyspace.h"

namespace causalkv::store {

const CollectionLimits Keyspace::kDefaultCollectionLimits{};

bool Keyspace::TypeOf(std::string_view key, ValueType* type) {
  SiblingSet** link = FindLive(key);
  if (link == nullptr) return false;
  *type = (*link)->newest().type;
  return true;
}

OpStatus Keyspace::StoreTyped(std::string_view key, ValueType type, void* value, TtlUpdate ttl) {
  const Sibling::ObjectBytes bytes = Sibling::BytesOf(value);
  if (causal()) return CausalStoreOnly(key, Sibling{{}, bytes.view(), type}, ttl);
  Version v;
  if (!counter_->Next(&v)) {
    DestroyTypedValue(type, value);
    return OpStatus::kVersionUnavailable;
  }
  const Sibling only{v, bytes.view(), type};
  SiblingSet** link = FindLive(key);
  int64_t expire_at_ms = ttl.kind == TtlUpdate::Kind::kSet ? ttl.at_ms : SiblingSet::kNoExpire;
  if (ttl.kind == TtlUpdate::Kind::kKeep && link != nullptr) expire_at_ms = (*link)->expire_at_ms();
  SiblingSet* block = SiblingSet::Create(key, expire_at_ms, {&only, 1});
  if (link != nullptr) {
    ReplaceBlock(link, block);  // frees the old value
    return OpStatus::kOk;
  }
  if (block->has_expire()) IndexTtl(block);
  Adopt(block);
  return OpStatus::kOk;
}

OpStatus Keyspace::CommitTyped(SiblingSet** link, const Sibling& changed) {
  if (causal()) return CausalReplaceLive(link, changed, TtlUpdate::Keep());
  // A single node's collection key has this one sibling (keyspace.h).
  Version v;
  if (!counter_->Next(&v)) return OpStatus::kVersionUnavailable;
  (*link)->set_only_version(v);
  return OpStatus::kOk;
}

OpStatus Keyspace::DeleteLive(SiblingSet** link) {
  if (!causal()) {
    Remove(link);
    return OpStatus::kOk;
  }
  const std::string key((*link)->key());  // the block goes before the key's last use
  bool existed;
  return CausalDelete(key, &existed);
}

}  // namespace causalkv::store
