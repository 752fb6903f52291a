/*
 * engine_lsm.c — db_bench's adapter for our engine (lsm/lsm.h).
 *
 * Settings: lsm_options_init's defaults, overridden by bench_conf (write
 * buffer, bloom bits, block cache, block size, open tables) and zstd level 1
 * or no compression.  Writes are not synced (the WAL is written, not
 * fsync'ed), as for the peers.
 * Threads: one workload thread per process (see bench.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"
#include "lsm.h"

static void lsm_describe(const bench_conf *c, char *buf, size_t len)
{
	lsm_options o;
	lsm_options_init(&o);
	snprintf(buf, len,
		 "compression %s%d (L0/L1: %d), bloom %d bits/key, block cache %zu MiB, "
		 "write buffer %zu MiB x(1+%d), block %zu B, table %zu MiB, "
		 "L1 %llu MiB x%d, L0 triggers %d/%d/%d, %d compaction thread(s)",
		 c->compression ? "zstd " : "none", c->compression ? c->zstd_level : 0,
		 c->compression ? o.compression_l0l1 : 0, c->bloom_bits,
		 c->cache_bytes >> 20, c->write_buffer >> 20, c->max_immutable,
		 c->block_size, o.target_file_size >> 20,
		 (unsigned long long)(o.level_base_bytes >> 20),
		 o.level_multiplier, o.l0_compaction_trigger,
		 o.l0_slowdown_trigger, o.l0_stop_trigger, o.compaction_threads);
}

static int lsm_b_check(int rc, const char *what)
{
	if (rc < 0 && rc != LSM_E_NOTFOUND)
		return bench_fail(rc, "lsm %s: %s: %s", what, lsm_strerror(rc),
				  lsm_errdetail());
	return rc;
}

static int lsm_b_open(const bench_conf *c, const char *dir, void **out)
{
	lsm_options o;
	lsm_options_init(&o);
	o.create_if_missing = true;
	o.write_buffer_size = c->write_buffer;
	o.max_immutable = c->max_immutable;
	o.compression = c->compression ? c->zstd_level : 0;
	o.bloom_bits_per_key = c->bloom_bits;
	o.block_cache_size = c->cache_bytes;
	o.block_size = c->block_size;
	o.max_open_tables = c->max_open_files;
	lsm_db *db = NULL;
	int rc = lsm_b_check(lsm_open(dir, &o, &db), "open");
	if (rc < 0)
		return rc;
	*out = db;
	return 0;
}

static void lsm_b_close(void *db)
{
	int rc = lsm_close(db);
	if (rc < 0)
		fprintf(stderr, "db_bench: lsm close: %s: %s\n", lsm_strerror(rc),
			lsm_errdetail());
}

static const lsm_write_options wopt = { .sync = false };
static const lsm_read_options ropt = { .fill_cache = true };

static int lsm_b_put(void *db, const char *k, size_t kl, const char *v, size_t vl)
{
	return lsm_b_check(lsm_put(db, &wopt, k, kl, v, vl), "put");
}

static int lsm_b_del(void *db, const char *k, size_t kl)
{
	return lsm_b_check(lsm_delete(db, &wopt, k, kl), "delete");
}

static int lsm_b_get(void *db, const char *k, size_t kl, bool *found, size_t *vlen)
{
	void *v = NULL;
	int rc = lsm_get(db, &ropt, k, kl, &v, vlen);
	*found = rc == 0;
	free(v);
	if (rc == LSM_E_NOTFOUND)
		return 0;
	return lsm_b_check(rc, "get");
}

static int lsm_b_compact(void *db)
{
	return lsm_b_check(lsm_compact_range(db, NULL, 0, NULL, 0), "compact_range");
}

static int lsm_b_it_new(void *db, void **it)
{
	lsm_iter *i = NULL;
	int rc = lsm_b_check(lsm_iter_new(db, &ropt, &i), "iter_new");
	if (rc < 0)
		return rc;
	*it = i;
	return 0;
}

static void lsm_b_it_free(void *it) { lsm_iter_free(it); }
static void lsm_b_it_seek(void *it, const char *k, size_t kl) { lsm_iter_seek(it, k, kl); }
static void lsm_b_it_first(void *it) { lsm_iter_seek_first(it); }
static bool lsm_b_it_valid(void *it) { return lsm_iter_valid(it); }
static void lsm_b_it_next(void *it) { lsm_iter_next(it); }

static const char *lsm_b_it_key(void *it, size_t *len)
{
	return lsm_iter_key(it, len);
}

static const char *lsm_b_it_value(void *it, size_t *len)
{
	return lsm_iter_value(it, len);
}

static int lsm_b_it_status(void *it)
{
	return lsm_b_check(lsm_iter_status(it), "iterator");
}

static int lsm_b_written(void *db, uint64_t *engine_bytes, uint64_t *user_bytes)
{
	lsm_stats st;
	int rc = lsm_b_check(lsm_get_stats(db, &st), "get_stats");
	if (rc < 0)
		return rc;
	*engine_bytes = st.wal_bytes_written + st.flush_bytes_written +
			st.compaction_bytes_written;
	*user_bytes = st.user_bytes_written;
	return 0;
}

static void lsm_b_shape(void *db, char *buf, size_t len)
{
	lsm_stats st;
	size_t off = 0;
	buf[0] = 0;
	if (lsm_get_stats(db, &st) < 0)
		return;
	for (int l = 0; l < st.num_levels && off < len; l++) {
		if (!st.level[l].tables)
			continue;
		int n = snprintf(buf + off, len - off, "%sL%d:%llu", off ? " " : "", l,
				 (unsigned long long)st.level[l].tables);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off < len)
		snprintf(buf + off, len - off, " (flushes %llu, compactions %llu, "
			 "trivial moves %llu, stalls %llu, slowdowns %llu)",
			 (unsigned long long)st.flushes,
			 (unsigned long long)st.compactions,
			 (unsigned long long)st.trivial_moves,
			 (unsigned long long)st.write_stalls,
			 (unsigned long long)st.write_slowdowns);
}

const bench_engine bench_engine_lsm = {
	.name = "lsm",
	.describe = lsm_describe,
	.open = lsm_b_open,
	.close = lsm_b_close,
	.put = lsm_b_put,
	.del = lsm_b_del,
	.get = lsm_b_get,
	.compact = lsm_b_compact,
	.it_new = lsm_b_it_new,
	.it_free = lsm_b_it_free,
	.it_seek = lsm_b_it_seek,
	.it_first = lsm_b_it_first,
	.it_valid = lsm_b_it_valid,
	.it_next = lsm_b_it_next,
	.it_key = lsm_b_it_key,
	.it_value = lsm_b_it_value,
	.it_status = lsm_b_it_status,
	.written = lsm_b_written,
	.shape = lsm_b_shape,
};
