/*
 * lsm.h — the public interface of the lsmfs storage engine.
 *
 * An embedded, ordered key-value store built as a log-structured merge tree:
 * writes go to a write-ahead log and a memtable, memtables are flushed to
 * sorted tables (SSTs) in level 0, and background compaction merges tables
 * down the levels, dropping overwritten versions and tombstones that no
 * pinned snapshot can still see.
 *
 * Keys and values are byte strings; keys compare with memcmp (shorter first
 * on a common prefix).
 *
 * Errors: every function that can fail returns int: 0 on success, -errno for
 * a system error, or one of the LSM_E_* codes below (a reserved negative
 * range).  lsm_strerror() names any code; lsm_errdetail() returns the
 * calling thread's description of its last error, which for corruption
 * names the file and the byte offset.
 *
 * Threads: an lsm_db may be used from any number of threads at once.  An
 * lsm_batch and an lsm_iter belong to one thread at a time.
 */
#ifndef LSM_H
#define LSM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

enum {
	LSM_OK = 0,
	LSM_E_NOTFOUND = -1000,	/* key (or file) not found */
	LSM_E_CORRUPT = -1001,	/* checksum or format error in stored data */
	LSM_E_INVALID = -1002,	/* invalid argument */
	LSM_E_LOCKED = -1003,	/* store is locked by another opener */
	LSM_E_VERSION = -1004,	/* stored format is newer than this build */
	LSM_E_NOTSUP = -1005,	/* operation not supported */
	LSM_E_CLOSED = -1006,	/* database is closing */
	LSM_E_CANCELLED = -1007, /* background job cancelled */
	LSM_E_NOSTORE = -1008,	/* directory is not an lsm store */
	LSM_E_EXISTS = -1009,	/* store exists and error_if_exists was set */
	LSM_E_BUSY = -1010,	/* resource in use; try again */
	LSM_E_FIRST = -1010,
	LSM_E_LAST = -1000,
};

/* A static string describing code (0, -errno or LSM_E_*). */
const char *lsm_strerror(int code);
/* The calling thread's detail of its most recent error ("" if none). */
const char *lsm_errdetail(void);

/* ---- env: every byte of I/O goes through this table --------------------- */

typedef struct lsm_env lsm_env;
typedef struct lsm_file lsm_file;	/* an env's open file; opaque */

/* Open flags for lsm_env.open. */
enum {
	LSM_OPEN_READ = 0,	/* read only; the file must exist */
	LSM_OPEN_WRITE = 1,	/* create or truncate, then append-only */
	LSM_OPEN_APPEND = 2,	/* create if missing, append at the end */
	LSM_OPEN_EXCL = 4,	/* with WRITE: fail with -EEXIST if present */
};

/*
 * The I/O function table.  All functions return 0 or -errno (or LSM_E_*).
 * Paths are absolute or relative to the process's working directory.
 * Implementations must be safe for concurrent calls on different files;
 * pread may run concurrently with append on the same file.
 */
struct lsm_env {
	int (*open)(lsm_env *env, const char *path, int flags, lsm_file **out);
	int (*close)(lsm_env *env, lsm_file *f);
	/* Read up to n bytes at off; *got is set to the bytes read (short only
	 * at end of file). */
	int (*pread)(lsm_env *env, lsm_file *f, void *buf, size_t n,
		     uint64_t off, size_t *got);
	int (*append)(lsm_env *env, lsm_file *f, const void *buf, size_t n);
	/* Make the file's data durable (fdatasync). */
	int (*sync)(lsm_env *env, lsm_file *f);
	int (*fsize)(lsm_env *env, lsm_file *f, uint64_t *size);
	/* Size of a file by name; -ENOENT if missing. */
	int (*size)(lsm_env *env, const char *path, uint64_t *size);
	int (*remove)(lsm_env *env, const char *path);
	/* Atomically replace to (if present) with from. */
	int (*rename)(lsm_env *env, const char *from, const char *to);
	/* Hard link; -ENOTSUP/-EXDEV lets callers fall back to copying. */
	int (*link)(lsm_env *env, const char *from, const char *to);
	/* Create a directory; 0 if it already exists. */
	int (*mkdir)(lsm_env *env, const char *path);
	/* Names in a directory (no "." or ".."): a malloc'd array of malloc'd
	 * strings; free with lsm_env_free_list. */
	int (*list)(lsm_env *env, const char *dir, char ***names, size_t *n);
	/* Make a directory's entries durable (fsync of the directory). */
	int (*sync_dir)(lsm_env *env, const char *dir);
	/* Take an exclusive lock on path (created if missing) and write
	 * holder (a one-line description of the locker) into it.  If another
	 * holder has it: LSM_E_LOCKED, with that holder's line copied into
	 * other (NUL-terminated, truncated to other_len). */
	int (*lock)(lsm_env *env, const char *path, const char *holder,
		    lsm_file **lock, char *other, size_t other_len);
	int (*unlock)(lsm_env *env, lsm_file *lock);
	uint64_t (*now_micros)(lsm_env *env);
	void (*sleep_micros)(lsm_env *env, uint64_t micros);
	/* Free the env itself (never called on the shared posix env). */
	void (*destroy)(lsm_env *env);
	/* Bytes an unprivileged writer may still add to the filesystem that
	 * holds dir.  NULL, or -ENOTSUP: unknown (background compactions
	 * then start without looking). */
	int (*free_space)(lsm_env *env, const char *dir, uint64_t *bytes);
};

void lsm_env_free_list(char **names, size_t n);

/* The process-wide posix env (never freed). */
lsm_env *lsm_env_posix(void);

/* A fresh in-memory env: a private file system of its own. */
lsm_env *lsm_env_mem_new(void);

/*
 * The fault-injecting env wraps base (which it does not own).  It counts
 * calls by kind, can fail the Nth call of a kind, and can simulate power
 * loss: everything not made durable (file data not synced, files created or
 * renamed since their directory's last sync_dir) is discarded.
 */
enum lsm_fault_kind {
	LSM_FAULT_ANY = 0,
	LSM_FAULT_OPEN,
	LSM_FAULT_READ,
	LSM_FAULT_WRITE,	/* append */
	LSM_FAULT_SYNC,		/* sync and sync_dir */
	LSM_FAULT_RENAME,
	LSM_FAULT_REMOVE,
	LSM_FAULT_NKINDS
};
lsm_env *lsm_env_fault_new(lsm_env *base);
/* The nth (1-based, counted from now) call of kind fails with err (a
 * negative errno); n == 0 disarms. */
void lsm_env_fault_fail_nth(lsm_env *env, enum lsm_fault_kind kind,
			    uint64_t n, int err);
/* Calls of kind made so far. */
uint64_t lsm_env_fault_count(lsm_env *env, enum lsm_fault_kind kind);
/* Crash after the nth sync (1-based, counted from now): that sync succeeds
 * and every I/O call after it fails with -EIO, as if the process died.
 * n == 0 disarms. */
void lsm_env_fault_crash_after_sync(lsm_env *env, uint64_t n);
/* True once the crash point has been reached. */
bool lsm_env_fault_crashed(lsm_env *env);
/* Discard everything not yet durable in base, then clear the crash state
 * so the env can be used again (as the machine after a reboot). */
int lsm_env_fault_power_cut(lsm_env *env);
/* Make free_space report bytes (a full or roomy disk, for tests);
 * bytes == UINT64_MAX: ask base again. */
void lsm_env_fault_set_free_space(lsm_env *env, uint64_t bytes);

/* ---- options ----------------------------------------------------------- */

typedef struct lsm_options {
	lsm_env *env;			/* NULL: the posix env */
	bool create_if_missing;		/* default false */
	bool error_if_exists;		/* default false */
	bool read_only;			/* open without writing; no lock taken */
	size_t write_buffer_size;	/* memtable bytes before a flush; 64 MiB */
	int max_immutable;		/* memtables waiting for flush; 2 */
	size_t block_size;		/* uncompressed data block target; 4 KiB */
	int block_restart_interval;	/* keys between restart points; 16 */
	int compression;		/* 0 = off, else zstd level; default 1 */
	/* zstd level of tables written to L0 and L1 (flushes and the
	 * compactions into L1), where data is young and soon rewritten:
	 * default -1, zstd's fastest-but-one level (about 1.4x the
	 * compression speed and 1.7x the decompression speed of level 1 on
	 * 4 KiB blocks of text, for a fifth more bytes).  Deeper levels use
	 * `compression`.  Ignored when compression is 0; 0 here writes
	 * those levels uncompressed. */
	int compression_l0l1;
	int bloom_bits_per_key;		/* 0 = no filter; default 10 (~1% fp) */
	size_t block_cache_size;	/* bytes of decompressed blocks; 64 MiB */
	int max_open_tables;		/* table cache entries; 1000 */
	size_t target_file_size;	/* compaction output table size; 8 MiB */
	/* compaction */
	int l0_compaction_trigger;	/* 4 files */
	int l0_slowdown_trigger;	/* 8 files: writes are delayed */
	int l0_stop_trigger;		/* 12 files: writes wait */
	uint64_t level_base_bytes;	/* L1 target; 64 MiB */
	int level_multiplier;		/* 10 */
	int num_levels;			/* 7 */
	int compaction_threads;		/* 1 */
	uint64_t compaction_rate;	/* bytes/s written by compaction; 0 = no limit */
	bool disable_auto_compaction;	/* tests: only manual compaction */
	double tombstone_density;	/* 0.20: compact tables denser than this */
	double emergency_dead_ratio;	/* 0.70 */
	/* Informational log lines (no newline); NULL: discarded. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
} lsm_options;

/* Fill o with defaults. */
void lsm_options_init(lsm_options *o);

/* ---- the database ------------------------------------------------------ */

typedef struct lsm_db lsm_db;
typedef struct lsm_batch lsm_batch;
typedef struct lsm_iter lsm_iter;
typedef struct lsm_snapshot lsm_snapshot;

/*
 * Open (or with create_if_missing, create) the store in directory path.
 * Fails with LSM_E_LOCKED (detail names the holder) if another opener holds
 * the store, LSM_E_NOSTORE if path is not a store, LSM_E_VERSION if it was
 * written by a newer format, LSM_E_CORRUPT naming file and offset if its
 * metadata is damaged.
 */
int lsm_open(const char *path, const lsm_options *o, lsm_db **out);
/* Flush nothing (the WAL holds unflushed writes), wait for background work
 * (running compactions are cancelled), release the lock, free db.
 * REQUIRES: no other call on db is in progress or starts, and every
 * iterator is freed (snapshots not yet released are freed with db). */
int lsm_close(lsm_db *db);

typedef struct lsm_write_options {
	bool sync;		/* durable when the call returns */
} lsm_write_options;

typedef struct lsm_read_options {
	const lsm_snapshot *snapshot;	/* NULL: the latest state */
	bool fill_cache;		/* keep blocks read in the cache */
	bool verify_checksums;		/* always on; kept for API parity */
	/* iterator bounds: [lower, upper); NULL for none */
	const void *lower;
	size_t lower_len;
	const void *upper;
	size_t upper_len;
} lsm_read_options;

int lsm_put(lsm_db *db, const lsm_write_options *wo, const void *key,
	    size_t klen, const void *val, size_t vlen);
int lsm_delete(lsm_db *db, const lsm_write_options *wo, const void *key,
	       size_t klen);
/* Delete every key in [begin, end) with one range tombstone. */
int lsm_delete_range(lsm_db *db, const lsm_write_options *wo,
		     const void *begin, size_t blen, const void *end,
		     size_t elen);
/* Apply a batch atomically: after a crash all of it is there or none. */
int lsm_write(lsm_db *db, const lsm_write_options *wo, lsm_batch *b);
/* Make every write that returned before this call durable. */
int lsm_sync(lsm_db *db);

/* Get the value of key; *val is malloc'd (free with free()).
 * LSM_E_NOTFOUND when absent. */
int lsm_get(lsm_db *db, const lsm_read_options *ro, const void *key,
	    size_t klen, void **val, size_t *vlen);

/* ---- batches ----------------------------------------------------------- */

lsm_batch *lsm_batch_new(void);
void lsm_batch_free(lsm_batch *b);
void lsm_batch_clear(lsm_batch *b);
int lsm_batch_put(lsm_batch *b, const void *key, size_t klen,
		  const void *val, size_t vlen);
int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen);
int lsm_batch_delete_range(lsm_batch *b, const void *begin, size_t blen,
			   const void *end, size_t elen);
uint32_t lsm_batch_count(const lsm_batch *b);
size_t lsm_batch_size(const lsm_batch *b);	/* encoded bytes */

/* ---- iterators --------------------------------------------------------- */

/* An iterator over a consistent view (the snapshot in ro, or the state at
 * creation), honouring ro's bounds.  Free with lsm_iter_free. */
int lsm_iter_new(lsm_db *db, const lsm_read_options *ro, lsm_iter **out);
void lsm_iter_free(lsm_iter *it);
bool lsm_iter_valid(const lsm_iter *it);
void lsm_iter_seek_first(lsm_iter *it);
void lsm_iter_seek_last(lsm_iter *it);
/* First key >= key. */
void lsm_iter_seek(lsm_iter *it, const void *key, size_t klen);
/* Last key <= key. */
void lsm_iter_seek_for_prev(lsm_iter *it, const void *key, size_t klen);
void lsm_iter_next(lsm_iter *it);
void lsm_iter_prev(lsm_iter *it);
/* Valid until the iterator moves or is freed. */
const void *lsm_iter_key(const lsm_iter *it, size_t *klen);
const void *lsm_iter_value(const lsm_iter *it, size_t *vlen);
/* 0, or the first error met (an invalid iterator may mean an error). */
int lsm_iter_status(const lsm_iter *it);

/* ---- snapshots (sequence pins) ----------------------------------------- */

/* Pin the current sequence: reads at the snapshot see the store as it was,
 * and compaction keeps every version the snapshot can see. */
const lsm_snapshot *lsm_snapshot_acquire(lsm_db *db);
void lsm_snapshot_release(lsm_db *db, const lsm_snapshot *s);
uint64_t lsm_snapshot_seq(const lsm_snapshot *s);
/* The GC cutoff: the oldest pinned sequence, or the last committed sequence
 * when nothing is pinned. */
uint64_t lsm_oldest_pinned_seq(lsm_db *db);
uint64_t lsm_last_seq(lsm_db *db);

/* ---- maintenance ------------------------------------------------------- */

/* Flush the memtable to a level-0 table; wait for it if wait. */
int lsm_flush(lsm_db *db, bool wait);
/* Compact the key range [begin, end) (NULL: unbounded) down to the last
 * level; waits for completion. */
int lsm_compact_range(lsm_db *db, const void *begin, size_t blen,
		      const void *end, size_t elen);

/*
 * Ingest externally built tables (lsm_sst_writer) atomically: each is placed
 * at the lowest level it fits, with a sequence newer than every existing
 * write.  If excise_begin is not NULL, every existing key in
 * [excise_begin, excise_end) is removed in the same manifest edit.  The
 * files are linked (or copied) into the store; the originals stay.
 */
int lsm_ingest(lsm_db *db, const char *const *paths, size_t n,
	       const void *excise_begin, size_t eblen,
	       const void *excise_end, size_t eelen);

/* Build an SST outside any store, for lsm_ingest.  Keys must be added in
 * strictly increasing order. */
typedef struct lsm_sst_writer lsm_sst_writer;
int lsm_sst_writer_open(const lsm_options *o, const char *path,
			lsm_sst_writer **out);
int lsm_sst_writer_put(lsm_sst_writer *w, const void *key, size_t klen,
		       const void *val, size_t vlen);
int lsm_sst_writer_delete_range(lsm_sst_writer *w, const void *begin,
				size_t blen, const void *end, size_t elen);
/* Finish (write index, filter, footer, sync) and free w. */
int lsm_sst_writer_finish(lsm_sst_writer *w);
void lsm_sst_writer_abandon(lsm_sst_writer *w);

/* ---- statistics -------------------------------------------------------- */

#define LSM_MAX_LEVELS 7

typedef struct lsm_level_stats {
	uint64_t tables;
	uint64_t bytes;
	uint64_t entries;
	uint64_t tombstones;		/* point deletions */
	uint64_t range_tombstones;
} lsm_level_stats;

typedef struct lsm_stats {
	int num_levels;
	lsm_level_stats level[LSM_MAX_LEVELS];
	uint64_t user_bytes_written;	/* keys+values handed to writes */
	uint64_t wal_bytes_written;
	uint64_t flush_bytes_written;
	uint64_t compaction_bytes_written;
	uint64_t compaction_bytes_read;
	double write_amp;		/* (wal+flush+compaction)/user bytes */
	double space_amp;		/* disk bytes / live data estimate */
	uint64_t disk_bytes;		/* live tables + WAL + manifest */
	uint64_t live_bytes_estimate;
	uint64_t flushes;
	uint64_t compactions;
	uint64_t compactions_running;
	uint64_t trivial_moves;
	uint64_t entries_dropped;
	uint64_t tombstones_dropped;
	uint64_t range_tombstones_dropped;
	uint64_t gc_cutoff;
	uint64_t last_seq;
	uint64_t snapshots;
	uint64_t bytes_held_by_cutoff;	/* garbage compaction must keep */
	uint64_t write_slowdowns;
	uint64_t write_stalls;
	uint64_t memtable_bytes;
	uint64_t block_cache_bytes;
	uint64_t block_cache_hits;
	uint64_t block_cache_misses;
	int background_error;		/* latched error, 0 if none */
} lsm_stats;

int lsm_get_stats(lsm_db *db, lsm_stats *st);
/* Bytes of disk the running background compactions may still take (the
 * size of their inputs): what a caller keeping free space for the engine
 * should count as taken.  Cheap (one atomic load). */
uint64_t lsm_space_reserved(lsm_db *db);

/* ---- verification (fsck) ----------------------------------------------- */

enum lsm_check_problem {
	LSM_CHECK_CURRENT = 1,		/* CURRENT missing or unreadable */
	LSM_CHECK_MANIFEST,		/* manifest record corrupt */
	LSM_CHECK_TABLE_MISSING,	/* live table absent */
	LSM_CHECK_TABLE_SIZE,		/* live table size differs */
	LSM_CHECK_TABLE_CORRUPT,	/* block checksum / format error */
	LSM_CHECK_KEY_ORDER,		/* keys out of order in a table */
	LSM_CHECK_LEVEL_OVERLAP,	/* tables overlap in L1+ */
	LSM_CHECK_SEQ,			/* sequence beyond last_seq */
	LSM_CHECK_WAL_CORRUPT,		/* WAL record corrupt before tail */
	LSM_CHECK_EXTRA_FILE,		/* file not listed in manifest */
};

typedef struct lsm_check_report {
	enum lsm_check_problem problem;
	const char *file;	/* file name inside the store */
	uint64_t offset;	/* byte offset, when known */
	uint64_t number;	/* table/log number, when known */
	int level;		/* table level, or -1 */
	const char *detail;	/* human description */
} lsm_check_report;

/* Check a closed store (no lock held by another writer unless read-only
 * checking is asked for).  cb is called for each problem found; returns 0
 * if the check ran (problems or not), or an error if it could not. */
typedef void (*lsm_check_cb)(void *ctx, const lsm_check_report *r);
int lsm_check(const char *path, const lsm_options *o, lsm_check_cb cb,
	      void *ctx);

/* Repair actions for fsck -y: drop the named table from the manifest
 * (salvaging its readable entries into a new table if salvage), remove a
 * file not in the manifest. */
int lsm_repair_drop_table(const char *path, const lsm_options *o,
			  uint64_t number, bool salvage);
int lsm_repair_remove_extra(const char *path, const lsm_options *o,
			    const char *file);
/* Cut the named WAL file at offset (the corrupt record's, from
 * lsm_check), dropping that record and everything after it. */
int lsm_repair_truncate_log(const char *path, const lsm_options *o,
			    const char *file, uint64_t offset);

#ifdef __cplusplus
}
#endif
#endif /* LSM_H */
