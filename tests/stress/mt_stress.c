/*
 * mt_stress.c — concurrent mixed operations on a mounted lsmfs, with
 * checks (tests/stress/t_concurrency.sh runs several of these processes
 * at once on one mount).
 *
 *   mt_stress run    DIR SECONDS THREADS SEED ID MANIFEST
 *   mt_stress verify DIR MANIFEST
 *
 * run: THREADS threads work for SECONDS.  Each thread does, at random:
 *  - private work in DIR/p<ID>.<thread>/ that only it touches: create and
 *    rewrite files (patterned content), read them back, rename, unlink,
 *    mkdir/rmdir, readdir — all results are exact (every call succeeds, a
 *    listing equals the thread's model, every read equals the pattern);
 *  - shared work in DIR/shared/ racing every other thread and process:
 *    records (a header with length and checksum, then data) are written
 *    to a private temporary name, fsynced, and renamed over a shared name
 *    r<k> or d<j>/r<k>; readers open, read and stat any shared name; hard
 *    links, unlinks, mkdir/rmdir of d<j>, readdir.  Errors that races
 *    explain (ENOENT, EEXIST, ENOTEMPTY, ...) are fine; any other error is
 *    a failure, and every record read must be whole (rename is atomic, a
 *    reader never sees a torn or foreign file).
 * At the end each thread compares its private tree with its model and
 * appends "path size hash" of every private file to MANIFEST.
 *
 * verify: after a remount, every file in MANIFEST has that size and hash.
 *
 * Exit: 0 clean, 1 a check failed (the first failure is printed), 2 usage.
 * Threads: THREADS workers; the failure flag and the manifest are the
 * only shared state (atomic flag, one mutex around the manifest).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NSHARED 24		/* r0..r23 */
#define NSDIRS 4		/* d0..d3 */
#define NPRIV 40		/* private names per thread */
#define MAXSIZE (256 << 10)
#define REC_MAGIC 0x5245434fu	/* "RECO" */

static const char *dir;
static int seconds, nthreads, id;
static uint64_t seed;
static FILE *manifest;
static pthread_mutex_t manifest_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int failed;
static atomic_ulong nops, nerrs_ok;

static void failure(const char *fmt, ...)
{
	va_list ap;
	if (atomic_exchange(&failed, 1))
		return;	/* the first failure tells the story */
	va_start(ap, fmt);
	fprintf(stderr, "mt_stress %d: FAILED: ", id);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

struct rng {
	uint64_t s;
};
static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}
static uint64_t below(struct rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void pattern(unsigned char *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

/* Errors a race between threads explains. */
static bool race_ok(int e)
{
	return e == ENOENT || e == EEXIST || e == ENOTEMPTY || e == ENOTDIR ||
	       e == EISDIR || e == EBUSY;
}

static void check_race(const char *op, const char *path, int e)
{
	if (race_ok(e))
		atomic_fetch_add(&nerrs_ok, 1);
	else
		failure("%s %s: %s", op, path, strerror(e));
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(fd, p + done, n - done, (off_t)done);
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

/* Read a whole file; -errno on failure. */
static int read_file(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap)
			break;
	}
	close(fd);
	*len = got;
	return 0;
}

/* ---- private work: exact ------------------------------------------------- */

struct pfile {
	bool present;
	bool dir;		/* a directory (then empty) */
	size_t size;
	uint64_t key;		/* pattern seed */
};

struct worker {
	int t;
	struct rng r;
	char pdir[512];
	struct pfile f[NPRIV];
	unsigned char *buf, *buf2;
	uint64_t tmpn;
};

static void ppath(struct worker *w, int i, char *out)
{
	snprintf(out, 600, "%s/n%d", w->pdir, i);
}

static void priv_check_one(struct worker *w, int i)
{
	char p[600];
	size_t len;
	ppath(w, i, p);
	struct pfile *f = &w->f[i];
	struct stat st;
	if (!f->present) {
		if (lstat(p, &st) == 0 || errno != ENOENT)
			failure("%s should not exist (lstat: %s)", p, strerror(errno));
		return;
	}
	if (lstat(p, &st) < 0) {
		failure("%s: lstat: %s", p, strerror(errno));
		return;
	}
	if (f->dir) {
		if (!S_ISDIR(st.st_mode) || st.st_nlink != 2)
			failure("%s: want an empty directory, mode 0%o nlink %ju", p, st.st_mode,
				(uintmax_t)st.st_nlink);
		return;
	}
	int rc = read_file(p, w->buf, MAXSIZE + 1, &len);
	if (rc < 0) {
		failure("%s: read: %s", p, strerror(-rc));
		return;
	}
	pattern(w->buf2, f->size, f->key);
	if (len != f->size || (size_t)st.st_size != f->size || memcmp(w->buf, w->buf2, len) != 0)
		failure("%s: %zu bytes (st_size %lld), want %zu%s", p, len, (long long)st.st_size,
			f->size, len == f->size ? " (content differs)" : "");
}

static void priv_op(struct worker *w)
{
	int i = (int)below(&w->r, NPRIV);
	struct pfile *f = &w->f[i];
	char p[600], q[600];
	ppath(w, i, p);
	uint64_t k = below(&w->r, 100);
	if (k < 30 && (!f->present || !f->dir)) {
		/* create or rewrite (in place, or truncating) */
		size_t size = below(&w->r, 4) ? below(&w->r, 8192) : below(&w->r, MAXSIZE);
		uint64_t key = rnd(&w->r);
		pattern(w->buf, size, key);
		int fd = open(p, O_WRONLY | O_CREAT | (below(&w->r, 2) ? O_TRUNC : 0), 0644);
		if (fd < 0) {
			failure("create %s: %s", p, strerror(errno));
			return;
		}
		int rc = write_all(fd, w->buf, size);
		if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
			rc = -errno;
		if (rc == 0 && below(&w->r, 8) == 0 && fsync(fd) < 0)
			rc = -errno;
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc < 0) {
			failure("write %s: %s", p, strerror(-rc));
			return;
		}
		f->present = true;
		f->dir = false;
		f->size = size;
		f->key = key;
	} else if (k < 55) {
		priv_check_one(w, i);
	} else if (k < 65 && f->present) {
		/* rename over another private name */
		int j = (int)below(&w->r, NPRIV);
		struct pfile *g = &w->f[j];
		if (j == i || (g->present && (g->dir != f->dir)))
			return;
		ppath(w, j, q);
		if (rename(p, q) < 0) {
			failure("rename %s %s: %s", p, q, strerror(errno));
			return;
		}
		*g = *f;
		f->present = false;
	} else if (k < 75 && f->present) {
		if ((f->dir ? rmdir(p) : unlink(p)) < 0) {
			failure("remove %s: %s", p, strerror(errno));
			return;
		}
		f->present = false;
	} else if (k < 82 && !f->present) {
		if (mkdir(p, 0755) < 0) {
			failure("mkdir %s: %s", p, strerror(errno));
			return;
		}
		f->present = true;
		f->dir = true;
	} else if (k < 90) {
		/* the listing equals the model */
		DIR *d = opendir(w->pdir);
		bool seen[NPRIV] = { false };
		int n = 0;
		struct dirent *de;
		if (!d) {
			failure("opendir %s: %s", w->pdir, strerror(errno));
			return;
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			int x = de->d_name[0] == 'n' ? atoi(de->d_name + 1) : -1;
			if (x < 0 || x >= NPRIV || !w->f[x].present || seen[x])
				failure("readdir %s: unexpected or repeated entry %s", w->pdir, de->d_name);
			else
				seen[x] = true;
			n++;
		}
		closedir(d);
		int want = 0;
		for (int x = 0; x < NPRIV; x++)
			want += w->f[x].present;
		if (n != want)
			failure("readdir %s: %d entries, want %d", w->pdir, n, want);
	} else {
		/* a partial write that keeps the content the key's pattern
		 * (the pattern of n bytes is a prefix of that of more): an
		 * overwrite of a range with the bytes it should hold, or an
		 * append */
		if (!f->present || f->dir)
			return;
		size_t off, len, newsize = f->size;
		if (f->size > 0 && below(&w->r, 2)) {
			off = below(&w->r, f->size);
			len = 1 + below(&w->r, f->size - off);
		} else {
			if (f->size >= MAXSIZE)
				return;
			off = f->size;
			len = 1 + below(&w->r, MAXSIZE - f->size < 65536 ? MAXSIZE - f->size : 65536);
			newsize = off + len;
		}
		pattern(w->buf, newsize, f->key);
		int fd = open(p, O_WRONLY);
		int rc = fd < 0 ? -errno : 0;
		for (size_t done = 0; rc == 0 && done < len;) {
			ssize_t n = pwrite(fd, w->buf + off + done, len - done, (off_t)(off + done));
			if (n < 0)
				rc = -errno;
			else
				done += (size_t)n;
		}
		if (fd >= 0)
			close(fd);
		if (rc < 0) {
			failure("partial write %s: %s", p, strerror(-rc));
			return;
		}
		f->size = newsize;
	}
}

/* ---- shared work: races --------------------------------------------------- */

static void spath(struct rng *r, char *out)
{
	if (below(r, 3) == 0)
		snprintf(out, 600, "%s/shared/d%d/r%d", dir, (int)below(r, NSDIRS),
			 (int)below(r, NSHARED));
	else
		snprintf(out, 600, "%s/shared/r%d", dir, (int)below(r, NSHARED));
}

/* A record: magic, length, checksum of the data, then the data. */
static size_t make_record(struct worker *w)
{
	size_t n = below(&w->r, 3) ? below(&w->r, 4000) : below(&w->r, 100000);
	pattern(w->buf + 16, n, rnd(&w->r));
	uint32_t magic = REC_MAGIC, len = (uint32_t)n;
	uint64_t h = fnv(w->buf + 16, n);
	memcpy(w->buf, &magic, 4);
	memcpy(w->buf + 4, &len, 4);
	memcpy(w->buf + 8, &h, 8);
	return n + 16;
}

static void check_record(const char *p, const unsigned char *b, size_t n)
{
	uint32_t magic, len;
	uint64_t h;
	if (n < 16) {
		failure("%s: a record of %zu bytes (torn or foreign)", p, n);
		return;
	}
	memcpy(&magic, b, 4);
	memcpy(&len, b + 4, 4);
	memcpy(&h, b + 8, 8);
	if (magic != REC_MAGIC || len != n - 16 || fnv(b + 16, len) != h)
		failure("%s: a damaged record (%zu bytes, header says %u)", p, n, len);
}

static void shared_op(struct worker *w)
{
	char p[600], q[600];
	uint64_t k = below(&w->r, 100);
	spath(&w->r, p);
	if (k < 30) {
		/* publish a record: temp file, fsync sometimes, rename */
		size_t n = make_record(w);
		snprintf(q, sizeof q, "%s/shared/tmp.%d.%d.%" PRIu64, dir, id, w->t, w->tmpn++);
		int fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			failure("create %s: %s", q, strerror(errno));
			return;
		}
		int rc = write_all(fd, w->buf, n);
		if (rc == 0 && below(&w->r, 4) == 0 && fsync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc < 0) {
			failure("write %s: %s", q, strerror(-rc));
			return;
		}
		if (rename(q, p) < 0) {
			check_race("rename", p, errno);
			if (unlink(q) < 0)
				failure("unlink %s: %s", q, strerror(errno));
		}
	} else if (k < 60) {
		size_t n;
		int rc = read_file(p, w->buf, MAXSIZE, &n);
		if (rc < 0)
			check_race("read", p, -rc);
		else
			check_record(p, w->buf, n);
	} else if (k < 68) {
		struct stat st;
		if (stat(p, &st) < 0)
			check_race("stat", p, errno);
		else if (S_ISREG(st.st_mode) && st.st_size < 16)
			failure("%s: stat says %lld bytes: not a record", p, (long long)st.st_size);
	} else if (k < 76) {
		if (unlink(p) < 0)
			check_race("unlink", p, errno);
	} else if (k < 82) {
		spath(&w->r, q);
		if (link(p, q) < 0)
			check_race("link", p, errno);
	} else if (k < 88) {
		spath(&w->r, q);
		if (rename(p, q) < 0)
			check_race("rename", p, errno);
	} else if (k < 92) {
		snprintf(q, sizeof q, "%s/shared/d%d", dir, (int)below(&w->r, NSDIRS));
		if ((below(&w->r, 2) ? mkdir(q, 0755) : rmdir(q)) < 0)
			check_race("mkdir/rmdir", q, errno);
	} else {
		snprintf(q, sizeof q, "%s/shared", dir);
		DIR *d = opendir(q);
		if (!d) {
			failure("opendir %s: %s", q, strerror(errno));
			return;
		}
		struct dirent *de;
		char names[256][256];
		int n = 0;
		while ((de = readdir(d))) {
			for (int i = 0; i < n; i++)
				if (!strcmp(names[i], de->d_name))
					failure("readdir %s: %s listed twice", q, de->d_name);
			if (n < 256)
				snprintf(names[n++], sizeof names[0], "%s", de->d_name);
		}
		closedir(d);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mkdir(w->pdir, 0755) < 0 && errno != EEXIST) {
		failure("mkdir %s: %s", w->pdir, strerror(errno));
		return NULL;
	}
	for (uint64_t i = 0; !atomic_load(&failed); i++) {
		if ((i & 15) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= seconds)
				break;
		}
		if (below(&w->r, 2))
			priv_op(w);
		else
			shared_op(w);
		atomic_fetch_add(&nops, 1);
	}
	/* final: the whole private tree against the model; record it */
	for (int i = 0; i < NPRIV && !atomic_load(&failed); i++)
		priv_check_one(w, i);
	pthread_mutex_lock(&manifest_mu);
	for (int i = 0; i < NPRIV; i++) {
		char p[600];
		ppath(w, i, p);
		struct pfile *f = &w->f[i];
		if (f->present && !f->dir) {
			pattern(w->buf, f->size, f->key);
			fprintf(manifest, "%s %zu %016" PRIx64 " %" PRIu64 "\n", p, f->size,
				fnv(w->buf, f->size), f->key);
		} else if (f->present) {
			fprintf(manifest, "%s dir 0 0\n", p);
		}
	}
	pthread_mutex_unlock(&manifest_mu);
	return NULL;
}

static int cmd_run(const char *mpath)
{
	char sd[600];
	snprintf(sd, sizeof sd, "%s/shared", dir);
	if (mkdir(sd, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", sd, strerror(errno));
		return 1;
	}
	manifest = fopen(mpath, "a");
	if (!manifest) {
		fprintf(stderr, "%s: %s\n", mpath, strerror(errno));
		return 1;
	}
	/* one write(2) per line: processes append to the same file */
	setvbuf(manifest, NULL, _IOLBF, 4096);
	pthread_t th[64];
	struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
	for (int t = 0; t < nthreads; t++) {
		struct worker *w = &ws[t];
		w->t = t;
		w->r.s = seed * 1000003 + (uint64_t)id * 64 + (uint64_t)t + 1;
		snprintf(w->pdir, sizeof w->pdir, "%s/p%d.%d", dir, id, t);
		w->buf = malloc(MAXSIZE + 16);
		w->buf2 = malloc(MAXSIZE + 16);
		if (!w->buf || !w->buf2)
			return 1;
		pthread_create(&th[t], NULL, worker_main, w);
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < nthreads; t++) {
		free(ws[t].buf);
		free(ws[t].buf2);
	}
	free(ws);
	fclose(manifest);
	printf("mt_stress %d: %lu operations, %lu race errors (fine)\n", id,
	       (unsigned long)atomic_load(&nops), (unsigned long)atomic_load(&nerrs_ok));
	return atomic_load(&failed) ? 1 : 0;
}

static int cmd_verify(const char *mpath)
{
	FILE *f = fopen(mpath, "r");
	char line[1024], p[700], size[32];
	uint64_t h, key;
	int n = 0;
	unsigned char *buf = malloc(MAXSIZE + 1), *want = malloc(MAXSIZE + 1);
	if (!f || !buf || !want)
		return 1;
	while (fgets(line, sizeof line, f)) {
		struct stat st;
		if (sscanf(line, "%699s %31s %" SCNx64 " %" SCNu64, p, size, &h, &key) != 4) {
			failure("bad manifest line: %s", line);
			break;
		}
		n++;
		if (!strcmp(size, "dir")) {
			if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
				failure("%s: directory missing after remount", p);
			continue;
		}
		size_t len;
		int rc = read_file(p, buf, MAXSIZE + 1, &len);
		if (rc < 0)
			failure("%s: after remount: %s", p, strerror(-rc));
		else if (len != strtoull(size, NULL, 10) || fnv(buf, len) != h) {
			size_t wl = strtoull(size, NULL, 10), d = 0, e;
			pattern(want, wl, key);
			while (d < len && d < wl && buf[d] == want[d])
				d++;
			for (e = d; e < len && e < wl && buf[e] != want[e]; e++)
				;
			failure("%s: after remount: %zu bytes, want %zu; first difference at byte %zu "
				"(0x%02x, want 0x%02x), differing run up to %zu", p, len, wl, d,
				d < len ? buf[d] : 0, d < wl ? want[d] : 0, e);
		}
	}
	fclose(f);
	free(buf);
	free(want);
	printf("mt_stress: %d names verified after remount\n", n);
	return atomic_load(&failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "run")) {
		dir = argv[2];
		seconds = atoi(argv[3]);
		nthreads = atoi(argv[4]);
		seed = strtoull(argv[5], NULL, 0);
		id = atoi(argv[6]);
		if (nthreads < 1 || nthreads > 64 || seconds < 1)
			return 2;
		return cmd_run(argv[7]);
	}
	if (argc == 4 && !strcmp(argv[1], "verify")) {
		dir = argv[2];
		return cmd_verify(argv[3]);
	}
	fprintf(stderr, "usage: mt_stress run DIR SECONDS THREADS SEED ID MANIFEST\n"
			"       mt_stress verify DIR MANIFEST\n");
	return 2;
}
