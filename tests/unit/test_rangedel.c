/* Unit tests for rangedel.c, the range-tombstone fragmenter: random
 * overlapping tombstones against a brute-force model of cover(), the
 * shape of the fragments (sorted, disjoint, descending seqs), lower_bound,
 * and that the fragmenter owns copies of the key bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include "rangedel.h"

/* Every string over {a,b,c} of length 0..4, in memcmp order after the
 * sort below: boundary keys come from lengths 0..3, query keys from all,
 * so queries also land strictly between boundaries. */
#define POOL_BOUNDARY 40	/* 1 + 3 + 9 + 27 */
#define POOL_ALL 121		/* + 81 */
static char pool[POOL_ALL][5];

static int pool_cmp(const void *a, const void *b)
{
	return lsm_slice_cmp(lsm_slice_of(a, strlen(a)),
			     lsm_slice_of(b, strlen(b)));
}

static void pool_init(void)
{
	size_t n = 0;
	for (int len = 0; len <= 4; len++) {
		int combos = 1;
		for (int i = 0; i < len; i++)
			combos *= 3;
		for (int c = 0; c < combos; c++) {
			int v = c;
			for (int i = 0; i < len; i++) {
				pool[n][i] = (char)('a' + v % 3);
				v /= 3;
			}
			pool[n][len] = 0;
			n++;
		}
	}
	/* Keep the boundary/query split: sort each part on its own. */
	qsort(pool, POOL_BOUNDARY, sizeof pool[0], pool_cmp);
}

static lsm_slice pk(size_t i)
{
	return lsm_slice_of(pool[i], strlen(pool[i]));
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t brute_cover(const lsm_rangedel *t, size_t n, lsm_slice k,
			    uint64_t snap)
{
	uint64_t best = 0;
	for (size_t i = 0; i < n; i++)
		if (lsm_slice_cmp(t[i].begin, k) <= 0 &&
		    lsm_slice_cmp(k, t[i].end) < 0 && t[i].seq <= snap &&
		    t[i].seq > best)
			best = t[i].seq;
	return best;
}

/* Does the tombstone set cover k with seq s (at any snapshot)? */
static bool brute_has(const lsm_rangedel *t, size_t n, lsm_slice k,
		      uint64_t s)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].seq == s && lsm_slice_cmp(t[i].begin, k) <= 0 &&
		    lsm_slice_cmp(k, t[i].end) < 0)
			return true;
	return false;
}

static size_t brute_count_seqs(const lsm_rangedel *t, size_t n, lsm_slice k)
{
	uint64_t seen[256];
	size_t ns = 0;
	for (size_t i = 0; i < n; i++) {
		if (lsm_slice_cmp(t[i].begin, k) > 0 ||
		    lsm_slice_cmp(k, t[i].end) >= 0)
			continue;
		bool dup = false;
		for (size_t j = 0; j < ns; j++)
			dup |= seen[j] == t[i].seq;
		if (!dup)
			seen[ns++] = t[i].seq;
	}
	return ns;
}

/* Check f's shape and every query key against the model. */
static void check_frag(const lsm_frag *f, const lsm_rangedel *t, size_t n)
{
	size_t cnt = lsm_frag_count(f);
	lsm_slice pe = {0};
	for (size_t i = 0; i < cnt; i++) {
		lsm_slice b, e;
		const uint64_t *s;
		size_t ns;
		lsm_frag_at(f, i, &b, &e, &s, &ns);
		assert_true(lsm_slice_cmp(b, e) < 0);
		if (i > 0)
			assert_true(lsm_slice_cmp(pe, b) <= 0);
		pe = e;
		assert_true(ns >= 1);
		for (size_t j = 1; j < ns; j++)
			assert_true(s[j - 1] > s[j]);
		/* the list is exactly the set covering the fragment's begin */
		assert_int_equal(ns, brute_count_seqs(t, n, b));
		for (size_t j = 0; j < ns; j++)
			assert_true(brute_has(t, n, b, s[j]));
	}
	for (size_t q = 0; q < POOL_ALL; q++) {
		lsm_slice k = pk(q);
		/* lower_bound: first fragment whose end > k */
		size_t lb = lsm_frag_lower_bound(f, k), want = cnt;
		for (size_t i = 0; i < cnt; i++) {
			lsm_slice e;
			lsm_frag_at(f, i, NULL, &e, NULL, NULL);
			if (lsm_slice_cmp(e, k) > 0) {
				want = i;
				break;
			}
		}
		assert_int_equal(lb, want);
		/* a key inside a fragment is covered by exactly its list */
		if (lb < cnt) {
			lsm_slice b;
			size_t ns;
			lsm_frag_at(f, lb, &b, NULL, NULL, &ns);
			if (lsm_slice_cmp(b, k) <= 0)
				assert_int_equal(ns, brute_count_seqs(t, n, k));
			else
				assert_int_equal(brute_count_seqs(t, n, k), 0);
		} else {
			assert_int_equal(brute_count_seqs(t, n, k), 0);
		}
		uint64_t snaps[] = {0, 1, rnd() % 50, rnd() % 50, rnd() % 50,
				    25, UINT64_MAX};
		for (size_t j = 0; j < sizeof snaps / sizeof snaps[0]; j++)
			assert_true(lsm_frag_cover(f, k, snaps[j]) ==
				    brute_cover(t, n, k, snaps[j]));
	}
}

static void test_random_vs_model(void **state)
{
	(void)state;
	lsm_rangedel t[80];
	for (int round = 0; round < 400; round++) {
		size_t n = (size_t)(rnd() % 80);
		for (size_t i = 0; i < n; i++) {
			/* mostly proper ranges; some empty or inverted */
			t[i].begin = pk(rnd() % POOL_BOUNDARY);
			t[i].end = pk(rnd() % POOL_BOUNDARY);
			t[i].seq = 1 + rnd() % 45;	/* duplicates too */
		}
		lsm_frag *f = lsm_frag_new(t, n);
		assert_non_null(f);
		check_frag(f, t, n);
		lsm_frag_free(f);
	}
}

static void test_empty_and_degenerate(void **state)
{
	(void)state;
	lsm_frag *f = lsm_frag_new(NULL, 0);
	assert_non_null(f);
	assert_int_equal(lsm_frag_count(f), 0);
	assert_true(lsm_frag_cover(f, lsm_slice_of("a", 1), UINT64_MAX) == 0);
	assert_int_equal(lsm_frag_lower_bound(f, lsm_slice_of("a", 1)), 0);
	lsm_frag_free(f);

	/* only empty or inverted ranges: no fragments */
	lsm_rangedel t[] = {
		{ lsm_slice_of("b", 1), lsm_slice_of("b", 1), 5 },
		{ lsm_slice_of("c", 1), lsm_slice_of("a", 1), 6 },
		{ lsm_slice_of("", 0), lsm_slice_of("", 0), 7 },
	};
	f = lsm_frag_new(t, 3);
	assert_non_null(f);
	assert_int_equal(lsm_frag_count(f), 0);
	assert_true(lsm_frag_cover(f, lsm_slice_of("b", 1), UINT64_MAX) == 0);
	lsm_frag_free(f);
	lsm_frag_free(NULL);
}

static void test_known_layout(void **state)
{
	(void)state;
	/* [a,e)@10 and [c,g)@20, [c,g)@20 again, ["",b)@3 */
	lsm_rangedel t[] = {
		{ lsm_slice_of("a", 1), lsm_slice_of("e", 1), 10 },
		{ lsm_slice_of("c", 1), lsm_slice_of("g", 1), 20 },
		{ lsm_slice_of("c", 1), lsm_slice_of("g", 1), 20 },
		{ lsm_slice_of("", 0), lsm_slice_of("b", 1), 3 },
	};
	lsm_frag *f = lsm_frag_new(t, 4);
	assert_non_null(f);
	/* ["",a){3} [a,b){10,3} [b,c){10} [c,e){20,10} [e,g){20} */
	static const char *bounds[] = {"", "a", "b", "c", "e", "g"};
	static const size_t nseq[] = {1, 2, 1, 2, 1};
	static const uint64_t first[] = {3, 10, 10, 20, 20};
	assert_int_equal(lsm_frag_count(f), 5);
	for (size_t i = 0; i < 5; i++) {
		lsm_slice b, e;
		const uint64_t *s;
		size_t ns;
		lsm_frag_at(f, i, &b, &e, &s, &ns);
		assert_true(lsm_slice_eq(b, lsm_slice_of(bounds[i], strlen(bounds[i]))));
		assert_true(lsm_slice_eq(e, lsm_slice_of(bounds[i + 1], strlen(bounds[i + 1]))));
		assert_int_equal(ns, nseq[i]);
		assert_true(s[0] == first[i]);
	}
	assert_true(lsm_frag_cover(f, lsm_slice_of("d", 1), 15) == 10);
	assert_true(lsm_frag_cover(f, lsm_slice_of("d", 1), 9) == 0);
	assert_true(lsm_frag_cover(f, lsm_slice_of("d", 1), 20) == 20);
	assert_true(lsm_frag_cover(f, lsm_slice_of("g", 1), 99) == 0);
	assert_true(lsm_frag_cover(f, lsm_slice_of("", 0), 99) == 3);
	assert_int_equal(lsm_frag_lower_bound(f, lsm_slice_of("e", 1)), 4);
	assert_int_equal(lsm_frag_lower_bound(f, lsm_slice_of("z", 1)), 5);
	lsm_frag_free(f);
}

static void test_owns_bytes(void **state)
{
	(void)state;
	lsm_rangedel t[50];
	char *bufs[100];
	for (int i = 0; i < 50; i++) {
		bufs[2 * i] = malloc(8);
		bufs[2 * i + 1] = malloc(8);
		snprintf(bufs[2 * i], 8, "k%03d", i * 2);
		snprintf(bufs[2 * i + 1], 8, "k%03d", i * 2 + 7);
		t[i].begin = lsm_slice_of(bufs[2 * i], 4);
		t[i].end = lsm_slice_of(bufs[2 * i + 1], 4);
		t[i].seq = (uint64_t)i + 1;
	}
	lsm_frag *f = lsm_frag_new(t, 50);
	assert_non_null(f);
	for (int i = 0; i < 100; i++) {
		memset(bufs[i], 'z', 8);
		free(bufs[i]);
	}
	/* k010 is covered by tombstones i with 2i <= 10 < 2i + 7: i = 2..5 */
	assert_true(lsm_frag_cover(f, lsm_slice_of("k010", 4), UINT64_MAX) == 6);
	assert_true(lsm_frag_cover(f, lsm_slice_of("k010", 4), 4) == 4);
	assert_true(lsm_frag_cover(f, lsm_slice_of("k010", 4), 2) == 0);
	lsm_slice b;
	lsm_frag_at(f, 0, &b, NULL, NULL, NULL);
	assert_true(lsm_slice_eq(b, lsm_slice_of("k000", 4)));
	lsm_frag_free(f);
}

int main(void)
{
	pool_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_empty_and_degenerate),
		cmocka_unit_test(test_known_layout),
		cmocka_unit_test(test_owns_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
