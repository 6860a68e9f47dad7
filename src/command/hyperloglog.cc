// HyperLogLog in Redis's representation: see hyperloglog.h for the layout.
// Every rule that decides a byte of the output (how a sparse opcode is split,
// which neighbours are merged, when to promote) follows Redis's behaviour,
// since clients compare GET of a key with what Redis would hold.
#include "hyperloglog.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace causalkv::command::hll {
namespace {

constexpr int kBits = 6;     // a dense register
constexpr int kQ = 64 - 14;  // hash bits left for the zero run
constexpr uint8_t kRegisterMax = (1 << kBits) - 1;
constexpr uint64_t kSeed = 0xadc83b19ull;
constexpr size_t kEncodingByte = 4;
constexpr size_t kStaleByte = 15;

// --- Dense registers ---

uint8_t DenseGet(const uint8_t* regs, size_t regs_len, uint32_t index) {
  const size_t byte = index * kBits / 8;
  const unsigned shift = index * kBits & 7;
  unsigned v = regs[byte] >> shift;
  // The last register fits in its first byte; the byte after it is not read.
  if (byte + 1 < regs_len) v |= static_cast<unsigned>(regs[byte + 1]) << (8 - shift);
  return static_cast<uint8_t>(v & kRegisterMax);
}

void DenseSet(uint8_t* regs, size_t regs_len, uint32_t index, uint8_t value) {
  const size_t byte = index * kBits / 8;
  const unsigned shift = index * kBits & 7;
  regs[byte] = static_cast<uint8_t>((regs[byte] & ~(kRegisterMax << shift)) | (value << shift));
  if (byte + 1 < regs_len) {
    const unsigned rest = 8 - shift;
    regs[byte + 1] =
        static_cast<uint8_t>((regs[byte + 1] & ~(kRegisterMax >> rest)) | (value >> rest));
  }
}

uint8_t* DenseRegisters(std::string* hll) {
  return reinterpret_cast<uint8_t*>(hll->data()) + kHeaderSize;
}
const uint8_t* DenseRegisters(std::string_view hll) {
  return reinterpret_cast<const uint8_t*>(hll.data()) + kHeaderSize;
}
constexpr size_t kDenseRegistersLen = kDenseSize - kHeaderSize;

// --- Sparse opcodes ---

constexpr uint8_t kXZeroBit = 0x40;
constexpr uint8_t kValBit = 0x80;
constexpr int kValMaxValue = 32;
constexpr int kValMaxLen = 4;
constexpr int kZeroMaxLen = 64;

bool IsZero(uint8_t b) { return (b & 0xc0) == 0; }
bool IsXZero(uint8_t b) { return (b & 0xc0) == kXZeroBit; }
bool IsVal(uint8_t b) { return (b & kValBit) != 0; }
int ZeroLen(uint8_t b) { return (b & 0x3f) + 1; }
int XZeroLen(uint8_t b0, uint8_t b1) { return (((b0 & 0x3f) << 8) | b1) + 1; }
int ValValue(uint8_t b) { return ((b >> 2) & 0x1f) + 1; }
int ValLen(uint8_t b) { return (b & 0x3) + 1; }
uint8_t Val(int value, int len) {
  return static_cast<uint8_t>(((value - 1) << 2) | (len - 1) | kValBit);
}

// Appends the opcode for a run of `len` zero registers (1..16384).
void PutZeros(uint8_t** out, int len) {
  if (len > kZeroMaxLen) {
    *(*out)++ = static_cast<uint8_t>(((len - 1) >> 8) | kXZeroBit);
    *(*out)++ = static_cast<uint8_t>((len - 1) & 0xff);
  } else {
    *(*out)++ = static_cast<uint8_t>(len - 1);
  }
}

// Reads the opcodes of a sparse value in order: fn(first register, run
// length, value). A truncated XZERO reads its missing byte as 0, as Redis
// (whose strings end in a NUL) does.
struct SparseReader {
  const uint8_t* p;
  const uint8_t* end;
  uint8_t Next() const { return p + 1 < end ? p[1] : 0; }
  // The run at p: its length and value (0 for a zero run), and the opcode size.
  void Read(int* len, int* value, int* size) const {
    if (IsZero(*p)) {
      *len = ZeroLen(*p), *value = 0, *size = 1;
    } else if (IsXZero(*p)) {
      *len = XZeroLen(*p, Next()), *value = 0, *size = 2;
    } else {
      *len = ValLen(*p), *value = ValValue(*p), *size = 1;
    }
  }
};

// Calls fn(index, value) for every non-zero register of a sparse value.
// False, stopping there, at a run that would pass the last register, and
// false if the runs cover fewer than kRegisters registers: the value is
// corrupt (Redis since its fix for CVE-2025-32023, 7.0.15 included).
template <typename Fn>
bool ForEachSparseRegister(std::string_view hll, Fn&& fn) {
  const auto* base = reinterpret_cast<const uint8_t*>(hll.data());
  SparseReader r{base + kHeaderSize, base + hll.size()};
  int64_t idx = 0;
  while (r.p < r.end) {
    int len, value, size;
    r.Read(&len, &value, &size);
    if (idx + len > kRegisters) return false;
    for (int i = 0; value != 0 && i < len; ++i) {
      fn(static_cast<uint32_t>(idx + i), static_cast<uint8_t>(value));
    }
    idx += len;
    r.p += size;
  }
  return idx == kRegisters;
}

// Merges adjacent VAL opcodes of one value whose lengths fit one opcode,
// looking at no more than five opcodes from `from` (Redis's bound after a
// single register changed).
void MergeAdjacentValues(std::string* hll, size_t from) {
  size_t p = from;
  int budget = 5;
  while (p < hll->size() && budget-- > 0) {
    const auto b = static_cast<uint8_t>((*hll)[p]);
    if (IsXZero(b)) {
      p += 2;
      continue;
    }
    if (IsZero(b)) {
      ++p;
      continue;
    }
    if (p + 1 < hll->size()) {
      const auto n = static_cast<uint8_t>((*hll)[p + 1]);
      if (IsVal(n) && ValValue(b) == ValValue(n)) {
        const int len = ValLen(b) + ValLen(n);
        if (len <= kValMaxLen) {
          (*hll)[p + 1] = static_cast<char>(Val(ValValue(b), len));
          hll->erase(p, 1);
          continue;  // the merged opcode may merge with the next one too
        }
      }
    }
    ++p;
  }
}

SetResult DenseSetIfGreater(std::string* hll, uint32_t index, uint8_t count) {
  uint8_t* regs = DenseRegisters(hll);
  if (DenseGet(regs, kDenseRegistersLen, index) >= count) return SetResult::kUnchanged;
  DenseSet(regs, kDenseRegistersLen, index, count);
  return SetResult::kChanged;
}

SetResult PromoteAndSet(std::string* hll, uint32_t index, uint8_t count) {
  if (!ToDense(hll)) return SetResult::kCorrupt;
  return DenseSetIfGreater(hll, index, count);
}

// Sets one register of a sparse value, changing as few opcodes as Redis does.
SetResult SparseSet(std::string* hll, uint32_t index, uint8_t count, size_t sparse_max_bytes) {
  if (count > kValMaxValue) return PromoteAndSet(hll, index, count);

  // Find the opcode covering `index`.
  const auto* base = reinterpret_cast<const uint8_t*>(hll->data());
  SparseReader r{base + kHeaderSize, base + hll->size()};
  int64_t first = 0;  // the first register of the opcode at r.p
  int len = 0, value = 0, size = 0;
  const uint8_t* prev = nullptr;
  bool found = false;
  while (r.p < r.end) {
    r.Read(&len, &value, &size);
    if (index <= first + len - 1) {
      found = true;
      break;
    }
    prev = r.p;
    r.p += size;
    first += len;
  }
  if (!found) return SetResult::kCorrupt;
  const size_t at = static_cast<size_t>(r.p - base);
  const size_t merge_from = prev == nullptr ? kHeaderSize : static_cast<size_t>(prev - base);

  if (value != 0) {
    if (value >= count) return SetResult::kUnchanged;
    if (len == 1) {
      (*hll)[at] = static_cast<char>(Val(count, 1));
      MergeAdjacentValues(hll, merge_from);
      InvalidateCache(hll);
      return SetResult::kChanged;
    }
  } else if (size == 1 && len == 1) {
    (*hll)[at] = static_cast<char>(Val(count, 1));
    MergeAdjacentValues(hll, merge_from);
    InvalidateCache(hll);
    return SetResult::kChanged;
  }

  // Split the run into up to three: before, the register, after.
  uint8_t seq[5];
  uint8_t* out = seq;
  const int64_t last = first + len - 1;
  const int before = static_cast<int>(index - first);
  const int after = static_cast<int>(last - index);
  if (value == 0) {
    if (before > 0) PutZeros(&out, before);
    *out++ = Val(count, 1);
    if (after > 0) PutZeros(&out, after);
  } else {
    if (before > 0) *out++ = Val(value, before);
    *out++ = Val(count, 1);
    if (after > 0) *out++ = Val(value, after);
  }
  const size_t seq_len = static_cast<size_t>(out - seq);
  if (seq_len > static_cast<size_t>(size) && hll->size() + seq_len - size > sparse_max_bytes) {
    return PromoteAndSet(hll, index, count);
  }
  // A truncated XZERO at the very end has only one byte to replace.
  const size_t old_len = std::min(static_cast<size_t>(size), hll->size() - at);
  hll->replace(at, old_len, reinterpret_cast<const char*>(seq), seq_len);
  MergeAdjacentValues(hll, merge_from);
  InvalidateCache(hll);
  return SetResult::kChanged;
}

// sigma(x) and tau(x) of Ertl's estimator, iterated to convergence.
double Sigma(double x) {
  if (x == 1.) return INFINITY;
  double z_prev;
  double y = 1;
  double z = x;
  do {
    x *= x;
    z_prev = z;
    z += x * y;
    y += y;
  } while (z_prev != z);
  return z;
}

double Tau(double x) {
  if (x == 0. || x == 1.) return 0.;
  double z_prev;
  double y = 1.0;
  double z = 1 - x;
  do {
    x = std::sqrt(x);
    z_prev = z;
    y *= 0.5;
    z -= std::pow(1 - x, 2) * y;
  } while (z_prev != z);
  return z / 3;
}

// The estimate from a histogram of register values (64 buckets).
uint64_t EstimateHistogram(const int* histogram) {
  const double m = kRegisters;
  double z = m * Tau((m - histogram[kQ + 1]) / m);
  for (int j = kQ; j >= 1; --j) {
    z += histogram[j];
    z *= 0.5;
  }
  z += m * Sigma(histogram[0] / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 0.5 / ln(2)
  return static_cast<uint64_t>(std::llround(kAlphaInf * m * m / z));
}

}  // namespace

uint64_t MurmurHash64A(std::string_view data, uint64_t seed) {
  constexpr uint64_t m = 0xc6a4a7935bd1e995ull;
  constexpr int r = 47;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t len = data.size();
  uint64_t h = seed ^ (len * m);
  const size_t blocks = len / 8;
  for (size_t i = 0; i < blocks; ++i, p += 8) {
    uint64_t k = 0;
    for (int b = 7; b >= 0; --b) k = (k << 8) | p[b];
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  const size_t tail = len & 7;
  if (tail != 0) {
    for (size_t b = tail; b-- > 0;) h ^= static_cast<uint64_t>(p[b]) << (8 * b);
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

void HashElement(std::string_view element, uint32_t* index, uint8_t* count) {
  uint64_t hash = MurmurHash64A(element, kSeed);
  *index = static_cast<uint32_t>(hash & (kRegisters - 1));
  hash >>= 14;
  hash |= uint64_t{1} << kQ;  // the run ends by bit Q: count <= Q + 1
  *count = static_cast<uint8_t>(std::countr_zero(hash) + 1);
}

bool LooksValid(std::string_view value) {
  if (value.size() < kHeaderSize || value.substr(0, 4) != "HYLL") return false;
  const auto encoding = static_cast<uint8_t>(value[kEncodingByte]);
  if (encoding == kDense) return value.size() == kDenseSize;
  return encoding == kSparse;
}

bool IsDense(std::string_view hll) { return static_cast<uint8_t>(hll[kEncodingByte]) == kDense; }

std::string CreateEmpty() {
  std::string hll(kHeaderSize, '\0');
  std::memcpy(hll.data(), "HYLL", 4);
  hll[kEncodingByte] = static_cast<char>(kSparse);
  uint8_t ops[2];
  uint8_t* out = ops;
  PutZeros(&out, kRegisters);
  hll.append(reinterpret_cast<const char*>(ops), 2);
  return hll;
}

SetResult SetRegister(std::string* hll, uint32_t index, uint8_t count, size_t sparse_max_bytes) {
  if (IsDense(*hll)) return DenseSetIfGreater(hll, index, count);
  return SparseSet(hll, index, count, sparse_max_bytes);
}

SetResult Add(std::string* hll, std::string_view element, size_t sparse_max_bytes) {
  uint32_t index;
  uint8_t count;
  HashElement(element, &index, &count);
  return SetRegister(hll, index, count, sparse_max_bytes);
}

bool ToDense(std::string* hll) {
  if (IsDense(*hll)) return true;
  std::string dense(kDenseSize, '\0');
  std::memcpy(dense.data(), hll->data(), kHeaderSize);
  dense[kEncodingByte] = static_cast<char>(kDense);
  uint8_t* regs = DenseRegisters(&dense);
  const bool ok = ForEachSparseRegister(*hll, [&](uint32_t index, uint8_t value) {
    DenseSet(regs, kDenseRegistersLen, index, value);
  });
  if (!ok) return false;
  *hll = std::move(dense);
  return true;
}

void InvalidateCache(std::string* hll) {
  (*hll)[kStaleByte] = static_cast<char>(static_cast<uint8_t>((*hll)[kStaleByte]) | 0x80);
}

bool CachedCardinality(std::string_view hll, uint64_t* cardinality) {
  if ((static_cast<uint8_t>(hll[kStaleByte]) & 0x80) != 0) return false;
  uint64_t card = 0;
  for (size_t i = kStaleByte + 1; i-- > 8;) card = (card << 8) | static_cast<uint8_t>(hll[i]);
  *cardinality = card;
  return true;
}

bool MergeInto(std::string_view hll, uint8_t* max) {
  if (IsDense(hll)) {
    const uint8_t* regs = DenseRegisters(hll);
    for (uint32_t i = 0; i < kRegisters; ++i) {
      max[i] = std::max(max[i], DenseGet(regs, kDenseRegistersLen, i));
    }
    return true;
  }
  return ForEachSparseRegister(
      hll, [&](uint32_t index, uint8_t value) { max[index] = std::max(max[index], value); });
}

uint64_t EstimateRegisters(const uint8_t* registers) {
  int histogram[64] = {};
  for (int i = 0; i < kRegisters; ++i) ++histogram[registers[i] & 63];
  return EstimateHistogram(histogram);
}

bool Estimate(std::string_view hll, uint64_t* cardinality) {
  int histogram[64] = {};
  if (IsDense(hll)) {
    const uint8_t* regs = DenseRegisters(hll);
    for (uint32_t i = 0; i < kRegisters; ++i) ++histogram[DenseGet(regs, kDenseRegistersLen, i)];
  } else {
    int nonzero = 0;
    const bool ok = ForEachSparseRegister(hll, [&](uint32_t, uint8_t value) {
      ++histogram[value];
      ++nonzero;
    });
    if (!ok) return false;
    histogram[0] = kRegisters - nonzero;
  }
  *cardinality = EstimateHistogram(histogram);
  return true;
}

}  // namespace causalkv::command::hll
