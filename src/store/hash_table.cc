#include "causalkv/store/hash_table.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

namespace causalkv::store::table_internal {

void* AllocateBuckets(size_t n) {
  // calloc: a zeroed block of pointers reads as empty buckets.
  void* p = std::calloc(n, sizeof(void*));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

size_t UsableBytes(const void* p) { return malloc_usable_size(const_cast<void*>(p)); }

}  // namespace causalkv::store::table_internal
