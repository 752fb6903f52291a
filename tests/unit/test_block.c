/* Unit tests for block.c: building prefix-compressed blocks and iterating
 * them both ways, seeks across restart points, and damaged blocks giving
 * LSM_E_CORRUPT (never a crash). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include "block.h"

#define NKEYS 3000

static void make_key(char *buf, size_t cap, int i)
{
	/* shared prefixes of varying length exercise prefix compression */
	snprintf(buf, cap, "user/%04d/key-%06d", i / 100, i * 2);
}

static void make_val(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "value-%d-%.*s", i, i % 40, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static lsm_slice build(lsm_block_builder *bb, int interval, int n)
{
	char k[64], v[128];
	lsm_slice out;
	lsm_block_builder_init(bb, interval);
	assert_true(lsm_block_builder_empty(bb));
	for (int i = 0; i < n; i++) {
		make_key(k, sizeof k, i);
		make_val(v, sizeof v, i);
		assert_int_equal(lsm_block_builder_add(bb, lsm_slice_of(k, strlen(k)),
						       lsm_slice_of(v, strlen(v))), 0);
	}
	size_t est = lsm_block_builder_size_estimate(bb);
	assert_int_equal(lsm_block_builder_finish(bb, &out), 0);
	assert_int_equal(out.size, est);
	return out;
}

static void check_at(lsm_it *it, int i)
{
	char k[64], v[128];
	make_key(k, sizeof k, i);
	make_val(v, sizeof v, i);
	assert_true(lsm_it_valid(it));
	lsm_slice key = lsm_it_key(it), val = lsm_it_value(it);
	assert_int_equal(key.size, strlen(k));
	assert_memory_equal(key.data, k, key.size);
	assert_int_equal(val.size, strlen(v));
	assert_memory_equal(val.data, v, val.size);
}

static void roundtrip(int interval)
{
	lsm_block_builder bb;
	lsm_slice raw = build(&bb, interval, NKEYS);
	lsm_block b;
	assert_int_equal(lsm_block_init(&b, raw.data, raw.size), 0);
	lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, "t.sst", 0);
	assert_non_null(it);

	int i = 0;
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		check_at(it, i++);
	assert_int_equal(i, NKEYS);
	i = NKEYS;
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it))
		check_at(it, --i);
	assert_int_equal(i, 0);

	char k[64];
	for (i = 0; i < NKEYS; i++) {
		make_key(k, sizeof k, i);
		/* exact hit, then the step back crosses restart points */
		lsm_it_seek(it, lsm_slice_of(k, strlen(k)));
		check_at(it, i);
		lsm_it_prev(it);
		if (i == 0)
			assert_false(lsm_it_valid(it));
		else
			check_at(it, i - 1);
		/* a key just above key i lands on key i+1 */
		size_t n = strlen(k);
		k[n] = '!';
		lsm_it_seek(it, lsm_slice_of(k, n + 1));
		if (i + 1 == NKEYS)
			assert_false(lsm_it_valid(it));
		else
			check_at(it, i + 1);
	}
	lsm_it_seek(it, lsm_slice_of("", 0));
	check_at(it, 0);
	lsm_it_seek(it, lsm_slice_of("zzz", 3));
	assert_false(lsm_it_valid(it));
	/* mixed directions around a restart boundary */
	make_key(k, sizeof k, 2 * interval);
	lsm_it_seek(it, lsm_slice_of(k, strlen(k)));
	lsm_it_prev(it);
	lsm_it_prev(it);
	check_at(it, 2 * interval - 2);
	lsm_it_next(it);
	lsm_it_next(it);
	lsm_it_next(it);
	check_at(it, 2 * interval + 1);
	assert_int_equal(lsm_it_status(it), 0);
	lsm_it_free(it);
	lsm_block_builder_free(&bb);
}

static void test_roundtrip_interval16(void **state)
{
	(void)state;
	roundtrip(16);
}

static void test_roundtrip_interval1(void **state)
{
	(void)state;
	roundtrip(1);
}

static void test_roundtrip_interval3(void **state)
{
	(void)state;
	roundtrip(3);
}

static void test_empty_block(void **state)
{
	(void)state;
	lsm_block_builder bb;
	lsm_slice raw;
	lsm_block_builder_init(&bb, 16);
	assert_int_equal(lsm_block_builder_size_estimate(&bb), 8);
	assert_int_equal(lsm_block_builder_finish(&bb, &raw), 0);
	assert_int_equal(raw.size, 8);
	lsm_block b;
	assert_int_equal(lsm_block_init(&b, raw.data, raw.size), 0);
	lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, NULL, 0);
	lsm_it_seek_first(it);
	assert_false(lsm_it_valid(it));
	lsm_it_seek_last(it);
	assert_false(lsm_it_valid(it));
	lsm_it_seek(it, lsm_slice_of("a", 1));
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), 0);
	lsm_it_free(it);

	/* reset makes the builder reusable */
	lsm_block_builder_reset(&bb);
	assert_true(lsm_block_builder_empty(&bb));
	assert_int_equal(lsm_block_builder_add(&bb, lsm_slice_of("k", 1),
					       lsm_slice_of("v", 1)), 0);
	assert_false(lsm_block_builder_empty(&bb));
	assert_int_equal(lsm_block_builder_finish(&bb, &raw), 0);
	assert_int_equal(lsm_block_init(&b, raw.data, raw.size), 0);
	it = lsm_block_iter(&b, lsm_slice_cmp, NULL, 0);
	lsm_it_seek_last(it);
	assert_true(lsm_it_valid(it));
	assert_memory_equal(lsm_it_key(it).data, "k", 1);
	lsm_it_prev(it);
	assert_false(lsm_it_valid(it));
	lsm_it_free(it);
	lsm_block_builder_free(&bb);
}

static void test_long_keys(void **state)
{
	(void)state;
	/* keys longer than the iterator's inline buffer go to the heap */
	lsm_block_builder bb;
	lsm_slice raw;
	char k[600];
	lsm_block_builder_init(&bb, 4);
	for (int i = 0; i < 50; i++) {
		memset(k, 'a' + i % 3, sizeof k);
		snprintf(k, sizeof k, "%03d", i);
		k[3] = '-';
		assert_int_equal(lsm_block_builder_add(&bb,
			lsm_slice_of(k, 100 + (size_t)i * 10),
			lsm_slice_of(k, (size_t)i)), 0);
	}
	assert_int_equal(lsm_block_builder_finish(&bb, &raw), 0);
	lsm_block b;
	assert_int_equal(lsm_block_init(&b, raw.data, raw.size), 0);
	lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, NULL, 0);
	int i = 49;
	for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it), i--) {
		assert_int_equal(lsm_it_key(it).size, 100 + (size_t)i * 10);
		char p[16];
		snprintf(p, sizeof p, "%03d", i);
		assert_memory_equal(lsm_it_key(it).data, p, 3);
		assert_int_equal(lsm_it_value(it).size, (size_t)i);
	}
	assert_int_equal(i, -1);
	lsm_it_free(it);
	lsm_block_builder_free(&bb);
}

static void test_bad_trailer(void **state)
{
	(void)state;
	lsm_block b;
	char buf[16] = {0};
	assert_int_equal(lsm_block_init(&b, buf, 3), LSM_E_CORRUPT);
	/* restart count larger than the block */
	lsm_enc32(buf + 12, 100);
	assert_int_equal(lsm_block_init(&b, buf, 16), LSM_E_CORRUPT);
	/* zero restarts but entries present */
	lsm_enc32(buf + 12, 0);
	assert_int_equal(lsm_block_init(&b, buf, 16), LSM_E_CORRUPT);
	/* first restart not at 0 */
	lsm_enc32(buf + 8, 1);
	lsm_enc32(buf + 12, 1);
	assert_int_equal(lsm_block_init(&b, buf, 16), LSM_E_CORRUPT);
	/* restarts out of order */
	lsm_enc32(buf + 4, 0);
	lsm_enc32(buf + 8, 0);
	lsm_enc32(buf + 12, 2);
	assert_int_equal(lsm_block_init(&b, buf, 16), LSM_E_CORRUPT);
}

static void test_corrupt_entry_reports(void **state)
{
	(void)state;
	lsm_block_builder bb;
	lsm_slice raw = build(&bb, 16, 40);
	char *copy = malloc(raw.size);
	memcpy(copy, raw.data, raw.size);
	/* entry 0 claims a shared prefix with a key that does not exist */
	copy[0] = 5;
	lsm_block b;
	assert_int_equal(lsm_block_init(&b, copy, raw.size), 0);
	lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, "000042.sst", 4096);
	lsm_it_seek_first(it);
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), LSM_E_CORRUPT);
	assert_non_null(strstr(lsm_errdetail(), "000042.sst"));
	assert_non_null(strstr(lsm_errdetail(), "offset 4096"));
	/* the error sticks */
	lsm_it_seek_last(it);
	assert_false(lsm_it_valid(it));
	assert_int_equal(lsm_it_status(it), LSM_E_CORRUPT);
	lsm_it_free(it);
	free(copy);
	lsm_block_builder_free(&bb);
}

/* Every single-byte change must leave the reader safe (ASan checks the
 * "never overrun" part): init may fail, iteration may stop with an error. */
static void test_flip_every_byte(void **state)
{
	(void)state;
	lsm_block_builder bb;
	lsm_slice raw = build(&bb, 4, 60);
	char *copy = malloc(raw.size);
	for (size_t pos = 0; pos < raw.size; pos++) {
		for (int m = 0; m < 3; m++) {
			static const unsigned char masks[] = {0x01, 0x80, 0xff};
			memcpy(copy, raw.data, raw.size);
			copy[pos] ^= (char)masks[m];
			lsm_block b;
			if (lsm_block_init(&b, copy, raw.size) < 0)
				continue;
			lsm_it *it = lsm_block_iter(&b, lsm_slice_cmp, "f", 0);
			size_t n = 0;
			for (lsm_it_seek_first(it); lsm_it_valid(it) && n < 1000;
			     lsm_it_next(it))
				n++;
			for (lsm_it_seek_last(it); lsm_it_valid(it) && n < 2000;
			     lsm_it_prev(it))
				n++;
			lsm_it_seek(it, lsm_slice_of("user/0000/key-000050", 20));
			if (lsm_it_valid(it))
				lsm_it_prev(it);
			int st = lsm_it_status(it);
			assert_true(st == 0 || st == LSM_E_CORRUPT);
			lsm_it_free(it);
		}
	}
	free(copy);
	lsm_block_builder_free(&bb);
}

static void test_embedded_iterator(void **state)
{
	(void)state;
	lsm_block_builder bb;
	lsm_slice raw = build(&bb, 16, 100);
	lsm_block b;
	assert_int_equal(lsm_block_init(&b, raw.data, raw.size), 0);
	lsm_block_it it;
	lsm_block_it_init(&it, &b, lsm_slice_cmp, NULL, 0);
	assert_false(lsm_it_valid(&it.base));
	lsm_it_seek_first(&it.base);
	check_at(&it.base, 0);
	/* retarget onto the same bytes: positioned nowhere again */
	lsm_block_it_retarget(&it, &b, 0);
	assert_false(lsm_it_valid(&it.base));
	lsm_it_seek_last(&it.base);
	check_at(&it.base, 99);
	lsm_block_it_cleanup(&it);
	lsm_block_builder_free(&bb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_interval16),
		cmocka_unit_test(test_roundtrip_interval1),
		cmocka_unit_test(test_roundtrip_interval3),
		cmocka_unit_test(test_empty_block),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_bad_trailer),
		cmocka_unit_test(test_corrupt_entry_reports),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_embedded_iterator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
