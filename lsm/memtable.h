/*
 * memtable.h — the in-memory write buffer: a concurrent skiplist of
 * internal-key entries plus the list of range tombstones written to it.
 *
 * Every write lands here (after the WAL) until the memtable is full, frozen
 * and flushed to a level-0 table.  Point entries (LSM_T_VAL, LSM_T_DEL) are
 * kept in internal-key order (user key ascending, then seq descending) in a
 * skiplist whose nodes live in an arena; range tombstones (LSM_T_RANGEDEL:
 * ukey = begin, value = end) are kept apart, in insertion order.
 *
 * Invariants:
 *   1. an entry, once added, is never changed or removed until the
 *      memtable is freed; its key and value bytes stay at a fixed address;
 *   2. (user key, seq, type) is unique among point entries;
 *   3. all memory is released when the last reference is dropped.
 *
 * Threads: one writer at a time — the caller serialises lsm_mem_add calls
 * (any number of threads may take turns, under the caller's lock).  Any
 * number of readers (get, rangedel_cover, rangedels, iterators, the
 * counters) run concurrently with that writer and with each other without
 * locks.  A reader sees every entry whose lsm_mem_add returned before the
 * read began; entries added during the read may or may not be seen.  Refs
 * may be taken and dropped from any thread.
 */
#ifndef LSM_MEMTABLE_H
#define LSM_MEMTABLE_H

#include "dbformat.h"
#include "iter.h"

typedef struct lsm_memtable lsm_memtable;

/* A new, empty memtable holding one reference; NULL on ENOMEM. */
lsm_memtable *lsm_mem_new(void);
void lsm_mem_ref(lsm_memtable *m);
/* Drop a reference; the last one frees the memtable. */
void lsm_mem_unref(lsm_memtable *m);

/*
 * Add an entry: type LSM_T_VAL or LSM_T_DEL (value stored as given, so
 * normally empty for DEL), or LSM_T_RANGEDEL (ukey = begin, value = end;
 * stored as given, even if empty or inverted).  The bytes are copied.
 * Returns 0, -ENOMEM, or LSM_E_INVALID for an unknown type, a seq above
 * LSM_SEQ_MAX, a key or value of 4 GiB or more, or a point entry whose
 * (ukey, seq, type) is already present.
 * REQUIRES: external writer serialisation.
 */
int lsm_mem_add(lsm_memtable *m, uint64_t seq, int type, lsm_slice ukey,
		lsm_slice value);

/*
 * The newest point entry for ukey with seq <= snap_seq: 0 with *type
 * (LSM_T_VAL or LSM_T_DEL), *seq and, for VAL, the value copied into *val
 * (val may be NULL; a DEL leaves it untouched); LSM_E_NOTFOUND if none;
 * -ENOMEM if copying the value failed.  Range tombstones are NOT applied
 * (the caller combines lsm_mem_rangedel_cover with every source).
 */
int lsm_mem_get(lsm_memtable *m, lsm_slice ukey, uint64_t snap_seq,
		lsm_buf *val, int *type, uint64_t *seq);

/* The largest seq <= snap_seq of this memtable's range tombstones covering
 * ukey (begin <= ukey < end); 0 if none.  With more than a few tombstones
 * the call may first fragment the newest ones (O(k log k), amortised
 * O(log n) per tombstone), after which queries cost O(log^2 n). */
uint64_t lsm_mem_rangedel_cover(lsm_memtable *m, lsm_slice ukey,
				uint64_t snap_seq);

/*
 * A malloc'd copy (free() it) of the range tombstones added so far, in
 * insertion order; *out = NULL when there are none.  The slices point into
 * the memtable's arena: valid while the caller holds a reference.  On
 * ENOMEM: *out = NULL and the return is SIZE_MAX (never mistake it for
 * "no tombstones").
 */
size_t lsm_mem_rangedels(lsm_memtable *m, lsm_rangedel **out);

/* An iterator over the point entries as internal keys (dbformat.h), both
 * directions.  It holds a reference on m until destroyed.  NULL on
 * ENOMEM. */
lsm_it *lsm_mem_iter(lsm_memtable *m);

/* Bytes of memory held (arena blocks and bookkeeping); the flush trigger. */
size_t lsm_mem_usage(const lsm_memtable *m);
/* Entries added: point entries plus range tombstones. */
uint64_t lsm_mem_entries(const lsm_memtable *m);
/* True if nothing (no point entry, no range tombstone) has been added. */
bool lsm_mem_empty(const lsm_memtable *m);
/* User key + value bytes added (begin + end bytes for range tombstones). */
uint64_t lsm_mem_bytes_in(const lsm_memtable *m);

#endif /* LSM_MEMTABLE_H */
