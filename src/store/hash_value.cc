#include "causalkv/store/hash_value.h"

#include <malloc.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "value_codec.h"

namespace causalkv::store {
namespace {

using namespace codec;  // value_codec.h

// glibc's realloc frees the tail of a shrinking block only when that tail is
// at least its minimum chunk; a smaller slack stays, and realloc is not worth
// calling for it.
constexpr size_t kShrinkSlack = 32;




size_t EntryLength(std::string_view field, std::string_view value) {
  return VarintLength(field.size()) + field.size() + VarintLength(value.size()) + value.size();
}

// Writes the entry (the layout at the top of hash_value.h); returns its end.
char* WriteEntry(char* p, std::string_view field, std::string_view value) {
  p = WriteVarint(p, field.size());
  if (!field.empty()) std::memcpy(p, field.data(), field.size());
  p = WriteVarint(p + field.size(), value.size());
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
  return p + value.size();
}



}  // namespace

HashValue* HashValue::Create() {
  HashValue* h = new (Allocate(sizeof(HashValue))) HashValue();
  h->listpack_ = static_cast<char*>(Allocate(sizeof(ListpackHeader)));
  *h->header() = ListpackHeader{0, sizeof(ListpackHeader)};
  h->memory_bytes_ = Usable(h) + Usable(h->listpack_);
  return h;
}

void HashValue::Destroy(HashValue* h) {
  if (h == nullptr) return;
  if (h->encoding_ == Encoding::kListpack) {
    std::free(h->listpack_);
  } else {
    h->table_->~FieldTable();
    std::free(h->table_);
  }
  h->~HashValue();
  std::free(h);
}

HashValue* HashValue::Clone(const HashValue& from) {
  HashValue* h = new (Allocate(sizeof(HashValue))) HashValue();
  h->memory_bytes_ = Usable(h);
  if (from.encoding_ == Encoding::kListpack) {
    const size_t bytes = from.header()->bytes;
    h->listpack_ = static_cast<char*>(Allocate(bytes));
    std::memcpy(h->listpack_, from.listpack_, bytes);
    h->memory_bytes_ += Usable(h->listpack_);
    return h;
  }
  h->encoding_ = Encoding::kHashtable;
  h->table_ = new (Allocate(sizeof(FieldTable))) FieldTable(TableHashSeed());
  h->memory_bytes_ += Usable(h->table_);
  h->table_->CopyFrom(*from.table_, [h](const HashEntry* e) {
    std::string_view field, value;
    const size_t bytes = DecodeEntry(e->entry(), &field, &value) - reinterpret_cast<const char*>(e);
    auto* copy = static_cast<HashEntry*>(Allocate(bytes));
    std::memcpy(copy, e, bytes);
    h->memory_bytes_ += Usable(copy);
    return copy;
  });
  return h;
}

bool HashValue::Get(std::string_view field, std::string_view* value) const {
  const char* entry;
  if (encoding_ == Encoding::kListpack) {
    entry = ListpackFind(field);
  } else {
    const HashEntry* e = table_->Find(field);
    entry = e == nullptr ? nullptr : e->entry();
  }
  if (entry == nullptr) return false;
  std::string_view stored_field;
  DecodeEntry(entry, &stored_field, value);
  return true;
}

bool HashValue::Set(std::string_view field, std::string_view value,
                    const CollectionLimits& limits) {
  if (encoding_ == Encoding::kHashtable) return SetInTable(field, value);
  if (PointsIntoListpack(field) || PointsIntoListpack(value)) {
    // Resizing, moving or converting the listpack would pull the bytes out
    // from under these views.
    const std::string field_copy(field), value_copy(value);
    return SetInListpack(field_copy, value_copy, limits);
  }
  return SetInListpack(field, value, limits);
}

bool HashValue::Erase(std::string_view field) {
  if (encoding_ == Encoding::kListpack) {
    const char* entry = ListpackFind(field);
    if (entry == nullptr) return false;
    std::string_view stored_field, value;
    const char* end = DecodeEntry(entry, &stored_field, &value);
    ResizeListpackRange(entry - listpack_, end - entry, 0);
    --header()->count;
    return true;
  }
  table_->RehashStep(1);
  HashEntry** link = table_->FindLink(field);
  if (link == nullptr) return false;
  FreeEntry(table_->Unlink(link));
  return true;
}

void HashValue::Serialize(std::string* out) const {
  char count[kMaxVarintBytes];
  out->append(count, WriteVarint(count, size()));
  // Both encodings hold each entry in its serialized form.
  if (encoding_ == Encoding::kListpack) {
    out->append(ListpackBegin(), ListpackEnd());
    return;
  }
  // By field: a table's bucket order depends on this process's hash seed,
  // and every node must give the same bytes for the same hash (replicas
  // compare states, and a replica's copy keeps this order).
  std::vector<const HashEntry*> entries;
  entries.reserve(table_->size());
  table_->ForEach([&](const HashEntry* e) { entries.push_back(e); });
  std::sort(entries.begin(), entries.end(), [](const HashEntry* a, const HashEntry* b) {
    return FieldAt(a->entry()) < FieldAt(b->entry());
  });
  for (const HashEntry* e : entries) {
    std::string_view field, value;
    out->append(e->entry(), DecodeEntry(e->entry(), &field, &value));
  }
}

HashValue* HashValue::Deserialize(std::string_view bytes, const CollectionLimits& limits) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  uint64_t count;
  if (!ReadVarint(&p, end, &count) || count == 0) return nullptr;
  // Every entry takes at least two bytes (two lengths), so a larger count
  // cannot be true; rejecting it here keeps a hostile count from costing
  // anything. From here on every allocation is bounded by the bytes read.
  if (count > static_cast<uint64_t>(end - p) / 2) return nullptr;
  HashValue* h = Create();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view field, value;
    if (!ReadString(&p, end, &field) || !ReadString(&p, end, &value) ||
        !h->Set(field, value, limits)) {  // Set returns false on a duplicate field
      Destroy(h);
      return nullptr;
    }
  }
  if (p != end) {
    Destroy(h);
    return nullptr;
  }
  return h;
}

// --- Listpack ----------------------------------------------------------------

const char* HashValue::ListpackFind(std::string_view field) const {
  const char* end = ListpackEnd();
  for (const char* p = ListpackBegin(); p != end;) {
    std::string_view stored_field, value;
    const char* next = DecodeEntry(p, &stored_field, &value);
    if (stored_field == field) return p;
    p = next;
  }
  return nullptr;
}

bool HashValue::PointsIntoListpack(std::string_view s) const {
  // As integers: comparing pointers into different blocks is unspecified.
  const uintptr_t at = reinterpret_cast<uintptr_t>(s.data());
  const uintptr_t begin = reinterpret_cast<uintptr_t>(listpack_);
  return !s.empty() && at - begin < header()->bytes;
}

char* HashValue::ResizeListpackRange(size_t offset, size_t old_len, size_t new_len) {
  const size_t used = header()->bytes;
  char* at = ResizeRange(&listpack_, used, offset, old_len, new_len, kShrinkSlack, &memory_bytes_);
  header()->bytes = static_cast<uint32_t>(used - old_len + new_len);
  return at;
}

bool HashValue::SetInListpack(std::string_view field, std::string_view value,
                              const CollectionLimits& limits) {
  if (field.size() > limits.hash_max_listpack_value ||
      value.size() > limits.hash_max_listpack_value) {
    ConvertToTable();
    return SetInTable(field, value);
  }
  const size_t value_len = VarintLength(value.size()) + value.size();
  if (const char* entry = ListpackFind(field)) {
    // Overwrite in place: the entry keeps its position (HGETALL order).
    std::string_view stored_field, old_value;
    DecodeEntry(entry, &stored_field, &old_value);
    const char* old_start = stored_field.data() + stored_field.size();  // the value's length
    const size_t old_len = old_value.data() + old_value.size() - old_start;
    if (header()->bytes - old_len + value_len > kMaxListpackBytes) {
      ConvertToTable();
      return SetInTable(field, value);
    }
    char* p = ResizeListpackRange(old_start - listpack_, old_len, value_len);
    p = WriteVarint(p, value.size());
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    // As Redis: a listpack already past a lowered limit converts on any write.
    if (header()->count > limits.hash_max_listpack_entries) ConvertToTable();
    return false;
  }
  const size_t entry_len = VarintLength(field.size()) + field.size() + value_len;
  if (header()->count >= limits.hash_max_listpack_entries ||
      header()->bytes + entry_len > kMaxListpackBytes) {
    ConvertToTable();
    return SetInTable(field, value);
  }
  WriteEntry(ResizeListpackRange(header()->bytes, 0, entry_len), field, value);
  ++header()->count;
  return true;
}

void HashValue::ConvertToTable() {
  // Sized for the entries plus the one being added: filling it never resizes.
  FieldTable* table =
      new (Allocate(sizeof(FieldTable))) FieldTable(TableHashSeed(), size_t{header()->count} + 2);
  memory_bytes_ += Usable(table);
  ForEach([&](std::string_view field, std::string_view value) {
    table->Insert(NewEntry(field, value));
  });
  memory_bytes_ -= Usable(listpack_);
  std::free(listpack_);
  table_ = table;
  encoding_ = Encoding::kHashtable;
}

// --- Hashtable ---------------------------------------------------------------

bool HashValue::SetInTable(std::string_view field, std::string_view value) {
  table_->RehashStep(1);  // moves entries between chains, never frees one
  HashEntry** link = table_->FindLink(field);
  if (link == nullptr) {
    table_->Insert(NewEntry(field, value));
    return true;
  }
  HashEntry* old = *link;
  std::string_view stored_field, old_value;
  DecodeEntry(old->entry(), &stored_field, &old_value);
  if (old_value.size() == value.size()) {
    // memmove: `value` may be this very value (HSET f <HGET f>).
    std::memmove(const_cast<char*>(old_value.data()), value.data(), value.size());
    return false;
  }
  // A value of another length still fits the block when the allocator's
  // rounding left room (HINCRBY from 9 to 10), unless it is read from this
  // block, whose bytes the new length would overwrite.
  const char* block = reinterpret_cast<const char*>(old);
  const size_t usable = Usable(old);
  const bool reads_this_block =
      reinterpret_cast<uintptr_t>(value.data()) - reinterpret_cast<uintptr_t>(block) < usable;
  const size_t value_at = stored_field.data() + stored_field.size() - block;
  if (!reads_this_block && value_at + VarintLength(value.size()) + value.size() <= usable) {
    char* p = WriteVarint(reinterpret_cast<char*>(old) + value_at, value.size());
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    return false;
  }
  // NewEntry copies `field` and `value` before `old` is freed, so either may
  // point into it.
  table_->Replace(link, NewEntry(field, value));
  FreeEntry(old);
  return false;
}

HashValue::HashEntry* HashValue::NewEntry(std::string_view field, std::string_view value) {
  auto* e = static_cast<HashEntry*>(Allocate(sizeof(HashEntry) + EntryLength(field, value)));
  e->next = nullptr;
  WriteEntry(e->entry(), field, value);
  memory_bytes_ += Usable(e);
  return e;
}

void HashValue::FreeEntry(HashEntry* e) {
  memory_bytes_ -= Usable(e);
  std::free(e);
}

}  // namespace causalkv::store
