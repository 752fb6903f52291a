/*
 * bloom.c — build and probe the per-table bloom filter (see bloom.h).
 *
 * Layout (FROZEN, table format version 1): m bytes of bit array, bit j at
 * byte j/8, mask 1 << (j%8); then one byte k.  For a key with h =
 * XXH3-64(key), probe i (0 <= i < k) tests bit (h + i*d) mod (8m), where d
 * = (h >> 32 | h << 32) | 1 and the arithmetic is mod 2^64.  One hash per
 * key and additions instead of k hashes: double hashing keeps the false
 * positive rate of independent hashes for practical m, at a fraction of the
 * cost.
 *
 * Threads: reentrant; no state.
 */
#include <errno.h>
#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "bloom.h"

/* Below this many bits a filter is too small to be useful and tiny tables
 * would see high false-positive rates. */
#define BLOOM_MIN_BITS 64
#define BLOOM_MAX_K 30

uint64_t lsm_bloom_hash(lsm_slice key)
{
	return XXH3_64bits(key.data, key.size);
}

static int bloom_k(int bits_per_key)
{
	/* round(bits * ln 2), the k that minimises false positives, in
	 * integers so every build computes the same k (it reaches disk) */
	if (bits_per_key > 1000)
		return BLOOM_MAX_K;
	int k = (int)(((int64_t)bits_per_key * 693147 + 500000) / 1000000);
	if (k < 1)
		k = 1;
	if (k > BLOOM_MAX_K)
		k = BLOOM_MAX_K;
	return k;
}

static inline uint64_t bloom_delta(uint64_t h)
{
	return (h >> 32 | h << 32) | 1;
}

int lsm_bloom_build_hashes(lsm_buf *out, const uint64_t *hashes, size_t n,
			   int bits_per_key)
{
	if (bits_per_key <= 0)
		return 0;
	int k = bloom_k(bits_per_key);
	uint64_t bits = (uint64_t)n * (uint64_t)bits_per_key;
	if (n && bits / n != (uint64_t)bits_per_key)
		return -ENOMEM;	/* overflow: no such table fits in memory */
	if (bits < BLOOM_MIN_BITS)
		bits = BLOOM_MIN_BITS;
	uint64_t bytes = (bits + 7) / 8;
	if (bytes > SIZE_MAX - 1)
		return -ENOMEM;
	bits = bytes * 8;
	LSM_TRY(lsm_buf_reserve(out, (size_t)bytes + 1));
	unsigned char *a = (unsigned char *)out->data + out->len;
	memset(a, 0, (size_t)bytes);
	for (size_t i = 0; i < n; i++) {
		uint64_t h = hashes[i], d = bloom_delta(h);
		for (int j = 0; j < k; j++) {
			uint64_t pos = h % bits;
			a[pos / 8] |= (unsigned char)(1u << (pos % 8));
			h += d;
		}
	}
	a[bytes] = (unsigned char)k;
	out->len += (size_t)bytes + 1;
	return 0;
}

void lsm_bloom_build(lsm_buf *out, const lsm_slice *keys, size_t n,
		     int bits_per_key)
{
	if (bits_per_key <= 0)
		return;
	uint64_t *h = malloc((n ? n : 1) * sizeof *h);
	if (!h)
		return;
	for (size_t i = 0; i < n; i++)
		h[i] = lsm_bloom_hash(keys[i]);
	(void)lsm_bloom_build_hashes(out, h, n, bits_per_key);
	free(h);
}

bool lsm_bloom_may_match(lsm_slice filter, lsm_slice key)
{
	if (filter.size < 2)
		return true;
	const unsigned char *a = (const unsigned char *)filter.data;
	size_t bytes = filter.size - 1;
	int k = a[bytes];
	if (k < 1 || k > BLOOM_MAX_K)
		return true;	/* not an encoding we know: never say no */
	uint64_t bits = (uint64_t)bytes * 8;
	uint64_t h = lsm_bloom_hash(key), d = bloom_delta(h);
	for (int j = 0; j < k; j++) {
		uint64_t pos = h % bits;
		if (!(a[pos / 8] & (1u << (pos % 8))))
			return false;
		h += d;
	}
	return true;
}
