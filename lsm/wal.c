/*
 * wal.c — the log record format (doc/log_format.md): the writer cuts each
 * record into fragments that fit the 32 KiB blocks and appends them; the
 * reader puts them back together and tells a torn tail (crash residue,
 * dropped) from corruption before the tail (an error).
 *
 * Invariants (beyond those listed in wal.h):
 *  - writer: w->size is the file size as far as we know; it only moves
 *    after a successful append, and a failed append latches w->err.
 *  - reader: r->blk holds r->blk_len bytes of the file from r->blk_off
 *    (blk_off a multiple of the block size; blk_len < block size only at
 *    end of file) and r->pos <= LSM_WAL_BLOCK.  Every header and payload
 *    access is checked against blk_len first.
 *  - reader: once lsm_wal_read has returned 0 or an error, r->state holds
 *    that outcome and every later call repeats it.
 *
 * Threads: none of its own; see wal.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wal.h"

/* Records up to about this size go out in one append; larger ones are
 * appended in pieces so the staging buffer stays bounded. */
#define WAL_APPEND_CHUNK (1u << 20)

/* The checksum of a fragment covers the low 32 bits of its file offset,
 * its type byte and its payload.  Mixing in the offset makes a fragment
 * valid only where it was written: a stale or misplaced copy of a block
 * does not pass. */
static uint32_t wal_frag_crc(uint64_t off, unsigned type, const char *p,
			     size_t n)
{
	char pre[5];
	lsm_enc32(pre, (uint32_t)off);
	pre[4] = (char)type;
	return lsm_checksum2(pre, sizeof pre, p, n);
}

static const char zeros[LSM_WAL_HEADER];

/* ---- writer ------------------------------------------------------------- */

struct lsm_wal_writer {
	lsm_env *env;
	lsm_file *f;
	char *path;
	uint64_t size;		/* bytes in the file (appended successfully) */
	lsm_buf buf;		/* fragments staged for the next append */
	int err;		/* first append/sync error; latched */
	bool sync_failed;	/* err came from a sync */
};

int lsm_wal_writer_new(lsm_env *env, lsm_file *f, const char *path,
		       uint64_t file_offset, lsm_wal_writer **out)
{
	int rc;
	lsm_wal_writer *w = NULL;

	*out = NULL;
	if (!env || !f) {
		rc = lsm_err(LSM_E_INVALID, "wal writer: no env or file");
		goto err;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->path = strdup(path ? path : "(log)"))) {
		rc = lsm_err(-ENOMEM, "wal writer: out of memory");
		goto err;
	}
	w->env = env;
	w->f = f;
	w->size = file_offset;
	*out = w;
	return 0;
err:
	if (w)
		free(w->path);
	free(w);
	return rc;	/* f stays the caller's, as if never handed over */
}

static int wal_latched(const lsm_wal_writer *w)
{
	return lsm_err(w->err, "%s: log unusable after an earlier error: %s",
		       w->path, lsm_strerror(w->err));
}

/* Append the staged bytes; on failure the file may hold part of them, so
 * the error is latched (wal.h, invariant 4). */
static int wal_flush(lsm_wal_writer *w)
{
	if (w->buf.len == 0)
		return 0;
	int rc = w->env->append(w->env, w->f, w->buf.data, w->buf.len);
	if (rc < 0) {
		w->err = rc;
		return lsm_err(rc, "%s: append of %zu bytes at offset %" PRIu64
			       " failed: %s", w->path, w->buf.len, w->size,
			       lsm_strerror(rc));
	}
	w->size += w->buf.len;
	lsm_buf_clear(&w->buf);
	return 0;
}

int lsm_wal_add(lsm_wal_writer *w, lsm_slice record)
{
	int rc;
	/* "" keeps pointer arithmetic off NULL for an empty record */
	const char *p = record.data ? record.data : "";
	size_t left = record.size;
	bool first = true;
	bool partial = false;	/* part of this record is in the file */

	if (w->err)
		return wal_latched(w);
	lsm_buf_clear(&w->buf);
	for (;;) {
		uint64_t off = w->size + w->buf.len;
		size_t room = LSM_WAL_BLOCK - (size_t)(off % LSM_WAL_BLOCK);
		if (room < LSM_WAL_HEADER) {
			/* No header fits: zero the tail, go to the next block. */
			LSM_ERR(lsm_buf_append(&w->buf, zeros, room));
			continue;
		}
		size_t n = LSM_MIN(left, room - LSM_WAL_HEADER);
		bool last = n == left;
		unsigned type = first ? (last ? LSM_WAL_FULL : LSM_WAL_FIRST)
				      : (last ? LSM_WAL_LAST : LSM_WAL_MIDDLE);
		char h[LSM_WAL_HEADER];
		lsm_enc32(h, wal_frag_crc(off, type, p, n));
		h[4] = (char)(n & 0xff);
		h[5] = (char)(n >> 8);
		h[6] = (char)type;
		LSM_ERR(lsm_buf_reserve(&w->buf, sizeof h + n));
		LSM_ERR(lsm_buf_append(&w->buf, h, sizeof h));
		LSM_ERR(lsm_buf_append(&w->buf, p, n));
		p += n;
		left -= n;
		first = false;
		if (last)
			break;
		if (w->buf.len >= WAL_APPEND_CHUNK) {
			LSM_ERR(wal_flush(w));
			partial = true;
		}
	}
	LSM_ERR(wal_flush(w));
	return 0;
err:
	lsm_buf_clear(&w->buf);
	if (rc == -ENOMEM && !w->err) {
		/* The file is still whole unless a piece of this record was
		 * already appended; then later records would follow a
		 * fragment sequence that never ends. */
		if (partial)
			w->err = rc;
		rc = lsm_err(rc, "%s: out of memory staging a log record",
			     w->path);
	}
	return rc;
}

int lsm_wal_sync(lsm_wal_writer *w)
{
	if (w->err)
		return wal_latched(w);
	int rc = w->env->sync(w->env, w->f);
	if (rc < 0) {
		/* After a failed fsync the kernel may have dropped the dirty
		 * pages: we cannot know what is durable any more. */
		w->err = rc;
		w->sync_failed = true;
		return lsm_err(rc, "%s: sync failed: %s", w->path,
			       lsm_strerror(rc));
	}
	return 0;
}

bool lsm_wal_failed(const lsm_wal_writer *w)
{
	return w->err != 0;
}

int lsm_wal_sync_final(lsm_wal_writer *w)
{
	if (!w->err || w->sync_failed)
		return lsm_wal_sync(w);
	/* Only appends failed: the file holds whole records, perhaps then
	 * part of one; nothing will follow it, so it is a torn tail. */
	int rc = w->env->sync(w->env, w->f);
	if (rc < 0) {
		w->sync_failed = true;
		return lsm_err(rc, "%s: sync failed: %s", w->path,
			       lsm_strerror(rc));
	}
	return 0;
}

uint64_t lsm_wal_size(const lsm_wal_writer *w)
{
	return w->size;
}

int lsm_wal_writer_close(lsm_wal_writer *w)
{
	if (!w)
		return 0;
	int rc = w->env->close(w->env, w->f);
	if (rc < 0)
		rc = lsm_err(rc, "%s: close failed: %s", w->path,
			     lsm_strerror(rc));
	lsm_buf_free(&w->buf);
	free(w->path);
	free(w);
	return rc;
}

/* ---- reader ------------------------------------------------------------- */

struct lsm_wal_reader {
	lsm_env *env;
	lsm_file *f;
	char *path;
	char *blk;		/* LSM_WAL_BLOCK bytes */
	uint64_t blk_off;	/* file offset of blk[0] */
	size_t blk_len;		/* bytes of the file in blk */
	size_t pos;		/* next unread byte of blk */
	uint64_t good_end;	/* offset just past the last record returned */
	int state;		/* 0 reading, 1 ended, < 0 latched error */
	bool torn;
	uint64_t torn_off;
	/* The last damaged fragment seen by wal_next. */
	uint64_t bad_off;	/* its file offset */
	size_t bad_resume;	/* where to look for valid data after it */
	bool bad_cut;		/* it was cut short by the end of the file */
	char why[96];
	char *err_detail;	/* detail repeated with a latched error */
};

enum { FRAG_OK, FRAG_END, FRAG_BAD };

struct wal_frag {
	unsigned type;
	const char *data;	/* points into r->blk: copy before wal_next */
	size_t len;
	uint64_t off;
};

/* Fill the block buffer with the block at off (a block boundary). */
static int wal_load(lsm_wal_reader *r, uint64_t off)
{
	size_t have = 0;

	while (have < LSM_WAL_BLOCK) {
		size_t got = 0;
		int rc = r->env->pread(r->env, r->f, r->blk + have,
				       LSM_WAL_BLOCK - have, off + have, &got);
		if (rc == 0 && got > LSM_WAL_BLOCK - have)
			rc = -EIO;	/* an env bug; never trust it */
		if (rc < 0)
			return lsm_err(rc, "%s: read at offset %" PRIu64
				       " failed: %s", r->path, off + have,
				       lsm_strerror(rc));
		if (got == 0)
			break;
		have += got;
	}
	r->blk_off = off;
	r->blk_len = have;
	r->pos = 0;
	return 0;
}

static int wal_bad(lsm_wal_reader *r, size_t at, size_t resume,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Describe a damaged fragment at block position at; returns FRAG_BAD. */
static int wal_bad(lsm_wal_reader *r, size_t at, size_t resume,
		   const char *fmt, ...)
{
	va_list ap;

	r->bad_off = r->blk_off + at;
	r->bad_resume = resume;
	r->bad_cut = strstr(fmt, "end of file") != NULL;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	return FRAG_BAD;
}

/*
 * The next fragment: FRAG_OK with *fr filled, FRAG_END at end of file,
 * FRAG_BAD for a damaged fragment (described by r->bad_off/why, with
 * r->bad_resume the block position after which valid fragments may still
 * be found), or an I/O error.
 */
static int wal_next(lsm_wal_reader *r, struct wal_frag *fr)
{
	for (;;) {
		if (LSM_WAL_BLOCK - r->pos < LSM_WAL_HEADER) {
			/* A block tail the writer zero-filled. */
			for (size_t i = r->pos; i < r->blk_len; i++)
				if (r->blk[i])
					return wal_bad(r, r->pos, LSM_WAL_BLOCK,
						       "non-zero bytes in block tail");
			if (r->blk_len < LSM_WAL_BLOCK)
				return FRAG_END;
			LSM_TRY(wal_load(r, r->blk_off + LSM_WAL_BLOCK));
			continue;
		}
		if (r->pos >= r->blk_len)
			return FRAG_END;	/* blk_len < block: EOF */
		break;
	}

	const char *h = r->blk + r->pos;
	size_t avail = r->blk_len - r->pos;
	size_t room = LSM_WAL_BLOCK - r->pos - LSM_WAL_HEADER;
	if (avail < LSM_WAL_HEADER)
		return wal_bad(r, r->pos, r->blk_len,
			       "fragment header cut short by end of file");
	uint32_t crc = lsm_dec32(h);
	size_t len = (size_t)(unsigned char)h[4] |
		     (size_t)(unsigned char)h[5] << 8;
	unsigned type = (unsigned char)h[6];
	if (crc == 0 && len == 0 && type == LSM_WAL_ZERO)
		return wal_bad(r, r->pos, r->pos + LSM_WAL_HEADER,
			       "zero bytes where a fragment was expected");
	if (len > room)
		return wal_bad(r, r->pos, LSM_WAL_BLOCK,
			       "fragment length %u overruns its block",
			       (unsigned)len);
	if (len > avail - LSM_WAL_HEADER)
		return wal_bad(r, r->pos, r->blk_len,
			       "fragment of %u bytes cut short by end of file",
			       (unsigned)len);
	uint64_t off = r->blk_off + r->pos;
	size_t next = r->pos + LSM_WAL_HEADER + len;
	if (wal_frag_crc(off, type, h + LSM_WAL_HEADER, len) != crc)
		return wal_bad(r, r->pos, next, "checksum mismatch");
	if (type < LSM_WAL_FULL || type > LSM_WAL_LAST)
		return wal_bad(r, r->pos, next, "unknown fragment type %u", type);
	fr->type = type;
	fr->data = h + LSM_WAL_HEADER;
	fr->len = len;
	fr->off = off;
	r->pos = next;
	return FRAG_OK;
}

/*
 * Is there a valid fragment anywhere after the damage?  Walks the fragment
 * chain from block position pos (past the damaged fragment when its length
 * was plausible), then from the start of every later block, since every
 * block begins with a fragment header.  Moves the block buffer: only
 * called when the reader is about to finish.
 */
static int wal_scan(lsm_wal_reader *r, size_t pos, bool *found)
{
	*found = false;
	for (;;) {
		while (pos <= r->blk_len &&
		       r->blk_len - pos >= LSM_WAL_HEADER) {
			const char *h = r->blk + pos;
			size_t len = (size_t)(unsigned char)h[4] |
				     (size_t)(unsigned char)h[5] << 8;
			unsigned type = (unsigned char)h[6];
			if (len > LSM_WAL_BLOCK - pos - LSM_WAL_HEADER)
				break;	/* chain lost: try the next block */
			if (type >= LSM_WAL_FULL && type <= LSM_WAL_LAST &&
			    len <= r->blk_len - pos - LSM_WAL_HEADER &&
			    wal_frag_crc(r->blk_off + pos, type,
					 h + LSM_WAL_HEADER, len) ==
				    lsm_dec32(h)) {
				*found = true;
				return 0;
			}
			pos += LSM_WAL_HEADER + len;
		}
		if (r->blk_len < LSM_WAL_BLOCK)
			return 0;
		LSM_TRY(wal_load(r, r->blk_off + LSM_WAL_BLOCK));
		pos = 0;
	}
}

static int wal_corrupt(lsm_wal_reader *r, uint64_t off, const char *why)
{
	int rc = lsm_err(LSM_E_CORRUPT, "%s: corrupt log record at offset %"
			 PRIu64 ": %s", r->path, off, why);
	r->state = rc;
	free(r->err_detail);
	r->err_detail = strdup(lsm_errdetail());
	return rc;
}

/*
 * Does the file from the damaged fragment on look like what a crash
 * leaves: a write cut short by the end of the file, or the unwritten rest
 * of an extended file, which reads as zeros from a sector boundary (or
 * from the fragment itself) to the end?  A complete fragment whose bytes
 * are wrong is not crash residue but damage.
 */
#define WAL_SECTOR 512
static int wal_crash_residue(lsm_wal_reader *r, bool *residue)
{
	uint64_t size, z;
	char buf[4096];
	*residue = r->bad_cut;
	if (*residue)
		return 0;
	LSM_TRY(r->env->fsize(r->env, r->f, &size));
	/* z: where the trailing run of zero bytes begins */
	z = size;
	while (z > r->bad_off) {
		size_t n = (size_t)LSM_MIN((uint64_t)sizeof buf, z - r->bad_off), got;
		LSM_TRY(r->env->pread(r->env, r->f, buf, n, z - n, &got));
		if (got != n)
			return lsm_err(-EIO, "%s: short read at offset %" PRIu64, r->path, z - n);
		size_t i = n;
		while (i > 0 && buf[i - 1] == 0)
			i--;
		z -= n - i;
		if (i > 0)
			break;
	}
	*residue = z < size && (z == r->bad_off || z % WAL_SECTOR == 0);
	return 0;
}

/* Damage was met; drop_off is where the record being read began.  A torn
 * tail (0) if nothing valid follows and the damage looks like crash
 * residue, corruption (latched) otherwise. */
static int wal_damage(lsm_wal_reader *r, uint64_t drop_off)
{
	bool found, residue;
	int rc = wal_scan(r, r->bad_resume, &found);
	if (rc < 0)
		return rc;
	if (found)
		return wal_corrupt(r, r->bad_off, r->why);
	LSM_TRY(wal_crash_residue(r, &residue));
	if (!residue)
		return wal_corrupt(r, r->bad_off, r->why);
	r->torn = true;
	r->torn_off = drop_off;
	r->state = 1;
	return 0;
}

int lsm_wal_reader_open(lsm_env *env, const char *path, lsm_wal_reader **out)
{
	int rc;
	lsm_wal_reader *r = NULL;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path)) ||
	    !(r->blk = malloc(LSM_WAL_BLOCK))) {
		rc = lsm_err(-ENOMEM, "%s: out of memory opening log", path);
		goto err;
	}
	r->env = env;
	rc = env->open(env, path, LSM_OPEN_READ, &r->f);
	if (rc < 0) {
		r->f = NULL;
		rc = lsm_err(rc, "%s: cannot open log: %s", path,
			     lsm_strerror(rc));
		goto err;
	}
	LSM_ERR(wal_load(r, 0));
	*out = r;
	return 0;
err:
	lsm_wal_reader_close(r);
	return rc;
}

int lsm_wal_read(lsm_wal_reader *r, lsm_buf *record)
{
	int rc;
	bool in_rec = false;
	uint64_t rec_start = 0;

	if (r->state > 0)
		return 0;
	if (r->state < 0) {
		if (r->err_detail)
			lsm_err_set_detail(r->err_detail);
		return r->state;
	}
	lsm_buf_clear(record);
	for (;;) {
		struct wal_frag fr = { 0, NULL, 0, 0 };
		int k = wal_next(r, &fr);
		if (k < 0)
			LSM_ERR(k);
		if (k == FRAG_END) {
			if (in_rec) {
				/* The file ends inside a record. */
				r->torn = true;
				r->torn_off = rec_start;
			}
			r->state = 1;
			rc = 0;
			goto out;
		}
		if (k == FRAG_BAD) {
			rc = wal_damage(r, in_rec ? rec_start : r->bad_off);
			if (rc < 0 && r->state == 0)
				goto err;	/* an I/O error while scanning */
			goto out;	/* 0: torn tail; or the latched corruption */
		}
		/* A valid fragment: anything unexpected about its place in
		 * the sequence cannot be crash residue (it was written after
		 * what it follows), so it is corruption. */
		if ((fr.type == LSM_WAL_FULL || fr.type == LSM_WAL_FIRST) &&
		    in_rec) {
			snprintf(r->why, sizeof r->why,
				 "record has no last fragment (a new record "
				 "starts at offset %" PRIu64 ")", fr.off);
			rc = wal_corrupt(r, rec_start, r->why);
			goto out;
		}
		if ((fr.type == LSM_WAL_MIDDLE || fr.type == LSM_WAL_LAST) &&
		    !in_rec) {
			rc = wal_corrupt(r, fr.off, fr.type == LSM_WAL_MIDDLE
					 ? "middle fragment outside a record"
					 : "last fragment outside a record");
			goto out;
		}
		LSM_ERR(lsm_buf_append(record, fr.data, fr.len));
		if (fr.type == LSM_WAL_FIRST) {
			in_rec = true;
			rec_start = fr.off;
		}
		if (fr.type == LSM_WAL_FULL || fr.type == LSM_WAL_LAST) {
			r->good_end = fr.off + LSM_WAL_HEADER + fr.len;
			return 1;
		}
	}
err:
	/* Fragments were consumed; the position cannot be rewound. */
	if (rc == -ENOMEM)
		rc = lsm_err(rc, "%s: out of memory reading log", r->path);
	r->state = rc;
	free(r->err_detail);
	r->err_detail = strdup(lsm_errdetail());
out:
	lsm_buf_clear(record);	/* no half record is ever handed out */
	return rc;
}

bool lsm_wal_reader_torn(const lsm_wal_reader *r, uint64_t *offset)
{
	if (r->torn && offset)
		*offset = r->torn_off;
	return r->torn;
}

uint64_t lsm_wal_reader_offset(const lsm_wal_reader *r)
{
	return r->good_end;
}

void lsm_wal_reader_close(lsm_wal_reader *r)
{
	if (!r)
		return;
	if (r->f)
		r->env->close(r->env, r->f);
	free(r->blk);
	free(r->path);
	free(r->err_detail);
	free(r);
}
