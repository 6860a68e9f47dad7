#include "causalkv/store/sibling_set.h"

#include "causalkv/store/lazy_free.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

namespace causalkv::store {
namespace {

// glibc's realloc leaves a block where it is when shrinking it would free
// less than its minimum chunk (32 bytes on 64-bit): reusing a block with less
// slack than that in place costs no more memory than realloc would.
constexpr size_t kReallocKeepsSlack = 32;

char* Allocate(size_t bytes) {
  void* p = std::malloc(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<char*>(p);
}

}  // namespace

char* SiblingSet::WriteSibling(char* p, const Sibling& s) {
  const uint64_t counter = s.version.raw();
  const auto bytes = static_cast<uint32_t>(s.value.size());
  const uint32_t len = s.typed() ? kTypedLen + static_cast<uint32_t>(s.type) : bytes;
  std::memcpy(p, &counter, 8);
  std::memcpy(p + 8, &len, 4);
  if (bytes != 0) std::memcpy(p + kSiblingHeader, s.value.data(), bytes);
  return p + kSiblingHeader + bytes;
}

bool SiblingSet::MaterializeTyped(std::span<Sibling> siblings, const CollectionLimits& limits,
                                  std::vector<Sibling::ObjectBytes>* storage) {
  storage->clear();
  storage->reserve(siblings.size());
  for (size_t i = 0; i < siblings.size(); ++i) {
    Sibling& s = siblings[i];
    if (!s.typed()) continue;
    void* object = DeserializeTypedValue(s.type, s.value, limits);
    if (object == nullptr) {
      for (size_t j = 0; j < i; ++j) {
        if (siblings[j].typed()) DestroyTypedValue(siblings[j].type, siblings[j].object());
      }
      return false;
    }
    s.value = storage->emplace_back(Sibling::BytesOf(object)).view();
  }
  return true;
}

void SiblingSet::ReleaseTyped(const char* p, uint32_t n) {
  for (Iterator it(p, n); it != Iterator(nullptr, 0); ++it) {
    const Sibling s = *it;
    if (s.typed() && s.object() != nullptr) FreeTypedValue(s.type, s.object());
  }
}

uint32_t SiblingSet::TypedBitOf(const char* p, uint32_t n) {
  for (Iterator it(p, n); it != Iterator(nullptr, 0); ++it) {
    if ((*it).typed()) return kTypedBit;
  }
  return 0;
}

size_t SiblingSet::TypedBytes() const {
  if (!has_typed()) return 0;
  size_t bytes = 0;
  for (const Sibling s : *this) {
    if (s.typed() && s.object() != nullptr) bytes += TypedValueBytes(s.type, s.object());
  }
  return bytes;
}

void SiblingSet::DisownTypedValue(SiblingSet* set, const void* object) {
  char* p = set->Base() + set->SiblingsOffset();
  for (uint32_t i = 0; i < set->size(); ++i) {
    const Sibling s = *Iterator(p, 1);
    if (s.typed() && s.object() == object) {
      std::memset(p + kSiblingHeader, 0, sizeof(void*));
      return;
    }
    p += kSiblingHeader + StoredLength(p);
  }
}

void SiblingSet::DisownTypedValues(SiblingSet* set) {
  if (!set->has_typed()) return;
  char* p = set->Base() + set->SiblingsOffset();
  for (uint32_t i = 0; i < set->size(); ++i) {
    uint32_t len;
    std::memcpy(&len, p + 8, 4);
    if (len >= kTypedLen) std::memset(p + kSiblingHeader, 0, sizeof(void*));
    p += kSiblingHeader + StoredLength(p);
  }
}

SiblingSet* SiblingSet::Create(std::string_view key, int64_t expire_at_ms,
                               std::span<const Sibling> siblings) {
  const bool ttl = expire_at_ms != kNoExpire;
  size_t bytes = kHeaderSize + (ttl ? kTtlBlockSize : 0) + key.size();
  uint32_t typed = 0;
  for (const Sibling& s : siblings) {
    bytes += kSiblingHeader + s.value.size();
    if (s.typed()) typed = kTypedBit;
  }
  char* p = Allocate(bytes);
  auto* set = new (p) SiblingSet();
  set->next_ = nullptr;
  set->key_len_ = static_cast<uint32_t>(key.size());
  set->meta_ = static_cast<uint32_t>(siblings.size()) | (ttl ? kTtlBit : 0) | typed;
  set->access_ = 0;
  set->ttl_slot_ = 0;
  if (ttl) set->set_expire_at_ms(expire_at_ms);
  char* w = p + set->KeyOffset();
  if (!key.empty()) std::memcpy(w, key.data(), key.size());
  w += key.size();
  for (const Sibling& s : siblings) w = WriteSibling(w, s);
  return set;
}

SiblingSet* SiblingSet::CreateCausal(std::string_view key, int64_t expire_at_ms,
                                     Version ttl_stamp, std::span<const Version> extra_context,
                                     std::span<const Sibling> siblings) {
  if (ttl_stamp.raw() == 0 && extra_context.empty()) {
    return Create(key, expire_at_ms, siblings);
  }
  const bool ttl = expire_at_ms != kNoExpire;
  const size_t causal = kCausalHeader + 8 * extra_context.size();
  size_t bytes = kHeaderSize + (ttl ? kTtlBlockSize : 0) + causal + key.size();
  uint32_t typed = 0;
  for (const Sibling& s : siblings) {
    bytes += kSiblingHeader + s.value.size();
    if (s.typed()) typed = kTypedBit;
  }
  char* p = Allocate(bytes);
  auto* set = new (p) SiblingSet();
  set->next_ = nullptr;
  set->key_len_ = static_cast<uint32_t>(key.size());
  set->meta_ = static_cast<uint32_t>(siblings.size()) | (ttl ? kTtlBit : 0) | kCausalBit | typed;
  set->access_ = 0;
  set->ttl_slot_ = 0;
  if (ttl) set->set_expire_at_ms(expire_at_ms);
  char* w = p + set->CausalOffset();
  const uint64_t stamp = ttl_stamp.raw();
  const auto n = static_cast<uint32_t>(extra_context.size());
  std::memcpy(w, &stamp, 8);
  std::memcpy(w + 8, &n, 4);
  w += kCausalHeader;
  for (Version v : extra_context) {
    const uint64_t raw = v.raw();
    std::memcpy(w, &raw, 8);
    w += 8;
  }
  if (!key.empty()) std::memcpy(w, key.data(), key.size());
  w += key.size();
  for (const Sibling& s : siblings) w = WriteSibling(w, s);
  return set;
}

void SiblingSet::Destroy(SiblingSet* set) {
  if (set->has_typed()) ReleaseTyped(set->Base() + set->SiblingsOffset(), set->size());
  std::free(set);
}

Sibling SiblingSet::newest() const {
  Iterator it = begin();
  for (uint32_t i = 1; i < size(); ++i) ++it;
  return *it;
}

size_t SiblingSet::BlockSize() const {
  size_t bytes = SiblingsOffset();
  for (Sibling s : *this) bytes += kSiblingHeader + s.value.size();
  return bytes;
}

const char* SiblingSet::FirstUncovered(const SiblingSet* set, Version seen, uint32_t* kept) {
  // Siblings are sorted by version, so the covered ones form a prefix.
  const char* p = set->Base() + set->SiblingsOffset();
  *kept = set->size();
  while (*kept > 0) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if (!seen.Covers(Version(v))) break;
    p += kSiblingHeader + StoredLength(p);
    --*kept;
  }
  return p;
}

SiblingSet* SiblingSet::ReplaceAll(SiblingSet* set, Version v, std::string_view value,
                                   size_t* usable) {
  const size_t head = set->SiblingsOffset();
  if (set->has_typed()) ReleaseTyped(set->Base() + head, set->size());
  const size_t bytes = head + kSiblingHeader + value.size();
  if (bytes > *usable || *usable - bytes >= kReallocKeepsSlack) {
    // realloc keeps the header, TTL block and key; it can often grow in place,
    // which makes APPEND on a single-sibling key cheap.
    void* p = std::realloc(set, bytes);
    if (p == nullptr) throw std::bad_alloc();
    set = static_cast<SiblingSet*>(p);
    *usable = malloc_usable_size(set);
  }
  set->meta_ = (set->meta_ & (kTtlBit | kCausalBit)) | 1u;
  WriteSibling(set->Base() + head, Sibling{v, value});
  return set;
}

SiblingSet* SiblingSet::ReplaceAll(SiblingSet* set, Version v, std::string_view value) {
  size_t usable = malloc_usable_size(set);
  return ReplaceAll(set, v, value, &usable);
}

SiblingSet* SiblingSet::Put(SiblingSet* set, Version seen, Version v, std::string_view value) {
  uint32_t kept;
  const char* keep_from = FirstUncovered(set, seen, &kept);
  const size_t head = set->SiblingsOffset();
  if (set->has_typed()) ReleaseTyped(set->Base() + head, set->size() - kept);
  const size_t old_bytes = set->BlockSize();
  const size_t kept_bytes = old_bytes - static_cast<size_t>(keep_from - set->Base());
  const size_t bytes = head + kept_bytes + kSiblingHeader + value.size();
  if (kept_bytes != 0 && keep_from != set->Base() + head) {
    std::memmove(set->Base() + head, keep_from, kept_bytes);
  }
  void* p = std::realloc(set, bytes);
  if (p == nullptr) throw std::bad_alloc();
  set = static_cast<SiblingSet*>(p);
  const uint32_t typed = (set->meta_ & kTypedBit) ? TypedBitOf(set->Base() + head, kept) : 0;
  set->meta_ = (set->meta_ & (kTtlBit | kCausalBit)) | typed | (kept + 1);
  WriteSibling(set->Base() + head + kept_bytes, Sibling{v, value});
  return set;
}

SiblingSet* SiblingSet::DropCovered(SiblingSet* set, Version seen) {
  uint32_t kept;
  const char* keep_from = FirstUncovered(set, seen, &kept);
  if (kept == 0) {
    Destroy(set);
    return nullptr;
  }
  if (kept == set->size()) return set;
  const size_t head = set->SiblingsOffset();
  if (set->has_typed()) ReleaseTyped(set->Base() + head, set->size() - kept);
  const size_t kept_bytes = set->BlockSize() - static_cast<size_t>(keep_from - set->Base());
  std::memmove(set->Base() + head, keep_from, kept_bytes);
  const uint32_t typed = (set->meta_ & kTypedBit) ? TypedBitOf(set->Base() + head, kept) : 0;
  set->meta_ = (set->meta_ & (kTtlBit | kCausalBit)) | typed | kept;
  void* p = std::realloc(set, head + kept_bytes);
  return p == nullptr ? set : static_cast<SiblingSet*>(p);  // shrinking cannot really fail
}

SiblingSet* SiblingSet::WithExpire(SiblingSet* set, int64_t expire_at_ms) {
  const bool want = expire_at_ms != kNoExpire;
  if (want == set->has_expire()) {
    if (want) set->set_expire_at_ms(expire_at_ms);
    return set;
  }
  // The TTL block sits before the key, so adding or removing it shifts the rest.
  const size_t old_bytes = set->BlockSize();
  const size_t tail = old_bytes - kHeaderSize - (set->has_expire() ? kTtlBlockSize : 0);
  if (want) {
    void* p = std::realloc(set, old_bytes + kTtlBlockSize);
    if (p == nullptr) throw std::bad_alloc();
    set = static_cast<SiblingSet*>(p);
    std::memmove(set->Base() + kHeaderSize + kTtlBlockSize, set->Base() + kHeaderSize, tail);
    set->meta_ |= kTtlBit;
    set->set_expire_at_ms(expire_at_ms);
    set->ttl_slot_ = 0;
    return set;
  }
  std::memmove(set->Base() + kHeaderSize, set->Base() + kHeaderSize + kTtlBlockSize, tail);
  set->meta_ &= ~kTtlBit;
  void* p = std::realloc(set, old_bytes - kTtlBlockSize);
  return p == nullptr ? set : static_cast<SiblingSet*>(p);
}

}  // namespace causalkv::store
