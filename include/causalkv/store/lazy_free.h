// Lazy freeing of large typed values, as Redis's lazyfree: deleting a
// collection of millions of elements (DEL, UNLINK, expiry, eviction, an
// overwrite, a flush) hands the value to a background thread instead of
// stalling the loop while its allocations are freed.
//
// Contract: a value handed over is no longer reachable from the keyspace
// (its key block disowned or freed it), and its memory was already taken
// out of the keyspace's accounting; only its heap is still to be freed.
// Values of at most kInlineFreeElements elements are freed at once, which
// costs less than the hand-off.
//
// Thread-safety: Free() is called from the loop thread; the worker thread
// only ever calls the type's Destroy. The worker starts on first use and is
// joined at exit (process teardown frees whatever is still queued).
#pragma once

#include <cstddef>

#include "causalkv/store/value_type.h"

namespace causalkv::store {

inline constexpr size_t kInlineFreeElements = 64;

// Frees `value` now or on the worker thread (see above).
void FreeTypedValue(ValueType type, void* value);
// Values queued and not freed yet (INFO lazyfree_pending_objects).
size_t LazyFreePending();
// Values freed on the worker thread since start (INFO lazyfreed_objects).
size_t LazyFreed();

}  // namespace causalkv::store
