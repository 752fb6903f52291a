/*
 * rangedel.h — the range-tombstone fragmenter.
 *
 * Range tombstones ([begin, end) deleted before seq) may overlap one another
 * freely.  To answer "which tombstone covers this key at this snapshot" in
 * O(log n), and to walk tombstones in key order during compaction, the
 * fragmenter cuts them at every begin and end boundary into fragments that
 * are sorted, non-overlapping, non-empty [b, e) ranges; each fragment
 * carries the seqs of all tombstones covering it, strictly descending
 * (duplicate seqs are kept once).
 *
 * Invariants of an lsm_frag:
 *   1. for every i: begin(i) < end(i), and end(i) <= begin(i + 1);
 *   2. every fragment has at least one seq; its seqs strictly descend;
 *   3. a user key k is covered by a tombstone of seq s (with s in the
 *      input) iff some fragment has begin <= k < end and lists s;
 *   4. the fragmenter owns copies of all key bytes: the input may be freed
 *      once lsm_frag_new returns.
 *
 * Keys compare as user keys (memcmp, shorter first on a common prefix).
 * Threads: an lsm_frag is immutable once built; any number of threads may
 * query it at once.
 */
#ifndef LSM_RANGEDEL_H
#define LSM_RANGEDEL_H

#include "dbformat.h"

typedef struct lsm_frag lsm_frag;

/* Fragment n tombstones (n may be 0; tombs may then be NULL).  Empty or
 * inverted ranges (begin >= end) are ignored.  NULL only on ENOMEM. */
lsm_frag *lsm_frag_new(const lsm_rangedel *tombs, size_t n);
void lsm_frag_free(lsm_frag *f);

/* The largest seq <= snap_seq of a tombstone covering ukey; 0 if none.
 * O(log n). */
uint64_t lsm_frag_cover(const lsm_frag *f, lsm_slice ukey, uint64_t snap_seq);

/* Number of fragments. */
size_t lsm_frag_count(const lsm_frag *f);

/* Fragment i (REQUIRES: i < count): its range and its seqs, descending.
 * The slices and the seq array live as long as f. */
void lsm_frag_at(const lsm_frag *f, size_t i, lsm_slice *begin,
		 lsm_slice *end, const uint64_t **seqs, size_t *nseqs);

/* Index of the first fragment whose end > ukey (count if none), for walking
 * forward from ukey in compaction. */
size_t lsm_frag_lower_bound(const lsm_frag *f, lsm_slice ukey);

#endif /* LSM_RANGEDEL_H */
