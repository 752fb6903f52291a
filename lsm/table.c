/*
 * table.c — the SST builder and reader (see table.h; the byte layout is
 * lsm/doc/table_format.md).
 *
 * File layout, in write order:
 *   data blocks | filter | range-del | index | properties | metaindex | footer
 * Every block is followed by a 5-byte trailer: compression type, then a
 * checksum over payload + type.  A block handle (offset, size) names the
 * payload; the trailer follows it.
 *
 * Builder invariants:
 *  1. Point keys arrive strictly increasing (checked); the index entry for
 *     a data block is written when the next key arrives, so its separator
 *     can be shortened to lie between the two blocks.
 *  2. The filter is built at finish from one 64-bit hash per distinct user
 *     key (8 bytes of memory per key rather than the keys themselves).
 *  3. The first write error is latched: every later call returns it.
 *
 * Reader invariants:
 *  1. After open, the table is immutable: index, filter, range tombstones
 *     and properties live in memory; data blocks come from the block cache
 *     or a fresh pread.
 *  2. Every block read is bounds-checked against the file before any
 *     allocation, checksummed before it is decoded, and a compressed
 *     block's declared size is capped (LSM_TABLE_MAX_BLOCK) and must match
 *     its zstd frame; so corrupt bytes yield LSM_E_CORRUPT, never a crash or
 *     a huge allocation.
 *  3. Cached blocks are keyed by (cache id, block offset); a cache id is
 *     never reused, so a closed table's blocks just age out.
 *
 * Threads: a builder belongs to one thread.  Readers share an lsm_table:
 * no shared cursor (pread), per-call iterators on the stack or per
 * iterator, one zstd decompression context per thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>
#include "block.h"
#include "bloom.h"
#include "table.h"

/* ---- format constants (FROZEN: they reach disk) ------------------------- */

#define TABLE_MAGIC UINT64_C(0x4c534d5441424c45)	/* "LSMTABLE" */
#define FOOTER_SIZE 48
#define BLOCK_TRAILER 5
enum { COMP_NONE = 0, COMP_ZSTD = 1 };

#define META_FILTER "lsm.filter"
#define META_PROPS "lsm.props"
#define META_RANGEDEL "lsm.rangedel"

/* Restart intervals of the blocks the builder makes itself: the index is
 * binary searched on every lookup, so every entry is a restart point. */
#define INDEX_RESTART 1
#define META_RESTART 1

/* Property names, in the (bytewise) order they are written. */
enum prop_id {
	P_DATA_BLOCKS, P_DATA_BYTES, P_DELETIONS, P_ENTRIES, P_FILTER_BYTES,
	P_FORMAT_VERSION, P_INDEX_BYTES, P_LARGEST, P_MAX_SEQ, P_MIN_SEQ,
	P_RANGE_DELETIONS, P_RAW_KEY_BYTES, P_RAW_VALUE_BYTES, P_SMALLEST,
	P_COUNT
};
static const char *const prop_names[P_COUNT] = {
	[P_DATA_BLOCKS] = "lsm.data_blocks",
	[P_DATA_BYTES] = "lsm.data_bytes",
	[P_DELETIONS] = "lsm.deletions",
	[P_ENTRIES] = "lsm.entries",
	[P_FILTER_BYTES] = "lsm.filter_bytes",
	[P_FORMAT_VERSION] = "lsm.format_version",
	[P_INDEX_BYTES] = "lsm.index_bytes",
	[P_LARGEST] = "lsm.largest",
	[P_MAX_SEQ] = "lsm.max_seq",
	[P_MIN_SEQ] = "lsm.min_seq",
	[P_RANGE_DELETIONS] = "lsm.range_deletions",
	[P_RAW_KEY_BYTES] = "lsm.raw_key_bytes",
	[P_RAW_VALUE_BYTES] = "lsm.raw_value_bytes",
	[P_SMALLEST] = "lsm.smallest",
};

static uint64_t *prop_num(lsm_table_props *p, enum prop_id id)
{
	switch (id) {
	case P_DATA_BLOCKS: return &p->data_blocks;
	case P_DATA_BYTES: return &p->data_bytes;
	case P_DELETIONS: return &p->deletions;
	case P_ENTRIES: return &p->entries;
	case P_FILTER_BYTES: return &p->filter_bytes;
	case P_INDEX_BYTES: return &p->index_bytes;
	case P_MAX_SEQ: return &p->max_seq;
	case P_MIN_SEQ: return &p->min_seq;
	case P_RANGE_DELETIONS: return &p->range_deletions;
	case P_RAW_KEY_BYTES: return &p->raw_key_bytes;
	case P_RAW_VALUE_BYTES: return &p->raw_value_bytes;
	default: return NULL;
	}
}

void lsm_table_props_free(lsm_table_props *p)
{
	if (!p)
		return;
	lsm_buf_free(&p->smallest);
	lsm_buf_free(&p->largest);
}

static int props_copy(lsm_table_props *dst, const lsm_table_props *src)
{
	*dst = *src;
	memset(&dst->smallest, 0, sizeof dst->smallest);
	memset(&dst->largest, 0, sizeof dst->largest);
	if (lsm_buf_set(&dst->smallest, src->smallest.data, src->smallest.len) ||
	    lsm_buf_set(&dst->largest, src->largest.data, src->largest.len)) {
		lsm_table_props_free(dst);
		return -ENOMEM;
	}
	return 0;
}

static int put_handle(lsm_buf *b, uint64_t off, uint64_t size)
{
	LSM_TRY(lsm_putv64(b, off));
	return lsm_putv64(b, size);
}

/* A block handle is exactly two varints. */
static bool get_handle(lsm_slice v, uint64_t *off, uint64_t *size)
{
	return lsm_getv64(&v, off) && lsm_getv64(&v, size) && v.size == 0;
}

/* ==== building ========================================================== */

struct lsm_table_builder {
	lsm_env *env;
	lsm_file *f;
	char *fname;
	lsm_table_opts o;
	int status;		/* latched first error */
	bool finished;
	uint64_t offset;	/* bytes appended so far */
	ZSTD_CCtx *cctx;	/* NULL when compression is off */

	lsm_block_builder data;
	lsm_block_builder index;
	lsm_buf last_key;	/* last point key added */
	bool pending_index;	/* data block written, index entry not yet */
	uint64_t pending_off, pending_size;

	uint64_t *hashes;	/* one per distinct user key */
	size_t nhashes, hashes_cap;

	lsm_buf rd_arena;	/* range tombstones: seq8 | lp begin | lp end */

	lsm_buf out;		/* a block on its way to disk */
	lsm_buf wbuf;		/* the last offset - wbuf.len bytes, not yet
				 * handed to the env */
	unsigned zfails;	/* data blocks in a row zstd could not shrink */
	unsigned zskip;		/* data blocks still to store without trying */
	unsigned zbackoff;	/* the next skip after a failure */
	lsm_buf sep;		/* separator / scratch key */
	lsm_table_props p;
	bool have_seq;
};

int lsm_tb_new(lsm_env *env, lsm_file *f, const char *fname,
	       const lsm_table_opts *o, lsm_table_builder **out)
{
	int rc = 0;
	lsm_table_builder *tb = calloc(1, sizeof *tb);
	if (!tb)
		return -ENOMEM;
	tb->env = env;
	tb->f = f;
	tb->fname = strdup(fname ? fname : "(table)");
	if (!tb->fname)
		LSM_ERR(-ENOMEM);
	if (o)
		tb->o = *o;
	if (tb->o.block_size == 0)
		tb->o.block_size = 4096;
	if (tb->o.restart_interval < 1)
		tb->o.restart_interval = 16;
	if (tb->o.bloom_bits_per_key < 0)
		tb->o.bloom_bits_per_key = 0;
	if (tb->o.compression != 0) {
		if (tb->o.compression > ZSTD_maxCLevel())
			tb->o.compression = ZSTD_maxCLevel();
		if (tb->o.compression < ZSTD_minCLevel())
			tb->o.compression = ZSTD_minCLevel();
		tb->cctx = ZSTD_createCCtx();
		if (!tb->cctx)
			LSM_ERR(-ENOMEM);
	}
	lsm_block_builder_init(&tb->data, tb->o.restart_interval);
	lsm_block_builder_init(&tb->index, INDEX_RESTART);
	tb->p.format_version = LSM_TABLE_FORMAT_VERSION;
	*out = tb;
	return 0;
err:
	free(tb->fname);
	free(tb);
	return rc;
}

void lsm_tb_free(lsm_table_builder *tb)
{
	if (!tb)
		return;
	ZSTD_freeCCtx(tb->cctx);
	lsm_block_builder_free(&tb->data);
	lsm_block_builder_free(&tb->index);
	lsm_buf_free(&tb->last_key);
	free(tb->hashes);
	lsm_buf_free(&tb->rd_arena);
	lsm_buf_free(&tb->out);
	lsm_buf_free(&tb->wbuf);
	lsm_buf_free(&tb->sep);
	lsm_table_props_free(&tb->p);
	free(tb->fname);
	free(tb);
}

uint64_t lsm_tb_entries(const lsm_table_builder *tb)
{
	return tb->p.entries;
}

uint64_t lsm_tb_size_estimate(const lsm_table_builder *tb)
{
	uint64_t n = tb->offset;
	if (!lsm_block_builder_empty(&tb->data))
		n += lsm_block_builder_size_estimate(&tb->data);
	return n;
}

static int tb_fail(lsm_table_builder *tb, int rc)
{
	if (!tb->status)
		tb->status = rc;
	return rc;
}

static void tb_note_seq(lsm_table_builder *tb, uint64_t seq)
{
	if (!tb->have_seq || seq < tb->p.min_seq)
		tb->p.min_seq = seq;
	if (!tb->have_seq || seq > tb->p.max_seq)
		tb->p.max_seq = seq;
	tb->have_seq = true;
}

/*
 * Blocks are gathered in tb->wbuf and handed to the env TB_WRITE_CHUNK
 * bytes at a time (and at the end): one system call per 256 KiB rather
 * than per 4 KiB block.  Nothing is lost by holding them: a table counts
 * only once it is finished, synced and named in the manifest.
 */
#define TB_WRITE_CHUNK (256u << 10)

static int tb_drain(lsm_table_builder *tb)
{
	if (!tb->wbuf.len)
		return 0;
	int rc = tb->env->append(tb->env, tb->f, tb->wbuf.data, tb->wbuf.len);
	if (rc < 0)
		return tb_fail(tb, lsm_err(rc, "%s: writing %zu bytes at offset %" PRIu64 ": %s",
					   tb->fname, tb->wbuf.len,
					   tb->offset - tb->wbuf.len, lsm_strerror(rc)));
	lsm_buf_clear(&tb->wbuf);
	return 0;
}

static int tb_emit(lsm_table_builder *tb, const void *p, size_t n)
{
	int rc = lsm_buf_append(&tb->wbuf, p, n);
	if (rc < 0)
		return tb_fail(tb, rc);
	tb->offset += n;
	return tb->wbuf.len >= TB_WRITE_CHUNK ? tb_drain(tb) : 0;
}

/*
 * Data that does not compress (file contents that are already compressed,
 * encrypted or random) costs a zstd attempt per block for nothing.  After
 * ZSKIP_AFTER data blocks in a row that zstd could not shrink, the builder
 * stores the next ones raw without trying, skipping 1, 2, 4 ... up to
 * ZSKIP_MAX blocks between attempts; a block that compresses again ends
 * the back-off.  Index and meta blocks are always tried.
 */
#define ZSKIP_AFTER 4
#define ZSKIP_MAX 64

static bool tb_try_zstd(lsm_table_builder *tb, bool data)
{
	if (!data || tb->zskip == 0)
		return true;
	tb->zskip--;
	return false;
}

static void tb_zstd_result(lsm_table_builder *tb, bool data, bool shrank)
{
	if (!data)
		return;
	if (shrank) {
		tb->zfails = 0;
		tb->zbackoff = 0;
		return;
	}
	if (++tb->zfails < ZSKIP_AFTER)
		return;
	tb->zbackoff = tb->zbackoff ? LSM_MIN(tb->zbackoff * 2, ZSKIP_MAX) : 1;
	tb->zskip = tb->zbackoff;
}

/*
 * Write one block: try zstd when allowed (kept only if it saves at least
 * an eighth), add the trailer, queue it for the file.  The block's handle
 * (offset, payload size) goes to off and size.  data: a data block (the
 * compression back-off applies).
 */
static int tb_write_block(lsm_table_builder *tb, lsm_slice payload,
			  bool compress, bool data, uint64_t *off, uint64_t *size)
{
	int rc = 0;
	char type = COMP_NONE;
	lsm_buf *out = &tb->out;

	lsm_buf_clear(out);
	if (compress && tb->cctx && payload.size <= LSM_TABLE_MAX_BLOCK &&
	    payload.size >= 64 && tb_try_zstd(tb, data)) {
		size_t bound = ZSTD_compressBound(payload.size);
		LSM_ERR(lsm_buf_reserve(out, 10 + bound + BLOCK_TRAILER));
		int h = lsm_encv64(out->data, payload.size);
		size_t z = ZSTD_compressCCtx(tb->cctx, out->data + h, bound,
					     payload.data, payload.size,
					     tb->o.compression);
		if (!ZSTD_isError(z) &&
		    (size_t)h + z <= payload.size - payload.size / 8) {
			out->len = (size_t)h + z;
			type = COMP_ZSTD;
		}
		tb_zstd_result(tb, data, type == COMP_ZSTD);
	}
	if (type == COMP_NONE)
		LSM_ERR(lsm_buf_set(out, payload.data, payload.size));
	size_t stored = out->len;
	LSM_ERR(lsm_buf_append(out, &type, 1));
	LSM_ERR(lsm_put32(out, lsm_checksum(out->data, out->len)));
	*off = tb->offset;
	*size = stored;
	return tb_emit(tb, out->data, out->len);
err:
	return tb_fail(tb, rc);
}

static int tb_flush_data(lsm_table_builder *tb)
{
	int rc = 0;
	lsm_slice blk;
	if (lsm_block_builder_empty(&tb->data))
		return 0;
	LSM_ERR(lsm_block_builder_finish(&tb->data, &blk));
	LSM_ERR(tb_write_block(tb, blk, true, true, &tb->pending_off, &tb->pending_size));
	tb->p.data_blocks++;
	tb->p.data_bytes += tb->pending_size + BLOCK_TRAILER;
	tb->pending_index = true;
	lsm_block_builder_reset(&tb->data);
	return 0;
err:
	return tb_fail(tb, rc);
}

/* ikey(user, LSM_SEQ_MAX, LSM_T_SEEK): the first internal key of user. */
static int set_first_ikey(lsm_buf *b, const char *user, size_t n)
{
	lsm_buf_clear(b);
	return lsm_ikey_append(b, lsm_slice_of(user, n), LSM_SEQ_MAX, LSM_T_SEEK);
}

/*
 * A key s with a <= s < b (internal keys, a < b), preferably short: the
 * user key of a, cut after the first byte where it differs from b's and
 * that byte raised by one, under the first trailer of that user key.
 */
static int tb_separator(lsm_buf *out, lsm_slice a, lsm_slice b)
{
	lsm_slice ua = lsm_ikey_user(a), ub = lsm_ikey_user(b);
	size_t n = LSM_MIN(ua.size, ub.size), i = 0;
	while (i < n && ua.data[i] == ub.data[i])
		i++;
	if (i < n && i + 1 < ua.size) {
		unsigned char c = (unsigned char)ua.data[i];
		if (c < 0xff && c + 1 < (unsigned char)ub.data[i]) {
			LSM_TRY(set_first_ikey(out, ua.data, i + 1));
			out->data[i] = (char)(c + 1);
			return 0;
		}
	}
	return lsm_buf_set(out, a.data, a.size);
}

/* A short key >= a: the user key cut after its first byte that can be
 * raised, raised. */
static int tb_successor(lsm_buf *out, lsm_slice a)
{
	lsm_slice ua = lsm_ikey_user(a);
	for (size_t i = 0; i + 1 < ua.size; i++) {
		unsigned char c = (unsigned char)ua.data[i];
		if (c != 0xff) {
			LSM_TRY(set_first_ikey(out, ua.data, i + 1));
			out->data[i] = (char)(c + 1);
			return 0;
		}
	}
	return lsm_buf_set(out, a.data, a.size);
}

static int tb_add_index(lsm_table_builder *tb, lsm_slice sep)
{
	char h[20];
	int n = lsm_encv64(h, tb->pending_off);
	n += lsm_encv64(h + n, tb->pending_size);
	int rc = lsm_block_builder_add(&tb->index, sep, lsm_slice_of(h, (size_t)n));
	if (rc < 0)
		return tb_fail(tb, rc);
	tb->pending_index = false;
	return 0;
}

int lsm_tb_add(lsm_table_builder *tb, lsm_slice ikey, lsm_slice value)
{
	int rc = 0;
	lsm_slice ukey;
	uint64_t seq;
	int type;

	if (tb->status)
		return tb->status;
	if (tb->finished)
		return lsm_err(LSM_E_INVALID, "%s: add after finish", tb->fname);
	if (!lsm_ikey_parse(ikey, &ukey, &seq, &type) || type == LSM_T_RANGEDEL)
		return lsm_err(LSM_E_INVALID, "%s: not a point internal key",
			       tb->fname);
	bool first = tb->p.entries == 0;
	lsm_slice last = lsm_buf_slice(&tb->last_key);
	if (!first && lsm_ikey_cmp(ikey, last) <= 0)
		return lsm_err(LSM_E_INVALID,
			       "%s: keys out of order (entry %" PRIu64 ")",
			       tb->fname, tb->p.entries);

	if (tb->pending_index) {
		LSM_ERR(tb_separator(&tb->sep, last, ikey));
		LSM_ERR(tb_add_index(tb, lsm_buf_slice(&tb->sep)));
	}
	if (tb->o.bloom_bits_per_key > 0 &&
	    (first || !lsm_slice_eq(ukey, lsm_ikey_user(last)))) {
		if (tb->nhashes == tb->hashes_cap) {
			size_t cap = tb->hashes_cap ? tb->hashes_cap * 2 : 1024;
			uint64_t *h = realloc(tb->hashes, cap * sizeof *h);
			if (!h)
				LSM_ERR(-ENOMEM);
			tb->hashes = h;
			tb->hashes_cap = cap;
		}
		tb->hashes[tb->nhashes++] = lsm_bloom_hash(ukey);
	}
	LSM_ERR(lsm_block_builder_add(&tb->data, ikey, value));
	LSM_ERR(lsm_buf_set(&tb->last_key, ikey.data, ikey.size));
	if (first)
		LSM_ERR(lsm_buf_set(&tb->p.smallest, ikey.data, ikey.size));
	tb->p.entries++;
	if (type == LSM_T_DEL)
		tb->p.deletions++;
	tb->p.raw_key_bytes += ikey.size;
	tb->p.raw_value_bytes += value.size;
	tb_note_seq(tb, seq);
	if (lsm_block_builder_size_estimate(&tb->data) >= tb->o.block_size)
		LSM_ERR(tb_flush_data(tb));
	return 0;
err:
	return tb_fail(tb, rc);
}

int lsm_tb_add_rangedel(lsm_table_builder *tb, lsm_slice begin, lsm_slice end,
			uint64_t seq)
{
	int rc = 0;
	if (tb->status)
		return tb->status;
	if (tb->finished)
		return lsm_err(LSM_E_INVALID, "%s: add after finish", tb->fname);
	if (lsm_slice_cmp(begin, end) >= 0 || seq > LSM_SEQ_MAX ||
	    begin.size > UINT32_MAX || end.size > UINT32_MAX)
		return lsm_err(LSM_E_INVALID,
			       "%s: empty or invalid range tombstone", tb->fname);
	size_t save = tb->rd_arena.len;
	rc = lsm_put64(&tb->rd_arena, seq);
	if (!rc)
		rc = lsm_put_lp(&tb->rd_arena, begin);
	if (!rc)
		rc = lsm_put_lp(&tb->rd_arena, end);
	if (rc < 0) {
		tb->rd_arena.len = save;
		return tb_fail(tb, rc);
	}
	tb->p.range_deletions++;
	tb_note_seq(tb, seq);
	return 0;
}

static int rd_cmp(const void *a, const void *b)
{
	const lsm_rangedel *x = a, *y = b;
	int r = lsm_slice_cmp(x->begin, y->begin);
	if (r)
		return r;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;	/* newest first */
	return lsm_slice_cmp(x->end, y->end);
}

/* Write the range-del block (if any) and widen smallest/largest to cover
 * the tombstones. */
static int tb_write_rangedels(lsm_table_builder *tb, uint64_t *off,
			      uint64_t *size)
{
	int rc = 0;
	size_t n = (size_t)tb->p.range_deletions;
	lsm_rangedel *rd = NULL;
	lsm_block_builder bb;
	lsm_slice blk;

	lsm_block_builder_init(&bb, tb->o.restart_interval);
	if (n == 0)
		goto err;	/* nothing to write: no block */
	rd = malloc(n * sizeof *rd);
	if (!rd)
		LSM_ERR(-ENOMEM);
	lsm_slice in = lsm_buf_slice(&tb->rd_arena);
	for (size_t i = 0; i < n; i++) {
		/* the arena was written by lsm_tb_add_rangedel: cannot fail */
		if (!lsm_get64(&in, &rd[i].seq) || !lsm_get_lp(&in, &rd[i].begin) ||
		    !lsm_get_lp(&in, &rd[i].end))
			LSM_ERR(LSM_E_CORRUPT);
	}
	qsort(rd, n, sizeof *rd, rd_cmp);
	for (size_t i = 0; i < n; i++) {
		lsm_buf_clear(&tb->sep);
		LSM_ERR(lsm_ikey_append(&tb->sep, rd[i].begin, rd[i].seq,
					LSM_T_RANGEDEL));
		lsm_slice k = lsm_buf_slice(&tb->sep);
		if (tb->p.smallest.len == 0 ||
		    lsm_ikey_cmp(k, lsm_buf_slice(&tb->p.smallest)) < 0)
			LSM_ERR(lsm_buf_set(&tb->p.smallest, k.data, k.size));
		LSM_ERR(lsm_block_builder_add(&bb, k, rd[i].end));
		lsm_buf_clear(&tb->sep);
		LSM_ERR(lsm_ikey_append(&tb->sep, rd[i].end, LSM_SEQ_MAX,
					LSM_T_RANGEDEL));
		k = lsm_buf_slice(&tb->sep);
		if (tb->p.largest.len == 0 ||
		    lsm_ikey_cmp(k, lsm_buf_slice(&tb->p.largest)) > 0)
			LSM_ERR(lsm_buf_set(&tb->p.largest, k.data, k.size));
	}
	LSM_ERR(lsm_block_builder_finish(&bb, &blk));
	LSM_ERR(tb_write_block(tb, blk, true, false, off, size));
err:
	lsm_block_builder_free(&bb);
	free(rd);
	return rc;
}

static int tb_write_props(lsm_table_builder *tb, uint64_t *off, uint64_t *size)
{
	int rc = 0;
	lsm_block_builder bb;
	lsm_buf v = {0};
	lsm_slice blk;

	lsm_block_builder_init(&bb, META_RESTART);
	for (int id = 0; id < P_COUNT; id++) {
		lsm_buf_clear(&v);
		uint64_t *num = prop_num(&tb->p, (enum prop_id)id);
		if (num)
			LSM_ERR(lsm_putv64(&v, *num));
		else if (id == P_FORMAT_VERSION)
			LSM_ERR(lsm_putv64(&v, tb->p.format_version));
		else if (id == P_SMALLEST)
			LSM_ERR(lsm_buf_set(&v, tb->p.smallest.data, tb->p.smallest.len));
		else if (id == P_LARGEST)
			LSM_ERR(lsm_buf_set(&v, tb->p.largest.data, tb->p.largest.len));
		const char *name = prop_names[id];
		LSM_ERR(lsm_block_builder_add(&bb, lsm_slice_of(name, strlen(name)),
					      lsm_buf_slice(&v)));
	}
	LSM_ERR(lsm_block_builder_finish(&bb, &blk));
	LSM_ERR(tb_write_block(tb, blk, false, false, off, size));
err:
	lsm_block_builder_free(&bb);
	lsm_buf_free(&v);
	return rc;
}

int lsm_tb_finish(lsm_table_builder *tb, lsm_table_props *props)
{
	int rc = 0;
	uint64_t f_off = 0, f_size = 0, r_off = 0, r_size = 0;
	uint64_t i_off, i_size, p_off, p_size, m_off, m_size;
	lsm_block_builder meta;
	lsm_buf v = {0};
	lsm_slice blk;
	bool have_filter = tb->o.bloom_bits_per_key > 0;

	lsm_block_builder_init(&meta, META_RESTART);
	if (tb->status)
		LSM_ERR(tb->status);
	if (tb->finished)
		LSM_ERR(lsm_err(LSM_E_INVALID, "%s: finished twice", tb->fname));
	tb->finished = true;

	LSM_ERR(tb_flush_data(tb));
	if (tb->pending_index) {
		LSM_ERR(tb_successor(&tb->sep, lsm_buf_slice(&tb->last_key)));
		LSM_ERR(tb_add_index(tb, lsm_buf_slice(&tb->sep)));
	}
	if (tb->p.entries)
		LSM_ERR(lsm_buf_set(&tb->p.largest, tb->last_key.data,
				    tb->last_key.len));

	if (have_filter) {
		lsm_buf_clear(&v);
		LSM_ERR(lsm_bloom_build_hashes(&v, tb->hashes, tb->nhashes,
					       tb->o.bloom_bits_per_key));
		LSM_ERR(tb_write_block(tb, lsm_buf_slice(&v), false, false, &f_off, &f_size));
		tb->p.filter_bytes = f_size + BLOCK_TRAILER;
	}
	LSM_ERR(tb_write_rangedels(tb, &r_off, &r_size));

	LSM_ERR(lsm_block_builder_finish(&tb->index, &blk));
	LSM_ERR(tb_write_block(tb, blk, true, false, &i_off, &i_size));
	tb->p.index_bytes = i_size + BLOCK_TRAILER;
	if (!tb->have_seq)
		tb->p.min_seq = tb->p.max_seq = 0;
	LSM_ERR(tb_write_props(tb, &p_off, &p_size));

	/* metaindex: names in bytewise order */
	if (have_filter) {
		lsm_buf_clear(&v);
		LSM_ERR(put_handle(&v, f_off, f_size));
		LSM_ERR(lsm_block_builder_add(&meta, lsm_slice_of(META_FILTER, strlen(META_FILTER)),
					      lsm_buf_slice(&v)));
	}
	lsm_buf_clear(&v);
	LSM_ERR(put_handle(&v, p_off, p_size));
	LSM_ERR(lsm_block_builder_add(&meta, lsm_slice_of(META_PROPS, strlen(META_PROPS)),
				      lsm_buf_slice(&v)));
	if (tb->p.range_deletions) {
		lsm_buf_clear(&v);
		LSM_ERR(put_handle(&v, r_off, r_size));
		LSM_ERR(lsm_block_builder_add(&meta, lsm_slice_of(META_RANGEDEL, strlen(META_RANGEDEL)),
					      lsm_buf_slice(&v)));
	}
	LSM_ERR(lsm_block_builder_finish(&meta, &blk));
	LSM_ERR(tb_write_block(tb, blk, false, false, &m_off, &m_size));

	char foot[FOOTER_SIZE];
	lsm_enc64(foot, m_off);
	lsm_enc64(foot + 8, m_size);
	lsm_enc64(foot + 16, i_off);
	lsm_enc64(foot + 24, i_size);
	lsm_enc32(foot + 32, LSM_TABLE_FORMAT_VERSION);
	lsm_enc32(foot + 36, lsm_checksum(foot, 36));
	lsm_enc64(foot + 40, TABLE_MAGIC);
	LSM_ERR(tb_emit(tb, foot, sizeof foot));
	LSM_ERR(tb_drain(tb));
	tb->p.file_size = tb->offset;
	if (props)
		LSM_ERR(props_copy(props, &tb->p));
	rc = 0;
err:
	if (rc < 0)
		tb_fail(tb, rc);
	lsm_block_builder_free(&meta);
	lsm_buf_free(&v);
	return rc;
}

/* ==== reading =========================================================== */

/* A block in memory: read from the file, decompressed if it was. */
struct tblk {
	lsm_block blk;		/* parsed, for block-format blocks */
	size_t size;		/* payload bytes in data[] */
	size_t alloc;		/* bytes allocated: the cache charge */
	char data[];
};

struct lsm_table {
	lsm_env *env;
	lsm_file *f;
	char *path;
	uint64_t file_size;
	uint32_t version;	/* from the footer */
	lsm_cache *cache;
	uint64_t cache_id;
	uint64_t meta_off, meta_size, index_off, index_size;
	uint64_t filter_off, filter_size, rd_off, rd_size, props_off, props_size;
	bool have_filter, have_rd;
	struct tblk *index_blk;
	struct tblk *filter_blk;
	lsm_block index;
	lsm_slice filter;
	lsm_rangedel *rds;
	size_t nrd;
	char *rd_arena;
	lsm_table_props props;
};

/* ---- per-thread decompression context ---------------------------------- */

static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;
static bool dctx_key_ok;
static __thread ZSTD_DCtx *dctx_tls;

static void dctx_destroy(void *p)
{
	ZSTD_freeDCtx(p);
	dctx_tls = NULL;
}

static void dctx_key_init(void)
{
	dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

/* The calling thread's context, freed when the thread exits; NULL if one
 * cannot be kept (then each call makes its own). */
static ZSTD_DCtx *thread_dctx(void)
{
	if (dctx_tls)
		return dctx_tls;
	pthread_once(&dctx_once, dctx_key_init);
	if (!dctx_key_ok)
		return NULL;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		return NULL;
	if (pthread_setspecific(dctx_key, d) != 0) {
		ZSTD_freeDCtx(d);
		return NULL;
	}
	dctx_tls = d;
	return d;
}

static size_t zstd_decompress(void *dst, size_t cap, const void *src, size_t n)
{
	ZSTD_DCtx *d = thread_dctx();
	if (d)
		return ZSTD_decompressDCtx(d, dst, cap, src, n);
	return ZSTD_decompress(dst, cap, src, n);
}

/* ---- block I/O --------------------------------------------------------- */

static int table_pread(lsm_table *t, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		size_t got = 0;
		int rc = t->env->pread(t->env, t->f, (char *)buf + done, n - done,
				       off + done, &got);
		if (rc < 0)
			return lsm_err(rc, "%s: reading %zu bytes at offset %" PRIu64 ": %s",
				       t->path, n, off, lsm_strerror(rc));
		if (got == 0)
			return lsm_err(LSM_E_CORRUPT,
				       "%s: truncated: bytes at offset %" PRIu64
				       " are past the end of the file",
				       t->path, off + done);
		done += got;
	}
	return 0;
}

/*
 * Read the block at (off, size), check its trailer, decompress it, and
 * parse it if parse (a filter is not in block format).  *out is malloc'd.
 */
static int read_block(lsm_table *t, uint64_t off, uint64_t size, bool parse,
		      const char *what, struct tblk **out)
{
	int rc = 0;
	struct tblk *raw = NULL, *dec = NULL;
	uint64_t limit = t->file_size - FOOTER_SIZE;

	*out = NULL;
	if (size > limit || off > limit - size || limit - size - off < BLOCK_TRAILER)
		return lsm_err(LSM_E_CORRUPT,
			       "%s: %s handle at offset %" PRIu64 " size %" PRIu64
			       " lies outside the file",
			       t->path, what, off, size);
	if (size + BLOCK_TRAILER > SIZE_MAX - sizeof *raw)
		return lsm_err(-ENOMEM, "%s: %s at offset %" PRIu64 " too large",
			       t->path, what, off);
	size_t n = (size_t)size + BLOCK_TRAILER;
	raw = malloc(sizeof *raw + n);
	if (!raw)
		LSM_ERR(-ENOMEM);
	raw->alloc = sizeof *raw + n;
	raw->size = (size_t)size;
	LSM_ERR(table_pread(t, raw->data, n, off));
	uint32_t want = lsm_dec32(raw->data + size + 1);
	if (lsm_checksum(raw->data, (size_t)size + 1) != want)
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: %s at offset %" PRIu64 ": checksum mismatch",
				t->path, what, off));
	unsigned char type = (unsigned char)raw->data[size];
	if (type == COMP_ZSTD) {
		lsm_slice in = lsm_slice_of(raw->data, (size_t)size);
		uint64_t rawlen;
		if (!lsm_getv64(&in, &rawlen) || rawlen > LSM_TABLE_MAX_BLOCK ||
		    ZSTD_getFrameContentSize(in.data, in.size) != rawlen)
			LSM_ERR(lsm_err(LSM_E_CORRUPT,
					"%s: %s at offset %" PRIu64
					": bad compressed size",
					t->path, what, off));
		dec = malloc(sizeof *dec + (size_t)rawlen);
		if (!dec)
			LSM_ERR(-ENOMEM);
		dec->alloc = sizeof *dec + (size_t)rawlen;
		dec->size = (size_t)rawlen;
		size_t got = zstd_decompress(dec->data, (size_t)rawlen, in.data,
					     in.size);
		if (ZSTD_isError(got) || got != rawlen)
			LSM_ERR(lsm_err(LSM_E_CORRUPT,
					"%s: %s at offset %" PRIu64
					": cannot decompress",
					t->path, what, off));
		free(raw);
		raw = dec;
		dec = NULL;
	} else if (type != COMP_NONE) {
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: %s at offset %" PRIu64
				": unknown compression type %u",
				t->path, what, off, type));
	}
	memset(&raw->blk, 0, sizeof raw->blk);
	if (parse && lsm_block_init(&raw->blk, raw->data, raw->size) < 0)
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: %s at offset %" PRIu64 ": bad restart array",
				t->path, what, off));
	*out = raw;
	return 0;
err:
	free(raw);
	free(dec);
	return rc;
}

static void cache_block_deleter(const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	free(value);
}

/* A data block held by a reader: through the cache (h) or privately. */
struct held_block {
	struct tblk *b;
	lsm_cache_handle *h;
};

static int table_block(lsm_table *t, uint64_t off, uint64_t size, bool fill,
		       struct held_block *hb)
{
	char key[16];
	hb->b = NULL;
	hb->h = NULL;
	if (t->cache) {
		lsm_enc64(key, t->cache_id);
		lsm_enc64(key + 8, off);
		hb->h = lsm_cache_lookup(t->cache, key, sizeof key);
		if (hb->h) {
			hb->b = lsm_cache_value(hb->h);
			return 0;
		}
	}
	LSM_TRY(read_block(t, off, size, true, "data block", &hb->b));
	if (t->cache && fill)
		/* on ENOMEM the block simply stays private */
		hb->h = lsm_cache_insert(t->cache, key, sizeof key, hb->b,
					 hb->b->alloc, cache_block_deleter);
	return 0;
}

static void held_release(lsm_table *t, struct held_block *hb)
{
	if (hb->h)
		lsm_cache_release(t->cache, hb->h);
	else
		free(hb->b);
	hb->b = NULL;
	hb->h = NULL;
}

/* ---- open ---------------------------------------------------------------- */

static int parse_props(lsm_table *t, const struct tblk *pb)
{
	int rc = 0;
	uint32_t seen = 0;
	lsm_block_it it;
	lsm_table_props *p = &t->props;

	lsm_block_it_init(&it, &pb->blk, lsm_slice_cmp, t->path, t->props_off);
	for (lsm_it_seek_first(&it.base); lsm_it_valid(&it.base);
	     lsm_it_next(&it.base)) {
		lsm_slice k = lsm_it_key(&it.base), v = lsm_it_value(&it.base);
		int id;
		for (id = 0; id < P_COUNT; id++)
			if (lsm_slice_eq(k, lsm_slice_of(prop_names[id],
							 strlen(prop_names[id]))))
				break;
		if (id == P_COUNT)
			continue;	/* a property this build does not know */
		seen |= 1u << id;
		uint64_t num;
		if (id == P_SMALLEST) {
			LSM_ERR(lsm_buf_set(&p->smallest, v.data, v.size));
		} else if (id == P_LARGEST) {
			LSM_ERR(lsm_buf_set(&p->largest, v.data, v.size));
		} else {
			if (!lsm_getv64(&v, &num) || v.size != 0)
				LSM_ERR(lsm_err(LSM_E_CORRUPT,
						"%s: properties block at offset %" PRIu64
						": bad value of %s",
						t->path, t->props_off, prop_names[id]));
			if (id == P_FORMAT_VERSION)
				p->format_version = (uint32_t)LSM_MIN(num, UINT32_MAX);
			else
				*prop_num(p, (enum prop_id)id) = num;
		}
	}
	LSM_ERR(lsm_it_status(&it.base));
	if (seen != (1u << P_COUNT) - 1)
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: properties block at offset %" PRIu64
				": properties missing",
				t->path, t->props_off));
err:
	lsm_block_it_cleanup(&it);
	return rc;
}

/* Decode the range-del block into one arena the lsm_rangedel slices point
 * into; checks each key and the order. */
static int parse_rangedels(lsm_table *t, const struct tblk *rb)
{
	int rc = 0;
	lsm_block_it it;
	size_t n = 0, bytes = 0, i = 0, used = 0;
	uint64_t prev_off = 0;

	lsm_block_it_init(&it, &rb->blk, lsm_ikey_cmp, t->path, t->rd_off);
	for (lsm_it_seek_first(&it.base); lsm_it_valid(&it.base);
	     lsm_it_next(&it.base)) {
		n++;
		bytes += lsm_it_key(&it.base).size + lsm_it_value(&it.base).size;
	}
	LSM_ERR(lsm_it_status(&it.base));
	if (n == 0)
		goto err;
	t->rds = calloc(n, sizeof *t->rds);
	t->rd_arena = malloc(bytes ? bytes : 1);
	if (!t->rds || !t->rd_arena)
		LSM_ERR(-ENOMEM);
	for (lsm_it_seek_first(&it.base); lsm_it_valid(&it.base) && i < n;
	     lsm_it_next(&it.base), i++) {
		lsm_slice k = lsm_it_key(&it.base), v = lsm_it_value(&it.base), u;
		uint64_t seq;
		int type;
		if (!lsm_ikey_parse(k, &u, &seq, &type) || type != LSM_T_RANGEDEL ||
		    lsm_slice_cmp(u, v) >= 0 ||
		    (i > 0 && lsm_ikey_cmp(k, lsm_slice_of(t->rd_arena + prev_off,
							   t->rds[i - 1].begin.size + 8)) < 0))
			LSM_ERR(lsm_err(LSM_E_CORRUPT,
					"%s: range-del block at offset %" PRIu64
					": bad tombstone #%zu",
					t->path, t->rd_off, i));
		/* begin's internal key stays in the arena for the order check */
		prev_off = used;
		memcpy(t->rd_arena + used, k.data, k.size);
		t->rds[i].begin = lsm_slice_of(t->rd_arena + used, u.size);
		used += k.size;
		memcpy(t->rd_arena + used, v.data, v.size);
		t->rds[i].end = lsm_slice_of(t->rd_arena + used, v.size);
		used += v.size;
		t->rds[i].seq = seq;
	}
	LSM_ERR(lsm_it_status(&it.base));
	t->nrd = i;
err:
	lsm_block_it_cleanup(&it);
	return rc;
}

static int parse_meta(lsm_table *t, const struct tblk *mb, bool *have_props)
{
	int rc = 0;
	lsm_block_it it;
	struct {
		const char *name;
		bool *have;
		uint64_t *off, *size;
	} known[] = {
		{ META_FILTER, &t->have_filter, &t->filter_off, &t->filter_size },
		{ META_PROPS, have_props, &t->props_off, &t->props_size },
		{ META_RANGEDEL, &t->have_rd, &t->rd_off, &t->rd_size },
	};
	*have_props = false;
	lsm_block_it_init(&it, &mb->blk, lsm_slice_cmp, t->path, t->meta_off);
	for (lsm_it_seek_first(&it.base); lsm_it_valid(&it.base);
	     lsm_it_next(&it.base)) {
		lsm_slice k = lsm_it_key(&it.base), v = lsm_it_value(&it.base);
		size_t i;
		for (i = 0; i < sizeof known / sizeof known[0]; i++)
			if (lsm_slice_eq(k, lsm_slice_of(known[i].name,
							 strlen(known[i].name))))
				break;
		if (i == sizeof known / sizeof known[0])
			continue;	/* a block this build does not use */
		if (!get_handle(v, known[i].off, known[i].size))
			LSM_ERR(lsm_err(LSM_E_CORRUPT,
					"%s: metaindex block at offset %" PRIu64
					": bad block handle for %s",
					t->path, t->meta_off, known[i].name));
		*known[i].have = true;
	}
	LSM_ERR(lsm_it_status(&it.base));
	if (!*have_props)
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: metaindex block at offset %" PRIu64
				": no properties block",
				t->path, t->meta_off));
err:
	lsm_block_it_cleanup(&it);
	return rc;
}

static int read_footer(lsm_table *t)
{
	char foot[FOOTER_SIZE];
	if (t->file_size < FOOTER_SIZE)
		return lsm_err(LSM_E_CORRUPT,
			       "%s: not an lsm table (%" PRIu64
			       " bytes is too short, at offset 0)",
			       t->path, t->file_size);
	uint64_t at = t->file_size - FOOTER_SIZE;
	LSM_TRY(table_pread(t, foot, sizeof foot, at));
	if (lsm_dec64(foot + 40) != TABLE_MAGIC)
		return lsm_err(LSM_E_CORRUPT,
			       "%s: not an lsm table (bad magic at offset %" PRIu64 ")",
			       t->path, at + 40);
	uint32_t version = lsm_dec32(foot + 32);
	/* The checksum first: a damaged version field is corruption; only
	 * an intact footer may claim a newer format. */
	if (lsm_checksum(foot, 36) != lsm_dec32(foot + 36) || version == 0)
		return lsm_err(LSM_E_CORRUPT,
			       "%s: footer at offset %" PRIu64 ": checksum mismatch",
			       t->path, at);
	if (version > LSM_TABLE_FORMAT_VERSION)
		return lsm_err(LSM_E_VERSION,
			       "%s: table format version %u is newer than this build's %d",
			       t->path, version, LSM_TABLE_FORMAT_VERSION);
	t->version = version;
	t->meta_off = lsm_dec64(foot);
	t->meta_size = lsm_dec64(foot + 8);
	t->index_off = lsm_dec64(foot + 16);
	t->index_size = lsm_dec64(foot + 24);
	return 0;
}

void lsm_table_close(lsm_table *t)
{
	if (!t)
		return;
	if (t->f)
		t->env->close(t->env, t->f);
	free(t->index_blk);
	free(t->filter_blk);
	free(t->rds);
	free(t->rd_arena);
	lsm_table_props_free(&t->props);
	free(t->path);
	free(t);
}

int lsm_table_open(lsm_env *env, const char *path, uint64_t file_size,
		   lsm_cache *block_cache, lsm_table **out)
{
	int rc = 0;
	struct tblk *mb = NULL, *pb = NULL, *rb = NULL;
	bool have_props;
	lsm_table *t = calloc(1, sizeof *t);

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->env = env;
	t->file_size = file_size;
	t->path = strdup(path);
	if (!t->path)
		LSM_ERR(-ENOMEM);
	rc = env->open(env, path, LSM_OPEN_READ, &t->f);
	if (rc < 0) {
		t->f = NULL;
		LSM_ERR(lsm_err(rc, "%s: open: %s", path, lsm_strerror(rc)));
	}
	LSM_ERR(read_footer(t));
	LSM_ERR(read_block(t, t->meta_off, t->meta_size, true, "metaindex block", &mb));
	LSM_ERR(parse_meta(t, mb, &have_props));
	LSM_ERR(read_block(t, t->index_off, t->index_size, true, "index block",
			   &t->index_blk));
	t->index = t->index_blk->blk;
	if (t->have_filter) {
		LSM_ERR(read_block(t, t->filter_off, t->filter_size, false,
				   "filter block", &t->filter_blk));
		t->filter = lsm_slice_of(t->filter_blk->data, t->filter_blk->size);
	}
	if (t->have_rd) {
		LSM_ERR(read_block(t, t->rd_off, t->rd_size, true, "range-del block", &rb));
		LSM_ERR(parse_rangedels(t, rb));
	}
	LSM_ERR(read_block(t, t->props_off, t->props_size, true, "properties block", &pb));
	LSM_ERR(parse_props(t, pb));
	if (t->props.format_version != t->version ||
	    t->props.range_deletions != t->nrd)
		LSM_ERR(lsm_err(LSM_E_CORRUPT,
				"%s: properties block at offset %" PRIu64
				" disagrees with the footer or range-del block",
				path, t->props_off));
	t->props.file_size = file_size;
	t->cache = block_cache;
	t->cache_id = block_cache ? lsm_cache_new_id(block_cache) : 0;
	*out = t;
err:
	free(mb);
	free(pb);
	free(rb);
	if (rc < 0)
		lsm_table_close(t);
	return rc;
}

const lsm_table_props *lsm_table_get_props(const lsm_table *t)
{
	return &t->props;
}

size_t lsm_table_rangedels(const lsm_table *t, const lsm_rangedel **out)
{
	*out = t->rds;
	return t->nrd;
}

/* ---- point lookup ------------------------------------------------------ */

int lsm_table_get(lsm_table *t, lsm_slice ukey, uint64_t snap_seq,
		  bool fill_cache, lsm_buf *val, int *type, uint64_t *seq)
{
	int rc = LSM_E_NOTFOUND;
	char small[256];
	char *kb = small;
	lsm_block_it ii, di;
	struct held_block hb = {0};
	bool data_init = false;

	if (t->filter.size && !lsm_bloom_may_match(t->filter, ukey))
		return LSM_E_NOTFOUND;
	if (ukey.size > sizeof small - 8) {
		kb = malloc(ukey.size + 8);
		if (!kb)
			return -ENOMEM;
	}
	memcpy(kb, ukey.data, ukey.size);
	lsm_enc64(kb + ukey.size,
		  lsm_pack_trailer(LSM_MIN(snap_seq, LSM_SEQ_MAX), LSM_T_SEEK));
	lsm_slice target = lsm_slice_of(kb, ukey.size + 8);

	lsm_block_it_init(&ii, &t->index, lsm_ikey_cmp, t->path, t->index_off);
	lsm_it_seek(&ii.base, target);
	if (!lsm_it_valid(&ii.base)) {
		rc = lsm_it_status(&ii.base);
		rc = rc ? rc : LSM_E_NOTFOUND;
		goto out;
	}
	/* The index key is >= every key of its block and < every key of the
	 * next, so if this block has nothing >= target with user key ukey,
	 * no later block has either. */
	uint64_t off, size;
	if (!get_handle(lsm_it_value(&ii.base), &off, &size)) {
		rc = lsm_err(LSM_E_CORRUPT, "%s: index block at offset %" PRIu64
			     ": bad block handle", t->path, t->index_off);
		goto out;
	}
	rc = table_block(t, off, size, fill_cache, &hb);
	if (rc < 0)
		goto out;
	lsm_block_it_init(&di, &hb.b->blk, lsm_ikey_cmp, t->path, off);
	data_init = true;
	lsm_it_seek(&di.base, target);
	if (!lsm_it_valid(&di.base)) {
		rc = lsm_it_status(&di.base);
		rc = rc ? rc : LSM_E_NOTFOUND;
		goto out;
	}
	lsm_slice k = lsm_it_key(&di.base), u;
	uint64_t s;
	int ty;
	if (!lsm_ikey_parse(k, &u, &s, &ty) || ty == LSM_T_RANGEDEL) {
		rc = lsm_err(LSM_E_CORRUPT, "%s: data block at offset %" PRIu64
			     ": bad internal key", t->path, off);
		goto out;
	}
	if (!lsm_slice_eq(u, ukey)) {
		rc = LSM_E_NOTFOUND;
		goto out;
	}
	if (val) {
		lsm_slice v = ty == LSM_T_VAL ? lsm_it_value(&di.base)
					      : lsm_slice_of("", 0);
		rc = lsm_buf_set(val, v.data, v.size);
		if (rc < 0)
			goto out;
	}
	if (type)
		*type = ty;
	if (seq)
		*seq = s;
	rc = 0;
out:
	if (data_init)
		lsm_block_it_cleanup(&di);
	lsm_block_it_cleanup(&ii);
	if (hb.b)
		held_release(t, &hb);
	if (kb != small)
		free(kb);
	return rc;
}

/* ---- the two-level iterator -------------------------------------------- */

struct table_it {
	lsm_it base;
	lsm_table *t;
	bool fill;
	int status;		/* first error of the iterator itself */
	bool have_data;		/* data is over a loaded block */
	uint64_t data_off;
	struct held_block hb;
	lsm_block_it index;
	lsm_block_it data;
};

static void ti_drop(struct table_it *ti)
{
	if (ti->have_data)
		held_release(ti->t, &ti->hb);
	ti->have_data = false;
}

static void ti_fail(struct table_it *ti, int rc)
{
	if (!ti->status)
		ti->status = rc;
	ti_drop(ti);
}

/* Load the data block the index iterator is at. */
static bool ti_load(struct table_it *ti)
{
	uint64_t off, size;
	if (!get_handle(lsm_it_value(&ti->index.base), &off, &size)) {
		ti_fail(ti, lsm_err(LSM_E_CORRUPT,
				    "%s: index block at offset %" PRIu64
				    ": bad block handle",
				    ti->t->path, ti->t->index_off));
		return false;
	}
	if (ti->have_data && ti->data_off == off)
		return true;
	ti_drop(ti);
	int rc = table_block(ti->t, off, size, ti->fill, &ti->hb);
	if (rc < 0) {
		ti_fail(ti, rc);
		return false;
	}
	lsm_block_it_retarget(&ti->data, &ti->hb.b->blk, off);
	ti->have_data = true;
	ti->data_off = off;
	return true;
}

static bool ti_data_valid(struct table_it *ti)
{
	return ti->have_data && lsm_it_valid(&ti->data.base);
}

/* After the data iterator ran off its block (or failed): move through the
 * index to the next block with an entry, or stop. */
static void ti_skip(struct table_it *ti, bool forward)
{
	while (!ti_data_valid(ti)) {
		if (ti->have_data && lsm_it_status(&ti->data.base)) {
			ti_fail(ti, lsm_it_status(&ti->data.base));
			return;
		}
		if (!lsm_it_valid(&ti->index.base)) {
			ti_drop(ti);
			return;
		}
		if (forward)
			lsm_it_next(&ti->index.base);
		else
			lsm_it_prev(&ti->index.base);
		if (!lsm_it_valid(&ti->index.base)) {
			if (lsm_it_status(&ti->index.base))
				ti_fail(ti, lsm_it_status(&ti->index.base));
			ti_drop(ti);
			return;
		}
		if (!ti_load(ti))
			return;
		if (forward)
			lsm_it_seek_first(&ti->data.base);
		else
			lsm_it_seek_last(&ti->data.base);
	}
}

/* After positioning the index: load its block (or note the end). */
static bool ti_start(struct table_it *ti)
{
	if (!lsm_it_valid(&ti->index.base)) {
		if (lsm_it_status(&ti->index.base))
			ti_fail(ti, lsm_it_status(&ti->index.base));
		ti_drop(ti);
		return false;
	}
	return ti_load(ti);
}

static bool ti_valid(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	return ti->status == 0 && ti_data_valid(ti);
}

static void ti_seek_first(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	if (ti->status)
		return;
	lsm_it_seek_first(&ti->index.base);
	if (!ti_start(ti))
		return;
	lsm_it_seek_first(&ti->data.base);
	ti_skip(ti, true);
}

static void ti_seek_last(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	if (ti->status)
		return;
	lsm_it_seek_last(&ti->index.base);
	if (!ti_start(ti))
		return;
	lsm_it_seek_last(&ti->data.base);
	ti_skip(ti, false);
}

static void ti_seek(lsm_it *base, lsm_slice target)
{
	struct table_it *ti = (struct table_it *)base;
	if (ti->status)
		return;
	lsm_it_seek(&ti->index.base, target);
	if (!ti_start(ti))
		return;
	lsm_it_seek(&ti->data.base, target);
	ti_skip(ti, true);
}

static void ti_next(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	if (!ti_valid(base))
		return;
	lsm_it_next(&ti->data.base);
	ti_skip(ti, true);
}

static void ti_prev(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	if (!ti_valid(base))
		return;
	lsm_it_prev(&ti->data.base);
	ti_skip(ti, false);
}

static lsm_slice ti_key(lsm_it *base)
{
	return lsm_it_key(&((struct table_it *)base)->data.base);
}

static lsm_slice ti_value(lsm_it *base)
{
	return lsm_it_value(&((struct table_it *)base)->data.base);
}

static int ti_status(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	if (ti->status)
		return ti->status;
	int rc = lsm_it_status(&ti->index.base);
	if (rc)
		return rc;
	return ti->have_data ? lsm_it_status(&ti->data.base) : 0;
}

static void ti_destroy(lsm_it *base)
{
	struct table_it *ti = (struct table_it *)base;
	ti_drop(ti);
	lsm_block_it_cleanup(&ti->index);
	lsm_block_it_cleanup(&ti->data);
	free(ti);
}

static const struct lsm_it_ops table_it_ops = {
	.valid = ti_valid, .seek_first = ti_seek_first,
	.seek_last = ti_seek_last, .seek = ti_seek, .next = ti_next,
	.prev = ti_prev, .key = ti_key, .value = ti_value,
	.status = ti_status, .destroy = ti_destroy,
};

lsm_it *lsm_table_iter(lsm_table *t, bool fill_cache)
{
	struct table_it *ti = calloc(1, sizeof *ti);
	if (!ti)
		return NULL;
	ti->base.ops = &table_it_ops;
	ti->t = t;
	ti->fill = fill_cache;
	lsm_block_it_init(&ti->index, &t->index, lsm_ikey_cmp, t->path,
			  t->index_off);
	lsm_block_it_init(&ti->data, &t->index, lsm_ikey_cmp, t->path, 0);
	return &ti->base;
}

/* ---- verification ------------------------------------------------------ */

struct verify_state {
	lsm_table *t;
	lsm_table_verify_cb cb;
	void *ctx;
	int first;		/* first error code */
	char first_msg[512];
};

static void verify_report(struct verify_state *vs, int code, uint64_t off,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void verify_report(struct verify_state *vs, int code, uint64_t off,
			  const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (vs->cb)
		vs->cb(vs->ctx, off, msg);
	/* an I/O error outranks corruption: the check itself did not run */
	if (!vs->first || (vs->first == LSM_E_CORRUPT && code != LSM_E_CORRUPT)) {
		vs->first = code;
		snprintf(vs->first_msg, sizeof vs->first_msg, "%s", msg);
	}
}

static void verify_meta(struct verify_state *vs, uint64_t off, uint64_t size,
			bool parse, const char *what)
{
	struct tblk *b = NULL;
	int rc = read_block(vs->t, off, size, parse, what, &b);
	if (rc < 0)
		verify_report(vs, rc, off, "%s", lsm_errdetail());
	free(b);
}

/* Check one data block's entries: decodable point keys, strictly
 * increasing across the table, within the index separators. */
static void verify_data(struct verify_state *vs, const struct tblk *b,
			uint64_t off, lsm_slice sep, lsm_buf *prev_sep,
			lsm_buf *last, uint64_t *entries)
{
	lsm_table *t = vs->t;
	lsm_block_it it;
	bool first = true;
	lsm_block_it_init(&it, &b->blk, lsm_ikey_cmp, t->path, off);
	for (lsm_it_seek_first(&it.base); lsm_it_valid(&it.base);
	     lsm_it_next(&it.base)) {
		lsm_slice k = lsm_it_key(&it.base), u;
		uint64_t s;
		int ty;
		(*entries)++;
		if (!lsm_ikey_parse(k, &u, &s, &ty) || ty == LSM_T_RANGEDEL)
			verify_report(vs, LSM_E_CORRUPT, off,
				      "%s: data block at offset %" PRIu64
				      ": entry %" PRIu64 " is not a point internal key",
				      t->path, off, *entries - 1);
		if (last->len && lsm_ikey_cmp(lsm_buf_slice(last), k) >= 0)
			verify_report(vs, LSM_E_CORRUPT, off,
				      "%s: data block at offset %" PRIu64
				      ": keys not strictly increasing at entry %" PRIu64,
				      t->path, off, *entries - 1);
		if (lsm_ikey_cmp(k, sep) > 0)
			verify_report(vs, LSM_E_CORRUPT, off,
				      "%s: data block at offset %" PRIu64
				      ": key above its index separator",
				      t->path, off);
		if (first && prev_sep->len &&
		    lsm_ikey_cmp(k, lsm_buf_slice(prev_sep)) <= 0)
			verify_report(vs, LSM_E_CORRUPT, off,
				      "%s: data block at offset %" PRIu64
				      ": first key not above the previous separator",
				      t->path, off);
		first = false;
		if (lsm_buf_set(last, k.data, k.size) < 0) {
			verify_report(vs, -ENOMEM, off, "%s: out of memory", t->path);
			break;
		}
	}
	if (lsm_it_status(&it.base))
		verify_report(vs, lsm_it_status(&it.base), off, "%s", lsm_errdetail());
	if (first)
		verify_report(vs, LSM_E_CORRUPT, off,
			      "%s: data block at offset %" PRIu64 " is empty",
			      t->path, off);
	lsm_block_it_cleanup(&it);
}

int lsm_table_verify(lsm_table *t, lsm_table_verify_cb cb, void *ctx)
{
	struct verify_state vs = { .t = t, .cb = cb, .ctx = ctx };
	lsm_block_it ii;
	lsm_buf prev_sep = {0}, last = {0};
	uint64_t entries = 0, blocks = 0, expect_off = 0;
	bool unreadable = false;

	verify_meta(&vs, t->meta_off, t->meta_size, true, "metaindex block");
	verify_meta(&vs, t->index_off, t->index_size, true, "index block");
	verify_meta(&vs, t->props_off, t->props_size, true, "properties block");
	if (t->have_filter)
		verify_meta(&vs, t->filter_off, t->filter_size, false, "filter block");
	if (t->have_rd)
		verify_meta(&vs, t->rd_off, t->rd_size, true, "range-del block");

	lsm_block_it_init(&ii, &t->index, lsm_ikey_cmp, t->path, t->index_off);
	for (lsm_it_seek_first(&ii.base); lsm_it_valid(&ii.base);
	     lsm_it_next(&ii.base)) {
		lsm_slice sep = lsm_it_key(&ii.base);
		uint64_t off, size;
		struct tblk *b = NULL;
		blocks++;
		if (prev_sep.len && lsm_ikey_cmp(lsm_buf_slice(&prev_sep), sep) >= 0)
			verify_report(&vs, LSM_E_CORRUPT, t->index_off,
				      "%s: index block at offset %" PRIu64
				      ": separators not strictly increasing at entry %" PRIu64,
				      t->path, t->index_off, blocks - 1);
		if (!get_handle(lsm_it_value(&ii.base), &off, &size)) {
			verify_report(&vs, LSM_E_CORRUPT, t->index_off,
				      "%s: index block at offset %" PRIu64
				      ": bad block handle at entry %" PRIu64,
				      t->path, t->index_off, blocks - 1);
			unreadable = true;
			goto next;
		}
		if (off != expect_off)
			verify_report(&vs, LSM_E_CORRUPT, off,
				      "%s: data block at offset %" PRIu64
				      " does not follow the previous one (expected %" PRIu64 ")",
				      t->path, off, expect_off);
		expect_off = off + size + BLOCK_TRAILER;
		int rc = read_block(t, off, size, true, "data block", &b);
		if (rc < 0) {
			verify_report(&vs, rc, off, "%s", lsm_errdetail());
			unreadable = true;
		}
		else
			verify_data(&vs, b, off, sep, &prev_sep, &last, &entries);
		free(b);
next:
		if (lsm_buf_set(&prev_sep, sep.data, sep.size) < 0) {
			verify_report(&vs, -ENOMEM, 0, "%s: out of memory", t->path);
			break;
		}
	}
	if (lsm_it_status(&ii.base))
		verify_report(&vs, lsm_it_status(&ii.base), t->index_off, "%s",
			      lsm_errdetail());
	/* counts only mean something when every block could be read */
	if (!unreadable &&
	    (entries != t->props.entries || blocks != t->props.data_blocks))
		verify_report(&vs, LSM_E_CORRUPT, t->props_off,
			      "%s: properties at offset %" PRIu64 " announce %" PRIu64
			      " entries in %" PRIu64 " blocks, found %" PRIu64 " in %" PRIu64,
			      t->path, t->props_off, t->props.entries,
			      t->props.data_blocks, entries, blocks);
	lsm_block_it_cleanup(&ii);
	lsm_buf_free(&prev_sep);
	lsm_buf_free(&last);
	if (vs.first)
		return lsm_err(vs.first, "%s", vs.first_msg);
	return 0;
}
