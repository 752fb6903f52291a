/*
 * block.c — building and reading prefix-compressed blocks (see block.h for
 * the encoding and its invariants).
 *
 * Reading: lsm_block_init checks the whole restart array once when a block
 * is loaded (a cached block is checked once, then read many times), so the
 * binary search over restart points can index it without further checks.
 * Entries are bounds-checked as they are decoded, against the start of the
 * restart array: no read ever leaves the block.
 *
 * The iterator keeps the current key in its own buffer (keys are prefix
 * compressed, so the block never holds them whole) and the value as a
 * slice into the block.  The buffer starts inline and only grows to the
 * heap for long keys, so a lookup on the stack allocates nothing.
 *
 * Threads: see block.h.
 */
#include <errno.h>
#include <stdlib.h>
#include "block.h"

/* ---- building ---------------------------------------------------------- */

void lsm_block_builder_init(lsm_block_builder *b, int restart_interval)
{
	memset(b, 0, sizeof *b);
	b->interval = restart_interval < 1 ? 1 : restart_interval;
	lsm_block_builder_reset(b);
}

void lsm_block_builder_reset(lsm_block_builder *b)
{
	lsm_buf_clear(&b->buf);
	lsm_buf_clear(&b->restarts);
	lsm_buf_clear(&b->last_key);
	b->counter = 0;
	b->nrestarts = 0;
	b->nentries = 0;
	b->finished = false;
}

void lsm_block_builder_free(lsm_block_builder *b)
{
	lsm_buf_free(&b->buf);
	lsm_buf_free(&b->restarts);
	lsm_buf_free(&b->last_key);
}

bool lsm_block_builder_empty(const lsm_block_builder *b)
{
	return b->nentries == 0;
}

size_t lsm_block_builder_size_estimate(const lsm_block_builder *b)
{
	/* an empty block still gets its first restart point */
	size_t r = b->nrestarts ? b->restarts.len : 4;
	return b->buf.len + r + 4;
}

int lsm_block_builder_add(lsm_block_builder *b, lsm_slice key, lsm_slice value)
{
	size_t shared = 0;
	bool restart = b->nentries == 0 || b->counter >= b->interval;
	if (!restart) {
		size_t n = LSM_MIN(b->last_key.len, key.size);
		while (shared < n && b->last_key.data[shared] == key.data[shared])
			shared++;
	}
	size_t non = key.size - shared;
	/* every offset, including the trailer's, must fit 32 bits */
	uint64_t room = (uint64_t)b->buf.len + b->restarts.len + 8 + 15 +
			non + value.size;
	if (room > UINT32_MAX || key.size > UINT32_MAX)
		return lsm_err(LSM_E_INVALID,
			       "block entry of %zu + %zu bytes would pass 4 GiB",
			       key.size, value.size);

	char hdr[15];
	int h = lsm_encv64(hdr, shared);
	h += lsm_encv64(hdr + h, non);
	h += lsm_encv64(hdr + h, value.size);
	/* reserve everything first so a failure leaves the builder intact */
	LSM_TRY(lsm_buf_reserve(&b->buf, (size_t)h + non + value.size));
	if (key.size > b->last_key.len)
		LSM_TRY(lsm_buf_reserve(&b->last_key, key.size - b->last_key.len));
	if (restart) {
		LSM_TRY(lsm_put32(&b->restarts, (uint32_t)b->buf.len));
		b->nrestarts++;
		b->counter = 0;
	}
	memcpy(b->buf.data + b->buf.len, hdr, (size_t)h);
	b->buf.len += (size_t)h;
	if (non)
		memcpy(b->buf.data + b->buf.len, key.data + shared, non);
	b->buf.len += non;
	if (value.size)
		memcpy(b->buf.data + b->buf.len, value.data, value.size);
	b->buf.len += value.size;

	/* last_key already holds the shared prefix */
	if (non)
		memcpy(b->last_key.data + shared, key.data + shared, non);
	b->last_key.len = key.size;
	b->counter++;
	b->nentries++;
	return 0;
}

int lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out)
{
	if (b->nrestarts == 0) {
		LSM_TRY(lsm_put32(&b->restarts, 0));
		b->nrestarts = 1;
	}
	LSM_TRY(lsm_buf_reserve(&b->buf, b->restarts.len + 4));
	LSM_TRY(lsm_buf_append(&b->buf, b->restarts.data, b->restarts.len));
	LSM_TRY(lsm_put32(&b->buf, b->nrestarts));
	b->finished = true;
	*out = lsm_buf_slice(&b->buf);
	return 0;
}

/* ---- parsing ----------------------------------------------------------- */

static inline uint32_t restart_at(const lsm_block *b, uint32_t i)
{
	return lsm_dec32(b->data + b->restarts_off + 4 * (size_t)i);
}

int lsm_block_init(lsm_block *b, const char *data, size_t size)
{
	memset(b, 0, sizeof *b);
	if (size < 4 || size > (size_t)UINT32_MAX)
		return LSM_E_CORRUPT;
	uint32_t n = lsm_dec32(data + size - 4);
	if (n > (size - 4) / 4)
		return LSM_E_CORRUPT;
	b->data = data;
	b->size = size;
	b->nrestarts = n;
	b->restarts_off = (uint32_t)(size - 4 - 4 * (size_t)n);
	if (n == 0)
		return b->restarts_off == 0 ? 0 : LSM_E_CORRUPT;
	/* the first entry is a restart point; offsets strictly increase and
	 * stay inside the entries (an empty block has the lone restart 0) */
	if (restart_at(b, 0) != 0)
		return LSM_E_CORRUPT;
	if (b->restarts_off == 0)
		return n == 1 ? 0 : LSM_E_CORRUPT;
	uint32_t prev = 0;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t r = restart_at(b, i);
		if (r <= prev || r >= b->restarts_off)
			return LSM_E_CORRUPT;
		prev = r;
	}
	return 0;
}

/*
 * Decode an entry header at p (entries end at limit).  Returns the start
 * of the key delta, or NULL if the header or the bytes it announces do not
 * fit.  The common case (three one-byte varints) takes no loop.
 */
static inline const char *decode_entry(const char *p, const char *limit,
				       uint32_t *shared, uint32_t *non,
				       uint32_t *vlen)
{
	if (limit - p < 3)
		return NULL;
	const unsigned char *u = (const unsigned char *)p;
	if ((u[0] | u[1] | u[2]) < 128) {
		*shared = u[0];
		*non = u[1];
		*vlen = u[2];
		p += 3;
	} else {
		lsm_slice in = lsm_slice_of(p, (size_t)(limit - p));
		if (!lsm_getv32(&in, shared) || !lsm_getv32(&in, non) ||
		    !lsm_getv32(&in, vlen))
			return NULL;
		p = in.data;
	}
	if ((uint64_t)(limit - p) < (uint64_t)*non + *vlen)
		return NULL;
	return p;
}

/* ---- the iterator ------------------------------------------------------ */

static void bi_invalidate(lsm_block_it *it)
{
	it->cur = it->next = it->b.restarts_off;
	it->klen = 0;
	it->val = lsm_slice_of("", 0);
}

static void bi_corrupt(lsm_block_it *it, uint32_t at, const char *what)
{
	it->status = lsm_err(LSM_E_CORRUPT,
			     "%s: block at offset %llu: %s (entry at byte %u of the block)",
			     it->fname ? it->fname : "(block)",
			     (unsigned long long)it->foff, what, at);
	bi_invalidate(it);
}

static bool bi_key_reserve(lsm_block_it *it, size_t n)
{
	if (n <= it->kcap)
		return true;
	size_t cap = LSM_MAX(n, it->kcap * 2);
	char *p;
	if (it->key == it->kinline) {
		p = malloc(cap);
		if (p && it->klen)
			memcpy(p, it->kinline, it->klen);
	} else {
		p = realloc(it->key, cap);
	}
	if (!p) {
		it->status = lsm_err(-ENOMEM, "%s: out of memory for a %zu-byte key",
				     it->fname ? it->fname : "(block)", n);
		bi_invalidate(it);
		return false;
	}
	it->key = p;
	it->kcap = cap;
	return true;
}

static void bi_seek_restart(lsm_block_it *it, uint32_t i)
{
	it->klen = 0;
	it->ridx = i;
	it->next = restart_at(&it->b, i);
}

/* Decode the entry at it->next into the current position; false when the
 * block ends (invalid, no error) or on corruption (status set). */
static bool bi_parse_next(lsm_block_it *it)
{
	const lsm_block *b = &it->b;
	it->cur = it->next;
	if (it->cur >= b->restarts_off) {
		bi_invalidate(it);
		return false;
	}
	while (it->ridx + 1 < b->nrestarts && restart_at(b, it->ridx + 1) <= it->cur)
		it->ridx++;
	uint32_t shared, non, vlen;
	const char *p = decode_entry(b->data + it->cur, b->data + b->restarts_off,
				     &shared, &non, &vlen);
	if (!p) {
		bi_corrupt(it, it->cur, "entry overruns the block");
		return false;
	}
	if (shared > it->klen ||
	    (shared != 0 && restart_at(b, it->ridx) == it->cur)) {
		bi_corrupt(it, it->cur, "bad shared key length");
		return false;
	}
	if (!bi_key_reserve(it, (size_t)shared + non))
		return false;
	memcpy(it->key + shared, p, non);
	it->klen = (size_t)shared + non;
	it->val = lsm_slice_of(p + non, vlen);
	it->next = (uint32_t)(p + non + vlen - b->data);
	return true;
}

static bool bi_valid(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	return it->cur < it->b.restarts_off;
}

static void bi_seek_first(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	if (it->status || it->b.nrestarts == 0) {
		bi_invalidate(it);
		return;
	}
	bi_seek_restart(it, 0);
	bi_parse_next(it);
}

static void bi_seek_last(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	if (it->status || it->b.nrestarts == 0) {
		bi_invalidate(it);
		return;
	}
	bi_seek_restart(it, it->b.nrestarts - 1);
	while (bi_parse_next(it) && it->next < it->b.restarts_off)
		;
}

static void bi_seek(lsm_it *base, lsm_slice target)
{
	lsm_block_it *it = (lsm_block_it *)base;
	const lsm_block *b = &it->b;
	if (it->status || b->nrestarts == 0) {
		bi_invalidate(it);
		return;
	}
	/* the last restart point whose key is < target */
	uint32_t lo = 0, hi = b->nrestarts - 1;
	const char *limit = b->data + b->restarts_off;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		uint32_t off = restart_at(b, mid), shared, non, vlen;
		const char *p = decode_entry(b->data + off, limit, &shared, &non,
					     &vlen);
		if (!p || shared != 0) {
			bi_corrupt(it, off, "bad restart entry");
			return;
		}
		if (it->cmp(lsm_slice_of(p, non), target) < 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	bi_seek_restart(it, lo);
	while (bi_parse_next(it)) {
		if (it->cmp(lsm_slice_of(it->key, it->klen), target) >= 0)
			return;
	}
}

static void bi_next(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	if (it->cur < it->b.restarts_off)
		bi_parse_next(it);
}

static void bi_prev(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	const lsm_block *b = &it->b;
	uint32_t orig = it->cur;
	if (orig >= b->restarts_off)
		return;
	/* back to the restart point before orig, then forward to the entry
	 * just before it */
	while (restart_at(b, it->ridx) >= orig) {
		if (it->ridx == 0) {
			bi_invalidate(it);
			return;
		}
		it->ridx--;
	}
	bi_seek_restart(it, it->ridx);
	for (;;) {
		if (!bi_parse_next(it))
			return;
		if (it->next >= orig)
			break;
	}
	if (it->next != orig)
		bi_corrupt(it, it->cur, "entries do not chain to the current one");
}

static lsm_slice bi_key(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	return lsm_slice_of(it->key, it->klen);
}

static lsm_slice bi_value(lsm_it *base)
{
	return ((lsm_block_it *)base)->val;
}

static int bi_status(lsm_it *base)
{
	return ((lsm_block_it *)base)->status;
}

static void bi_destroy(lsm_it *base)
{
	lsm_block_it *it = (lsm_block_it *)base;
	lsm_block_it_cleanup(it);
	if (it->heap_self)
		free(it);
}

static const struct lsm_it_ops block_it_ops = {
	.valid = bi_valid, .seek_first = bi_seek_first,
	.seek_last = bi_seek_last, .seek = bi_seek, .next = bi_next,
	.prev = bi_prev, .key = bi_key, .value = bi_value,
	.status = bi_status, .destroy = bi_destroy,
};

void lsm_block_it_init(lsm_block_it *it, const lsm_block *b, lsm_cmp_fn cmp,
		       const char *fname, uint64_t foff)
{
	it->base.ops = &block_it_ops;
	it->cmp = cmp;
	it->fname = fname;
	it->key = it->kinline;
	it->kcap = sizeof it->kinline;
	it->heap_self = false;
	it->b = *b;
	it->foff = foff;
	it->status = 0;
	it->ridx = 0;
	bi_invalidate(it);
}

void lsm_block_it_retarget(lsm_block_it *it, const lsm_block *b, uint64_t foff)
{
	it->b = *b;
	it->foff = foff;
	it->status = 0;
	it->ridx = 0;
	bi_invalidate(it);
}

void lsm_block_it_cleanup(lsm_block_it *it)
{
	if (it->key != it->kinline)
		free(it->key);
	it->key = it->kinline;
	it->kcap = sizeof it->kinline;
	it->klen = 0;
}

lsm_it *lsm_block_iter(const lsm_block *b, lsm_cmp_fn cmp, const char *fname,
		       uint64_t foff)
{
	lsm_block_it *it = malloc(sizeof *it);
	if (!it)
		return NULL;
	lsm_block_it_init(it, b, cmp, fname, foff);
	it->heap_self = true;
	return &it->base;
}
