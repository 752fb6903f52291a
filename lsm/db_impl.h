/*
 * db_impl.h — the engine's private state: the database object, versions,
 * the write queue, memtables waiting for flush, background work.
 *
 * Locking (outermost first):
 *   db->mu       guards versions, memtables, the write queue, file numbers,
 *                background scheduling state.  Never held across a data
 *                read; held across manifest writes (short, rare).
 *   db->sv_mu    guards the read side's pointers: mem, imm (the array and
 *                nimm) and current.  Whoever changes them holds mu and
 *                then sv_mu, only for the swap; readers (get, iterator
 *                creation) take sv_mu alone, so they never wait behind
 *                the fsyncs done under mu.
 *   db->snap_mu  guards the snapshot list (leaf lock).
 * Sequence numbers: last_seq is written by the write leader only, with
 * release order, after its entries are in the memtable; readers load it
 * with acquire order, so any sequence <= last_seq is fully visible.
 *
 * Invariants:
 *   1. For one user key, versions in level i are newer than in level i+1;
 *      L0 files are ordered newest first, and newer memtables shadow older.
 *   2. Tables in L1 and below never overlap within a level.
 *   3. The manifest names every live table; a table is removed from disk
 *      only after an edit dropping it is durable and no version uses it.
 */
#ifndef LSM_DB_IMPL_H
#define LSM_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include "lsm.h"
#include "util.h"
#include "dbformat.h"
#include "iter.h"
#include "cache.h"
#include "table.h"
#include "memtable.h"
#include "wal.h"
#include "version_edit.h"
#include "rangedel.h"

#define LSM_FORMAT_VERSION 1	/* engine format; FROZEN meaning per value */

/* ---- file names (filename.c owns them) --------------------------------- */

enum lsm_ftype { LSM_F_LOG, LSM_F_TABLE, LSM_F_MANIFEST, LSM_F_CURRENT,
		 LSM_F_LOCK, LSM_F_TEMP, LSM_F_INFO, LSM_F_UNKNOWN };

char *lsm_fname(const char *dir, enum lsm_ftype t, uint64_t number);
enum lsm_ftype lsm_fname_parse(const char *name, uint64_t *number);

/* ---- versions ---------------------------------------------------------- */

typedef struct lsm_version {
	atomic_int refs;
	lsm_file_meta **files[LSM_MAX_LEVELS];
	size_t nfiles[LSM_MAX_LEVELS];
} lsm_version;

void lsm_version_ref(lsm_version *v);
void lsm_version_unref(lsm_version *v);
/* New version = base + edit (base may be NULL). */
int lsm_version_apply(const lsm_version *base, const lsm_version_edit *e,
		      int num_levels, lsm_version **out);
/* Index of the first file in a sorted level whose largest user key >= k. */
size_t lsm_version_find(lsm_file_meta **files, size_t n, lsm_slice ukey);
/* Does any file of level overlap the user-key range [lo, hi] (NULL: open)?*/
bool lsm_version_overlaps(const lsm_version *v, int level, const lsm_slice *lo,
			  const lsm_slice *hi);
/* Files of level overlapping [lo, hi]; for L0 the range is widened until
 * closed under overlap.  Returns a malloc'd array (free()). */
size_t lsm_version_overlapping(const lsm_version *v, int level,
			       const lsm_slice *lo, const lsm_slice *hi,
			       lsm_file_meta ***out);
uint64_t lsm_version_level_bytes(const lsm_version *v, int level);

/* ---- memtables with their log ------------------------------------------ */

typedef struct lsm_memrec {
	lsm_memtable *mem;
	uint64_t log_number;	/* WAL holding this memtable's writes */
} lsm_memrec;

/* ---- the write queue ---------------------------------------------------- */

typedef struct lsm_writer {
	lsm_batch *batch;
	bool sync;
	bool force;		/* switch the memtable even if not full */
	bool done;
	int status;
	pthread_cond_t cv;
	struct lsm_writer *next;
} lsm_writer;

/* ---- the snapshot list --------------------------------------------------- */

struct lsm_snapshot {
	uint64_t seq;
	struct lsm_snapshot *prev, *next;
};

/* ---- the table cache: open tables by file number ------------------------ */

typedef struct lsm_tcache_entry {
	lsm_table *table;
	lsm_frag *frag;		/* range tombstones fragmented; NULL if none */
} lsm_tcache_entry;

struct lsm_compaction_state;

struct lsm_db {
	char *path;
	lsm_options opt;
	lsm_env *env;
	lsm_file *lock;
	bool read_only;

	pthread_mutex_t mu;
	pthread_mutex_t sv_mu;		/* see the lock list above */
	pthread_cond_t bg_cv;		/* signalled when background work ends */

	/* state under mu */
	lsm_version *current;
	lsm_memrec mem;
	lsm_memrec *imm;		/* oldest first */
	size_t nimm;
	lsm_wal_writer *log;
	uint64_t log_number;
	lsm_wal_writer *manifest;
	uint64_t manifest_number;
	uint64_t next_file;
	uint64_t min_log_number;	/* logs below this are obsolete */
	lsm_writer *wq_head, *wq_tail;
	lsm_batch *group;		/* scratch batch for group commit */
	int bg_error;			/* latched first background error */
	char bg_error_detail[512];
	bool closing;
	bool flush_running;
	int flush_requests;
	uint64_t *pending_outputs;	/* file numbers being written */
	size_t npending, cap_pending;
	struct lsm_compaction_state *cs;
	/* Tables dropped from the current version whose files wait until no
	 * reader's version holds them (the meta's refcount falls to ours). */
	bool keep_tables;		/* bookkeeping ran out of memory: remove
					 * no table until the next open */
	bool manifest_unsure;		/* a failed edit may be durable: keep
					 * every table it named */
	lsm_file_meta **zombies;
	size_t nzombies, cap_zombies;

	/* sequence */
	_Atomic uint64_t last_seq;

	/* snapshots, under snap_mu */
	pthread_mutex_t snap_mu;
	lsm_snapshot snap_head;		/* sentinel: next = oldest */
	uint64_t nsnapshots;

	lsm_cache *block_cache;
	lsm_cache *table_cache;

	pthread_t flush_thread;
	bool flush_thread_started;
	pthread_cond_t flush_cv;

	/* statistics */
	/* Bytes running background compactions may still write (their
	 * inputs' size), taken from the free space (compact.c room_for_job,
	 * lsm_space_reserved). */
	_Atomic uint64_t space_reserved;
	_Atomic uint64_t st_user_bytes, st_wal_bytes, st_flush_bytes,
		st_compact_bytes, st_compact_read, st_flushes, st_compactions,
		st_trivial_moves, st_dropped, st_tomb_dropped,
		st_rtomb_dropped, st_slowdowns, st_stalls;
};

/* ---- internal calls between engine files -------------------------------- */

void lsm_log(lsm_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Latch err as the background error (first one wins).  REQUIRES: mu. */
void lsm_db_set_bg_error(lsm_db *db, int err);
/* Clear a latched -ENOSPC and wake the background work to try again (see
 * db.c).  REQUIRES: mu, bg_error == -ENOSPC. */
void lsm_db_nospace_retry(lsm_db *db);

/* Table cache. */
int lsm_tcache_get(lsm_db *db, const lsm_file_meta *f, lsm_cache_handle **h);
static inline lsm_tcache_entry *lsm_tcache_entry_of(lsm_cache_handle *h)
{
	return (lsm_tcache_entry *)lsm_cache_value(h);
}
void lsm_tcache_evict(lsm_db *db, uint64_t number);
/* An iterator over one table, holding the cache handle until destroyed. */
lsm_it *lsm_tcache_iter(lsm_db *db, const lsm_file_meta *f, bool fill_cache);
/* A lazily opening iterator over the sorted, non-overlapping files of one
 * level (L1+).  Refs the files it holds. */
lsm_it *lsm_level_iter(lsm_db *db, lsm_file_meta **files, size_t n,
		       bool fill_cache);

/* Log an edit in the manifest and install the new version.
 * REQUIRES: mu held. */
int lsm_db_log_and_apply(lsm_db *db, lsm_version_edit *e);
/* Write a full snapshot of the current version into a new manifest and
 * point CURRENT at it.  REQUIRES: mu held. */
int lsm_db_new_manifest(lsm_db *db);
/* Remove files no live version or pending job needs.  REQUIRES: mu
 * (released during the directory listing and the unlinks). */
void lsm_db_remove_obsolete(lsm_db *db);
/* Keep m's file until no version holds it.  REQUIRES: mu. */
void lsm_db_add_zombie(lsm_db *db, lsm_file_meta *m);
uint64_t lsm_db_new_file_number(lsm_db *db);	/* REQUIRES: mu */
void lsm_db_pending_add(lsm_db *db, uint64_t number);	/* REQUIRES: mu */
void lsm_db_pending_remove(lsm_db *db, uint64_t number); /* REQUIRES: mu */

/* A table being written into the store (flush, compaction, ingest,
 * repair): open creates file number's table and its builder; finish
 * writes the rest, syncs, closes and fills meta — a table with nothing in
 * it is removed (meta->size == 0), as is one whose finish failed; abandon
 * closes, and removes the file if asked. */
typedef struct lsm_out_table {
	char *path;
	lsm_file *f;
	lsm_table_builder *tb;
} lsm_out_table;
int lsm_out_open(lsm_db *db, uint64_t number, int level, lsm_out_table *o);
int lsm_out_finish(lsm_db *db, lsm_out_table *o, lsm_file_meta *meta);
void lsm_out_abandon(lsm_db *db, lsm_out_table *o, bool remove);

/* Build table number from an iterator of internal keys plus range
 * tombstones; used by flush (never drops anything).  Fills meta; meta->size
 * == 0 when there was nothing to write. */
int lsm_build_table(lsm_db *db, uint64_t number, lsm_it *it,
		    const lsm_rangedel *rdels, size_t nrdels,
		    lsm_file_meta *meta);
/* Table options for a table written to level (compression by level;
 * LSM_LEVEL_DEEP: a table whose level is not known yet, compressed as the
 * deep levels are). */
#define LSM_LEVEL_DEEP 1000
void lsm_table_opts_from(const lsm_options *o, int level, lsm_table_opts *to);
/* Fill a file meta's encoded fields from table properties. */
int lsm_meta_from_props(lsm_file_meta *m, const lsm_table_props *p);

/* Batches (batch.c). */
int lsm_batch_set_seq(lsm_batch *b, uint64_t seq);
uint64_t lsm_batch_seq(const lsm_batch *b);
lsm_slice lsm_batch_rep(const lsm_batch *b);
int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep);
int lsm_batch_append(lsm_batch *dst, const lsm_batch *src);
/* Insert every entry into mem with consecutive sequences. */
int lsm_batch_insert(const lsm_batch *b, lsm_memtable *mem);
uint64_t lsm_batch_user_bytes(const lsm_batch *b);


/* Exclusive write leadership (ingest): no write runs until lead_end.
 * lead_begin returns with mu held; lead_end releases it. */
int lsm_db_lead_begin(lsm_db *db, lsm_writer *w);
void lsm_db_lead_end(lsm_db *db, lsm_writer *w);
/* REQUIRES: mu held and write leadership. */
int lsm_db_make_room(lsm_db *db, bool force);
/* Open only the metadata of a store (CURRENT and manifest) for checking:
 * no lock, no logs replayed, no threads.  Free with lsm_db_close_meta. */
int lsm_db_open_meta(const char *path, const lsm_options *o, lsm_db **out);
void lsm_db_close_meta(lsm_db *db);

/* Compaction (compact.c). */
/* Hold off new compaction jobs and wait for running ones (ingest, repair).
 * REQUIRES: mu held; may wait on bg_cv. */
void lsm_compact_pause(lsm_db *db);
void lsm_compact_resume(lsm_db *db);	/* REQUIRES: mu */
int lsm_compact_init(lsm_db *db);
/* Check for work after a flush, a finished job or a snapshot release.
 * REQUIRES: mu. */
void lsm_compact_maybe_schedule(lsm_db *db);
/* Background compactions are waiting for disk space (compact.c
 * room_for_job).  REQUIRES: mu held. */
bool lsm_compact_waiting_for_room(const lsm_db *db);
/* Stop workers: cancel running jobs and join.  Called without mu. */
void lsm_compact_shutdown(lsm_db *db);
void lsm_compact_stats(lsm_db *db, lsm_stats *st);	/* REQUIRES: mu */
int lsm_compact_manual(lsm_db *db, const lsm_slice *begin,
		       const lsm_slice *end);
/* The GC cutoff and the list of pinned sequences, ascending (malloc'd);
 * *n == SIZE_MAX when the list could not be made (no memory). */
uint64_t lsm_db_snapshot_list(lsm_db *db, uint64_t **seqs, size_t *n);

#endif
