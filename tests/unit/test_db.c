/*
 * Engine-level tests of the public API (lsm.h): open, create, reopen and
 * their errors (missing directory, not a store, second opener, read-only),
 * point writes and reads, batches, empty and large values, binary keys,
 * iterators over the memtable, level 0 and deeper levels in both
 * directions with bounds and range tombstones, snapshots through later
 * writes, flushes and compactions, the GC cutoff, lsm_sync durability and
 * the statistics.
 *
 * Most tests run on a fresh in-memory env per test ("/db"); the tests of
 * directory errors and of the process lock use the posix env in a mkdtemp
 * directory that is removed afterwards.  Iterators are checked against a
 * small in-memory model (a fixed universe of keys, present or not) by full
 * scans and by random walks that switch direction.
 * Threads: single-threaded (the engine's own threads run underneath).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lsm.h"
#include "test_util.h"

#define DB "/db"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- fixtures ---------------------------------------------------------------- */

struct fx {
	lsm_env *env;
	lsm_options opt;
	lsm_db *db;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	fx->env = lsm_env_mem_new();
	if (!fx->env)
		return -1;
	lsm_options_init(&fx->opt);
	fx->opt.env = fx->env;
	fx->opt.create_if_missing = true;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	if (fx->db)
		lsm_close(fx->db);
	fx->env->destroy(fx->env);
	free(fx);
	return 0;
}

static void fx_open(struct fx *fx)
{
	int rc = lsm_open(DB, &fx->opt, &fx->db);
	if (rc)
		fail_msg("lsm_open: %s (%s)", lsm_strerror(rc), lsm_errdetail());
}

static void fx_reopen(struct fx *fx)
{
	assert_int_equal(lsm_close(fx->db), 0);
	fx->db = NULL;
	fx_open(fx);
}

/* Options that make flushes and table layouts controllable by the test. */
static void small_opts(struct fx *fx)
{
	fx->opt.write_buffer_size = 64u << 10;
	fx->opt.disable_auto_compaction = true;
	fx->opt.block_size = 512;
}

static void put_s(lsm_db *db, const char *k, const char *v)
{
	int rc = lsm_put(db, NULL, k, strlen(k), v, strlen(v));
	if (rc)
		fail_msg("put %s: %s (%s)", k, lsm_strerror(rc), lsm_errdetail());
}

static void del_s(lsm_db *db, const char *k)
{
	assert_int_equal(lsm_delete(db, NULL, k, strlen(k)), 0);
}

/* Expect key k to read as v (NULL: absent) at snap (NULL: latest). */
static void expect_kv(lsm_db *db, const lsm_snapshot *snap, const void *k,
		      size_t kl, const void *v, size_t vl)
{
	lsm_read_options ro = { .snapshot = snap, .fill_cache = true };
	void *got = NULL;
	size_t gl = 0;
	int rc = lsm_get(db, &ro, k, kl, &got, &gl);
	if (!v) {
		if (rc != LSM_E_NOTFOUND)
			fail_msg("get %.*s: expected absent, got %d (%s)", (int)kl,
				 (const char *)k, rc, rc ? lsm_errdetail() : "found");
		return;
	}
	if (rc)
		fail_msg("get %.*s: %s (%s)", (int)kl, (const char *)k, lsm_strerror(rc),
			 lsm_errdetail());
	assert_non_null(got);
	if (gl != vl || (vl && memcmp(got, v, vl) != 0))
		fail_msg("get %.*s: wrong value (%zu bytes, expected %zu)", (int)kl,
			 (const char *)k, gl, vl);
	free(got);
}

static void expect_s(lsm_db *db, const lsm_snapshot *snap, const char *k, const char *v)
{
	expect_kv(db, snap, k, strlen(k), v, v ? strlen(v) : 0);
}

/* ---- a small model for iterator checks ---------------------------------------- */

#define NK 200

struct model {
	bool has[NK];
	char val[NK][48];
};

static void mkey(char *b, int i)
{
	snprintf(b, 16, "key%03d", i);
}

static void m_put(lsm_db *db, struct model *m, int i, const char *v)
{
	char k[16];
	mkey(k, i);
	put_s(db, k, v);
	m->has[i] = true;
	snprintf(m->val[i], sizeof m->val[i], "%s", v);
}

static void m_del(lsm_db *db, struct model *m, int i)
{
	char k[16];
	mkey(k, i);
	del_s(db, k);
	m->has[i] = false;
}

/* Delete [lo, hi) (strings, possibly outside the key universe). */
static void m_delrange(lsm_db *db, struct model *m, const char *lo, const char *hi)
{
	assert_int_equal(lsm_delete_range(db, NULL, lo, strlen(lo), hi, strlen(hi)), 0);
	for (int i = 0; i < NK; i++) {
		char k[16];
		mkey(k, i);
		if (strcmp(k, lo) >= 0 && strcmp(k, hi) < 0)
			m->has[i] = false;
	}
}

/* Bounds of an iterator check; NULL for none. */
struct bounds {
	const char *lower, *upper;
};

static bool in_bounds(const struct bounds *b, const char *k)
{
	return (!b->lower || strcmp(k, b->lower) >= 0) && (!b->upper || strcmp(k, b->upper) < 0);
}

/* Model position: index of the current key, or -1 (invalid). */
static int m_first_ge(const struct model *m, const struct bounds *b, const char *t)
{
	for (int i = 0; i < NK; i++) {
		char k[16];
		mkey(k, i);
		if (m->has[i] && in_bounds(b, k) && (!t || strcmp(k, t) >= 0))
			return i;
	}
	return -1;
}

static int m_last_le(const struct model *m, const struct bounds *b, const char *t)
{
	for (int i = NK - 1; i >= 0; i--) {
		char k[16];
		mkey(k, i);
		if (m->has[i] && in_bounds(b, k) && (!t || strcmp(k, t) <= 0))
			return i;
	}
	return -1;
}

static int m_next(const struct model *m, const struct bounds *b, int pos)
{
	for (int i = pos + 1; i < NK; i++) {
		char k[16];
		mkey(k, i);
		if (m->has[i] && in_bounds(b, k))
			return i;
	}
	return -1;
}

static int m_prev(const struct model *m, const struct bounds *b, int pos)
{
	for (int i = pos - 1; i >= 0; i--) {
		char k[16];
		mkey(k, i);
		if (m->has[i] && in_bounds(b, k))
			return i;
	}
	return -1;
}

static void expect_at(lsm_iter *it, const struct model *m, int pos, const char *what)
{
	assert_int_equal(lsm_iter_status(it), 0);
	if (pos < 0) {
		if (lsm_iter_valid(it)) {
			size_t kl;
			const char *k = lsm_iter_key(it, &kl);
			fail_msg("%s: iterator at %.*s, model says end", what, (int)kl, k);
		}
		return;
	}
	char want[16];
	mkey(want, pos);
	if (!lsm_iter_valid(it))
		fail_msg("%s: iterator invalid, model says %s", what, want);
	size_t kl, vl;
	const char *k = lsm_iter_key(it, &kl);
	const char *v = lsm_iter_value(it, &vl);
	if (kl != strlen(want) || memcmp(k, want, kl) != 0)
		fail_msg("%s: iterator at %.*s, model says %s", what, (int)kl, k, want);
	if (vl != strlen(m->val[pos]) || memcmp(v, m->val[pos], vl) != 0)
		fail_msg("%s: %s has value %.*s, model says %s", what, want, (int)vl, v,
			 m->val[pos]);
}

/* A random seek target: a universe key, one between two of them, or one
 * outside the universe at either end. */
static void rnd_target(char *t)
{
	switch (rnd_below(5)) {
	case 0:
		snprintf(t, 16, "key%03d5", (int)rnd_below(NK));
		break;
	case 1:
		strcpy(t, rnd_below(2) ? "a" : "z");
		break;
	default:
		mkey(t, (int)rnd_below(NK));
	}
}

/* Compare an iterator over (snap, b) with the model: full scans both ways,
 * then a random walk of seeks and steps switching direction. */
static void check_iter(lsm_db *db, const lsm_snapshot *snap, const struct bounds *b,
		       const struct model *m, int steps)
{
	lsm_read_options ro = { .snapshot = snap, .fill_cache = true };
	lsm_iter *it;
	if (b->lower) {
		ro.lower = b->lower;
		ro.lower_len = strlen(b->lower);
	}
	if (b->upper) {
		ro.upper = b->upper;
		ro.upper_len = strlen(b->upper);
	}
	assert_int_equal(lsm_iter_new(db, &ro, &it), 0);
	int pos = m_first_ge(m, b, NULL);
	lsm_iter_seek_first(it);
	expect_at(it, m, pos, "seek_first");
	while (pos >= 0) {
		lsm_iter_next(it);
		pos = m_next(m, b, pos);
		expect_at(it, m, pos, "forward scan");
	}
	pos = m_last_le(m, b, NULL);
	lsm_iter_seek_last(it);
	expect_at(it, m, pos, "seek_last");
	while (pos >= 0) {
		lsm_iter_prev(it);
		pos = m_prev(m, b, pos);
		expect_at(it, m, pos, "backward scan");
	}
	for (int s = 0; s < steps; s++) {
		char t[16], what[64];
		switch (rnd_below(8)) {
		case 0:
			rnd_target(t);
			lsm_iter_seek(it, t, strlen(t));
			pos = m_first_ge(m, b, t);
			snprintf(what, sizeof what, "step %d seek(%s)", s, t);
			break;
		case 1:
			rnd_target(t);
			lsm_iter_seek_for_prev(it, t, strlen(t));
			pos = m_last_le(m, b, t);
			snprintf(what, sizeof what, "step %d seek_for_prev(%s)", s, t);
			break;
		case 2:
			if (rnd_below(2)) {
				lsm_iter_seek_first(it);
				pos = m_first_ge(m, b, NULL);
			} else {
				lsm_iter_seek_last(it);
				pos = m_last_le(m, b, NULL);
			}
			snprintf(what, sizeof what, "step %d seek_first/last", s);
			break;
		case 3: case 4: case 5:
			lsm_iter_next(it);
			if (pos >= 0)
				pos = m_next(m, b, pos);
			snprintf(what, sizeof what, "step %d next", s);
			break;
		default:
			lsm_iter_prev(it);
			if (pos >= 0)
				pos = m_prev(m, b, pos);
			snprintf(what, sizeof what, "step %d prev", s);
			break;
		}
		expect_at(it, m, pos, what);
	}
	lsm_iter_free(it);
}

/* Every key of the model through lsm_get at snap. */
static void check_gets(lsm_db *db, const lsm_snapshot *snap, const struct model *m)
{
	for (int i = 0; i < NK; i++) {
		char k[16];
		mkey(k, i);
		expect_s(db, snap, k, m->has[i] ? m->val[i] : NULL);
	}
}

static const struct bounds no_bounds = { NULL, NULL };

/* ---- posix temp directories ------------------------------------------------------ */


/* ---- open / close ------------------------------------------------------------------ */

static void test_create_and_reopen(void **state)
{
	struct fx *fx = *state;
	lsm_db *db;

	fx->opt.create_if_missing = false;
	int rc = lsm_open(DB, &fx->opt, &db);
	assert_true(rc < 0);
	assert_null(db);
	assert_non_null(strstr(lsm_errdetail(), DB));

	fx->opt.create_if_missing = true;
	fx_open(fx);
	put_s(fx->db, "alpha", "1");
	put_s(fx->db, "beta", "2");
	fx_reopen(fx);
	expect_s(fx->db, NULL, "alpha", "1");
	expect_s(fx->db, NULL, "beta", "2");
	expect_s(fx->db, NULL, "gamma", NULL);
	/* a reopen without create_if_missing finds the store */
	assert_int_equal(lsm_close(fx->db), 0);
	fx->db = NULL;
	fx->opt.create_if_missing = false;
	fx_open(fx);
	expect_s(fx->db, NULL, "alpha", "1");
	assert_int_equal(lsm_close(fx->db), 0);
	fx->db = NULL;

	/* error_if_exists */
	fx->opt.error_if_exists = true;
	fx->opt.create_if_missing = true;
	assert_int_equal(lsm_open(DB, &fx->opt, &db), LSM_E_EXISTS);
	assert_null(db);
	/* a failed open left the store usable */
	fx->opt.error_if_exists = false;
	fx_open(fx);
	expect_s(fx->db, NULL, "beta", "2");
}

static void test_reopen_many_times(void **state)
{
	/* each reopen replays the log and starts a new manifest and log;
	 * nothing may be lost or duplicated across many of them */
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	fx_open(fx);
	for (int round = 0; round < 20; round++) {
		for (int i = round; i < NK; i += 7) {
			char v[32];
			snprintf(v, sizeof v, "r%d-%d", round, i);
			m_put(fx->db, &m, i, v);
		}
		if (round % 3 == 1)
			m_del(fx->db, &m, (round * 13) % NK);
		if (round % 5 == 4)
			assert_int_equal(lsm_flush(fx->db, true), 0);
		fx_reopen(fx);
		check_gets(fx->db, NULL, &m);
	}
	check_iter(fx->db, NULL, &no_bounds, &m, 200);
}

static void test_open_errors_posix(void **state)
{
	(void)state;
	char root[] = "/tmp/lsm_test_db_XXXXXX";
	char path[512];
	lsm_options o;
	lsm_db *db = NULL, *db2 = NULL;
	int rc;

	assert_non_null(mkdtemp(root));
	lsm_options_init(&o);

	/* a missing directory without create_if_missing */
	snprintf(path, sizeof path, "%s/missing", root);
	rc = lsm_open(path, &o, &db);
	assert_true(rc < 0);
	assert_null(db);
	if (!strstr(lsm_errdetail(), path))
		fail_msg("detail does not name %s: %s", path, lsm_errdetail());
	/* a missing parent directory even with create_if_missing */
	snprintf(path, sizeof path, "%s/no/such/parent", root);
	o.create_if_missing = true;
	rc = lsm_open(path, &o, &db);
	assert_true(rc < 0);
	assert_null(db);
	o.create_if_missing = false;

	/* a directory that is not a store */
	snprintf(path, sizeof path, "%s/plain", root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(lsm_open(path, &o, &db), LSM_E_NOSTORE);
	assert_null(db);
	if (!strstr(lsm_errdetail(), path))
		fail_msg("detail does not name %s: %s", path, lsm_errdetail());
	o.read_only = true;
	assert_int_equal(lsm_open(path, &o, &db), LSM_E_NOSTORE);
	o.read_only = false;

	/* a second open of the same store in this process */
	snprintf(path, sizeof path, "%s/store", root);
	o.create_if_missing = true;
	assert_int_equal(lsm_open(path, &o, &db), 0);
	put_s(db, "k", "v");
	assert_int_equal(lsm_open(path, &o, &db2), LSM_E_LOCKED);
	assert_null(db2);
	char pid[32];
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	if (!strstr(lsm_errdetail(), pid))
		fail_msg("LOCKED detail does not name the holder (%s): %s", pid, lsm_errdetail());
	/* the failed opener did not disturb the holder */
	expect_s(db, NULL, "k", "v");
	put_s(db, "k2", "v2");
	/* a read-only open takes no lock and sees what was written */
	o.read_only = true;
	o.create_if_missing = false;
	assert_int_equal(lsm_sync(db), 0);
	assert_int_equal(lsm_open(path, &o, &db2), 0);
	expect_s(db2, NULL, "k", "v");
	expect_s(db2, NULL, "k2", "v2");
	assert_int_equal(lsm_put(db2, NULL, "x", 1, "y", 1), LSM_E_NOTSUP);
	assert_int_equal(lsm_close(db2), 0);
	o.read_only = false;
	/* once closed, the store opens again */
	assert_int_equal(lsm_close(db), 0);
	assert_int_equal(lsm_open(path, &o, &db), 0);
	expect_s(db, NULL, "k2", "v2");
	assert_int_equal(lsm_close(db), 0);
	rm_tree(root);
}

static void test_lock_mem(void **state)
{
	struct fx *fx = *state;
	lsm_db *db2 = NULL;
	fx_open(fx);
	assert_int_equal(lsm_open(DB, &fx->opt, &db2), LSM_E_LOCKED);
	assert_null(db2);
	char pid[32];
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	assert_non_null(strstr(lsm_errdetail(), pid));
	assert_int_equal(lsm_close(fx->db), 0);
	fx->db = NULL;
	fx_open(fx);
}

static void test_bad_options(void **state)
{
	struct fx *fx = *state;
	lsm_db *db = NULL;
	fx->opt.num_levels = 1;
	assert_int_equal(lsm_open(DB, &fx->opt, &db), LSM_E_INVALID);
	assert_null(db);
	fx->opt.num_levels = LSM_MAX_LEVELS + 1;
	assert_int_equal(lsm_open(DB, &fx->opt, &db), LSM_E_INVALID);
	assert_null(db);
}

/* ---- point operations ------------------------------------------------------------- */

static void test_put_get_delete(void **state)
{
	struct fx *fx = *state;
	fx_open(fx);
	expect_s(fx->db, NULL, "a", NULL);
	put_s(fx->db, "a", "1");
	put_s(fx->db, "b", "2");
	expect_s(fx->db, NULL, "a", "1");
	put_s(fx->db, "a", "11");	/* overwrite */
	expect_s(fx->db, NULL, "a", "11");
	del_s(fx->db, "a");
	expect_s(fx->db, NULL, "a", NULL);
	del_s(fx->db, "never-written");	/* deleting nothing is fine */
	expect_s(fx->db, NULL, "b", "2");
	put_s(fx->db, "a", "111");	/* resurrect after delete */
	expect_s(fx->db, NULL, "a", "111");

	/* the same through a flush, a compaction and a reopen */
	assert_int_equal(lsm_flush(fx->db, true), 0);
	expect_s(fx->db, NULL, "a", "111");
	del_s(fx->db, "b");		/* memtable tombstone over a table */
	expect_s(fx->db, NULL, "b", NULL);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	expect_s(fx->db, NULL, "b", NULL);	/* L0 tombstone over L0 */
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_s(fx->db, NULL, "b", NULL);
	expect_s(fx->db, NULL, "a", "111");
	fx_reopen(fx);
	expect_s(fx->db, NULL, "b", NULL);
	expect_s(fx->db, NULL, "a", "111");
}

static void test_binary_keys(void **state)
{
	/* memcmp order, shorter first on a common prefix; NUL and 0xff bytes
	 * are ordinary bytes */
	struct fx *fx = *state;
	static const struct { const char *k; size_t n; } keys[] = {
		{ "", 0 }, { "\0", 1 }, { "\0\0", 2 }, { "a", 1 }, { "a\0", 2 },
		{ "a\0\0", 3 }, { "a\x01", 2 }, { "a\x7f", 2 }, { "a\x80", 2 },
		{ "a\xff", 2 }, { "a\xff\xff", 3 }, { "b", 1 }, { "\xff", 1 },
		{ "\xff\xff\xff\xff", 4 },
	};
	size_t n = sizeof keys / sizeof keys[0];
	fx_open(fx);
	for (int pass = 0; pass < 3; pass++) {
		/* insert in reverse so order comes from the engine */
		for (size_t i = n; i-- > 0;) {
			char v[8];
			snprintf(v, sizeof v, "v%zu", i);
			assert_int_equal(lsm_put(fx->db, NULL, keys[i].k, keys[i].n, v, strlen(v)), 0);
		}
		for (size_t i = 0; i < n; i++) {
			char v[8];
			snprintf(v, sizeof v, "v%zu", i);
			expect_kv(fx->db, NULL, keys[i].k, keys[i].n, v, strlen(v));
		}
		lsm_iter *it;
		assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
		size_t i = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
			size_t kl;
			const char *k = lsm_iter_key(it, &kl);
			assert_true(i < n);
			if (kl != keys[i].n || memcmp(k, keys[i].k, kl) != 0)
				fail_msg("pass %d: key %zu out of order", pass, i);
		}
		assert_int_equal(i, n);
		i = n;
		for (lsm_iter_seek_last(it); lsm_iter_valid(it); lsm_iter_prev(it)) {
			size_t kl;
			const char *k = lsm_iter_key(it, &kl);
			assert_true(i > 0);
			i--;
			assert_int_equal(kl, keys[i].n);
			assert_memory_equal(k, keys[i].k, kl);
		}
		assert_int_equal(i, 0);
		/* "a" must not find "a\0" */
		lsm_iter_seek_for_prev(it, "a\0", 2);
		assert_true(lsm_iter_valid(it));
		size_t kl;
		const char *k = lsm_iter_key(it, &kl);
		assert_int_equal(kl, 2);
		assert_memory_equal(k, "a\0", 2);
		lsm_iter_free(it);
		if (pass == 0)
			assert_int_equal(lsm_flush(fx->db, true), 0);
		else
			assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	}
	/* deleting "a" leaves its extensions alone */
	assert_int_equal(lsm_delete(fx->db, NULL, "a", 1), 0);
	expect_kv(fx->db, NULL, "a", 1, NULL, 0);
	expect_kv(fx->db, NULL, "a\0", 2, "v4", 2);
}

static void test_empty_values(void **state)
{
	struct fx *fx = *state;
	fx_open(fx);
	assert_int_equal(lsm_put(fx->db, NULL, "e", 1, "", 0), 0);
	assert_int_equal(lsm_put(fx->db, NULL, "f", 1, NULL, 0), 0);
	expect_kv(fx->db, NULL, "e", 1, "", 0);
	expect_kv(fx->db, NULL, "f", 1, "", 0);
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
	lsm_iter_seek(it, "e", 1);
	assert_true(lsm_iter_valid(it));
	size_t vl = 99;
	lsm_iter_value(it, &vl);
	assert_int_equal(vl, 0);
	lsm_iter_free(it);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	expect_kv(fx->db, NULL, "e", 1, "", 0);
	/* an empty value is not a deletion, even below a compaction */
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_kv(fx->db, NULL, "e", 1, "", 0);
	fx_reopen(fx);
	expect_kv(fx->db, NULL, "f", 1, "", 0);
	assert_int_equal(lsm_delete(fx->db, NULL, "e", 1), 0);
	expect_kv(fx->db, NULL, "e", 1, NULL, 0);
}

static void fill_big(char *b, size_t n, int salt)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)((i * 7 + (i >> 9) * 13 + (size_t)salt * 31) & 0xff);
}

static void test_large_values(void **state)
{
	struct fx *fx = *state;
	const size_t big = 1u << 20;
	char *v1 = malloc(big), *v2 = malloc(big + 17);
	assert_non_null(v1);
	assert_non_null(v2);
	fill_big(v1, big, 1);
	fill_big(v2, big + 17, 2);
	small_opts(fx);
	fx_open(fx);
	assert_int_equal(lsm_put(fx->db, NULL, "big1", 4, v1, big), 0);
	put_s(fx->db, "small", "s");
	assert_int_equal(lsm_put(fx->db, NULL, "big2", 4, v2, big + 17), 0);
	expect_kv(fx->db, NULL, "big1", 4, v1, big);
	expect_kv(fx->db, NULL, "big2", 4, v2, big + 17);
	/* from the log after a reopen */
	fx_reopen(fx);
	expect_kv(fx->db, NULL, "big1", 4, v1, big);
	expect_kv(fx->db, NULL, "big2", 4, v2, big + 17);
	expect_s(fx->db, NULL, "small", "s");
	/* from tables */
	assert_int_equal(lsm_flush(fx->db, true), 0);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_kv(fx->db, NULL, "big1", 4, v1, big);
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
	lsm_iter_seek_last(it);
	assert_true(lsm_iter_valid(it));
	size_t kl, vl;
	const char *k = lsm_iter_key(it, &kl);
	assert_int_equal(kl, 5);
	assert_memory_equal(k, "small", 5);
	lsm_iter_prev(it);
	const char *v = lsm_iter_value(it, &vl);
	assert_int_equal(vl, big + 17);
	assert_memory_equal(v, v2, vl);
	lsm_iter_prev(it);
	v = lsm_iter_value(it, &vl);
	assert_int_equal(vl, big);
	assert_memory_equal(v, v1, vl);
	lsm_iter_free(it);
	free(v1);
	free(v2);
}

static void test_large_keys(void **state)
{
	/* keys larger than a block, a WAL block and the restart interval's
	 * worth of entries, next to small ones sharing their prefixes */
	struct fx *fx = *state;
	static const size_t sizes[] = { 1, 100, 600, 4000, 40000, 200000 };
	size_t n = sizeof sizes / sizeof sizes[0];
	char *keys[6];
	small_opts(fx);
	fx_open(fx);
	for (size_t i = 0; i < n; i++) {
		keys[i] = malloc(sizes[i]);
		assert_non_null(keys[i]);
		memset(keys[i], 'k', sizes[i]);	/* each a prefix of the next */
		char v[16];
		snprintf(v, sizeof v, "len%zu", sizes[i]);
		assert_int_equal(lsm_put(fx->db, NULL, keys[i], sizes[i], v, strlen(v)), 0);
	}
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < n; i++) {
			char v[16];
			snprintf(v, sizeof v, "len%zu", sizes[i]);
			expect_kv(fx->db, NULL, keys[i], sizes[i], v, strlen(v));
		}
		/* one short of a key finds nothing */
		expect_kv(fx->db, NULL, keys[5], sizes[4] - 1, NULL, 0);
		lsm_iter *it;
		assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
		size_t i = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
			size_t kl;
			lsm_iter_key(it, &kl);
			assert_true(i < n);
			assert_int_equal(kl, sizes[i]);
		}
		assert_int_equal(i, n);
		lsm_iter_seek_for_prev(it, keys[5], sizes[5] - 1);
		assert_true(lsm_iter_valid(it));
		size_t kl;
		lsm_iter_key(it, &kl);
		assert_int_equal(kl, sizes[4]);
		lsm_iter_free(it);
		if (pass == 0)
			fx_reopen(fx);
		else
			assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	}
	/* a range tombstone with huge bounds */
	assert_int_equal(lsm_delete_range(fx->db, NULL, keys[2], sizes[2], keys[4], sizes[4]), 0);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	expect_kv(fx->db, NULL, keys[3], sizes[3], NULL, 0);
	expect_kv(fx->db, NULL, keys[2], sizes[2], NULL, 0);
	expect_kv(fx->db, NULL, keys[4], sizes[4], "len40000", 8);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_kv(fx->db, NULL, keys[3], sizes[3], NULL, 0);
	expect_kv(fx->db, NULL, keys[5], sizes[5], "len200000", 9);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
}

static void test_iter_odd_bounds(void **state)
{
	/* lower >= upper: an empty view in both directions, whatever the
	 * seek */
	struct fx *fx = *state;
	fx_open(fx);
	put_s(fx->db, "a", "1");
	put_s(fx->db, "m", "2");
	put_s(fx->db, "z", "3");
	lsm_read_options ro = { .lower = "n", .lower_len = 1, .upper = "c", .upper_len = 1 };
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fx->db, &ro, &it), 0);
	lsm_iter_seek_first(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek_last(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek(it, "a", 1);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek_for_prev(it, "z", 1);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek_for_prev(it, "m", 1);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	/* empty bounds: [ "", "" ) is empty too; [ "", "b" ) holds "a" */
	lsm_read_options ro2 = { .lower = "", .lower_len = 0, .upper = "b", .upper_len = 1 };
	assert_int_equal(lsm_iter_new(fx->db, &ro2, &it), 0);
	lsm_iter_seek_last(it);
	assert_true(lsm_iter_valid(it));
	size_t kl;
	assert_memory_equal(lsm_iter_key(it, &kl), "a", 1);
	lsm_iter_next(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_free(it);
}

/* ---- delete_range and batches ------------------------------------------------------- */

static void test_delete_range(void **state)
{
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	small_opts(fx);
	fx_open(fx);
	for (int i = 0; i < NK; i++)
		m_put(fx->db, &m, i, "base");
	/* in the memtable, over the memtable */
	m_delrange(fx->db, &m, "key010", "key020");
	check_gets(fx->db, NULL, &m);
	/* an empty and an inverted range delete nothing */
	int rc = lsm_delete_range(fx->db, NULL, "key050", 6, "key050", 6);
	assert_true(rc == 0 || rc == LSM_E_INVALID);
	rc = lsm_delete_range(fx->db, NULL, "key060", 6, "key055", 6);
	assert_true(rc == 0 || rc == LSM_E_INVALID);
	check_gets(fx->db, NULL, &m);
	/* the end key itself survives; a rewrite after the tombstone shows */
	expect_s(fx->db, NULL, "key020", "base");
	m_put(fx->db, &m, 15, "again");
	check_gets(fx->db, NULL, &m);
	/* a tombstone in L0 over a table below */
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	m_delrange(fx->db, &m, "key100", "key1205");	/* ends between keys */
	assert_int_equal(lsm_flush(fx->db, true), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 300);
	/* a range starting before every key, in the memtable, over L0 and L1+ */
	m_delrange(fx->db, &m, "a", "key005");
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 300);
	/* compacted to the bottom, tombstones and all */
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 300);
	fx_reopen(fx);
	check_gets(fx->db, NULL, &m);
	/* everything */
	m_delrange(fx->db, &m, "", "zzz");
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 50);
	m_put(fx->db, &m, 7, "after-all");
	check_iter(fx->db, NULL, &no_bounds, &m, 50);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, NULL, &m);
}

static void test_range_tombstone_only_table(void **state)
{
	/* A table holding nothing but a range tombstone, whose range reaches
	 * beyond every point key of the tables it must shadow: lookups and
	 * iterators must still find and apply it in L0 and below. */
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	small_opts(fx);
	fx_open(fx);
	for (int i = 40; i < 60; i++)
		m_put(fx->db, &m, i, "old");
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	m_delrange(fx->db, &m, "key000", "key199");
	assert_int_equal(lsm_flush(fx->db, true), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 100);
	/* newer data in another L0 table, then everything down */
	for (int i = 50; i < 70; i++)
		m_put(fx->db, &m, i, "new");
	assert_int_equal(lsm_flush(fx->db, true), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 100);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 100);
	fx_reopen(fx);
	check_gets(fx->db, NULL, &m);
}

static void test_range_tombstone_across_table_split(void **state)
{
	/* A range tombstone that a snapshot keeps alive spans many output
	 * tables of one compaction, every key rewritten after it: each
	 * table's piece of the tombstone ends where the next table begins,
	 * and a point read of that boundary key must still look in the next
	 * table. */
	struct fx *fx = *state;
	char k[16], v[128];
	small_opts(fx);
	fx->opt.target_file_size = 4096;
	fx->opt.block_size = 1024;
	fx_open(fx);
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof k, "k%04d", i);
		snprintf(v, sizeof v, "old-%d-%080d", i, 0);
		put_s(fx->db, k, v);
	}
	const lsm_snapshot *s = lsm_snapshot_acquire(fx->db);
	assert_int_equal(lsm_delete_range(fx->db, NULL, "k", 1, "l", 1), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof k, "k%04d", i);
		snprintf(v, sizeof v, "new-%d-%080d", i, 0);
		put_s(fx->db, k, v);
	}
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	lsm_stats st;
	assert_int_equal(lsm_get_stats(fx->db, &st), 0);
	assert_true(st.level[st.num_levels - 1].tables >= 10);
	assert_true(st.level[st.num_levels - 1].range_tombstones >= 10);
	int missing = 0, first = -1;
	for (int i = 0; i < 2000; i++) {
		void *got;
		size_t gl;
		snprintf(k, sizeof k, "k%04d", i);
		snprintf(v, sizeof v, "new-%d-%080d", i, 0);
		int rc = lsm_get(fx->db, NULL, k, strlen(k), &got, &gl);
		if (rc != 0 || gl != strlen(v) || memcmp(got, v, gl) != 0) {
			if (first < 0)
				first = i;
			missing++;
		}
		if (rc == 0)
			free(got);
		snprintf(v, sizeof v, "old-%d-%080d", i, 0);
		expect_s(fx->db, s, k, v);
	}
	if (missing)
		fail_msg("%d of 2000 keys not read back (first: k%04d) across %llu tables",
			 missing, first, (unsigned long long)st.level[st.num_levels - 1].tables);
	lsm_snapshot_release(fx->db, s);
}

static void test_batches(void **state)
{
	struct fx *fx = *state;
	lsm_batch *b = lsm_batch_new();
	assert_non_null(b);
	fx_open(fx);

	size_t empty_size = lsm_batch_size(b);
	assert_int_equal(lsm_batch_count(b), 0);
	/* an empty batch writes nothing */
	uint64_t seq0 = lsm_last_seq(fx->db);
	assert_int_equal(lsm_write(fx->db, NULL, b), 0);
	assert_int_equal(lsm_last_seq(fx->db), seq0);

	/* many keys, all visible at once after the write */
	size_t prev = lsm_batch_size(b);
	for (int i = 0; i < 1000; i++) {
		char k[16], v[16];
		snprintf(k, sizeof k, "b%04d", i);
		snprintf(v, sizeof v, "val%d", i);
		assert_int_equal(lsm_batch_put(b, k, strlen(k), v, strlen(v)), 0);
		assert_true(lsm_batch_size(b) >= prev + strlen(k) + strlen(v));
		prev = lsm_batch_size(b);
	}
	assert_int_equal(lsm_batch_count(b), 1000);
	expect_s(fx->db, NULL, "b0000", NULL);
	assert_int_equal(lsm_write(fx->db, NULL, b), 0);
	assert_int_equal(lsm_last_seq(fx->db), seq0 + 1000);
	for (int i = 0; i < 1000; i += 37) {
		char k[16], v[16];
		snprintf(k, sizeof k, "b%04d", i);
		snprintf(v, sizeof v, "val%d", i);
		expect_s(fx->db, NULL, k, v);
	}

	lsm_batch_clear(b);
	assert_int_equal(lsm_batch_count(b), 0);
	assert_int_equal(lsm_batch_size(b), empty_size);

	/* order inside a batch: later entries win */
	assert_int_equal(lsm_batch_put(b, "x", 1, "1", 1), 0);
	assert_int_equal(lsm_batch_delete(b, "x", 1), 0);
	assert_int_equal(lsm_batch_put(b, "x", 1, "2", 1), 0);
	assert_int_equal(lsm_batch_put(b, "y", 1, "1", 1), 0);
	assert_int_equal(lsm_batch_delete(b, "y", 1), 0);
	assert_int_equal(lsm_batch_delete_range(b, "b0100", 5, "b0200", 5), 0);
	assert_int_equal(lsm_batch_put(b, "b0150", 5, "kept", 4), 0);
	assert_int_equal(lsm_batch_put(b, "b0300", 5, "lost", 4), 0);
	assert_int_equal(lsm_batch_delete_range(b, "b0300", 5, "b0301", 5), 0);
	assert_int_equal(lsm_batch_count(b), 9);
	assert_int_equal(lsm_write(fx->db, NULL, b), 0);
	for (int pass = 0; pass < 3; pass++) {
		expect_s(fx->db, NULL, "x", "2");
		expect_s(fx->db, NULL, "y", NULL);
		expect_s(fx->db, NULL, "b0099", "val99");
		expect_s(fx->db, NULL, "b0100", NULL);
		expect_s(fx->db, NULL, "b0150", "kept");
		expect_s(fx->db, NULL, "b0199", NULL);
		expect_s(fx->db, NULL, "b0200", "val200");
		expect_s(fx->db, NULL, "b0300", NULL);
		expect_s(fx->db, NULL, "b0301", "val301");
		if (pass == 0)
			fx_reopen(fx);	/* replayed from the log */
		else
			assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	}
	/* a batch can be written again (it is not consumed) */
	lsm_batch_clear(b);
	assert_int_equal(lsm_batch_put(b, "again", 5, "1", 1), 0);
	assert_int_equal(lsm_write(fx->db, NULL, b), 0);
	del_s(fx->db, "again");
	assert_int_equal(lsm_write(fx->db, NULL, b), 0);
	expect_s(fx->db, NULL, "again", "1");
	lsm_batch_free(b);
}

/* ---- iterators ------------------------------------------------------------------------ */

static void test_iter_memtable(void **state)
{
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	rng_state = 0x1234;
	fx_open(fx);
	check_iter(fx->db, NULL, &no_bounds, &m, 50);	/* empty store */
	for (int i = 0; i < NK; i += 2)
		m_put(fx->db, &m, i, "v");
	for (int i = 0; i < NK; i += 6)
		m_put(fx->db, &m, i, "v2");
	for (int i = 0; i < NK; i += 10)
		m_del(fx->db, &m, i);
	check_iter(fx->db, NULL, &no_bounds, &m, 2000);
}

/* Data spread over the bottom level, a middle level, several L0 tables and
 * the memtable, with overwrites and deletions at every layer. */
static void build_layers(struct fx *fx, struct model *m)
{
	lsm_stats st;
	char v[32];
	for (int i = 0; i < NK; i++) {
		snprintf(v, sizeof v, "bottom%d", i);
		m_put(fx->db, m, i, v);
	}
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	for (int i = 0; i < NK; i += 3) {
		snprintf(v, sizeof v, "mid%d", i);
		m_put(fx->db, m, i, v);
	}
	for (int i = 1; i < NK; i += 11)
		m_del(fx->db, m, i);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	for (int t = 0; t < 3; t++) {
		for (int i = t; i < NK; i += 5) {
			snprintf(v, sizeof v, "l0-%d-%d", t, i);
			m_put(fx->db, m, i, v);
		}
		for (int i = 2 + t; i < NK; i += 13)
			m_del(fx->db, m, i);
		assert_int_equal(lsm_flush(fx->db, true), 0);
	}
	m_delrange(fx->db, m, "key0305", "key045");
	assert_int_equal(lsm_flush(fx->db, true), 0);
	for (int i = 0; i < NK; i += 7) {
		snprintf(v, sizeof v, "mem%d", i);
		m_put(fx->db, m, i, v);
	}
	for (int i = 4; i < NK; i += 17)
		m_del(fx->db, m, i);
	m_delrange(fx->db, m, "key150", "key160");
	m_put(fx->db, m, 155, "mem-after-range");
	assert_int_equal(lsm_get_stats(fx->db, &st), 0);
	assert_true(st.level[0].tables >= 4);
	uint64_t deeper = 0;
	for (int l = 1; l < st.num_levels; l++)
		deeper += st.level[l].tables;
	assert_true(deeper >= 1);
	assert_true(st.memtable_bytes > 0);
}

static void test_iter_layers(void **state)
{
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	rng_state = 0x5678;
	small_opts(fx);
	fx_open(fx);
	build_layers(fx, &m);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 3000);
	/* compact a middle slice: now data sits in L0, in a deeper level, and
	 * partially in between */
	assert_int_equal(lsm_compact_range(fx->db, "key050", 6, "key100", 6), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 2000);
	fx_reopen(fx);
	check_iter(fx->db, NULL, &no_bounds, &m, 2000);
}

static void test_iter_bounds(void **state)
{
	struct fx *fx = *state;
	struct model m;
	memset(&m, 0, sizeof m);
	rng_state = 0x9abc;
	small_opts(fx);
	fx_open(fx);
	build_layers(fx, &m);
	static const struct bounds bs[] = {
		{ "key050", "key150" },
		{ "key0505", "key1495" },	/* between keys */
		{ NULL, "key100" },
		{ "key100", NULL },
		{ "key030", "key046" },	/* mostly inside a range tombstone */
		{ "key031", "key045" },	/* wholly inside it: empty */
		{ "key077", "key078" },	/* one key */
		{ "key080", "key080" },	/* empty */
		{ "a", "z" },
		{ "z", NULL },		/* past everything */
		{ NULL, "a" },		/* before everything */
	};
	for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
		check_iter(fx->db, NULL, &bs[i], &m, 800);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
		check_iter(fx->db, NULL, &bs[i], &m, 300);
}

static void test_iter_view_is_fixed(void **state)
{
	/* An iterator reads the state at its creation: later writes, a flush
	 * and a compaction that deletes its tables change nothing for it. */
	struct fx *fx = *state;
	struct model m, old;
	memset(&m, 0, sizeof m);
	rng_state = 0xdef0;
	small_opts(fx);
	fx_open(fx);
	build_layers(fx, &m);
	old = m;
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
	for (int i = 0; i < NK; i += 2)
		m_put(fx->db, &m, i, "later");
	m_delrange(fx->db, &m, "key100", "key190");
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	int pos = m_first_ge(&old, &no_bounds, NULL);
	lsm_iter_seek_first(it);
	expect_at(it, &old, pos, "old view");
	while (pos >= 0) {
		lsm_iter_next(it);
		pos = m_next(&old, &no_bounds, pos);
		expect_at(it, &old, pos, "old view");
	}
	lsm_iter_free(it);
	check_iter(fx->db, NULL, &no_bounds, &m, 200);
}

/* ---- snapshots ------------------------------------------------------------------------- */

static void test_snapshots(void **state)
{
	struct fx *fx = *state;
	struct model m, at1, at2;
	memset(&m, 0, sizeof m);
	rng_state = 0x4242;
	small_opts(fx);
	fx_open(fx);
	build_layers(fx, &m);
	const lsm_snapshot *s1 = lsm_snapshot_acquire(fx->db);
	assert_non_null(s1);
	assert_int_equal(lsm_snapshot_seq(s1), lsm_last_seq(fx->db));
	at1 = m;

	for (int i = 0; i < NK; i += 2)
		m_put(fx->db, &m, i, "after-s1");
	for (int i = 1; i < NK; i += 4)
		m_del(fx->db, &m, i);
	m_delrange(fx->db, &m, "key060", "key090");
	check_gets(fx->db, s1, &at1);
	check_iter(fx->db, s1, &no_bounds, &at1, 300);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	check_gets(fx->db, s1, &at1);

	const lsm_snapshot *s2 = lsm_snapshot_acquire(fx->db);
	at2 = m;
	for (int i = 0; i < NK; i++)
		m_del(fx->db, &m, i);
	m_put(fx->db, &m, 3, "after-s2");
	/* compaction must keep every version a snapshot can read */
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, s1, &at1);
	check_gets(fx->db, s2, &at2);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, s1, &no_bounds, &at1, 300);
	check_iter(fx->db, s2, &no_bounds, &at2, 300);
	struct bounds b = { "key050", "key120" };
	check_iter(fx->db, s1, &b, &at1, 200);
	check_iter(fx->db, NULL, &no_bounds, &m, 100);

	/* releasing s1 lets compaction drop what only it could see; s2 and
	 * the latest state stay intact */
	lsm_snapshot_release(fx->db, s1);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, s2, &at2);
	check_iter(fx->db, s2, &no_bounds, &at2, 200);
	lsm_snapshot_release(fx->db, s2);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	check_gets(fx->db, NULL, &m);
	check_iter(fx->db, NULL, &no_bounds, &m, 100);
	/* with nothing pinned, all the garbage went: one live key remains */
	lsm_stats st;
	assert_int_equal(lsm_get_stats(fx->db, &st), 0);
	uint64_t entries = 0;
	for (int l = 0; l < st.num_levels; l++)
		entries += st.level[l].entries;
	assert_int_equal(entries, 1);
}

static void test_snapshot_of_deleted_key(void **state)
{
	/* the classic: a snapshot sees a value whose tombstone compaction
	 * would like to drop together with the value */
	struct fx *fx = *state;
	small_opts(fx);
	fx_open(fx);
	put_s(fx->db, "k", "v1");
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	const lsm_snapshot *s = lsm_snapshot_acquire(fx->db);
	del_s(fx->db, "k");
	put_s(fx->db, "j", "x");
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_s(fx->db, s, "k", "v1");
	expect_s(fx->db, NULL, "k", NULL);
	expect_s(fx->db, s, "j", NULL);
	/* a range tombstone likewise */
	const lsm_snapshot *s2 = lsm_snapshot_acquire(fx->db);
	assert_int_equal(lsm_delete_range(fx->db, NULL, "a", 1, "z", 1), 0);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_s(fx->db, s2, "j", "x");
	expect_s(fx->db, s, "k", "v1");
	expect_s(fx->db, NULL, "j", NULL);
	lsm_snapshot_release(fx->db, s);
	lsm_snapshot_release(fx->db, s2);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	expect_s(fx->db, NULL, "j", NULL);
	expect_s(fx->db, NULL, "k", NULL);
}

static void test_oldest_pinned_seq(void **state)
{
	struct fx *fx = *state;
	fx_open(fx);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), lsm_last_seq(fx->db));
	put_s(fx->db, "a", "1");
	put_s(fx->db, "b", "2");
	uint64_t q1 = lsm_last_seq(fx->db);
	assert_true(q1 >= 2);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), q1);
	const lsm_snapshot *s1 = lsm_snapshot_acquire(fx->db);
	assert_int_equal(lsm_snapshot_seq(s1), q1);
	put_s(fx->db, "c", "3");
	assert_int_equal(lsm_last_seq(fx->db), q1 + 1);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), q1);
	const lsm_snapshot *s2 = lsm_snapshot_acquire(fx->db);
	const lsm_snapshot *s3 = lsm_snapshot_acquire(fx->db);	/* same seq */
	put_s(fx->db, "d", "4");
	lsm_stats st;
	assert_int_equal(lsm_get_stats(fx->db, &st), 0);
	assert_int_equal(st.snapshots, 3);
	assert_int_equal(st.gc_cutoff, q1);
	lsm_snapshot_release(fx->db, s1);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), q1 + 1);
	lsm_snapshot_release(fx->db, s3);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), q1 + 1);
	put_s(fx->db, "e", "5");
	lsm_snapshot_release(fx->db, s2);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), lsm_last_seq(fx->db));
	assert_int_equal(lsm_last_seq(fx->db), q1 + 3);
	/* sequences survive a reopen: they never go back */
	fx_reopen(fx);
	assert_true(lsm_last_seq(fx->db) >= q1 + 3);
	uint64_t before = lsm_last_seq(fx->db);
	put_s(fx->db, "f", "6");
	assert_true(lsm_last_seq(fx->db) > before);
	assert_int_equal(lsm_oldest_pinned_seq(fx->db), lsm_last_seq(fx->db));
}

/* ---- sync, flush and statistics --------------------------------------------------------- */

static void test_sync_durability(void **state)
{
	/* over the fault env: what lsm_sync (or a sync write) covered survives
	 * a power cut */
	struct fx *fx = *state;
	lsm_env *fenv = lsm_env_fault_new(fx->env);
	assert_non_null(fenv);
	fx->opt.env = fenv;
	fx_open(fx);
	put_s(fx->db, "a", "1");
	put_s(fx->db, "b", "2");
	uint64_t syncs = lsm_env_fault_count(fenv, LSM_FAULT_SYNC);
	assert_int_equal(lsm_sync(fx->db), 0);
	assert_true(lsm_env_fault_count(fenv, LSM_FAULT_SYNC) > syncs);
	lsm_write_options wo = { .sync = true };
	assert_int_equal(lsm_put(fx->db, &wo, "c", 1, "3", 1), 0);
	/* a memtable switch in between: earlier logs must be covered too */
	put_s(fx->db, "d", "4");
	assert_int_equal(lsm_flush(fx->db, false), 0);
	put_s(fx->db, "e", "5");
	assert_int_equal(lsm_sync(fx->db), 0);
	/* the "process dies": no close, the handles are dropped by the cut */
	put_s(fx->db, "f", "6");
	lsm_env_fault_crash_after_sync(fenv, 1);
	assert_int_equal(lsm_sync(fx->db), 0);	/* the sync itself succeeds */
	assert_true(lsm_env_fault_crashed(fenv));
	(void)lsm_close(fx->db);
	fx->db = NULL;
	assert_int_equal(lsm_env_fault_power_cut(fenv), 0);
	fx_open(fx);
	expect_s(fx->db, NULL, "a", "1");
	expect_s(fx->db, NULL, "b", "2");
	expect_s(fx->db, NULL, "c", "3");
	expect_s(fx->db, NULL, "d", "4");
	expect_s(fx->db, NULL, "e", "5");
	expect_s(fx->db, NULL, "f", "6");
	assert_int_equal(lsm_close(fx->db), 0);
	fx->db = NULL;
	fenv->destroy(fenv);
}

static void test_stats(void **state)
{
	struct fx *fx = *state;
	lsm_stats s0, s1, s2, s3;
	small_opts(fx);
	fx_open(fx);
	assert_int_equal(lsm_get_stats(fx->db, &s0), 0);
	assert_int_equal(s0.num_levels, fx->opt.num_levels);
	assert_int_equal(s0.flushes, 0);
	assert_int_equal(s0.background_error, 0);
	char v[100];
	memset(v, 'x', sizeof v);
	for (int i = 0; i < 300; i++) {
		char k[16];
		snprintf(k, sizeof k, "s%05d", i);
		assert_int_equal(lsm_put(fx->db, NULL, k, strlen(k), v, sizeof v), 0);
	}
	assert_int_equal(lsm_get_stats(fx->db, &s1), 0);
	assert_true(s1.user_bytes_written >= s0.user_bytes_written + 300 * (6 + sizeof v));
	assert_true(s1.wal_bytes_written >= s1.user_bytes_written);
	assert_int_equal(s1.last_seq, lsm_last_seq(fx->db));
	assert_true(s1.memtable_bytes >= 300 * sizeof v);
	assert_true(s1.disk_bytes > 0);
	assert_int_equal(lsm_flush(fx->db, true), 0);
	assert_int_equal(lsm_get_stats(fx->db, &s2), 0);
	assert_int_equal(s2.flushes, s1.flushes + 1);
	assert_true(s2.flush_bytes_written > s1.flush_bytes_written);
	assert_int_equal(s2.level[0].tables, 1);
	assert_int_equal(s2.level[0].entries, 300);
	assert_true(s2.level[0].bytes > 0);
	assert_true(s2.write_amp > 1.0);
	/* a second table with deletions, then a compaction that drops them */
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof k, "s%05d", i);
		del_s(fx->db, k);
	}
	assert_int_equal(lsm_flush(fx->db, true), 0);
	assert_int_equal(lsm_get_stats(fx->db, &s2), 0);
	assert_int_equal(s2.level[0].tables, 2);
	assert_int_equal(s2.level[0].tombstones, 100);
	assert_int_equal(lsm_compact_range(fx->db, NULL, 0, NULL, 0), 0);
	assert_int_equal(lsm_get_stats(fx->db, &s3), 0);
	assert_int_equal(s3.level[0].tables, 0);
	assert_true(s3.compactions + s3.trivial_moves > s2.compactions + s2.trivial_moves);
	assert_true(s3.compaction_bytes_written > 0);
	assert_true(s3.compaction_bytes_read > 0);
	assert_true(s3.entries_dropped + s3.tombstones_dropped >= 200);
	uint64_t entries = 0, tomb = 0;
	for (int l = 0; l < s3.num_levels; l++) {
		entries += s3.level[l].entries;
		tomb += s3.level[l].tombstones;
	}
	assert_int_equal(entries, 200);
	assert_int_equal(tomb, 0);
	assert_int_equal(s3.background_error, 0);
	assert_int_equal(s3.compactions_running, 0);
	/* reads go through the block cache */
	expect_kv(fx->db, NULL, "s00150", 6, v, sizeof v);
	expect_kv(fx->db, NULL, "s00150", 6, v, sizeof v);
	assert_int_equal(lsm_get_stats(fx->db, &s3), 0);
	assert_true(s3.block_cache_hits + s3.block_cache_misses > 0);
}

static void test_auto_flush_and_compaction(void **state)
{
	/* with a small write buffer the engine flushes and compacts on its own
	 * and keeps every key readable while doing so */
	struct fx *fx = *state;
	fx->opt.write_buffer_size = 32u << 10;
	fx->opt.level_base_bytes = 128u << 10;
	fx->opt.target_file_size = 32u << 10;
	fx->opt.block_size = 1024;
	fx_open(fx);
	char v[200];
	for (int i = 0; i < 6000; i++) {
		char k[16];
		snprintf(k, sizeof k, "a%05d", (i * 7919) % 3000);
		snprintf(v, sizeof v, "%s-%d-%0150d", k, i, 0);
		put_s(fx->db, k, v);
	}
	lsm_stats st;
	assert_int_equal(lsm_get_stats(fx->db, &st), 0);
	assert_true(st.flushes >= 10);
	assert_true(st.compactions + st.trivial_moves >= 1);
	assert_int_equal(st.background_error, 0);
	for (int i = 6000 - 3000; i < 6000; i++) {
		char k[16];
		snprintf(k, sizeof k, "a%05d", (i * 7919) % 3000);
		snprintf(v, sizeof v, "%s-%d-%0150d", k, i, 0);
		expect_s(fx->db, NULL, k, v);
	}
	fx_reopen(fx);
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fx->db, NULL, &it), 0);
	int n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	assert_int_equal(lsm_iter_status(it), 0);
	assert_int_equal(n, 3000);
	lsm_iter_free(it);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_and_reopen),
		T(test_reopen_many_times),
		cmocka_unit_test(test_open_errors_posix),
		T(test_lock_mem),
		T(test_bad_options),
		T(test_put_get_delete),
		T(test_binary_keys),
		T(test_empty_values),
		T(test_large_values),
		T(test_large_keys),
		T(test_iter_odd_bounds),
		T(test_delete_range),
		T(test_range_tombstone_only_table),
		T(test_range_tombstone_across_table_split),
		T(test_batches),
		T(test_iter_memtable),
		T(test_iter_layers),
		T(test_iter_bounds),
		T(test_iter_view_is_fixed),
		T(test_snapshots),
		T(test_snapshot_of_deleted_key),
		T(test_oldest_pinned_seq),
		T(test_sync_durability),
		T(test_stats),
		T(test_auto_flush_and_compaction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
