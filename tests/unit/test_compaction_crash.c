/*
 * Crash tests for compaction (compact.c): the process dies right after each
 * sync a full manual compaction makes, the power is cut (everything not
 * durable is lost), and the store is reopened.
 *
 * Method (the fault env of lsm.h over the in-memory env): build a store
 * deterministically with auto compaction off (values at the bottom, then
 * overwrites, point and range deletions in L0), close it, and count the
 * syncs of lsm_compact_range(NULL..NULL) on it.  Then for every sync point
 * k: rebuild the same store in a fresh env, arm crash_after_sync(k), run
 * the compaction, close, cut the power, reopen, and check:
 *   - every key reads as the model says (nothing lost, nothing deleted
 *     comes back), by point reads and by a scan;
 *   - no table leaked: the *.sst files in the directory are exactly as
 *     many as the live tables the stats count per level;
 *   - the recovered store compacts again and still reads right.
 *
 * The second test sweeps the same crash points over a background job (the
 * L0 trigger firing at open) instead of lsm_compact_range.
 *
 * Threads: single-threaded; the engine's background threads run inside.
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
#define NKEYS 1800

static size_t key_of(char *buf, unsigned i)
{
	return (size_t)snprintf(buf, 16, "k%06u", i);
}

/* Value of key i at version ver; length and bytes depend on both. */
static size_t val_of(char *buf, unsigned i, uint32_t ver)
{
	size_t n = (size_t)snprintf(buf, 160, "%06u:%08" PRIu32 ":", i, ver);
	size_t len = 40 + (i * 7u + ver * 13u) % 100u;
	for (size_t j = n; j < len; j++)
		buf[j] = (char)('a' + (i * 3u + ver + j) % 26u);
	return len;
}

static void options(lsm_options *o, lsm_env *env)
{
	lsm_options_init(o);
	o->env = env;
	o->create_if_missing = true;
	o->disable_auto_compaction = true;	/* only the compaction under test */
	o->compression = 0;
	o->target_file_size = 8 << 10;	/* several output tables per level */
	o->write_buffer_size = 256 << 10;
}

/* Options for the background compaction test: the two L0 tables of
 * build() make the L0 trigger fire at open, and nothing else is due (the
 * dead-share triggers are off, or the L1 tables, 30% tombstones, would be
 * carried down job after job), so the sync sequence is the same each run. */
static void auto_options(lsm_options *o, lsm_env *env)
{
	options(o, env);
	o->disable_auto_compaction = false;
	o->l0_compaction_trigger = 2;
	o->level_base_bytes = 1 << 30;
	o->tombstone_density = 2.0;
	o->emergency_dead_ratio = 2.0;
}

static lsm_db *open_db(lsm_env *env)
{
	lsm_options o;
	lsm_db *db = NULL;
	options(&o, env);
	int rc = lsm_open(DBPATH, &o, &db);
	if (rc != 0)
		print_error("lsm_open: %s (%s)\n", lsm_strerror(rc), lsm_errdetail());
	assert_int_equal(rc, 0);
	return db;
}

static void put(lsm_db *db, unsigned i, uint32_t ver, uint32_t *model)
{
	char k[16], v[160];
	size_t kl = key_of(k, i), vl = val_of(v, i, ver);
	assert_int_equal(lsm_put(db, NULL, k, kl, v, vl), 0);
	model[i] = ver;
}

/* The store under test, the same every time: values at the bottom (several
 * tables), overwrites and deletions in two L0 tables above them. */
static void build(lsm_env *env, uint32_t *model)
{
	lsm_db *db = open_db(env);
	char a[16], b[16];
	memset(model, 0, NKEYS * sizeof *model);
	for (unsigned i = 0; i < 1500; i++)
		put(db, i, 1, model);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	for (unsigned i = 0; i < 1500; i += 3)
		put(db, i, 2, model);
	for (unsigned i = 0; i < 1500; i += 7) {
		size_t kl = key_of(a, i);
		assert_int_equal(lsm_delete(db, NULL, a, kl), 0);
		model[i] = 0;
	}
	size_t al = key_of(a, 600), bl = key_of(b, 700);
	assert_int_equal(lsm_delete_range(db, NULL, a, al, b, bl), 0);
	for (unsigned i = 600; i < 700; i++)
		model[i] = 0;
	assert_int_equal(lsm_flush(db, true), 0);
	for (unsigned i = 1500; i < NKEYS; i++)
		put(db, i, 1, model);
	put(db, 650, 3, model);
	put(db, 1400, 3, model);
	assert_int_equal(lsm_flush(db, true), 0);
	lsm_stats st;
	assert_int_equal(lsm_get_stats(db, &st), 0);
	assert_int_equal(st.level[0].tables, 2);
	assert_true(st.level[st.num_levels - 1].tables > 1);
	assert_int_equal(lsm_close(db), 0);
}

/* Every key as the model says, by point reads and by a scan. */
static void verify(lsm_db *db, const uint32_t *model, uint64_t k)
{
	char key[16], v[160];
	unsigned live = 0;
	for (unsigned i = 0; i < NKEYS; i++) {
		void *got;
		size_t gl, kl = key_of(key, i);
		int rc = lsm_get(db, NULL, key, kl, &got, &gl);
		if (model[i] == 0) {
			if (rc != LSM_E_NOTFOUND)
				fail_msg("crash at sync %" PRIu64 ": deleted key %s reads %d", k, key, rc);
		} else {
			size_t vl = val_of(v, i, model[i]);
			if (rc != 0 || gl != vl || memcmp(got, v, vl) != 0)
				fail_msg("crash at sync %" PRIu64 ": key %s: get -> %d, %.*s (expected "
					 "version %" PRIu32 ")", k, key, rc, rc ? 0 : (int)gl,
					 rc ? "" : (char *)got, model[i]);
			live++;
		}
		if (rc == 0)
			free(got);
	}
	lsm_iter *it;
	unsigned n = 0;
	assert_int_equal(lsm_iter_new(db, NULL, &it), 0);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	if (n != live)
		fail_msg("crash at sync %" PRIu64 ": scan finds %u keys, expected %u", k, n, live);
}

/* The *.sst files in the directory are exactly the live tables. */
static void verify_no_leak(lsm_env *env, lsm_db *db, uint64_t k)
{
	char **names;
	size_t n, ssts = 0;
	lsm_stats st;
	assert_int_equal(env->list(env, DBPATH, &names, &n), 0);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (l > 4 && strcmp(names[i] + l - 4, ".sst") == 0)
			ssts++;
	}
	lsm_env_free_list(names, n);
	assert_int_equal(lsm_get_stats(db, &st), 0);
	uint64_t live = 0;
	for (int l = 0; l < st.num_levels; l++)
		live += st.level[l].tables;
	if (ssts != live)
		fail_msg("crash at sync %" PRIu64 ": %zu .sst files, %" PRIu64 " live tables", k,
			 ssts, live);
}

static void test_crash_at_every_compaction_sync(void **state)
{
	(void)state;
	uint32_t model[NKEYS], model2[NKEYS];

	/* how many syncs does the compaction make? */
	lsm_env *base = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(base);
	build(env, model);
	lsm_db *db = open_db(env);
	uint64_t before = lsm_env_fault_count(env, LSM_FAULT_SYNC);
	assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	uint64_t syncs = lsm_env_fault_count(env, LSM_FAULT_SYNC) - before;
	verify(db, model, 0);
	verify_no_leak(env, db, 0);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	base->destroy(base);
	print_message("full compaction: %" PRIu64 " syncs\n", syncs);
	assert_true(syncs >= 3);	/* output tables, manifest, ... */

	for (uint64_t k = 1; k <= syncs; k++) {
		base = lsm_env_mem_new();
		env = lsm_env_fault_new(base);
		build(env, model2);
		assert_memory_equal(model, model2, sizeof model);	/* the same store */
		db = open_db(env);
		lsm_env_fault_crash_after_sync(env, k);
		int rc = lsm_compact_range(db, NULL, 0, NULL, 0);
		(void)rc;	/* fails, or succeeds if the crash came last */
		lsm_close(db);	/* fails too: the process is dead */
		assert_true(lsm_env_fault_crashed(env));
		assert_int_equal(lsm_env_fault_power_cut(env), 0);

		db = open_db(env);
		verify(db, model, k);
		verify_no_leak(env, db, k);
		/* the recovered store works: compact it (again) */
		assert_int_equal(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
		verify(db, model, k);
		verify_no_leak(env, db, k);
		assert_int_equal(lsm_close(db), 0);
		db = open_db(env);
		verify(db, model, k);
		verify_no_leak(env, db, k);
		assert_int_equal(lsm_close(db), 0);
		env->destroy(env);
		base->destroy(base);
	}
}

/* Poll (at most 10 s) until L0 is empty and no job runs, or the env has
 * crashed.  True when settled. */
static bool settle(lsm_db *db, lsm_env *env)
{
	for (int t = 0; t < 1000; t++) {
		lsm_stats st;
		if (env && lsm_env_fault_crashed(env))
			return false;
		assert_int_equal(lsm_get_stats(db, &st), 0);
		if (st.background_error)
			return false;
		if (st.level[0].tables == 0 && st.compactions_running == 0)
			return true;
		usleep(10000);
	}
	fail_msg("background compaction neither finished nor failed within 10 s");
	return false;
}

/*
 * The same sweep over a background job: open with auto compaction on, and
 * the L0 trigger starts an L0 -> L1 compaction on a worker thread (its own
 * code path: worker, install, discard of partial outputs).  The crash
 * points are every sync from the open to the end of that job.
 */
static void test_crash_at_every_background_compaction_sync(void **state)
{
	(void)state;
	uint32_t model[NKEYS], model2[NKEYS];
	lsm_options o;

	lsm_env *base = lsm_env_mem_new();
	lsm_env *env = lsm_env_fault_new(base);
	build(env, model);
	uint64_t before = lsm_env_fault_count(env, LSM_FAULT_SYNC);
	lsm_db *db = NULL;
	auto_options(&o, env);
	assert_int_equal(lsm_open(DBPATH, &o, &db), 0);
	assert_true(settle(db, NULL));
	uint64_t syncs = lsm_env_fault_count(env, LSM_FAULT_SYNC) - before;
	lsm_stats st;
	assert_int_equal(lsm_get_stats(db, &st), 0);
	assert_int_equal(st.compactions, 1);
	assert_true(st.level[1].tables > 1);
	verify(db, model, 0);
	assert_int_equal(lsm_close(db), 0);
	/* (obsolete files go after the job is counted as finished: look for
	 * leaks once the store is closed and reopened) */
	db = open_db(env);
	verify_no_leak(env, db, 0);
	assert_int_equal(lsm_close(db), 0);
	env->destroy(env);
	base->destroy(base);
	print_message("open + background compaction: %" PRIu64 " syncs\n", syncs);
	assert_true(syncs >= 3);

	for (uint64_t k = 1; k <= syncs; k++) {
		base = lsm_env_mem_new();
		env = lsm_env_fault_new(base);
		build(env, model2);
		assert_memory_equal(model, model2, sizeof model);
		lsm_env_fault_crash_after_sync(env, k);
		auto_options(&o, env);
		db = NULL;
		if (lsm_open(DBPATH, &o, &db) == 0) {
			settle(db, env);
			lsm_close(db);
		}
		assert_true(lsm_env_fault_crashed(env));
		assert_int_equal(lsm_env_fault_power_cut(env), 0);

		db = open_db(env);	/* auto compaction off: as recovered */
		verify(db, model, k);
		verify_no_leak(env, db, k);
		assert_int_equal(lsm_close(db), 0);
		/* and the interrupted work completes */
		assert_int_equal(lsm_open(DBPATH, &o, &db), 0);
		assert_true(settle(db, env));
		verify(db, model, k);
		assert_int_equal(lsm_close(db), 0);
		db = open_db(env);
		verify(db, model, k);
		verify_no_leak(env, db, k);
		assert_int_equal(lsm_close(db), 0);
		env->destroy(env);
		base->destroy(base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_at_every_compaction_sync),
		cmocka_unit_test(test_crash_at_every_background_compaction_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
