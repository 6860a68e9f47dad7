// Private to persist: how the single-node formats (snapshot format 2, log
// formats 1 and 2) hold a typed sibling (a collection). Where a string's
// value length would be, the mark plus the value's type; then the length
// and bytes of its plain-data form (store/value_type.h). No string is that
// long (proto-max-bulk-len stays below 4 GB), so files written before
// collections existed read exactly as before, and an older binary reports
// such a file as damaged rather than misreading it.
#pragma once

#include <cstdint>

#include "causalkv/store/value_type.h"

namespace causalkv::persist {

inline constexpr uint32_t kTypedValueMark = 0xffffff00u;

// The type a length field names, or false for a plain length (or an
// unknown type, which the caller must also check: *type stays kString).
inline bool TypedValueOf(uint32_t length, store::ValueType* type, bool* unknown) {
  *unknown = false;
  *type = store::ValueType::kString;
  if (length < kTypedValueMark) return false;
  const uint32_t t = length - kTypedValueMark;
  if (t == 0 || t > store::kMaxValueType) {
    *unknown = true;
    return false;
  }
  *type = static_cast<store::ValueType>(t);
  return true;
}

}  // namespace causalkv::persist
