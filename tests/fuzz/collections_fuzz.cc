// Fuzz target: the plain-data decoders of the collection values
// (HashValue, SetValue, ZsetValue, ListValue, StreamValue ::Deserialize),
// which read what peers send and what snapshots and logs hold.
//
// Checks, beyond not crashing or allocating without bound:
//   - a decoded value is not empty (a stream may be), and its memory is
//     counted;
//   - its form is stable: Serialize(Deserialize(Serialize(v))) equals
//     Serialize(v), under both the default and tiny encoding limits, so a
//     value decoded anywhere re-encodes to the same bytes;
//   - Clone serializes to the same bytes.
// Input: one byte choosing the type (low 2 bits, or bit 3 for a stream) and
// the limits (bit 2), then the bytes to decode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "causalkv/store/collections.h"
#include "causalkv/store/keyspace.h"
#include "causalkv/store/zset_value.h"
#include "fuzz_support.h"

namespace {

using causalkv::fuzz::Escape;
namespace store = causalkv::store;

template <typename T>
void Check(std::string_view bytes, const store::CollectionLimits& limits) {
  T* value = T::Deserialize(bytes, limits);
  if (value == nullptr) return;
  FUZZ_REQUIRE((value->size() > 0 || store::KeepsEmptyKey<T>()) && value->memory_bytes() > 0,
               "decoded an empty or uncounted value from \"" + Escape(bytes) + "\"");
  std::string once;
  value->Serialize(&once);
  T* again = T::Deserialize(once, limits);
  FUZZ_REQUIRE(again != nullptr, "\"" + Escape(once) + "\" does not decode again");
  std::string twice;
  again->Serialize(&twice);
  FUZZ_REQUIRE(once == twice, "unstable form: \"" + Escape(once) + "\" then \"" +
                                  Escape(twice) + "\"");
  T* copy = T::Clone(*value);
  std::string cloned;
  copy->Serialize(&cloned);
  FUZZ_REQUIRE(cloned == once, "Clone serializes differently: \"" + Escape(cloned) + "\"");
  T::Destroy(copy);
  T::Destroy(again);
  T::Destroy(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  store::CollectionLimits limits;
  if (data[0] & 4) {
    limits.hash_max_listpack_entries = 2;
    limits.hash_max_listpack_value = 4;
    limits.set_max_intset_entries = 2;
    limits.set_max_listpack_entries = 2;
    limits.set_max_listpack_value = 4;
    limits.zset_max_listpack_entries = 2;
    limits.zset_max_listpack_value = 4;
    limits.list_max_listpack_size = 2;
    limits.stream_node_max_entries = 2;
    limits.stream_node_max_bytes = 16;
  }
  if (data[0] & 8) {
    Check<store::StreamValue>(bytes, limits);
    return 0;
  }
  switch (data[0] & 3) {
    case 0:
      Check<store::HashValue>(bytes, limits);
      break;
    case 1:
      Check<store::SetValue>(bytes, limits);
      break;
    case 2:
      Check<store::ZsetValue>(bytes, limits);
      break;
    default:
      Check<store::ListValue>(bytes, limits);
      break;
  }
  return 0;
}
