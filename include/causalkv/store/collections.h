// Every collection type of the store, and ValueTypeOf<T>: the ValueType of
// a collection class, for the keyspace's typed accessors.
#pragma once

#include "causalkv/store/hash_value.h"
#include "causalkv/store/list_value.h"
#include "causalkv/store/set_value.h"
#include "causalkv/store/stream_value.h"
#include "causalkv/store/value_type.h"
#include "causalkv/store/zset_value.h"

namespace causalkv::store {

template <typename T>
struct ValueTypeOf;
template <>
struct ValueTypeOf<HashValue> {
  static constexpr ValueType kType = ValueType::kHash;
};
template <>
struct ValueTypeOf<ListValue> {
  static constexpr ValueType kType = ValueType::kList;
};
template <>
struct ValueTypeOf<SetValue> {
  static constexpr ValueType kType = ValueType::kSet;
};
template <>
struct ValueTypeOf<ZsetValue> {
  static constexpr ValueType kType = ValueType::kZset;
};
template <>
struct ValueTypeOf<StreamValue> {
  static constexpr ValueType kType = ValueType::kStream;
};

}  // namespace causalkv::store
