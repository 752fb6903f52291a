/*
 * Corruption tests of the engine over the posix env, in a mkdtemp
 * directory removed afterwards.
 *
 * A pristine store is built once: two tables (keys a*, then b*), a WAL
 * holding unflushed writes (c*), a MANIFEST with several edits, CURRENT.
 * Each test copies it, damages one file — a byte flipped in an SST data
 * block or anywhere in an SST, in the middle of the WAL with valid records
 * after it, in the MANIFEST, in CURRENT; a table replaced by garbage,
 * truncated or removed — and checks that opening and reading never crash,
 * never return wrong data, and fail with LSM_E_CORRUPT whose
 * lsm_errdetail() names the damaged file (and, where there is one, the
 * offset).  A WAL cut in the middle of its last record (a torn tail) is
 * not corruption: open succeeds with every earlier record.
 * A failed open must leave nothing behind (the lock is free): after the
 * damage is undone the store opens and reads cleanly.
 * Threads: single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lsm.h"
#include "test_util.h"

#define NA 1000
#define NB 1000
#define NC 200

static char root[64];
static char pristine[128];

/* ---- files ------------------------------------------------------------------- */


static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* A fresh copy of the pristine store at root/name; returns its path. */
static const char *fresh(const char *name)
{
	static char path[128];
	char a[512], b[512];
	snprintf(path, sizeof path, "%s/%s", root, name);
	rm_tree(path);
	assert_int_equal(mkdir(path, 0755), 0);
	DIR *d = opendir(pristine);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof a, "%s/%s", pristine, de->d_name);
		snprintf(b, sizeof b, "%s/%s", path, de->d_name);
		copy_file(a, b);
	}
	closedir(d);
	return path;
}

/* The name (in dir) of the n-th file (0-based, by number) with suffix,
 * or of the file starting with prefix when suffix is NULL. */
static void find_file(const char *dir, const char *suffix, int nth, char *out, size_t outn)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char names[64][64];
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) && n < 64) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0 && de->d_name[0] != '.')
			snprintf(names[n++], sizeof names[0], "%.60s", de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	assert_true(nth < n);
	snprintf(out, outn, "%s", names[nth]);
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

static void flip(const char *p, uint64_t off, unsigned char mask)
{
	int fd = open(p, O_RDWR);
	unsigned char c;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= mask;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* ---- the store ------------------------------------------------------------------ */

static void opts(lsm_options *o)
{
	lsm_options_init(o);
	o->disable_auto_compaction = true;	/* nothing reads tables behind our back */
	o->compression = 0;			/* byte offsets map to data */
	o->block_size = 1024;
	o->write_buffer_size = 4u << 20;
}

static void kv(char *k, char *v, char c, int i)
{
	snprintf(k, 16, "%c%04d", c, i);
	snprintf(v, 64, "value-%c-%d-%020d", c, i, i * 7);
}

static void build_pristine(void)
{
	lsm_options o;
	lsm_db *db;
	char k[16], v[64];
	opts(&o);
	o.create_if_missing = true;
	assert_int_equal(lsm_open(pristine, &o, &db), 0);
	for (int i = 0; i < NA; i++) {
		kv(k, v, 'a', i);
		assert_int_equal(lsm_put(db, NULL, k, strlen(k), v, strlen(v)), 0);
	}
	assert_int_equal(lsm_flush(db, true), 0);
	for (int i = 0; i < NB; i++) {
		kv(k, v, 'b', i);
		assert_int_equal(lsm_put(db, NULL, k, strlen(k), v, strlen(v)), 0);
	}
	assert_int_equal(lsm_flush(db, true), 0);
	for (int i = 0; i < NC; i++) {
		kv(k, v, 'c', i);
		assert_int_equal(lsm_put(db, NULL, k, strlen(k), v, strlen(v)), 0);
	}
	assert_int_equal(lsm_close(db), 0);
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/lsm_test_db_corrupt_XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(pristine, sizeof pristine, "%s/pristine", root);
	build_pristine();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rm_tree(root);
	return 0;
}

/* rc must be LSM_E_CORRUPT with a detail naming file (and "offset"). */
static void expect_corrupt(int rc, const char *file, bool offset, const char *what)
{
	if (rc != LSM_E_CORRUPT)
		fail_msg("%s: expected corruption, got %d %s (%s)", what, rc, lsm_strerror(rc),
			 lsm_errdetail());
	if (!strstr(lsm_errdetail(), file))
		fail_msg("%s: detail does not name %s: %s", what, file, lsm_errdetail());
	if (offset && !strstr(lsm_errdetail(), "offset"))
		fail_msg("%s: detail has no offset: %s", what, lsm_errdetail());
}

/* Read every key of one letter: each get returns the right value or an
 * error; returns the first error (0 if all were read). */
static int read_letter(lsm_db *db, char c, int n, bool *wrong)
{
	int first = 0;
	for (int i = 0; i < n; i++) {
		char k[16], v[64];
		void *got;
		size_t gl;
		kv(k, v, c, i);
		int rc = lsm_get(db, NULL, k, strlen(k), &got, &gl);
		if (rc == 0) {
			if (gl != strlen(v) || memcmp(got, v, gl) != 0)
				*wrong = true;
			free(got);
		} else if (!first) {
			first = rc;
		}
	}
	return first;
}

/* Iterate everything: keys in order with right values, or an error
 * status; returns the status. */
static int scan_all(lsm_db *db, bool *wrong, int *count)
{
	lsm_iter *it;
	int rc = lsm_iter_new(db, NULL, &it);
	*count = 0;
	if (rc)
		return rc;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		char key[16], want[64], wk[16];
		snprintf(key, sizeof key, "%.*s", (int)(kl < 15 ? kl : 15), k);
		if (kl != 5) {
			*wrong = true;
			break;
		}
		kv(wk, want, key[0], atoi(key + 1));
		if (strcmp(wk, key) != 0 || vl != strlen(want) || memcmp(v, want, vl) != 0)
			*wrong = true;
		(*count)++;
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc;
}

/* The undamaged store opens and holds everything. */
static void expect_whole(const char *path)
{
	lsm_options o;
	lsm_db *db;
	bool wrong = false;
	int n;
	opts(&o);
	int rc = lsm_open(path, &o, &db);
	if (rc)
		fail_msg("open of the repaired store: %s (%s)", lsm_strerror(rc), lsm_errdetail());
	assert_int_equal(read_letter(db, 'a', NA, &wrong), 0);
	assert_int_equal(read_letter(db, 'b', NB, &wrong), 0);
	assert_int_equal(read_letter(db, 'c', NC, &wrong), 0);
	assert_int_equal(scan_all(db, &wrong, &n), 0);
	assert_false(wrong);
	assert_int_equal(n, NA + NB + NC);
	assert_int_equal(lsm_close(db), 0);
}

/* ---- tables ------------------------------------------------------------------------ */

static void test_sst_data_block(void **state)
{
	(void)state;
	const char *path = fresh("sst_data");
	char name[64], p[512];
	lsm_options o;
	lsm_db *db;
	bool wrong = false;
	int n;
	find_file(path, ".sst", 0, name, sizeof name);	/* the a* table */
	snprintf(p, sizeof p, "%s/%s", path, name);
	flip(p, 20, 0x10);	/* inside the first data block: a0000's entry */
	opts(&o);
	assert_int_equal(lsm_open(path, &o, &db), 0);
	char k[16], v[64];
	void *got;
	size_t gl;
	kv(k, v, 'a', 0);
	expect_corrupt(lsm_get(db, NULL, k, strlen(k), &got, &gl), name, true, "get a0000");
	/* other tables are unaffected */
	assert_int_equal(read_letter(db, 'b', NB, &wrong), 0);
	assert_int_equal(read_letter(db, 'c', NC, &wrong), 0);
	expect_corrupt(scan_all(db, &wrong, &n), name, true, "scan");
	assert_false(wrong);
	/* a compaction meets it too, and reports it rather than dropping it */
	int rc = lsm_compact_range(db, NULL, 0, NULL, 0);
	expect_corrupt(rc, name, true, "compact_range");
	assert_int_equal(lsm_close(db), 0);
	flip(p, 20, 0x10);
	expect_whole(path);
}

static void test_sst_every_region(void **state)
{
	/* one flipped byte anywhere in a table: reads are right or fail with
	 * corruption naming the table; never silently wrong */
	(void)state;
	const char *path = fresh("sst_sweep");
	char name[64], p[512];
	find_file(path, ".sst", 1, name, sizeof name);	/* the b* table */
	snprintf(p, sizeof p, "%s/%s", path, name);
	uint64_t size = file_size(p);
	int detected = 0, probes = 0;
	for (uint64_t off = 0; off < size; off = off + 64 + size / 97 < size ? off + size / 97 + 1
							       : off < size - 64 ? size - 64 : off + 1) {
		lsm_options o;
		lsm_db *db;
		bool wrong = false;
		int n = 0;
		flip(p, off, 0x01);
		opts(&o);
		probes++;
		int rc = lsm_open(path, &o, &db);
		if (rc == 0) {
			int r1 = read_letter(db, 'b', NB, &wrong);
			int r2 = scan_all(db, &wrong, &n);
			if (r1)
				expect_corrupt(r1, name, false, "get over a flipped byte");
			if (r2)
				expect_corrupt(r2, name, false, "scan over a flipped byte");
			if (wrong)
				fail_msg("byte %llu of %s flipped: wrong data returned",
					 (unsigned long long)off, name);
			if (!r1 && !r2 && n != NA + NB + NC)
				fail_msg("byte %llu of %s flipped: %d keys, no error",
					 (unsigned long long)off, name, n);
			detected += r1 || r2;
			assert_int_equal(lsm_close(db), 0);
		} else {
			expect_corrupt(rc, name, false, "open over a flipped byte");
			detected++;
		}
		flip(p, off, 0x01);
	}
	print_message("  %d of %d flipped bytes detected\n", detected, probes);
	/* data, index, footer: nearly every byte is covered by a checksum */
	assert_true(detected >= probes * 9 / 10);
	expect_whole(path);
}

static void test_sst_garbage(void **state)
{
	(void)state;
	for (int mode = 0; mode < 4; mode++) {
		const char *path = fresh("sst_garbage");
		char name[64], p[512];
		lsm_options o;
		lsm_db *db;
		bool wrong = false;
		int n;
		find_file(path, ".sst", 1, name, sizeof name);
		snprintf(p, sizeof p, "%s/%s", path, name);
		uint64_t size = file_size(p);
		if (mode == 3) {
			assert_int_equal(unlink(p), 0);		/* missing */
		} else {
			FILE *f = fopen(p, "wb");
			assert_non_null(f);
			uint64_t n2 = mode == 0 ? size : mode == 1 ? size / 2 : 0;
			uint64_t x = 88172645463325252ull;
			for (uint64_t i = 0; i < n2; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				fputc((int)(x & 0xff), f);
			}
			fclose(f);
		}
		opts(&o);
		int rc = lsm_open(path, &o, &db);
		if (rc) {
			expect_corrupt(rc, name, false, "open over a garbage table");
			continue;
		}
		char k[16], v[64];
		void *got;
		size_t gl;
		kv(k, v, 'b', 10);
		expect_corrupt(lsm_get(db, NULL, k, strlen(k), &got, &gl), name, true,
			       mode == 3 ? "get from a missing table" : "get from a garbage table");
		assert_int_equal(read_letter(db, 'a', NA, &wrong), 0);
		expect_corrupt(scan_all(db, &wrong, &n), name, false, "scan over a garbage table");
		assert_false(wrong);
		/* writes not touching it go on */
		assert_int_equal(lsm_put(db, NULL, "d", 1, "1", 1), 0);
		assert_int_equal(lsm_close(db), 0);
	}
}

/* ---- the WAL --------------------------------------------------------------------------- */

/* Offsets of the fragment headers of a small log (one block), into
 * starts (at most max); returns their number. */
static int log_records(const char *p, uint64_t size, uint64_t *starts, int max)
{
	unsigned char *buf = malloc(size);
	FILE *f = fopen(p, "rb");
	uint64_t off = 0;
	int n = 0;
	assert_non_null(buf);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, size, f), size);
	fclose(f);
	assert_true(size < 32768);
	while (off + 7 <= size && n < max) {
		starts[n++] = off;
		off += 7 + (uint64_t)(buf[off + 4] | buf[off + 5] << 8);
	}
	free(buf);
	return n;
}

static void test_wal_middle(void **state)
{
	(void)state;
	const char *path = fresh("wal_mid");
	char name[64], p[512];
	uint64_t starts[NC + 8];
	lsm_options o;
	lsm_db *db = NULL;
	find_file(path, ".log", 0, name, sizeof name);
	snprintf(p, sizeof p, "%s/%s", path, name);
	uint64_t size = file_size(p);
	int n = log_records(p, size, starts, NC + 8);
	assert_int_equal(n, NC);
	/* every byte of a record in the middle (header and payload), and of
	 * the first record: valid records follow, so this is corruption */
	int recs[] = { 0, NC / 2 };
	for (int r = 0; r < 2; r++) {
		int i = recs[r];
		for (uint64_t off = starts[i]; off < starts[i + 1]; off++) {
			unsigned char mask = off & 1 ? 0x04 : 0x80;
			flip(p, off, mask);
			opts(&o);
			int rc = lsm_open(path, &o, &db);
			if (rc == 0)
				fail_msg("byte %llu of %s (record %d at %llu..%llu) flipped: open succeeded",
					 (unsigned long long)off, name, i, (unsigned long long)starts[i],
					 (unsigned long long)starts[i + 1]);
			expect_corrupt(rc, name, true, "open over a damaged log");
			assert_null(db);
			flip(p, off, mask);
		}
	}
	/* the failed opens left no lock behind */
	expect_whole(path);
}

static void test_wal_torn_tail(void **state)
{
	(void)state;
	lsm_options o;
	opts(&o);
	/* cut inside the last record at several points, and inside the one
	 * before it */
	for (int cut = 1; cut <= 60; cut += 3) {
		const char *path = fresh("wal_torn");
		char name[64], p[512];
		lsm_db *db;
		bool wrong = false;
		find_file(path, ".log", 0, name, sizeof name);
		snprintf(p, sizeof p, "%s/%s", path, name);
		uint64_t size = file_size(p);
		assert_int_equal(truncate(p, (off_t)(size - (uint64_t)cut)), 0);
		int rc = lsm_open(path, &o, &db);
		if (rc)
			fail_msg("open over a torn tail (cut %d): %s (%s)", cut, lsm_strerror(rc),
				 lsm_errdetail());
		assert_int_equal(read_letter(db, 'a', NA, &wrong), 0);
		assert_int_equal(read_letter(db, 'b', NB, &wrong), 0);
		/* the c* records form a prefix: the torn ones are gone */
		int present = 0;
		for (int i = 0; i < NC; i++) {
			char k[16], v[64];
			void *got;
			size_t gl;
			kv(k, v, 'c', i);
			rc = lsm_get(db, NULL, k, strlen(k), &got, &gl);
			if (rc == 0) {
				assert_int_equal(present, i);
				assert_int_equal(gl, strlen(v));
				assert_memory_equal(got, v, gl);
				free(got);
				present++;
			} else {
				assert_int_equal(rc, LSM_E_NOTFOUND);
			}
		}
		assert_true(present < NC);
		assert_true(present >= NC - 2);
		assert_false(wrong);
		/* writes after recovery land in a fresh log and survive */
		assert_int_equal(lsm_put(db, NULL, "c9999", 5, "after", 5), 0);
		assert_int_equal(lsm_close(db), 0);
		assert_int_equal(lsm_open(path, &o, &db), 0);
		void *got;
		size_t gl;
		assert_int_equal(lsm_get(db, NULL, "c9999", 5, &got, &gl), 0);
		free(got);
		assert_int_equal(lsm_close(db), 0);
	}
}

/* ---- MANIFEST and CURRENT ------------------------------------------------------------------ */

static void find_manifest(const char *dir, char *out, size_t outn)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	assert_non_null(d);
	out[0] = 0;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "MANIFEST-", 9) == 0)
			snprintf(out, outn, "%.60s", de->d_name);
	closedir(d);
	assert_true(out[0] != 0);
}

/* Offset of the last record's first header in a small log (one block). */
static uint64_t last_record(const char *p, uint64_t size)
{
	unsigned char *buf = malloc(size);
	FILE *f = fopen(p, "rb");
	uint64_t off = 0, last = 0;
	assert_non_null(buf);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, size, f), size);
	fclose(f);
	assert_true(size < 32768);
	while (off + 7 <= size) {
		last = off;
		off += 7 + (uint64_t)(buf[off + 4] | buf[off + 5] << 8);
	}
	assert_int_equal(off, size);
	free(buf);
	return last;
}

static void test_manifest(void **state)
{
	(void)state;
	const char *path = fresh("manifest");
	char name[64], p[512];
	lsm_options o;
	lsm_db *db = NULL;
	opts(&o);
	find_manifest(path, name, sizeof name);
	snprintf(p, sizeof p, "%s/%s", path, name);
	uint64_t size = file_size(p);
	uint64_t last = last_record(p, size);
	assert_true(last > 0);	/* a snapshot and edits after it */
	/* Every byte.  Damage before the last record is corruption: the open
	 * fails naming the manifest and the offset.  Damage in the last record
	 * cannot be told from a torn append, which recovery drops; then the
	 * open may succeed, and what it reads must still never be wrong. */
	int opened = 0, lossy = 0;
	for (uint64_t off = 0; off < size; off++) {
		flip(p, off, off & 1 ? 0x80 : 0x20);
		int rc = lsm_open(path, &o, &db);
		if (off < last) {
			if (rc == 0)
				fail_msg("byte %llu of %s (%llu bytes, last record at %llu) flipped: "
					 "open succeeded", (unsigned long long)off, name,
					 (unsigned long long)size, (unsigned long long)last);
			expect_corrupt(rc, name, true, "open over a damaged manifest");
		} else if (rc == 0) {
			bool wrong = false;
			int n;
			opened++;
			(void)read_letter(db, 'a', NA, &wrong);
			rc = scan_all(db, &wrong, &n);
			assert_false(wrong);
			if (rc || n != NA + NB + NC)
				lossy++;
			(void)lsm_close(db);
			/* that open rewrote the store: start over */
			path = fresh("manifest");
			find_manifest(path, name, sizeof name);
			snprintf(p, sizeof p, "%s/%s", path, name);
			continue;
		} else {
			expect_corrupt(rc, name, false, "open over a damaged last manifest record");
		}
		assert_null(db);
		flip(p, off, off & 1 ? 0x80 : 0x20);
	}
	print_message("  manifest of %llu bytes: %d flips in its last record opened anyway "
		      "(%d lost data)\n", (unsigned long long)size, opened, lossy);
	expect_whole(path);
}

static void test_current(void **state)
{
	(void)state;
	const char *path = fresh("current");
	char p[512];
	lsm_options o;
	lsm_db *db = NULL;
	opts(&o);
	snprintf(p, sizeof p, "%s/CURRENT", path);
	uint64_t size = file_size(p);
	assert_true(size > 10);
	for (uint64_t off = 0; off < size; off++) {
		for (int m = 0; m < 3; m++) {
			unsigned char mask = m == 0 ? 0x01 : m == 1 ? 0x40 : 0x80;
			flip(p, off, mask);
			int rc = lsm_open(path, &o, &db);
			expect_corrupt(rc, "CURRENT", false, "open over a damaged CURRENT");
			assert_null(db);
			flip(p, off, mask);
		}
	}
	/* cut short, emptied, extra bytes */
	assert_int_equal(truncate(p, (off_t)(size - 3)), 0);
	expect_corrupt(lsm_open(path, &o, &db), "CURRENT", true, "open over a short CURRENT");
	assert_int_equal(truncate(p, 0), 0);
	expect_corrupt(lsm_open(path, &o, &db), "CURRENT", true, "open over an empty CURRENT");
	assert_null(db);
	/* restore it from the pristine copy */
	char q[512];
	snprintf(q, sizeof q, "%s/CURRENT", pristine);
	copy_file(q, p);
	expect_whole(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sst_data_block),
		cmocka_unit_test(test_sst_every_region),
		cmocka_unit_test(test_sst_garbage),
		cmocka_unit_test(test_wal_middle),
		cmocka_unit_test(test_wal_torn_tail),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_current),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
