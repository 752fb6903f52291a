/*
 * pass4_connect.c — pass 4: every directory reaches the root; every inode
 * has a name.
 *
 * Needs: the inode table with the names of pass 3 (links, dparent,
 * subdirs).
 * Checks:
 *   - the root (inode 1) exists and is a directory; if not, a new empty
 *     root is made;
 *   - walking up from every directory through the directory holding its
 *     name ends at the root.  A walk that ends at a directory without a
 *     name, or comes back to a directory it passed (a loop cut off from the
 *     root), reconnects that directory under /lost+found as "#ino" (a loop
 *     loses its name inside the loop, which breaks it);
 *   - every other inode with no name, unless it is an orphan (pass 6), is
 *     reconnected under /lost+found likewise.
 * /lost+found is created (mode 0700, owned by root) the first time it is
 * needed.  Each reconnection is one batch: the new entry, the old entry
 * of a directory cut out of a loop, the moved directory's parent pointer
 * and /lost+found's link count (so pass 5 has nothing to say about
 * /lost+found; the directory left behind is pass 5's to judge).
 * Leaves: ctx->lost_found; links/dparent/subdirs updated for pass 5.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsck.h"
#include "problem.h"

#define LF_NAME "lost+found"

static bool lf_refused;		/* /lost+found could not be had: stop asking */

static uint64_t new_ino(struct fsck_ctx *ctx)
{
	uint64_t ino = ctx->sb.next_ino;
	if (ino <= ctx->max_ino)
		ino = ctx->max_ino + 1;
	return ino;
}

static void now_attr(fs_attr *a)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a->atime = a->mtime = a->ctime = a->btime = now;
}

static int put_inode(lsm_batch *b, uint64_t ino, const fs_attr *a)
{
	char k[FS_KEY_INO_LEN], v[FS_INODE_HDR_LEN];
	fs_key_ino(k, FS_K_INODE, ino);
	fs_inode_encode(v, a);
	return lsm_batch_put(b, k, sizeof k, v, sizeof v);
}

/* Make an empty root directory (over whatever inode 1 was). */
static int make_root(struct fsck_ctx *ctx)
{
	fs_attr a;
	memset(&a, 0, sizeof a);
	a.mode = S_IFDIR | 0755;
	a.nlink = 2;
	a.parent = FS_ROOT_INO;
	now_attr(&a);
	lsm_batch *b = lsm_batch_new();
	int rc = b ? fsck_batch_destroy(b, FS_ROOT_INO) : -ENOMEM;
	if (rc == 0)
		rc = put_inode(b, FS_ROOT_INO, &a);
	if (rc == 0)
		rc = fsck_write(ctx, b);
	lsm_batch_free(b);
	if (rc < 0)
		return rc;
	struct fsck_inode *fi = fsck_inode_add(ctx, FS_ROOT_INO);
	if (!fi)
		return -ENOMEM;
	if (fi->mode && !(fi->st & FI_GONE))
		fsck_own_count(ctx, fi->mode, -1);	/* the inode it replaces */
	fsck_own_count(ctx, a.mode, 1);
	uint32_t subdirs = fi->subdirs;
	memset(fi, 0, sizeof *fi);
	fi->ino = FS_ROOT_INO;
	fi->mode = a.mode;
	fi->nlink = 2;
	fi->parent = FS_ROOT_INO;
	fi->subdirs = subdirs;
	return 0;
}

/* Find /lost+found in the store (not creating it). */
static int find_lost_found(struct fsck_ctx *ctx, bool *not_dir)
{
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_DENTRY, FS_ROOT_INO, LF_NAME, strlen(LF_NAME));
	void *v = NULL;
	size_t vl = 0;
	*not_dir = false;
	int rc = lsm_get(ctx->db, NULL, k, kl, &v, &vl);
	if (rc == LSM_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return fsck_read_error(ctx, rc, "looking up /lost+found");
	uint64_t ino;
	uint32_t type;
	rc = fs_dentry_decode(v, vl, &ino, &type);
	free(v);
	if (rc < 0)
		return 0;	/* pass 3 judged it already */
	struct fsck_inode *fi = fsck_inode_live(ctx, ino);
	if (!fi)
		return 0;
	if (!S_ISDIR(fi->mode)) {
		*not_dir = true;
		return 0;
	}
	ctx->lost_found = ino;
	return 0;
}

/* Create /lost+found (asking first).  0 with ctx->lost_found set, or < 0. */
static int make_lost_found(struct fsck_ctx *ctx, uint64_t for_ino)
{
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	pc.ino = for_ino;
	bool not_dir = false;
	int rc = find_lost_found(ctx, &not_dir);
	if (rc < 0 || ctx->lost_found)
		return rc;
	if (not_dir) {
		fix_problem(ctx, PR_4_LOST_FOUND_NOT_DIR, &pc);
		lf_refused = true;
		return -ECANCELED;
	}
	if (!fix_problem(ctx, PR_4_NO_LOST_FOUND, &pc)) {
		lf_refused = true;
		return -ECANCELED;
	}
	struct fsck_inode *root = fsck_inode_live(ctx, FS_ROOT_INO);
	uint64_t ino = new_ino(ctx);
	fs_attr a;
	memset(&a, 0, sizeof a);
	a.mode = S_IFDIR | 0700;
	a.nlink = 2;
	a.parent = FS_ROOT_INO;
	now_attr(&a);
	fs_super keep = ctx->sb;
	ctx->sb.next_ino = ino + 1;
	lsm_batch *b = lsm_batch_new();
	rc = b ? put_inode(b, ino, &a) : -ENOMEM;
	char k[FS_KEY_NAME_MAX], dv[FS_DENTRY_LEN];
	size_t kl = fs_key_named(k, FS_K_DENTRY, FS_ROOT_INO, LF_NAME, strlen(LF_NAME));
	fs_dentry_encode(dv, ino, a.mode);
	if (rc == 0)
		rc = lsm_batch_put(b, k, kl, dv, sizeof dv);
	struct fsck_inode rw = *root;
	rw.nlink = root->nlink + 1;
	if (rc == 0)
		rc = fsck_inode_update(ctx, b, &rw, FU_NLINK);
	if (rc == 0)
		rc = fsck_batch_super(ctx, b);
	if (rc == 0)
		rc = fsck_write(ctx, b);
	lsm_batch_free(b);
	if (rc < 0) {
		ctx->sb = keep;
		fsck_fix_done(ctx, rc);
		lf_refused = true;
		return rc;
	}
	root->nlink++;
	root->subdirs++;
	fsck_own_count(ctx, a.mode, 1);
	struct fsck_inode *fi = fsck_inode_add(ctx, ino);
	if (!fi)
		return -ENOMEM;
	fi->mode = a.mode;
	fi->nlink = 2;
	fi->parent = FS_ROOT_INO;
	fi->dparent = FS_ROOT_INO;
	fi->links = 1;
	fi->st |= FI_REACHED;
	ctx->lost_found = ino;
	return 0;
}

/* The key of the entry in dir that names child (for breaking a loop). */
static int find_name(struct fsck_ctx *ctx, uint64_t dir, uint64_t child, char *key,
		     size_t *klen)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	lsm_iter *it = NULL;
	fs_key_ino(lo, FS_K_DENTRY, dir);
	fs_key_ino_end(hi, FS_K_DENTRY, dir);
	int rc = fsck_iter(ctx, lo, sizeof lo, hi, sizeof hi, &it);
	if (rc < 0)
		return rc;
	rc = LSM_E_NOTFOUND;
	for (; lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		uint64_t ino;
		uint32_t type;
		if (kl <= FS_KEY_NAME_MAX && fs_dentry_decode(v, vl, &ino, &type) == 0 &&
		    ino == child) {
			memcpy(key, k, kl);
			*klen = kl;
			rc = 0;
			break;
		}
	}
	int st = lsm_iter_status(it);
	lsm_iter_free(it);
	return st < 0 ? fsck_read_error(ctx, st, "reading a directory") : rc;
}

/* A name "#ino" (or "#ino.N") not yet used in /lost+found. */
static int free_name(struct fsck_ctx *ctx, uint64_t ino, char *key, size_t *klen)
{
	char name[64];
	for (unsigned n = 0; n < 1000; n++) {
		if (n == 0)
			snprintf(name, sizeof name, "#%" PRIu64, ino);
		else
			snprintf(name, sizeof name, "#%" PRIu64 ".%u", ino, n);
		*klen = fs_key_named(key, FS_K_DENTRY, ctx->lost_found, name, strlen(name));
		void *v = NULL;
		size_t vl;
		int rc = lsm_get(ctx->db, NULL, key, *klen, &v, &vl);
		free(v);
		if (rc == LSM_E_NOTFOUND)
			return 0;
		if (rc < 0)
			return fsck_read_error(ctx, rc, "naming a reconnected inode");
	}
	return -EEXIST;
}

/* Ask (code) and reconnect fi under /lost+found.  true if it was. */
static bool reconnect(struct fsck_ctx *ctx, struct fsck_inode *fi, uint32_t code)
{
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	pc.ino = fi->ino;
	pc.str = fsck_type_name(fi->mode);
	pc.num = fi->size;
	if (!fix_problem(ctx, code, &pc))
		return false;
	if (lf_refused) {
		fsck_fix_done(ctx, -ECANCELED);
		return false;
	}
	int lrc = make_lost_found(ctx, fi->ino);
	if (lrc < 0) {
		/* Uncorrected: the answer was yes, nothing could be done
		 * (an error was reported already if it was one). */
		fsck_fix_done(ctx, -ECANCELED);
		return false;
	}
	struct fsck_inode *lf = fsck_inode_live(ctx, ctx->lost_found);
	struct fsck_inode *old = S_ISDIR(fi->mode) && fi->dparent
					 ? fsck_inode_live(ctx, fi->dparent) : NULL;
	char oldkey[FS_KEY_NAME_MAX], key[FS_KEY_NAME_MAX], dv[FS_DENTRY_LEN];
	size_t oldkl = 0, kl = 0;
	int rc = 0;
	if (old)
		rc = find_name(ctx, old->ino, fi->ino, oldkey, &oldkl);
	if (rc == LSM_E_NOTFOUND) {
		old = NULL;
		rc = 0;
	}
	if (rc == 0)
		rc = free_name(ctx, fi->ino, key, &kl);
	lsm_batch *b = rc == 0 ? lsm_batch_new() : NULL;
	if (rc == 0 && !b)
		rc = -ENOMEM;
	fs_dentry_encode(dv, fi->ino, fi->mode);
	if (rc == 0)
		rc = lsm_batch_put(b, key, kl, dv, sizeof dv);
	struct fsck_inode want_fi = *fi, want_lf = *lf;
	if (rc == 0 && S_ISDIR(fi->mode)) {
		want_fi.parent = lf->ino;
		rc = fsck_inode_update(ctx, b, &want_fi, FU_PARENT);
		want_lf.nlink = lf->nlink + 1;
		if (rc == 0)
			rc = fsck_inode_update(ctx, b, &want_lf, FU_NLINK);
		/* The directory it leaves keeps its stored count: whether that
		 * count included this name is pass 5's to judge. */
		if (rc == 0 && old)
			rc = lsm_batch_delete(b, oldkey, oldkl);
	}
	if (rc == 0)
		rc = fsck_write(ctx, b);
	lsm_batch_free(b);
	fsck_fix_done(ctx, rc);
	if (rc < 0)
		return false;
	if (S_ISDIR(fi->mode)) {
		if (old && old->subdirs)
			old->subdirs--;
		lf->nlink = want_lf.nlink;
		lf->subdirs++;
		fi->parent = lf->ino;
		fi->dparent = lf->ino;
		fi->links = 1;
	} else {
		fi->links++;
	}
	return true;
}

static bool is_orphan_without_name(const struct fsck_inode *fi)
{
	return (fi->st & FI_ORPHAN) && fi->links == 0;
}

/* Walk up from directory d; reconnect where the walk ends off the root. */
static int walk_up(struct fsck_ctx *ctx, struct fsck_inode *d)
{
	struct fsck_inode **path = NULL;
	size_t n = 0, cap = 0;
	struct fsck_inode *x = d;
	int rc = 0;
	for (;;) {
		if (x->st & FI_REACHED)
			break;
		if (x->st & FI_WALK) {
			reconnect(ctx, x, PR_4_DIR_LOOP);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct fsck_inode **p = realloc(path, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			path = p;
		}
		path[n++] = x;
		x->st |= FI_WALK;
		struct fsck_inode *up = x->dparent ? fsck_inode_live(ctx, x->dparent) : NULL;
		if (!up) {
			reconnect(ctx, x, PR_4_DISCONNECTED_DIR);
			break;
		}
		x = up;
	}
	/* Reached, reconnected, or left as it is: either way judged. */
	for (size_t i = 0; i < n; i++) {
		path[i]->st &= ~(uint32_t)FI_WALK;
		path[i]->st |= FI_REACHED;
	}
	free(path);
	return rc;
}

int fsck_pass_connect(struct fsck_ctx *ctx)
{
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	lf_refused = false;
	/* Room for a new root and /lost+found: the walks below hold
	 * pointers into the table while they may add them. */
	int rc = fsck_inode_reserve(ctx, 2);
	if (rc < 0)
		return fsck_read_error(ctx, rc, "growing the inode table");
	struct fsck_inode *root = fsck_inode_live(ctx, FS_ROOT_INO);
	if (!root || !S_ISDIR(root->mode)) {
		pc.str = root ? fsck_type_name(root->mode) : "";
		if (!fix_problem(ctx, root ? PR_4_ROOT_NOT_DIR : PR_4_NO_ROOT, &pc))
			return 0;	/* nothing can be connected to a missing root */
		rc = make_root(ctx);
		fsck_fix_done(ctx, rc);
		if (rc < 0)
			return 0;
		root = fsck_inode_live(ctx, FS_ROOT_INO);
	}
	root->st |= FI_REACHED;
	root->dparent = FS_ROOT_INO;
	root->links = 1;

	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		fsck_progress(ctx, i, 2 * ctx->ninodes);
		if ((fi->st & (FI_GONE | FI_REACHED)) || !S_ISDIR(fi->mode) ||
		    is_orphan_without_name(fi))
			continue;
		rc = walk_up(ctx, fi);
		if (rc < 0)
			return fsck_read_error(ctx, rc, "walking directories");
	}
	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		fsck_progress(ctx, ctx->ninodes + i, 2 * ctx->ninodes);
		if ((fi->st & FI_GONE) || S_ISDIR(fi->mode) || fi->links > 0 ||
		    (fi->st & FI_ORPHAN))
			continue;
		reconnect(ctx, fi, PR_4_UNATTACHED);
	}
	return 0;
}
