// Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO)
// and the string commands LCS and SUBSTR, with Redis 7.2's replies, error
// texts and order of checks. A read uses the newest sibling; a write
// replaces every sibling with one new value at a fresh version (keeping the
// TTL, except BITOP, which stores its result as SET does). A write that
// leaves the bytes as they were takes no version. A write copies the whole
// value into the new version's block, so SETBIT and BITFIELD cost O(length)
// where Redis changes its string in place.
//
// Bits are numbered from the most significant bit of the first byte, as in
// Redis: bit 0 is 0x80 of byte 0, bit 9 is 0x40 of byte 1. A string reads as
// if padded with zero bytes without end.
#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "cmd_common.h"
#include "errors.h"

namespace causalkv::command {
namespace {

using store::OpStatus;
using store::SiblingSet;

bool Stored(Context& ctx, OpStatus status) {
  if (status == OpStatus::kOk) return true;
  WriteStoreError(ctx.w, status);
  return false;
}

std::string_view ValueOf(const SiblingSet* set) {
  return set == nullptr ? std::string_view() : set->newest().value;
}

// --- Bits of a byte string ---

bool BitAt(std::string_view s, uint64_t bit) {
  const uint64_t byte = bit >> 3;
  return byte < s.size() && ((static_cast<uint8_t>(s[byte]) >> (7 - (bit & 7))) & 1) != 0;
}

// REQUIRES: bit / 8 < s->size().
void SetBitAt(std::string* s, uint64_t bit, bool on) {
  const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit & 7));
  auto& byte = reinterpret_cast<uint8_t&>((*s)[bit >> 3]);
  byte = on ? (byte | mask) : (byte & ~mask);
}

// The `bits`-wide unsigned integer at `offset`, most significant bit first.
uint64_t GetUnsigned(std::string_view s, uint64_t offset, int bits) {
  uint64_t value = 0;
  for (int i = 0; i < bits; ++i) value = (value << 1) | (BitAt(s, offset + i) ? 1 : 0);
  return value;
}

int64_t GetSigned(std::string_view s, uint64_t offset, int bits) {
  uint64_t value = GetUnsigned(s, offset, bits);
  if (bits < 64 && (value & (uint64_t{1} << (bits - 1))) != 0) value |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(value);
}

// Stores the low `bits` bits of `value`. REQUIRES: the string reaches the last bit.
void SetUnsigned(std::string* s, uint64_t offset, int bits, uint64_t value) {
  for (int i = 0; i < bits; ++i) SetBitAt(s, offset + i, ((value >> (bits - 1 - i)) & 1) != 0);
}

// Set bits in bits [first, last] of s. REQUIRES: first <= last < 8 * size.
int64_t CountBits(std::string_view s, uint64_t first, uint64_t last) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint64_t first_byte = first >> 3, last_byte = last >> 3;
  int64_t count = 0;
  uint64_t i = first_byte;
  for (; i + 8 <= last_byte + 1; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    count += std::popcount(word);
  }
  for (; i <= last_byte; ++i) count += std::popcount(p[i]);
  // Take off the bits of the edge bytes outside the range.
  count -= std::popcount(static_cast<uint8_t>(p[first_byte] & ~(0xff >> (first & 7))));
  count -= std::popcount(static_cast<uint8_t>(p[last_byte] & (0xff >> ((last & 7) + 1))));
  return count;
}

// The first bit equal to `bit` in bits [first, last] of s, or -1.
// REQUIRES: first <= last < 8 * size.
int64_t FindBit(std::string_view s, uint64_t first, uint64_t last, bool bit) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint64_t skip_word = bit ? 0 : ~uint64_t{0};
  const uint8_t skip_byte = bit ? 0 : 0xff;
  uint64_t b = first;
  while (b <= last) {
    if ((b & 63) == 0 && b + 63 <= last) {
      uint64_t word;
      std::memcpy(&word, p + (b >> 3), 8);
      if (word == skip_word) {
        b += 64;
        continue;
      }
    }
    if ((b & 7) == 0 && b + 7 <= last && p[b >> 3] == skip_byte) {
      b += 8;
      continue;
    }
    if (BitAt(s, b) == bit) return static_cast<int64_t>(b);
    ++b;
  }
  return -1;
}

// A start..end range (bytes, or bits with `in_bits`) on a string of `len`
// bytes, resolved as Redis does: negative counts from the end, then both
// are clamped into the string. False if the range is empty; otherwise
// [*first, *last] in bits.
bool ResolveRange(int64_t start, int64_t end, bool in_bits, uint64_t len, uint64_t* first,
                  uint64_t* last) {
  const int64_t total = static_cast<int64_t>(in_bits ? len * 8 : len);
  if (start < 0) start += total;
  if (end < 0) end += total;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  if (start > end) return false;
  *first = in_bits ? static_cast<uint64_t>(start) : static_cast<uint64_t>(start) * 8;
  *last = in_bits ? static_cast<uint64_t>(end) : static_cast<uint64_t>(end) * 8 + 7;
  return true;
}

// "BIT" or "BYTE" (any case); false, with a syntax error written, otherwise.
bool ParseUnit(Context& ctx, std::string_view arg, bool* in_bits) {
  if (EqualsIgnoreCase(arg, "bit")) {
    *in_bits = true;
  } else if (EqualsIgnoreCase(arg, "byte")) {
    *in_bits = false;
  } else {
    ctx.w.Error(err::kSyntax);
    return false;
  }
  return true;
}

bool ParseInteger(Context& ctx, std::string_view arg, int64_t* out) {
  if (ParseInt64(arg, out)) return true;
  ctx.w.Error(err::kNotInteger);
  return false;
}

// The bytes a bit offset may reach: proto-max-bulk-len, and never 512 MB or
// more (Redis's 2^32 bit offset cap at its default), which also keeps every
// value far below what the store can hold.
uint64_t MaxBitmapBytes(const Context& ctx) {
  return std::min<uint64_t>(ctx.server.config.proto_max_bulk_len, uint64_t{1} << 29);
}

// A bit offset argument as Redis reads it; with `hash` and a field width,
// "#n" means the n-th field (n * bits). False, with the error written, if
// it is not an integer or is out of range.
bool ParseBitOffset(Context& ctx, std::string_view arg, bool hash, int bits, uint64_t* offset) {
  const bool by_field = hash && bits > 0 && !arg.empty() && arg[0] == '#';
  int64_t n;
  if (!ParseInt64(arg.substr(by_field ? 1 : 0), &n)) {
    ctx.w.Error(err::kBitOffset);
    return false;
  }
  // Redis multiplies without an overflow check; the product wraps as it does.
  if (by_field) n = static_cast<int64_t>(static_cast<uint64_t>(n) * static_cast<uint64_t>(bits));
  if (n < 0 || (static_cast<uint64_t>(n) >> 3) >= MaxBitmapBytes(ctx)) {
    ctx.w.Error(err::kBitOffset);
    return false;
  }
  *offset = static_cast<uint64_t>(n);
  return true;
}

// --- SETBIT / GETBIT ---

// SETBIT key offset value: replies the bit's previous value.
void SetBit(Context& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], false, 0, &offset)) return;
  int64_t on;
  if (!ParseInt64(ctx.args[3], &on) || (on & ~int64_t{1}) != 0) {
    ctx.w.Error(err::kBitValue);
    return;
  }
  std::string bytes;
  bool old_bit = false;
  bool computed = false;
  bool changed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        const std::string_view old = ValueOf(existing);
        old_bit = BitAt(old, offset);
        computed = true;
        const size_t needed = static_cast<size_t>(offset >> 3) + 1;
        if (existing != nullptr && needed <= old.size() && old_bit == (on == 1)) return false;
        bytes.assign(old);
        if (bytes.size() < needed) bytes.resize(needed, '\0');
        SetBitAt(&bytes, offset, on == 1);
        *value = bytes;
        changed = true;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (!Stored(ctx, status)) return;
  if (changed) Notify(ctx, config::kNotifyString, "setbit", ctx.args[1]);
  ctx.w.Integer(old_bit ? 1 : 0);
}

void GetBit(Context& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], false, 0, &offset)) return;
  const SiblingSet* set;
  if (!LookupString(ctx, ctx.args[1], &set)) return;
  ctx.w.Integer(BitAt(ValueOf(set), offset) ? 1 : 0);
}

// --- BITCOUNT / BITPOS ---

// BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.2, the arguments are
// checked before the key is looked up.
void BitCount(Context& ctx) {
  const size_t argc = ctx.args.size();
  int64_t start = 0, end = -1;
  bool in_bits = false;
  const bool ranged = argc == 4 || argc == 5;
  if (ranged) {
    if (!ParseInteger(ctx, ctx.args[2], &start) || !ParseInteger(ctx, ctx.args[3], &end)) return;
    if (argc == 5 && !ParseUnit(ctx, ctx.args[4], &in_bits)) return;
  } else if (argc != 2) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const SiblingSet* set;
  if (!LookupString(ctx, ctx.args[1], &set)) return;
  // Both ends negative and crossed: empty, before any clamping.
  if (set == nullptr || (ranged && start < 0 && end < 0 && start > end)) {
    ctx.w.Integer(0);
    return;
  }
  const std::string_view value = ValueOf(set);
  if (!ranged) end = static_cast<int64_t>(value.size()) - 1;
  uint64_t first, last;
  if (!ResolveRange(start, end, in_bits, value.size(), &first, &last)) {
    ctx.w.Integer(0);
    return;
  }
  ctx.w.Integer(CountBits(value, first, last));
}

// BITPOS key bit [start [end [BYTE|BIT]]]
void BitPos(Context& ctx) {
  int64_t bit;
  if (!ParseInteger(ctx, ctx.args[2], &bit)) return;
  if (bit != 0 && bit != 1) {
    ctx.w.Error(err::kBitArgument);
    return;
  }
  const size_t argc = ctx.args.size();
  int64_t start = 0, end = 0;
  bool in_bits = false, end_given = false;
  if (argc >= 4 && argc <= 6) {
    // Redis's order: start, the unit, then end.
    if (!ParseInteger(ctx, ctx.args[3], &start)) return;
    if (argc == 6 && !ParseUnit(ctx, ctx.args[5], &in_bits)) return;
    if (argc >= 5) {
      if (!ParseInteger(ctx, ctx.args[4], &end)) return;
      end_given = true;
    }
  } else if (argc != 3) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  const SiblingSet* set;
  if (!LookupString(ctx, ctx.args[1], &set)) return;
  // A missing key is an endless run of zeros.
  if (set == nullptr) {
    ctx.w.Integer(bit == 1 ? -1 : 0);
    return;
  }
  const std::string_view value = ValueOf(set);
  if (!end_given) end = static_cast<int64_t>(value.size()) - 1;
  uint64_t first, last;
  if (!ResolveRange(start, end, in_bits, value.size(), &first, &last)) {
    ctx.w.Integer(-1);
    return;
  }
  const int64_t pos = FindBit(value, first, last, bit == 1);
  // Without an end, the zero padding after the string holds the first clear bit.
  if (pos < 0 && bit == 0 && !end_given) {
    ctx.w.Integer(static_cast<int64_t>(last + 1));
    return;
  }
  ctx.w.Integer(pos);
}

// --- BITOP ---

enum class BitOpKind { kAnd, kOr, kXor, kNot };

// BITOP AND|OR|XOR|NOT destkey key [key ...]: replies the result's length;
// an empty result deletes destkey.
void BitOp(Context& ctx) {
  const std::string_view name = ctx.args[1];
  BitOpKind op;
  if (EqualsIgnoreCase(name, "and")) {
    op = BitOpKind::kAnd;
  } else if (EqualsIgnoreCase(name, "or")) {
    op = BitOpKind::kOr;
  } else if (EqualsIgnoreCase(name, "xor")) {
    op = BitOpKind::kXor;
  } else if (EqualsIgnoreCase(name, "not")) {
    op = BitOpKind::kNot;
  } else {
    ctx.w.Error(err::kSyntax);
    return;
  }
  if (op == BitOpKind::kNot && ctx.args.size() != 4) {
    ctx.w.Error(err::kBitopNotArity);
    return;
  }
  std::vector<std::string_view> sources;
  size_t max_len = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    const SiblingSet* set;
    if (!LookupString(ctx, ctx.args[i], &set)) return;
    sources.push_back(ValueOf(set));
    max_len = std::max(max_len, sources.back().size());
  }
  const std::string_view dest = ctx.args[2];
  if (max_len == 0) {
    if (ctx.db().Delete(dest)) Notify(ctx, config::kNotifyGeneric, "del", dest);
    ctx.w.Integer(0);
    return;
  }
  // A missing key, or the part past a shorter string, reads as zero bytes.
  std::string result(max_len, '\0');
  if (!sources[0].empty()) std::memcpy(result.data(), sources[0].data(), sources[0].size());
  if (op == BitOpKind::kNot) {
    for (char& c : result) c = static_cast<char>(~c);
  }
  for (size_t k = 1; k < sources.size(); ++k) {
    const std::string_view src = sources[k];
    switch (op) {
      case BitOpKind::kAnd:
        for (size_t j = 0; j < src.size(); ++j) result[j] &= src[j];
        std::fill(result.begin() + static_cast<ptrdiff_t>(src.size()), result.end(), '\0');
        break;
      case BitOpKind::kOr:
        for (size_t j = 0; j < src.size(); ++j) result[j] |= src[j];
        break;
      case BitOpKind::kXor:
        for (size_t j = 0; j < src.size(); ++j) result[j] ^= src[j];
        break;
      case BitOpKind::kNot:
        break;
    }
  }
  if (Stored(ctx, ctx.db().Set(dest, result, store::TtlUpdate::Clear()))) {
    Notify(ctx, config::kNotifyString, "set", dest);
    ctx.w.Integer(static_cast<int64_t>(max_len));
  }
}

// --- BITFIELD / BITFIELD_RO ---

enum class Overflow { kWrap, kSat, kFail };

struct FieldOp {
  enum class Kind { kGet, kSet, kIncrBy } kind;
  uint64_t offset;
  int64_t value;  // SET's value, INCRBY's increment
  int bits;
  bool is_signed;
  Overflow overflow;
};

// i1..i64 or u1..u63 (Redis's replies are signed 64-bit integers).
bool ParseFieldType(Context& ctx, std::string_view arg, bool* is_signed, int* bits) {
  int64_t n;
  if (arg.empty() || (arg[0] != 'i' && arg[0] != 'u') || !ParseInt64(arg.substr(1), &n) || n < 1 ||
      n > (arg[0] == 'i' ? 64 : 63)) {
    ctx.w.Error(err::kBitfieldType);
    return false;
  }
  *is_signed = arg[0] == 'i';
  *bits = static_cast<int>(n);
  return true;
}

// Whether value + incr fits a signed field of `bits`: 0, or 1 above it and
// -1 below it, with *limit what WRAP or SAT store instead. Redis's exact
// conditions, wrapping differences included, so that out-of-range SET values
// saturate to the same end as in Redis.
int CheckSigned(int64_t value, int64_t incr, int bits, Overflow overflow, int64_t* limit) {
  const int64_t max = bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -max - 1;
  const auto max_incr =
      static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
  const auto min_incr =
      static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
  int result = 0;
  if (value > max || (bits != 64 && incr > max_incr) ||
      (value >= 0 && incr > 0 && incr > max_incr)) {
    result = 1;
  } else if (value < min || (bits != 64 && incr < min_incr) ||
             (value < 0 && incr < 0 && incr < min_incr)) {
    result = -1;
  }
  if (result == 0) return 0;
  if (overflow == Overflow::kWrap) {
    uint64_t sum = static_cast<uint64_t>(value) + static_cast<uint64_t>(incr);
    if (bits < 64) {
      const uint64_t high = ~uint64_t{0} << bits;
      sum = (sum & (uint64_t{1} << (bits - 1))) != 0 ? (sum | high) : (sum & ~high);
    }
    *limit = static_cast<int64_t>(sum);
  } else if (overflow == Overflow::kSat) {
    *limit = result > 0 ? max : min;
  }
  return result;
}

// The same for an unsigned field (bits <= 63).
int CheckUnsigned(uint64_t value, int64_t incr, int bits, Overflow overflow, uint64_t* limit) {
  const uint64_t max = (uint64_t{1} << bits) - 1;
  const auto max_incr = static_cast<int64_t>(max - value);
  const auto min_incr = static_cast<int64_t>(uint64_t{0} - value);
  int result = 0;
  if (value > max || (incr > 0 && incr > max_incr)) {
    result = 1;
  } else if (incr < 0 && incr < min_incr) {
    result = -1;
  }
  if (result == 0) return 0;
  if (overflow == Overflow::kWrap) {
    *limit = (value + static_cast<uint64_t>(incr)) & ~(~uint64_t{0} << bits);
  } else if (overflow == Overflow::kSat) {
    *limit = result > 0 ? max : 0;
  }
  return result;
}

// Runs one SET or INCRBY on `bytes` (long enough): the reply, or nothing
// when the overflow policy is FAIL and the value does not fit.
std::optional<int64_t> RunWrite(std::string* bytes, const FieldOp& op) {
  const bool incr = op.kind == FieldOp::Kind::kIncrBy;
  if (op.is_signed) {
    const int64_t old = GetSigned(*bytes, op.offset, op.bits);
    int64_t limit = 0;
    int64_t next;
    int over;
    if (incr) {
      over = CheckSigned(old, op.value, op.bits, op.overflow, &limit);
      // Without overflow the sum is exact; it is computed unsigned only to be defined.
      next = over != 0 ? limit
                       : static_cast<int64_t>(static_cast<uint64_t>(old) +
                                              static_cast<uint64_t>(op.value));
    } else {
      over = CheckSigned(op.value, 0, op.bits, op.overflow, &limit);
      next = over != 0 ? limit : op.value;
    }
    if (over != 0 && op.overflow == Overflow::kFail) return std::nullopt;
    SetUnsigned(bytes, op.offset, op.bits, static_cast<uint64_t>(next));
    return incr ? next : old;
  }
  const uint64_t old = GetUnsigned(*bytes, op.offset, op.bits);
  uint64_t limit = 0;
  uint64_t next;
  int over;
  if (incr) {
    over = CheckUnsigned(old, op.value, op.bits, op.overflow, &limit);
    next = over != 0 ? limit : old + static_cast<uint64_t>(op.value);
  } else {
    const auto value = static_cast<uint64_t>(op.value);
    over = CheckUnsigned(value, 0, op.bits, op.overflow, &limit);
    next = over != 0 ? limit : value;
  }
  if (over != 0 && op.overflow == Overflow::kFail) return std::nullopt;
  SetUnsigned(bytes, op.offset, op.bits, next);
  return static_cast<int64_t>(incr ? next : old);
}

int64_t RunGet(std::string_view bytes, const FieldOp& op) {
  return op.is_signed ? GetSigned(bytes, op.offset, op.bits)
                      : static_cast<int64_t>(GetUnsigned(bytes, op.offset, op.bits));
}

void WriteFieldResults(Context& ctx, const std::vector<std::optional<int64_t>>& results) {
  ctx.w.ArrayHeader(static_cast<int64_t>(results.size()));
  for (const std::optional<int64_t>& r : results) {
    if (r.has_value()) {
      ctx.w.Integer(*r);
    } else {
      ctx.w.Null();
    }
  }
}

// BITFIELD key [GET type offset | SET type offset value |
// INCRBY type offset increment | OVERFLOW WRAP|SAT|FAIL ...]. Every
// operation is checked before the key is looked up; they then run in order.
void BitFieldGeneric(Context& ctx, bool read_only_command) {
  std::vector<FieldOp> ops;
  Overflow overflow = Overflow::kWrap;
  bool writes = false;
  uint64_t highest_bit = 0;
  const size_t argc = ctx.args.size();
  for (size_t j = 2; j < argc; ++j) {
    const size_t remaining = argc - j - 1;
    const std::string_view sub = ctx.args[j];
    FieldOp op{};
    if (EqualsIgnoreCase(sub, "get") && remaining >= 2) {
      op.kind = FieldOp::Kind::kGet;
    } else if (EqualsIgnoreCase(sub, "set") && remaining >= 3) {
      op.kind = FieldOp::Kind::kSet;
    } else if (EqualsIgnoreCase(sub, "incrby") && remaining >= 3) {
      op.kind = FieldOp::Kind::kIncrBy;
    } else if (EqualsIgnoreCase(sub, "overflow") && remaining >= 1) {
      const std::string_view mode = ctx.args[++j];
      if (EqualsIgnoreCase(mode, "wrap")) {
        overflow = Overflow::kWrap;
      } else if (EqualsIgnoreCase(mode, "sat")) {
        overflow = Overflow::kSat;
      } else if (EqualsIgnoreCase(mode, "fail")) {
        overflow = Overflow::kFail;
      } else {
        ctx.w.Error(err::kBitfieldOverflow);
        return;
      }
      continue;
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
    if (!ParseFieldType(ctx, ctx.args[j + 1], &op.is_signed, &op.bits)) return;
    if (!ParseBitOffset(ctx, ctx.args[j + 2], true, op.bits, &op.offset)) return;
    if (op.kind != FieldOp::Kind::kGet) {
      writes = true;
      highest_bit = std::max(highest_bit, op.offset + op.bits - 1);
      if (!ParseInteger(ctx, ctx.args[j + 3], &op.value)) return;
    }
    op.overflow = overflow;
    ops.push_back(op);
    j += op.kind == FieldOp::Kind::kGet ? 2 : 3;
  }

  std::vector<std::optional<int64_t>> results;
  results.reserve(ops.size());
  if (!writes) {
    const SiblingSet* set;
    if (!LookupString(ctx, ctx.args[1], &set)) return;
    for (const FieldOp& op : ops) results.emplace_back(RunGet(ValueOf(set), op));
    WriteFieldResults(ctx, results);
    return;
  }
  if (read_only_command) {
    ctx.w.Error(err::kBitfieldReadOnly);
    return;
  }
  std::string bytes;
  bool computed = false;
  const OpStatus status = ctx.db().Rewrite(
      ctx.args[1], [&](const SiblingSet* existing, std::string_view* value) {
        const std::string_view old = ValueOf(existing);
        // As Redis, the string first grows to the farthest bit written,
        // even if every write then fails its overflow check.
        bytes.assign(old);
        const size_t needed = static_cast<size_t>(highest_bit >> 3) + 1;
        if (bytes.size() < needed) bytes.resize(needed, '\0');
        for (const FieldOp& op : ops) {
          results.push_back(op.kind == FieldOp::Kind::kGet ? std::optional(RunGet(bytes, op))
                                                           : RunWrite(&bytes, op));
        }
        computed = true;
        if (existing != nullptr && bytes == old) return false;
        *value = bytes;
        return true;
      });
  if (!computed && status != OpStatus::kWrongType) return;
  if (!Stored(ctx, status)) return;
  // As Redis: "setbit" when any SET or INCRBY succeeded, changed bytes or not.
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind != FieldOp::Kind::kGet && results[i].has_value()) {
      Notify(ctx, config::kNotifyString, "setbit", ctx.args[1]);
      break;
    }
  }
  WriteFieldResults(ctx, results);
}

void BitField(Context& ctx) { BitFieldGeneric(ctx, false); }
void BitFieldRo(Context& ctx) { BitFieldGeneric(ctx, true); }

// --- LCS / SUBSTR ---

struct LcsMatch {
  uint32_t a_start, a_end, b_start, b_end;
};

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest
// common subsequence of two strings (a missing key is empty), by the usual
// dynamic programming table, walked back from its end as Redis walks it so
// that ties pick the same subsequence and IDX lists the same ranges.
void Lcs(Context& ctx) {
  const SiblingSet* set_a = LookupRead(ctx, ctx.args[1]);
  const SiblingSet* set_b = LookupRead(ctx, ctx.args[2]);
  if ((set_a != nullptr && !set_a->holds_string()) ||
      (set_b != nullptr && !set_b->holds_string())) {
    ctx.w.Error(err::kLcsWrongType);
    return;
  }
  const std::string_view a = ValueOf(set_a), b = ValueOf(set_b);
  bool want_len = false, want_idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const std::string_view opt = ctx.args[j];
    const bool more = j + 1 < ctx.args.size();
    if (EqualsIgnoreCase(opt, "idx")) {
      want_idx = true;
    } else if (EqualsIgnoreCase(opt, "len")) {
      want_len = true;
    } else if (EqualsIgnoreCase(opt, "withmatchlen")) {
      with_match_len = true;
    } else if (EqualsIgnoreCase(opt, "minmatchlen") && more) {
      if (!ParseInteger(ctx, ctx.args[++j], &min_match_len)) return;
      min_match_len = std::max<int64_t>(min_match_len, 0);
    } else {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  if (want_idx && want_len) {
    ctx.w.Error(err::kLcsLenAndIdx);
    return;
  }
  if (a.size() >= UINT32_MAX - 1 || b.size() >= UINT32_MAX - 1) {
    ctx.w.Error(err::kLcsTooLong);
    return;
  }
  const auto a_len = static_cast<uint32_t>(a.size());
  const auto b_len = static_cast<uint32_t>(b.size());
  // The table: cell (i, j) is the LCS length of a[0..i) and b[0..j).
  const uint64_t cells = (uint64_t{a_len} + 1) * (uint64_t{b_len} + 1);
  if (cells * sizeof(uint32_t) > ctx.server.config.proto_max_bulk_len) {
    ctx.w.Error(err::kLcsTableTooBig);
    return;
  }
  std::unique_ptr<uint32_t[]> table(new (std::nothrow) uint32_t[cells]);
  if (table == nullptr) {
    ctx.w.Error(err::kLcsNoMemory);
    return;
  }
  const uint64_t row = uint64_t{b_len} + 1;
  auto at = [&](uint32_t i, uint32_t j) -> uint32_t& { return table[i * row + j]; };
  for (uint32_t i = 0; i <= a_len; ++i) {
    for (uint32_t j = 0; j <= b_len; ++j) {
      if (i == 0 || j == 0) {
        at(i, j) = 0;
      } else if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }
  const uint32_t lcs_len = at(a_len, b_len);
  if (want_len) {
    ctx.w.Integer(lcs_len);
    return;
  }

  // Walk back from the end, collecting the subsequence and its runs of
  // consecutive matches in both strings; a_start == a_len means no run is open.
  std::string lcs(lcs_len, '\0');
  std::vector<LcsMatch> matches;
  LcsMatch run{a_len, 0, 0, 0};
  uint32_t i = a_len, j = b_len, k = lcs_len;
  while (i > 0 && j > 0) {
    bool close_run = false;
    if (a[i - 1] == b[j - 1]) {
      lcs[--k] = a[i - 1];
      if (run.a_start == a_len) {
        run = {i - 1, i - 1, j - 1, j - 1};
      } else if (run.a_start == i && run.b_start == j) {
        --run.a_start;
        --run.b_start;
      } else {
        close_run = true;
      }
      if (run.a_start == 0 || run.b_start == 0) close_run = true;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (run.a_start != a_len) close_run = true;
    }
    if (close_run) {
      const uint32_t length = run.a_end - run.a_start + 1;
      if (min_match_len == 0 || length >= min_match_len) matches.push_back(run);
      run.a_start = a_len;
    }
  }
  if (!want_idx) {
    ctx.w.Bulk(lcs);
    return;
  }
  ctx.w.MapHeader(2);
  ctx.w.Bulk("matches");
  ctx.w.ArrayHeader(static_cast<int64_t>(matches.size()));
  for (const LcsMatch& m : matches) {
    ctx.w.ArrayHeader(with_match_len ? 3 : 2);
    ctx.w.ArrayHeader(2);
    ctx.w.Integer(m.a_start);
    ctx.w.Integer(m.a_end);
    ctx.w.ArrayHeader(2);
    ctx.w.Integer(m.b_start);
    ctx.w.Integer(m.b_end);
    if (with_match_len) ctx.w.Integer(m.a_end - m.a_start + 1);
  }
  ctx.w.Bulk("len");
  ctx.w.Integer(lcs_len);
}

// SUBSTR is GETRANGE under its old name.
void Substr(Context& ctx) { ctx.table.Find("getrange")->handler(ctx); }

}  // namespace

void RegisterBitmapCommands(std::vector<CommandSpec>* out) {
  const uint32_t kWr = kWrite | kDenyOom;
  auto add = [&](const char* name, int arity, uint32_t flags, int first, int last, Handler h,
                 const char* group, const char* since, const char* summary,
                 const char* complexity, const char* args) {
    out->push_back(
        {name, arity, flags, first, last, 1, h, group, since, summary, complexity, args, {}});
  };
  add("setbit", 4, kWr, 1, 1, SetBit, "bitmap", "2.2.0",
      "Sets or clears the bit at offset of the string value. Creates the key if it doesn't "
      "exist.",
      "O(1)", "key:key offset:integer value:integer");
  add("getbit", 3, kReadOnly | kFast, 1, 1, GetBit, "bitmap", "2.2.0",
      "Returns a bit value by offset.", "O(1)", "key:key offset:integer");
  add("bitcount", -2, kReadOnly, 1, 1, BitCount, "bitmap", "2.6.0",
      "Counts the number of set bits (population counting) in a string.", "O(N)",
      "key:key [start:integer] [end:integer] [BYTE] [BIT]");
  add("bitpos", -3, kReadOnly, 1, 1, BitPos, "bitmap", "2.8.7",
      "Finds the first set (1) or clear (0) bit in a string.", "O(N)",
      "key:key bit:integer [start:integer] [end:integer] [BYTE] [BIT]");
  add("bitop", -4, kWr, 2, -1, BitOp, "bitmap", "2.6.0",
      "Performs bitwise operations on multiple strings, and stores the result.", "O(N)",
      "AND|OR|XOR|NOT destkey:key key:key...");
  add("bitfield", -2, kWr, 1, 1, BitField, "bitmap", "3.2.0",
      "Performs arbitrary bitfield integer operations on strings.",
      "O(1) for each subcommand specified",
      "key:key [GET=encoding:string...] [SET=encoding:string...] "
      "[INCRBY=encoding:string...] [OVERFLOW=WRAP|SAT|FAIL:oneof...]");
  add("bitfield_ro", -2, kReadOnly | kFast, 1, 1, BitFieldRo, "bitmap", "6.0.0",
      "Performs arbitrary read-only bitfield integer operations on strings.",
      "O(1) for each subcommand specified", "key:key [GET=encoding:string...]");
  add("lcs", -3, kReadOnly, 1, 2, Lcs, "string", "7.0.0", "Finds the longest common substring.",
      "O(N*M) where N and M are the lengths of s1 and s2, respectively",
      "key1:key key2:key [LEN] [IDX] [MINMATCHLEN=min-match-len:integer] [WITHMATCHLEN]");
  add("substr", 4, kReadOnly, 1, 1, Substr, "string", "1.0.0",
      "Returns a substring from a string value.",
      "O(N) where N is the length of the returned string.",
      "key:key start:integer end:integer");
}

}  // namespace causalkv::command
