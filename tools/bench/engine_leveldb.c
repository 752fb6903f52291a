/*
 * engine_leveldb.c — db_bench's adapter for LevelDB through its C API
 * (leveldb/c.h); built only when the library was found (HAVE_LEVELDB).
 *
 * Settings, to match ours: write buffer and block size from bench_conf, a
 * bloom filter of bench_conf's bits per key, an LRU block cache of the same
 * size, 1000 open files, snappy compression when compression is on (the C
 * API of LevelDB 1.23 offers only snappy).  Everything else stays at
 * LevelDB's defaults (2 MiB tables, 10 MiB level 1, L0 triggers 4/8/12,
 * one background thread).  Reads verify block checksums, as ours always
 * do.  Writes are not synced.
 * Threads: one workload thread per process (see bench.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <leveldb/c.h>
#include "bench.h"

typedef struct ldb {
	leveldb_t *db;
	leveldb_options_t *opt;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *filter;
	leveldb_readoptions_t *ro;
	leveldb_writeoptions_t *wo;
} ldb;

static int ldb_check(char *err, const char *what)
{
	if (!err)
		return 0;
	int rc = bench_fail(-1, "leveldb %s: %s", what, err);
	leveldb_free(err);
	return rc;
}

static void ldb_describe(const bench_conf *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "LevelDB %d.%d: compression %s, bloom %d bits/key, LRU cache %zu MiB, "
		 "write buffer %zu MiB, block %zu B; defaults otherwise (table 2 MiB, "
		 "L1 10 MiB x10, L0 triggers 4/8/12, 1 background thread)",
		 leveldb_major_version(), leveldb_minor_version(),
		 c->compression ? "snappy" : "none", c->bloom_bits,
		 c->cache_bytes >> 20, c->write_buffer >> 20, c->block_size);
}

static void ldb_close(void *p)
{
	ldb *d = p;
	if (!d)
		return;
	if (d->db)
		leveldb_close(d->db);
	if (d->opt)
		leveldb_options_destroy(d->opt);
	if (d->cache)
		leveldb_cache_destroy(d->cache);
	if (d->filter)
		leveldb_filterpolicy_destroy(d->filter);
	if (d->ro)
		leveldb_readoptions_destroy(d->ro);
	if (d->wo)
		leveldb_writeoptions_destroy(d->wo);
	free(d);
}

static int ldb_open(const bench_conf *c, const char *dir, void **out)
{
	char *err = NULL;
	int rc = 0;
	ldb *d = calloc(1, sizeof *d);
	if (!d)
		return bench_fail(-12, "leveldb open: out of memory");
	d->opt = leveldb_options_create();
	leveldb_options_set_create_if_missing(d->opt, 1);
	leveldb_options_set_write_buffer_size(d->opt, c->write_buffer);
	leveldb_options_set_block_size(d->opt, c->block_size);
	leveldb_options_set_max_open_files(d->opt, c->max_open_files);
	leveldb_options_set_compression(d->opt, c->compression ?
					leveldb_snappy_compression :
					leveldb_no_compression);
	d->cache = leveldb_cache_create_lru(c->cache_bytes);
	leveldb_options_set_cache(d->opt, d->cache);
	if (c->bloom_bits > 0) {
		d->filter = leveldb_filterpolicy_create_bloom(c->bloom_bits);
		leveldb_options_set_filter_policy(d->opt, d->filter);
	}
	d->ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(d->ro, 1);
	leveldb_readoptions_set_fill_cache(d->ro, 1);
	d->wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(d->wo, 0);
	d->db = leveldb_open(d->opt, dir, &err);
	rc = ldb_check(err, "open");
	if (rc < 0)
		goto err;
	*out = d;
	return 0;
err:
	ldb_close(d);
	return rc;
}

static int ldb_put(void *p, const char *k, size_t kl, const char *v, size_t vl)
{
	ldb *d = p;
	char *err = NULL;
	leveldb_put(d->db, d->wo, k, kl, v, vl, &err);
	return ldb_check(err, "put");
}

static int ldb_del(void *p, const char *k, size_t kl)
{
	ldb *d = p;
	char *err = NULL;
	leveldb_delete(d->db, d->wo, k, kl, &err);
	return ldb_check(err, "delete");
}

static int ldb_get(void *p, const char *k, size_t kl, bool *found, size_t *vlen)
{
	ldb *d = p;
	char *err = NULL;
	char *v = leveldb_get(d->db, d->ro, k, kl, vlen, &err);
	*found = v != NULL;
	if (v)
		leveldb_free(v);
	return ldb_check(err, "get");
}

static int ldb_compact(void *p)
{
	ldb *d = p;
	leveldb_compact_range(d->db, NULL, 0, NULL, 0);
	return 0;
}

static int ldb_it_new(void *p, void **it)
{
	ldb *d = p;
	*it = leveldb_create_iterator(d->db, d->ro);
	return 0;
}

static void ldb_it_free(void *it) { leveldb_iter_destroy(it); }
static void ldb_it_seek(void *it, const char *k, size_t kl) { leveldb_iter_seek(it, k, kl); }
static void ldb_it_first(void *it) { leveldb_iter_seek_to_first(it); }
static bool ldb_it_valid(void *it) { return leveldb_iter_valid(it); }
static void ldb_it_next(void *it) { leveldb_iter_next(it); }

static const char *ldb_it_key(void *it, size_t *len)
{
	return leveldb_iter_key(it, len);
}

static const char *ldb_it_value(void *it, size_t *len)
{
	return leveldb_iter_value(it, len);
}

static int ldb_it_status(void *it)
{
	char *err = NULL;
	leveldb_iter_get_error(it, &err);
	return ldb_check(err, "iterator");
}

static void ldb_shape(void *p, char *buf, size_t len)
{
	ldb *d = p;
	size_t off = 0;
	buf[0] = 0;
	for (int l = 0; l < 7 && off < len; l++) {
		char prop[64];
		snprintf(prop, sizeof prop, "leveldb.num-files-at-level%d", l);
		char *v = leveldb_property_value(d->db, prop);
		if (!v)
			continue;
		if (atoi(v) > 0) {
			int n = snprintf(buf + off, len - off, "%sL%d:%s", off ? " " : "",
					 l, v);
			if (n > 0)
				off += (size_t)n;
		}
		leveldb_free(v);
	}
}

const bench_engine bench_engine_leveldb = {
	.name = "leveldb",
	.describe = ldb_describe,
	.open = ldb_open,
	.close = ldb_close,
	.put = ldb_put,
	.del = ldb_del,
	.get = ldb_get,
	.compact = ldb_compact,
	.it_new = ldb_it_new,
	.it_free = ldb_it_free,
	.it_seek = ldb_it_seek,
	.it_first = ldb_it_first,
	.it_valid = ldb_it_valid,
	.it_next = ldb_it_next,
	.it_key = ldb_it_key,
	.it_value = ldb_it_value,
	.it_status = ldb_it_status,
	.written = NULL,
	.shape = ldb_shape,
};
