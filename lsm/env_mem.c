/*
 * env_mem.c — an in-memory env: a private file system per env, for tests
 * that want speed, isolation and no cleanup.
 *
 * Model:
 *  - A file is a node (bytes + reference count).  A name holds one
 *    reference and every open handle holds one, so a file removed (or
 *    renamed over) while open stays readable through its handles, and hard
 *    links are two names on one node.  The node is freed at the last
 *    reference.
 *  - Paths are normalised lexically ("a//b/./c/" is "a/b/c", ".." pops a
 *    component).  Relative paths hang off a relative root "" and absolute
 *    ones off "/"; both roots always exist.
 *  - Directories are implicit: a file "a/b/c" lives in directory "a/b" and
 *    creating it needs no mkdir.  Every ancestor of a created name is
 *    recorded as a directory, as is every mkdir, so directories persist
 *    once their files are gone and an empty mkdir'd directory lists as
 *    empty.  remove of a directory works only when it is empty.
 *  - The lock is a flag on the lock file's node, so a second lock of the
 *    same file (by any name) fails with LSM_E_LOCKED and the holder line.
 *  - sync and sync_dir do nothing: everything is "durable" at once.  The
 *    fault env layers power-loss behaviour on top.
 *
 * Invariants: names are unique across files and directories; a node's refs
 * equal its names plus its open handles; every open handle is on the env's
 * handle list (so destroy can free everything).
 *
 * Threads: one mutex per env guards every structure and every byte, so any
 * calls may run concurrently, including pread with append on one file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

struct mem_node {
	char *data;
	size_t len, cap;
	unsigned refs;		/* names + open handles */
	bool locked;		/* held by a lock handle */
};

struct mem_handle {		/* our lsm_file */
	struct mem_node *node;
	bool writable;
	bool is_lock;
	struct mem_handle *prev, *next;
};

struct mem_name {
	char *path;		/* normalised */
	struct mem_node *node;
};

struct mem_env {
	lsm_env env;		/* first: an lsm_env * is a struct mem_env * */
	pthread_mutex_t mu;
	struct mem_name *files;
	size_t nfiles, cfiles;
	char **dirs;		/* recorded directories, normalised */
	size_t ndirs, cdirs;
	struct mem_handle *handles;
};

static struct mem_env *mem_e(lsm_env *env)
{
	return (struct mem_env *)env;
}

static struct mem_handle *mem_h(lsm_file *f)
{
	return (struct mem_handle *)f;
}

static int mem_fail(int e, const char *op, const char *path)
{
	return lsm_err(-e, "mem env: %s %s: %s", op, path, lsm_strerror(-e));
}

/* Normalise path (see the model above) into a malloc'd string. */
static char *mem_norm(const char *path)
{
	size_t n = strlen(path), o = 0, base;
	char *out = malloc(n + 2);
	const char *p = path;

	if (!out)
		return NULL;
	if (*p == '/')
		out[o++] = '/';
	base = o;
	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 1 && s[0] == '.')
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			size_t last = o;

			while (last > base && out[last - 1] != '/')
				last--;
			bool is_dotdot = o - last == 2 && out[last] == '.' &&
					 out[last + 1] == '.';
			if (o > base && !is_dotdot) {
				/* pop the last component and its slash */
				o = last > base ? last - 1 : base;
				continue;
			}
			if (base == 1)
				continue;	/* "/.." is "/" */
		}
		if (o > base)
			out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	out[o] = '\0';
	return out;
}

static bool mem_is_root(const char *p)
{
	return p[0] == '\0' || strcmp(p, "/") == 0;
}

/*
 * If p lies strictly below directory dir, return the length of its first
 * component below dir and point *start at it; otherwise return 0.
 */
static size_t mem_child_of(const char *dir, const char *p, const char **start)
{
	size_t dl = strlen(dir);
	const char *rest;

	if (dl == 0) {
		if (p[0] == '/' || p[0] == '\0')
			return 0;
		rest = p;
	} else if (strcmp(dir, "/") == 0) {
		if (p[0] != '/' || p[1] == '\0')
			return 0;
		rest = p + 1;
	} else {
		if (strncmp(p, dir, dl) != 0 || p[dl] != '/')
			return 0;
		rest = p + dl + 1;
	}
	*start = rest;
	return strcspn(rest, "/");
}

static struct mem_name *mem_find_file(struct mem_env *me, const char *p)
{
	for (size_t i = 0; i < me->nfiles; i++)
		if (strcmp(me->files[i].path, p) == 0)
			return &me->files[i];
	return NULL;
}

static bool mem_dir_exists(struct mem_env *me, const char *p)
{
	if (mem_is_root(p))
		return true;
	for (size_t i = 0; i < me->ndirs; i++)
		if (strcmp(me->dirs[i], p) == 0)
			return true;
	return false;
}

static bool mem_dir_empty(struct mem_env *me, const char *dir)
{
	const char *s;

	for (size_t i = 0; i < me->nfiles; i++)
		if (mem_child_of(dir, me->files[i].path, &s))
			return false;
	for (size_t i = 0; i < me->ndirs; i++)
		if (mem_child_of(dir, me->dirs[i], &s))
			return false;
	return true;
}

/* -ENOTDIR if some ancestor of p is a file (as POSIX path lookup). */
static int mem_check_parents(struct mem_env *me, const char *p, char *tmp)
{
	strcpy(tmp, p);
	for (char *s = strrchr(tmp, '/'); s; s = strrchr(tmp, '/')) {
		if (s == tmp)
			break;
		*s = '\0';
		if (mem_find_file(me, tmp))
			return mem_fail(ENOTDIR, "lookup", p);
	}
	return 0;
}

static int mem_add_dir(struct mem_env *me, const char *p)
{
	char *d;

	if (mem_dir_exists(me, p))
		return 0;
	if (me->ndirs == me->cdirs) {
		size_t nc = me->cdirs ? me->cdirs * 2 : 16;
		char **nd = realloc(me->dirs, nc * sizeof *nd);
		if (!nd)
			return -ENOMEM;
		me->dirs = nd;
		me->cdirs = nc;
	}
	d = strdup(p);
	if (!d)
		return -ENOMEM;
	me->dirs[me->ndirs++] = d;
	return 0;
}

/* Record every proper ancestor of p as a directory.  A partial failure
 * leaves some recorded, which is harmless: they are real ancestors. */
static int mem_add_parents(struct mem_env *me, const char *p, char *tmp)
{
	strcpy(tmp, p);
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int rc = mem_add_dir(me, tmp);
		*s = '/';
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Make room for one more file name. */
static int mem_reserve_file(struct mem_env *me)
{
	if (me->nfiles < me->cfiles)
		return 0;
	size_t nc = me->cfiles ? me->cfiles * 2 : 16;
	struct mem_name *nf = realloc(me->files, nc * sizeof *nf);
	if (!nf)
		return -ENOMEM;
	me->files = nf;
	me->cfiles = nc;
	return 0;
}

static void mem_unref(struct mem_node *n)
{
	if (--n->refs == 0) {
		free(n->data);
		free(n);
	}
}

/* Drop the name at nm (keeps the array dense; order does not matter). */
static void mem_drop_name(struct mem_env *me, struct mem_name *nm)
{
	struct mem_node *n = nm->node;

	free(nm->path);
	*nm = me->files[--me->nfiles];
	mem_unref(n);
}

static void mem_link_handle(struct mem_env *me, struct mem_handle *h)
{
	h->prev = NULL;
	h->next = me->handles;
	if (me->handles)
		me->handles->prev = h;
	me->handles = h;
}

static void mem_unlink_handle(struct mem_env *me, struct mem_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		me->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

/*
 * Find p, creating an empty file if it is missing and create is set.  On
 * success *out is the node (not yet referenced by the caller) and *created
 * says whether it is new.  REQUIRES: mu held; p normalised.
 */
static int mem_get_node(struct mem_env *me, const char *p, bool create,
			bool excl, struct mem_node **out, bool *created)
{
	struct mem_name *nm;
	struct mem_node *n = NULL;
	char *tmp = NULL, *name = NULL;
	int rc;

	*created = false;
	if (mem_dir_exists(me, p))
		return mem_fail(EISDIR, "open", p);
	nm = mem_find_file(me, p);
	if (nm) {
		if (create && excl)
			return mem_fail(EEXIST, "open", p);
		*out = nm->node;
		return 0;
	}
	if (!create)
		return mem_fail(ENOENT, "open", p);
	tmp = malloc(strlen(p) + 1);
	name = strdup(p);
	n = calloc(1, sizeof *n);
	if (!tmp || !name || !n)
		LSM_ERR(-ENOMEM);
	LSM_ERR(mem_check_parents(me, p, tmp));
	LSM_ERR(mem_reserve_file(me));
	LSM_ERR(mem_add_parents(me, p, tmp));
	n->refs = 1;
	me->files[me->nfiles].path = name;
	me->files[me->nfiles].node = n;
	me->nfiles++;
	free(tmp);
	*out = n;
	*created = true;
	return 0;
err:
	free(tmp);
	free(name);
	free(n);
	return rc;
}

/* Append n bytes to a node.  REQUIRES: mu held. */
static int mem_node_append(struct mem_node *nd, const void *buf, size_t n)
{
	if (n > SIZE_MAX - nd->len)
		return -EFBIG;
	if (nd->len + n > nd->cap) {
		size_t nc = nd->cap ? nd->cap : 256;
		while (nc < nd->len + n)
			nc = nc > SIZE_MAX / 2 ? nd->len + n : nc * 2;
		char *d = realloc(nd->data, nc);
		if (!d)
			return -ENOMEM;
		nd->data = d;
		nd->cap = nc;
	}
	if (n)
		memcpy(nd->data + nd->len, buf, n);
	nd->len += n;
	return 0;
}

static int mem_open(lsm_env *env, const char *path, int flags,
		    lsm_file **out)
{
	struct mem_env *me = mem_e(env);
	struct mem_handle *h = NULL;
	struct mem_node *n;
	char *p = NULL;
	bool writing = flags & (LSM_OPEN_WRITE | LSM_OPEN_APPEND), created;
	int rc;

	if (flags & ~(LSM_OPEN_WRITE | LSM_OPEN_APPEND | LSM_OPEN_EXCL))
		return lsm_err(LSM_E_INVALID, "open %s: bad flags %#x", path,
			       (unsigned)flags);
	p = mem_norm(path);
	h = calloc(1, sizeof *h);
	if (!p || !h) {
		free(p);
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&me->mu);
	LSM_ERR(mem_get_node(me, p, writing, flags & LSM_OPEN_EXCL, &n,
			     &created));
	if ((flags & LSM_OPEN_WRITE) && !created)
		n->len = 0;	/* truncate in place, as O_TRUNC does */
	n->refs++;
	h->node = n;
	h->writable = writing;
	mem_link_handle(me, h);
	pthread_mutex_unlock(&me->mu);
	free(p);
	*out = (lsm_file *)h;
	return 0;
err:
	pthread_mutex_unlock(&me->mu);
	free(p);
	free(h);
	return rc;
}

static int mem_close(lsm_env *env, lsm_file *f)
{
	struct mem_env *me = mem_e(env);
	struct mem_handle *h = mem_h(f);

	if (!h)
		return 0;
	pthread_mutex_lock(&me->mu);
	mem_unlink_handle(me, h);
	if (h->is_lock)
		h->node->locked = false;
	mem_unref(h->node);
	pthread_mutex_unlock(&me->mu);
	free(h);
	return 0;
}

static int mem_pread(lsm_env *env, lsm_file *f, void *buf, size_t n,
		     uint64_t off, size_t *got)
{
	struct mem_env *me = mem_e(env);
	struct mem_node *nd = mem_h(f)->node;
	size_t k = 0;

	pthread_mutex_lock(&me->mu);
	if (off < nd->len) {
		k = LSM_MIN(n, nd->len - (size_t)off);
		if (k)
			memcpy(buf, nd->data + off, k);
	}
	pthread_mutex_unlock(&me->mu);
	*got = k;
	return 0;
}

static int mem_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	struct mem_env *me = mem_e(env);
	struct mem_handle *h = mem_h(f);
	int rc;

	if (!h->writable)
		return lsm_err(-EBADF, "mem env: append to a read-only file");
	pthread_mutex_lock(&me->mu);
	rc = mem_node_append(h->node, buf, n);
	pthread_mutex_unlock(&me->mu);
	return rc;
}

static int mem_sync(lsm_env *env, lsm_file *f)
{
	(void)env;
	(void)f;
	return 0;
}

static int mem_fsize(lsm_env *env, lsm_file *f, uint64_t *size)
{
	struct mem_env *me = mem_e(env);

	pthread_mutex_lock(&me->mu);
	*size = mem_h(f)->node->len;
	pthread_mutex_unlock(&me->mu);
	return 0;
}

static int mem_size(lsm_env *env, const char *path, uint64_t *size)
{
	struct mem_env *me = mem_e(env);
	struct mem_name *nm;
	char *p = mem_norm(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&me->mu);
	nm = mem_find_file(me, p);
	if (nm)
		*size = nm->node->len;
	else if (mem_dir_exists(me, p))
		*size = 0;
	else
		rc = mem_fail(ENOENT, "size", path);
	pthread_mutex_unlock(&me->mu);
	free(p);
	return rc;
}

static int mem_remove(lsm_env *env, const char *path)
{
	struct mem_env *me = mem_e(env);
	struct mem_name *nm;
	char *p = mem_norm(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&me->mu);
	nm = mem_find_file(me, p);
	if (nm) {
		mem_drop_name(me, nm);
	} else if (mem_is_root(p)) {
		rc = mem_fail(EBUSY, "remove", path);
	} else if (mem_dir_exists(me, p)) {
		if (!mem_dir_empty(me, p)) {
			rc = mem_fail(ENOTEMPTY, "remove", path);
		} else {
			for (size_t i = 0; i < me->ndirs; i++) {
				if (strcmp(me->dirs[i], p) == 0) {
					free(me->dirs[i]);
					me->dirs[i] = me->dirs[--me->ndirs];
					break;
				}
			}
		}
	} else {
		rc = mem_fail(ENOENT, "remove", path);
	}
	pthread_mutex_unlock(&me->mu);
	free(p);
	return rc;
}

/*
 * Give node n (already referenced for the new name by the caller) the name
 * `to`, replacing a file there.  Used by rename and link.  REQUIRES: mu
 * held, to normalised and not a directory.  On failure nothing changed.
 */
static int mem_set_name(struct mem_env *me, const char *to, struct mem_node *n)
{
	struct mem_name *nm = mem_find_file(me, to);
	char *tmp = NULL, *name = NULL;
	int rc;

	if (nm) {
		struct mem_node *old = nm->node;

		nm->node = n;
		mem_unref(old);
		return 0;
	}
	tmp = malloc(strlen(to) + 1);
	name = strdup(to);
	if (!tmp || !name)
		LSM_ERR(-ENOMEM);
	LSM_ERR(mem_check_parents(me, to, tmp));
	LSM_ERR(mem_reserve_file(me));
	LSM_ERR(mem_add_parents(me, to, tmp));
	me->files[me->nfiles].path = name;
	me->files[me->nfiles].node = n;
	me->nfiles++;
	free(tmp);
	return 0;
err:
	free(tmp);
	free(name);
	return rc;
}

/*
 * Give the file at from a second name to: a hard link (link) keeps from,
 * a rename drops it and may replace a file at to.  Directories are never
 * renamed or linked here: the engine never does either.
 */
static int mem_name_again(lsm_env *env, const char *from, const char *to, bool link)
{
	struct mem_env *me = mem_e(env);
	struct mem_name *src;
	char *pf = mem_norm(from), *pt = mem_norm(to);
	const char *what = link ? "link" : "rename";
	int rc = 0;

	if (!pf || !pt) {
		free(pf);
		free(pt);
		return -ENOMEM;
	}
	pthread_mutex_lock(&me->mu);
	src = mem_find_file(me, pf);
	if (!src) {
		if (!mem_dir_exists(me, pf))
			rc = mem_fail(ENOENT, what, from);
		else if (link)
			rc = mem_fail(EPERM, what, from);
		else
			rc = lsm_err(LSM_E_NOTSUP, "mem env: rename of directory %s", from);
		goto out;
	}
	if (link && (mem_find_file(me, pt) || mem_dir_exists(me, pt))) {
		rc = mem_fail(EEXIST, "link to", to);
		goto out;
	}
	if (!link && mem_dir_exists(me, pt)) {
		rc = mem_fail(EISDIR, "rename to", to);
		goto out;
	}
	if (!link && strcmp(pf, pt) == 0)
		goto out;
	struct mem_node *n = src->node;
	n->refs++;	/* the new name's reference */
	rc = mem_set_name(me, pt, n);
	if (rc < 0) {
		n->refs--;
		goto out;
	}
	/* mem_set_name may have moved the array: look the source up again. */
	if (!link)
		mem_drop_name(me, mem_find_file(me, pf));
out:
	pthread_mutex_unlock(&me->mu);
	free(pf);
	free(pt);
	return rc;
}

static int mem_rename(lsm_env *env, const char *from, const char *to)
{
	return mem_name_again(env, from, to, false);
}

static int mem_link(lsm_env *env, const char *from, const char *to)
{
	return mem_name_again(env, from, to, true);
}

static int mem_mkdir(lsm_env *env, const char *path)
{
	struct mem_env *me = mem_e(env);
	char *p = mem_norm(path), *tmp = NULL;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&me->mu);
	if (mem_find_file(me, p))
		LSM_ERR(mem_fail(EEXIST, "mkdir", path));
	if (mem_dir_exists(me, p))
		goto err;	/* rc == 0: already there */
	tmp = malloc(strlen(p) + 1);
	if (!tmp)
		LSM_ERR(-ENOMEM);
	LSM_ERR(mem_check_parents(me, p, tmp));
	LSM_ERR(mem_add_parents(me, p, tmp));
	LSM_ERR(mem_add_dir(me, p));
err:
	pthread_mutex_unlock(&me->mu);
	free(tmp);
	free(p);
	return rc;
}

static int mem_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the first component of p below dir (if any) to the list. */
static int mem_list_add(const char *dir, const char *p, char ***v, size_t *n,
			size_t *cap)
{
	const char *s;
	size_t len = mem_child_of(dir, p, &s);

	if (!len)
		return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n] = strndup(s, len);
	if (!(*v)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int mem_list(lsm_env *env, const char *dir, char ***names, size_t *n)
{
	struct mem_env *me = mem_e(env);
	char *p = mem_norm(dir), **v = NULL;
	size_t cnt = 0, cap = 0, k = 0;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&me->mu);
	if (!mem_dir_exists(me, p))
		LSM_ERR(mem_fail(mem_find_file(me, p) ? ENOTDIR : ENOENT,
				 "list", dir));
	for (size_t i = 0; i < me->nfiles; i++)
		LSM_ERR(mem_list_add(p, me->files[i].path, &v, &cnt, &cap));
	for (size_t i = 0; i < me->ndirs; i++)
		LSM_ERR(mem_list_add(p, me->dirs[i], &v, &cnt, &cap));
	pthread_mutex_unlock(&me->mu);
	/* Deeper paths give the same child more than once: sort, dedupe. */
	if (cnt)
		qsort(v, cnt, sizeof *v, mem_cmp_names);
	for (size_t i = 0; i < cnt; i++) {
		if (k && strcmp(v[k - 1], v[i]) == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	free(p);
	*names = v;
	*n = k;
	return 0;
err:
	pthread_mutex_unlock(&me->mu);
	lsm_env_free_list(v, cnt);
	free(p);
	return rc;
}

static int mem_sync_dir(lsm_env *env, const char *dir)
{
	struct mem_env *me = mem_e(env);
	char *p = mem_norm(dir);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&me->mu);
	if (!mem_dir_exists(me, p))
		rc = mem_fail(mem_find_file(me, p) ? ENOTDIR : ENOENT,
			      "sync_dir", dir);
	pthread_mutex_unlock(&me->mu);
	free(p);
	return rc;
}

static int mem_lock(lsm_env *env, const char *path, const char *holder,
		    lsm_file **lock, char *other, size_t other_len)
{
	struct mem_env *me = mem_e(env);
	struct mem_handle *h = NULL;
	struct mem_node *n;
	char *p = mem_norm(path);
	bool created;
	int rc;

	if (!holder)
		holder = "";
	h = calloc(1, sizeof *h);
	if (!p || !h) {
		free(p);
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&me->mu);
	LSM_ERR(mem_get_node(me, p, true, false, &n, &created));
	if (n->locked) {
		char who[512];
		size_t k = LSM_MIN(n->len, sizeof who - 1);

		memcpy(who, n->data, k);
		who[k] = '\0';
		who[strcspn(who, "\n")] = '\0';
		if (other && other_len)
			snprintf(other, other_len, "%s", who);
		LSM_ERR(lsm_err(LSM_E_LOCKED, "store is locked by %s",
				who[0] ? who : "an unknown holder"));
	}
	n->len = 0;
	LSM_ERR(mem_node_append(n, holder, strlen(holder)));
	LSM_ERR(mem_node_append(n, "\n", 1));
	n->locked = true;
	n->refs++;
	h->node = n;
	h->writable = false;
	h->is_lock = true;
	mem_link_handle(me, h);
	pthread_mutex_unlock(&me->mu);
	free(p);
	*lock = (lsm_file *)h;
	return 0;
err:
	pthread_mutex_unlock(&me->mu);
	free(p);
	free(h);
	return rc;
}

static int mem_unlock(lsm_env *env, lsm_file *lock)
{
	return mem_close(env, lock);	/* close clears the lock flag */
}

static uint64_t mem_now_micros(lsm_env *env)
{
	(void)env;
	lsm_env *px = lsm_env_posix();
	return px->now_micros(px);
}

static void mem_sleep_micros(lsm_env *env, uint64_t micros)
{
	(void)env;
	lsm_env *px = lsm_env_posix();
	px->sleep_micros(px, micros);
}

static void mem_destroy(lsm_env *env)
{
	struct mem_env *me = mem_e(env);

	if (!me)
		return;
	/* Handles left open are the caller's bug; free them so nothing
	 * leaks, after which those lsm_file pointers are dead. */
	while (me->handles) {
		struct mem_handle *h = me->handles;

		mem_unlink_handle(me, h);
		mem_unref(h->node);
		free(h);
	}
	while (me->nfiles)
		mem_drop_name(me, &me->files[me->nfiles - 1]);
	for (size_t i = 0; i < me->ndirs; i++)
		free(me->dirs[i]);
	free(me->dirs);
	free(me->files);
	pthread_mutex_destroy(&me->mu);
	free(me);
}

lsm_env *lsm_env_mem_new(void)
{
	struct mem_env *me = calloc(1, sizeof *me);

	if (!me)
		return NULL;
	if (pthread_mutex_init(&me->mu, NULL) != 0) {
		free(me);
		return NULL;
	}
	me->env.open = mem_open;
	me->env.close = mem_close;
	me->env.pread = mem_pread;
	me->env.append = mem_append;
	me->env.sync = mem_sync;
	me->env.fsize = mem_fsize;
	me->env.size = mem_size;
	me->env.remove = mem_remove;
	me->env.rename = mem_rename;
	me->env.link = mem_link;
	me->env.mkdir = mem_mkdir;
	me->env.list = mem_list;
	me->env.sync_dir = mem_sync_dir;
	me->env.lock = mem_lock;
	me->env.unlock = mem_unlock;
	me->env.now_micros = mem_now_micros;
	me->env.sleep_micros = mem_sleep_micros;
	me->env.destroy = mem_destroy;
	return &me->env;
}
