#include "causalkv/store/zset_value.h"

#include <malloc.h>

#include <algorithm>
#include <bit>
#include <cmath>
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
constexpr size_t kScoreBytes = 8;
// A node below this many entries (children) is merged or refilled when it
// has a sibling. A quarter rather than a half, so that a member added and
// removed at a boundary does not split and merge each time.
constexpr size_t kLeafMin = ZsetValue::kLeafCapacity / 4;
constexpr size_t kInnerMin = ZsetValue::kInnerCapacity / 4;




char* StoreScore(char* p, double score) {
  uint64_t bits = std::bit_cast<uint64_t>(score);
  if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap64(bits);
  std::memcpy(p, &bits, sizeof bits);
  return p + kScoreBytes;
}

size_t EntryLength(std::string_view member) {
  return VarintLength(member.size()) + member.size() + kScoreBytes;
}

// Writes a listpack (and serialized) entry; returns its end.
char* WriteEntry(char* p, std::string_view member, double score) {
  p = WriteVarint(p, member.size());
  if (!member.empty()) std::memcpy(p, member.data(), member.size());
  return StoreScore(p + member.size(), score);
}


// (a_score, a_member) < (b_score, b_member) in the set's order.
bool KeyLess(double a_score, std::string_view a_member, double b_score,
             std::string_view b_member) {
  return a_score < b_score || (a_score == b_score && a_member < b_member);
}

// Predicates for PartitionPoint: each holds for a prefix of the order.
// `member` is a function returning the member, called only when needed (a
// tree descent by score then reads no entry).
struct KeyBefore {  // entries ordered before (score, member)
  double score;
  std::string_view member;
  template <typename MemberFn>
  bool operator()(double s, const MemberFn& m) const {
    return s < score || (s == score && m() < member);
  }
};
struct BelowScoreMin {
  const ScoreRange& r;
  template <typename MemberFn>
  bool operator()(double s, const MemberFn&) const {
    return r.min_exclusive ? s <= r.min : s < r.min;
  }
};
struct NotAboveScoreMax {
  const ScoreRange& r;
  template <typename MemberFn>
  bool operator()(double s, const MemberFn&) const {
    return r.max_exclusive ? s < r.max : s <= r.max;
  }
};
struct BelowLexMin {
  const LexBound& b;
  template <typename MemberFn>
  bool operator()(double, const MemberFn& m) const {
    switch (b.kind) {
      case LexBound::kMinusInf:
        return false;
      case LexBound::kPlusInf:
        return true;
      case LexBound::kInclusive:
        return m() < b.value;
      case LexBound::kExclusive:
        return m() <= b.value;
    }
    return false;
  }
};
struct NotAboveLexMax {
  const LexBound& b;
  template <typename MemberFn>
  bool operator()(double, const MemberFn& m) const {
    switch (b.kind) {
      case LexBound::kMinusInf:
        return false;
      case LexBound::kPlusInf:
        return true;
      case LexBound::kInclusive:
        return m() <= b.value;
      case LexBound::kExclusive:
        return m() < b.value;
    }
    return false;
  }
};

}  // namespace

// --- Lifecycle ---------------------------------------------------------------

ZsetValue* ZsetValue::Create() {
  ZsetValue* z = new (Allocate(sizeof(ZsetValue))) ZsetValue();
  z->listpack_ = static_cast<char*>(Allocate(sizeof(ListpackHeader)));
  *z->header() = ListpackHeader{0, sizeof(ListpackHeader)};
  z->memory_bytes_ = Usable(z) + Usable(z->listpack_);
  return z;
}

void ZsetValue::Destroy(ZsetValue* z) {
  if (z == nullptr) return;
  if (z->encoding_ == Encoding::kListpack) {
    std::free(z->listpack_);
  } else {
    z->FreeTree(z->large_->root);
    z->large_->~Large();  // the table frees the entries
    std::free(z->large_);
  }
  z->~ZsetValue();
  std::free(z);
}

ZsetValue* ZsetValue::Clone(const ZsetValue& from) {
  ZsetValue* z = new (Allocate(sizeof(ZsetValue))) ZsetValue();
  z->memory_bytes_ = Usable(z);
  if (from.encoding_ == Encoding::kListpack) {
    const size_t bytes = from.header()->bytes;
    z->listpack_ = static_cast<char*>(Allocate(bytes));
    std::memcpy(z->listpack_, from.listpack_, bytes);
    z->memory_bytes_ += Usable(z->listpack_);
    return z;
  }
  // A valid (empty) skiplist at every step, so that Destroy can clean up
  // if an allocation throws.
  try {
    z->large_ = z->NewLarge();
    z->encoding_ = Encoding::kSkiplist;
    z->large_->root = z->NewLeaf();
    z->large_->table.CopyFrom(from.large_->table, [z](const ZsetEntry* e) {
      const std::string_view member = e->member();
      const size_t bytes = member.data() + member.size() - reinterpret_cast<const char*>(e);
      auto* copy = static_cast<ZsetEntry*>(Allocate(bytes));
      std::memcpy(copy, e, bytes);
      z->memory_bytes_ += Usable(copy);
      return copy;
    });
    // The tree in the source's order, found through the copied table.
    size_t rank = 0;
    auto append = [&](std::string_view member, double) {
      z->TreeInsert(rank++, const_cast<ZsetEntry*>(z->large_->table.Find(member)));
    };
    from.VisitRanks(0, from.size(), false, append);
  } catch (...) {
    // Entries not yet in the tree are in the table, which frees them all.
    Destroy(z);
    throw;
  }
  return z;
}

// --- Point operations --------------------------------------------------------

bool ZsetValue::Score(std::string_view member, double* score) const {
  if (encoding_ == Encoding::kListpack) {
    size_t rank;
    const char* entry = ListpackFind(member, &rank);
    if (entry == nullptr) return false;
    std::string_view stored;
    DecodeEntry(entry, &stored, score);
    return true;
  }
  const ZsetEntry* e = large_->table.Find(member);
  if (e == nullptr) return false;
  *score = e->score;
  return true;
}

bool ZsetValue::Set(std::string_view member, double score, const CollectionLimits& limits) {
  if (encoding_ == Encoding::kSkiplist) return SetInLarge(member, score);
  if (PointsIntoListpack(member)) {
    // Moving, resizing or converting the listpack would pull the bytes out
    // from under the view.
    const std::string copy(member);
    return SetInListpack(copy, score, limits);
  }
  return SetInListpack(member, score, limits);
}

bool ZsetValue::Remove(std::string_view member) {
  if (encoding_ == Encoding::kListpack) {
    size_t rank;
    const char* entry = ListpackFind(member, &rank);
    if (entry == nullptr) return false;
    ResizeListpackRange(entry - listpack_, EntryLength(member), 0);
    --header()->count;
    return true;
  }
  Large& large = *large_;
  large.table.RehashStep(1);
  ZsetEntry** link = large.table.FindLink(member);
  if (link == nullptr) return false;
  ZsetEntry* e = *link;
  ZsetEntry* removed[kLeafCapacity];
  TreeErase(PartitionPoint(KeyBefore{e->score, e->member()}), 1, removed);
  FreeEntry(large.table.Unlink(link));
  return true;
}

bool ZsetValue::Rank(std::string_view member, bool reverse, size_t* rank) const {
  size_t r;
  if (encoding_ == Encoding::kListpack) {
    if (ListpackFind(member, &r) == nullptr) return false;
  } else {
    const ZsetEntry* e = large_->table.Find(member);
    if (e == nullptr) return false;
    r = PartitionPoint(KeyBefore{e->score, e->member()});
  }
  *rank = reverse ? size() - 1 - r : r;
  return true;
}

// --- Ranges ------------------------------------------------------------------

template <typename Before>
size_t ZsetValue::PartitionPoint(const Before& before) const {
  if (encoding_ == Encoding::kListpack) {
    size_t rank = 0;
    std::string_view member;
    double score;
    const char* end = ListpackEnd();
    for (const char* p = ListpackBegin(); p != end; ++rank) {
      p = DecodeEntry(p, &member, &score);
      if (!before(score, [&] { return member; })) break;
    }
    return rank;
  }
  size_t rank = 0;
  const Node* node = large_->root;
  while (!node->leaf) {
    const Inner* in = static_cast<const Inner*>(node);
    // The last child whose smallest entry is before (or the first): the
    // partition point is in it or at its end.
    size_t lo = 1, hi = in->n;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      const ZsetEntry* min = in->mins[mid];
      if (before(in->min_scores[mid], [min] { return min->member(); })) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const size_t child = lo - 1;
    for (size_t i = 0; i < child; ++i) rank += in->counts[i];
    node = in->children[child];
  }
  const Leaf* leaf = static_cast<const Leaf*>(node);
  size_t lo = 0, hi = leaf->n;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const ZsetEntry* e = leaf->entries[mid];
    if (before(e->score, [e] { return e->member(); })) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return rank + lo;
}

void ZsetValue::ScoreRanks(const ScoreRange& r, size_t* begin, size_t* end) const {
  *begin = PartitionPoint(BelowScoreMin{r});
  *end = std::max(*begin, PartitionPoint(NotAboveScoreMax{r}));
}

void ZsetValue::LexRanks(const LexRange& r, size_t* begin, size_t* end) const {
  *begin = PartitionPoint(BelowLexMin{r.min});
  *end = std::max(*begin, PartitionPoint(NotAboveLexMax{r.max}));
}

size_t ZsetValue::CountInScoreRange(const ScoreRange& r) const {
  size_t begin, end;
  ScoreRanks(r, &begin, &end);
  return end - begin;
}

size_t ZsetValue::CountInLexRange(const LexRange& r) const {
  size_t begin, end;
  LexRanks(r, &begin, &end);
  return end - begin;
}

size_t ZsetValue::RemoveRankRange(size_t first, size_t last) {
  const size_t n = size();
  if (first > last || first >= n) return 0;
  return RemoveRanks(first, std::min(last, n - 1) + 1);
}

size_t ZsetValue::RemoveScoreRange(const ScoreRange& r) {
  size_t begin, end;
  ScoreRanks(r, &begin, &end);
  return RemoveRanks(begin, end);
}

size_t ZsetValue::RemoveLexRange(const LexRange& r) {
  size_t begin, end;
  LexRanks(r, &begin, &end);
  return RemoveRanks(begin, end);
}

size_t ZsetValue::RemoveRanks(size_t begin, size_t end) {
  if (begin >= end) return 0;
  if (encoding_ == Encoding::kListpack) {
    std::string_view member;
    double score;
    const char* p = ListpackBegin();
    for (size_t i = 0; i < begin; ++i) p = DecodeEntry(p, &member, &score);
    const char* q = p;
    for (size_t i = begin; i < end; ++i) q = DecodeEntry(q, &member, &score);
    ResizeListpackRange(p - listpack_, q - p, 0);
    header()->count -= static_cast<uint32_t>(end - begin);
    return end - begin;
  }
  Large& large = *large_;
  large.table.RehashStep(1);
  // One leaf's run at a time: the tree work is per leaf, not per entry.
  ZsetEntry* removed[kLeafCapacity];
  size_t left = end - begin;
  while (left > 0) {
    const size_t k = TreeErase(begin, left, removed);
    for (size_t i = 0; i < k; ++i) {
      FreeEntry(large.table.Unlink(large.table.FindLink(removed[i]->member())));
    }
    left -= k;
  }
  return end - begin;
}

// --- Serialized form ---------------------------------------------------------

void ZsetValue::Serialize(std::string* out) const {
  char count[kMaxVarintBytes];
  out->append(count, WriteVarint(count, size()));
  if (encoding_ == Encoding::kListpack) {
    out->append(ListpackBegin(), ListpackEnd());  // already in this form
    return;
  }
  auto append = [out](std::string_view member, double score) {
    char buf[kMaxVarintBytes + kScoreBytes];
    out->append(buf, WriteVarint(buf, member.size()));
    out->append(member);
    out->append(buf, StoreScore(buf, score));
  };
  VisitRanks(0, size(), false, append);
}

ZsetValue* ZsetValue::Deserialize(std::string_view bytes, const CollectionLimits& limits) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  uint64_t count;
  if (!ReadVarint(&p, end, &count) || count == 0) return nullptr;
  // Every entry takes at least nine bytes (a length and a score), so a
  // larger count cannot be true; rejecting it here keeps a hostile count
  // from costing anything. Every allocation below is bounded by the bytes.
  if (count > static_cast<uint64_t>(end - p) / (1 + kScoreBytes)) return nullptr;
  const char* const entries = p;
  auto read_entry = [end](const char** at, std::string_view* member, double* score) {
    uint64_t len;
    if (!ReadVarint(at, end, &len) || len > static_cast<uint64_t>(end - *at) ||
        static_cast<uint64_t>(end - *at) - len < kScoreBytes) {
      return false;
    }
    *member = std::string_view(*at, len);
    *score = LoadScore(*at + len);
    *at += len + kScoreBytes;
    return true;
  };
  // A first pass checks the form and the order and measures the entries,
  // so that the encoding is known before anything is built.
  size_t listpack_bytes = sizeof(ListpackHeader);
  size_t longest = 0;
  std::string_view member, prev_member;
  double score, prev_score = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (!read_entry(&p, &member, &score) || std::isnan(score)) return nullptr;
    // Strictly increasing: out of order, or the same entry twice, fails.
    if (i > 0 && !KeyLess(prev_score, prev_member, score, member)) return nullptr;
    prev_member = member;
    prev_score = score;
    listpack_bytes += EntryLength(member);
    longest = std::max(longest, member.size());
  }
  if (p != end) return nullptr;

  // In order, a member may still recur with another score: the second
  // pass looks for that.
  ZsetValue* z = Create();
  try {
    p = entries;
    if (count <= limits.zset_max_listpack_entries && longest <= limits.zset_max_listpack_value &&
        listpack_bytes <= kMaxListpackBytes) {
      std::vector<std::string_view> members;
      members.reserve(count);
      // Rewritten rather than copied: the input's varints may not be minimal.
      char* w = z->ResizeListpackRange(sizeof(ListpackHeader), 0,
                                       listpack_bytes - sizeof(ListpackHeader));
      for (uint64_t i = 0; i < count; ++i) {
        read_entry(&p, &member, &score);
        w = WriteEntry(w, member, score);
        members.push_back(member);
      }
      z->header()->count = static_cast<uint32_t>(count);
      std::sort(members.begin(), members.end());
      if (std::adjacent_find(members.begin(), members.end()) != members.end()) {
        Destroy(z);
        return nullptr;
      }
      return z;
    }
    z->ConvertToLarge();
    Large& large = *z->large_;
    for (uint64_t i = 0; i < count; ++i) {
      read_entry(&p, &member, &score);
      if (large.table.Find(member) != nullptr) {
        Destroy(z);
        return nullptr;
      }
      ZsetEntry* e = z->NewEntry(member, score);
      z->InsertIntoTable(e);
      z->TreeInsert(i, e);  // appends: the leaves fill completely
    }
  } catch (...) {
    Destroy(z);
    throw;
  }
  return z;
}

// --- Listpack ----------------------------------------------------------------

const char* ZsetValue::ListpackFind(std::string_view member, size_t* rank) const {
  std::string_view stored;
  double score;
  size_t r = 0;
  const char* end = ListpackEnd();
  for (const char* p = ListpackBegin(); p != end; ++r) {
    const char* next = DecodeEntry(p, &stored, &score);
    if (stored == member) {
      *rank = r;
      return p;
    }
    p = next;
  }
  return nullptr;
}

bool ZsetValue::PointsIntoListpack(std::string_view s) const {
  // As integers: comparing pointers into different blocks is unspecified.
  const uintptr_t at = reinterpret_cast<uintptr_t>(s.data());
  const uintptr_t begin = reinterpret_cast<uintptr_t>(listpack_);
  return !s.empty() && at - begin < header()->bytes;
}

char* ZsetValue::ResizeListpackRange(size_t offset, size_t old_len, size_t new_len) {
  const size_t used = header()->bytes;
  char* at = ResizeRange(&listpack_, used, offset, old_len, new_len, kShrinkSlack, &memory_bytes_);
  header()->bytes = static_cast<uint32_t>(used - old_len + new_len);
  return at;
}

bool ZsetValue::SetInListpack(std::string_view member, double score,
                              const CollectionLimits& limits) {
  size_t rank;
  if (const char* found = ListpackFind(member, &rank)) {
    std::string_view stored;
    double old_score;
    DecodeEntry(found, &stored, &old_score);
    if (old_score == score) return false;  // as Redis: equal scores change nothing
    // The entry keeps its length, so it moves without a reallocation: find
    // where it goes among the others, shift those in between by its length.
    const size_t len = EntryLength(member);
    const size_t from = found - listpack_;
    size_t to = header()->bytes;  // where the entry starts in the listpack without it
    size_t offset = sizeof(ListpackHeader);
    double s;
    const char* end = ListpackEnd();
    for (const char* p = ListpackBegin(); p != end;) {
      const char* next = DecodeEntry(p, &stored, &s);
      if (p != found) {
        if (!KeyLess(s, stored, score, member)) {
          to = offset;
          break;
        }
        offset += next - p;
      }
      p = next;
    }
    if (to == header()->bytes) to -= len;
    if (to != from) {
      // `member` is this entry's own bytes or another copy of them.
      std::string entry(member.size() + kMaxVarintBytes + kScoreBytes, '\0');
      entry.resize(WriteEntry(entry.data(), member, score) - entry.data());
      if (to < from) {
        std::memmove(listpack_ + to + len, listpack_ + to, from - to);
      } else {
        std::memmove(listpack_ + from, listpack_ + from + len, to - from);
      }
      std::memcpy(listpack_ + to, entry.data(), len);
    } else {
      StoreScore(listpack_ + from + len - kScoreBytes, score);
    }
    return false;
  }
  const size_t len = EntryLength(member);
  if (header()->count >= limits.zset_max_listpack_entries ||
      member.size() > limits.zset_max_listpack_value ||
      header()->bytes + len > kMaxListpackBytes) {
    ConvertToLarge();
    return SetInLarge(member, score);
  }
  // The byte offset of the entry at the partition point.
  const size_t at_rank = PartitionPoint(KeyBefore{score, member});
  const char* p = ListpackBegin();
  std::string_view stored;
  double s;
  for (size_t i = 0; i < at_rank; ++i) p = DecodeEntry(p, &stored, &s);
  WriteEntry(ResizeListpackRange(p - listpack_, 0, len), member, score);
  ++header()->count;
  return true;
}

ZsetValue::Large* ZsetValue::NewLarge() {
  void* block = Allocate(sizeof(Large));
  Large* large;
  try {
    large = new (block) Large(TableHashSeed());
  } catch (...) {
    std::free(block);
    throw;
  }
  memory_bytes_ += Usable(large);
  return large;
}

void ZsetValue::ConvertToLarge() {
  char* const listpack = listpack_;
  const size_t saved_memory_bytes = memory_bytes_;
  Large* const large = NewLarge();
  // Built in place, as entries and nodes account to this value; if an
  // allocation throws, the skiplist goes and the listpack comes back.
  large_ = large;
  encoding_ = Encoding::kSkiplist;
  try {
    large->root = NewLeaf();
    std::string_view member;
    double score;
    const char* end = listpack + reinterpret_cast<const ListpackHeader*>(listpack)->bytes;
    size_t rank = 0;
    for (const char* p = listpack + sizeof(ListpackHeader); p != end;) {
      p = DecodeEntry(p, &member, &score);
      ZsetEntry* e = NewEntry(member, score);
      InsertIntoTable(e);
      TreeInsert(rank++, e);
    }
  } catch (...) {
    FreeTree(large->root);
    large->~Large();
    std::free(large);
    listpack_ = listpack;
    encoding_ = Encoding::kListpack;
    memory_bytes_ = saved_memory_bytes;
    throw;
  }
  memory_bytes_ -= Usable(listpack);
  std::free(listpack);
}

// --- Skiplist encoding: table and entries ------------------------------------

bool ZsetValue::SetInLarge(std::string_view member, double score) {
  Large& large = *large_;
  large.table.RehashStep(1);  // moves entries between chains, never frees one
  if (ZsetEntry** link = large.table.FindLink(member)) {
    ZsetEntry* e = *link;
    if (e->score == score) return false;  // as Redis: equal scores change nothing
    // Out of the tree, rescored, back in. `member` may be e's own bytes,
    // which stay where they are.
    ZsetEntry* removed[kLeafCapacity];
    TreeErase(PartitionPoint(KeyBefore{e->score, e->member()}), 1, removed);
    e->score = score;
    TreeInsert(PartitionPoint(KeyBefore{score, e->member()}), e);
    return false;
  }
  ZsetEntry* e = NewEntry(member, score);
  large.table.Insert(e);
  TreeInsert(PartitionPoint(KeyBefore{score, e->member()}), e);
  return true;
}

void ZsetValue::InsertIntoTable(ZsetEntry* e) {
  // A table is not pre-sized for a known count: its first Insert would
  // start a shrink back to the minimum, which only RehashStep calls undo.
  // Growing as Set does keeps the chains short all along.
  large_->table.Insert(e);
  large_->table.RehashStep(1);
}

ZsetValue::ZsetEntry* ZsetValue::NewEntry(std::string_view member, double score) {
  auto* e = static_cast<ZsetEntry*>(
      Allocate(sizeof(ZsetEntry) + VarintLength(member.size()) + member.size()));
  e->next = nullptr;
  e->score = score;
  char* p = WriteVarint(reinterpret_cast<char*>(e) + sizeof(ZsetEntry), member.size());
  if (!member.empty()) std::memcpy(p, member.data(), member.size());
  memory_bytes_ += Usable(e);
  return e;
}

void ZsetValue::FreeEntry(ZsetEntry* e) {
  memory_bytes_ -= Usable(e);
  std::free(e);
}

// --- Skiplist encoding: the order-statistic B+tree ---------------------------

ZsetValue::Leaf* ZsetValue::NewLeaf() {
  Leaf* leaf = static_cast<Leaf*>(Allocate(sizeof(Leaf)));
  leaf->n = 0;
  leaf->leaf = 1;
  leaf->prev = nullptr;
  leaf->next = nullptr;
  memory_bytes_ += Usable(leaf);
  return leaf;
}

ZsetValue::Inner* ZsetValue::NewInner() {
  Inner* in = static_cast<Inner*>(Allocate(sizeof(Inner)));
  in->n = 0;
  in->leaf = 0;
  memory_bytes_ += Usable(in);
  return in;
}

void ZsetValue::FreeNode(Node* node) {
  memory_bytes_ -= Usable(node);
  std::free(node);
}

void ZsetValue::FreeTree(Node* node) {
  if (node == nullptr) return;
  if (!node->leaf) {
    Inner* in = static_cast<Inner*>(node);
    for (uint32_t i = 0; i < in->n; ++i) FreeTree(in->children[i]);
  }
  FreeNode(node);
}

size_t ZsetValue::EntriesUnder(const Node* node) {
  if (node->leaf) return node->n;
  const Inner* in = static_cast<const Inner*>(node);
  size_t sum = 0;
  for (uint32_t i = 0; i < in->n; ++i) sum += in->counts[i];
  return sum;
}

ZsetValue::ZsetEntry* ZsetValue::LeftmostEntry(const Node* node) {
  return node->leaf ? static_cast<const Leaf*>(node)->entries[0]
                    : static_cast<const Inner*>(node)->mins[0];
}

double ZsetValue::LeftmostScore(const Node* node) {
  return node->leaf ? static_cast<const Leaf*>(node)->entries[0]->score
                    : static_cast<const Inner*>(node)->min_scores[0];
}

// Recomputes slot i's count and smallest entry from its (non-empty) child.
void ZsetValue::RefreshSlot(Inner* in, size_t i) {
  in->counts[i] = EntriesUnder(in->children[i]);
  in->mins[i] = LeftmostEntry(in->children[i]);
  in->min_scores[i] = LeftmostScore(in->children[i]);
}

const ZsetValue::Leaf* ZsetValue::SelectLeaf(size_t rank, size_t* index) const {
  const Node* node = large_->root;
  while (!node->leaf) {
    const Inner* in = static_cast<const Inner*>(node);
    size_t i = 0;
    while (rank >= in->counts[i]) rank -= in->counts[i++];
    node = in->children[i];
  }
  *index = rank;
  return static_cast<const Leaf*>(node);
}

void ZsetValue::TreeInsert(size_t rank, ZsetEntry* e) {
  Node* root = large_->root;
  Node* split = InsertIn(root, rank, e, true, true);
  if (split == nullptr) return;
  Inner* top = NewInner();
  top->n = 2;
  top->children[0] = root;
  top->children[1] = split;
  RefreshSlot(top, 0);
  RefreshSlot(top, 1);
  large_->root = top;
}

ZsetValue::Node* ZsetValue::InsertIn(Node* node, size_t rank, ZsetEntry* e, bool leftmost,
                                     bool rightmost) {
  if (node->leaf) {
    Leaf* leaf = static_cast<Leaf*>(node);
    if (leaf->n < kLeafCapacity) {
      std::memmove(&leaf->entries[rank + 1], &leaf->entries[rank],
                   (leaf->n - rank) * sizeof(ZsetEntry*));
      leaf->entries[rank] = e;
      ++leaf->n;
      return nullptr;
    }
    ZsetEntry* all[kLeafCapacity + 1];
    std::memcpy(all, leaf->entries, rank * sizeof(ZsetEntry*));
    all[rank] = e;
    std::memcpy(all + rank + 1, leaf->entries + rank, (kLeafCapacity - rank) * sizeof(ZsetEntry*));
    // Appending at the right end keeps this leaf full and starts a new one
    // (sequential scores fill leaves completely); prepending at the left
    // end mirrors it; anything else splits evenly.
    size_t keep = (kLeafCapacity + 1) / 2;
    if (rightmost && rank == kLeafCapacity) keep = kLeafCapacity;
    if (leftmost && rank == 0) keep = 1;
    Leaf* right = NewLeaf();
    std::memcpy(leaf->entries, all, keep * sizeof(ZsetEntry*));
    leaf->n = static_cast<uint32_t>(keep);
    std::memcpy(right->entries, all + keep, (kLeafCapacity + 1 - keep) * sizeof(ZsetEntry*));
    right->n = static_cast<uint32_t>(kLeafCapacity + 1 - keep);
    right->next = leaf->next;
    if (right->next != nullptr) right->next->prev = right;
    right->prev = leaf;
    leaf->next = right;
    return right;
  }
  Inner* in = static_cast<Inner*>(node);
  // At the end of child i rather than the start of child i + 1, so that
  // only an insertion at rank 0 of this subtree changes a smallest entry.
  size_t i = 0;
  while (i + 1 < in->n && rank > in->counts[i]) rank -= in->counts[i++];
  Node* child = in->children[i];
  Node* split = InsertIn(child, rank, e, leftmost && i == 0, rightmost && i + 1 == in->n);
  if (split == nullptr) {
    ++in->counts[i];
    if (rank == 0) {
      in->mins[i] = e;
      in->min_scores[i] = e->score;
    }
    return nullptr;
  }
  RefreshSlot(in, i);
  const size_t at = i + 1;  // the new child's slot
  if (in->n < kInnerCapacity) {
    const size_t tail = in->n - at;
    std::memmove(&in->counts[at + 1], &in->counts[at], tail * sizeof(in->counts[0]));
    std::memmove(&in->children[at + 1], &in->children[at], tail * sizeof(in->children[0]));
    std::memmove(&in->mins[at + 1], &in->mins[at], tail * sizeof(in->mins[0]));
    std::memmove(&in->min_scores[at + 1], &in->min_scores[at], tail * sizeof(in->min_scores[0]));
    in->children[at] = split;
    ++in->n;
    RefreshSlot(in, at);
    return nullptr;
  }
  // Full: split this node's kInnerCapacity + 1 children, as a leaf's.
  Node* all[kInnerCapacity + 1];
  std::memcpy(all, in->children, at * sizeof(Node*));
  all[at] = split;
  std::memcpy(all + at + 1, in->children + at, (kInnerCapacity - at) * sizeof(Node*));
  size_t keep = (kInnerCapacity + 1) / 2;
  if (rightmost && at == kInnerCapacity) keep = kInnerCapacity;
  if (leftmost && i == 0 && rank == 0) keep = 1;  // the left child took the new entry alone
  Inner* right = NewInner();
  // Slots are recomputed from the children: a split is rare, and this keeps
  // the four arrays from being shuffled one by one.
  in->n = static_cast<uint32_t>(keep);
  for (size_t j = 0; j < keep; ++j) {
    in->children[j] = all[j];
    RefreshSlot(in, j);
  }
  right->n = static_cast<uint32_t>(kInnerCapacity + 1 - keep);
  for (size_t j = 0; j < right->n; ++j) {
    right->children[j] = all[keep + j];
    RefreshSlot(right, j);
  }
  return right;
}

size_t ZsetValue::TreeErase(size_t rank, size_t max, ZsetEntry** removed) {
  const size_t k = EraseIn(large_->root, rank, max, removed);
  // A root with one child gives way to it; an emptied tree is one empty leaf.
  for (;;) {
    Node* root = large_->root;
    if (root->leaf) break;
    Inner* in = static_cast<Inner*>(root);
    if (in->n == 1) {
      large_->root = in->children[0];
      FreeNode(in);
    } else if (in->n == 0) {
      FreeNode(in);
      large_->root = NewLeaf();
    } else {
      break;
    }
  }
  return k;
}

size_t ZsetValue::EraseIn(Node* node, size_t rank, size_t max, ZsetEntry** removed) {
  if (node->leaf) {
    Leaf* leaf = static_cast<Leaf*>(node);
    const size_t k = std::min(max, leaf->n - rank);
    std::memcpy(removed, &leaf->entries[rank], k * sizeof(ZsetEntry*));
    std::memmove(&leaf->entries[rank], &leaf->entries[rank + k],
                 (leaf->n - rank - k) * sizeof(ZsetEntry*));
    leaf->n -= static_cast<uint32_t>(k);
    return k;
  }
  Inner* in = static_cast<Inner*>(node);
  size_t i = 0;
  while (rank >= in->counts[i]) rank -= in->counts[i++];
  Node* child = in->children[i];
  const size_t k = EraseIn(child, rank, max, removed);
  in->counts[i] -= k;
  if (child->n == 0) {  // emptied: out of the tree
    if (child->leaf) {
      Leaf* leaf = static_cast<Leaf*>(child);
      if (leaf->prev != nullptr) leaf->prev->next = leaf->next;
      if (leaf->next != nullptr) leaf->next->prev = leaf->prev;
    }
    FreeNode(child);
    RemoveSlot(in, i);
    return k;
  }
  if (rank == 0) {
    in->mins[i] = LeftmostEntry(child);
    in->min_scores[i] = LeftmostScore(child);
  }
  const size_t min_fill = child->leaf ? kLeafMin : kInnerMin;
  if (child->n < min_fill && in->n >= 2) Rebalance(in, i);
  return k;
}

void ZsetValue::RemoveSlot(Inner* in, size_t i) {
  const size_t tail = in->n - i - 1;
  std::memmove(&in->counts[i], &in->counts[i + 1], tail * sizeof(in->counts[0]));
  std::memmove(&in->children[i], &in->children[i + 1], tail * sizeof(in->children[0]));
  std::memmove(&in->mins[i], &in->mins[i + 1], tail * sizeof(in->mins[0]));
  std::memmove(&in->min_scores[i], &in->min_scores[i + 1], tail * sizeof(in->min_scores[0]));
  --in->n;
}

void ZsetValue::Rebalance(Inner* in, size_t i) {
  const size_t l = i > 0 ? i - 1 : i;
  const size_t r = l + 1;
  Node* left = in->children[l];
  Node* right = in->children[r];
  const size_t total = left->n + right->n;
  if (left->leaf) {
    Leaf* a = static_cast<Leaf*>(left);
    Leaf* b = static_cast<Leaf*>(right);
    if (total <= kLeafCapacity) {  // merge b into a
      std::memcpy(&a->entries[a->n], b->entries, b->n * sizeof(ZsetEntry*));
      a->n = static_cast<uint32_t>(total);
      a->next = b->next;
      if (a->next != nullptr) a->next->prev = a;
      FreeNode(b);
      RemoveSlot(in, r);
      RefreshSlot(in, l);
      return;
    }
    const size_t want = total / 2;  // for a
    if (a->n < want) {
      const size_t k = want - a->n;
      std::memcpy(&a->entries[a->n], b->entries, k * sizeof(ZsetEntry*));
      std::memmove(b->entries, &b->entries[k], (b->n - k) * sizeof(ZsetEntry*));
      a->n += static_cast<uint32_t>(k);
      b->n -= static_cast<uint32_t>(k);
    } else {
      const size_t k = a->n - want;
      std::memmove(&b->entries[k], b->entries, b->n * sizeof(ZsetEntry*));
      std::memcpy(b->entries, &a->entries[want], k * sizeof(ZsetEntry*));
      a->n -= static_cast<uint32_t>(k);
      b->n += static_cast<uint32_t>(k);
    }
    RefreshSlot(in, l);
    RefreshSlot(in, r);
    return;
  }
  Inner* a = static_cast<Inner*>(left);
  Inner* b = static_cast<Inner*>(right);
  // Moves b's slots [from, from + k) to a's end.
  auto append = [](Inner* dst, const Inner* src, size_t from, size_t k) {
    std::memcpy(&dst->counts[dst->n], &src->counts[from], k * sizeof(dst->counts[0]));
    std::memcpy(&dst->children[dst->n], &src->children[from], k * sizeof(dst->children[0]));
    std::memcpy(&dst->mins[dst->n], &src->mins[from], k * sizeof(dst->mins[0]));
    std::memcpy(&dst->min_scores[dst->n], &src->min_scores[from], k * sizeof(dst->min_scores[0]));
    dst->n += static_cast<uint32_t>(k);
  };
  if (total <= kInnerCapacity) {
    append(a, b, 0, b->n);
    FreeNode(b);
    RemoveSlot(in, r);
    RefreshSlot(in, l);
    return;
  }
  const size_t want = total / 2;
  if (a->n < want) {
    const size_t k = want - a->n;
    append(a, b, 0, k);
    for (size_t j = 0; j < k; ++j) RemoveSlot(b, 0);  // rare, and at most 64 slots
  } else {
    // Rebuild b as a's tail followed by b's slots.
    const size_t k = a->n - want;
    Inner tmp;
    tmp.n = 0;
    append(&tmp, a, want, k);
    append(&tmp, b, 0, b->n);
    b->n = 0;
    append(b, &tmp, 0, tmp.n);
    a->n = static_cast<uint32_t>(want);
  }
  RefreshSlot(in, l);
  RefreshSlot(in, r);
}

// --- Tests' hooks ------------------------------------------------------------

bool ZsetValue::CheckNode(const Node* node, size_t depth, size_t* leaf_depth,
                          const ZsetEntry** last, const Leaf** last_leaf, size_t* count,
                          std::string* error) const {
  auto fail = [&](const std::string& what) {
    *error = what + " at depth " + std::to_string(depth);
    return false;
  };
  const bool is_root = node == large_->root;
  if (node->n == 0 && !(is_root && node->leaf)) return fail("empty node");
  if (node->leaf) {
    const Leaf* leaf = static_cast<const Leaf*>(node);
    if (*leaf_depth == 0) *leaf_depth = depth;
    if (*leaf_depth != depth) return fail("leaves at different depths");
    if (leaf->n > kLeafCapacity) return fail("leaf over capacity");
    if (leaf->prev != *last_leaf) return fail("wrong prev link");
    if (*last_leaf != nullptr && (*last_leaf)->next != leaf) return fail("wrong next link");
    for (uint32_t i = 0; i < leaf->n; ++i) {
      const ZsetEntry* e = leaf->entries[i];
      if (std::isnan(e->score)) return fail("NaN score");
      if (large_->table.Find(e->member()) != e) return fail("entry not in the table");
      if (*last != nullptr &&
          !KeyLess((*last)->score, (*last)->member(), e->score, e->member())) {
        return fail("entries out of order");
      }
      *last = e;
    }
    *last_leaf = leaf;
    *count += leaf->n;
    return true;
  }
  const Inner* in = static_cast<const Inner*>(node);
  if (in->n > kInnerCapacity) return fail("inner node over capacity");
  if (is_root && in->n < 2) return fail("inner root with one child");
  for (uint32_t i = 0; i < in->n; ++i) {
    size_t under = 0;
    if (!CheckNode(in->children[i], depth + 1, leaf_depth, last, last_leaf, &under, error)) {
      return false;
    }
    if (in->counts[i] != under) return fail("wrong count");
    if (in->mins[i] != LeftmostEntry(in->children[i])) return fail("wrong smallest entry");
    if (std::bit_cast<uint64_t>(in->min_scores[i]) !=
        std::bit_cast<uint64_t>(in->mins[i]->score)) {
      return fail("stale cached score");
    }
    *count += under;
  }
  return true;
}

bool ZsetValue::TEST_CheckInvariants(std::string* error) const {
  auto fail = [error](const char* what) {
    *error = what;
    return false;
  };
  if (encoding_ == Encoding::kListpack) {
    const char* p = ListpackBegin();
    const char* end = ListpackEnd();
    std::vector<std::string_view> members;
    std::string_view member, prev_member;
    double score, prev_score = 0;
    for (size_t i = 0; p < end; ++i) {
      p = DecodeEntry(p, &member, &score);
      if (std::isnan(score)) return fail("NaN score");
      if (i > 0 && !KeyLess(prev_score, prev_member, score, member)) {
        return fail("listpack out of order");
      }
      members.push_back(member);
      prev_member = member;
      prev_score = score;
    }
    if (p != end) return fail("listpack overruns its size");
    if (members.size() != header()->count) return fail("wrong listpack count");
    std::sort(members.begin(), members.end());
    if (std::adjacent_find(members.begin(), members.end()) != members.end()) {
      return fail("duplicate member");
    }
    return true;
  }
  size_t leaf_depth = 0, count = 0;
  const ZsetEntry* last = nullptr;
  const Leaf* last_leaf = nullptr;
  if (!CheckNode(large_->root, 1, &leaf_depth, &last, &last_leaf, &count, error)) return false;
  if (last_leaf->next != nullptr) return fail("last leaf has a next");
  if (count != large_->table.size()) return fail("tree and table sizes differ");
  return true;
}

ZsetValue::TreeShape ZsetValue::TEST_Shape() const {
  TreeShape shape;
  if (encoding_ == Encoding::kListpack) return shape;
  for (const Node* node = large_->root;;) {
    ++shape.height;
    if (node->leaf) break;
    node = static_cast<const Inner*>(node)->children[0];
  }
  auto count = [&](const Node* node) { ++(node->leaf ? shape.leaves : shape.inner_nodes); };
  ForEachNode(large_->root, count);
  return shape;
}

}  // namespace causalkv::store
