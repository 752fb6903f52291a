/*
 * Unit tests for the compaction scheduler and executor (compact.c) through
 * the public API (lsm.h), on the in-memory env:
 *
 *   - range tombstones: covered keys vanish; a range tombstone is dropped
 *     only when no level below the output overlaps it; a kept tombstone
 *     that spans a cut between two output tables still hides (and does not
 *     hide) the right keys at every snapshot;
 *   - triggers: L0 file count; tombstone density (only once the
 *     tombstones fall at or below the GC cutoff); the cutoff moving when
 *     the oldest snapshot is released (bottommost tables compact alone);
 *   - write stall: a burst from several threads against a slow compaction
 *     rate keeps L0 bounded, slows or stalls writers, and finishes;
 *   - trivial move: a table overlapping nothing below moves without being
 *     rewritten, and its file outlives every reader of an older version;
 *   - concurrency: writers, readers, iterators and snapshot scans during
 *     flushes and compactions on two compaction threads (also run under
 *     ThreadSanitizer: suite 'tsan').
 *
 * Waits on background work poll lsm_get_stats with a bounded deadline
 * (10 s; a hang fails the test, it never blocks the suite); no assertion
 * depends on how fast anything runs.
 *
 * Threads: tests 1-4 and 6 drive the store from one thread; the write-stall
 * and concurrency tests start their own threads, which report failures
 * through a shared, mutex-guarded record that the main thread asserts on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lsm.h"

#define DBPATH "/db"

/* ---- helpers ------------------------------------------------------------- */

/* The value of key at version ver: "<key>|<ver>|" and a filler whose length
 * and bytes depend on both, so a value of another key or version, or a
 * torn one, never passes val_ok().  buf must hold 200 bytes. */
static size_t val_of(char *buf, const char *key, size_t klen, uint32_t ver)
{
	uint32_t h = ver * 2654435761u;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	int n = snprintf(buf, 200, "%.*s|%08" PRIu32 "|", (int)klen, key, ver);
	size_t len = (size_t)n + 8 + h % 90u;
	for (size_t j = (size_t)n; j < len; j++)
		buf[j] = (char)('a' + (h + j) % 26u);
	return len;
}

/* Is v a value val_of(key, ver) wrote?  Sets *ver. */
static bool val_ok(const char *key, size_t klen, const void *v, size_t vlen, uint32_t *ver)
{
	char exp[200];
	const char *p = v;
	if (vlen < klen + 11 || memcmp(p, key, klen) != 0 || p[klen] != '|')
		return false;
	char num[9];
	memcpy(num, p + klen + 1, 8);
	num[8] = 0;
	char *end;
	unsigned long x = strtoul(num, &end, 10);
	if (*end || x > UINT32_MAX)
		return false;
	*ver = (uint32_t)x;
	size_t el = val_of(exp, key, klen, *ver);
	return el == vlen && memcmp(exp, v, vlen) == 0;
}

static size_t key_of(char *buf, char prefix, unsigned i)
{
	return (size_t)snprintf(buf, 16, "%c%06u", prefix, i);
}

static void put_ver(lsm_db *db, char prefix, unsigned i, uint32_t ver)
{
	char k[16], v[200];
	size_t kl = key_of(k, prefix, i);
	size_t vl = val_of(v, k, kl, ver);
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

/* Does key (prefix, i) read as version ver (0: absent) at s? */
static bool key_is(lsm_db *db, const lsm_snapshot *s, char prefix, unsigned i, uint32_t ver)
{
	char k[16];
	size_t kl = key_of(k, prefix, i);
	lsm_read_options ro;
	void *v = NULL;
	size_t vl = 0;
	uint32_t got = 0;
	memset(&ro, 0, sizeof ro);
	ro.snapshot = s;
	int rc = lsm_get(db, &ro, k, kl, &v, &vl);
	bool ok;
	if (rc == 0) {
		ok = val_ok(k, kl, v, vl, &got) && got == ver;
		free(v);
	} else {
		ok = rc == LSM_E_NOTFOUND && ver == 0;
	}
	if (!ok)
		print_error("key %s: expected %s%" PRIu32 ", get -> %d (version %" PRIu32 ")\n",
			    k, ver ? "version " : "absent ", ver, rc, got);
	return ok;
}

/* Count keys with prefix visible at s. */
static unsigned count_keys(lsm_db *db, const lsm_snapshot *s, char prefix)
{
	char lo[2] = { prefix, 0 }, hi[2] = { (char)(prefix + 1), 0 };
	lsm_read_options ro;
	lsm_iter *it;
	unsigned n = 0;
	memset(&ro, 0, sizeof ro);
	ro.snapshot = s;
	ro.lower = lo;
	ro.lower_len = 1;
	ro.upper = hi;
	ro.upper_len = 1;
	assert_int_equal(lsm_iter_new(db, &ro, &it), 0);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	return n;
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

typedef bool (*stat_pred)(const lsm_stats *st, const void *arg);

/* Poll the stats until pred holds and no compaction runs: true, or false
 * after 10 s. */
static bool wait_for(lsm_db *db, stat_pred pred, const void *arg)
{
	for (int t = 0; t < 1000; t++) {
		lsm_stats st = stats_of(db);
		if (st.compactions_running == 0 && pred(&st, arg))
			return true;
		usleep(10000);
	}
	return false;
}

static bool l0_empty(const lsm_stats *st, const void *arg)
{
	(void)arg;
	return st->level[0].tables == 0;
}

static bool no_tombstones(const lsm_stats *st, const void *arg)
{
	(void)arg;
	struct sums s = level_sums(st);
	return s.tombstones == 0 && s.range_tombstones == 0;
}

static bool l0_below(const lsm_stats *st, const void *arg)
{
	return st->level[0].tables < *(const uint64_t *)arg;
}

static void base_options(lsm_options *o, lsm_env *env)
{
	lsm_options_init(o);
	o->env = env;
	o->create_if_missing = true;
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

/* The engine's log lines, to see which kind of job ran (the scheduler
 * names it: "compaction N (kind) ..."). */
struct logcap {
	pthread_mutex_t mu;
	char *text;
	size_t len;
};

static void log_cb(void *ctx, const char *line)
{
	struct logcap *c = ctx;
	size_t n = strlen(line);
	pthread_mutex_lock(&c->mu);
	char *p = realloc(c->text, c->len + n + 2);
	if (p) {
		c->text = p;
		memcpy(p + c->len, line, n);
		p[c->len + n] = '\n';
		p[c->len + n + 1] = 0;
		c->len += n + 1;
	}
	pthread_mutex_unlock(&c->mu);
}

static bool log_has(struct logcap *c, const char *needle)
{
	pthread_mutex_lock(&c->mu);
	bool r = c->text && strstr(c->text, needle);
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void log_free(struct logcap *c)
{
	free(c->text);
	c->text = NULL;
	c->len = 0;
}

/* ---- 1. range tombstones ------------------------------------------------- */

/*
 * Data at the bottom (L6) overlaps a range tombstone that an L0 -> L1
 * compaction writes: the tombstone must stay in L1 (else the values below
 * would come back); only a full compaction that merges it with the values
 * drops both.
 */
static void test_range_tombstone_kept_over_data_below(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.l0_compaction_trigger = 2;
	o.level_base_bytes = 1 << 30;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 500; i++)
		put_ver(db, 'a', i, 1);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.level[6].entries, 500);

	/* values beside the tombstone keep the table's dead share below the
	 * density and emergency triggers, which would otherwise carry the
	 * tombstone down to the values on their own */
	del_range(db, 'a', 100, 200);
	for (unsigned i = 300; i < 350; i++)
		put_ver(db, 'a', i, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	put_ver(db, 'a', 150, 2);	/* overlaps: a merge, not a move */
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty, NULL));

	st = stats_of(db);
	assert_true(st.compactions >= 2);
	assert_true(st.level[1].range_tombstones >= 1);
	assert_int_equal(st.level[6].entries, 500);	/* untouched below */
	assert_true(key_is(db, NULL, 'a', 99, 1));
	assert_true(key_is(db, NULL, 'a', 100, 0));
	assert_true(key_is(db, NULL, 'a', 149, 0));
	assert_true(key_is(db, NULL, 'a', 150, 2));
	assert_true(key_is(db, NULL, 'a', 199, 0));
	assert_true(key_is(db, NULL, 'a', 200, 1));
	assert_true(key_is(db, NULL, 'a', 300, 2));
	assert_int_equal(count_keys(db, NULL, 'a'), 401);

	/* survives a reopen */
	assert_int_equal(lsm_close(db), 0);
	db = open_db(&o);
	assert_true(key_is(db, NULL, 'a', 120, 0));
	assert_int_equal(count_keys(db, NULL, 'a'), 401);

	/* merged with the values: both go */
	uint64_t rdropped = stats_of(db).range_tombstones_dropped;
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	st = stats_of(db);
	assert_int_equal(level_sums(&st).range_tombstones, 0);
	assert_int_equal(level_sums(&st).entries, 401);
	assert_true(st.range_tombstones_dropped > rdropped);
	assert_true(key_is(db, NULL, 'a', 120, 0));
	assert_true(key_is(db, NULL, 'a', 150, 2));
	assert_int_equal(count_keys(db, NULL, 'a'), 401);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/*
 * The tombstone's range overlaps nothing below L1: the L0 -> L1 compaction
 * drops it together with the keys it covers.
 */
static void test_range_tombstone_dropped_when_nothing_below(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.l0_compaction_trigger = 2;
	o.level_base_bytes = 1 << 30;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 500; i++)	/* elsewhere in the key space */
		put_ver(db, 'b', i, 1);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);

	for (unsigned i = 0; i < 100; i++)
		put_ver(db, 'c', i, 1);
	del_range(db, 'c', 20, 60);
	assert_int_equal(lsm_flush(db, true), 0);
	put_ver(db, 'c', 70, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty, NULL));

	lsm_stats st = stats_of(db);
	assert_int_equal(level_sums(&st).range_tombstones, 0);
	assert_true(st.range_tombstones_dropped > 0);
	assert_int_equal(st.level[1].entries, 60);	/* c0..c19, c60..c99 */
	assert_int_equal(st.level[6].entries, 500);
	assert_true(key_is(db, NULL, 'c', 19, 1));
	assert_true(key_is(db, NULL, 'c', 20, 0));
	assert_true(key_is(db, NULL, 'c', 59, 0));
	assert_true(key_is(db, NULL, 'c', 60, 1));
	assert_true(key_is(db, NULL, 'c', 70, 2));
	assert_int_equal(count_keys(db, NULL, 'c'), 60);
	assert_int_equal(count_keys(db, NULL, 'b'), 500);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/*
 * A kept range tombstone over many keys, in a compaction whose output is
 * cut into several small tables: the tombstone's pieces end where the next
 * table begins.  Every key must read right, point reads included (they
 * look up one level at a time by table boundaries).  Two ways to keep the
 * tombstone: a snapshot older than it (all values kept too), and values in
 * a lower level (newer values written after the tombstone).
 */
static void test_range_tombstone_across_table_cuts(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.disable_auto_compaction = true;
	o.compression = 0;
	o.target_file_size = 8 << 10;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 1000; i++)
		put_ver(db, 'k', i, 1);
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	del_range(db, 'k', 0, 1000);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st = stats_of(db);
	assert_true(st.level[6].range_tombstones >= 1);
	for (unsigned i = 0; i < 1000; i++) {
		assert_true(key_is(db, snap, 'k', i, 1));
		assert_true(key_is(db, NULL, 'k', i, 0));
	}
	assert_int_equal(count_keys(db, snap, 'k'), 1000);
	assert_int_equal(count_keys(db, NULL, 'k'), 0);
	lsm_snapshot_release(db, snap);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);

	/* the second way: old values at the bottom, then a tombstone over
	 * them and newer values, merged L0 -> L1 above the old ones */
	env = lsm_env_mem_new();
	base_options(&o, env);
	o.compression = 0;
	o.target_file_size = 8 << 10;
	o.l0_compaction_trigger = 2;
	o.level_base_bytes = 1 << 30;
	db = open_db(&o);
	for (unsigned i = 0; i < 1000; i++)
		put_ver(db, 'k', i, 1);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	del_range(db, 'k', 0, 1000);
	for (unsigned i = 0; i < 500; i++)
		put_ver(db, 'k', i, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	for (unsigned i = 500; i < 1000; i += 2)	/* odd keys stay deleted */
		put_ver(db, 'k', i, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty, NULL));
	st = stats_of(db);
	assert_true(st.level[1].tables > 1);		/* the output was cut */
	assert_true(st.level[1].range_tombstones >= 1);	/* and kept */
	assert_int_equal(st.level[6].entries, 1000);
	for (unsigned i = 0; i < 1000; i++)
		assert_true(key_is(db, NULL, 'k', i, i < 500 || i % 2 == 0 ? 2 : 0));
	assert_int_equal(count_keys(db, NULL, 'k'), 750);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/* ---- 2. triggers ------------------------------------------------------------ */

static void test_trigger_l0_file_count(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	const uint64_t trigger = 4;
	base_options(&o, env);
	o.l0_compaction_trigger = (int)trigger;
	o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 40;
	lsm_db *db = open_db(&o);
	uint32_t ver[300] = { 0 };
	for (int round = 0; round < 12; round++) {
		for (unsigned i = (unsigned)round * 10; i < 300; i += 7) {
			ver[i] = (uint32_t)round + 1;
			put_ver(db, 'l', i, ver[i]);
		}
		assert_int_equal(lsm_flush(db, true), 0);
	}
	assert_true(wait_for(db, l0_below, &trigger));
	lsm_stats st = stats_of(db);
	assert_true(st.level[0].tables < trigger);
	assert_true(st.compactions + st.trivial_moves > 0);
	assert_true(st.flushes >= 12);
	for (unsigned i = 0; i < 300; i++)
		assert_true(key_is(db, NULL, 'l', i, ver[i]));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/*
 * An L0 table 30% tombstones (above tombstone_density, below the emergency
 * ratio), no size pressure anywhere.  While a snapshot older than the
 * tombstones pins them, it is not a candidate (compaction could not drop
 * them); once released, density compactions carry the tombstones down to
 * the values they delete and drop both.
 */
static void test_trigger_tombstone_density(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	struct logcap cap = { .mu = PTHREAD_MUTEX_INITIALIZER };
	base_options(&o, env);
	o.l0_compaction_trigger = 8;
	o.level_base_bytes = 1 << 30;
	o.log = log_cb;
	o.log_ctx = &cap;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 1000; i++)
		put_ver(db, 'd', i, 1);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	for (unsigned i = 0; i < 1000; i++) {
		if (i % 10 < 3)
			del_key(db, 'd', i);
		else
			put_ver(db, 'd', i, 2);
	}
	assert_int_equal(lsm_flush(db, true), 0);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.level[0].tables, 1);
	assert_int_equal(st.level[0].tombstones, 300);
	assert_false(log_has(&cap, "(tombstone-density)"));

	/* pinned: give the scheduler time to (wrongly) act; it must not
	 * (this can only pass wrongly, never fail wrongly) */
	usleep(300000);
	st = stats_of(db);
	assert_int_equal(st.level[0].tables, 1);
	assert_int_equal(st.level[0].tombstones, 300);
	assert_int_equal(st.compactions_running, 0);

	lsm_snapshot_release(db, snap);
	assert_true(wait_for(db, no_tombstones, NULL));
	st = stats_of(db);
	assert_int_equal(st.level[0].tables, 0);
	assert_true(st.tombstones_dropped >= 300);
	assert_int_equal(level_sums(&st).entries, 700);
	assert_true(log_has(&cap, "(tombstone-density)"));
	for (unsigned i = 0; i < 1000; i++)
		assert_true(key_is(db, NULL, 'd', i, i % 10 < 3 ? 0 : 2));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	log_free(&cap);
}

/*
 * A bottommost table keeps 100 tombstones (10%: below the density trigger)
 * for a snapshot.  Releasing the snapshot moves the cutoff past them, and
 * the table is compacted on its own with no new write.
 */
static void test_trigger_cutoff_moved(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	struct logcap cap = { .mu = PTHREAD_MUTEX_INITIALIZER };
	base_options(&o, env);
	o.level_base_bytes = 1 << 30;
	o.log = log_cb;
	o.log_ctx = &cap;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 1000; i++)
		put_ver(db, 'e', i, 1);
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	for (unsigned i = 0; i < 1000; i += 10)
		del_key(db, 'e', i);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.level[6].tombstones, 100);
	assert_int_equal(st.level[6].entries, 1100);
	assert_int_equal(level_sums(&st).tables, st.level[6].tables);
	assert_true(key_is(db, snap, 'e', 10, 1));
	uint64_t compactions = st.compactions;

	lsm_snapshot_release(db, snap);
	assert_true(wait_for(db, no_tombstones, NULL));
	st = stats_of(db);
	assert_int_equal(st.level[6].entries, 900);
	assert_true(st.compactions > compactions);
	assert_true(st.tombstones_dropped >= 100);
	assert_true(log_has(&cap, "(cutoff-moved)"));
	for (unsigned i = 0; i < 1000; i++)
		assert_true(key_is(db, NULL, 'e', i, i % 10 ? 1 : 0));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	log_free(&cap);
}

/* ---- 3. write stall ----------------------------------------------------------- */

#define STALL_WRITERS 4
#define STALL_KEYS 50		/* per writer */
#define STALL_PUTS 1500		/* per writer */

struct stall_ctx {
	lsm_db *db;
	atomic_bool writers_done, watch_stop;
	atomic_uint_fast64_t max_l0;
	atomic_int errors;
	atomic_int finished;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool all_done;
};

struct stall_writer {
	struct stall_ctx *c;
	int id;
	uint32_t last[STALL_KEYS];
};

static void *stall_writer_main(void *arg)
{
	struct stall_writer *w = arg;
	char k[32], v[200];
	for (uint32_t n = 1; n <= STALL_PUTS; n++) {
		unsigned i = (n * 7u + (unsigned)w->id) % STALL_KEYS;
		size_t kl = (size_t)snprintf(k, sizeof k, "w%d-%03u", w->id, i);
		size_t vl = val_of(v, k, kl, n);
		if (lsm_put(w->c->db, NULL, k, kl, v, vl) != 0) {
			atomic_fetch_add(&w->c->errors, 1);
			break;
		}
		w->last[i] = n;
	}
	atomic_fetch_add(&w->c->finished, 1);
	return NULL;
}

static void *stall_watch_main(void *arg)
{
	struct stall_ctx *c = arg;
	while (!atomic_load(&c->watch_stop)) {
		lsm_stats st;
		if (lsm_get_stats(c->db, &st) == 0) {
			uint64_t m = atomic_load(&c->max_l0);
			if (st.level[0].tables > m)
				atomic_store(&c->max_l0, st.level[0].tables);
		}
		usleep(200);
	}
	return NULL;
}

/* Fails the process if the burst does not finish in time: a deadlock must
 * not hang the suite. */
static void *stall_watchdog_main(void *arg)
{
	struct stall_ctx *c = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 120;
	pthread_mutex_lock(&c->mu);
	while (!c->all_done)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT && !c->all_done) {
			fprintf(stderr, "write stall test: writers still blocked after 120 s "
					"(%d of %d finished): deadlock\n",
				atomic_load(&c->finished), STALL_WRITERS);
			_exit(1);
		}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void test_write_stall(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	struct stall_ctx c;
	struct stall_writer w[STALL_WRITERS];
	pthread_t wt[STALL_WRITERS], watch, dog;
	base_options(&o, env);
	o.write_buffer_size = 16 << 10;
	o.max_immutable = 2;
	o.l0_compaction_trigger = 2;
	o.l0_slowdown_trigger = 3;
	o.l0_stop_trigger = 4;
	o.compaction_rate = 1 << 20;	/* 1 MiB/s: far slower than the writers */
	o.compression = 0;
	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.db = open_db(&o);

	assert_int_equal(pthread_create(&dog, NULL, stall_watchdog_main, &c), 0);
	assert_int_equal(pthread_create(&watch, NULL, stall_watch_main, &c), 0);
	for (int i = 0; i < STALL_WRITERS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].c = &c;
		w[i].id = i;
		assert_int_equal(pthread_create(&wt[i], NULL, stall_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < STALL_WRITERS; i++)
		pthread_join(wt[i], NULL);
	atomic_store(&c.watch_stop, true);
	pthread_join(watch, NULL);
	pthread_mutex_lock(&c.mu);
	c.all_done = true;
	pthread_cond_signal(&c.cv);
	pthread_mutex_unlock(&c.mu);
	pthread_join(dog, NULL);

	lsm_stats st = stats_of(c.db);
	assert_int_equal(atomic_load(&c.errors), 0);
	assert_int_equal(atomic_load(&c.finished), STALL_WRITERS);
	/*
	 * A memtable is switched only while L0 < l0_stop_trigger, and then
	 * only if fewer than max_immutable (2) wait for their flush.  So at
	 * L0 = stop - 1 at most two memtables can be on their way, and a flush
	 * never waits for L0: the bound is stop - 1 + max_immutable = stop + 1.
	 */
	uint64_t max_l0 = atomic_load(&c.max_l0);
	print_message("write stall: max L0 %" PRIu64 ", %" PRIu64 " slowdowns, %" PRIu64
		      " stalls, %" PRIu64 " compactions\n", max_l0, st.write_slowdowns,
		      st.write_stalls, st.compactions);
	assert_true(max_l0 <= (uint64_t)o.l0_stop_trigger + 1);
	assert_true(max_l0 >= 1);
	assert_true(st.write_stalls + st.write_slowdowns > 0);
	assert_true(st.compactions > 0);

	/* every writer's last value per key is there */
	for (int i = 0; i < STALL_WRITERS; i++)
		for (unsigned k = 0; k < STALL_KEYS; k++) {
			char key[32];
			void *v;
			size_t vl, kl = (size_t)snprintf(key, sizeof key, "w%d-%03u", i, k);
			uint32_t ver;
			assert_int_equal(lsm_get(c.db, NULL, key, kl, &v, &vl), 0);
			assert_true(val_ok(key, kl, v, vl, &ver));
			assert_int_equal(ver, w[i].last[k]);
			free(v);
		}
	assert_int_equal(lsm_close(c.db), 0);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	env->destroy(env);
}

/* ---- 4. trivial move ---------------------------------------------------------- */

static bool l0_empty_l1(const lsm_stats *st, const void *arg)
{
	return st->level[0].tables == 0 && st->level[1].tables == *(const uint64_t *)arg;
}

static void test_trivial_move(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.l0_compaction_trigger = 1;	/* every flush is a candidate */
	o.level_base_bytes = 1 << 30;
	lsm_db *db = open_db(&o);

	for (unsigned i = 0; i < 200; i++)
		put_ver(db, 'a', i, 1);
	assert_int_equal(lsm_flush(db, true), 0);
	uint64_t one = 1, two = 2;
	assert_true(wait_for(db, l0_empty_l1, &one));
	lsm_stats st = stats_of(db);
	assert_int_equal(st.trivial_moves, 1);
	assert_int_equal(st.compactions, 0);
	assert_int_equal(st.compaction_bytes_written, 0);
	assert_int_equal(st.compaction_bytes_read, 0);
	assert_int_equal(st.level[1].bytes, st.flush_bytes_written);	/* same table */

	/* a second table after the first in key order moves down beside it */
	for (unsigned i = 0; i < 200; i++)
		put_ver(db, 'b', i, 1);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty_l1, &two));
	st = stats_of(db);
	assert_int_equal(st.trivial_moves, 2);
	assert_int_equal(st.compaction_bytes_written, 0);
	assert_int_equal(st.level[1].bytes, st.flush_bytes_written);

	/* one that overlaps an L1 table is merged, not moved (the control) */
	put_ver(db, 'a', 100, 2);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty_l1, &two));
	st = stats_of(db);
	assert_int_equal(st.trivial_moves, 2);
	assert_true(st.compactions >= 1);
	assert_true(st.compaction_bytes_written > 0);
	assert_true(key_is(db, NULL, 'a', 100, 2));
	assert_true(key_is(db, NULL, 'a', 99, 1));
	assert_true(key_is(db, NULL, 'b', 199, 1));
	assert_int_equal(count_keys(db, NULL, 'a'), 200);
	assert_int_equal(count_keys(db, NULL, 'b'), 200);

	/* and the moves are in the manifest */
	assert_int_equal(lsm_close(db), 0);
	db = open_db(&o);
	st = stats_of(db);
	assert_int_equal(st.level[0].tables, 0);
	assert_int_equal(st.level[1].tables, 2);
	assert_true(key_is(db, NULL, 'b', 0, 1));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/*
 * Compression by level: flushes and L1 take compression_l0l1, deeper
 * levels compression.  With the upper levels raw, a flushed table costs
 * about its raw bytes; the same data compacted to the last level costs
 * far less; every key reads back from both.
 */
static void test_compression_by_level(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.compression = 1;
	o.compression_l0l1 = 0;
	o.l0_compaction_trigger = 100;	/* nothing moves on its own */
	o.l0_slowdown_trigger = 200;
	o.l0_stop_trigger = 300;
	lsm_db *db = open_db(&o);
	for (unsigned i = 0; i < 3000; i++)
		put_ver(db, 'c', i, 1);
	assert_int_equal(lsm_flush(db, true), 0);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.level[0].tables, 1);
	uint64_t raw = st.level[0].bytes;
	assert_true(raw > 3000u * 60u);		/* values average ~70 bytes */
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	st = stats_of(db);
	assert_int_equal(st.level[0].tables, 0);
	int last = -1;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		if (st.level[l].tables)
			last = l;
	assert_true(last >= 2);
	assert_true(st.level[last].bytes < raw / 2);
	assert_int_equal(count_keys(db, NULL, 'c'), 3000);
	assert_true(key_is(db, NULL, 'c', 1234, 1));
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/*
 * Disk space and background compactions (compact.c room_for_job): with
 * too little free space for a job's inputs beside the memtables, no
 * compaction starts and writes go on; with room again, L0 drains.  A
 * compaction that runs out of space half-way leaves its inputs, does not
 * stop writes, and is tried again.
 */
static bool some_compaction(const lsm_stats *st, const void *arg)
{
	(void)arg;
	return st->compactions > 0;
}

static void put_round(lsm_db *db, int round)
{
	for (unsigned i = 0; i < 200; i++)
		put_ver(db, 's', i, (uint32_t)round + 1);
	assert_int_equal(lsm_flush(db, true), 0);
}

static void test_compaction_waits_for_space(void **state)
{
	(void)state;
	lsm_env *mem = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(mem);
	lsm_options o;
	base_options(&o, env);
	o.l0_compaction_trigger = 2;
	o.l0_slowdown_trigger = 3;
	o.l0_stop_trigger = 4;
	o.write_buffer_size = 1 << 20;
	lsm_env_fault_set_free_space(env, 100 << 10);	/* below one memtable */
	lsm_db *db = open_db(&o);
	/* past the stop trigger: writes must not wait for a compaction that
	 * cannot run (they would wait for ever) */
	for (int round = 0; round < 4; round++)
		put_round(db, round);
	put_ver(db, 's', 0, 4);
	assert_int_equal(lsm_flush(db, true), 0);
	/* time for a worker to (not) start: then nothing was compacted */
	usleep(200 * 1000);
	lsm_stats st = stats_of(db);
	assert_int_equal(st.compactions, 0);
	assert_int_equal(st.level[0].tables, 5);
	assert_int_equal(st.background_error, 0);
	assert_true(key_is(db, NULL, 's', 7, 4));

	/* room again: the workers look once a second, or after a flush */
	lsm_env_fault_set_free_space(env, UINT64_MAX);
	assert_true(wait_for(db, some_compaction, NULL));
	uint64_t two = 2;
	assert_true(wait_for(db, l0_below, &two));

	/* out of space in the middle of a job: the job's first write (the
	 * only writer then) fails; writes go on, the job is tried again and
	 * finishes */
	lsm_env_fault_set_free_space(env, 0);
	for (int round = 4; round < 8; round++)
		put_round(db, round);
	assert_int_equal(stats_of(db).level[0].tables, 4);
	uint64_t before = stats_of(db).compactions;
	lsm_env_fault_fail_nth(env, LSM_FAULT_WRITE, 1, -ENOSPC);
	lsm_env_fault_set_free_space(env, UINT64_MAX);
	assert_true(wait_for(db, l0_below, &two));
	assert_true(stats_of(db).compactions > before);
	st = stats_of(db);
	assert_int_equal(st.background_error, 0);
	put_ver(db, 's', 1, 99);
	assert_true(key_is(db, NULL, 's', 1, 99));
	assert_true(key_is(db, NULL, 's', 2, 8));
	assert_int_equal(count_keys(db, NULL, 's'), 200);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	mem->destroy(mem);
}

/*
 * An iterator opened while table T sits in L1 reads it lazily, later.  In
 * between, T moves down to L2 without a rewrite (a trivial move: L1 went
 * over its target when a second table U joined it), and then a full
 * compaction merges it away.  T's file must survive until the iterator
 * lets go of its version.
 */
static bool moved_to_l2(const lsm_stats *st, const void *arg)
{
	(void)arg;
	return st->level[0].tables == 0 && st->level[1].tables == 1 && st->level[2].tables == 1;
}

static void test_moved_table_outlives_old_readers(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	base_options(&o, env);
	o.compression = 0;
	o.l0_compaction_trigger = 1;	/* every flush is a candidate */
	lsm_db *db = open_db(&o);
	uint64_t one = 1;

	for (unsigned i = 0; i < 300; i++)	/* T */
		put_ver(db, 'm', i, 1);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, l0_empty_l1, &one));
	lsm_stats st = stats_of(db);
	assert_int_equal(st.trivial_moves, 1);
	assert_int_equal(lsm_close(db), 0);
	/* L1's target: above T alone, below T + U */
	o.level_base_bytes = st.level[1].bytes + st.level[1].bytes / 2;
	db = open_db(&o);

	lsm_iter *it;
	assert_int_equal(lsm_iter_new(db, NULL, &it), 0);
	for (unsigned i = 0; i < 300; i++)	/* U, after T in key order */
		put_ver(db, 'n', i, 1);
	assert_int_equal(lsm_flush(db, true), 0);
	assert_true(wait_for(db, moved_to_l2, NULL));
	st = stats_of(db);
	assert_int_equal(st.trivial_moves, 2);	/* U into L1, T into L2 (this run) */
	assert_int_equal(st.compaction_bytes_written, 0);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	st = stats_of(db);
	assert_int_equal(st.level[1].tables + st.level[2].tables, 0);

	unsigned n = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		char k[16], v[200];
		size_t kl, vl, ekl = key_of(k, 'm', n), evl = val_of(v, k, ekl, 1);
		const void *gk = lsm_iter_key(it, &kl), *gv = lsm_iter_value(it, &vl);
		assert_int_equal(kl, ekl);
		assert_memory_equal(gk, k, kl);
		assert_int_equal(vl, evl);
		assert_memory_equal(gv, v, vl);
		n++;
	}
	if (lsm_iter_status(it) != 0)
		fail_msg("old iterator: %s (%s)", lsm_strerror(lsm_iter_status(it)), lsm_errdetail());
	assert_int_equal(n, 300);
	lsm_iter_free(it);
	assert_int_equal(count_keys(db, NULL, 'm'), 300);
	assert_int_equal(count_keys(db, NULL, 'n'), 300);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
}

/* ---- 5. concurrency --------------------------------------------------------------- */

#define CC_KEYS 400		/* stable keys k%04d/a, never deleted */
#define CC_WRITERS 2
#define CC_WRITES 8000		/* per writer */

struct cc_ctx {
	lsm_db *db;
	_Atomic uint32_t pub[CC_KEYS];	/* last version whose put returned */
	atomic_bool stop;
	atomic_int errors;
	pthread_mutex_t mu;
	char first_error[512];
};

static void cc_error(struct cc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cc_error(struct cc_ctx *c, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&c->mu);
	if (atomic_fetch_add(&c->errors, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof c->first_error, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->stop, true);
}

static uint64_t cc_rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static size_t stable_key(char *k, unsigned i)
{
	return (size_t)snprintf(k, 32, "k%04u/a", i);
}

struct cc_thread {
	struct cc_ctx *c;
	int id;
	uint64_t rng;
};

/* Writer id owns the stable keys i with i % CC_WRITERS == id.  Besides
 * them it writes churn keys "k%04u/b.." between the stable keys, deletes
 * them, and range-deletes [k%04u/b, k%04u+1/a): a tombstone ending exactly
 * at the next stable key. */
static void *cc_writer_main(void *arg)
{
	struct cc_thread *t = arg;
	struct cc_ctx *c = t->c;
	char k[32], k2[32], v[200];
	uint32_t ver[CC_KEYS];
	for (unsigned i = 0; i < CC_KEYS; i++)
		ver[i] = 1;
	for (int n = 0; n < CC_WRITES && !atomic_load(&c->stop); n++) {
		unsigned r = (unsigned)(cc_rnd(&t->rng) % 100);
		unsigned i = (unsigned)(cc_rnd(&t->rng) % (CC_KEYS / CC_WRITERS)) * CC_WRITERS +
			     (unsigned)t->id;
		int rc;
		if (r < 60) {
			size_t kl = stable_key(k, i), vl = val_of(v, k, kl, ++ver[i]);
			rc = lsm_put(c->db, NULL, k, kl, v, vl);
			if (rc == 0)
				atomic_store_explicit(&c->pub[i], ver[i], memory_order_release);
		} else if (r < 85) {
			size_t kl = (size_t)snprintf(k, sizeof k, "k%04u/b%02u", i,
						     (unsigned)(cc_rnd(&t->rng) % 20));
			size_t vl = val_of(v, k, kl, (uint32_t)n);
			rc = lsm_put(c->db, NULL, k, kl, v, vl);
		} else if (r < 95) {
			size_t kl = (size_t)snprintf(k, sizeof k, "k%04u/b%02u", i,
						     (unsigned)(cc_rnd(&t->rng) % 20));
			rc = lsm_delete(c->db, NULL, k, kl);
		} else {
			size_t kl = (size_t)snprintf(k, sizeof k, "k%04u/b", i);
			size_t k2l = stable_key(k2, i + 1);
			rc = lsm_delete_range(c->db, NULL, k, kl, k2, k2l);
		}
		if (rc != 0) {
			cc_error(c, "writer %d: write failed: %s", t->id, lsm_strerror(rc));
			break;
		}
	}
	return NULL;
}

/* Check one stable key's value: present, well-formed, and not older than
 * what was published before the read began. */
static void cc_check_stable(struct cc_ctx *c, unsigned i, const void *v, size_t vl,
			   uint32_t lo, const char *who)
{
	char k[32];
	size_t kl = stable_key(k, i);
	uint32_t ver;
	if (!val_ok(k, kl, v, vl, &ver)) {
		cc_error(c, "%s: key %s has a wrong value %.*s", who, k, (int)vl, (const char *)v);
		return;
	}
	uint32_t hi = atomic_load_explicit(&c->pub[i], memory_order_acquire);
	if (ver < lo || ver > hi + 1)
		cc_error(c, "%s: key %s has version %" PRIu32 ", expected %" PRIu32 "..%" PRIu32,
			 who, k, ver, lo, hi + 1);
}

static void *cc_reader_main(void *arg)
{
	struct cc_thread *t = arg;
	struct cc_ctx *c = t->c;
	char k[32];
	while (!atomic_load(&c->stop)) {
		unsigned i = (unsigned)(cc_rnd(&t->rng) % CC_KEYS);
		uint32_t lo = atomic_load_explicit(&c->pub[i], memory_order_acquire);
		size_t kl = stable_key(k, i), vl;
		void *v;
		int rc = lsm_get(c->db, NULL, k, kl, &v, &vl);
		if (rc != 0) {
			cc_error(c, "reader: key %s: get -> %s", k, lsm_strerror(rc));
			break;
		}
		cc_check_stable(c, i, v, vl, lo, "reader");
		free(v);
		/* a churn key: absent or well-formed */
		kl = (size_t)snprintf(k, sizeof k, "k%04u/b%02u", i,
				      (unsigned)(cc_rnd(&t->rng) % 20));
		rc = lsm_get(c->db, NULL, k, kl, &v, &vl);
		uint32_t ver;
		if (rc == 0) {
			if (!val_ok(k, kl, v, vl, &ver))
				cc_error(c, "reader: churn key %s has a wrong value", k);
			free(v);
		} else if (rc != LSM_E_NOTFOUND) {
			cc_error(c, "reader: churn key %s: get -> %s", k, lsm_strerror(rc));
		}
	}
	return NULL;
}

/* One full scan with it: every stable key in order, at least as new as
 * lo[]; returns a hash of everything seen (to compare scans of one view). */
static uint64_t cc_scan_with(struct cc_ctx *c, lsm_iter *it, const uint32_t *lo)
{
	uint64_t h = 1469598103934665603u;
	unsigned next = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		for (size_t j = 0; j < kl; j++)
			h = (h ^ (unsigned char)k[j]) * 1099511628211u;
		for (size_t j = 0; j < vl; j++)
			h = (h ^ (unsigned char)v[j]) * 1099511628211u;
		if (kl == 7 && k[5] == '/' && k[6] == 'a') {
			char ek[32];
			stable_key(ek, next);
			if (next >= CC_KEYS || memcmp(k, ek, 7) != 0) {
				cc_error(c, "iterator: found %.*s, expected %s", (int)kl, k,
					 next < CC_KEYS ? ek : "(end)");
				break;
			}
			cc_check_stable(c, next, v, vl, lo[next], "iterator");
			next++;
		} else {
			uint32_t ver;
			if (!val_ok(k, kl, v, vl, &ver)) {
				cc_error(c, "iterator: key %.*s has a wrong value", (int)kl, k);
				break;
			}
		}
	}
	if (lsm_iter_status(it) != 0)
		cc_error(c, "iterator: status %s", lsm_strerror(lsm_iter_status(it)));
	else if (next != CC_KEYS && !atomic_load(&c->stop))
		cc_error(c, "iterator: scan ended after %u stable keys", next);
	return h;
}

static lsm_iter *cc_iter_new(struct cc_ctx *c, const lsm_snapshot *s)
{
	lsm_read_options ro;
	lsm_iter *it = NULL;
	memset(&ro, 0, sizeof ro);
	ro.snapshot = s;
	int rc = lsm_iter_new(c->db, &ro, &it);
	if (rc != 0)
		cc_error(c, "iterator: new -> %s", lsm_strerror(rc));
	return it;
}

static uint64_t cc_scan(struct cc_ctx *c, const lsm_snapshot *s, const uint32_t *lo)
{
	lsm_iter *it = cc_iter_new(c, s);
	if (!it)
		return 0;
	uint64_t h = cc_scan_with(c, it, lo);
	lsm_iter_free(it);
	return h;
}

static void *cc_iter_main(void *arg)
{
	struct cc_thread *t = arg;
	struct cc_ctx *c = t->c;
	uint32_t *lo = malloc(CC_KEYS * sizeof *lo);
	if (!lo) {
		cc_error(c, "iterator: out of memory");
		return NULL;
	}
	while (!atomic_load(&c->stop)) {
		for (unsigned i = 0; i < CC_KEYS; i++)
			lo[i] = atomic_load_explicit(&c->pub[i], memory_order_acquire);
		if (cc_rnd(&t->rng) % 2) {
			cc_scan(c, NULL, lo);
			continue;
		}
		/* A snapshot reads the same before and after the flushes and
		 * compactions that run while it is held: through one iterator
		 * kept open all along (its tables must stay readable after
		 * they left the current version) and through a fresh one. */
		const lsm_snapshot *s = lsm_snapshot_acquire(c->db);
		lsm_iter *it = cc_iter_new(c, s);
		if (!it)
			break;
		uint64_t h1 = cc_scan_with(c, it, lo);
		usleep(10000);
		uint64_t h2 = cc_scan_with(c, it, lo);
		lsm_iter_free(it);
		uint64_t h3 = cc_scan(c, s, lo);
		if (h1 != h2 || h1 != h3)
			cc_error(c, "iterator: three scans of one snapshot differ");
		lsm_snapshot_release(c->db, s);
	}
	free(lo);
	return NULL;
}

static void *cc_maint_main(void *arg)
{
	struct cc_thread *t = arg;
	struct cc_ctx *c = t->c;
	char a[32], b[32];
	while (!atomic_load(&c->stop)) {
		int rc;
		if (cc_rnd(&t->rng) % 4 == 0) {
			/* a manual compaction of a slice: moves its tables down
			 * alone, into levels nothing else reaches yet */
			unsigned i = (unsigned)(cc_rnd(&t->rng) % CC_KEYS);
			size_t al = stable_key(a, i), bl = stable_key(b, i + 40);
			rc = lsm_compact_range(c->db, a, al, b, bl);
		} else {
			rc = lsm_flush(c->db, false);
		}
		if (rc != 0) {
			cc_error(c, "maintenance: %s", lsm_strerror(rc));
			break;
		}
		usleep(3000);
	}
	return NULL;
}

static void test_concurrent_readers_writers(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	struct cc_ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	base_options(&o, env);
	o.compaction_threads = 2;
	o.write_buffer_size = 32 << 10;
	o.l0_compaction_trigger = 2;
	o.l0_slowdown_trigger = 8;
	o.l0_stop_trigger = 16;
	o.level_base_bytes = 64 << 10;
	o.level_multiplier = 4;
	o.target_file_size = 16 << 10;
	o.block_size = 1024;
	pthread_mutex_init(&c->mu, NULL);
	c->db = open_db(&o);
	for (unsigned i = 0; i < CC_KEYS; i++) {
		char k[32], v[200];
		size_t kl = stable_key(k, i), vl = val_of(v, k, kl, 1);
		assert_int_equal(lsm_put(c->db, NULL, k, kl, v, vl), 0);
		atomic_store(&c->pub[i], 1);
	}

	enum { NW = CC_WRITERS, NR = 2, NI = 1, NM = 1, NT = NW + NR + NI + NM };
	pthread_t th[NT];
	struct cc_thread ct[NT];
	for (int i = 0; i < NT; i++) {
		ct[i].c = c;
		ct[i].id = i;
		ct[i].rng = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1);
		void *(*fn)(void *) = i < NW ? cc_writer_main
				     : i < NW + NR ? cc_reader_main
				     : i < NW + NR + NI ? cc_iter_main : cc_maint_main;
		assert_int_equal(pthread_create(&th[i], NULL, fn, &ct[i]), 0);
	}
	for (int i = 0; i < NW; i++)
		pthread_join(th[i], NULL);
	atomic_store(&c->stop, true);
	for (int i = NW; i < NT; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&c->errors))
		fail_msg("%d errors; first: %s", atomic_load(&c->errors), c->first_error);

	lsm_stats st = stats_of(c->db);
	print_message("concurrency: %" PRIu64 " flushes, %" PRIu64 " compactions, %" PRIu64
		      " moves\n", st.flushes, st.compactions, st.trivial_moves);
	assert_true(st.flushes > 0);
	assert_true(st.compactions > 0);
	/* the final state, after a reopen: every stable key at its last version */
	assert_int_equal(lsm_close(c->db), 0);
	c->db = open_db(&o);
	uint32_t *lo = malloc(CC_KEYS * sizeof *lo);
	assert_non_null(lo);
	for (unsigned i = 0; i < CC_KEYS; i++) {
		char k[32];
		void *v;
		size_t vl, kl = stable_key(k, i);
		uint32_t ver;
		lo[i] = atomic_load(&c->pub[i]);
		assert_int_equal(lsm_get(c->db, NULL, k, kl, &v, &vl), 0);
		assert_true(val_ok(k, kl, v, vl, &ver));
		assert_int_equal(ver, lo[i]);
		free(v);
	}
	cc_scan(c, NULL, lo);
	assert_int_equal(atomic_load(&c->errors), 0);
	free(lo);
	assert_int_equal(lsm_close(c->db), 0);
	pthread_mutex_destroy(&c->mu);
	free(c);
	env->destroy(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_tombstone_kept_over_data_below),
		cmocka_unit_test(test_range_tombstone_dropped_when_nothing_below),
		cmocka_unit_test(test_range_tombstone_across_table_cuts),
		cmocka_unit_test(test_trigger_l0_file_count),
		cmocka_unit_test(test_trigger_tombstone_density),
		cmocka_unit_test(test_trigger_cutoff_moved),
		cmocka_unit_test(test_write_stall),
		cmocka_unit_test(test_trivial_move),
		cmocka_unit_test(test_compression_by_level),
		cmocka_unit_test(test_compaction_waits_for_space),
		cmocka_unit_test(test_moved_table_outlives_old_readers),
		cmocka_unit_test(test_concurrent_readers_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
