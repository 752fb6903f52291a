/*
 * fsck.h — the shared context of fsck.lsmfs, the offline checker of an
 * lsmfs store, and the interface between its passes.
 *
 * Model (e2fsck's): one context (struct fsck_ctx) is handed through an
 * array of passes; each pass file says at its top what it checks, what it
 * needs from earlier passes and what it leaves for later ones.  Every
 * inconsistency is a coded row of the problem table (problem.h), and every
 * decision to change the store goes through fix_problem(), which applies
 * the -n / -p / -y / interactive policy in one place.
 *
 *   pass 1  engine        lsm_check, table drops and extra-file removal
 *   pass 2  inodes        inode records, data blocks, symlinks, xattrs,
 *                         orphan records; builds the inode table
 *   pass 3  directories   entries: parent, child, type; one name per dir
 *   pass 4  connectivity  every directory reaches the root; unnamed
 *                         inodes go to /lost+found
 *   pass 5  link counts   nlink and the parent pointer of directories
 *   pass 6  orphans       release inodes unlinked while open at a crash
 *
 * Invariants:
 *   C1  ctx->db is open for writing only when the mode may change the store
 *       (-p, -y, interactive); with -n it is opened read-only and every
 *       writer below refuses (fsck_write returns LSM_E_INVALID), so -n can
 *       never change a byte.
 *   C2  ctx->inodes is sorted by ino with no duplicates (pass 2 fills it in
 *       key order; inodes fsck creates get numbers above every existing
 *       one, the root excepted, which is inserted in place).
 *   C3  The in-memory table describes the store as it will be once the
 *       fixes answered "yes" are written; a fix that fails to write is
 *       counted as uncorrected (and as an operational error).
 *
 * Threads: fsck is single-threaded; the SIGINT handler only sets a flag
 * (ctx->cancelled) that the scanning loops poll.
 */
#ifndef LSMFS_FSCK_H
#define LSMFS_FSCK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "schema.h"

/* Exit codes, OR'ed together as fsck(8) documents them. */
enum {
	FSCK_OK = 0,
	FSCK_NONDESTRUCT = 1,	/* errors corrected */
	FSCK_UNCORRECTED = 4,	/* errors left uncorrected */
	FSCK_ERROR = 8,		/* operational error */
	FSCK_USAGE = 16,	/* usage or syntax error */
	FSCK_CANCELED = 32,	/* cancelled by the user (SIGINT) */
};

/* How fix_problem answers. */
enum fsck_mode {
	FSCK_MODE_NO,		/* -n: report, change nothing */
	FSCK_MODE_PREEN,	/* -p/-a: fix the safe problems, halt on others */
	FSCK_MODE_YES,		/* -y: fix everything */
	FSCK_MODE_ASK,		/* interactive, on a terminal */
};

/* Per-inode state bits (fsck_inode.st). */
enum {
	FI_ORPHAN = 1 << 0,	/* an O record names it */
	FI_GONE = 1 << 1,	/* deleted by a fix; ignore it from now on */
	FI_HAS_TARGET = 1 << 2,	/* symlink: an L record exists */
	FI_REACHED = 1 << 3,	/* pass 4: connected to the root */
	FI_WALK = 1 << 4,	/* pass 4: on the path being walked */
	FI_HAS_XATTR = 1 << 5,	/* X records exist */
	FI_BSEEN = 1 << 6,	/* pass 2: its data blocks were counted */
};

/* What fsck keeps of one inode (about 80 bytes: a million inodes fit). */
struct fsck_inode {
	uint64_t ino;
	uint32_t mode;		/* as stored: type and permission bits */
	uint32_t nlink;		/* as stored */
	uint32_t flags;		/* FS_IF_* as stored */
	uint32_t links;		/* accepted entries naming it (pass 3, 4) */
	uint32_t subdirs;	/* directories: accepted subdirectory entries */
	uint32_t st;		/* FI_* */
	uint64_t size;
	uint64_t nblocks;
	uint64_t maxblk;
	uint64_t parent;	/* directories: the stored parent pointer */
	uint64_t dparent;	/* directories: holder of its accepted entry */
};

struct fsck_ctx {
	/* the command line */
	const char *store;
	enum fsck_mode mode;
	bool verbose;
	bool force;
	bool progress;
	int progress_fd;

	/* the store */
	lsm_options lo;
	lsm_db *db;		/* C1 */
	bool rw;
	bool in_use;		/* -n on a store another process holds */
	fs_super sb;
	bool sb_valid;
	bool engine_blocked;	/* pass 1 left damage the logical passes
				 * cannot read past */

	/* the model (C2, C3) */
	struct fsck_inode *inodes;
	size_t ninodes, cap;
	uint64_t max_ino;	/* largest inode number seen */
	uint64_t *stale_orphans;	/* O records of missing inodes (pass 2 -> 6) */
	size_t nstale;
	uint64_t lost_found;	/* ino of /lost+found, 0 if none (pass 4) */
	uint64_t data_blocks;	/* B records of live inodes */
	/* Inodes fsck itself created (+) or deleted (-), by kind: inodes,
	 * files, dirs, symlinks, specials.  A clean superblock's counters
	 * follow fsck's own changes silently; only a difference beyond them
	 * is a problem. */
	int64_t own[5];

	/* outcome */
	unsigned problems;	/* problems found */
	unsigned fixed;		/* answered yes and written */
	unsigned unfixed;	/* answered no, or the fix failed */
	int exit_extra;		/* FSCK_ERROR / FSCK_CANCELED bits */
	volatile sig_atomic_t cancelled;	/* SIGINT, or EOF at a question */
	bool halted;		/* -p met a problem it may not fix */

	/* progress (-C) */
	int cur_pass;
	int last_pct;
	uint64_t est_keys;	/* entries in the engine, for the bars */
};

/* A pass: returns 0, or a negative code when it could not run (the caller
 * reports an operational error and stops). */
typedef int (*fsck_pass_fn)(struct fsck_ctx *ctx);

int fsck_pass_engine(struct fsck_ctx *ctx);
int fsck_pass_inodes(struct fsck_ctx *ctx);
int fsck_pass_dirs(struct fsck_ctx *ctx);
int fsck_pass_connect(struct fsck_ctx *ctx);
int fsck_pass_refs(struct fsck_ctx *ctx);
int fsck_pass_orphans(struct fsck_ctx *ctx);

/* ---- the model (fsck.c) ------------------------------------------------ */

/* The inode in the table, or NULL (FI_GONE inodes are returned too). */
struct fsck_inode *fsck_inode_find(struct fsck_ctx *ctx, uint64_t ino);
/* Like fsck_inode_find, but NULL for inodes a fix deleted. */
struct fsck_inode *fsck_inode_live(struct fsck_ctx *ctx, uint64_t ino);
/* Make room for extra more inodes, so that adding them moves nothing:
 * pointers into the table stay valid across fsck_inode_add.  0 or
 * -ENOMEM. */
int fsck_inode_reserve(struct fsck_ctx *ctx, size_t extra);
/* Add an inode to the table (C2 kept); returns it or NULL (no memory).
 * Adding an inode below others shifts them: only fsck_inode_reserve'd
 * additions of numbers above every other keep pointers valid. */
struct fsck_inode *fsck_inode_add(struct fsck_ctx *ctx, uint64_t ino);

/* ---- writing (fsck.c); every writer refuses in -n mode (C1) ------------ */

/* Apply b; 0 or a negative code (with a message already printed). */
int fsck_write(struct fsck_ctx *ctx, lsm_batch *b);
/* Delete one key. */
int fsck_delete_key(struct fsck_ctx *ctx, const void *key, size_t klen);
/* Delete [lo, hi) with one range tombstone. */
int fsck_delete_range(struct fsck_ctx *ctx, const void *lo, size_t lol,
		      const void *hi, size_t hil);
/* Put one key. */
int fsck_put(struct fsck_ctx *ctx, const void *key, size_t klen,
	     const void *val, size_t vlen);

/* Fields of fsck_inode_update. */
enum {
	FU_NLINK = 1 << 0,
	FU_PARENT = 1 << 1,
	FU_NBLOCKS = 1 << 2,
	FU_MAXBLK = 1 << 3,
	FU_SIZE = 1 << 4,
	FU_XATTR_FLAG = 1 << 5,
};
/* Read ino's record, set the named fields from fi, add it to b (or write
 * it at once when b is NULL).  Keeps the inline data. */
int fsck_inode_update(struct fsck_ctx *ctx, lsm_batch *b,
		      const struct fsck_inode *fi, unsigned fields);
/* Add deletes of every record ino may have (I, B range, X range, L, O). */
int fsck_batch_destroy(lsm_batch *b, uint64_t ino);
/* Count an inode of this mode that a fix created (delta 1) or deleted
 * (delta -1) in ctx->own. */
void fsck_own_count(struct fsck_ctx *ctx, uint32_t mode, int delta);
/* Add the superblock as ctx->sb to b. */
int fsck_batch_super(struct fsck_ctx *ctx, lsm_batch *b);

/* A fix was answered yes; rc is the result of making it.  On failure the
 * problem counts as uncorrected and the run as an operational error;
 * -ECANCELED: the fix could not be made because a later question (one it
 * depends on) was answered no — uncorrected, but no error. */
void fsck_fix_done(struct fsck_ctx *ctx, int rc);

/* ---- reading (fsck.c) ------------------------------------------------- */

/* An iterator over [lo, hi) (hi NULL: to the end), positioned at lo. */
int fsck_iter(struct fsck_ctx *ctx, const void *lo, size_t lol,
	      const void *hi, size_t hil, lsm_iter **out);
/* Report an engine read failure during a pass (operational error). */
int fsck_read_error(struct fsck_ctx *ctx, int rc, const char *what);

/* ---- output (fsck.c) --------------------------------------------------- */

/* Print a line unless preening (where only problems are shown). */
void fsck_note(struct fsck_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Stop the run now (close the store, print the summary) with these exit
 * bits added to what the run found. */
void fsck_exit(struct fsck_ctx *ctx, int bits) __attribute__((noreturn));
/* Print in verbose mode only. */
void fsck_verbose(struct fsck_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Progress of the current pass: done out of total units (-C). */
void fsck_progress(struct fsck_ctx *ctx, uint64_t done, uint64_t total);
/* Take the progress bar off the screen (before a message is printed). */
void fsck_progress_clear(struct fsck_ctx *ctx);
/* Poll for SIGINT; true when the run must stop. */
bool fsck_cancelled(struct fsck_ctx *ctx);

/* Printable form of a name (escapes control bytes, quotes nothing). */
const char *fsck_quote(const char *s, size_t len, char *buf, size_t bufsz);

/* A type word for a mode ("regular file", "directory", ...). */
const char *fsck_type_name(uint32_t mode);

#endif /* LSMFS_FSCK_H */
