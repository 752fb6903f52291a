/* Unit tests for merge.c, the merging iterator: k sorted arrays (with keys
 * repeated inside and across children) against a model of the merged
 * order, forward, backward, random walks that switch direction, seeks;
 * both the linear-scan and the heap paths; error status; and a merge of
 * memtable iterators under the internal-key order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "iter.h"
#include "memtable.h"

static uint64_t rnd_state = 0x853c49e6748fea9bull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* ---- a child over a sorted array of keys ------------------------------ */

#define KEYLEN 4

struct vec_it {
	lsm_it base;
	int id;
	size_t n;
	char (*keys)[KEYLEN];	/* sorted, repeats allowed */
	size_t pos;		/* n: invalid */
	int err;
	char val[32];
};

static bool v_valid(lsm_it *it) { struct vec_it *v = (void *)it; return v->pos < v->n; }
static void v_first(lsm_it *it) { struct vec_it *v = (void *)it; v->pos = 0; }
static void v_last(lsm_it *it)
{
	struct vec_it *v = (void *)it;
	v->pos = v->n ? v->n - 1 : 0;
}
static void v_seek(lsm_it *it, lsm_slice t)
{
	struct vec_it *v = (void *)it;
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lsm_slice_cmp(lsm_slice_of(v->keys[mid], KEYLEN), t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	v->pos = lo;
}
static void v_next(lsm_it *it) { struct vec_it *v = (void *)it; assert_true(v->pos < v->n); v->pos++; }
static void v_prev(lsm_it *it)
{
	struct vec_it *v = (void *)it;
	assert_true(v->pos < v->n);
	v->pos = v->pos ? v->pos - 1 : v->n;
}
static lsm_slice v_key(lsm_it *it)
{
	struct vec_it *v = (void *)it;
	assert_true(v->pos < v->n);
	return lsm_slice_of(v->keys[v->pos], KEYLEN);
}
static lsm_slice v_value(lsm_it *it)
{
	struct vec_it *v = (void *)it;
	int len = snprintf(v->val, sizeof v->val, "%d:%zu", v->id, v->pos);
	return lsm_slice_of(v->val, (size_t)len);
}
static int v_status(lsm_it *it) { return ((struct vec_it *)it)->err; }
static void v_destroy(lsm_it *it)
{
	struct vec_it *v = (void *)it;
	free(v->keys);
	free(v);
}
static const struct lsm_it_ops vec_ops = {
	.valid = v_valid, .seek_first = v_first, .seek_last = v_last,
	.seek = v_seek, .next = v_next, .prev = v_prev, .key = v_key,
	.value = v_value, .status = v_status, .destroy = v_destroy,
};

/* ---- the model: every (key, child, pos) in merged order --------------- */

struct ment {
	char key[KEYLEN];
	int child;
	size_t pos;
};

static int ment_cmp(const void *a, const void *b)
{
	const struct ment *x = a, *y = b;
	int r = memcmp(x->key, y->key, KEYLEN);
	if (r)
		return r;
	if (x->child != y->child)
		return x->child < y->child ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEYLEN);
}

struct fixture {
	struct ment *model;
	size_t nmodel;
	lsm_it *it;
};

/* k children of random sizes (some empty) over a key space of `space`
 * values, so keys repeat within and across children. */
static void build(struct fixture *fx, int k, unsigned space)
{
	lsm_it **ch = calloc((size_t)k, sizeof *ch);
	size_t cap = 0;
	fx->model = NULL;
	fx->nmodel = 0;
	for (int c = 0; c < k; c++) {
		struct vec_it *v = calloc(1, sizeof *v);
		assert_non_null(v);
		v->base.ops = &vec_ops;
		v->id = c;
		v->n = rnd() % 4 == 0 ? 0 : (size_t)(rnd() % 120);
		v->keys = calloc(v->n ? v->n : 1, KEYLEN);
		for (size_t i = 0; i < v->n; i++) {
			char t[8];
			snprintf(t, sizeof t, "%04u", (unsigned)(rnd() % space));
			memcpy(v->keys[i], t, KEYLEN);
		}
		qsort(v->keys, v->n, KEYLEN, key_cmp);
		v->pos = v->n;
		if (fx->nmodel + v->n > cap) {
			cap = (fx->nmodel + v->n) * 2;
			fx->model = realloc(fx->model, cap * sizeof *fx->model);
		}
		for (size_t i = 0; i < v->n; i++) {
			struct ment *e = &fx->model[fx->nmodel++];
			memcpy(e->key, v->keys[i], KEYLEN);
			e->child = c;
			e->pos = i;
		}
		ch[c] = &v->base;
	}
	if (fx->nmodel)
		qsort(fx->model, fx->nmodel, sizeof *fx->model, ment_cmp);
	fx->it = lsm_it_merge(ch, (size_t)k, lsm_slice_cmp);
	assert_non_null(fx->it);
	free(ch);
}

static void release(struct fixture *fx)
{
	lsm_it_free(fx->it);
	free(fx->model);
}

/* The iterator is at model entry i (or invalid iff i == nmodel). */
static void expect_at(struct fixture *fx, size_t i)
{
	if (i >= fx->nmodel) {
		assert_false(lsm_it_valid(fx->it));
		return;
	}
	assert_true(lsm_it_valid(fx->it));
	lsm_slice k = lsm_it_key(fx->it), v = lsm_it_value(fx->it);
	assert_int_equal(k.size, KEYLEN);
	assert_memory_equal(k.data, fx->model[i].key, KEYLEN);
	char want[32];
	int len = snprintf(want, sizeof want, "%d:%zu", fx->model[i].child,
			   fx->model[i].pos);
	assert_int_equal(v.size, (size_t)len);
	assert_memory_equal(v.data, want, (size_t)len);
}

static size_t model_lower_bound(struct fixture *fx, const char *key)
{
	size_t lo = 0, hi = fx->nmodel;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(fx->model[mid].key, key, KEYLEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void run_model(int k, unsigned space)
{
	struct fixture fx;
	build(&fx, k, space);
	size_t N = fx.nmodel;

	assert_false(lsm_it_valid(fx.it));
	lsm_it_seek_first(fx.it);
	for (size_t i = 0; i < N; i++) {
		expect_at(&fx, i);
		lsm_it_next(fx.it);
	}
	expect_at(&fx, N);

	lsm_it_seek_last(fx.it);
	for (size_t i = N; i-- > 0;) {
		expect_at(&fx, i);
		lsm_it_prev(fx.it);
	}
	expect_at(&fx, N);

	/* random walks: seek somewhere, then step both ways */
	for (int walk = 0; walk < 60; walk++) {
		char t[8];
		size_t pos;
		switch (rnd() % 3) {
		case 0:
			snprintf(t, sizeof t, "%04u",
				 (unsigned)(rnd() % (space + 2)));
			lsm_it_seek(fx.it, lsm_slice_of(t, KEYLEN));
			pos = model_lower_bound(&fx, t);
			break;
		case 1:
			lsm_it_seek_first(fx.it);
			pos = 0;
			break;
		default:
			lsm_it_seek_last(fx.it);
			pos = N ? N - 1 : N;
			break;
		}
		expect_at(&fx, pos);
		for (int step = 0; step < 80 && pos < N; step++) {
			if (rnd() % 2) {
				lsm_it_next(fx.it);
				pos++;
			} else {
				lsm_it_prev(fx.it);
				pos = pos ? pos - 1 : N;
			}
			expect_at(&fx, pos);
		}
	}
	assert_int_equal(lsm_it_status(fx.it), 0);
	release(&fx);
}

static void test_linear_small(void **state)
{
	(void)state;
	for (int k = 2; k <= 4; k++)
		for (int rep = 0; rep < 20; rep++)
			run_model(k, rep % 2 ? 40 : 400);
}

static void test_heap_many(void **state)
{
	(void)state;
	int ks[] = {5, 7, 8, 16, 33};
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
		for (int rep = 0; rep < 10; rep++)
			run_model(ks[i], rep % 2 ? 30 : 2000);
}

static void test_zero_and_one(void **state)
{
	(void)state;
	run_model(1, 50);
	lsm_it *e = lsm_it_merge(NULL, 0, lsm_slice_cmp);
	assert_non_null(e);
	lsm_it_seek_first(e);
	assert_false(lsm_it_valid(e));
	assert_int_equal(lsm_it_status(e), 0);
	lsm_it_free(e);

	/* a NULL child (failed allocation) turns into an -ENOMEM status and
	 * the other children are freed (ASan checks the leak) */
	lsm_it *ch[3] = { lsm_it_empty(0), NULL, lsm_it_empty(0) };
	e = lsm_it_merge(ch, 3, lsm_slice_cmp);
	assert_non_null(e);
	lsm_it_seek_first(e);
	assert_false(lsm_it_valid(e));
	assert_int_equal(lsm_it_status(e), -ENOMEM);
	lsm_it_free(e);
}

/* A failed child stops the merge (going on would hand out what other
 * children hold while the failed one may hold newer versions); status is
 * the first error by index. */
static void test_error_status(void **state)
{
	(void)state;
	for (int k = 3; k <= 9; k += 6) {
		lsm_it **ch = calloc((size_t)k, sizeof *ch);
		for (int c = 0; c < k; c++) {
			struct vec_it *v = calloc(1, sizeof *v);
			v->base.ops = &vec_ops;
			v->id = c;
			v->n = c == 1 || c == 2 ? 0 : 3;
			v->keys = calloc(3, KEYLEN);
			memcpy(v->keys[0], "0001", KEYLEN);
			memcpy(v->keys[1], "0002", KEYLEN);
			memcpy(v->keys[2], "0003", KEYLEN);
			v->err = c == 1 ? -ENOSPC : c == 2 ? -EIO : 0;
			v->pos = v->n;
			ch[c] = &v->base;
		}
		lsm_it *m = lsm_it_merge(ch, (size_t)k, lsm_slice_cmp);
		free(ch);
		size_t seen = 0;
		for (lsm_it_seek_first(m); lsm_it_valid(m); lsm_it_next(m))
			seen++;
		assert_int_equal(seen, 0);
		assert_false(lsm_it_valid(m));
		assert_int_equal(lsm_it_status(m), -ENOSPC);
		lsm_it_free(m);
	}
}

/* Internal keys from memtables under lsm_ikey_cmp: the merge equals one
 * memtable holding everything. */
static void test_memtables(void **state)
{
	(void)state;
	enum { K = 6 };
	lsm_memtable *all = lsm_mem_new(), *mt[K];
	lsm_it *ch[K];
	for (int i = 0; i < K; i++)
		mt[i] = lsm_mem_new();
	for (uint64_t seq = 1; seq <= 5000; seq++) {
		char key[16];
		int len = snprintf(key, sizeof key, "k%u", (unsigned)(rnd() % 700));
		int type = rnd() % 5 ? LSM_T_VAL : LSM_T_DEL;
		lsm_slice v = lsm_slice_of(&seq, sizeof seq);
		int m = (int)(rnd() % K);
		assert_int_equal(lsm_mem_add(mt[m], seq, type,
					     lsm_slice_of(key, (size_t)len), v), 0);
		assert_int_equal(lsm_mem_add(all, seq, type,
					     lsm_slice_of(key, (size_t)len), v), 0);
	}
	for (int i = 0; i < K; i++) {
		ch[i] = lsm_mem_iter(mt[i]);
		lsm_mem_unref(mt[i]);	/* the iterators keep them alive */
	}
	lsm_it *m = lsm_it_merge(ch, K, lsm_ikey_cmp);
	lsm_it *one = lsm_mem_iter(all);
	size_t n = 0;
	for (lsm_it_seek_first(m), lsm_it_seek_first(one); lsm_it_valid(one);
	     lsm_it_next(m), lsm_it_next(one), n++) {
		assert_true(lsm_it_valid(m));
		assert_true(lsm_slice_eq(lsm_it_key(m), lsm_it_key(one)));
		assert_true(lsm_slice_eq(lsm_it_value(m), lsm_it_value(one)));
	}
	assert_false(lsm_it_valid(m));
	assert_int_equal(n, 5000);
	for (lsm_it_seek_last(m), lsm_it_seek_last(one); lsm_it_valid(one);
	     lsm_it_prev(m), lsm_it_prev(one))
		assert_true(lsm_slice_eq(lsm_it_key(m), lsm_it_key(one)));
	assert_false(lsm_it_valid(m));
	lsm_it_free(m);
	lsm_it_free(one);
	lsm_mem_unref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_small),
		cmocka_unit_test(test_heap_many),
		cmocka_unit_test(test_zero_and_one),
		cmocka_unit_test(test_error_status),
		cmocka_unit_test(test_memtables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
