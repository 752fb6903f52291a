/* Unit tests for version_edit.c: table metadata reference counting, and
 * the version-edit encoding (doc/manifest_format.md): round trips of every
 * field, every truncation and hand-made malformed edits rejected cleanly,
 * random bytes never crash the decoder. */
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
#include "dbformat.h"
#include "version_edit.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* A meta whose fields all differ and depend on seed. */
static lsm_file_meta *make_meta(uint64_t number, unsigned seed, size_t klen)
{
	lsm_file_meta *m = lsm_file_meta_new();
	char *k = malloc(klen + 1);

	assert_non_null(m);
	assert_non_null(k);
	for (size_t i = 0; i < klen; i++)
		k[i] = (char)(seed + i * 13);	/* includes zero bytes */
	assert_int_equal(lsm_ikey_append(&m->smallest, lsm_slice_of(k, klen),
					 seed + 1, LSM_T_VAL), 0);
	k[0] = (char)(k[0] + 1);
	assert_int_equal(lsm_ikey_append(&m->largest, lsm_slice_of(k, klen),
					 seed + 2, LSM_T_RANGEDEL), 0);
	free(k);
	m->number = number;
	m->size = 1000 + seed;
	m->min_seq = seed + 1;
	m->max_seq = seed + 2;
	m->entries = 3000 + seed;
	m->deletions = 4000 + seed;
	m->range_deletions = 5000 + seed;
	m->raw_bytes = 6000 + seed;
	return m;
}

static void assert_meta_eq(const lsm_file_meta *a, const lsm_file_meta *b)
{
	assert_true(a->number == b->number);
	assert_true(a->size == b->size);
	assert_true(lsm_slice_eq(lsm_buf_slice(&a->smallest),
				 lsm_buf_slice(&b->smallest)));
	assert_true(lsm_slice_eq(lsm_buf_slice(&a->largest),
				 lsm_buf_slice(&b->largest)));
	assert_true(a->min_seq == b->min_seq);
	assert_true(a->max_seq == b->max_seq);
	assert_true(a->entries == b->entries);
	assert_true(a->deletions == b->deletions);
	assert_true(a->range_deletions == b->range_deletions);
	assert_true(a->raw_bytes == b->raw_bytes);
}

static void assert_edit_eq(const lsm_version_edit *a, const lsm_version_edit *b)
{
	assert_int_equal(a->has_format, b->has_format);
	if (a->has_format)
		assert_int_equal(a->format, b->format);
	assert_int_equal(a->has_log_number, b->has_log_number);
	if (a->has_log_number)
		assert_true(a->log_number == b->log_number);
	assert_int_equal(a->has_next_file, b->has_next_file);
	if (a->has_next_file)
		assert_true(a->next_file == b->next_file);
	assert_int_equal(a->has_last_seq, b->has_last_seq);
	if (a->has_last_seq)
		assert_true(a->last_seq == b->last_seq);
	assert_int_equal(a->ndels, b->ndels);
	for (size_t i = 0; i < a->ndels; i++) {
		assert_int_equal(a->dels[i].level, b->dels[i].level);
		assert_true(a->dels[i].number == b->dels[i].number);
	}
	assert_int_equal(a->nadds, b->nadds);
	for (size_t i = 0; i < a->nadds; i++) {
		assert_int_equal(a->adds[i].level, b->adds[i].level);
		assert_meta_eq(a->adds[i].meta, b->adds[i].meta);
	}
}

/* An edit with every field set, several deletions and additions, extreme
 * values. */
static void full_edit(lsm_version_edit *e)
{
	lsm_edit_init(e);
	e->has_format = true;
	e->format = LSM_MANIFEST_FORMAT;
	e->has_log_number = true;
	e->log_number = 12345;
	e->has_next_file = true;
	e->next_file = UINT64_MAX;
	e->has_last_seq = true;
	e->last_seq = LSM_SEQ_MAX;
	assert_int_equal(lsm_edit_del_file(e, 0, 7), 0);
	assert_int_equal(lsm_edit_del_file(e, LSM_MAX_LEVELS - 1, UINT64_MAX), 0);
	assert_int_equal(lsm_edit_del_file(e, 3, 0), 0);
	const size_t klens[] = { 0, 1, 300, 5000 };
	for (int i = 0; i < 4; i++) {
		lsm_file_meta *m = make_meta(100 + (uint64_t)i, (unsigned)i * 7,
					     klens[i]);
		assert_int_equal(lsm_edit_add_file(e, i * 2, m), 0);
		lsm_file_meta_unref(m);	/* the edit keeps it alive */
	}
	lsm_file_meta *m = make_meta(UINT64_MAX, 255, 8);
	m->size = UINT64_MAX;
	m->min_seq = 0;
	m->max_seq = LSM_SEQ_MAX;
	m->entries = m->deletions = m->range_deletions = m->raw_bytes =
		UINT64_MAX;
	assert_int_equal(lsm_edit_add_file(e, 1, m), 0);
	lsm_file_meta_unref(m);
}

static void test_roundtrip_full(void **state)
{
	(void)state;
	lsm_version_edit e, d;
	lsm_buf b = {0};

	full_edit(&e);
	lsm_edit_init(&d);
	assert_int_equal(lsm_edit_encode(&e, &b), 0);
	assert_int_equal(lsm_edit_decode(&d, lsm_buf_slice(&b)), 0);
	assert_edit_eq(&e, &d);
	for (size_t i = 0; i < d.nadds; i++) {
		/* decoded metas: one ref (the edit's), level filled in */
		assert_int_equal(d.adds[i].meta->refs, 1);
		assert_int_equal(d.adds[i].meta->level, d.adds[i].level);
	}
	/* re-encoding the decoded edit gives the same bytes */
	lsm_buf b2 = {0};
	assert_int_equal(lsm_edit_encode(&d, &b2), 0);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	/* encode appends, leaving what out held */
	assert_int_equal(lsm_buf_set(&b2, "xyz", 3), 0);
	assert_int_equal(lsm_edit_encode(&e, &b2), 0);
	assert_int_equal(b2.len, b.len + 3);
	assert_memory_equal(b2.data, "xyz", 3);
	assert_memory_equal(b2.data + 3, b.data, b.len);
	lsm_edit_clear(&e);
	lsm_edit_clear(&d);
	lsm_buf_free(&b);
	lsm_buf_free(&b2);
}

/* Each field alone, and none at all. */
static void test_roundtrip_partial(void **state)
{
	(void)state;
	lsm_buf b = {0};
	lsm_version_edit e, d;

	lsm_edit_init(&d);
	for (int which = 0; which < 7; which++) {
		lsm_edit_init(&e);
		switch (which) {
		case 0: break;
		case 1: e.has_format = true; e.format = 1; break;
		case 2: e.has_log_number = true; e.log_number = 0; break;
		case 3: e.has_next_file = true; e.next_file = 1u << 20; break;
		case 4: e.has_last_seq = true; e.last_seq = 0; break;
		case 5:
			assert_int_equal(lsm_edit_del_file(&e, 6, 99), 0);
			break;
		case 6: {
			lsm_file_meta *m = make_meta(5, 1, 3);
			assert_int_equal(lsm_edit_add_file(&e, 0, m), 0);
			assert_int_equal(m->refs, 2);
			lsm_file_meta_unref(m);
			break;
		}
		}
		lsm_buf_clear(&b);
		assert_int_equal(lsm_edit_encode(&e, &b), 0);
		if (which == 0)
			assert_int_equal(b.len, 1);	/* just END */
		assert_int_equal(lsm_edit_decode(&d, lsm_buf_slice(&b)), 0);
		assert_edit_eq(&e, &d);
		lsm_edit_clear(&e);
	}
	lsm_edit_clear(&d);
	lsm_buf_free(&b);
}

/* The tag numbers are frozen: a hand-written encoding decodes. */
static void test_format_frozen(void **state)
{
	(void)state;
	lsm_version_edit d;
	const char enc[] = {
		1, 1,			/* FORMAT 1 */
		2, 9,			/* LOG_NUMBER 9 */
		3, (char)0x80, 1,	/* NEXT_FILE 128 */
		4, 42,			/* LAST_SEQ 42 */
		5, 2, 17,		/* DEL_FILE L2 #17 */
		6, 1, 18, 100,		/* ADD_FILE L1 #18 size 100 */
		9, 'a', 1, 0, 0, 0, 0, 0, 0, 0, /* smallest "a"@0 VAL */
		9, 'b', 1, 0, 0, 0, 0, 0, 0, 0, /* largest */
		0, 1, 2, 3, 4, 5,	/* min/max seq, entries, dels, rds, raw */
		7,			/* END */
	};
	lsm_edit_init(&d);
	assert_int_equal(lsm_edit_decode(&d, lsm_slice_of(enc, sizeof enc)), 0);
	assert_true(d.has_format && d.format == 1);
	assert_true(d.has_log_number && d.log_number == 9);
	assert_true(d.has_next_file && d.next_file == 128);
	assert_true(d.has_last_seq && d.last_seq == 42);
	assert_int_equal(d.ndels, 1);
	assert_int_equal(d.dels[0].level, 2);
	assert_true(d.dels[0].number == 17);
	assert_int_equal(d.nadds, 1);
	const lsm_file_meta *m = d.adds[0].meta;
	assert_int_equal(d.adds[0].level, 1);
	assert_true(m->number == 18 && m->size == 100);
	assert_int_equal(m->smallest.len, 9);
	assert_int_equal(m->smallest.data[0], 'a');
	assert_int_equal(m->largest.data[0], 'b');
	assert_true(m->min_seq == 0 && m->max_seq == 1 && m->entries == 2 &&
		    m->deletions == 3 && m->range_deletions == 4 &&
		    m->raw_bytes == 5);
	/* and encoding the decoded edit gives these bytes back */
	lsm_buf b = {0};
	assert_int_equal(lsm_edit_encode(&d, &b), 0);
	assert_int_equal(b.len, sizeof enc);
	assert_memory_equal(b.data, enc, sizeof enc);
	lsm_edit_clear(&d);
	lsm_buf_free(&b);
}

static void expect_fail(const char *p, size_t n, int code, const char *why)
{
	lsm_version_edit d;
	lsm_edit_init(&d);
	/* pre-fill so we see decode clears on failure */
	assert_int_equal(lsm_edit_del_file(&d, 1, 1), 0);
	int rc = lsm_edit_decode(&d, lsm_slice_of(p, n));
	if (rc != code)
		fail_msg("%s: decode returned %d, wanted %d (%s)", why, rc,
			 code, lsm_errdetail());
	assert_non_null(strstr(lsm_errdetail(), "version edit"));
	if (why && !strstr(lsm_errdetail(), why))
		fail_msg("detail \"%s\" lacks \"%s\"", lsm_errdetail(), why);
	assert_int_equal(d.ndels, 0);
	assert_int_equal(d.nadds, 0);
	assert_null(d.dels);
	assert_false(d.has_format || d.has_log_number || d.has_next_file ||
		     d.has_last_seq);
}

/* Every strict prefix of a valid encoding fails: fields cut short, or the
 * END tag missing. */
static void test_truncations(void **state)
{
	(void)state;
	lsm_version_edit e;
	lsm_buf b = {0};

	full_edit(&e);
	assert_int_equal(lsm_edit_encode(&e, &b), 0);
	/* exact-size copies so ASan catches any read past the end */
	for (size_t n = 0; n < b.len; n++) {
		char *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, b.data, n);
		expect_fail(p, n, LSM_E_CORRUPT, NULL);
		free(p);
	}
	lsm_edit_clear(&e);
	lsm_buf_free(&b);
}

static void test_malformed(void **state)
{
	(void)state;
	/* level out of range, in a deletion and in an addition */
	const char d7[] = { 5, 7, 1, 7 };
	expect_fail(d7, sizeof d7, LSM_E_CORRUPT, "level out of range at byte 1");
	const char dhuge[] = { 5, (char)0xff, (char)0xff, (char)0xff,
			       (char)0xff, 0x0f, 1, 7 };
	expect_fail(dhuge, sizeof dhuge, LSM_E_CORRUPT, "level out of range");
	const char a7[] = { 6, 7, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0,
			    8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
	expect_fail(a7, sizeof a7, LSM_E_CORRUPT, "level out of range");
	/* the same addition at level 6 is fine */
	char a6[sizeof a7];
	memcpy(a6, a7, sizeof a7);
	a6[1] = 6;
	lsm_version_edit d;
	lsm_edit_init(&d);
	assert_int_equal(lsm_edit_decode(&d, lsm_slice_of(a6, sizeof a6)), 0);
	lsm_edit_clear(&d);
	/* keys shorter than a trailer */
	char short_key[sizeof a7];
	memcpy(short_key, a6, sizeof a6);
	short_key[13] = 0;	/* largest: empty, leaving 8 stray bytes */
	expect_fail(short_key, sizeof short_key, LSM_E_CORRUPT, NULL);
	/* min_seq above max_seq */
	char minmax[sizeof a7];
	memcpy(minmax, a6, sizeof a6);
	minmax[22] = 5;
	expect_fail(minmax, sizeof minmax, LSM_E_CORRUPT, "min_seq");
	/* a key length far beyond the record: no huge allocation */
	const char klen[] = { 6, 0, 1, 1, (char)0xff, (char)0xff, (char)0xff,
			      (char)0xff, 0x0f, 'a' };
	expect_fail(klen, sizeof klen, LSM_E_CORRUPT, "smallest");
	/* unknown tags, including 0 and a large one */
	const char unk[] = { 8, 1, 7 };
	expect_fail(unk, sizeof unk, LSM_E_CORRUPT, "unknown tag 8 at byte 0");
	const char unk0[] = { 2, 1, 0, 7 };
	expect_fail(unk0, sizeof unk0, LSM_E_CORRUPT, "unknown tag 0 at byte 2");
	const char unkbig[] = { (char)0x81, 0x01, 7 };
	expect_fail(unkbig, sizeof unkbig, LSM_E_CORRUPT, "unknown tag 129");
	/* an overlong varint */
	const char overlong[] = { 2, (char)0xff, (char)0xff, (char)0xff,
				  (char)0xff, (char)0xff, (char)0xff,
				  (char)0xff, (char)0xff, (char)0xff, 0x7f, 7 };
	expect_fail(overlong, sizeof overlong, LSM_E_CORRUPT, "log number");
	/* a scalar tag twice */
	const char twice[] = { 2, 1, 2, 2, 7 };
	expect_fail(twice, sizeof twice, LSM_E_CORRUPT, "repeated at byte 2");
	/* last sequence beyond the 56-bit range */
	const char seq[] = { 4, (char)0xff, (char)0xff, (char)0xff, (char)0xff,
			     (char)0xff, (char)0xff, (char)0xff, (char)0xff,
			     0x01, 7 };
	expect_fail(seq, sizeof seq, LSM_E_CORRUPT, "last sequence");
	/* formats: 0 is corrupt, newer than ours is a version error */
	const char f0[] = { 1, 0, 7 };
	expect_fail(f0, sizeof f0, LSM_E_CORRUPT, "format 0");
	const char f2[] = { 1, LSM_MANIFEST_FORMAT + 1, 7 };
	expect_fail(f2, sizeof f2, LSM_E_VERSION, "newer");
	/* bytes after END */
	const char after[] = { 2, 1, 7, 0 };
	expect_fail(after, sizeof after, LSM_E_CORRUPT, "after the end tag");
	const char after2[] = { 7, 7 };
	expect_fail(after2, sizeof after2, LSM_E_CORRUPT, "at byte 1");
	/* no END */
	expect_fail("\x02\x01", 2, LSM_E_CORRUPT, "end tag at byte 2");
	expect_fail("", 0, LSM_E_CORRUPT, "end tag at byte 0");
}

/* Random bytes and random damage to a valid encoding never crash, never
 * leak (ASan), and leave the edit empty on failure. */
static void test_random(void **state)
{
	(void)state;
	lsm_version_edit e, d;
	lsm_buf b = {0}, r = {0};

	full_edit(&e);
	assert_int_equal(lsm_edit_encode(&e, &b), 0);
	lsm_edit_init(&d);
	for (int iter = 0; iter < 20000; iter++) {
		lsm_buf_clear(&r);
		if (iter % 2) {
			size_t n = rnd() % 64;
			for (size_t i = 0; i < n; i++) {
				/* small values hit real tags and levels */
				char c = (char)(rnd() % 3 ? rnd() % 9 : rnd());
				assert_int_equal(lsm_buf_append(&r, &c, 1), 0);
			}
		} else {
			assert_int_equal(lsm_buf_set(&r, b.data, b.len), 0);
			int flips = 1 + (int)(rnd() % 3);
			for (int k = 0; k < flips; k++)
				r.data[rnd() % r.len] = (char)rnd();
			if (rnd() % 4 == 0)
				r.len = rnd() % r.len;
		}
		char *p = malloc(r.len + 1);
		assert_non_null(p);
		if (r.len)
			memcpy(p, r.data, r.len);
		int rc = lsm_edit_decode(&d, lsm_slice_of(p, r.len));
		free(p);
		assert_true(rc == 0 || rc == LSM_E_CORRUPT ||
			    rc == LSM_E_VERSION);
		if (rc == 0) {
			/* whatever decodes re-encodes */
			lsm_buf o = {0};
			assert_int_equal(lsm_edit_encode(&d, &o), 0);
			lsm_buf_free(&o);
		} else {
			assert_int_equal(d.nadds + d.ndels, 0);
		}
	}
	lsm_edit_clear(&d);
	lsm_edit_clear(&e);
	lsm_buf_free(&b);
	lsm_buf_free(&r);
}

/* encode refuses what decode would reject, leaving out untouched. */
static void test_encode_invalid(void **state)
{
	(void)state;
	lsm_version_edit e;
	lsm_buf b = {0};
	lsm_file_meta *m = make_meta(1, 1, 4);

	lsm_edit_init(&e);
	assert_int_equal(lsm_edit_add_file(&e, -1, m), LSM_E_INVALID);
	assert_int_equal(lsm_edit_add_file(&e, LSM_MAX_LEVELS, m), LSM_E_INVALID);
	assert_int_equal(lsm_edit_del_file(&e, LSM_MAX_LEVELS, 1), LSM_E_INVALID);
	assert_int_equal(lsm_edit_add_file(&e, 0, NULL), LSM_E_INVALID);
	assert_int_equal(m->refs, 1);
	assert_int_equal(lsm_edit_add_file(&e, 0, m), 0);
	assert_int_equal(lsm_buf_set(&b, "ab", 2), 0);
	m->min_seq = m->max_seq + 1;
	assert_int_equal(lsm_edit_encode(&e, &b), LSM_E_INVALID);
	assert_int_equal(b.len, 2);
	m->min_seq = 0;
	lsm_buf_clear(&m->largest);
	assert_int_equal(lsm_edit_encode(&e, &b), LSM_E_INVALID);
	assert_int_equal(lsm_ikey_append(&m->largest, lsm_slice_of("z", 1), 1,
					 LSM_T_VAL), 0);
	assert_int_equal(lsm_edit_encode(&e, &b), 0);
	lsm_edit_clear(&e);
	lsm_edit_init(&e);
	e.has_format = true;
	e.format = 0;
	lsm_buf_clear(&b);
	assert_int_equal(lsm_edit_encode(&e, &b), LSM_E_INVALID);
	e.format = 1;
	e.has_last_seq = true;
	e.last_seq = LSM_SEQ_MAX + 1;
	assert_int_equal(lsm_edit_encode(&e, &b), LSM_E_INVALID);
	assert_int_equal(b.len, 0);
	lsm_edit_clear(&e);
	lsm_file_meta_unref(m);
	lsm_buf_free(&b);
}

/* Decoding into an edit that holds metas drops them (no leak under ASan). */
static void test_decode_clears(void **state)
{
	(void)state;
	lsm_version_edit e, d;
	lsm_buf b = {0};

	full_edit(&e);
	assert_int_equal(lsm_edit_encode(&e, &b), 0);
	full_edit(&d);
	lsm_file_meta *kept = d.adds[0].meta;
	lsm_file_meta_ref(kept);
	assert_int_equal(lsm_edit_decode(&d, lsm_buf_slice(&b)), 0);
	assert_int_equal(kept->refs, 1);	/* d let go of its ref */
	assert_edit_eq(&e, &d);
	lsm_file_meta_unref(kept);
	/* a second decode into the same edit */
	assert_int_equal(lsm_edit_decode(&d, lsm_buf_slice(&b)), 0);
	assert_edit_eq(&e, &d);
	lsm_edit_clear(&d);
	lsm_edit_clear(&d);	/* clear of a cleared edit is fine */
	lsm_edit_clear(&e);
	lsm_buf_free(&b);
}

static void test_meta_dup_and_refs(void **state)
{
	(void)state;
	lsm_file_meta *m = make_meta(9, 3, 20);
	m->level = 4;
	m->being_compacted = true;
	m->marked = true;
	m->table_handle = m;
	lsm_file_meta_ref(m);
	assert_int_equal(m->refs, 2);

	lsm_file_meta *d = lsm_file_meta_dup(m);
	assert_non_null(d);
	assert_meta_eq(m, d);
	assert_int_equal(d->refs, 1);
	assert_int_equal(d->level, 0);
	assert_false(d->being_compacted);
	assert_false(d->marked);
	assert_null(d->table_handle);
	assert_ptr_not_equal(d->smallest.data, m->smallest.data);
	lsm_file_meta_unref(d);

	lsm_file_meta *z = lsm_file_meta_new();
	assert_non_null(z);
	assert_int_equal(z->refs, 1);
	assert_true(z->number == 0 && z->smallest.len == 0 && !z->table_handle);
	lsm_file_meta_unref(z);
	lsm_file_meta_unref(NULL);

	lsm_file_meta_unref(m);
	assert_int_equal(m->refs, 1);
	lsm_file_meta_unref(m);	/* freed: ASan reports a leak otherwise */
}

#define NTHREADS 4
#define NROUNDS 100000

static void *ref_worker(void *arg)
{
	lsm_file_meta *m = arg;
	for (int i = 0; i < NROUNDS; i++) {
		lsm_file_meta_ref(m);
		lsm_file_meta_unref(m);
	}
	return NULL;
}

/* References taken and dropped from several threads balance out. */
static void test_refs_threads(void **state)
{
	(void)state;
	lsm_file_meta *m = make_meta(1, 1, 4);
	pthread_t t[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ref_worker, m), 0);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(m->refs, 1);
	lsm_file_meta_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_roundtrip_partial),
		cmocka_unit_test(test_format_frozen),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_encode_invalid),
		cmocka_unit_test(test_decode_clears),
		cmocka_unit_test(test_meta_dup_and_refs),
		cmocka_unit_test(test_refs_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
