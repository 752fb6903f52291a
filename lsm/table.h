/*
 * table.h — sorted string tables (SSTs): the builder that writes one and
 * the reader that serves point lookups and iterators from it.
 *
 * The on-disk format is lsm/doc/table_format.md (format version
 * LSM_TABLE_FORMAT_VERSION).  A table holds internal keys (dbformat.h) of
 * type LSM_T_VAL / LSM_T_DEL in strictly increasing lsm_ikey_cmp order,
 * plus a separate list of range tombstones, a bloom filter over user keys
 * and a properties block.
 *
 * Errors: corruption is LSM_E_CORRUPT with an lsm_errdetail naming the file
 * and a byte offset; a table written by a newer format is LSM_E_VERSION.
 * No input bytes can crash the reader or make it allocate more than the
 * file size (or, for compressed blocks, LSM_TABLE_MAX_BLOCK) at once.
 *
 * Threads: a builder belongs to one thread.  An open lsm_table is
 * immutable and may be used by any number of threads at once (get,
 * iterators, verify): reads use pread, per-call scratch, and the
 * thread-safe block cache.  Each iterator belongs to one thread and must
 * be freed before the table is closed.
 */
#ifndef LSM_TABLE_H
#define LSM_TABLE_H

#include "cache.h"
#include "dbformat.h"
#include "iter.h"

#define LSM_TABLE_FORMAT_VERSION 1	/* newest format this build writes */
/* The largest decompressed block a reader accepts; larger blocks are
 * stored uncompressed (bounded by the file size instead). */
#define LSM_TABLE_MAX_BLOCK ((size_t)64 << 20)

typedef struct lsm_table_opts {
	size_t block_size;	/* target uncompressed data block; 0: 4 KiB */
	int restart_interval;	/* < 1: 16 */
	int compression;	/* 0 off, else the zstd level */
	int bloom_bits_per_key;	/* 0 (or less): no filter */
} lsm_table_opts;

typedef struct lsm_table_props {
	uint64_t entries;		/* point entries (values + deletions) */
	uint64_t deletions;		/* point deletions */
	uint64_t range_deletions;	/* range tombstones */
	uint64_t raw_key_bytes;		/* internal keys of point entries */
	uint64_t raw_value_bytes;	/* values of point entries */
	uint64_t data_bytes;		/* data blocks as stored, trailers included */
	uint64_t index_bytes;		/* index block as stored */
	uint64_t filter_bytes;		/* filter block as stored; 0 if none */
	uint64_t data_blocks;
	uint64_t min_seq, max_seq;	/* over entries and range tombstones; 0 if empty */
	uint64_t file_size;		/* not stored: the table's size */
	uint32_t format_version;
	/* Internal keys bounding everything in the table, range tombstones
	 * included ([b,e)@s spans ikey(b,s,RANGEDEL) .. ikey(e,SEQ_MAX,
	 * RANGEDEL)); both empty for an empty table. */
	lsm_buf smallest, largest;
} lsm_table_props;

void lsm_table_props_free(lsm_table_props *p);

/* ---- building ---------------------------------------------------------- */

typedef struct lsm_table_builder lsm_table_builder;

/* Start a table that appends to f, which must be empty (block offsets are
 * positions in f); the builder does not own f.  o may be NULL for
 * defaults.  fname labels errors. */
int lsm_tb_new(lsm_env *env, lsm_file *f, const char *fname,
	       const lsm_table_opts *o, lsm_table_builder **out);
/* Add a point entry.  ikey must be an internal key of type LSM_T_VAL or
 * LSM_T_DEL, strictly greater (lsm_ikey_cmp) than the previous one, else
 * LSM_E_INVALID (the builder stays usable).  Any other error is latched:
 * every later call returns it. */
int lsm_tb_add(lsm_table_builder *tb, lsm_slice ikey, lsm_slice value);
/* Add a range tombstone [begin, end)@seq, in any order (sorted at
 * finish).  begin < end and seq <= LSM_SEQ_MAX, else LSM_E_INVALID. */
int lsm_tb_add_rangedel(lsm_table_builder *tb, lsm_slice begin, lsm_slice end, uint64_t seq);
/* Point entries added so far. */
uint64_t lsm_tb_entries(const lsm_table_builder *tb);
/* Bytes written so far plus the pending data block. */
uint64_t lsm_tb_size_estimate(const lsm_table_builder *tb);
/* Write the pending block, filter, range-del, index, properties,
 * metaindex and footer.  Does not sync or close f.  props (may be NULL) is
 * filled; the caller frees it with lsm_table_props_free.  After finish,
 * successful or not, only lsm_tb_free remains. */
int lsm_tb_finish(lsm_table_builder *tb, lsm_table_props *props);
void lsm_tb_free(lsm_table_builder *tb);

/* ---- reading ----------------------------------------------------------- */

typedef struct lsm_table lsm_table;

/* Open the table at path, file_size bytes long.  Reads the footer, index,
 * filter, range-del and properties blocks into memory and keeps the file
 * open for data blocks.  block_cache may be NULL (every data block read
 * then goes to the file). */
int lsm_table_open(lsm_env *env, const char *path, uint64_t file_size,
		   lsm_cache *block_cache, lsm_table **out);
/* REQUIRES: no iterator of t is alive. */
void lsm_table_close(lsm_table *t);
const lsm_table_props *lsm_table_get_props(const lsm_table *t);
/* The newest entry of ukey with seq <= snap_seq: 0 with *type LSM_T_VAL
 * or LSM_T_DEL (val holds the value, emptied for a deletion), or
 * LSM_E_NOTFOUND, or an error.  The bloom filter is consulted first.
 * Range tombstones are not applied here (see lsm_table_rangedels).  val,
 * type and seq may be NULL.  fill_cache false: a block read from the file
 * is not added to the cache. */
int lsm_table_get(lsm_table *t, lsm_slice ukey, uint64_t snap_seq,
		  bool fill_cache, lsm_buf *val, int *type, uint64_t *seq);
/* A two-level iterator (index -> data blocks) over the internal keys,
 * both directions, reading data blocks through the block cache keyed by
 * (cache id, block offset).  NULL only on ENOMEM. */
lsm_it *lsm_table_iter(lsm_table *t, bool fill_cache);
/* The range tombstones, sorted by begin (then newest first).  The slices
 * point into the table's memory, valid while t is open. */
size_t lsm_table_rangedels(const lsm_table *t, const lsm_rangedel **out);

typedef void (*lsm_table_verify_cb)(void *ctx, uint64_t offset, const char *msg);
/* Read every block again, bypassing the cache: checksums, decoding, keys
 * strictly increasing and within their index separators, counts against
 * the properties.  cb (may be NULL) is called once per problem with the
 * offset of the block concerned and a message naming the file.  Returns 0,
 * LSM_E_CORRUPT if any problem was found (the detail is the first one), or
 * an I/O error if blocks could not be read. */
int lsm_table_verify(lsm_table *t, lsm_table_verify_cb cb, void *ctx);

#endif
