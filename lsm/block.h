/*
 * block.h — the sorted key/value block inside an SST (internal to lsm/).
 *
 * A block is a run of entries, each key prefix-compressed against the key
 * before it, with a full key (a restart point) every restart_interval
 * entries, then a trailer listing the restart offsets.  Encoding (FROZEN,
 * see lsm/doc/table_format.md, "Block contents"):
 *
 *   entry   := varint32 shared | varint32 non_shared | varint32 value_len
 *              | key_delta[non_shared] | value[value_len]
 *   trailer := fixed32 restart_offset * n | fixed32 n
 *
 * Invariants: the first entry and every restart entry have shared == 0;
 * restart offsets are strictly increasing and each points at an entry; a
 * builder's keys are added in the order the block's readers will use
 * (the builder does not check: the table builder does).
 *
 * Readers trust nothing: lsm_block_init validates the trailer and every
 * restart offset, and the iterator bounds-checks each entry; damage makes
 * the iterator invalid with status LSM_E_CORRUPT and an lsm_errdetail
 * naming the file and the block's offset.
 *
 * Threads: a builder belongs to one thread.  An lsm_block is immutable
 * and may be read by many iterators on many threads; each iterator belongs
 * to one thread.
 */
#ifndef LSM_BLOCK_H
#define LSM_BLOCK_H

#include "iter.h"

/* ---- building ---------------------------------------------------------- */

typedef struct lsm_block_builder {
	lsm_buf buf;		/* entries; after finish also the trailer */
	lsm_buf restarts;	/* encoded fixed32 restart offsets */
	lsm_buf last_key;
	int interval;
	int counter;		/* entries since the last restart */
	uint32_t nrestarts;
	uint64_t nentries;
	bool finished;
} lsm_block_builder;

/* restart_interval < 1 is taken as 1. */
void lsm_block_builder_init(lsm_block_builder *b, int restart_interval);
/* Append an entry.  0, -ENOMEM, or LSM_E_INVALID if the block would pass
 * 4 GiB (offsets are 32-bit).  REQUIRES: not finished. */
int lsm_block_builder_add(lsm_block_builder *b, lsm_slice key,
			  lsm_slice value);
/* Append the trailer; *out is the whole block, valid until reset or
 * free.  0 or -ENOMEM.  REQUIRES: not finished. */
int lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out);
/* Empty the builder for the next block (keeps its memory). */
void lsm_block_builder_reset(lsm_block_builder *b);
/* Bytes the block would have if finished now. */
size_t lsm_block_builder_size_estimate(const lsm_block_builder *b);
bool lsm_block_builder_empty(const lsm_block_builder *b);
void lsm_block_builder_free(lsm_block_builder *b);

/* ---- reading ----------------------------------------------------------- */

/* A parsed block over bytes owned by someone else (a table, the block
 * cache); it does not free them. */
typedef struct lsm_block {
	const char *data;
	size_t size;		/* whole block including the trailer */
	uint32_t restarts_off;	/* where the restart array (= entries end) is */
	uint32_t nrestarts;
} lsm_block;

/* Parse the trailer of data[0..size) and check every restart offset.
 * 0 or LSM_E_CORRUPT (no detail set: the caller knows the file). */
int lsm_block_init(lsm_block *b, const char *data, size_t size);

/* Keys up to this size are kept inside the iterator: no malloc on the
 * read path for ordinary keys. */
#define LSM_BLOCK_IT_INLINE 128

/*
 * A block iterator that can live inside another struct or on the stack
 * (table reads use it that way, to avoid a malloc per lookup).  It is
 * self-referential once initialised: never copy or move it.
 */
typedef struct lsm_block_it {
	lsm_it base;
	lsm_block b;
	lsm_cmp_fn cmp;
	const char *fname;	/* for error details; may be NULL */
	uint64_t foff;		/* the block's offset in fname */
	uint32_t cur;		/* current entry; == b.restarts_off: invalid */
	uint32_t next;		/* entry after cur */
	uint32_t ridx;		/* restart region holding cur */
	int status;
	lsm_slice val;
	char *key;		/* kinline or a heap buffer */
	size_t klen, kcap;
	bool heap_self;		/* allocated by lsm_block_iter */
	char kinline[LSM_BLOCK_IT_INLINE];
} lsm_block_it;

/* Initialise it over b (copied: b itself need not outlive it, its bytes
 * must), positioned nowhere (invalid).  fname/foff only label errors. */
void lsm_block_it_init(lsm_block_it *it, const lsm_block *b, lsm_cmp_fn cmp,
		       const char *fname, uint64_t foff);
/* Point an initialised iterator at another block, keeping its key buffer
 * and status cleared; invalid until positioned. */
void lsm_block_it_retarget(lsm_block_it *it, const lsm_block *b,
			   uint64_t foff);
/* Release what an embedded iterator allocated (not the struct). */
void lsm_block_it_cleanup(lsm_block_it *it);

/* A heap-allocated iterator over b (whose bytes must outlive it); free
 * with lsm_it_free.  NULL on ENOMEM.  Supports both directions; seek finds
 * the first key >= target by binary search over the restart points. */
lsm_it *lsm_block_iter(const lsm_block *b, lsm_cmp_fn cmp, const char *fname,
		       uint64_t foff);

#endif
