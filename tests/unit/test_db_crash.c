/*
 * Crash tests of the engine over the fault-injecting env (env_fault.c)
 * wrapped around an in-memory env.
 *
 * The crash sweep: a fixed workload of batches (some written with
 * sync=true, some followed by lsm_sync, with flushes and compactions in
 * between; the write buffer is tiny so background flushes and compactions
 * run all the time) is run once to count its syncs; then, for every sync
 * point k, a fresh store runs the workload with the env set to "die" after
 * its k-th sync, the store is closed while all I/O fails (this must neither
 * hang nor crash), the power is cut (everything not durable is lost), and
 * the store is reopened and checked:
 *   - what it holds is exactly the effect of batches 0..p-1 for some p
 *     (each batch writes a marker key, fresh keys, a shared key and may
 *     delete or range-delete keys of earlier batches, so any half-applied
 *     or out-of-order batch shows as a difference from the model);
 *   - p covers every batch acknowledged as durable before the crash (a
 *     sync=true write that returned 0, or any write before an lsm_sync
 *     that returned 0);
 *   - the recovered store takes new writes and survives another reopen.
 * Some sweeps also crash again during the recovery itself.
 *
 * The error tests: a failed WAL append or sync makes the write fail, the
 * error is latched (every later write fails with it, detail included)
 * while reads and iterators go on working, and the store is whole after a
 * reopen.  Same for a failed flush, for each failing sync of a compaction,
 * for every single failing I/O call of a recovering open, and for every
 * single failing I/O call of the workload above (without a power cut:
 * then every acknowledged batch must survive).
 * Threads: single-threaded (the engine's own threads run underneath).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lsm.h"

#define DB "/crash"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- the workload ---------------------------------------------------------- */

enum { OP_PUT, OP_DEL, OP_DELRANGE };
enum { M_NONE, M_FLUSH, M_FLUSH_NOWAIT, M_COMPACT };

struct op {
	int type;
	char key[16];		/* key, or range begin */
	char end[16];		/* range end */
	uint32_t vid;		/* value id (put) */
};

struct wbatch {
	struct op *ops;
	int nops;
	bool sync;		/* written with sync=true */
	bool sync_after;	/* followed by lsm_sync */
	int maint;		/* then a flush or compaction */
};

struct workload {
	struct wbatch *b;
	int n;
	/* every key any batch writes, sorted: the model's universe */
	char (*keys)[16];
	int nkeys;
};

static size_t val_len(uint32_t vid)
{
	return 40 + (size_t)((vid * 2654435761u) >> 8) % 220;
}

static void gen_val(char *b, uint32_t vid)
{
	size_t n = val_len(vid);
	int h = snprintf(b, 32, "v%u:", vid);
	for (size_t i = (size_t)h; i < n; i++)
		b[i] = (char)('a' + (vid + i) % 26);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void add_op(struct wbatch *wb, int type, const char *k, const char *e, uint32_t vid)
{
	struct op *o = &wb->ops[wb->nops++];
	o->type = type;
	snprintf(o->key, sizeof o->key, "%s", k);
	snprintf(o->end, sizeof o->end, "%s", e ? e : "");
	o->vid = vid;
}

static void wl_build(struct workload *w, int nbatches, uint64_t seed)
{
	rng_state = seed;
	w->n = nbatches;
	w->b = calloc((size_t)nbatches, sizeof *w->b);
	assert_non_null(w->b);
	uint32_t vid = 0;
	for (int i = 0; i < nbatches; i++) {
		struct wbatch *wb = &w->b[i];
		char k[16], e[16];
		int fresh = 1 + (int)rnd_below(10);
		wb->ops = calloc((size_t)fresh + 4, sizeof *wb->ops);
		assert_non_null(wb->ops);
		/* the marker says "batch i is here" */
		snprintf(k, sizeof k, "m%05d", i);
		add_op(wb, OP_PUT, k, NULL, ++vid);
		for (int j = 0; j < fresh; j++) {
			snprintf(k, sizeof k, "b%05d.%02d", i, j);
			add_op(wb, OP_PUT, k, NULL, ++vid);
		}
		/* a shared key, overwritten by every 16th batch */
		snprintf(k, sizeof k, "s%02d", i % 16);
		add_op(wb, OP_PUT, k, NULL, ++vid);
		if (i >= 7 && rnd_below(2)) {
			snprintf(k, sizeof k, "b%05d.00", i - 7);
			add_op(wb, OP_DEL, k, NULL, 0);
		}
		if (i >= 20 && rnd_below(8) == 0) {
			int a = i - 20 + (int)rnd_below(5);
			snprintf(k, sizeof k, "b%05d", a);
			snprintf(e, sizeof e, "b%05d.05", a + 1 + (int)rnd_below(4));
			add_op(wb, OP_DELRANGE, k, e, 0);
		}
		wb->sync = rnd_below(6) == 0;
		wb->sync_after = !wb->sync && rnd_below(10) == 0;
		uint64_t m = rnd_below(100);
		wb->maint = m < 3 ? M_FLUSH : m < 6 ? M_FLUSH_NOWAIT : m < 8 ? M_COMPACT : M_NONE;
	}
	/* the universe */
	int cap = 0;
	for (int i = 0; i < w->n; i++)
		cap += w->b[i].nops;
	w->keys = malloc((size_t)cap * sizeof *w->keys);
	assert_non_null(w->keys);
	w->nkeys = 0;
	for (int i = 0; i < w->n; i++)
		for (int j = 0; j < w->b[i].nops; j++)
			if (w->b[i].ops[j].type != OP_DELRANGE)
				memcpy(w->keys[w->nkeys++], w->b[i].ops[j].key, 16);
	qsort(w->keys, (size_t)w->nkeys, sizeof *w->keys, cmp_key);
	int u = 0;
	for (int i = 0; i < w->nkeys; i++)
		if (u == 0 || strcmp(w->keys[u - 1], w->keys[i]) != 0)
			memcpy(w->keys[u++], w->keys[i], 16);
	w->nkeys = u;
}

static void wl_free(struct workload *w)
{
	for (int i = 0; i < w->n; i++)
		free(w->b[i].ops);
	free(w->b);
	free(w->keys);
}

static int rank_ge(const struct workload *w, const char *t)
{
	int lo = 0, hi = w->nkeys;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (strcmp(w->keys[mid], t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The model after batches [0, p): a value id per universe key (0: absent). */
static void model_at(const struct workload *w, int p, uint32_t *m)
{
	memset(m, 0, (size_t)w->nkeys * sizeof *m);
	for (int i = 0; i < p; i++)
		for (int j = 0; j < w->b[i].nops; j++) {
			const struct op *o = &w->b[i].ops[j];
			if (o->type == OP_DELRANGE) {
				int a = rank_ge(w, o->key), z = rank_ge(w, o->end);
				for (int x = a; x < z; x++)
					m[x] = 0;
			} else {
				m[rank_ge(w, o->key)] = o->type == OP_PUT ? o->vid : 0;
			}
		}
}

/* Run the workload until the first error.  *issued: batches handed to
 * lsm_write (the failing one included); *durable: batches acknowledged as
 * durable; *acked (if not NULL): batches whose lsm_write returned 0. */
static int wl_run2(const struct workload *w, lsm_db *db, int *issued, int *durable,
		   int *acked)
{
	lsm_batch *b = lsm_batch_new();
	char v[512];
	int rc = 0;
	assert_non_null(b);
	*issued = *durable = 0;
	if (acked)
		*acked = 0;
	for (int i = 0; i < w->n && rc == 0; i++) {
		const struct wbatch *wb = &w->b[i];
		lsm_write_options wo = { .sync = wb->sync };
		lsm_batch_clear(b);
		for (int j = 0; j < wb->nops; j++) {
			const struct op *o = &wb->ops[j];
			if (o->type == OP_PUT) {
				gen_val(v, o->vid);
				assert_int_equal(lsm_batch_put(b, o->key, strlen(o->key), v,
							       val_len(o->vid)), 0);
			} else if (o->type == OP_DEL) {
				assert_int_equal(lsm_batch_delete(b, o->key, strlen(o->key)), 0);
			} else {
				assert_int_equal(lsm_batch_delete_range(b, o->key, strlen(o->key),
									o->end, strlen(o->end)), 0);
			}
		}
		*issued = i + 1;
		rc = lsm_write(db, &wo, b);
		if (rc)
			break;
		if (acked)
			*acked = i + 1;
		if (wb->sync)
			*durable = i + 1;
		if (wb->sync_after) {
			rc = lsm_sync(db);
			if (rc)
				break;
			*durable = i + 1;
		}
		switch (wb->maint) {
		case M_FLUSH:
			rc = lsm_flush(db, true);
			break;
		case M_FLUSH_NOWAIT:
			rc = lsm_flush(db, false);
			break;
		case M_COMPACT:
			rc = lsm_compact_range(db, "b", 1, "s", 1);
			break;
		}
	}
	lsm_batch_free(b);
	return rc;
}

static int wl_run(const struct workload *w, lsm_db *db, int *issued, int *durable)
{
	return wl_run2(w, db, issued, durable, NULL);
}

/* Compare the whole store with the model after [0, p) batches; returns
 * false (and prints why) on a difference. */
static bool store_equals(const struct workload *w, lsm_db *db, int p, char *why, size_t wn)
{
	uint32_t *m = calloc((size_t)w->nkeys, sizeof *m);
	lsm_iter *it;
	char v[512];
	bool good = true;
	int x = 0;
	assert_non_null(m);
	model_at(w, p, m);
	assert_int_equal(lsm_iter_new(db, NULL, &it), 0);
	for (lsm_iter_seek_first(it); good && lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *val = lsm_iter_value(it, &vl);
		char key[32];
		snprintf(key, sizeof key, "%.*s", (int)(kl < 31 ? kl : 31), k);
		/* keys the model says absent must not show up */
		while (x < w->nkeys && strcmp(w->keys[x], key) < 0) {
			if (m[x]) {
				snprintf(why, wn, "key %s (value %u) missing", w->keys[x], m[x]);
				good = false;
				break;
			}
			x++;
		}
		if (!good)
			break;
		if (x >= w->nkeys || strcmp(w->keys[x], key) != 0) {
			snprintf(why, wn, "unknown key %s", key);
			good = false;
			break;
		}
		if (!m[x]) {
			snprintf(why, wn, "key %s present, model says absent", key);
			good = false;
			break;
		}
		gen_val(v, m[x]);
		if (vl != val_len(m[x]) || memcmp(val, v, vl) != 0) {
			snprintf(why, wn, "key %s: value %.*s, model %u", key,
				 (int)(vl < 8 ? vl : 8), val, m[x]);
			good = false;
			break;
		}
		x++;
	}
	if (good && lsm_iter_status(it)) {
		snprintf(why, wn, "iterator: %s (%s)", lsm_strerror(lsm_iter_status(it)),
			 lsm_errdetail());
		good = false;
	}
	for (; good && x < w->nkeys; x++)
		if (m[x]) {
			snprintf(why, wn, "key %s (value %u) missing at the end", w->keys[x], m[x]);
			good = false;
		}
	lsm_iter_free(it);
	free(m);
	return good;
}

/* The recovered prefix: the number of leading markers present. */
static int recovered_prefix(const struct workload *w, lsm_db *db)
{
	int p = 0;
	for (; p < w->n; p++) {
		char k[16];
		void *v;
		size_t vl;
		snprintf(k, sizeof k, "m%05d", p);
		int rc = lsm_get(db, NULL, k, strlen(k), &v, &vl);
		if (rc == LSM_E_NOTFOUND)
			break;
		if (rc)
			fail_msg("get %s: %s (%s)", k, lsm_strerror(rc), lsm_errdetail());
		free(v);
	}
	return p;
}

static void crash_options(lsm_options *o, lsm_env *env)
{
	lsm_options_init(o);
	o->env = env;
	o->create_if_missing = true;
	o->write_buffer_size = 16u << 10;
	o->target_file_size = 16u << 10;
	o->level_base_bytes = 64u << 10;
	o->level_multiplier = 4;
	o->num_levels = 4;
	o->l0_compaction_trigger = 2;
	o->block_size = 1024;
}

struct sweep_stats {
	int points, crashed, max_p, min_gap;
};

/* One crash point: run with a crash after sync k, cut power, recover,
 * check.  With nested > 0, the first recovery itself crashes after its
 * nested-th sync and is cut again. */
static void crash_at(const struct workload *w, uint64_t k, uint64_t nested,
		     struct sweep_stats *ss)
{
	lsm_env *mem = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(mem);
	lsm_options o;
	lsm_db *db = NULL;
	int issued, durable, rc;
	char why[256];

	assert_non_null(mem);
	assert_non_null(env);
	crash_options(&o, env);
	rc = lsm_open(DB, &o, &db);
	if (rc)
		fail_msg("k=%llu: open: %s (%s)", (unsigned long long)k, lsm_strerror(rc),
			 lsm_errdetail());
	lsm_env_fault_crash_after_sync(env, k);
	rc = wl_run(w, db, &issued, &durable);
	bool crashed = lsm_env_fault_crashed(env);
	if (rc && !crashed)
		fail_msg("k=%llu: batch %d failed without a crash: %s (%s)", (unsigned long long)k,
			 issued, lsm_strerror(rc), lsm_errdetail());
	(void)lsm_close(db);	/* I/O fails; must still release everything */
	db = NULL;
	crashed = lsm_env_fault_crashed(env);
	assert_int_equal(lsm_env_fault_power_cut(env), 0);
	ss->points++;
	ss->crashed += crashed;

	if (nested) {
		lsm_env_fault_crash_after_sync(env, nested);
		rc = lsm_open(DB, &o, &db);
		if (rc == 0) {
			(void)lsm_close(db);
			db = NULL;
		}
		assert_int_equal(lsm_env_fault_power_cut(env), 0);
	}

	rc = lsm_open(DB, &o, &db);
	if (rc)
		fail_msg("k=%llu nested=%llu: reopen after the crash: %s (%s)",
			 (unsigned long long)k, (unsigned long long)nested, lsm_strerror(rc),
			 lsm_errdetail());
	int p = recovered_prefix(w, db);
	if (p < durable)
		fail_msg("k=%llu nested=%llu: recovered %d batches, but %d were acknowledged durable",
			 (unsigned long long)k, (unsigned long long)nested, p, durable);
	if (p > issued)
		fail_msg("k=%llu: recovered %d batches, only %d were written", (unsigned long long)k,
			 p, issued);
	if (!store_equals(w, db, p, why, sizeof why))
		fail_msg("k=%llu nested=%llu: after recovering %d batches (durable %d, issued %d): %s",
			 (unsigned long long)k, (unsigned long long)nested, p, durable, issued, why);
	if (p > ss->max_p)
		ss->max_p = p;
	if (p - durable < ss->min_gap)
		ss->min_gap = p - durable;

	/* the recovered store is healthy: it takes writes and reopens */
	assert_int_equal(lsm_put(db, NULL, "zz-after", 8, "1", 1), 0);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_int_equal(lsm_put(db, NULL, "zz-after2", 9, "2", 1), 0);
	assert_int_equal(lsm_close(db), 0);
	db = NULL;
	rc = lsm_open(DB, &o, &db);
	if (rc)
		fail_msg("k=%llu: second reopen: %s (%s)", (unsigned long long)k, lsm_strerror(rc),
			 lsm_errdetail());
	void *v;
	size_t vl;
	assert_int_equal(lsm_get(db, NULL, "zz-after2", 9, &v, &vl), 0);
	free(v);
	assert_int_equal(lsm_delete(db, NULL, "zz-after", 8), 0);
	assert_int_equal(lsm_delete(db, NULL, "zz-after2", 9), 0);
	if (!store_equals(w, db, p, why, sizeof why))
		fail_msg("k=%llu: after the second reopen: %s", (unsigned long long)k, why);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	mem->destroy(mem);
}

/* Count the syncs of one uncrashed run (and check it). */
static uint64_t count_syncs(const struct workload *w)
{
	lsm_env *mem = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(mem);
	lsm_options o;
	lsm_db *db;
	int issued, durable;
	char why[256];
	crash_options(&o, env);
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	uint64_t s0 = lsm_env_fault_count(env, LSM_FAULT_SYNC);
	int rc = wl_run(w, db, &issued, &durable);
	if (rc)
		fail_msg("uncrashed run: batch %d: %s (%s)", issued, lsm_strerror(rc), lsm_errdetail());
	uint64_t n = lsm_env_fault_count(env, LSM_FAULT_SYNC) - s0;
	lsm_stats st;
	assert_int_equal(lsm_get_stats(db, &st), 0);
	print_message("  workload: %d batches, %d keys, %llu syncs, %llu flushes, %llu compactions\n",
		      w->n, w->nkeys, (unsigned long long)n, (unsigned long long)st.flushes,
		      (unsigned long long)(st.compactions + st.trivial_moves));
	assert_true(st.flushes >= 5);
	if (!store_equals(w, db, w->n, why, sizeof why))
		fail_msg("uncrashed run: %s", why);
	assert_int_equal(lsm_close(db), 0);
	/* and after a clean reopen */
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	if (!store_equals(w, db, w->n, why, sizeof why))
		fail_msg("uncrashed run, reopened: %s", why);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	mem->destroy(mem);
	return n;
}

static void test_crash_every_sync(void **state)
{
	(void)state;
	struct workload w;
	struct sweep_stats ss = { .min_gap = 1 << 30 };
	wl_build(&w, 120, 12345);
	uint64_t n = count_syncs(&w);
	assert_true(n >= 20);
	/* a few points past the counted ones: background work differs from
	 * run to run */
	for (uint64_t k = 1; k <= n + 3; k++)
		crash_at(&w, k, 0, &ss);
	print_message("  %d crash points (%d crashed), max prefix %d, min surplus over durable %d\n",
		      ss.points, ss.crashed, ss.max_p, ss.min_gap);
	assert_true(ss.crashed >= (int)(n * 3 / 4));
	wl_free(&w);
}

static void test_crash_during_recovery(void **state)
{
	(void)state;
	struct workload w;
	struct sweep_stats ss = { .min_gap = 1 << 30 };
	wl_build(&w, 80, 999);
	uint64_t n = count_syncs(&w);
	for (uint64_t k = 3; k <= n; k += 5)
		for (uint64_t nested = 1; nested <= 4; nested++)
			crash_at(&w, k, nested, &ss);
	print_message("  %d crash points with a crash during recovery\n", ss.points);
	wl_free(&w);
}

/* ---- I/O errors: failed, latched, reads go on ----------------------------------------- */

struct efx {
	lsm_env *mem, *env;
	lsm_options o;
	lsm_db *db;
};

static void efx_open(struct efx *e)
{
	e->mem = lsm_env_mem_new();
	e->env = lsm_env_fault_new(e->mem);
	lsm_options_init(&e->o);
	e->o.env = e->env;
	e->o.create_if_missing = true;
	e->o.write_buffer_size = 16u << 10;
	assert_int_equal(lsm_open(DB, &e->o, &e->db), 0);
	for (int i = 0; i < 200; i++) {
		char k[16], v[64];
		snprintf(k, sizeof k, "pre%03d", i);
		snprintf(v, sizeof v, "value-%d-%040d", i, 0);
		assert_int_equal(lsm_put(e->db, NULL, k, strlen(k), v, strlen(v)), 0);
	}
	assert_int_equal(lsm_sync(e->db), 0);
}

static void expect_readable(lsm_db *db)
{
	for (int i = 0; i < 200; i += 13) {
		char k[16], v[64];
		void *got;
		size_t gl;
		snprintf(k, sizeof k, "pre%03d", i);
		snprintf(v, sizeof v, "value-%d-%040d", i, 0);
		int rc = lsm_get(db, NULL, k, strlen(k), &got, &gl);
		if (rc)
			fail_msg("get %s after an I/O error: %s (%s)", k, lsm_strerror(rc), lsm_errdetail());
		assert_int_equal(gl, strlen(v));
		assert_memory_equal(got, v, gl);
		free(got);
	}
	lsm_iter *it;
	lsm_read_options ro = { .lower = "pre", .lower_len = 3, .upper = "prf", .upper_len = 3 };
	assert_int_equal(lsm_iter_new(db, &ro, &it), 0);
	int n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	assert_int_equal(lsm_iter_status(it), 0);
	assert_int_equal(n, 200);
	lsm_iter_free(it);
}

static void expect_latched(lsm_db *db, int err)
{
	lsm_stats st;
	assert_int_equal(lsm_get_stats(db, &st), 0);
	assert_int_equal(st.background_error, err);
	for (int i = 0; i < 3; i++) {
		int rc = lsm_put(db, NULL, "later", 5, "x", 1);
		assert_int_equal(rc, err);
		assert_true(lsm_errdetail()[0] != 0);
	}
	assert_int_equal(lsm_delete(db, NULL, "pre000", 6), err);
	lsm_batch *b = lsm_batch_new();
	assert_int_equal(lsm_batch_put(b, "x", 1, "y", 1), 0);
	assert_int_equal(lsm_write(db, NULL, b), err);
	lsm_batch_free(b);
	assert_int_equal(lsm_sync(db), err);
	assert_int_equal(lsm_flush(db, true), err);
}

/* Reopen without a power cut: everything written before the error is
 * there; new writes work. */
static void efx_reopen_check(struct efx *e, bool failed_may_exist)
{
	(void)lsm_close(e->db);
	e->db = NULL;
	int rc = lsm_open(DB, &e->o, &e->db);
	if (rc)
		fail_msg("reopen after an I/O error: %s (%s)", lsm_strerror(rc), lsm_errdetail());
	expect_readable(e->db);
	void *v;
	size_t vl;
	rc = lsm_get(e->db, NULL, "failed", 6, &v, &vl);
	if (rc == 0)
		free(v);
	if (!failed_may_exist)
		assert_int_equal(rc, LSM_E_NOTFOUND);
	assert_int_equal(lsm_get(e->db, NULL, "later", 5, &v, &vl), LSM_E_NOTFOUND);
	assert_int_equal(lsm_put(e->db, NULL, "new", 3, "1", 1), 0);
	assert_int_equal(lsm_close(e->db), 0);
	e->env->destroy(e->env);
	e->mem->destroy(e->mem);
}

static void test_write_error_latched(void **state)
{
	(void)state;
	struct efx e;
	efx_open(&e);
	lsm_env_fault_fail_nth(e.env, LSM_FAULT_WRITE, 1, -EIO);
	assert_int_equal(lsm_put(e.db, NULL, "failed", 6, "x", 1), -EIO);
	assert_true(lsm_errdetail()[0] != 0);
	expect_latched(e.db, -EIO);
	expect_readable(e.db);
	/* a snapshot and reads at it still work */
	const lsm_snapshot *s = lsm_snapshot_acquire(e.db);
	lsm_read_options ro = { .snapshot = s };
	void *v;
	size_t vl;
	assert_int_equal(lsm_get(e.db, &ro, "pre005", 6, &v, &vl), 0);
	free(v);
	lsm_snapshot_release(e.db, s);
	efx_reopen_check(&e, false);
}

static void test_sync_error_latched(void **state)
{
	(void)state;
	struct efx e;
	efx_open(&e);
	lsm_write_options wo = { .sync = true };
	lsm_env_fault_fail_nth(e.env, LSM_FAULT_SYNC, 1, -EIO);
	assert_int_equal(lsm_put(e.db, &wo, "failed", 6, "x", 1), -EIO);
	expect_latched(e.db, -EIO);
	expect_readable(e.db);
	/* the record reached the log before its sync failed: either is fine */
	efx_reopen_check(&e, true);

	/* lsm_sync failing */
	efx_open(&e);
	assert_int_equal(lsm_put(e.db, NULL, "failed", 6, "x", 1), 0);
	lsm_env_fault_fail_nth(e.env, LSM_FAULT_SYNC, 1, -ENOSPC);
	assert_int_equal(lsm_sync(e.db), -ENOSPC);
	expect_latched(e.db, -ENOSPC);
	expect_readable(e.db);
	efx_reopen_check(&e, true);
}

static void test_flush_error_latched(void **state)
{
	/* the background flush fails: lsm_flush reports it and writes stop */
	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		struct efx e;
		efx_open(&e);
		lsm_env_fault_fail_nth(e.env, kind ? LSM_FAULT_SYNC : LSM_FAULT_WRITE, 1, -EIO);
		int rc = lsm_flush(e.db, true);
		assert_int_equal(rc, -EIO);
		expect_latched(e.db, -EIO);
		expect_readable(e.db);
		efx_reopen_check(&e, true);
	}
}

static void test_close_after_crash_with_pending_work(void **state)
{
	/* the env dies while immutable memtables wait for flush and writers
	 * are active: close must return */
	(void)state;
	for (uint64_t k = 1; k <= 12; k++) {
		lsm_env *mem = lsm_env_mem_new();
		lsm_env *env = lsm_env_fault_new(mem);
		lsm_options o;
		lsm_db *db;
		crash_options(&o, env);
		o.max_immutable = 3;
		assert_int_equal(lsm_open(DB, &o, &db), 0);
		lsm_env_fault_crash_after_sync(env, k);
		char v[300];
		memset(v, 'q', sizeof v);
		int rc = 0;
		for (int i = 0; i < 2000 && rc == 0; i++) {
			char key[16];
			snprintf(key, sizeof key, "c%05d", i);
			rc = lsm_put(db, NULL, key, strlen(key), v, sizeof v);
		}
		(void)lsm_close(db);
		assert_int_equal(lsm_env_fault_power_cut(env), 0);
		assert_int_equal(lsm_open(DB, &o, &db), 0);
		/* whatever survived is a prefix of the puts */
		lsm_iter *it;
		assert_int_equal(lsm_iter_new(db, NULL, &it), 0);
		int i = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
			char key[16];
			size_t kl;
			const char *got = lsm_iter_key(it, &kl);
			snprintf(key, sizeof key, "c%05d", i);
			assert_int_equal(kl, strlen(key));
			assert_memory_equal(got, key, kl);
		}
		assert_int_equal(lsm_iter_status(it), 0);
		lsm_iter_free(it);
		assert_int_equal(lsm_close(db), 0);
		env->destroy(env);
		mem->destroy(mem);
	}
}

static void test_fail_every_call(void **state)
{
	/* the n-th I/O call of a running store fails (every n up to 60,
	 * then a growing stride): the error surfaces (now or at a later
	 * call), the store closes, and a reopen holds every acknowledged
	 * batch and nothing half-applied.  Background flushes interleave
	 * differently from run to run, so which call is the n-th varies. */
	(void)state;
	struct workload w;
	char why[256];
	wl_build(&w, 50, 777);
	/* count the calls of a clean run */
	lsm_env *mem = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(mem);
	lsm_options o;
	lsm_db *db;
	int issued, durable, acked;
	crash_options(&o, env);
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	uint64_t c0 = lsm_env_fault_count(env, LSM_FAULT_ANY);
	assert_int_equal(wl_run2(&w, db, &issued, &durable, &acked), 0);
	uint64_t calls = lsm_env_fault_count(env, LSM_FAULT_ANY) - c0;
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	mem->destroy(mem);

	int failed_runs = 0;
	for (uint64_t n = 1; n <= calls; n += 1 + n / 60) {
		mem = lsm_env_mem_new();
		env = lsm_env_fault_new(mem);
		crash_options(&o, env);
		assert_int_equal(lsm_open(DB, &o, &db), 0);
		lsm_env_fault_fail_nth(env, LSM_FAULT_ANY, n, -EIO);
		int rc = wl_run2(&w, db, &issued, &durable, &acked);
		if (rc) {
			failed_runs++;
			if (rc != -EIO)
				fail_msg("call %llu failing: batch %d: %s (%s)", (unsigned long long)n,
					 issued, lsm_strerror(rc), lsm_errdetail());
		}
		(void)lsm_close(db);
		lsm_env_fault_fail_nth(env, LSM_FAULT_ANY, 0, 0);
		rc = lsm_open(DB, &o, &db);
		if (rc)
			fail_msg("call %llu failed: reopen: %s (%s)", (unsigned long long)n,
				 lsm_strerror(rc), lsm_errdetail());
		int p = recovered_prefix(&w, db);
		/* the batch being written when the error surfaced may or may
		 * not be there; every one acknowledged is */
		if (p < acked || p > issued)
			fail_msg("call %llu failed: recovered %d batches, %d acknowledged, %d issued",
				 (unsigned long long)n, p, acked, issued);
		if (!store_equals(&w, db, p, why, sizeof why))
			fail_msg("call %llu failed: after recovering %d batches: %s",
				 (unsigned long long)n, p, why);
		assert_int_equal(lsm_close(db), 0);
		env->destroy(env);
		mem->destroy(mem);
	}
	print_message("  %llu calls in the workload, %d runs saw the error\n",
		      (unsigned long long)calls, failed_runs);
	assert_true(failed_runs > 0);
	wl_free(&w);
}

static void test_compaction_manifest_sync_fails(void **state)
{
	/* The sync of the manifest edit that installs a compaction fails.
	 * The edit may or may not be on disk: whichever way the next open
	 * reads it, the tables it names must be there.  Every sync of the
	 * compaction is failed in turn (its output table, the directory, the
	 * manifest). */
	(void)state;
	for (uint64_t k = 1; k <= 4; k++) {
		lsm_env *mem = lsm_env_mem_new();
		lsm_env *env = lsm_env_fault_new(mem);
		lsm_options o;
		lsm_db *db;
		char key[16], v[64];
		lsm_options_init(&o);
		o.env = env;
		o.create_if_missing = true;
		o.disable_auto_compaction = true;
		assert_int_equal(lsm_open(DB, &o, &db), 0);
		for (int t = 0; t < 2; t++) {
			for (int i = 0; i < 100; i++) {
				snprintf(key, sizeof key, "k%04d", i * 2 + t);
				snprintf(v, sizeof v, "v%d", i);
				assert_int_equal(lsm_put(db, NULL, key, strlen(key), v, strlen(v)), 0);
			}
			assert_int_equal(lsm_flush(db, true), 0);
		}
		lsm_env_fault_fail_nth(env, LSM_FAULT_SYNC, k, -EIO);
		int rc = lsm_compact_range(db, NULL, 0, NULL, 0);
		lsm_env_fault_fail_nth(env, LSM_FAULT_SYNC, 0, 0);
		(void)rc;	/* fails, or succeeds if k is past its syncs */
		(void)lsm_close(db);
		rc = lsm_open(DB, &o, &db);
		if (rc)
			fail_msg("sync %llu of a compaction failed: reopen: %s (%s)",
				 (unsigned long long)k, lsm_strerror(rc), lsm_errdetail());
		for (int i = 0; i < 200; i++) {
			void *got;
			size_t gl;
			snprintf(key, sizeof key, "k%04d", i);
			rc = lsm_get(db, NULL, key, strlen(key), &got, &gl);
			if (rc)
				fail_msg("sync %llu of a compaction failed: get %s: %s (%s)",
					 (unsigned long long)k, key, lsm_strerror(rc), lsm_errdetail());
			free(got);
		}
		assert_int_equal(lsm_close(db), 0);
		env->destroy(env);
		mem->destroy(mem);
	}
}

static void test_open_fault_sweep(void **state)
{
	/* every I/O call of a recovering open fails in turn: the open fails
	 * cleanly (or copes), and the next open finds everything */
	(void)state;
	lsm_env *mem = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(mem);
	lsm_options o;
	lsm_db *db;
	struct workload w;
	char why[256];
	int issued, durable;
	wl_build(&w, 40, 4242);
	crash_options(&o, env);
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	assert_int_equal(wl_run(&w, db, &issued, &durable), 0);
	assert_int_equal(lsm_close(db), 0);
	/* count the calls of one open */
	uint64_t c0 = lsm_env_fault_count(env, LSM_FAULT_ANY);
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	uint64_t calls = lsm_env_fault_count(env, LSM_FAULT_ANY) - c0;
	assert_int_equal(lsm_close(db), 0);
	/* make the next open replay a log again */
	assert_int_equal(lsm_open(DB, &o, &db), 0);
	assert_int_equal(lsm_put(db, NULL, "zz", 2, "1", 1), 0);
	assert_int_equal(lsm_delete(db, NULL, "zz", 2), 0);
	assert_int_equal(lsm_close(db), 0);
	int failed = 0;
	for (uint64_t n = 1; n <= calls + 10; n++) {
		lsm_env_fault_fail_nth(env, LSM_FAULT_ANY, n, -EIO);
		int rc = lsm_open(DB, &o, &db);
		lsm_env_fault_fail_nth(env, LSM_FAULT_ANY, 0, 0);
		if (rc == 0) {
			(void)lsm_close(db);
		} else {
			failed++;
			if (rc != -EIO)
				fail_msg("open with call %llu failing: %s (%s)", (unsigned long long)n,
					 lsm_strerror(rc), lsm_errdetail());
		}
		rc = lsm_open(DB, &o, &db);
		if (rc)
			fail_msg("open after a failed open (call %llu): %s (%s)", (unsigned long long)n,
				 lsm_strerror(rc), lsm_errdetail());
		if (!store_equals(&w, db, w.n, why, sizeof why))
			fail_msg("after a failed open (call %llu): %s", (unsigned long long)n, why);
		assert_int_equal(lsm_put(db, NULL, "zz", 2, "1", 1), 0);
		assert_int_equal(lsm_delete(db, NULL, "zz", 2), 0);
		assert_int_equal(lsm_close(db), 0);
	}
	print_message("  %llu calls per open, %d failed opens\n", (unsigned long long)calls, failed);
	assert_true(failed > 0);
	wl_free(&w);
	env->destroy(env);
	mem->destroy(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_error_latched),
		cmocka_unit_test(test_sync_error_latched),
		cmocka_unit_test(test_flush_error_latched),
		cmocka_unit_test(test_close_after_crash_with_pending_work),
		cmocka_unit_test(test_compaction_manifest_sync_fails),
		cmocka_unit_test(test_open_fault_sweep),
		cmocka_unit_test(test_fail_every_call),
		cmocka_unit_test(test_crash_every_sync),
		cmocka_unit_test(test_crash_during_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
