/*
 * pass5_refs.c — pass 5: link counts and parent pointers.
 *
 * Needs: the names counted by passes 3 and 4 (links, subdirs, dparent).
 * Checks, for every live inode:
 *   - nlink equals the number of entries naming it; for a directory,
 *     2 + the number of its subdirectories (its name and its ".", and each
 *     child's "..");
 *   - a directory's stored parent pointer (what ".." answers) is the
 *     directory that holds its name; the root's is itself.
 * Skipped: inodes without any name that pass 4 could not reconnect (their
 * count would be "fixed" to 0, which means "delete me"), and orphans (pass
 * 6 releases them).
 * Leaves: nothing new; the model's nlink/parent equal the store's.
 */
#include <inttypes.h>
#include <string.h>

#include "fsck.h"
#include "problem.h"

int fsck_pass_refs(struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		fsck_progress(ctx, i, ctx->ninodes);
		if (fi->st & FI_GONE)
			continue;
		if (fi->links == 0 && fi->ino != FS_ROOT_INO)
			continue;	/* unnamed: pass 4's or pass 6's */
		bool dir = S_ISDIR(fi->mode);
		uint64_t want = dir ? 2 + (uint64_t)fi->subdirs : fi->links;
		if (want > UINT32_MAX)
			want = UINT32_MAX;
		struct fsck_inode upd = *fi;
		unsigned fields = 0;
		struct problem_ctx pc;
		memset(&pc, 0, sizeof pc);
		pc.ino = fi->ino;
		pc.str = fsck_type_name(fi->mode);
		if (fi->nlink != want) {
			pc.num = want;
			pc.num2 = fi->nlink;
			if (fix_problem(ctx, PR_5_NLINK, &pc)) {
				upd.nlink = (uint32_t)want;
				fields |= FU_NLINK;
			}
		}
		uint64_t parent = fi->ino == FS_ROOT_INO ? FS_ROOT_INO : fi->dparent;
		if (dir && parent && fi->parent != parent) {
			pc.num = parent;
			pc.num2 = fi->parent;
			if (fix_problem(ctx, PR_5_PARENT, &pc)) {
				upd.parent = parent;
				fields |= FU_PARENT;
			}
		}
		if (fields) {
			int rc = fsck_inode_update(ctx, NULL, &upd, fields);
			fsck_fix_done(ctx, rc);
			if (rc == 0)
				*fi = upd;
		}
	}
	return 0;
}
