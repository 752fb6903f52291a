/*
 * Unit tests for the garbage-collection rules of compaction (compact.c,
 * ARCHITECTURE.md "Tombstones, open handles and the GC cutoff"), through
 * the public API (lsm.h) on the in-memory env:
 *
 *   - a pinned snapshot keeps every version it can read through repeated
 *     full compactions; once released, one compaction removes the
 *     tombstones and what they shadow from every table and disk use falls;
 *   - resurrection: a tombstone compacted from L0 into L1 while the value
 *     it deletes lives in a deeper level must survive that compaction (and
 *     a reopen);
 *   - a model test: ~24,000 random writes, deletes, range deletes, batches,
 *     snapshots, flushes, manual compactions of random ranges and reopens,
 *     with background compaction running, compared after every read with a
 *     reference model (at the latest state and at every live snapshot).
 *
 * Invariants checked: a read never returns a deleted or overwritten value;
 * a read at a snapshot returns exactly what the store held when the
 * snapshot was taken; level statistics count what the tables hold.
 *
 * Threads: the tests are single-threaded; the engine's flush and compaction
 * threads run underneath.  Waits on background work poll lsm_get_stats with
 * a bounded deadline (a hang fails, it never blocks the suite).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lsm.h"

#define DBPATH "/db"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces (as far as the
	 * background threads let it) */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ---- keys, values, the store -------------------------------------------- */

static size_t key_of(char *buf, char prefix, unsigned i)
{
	return (size_t)snprintf(buf, 16, "%c%06u", prefix, i);
}

/* The value of key i at version ver: its length and bytes depend on both,
 * so a value read back for the wrong key or version is noticed.  buf must
 * hold 160 bytes. */
static size_t val_of(char *buf, unsigned i, uint32_t ver)
{
	size_t n = (size_t)snprintf(buf, 160, "%06u:%08" PRIu32 ":", i, ver);
	size_t len = 24 + (i * 7u + ver * 13u) % 100u;
	for (size_t j = n; j < len; j++)
		buf[j] = (char)('a' + (i + ver + j) % 26u);
	return len;
}

static lsm_db *open_db(const lsm_options *o)
{
	lsm_db *db = NULL;
	int rc = lsm_open(DBPATH, o, &db);
	if (rc != 0)
		print_error("lsm_open: %s (%s)\n", lsm_strerror(rc), lsm_errdetail());
	assert_int_equal(rc, 0);
	return db;
}

static void put_ver(lsm_db *db, char prefix, unsigned i, uint32_t ver)
{
	char k[16], v[160];
	size_t kl = key_of(k, prefix, i), vl = val_of(v, i, ver);
	assert_int_equal(lsm_put(db, NULL, k, kl, v, vl), 0);
}

static void del_key(lsm_db *db, char prefix, unsigned i)
{
	char k[16];
	size_t kl = key_of(k, prefix, i);
	assert_int_equal(lsm_delete(db, NULL, k, kl), 0);
}

static void del_range(lsm_db *db, char prefix, unsigned a, unsigned b)
{
	char ka[16], kb[16];
	size_t al = key_of(ka, prefix, a), bl = key_of(kb, prefix, b);
	assert_int_equal(lsm_delete_range(db, NULL, ka, al, kb, bl), 0);
}

/* Check key i reads as version ver (0: absent) at snapshot s (NULL:
 * latest).  Returns false (after printing why) on a mismatch. */
static bool check_key(lsm_db *db, const lsm_snapshot *s, char prefix, unsigned i,
		      uint32_t ver, const char *what)
{
	char k[16], v[160];
	size_t kl = key_of(k, prefix, i);
	lsm_read_options ro;
	void *got = NULL;
	size_t gl = 0;
	memset(&ro, 0, sizeof ro);
	ro.snapshot = s;
	int rc = lsm_get(db, &ro, k, kl, &got, &gl);
	bool ok;
	if (ver == 0) {
		ok = rc == LSM_E_NOTFOUND;
		if (!ok)
			print_error("%s: key %s should be absent, get -> %d %.*s\n", what, k,
				    rc, rc == 0 ? (int)gl : 0, rc == 0 ? (char *)got : "");
	} else {
		size_t vl = val_of(v, i, ver);
		ok = rc == 0 && gl == vl && memcmp(got, v, vl) == 0;
		if (!ok)
			print_error("%s: key %s should be version %" PRIu32 ", get -> %d %.*s\n",
				    what, k, ver, rc, rc == 0 ? (int)gl : 0,
				    rc == 0 ? (char *)got : "");
	}
	if (rc == 0)
		free(got);
	return ok;
}

/* Scan every key with prefix at snapshot s and compare with ver[0..n)
 * (0: absent).  Returns false (after printing why) on a mismatch. */
static bool check_scan(lsm_db *db, const lsm_snapshot *s, char prefix, const uint32_t *ver,
		       unsigned n, const char *what)
{
	char lo[2] = { prefix, 0 }, hi[2] = { (char)(prefix + 1), 0 };
	lsm_read_options ro;
	lsm_iter *it = NULL;
	unsigned i = 0;
	bool ok = true;
	memset(&ro, 0, sizeof ro);
	ro.snapshot = s;
	ro.lower = lo;
	ro.lower_len = 1;
	ro.upper = hi;
	ro.upper_len = 1;
	assert_int_equal(lsm_iter_new(db, &ro, &it), 0);
	lsm_iter_seek_first(it);
	for (;;) {
		while (i < n && ver[i] == 0)
			i++;
		if (!lsm_iter_valid(it))
			break;
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		char ek[16], ev[160];
		size_t ekl = i < n ? key_of(ek, prefix, i) : 0;
		size_t evl = i < n ? val_of(ev, i, ver[i]) : 0;
		if (i >= n || kl != ekl || memcmp(k, ek, kl) != 0) {
			print_error("%s: scan found key %.*s, expected %s\n", what, (int)kl, k,
				    i < n ? ek : "(end)");
			ok = false;
			break;
		}
		if (vl != evl || memcmp(v, ev, vl) != 0) {
			print_error("%s: scan: key %s has %.*s, expected version %" PRIu32 "\n",
				    what, ek, (int)vl, v, ver[i]);
			ok = false;
			break;
		}
		i++;
		lsm_iter_next(it);
	}
	if (ok && i < n) {
		char ek[16];
		key_of(ek, prefix, i);
		print_error("%s: scan ended before key %s (version %" PRIu32 ")\n", what, ek,
			    ver[i]);
		ok = false;
	}
	if (lsm_iter_status(it) != 0) {
		print_error("%s: iterator status %d\n", what, lsm_iter_status(it));
		ok = false;
	}
	lsm_iter_free(it);
	return ok;
}

struct sums {
	uint64_t tables, bytes, entries, tombstones, range_tombstones;
};

static struct sums level_sums(const lsm_stats *st)
{
	struct sums s;
	memset(&s, 0, sizeof s);
	for (int l = 0; l < st->num_levels; l++) {
		s.tables += st->level[l].tables;
		s.bytes += st->level[l].bytes;
		s.entries += st->level[l].entries;
		s.tombstones += st->level[l].tombstones;
		s.range_tombstones += st->level[l].range_tombstones;
	}
	return s;
}

static lsm_stats stats_of(lsm_db *db)
{
	lsm_stats st;
	assert_int_equal(lsm_get_stats(db, &st), 0);
	assert_int_equal(st.background_error, 0);
	return st;
}

/* Wait (at most 10 s) until no compaction runs, L0 is empty and no
 * memtable waits for its flush. */
static void wait_quiet(lsm_db *db)
{
	for (int t = 0; t < 1000; t++) {
		lsm_stats st = stats_of(db);
		if (st.compactions_running == 0 && st.level[0].tables == 0)
			return;
		usleep(10000);
	}
	fail_msg("background compaction did not settle within 10 s");
}

static void base_options(lsm_options *o, lsm_env *env)
{
	lsm_options_init(o);
	o->env = env;
	o->create_if_missing = true;
}

/* ---- 1. GC under a pinned snapshot ----------------------------------------- */

#define GC_N 4000

static void test_gc_pinned_snapshot(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	uint32_t *at_snap = calloc(GC_N, sizeof *at_snap), *latest = calloc(GC_N, sizeof *latest);
	assert_non_null(at_snap);
	assert_non_null(latest);
	base_options(&o, env);
	o.disable_auto_compaction = true;	/* only the manual compactions below */
	o.compression = 0;
	o.target_file_size = 32 << 10;
	o.write_buffer_size = 64 << 10;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < GC_N; i++) {
		put_ver(db, 'k', i, 1);
		at_snap[i] = latest[i] = 1;
	}
	/* the old values at the bottom, the deletions above them */
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	assert_non_null(snap);
	for (unsigned i = 0; i < 2000; i += 2) {	/* 1000 point deletes */
		del_key(db, 'k', i);
		latest[i] = 0;
	}
	del_range(db, 'k', 2000, 3000);		/* 1000 keys, one tombstone */
	for (unsigned i = 2000; i < 3000; i++)
		latest[i] = 0;
	for (unsigned i = 3000; i < 3500; i++) {	/* 500 overwrites */
		put_ver(db, 'k', i, 2);
		latest[i] = 2;
	}
	assert_int_equal(lsm_flush(db, true), 0);

	lsm_stats before = stats_of(db);
	for (int pass = 0; pass < 3; pass++) {
		assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
		lsm_stats st = stats_of(db);
		struct sums s = level_sums(&st);
		/* everything the snapshot can read is still in the tables:
		 * 4000 old values, 500 new ones, 1000 point tombstones */
		assert_int_equal(s.entries, GC_N + 500 + 1000);
		assert_int_equal(s.tombstones, 1000);
		assert_true(s.range_tombstones >= 1);
		assert_true(st.bytes_held_by_cutoff > 0);
		assert_int_equal(st.level[0].tables, 0);
		for (unsigned i = 0; i < GC_N; i++) {
			assert_true(check_key(db, snap, 'k', i, at_snap[i], "pinned, at snapshot"));
			assert_true(check_key(db, NULL, 'k', i, latest[i], "pinned, latest"));
		}
		assert_true(check_scan(db, snap, 'k', at_snap, GC_N, "pinned, scan at snapshot"));
		assert_true(check_scan(db, NULL, 'k', latest, GC_N, "pinned, scan latest"));
	}
	lsm_stats held = stats_of(db);
	struct sums hs = level_sums(&held);

	lsm_snapshot_release(db, snap);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats after = stats_of(db);
	struct sums as = level_sums(&after);
	/* only the live versions remain: 1000 odd keys below 2000, 3000..3999 */
	assert_int_equal(as.entries, 2000);
	assert_int_equal(as.tombstones, 0);
	assert_int_equal(as.range_tombstones, 0);
	assert_true(after.tombstones_dropped >= held.tombstones_dropped + 1000);
	assert_true(after.entries_dropped >= held.entries_dropped + 1000 + 500);
	assert_true(after.entries_dropped > before.entries_dropped);
	assert_true(as.bytes < hs.bytes);
	assert_true(after.disk_bytes < held.disk_bytes);
	assert_int_equal(after.bytes_held_by_cutoff, 0);
	for (unsigned i = 0; i < GC_N; i++)
		assert_true(check_key(db, NULL, 'k', i, latest[i], "released"));
	assert_true(check_scan(db, NULL, 'k', latest, GC_N, "released, scan"));

	/* and it stays that way across a reopen */
	assert_int_equal(lsm_close(db), 0);
	db = open_db(&o);
	assert_true(check_scan(db, NULL, 'k', latest, GC_N, "reopened, scan"));
	lsm_stats re = stats_of(db);
	assert_int_equal(level_sums(&re).entries, 2000);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	free(at_snap);
	free(latest);
}

/* ---- 2. resurrection ------------------------------------------------------- */

/*
 * num_levels = 3, so L2 is the bottom.  Key r000100's value goes to L2 by
 * a full compaction; its tombstone is flushed to L0 together with
 * neighbours (two overlapping L0 tables, so the L0 -> L1 compaction that
 * the L0 trigger starts is a real merge, not a move).  That compaction
 * writes L1, and L2 still holds the value: the tombstone must be kept.
 */
static void test_resurrection_l0_to_l1(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.num_levels = 3;
	o.l0_compaction_trigger = 2;
	o.level_base_bytes = 1 << 30;	/* no size pressure on L1 */
	lsm_db *db = open_db(&o);
	const unsigned victim = 100;

	for (unsigned i = 0; i < 200; i++)
		put_ver(db, 'r', i, 1);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.level[0].tables + st.level[1].tables, 0);
	assert_int_equal(st.level[2].entries, 200);

	del_key(db, 'r', victim);
	for (unsigned i = 90; i < 110; i += 2)	/* 90..108, not the victim */
		if (i != victim)
			put_ver(db, 'r', i, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	for (unsigned i = 95; i < 115; i += 3)	/* overlaps the first table */
		put_ver(db, 'r', i, 3);
	assert_int_equal(lsm_flush(db, true), 0);
	wait_quiet(db);

	st = stats_of(db);
	assert_true(st.compactions >= 2);	/* the manual one and L0 -> L1 */
	assert_true(st.level[1].tables >= 1);
	assert_int_equal(st.level[1].tombstones, 1);	/* kept: L2 holds the value */
	assert_int_equal(st.level[2].entries, 200);
	assert_true(check_key(db, NULL, 'r', victim, 0, "after L0->L1"));
	assert_true(check_key(db, NULL, 'r', victim - 1, 1, "neighbour"));
	assert_true(check_key(db, NULL, 'r', 98, 3, "neighbour"));

	assert_int_equal(lsm_close(db), 0);
	o.disable_auto_compaction = true;
	db = open_db(&o);
	assert_true(check_key(db, NULL, 'r', victim, 0, "after reopen"));
	/* a full compaction merges the tombstone with the value: both go */
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	st = stats_of(db);
	assert_int_equal(level_sums(&st).tombstones, 0);
	assert_int_equal(level_sums(&st).entries, 199);
	assert_true(check_key(db, NULL, 'r', victim, 0, "after full compaction"));
	assert_int_equal(lsm_close(db), 0);
	db = open_db(&o);
	assert_true(check_key(db, NULL, 'r', victim, 0, "after second reopen"));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/* ---- 2b. the model test ---------------------------------------------------- */

#define MK 1000		/* keys m000000 .. m000999 */
#define MSNAPS 4

struct msnap {
	const lsm_snapshot *s;
	uint32_t ver[MK];
};

struct mtest {
	lsm_db *db;
	lsm_options o;
	uint32_t ver[MK];	/* the model: version per key, 0 = absent */
	uint32_t next_ver;
	struct msnap snaps[MSNAPS];
	unsigned nsnaps;
	unsigned long op;
};

static void model_fail(struct mtest *m, const char *what)
{
	fail_msg("model test: mismatch at op %lu (%s), seed state %" PRIu64, m->op, what,
		 rng_state);
}

/* Every key by scan and by point read (they take different paths through
 * the levels), at the latest state and at every live snapshot. */
static void model_full_check(struct mtest *m, const char *what)
{
	if (!check_scan(m->db, NULL, 'm', m->ver, MK, what))
		model_fail(m, what);
	for (unsigned k = 0; k < MK; k++)
		if (!check_key(m->db, NULL, 'm', k, m->ver[k], what))
			model_fail(m, what);
	for (unsigned i = 0; i < m->nsnaps; i++) {
		if (!check_scan(m->db, m->snaps[i].s, 'm', m->snaps[i].ver, MK, what))
			model_fail(m, what);
		for (unsigned k = 0; k < MK; k++)
			if (!check_key(m->db, m->snaps[i].s, 'm', k, m->snaps[i].ver[k], what))
				model_fail(m, what);
	}
}

static void model_release_all(struct mtest *m)
{
	for (unsigned i = 0; i < m->nsnaps; i++)
		lsm_snapshot_release(m->db, m->snaps[i].s);
	m->nsnaps = 0;
}

static void model_step(struct mtest *m)
{
	unsigned r = rndn(1000);
	unsigned k = rndn(MK);
	char ka[16], kb[16];
	if (r < 420) {
		m->ver[k] = ++m->next_ver;
		put_ver(m->db, 'm', k, m->ver[k]);
	} else if (r < 560) {
		m->ver[k] = 0;
		del_key(m->db, 'm', k);
	} else if (r < 590) {
		unsigned e = k + 1 + rndn(40);
		del_range(m->db, 'm', k, e);
		for (unsigned i = k; i < e && i < MK; i++)
			m->ver[i] = 0;
	} else if (r < 620) {
		/* an atomic batch: a range delete, then puts and deletes in it */
		lsm_batch *b = lsm_batch_new();
		unsigned e = k + 1 + rndn(20);
		assert_non_null(b);
		size_t al = key_of(ka, 'm', k), bl = key_of(kb, 'm', e);
		assert_int_equal(lsm_batch_delete_range(b, ka, al, kb, bl), 0);
		for (unsigned i = k; i < e && i < MK; i++)
			m->ver[i] = 0;
		for (unsigned n = rndn(6); n > 0; n--) {
			unsigned i = k + rndn(e - k + 3);
			if (i >= MK)
				continue;
			char v[160];
			size_t kl = key_of(ka, 'm', i);
			if (rndn(3) == 0) {
				assert_int_equal(lsm_batch_delete(b, ka, kl), 0);
				m->ver[i] = 0;
			} else {
				m->ver[i] = ++m->next_ver;
				size_t vl = val_of(v, i, m->ver[i]);
				assert_int_equal(lsm_batch_put(b, ka, kl, v, vl), 0);
			}
		}
		assert_int_equal(lsm_write(m->db, NULL, b), 0);
		lsm_batch_free(b);
	} else if (r < 640) {
		if (m->nsnaps < MSNAPS) {
			struct msnap *s = &m->snaps[m->nsnaps++];
			s->s = lsm_snapshot_acquire(m->db);
			assert_non_null(s->s);
			memcpy(s->ver, m->ver, sizeof s->ver);
		}
	} else if (r < 660) {
		if (m->nsnaps > 0) {
			unsigned i = rndn(m->nsnaps);
			/* check it fully once more before it goes */
			if (!check_scan(m->db, m->snaps[i].s, 'm', m->snaps[i].ver, MK,
					"scan at snapshot before release"))
				model_fail(m, "snapshot scan");
			lsm_snapshot_release(m->db, m->snaps[i].s);
			m->snaps[i] = m->snaps[--m->nsnaps];
		}
	} else if (r < 672) {
		assert_int_equal(lsm_flush(m->db, rndn(2) == 0), 0);
	} else if (r < 677) {
		unsigned e = k + rndn(MK / 2);
		size_t al = key_of(ka, 'm', k), bl = key_of(kb, 'm', e);
		int which = (int)rndn(4);	/* bounded, open below, open above, all */
		assert_int_equal(lsm_compact_range(m->db, which & 1 ? NULL : ka, al,
						   which & 2 ? NULL : kb, bl), 0);
		if (!check_scan(m->db, NULL, 'm', m->ver, MK, "scan after manual compaction"))
			model_fail(m, "scan after manual compaction");
	} else if (r < 880) {
		if (!check_key(m->db, NULL, 'm', k, m->ver[k], "get latest"))
			model_fail(m, "get latest");
	} else if (r < 980) {
		if (m->nsnaps > 0) {
			struct msnap *s = &m->snaps[rndn(m->nsnaps)];
			if (!check_key(m->db, s->s, 'm', k, s->ver[k], "get at snapshot"))
				model_fail(m, "get at snapshot");
		}
	} else {
		/* a short scan from k, at the latest state or at a snapshot */
		const lsm_snapshot *s = NULL;
		const uint32_t *ver = m->ver;
		if (m->nsnaps > 0 && rndn(2)) {
			struct msnap *ms = &m->snaps[rndn(m->nsnaps)];
			s = ms->s;
			ver = ms->ver;
		}
		lsm_read_options ro;
		lsm_iter *it;
		memset(&ro, 0, sizeof ro);
		ro.snapshot = s;
		assert_int_equal(lsm_iter_new(m->db, &ro, &it), 0);
		size_t kl = key_of(ka, 'm', k);
		lsm_iter_seek(it, ka, kl);
		unsigned i = k;
		for (int n = 0; n < 20; n++, i++) {
			while (i < MK && ver[i] == 0)
				i++;
			if (i >= MK)
				break;
			size_t gkl, gvl;
			char ev[160];
			size_t ekl = key_of(kb, 'm', i), evl = val_of(ev, i, ver[i]);
			if (!lsm_iter_valid(it))
				model_fail(m, "short scan ended early");
			const char *gk = lsm_iter_key(it, &gkl);
			const char *gv = lsm_iter_value(it, &gvl);
			if (gkl != ekl || memcmp(gk, kb, ekl) != 0 || gvl != evl ||
			    memcmp(gv, ev, evl) != 0) {
				print_error("short scan: got %.*s = %.*s, expected %s version %" PRIu32
					    "\n", (int)gkl, gk, (int)gvl, gv, kb, ver[i]);
				model_fail(m, "short scan");
			}
			lsm_iter_next(it);
		}
		assert_int_equal(lsm_iter_status(it), 0);
		lsm_iter_free(it);
	}
}

static void run_model(bool auto_compaction, uint64_t seed, unsigned long ops)
{
	lsm_env *env = lsm_env_mem_new();
	struct mtest *m = calloc(1, sizeof *m);
	assert_non_null(m);
	rng_state = seed;
	base_options(&m->o, env);
	/* small everything, so flushes, cuts between tables and several
	 * levels happen within a few hundred KiB */
	m->o.write_buffer_size = 16 << 10;
	m->o.target_file_size = 8 << 10;
	m->o.block_size = 1024;
	m->o.l0_compaction_trigger = 2;
	m->o.l0_slowdown_trigger = 20;
	m->o.l0_stop_trigger = 40;
	m->o.level_base_bytes = 16 << 10;
	m->o.level_multiplier = 3;
	m->o.compaction_threads = 2;
	m->o.disable_auto_compaction = !auto_compaction;
	m->db = open_db(&m->o);
	for (m->op = 0; m->op < ops; m->op++) {
		model_step(m);
		if (m->op % 1000 == 999)
			model_full_check(m, "periodic check");
		if (m->op % 6000 == 5999) {
			model_full_check(m, "before reopen");
			model_release_all(m);
			assert_int_equal(lsm_close(m->db), 0);
			m->db = open_db(&m->o);
			model_full_check(m, "after reopen");
		}
	}
	model_full_check(m, "at the end");
	model_release_all(m);
	assert_int_equal(lsm_compact_range(m->db, NULL, 0, NULL, 0), 0);
	model_full_check(m, "after the last full compaction");
	lsm_stats st = stats_of(m->db);
	/* nothing pinned and everything compacted: no tombstone is left */
	assert_int_equal(level_sums(&st).tombstones, 0);
	assert_int_equal(level_sums(&st).range_tombstones, 0);
	assert_true(st.compactions > 0);
	assert_int_equal(lsm_close(m->db), 0);
	m->db = open_db(&m->o);
	model_full_check(m, "after the last reopen");
	assert_int_equal(lsm_close(m->db), 0);
	free(m);
	env->destroy(env);
}

static void test_model_auto(void **state)
{
	(void)state;
	run_model(true, UINT64_C(0x9e3779b97f4a7c15), 24000);
}

static void test_model_manual_only(void **state)
{
	(void)state;
	/* deterministic: no background compaction, so a failure replays */
	run_model(false, UINT64_C(0x243f6a8885a308d3), 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_pinned_snapshot),
		cmocka_unit_test(test_resurrection_l0_to_l1),
		cmocka_unit_test(test_model_auto),
		cmocka_unit_test(test_model_manual_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
