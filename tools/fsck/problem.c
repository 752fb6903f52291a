/*
 * problem.c — the problem table of fsck.lsmfs and fix_problem().
 *
 * Every inconsistency fsck can find is one row here: code, message,
 * prompt, flags (problem.h explains them).  fix_problem() is the single
 * place where the run's mode turns a problem into "fix it" or "leave it":
 *
 *   -n        print the message and "<Prompt>? no"; never fix
 *   -y        print the message and "<Prompt>? yes"; fix
 *   -p / -a   PR_PREEN_OK rows: print "STORE: message  FIXED." (or
 *             nothing for PR_PREEN_NOMSG) and fix; any other row halts the
 *             run: "UNEXPECTED INCONSISTENCY; RUN fsck.lsmfs MANUALLY",
 *             exit 4
 *   ask       print the message and ask on the terminal: y, n, or a
 *             ("yes to all": the rest of the run behaves as -y)
 *
 * Invariants: every code the passes use has a row (an unknown code is a
 * bug in fsck: reported as an operational error); the counters in the
 * context are updated here and only here (fsck_fix_done moves a failed fix
 * from "fixed" to "uncorrected").
 * Threads: single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"
#include "problem.h"

enum prompt {
	PROMPT_NONE,
	PROMPT_FIX,
	PROMPT_CLEAR,
	PROMPT_DELETE,
	PROMPT_REMOVE,
	PROMPT_SALVAGE,
	PROMPT_DROP,
	PROMPT_CREATE,
	PROMPT_CONNECT,
	PROMPT_RELEASE,
	PROMPT_TRUNCATE,
};

static const char *const prompt_text[] = {
	[PROMPT_NONE] = "",
	[PROMPT_FIX] = "Fix",
	[PROMPT_CLEAR] = "Clear",
	[PROMPT_DELETE] = "Delete",
	[PROMPT_REMOVE] = "Remove",
	[PROMPT_SALVAGE] = "Salvage",
	[PROMPT_DROP] = "Drop",
	[PROMPT_CREATE] = "Create",
	[PROMPT_CONNECT] = "Connect to /lost+found",
	[PROMPT_RELEASE] = "Release",
	[PROMPT_TRUNCATE] = "Truncate",
};

/* What -p prints after a fix it made on its own. */
static const char *const preen_text[] = {
	[PROMPT_NONE] = "",
	[PROMPT_FIX] = "FIXED",
	[PROMPT_CLEAR] = "CLEARED",
	[PROMPT_DELETE] = "DELETED",
	[PROMPT_REMOVE] = "REMOVED",
	[PROMPT_SALVAGE] = "SALVAGED",
	[PROMPT_DROP] = "DROPPED",
	[PROMPT_CREATE] = "CREATED",
	[PROMPT_CONNECT] = "RECONNECTED",
	[PROMPT_RELEASE] = "RELEASED",
	[PROMPT_TRUNCATE] = "TRUNCATED",
};

struct problem {
	uint32_t code;
	const char *msg;
	enum prompt prompt;
	unsigned flags;
};

static const struct problem problem_table[] = {
	/* pass 0: superblock */
	{ PR_0_NO_SUPER, "The store holds no lsmfs superblock (not made by mkfs.lsmfs?)",
	  PROMPT_NONE, PR_BLOCKING },
	{ PR_0_SUPER_CORRUPT, "The superblock is damaged: %s", PROMPT_NONE, PR_BLOCKING },
	{ PR_0_SUPER_NEWER, "The store was made by a newer lsmfs: %s", PROMPT_NONE, PR_BLOCKING },
	{ PR_0_NEXT_INO, "The superblock's next inode number %n is not above inode %i",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_0_COUNTS, "The superblock's inode counters are wrong (%s)", PROMPT_FIX,
	  PR_PREEN_OK | PR_PREEN_NOMSG },

	/* pass 1: engine */
	{ PR_1_CURRENT, "CURRENT is missing or unreadable: %s", PROMPT_NONE, PR_BLOCKING },
	{ PR_1_MANIFEST, "The manifest is damaged: %s", PROMPT_NONE, PR_BLOCKING },
	{ PR_1_TABLE_MISSING, "Table %N (level %m) is missing: %s", PROMPT_DROP, PR_BLOCKING },
	{ PR_1_TABLE_SIZE, "Table %N (level %m) has the wrong size: %s", PROMPT_SALVAGE,
	  PR_BLOCKING },
	{ PR_1_TABLE_CORRUPT, "Table %N (level %m) is damaged at byte %n: %s", PROMPT_SALVAGE,
	  PR_BLOCKING },
	{ PR_1_KEY_ORDER, "Table %N (level %m) holds keys out of order at byte %n: %s",
	  PROMPT_SALVAGE, PR_BLOCKING },
	{ PR_1_LEVEL_OVERLAP, "%s", PROMPT_NONE, PR_BLOCKING },
	{ PR_1_SEQ, "%s", PROMPT_NONE, 0 },
	{ PR_1_WAL_CORRUPT, "Write-ahead log %N is damaged at byte %n: %s", PROMPT_TRUNCATE,
	  PR_BLOCKING },
	{ PR_1_EXTRA_FILE, "File %N is not part of the store's live state", PROMPT_REMOVE,
	  PR_PREEN_OK },

	/* pass 2: inodes */
	{ PR_2_INODE_CORRUPT, "Inode %i is damaged: %s", PROMPT_CLEAR, 0 },
	{ PR_2_INODE_ZERO, "An inode record has the reserved number 0", PROMPT_CLEAR, 0 },
	{ PR_2_UNKNOWN_KEY, "Key %N is of no kind lsmfs writes", PROMPT_DELETE, 0 },
	{ PR_2_BLOCKS_NO_INODE, "Inode %i does not exist but has %n data block(s)",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_2_BLOCKS_NOT_FILE,
	  "Inode %i (%s) keeps no data in blocks but has %n data block(s)", PROMPT_CLEAR,
	  PR_PREEN_OK },
	{ PR_2_BLOCKS_PAST_END,
	  "Inode %i (size %m) has %n data block(s) past its end (leaked)", PROMPT_CLEAR,
	  PR_PREEN_OK },
	{ PR_2_MAXBLK, "Inode %i has data in block %n, beyond its recorded block range (%m)",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_2_NBLOCKS, "Inode %i counts %m data block(s), %n exist", PROMPT_FIX,
	  PR_PREEN_OK },
	{ PR_2_BLOCK_TOO_LONG, "Block %n of inode %i holds %m bytes, more than the block size",
	  PROMPT_TRUNCATE, PR_PREEN_OK },
	{ PR_2_BLOCK_TAIL, "Block %n of inode %i holds non-zero bytes past the end of the file",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_2_SYMLINK_NO_TARGET, "Symbolic link %i has no target", PROMPT_CLEAR, 0 },
	{ PR_2_SYMLINK_SIZE, "Symbolic link %i has size %m, its target is %n bytes",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_2_SYMLINK_BAD, "Symbolic link %i has an invalid target (%s)", PROMPT_CLEAR, 0 },
	{ PR_2_TARGET_NO_SYMLINK, "Inode %i (%s) is not a symbolic link but has a target",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_2_XATTR_NO_INODE, "Inode %i does not exist but has %n extended attribute(s)",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_2_XATTR_FLAG, "Inode %i has extended attributes but is not marked as having any",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_2_INODE_RANGE, "Key %N in the inode range is malformed", PROMPT_DELETE, 0 },

	/* pass 3: directories */
	{ PR_3_ENTRY_CORRUPT, "Entry '%N' in directory %i is damaged: %s", PROMPT_CLEAR, 0 },
	{ PR_3_NO_PARENT, "Entry '%N' is in directory %i, which does not exist", PROMPT_CLEAR,
	  PR_PREEN_OK },
	{ PR_3_PARENT_NOT_DIR, "Entry '%N' is in inode %i, which is a %s, not a directory",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_3_BAD_NAME, "Entry '%N' in directory %i has an invalid name", PROMPT_CLEAR, 0 },
	{ PR_3_MISSING_INODE, "Entry '%N' in directory %i names inode %j, which does not exist",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_3_NAMES_ROOT, "Entry '%N' in directory %i names the root directory", PROMPT_CLEAR,
	  0 },
	{ PR_3_BAD_TYPE, "Entry '%N' in directory %i has the wrong file type for inode %j (%s)",
	  PROMPT_FIX, PR_PREEN_OK },
	{ PR_3_DIR_TWICE,
	  "Entry '%N' in directory %i is a second name of directory %j (first in %m)",
	  PROMPT_CLEAR, 0 },
	{ PR_3_BAD_KEY, "Entry key %N is malformed", PROMPT_DELETE, 0 },

	/* pass 4: connectivity */
	{ PR_4_NO_ROOT, "The root directory (inode 1) does not exist", PROMPT_CREATE, 0 },
	{ PR_4_ROOT_NOT_DIR, "The root inode is a %s, not a directory", PROMPT_CREATE, 0 },
	{ PR_4_DISCONNECTED_DIR, "Directory %i is not connected to the root", PROMPT_CONNECT,
	  0 },
	{ PR_4_DIR_LOOP,
	  "Directory %i is in a loop of directories not connected to the root", PROMPT_CONNECT,
	  0 },
	{ PR_4_UNATTACHED, "Inode %i (%s, %n bytes) is not named by any directory",
	  PROMPT_CONNECT, 0 },
	{ PR_4_NO_LOST_FOUND, "/lost+found does not exist", PROMPT_CREATE, PR_PREEN_OK },
	{ PR_4_LOST_FOUND_NOT_DIR,
	  "/lost+found is not a directory; cannot reconnect inode %i", PROMPT_NONE, 0 },

	/* pass 5: link counts */
	{ PR_5_NLINK, "Inode %i (%s) has link count %m, should be %n", PROMPT_FIX,
	  PR_PREEN_OK },
	{ PR_5_PARENT, "Directory %i records parent %m, but is named in %n", PROMPT_FIX,
	  PR_PREEN_OK },

	/* pass 6: orphans */
	{ PR_6_ORPHAN, "Inode %i (%s, %n bytes) was deleted while open (orphan)",
	  PROMPT_RELEASE, PR_PREEN_OK },
	{ PR_6_ORPHAN_NO_INODE, "Orphan record for inode %i, which does not exist",
	  PROMPT_CLEAR, PR_PREEN_OK },
	{ PR_6_ORPHAN_LINKED, "Inode %i has an orphan record but %n name(s)", PROMPT_CLEAR,
	  PR_PREEN_OK },
};

#define NPROBLEMS (sizeof(problem_table) / sizeof(problem_table[0]))

static const struct problem *find_problem(uint32_t code)
{
	for (size_t i = 0; i < NPROBLEMS; i++)
		if (problem_table[i].code == code)
			return &problem_table[i];
	return NULL;
}

unsigned problem_flags(uint32_t code)
{
	const struct problem *p = find_problem(code);
	return p ? p->flags : 0;
}

/* Expand msg with pctx into buf. */
static void expand(char *buf, size_t size, const char *msg,
		   const struct problem_ctx *pctx)
{
	size_t n = 0;
	char q[4 * FS_NAME_MAX + 64];
	buf[0] = 0;
	for (const char *p = msg; *p && n + 1 < size; p++) {
		if (*p != '%' || !p[1]) {
			buf[n++] = *p;
			buf[n] = 0;
			continue;
		}
		const char *s = NULL;
		char num[32];
		switch (*++p) {
		case 'i':
			snprintf(num, sizeof num, "%" PRIu64, pctx->ino);
			s = num;
			break;
		case 'j':
			snprintf(num, sizeof num, "%" PRIu64, pctx->ino2);
			s = num;
			break;
		case 'n':
			snprintf(num, sizeof num, "%" PRIu64, pctx->num);
			s = num;
			break;
		case 'm':
			snprintf(num, sizeof num, "%" PRIu64, pctx->num2);
			s = num;
			break;
		case 'N':
			s = pctx->name ? fsck_quote(pctx->name, pctx->name_len, q, sizeof q) : "";
			break;
		case 's':
			s = pctx->str ? pctx->str : "";
			break;
		case '%':
			s = "%";
			break;
		default:
			num[0] = '%';
			num[1] = *p;
			num[2] = 0;
			s = num;
			break;
		}
		int w = snprintf(buf + n, size - n, "%s", s);
		if (w < 0)
			break;
		n += (size_t)w;
		if (n >= size)
			n = size - 1;
	}
}

/* Ask on the terminal; 'y' (default), 'n', or 'a' for yes to all. */
static int ask(struct fsck_ctx *ctx, const char *prompt)
{
	char line[64];
	for (;;) {
		printf("%s<y>? ", prompt);
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin)) {
			/* EOF or an interrupted read: the user went away. */
			ctx->cancelled = 1;
			printf("\n");
			return 'c';
		}
		char c = line[0];
		if (c == '\n' || c == 'y' || c == 'Y')
			return 'y';
		if (c == 'n' || c == 'N')
			return 'n';
		if (c == 'a' || c == 'A')
			return 'a';
		printf("Please answer y (yes), n (no) or a (yes to all).\n");
	}
}

bool fix_problem(struct fsck_ctx *ctx, uint32_t code, const struct problem_ctx *pctx)
{
	static const struct problem_ctx empty;
	const struct problem *p = find_problem(code);
	char msg[4096];

	if (!pctx)
		pctx = &empty;
	if (!p) {
		fprintf(stderr, "fsck.lsmfs: internal error: unknown problem code 0x%06x\n", code);
		ctx->exit_extra |= FSCK_ERROR;
		ctx->unfixed++;
		return false;
	}
	ctx->problems++;
	expand(msg, sizeof msg, p->msg, pctx);
	fsck_progress_clear(ctx);

	if (fsck_cancelled(ctx)) {
		ctx->unfixed++;
		return false;
	}
	if (p->prompt == PROMPT_NONE) {
		if (ctx->mode == FSCK_MODE_PREEN) {
			printf("%s: %s.\n", ctx->store, msg);
			goto preen_halt;
		}
		printf("[0x%06x] %s.\n\n", code, msg);
		ctx->unfixed++;
		return false;
	}
	const char *prompt = prompt_text[p->prompt];
	switch (ctx->mode) {
	case FSCK_MODE_NO:
		printf("[0x%06x] %s.  %s? no\n\n", code, msg, prompt);
		ctx->unfixed++;
		return false;
	case FSCK_MODE_YES:
		printf("[0x%06x] %s.  %s? yes\n\n", code, msg, prompt);
		ctx->fixed++;
		return true;
	case FSCK_MODE_PREEN:
		if (!(p->flags & PR_PREEN_OK)) {
			printf("%s: %s.\n", ctx->store, msg);
			goto preen_halt;
		}
		if (!(p->flags & PR_PREEN_NOMSG))
			printf("%s: %s.  %s.\n", ctx->store, msg, preen_text[p->prompt]);
		ctx->fixed++;
		return true;
	case FSCK_MODE_ASK:
		printf("[0x%06x] %s.\n", code, msg);
		switch (ask(ctx, prompt)) {
		case 'a':
			ctx->mode = FSCK_MODE_YES;
			/* fall through */
		case 'y':
			printf("\n");
			ctx->fixed++;
			return true;
		case 'n':
			printf("\n");
			ctx->unfixed++;
			return false;
		default:
			ctx->unfixed++;
			return false;
		}
	}
	ctx->unfixed++;
	return false;

preen_halt:
	ctx->unfixed++;
	printf("\n%s: UNEXPECTED INCONSISTENCY; RUN fsck.lsmfs MANUALLY.\n"
	       "\t(i.e., without -a or -p options)\n", ctx->store);
	fflush(stdout);
	/* Stop here: nothing after this problem may rely on it being fixed.
	 * The caller's loop sees the flag at its next poll. */
	ctx->halted = true;
	return false;
}

void problem_list(void)
{
	for (size_t i = 0; i < NPROBLEMS; i++) {
		const struct problem *p = &problem_table[i];
		printf("0x%06x  %-8s %-6s %s\n", p->code,
		       p->prompt == PROMPT_NONE ? "-" : prompt_text[p->prompt],
		       (p->flags & PR_PREEN_OK) ? "preen" : "-", p->msg);
	}
}
