/*
 * engine_rocksdb.c — db_bench's adapter for RocksDB through its C API
 * (rocksdb/c.h); built only when the library was found (HAVE_ROCKSDB).
 *
 * Settings, to match ours: leveled compaction (the default), write buffer
 * and block size from bench_conf, 1 + max_immutable write buffers, a full
 * bloom filter of bench_conf's bits per key in a block-based table, an LRU
 * block cache of the same size, 1000 open files, zstd at the same level as
 * ours when compression is on (default 1), reads verifying checksums (as
 * ours always do).  Everything else stays at RocksDB's defaults (64 MiB
 * tables, 256 MiB level 1, L0 triggers 4/20/36, 2 background jobs).  Writes
 * are not synced.  The full compaction forces the bottom level to be
 * rewritten too (bottommost_level_compaction = kForce), as ours does.
 * Threads: one workload thread per process (see bench.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <rocksdb/c.h>
#include "bench.h"

typedef struct rdb {
	rocksdb_t *db;
	rocksdb_options_t *opt;
	rocksdb_block_based_table_options_t *bbt;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ro;
	rocksdb_writeoptions_t *wo;
} rdb;

/* RocksDB's BottommostLevelCompaction::kForce. */
#define RDB_BOTTOMMOST_FORCE 2

static int rdb_check(char *err, const char *what)
{
	if (!err)
		return 0;
	int rc = bench_fail(-1, "rocksdb %s: %s", what, err);
	rocksdb_free(err);
	return rc;
}

static void rdb_describe(const bench_conf *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "RocksDB (Debian librocksdb): leveled, compression %s%d, full bloom %d "
		 "bits/key, LRU cache %zu MiB, write buffer %zu MiB x%d, block %zu B; "
		 "defaults otherwise (table 64 MiB, L1 256 MiB x10, L0 triggers "
		 "4/20/36, 2 background jobs)",
		 c->compression ? "zstd " : "none", c->compression ? c->zstd_level : 0,
		 c->bloom_bits,
		 c->cache_bytes >> 20, c->write_buffer >> 20, c->max_immutable + 1,
		 c->block_size);
}

static void rdb_close(void *p)
{
	rdb *d = p;
	if (!d)
		return;
	if (d->db)
		rocksdb_close(d->db);
	if (d->opt)
		rocksdb_options_destroy(d->opt);
	if (d->bbt)
		rocksdb_block_based_options_destroy(d->bbt);
	if (d->cache)
		rocksdb_cache_destroy(d->cache);
	if (d->ro)
		rocksdb_readoptions_destroy(d->ro);
	if (d->wo)
		rocksdb_writeoptions_destroy(d->wo);
	free(d);
}

static int rdb_open(const bench_conf *c, const char *dir, void **out)
{
	char *err = NULL;
	int rc = 0;
	rdb *d = calloc(1, sizeof *d);
	if (!d)
		return bench_fail(-12, "rocksdb open: out of memory");
	d->opt = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(d->opt, 1);
	rocksdb_options_set_write_buffer_size(d->opt, c->write_buffer);
	rocksdb_options_set_max_write_buffer_number(d->opt, c->max_immutable + 1);
	rocksdb_options_set_max_open_files(d->opt, c->max_open_files);
	if (c->compression) {
		rocksdb_options_set_compression(d->opt, rocksdb_zstd_compression);
		/* window bits, level, strategy, dictionary bytes */
		rocksdb_options_set_compression_options(d->opt, -14, c->zstd_level, 0, 0);
	} else {
		rocksdb_options_set_compression(d->opt, rocksdb_no_compression);
	}
	d->bbt = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_size(d->bbt, c->block_size);
	d->cache = rocksdb_cache_create_lru(c->cache_bytes);
	rocksdb_block_based_options_set_block_cache(d->bbt, d->cache);
	if (c->bloom_bits > 0)
		rocksdb_block_based_options_set_filter_policy(d->bbt,
			rocksdb_filterpolicy_create_bloom_full(c->bloom_bits));
	rocksdb_options_set_block_based_table_factory(d->opt, d->bbt);
	d->ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_verify_checksums(d->ro, 1);
	rocksdb_readoptions_set_fill_cache(d->ro, 1);
	d->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(d->wo, 0);
	d->db = rocksdb_open(d->opt, dir, &err);
	rc = rdb_check(err, "open");
	if (rc < 0)
		goto err;
	*out = d;
	return 0;
err:
	rdb_close(d);
	return rc;
}

static int rdb_put(void *p, const char *k, size_t kl, const char *v, size_t vl)
{
	rdb *d = p;
	char *err = NULL;
	rocksdb_put(d->db, d->wo, k, kl, v, vl, &err);
	return rdb_check(err, "put");
}

static int rdb_del(void *p, const char *k, size_t kl)
{
	rdb *d = p;
	char *err = NULL;
	rocksdb_delete(d->db, d->wo, k, kl, &err);
	return rdb_check(err, "delete");
}

static int rdb_get(void *p, const char *k, size_t kl, bool *found, size_t *vlen)
{
	rdb *d = p;
	char *err = NULL;
	char *v = rocksdb_get(d->db, d->ro, k, kl, vlen, &err);
	*found = v != NULL;
	if (v)
		rocksdb_free(v);
	return rdb_check(err, "get");
}

static int rdb_compact(void *p)
{
	rdb *d = p;
	rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
	if (!co)
		return bench_fail(-12, "rocksdb compact: out of memory");
	rocksdb_compactoptions_set_bottommost_level_compaction(co, RDB_BOTTOMMOST_FORCE);
	rocksdb_compact_range_opt(d->db, co, NULL, 0, NULL, 0);
	rocksdb_compactoptions_destroy(co);
	return 0;
}

static int rdb_it_new(void *p, void **it)
{
	rdb *d = p;
	*it = rocksdb_create_iterator(d->db, d->ro);
	return 0;
}

static void rdb_it_free(void *it) { rocksdb_iter_destroy(it); }
static void rdb_it_seek(void *it, const char *k, size_t kl) { rocksdb_iter_seek(it, k, kl); }
static void rdb_it_first(void *it) { rocksdb_iter_seek_to_first(it); }
static bool rdb_it_valid(void *it) { return rocksdb_iter_valid(it); }
static void rdb_it_next(void *it) { rocksdb_iter_next(it); }

static const char *rdb_it_key(void *it, size_t *len)
{
	return rocksdb_iter_key(it, len);
}

static const char *rdb_it_value(void *it, size_t *len)
{
	return rocksdb_iter_value(it, len);
}

static int rdb_it_status(void *it)
{
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	return rdb_check(err, "iterator");
}

static void rdb_shape(void *p, char *buf, size_t len)
{
	rdb *d = p;
	size_t off = 0;
	buf[0] = 0;
	for (int l = 0; l < 7 && off < len; l++) {
		char prop[64];
		uint64_t n = 0;
		snprintf(prop, sizeof prop, "rocksdb.num-files-at-level%d", l);
		if (rocksdb_property_int(d->db, prop, &n) < 0 || n == 0)
			continue;
		int w = snprintf(buf + off, len - off, "%sL%d:%llu", off ? " " : "",
				 l, (unsigned long long)n);
		if (w > 0)
			off += (size_t)w;
	}
}

const bench_engine bench_engine_rocksdb = {
	.name = "rocksdb",
	.describe = rdb_describe,
	.open = rdb_open,
	.close = rdb_close,
	.put = rdb_put,
	.del = rdb_del,
	.get = rdb_get,
	.compact = rdb_compact,
	.it_new = rdb_it_new,
	.it_free = rdb_it_free,
	.it_seek = rdb_it_seek,
	.it_first = rdb_it_first,
	.it_valid = rdb_it_valid,
	.it_next = rdb_it_next,
	.it_key = rdb_it_key,
	.it_value = rdb_it_value,
	.it_status = rdb_it_status,
	.written = NULL,
	.shape = rdb_shape,
};
