/*
 * pass6_orphans.c — pass 6: orphans, the inodes removed while open.
 *
 * When the last name of an open file goes, the core keeps the inode (nlink
 * 0) and writes an orphan record (O ino) in the same batch; the last close
 * deletes both.  A crash in between leaves the pair behind; the next mount
 * reclaims it, and so does this pass, for a store that is checked first.
 *
 * Needs: FI_ORPHAN and the stale list of pass 2; the names of passes 3/4.
 * Checks:
 *   - an orphan record of an inode that does not exist is removed;
 *   - an orphan record of an inode that has names (the crash came between
 *     a link and the record's removal, or the record is stale) is removed,
 *     the inode kept (pass 5 has set its link count);
 *   - an orphan without names is released: the inode and all its records
 *     (data, xattrs, target, the orphan record) in one batch, as the
 *     core's reclaim at mount does.
 * Leaves: released inodes FI_GONE (for the superblock's counters).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fsck.h"
#include "problem.h"

int fsck_pass_orphans(struct fsck_ctx *ctx)
{
	struct problem_ctx pc;
	char k[FS_KEY_INO_LEN];
	for (size_t i = 0; i < ctx->nstale && !fsck_cancelled(ctx); i++) {
		memset(&pc, 0, sizeof pc);
		pc.ino = ctx->stale_orphans[i];
		fs_key_ino(k, FS_K_ORPHAN, pc.ino);
		if (fix_problem(ctx, PR_6_ORPHAN_NO_INODE, &pc))
			fsck_fix_done(ctx, fsck_delete_key(ctx, k, sizeof k));
	}
	for (size_t i = 0; i < ctx->ninodes && !fsck_cancelled(ctx); i++) {
		struct fsck_inode *fi = &ctx->inodes[i];
		if ((fi->st & FI_GONE) || !(fi->st & FI_ORPHAN))
			continue;
		memset(&pc, 0, sizeof pc);
		pc.ino = fi->ino;
		pc.str = fsck_type_name(fi->mode);
		pc.num = fi->links;
		fs_key_ino(k, FS_K_ORPHAN, fi->ino);
		if (fi->links > 0) {
			if (fix_problem(ctx, PR_6_ORPHAN_LINKED, &pc)) {
				int rc = fsck_delete_key(ctx, k, sizeof k);
				fsck_fix_done(ctx, rc);
				if (rc == 0)
					fi->st &= ~(uint32_t)FI_ORPHAN;
			}
			continue;
		}
		pc.num = fi->size;
		if (!fix_problem(ctx, PR_6_ORPHAN, &pc))
			continue;
		lsm_batch *b = lsm_batch_new();
		int rc = b ? fsck_batch_destroy(b, fi->ino) : -ENOMEM;
		if (rc == 0)
			rc = fsck_write(ctx, b);
		lsm_batch_free(b);
		fsck_fix_done(ctx, rc);
		if (rc == 0) {
			fi->st |= FI_GONE;
			fsck_own_count(ctx, fi->mode, -1);
			if (S_ISREG(fi->mode) && !(fi->flags & FS_IF_INLINE) &&
			    ctx->data_blocks >= fi->nblocks)
				ctx->data_blocks -= fi->nblocks;
		}
	}
	return 0;
}
