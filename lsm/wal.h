/*
 * wal.h — the log record format: a writer that appends checksummed records
 * to a file and a reader that returns them in order.  The write-ahead log
 * and the MANIFEST are both such logs; the layout is documented (and
 * frozen) in doc/log_format.md.
 *
 * Invariants:
 *  1. A file is a sequence of 32 KiB blocks.  A record is stored as one or
 *     more fragments (FULL, or FIRST MIDDLE* LAST), each inside one block;
 *     a block tail too short for a fragment header is zero-filled.
 *  2. Every fragment carries a checksum over its file offset, type and
 *     payload, so a fragment is only valid at the offset it was written to.
 *  3. The writer hands a whole record to one env append call (a record
 *     whose encoding exceeds 1 MiB goes out in pieces of about 1 MiB), so
 *     group commit costs one write system call per group.
 *  4. The writer latches its first append or sync error: every later add
 *     or sync fails with it, because the file may now end in a partial
 *     record and anything appended after it would look like corruption.
 *  5. The reader never reads outside its block buffer and never allocates
 *     from a length it has not checked against the block.
 *
 * Reader semantics.  Records come back whole and in order.  A crash may
 * leave a torn tail: a partial or damaged fragment after which nothing
 * valid follows up to the end of the file (zeros, garbage, or just EOF).
 * The reader drops that tail silently — lsm_wal_read returns 0 — and
 * lsm_wal_reader_torn says where it began.  A damaged fragment (bad
 * checksum, impossible length, bad type sequence, non-zero block tail)
 * that IS followed later in the file by any valid fragment is corruption
 * before the tail: lsm_wal_read returns LSM_E_CORRUPT with lsm_errdetail()
 * "<path>: corrupt log record at offset N: <why>", N the file offset where
 * the damage was found.  Both outcomes are final: later calls repeat them.
 *
 * Appending to an existing log (lsm_wal_writer_new with file_offset = its
 * size) is only safe when reading it ended cleanly (no torn tail):
 * records appended after a torn tail turn that tail into corruption.
 *
 * Threads: a writer or a reader belongs to one thread at a time (the
 * engine's commit path serialises lsm_wal_add/lsm_wal_sync itself).
 */
#ifndef LSM_WAL_H
#define LSM_WAL_H

#include "util.h"

/* ---- on-disk constants: FROZEN (see doc/log_format.md) ----------------- */

#define LSM_WAL_FORMAT 1		/* version of the log layout */
#define LSM_WAL_BLOCK 32768		/* block size in bytes */
#define LSM_WAL_HEADER 7		/* checksum(4) + length(2) + type(1) */

enum lsm_wal_frag_type {
	LSM_WAL_ZERO = 0,	/* never written: zero fill */
	LSM_WAL_FULL = 1,	/* a whole record */
	LSM_WAL_FIRST = 2,	/* first fragment of a record */
	LSM_WAL_MIDDLE = 3,	/* interior fragment */
	LSM_WAL_LAST = 4,	/* last fragment */
};

/* ---- writer ------------------------------------------------------------- */

typedef struct lsm_wal_writer lsm_wal_writer;

/*
 * Start writing records to f, an env file opened for appending, whose
 * current size is file_offset (0 for a new log).  On success w owns f
 * and lsm_wal_writer_close closes it; on failure f is left open and still
 * the caller's.  path is copied and only used in error details.
 */
int lsm_wal_writer_new(lsm_env *env, lsm_file *f, const char *path,
		       uint64_t file_offset, lsm_wal_writer **out);
/* Append one record of any size (0 included).  Not durable until
 * lsm_wal_sync returns. */
int lsm_wal_add(lsm_wal_writer *w, lsm_slice record);
/* Make every record added so far durable. */
int lsm_wal_sync(lsm_wal_writer *w);
/* True once an append or sync has failed (invariant 4). */
bool lsm_wal_failed(const lsm_wal_writer *w);
/* Sync a log that will take no more records because it is being replaced.
 * Unlike lsm_wal_sync this works after a failed append: the partial record
 * the file may end in becomes a torn tail that recovery drops.  After a
 * failed sync it fails (what is durable is unknown). */
int lsm_wal_sync_final(lsm_wal_writer *w);
/* Bytes in the file: file_offset plus everything appended since. */
uint64_t lsm_wal_size(const lsm_wal_writer *w);
/* Close f and free w.  Does not sync.  Returns close's result. */
int lsm_wal_writer_close(lsm_wal_writer *w);

/* ---- reader ------------------------------------------------------------- */

typedef struct lsm_wal_reader lsm_wal_reader;

int lsm_wal_reader_open(lsm_env *env, const char *path, lsm_wal_reader **out);
/*
 * Read the next record into *record (its previous contents are replaced).
 * Returns 1 with a record, 0 at the end (clean, or a torn tail dropped),
 * LSM_E_CORRUPT for damage before the tail, or -errno for a read error.
 */
int lsm_wal_read(lsm_wal_reader *r, lsm_buf *record);
/* After lsm_wal_read returned 0: true if a torn tail was dropped, with
 * *offset (if not NULL) set to the file offset where it began (the first
 * fragment header of the dropped record, so the file truncated there is a
 * clean log). */
bool lsm_wal_reader_torn(const lsm_wal_reader *r, uint64_t *offset);
/* File offset just past the last record returned (0 before the first). */
uint64_t lsm_wal_reader_offset(const lsm_wal_reader *r);
void lsm_wal_reader_close(lsm_wal_reader *r);

#endif /* LSM_WAL_H */
