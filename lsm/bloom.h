/*
 * bloom.h — the bloom filter stored in an SST's filter block.
 *
 * One filter covers a whole table and is built over USER keys, so a point
 * lookup at any snapshot can skip the table when the key is absent.  The
 * encoding (lsm/doc/table_format.md, "Filter block") is FROZEN: a bit array
 * of m bytes followed by one byte k (the number of probes, 1..30).  Probe
 * positions come from one XXH3-64 of the key by double hashing, so a table
 * written today answers identically in every later build.
 *
 * Invariants: no false negatives; a malformed filter (too short, k outside
 * 1..30) matches everything, so damage can only cost speed, never answers.
 * Threads: all functions are reentrant; filters are immutable bytes.
 */
#ifndef LSM_BLOOM_H
#define LSM_BLOOM_H

#include "util.h"

/* Append to out the filter for keys[0..n) at bits_per_key bits per key
 * (k = round(bits_per_key * ln 2) clamped to 1..30).  bits_per_key <= 0
 * appends nothing (an empty filter matches everything).  Returns nothing:
 * on ENOMEM out is left unchanged, which is again an empty filter; callers
 * that must know use lsm_bloom_build_hashes. */
void lsm_bloom_build(lsm_buf *out, const lsm_slice *keys, size_t n,
		     int bits_per_key);

/* True if key may be in the set the filter was built from (always true
 * for an empty or malformed filter). */
bool lsm_bloom_may_match(lsm_slice filter, lsm_slice key);

/* The 64-bit key hash the filter probes are derived from (FROZEN). */
uint64_t lsm_bloom_hash(lsm_slice key);

/* As lsm_bloom_build, from precomputed lsm_bloom_hash values, so a table
 * builder can keep 8 bytes per key instead of the keys.  Duplicate hashes
 * are harmless.  0 or -ENOMEM (out unchanged). */
int lsm_bloom_build_hashes(lsm_buf *out, const uint64_t *hashes, size_t n,
			   int bits_per_key);

#endif
