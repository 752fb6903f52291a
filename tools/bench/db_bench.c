/*
 * db_bench.c — the engine benchmark: the same workloads, in the same run,
 * against our lsm engine and (when found at build time) LevelDB and
 * RocksDB through their C APIs.
 *
 * Shape of a run: the parent forks one child per engine; each child opens
 * its engine in its own directory and runs workloads on command (one byte
 * stream of commands in, one fixed-size result struct out per command).
 * Workloads are interleaved: the parent runs workload 1 on every engine,
 * then workload 2 on every engine, and so on, rotating which engine goes
 * first; only one child works at a time, so engines never compete for the
 * two cores.  Because each engine lives in its own process, its peak RSS
 * (getrusage ru_maxrss of the child) is its own.
 *
 * Invariants:
 *  - Every engine sees the same keys in the same order and the same values:
 *    all sequences come from fixed seeds (splitmix64), never from time.
 *  - Keys are key_size decimal digits, zero-padded, so byte order is
 *    numeric order; values are value_size bytes cut from a pool in which
 *    every 100-byte piece is 50 random printable bytes repeated once, so
 *    they compress to about half (the idea of LevelDB's db_bench values).
 *  - A workload's timed section is the operation loop only.  After it the
 *    child waits until the engine is idle (no CPU used and nothing written
 *    for 3 x 100 ms: background flushes and compactions finished) before it
 *    measures bytes written and disk usage, so write amplification includes
 *    the compaction debt a workload left, and the next workload (on any
 *    engine) starts on a quiet machine.
 *  - Bytes written by an engine are the child's write(2) bytes (wchar in
 *    /proc/self/io) over the workload and its quiet-down, the same measure
 *    for every engine; ours is also shown from lsm_get_stats.  Disk usage is
 *    du's measure: allocated blocks of every file under the engine's dir.
 * Threads: the parent and each child are single-threaded apart from the
 * engines' own background threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "lsm.h"
#include "util.h"

/* ---- errors ------------------------------------------------------------ */

char bench_errmsg[512];

int bench_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(bench_errmsg, sizeof bench_errmsg, fmt, ap);
	va_end(ap);
	return code < 0 ? code : -1;
}

/* ---- workloads --------------------------------------------------------- */

enum bench_wl {
	WL_FILLSEQ,
	WL_FILLRANDOM,
	WL_OVERWRITE,
	WL_READRANDOM,
	WL_SEEKRANDOM,
	WL_READSEQ,
	WL_DELETERANDOM,
	WL_COMPACT,
	WL_COUNT
};

static const char *const wl_names[WL_COUNT] = {
	"fillseq", "fillrandom", "overwrite", "readrandom", "seekrandom",
	"readseq", "deleterandom", "compact",
};

static const char default_benchmarks[] =
	"fillseq,fillrandom,overwrite,readrandom,compact,readrandom,"
	"seekrandom,readseq,deleterandom,compact";

#define MAX_WL 64
#define MAX_ENGINES 3

/* What a child reports for one workload (a plain struct sent over a pipe
 * between processes of one binary). */
typedef struct bench_result {
	int rc;
	char err[512];
	double secs;		/* the timed loop */
	double cpu_secs;	/* CPU of the whole process (all threads) in it */
	double quiet_secs;	/* waiting for background work afterwards */
	uint64_t ops;
	uint64_t found;		/* reads that found their key */
	uint64_t bytes;		/* key+value bytes moved by the loop */
	uint64_t user_bytes;	/* key+value bytes handed to writes */
	uint64_t wchar;		/* write(2) bytes, loop + quiet-down */
	bool has_engine_bytes;
	uint64_t engine_bytes;	/* the engine's own count, same window */
	uint64_t disk_bytes;	/* du of the engine dir after quiet-down */
	uint64_t apparent_bytes; /* sum of file sizes, same moment */
	uint64_t table_bytes;	/* sum of sizes of table files (.sst/.ldb) */
	long maxrss_kb;
	char shape[256];
} bench_result;

/* ---- settings ---------------------------------------------------------- */

static bench_conf conf;
static uint64_t opt_reads;	/* readrandom and seekrandom operations */
static uint64_t opt_deletes;	/* deleterandom: distinct keys deleted */
static uint64_t opt_seed = 0x6c736d6673ULL;
static bool opt_keep;

/* ---- deterministic randomness ------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias worth caring about. */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/* A random permutation of [0, n), the same for every engine. */
static int make_perm(uint64_t n, uint64_t seed, uint32_t **out)
{
	uint32_t *p = malloc((n ? n : 1) * sizeof *p);
	if (!p)
		return bench_fail(-ENOMEM, "permutation of %" PRIu64 ": out of memory", n);
	for (uint64_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rng_below(&seed, i);
		uint32_t t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
	*out = p;
	return 0;
}

/* ---- keys and values --------------------------------------------------- */

static void make_key(char *buf, uint64_t n)
{
	int i = conf.key_size;
	memset(buf, '0', (size_t)conf.key_size);
	while (n && i > 0) {
		buf[--i] = (char)('0' + n % 10);
		n /= 10;
	}
}

#define VALUE_POOL (1u << 20)
#define VALUE_PIECE 100

typedef struct value_gen {
	char *pool;
	size_t size;
	size_t pos;
} value_gen;

static int value_gen_init(value_gen *g, uint64_t seed)
{
	g->size = VALUE_POOL + (size_t)conf.value_size;
	g->pos = 0;
	g->pool = malloc(g->size);
	if (!g->pool)
		return bench_fail(-ENOMEM, "value pool: out of memory");
	for (size_t off = 0; off < g->size; off += VALUE_PIECE) {
		char piece[VALUE_PIECE];
		size_t half = VALUE_PIECE / 2;
		for (size_t i = 0; i < half; i++)
			piece[i] = (char)(' ' + rng_below(&seed, 95));
		for (size_t i = half; i < VALUE_PIECE; i++)
			piece[i] = piece[i - half];
		memcpy(g->pool + off, piece, LSM_MIN((size_t)VALUE_PIECE, g->size - off));
	}
	return 0;
}

static const char *value_next(value_gen *g)
{
	if (g->pos + (size_t)conf.value_size > g->size)
		g->pos = 0;
	const char *v = g->pool + g->pos;
	g->pos += (size_t)conf.value_size;
	return v;
}

/* ---- process measurements ---------------------------------------------- */

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_secs(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* write(2) bytes of this process, all threads (wchar of /proc/self/io). */
static uint64_t proc_wchar(void)
{
	char buf[1024];
	uint64_t v = 0;
	int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strstr(buf, "wchar:");
	if (p)
		v = strtoull(p + 6, NULL, 10);
	return v;
}

/* nftw passes no context: the walk's sums (one thread per process). */
static uint64_t du_alloc, du_apparent, du_tables;

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int du_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F || type == FTW_D)
		du_alloc += (uint64_t)st->st_blocks * 512;
	if (type == FTW_F) {
		du_apparent += (uint64_t)st->st_size;
		if (has_suffix(path, ".sst") || has_suffix(path, ".ldb"))
			du_tables += (uint64_t)st->st_size;
	}
	return 0;
}

/* du of dir (allocated bytes of everything under it, so preallocated but
 * unwritten space counts), the sum of file sizes, and of table files. */
static void du_dir(const char *dir, bench_result *r)
{
	du_alloc = du_apparent = du_tables = 0;
	nftw(dir, du_cb, 16, FTW_PHYS);
	r->disk_bytes = du_alloc;
	r->apparent_bytes = du_apparent;
	r->table_bytes = du_tables;
}

static int rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		return bench_fail(-errno, "remove %s: %s", path, strerror(errno));
	return 0;
}

static int rm_rf(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : bench_fail(-errno, "%s: %s", dir, strerror(errno));
	int rc = nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return rc < 0 ? rc : 0;
}

/*
 * Wait until the engine's background threads are idle: three 100 ms
 * intervals in a row with under 2 ms of CPU and no bytes written, or 600 s.
 */
static double quiet_down(void)
{
	double t0 = now_secs();
	double cpu = cpu_secs();
	uint64_t w = proc_wchar();
	int calm = 0;
	while (calm < 3 && now_secs() - t0 < 600) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		double cpu2 = cpu_secs();
		uint64_t w2 = proc_wchar();
		calm = (cpu2 - cpu < 0.002 && w2 == w) ? calm + 1 : 0;
		cpu = cpu2;
		w = w2;
	}
	return now_secs() - t0;
}

/* ---- the child: one engine --------------------------------------------- */

typedef struct child {
	const bench_engine *eng;
	char dir[4096];
	void *db;
	uint32_t *fill_perm;	/* fillrandom's order */
	uint32_t *del_perm;	/* deleterandom's order */
	value_gen vals;
	int ordinal;		/* workloads run so far: seeds each read sequence */
} child;

static int child_reopen(child *c, bool fresh)
{
	if (c->db) {
		c->eng->close(c->db);
		c->db = NULL;
	}
	if (fresh)
		LSM_TRY(rm_rf(c->dir));
	return c->eng->open(&conf, c->dir, &c->db);
}

static int wl_fill(child *c, enum bench_wl w, bench_result *r)
{
	char key[1024];
	const bench_engine *e = c->eng;
	if (w == WL_FILLRANDOM && !c->fill_perm)
		LSM_TRY(make_perm(conf.num, opt_seed ^ 0xf111, &c->fill_perm));
	uint64_t s = opt_seed ^ (uint64_t)c->ordinal << 32;
	double t0 = now_secs();
	for (uint64_t i = 0; i < conf.num; i++) {
		uint64_t k = w == WL_FILLSEQ ? i :
			     w == WL_FILLRANDOM ? c->fill_perm[i] :
			     rng_below(&s, conf.num);
		make_key(key, k);
		LSM_TRY(e->put(c->db, key, (size_t)conf.key_size, value_next(&c->vals),
			       (size_t)conf.value_size));
	}
	r->secs = now_secs() - t0;
	r->ops = conf.num;
	r->bytes = r->user_bytes = conf.num * (uint64_t)(conf.key_size + conf.value_size);
	return 0;
}

static int wl_readrandom(child *c, bench_result *r)
{
	char key[1024];
	uint64_t s = opt_seed ^ 0x7ead ^ (uint64_t)c->ordinal << 32;
	double t0 = now_secs();
	for (uint64_t i = 0; i < opt_reads; i++) {
		bool found = false;
		size_t vlen = 0;
		make_key(key, rng_below(&s, conf.num));
		LSM_TRY(c->eng->get(c->db, key, (size_t)conf.key_size, &found, &vlen));
		if (found) {
			r->found++;
			r->bytes += (uint64_t)conf.key_size + vlen;
		}
	}
	r->secs = now_secs() - t0;
	r->ops = opt_reads;
	return 0;
}

static int wl_seekrandom(child *c, bench_result *r)
{
	char key[1024];
	const bench_engine *e = c->eng;
	void *it = NULL;
	int rc = 0;
	uint64_t s = opt_seed ^ 0x5eec ^ (uint64_t)c->ordinal << 32;
	LSM_TRY(e->it_new(c->db, &it));
	double t0 = now_secs();
	for (uint64_t i = 0; i < opt_reads; i++) {
		make_key(key, rng_below(&s, conf.num));
		e->it_seek(it, key, (size_t)conf.key_size);
		if (!e->it_valid(it))
			continue;
		size_t kl, vl;
		const char *k = e->it_key(it, &kl);
		(void)e->it_value(it, &vl);
		if (kl == (size_t)conf.key_size && memcmp(k, key, kl) == 0)
			r->found++;
		r->bytes += kl + vl;
	}
	r->secs = now_secs() - t0;
	r->ops = opt_reads;
	LSM_ERR(e->it_status(it));
err:
	e->it_free(it);
	return rc;
}

static int wl_readseq(child *c, bench_result *r)
{
	const bench_engine *e = c->eng;
	void *it = NULL;
	int rc = 0;
	LSM_TRY(e->it_new(c->db, &it));
	double t0 = now_secs();
	for (e->it_first(it); e->it_valid(it); e->it_next(it)) {
		size_t kl, vl;
		(void)e->it_key(it, &kl);
		(void)e->it_value(it, &vl);
		r->ops++;
		r->bytes += kl + vl;
	}
	r->secs = now_secs() - t0;
	r->found = r->ops;
	LSM_ERR(e->it_status(it));
err:
	e->it_free(it);
	return rc;
}

static int wl_deleterandom(child *c, bench_result *r)
{
	char key[1024];
	if (!c->del_perm)
		LSM_TRY(make_perm(conf.num, opt_seed ^ 0xde1e, &c->del_perm));
	double t0 = now_secs();
	for (uint64_t i = 0; i < opt_deletes; i++) {
		make_key(key, c->del_perm[i]);
		LSM_TRY(c->eng->del(c->db, key, (size_t)conf.key_size));
	}
	r->secs = now_secs() - t0;
	r->ops = opt_deletes;
	r->bytes = r->user_bytes = opt_deletes * (uint64_t)conf.key_size;
	return 0;
}

static int wl_compact(child *c, bench_result *r)
{
	double t0 = now_secs();
	LSM_TRY(c->eng->compact(c->db));
	r->secs = now_secs() - t0;
	r->ops = 1;
	return 0;
}

static void child_run(child *c, enum bench_wl w, bench_result *r)
{
	int rc = 0;
	uint64_t eb0 = 0, ub0 = 0, eb1 = 0, ub1 = 0;
	memset(r, 0, sizeof *r);
	bench_errmsg[0] = 0;
	if (w == WL_FILLSEQ || w == WL_FILLRANDOM)
		LSM_ERR(child_reopen(c, true));
	else if (!c->db)
		LSM_ERR(child_reopen(c, false));
	uint64_t w0 = proc_wchar();
	if (c->eng->written)
		LSM_ERR(c->eng->written(c->db, &eb0, &ub0));
	double cpu0 = cpu_secs();
	switch (w) {
	case WL_FILLSEQ:
	case WL_FILLRANDOM:
	case WL_OVERWRITE:
		LSM_ERR(wl_fill(c, w, r));
		break;
	case WL_READRANDOM:
		LSM_ERR(wl_readrandom(c, r));
		break;
	case WL_SEEKRANDOM:
		LSM_ERR(wl_seekrandom(c, r));
		break;
	case WL_READSEQ:
		LSM_ERR(wl_readseq(c, r));
		break;
	case WL_DELETERANDOM:
		LSM_ERR(wl_deleterandom(c, r));
		break;
	case WL_COMPACT:
		LSM_ERR(wl_compact(c, r));
		break;
	case WL_COUNT:
		break;
	}
	/* The loop's own setup (permutations) is outside secs but inside
	 * this; it is small next to a million operations. */
	r->cpu_secs = cpu_secs() - cpu0;
	r->quiet_secs = quiet_down();
	r->wchar = proc_wchar() - w0;
	if (c->eng->written) {
		LSM_ERR(c->eng->written(c->db, &eb1, &ub1));
		r->has_engine_bytes = true;
		r->engine_bytes = eb1 - eb0;
	}
	du_dir(c->dir, r);
	if (c->eng->shape)
		c->eng->shape(c->db, r->shape, sizeof r->shape);
err:
	r->rc = rc;
	if (rc < 0)
		snprintf(r->err, sizeof r->err, "%s", bench_errmsg[0] ? bench_errmsg :
			 "failed");
	r->maxrss_kb = maxrss_kb();
	c->ordinal++;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0 on success, 1 on end of stream, -errno on error. */
static int read_all(int fd, void *p, size_t n)
{
	char *b = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 1;
		got += (size_t)r;
	}
	return 0;
}

/* Commands: a workload index, or -1 to close the engine and report. */
static void child_main(const bench_engine *eng, const char *dir, int in, int out)
{
	child c;
	bench_result r;
	int cmd;
	memset(&c, 0, sizeof c);
	c.eng = eng;
	snprintf(c.dir, sizeof c.dir, "%s", dir);
	if (value_gen_init(&c.vals, opt_seed ^ 0x7a1) < 0) {
		fprintf(stderr, "db_bench: %s: %s\n", eng->name, bench_errmsg);
		_exit(2);
	}
	while (read_all(in, &cmd, sizeof cmd) == 0) {
		if (cmd < 0 || cmd >= WL_COUNT) {
			memset(&r, 0, sizeof r);
			if (c.db)
				eng->close(c.db);
			c.db = NULL;
			r.maxrss_kb = maxrss_kb();
			write_all(out, &r, sizeof r);
			break;
		}
		child_run(&c, (enum bench_wl)cmd, &r);
		if (write_all(out, &r, sizeof r) < 0)
			break;
	}
	free(c.fill_perm);
	free(c.del_perm);
	free(c.vals.pool);
	_exit(0);
}

/* ---- the parent -------------------------------------------------------- */

typedef struct engine_slot {
	const bench_engine *eng;
	pid_t pid;
	int to, from;		/* command pipe, result pipe */
	bool dead;
	char dir[4096];
	bench_result res[MAX_WL];
	bool ran[MAX_WL];
	long final_rss_kb;
} engine_slot;

static const bench_engine *find_engine(const char *name)
{
	if (strcmp(name, "lsm") == 0)
		return &bench_engine_lsm;
#ifdef HAVE_LEVELDB
	if (strcmp(name, "leveldb") == 0)
		return &bench_engine_leveldb;
#endif
#ifdef HAVE_ROCKSDB
	if (strcmp(name, "rocksdb") == 0)
		return &bench_engine_rocksdb;
#endif
	return NULL;
}

/* Fork the child of slots[i]; the earlier slots' children already run. */
static int spawn(engine_slot *slots, int i)
{
	engine_slot *s = &slots[i];
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from, O_CLOEXEC) < 0) {
		int e = -errno;
		close(to[0]);
		close(to[1]);
		return e;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return e;
	}
	if (pid == 0) {
		/* Hold no other child's pipes: each child must see end of
		 * stream on its commands when the parent goes away. */
		for (int k = 0; k < i; k++) {
			close(slots[k].to);
			close(slots[k].from);
		}
		close(to[1]);
		close(from[0]);
		child_main(s->eng, s->dir, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	s->pid = pid;
	s->to = to[1];
	s->from = from[0];
	return 0;
}

static int slot_command(engine_slot *s, int cmd, bench_result *r)
{
	int rc = write_all(s->to, &cmd, sizeof cmd);
	if (rc == 0)
		rc = read_all(s->from, r, sizeof *r);
	if (rc != 0) {
		int status = 0;
		s->dead = true;
		waitpid(s->pid, &status, 0);
		s->pid = 0;
		memset(r, 0, sizeof *r);
		r->rc = -1;
		if (WIFSIGNALED(status))
			snprintf(r->err, sizeof r->err, "child died of signal %d (%s)",
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			snprintf(r->err, sizeof r->err, "child exited (status %d)",
				 WEXITSTATUS(status));
	}
	return r->rc;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static double ops_per_sec(const bench_result *r)
{
	return r->secs > 0 ? (double)r->ops / r->secs : 0;
}

/* Higher is better for us: our speed over a peer's (time ratio for the
 * compaction, which is one operation). */
static double speed_ratio(enum bench_wl w, const bench_result *ours,
			  const bench_result *peer)
{
	if (w == WL_COMPACT)
		return ours->secs > 0 ? peer->secs / ours->secs : 0;
	double p = ops_per_sec(peer);
	return p > 0 ? ops_per_sec(ours) / p : 0;
}

static void print_result_line(const char *label, enum bench_wl w,
			      const engine_slot *s, const bench_result *r)
{
	if (r->rc < 0) {
		printf("%-16s %-8s FAILED: %s\n", label, s->eng->name, r->err);
		return;
	}
	if (w == WL_COMPACT) {
		printf("%-16s %-8s %9.3f s  cpu %.3f s", label, s->eng->name, r->secs,
		       r->cpu_secs);
	} else {
		printf("%-16s %-8s %10.0f ops/s %8.3f us/op %7.1f MB/s  %8.3f s  cpu %.3f us/op",
		       label, s->eng->name, ops_per_sec(r),
		       r->ops ? r->secs * 1e6 / (double)r->ops : 0.0,
		       r->secs > 0 ? mib(r->bytes) / r->secs : 0.0, r->secs,
		       r->ops ? r->cpu_secs * 1e6 / (double)r->ops : 0.0);
	}
	if (w == WL_READRANDOM || w == WL_SEEKRANDOM || w == WL_READSEQ)
		printf("  found %" PRIu64 "/%" PRIu64, r->found,
		       w == WL_READSEQ ? conf.num : r->ops);
	printf("  wrote %.1f MiB", mib(r->wchar));
	if (r->user_bytes)
		printf(" (amp %.2f", (double)r->wchar / (double)r->user_bytes);
	if (r->user_bytes && r->has_engine_bytes)
		printf(", engine's count %.2f", (double)r->engine_bytes /
						(double)r->user_bytes);
	if (r->user_bytes)
		printf(")");
	else if (r->has_engine_bytes)
		printf(" (engine's count %.1f MiB)", mib(r->engine_bytes));
	printf("  disk %.1f MiB (files %.1f, tables %.1f)  quiet %.1f s  rss %.0f MiB\n",
	       mib(r->disk_bytes), mib(r->apparent_bytes), mib(r->table_bytes),
	       r->quiet_secs, (double)r->maxrss_kb / 1024.0);
	if (r->shape[0])
		printf("%-16s %-8s   tree: %s\n", "", "", r->shape);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: db_bench [options]\n"
		"  --num N            keys (default 1000000)\n"
		"  --reads N          readrandom/seekrandom operations (default num)\n"
		"  --deletes N        deleterandom: distinct keys deleted (default num/2)\n"
		"  --key_size N       bytes (default 16)\n"
		"  --value_size N     bytes (default 100)\n"
		"  --compression on|off  (default on: ours zstd-1, RocksDB zstd-1, LevelDB snappy)\n"
		"  --zstd_level N     zstd level of ours and RocksDB (default 1; negative: zstd's fast levels)\n"
		"  --bloom_bits N     (default 10)\n"
		"  --cache_mb N       block cache (default 64)\n"
		"  --write_buffer_mb N  memtable size for every engine (default: ours, 64)\n"
		"  --db DIR           parent of the engines' dirs (default: fresh /tmp/db_bench.XXXXXX)\n"
		"  --keep_db          leave the stores behind\n"
		"  --engines LIST     lsm,leveldb,rocksdb (default: all built in)\n"
		"  --benchmarks LIST  default %s\n"
		"                     workloads: fillseq fillrandom overwrite readrandom\n"
		"                     seekrandom readseq deleterandom compact\n"
		"  --seed N           (default fixed)\n",
		default_benchmarks);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*v = x;
	return 0;
}

static int parse_int(const char *s, int lo, int hi, int *v)
{
	uint64_t x;
	if (parse_u64(s, &x) < 0 || x < (uint64_t)lo || x > (uint64_t)hi)
		return -1;
	*v = (int)x;
	return 0;
}

/* Split a comma list in place into at most max items. */
static int split_list(char *s, char **items, int max)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (n == max)
			return -1;
		items[n++] = tok;
	}
	return n;
}

/* The machine is shared: the load average says how noisy a run was. */
static void print_load(const char *when)
{
	double l[3];
	if (getloadavg(l, 3) == 3)
		printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

static void print_machine(void)
{
	struct utsname u;
	char model[256] = "unknown cpu";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "model name", 10) == 0) {
				char *p = strchr(line, ':');
				if (p) {
					snprintf(model, sizeof model, "%s", p + 2);
					model[strcspn(model, "\n")] = 0;
				}
				break;
			}
		}
		fclose(f);
	}
	uname(&u);
	time_t t = time(NULL);
	char date[64];
	strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
	printf("date:     %s\n", date);
	printf("machine:  %s, %ld cores, %.1f GiB RAM, %s %s\n", model,
	       sysconf(_SC_NPROCESSORS_ONLN),
	       (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) /
		       (1024.0 * 1024 * 1024),
	       u.sysname, u.release);
}

int main(int argc, char **argv)
{
	char benchmarks[1024], engines[256] = "lsm"
#ifdef HAVE_LEVELDB
		",leveldb"
#endif
#ifdef HAVE_ROCKSDB
		",rocksdb"
#endif
		;
	char base[4096] = "";
	bool made_base = false, reads_set = false, deletes_set = false;
	uint64_t wb_mb = 0;
	lsm_options defaults;

	lsm_options_init(&defaults);
	snprintf(benchmarks, sizeof benchmarks, "%s", default_benchmarks);
	conf.num = 1000000;
	conf.key_size = 16;
	conf.value_size = 100;
	conf.compression = true;
	conf.zstd_level = 1;
	conf.bloom_bits = 10;
	conf.cache_bytes = 64u << 20;
	conf.write_buffer = defaults.write_buffer_size;
	conf.max_immutable = defaults.max_immutable;
	conf.block_size = defaults.block_size;
	conf.max_open_files = defaults.max_open_tables;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x;
		int bad = 0;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--keep_db") == 0) {
			opt_keep = true;
			continue;
		}
		if (!v || strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "db_bench: bad or incomplete option %s\n", a);
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--num") == 0)
			bad = parse_u64(v, &conf.num) < 0 || conf.num == 0 ||
			      conf.num > UINT32_MAX;
		else if (strcmp(a, "--reads") == 0)
			bad = parse_u64(v, &opt_reads) < 0, reads_set = true;
		else if (strcmp(a, "--deletes") == 0)
			bad = parse_u64(v, &opt_deletes) < 0, deletes_set = true;
		else if (strcmp(a, "--key_size") == 0)
			bad = parse_int(v, 1, 1000, &conf.key_size);
		else if (strcmp(a, "--value_size") == 0)
			bad = parse_int(v, 0, 1 << 20, &conf.value_size);
		else if (strcmp(a, "--compression") == 0) {
			bad = strcmp(v, "on") && strcmp(v, "off");
			conf.compression = strcmp(v, "on") == 0;
		} else if (strcmp(a, "--zstd_level") == 0) {
			char *end;
			errno = 0;
			long l = strtol(v, &end, 10);
			bad = errno || end == v || *end || l < -100 || l > 22 || l == 0;
			conf.zstd_level = (int)l;
		} else if (strcmp(a, "--bloom_bits") == 0)
			bad = parse_int(v, 0, 64, &conf.bloom_bits);
		else if (strcmp(a, "--cache_mb") == 0) {
			bad = parse_u64(v, &x) < 0 || x > (1u << 20);
			conf.cache_bytes = (size_t)x << 20;
		} else if (strcmp(a, "--write_buffer_mb") == 0)
			bad = parse_u64(v, &wb_mb) < 0 || wb_mb == 0 || wb_mb > 4096;
		else if (strcmp(a, "--db") == 0)
			snprintf(base, sizeof base, "%s", v);
		else if (strcmp(a, "--engines") == 0)
			snprintf(engines, sizeof engines, "%s", v);
		else if (strcmp(a, "--benchmarks") == 0)
			snprintf(benchmarks, sizeof benchmarks, "%s", v);
		else if (strcmp(a, "--seed") == 0)
			bad = parse_u64(v, &opt_seed) < 0;
		else {
			fprintf(stderr, "db_bench: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "db_bench: bad value for %s: %s\n", a, v);
			return 2;
		}
	}
	if (wb_mb)
		conf.write_buffer = (size_t)wb_mb << 20;
	if (!reads_set)
		opt_reads = conf.num;
	if (!deletes_set)
		opt_deletes = conf.num / 2;
	if (opt_deletes > conf.num)
		opt_deletes = conf.num;
	uint64_t digits = 1;
	for (uint64_t n = conf.num - 1; n >= 10; n /= 10)
		digits++;
	if (digits > (uint64_t)conf.key_size) {
		fprintf(stderr, "db_bench: --key_size %d cannot hold %" PRIu64 " keys\n",
			conf.key_size, conf.num);
		return 2;
	}

	/* Workloads. */
	char *wl_items[MAX_WL];
	enum bench_wl wl[MAX_WL];
	char wl_label[MAX_WL][32];
	int nwl = split_list(benchmarks, wl_items, MAX_WL);
	if (nwl <= 0) {
		fprintf(stderr, "db_bench: bad --benchmarks list\n");
		return 2;
	}
	int seen[WL_COUNT] = { 0 };
	for (int i = 0; i < nwl; i++) {
		int k;
		for (k = 0; k < WL_COUNT && strcmp(wl_items[i], wl_names[k]); k++)
			;
		if (k == WL_COUNT) {
			fprintf(stderr, "db_bench: unknown workload %s\n", wl_items[i]);
			return 2;
		}
		wl[i] = (enum bench_wl)k;
		if (++seen[k] > 1)
			snprintf(wl_label[i], sizeof wl_label[i], "%s#%d", wl_names[k], seen[k]);
		else
			snprintf(wl_label[i], sizeof wl_label[i], "%s", wl_names[k]);
	}

	/* Engines. */
	static engine_slot slots[MAX_ENGINES];
	char *eng_items[MAX_ENGINES + 1];
	int neng = split_list(engines, eng_items, MAX_ENGINES);
	if (neng <= 0) {
		fprintf(stderr, "db_bench: bad --engines list\n");
		return 2;
	}
	for (int i = 0; i < neng; i++) {
		slots[i].eng = find_engine(eng_items[i]);
		if (!slots[i].eng) {
			fprintf(stderr, "db_bench: engine %s is unknown or was not found "
				"at build time\n", eng_items[i]);
			return 2;
		}
	}

	if (!base[0]) {
		snprintf(base, sizeof base, "/tmp/db_bench.XXXXXX");
		if (!mkdtemp(base)) {
			fprintf(stderr, "db_bench: mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		made_base = true;
	} else if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "db_bench: mkdir %s: %s\n", base, strerror(errno));
		return 1;
	}

	print_machine();
	print_load("at start");
	printf("keys:     %" PRIu64 " x (%d + %d) bytes, values compressible to ~50%%; "
	       "reads %" PRIu64 ", deletes %" PRIu64 "\n", conf.num, conf.key_size,
	       conf.value_size, opt_reads, opt_deletes);
	printf("dirs:     %s/<engine>\n", base);
	for (int i = 0; i < neng; i++) {
		char d[1024];
		slots[i].eng->describe(&conf, d, sizeof d);
		printf("%-8s  %s\n", slots[i].eng->name, d);
	}
	printf("Timed: the operation loop.  After it each engine is left to go idle "
	       "(\"quiet\"), then bytes written (write(2) bytes of the engine's process, "
	       "loop + quiet) and disk (du) are measured.\n\n");

	signal(SIGPIPE, SIG_IGN);
	int rc = 0;
	for (int i = 0; i < neng; i++) {
		snprintf(slots[i].dir, sizeof slots[i].dir, "%s/%s", base,
			 slots[i].eng->name);
		int e = spawn(slots, i);
		if (e < 0) {
			fprintf(stderr, "db_bench: fork: %s\n", strerror(-e));
			rc = 1;
			goto out;
		}
	}

	for (int w = 0; w < nwl; w++) {
		for (int j = 0; j < neng; j++) {
			engine_slot *s = &slots[(w + j) % neng];
			if (s->dead)
				continue;
			slot_command(s, (int)wl[w], &s->res[w]);
			s->ran[w] = true;
			print_result_line(wl_label[w], wl[w], s, &s->res[w]);
			if (s->res[w].rc < 0)
				rc = 1;
			fflush(stdout);
		}
		/* Ratios: ours against each peer. */
		engine_slot *ours = NULL;
		for (int j = 0; j < neng; j++)
			if (slots[j].eng == &bench_engine_lsm && slots[j].ran[w] &&
			    slots[j].res[w].rc == 0)
				ours = &slots[j];
		if (ours && neng > 1) {
			printf("%-16s ratio   ", wl_label[w]);
			for (int j = 0; j < neng; j++) {
				if (&slots[j] == ours || !slots[j].ran[w] || slots[j].res[w].rc)
					continue;
				printf("  lsm/%s %.2fx", slots[j].eng->name,
				       speed_ratio(wl[w], &ours->res[w], &slots[j].res[w]));
			}
			printf("\n");
		}
		printf("\n");
		fflush(stdout);
	}

	for (int j = 0; j < neng; j++) {
		bench_result r;
		if (slots[j].dead)
			continue;
		slot_command(&slots[j], -1, &r);
		slots[j].final_rss_kb = r.maxrss_kb;
		if (slots[j].pid)
			waitpid(slots[j].pid, NULL, 0);
		slots[j].pid = 0;
	}

	print_load("at end");
	printf("\n");
	/* Summary: throughput. */
	printf("## Summary (ops/s; compact: seconds; ratio > 1 means lsm is faster)\n\n");
	printf("| workload |");
	for (int j = 0; j < neng; j++)
		printf(" %s |", slots[j].eng->name);
	for (int j = 0; j < neng; j++)
		if (slots[j].eng != &bench_engine_lsm)
			printf(" lsm/%s |", slots[j].eng->name);
	printf("\n|---|");
	for (int j = 0; j < neng; j++)
		printf("---:|%s", slots[j].eng != &bench_engine_lsm ? "---:|" : "");
	printf("\n");
	for (int w = 0; w < nwl; w++) {
		engine_slot *ours = NULL;
		printf("| %s |", wl_label[w]);
		for (int j = 0; j < neng; j++) {
			const bench_result *r = &slots[j].res[w];
			if (!slots[j].ran[w] || r->rc)
				printf(" failed |");
			else if (wl[w] == WL_COMPACT)
				printf(" %.2f s |", r->secs);
			else
				printf(" %.0f (%.1f MB/s) |", ops_per_sec(r),
				       r->secs > 0 ? mib(r->bytes) / r->secs : 0.0);
			if (slots[j].eng == &bench_engine_lsm && slots[j].ran[w] && !r->rc)
				ours = &slots[j];
		}
		for (int j = 0; j < neng; j++) {
			if (slots[j].eng == &bench_engine_lsm)
				continue;
			if (!ours || !slots[j].ran[w] || slots[j].res[w].rc)
				printf(" - |");
			else
				printf(" %.2fx |", speed_ratio(wl[w], &ours->res[w],
								&slots[j].res[w]));
		}
		printf("\n");
	}

	/* Summary: CPU cost, which a busy machine disturbs less than time. */
	printf("\n## CPU per operation (us/op of all the engine's threads during the "
	       "loop; compact: CPU seconds; ratio > 1 means lsm uses less)\n\n");
	printf("| workload |");
	for (int j = 0; j < neng; j++)
		printf(" %s |", slots[j].eng->name);
	for (int j = 0; j < neng; j++)
		if (slots[j].eng != &bench_engine_lsm)
			printf(" %s/lsm |", slots[j].eng->name);
	printf("\n|---|");
	for (int j = 0; j < neng; j++)
		printf("---:|%s", slots[j].eng != &bench_engine_lsm ? "---:|" : "");
	printf("\n");
	for (int w = 0; w < nwl; w++) {
		const bench_result *ours = NULL;
		double scale = wl[w] == WL_COMPACT ? 1.0 : 1e6;
		printf("| %s |", wl_label[w]);
		for (int j = 0; j < neng; j++) {
			const bench_result *r = &slots[j].res[w];
			if (!slots[j].ran[w] || r->rc || !r->ops) {
				printf(" - |");
				continue;
			}
			printf(" %.2f |", r->cpu_secs * scale / (double)r->ops);
			if (slots[j].eng == &bench_engine_lsm)
				ours = r;
		}
		for (int j = 0; j < neng; j++) {
			const bench_result *r = &slots[j].res[w];
			if (slots[j].eng == &bench_engine_lsm)
				continue;
			if (!ours || !slots[j].ran[w] || r->rc || ours->cpu_secs <= 0 ||
			    !r->ops || !ours->ops)
				printf(" - |");
			else
				printf(" %.2fx |", (r->cpu_secs / (double)r->ops) /
						   (ours->cpu_secs / (double)ours->ops));
		}
		printf("\n");
	}

	/* Summary: space, write amplification, memory. */
	printf("\n## Summary per engine\n\n"
	       "Disk columns: du (allocated) / sum of file sizes / table files, MiB.\n\n"
	       "| engine | write amp, fillrandom+overwrite | disk after load | "
	       "disk after compact | disk after delete+compact | peak RSS |\n"
	       "|---|---:|---:|---:|---:|---:|\n");
	for (int j = 0; j < neng; j++) {
		engine_slot *s = &slots[j];
		uint64_t wr = 0, user = 0, eng_wr = 0;
		bool eng_counted = false, compacted = false, deleted = false;
		const bench_result *load = NULL, *comp = NULL, *final = NULL;
		for (int w = 0; w < nwl; w++) {
			const bench_result *r = &s->res[w];
			if (!s->ran[w] || r->rc)
				continue;
			if (wl[w] == WL_FILLRANDOM || wl[w] == WL_OVERWRITE) {
				wr += r->wchar;
				user += r->user_bytes;
				eng_wr += r->engine_bytes;
				eng_counted = r->has_engine_bytes;
			}
			if ((wl[w] == WL_FILLSEQ || wl[w] == WL_FILLRANDOM ||
			     wl[w] == WL_OVERWRITE) && !compacted && !deleted)
				load = r;
			if (wl[w] == WL_DELETERANDOM)
				deleted = true;
			if (wl[w] == WL_COMPACT) {
				if (deleted)
					final = r;
				else if (!compacted)
					comp = r;
				compacted = true;
			}
		}
		printf("| %s |", s->eng->name);
		if (user) {
			printf(" %.2f", (double)wr / (double)user);
			if (eng_counted)
				printf(" (engine's count %.2f)", (double)eng_wr / (double)user);
			printf(" |");
		} else {
			printf(" - |");
		}
		const bench_result *cols[3] = { load, comp, final };
		for (int k = 0; k < 3; k++) {
			if (!cols[k])
				printf(" - |");
			else
				printf(" %.1f / %.1f / %.1f |", mib(cols[k]->disk_bytes),
				       mib(cols[k]->apparent_bytes), mib(cols[k]->table_bytes));
		}
		if (s->final_rss_kb)
			printf(" %.0f MiB |\n", (double)s->final_rss_kb / 1024.0);
		else
			printf(" - |\n");
	}
	printf("\nLive data: %.1f MiB of keys+values after load, %.1f MiB after "
	       "deleting %" PRIu64 " keys.\n",
	       mib(conf.num * (uint64_t)(conf.key_size + conf.value_size)),
	       mib((conf.num - opt_deletes) * (uint64_t)(conf.key_size + conf.value_size)),
	       opt_deletes);
out:
	for (int j = 0; j < neng; j++) {
		if (slots[j].pid) {
			close(slots[j].to);
			waitpid(slots[j].pid, NULL, 0);
		}
	}
	if (made_base && !opt_keep) {
		if (rm_rf(base) < 0)
			fprintf(stderr, "db_bench: cleanup: %s\n", bench_errmsg);
	} else if (opt_keep) {
		printf("stores kept in %s\n", base);
	}
	fflush(stdout);
	return rc;
}
