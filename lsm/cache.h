/*
 * cache.h — a sharded LRU cache with charges and reference-counted handles.
 *
 * Used for decompressed table blocks (keyed by table cache id + block
 * offset) and usable for anything else keyed by bytes.  Each entry has a
 * charge (its cost, usually bytes); the cache evicts least recently used
 * entries while the sum of charges exceeds the capacity.
 *
 * Invariants:
 *  1. 16 shards, each with its own mutex, LRU list and hash table; a key
 *     lives in the shard chosen by its hash; capacity is split evenly.
 *  2. An entry is freed (its deleter called, outside the shard lock) only
 *     when it is out of the cache (evicted, erased, replaced, or the cache
 *     freed) AND no handle to it is held.  Evicting a held entry removes it
 *     from the cache at once but frees it at the last release.
 *  3. Only entries with no outside handle sit on the LRU list, so eviction
 *     never scans held entries; held entries still count in usage.
 *
 * Threads: every function is thread-safe.  A handle may be released by any
 * thread, exactly once, with the cache it came from.
 */
#ifndef LSM_CACHE_H
#define LSM_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_cache lsm_cache;
typedef struct lsm_cache_handle lsm_cache_handle;

typedef void (*lsm_cache_deleter)(const void *key, size_t klen, void *value);

/* A cache holding about capacity charge units; 0 caches nothing (inserts
 * return a handle that frees its value at release).  NULL on ENOMEM. */
lsm_cache *lsm_cache_new(size_t capacity);
/* REQUIRES: no handle is still held. */
void lsm_cache_free(lsm_cache *c);

/* Insert (key -> value) and return a held handle; replaces an existing
 * entry for key (the old value is freed once unheld).  The key bytes are
 * copied.  NULL only on ENOMEM (then value is NOT adopted: the caller still
 * owns it). */
lsm_cache_handle *lsm_cache_insert(lsm_cache *c, const void *key, size_t klen,
				   void *value, size_t charge,
				   lsm_cache_deleter del);
/* A held handle for key, or NULL (counted as a miss). */
lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, const void *key, size_t klen);
void *lsm_cache_value(lsm_cache_handle *h);
void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h);
/* Remove key from the cache (freed once unheld); no-op if absent. */
void lsm_cache_erase(lsm_cache *c, const void *key, size_t klen);
/* A new id (never 0) for callers that share the cache and need disjoint
 * key spaces, e.g. one per open table. */
uint64_t lsm_cache_new_id(lsm_cache *c);
/* Sum of the charges of entries in the cache (held ones included). */
size_t lsm_cache_usage(lsm_cache *c);
void lsm_cache_stats(lsm_cache *c, uint64_t *hits, uint64_t *misses);

#endif
