/*
 * fsck.c — fsck.lsmfs: the command line, the context shared by the passes
 * (fsck.h), the superblock checks that frame the passes, and the summary.
 *
 *   fsck.lsmfs [-n | -p | -a | -y] [-f] [-v] [-C [fd]] STORE
 *
 * Order of a run:
 *   1. Refuse a store in use (mounted) unless -n: the engine's lock says
 *      so.  With -n the store is only read (lsm_options.read_only), so a
 *      mounted store can be checked, with a warning that what is in the
 *      daemon's memory is not seen.
 *   2. Pass 1 checks the engine with lsm_check on the closed store and
 *      makes its repairs (they open the store themselves).
 *   3. Unless pass 1 left damage behind that makes the data unreadable,
 *      the store is opened (for writing unless -n), the superblock is
 *      read, and passes 2 to 6 run over one shared model of the inodes.
 *   4. The superblock's counters are checked against the model, the store
 *      is synced and closed, and the exit code is the OR of what happened
 *      (0 clean, 1 corrected, 4 left uncorrected, 8 operational error,
 *      16 usage, 32 cancelled).
 *
 * Invariants: C1..C3 of fsck.h.  Every write goes through fsck_write, which
 * refuses when the store is open read-only.
 * Threads: one; the signal handler only sets ctx->cancelled.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsck.h"
#include "problem.h"

#define FSCK_VERSION "0.1.0"

static struct fsck_ctx *g_ctx;	/* for the signal handler only */

/* ---- output -------------------------------------------------------------- */

void fsck_note(struct fsck_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	if (ctx->mode == FSCK_MODE_PREEN)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void fsck_verbose(struct fsck_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	if (!ctx->verbose)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

const char *fsck_quote(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 5 < bufsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '\\') {
			n += (size_t)snprintf(buf + n, bufsz - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = 0;
	return buf;
}

const char *fsck_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symbolic link";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "inode of unknown type";
	}
}

void fsck_progress(struct fsck_ctx *ctx, uint64_t done, uint64_t total)
{
	if (!ctx->progress)
		return;
	if (total < done)
		total = done;
	int pct = total ? (int)(done * 100 / total) : 100;
	if (pct == ctx->last_pct)
		return;
	ctx->last_pct = pct;
	char bar[41];
	int fill = pct * 40 / 100;
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '=' : ' ';
	bar[40] = 0;
	fflush(stdout);	/* the bar shares the line with what printf wrote */
	dprintf(ctx->progress_fd, "\rPass %d: |%s| %3d%%", ctx->cur_pass, bar, pct);
}

void fsck_progress_clear(struct fsck_ctx *ctx)
{
	if (ctx->progress && ctx->last_pct >= 0) {
		fflush(stdout);
		dprintf(ctx->progress_fd, "\r%*s\r", 60, "");
	}
	ctx->last_pct = -1;
}

bool fsck_cancelled(struct fsck_ctx *ctx)
{
	return ctx->cancelled || ctx->halted;
}

static void on_signal(int sig)
{
	(void)sig;
	if (g_ctx)
		g_ctx->cancelled = 1;
}

/* ---- the model ------------------------------------------------------------- */

static size_t inode_pos(const struct fsck_ctx *ctx, uint64_t ino)
{
	size_t lo = 0, hi = ctx->ninodes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->inodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct fsck_inode *fsck_inode_find(struct fsck_ctx *ctx, uint64_t ino)
{
	size_t i = inode_pos(ctx, ino);
	return i < ctx->ninodes && ctx->inodes[i].ino == ino ? &ctx->inodes[i] : NULL;
}

struct fsck_inode *fsck_inode_live(struct fsck_ctx *ctx, uint64_t ino)
{
	struct fsck_inode *fi = fsck_inode_find(ctx, ino);
	return fi && !(fi->st & FI_GONE) ? fi : NULL;
}

int fsck_inode_reserve(struct fsck_ctx *ctx, size_t extra)
{
	if (ctx->ninodes + extra <= ctx->cap)
		return 0;
	size_t cap = ctx->ninodes + extra;
	struct fsck_inode *n = realloc(ctx->inodes, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ctx->inodes = n;
	ctx->cap = cap;
	return 0;
}

struct fsck_inode *fsck_inode_add(struct fsck_ctx *ctx, uint64_t ino)
{
	size_t i = inode_pos(ctx, ino);
	if (i < ctx->ninodes && ctx->inodes[i].ino == ino)
		return &ctx->inodes[i];
	if (ctx->ninodes == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 1024;
		struct fsck_inode *n = realloc(ctx->inodes, cap * sizeof(*n));
		if (!n)
			return NULL;
		ctx->inodes = n;
		ctx->cap = cap;
	}
	memmove(&ctx->inodes[i + 1], &ctx->inodes[i],
		(ctx->ninodes - i) * sizeof(ctx->inodes[0]));
	ctx->ninodes++;
	memset(&ctx->inodes[i], 0, sizeof(ctx->inodes[i]));
	ctx->inodes[i].ino = ino;
	if (ino > ctx->max_ino)
		ctx->max_ino = ino;
	return &ctx->inodes[i];
}

/* ---- reading ---------------------------------------------------------------- */

int fsck_iter(struct fsck_ctx *ctx, const void *lo, size_t lol, const void *hi,
	      size_t hil, lsm_iter **out)
{
	lsm_read_options ro;
	memset(&ro, 0, sizeof ro);
	ro.lower = lo;
	ro.lower_len = lol;
	ro.upper = hi;
	ro.upper_len = hi ? hil : 0;
	int rc = lsm_iter_new(ctx->db, &ro, out);
	if (rc < 0)
		return fsck_read_error(ctx, rc, "creating an iterator");
	if (lo)
		lsm_iter_seek(*out, lo, lol);
	else
		lsm_iter_seek_first(*out);
	return 0;
}

int fsck_read_error(struct fsck_ctx *ctx, int rc, const char *what)
{
	const char *d = lsm_errdetail();
	fprintf(stderr, "fsck.lsmfs: %s: %s: %s%s%s\n", ctx->store, what, lsm_strerror(rc),
		*d ? ": " : "", d);
	ctx->exit_extra |= FSCK_ERROR;
	return rc;
}

/* ---- writing ------------------------------------------------------------------ */

int fsck_write(struct fsck_ctx *ctx, lsm_batch *b)
{
	if (!ctx->rw) {
		/* C1: a bug if reached; never write in -n mode. */
		fprintf(stderr, "fsck.lsmfs: internal error: write attempted on a read-only check\n");
		ctx->exit_extra |= FSCK_ERROR;
		return LSM_E_INVALID;
	}
	lsm_write_options wo = { .sync = false };
	int rc = lsm_write(ctx->db, &wo, b);
	if (rc < 0)
		return fsck_read_error(ctx, rc, "writing a repair");
	return 0;
}

static int write_one(struct fsck_ctx *ctx, int (*add)(lsm_batch *, const void *, size_t,
						       const void *, size_t),
		     const void *a, size_t al, const void *b2, size_t bl)
{
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return -ENOMEM;
	int rc = add(b, a, al, b2, bl);
	if (rc == 0)
		rc = fsck_write(ctx, b);
	lsm_batch_free(b);
	return rc;
}

static int add_delete(lsm_batch *b, const void *k, size_t kl, const void *x, size_t xl)
{
	(void)x;
	(void)xl;
	return lsm_batch_delete(b, k, kl);
}

int fsck_delete_key(struct fsck_ctx *ctx, const void *key, size_t klen)
{
	return write_one(ctx, add_delete, key, klen, NULL, 0);
}

int fsck_delete_range(struct fsck_ctx *ctx, const void *lo, size_t lol, const void *hi,
		      size_t hil)
{
	return write_one(ctx, lsm_batch_delete_range, lo, lol, hi, hil);
}

int fsck_put(struct fsck_ctx *ctx, const void *key, size_t klen, const void *val,
	     size_t vlen)
{
	return write_one(ctx, lsm_batch_put, key, klen, val, vlen);
}

int fsck_inode_update(struct fsck_ctx *ctx, lsm_batch *b, const struct fsck_inode *fi,
		      unsigned fields)
{
	char k[FS_KEY_INO_LEN];
	void *v = NULL;
	size_t vl = 0;
	char *nv = NULL;
	fs_attr a;
	const char *idata;
	size_t ilen;
	int rc;

	fs_key_ino(k, FS_K_INODE, fi->ino);
	rc = lsm_get(ctx->db, NULL, k, sizeof k, &v, &vl);
	if (rc < 0)
		return fsck_read_error(ctx, rc, "reading an inode to repair it");
	rc = fs_inode_decode(v, vl, fi->ino, &a, &idata, &ilen);
	if (rc < 0) {
		fprintf(stderr, "fsck.lsmfs: inode %" PRIu64 ": %s\n", fi->ino, fs_errdetail());
		ctx->exit_extra |= FSCK_ERROR;
		goto out;
	}
	if (fields & FU_NLINK)
		a.nlink = fi->nlink;
	if (fields & FU_PARENT)
		a.parent = fi->parent;
	if (fields & FU_NBLOCKS)
		a.nblocks = fi->nblocks;
	if (fields & FU_MAXBLK)
		a.maxblk = fi->maxblk;
	if (fields & FU_SIZE)
		a.size = fi->size;
	if (fields & FU_XATTR_FLAG)
		a.flags |= FS_IF_XATTR;
	/* Inline data stays as it was; a size change of an inline file is
	 * not something fsck makes. */
	size_t dl = (a.flags & FS_IF_INLINE) ? ilen : 0;
	nv = malloc(FS_INODE_HDR_LEN + dl);
	if (!nv) {
		rc = -ENOMEM;
		goto out;
	}
	fs_inode_encode(nv, &a);
	if (dl)
		memcpy(nv + FS_INODE_HDR_LEN, idata, dl);
	if (b)
		rc = lsm_batch_put(b, k, sizeof k, nv, FS_INODE_HDR_LEN + dl);
	else
		rc = fsck_put(ctx, k, sizeof k, nv, FS_INODE_HDR_LEN + dl);
out:
	free(v);
	free(nv);
	return rc;
}

int fsck_batch_destroy(lsm_batch *b, uint64_t ino)
{
	char k[FS_KEY_INO_LEN], e[FS_KEY_INO_LEN];
	int rc;
	static const char types[] = { FS_K_BLOCK, FS_K_XATTR };
	fs_key_ino(k, FS_K_INODE, ino);
	if ((rc = lsm_batch_delete(b, k, sizeof k)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof types; i++) {
		fs_key_ino(k, types[i], ino);
		fs_key_ino_end(e, types[i], ino);
		if ((rc = lsm_batch_delete_range(b, k, sizeof k, e, sizeof e)) < 0)
			return rc;
	}
	fs_key_ino(k, FS_K_SYMLINK, ino);
	if ((rc = lsm_batch_delete(b, k, sizeof k)) < 0)
		return rc;
	fs_key_ino(k, FS_K_ORPHAN, ino);
	return lsm_batch_delete(b, k, sizeof k);
}

static int kind_of(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 1;
	case S_IFDIR: return 2;
	case S_IFLNK: return 3;
	default: return 4;
	}
}

void fsck_own_count(struct fsck_ctx *ctx, uint32_t mode, int delta)
{
	ctx->own[0] += delta;
	ctx->own[kind_of(mode)] += delta;
}

int fsck_batch_super(struct fsck_ctx *ctx, lsm_batch *b)
{
	char buf[FS_SUPER_LEN + 64];
	size_t n = fs_super_encode(buf, &ctx->sb);
	return lsm_batch_put(b, FS_SUPER_KEY, FS_SUPER_KEY_LEN, buf, n);
}

void fsck_fix_done(struct fsck_ctx *ctx, int rc)
{
	if (rc >= 0)
		return;
	if (ctx->fixed)
		ctx->fixed--;
	ctx->unfixed++;
	if (rc == -ECANCELED)
		return;		/* not made, by a later answer: no error */
	ctx->exit_extra |= FSCK_ERROR;
	fprintf(stderr, "fsck.lsmfs: %s: the repair failed: %s\n", ctx->store,
		lsm_strerror(rc));
}

/* ---- the store ----------------------------------------------------------------- */

/*
 * Is another process holding the store (a mounted daemon, a tool)?  For -n
 * only, where nothing may be written, so the engine lock cannot be taken:
 * ask the kernel whether the LOCK file carries a lock (best effort; the
 * answer only selects a warning).  *holder gets the holder's line.
 */
static bool store_in_use_ro(const char *store, char *holder, size_t hlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/LOCK", store);
	holder[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	bool busy = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	if (busy) {
		ssize_t r = pread(fd, holder, hlen - 1, 0);
		holder[r > 0 ? (size_t)r : 0] = 0;
		holder[strcspn(holder, "\n")] = 0;
	}
	close(fd);
	return busy;
}

/*
 * For the modes that may write: take the engine's lock for a moment to
 * learn whether the store is in use.  0 if free, LSM_E_LOCKED (with the
 * holder's line) if not.  The lock is released again at once because the
 * repairs of pass 1 open the store themselves; the store is locked for the
 * rest of the run when the logical passes open it.
 */
static int store_lock_probe(const char *store, char *holder, size_t hlen)
{
	char path[4096];
	struct stat st;
	holder[0] = 0;
	snprintf(path, sizeof path, "%s/LOCK", store);
	if (stat(path, &st) < 0)
		return 0;	/* never opened for writing: nobody holds it */
	lsm_env *env = lsm_env_posix();
	lsm_file *lk = NULL;
	char me[64];
	snprintf(me, sizeof me, "pid %ld (fsck.lsmfs)", (long)getpid());
	int rc = env->lock(env, path, me, &lk, holder, hlen);
	if (rc == 0)
		env->unlock(env, lk);
	return rc;
}

static int open_store(struct fsck_ctx *ctx)
{
	lsm_options o = ctx->lo;
	o.read_only = !ctx->rw;
	int rc = lsm_open(ctx->store, &o, &ctx->db);
	if (rc < 0) {
		ctx->db = NULL;
		if (rc == LSM_E_LOCKED) {
			fprintf(stderr, "fsck.lsmfs: %s is in use: %s\n", ctx->store,
				lsm_errdetail());
		} else {
			fsck_read_error(ctx, rc, "opening the store");
		}
		ctx->exit_extra |= FSCK_ERROR;
		return rc;
	}
	lsm_stats st;
	if (lsm_get_stats(ctx->db, &st) == 0) {
		ctx->est_keys = 0;
		for (int l = 0; l < st.num_levels && l < LSM_MAX_LEVELS; l++)
			ctx->est_keys += st.level[l].entries;
	}
	return 0;
}

static int close_store(struct fsck_ctx *ctx)
{
	int rc = 0;
	if (!ctx->db)
		return 0;
	if (ctx->rw) {
		rc = lsm_sync(ctx->db);
		if (rc < 0)
			fsck_read_error(ctx, rc, "syncing the repairs");
	}
	int c = lsm_close(ctx->db);
	ctx->db = NULL;
	if (c < 0 && rc == 0) {
		rc = c;
		fsck_read_error(ctx, c, "closing the store");
	}
	return rc;
}

/* Pass 0: read and check the superblock.  0 when the logical passes can
 * run. */
static int check_super(struct fsck_ctx *ctx)
{
	void *v = NULL;
	size_t vl = 0;
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	int rc = lsm_get(ctx->db, NULL, FS_SUPER_KEY, FS_SUPER_KEY_LEN, &v, &vl);
	if (rc == LSM_E_NOTFOUND) {
		fix_problem(ctx, PR_0_NO_SUPER, &pc);
		return -1;
	}
	if (rc < 0)
		return fsck_read_error(ctx, rc, "reading the superblock");
	rc = fs_super_decode(v, vl, &ctx->sb);
	free(v);
	if (rc < 0) {
		pc.str = fs_errdetail();
		if (rc == LSM_E_VERSION) {
			fix_problem(ctx, PR_0_SUPER_NEWER, &pc);
			ctx->exit_extra |= FSCK_ERROR;
		} else {
			fix_problem(ctx, PR_0_SUPER_CORRUPT, &pc);
		}
		return -1;
	}
	ctx->sb_valid = true;
	return 0;
}

/* After the passes: next_ino above every inode, and the counters of a
 * cleanly unmounted store equal to what is there. */
static void finish_super(struct fsck_ctx *ctx)
{
	uint64_t n[5] = { 0 };	/* inodes, files, dirs, symlinks, specials */
	uint64_t max = 0;
	for (size_t i = 0; i < ctx->ninodes; i++) {
		const struct fsck_inode *fi = &ctx->inodes[i];
		if (fi->st & FI_GONE)
			continue;
		n[0]++;
		n[kind_of(fi->mode)]++;
		if (fi->ino > max)
			max = fi->ino;
	}
	struct problem_ctx pc;
	memset(&pc, 0, sizeof pc);
	fs_super want = ctx->sb;
	bool change = false;
	if (max >= ctx->sb.next_ino) {
		pc.num = ctx->sb.next_ino;
		pc.ino = max;
		if (fix_problem(ctx, PR_0_NEXT_INO, &pc)) {
			want.next_ino = max + 1;
			change = true;
		}
	}
	uint64_t rec[5] = { ctx->sb.inodes, ctx->sb.files, ctx->sb.dirs, ctx->sb.symlinks,
			    ctx->sb.specials };
	bool differ = false, own = false;
	for (int i = 0; i < 5; i++) {
		differ |= rec[i] + (uint64_t)ctx->own[i] != n[i];
		own |= ctx->own[i] != 0;
	}
	if ((ctx->sb.flags & FS_SB_CLEAN) && (differ || own)) {
		char s[256];
		snprintf(s, sizeof s,
			 "recorded %" PRIu64 " inodes, %" PRIu64 " files, %" PRIu64
			 " directories, %" PRIu64 " symlinks, %" PRIu64 " special; found %"
			 PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64,
			 rec[0], rec[1], rec[2], rec[3], rec[4], n[0], n[1], n[2], n[3], n[4]);
		pc.str = s;
		/* Counts that moved only by fsck's own fixes follow silently. */
		if (!differ || fix_problem(ctx, PR_0_COUNTS, &pc)) {
			want.inodes = n[0];
			want.files = n[1];
			want.dirs = n[2];
			want.symlinks = n[3];
			want.specials = n[4];
			change = true;
		}
	}
	if (change) {
		fs_super keep = ctx->sb;
		ctx->sb = want;
		lsm_batch *b = lsm_batch_new();
		int rc = b ? fsck_batch_super(ctx, b) : -ENOMEM;
		if (rc == 0)
			rc = fsck_write(ctx, b);
		lsm_batch_free(b);
		if (rc < 0) {
			ctx->sb = keep;
			fsck_fix_done(ctx, rc);
		}
	}
	if (ctx->verbose) {
		printf("\n%12" PRIu64 " inodes\n%12" PRIu64 " regular files\n%12" PRIu64
		       " directories\n%12" PRIu64 " symbolic links\n%12" PRIu64
		       " special files\n%12" PRIu64 " data blocks of %u bytes\n",
		       n[0], n[1], n[2], n[3], n[4], ctx->data_blocks, ctx->sb.block_size);
	}
	ctx->sb.inodes = n[0];	/* for the summary line */
	ctx->sb.files = n[1];
	ctx->sb.dirs = n[2];
}

/* ---- the passes ------------------------------------------------------------------ */

static const struct {
	fsck_pass_fn fn;
	const char *title;
} passes[] = {
	{ fsck_pass_engine, "Checking the engine: manifest, tables, logs" },
	{ fsck_pass_inodes, "Checking inodes, data blocks, symlinks and xattrs" },
	{ fsck_pass_dirs, "Checking directory entries" },
	{ fsck_pass_connect, "Checking directory connectivity" },
	{ fsck_pass_refs, "Checking reference counts" },
	{ fsck_pass_orphans, "Checking orphan inodes" },
};

static int run_pass(struct fsck_ctx *ctx, int i)
{
	struct timespec t0, t1;
	ctx->cur_pass = i + 1;
	ctx->last_pct = -1;
	fsck_note(ctx, "Pass %d: %s\n", i + 1, passes[i].title);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = passes[i].fn(ctx);
	fsck_progress_clear(ctx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fsck_verbose(ctx, "Pass %d: %.3f s\n", i + 1,
		     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return rc;
}

static int exit_code(const struct fsck_ctx *ctx)
{
	int code = ctx->exit_extra;
	if (ctx->fixed)
		code |= FSCK_NONDESTRUCT;
	if (ctx->unfixed)
		code |= FSCK_UNCORRECTED;
	if (ctx->cancelled)
		code |= FSCK_CANCELED;
	return code;
}

static void summary(struct fsck_ctx *ctx)
{
	int code = exit_code(ctx);
	if (ctx->cancelled)
		printf("%s: check cancelled.\n", ctx->store);
	if (code & FSCK_NONDESTRUCT)
		printf("\n%s: ***** FILE SYSTEM WAS MODIFIED *****\n", ctx->store);
	if (code & FSCK_UNCORRECTED)
		printf("\n%s: ********** WARNING: File system still has errors **********\n",
		       ctx->store);
	if (ctx->sb_valid) {
		if (ctx->mode == FSCK_MODE_PREEN && !ctx->problems)
			printf("%s: clean, %" PRIu64 " inodes (%" PRIu64 " files, %" PRIu64
			       " directories), %" PRIu64 " data blocks\n",
			       ctx->store, ctx->sb.inodes, ctx->sb.files, ctx->sb.dirs,
			       ctx->data_blocks);
		else
			printf("%s: %" PRIu64 " inodes (%" PRIu64 " files, %" PRIu64
			       " directories), %" PRIu64 " data blocks\n",
			       ctx->store, ctx->sb.inodes, ctx->sb.files, ctx->sb.dirs,
			       ctx->data_blocks);
	}
}

void fsck_exit(struct fsck_ctx *ctx, int bits)
{
	ctx->exit_extra |= bits;
	close_store(ctx);
	summary(ctx);
	fflush(stdout);
	int code = exit_code(ctx);
	free(ctx->inodes);
	free(ctx->stale_orphans);
	exit(code);
}

/* ---- the command line --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: fsck.lsmfs [-n | -p | -a | -y] [-f] [-v] [-C [fd]] STORE\n"
"\n"
"NAME\n"
"    fsck.lsmfs - check and repair an lsmfs store\n"
"\n"
"DESCRIPTION\n"
"    fsck.lsmfs checks the lsmfs store in the directory STORE, which must not\n"
"    be mounted (the check refuses a store that is in use, except with -n).\n"
"    It runs in passes:\n"
"      1  engine: CURRENT, manifest, every live table (present, right size,\n"
"         every block checksum, keys in order, no overlap in L1+), sequences,\n"
"         write-ahead logs, and files the manifest does not name\n"
"      2  inodes: every inode record decodes; sizes, modes and data ranges\n"
"         are sane; data blocks past the end of a file or of inodes that do\n"
"         not exist (leaks); symlink targets; extended attributes\n"
"      3  directories: every entry names an existing inode of the stated\n"
"         type; no directory has two names\n"
"      4  connectivity: every directory reaches the root; directories and\n"
"         inodes no entry names are reconnected under /lost+found\n"
"      5  reference counts: nlink equals the names of the inode\n"
"         (directories: 2 + subdirectories)\n"
"      6  orphans: inodes deleted while open when the file system stopped\n"
"         are released\n"
"    Every problem has a code 0xPPNNNN (PP: the pass) that is printed with it;\n"
"    --list-problems prints the table.\n"
"\n"
"OPTIONS\n"
"    -n      Open the store read-only and answer \"no\" to every question:\n"
"            nothing is changed.  Works on a mounted store (with a warning:\n"
"            what the daemon holds in memory is not seen).\n"
"    -p, -a  Preen: fix, without asking, the problems that are safe to fix;\n"
"            stop with exit code 4 at the first one that is not.\n"
"    -y      Answer \"yes\" to every question: fix everything.\n"
"            Without -n, -p or -y, fsck.lsmfs asks on the terminal (y, n, or\n"
"            a for yes to all); when standard input is not a terminal it\n"
"            behaves as -n.\n"
"    -f      Force a check.  Accepted for compatibility: every run is full.\n"
"    -v      Verbose: time per pass and a count of what the store holds.\n"
"    -C [fd] Show a progress bar on file descriptor fd (default 1).\n"
"    -V      Print the version and exit.\n"
"    --list-problems  Print the problem table and exit.\n"
"    -h, --help       Print this help and exit.\n"
"\n"
"EXIT STATUS\n"
"    The sum (OR) of: 0 no errors; 1 errors corrected; 4 errors left\n"
"    uncorrected; 8 operational error (the store could not be opened, read\n"
"    or written); 16 usage error; 32 cancelled by the user (SIGINT).\n"
"\n"
"NOTES\n"
"    fsck(8) runs fsck.lsmfs for `fsck -t lsmfs STORE`, passing its\n"
"    options (-a, -n, -y, ...) through.\n"
"\n"
"SEE ALSO\n"
"    mkfs.lsmfs(8), lsmfsctl(8), lsmfs(1), fsck(8)\n");
}

int main(int argc, char **argv)
{
	static struct fsck_ctx ctx;
	int nmodes = 0;
	bool list = false;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "list-problems", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};

	ctx.mode = FSCK_MODE_ASK;
	ctx.progress_fd = 1;
	ctx.last_pct = -1;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "npayfvC::Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ctx.mode = FSCK_MODE_NO;
			nmodes++;
			break;
		case 'p':
		case 'a':
			ctx.mode = FSCK_MODE_PREEN;
			nmodes++;
			break;
		case 'y':
			ctx.mode = FSCK_MODE_YES;
			nmodes++;
			break;
		case 'f':
			ctx.force = true;
			break;
		case 'v':
			ctx.verbose = true;
			break;
		case 'C':
			ctx.progress = true;
			if (!optarg && optind < argc && argv[optind][0] >= '0' &&
			    argv[optind][0] <= '9' && optind + 1 < argc)
				optarg = argv[optind++];	/* "-C 0" */
			if (optarg) {
				char *end;
				long fd = strtol(optarg, &end, 10);
				if (*end || fd < 0 || fd > 1024) {
					fprintf(stderr, "fsck.lsmfs: -C: bad file descriptor '%s'\n",
						optarg);
					return FSCK_USAGE;
				}
				ctx.progress_fd = (int)fd;
			}
			break;
		case 'V':
			printf("fsck.lsmfs %s (lsmfs format %d)\n", FSCK_VERSION, FS_FORMAT_VERSION);
			return FSCK_OK;
		case 'h':
			usage(stdout);
			return FSCK_OK;
		case 'L':
			list = true;
			break;
		default:
			fprintf(stderr, "fsck.lsmfs: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return FSCK_USAGE;
		}
	}
	if (list) {
		problem_list();
		return FSCK_OK;
	}
	if (nmodes > 1) {
		fprintf(stderr, "fsck.lsmfs: only one of the options -p/-a, -n or -y may be given\n");
		return FSCK_USAGE;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "fsck.lsmfs: %s\n",
			optind >= argc ? "no store given" : "more than one store given");
		usage(stderr);
		return FSCK_USAGE;
	}
	ctx.store = argv[optind];
	if (ctx.mode == FSCK_MODE_ASK && !isatty(0)) {
		/* Nobody to ask: change nothing. */
		ctx.mode = FSCK_MODE_NO;
	}
	ctx.rw = ctx.mode != FSCK_MODE_NO;
	if (ctx.progress && ctx.progress_fd != 1 && fcntl(ctx.progress_fd, F_GETFD) < 0)
		ctx.progress = false;	/* fsck(8) style -C fd with no such fd */

	g_ctx = &ctx;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;	/* no SA_RESTART: a question returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct stat st;
	if (stat(ctx.store, &st) < 0) {
		fprintf(stderr, "fsck.lsmfs: %s: %s\n", ctx.store, strerror(errno));
		return FSCK_ERROR;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsck.lsmfs: %s: not a directory (a store is a directory)\n",
			ctx.store);
		return FSCK_ERROR;
	}

	lsm_options_init(&ctx.lo);
	ctx.lo.disable_auto_compaction = true;	/* fsck changes only what it fixes */
	ctx.lo.block_cache_size = 16u << 20;
	int rc;

	char holder[256];
	if (ctx.rw) {
		rc = store_lock_probe(ctx.store, holder, sizeof holder);
		if (rc == LSM_E_LOCKED) {
			fprintf(stderr,
				"fsck.lsmfs: %s is in use by %s (mounted?); refusing to check it.\n"
				"Unmount it first, or check it read-only with -n.\n",
				ctx.store, holder[0] ? holder : "another process");
			return FSCK_ERROR;
		}
		if (rc < 0) {
			fprintf(stderr, "fsck.lsmfs: %s: cannot take the store lock: %s\n",
				ctx.store, lsm_strerror(rc));
			return FSCK_ERROR;
		}
	} else if (store_in_use_ro(ctx.store, holder, sizeof holder)) {
		ctx.in_use = true;
		printf("Warning: %s is in use by %s (mounted?).  Checking read-only; what\n"
		       "the daemon has not yet written is not seen, so recent changes may\n"
		       "show as problems.\n\n", ctx.store, holder[0] ? holder : "another process");
	}

	/* Pass 1 works on the closed store. */
	rc = run_pass(&ctx, 0);
	if (rc < 0 || fsck_cancelled(&ctx))
		fsck_exit(&ctx, rc < 0 ? FSCK_ERROR : 0);
	if (ctx.engine_blocked) {
		fsck_note(&ctx, "Passes 2-6 skipped: the engine damage above must be repaired "
				"first%s.\n", ctx.rw ? "" : " (run without -n)");
		fsck_exit(&ctx, 0);
	}

	if (open_store(&ctx) < 0)
		fsck_exit(&ctx, 0);
	if (check_super(&ctx) < 0)
		fsck_exit(&ctx, 0);
	for (size_t i = 1; i < sizeof(passes) / sizeof(passes[0]); i++) {
		rc = run_pass(&ctx, (int)i);
		if (rc < 0 || fsck_cancelled(&ctx))
			fsck_exit(&ctx, rc < 0 ? FSCK_ERROR : 0);
	}
	finish_super(&ctx);
	fsck_exit(&ctx, 0);
}
