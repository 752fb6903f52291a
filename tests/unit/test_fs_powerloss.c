/*
 * test_fs_powerloss.c — power loss below the filesystem core: the core
 * (fs.h) over the engine over the fault-injecting env (lsm.h) over an
 * in-memory env, cut at every sync point of a workload.
 *
 * Method.  A seeded workload of filesystem calls (create + write, writes
 * at offsets, truncate, hole punch, fsync, sync, unlink, rename of files
 * over new names and over other files, hard links, mkdir, rmdir, rename of
 * directories, xattrs, and files unlinked while open: orphans) runs once
 * to count the syncs it causes (WAL syncs of fsync, the old-log sync of a
 * memtable switch, table, manifest and directory syncs of background
 * flushes and compactions: the write buffer is tiny).  Then for every sync
 * point k a fresh store runs the same workload with the env armed to "die"
 * after its k-th sync: the workload goes on until a call fails, the core
 * is dropped as a crash would (fs_abort, while all I/O fails: must not
 * hang), the power is cut (everything not durable is discarded), and the
 * store is mounted again.  Every few k the remount itself is cut at its
 * first syncs and retried.
 *
 * What must hold after recovery:
 *   1. Durability: fs_fsync and fs_sync make everything done before them
 *      durable (fs_fsync is a full engine sync, fs/handle.c).  So every
 *      name whose last change came before the last acknowledged sync is
 *      exactly as the model says: absent, a directory (link count 2 +
 *      subdirectories), or a file with the model's content and link count
 *      (hard links one inode).  Names the failing call or anything after
 *      the last sync touched may be either way.
 *   2. Nothing invented: every name in the tree is one the workload made.
 *   3. Consistency (what fsck checks, here through the core and a raw scan
 *      of the engine): every entry resolves to an inode of its type, ".."
 *      is the parent, link counts equal the names found, every inode is
 *      named (orphans were reclaimed by the mount: no O records left),
 *      data blocks belong to block-mapped files, lie below maxblk and
 *      number nblocks, inline files have exactly size bytes inline,
 *      symlinks have targets, xattrs only where the flag says, and the
 *      mount's counters equal the inode records.
 *   4. The recovered filesystem works: a new file written and fsynced
 *      survives a clean unmount, and everything above still holds.
 * Threads: the test is single-threaded (the engine's threads run below).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "schema.h"

#define STORE "/store"
#define NOPS 220
#define MAXP 1024		/* paths ever used by one run */
#define MAXO 512		/* files ever created by one run */
#define MAXDATA 6000		/* bytes in one file */
#define MAXORPH 4		/* open unlinked files at once */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- the model --------------------------------------------------------- */

struct mpath {
	char path[96];
	bool present;
	bool dir;
	int obj;		/* files: index into objs */
	uint64_t ino;		/* directories */
	int last;		/* op that last changed it (-1: never) */
	bool poisoned;		/* a failed call touched it: state unknown */
};

struct mobj {
	unsigned char data[MAXDATA];
	size_t size;
	uint64_t ino;
	int last;		/* op that last changed its content or links */
	bool poisoned;		/* a failed call touched it: content unknown */
};

struct run {
	lsmfs *fs;
	fs_cred cr;
	struct mpath p[MAXP];
	int np;
	struct mobj *o;		/* MAXO */
	int no;
	uint64_t orph[MAXORPH];	/* open handles of unlinked files */
	int norph;
	int ack;		/* last op whose sync returned 0 (-1: none) */
	int op;			/* the op being run */
	uint64_t counter;	/* fresh names */
};

static struct mpath *path_find(struct run *r, const char *path)
{
	for (int i = 0; i < r->np; i++)
		if (strcmp(r->p[i].path, path) == 0)
			return &r->p[i];
	return NULL;
}

/* The entry for path (added absent if new), marked as changed now. */
static struct mpath *touch(struct run *r, const char *path)
{
	struct mpath *p = path_find(r, path);
	if (!p) {
		assert_true(r->np < MAXP);
		p = &r->p[r->np++];
		memset(p, 0, sizeof(*p));
		snprintf(p->path, sizeof(p->path), "%s", path);
		p->obj = -1;
	}
	p->last = r->op;
	return p;
}

static void touch_parent(struct run *r, const char *path)
{
	char d[96];
	snprintf(d, sizeof(d), "%s", path);
	char *s = strrchr(d, '/');
	if (s) {
		*s = 0;
		touch(r, d);
	}
}

static int links(struct run *r, int obj)
{
	int n = 0;
	for (int i = 0; i < r->np; i++)
		n += r->p[i].present && !r->p[i].dir && r->p[i].obj == obj;
	return n;
}

static bool under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	return strncmp(path, dir, l) == 0 && path[l] == '/';
}

static bool dir_empty(struct run *r, const char *dir)
{
	for (int i = 0; i < r->np; i++)
		if (r->p[i].present && under(r->p[i].path, dir))
			return false;
	return true;
}

/* A random present entry (files or directories), or NULL. */
static struct mpath *pick(struct run *r, bool dir)
{
	int n = 0;
	for (int i = 0; i < r->np; i++)
		n += r->p[i].present && r->p[i].dir == dir;
	if (!n)
		return NULL;
	int k = (int)below((uint64_t)n);
	for (int i = 0; i < r->np; i++)
		if (r->p[i].present && r->p[i].dir == dir && k-- == 0)
			return &r->p[i];
	return NULL;
}

/* The inode of a present directory path ("" is the root). */
static uint64_t dir_ino(struct run *r, const char *dir)
{
	if (!*dir)
		return FS_ROOT_INO;
	struct mpath *p = path_find(r, dir);
	assert_non_null(p);
	assert_true(p->present && p->dir);
	return p->ino;
}

/* A fresh name under a random directory (depth <= 3). */
static void fresh(struct run *r, char *out, size_t n, char kind, const char **parent,
		  const char **base)
{
	struct mpath *d = below(3) ? pick(r, true) : NULL;
	if (d && strchr(d->path, '/') && strchr(strchr(d->path, '/') + 1, '/'))
		d = NULL;
	char tmp[200];
	snprintf(tmp, sizeof(tmp), "%s%s%c%llu", d ? d->path : "", d ? "/" : "", kind,
		 (unsigned long long)r->counter++);
	assert_true(strlen(tmp) < n);
	memcpy(out, tmp, strlen(tmp) + 1);
	*parent = d ? d->path : "";
	*base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
}

static void split(const char *path, char *parent, const char **base)
{
	snprintf(parent, 96, "%s", path);
	char *s = strrchr(parent, '/');
	if (s) {
		*s = 0;
		*base = path + (s - parent) + 1;
	} else {
		parent[0] = 0;
		*base = path;
	}
}

static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd();
}

/* ---- the workload: one op; 0 or the failing call's code ----------------- */

static int op_create(struct run *r)
{
	char path[96];
	const char *parent, *base;
	fresh(r, path, sizeof(path), 'f', &parent, &base);
	assert_true(r->no < MAXO);
	struct mobj *o = &r->o[r->no];
	size_t size = below(4) ? below(MAXDATA / 2) : below(MAXDATA);
	unsigned char buf[MAXDATA];
	fill(buf, size);
	struct mpath *p = touch(r, path);
	touch_parent(r, path);
	struct stat st;
	uint64_t fh;
	int rc = fs_create(r->fs, &r->cr, dir_ino(r, parent), base, 0644, O_RDWR, &st, &fh);
	if (rc < 0)
		return rc;
	/* the name exists now, whatever happens to the writes */
	o->size = 0;
	o->ino = st.st_ino;
	o->last = r->op;
	o->poisoned = false;
	p->present = true;
	p->dir = false;
	p->obj = r->no++;
	size_t done = 0, w;
	while (rc == 0 && done < size) {
		size_t chunk = 1 + below(size - done);
		rc = fs_write(r->fs, &r->cr, fh, buf + done, chunk, done, 0, &w);
		done += chunk;
	}
	int rc2 = fs_release(r->fs, fh);
	if (rc < 0 || rc2 < 0)
		return rc < 0 ? rc : rc2;
	memcpy(o->data, buf, size);
	o->size = size;
	return 0;
}

static void touch_obj(struct run *r, int obj)
{
	r->o[obj].last = r->op;
	for (int i = 0; i < r->np; i++)
		if (r->p[i].present && !r->p[i].dir && r->p[i].obj == obj)
			r->p[i].last = r->op;
}

static int op_write(struct run *r, struct mpath *p)
{
	struct mobj *o = &r->o[p->obj];
	uint64_t off = below(MAXDATA);
	size_t len = 1 + below(MAXDATA - off);
	unsigned char buf[MAXDATA];
	fill(buf, len);
	touch_obj(r, p->obj);
	uint64_t fh;
	size_t w;
	int rc = fs_open(r->fs, &r->cr, o->ino, O_RDWR, &fh);
	if (rc < 0)
		return rc;
	rc = fs_write(r->fs, &r->cr, fh, buf, len, off, 0, &w);
	int rc2 = fs_release(r->fs, fh);
	if (rc < 0 || rc2 < 0)
		return rc < 0 ? rc : rc2;
	if (off > o->size)
		memset(o->data + o->size, 0, off - o->size);
	memcpy(o->data + off, buf, len);
	if (off + len > o->size)
		o->size = off + len;
	return 0;
}

static int op_truncate(struct run *r, struct mpath *p)
{
	struct mobj *o = &r->o[p->obj];
	struct stat a;
	memset(&a, 0, sizeof(a));
	a.st_size = (off_t)below(MAXDATA);
	touch_obj(r, p->obj);
	int rc = fs_setattr(r->fs, &r->cr, o->ino, &a, FS_SET_SIZE, 0, NULL);
	if (rc < 0)
		return rc;
	if ((size_t)a.st_size > o->size)
		memset(o->data + o->size, 0, (size_t)a.st_size - o->size);
	o->size = (size_t)a.st_size;
	return 0;
}

static int op_punch(struct run *r, struct mpath *p)
{
	struct mobj *o = &r->o[p->obj];
	if (o->size == 0)
		return 0;
	uint64_t off = below(o->size);
	uint64_t len = 1 + below(o->size - off + 100);
	touch_obj(r, p->obj);
	uint64_t fh;
	int rc = fs_open(r->fs, &r->cr, o->ino, O_RDWR, &fh);
	if (rc < 0)
		return rc;
	rc = fs_fallocate(r->fs, &r->cr, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	int rc2 = fs_release(r->fs, fh);
	if (rc < 0 || rc2 < 0)
		return rc < 0 ? rc : rc2;
	uint64_t end = off + len < o->size ? off + len : o->size;
	memset(o->data + off, 0, end - off);
	return 0;
}

static int op_fsync(struct run *r, struct mpath *p)
{
	uint64_t fh;
	int rc = fs_open(r->fs, &r->cr, r->o[p->obj].ino, O_RDONLY, &fh);
	if (rc < 0)
		return rc;
	rc = fs_fsync(r->fs, fh, below(2));
	int rc2 = fs_release(r->fs, fh);
	if (rc == 0)
		r->ack = r->op;	/* durable: everything before it */
	return rc < 0 ? rc : rc2;
}

static int op_unlink(struct run *r, struct mpath *p, bool keep_open)
{
	char parent[96];
	const char *base;
	uint64_t fh = 0;
	int obj = p->obj;
	split(p->path, parent, &base);
	touch(r, p->path);
	touch_obj(r, obj);
	if (keep_open) {
		int rc = fs_open(r->fs, &r->cr, r->o[obj].ino, O_RDWR, &fh);
		if (rc < 0)
			return rc;
		r->orph[r->norph++] = fh;	/* released by a later op or the crash */
	}
	int rc = fs_unlink(r->fs, &r->cr, dir_ino(r, parent), base);
	if (rc < 0)
		return rc;
	p->present = false;
	return 0;
}

static int op_release_orphan(struct run *r)
{
	uint64_t fh = r->orph[--r->norph];
	return fs_release(r->fs, fh);	/* deletes the inode: engine writes */
}

static int op_rename_file(struct run *r, struct mpath *p)
{
	char from[96], to[96], fparent[96], tparent[96];
	const char *fbase, *tbase, *tp;
	struct mpath *t = pick(r, false);
	snprintf(from, sizeof(from), "%s", p->path);
	if (t && t->obj != p->obj && below(2)) {
		snprintf(to, sizeof(to), "%s", t->path);
		touch_obj(r, t->obj);
	} else {
		fresh(r, to, sizeof(to), 'f', &tp, &tbase);
	}
	split(from, fparent, &fbase);
	split(to, tparent, &tbase);
	int obj = p->obj;
	touch(r, from);
	touch(r, to);
	touch_obj(r, obj);
	int rc = fs_rename(r->fs, &r->cr, dir_ino(r, fparent), fbase, dir_ino(r, tparent), tbase, 0);
	if (rc < 0)
		return rc;
	struct mpath *f = path_find(r, from), *d = path_find(r, to);
	f->present = false;
	d->present = true;
	d->dir = false;
	d->obj = obj;
	return 0;
}

static int op_link(struct run *r, struct mpath *p)
{
	char to[96];
	const char *tparent, *tbase;
	int obj = p->obj;
	if (links(r, obj) >= 3)
		return 0;
	fresh(r, to, sizeof(to), 'h', &tparent, &tbase);
	struct mpath *d = touch(r, to);
	touch_obj(r, obj);
	int rc = fs_link(r->fs, &r->cr, r->o[obj].ino, dir_ino(r, tparent), tbase, NULL);
	if (rc < 0)
		return rc;
	d->present = true;
	d->dir = false;
	d->obj = obj;
	return 0;
}

static int op_mkdir(struct run *r)
{
	char path[96];
	const char *parent, *base;
	fresh(r, path, sizeof(path), 'd', &parent, &base);
	struct mpath *p = touch(r, path);
	touch_parent(r, path);
	struct stat st;
	int rc = fs_mkdir(r->fs, &r->cr, dir_ino(r, parent), base, 0755, &st);
	if (rc < 0)
		return rc;
	p->present = true;
	p->dir = true;
	p->ino = st.st_ino;
	return 0;
}

static int op_rmdir(struct run *r, struct mpath *p)
{
	char parent[96];
	const char *base;
	if (!dir_empty(r, p->path))
		return 0;
	split(p->path, parent, &base);
	touch(r, p->path);
	touch_parent(r, p->path);
	int rc = fs_rmdir(r->fs, &r->cr, dir_ino(r, parent), base);
	if (rc < 0)
		return rc;
	p->present = false;
	return 0;
}

/* Rename a directory to a fresh name in the root (never below itself). */
static int op_rename_dir(struct run *r, struct mpath *p)
{
	char from[96], to[96], fparent[96];
	const char *fbase;
	snprintf(from, sizeof(from), "%s", p->path);
	snprintf(to, sizeof(to), "d%llu", (unsigned long long)r->counter++);
	split(from, fparent, &fbase);
	/* every name below moves: old and new paths both change now */
	int n = r->np;
	for (int i = 0; i < n; i++) {
		/* (names a failed call may have made move too) */
		if (!(r->p[i].present || r->p[i].poisoned) || !under(r->p[i].path, from))
			continue;
		char np[200];
		snprintf(np, sizeof(np), "%s%s", to, r->p[i].path + strlen(from));
		assert_true(strlen(np) < 96);
		r->p[i].last = r->op;
		touch(r, np);
	}
	touch(r, from);
	touch(r, to);
	touch_parent(r, from);
	int rc = fs_rename(r->fs, &r->cr, dir_ino(r, fparent), fbase, FS_ROOT_INO, to, 0);
	if (rc < 0)
		return rc;
	for (int i = 0; i < r->np; i++) {
		if (!(r->p[i].present || r->p[i].poisoned) ||
		    (!under(r->p[i].path, from) && strcmp(r->p[i].path, from)))
			continue;
		char np[200];
		snprintf(np, sizeof(np), "%s%s", to, r->p[i].path + strlen(from));
		struct mpath *d = path_find(r, np);
		assert_non_null(d);
		struct mpath *s = &r->p[i];	/* path_find adds nothing: stable */
		d->present = s->present;
		d->poisoned = s->poisoned;
		d->dir = s->dir;
		d->obj = s->obj;
		d->ino = s->ino;
		s->present = false;
	}
	return 0;
}

static int op_xattr(struct run *r, struct mpath *p)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "v%llu", (unsigned long long)rnd());
	if (below(4) == 0) {
		int rc = fs_removexattr(r->fs, &r->cr, r->o[p->obj].ino, "user.k");
		return rc == -ENODATA ? 0 : rc;
	}
	return fs_setxattr(r->fs, &r->cr, r->o[p->obj].ino, "user.k", v, (size_t)n, 0);
}

static int run_op(struct run *r)
{
	uint64_t k = below(100);
	struct mpath *f = pick(r, false);
	struct mpath *d = pick(r, true);
	if (!f || k < 22)
		return op_create(r);
	if (k < 36)
		return op_write(r, f);
	if (k < 41)
		return op_truncate(r, f);
	if (k < 45)
		return op_punch(r, f);
	if (k < 55)
		return op_fsync(r, f);
	if (k < 57) {
		int rc = fs_sync(r->fs);
		if (rc == 0)
			r->ack = r->op;
		return rc;
	}
	if (k < 64)
		return op_unlink(r, f, false);
	if (k < 67) {
		if (r->norph < MAXORPH && links(r, f->obj) == 1)
			return op_unlink(r, f, true);
		return r->norph ? op_release_orphan(r) : 0;
	}
	if (k < 76)
		return op_rename_file(r, f);
	if (k < 81)
		return op_link(r, f);
	if (k < 87 || !d)
		return op_mkdir(r);
	if (k < 91)
		return op_rmdir(r, d);
	if (k < 95)
		return op_rename_dir(r, d);
	return op_xattr(r, f);
}

/* Run the workload from a freshly mounted filesystem until the end or the
 * first failing call.  With enospc, a call failing with -ENOSPC is allowed
 * (what it touched becomes unknown) and the workload goes on; any other
 * error fails the test.  Returns the calls that failed with -ENOSPC. */
static int workload_ex(struct run *r, uint64_t seed, bool enospc, bool stop)
{
	int nospc = 0;
	rng_state = seed;
	r->np = r->no = r->norph = 0;
	r->ack = -1;
	r->counter = 1;
	r->cr = fs_cred_root();
	for (r->op = 0; r->op < NOPS; r->op++) {
		int rc = run_op(r);
		if (rc == 0)
			continue;
		if (!enospc)
			return nospc;
		if (rc != -ENOSPC)
			fail_msg("op %d failed with %s (%s), want 0 or ENOSPC", r->op,
				 fs_strerror(rc), fs_errdetail());
		nospc++;
		for (int i = 0; i < r->np; i++)
			if (r->p[i].last == r->op)
				r->p[i].poisoned = true;
		for (int i = 0; i < r->no; i++)
			if (r->o[i].last == r->op)
				r->o[i].poisoned = true;
		/* At once a sync: the engine retries, retiring a log whose
		 * append failed; that log's unsynced records must become
		 * durable there, as the flush of its memtable is still to
		 * come.  With stop, the power is cut right after. */
		rc = fs_sync(r->fs);
		if (rc != 0 && rc != -ENOSPC)
			fail_msg("sync after ENOSPC at op %d: %s (%s)", r->op, fs_strerror(rc),
				 fs_errdetail());
		if (rc == 0)
			r->ack = r->op;
		if (rc == 0 && stop)
			return nospc;
	}
	return nospc;
}

static void workload(struct run *r, uint64_t seed)
{
	workload_ex(r, seed, false, false);
}

/* ---- checks after recovery ------------------------------------------------ */

struct seen {
	uint64_t ino;
	uint32_t type;
	int names;	/* entries naming it */
	int subdirs;	/* directories: subdirectory entries */
	uint64_t parent;
};

struct walk {
	struct seen *s;
	size_t n, cap;
	struct run *r;
	int k;
};

static struct seen *seen_get(struct walk *w, uint64_t ino)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->s[i].ino == ino)
			return &w->s[i];
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->s = realloc(w->s, w->cap * sizeof(*w->s));
		assert_non_null(w->s);
	}
	memset(&w->s[w->n], 0, sizeof(w->s[0]));
	w->s[w->n].ino = ino;
	return &w->s[w->n++];
}

struct dents {
	char name[300][64];
	uint64_t ino[300];
	uint32_t type[300];
	int n;
};

static int dent_cb(void *ctx, const char *name, uint64_t ino, mode_t type, uint64_t next_off,
		   const struct stat *st)
{
	(void)next_off;
	(void)st;
	struct dents *d = ctx;
	assert_true(d->n < 300);
	snprintf(d->name[d->n], 64, "%s", name);
	d->ino[d->n] = ino;
	d->type[d->n] = type;
	d->n++;
	return 0;
}

/* Walk the tree from dir (path rel): every entry resolves, ".." is the
 * parent, names are known to the model; counts names per inode. */
static void walk_dir(struct walk *w, lsmfs *fs, uint64_t dir, uint64_t parent, const char *rel)
{
	fs_cred cr = fs_cred_root();
	uint64_t fh;
	struct dents *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	assert_int_equal(fs_opendir(fs, &cr, dir, O_RDONLY, &fh), 0);
	assert_int_equal(fs_readdir(fs, fh, 0, dent_cb, d), 0);
	assert_int_equal(fs_releasedir(fs, fh), 0);
	for (int i = 0; i < d->n; i++) {
		if (!strcmp(d->name[i], ".")) {
			assert_int_equal(d->ino[i], dir);
			continue;
		}
		if (!strcmp(d->name[i], "..")) {
			if (d->ino[i] != parent)
				fail_msg("k=%d: %s/.. is %llu, want %llu", w->k, rel,
					 (unsigned long long)d->ino[i], (unsigned long long)parent);
			continue;
		}
		char path[200];
		snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", d->name[i]);
		if (w->r && !path_find(w->r, path))
			fail_msg("k=%d: %s exists but no call ever made that name", w->k, path);
		struct stat st;
		int rc = fs_lookup(fs, &cr, dir, d->name[i], &st);
		if (rc != 0)
			fail_msg("k=%d: entry %s does not resolve: %s", w->k, path, fs_strerror(rc));
		if (st.st_ino != d->ino[i] || (st.st_mode & S_IFMT) != d->type[i])
			fail_msg("k=%d: entry %s: readdir says ino %llu type 0%o, lookup %llu 0%o", w->k,
				 path, (unsigned long long)d->ino[i], d->type[i],
				 (unsigned long long)st.st_ino, st.st_mode & S_IFMT);
		struct seen *s = seen_get(w, st.st_ino);
		s->type = st.st_mode & S_IFMT;
		s->names++;
		if (S_ISDIR(st.st_mode)) {
			seen_get(w, dir)->subdirs++;
			if (s->names > 1)
				fail_msg("k=%d: directory %llu has two names", w->k,
					 (unsigned long long)st.st_ino);
			s->parent = dir;
			walk_dir(w, fs, st.st_ino, dir, path);
		}
	}
	free(d);
}

/* Everything fsck would look at, through the core and a raw engine scan. */
static void check_consistent(lsmfs *fs, struct run *r, int k)
{
	struct walk w = { .r = r, .k = k };
	struct seen *root = seen_get(&w, FS_ROOT_INO);
	root->type = S_IFDIR;
	root->names = 1;
	walk_dir(&w, fs, FS_ROOT_INO, FS_ROOT_INO, "");
	for (size_t i = 0; i < w.n; i++) {
		struct stat st;
		assert_int_equal(fs_getattr(fs, w.s[i].ino, &st), 0);
		nlink_t want = S_ISDIR(st.st_mode) ? (nlink_t)(2 + w.s[i].subdirs)
						   : (nlink_t)w.s[i].names;
		if (st.st_nlink != want)
			fail_msg("k=%d: inode %llu (0%o) has link count %ju, the tree has %ju", k,
				 (unsigned long long)w.s[i].ino, st.st_mode & S_IFMT,
				 (uintmax_t)st.st_nlink, (uintmax_t)want);
	}

	/* raw scan: I, D, B, X, L, O records */
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fs_db(fs), NULL, &it), 0);
	uint64_t n_inodes = 0, n_files = 0, n_dirs = 0, n_links = 0, n_special = 0;
	uint64_t cur = 0, blocks = 0;
	fs_attr ca;
	bool have = false;
	memset(&ca, 0, sizeof(ca));
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *key = lsm_iter_key(it, &kl);
		const char *val = lsm_iter_value(it, &vl);
		fs_key fk;
		if (fs_key_parse(key, kl, &fk) != 0)
			fail_msg("k=%d: malformed key (%zu bytes): %s", k, kl, fs_errdetail());
		switch (fk.type) {
		case FS_K_INODE: {
			fs_attr a;
			if (fs_inode_decode(val, vl, fk.ino, &a, NULL, NULL) != 0)
				fail_msg("k=%d: %s", k, fs_errdetail());
			struct seen *s = NULL;
			for (size_t i = 0; i < w.n; i++)
				if (w.s[i].ino == fk.ino)
					s = &w.s[i];
			if (!s)
				fail_msg("k=%d: inode %llu has no name (and orphans were reclaimed)",
					 k, (unsigned long long)fk.ino);
			if (S_ISDIR(a.mode) && a.parent != (fk.ino == FS_ROOT_INO ? FS_ROOT_INO : s->parent))
				fail_msg("k=%d: directory %llu records parent %llu, is in %llu", k,
					 (unsigned long long)fk.ino, (unsigned long long)a.parent,
					 (unsigned long long)s->parent);
			n_inodes++;
			n_files += S_ISREG(a.mode);
			n_dirs += S_ISDIR(a.mode);
			n_links += S_ISLNK(a.mode);
			n_special += !S_ISREG(a.mode) && !S_ISDIR(a.mode) && !S_ISLNK(a.mode);
			break;
		}
		case FS_K_BLOCK:
			if (!have || cur != fk.ino) {
				/* the B range of a new inode starts */
				if (have && blocks != ca.nblocks)
					fail_msg("k=%d: inode %llu has %llu blocks, records %llu", k,
						 (unsigned long long)cur, (unsigned long long)blocks,
						 (unsigned long long)ca.nblocks);
				char ik[FS_KEY_INO_LEN];
				void *v = NULL;
				size_t ivl;
				fs_key_ino(ik, FS_K_INODE, fk.ino);
				if (lsm_get(fs_db(fs), NULL, ik, sizeof(ik), &v, &ivl) != 0)
					fail_msg("k=%d: data blocks of missing inode %llu", k,
						 (unsigned long long)fk.ino);
				assert_int_equal(fs_inode_decode(v, ivl, fk.ino, &ca, NULL, NULL), 0);
				free(v);
				if (!S_ISREG(ca.mode) || (ca.flags & FS_IF_INLINE))
					fail_msg("k=%d: data blocks of inline or non-file inode %llu", k,
						 (unsigned long long)fk.ino);
				cur = fk.ino;
				blocks = 0;
				have = true;
			}
			if (fk.block >= ca.maxblk)
				fail_msg("k=%d: inode %llu block %llu beyond maxblk %llu", k,
					 (unsigned long long)fk.ino, (unsigned long long)fk.block,
					 (unsigned long long)ca.maxblk);
			blocks++;
			break;
		case FS_K_DENTRY: {
			uint64_t child;
			uint32_t type;
			if (fs_dentry_decode(val, vl, &child, &type) != 0)
				fail_msg("k=%d: %s", k, fs_errdetail());
			break;	/* resolution was checked by the walk */
		}
		case FS_K_XATTR:
		case FS_K_SYMLINK: {
			char ik[FS_KEY_INO_LEN];
			void *v = NULL;
			size_t ivl;
			fs_attr a;
			fs_key_ino(ik, FS_K_INODE, fk.ino);
			if (lsm_get(fs_db(fs), NULL, ik, sizeof(ik), &v, &ivl) != 0)
				fail_msg("k=%d: %c record of missing inode %llu", k, fk.type,
					 (unsigned long long)fk.ino);
			assert_int_equal(fs_inode_decode(v, ivl, fk.ino, &a, NULL, NULL), 0);
			free(v);
			if (fk.type == FS_K_SYMLINK && !S_ISLNK(a.mode))
				fail_msg("k=%d: symlink target of a non-symlink", k);
			if (fk.type == FS_K_XATTR && !(a.flags & FS_IF_XATTR))
				fail_msg("k=%d: xattr of inode %llu without its flag", k,
					 (unsigned long long)fk.ino);
			break;
		}
		case FS_K_ORPHAN:
			fail_msg("k=%d: orphan record of %llu survived the mount", k,
				 (unsigned long long)fk.ino);
			break;
		default:
			break;
		}
	}
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	if (have && blocks != ca.nblocks)
		fail_msg("k=%d: inode %llu has %llu blocks, records %llu", k, (unsigned long long)cur,
			 (unsigned long long)blocks, (unsigned long long)ca.nblocks);
	/* every inode named in the tree has a record */
	if (n_inodes != w.n)
		fail_msg("k=%d: %llu inode records, %zu inodes in the tree", k,
			 (unsigned long long)n_inodes, w.n);
	fs_stats fst;
	assert_int_equal(fs_stats_get(fs, &fst), 0);
	if (fst.inodes != n_inodes || fst.files != n_files || fst.dirs != n_dirs ||
	    fst.symlinks != n_links || fst.specials != n_special || fst.orphans != 0)
		fail_msg("k=%d: counters %llu/%llu/%llu, records %llu/%llu/%llu", k,
			 (unsigned long long)fst.inodes, (unsigned long long)fst.files,
			 (unsigned long long)fst.dirs, (unsigned long long)n_inodes,
			 (unsigned long long)n_files, (unsigned long long)n_dirs);
	free(w.s);
}

/* Resolve a path through lookups: its inode, or 0 if a component is
 * missing. */
static uint64_t resolve(lsmfs *fs, const char *path, struct stat *st)
{
	fs_cred cr = fs_cred_root();
	char buf[96];
	uint64_t ino = FS_ROOT_INO;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int rc = fs_lookup(fs, &cr, ino, c, st);
		if (rc == -ENOENT || rc == -ENOTDIR)
			return 0;
		assert_int_equal(rc, 0);
		ino = st->st_ino;
	}
	return ino;
}

/* Rule 1: every name last changed before the last acknowledged sync. */
static void check_durable(lsmfs *fs, struct run *r, int k)
{
	fs_cred cr = fs_cred_root();
	unsigned char buf[MAXDATA + 10];
	for (int i = 0; i < r->np; i++) {
		struct mpath *p = &r->p[i];
		if (p->last >= r->ack || (p->present && !p->dir && r->o[p->obj].last >= r->ack))
			continue;	/* uncertain */
		if (p->poisoned || (p->obj >= 0 && r->o[p->obj].poisoned))
			continue;	/* a failed call touched it */
		struct stat st;
		uint64_t ino = resolve(fs, p->path, &st);
		if (!p->present) {
			if (ino)
				fail_msg("k=%d: %s came back (removed before the sync of op %d)", k,
					 p->path, r->ack);
			continue;
		}
		if (!ino)
			fail_msg("k=%d: %s lost (made before the sync of op %d)", k, p->path, r->ack);
		if (p->dir) {
			if (!S_ISDIR(st.st_mode) || st.st_ino != p->ino)
				fail_msg("k=%d: %s is not its directory", k, p->path);
			continue;
		}
		struct mobj *o = &r->o[p->obj];
		if (!S_ISREG(st.st_mode) || st.st_ino != o->ino)
			fail_msg("k=%d: %s is inode %llu, want file %llu", k, p->path,
				 (unsigned long long)st.st_ino, (unsigned long long)o->ino);
		if (st.st_nlink != (nlink_t)links(r, p->obj))
			fail_msg("k=%d: %s has link count %ju, want %d", k, p->path,
				 (uintmax_t)st.st_nlink, links(r, p->obj));
		uint64_t fh;
		size_t got;
		assert_int_equal(fs_open(fs, &cr, ino, O_RDONLY, &fh), 0);
		assert_int_equal(fs_read(fs, fh, buf, sizeof(buf), 0, &got), 0);
		assert_int_equal(fs_release(fs, fh), 0);
		if (got != o->size || (size_t)st.st_size != o->size || memcmp(buf, o->data, got) != 0)
			fail_msg("k=%d: %s has %zu bytes (size %lld), its synced content %zu bytes%s", k,
				 p->path, got, (long long)st.st_size, o->size,
				 got == o->size ? " (differs)" : "");
	}
}

/* Rule 4: the recovered filesystem takes writes and keeps them. */
static void check_usable(struct run *r, const fs_mount_opts *mo, int k)
{
	fs_cred cr = fs_cred_root();
	struct stat st;
	uint64_t fh;
	size_t w;
	char name[32];
	snprintf(name, sizeof(name), "post%d", k);
	assert_int_equal(fs_create(r->fs, &cr, FS_ROOT_INO, name, 0644, O_RDWR, &st, &fh), 0);
	assert_int_equal(fs_write(r->fs, &cr, fh, "after the crash", 15, 0, 0, &w), 0);
	assert_int_equal(fs_fsync(r->fs, fh, false), 0);
	assert_int_equal(fs_release(r->fs, fh), 0);
	assert_int_equal(fs_unmount(r->fs), 0);
	r->fs = NULL;
	assert_int_equal(fs_mount(STORE, mo, &r->fs), 0);
	char buf[32];
	size_t got;
	assert_int_equal(fs_lookup(r->fs, &cr, FS_ROOT_INO, name, &st), 0);
	assert_int_equal(fs_open(r->fs, &cr, st.st_ino, O_RDONLY, &fh), 0);
	assert_int_equal(fs_read(r->fs, fh, buf, sizeof(buf), 0, &got), 0);
	assert_int_equal(fs_release(r->fs, fh), 0);
	assert_int_equal(got, 15);
	assert_memory_equal(buf, "after the crash", 15);
	assert_int_equal(fs_unlink(r->fs, &cr, FS_ROOT_INO, name), 0);
	check_consistent(r->fs, r, k);
}

/* ---- the sweep ------------------------------------------------------------ */

struct env {
	lsm_env *base, *env;
	lsm_options lo;
	fs_mount_opts mo;
};

static void env_new(struct env *e)
{
	e->base = lsm_env_mem_new();
	e->env = lsm_env_fault_new(e->base);
	assert_non_null(e->env);
	lsm_options_init(&e->lo);
	e->lo.env = e->env;
	e->lo.write_buffer_size = 24 << 10;	/* flushes and compactions all the time */
	e->lo.target_file_size = 16 << 10;
	e->lo.level_base_bytes = 64 << 10;
	e->lo.block_cache_size = 1 << 20;
	fs_mount_opts_init(&e->mo);
	e->mo.lsm = &e->lo;
	fs_mkfs_opts mk;
	fs_mkfs_opts_init(&mk);
	mk.block_size = 1024;
	mk.inline_max = 200;
	assert_int_equal(fs_mkfs(STORE, &mk, &e->lo), 0);
}

static void env_free(struct env *e)
{
	e->env->destroy(e->env);
	e->base->destroy(e->base);
}

/* One run crashed after sync k (0: no crash); nested > 0 also cuts the
 * remount after its nested-th sync.  Returns the syncs the workload made. */
static uint64_t crash_run(struct run *r, uint64_t seed, uint64_t k, uint64_t nested)
{
	struct env e;
	env_new(&e);
	assert_int_equal(fs_mount(STORE, &e.mo, &r->fs), 0);
	uint64_t before = lsm_env_fault_count(e.env, LSM_FAULT_SYNC);
	lsm_env_fault_crash_after_sync(e.env, k);
	workload(r, seed);
	uint64_t syncs = lsm_env_fault_count(e.env, LSM_FAULT_SYNC) - before;
	if (!lsm_env_fault_crashed(e.env) && fs_sync(r->fs) == 0)
		r->ack = NOPS;	/* the sync point lay beyond the workload */
	fs_abort(r->fs);	/* all I/O fails now: must not hang */
	r->fs = NULL;
	lsm_env_fault_crash_after_sync(e.env, 0);
	assert_int_equal(lsm_env_fault_power_cut(e.env), 0);
	if (nested) {
		/* the recovery is cut too, then retried */
		lsm_env_fault_crash_after_sync(e.env, nested);
		lsmfs *fs = NULL;
		if (fs_mount(STORE, &e.mo, &fs) == 0)
			fs_abort(fs);
		lsm_env_fault_crash_after_sync(e.env, 0);
		assert_int_equal(lsm_env_fault_power_cut(e.env), 0);
	}
	int rc = fs_mount(STORE, &e.mo, &r->fs);
	if (rc != 0)
		fail_msg("k=%llu: remount after the power cut: %s: %s", (unsigned long long)k,
			 fs_strerror(rc), fs_errdetail());
	check_durable(r->fs, r, (int)k);
	check_consistent(r->fs, r, (int)k);
	check_usable(r, &e.mo, (int)k);
	assert_int_equal(fs_unmount(r->fs), 0);
	r->fs = NULL;
	env_free(&e);
	return syncs;
}

static void sweep(uint64_t seed)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->o = calloc(MAXO, sizeof(*r->o));
	assert_non_null(r->o);
	uint64_t syncs = crash_run(r, seed, 0, 0);
	int acked = r->ack;
	assert_true(syncs > 10);
	assert_int_equal(acked, NOPS);
	/* Background work makes the count vary a little from run to run:
	 * sweep a few past it (those runs end with a clean sync). */
	uint64_t crashed = 0;
	for (uint64_t k = 1; k <= syncs + 3; k++) {
		crash_run(r, seed, k, k % 7 == 0 ? 1 + k % 3 : 0);
		crashed += r->ack < NOPS;
	}
	print_message("seed %llu: %llu sync points, %llu runs crashed inside the workload\n",
		      (unsigned long long)seed, (unsigned long long)syncs,
		      (unsigned long long)crashed);
	assert_true(crashed >= syncs / 2);
	free(r->o);
	free(r);
}

/*
 * Out of space below the filesystem: the n-th append of the engine (a WAL
 * record, a table or manifest write of a flush or compaction) fails with
 * -ENOSPC, for n over the whole workload.  Every call returns 0 or -ENOSPC
 * (never EIO); the engine's latched out-of-space error is retried by the
 * next write, so the workload goes on (or, every other n, stops at the
 * first sync after the failure); then a sync must succeed and the power is
 * cut: everything but what the failed calls touched is exactly as the
 * model says (a log retired after a failed append was synced) and the
 * tree is consistent.
 */
static void enospc_run(struct run *r, uint64_t seed, uint64_t n, uint64_t *writes, int *nfail)
{
	struct env e;
	env_new(&e);
	assert_int_equal(fs_mount(STORE, &e.mo, &r->fs), 0);
	uint64_t before = lsm_env_fault_count(e.env, LSM_FAULT_WRITE);
	lsm_env_fault_fail_nth(e.env, LSM_FAULT_WRITE, n, -ENOSPC);
	bool stop = n % 2;
	*nfail = workload_ex(r, seed, true, stop);
	*writes = lsm_env_fault_count(e.env, LSM_FAULT_WRITE) - before;
	if (!stop || !*nfail) {
		int rc = fs_sync(r->fs);
		if (rc != 0)
			fail_msg("n=%llu: sync after the workload: %s (%s)", (unsigned long long)n,
				 fs_strerror(rc), fs_errdetail());
		r->ack = NOPS;
	}
	fs_stats st;
	assert_int_equal(fs_stats_get(r->fs, &st), 0);
	assert_int_equal(st.engine.background_error, 0);
	fs_abort(r->fs);
	r->fs = NULL;
	assert_int_equal(lsm_env_fault_power_cut(e.env), 0);
	int rc = fs_mount(STORE, &e.mo, &r->fs);
	if (rc != 0)
		fail_msg("n=%llu: mount after the power cut: %s: %s", (unsigned long long)n,
			 fs_strerror(rc), fs_errdetail());
	check_durable(r->fs, r, (int)n);
	check_consistent(r->fs, r, (int)n);
	check_usable(r, &e.mo, (int)n);
	assert_int_equal(fs_unmount(r->fs), 0);
	r->fs = NULL;
	env_free(&e);
}

static void test_enospc_sweep(void **state)
{
	(void)state;
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->o = calloc(MAXO, sizeof(*r->o));
	assert_non_null(r->o);
	uint64_t writes = 0, seed = 0xe05bcull;
	int nfail, failed_runs = 0;
	enospc_run(r, seed, 0, &writes, &nfail);
	assert_int_equal(nfail, 0);
	/* the sweep: odd n cut the power right after the first sync that
	 * follows the failure, even n run the workload to its end */
	assert_true(writes > 50);
	uint64_t step = writes / 60 ? writes / 60 : 1, runs = 0;
	for (uint64_t n = 1; n <= writes; n += step, runs++) {
		uint64_t w;
		enospc_run(r, seed, n, &w, &nfail);
		failed_runs += nfail > 0;
	}
	print_message("%llu appends in the workload, %llu runs, %d with a call failing ENOSPC\n",
		      (unsigned long long)writes, (unsigned long long)runs, failed_runs);
	assert_true(failed_runs > 0);
	free(r->o);
	free(r);
}

static void test_powerloss_sweep_a(void **state)
{
	(void)state;
	sweep(0x5eed0001);
}

static void test_powerloss_sweep_b(void **state)
{
	(void)state;
	sweep(0xbadc0ffee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_powerloss_sweep_a),
		cmocka_unit_test(test_powerloss_sweep_b),
		cmocka_unit_test(test_enospc_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
