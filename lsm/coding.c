/*
 * coding.c — buffers, integer coding, checksums, internal keys and the
 * empty iterator: the leaf utilities every other engine file uses.
 */
#include <errno.h>
#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "dbformat.h"
#include "iter.h"

int lsm_buf_reserve(lsm_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int lsm_buf_append(lsm_buf *b, const void *p, size_t n)
{
	LSM_TRY(lsm_buf_reserve(b, n));
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int lsm_buf_set(lsm_buf *b, const void *p, size_t n)
{
	b->len = 0;
	return lsm_buf_append(b, p, n);
}

void lsm_buf_free(lsm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int lsm_put32(lsm_buf *b, uint32_t v)
{
	char t[4];
	lsm_enc32(t, v);
	return lsm_buf_append(b, t, 4);
}

int lsm_put64(lsm_buf *b, uint64_t v)
{
	char t[8];
	lsm_enc64(t, v);
	return lsm_buf_append(b, t, 8);
}

int lsm_encv64(char *p, uint64_t v)
{
	int n = 0;
	while (v >= 0x80) {
		p[n++] = (char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (char)v;
	return n;
}

int lsm_varint_len(uint64_t v)
{
	int n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

int lsm_putv64(lsm_buf *b, uint64_t v)
{
	char t[10];
	return lsm_buf_append(b, t, (size_t)lsm_encv64(t, v));
}

int lsm_putv32(lsm_buf *b, uint32_t v)
{
	return lsm_putv64(b, v);
}

int lsm_put_lp(lsm_buf *b, lsm_slice s)
{
	LSM_TRY(lsm_putv32(b, (uint32_t)s.size));
	return lsm_buf_append(b, s.data, s.size);
}

bool lsm_get32(lsm_slice *in, uint32_t *v)
{
	if (in->size < 4)
		return false;
	*v = lsm_dec32(in->data);
	in->data += 4;
	in->size -= 4;
	return true;
}

bool lsm_get64(lsm_slice *in, uint64_t *v)
{
	if (in->size < 8)
		return false;
	*v = lsm_dec64(in->data);
	in->data += 8;
	in->size -= 8;
	return true;
}

bool lsm_getv64(lsm_slice *in, uint64_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < in->size && i < 10; i++) {
		unsigned char c = (unsigned char)in->data[i];
		if (i == 9 && c > 1)
			return false;
		r |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = r;
			in->data += i + 1;
			in->size -= i + 1;
			return true;
		}
	}
	return false;
}

bool lsm_getv32(lsm_slice *in, uint32_t *v)
{
	uint64_t t;
	lsm_slice save = *in;
	if (!lsm_getv64(in, &t) || t > UINT32_MAX) {
		*in = save;
		return false;
	}
	*v = (uint32_t)t;
	return true;
}

bool lsm_get_lp(lsm_slice *in, lsm_slice *out)
{
	uint32_t n;
	lsm_slice save = *in;
	if (!lsm_getv32(in, &n) || in->size < n) {
		*in = save;
		return false;
	}
	*out = lsm_slice_of(in->data, n);
	in->data += n;
	in->size -= n;
	return true;
}

uint32_t lsm_checksum(const void *p, size_t n)
{
	return (uint32_t)XXH3_64bits(p, n);
}

uint32_t lsm_checksum2(const void *a, size_t an, const void *b, size_t bn)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, a, an);
	XXH3_64bits_update(&st, b, bn);
	return (uint32_t)XXH3_64bits_digest(&st);
}

/* ---- internal keys ----------------------------------------------------- */

int lsm_ikey_append(lsm_buf *b, lsm_slice ukey, uint64_t seq, int type)
{
	LSM_TRY(lsm_buf_append(b, ukey.data, ukey.size));
	return lsm_put64(b, lsm_pack_trailer(seq, type));
}

bool lsm_ikey_parse(lsm_slice ikey, lsm_slice *ukey, uint64_t *seq, int *type)
{
	if (ikey.size < 8)
		return false;
	uint64_t t = lsm_dec64(ikey.data + ikey.size - 8);
	int ty = (int)(t & 0xff);
	if (ty > LSM_T_RANGEDEL)
		return false;
	*ukey = lsm_slice_of(ikey.data, ikey.size - 8);
	*seq = t >> 8;
	*type = ty;
	return true;
}

int lsm_ikey_cmp(lsm_slice a, lsm_slice b)
{
	if (a.size < 8 || b.size < 8)
		return lsm_slice_cmp(a, b);
	int r = lsm_slice_cmp(lsm_ikey_user(a), lsm_ikey_user(b));
	if (r)
		return r;
	uint64_t ta = lsm_ikey_trailer(a), tb = lsm_ikey_trailer(b);
	return (ta < tb) - (ta > tb);
}

/* ---- the empty iterator ------------------------------------------------ */

struct empty_it {
	lsm_it base;
	int err;
};

static bool e_valid(lsm_it *it) { (void)it; return false; }
static void e_nop(lsm_it *it) { (void)it; }
static void e_seek(lsm_it *it, lsm_slice t) { (void)it; (void)t; }
static lsm_slice e_kv(lsm_it *it) { (void)it; return lsm_slice_of("", 0); }
static int e_status(lsm_it *it) { return ((struct empty_it *)it)->err; }
static void e_destroy(lsm_it *it) { free(it); }

static const struct lsm_it_ops empty_ops = {
	.valid = e_valid, .seek_first = e_nop, .seek_last = e_nop,
	.seek = e_seek, .next = e_nop, .prev = e_nop, .key = e_kv,
	.value = e_kv, .status = e_status, .destroy = e_destroy,
};

lsm_it *lsm_it_empty(int err)
{
	struct empty_it *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->base.ops = &empty_ops;
	e->err = err;
	return &e->base;
}
