/*
 * pass2_inodes.c — pass 2: inode records and everything hanging off an
 * inode: data blocks, symlink targets, extended attributes, orphan records;
 * also keys of no known kind.
 *
 * Needs: the store open, the superblock read (block size).
 * Checks:
 *   - every I record decodes (schema's fs_inode_decode: type, size, inline
 *     length, flags, times); inode 0 and malformed I keys are cleared;
 *   - data blocks (B ino blk), per regular non-inline file, as file.c's
 *     invariants F1/F2 say: every block is below maxblk (or within the
 *     size: then maxblk is raised, the data kept); blocks past both are
 *     leaks and removed; nblocks equals the blocks present; no block value
 *     is longer than the block size; no byte past the end of the file is
 *     non-zero.  Blocks of inodes that do not exist, or that keep no data in
 *     blocks (inline files, directories, ...), are leaks;
 *   - every symlink has one target (L) of 1..4095 bytes without NUL and its
 *     size equals the target's length; targets of other inodes are removed;
 *   - extended attributes (X) belong to an existing inode marked
 *     FS_IF_XATTR;
 *   - orphan records (O) are noted for pass 6.
 * Leaves: ctx->inodes (the model, C2), FI_ORPHAN / FI_HAS_TARGET /
 * FI_HAS_XATTR bits, ctx->stale_orphans, ctx->data_blocks, ctx->max_ino.
 *
 * The scan is two sweeps in key order: the I range first (the model must
 * exist before blocks can be judged, and B sorts before I), then every
 * other key, skipping the D range (pass 3's) and the I range.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "problem.h"

/* Blocks of one inode, gathered while the sweep is inside its B range. */
struct brun {
	bool active;
	uint64_t ino;
	uint64_t total;		/* B keys seen */
	uint64_t past;		/* of which at or past limit (leaks) */
	uint64_t limit;		/* max(maxblk, blocks the size covers) */
	uint64_t newmax;	/* 1 + highest kept block */
	int kind;		/* 0 file, 1 no inode, 2 not a block file,
				 * 3 inode deleted by this run */
};

static uint64_t nblk(const struct fsck_ctx *ctx, uint64_t size)
{
	uint64_t bs = ctx->sb.block_size;
	return size / bs + (size % bs != 0);
}

/* Clear an inode found damaged: every record of it, one batch. */
static int destroy_inode(struct fsck_ctx *ctx, uint64_t ino)
{
	lsm_batch *b = lsm_batch_new();
	int rc = b ? fsck_batch_destroy(b, ino) : -ENOMEM;
	if (rc == 0)
		rc = fsck_write(ctx, b);
	lsm_batch_free(b);
	if (rc == 0) {
		/* Remember it as gone (also an inode that never made it into
		 * the table), so that its blocks, target and xattrs, deleted
		 * with it, are not reported again by the rest of the sweep. */
		struct fsck_inode *fi = fsck_inode_live(ctx, ino);
		if (fi)
			fsck_own_count(ctx, fi->mode, -1);
		else
			fi = fsck_inode_add(ctx, ino);
		if (fi)
			fi->st |= FI_GONE;
	}
	return rc;
}

/* Was ino deleted by a fix of this run?  Its records went with it. */
static bool destroyed(struct fsck_ctx *ctx, uint64_t ino)
{
	struct fsck_inode *fi = fsck_inode_find(ctx, ino);
	return fi && (fi->st & FI_GONE);
}

/* ---- sweep 1: the I range --------------------------------------------------- */

static int scan_inodes(struct fsck_ctx *ctx, uint64_t *seen)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	lsm_iter *it = NULL;
	fs_key_ino(lo, FS_K_INODE, 0);
	fs_key_ino_end(hi, FS_K_INODE, UINT64_MAX);
	int rc = fsck_iter(ctx, lo, sizeof lo, hi, sizeof hi, &it);
	if (rc < 0)
		return rc;
	for (; lsm_iter_valid(it) && !fsck_cancelled(ctx); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		struct problem_ctx pc;
		memset(&pc, 0, sizeof pc);
		fsck_progress(ctx, ++*seen, ctx->est_keys);

		fs_key key;
		if (fs_key_parse(k, kl, &key) < 0) {
			pc.name = k;
			pc.name_len = kl;
			if (fix_problem(ctx, PR_2_INODE_RANGE, &pc))
				fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
			continue;
		}
		if (key.ino == 0) {
			if (fix_problem(ctx, PR_2_INODE_ZERO, &pc))
				fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
			continue;
		}
		fs_attr a;
		if (fs_inode_decode(v, vl, key.ino, &a, NULL, NULL) < 0) {
			pc.ino = key.ino;
			/* The schema's detail names the inode too: drop that. */
			char pfx[32];
			int pl = snprintf(pfx, sizeof pfx, "inode %" PRIu64 ": ", key.ino);
			const char *d = fs_errdetail();
			pc.str = strncmp(d, pfx, (size_t)pl) ? d : d + pl;
			if (fix_problem(ctx, PR_2_INODE_CORRUPT, &pc))
				fsck_fix_done(ctx, destroy_inode(ctx, key.ino));
			if (key.ino > ctx->max_ino)
				ctx->max_ino = key.ino;
			continue;
		}
		struct fsck_inode *fi = fsck_inode_add(ctx, key.ino);
		if (!fi) {
			rc = -ENOMEM;
			fsck_read_error(ctx, rc, "building the inode table");
			goto out;
		}
		fi->mode = a.mode;
		fi->nlink = a.nlink;
		fi->flags = a.flags;
		fi->size = a.size;
		fi->nblocks = a.nblocks;
		fi->maxblk = a.maxblk;
		fi->parent = a.parent;
	}
	rc = lsm_iter_status(it);
	if (rc < 0)
		fsck_read_error(ctx, rc, "reading inodes");
out:
	lsm_iter_free(it);
	return rc;
}

/* ---- sweep 2: data blocks ------------------------------------------------------ */

static void brun_start(struct fsck_ctx *ctx, struct brun *r, uint64_t ino)
{
	memset(r, 0, sizeof *r);
	r->active = true;
	r->ino = ino;
	struct fsck_inode *fi = fsck_inode_live(ctx, ino);
	if (destroyed(ctx, ino)) {
		r->kind = 3;
	} else if (!fi) {
		r->kind = 1;
	} else if (!S_ISREG(fi->mode) || (fi->flags & FS_IF_INLINE)) {
		r->kind = 2;
	} else {
		uint64_t cover = nblk(ctx, fi->size);
		r->limit = fi->maxblk > cover ? fi->maxblk : cover;
		fi->st |= FI_BSEEN;
	}
}

/* Check one block value of a file: length and the bytes past EOF. */
static void check_block(struct fsck_ctx *ctx, const struct fsck_inode *fi, uint64_t blk,
			const char *k, size_t kl, const char *v, size_t vl)
{
	uint64_t bs = ctx->sb.block_size;
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	pc.ino = fi->ino;
	pc.num = blk;
	size_t keep = vl;
	if (vl > bs) {
		pc.num2 = vl;
		if (fix_problem(ctx, PR_2_BLOCK_TOO_LONG, &pc))
			fsck_fix_done(ctx, fsck_put(ctx, k, kl, v, (size_t)bs));
		keep = (size_t)bs;
	}
	uint64_t off;
	uint64_t start;		/* first byte of the value past EOF */
	if (__builtin_mul_overflow(blk, bs, &off) || off >= fi->size)
		start = 0;
	else
		start = fi->size - off;
	if (start >= keep)
		return;
	for (size_t i = (size_t)start; i < keep; i++) {
		if (v[i] != 0) {
			if (fix_problem(ctx, PR_2_BLOCK_TAIL, &pc))
				fsck_fix_done(ctx, fsck_put(ctx, k, kl, v, (size_t)start));
			return;
		}
	}
}

static void brun_finish(struct fsck_ctx *ctx, struct brun *r)
{
	struct problem_ctx pc;
	char lo[FS_KEY_BLOCK_LEN], hi[FS_KEY_INO_LEN];
	if (!r->active)
		return;
	r->active = false;
	memset(&pc, 0, sizeof pc);
	pc.ino = r->ino;
	fs_key_ino_end(hi, FS_K_BLOCK, r->ino);
	if (r->kind == 3)
		return;		/* deleted with its inode */
	if (r->kind != 0) {
		fs_key_ino(lo, FS_K_BLOCK, r->ino);
		pc.num = r->total;
		struct fsck_inode *fi = fsck_inode_live(ctx, r->ino);
		pc.str = fi ? ((fi->flags & FS_IF_INLINE) && S_ISREG(fi->mode)
				       ? "an inline file"
				       : fsck_type_name(fi->mode))
			    : "";
		if (fix_problem(ctx, r->kind == 1 ? PR_2_BLOCKS_NO_INODE : PR_2_BLOCKS_NOT_FILE,
				&pc))
			fsck_fix_done(ctx, fsck_delete_range(ctx, lo, FS_KEY_INO_LEN, hi,
							     sizeof hi));
		return;
	}
	struct fsck_inode *fi = fsck_inode_live(ctx, r->ino);
	if (!fi)
		return;
	uint64_t kept = r->total - r->past;
	if (r->past) {
		pc.num = r->past;
		pc.num2 = fi->size;
		fs_key_block(lo, r->ino, r->limit);
		if (fix_problem(ctx, PR_2_BLOCKS_PAST_END, &pc))
			fsck_fix_done(ctx, fsck_delete_range(ctx, lo, sizeof lo, hi, sizeof hi));
	}
	struct fsck_inode want = *fi;
	unsigned fields = 0;
	if (r->newmax > fi->maxblk) {
		pc.num = r->newmax - 1;
		pc.num2 = fi->maxblk;
		if (fix_problem(ctx, PR_2_MAXBLK, &pc)) {
			want.maxblk = r->newmax;
			fields |= FU_MAXBLK;
		}
	}
	if (kept != fi->nblocks) {
		pc.num = kept;
		pc.num2 = fi->nblocks;
		if (fix_problem(ctx, PR_2_NBLOCKS, &pc)) {
			want.nblocks = kept;
			fields |= FU_NBLOCKS;
		}
	}
	if (fields) {
		int rc = fsck_inode_update(ctx, NULL, &want, fields);
		fsck_fix_done(ctx, rc);
		if (rc == 0)
			*fi = want;
	}
	ctx->data_blocks += kept;
}

/* A file without any block: its count must be 0. */
static void check_blockless(struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		if ((fi->st & (FI_GONE | FI_BSEEN)) || !S_ISREG(fi->mode) ||
		    (fi->flags & FS_IF_INLINE) || fi->nblocks == 0)
			continue;
		struct problem_ctx pc;
		memset(&pc, 0, sizeof pc);
		pc.ino = fi->ino;
		pc.num = 0;
		pc.num2 = fi->nblocks;
		if (fix_problem(ctx, PR_2_NBLOCKS, &pc)) {
			struct fsck_inode want = *fi;
			want.nblocks = 0;
			int rc = fsck_inode_update(ctx, NULL, &want, FU_NBLOCKS);
			fsck_fix_done(ctx, rc);
			if (rc == 0)
				fi->nblocks = 0;
		}
	}
}

/* ---- sweep 2: symlink targets, xattrs, orphans ----------------------------------- */

static void check_target(struct fsck_ctx *ctx, uint64_t ino, const char *k, size_t kl,
			 const char *v, size_t vl)
{
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	pc.ino = ino;
	if (destroyed(ctx, ino))
		return;
	struct fsck_inode *fi = fsck_inode_live(ctx, ino);
	if (!fi || !S_ISLNK(fi->mode)) {
		pc.str = fi ? fsck_type_name(fi->mode) : "no such inode";
		if (fix_problem(ctx, PR_2_TARGET_NO_SYMLINK, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	fi->st |= FI_HAS_TARGET;
	const char *why = NULL;
	if (vl == 0)
		why = "empty";
	else if (vl > FS_SYMLINK_MAX)
		why = "longer than 4095 bytes";
	else if (memchr(v, 0, vl))
		why = "holds a NUL byte";
	if (why) {
		pc.str = why;
		if (fix_problem(ctx, PR_2_SYMLINK_BAD, &pc))
			fsck_fix_done(ctx, destroy_inode(ctx, ino));
		return;
	}
	if (fi->size != vl) {
		pc.num = vl;
		pc.num2 = fi->size;
		if (fix_problem(ctx, PR_2_SYMLINK_SIZE, &pc)) {
			struct fsck_inode want = *fi;
			want.size = vl;
			int rc = fsck_inode_update(ctx, NULL, &want, FU_SIZE);
			fsck_fix_done(ctx, rc);
			if (rc == 0)
				fi->size = vl;
		}
	}
}

/* Xattrs of one inode, as a run like blocks. */
struct xrun {
	bool active;
	uint64_t ino;
	uint64_t count;
};

static void xrun_finish(struct fsck_ctx *ctx, struct xrun *r)
{
	if (!r->active)
		return;
	r->active = false;
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	pc.ino = r->ino;
	pc.num = r->count;
	if (destroyed(ctx, r->ino))
		return;
	struct fsck_inode *fi = fsck_inode_live(ctx, r->ino);
	if (!fi) {
		char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
		fs_key_ino(lo, FS_K_XATTR, r->ino);
		fs_key_ino_end(hi, FS_K_XATTR, r->ino);
		if (fix_problem(ctx, PR_2_XATTR_NO_INODE, &pc))
			fsck_fix_done(ctx, fsck_delete_range(ctx, lo, sizeof lo, hi, sizeof hi));
		return;
	}
	fi->st |= FI_HAS_XATTR;
	if (!(fi->flags & FS_IF_XATTR) && fix_problem(ctx, PR_2_XATTR_FLAG, &pc)) {
		int rc = fsck_inode_update(ctx, NULL, fi, FU_XATTR_FLAG);
		fsck_fix_done(ctx, rc);
		if (rc == 0)
			fi->flags |= FS_IF_XATTR;
	}
}

static int note_orphan(struct fsck_ctx *ctx, uint64_t ino)
{
	if (destroyed(ctx, ino))
		return 0;
	struct fsck_inode *fi = fsck_inode_live(ctx, ino);
	if (fi) {
		fi->st |= FI_ORPHAN;
		return 0;
	}
	uint64_t *n = realloc(ctx->stale_orphans, (ctx->nstale + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ctx->stale_orphans = n;
	n[ctx->nstale++] = ino;
	return 0;
}

static int scan_rest(struct fsck_ctx *ctx, uint64_t *seen)
{
	lsm_iter *it = NULL;
	struct brun br = { 0 };
	struct xrun xr = { 0 };
	int rc = fsck_iter(ctx, NULL, 0, NULL, 0, &it);
	if (rc < 0)
		return rc;
	while (lsm_iter_valid(it) && !fsck_cancelled(ctx)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		fsck_progress(ctx, ++*seen, ctx->est_keys);
		if (kl > 0 && (k[0] == FS_K_DENTRY || k[0] == FS_K_INODE)) {
			/* Not ours: skip the whole range at once. */
			char next = (char)(k[0] + 1);
			brun_finish(ctx, &br);
			xrun_finish(ctx, &xr);
			lsm_iter_seek(it, &next, 1);
			continue;
		}
		fs_key key;
		if (fs_key_parse(k, kl, &key) < 0) {
			struct problem_ctx pc;
			memset(&pc, 0, sizeof pc);
			pc.name = k;
			pc.name_len = kl;
			if (fix_problem(ctx, PR_2_UNKNOWN_KEY, &pc))
				fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
			lsm_iter_next(it);
			continue;
		}
		if (key.type != FS_K_BLOCK || (br.active && br.ino != key.ino))
			brun_finish(ctx, &br);
		if (key.type != FS_K_XATTR || (xr.active && xr.ino != key.ino))
			xrun_finish(ctx, &xr);
		switch (key.type) {
		case FS_K_BLOCK:
			if (!br.active)
				brun_start(ctx, &br, key.ino);
			br.total++;
			if (br.kind == 0) {
				if (key.block >= br.limit) {
					br.past++;
				} else {
					if (key.block + 1 > br.newmax)
						br.newmax = key.block + 1;
					check_block(ctx, fsck_inode_live(ctx, key.ino), key.block, k,
						    kl, v, vl);
				}
			}
			break;
		case FS_K_SYMLINK:
			check_target(ctx, key.ino, k, kl, v, vl);
			break;
		case FS_K_XATTR:
			if (!xr.active) {
				xr.active = true;
				xr.ino = key.ino;
				xr.count = 0;
			}
			xr.count++;
			break;
		case FS_K_ORPHAN:
			if ((rc = note_orphan(ctx, key.ino)) < 0) {
				fsck_read_error(ctx, rc, "noting orphans");
				goto out;
			}
			break;
		default:	/* the superblock: checked apart */
			break;
		}
		lsm_iter_next(it);
	}
	brun_finish(ctx, &br);
	xrun_finish(ctx, &xr);
	rc = lsm_iter_status(it);
	if (rc < 0)
		fsck_read_error(ctx, rc, "reading blocks and records");
out:
	lsm_iter_free(it);
	return rc;
}

/* Symlinks the sweep found no target for. */
static void check_targetless(struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		if ((fi->st & (FI_GONE | FI_HAS_TARGET)) || !S_ISLNK(fi->mode))
			continue;
		struct problem_ctx pc;
		memset(&pc, 0, sizeof pc);
		pc.ino = fi->ino;
		if (fix_problem(ctx, PR_2_SYMLINK_NO_TARGET, &pc))
			fsck_fix_done(ctx, destroy_inode(ctx, fi->ino));
	}
}

int fsck_pass_inodes(struct fsck_ctx *ctx)
{
	uint64_t seen = 0;
	int rc = scan_inodes(ctx, &seen);
	if (rc < 0 || fsck_cancelled(ctx))
		return rc;
	rc = scan_rest(ctx, &seen);
	if (rc < 0 || fsck_cancelled(ctx))
		return rc;
	check_blockless(ctx);
	check_targetless(ctx);
	return 0;
}
