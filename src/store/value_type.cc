#include "causalkv/store/value_type.h"

#include <cstdlib>

#include "causalkv/store/hash_value.h"

namespace causalkv::store {

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kHash:
      return "hash";
  }
  return "none";
}

void DestroyTypedValue(ValueType type, void* value) {
  switch (type) {
    case ValueType::kHash:
      HashValue::Destroy(static_cast<HashValue*>(value));
      return;
    case ValueType::kString:
      break;
  }
  std::abort();  // a string is never a typed value
}

size_t TypedValueSize(ValueType type, const void* value) {
  switch (type) {
    case ValueType::kHash:
      return static_cast<const HashValue*>(value)->size();
    case ValueType::kString:
      break;
  }
  std::abort();
}

size_t TypedValueBytes(ValueType type, const void* value) {
  switch (type) {
    case ValueType::kHash:
      return static_cast<const HashValue*>(value)->memory_bytes();
    case ValueType::kString:
      break;
  }
  std::abort();
}

void SerializeTypedValue(ValueType type, const void* value, std::string* out) {
  switch (type) {
    case ValueType::kHash:
      static_cast<const HashValue*>(value)->Serialize(out);
      return;
    case ValueType::kString:
      break;
  }
  std::abort();
}

void* DeserializeTypedValue(ValueType type, std::string_view bytes,
                            const CollectionLimits& limits) {
  switch (type) {
    case ValueType::kHash:
      return HashValue::Deserialize(bytes, limits);
    case ValueType::kString:
      break;
  }
  return nullptr;
}

void* CloneTypedValue(ValueType type, const void* value) {
  switch (type) {
    case ValueType::kHash:
      return HashValue::Clone(*static_cast<const HashValue*>(value));
    case ValueType::kString:
      break;
  }
  std::abort();
}

std::string_view TypedValueEncoding(ValueType type, const void* value) {
  switch (type) {
    case ValueType::kHash:
      return static_cast<const HashValue*>(value)->encoding() == HashValue::Encoding::kListpack
                 ? "listpack"
                 : "hashtable";
    case ValueType::kString:
      break;
  }
  std::abort();
}

}  // namespace causalkv::store
