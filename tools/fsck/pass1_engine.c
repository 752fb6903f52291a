/*
 * pass1_engine.c — pass 1: the storage engine under the file system.
 *
 * Checks (all by lsm_check, on the closed store, reading only): CURRENT and
 * the manifest parse; every live table exists at its recorded size; every
 * block checksum verifies and keys are in order; tables of L1 and below do
 * not overlap; write-ahead log records before a torn tail verify; files
 * the manifest does not name.
 *
 * Repairs (each opens the store for itself, so it runs before the logical
 * passes open it):
 *   - a damaged table (checksum, order, size): dropped from the manifest,
 *     its readable entries salvaged into a replacement table
 *     (lsm_repair_drop_table(..., true)); if even that fails, dropped;
 *   - a missing table: dropped (lsm_repair_drop_table(..., false));
 *   - a file not in the manifest: removed (lsm_repair_remove_extra);
 *   - a log damaged before its tail: cut at the damaged record
 *     (lsm_repair_truncate_log), losing that record and what follows.
 * What a drop loses (inodes, entries, blocks) is found and repaired by the
 * logical passes that follow.
 *
 * On a store in use (-n only), reports are taken again after a pause until
 * they stop or five attempts were made: the daemon's flushes and
 * compactions add and remove tables while the check reads.
 *
 * Leaves: ctx->engine_blocked set when damage that makes the data
 * unreadable (PR_BLOCKING rows) stays unrepaired; the logical passes are
 * then skipped, since they would only report the holes the damage makes.
 * Needs: nothing (the store is closed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"
#include "problem.h"

struct report {
	enum lsm_check_problem problem;
	char *file;
	uint64_t offset;
	uint64_t number;
	int level;
	char *detail;
};

struct reports {
	struct report *r;
	size_t n, cap;
	bool oom;
};

static void collect(void *arg, const lsm_check_report *r)
{
	struct reports *rs = arg;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct report *n = realloc(rs->r, cap * sizeof(*n));
		if (!n) {
			rs->oom = true;
			return;
		}
		rs->r = n;
		rs->cap = cap;
	}
	struct report *d = &rs->r[rs->n];
	d->problem = r->problem;
	d->file = strdup(r->file ? r->file : "");
	d->detail = strdup(r->detail ? r->detail : "");
	d->offset = r->offset;
	d->number = r->number;
	d->level = r->level;
	if (!d->file || !d->detail) {
		free(d->file);
		free(d->detail);
		rs->oom = true;
		return;
	}
	rs->n++;
}

static uint32_t code_of(enum lsm_check_problem p)
{
	switch (p) {
	case LSM_CHECK_CURRENT: return PR_1_CURRENT;
	case LSM_CHECK_MANIFEST: return PR_1_MANIFEST;
	case LSM_CHECK_TABLE_MISSING: return PR_1_TABLE_MISSING;
	case LSM_CHECK_TABLE_SIZE: return PR_1_TABLE_SIZE;
	case LSM_CHECK_TABLE_CORRUPT: return PR_1_TABLE_CORRUPT;
	case LSM_CHECK_KEY_ORDER: return PR_1_KEY_ORDER;
	case LSM_CHECK_LEVEL_OVERLAP: return PR_1_LEVEL_OVERLAP;
	case LSM_CHECK_SEQ: return PR_1_SEQ;
	case LSM_CHECK_WAL_CORRUPT: return PR_1_WAL_CORRUPT;
	case LSM_CHECK_EXTRA_FILE: return PR_1_EXTRA_FILE;
	}
	return PR_1_MANIFEST;
}

static bool is_table_damage(enum lsm_check_problem p)
{
	return p == LSM_CHECK_TABLE_MISSING || p == LSM_CHECK_TABLE_SIZE ||
	       p == LSM_CHECK_TABLE_CORRUPT || p == LSM_CHECK_KEY_ORDER;
}

/* Drop table number, salvaging what can be read unless it is missing. */
static int repair_table(struct fsck_ctx *ctx, const struct report *r)
{
	bool salvage = r->problem != LSM_CHECK_TABLE_MISSING;
	int rc = lsm_repair_drop_table(ctx->store, &ctx->lo, r->number, salvage);
	if (rc < 0 && salvage) {
		fsck_note(ctx, "Salvaging table %s failed (%s: %s); dropping it whole.\n",
			  r->file, lsm_strerror(rc), lsm_errdetail());
		rc = lsm_repair_drop_table(ctx->store, &ctx->lo, r->number, false);
	}
	if (rc < 0)
		fsck_read_error(ctx, rc, "dropping a table");
	return rc;
}

static void reports_clear(struct reports *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].file);
		free(rs->r[i].detail);
	}
	free(rs->r);
	memset(rs, 0, sizeof *rs);
}

int fsck_pass_engine(struct fsck_ctx *ctx)
{
	struct reports rs;
	int rc;
	memset(&rs, 0, sizeof rs);
	/* A store in use (-n on a mounted store) changes under the check: a
	 * table being written is not yet in the manifest, one compacted away
	 * vanishes.  Such reports are looked at again a little later; only
	 * what persists is reported. */
	for (int attempt = 0;; attempt++) {
		rc = lsm_check(ctx->store, &ctx->lo, collect, &rs);
		if (rc < 0 || rs.oom || rs.n == 0 || !ctx->in_use || attempt == 4 ||
		    fsck_cancelled(ctx))
			break;
		reports_clear(&rs);
		usleep(200000);
	}
	if (rc < 0) {
		fsck_read_error(ctx, rc, "checking the engine");
		goto out;
	}
	if (rs.oom) {
		rc = -ENOMEM;
		fsck_read_error(ctx, rc, "checking the engine");
		goto out;
	}
	for (size_t i = 0; i < rs.n && !fsck_cancelled(ctx); i++) {
		struct report *r = &rs.r[i];
		uint32_t code = code_of(r->problem);

		/* One table, one repair: later reports on a table already
		 * handled are only listed. */
		bool seen = false;
		if (is_table_damage(r->problem))
			for (size_t j = 0; j < i && !seen; j++)
				seen = is_table_damage(rs.r[j].problem) &&
				       rs.r[j].number == r->number;
		if (seen) {
			fsck_verbose(ctx, "  also in table %s: %s\n", r->file, r->detail);
			continue;
		}

		struct problem_ctx pc;
		memset(&pc, 0, sizeof pc);
		pc.name = r->file;
		pc.name_len = strlen(r->file);
		pc.num = r->offset;
		pc.num2 = r->level < 0 ? 0 : (uint64_t)r->level;
		pc.str = r->detail;
		bool fix = fix_problem(ctx, code, &pc);
		int frc = 0;
		if (fix) {
			if (is_table_damage(r->problem))
				frc = repair_table(ctx, r);
			else if (r->problem == LSM_CHECK_EXTRA_FILE) {
				frc = lsm_repair_remove_extra(ctx->store, &ctx->lo, r->file);
				if (frc < 0)
					fsck_read_error(ctx, frc, "removing an extra file");
			} else if (r->problem == LSM_CHECK_WAL_CORRUPT) {
				/* the damaged record and what follows it are lost;
				 * the logical passes repair what they referred to */
				frc = lsm_repair_truncate_log(ctx->store, &ctx->lo, r->file,
							      r->offset);
				if (frc < 0)
					fsck_read_error(ctx, frc, "truncating a damaged log");
			}
			fsck_fix_done(ctx, frc);
		}
		if ((!fix || frc < 0) && (problem_flags(code) & PR_BLOCKING))
			ctx->engine_blocked = true;
	}
	rc = 0;
out:
	reports_clear(&rs);
	return rc;
}
