/* Unit tests for cache.c: lookup and replace, eviction by charge in LRU
 * order, held handles surviving eviction and erase, capacity 0, stats,
 * and concurrent use from several threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "cache.h"

/* Values are ints; the deleter counts and records what it freed. */
static int deleted[100000];
static int ndeleted;

static void del_int(const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	int *v = value;
	if (*v >= 0 && *v < (int)(sizeof deleted / sizeof deleted[0]))
		deleted[*v]++;
	ndeleted++;
	free(v);
}

static int *ival(int v)
{
	int *p = malloc(sizeof *p);
	*p = v;
	return p;
}

static int reset(void **state)
{
	(void)state;
	memset(deleted, 0, sizeof deleted);
	ndeleted = 0;
	return 0;
}

static void put(lsm_cache *c, const char *k, int v, size_t charge)
{
	lsm_cache_handle *h = lsm_cache_insert(c, k, strlen(k), ival(v), charge,
					       del_int);
	assert_non_null(h);
	lsm_cache_release(c, h);
}

/* -1 if absent */
static int get(lsm_cache *c, const char *k)
{
	lsm_cache_handle *h = lsm_cache_lookup(c, k, strlen(k));
	if (!h)
		return -1;
	int v = *(int *)lsm_cache_value(h);
	lsm_cache_release(c, h);
	return v;
}

/* Names that land in the same shard as "base" (the shard is the top 4 bits
 * of the key's XXH3), so per-shard LRU order can be tested exactly. */
static void same_shard_keys(char out[][16], int n)
{
	uint64_t want = XXH3_64bits("s0", 2) >> 60;
	int got = 0;
	for (int i = 0; got < n; i++) {
		char k[16];
		snprintf(k, sizeof k, "s%d", i);
		if (XXH3_64bits(k, strlen(k)) >> 60 == want)
			strcpy(out[got++], k);
	}
}

static void test_basic(void **state)
{
	(void)state;
	lsm_cache *c = lsm_cache_new(1000);
	put(c, "a", 1, 1);
	put(c, "b", 2, 1);
	assert_int_equal(get(c, "a"), 1);
	assert_int_equal(get(c, "b"), 2);
	assert_int_equal(get(c, "c"), -1);
	assert_int_equal(lsm_cache_usage(c), 2);
	uint64_t hits, misses;
	lsm_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 1);

	/* replace frees the old value */
	put(c, "a", 3, 5);
	assert_int_equal(get(c, "a"), 3);
	assert_int_equal(deleted[1], 1);
	assert_int_equal(lsm_cache_usage(c), 6);

	lsm_cache_erase(c, "b", 1);
	assert_int_equal(deleted[2], 1);
	assert_int_equal(get(c, "b"), -1);
	lsm_cache_erase(c, "nope", 4);
	assert_int_equal(lsm_cache_usage(c), 5);

	uint64_t id1 = lsm_cache_new_id(c), id2 = lsm_cache_new_id(c);
	assert_true(id1 != 0 && id2 != 0 && id1 != id2);
	lsm_cache_free(c);
	assert_int_equal(deleted[3], 1);
	assert_int_equal(ndeleted, 3);
}

static void test_lru_order(void **state)
{
	(void)state;
	char k[5][16];
	same_shard_keys(k, 5);
	/* 3 units per shard */
	lsm_cache *c = lsm_cache_new(3 * 16);
	put(c, k[0], 0, 1);
	put(c, k[1], 1, 1);
	put(c, k[2], 2, 1);
	assert_int_equal(get(c, k[0]), 0);	/* k0 now most recent */
	put(c, k[3], 3, 1);			/* evicts k1, the oldest */
	assert_int_equal(get(c, k[1]), -1);
	assert_int_equal(deleted[1], 1);
	assert_int_equal(get(c, k[0]), 0);
	assert_int_equal(get(c, k[2]), 2);
	assert_int_equal(get(c, k[3]), 3);
	/* a charge of 2 pushes out the two oldest (k0 then k2) */
	put(c, k[4], 4, 2);
	assert_int_equal(deleted[0], 1);
	assert_int_equal(deleted[2], 1);
	assert_int_equal(get(c, k[2]), -1);
	assert_int_equal(get(c, k[3]), 3);
	assert_int_equal(get(c, k[4]), 4);
	lsm_cache_free(c);
}

static void test_eviction_by_charge(void **state)
{
	(void)state;
	const size_t cap = 1600;
	lsm_cache *c = lsm_cache_new(cap);
	char k[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof k, "key%d", i);
		put(c, k, i, 1 + (size_t)(i % 3));
		assert_true(lsm_cache_usage(c) <= cap + 16);
	}
	/* every shard keeps its newest entry */
	assert_int_equal(get(c, "key19999"), 19999);
	int present = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof k, "key%d", i);
		int v = get(c, k);
		if (v >= 0) {
			assert_int_equal(v, i);
			assert_int_equal(deleted[i], 0);
			present++;
		} else {
			assert_int_equal(deleted[i], 1);
		}
	}
	assert_true(present > 0 && present <= (int)cap);
	assert_int_equal(ndeleted + present, 20000);
	lsm_cache_free(c);
	assert_int_equal(ndeleted, 20000);
}

static void test_held_survive(void **state)
{
	(void)state;
	lsm_cache *c = lsm_cache_new(16 * 10);
	/* held, and bigger than its shard: stays while held */
	lsm_cache_handle *h = lsm_cache_insert(c, "big", 3, ival(7), 50, del_int);
	char k[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		put(c, k, 100 + i, 1);
	}
	assert_int_equal(deleted[7], 0);
	assert_int_equal(*(int *)lsm_cache_value(h), 7);
	assert_int_equal(get(c, "big"), 7);
	lsm_cache_release(c, h);
	/* unheld and over its shard's capacity: gone at once */
	assert_int_equal(deleted[7], 1);
	assert_int_equal(get(c, "big"), -1);

	/* erase while held: out of the cache, alive for the holder */
	h = lsm_cache_insert(c, "e", 1, ival(8), 1, del_int);
	lsm_cache_erase(c, "e", 1);
	assert_int_equal(get(c, "e"), -1);
	assert_int_equal(deleted[8], 0);
	assert_int_equal(*(int *)lsm_cache_value(h), 8);
	lsm_cache_release(c, h);
	assert_int_equal(deleted[8], 1);

	/* replace while held: the holder keeps the old value */
	h = lsm_cache_insert(c, "r", 1, ival(9), 1, del_int);
	put(c, "r", 10, 1);
	assert_int_equal(get(c, "r"), 10);
	assert_int_equal(*(int *)lsm_cache_value(h), 9);
	assert_int_equal(deleted[9], 0);
	lsm_cache_release(c, h);
	assert_int_equal(deleted[9], 1);
	/* two handles on one entry */
	lsm_cache_handle *h1 = lsm_cache_lookup(c, "r", 1);
	lsm_cache_handle *h2 = lsm_cache_lookup(c, "r", 1);
	assert_ptr_equal(h1, h2);
	lsm_cache_erase(c, "r", 1);
	lsm_cache_release(c, h1);
	assert_int_equal(deleted[10], 0);
	lsm_cache_release(c, h2);
	assert_int_equal(deleted[10], 1);
	lsm_cache_free(c);
}

static void test_capacity_zero(void **state)
{
	(void)state;
	lsm_cache *c = lsm_cache_new(0);
	lsm_cache_handle *h = lsm_cache_insert(c, "a", 1, ival(1), 1, del_int);
	assert_non_null(h);
	assert_int_equal(*(int *)lsm_cache_value(h), 1);
	assert_null(lsm_cache_lookup(c, "a", 1));
	assert_int_equal(lsm_cache_usage(c), 0);
	lsm_cache_release(c, h);
	assert_int_equal(deleted[1], 1);
	lsm_cache_free(c);
}

/* ---- threads ------------------------------------------------------------ */

struct tval {
	int key;
	int magic;
};

static int t_inserted, t_deleted;	/* atomics */

static void del_tval(const void *key, size_t klen, void *value)
{
	struct tval *v = value;
	char k[16];
	snprintf(k, sizeof k, "t%d", v->key);
	/* the deleter sees the entry's own key */
	if (klen != strlen(k) || memcmp(key, k, klen) != 0 || v->magic != 0x5eed)
		abort();
	v->magic = 0;
	__atomic_add_fetch(&t_deleted, 1, __ATOMIC_RELAXED);
	free(v);
}

struct targ {
	lsm_cache *c;
	unsigned seed;
	int bad;
};

static void *worker(void *p)
{
	struct targ *a = p;
	char k[16];
	for (int i = 0; i < 20000; i++) {
		a->seed = a->seed * 1103515245u + 12345u;
		int key = (int)((a->seed >> 8) % 500);
		int op = (int)((a->seed >> 20) % 10);
		snprintf(k, sizeof k, "t%d", key);
		if (op < 6) {
			lsm_cache_handle *h = lsm_cache_lookup(a->c, k, strlen(k));
			if (h) {
				struct tval *v = lsm_cache_value(h);
				if (v->key != key || v->magic != 0x5eed)
					a->bad++;
				lsm_cache_release(a->c, h);
			}
		} else if (op < 9) {
			struct tval *v = malloc(sizeof *v);
			v->key = key;
			v->magic = 0x5eed;
			lsm_cache_handle *h = lsm_cache_insert(a->c, k, strlen(k), v,
							       1 + (size_t)(key % 4), del_tval);
			__atomic_add_fetch(&t_inserted, 1, __ATOMIC_RELAXED);
			struct tval *w = lsm_cache_value(h);
			if (w->key != key || w->magic != 0x5eed)
				a->bad++;
			lsm_cache_release(a->c, h);
		} else {
			lsm_cache_erase(a->c, k, strlen(k));
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	lsm_cache *c = lsm_cache_new(300);
	pthread_t th[8];
	struct targ args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct targ){ .c = c, .seed = (unsigned)i * 7919u + 1, .bad = 0 };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
	assert_true(lsm_cache_usage(c) <= 300 + 16 * 4);
	uint64_t hits, misses;
	lsm_cache_stats(c, &hits, &misses);
	assert_true(hits + misses > 0);
	lsm_cache_free(c);
	assert_int_equal(t_deleted, t_inserted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_basic, reset),
		cmocka_unit_test_setup(test_lru_order, reset),
		cmocka_unit_test_setup(test_eviction_by_charge, reset),
		cmocka_unit_test_setup(test_held_survive, reset),
		cmocka_unit_test_setup(test_capacity_zero, reset),
		cmocka_unit_test_setup(test_threads, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
