/*
 * problem.h — the problem codes of fsck.lsmfs and fix_problem(), the one
 * function through which every repair is decided.
 *
 * A code is 0xPPNNNN: the pass in the high byte (00 for the superblock,
 * checked around the passes), a number within the pass below it.  Codes
 * are stable: scripts and the golden tests match on them, so a code is
 * never reused for another meaning (retire it instead).
 *
 * Each row of the table (problem.c) holds the message (with the
 * %-expansions below), the prompt ("Clear", "Fix", ...) and flags:
 *   PR_PREEN_OK     -p may fix it without asking (the fix loses nothing
 *                   a user could still reach, as e2fsck's preen rules)
 *   PR_PREEN_NOMSG  and -p fixes it silently (bookkeeping only)
 *   PR_BLOCKING     left unfixed, the logical passes cannot trust the
 *                   engine's data and are skipped
 * A row with PROMPT_NONE cannot be fixed by fsck: it is reported and
 * counted as uncorrected.
 *
 * Message expansions (from struct problem_ctx):
 *   %i ino   %j ino2   %n num   %m num2   %N name (escaped)   %s str
 *   %% a percent sign
 *
 * Threads: single-threaded, like the rest of fsck.
 */
#ifndef LSMFS_FSCK_PROBLEM_H
#define LSMFS_FSCK_PROBLEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fsck_ctx;

struct problem_ctx {
	uint64_t ino, ino2;
	uint64_t num, num2;
	const char *name;	/* not NUL-terminated: name_len bytes */
	size_t name_len;
	const char *str;	/* NUL-terminated */
};

/* ---- pass 0: the superblock ----------------------------------------- */
#define PR_0_NO_SUPER		0x000001 /* no superblock record */
#define PR_0_SUPER_CORRUPT	0x000002 /* superblock does not decode */
#define PR_0_SUPER_NEWER	0x000003 /* written by a newer lsmfs */
#define PR_0_NEXT_INO		0x000004 /* next_ino not above every inode */
#define PR_0_COUNTS		0x000005 /* clean superblock, wrong counters */

/* ---- pass 1: the engine (one per lsm_check_problem) ------------------ */
#define PR_1_CURRENT		0x010001
#define PR_1_MANIFEST		0x010002
#define PR_1_TABLE_MISSING	0x010003
#define PR_1_TABLE_SIZE		0x010004
#define PR_1_TABLE_CORRUPT	0x010005
#define PR_1_KEY_ORDER		0x010006
#define PR_1_LEVEL_OVERLAP	0x010007
#define PR_1_SEQ		0x010008
#define PR_1_WAL_CORRUPT	0x010009
#define PR_1_EXTRA_FILE		0x01000A

/* ---- pass 2: inodes, blocks, symlinks, xattrs ------------------------ */
#define PR_2_INODE_CORRUPT	0x020001 /* inode record does not decode */
#define PR_2_INODE_ZERO		0x020002 /* inode number 0 */
#define PR_2_UNKNOWN_KEY	0x020003 /* key of no known kind */
#define PR_2_BLOCKS_NO_INODE	0x020004 /* data of a missing inode */
#define PR_2_BLOCKS_NOT_FILE	0x020005 /* data of an inline / non-file */
#define PR_2_BLOCKS_PAST_END	0x020006 /* data past the end: a leak */
#define PR_2_MAXBLK		0x020007 /* data beyond the recorded range */
#define PR_2_NBLOCKS		0x020008 /* block count wrong */
#define PR_2_BLOCK_TOO_LONG	0x020009 /* block value over the block size */
#define PR_2_BLOCK_TAIL		0x02000A /* non-zero bytes past end of file */
#define PR_2_SYMLINK_NO_TARGET	0x02000B
#define PR_2_SYMLINK_SIZE	0x02000C
#define PR_2_SYMLINK_BAD	0x02000D
#define PR_2_TARGET_NO_SYMLINK	0x02000E /* L record of a missing/non-symlink */
#define PR_2_XATTR_NO_INODE	0x02000F
#define PR_2_XATTR_FLAG		0x020010
#define PR_2_INODE_RANGE	0x020011 /* inode key of the wrong length */

/* ---- pass 3: directory entries --------------------------------------- */
#define PR_3_ENTRY_CORRUPT	0x030001
#define PR_3_NO_PARENT		0x030002 /* entry in a missing directory */
#define PR_3_PARENT_NOT_DIR	0x030003
#define PR_3_BAD_NAME		0x030004
#define PR_3_MISSING_INODE	0x030005
#define PR_3_NAMES_ROOT		0x030006
#define PR_3_BAD_TYPE		0x030007
#define PR_3_DIR_TWICE		0x030008
#define PR_3_BAD_KEY		0x030009

/* ---- pass 4: connectivity -------------------------------------------- */
#define PR_4_NO_ROOT		0x040001
#define PR_4_ROOT_NOT_DIR	0x040002
#define PR_4_DISCONNECTED_DIR	0x040003
#define PR_4_DIR_LOOP		0x040004
#define PR_4_UNATTACHED		0x040005
#define PR_4_NO_LOST_FOUND	0x040006
#define PR_4_LOST_FOUND_NOT_DIR	0x040007

/* ---- pass 5: reference counts ---------------------------------------- */
#define PR_5_NLINK		0x050001
#define PR_5_PARENT		0x050002

/* ---- pass 6: orphans --------------------------------------------------- */
#define PR_6_ORPHAN		0x060001
#define PR_6_ORPHAN_NO_INODE	0x060002
#define PR_6_ORPHAN_LINKED	0x060003

/* Row flags. */
enum {
	PR_PREEN_OK = 1 << 0,
	PR_PREEN_NOMSG = 1 << 1,
	PR_BLOCKING = 1 << 2,
};

/*
 * Report problem code with its context and decide whether to fix it:
 * prints the message and the answer, counts the problem, and returns true
 * when the caller must make the fix (it then reports the result through
 * fsck_fix_done).  In -p mode a problem that is not PR_PREEN_OK stops the
 * run here (exit 4, "run fsck manually"), as e2fsck's preen does.
 */
bool fix_problem(struct fsck_ctx *ctx, uint32_t code,
		 const struct problem_ctx *pctx);

/* The flags of code's row (0 for an unknown code). */
unsigned problem_flags(uint32_t code);

/* Print the table (fsck.lsmfs --list-problems): code, flags, message. */
void problem_list(void);

#endif /* LSMFS_FSCK_PROBLEM_H */
