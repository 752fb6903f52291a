/* Unit tests for bloom.c: no false negatives, the false-positive rate at
 * 10 bits per key, k clamping, malformed filters, and a frozen encoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include "bloom.h"

static lsm_slice *make_keys(size_t n, const char *fmt, char **store)
{
	lsm_slice *keys = malloc(n * sizeof *keys);
	*store = malloc(n * 32);
	for (size_t i = 0; i < n; i++) {
		char *p = *store + i * 32;
		int len = snprintf(p, 32, fmt, i);
		keys[i] = lsm_slice_of(p, (size_t)len);
	}
	return keys;
}

static void test_false_positive_rate(void **state)
{
	(void)state;
	const size_t n = 10000;
	char *s1, *s2;
	lsm_slice *in = make_keys(n, "present-%zu", &s1);
	lsm_slice *out = make_keys(n, "absent-%zu", &s2);
	lsm_buf f = {0};
	lsm_bloom_build(&f, in, n, 10);
	/* 10 bits per key, one byte of k */
	assert_int_equal(f.len, n * 10 / 8 + 1);
	assert_int_equal((unsigned char)f.data[f.len - 1], 7);
	for (size_t i = 0; i < n; i++)
		assert_true(lsm_bloom_may_match(lsm_buf_slice(&f), in[i]));
	size_t fp = 0;
	for (size_t i = 0; i < n; i++)
		fp += lsm_bloom_may_match(lsm_buf_slice(&f), out[i]);
	/* expected about 1% (0.8% for an ideal filter with k = 7) */
	print_message("false positives: %zu of %zu\n", fp, n);
	assert_true(fp < n * 2 / 100);
	lsm_buf_free(&f);
	free(in);
	free(out);
	free(s1);
	free(s2);
}

static void test_no_false_negatives_sizes(void **state)
{
	(void)state;
	size_t sizes[] = {1, 2, 7, 100, 1000, 5000};
	int bits[] = {1, 4, 10, 20};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
			char *st;
			lsm_slice *k = make_keys(sizes[s], "k%zu", &st);
			lsm_buf f = {0};
			lsm_bloom_build(&f, k, sizes[s], bits[b]);
			assert_true(f.len >= 9);	/* at least 64 bits */
			for (size_t i = 0; i < sizes[s]; i++)
				assert_true(lsm_bloom_may_match(lsm_buf_slice(&f), k[i]));
			lsm_buf_free(&f);
			free(k);
			free(st);
		}
	}
}

static void test_k_clamped(void **state)
{
	(void)state;
	lsm_slice k = lsm_slice_of("a", 1);
	lsm_buf f = {0};
	lsm_bloom_build(&f, &k, 1, 1);
	assert_int_equal((unsigned char)f.data[f.len - 1], 1);
	lsm_buf_clear(&f);
	lsm_bloom_build(&f, &k, 1, 100);
	assert_int_equal((unsigned char)f.data[f.len - 1], 30);
	assert_true(lsm_bloom_may_match(lsm_buf_slice(&f), k));
	lsm_buf_clear(&f);
	/* no filter: nothing appended */
	lsm_bloom_build(&f, &k, 1, 0);
	assert_int_equal(f.len, 0);
	lsm_buf_free(&f);
}

static void test_empty_set_and_malformed(void **state)
{
	(void)state;
	lsm_buf f = {0};
	lsm_bloom_build(&f, NULL, 0, 10);
	assert_int_equal(f.len, 9);
	/* an empty set matches nothing */
	assert_false(lsm_bloom_may_match(lsm_buf_slice(&f), lsm_slice_of("x", 1)));
	/* malformed filters match everything */
	assert_true(lsm_bloom_may_match(lsm_slice_of("", 0), lsm_slice_of("x", 1)));
	assert_true(lsm_bloom_may_match(lsm_slice_of("\x07", 1), lsm_slice_of("x", 1)));
	f.data[f.len - 1] = 0;
	assert_true(lsm_bloom_may_match(lsm_buf_slice(&f), lsm_slice_of("x", 1)));
	f.data[f.len - 1] = 31;
	assert_true(lsm_bloom_may_match(lsm_buf_slice(&f), lsm_slice_of("x", 1)));
	lsm_buf_free(&f);
}

static void test_appends(void **state)
{
	(void)state;
	lsm_buf f = {0};
	lsm_buf_append(&f, "hdr", 3);
	lsm_slice k = lsm_slice_of("key", 3);
	lsm_bloom_build(&f, &k, 1, 10);
	assert_memory_equal(f.data, "hdr", 3);
	assert_true(lsm_bloom_may_match(lsm_slice_of(f.data + 3, f.len - 3), k));
	lsm_buf_free(&f);
}

/* The encoding reaches disk: a filter built today must be bit-identical in
 * every later build (the golden checksum pins hash, probes and layout). */
static void test_frozen_encoding(void **state)
{
	(void)state;
	char *st;
	lsm_slice *k = make_keys(100, "frozen-%zu", &st);
	lsm_buf f = {0};
	lsm_bloom_build(&f, k, 100, 10);
	assert_int_equal(f.len, 126);
	assert_int_equal(lsm_checksum(f.data, f.len), 0x2ffe2749u);
	lsm_buf_free(&f);
	free(k);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_false_positive_rate),
		cmocka_unit_test(test_no_false_negatives_sizes),
		cmocka_unit_test(test_k_clamped),
		cmocka_unit_test(test_empty_set_and_malformed),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_frozen_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
