/*
 * pass3_dirs.c — pass 3: directory entries (D parent name -> ino, type).
 *
 * Needs: the inode table of pass 2.
 * Checks, for every entry in key order:
 *   - the key is well formed and the name valid (no '/', no NUL, not "."
 *     or "..": those are never stored);
 *   - the parent exists and is a directory;
 *   - the value decodes; the child exists, is not the root, and has the
 *     type the entry states (a wrong type is rewritten, the entry kept);
 *   - a directory has at most one name: of several, the one in the
 *     directory its parent pointer names is kept (else the first in key
 *     order), the others are removed.  This also breaks every loop that
 *     still reaches the root; loops cut off from it are pass 4's.
 * Leaves: links (accepted names) of every inode; for directories dparent
 * (the directory holding the accepted name) and subdirs (accepted
 * subdirectory names), for passes 4 and 5.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "problem.h"

/* A name of a directory, kept until every name has been seen. */
struct dname {
	uint64_t child;
	uint64_t parent;
	size_t seq;		/* key order */
	char key[FS_KEY_NAME_MAX];
	size_t klen;
};

struct dnames {
	struct dname *v;
	size_t n, cap;
};

static int dnames_add(struct dnames *d, uint64_t child, uint64_t parent, const char *k,
		      size_t kl)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct dname *n = realloc(d->v, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->v = n;
		d->cap = cap;
	}
	struct dname *e = &d->v[d->n];
	e->child = child;
	e->parent = parent;
	e->seq = d->n;
	memcpy(e->key, k, kl);
	e->klen = kl;
	d->n++;
	return 0;
}

static int dname_cmp(const void *x, const void *y)
{
	const struct dname *a = x, *b = y;
	if (a->child != b->child)
		return a->child < b->child ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static bool bad_name(const char *n, size_t len)
{
	if (len == 0 || memchr(n, '/', len) || memchr(n, 0, len))
		return true;
	return (len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.');
}

static void check_entry(struct fsck_ctx *ctx, struct dnames *dirs, const char *k, size_t kl,
			const char *v, size_t vl, int *err)
{
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	fs_key key;
	if (fs_key_parse(k, kl, &key) < 0) {
		pc.name = k;
		pc.name_len = kl;
		if (fix_problem(ctx, PR_3_BAD_KEY, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	pc.ino = key.ino;
	pc.name = key.name;
	pc.name_len = key.name_len;
	if (bad_name(key.name, key.name_len)) {
		if (fix_problem(ctx, PR_3_BAD_NAME, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	struct fsck_inode *pi = fsck_inode_live(ctx, key.ino);
	if (!pi) {
		if (fix_problem(ctx, PR_3_NO_PARENT, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	if (!S_ISDIR(pi->mode)) {
		pc.str = fsck_type_name(pi->mode);
		if (fix_problem(ctx, PR_3_PARENT_NOT_DIR, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	uint64_t child;
	uint32_t type;
	if (fs_dentry_decode(v, vl, &child, &type) < 0) {
		pc.str = fs_errdetail();
		if (fix_problem(ctx, PR_3_ENTRY_CORRUPT, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	pc.ino2 = child;
	if (child == FS_ROOT_INO) {
		if (fix_problem(ctx, PR_3_NAMES_ROOT, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	struct fsck_inode *ci = fsck_inode_live(ctx, child);
	if (!ci) {
		if (fix_problem(ctx, PR_3_MISSING_INODE, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, kl));
		return;
	}
	if (type != (ci->mode & S_IFMT)) {
		char s[96];
		snprintf(s, sizeof s, "the entry says %s, the inode is a %s",
			 fsck_type_name(type), fsck_type_name(ci->mode));
		pc.str = s;
		if (fix_problem(ctx, PR_3_BAD_TYPE, &pc)) {
			char nv[FS_DENTRY_LEN];
			fs_dentry_encode(nv, child, ci->mode);
			fsck_fix_done(ctx, fsck_put(ctx, k, kl, nv, sizeof nv));
		}
	}
	if (S_ISDIR(ci->mode)) {
		if (dnames_add(dirs, child, key.ino, k, kl) < 0)
			*err = -ENOMEM;
	} else if (ci->links < UINT32_MAX) {
		ci->links++;
	}
}

/* Of several names of one directory keep one (see the header). */
static void settle_dirs(struct fsck_ctx *ctx, struct dnames *d)
{
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(d->v[0]), dname_cmp);
	for (size_t i = 0; i < d->n && !fsck_cancelled(ctx);) {
		size_t j = i;
		while (j < d->n && d->v[j].child == d->v[i].child)
			j++;
		struct fsck_inode *ci = fsck_inode_live(ctx, d->v[i].child);
		size_t keep = i;
		for (size_t m = i; m < j; m++)
			if (ci && d->v[m].parent == ci->parent) {
				keep = m;
				break;
			}
		for (size_t m = i; m < j; m++) {
			struct dname *e = &d->v[m];
			if (m == keep)
				continue;
			struct problem_ctx pc;
			memset(&pc, 0, sizeof pc);
			fs_key key;
			if (fs_key_parse(e->key, e->klen, &key) < 0)
				continue;
			pc.ino = e->parent;
			pc.ino2 = e->child;
			pc.name = key.name;
			pc.name_len = key.name_len;
			pc.num2 = d->v[keep].parent;
			if (fix_problem(ctx, PR_3_DIR_TWICE, &pc))
				fsck_fix_done(ctx, fsck_delete_key(ctx, e->key, e->klen));
		}
		if (ci) {
			struct fsck_inode *pi = fsck_inode_live(ctx, d->v[keep].parent);
			ci->links = 1;
			ci->dparent = d->v[keep].parent;
			if (pi)
				pi->subdirs++;
		}
		i = j;
	}
}

int fsck_pass_dirs(struct fsck_ctx *ctx)
{
	char lo[FS_KEY_INO_LEN], hi[1] = { FS_K_DENTRY + 1 };
	struct dnames dirs = { 0 };
	lsm_iter *it = NULL;
	uint64_t seen = 0;
	int err = 0;
	fs_key_ino(lo, FS_K_DENTRY, 0);
	lo[1] = 0;
	int rc = fsck_iter(ctx, lo, 1, hi, sizeof hi, &it);
	if (rc < 0)
		return rc;
	for (; lsm_iter_valid(it) && !fsck_cancelled(ctx) && !err; lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		fsck_progress(ctx, ++seen, ctx->est_keys / 4 + 1);
		check_entry(ctx, &dirs, k, kl, v, vl, &err);
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	if (rc < 0) {
		fsck_read_error(ctx, rc, "reading directory entries");
		goto out;
	}
	if (err < 0) {
		rc = fsck_read_error(ctx, err, "gathering directory names");
		goto out;
	}
	settle_dirs(ctx, &dirs);
out:
	free(dirs.v);
	return rc;
}
