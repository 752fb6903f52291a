/*
 * crash_workload.c — the workload and the oracle of the kill -9 crash test
 * (tests/crash/t_crash.sh).
 *
 *   crash_workload run   ROOT STATE LOG SEED [CTL]
 *   crash_workload check ROOT STATE LOG
 *
 * run: works in the directory ROOT (on the mount) until an operation fails
 * because the daemon is gone (ENOTCONN, ECONNABORTED: exit 0) or fails for
 * any other reason (exit 2, with the operation and errno).  Operations:
 * create-or-rewrite a file with new content and fsync it; rename a file
 * (to a new name or over another file); rename a directory; unlink; hard
 * link; mkdir; rmdir.  With CTL (the mount's root), now and then it also
 * asks the daemon for a flush or a full compaction through the control
 * xattrs, so that kills land inside them too.
 *
 * Every operation is logged to LOG (a file OUTSIDE the mount) twice, each
 * line with one write(2): "B ..." before it starts and "D ..." after it
 * returned (for a file: after fsync returned), so the log always says what
 * is certainly done, plus at most one operation in flight.
 *
 * check: replays LOG over STATE (the model left by the previous check),
 * observes ROOT to decide the fate of the operation in flight, then checks
 * the whole tree against the model and writes the new STATE (LOG is then
 * emptied).  Exit 1 with a description of every violation:
 *   - a file whose write+fsync returned has exactly that content and size;
 *   - an operation that returned is there (rename: the new name has the
 *     file and the old name is gone; unlink: gone; link: both names, one
 *     inode, the link count of every file equals its names in the model);
 *   - the operation in flight is atomic: a rename leaves the old name or
 *     the new one, never both, never neither (over an existing file: the
 *     target holds either file, the source exists exactly when the target
 *     still holds the old one); a link, unlink, mkdir or rmdir happened or
 *     did not;
 *   - nothing else exists (no resurrected or invented names) and
 *     directories have link count 2 + subdirectories.
 *
 * Durability model: the test kills the daemon, not the machine, so what
 * the daemon wrote to its store survives; namespace operations are
 * therefore durable once they return, and data once fsync returns (with
 * the kernel's writeback cache, unsynced data may still be lost).  The
 * power-loss case below the daemon is tests/unit/test_fs_powerloss.c.
 *
 * STATE format (text): "C next_name next_obj", then "d PATH" per directory
 * and "f PATH OBJ SIZE HASH" per file name (hard links share OBJ).
 * Threads: one.  Several workloads may run at once in different ROOTs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAXN 4096		/* names in one model */
#define PATHLEN 256
#define TARGET_FILES 60		/* the workload keeps about this many names */
#define TARGET_DIRS 6

struct ent {
	char path[PATHLEN];
	bool dir;
	uint64_t obj;		/* files: content identity (shared by links) */
	uint64_t size, hash;	/* files: the content */
};

struct model {
	struct ent e[MAXN];
	int n;
	uint64_t next_name, next_obj;
};

static struct model M;
static int violations;

static void violation(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "VIOLATION: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	violations++;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash_workload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- the model ------------------------------------------------------------ */

static struct ent *find(const char *path)
{
	for (int i = 0; i < M.n; i++)
		if (strcmp(M.e[i].path, path) == 0)
			return &M.e[i];
	return NULL;
}

static struct ent *add(const char *path, bool dir)
{
	if (M.n == MAXN)
		die("model full");
	struct ent *e = &M.e[M.n++];
	memset(e, 0, sizeof *e);
	snprintf(e->path, sizeof e->path, "%s", path);
	e->dir = dir;
	return e;
}

static void del(struct ent *e)
{
	*e = M.e[--M.n];
}

static int links_of(uint64_t obj)
{
	int n = 0;
	for (int i = 0; i < M.n; i++)
		if (!M.e[i].dir && M.e[i].obj == obj)
			n++;
	return n;
}

static bool has_prefix(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	return strncmp(path, dir, l) == 0 && path[l] == '/';
}

static int children(const char *dir, bool dirs_only)
{
	int n = 0;
	for (int i = 0; i < M.n; i++)
		if (has_prefix(M.e[i].path, dir) && strchr(M.e[i].path + strlen(dir) + 1, '/') == NULL &&
		    (!dirs_only || M.e[i].dir))
			n++;
	return n;
}

/* Rename in the model: a file, or a directory with everything below. */
static void model_rename(const char *from, const char *to)
{
	struct ent *t = find(to);
	if (t)
		del(t);
	struct ent *f = find(from);
	if (!f)
		die("the log renames %s, which the model does not have", from);
	bool dir = f->dir;
	snprintf(f->path, sizeof f->path, "%s", to);
	if (dir) {
		for (int i = 0; i < M.n; i++)
			if (has_prefix(M.e[i].path, from)) {
				char np[PATHLEN * 2];
				int l = snprintf(np, sizeof np, "%s%s", to, M.e[i].path + strlen(from));
				if (l < 0 || l >= PATHLEN)
					die("model: path too long after renaming %s", from);
				memcpy(M.e[i].path, np, (size_t)l + 1);
			}
	}
}

static void state_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	memset(&M, 0, sizeof M);
	M.next_name = 1;
	M.next_obj = 1;
	if (!f)
		return;	/* first cycle: empty model */
	while (fgets(line, sizeof line, f)) {
		char p[PATHLEN];
		uint64_t a, b, c;
		if (line[0] == 'C' && sscanf(line, "C %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			M.next_name = a;
			M.next_obj = b;
		} else if (line[0] == 'd' && sscanf(line, "d %255s", p) == 1) {
			add(p, true);
		} else if (line[0] == 'f' &&
			   sscanf(line, "f %255s %" SCNu64 " %" SCNu64 " %" SCNu64, p, &a, &b, &c) == 4) {
			struct ent *e = add(p, false);
			e->obj = a;
			e->size = b;
			e->hash = c;
		} else {
			die("%s: bad line: %s", path, line);
		}
	}
	fclose(f);
}

static void state_save(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "C %" PRIu64 " %" PRIu64 "\n", M.next_name, M.next_obj);
	for (int i = 0; i < M.n; i++) {
		if (M.e[i].dir)
			fprintf(f, "d %s\n", M.e[i].path);
		else
			fprintf(f, "f %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", M.e[i].path,
				M.e[i].obj, M.e[i].size, M.e[i].hash);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		die("%s: %s", path, strerror(errno));
}

/* ---- content ------------------------------------------------------------- */

static uint64_t rng = 1;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* FNV-1a, 64 bits: enough to tell contents apart. */
static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define HASH0 0xcbf29ce484222325ULL

/* Hash and size of a file on the mount; -errno if unreadable. */
static int hash_file(const char *path, uint64_t *size, uint64_t *hash)
{
	int fd = open(path, O_RDONLY);
	unsigned char buf[65536];
	uint64_t h = HASH0, n = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		h = hash_bytes(h, buf, (size_t)r);
		n += (uint64_t)r;
	}
	close(fd);
	*size = n;
	*hash = h;
	return 0;
}

/* ---- run ------------------------------------------------------------------ */

static int logfd = -1;
static const char *root;

static void logline(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (write(logfd, line, (size_t)n) != n)
		die("log write: %s", strerror(errno));
}

static bool daemon_gone(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == ENODEV;
}

/* An operation failed: exit 0 if the daemon is gone, else report.  A
 * write cut off by the kill can also end in EIO from the kernel (the
 * page it was filling never became valid): that counts as the daemon
 * being gone only if the mount no longer answers a statfs (which the
 * kernel never serves from a cache).  The daemon logs every EIO it
 * replies itself ("replied EIO"), and t_crash.sh fails on such a line. */
static void op_failed(const char *op, const char *path)
{
	int e = errno;
	struct statfs sf;
	if (daemon_gone(e))
		exit(0);
	if (e == EIO && statfs(root, &sf) != 0 && daemon_gone(errno))
		exit(0);
	die("%s %s: %s", op, path, strerror(e));
}

static void full(char *out, const char *rel)
{
	snprintf(out, PATHLEN * 2, "%s/%s", root, rel);
}

/* A parent directory for a new name: the root or a model directory. */
static const char *pick_dir(void)
{
	int nd = 0;
	for (int i = 0; i < M.n; i++)
		nd += M.e[i].dir;
	if (nd == 0 || below(3) == 0)
		return "";
	int k = (int)below((uint64_t)nd);
	for (int i = 0; i < M.n; i++)
		if (M.e[i].dir && k-- == 0)
			return M.e[i].path;
	return "";
}

static void new_name(char *out, char kind)
{
	const char *d = pick_dir();
	snprintf(out, PATHLEN, "%s%s%c%" PRIu64, d, *d ? "/" : "", kind, M.next_name++);
}

static struct ent *pick(bool dir)
{
	int n = 0;
	for (int i = 0; i < M.n; i++)
		n += M.e[i].dir == dir;
	if (!n)
		return NULL;
	int k = (int)below((uint64_t)n);
	for (int i = 0; i < M.n; i++)
		if (M.e[i].dir == dir && k-- == 0)
			return &M.e[i];
	return NULL;
}

static size_t pick_size(void)
{
	switch (below(8)) {
	case 0: return 0;
	case 1: case 2: return 1 + below(300);
	case 3: return 1 + below(2048);	/* inline */
	case 4: return 2049 + below(8192);
	case 5: case 6: return 4096 * (1 + below(16)) + below(4096);
	default: return below(1 << 20);
	}
}

/* Create or rewrite path with fresh content, fsync it. */
static void op_write(const char *rel, struct ent *old)
{
	char p[PATHLEN * 2];
	size_t size = pick_size();
	unsigned char *buf = malloc(size ? size : 1);
	uint64_t x = rnd();
	for (size_t i = 0; i < size; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
	uint64_t h = hash_bytes(HASH0, buf, size);
	uint64_t obj = old ? old->obj : M.next_obj++;
	bool trunc = !old || below(2);
	full(p, rel);
	logline("B W %s %" PRIu64 " %zu %" PRIu64 " %d", rel, obj, size, h, old ? 0 : 1);
	int fd = open(p, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
	if (fd < 0)
		op_failed("open", p);
	size_t done = 0;
	while (done < size) {
		size_t chunk = 1 + below(size - done < 200000 ? size - done : 200000);
		ssize_t w = pwrite(fd, buf + done, chunk, (off_t)done);
		if (w < 0)
			op_failed("pwrite", p);
		done += (size_t)w;
	}
	if (!trunc && ftruncate(fd, (off_t)size) < 0)
		op_failed("ftruncate", p);
	if (fsync(fd) < 0)
		op_failed("fsync", p);
	if (close(fd) < 0)
		op_failed("close", p);
	logline("D W %s %" PRIu64 " %zu %" PRIu64 " %d", rel, obj, size, h, old ? 0 : 1);
	free(buf);
	if (old) {
		for (int i = 0; i < M.n; i++)
			if (!M.e[i].dir && M.e[i].obj == obj) {
				M.e[i].size = size;
				M.e[i].hash = h;
			}
	} else {
		struct ent *e = add(rel, false);
		e->obj = obj;
		e->size = size;
		e->hash = h;
	}
}

static void op_rename(struct ent *f, const char *to)
{
	char a[PATHLEN * 2], b[PATHLEN * 2], from[PATHLEN];
	snprintf(from, sizeof from, "%s", f->path);
	full(a, from);
	full(b, to);
	logline("B R %s %s", from, to);
	if (rename(a, b) < 0)
		op_failed("rename", a);
	logline("D R %s %s", from, to);
	model_rename(from, to);
}

static void run_one(const char *ctl)
{
	char p[PATHLEN * 2], name[PATHLEN];
	int nfiles = 0, ndirs = 0;
	for (int i = 0; i < M.n; i++) {
		nfiles += !M.e[i].dir;
		ndirs += M.e[i].dir;
	}
	uint64_t r = below(100);
	if (r < 35 || nfiles == 0) {
		if (nfiles < TARGET_FILES && (below(2) || nfiles == 0)) {
			new_name(name, 'f');
			op_write(name, NULL);
		} else {
			struct ent *e = pick(false);
			snprintf(name, sizeof name, "%s", e->path);
			op_write(name, e);
		}
	} else if (r < 55) {
		/* rename a file: to a new name, or over another file (never a
		 * link of itself: POSIX makes that a no-op) */
		struct ent *f = pick(false), *t = pick(false);
		if (t && t->obj != f->obj && below(2)) {
			snprintf(name, sizeof name, "%s", t->path);
			op_rename(f, name);
		} else {
			new_name(name, 'f');
			op_rename(f, name);
		}
	} else if (r < 70) {
		if (nfiles > TARGET_FILES / 2) {
			struct ent *e = pick(false);
			snprintf(name, sizeof name, "%s", e->path);
			full(p, name);
			logline("B U %s", name);
			if (unlink(p) < 0)
				op_failed("unlink", p);
			logline("D U %s", name);
			del(find(name));
		}
	} else if (r < 80) {
		struct ent *e = pick(false);
		char a[PATHLEN * 2], from[PATHLEN];
		if (links_of(e->obj) >= 4)
			return;
		snprintf(from, sizeof from, "%s", e->path);
		new_name(name, 'h');
		full(a, from);
		full(p, name);
		logline("B L %s %s", from, name);
		if (link(a, p) < 0)
			op_failed("link", a);
		logline("D L %s %s", from, name);
		struct ent *src = find(from);
		struct ent *n = add(name, false);
		n->obj = src->obj;
		n->size = src->size;
		n->hash = src->hash;
	} else if (r < 87) {
		if (ndirs < TARGET_DIRS) {
			new_name(name, 'd');
			full(p, name);
			logline("B M %s", name);
			if (mkdir(p, 0755) < 0)
				op_failed("mkdir", p);
			logline("D M %s", name);
			add(name, true);
		} else {
			/* rmdir an empty directory, if there is one */
			for (int i = 0; i < M.n; i++) {
				if (!M.e[i].dir || children(M.e[i].path, false))
					continue;
				snprintf(name, sizeof name, "%s", M.e[i].path);
				full(p, name);
				logline("B X %s", name);
				if (rmdir(p) < 0)
					op_failed("rmdir", p);
				logline("D X %s", name);
				del(&M.e[i]);
				break;
			}
		}
	} else if (r < 95) {
		/* rename a directory (to a fresh name in the root: a directory
		 * never moves below itself) */
		struct ent *d = pick(true);
		if (d) {
			snprintf(name, sizeof name, "d%" PRIu64, M.next_name++);
			op_rename(d, name);
		}
	} else if (ctl && r < 98) {
		const char *what = below(4) ? "lsmfs.flush" : "lsmfs.compact";
		if (setxattr(ctl, what, "1", 1, 0) < 0)
			op_failed(what, ctl);
	} else {
		/* read something back: reads run during the kill too */
		struct ent *e = pick(false);
		uint64_t s, h;
		full(p, e->path);
		if (hash_file(p, &s, &h) < 0)
			op_failed("read", p);
		if (s != e->size || h != e->hash)
			die("read %s: %" PRIu64 " bytes hash %016" PRIx64 ", model says %" PRIu64
			    " bytes hash %016" PRIx64, p, s, h, e->size, e->hash);
	}
}

static int cmd_run(const char *state, const char *log, uint64_t seed, const char *ctl)
{
	state_load(state);
	rng = seed ? seed : 1;
	for (int i = 0; i < 10; i++)
		rnd();
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (logfd < 0)
		die("%s: %s", log, strerror(errno));
	for (;;)
		run_one(ctl);
	return 0;
}

/* ---- check ------------------------------------------------------------- */

/* The operation in flight (a "B" line without its "D"). */
struct pending {
	char op;
	char a[PATHLEN], b[PATHLEN];
	uint64_t obj, size, hash;
	int isnew;
};

static void apply(const struct pending *p)
{
	switch (p->op) {
	case 'W': {
		if (p->isnew) {
			struct ent *e = add(p->a, false);
			e->obj = p->obj;
			e->size = p->size;
			e->hash = p->hash;
		} else {
			for (int i = 0; i < M.n; i++)
				if (!M.e[i].dir && M.e[i].obj == p->obj) {
					M.e[i].size = p->size;
					M.e[i].hash = p->hash;
				}
		}
		if (p->obj >= M.next_obj)
			M.next_obj = p->obj + 1;
		break;
	}
	case 'R':
		model_rename(p->a, p->b);
		break;
	case 'U':
	case 'X':
		if (!find(p->a))
			die("the log removes %s, which the model does not have", p->a);
		del(find(p->a));
		break;
	case 'L': {
		struct ent *s = find(p->a);
		if (!s)
			die("the log links %s, which the model does not have", p->a);
		struct ent *n = add(p->b, false);
		n->obj = s->obj;
		n->size = s->size;
		n->hash = s->hash;
		break;
	}
	case 'M':
		add(p->a, true);
		break;
	}
}

/* Names in log lines carry a counter; keep next_name above them all. */
static void bump_names(const char *path)
{
	for (const char *s = path; *s; s++) {
		if ((*s == 'f' || *s == 'h' || *s == 'd') && (s == path || s[-1] == '/')) {
			uint64_t v = strtoull(s + 1, NULL, 10);
			if (v >= M.next_name)
				M.next_name = v + 1;
		}
	}
}

static bool parse(const char *line, struct pending *p)
{
	memset(p, 0, sizeof *p);
	p->op = line[2];
	switch (p->op) {
	case 'W':
		return sscanf(line + 4, "%255s %" SCNu64 " %" SCNu64 " %" SCNu64 " %d", p->a, &p->obj,
			      &p->size, &p->hash, &p->isnew) == 5;
	case 'R':
	case 'L':
		return sscanf(line + 4, "%255s %255s", p->a, p->b) == 2;
	case 'U':
	case 'M':
	case 'X':
		return sscanf(line + 4, "%255s", p->a) == 1;
	}
	return false;
}

static bool exists(const char *rel, struct stat *st)
{
	char p[PATHLEN * 2];
	struct stat s;
	full(p, rel);
	if (lstat(p, st ? st : &s) == 0)
		return true;
	if (errno != ENOENT)
		violation("lstat %s: %s", p, strerror(errno));
	return false;
}

/* Decide what happened to the operation in flight by looking at the disk,
 * and bring the model to that outcome. */
static void resolve(const struct pending *p)
{
	struct stat st;
	switch (p->op) {
	case 'W': {
		char fp[PATHLEN * 2];
		uint64_t size, hash;
		if (!exists(p->a, &st)) {
			if (!p->isnew)
				violation("%s vanished while being rewritten", p->a);
			return;
		}
		full(fp, p->a);
		if (hash_file(fp, &size, &hash) < 0) {
			violation("%s unreadable after a crash in its write", p->a);
			return;
		}
		/* Content of a file being written is whatever it is; the
		 * model takes it over (links must then all show it). */
		struct pending q = *p;
		q.size = size;
		q.hash = hash;
		if (!p->isnew) {
			struct ent *e = find(p->a);
			if (e)
				q.obj = e->obj;
		}
		apply(&q);
		fprintf(stderr, "in flight: write %s (%s): now %" PRIu64 " bytes%s\n", p->a,
			p->isnew ? "new" : "rewrite", size,
			size == p->size && hash == p->hash ? " (the new content)" : "");
		return;
	}
	case 'R': {
		/* The source still there means "not renamed": the strict check
		 * then wants the target as it was (absent or the old file). */
		bool src = exists(p->a, NULL);
		if (!src)
			apply(p);
		fprintf(stderr, "in flight: rename %s -> %s: %s\n", p->a, p->b,
			src ? "not done" : "done");
		return;
	}
	case 'U':
		if (!exists(p->a, NULL))
			apply(p);
		return;
	case 'L':
		if (exists(p->b, NULL))
			apply(p);
		return;
	case 'M':
		if (exists(p->a, NULL))
			apply(p);
		return;
	case 'X':
		if (!exists(p->a, NULL))
			apply(p);
		return;
	}
}

static void check_tree(const char *rel)
{
	char p[PATHLEN * 2];
	full(p, rel);
	DIR *d = opendir(p);
	if (!d) {
		violation("opendir %s: %s", p, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char child[PATHLEN * 2];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		struct ent *e = find(child);
		if (!e) {
			violation("%s exists but the model has no such name", child);
			continue;
		}
		if (e->dir)
			check_tree(child);
	}
	closedir(d);
}

static int cmd_check(const char *state, const char *log)
{
	state_load(state);
	FILE *f = fopen(log, "r");
	char line[1024];
	struct pending cur;
	bool inflight = false;
	int lines = 0;
	while (f && fgets(line, sizeof line, f)) {
		struct pending p;
		size_t l = strlen(line);
		if (l == 0 || line[l - 1] != '\n')
			break;	/* a torn last line: the workload died writing it */
		if ((line[0] != 'B' && line[0] != 'D') || !parse(line, &p))
			die("%s: bad line: %s", log, line);
		lines++;
		bump_names(p.a);
		bump_names(p.b);
		if (p.op == 'W' && p.obj >= M.next_obj)
			M.next_obj = p.obj + 1;
		if (line[0] == 'B') {
			if (inflight)
				die("%s: two operations in flight", log);
			cur = p;
			inflight = true;
		} else {
			if (!inflight || cur.op != p.op || strcmp(cur.a, p.a))
				die("%s: done without begin: %s", log, line);
			apply(&p);
			inflight = false;
		}
	}
	if (f)
		fclose(f);
	if (inflight)
		resolve(&cur);

	/* every name of the model, exactly */
	for (int i = 0; i < M.n; i++) {
		struct ent *e = &M.e[i];
		struct stat st;
		if (!exists(e->path, &st)) {
			violation("%s is missing (%s)", e->path, e->dir ? "directory" : "file");
			continue;
		}
		if (e->dir) {
			if (!S_ISDIR(st.st_mode))
				violation("%s is not a directory", e->path);
			else if (st.st_nlink != (nlink_t)(2 + children(e->path, true)))
				violation("directory %s has link count %ju, want %d", e->path,
					  (uintmax_t)st.st_nlink, 2 + children(e->path, true));
			continue;
		}
		char fp[PATHLEN * 2];
		uint64_t size, hash;
		full(fp, e->path);
		if (!S_ISREG(st.st_mode)) {
			violation("%s is not a regular file", e->path);
			continue;
		}
		if (st.st_nlink != (nlink_t)links_of(e->obj))
			violation("%s has link count %ju, model has %d names", e->path,
				  (uintmax_t)st.st_nlink, links_of(e->obj));
		for (int j = 0; j < i; j++) {
			struct stat s2;
			if (!M.e[j].dir && M.e[j].obj == e->obj && exists(M.e[j].path, &s2) &&
			    s2.st_ino != st.st_ino)
				violation("%s and %s should be one inode (hard links), are %ju and %ju",
					  e->path, M.e[j].path, (uintmax_t)st.st_ino,
					  (uintmax_t)s2.st_ino);
		}
		int rc = hash_file(fp, &size, &hash);
		if (rc < 0)
			violation("%s: read: %s", e->path, strerror(-rc));
		else if (size != e->size || hash != e->hash)
			violation("%s has %" PRIu64 " bytes (hash %016" PRIx64 "), its last fsync "
				  "left %" PRIu64 " bytes (hash %016" PRIx64 ")",
				  e->path, size, hash, e->size, e->hash);
	}
	check_tree("");
	int nf = 0, nd = 0;
	for (int i = 0; i < M.n; i++) {
		nf += !M.e[i].dir;
		nd += M.e[i].dir;
	}
	fprintf(stderr, "checked %d log lines, %d files, %d directories%s: %d violation(s)\n",
		lines, nf, nd, inflight ? " (one operation in flight)" : "", violations);
	if (violations)
		return 1;
	state_save(state);
	if (truncate(log, 0) < 0 && errno != ENOENT)
		die("%s: %s", log, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "run")) {
		root = argv[2];
		return cmd_run(argv[3], argv[4], strtoull(argv[5], NULL, 0),
			       argc > 6 ? argv[6] : NULL);
	}
	if (argc == 5 && !strcmp(argv[1], "check")) {
		root = argv[2];
		return cmd_check(argv[3], argv[4]);
	}
	fprintf(stderr, "usage: crash_workload run ROOT STATE LOG SEED [CTL]\n"
			"       crash_workload check ROOT STATE LOG\n");
	return 2;
}
