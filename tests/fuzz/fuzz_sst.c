/* libFuzzer target: the SST reader.  Opens the input as a table, walks it
 * both ways, looks keys up, verifies it.  Any crash, hang or sanitizer
 * report is a bug; errors are the expected outcome for garbage. */
#include <stdlib.h>
#include "fuzz_common.h"
#include "table.h"
#include "dbformat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_problem(void *ctx, uint64_t off, const char *msg)
{
	(void)ctx;
	(void)off;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_env *env = fuzz_env_with_file("/t.sst", data, size);
	lsm_table *t;
	lsm_cache *cache = lsm_cache_new(1 << 20);
	if (!env || !cache)
		abort();
	if (lsm_table_open(env, "/t.sst", size, cache, &t) == 0) {
		lsm_it *it = lsm_table_iter(t, true);
		int n = 0;
		for (lsm_it_seek_first(it); lsm_it_valid(it) && n < 10000; lsm_it_next(it), n++) {
			lsm_slice k = lsm_it_key(it);
			lsm_buf v = {0};
			int type;
			uint64_t seq;
			if (n % 7 == 0)
				lsm_table_get(t, lsm_ikey_user(k), LSM_SEQ_MAX, true, &v, &type, &seq);
			lsm_buf_free(&v);
		}
		for (lsm_it_seek_last(it); lsm_it_valid(it) && n < 20000; lsm_it_prev(it), n++)
			;
		lsm_it_seek(it, lsm_slice_of("k", 1));
		lsm_it_free(it);
		const lsm_rangedel *rd;
		lsm_table_rangedels(t, &rd);
		lsm_table_verify(t, on_problem, NULL);
		lsm_table_close(t);
	}
	lsm_cache_free(cache);
	env->destroy(env);
	return 0;
}
