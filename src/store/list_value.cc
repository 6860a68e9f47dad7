#include "causalkv/store/list_value.h"

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "value_codec.h"

namespace causalkv::store {
namespace {

using namespace codec;  // value_codec.h

// glibc's realloc frees the tail of a shrinking block only when that tail is
// at least its minimum chunk; a smaller slack stays, and realloc is not worth
// calling for it.
constexpr size_t kShrinkSlack = 32;
constexpr size_t kSizeMax = std::numeric_limits<size_t>::max();
// Data bytes one node block may hold: its offsets are 32-bit.
constexpr size_t kMaxNodeCapacity = 0xffffffffu;

// Redis 7.2's numbers (quicklist.c, listpack.c), which decide where nodes
// fill up and where the encoding flips.
constexpr size_t kNodeBytesLevels[] = {4096, 8192, 16384, 32768, 65536};  // fill -1..-5
constexpr size_t kSizeSafetyLimit = 8192;      // bytes of a node in count mode
constexpr size_t kSizeEstimateOverhead = 8;    // added to a push's length
constexpr size_t kEmptyListpackBytes = 7;      // header and end byte
constexpr size_t kPackedThreshold = size_t{1} << 30;  // a larger element is a plain node



// Bytes an element of `len` bytes takes in a node.
size_t EntryBytes(size_t len) { return len + 2 * VarintLength(len); }

// Writes the element (the layout at the top of list_value.h).
void WriteEntry(char* p, std::string_view v) {
  char length[kMaxVarintBytes];
  char* const length_end = WriteVarint(length, v.size());
  const size_t n = length_end - length;
  std::memcpy(p, length, n);
  if (!v.empty()) std::memcpy(p + n, v.data(), v.size());  // an empty view may be null
  p += n + v.size();
  for (size_t i = n; i > 0; --i) *p++ = length[i - 1];
}

// True when `s` is exactly the decimal form of an int64 (no sign but '-', no
// leading zero, no spaces, "-0" excluded): a string Redis's listpack stores
// as an integer.
bool ParseStrictInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && s.size() == 1) return false;
  if (negative) i = 1;
  if (s[i] == '0') {
    if (s.size() != 1) return false;
    *out = 0;
    return true;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > kMaxPositive + 1) return false;
    *out = v == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                 : -static_cast<int64_t>(v);
  } else {
    if (v > kMaxPositive) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// The bytes `v` takes in Redis's listpack: its encoding (integer or string)
// and the backlen that follows it.
size_t RedisEntryBytes(std::string_view v) {
  size_t encoded;
  int64_t i;
  if (ParseStrictInt64(v, &i)) {
    if (i >= 0 && i <= 127) {
      encoded = 1;
    } else if (i >= -4096 && i <= 4095) {
      encoded = 2;
    } else if (i >= -32768 && i <= 32767) {
      encoded = 3;
    } else if (i >= -8388608 && i <= 8388607) {
      encoded = 4;
    } else if (i >= std::numeric_limits<int32_t>::min() &&
               i <= std::numeric_limits<int32_t>::max()) {
      encoded = 5;
    } else {
      encoded = 9;
    }
  } else if (v.size() < 64) {
    encoded = 1 + v.size();
  } else if (v.size() < 4096) {
    encoded = 2 + v.size();
  } else {
    encoded = 5 + v.size();
  }
  size_t backlen;
  if (encoded <= 127) {
    backlen = 1;
  } else if (encoded < 16383) {
    backlen = 2;
  } else if (encoded < 2097151) {
    backlen = 3;
  } else if (encoded < 268435455) {
    backlen = 4;
  } else {
    backlen = 5;
  }
  return encoded + backlen;
}

size_t SaturatingAdd(size_t a, size_t b) { return a > kSizeMax - b ? kSizeMax : a + b; }

// Redis's quicklistNodeExceedsLimit.
bool Exceeds(size_t bytes_limit, size_t count_limit, size_t bytes, size_t count) {
  if (bytes_limit != kSizeMax) return bytes > bytes_limit;
  return bytes > kSizeSafetyLimit || count > count_limit;
}


}  // namespace

// --- Lifecycle ---------------------------------------------------------------

ListValue* ListValue::Create() {
  ListValue* l = new (Allocate(sizeof(ListValue))) ListValue();
  l->memory_bytes_ = Usable(l);
  return l;
}

void ListValue::Destroy(ListValue* l) {
  if (l == nullptr) return;
  for (Node* n = l->head_; n != nullptr;) {
    Node* next = n->next;
    std::free(n);
    n = next;
  }
  l->~ListValue();
  std::free(l);
}

ListValue* ListValue::Clone(const ListValue& from) {
  ListValue* l = Create();
  l->encoding_ = from.encoding_;
  l->fill_ = from.fill_;
  for (const Node* n = from.head_; n != nullptr; n = n->next) {
    Node* copy = l->NewNode(n->used());
    copy->count = n->count;
    copy->redis_bytes = n->redis_bytes;
    copy->end = static_cast<uint32_t>(n->used());
    std::memcpy(copy->data(), n->first(), n->used());
    l->LinkAfter(l->tail_, copy);
  }
  l->size_ = from.size_;
  return l;
}

// --- Reads -------------------------------------------------------------------

ListValue::Node* ListValue::FindNode(size_t index, size_t* offset) const {
  if (index < size_ / 2) {
    Node* n = head_;
    while (index >= n->count) {
      index -= n->count;
      n = n->next;
    }
    *offset = index;
    return n;
  }
  size_t from_end = size_ - 1 - index;
  Node* n = tail_;
  while (from_end >= n->count) {
    from_end -= n->count;
    n = n->prev;
  }
  *offset = n->count - 1 - from_end;
  return n;
}

size_t ListValue::EntryOffset(const Node* n, size_t k) {
  std::string_view v;
  if (k <= n->count / 2) {
    const char* p = n->first();
    for (size_t i = 0; i < k; ++i) p = DecodeEntry(p, &v);
    return p - n->first();
  }
  const char* q = n->last();
  for (size_t i = n->count; i > k; --i) q = DecodeEntryBackward(q, &v);
  return q - n->first();
}

std::string_view ListValue::At(size_t index) const {
  size_t offset;
  const Node* n = FindNode(index, &offset);
  std::string_view v;
  DecodeEntry(n->first() + EntryOffset(n, offset), &v);
  return v;
}

void ListValue::Serialize(std::string* out) const {
  char count[kMaxVarintBytes];
  out->append(count, WriteVarint(count, size_));
  // A node element is its serialized form followed by the mirrored length.
  for (const Node* n = head_; n != nullptr; n = n->next) {
    std::string_view v;
    for (const char* p = n->first(); p != n->last();) {
      const char* start = p;
      p = DecodeEntry(p, &v);
      out->append(start, v.data() + v.size());
    }
  }
}

ListValue* ListValue::Deserialize(std::string_view bytes, const CollectionLimits& limits) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  uint64_t count;
  if (!ReadVarint(&p, end, &count) || count == 0) return nullptr;
  // Every element takes at least one byte (its length), so a larger count
  // cannot be true; rejecting it here keeps a hostile count from costing
  // anything. From here on every allocation is bounded by the bytes read.
  if (count > static_cast<uint64_t>(end - p)) return nullptr;
  ListValue* l = Create();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len;
    if (!ReadVarint(&p, end, &len) || len > static_cast<uint64_t>(end - p) ||
        len > kMaxElementBytes) {
      Destroy(l);
      return nullptr;
    }
    l->PushBack(std::string_view(p, len), limits);
    p += len;
  }
  if (p != end) {
    Destroy(l);
    return nullptr;
  }
  return l;
}

// --- Limits and conversions --------------------------------------------------

ListValue::NodeLimit ListValue::LimitOf(int32_t list_max_listpack_size) {
  const int64_t fill = list_max_listpack_size;
  if (fill >= 0) return {kSizeMax, fill == 0 ? size_t{1} : static_cast<size_t>(fill)};
  const size_t level =
      std::min<size_t>(static_cast<size_t>(-fill) - 1, std::size(kNodeBytesLevels) - 1);
  return {kNodeBytesLevels[level], kSizeMax};
}

bool ListValue::AllowInsert(const Node* n, size_t len, const NodeLimit& limit) {
  if (n == nullptr) return false;
  // Redis estimates the growth as the raw length plus 8, which is never
  // less than what an element that can share a node takes.
  const size_t bytes = SaturatingAdd(n->redis_bytes, SaturatingAdd(len, kSizeEstimateOverhead));
  return !Exceeds(limit.bytes, limit.count, bytes, size_t{n->count} + 1);
}

bool ListValue::AllowMerge(const Node* a, const Node* b, const NodeLimit& limit) {
  if (a == nullptr || b == nullptr) return false;
  // One header and end byte fewer than the two nodes.
  const size_t bytes = size_t{a->redis_bytes} + b->redis_bytes - kEmptyListpackBytes;
  return !Exceeds(limit.bytes, limit.count, bytes, size_t{a->count} + b->count);
}

size_t ListValue::ListpackRedisBytes() const {
  return head_ == nullptr ? kEmptyListpackBytes : head_->redis_bytes;
}

void ListValue::MaybeConvertBeforeGrowth(size_t added_bytes, size_t added_count,
                                         const CollectionLimits& limits) {
  if (encoding_ != Encoding::kListpack) return;
  const NodeLimit limit = LimitOf(limits.list_max_listpack_size);
  if (Exceeds(limit.bytes, limit.count, SaturatingAdd(ListpackRedisBytes(), added_bytes),
              SaturatingAdd(size_, added_count))) {
    // The listpack's node, if any, becomes the quicklist's first.
    encoding_ = Encoding::kQuicklist;
    fill_ = limits.list_max_listpack_size;
  }
}

void ListValue::MaybeConvertAfterShrink(const CollectionLimits& limits) {
  if (encoding_ != Encoding::kQuicklist || nodes_ != 1) return;
  const NodeLimit limit = LimitOf(limits.list_max_listpack_size);
  // Half the limit, as Redis when shrinking: a list at the boundary does not
  // flip back and forth. In count mode the bytes are not checked (Redis
  // halves SIZE_MAX).
  if (head_->redis_bytes > limit.bytes / 2 || size_ > limit.count / 2) return;
  if (head_->count == 1) {
    std::string_view v;
    DecodeEntry(head_->first(), &v);
    if (v.size() >= kPackedThreshold) return;  // Redis's plain node: never a listpack
  }
  encoding_ = Encoding::kListpack;
}

// --- Writes ------------------------------------------------------------------

void ListValue::PushFront(std::string_view v, const CollectionLimits& limits) {
  MaybeConvertBeforeGrowth(v.size(), 1, limits);
  PushUnchecked(v, true, LimitOf(fill_));
}

void ListValue::PushBack(std::string_view v, const CollectionLimits& limits) {
  MaybeConvertBeforeGrowth(v.size(), 1, limits);
  PushUnchecked(v, false, LimitOf(fill_));
}

void ListValue::PushFrontAll(std::span<const std::string_view> values,
                             const CollectionLimits& limits) {
  size_t bytes = 0;
  for (std::string_view v : values) bytes = SaturatingAdd(bytes, v.size());
  MaybeConvertBeforeGrowth(bytes, values.size(), limits);
  const NodeLimit limit = LimitOf(fill_);
  for (std::string_view v : values) PushUnchecked(v, true, limit);
}

void ListValue::PushBackAll(std::span<const std::string_view> values,
                            const CollectionLimits& limits) {
  size_t bytes = 0;
  for (std::string_view v : values) bytes = SaturatingAdd(bytes, v.size());
  MaybeConvertBeforeGrowth(bytes, values.size(), limits);
  const NodeLimit limit = LimitOf(fill_);
  for (std::string_view v : values) PushUnchecked(v, false, limit);
}

void ListValue::PushUnchecked(std::string_view v, bool front, const NodeLimit& limit) {
  Node* n = front ? head_ : tail_;
  if (encoding_ == Encoding::kQuicklist && n != nullptr && !AllowInsert(n, v.size(), limit)) {
    // This end node is done growing: give back its spare room.
    ShrinkToFit(n);
    n = nullptr;
  }
  if (n == nullptr) {
    n = NewNode(EntryBytes(v.size()));
    if (front) {
      LinkBefore(head_, n);
    } else {
      LinkAfter(tail_, n);
    }
  }
  NodeInsert(n, front ? 0 : n->used(), v);
  ++size_;
}

std::string ListValue::PopFront(const CollectionLimits& limits) { return Pop(true, limits); }
std::string ListValue::PopBack(const CollectionLimits& limits) { return Pop(false, limits); }

std::string ListValue::Pop(bool front, const CollectionLimits& limits) {
  Node* n = front ? head_ : tail_;
  std::string_view v;
  const char* start;
  const char* end;
  if (front) {
    start = n->first();
    end = DecodeEntry(start, &v);
  } else {
    end = n->last();
    start = DecodeEntryBackward(end, &v);
  }
  std::string out(v);
  const size_t redis_bytes = RedisEntryBytes(v);
  if (n->count == 1) {
    Unlink(n);
    FreeNode(n);
  } else {
    CloseGap(n, start - n->first(), end - start);
    --n->count;
    n->redis_bytes -= static_cast<uint32_t>(redis_bytes);
  }
  --size_;
  MaybeConvertAfterShrink(limits);
  return out;
}

void ListValue::Set(size_t index, std::string_view v, const CollectionLimits& limits) {
  MaybeConvertBeforeGrowth(v.size(), 1, limits);
  const NodeLimit limit = LimitOf(fill_);
  size_t offset;
  Node* n = FindNode(index, &offset);
  const size_t at = EntryOffset(n, offset);
  std::string_view old;
  const size_t old_bytes = DecodeEntry(n->first() + at, &old) - (n->first() + at);
  const size_t old_redis = RedisEntryBytes(old);
  const size_t new_redis = RedisEntryBytes(v);
  const size_t node_redis = size_t{n->redis_bytes} - old_redis + new_redis;
  if (encoding_ == Encoding::kQuicklist && n->count > 1 && new_redis > old_redis &&
      Exceeds(limit.bytes, limit.count, node_redis, n->count)) {
    // The element gets a node of its own, which is then merged as an
    // inserted one would be.
    if (offset > 0) n = Split(n, offset);
    if (n->count > 1) Split(n, 1);
    ReplaceEntry(n, 0, old_bytes, v, kEmptyListpackBytes + new_redis);
    MergeAround(n, limit);
  } else {
    ReplaceEntry(n, at, old_bytes, v, node_redis);
  }
  MaybeConvertAfterShrink(limits);
}

void ListValue::ReplaceEntry(Node*& n, size_t at, size_t old_bytes, std::string_view v,
                             size_t node_redis_bytes) {
  const size_t new_bytes = EntryBytes(v.size());
  if (new_bytes > old_bytes) {
    OpenGap(n, at + old_bytes, new_bytes - old_bytes);
  } else if (new_bytes < old_bytes) {
    CloseGap(n, at + new_bytes, old_bytes - new_bytes);
  }
  WriteEntry(n->data() + n->begin + at, v);
  n->redis_bytes = static_cast<uint32_t>(node_redis_bytes);
}

void ListValue::Insert(size_t index, std::string_view v, const CollectionLimits& limits) {
  if (index == size_ && size_ > 0) {
    InsertNear(index - 1, true, v, limits);
  } else {
    InsertNear(index, false, v, limits);
  }
}

void ListValue::InsertAfter(size_t index, std::string_view v, const CollectionLimits& limits) {
  InsertNear(index, true, v, limits);
}

void ListValue::InsertNear(size_t index, bool after, std::string_view v,
                           const CollectionLimits& limits) {
  MaybeConvertBeforeGrowth(v.size(), 1, limits);
  const NodeLimit limit = LimitOf(fill_);
  if (size_ == 0) {
    PushUnchecked(v, false, limit);
    return;
  }
  size_t offset;
  Node* n = FindNode(index, &offset);
  const size_t position = after ? offset + 1 : offset;
  if (encoding_ == Encoding::kListpack || AllowInsert(n, v.size(), limit)) {
    NodeInsert(n, EntryOffset(n, position), v);
    ++size_;
    return;
  }
  // The node is full: the cases of Redis's _quicklistInsert.
  const bool at_tail = after && offset == n->count - 1;
  const bool at_head = !after && offset == 0;
  if (at_tail && AllowInsert(n->next, v.size(), limit)) {
    Node* next = n->next;
    NodeInsert(next, 0, v);
  } else if (at_head && AllowInsert(n->prev, v.size(), limit)) {
    Node* prev = n->prev;
    NodeInsert(prev, prev->used(), v);
  } else if (at_tail || at_head) {
    ShrinkToFit(n);
    Node* fresh = NewNode(EntryBytes(v.size()));
    if (after) {
      LinkAfter(n, fresh);
    } else {
      LinkBefore(n, fresh);
    }
    NodeInsert(fresh, 0, v);
  } else {
    // Split at the position; the element goes to the part on its side.
    Node* right = Split(n, after ? offset + 1 : offset);
    Node* side = after ? right : n;
    if (AllowInsert(side, v.size(), limit)) {
      NodeInsert(side, after ? 0 : side->used(), v);
      MergeAround(after ? n : right, limit);
    } else {
      // Redis 7.2 adds it regardless, past the node's limit; here it gets a
      // node of its own between the two parts, merged where it fits.
      Node* fresh = NewNode(EntryBytes(v.size()));
      LinkAfter(n, fresh);
      NodeInsert(fresh, 0, v);
      MergeAround(fresh, limit);
    }
  }
  ++size_;
}

void ListValue::Erase(size_t index, size_t count, const CollectionLimits& limits) {
  if (count > 0) {
    size_t offset;
    Node* n = FindNode(index, &offset);
    size_ -= count;
    while (count > 0) {
      Node* next = n->next;
      if (offset == 0 && count >= n->count) {
        count -= n->count;
        Unlink(n);
        FreeNode(n);
      } else {
        const size_t k = std::min<size_t>(count, n->count - offset);
        NodeErase(n, offset, k);
        count -= k;
      }
      n = next;
      offset = 0;
    }
  }
  MaybeConvertAfterShrink(limits);
}

// --- Nodes -------------------------------------------------------------------

size_t ListValue::Capacity(const Node* n) { return Usable(n) - sizeof(Node); }

ListValue::Node* ListValue::NewNode(size_t capacity) {
  capacity = std::min(capacity, kMaxNodeCapacity);
  Node* n = static_cast<Node*>(Allocate(sizeof(Node) + capacity));
  *n = Node{nullptr, nullptr, 0, static_cast<uint32_t>(kEmptyListpackBytes), 0, 0};
  memory_bytes_ += Usable(n);
  return n;
}

void ListValue::FreeNode(Node* n) {
  memory_bytes_ -= Usable(n);
  std::free(n);
}

void ListValue::LinkBetween(Node* prev, Node* next, Node* n) {
  n->prev = prev;
  n->next = next;
  Relink(n);
  ++nodes_;
}

void ListValue::Unlink(Node* n) {
  if (n->prev != nullptr) {
    n->prev->next = n->next;
  } else {
    head_ = n->next;
  }
  if (n->next != nullptr) {
    n->next->prev = n->prev;
  } else {
    tail_ = n->prev;
  }
  --nodes_;
}

void ListValue::Relink(Node* n) {
  if (n->prev != nullptr) {
    n->prev->next = n;
  } else {
    head_ = n;
  }
  if (n->next != nullptr) {
    n->next->prev = n;
  } else {
    tail_ = n;
  }
}

ListValue::Node* ListValue::Relayout(Node* n, size_t at, size_t gap, size_t capacity,
                                     size_t new_begin) {
  const size_t used = n->used();
  const size_t tail = used - at;
  if (capacity == Capacity(n)) {
    // In place. Move first the part that moves away from the other.
    char* d = n->data();
    if (new_begin <= n->begin) {
      std::memmove(d + new_begin, d + n->begin, at);
      std::memmove(d + new_begin + at + gap, d + n->begin + at, tail);
    } else {
      std::memmove(d + new_begin + at + gap, d + n->begin + at, tail);
      std::memmove(d + new_begin, d + n->begin, at);
    }
  } else if (new_begin == n->begin && tail == 0) {
    // Growing at the end: realloc may extend the block without copying.
    const size_t old_usable = Usable(n);
    void* p = std::realloc(n, sizeof(Node) + capacity);
    if (p == nullptr) throw std::bad_alloc();
    n = static_cast<Node*>(p);
    memory_bytes_ = memory_bytes_ - old_usable + Usable(n);
    Relink(n);
  } else {
    Node* m = static_cast<Node*>(Allocate(sizeof(Node) + capacity));
    *m = *n;
    std::memcpy(m->data() + new_begin, n->first(), at);
    std::memcpy(m->data() + new_begin + at + gap, n->first() + at, tail);
    memory_bytes_ = memory_bytes_ - Usable(n) + Usable(m);
    std::free(n);
    n = m;
    Relink(n);
  }
  n->begin = static_cast<uint32_t>(new_begin);
  n->end = static_cast<uint32_t>(new_begin + used + gap);
  return n;
}

char* ListValue::OpenGap(Node*& n, size_t at, size_t len) {
  const size_t used = n->used();
  const size_t capacity = Capacity(n);
  const size_t front_room = n->begin;
  const size_t back_room = capacity - n->end;
  char* d = n->data();
  if (at == 0 && front_room >= len) {
    n->begin -= static_cast<uint32_t>(len);
    return d + n->begin;
  }
  if (at == used && back_room >= len) {
    n->end += static_cast<uint32_t>(len);
    return d + n->end - len;
  }
  if (at != 0 && at != used) {
    // In the middle: move the smaller side into the room next to it.
    const bool left = front_room >= len && (back_room < len || at <= used - at);
    if (left) {
      std::memmove(d + n->begin - len, d + n->begin, at);
      n->begin -= static_cast<uint32_t>(len);
      return d + n->begin + at;
    }
    if (back_room >= len) {
      std::memmove(d + n->begin + at + len, d + n->begin + at, used - at);
      n->end += static_cast<uint32_t>(len);
      return d + n->begin + at;
    }
  }
  const size_t need = used + len;
  if (capacity >= need && capacity - need >= need / 4) {
    // Room enough, on the wrong side: share it out between both ends, so
    // that pushes alternating between the ends do not move it every time.
    n = Relayout(n, at, len, capacity, (capacity - need) / 2);
  } else {
    // Grow by half, the room on the side being written.
    const size_t new_capacity =
        std::min(need + std::max<size_t>(need / 2, 32), std::max(need, kMaxNodeCapacity));
    const size_t room = new_capacity - need;
    const size_t new_begin = at == 0 ? room : at == used ? 0 : room / 2;
    n = Relayout(n, at, len, new_capacity, new_begin);
  }
  return n->data() + n->begin + at;
}

void ListValue::CloseGap(Node*& n, size_t at, size_t len) {
  const size_t used = n->used();
  char* d = n->data();
  if (at <= used - at - len) {
    std::memmove(d + n->begin + len, d + n->begin, at);
    n->begin += static_cast<uint32_t>(len);
  } else {
    std::memmove(d + n->begin + at, d + n->begin + at + len, used - at - len);
    n->end -= static_cast<uint32_t>(len);
  }
  // Half empty: give memory back. Growth leaves a third free at most, so a
  // push after this does not grow the node right back.
  const size_t left = n->used();
  const size_t capacity = Capacity(n);
  if (left > 0 && left < capacity / 2 && capacity - left >= kShrinkSlack) ShrinkToFit(n);
}

void ListValue::ShrinkToFit(Node*& n) {
  const size_t used = n->used();
  if (Capacity(n) - used < kShrinkSlack) return;
  std::memmove(n->data(), n->first(), used);
  n->begin = 0;
  n->end = static_cast<uint32_t>(used);
  const size_t old_usable = Usable(n);
  void* p = std::realloc(n, sizeof(Node) + used);
  if (p == nullptr) return;  // the block stays as it was
  n = static_cast<Node*>(p);
  memory_bytes_ = memory_bytes_ - old_usable + Usable(n);
  Relink(n);
}

void ListValue::NodeInsert(Node*& n, size_t at, std::string_view v) {
  const size_t redis_bytes = RedisEntryBytes(v);
  WriteEntry(OpenGap(n, at, EntryBytes(v.size())), v);
  ++n->count;
  n->redis_bytes += static_cast<uint32_t>(redis_bytes);
}

void ListValue::NodeErase(Node*& n, size_t first, size_t count) {
  const size_t at = EntryOffset(n, first);
  const char* const start = n->first() + at;
  const char* p = start;
  size_t redis_bytes = 0;
  std::string_view v;
  for (size_t i = 0; i < count; ++i) {
    p = DecodeEntry(p, &v);
    redis_bytes += RedisEntryBytes(v);
  }
  CloseGap(n, at, p - start);
  n->count -= static_cast<uint32_t>(count);
  n->redis_bytes -= static_cast<uint32_t>(redis_bytes);
}

ListValue::Node* ListValue::Split(Node*& n, size_t k) {
  const size_t at = EntryOffset(n, k);
  const size_t bytes = n->used() - at;
  size_t redis_bytes = 0;
  std::string_view v;
  for (const char* p = n->first() + at; p != n->last();) {
    p = DecodeEntry(p, &v);
    redis_bytes += RedisEntryBytes(v);
  }
  Node* right = NewNode(bytes);
  std::memcpy(right->data(), n->first() + at, bytes);
  right->end = static_cast<uint32_t>(bytes);
  right->count = n->count - static_cast<uint32_t>(k);
  right->redis_bytes = static_cast<uint32_t>(kEmptyListpackBytes + redis_bytes);
  LinkAfter(n, right);
  CloseGap(n, at, bytes);  // may move n; Relink keeps right->prev right
  n->count = static_cast<uint32_t>(k);
  n->redis_bytes -= static_cast<uint32_t>(redis_bytes);
  return right;
}

ListValue::Node* ListValue::Merge(Node* a, Node* b) {
  // Copy the smaller into the larger (which OpenGap may move).
  Node* keep;
  Node* gone;
  if (b->used() > a->used()) {
    keep = b;
    gone = a;
    std::memcpy(OpenGap(keep, 0, a->used()), a->first(), a->used());
  } else {
    keep = a;
    gone = b;
    std::memcpy(OpenGap(keep, keep->used(), b->used()), b->first(), b->used());
  }
  keep->count += gone->count;
  keep->redis_bytes += gone->redis_bytes - static_cast<uint32_t>(kEmptyListpackBytes);
  Unlink(gone);
  FreeNode(gone);
  ShrinkToFit(keep);
  return keep;
}

void ListValue::MergeAround(Node* center, const NodeLimit& limit) {
  // Redis's order: the two nodes before, the two after, then the center
  // with the one before and the result with the one after.
  Node* prev = center->prev;
  Node* prev_prev = prev != nullptr ? prev->prev : nullptr;
  Node* next = center->next;
  Node* next_next = next != nullptr ? next->next : nullptr;
  if (AllowMerge(prev_prev, prev, limit)) Merge(prev_prev, prev);
  if (AllowMerge(next, next_next, limit)) Merge(next, next_next);
  Node* target = center;
  if (AllowMerge(center->prev, center, limit)) target = Merge(center->prev, center);
  if (AllowMerge(target, target->next, limit)) Merge(target, target->next);
}

// --- Tests -------------------------------------------------------------------

std::string ListValue::TEST_CheckInvariants() const {
  if ((head_ == nullptr) != (tail_ == nullptr)) return "head and tail disagree";
  if (encoding_ == Encoding::kListpack && nodes_ > 1) return "a listpack of several nodes";
  size_t nodes = 0, elements = 0;
  const Node* prev = nullptr;
  for (const Node* n = head_; n != nullptr; prev = n, n = n->next) {
    const std::string where = "node " + std::to_string(nodes) + ": ";
    ++nodes;
    if (n->prev != prev) return where + "bad prev link";
    if (n->count == 0) return where + "empty";
    if (n->begin > n->end || n->end > Capacity(n)) return where + "bytes outside the block";
    size_t count = 0, redis_bytes = kEmptyListpackBytes;
    std::string_view v;
    for (const char* p = n->first(); p < n->last(); ++count) {
      const char* start = p;
      p = DecodeEntry(p, &v);
      if (p > n->last()) return where + "an element runs past the end";
      const char* back = DecodeEntryBackward(p, &v);
      if (back != start) return where + "mirrored length disagrees";
      redis_bytes += RedisEntryBytes(v);
    }
    if (count != n->count) return where + "count disagrees";
    if (redis_bytes != n->redis_bytes) return where + "redis_bytes disagrees";
    elements += count;
  }
  if (prev != tail_) return "tail is not the last node";
  if (nodes != nodes_) return "node count disagrees";
  if (elements != size_) return "size disagrees";
  return "";
}

}  // namespace causalkv::store
