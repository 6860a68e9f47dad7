// HyperLogLog in Redis's exact representation, as plain functions on the
// string value that holds it: what PFADD, PFCOUNT and PFMERGE store and read,
// so that the same inputs give Redis's bytes and Redis's estimates.
//
// The value (DO NOT CHANGE: clients and Redis read these bytes):
//   bytes 0-3   "HYLL"
//   byte  4     encoding: 0 dense, 1 sparse
//   bytes 5-7   zero
//   bytes 8-15  cached cardinality, little endian; the top bit of byte 15
//               set means "stale, recompute"
//   then the registers: 16384 of them, each the longest run of zeros (plus
//   one) seen in the hashes that select it.
//     dense:  6 bits each, packed from the least significant bit of each
//             byte up (12288 bytes).
//     sparse: run-length opcodes, in register order:
//               ZERO   00xxxxxx            1..64 registers at 0
//               XZERO  01xxxxxx yyyyyyyy   1..16384 registers at 0
//               VAL    1vvvvvxx            1..4 registers at value 1..32
//             Values over 32, or a sparse form longer than
//             hll-sparse-max-bytes, promote the value to dense for good.
//
// The estimator is Otmar Ertl's ("New cardinality estimation algorithms for
// HyperLogLog sketches", arXiv:1702.01284), computed in the same order of
// floating-point operations as Redis, so the rounded result is the same.
//
// Nothing here allocates beyond the strings it is given; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace causalkv::command::hll {

inline constexpr int kRegisters = 1 << 14;  // P = 14
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kDenseSize = kHeaderSize + (kRegisters * 6 + 7) / 8;
inline constexpr uint8_t kDense = 0;
inline constexpr uint8_t kSparse = 1;
// Redis's default for hll-sparse-max-bytes.
inline constexpr size_t kDefaultSparseMaxBytes = 3000;

// Redis's MurmurHash2, 64-bit variant, reading 8-byte blocks little endian.
uint64_t MurmurHash64A(std::string_view data, uint64_t seed);

// The register an element selects and the length of its "000..1" pattern
// (1..51), as Redis derives them from the element's hash.
void HashElement(std::string_view element, uint32_t* index, uint8_t* count);

// Whether `value` passes Redis's check for a HyperLogLog string: the magic,
// a known encoding, and for dense the exact length. The sparse opcodes are
// not walked here: a bad sparse form shows up as corrupt when used.
bool LooksValid(std::string_view value);

bool IsDense(std::string_view hll);

// An HLL with every register at 0: the sparse form Redis creates.
std::string CreateEmpty();

enum class SetResult { kUnchanged, kChanged, kCorrupt };

// Raises register `index` to `count` if it is lower, in either encoding,
// promoting a sparse value to dense when `count` > 32 or when the sparse
// form would grow past `sparse_max_bytes`. kCorrupt, with *hll in an
// unspecified state, when the sparse opcodes do not cover `index` or do not
// convert. The cached cardinality is marked stale on a change of a sparse
// value only (callers mark it for dense ones, as Redis does).
// REQUIRES: LooksValid(*hll); 1 <= count <= 63; index < kRegisters.
SetResult SetRegister(std::string* hll, uint32_t index, uint8_t count, size_t sparse_max_bytes);

// SetRegister with the register and count of `element`.
SetResult Add(std::string* hll, std::string_view element, size_t sparse_max_bytes);

// Converts a sparse value to dense (a dense one is left as it is). The
// header, cached cardinality included, is kept. False, leaving *hll
// unchanged, if the opcodes do not cover exactly kRegisters registers.
bool ToDense(std::string* hll);

// Marks the cached cardinality stale. REQUIRES: hll->size() >= kHeaderSize.
void InvalidateCache(std::string* hll);
// The cached cardinality, if it is not marked stale.
bool CachedCardinality(std::string_view hll, uint64_t* cardinality);

// Raises each of max[0..kRegisters) to the value's register. False if a
// sparse value's opcodes do not cover exactly kRegisters registers (max is
// then partly updated). REQUIRES: LooksValid(hll).
bool MergeInto(std::string_view hll, uint8_t* max);

// The estimate from registers as bytes (PFCOUNT of several keys).
uint64_t EstimateRegisters(const uint8_t* registers);
// The estimate of one value, ignoring its cache. False if it is corrupt.
// REQUIRES: LooksValid(hll).
bool Estimate(std::string_view hll, uint64_t* cardinality);

}  // namespace causalkv::command::hll
