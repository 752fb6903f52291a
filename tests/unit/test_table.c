/* Unit tests for table.c: build and read SSTs over the in-memory env —
 * gets at snapshots, iteration both ways, range tombstones, properties,
 * compression on and off, the block cache, concurrent readers, and damaged
 * files (flipped bytes, truncation, garbage) giving errors, never crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "table.h"

/* ---- a deterministic data set ------------------------------------------ */

/* User key i is "key%08d" of 2*i (odd numbers are absent); it has
 * nv(i) = 1 + i%3 versions, version j (0 oldest) at seq 1 + j*n + i; the
 * newest version of every 7th key is a deletion. */
struct dataset {
	int n;
};

static int nv(int i) { return 1 + i % 3; }

static uint64_t dseq(const struct dataset *d, int i, int j)
{
	return 1 + (uint64_t)j * (uint64_t)d->n + (uint64_t)i;
}

static int dtype(int i, int j)
{
	return (j == nv(i) - 1 && i % 7 == 3) ? LSM_T_DEL : LSM_T_VAL;
}

static size_t ukey(char *buf, int i)
{
	return (size_t)sprintf(buf, "key%08d", 2 * i);
}

static size_t dval(char *buf, int i, int j)
{
	int n = sprintf(buf, "val-%d-%d-", i, j);
	int len = 20 + (i * 7 + j) % 60;
	while (n < len) {
		buf[n] = (char)('a' + (n % 5));
		n++;
	}
	return (size_t)n;
}

static void ikey(lsm_buf *b, int i, uint64_t seq, int type)
{
	char k[32];
	lsm_buf_clear(b);
	lsm_ikey_append(b, lsm_slice_of(k, ukey(k, i)), seq, type);
}

/* ---- env helpers ---------------------------------------------------------- */

static lsm_env *env;

static int setup(void **state)
{
	(void)state;
	env = lsm_env_mem_new();
	return env ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	env->destroy(env);
	env = NULL;
	return 0;
}

static uint64_t fsize(const char *path)
{
	uint64_t n = 0;
	assert_int_equal(env->size(env, path, &n), 0);
	return n;
}

static char *slurp(const char *path, size_t *n)
{
	lsm_file *f;
	*n = (size_t)fsize(path);
	char *buf = malloc(*n ? *n : 1);
	assert_int_equal(env->open(env, path, LSM_OPEN_READ, &f), 0);
	size_t got = 0;
	assert_int_equal(env->pread(env, f, buf, *n, 0, &got), 0);
	assert_int_equal(got, *n);
	env->close(env, f);
	return buf;
}

static void spit(const char *path, const char *buf, size_t n)
{
	lsm_file *f;
	assert_int_equal(env->open(env, path, LSM_OPEN_WRITE, &f), 0);
	if (n)
		assert_int_equal(env->append(env, f, buf, n), 0);
	assert_int_equal(env->close(env, f), 0);
}

static lsm_table_builder *tb_open(const char *path, const lsm_table_opts *o,
				  lsm_file **f)
{
	lsm_table_builder *tb;
	assert_int_equal(env->open(env, path, LSM_OPEN_WRITE, f), 0);
	assert_int_equal(lsm_tb_new(env, *f, path, o, &tb), 0);
	return tb;
}

static void tb_close(lsm_table_builder *tb, lsm_file *f, lsm_table_props *p)
{
	assert_int_equal(lsm_tb_finish(tb, p), 0);
	lsm_tb_free(tb);
	assert_int_equal(env->close(env, f), 0);
}

static uint64_t build_dataset(const char *path, const struct dataset *d,
			      const lsm_table_opts *o, lsm_table_props *p)
{
	lsm_file *f;
	lsm_table_builder *tb = tb_open(path, o, &f);
	lsm_buf k = {0};
	char v[128];
	uint64_t n = 0;
	for (int i = 0; i < d->n; i++) {
		for (int j = nv(i) - 1; j >= 0; j--) {
			ikey(&k, i, dseq(d, i, j), dtype(i, j));
			size_t vl = dtype(i, j) == LSM_T_DEL ? 0 : dval(v, i, j);
			assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k),
						    lsm_slice_of(v, vl)), 0);
			n++;
		}
	}
	assert_int_equal(lsm_tb_entries(tb), n);
	assert_true(lsm_tb_size_estimate(tb) > 0);
	tb_close(tb, f, p);
	lsm_buf_free(&k);
	return n;
}

static lsm_table *topen(const char *path, lsm_cache *c)
{
	lsm_table *t = NULL;
	int rc = lsm_table_open(env, path, fsize(path), c, &t);
	if (rc)
		print_message("open: %s\n", lsm_errdetail());
	assert_int_equal(rc, 0);
	return t;
}

/* Expect the version of key i visible at snap (or NOTFOUND). */
static void expect_get(lsm_table *t, const struct dataset *d, int i,
		       uint64_t snap, bool fill)
{
	char k[32], v[128];
	lsm_buf val = {0};
	int type = -1;
	uint64_t seq = 0;
	int want = -1;
	for (int j = nv(i) - 1; j >= 0; j--) {
		if (dseq(d, i, j) <= snap) {
			want = j;
			break;
		}
	}
	int rc = lsm_table_get(t, lsm_slice_of(k, ukey(k, i)), snap, fill, &val,
			       &type, &seq);
	if (want < 0) {
		assert_int_equal(rc, LSM_E_NOTFOUND);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(type, dtype(i, want));
		assert_true(seq == dseq(d, i, want));
		if (type == LSM_T_VAL) {
			size_t vl = dval(v, i, want);
			assert_int_equal(val.len, vl);
			assert_memory_equal(val.data, v, vl);
		} else {
			assert_int_equal(val.len, 0);
		}
	}
	lsm_buf_free(&val);
}

static void check_entry(lsm_it *it, const struct dataset *d, int i, int j,
			lsm_buf *kb)
{
	char v[128];
	(void)d;
	assert_true(lsm_it_valid(it));
	ikey(kb, i, dseq(d, i, j), dtype(i, j));
	lsm_slice k = lsm_it_key(it);
	assert_int_equal(k.size, kb->len);
	assert_memory_equal(k.data, kb->data, k.size);
	size_t vl = dtype(i, j) == LSM_T_DEL ? 0 : dval(v, i, j);
	assert_int_equal(lsm_it_value(it).size, vl);
	assert_memory_equal(lsm_it_value(it).data, v, vl);
}

static void check_table(lsm_table *t, const struct dataset *d, uint64_t n,
			bool fill)
{
	lsm_buf kb = {0};
	char k[32];
	/* newest of every key, every version of some, absent keys */
	for (int i = 0; i < d->n; i++)
		expect_get(t, d, i, LSM_SEQ_MAX, fill);
	for (int i = 0; i < d->n; i += 97) {
		for (int j = 0; j < nv(i); j++) {
			expect_get(t, d, i, dseq(d, i, j), fill);
			expect_get(t, d, i, dseq(d, i, j) - 1, fill);
		}
	}
	for (int i = 0; i < d->n; i += 13) {
		size_t kl = (size_t)sprintf(k, "key%08d", 2 * i + 1);
		assert_int_equal(lsm_table_get(t, lsm_slice_of(k, kl), LSM_SEQ_MAX,
					       fill, NULL, NULL, NULL),
				 LSM_E_NOTFOUND);
	}

	/* forward and backward */
	lsm_it *it = lsm_table_iter(t, fill);
	assert_non_null(it);
	uint64_t seen = 0;
	lsm_it_seek_first(it);
	for (int i = 0; i < d->n; i++)
		for (int j = nv(i) - 1; j >= 0; j--) {
			check_entry(it, d, i, j, &kb);
			lsm_it_next(it);
			seen++;
		}
	assert_false(lsm_it_valid(it));
	assert_int_equal(seen, n);
	lsm_it_seek_last(it);
	for (int i = d->n - 1; i >= 0; i--)
		for (int j = 0; j < nv(i); j++) {
			check_entry(it, d, i, j, &kb);
			lsm_it_prev(it);
		}
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), 0);

	/* seeks: to a key's newest version, between keys, mid-versions */
	for (int i = 0; i < d->n; i += 37) {
		ikey(&kb, i, LSM_SEQ_MAX, LSM_T_SEEK);
		lsm_it_seek(it, lsm_buf_slice(&kb));
		check_entry(it, d, i, nv(i) - 1, &kb);
		if (i > 0) {
			lsm_it_prev(it);
			check_entry(it, d, i - 1, 0, &kb);
			lsm_it_next(it);
			check_entry(it, d, i, nv(i) - 1, &kb);
		}
		/* an absent key in between lands on the next user key */
		lsm_buf_clear(&kb);
		size_t kl = (size_t)sprintf(k, "key%08d", 2 * i + 1);
		lsm_ikey_append(&kb, lsm_slice_of(k, kl), LSM_SEQ_MAX, LSM_T_SEEK);
		lsm_it_seek(it, lsm_buf_slice(&kb));
		if (i + 1 < d->n)
			check_entry(it, d, i + 1, nv(i + 1) - 1, &kb);
		else
			assert_false(lsm_it_valid(it));
		if (nv(i) == 3) {
			/* a snapshot between versions */
			ikey(&kb, i, dseq(d, i, 1), LSM_T_SEEK);
			lsm_it_seek(it, lsm_buf_slice(&kb));
			check_entry(it, d, i, 1, &kb);
		}
	}
	lsm_buf_clear(&kb);
	lsm_ikey_append(&kb, lsm_slice_of("zzz", 3), LSM_SEQ_MAX, LSM_T_SEEK);
	lsm_it_seek(it, lsm_buf_slice(&kb));
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), 0);
	lsm_it_free(it);
	lsm_buf_free(&kb);
}

static void check_props(const lsm_table_props *p, const struct dataset *d,
			uint64_t n, uint64_t file_size)
{
	uint64_t dels = 0, maxs = 0, rawk = 0, rawv = 0;
	char v[128];
	for (int i = 0; i < d->n; i++)
		for (int j = 0; j < nv(i); j++) {
			dels += dtype(i, j) == LSM_T_DEL;
			maxs = LSM_MAX(maxs, dseq(d, i, j));
			rawk += 11 + 8;
			rawv += dtype(i, j) == LSM_T_DEL ? 0 : dval(v, i, j);
		}
	assert_int_equal(p->entries, n);
	assert_int_equal(p->deletions, dels);
	assert_int_equal(p->range_deletions, 0);
	assert_int_equal(p->raw_key_bytes, rawk);
	assert_int_equal(p->raw_value_bytes, rawv);
	assert_int_equal(p->min_seq, 1);
	assert_int_equal(p->max_seq, maxs);
	assert_int_equal(p->format_version, LSM_TABLE_FORMAT_VERSION);
	assert_int_equal(p->file_size, file_size);
	assert_true(p->data_blocks > 10);
	assert_true(p->data_bytes > 0 && p->data_bytes < file_size);
	assert_true(p->index_bytes > 0);
	assert_true(p->data_bytes + p->index_bytes + p->filter_bytes < file_size);
	lsm_buf kb = {0};
	ikey(&kb, 0, dseq(d, 0, nv(0) - 1), dtype(0, nv(0) - 1));
	assert_int_equal(p->smallest.len, kb.len);
	assert_memory_equal(p->smallest.data, kb.data, kb.len);
	ikey(&kb, d->n - 1, dseq(d, d->n - 1, 0), dtype(d->n - 1, 0));
	assert_int_equal(p->largest.len, kb.len);
	assert_memory_equal(p->largest.data, kb.data, kb.len);
	lsm_buf_free(&kb);
}

/* ---- the big round trip ------------------------------------------------- */

static uint64_t roundtrip(int compression, bool with_cache)
{
	struct dataset d = { .n = 50000 };
	lsm_table_opts o = { .block_size = 4096, .restart_interval = 16,
			     .compression = compression, .bloom_bits_per_key = 10 };
	lsm_table_props bp = {0};
	const char *path = "/db/000001.sst";
	uint64_t n = build_dataset(path, &d, &o, &bp);
	uint64_t size = fsize(path);
	check_props(&bp, &d, n, size);

	lsm_cache *c = with_cache ? lsm_cache_new(8 << 20) : NULL;
	lsm_table *t = topen(path, c);
	const lsm_table_props *p = lsm_table_get_props(t);
	check_props(p, &d, n, size);
	assert_int_equal(p->data_blocks, bp.data_blocks);
	assert_int_equal(p->data_bytes, bp.data_bytes);
	assert_int_equal(p->filter_bytes, bp.filter_bytes);
	assert_true(p->filter_bytes >= 50000 * 10 / 8);
	check_table(t, &d, n, true);
	if (c) {
		uint64_t h1, m1, h2, m2;
		assert_true(lsm_cache_usage(c) > 0);
		lsm_cache_stats(c, &h1, &m1);
		expect_get(t, &d, 100, LSM_SEQ_MAX, true);
		lsm_cache_stats(c, &h2, &m2);
		assert_int_equal(h2, h1 + 1);	/* served from the cache */
		assert_int_equal(m2, m1);
	}
	assert_int_equal(lsm_table_verify(t, NULL, NULL), 0);
	const lsm_rangedel *rd;
	assert_int_equal(lsm_table_rangedels(t, &rd), 0);
	lsm_table_close(t);
	lsm_cache_free(c);
	lsm_table_props_free(&bp);
	return size;
}

static void test_roundtrip_compressed(void **state)
{
	(void)state;
	uint64_t zs = roundtrip(1, true);
	uint64_t rs = roundtrip(0, true);
	print_message("table size: %llu compressed, %llu raw\n",
		      (unsigned long long)zs, (unsigned long long)rs);
	assert_true(zs < rs);
}

static void test_roundtrip_no_cache(void **state)
{
	(void)state;
	roundtrip(3, false);
}

static void test_fill_cache_false(void **state)
{
	(void)state;
	struct dataset d = { .n = 3000 };
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10 };
	lsm_table_props bp = {0};
	uint64_t n = build_dataset("/t.sst", &d, &o, &bp);
	lsm_cache *c = lsm_cache_new(1 << 20);
	lsm_table *t = topen("/t.sst", c);
	check_table(t, &d, n, false);
	assert_int_equal(lsm_cache_usage(c), 0);
	expect_get(t, &d, 5, LSM_SEQ_MAX, true);
	assert_true(lsm_cache_usage(c) > 0);
	lsm_table_close(t);
	lsm_cache_free(c);
	lsm_table_props_free(&bp);
}

/* ---- range tombstones ----------------------------------------------------- */

static void test_rangedels(void **state)
{
	(void)state;
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10 };
	lsm_file *f;
	lsm_table_builder *tb = tb_open("/r.sst", &o, &f);
	lsm_buf k = {0};
	lsm_ikey_append(&k, lsm_slice_of("m1", 2), 50, LSM_T_VAL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k), lsm_slice_of("v", 1)), 0);
	lsm_buf_clear(&k);
	lsm_ikey_append(&k, lsm_slice_of("m2", 2), 51, LSM_T_DEL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k), lsm_slice_of("", 0)), 0);
	/* added out of order; two share a begin */
	struct { const char *b, *e; uint64_t s; } in[] = {
		{"k", "n", 40}, {"b", "d", 7}, {"k", "l", 60}, {"c", "zz", 3},
		{"a", "b", 90},
	};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of(in[i].b, strlen(in[i].b)),
						     lsm_slice_of(in[i].e, strlen(in[i].e)),
						     in[i].s), 0);
	lsm_table_props bp = {0};
	tb_close(tb, f, &bp);
	assert_int_equal(bp.range_deletions, 5);
	assert_int_equal(bp.entries, 2);
	assert_int_equal(bp.deletions, 1);
	assert_int_equal(bp.min_seq, 3);
	assert_int_equal(bp.max_seq, 90);
	/* bounds widened to the tombstones */
	lsm_buf_clear(&k);
	lsm_ikey_append(&k, lsm_slice_of("a", 1), 90, LSM_T_RANGEDEL);
	assert_int_equal(bp.smallest.len, k.len);
	assert_memory_equal(bp.smallest.data, k.data, k.len);
	lsm_buf_clear(&k);
	lsm_ikey_append(&k, lsm_slice_of("zz", 2), LSM_SEQ_MAX, LSM_T_RANGEDEL);
	assert_int_equal(bp.largest.len, k.len);
	assert_memory_equal(bp.largest.data, k.data, k.len);

	lsm_table *t = topen("/r.sst", NULL);
	const lsm_rangedel *rd;
	size_t n = lsm_table_rangedels(t, &rd);
	assert_int_equal(n, 5);
	struct { const char *b, *e; uint64_t s; } want[] = {
		{"a", "b", 90}, {"b", "d", 7}, {"c", "zz", 3}, {"k", "l", 60},
		{"k", "n", 40},
	};
	for (size_t i = 0; i < n; i++) {
		assert_true(lsm_slice_eq(rd[i].begin, lsm_slice_of(want[i].b, strlen(want[i].b))));
		assert_true(lsm_slice_eq(rd[i].end, lsm_slice_of(want[i].e, strlen(want[i].e))));
		assert_int_equal(rd[i].seq, want[i].s);
	}
	const lsm_table_props *p = lsm_table_get_props(t);
	assert_int_equal(p->range_deletions, 5);
	assert_true(lsm_slice_eq(lsm_buf_slice(&p->smallest), lsm_buf_slice(&bp.smallest)));
	assert_true(lsm_slice_eq(lsm_buf_slice(&p->largest), lsm_buf_slice(&bp.largest)));
	/* the point entries are untouched by tombstones at this layer */
	lsm_buf v = {0};
	int type;
	assert_int_equal(lsm_table_get(t, lsm_slice_of("m1", 2), 100, true, &v,
				       &type, NULL), 0);
	assert_int_equal(type, LSM_T_VAL);
	assert_int_equal(lsm_table_get(t, lsm_slice_of("m2", 2), 100, true, &v,
				       &type, NULL), 0);
	assert_int_equal(type, LSM_T_DEL);
	assert_int_equal(lsm_table_verify(t, NULL, NULL), 0);
	lsm_table_close(t);
	lsm_table_props_free(&bp);

	/* a table of tombstones only */
	tb = tb_open("/r2.sst", &o, &f);
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("x", 1),
					     lsm_slice_of("y", 1), 9), 0);
	tb_close(tb, f, NULL);
	t = topen("/r2.sst", NULL);
	assert_int_equal(lsm_table_rangedels(t, &rd), 1);
	assert_int_equal(rd[0].seq, 9);
	p = lsm_table_get_props(t);
	assert_int_equal(p->entries, 0);
	assert_int_equal(p->data_blocks, 0);
	lsm_buf_clear(&k);
	lsm_ikey_append(&k, lsm_slice_of("x", 1), 9, LSM_T_RANGEDEL);
	assert_true(lsm_slice_eq(lsm_buf_slice(&p->smallest), lsm_buf_slice(&k)));
	lsm_it *it = lsm_table_iter(t, true);
	lsm_it_seek_first(it);
	assert_false(lsm_it_valid(it));
	lsm_it_free(it);
	assert_int_equal(lsm_table_get(t, lsm_slice_of("x", 1), 100, true, NULL,
				       NULL, NULL), LSM_E_NOTFOUND);
	lsm_table_close(t);
	lsm_buf_free(&k);
	lsm_buf_free(&v);
}

static void test_empty_table(void **state)
{
	(void)state;
	lsm_file *f;
	lsm_table_props bp = {0};
	lsm_table_builder *tb = tb_open("/e.sst", NULL, &f);
	tb_close(tb, f, &bp);
	assert_int_equal(bp.entries, 0);
	assert_int_equal(bp.smallest.len, 0);
	assert_int_equal(bp.min_seq, 0);
	lsm_table *t = topen("/e.sst", NULL);
	lsm_it *it = lsm_table_iter(t, true);
	lsm_it_seek_last(it);
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), 0);
	lsm_it_free(it);
	assert_int_equal(lsm_table_get(t, lsm_slice_of("a", 1), 5, true, NULL,
				       NULL, NULL), LSM_E_NOTFOUND);
	assert_int_equal(lsm_table_verify(t, NULL, NULL), 0);
	lsm_table_close(t);
	lsm_table_props_free(&bp);
}

static void test_builder_rejects(void **state)
{
	(void)state;
	lsm_file *f;
	lsm_table_builder *tb = tb_open("/x.sst", NULL, &f);
	lsm_buf a = {0}, b = {0};
	lsm_ikey_append(&a, lsm_slice_of("b", 1), 5, LSM_T_VAL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&a), lsm_slice_of("", 0)), 0);
	/* equal, smaller user key, same key at a higher seq: out of order */
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&a), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	lsm_ikey_append(&b, lsm_slice_of("a", 1), 5, LSM_T_VAL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&b), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	lsm_buf_clear(&b);
	lsm_ikey_append(&b, lsm_slice_of("b", 1), 6, LSM_T_VAL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&b), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	/* not a point key */
	lsm_buf_clear(&b);
	lsm_ikey_append(&b, lsm_slice_of("c", 1), 6, LSM_T_RANGEDEL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&b), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	assert_int_equal(lsm_tb_add(tb, lsm_slice_of("short", 5), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	/* empty or reversed ranges */
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("b", 1),
					     lsm_slice_of("b", 1), 1), LSM_E_INVALID);
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("c", 1),
					     lsm_slice_of("b", 1), 1), LSM_E_INVALID);
	/* the builder is still usable after rejected calls */
	lsm_buf_clear(&b);
	lsm_ikey_append(&b, lsm_slice_of("b", 1), 4, LSM_T_DEL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&b), lsm_slice_of("", 0)), 0);
	assert_int_equal(lsm_tb_entries(tb), 2);
	assert_int_equal(lsm_tb_finish(tb, NULL), 0);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&b), lsm_slice_of("", 0)),
			 LSM_E_INVALID);
	lsm_tb_free(tb);
	env->close(env, f);
	lsm_buf_free(&a);
	lsm_buf_free(&b);
}

static void test_big_values_long_keys(void **state)
{
	(void)state;
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10 };
	lsm_file *f;
	lsm_table_builder *tb = tb_open("/big.sst", &o, &f);
	lsm_buf k = {0};
	size_t vlen = 1 << 20;
	char *v = malloc(vlen);
	char key[400];
	for (int i = 0; i < 20; i++) {
		memset(key, 'k', sizeof key);
		snprintf(key, 8, "%06d", i);
		key[6] = '/';
		/* alternate zeros (compress ~1000:1) and incompressible bytes */
		for (size_t j = 0; j < vlen; j++)
			v[j] = i % 2 ? (char)((j * 2654435761u) >> 13 ^ (unsigned)i) : 0;
		lsm_buf_clear(&k);
		lsm_ikey_append(&k, lsm_slice_of(key, 200 + (size_t)i), 7, LSM_T_VAL);
		lsm_slice val = lsm_slice_of(v, vlen / (size_t)(1 + i % 4));
		assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k), val), 0);
	}
	lsm_table_props bp = {0};
	tb_close(tb, f, &bp);
	assert_int_equal(bp.data_blocks, 20);
	lsm_table *t = topen("/big.sst", NULL);
	lsm_buf got = {0};
	for (int i = 0; i < 20; i++) {
		memset(key, 'k', sizeof key);
		snprintf(key, 8, "%06d", i);
		key[6] = '/';
		for (size_t j = 0; j < vlen; j++)
			v[j] = i % 2 ? (char)((j * 2654435761u) >> 13 ^ (unsigned)i) : 0;
		int type;
		assert_int_equal(lsm_table_get(t, lsm_slice_of(key, 200 + (size_t)i), 100,
					       true, &got, &type, NULL), 0);
		assert_int_equal(got.len, vlen / (size_t)(1 + i % 4));
		assert_memory_equal(got.data, v, got.len);
	}
	assert_int_equal(lsm_table_verify(t, NULL, NULL), 0);
	lsm_table_close(t);
	lsm_table_props_free(&bp);
	lsm_buf_free(&got);
	lsm_buf_free(&k);
	free(v);
}

/* Incompressible data blocks make the builder stop trying zstd for a while
 * (the back-off in table.c); compressible blocks after them must still be
 * compressed, and everything reads back. */
static void fill_block_value(char *v, size_t n, int i, bool random)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	for (size_t j = 0; j < n; j++) {
		if (random) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v[j] = (char)x;
		} else {
			v[j] = (char)('a' + (j / 64 + (size_t)i) % 3);
		}
	}
}

static void test_compression_backoff(void **state)
{
	(void)state;
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10,
			     .block_size = 4096 };
	lsm_file *f;
	lsm_table_builder *tb = tb_open("/zb.sst", &o, &f);
	lsm_buf k = {0};
	char v[4000], key[16];
	const int n = 600;	/* 400 random values, then 200 compressible */
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "b%08d", i);
		fill_block_value(v, sizeof v, i, i < 400);
		lsm_buf_clear(&k);
		lsm_ikey_append(&k, lsm_slice_of(key, strlen(key)), 3, LSM_T_VAL);
		assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k),
					    lsm_slice_of(v, sizeof v)), 0);
	}
	lsm_table_props bp = {0};
	tb_close(tb, f, &bp);
	/* the random part costs its size; of the compressible part at most
	 * the longest skip (64 blocks) is stored raw, the rest shrinks */
	assert_true(bp.data_bytes > 400u * sizeof v);
	assert_true(bp.data_bytes < 400u * (sizeof v + 64) + 64u * (sizeof v + 64) +
				    136u * sizeof v / 4);
	lsm_table *t = topen("/zb.sst", NULL);
	lsm_buf got = {0};
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "b%08d", i);
		fill_block_value(v, sizeof v, i, i < 400);
		int type;
		assert_int_equal(lsm_table_get(t, lsm_slice_of(key, strlen(key)), 10,
					       true, &got, &type, NULL), 0);
		assert_int_equal(got.len, sizeof v);
		assert_memory_equal(got.data, v, sizeof v);
	}
	assert_int_equal(lsm_table_verify(t, NULL, NULL), 0);
	lsm_table_close(t);
	lsm_table_props_free(&bp);
	lsm_buf_free(&got);
	lsm_buf_free(&k);
}

/* ---- damage ----------------------------------------------------------------- */

struct handle {
	const char *what;
	uint64_t off, size;
};

static bool read_handle(lsm_slice v, uint64_t *off, uint64_t *size)
{
	return lsm_getv64(&v, off) && lsm_getv64(&v, size);
}

/* Find each block of an uncompressed table by walking footer, metaindex
 * and index the way a reader would. */
static size_t find_blocks(const char *buf, size_t n, struct handle *h)
{
	size_t nh = 0;
	const char *foot = buf + n - 48;
	uint64_t moff = lsm_dec64(foot), msize = lsm_dec64(foot + 8);
	h[nh++] = (struct handle){ "metaindex", moff, msize };
	h[nh++] = (struct handle){ "index", lsm_dec64(foot + 16), lsm_dec64(foot + 24) };
	lsm_block b;
	assert_int_equal(buf[moff + msize], 0);	/* raw */
	assert_int_equal(lsm_block_init(&b, buf + moff, (size_t)msize), 0);
	lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, NULL, 0);
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		lsm_slice k = lsm_it_key(it);
		struct handle x = { NULL, 0, 0 };
		assert_true(read_handle(lsm_it_value(it), &x.off, &x.size));
		if (lsm_slice_eq(k, lsm_slice_of("lsm.filter", 10)))
			x.what = "filter";
		else if (lsm_slice_eq(k, lsm_slice_of("lsm.props", 9)))
			x.what = "properties";
		else if (lsm_slice_eq(k, lsm_slice_of("lsm.rangedel", 12)))
			x.what = "range-del";
		assert_non_null(x.what);
		h[nh++] = x;
	}
	lsm_it_free(it);
	uint64_t ioff = h[1].off, isize = h[1].size;
	assert_int_equal(buf[ioff + isize], 0);
	assert_int_equal(lsm_block_init(&b, buf + ioff, (size_t)isize), 0);
	it = lsm_block_iter(&b, lsm_ikey_cmp, NULL, 0);
	lsm_it_seek_first(it);
	lsm_it_next(it);	/* the second data block */
	assert_true(lsm_it_valid(it));
	struct handle x = { "data", 0, 0 };
	assert_true(read_handle(lsm_it_value(it), &x.off, &x.size));
	h[nh++] = x;
	lsm_it_free(it);
	return nh;
}

/* Read everything a table offers; the first error, or 0. */
static int read_all(lsm_table *t, const struct dataset *d)
{
	int rc = 0;
	lsm_it *it = lsm_table_iter(t, true);
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		;
	rc = lsm_it_status(it);
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
		;
	if (!rc)
		rc = lsm_it_status(it);
	lsm_it_free(it);
	char k[32];
	for (int i = 0; i < d->n && !rc; i++) {
		int r = lsm_table_get(t, lsm_slice_of(k, ukey(k, i)), LSM_SEQ_MAX,
				      true, NULL, NULL, NULL);
		if (r != 0 && r != LSM_E_NOTFOUND)
			rc = r;
	}
	return rc;
}

struct vlog {
	int calls;
	uint64_t off[8];
};

static void vcb(void *ctx, uint64_t off, const char *msg)
{
	struct vlog *l = ctx;
	(void)msg;
	if (l->calls < 8)
		l->off[l->calls] = off;
	l->calls++;
}

static void build_small(const char *path, const struct dataset *d, int comp)
{
	lsm_table_opts o = { .block_size = 512, .compression = comp,
			     .bloom_bits_per_key = 10 };
	lsm_file *f;
	lsm_table_builder *tb = tb_open(path, &o, &f);
	lsm_buf k = {0};
	char v[128];
	for (int i = 0; i < d->n; i++)
		for (int j = nv(i) - 1; j >= 0; j--) {
			ikey(&k, i, dseq(d, i, j), dtype(i, j));
			size_t vl = dtype(i, j) == LSM_T_DEL ? 0 : dval(v, i, j);
			assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k),
						    lsm_slice_of(v, vl)), 0);
		}
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("key0", 4),
					     lsm_slice_of("key1", 4), 3), 0);
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("a", 1),
					     lsm_slice_of("b", 1), 2), 0);
	tb_close(tb, f, NULL);
	lsm_buf_free(&k);
}

static void test_flip_each_block_type(void **state)
{
	(void)state;
	struct dataset d = { .n = 300 };
	build_small("/good.sst", &d, 0);
	size_t n;
	char *buf = slurp("/good.sst", &n);
	struct handle h[8];
	size_t nh = find_blocks(buf, n, h);
	assert_int_equal(nh, 6);	/* meta, index, filter, props, rangedel, data */
	char *bad = malloc(n);
	for (size_t i = 0; i < nh; i++) {
		/* a payload byte, the compression type, a checksum byte */
		uint64_t where[3] = { h[i].off + h[i].size / 2, h[i].off + h[i].size,
				      h[i].off + h[i].size + 2 };
		for (int w = 0; w < 3; w++) {
			memcpy(bad, buf, n);
			bad[where[w]] ^= 0x20;
			spit("/bad.sst", bad, n);
			char want[64];
			snprintf(want, sizeof want, "offset %llu", (unsigned long long)h[i].off);
			lsm_table *t = NULL;
			int rc = lsm_table_open(env, "/bad.sst", n, NULL, &t);
			if (strcmp(h[i].what, "data") != 0) {
				assert_int_equal(rc, LSM_E_CORRUPT);
				assert_null(t);
			} else {
				/* data blocks are read on demand */
				assert_int_equal(rc, 0);
				rc = read_all(t, &d);
				assert_int_equal(rc, LSM_E_CORRUPT);
			}
			if (!strstr(lsm_errdetail(), "/bad.sst") ||
			    !strstr(lsm_errdetail(), want))
				print_message("%s block: detail \"%s\"\n", h[i].what,
					      lsm_errdetail());
			assert_non_null(strstr(lsm_errdetail(), "/bad.sst"));
			assert_non_null(strstr(lsm_errdetail(), want));
			if (t) {
				struct vlog l = {0};
				assert_int_equal(lsm_table_verify(t, vcb, &l), LSM_E_CORRUPT);
				assert_int_equal(l.calls, 1);
				assert_true(l.off[0] == h[i].off);
				assert_non_null(strstr(lsm_errdetail(), want));
				lsm_table_close(t);
			}
		}
	}
	free(bad);
	free(buf);
}

/* Every single flipped byte anywhere in a (compressed) table is caught by
 * open, a read or verify, and nothing crashes. */
static void test_flip_every_byte(void **state)
{
	(void)state;
	struct dataset d = { .n = 40 };
	build_small("/good.sst", &d, 1);
	size_t n;
	char *buf = slurp("/good.sst", &n);
	char *bad = malloc(n);
	for (size_t pos = 0; pos < n; pos++) {
		memcpy(bad, buf, n);
		bad[pos] ^= (char)(1u << (pos % 8));
		spit("/bad.sst", bad, n);
		lsm_table *t = NULL;
		int rc = lsm_table_open(env, "/bad.sst", n, NULL, &t);
		if (rc == 0) {
			int r1 = read_all(t, &d);
			int r2 = lsm_table_verify(t, NULL, NULL);
			assert_true(r1 == 0 || r1 == LSM_E_CORRUPT);
			if (r2 != LSM_E_CORRUPT)
				print_message("flip at %zu of %zu not detected\n", pos, n);
			assert_int_equal(r2, LSM_E_CORRUPT);
			lsm_table_close(t);
		} else {
			assert_true(rc == LSM_E_CORRUPT || rc == LSM_E_VERSION);
		}
	}
	free(bad);
	free(buf);
}

static void test_truncated_and_garbage(void **state)
{
	(void)state;
	struct dataset d = { .n = 200 };
	build_small("/good.sst", &d, 1);
	size_t n;
	char *buf = slurp("/good.sst", &n);
	size_t cuts[] = {0, 1, 10, 47, 48, 49, 100, n / 2, n - 49, n - 48, n - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		spit("/cut.sst", buf, cuts[i]);
		lsm_table *t = NULL;
		assert_int_equal(lsm_table_open(env, "/cut.sst", cuts[i], NULL, &t),
				 LSM_E_CORRUPT);
		assert_non_null(strstr(lsm_errdetail(), "/cut.sst"));
		/* a stale (larger) size from the caller: reads run short */
		assert_int_equal(lsm_table_open(env, "/cut.sst", n, NULL, &t),
				 LSM_E_CORRUPT);
		assert_null(t);
	}
	/* the tail kept (footer intact) but the front gone: handles point
	 * outside the file */
	spit("/cut.sst", buf + 100, n - 100);
	lsm_table *t = NULL;
	assert_int_equal(lsm_table_open(env, "/cut.sst", n - 100, NULL, &t),
			 LSM_E_CORRUPT);

	/* garbage of many sizes */
	unsigned seed = 12345;
	char *g = malloc(65536);
	for (size_t size = 0; size <= 65536; size = size * 2 + 1) {
		for (size_t j = 0; j < size; j++) {
			seed = seed * 1103515245u + 12345u;
			g[j] = (char)(seed >> 16);
		}
		spit("/g.sst", g, size);
		assert_int_equal(lsm_table_open(env, "/g.sst", size, NULL, &t),
				 LSM_E_CORRUPT);
		if (size >= 48) {
			/* garbage under a genuine footer */
			memcpy(g + size - 48, buf + n - 48, 48);
			spit("/g.sst", g, size);
			int rc = lsm_table_open(env, "/g.sst", size, NULL, &t);
			assert_int_equal(rc, LSM_E_CORRUPT);
		}
	}
	assert_int_equal(lsm_table_open(env, "/g.sst", 1 << 20, NULL, &t),
			 LSM_E_CORRUPT);
	assert_int_equal(lsm_table_open(env, "/missing.sst", 100, NULL, &t),
			 -ENOENT);
	free(g);
	free(buf);
}

static void test_newer_version(void **state)
{
	(void)state;
	struct dataset d = { .n = 10 };
	build_small("/v.sst", &d, 0);
	size_t n;
	char *buf = slurp("/v.sst", &n);
	lsm_table *t = NULL;
	/* a damaged version field (checksum no longer matches) is corruption */
	lsm_enc32(buf + n - 16, LSM_TABLE_FORMAT_VERSION + 1);
	spit("/v.sst", buf, n);
	assert_int_equal(lsm_table_open(env, "/v.sst", n, NULL, &t), LSM_E_CORRUPT);
	/* a genuine newer table (intact footer) is a version error */
	lsm_enc32(buf + n - 12, lsm_checksum(buf + n - 48, 36));
	spit("/v.sst", buf, n);
	assert_int_equal(lsm_table_open(env, "/v.sst", n, NULL, &t), LSM_E_VERSION);
	assert_non_null(strstr(lsm_errdetail(), "/v.sst"));
	/* and a wrong magic says what it is */
	lsm_enc32(buf + n - 16, LSM_TABLE_FORMAT_VERSION);
	buf[n - 1] ^= 1;
	spit("/v.sst", buf, n);
	assert_int_equal(lsm_table_open(env, "/v.sst", n, NULL, &t), LSM_E_CORRUPT);
	assert_non_null(strstr(lsm_errdetail(), "not an lsm table"));
	free(buf);
}

/* ---- I/O errors ------------------------------------------------------------ */

static void test_io_errors(void **state)
{
	(void)state;
	struct dataset d = { .n = 2000 };
	lsm_env *fe = lsm_env_fault_new(env);
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10 };
	lsm_file *f;
	lsm_table_builder *tb;
	lsm_buf k = {0};
	char v[128];

	/* a failed append is latched: every later call returns it.  The
	 * builder hands blocks to the env 256 KiB at a time: the second of
	 * those writes fails, some thousands of keys in. */
	struct dataset big = { .n = 200000 };
	assert_int_equal(fe->open(fe, "/io.sst", LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(lsm_tb_new(fe, f, "/io.sst", &o, &tb), 0);
	lsm_env_fault_fail_nth(fe, LSM_FAULT_WRITE, 2, -ENOSPC);
	int rc = 0, added = 0;
	for (int i = 0; i < big.n && rc == 0; i++, added++) {
		ikey(&k, i, dseq(&big, i, 0), LSM_T_VAL);
		rc = lsm_tb_add(tb, lsm_buf_slice(&k), lsm_slice_of(v, dval(v, i, 0)));
	}
	assert_int_equal(rc, -ENOSPC);
	assert_true(added > 1000 && added < big.n);
	assert_non_null(strstr(lsm_errdetail(), "/io.sst"));
	ikey(&k, big.n, 1, LSM_T_VAL);
	assert_int_equal(lsm_tb_add(tb, lsm_buf_slice(&k), lsm_slice_of("", 0)), -ENOSPC);
	assert_int_equal(lsm_tb_add_rangedel(tb, lsm_slice_of("a", 1),
					     lsm_slice_of("b", 1), 1), -ENOSPC);
	assert_int_equal(lsm_tb_finish(tb, NULL), -ENOSPC);
	lsm_tb_free(tb);
	fe->close(fe, f);

	/* read errors are reported as they are, not as corruption */
	build_dataset("/io.sst", &d, &o, NULL);
	lsm_table *t = NULL;
	lsm_env_fault_fail_nth(fe, LSM_FAULT_READ, 1, -EIO);
	assert_int_equal(lsm_table_open(fe, "/io.sst", fsize("/io.sst"), NULL, &t), -EIO);
	assert_null(t);
	assert_int_equal(lsm_table_open(fe, "/io.sst", fsize("/io.sst"), NULL, &t), 0);
	lsm_env_fault_fail_nth(fe, LSM_FAULT_READ, 1, -EIO);
	char key[32];
	assert_int_equal(lsm_table_get(t, lsm_slice_of(key, ukey(key, 5)), LSM_SEQ_MAX,
				       true, NULL, NULL, NULL), -EIO);
	assert_non_null(strstr(lsm_errdetail(), "/io.sst"));
	expect_get(t, &d, 5, LSM_SEQ_MAX, true);
	lsm_it *it = lsm_table_iter(t, true);
	lsm_it_seek_first(it);
	assert_true(lsm_it_valid(it));
	lsm_env_fault_fail_nth(fe, LSM_FAULT_READ, 1, -EIO);
	while (lsm_it_valid(it))
		lsm_it_next(it);
	assert_int_equal(lsm_it_status(it), -EIO);
	lsm_it_free(it);
	lsm_env_fault_fail_nth(fe, LSM_FAULT_READ, 2, -EIO);
	assert_int_equal(lsm_table_verify(t, NULL, NULL), -EIO);
	lsm_table_close(t);
	lsm_buf_free(&k);
	fe->destroy(fe);
}

/* ---- concurrent readers --------------------------------------------------- */

struct rarg {
	lsm_table *t;
	const struct dataset *d;
	unsigned seed;
	int bad;
};

static void *reader(void *p)
{
	struct rarg *a = p;
	const struct dataset *d = a->d;
	char k[32], v[128];
	lsm_buf val = {0}, kb = {0};
	for (int r = 0; r < 4000; r++) {
		a->seed = a->seed * 1103515245u + 12345u;
		int i = (int)((a->seed >> 4) % (unsigned)d->n);
		int j = (int)((a->seed >> 24) % (unsigned)nv(i));
		int type;
		uint64_t seq;
		int rc = lsm_table_get(a->t, lsm_slice_of(k, ukey(k, i)),
				       dseq(d, i, j), true, &val, &type, &seq);
		if (rc != 0 || seq != dseq(d, i, j) || type != dtype(i, j))
			a->bad++;
		else if (type == LSM_T_VAL &&
			 (val.len != dval(v, i, j) || memcmp(val.data, v, val.len)))
			a->bad++;
		if (r % 200 == 0) {
			/* a short scan from key i */
			lsm_it *it = lsm_table_iter(a->t, r % 400 == 0);
			ikey(&kb, i, LSM_SEQ_MAX, LSM_T_SEEK);
			lsm_it_seek(it, lsm_buf_slice(&kb));
			for (int s = 0; s < 50 && lsm_it_valid(it); s++)
				lsm_it_next(it);
			for (int s = 0; s < 80 && lsm_it_valid(it); s++)
				lsm_it_prev(it);
			if (lsm_it_status(it))
				a->bad++;
			lsm_it_free(it);
		}
	}
	lsm_buf_free(&val);
	lsm_buf_free(&kb);
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	(void)state;
	struct dataset d = { .n = 10000 };
	lsm_table_opts o = { .compression = 1, .bloom_bits_per_key = 10 };
	build_dataset("/c.sst", &d, &o, NULL);
	/* a small cache: blocks are evicted while other threads hold them */
	lsm_cache *c = lsm_cache_new(64 << 10);
	lsm_table *t = topen("/c.sst", c);
	pthread_t th[6];
	struct rarg args[6];
	for (int i = 0; i < 6; i++) {
		args[i] = (struct rarg){ .t = t, .d = &d, .seed = (unsigned)i * 31 + 7 };
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
	lsm_table_close(t);
	lsm_cache_free(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_roundtrip_compressed),
		T(test_roundtrip_no_cache),
		T(test_fill_cache_false),
		T(test_rangedels),
		T(test_empty_table),
		T(test_builder_rejects),
		T(test_big_values_long_keys),
		T(test_compression_backoff),
		T(test_flip_each_block_type),
		T(test_flip_every_byte),
		T(test_truncated_and_garbage),
		T(test_newer_version),
		T(test_io_errors),
		T(test_concurrent_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
