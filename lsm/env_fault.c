/*
 * env_fault.c — a fault-injecting env wrapped around any base env (posix
 * or mem; the base is not owned).  Tests use it to fail the Nth call of a
 * kind, to "kill the process" at the Nth sync, and to cut the power.
 *
 * Counting.  Every I/O call is counted under its kind and under
 * LSM_FAULT_ANY:
 *   OPEN   open, lock          READ   pread, fsize, size, list
 *   WRITE  append              SYNC   sync, sync_dir
 *   RENAME rename              REMOVE remove
 *   (ANY only) link, mkdir
 * close, unlock, now_micros, sleep_micros are never counted and never
 * fail: they release resources, and a test that fails "the Nth call" wants
 * a call whose failure the engine can observe.
 *
 * fail_nth(kind, n, err): the n-th call of kind counted from the arming
 * call returns err without reaching base (no effect at all); the arm is
 * then spent.  An ANY arm and a kind arm are independent.
 *
 * crash_after_sync(n): the n-th sync/sync_dir from now is forwarded (its
 * result is returned), and from then on the env is "crashed": every
 * counted call fails with -EIO and does nothing.  close and unlock still
 * release the base's resources (a dying process drops its descriptors and
 * locks) but perform nothing durable.
 *
 * Power cut.  The env keeps a model of what base holds durably, as a
 * journaling file system with ordered data would give after power loss:
 *  - File data.  Each file opened for writing through the env has a record
 *    (struct fault_rec): bytes appended (len) and bytes made durable by a
 *    sync (durable).  A file that already existed when first opened for
 *    append counts its existing bytes as durable; open with LSM_OPEN_WRITE
 *    truncates, so durable restarts at 0.  Records follow renames (data
 *    belongs to the file, not the name).  A hard link gets its own record,
 *    a copy of the source's.  Lock files are not tracked.
 *  - Names.  A file created through the env (open, lock, link) and a
 *    rename are journalled as pending namespace operations, committed by a
 *    successful sync_dir of the directory holding the new name (for a
 *    rename: the target's directory).  A rename that replaces an existing
 *    file keeps a copy of the replaced file's durable content, so undoing
 *    it can bring it back.
 *  - Not modelled: remove and mkdir are durable at once (a removed file
 *    never comes back); files the env never opened for writing are
 *    durable as they are.
 * lsm_env_fault_power_cut(): (1) every open handle dies: its base handle is
 * closed (locks released) and further calls on it return -EIO; close and
 * unlock of a dead handle just free it.  (2) Pending namespace operations
 * are undone newest first: a created name is removed; a rename is moved
 * back (target to source) and the replaced target rewritten with its saved
 * content; a rename whose target is gone by now is skipped.  (3) Every
 * tracked file is cut back to its durable length using only the env table:
 * read the durable prefix, rewrite the file with LSM_OPEN_WRITE, append,
 * sync.  (4) Records, journal, counters, arms and the crash flag are reset:
 * the env is usable as after a reboot and everything in base is durable.
 * Paths in records and journal are normalised lexically ("a//b/" is "a/b")
 * so "db/x" and "db//x" match; no symlinks are resolved.
 *
 * Threads: one mutex guards the counters, arms, records, journal and handle
 * list.  Namespace calls (open, lock, rename, remove, link, sync_dir) run
 * under it so the model changes atomically with base; data calls (pread,
 * append, sync, fsize) run outside it, so readers and writers overlap as
 * with the base alone.  power_cut and destroy REQUIRE that no other call is
 * in flight.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

struct fault_rec {		/* a file written through the env */
	char *path;		/* normalised name; NULL once the name is gone */
	uint64_t len;		/* bytes the file holds, as far as we wrote */
	uint64_t durable;	/* bytes made durable by sync */
	uint64_t gen;		/* bumped on truncation (races with sync) */
	unsigned refs;		/* the table's (while path) + open handles' */
	struct fault_rec *prev, *next;	/* the table, while path != NULL */
};

enum fault_op_kind { FAULT_OP_CREATE, FAULT_OP_RENAME };

struct fault_op {		/* a namespace change not yet committed */
	enum fault_op_kind kind;
	char *path;		/* CREATE: the new name; RENAME: the target */
	char *from;		/* RENAME: the source */
	char *dir;		/* the directory whose sync_dir commits it */
	bool replaced;		/* RENAME replaced an existing file ... */
	char *old;		/* ... whose durable content this is */
	size_t old_len;
	struct fault_op *next;	/* newest first */
};

struct fault_file {		/* our lsm_file */
	lsm_file *base;		/* NULL once the handle died in a power cut */
	struct fault_rec *rec;	/* files opened for writing */
	bool is_lock;
	struct fault_file *prev, *next;
};

struct fault_env {
	lsm_env env;		/* first: an lsm_env * is a struct fault_env * */
	lsm_env *base;
	pthread_mutex_t mu;
	uint64_t count[LSM_FAULT_NKINDS];
	uint64_t fail_at[LSM_FAULT_NKINDS];	/* count that fails; 0: none */
	int fail_err[LSM_FAULT_NKINDS];
	uint64_t crash_at;	/* count[SYNC] that crashes; 0: none */
	bool crashed;
	uint64_t free_space;	/* UINT64_MAX: ask base */
	struct fault_rec *recs;
	struct fault_op *ops;
	struct fault_file *files;
};

static int fault_open(lsm_env *env, const char *path, int flags,
		      lsm_file **out);

static struct fault_env *fault_e(lsm_env *env)
{
	return (struct fault_env *)env;
}

static struct fault_file *fault_f(lsm_file *f)
{
	return (struct fault_file *)f;
}

static bool fault_is(lsm_env *env)
{
	return env && env->open == fault_open;
}

/* ---- paths ---------------------------------------------------------------- */

/* "a//b/./c/" -> "a/b/c"; the relative root is "", the absolute "/". */
static char *fault_norm(const char *path)
{
	size_t n = strlen(path), o = 0;
	char *out = malloc(n + 2);
	const char *p = path;

	if (!out)
		return NULL;
	if (*p == '/')
		out[o++] = '/';
	size_t base = o;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (len == 1 && s[0] == '.')
			continue;
		if (o > base)
			out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	out[o] = '\0';
	return out;
}

/* The directory holding normalised path p, malloc'd. */
static char *fault_parent(const char *p)
{
	const char *s = strrchr(p, '/');

	if (!s)
		return strdup("");
	if (s == p)
		return strdup("/");
	return strndup(p, (size_t)(s - p));
}

/* ---- records -------------------------------------------------------------- */

static struct fault_rec *fault_find_rec(struct fault_env *fe, const char *p)
{
	for (struct fault_rec *r = fe->recs; r; r = r->next)
		if (strcmp(r->path, p) == 0)
			return r;
	return NULL;
}

static void fault_rec_unref(struct fault_rec *r)
{
	if (r && --r->refs == 0) {
		free(r->path);
		free(r);
	}
}

/* Put r (path set) in the table, which holds one reference. */
static void fault_rec_insert(struct fault_env *fe, struct fault_rec *r)
{
	r->prev = NULL;
	r->next = fe->recs;
	if (fe->recs)
		fe->recs->prev = r;
	fe->recs = r;
	r->refs++;
}

/* The name of r is gone: take it out of the table. */
static void fault_rec_orphan(struct fault_env *fe, struct fault_rec *r)
{
	if (!r)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		fe->recs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r->path);
	r->path = NULL;
	fault_rec_unref(r);
}

/* ---- journal -------------------------------------------------------------- */

static void fault_op_free(struct fault_op *op)
{
	if (!op)
		return;
	free(op->path);
	free(op->from);
	free(op->dir);
	free(op->old);
	free(op);
}

/* A CREATE op for normalised path p (malloc'd; NULL on ENOMEM). */
static struct fault_op *fault_op_create(const char *p)
{
	struct fault_op *op = calloc(1, sizeof *op);

	if (!op)
		return NULL;
	op->kind = FAULT_OP_CREATE;
	op->path = strdup(p);
	op->dir = fault_parent(p);
	if (!op->path || !op->dir) {
		fault_op_free(op);
		return NULL;
	}
	return op;
}

static void fault_op_push(struct fault_env *fe, struct fault_op *op)
{
	op->next = fe->ops;
	fe->ops = op;
}

/* Drop pending ops whose new name is p: a remove made them moot. */
static void fault_ops_forget(struct fault_env *fe, const char *p)
{
	for (struct fault_op **pp = &fe->ops; *pp;) {
		struct fault_op *op = *pp;

		if (strcmp(op->path, p) == 0) {
			*pp = op->next;
			fault_op_free(op);
		} else {
			pp = &op->next;
		}
	}
}

/* ---- handles -------------------------------------------------------------- */

static void fault_link_file(struct fault_env *fe, struct fault_file *h)
{
	h->prev = NULL;
	h->next = fe->files;
	if (fe->files)
		fe->files->prev = h;
	fe->files = h;
}

static void fault_unlink_file(struct fault_env *fe, struct fault_file *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		fe->files = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

/* Release h's base handle (and lock); h becomes dead.  REQUIRES: mu. */
static int fault_kill_file(struct fault_env *fe, struct fault_file *h)
{
	int rc = 0;

	if (h->base)
		rc = h->is_lock ? fe->base->unlock(fe->base, h->base) :
				  fe->base->close(fe->base, h->base);
	h->base = NULL;
	fault_rec_unref(h->rec);
	h->rec = NULL;
	return rc;
}

/* ---- the gate every counted call passes ----------------------------------- */

/*
 * Count one call of kind (made on handle h, if any) and decide its fate:
 * 0 to forward it, or the error to return without forwarding.  *crash is
 * set when this is the sync after which the env crashes.  REQUIRES: mu.
 */
static int fault_gate(struct fault_env *fe, enum lsm_fault_kind kind,
		      struct fault_file *h, bool *crash)
{
	int err = 0;
	bool crash_here = false;

	fe->count[LSM_FAULT_ANY]++;
	if (kind != LSM_FAULT_ANY)
		fe->count[kind]++;
	if (fe->crashed)
		return lsm_err(-EIO, "fault env: crashed");
	if (h && !h->base)
		return lsm_err(-EIO, "fault env: file died in a power cut");
	if (kind != LSM_FAULT_ANY && fe->fail_at[kind] &&
	    fe->count[kind] == fe->fail_at[kind]) {
		err = fe->fail_err[kind];
		fe->fail_at[kind] = 0;
	}
	if (fe->fail_at[LSM_FAULT_ANY] &&
	    fe->count[LSM_FAULT_ANY] == fe->fail_at[LSM_FAULT_ANY]) {
		if (!err)
			err = fe->fail_err[LSM_FAULT_ANY];
		fe->fail_at[LSM_FAULT_ANY] = 0;
	}
	if (kind == LSM_FAULT_SYNC && fe->crash_at &&
	    fe->count[LSM_FAULT_SYNC] == fe->crash_at) {
		fe->crash_at = 0;
		crash_here = true;
	}
	if (err) {
		/* An injected failure at the crash point still crashes. */
		if (crash_here)
			fe->crashed = true;
		return lsm_err(err, "fault env: injected failure");
	}
	if (crash)
		*crash = crash_here;
	return 0;
}

static int fault_gate_locked(struct fault_env *fe, enum lsm_fault_kind kind,
			     struct fault_file *h)
{
	pthread_mutex_lock(&fe->mu);
	int rc = fault_gate(fe, kind, h, NULL);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

/* ---- whole-file helpers on base (never counted) --------------------------- */

/* Read the first n bytes of path from base into a malloc'd buffer; *got is
 * set to the bytes actually there (fewer if the file is shorter). */
static int fault_read_prefix(lsm_env *base, const char *path, uint64_t n,
			     char **out, size_t *got)
{
	lsm_file *f = NULL;
	char *buf = NULL;
	int rc;

	*out = NULL;
	*got = 0;
	if (n > SIZE_MAX - 1)
		return -EFBIG;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	LSM_ERR(base->open(base, path, LSM_OPEN_READ, &f));
	LSM_ERR(base->pread(base, f, buf, (size_t)n, 0, got));
	LSM_ERR(base->close(base, f));
	*out = buf;
	return 0;
err:
	if (f)
		base->close(base, f);
	free(buf);
	return rc;
}

/* Replace path's content in base with data, durably. */
static int fault_write_whole(lsm_env *base, const char *path,
			     const void *data, size_t n)
{
	lsm_file *f = NULL;
	int rc;

	LSM_ERR(base->open(base, path, LSM_OPEN_WRITE, &f));
	if (n)
		LSM_ERR(base->append(base, f, data, n));
	LSM_ERR(base->sync(base, f));
	rc = base->close(base, f);
	return rc;
err:
	if (f)
		base->close(base, f);
	return rc;
}

/* ---- the env table -------------------------------------------------------- */

static int fault_open(lsm_env *env, const char *path, int flags,
		      lsm_file **out)
{
	struct fault_env *fe = fault_e(env);
	lsm_env *base = fe->base;
	struct fault_file *h = calloc(1, sizeof *h);
	struct fault_rec *rec = calloc(1, sizeof *rec);
	struct fault_op *op = NULL;
	char *p = fault_norm(path);
	bool writing = flags & (LSM_OPEN_WRITE | LSM_OPEN_APPEND), existed;
	uint64_t size = 0;
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_OPEN, NULL, NULL));
	if (!h || !rec || !p)
		LSM_ERR(-ENOMEM);
	existed = writing && base->size(base, path, &size) == 0;
	if (writing && !existed) {
		op = fault_op_create(p);
		if (!op)
			LSM_ERR(-ENOMEM);
	}
	LSM_ERR(base->open(base, path, flags, &h->base));
	/* From here nothing can fail: the model follows base. */
	if (writing) {
		struct fault_rec *r = fault_find_rec(fe, p);

		if (!r) {
			r = rec;
			rec = NULL;
			r->path = p;
			p = NULL;
			r->len = r->durable = existed ? size : 0;
			fault_rec_insert(fe, r);
		}
		if (flags & LSM_OPEN_WRITE) {
			r->len = r->durable = 0;
			r->gen++;
		}
		r->refs++;
		h->rec = r;
		if (op) {
			fault_op_push(fe, op);
			op = NULL;
		}
	}
	fault_link_file(fe, h);
	pthread_mutex_unlock(&fe->mu);
	*out = (lsm_file *)h;
	free(rec);
	free(p);
	return 0;
err:
	pthread_mutex_unlock(&fe->mu);
	fault_op_free(op);
	free(h);
	free(rec);
	free(p);
	return rc;
}

/* close and unlock: never counted, never failed; free a dead handle. */
static int fault_release(lsm_env *env, lsm_file *f)
{
	struct fault_env *fe = fault_e(env);
	struct fault_file *h = fault_f(f);
	int rc;

	if (!h)
		return 0;
	pthread_mutex_lock(&fe->mu);
	fault_unlink_file(fe, h);
	rc = fault_kill_file(fe, h);
	pthread_mutex_unlock(&fe->mu);
	free(h);
	return rc;
}

static int fault_close(lsm_env *env, lsm_file *f)
{
	return fault_release(env, f);
}

static int fault_pread(lsm_env *env, lsm_file *f, void *buf, size_t n,
		       uint64_t off, size_t *got)
{
	struct fault_env *fe = fault_e(env);
	struct fault_file *h = fault_f(f);
	int rc = fault_gate_locked(fe, LSM_FAULT_READ, h);

	if (rc < 0) {
		*got = 0;
		return rc;
	}
	return fe->base->pread(fe->base, h->base, buf, n, off, got);
}

static int fault_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	struct fault_env *fe = fault_e(env);
	struct fault_file *h = fault_f(f);
	int rc = fault_gate_locked(fe, LSM_FAULT_WRITE, h);

	if (rc < 0)
		return rc;
	rc = fe->base->append(fe->base, h->base, buf, n);
	if (rc == 0 && h->rec) {
		pthread_mutex_lock(&fe->mu);
		h->rec->len += n;
		pthread_mutex_unlock(&fe->mu);
	}
	return rc;
}

static int fault_sync(lsm_env *env, lsm_file *f)
{
	struct fault_env *fe = fault_e(env);
	struct fault_file *h = fault_f(f);
	uint64_t len = 0, gen = 0;
	bool crash = false;
	int rc;

	pthread_mutex_lock(&fe->mu);
	rc = fault_gate(fe, LSM_FAULT_SYNC, h, &crash);
	if (rc == 0 && h->rec) {
		/* Only what was appended before the sync starts is durable. */
		len = h->rec->len;
		gen = h->rec->gen;
	}
	pthread_mutex_unlock(&fe->mu);
	if (rc < 0)
		return rc;
	rc = fe->base->sync(fe->base, h->base);
	pthread_mutex_lock(&fe->mu);
	if (rc == 0 && h->rec && h->rec->gen == gen && len > h->rec->durable)
		h->rec->durable = len;
	if (crash)
		fe->crashed = true;
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fault_fsize(lsm_env *env, lsm_file *f, uint64_t *size)
{
	struct fault_env *fe = fault_e(env);
	struct fault_file *h = fault_f(f);
	int rc = fault_gate_locked(fe, LSM_FAULT_READ, h);

	if (rc < 0)
		return rc;
	return fe->base->fsize(fe->base, h->base, size);
}

static int fault_size(lsm_env *env, const char *path, uint64_t *size)
{
	struct fault_env *fe = fault_e(env);
	int rc = fault_gate_locked(fe, LSM_FAULT_READ, NULL);

	if (rc < 0)
		return rc;
	return fe->base->size(fe->base, path, size);
}

static int fault_remove(lsm_env *env, const char *path)
{
	struct fault_env *fe = fault_e(env);
	char *p = fault_norm(path);
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_REMOVE, NULL, NULL));
	if (!p)
		LSM_ERR(-ENOMEM);
	LSM_ERR(fe->base->remove(fe->base, path));
	fault_rec_orphan(fe, fault_find_rec(fe, p));
	fault_ops_forget(fe, p);
err:
	pthread_mutex_unlock(&fe->mu);
	free(p);
	return rc;
}

static int fault_rename(lsm_env *env, const char *from, const char *to)
{
	struct fault_env *fe = fault_e(env);
	lsm_env *base = fe->base;
	struct fault_op *op = calloc(1, sizeof *op);
	char *pf = fault_norm(from), *pt = fault_norm(to);
	uint64_t size;
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_RENAME, NULL, NULL));
	if (!op || !pf || !pt)
		LSM_ERR(-ENOMEM);
	if (strcmp(pf, pt) == 0) {
		rc = base->rename(base, from, to);
		goto err;	/* nothing changes in the model */
	}
	op->kind = FAULT_OP_RENAME;
	op->path = strdup(pt);
	op->from = strdup(pf);
	op->dir = fault_parent(pt);
	if (!op->path || !op->from || !op->dir)
		LSM_ERR(-ENOMEM);
	if (base->size(base, to, &size) == 0) {
		/* Keep what a power cut must bring back at `to`. */
		struct fault_rec *tr = fault_find_rec(fe, pt);

		LSM_ERR(fault_read_prefix(base, to, tr ? tr->durable : size,
					  &op->old, &op->old_len));
		op->replaced = true;
	}
	LSM_ERR(base->rename(base, from, to));
	fault_rec_orphan(fe, fault_find_rec(fe, pt));
	struct fault_rec *fr = fault_find_rec(fe, pf);
	if (fr) {
		free(fr->path);
		fr->path = pt;
		pt = NULL;
	}
	fault_op_push(fe, op);
	op = NULL;
err:
	pthread_mutex_unlock(&fe->mu);
	fault_op_free(op);
	free(pf);
	free(pt);
	return rc;
}

static int fault_link(lsm_env *env, const char *from, const char *to)
{
	struct fault_env *fe = fault_e(env);
	struct fault_op *op = NULL;
	struct fault_rec *rec = calloc(1, sizeof *rec);
	char *pf = fault_norm(from), *pt = fault_norm(to);
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_ANY, NULL, NULL));
	if (!rec || !pf || !pt)
		LSM_ERR(-ENOMEM);
	op = fault_op_create(pt);
	if (!op)
		LSM_ERR(-ENOMEM);
	LSM_ERR(fe->base->link(fe->base, from, to));
	struct fault_rec *fr = fault_find_rec(fe, pf);
	if (fr) {
		rec->path = pt;
		pt = NULL;
		rec->len = fr->len;
		rec->durable = fr->durable;
		fault_rec_insert(fe, rec);
		rec = NULL;
	}
	fault_op_push(fe, op);
	op = NULL;
err:
	pthread_mutex_unlock(&fe->mu);
	fault_op_free(op);
	free(rec);
	free(pf);
	free(pt);
	return rc;
}

static int fault_mkdir(lsm_env *env, const char *path)
{
	struct fault_env *fe = fault_e(env);
	int rc = fault_gate_locked(fe, LSM_FAULT_ANY, NULL);

	if (rc < 0)
		return rc;
	return fe->base->mkdir(fe->base, path);
}

static int fault_list(lsm_env *env, const char *dir, char ***names,
		      size_t *n)
{
	struct fault_env *fe = fault_e(env);
	int rc = fault_gate_locked(fe, LSM_FAULT_READ, NULL);

	if (rc < 0)
		return rc;
	return fe->base->list(fe->base, dir, names, n);
}

static int fault_sync_dir(lsm_env *env, const char *dir)
{
	struct fault_env *fe = fault_e(env);
	char *d = fault_norm(dir);
	bool crash = false;
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_SYNC, NULL, &crash));
	if (!d)
		LSM_ERR(-ENOMEM);
	rc = fe->base->sync_dir(fe->base, dir);
	if (rc == 0) {
		/* Every name change in this directory is durable now. */
		for (struct fault_op **pp = &fe->ops; *pp;) {
			struct fault_op *op = *pp;

			if (strcmp(op->dir, d) == 0) {
				*pp = op->next;
				fault_op_free(op);
			} else {
				pp = &op->next;
			}
		}
	}
	if (crash)
		fe->crashed = true;
err:
	pthread_mutex_unlock(&fe->mu);
	free(d);
	return rc;
}

static int fault_lock(lsm_env *env, const char *path, const char *holder,
		      lsm_file **lock, char *other, size_t other_len)
{
	struct fault_env *fe = fault_e(env);
	lsm_env *base = fe->base;
	struct fault_file *h = calloc(1, sizeof *h);
	struct fault_op *op = NULL;
	char *p = fault_norm(path);
	uint64_t size;
	int rc;

	pthread_mutex_lock(&fe->mu);
	LSM_ERR(fault_gate(fe, LSM_FAULT_OPEN, NULL, NULL));
	if (!h || !p)
		LSM_ERR(-ENOMEM);
	if (base->size(base, path, &size) < 0) {
		op = fault_op_create(p);
		if (!op)
			LSM_ERR(-ENOMEM);
	}
	LSM_ERR(base->lock(base, path, holder, &h->base, other, other_len));
	h->is_lock = true;
	if (op) {
		fault_op_push(fe, op);
		op = NULL;
	}
	fault_link_file(fe, h);
	pthread_mutex_unlock(&fe->mu);
	free(p);
	*lock = (lsm_file *)h;
	return 0;
err:
	pthread_mutex_unlock(&fe->mu);
	fault_op_free(op);
	free(h);
	free(p);
	return rc;
}

static int fault_unlock(lsm_env *env, lsm_file *lock)
{
	return fault_release(env, lock);
}

static uint64_t fault_now_micros(lsm_env *env)
{
	lsm_env *base = fault_e(env)->base;
	return base->now_micros(base);
}

static void fault_sleep_micros(lsm_env *env, uint64_t micros)
{
	lsm_env *base = fault_e(env)->base;
	base->sleep_micros(base, micros);
}

/* Forget the whole model: records, journal, counters, arms, crash flag.
 * REQUIRES: mu; every handle already dead. */
static void fault_reset(struct fault_env *fe)
{
	while (fe->recs)
		fault_rec_orphan(fe, fe->recs);
	while (fe->ops) {
		struct fault_op *op = fe->ops;

		fe->ops = op->next;
		fault_op_free(op);
	}
	memset(fe->count, 0, sizeof fe->count);
	memset(fe->fail_at, 0, sizeof fe->fail_at);
	memset(fe->fail_err, 0, sizeof fe->fail_err);
	fe->crash_at = 0;
	fe->crashed = false;
}

static void fault_destroy(lsm_env *env)
{
	struct fault_env *fe = fault_e(env);

	if (!fe)
		return;
	pthread_mutex_lock(&fe->mu);
	/* Handles left open are the caller's bug; release them so the base
	 * keeps no descriptor or lock of ours. */
	while (fe->files) {
		struct fault_file *h = fe->files;

		fault_unlink_file(fe, h);
		fault_kill_file(fe, h);
		free(h);
	}
	fault_reset(fe);
	pthread_mutex_unlock(&fe->mu);
	pthread_mutex_destroy(&fe->mu);
	free(fe);
}

/* ---- the public knobs ----------------------------------------------------- */

static int fault_free_space(lsm_env *env, const char *dir, uint64_t *bytes)
{
	struct fault_env *fe = fault_e(env);
	pthread_mutex_lock(&fe->mu);
	uint64_t fs = fe->free_space;
	pthread_mutex_unlock(&fe->mu);
	if (fs != UINT64_MAX) {
		*bytes = fs;
		return 0;
	}
	if (!fe->base->free_space)
		return -ENOTSUP;
	return fe->base->free_space(fe->base, dir, bytes);
}

void lsm_env_fault_set_free_space(lsm_env *env, uint64_t bytes)
{
	if (!fault_is(env))
		return;
	struct fault_env *fe = fault_e(env);
	pthread_mutex_lock(&fe->mu);
	fe->free_space = bytes;
	pthread_mutex_unlock(&fe->mu);
}

lsm_env *lsm_env_fault_new(lsm_env *base)
{
	struct fault_env *fe;

	if (!base)
		return NULL;
	fe = calloc(1, sizeof *fe);
	if (!fe)
		return NULL;
	if (pthread_mutex_init(&fe->mu, NULL) != 0) {
		free(fe);
		return NULL;
	}
	fe->base = base;
	fe->env.open = fault_open;
	fe->env.close = fault_close;
	fe->env.pread = fault_pread;
	fe->env.append = fault_append;
	fe->env.sync = fault_sync;
	fe->env.fsize = fault_fsize;
	fe->env.size = fault_size;
	fe->env.remove = fault_remove;
	fe->env.rename = fault_rename;
	fe->env.link = fault_link;
	fe->env.mkdir = fault_mkdir;
	fe->env.list = fault_list;
	fe->env.sync_dir = fault_sync_dir;
	fe->env.lock = fault_lock;
	fe->env.unlock = fault_unlock;
	fe->env.now_micros = fault_now_micros;
	fe->env.sleep_micros = fault_sleep_micros;
	fe->env.destroy = fault_destroy;
	fe->env.free_space = fault_free_space;
	fe->free_space = UINT64_MAX;
	return &fe->env;
}

void lsm_env_fault_fail_nth(lsm_env *env, enum lsm_fault_kind kind,
			    uint64_t n, int err)
{
	struct fault_env *fe = fault_e(env);

	if (!fault_is(env) || (unsigned)kind >= LSM_FAULT_NKINDS)
		return;
	pthread_mutex_lock(&fe->mu);
	fe->fail_at[kind] = n ? fe->count[kind] + n : 0;
	fe->fail_err[kind] = err < 0 ? err : -EIO;
	pthread_mutex_unlock(&fe->mu);
}

uint64_t lsm_env_fault_count(lsm_env *env, enum lsm_fault_kind kind)
{
	struct fault_env *fe = fault_e(env);
	uint64_t n;

	if (!fault_is(env) || (unsigned)kind >= LSM_FAULT_NKINDS)
		return 0;
	pthread_mutex_lock(&fe->mu);
	n = fe->count[kind];
	pthread_mutex_unlock(&fe->mu);
	return n;
}

void lsm_env_fault_crash_after_sync(lsm_env *env, uint64_t n)
{
	struct fault_env *fe = fault_e(env);

	if (!fault_is(env))
		return;
	pthread_mutex_lock(&fe->mu);
	fe->crash_at = n ? fe->count[LSM_FAULT_SYNC] + n : 0;
	pthread_mutex_unlock(&fe->mu);
}

bool lsm_env_fault_crashed(lsm_env *env)
{
	struct fault_env *fe = fault_e(env);
	bool c;

	if (!fault_is(env))
		return false;
	pthread_mutex_lock(&fe->mu);
	c = fe->crashed;
	pthread_mutex_unlock(&fe->mu);
	return c;
}

/* Undo one pending namespace op (power cut step 2).  REQUIRES: mu. */
static int fault_undo_op(struct fault_env *fe, struct fault_op *op)
{
	lsm_env *base = fe->base;
	int rc;

	if (op->kind == FAULT_OP_CREATE) {
		rc = base->remove(base, op->path);
		if (rc == -ENOENT)
			rc = 0;
		if (rc == 0)
			fault_rec_orphan(fe, fault_find_rec(fe, op->path));
		return rc;
	}
	rc = base->rename(base, op->path, op->from);
	if (rc == -ENOENT)
		return 0;	/* the target is gone since: removes are final */
	if (rc < 0)
		return rc;
	fault_rec_orphan(fe, fault_find_rec(fe, op->from));
	struct fault_rec *r = fault_find_rec(fe, op->path);
	if (r) {
		char *np = strdup(op->from);

		if (!np)
			return -ENOMEM;
		free(r->path);
		r->path = np;
	}
	if (op->replaced)
		return fault_write_whole(base, op->path, op->old, op->old_len);
	return 0;
}

/* Cut r's file back to its durable length (power cut step 3). */
static int fault_cut_rec(lsm_env *base, struct fault_rec *r)
{
	uint64_t size;
	char *buf = NULL;
	size_t got;
	int rc = base->size(base, r->path, &size);

	if (rc == -ENOENT)
		return 0;	/* removed behind our back */
	if (rc < 0 || size == r->durable)
		return rc;
	LSM_ERR(fault_read_prefix(base, r->path, LSM_MIN(size, r->durable),
				  &buf, &got));
	LSM_ERR(fault_write_whole(base, r->path, buf, got));
err:
	free(buf);
	return rc;
}

int lsm_env_fault_power_cut(lsm_env *env)
{
	struct fault_env *fe = fault_e(env);
	int rc = 0, r;

	if (!fault_is(env))
		return lsm_err(LSM_E_INVALID, "power cut: not a fault env");
	pthread_mutex_lock(&fe->mu);
	/* 1: the process dies with the machine. */
	for (struct fault_file *h = fe->files; h; h = h->next)
		fault_kill_file(fe, h);
	/* 2: name changes never committed by sync_dir, newest first. */
	while (fe->ops) {
		struct fault_op *op = fe->ops;

		r = fault_undo_op(fe, op);
		if (r < 0 && rc == 0)
			rc = r;
		fe->ops = op->next;
		fault_op_free(op);
	}
	/* 3: file data never made durable by sync. */
	for (struct fault_rec *rec = fe->recs; rec; rec = rec->next) {
		r = fault_cut_rec(fe->base, rec);
		if (r < 0 && rc == 0)
			rc = r;
	}
	/* 4: reboot. */
	fault_reset(fe);
	pthread_mutex_unlock(&fe->mu);
	if (rc < 0)
		return lsm_err(rc, "power cut: restoring base failed: %s",
			       lsm_strerror(rc));
	return 0;
}
