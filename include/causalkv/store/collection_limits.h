// CollectionLimits: the sizes up to which a collection keeps its compact
// encoding, with Redis 7.2's option names and defaults (config: the
// hash-max-listpack-*, set-max-*, zset-max-listpack-*, list-max-* and stream-node-max-* options).
// Owned by the Store and shared by pointer with every keyspace; the value
// types read them on each write that could convert.
#pragma once

#include <cstdint>

namespace causalkv::store {

struct CollectionLimits {
  uint32_t hash_max_listpack_entries = 512;
  uint32_t hash_max_listpack_value = 64;
  uint32_t set_max_intset_entries = 512;
  uint32_t set_max_listpack_entries = 128;
  uint32_t set_max_listpack_value = 64;
  uint32_t zset_max_listpack_entries = 128;
  uint32_t zset_max_listpack_value = 64;
  // Positive: entries per list node; -1..-5: bytes per node, 4 KB .. 64 KB
  // (-2, 8 KB, by default), as Redis's list-max-listpack-size.
  int32_t list_max_listpack_size = -2;
  // A stream node takes entries up to these (0: no limit), as Redis's
  // stream-node-max-bytes and stream-node-max-entries.
  uint64_t stream_node_max_bytes = 4096;
  uint64_t stream_node_max_entries = 100;
};

}  // namespace causalkv::store
