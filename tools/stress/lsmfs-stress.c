/*
 * lsmfs-stress — a data-verifying stress tool for any mounted filesystem.
 *
 * It keeps an in-memory shadow copy of each test file and applies the same
 * random operations to the file and to the shadow: writes (pwrite, also
 * O_APPEND-style at the end), truncates (shrink and grow), hole punches and
 * zero ranges (fallocate), preallocation, mmap writes, and reads.  After
 * every operation it reads back the changed range (and, every N operations
 * and at the end, the whole file) and compares it with the shadow; fstat's
 * size must match too.  Any difference is reported with the operation log
 * and the first differing byte, and the tool exits 1.
 *
 *   lsmfs-stress [options] DIR
 *     -n OPS       operations per file (default 10000)
 *     -f FILES     files worked on at once (default 4)
 *     -s SIZE      maximum file size in bytes (default 8 MiB)
 *     -S SEED      random seed (default: time)
 *     -m           no mmap writes
 *     -p           no fallocate (punch/zero/prealloc)
 *     -c CMD       after every -C ops, close everything, run CMD (e.g. a
 *                  remount script), reopen and verify the whole files
 *     -C OPS       remount interval (default 2000)
 *     -k           keep the files at the end
 *     -v           print every operation
 *
 * Exit: 0 all operations verified, 1 a mismatch or an unexpected error,
 * 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tfile {
	char *path;
	int fd;
	unsigned char *shadow;
	size_t size;
};

static struct {
	size_t max_size;
	uint64_t ops;
	int files;
	uint64_t seed;
	bool no_mmap, no_falloc, keep, verbose;
	const char *remount_cmd;
	uint64_t remount_every;
} cfg = { 8u << 20, 10000, 4, 0, false, false, false, false, NULL, 2000 };

static uint64_t rng_state;
static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

#define LOG_RING 32
static char oplog[LOG_RING][160];
static uint64_t opno;
static uint64_t stats[16];
enum { S_WRITE, S_APPEND, S_TRUNC, S_PUNCH, S_ZERO, S_PREALLOC, S_MMAP, S_READ,
       S_VERIFY, S_REMOUNT };
static const char *const stat_names[] = { "write", "append", "truncate", "punch",
	"zero-range", "prealloc", "mmap-write", "read", "full-verify", "remount" };

static void logop(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(oplog[opno % LOG_RING], sizeof oplog[0], fmt, ap);
	va_end(ap);
	if (cfg.verbose)
		printf("%8" PRIu64 " %s\n", opno, oplog[opno % LOG_RING]);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "lsmfs-stress: FAILED at operation %" PRIu64 " (seed %" PRIu64 "): ",
		opno, cfg.seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nlast operations:\n");
	uint64_t from = opno >= LOG_RING ? opno - LOG_RING + 1 : 0;
	for (uint64_t i = from; i <= opno; i++)
		fprintf(stderr, "  %8" PRIu64 " %s\n", i, oplog[i % LOG_RING]);
	exit(1);
}

static void grow_shadow(struct tfile *t, size_t size)
{
	if (size > t->size) {
		unsigned char *p = realloc(t->shadow, size);
		if (!p)
			die("out of memory");
		memset(p + t->size, 0, size - t->size);
		t->shadow = p;
	}
	t->size = size;
}

static void check_range(struct tfile *t, size_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	struct stat st;
	if (!buf)
		die("out of memory");
	if (fstat(t->fd, &st) < 0)
		die("%s: fstat: %s", t->path, strerror(errno));
	if ((size_t)st.st_size != t->size)
		die("%s: size is %lld, expected %zu", t->path, (long long)st.st_size, t->size);
	size_t end = off + len > t->size ? t->size : off + len;
	size_t want = end > off ? end - off : 0;
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(t->fd, buf + got, want - got, (off_t)(off + got));
		if (r < 0)
			die("%s: pread(%zu, %zu): %s", t->path, off + got, want - got, strerror(errno));
		if (r == 0)
			die("%s: early end of file at %zu (size %zu)", t->path, off + got, t->size);
		got += (size_t)r;
	}
	for (size_t i = 0; i < want; i++)
		if (buf[i] != t->shadow[off + i])
			die("%s: byte %zu is 0x%02x, expected 0x%02x", t->path, off + i, buf[i],
			    t->shadow[off + i]);
	/* reading past the end returns nothing */
	if (pread(t->fd, buf, 1, (off_t)t->size) != 0)
		die("%s: read past the end returned data", t->path);
	free(buf);
}

static void fill(unsigned char *p, size_t n)
{
	uint64_t x = rnd();
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

static size_t pick_len(void)
{
	/* mostly small, sometimes large, sometimes block-unaligned */
	switch (rnd_below(4)) {
	case 0: return 1 + rnd_below(64);
	case 1: return 1 + rnd_below(4096);
	case 2: return 4096 * (1 + rnd_below(16));
	default: return 1 + rnd_below(cfg.max_size / 8);
	}
}

static void op_write(struct tfile *t, bool append)
{
	size_t off = append ? t->size : rnd_below(cfg.max_size);
	size_t len = pick_len();
	if (off + len > cfg.max_size)
		len = cfg.max_size > off ? cfg.max_size - off : 0;
	if (!len)
		return;
	unsigned char *buf = malloc(len);
	fill(buf, len);
	logop("%s %s off=%zu len=%zu", append ? "append" : "write", t->path, off, len);
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(t->fd, buf + done, len - done, (off_t)(off + done));
		if (r < 0)
			die("%s: pwrite: %s", t->path, strerror(errno));
		done += (size_t)r;
	}
	grow_shadow(t, off + len > t->size ? off + len : t->size);
	memcpy(t->shadow + off, buf, len);
	free(buf);
	stats[append ? S_APPEND : S_WRITE]++;
	check_range(t, off, len);
}

static void op_truncate(struct tfile *t)
{
	size_t size = rnd_below(4) == 0 ? 0 : rnd_below(cfg.max_size);
	logop("truncate %s size=%zu (was %zu)", t->path, size, t->size);
	if (ftruncate(t->fd, (off_t)size) < 0)
		die("%s: ftruncate: %s", t->path, strerror(errno));
	if (size < t->size)
		t->size = size;
	else
		grow_shadow(t, size);
	stats[S_TRUNC]++;
	size_t from = size > 8192 ? size - 8192 : 0;
	check_range(t, from, size - from);
}

static void op_falloc(struct tfile *t)
{
	int kind = (int)rnd_below(3);
	size_t off = rnd_below(t->size ? t->size : 1);
	size_t len = pick_len();
	int mode;
	if (kind == 0)
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (kind == 1)
		mode = FALLOC_FL_ZERO_RANGE | (rnd_below(2) ? FALLOC_FL_KEEP_SIZE : 0);
	else {
		mode = rnd_below(2) ? FALLOC_FL_KEEP_SIZE : 0;
		off = rnd_below(cfg.max_size);
	}
	if (off + len > cfg.max_size)
		len = cfg.max_size - off;
	if (!len)
		return;
	logop("fallocate %s mode=%#x off=%zu len=%zu", t->path, mode, off, len);
	if (fallocate(t->fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP) {
			cfg.no_falloc = true;
			return;
		}
		die("%s: fallocate(%#x, %zu, %zu): %s", t->path, mode, off, len, strerror(errno));
	}
	size_t end = off + len;
	if (kind < 2) {
		size_t zend = end < t->size ? end : t->size;
		if (off < zend)
			memset(t->shadow + off, 0, zend - off);
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > t->size)
			grow_shadow(t, end);
		stats[kind == 0 ? S_PUNCH : S_ZERO]++;
	} else {
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > t->size)
			grow_shadow(t, end);
		stats[S_PREALLOC]++;
	}
	check_range(t, off, len);
}

static void op_mmap(struct tfile *t)
{
	if (t->size == 0)
		return;
	size_t off = rnd_below(t->size);
	size_t len = 1 + rnd_below(t->size - off < 65536 ? t->size - off : 65536);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t moff = off & ~(page - 1);
	logop("mmap-write %s off=%zu len=%zu", t->path, off, len);
	unsigned char *m = mmap(NULL, off - moff + len, PROT_READ | PROT_WRITE, MAP_SHARED,
				t->fd, (off_t)moff);
	if (m == MAP_FAILED) {
		if (errno == ENODEV || errno == EINVAL) {
			cfg.no_mmap = true;
			return;
		}
		die("%s: mmap: %s", t->path, strerror(errno));
	}
	unsigned char *buf = malloc(len);
	fill(buf, len);
	memcpy(m + (off - moff), buf, len);
	if (msync(m, off - moff + len, MS_SYNC) < 0)
		die("%s: msync: %s", t->path, strerror(errno));
	munmap(m, off - moff + len);
	memcpy(t->shadow + off, buf, len);
	free(buf);
	stats[S_MMAP]++;
	check_range(t, off, len);
}

static void op_read(struct tfile *t)
{
	size_t off = rnd_below(t->size + 100);
	size_t len = pick_len();
	logop("read %s off=%zu len=%zu", t->path, off, len);
	stats[S_READ]++;
	check_range(t, off, len);
}

static void open_all(struct tfile *ts, bool create)
{
	for (int i = 0; i < cfg.files; i++) {
		ts[i].fd = open(ts[i].path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0644);
		if (ts[i].fd < 0)
			die("%s: open: %s", ts[i].path, strerror(errno));
	}
}

static void close_all(struct tfile *ts)
{
	for (int i = 0; i < cfg.files; i++) {
		if (fsync(ts[i].fd) < 0)
			die("%s: fsync: %s", ts[i].path, strerror(errno));
		if (close(ts[i].fd) < 0)
			die("%s: close: %s", ts[i].path, strerror(errno));
		ts[i].fd = -1;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: lsmfs-stress [-n OPS] [-f FILES] [-s SIZE] [-S SEED] [-m] [-p] "
			"[-c CMD [-C OPS]] [-k] [-v] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	cfg.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	while ((c = getopt(argc, argv, "n:f:s:S:mpc:C:kvh")) != -1) {
		switch (c) {
		case 'n': cfg.ops = strtoull(optarg, NULL, 0); break;
		case 'f': cfg.files = atoi(optarg); break;
		case 's': cfg.max_size = strtoull(optarg, NULL, 0); break;
		case 'S': cfg.seed = strtoull(optarg, NULL, 0); break;
		case 'm': cfg.no_mmap = true; break;
		case 'p': cfg.no_falloc = true; break;
		case 'c': cfg.remount_cmd = optarg; break;
		case 'C': cfg.remount_every = strtoull(optarg, NULL, 0); break;
		case 'k': cfg.keep = true; break;
		case 'v': cfg.verbose = true; break;
		default: usage();
		}
	}
	if (optind + 1 != argc || cfg.files < 1 || cfg.max_size < 4096 || !cfg.remount_every)
		usage();
	rng_state = cfg.seed ? cfg.seed : 1;
	printf("lsmfs-stress: seed %" PRIu64 ", %d files, %" PRIu64 " ops each, max size %zu\n",
	       cfg.seed, cfg.files, cfg.ops, cfg.max_size);
	struct tfile *ts = calloc((size_t)cfg.files, sizeof *ts);
	for (int i = 0; i < cfg.files; i++)
		if (asprintf(&ts[i].path, "%s/stress.%d", argv[optind], i) < 0)
			die("out of memory");
	open_all(ts, true);
	uint64_t total = cfg.ops * (uint64_t)cfg.files;
	for (opno = 1; opno <= total; opno++) {
		struct tfile *t = &ts[rnd_below((uint64_t)cfg.files)];
		uint64_t r = rnd_below(100);
		if (r < 30)
			op_write(t, false);
		else if (r < 40)
			op_write(t, true);
		else if (r < 48)
			op_truncate(t);
		else if (r < 60 && !cfg.no_falloc)
			op_falloc(t);
		else if (r < 68 && !cfg.no_mmap)
			op_mmap(t);
		else
			op_read(t);
		if (opno % 500 == 0) {
			logop("verify %s whole (%zu bytes)", t->path, t->size);
			check_range(t, 0, t->size);
			stats[S_VERIFY]++;
		}
		if (cfg.remount_cmd && opno % cfg.remount_every == 0) {
			logop("remount: %s", cfg.remount_cmd);
			close_all(ts);
			int rc = system(cfg.remount_cmd);
			if (rc != 0)
				die("remount command failed (%d)", rc);
			open_all(ts, false);
			for (int i = 0; i < cfg.files; i++)
				check_range(&ts[i], 0, ts[i].size);
			stats[S_REMOUNT]++;
		}
	}
	opno = total;
	for (int i = 0; i < cfg.files; i++) {
		check_range(&ts[i], 0, ts[i].size);
		close(ts[i].fd);
		if (!cfg.keep)
			unlink(ts[i].path);
		free(ts[i].path);
		free(ts[i].shadow);
	}
	free(ts);
	printf("lsmfs-stress: %" PRIu64 " operations verified:", total);
	for (int i = 0; i <= S_REMOUNT; i++)
		printf(" %s %" PRIu64 "%s", stat_names[i], stats[i], i == S_REMOUNT ? "\n" : ",");
	return 0;
}
