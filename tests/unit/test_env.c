/*
 * Unit tests for the env layer: env_posix.c, env_mem.c, env_fault.c.
 *
 * The behavioural tests run once per env flavour: posix (under a mkdtemp
 * directory removed afterwards), mem, and the fault env forwarding to a
 * mem env (to prove it forwards faithfully when nothing is armed).  Fault
 * injection and power-cut tests run over mem and over posix.
 * Threads are only used in the concurrent append/pread test; worker
 * threads never call cmocka asserts (they count failures for the main
 * thread to check).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

enum flavour { FL_POSIX, FL_MEM, FL_FAULT_MEM, FL_FAULT_POSIX };

struct fx {
	enum flavour fl;
	lsm_env *env;		/* the env under test */
	lsm_env *base;		/* what env wraps (== env when not fault) */
	lsm_env *mem;		/* owned mem env, if any */
	char root[64];		/* every test path lives below this */
	char paths[16][512];	/* rotating buffers for P() */
	int next;
};

static const enum flavour fl_posix = FL_POSIX, fl_mem = FL_MEM,
			  fl_fault_mem = FL_FAULT_MEM,
			  fl_fault_posix = FL_FAULT_POSIX;

/* root/name in a rotating buffer (valid for the next 15 calls). */
static const char *P(struct fx *fx, const char *name)
{
	char *b = fx->paths[fx->next++ % 16];
	snprintf(b, sizeof fx->paths[0], "%s/%s", fx->root, name);
	return b;
}

static int setup(void **state)
{
	enum flavour fl = *(const enum flavour *)*state;
	struct fx *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	fx->fl = fl;
	if (fl == FL_POSIX || fl == FL_FAULT_POSIX) {
		strcpy(fx->root, "/tmp/lsm_test_env_XXXXXX");
		if (!mkdtemp(fx->root))
			return -1;
		fx->base = lsm_env_posix();
	} else {
		strcpy(fx->root, "/test/root");
		fx->mem = lsm_env_mem_new();
		if (!fx->mem || fx->mem->mkdir(fx->mem, fx->root) != 0)
			return -1;
		fx->base = fx->mem;
	}
	fx->env = fx->base;
	if (fl == FL_FAULT_MEM || fl == FL_FAULT_POSIX) {
		fx->env = lsm_env_fault_new(fx->base);
		if (!fx->env)
			return -1;
	}
	*state = fx;
	return 0;
}

static int rm_cb(const char *path, const struct stat *st, int type,
		 struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->env != fx->base)
		fx->env->destroy(fx->env);
	if (fx->mem)
		fx->mem->destroy(fx->mem);
	else
		nftw(fx->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static void write_file(lsm_env *env, const char *path, const char *s,
		       bool sync)
{
	lsm_file *f;
	assert_int_equal(env->open(env, path, LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, s, strlen(s)), 0);
	if (sync)
		assert_int_equal(env->sync(env, f), 0);
	assert_int_equal(env->close(env, f), 0);
}

/* The whole file as a NUL-terminated string in buf, or a negative code. */
static int read_file(lsm_env *env, const char *path, char *buf, size_t cap)
{
	lsm_file *f;
	size_t got = 0;
	int rc = env->open(env, path, LSM_OPEN_READ, &f);

	if (rc < 0)
		return rc;
	rc = env->pread(env, f, buf, cap - 1, 0, &got);
	buf[got] = '\0';
	env->close(env, f);
	return rc < 0 ? rc : (int)got;
}

static void assert_content(lsm_env *env, const char *path, const char *want)
{
	char buf[4096];
	int rc = read_file(env, path, buf, sizeof buf);
	if (rc < 0)
		fail_msg("read %s: %s", path, lsm_strerror(rc));
	assert_string_equal(buf, want);
}

static void assert_missing(lsm_env *env, const char *path)
{
	uint64_t size;
	assert_int_equal(env->size(env, path, &size), -ENOENT);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted listing of dir joined with commas. */
static void list_joined(lsm_env *env, const char *dir, char *out, size_t cap)
{
	char **names;
	size_t n;

	assert_int_equal(env->list(env, dir, &names, &n), 0);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(out, ",", cap - strlen(out) - 1);
		strncat(out, names[i], cap - strlen(out) - 1);
	}
	lsm_env_free_list(names, n);
}

/* ---- every flavour --------------------------------------------------------- */

static void test_basic_io(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *f, *r;
	char buf[64];
	size_t got;
	uint64_t size;

	assert_int_equal(env->open(env, P(fx, "a"), LSM_OPEN_READ, &f),
			 -ENOENT);
	assert_int_equal(env->open(env, P(fx, "a"), LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, "hello", 5), 0);
	assert_int_equal(env->append(env, f, " world", 6), 0);
	assert_int_equal(env->append(env, f, "", 0), 0);
	/* pread on the handle being written */
	assert_int_equal(env->pread(env, f, buf, 5, 6, &got), 0);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(env->fsize(env, f, &size), 0);
	assert_int_equal(size, 11);
	assert_int_equal(env->sync(env, f), 0);
	assert_int_equal(env->close(env, f), 0);

	assert_int_equal(env->size(env, P(fx, "a"), &size), 0);
	assert_int_equal(size, 11);
	assert_missing(env, P(fx, "nope"));

	assert_int_equal(env->open(env, P(fx, "a"), LSM_OPEN_READ, &r), 0);
	/* short only at end of file, and nothing past it */
	assert_int_equal(env->pread(env, r, buf, sizeof buf, 0, &got), 0);
	assert_int_equal(got, 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_int_equal(env->pread(env, r, buf, 10, 8, &got), 0);
	assert_int_equal(got, 3);
	assert_int_equal(env->pread(env, r, buf, 10, 11, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(env->pread(env, r, buf, 10, 1000, &got), 0);
	assert_int_equal(got, 0);
	/* a read-only handle cannot append */
	assert_int_equal(env->append(env, r, "x", 1), -EBADF);
	assert_int_equal(env->close(env, r), 0);

	/* APPEND keeps the content and adds at the end */
	assert_int_equal(env->open(env, P(fx, "a"), LSM_OPEN_APPEND, &f), 0);
	assert_int_equal(env->append(env, f, "!", 1), 0);
	assert_int_equal(env->close(env, f), 0);
	assert_content(env, P(fx, "a"), "hello world!");
	/* APPEND creates a missing file */
	assert_int_equal(env->open(env, P(fx, "b"), LSM_OPEN_APPEND, &f), 0);
	assert_int_equal(env->append(env, f, "B", 1), 0);
	assert_int_equal(env->close(env, f), 0);
	assert_content(env, P(fx, "b"), "B");
	/* EXCL refuses an existing file and leaves it alone */
	assert_int_equal(env->open(env, P(fx, "a"),
				   LSM_OPEN_WRITE | LSM_OPEN_EXCL, &f),
			 -EEXIST);
	assert_content(env, P(fx, "a"), "hello world!");
	assert_int_equal(env->open(env, P(fx, "c"),
				   LSM_OPEN_WRITE | LSM_OPEN_EXCL, &f), 0);
	assert_int_equal(env->close(env, f), 0);
	/* WRITE truncates */
	write_file(env, P(fx, "a"), "new", false);
	assert_content(env, P(fx, "a"), "new");
	/* a directory is not a file */
	assert_int_equal(env->open(env, fx->root, LSM_OPEN_READ, &f), -EISDIR);
	/* a large append survives intact */
	size_t big = 3u << 20;
	char *data = malloc(big), *back = malloc(big);
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 131 + 7);
	assert_int_equal(env->open(env, P(fx, "big"), LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, data, big), 0);
	assert_int_equal(env->pread(env, f, back, big, 0, &got), 0);
	assert_int_equal(got, big);
	assert_memory_equal(back, data, big);
	assert_int_equal(env->close(env, f), 0);
	free(data);
	free(back);
}

static void test_namespace(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	char buf[256];
	char **names;
	size_t n;

	write_file(env, P(fx, "x"), "xx", true);
	write_file(env, P(fx, "y"), "yyyy", true);
	/* rename replaces an existing target */
	assert_int_equal(env->rename(env, P(fx, "x"), P(fx, "y")), 0);
	assert_content(env, P(fx, "y"), "xx");
	assert_missing(env, P(fx, "x"));
	assert_int_equal(env->rename(env, P(fx, "x"), P(fx, "z")), -ENOENT);
	/* rename to a fresh name */
	assert_int_equal(env->rename(env, P(fx, "y"), P(fx, "z")), 0);
	assert_content(env, P(fx, "z"), "xx");
	assert_missing(env, P(fx, "y"));

	/* remove */
	assert_int_equal(env->remove(env, P(fx, "z")), 0);
	assert_missing(env, P(fx, "z"));
	assert_int_equal(env->remove(env, P(fx, "z")), -ENOENT);

	/* mkdir, idempotent; not over a file */
	assert_int_equal(env->mkdir(env, P(fx, "d")), 0);
	assert_int_equal(env->mkdir(env, P(fx, "d")), 0);
	write_file(env, P(fx, "f"), "f", false);
	assert_int_equal(env->mkdir(env, P(fx, "f")), -EEXIST);
	/* an empty directory exists and lists empty */
	assert_int_equal(env->list(env, P(fx, "d"), &names, &n), 0);
	assert_int_equal(n, 0);
	lsm_env_free_list(names, n);
	assert_int_equal(env->sync_dir(env, P(fx, "d")), 0);
	assert_int_equal(env->sync_dir(env, P(fx, "nodir")), -ENOENT);
	assert_int_equal(env->list(env, P(fx, "nodir"), &names, &n), -ENOENT);

	/* list: direct children only, files and directories, no . or .. */
	write_file(env, P(fx, "d/inner"), "i", false);
	write_file(env, P(fx, "g"), "g", false);
	list_joined(env, fx->root, buf, sizeof buf);
	assert_string_equal(buf, "d,f,g");
	list_joined(env, P(fx, "d"), buf, sizeof buf);
	assert_string_equal(buf, "inner");
	/* a non-empty directory cannot be removed; an empty one can */
	assert_int_not_equal(env->remove(env, P(fx, "d")), 0);
	assert_int_equal(env->remove(env, P(fx, "d/inner")), 0);
	assert_int_equal(env->remove(env, P(fx, "d")), 0);
	list_joined(env, fx->root, buf, sizeof buf);
	assert_string_equal(buf, "f,g");

	/* link: two names, one file; either survives the other's removal */
	assert_int_equal(env->link(env, P(fx, "g"), P(fx, "h")), 0);
	assert_content(env, P(fx, "h"), "g");
	assert_int_equal(env->link(env, P(fx, "g"), P(fx, "f")), -EEXIST);
	assert_int_equal(env->link(env, P(fx, "nope"), P(fx, "k")), -ENOENT);
	assert_int_equal(env->remove(env, P(fx, "g")), 0);
	assert_content(env, P(fx, "h"), "g");
	assert_int_equal(env->sync_dir(env, fx->root), 0);
}

static void test_lock(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *l1, *l2;
	char other[64], tiny[5], buf[128];

	assert_int_equal(env->lock(env, P(fx, "LOCK"), "pid 1 holder-one",
				   &l1, other, sizeof other), 0);
	assert_content(env, P(fx, "LOCK"), "pid 1 holder-one\n");
	/* a second lock in the same process fails and names the holder,
	 * whatever spelling of the path it uses */
	memset(other, 'X', sizeof other);
	assert_int_equal(env->lock(env, P(fx, "LOCK"), "pid 1 holder-two",
				   &l2, other, sizeof other), LSM_E_LOCKED);
	assert_string_equal(other, "pid 1 holder-one");
	assert_non_null(strstr(lsm_errdetail(),
			       "store is locked by pid 1 holder-one"));
	snprintf(buf, sizeof buf, "%s//./LOCK", fx->root);
	assert_int_equal(env->lock(env, buf, "h3", &l2, tiny, sizeof tiny),
			 LSM_E_LOCKED);
	assert_string_equal(tiny, "pid ");	/* truncated, terminated */
	assert_int_equal(env->lock(env, P(fx, "LOCK"), "h4", &l2, NULL, 0),
			 LSM_E_LOCKED);
	/* the failed attempts did not disturb the holder line */
	assert_content(env, P(fx, "LOCK"), "pid 1 holder-one\n");
	/* a different lock file is independent */
	assert_int_equal(env->lock(env, P(fx, "LOCK2"), "other", &l2, other,
				   sizeof other), 0);
	assert_int_equal(env->unlock(env, l2), 0);
	/* after unlock the lock can be taken again */
	assert_int_equal(env->unlock(env, l1), 0);
	assert_int_equal(env->lock(env, P(fx, "LOCK"), "pid 2 holder-two",
				   &l2, other, sizeof other), 0);
	assert_content(env, P(fx, "LOCK"), "pid 2 holder-two\n");
	assert_int_equal(env->unlock(env, l2), 0);
}

static void test_removed_open(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *r, *w;
	char buf[32];
	size_t got;
	uint64_t size;

	write_file(env, P(fx, "doomed"), "still here", true);
	assert_int_equal(env->open(env, P(fx, "doomed"), LSM_OPEN_READ, &r),
			 0);
	assert_int_equal(env->remove(env, P(fx, "doomed")), 0);
	assert_missing(env, P(fx, "doomed"));
	assert_int_equal(env->pread(env, r, buf, sizeof buf, 0, &got), 0);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, "still here", 10);
	assert_int_equal(env->fsize(env, r, &size), 0);
	assert_int_equal(size, 10);
	assert_int_equal(env->close(env, r), 0);

	/* a file renamed over while open keeps its old content too */
	write_file(env, P(fx, "t"), "target", true);
	write_file(env, P(fx, "s"), "source", true);
	assert_int_equal(env->open(env, P(fx, "t"), LSM_OPEN_READ, &r), 0);
	assert_int_equal(env->rename(env, P(fx, "s"), P(fx, "t")), 0);
	assert_int_equal(env->pread(env, r, buf, sizeof buf, 0, &got), 0);
	assert_int_equal(got, 6);
	assert_memory_equal(buf, "target", 6);
	assert_int_equal(env->close(env, r), 0);
	assert_content(env, P(fx, "t"), "source");

	/* writing to a removed file still works through the handle */
	assert_int_equal(env->open(env, P(fx, "w"), LSM_OPEN_WRITE, &w), 0);
	assert_int_equal(env->remove(env, P(fx, "w")), 0);
	assert_int_equal(env->append(env, w, "abc", 3), 0);
	assert_int_equal(env->pread(env, w, buf, sizeof buf, 0, &got), 0);
	assert_int_equal(got, 3);
	assert_int_equal(env->close(env, w), 0);
	assert_missing(env, P(fx, "w"));
}

/* ---- concurrency ----------------------------------------------------------- */

#define CHUNK 97
#define CHUNKS 3000

struct conc {
	lsm_env *env;
	lsm_file *f;
	atomic_bool done;
	atomic_int errors;
	atomic_long reads;
};

static char pattern(uint64_t pos)
{
	return (char)(pos * 131 + 7);
}

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	char buf[CHUNK];

	for (uint64_t i = 0; i < CHUNKS; i++) {
		for (int k = 0; k < CHUNK; k++)
			buf[k] = pattern(i * CHUNK + (uint64_t)k);
		if (c->env->append(c->env, c->f, buf, CHUNK) != 0)
			atomic_fetch_add(&c->errors, 1);
	}
	atomic_store(&c->done, true);
	return NULL;
}

/* Check that whatever is visible is a correct prefix, until the writer is
 * done, then once more. */
static void *conc_reader(void *arg)
{
	struct conc *c = arg;
	char *buf = malloc((size_t)CHUNK * CHUNKS);
	uint64_t last = 0;
	bool final = false;

	if (!buf) {
		atomic_fetch_add(&c->errors, 1);
		return NULL;
	}
	while (!final) {
		uint64_t size;
		size_t got;

		final = atomic_load(&c->done);
		if (c->env->fsize(c->env, c->f, &size) != 0 || size < last ||
		    size > (uint64_t)CHUNK * CHUNKS) {
			atomic_fetch_add(&c->errors, 1);
			break;
		}
		last = size;
		uint64_t off = size / 3;
		if (c->env->pread(c->env, c->f, buf, (size_t)(size - off), off,
				  &got) != 0 ||
		    got != size - off) {
			atomic_fetch_add(&c->errors, 1);
			break;
		}
		for (size_t i = 0; i < got; i++) {
			if (buf[i] != pattern(off + i)) {
				atomic_fetch_add(&c->errors, 1);
				break;
			}
		}
		atomic_fetch_add(&c->reads, 1);
		if (final && size != (uint64_t)CHUNK * CHUNKS)
			atomic_fetch_add(&c->errors, 1);
	}
	free(buf);
	return NULL;
}

static void test_concurrent_append_pread(void **state)
{
	struct fx *fx = *state;
	struct conc c;
	pthread_t w, r[2];

	memset(&c, 0, sizeof c);
	c.env = fx->env;
	atomic_init(&c.done, false);
	atomic_init(&c.errors, 0);
	atomic_init(&c.reads, 0);
	assert_int_equal(c.env->open(c.env, P(fx, "conc"), LSM_OPEN_WRITE,
				     &c.f), 0);
	assert_int_equal(pthread_create(&r[0], NULL, conc_reader, &c), 0);
	assert_int_equal(pthread_create(&r[1], NULL, conc_reader, &c), 0);
	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	pthread_join(w, NULL);
	pthread_join(r[0], NULL);
	pthread_join(r[1], NULL);
	assert_int_equal(atomic_load(&c.errors), 0);
	assert_true(atomic_load(&c.reads) >= 2);
	assert_int_equal(c.env->close(c.env, c.f), 0);
}

/* ---- mem specifics ---------------------------------------------------------- */

static void test_mem_paths(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_mem_new();
	lsm_file *f;
	char buf[128];

	assert_non_null(env);
	/* directories are implicit: no mkdir needed, yet they list */
	write_file(env, "/x/y/z", "deep", false);
	list_joined(env, "/", buf, sizeof buf);
	assert_string_equal(buf, "x");
	list_joined(env, "/x", buf, sizeof buf);
	assert_string_equal(buf, "y");
	list_joined(env, "/x/y/", buf, sizeof buf);
	assert_string_equal(buf, "z");
	/* spellings of one path meet */
	assert_content(env, "//x/./y//z", "deep");
	assert_content(env, "/x/q/../y/z", "deep");
	/* relative paths live under their own root */
	write_file(env, "rel", "r", false);
	list_joined(env, ".", buf, sizeof buf);
	assert_string_equal(buf, "rel");
	assert_content(env, "./rel", "r");
	/* directories persist once emptied, and a file is not a directory */
	assert_int_equal(env->remove(env, "/x/y/z"), 0);
	list_joined(env, "/x/y", buf, sizeof buf);
	assert_string_equal(buf, "");
	write_file(env, "/file", "f", false);
	char **names;
	size_t n;
	assert_int_equal(env->list(env, "/file", &names, &n), -ENOTDIR);
	assert_int_equal(env->open(env, "/file/sub", LSM_OPEN_WRITE, &f),
			 -ENOTDIR);
	assert_int_equal(env->remove(env, "/x"), -ENOTEMPTY);
	/* destroy frees everything, open handles included */
	assert_int_equal(env->open(env, "/x/leak", LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, "abc", 3), 0);
	env->destroy(env);
}

static void test_clock(void **state)
{
	(void)state;
	lsm_env *env = lsm_env_posix();
	lsm_env *mem = lsm_env_mem_new();
	uint64_t t0 = env->now_micros(env);

	env->sleep_micros(env, 2000);
	uint64_t t1 = env->now_micros(env);
	assert_true(t1 >= t0 + 2000);
	mem->sleep_micros(mem, 1000);
	assert_true(mem->now_micros(mem) >= t1 + 1000);
	mem->destroy(mem);
	lsm_env_free_list(NULL, 0);
}

/* ---- fault: fail_nth --------------------------------------------------------- */

/* Make the i-th call of kind through env; return its result and check its
 * effect (or lack of it) through base. */
static int one_call(struct fx *fx, enum lsm_fault_kind kind, int i,
		    lsm_file *h, bool expect_ok)
{
	lsm_env *env = fx->env, *base = fx->base;
	char a[32], b[32], buf[16];
	uint64_t size;
	size_t got = 99;
	lsm_file *f;
	int rc = 0;

	snprintf(a, sizeof a, "%d-a", i);
	snprintf(b, sizeof b, "%d-b", i);
	switch (kind) {
	case LSM_FAULT_OPEN:
		rc = env->open(env, P(fx, a), LSM_OPEN_WRITE, &f);
		if (rc == 0)
			assert_int_equal(env->close(env, f), 0);
		assert_int_equal(base->size(base, P(fx, a), &size),
				 expect_ok ? 0 : -ENOENT);
		break;
	case LSM_FAULT_READ:
		rc = env->pread(env, h, buf, 4, 0, &got);
		assert_int_equal(got, expect_ok ? 4 : 0);
		break;
	case LSM_FAULT_WRITE:
		assert_int_equal(base->size(base, P(fx, "h"), &size), 0);
		rc = env->append(env, h, "w", 1);
		uint64_t after;
		assert_int_equal(base->size(base, P(fx, "h"), &after), 0);
		assert_int_equal(after, size + (expect_ok ? 1 : 0));
		break;
	case LSM_FAULT_SYNC:
		/* sync and sync_dir are one kind */
		rc = (i & 1) ? env->sync(env, h) : env->sync_dir(env, fx->root);
		break;
	case LSM_FAULT_RENAME:
		write_file(base, P(fx, a), "r", false);
		rc = env->rename(env, P(fx, a), P(fx, b));
		assert_int_equal(base->size(base, P(fx, a), &size),
				 expect_ok ? -ENOENT : 0);
		assert_int_equal(base->size(base, P(fx, b), &size),
				 expect_ok ? 0 : -ENOENT);
		break;
	case LSM_FAULT_REMOVE:
		write_file(base, P(fx, a), "r", false);
		rc = env->remove(env, P(fx, a));
		assert_int_equal(base->size(base, P(fx, a), &size),
				 expect_ok ? -ENOENT : 0);
		break;
	default:
		fail();
	}
	return rc;
}

static void test_fault_fail_nth(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *h;

	write_file(fx->base, P(fx, "h"), "data", true);
	assert_int_equal(env->open(env, P(fx, "h"), LSM_OPEN_APPEND, &h), 0);
	for (int kind = LSM_FAULT_OPEN; kind < LSM_FAULT_NKINDS; kind++) {
		uint64_t c0 = lsm_env_fault_count(env, kind);
		uint64_t any0 = lsm_env_fault_count(env, LSM_FAULT_ANY);

		/* calls of other kinds do not advance this kind's arm */
		lsm_env_fault_fail_nth(env, kind, 3, -ENOSPC);
		if (kind != LSM_FAULT_READ) {
			char buf[4];
			size_t got;
			assert_int_equal(env->pread(env, h, buf, 4, 0, &got),
					 0);
		}
		for (int i = 1; i <= 5; i++) {
			int rc = one_call(fx, kind, i + 10 * kind, h, i != 3);
			assert_int_equal(rc, i == 3 ? -ENOSPC : 0);
			assert_int_equal(lsm_env_fault_count(env, kind),
					 c0 + (uint64_t)i);
		}
		assert_true(lsm_env_fault_count(env, LSM_FAULT_ANY) >=
			    any0 + 5);
		/* n == 0 disarms */
		lsm_env_fault_fail_nth(env, kind, 1, -EIO);
		lsm_env_fault_fail_nth(env, kind, 0, 0);
		assert_int_equal(one_call(fx, kind, 100 + kind, h, true), 0);
	}
	assert_int_equal(env->close(env, h), 0);
	assert_false(lsm_env_fault_crashed(env));
}

static void test_fault_fail_any(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *f;
	char buf[8];
	size_t got;
	uint64_t size;
	uint64_t any0 = lsm_env_fault_count(env, LSM_FAULT_ANY);
	uint64_t sync0 = lsm_env_fault_count(env, LSM_FAULT_SYNC);

	lsm_env_fault_fail_nth(env, LSM_FAULT_ANY, 4, -EROFS);
	assert_int_equal(env->open(env, P(fx, "f"), LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, "abc", 3), 0);
	assert_int_equal(env->mkdir(env, P(fx, "sub")), 0);
	assert_int_equal(env->sync(env, f), -EROFS);	/* 4th call */
	assert_int_equal(env->pread(env, f, buf, 3, 0, &got), 0);
	assert_int_equal(env->size(env, P(fx, "f"), &size), 0);
	assert_int_equal(env->close(env, f), 0);	/* not counted */
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_ANY), any0 + 6);
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_SYNC), sync0 + 1);
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_READ), 2);
	/* a failed open has no effect and hands out nothing */
	lsm_env_fault_fail_nth(env, LSM_FAULT_OPEN, 1, -EMFILE);
	assert_int_equal(env->open(env, P(fx, "g"), LSM_OPEN_WRITE, &f),
			 -EMFILE);
	assert_missing(fx->base, P(fx, "g"));
	/* and a failed lock (an OPEN) takes nothing */
	lsm_env_fault_fail_nth(env, LSM_FAULT_OPEN, 1, -EACCES);
	assert_int_equal(env->lock(env, P(fx, "LOCK"), "me", &f, NULL, 0),
			 -EACCES);
	assert_missing(fx->base, P(fx, "LOCK"));
	/* a non-fault env is refused politely */
	assert_int_equal(lsm_env_fault_count(fx->base, LSM_FAULT_ANY), 0);
	assert_int_equal(lsm_env_fault_power_cut(fx->base), LSM_E_INVALID);
}

/* ---- fault: crash_after_sync ------------------------------------------------- */

static void test_fault_crash_after_sync(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env;
	lsm_file *f, *g, *l;
	char buf[16], **names;
	size_t got, n;
	uint64_t size;

	assert_int_equal(env->open(env, P(fx, "x"), LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->lock(env, P(fx, "LOCK"), "me", &l, NULL, 0), 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	assert_int_equal(env->append(env, f, "one", 3), 0);
	lsm_env_fault_crash_after_sync(env, 2);
	assert_int_equal(env->sync(env, f), 0);
	assert_false(lsm_env_fault_crashed(env));
	assert_int_equal(env->append(env, f, "two", 3), 0);
	assert_int_equal(env->sync(env, f), 0);	/* the crash point succeeds */
	assert_true(lsm_env_fault_crashed(env));
	/* everything after fails with -EIO and does nothing */
	assert_int_equal(env->append(env, f, "three", 5), -EIO);
	assert_int_equal(env->pread(env, f, buf, 3, 0, &got), -EIO);
	assert_int_equal(env->fsize(env, f, &size), -EIO);
	assert_int_equal(env->sync(env, f), -EIO);
	assert_int_equal(env->open(env, P(fx, "y"), LSM_OPEN_WRITE, &g), -EIO);
	assert_missing(fx->base, P(fx, "y"));
	assert_int_equal(env->size(env, P(fx, "x"), &size), -EIO);
	assert_int_equal(env->rename(env, P(fx, "x"), P(fx, "z")), -EIO);
	assert_int_equal(env->remove(env, P(fx, "x")), -EIO);
	assert_int_equal(env->link(env, P(fx, "x"), P(fx, "z")), -EIO);
	assert_int_equal(env->mkdir(env, P(fx, "d")), -EIO);
	assert_int_equal(env->list(env, fx->root, &names, &n), -EIO);
	assert_int_equal(env->sync_dir(env, fx->root), -EIO);
	assert_int_equal(env->lock(env, P(fx, "L2"), "me", &g, NULL, 0), -EIO);
	assert_content(fx->base, P(fx, "x"), "onetwo");
	/* close and unlock still release */
	assert_int_equal(env->close(env, f), 0);
	assert_int_equal(env->unlock(env, l), 0);
	assert_int_equal(fx->base->lock(fx->base, P(fx, "LOCK"), "other", &l,
					NULL, 0), 0);
	assert_int_equal(fx->base->unlock(fx->base, l), 0);
	/* the reboot: synced data of a dir-synced file stays */
	assert_int_equal(lsm_env_fault_power_cut(env), 0);
	assert_false(lsm_env_fault_crashed(env));
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_ANY), 0);
	assert_content(env, P(fx, "x"), "onetwo");

	/* a crash armed on sync_dir, and disarming */
	lsm_env_fault_crash_after_sync(env, 1);
	lsm_env_fault_crash_after_sync(env, 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	assert_false(lsm_env_fault_crashed(env));
	lsm_env_fault_crash_after_sync(env, 1);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	assert_true(lsm_env_fault_crashed(env));
	assert_int_equal(env->size(env, P(fx, "x"), &size), -EIO);
	assert_int_equal(lsm_env_fault_power_cut(env), 0);
	assert_int_equal(env->size(env, P(fx, "x"), &size), 0);
}

/* ---- fault: power cut ------------------------------------------------------ */

static void test_fault_power_cut(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env, *base = fx->base;
	lsm_file *a, *d, *lk, *l2;
	char buf[256], other[64];
	size_t got;

	assert_int_equal(env->mkdir(env, P(fx, "db")), 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	/* durable files: data synced, names committed by sync_dir */
	write_file(env, P(fx, "db/c"), "c-data", true);
	write_file(env, P(fx, "db/cur"), "old", true);
	write_file(env, P(fx, "db/tmp"), "new", true);
	write_file(env, P(fx, "db/cur2"), "old2", true);
	write_file(env, P(fx, "db/gone"), "g", true);
	assert_int_equal(env->open(env, P(fx, "db/a"), LSM_OPEN_WRITE, &a), 0);
	assert_int_equal(env->append(env, a, "durable", 7), 0);
	assert_int_equal(env->sync(env, a), 0);
	assert_int_equal(env->lock(env, P(fx, "db/LOCK"), "me", &lk, NULL, 0),
			 0);
	assert_int_equal(env->sync_dir(env, P(fx, "db")), 0);
	/* a rename committed by sync_dir survives */
	write_file(env, P(fx, "db/tmp2"), "new2", true);
	assert_int_equal(env->rename(env, P(fx, "db/tmp2"), P(fx, "db/cur2")),
			 0);
	assert_int_equal(env->sync_dir(env, P(fx, "db/")), 0);

	/* From here on no sync_dir of db: nothing below is committed. */
	assert_int_equal(env->append(env, a, "-lost", 5), 0);	/* no sync */
	write_file(env, P(fx, "db/b"), "b-data", true);		/* no sync_dir */
	write_file(env, P(fx, "db/e"), "e-data", false);	/* neither */
	assert_int_equal(env->rename(env, P(fx, "db/tmp"), P(fx, "db/cur")),
			 0);
	assert_content(env, P(fx, "db/cur"), "new");
	/* a file the env never wrote counts as durable as it was; appends
	 * through the env are not durable until synced (handle left open) */
	write_file(base, P(fx, "db/pre"), "base", true);
	assert_int_equal(env->open(env, P(fx, "db/pre"), LSM_OPEN_APPEND, &d),
			 0);
	assert_int_equal(env->append(env, d, "more", 4), 0);
	/* removes are final */
	assert_int_equal(env->remove(env, P(fx, "db/gone")), 0);
	/* a sync_dir of another directory commits nothing in db */
	assert_int_equal(env->sync_dir(env, fx->root), 0);

	assert_int_equal(lsm_env_fault_power_cut(env), 0);
	assert_false(lsm_env_fault_crashed(env));
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_ANY), 0);
	assert_int_equal(lsm_env_fault_count(env, LSM_FAULT_SYNC), 0);

	assert_content(base, P(fx, "db/a"), "durable");
	assert_missing(base, P(fx, "db/b"));
	assert_missing(base, P(fx, "db/e"));
	assert_content(base, P(fx, "db/c"), "c-data");
	assert_content(base, P(fx, "db/cur"), "old");	/* rename undone */
	assert_content(base, P(fx, "db/tmp"), "new");	/* source restored */
	assert_content(base, P(fx, "db/cur2"), "new2");	/* committed */
	assert_missing(base, P(fx, "db/tmp2"));
	assert_content(base, P(fx, "db/pre"), "base");
	assert_missing(base, P(fx, "db/gone"));
	list_joined(base, P(fx, "db"), buf, sizeof buf);
	assert_string_equal(buf, "LOCK,a,c,cur,cur2,pre,tmp");

	/* handles open at the cut are dead; closing them is fine */
	assert_int_equal(env->append(env, a, "x", 1), -EIO);
	assert_int_equal(env->pread(env, a, buf, 1, 0, &got), -EIO);
	assert_int_equal(env->sync(env, d), -EIO);
	assert_int_equal(env->close(env, a), 0);
	assert_int_equal(env->close(env, d), 0);
	assert_content(base, P(fx, "db/a"), "durable");
	/* the dead process's lock is gone: the store can be locked again */
	assert_int_equal(env->lock(env, P(fx, "db/LOCK"), "rebooted", &l2,
				   other, sizeof other), 0);
	assert_int_equal(env->unlock(env, lk), 0);	/* dead: just freed */
	assert_int_equal(env->lock(env, P(fx, "db/LOCK"), "third", &lk,
				   other, sizeof other), LSM_E_LOCKED);
	assert_string_equal(other, "rebooted");
	assert_int_equal(env->unlock(env, l2), 0);

	/* the env is usable again, and models from a clean slate */
	write_file(env, P(fx, "db/after"), "after", true);
	assert_content(env, P(fx, "db/after"), "after");
	assert_int_equal(lsm_env_fault_power_cut(env), 0);
	assert_missing(base, P(fx, "db/after"));
	assert_content(base, P(fx, "db/cur"), "old");
}

/* The CURRENT dance done right and wrong, renames over uncommitted files,
 * links, and data that follows its file through a rename. */
static void test_fault_power_cut_chains(void **state)
{
	struct fx *fx = *state;
	lsm_env *env = fx->env, *base = fx->base;
	lsm_file *f;

	/* committed: CURRENT installed by tmp, sync, rename, sync_dir */
	write_file(env, P(fx, "CURRENT"), "MANIFEST-1\n", true);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	write_file(env, P(fx, "CURRENT.tmp"), "MANIFEST-2\n", true);
	assert_int_equal(env->rename(env, P(fx, "CURRENT.tmp"),
				     P(fx, "CURRENT")), 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	/* committed: a link source, and a file partly synced then renamed */
	write_file(env, P(fx, "src"), "linked", true);
	assert_int_equal(env->open(env, P(fx, "mv"), LSM_OPEN_WRITE, &f), 0);
	assert_int_equal(env->append(env, f, "keep", 4), 0);
	assert_int_equal(env->sync(env, f), 0);
	assert_int_equal(env->append(env, f, "drop", 4), 0);
	assert_int_equal(env->close(env, f), 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);
	assert_int_equal(env->rename(env, P(fx, "mv"), P(fx, "mv2")), 0);
	assert_int_equal(env->sync_dir(env, fx->root), 0);

	/* uncommitted from here: CURRENT installed without sync_dir */
	write_file(env, P(fx, "CURRENT.tmp"), "MANIFEST-3\n", true);
	assert_int_equal(env->rename(env, P(fx, "CURRENT.tmp"),
				     P(fx, "CURRENT")), 0);
	/* a rename over a file whose own creation is uncommitted */
	write_file(env, P(fx, "n1"), "n1", true);
	write_file(env, P(fx, "n2"), "n2", true);
	assert_int_equal(env->rename(env, P(fx, "n2"), P(fx, "n1")), 0);
	/* links are creates */
	assert_int_equal(env->link(env, P(fx, "src"), P(fx, "lnk")), 0);
	assert_int_equal(env->link(env, P(fx, "mv2"), P(fx, "mv3")), 0);

	assert_int_equal(lsm_env_fault_power_cut(env), 0);

	assert_content(base, P(fx, "CURRENT"), "MANIFEST-2\n");
	assert_missing(base, P(fx, "CURRENT.tmp"));
	assert_missing(base, P(fx, "n1"));
	assert_missing(base, P(fx, "n2"));
	assert_content(base, P(fx, "src"), "linked");
	assert_missing(base, P(fx, "lnk"));
	assert_content(base, P(fx, "mv2"), "keep");
	assert_missing(base, P(fx, "mv"));
	assert_missing(base, P(fx, "mv3"));
}

#define EACH(t)                                                              \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,          \
						 (void *)&fl_posix),          \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,          \
						 (void *)&fl_mem),            \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,          \
						 (void *)&fl_fault_mem)
#define FAULTS(t)                                                            \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,          \
						 (void *)&fl_fault_mem),      \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,          \
						 (void *)&fl_fault_posix)

int main(void)
{
	const struct CMUnitTest tests[] = {
		EACH(test_basic_io),
		EACH(test_namespace),
		EACH(test_lock),
		EACH(test_removed_open),
		cmocka_unit_test_prestate_setup_teardown(
			test_concurrent_append_pread, setup, teardown,
			(void *)&fl_mem),
		cmocka_unit_test_prestate_setup_teardown(
			test_concurrent_append_pread, setup, teardown,
			(void *)&fl_fault_mem),
		cmocka_unit_test(test_mem_paths),
		cmocka_unit_test(test_clock),
		FAULTS(test_fault_fail_nth),
		FAULTS(test_fault_fail_any),
		FAULTS(test_fault_crash_after_sync),
		FAULTS(test_fault_power_cut),
		FAULTS(test_fault_power_cut_chains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
