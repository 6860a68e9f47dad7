#include "causalkv/store/stream_value.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "causalkv/store/trusted_varint.h"
#include "value_codec.h"

namespace causalkv::store {
namespace {

using namespace codec;  // value_codec.h

// Whatever the limits say (0: none), a node stops growing here, which keeps
// its header's uint32 sizes in range.
constexpr size_t kMaxNodeBytes = size_t{1} << 30;

// The bytes a std::map node costs besides its key and value (three
// pointers, the colour, the allocator's header), for the estimates.
constexpr size_t kMapNodeOverhead = 48;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

void PutVarint(std::string* out, uint64_t v) {
  char buf[kMaxVarintBytes];
  out->append(buf, WriteVarint(buf, v) - buf);
}
void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

size_t StringLength(std::string_view s) { return VarintLength(s.size()) + s.size(); }
char* WriteString(char* p, std::string_view s) {
  p = WriteVarint(p, s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Whether the entry's field names are the node's master fields, in order.
bool SameFields(const char* master_fields, const std::vector<std::string_view>& fv) {
  size_t count;
  const char* p = ReadTrustedVarint(master_fields, &count);
  if (count * 2 != fv.size()) return false;
  for (size_t i = 0; i < count; ++i) {
    size_t len;
    p = ReadTrustedVarint(p, &len);
    if (std::string_view(p, len) != fv[2 * i]) return false;
    p += len;
  }
  return true;
}

}  // namespace

StreamValue* StreamValue::Create() { return new (Allocate(sizeof(StreamValue))) StreamValue(); }

StreamValue::~StreamValue() {
  for (auto& [id, node] : nodes_) std::free(node);
}

void StreamValue::Destroy(StreamValue* s) {
  if (s == nullptr) return;
  s->~StreamValue();
  std::free(s);
}

StreamValue* StreamValue::Clone(const StreamValue& from) {
  StreamValue* s = Create();
  for (const auto& [id, node] : from.nodes_) {
    const size_t used = Header(node)->used;
    char* copy = static_cast<char*>(Allocate(used));
    std::memcpy(copy, node, used);
    s->node_bytes_ += Usable(copy);
    s->nodes_.emplace_hint(s->nodes_.end(), id, copy);
  }
  s->length_ = from.length_;
  s->last_id_ = from.last_id_;
  s->entries_added_ = from.entries_added_;
  s->max_deleted_id_ = from.max_deleted_id_;
  s->first_id_ = from.first_id_;
  s->groups_ = from.groups_;
  return s;
}

size_t StreamValue::memory_bytes() const {
  size_t bytes = Usable(this) + node_bytes_ + nodes_.size() * (kMapNodeOverhead + sizeof(StreamId) + sizeof(char*));
  for (const auto& [name, g] : groups_) {
    bytes += kMapNodeOverhead + sizeof(std::string) + sizeof(StreamGroup) + name.size();
    bytes += g.pel.size() *
             (kMapNodeOverhead + sizeof(StreamId) + sizeof(StreamPendingEntry) +  // group PEL
              kMapNodeOverhead + sizeof(StreamId));                                // consumer's
    for (const auto& [cname, c] : g.consumers) {
      bytes += kMapNodeOverhead + sizeof(std::string) + sizeof(StreamConsumer) + cname.size();
    }
  }
  return bytes;
}

const char* StreamValue::FirstEntry(const char* node) {
  const char* p = node + sizeof(NodeHeader);
  size_t count;
  p = ReadTrustedVarint(p, &count);
  for (size_t i = 0; i < count; ++i) {
    size_t len;
    p = ReadTrustedVarint(p, &len);
    p += len;
  }
  return p;
}

const char* StreamValue::DecodeEntry(const char* p, StreamId master, const char* master_fields,
                                     StreamId* id, uint8_t* flags,
                                     std::vector<std::string_view>* fv) {
  *flags = static_cast<uint8_t>(*p++);
  size_t ms_delta, seq;
  p = ReadTrustedVarint(p, &ms_delta);
  p = ReadTrustedVarint(p, &seq);
  id->ms = master.ms + ms_delta;
  id->seq = ms_delta == 0 ? master.seq + seq : seq;
  size_t len;
  if (*flags & kSameFields) {
    size_t count;
    const char* f = ReadTrustedVarint(master_fields, &count);
    for (size_t i = 0; i < count; ++i) {
      size_t flen;
      f = ReadTrustedVarint(f, &flen);
      p = ReadTrustedVarint(p, &len);
      if (fv != nullptr) {
        fv->emplace_back(f, flen);
        fv->emplace_back(p, len);
      }
      f += flen;
      p += len;
    }
    return p;
  }
  size_t count;
  p = ReadTrustedVarint(p, &count);
  for (size_t i = 0; i < 2 * count; ++i) {
    p = ReadTrustedVarint(p, &len);
    if (fv != nullptr) fv->emplace_back(p, len);
    p += len;
  }
  return p;
}

}  // namespace causalkv::store

namespace causalkv::store {

void StreamValue::Append(StreamId id, const std::vector<std::string_view>& fv,
                         const CollectionLimits& limits) {
  char* node = nodes_.empty() ? nullptr : nodes_.rbegin()->second;
  bool same = false;
  StreamId master = id;
  if (node != nullptr) {
    const NodeHeader* h = Header(node);
    const bool full =
        (limits.stream_node_max_entries != 0 && h->total >= limits.stream_node_max_entries);
    if (!full) {
      master = nodes_.rbegin()->first;
      same = SameFields(node + sizeof(NodeHeader), fv);
    }
    if (full) node = nullptr;
  }
  const uint64_t ms_delta = id.ms - master.ms;
  const uint64_t seq_part = ms_delta == 0 ? id.seq - master.seq : id.seq;
  size_t entry_len = 1 + VarintLength(ms_delta) + VarintLength(seq_part);
  if (same) {
    for (size_t i = 1; i < fv.size(); i += 2) entry_len += StringLength(fv[i]);
  } else {
    entry_len += VarintLength(fv.size() / 2);
    for (std::string_view s : fv) entry_len += StringLength(s);
  }
  if (node != nullptr &&
      ((limits.stream_node_max_bytes != 0 &&
        Header(node)->used + entry_len > limits.stream_node_max_bytes) ||
       Header(node)->used + entry_len > kMaxNodeBytes)) {
    node = nullptr;
  }
  if (node == nullptr) {
    // A new node: its master is this entry, whose fields become the master
    // fields, so the entry itself is "same fields" with deltas of zero.
    master = id;
    size_t fields_len = VarintLength(fv.size() / 2);
    size_t values_len = 0;
    for (size_t i = 0; i < fv.size(); i += 2) {
      fields_len += StringLength(fv[i]);
      values_len += StringLength(fv[i + 1]);
    }
    const size_t used = sizeof(NodeHeader) + fields_len + 3 + values_len;
    node = static_cast<char*>(Allocate(used));
    *Header(node) = NodeHeader{static_cast<uint32_t>(used), 1, 1};
    char* p = WriteVarint(node + sizeof(NodeHeader), fv.size() / 2);
    for (size_t i = 0; i < fv.size(); i += 2) p = WriteString(p, fv[i]);
    *p++ = static_cast<char>(kSameFields);
    *p++ = 0;
    *p++ = 0;
    for (size_t i = 1; i < fv.size(); i += 2) p = WriteString(p, fv[i]);
    node_bytes_ += Usable(node);
    nodes_.emplace_hint(nodes_.end(), id, node);
  } else {
    const size_t used = Header(node)->used;
    size_t memory = node_bytes_;
    // Appending only grows: never give back slack here.
    char* p = ResizeRange(&node, used, used, 0, entry_len, SIZE_MAX, &memory);
    node_bytes_ = memory;
    nodes_.rbegin()->second = node;
    *p++ = static_cast<char>(same ? kSameFields : 0);
    p = WriteVarint(p, ms_delta);
    p = WriteVarint(p, seq_part);
    if (same) {
      for (size_t i = 1; i < fv.size(); i += 2) p = WriteString(p, fv[i]);
    } else {
      p = WriteVarint(p, fv.size() / 2);
      for (std::string_view s : fv) p = WriteString(p, s);
    }
    NodeHeader* h = Header(node);
    h->used = static_cast<uint32_t>(used + entry_len);
    ++h->total;
    ++h->live;
  }
  ++length_;
  ++entries_added_;
  last_id_ = id;
  if (length_ == 1) first_id_ = id;
}

void StreamValue::FreeNode(NodeMap::iterator it) {
  node_bytes_ -= Usable(it->second);
  std::free(it->second);
  nodes_.erase(it);
}

bool StreamValue::Delete(StreamId id) {
  auto it = nodes_.upper_bound(id);
  if (it == nodes_.begin()) return false;
  --it;
  char* node = it->second;
  const char* const stop = node + Header(node)->used;
  const char* master_fields = node + sizeof(NodeHeader);
  for (const char* p = FirstEntry(node); p != stop;) {
    StreamId at;
    uint8_t flags;
    const char* next = DecodeEntry(p, it->first, master_fields, &at, &flags, nullptr);
    if (at == id) {
      if (flags & kDeleted) return false;
      node[p - node] = static_cast<char>(flags | kDeleted);
      --length_;
      if (--Header(node)->live == 0) FreeNode(it);
      if (id > max_deleted_id_) max_deleted_id_ = id;
      if (id == first_id_) UpdateFirstId();
      return true;
    }
    if (at > id) return false;
    p = next;
  }
  return false;
}

void StreamValue::UpdateFirstId() {
  first_id_ = StreamId{};
  Range({}, StreamId::Max(), false, [this](StreamId id, const std::vector<std::string_view>&) {
    first_id_ = id;
    return false;
  });
}

StreamId StreamValue::LastEntryId() const {
  StreamId last;
  Range({}, StreamId::Max(), true, [&last](StreamId id, const std::vector<std::string_view>&) {
    last = id;
    return false;
  });
  return last;
}

StreamId StreamValue::NodeLastEntryId(NodeMap::const_iterator it) const {
  const char* node = it->second;
  const char* const stop = node + Header(node)->used;
  StreamId id;
  uint8_t flags;
  for (const char* p = FirstEntry(node); p != stop;) {
    p = DecodeEntry(p, it->first, node + sizeof(NodeHeader), &id, &flags, nullptr);
  }
  return id;
}

uint64_t StreamValue::FlagFromFront(uint64_t max, const std::function<bool(StreamId)>& pred) {
  if (nodes_.empty()) return 0;
  auto it = nodes_.begin();
  char* node = it->second;
  const char* const stop = node + Header(node)->used;
  uint64_t flagged = 0;
  for (const char* p = FirstEntry(node); p != stop && flagged < max;) {
    StreamId id;
    uint8_t flags;
    const char* next = DecodeEntry(p, it->first, node + sizeof(NodeHeader), &id, &flags, nullptr);
    if (!(flags & kDeleted)) {
      if (!pred(id)) break;
      node[p - node] = static_cast<char>(flags | kDeleted);
      ++flagged;
      --length_;
      if (--Header(node)->live == 0) {
        FreeNode(it);
        break;
      }
    }
    p = next;
  }
  return flagged;
}

uint64_t StreamValue::TrimMaxLen(uint64_t maxlen, bool approx, uint64_t limit) {
  uint64_t removed = 0;
  while (length_ > maxlen && !nodes_.empty()) {
    auto it = nodes_.begin();
    const uint64_t live = Header(it->second)->live;
    if (length_ - live >= maxlen) {
      if (limit != 0 && removed + live > limit) break;
      removed += live;
      length_ -= live;
      FreeNode(it);
      continue;
    }
    if (approx) break;
    const uint64_t want = length_ - maxlen;
    removed += FlagFromFront(limit != 0 ? std::min(want, limit - removed) : want,
                             [](StreamId) { return true; });
    break;
  }
  if (removed != 0) UpdateFirstId();
  return removed;
}

uint64_t StreamValue::TrimMinId(StreamId minid, bool approx, uint64_t limit) {
  uint64_t removed = 0;
  while (!nodes_.empty()) {
    auto it = nodes_.begin();
    if (NodeLastEntryId(it) < minid) {
      const uint64_t live = Header(it->second)->live;
      if (limit != 0 && removed + live > limit) break;
      removed += live;
      length_ -= live;
      FreeNode(it);
      continue;
    }
    if (approx) break;
    removed += FlagFromFront(limit != 0 ? limit - removed : UINT64_MAX,
                             [minid](StreamId id) { return id < minid; });
    break;
  }
  if (removed != 0) UpdateFirstId();
  return removed;
}

bool StreamValue::Lookup(StreamId id, std::vector<std::string_view>* fields_values) const {
  bool found = false;
  Range(id, id, false, [&](StreamId, const std::vector<std::string_view>& fv) {
    *fields_values = fv;
    found = true;
    return false;
  });
  return found;
}

StreamGroup* StreamValue::FindGroup(std::string_view name) {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

bool StreamValue::RangeHasTombstones(StreamId start, StreamId end) const {
  if (length_ == 0 || max_deleted_id_.IsZero()) return false;
  if (first_id_ > max_deleted_id_) return false;  // every deletion lies before the first entry
  return start <= max_deleted_id_ && max_deleted_id_ <= end;
}

int64_t StreamValue::EstimateEntriesRead(StreamId id) const {
  if (entries_added_ == 0) return 0;
  if (length_ == 0 && id <= last_id_) return static_cast<int64_t>(entries_added_);
  if (id == last_id_) return static_cast<int64_t>(entries_added_);
  if (id > last_id_) return kInvalidEntriesRead;
  if (max_deleted_id_.IsZero() || max_deleted_id_ < first_id_) {
    // No deletion among the entries: the count before the first is known.
    if (id < first_id_) return static_cast<int64_t>(entries_added_ - length_);
    if (id == first_id_) return static_cast<int64_t>(entries_added_ - length_ + 1);
  }
  return kInvalidEntriesRead;
}

void StreamValue::Serialize(std::string* out) const {
  PutVarint(out, last_id_.ms);
  PutVarint(out, last_id_.seq);
  PutVarint(out, entries_added_);
  PutVarint(out, max_deleted_id_.ms);
  PutVarint(out, max_deleted_id_.seq);
  PutVarint(out, length_);
  uint64_t prev_ms = 0;
  Range({}, StreamId::Max(), false, [&](StreamId id, const std::vector<std::string_view>& fv) {
    PutVarint(out, id.ms - prev_ms);
    PutVarint(out, id.seq);
    prev_ms = id.ms;
    PutVarint(out, fv.size() / 2);
    for (std::string_view s : fv) PutString(out, s);
    return true;
  });
  PutVarint(out, groups_.size());
  for (const auto& [name, g] : groups_) {
    PutString(out, name);
    PutVarint(out, g.last_id.ms);
    PutVarint(out, g.last_id.seq);
    PutVarint(out, ZigZag(g.entries_read));
    PutVarint(out, g.consumers.size());
    for (const auto& [cname, c] : g.consumers) {
      PutString(out, cname);
      PutVarint(out, ZigZag(c.seen_time));
      PutVarint(out, ZigZag(c.active_time));
      PutVarint(out, c.pending.size());
      for (StreamId id : c.pending) {
        const StreamPendingEntry& pe = g.pel.at(id);
        PutVarint(out, id.ms);
        PutVarint(out, id.seq);
        PutVarint(out, ZigZag(pe.delivery_time));
        PutVarint(out, pe.delivery_count);
      }
    }
  }
}

StreamValue* StreamValue::Deserialize(std::string_view bytes, const CollectionLimits& limits) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  auto left = [&] { return static_cast<uint64_t>(end - p); };
  StreamValue* s = Create();
  auto fail = [s]() -> StreamValue* {
    Destroy(s);
    return nullptr;
  };
  auto id = [&](StreamId* out) { return ReadVarint(&p, end, &out->ms) && ReadVarint(&p, end, &out->seq); };
  StreamId last_id, max_deleted;
  uint64_t added, count;
  if (!id(&last_id) || !ReadVarint(&p, end, &added) || !id(&max_deleted) ||
      !ReadVarint(&p, end, &count)) {
    return fail();
  }
  // An entry takes at least five bytes (two ID varints, a count, a field
  // and a value length): a larger count cannot be true.
  if (count > left() / 5 || added < count) return fail();
  std::vector<std::string_view> fv;
  StreamId prev;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t ms_delta, fields;
    StreamId at;
    if (!ReadVarint(&p, end, &ms_delta) || !ReadVarint(&p, end, &at.seq) ||
        !ReadVarint(&p, end, &fields) || fields == 0 || fields > left() / 2) {
      return fail();
    }
    if (ms_delta > UINT64_MAX - prev.ms) return fail();
    at.ms = prev.ms + ms_delta;
    if (at <= prev || at > last_id) return fail();  // also refuses 0-0
    fv.clear();
    for (uint64_t f = 0; f < 2 * fields; ++f) {
      std::string_view str;
      if (!ReadString(&p, end, &str)) return fail();
      fv.push_back(str);
    }
    s->Append(at, fv, limits);
    prev = at;
  }
  s->last_id_ = last_id;
  s->entries_added_ = added;
  s->max_deleted_id_ = max_deleted;
  uint64_t groups;
  // A group takes at least five bytes (name length, last ID, entries read,
  // consumer count).
  if (!ReadVarint(&p, end, &groups) || groups > left() / 5) return fail();
  const std::string* prev_group = nullptr;
  for (uint64_t i = 0; i < groups; ++i) {
    std::string_view name;
    StreamGroup g;
    uint64_t entries_read, consumers;
    if (!ReadString(&p, end, &name) || !id(&g.last_id) || !ReadVarint(&p, end, &entries_read) ||
        !ReadVarint(&p, end, &consumers) || consumers > left() / 4) {
      return fail();
    }
    g.entries_read = UnZigZag(entries_read);
    if (g.entries_read < kInvalidEntriesRead) return fail();
    if (prev_group != nullptr && name <= *prev_group) return fail();
    const std::string* prev_consumer = nullptr;
    for (uint64_t c = 0; c < consumers; ++c) {
      std::string_view cname;
      uint64_t seen, active, pending;
      if (!ReadString(&p, end, &cname) || !ReadVarint(&p, end, &seen) ||
          !ReadVarint(&p, end, &active) || !ReadVarint(&p, end, &pending) ||
          pending > left() / 4) {
        return fail();
      }
      if (prev_consumer != nullptr && cname <= *prev_consumer) return fail();
      auto [cit, fresh] = g.consumers.emplace(std::string(cname), StreamConsumer{});
      prev_consumer = &cit->first;
      cit->second.seen_time = UnZigZag(seen);
      cit->second.active_time = UnZigZag(active);
      StreamId prev_pending;
      for (uint64_t e = 0; e < pending; ++e) {
        StreamId pid;
        uint64_t time, deliveries;
        if (!id(&pid) || !ReadVarint(&p, end, &time) || !ReadVarint(&p, end, &deliveries)) {
          return fail();
        }
        if (e > 0 && pid <= prev_pending) return fail();
        prev_pending = pid;
        auto [pit, inserted] = g.pel.emplace(
            pid, StreamPendingEntry{std::string(cname), UnZigZag(time), deliveries});
        if (!inserted) return fail();  // owned by two consumers
        cit->second.pending.insert(cit->second.pending.end(), pid);
      }
    }
    auto [git, fresh] = s->groups_.emplace(std::string(name), std::move(g));
    prev_group = &git->first;
  }
  if (p != end) return fail();
  return s;
}

}  // namespace causalkv::store
