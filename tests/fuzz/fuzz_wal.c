/* libFuzzer target: the log reader (WAL and manifest framing), then each
 * record decoded as a write batch the way recovery does. */
#include <stdlib.h>
#include "fuzz_common.h"
#include "wal.h"
#include "memtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* from batch.c, internal */
int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep);
int lsm_batch_insert(const lsm_batch *b, lsm_memtable *mem);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_env *env = fuzz_env_with_file("/0.log", data, size);
	lsm_wal_reader *r;
	lsm_buf rec = {0};
	lsm_batch *b = lsm_batch_new();
	lsm_memtable *m = lsm_mem_new();
	if (!env || !b || !m)
		abort();
	if (lsm_wal_reader_open(env, "/0.log", &r) == 0) {
		while (lsm_wal_read(r, &rec) == 1) {
			if (lsm_batch_set_rep(b, lsm_buf_slice(&rec)) == 0)
				lsm_batch_insert(b, m);
		}
		uint64_t off;
		lsm_wal_reader_torn(r, &off);
		lsm_wal_reader_close(r);
	}
	lsm_buf_free(&rec);
	lsm_batch_free(b);
	lsm_mem_unref(m);
	env->destroy(env);
	return 0;
}
