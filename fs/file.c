/*
 * file.c — file data: read, write, truncate, fallocate, SEEK_DATA/HOLE,
 * copy_file_range.
 *
 * Layout of a regular file (schema.h):
 *   - INLINE: the data is in the inode value (size <= inline_max); no B
 *     keys exist.  A file leaves INLINE when it grows past inline_max, or
 *     when it is empty and truncate extends it (a hole), and returns to
 *     it only when truncated to 0.
 *   - blocks: B ino blk holds bytes [blk*bs, blk*bs + len) with len <= bs;
 *     a missing block or the missing tail of a short value reads as zeros.
 * Invariants (blocks mode):
 *   F1  every B key of the file has blk < a.maxblk; a.nblocks counts them.
 *       "dense" (nblocks == maxblk) means every block below maxblk exists,
 *       which lets writes skip the existence check.
 *   F2  every stored byte at an offset >= a.size is zero, so extending a
 *       file never needs to clear anything.
 * Each write, truncate or punch is one batch together with the inode
 * record (size, nblocks, maxblk, times).  Threads: ip->lock serializes
 * changes of one file; reads copy the size under the lock and read blocks
 * without it (every batch is atomic, so a block is old or new, never torn).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"

/* ---- block helpers ---------------------------------------------------------------- */

/* Read block blk of ino: *val malloc'd (NULL and *exists=false when
 * missing). */
static int block_get(lsmfs *fs, uint64_t ino, uint64_t blk, void **val,
		     size_t *len, bool *exists)
{
	char k[FS_KEY_BLOCK_LEN];
	fs_key_block(k, ino, blk);
	*val = NULL;
	*len = 0;
	*exists = false;
	int rc = lsm_get(fs->db, NULL, k, sizeof(k), val, len);
	if (rc == LSM_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return fs_eng(rc, "reading a data block");
	if (*len > fs->bs) {
		free(*val);
		*val = NULL;
		return fs_err(-EIO, "inode %" PRIu64 " block %" PRIu64 ": %zu bytes, over the block size",
			      ino, blk, *len);
	}
	*exists = true;
	return 0;
}

static int block_put(lsm_batch *b, uint64_t ino, uint64_t blk, const void *v,
		     size_t len)
{
	char k[FS_KEY_BLOCK_LEN];
	fs_key_block(k, ino, blk);
	return lsm_batch_put(b, k, sizeof(k), v, len);
}

/* Count B keys of ino in [from, to). */
static int count_blocks(lsmfs *fs, uint64_t ino, uint64_t from, uint64_t to,
			uint64_t *n)
{
	char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_BLOCK_LEN];
	*n = 0;
	if (from >= to)
		return 0;
	fs_key_block(lo, ino, from);
	fs_key_block(hi, ino, to);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	int rc = lsm_iter_new(fs->db, &ro, &it);
	if (rc < 0)
		return fs_eng(rc, "counting blocks");
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it))
		(*n)++;
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc < 0 ? fs_eng(rc, "counting blocks") : 0;
}

/* Delete blocks [from, to) of the file (to == UINT64_MAX: all after from)
 * with one range tombstone, keeping F1. */
static int drop_blocks(lsmfs *fs, lsm_batch *b, uint64_t ino, fs_attr *a,
		       uint64_t from, uint64_t to)
{
	if (to > a->maxblk)
		to = a->maxblk;
	if (from >= to)
		return 0;
	uint64_t n;
	int rc;
	if (a->nblocks == a->maxblk)
		n = to - from;	/* dense */
	else if ((rc = count_blocks(fs, ino, from, to, &n)) < 0)
		return rc;
	char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_BLOCK_LEN];
	size_t hl;
	fs_key_block(lo, ino, from);
	if (to == a->maxblk) {
		hl = fs_key_ino_end(hi, FS_K_BLOCK, ino);
	} else {
		hl = fs_key_block(hi, ino, to);
	}
	if ((rc = lsm_batch_delete_range(b, lo, sizeof(lo), hi, hl)) < 0)
		return rc;
	a->nblocks -= n < a->nblocks ? n : a->nblocks;
	if (to == a->maxblk) {
		a->maxblk = from;
		/* Blocks below from may be missing, so "dense" needs
		 * nblocks == maxblk exactly; a count that says more would be
		 * a bug, clamp rather than lie. */
		if (a->nblocks > a->maxblk)
			a->nblocks = a->maxblk;
	}
	return 0;
}

/* Zero bytes [s, e) (within one block) of block blk if it exists. */
static int zero_in_block(lsmfs *fs, lsm_batch *b, uint64_t ino,
			 const fs_attr *a, uint64_t blk, size_t s, size_t e)
{
	if (blk >= a->maxblk)
		return 0;
	void *v;
	size_t vl;
	bool ex;
	int rc = block_get(fs, ino, blk, &v, &vl, &ex);
	if (rc < 0 || !ex)
		return rc;
	if (s < vl) {
		if (e >= vl)
			vl = s;	/* the tail: shorten instead of zeroing */
		else
			memset((char *)v + s, 0, e - s);
		rc = block_put(b, ino, blk, v, vl);
	}
	free(v);
	return rc;
}

/* Leave INLINE: the inline data becomes block 0.  ip->idata loaded. */
static int uninline(lsmfs *fs, struct fs_inode *ip, lsm_batch *b, fs_attr *a)
{
	(void)fs;
	int rc = 0;
	if (a->size > 0)
		rc = block_put(b, ip->ino, 0, ip->idata, (size_t)a->size);
	a->flags &= ~(uint32_t)FS_IF_INLINE;
	a->maxblk = a->nblocks = a->size > 0 ? 1 : 0;
	return rc;
}

int fs_truncate_prep(lsmfs *fs, struct fs_inode *ip, lsm_batch *b,
		     fs_attr *a, uint64_t size, char **idata)
{
	int rc;
	uint64_t old = a->size;
	*idata = NULL;
	if (a->flags & FS_IF_INLINE) {
		/* An empty file extended by truncate is all hole: it goes to
		 * blocks mode with no blocks (st_blocks 0, as on ext4) rather
		 * than keep zeros inline. */
		if (size <= fs->inline_max && (old > 0 || size == 0)) {
			if (size > 0) {
				char *d = calloc(1, (size_t)size);
				if (!d)
					return -ENOMEM;
				if (old)
					memcpy(d, ip->idata, (size_t)(old < size ? old : size));
				*idata = d;
			}
			a->size = size;
			return 0;
		}
		if ((rc = uninline(fs, ip, b, a)) < 0)
			return rc;
		a->size = size;
		return 0;
	}
	if (size == 0) {
		/* Everything goes: one range tombstone, back to INLINE. */
		char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
		fs_key_ino(lo, FS_K_BLOCK, ip->ino);
		fs_key_ino_end(hi, FS_K_BLOCK, ip->ino);
		if (a->maxblk > 0 &&
		    (rc = lsm_batch_delete_range(b, lo, sizeof(lo), hi, sizeof(hi))) < 0)
			return rc;
		a->nblocks = a->maxblk = 0;
		if (fs->inline_max > 0)
			a->flags |= FS_IF_INLINE;
		a->size = 0;
		return 0;
	}
	if (size < old) {
		uint64_t nb = fs_nblk(fs, size);
		if ((rc = drop_blocks(fs, b, ip->ino, a, nb, UINT64_MAX)) < 0)
			return rc;
		size_t tail = (size_t)(size & (fs->bs - 1));
		if (tail && (rc = zero_in_block(fs, b, ip->ino, a, nb - 1, tail, fs->bs)) < 0)
			return rc;
	}
	a->size = size;
	return 0;
}

/* ---- read -------------------------------------------------------------------------- */

/* Fill buf with bytes [off, off+n) of a blocks-mode file (n > 0). */
static int read_blocks(lsmfs *fs, uint64_t ino, char *buf, uint64_t off,
		       size_t n)
{
	uint64_t b0 = off >> fs->bshift, b1 = (off + n - 1) >> fs->bshift;
	int rc = 0;
	memset(buf, 0, n);
	if (b0 == b1) {
		void *v;
		size_t vl;
		bool ex;
		if ((rc = block_get(fs, ino, b0, &v, &vl, &ex)) < 0 || !ex)
			return rc;
		size_t in = (size_t)(off - (b0 << fs->bshift));
		if (in < vl)
			memcpy(buf, (char *)v + in, (vl - in < n ? vl - in : n));
		free(v);
		return 0;
	}
	char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_BLOCK_LEN];
	fs_key_block(lo, ino, b0);
	fs_key_block(hi, ino, b1 + 1);
	lsm_read_options ro = { .fill_cache = true,
				.lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	if ((rc = lsm_iter_new(fs->db, &ro, &it)) < 0)
		return fs_eng(rc, "reading data");
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		if (kl != FS_KEY_BLOCK_LEN || vl > fs->bs) {
			rc = fs_err(-EIO, "inode %" PRIu64 ": malformed block (%zu-byte key, %zu-byte value)",
				    ino, kl, vl);
			break;
		}
		uint64_t blk = fs_be64_get(k + 9);
		uint64_t bstart = blk << fs->bshift;
		/* overlap of [bstart, bstart+vl) with [off, off+n) */
		uint64_t s = bstart > off ? bstart : off;
		uint64_t e = bstart + vl < off + n ? bstart + vl : off + n;
		if (s < e)
			memcpy(buf + (s - off), v + (s - bstart), (size_t)(e - s));
	}
	if (rc == 0 && (rc = lsm_iter_status(it)) < 0)
		rc = fs_eng(rc, "reading data");
	lsm_iter_free(it);
	return rc;
}

static int read_locked_size(lsmfs *fs, struct fs_inode *ip, char *buf,
			    size_t size, uint64_t off, size_t *got,
			    bool *blocks, uint64_t *fsize)
{
	int rc = 0;
	*got = 0;
	*blocks = false;
	*fsize = ip->a.size;
	if (off >= ip->a.size || size == 0)
		return 0;
	size_t n = ip->a.size - off < size ? (size_t)(ip->a.size - off) : size;
	if (ip->a.flags & FS_IF_INLINE) {
		if ((rc = fs_idata_load(fs, ip)) < 0)
			return rc;
		memcpy(buf, ip->idata + off, n);
		*got = n;
		return 0;
	}
	*blocks = true;
	*got = n;
	return 0;
}

static int do_read(lsmfs *fs, struct fs_handle *h, char *buf, size_t size,
		   uint64_t off, size_t *got)
{
	struct fs_inode *ip = h->ip;
	bool blocks;
	uint64_t fsize;
	pthread_mutex_lock(&ip->lock);
	int rc = read_locked_size(fs, ip, buf, size, off, got, &blocks, &fsize);
	pthread_mutex_unlock(&ip->lock);
	if (rc < 0 || !blocks)
		return rc;
	return read_blocks(fs, ip->ino, buf, off, *got);
}

int fs_read(lsmfs *fs, uint64_t fh, void *buf, size_t size, uint64_t off,
	    size_t *got)
{
	struct fs_handle *h = fs_handle_get(fh);
	*got = 0;
	if (!h || (h->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (h->dir)
		return -EISDIR;
	int rc = do_read(fs, h, buf, size, off, got);
	if (rc == 0) {
		pthread_mutex_lock(&h->ip->lock);
		fs_touch_atime(fs, h->ip, h->flags);
		pthread_mutex_unlock(&h->ip->lock);
	}
	return rc;
}

/* ---- write -------------------------------------------------------------------------- */

/* Write buf at off into the locked file: builds the batch and the new
 * attributes (*a), does not write them.  *nidata: new inline data when
 * the file stays INLINE (malloc'd), else NULL. */
static int write_prep(lsmfs *fs, struct fs_inode *ip, lsm_batch *b,
		      fs_attr *a, const char *buf, size_t size, uint64_t off,
		      char **nidata, bool *nidata_set)
{
	int rc;
	uint64_t end = off + size;
	*nidata = NULL;
	*nidata_set = false;
	if (a->flags & FS_IF_INLINE) {
		if ((rc = fs_idata_load(fs, ip)) < 0)
			return rc;
		if (end <= fs->inline_max) {
			uint64_t ns = end > a->size ? end : a->size;
			char *d = calloc(1, (size_t)ns);
			if (!d)
				return -ENOMEM;
			if (a->size)
				memcpy(d, ip->idata, (size_t)a->size);
			memcpy(d + off, buf, size);
			a->size = ns;
			*nidata = d;
			*nidata_set = true;
			return 0;
		}
	}
	/* Block 0 of a file leaving INLINE is its inline data, merged with
	 * this write below. */
	const char *b0data = NULL;
	size_t b0len = 0;
	bool was_inline = a->flags & FS_IF_INLINE;
	if (was_inline) {
		b0data = ip->idata;
		b0len = (size_t)a->size;
		a->flags &= ~(uint32_t)FS_IF_INLINE;
		a->maxblk = a->nblocks = a->size > 0 ? 1 : 0;
		*nidata_set = true;	/* idata becomes NULL */
	}
	char *scratch = NULL;
	uint64_t bfirst = off >> fs->bshift, blast = (end - 1) >> fs->bshift;
	rc = 0;
	if (was_inline && b0len > 0 && bfirst > 0 &&
	    (rc = block_put(b, ip->ino, 0, b0data, b0len)) < 0)
		return rc;
	for (uint64_t blk = bfirst; blk <= blast; blk++) {
		uint64_t bstart = blk << fs->bshift;
		size_t ws = (size_t)((off > bstart ? off : bstart) - bstart);
		size_t we = (size_t)((end < bstart + fs->bs ? end : bstart + fs->bs) - bstart);
		const char *src = buf + (bstart + ws - off);
		bool full = ws == 0 && we == fs->bs;
		bool exists;
		void *old = NULL;
		size_t oldlen = 0;
		if (was_inline && blk == 0) {
			exists = b0len > 0;
			if (!full && exists) {
				old = malloc(b0len);
				if (!old) {
					rc = -ENOMEM;
					break;
				}
				memcpy(old, b0data, b0len);
				oldlen = b0len;
			}
		} else if (blk >= a->maxblk) {
			exists = false;
		} else if (full && a->nblocks == a->maxblk) {
			exists = true;	/* dense: no need to look */
		} else if ((rc = block_get(fs, ip->ino, blk, &old, &oldlen, &exists)) < 0) {
			break;
		}
		if (full) {
			rc = block_put(b, ip->ino, blk, src, fs->bs);
		} else {
			if (!scratch && !(scratch = malloc(fs->bs))) {
				free(old);
				rc = -ENOMEM;
				break;
			}
			size_t nl = oldlen > we ? oldlen : we;
			memset(scratch, 0, nl);
			if (oldlen)
				memcpy(scratch, old, oldlen);
			memcpy(scratch + ws, src, we - ws);
			rc = block_put(b, ip->ino, blk, scratch, nl);
		}
		free(old);
		if (rc < 0)
			break;
		if (!exists)
			a->nblocks++;
		if (blk + 1 > a->maxblk)
			a->maxblk = blk + 1;
	}
	free(scratch);
	if (rc == 0 && end > a->size)
		a->size = end;
	return rc;
}

/* Finish a data change: add the inode record (a, with inline data idata)
 * to b, write b, and once it is written make a (and *nidata, when
 * nidata_set) the inode's; *nidata then belongs to the inode and is set
 * to NULL.  what names the operation in an engine error. */
static int commit_batch(lsmfs *fs, struct fs_inode *ip, lsm_batch *b,
			const fs_attr *a, const char *idata, char **nidata,
			bool nidata_set, const char *what)
{
	int rc = fs_batch_inode(b, ip->ino, a, idata);
	if (rc == 0 && (rc = lsm_write(fs->db, fs_wo(), b)) < 0)
		rc = fs_eng(rc, what);
	if (rc < 0)
		return rc;
	if (nidata_set) {
		fs_idata_set(fs, ip, NULL, false);
		ip->a = *a;
		fs_idata_set(fs, ip, *nidata, true);
	} else {
		ip->a = *a;
	}
	*nidata = NULL;
	return 0;
}

static int do_write(lsmfs *fs, const fs_cred *c, struct fs_inode *ip,
		    int hflags, const void *buf, size_t size, uint64_t off,
		    unsigned flags, size_t *written)
{
	lsm_batch *b = NULL;
	char *nidata = NULL;
	bool nidata_set = false;
	int rc = 0;

	*written = 0;
	if (size > 0 && (rc = fs_space_check(fs, size)) < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (hflags & O_APPEND)
		off = ip->a.size;
	if (size == 0)
		goto err;
	if (off > FS_MAX_FILE_SIZE || size > FS_MAX_FILE_SIZE - off) {
		rc = -EFBIG;
		goto err;
	}
	fs_attr a = ip->a;
	struct timespec now;
	fs_now(&now);
	if ((flags & FS_WRITE_KILL_PRIV) || (!fs->kperm && c->uid != 0))
		fs_kill_priv(&a);
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	FS_ERR(write_prep(fs, ip, b, &a, buf, size, off, &nidata, &nidata_set));
	a.mtime = a.ctime = now;
	FS_ERR(commit_batch(fs, ip, b, &a, nidata, &nidata, nidata_set, "write"));
	*written = size;
err:
	pthread_mutex_unlock(&ip->lock);
	free(nidata);
	lsm_batch_free(b);
	return rc;
}

int fs_write(lsmfs *fs, const fs_cred *c, uint64_t fh, const void *buf,
	     size_t size, uint64_t off, unsigned flags, size_t *written)
{
	struct fs_handle *h = fs_handle_get(fh);
	*written = 0;
	if (!h || (h->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (h->dir)
		return -EISDIR;
	if (fs->read_only)
		return -EROFS;
	return do_write(fs, c, h->ip, h->flags, buf, size, off, flags, written);
}

/* ---- fallocate ---------------------------------------------------------------------- */

/*
 * fallocate promises space: refuse (-ENOSPC, as ext4 does) a range whose
 * missing blocks do not fit in what the host has free, before writing
 * anything.  Without this check an absurd range (fallocate KEEP_SIZE of a
 * petabyte) would be "allocated" 65536 empty blocks at a time for hours.
 * The blocks already present are counted only when the range alone does
 * not fit (a scan of at most the file's own blocks).
 */
static int alloc_space_check(lsmfs *fs, struct fs_inode *ip, const fs_attr *a,
			     uint64_t b0, uint64_t b1)
{
	struct statvfs sv;
	if (b1 <= b0 || fs_statfs(fs, &sv) < 0)
		return 0;
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize / fs->bs;
	uint64_t want = b1 - b0;
	if (want <= avail)
		return 0;
	uint64_t have = 0, e = b1 < a->maxblk ? b1 : a->maxblk;
	if (b0 < e) {
		if (a->nblocks == a->maxblk) {
			have = e - b0;	/* dense */
		} else {
			int rc = count_blocks(fs, ip->ino, b0, e, &have);
			if (rc < 0)
				return rc;
		}
	}
	return want - have > avail ? -ENOSPC : 0;
}

/* Allocate (as empty values: zeros) every missing block in [b0, b1) in
 * batches of FS_FALLOC_CHUNK blocks, each written with the inode record. */
static int alloc_blocks(lsmfs *fs, struct fs_inode *ip, fs_attr *a,
			uint64_t b0, uint64_t b1, uint64_t final_size)
{
	int rc = alloc_space_check(fs, ip, a, b0, b1);
	if (rc < 0)
		return rc;
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return -ENOMEM;
	for (uint64_t c0 = b0; c0 < b1 || (c0 == b0 && b0 == b1);) {
		uint64_t c1 = b1 - c0 > FS_FALLOC_CHUNK ? c0 + FS_FALLOC_CHUNK : b1;
		fs_attr na = *a;
		lsm_batch_clear(b);
		/* Which blocks exist?  Dense files below maxblk: all. */
		uint64_t scan_end = c1 < na.maxblk ? c1 : na.maxblk;
		bool dense = na.nblocks == na.maxblk;
		lsm_iter *it = NULL;
		uint64_t next_existing = UINT64_MAX;
		char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_BLOCK_LEN];
		if (!dense && c0 < scan_end) {
			fs_key_block(lo, ip->ino, c0);
			fs_key_block(hi, ip->ino, scan_end);
			lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
						.upper = hi, .upper_len = sizeof(hi) };
			if ((rc = lsm_iter_new(fs->db, &ro, &it)) < 0) {
				rc = fs_eng(rc, "fallocate");
				break;
			}
			lsm_iter_seek(it, lo, sizeof(lo));
		}
		for (uint64_t blk = c0; blk < c1 && rc == 0; blk++) {
			bool ex;
			if (blk >= na.maxblk) {
				ex = false;
			} else if (dense) {
				ex = true;
			} else {
				while (it && lsm_iter_valid(it)) {
					size_t kl;
					const char *k = lsm_iter_key(it, &kl);
					next_existing = kl == FS_KEY_BLOCK_LEN ? fs_be64_get(k + 9) : UINT64_MAX;
					if (next_existing >= blk)
						break;
					lsm_iter_next(it);
				}
				if (it && !lsm_iter_valid(it))
					next_existing = UINT64_MAX;
				ex = next_existing == blk;
			}
			if (!ex) {
				rc = block_put(b, ip->ino, blk, "", 0);
				na.nblocks++;
			}
		}
		if (it) {
			if (rc == 0 && (rc = lsm_iter_status(it)) < 0)
				rc = fs_eng(rc, "fallocate");
			lsm_iter_free(it);
		}
		if (rc < 0)
			break;
		if (c1 > na.maxblk)
			na.maxblk = c1;
		if (c1 == b1 && final_size > na.size)
			na.size = final_size;
		struct timespec now;
		fs_now(&now);
		/* As ext4 (file_modified): every allocation marks both. */
		na.mtime = na.ctime = now;
		if ((rc = fs_batch_inode(b, ip->ino, &na, NULL)) < 0)
			break;
		if ((rc = lsm_write(fs->db, fs_wo(), b)) < 0) {
			rc = fs_eng(rc, "fallocate");
			break;
		}
		*a = na;
		ip->a = na;
		if (c1 == b1)
			break;
		c0 = c1;
	}
	lsm_batch_free(b);
	return rc;
}

/* Punch [off, off+len) (clipped to the size for the partial edges): whole
 * blocks go with one range tombstone, edges are zeroed in place. */
static int punch(lsmfs *fs, struct fs_inode *ip, lsm_batch *b, fs_attr *a,
		 uint64_t off, uint64_t end, char **nidata, bool *nidata_set)
{
	int rc;
	if (a->flags & FS_IF_INLINE) {
		if (off == 0 && end >= fs->bs) {
			/* The file's one block is punched whole: ext4 frees
			 * it, so does this.  All hole now: blocks mode with
			 * no blocks (st_blocks 0). */
			a->flags &= ~(uint32_t)FS_IF_INLINE;
			a->nblocks = a->maxblk = 0;
			*nidata = NULL;
			*nidata_set = true;
			return 0;
		}
		if ((rc = fs_idata_load(fs, ip)) < 0)
			return rc;
		if (off >= a->size)
			return 0;
		uint64_t e = end < a->size ? end : a->size;
		char *d = malloc((size_t)a->size);
		if (!d)
			return -ENOMEM;
		memcpy(d, ip->idata, (size_t)a->size);
		memset(d + off, 0, (size_t)(e - off));
		*nidata = d;
		*nidata_set = true;
		return 0;
	}
	uint64_t bs = fs->bs;
	uint64_t first_full = (off + bs - 1) >> fs->bshift;
	uint64_t end_full = end >> fs->bshift;	/* exclusive */
	if (first_full < end_full) {
		if ((rc = drop_blocks(fs, b, ip->ino, a, first_full, end_full)) < 0)
			return rc;
	}
	uint64_t bo = off >> fs->bshift, be = (end - 1) >> fs->bshift;
	size_t s = (size_t)(off & (bs - 1));
	size_t e = (size_t)(end & (bs - 1));
	if (bo == be) {
		size_t ee = e ? e : (size_t)bs;
		if (!(s == 0 && ee == bs))
			return zero_in_block(fs, b, ip->ino, a, bo, s, ee);
		return 0;
	}
	if (s && (rc = zero_in_block(fs, b, ip->ino, a, bo, s, (size_t)bs)) < 0)
		return rc;
	if (e && (rc = zero_in_block(fs, b, ip->ino, a, be, 0, e)) < 0)
		return rc;
	return 0;
}

/* Leave INLINE in a batch of its own (before an operation that needs
 * blocks).  ip->lock held. */
static int uninline_now(lsmfs *fs, struct fs_inode *ip)
{
	int rc;
	if (!(ip->a.flags & FS_IF_INLINE))
		return 0;
	if ((rc = fs_idata_load(fs, ip)) < 0)
		return rc;
	fs_attr a = ip->a;
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return -ENOMEM;
	char *none = NULL;
	rc = uninline(fs, ip, b, &a);
	if (rc == 0)
		rc = commit_batch(fs, ip, b, &a, NULL, &none, true, "leaving inline data");
	lsm_batch_free(b);
	return rc;
}

int fs_fallocate(lsmfs *fs, const fs_cred *c, uint64_t fh, int mode,
		 uint64_t off, uint64_t len)
{
	(void)c;
	struct fs_handle *h = fs_handle_get(fh);
	lsm_batch *b = NULL;
	char *nidata = NULL;
	bool nidata_set = false;
	int rc = 0;

	if (!h || (h->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (h->dir)
		return -EISDIR;
	int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE)))
		return -EOPNOTSUPP;
	if (len == 0)
		return -EINVAL;
	if (off > FS_MAX_FILE_SIZE || len > FS_MAX_FILE_SIZE - off)
		return -EFBIG;
	if (fs->read_only)
		return -EROFS;
	if (!(mode & FALLOC_FL_PUNCH_HOLE) && (rc = fs_space_check(fs, 0)) < 0)
		return rc;
	struct fs_inode *ip = h->ip;
	uint64_t end = off + len;
	pthread_mutex_lock(&ip->lock);
	if (!S_ISREG(ip->a.mode)) {
		rc = -ENODEV;
		goto err;
	}
	fs_attr a = ip->a;
	struct timespec now;
	fs_now(&now);
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	bool grows = !keep && end > a.size;
	if ((a.flags & FS_IF_INLINE) && end > fs->inline_max &&
	    (grows || !(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))) {
		/* The result will not fit inline (or asks for real blocks
		 * past it): switch to blocks first. */
		FS_ERR(uninline_now(fs, ip));
		a = ip->a;
	}

	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		b = lsm_batch_new();
		if (!b) {
			rc = -ENOMEM;
			goto err;
		}
		FS_ERR(punch(fs, ip, b, &a, off, end, &nidata, &nidata_set));
		if ((mode & FALLOC_FL_ZERO_RANGE) && grows) {
			if (a.flags & FS_IF_INLINE) {
				char *d = calloc(1, (size_t)end);
				if (!d) {
					rc = -ENOMEM;
					goto err;
				}
				const char *src = nidata_set ? nidata : ip->idata;
				if (a.size)
					memcpy(d, src, (size_t)a.size);
				free(nidata);
				nidata = d;
				nidata_set = true;
			}
			a.size = end;
		}
		a.mtime = a.ctime = now;
		if (!fs->kperm && c->uid != 0)
			fs_kill_priv(&a);
		const char *idata = nidata_set ? nidata : ip->idata;
		if ((a.flags & FS_IF_INLINE) && a.size && !nidata_set) {
			FS_ERR(fs_idata_load(fs, ip));
			idata = ip->idata;
		}
		FS_ERR(commit_batch(fs, ip, b, &a, idata, &nidata, nidata_set, "fallocate"));
		if (!(mode & FALLOC_FL_ZERO_RANGE) || (a.flags & FS_IF_INLINE))
			goto err;
		/* ZERO_RANGE leaves the range allocated (as ext4's unwritten
		 * extents): allocate the punched blocks as zeros. */
		a = ip->a;
		uint64_t zb0 = off >> fs->bshift, zb1 = fs_nblk(fs, end);
		rc = alloc_blocks(fs, ip, &a, zb0, zb1, 0);
		goto err;
	}

	/* mode 0 or KEEP_SIZE: allocate. */
	uint64_t final_size = keep ? a.size : (end > a.size ? end : a.size);
	if (a.flags & FS_IF_INLINE) {
		/* Within the inline limit: the space comes with the inode;
		 * only the size may change (and the times, always, as on
		 * ext4). */
		FS_ERR(fs_idata_load(fs, ip));
		if (final_size > a.size) {
			char *d = calloc(1, (size_t)final_size);
			if (!d) {
				rc = -ENOMEM;
				goto err;
			}
			if (a.size)
				memcpy(d, ip->idata, (size_t)a.size);
			a.size = final_size;
			nidata = d;
			nidata_set = true;
		}
		a.mtime = a.ctime = now;
		b = lsm_batch_new();
		if (!b) {
			rc = -ENOMEM;
			goto err;
		}
		FS_ERR(commit_batch(fs, ip, b, &a, nidata_set ? nidata : ip->idata,
				    &nidata, nidata_set, "fallocate"));
		goto err;
	}
	rc = alloc_blocks(fs, ip, &a, off >> fs->bshift, fs_nblk(fs, end),
			  final_size);
err:
	pthread_mutex_unlock(&ip->lock);
	free(nidata);
	lsm_batch_free(b);
	return rc;
}

/* ---- SEEK_DATA / SEEK_HOLE ------------------------------------------------------------ */

int fs_lseek(lsmfs *fs, uint64_t fh, uint64_t off, int whence,
	     uint64_t *result)
{
	struct fs_handle *h = fs_handle_get(fh);
	if (!h)
		return -EBADF;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	struct fs_inode *ip = h->ip;
	pthread_mutex_lock(&ip->lock);
	fs_attr a = ip->a;
	pthread_mutex_unlock(&ip->lock);
	if (off >= a.size)
		return -ENXIO;
	if ((a.flags & FS_IF_INLINE) || !S_ISREG(a.mode)) {
		*result = whence == SEEK_DATA ? off : a.size;
		return 0;
	}
	/* Scan the B keys from off's block: the first present block (DATA)
	 * or the first gap (HOLE).  Blocks past the size do not count. */
	uint64_t blk = off >> fs->bshift, nb = fs_nblk(fs, a.size);
	if (a.nblocks == a.maxblk && a.maxblk >= nb) {
		/* dense: all data up to the size */
		*result = whence == SEEK_DATA ? off : a.size;
		return 0;
	}
	char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_BLOCK_LEN];
	fs_key_block(lo, ip->ino, blk);
	fs_key_block(hi, ip->ino, nb);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	int rc = lsm_iter_new(fs->db, &ro, &it);
	if (rc < 0)
		return fs_eng(rc, "lseek");
	uint64_t expect = blk;
	bool found = false;
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl;
		const char *k = lsm_iter_key(it, &kl);
		if (kl != FS_KEY_BLOCK_LEN)
			continue;
		uint64_t b = fs_be64_get(k + 9);
		if (whence == SEEK_DATA) {
			uint64_t pos = b << fs->bshift;
			*result = pos > off ? pos : off;
			found = true;
			break;
		}
		if (b != expect)
			break;	/* gap at expect */
		expect = b + 1;
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	if (rc < 0)
		return fs_eng(rc, "lseek");
	if (whence == SEEK_DATA)
		return found ? 0 : -ENXIO;
	uint64_t pos = expect << fs->bshift;
	if (pos < off)
		pos = off;
	*result = pos < a.size ? pos : a.size;
	return 0;
}

/* ---- copy_file_range ------------------------------------------------------------------ */

int fs_copy_file_range(lsmfs *fs, const fs_cred *c, uint64_t fh_in,
		       uint64_t off_in, uint64_t fh_out, uint64_t off_out,
		       size_t len, unsigned flags, size_t *copied)
{
	struct fs_handle *hi = fs_handle_get(fh_in), *ho = fs_handle_get(fh_out);
	*copied = 0;
	if (flags)
		return -EINVAL;
	if (!hi || !ho || (hi->flags & O_ACCMODE) == O_WRONLY ||
	    (ho->flags & O_ACCMODE) == O_RDONLY || (ho->flags & O_APPEND))
		return -EBADF;
	if (hi->dir || ho->dir)
		return -EISDIR;
	if (fs->read_only)
		return -EROFS;
	if (hi->ip == ho->ip && off_in < off_out + len && off_out < off_in + len)
		return -EINVAL;	/* overlapping ranges of one file */
	size_t chunk = (size_t)fs->bs * 64;
	if (chunk < (1u << 20))
		chunk = 1u << 20;
	char *buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	int rc = 0;
	while (*copied < len) {
		size_t want = len - *copied < chunk ? len - *copied : chunk;
		size_t got, put;
		if ((rc = do_read(fs, hi, buf, want, off_in + *copied, &got)) < 0)
			break;
		if (got == 0)
			break;
		if ((rc = do_write(fs, c, ho->ip, 0, buf, got, off_out + *copied, 0, &put)) < 0)
			break;
		*copied += put;
		if (got < want)
			break;
	}
	free(buf);
	return *copied > 0 ? 0 : rc;
}
