/* Unit tests for coding.c and status.c: integer coding, internal keys,
 * error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include "dbformat.h"

static void test_varint_roundtrip(void **state)
{
	(void)state;
	lsm_buf b = {0};
	uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX,
			   (uint64_t)1 << 35, UINT64_MAX};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		assert_int_equal(lsm_putv64(&b, vals[i]), 0);
	lsm_slice in = lsm_buf_slice(&b);
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		uint64_t v;
		assert_true(lsm_getv64(&in, &v));
		assert_true(v == vals[i]);
	}
	assert_int_equal(in.size, 0);
	/* truncated varint fails and does not overrun */
	char bad[2] = {(char)0x80, (char)0x80};
	lsm_slice t = lsm_slice_of(bad, 2);
	uint64_t v;
	assert_false(lsm_getv64(&t, &v));
	lsm_buf_free(&b);
}

static void test_fixed_and_lp(void **state)
{
	(void)state;
	lsm_buf b = {0};
	assert_int_equal(lsm_put32(&b, 0xdeadbeef), 0);
	assert_int_equal(lsm_put64(&b, 0x0102030405060708ull), 0);
	assert_int_equal(lsm_put_lp(&b, lsm_slice_of("hello", 5)), 0);
	lsm_slice in = lsm_buf_slice(&b), s;
	uint32_t a;
	uint64_t c;
	assert_true(lsm_get32(&in, &a));
	assert_true(a == 0xdeadbeef);
	assert_true(lsm_get64(&in, &c));
	assert_true(c == 0x0102030405060708ull);
	assert_true(lsm_get_lp(&in, &s));
	assert_int_equal(s.size, 5);
	assert_memory_equal(s.data, "hello", 5);
	assert_false(lsm_get32(&in, &a));
	lsm_buf_free(&b);
}

static void test_ikey_order(void **state)
{
	(void)state;
	lsm_buf a = {0}, b = {0}, c = {0};
	lsm_ikey_append(&a, lsm_slice_of("k", 1), 10, LSM_T_VAL);
	lsm_ikey_append(&b, lsm_slice_of("k", 1), 5, LSM_T_VAL);
	lsm_ikey_append(&c, lsm_slice_of("ka", 2), 99, LSM_T_DEL);
	/* newer version first, then longer key */
	assert_true(lsm_ikey_cmp(lsm_buf_slice(&a), lsm_buf_slice(&b)) < 0);
	assert_true(lsm_ikey_cmp(lsm_buf_slice(&b), lsm_buf_slice(&c)) < 0);
	lsm_slice uk;
	uint64_t seq;
	int ty;
	assert_true(lsm_ikey_parse(lsm_buf_slice(&c), &uk, &seq, &ty));
	assert_int_equal(seq, 99);
	assert_int_equal(ty, LSM_T_DEL);
	assert_false(lsm_ikey_parse(lsm_slice_of("short", 5), &uk, &seq, &ty));
	lsm_buf_free(&a);
	lsm_buf_free(&b);
	lsm_buf_free(&c);
}

static void test_errors(void **state)
{
	(void)state;
	assert_string_equal(lsm_strerror(LSM_E_CORRUPT), "corruption");
	assert_string_equal(lsm_strerror(-ENOENT), strerror(ENOENT));
	assert_int_equal(lsm_err(LSM_E_CORRUPT, "file %s offset %d", "x.sst", 7),
			 LSM_E_CORRUPT);
	assert_string_equal(lsm_errdetail(), "file x.sst offset 7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_roundtrip),
		cmocka_unit_test(test_fixed_and_lp),
		cmocka_unit_test(test_ikey_order),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
