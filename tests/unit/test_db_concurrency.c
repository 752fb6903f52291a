/*
 * Concurrency test of the engine: 4 writer threads, 4 reader threads, 2
 * iterator threads and a maintenance thread (flushes, manual compactions,
 * snapshots, statistics) on one store with tiny write buffers and levels,
 * so memtable switches, flushes and background compactions run under the
 * readers all the time.
 *
 * What is checked, while everything runs:
 *   - a key whose write completed before a read started is found, with a
 *     value that names the key (every value begins "<key>|");
 *   - the same through a snapshot taken after the write completed;
 *   - an iterator returns keys in strictly increasing order (decreasing
 *     backwards), every value names its key, and a scan of one writer's
 *     keys holds every key that writer had completed before the iterator
 *     was created;
 *   - no call fails.
 * Afterwards the main thread checks every key's final value, reopens the
 * store and checks again.
 *
 * Worker threads never call cmocka asserts: they count failures and keep
 * the first message; the main thread checks after joining.  The test is
 * also meant to run under ThreadSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lsm.h"
#include "test_util.h"

#define NWRITERS 4
#define NREADERS 4
#define NITERS 2
#define WRITER_OPS 2000
#define READER_OPS 2000
#define ITER_SCANS 20
#define MAXKEYS WRITER_OPS

struct shared {
	lsm_db *db;
	/* keys w<w>-<i> for i < done[w] are written and never deleted */
	_Atomic int done[NWRITERS];
	/* the version of each key, written by its writer only */
	int version[NWRITERS][MAXKEYS];
	atomic_int writers_left;
	atomic_long failures;
	atomic_long gets, scans, scan_keys, snaps;
	pthread_mutex_t msg_mu;
	char msg[512];
};

static void failure(struct shared *sh, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void failure(struct shared *sh, const char *fmt, ...)
{
	va_list ap;
	if (atomic_fetch_add(&sh->failures, 1) == 0) {
		pthread_mutex_lock(&sh->msg_mu);
		va_start(ap, fmt);
		vsnprintf(sh->msg, sizeof sh->msg, fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&sh->msg_mu);
	}
}

static uint64_t step(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static void wkey(char *k, int w, int i)
{
	snprintf(k, 16, "w%d-%05d", w, i);
}

/* "<key>|<version>|" then filler up to a length that depends on both. */
static size_t wval(char *v, const char *k, int version)
{
	int n = snprintf(v, 64, "%s|%d|", k, version);
	size_t len = (size_t)n + ((size_t)version * 37 + strlen(k) * 11) % 180;
	for (size_t i = (size_t)n; i < len; i++)
		v[i] = (char)('a' + i % 26);
	return len;
}

/* Does value v name key k? */
static bool names_key(const char *k, size_t kl, const char *v, size_t vl)
{
	return vl > kl && memcmp(v, k, kl) == 0 && v[kl] == '|';
}

/* ---- writers ------------------------------------------------------------------- */

struct warg {
	struct shared *sh;
	int w;
};

static void *writer_main(void *arg)
{
	struct warg *wa = arg;
	struct shared *sh = wa->sh;
	int w = wa->w;
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(w + 1);
	lsm_batch *b = lsm_batch_new();
	char k[16], v[256];
	int next = 0;
	for (int op = 0; op < WRITER_OPS && next < MAXKEYS; op++) {
		uint64_t c = step(&s) % 100;
		lsm_write_options wo = { .sync = c == 99 };
		int rc;
		if (c < 60 || next == 0) {
			/* a new key; visible to readers once the put returned */
			wkey(k, w, next);
			sh->version[w][next] = 1;
			rc = lsm_put(sh->db, &wo, k, strlen(k), v, wval(v, k, 1));
			if (rc == 0)
				atomic_store_explicit(&sh->done[w], ++next, memory_order_release);
		} else if (c < 80) {
			/* overwrite an older key */
			int i = (int)(step(&s) % (uint64_t)next);
			wkey(k, w, i);
			int ver = ++sh->version[w][i];
			rc = lsm_put(sh->db, &wo, k, strlen(k), v, wval(v, k, ver));
		} else if (c < 90) {
			/* a batch: new keys plus churn keys put and deleted */
			int n = 1 + (int)(step(&s) % 8);
			lsm_batch_clear(b);
			rc = 0;
			for (int j = 0; j < n && next + j < MAXKEYS && rc == 0; j++) {
				wkey(k, w, next + j);
				sh->version[w][next + j] = 1;
				rc = lsm_batch_put(b, k, strlen(k), v, wval(v, k, 1));
			}
			char ck[16];
			snprintf(ck, sizeof ck, "x%d-%04d", w, (int)(step(&s) % 1000));
			if (rc == 0)
				rc = lsm_batch_put(b, ck, strlen(ck), v, wval(v, ck, 1));
			snprintf(ck, sizeof ck, "x%d-%04d", w, (int)(step(&s) % 1000));
			if (rc == 0)
				rc = lsm_batch_delete(b, ck, strlen(ck));
			if (rc == 0)
				rc = lsm_write(sh->db, &wo, b);
			if (rc == 0) {
				next += n;
				if (next > MAXKEYS)
					next = MAXKEYS;
				atomic_store_explicit(&sh->done[w], next, memory_order_release);
			}
		} else if (c < 97) {
			/* churn */
			snprintf(k, sizeof k, "x%d-%04d", w, (int)(step(&s) % 1000));
			rc = lsm_put(sh->db, &wo, k, strlen(k), v, wval(v, k, 1));
		} else {
			char lo[16], hi[16];
			int a = (int)(step(&s) % 1000);
			snprintf(lo, sizeof lo, "x%d-%04d", w, a);
			snprintf(hi, sizeof hi, "x%d-%04d", w, a + 50);
			rc = lsm_delete_range(sh->db, &wo, lo, strlen(lo), hi, strlen(hi));
		}
		if (rc) {
			failure(sh, "writer %d op %d: %s (%s)", w, op, lsm_strerror(rc), lsm_errdetail());
			break;
		}
	}
	lsm_batch_free(b);
	atomic_fetch_sub(&sh->writers_left, 1);
	return NULL;
}

/* ---- readers ------------------------------------------------------------------------ */

static void *reader_main(void *arg)
{
	struct warg *wa = arg;
	struct shared *sh = wa->sh;
	uint64_t s = 0xabcdef12345ull * (uint64_t)(wa->w + 7);
	char k[16];
	/* at least READER_OPS reads, and on while writers write */
	for (int op = 0; op < READER_OPS || (atomic_load(&sh->writers_left) > 0 &&
					      op < 5 * READER_OPS);) {
		int w = (int)(step(&s) % NWRITERS);
		int n = atomic_load_explicit(&sh->done[w], memory_order_acquire);
		if (n == 0)
			continue;
		op++;
		/* mostly recent keys: the ones still in memtables */
		int i = step(&s) % 2 ? n - 1 - (int)(step(&s) % (uint64_t)(n < 50 ? n : 50))
				     : (int)(step(&s) % (uint64_t)n);
		wkey(k, w, i);
		const lsm_snapshot *snap = NULL;
		if (step(&s) % 8 == 0) {
			snap = lsm_snapshot_acquire(sh->db);
			atomic_fetch_add(&sh->snaps, 1);
		}
		lsm_read_options ro = { .snapshot = snap, .fill_cache = true };
		void *v;
		size_t vl;
		int rc = lsm_get(sh->db, &ro, k, strlen(k), &v, &vl);
		atomic_fetch_add(&sh->gets, 1);
		if (rc) {
			failure(sh, "reader: get %s (completed before the read%s): %s (%s)", k,
				snap ? ", at a later snapshot" : "", lsm_strerror(rc), lsm_errdetail());
		} else {
			if (!names_key(k, strlen(k), v, vl))
				failure(sh, "reader: get %s returned a value of another key: %.*s", k,
					(int)(vl < 20 ? vl : 20), (char *)v);
			free(v);
		}
		if (snap)
			lsm_snapshot_release(sh->db, snap);
	}
	return NULL;
}

/* ---- iterators ------------------------------------------------------------------------ */

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	return c ? c : (al > bl) - (al < bl);
}

static void *iter_main(void *arg)
{
	struct warg *wa = arg;
	struct shared *sh = wa->sh;
	uint64_t s = 0x5555aaaa1234ull * (uint64_t)(wa->w + 3);
	char prev[32];
	size_t prevl;
	for (int scan = 0; scan < ITER_SCANS || (atomic_load(&sh->writers_left) > 0 &&
						 scan < 5 * ITER_SCANS); scan++) {
		int w = (int)(step(&s) % NWRITERS);
		int n0 = atomic_load_explicit(&sh->done[w], memory_order_acquire);
		char lo[16], hi[16];
		lsm_read_options ro = { .fill_cache = step(&s) % 2 == 0 };
		bool own = step(&s) % 2;	/* one writer's keys, or everything */
		if (own) {
			snprintf(lo, sizeof lo, "w%d-", w);
			snprintf(hi, sizeof hi, "w%d.", w);
			ro.lower = lo;
			ro.lower_len = strlen(lo);
			ro.upper = hi;
			ro.upper_len = strlen(hi);
		}
		lsm_iter *it;
		int rc = lsm_iter_new(sh->db, &ro, &it);
		if (rc) {
			failure(sh, "iter_new: %s (%s)", lsm_strerror(rc), lsm_errdetail());
			continue;
		}
		bool back = step(&s) % 3 == 0;
		int count = 0;
		prevl = 0;
		if (back)
			lsm_iter_seek_last(it);
		else
			lsm_iter_seek_first(it);
		for (; lsm_iter_valid(it); back ? lsm_iter_prev(it) : lsm_iter_next(it)) {
			size_t kl, vl;
			const char *k = lsm_iter_key(it, &kl);
			const char *v = lsm_iter_value(it, &vl);
			if (count > 0) {
				int c = key_cmp(prev, prevl, k, kl);
				if (back ? c <= 0 : c >= 0) {
					failure(sh, "iterator: %.*s after %.*s going %s", (int)kl, k,
						(int)prevl, prev, back ? "backward" : "forward");
					break;
				}
			}
			if (!names_key(k, kl, v, vl)) {
				failure(sh, "iterator: %.*s has a value of another key", (int)kl, k);
				break;
			}
			if (kl >= sizeof prev) {
				failure(sh, "iterator: unexpected key of %zu bytes", kl);
				break;
			}
			memcpy(prev, k, kl);
			prevl = kl;
			count++;
			if (!own && count >= 3000)
				break;	/* a long stretch of everything is enough */
		}
		rc = lsm_iter_status(it);
		if (rc)
			failure(sh, "iterator status: %s (%s)", lsm_strerror(rc), lsm_errdetail());
		/* no key of this writer is ever deleted: all n0 are there */
		if (own && count < n0)
			failure(sh, "iterator over w%d: %d keys, but %d were written before it was created",
				w, count, n0);
		lsm_iter_free(it);
		atomic_fetch_add(&sh->scans, 1);
		atomic_fetch_add(&sh->scan_keys, count);
	}
	return NULL;
}

/* ---- maintenance ------------------------------------------------------------------------- */

static void *maint_main(void *arg)
{
	struct shared *sh = arg;
	uint64_t s = 42;
	while (atomic_load(&sh->writers_left) > 0) {
		int rc = 0;
		switch (step(&s) % 4) {
		case 0:
			rc = lsm_flush(sh->db, step(&s) % 2);
			break;
		case 1: {
			char lo[16], hi[16];
			int w = (int)(step(&s) % NWRITERS);
			snprintf(lo, sizeof lo, "w%d-", w);
			snprintf(hi, sizeof hi, "w%d-%05d", w, (int)(step(&s) % MAXKEYS));
			rc = lsm_compact_range(sh->db, lo, strlen(lo), hi, strlen(hi));
			break;
		}
		case 2: {
			lsm_stats st;
			rc = lsm_get_stats(sh->db, &st);
			if (rc == 0 && st.background_error)
				rc = st.background_error;
			if (lsm_oldest_pinned_seq(sh->db) > lsm_last_seq(sh->db))
				failure(sh, "oldest pinned seq beyond last seq");
			break;
		}
		default: {
			/* a snapshot held across writes must not change */
			const lsm_snapshot *snap = lsm_snapshot_acquire(sh->db);
			int w = (int)(step(&s) % NWRITERS);
			int n = atomic_load_explicit(&sh->done[w], memory_order_acquire);
			if (n > 0) {
				char k[16];
				lsm_read_options ro = { .snapshot = snap };
				void *v1, *v2;
				size_t l1, l2;
				wkey(k, w, n - 1);
				rc = lsm_get(sh->db, &ro, k, strlen(k), &v1, &l1);
				if (rc == 0) {
					lsm_flush(sh->db, false);
					rc = lsm_get(sh->db, &ro, k, strlen(k), &v2, &l2);
					if (rc == 0 && (l1 != l2 || memcmp(v1, v2, l1) != 0))
						failure(sh, "snapshot read of %s changed", k);
					if (rc == 0)
						free(v2);
					free(v1);
				}
			}
			lsm_snapshot_release(sh->db, snap);
			break;
		}
		}
		if (rc) {
			failure(sh, "maintenance: %s (%s)", lsm_strerror(rc), lsm_errdetail());
			break;
		}
	}
	return NULL;
}

/* ---- the test -------------------------------------------------------------------------------- */

static void check_final(struct shared *sh)
{
	char k[16], v[256];
	for (int w = 0; w < NWRITERS; w++) {
		int n = atomic_load(&sh->done[w]);
		for (int i = 0; i < n; i++) {
			void *got;
			size_t gl;
			wkey(k, w, i);
			size_t want = wval(v, k, sh->version[w][i]);
			int rc = lsm_get(sh->db, NULL, k, strlen(k), &got, &gl);
			if (rc)
				fail_msg("final get %s: %s (%s)", k, lsm_strerror(rc), lsm_errdetail());
			if (gl != want || memcmp(got, v, gl) != 0)
				fail_msg("final get %s: not the last version %d", k, sh->version[w][i]);
			free(got);
		}
	}
}

static void test_concurrent(void **state)
{
	(void)state;
	struct shared *sh = calloc(1, sizeof *sh);
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	pthread_t wt[NWRITERS], rt[NREADERS], it[NITERS], mt;
	struct warg wa[NWRITERS], ra[NREADERS], ia[NITERS];

	assert_non_null(sh);
	assert_non_null(env);
	pthread_mutex_init(&sh->msg_mu, NULL);
	lsm_options_init(&o);
	o.env = env;
	o.create_if_missing = true;
	o.write_buffer_size = 32u << 10;
	o.target_file_size = 32u << 10;
	o.level_base_bytes = 128u << 10;
	o.level_multiplier = 4;
	o.num_levels = 5;
	o.l0_compaction_trigger = 2;
	o.compaction_threads = 2;
	o.block_size = 1024;
	o.block_cache_size = 256u << 10;
	assert_int_equal(lsm_open("/conc", &o, &sh->db), 0);
	atomic_store(&sh->writers_left, NWRITERS);

	for (int i = 0; i < NWRITERS; i++) {
		wa[i] = (struct warg){ sh, i };
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &wa[i]), 0);
	}
	for (int i = 0; i < NREADERS; i++) {
		ra[i] = (struct warg){ sh, i };
		assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &ra[i]), 0);
	}
	for (int i = 0; i < NITERS; i++) {
		ia[i] = (struct warg){ sh, i };
		assert_int_equal(pthread_create(&it[i], NULL, iter_main, &ia[i]), 0);
	}
	assert_int_equal(pthread_create(&mt, NULL, maint_main, sh), 0);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(rt[i], NULL);
	for (int i = 0; i < NITERS; i++)
		pthread_join(it[i], NULL);
	pthread_join(mt, NULL);

	if (atomic_load(&sh->failures))
		fail_msg("%ld failures; the first: %s", atomic_load(&sh->failures), sh->msg);
	lsm_stats st;
	assert_int_equal(lsm_get_stats(sh->db, &st), 0);
	print_message("  %ld gets (%ld at snapshots), %ld scans (%ld keys); %llu flushes, "
		      "%llu compactions, %llu moves, %llu stalls\n",
		      atomic_load(&sh->gets), atomic_load(&sh->snaps), atomic_load(&sh->scans),
		      atomic_load(&sh->scan_keys), (unsigned long long)st.flushes,
		      (unsigned long long)st.compactions, (unsigned long long)st.trivial_moves,
		      (unsigned long long)st.write_stalls);
	assert_int_equal(st.background_error, 0);
	assert_true(st.flushes >= 10);
	assert_true(st.compactions + st.trivial_moves >= 3);
	assert_int_equal(st.snapshots, 0);
	check_final(sh);
	assert_int_equal(lsm_close(sh->db), 0);
	assert_int_equal(lsm_open("/conc", &o, &sh->db), 0);
	check_final(sh);
	assert_int_equal(lsm_close(sh->db), 0);
	pthread_mutex_destroy(&sh->msg_mu);
	env->destroy(env);
	free(sh);
}

static void test_concurrent_writers_sync_and_flush(void **state)
{
	/* writers mixing sync and non-sync writes in one group commit, with
	 * lsm_sync and lsm_flush from other threads: every acknowledged write
	 * is readable, and a flush that returned has emptied the memtable of
	 * everything written before it */
	(void)state;
	struct shared *sh = calloc(1, sizeof *sh);
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	pthread_t wt[NWRITERS];
	struct warg wa[NWRITERS];
	assert_non_null(sh);
	pthread_mutex_init(&sh->msg_mu, NULL);
	lsm_options_init(&o);
	o.env = env;
	o.create_if_missing = true;
	o.write_buffer_size = 1u << 20;	/* only explicit flushes */
	o.disable_auto_compaction = true;
	assert_int_equal(lsm_open("/conc2", &o, &sh->db), 0);
	atomic_store(&sh->writers_left, NWRITERS);
	for (int i = 0; i < NWRITERS; i++) {
		wa[i] = (struct warg){ sh, i };
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &wa[i]), 0);
	}
	int flushes = 0;
	while (atomic_load(&sh->writers_left) > 0) {
		lsm_stats before, after;
		assert_int_equal(lsm_get_stats(sh->db, &before), 0);
		assert_int_equal(lsm_sync(sh->db), 0);
		assert_int_equal(lsm_flush(sh->db, true), 0);
		assert_int_equal(lsm_get_stats(sh->db, &after), 0);
		/* every write before the flush (one sequence per entry) is now
		 * in a level-0 table: nothing compacts them away here */
		uint64_t in_tables = after.level[0].entries + after.level[0].range_tombstones;
		if (in_tables < before.last_seq)
			fail_msg("lsm_flush(wait) returned with writes left in memtables: "
				 "%llu entries in tables, %llu written before the flush",
				 (unsigned long long)in_tables, (unsigned long long)before.last_seq);
		flushes++;
	}
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(wt[i], NULL);
	if (atomic_load(&sh->failures))
		fail_msg("%ld failures; the first: %s", atomic_load(&sh->failures), sh->msg);
	assert_true(flushes > 0);
	print_message("  %d flush rounds while writing\n", flushes);
	check_final(sh);
	assert_int_equal(lsm_close(sh->db), 0);
	pthread_mutex_destroy(&sh->msg_mu);
	env->destroy(env);
	free(sh);
}


struct farg {
	lsm_db *db;
	int id;
	atomic_bool *stop;
	atomic_long *errors;
};

static void *small_writer(void *arg)
{
	struct farg *fa = arg;
	char k[32];
	for (long i = 0; !atomic_load(fa->stop); i++) {
		snprintf(k, sizeof k, "f%d-%08ld", fa->id, i);
		/* sync writes keep the queue long: the flush request often
		 * arrives behind several writers */
		lsm_write_options wo = { .sync = (i & 3) == 0 };
		if (lsm_put(fa->db, &wo, k, strlen(k), "v", 1) != 0)
			atomic_fetch_add(fa->errors, 1);
	}
	return NULL;
}

static void test_flush_among_writers(void **state)
{
	/* lsm_flush(db, true) asked while other threads write: when it
	 * returns, everything written before the call is in a table, even
	 * when the request was queued behind writers' group commits (over
	 * posix, where syncs are slow enough for queues to form) */
	(void)state;
	char root[] = "/tmp/lsm_test_db_conc_XXXXXX";
	char path[64];
	lsm_options o;
	lsm_db *db;
	pthread_t t[NWRITERS];
	struct farg fa[NWRITERS];
	atomic_bool stop = false;
	atomic_long errors = 0;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof path, "%s/db", root);
	lsm_options_init(&o);
	o.create_if_missing = true;
	o.write_buffer_size = 4u << 20;
	o.disable_auto_compaction = true;
	o.l0_slowdown_trigger = 1000;
	o.l0_stop_trigger = 1000;
	assert_int_equal(lsm_open(path, &o, &db), 0);
	for (int i = 0; i < NWRITERS; i++) {
		fa[i] = (struct farg){ db, i, &stop, &errors };
		assert_int_equal(pthread_create(&t[i], NULL, small_writer, &fa[i]), 0);
	}
	int bad = 0, rounds = 200;
	uint64_t bad_have = 0, bad_want = 0;
	for (int r = 0; r < rounds; r++) {
		lsm_stats before, after;
		assert_int_equal(lsm_get_stats(db, &before), 0);
		assert_int_equal(lsm_flush(db, true), 0);
		assert_int_equal(lsm_get_stats(db, &after), 0);
		if (after.level[0].entries < before.last_seq) {
			if (!bad++) {
				bad_have = after.level[0].entries;
				bad_want = before.last_seq;
			}
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&errors), 0);
	assert_int_equal(lsm_close(db), 0);
	rm_tree(root);
	if (bad)
		fail_msg("%d of %d lsm_flush(wait) calls returned with earlier writes still in "
			 "memtables (first: %llu entries in tables, %llu written before)",
			 bad, rounds, (unsigned long long)bad_have, (unsigned long long)bad_want);
}

struct cwarg {
	lsm_db *db;
	int id;
	atomic_bool *stop;
	atomic_long *errors;
	long acked;		/* puts that returned 0: keys c<id>-0 .. acked-1 */
};

static void *counting_writer(void *arg)
{
	struct cwarg *ca = arg;
	char k[32];
	for (long i = 0; !atomic_load(ca->stop); i++) {
		lsm_write_options wo = { .sync = (i & 7) == 0 };
		snprintf(k, sizeof k, "c%d-%08ld", ca->id, i);
		if (lsm_put(ca->db, &wo, k, strlen(k), k, strlen(k)) != 0) {
			atomic_fetch_add(ca->errors, 1);
			break;
		}
		ca->acked = i + 1;
	}
	return NULL;
}

static void test_ingest_among_writers(void **state)
{
	/* lsm_ingest takes write leadership while writers commit in groups:
	 * every write acknowledged to a writer is in the store afterwards,
	 * and every ingested key too */
	(void)state;
	char root[] = "/tmp/lsm_test_db_ingest_XXXXXX";
	char dbp[64];
	lsm_options o;
	lsm_db *db;
	pthread_t t[NWRITERS];
	struct cwarg ca[NWRITERS];
	atomic_bool stop = false;
	atomic_long errors = 0;
	const int nfiles = 30, nkeys = 50;
	/* posix: slow syncs make writers queue up behind each other */
	assert_non_null(mkdtemp(root));
	snprintf(dbp, sizeof dbp, "%s/db", root);
	lsm_options_init(&o);
	o.create_if_missing = true;
	o.write_buffer_size = 64u << 10;
	assert_int_equal(lsm_open(dbp, &o, &db), 0);
	for (int i = 0; i < NWRITERS; i++) {
		ca[i] = (struct cwarg){ db, i, &stop, &errors, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, counting_writer, &ca[i]), 0);
	}
	for (int f = 0; f < nfiles; f++) {
		char path[96], k[32];
		lsm_sst_writer *w;
		snprintf(path, sizeof path, "%s/ext-%03d.sst", root, f);
		assert_int_equal(lsm_sst_writer_open(&o, path, &w), 0);
		for (int i = 0; i < nkeys; i++) {
			snprintf(k, sizeof k, "i%03d-%04d", f, i);
			assert_int_equal(lsm_sst_writer_put(w, k, strlen(k), k, strlen(k)), 0);
		}
		assert_int_equal(lsm_sst_writer_finish(w), 0);
		const char *paths[1] = { path };
		int rc = lsm_ingest(db, paths, 1, NULL, 0, NULL, 0);
		if (rc)
			fail_msg("ingest %s: %s (%s)", path, lsm_strerror(rc), lsm_errdetail());
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&errors), 0);
	for (int pass = 0; pass < 2; pass++) {
		char k[32];
		void *v;
		size_t vl;
		for (int w = 0; w < NWRITERS; w++)
			for (long i = 0; i < ca[w].acked; i++) {
				snprintf(k, sizeof k, "c%d-%08ld", w, i);
				int rc = lsm_get(db, NULL, k, strlen(k), &v, &vl);
				if (rc)
					fail_msg("pass %d: acknowledged write %s (of %ld) is missing: %s",
						 pass, k, ca[w].acked, lsm_strerror(rc));
				assert_int_equal(vl, strlen(k));
				assert_memory_equal(v, k, vl);
				free(v);
			}
		for (int f = 0; f < nfiles; f++)
			for (int i = 0; i < nkeys; i++) {
				snprintf(k, sizeof k, "i%03d-%04d", f, i);
				int rc = lsm_get(db, NULL, k, strlen(k), &v, &vl);
				if (rc)
					fail_msg("pass %d: ingested %s is missing: %s", pass, k,
						 lsm_strerror(rc));
				free(v);
			}
		assert_int_equal(lsm_close(db), 0);
		if (pass == 0)
			assert_int_equal(lsm_open(dbp, &o, &db), 0);
	}
	rm_tree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_concurrent_writers_sync_and_flush),
		cmocka_unit_test(test_flush_among_writers),
		cmocka_unit_test(test_ingest_among_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
