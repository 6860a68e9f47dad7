#include "causalkv/store/causal.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace causalkv::store {
namespace {

// --- byte helpers: little-endian fixed64 and LEB128 varints ---

void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

// Writes v as a base-128 varint at p (at most 10 bytes); returns the end.
char* WriteVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// One append per varint: byte-by-byte push_back cost about 80 instructions
// a varint, and every replicated state carries several.
void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  out->append(buf, static_cast<size_t>(WriteVarint(buf, v) - buf));
}

// A sibling length from here up names a typed sibling (no string is that long).
constexpr uint64_t kTypedSiblingMark = uint64_t{1} << 62;

void PutSibling(std::string* out, const Dot& dot, std::string_view value, ValueType type) {
  PutFixed64(out, dot.actor);
  PutVarint(out, dot.counter);
  if (type != ValueType::kString) PutVarint(out, kTypedSiblingMark + static_cast<uint8_t>(type));
  PutVarint(out, value.size());
  out->append(value);
}

bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r |= static_cast<uint64_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(8);
  *v = r;
  return true;
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0, i = 0; shift < 64; shift += 7, ++i) {
    if (static_cast<size_t>(i) >= in->size()) return false;
    const auto b = static_cast<uint8_t>((*in)[i]);
    if (shift == 63 && b > 1) return false;  // would overflow 64 bits
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      // A canonical varint has no trailing zero groups (so equal states
      // encode to equal bytes, and a token re-encodes to itself).
      if (i > 0 && b == 0) return false;
      in->remove_prefix(i + 1);
      *v = r;
      return true;
    }
  }
  return false;
}

// FNV-1a: a token checksum catches a mangled paste, not a forger (the
// server checks a token's counters against what it has issued instead).
uint32_t Fnv1a(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

constexpr char kBase64Url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Unpadded: 4 characters per 3 bytes, then 2 or 3 for a rest of 1 or 2.
void AppendBase64Url(std::string_view in, std::string* appended_to) {
  std::string& out = *appended_to;
  const size_t start = out.size();
  out.resize(start + (in.size() * 4 + 2) / 3);
  char* p = out.data() + start;
  const auto* b = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    *p++ = kBase64Url[(n >> 18) & 63];
    *p++ = kBase64Url[(n >> 12) & 63];
    *p++ = kBase64Url[(n >> 6) & 63];
    *p++ = kBase64Url[n & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    const uint32_t n = (uint32_t{b[i]} << 16) | (rest == 2 ? uint32_t{b[i + 1]} << 8 : 0);
    *p++ = kBase64Url[(n >> 18) & 63];
    *p++ = kBase64Url[(n >> 12) & 63];
    if (rest == 2) *p++ = kBase64Url[(n >> 6) & 63];
  }
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict: rejects padding, a length of 1 mod 4 and non-zero spare bits, so
// that every accepted string is exactly what AppendBase64Url produces.
bool Base64UrlDecode(std::string_view in, std::string* out) {
  if (in.size() % 4 == 1) return false;
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

constexpr uint8_t kTokenFormat = 1;            // DO NOT CHANGE (clients hold tokens)
constexpr size_t kMaxTokenEntries = 4096;       // far above any real cluster
constexpr size_t kMaxTokenChars = 4 * 4096 * 24;

bool SiblingOrder(const SiblingValue& a, const SiblingValue& b) { return a.dot < b.dot; }

// Sibling `s` of one side survives a merge with `other` unless other's
// context covers it and other does not hold it.
bool Survives(const SiblingValue& s, const KeyState& other) {
  if (!other.context.Covers(s.dot)) return true;
  return std::binary_search(other.siblings.begin(), other.siblings.end(), s, SiblingOrder);
}

bool StampLess(const KeyState& a, const KeyState& b) {
  if (a.ttl_stamp == b.ttl_stamp) return a.expire_at_ms < b.expire_at_ms;  // deterministic
  return a.ttl_stamp < b.ttl_stamp;
}

}  // namespace

uint64_t VersionVector::Get(ActorId actor) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const Entry& e, ActorId a) { return e.first < a; });
  return it != entries_.end() && it->first == actor ? it->second : 0;
}

void VersionVector::Advance(ActorId actor, uint64_t counter) {
  if (counter == 0) return;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const Entry& e, ActorId a) { return e.first < a; });
  if (it != entries_.end() && it->first == actor) {
    it->second = std::max(it->second, counter);
  } else {
    entries_.insert(it, Entry{actor, counter});
  }
}

void VersionVector::Join(const VersionVector& other) {
  if (other.entries_.empty()) return;
  std::vector<Entry> joined;
  joined.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      joined.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      joined.push_back(*b++);
    } else {
      joined.push_back(Entry{a->first, std::max(a->second, b->second)});
      ++a;
      ++b;
    }
  }
  entries_ = std::move(joined);
}

bool VersionVector::Descends(const VersionVector& other) const {
  for (const Entry& e : other.entries_) {
    if (Get(e.first) < e.second) return false;
  }
  return true;
}

bool Valid(const KeyState& state) {
  const auto& entries = state.context.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].second == 0) return false;
    if (i > 0 && entries[i - 1].first >= entries[i].first) return false;
  }
  for (size_t i = 0; i < state.siblings.size(); ++i) {
    const Dot& d = state.siblings[i].dot;
    if (d.counter == 0 || !state.context.Covers(d)) return false;
    if (i > 0 && !(state.siblings[i - 1].dot < d)) return false;
  }
  if (state.expire_at_ms < KeyState::kNoExpire) return false;
  return true;
}

KeyState Sync(const KeyState& a, const KeyState& b) {
  KeyState out;
  out.context = a.context;
  out.context.Join(b.context);
  out.siblings.reserve(a.siblings.size() + b.siblings.size());
  auto x = a.siblings.begin();
  auto y = b.siblings.begin();
  while (x != a.siblings.end() || y != b.siblings.end()) {
    if (y == b.siblings.end() || (x != a.siblings.end() && x->dot < y->dot)) {
      if (Survives(*x, b)) out.siblings.push_back(*x);
      ++x;
    } else if (x == a.siblings.end() || y->dot < x->dot) {
      if (Survives(*y, a)) out.siblings.push_back(*y);
      ++y;
    } else {
      out.siblings.push_back(*x);  // the same dot on both sides: the same write
      ++x;
      ++y;
    }
  }
  const KeyState& ttl_from = StampLess(a, b) ? b : a;
  out.expire_at_ms = ttl_from.expire_at_ms;
  out.ttl_stamp = ttl_from.ttl_stamp;
  return out;
}

bool Includes(const KeyState& local, const KeyState& incoming) {
  if (!local.context.Descends(incoming.context)) return false;
  // Every incoming sibling is either held here or known (covered) and gone.
  for (const SiblingValue& s : incoming.siblings) {
    if (!Survives(s, local)) continue;
    if (!std::binary_search(local.siblings.begin(), local.siblings.end(), s, SiblingOrder)) {
      return false;
    }
  }
  // And nothing held here is known to incoming as overwritten or deleted.
  for (const SiblingValue& s : local.siblings) {
    if (!Survives(s, incoming)) return false;
  }
  if (StampLess(local, incoming)) return false;
  return true;
}

size_t SiblingsAfterWrite(const KeyState& state, const VersionVector& seen) {
  size_t kept = 0;
  for (const SiblingValue& s : state.siblings) kept += seen.Covers(s.dot) ? 0 : 1;
  return kept + 1;
}

void ApplyWrite(KeyState* state, const VersionVector& seen, const Dot& dot,
                const std::string* value, ValueType type) {
  std::erase_if(state->siblings, [&](const SiblingValue& s) { return seen.Covers(s.dot); });
  state->context.Join(seen);
  if (value == nullptr) return;
  state->context.Advance(dot.actor, dot.counter);
  SiblingValue added{dot, *value, type};
  auto at = std::upper_bound(state->siblings.begin(), state->siblings.end(), added, SiblingOrder);
  state->siblings.insert(at, std::move(added));
}

std::string EncodeContextToken(const VersionVector& context) {
  std::string token;
  EncodeContextToken(context.entries(), &token);
  return token;
}

void EncodeContextToken(std::span<const VersionVector::Entry> context, std::string* out) {
  out->clear();
  if (context.empty()) {
    out->push_back('0');
    return;
  }
  // Written through a pointer into a buffer sized for the longest encoding:
  // on the stack for a cluster of up to 8 nodes, else scratch kept between
  // calls (every VGET and VPUT reply carries a token).
  constexpr size_t kEntryBytes = 8 + 10;
  const size_t most = 1 + 10 + context.size() * kEntryBytes + 4;
  char small[1 + 10 + 8 * kEntryBytes + 4];
  thread_local std::string large;
  char* const begin = most <= sizeof small ? small : (large.resize(most), large.data());
  char* p = begin;
  *p++ = static_cast<char>(kTokenFormat);
  p = WriteVarint(p, context.size());
  for (const auto& [actor, counter] : context) {
    for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(actor >> (8 * i));
    p = WriteVarint(p, counter);
  }
  const uint32_t sum = Fnv1a({begin, static_cast<size_t>(p - begin)});
  for (int i = 0; i < 4; ++i) *p++ = static_cast<char>(sum >> (8 * i));
  AppendBase64Url({begin, static_cast<size_t>(p - begin)}, out);
}

bool DecodeContextToken(std::string_view token, VersionVector* out, std::string* error) {
  if (token == "0") {
    *out = VersionVector();
    return true;
  }
  std::string bytes;
  if (token.empty() || token.size() > kMaxTokenChars || !Base64UrlDecode(token, &bytes) ||
      bytes.size() < 6) {
    *error = "not a context token";
    return false;
  }
  const std::string_view body(bytes.data(), bytes.size() - 4);
  uint32_t sum = 0;
  for (int i = 0; i < 4; ++i) {
    sum |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[bytes.size() - 4 + i])) << (8 * i);
  }
  if (sum != Fnv1a(body)) {
    *error = "context token checksum mismatch";
    return false;
  }
  std::string_view in = body;
  if (static_cast<uint8_t>(in[0]) != kTokenFormat) {
    *error = "unknown context token format";
    return false;
  }
  in.remove_prefix(1);
  uint64_t count;
  if (!GetVarint(&in, &count) || count == 0 || count > kMaxTokenEntries) {
    *error = "malformed context token";
    return false;
  }
  std::vector<VersionVector::Entry> entries;
  entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t actor, counter;
    if (!GetFixed64(&in, &actor) || !GetVarint(&in, &counter) || actor == 0 || counter == 0 ||
        (!entries.empty() && entries.back().first >= actor)) {
      *error = "malformed context token";
      return false;
    }
    entries.emplace_back(actor, counter);
  }
  if (!in.empty()) {
    *error = "malformed context token";
    return false;
  }
  *out = VersionVector(std::move(entries));
  return true;
}

std::string FormatDot(const Dot& dot) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx:%llu", static_cast<unsigned long long>(dot.actor),
                static_cast<unsigned long long>(dot.counter));
  return buf;
}

// Layout, version 1 (DO NOT CHANGE):
//   varint n_context, n_context x (fixed64 actor, varint counter)
//   varint n_siblings, n_siblings x (fixed64 actor, varint counter, varint len, bytes)
//     (the typed-sibling extension: len = kTypedSiblingMark + type, then
//     varint len, bytes, the value's plain-data form; a string-only state
//     encodes exactly as before, and an older decoder rejects a typed one)
//   varint has_ttl [varint expire_at_ms]
//   fixed64 ttl_stamp.actor, varint ttl_stamp.counter
void EncodeKeyState(const KeyState& state, std::string* out) {
  PutVarint(out, state.context.size());
  for (const auto& [actor, counter] : state.context.entries()) {
    PutFixed64(out, actor);
    PutVarint(out, counter);
  }
  PutVarint(out, state.siblings.size());
  for (const SiblingValue& s : state.siblings) {
    PutSibling(out, s.dot, s.value, s.type);
  }
  if (state.expire_at_ms == KeyState::kNoExpire) {
    PutVarint(out, 0);
  } else {
    PutVarint(out, 1);
    PutVarint(out, static_cast<uint64_t>(state.expire_at_ms));
  }
  PutFixed64(out, state.ttl_stamp.actor);
  PutVarint(out, state.ttl_stamp.counter);
}

void EncodeKeyStateParts(const std::vector<VersionVector::Entry>& context,
                         const std::vector<SiblingRef>& siblings, int64_t expire_at_ms,
                         const Dot& ttl_stamp, std::string* out) {
  // EncodeKeyState's bytes, written through a pointer into room sized for
  // the longest encoding (every replicated write encodes one state; an
  // append per field cost more than the rest of the encoding).
  constexpr size_t kVarint = 10;
  constexpr size_t kFixed = 8;
  size_t most = kVarint + context.size() * (kFixed + kVarint) + kVarint + 1 + kVarint + kFixed +
                kVarint;
  for (const SiblingRef& s : siblings) most += kFixed + 3 * kVarint + s.value.size();
  const size_t start = out->size();
  out->resize(start + most);
  char* p = out->data() + start;
  auto fixed = [&p](uint64_t v) {
    for (size_t i = 0; i < kFixed; ++i) *p++ = static_cast<char>(v >> (8 * i));
  };
  p = WriteVarint(p, context.size());
  for (const auto& [actor, counter] : context) {
    fixed(actor);
    p = WriteVarint(p, counter);
  }
  p = WriteVarint(p, siblings.size());
  for (const SiblingRef& s : siblings) {
    fixed(s.dot.actor);
    p = WriteVarint(p, s.dot.counter);
    if (s.type != ValueType::kString) {
      p = WriteVarint(p, kTypedSiblingMark + static_cast<uint8_t>(s.type));
    }
    p = WriteVarint(p, s.value.size());
    if (!s.value.empty()) std::memcpy(p, s.value.data(), s.value.size());
    p += s.value.size();
  }
  if (expire_at_ms == KeyState::kNoExpire) {
    p = WriteVarint(p, 0);
  } else {
    p = WriteVarint(p, 1);
    p = WriteVarint(p, static_cast<uint64_t>(expire_at_ms));
  }
  fixed(ttl_stamp.actor);
  p = WriteVarint(p, ttl_stamp.counter);
  out->resize(static_cast<size_t>(p - out->data()));
}

bool DecodeKeyState(std::string_view* in, KeyState* out, std::string* error) {
  auto fail = [&](const char* why) {
    *error = why;
    return false;
  };
  std::string_view p = *in;
  uint64_t n;
  KeyState state;
  state.siblings = std::move(out->siblings);
  state.siblings.clear();
  std::vector<VersionVector::Entry> entries = out->context.Release();
  entries.clear();
  *out = KeyState();
  // Each entry takes at least 9 bytes, so a count above that is a lie that
  // must not reserve memory.
  if (!GetVarint(&p, &n) || n > p.size() / 9) return fail("bad context count");
  entries.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t actor, counter;
    if (!GetFixed64(&p, &actor) || !GetVarint(&p, &counter)) return fail("truncated context");
    if (actor == 0 || counter == 0 || (!entries.empty() && entries.back().first >= actor)) {
      return fail("context entries not sorted, or zero");
    }
    entries.emplace_back(actor, counter);
  }
  state.context = VersionVector(std::move(entries));
  if (!GetVarint(&p, &n) || n > p.size() / 10) return fail("bad sibling count");
  state.siblings.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    SiblingValue s;
    uint64_t len;
    if (!GetFixed64(&p, &s.dot.actor) || !GetVarint(&p, &s.dot.counter) ||
        !GetVarint(&p, &len)) {
      return fail("truncated sibling");
    }
    if (len >= kTypedSiblingMark) {
      if (len - kTypedSiblingMark > kMaxValueType || len == kTypedSiblingMark) {
        return fail("unknown value type");
      }
      s.type = static_cast<ValueType>(len - kTypedSiblingMark);
      if (!GetVarint(&p, &len)) return fail("truncated sibling");
    }
    if (len > p.size()) return fail("truncated sibling");
    s.value.assign(p.data(), len);
    p.remove_prefix(len);
    state.siblings.push_back(std::move(s));
  }
  uint64_t has_ttl;
  if (!GetVarint(&p, &has_ttl) || has_ttl > 1) return fail("bad ttl flag");
  if (has_ttl == 1) {
    uint64_t at;
    if (!GetVarint(&p, &at) || at > static_cast<uint64_t>(INT64_MAX)) return fail("bad ttl");
    state.expire_at_ms = static_cast<int64_t>(at);
  }
  if (!GetFixed64(&p, &state.ttl_stamp.actor) || !GetVarint(&p, &state.ttl_stamp.counter)) {
    return fail("truncated ttl stamp");
  }
  if (!Valid(state)) return fail("state breaks its invariants");
  *in = p;
  *out = std::move(state);
  return true;
}

}  // namespace causalkv::store
