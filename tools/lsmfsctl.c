/*
 * lsmfsctl.c — lsmfsctl: statistics and maintenance of an lsmfs store,
 * mounted or not.
 *
 *   lsmfsctl stat    STORE|MOUNTPOINT [--json] [--watch[=SECS]]
 *   lsmfsctl compact STORE|MOUNTPOINT
 *   lsmfsctl flush   STORE|MOUNTPOINT
 *   lsmfsctl sync    STORE|MOUNTPOINT
 *
 * Where the figures come from:
 *   - a mount point (the root of a mounted lsmfs), or a store that is
 *     mounted (found in /proc/self/mountinfo: the daemon mounts with
 *     fsname=STORE, type fuse.lsmfs): the running daemon, through the
 *     control channel of fs/fuse_ops.c — virtual xattrs on the mount root:
 *     reading lsmfs.stats gives a JSON document, writing lsmfs.compact,
 *     lsmfs.flush or lsmfs.sync runs that and returns when it is done;
 *   - a store that is not mounted: the store itself, opened with fs_mount
 *     (read-only for stat; for writing, which takes the engine lock, for
 *     compact / flush / sync).
 * Either way the figures land in one struct fs_stats and are printed the
 * same way (a table, or --json in the daemon's own schema plus "source").
 *
 * Invariants: stat never changes a store (read-only open, or a getxattr);
 * a store in use by another process is never opened for writing (the
 * engine lock refuses; the message names the holder).
 * Threads: single-threaded; SIGINT ends --watch.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "schema.h"

#define CTL_VERSION "0.1.0"
#define CTL_PREFIX "lsmfs."

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	fputs("lsmfsctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- a small JSON reader for the lsmfs.stats document ------------------------ */

/*
 * The document is flattened into "path = value" pairs: object members join
 * with '.', array elements by index ("engine.levels.2.bytes").  Only what
 * the daemon writes is needed: objects, arrays, numbers, strings, and
 * true/false/null for robustness.
 */
struct jpair {
	char path[128];
	char val[256];		/* numbers as written; strings decoded */
};

struct jdoc {
	struct jpair *p;
	size_t n, cap;
	const char *s;
	size_t pos, len;
	int err;
};

static void jskip(struct jdoc *d)
{
	while (d->pos < d->len && strchr(" \t\r\n", d->s[d->pos]))
		d->pos++;
}

static int jadd(struct jdoc *d, const char *path, const char *val)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct jpair *p = realloc(d->p, cap * sizeof(*p));
		if (!p)
			return -1;
		d->p = p;
		d->cap = cap;
	}
	snprintf(d->p[d->n].path, sizeof d->p[d->n].path, "%s", path);
	snprintf(d->p[d->n].val, sizeof d->p[d->n].val, "%s", val);
	d->n++;
	return 0;
}

static int jstring(struct jdoc *d, char *out, size_t outsz)
{
	size_t n = 0;
	if (d->pos >= d->len || d->s[d->pos] != '"')
		return -1;
	d->pos++;
	while (d->pos < d->len && d->s[d->pos] != '"') {
		char c = d->s[d->pos++];
		if (c == '\\') {
			if (d->pos >= d->len)
				return -1;
			c = d->s[d->pos++];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;
				for (int i = 0; i < 4; i++) {
					if (d->pos >= d->len)
						return -1;
					char h = d->s[d->pos++];
					v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10
							       : h >= 'A' ? h - 'A' + 10 : h - '0');
				}
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default: break;	/* \" \\ \/ */
			}
		}
		if (n + 1 < outsz)
			out[n++] = c;
	}
	if (d->pos >= d->len)
		return -1;
	d->pos++;
	out[n] = 0;
	return 0;
}

/* path + "." + part into out (sizeof(struct jpair.path)); -1 if too long. */
static int jjoin(char *out, const char *path, const char *part)
{
	size_t pl = strlen(path), ql = strlen(part);
	if (pl + ql + 2 > sizeof(((struct jpair *)0)->path))
		return -1;
	memcpy(out, path, pl);
	if (pl)
		out[pl++] = '.';
	memcpy(out + pl, part, ql + 1);
	return 0;
}

static int jvalue(struct jdoc *d, const char *path, int depth)
{
	char sub[sizeof(((struct jpair *)0)->path)], buf[256];
	if (depth > 16)
		return -1;
	jskip(d);
	if (d->pos >= d->len)
		return -1;
	char c = d->s[d->pos];
	if (c == '{' || c == '[') {
		bool obj = c == '{';
		d->pos++;
		for (size_t idx = 0;; idx++) {
			jskip(d);
			if (d->pos < d->len && d->s[d->pos] == (obj ? '}' : ']')) {
				d->pos++;
				return 0;
			}
			if (idx > 0) {
				if (d->pos >= d->len || d->s[d->pos] != ',')
					return -1;
				d->pos++;
				jskip(d);
			}
			if (obj) {
				if (jstring(d, buf, sizeof buf) < 0)
					return -1;
				jskip(d);
				if (d->pos >= d->len || d->s[d->pos] != ':')
					return -1;
				d->pos++;
				if (jjoin(sub, path, buf) < 0)
					return -1;
			} else {
				char num[24];
				snprintf(num, sizeof num, "%zu", idx);
				if (jjoin(sub, path, num) < 0)
					return -1;
			}
			if (jvalue(d, sub, depth + 1) < 0)
				return -1;
		}
	}
	if (c == '"') {
		if (jstring(d, buf, sizeof buf) < 0)
			return -1;
		return jadd(d, path, buf);
	}
	size_t start = d->pos;
	while (d->pos < d->len && !strchr(",}] \t\r\n", d->s[d->pos]))
		d->pos++;
	size_t n = d->pos - start;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, d->s + start, n);
	buf[n] = 0;
	return jadd(d, path, buf);
}

static const char *jget(const struct jdoc *d, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->p[i].path, path))
			return d->p[i].val;
	return NULL;
}

static uint64_t ju64(const struct jdoc *d, const char *path)
{
	const char *v = jget(d, path);
	return v ? strtoull(v, NULL, 10) : 0;
}

static double jdbl(const struct jdoc *d, const char *path)
{
	const char *v = jget(d, path);
	return v ? strtod(v, NULL) : 0;
}

/* Fill st from the daemon's document. */
static int stats_from_json(const char *doc, size_t len, fs_stats *st)
{
	struct jdoc d;
	memset(&d, 0, sizeof d);
	d.s = doc;
	d.len = len;
	memset(st, 0, sizeof *st);
	if (jvalue(&d, "", 0) < 0) {
		free(d.p);
		return -1;
	}
	st->inodes = ju64(&d, "fs.inodes");
	st->files = ju64(&d, "fs.files");
	st->dirs = ju64(&d, "fs.dirs");
	st->symlinks = ju64(&d, "fs.symlinks");
	st->specials = ju64(&d, "fs.specials");
	st->orphans = ju64(&d, "fs.orphans");
	st->open_handles = ju64(&d, "fs.open_handles");
	st->cached_inodes = ju64(&d, "fs.cached_inodes");
	st->next_ino = ju64(&d, "fs.next_ino");
	st->format_version = (uint32_t)ju64(&d, "superblock.format_version");
	st->block_size = (uint32_t)ju64(&d, "superblock.block_size");
	st->inline_max = (uint32_t)ju64(&d, "superblock.inline_max");
	st->compression = (int)ju64(&d, "superblock.compression");
	const char *cns = jget(&d, "superblock.created_ns");
	st->created_ns = cns ? strtoll(cns, NULL, 10) : 0;
	const char *label = jget(&d, "superblock.label");
	size_t ll = label ? strnlen(label, FS_LABEL_MAX) : 0;
	if (ll)
		memcpy(st->label, label, ll);
	st->label[ll] = 0;
	lsm_stats *e = &st->engine;
	int nl = 0;
	for (int i = 0; i < LSM_MAX_LEVELS; i++) {
		char p[64];
		snprintf(p, sizeof p, "engine.levels.%d.level", i);
		if (!jget(&d, p))
			break;
		nl = i + 1;
#define LV(f) do { snprintf(p, sizeof p, "engine.levels.%d." #f, i); \
		   e->level[i].f = ju64(&d, p); } while (0)
		LV(tables);
		LV(bytes);
		LV(entries);
		LV(tombstones);
		LV(range_tombstones);
#undef LV
	}
	e->num_levels = nl;
#define EU(f) e->f = ju64(&d, "engine." #f)
	EU(user_bytes_written);
	EU(wal_bytes_written);
	EU(flush_bytes_written);
	EU(compaction_bytes_written);
	EU(compaction_bytes_read);
	EU(disk_bytes);
	EU(live_bytes_estimate);
	EU(flushes);
	EU(compactions);
	EU(compactions_running);
	EU(trivial_moves);
	EU(entries_dropped);
	EU(tombstones_dropped);
	EU(range_tombstones_dropped);
	EU(gc_cutoff);
	EU(last_seq);
	EU(snapshots);
	EU(bytes_held_by_cutoff);
	EU(write_slowdowns);
	EU(write_stalls);
	EU(memtable_bytes);
	EU(block_cache_bytes);
	EU(block_cache_hits);
	EU(block_cache_misses);
#undef EU
	e->write_amp = jdbl(&d, "engine.write_amp");
	e->space_amp = jdbl(&d, "engine.space_amp");
	const char *be = jget(&d, "engine.background_error");
	e->background_error = be ? atoi(be) : 0;
	free(d.p);
	return 0;
}

/* ---- where the store is --------------------------------------------------------- */

struct target {
	const char *arg;
	char mnt[PATH_MAX];	/* the mount root, when live */
	bool live;
};

/* Undo the octal escapes of /proc/self/mountinfo ("\040" for a space). */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
}

/* The mount point of store (an absolute path) if a daemon has it mounted. */
static bool find_mount_of(const char *store, char *mnt, size_t mntsz)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [tags] - fstype source superopts */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char fstype[64], source[PATH_MAX], mp[PATH_MAX];
		if (sscanf(sep + 3, "%63s %4095s", fstype, source) != 2 ||
		    strcmp(fstype, "fuse.lsmfs") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		unescape(source);
		unescape(mp);
		if (!strcmp(source, store)) {
			snprintf(mnt, mntsz, "%s", mp);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static int resolve(const char *arg, struct target *t)
{
	memset(t, 0, sizeof *t);
	t->arg = arg;
	/* The root of a mount answers the control channel. */
	if (getxattr(arg, CTL_PREFIX "stats", NULL, 0) >= 0) {
		snprintf(t->mnt, sizeof t->mnt, "%s", arg);
		t->live = true;
		return 0;
	}
	struct stat st;
	if (stat(arg, &st) < 0) {
		warn("%s: %s", arg, strerror(errno));
		return -errno;
	}
	char abs[PATH_MAX], cur[PATH_MAX + 16];
	if (S_ISDIR(st.st_mode) && realpath(arg, abs)) {
		snprintf(cur, sizeof cur, "%s/CURRENT", abs);
		if (access(cur, F_OK) == 0) {
			if (find_mount_of(abs, t->mnt, sizeof t->mnt) &&
			    getxattr(t->mnt, CTL_PREFIX "stats", NULL, 0) >= 0)
				t->live = true;
			return 0;
		}
	}
	warn("%s is neither an lsmfs store nor the root of a mounted lsmfs", arg);
	return -EINVAL;
}

/* ---- getting the figures ---------------------------------------------------------- */

static int stats_live(const struct target *t, fs_stats *st)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		ssize_t n = getxattr(t->mnt, CTL_PREFIX "stats", NULL, 0);
		if (n < 0)
			break;
		char *buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		ssize_t got = getxattr(t->mnt, CTL_PREFIX "stats", buf, (size_t)n);
		if (got < 0 && errno == ERANGE) {
			free(buf);
			continue;	/* grew between the two calls */
		}
		if (got < 0) {
			free(buf);
			break;
		}
		int rc = stats_from_json(buf, (size_t)got, st);
		free(buf);
		if (rc < 0) {
			warn("%s: the daemon's lsmfs.stats is not the JSON expected", t->mnt);
			return -EINVAL;
		}
		return 0;
	}
	warn("%s: reading lsmfs.stats: %s", t->mnt, strerror(errno));
	return -errno;
}

static int stats_store(const struct target *t, fs_stats *st)
{
	fs_mount_opts mo;
	lsmfs *fs = NULL;
	fs_mount_opts_init(&mo);
	mo.read_only = true;
	int rc = fs_mount(t->arg, &mo, &fs);
	if (rc < 0) {
		warn("%s: %s%s%s", t->arg, fs_strerror(rc), *fs_errdetail() ? ": " : "",
		     fs_errdetail());
		return rc;
	}
	rc = fs_stats_get(fs, st);
	if (rc < 0)
		warn("%s: %s", t->arg, fs_errdetail());
	fs_unmount(fs);
	return rc;
}

/* ---- printing ---------------------------------------------------------------------- */

static const char *human(uint64_t b, char *buf, size_t n)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, n, "%" PRIu64 " B", b);
	else
		snprintf(buf, n, "%.1f %s", v, u[i]);
	return buf;
}

static void print_table(const struct target *t, const fs_stats *s)
{
	const lsm_stats *e = &s->engine;
	char h1[32], h2[32], h3[32], h4[32];
	char comp[32], when[64] = "?";
	if (s->compression)
		snprintf(comp, sizeof comp, "zstd:%d", s->compression);
	else
		snprintf(comp, sizeof comp, "off");
	time_t ct = (time_t)(s->created_ns / 1000000000);
	struct tm tm;
	if (s->created_ns && localtime_r(&ct, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);

	printf("%s: %s\n", t->arg,
	       t->live ? "mounted; live figures from the daemon"
		       : "not mounted; figures read from the store");
	printf("  label \"%s\", format %u, block size %u, inline up to %u bytes, "
	       "compression %s, created %s\n",
	       s->label, s->format_version, s->block_size, s->inline_max, comp, when);
	printf("\nInodes: %" PRIu64 " (%" PRIu64 " files, %" PRIu64 " directories, %" PRIu64
	       " symlinks, %" PRIu64 " special)\n",
	       s->inodes, s->files, s->dirs, s->symlinks, s->specials);
	printf("        %" PRIu64 " orphans, %" PRIu64 " open handles, next inode %" PRIu64 "\n",
	       s->orphans, s->open_handles, s->next_ino);

	printf("\n%-6s %8s %12s %12s %12s %10s\n", "Level", "Tables", "Bytes", "Entries",
	       "Tombstones", "RangeDels");
	lsm_level_stats tot;
	memset(&tot, 0, sizeof tot);
	for (int i = 0; i < e->num_levels && i < LSM_MAX_LEVELS; i++) {
		const lsm_level_stats *l = &e->level[i];
		printf("L%-5d %8" PRIu64 " %12s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", i,
		       l->tables, human(l->bytes, h1, sizeof h1), l->entries, l->tombstones,
		       l->range_tombstones);
		tot.tables += l->tables;
		tot.bytes += l->bytes;
		tot.entries += l->entries;
		tot.tombstones += l->tombstones;
		tot.range_tombstones += l->range_tombstones;
	}
	printf("%-6s %8" PRIu64 " %12s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", "Total",
	       tot.tables, human(tot.bytes, h1, sizeof h1), tot.entries, tot.tombstones,
	       tot.range_tombstones);

	printf("\nWrite amplification %.2f: user %s; WAL %s, flush %s, compaction %s\n",
	       e->write_amp, human(e->user_bytes_written, h1, sizeof h1),
	       human(e->wal_bytes_written, h2, sizeof h2),
	       human(e->flush_bytes_written, h3, sizeof h3),
	       human(e->compaction_bytes_written, h4, sizeof h4));
	printf("Space amplification %.2f: on disk %s, live data about %s\n", e->space_amp,
	       human(e->disk_bytes, h1, sizeof h1), human(e->live_bytes_estimate, h2, sizeof h2));
	printf("Flushes %" PRIu64 "; compactions %" PRIu64 " (%" PRIu64 " running, %" PRIu64
	       " trivial moves), read %s, wrote %s\n",
	       e->flushes, e->compactions, e->compactions_running, e->trivial_moves,
	       human(e->compaction_bytes_read, h1, sizeof h1),
	       human(e->compaction_bytes_written, h2, sizeof h2));
	printf("Dropped by compaction: %" PRIu64 " entries, %" PRIu64 " tombstones, %" PRIu64
	       " range tombstones\n",
	       e->entries_dropped, e->tombstones_dropped, e->range_tombstones_dropped);
	printf("GC cutoff: sequence %" PRIu64 " (last %" PRIu64 ", %" PRIu64
	       " snapshots pinned); holds back %s\n",
	       e->gc_cutoff, e->last_seq, e->snapshots,
	       human(e->bytes_held_by_cutoff, h1, sizeof h1));
	printf("Memtable %s; block cache %s (%" PRIu64 " hits, %" PRIu64 " misses)\n",
	       human(e->memtable_bytes, h1, sizeof h1), human(e->block_cache_bytes, h2, sizeof h2),
	       e->block_cache_hits, e->block_cache_misses);
	printf("Write slowdowns %" PRIu64 ", stalls %" PRIu64 "; background error: %s\n",
	       e->write_slowdowns, e->write_stalls,
	       e->background_error ? lsm_strerror(e->background_error) : "none");
}

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_json(const struct target *t, const fs_stats *s)
{
	const lsm_stats *e = &s->engine;
	printf("{\n  \"source\": \"%s\",\n  \"path\": ", t->live ? "live" : "store");
	json_str(t->arg);
	printf(",\n  \"fs\": {\"inodes\": %" PRIu64 ", \"files\": %" PRIu64 ", \"dirs\": %" PRIu64
	       ", \"symlinks\": %" PRIu64 ", \"specials\": %" PRIu64 ", \"orphans\": %" PRIu64
	       ", \"open_handles\": %" PRIu64 ", \"next_ino\": %" PRIu64 "},\n",
	       s->inodes, s->files, s->dirs, s->symlinks, s->specials, s->orphans,
	       s->open_handles, s->next_ino);
	printf("  \"superblock\": {\"format_version\": %" PRIu32 ", \"block_size\": %" PRIu32
	       ", \"inline_max\": %" PRIu32 ", \"compression\": %d, \"created_ns\": %" PRId64
	       ", \"label\": ",
	       s->format_version, s->block_size, s->inline_max, s->compression, s->created_ns);
	json_str(s->label);
	printf("},\n  \"engine\": {\n    \"levels\": [");
	for (int i = 0; i < e->num_levels && i < LSM_MAX_LEVELS; i++) {
		const lsm_level_stats *l = &e->level[i];
		printf("%s\n      {\"level\": %d, \"tables\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"entries\": %" PRIu64 ", \"tombstones\": %" PRIu64
		       ", \"range_tombstones\": %" PRIu64 "}",
		       i ? "," : "", i, l->tables, l->bytes, l->entries, l->tombstones,
		       l->range_tombstones);
	}
	printf("],\n");
#define U(f) printf("    \"" #f "\": %" PRIu64 ",\n", e->f)
	U(user_bytes_written);
	U(wal_bytes_written);
	U(flush_bytes_written);
	U(compaction_bytes_written);
	U(compaction_bytes_read);
	printf("    \"write_amp\": %.3f,\n    \"space_amp\": %.3f,\n", e->write_amp, e->space_amp);
	U(disk_bytes);
	U(live_bytes_estimate);
	U(flushes);
	U(compactions);
	U(compactions_running);
	U(trivial_moves);
	U(entries_dropped);
	U(tombstones_dropped);
	U(range_tombstones_dropped);
	U(gc_cutoff);
	U(last_seq);
	U(snapshots);
	U(bytes_held_by_cutoff);
	U(write_slowdowns);
	U(write_stalls);
	U(memtable_bytes);
	U(block_cache_bytes);
	U(block_cache_hits);
	U(block_cache_misses);
#undef U
	printf("    \"background_error\": %d\n  }\n}\n", e->background_error);
}

/* ---- commands ------------------------------------------------------------------------ */

static int cmd_stat(const struct target *t, bool json, double watch)
{
	for (;;) {
		fs_stats st;
		int rc = t->live ? stats_live(t, &st) : stats_store(t, &st);
		if (rc < 0)
			return 1;
		if (watch > 0 && !json && isatty(1))
			printf("\033[H\033[2J");
		if (json)
			print_json(t, &st);
		else
			print_table(t, &st);
		fflush(stdout);
		if (watch <= 0)
			return 0;
		struct timespec ts = { (time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9) };
		while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (stop)
			return 0;
		if (!json)
			printf("\n");
	}
}

/* compact / flush / sync */
static int cmd_maint(const struct target *t, const char *what)
{
	if (t->live) {
		char name[64];
		snprintf(name, sizeof name, CTL_PREFIX "%s", what);
		if (setxattr(t->mnt, name, "1", 1, 0) < 0) {
			warn("%s: %s: %s%s", t->mnt, what, strerror(errno),
			     errno == EPERM ? " (only root may)" : "");
			return 1;
		}
		return 0;
	}
	fs_mount_opts mo;
	lsmfs *fs = NULL;
	fs_mount_opts_init(&mo);
	int rc = fs_mount(t->arg, &mo, &fs);
	if (rc == LSM_E_LOCKED) {
		warn("%s is in use (%s); run lsmfsctl on its mount point", t->arg, fs_errdetail());
		return 1;
	}
	if (rc < 0) {
		warn("%s: %s%s%s", t->arg, fs_strerror(rc), *fs_errdetail() ? ": " : "",
		     fs_errdetail());
		return 1;
	}
	if (!strcmp(what, "compact"))
		rc = fs_compact(fs);
	else if (!strcmp(what, "flush"))
		rc = fs_flush_engine(fs, true);
	else
		rc = fs_sync(fs);
	if (rc < 0)
		warn("%s: %s: %s", t->arg, what, fs_errdetail());
	int urc = fs_unmount(fs);
	if (rc == 0 && urc < 0) {
		warn("%s: closing: %s", t->arg, fs_errdetail());
		rc = urc;
	}
	return rc < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: lsmfsctl stat STORE|MOUNTPOINT [--json] [--watch[=SECS]]\n"
"       lsmfsctl compact STORE|MOUNTPOINT\n"
"       lsmfsctl flush STORE|MOUNTPOINT\n"
"       lsmfsctl sync STORE|MOUNTPOINT\n"
"\n"
"NAME\n"
"    lsmfsctl - statistics and maintenance of an lsmfs file system\n"
"\n"
"DESCRIPTION\n"
"    lsmfsctl works on a mounted lsmfs (give its mount point, or its store:\n"
"    a mounted store is found in /proc/self/mountinfo) through the daemon's\n"
"    control channel, the virtual extended attributes lsmfs.stats,\n"
"    lsmfs.compact, lsmfs.flush and lsmfs.sync of the mount's root (see\n"
"    lsmfs(1)); and on a store that is not mounted by opening it itself.\n"
"\n"
"COMMANDS\n"
"    stat     Print the file system and engine figures: label, block size,\n"
"             compression; counts of inodes, files, directories, symlinks,\n"
"             orphans and open handles; per level the tables, bytes, entries,\n"
"             tombstones and range tombstones; write and space\n"
"             amplification; flush and compaction counters; the garbage\n"
"             collection cutoff (the oldest sequence an open handle or\n"
"             snapshot pins) and the bytes it holds back; cache figures.\n"
"             For a mounted store the figures are live; for one that is not\n"
"             mounted they are read from disk (counters of activity start\n"
"             at zero).  The store is only read.\n"
"    compact  Compact the whole store down to its last level, reclaiming the\n"
"             space of deleted and overwritten data, and wait until done.\n"
"    flush    Write the engine's memory table to a table on disk and wait.\n"
"    sync     Make everything written so far durable.\n"
"             compact, flush and sync need root on a mounted store; on a\n"
"             store that is not mounted they take the store's lock.\n"
"\n"
"OPTIONS\n"
"    --json         stat: print one JSON document (the schema of the\n"
"                   daemon's lsmfs.stats, plus \"source\": \"live\" or \"store\").\n"
"    --watch[=SECS] stat: print again every SECS seconds (default 2) until\n"
"                   interrupted.\n"
"    -h, --help     Print this help and exit.\n"
"    -V, --version  Print the version and exit.\n"
"\n"
"EXIT STATUS\n"
"    0 on success, 1 on failure, 2 on a usage error.\n"
"\n"
"EXAMPLES\n"
"    lsmfsctl stat /mnt/data\n"
"    lsmfsctl stat --watch=1 /srv/store\n"
"    lsmfsctl compact /mnt/data\n"
"\n"
"SEE ALSO\n"
"    lsmfs(1), mkfs.lsmfs(8), fsck.lsmfs(8)\n");
}

int main(int argc, char **argv)
{
	bool json = false;
	double watch = 0;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			watch = 2;
			if (optarg) {
				char *end;
				watch = strtod(optarg, &end);
				if (*end || watch <= 0 || watch > 86400) {
					warn("--watch=%s: want a number of seconds", optarg);
					return 2;
				}
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lsmfsctl %s (lsmfs format %d)\n", CTL_VERSION, FS_FORMAT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind], *path = argv[optind + 1];
	bool is_stat = !strcmp(cmd, "stat");
	if (!is_stat && strcmp(cmd, "compact") && strcmp(cmd, "flush") && strcmp(cmd, "sync")) {
		warn("unknown command '%s'", cmd);
		usage(stderr);
		return 2;
	}
	if (!is_stat && (json || watch > 0)) {
		warn("--json and --watch go with stat only");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct target t;
	if (resolve(path, &t) < 0)
		return 1;
	return is_stat ? cmd_stat(&t, json, watch) : cmd_maint(&t, cmd);
}
