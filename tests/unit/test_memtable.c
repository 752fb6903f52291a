/* Unit tests for memtable.c: 100,000 random adds (several versions per key,
 * seqs out of order) against a sorted-array model — gets at random
 * snapshots, iteration both ways, seeks, random walks; argument checks and
 * counters; range tombstones (cover against brute force, the copied list);
 * and one writer racing three lock-free readers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "memtable.h"

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t rnd_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) { return rnd_next(&rnd_state); }

/* ---- the model -------------------------------------------------------- */

struct ment {
	char key[12];
	size_t klen;
	uint64_t seq;
	int type;
	size_t vlen;
};

/* Value bytes derive from the seq, so the model need not store them. */
static void make_value(uint64_t seq, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (seq * 7 + i) % 26);
}

/* Internal-key order of (key, seq, type) vs a target (ukey, trailer). */
static int ment_vs(const struct ment *e, lsm_slice uk, uint64_t trailer)
{
	int r = lsm_slice_cmp(lsm_slice_of(e->key, e->klen), uk);
	if (r)
		return r;
	uint64_t t = lsm_pack_trailer(e->seq, e->type);
	return (t < trailer) - (t > trailer);
}

static int ment_cmp(const void *a, const void *b)
{
	const struct ment *y = b;
	return ment_vs(a, lsm_slice_of(y->key, y->klen),
		       lsm_pack_trailer(y->seq, y->type));
}

static size_t model_lb(const struct ment *m, size_t n, lsm_slice uk,
		       uint64_t trailer)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ment_vs(&m[mid], uk, trailer) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Keys of varied length, with prefixes of each other and the empty key. */
static size_t rand_key(char *k)
{
	unsigned r = (unsigned)(rnd() % 2500);
	if (r == 0)
		return 0;
	return (size_t)snprintf(k, 12, "%u", r);
}

static void expect_entry(lsm_it *it, const struct ment *e)
{
	assert_true(lsm_it_valid(it));
	lsm_slice k = lsm_it_key(it), uk, v = lsm_it_value(it);
	uint64_t seq;
	int type;
	assert_true(lsm_ikey_parse(k, &uk, &seq, &type));
	assert_true(lsm_slice_eq(uk, lsm_slice_of(e->key, e->klen)));
	assert_true(seq == e->seq);
	assert_int_equal(type, e->type);
	char want[64];
	make_value(e->seq, want, e->vlen);
	assert_int_equal(v.size, e->vlen);
	assert_memory_equal(v.data, want, e->vlen);
}

static void check_gets(lsm_memtable *m, const struct ment *model, size_t n,
		       uint64_t maxseq, int count)
{
	lsm_buf val = {0};
	for (int q = 0; q < count; q++) {
		char k[12];
		size_t kl = rand_key(k);
		lsm_slice uk = lsm_slice_of(k, kl);
		uint64_t snap = rnd() % 8 == 0 ? UINT64_MAX : rnd() % (maxseq + 2);
		uint64_t s = snap > LSM_SEQ_MAX ? LSM_SEQ_MAX : snap;
		size_t i = model_lb(model, n, uk, lsm_pack_trailer(s, LSM_T_SEEK));
		int type = -1;
		uint64_t seq = 0;
		lsm_buf_clear(&val);
		int rc = lsm_mem_get(m, uk, snap, &val, &type, &seq);
		if (i == n || !lsm_slice_eq(lsm_slice_of(model[i].key, model[i].klen), uk)) {
			assert_int_equal(rc, LSM_E_NOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(type, model[i].type);
		assert_true(seq == model[i].seq);
		if (type == LSM_T_VAL) {
			char want[64];
			make_value(seq, want, model[i].vlen);
			assert_int_equal(val.len, model[i].vlen);
			assert_memory_equal(val.data, want, val.len);
		}
	}
	lsm_buf_free(&val);
}

static void test_model(void **state)
{
	(void)state;
	enum { N = 100000, PHASE = 10000 };
	struct ment *model = calloc(N, sizeof *model);
	uint64_t *seqs = calloc(N, sizeof *seqs);
	assert_non_null(model);
	/* seqs 1..N shuffled: entries also land before existing versions */
	for (size_t i = 0; i < N; i++)
		seqs[i] = i + 1;
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)(rnd() % (i + 1));
		uint64_t t = seqs[i];
		seqs[i] = seqs[j];
		seqs[j] = t;
	}
	lsm_memtable *m = lsm_mem_new();
	assert_non_null(m);
	assert_true(lsm_mem_empty(m));
	assert_true(lsm_mem_entries(m) == 0);
	uint64_t bytes = 0;
	size_t n = 0;
	while (n < N) {
		for (size_t j = 0; j < PHASE; j++, n++) {
			struct ment *e = &model[n];
			e->klen = rand_key(e->key);
			e->seq = seqs[n];
			e->type = rnd() % 5 ? LSM_T_VAL : LSM_T_DEL;
			e->vlen = e->type == LSM_T_VAL ? (size_t)(rnd() % 60) : 0;
			char v[64];
			make_value(e->seq, v, e->vlen);
			assert_int_equal(lsm_mem_add(m, e->seq, e->type,
						     lsm_slice_of(e->key, e->klen),
						     lsm_slice_of(v, e->vlen)), 0);
			bytes += e->klen + e->vlen;
		}
		qsort(model, n, sizeof *model, ment_cmp);
		check_gets(m, model, n, N, 3000);
	}
	assert_false(lsm_mem_empty(m));
	assert_true(lsm_mem_entries(m) == N);
	assert_true(lsm_mem_bytes_in(m) == bytes);
	assert_true(lsm_mem_usage(m) >= bytes + N * 8);

	lsm_it *it = lsm_mem_iter(m);
	assert_non_null(it);
	assert_false(lsm_it_valid(it));
	lsm_it_seek_first(it);
	for (size_t i = 0; i < n; i++) {
		expect_entry(it, &model[i]);
		lsm_it_next(it);
	}
	assert_false(lsm_it_valid(it));
	lsm_it_seek_last(it);
	for (size_t i = n; i-- > 0;) {
		expect_entry(it, &model[i]);
		lsm_it_prev(it);
	}
	assert_false(lsm_it_valid(it));

	/* seeks to random internal keys, then a short random walk */
	lsm_buf t = {0};
	for (int q = 0; q < 3000; q++) {
		char k[12];
		size_t kl = rand_key(k);
		uint64_t s = rnd() % (N + 2);
		int ty = (int)(rnd() % 3);
		lsm_buf_clear(&t);
		assert_int_equal(lsm_ikey_append(&t, lsm_slice_of(k, kl), s, ty), 0);
		lsm_it_seek(it, lsm_buf_slice(&t));
		size_t pos = model_lb(model, n, lsm_slice_of(k, kl),
				      lsm_pack_trailer(s, ty));
		for (int step = 0; step < 10; step++) {
			if (pos == n) {
				assert_false(lsm_it_valid(it));
				break;
			}
			expect_entry(it, &model[pos]);
			if (rnd() % 3) {
				lsm_it_next(it);
				pos++;
			} else {
				lsm_it_prev(it);
				pos = pos ? pos - 1 : n;
			}
		}
	}
	/* a bare user key as a target: its newest version */
	lsm_it_seek(it, lsm_slice_of("1", 1));
	expect_entry(it, &model[model_lb(model, n, lsm_slice_of("1", 1), UINT64_MAX)]);
	lsm_buf_free(&t);
	assert_int_equal(lsm_it_status(it), 0);

	/* the iterator keeps the memtable alive */
	lsm_mem_unref(m);
	lsm_it_seek_first(it);
	expect_entry(it, &model[0]);
	lsm_it_free(it);
	free(model);
	free(seqs);
}

static void test_args_and_small(void **state)
{
	(void)state;
	lsm_memtable *m = lsm_mem_new();
	lsm_slice k = lsm_slice_of("key", 3), v = lsm_slice_of("val", 3);
	size_t u0 = lsm_mem_usage(m);
	assert_true(u0 > 0);
	assert_int_equal(lsm_mem_add(m, 5, LSM_T_VAL, k, v), 0);
	assert_int_equal(lsm_mem_add(m, 5, LSM_T_VAL, k, v), LSM_E_INVALID);
	assert_int_equal(lsm_mem_add(m, 5, LSM_T_DEL, k, lsm_slice_of("", 0)), 0);
	assert_int_equal(lsm_mem_add(m, 6, 7, k, v), LSM_E_INVALID);
	assert_int_equal(lsm_mem_add(m, LSM_SEQ_MAX + 1, LSM_T_VAL, k, v),
			 LSM_E_INVALID);
	assert_int_equal(lsm_mem_add(m, LSM_SEQ_MAX, LSM_T_VAL, k, v), 0);
	assert_true(lsm_mem_entries(m) == 3);

	lsm_buf b = {0};
	int type;
	uint64_t seq;
	/* at seq 5 the DEL (type 0) sorts after the VAL (type 1) */
	assert_int_equal(lsm_mem_get(m, k, 5, &b, &type, &seq), 0);
	assert_int_equal(type, LSM_T_VAL);
	assert_true(seq == 5);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "val", 3);
	assert_int_equal(lsm_mem_get(m, k, 4, &b, &type, &seq), LSM_E_NOTFOUND);
	assert_int_equal(lsm_mem_get(m, k, UINT64_MAX, NULL, &type, &seq), 0);
	assert_true(seq == LSM_SEQ_MAX);
	assert_int_equal(lsm_mem_get(m, lsm_slice_of("ke", 2), UINT64_MAX, &b,
				     &type, &seq), LSM_E_NOTFOUND);
	assert_int_equal(lsm_mem_get(m, lsm_slice_of("keyy", 4), UINT64_MAX,
				     &b, &type, &seq), LSM_E_NOTFOUND);

	/* a big value gets an arena block of its own and is counted */
	size_t big = 100000;
	char *bv = malloc(big);
	memset(bv, 'x', big);
	size_t u1 = lsm_mem_usage(m);
	assert_int_equal(lsm_mem_add(m, 9, LSM_T_VAL, lsm_slice_of("big", 3),
				     lsm_slice_of(bv, big)), 0);
	assert_true(lsm_mem_usage(m) >= u1 + big);
	assert_int_equal(lsm_mem_get(m, lsm_slice_of("big", 3), 9, &b, &type,
				     &seq), 0);
	assert_int_equal(b.len, big);
	assert_memory_equal(b.data, bv, big);
	free(bv);
	lsm_buf_free(&b);

	/* empty memtable iterator; a rangedel alone makes it non-empty */
	lsm_memtable *e = lsm_mem_new();
	lsm_it *it = lsm_mem_iter(e);
	lsm_it_seek_first(it);
	assert_false(lsm_it_valid(it));
	lsm_it_seek_last(it);
	assert_false(lsm_it_valid(it));
	lsm_it_seek(it, lsm_slice_of("anything", 8));
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_mem_add(e, 3, LSM_T_RANGEDEL, lsm_slice_of("a", 1),
				     lsm_slice_of("b", 1)), 0);
	assert_false(lsm_mem_empty(e));
	assert_true(lsm_mem_bytes_in(e) == 2);
	lsm_it_seek_first(it);
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_mem_get(e, lsm_slice_of("a", 1), 9, NULL, &type,
				     &seq), LSM_E_NOTFOUND);
	lsm_it_free(it);
	lsm_mem_unref(e);

	lsm_mem_ref(m);
	lsm_mem_unref(m);
	lsm_mem_unref(m);
}

/* ---- range tombstones ------------------------------------------------- */

static void test_rangedels(void **state)
{
	(void)state;
	enum { NT = 700 };
	lsm_memtable *m = lsm_mem_new();
	static char keys[NT][2][12];
	lsm_rangedel model[NT];
	size_t n = 0;
	assert_true(lsm_mem_rangedel_cover(m, lsm_slice_of("1", 1), 99) == 0);
	lsm_rangedel *out = (lsm_rangedel *)1;
	assert_int_equal(lsm_mem_rangedels(m, &out), 0);
	assert_null(out);
	/* a point entry under the tombstones: get must not apply them */
	assert_int_equal(lsm_mem_add(m, 1, LSM_T_VAL, lsm_slice_of("15", 2),
				     lsm_slice_of("x", 1)), 0);
	for (; n < NT; n++) {
		size_t bl = rand_key(keys[n][0]), el = rand_key(keys[n][1]);
		if (rnd() % 4 == 0)	/* many narrow ranges */
			el = (size_t)snprintf(keys[n][1], 12, "%.*s5", (int)bl,
					      keys[n][0]);
		model[n].begin = lsm_slice_of(keys[n][0], bl);
		model[n].end = lsm_slice_of(keys[n][1], el);
		model[n].seq = 2 + rnd() % 2000;
		/* copied: clobber our bytes after adding */
		char b[12], e[12];
		memcpy(b, keys[n][0], bl);
		memcpy(e, keys[n][1], el);
		assert_int_equal(lsm_mem_add(m, model[n].seq, LSM_T_RANGEDEL,
					     lsm_slice_of(b, bl),
					     lsm_slice_of(e, el)), 0);
		memset(b, '#', sizeof b);
		memset(e, '#', sizeof e);
		for (int q = 0; q < 25; q++) {
			char k[12];
			size_t kl = rand_key(k);
			uint64_t snap = rnd() % 2100;
			if (q == 0)
				snap = UINT64_MAX;
			uint64_t want = 0;
			for (size_t i = 0; i <= n; i++)
				if (model[i].seq <= snap && model[i].seq > want &&
				    lsm_slice_cmp(model[i].begin, lsm_slice_of(k, kl)) <= 0 &&
				    lsm_slice_cmp(lsm_slice_of(k, kl), model[i].end) < 0)
					want = model[i].seq;
			assert_true(lsm_mem_rangedel_cover(m, lsm_slice_of(k, kl),
							   snap) == want);
		}
	}
	size_t got = lsm_mem_rangedels(m, &out);
	assert_int_equal(got, NT);
	for (size_t i = 0; i < NT; i++) {
		assert_true(lsm_slice_eq(out[i].begin, model[i].begin));
		assert_true(lsm_slice_eq(out[i].end, model[i].end));
		assert_true(out[i].seq == model[i].seq);
	}
	free(out);
	assert_true(lsm_mem_entries(m) == NT + 1);
	int type;
	uint64_t seq;
	assert_int_equal(lsm_mem_get(m, lsm_slice_of("15", 2), UINT64_MAX, NULL,
				     &type, &seq), 0);
	assert_int_equal(type, LSM_T_VAL);
	lsm_it *it = lsm_mem_iter(m);
	size_t cnt = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		cnt++;
	assert_int_equal(cnt, 1);
	lsm_it_free(it);
	lsm_mem_unref(m);
}

/* ---- one writer, three lock-free readers ------------------------------ */

/* CSTEP: inserts between two rounds of one reader */
enum { CN = 200000, CREADERS = 3, CRD_EVERY = 400, CSTEP = 250 };

struct conc {
	lsm_memtable *m;
	uint32_t *perm;			/* key of the i-th insert */
	atomic_size_t done;		/* inserts completed */
	atomic_size_t rd_done;		/* range tombstones completed */
	atomic_bool stop;
	atomic_int failures;
	char why[CREADERS][128];
};

struct reader {
	struct conc *c;
	int id;
	uint64_t rnd;
	uint64_t gets, scans;
};

/* Cmocka asserts are not thread-safe: readers record, main asserts. */
static void conc_fail(struct reader *r, const char *what, uint64_t x)
{
	atomic_fetch_add(&r->c->failures, 1);
	if (!r->c->why[r->id][0])	/* each reader owns its slot */
		snprintf(r->c->why[r->id], sizeof r->c->why[r->id],
			 "reader %d: %s (%llu)", r->id, what,
			 (unsigned long long)x);
}

/* Well-formed: "c%08u" key, "val%08u" value with the same digits, VAL. */
static bool conc_entry_ok(lsm_slice ikey, lsm_slice val)
{
	lsm_slice uk;
	uint64_t seq;
	int type;
	if (!lsm_ikey_parse(ikey, &uk, &seq, &type) || type != LSM_T_VAL ||
	    seq == 0 || seq > CN || uk.size != 9 || uk.data[0] != 'c' ||
	    val.size != 11 || memcmp(val.data, "val", 3) != 0 ||
	    memcmp(val.data + 3, uk.data + 1, 8) != 0)
		return false;
	return true;
}

static void *conc_reader(void *arg)
{
	struct reader *r = arg;
	struct conc *c = r->c;
	lsm_buf val = {0};
	lsm_buf tgt = {0};
	/* at least a few rounds even if the writer finishes first */
	for (uint64_t loops = 0; !atomic_load(&c->stop) || loops < 20; loops++) {
		size_t mark = atomic_load_explicit(&c->done, memory_order_acquire);
		/* gets of keys whose insert completed before we looked */
		for (int q = 0; q < 64; q++) {
			size_t d = atomic_load_explicit(&c->done, memory_order_acquire);
			if (d == 0)
				break;
			uint32_t key = c->perm[rnd_next(&r->rnd) % d];
			char k[16], want[16];
			snprintf(k, sizeof k, "c%08u", key);
			snprintf(want, sizeof want, "val%08u", key);
			int type = -1;
			uint64_t seq;
			int rc = lsm_mem_get(c->m, lsm_slice_of(k, 9), UINT64_MAX,
					     &val, &type, &seq);
			if (rc != 0 || type != LSM_T_VAL || val.len != 11 ||
			    memcmp(val.data, want, 11) != 0)
				conc_fail(r, "completed key not found", key);
			r->gets++;
		}
		/* covering tombstones that completed before we looked */
		size_t rd = atomic_load_explicit(&c->rd_done, memory_order_acquire);
		if (rd) {
			size_t j = rnd_next(&r->rnd) % rd;
			char k[32];
			snprintf(k, sizeof k, "r%06zu", j);
			uint64_t s = lsm_mem_rangedel_cover(c->m, lsm_slice_of(k, 7),
							    UINT64_MAX);
			/* tombstones j-2..j cover r j; j is the newest */
			if (s != 1000000 + j)
				conc_fail(r, "tombstone cover", s);
		}
		/* a short ordered walk from a random point, either way */
		lsm_it *it = lsm_mem_iter(c->m);
		if (!it) {
			conc_fail(r, "iter alloc", 0);
			break;
		}
		char k[16];
		snprintf(k, sizeof k, "c%08u", (unsigned)(rnd_next(&r->rnd) % CN));
		lsm_buf_clear(&tgt);
		lsm_ikey_append(&tgt, lsm_slice_of(k, 9), LSM_SEQ_MAX, LSM_T_SEEK);
		lsm_it_seek(it, lsm_buf_slice(&tgt));
		bool back = rnd_next(&r->rnd) % 2;
		lsm_buf prev = {0};
		for (int step = 0; step < 200 && lsm_it_valid(it); step++) {
			lsm_slice ik = lsm_it_key(it);
			if (!conc_entry_ok(ik, lsm_it_value(it))) {
				conc_fail(r, "malformed entry", (uint64_t)ik.size);
				break;
			}
			if (prev.len) {
				int o = lsm_ikey_cmp(lsm_buf_slice(&prev), ik);
				if (back ? o <= 0 : o >= 0) {
					conc_fail(r, "out of order", (uint64_t)step);
					break;
				}
			}
			lsm_buf_set(&prev, ik.data, ik.size);
			if (back)
				lsm_it_prev(it);
			else
				lsm_it_next(it);
		}
		lsm_buf_free(&prev);
		/* now and then a full scan: at least every completed key */
		if (++r->scans % 40 == 0) {
			size_t d = atomic_load_explicit(&c->done, memory_order_acquire);
			size_t seen = 0;
			for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
				seen++;
			if (seen < d)
				conc_fail(r, "full scan short", seen);
		}
		lsm_it_free(it);
		/* Pace the rounds by the writer's progress, so the readers'
		 * work does not depend on machine speed or load (and they
		 * leave the writer a core on small machines). */
		while (!atomic_load(&c->stop) &&
		       atomic_load_explicit(&c->done, memory_order_acquire) <
			       mark + CSTEP) {
			struct timespec pause = { 0, 50000 };
			nanosleep(&pause, NULL);
		}
	}
	lsm_buf_free(&val);
	lsm_buf_free(&tgt);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct conc c;
	memset(&c, 0, sizeof c);
	atomic_init(&c.done, 0);
	atomic_init(&c.rd_done, 0);
	atomic_init(&c.stop, false);
	atomic_init(&c.failures, 0);
	c.m = lsm_mem_new();
	c.perm = calloc(CN, sizeof *c.perm);
	for (uint32_t i = 0; i < CN; i++)
		c.perm[i] = i;
	for (size_t i = CN - 1; i > 0; i--) {
		size_t j = (size_t)(rnd() % (i + 1));
		uint32_t t = c.perm[i];
		c.perm[i] = c.perm[j];
		c.perm[j] = t;
	}
	pthread_t th[CREADERS];
	struct reader rs[CREADERS];
	for (int i = 0; i < CREADERS; i++) {
		rs[i] = (struct reader){ .c = &c, .id = i, .rnd = 77 + (uint64_t)i };
		assert_int_equal(pthread_create(&th[i], NULL, conc_reader, &rs[i]), 0);
	}
	size_t nrd = 0;
	for (size_t i = 0; i < CN; i++) {
		char k[16], v[16];
		snprintf(k, sizeof k, "c%08u", c.perm[i]);
		snprintf(v, sizeof v, "val%08u", c.perm[i]);
		assert_int_equal(lsm_mem_add(c.m, i + 1, LSM_T_VAL,
					     lsm_slice_of(k, 9),
					     lsm_slice_of(v, 11)), 0);
		atomic_store_explicit(&c.done, i + 1, memory_order_release);
		if (i % CRD_EVERY == 0) {
			/* tombstone j: [r j, r j+3) at seq 1000000 + j */
			char b[32], e[32];
			snprintf(b, sizeof b, "r%06zu", nrd);
			snprintf(e, sizeof e, "r%06zu", nrd + 3);
			assert_int_equal(lsm_mem_add(c.m, 1000000 + nrd,
						     LSM_T_RANGEDEL,
						     lsm_slice_of(b, 7),
						     lsm_slice_of(e, 7)), 0);
			nrd++;
			atomic_store_explicit(&c.rd_done, nrd,
					      memory_order_release);
		}
	}
	atomic_store(&c.stop, true);
	for (int i = 0; i < CREADERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CREADERS; i++) {
		if (c.why[i][0])
			print_error("%s\n", c.why[i]);
		assert_true(rs[i].gets > 0);
	}
	assert_int_equal(atomic_load(&c.failures), 0);
	assert_true(lsm_mem_entries(c.m) == CN + nrd);
	/* every key is there, in order, once */
	lsm_it *it = lsm_mem_iter(c.m);
	uint32_t expect = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it), expect++) {
		char k[16];
		snprintf(k, sizeof k, "c%08u", expect);
		assert_true(lsm_slice_eq(lsm_ikey_user(lsm_it_key(it)),
					 lsm_slice_of(k, 9)));
	}
	assert_int_equal(expect, CN);
	lsm_it_free(it);
	lsm_mem_unref(c.m);
	free(c.perm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_args_and_small),
		cmocka_unit_test(test_rangedels),
		cmocka_unit_test(test_concurrent),
	};
	/* TEST_FILTER=test_concurrent runs one test (a glob) */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
