/* Unit tests for wal.c: the log record format (doc/log_format.md).  Round
 * trips across block boundaries, appending to an existing log, torn tails
 * (every truncation point), zero-filled tails, corruption before the tail,
 * sequence errors in hand-built logs, write-error latching, and random
 * garbage.  Runs on the in-memory env. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wal.h"

#define B LSM_WAL_BLOCK
#define H LSM_WAL_HEADER
#define PATH "/db/000007.log"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* Content of record i of size n: depends on both, so a record read back in
 * the wrong place or with a wrong length is noticed. */
static void fill_rec(lsm_buf *b, size_t i, size_t n)
{
	lsm_buf_clear(b);
	assert_int_equal(lsm_buf_reserve(b, n), 0);
	for (size_t j = 0; j < n; j++)
		b->data[j] = (char)((i * 131 + j * 7 + (j >> 8)) & 0xff);
	b->len = n;
}

/* A test log: records written through the real writer. */
struct log {
	size_t n;
	size_t *sizes;
	uint64_t *starts;	/* offset of each record's first header */
	uint64_t *ends;		/* offset just past each record */
};

static void log_free(struct log *l)
{
	free(l->sizes);
	free(l->starts);
	free(l->ends);
	memset(l, 0, sizeof *l);
}

/* Where a record added at file size off begins (after block-tail fill). */
static uint64_t rec_start_at(uint64_t off)
{
	uint64_t room = B - off % B;
	return room < H ? off + room : off;
}

/* Append records of the given sizes to path (created fresh if !append). */
static void write_log(lsm_env *env, const char *path, const size_t *sizes,
		      size_t n, bool append, struct log *l)
{
	lsm_file *f;
	lsm_wal_writer *w;
	uint64_t off = 0;
	lsm_buf rec = {0};

	if (append) {
		int rc = env->size(env, path, &off);
		assert_true(rc == 0 || rc == -ENOENT);
		if (rc)
			off = 0;
	}
	assert_int_equal(env->open(env, path, append ? LSM_OPEN_APPEND
					     : LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(lsm_wal_writer_new(env, f, path, off, &w), 0);
	assert_true(lsm_wal_size(w) == off);
	size_t base = l->n;
	l->n += n;
	l->sizes = realloc(l->sizes, l->n * sizeof *l->sizes);
	l->starts = realloc(l->starts, l->n * sizeof *l->starts);
	l->ends = realloc(l->ends, l->n * sizeof *l->ends);
	assert_non_null(l->sizes);
	assert_non_null(l->starts);
	assert_non_null(l->ends);
	for (size_t i = 0; i < n; i++) {
		fill_rec(&rec, base + i, sizes[i]);
		l->sizes[base + i] = sizes[i];
		l->starts[base + i] = rec_start_at(lsm_wal_size(w));
		assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), 0);
		l->ends[base + i] = lsm_wal_size(w);
	}
	assert_int_equal(lsm_wal_sync(w), 0);
	assert_int_equal(lsm_wal_writer_close(w), 0);
	uint64_t sz;
	assert_int_equal(env->size(env, path, &sz), 0);
	assert_true(sz == (n ? l->ends[l->n - 1] : off));
	lsm_buf_free(&rec);
}

/*
 * Read path back and check that the first `expect` records of l come back
 * in order with their ends reported, then the given outcome: the return
 * value of the final read (0 or an error), whether a torn tail is
 * reported and where.
 */
static void check_read(lsm_env *env, const char *path, const struct log *l,
		       size_t expect, int final, bool torn, uint64_t torn_off)
{
	lsm_wal_reader *r;
	lsm_buf got = {0}, want = {0};
	uint64_t off = 0;

	assert_int_equal(lsm_wal_reader_open(env, path, &r), 0);
	for (size_t i = 0; i < expect; i++) {
		int rc = lsm_wal_read(r, &got);
		if (rc != 1)
			fail_msg("record %zu of %zu: read returned %d (%s)", i,
				 expect, rc, lsm_errdetail());
		fill_rec(&want, i, l->sizes[i]);
		assert_int_equal(got.len, want.len);
		if (want.len)
			assert_memory_equal(got.data, want.data, want.len);
		assert_true(lsm_wal_reader_offset(r) == l->ends[i]);
	}
	int rc = lsm_wal_read(r, &got);
	if (rc != final)
		fail_msg("after %zu records: read returned %d, wanted %d (%s)",
			 expect, rc, final, lsm_errdetail());
	assert_int_equal(got.len, 0);	/* no partial record handed out */
	if (final == 0) {
		bool t = lsm_wal_reader_torn(r, &off);
		if (t != torn)
			fail_msg("torn %d, wanted %d", t, torn);
		if (torn)
			assert_true(off == torn_off);
	}
	/* The outcome is final. */
	assert_int_equal(lsm_wal_read(r, &got), final);
	assert_true(lsm_wal_reader_offset(r) ==
		    (expect ? l->ends[expect - 1] : 0));
	lsm_wal_reader_close(r);
	lsm_buf_free(&got);
	lsm_buf_free(&want);
}

/* Whole-file helpers: the tests damage logs by rewriting them. */
static void file_get(lsm_env *env, const char *path, lsm_buf *b)
{
	lsm_file *f;
	uint64_t sz;
	size_t got;

	assert_int_equal(env->size(env, path, &sz), 0);
	lsm_buf_clear(b);
	assert_int_equal(lsm_buf_reserve(b, (size_t)sz + 1), 0);
	assert_int_equal(env->open(env, path, LSM_OPEN_READ, &f), 0);
	assert_int_equal(env->pread(env, f, b->data, (size_t)sz, 0, &got), 0);
	assert_true(got == sz);
	b->len = got;
	assert_int_equal(env->close(env, f), 0);
}

static void file_put(lsm_env *env, const char *path, const void *p, size_t n)
{
	lsm_file *f;

	assert_int_equal(env->open(env, path, LSM_OPEN_WRITE, &f), 0);
	if (n)
		assert_int_equal(env->append(env, f, p, n), 0);
	assert_int_equal(env->close(env, f), 0);
}

static int setup(void **state)
{
	lsm_env *env = lsm_env_mem_new();
	if (!env)
		return -1;
	*state = env;
	rng_state = 0x9e3779b97f4a7c15ull;
	return 0;
}

static int teardown(void **state)
{
	lsm_env *env = *state;
	env->destroy(env);
	return 0;
}

/* ---- round trips -------------------------------------------------------- */

static void test_sizes(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	const size_t sizes[] = {
		0, 1, 100, B - 2 * H - 1, B - H - 1, B - H, B - H + 1, B,
		B + 1, 2 * B - 2 * H, 2 * B - 2 * H + 1, 2 * B, 3 * B + 5,
		1u << 20, 0, 1, (1u << 20) + 3 * B + 17, 0,
	};
	size_t n = sizeof sizes / sizeof sizes[0];

	write_log(env, PATH, sizes, n, false, &l);
	check_read(env, PATH, &l, n, 0, false, 0);
	log_free(&l);
}

/* A record ending 0..H+1 bytes before a block end, then another record:
 * exercises the zero-filled tail and a header that exactly fits. */
static void test_block_tails(void **state)
{
	lsm_env *env = *state;

	for (size_t left = 0; left <= H + 1; left++) {
		struct log l = {0};
		size_t sizes[] = { B - H - left, 10, 0, B - 2 * H - left, 5 };
		write_log(env, PATH, sizes, 5, false, &l);
		assert_true(l.ends[0] == B - left);
		assert_true(l.starts[1] == (left < H ? B : B - left));
		check_read(env, PATH, &l, 5, 0, false, 0);
		log_free(&l);
	}
}

static void test_many(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	size_t n = 5000;
	size_t *sizes = calloc(n, sizeof *sizes);

	assert_non_null(sizes);
	for (size_t i = 0; i < n; i++)
		sizes[i] = rnd() % 16 == 0 ? rnd() % (3 * B) : rnd() % 300;
	write_log(env, PATH, sizes, n, false, &l);
	check_read(env, PATH, &l, n, 0, false, 0);
	free(sizes);
	log_free(&l);
}

/* Reopen and append, including from a size not on a block boundary and
 * from one that leaves less than a header in the block. */
static void test_reopen_append(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	const size_t a[] = { 10, B - H - 10 - H - 3 };	/* ends 3 bytes short */
	const size_t b[] = { 50, 2 * B };
	const size_t c[] = { 0 };
	const size_t d[] = { 7, 70000, 1 };

	write_log(env, PATH, a, 2, false, &l);
	assert_true(l.ends[1] == B - 3);
	write_log(env, PATH, b, 2, true, &l);
	assert_true(l.starts[2] == B);
	write_log(env, PATH, c, 1, true, &l);
	write_log(env, PATH, d, 3, true, &l);
	write_log(env, PATH, d, 0, true, &l);	/* open and close, no record */
	check_read(env, PATH, &l, l.n, 0, false, 0);
	log_free(&l);
}

/* The writer's bytes are exactly those doc/log_format.md describes: this
 * pins the frozen format (header layout, offset-mixed checksum, block tail
 * fill) independently of wal.c. */
static uint32_t doc_crc(uint64_t off, int type, const char *p, size_t n)
{
	char *t = malloc(5 + n + 1);
	assert_non_null(t);
	lsm_enc32(t, (uint32_t)off);
	t[4] = (char)type;
	if (n)
		memcpy(t + 5, p, n);
	uint32_t c = lsm_checksum(t, 5 + n);
	free(t);
	return c;
}

static void put_frag(lsm_buf *f, int type, const char *p, size_t n)
{
	char h[H];
	lsm_enc32(h, doc_crc(f->len, type, p, n));
	h[4] = (char)(n & 0xff);
	h[5] = (char)(n >> 8);
	h[6] = (char)type;
	assert_int_equal(lsm_buf_append(f, h, H), 0);
	assert_int_equal(lsm_buf_append(f, p, n), 0);
}

static void test_format_frozen(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	lsm_buf want = {0}, got = {0}, rec = {0};
	const size_t sizes[] = { 5, B - 5 - 2 * H - 4, B + 100 };

	write_log(env, PATH, sizes, 3, false, &l);
	/* record 0: FULL at 0 */
	fill_rec(&rec, 0, sizes[0]);
	put_frag(&want, LSM_WAL_FULL, rec.data, rec.len);
	/* record 1: FULL ending 4 bytes short of the block: 4 zero bytes */
	fill_rec(&rec, 1, sizes[1]);
	put_frag(&want, LSM_WAL_FULL, rec.data, rec.len);
	assert_true(want.len == B - 4);
	assert_int_equal(lsm_buf_append(&want, "\0\0\0\0", 4), 0);
	/* record 2: FIRST fills block 1, MIDDLE none, LAST in block 2 */
	fill_rec(&rec, 2, sizes[2]);
	put_frag(&want, LSM_WAL_FIRST, rec.data, B - H);
	put_frag(&want, LSM_WAL_LAST, rec.data + B - H, rec.len - (B - H));
	file_get(env, PATH, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	/* one with a MIDDLE */
	lsm_buf_clear(&want);
	fill_rec(&rec, 0, 3 * B);
	put_frag(&want, LSM_WAL_FIRST, rec.data, B - H);
	put_frag(&want, LSM_WAL_MIDDLE, rec.data + (B - H), B - H);
	put_frag(&want, LSM_WAL_MIDDLE, rec.data + 2 * (B - H), B - H);
	put_frag(&want, LSM_WAL_LAST, rec.data + 3 * (B - H), 3 * H);
	log_free(&l);
	const size_t big[] = { 3 * B };
	write_log(env, PATH, big, 1, false, &l);
	file_get(env, PATH, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	log_free(&l);
	lsm_buf_free(&want);
	lsm_buf_free(&got);
	lsm_buf_free(&rec);
}

/* ---- torn tails --------------------------------------------------------- */

/* Truncate the log at every cut in (start, end) of its last record (or
 * every stride-th, plus the bytes around each block boundary): all earlier
 * records come back, then 0 with the torn tail at the record's start. */
static void torn_every_cut(lsm_env *env, const size_t *sizes, size_t n,
			   size_t stride)
{
	struct log l = {0};
	lsm_buf img = {0};

	write_log(env, PATH, sizes, n, false, &l);
	file_get(env, PATH, &img);
	uint64_t start = l.starts[n - 1], end = l.ends[n - 1];
	/* a cut inside the block-tail fill before the record is clean */
	uint64_t prev = n > 1 ? l.ends[n - 2] : 0;
	for (uint64_t cut = prev; cut <= start; cut++) {
		file_put(env, PATH, img.data, (size_t)cut);
		check_read(env, PATH, &l, n - 1, 0, false, 0);
	}
	for (uint64_t cut = start + 1; cut < end; cut++) {
		uint64_t inb = cut % B;
		if (stride > 1 && cut % stride && inb > 2 * H &&
		    inb < B - 2 * H)
			continue;
		file_put(env, PATH, img.data, (size_t)cut);
		check_read(env, PATH, &l, n - 1, 0, true, start);
	}
	file_put(env, PATH, img.data, img.len);
	check_read(env, PATH, &l, n, 0, false, 0);
	lsm_buf_free(&img);
	log_free(&l);
}

static void test_torn_small(void **state)
{
	const size_t sizes[] = { 3, 100, 0, 40 };
	torn_every_cut(*state, sizes, 4, 1);
	const size_t empty[] = { 0 };
	torn_every_cut(*state, empty, 1, 1);
}

/* The last record starts a little before a block boundary and crosses it. */
static void test_torn_across_block(void **state)
{
	const size_t sizes[] = { 10, B - 2 * H - 10 - 60, 200 };
	torn_every_cut(*state, sizes, 3, 1);
	/* ... and after a block-tail fill. */
	const size_t sizes2[] = { 10, B - 2 * H - 10 - 3, 200 };
	torn_every_cut(*state, sizes2, 3, 1);
}

static void test_torn_multi_block(void **state)
{
	const size_t sizes[] = { 1000, 5, 3 * B + 1234 };
	torn_every_cut(*state, sizes, 3, 97);
}

/* Zeros after the last record (the file system extended the file but the
 * data never landed) are a torn tail; zeros only inside a block-tail fill
 * are what the writer itself leaves, so the log is clean. */
static void test_zero_tail(void **state)
{
	lsm_env *env = *state;
	const size_t zlen[] = { 1, 6, 7, 8, 100, B, 3 * B + 11 };
	const size_t sizes[] = { 10, 300, 50 };
	lsm_buf img = {0};

	for (size_t i = 0; i < sizeof zlen / sizeof zlen[0]; i++) {
		struct log l = {0};
		write_log(env, PATH, sizes, 3, false, &l);
		file_get(env, PATH, &img);
		char *z = calloc(1, zlen[i]);
		assert_non_null(z);
		assert_int_equal(lsm_buf_append(&img, z, zlen[i]), 0);
		free(z);
		file_put(env, PATH, img.data, img.len);
		check_read(env, PATH, &l, 3, 0, true, l.ends[2]);
		log_free(&l);
	}
	/* The last record ends 4 bytes short of a block. */
	for (size_t extra = 0; extra <= B; extra += (extra < 8 ? 1 : B - 8)) {
		struct log l = {0};
		const size_t s2[] = { 10, B - 2 * H - 10 - 4 };
		write_log(env, PATH, s2, 2, false, &l);
		assert_true(l.ends[1] == B - 4);
		file_get(env, PATH, &img);
		char *z = calloc(1, extra + 1);
		assert_non_null(z);
		assert_int_equal(lsm_buf_append(&img, z, extra), 0);
		free(z);
		file_put(env, PATH, img.data, img.len);
		if (extra <= 4)
			check_read(env, PATH, &l, 2, 0, false, 0);
		else
			check_read(env, PATH, &l, 2, 0, true, B);
		log_free(&l);
	}
	lsm_buf_free(&img);
}

/*
 * Garbage (not zeros) after the last record: every good record still
 * reads back and no bogus record is handed out.  Garbage that is cut short
 * by the end of the file looks like an interrupted write and is a torn
 * tail; garbage spanning a whole fragment is not crash residue (a crash
 * leaves a short file or zeros), so it is reported as corruption at the
 * offset where it starts.
 */
static void expect_detail(uint64_t off);

static void test_garbage_tail(void **state)
{
	lsm_env *env = *state;
	const size_t sizes[] = { 10, 300, 50 };
	lsm_buf img = {0}, got = {0};
	int torn = 0, corrupt = 0;

	for (size_t len = 1; len < 3 * B; len = len * 3 + 1) {
		struct log l = {0};
		lsm_wal_reader *r;
		write_log(env, PATH, sizes, 3, false, &l);
		file_get(env, PATH, &img);
		for (size_t j = 0; j < len; j++) {
			char c = (char)(rnd() | 1);	/* never a zero byte */
			assert_int_equal(lsm_buf_append(&img, &c, 1), 0);
		}
		file_put(env, PATH, img.data, img.len);
		assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(lsm_wal_read(r, &got), 1);
		int rc = lsm_wal_read(r, &got);
		assert_int_equal(got.len, 0);
		if (rc == 0) {
			uint64_t off;
			assert_true(lsm_wal_reader_torn(r, &off));
			assert_true(off == l.ends[2]);
			torn++;
		} else {
			assert_int_equal(rc, LSM_E_CORRUPT);
			expect_detail(l.ends[2]);
			corrupt++;
		}
		lsm_wal_reader_close(r);
		log_free(&l);
	}
	/* a 1-byte tail is always cut short; long garbage spans fragments */
	assert_true(torn > 0);
	assert_true(corrupt > 0);
	lsm_buf_free(&img);
	lsm_buf_free(&got);
}

/* A complete last record with a flipped payload byte: nothing follows it,
 * but a crash cannot produce it, so it is corruption, not a torn tail. */
static void test_flipped_last_record(void **state)
{
	lsm_env *env = *state;
	const size_t sizes[] = { 10, 300, 50 };
	lsm_buf img = {0};
	struct log l = {0};
	write_log(env, PATH, sizes, 3, false, &l);
	file_get(env, PATH, &img);
	img.data[l.starts[2] + 7 + 20] ^= 0x10;
	file_put(env, PATH, img.data, img.len);
	check_read(env, PATH, &l, 2, LSM_E_CORRUPT, false, 0);
	expect_detail(l.starts[2]);
	log_free(&l);
	lsm_buf_free(&img);
}

/* ---- corruption before the tail ----------------------------------------- */

static void expect_detail(uint64_t off)
{
	char want[64];
	const char *d = lsm_errdetail();
	snprintf(want, sizeof want, "at offset %" PRIu64 ":", off);
	if (!strstr(d, PATH) || !strstr(d, want) ||
	    !strstr(d, "corrupt log record"))
		fail_msg("detail \"%s\" lacks path or \"%s\"", d, want);
}

/* Rewrite the log with img modified by fn, read, expect corruption at off
 * after `good` records. */
static void corrupt_case(lsm_env *env, const struct log *l, const lsm_buf *img,
			 size_t at, const void *bytes, size_t n, size_t good,
			 uint64_t off)
{
	lsm_buf bad = {0};
	assert_int_equal(lsm_buf_set(&bad, img->data, img->len), 0);
	memcpy(bad.data + at, bytes, n);
	file_put(env, PATH, bad.data, bad.len);
	check_read(env, PATH, l, good, LSM_E_CORRUPT, false, 0);
	/* check_read's second read repeated the error: detail intact */
	expect_detail(off);
	lsm_buf_free(&bad);
}

static void test_corrupt_middle(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	lsm_buf img = {0};
	/* record 3 spans blocks 0..3 (FIRST at 81, LAST at 3B, 109 bytes);
	 * record 4 ends 3 bytes short of block 4: a block-tail fill */
	const size_t sizes[] = { 10, 20, 30, 3 * B, B - 119, 0, 50, 60, 70, 80 };
	size_t n = sizeof sizes / sizeof sizes[0];

	write_log(env, PATH, sizes, n, false, &l);
	assert_true(l.starts[3] == 81 && l.ends[4] == 4 * B - 3);
	file_get(env, PATH, &img);
	char x = 0x5a, z[H] = {0};

	/* a flipped payload byte of record 1 */
	corrupt_case(env, &l, &img, l.starts[1] + H + 3, &x, 1, 1, l.starts[1]);
	/* its checksum */
	corrupt_case(env, &l, &img, l.starts[1], &x, 1, 1, l.starts[1]);
	/* its length: now overruns the block */
	char big[2] = { (char)0xff, (char)0xff };
	corrupt_case(env, &l, &img, l.starts[1] + 4, big, 2, 1, l.starts[1]);
	/* its type */
	char t9 = 9;
	corrupt_case(env, &l, &img, l.starts[1] + 6, &t9, 1, 1, l.starts[1]);
	/* the first record zeroed out entirely */
	char *zz = calloc(1, H + 10);
	assert_non_null(zz);
	corrupt_case(env, &l, &img, 0, zz, H + 10, 0, 0);
	free(zz);
	/* a MIDDLE fragment of the multi-block record (at block 1) */
	corrupt_case(env, &l, &img, B + H + 100, &x, 1, 3, B);
	/* its LAST fragment, at the start of block 3 */
	corrupt_case(env, &l, &img, 3 * B + 2, &x, 1, 3, 3 * B);
	/* a header zeroed */
	corrupt_case(env, &l, &img, l.starts[4], z, H, 4, l.starts[4]);
	/* non-zero bytes in a block-tail fill */
	corrupt_case(env, &l, &img, 4 * B - 1, &x, 1, 5, 4 * B - 3);
	/* a damaged second-to-last record: the last one still proves it is
	 * not a torn tail */
	corrupt_case(env, &l, &img, l.starts[n - 2] + H, &x, 1, n - 2,
		     l.starts[n - 2]);
	log_free(&l);
	lsm_buf_free(&img);
}

/* A block copied to another offset fails: the checksum covers the
 * fragment's offset, so two fragments identical but for their place
 * differ on disk. */
static void test_misplaced_block(void **state)
{
	lsm_env *env = *state;
	lsm_buf f = {0}, got = {0};
	lsm_wal_reader *r;
	char *p = malloc(B);

	assert_non_null(p);
	memset(p, 'x', B);
	put_frag(&f, LSM_WAL_FULL, p, B - H);
	put_frag(&f, LSM_WAL_FULL, p, B - H);
	put_frag(&f, LSM_WAL_FULL, "end", 3);
	/* the intact log reads back */
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(lsm_wal_read(r, &got), 0);
	lsm_wal_reader_close(r);
	/* block 0 copied over block 1 */
	memcpy(f.data + B, f.data, B);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(lsm_wal_read(r, &got), LSM_E_CORRUPT);
	expect_detail(B);
	assert_non_null(strstr(lsm_errdetail(), "checksum"));
	lsm_wal_reader_close(r);
	free(p);
	lsm_buf_free(&f);
	lsm_buf_free(&got);
}

/* Hand-built logs with fragment sequences the writer never produces. */
static void test_bad_sequences(void **state)
{
	lsm_env *env = *state;
	lsm_buf f = {0}, got = {0};
	lsm_wal_reader *r;
	uint64_t off;

	/* FULL, orphan LAST, FULL: corruption at the orphan */
	put_frag(&f, LSM_WAL_FULL, "a", 1);
	size_t orphan = f.len;
	put_frag(&f, LSM_WAL_LAST, "b", 1);
	put_frag(&f, LSM_WAL_FULL, "c", 1);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(got.len, 1);
	assert_int_equal(lsm_wal_read(r, &got), LSM_E_CORRUPT);
	expect_detail(orphan);
	lsm_wal_reader_close(r);

	/* orphan MIDDLE as the very first fragment */
	lsm_buf_clear(&f);
	put_frag(&f, LSM_WAL_MIDDLE, "b", 1);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), LSM_E_CORRUPT);
	expect_detail(0);
	lsm_wal_reader_close(r);

	/* FIRST, then FULL: the first record lost its end */
	lsm_buf_clear(&f);
	put_frag(&f, LSM_WAL_FULL, "a", 1);
	size_t first = f.len;
	put_frag(&f, LSM_WAL_FIRST, "xy", 2);
	put_frag(&f, LSM_WAL_FULL, "c", 1);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(lsm_wal_read(r, &got), LSM_E_CORRUPT);
	expect_detail(first);
	lsm_wal_reader_close(r);

	/* FIRST, MIDDLE, LAST inside one block is legal (another writer
	 * might cut records smaller); the reader joins them */
	lsm_buf_clear(&f);
	put_frag(&f, LSM_WAL_FIRST, "ab", 2);
	put_frag(&f, LSM_WAL_MIDDLE, "", 0);
	put_frag(&f, LSM_WAL_MIDDLE, "cd", 2);
	put_frag(&f, LSM_WAL_LAST, "e", 1);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(got.len, 5);
	assert_memory_equal(got.data, "abcde", 5);
	assert_true(lsm_wal_reader_offset(r) == f.len);
	assert_int_equal(lsm_wal_read(r, &got), 0);
	assert_false(lsm_wal_reader_torn(r, &off));
	lsm_wal_reader_close(r);

	/* FIRST, MIDDLE at the end of the file: torn at the FIRST */
	lsm_buf_clear(&f);
	put_frag(&f, LSM_WAL_FULL, "a", 1);
	size_t tstart = f.len;
	put_frag(&f, LSM_WAL_FIRST, "ab", 2);
	put_frag(&f, LSM_WAL_MIDDLE, "cd", 2);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(lsm_wal_read(r, &got), 0);
	assert_true(lsm_wal_reader_torn(r, &off));
	assert_true(off == tstart);
	lsm_wal_reader_close(r);

	/* a valid-checksum fragment of an unknown type, followed by a good
	 * record: corruption */
	lsm_buf_clear(&f);
	put_frag(&f, 7, "zz", 2);
	put_frag(&f, LSM_WAL_FULL, "a", 1);
	file_put(env, PATH, f.data, f.len);
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), LSM_E_CORRUPT);
	expect_detail(0);
	assert_non_null(strstr(lsm_errdetail(), "type 7"));
	lsm_wal_reader_close(r);

	lsm_buf_free(&f);
	lsm_buf_free(&got);
}

/* ---- robustness --------------------------------------------------------- */

/* Random files never crash the reader; it ends with 0 or corruption. */
static void test_random_garbage(void **state)
{
	lsm_env *env = *state;
	lsm_buf f = {0}, got = {0};

	for (int iter = 0; iter < 300; iter++) {
		size_t n = iter < 20 ? (size_t)iter : (size_t)(rnd() % (3 * B));
		lsm_buf_clear(&f);
		int mode = (int)(rnd() % 3);
		for (size_t j = 0; j < n; j++) {
			/* small bytes make plausible lengths and types */
			char c = (char)(mode == 0 ? rnd() : rnd() % 8);
			if (mode == 2 && rnd() % 4)
				c = 0;
			assert_int_equal(lsm_buf_append(&f, &c, 1), 0);
		}
		file_put(env, PATH, f.data, f.len);
		lsm_wal_reader *r;
		assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
		int rc;
		int guard = 0;
		while ((rc = lsm_wal_read(r, &got)) == 1)
			assert_true(++guard < 100000);
		assert_true(rc == 0 || rc == LSM_E_CORRUPT);
		lsm_wal_reader_close(r);
	}
	lsm_buf_free(&f);
	lsm_buf_free(&got);
}

/* Random damage to a valid log: the records returned are always a prefix
 * of those written (no damaged record ever comes back). */
static void test_random_damage(void **state)
{
	lsm_env *env = *state;
	struct log l = {0};
	lsm_buf img = {0}, bad = {0}, got = {0}, want = {0};
	size_t sizes[40];

	for (size_t i = 0; i < 40; i++)
		sizes[i] = rnd() % 8 == 0 ? rnd() % (2 * B) : rnd() % 500;
	write_log(env, PATH, sizes, 40, false, &l);
	file_get(env, PATH, &img);
	for (int iter = 0; iter < 300; iter++) {
		assert_int_equal(lsm_buf_set(&bad, img.data, img.len), 0);
		int flips = 1 + (int)(rnd() % 4);
		for (int k = 0; k < flips; k++)
			bad.data[rnd() % bad.len] ^= (char)(1 + rnd() % 255);
		if (rnd() % 2)
			bad.len = rnd() % bad.len;
		file_put(env, PATH, bad.data, bad.len);
		lsm_wal_reader *r;
		assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
		size_t i = 0;
		int rc;
		while ((rc = lsm_wal_read(r, &got)) == 1) {
			assert_true(i < l.n);
			fill_rec(&want, i, l.sizes[i]);
			assert_int_equal(got.len, want.len);
			if (want.len)
				assert_memory_equal(got.data, want.data,
						    want.len);
			i++;
		}
		assert_true(rc == 0 || rc == LSM_E_CORRUPT);
		lsm_wal_reader_close(r);
	}
	log_free(&l);
	lsm_buf_free(&img);
	lsm_buf_free(&bad);
	lsm_buf_free(&got);
	lsm_buf_free(&want);
}

static void test_open_missing(void **state)
{
	lsm_env *env = *state;
	lsm_wal_reader *r = (lsm_wal_reader *)1;
	assert_int_equal(lsm_wal_reader_open(env, "/nope.log", &r), -ENOENT);
	assert_null(r);
	/* an empty file is an empty, clean log */
	file_put(env, PATH, "", 0);
	lsm_buf got = {0};
	uint64_t off;
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	assert_int_equal(lsm_wal_read(r, &got), 0);
	assert_false(lsm_wal_reader_torn(r, &off));
	assert_true(lsm_wal_reader_offset(r) == 0);
	lsm_wal_reader_close(r);
	lsm_buf_free(&got);
}

/* ---- write errors ------------------------------------------------------- */

/* An env that forwards to a base env and fails chosen appends/syncs. */
struct fail_env {
	lsm_env env;
	lsm_env *base;
	int appends_left;	/* fail when it reaches 0; < 0: never */
	int syncs_left;
	int appends;
};

static struct fail_env *fe(lsm_env *e) { return (struct fail_env *)e; }

static int fe_open(lsm_env *e, const char *p, int fl, lsm_file **out)
{
	return fe(e)->base->open(fe(e)->base, p, fl, out);
}
static int fe_close(lsm_env *e, lsm_file *f)
{
	return fe(e)->base->close(fe(e)->base, f);
}
static int fe_pread(lsm_env *e, lsm_file *f, void *b, size_t n, uint64_t o,
		    size_t *got)
{
	return fe(e)->base->pread(fe(e)->base, f, b, n, o, got);
}
static int fe_append(lsm_env *e, lsm_file *f, const void *b, size_t n)
{
	fe(e)->appends++;
	if (fe(e)->appends_left >= 0 && fe(e)->appends_left-- == 0) {
		/* a short write: half of it lands */
		fe(e)->base->append(fe(e)->base, f, b, n / 2);
		return -EIO;
	}
	return fe(e)->base->append(fe(e)->base, f, b, n);
}
static int fe_sync(lsm_env *e, lsm_file *f)
{
	if (fe(e)->syncs_left >= 0 && fe(e)->syncs_left-- == 0)
		return -EIO;
	return fe(e)->base->sync(fe(e)->base, f);
}

static void fe_init(struct fail_env *f, lsm_env *base)
{
	memset(f, 0, sizeof *f);
	f->env.open = fe_open;
	f->env.close = fe_close;
	f->env.pread = fe_pread;
	f->env.append = fe_append;
	f->env.sync = fe_sync;
	f->base = base;
	f->appends_left = -1;
	f->syncs_left = -1;
}

static void test_append_error_latched(void **state)
{
	lsm_env *env = *state;
	struct fail_env f;
	lsm_file *file;
	lsm_wal_writer *w;
	lsm_buf rec = {0};
	struct log l = {0};

	fe_init(&f, env);
	assert_int_equal(env->open(env, PATH, LSM_OPEN_WRITE, &file), 0);
	assert_int_equal(lsm_wal_writer_new(&f.env, file, PATH, 0, &w), 0);
	f.appends_left = 2;
	l.n = 2;
	l.sizes = calloc(2, sizeof *l.sizes);
	l.ends = calloc(2, sizeof *l.ends);
	assert_non_null(l.sizes);
	assert_non_null(l.ends);
	for (size_t i = 0; i < 2; i++) {
		l.sizes[i] = 100 + i;
		fill_rec(&rec, i, l.sizes[i]);
		assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), 0);
		l.ends[i] = lsm_wal_size(w);
	}
	fill_rec(&rec, 2, 500);
	assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), -EIO);
	assert_true(lsm_wal_size(w) == l.ends[1]);
	assert_non_null(strstr(lsm_errdetail(), PATH));
	/* latched: no more appends reach the env, sync fails too */
	int before = f.appends;
	assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), -EIO);
	assert_int_equal(lsm_wal_sync(w), -EIO);
	assert_int_equal(f.appends, before);
	assert_int_equal(lsm_wal_writer_close(w), 0);
	/* the half-written record is a torn tail */
	check_read(env, PATH, &l, 2, 0, true, l.ends[1]);

	/* a failed sync latches too */
	assert_int_equal(env->open(env, PATH, LSM_OPEN_WRITE, &file), 0);
	assert_int_equal(lsm_wal_writer_new(&f.env, file, PATH, 0, &w), 0);
	f.appends_left = -1;
	f.syncs_left = 0;
	assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), 0);
	assert_int_equal(lsm_wal_sync(w), -EIO);
	assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), -EIO);
	assert_int_equal(lsm_wal_sync(w), -EIO);
	assert_int_equal(lsm_wal_writer_close(w), 0);

	lsm_buf_free(&rec);
	log_free(&l);
}

/* Group commit relies on one append per record (up to the chunk size). */
static void test_one_append_per_record(void **state)
{
	lsm_env *env = *state;
	struct fail_env f;
	lsm_file *file;
	lsm_wal_writer *w;
	lsm_buf rec = {0};
	const size_t sizes[] = { 0, 10, B, 3 * B + 7, 512 * 1024 };
	lsm_wal_reader *r;

	fe_init(&f, env);
	assert_int_equal(env->open(env, PATH, LSM_OPEN_WRITE, &file), 0);
	assert_int_equal(lsm_wal_writer_new(&f.env, file, PATH, 0, &w), 0);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int before = f.appends;
		fill_rec(&rec, i, sizes[i]);
		assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), 0);
		assert_int_equal(f.appends, before + 1);
	}
	/* an empty record given as a NULL slice */
	assert_int_equal(lsm_wal_add(w, lsm_slice_of(NULL, 0)), 0);
	/* a huge record is appended in bounded pieces, still readable */
	fill_rec(&rec, 9, 5u << 20);
	int before = f.appends;
	assert_int_equal(lsm_wal_add(w, lsm_buf_slice(&rec)), 0);
	assert_true(f.appends > before + 1);
	uint64_t sz = lsm_wal_size(w);
	assert_int_equal(lsm_wal_writer_close(w), 0);
	uint64_t fsz;
	assert_int_equal(env->size(env, PATH, &fsz), 0);
	assert_true(fsz == sz);
	lsm_buf got = {0}, want = {0};
	assert_int_equal(lsm_wal_reader_open(env, PATH, &r), 0);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		assert_int_equal(lsm_wal_read(r, &got), 1);
		fill_rec(&want, i, sizes[i]);
		assert_int_equal(got.len, want.len);
		if (want.len)
			assert_memory_equal(got.data, want.data, want.len);
	}
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(got.len, 0);
	assert_int_equal(lsm_wal_read(r, &got), 1);
	assert_int_equal(got.len, rec.len);
	assert_memory_equal(got.data, rec.data, rec.len);
	assert_int_equal(lsm_wal_read(r, &got), 0);
	assert_false(lsm_wal_reader_torn(r, NULL));
	lsm_wal_reader_close(r);
	lsm_buf_free(&got);
	lsm_buf_free(&want);
	lsm_buf_free(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_tails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_across_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_multi_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_last_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misplaced_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sequences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_error_latched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_append_per_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
