/* Tests for ingest.c: external tables, placement, sequence shadowing, and
 * the atomic excise of a key range; and for check.c: the engine checker
 * and its repairs. */
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

#define OK(x) do { int r_ = (x); if (r_ < 0) fail_msg("%s: %s (%s)", #x, lsm_strerror(r_), lsm_errdetail()); } while (0)

static lsm_env *env;
static lsm_options opt;

static int setup(void **state)
{
	(void)state;
	env = lsm_env_mem_new();
	lsm_options_init(&opt);
	opt.env = env;
	opt.create_if_missing = true;
	opt.write_buffer_size = 64 << 10;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	env->destroy(env);
	return 0;
}

static void build_sst(const char *path, int from, int to, const char *tag)
{
	lsm_sst_writer *w;
	char k[32], v[32];
	OK(lsm_sst_writer_open(&opt, path, &w));
	for (int i = from; i < to; i++) {
		int kn = snprintf(k, sizeof k, "k%06d", i);
		int vn = snprintf(v, sizeof v, "%s%d", tag, i);
		OK(lsm_sst_writer_put(w, k, (size_t)kn, v, (size_t)vn));
	}
	OK(lsm_sst_writer_finish(w));
}

static int getv(lsm_db *db, int i, char *out, size_t outlen)
{
	char k[32];
	void *v;
	size_t vl;
	int kn = snprintf(k, sizeof k, "k%06d", i);
	int rc = lsm_get(db, NULL, k, (size_t)kn, &v, &vl);
	if (rc == 0) {
		snprintf(out, outlen, "%.*s", (int)vl, (char *)v);
		free(v);
	}
	return rc;
}

static void test_writer_order(void **state)
{
	(void)state;
	lsm_sst_writer *w;
	OK(lsm_sst_writer_open(&opt, "/ext/o.sst", &w));
	OK(lsm_sst_writer_put(w, "b", 1, "1", 1));
	assert_int_equal(lsm_sst_writer_put(w, "a", 1, "1", 1), LSM_E_INVALID);
	assert_int_equal(lsm_sst_writer_put(w, "b", 1, "1", 1), LSM_E_INVALID);
	lsm_sst_writer_abandon(w);
	uint64_t sz;
	assert_int_equal(env->size(env, "/ext/o.sst", &sz), -ENOENT);
}

static void test_ingest_empty_store(void **state)
{
	(void)state;
	lsm_db *db;
	char buf[64];
	lsm_stats st;
	build_sst("/ext/a.sst", 0, 1000, "a");
	OK(lsm_open("/db1", &opt, &db));
	const char *paths[] = { "/ext/a.sst" };
	OK(lsm_ingest(db, paths, 1, NULL, 0, NULL, 0));
	OK(lsm_get_stats(db, &st));
	/* nothing overlapped: the table sits in the last level, unrewritten */
	assert_int_equal(st.level[st.num_levels - 1].tables, 1);
	assert_int_equal(st.level[st.num_levels - 1].entries, 1000);
	assert_int_equal(st.compaction_bytes_written, 0);
	OK(getv(db, 500, buf, sizeof buf));
	assert_string_equal(buf, "a500");
	OK(lsm_close(db));
	OK(lsm_open("/db1", &opt, &db));
	OK(getv(db, 999, buf, sizeof buf));
	assert_string_equal(buf, "a999");
	OK(lsm_close(db));
}

static void test_ingest_shadows_existing(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_write_options wo = {0};
	char buf[64];
	OK(lsm_open("/db2", &opt, &db));
	/* older data in the memtable and in tables */
	for (int i = 0; i < 2000; i++) {
		char k[32];
		int kn = snprintf(k, sizeof k, "k%06d", i);
		OK(lsm_put(db, &wo, k, (size_t)kn, "old", 3));
	}
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	build_sst("/ext/b.sst", 500, 1500, "new");
	const char *paths[] = { "/ext/b.sst" };
	OK(lsm_ingest(db, paths, 1, NULL, 0, NULL, 0));
	OK(getv(db, 499, buf, sizeof buf));
	assert_string_equal(buf, "old");
	OK(getv(db, 500, buf, sizeof buf));
	assert_string_equal(buf, "new500");
	OK(getv(db, 1499, buf, sizeof buf));
	assert_string_equal(buf, "new1499");
	/* the snapshot still sees the old values */
	lsm_read_options ro = { .snapshot = snap };
	void *v;
	size_t vl;
	OK(lsm_get(db, &ro, "k000700", 7, &v, &vl));
	assert_memory_equal(v, "old", 3);
	free(v);
	/* later writes win over the ingested ones */
	OK(lsm_put(db, &wo, "k000600", 7, "later", 5));
	OK(getv(db, 600, buf, sizeof buf));
	assert_string_equal(buf, "later");
	lsm_snapshot_release(db, snap);
	OK(lsm_compact_range(db, NULL, 0, NULL, 0));
	OK(getv(db, 600, buf, sizeof buf));
	assert_string_equal(buf, "later");
	OK(getv(db, 601, buf, sizeof buf));
	assert_string_equal(buf, "new601");
	OK(lsm_close(db));
}

static void test_ingest_with_excise(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_write_options wo = {0};
	char buf[64];
	OK(lsm_open("/db3", &opt, &db));
	for (int i = 0; i < 3000; i++) {
		char k[32];
		int kn = snprintf(k, sizeof k, "k%06d", i);
		OK(lsm_put(db, &wo, k, (size_t)kn, "old", 3));
	}
	OK(lsm_flush(db, true));
	OK(lsm_compact_range(db, NULL, 0, NULL, 0));
	for (int i = 1000; i < 1100; i++) {	/* some still in the memtable */
		char k[32];
		int kn = snprintf(k, sizeof k, "k%06d", i);
		OK(lsm_put(db, &wo, k, (size_t)kn, "mem", 3));
	}
	/* replace [k001000, k002000) by a table holding only 1200..1300 */
	build_sst("/ext/c.sst", 1200, 1300, "x");
	const char *paths[] = { "/ext/c.sst" };
	OK(lsm_ingest(db, paths, 1, "k001000", 7, "k002000", 7));
	assert_int_equal(getv(db, 1000, buf, sizeof buf), LSM_E_NOTFOUND);
	assert_int_equal(getv(db, 1050, buf, sizeof buf), LSM_E_NOTFOUND);
	assert_int_equal(getv(db, 1999, buf, sizeof buf), LSM_E_NOTFOUND);
	OK(getv(db, 1250, buf, sizeof buf));
	assert_string_equal(buf, "x1250");
	OK(getv(db, 999, buf, sizeof buf));
	assert_string_equal(buf, "old");
	OK(getv(db, 2000, buf, sizeof buf));
	assert_string_equal(buf, "old");
	/* iteration agrees */
	lsm_iter *it;
	int n = 0;
	OK(lsm_iter_new(db, NULL, &it));
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	OK(lsm_iter_status(it));
	lsm_iter_free(it);
	assert_int_equal(n, 2000 + 100);
	/* and survives a reopen */
	OK(lsm_close(db));
	OK(lsm_open("/db3", &opt, &db));
	assert_int_equal(getv(db, 1500, buf, sizeof buf), LSM_E_NOTFOUND);
	OK(getv(db, 1299, buf, sizeof buf));
	assert_string_equal(buf, "x1299");
	OK(lsm_close(db));
}

/* A table ingested while a snapshot is held must stay invisible to it,
 * even where nothing overlaps (it is then rewritten with a new sequence). */
static void test_ingest_invisible_to_older_snapshot(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_write_options wo = {0};
	char buf[64];
	OK(lsm_open("/db7", &opt, &db));
	OK(lsm_put(db, &wo, "a", 1, "1", 1));
	const lsm_snapshot *snap = lsm_snapshot_acquire(db);
	build_sst("/ext/s.sst", 0, 100, "s");
	const char *paths[] = { "/ext/s.sst" };
	OK(lsm_ingest(db, paths, 1, NULL, 0, NULL, 0));
	OK(getv(db, 50, buf, sizeof buf));
	assert_string_equal(buf, "s50");
	lsm_read_options ro = { .snapshot = snap };
	void *v;
	size_t vl;
	assert_int_equal(lsm_get(db, &ro, "k000050", 7, &v, &vl), LSM_E_NOTFOUND);
	lsm_iter *it;
	int n = 0;
	OK(lsm_iter_new(db, &ro, &it));
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	lsm_iter_free(it);
	assert_int_equal(n, 1);	/* only "a" */
	lsm_snapshot_release(db, snap);
	OK(lsm_close(db));
}

/* A write buffer smaller than an empty memtable still lets writes through
 * (each write then fills a memtable of its own). */
static void test_tiny_write_buffer(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_options o = opt;
	lsm_write_options wo = {0};
	char k[16], buf[64];
	o.write_buffer_size = 4096;
	OK(lsm_open("/db8", &o, &db));
	for (int i = 0; i < 20; i++) {
		int kn = snprintf(k, sizeof k, "k%06d", i);
		OK(lsm_put(db, &wo, k, (size_t)kn, "v", 1));
	}
	for (int i = 0; i < 20; i++)
		OK(getv(db, i, buf, sizeof buf));
	OK(lsm_close(db));
}

static void test_ingest_bad_file(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_file *f;
	OK(env->open(env, "/ext/garbage.sst", LSM_OPEN_WRITE, &f));
	OK(env->append(env, f, "this is not a table at all, not even close......", 48));
	env->close(env, f);
	OK(lsm_open("/db4", &opt, &db));
	const char *paths[] = { "/ext/garbage.sst" };
	int rc = lsm_ingest(db, paths, 1, NULL, 0, NULL, 0);
	assert_true(rc < 0);
	assert_non_null(strstr(lsm_errdetail(), "garbage.sst"));
	const char *missing[] = { "/ext/none.sst" };
	assert_true(lsm_ingest(db, missing, 1, NULL, 0, NULL, 0) < 0);
	OK(lsm_close(db));
}

/* ---- check and repair ------------------------------------------------------- */

struct seen {
	int count[16];
	char file[64];
	uint64_t number;
};

static void on_problem(void *ctx, const lsm_check_report *r)
{
	struct seen *s = ctx;
	s->count[r->problem]++;
	snprintf(s->file, sizeof s->file, "%s", r->file);
	s->number = r->number;
}

static void fill(lsm_db *db, int n)
{
	lsm_write_options wo = {0};
	char k[32], v[128];
	for (int i = 0; i < n; i++) {
		int kn = snprintf(k, sizeof k, "k%06d", i);
		memset(v, 'a' + i % 26, sizeof v);
		OK(lsm_put(db, &wo, k, (size_t)kn, v, sizeof v));
	}
}

static uint64_t first_table(const char *dir, char *name, size_t len)
{
	char **names;
	size_t n;
	uint64_t num = 0;
	OK(env->list(env, dir, &names, &n));
	for (size_t i = 0; i < n; i++)
		if (strstr(names[i], ".sst") && !num) {
			num = strtoull(names[i], NULL, 10);
			snprintf(name, len, "%s/%s", dir, names[i]);
		}
	lsm_env_free_list(names, n);
	return num;
}

static void test_check_clean_and_damaged(void **state)
{
	(void)state;
	lsm_db *db;
	struct seen s;
	char path[128];
	OK(lsm_open("/db5", &opt, &db));
	fill(db, 5000);
	OK(lsm_compact_range(db, NULL, 0, NULL, 0));
	OK(lsm_close(db));

	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	for (int i = 0; i < 16; i++)
		assert_int_equal(s.count[i], 0);

	/* an extra table file */
	lsm_file *f;
	OK(env->open(env, "/db5/999999.sst", LSM_OPEN_WRITE, &f));
	OK(env->append(env, f, "junk", 4));
	env->close(env, f);
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	assert_int_equal(s.count[LSM_CHECK_EXTRA_FILE], 1);
	assert_string_equal(s.file, "999999.sst");
	OK(lsm_repair_remove_extra("/db5", &opt, "999999.sst"));
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	assert_int_equal(s.count[LSM_CHECK_EXTRA_FILE], 0);

	/* a flipped byte in a data block: found, then salvaged */
	uint64_t num = first_table("/db5", path, sizeof path);
	assert_true(num > 0);
	lsm_file *rf;
	uint64_t size;
	char *all;
	size_t got;
	OK(env->size(env, path, &size));
	all = malloc(size);
	OK(env->open(env, path, LSM_OPEN_READ, &rf));
	OK(env->pread(env, rf, all, size, 0, &got));
	env->close(env, rf);
	all[100] ^= 0x40;
	OK(env->open(env, path, LSM_OPEN_WRITE, &f));
	OK(env->append(env, f, all, size));
	env->close(env, f);
	free(all);
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	assert_true(s.count[LSM_CHECK_TABLE_CORRUPT] >= 1);
	assert_true(s.number == num);
	OK(lsm_repair_drop_table("/db5", &opt, num, true));
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	for (int i = 0; i < 16; i++)
		assert_int_equal(s.count[i], 0);
	/* most data survived (one block lost) */
	OK(lsm_open("/db5", &opt, &db));
	int present = 0;
	char buf[256];
	for (int i = 0; i < 5000; i++)
		present += getv(db, i, buf, sizeof buf) == 0;
	print_message("present after salvage: %d\n", present);
	assert_true(present > 4800 && present < 5000);
	OK(lsm_close(db));

	/* a table removed */
	num = first_table("/db5", path, sizeof path);
	OK(env->remove(env, path));
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	assert_int_equal(s.count[LSM_CHECK_TABLE_MISSING], 1);
	OK(lsm_repair_drop_table("/db5", &opt, num, false));
	memset(&s, 0, sizeof s);
	OK(lsm_check("/db5", &opt, on_problem, &s));
	assert_int_equal(s.count[LSM_CHECK_TABLE_MISSING], 0);
}

struct walbad {
	int n;
	char file[64];
	uint64_t offset;
};

static void on_wal(void *ctx, const lsm_check_report *r)
{
	struct walbad *w = ctx;
	if (r->problem != LSM_CHECK_WAL_CORRUPT)
		return;
	w->n++;
	snprintf(w->file, sizeof w->file, "%s", r->file);
	w->offset = r->offset;
}

static void test_check_wal_and_truncate(void **state)
{
	(void)state;
	lsm_db *db;
	lsm_write_options wo = { .sync = true };
	char k[32], buf[64], path[128];
	OK(lsm_open("/db6", &opt, &db));
	for (int i = 0; i < 100; i++) {
		int kn = snprintf(k, sizeof k, "k%06d", i);
		OK(lsm_put(db, &wo, k, (size_t)kn, "v", 1));
	}
	OK(lsm_close(db));
	/* the log holds the 100 writes; damage record ~50 */
	char **names;
	size_t n;
	OK(env->list(env, "/db6", &names, &n));
	for (size_t i = 0; i < n; i++)
		if (strstr(names[i], ".log"))
			snprintf(path, sizeof path, "/db6/%s", names[i]);
	lsm_env_free_list(names, n);
	uint64_t size;
	OK(env->size(env, path, &size));
	assert_true(size > 1000);
	char *all = malloc(size);
	lsm_file *f;
	size_t got;
	OK(env->open(env, path, LSM_OPEN_READ, &f));
	OK(env->pread(env, f, all, size, 0, &got));
	env->close(env, f);
	all[size / 2] ^= 0x01;
	OK(env->open(env, path, LSM_OPEN_WRITE, &f));
	OK(env->append(env, f, all, size));
	env->close(env, f);
	free(all);
	/* open refuses, naming the file and the offset */
	assert_int_equal(lsm_open("/db6", &opt, &db), LSM_E_CORRUPT);
	assert_non_null(strstr(lsm_errdetail(), ".log"));
	assert_non_null(strstr(lsm_errdetail(), "offset"));
	struct walbad w = {0};
	OK(lsm_check("/db6", &opt, on_wal, &w));
	assert_int_equal(w.n, 1);
	assert_true(w.offset > 0 && w.offset <= size / 2);
	OK(lsm_repair_truncate_log("/db6", &opt, w.file, w.offset));
	memset(&w, 0, sizeof w);
	OK(lsm_check("/db6", &opt, on_wal, &w));
	assert_int_equal(w.n, 0);
	OK(lsm_open("/db6", &opt, &db));
	int present = 0;
	for (int i = 0; i < 100; i++)
		present += getv(db, i, buf, sizeof buf) == 0;
	/* every record before the damage, none after */
	assert_true(present >= 40 && present < 100);
	for (int i = 0; i < present; i++)
		OK(getv(db, i, buf, sizeof buf));
	OK(lsm_close(db));
	assert_int_equal(lsm_repair_truncate_log("/db6", &opt, "CURRENT", 0), LSM_E_INVALID);
}

static void test_check_not_a_store(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	OK(env->mkdir(env, "/empty"));
	assert_int_equal(lsm_check("/empty", &opt, on_problem, &s), LSM_E_NOSTORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writer_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_empty_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_shadows_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_with_excise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_invisible_to_older_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tiny_write_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_bad_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_clean_and_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_wal_and_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_not_a_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
