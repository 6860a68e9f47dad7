// The types a key's value can have, and the operations the keyspace needs
// on a typed (non-string) value whatever its type: freeing it, its memory,
// and its plain-data form.
//
// A typed value lives on the heap and is owned by the key block that holds
// it (sibling_set.h). Its plain-data form (Serialize) is what snapshots, the
// append-only log and peers carry; the block holds only a pointer. Adding a
// type means adding it to the enum and to each switch in value_type.cc:
// this is the one place that knows every type.
//
// Concurrent writes of one collection key (a cluster) are not merged per
// element: a collection key has one visible value, its newest sibling's
// (the order GET uses), and the next write of the key replaces the others.
// Streams follow the same rule: a write ships the whole stream, consumer
// groups included. The merge keeps every concurrent sibling meanwhile (store/causal.h), so
// that it stays associative. Per-element merges (add-wins sets, per-field
// hashes) will change only what a write keeps and what a read shows, here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace causalkv::store {

struct CollectionLimits;

enum class ValueType : uint8_t {
  kString = 0,
  kHash = 1,
  kList = 2,
  kSet = 3,
  kZset = 4,
  kStream = 5,
};
// The highest type stored data may name (a type not implemented yet is not
// accepted from files or peers).
constexpr uint8_t kMaxValueType = 5;

// Redis's TYPE name ("string", "hash", ...).
std::string_view TypeName(ValueType type);

// What follows REQUIRES a typed value (type != kString) of that type.
void DestroyTypedValue(ValueType type, void* value);
// Its number of elements (fields, members ...).
size_t TypedValueSize(ValueType type, const void* value);
// Heap bytes the value holds (the allocator's usable sizes).
size_t TypedValueBytes(ValueType type, const void* value);
// Appends the value's plain-data form.
void SerializeTypedValue(ValueType type, const void* value, std::string* out);
// The value from its plain-data form, in the encoding `limits` calls for;
// nullptr when `bytes` are malformed (they come from peers and files).
void* DeserializeTypedValue(ValueType type, std::string_view bytes,
                            const CollectionLimits& limits);
// A deep copy (COPY, and a sibling kept by two blocks during a move).
void* CloneTypedValue(ValueType type, const void* value);
// Redis's OBJECT ENCODING name.
std::string_view TypedValueEncoding(ValueType type, const void* value);

}  // namespace causalkv::store
