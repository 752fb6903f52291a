/*
 * mkfs.c — mkfs.lsmfs: create an lsmfs file system in a store directory,
 * optionally filled from an existing tree (-d), as mke2fs -d does.
 *
 *   mkfs.lsmfs [-b SIZE] [-O opt[,opt...]] [-L LABEL] [-E root_owner=U:G]
 *              [-d DIR] [-F] [-q] STORE
 *
 * The empty file system (superblock, root) is made by the core's fs_mkfs.
 * Filling it (-d) does not go through the write path: every record of the
 * tree (inodes, entries, data blocks, symlink targets, xattrs, and the
 * superblock with its counters) is encoded with the schema.h encoders,
 * gathered, sorted, written into sorted tables with lsm_sst_writer (keys in
 * strictly increasing order) and added with one lsm_ingest that also
 * excises everything the store held before.  The tables land in the last
 * level as they are: nothing is rewritten by compaction, and a copy costs
 * one write of the data.  -F over an existing store uses the same ingest
 * to drop the old contents at once.
 *
 * Invariants of what -d writes (the core's, fs/file.c and fs/dir.c):
 *   - inode numbers from 2 in the order the tree is walked; the root is 1;
 *     the superblock's next_ino is above all of them;
 *   - regular files up to the inline limit keep their data in the inode
 *     (FS_IF_INLINE); larger ones have one B key per block holding data;
 *     holes and all-zero blocks get no key (they read as zeros), so
 *     nblocks counts the keys and maxblk is one past the last;
 *   - the last block's value stops at the end of the file (no byte past
 *     EOF is stored);
 *   - nlink counts the names inside the tree (directories: 2 + subdirs);
 *     hard links are found by (st_dev, st_ino);
 *   - FS_IF_XATTR is set exactly on inodes that get X keys.
 * Key order of the output: B < D < I < L < S < X (the type letters); B keys
 * are streamed file by file in inode order (so data is never held in
 * memory), the other kinds are gathered and sorted.
 *
 * Threads: single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "schema.h"

#define MKFS_VERSION "0.1.0"
#define SST_TARGET (64u << 20)	/* bytes of keys and values per ingested table */

static const char *prog = "mkfs.lsmfs";
static bool quiet;

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the gathered tree ------------------------------------------------------ */

struct mk_inode {
	uint64_t ino;
	fs_attr a;
	char *path;		/* regular files: where the data is */
	char *target;		/* symlinks */
};

struct mk_rec {			/* a D or X record */
	char *key;
	size_t klen;
	char *val;
	size_t vlen;
};

struct hl_slot {		/* hard links: source (dev, ino) -> our ino */
	dev_t dev;
	ino_t ino;
	uint64_t ours;		/* 0: empty slot */
};

struct tree {
	struct mk_inode *inodes;	/* index ino - 1 */
	size_t ninodes, icap;
	struct mk_rec *dents, *xattrs;
	size_t ndents, dcap, nxattrs, xcap;
	struct hl_slot *hl;
	size_t hlcap, hlcount;
	uint64_t data_bytes;	/* bytes of block files, for the progress bar */
	uint64_t counts[4];	/* files, dirs, symlinks, specials */
	uint32_t bs, inline_max;
	int skipped;		/* things that could not be copied */
};

static struct mk_inode *tree_new_inode(struct tree *t)
{
	if (t->ninodes == t->icap) {
		size_t cap = t->icap ? t->icap * 2 : 256;
		struct mk_inode *n = realloc(t->inodes, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->inodes = n;
		t->icap = cap;
	}
	struct mk_inode *mi = &t->inodes[t->ninodes];
	memset(mi, 0, sizeof *mi);
	mi->ino = ++t->ninodes;	/* the root is 1 */
	return mi;
}

static int rec_add(struct mk_rec **v, size_t *n, size_t *cap, const char *k, size_t kl,
		   const void *val, size_t vl)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct mk_rec *p = realloc(*v, c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	struct mk_rec *r = &(*v)[*n];
	r->key = malloc(kl);
	r->val = malloc(vl ? vl : 1);
	if (!r->key || !r->val) {
		free(r->key);
		free(r->val);
		return -ENOMEM;
	}
	memcpy(r->key, k, kl);
	memcpy(r->val, val, vl);
	r->klen = kl;
	r->vlen = vl;
	(*n)++;
	return 0;
}

static size_t hl_hash(dev_t d, ino_t i, size_t cap)
{
	uint64_t h = ((uint64_t)d * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)i * 0xC2B2AE3D27D4EB4Full);
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static uint64_t hl_find(const struct tree *t, dev_t d, ino_t i)
{
	if (!t->hlcap)
		return 0;
	for (size_t s = hl_hash(d, i, t->hlcap);; s = (s + 1) & (t->hlcap - 1)) {
		if (!t->hl[s].ours)
			return 0;
		if (t->hl[s].dev == d && t->hl[s].ino == i)
			return t->hl[s].ours;
	}
}

static int hl_add(struct tree *t, dev_t d, ino_t i, uint64_t ours)
{
	if ((t->hlcount + 1) * 2 > t->hlcap) {
		size_t cap = t->hlcap ? t->hlcap * 2 : 256;
		struct hl_slot *n = calloc(cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (size_t s = 0; s < t->hlcap; s++) {
			if (!t->hl[s].ours)
				continue;
			size_t p = hl_hash(t->hl[s].dev, t->hl[s].ino, cap);
			while (n[p].ours)
				p = (p + 1) & (cap - 1);
			n[p] = t->hl[s];
		}
		free(t->hl);
		t->hl = n;
		t->hlcap = cap;
	}
	size_t p = hl_hash(d, i, t->hlcap);
	while (t->hl[p].ours)
		p = (p + 1) & (t->hlcap - 1);
	t->hl[p].dev = d;
	t->hl[p].ino = i;
	t->hl[p].ours = ours;
	t->hlcount++;
	return 0;
}

static void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->ninodes; i++) {
		free(t->inodes[i].path);
		free(t->inodes[i].target);
	}
	free(t->inodes);
	for (size_t i = 0; i < t->ndents; i++) {
		free(t->dents[i].key);
		free(t->dents[i].val);
	}
	free(t->dents);
	for (size_t i = 0; i < t->nxattrs; i++) {
		free(t->xattrs[i].key);
		free(t->xattrs[i].val);
	}
	free(t->xattrs);
	free(t->hl);
}

/* ---- walking the source --------------------------------------------------------- */

static void attr_from_stat(fs_attr *a, const struct statx *sx)
{
	memset(a, 0, sizeof *a);
	a->mode = sx->stx_mode;
	a->uid = sx->stx_uid;
	a->gid = sx->stx_gid;
	a->atime.tv_sec = sx->stx_atime.tv_sec;
	a->atime.tv_nsec = sx->stx_atime.tv_nsec;
	a->mtime.tv_sec = sx->stx_mtime.tv_sec;
	a->mtime.tv_nsec = sx->stx_mtime.tv_nsec;
	a->ctime.tv_sec = sx->stx_ctime.tv_sec;
	a->ctime.tv_nsec = sx->stx_ctime.tv_nsec;
	if (sx->stx_mask & STATX_BTIME) {
		a->btime.tv_sec = sx->stx_btime.tv_sec;
		a->btime.tv_nsec = sx->stx_btime.tv_nsec;
	} else {
		a->btime = a->ctime;
	}
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode))
		a->rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);
}

/* Which xattrs the core stores for an inode of this type (fs/xattr.c). */
static bool xattr_storable(const char *name, uint32_t mode)
{
	if (!strncmp(name, "user.", 5))
		return (S_ISREG(mode) || S_ISDIR(mode)) && name[5];
	if (!strncmp(name, "trusted.", 8))
		return name[8] != 0;
	if (!strncmp(name, "security.", 9))
		return name[9] != 0;
	if (!strcmp(name, "system.posix_acl_access"))
		return !S_ISLNK(mode);
	if (!strcmp(name, "system.posix_acl_default"))
		return S_ISDIR(mode);
	return false;
}

static int copy_xattrs(struct tree *t, struct mk_inode *mi, const char *path)
{
	ssize_t n = llistxattr(path, NULL, 0);
	if (n <= 0)
		return 0;	/* none, or the source cannot list them */
	char *names = malloc((size_t)n);
	char *val = malloc(FS_XATTR_SIZE_MAX);
	int rc = 0;
	if (!names || !val) {
		rc = -ENOMEM;
		goto out;
	}
	n = llistxattr(path, names, (size_t)n);
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		size_t nl = strlen(name);
		if (!xattr_storable(name, mi->a.mode) || nl > FS_XATTR_NAME_MAX) {
			warn("%s: extended attribute %s not copied (lsmfs does not store it)",
			     path, name);
			t->skipped++;
			continue;
		}
		ssize_t vl = lgetxattr(path, name, val, FS_XATTR_SIZE_MAX);
		if (vl < 0) {
			warn("%s: reading extended attribute %s: %s", path, name, strerror(errno));
			t->skipped++;
			continue;
		}
		char k[FS_KEY_NAME_MAX];
		size_t kl = fs_key_named(k, FS_K_XATTR, mi->ino, name, nl);
		if ((rc = rec_add(&t->xattrs, &t->nxattrs, &t->xcap, k, kl, val, (size_t)vl)) < 0)
			goto out;
		mi->a.flags |= FS_IF_XATTR;
	}
out:
	free(names);
	free(val);
	return rc;
}

static int add_dentry(struct tree *t, uint64_t parent, const char *name, uint64_t ino,
		      uint32_t mode)
{
	char k[FS_KEY_NAME_MAX], v[FS_DENTRY_LEN];
	size_t kl = fs_key_named(k, FS_K_DENTRY, parent, name, strlen(name));
	fs_dentry_encode(v, ino, mode);
	return rec_add(&t->dents, &t->ndents, &t->dcap, k, kl, v, sizeof v);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct tree *t, const char *dirpath, uint64_t dir_ino, int depth);

/* One entry of a directory being walked. */
static int walk_entry(struct tree *t, const char *dirpath, uint64_t dir_ino,
		      const char *name, int depth)
{
	char *path = NULL;
	struct statx sx;
	int rc = 0;
	if (asprintf(&path, "%s/%s", dirpath, name) < 0)
		return -ENOMEM;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0) {
		warn("%s: %s (skipped)", path, strerror(errno));
		t->skipped++;
		goto out;
	}
	if (!S_ISDIR(sx.stx_mode) && sx.stx_nlink > 1) {
		uint64_t ours = hl_find(t, makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino);
		if (ours) {
			struct mk_inode *mi = &t->inodes[ours - 1];
			if (mi->a.nlink >= UINT32_MAX - 1) {
				warn("%s: too many links (skipped)", path);
				t->skipped++;
				goto out;
			}
			mi->a.nlink++;
			rc = add_dentry(t, dir_ino, name, ours, mi->a.mode);
			goto out;
		}
	}
	char target[FS_SYMLINK_MAX + 2];
	ssize_t tl = 0;
	if (S_ISLNK(sx.stx_mode)) {
		tl = readlink(path, target, sizeof target);
		if (tl < 0 || tl > FS_SYMLINK_MAX) {
			warn("%s: %s (skipped)", path,
			     tl < 0 ? strerror(errno) : "symlink target too long");
			t->skipped++;
			goto out;
		}
	}
	struct mk_inode *mi = tree_new_inode(t);
	if (!mi) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t ino = mi->ino;
	attr_from_stat(&mi->a, &sx);
	mi->a.nlink = 1;
	switch (sx.stx_mode & S_IFMT) {
	case S_IFREG:
		mi->a.size = sx.stx_size;
		if (t->inline_max > 0 && sx.stx_size <= t->inline_max)
			mi->a.flags |= FS_IF_INLINE;
		else
			t->data_bytes += sx.stx_size;
		mi->path = path;
		path = NULL;
		t->counts[0]++;
		break;
	case S_IFDIR:
		mi->a.nlink = 2;
		mi->a.parent = dir_ino;
		t->counts[1]++;
		break;
	case S_IFLNK:
		mi->a.size = (uint64_t)tl;
		mi->target = malloc((size_t)tl + 1);
		if (!mi->target) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(mi->target, target, (size_t)tl);
		mi->target[tl] = 0;
		t->counts[2]++;
		break;
	default:
		t->counts[3]++;
		break;
	}
	if (!S_ISDIR(sx.stx_mode) && sx.stx_nlink > 1 &&
	    (rc = hl_add(t, makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino, ino)) < 0)
		goto out;
	const char *p = path ? path : t->inodes[ino - 1].path;
	if ((rc = copy_xattrs(t, &t->inodes[ino - 1], p)) < 0)
		goto out;
	if ((rc = add_dentry(t, dir_ino, name, ino, sx.stx_mode)) < 0)
		goto out;
	if (S_ISDIR(sx.stx_mode)) {
		struct mk_inode *parent = &t->inodes[dir_ino - 1];
		if (parent->a.nlink >= UINT32_MAX - 1) {
			warn("%s: too many subdirectories", dirpath);
			rc = -EMLINK;
			goto out;
		}
		parent->a.nlink++;
		rc = walk(t, path, ino, depth + 1);
	}
out:
	free(path);
	return rc;
}

static int walk(struct tree *t, const char *dirpath, uint64_t dir_ino, int depth)
{
	if (depth > 4096) {
		warn("%s: tree too deep", dirpath);
		return -ELOOP;
	}
	int fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		warn("%s: %s (contents skipped)", dirpath, strerror(errno));
		t->skipped++;
		return 0;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **p = realloc(names, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			names = p;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	/* Name order: the inode numbers come out the same on every run. */
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = walk_entry(t, dirpath, dir_ino, names[i], depth);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* ---- writing the tables ----------------------------------------------------------- */

struct out {
	lsm_options lo;
	char *dir;
	char **paths;
	size_t n, cap;
	lsm_sst_writer *w;
	uint64_t bytes;
	/* progress */
	uint64_t done, total;
	int last_pct;
	bool bar;
};

static int out_finish(struct out *o)
{
	if (!o->w)
		return 0;
	int rc = lsm_sst_writer_finish(o->w);
	o->w = NULL;
	if (rc < 0)
		warn("writing %s: %s: %s", o->paths[o->n - 1], lsm_strerror(rc), lsm_errdetail());
	return rc;
}

static int out_put(struct out *o, const void *k, size_t kl, const void *v, size_t vl)
{
	int rc;
	if (!o->w) {
		if (o->n == o->cap) {
			size_t cap = o->cap ? o->cap * 2 : 8;
			char **p = realloc(o->paths, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			o->paths = p;
			o->cap = cap;
		}
		if (asprintf(&o->paths[o->n], "%s/%06zu.sst", o->dir, o->n + 1) < 0)
			return -ENOMEM;
		o->n++;
		rc = lsm_sst_writer_open(&o->lo, o->paths[o->n - 1], &o->w);
		if (rc < 0) {
			warn("creating %s: %s: %s", o->paths[o->n - 1], lsm_strerror(rc),
			     lsm_errdetail());
			o->w = NULL;
			return rc;
		}
		o->bytes = 0;
	}
	rc = lsm_sst_writer_put(o->w, k, kl, v, vl);
	if (rc < 0) {
		warn("writing a table: %s: %s", lsm_strerror(rc), lsm_errdetail());
		return rc;
	}
	o->bytes += kl + vl;
	if (o->bytes >= SST_TARGET)
		return out_finish(o);
	return 0;
}

static void progress(struct out *o, uint64_t add)
{
	o->done += add;
	if (!o->bar || !o->total)
		return;
	int pct = (int)(o->done * 100 / o->total);
	if (pct > 100)
		pct = 100;
	if (pct == o->last_pct)
		return;
	o->last_pct = pct;
	char bar[41];
	for (int i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '#' : '.';
	bar[40] = 0;
	fprintf(stderr, "\rCopying data: [%s] %3d%% (%" PRIu64 "/%" PRIu64 " MiB)", bar, pct,
		o->done >> 20, o->total >> 20);
	fflush(stderr);
}

/* Open a source file for reading without moving its atime where we may
 * (owner or root), so copying a tree leaves the tree as it was. */
static int open_source(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Stream the data blocks of one regular file. */
static int write_blocks(struct tree *t, struct out *o, struct mk_inode *mi, char *buf)
{
	uint64_t bs = t->bs, size = mi->a.size;
	int fd = open_source(mi->path);
	if (fd < 0) {
		warn("%s: %s (copied as a file of zeros)", mi->path, strerror(errno));
		t->skipped++;
		return 0;
	}
	uint64_t blk = 0, nblk = size / bs + (size % bs != 0);
	bool seek_ok = true;
	int rc = 0;
	while (blk < nblk) {
		if (seek_ok) {
			/* Skip holes without reading them. */
			off_t d = lseek(fd, (off_t)(blk * bs), SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				break;
			if (d < 0) {
				seek_ok = false;
			} else if ((uint64_t)d / bs > blk) {
				progress(o, ((uint64_t)d / bs - blk) * bs);
				blk = (uint64_t)d / bs;
				if (blk >= nblk)
					break;
			}
		}
		uint64_t off = blk * bs;
		size_t want = (size_t)(size - off < bs ? size - off : bs);
		size_t got = 0;
		while (got < want) {
			ssize_t r = pread(fd, buf + got, want - got, (off_t)(off + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				warn("%s: %s", mi->path, strerror(errno));
				rc = -errno;
				goto out;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (got < want) {
			warn("%s: shrank while being copied (the rest reads as zeros)", mi->path);
			memset(buf + got, 0, want - got);
		}
		progress(o, want);
		if (!all_zero(buf, want)) {
			char k[FS_KEY_BLOCK_LEN];
			fs_key_block(k, mi->ino, blk);
			if ((rc = out_put(o, k, sizeof k, buf, want)) < 0)
				goto out;
			mi->a.nblocks++;
			mi->a.maxblk = blk + 1;
		}
		blk++;
	}
	if (blk < nblk)
		progress(o, (nblk - blk) * bs);
out:
	close(fd);
	return rc;
}

static int read_inline(struct tree *t, struct mk_inode *mi, char *buf)
{
	size_t size = (size_t)mi->a.size, got = 0;
	int fd = open_source(mi->path);
	if (fd < 0) {
		warn("%s: %s (copied as a file of zeros)", mi->path, strerror(errno));
		t->skipped++;
		memset(buf, 0, size);
		return 0;
	}
	while (got < size) {
		ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got < size)
		memset(buf + got, 0, size - got);
	return 0;
}

static int rec_cmp(const void *x, const void *y)
{
	const struct mk_rec *a = x, *b = y;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->key, b->key, n);
	if (c)
		return c;
	return (a->klen > b->klen) - (a->klen < b->klen);
}

static int write_tables(struct tree *t, struct out *o, fs_super *sb)
{
	int rc = 0;
	char *buf = malloc(t->bs > FS_INODE_HDR_LEN + t->inline_max
				   ? t->bs : FS_INODE_HDR_LEN + t->inline_max);
	if (!buf)
		return -ENOMEM;
	/* B: file by file, in inode order (= key order). */
	for (size_t i = 0; i < t->ninodes; i++) {
		struct mk_inode *mi = &t->inodes[i];
		if (S_ISREG(mi->a.mode) && !(mi->a.flags & FS_IF_INLINE) && mi->path &&
		    (rc = write_blocks(t, o, mi, buf)) < 0)
			goto out;
	}
	if (o->bar && o->total)
		fputc('\n', stderr);
	/* D */
	if (t->ndents > 1)
		qsort(t->dents, t->ndents, sizeof(t->dents[0]), rec_cmp);
	for (size_t i = 0; i < t->ndents; i++)
		if ((rc = out_put(o, t->dents[i].key, t->dents[i].klen, t->dents[i].val,
				  t->dents[i].vlen)) < 0)
			goto out;
	/* I */
	for (size_t i = 0; i < t->ninodes; i++) {
		struct mk_inode *mi = &t->inodes[i];
		char k[FS_KEY_INO_LEN];
		size_t vl = FS_INODE_HDR_LEN;
		fs_key_ino(k, FS_K_INODE, mi->ino);
		fs_inode_encode(buf, &mi->a);
		if (S_ISREG(mi->a.mode) && (mi->a.flags & FS_IF_INLINE) && mi->a.size) {
			if ((rc = read_inline(t, mi, buf + FS_INODE_HDR_LEN)) < 0)
				goto out;
			vl += (size_t)mi->a.size;
		}
		if ((rc = out_put(o, k, sizeof k, buf, vl)) < 0)
			goto out;
	}
	/* L */
	for (size_t i = 0; i < t->ninodes; i++) {
		struct mk_inode *mi = &t->inodes[i];
		if (!S_ISLNK(mi->a.mode) || !mi->target)
			continue;
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_SYMLINK, mi->ino);
		if ((rc = out_put(o, k, sizeof k, mi->target, (size_t)mi->a.size)) < 0)
			goto out;
	}
	/* S */
	char sbuf[FS_SUPER_LEN + 64];
	size_t sl = fs_super_encode(sbuf, sb);
	if ((rc = out_put(o, FS_SUPER_KEY, FS_SUPER_KEY_LEN, sbuf, sl)) < 0)
		goto out;
	/* X */
	if (t->nxattrs > 1)
		qsort(t->xattrs, t->nxattrs, sizeof(t->xattrs[0]), rec_cmp);
	for (size_t i = 0; i < t->nxattrs; i++)
		if ((rc = out_put(o, t->xattrs[i].key, t->xattrs[i].klen, t->xattrs[i].val,
				  t->xattrs[i].vlen)) < 0)
			goto out;
	rc = out_finish(o);
out:
	free(buf);
	return rc;
}

/*
 * Fill the store just made by fs_mkfs: from the tree at src (NULL: keep the
 * empty root fs_mkfs wrote, only drop whatever the store held before).
 */
static int populate(const char *store, const char *src, const lsm_options *lo,
		    const fs_mkfs_opts *mo, bool root_owner_set)
{
	struct tree t;
	struct out o;
	lsm_db *db = NULL;
	void *v = NULL;
	size_t vl = 0;
	fs_super sb;
	int rc;

	memset(&t, 0, sizeof t);
	memset(&o, 0, sizeof o);
	t.bs = mo->block_size;
	t.inline_max = mo->inline_max;
	o.lo = *lo;
	o.last_pct = -1;

	rc = lsm_open(store, lo, &db);
	if (rc < 0) {
		warn("%s: %s: %s", store, lsm_strerror(rc), lsm_errdetail());
		return rc;
	}
	/* The superblock and root fs_mkfs wrote: uuid, times, options. */
	rc = lsm_get(db, NULL, FS_SUPER_KEY, FS_SUPER_KEY_LEN, &v, &vl);
	if (rc == 0)
		rc = fs_super_decode(v, vl, &sb);
	free(v);
	v = NULL;
	if (rc < 0) {
		warn("%s: reading the new superblock: %s", store, lsm_strerror(rc));
		goto err;
	}
	struct mk_inode *root = tree_new_inode(&t);
	if (!root) {
		rc = -ENOMEM;
		goto err;
	}
	char rk[FS_KEY_INO_LEN];
	fs_key_ino(rk, FS_K_INODE, FS_ROOT_INO);
	rc = lsm_get(db, NULL, rk, sizeof rk, &v, &vl);
	if (rc == 0)
		rc = fs_inode_decode(v, vl, FS_ROOT_INO, &root->a, NULL, NULL);
	free(v);
	if (rc < 0) {
		warn("%s: reading the new root: %s", store, lsm_strerror(rc));
		goto err;
	}
	t.counts[1] = 1;
	if (src) {
		struct statx sx;
		if (statx(AT_FDCWD, src, 0, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0) {
			rc = -errno;
			warn("%s: %s", src, strerror(errno));
			goto err;
		}
		/* The root takes the source directory's attributes, as with
		 * mke2fs -d (owner only if -E root_owner did not say). */
		fs_attr ra = root->a;
		attr_from_stat(&root->a, &sx);
		root->a.mode = S_IFDIR | (sx.stx_mode & 07777);
		if (root_owner_set) {
			root->a.uid = ra.uid;
			root->a.gid = ra.gid;
		}
		root->a.nlink = 2;
		root->a.parent = FS_ROOT_INO;
		root->a.flags = 0;
		if ((rc = copy_xattrs(&t, root, src)) < 0)
			goto err;
		if ((rc = walk(&t, src, FS_ROOT_INO, 0)) < 0) {
			if (rc == -ENOMEM)
				warn("out of memory gathering the tree");
			goto err;
		}
	}

	sb.next_ino = t.ninodes + 1 > sb.next_ino ? t.ninodes + 1 : sb.next_ino;
	sb.flags |= FS_SB_CLEAN;
	sb.inodes = t.ninodes;
	sb.files = t.counts[0];
	sb.dirs = t.counts[1];
	sb.symlinks = t.counts[2];
	sb.specials = t.counts[3];

	/* The tables are written inside the store so that ingest can link
	 * them (same file system); the directory goes away afterwards. */
	if (asprintf(&o.dir, "%s/.mkfs-d.XXXXXX", store) < 0) {
		o.dir = NULL;
		rc = -ENOMEM;
		goto err;
	}
	if (!mkdtemp(o.dir)) {
		rc = -errno;
		warn("%s: %s", o.dir, strerror(errno));
		free(o.dir);
		o.dir = NULL;
		goto err;
	}
	o.total = t.data_bytes;
	o.bar = !quiet && isatty(2);
	if ((rc = write_tables(&t, &o, &sb)) < 0)
		goto err;
	rc = lsm_ingest(db, (const char *const *)o.paths, o.n, "\x00", 1, "\xff", 1);
	if (rc < 0) {
		warn("%s: adding the tables: %s: %s", store, lsm_strerror(rc), lsm_errdetail());
		goto err;
	}
	if (!quiet && src)
		printf("Copied %s: %" PRIu64 " files, %" PRIu64 " directories, %" PRIu64
		       " symbolic links, %" PRIu64 " special files; %" PRIu64 " bytes of data\n",
		       src, t.counts[0], t.counts[1] - 1, t.counts[2], t.counts[3], t.data_bytes);
	if (t.skipped)
		warn("%d item(s) could not be copied (see above)", t.skipped);
err:
	if (o.w)
		lsm_sst_writer_abandon(o.w);
	for (size_t i = 0; i < o.n; i++) {
		unlink(o.paths[i]);
		free(o.paths[i]);
	}
	free(o.paths);
	if (o.dir) {
		rmdir(o.dir);
		free(o.dir);
	}
	int crc = lsm_close(db);
	if (rc == 0 && crc < 0) {
		warn("%s: closing: %s", store, lsm_strerror(crc));
		rc = crc;
	}
	tree_free(&t);
	return rc;
}

/* ---- the command line ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: mkfs.lsmfs [-b SIZE] [-O OPTION[,OPTION...]] [-L LABEL] [-d DIR]\n"
"                  [-E root_owner=UID:GID] [-F] [-q] STORE\n"
"\n"
"NAME\n"
"    mkfs.lsmfs - create an lsmfs file system\n"
"\n"
"DESCRIPTION\n"
"    mkfs.lsmfs creates an lsmfs file system in the directory STORE (created\n"
"    if missing), ready to be mounted with lsmfs(1).  It refuses a STORE\n"
"    that is not empty unless -F is given.\n"
"\n"
"OPTIONS\n"
"    -b SIZE   Data block size in bytes: a power of two from 512 to 1M\n"
"              (suffixes k and m accepted).  Default 4096.  Files larger\n"
"              than the inline limit are stored one key per block.\n"
"    -O OPTION[,OPTION...]\n"
"              compression=off     store tables uncompressed\n"
"              compression=zstd    zstd at level 1 (the default)\n"
"              compression=zstd:N  zstd at level N (1 to 22, or -1 to -10:\n"
"                                  faster, larger); tables written to L0\n"
"                                  and L1 always use zstd -1\n"
"              inline=N            files of up to N bytes keep their data in\n"
"                                  the inode record (0 to the block size;\n"
"                                  default 2048)\n"
"    -L LABEL  File system label, up to 63 bytes.\n"
"    -d DIR    Fill the new file system from the tree DIR: regular files\n"
"              (holes and all-zero blocks stay holes), directories,\n"
"              symbolic links, hard links, device files, fifos and sockets,\n"
"              with their modes, owners, times and extended attributes\n"
"              (user.*, trusted.*, security.*, POSIX ACLs).  The root takes\n"
"              DIR's attributes.  The records are written as sorted tables\n"
"              and added to the store in one step, so nothing is rewritten by\n"
"              compaction.  A progress bar is shown on a terminal.\n"
"    -E root_owner=UID:GID\n"
"              Owner of the root directory (default: root, or DIR's owner\n"
"              with -d).\n"
"    -F        Force: use a STORE that is not empty; an lsmfs store there is\n"
"              replaced (all its data is dropped).\n"
"    -q        Quiet: print only errors.\n"
"    -V        Print the version and exit.\n"
"    -h, --help  Print this help and exit.\n"
"\n"
"EXIT STATUS\n"
"    0 on success, 1 on failure (the reason is printed), 2 on a usage error.\n"
"\n"
"EXAMPLES\n"
"    mkfs.lsmfs /srv/store\n"
"    mkfs.lsmfs -b 16k -O compression=zstd:3 -L photos -d ~/photos /srv/store\n"
"\n"
"SEE ALSO\n"
"    lsmfs(1), fsck.lsmfs(8), lsmfsctl(8), mke2fs(8)\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_features(char *arg, fs_mkfs_opts *mo, bool *inline_set)
{
	for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (!strcmp(tok, "compression=off") || !strcmp(tok, "compression=none") ||
		    !strcmp(tok, "compression=0")) {
			mo->compression = 0;
		} else if (!strcmp(tok, "compression=zstd")) {
			mo->compression = 1;
		} else if (!strncmp(tok, "compression=zstd:", 17) || !strncmp(tok, "compression=", 12)) {
			const char *n = tok + (tok[12] == 'z' ? 17 : 12);
			char *end;
			long l = strtol(n, &end, 10);
			if (*end || end == n || l < -10 || l > 22 || l == 0) {
				warn("-O %s: want compression=off, zstd or zstd:N with N from 1 to 22,"
				     " or from -1 to -10 for zstd's fast levels", tok);
				return -1;
			}
			mo->compression = (int)l;
		} else if (!strncmp(tok, "inline=", 7) && parse_size(tok + 7, &v) == 0 &&
			   v <= (1u << 20)) {
			mo->inline_max = (uint32_t)v;
			*inline_set = true;
		} else {
			warn("-O %s: unknown option (see --help)", tok);
			return -1;
		}
	}
	return 0;
}

/* Create the directories above path that are missing (the core creates
 * the store directory itself). */
static int mkdir_parents(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int e = -errno;
			free(p);
			return e;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/* 1 if dir holds anything, 0 if empty or missing, -errno. */
static int dir_nonempty(const char *dir, bool *is_store)
{
	*is_store = false;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(de->d_name, "CURRENT"))
			*is_store = true;
		n++;
	}
	closedir(d);
	return n > 0;
}

int main(int argc, char **argv)
{
	fs_mkfs_opts mo;
	bool force = false, inline_set = false, root_owner_set = false;
	const char *src = NULL, *label = NULL;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	fs_mkfs_opts_init(&mo);
	int c;
	while ((c = getopt_long(argc, argv, "b:O:L:d:E:FqVh", longopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'b':
			if (parse_size(optarg, &v) < 0 || v < 512 || v > (1u << 20) ||
			    (v & (v - 1))) {
				warn("-b %s: want a power of two from 512 to 1M", optarg);
				return 2;
			}
			mo.block_size = (uint32_t)v;
			break;
		case 'O':
			if (parse_features(optarg, &mo, &inline_set) < 0)
				return 2;
			break;
		case 'L':
			label = optarg;
			if (strlen(label) > FS_LABEL_MAX) {
				warn("-L: the label is longer than %d bytes", FS_LABEL_MAX);
				return 2;
			}
			break;
		case 'd':
			src = optarg;
			break;
		case 'E': {
			unsigned long u, g;
			char *end;
			if (strncmp(optarg, "root_owner=", 11) != 0)
				goto bad_e;
			u = strtoul(optarg + 11, &end, 10);
			if (*end != ':')
				goto bad_e;
			g = strtoul(end + 1, &end, 10);
			if (*end)
				goto bad_e;
			mo.root_uid = (uid_t)u;
			mo.root_gid = (gid_t)g;
			root_owner_set = true;
			break;
bad_e:
			warn("-E %s: want root_owner=UID:GID", optarg);
			return 2;
		}
		case 'F':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'V':
			printf("mkfs.lsmfs %s (lsmfs format %d)\n", MKFS_VERSION, FS_FORMAT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		warn("%s", optind >= argc ? "no store given" : "more than one store given");
		usage(stderr);
		return 2;
	}
	const char *store = argv[optind];
	if (!inline_set && mo.inline_max > mo.block_size)
		mo.inline_max = mo.block_size;
	if (mo.inline_max > mo.block_size) {
		warn("-O inline=%u is over the block size %u", mo.inline_max, mo.block_size);
		return 2;
	}
	mo.label = label;
	mo.force = force;

	if (src) {
		struct stat sst;
		if (stat(src, &sst) < 0) {
			warn("-d %s: %s", src, strerror(errno));
			return 1;
		}
		if (!S_ISDIR(sst.st_mode)) {
			warn("-d %s: not a directory", src);
			return 1;
		}
	}
	struct stat st;
	if (stat(store, &st) == 0 && !S_ISDIR(st.st_mode)) {
		warn("%s: not a directory (a store is a directory)", store);
		return 1;
	}
	bool is_store;
	int ne = dir_nonempty(store, &is_store);
	if (ne < 0) {
		warn("%s: %s", store, strerror(-ne));
		return 1;
	}
	if (ne && !force) {
		warn("%s is not empty%s; use -F to %s", store,
		     is_store ? " (it holds a store)" : "",
		     is_store ? "replace the store" : "create the store there anyway");
		return 1;
	}

	lsm_options lo;
	lsm_options_init(&lo);
	lo.compression = mo.compression;
	if (!quiet) {
		char comp[32];
		if (mo.compression)
			snprintf(comp, sizeof comp, "zstd:%d", mo.compression);
		else
			snprintf(comp, sizeof comp, "off");
		printf("Creating an lsmfs file system in %s\n"
		       "  block size %u, inline data up to %u bytes, compression %s%s%s%s\n",
		       store, mo.block_size, mo.inline_max, comp, label ? ", label \"" : "",
		       label ? label : "", label ? "\"" : "");
	}
	int rc = mkdir_parents(store);
	if (rc < 0) {
		warn("%s: %s", store, strerror(-rc));
		return 1;
	}
	rc = fs_mkfs(store, &mo, &lo);
	if (rc < 0) {
		if (rc == LSM_E_LOCKED)
			warn("%s is in use (mounted?): %s", store, fs_errdetail());
		else if (*fs_errdetail())
			warn("%s", fs_errdetail());
		else
			warn("%s: %s", store, fs_strerror(rc));
		return 1;
	}
	/* Fill from -d; over an old store, also drop its tables at once. */
	if (src || (force && is_store)) {
		lo.disable_auto_compaction = true;
		rc = populate(store, src, &lo, &mo, root_owner_set);
		if (rc < 0)
			return 1;
	}
	if (!quiet)
		printf("Done.\n");
	return 0;
}
