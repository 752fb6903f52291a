/*
 * conform.c — POSIX conformance scenarios for differential testing: the
 * same list of system calls runs on a directory of a reference file system
 * (ext4) and on an lsmfs mount, and tests/conformance/run.sh diffs what the
 * two printed.
 *
 *   conform prep DIR UID GID   as root: make DIR/<scenario>/ and the
 *                              fixtures every scenario needs, for a run
 *                              as UID:GID (files owned by that user, by
 *                              another user, by root ...)
 *   conform run DIR            as the user (setpriv --reuid/--regid
 *                              --clear-groups, or root itself): run every
 *                              scenario in DIR/<scenario>/
 *   conform run DIR NAME...    only the named scenarios (debugging)
 *
 * Output: one line per check, never anything that legitimately differs
 * between two file systems (inode numbers, devices, absolute times except
 * those a test set itself, fd numbers).  A call prints its own source text
 * and its result: "= 0", "= 5", or "= -1 EACCES".  A stat line prints
 * type+mode, nlink, uid, gid, size, blocks (and rdev for devices) and,
 * when the path was MARKed before the call, which of atime/mtime/ctime
 * changed ("t=mc"; "t=-" for none).  MARK waits until the coarse kernel
 * clock has ticked, so that a change made by the next call is visible
 * even on a file system with coarse timestamps.
 *
 * Invariants: the output depends only on the file system's behaviour and
 * on the user the run is for (UID); every scenario works in its own
 * directory, so one scenario's failure cannot change another's output.
 * Prep failures are printed too ("PREP FAIL"), so they show in the diff.
 *
 * Thread rules: single-threaded (fork is not used).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* ---- who we run for ------------------------------------------------------ */

static uid_t ME;		/* the user of the run */
static gid_t MYGID;
static uid_t OTHER;		/* another unprivileged user */
static gid_t OTHERGID;
#define NOGROUP 4242		/* a group nobody of the run is in */

static bool prepping;

/* ---- output ---------------------------------------------------------------- */

static const char *en(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static long res(const char *what, long r, int e)
{
	if (r < 0)
		say("%s = -1 %s", what, en(e));
	else
		say("%s = %ld", what, r);
	return r;
}

/* A call and its result. */
#define R(expr) ({ errno = 0; long r_ = (long)(expr); res(#expr, r_, errno); })
/* A call returning a descriptor: "= fd" (numbers are not compared). */
#define FD(var, expr) do {						\
		errno = 0;						\
		var = (expr);						\
		if (var < 0)						\
			say("%s = -1 %s", #expr, en(errno));		\
		else							\
			say("%s = fd", #expr);				\
	} while (0)
#define CLOSE(fd) do { if ((fd) >= 0) close(fd); (fd) = -1; } while (0)

/* Prep: a step that must work; a failure is printed (and so diffed). */
#define P(expr) do {							\
		errno = 0;						\
		if ((long)(expr) < 0)					\
			say("PREP FAIL line %d: %s: %s", __LINE__, #expr, en(errno)); \
	} while (0)

/* ---- stat and time marks ------------------------------------------------------ */

#define NMARK 16
static struct {
	char path[64];
	struct stat st;
	bool used;
} marks[NMARK];

static struct stat *mark_of(const char *path)
{
	for (int i = 0; i < NMARK; i++)
		if (marks[i].used && !strcmp(marks[i].path, path))
			return &marks[i].st;
	return NULL;
}

static void clock_tick(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_REALTIME_COARSE, &a);
	do {
		struct timespec d = { 0, 500000 };
		nanosleep(&d, NULL);
		clock_gettime(CLOCK_REALTIME_COARSE, &b);
	} while (a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec);
}

/* Record the attributes of the NULL-terminated paths; then let the clock
 * move on. */
static void mark_paths(const char *first, ...)
{
	va_list ap;
	memset(marks, 0, sizeof(marks));
	va_start(ap, first);
	int i = 0;
	for (const char *p = first; p && i < NMARK; p = va_arg(ap, const char *)) {
		snprintf(marks[i].path, sizeof(marks[i].path), "%s", p);
		if (lstat(p, &marks[i].st) == 0)
			marks[i++].used = true;
	}
	va_end(ap);
	clock_tick();
}
#define MARK(...) mark_paths(__VA_ARGS__, (const char *)NULL)

static bool ts_ne(struct timespec a, struct timespec b)
{
	return a.tv_sec != b.tv_sec || a.tv_nsec != b.tv_nsec;
}

static void print_stat(const char *label, const struct stat *st,
		       const struct stat *before)
{
	char t[16] = "";
	if (before) {
		char *p = t + sprintf(t, " t=");
		if (ts_ne(st->st_atim, before->st_atim))
			*p++ = 'a';
		if (ts_ne(st->st_mtim, before->st_mtim))
			*p++ = 'm';
		if (ts_ne(st->st_ctim, before->st_ctim))
			*p++ = 'c';
		if (p == t + 3)
			*p++ = '-';
		*p = 0;
	}
	char rdev[32] = "";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		snprintf(rdev, sizeof(rdev), " r=%u:%u", major(st->st_rdev),
			 minor(st->st_rdev));
	say("  %s: %o n=%lu u=%u g=%u s=%lld b=%lld%s%s", label,
	    (unsigned)st->st_mode, (unsigned long)st->st_nlink,
	    (unsigned)st->st_uid, (unsigned)st->st_gid,
	    (long long)st->st_size, (long long)st->st_blocks, rdev, t);
}

/* The attributes of path (lstat), with time changes since MARK. */
static void S(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		say("  %s: %s", path, en(errno));
		return;
	}
	print_stat(path, &st, mark_of(path));
}

/* The attributes of an open file; times against the mark of label. */
static void SF(int fd, const char *label)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		say("  fd %s: %s", label, en(errno));
		return;
	}
	print_stat(label, &st, mark_of(label));
}

/* The atime and mtime values (for checks that set them explicitly). */
static void ST(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		say("  %s times: %s", path, en(errno));
		return;
	}
	say("  %s times: a=%lld.%09ld m=%lld.%09ld", path,
	    (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* ---- content ------------------------------------------------------------------ */

static void show_bytes(const char *what, const char *buf, ssize_t n)
{
	char out[200];
	size_t o = 0;
	for (ssize_t i = 0; i < n && o < sizeof(out) - 5; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\%02x", c);
	}
	out[o] = 0;
	say("  %s: %zd \"%s\"", what, n, out);
}

/* Read up to len bytes of path at off and print them. */
static void RD(const char *path, off_t off, size_t len)
{
	char buf[256];
	char what[96];
	snprintf(what, sizeof(what), "read %s@%lld", path, (long long)off);
	if (len > sizeof(buf))
		len = sizeof(buf);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		say("  %s: %s", what, en(errno));
		return;
	}
	ssize_t n = pread(fd, buf, len, off);
	if (n < 0)
		say("  %s: %s", what, en(errno));
	else
		show_bytes(what, buf, n);
	close(fd);
}

/* Is [off, off+len) of path all zeros? */
static void ZEROS(const char *path, off_t off, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		say("  zeros %s: %s", path, en(errno));
		return;
	}
	char *buf = malloc(len);
	ssize_t n = pread(fd, buf, len, off);
	size_t nz = 0;
	for (ssize_t i = 0; i < n; i++)
		nz += buf[i] != 0;
	say("  zeros %s@%lld+%zu: read %zd, %zu nonzero", path, (long long)off, len, n, nz);
	free(buf);
	close(fd);
}

static void names(const char *label, const char *list, ssize_t n)
{
	/* NUL-separated names, printed sorted. */
	char *v[64];
	int k = 0;
	for (ssize_t i = 0; i < n && k < 64; i += (ssize_t)strlen(list + i) + 1)
		v[k++] = (char *)list + i;
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	char out[1024];
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < k && o < sizeof(out) - 80; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.60s", i ? " " : "", v[i]);
	say("  %s: [%s]", label, out);
}

static void LX(const char *path, bool follow)
{
	char buf[4096];
	ssize_t n = follow ? listxattr(path, buf, sizeof(buf))
			   : llistxattr(path, buf, sizeof(buf));
	if (n < 0)
		say("  xattrs of %s: %s", path, en(errno));
	else
		names(path, buf, n);
}

static void GX(const char *path, const char *name)
{
	char buf[8192];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));
	char what[128];
	snprintf(what, sizeof(what), "%s %.40s", path, name);
	if (n < 0)
		say("  %s: %s", what, en(errno));
	else
		show_bytes(what, buf, n > 40 ? 40 : n);
}

/* Sorted names of a directory with their d_type ('?' when unknown). */
static void LS(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		say("  ls %s: %s", path, en(errno));
		return;
	}
	char *v[512];
	int k = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) && k < 512) {
		char t = '?';
		switch (e->d_type) {
		case DT_REG: t = 'f'; break;
		case DT_DIR: t = 'd'; break;
		case DT_LNK: t = 'l'; break;
		case DT_FIFO: t = 'p'; break;
		case DT_SOCK: t = 's'; break;
		case DT_CHR: t = 'c'; break;
		case DT_BLK: t = 'b'; break;
		}
		if (asprintf(&v[k], "%.40s:%c", e->d_name, t) > 0)
			k++;
	}
	int err = errno;
	closedir(d);
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	char out[2048];
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < k; i++) {
		if (o < sizeof(out) - 60)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", v[i]);
		free(v[i]);
	}
	say("  ls %s%s%s: %d [%s]", path, err ? " " : "", err ? en(err) : "", k, out);
}

/* ---- fixtures (prep, as root) ------------------------------------------------------ */

static void mkf(const char *path, mode_t mode, uid_t u, gid_t g, const char *data)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	if (fd < 0) {
		say("PREP FAIL create %s: %s", path, en(errno));
		return;
	}
	if (data && *data && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		say("PREP FAIL write %s: %s", path, en(errno));
	if (fchown(fd, u, g) < 0 || fchmod(fd, mode) < 0)
		say("PREP FAIL chown/chmod %s: %s", path, en(errno));
	close(fd);
}

static void mkd(const char *path, mode_t mode, uid_t u, gid_t g)
{
	if (mkdir(path, 0700) < 0 || chown(path, u, g) < 0 || chmod(path, mode) < 0)
		say("PREP FAIL mkdir %s: %s", path, en(errno));
}

static void mks(const char *target, const char *path, uid_t u, gid_t g)
{
	if (symlink(target, path) < 0 || lchown(path, u, g) < 0)
		say("PREP FAIL symlink %s: %s", path, en(errno));
}

/* ---- POSIX ACL xattr values ------------------------------------------------------- */

enum { A_UO = 1, A_U = 2, A_GO = 4, A_G = 8, A_M = 0x10, A_O = 0x20 };
struct ace {
	uint16_t tag, perm;
	uint32_t id;
};

/* Build the xattr form (version 2, little-endian entries) of an ACL. */
static size_t acl_value(char *out, const struct ace *e, int n)
{
	uint32_t ver = 2;
	memcpy(out, &ver, 4);	/* x86: little-endian already */
	for (int i = 0; i < n; i++) {
		uint32_t id = (e[i].tag == A_U || e[i].tag == A_G) ? e[i].id : UINT32_MAX;
		memcpy(out + 4 + 8 * i, &e[i].tag, 2);
		memcpy(out + 6 + 8 * i, &e[i].perm, 2);
		memcpy(out + 8 + 8 * i, &id, 4);
	}
	return 4 + 8 * (size_t)n;
}

static int set_acl(const char *path, const char *name, const struct ace *e, int n)
{
	char v[512];
	size_t len = acl_value(v, e, n);
	return lsetxattr(path, name, v, len, 0);
}
#define ACL(path, name, ...) ({						\
		const struct ace e_[] = { __VA_ARGS__ };		\
		set_acl(path, name, e_, (int)(sizeof(e_) / sizeof(e_[0]))); })

/* Print an ACL xattr as text ("u::rw-,u:1000:r--,..."). */
static void GA(const char *path, const char *name)
{
	char v[1024];
	ssize_t n = lgetxattr(path, name, v, sizeof(v));
	if (n < 0) {
		say("  %s %s: %s", path, name + 17, en(errno));
		return;
	}
	char out[512];
	size_t o = 0;
	out[0] = 0;
	for (ssize_t i = 4; i + 8 <= n && o < sizeof(out) - 40; i += 8) {
		uint16_t tag, perm;
		uint32_t id;
		memcpy(&tag, v + i, 2);
		memcpy(&perm, v + i + 2, 2);
		memcpy(&id, v + i + 4, 4);
		const char *t = tag == A_UO || tag == A_U ? "u" : tag == A_GO || tag == A_G ? "g"
			      : tag == A_M ? "m" : tag == A_O ? "o" : "?";
		char ids[16] = "";
		if (tag == A_U || tag == A_G)
			snprintf(ids, sizeof(ids), "%u", id);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s:%s:%c%c%c", o ? "," : "",
				      t, ids, perm & 4 ? 'r' : '-', perm & 2 ? 'w' : '-',
				      perm & 1 ? 'x' : '-');
	}
	say("  %s %s: %zd [%s]", path, name + 17, n, out);
}

/* ---- helpers for runs --------------------------------------------------------------- */

static char N255[256], N256[257];

static int wr(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -1 : (int)n;
}

static int pw(const char *path, const char *s, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = pwrite(fd, s, strlen(s), off);
	close(fd);
	return n < 0 ? -1 : (int)n;
}

static long rdall(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long n = read(fd, buf, sizeof(buf));
	close(fd);
	return n;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	return close(fd);
}

static int fsize(const char *path, off_t size)
{
	return truncate(path, size);
}

/* The inode number of a equals that of b? */
static int same_ino(const char *a, const char *b)
{
	struct stat x, y;
	if (stat(a, &x) < 0 || stat(b, &y) < 0)
		return -1;
	return x.st_ino == y.st_ino;
}

/* Scenarios are declared with SCENARIO(name) { if (prepping) {...; return;} ... }. */
#include "scenarios.h"

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: conform prep DIR UID GID | conform run DIR [SCENARIO...]\n");
	exit(2);
}

static void set_users(uid_t me, gid_t mygid)
{
	ME = me;
	MYGID = mygid;
	OTHER = me == 1000 ? 65534 : 1000;
	OTHERGID = OTHER;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	memset(N255, 'n', 255);
	memset(N256, 'n', 256);
	const char *dir = argv[2];
	bool prep = !strcmp(argv[1], "prep");
	if (prep) {
		if (argc != 5)
			usage();
		set_users((uid_t)atoi(argv[3]), (gid_t)atoi(argv[4]));
		prepping = true;
		umask(0);
	} else if (!strcmp(argv[1], "run")) {
		set_users(getuid(), getgid());
	} else {
		usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		if (!prep && argc > 3) {
			bool want = false;
			for (int j = 3; j < argc; j++)
				want |= !strcmp(argv[j], s->name);
			if (!want)
				continue;
		}
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, s->name);
		if (prep) {
			mkd(path, 0755, ME, MYGID);
			if (chdir(path) < 0) {
				say("PREP FAIL chdir %s: %s", s->name, en(errno));
				continue;
			}
			s->fn();
			continue;
		}
		say("== %s", s->name);
		if (chdir(path) < 0) {
			say("chdir: %s", en(errno));
			continue;
		}
		umask(022);
		s->fn();
	}
	return 0;
}
