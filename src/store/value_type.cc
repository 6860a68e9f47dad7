#include "causalkv/store/value_type.h"

#include <cstdlib>
#include <type_traits>

#include "causalkv/store/collections.h"

namespace causalkv::store {
namespace {

// Calls fn(value as its class) for a typed value; a string is never one.
template <typename Fn>
decltype(auto) Visit(ValueType type, const void* value, Fn&& fn) {
  switch (type) {
    case ValueType::kHash:
      return fn(static_cast<const HashValue*>(value));
    case ValueType::kList:
      return fn(static_cast<const ListValue*>(value));
    case ValueType::kSet:
      return fn(static_cast<const SetValue*>(value));
    case ValueType::kZset:
      return fn(static_cast<const ZsetValue*>(value));
    case ValueType::kStream:
      return fn(static_cast<const StreamValue*>(value));
    case ValueType::kString:
      break;
  }
  std::abort();
}

}  // namespace

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kHash:
      return "hash";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZset:
      return "zset";
    case ValueType::kStream:
      return "stream";
  }
  return "none";
}

void DestroyTypedValue(ValueType type, void* value) {
  Visit(type, value, [](const auto* v) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
    T::Destroy(const_cast<T*>(v));
  });
}

size_t TypedValueSize(ValueType type, const void* value) {
  return Visit(type, value, [](const auto* v) -> size_t { return v->size(); });
}

size_t TypedValueBytes(ValueType type, const void* value) {
  return Visit(type, value, [](const auto* v) -> size_t { return v->memory_bytes(); });
}

void SerializeTypedValue(ValueType type, const void* value, std::string* out) {
  Visit(type, value, [out](const auto* v) { v->Serialize(out); });
}

void* DeserializeTypedValue(ValueType type, std::string_view bytes,
                            const CollectionLimits& limits) {
  switch (type) {
    case ValueType::kHash:
      return HashValue::Deserialize(bytes, limits);
    case ValueType::kList:
      return ListValue::Deserialize(bytes, limits);
    case ValueType::kSet:
      return SetValue::Deserialize(bytes, limits);
    case ValueType::kZset:
      return ZsetValue::Deserialize(bytes, limits);
    case ValueType::kStream:
      return StreamValue::Deserialize(bytes, limits);
    case ValueType::kString:
      break;
  }
  return nullptr;
}

void* CloneTypedValue(ValueType type, const void* value) {
  return Visit(type, value, [](const auto* v) -> void* {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
    return T::Clone(*v);
  });
}

std::string_view TypedValueEncoding(ValueType type, const void* value) {
  switch (type) {
    case ValueType::kHash:
      return static_cast<const HashValue*>(value)->encoding() == HashValue::Encoding::kListpack
                 ? "listpack"
                 : "hashtable";
    case ValueType::kSet:
      switch (static_cast<const SetValue*>(value)->encoding()) {
        case SetValue::Encoding::kIntset:
          return "intset";
        case SetValue::Encoding::kListpack:
          return "listpack";
        case SetValue::Encoding::kHashtable:
          return "hashtable";
      }
      break;
    case ValueType::kList:
      return static_cast<const ListValue*>(value)->encoding() == ListValue::Encoding::kListpack
                 ? "listpack"
                 : "quicklist";
    case ValueType::kZset:
      return static_cast<const ZsetValue*>(value)->encoding() == ZsetValue::Encoding::kListpack
                 ? "listpack"
                 : "skiplist";
    case ValueType::kStream:
      return "stream";
    case ValueType::kString:
      break;
  }
  std::abort();
}

}  // namespace causalkv::store
