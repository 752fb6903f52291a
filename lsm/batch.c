/*
 * batch.c — write batches: the unit of atomicity and the WAL record.
 *
 * Encoding (one WAL record per committed group; FROZEN, see
 * doc/log_format.md): seq fixed64 | count fixed32 | entries, each
 *   LSM_T_VAL:      type byte, key (varint length + bytes), value (same)
 *   LSM_T_DEL:      type byte, key
 *   LSM_T_RANGEDEL: type byte, begin key, end key
 * Entry i of a batch with sequence s gets sequence s + i.
 * Threads: a batch belongs to one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include "db_impl.h"

#define BATCH_HEADER 12

struct lsm_batch {
	lsm_buf rep;
	uint32_t count;
	uint64_t user_bytes;
};

static int batch_init_rep(lsm_batch *b)
{
	b->rep.len = 0;
	b->count = 0;
	b->user_bytes = 0;
	LSM_TRY(lsm_buf_reserve(&b->rep, BATCH_HEADER));
	memset(b->rep.data, 0, BATCH_HEADER);
	b->rep.len = BATCH_HEADER;
	return 0;
}

lsm_batch *lsm_batch_new(void)
{
	lsm_batch *b = calloc(1, sizeof *b);
	if (!b || batch_init_rep(b) < 0) {
		free(b);
		return NULL;
	}
	return b;
}

void lsm_batch_free(lsm_batch *b)
{
	if (!b)
		return;
	lsm_buf_free(&b->rep);
	free(b);
}

void lsm_batch_clear(lsm_batch *b)
{
	batch_init_rep(b);	/* cannot fail: capacity already there */
}

static int batch_bump(lsm_batch *b)
{
	b->count++;
	lsm_enc32(b->rep.data + 8, b->count);
	return 0;
}

int lsm_batch_put(lsm_batch *b, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	size_t save = b->rep.len;
	char t = LSM_T_VAL;
	int rc;
	if (klen > UINT32_MAX || vlen > UINT32_MAX)
		return lsm_err(LSM_E_INVALID, "key or value too large");
	LSM_ERR(lsm_buf_append(&b->rep, &t, 1));
	LSM_ERR(lsm_put_lp(&b->rep, lsm_slice_of(key, klen)));
	LSM_ERR(lsm_put_lp(&b->rep, lsm_slice_of(val, vlen)));
	b->user_bytes += klen + vlen;
	return batch_bump(b);
err:
	b->rep.len = save;
	return rc;
}

int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen)
{
	size_t save = b->rep.len;
	char t = LSM_T_DEL;
	int rc;
	if (klen > UINT32_MAX)
		return lsm_err(LSM_E_INVALID, "key too large");
	LSM_ERR(lsm_buf_append(&b->rep, &t, 1));
	LSM_ERR(lsm_put_lp(&b->rep, lsm_slice_of(key, klen)));
	b->user_bytes += klen;
	return batch_bump(b);
err:
	b->rep.len = save;
	return rc;
}

int lsm_batch_delete_range(lsm_batch *b, const void *begin, size_t blen,
			   const void *end, size_t elen)
{
	size_t save = b->rep.len;
	char t = LSM_T_RANGEDEL;
	int rc;
	if (blen > UINT32_MAX || elen > UINT32_MAX)
		return lsm_err(LSM_E_INVALID, "key too large");
	LSM_ERR(lsm_buf_append(&b->rep, &t, 1));
	LSM_ERR(lsm_put_lp(&b->rep, lsm_slice_of(begin, blen)));
	LSM_ERR(lsm_put_lp(&b->rep, lsm_slice_of(end, elen)));
	b->user_bytes += blen + elen;
	return batch_bump(b);
err:
	b->rep.len = save;
	return rc;
}

uint32_t lsm_batch_count(const lsm_batch *b)
{
	return b->count;
}

size_t lsm_batch_size(const lsm_batch *b)
{
	return b->rep.len;
}

uint64_t lsm_batch_user_bytes(const lsm_batch *b)
{
	return b->user_bytes;
}

int lsm_batch_set_seq(lsm_batch *b, uint64_t seq)
{
	lsm_enc64(b->rep.data, seq);
	return 0;
}

uint64_t lsm_batch_seq(const lsm_batch *b)
{
	return lsm_dec64(b->rep.data);
}

lsm_slice lsm_batch_rep(const lsm_batch *b)
{
	return lsm_buf_slice(&b->rep);
}

int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep)
{
	if (rep.size < BATCH_HEADER)
		return lsm_err(LSM_E_CORRUPT, "log record of %zu bytes is too small for a batch",
			       rep.size);
	LSM_TRY(lsm_buf_set(&b->rep, rep.data, rep.size));
	b->count = lsm_dec32(b->rep.data + 8);
	b->user_bytes = 0;
	return 0;
}

int lsm_batch_append(lsm_batch *dst, const lsm_batch *src)
{
	LSM_TRY(lsm_buf_append(&dst->rep, src->rep.data + BATCH_HEADER,
			       src->rep.len - BATCH_HEADER));
	dst->count += src->count;
	dst->user_bytes += src->user_bytes;
	lsm_enc32(dst->rep.data + 8, dst->count);
	return 0;
}

/* Walk the entries; cb gets (type, key, value-or-end). */
static int batch_walk(const lsm_batch *b,
		      int (*cb)(void *ctx, int type, lsm_slice k, lsm_slice v),
		      void *ctx)
{
	lsm_slice in = lsm_slice_of(b->rep.data + BATCH_HEADER,
				    b->rep.len - BATCH_HEADER);
	uint32_t n = 0;
	while (in.size > 0) {
		int type = (unsigned char)in.data[0];
		lsm_slice k, v = lsm_slice_of("", 0);
		in.data++;
		in.size--;
		if (!lsm_get_lp(&in, &k))
			return lsm_err(LSM_E_CORRUPT, "batch entry %u: bad key", n);
		if (type == LSM_T_VAL || type == LSM_T_RANGEDEL) {
			if (!lsm_get_lp(&in, &v))
				return lsm_err(LSM_E_CORRUPT, "batch entry %u: bad value", n);
		} else if (type != LSM_T_DEL) {
			return lsm_err(LSM_E_CORRUPT, "batch entry %u: unknown type %d", n, type);
		}
		LSM_TRY(cb(ctx, type, k, v));
		n++;
	}
	if (n != b->count)
		return lsm_err(LSM_E_CORRUPT, "batch holds %u entries, header says %u",
			       n, b->count);
	return 0;
}

struct insert_ctx {
	lsm_memtable *mem;
	uint64_t seq;
};

static int insert_cb(void *ctx, int type, lsm_slice k, lsm_slice v)
{
	struct insert_ctx *ic = ctx;
	return lsm_mem_add(ic->mem, ic->seq++, type, k, v);
}

int lsm_batch_insert(const lsm_batch *b, lsm_memtable *mem)
{
	struct insert_ctx ic = { mem, lsm_batch_seq(b) };
	return batch_walk(b, insert_cb, &ic);
}
