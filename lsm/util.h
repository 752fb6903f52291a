/*
 * util.h — small shared pieces of the engine: byte slices, growable
 * buffers, little-endian and varint coding, the error-detail helper.
 *
 * Every integer that reaches disk is little-endian fixed width or a
 * LEB128-style varint, except where a format doc says otherwise.
 * Threads: all functions are reentrant; buffers belong to one thread.
 */
#ifndef LSM_UTIL_H
#define LSM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "lsm.h"

typedef struct lsm_slice {
	const char *data;
	size_t size;
} lsm_slice;

static inline lsm_slice lsm_slice_of(const void *p, size_t n)
{
	lsm_slice s = { (const char *)p, n };
	return s;
}

/* memcmp order, shorter first on a common prefix. */
static inline int lsm_slice_cmp(lsm_slice a, lsm_slice b)
{
	size_t n = a.size < b.size ? a.size : b.size;
	int r = n ? memcmp(a.data, b.data, n) : 0;
	if (r == 0)
		r = (a.size > b.size) - (a.size < b.size);
	return r;
}

static inline bool lsm_slice_eq(lsm_slice a, lsm_slice b)
{
	return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

/* A growable byte buffer.  A zeroed struct is an empty buffer. */
typedef struct lsm_buf {
	char *data;
	size_t len;
	size_t cap;
} lsm_buf;

int lsm_buf_reserve(lsm_buf *b, size_t extra);	/* 0 or -ENOMEM */
int lsm_buf_append(lsm_buf *b, const void *p, size_t n);
int lsm_buf_set(lsm_buf *b, const void *p, size_t n);
void lsm_buf_free(lsm_buf *b);
static inline void lsm_buf_clear(lsm_buf *b) { b->len = 0; }
static inline lsm_slice lsm_buf_slice(const lsm_buf *b)
{
	return lsm_slice_of(b->data, b->len);
}

/* Fixed-width little-endian coding. */
static inline void lsm_enc32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}
static inline void lsm_enc64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}
static inline uint32_t lsm_dec32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}
static inline uint64_t lsm_dec64(const char *p)
{
	return (uint64_t)lsm_dec32(p) | (uint64_t)lsm_dec32(p + 4) << 32;
}

int lsm_put32(lsm_buf *b, uint32_t v);
int lsm_put64(lsm_buf *b, uint64_t v);
int lsm_putv32(lsm_buf *b, uint32_t v);
int lsm_putv64(lsm_buf *b, uint64_t v);
/* varint32 length, then the bytes */
int lsm_put_lp(lsm_buf *b, lsm_slice s);
/* Encode into p (at least 10 bytes); returns bytes written. */
int lsm_encv64(char *p, uint64_t v);
int lsm_varint_len(uint64_t v);

/*
 * Decoders consume from *in (advancing it) and return false on truncated
 * or malformed input; they never read past in->data + in->size.
 */
bool lsm_get32(lsm_slice *in, uint32_t *v);
bool lsm_get64(lsm_slice *in, uint64_t *v);
bool lsm_getv32(lsm_slice *in, uint32_t *v);
bool lsm_getv64(lsm_slice *in, uint64_t *v);
bool lsm_get_lp(lsm_slice *in, lsm_slice *out);

/* 32-bit checksum used on disk: the low 32 bits of XXH3-64. */
uint32_t lsm_checksum(const void *p, size_t n);
/* Checksum of a followed by b, without concatenating. */
uint32_t lsm_checksum2(const void *a, size_t an, const void *b, size_t bn);

/*
 * lsm_err(code, fmt, ...): record a formatted detail for the calling
 * thread (read back with lsm_errdetail) and return code, so that
 * "return lsm_err(LSM_E_CORRUPT, "%s: bad block at %llu", ...)" both
 * reports and returns.
 */
int lsm_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the thread's detail verbatim (used to hand a latched error on). */
void lsm_err_set_detail(const char *detail);

/* Error-handling macros (one cleanup path per function):
 *   LSM_TRY(x)  — return x's error.
 *   LSM_ERR(x)  — keep x's error in rc and jump to err. */
#define LSM_TRY(x) do { int rc_ = (x); if (rc_ < 0) return rc_; } while (0)
#define LSM_ERR(x) do { rc = (x); if (rc < 0) goto err; } while (0)

#define LSM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LSM_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
