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
 *   conform probe DIR          "writeback" if data written to DIR stays in
 *                              the kernel's page cache (FUSE writeback
 *                              cache), else "writethrough"
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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
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

/* The attributes of path, with time changes since the MARK of another
 * path (a rename moved the inode marked under its old name). */
static void SM(const char *path, const char *marked)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		say("  %s: %s", path, en(errno));
		return;
	}
	char label[140];
	snprintf(label, sizeof(label), "%s (was %s)", path, marked);
	print_stat(label, &st, mark_of(marked));
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

/* Reads move atime (relatime), at moments that depend on the clock: the
 * MARKs taken before them no longer say what a later call changed. */
static void unmark(void)
{
	memset(marks, 0, sizeof(marks));
}

/* Read up to len bytes of path at off and print them. */
static void RD(const char *path, off_t off, size_t len)
{
	unmark();
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
	unmark();
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

static int pw(const char *path, const char *s, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = pwrite(fd, s, strlen(s), off);
	close(fd);
	return n < 0 ? -1 : (int)n;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	return close(fd);
}

/* The inode number of a equals that of b? */
static int same_ino(const char *a, const char *b)
{
	struct stat x, y;
	if (stat(a, &x) < 0 || stat(b, &y) < 0)
		return -1;
	return x.st_ino == y.st_ino;
}

/* ---- scenarios ------------------------------------------------------------------------ */
/*
 * Each scenario runs twice: with prepping set (as root, in its fresh
 * directory owned by ME, umask 0) to build fixtures, then as the user
 * (umask 022) to run the checks.
 */

/* open(O_CREAT), umask, the modes new files get. */
static void sc_create_modes(void)
{
	int fd;
	if (prepping) {
		mkd("d", 0755, ME, MYGID);
		return;
	}
	MARK(".");
	FD(fd, open("a", O_CREAT | O_WRONLY | O_EXCL, 0666));
	CLOSE(fd);
	S("a");
	S(".");
	umask(077);
	FD(fd, open("b", O_CREAT | O_WRONLY, 0666));
	CLOSE(fd);
	S("b");
	umask(0);
	FD(fd, open("c", O_CREAT | O_WRONLY, 07777));
	CLOSE(fd);
	S("c");
	FD(fd, open("c2", O_CREAT | O_WRONLY, 02755));
	CLOSE(fd);
	S("c2");
	FD(fd, open("c3", O_CREAT | O_RDWR, 0));
	R(write(fd, "x", 1));
	CLOSE(fd);
	S("c3");
	FD(fd, open("c3", O_RDONLY));
	CLOSE(fd);
	umask(022);
	R(mkdir("e", 0777));
	S("e");
	umask(0);
	R(mkdir("e2", 07777));
	S("e2");
	umask(022);
	MARK("a", ".");
	FD(fd, open("a", O_CREAT | O_WRONLY, 0600));
	CLOSE(fd);
	S("a");
	S(".");
	FD(fd, open("a", O_CREAT | O_EXCL | O_WRONLY, 0600));
	FD(fd, open("d", O_CREAT | O_WRONLY, 0600));
	FD(fd, open("d", O_CREAT | O_RDONLY, 0600));
	CLOSE(fd);
	FD(fd, open("new/", O_CREAT | O_WRONLY, 0600));
	FD(fd, open("new2", O_CREAT | O_DIRECTORY | O_RDONLY, 0600));
	CLOSE(fd);
	S("new2");
	FD(fd, open(N255, O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	FD(fd, open(N256, O_CREAT | O_WRONLY, 0644));
	S(N255);
	FD(fd, open(N255, O_RDONLY));
	CLOSE(fd);
	R(mknod("m", S_IFREG | 0640, 0));
	S("m");
	R(mknod("m0", 0640, 0));
	S("m0");
	S(".");
}

/* Error codes of open(2) and the permission rules. */
static void sc_open_errors(void)
{
	int fd;
	if (prepping) {
		mkf("f", 0644, ME, MYGID, "data");
		mkd("d", 0755, ME, MYGID);
		mkf("ro", 0444, ME, MYGID, "ro");
		mkf("wo", 0222, ME, MYGID, "wo");
		mkf("none", 0000, ME, MYGID, "none");
		mkf("oth_r", 0604, OTHER, OTHERGID, "r");
		mkf("oth_none", 0600, OTHER, OTHERGID, "x");
		mkf("grp_rw", 0060, OTHER, MYGID, "g");
		mkf("grp_deny", 0606, OTHER, MYGID, "gd");
		mkd("nox", 0666, ME, MYGID);
		mkd("nox2", 0777, ME, MYGID);
		mkf("nox2/f", 0644, ME, MYGID, "in");
		P(chmod("nox2", 0666));
		mkd("nor", 0333, ME, MYGID);
		mkd("oth_dir", 0755, OTHER, OTHERGID);
		mkf("oth_dir/f", 0666, OTHER, OTHERGID, "");
		mks("f", "sl", ME, MYGID);
		mks("missing_target", "dangling", ME, MYGID);
		mks("loop2", "loop1", ME, MYGID);
		mks("loop1", "loop2", ME, MYGID);
		mks("d", "sld", ME, MYGID);
		/* a chain of 41 symlinks: c40 -> c39 -> ... -> c0 -> f */
		mks("f", "c0", ME, MYGID);
		for (int i = 1; i <= 41; i++) {
			char t[16], n[16];
			snprintf(t, sizeof(t), "c%d", i - 1);
			snprintf(n, sizeof(n), "c%d", i);
			mks(t, n, ME, MYGID);
		}
		return;
	}
	FD(fd, open("missing", O_RDONLY));
	FD(fd, open("missing/x", O_RDONLY));
	FD(fd, open("f/x", O_RDONLY));
	FD(fd, open("f/", O_RDONLY));
	FD(fd, open("d", O_WRONLY));
	FD(fd, open("d", O_RDWR));
	FD(fd, open("d", O_RDONLY | O_TRUNC));
	CLOSE(fd);
	FD(fd, open("d", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("d", O_RDONLY | O_DIRECTORY));
	CLOSE(fd);
	FD(fd, open("f", O_RDONLY | O_DIRECTORY));
	FD(fd, open("sld/", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("sl/", O_RDONLY));
	FD(fd, open("loop1", O_RDONLY));
	FD(fd, open("sl", O_RDONLY | O_NOFOLLOW));
	FD(fd, open("sl", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("c40", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("c41", O_RDONLY));
	FD(fd, open("dangling", O_RDONLY));
	FD(fd, open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	FD(fd, open("dangling", O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	S("missing_target");
	FD(fd, open(N256, O_RDONLY));
	{
		char p[600];
		snprintf(p, sizeof(p), "%s/x", N256);
		FD(fd, open(p, O_RDONLY));
	}
	FD(fd, open("ro", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("ro", O_WRONLY));
	CLOSE(fd);
	FD(fd, open("ro", O_RDONLY | O_TRUNC));
	CLOSE(fd);
	FD(fd, open("wo", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("wo", O_WRONLY));
	CLOSE(fd);
	FD(fd, open("none", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("oth_r", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("oth_r", O_RDWR));
	CLOSE(fd);
	FD(fd, open("oth_r", O_RDONLY | O_NOATIME));
	CLOSE(fd);
	FD(fd, open("f", O_RDONLY | O_NOATIME));
	CLOSE(fd);
	FD(fd, open("oth_none", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("grp_rw", O_RDWR));
	CLOSE(fd);
	FD(fd, open("grp_deny", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("nox/new", O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	FD(fd, open("nox2/f", O_RDONLY));
	CLOSE(fd);
	FD(fd, open("nor", O_RDONLY | O_DIRECTORY));
	CLOSE(fd);
	FD(fd, open("nor/x", O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	FD(fd, open("oth_dir/new", O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	FD(fd, open("oth_dir/f", O_RDWR));
	CLOSE(fd);
	R(access("ro", R_OK));
	R(access("ro", W_OK));
	R(access("ro", X_OK));
	R(access("f", X_OK));
	R(access("d", X_OK));
	R(access("wo", W_OK));
	R(access("none", F_OK));
	R(access("none", R_OK));
	R(access("oth_none", R_OK));
	R(access("grp_rw", R_OK | W_OK));
	R(access("grp_deny", R_OK));
	R(access("nox2/f", F_OK));
	R(access("missing", F_OK));
	R(faccessat(AT_FDCWD, "oth_r", R_OK, AT_EACCESS));
	R(faccessat(AT_FDCWD, "sl", W_OK, AT_SYMLINK_NOFOLLOW));
	S("nox2");
}

/* O_TRUNC, O_APPEND and the times they change. */
static void sc_open_trunc_append(void)
{
	int fd;
	char buf[64];
	if (prepping) {
		mkf("t", 0644, ME, MYGID, "hello world");
		mkf("e", 0644, ME, MYGID, "");
		mkf("r", 0644, ME, MYGID, "keep");
		mkf("app", 0644, ME, MYGID, "abc");
		mkf("big", 0644, ME, MYGID, "");
		P(truncate("big", 100000));
		P(pw("big", "tail", 99996));
		return;
	}
	MARK("t");
	FD(fd, open("t", O_WRONLY | O_TRUNC));
	CLOSE(fd);
	S("t");
	MARK("e");
	FD(fd, open("e", O_WRONLY | O_TRUNC));
	CLOSE(fd);
	S("e");
	MARK("r");
	FD(fd, open("r", O_RDONLY));
	CLOSE(fd);
	S("r");
	MARK("r");
	FD(fd, open("r", O_RDONLY | O_TRUNC));
	CLOSE(fd);
	S("r");
	MARK("big");
	FD(fd, open("big", O_RDWR | O_TRUNC));
	R(write(fd, "new", 3));
	CLOSE(fd);
	S("big");
	RD("big", 0, 10);
	MARK("app");
	FD(fd, open("app", O_WRONLY | O_APPEND));
	R(write(fd, "def", 3));
	R(lseek(fd, 0, SEEK_CUR));
	R(pwrite(fd, "X", 1, 0));
	R(lseek(fd, 0, SEEK_SET));
	R(write(fd, "Y", 1));
	R(lseek(fd, 0, SEEK_CUR));
	CLOSE(fd);
	S("app");
	RD("app", 0, 20);
	FD(fd, open("app", O_RDWR | O_APPEND));
	R(lseek(fd, 1, SEEK_SET));
	R(read(fd, buf, 2));
	R(write(fd, "Z", 1));
	R(lseek(fd, 0, SEEK_CUR));
	R(fcntl(fd, F_SETFL, 0));
	R(pwrite(fd, "W", 1, 0));
	CLOSE(fd);
	RD("app", 0, 20);
}

/* write/read: sizes, blocks, times (relatime), descriptor modes. */
static void sc_write_read(void)
{
	int fd;
	char buf[8192];
	if (prepping) {
		mkd("d", 0755, ME, MYGID);
		return;
	}
	FD(fd, open("f", O_CREAT | O_RDWR, 0644));
	CLOSE(fd);
	MARK("f");
	FD(fd, open("f", O_RDWR));
	R(write(fd, "hello", 5));
	CLOSE(fd);
	S("f");
	MARK("f");
	FD(fd, open("f", O_RDONLY));
	R(read(fd, buf, sizeof(buf)));
	CLOSE(fd);
	S("f");
	MARK("f");
	FD(fd, open("f", O_RDONLY));
	R(read(fd, buf, sizeof(buf)));
	CLOSE(fd);
	S("f");
	MARK("f");
	FD(fd, open("f", O_RDWR));
	R(write(fd, buf, 0));
	R(pwrite(fd, "sparse", 6, 1 << 20));
	R(lseek(fd, 0, SEEK_END));
	R(lseek(fd, -1, SEEK_SET));
	R(lseek(fd, 100, SEEK_END));
	R(read(fd, buf, 10));
	R(pread(fd, buf, 10, 3 << 20));
	R(pread(fd, buf, 10, -1));
	CLOSE(fd);
	S("f");
	ZEROS("f", 5, 4000);
	ZEROS("f", 4096, 8192);
	RD("f", (1 << 20) - 2, 10);
	FD(fd, open("f", O_WRONLY));
	R(read(fd, buf, 1));
	CLOSE(fd);
	FD(fd, open("f", O_RDONLY));
	R(write(fd, "x", 1));
	CLOSE(fd);
	FD(fd, open("d", O_RDONLY));
	R(read(fd, buf, 1));
	R(write(fd, "x", 1));
	CLOSE(fd);
	/* block boundaries */
	memset(buf, 'b', sizeof(buf));
	FD(fd, open("g", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 4096, 0));
	S("g");
	R(pwrite(fd, buf, 1, 4096));
	S("g");
	R(pwrite(fd, buf, 8192, 4095));
	S("g");
	R(pwrite(fd, buf, 100, 2000));
	S("g");
	CLOSE(fd);
	FD(fd, open("h", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 2048, 0));
	SF(fd, "h2048");
	R(pwrite(fd, buf, 1, 2048));
	SF(fd, "h2049");
	R(ftruncate(fd, 0));
	SF(fd, "h0");
	CLOSE(fd);
}

/* truncate/ftruncate: sizes, errors, permissions, times. */
static void sc_truncate(void)
{
	int fd;
	if (prepping) {
		char big[10001];
		memset(big, 'q', 10000);
		big[10000] = 0;
		mkf("f", 0644, ME, MYGID, big);
		mkf("ro", 0444, ME, MYGID, "ro");
		mkf("oth", 0644, OTHER, OTHERGID, "oth");
		mkf("othw", 0666, OTHER, OTHERGID, "othw");
		mkd("d", 0755, ME, MYGID);
		P(mkfifo("fifo", 0666));
		mks("f", "sl", ME, MYGID);
		return;
	}
	MARK("f");
	R(truncate("f", 5000));
	S("f");
	MARK("f");
	R(truncate("f", 5000));
	S("f");
	RD("f", 4990, 20);
	MARK("f");
	R(truncate("f", 1 << 20));
	S("f");
	ZEROS("f", 5000, 10000);
	R(truncate("f", 4097));
	S("f");
	R(truncate("f", 4096));
	S("f");
	R(truncate("f", 100));
	S("f");
	R(truncate("f", 0));
	S("f");
	R(truncate("f", -1));
	R(truncate("d", 0));
	R(truncate("fifo", 0));
	R(truncate("missing", 0));
	R(truncate("sl", 10));
	S("f");
	R(truncate("ro", 0));
	R(truncate("oth", 0));
	MARK("othw");
	R(truncate("othw", 1));
	S("othw");
	R(truncate("f", 1LL << 40));
	S("f");
	FD(fd, open("f", O_RDONLY));
	R(ftruncate(fd, 0));
	CLOSE(fd);
	FD(fd, open("f", O_RDWR));
	R(ftruncate(fd, -1));
	MARK("f");
	R(ftruncate(fd, 3));
	S("f");
	CLOSE(fd);
	FD(fd, open("d", O_RDONLY));
	R(ftruncate(fd, 0));
	CLOSE(fd);
}

/* setuid/setgid (and file capabilities) cleared by write and truncate. */
static void sc_killpriv(void)
{
	int fd;
	static const char *const files[] = { "u", "g", "ug", "gnx", "othu", "othg", "othgnx" };
	if (prepping) {
		mkf("u", 04755, ME, MYGID, "x");
		mkf("g", 02755, ME, MYGID, "x");
		mkf("ug", 06755, ME, MYGID, "x");
		mkf("gnx", 02745, ME, MYGID, "x");
		mkf("othu", 04777, OTHER, OTHERGID, "x");
		mkf("othg", 02777, OTHER, OTHERGID, "x");
		mkf("othgnx", 02767, OTHER, OTHERGID, "x");
		mkf("tu", 04755, ME, MYGID, "x");
		mkf("tothu", 06777, OTHER, OTHERGID, "x");
		mkf("tothgnx", 02766, OTHER, OTHERGID, "x");
		mkf("fu", 06755, ME, MYGID, "x");
		mkf("cap", 0755, ME, MYGID, "x");
		mkf("cap2", 0755, ME, MYGID, "x");
		/* security.capability v2: effective, permitted = CAP_NET_RAW */
		uint32_t cap[5] = { 0x02000001, 1u << 13, 0, 0, 0 };
		P(setxattr("cap", "security.capability", cap, sizeof(cap), 0));
		P(setxattr("cap2", "security.capability", cap, sizeof(cap), 0));
		mkf("capo", 0777, OTHER, OTHERGID, "x");
		P(setxattr("capo", "security.capability", cap, sizeof(cap), 0));
		return;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FD(fd, open(files[i], O_WRONLY));
		if (fd >= 0)
			R(write(fd, "y", 1));
		CLOSE(fd);
		S(files[i]);
	}
	R(truncate("tu", 0));
	S("tu");
	R(truncate("tothu", 0));
	S("tothu");
	R(truncate("tothgnx", 0));
	S("tothgnx");
	FD(fd, open("fu", O_RDWR));
	R(ftruncate(fd, 10));
	SF(fd, "fu");
	R(fallocate(fd, 0, 0, 100));
	CLOSE(fd);
	S("fu");
	R(getxattr("cap", "security.capability", NULL, 0));
	FD(fd, open("cap", O_WRONLY));
	R(write(fd, "y", 1));
	CLOSE(fd);
	R(getxattr("cap", "security.capability", NULL, 0));
	R(truncate("cap2", 0));
	R(getxattr("cap2", "security.capability", NULL, 0));
	FD(fd, open("capo", O_WRONLY));
	R(write(fd, "y", 1));
	CLOSE(fd);
	R(getxattr("capo", "security.capability", NULL, 0));
	S("capo");
}

/* chmod/fchmod: who may, what happens to setgid, symlinks, times. */
static void sc_chmod(void)
{
	int fd;
	if (prepping) {
		mkf("mine", 0644, ME, MYGID, "m");
		mkf("oth", 0644, OTHER, OTHERGID, "o");
		mkf("ngrp", 0644, ME, NOGROUP, "n");
		mkd("d", 0755, ME, MYGID);
		mkd("dng", 0755, ME, NOGROUP);
		mks("mine", "sl", ME, MYGID);
		return;
	}
	MARK("mine");
	R(chmod("mine", 0600));
	S("mine");
	R(chmod("mine", 07777));
	S("mine");
	R(chmod("mine", 01644));
	S("mine");
	R(chmod("mine", 0170644));
	S("mine");
	MARK("oth");
	R(chmod("oth", 0600));
	S("oth");
	R(chmod("ngrp", 02755));
	S("ngrp");
	R(chmod("ngrp", 04755));
	S("ngrp");
	R(chmod("dng", 03777));
	S("dng");
	R(chmod("d", 07755));
	S("d");
	MARK("mine", "sl");
	R(chmod("sl", 0640));
	S("mine");
	S("sl");
	R(fchmodat(AT_FDCWD, "sl", 0600, AT_SYMLINK_NOFOLLOW));
	R(chmod("missing", 0600));
	R(chmod("mine/x", 0600));
	FD(fd, open("mine", O_RDONLY));
	R(fchmod(fd, 0604));
	CLOSE(fd);
	S("mine");
	FD(fd, open("mine", O_PATH));
	R(fchmod(fd, 0600));
	CLOSE(fd);
}

/* chown/lchown: root, owner to own group, everyone else; setuid/setgid
 * clearing; directories; symlinks. */
static void sc_chown(void)
{
	if (prepping) {
		mkf("mine", 0644, ME, MYGID, "m");
		mkf("oth", 0644, OTHER, OTHERGID, "o");
		mkf("u", 04755, ME, MYGID, "x");
		mkf("g", 02755, ME, MYGID, "x");
		mkf("gnx", 02745, ME, MYGID, "x");
		mkf("ug", 06755, ME, MYGID, "x");
		mkf("u2", 04755, ME, MYGID, "x");
		mkf("gnxng", 02745, ME, NOGROUP, "x");
		mkd("d", 06755, ME, MYGID);
		mks("mine", "sl", ME, MYGID);
		return;
	}
	MARK("mine");
	R(chown("mine", -1, -1));
	S("mine");
	R(chown("mine", -1, MYGID));
	S("mine");
	R(chown("mine", -1, NOGROUP));
	S("mine");
	R(chown("mine", OTHER, -1));
	S("mine");
	R(chown("mine", ME, -1));
	S("mine");
	MARK("oth");
	R(chown("oth", -1, -1));
	R(chown("oth", -1, MYGID));
	R(chown("oth", ME, -1));
	S("oth");
	R(chown("u", -1, -1));
	S("u");
	R(chown("g", ME, -1));
	S("g");
	R(chown("gnx", -1, MYGID));
	S("gnx");
	R(chown("ug", -1, MYGID));
	S("ug");
	R(chown("u2", -1, NOGROUP));
	S("u2");
	R(chown("gnxng", -1, MYGID));
	S("gnxng");
	R(chown("d", -1, MYGID));
	S("d");
	MARK("mine", "sl");
	R(lchown("sl", -1, MYGID));
	S("sl");
	S("mine");
	R(lchown("sl", OTHER, OTHERGID));
	S("sl");
	R(chown("missing", -1, -1));
}

/* utimensat: now, omit, explicit values, permission rules, symlinks. */
static void sc_utimes(void)
{
	int fd;
	if (prepping) {
		mkf("mine", 0644, ME, MYGID, "m");
		mkf("othw", 0666, OTHER, OTHERGID, "w");
		mkf("othr", 0644, OTHER, OTHERGID, "r");
		mks("mine", "sl", ME, MYGID);
		mkd("d", 0755, ME, MYGID);
		return;
	}
	struct timespec ex[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };
	struct timespec now2[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec omit2[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec omit_ex[2] = { { 0, UTIME_OMIT }, { 1300000000, 5 } };
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	struct timespec neg[2] = { { -1000000000, 0 }, { -1, 999999999 } };
	struct timespec far[2] = { { 4000000000LL, 1 }, { 4102444800LL, 2 } };
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", ex, 0));
	S("mine");
	ST("mine");
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", NULL, 0));
	S("mine");
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", omit2, 0));
	S("mine");
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", now_omit, 0));
	S("mine");
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", omit_ex, 0));
	S("mine");
	R(utimensat(AT_FDCWD, "mine", ex, 0));
	R(utimensat(AT_FDCWD, "mine", omit_ex, 0));
	ST("mine");
	MARK("mine");
	R(utimensat(AT_FDCWD, "mine", now2, 0));
	S("mine");
	R(utimensat(AT_FDCWD, "mine", bad, 0));
	R(utimensat(AT_FDCWD, "mine", neg, 0));
	ST("mine");
	R(utimensat(AT_FDCWD, "mine", far, 0));
	ST("mine");
	MARK("othw");
	R(utimensat(AT_FDCWD, "othw", NULL, 0));
	S("othw");
	R(utimensat(AT_FDCWD, "othw", now_omit, 0));
	R(utimensat(AT_FDCWD, "othw", ex, 0));
	R(utimensat(AT_FDCWD, "othw", omit_ex, 0));
	MARK("othr");
	R(utimensat(AT_FDCWD, "othr", NULL, 0));
	R(utimensat(AT_FDCWD, "othr", ex, 0));
	R(utimensat(AT_FDCWD, "othr", omit2, 0));
	S("othr");
	MARK("mine", "sl");
	R(utimensat(AT_FDCWD, "sl", ex, AT_SYMLINK_NOFOLLOW));
	S("sl");
	S("mine");
	ST("sl");
	FD(fd, open("othw", O_RDONLY));
	R(futimens(fd, NULL));
	R(futimens(fd, ex));
	CLOSE(fd);
	FD(fd, open("mine", O_RDONLY));
	MARK("mine");
	R(futimens(fd, ex));
	S("mine");
	CLOSE(fd);
	MARK("d");
	R(utimensat(AT_FDCWD, "d", ex, 0));
	S("d");
	ST("d");
	R(utimensat(AT_FDCWD, "missing", NULL, 0));
}

/* link: counts, times, errors, symlinks, protected hard links. */
static void sc_link(void)
{
	if (prepping) {
		mkf("f", 0644, ME, MYGID, "data");
		mkd("d", 0755, ME, MYGID);
		mkd("rodir", 0555, ME, MYGID);
		mkf("oth", 0600, OTHER, OTHERGID, "o");
		mkf("othrw", 0666, OTHER, OTHERGID, "o");
		mks("f", "sl", ME, MYGID);
		mks("nowhere", "dangling", ME, MYGID);
		return;
	}
	MARK("f", ".");
	R(link("f", "g"));
	S("f");
	S("g");
	S(".");
	R(same_ino("f", "g"));
	R(link("f", "g"));
	R(link("f", "d"));
	R(link("missing", "x"));
	R(link("d", "dl"));
	R(link("f", "rodir/x"));
	R(link("f", "missingdir/x"));
	R(link("f", "f/x"));
	R(link("f", N256));
	R(link("f", N255));
	S(N255);
	R(link("oth", "oth2"));
	R(link("othrw", "othrw2"));
	MARK("sl", "f");
	R(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl2", 0));
	S("sl");
	S("sl2");
	S("f");
	R(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl3", AT_SYMLINK_FOLLOW));
	S("sl3");
	R(linkat(AT_FDCWD, "dangling", AT_FDCWD, "dl2", 0));
	R(linkat(AT_FDCWD, "dangling", AT_FDCWD, "dl3", AT_SYMLINK_FOLLOW));
	MARK("g", ".");
	R(unlink("f"));
	S("g");
	S(".");
	RD("g", 0, 10);
	R(link("g", "d/g"));
	S("g");
	S("d");
}

/* unlink: errors, counts, times, sticky directories, open files. */
static void sc_unlink(void)
{
	int fd;
	char buf[64];
	if (prepping) {
		mkf("f", 0644, ME, MYGID, "data");
		P(link("f", "h"));
		mkd("d", 0755, ME, MYGID);
		mkd("rodir", 0555, ME, MYGID);
		P(chmod("rodir", 0755));
		mkf("rodir/x", 0644, ME, MYGID, "x");
		P(chmod("rodir", 0555));
		mkd("st", 01777, 0, 0);
		mkf("st/oth", 0666, OTHER, OTHERGID, "o");
		mkf("st/mine", 0644, ME, MYGID, "m");
		mkd("myst", 01777, ME, MYGID);
		mkf("myst/oth", 0666, OTHER, OTHERGID, "o");
		mkd("st/othd", 0777, OTHER, OTHERGID);
		mkf("open", 0644, ME, MYGID, "still here");
		mks("f", "sl", ME, MYGID);
		return;
	}
	R(unlink("missing"));
	R(unlink("d"));
	R(unlink("d/"));
	R(unlink("f/"));
	R(unlink("."));
	R(unlink(".."));
	R(unlink(N256));
	MARK("f", "h", ".");
	R(unlink("f"));
	S("f");
	S("h");
	S(".");
	MARK("h", "sl");
	R(unlink("sl"));
	S("h");
	R(unlink("rodir/x"));
	R(unlink("st/oth"));
	R(unlink("st/mine"));
	R(rmdir("st/othd"));
	R(unlink("myst/oth"));
	MARK("open");
	FD(fd, open("open", O_RDWR));
	R(unlink("open"));
	SF(fd, "open");
	R(pread(fd, buf, sizeof(buf), 0));
	R(pwrite(fd, "more", 4, 10));
	R(ftruncate(fd, 12));
	R(fchmod(fd, 0600));
	SF(fd, "open");
	R(pread(fd, buf, sizeof(buf), 0));
	{
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		R(linkat(AT_FDCWD, p, AT_FDCWD, "relinked", AT_SYMLINK_FOLLOW));
	}
	CLOSE(fd);
	S("open");
}

/* rmdir: errors, counts, times, sticky, removed-but-open directories. */
static void sc_rmdir(void)
{
	int fd;
	char buf[4096];
	if (prepping) {
		mkd("e", 0755, ME, MYGID);
		mkd("ne", 0755, ME, MYGID);
		mkf("ne/f", 0644, ME, MYGID, "");
		mkd("nd", 0755, ME, MYGID);
		mkd("nd/sub", 0755, ME, MYGID);
		mkf("f", 0644, ME, MYGID, "");
		mkd("st", 01777, 0, 0);
		mkd("st/othd", 0777, OTHER, OTHERGID);
		mkd("st/mind", 0755, ME, MYGID);
		mkd("ro", 0555, ME, MYGID);
		P(chmod("ro", 0755));
		mkd("ro/x", 0755, ME, MYGID);
		P(chmod("ro", 0555));
		mkd("gone", 0755, ME, MYGID);
		mkd("p", 0755, ME, MYGID);
		mkd("p/c", 0755, ME, MYGID);
		mks("e", "sle", ME, MYGID);
		return;
	}
	R(rmdir("missing"));
	R(rmdir("f"));
	R(rmdir("ne"));
	R(rmdir("nd"));
	R(rmdir("."));
	R(rmdir(".."));
	R(rmdir("e/."));
	R(rmdir("e/.."));
	R(rmdir("sle"));
	R(rmdir("sle/"));
	R(rmdir(N256));
	R(rmdir("st/othd"));
	R(rmdir("st/mind"));
	R(rmdir("ro/x"));
	S("p");
	MARK("p");
	R(rmdir("p/c"));
	S("p");
	MARK(".");
	R(rmdir("e"));
	S(".");
	FD(fd, open("gone", O_RDONLY | O_DIRECTORY));
	R(rmdir("gone"));
	SF(fd, "gone");
	R(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
	R(openat(fd, "new", O_CREAT | O_WRONLY, 0644));
	R(mkdirat(fd, "newd", 0755));
	CLOSE(fd);
	R(mkdir("gone/x", 0755));
}

/* mkdir: modes, counts, errors; setgid directories hand down their group. */
static void sc_mkdir_setgid(void)
{
	int fd;
	if (prepping) {
		mkf("f", 0644, ME, MYGID, "");
		mkd("ro", 0555, ME, MYGID);
		mkd("sg", 02777, OTHER, NOGROUP);
		mkd("sgmine", 02775, ME, MYGID);
		return;
	}
	MARK(".");
	R(mkdir("a", 0755));
	S("a");
	S(".");
	R(mkdir("a", 0755));
	R(mkdir("f", 0755));
	R(mkdir("x/y/z", 0755));
	R(mkdir("f/x", 0755));
	R(mkdir(N256, 0755));
	R(mkdir(N255, 0755));
	R(mkdir("slash/", 0755));
	R(mkdir("slash2//", 0755));
	R(mkdir("ro/x", 0755));
	R(mkdir("a/.", 0755));
	R(mkdir(".", 0755));
	R(mkdir("..", 0755));
	umask(0);
	R(mkdir("m7777", 07777));
	S("m7777");
	R(mkdir("m1777", 01777));
	S("m1777");
	umask(027);
	R(mkdir("m027", 0777));
	S("m027");
	umask(022);
	R(mkdir("sg/sub", 0755));
	S("sg/sub");
	FD(fd, open("sg/f", O_CREAT | O_WRONLY, 0644));
	CLOSE(fd);
	S("sg/f");
	umask(0);
	FD(fd, open("sg/gx", O_CREAT | O_WRONLY, 02755));
	CLOSE(fd);
	S("sg/gx");
	FD(fd, open("sg/gnx", O_CREAT | O_WRONLY, 02745));
	CLOSE(fd);
	S("sg/gnx");
	R(mkdir("sg/sub2", 0777));
	S("sg/sub2");
	R(mknod("sg/fifo", S_IFIFO | 02777, 0));
	S("sg/fifo");
	R(symlink("x", "sg/sl"));
	S("sg/sl");
	umask(022);
	R(mkdir("sgmine/sub", 0755));
	S("sgmine/sub");
	R(mkdir("sg/sub/deeper", 0700));
	S("sg/sub/deeper");
	S("sg");
	S("a");
	R(mkdir("a/b", 0755));
	R(mkdir("a/c", 0755));
	S("a");
}

/* mknod/mkfifo/sockets: every type, who may, rdev. */
static void sc_mknod(void)
{
	if (prepping) {
		mkd("ro", 0555, ME, MYGID);
		return;
	}
	MARK(".");
	R(mknod("fifo", S_IFIFO | 0644, 0));
	S("fifo");
	S(".");
	R(mkfifo("fifo2", 0600));
	S("fifo2");
	R(mknod("sock", S_IFSOCK | 0644, 0));
	S("sock");
	R(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	S("chr");
	R(mknod("blk", S_IFBLK | 0600, makedev(7, 300)));
	S("blk");
	R(mknod("chr0", S_IFCHR | 0600, makedev(0, 0)));
	S("chr0");
	R(mknod("big", S_IFCHR | 0600, makedev(4095, 1048575)));
	S("big");
	R(mknod("dir", S_IFDIR | 0755, 0));
	R(mknod("fifo", S_IFIFO | 0644, 0));
	R(mknod("ro/fifo", S_IFIFO | 0644, 0));
	R(mknod("bad", 0170000 | 0644, 0));
	R(mknod(N256, S_IFIFO | 0644, 0));
	{
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "bound");
		R(bind(s, (struct sockaddr *)&a, sizeof(a)));
		close(s);
		S("bound");
	}
	MARK("fifo");
	R(chmod("fifo", 0600));
	S("fifo");
	R(setxattr("fifo", "user.x", "1", 1, 0));
	R(truncate("fifo", 0));
	R(unlink("fifo2"));
	LS(".");
}

/* symlink/readlink: sizes, blocks, errors, loops, what follows. */
static void sc_symlink(void)
{
	char buf[8192], t[5000];
	if (prepping) {
		mkd("d", 0755, ME, MYGID);
		mkf("d/file", 0644, ME, MYGID, "in d");
		mkf("f", 0644, ME, MYGID, "file");
		mkd("ro", 0555, ME, MYGID);
		return;
	}
	MARK(".");
	R(symlink("target", "s"));
	S("s");
	S(".");
	R(readlink("s", buf, sizeof(buf)));
	R(readlink("s", buf, 3));
	show_bytes("readlink s 3", buf, 3);
	R(readlink("f", buf, sizeof(buf)));
	R(readlink("missing", buf, sizeof(buf)));
	R(readlink("s/", buf, sizeof(buf)));
	R(symlink("", "empty"));
	R(symlink("x", "s"));
	R(symlink("x", "d"));
	R(symlink("x", "ro/s"));
	R(symlink("x", N256));
	R(symlink("x", "missing/s"));
	memset(t, 'a', sizeof(t));
	t[59] = 0;
	R(symlink(t, "s59"));
	S("s59");
	t[59] = 'a';
	t[60] = 0;
	R(symlink(t, "s60"));
	S("s60");
	t[60] = 'a';
	t[4095] = 0;
	R(symlink(t, "s4095"));
	S("s4095");
	R(readlink("s4095", buf, sizeof(buf)));
	t[4095] = 'a';
	t[4096] = 0;
	R(symlink(t, "s4096"));
	t[4096] = 'a';
	R(symlink("d", "sd"));
	R(access("sd/file", F_OK));
	RD("sd/file", 0, 10);
	R(symlink("f", "sf"));
	R(access("sf/", F_OK));
	R(access("sd/", F_OK));
	R(symlink("sself", "sself"));
	R(access("sself", F_OK));
	R(symlink("la", "lb"));
	R(symlink("lb", "la"));
	R(access("la", F_OK));
	R(symlink("/", "abs"));
	R(symlink("a/b/../c//", "odd"));
	R(readlink("odd", buf, sizeof(buf)));
	show_bytes("odd", buf, 10);
	MARK("s");
	R(readlink("s", buf, sizeof(buf)));
	S("s");
	MARK("s");
	R(readlink("s", buf, sizeof(buf)));
	S("s");
	R(lchown("s", ME, MYGID));
	R(lsetxattr("s", "user.x", "1", 1, 0));
	R(lgetxattr("s", "user.x", buf, sizeof(buf)));
	R(lsetxattr("s", "trusted.x", "1", 1, 0));
	GX("s", "trusted.x");
	LX("s", false);
	R(lremovexattr("s", "trusted.x"));
	R(truncate("s", 0));
	R(open("s", O_RDONLY | O_NOFOLLOW));
	R(open("s", O_RDONLY | O_NOFOLLOW | O_PATH) >= 0);
}

/* rename/renameat2: files, directories, symlinks, self, hard links of one
 * inode, loops, flags, permissions, sticky, counts and times. */
static void sc_rename(void)
{
	if (prepping) {
		mkf("a", 0644, ME, MYGID, "A");
		mkf("b", 0644, ME, MYGID, "B");
		mkf("c", 0644, ME, MYGID, "C");
		P(link("c", "c2"));
		mkd("d", 0755, ME, MYGID);
		mkd("e", 0755, ME, MYGID);
		mkd("ne", 0755, ME, MYGID);
		mkf("ne/f", 0644, ME, MYGID, "");
		mkd("p", 0755, ME, MYGID);
		mkd("p/c", 0755, ME, MYGID);
		mkd("p/c/g", 0755, ME, MYGID);
		mkd("q", 0755, ME, MYGID);
		mks("a", "sa", ME, MYGID);
		mks("b", "sb", ME, MYGID);
		mkf("x1", 0644, ME, MYGID, "x1");
		mkd("x2", 0755, ME, MYGID);
		mkf("x2/in", 0644, ME, MYGID, "in");
		mkd("nowd", 0555, ME, MYGID);
		mkd("rodir", 0555, ME, MYGID);
		P(chmod("rodir", 0755));
		mkf("rodir/f", 0644, ME, MYGID, "");
		P(chmod("rodir", 0555));
		mkd("st", 01777, 0, 0);
		mkf("st/oth", 0666, OTHER, OTHERGID, "");
		mkf("st/mine", 0644, ME, MYGID, "");
		mkf("st/oth2", 0666, OTHER, OTHERGID, "");
		mkf("w", 0644, ME, MYGID, "W");
		mkf("n1", 0644, ME, MYGID, "N1");
		mkf("n2", 0644, ME, MYGID, "N2");
		mkd("dd", 0755, ME, MYGID);
		mkd("ee", 0755, ME, MYGID);
		mkd("ee/x", 0755, ME, MYGID);
		mkf("f9", 0644, ME, MYGID, "9");
		return;
	}
	MARK("a", ".");
	R(rename("a", "a1"));
	S("a1");
	S(".");
	MARK("a1", "b", ".");
	R(rename("a1", "b"));
	SM("b", "a1");
	S(".");
	RD("b", 0, 5);
	MARK("b", ".");
	R(rename("b", "b"));
	S("b");
	S(".");
	MARK("c", "c2", ".");
	R(rename("c", "c2"));
	S("c");
	S("c2");
	S(".");
	R(rename("b", "d"));
	R(rename("d", "b"));
	R(rename("d", "ne"));
	MARK(".", "d", "e");
	R(rename("d", "e"));
	S(".");
	SM("e", "d");
	S("d");
	R(rename("p", "p/c/newp"));
	R(rename("p/c", "p"));
	R(rename("p/c/g", "p"));
	R(rename(".", "z"));
	R(rename("z", "."));
	R(rename("e/..", "z"));
	R(rename("missing", "z"));
	R(rename("b", "missing/z"));
	R(rename("b/", "z"));
	R(rename("b", "z/"));
	R(rename("e", "e2/"));
	S("e2");
	R(rename("e2/", "e"));
	R(rename("b", N256));
	R(rename(N256, "b"));
	MARK("sa", "b");
	R(rename("sa", "sa2"));
	S("sa2");
	S("b");
	R(rename("b", "sb"));
	S("sb");
	/* across directories */
	MARK(".", "q", "x1");
	R(rename("x1", "q/x1"));
	S(".");
	S("q");
	S("q/x1");
	MARK(".", "q", "x2");
	R(rename("x2", "q/x2"));
	S(".");
	S("q");
	S("q/x2");
	R(same_ino("q/x2/..", "q"));
	R(rename("nowd", "q/nowd"));
	R(rename("rodir/f", "rf"));
	R(rename("w", "rodir/w"));
	R(rename("st/oth", "st/oth_moved"));
	R(rename("st/mine", "st/oth2"));
	R(rename("st/mine", "st/mine2"));
	/* renameat2 */
	R(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_NOREPLACE));
	R(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n3", RENAME_NOREPLACE));
	MARK("n2", "n3", "dd", ".");
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n3", RENAME_EXCHANGE));
	SM("n2", "n3");
	SM("n3", "n2");
	RD("n2", 0, 5);
	MARK("n2", "dd", ".");
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "dd", RENAME_EXCHANGE));
	SM("n2", "dd");
	SM("dd", "n2");
	S(".");
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "nothere", RENAME_EXCHANGE));
	MARK("n3", "q/x2", "q", ".");
	R(renameat2(AT_FDCWD, "n3", AT_FDCWD, "q/x2", RENAME_EXCHANGE));
	S("q");
	S(".");
	SM("n3", "q/x2");
	SM("q/x2", "n3");
	R(same_ino("n3/..", "."));
	R(renameat2(AT_FDCWD, "n3", AT_FDCWD, "n3", RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "ee", AT_FDCWD, "ee/x", RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "q/x2", RENAME_NOREPLACE | RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n9", 0x40));
	MARK(".");
	R(renameat2(AT_FDCWD, "f9", AT_FDCWD, "f10", RENAME_WHITEOUT));
	S("f9");
	S("f10");
	S(".");
	LS(".");
}

/* Extended attributes in the user, trusted and security namespaces. */
static void sc_xattr(void)
{
	char buf[4096];
	static char big[65537];
	if (prepping) {
		mkf("f", 0644, ME, MYGID, "f");
		mkf("oth", 0644, OTHER, OTHERGID, "o");
		mkf("othw", 0666, OTHER, OTHERGID, "w");
		mkf("othn", 0600, OTHER, OTHERGID, "n");
		mkf("ro", 0444, ME, MYGID, "r");
		mkd("d", 0755, ME, MYGID);
		mkd("st", 01777, OTHER, OTHERGID);
		mkd("mst", 01777, ME, MYGID);
		P(mkfifo("fifo", 0666));
		P(chown("fifo", ME, MYGID));
		mks("f", "sl", ME, MYGID);
		P(setxattr("f", "trusted.t", "T", 1, 0));
		P(setxattr("f", "security.s", "S", 1, 0));
		P(setxattr("oth", "user.o", "O", 1, 0));
		P(setxattr("othn", "user.o", "O", 1, 0));
		P(setxattr("othw", "trusted.t", "T", 1, 0));
		return;
	}
	MARK("f");
	R(setxattr("f", "user.a", "1", 1, 0));
	S("f");
	R(getxattr("f", "user.a", NULL, 0));
	R(getxattr("f", "user.a", buf, 0));
	R(getxattr("f", "user.a", buf, sizeof(buf)));
	R(setxattr("f", "user.b", "22", 2, XATTR_CREATE));
	R(getxattr("f", "user.b", buf, 1));
	R(setxattr("f", "user.b", "x", 1, XATTR_CREATE));
	R(setxattr("f", "user.b", "333", 3, XATTR_REPLACE));
	GX("f", "user.b");
	R(setxattr("f", "user.c", "x", 1, XATTR_REPLACE));
	R(setxattr("f", "user.c", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	R(setxattr("f", "user.c", "x", 1, 4));
	R(setxattr("f", "user.empty", "", 0, 0));
	R(getxattr("f", "user.empty", buf, sizeof(buf)));
	R(getxattr("f", "user.none", buf, sizeof(buf)));
	R(removexattr("f", "user.none"));
	R(setxattr("f", "user.", "x", 1, 0));
	R(setxattr("f", "", "x", 1, 0));
	R(setxattr("f", "bogus.x", "x", 1, 0));
	R(getxattr("f", "bogus.x", buf, sizeof(buf)));
	R(setxattr("f", "system.bogus", "x", 1, 0));
	R(getxattr("f", "system.bogus", buf, sizeof(buf)));
	{
		char n[300];
		memset(n, 'k', sizeof(n));
		memcpy(n, "user.", 5);
		n[255] = 0;
		R(setxattr("f", n, "x", 1, 0));
		R(getxattr("f", n, buf, sizeof(buf)));
		n[255] = 'k';
		n[256] = 0;
		R(setxattr("f", n, "x", 1, 0));
		R(getxattr("f", n, buf, sizeof(buf)));
		R(removexattr("f", n));
		n[255] = 0;
		R(removexattr("f", n));
	}
	memset(big, 'v', sizeof(big));
	R(setxattr("f", "user.big", big, 3000, 0));
	R(getxattr("f", "user.big", NULL, 0));
	R(setxattr("f", "user.toobig", big, 65537, 0));
	R(listxattr("f", NULL, 0) > 0);
	R(listxattr("f", buf, 3));
	LX("f", true);
	MARK("f");
	R(removexattr("f", "user.a"));
	S("f");
	LX("f", true);
	GX("f", "trusted.t");
	GX("f", "security.s");
	R(setxattr("f", "trusted.new", "1", 1, 0));
	R(removexattr("f", "trusted.t"));
	R(setxattr("f", "security.new", "1", 1, 0));
	R(removexattr("f", "security.s"));
	LX("f", true);
	/* Permissions */
	R(setxattr("oth", "user.x", "1", 1, 0));
	GX("oth", "user.o");
	R(removexattr("oth", "user.o"));
	GX("othn", "user.o");
	LX("othn", true);
	R(setxattr("othw", "user.x", "1", 1, 0));
	LX("othw", true);
	R(setxattr("ro", "user.x", "1", 1, 0));
	R(setxattr("d", "user.x", "1", 1, 0));
	R(setxattr("st", "user.x", "1", 1, 0));
	R(setxattr("mst", "user.x", "1", 1, 0));
	R(setxattr("fifo", "user.x", "1", 1, 0));
	GX("fifo", "user.x");
	R(lsetxattr("sl", "user.x", "1", 1, 0));
	R(setxattr("sl", "user.viasl", "1", 1, 0));
	GX("f", "user.viasl");
	R(setxattr("missing", "user.x", "1", 1, 0));
}

/* POSIX ACLs: the mode in step with the access ACL, enforcement, default
 * ACL inheritance, who may set them, setgid clearing. */
static void sc_acl(void)
{
	int fd;
	const char *AA = "system.posix_acl_access", *AD = "system.posix_acl_default";
	if (prepping) {
		mkf("acl_u", 0600, OTHER, OTHERGID, "u");
		P(ACL("acl_u", AA, { A_UO, 6, 0 }, { A_U, 6, ME }, { A_GO, 4, 0 },
		      { A_M, 6, 0 }, { A_O, 0, 0 }));
		mkf("acl_deny", 0644, OTHER, OTHERGID, "d");
		P(ACL("acl_deny", AA, { A_UO, 6, 0 }, { A_U, 0, ME }, { A_GO, 4, 0 },
		      { A_M, 4, 0 }, { A_O, 4, 0 }));
		mkf("acl_g", 0600, OTHER, OTHERGID, "g");
		P(ACL("acl_g", AA, { A_UO, 6, 0 }, { A_GO, 0, 0 }, { A_G, 6, MYGID },
		      { A_M, 6, 0 }, { A_O, 0, 0 }));
		mkf("acl_mask", 0600, OTHER, OTHERGID, "m");
		P(ACL("acl_mask", AA, { A_UO, 6, 0 }, { A_U, 7, ME }, { A_GO, 4, 0 },
		      { A_M, 4, 0 }, { A_O, 0, 0 }));
		mkd("acl_dx", 0700, OTHER, OTHERGID);
		mkf("acl_dx/f", 0644, OTHER, OTHERGID, "in");
		P(ACL("acl_dx", AA, { A_UO, 7, 0 }, { A_U, 5, ME }, { A_GO, 0, 0 },
		      { A_M, 5, 0 }, { A_O, 0, 0 }));
		mkf("mine", 0644, ME, MYGID, "mine");
		mkf("mine2", 0640, ME, MYGID, "mine2");
		mkf("sgid", 02775, ME, NOGROUP, "s");
		mkf("oth", 0644, OTHER, OTHERGID, "o");
		mks("mine", "sl", ME, MYGID);
		mkd("dacl", 0777, ME, MYGID);
		P(ACL("dacl", AD, { A_UO, 7, 0 }, { A_U, 5, OTHER }, { A_GO, 5, 0 },
		      { A_M, 7, 0 }, { A_O, 5, 0 }));
		mkd("dacl2", 0777, ME, MYGID);
		P(ACL("dacl2", AD, { A_UO, 6, 0 }, { A_GO, 4, 0 }, { A_O, 0, 0 }));
		mkd("dacl3", 0777, ME, MYGID);
		P(ACL("dacl3", AD, { A_UO, 7, 0 }, { A_GO, 7, 0 }, { A_G, 7, OTHERGID },
		      { A_M, 5, 0 }, { A_O, 7, 0 }));
		mkd("d", 0755, ME, MYGID);
		return;
	}
	S("acl_u");
	GA("acl_u", AA);
	FD(fd, open("acl_u", O_RDWR));
	CLOSE(fd);
	R(access("acl_u", R_OK | W_OK));
	FD(fd, open("acl_deny", O_RDONLY));
	CLOSE(fd);
	R(access("acl_deny", R_OK));
	FD(fd, open("acl_g", O_RDWR));
	CLOSE(fd);
	FD(fd, open("acl_mask", O_RDWR));
	CLOSE(fd);
	FD(fd, open("acl_mask", O_RDONLY));
	CLOSE(fd);
	R(access("acl_mask", X_OK));
	R(access("acl_dx/f", R_OK));
	LS("acl_dx");
	/* Setting ACLs on our own file. */
	MARK("mine");
	R(ACL("mine", AA, { A_UO, 7, 0 }, { A_GO, 5, 0 }, { A_O, 4, 0 }));
	S("mine");
	GA("mine", AA);
	MARK("mine");
	R(ACL("mine", AA, { A_UO, 6, 0 }, { A_U, 6, OTHER }, { A_GO, 4, 0 },
	      { A_M, 6, 0 }, { A_O, 4, 0 }));
	S("mine");
	GA("mine", AA);
	LX("mine", true);
	MARK("mine");
	R(chmod("mine", 0750));
	S("mine");
	GA("mine", AA);
	R(chmod("mine", 0604));
	GA("mine", AA);
	R(ACL("mine", AA, { A_UO, 6, 0 }, { A_U, 6, OTHER }, { A_GO, 4, 0 }, { A_O, 4, 0 }));
	R(ACL("mine", AA, { A_UO, 6, 0 }, { A_GO, 4, 0 }));
	R(ACL("mine", AA, { A_UO, 6, 0 }, { A_GO, 4, 0 }, { A_O, 4, 0 }, { A_O, 4, 0 }));
	R(ACL("mine", AA, { A_UO, 6, 0 }, { A_U, 6, OTHER }, { A_U, 4, OTHER },
	      { A_GO, 4, 0 }, { A_M, 6, 0 }, { A_O, 4, 0 }));
	R(setxattr("mine", AA, "junk", 4, 0));
	R(setxattr("mine", AA, "", 0, 0));
	GA("mine", AA);
	MARK("mine");
	R(removexattr("mine", AA));
	S("mine");
	GA("mine", AA);
	R(removexattr("mine", AA));
	R(ACL("mine", AD, { A_UO, 7, 0 }, { A_GO, 5, 0 }, { A_O, 5, 0 }));
	R(removexattr("mine", AD));
	GA("mine", AD);
	R(ACL("sl", AA, { A_UO, 6, 0 }, { A_GO, 4, 0 }, { A_O, 0, 0 }));
	S("mine");
	R(ACL("oth", AA, { A_UO, 6, 0 }, { A_GO, 4, 0 }, { A_O, 0, 0 }));
	R(ACL("sgid", AA, { A_UO, 7, 0 }, { A_U, 5, OTHER }, { A_GO, 5, 0 },
	      { A_M, 5, 0 }, { A_O, 5, 0 }));
	S("sgid");
	R(ACL("mine2", AA, { A_UO, 7, 0 }, { A_GO, 5, 0 }, { A_O, 5, 0 }));
	GA("mine2", AA);
	S("mine2");
	/* Default ACLs and inheritance. */
	GA("dacl", AD);
	GA("dacl", AA);
	FD(fd, open("dacl/f", O_CREAT | O_WRONLY, 0666));
	CLOSE(fd);
	S("dacl/f");
	GA("dacl/f", AA);
	GA("dacl/f", AD);
	R(mkdir("dacl/sub", 0777));
	S("dacl/sub");
	GA("dacl/sub", AA);
	GA("dacl/sub", AD);
	FD(fd, open("dacl/sub/g", O_CREAT | O_WRONLY, 0640));
	CLOSE(fd);
	S("dacl/sub/g");
	GA("dacl/sub/g", AA);
	R(mknod("dacl/fifo", S_IFIFO | 0666, 0));
	S("dacl/fifo");
	GA("dacl/fifo", AA);
	R(symlink("x", "dacl/sl"));
	S("dacl/sl");
	umask(077);
	FD(fd, open("dacl2/f", O_CREAT | O_WRONLY, 0666));
	CLOSE(fd);
	S("dacl2/f");
	GA("dacl2/f", AA);
	R(mkdir("dacl2/sub", 0777));
	S("dacl2/sub");
	GA("dacl2/sub", AD);
	FD(fd, open("dacl3/f", O_CREAT | O_WRONLY, 0777));
	CLOSE(fd);
	S("dacl3/f");
	GA("dacl3/f", AA);
	umask(022);
	FD(fd, open("d/noacl", O_CREAT | O_WRONLY, 0666));
	CLOSE(fd);
	S("d/noacl");
	R(ACL("d", AD, { A_UO, 7, 0 }, { A_GO, 5, 0 }, { A_O, 0, 0 }));
	GA("d", AD);
	S("d");
	MARK("d");
	R(removexattr("d", AD));
	S("d");
	R(ACL("d", AD, { A_UO, 7, 0 }, { A_U, 7, OTHER }, { A_GO, 5, 0 }, { A_M, 7, 0 },
	      { A_O, 0, 0 }));
	R(mkdir("d/x", 0700));
	S("d/x");
	GA("d/x", AA);
	GA("d/x", AD);
}

/* Directory st_size, st_blocks and st_nlink as entries come and go. */
static void sc_dirs(void)
{
	if (prepping)
		return;
	R(mkdir("d", 0755));
	S("d");
	for (int i = 0; i < 10; i++) {
		char n[32];
		snprintf(n, sizeof(n), "d/f%d", i);
		touch(n);
	}
	S("d");
	R(mkdir("d/s1", 0755));
	R(mkdir("d/s2", 0755));
	R(mkdir("d/s3", 0755));
	S("d");
	R(rename("d/s3", "s3"));
	S("d");
	S(".");
	R(rmdir("d/s2"));
	S("d");
	R(rename("s3", "d/s1/s3"));
	S("d");
	S("d/s1");
	S(".");
	/* many entries: ext4 grows the directory by blocks */
	R(mkdir("big", 0755));
	for (int i = 0; i < 300; i++) {
		char n[200];
		snprintf(n, sizeof(n), "big/%0120d", i);
		touch(n);
	}
	struct stat st;
	R(stat("big", &st));
	say("  big: size %% 4096 = %lld, size >= 4096: %d, blocks*512 == size: %d",
	    (long long)(st.st_size % 4096), st.st_size >= 4096,
	    (long long)st.st_blocks * 512 == (long long)st.st_size);
	R(stat(".", &st));
	say("  .: blksize %ld", (long)st.st_blksize);
}

/* st_blocks of regular files: small, sparse, extended, shrunk. */
static void sc_blocks(void)
{
	int fd;
	char buf[16384];
	if (prepping)
		return;
	memset(buf, 'z', sizeof(buf));
	FD(fd, open("f", O_CREAT | O_RDWR, 0644));
	SF(fd, "empty");
	R(pwrite(fd, "x", 1, 0));
	SF(fd, "1byte");
	R(pwrite(fd, buf, 2047, 1));
	SF(fd, "2048");
	R(pwrite(fd, buf, 2048, 2048));
	SF(fd, "4096");
	R(pwrite(fd, buf, 1, 8192));
	SF(fd, "hole");
	R(pwrite(fd, buf, 1, 1 << 20));
	SF(fd, "1M");
	R(ftruncate(fd, 4 << 20));
	SF(fd, "trunc4M");
	R(ftruncate(fd, 8193));
	SF(fd, "trunc8193");
	R(ftruncate(fd, 4096));
	SF(fd, "trunc4096");
	R(ftruncate(fd, 0));
	SF(fd, "trunc0");
	CLOSE(fd);
	FD(fd, open("t", O_CREAT | O_RDWR, 0644));
	R(ftruncate(fd, 1000));
	SF(fd, "t1000");
	R(pwrite(fd, "x", 1, 10));
	SF(fd, "t1000w");
	R(ftruncate(fd, 100000));
	SF(fd, "t100000");
	CLOSE(fd);
	FD(fd, open("s", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 5, 0));
	SF(fd, "s5");
	CLOSE(fd);
	FD(fd, open("z", O_CREAT | O_RDWR, 0644));
	memset(buf, 0, sizeof(buf));
	R(pwrite(fd, buf, 8192, 0));
	SF(fd, "zeros");
	CLOSE(fd);
}

/* fallocate: every mode ext4 knows; sizes, blocks, data, errors. */
static void sc_fallocate(void)
{
	int fd;
	char buf[16384];
	if (prepping)
		return;
	memset(buf, 'y', sizeof(buf));
	FD(fd, open("a", O_CREAT | O_RDWR, 0644));
	MARK("a");
	R(fallocate(fd, 0, 0, 10000));
	S("a");
	ZEROS("a", 0, 10000);
	MARK("a");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 20000));
	S("a");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 100000, 8192));
	S("a");
	CLOSE(fd);
	FD(fd, open("k", O_CREAT | O_RDWR, 0644));
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
	SF(fd, "k");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1000));
	SF(fd, "k");
	CLOSE(fd);
	FD(fd, open("k2", O_CREAT | O_RDWR, 0644));
	R(fallocate(fd, 0, 0, 1000));
	SF(fd, "k2");
	R(fallocate(fd, 0, 500, 100));
	SF(fd, "k2");
	CLOSE(fd);
	/* punch */
	FD(fd, open("p", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 16384, 0));
	MARK("p");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192));
	S("p");
	ZEROS("p", 4096, 8192);
	RD("p", 4090, 8);
	RD("p", 12286, 4);
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 50));
	SF(fd, "p");
	RD("p", 98, 4);
	RD("p", 148, 4);
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 14000, 100000));
	SF(fd, "p");
	RD("p", 13998, 4);
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 4096));
	SF(fd, "p");
	CLOSE(fd);
	/* small (inline-sized) files */
	FD(fd, open("ps", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 100, 0));
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20));
	SF(fd, "ps");
	RD("ps", 8, 24);
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	SF(fd, "ps");
	CLOSE(fd);
	/* zero range */
	FD(fd, open("zr", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, buf, 16384, 0));
	MARK("zr");
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 10000));
	S("zr");
	ZEROS("zr", 100, 10000);
	RD("zr", 98, 4);
	RD("zr", 10098, 4);
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE, 16000, 10000));
	SF(fd, "zr");
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 26000, 10000));
	SF(fd, "zr");
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE, 0, 10));
	CLOSE(fd);
	/* collapse / insert */
	FD(fd, open("cr", O_CREAT | O_RDWR, 0644));
	for (int i = 0; i < 4; i++) {
		memset(buf, 'a' + i, 4096);
		R(pwrite(fd, buf, 4096, i * 4096));
	}
	R(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 4096));
	SF(fd, "cr");
	RD("cr", 4094, 4);
	RD("cr", 8190, 4);
	R(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 100, 4096));
	R(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 8192, 8192));
	R(fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 4096));
	SF(fd, "cr");
	RD("cr", 4094, 4);
	RD("cr", 8190, 4);
	ZEROS("cr", 4096, 4096);
	R(fallocate(fd, FALLOC_FL_INSERT_RANGE, 100, 4096));
	R(fallocate(fd, FALLOC_FL_INSERT_RANGE, 1 << 20, 4096));
	R(fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 0, 4096));
	R(fallocate(fd, FALLOC_FL_NO_HIDE_STALE, 0, 4096));
	CLOSE(fd);
	/* errors */
	FD(fd, open("e", O_CREAT | O_RDWR, 0644));
	R(fallocate(fd, 0, 0, 0));
	R(fallocate(fd, 0, -1, 10));
	R(fallocate(fd, 0, 0, -1));
	R(fallocate(fd, 0x1000, 0, 10));
	R(fallocate(fd, 0, 0x7ffffffffffff000LL, 0x2000));
	SF(fd, "e");
	R(posix_fallocate(fd, 0, 100000) == 0);
	SF(fd, "e");
	CLOSE(fd);
	FD(fd, open("e", O_RDONLY));
	R(fallocate(fd, 0, 0, 10));
	R(posix_fallocate(fd, 0, 10));
	CLOSE(fd);
	FD(fd, open(".", O_RDONLY));
	R(fallocate(fd, 0, 0, 10));
	CLOSE(fd);
	FD(fd, open("e", O_WRONLY | O_APPEND));
	R(fallocate(fd, 0, 0, 200000));
	SF(fd, "e");
	CLOSE(fd);
}

/* SEEK_DATA / SEEK_HOLE. */
static void sc_seek(void)
{
	int fd;
	char buf[4096];
	if (prepping)
		return;
	memset(buf, 's', sizeof(buf));
	FD(fd, open("sp", O_CREAT | O_RDWR, 0644));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	R(pwrite(fd, buf, 4096, 0));
	R(pwrite(fd, buf, 10, 1 << 20));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	R(lseek(fd, 100, SEEK_HOLE));
	R(lseek(fd, 4096, SEEK_DATA));
	R(lseek(fd, 5000, SEEK_HOLE));
	R(lseek(fd, (1 << 20) + 5, SEEK_DATA));
	R(lseek(fd, (1 << 20) + 5, SEEK_HOLE));
	R(lseek(fd, (1 << 20) + 10, SEEK_DATA));
	R(lseek(fd, (1 << 20) + 10, SEEK_HOLE));
	R(lseek(fd, -1, SEEK_DATA));
	R(ftruncate(fd, 3 << 20));
	R(lseek(fd, (1 << 20) + 10, SEEK_HOLE));
	R(lseek(fd, (2 << 20), SEEK_DATA));
	R(lseek(fd, (2 << 20), SEEK_HOLE));
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	R(lseek(fd, 4096, SEEK_DATA));
	R(lseek(fd, 8192, SEEK_HOLE));
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	CLOSE(fd);
	FD(fd, open("small", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, "abc", 3, 0));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	R(lseek(fd, 2, SEEK_HOLE));
	R(lseek(fd, 3, SEEK_DATA));
	CLOSE(fd);
	FD(fd, open("trunc", O_CREAT | O_RDWR, 0644));
	R(ftruncate(fd, 1000));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	CLOSE(fd);
	FD(fd, open(".", O_RDONLY));
	R(lseek(fd, 0, SEEK_DATA));
	CLOSE(fd);
}

/* statfs: the fields that do not depend on the disk's size. */
static void sc_statfs(void)
{
	if (prepping)
		return;
	struct statvfs v;
	R(statvfs(".", &v));
	say("  bsize %lu frsize %lu namemax %lu rdonly %d", v.f_bsize, v.f_frsize,
	    v.f_namemax, (int)(v.f_flag & ST_RDONLY));
	say("  blocks>=bfree %d bfree>=bavail %d files>=ffree %d ffree>=favail %d files>0 %d",
	    v.f_blocks >= v.f_bfree, v.f_bfree >= v.f_bavail, v.f_files >= v.f_ffree,
	    v.f_ffree >= v.f_favail, v.f_files > 0);
	struct statvfs w;
	int fd = open("big", O_CREAT | O_WRONLY, 0644);
	char *buf = calloc(1, 1 << 20);
	memset(buf, 'b', 1 << 20);
	for (int i = 0; i < 8; i++)
		if (write(fd, buf, 1 << 20) < 0)
			break;
	fsync(fd);
	close(fd);
	free(buf);
	R(statvfs(".", &w));
	say("  8 MiB written: bfree went down %d", w.f_bfree < v.f_bfree);
}

/* readdir while the directory changes: every entry present throughout is
 * seen exactly once; rewinddir sees the present; seekdir/telldir. */
static void sc_readdir(void)
{
	if (prepping) {
		mkd("d", 0755, ME, MYGID);
		for (int i = 0; i < 200; i++) {
			char n[32];
			snprintf(n, sizeof(n), "d/o%03d", i);
			mkf(n, 0644, ME, MYGID, "");
		}
		mkd("t", 0755, ME, MYGID);
		mkf("t/reg", 0644, ME, MYGID, "");
		mkd("t/dir", 0755, ME, MYGID);
		mks("x", "t/lnk", ME, MYGID);
		P(mkfifo("t/fifo", 0644));
		P(mknod("t/chr", S_IFCHR | 0600, makedev(1, 3)));
		P(mknod("t/blk", S_IFBLK | 0600, makedev(7, 0)));
		P(mknod("t/sock", S_IFSOCK | 0600, 0));
		mkd("nor", 0311, ME, MYGID);
		mkd("nox", 0644, ME, MYGID);
		return;
	}
	DIR *d = opendir("d");
	if (!d) {
		say("opendir: %s", en(errno));
		return;
	}
	int seen[200] = { 0 }, other = 0, dots = 0, nread = 0;
	struct dirent *e;
	while (nread < 50 && (e = readdir(d))) {
		nread++;
		if (e->d_name[0] == 'o')
			seen[atoi(e->d_name + 1)]++;
		else if (e->d_name[0] == '.')
			dots++;
	}
	/* remove 20 (some seen, some not), add 50 */
	int removed[200] = { 0 };
	for (int i = 0; i < 200; i += 10) {
		char n[32];
		snprintf(n, sizeof(n), "d/o%03d", i);
		unlink(n);
		removed[i] = 1;
	}
	for (int i = 0; i < 50; i++) {
		char n[32];
		snprintf(n, sizeof(n), "d/n%03d", i);
		touch(n);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == 'o')
			seen[atoi(e->d_name + 1)]++;
		else if (e->d_name[0] == '.')
			dots++;
		else if (e->d_name[0] == 'n')
			other++;
	}
	int once = 0, twice = 0, missing = 0;
	for (int i = 0; i < 200; i++) {
		if (removed[i])
			continue;
		once += seen[i] == 1;
		twice += seen[i] > 1;
		missing += seen[i] == 0;
	}
	say("  kept entries seen once %d, more than once %d, never %d; dots %d",
	    once, twice, missing, dots);
	rewinddir(d);
	int total = 0;
	while ((e = readdir(d)))
		total++;
	say("  after rewinddir: %d entries", total);
	closedir(d);
	/* telldir/seekdir in a directory that does not change */
	d = opendir("d");
	for (int i = 0; i < 30 && readdir(d); i++)
		;
	long pos = telldir(d);
	char after[3][256];
	int na = 0;
	while (na < 3 && (e = readdir(d)))
		snprintf(after[na++], 256, "%s", e->d_name);
	for (int i = 0; i < 40 && readdir(d); i++)
		;
	seekdir(d, pos);
	int same = 0;
	for (int i = 0; i < na && (e = readdir(d)); i++)
		same += !strcmp(e->d_name, after[i]);
	say("  seekdir back: %d of %d names again", same, na);
	closedir(d);
	LS("t");
	LS("nor");
	LS("nox");
	R(access("nox/x", F_OK));
	R(access("nor/x", F_OK));
	MARK("t");
	LS("t");
	S("t");
	MARK("t");
	LS("t");
	S("t");
}

/* O_TMPFILE, statx fields, copy_file_range. */
static void sc_misc(void)
{
	int fd, fd2;
	char buf[64];
	if (prepping) {
		mkf("src", 0644, ME, MYGID, "0123456789abcdef");
		return;
	}
	FD(fd, open(".", O_TMPFILE | O_RDWR, 0600));
	if (fd >= 0) {
		R(write(fd, "tmp", 3));
		SF(fd, "tmpfile");
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		R(linkat(AT_FDCWD, p, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
		S("named");
	}
	CLOSE(fd);
	struct statx sx;
	R(statx(AT_FDCWD, "src", 0, STATX_ALL, &sx));
	say("  statx mask basic %d btime %d", (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS,
	    !!(sx.stx_mask & STATX_BTIME));
	FD(fd, open("src", O_RDONLY));
	FD(fd2, open("dst", O_CREAT | O_RDWR, 0644));
	loff_t oi = 2, oo = 0;
	R(copy_file_range(fd, &oi, fd2, &oo, 5, 0));
	RD("dst", 0, 10);
	oi = 100;
	R(copy_file_range(fd, &oi, fd2, &oo, 5, 0));
	oi = 0;
	R(copy_file_range(fd, &oi, fd2, &oo, 5, 1));
	CLOSE(fd2);
	FD(fd2, open("dst", O_RDWR | O_APPEND));
	oi = 0;
	R(copy_file_range(fd, &oi, fd2, NULL, 5, 0));
	CLOSE(fd2);
	FD(fd2, open("src", O_RDWR));
	oi = 0;
	oo = 4;
	R(copy_file_range(fd2, &oi, fd2, &oo, 8, 0));
	oo = 8;
	R(copy_file_range(fd2, &oi, fd2, &oo, 8, 0));
	RD("src", 0, 20);
	CLOSE(fd2);
	CLOSE(fd);
	FD(fd, open("src", O_RDONLY));
	R(read(fd, buf, 0));
	R(fsync(fd));
	R(fdatasync(fd));
	R(flock(fd, LOCK_EX | LOCK_NB));
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	R(fcntl(fd, F_SETLK, &fl));
	CLOSE(fd);
	FD(fd, open(".", O_RDONLY | O_DIRECTORY));
	R(fsync(fd));
	CLOSE(fd);
	/* O_DIRECT with aligned buffers */
	void *al = NULL;
	if (posix_memalign(&al, 4096, 8192) == 0) {
		memset(al, 'd', 8192);
		FD(fd, open("dio", O_CREAT | O_RDWR | O_DIRECT, 0644));
		R(pwrite(fd, al, 8192, 4096));
		memset(al, 0, 8192);
		R(pread(fd, al, 4096, 8192));
		show_bytes("dio", al, 4);
		CLOSE(fd);
		S("dio");
		free(al);
	}
	/* many names for one file */
	touch("many");
	int ok = 0;
	for (int i = 0; i < 100; i++) {
		char n[32];
		snprintf(n, sizeof(n), "many%d", i);
		ok += link("many", n) == 0;
	}
	say("  100 links: %d made", ok);
	S("many");
	for (int i = 0; i < 100; i += 2) {
		char n[32];
		snprintf(n, sizeof(n), "many%d", i);
		unlink(n);
	}
	S("many99");
}

/* Limits where the file systems may differ by design. */
static void sc_limits(void)
{
	int fd;
	if (prepping)
		return;
	FD(fd, open("big", O_CREAT | O_RDWR, 0644));
	R(ftruncate(fd, 1LL << 50));
	R(pwrite(fd, "e", 1, 0x7ffffffffffffffeLL));
	R(pwrite(fd, "e", 1, 0x7fffffffffffffffLL));
	R(pwrite(fd, "ee", 2, 0x7ffffffffffffffeLL));
	R(ftruncate(fd, 0x7fffffffffffffffLL));
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1LL << 50));
	R(lseek(fd, 1LL << 50, SEEK_SET));
	R(lseek(fd, 0x7fffffffffffffffLL, SEEK_SET));
	R(lseek(fd, 0x7fffffffffffffffLL, SEEK_END));
	CLOSE(fd);
	FD(fd, open("big2", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, "x", 1, 1LL << 40));
	R(lseek(fd, 0, SEEK_END));
	R(lseek(fd, 0x7fffffffffffffffLL, SEEK_CUR));
	CLOSE(fd);
	S("big2");
}

/* Odd names: every byte but '/' and NUL, dots, 255-byte names everywhere. */
static void sc_names(void)
{
	char buf[512];
	if (prepping)
		return;
	char odd[256];
	int k = 0;
	for (int c = 1; c < 256 && k < 250; c++)
		if (c != '/')
			odd[k++] = (char)c;
	odd[k] = 0;
	R(touch(odd));
	R(access(odd, F_OK));
	R(touch("..."));
	R(touch(" "));
	R(touch("\n"));
	R(touch("-"));
	R(touch("\xff\xfe"));
	R(mkdir("dir255", 0755));
	char p[600];
	snprintf(p, sizeof(p), "dir255/%s", N255);
	R(touch(p));
	R(symlink(N255, N255));
	R(readlink(N255, buf, sizeof(buf)));
	R(rename(N255, "short"));
	R(rename("short", N255));
	R(link("...", N255));
	R(link("...", "dir255/x"));
	snprintf(p, sizeof(p), "dir255/%s", N256);
	R(rename("...", p));
	LS(".");
}

/* Directory permissions: search, read, write separately. */
static void sc_dirperm(void)
{
	if (prepping) {
		mkd("x", 0111, ME, MYGID);
		P(chmod("x", 0755));
		mkf("x/f", 0644, ME, MYGID, "f");
		P(chmod("x", 0111));
		mkd("w", 0333, ME, MYGID);
		mkd("wnox", 0666, ME, MYGID);
		mkd("oth", 0700, OTHER, OTHERGID);
		mkd("othw", 0777, OTHER, OTHERGID);
		mkd("grp", 0070, OTHER, MYGID);
		return;
	}
	R(access("x/f", R_OK));
	RD("x/f", 0, 5);
	LS("x");
	R(touch("x/new"));
	R(touch("w/new"));
	R(access("w/new", F_OK));
	R(unlink("w/new"));
	R(touch("wnox/new"));
	R(access("oth", F_OK));
	R(access("oth/x", F_OK));
	LS("oth");
	R(touch("othw/mine"));
	S("othw/mine");
	R(unlink("othw/mine"));
	R(touch("grp/g"));
	LS("grp");
	R(chdir("oth"));
}

/* ---- fsx: random operations on one file, checked against a model ------------------ */

static uint64_t fsx_rng = 88172645463325252ull;
static uint64_t fsx_rand(void)
{
	fsx_rng ^= fsx_rng << 13;
	fsx_rng ^= fsx_rng >> 7;
	fsx_rng ^= fsx_rng << 17;
	return fsx_rng;
}

#define FSX_MAX (512 * 1024)

/* Compare the file with the model; print the first difference. */
static int fsx_check(int fd, const unsigned char *model, size_t msize, int op,
		     const char *what)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != msize) {
		say("  fsx op %d (%s): size %lld, model %zu", op, what,
		    (long long)st.st_size, msize);
		return -1;
	}
	static unsigned char got[FSX_MAX + 8192];
	ssize_t n = pread(fd, got, msize + 100, 0);
	if (n != (ssize_t)msize) {
		say("  fsx op %d (%s): read %zd of %zu", op, what, n, msize);
		return -1;
	}
	for (size_t i = 0; i < msize; i++)
		if (got[i] != model[i]) {
			say("  fsx op %d (%s): byte %zu is %02x, model %02x", op, what, i,
			    got[i], model[i]);
			return -1;
		}
	/* SEEK_DATA/SEEK_HOLE must never hide data */
	off_t pos = 0;
	while ((size_t)pos < msize) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0)
			d = (off_t)msize;
		for (size_t i = (size_t)pos; i < (size_t)d && i < msize; i++)
			if (model[i]) {
				say("  fsx op %d (%s): SEEK_DATA from %lld skips data at %zu",
				    op, what, (long long)pos, i);
				return -1;
			}
		if ((size_t)d >= msize)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h <= d) {
			say("  fsx op %d (%s): SEEK_HOLE from %lld = %lld", op, what,
			    (long long)d, (long long)h);
			return -1;
		}
		pos = h;
	}
	return 0;
}

static void sc_fsx(void)
{
	if (prepping)
		return;
	static unsigned char model[FSX_MAX + 8192], buf[65536];
	size_t msize = 0;
	int fd = open("fsx", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0) {
		say("  fsx open: %s", en(errno));
		return;
	}
	int ops = 3000, bad = 0;
	for (int op = 0; op < ops && !bad; op++) {
		uint64_t r = fsx_rand();
		size_t off = (size_t)(fsx_rand() % FSX_MAX);
		size_t len = (size_t)(fsx_rand() % (r & 1 ? 64 : 40000)) + 1;
		if (off + len > FSX_MAX)
			len = FSX_MAX - off;
		const char *what = "?";
		switch ((r >> 8) % 10) {
		case 0: case 1: case 2: {	/* write */
			what = "write";
			for (size_t i = 0; i < len; i++)
				buf[i] = (unsigned char)(fsx_rand() | 1);
			if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
				say("  fsx op %d write: %s", op, en(errno));
				bad = 1;
				break;
			}
			memcpy(model + off, buf, len);
			if (off + len > msize)
				msize = off + len;
			break;
		}
		case 3: {	/* truncate */
			what = "truncate";
			size_t ns = (size_t)(fsx_rand() % FSX_MAX);
			if (r & 0x10000)
				ns = ns % 5000;
			if (ftruncate(fd, (off_t)ns) < 0) {
				say("  fsx op %d truncate: %s", op, en(errno));
				bad = 1;
				break;
			}
			/* the model keeps every byte past the size zero, as
			 * the file reads when it grows again */
			if (ns < msize)
				memset(model + ns, 0, msize - ns);
			msize = ns;
			break;
		}
		case 4: {	/* punch */
			what = "punch";
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)off, (off_t)len) < 0) {
				say("  fsx op %d punch: %s", op, en(errno));
				bad = 1;
				break;
			}
			for (size_t i = off; i < off + len && i < msize; i++)
				model[i] = 0;
			break;
		}
		case 5: {	/* zero range, sometimes growing */
			what = "zero";
			int keep = (r >> 20) & 1;
			if (fallocate(fd, FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0),
				      (off_t)off, (off_t)len) < 0) {
				say("  fsx op %d zero: %s", op, en(errno));
				bad = 1;
				break;
			}
			for (size_t i = off; i < off + len && (i < msize || !keep); i++)
				model[i] = 0;
			if (!keep && off + len > msize)
				msize = off + len;
			break;
		}
		case 6: {	/* allocate */
			what = "falloc";
			int keep = (r >> 20) & 1;
			if (fallocate(fd, keep ? FALLOC_FL_KEEP_SIZE : 0, (off_t)off,
				      (off_t)len) < 0) {
				say("  fsx op %d falloc: %s", op, en(errno));
				bad = 1;
				break;
			}
			if (!keep && off + len > msize) {
				memset(model + msize, 0, off + len - msize);
				msize = off + len;
			}
			break;
		}
		case 7: {	/* mmap write inside the file */
			what = "mapwrite";
			if (msize == 0)
				break;
			off = off % msize;
			if (off + len > msize)
				len = msize - off;
			size_t pg = (size_t)sysconf(_SC_PAGESIZE), base = off / pg * pg;
			unsigned char *m = mmap(NULL, off + len - base, PROT_READ | PROT_WRITE,
						MAP_SHARED, fd, (off_t)base);
			if (m == MAP_FAILED) {
				say("  fsx op %d mmap: %s", op, en(errno));
				bad = 1;
				break;
			}
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)(fsx_rand() | 2);
				m[off - base + i] = c;
				model[off + i] = c;
			}
			msync(m, off + len - base, MS_SYNC);
			munmap(m, off + len - base);
			break;
		}
		case 8: {	/* mmap read */
			what = "mapread";
			if (msize == 0)
				break;
			off = off % msize;
			if (off + len > msize)
				len = msize - off;
			size_t pg = (size_t)sysconf(_SC_PAGESIZE), base = off / pg * pg;
			unsigned char *m = mmap(NULL, off + len - base, PROT_READ, MAP_SHARED,
						fd, (off_t)base);
			if (m == MAP_FAILED) {
				say("  fsx op %d mmap: %s", op, en(errno));
				bad = 1;
				break;
			}
			if (memcmp(m + off - base, model + off, len)) {
				say("  fsx op %d: mapped read differs at %zu", op, off);
				bad = 1;
			}
			munmap(m, off + len - base);
			break;
		}
		case 9: {	/* copy_file_range within the file, no overlap */
			what = "copy";
			if (msize == 0)
				break;
			size_t src = (size_t)(fsx_rand() % msize);
			if (src + len > msize)
				len = msize - src;
			if ((src < off + len && off < src + len) || len == 0)
				break;
			loff_t si = (loff_t)src, so = (loff_t)off;
			ssize_t n = copy_file_range(fd, &si, fd, &so, len, 0);
			if (n != (ssize_t)len) {
				say("  fsx op %d copy: %zd %s", op, n, en(errno));
				bad = 1;
				break;
			}
			memmove(model + off, model + src, len);
			if (off + len > msize)
				msize = off + len;
			break;
		}
		}
		if (!bad && (op % 50 == 0 || op == ops - 1))
			bad = fsx_check(fd, model, msize, op, what) < 0;
	}
	if (!bad) {
		/* and again through a fresh descriptor */
		close(fd);
		fd = open("fsx", O_RDONLY);
		bad = fsx_check(fd, model, msize, ops, "reopen") < 0;
	}
	close(fd);
	say("  fsx: %d ops, %s", ops, bad ? "FAILED" : "ok");
}

static const struct scenario {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{ "create_modes", sc_create_modes },
	{ "open_errors", sc_open_errors },
	{ "open_trunc_append", sc_open_trunc_append },
	{ "write_read", sc_write_read },
	{ "truncate", sc_truncate },
	{ "killpriv", sc_killpriv },
	{ "chmod", sc_chmod },
	{ "chown", sc_chown },
	{ "utimes", sc_utimes },
	{ "link", sc_link },
	{ "unlink", sc_unlink },
	{ "rmdir", sc_rmdir },
	{ "mkdir_setgid", sc_mkdir_setgid },
	{ "mknod", sc_mknod },
	{ "symlink", sc_symlink },
	{ "rename", sc_rename },
	{ "xattr", sc_xattr },
	{ "acl", sc_acl },
	{ "dirs", sc_dirs },
	{ "blocks", sc_blocks },
	{ "fallocate", sc_fallocate },
	{ "seek", sc_seek },
	{ "statfs", sc_statfs },
	{ "readdir", sc_readdir },
	{ "misc", sc_misc },
	{ "limits", sc_limits },
	{ "names", sc_names },
	{ "dirperm", sc_dirperm },
	{ "fsx", sc_fsx },
};

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: conform prep DIR UID GID | conform run DIR [SCENARIO...] |"
			" conform probe DIR\n");
	exit(2);
}

/*
 * Does the file system keep written data in the kernel's page cache
 * before it reaches the daemon (FUSE writeback cache)?  Then st_blocks of
 * an open file just written is still 0.  Prints "writeback" or
 * "writethrough".
 */
static int probe(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/.probe", dir);
	int fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0600);
	struct stat st;
	char buf[4096];
	memset(buf, 'p', sizeof(buf));
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
	    fstat(fd, &st) < 0) {
		perror(p);
		return 1;
	}
	printf("%s\n", st.st_blocks ? "writethrough" : "writeback");
	close(fd);
	unlink(p);
	return 0;
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
	if (!strcmp(argv[1], "probe"))
		return probe(argv[2]);
	memset(N255, 'n', 255);
	memset(N256, 'n', 256);
	/* Absolute: scenarios chdir into their directories one after the
	 * other. */
	char *dir = realpath(argv[2], NULL);
	if (!dir) {
		fprintf(stderr, "conform: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
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
	free(dir);
	return 0;
}
