#include "causalkv/store/set_value.h"

#include <malloc.h>

#include <algorithm>
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
// A size hint beyond this presizes no further (128 MB of buckets); the table
// still grows as members arrive. Keeps a wild hint from costing memory up front.
constexpr size_t kMaxPresize = size_t{1} << 24;




size_t EntryLength(std::string_view member) { return VarintLength(member.size()) + member.size(); }

// Writes the member with its length; returns its end.
char* WriteEntry(char* p, std::string_view member) {
  p = WriteVarint(p, member.size());
  if (!member.empty()) std::memcpy(p, member.data(), member.size());
  return p + member.size();
}



// The smallest intset width that holds `v`.
uint32_t WidthOf(int64_t v) {
  if (v >= INT16_MIN && v <= INT16_MAX) return 2;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  return 8;
}

void WriteInteger(char* p, uint32_t width, int64_t v) {
  switch (width) {
    case 2: {
      const int16_t x = static_cast<int16_t>(v);
      std::memcpy(p, &x, sizeof x);
      return;
    }
    case 4: {
      const int32_t x = static_cast<int32_t>(v);
      std::memcpy(p, &x, sizeof x);
      return;
    }
    default:
      std::memcpy(p, &v, sizeof v);
      return;
  }
}

// The length of v's decimal text (Redis's sdigits10), sign included.
size_t DecimalLength(int64_t v) {
  uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  size_t n = v < 0 ? 2 : 1;
  for (; u >= 10; u /= 10) ++n;
  return n;
}

size_t IntsetMaxEntries(const CollectionLimits& limits) {
  return std::min<size_t>(limits.set_max_intset_entries, SetValue::kMaxIntsetEntries);
}

size_t PresizeFor(size_t members) { return std::min(members, kMaxPresize) + 1; }

}  // namespace

bool SetValue::ParseInteger(std::string_view s, int64_t* value) {
  // At most 20 characters ("-9223372036854775808"), as string2ll.
  if (s.empty() || s.size() > kMaxIntegerChars) return false;
  if (s.size() == 1 && s[0] == '0') {
    *value = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;  // no sign alone, "-0", "01"
  uint64_t magnitude = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (magnitude > (UINT64_MAX - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    if (magnitude > uint64_t{1} << 63) return false;
    *value = magnitude == uint64_t{1} << 63 ? INT64_MIN : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return false;
    *value = static_cast<int64_t>(magnitude);
  }
  return true;
}

SetValue* SetValue::Create(std::string_view first, size_t size_hint,
                           const CollectionLimits& limits) {
  SetValue* s = new (Allocate(sizeof(SetValue))) SetValue();
  s->memory_bytes_ = Usable(s);
  try {
    int64_t v;
    if (ParseInteger(first, &v) && size_hint <= limits.set_max_intset_entries) {
      s->block_ = static_cast<char*>(Allocate(sizeof(IntsetHeader)));
      *s->intset_header() = IntsetHeader{2, 0};
      s->encoding_ = Encoding::kIntset;
      s->memory_bytes_ += Usable(s->block_);
    } else if (size_hint <= limits.set_max_listpack_entries &&
               first.size() <= limits.set_max_listpack_value) {
      s->block_ = static_cast<char*>(Allocate(sizeof(ListpackHeader)));
      *s->listpack_header() = ListpackHeader{0, sizeof(ListpackHeader)};
      s->encoding_ = Encoding::kListpack;
      s->memory_bytes_ += Usable(s->block_);
    } else {
      // Sized for the hint, as Redis's dictExpand(size_hint): filling it
      // needs no resize.
      s->table_ = s->NewTable(size_hint);
      s->encoding_ = Encoding::kHashtable;
    }
  } catch (...) {
    s->~SetValue();
    std::free(s);
    throw;
  }
  return s;
}

void SetValue::Destroy(SetValue* s) {
  if (s == nullptr) return;
  if (s->encoding_ == Encoding::kHashtable) {
    s->table_->~MemberTable();
    std::free(s->table_);
  } else {
    std::free(s->block_);
  }
  s->~SetValue();
  std::free(s);
}

SetValue* SetValue::Clone(const SetValue& from) {
  SetValue* s = new (Allocate(sizeof(SetValue))) SetValue();
  s->memory_bytes_ = Usable(s);
  s->encoding_ = from.encoding_;
  if (from.encoding_ != Encoding::kHashtable) {
    const size_t bytes =
        from.encoding_ == Encoding::kIntset ? from.IntsetBytes() : from.listpack_header()->bytes;
    s->block_ = static_cast<char*>(Allocate(bytes));
    std::memcpy(s->block_, from.block_, bytes);
    s->memory_bytes_ += Usable(s->block_);
    return s;
  }
  s->table_ = s->NewTable(0);
  s->table_->CopyFrom(*from.table_, [s](const MemberEntry* e) {
    const std::string_view member = MemberAt(e->member());
    const size_t bytes = member.data() + member.size() - reinterpret_cast<const char*>(e);
    auto* copy = static_cast<MemberEntry*>(Allocate(bytes));
    std::memcpy(copy, e, bytes);
    s->memory_bytes_ += Usable(copy);
    return copy;
  });
  return s;
}

bool SetValue::Contains(std::string_view member) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t v;
      size_t index;
      return ParseInteger(member, &v) && IntsetFind(v, &index);
    }
    case Encoding::kListpack:
      return ListpackFind(member) != nullptr;
    case Encoding::kHashtable:
      break;
  }
  return table_->Find(member) != nullptr;
}

bool SetValue::Add(std::string_view member, const CollectionLimits& limits) {
  switch (encoding_) {
    case Encoding::kIntset:
      // An intset has no bytes a view could point into (ForEach's views are
      // a scratch buffer), so `member` survives any change here.
      return AddToIntset(member, limits);
    case Encoding::kListpack:
      if (PointsIntoListpack(member)) {
        // Growing, moving or converting the listpack would pull the bytes
        // out from under the view.
        const std::string copy(member);
        return AddToListpack(copy, limits);
      }
      return AddToListpack(member, limits);
    case Encoding::kHashtable:
      break;
  }
  return AddToTable(member);
}

void SetValue::PrepareToAdd(size_t count, const CollectionLimits& limits) {
  if ((encoding_ == Encoding::kListpack && count > limits.set_max_listpack_entries) ||
      (encoding_ == Encoding::kIntset && count > limits.set_max_intset_entries)) {
    ConvertToTable(std::max(count, size()));
  }
}

bool SetValue::Remove(std::string_view member) {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t v;
      return ParseInteger(member, &v) && IntsetErase(v);
    }
    case Encoding::kListpack: {
      const char* entry = ListpackFind(member);
      if (entry == nullptr) return false;
      const std::string_view stored = MemberAt(entry);
      const size_t len = stored.data() + stored.size() - entry;
      ResizeBlockRange(listpack_header()->bytes, entry - block_, len, 0);
      ListpackHeader* h = listpack_header();
      h->bytes -= static_cast<uint32_t>(len);
      --h->count;
      return true;
    }
    case Encoding::kHashtable:
      break;
  }
  table_->RehashStep(1);
  MemberEntry** link = table_->FindLink(member);
  if (link == nullptr) return false;
  MemberEntry* e = table_->Unlink(link);
  memory_bytes_ -= Usable(e);
  std::free(e);
  return true;
}

void SetValue::Serialize(std::string* out) const {
  char count[kMaxVarintBytes];
  out->append(count, WriteVarint(count, size()));
  switch (encoding_) {
    case Encoding::kIntset: {
      // Already ascending by value; the text of each, length first.
      ForEach([out](std::string_view member) {
        out->push_back(static_cast<char>(member.size()));  // at most 20: one varint byte
        out->append(member);
      });
      return;
    }
    case Encoding::kListpack:
      // The listpack holds each member in its serialized form.
      out->append(ListpackBegin(), ListpackEnd());
      return;
    case Encoding::kHashtable:
      break;
  }
  // By bytes: a table's bucket order depends on this process's hash seed,
  // and every node must give the same bytes for the same set (replicas
  // compare states).
  std::vector<const MemberEntry*> entries;
  entries.reserve(table_->size());
  table_->ForEach([&](const MemberEntry* e) { entries.push_back(e); });
  std::sort(entries.begin(), entries.end(), [](const MemberEntry* a, const MemberEntry* b) {
    return MemberAt(a->member()) < MemberAt(b->member());
  });
  for (const MemberEntry* e : entries) {
    const std::string_view member = MemberAt(e->member());
    out->append(e->member(), member.data() + member.size());
  }
}

SetValue* SetValue::Deserialize(std::string_view bytes, const CollectionLimits& limits) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  uint64_t count;
  if (!ReadVarint(&p, end, &count) || count == 0) return nullptr;
  // Members are unique, so at most one is empty (one byte); every other
  // takes at least two. A larger count cannot be true, and rejecting it here
  // keeps a hostile count from sizing a table: from here on every
  // allocation is bounded by the bytes.
  if (count > (static_cast<uint64_t>(end - p) + 1) / 2) return nullptr;
  const char* first_at = p;
  std::string_view first;
  if (!ReadString(&first_at, end, &first)) return nullptr;
  SetValue* s = Create(first, count, limits);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view member;
    if (!ReadString(&p, end, &member) ||
        !s->Add(member, limits)) {  // Add returns false on a duplicate
      Destroy(s);
      return nullptr;
    }
  }
  if (p != end) {
    Destroy(s);
    return nullptr;
  }
  return s;
}

// --- Intset ------------------------------------------------------------------

bool SetValue::IntsetFind(int64_t v, size_t* index) const {
  const IntsetHeader* h = intset_header();
  if (WidthOf(v) > h->width) {  // beyond every stored value
    *index = v < 0 ? 0 : h->count;
    return false;
  }
  size_t lo = 0, hi = h->count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int64_t at = IntsetGet(mid);
    if (at == v) {
      *index = mid;
      return true;
    }
    if (at < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *index = lo;
  return false;
}

void SetValue::IntsetInsert(int64_t v, size_t index) {
  const uint32_t width = intset_header()->width;
  const size_t n = intset_header()->count;
  const uint32_t needed = WidthOf(v);
  if (needed > width) {
    // Upgrade: `v` lies beyond every stored value, so it goes first (below
    // them) or last. Re-encode from the back, so that each value is read
    // before a wider one overwrites its bytes.
    const size_t new_bytes = sizeof(IntsetHeader) + (n + 1) * needed;
    if (new_bytes > Usable(block_)) ReallocateBlock(new_bytes);
    char* values = block_ + sizeof(IntsetHeader);
    const size_t shift = v < 0 ? 1 : 0;
    for (size_t i = n; i-- > 0;) {
      WriteInteger(values + (i + shift) * needed, needed, ReadInteger(values + i * width, width));
    }
    WriteInteger(values + (shift == 1 ? 0 : n) * needed, needed, v);
    *intset_header() = IntsetHeader{needed, static_cast<uint32_t>(n + 1)};
    return;
  }
  char* at = ResizeBlockRange(IntsetBytes(), sizeof(IntsetHeader) + index * width, 0, width);
  WriteInteger(at, width, v);
  ++intset_header()->count;
}

bool SetValue::IntsetErase(int64_t v) {
  size_t index;
  if (!IntsetFind(v, &index)) return false;
  const uint32_t width = intset_header()->width;
  ResizeBlockRange(IntsetBytes(), sizeof(IntsetHeader) + index * width, width, 0);
  --intset_header()->count;  // the width stays, as Redis's intset
  return true;
}

bool SetValue::AddToIntset(std::string_view member, const CollectionLimits& limits) {
  int64_t v;
  if (ParseInteger(member, &v)) {
    size_t index;
    if (IntsetFind(v, &index)) return false;
    if (size() + 1 > IntsetMaxEntries(limits)) {
      // Redis adds, then converts the intset that got too long; converting
      // first ends the same and skips growing the intset.
      ConvertToTable(size() + 1);
      return AddToTable(member);
    }
    IntsetInsert(v, index);
    return true;
  }
  // The listpack would hold every integer's text: each must fit the value
  // limit too, and all of them the byte cap (Redis bounds them by the
  // longest of the smallest and largest value, as here).
  const size_t n = size();
  size_t longest = 0;
  if (n > 0) longest = std::max(DecimalLength(IntsetGet(0)), DecimalLength(IntsetGet(n - 1)));
  if (n < limits.set_max_listpack_entries && member.size() <= limits.set_max_listpack_value &&
      longest <= limits.set_max_listpack_value &&
      sizeof(ListpackHeader) + n * (1 + longest) + EntryLength(member) <= kMaxListpackBytes) {
    ConvertIntsetToListpack(member);
    return true;
  }
  ConvertToTable(n + 1);
  return AddToTable(member);
}

void SetValue::ConvertIntsetToListpack(std::string_view extra) {
  // The integers in ascending order, then `extra`: Redis's order too.
  const size_t n = size();
  size_t bytes = sizeof(ListpackHeader) + EntryLength(extra);
  for (size_t i = 0; i < n; ++i) bytes += 1 + DecimalLength(IntsetGet(i));
  char* listpack = static_cast<char*>(Allocate(bytes));
  char* p = listpack + sizeof(ListpackHeader);
  ForEach([&p](std::string_view member) { p = WriteEntry(p, member); });
  WriteEntry(p, extra);
  *reinterpret_cast<ListpackHeader*>(listpack) =
      ListpackHeader{static_cast<uint32_t>(n + 1), static_cast<uint32_t>(bytes)};
  memory_bytes_ = memory_bytes_ - Usable(block_) + Usable(listpack);
  std::free(block_);
  block_ = listpack;
  encoding_ = Encoding::kListpack;
}

// --- Listpack ----------------------------------------------------------------

const char* SetValue::ListpackFind(std::string_view member) const {
  const char* end = ListpackEnd();
  for (const char* p = ListpackBegin(); p != end;) {
    const std::string_view stored = MemberAt(p);
    if (stored == member) return p;
    p = stored.data() + stored.size();
  }
  return nullptr;
}

bool SetValue::PointsIntoListpack(std::string_view s) const {
  // As integers: comparing pointers into different blocks is unspecified.
  const uintptr_t at = reinterpret_cast<uintptr_t>(s.data());
  const uintptr_t begin = reinterpret_cast<uintptr_t>(block_);
  return !s.empty() && at - begin < listpack_header()->bytes;
}

bool SetValue::AddToListpack(std::string_view member, const CollectionLimits& limits) {
  if (ListpackFind(member) != nullptr) return false;
  const size_t entry_len = EntryLength(member);
  const size_t used = listpack_header()->bytes;
  if (listpack_header()->count >= limits.set_max_listpack_entries ||
      member.size() > limits.set_max_listpack_value || used + entry_len > kMaxListpackBytes) {
    ConvertToTable(size() + 1);
    return AddToTable(member);
  }
  WriteEntry(ResizeBlockRange(used, used, 0, entry_len), member);
  ListpackHeader* h = listpack_header();
  h->bytes = static_cast<uint32_t>(used + entry_len);
  ++h->count;
  return true;
}

// --- Intset and listpack blocks ------------------------------------------------

void SetValue::ReallocateBlock(size_t bytes) {
  const size_t old_usable = Usable(block_);
  void* p = std::realloc(block_, bytes);
  if (p == nullptr) throw std::bad_alloc();
  block_ = static_cast<char*>(p);
  memory_bytes_ = memory_bytes_ - old_usable + Usable(p);
}

char* SetValue::ResizeBlockRange(size_t used, size_t offset, size_t old_len, size_t new_len) {
  if (old_len == new_len) return block_ + offset;
  const size_t tail = used - offset - old_len;
  const size_t new_used = used - old_len + new_len;
  // Grow before moving the tail right; shrink after moving it left. The
  // growth is exact, as Redis's intset and listpack: small sets stay small.
  const size_t usable = Usable(block_);
  if (new_used > usable) ReallocateBlock(new_used);
  std::memmove(block_ + offset + new_len, block_ + offset + old_len, tail);
  if (new_used <= usable && usable - new_used >= kShrinkSlack) ReallocateBlock(new_used);
  return block_ + offset;
}

// --- Hashtable ---------------------------------------------------------------

SetValue::MemberTable* SetValue::NewTable(size_t members) {
  void* p = Allocate(sizeof(MemberTable));
  MemberTable* table;
  try {
    table = new (p) MemberTable(TableHashSeed(), PresizeFor(members));
  } catch (...) {
    std::free(p);
    throw;
  }
  memory_bytes_ += Usable(table);
  return table;
}

void SetValue::ConvertToTable(size_t members) {
  MemberTable* table = NewTable(members);
  ForEach([&](std::string_view member) { table->Insert(NewEntry(member)); });
  memory_bytes_ -= Usable(block_);
  std::free(block_);
  table_ = table;
  encoding_ = Encoding::kHashtable;
}

bool SetValue::AddToTable(std::string_view member) {
  table_->RehashStep(1);  // moves entries between chains, never frees one
  if (table_->FindLink(member) != nullptr) return false;
  // NewEntry copies `member` before anything changes, so it may point into
  // another entry.
  table_->Insert(NewEntry(member));
  return true;
}

SetValue::MemberEntry* SetValue::NewEntry(std::string_view member) {
  auto* e = static_cast<MemberEntry*>(Allocate(sizeof(MemberEntry) + EntryLength(member)));
  e->next = nullptr;
  WriteEntry(e->member(), member);
  memory_bytes_ += Usable(e);
  return e;
}

}  // namespace causalkv::store
