/*
 * bench.h — the engine adapter table of db_bench, and the settings every
 * adapter is configured from.
 *
 * db_bench runs the same workloads against several key-value engines (our
 * lsm, and LevelDB and RocksDB through their C APIs when they were found at
 * build time).  Each engine is reached only through a bench_engine table, so
 * the workload loops in db_bench.c are one code path for all of them and
 * differ only in the calls they make.
 *
 * Invariants: every adapter is configured from the same bench_conf (write
 * buffer, bloom bits, block cache, block size, compression on/off, open-file
 * limit), so the engines are compared under equal settings wherever their
 * APIs allow; what cannot be equalled is described by the adapter's
 * describe() and printed in the report.
 * Errors: adapter functions return 0 or a negative code and leave a message
 * in bench_errmsg (the adapter's own status text).
 * Threads: db_bench runs each engine in its own forked process with one
 * workload thread, so an adapter and its handles are used by one thread.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Settings shared by all engines (filled from the command line and from
 * lsm_options_init's defaults, so the peers follow ours). */
typedef struct bench_conf {
	uint64_t num;			/* keys */
	int key_size;
	int value_size;
	bool compression;		/* ours: zstd at zstd_level */
	int zstd_level;			/* ours and RocksDB's; default 1 */
	int bloom_bits;
	size_t cache_bytes;
	size_t write_buffer;		/* memtable bytes before a flush */
	int max_immutable;		/* ours; peers' nearest equivalent */
	size_t block_size;
	int max_open_files;
} bench_conf;

/* An engine's iterator and database handles are opaque to db_bench. */
typedef struct bench_engine {
	const char *name;
	/* One line naming the settings actually used (compression type, ...). */
	void (*describe)(const bench_conf *c, char *buf, size_t len);
	/* Open (creating if missing) the store in dir. */
	int (*open)(const bench_conf *c, const char *dir, void **db);
	void (*close)(void *db);
	int (*put)(void *db, const char *k, size_t kl, const char *v, size_t vl);
	int (*del)(void *db, const char *k, size_t kl);
	/* *found is false (and 0 returned) when the key is absent; *vlen is
	 * the value length when found. */
	int (*get)(void *db, const char *k, size_t kl, bool *found, size_t *vlen);
	/* A full manual compaction of the whole key space. */
	int (*compact)(void *db);
	int (*it_new)(void *db, void **it);
	void (*it_free)(void *it);
	void (*it_seek)(void *it, const char *k, size_t kl);
	void (*it_first)(void *it);
	bool (*it_valid)(void *it);
	void (*it_next)(void *it);
	const char *(*it_key)(void *it, size_t *len);
	const char *(*it_value)(void *it, size_t *len);
	int (*it_status)(void *it);
	/* Optional: bytes the engine itself counts as written (WAL, flush,
	 * compaction) and user bytes handed to writes; NULL if it keeps no
	 * such count.  Returns 0 or an error. */
	int (*written)(void *db, uint64_t *engine_bytes, uint64_t *user_bytes);
	/* Optional: a one-line shape of the tree (tables per level). */
	void (*shape)(void *db, char *buf, size_t len);
} bench_engine;

extern const bench_engine bench_engine_lsm;
#ifdef HAVE_LEVELDB
extern const bench_engine bench_engine_leveldb;
#endif
#ifdef HAVE_ROCKSDB
extern const bench_engine bench_engine_rocksdb;
#endif

/* The last adapter error message (one process, one workload thread). */
extern char bench_errmsg[512];
/* Set bench_errmsg and return code. */
int bench_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* BENCH_H */
