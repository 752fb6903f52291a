/*
 * fsop.c — one system call per invocation, for the mount tests.
 *
 * The shell tools the mount tests use (mkdir, mv, ln...) hide the errno a
 * call failed with behind their own messages and exit codes.  This helper
 * runs exactly one operation (or one fixed scenario) and prints what
 * happened in a form a test can compare: "OK" plus any result on success,
 * or the errno's name ("ENOENT") on failure, exit status 0 or 1.
 *
 *   fsop mkdir PATH [MODE]            fsop rmdir PATH
 *   fsop unlink PATH                  fsop rename FROM TO [noreplace|exchange]
 *   fsop link FROM TO                 fsop symlink TARGET PATH
 *   fsop readlink PATH                fsop mknod PATH fifo|reg|chr|blk [MODE]
 *   fsop open PATH FLAGS [MODE]       (FLAGS: comma list of rdonly,wronly,
 *                                      rdwr,creat,excl,trunc,directory,
 *                                      nofollow,append)
 *   fsop create PATH MODE             (open O_CREAT|O_EXCL|O_WRONLY, print
 *                                      the mode the file got)
 *   fsop truncate PATH LEN            fsop chmod PATH MODE
 *   fsop chown PATH UID GID           fsop access PATH r|w|x|f combos
 *   fsop stat PATH                    (prints mode nlink uid gid size)
 *   fsop utimens PATH ASEC MSEC|now|omit (seconds, or now/omit)
 *   fsop setxattr PATH NAME VALUE [create|replace]
 *   fsop getxattr PATH NAME           fsop getxattr-size PATH NAME
 *   fsop listxattr PATH               fsop removexattr PATH NAME
 *   fsop fallocate PATH OFF LEN [keep|punch]
 *   fsop seek PATH data|hole OFF      (prints the offset)
 *   fsop copyrange SRC SOFF DST DOFF LEN  (prints bytes copied)
 *   fsop write PATH OFF STRING        fsop read PATH OFF LEN
 *   fsop ftruncate-ro PATH            (ftruncate on an O_RDONLY fd)
 *   fsop writesync PATH SIZE SEED     (write a pattern, fsync, print OK)
 *   fsop verify PATH SIZE SEED        (check the pattern)
 *   fsop holdopen PATH                (scenario: open-unlinked; see below)
 *   fsop ftrunc-unlinked PATH         (scenario: ftruncate after unlink)
 *
 * holdopen opens PATH read-write, writes 1 MiB, unlinks it, checks fstat
 * shows nlink 0 and the data reads back, writes more through the
 * descriptor, prints "HELD" and waits for a line on stdin; then reads the
 * data once more, prints "OK" and closes.  The test inspects the store
 * while the descriptor is held.
 *
 * Thread rules: single-threaded program.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(int err)
{
	const char *n = strerrorname_np(err);
	printf("%s\n", n ? n : "EUNKNOWN");
	return 1;
}

static int result(int rc)
{
	if (rc < 0)
		return fail(errno);
	printf("OK\n");
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static unsigned long num(const char *s)
{
	return strtoul(s, NULL, 0);
}

static int open_flags(const char *s)
{
	int f = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "rdonly")) f |= O_RDONLY;
		else if (!strcmp(t, "wronly")) f |= O_WRONLY;
		else if (!strcmp(t, "rdwr")) f |= O_RDWR;
		else if (!strcmp(t, "creat")) f |= O_CREAT;
		else if (!strcmp(t, "excl")) f |= O_EXCL;
		else if (!strcmp(t, "trunc")) f |= O_TRUNC;
		else if (!strcmp(t, "directory")) f |= O_DIRECTORY;
		else if (!strcmp(t, "nofollow")) f |= O_NOFOLLOW;
		else if (!strcmp(t, "append")) f |= O_APPEND;
		else {
			fprintf(stderr, "fsop: unknown flag %s\n", t);
			exit(2);
		}
	}
	free(copy);
	return f;
}

/* A byte pattern that differs per offset and per seed, so misplaced or
 * stale blocks are caught, not just missing ones. */
static unsigned char pattern(uint64_t off, unsigned seed)
{
	uint64_t x = (off / 8 + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)seed * 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return (unsigned char)(x >> (8 * (off % 8)));
}

static int write_pattern(int fd, uint64_t base, uint64_t size, unsigned seed)
{
	unsigned char buf[65536];
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(base + done + i, seed);
		ssize_t w = pwrite(fd, buf, n, (off_t)(base + done));
		if (w <= 0)
			return -1;
		done += (uint64_t)w;
	}
	return 0;
}

/* 0 if the pattern is there, 1 on a mismatch (printed), -1 on error. */
static int check_pattern(int fd, uint64_t base, uint64_t size, unsigned seed)
{
	unsigned char buf[65536];
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
		ssize_t r = pread(fd, buf, n, (off_t)(base + done));
		if (r < 0)
			return -1;
		if (r == 0) {
			printf("SHORT at %" PRIu64 "\n", base + done);
			return 1;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(base + done + (uint64_t)i, seed)) {
				printf("MISMATCH at %" PRIu64 "\n", base + done + (uint64_t)i);
				return 1;
			}
		done += (uint64_t)r;
	}
	return 0;
}

static int op_holdopen(const char *path)
{
	const uint64_t mib = 1 << 20;
	struct stat st;
	char line[16];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail(errno);
	if (write_pattern(fd, 0, mib, 7) < 0 || fsync(fd) < 0)
		return fail(errno);
	if (unlink(path) < 0)
		return fail(errno);
	if (access(path, F_OK) == 0 || errno != ENOENT) {
		printf("STILL-VISIBLE\n");
		return 1;
	}
	if (fstat(fd, &st) < 0)
		return fail(errno);
	if (st.st_nlink != 0) {
		printf("NLINK %ju\n", (uintmax_t)st.st_nlink);
		return 1;
	}
	if (check_pattern(fd, 0, mib, 7))
		return 1;
	/* still writable: grow it through the descriptor */
	if (write_pattern(fd, mib, mib, 7) < 0)
		return fail(errno);
	if (fstat(fd, &st) < 0)
		return fail(errno);
	if ((uint64_t)st.st_size != 2 * mib) {
		printf("SIZE %jd\n", (intmax_t)st.st_size);
		return 1;
	}
	printf("HELD\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		line[0] = 0;
	if (check_pattern(fd, 0, 2 * mib, 7))
		return 1;
	if (close(fd) < 0)
		return fail(errno);
	printf("OK\n");
	return 0;
}

static int op_ftrunc_unlinked(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "hello world", 11) != 11 || unlink(path) < 0)
		return fail(errno);
	if (ftruncate(fd, 5) < 0 || fstat(fd, &st) < 0)
		return fail(errno);
	if (st.st_size != 5) {
		printf("SIZE %jd\n", (intmax_t)st.st_size);
		return 1;
	}
	char buf[16];
	ssize_t r = pread(fd, buf, sizeof buf, 0);
	if (r != 5 || memcmp(buf, "hello", 5)) {
		printf("READ %zd\n", r);
		return 1;
	}
	close(fd);
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fsop OP PATH [ARGS...]\n");
		return 2;
	}
	const char *op = argv[1], *p = argv[2];
	const char *a3 = argc > 3 ? argv[3] : NULL, *a4 = argc > 4 ? argv[4] : NULL;
	struct stat st;

	if (!strcmp(op, "mkdir"))
		return result(mkdir(p, a3 ? (mode_t)num(a3) : 0755));
	if (!strcmp(op, "rmdir"))
		return result(rmdir(p));
	if (!strcmp(op, "unlink"))
		return result(unlink(p));
	if (!strcmp(op, "rename") && a3) {
		unsigned fl = 0;
		if (a4 && !strcmp(a4, "noreplace"))
			fl = RENAME_NOREPLACE;
		else if (a4 && !strcmp(a4, "exchange"))
			fl = RENAME_EXCHANGE;
		return result(renameat2(AT_FDCWD, p, AT_FDCWD, a3, fl));
	}
	if (!strcmp(op, "link") && a3)
		return result(link(p, a3));
	if (!strcmp(op, "symlink") && a3)
		return result(symlink(p, a3));
	if (!strcmp(op, "readlink")) {
		char buf[8192];
		ssize_t n = readlink(p, buf, sizeof buf - 1);
		if (n < 0)
			return fail(errno);
		buf[n] = 0;
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "mknod") && a3) {
		mode_t t = !strcmp(a3, "fifo") ? S_IFIFO : !strcmp(a3, "chr") ? S_IFCHR :
			   !strcmp(a3, "blk") ? S_IFBLK : S_IFREG;
		return result(mknod(p, t | (a4 ? (mode_t)num(a4) : 0644), makedev(1, 3)));
	}
	if (!strcmp(op, "open") && a3) {
		int fd = open(p, open_flags(a3), a4 ? (mode_t)num(a4) : 0644);
		if (fd < 0)
			return fail(errno);
		close(fd);
		printf("OK\n");
		return 0;
	}
	if (!strcmp(op, "create") && a3) {
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, (mode_t)num(a3));
		if (fd < 0)
			return fail(errno);
		if (fstat(fd, &st) < 0)
			return fail(errno);
		close(fd);
		printf("OK %o\n", (unsigned)(st.st_mode & 07777));
		return 0;
	}
	if (!strcmp(op, "truncate") && a3)
		return result(truncate(p, (off_t)num(a3)));
	if (!strcmp(op, "chmod") && a3)
		return result(chmod(p, (mode_t)num(a3)));
	if (!strcmp(op, "chown") && a4)
		return result(chown(p, (uid_t)strtol(a3, NULL, 0), (gid_t)strtol(a4, NULL, 0)));
	if (!strcmp(op, "access") && a3) {
		int m = 0;
		for (const char *c = a3; *c; c++)
			m |= *c == 'r' ? R_OK : *c == 'w' ? W_OK : *c == 'x' ? X_OK : F_OK;
		return result(access(p, m));
	}
	if (!strcmp(op, "stat")) {
		if (lstat(p, &st) < 0)
			return fail(errno);
		printf("OK %o %ju %u %u %jd\n", (unsigned)st.st_mode, (uintmax_t)st.st_nlink,
		       (unsigned)st.st_uid, (unsigned)st.st_gid, (intmax_t)st.st_size);
		return 0;
	}
	if (!strcmp(op, "utimens") && a4) {
		struct timespec ts[2];
		const char *v[2] = { a3, a4 };
		for (int i = 0; i < 2; i++) {
			ts[i].tv_sec = 0;
			ts[i].tv_nsec = !strcmp(v[i], "now") ? UTIME_NOW :
					!strcmp(v[i], "omit") ? UTIME_OMIT : 0;
			if (!ts[i].tv_nsec)
				ts[i].tv_sec = (time_t)strtoll(v[i], NULL, 0);
		}
		return result(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW));
	}
	if (!strcmp(op, "setxattr") && a4) {
		int fl = 0;
		if (argc > 5 && !strcmp(argv[5], "create"))
			fl = XATTR_CREATE;
		else if (argc > 5 && !strcmp(argv[5], "replace"))
			fl = XATTR_REPLACE;
		return result(lsetxattr(p, a3, a4, strlen(a4), fl));
	}
	if (!strcmp(op, "getxattr") && a3) {
		char buf[65536];
		ssize_t n = lgetxattr(p, a3, buf, sizeof buf - 1);
		if (n < 0)
			return fail(errno);
		buf[n] = 0;
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "getxattr-size") && a3) {
		ssize_t n = lgetxattr(p, a3, NULL, 0);
		if (n < 0)
			return fail(errno);
		char small[1];
		/* a buffer too small for a non-empty value is ERANGE */
		if (n > 1 && lgetxattr(p, a3, small, 1) >= 0) {
			printf("NO-ERANGE\n");
			return 1;
		}
		printf("OK %zd\n", n);
		return 0;
	}
	if (!strcmp(op, "listxattr")) {
		char buf[65536];
		ssize_t n = llistxattr(p, buf, sizeof buf);
		if (n < 0)
			return fail(errno);
		ssize_t probe = llistxattr(p, NULL, 0);
		if (probe != n) {
			printf("PROBE %zd != %zd\n", probe, n);
			return 1;
		}
		/* names in sorted order: the file system may list any order */
		const char *names[4096];
		size_t k = 0;
		for (ssize_t i = 0; i < n && k < 4096; i += (ssize_t)strlen(buf + i) + 1)
			names[k++] = buf + i;
		qsort(names, k, sizeof names[0], cmp_str);
		printf("OK");
		for (size_t i = 0; i < k; i++)
			printf(" %s", names[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(op, "removexattr") && a3)
		return result(lremovexattr(p, a3));
	if (!strcmp(op, "fallocate") && a4) {
		int mode = 0;
		if (argc > 5 && !strcmp(argv[5], "keep"))
			mode = FALLOC_FL_KEEP_SIZE;
		else if (argc > 5 && !strcmp(argv[5], "punch"))
			mode = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
		int fd = open(p, O_RDWR);
		if (fd < 0)
			return fail(errno);
		int rc = fallocate(fd, mode, (off_t)num(a3), (off_t)num(a4));
		int e = errno;
		close(fd);
		errno = e;
		return result(rc);
	}
	if (!strcmp(op, "seek") && a4) {
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return fail(errno);
		off_t r = lseek(fd, (off_t)num(a4), !strcmp(a3, "data") ? SEEK_DATA : SEEK_HOLE);
		if (r < 0)
			return fail(errno);
		close(fd);
		printf("OK %jd\n", (intmax_t)r);
		return 0;
	}
	if (!strcmp(op, "copyrange") && argc > 6) {
		int in = open(p, O_RDONLY), out = open(argv[4], O_WRONLY | O_CREAT, 0644);
		if (in < 0 || out < 0)
			return fail(errno);
		off_t ioff = (off_t)num(a3), ooff = (off_t)num(argv[5]);
		size_t len = (size_t)num(argv[6]), done = 0;
		while (done < len) {
			ssize_t n = copy_file_range(in, &ioff, out, &ooff, len - done, 0);
			if (n < 0)
				return fail(errno);
			if (n == 0)
				break;
			done += (size_t)n;
		}
		close(in);
		close(out);
		printf("OK %zu\n", done);
		return 0;
	}
	if (!strcmp(op, "write") && a4) {
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			return fail(errno);
		ssize_t n = pwrite(fd, a4, strlen(a4), (off_t)num(a3));
		if (n < 0)
			return fail(errno);
		close(fd);
		printf("OK %zd\n", n);
		return 0;
	}
	if (!strcmp(op, "read") && a4) {
		char buf[65536];
		size_t len = num(a4) < sizeof buf - 1 ? num(a4) : sizeof buf - 1;
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return fail(errno);
		ssize_t n = pread(fd, buf, len, (off_t)num(a3));
		if (n < 0)
			return fail(errno);
		buf[n] = 0;
		close(fd);
		printf("OK %zd %s\n", n, buf);
		return 0;
	}
	if (!strcmp(op, "ftruncate-ro")) {
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return fail(errno);
		return result(ftruncate(fd, 0));
	}
	if (!strcmp(op, "writesync") && a4) {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return fail(errno);
		if (write_pattern(fd, 0, num(a3), (unsigned)num(a4)) < 0 || fsync(fd) < 0)
			return fail(errno);
		close(fd);
		printf("OK\n");
		return 0;
	}
	if (!strcmp(op, "verify") && a4) {
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return fail(errno);
		if (fstat(fd, &st) < 0)
			return fail(errno);
		if ((unsigned long)st.st_size != num(a3)) {
			printf("SIZE %jd\n", (intmax_t)st.st_size);
			return 1;
		}
		int rc = check_pattern(fd, 0, num(a3), (unsigned)num(a4));
		if (rc < 0)
			return fail(errno);
		if (rc)
			return 1;
		close(fd);
		printf("OK\n");
		return 0;
	}
	if (!strcmp(op, "holdopen"))
		return op_holdopen(p);
	if (!strcmp(op, "ftrunc-unlinked"))
		return op_ftrunc_unlinked(p);
	fprintf(stderr, "fsop: unknown op or missing arguments: %s\n", op);
	return 2;
}
