/*
 * test_fs_core.c — the filesystem core (fs/fs.h) without a mount, over the
 * engine on an in-memory env: every operation and its error codes, link
 * counts, rename cases, data (inline, blocks, sparse, > 4 GiB), truncate,
 * fallocate, SEEK_DATA/HOLE, xattrs, permissions, readdir offsets and
 * snapshots, open-unlinked files and orphans across a simulated crash,
 * persistence across remounts, counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"
#include "schema.h"

#define STORE "/store"

struct t {
	lsm_env *env;
	lsm_options lo;
	fs_mount_opts mo;
	lsmfs *fs;
	fs_cred root;
	fs_cred alice;	/* uid 1000 gid 1000 */
	fs_cred bob;	/* uid 1001 gid 1001, also in group 1000 */
	gid_t bob_groups[1];
};

static int mkfs_with(struct t *t, uint32_t bs, uint32_t inline_max)
{
	fs_mkfs_opts o;
	fs_mkfs_opts_init(&o);
	o.block_size = bs;
	o.inline_max = inline_max;
	o.root_mode = 0777;
	o.label = "test";
	return fs_mkfs(STORE, &o, &t->lo);
}

static void do_mount(struct t *t)
{
	assert_int_equal(fs_mount(STORE, &t->mo, &t->fs), 0);
}

static void remount(struct t *t)
{
	assert_int_equal(fs_unmount(t->fs), 0);
	t->fs = NULL;
	do_mount(t);
}

static int setup_bs(void **state, uint32_t bs, uint32_t inl)
{
	struct t *t = calloc(1, sizeof(*t));
	t->env = lsm_env_mem_new();
	lsm_options_init(&t->lo);
	t->lo.env = t->env;
	t->lo.write_buffer_size = 256 << 10;	/* exercise flushes */
	fs_mount_opts_init(&t->mo);
	t->mo.lsm = &t->lo;
	t->root = fs_cred_root();
	t->alice = (fs_cred){ .uid = 1000, .gid = 1000, .umask = 022 };
	t->bob_groups[0] = 1000;
	t->bob = (fs_cred){ .uid = 1001, .gid = 1001, .umask = 022,
			    .ngroups = 1, .groups = t->bob_groups };
	if (mkfs_with(t, bs, inl) != 0)
		return -1;
	if (fs_mount(STORE, &t->mo, &t->fs) != 0)
		return -1;
	*state = t;
	return 0;
}

static int setup(void **state) { return setup_bs(state, 4096, 64); }
static int setup_small(void **state) { return setup_bs(state, 512, 0); }

static int teardown(void **state)
{
	struct t *t = *state;
	if (t->fs)
		fs_unmount(t->fs);
	t->env->destroy(t->env);
	free(t);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

static uint64_t mk(struct t *t, uint64_t dir, const char *name, mode_t mode)
{
	struct stat st;
	int rc = S_ISDIR(mode) ? fs_mkdir(t->fs, &t->root, dir, name, mode & 07777, &st)
			       : fs_mknod(t->fs, &t->root, dir, name, mode, 0, &st);
	assert_int_equal(rc, 0);
	return st.st_ino;
}

static uint64_t lookup(struct t *t, uint64_t dir, const char *name)
{
	struct stat st;
	int rc = fs_lookup(t->fs, &t->root, dir, name, &st);
	if (rc < 0)
		return 0;
	return st.st_ino;
}

static struct stat getattr(struct t *t, uint64_t ino)
{
	struct stat st;
	assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
	return st;
}

static uint64_t open_rw(struct t *t, uint64_t ino)
{
	uint64_t fh;
	assert_int_equal(fs_open(t->fs, &t->root, ino, O_RDWR, &fh), 0);
	return fh;
}

static void pwrite_all(struct t *t, uint64_t fh, const void *buf, size_t n,
		       uint64_t off)
{
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->root, fh, buf, n, off, 0, &w), 0);
	assert_int_equal(w, n);
}

static size_t pread_n(struct t *t, uint64_t fh, void *buf, size_t n,
		      uint64_t off)
{
	size_t got;
	assert_int_equal(fs_read(t->fs, fh, buf, n, off, &got), 0);
	return got;
}

static bool engine_has(struct t *t, const char *k, size_t kl)
{
	void *v = NULL;
	size_t vl;
	int rc = lsm_get(fs_db(t->fs), NULL, k, kl, &v, &vl);
	free(v);
	return rc == 0;
}

/* Number of keys with prefix (type, ino). */
static size_t engine_count(struct t *t, char type, uint64_t ino)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	fs_key_ino(lo, type, ino);
	fs_key_ino_end(hi, type, ino);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it;
	assert_int_equal(lsm_iter_new(fs_db(t->fs), &ro, &it), 0);
	size_t n = 0;
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it))
		n++;
	lsm_iter_free(it);
	return n;
}

static bool has_inode(struct t *t, uint64_t ino)
{
	char k[FS_KEY_INO_LEN];
	fs_key_ino(k, FS_K_INODE, ino);
	return engine_has(t, k, sizeof(k));
}

static bool has_orphan(struct t *t, uint64_t ino)
{
	char k[FS_KEY_INO_LEN];
	fs_key_ino(k, FS_K_ORPHAN, ino);
	return engine_has(t, k, sizeof(k));
}

struct names {
	char n[512][64];
	uint64_t ino[512];
	uint64_t off[512];
	int count;
	int limit;	/* accept at most this many per call (0: all) */
	int taken;
};

static int collect(void *ctx, const char *name, uint64_t ino, mode_t type,
		   uint64_t next_off, const struct stat *st)
{
	(void)type;
	(void)st;
	struct names *ns = ctx;
	if (ns->limit && ns->taken >= ns->limit)
		return 1;
	if (ns->count >= 512)
		return 1;
	snprintf(ns->n[ns->count], 64, "%s", name);
	ns->ino[ns->count] = ino;
	ns->off[ns->count] = next_off;
	ns->count++;
	ns->taken++;
	return 0;
}

static int find_name(const struct names *ns, const char *name)
{
	int hits = 0;
	for (int i = 0; i < ns->count; i++)
		hits += strcmp(ns->n[i], name) == 0;
	return hits;
}

static void list_dir(struct t *t, uint64_t dir, struct names *ns)
{
	uint64_t fh;
	memset(ns, 0, sizeof(*ns));
	assert_int_equal(fs_opendir(t->fs, &t->root, dir, O_RDONLY, &fh), 0);
	assert_int_equal(fs_readdir(t->fs, fh, 0, collect, ns), 0);
	assert_int_equal(fs_releasedir(t->fs, fh), 0);
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool ts_lt(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Sleep long enough for the clock to move (timestamps are ns). */
static void tick(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_REALTIME, &a);
	do
		clock_gettime(CLOCK_REALTIME, &b);
	while (!ts_lt(a, b));
}

/* ---- mkfs / mount ---------------------------------------------------------------- */

static void test_mkfs_root(void **state)
{
	struct t *t = *state;
	struct stat st = getattr(t, FS_ROOT_INO);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0777);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, FS_ROOT_INO);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.format_version, FS_FORMAT_VERSION);
	assert_int_equal(s.block_size, 4096);
	assert_int_equal(s.inline_max, 64);
	assert_string_equal(s.label, "test");
	assert_true(s.inodes == 1 && s.dirs == 1 && s.files == 0);
	assert_true(s.created_ns > 0);
	/* ".." of the root is the root */
	assert_int_equal(lookup(t, FS_ROOT_INO, ".."), FS_ROOT_INO);
	assert_int_equal(lookup(t, FS_ROOT_INO, "."), FS_ROOT_INO);
}

static void test_mkfs_existing(void **state)
{
	struct t *t = *state;
	mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	assert_int_equal(fs_unmount(t->fs), 0);
	t->fs = NULL;
	assert_int_equal(mkfs_with(t, 4096, 64), -EEXIST);
	fs_mkfs_opts o;
	fs_mkfs_opts_init(&o);
	o.force = true;
	assert_int_equal(fs_mkfs(STORE, &o, &t->lo), 0);
	do_mount(t);
	assert_int_equal(lookup(t, FS_ROOT_INO, "f"), 0);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_true(s.inodes == 1);
	/* bad options */
	o.block_size = 1000;
	assert_int_equal(fs_mkfs("/other", &o, &t->lo), -EINVAL);
	o.block_size = 4096;
	o.inline_max = 8192;
	assert_int_equal(fs_mkfs("/other", &o, &t->lo), -EINVAL);
}

static void test_mount_errors(void **state)
{
	struct t *t = *state;
	lsmfs *fs2 = NULL;
	/* a store that is not an lsmfs */
	lsm_options lo = t->lo;
	lo.create_if_missing = true;
	lsm_db *db;
	assert_int_equal(lsm_open("/plain", &lo, &db), 0);
	assert_int_equal(lsm_close(db), 0);
	assert_int_equal(fs_mount("/plain", &t->mo, &fs2), LSM_E_NOSTORE);
	assert_non_null(strstr(fs_errdetail(), "superblock"));
	/* a newer format */
	assert_int_equal(fs_unmount(t->fs), 0);
	t->fs = NULL;
	assert_int_equal(lsm_open(STORE, &lo, &db), 0);
	void *v;
	size_t vl;
	assert_int_equal(lsm_get(db, NULL, FS_SUPER_KEY, FS_SUPER_KEY_LEN, &v, &vl), 0);
	fs_super s;
	assert_int_equal(fs_super_decode(v, vl, &s), 0);
	free(v);
	s.version = FS_FORMAT_VERSION + 1;
	char buf[FS_SUPER_LEN + 64];
	size_t n = fs_super_encode(buf, &s);
	lsm_write_options wo = { .sync = true };
	assert_int_equal(lsm_put(db, &wo, FS_SUPER_KEY, FS_SUPER_KEY_LEN, buf, n), 0);
	assert_int_equal(lsm_close(db), 0);
	assert_int_equal(fs_mount(STORE, &t->mo, &fs2), LSM_E_VERSION);
	assert_non_null(strstr(fs_errdetail(), "newer"));
	assert_null(fs2);
}

/* ---- names ---------------------------------------------------------------------- */

static void test_create_lookup_errors(void **state)
{
	struct t *t = *state;
	struct stat st, pst0 = getattr(t, FS_ROOT_INO);
	tick();
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "a", S_IFREG | 0644, 0, &st), 0);
	uint64_t a = st.st_ino;
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 0);
	struct stat pst = getattr(t, FS_ROOT_INO);
	assert_true(ts_lt(pst0.st_mtim, pst.st_mtim));
	assert_true(ts_eq(pst.st_mtim, pst.st_ctim));
	assert_true(ts_eq(st.st_mtim, pst.st_mtim));
	assert_int_equal(pst.st_nlink, 2);

	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "a", S_IFREG | 0644, 0, &st), -EEXIST);
	assert_int_equal(fs_mkdir(t->fs, &t->root, FS_ROOT_INO, "a", 0755, &st), -EEXIST);
	assert_int_equal(fs_mkdir(t->fs, &t->root, FS_ROOT_INO, ".", 0755, &st), -EEXIST);
	assert_int_equal(fs_mkdir(t->fs, &t->root, FS_ROOT_INO, "..", 0755, &st), -EEXIST);
	assert_int_equal(fs_lookup(t->fs, &t->root, FS_ROOT_INO, "nope", &st), -ENOENT);
	assert_int_equal(fs_lookup(t->fs, &t->root, a, "x", &st), -ENOTDIR);
	assert_int_equal(fs_mknod(t->fs, &t->root, a, "x", S_IFREG | 0644, 0, &st), -ENOTDIR);
	assert_int_equal(fs_mkdir(t->fs, &t->root, 12345, "x", 0755, &st), -ENOENT);
	char longname[300];
	memset(longname, 'n', sizeof(longname));
	longname[256] = 0;
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, longname, S_IFREG, 0, &st), -ENAMETOOLONG);
	assert_int_equal(fs_lookup(t->fs, &t->root, FS_ROOT_INO, longname, &st), -ENAMETOOLONG);
	longname[255] = 0;
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, longname, S_IFREG, 0, &st), 0);
	assert_int_equal(lookup(t, FS_ROOT_INO, longname), st.st_ino);
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "d", S_IFDIR | 0755, 0, &st), -EPERM);
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "s/x", S_IFREG, 0, &st), -EINVAL);

	/* mkdir: nlink of both */
	assert_int_equal(fs_mkdir(t->fs, &t->root, FS_ROOT_INO, "dir", 0755, &st), 0);
	uint64_t d = st.st_ino;
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(getattr(t, FS_ROOT_INO).st_nlink, 3);
	assert_int_equal(lookup(t, d, ".."), FS_ROOT_INO);
	mk(t, d, "sub", S_IFDIR | 0755);
	assert_int_equal(getattr(t, d).st_nlink, 3);

	/* special files */
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "fifo", S_IFIFO | 0600, 0, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "chr", S_IFCHR | 0600, makedev(1, 3), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(fs_mknod(t->fs, &t->alice, d, "blk", S_IFBLK | 0600, 1, &st), -EPERM);
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "sock", S_IFSOCK | 0600, 0, &st), 0);

	/* umask */
	fs_cred c = t->root;
	c.umask = 077;
	assert_int_equal(fs_mknod(t->fs, &c, d, "masked", S_IFREG | 0666, 0, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_unlink_rmdir(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	mk(t, d, "f", S_IFREG | 0644);
	mk(t, d, "sub", S_IFDIR | 0755);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "d"), -EISDIR);
	assert_int_equal(fs_rmdir(t->fs, &t->root, d, "f"), -ENOTDIR);
	assert_int_equal(fs_rmdir(t->fs, &t->root, FS_ROOT_INO, "d"), -ENOTEMPTY);
	assert_int_equal(fs_rmdir(t->fs, &t->root, d, "."), -EINVAL);
	assert_int_equal(fs_rmdir(t->fs, &t->root, d, ".."), -ENOTEMPTY);
	assert_int_equal(fs_unlink(t->fs, &t->root, d, "nope"), -ENOENT);
	assert_int_equal(fs_rmdir(t->fs, &t->root, d, "nope"), -ENOENT);
	assert_int_equal(getattr(t, d).st_nlink, 3);
	assert_int_equal(fs_rmdir(t->fs, &t->root, d, "sub"), 0);
	assert_int_equal(getattr(t, d).st_nlink, 2);
	uint64_t f = lookup(t, d, "f");
	assert_int_equal(fs_unlink(t->fs, &t->root, d, "f"), 0);
	assert_int_equal(fs_lookup(t->fs, &t->root, d, "f", &st), -ENOENT);
	/* looked up: getattr still answers (nlink 0) until forget */
	assert_int_equal(fs_getattr(t->fs, f, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_false(has_inode(t, f));
	fs_forget(t->fs, f, 100);
	assert_int_equal(fs_getattr(t->fs, f, &st), -ENOENT);
	assert_int_equal(fs_rmdir(t->fs, &t->root, FS_ROOT_INO, "d"), 0);
	assert_int_equal(getattr(t, FS_ROOT_INO).st_nlink, 2);
	assert_false(has_inode(t, d));
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "x", S_IFREG, 0, &st), -ENOENT);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_true(s.inodes == 1 && s.dirs == 1 && s.files == 0);
}

static void test_hard_links(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	pwrite_all(t, fh, "linked", 6, 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	struct stat before = getattr(t, f);
	tick();
	assert_int_equal(fs_link(t->fs, &t->root, f, d, "g", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, f);
	assert_true(ts_lt(before.st_ctim, st.st_ctim));
	assert_int_equal(fs_link(t->fs, &t->root, f, d, "g", &st), -EEXIST);
	assert_int_equal(fs_link(t->fs, &t->root, d, FS_ROOT_INO, "dd", &st), -EPERM);
	assert_int_equal(fs_link(t->fs, &t->root, f, f, "x", &st), -ENOTDIR);
	assert_int_equal(fs_link(t->fs, &t->root, f, FS_ROOT_INO, "h", &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "f"), 0);
	assert_int_equal(getattr(t, f).st_nlink, 2);
	remount(t);
	assert_int_equal(lookup(t, d, "g"), f);
	assert_int_equal(getattr(t, f).st_nlink, 2);
	fh = open_rw(t, f);
	char buf[16];
	assert_int_equal(pread_n(t, fh, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "linked", 6);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, d, "g"), 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "h"), 0);
	assert_false(has_inode(t, f));
}

static void test_symlink(void **state)
{
	struct t *t = *state;
	struct stat st;
	char buf[64];
	size_t len;
	assert_int_equal(fs_symlink(t->fs, &t->root, "../target/x", FS_ROOT_INO, "l", &st), 0);
	uint64_t l = st.st_ino;
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 11);
	assert_int_equal(fs_readlink(t->fs, l, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "../target/x");
	assert_int_equal(fs_readlink(t->fs, l, buf, 11, &len), -ERANGE);
	assert_int_equal(fs_readlink(t->fs, FS_ROOT_INO, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(fs_symlink(t->fs, &t->root, "", FS_ROOT_INO, "e", &st), -ENOENT);
	assert_int_equal(fs_symlink(t->fs, &t->root, "x", FS_ROOT_INO, "l", &st), -EEXIST);
	uint64_t fh;
	assert_int_equal(fs_open(t->fs, &t->root, l, O_RDONLY, &fh), -ELOOP);
	char big[FS_SYMLINK_MAX + 2];
	memset(big, 'x', sizeof(big));
	big[FS_SYMLINK_MAX + 1] = 0;
	assert_int_equal(fs_symlink(t->fs, &t->root, big, FS_ROOT_INO, "big", &st), -ENAMETOOLONG);
	big[FS_SYMLINK_MAX] = 0;
	assert_int_equal(fs_symlink(t->fs, &t->root, big, FS_ROOT_INO, "big", &st), 0);
	remount(t);
	assert_int_equal(fs_readlink(t->fs, l, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "../target/x");
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "l"), 0);
	char k[FS_KEY_INO_LEN];
	fs_key_ino(k, FS_K_SYMLINK, l);
	assert_false(engine_has(t, k, sizeof(k)));
}

/* ---- rename -------------------------------------------------------------------- */

static void test_rename_basic(void **state)
{
	struct t *t = *state;
	uint64_t a = mk(t, FS_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(t, FS_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t f = mk(t, a, "f", S_IFREG | 0644);
	struct stat fs0 = getattr(t, f);
	tick();
	assert_int_equal(fs_rename(t->fs, &t->root, a, "f", a, "g", 0), 0);
	assert_int_equal(lookup(t, a, "f"), 0);
	assert_int_equal(lookup(t, a, "g"), f);
	assert_true(ts_lt(fs0.st_ctim, getattr(t, f).st_ctim));
	/* across directories */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "g", b, "h", 0), 0);
	assert_int_equal(lookup(t, b, "h"), f);
	assert_int_equal(lookup(t, a, "g"), 0);
	/* missing source */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "zz", b, "h2", 0), -ENOENT);
	assert_int_equal(fs_rename(t->fs, &t->root, a, ".", b, "h2", 0), -EBUSY);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "x", b, "h", 3), -EINVAL);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "x", b, "h", 8), -EINVAL);
	/* replace a file: the old one is gone */
	uint64_t g = mk(t, a, "g", S_IFREG | 0644);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "g", b, "h", 0), 0);
	assert_int_equal(lookup(t, b, "h"), g);
	assert_false(has_inode(t, f));
	assert_int_equal(getattr(t, f).st_nlink, 0);	/* still looked up */
	/* the same file under two names: nothing happens */
	struct stat st;
	assert_int_equal(fs_link(t->fs, &t->root, g, a, "g2", &st), 0);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "g2", b, "h", 0), 0);
	assert_int_equal(lookup(t, a, "g2"), g);
	assert_int_equal(lookup(t, b, "h"), g);
	assert_int_equal(getattr(t, g).st_nlink, 2);
	/* NOREPLACE refuses an existing name even for the same file (Linux) */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "g2", b, "h", FS_RENAME_NOREPLACE), -EEXIST);
	mk(t, a, "n", S_IFREG | 0644);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "n", b, "h", FS_RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "n", b, "new", FS_RENAME_NOREPLACE), 0);
	remount(t);
	assert_int_equal(lookup(t, b, "new") != 0, 1);
	assert_int_equal(lookup(t, b, "h"), g);
}

static void test_rename_dirs(void **state)
{
	struct t *t = *state;
	uint64_t a = mk(t, FS_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(t, FS_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t d = mk(t, a, "d", S_IFDIR | 0755);
	uint64_t dd = mk(t, d, "dd", S_IFDIR | 0755);
	uint64_t f = mk(t, b, "f", S_IFREG | 0644);
	assert_int_equal(getattr(t, a).st_nlink, 3);
	assert_int_equal(getattr(t, b).st_nlink, 2);
	/* into its own subtree */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "d", d, "x", 0), -EINVAL);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "d", dd, "x", 0), -EINVAL);
	assert_int_equal(fs_rename(t->fs, &t->root, FS_ROOT_INO, "a", dd, "x", 0), -EINVAL);
	/* dir over file / file over dir */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "d", b, "f", 0), -ENOTDIR);
	assert_int_equal(fs_rename(t->fs, &t->root, b, "f", a, "d", 0), -EISDIR);
	/* over a non-empty dir */
	uint64_t e = mk(t, b, "e", S_IFDIR | 0755);
	mk(t, e, "inside", S_IFREG | 0644);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "d", b, "e", 0), -ENOTEMPTY);
	assert_int_equal(fs_unlink(t->fs, &t->root, e, "inside"), 0);
	/* over an empty dir: nlinks */
	assert_int_equal(getattr(t, b).st_nlink, 3);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "d", b, "e", 0), 0);
	assert_int_equal(getattr(t, a).st_nlink, 2);
	assert_int_equal(getattr(t, b).st_nlink, 3);
	assert_false(has_inode(t, e));
	assert_int_equal(lookup(t, b, "e"), d);
	assert_int_equal(lookup(t, d, ".."), b);
	assert_int_equal(lookup(t, dd, ".."), d);
	/* move a dir up and check ".." persists */
	assert_int_equal(fs_rename(t->fs, &t->root, d, "dd", FS_ROOT_INO, "top", 0), 0);
	assert_int_equal(getattr(t, FS_ROOT_INO).st_nlink, 5);
	assert_int_equal(getattr(t, d).st_nlink, 2);
	remount(t);
	assert_int_equal(lookup(t, dd, ".."), FS_ROOT_INO);
	assert_int_equal(lookup(t, d, ".."), b);
	assert_int_equal(getattr(t, FS_ROOT_INO).st_nlink, 5);
	(void)f;
}

static void test_rename_exchange(void **state)
{
	struct t *t = *state;
	uint64_t a = mk(t, FS_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(t, FS_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t f = mk(t, a, "f", S_IFREG | 0644);
	uint64_t d = mk(t, b, "d", S_IFDIR | 0755);
	mk(t, d, "keep", S_IFREG | 0644);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "f", b, "none", FS_RENAME_EXCHANGE), -ENOENT);
	/* exchange a file and a non-empty dir across dirs */
	assert_int_equal(fs_rename(t->fs, &t->root, a, "f", b, "d", FS_RENAME_EXCHANGE), 0);
	assert_int_equal(lookup(t, a, "f"), d);
	assert_int_equal(lookup(t, b, "d"), f);
	assert_int_equal(getattr(t, a).st_nlink, 3);
	assert_int_equal(getattr(t, b).st_nlink, 2);
	assert_int_equal(lookup(t, d, ".."), a);
	assert_true(lookup(t, d, "keep") != 0);
	/* exchange that would put a dir inside itself */
	uint64_t sub = mk(t, d, "sub", S_IFDIR | 0755);
	mk(t, sub, "x", S_IFREG | 0644);
	assert_int_equal(fs_rename(t->fs, &t->root, a, "f", sub, "x", FS_RENAME_EXCHANGE), -EINVAL);
	/* within one dir */
	mk(t, b, "y", S_IFREG | 0600);
	uint64_t y = lookup(t, b, "y");
	assert_int_equal(fs_rename(t->fs, &t->root, b, "y", b, "d", FS_RENAME_EXCHANGE), 0);
	assert_int_equal(lookup(t, b, "y"), f);
	assert_int_equal(lookup(t, b, "d"), y);
	remount(t);
	assert_int_equal(lookup(t, a, "f"), d);
	assert_int_equal(lookup(t, d, ".."), a);
	assert_int_equal(getattr(t, a).st_nlink, 3);
}

/* ---- data ------------------------------------------------------------------------ */

static void test_inline_to_blocks(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	char buf[10000], got[10000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	pwrite_all(t, fh, buf, 60, 0);	/* inline (limit 64) */
	struct stat st = getattr(t, f);
	assert_int_equal(st.st_size, 60);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	assert_int_equal(pread_n(t, fh, got, 100, 0), 60);
	assert_memory_equal(got, buf, 60);
	pwrite_all(t, fh, buf + 60, 9940, 60);	/* leaves inline */
	st = getattr(t, f);
	assert_int_equal(st.st_size, 10000);
	assert_int_equal(st.st_blocks, 3 * 8);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 3);
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 10000);
	assert_memory_equal(got, buf, 10000);
	/* a read across blocks from the middle, and a read past the end */
	assert_int_equal(pread_n(t, fh, got, 5000, 3000), 5000);
	assert_memory_equal(got, buf + 3000, 5000);
	assert_int_equal(pread_n(t, fh, got, 10, 10000), 0);
	assert_int_equal(pread_n(t, fh, got, 10, 20000), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	remount(t);
	fh = open_rw(t, f);
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 10000);
	assert_memory_equal(got, buf, 10000);
	/* inline data far away: the small file's bytes move to block 0 */
	uint64_t g = mk(t, FS_ROOT_INO, "g", S_IFREG | 0644);
	uint64_t gh = open_rw(t, g);
	pwrite_all(t, gh, "small", 5, 0);
	pwrite_all(t, gh, "far", 3, 100000);
	assert_int_equal(pread_n(t, gh, got, 5, 0), 5);
	assert_memory_equal(got, "small", 5);
	assert_int_equal(pread_n(t, gh, got, 200, 99990), 13);
	for (int i = 0; i < 10; i++)
		assert_int_equal(got[i], 0);
	assert_memory_equal(got + 10, "far", 3);
	st = getattr(t, g);
	assert_int_equal(st.st_blocks, 2 * 8);	/* sparse: 2 blocks */
	assert_int_equal(fs_release(t->fs, gh), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	/* deleting a big file drops its blocks */
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "f"), 0);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
}

static void test_large_offsets(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "big", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	uint64_t off = (UINT64_C(5) << 30) + 123;	/* past 4 GiB */
	pwrite_all(t, fh, "beyond4g", 8, off);
	struct stat st = getattr(t, f);
	assert_true((uint64_t)st.st_size == off + 8);
	assert_int_equal(st.st_blocks, 8);
	char buf[32];
	assert_int_equal(pread_n(t, fh, buf, 32, off - 4), 12);
	assert_memory_equal(buf, "\0\0\0\0beyond4g", 12);
	assert_int_equal(pread_n(t, fh, buf, 8, UINT64_C(1) << 31), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0);
	uint64_t r;
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA, &r), 0);
	assert_true(r == (off & ~UINT64_C(4095)));
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_HOLE, &r), 0);
	assert_true(r == 0);
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->root, fh, "x", 1, (uint64_t)INT64_MAX, 0, &w), -EFBIG);
	assert_int_equal(fs_release(t->fs, fh), 0);
	remount(t);
	assert_true((uint64_t)getattr(t, f).st_size == off + 8);
}

static void test_truncate(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	char buf[20000], got[20000];
	memset(buf, 'a', sizeof(buf));
	pwrite_all(t, fh, buf, sizeof(buf), 0);	/* 5 blocks */
	struct stat in, st;
	memset(&in, 0, sizeof(in));
	in.st_size = 5000;
	struct stat before = getattr(t, f);
	tick();
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	assert_int_equal(st.st_size, 5000);
	assert_int_equal(st.st_blocks, 2 * 8);
	assert_true(ts_lt(before.st_mtim, st.st_mtim));
	assert_true(ts_lt(before.st_ctim, st.st_ctim));
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 2);
	/* extend: the old bytes past 5000 must read as zeros */
	in.st_size = 12000;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, fh, &st), 0);
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 12000);
	for (int i = 0; i < 12000; i++)
		assert_int_equal(got[i], i < 5000 ? 'a' : 0);
	assert_int_equal(st.st_blocks, 2 * 8);
	/* truncate to 0: back to inline, no blocks */
	in.st_size = 0;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	pwrite_all(t, fh, "tiny", 4, 0);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	/* inline truncate up and down */
	in.st_size = 40;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	in.st_size = 2;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	in.st_size = 8;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	assert_int_equal(pread_n(t, fh, got, 100, 0), 8);
	assert_memory_equal(got, "ti\0\0\0\0\0\0", 8);
	/* inline to blocks by truncate */
	in.st_size = 100000;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	assert_int_equal(pread_n(t, fh, got, 8, 0), 8);
	assert_memory_equal(got, "ti\0\0\0\0\0\0", 8);
	assert_int_equal(pread_n(t, fh, got, 10, 99995), 5);
	/* errors */
	in.st_size = -1;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), -EINVAL);
	in.st_size = 10;
	assert_int_equal(fs_setattr(t->fs, &t->root, FS_ROOT_INO, &in, FS_SET_SIZE, 0, &st), -EISDIR);
	assert_int_equal(fs_release(t->fs, fh), 0);
	/* O_TRUNC */
	assert_int_equal(fs_open(t->fs, &t->root, f, O_WRONLY | O_TRUNC, &fh), 0);
	assert_int_equal(getattr(t, f).st_size, 0);
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	assert_int_equal(fs_read(t->fs, fh, got, 1, 0, &(size_t){0}), -EBADF);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(fs_open(t->fs, &t->root, f, O_RDONLY, &fh), 0);
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->root, fh, "x", 1, 0, 0, &w), -EBADF);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_partial_truncate_sparse(void **state)
{
	struct t *t = *state;
	/* setup_small: 512-byte blocks, no inline data */
	uint64_t f = mk(t, FS_ROOT_INO, "s", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	char buf[512];
	memset(buf, 'z', sizeof(buf));
	pwrite_all(t, fh, buf, 512, 0);
	pwrite_all(t, fh, buf, 512, 512 * 10);
	pwrite_all(t, fh, buf, 100, 512 * 20 + 50);
	struct stat st = getattr(t, f);
	assert_int_equal(st.st_blocks, 3);
	assert_int_equal(st.st_size, 512 * 20 + 150);
	/* shrink into block 10 (sparse: the dropped count is scanned) */
	struct stat in = { .st_size = 512 * 10 + 7 };
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	assert_int_equal(st.st_blocks, 2);
	in.st_size = 512 * 11;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, 0, &st), 0);
	char got[600];
	assert_int_equal(pread_n(t, fh, got, 512, 512 * 10), 512);
	for (int i = 0; i < 512; i++)
		assert_int_equal(got[i], i < 7 ? 'z' : 0);
	/* overwrite a hole with a full block: counted */
	pwrite_all(t, fh, buf, 512, 512 * 5);
	assert_int_equal(getattr(t, f).st_blocks, 3);
	/* overwrite an existing full block: not counted twice */
	pwrite_all(t, fh, buf, 512, 512 * 5);
	assert_int_equal(getattr(t, f).st_blocks, 3);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_fallocate_seek(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "fa", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	uint64_t r;
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA, &r), -ENXIO);
	/* mode 0: allocate and extend */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, 0, 4096, 8192), 0);
	struct stat st = getattr(t, f);
	assert_int_equal(st.st_size, 12288);
	assert_int_equal(st.st_blocks, 16);
	char got[16384];
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 12288);
	for (int i = 0; i < 12288; i++)
		assert_int_equal(got[i], 0);
	/* SEEK_DATA / SEEK_HOLE over [hole 0-4096)[data 4096-12288) */
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 4096);
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 0);
	assert_int_equal(fs_lseek(t->fs, fh, 5000, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 12288);
	assert_int_equal(fs_lseek(t->fs, fh, 5000, SEEK_DATA, &r), 0);
	assert_int_equal(r, 5000);
	assert_int_equal(fs_lseek(t->fs, fh, 12288, SEEK_DATA, &r), -ENXIO);
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_SET, &r), -EINVAL);
	/* KEEP_SIZE past the end: blocks but no size */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_KEEP_SIZE, 12288, 8192), 0);
	st = getattr(t, f);
	assert_int_equal(st.st_size, 12288);
	assert_int_equal(st.st_blocks, 32);
	/* a write into the preallocated range does not count again */
	pwrite_all(t, fh, "data", 4, 13000);
	st = getattr(t, f);
	assert_int_equal(st.st_blocks, 32);
	assert_int_equal(st.st_size, 13004);
	/* punch a hole over block 1..2 (bytes 4096..12288) */
	char buf[13004];
	memset(buf, 'q', sizeof(buf));
	pwrite_all(t, fh, buf, sizeof(buf), 0);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      4096, 8192), 0);
	st = getattr(t, f);
	assert_int_equal(st.st_size, 13004);
	assert_int_equal(st.st_blocks, 3 * 8);	/* 0, 3 and 4 (past the end) */
	assert_int_equal(fs_lseek(t->fs, fh, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 4096);
	assert_int_equal(fs_lseek(t->fs, fh, 4096, SEEK_DATA, &r), 0);
	assert_int_equal(r, 12288);
	/* an unaligned punch zeroes the edges in place */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      100, 50), 0);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      12290, 3), 0);
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 13004);
	for (int i = 0; i < 13004; i++) {
		char want = (i >= 100 && i < 150) || (i >= 4096 && i < 12288) ||
				    (i >= 12290 && i < 12293) ? 0 : 'q';
		if (got[i] != want)
			fail_msg("byte %d: %d want %d", i, got[i], want);
	}
	/* ZERO_RANGE: zeros, allocated, and may extend */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_ZERO_RANGE, 0, 20000), 0);
	st = getattr(t, f);
	assert_int_equal(st.st_size, 20000);
	assert_int_equal(st.st_blocks, 5 * 8);
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), 16384);
	for (int i = 0; i < 16384; i++)
		assert_int_equal(got[i], 0);
	/* unsupported modes */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_PUNCH_HOLE, 0, 10), -EOPNOTSUPP);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, 0x40, 0, 10), -EOPNOTSUPP);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, 0, 0, 0), -EINVAL);
	assert_int_equal(fs_release(t->fs, fh), 0);

	/* an inline file: fallocate within the limit keeps it inline */
	uint64_t g = mk(t, FS_ROOT_INO, "g", S_IFREG | 0644);
	fh = open_rw(t, g);
	pwrite_all(t, fh, "abc", 3, 0);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, 0, 0, 50), 0);
	assert_int_equal(getattr(t, g).st_size, 50);
	assert_int_equal(engine_count(t, FS_K_BLOCK, g), 0);
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1, 1), 0);
	assert_int_equal(pread_n(t, fh, got, 3, 0), 3);
	assert_memory_equal(got, "a\0c", 3);
	assert_int_equal(fs_lseek(t->fs, fh, 10, SEEK_DATA, &r), 0);
	assert_int_equal(r, 10);
	assert_int_equal(fs_lseek(t->fs, fh, 10, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 50);
	/* ... and past it moves to blocks, keeping the bytes */
	assert_int_equal(fs_fallocate(t->fs, &t->root, fh, 0, 0, 9000), 0);
	assert_int_equal(getattr(t, g).st_blocks, 3 * 8);
	assert_int_equal(pread_n(t, fh, got, 3, 0), 3);
	assert_memory_equal(got, "a\0c", 3);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_append_and_copy(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh;
	assert_int_equal(fs_open(t->fs, &t->root, f, O_WRONLY | O_APPEND, &fh), 0);
	pwrite_all(t, fh, "one", 3, 0);
	pwrite_all(t, fh, "two", 3, 0);	/* offset ignored */
	assert_int_equal(fs_release(t->fs, fh), 0);
	fh = open_rw(t, f);
	char buf[100000];
	assert_int_equal(pread_n(t, fh, buf, 10, 0), 6);
	assert_memory_equal(buf, "onetwo", 6);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i % 251);
	pwrite_all(t, fh, buf, sizeof(buf), 0);
	uint64_t g = mk(t, FS_ROOT_INO, "g", S_IFREG | 0644);
	uint64_t gh = open_rw(t, g);
	size_t copied;
	assert_int_equal(fs_copy_file_range(t->fs, &t->root, fh, 10, gh, 5, 200000, 0, &copied), 0);
	assert_int_equal(copied, sizeof(buf) - 10);
	char got[100000];
	assert_int_equal(pread_n(t, gh, got, sizeof(got), 0), sizeof(buf) - 5);
	assert_memory_equal(got, "\0\0\0\0\0", 5);
	assert_memory_equal(got + 5, buf + 10, sizeof(buf) - 10);
	assert_int_equal(fs_copy_file_range(t->fs, &t->root, fh, 0, fh, 10, 100, 0, &copied), -EINVAL);
	assert_int_equal(fs_copy_file_range(t->fs, &t->root, fh, 0, gh, 0, 10, 1, &copied), -EINVAL);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_int_equal(fs_release(t->fs, gh), 0);
}

/* ---- attributes and permissions ------------------------------------------------- */

static void test_setattr_times_owner(void **state)
{
	struct t *t = *state;
	struct stat in, st;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	memset(&in, 0, sizeof(in));
	in.st_atim.tv_sec = 1000;
	in.st_atim.tv_nsec = 5;
	in.st_mtim.tv_sec = 2000;
	in.st_mtim.tv_nsec = 7;
	struct stat before = getattr(t, f);
	tick();
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_ATIME | FS_SET_MTIME, 0, &st), 0);
	assert_true(st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5);
	assert_true(st.st_mtim.tv_sec == 2000 && st.st_mtim.tv_nsec == 7);
	assert_true(ts_lt(before.st_ctim, st.st_ctim));
	/* UTIME_OMIT keeps, UTIME_NOW sets now */
	in.st_atim.tv_nsec = UTIME_OMIT;
	in.st_mtim.tv_nsec = UTIME_NOW;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_ATIME | FS_SET_MTIME, 0, &st), 0);
	assert_true(st.st_atim.tv_sec == 1000);
	assert_true(st.st_mtim.tv_sec > 2000);
	remount(t);
	st = getattr(t, f);
	assert_true(st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5);

	/* ownership rules */
	in.st_uid = 1000;
	in.st_gid = 1000;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_UID, 0, &st), -EPERM);
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_UID | FS_SET_GID, 0, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	/* the owner moves it to a group it is in, not to another */
	in.st_gid = 1001;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_GID, 0, &st), -EPERM);
	in.st_gid = 1000;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_GID, 0, &st), 0);
	/* bob (in group 1000) may not chown alice's file */
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_GID, 0, &st), -EPERM);
	/* chmod: owner or root */
	in.st_mode = 0600;
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_MODE, 0, &st), -EPERM);
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	/* times: bob can't set explicit times; with write permission he may
	 * set them to now */
	in.st_atim.tv_nsec = UTIME_NOW;
	in.st_mtim.tv_nsec = UTIME_NOW;
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_ATIME | FS_SET_MTIME, 0, &st), -EACCES);
	in.st_mode = 0660;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_ATIME | FS_SET_MTIME, 0, &st), 0);
	in.st_mtim.tv_sec = 5;
	in.st_mtim.tv_nsec = 0;
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_MTIME, 0, &st), -EPERM);
	/* truncate by a non-owner with write permission */
	in.st_size = 3;
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_SIZE, 0, &st), 0);
	in.st_mode = 0640;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_setattr(t->fs, &t->bob, f, &in, FS_SET_SIZE, 0, &st), -EACCES);
}

static void test_suid_sgid(void **state)
{
	struct t *t = *state;
	struct stat in, st;
	memset(&in, 0, sizeof(in));
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	in.st_uid = 1000;
	in.st_gid = 1000;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_UID | FS_SET_GID, 0, &st), 0);
	in.st_mode = 06775;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(st.st_mode & 07777, 06775);
	/* a write by a non-root user clears both (setgid: group-exec set) */
	uint64_t fh;
	assert_int_equal(fs_open(t->fs, &t->alice, f, O_WRONLY, &fh), 0);
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->alice, fh, "x", 1, 0, 0, &w), 0);
	assert_int_equal(getattr(t, f).st_mode & 07777, 0775);
	/* root's writes keep them, unless the kernel asks */
	in.st_mode = 06775;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_write(t->fs, &t->root, fh, "x", 1, 0, 0, &w), 0);
	assert_int_equal(getattr(t, f).st_mode & 07777, 06775);
	assert_int_equal(fs_write(t->fs, &t->root, fh, "x", 1, 0, FS_WRITE_KILL_PRIV, &w), 0);
	assert_int_equal(getattr(t, f).st_mode & 07777, 0775);
	/* setgid without group-exec survives a write */
	in.st_mode = 02764;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_write(t->fs, &t->alice, fh, "x", 1, 0, 0, &w), 0);
	assert_int_equal(getattr(t, f).st_mode & 07777, 02764);
	assert_int_equal(fs_release(t->fs, fh), 0);
	/* chown clears setuid, even by root */
	in.st_mode = 04755;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_MODE, 0, &st), 0);
	in.st_uid = 1001;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_UID, 0, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* chmod g+s by a user not in the group drops the bit */
	in.st_uid = 1000;
	in.st_gid = 1001;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_UID | FS_SET_GID, 0, &st), 0);
	in.st_mode = 02755;
	assert_int_equal(fs_setattr(t->fs, &t->alice, f, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* setgid directory: gid inherited, subdirs keep the bit */
	uint64_t d = mk(t, FS_ROOT_INO, "sg", S_IFDIR | 0777);
	in.st_gid = 4242;
	in.st_mode = 02777;
	assert_int_equal(fs_setattr(t->fs, &t->root, d, &in, FS_SET_GID, 0, &st), 0);
	assert_int_equal(fs_setattr(t->fs, &t->root, d, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_mknod(t->fs, &t->alice, d, "file", S_IFREG | 0644, 0, &st), 0);
	assert_int_equal(st.st_gid, 4242);
	assert_int_equal(st.st_uid, 1000);
	assert_false(st.st_mode & S_ISGID);
	assert_int_equal(fs_mkdir(t->fs, &t->alice, d, "sub", 0755, &st), 0);
	assert_int_equal(st.st_gid, 4242);
	assert_true(st.st_mode & S_ISGID);
	/* a non-member creating a setgid+group-exec file loses the bit */
	assert_int_equal(fs_mknod(t->fs, &t->alice, d, "sgf", S_IFREG | 02755, 0, &st), 0);
	assert_false(st.st_mode & S_ISGID);
}

static void test_permissions(void **state)
{
	struct t *t = *state;
	struct stat st, in;
	memset(&in, 0, sizeof(in));
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);	/* root's */
	assert_int_equal(fs_mknod(t->fs, &t->alice, d, "x", S_IFREG | 0644, 0, &st), -EACCES);
	assert_int_equal(fs_mkdir(t->fs, &t->alice, d, "x", 0755, &st), -EACCES);
	uint64_t f = mk(t, d, "f", S_IFREG | 0600);
	assert_int_equal(fs_unlink(t->fs, &t->alice, d, "f"), -EACCES);
	uint64_t fh;
	assert_int_equal(fs_open(t->fs, &t->alice, f, O_RDONLY, &fh), -EACCES);
	assert_int_equal(fs_access(t->fs, &t->alice, f, R_OK), -EACCES);
	assert_int_equal(fs_access(t->fs, &t->alice, f, F_OK), 0);
	assert_int_equal(fs_access(t->fs, &t->root, f, R_OK | W_OK), 0);
	assert_int_equal(fs_access(t->fs, &t->root, f, X_OK), -EACCES);
	assert_int_equal(fs_access(t->fs, &t->alice, d, R_OK | X_OK), 0);
	assert_int_equal(fs_access(t->fs, &t->alice, d, W_OK), -EACCES);
	/* search permission for lookup */
	in.st_mode = 0700;
	assert_int_equal(fs_setattr(t->fs, &t->root, d, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_lookup(t->fs, &t->alice, d, "f", &st), -EACCES);
	/* group and supplementary group */
	in.st_mode = 0070;
	in.st_gid = 1000;
	assert_int_equal(fs_setattr(t->fs, &t->root, d, &in, FS_SET_MODE | FS_SET_GID, 0, &st), 0);
	assert_int_equal(fs_mknod(t->fs, &t->bob, d, "bobs", S_IFREG | 0644, 0, &st), 0);
	assert_int_equal(fs_access(t->fs, &t->alice, d, W_OK), 0);
	/* sticky: bob may not remove alice's file in a shared dir */
	uint64_t tmp = mk(t, FS_ROOT_INO, "tmp", S_IFDIR | 0777);
	in.st_mode = 01777;
	assert_int_equal(fs_setattr(t->fs, &t->root, tmp, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_mknod(t->fs, &t->alice, tmp, "af", S_IFREG | 0666, 0, &st), 0);
	assert_int_equal(fs_mknod(t->fs, &t->bob, tmp, "bf", S_IFREG | 0666, 0, &st), 0);
	assert_int_equal(fs_unlink(t->fs, &t->bob, tmp, "af"), -EPERM);
	assert_int_equal(fs_rename(t->fs, &t->bob, tmp, "af", tmp, "stolen", 0), -EPERM);
	assert_int_equal(fs_rename(t->fs, &t->bob, tmp, "bf", tmp, "af", 0), -EPERM);
	assert_int_equal(fs_rename(t->fs, &t->bob, tmp, "bf", tmp, "bf2", 0), 0);
	assert_int_equal(fs_unlink(t->fs, &t->alice, tmp, "af"), 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, tmp, "bf2"), 0);
	/* kernel_permissions: the generic checks are the kernel's */
	remount(t);
	assert_int_equal(fs_unmount(t->fs), 0);
	t->mo.kernel_permissions = true;
	do_mount(t);
	assert_int_equal(fs_mknod(t->fs, &t->alice, FS_ROOT_INO, "k", S_IFREG | 0644, 0, &st), 0);
	assert_int_equal(fs_access(t->fs, &t->alice, f, R_OK), -EACCES);	/* always checks */
	/* ... and clears setuid on write only when the kernel asks */
	uint64_t k = lookup(t, FS_ROOT_INO, "k");
	in.st_mode = 04755;
	assert_int_equal(fs_setattr(t->fs, &t->alice, k, &in, FS_SET_MODE, 0, &st), 0);
	assert_int_equal(fs_open(t->fs, &t->alice, k, O_WRONLY, &fh), 0);
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->alice, fh, "x", 1, 0, 0, &w), 0);
	assert_int_equal(getattr(t, k).st_mode & 07777, 04755);
	assert_int_equal(fs_write(t->fs, &t->alice, fh, "x", 1, 0, FS_WRITE_KILL_PRIV, &w), 0);
	assert_int_equal(getattr(t, k).st_mode & 07777, 0755);
	assert_int_equal(fs_release(t->fs, fh), 0);
	t->mo.kernel_permissions = false;
}

/* ---- xattrs ------------------------------------------------------------------------ */

static void test_xattrs(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	char buf[256];
	size_t len;
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.a", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(fs_listxattr(t->fs, &t->root, f, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	struct stat before = getattr(t, f);
	tick();
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.a", "1", 1, 0), 0);
	assert_true(ts_lt(before.st_ctim, getattr(t, f).st_ctim));
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.a", "2", 1, XATTR_CREATE), -EEXIST);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.b", "2", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.b", "bee", 3, XATTR_CREATE), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.a", "one", 3, XATTR_REPLACE), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.empty", "", 0, 0), 0);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.a", NULL, 0, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.a", buf, 2, &len), -ERANGE);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.a", buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.empty", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(fs_listxattr(t->fs, &t->root, f, NULL, 0, &len), 0);
	assert_int_equal(len, 7 + 7 + 11);
	assert_int_equal(fs_listxattr(t->fs, &t->root, f, buf, 5, &len), -ERANGE);
	assert_int_equal(fs_listxattr(t->fs, &t->root, f, buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, "user.a\0user.b\0user.empty\0", 25);
	/* namespaces and limits */
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "bogus.x", "1", 1, 0), -EOPNOTSUPP);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.", "1", 1, 0), -EINVAL);
	char big[FS_XATTR_SIZE_MAX + 1];
	memset(big, 'v', sizeof(big));
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.big", big, sizeof(big), 0), -E2BIG);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.big", big, sizeof(big) - 1, 0), 0);
	char lname[300];
	memset(lname, 'n', sizeof(lname));
	memcpy(lname, "user.", 5);
	lname[256] = 0;
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, lname, "1", 1, 0), -ERANGE);
	assert_int_equal(fs_setxattr(t->fs, &t->alice, f, "trusted.t", "1", 1, 0), -EPERM);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "trusted.t", "1", 1, 0), 0);
	assert_int_equal(fs_getxattr(t->fs, &t->alice, f, "trusted.t", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(fs_listxattr(t->fs, &t->alice, f, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 7 + 7 + 11 + 9);	/* no trusted.t */
	assert_int_equal(fs_setxattr(t->fs, &t->alice, f, "user.x", "1", 1, 0), -EACCES);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "system.posix_acl_access", "\2\0\0\0", 4, 0), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "system.posix_acl_default", "\2\0\0\0", 4, 0), -EACCES);
	assert_int_equal(fs_setxattr(t->fs, &t->root, FS_ROOT_INO, "system.posix_acl_default", "\2\0\0\0", 4, 0), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->alice, f, "system.posix_acl_access", "\2\0\0\0", 4, 0), -EPERM);
	struct stat st;
	assert_int_equal(fs_symlink(t->fs, &t->root, "t", FS_ROOT_INO, "l", &st), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, st.st_ino, "user.x", "1", 1, 0), -EPERM);
	assert_int_equal(fs_setxattr(t->fs, &t->root, st.st_ino, "trusted.x", "1", 1, 0), 0);
	/* remove */
	assert_int_equal(fs_removexattr(t->fs, &t->root, f, "user.b"), 0);
	assert_int_equal(fs_removexattr(t->fs, &t->root, f, "user.b"), -ENODATA);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.b", buf, sizeof(buf), &len), -ENODATA);
	remount(t);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.a", buf, sizeof(buf), &len), 0);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(fs_getxattr(t->fs, &t->root, f, "user.big", NULL, 0, &len), 0);
	assert_int_equal(len, FS_XATTR_SIZE_MAX);
	/* deleting the inode deletes its xattrs */
	assert_true(engine_count(t, FS_K_XATTR, f) > 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "f"), 0);
	assert_int_equal(engine_count(t, FS_K_XATTR, f), 0);
}

/* ---- readdir ------------------------------------------------------------------------- */

static void test_readdir_offsets(void **state)
{
	struct t *t = *state;
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	char name[32];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		mk(t, d, name, i % 10 ? S_IFREG | 0644 : S_IFDIR | 0755);
	}
	struct names all;
	list_dir(t, d, &all);
	assert_int_equal(all.count, 102);
	assert_string_equal(all.n[0], ".");
	assert_int_equal(all.ino[0], d);
	assert_string_equal(all.n[1], "..");
	assert_int_equal(all.ino[1], FS_ROOT_INO);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		assert_int_equal(find_name(&all, name), 1);
	}
	/* resume in pieces of 7 while the directory changes */
	uint64_t fh;
	struct names ns;
	memset(&ns, 0, sizeof(ns));
	ns.limit = 7;
	assert_int_equal(fs_opendir(t->fs, &t->root, d, O_RDONLY, &fh), 0);
	uint64_t off = 0;
	int round = 0;
	for (;;) {
		int before = ns.count;
		ns.taken = 0;
		assert_int_equal(fs_readdir(t->fs, fh, off, collect, &ns), 0);
		if (ns.count == before)
			break;
		off = ns.off[ns.count - 1];
		/* churn: delete one old entry, add two new ones */
		snprintf(name, sizeof(name), "e%03d", 99 - round);
		if ((99 - round) % 10)
			assert_int_equal(fs_unlink(t->fs, &t->root, d, name), 0);
		snprintf(name, sizeof(name), "new%03d", round);
		mk(t, d, name, S_IFREG | 0644);
		snprintf(name, sizeof(name), "a%03d", round);
		mk(t, d, name, S_IFREG | 0644);
		round++;
	}
	/* the snapshot listing: exactly the original entries, once each */
	assert_int_equal(ns.count, 102);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		assert_int_equal(find_name(&ns, name), 1);
	}
	/* seek back to an earlier offset: same entries again */
	struct names again;
	memset(&again, 0, sizeof(again));
	again.limit = 3;
	assert_int_equal(fs_readdir(t->fs, fh, ns.off[49], collect, &again), 0);
	assert_int_equal(again.count, 3);
	assert_string_equal(again.n[0], ns.n[50]);
	assert_string_equal(again.n[2], ns.n[52]);
	/* rewind: a fresh snapshot shows the changes */
	memset(&again, 0, sizeof(again));
	assert_int_equal(fs_readdir(t->fs, fh, 0, collect, &again), 0);
	assert_int_equal(find_name(&again, "new000"), 1);
	assert_int_equal(find_name(&again, "a000"), 1);
	assert_int_equal(find_name(&again, "e099"), 0);
	assert_int_equal(fs_releasedir(t->fs, fh), 0);
	/* opendir on a file */
	uint64_t f = lookup(t, d, "e001");
	assert_int_equal(fs_opendir(t->fs, &t->root, f, O_RDONLY, &fh), -ENOTDIR);
}

static int plus_cb(void *ctx, const char *name, uint64_t ino, mode_t type,
		   uint64_t next_off, const struct stat *st)
{
	(void)next_off;
	int *n = ctx;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		assert_null(st);
		return 0;
	}
	assert_non_null(st);
	assert_int_equal(st->st_ino, ino);
	assert_int_equal(st->st_mode & S_IFMT, type);
	if (*n == 3)
		return 1;	/* buffer full: this one is not taken */
	(*n)++;
	return 0;
}

static void test_readdirplus_lookups(void **state)
{
	struct t *t = *state;
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	struct stat st;
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "a", S_IFREG | 0644, 0, &st), 0);
	uint64_t a = st.st_ino;
	fs_forget(t->fs, a, 1);
	for (int i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "f%d", i);
		mk(t, d, name, S_IFREG | 0644);
	}
	fs_stats s0;
	assert_int_equal(fs_stats_get(t->fs, &s0), 0);
	uint64_t fh;
	assert_int_equal(fs_opendir(t->fs, &t->root, d, O_RDONLY, &fh), 0);
	int n = 0;
	assert_int_equal(fs_readdirplus(t->fs, fh, 0, plus_cb, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(fs_releasedir(t->fs, fh), 0);
	/* a was not in the cache and was counted by readdirplus: one forget
	 * frees it again */
	assert_int_equal(fs_unlink(t->fs, &t->root, d, "a"), 0);
	assert_int_equal(fs_getattr(t->fs, a, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	fs_forget(t->fs, a, 1);
	assert_int_equal(fs_getattr(t->fs, a, &st), -ENOENT);
}

/* ---- open-unlinked files and orphans ------------------------------------------------- */

static void test_open_unlinked(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	char buf[20000];
	memset(buf, 'o', sizeof(buf));
	pwrite_all(t, fh, buf, sizeof(buf), 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "f"), 0);
	struct stat st;
	assert_int_equal(fs_lookup(t->fs, &t->root, FS_ROOT_INO, "f", &st), -ENOENT);
	assert_true(has_orphan(t, f));
	assert_true(has_inode(t, f));
	assert_int_equal(getattr(t, f).st_nlink, 0);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.orphans, 1);
	/* reads and writes go on */
	char got[20000];
	assert_int_equal(pread_n(t, fh, got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, buf, sizeof(got));
	pwrite_all(t, fh, "more", 4, 20000);
	assert_int_equal(getattr(t, f).st_size, 20004);
	struct stat in = { .st_size = 10000 };
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_SIZE, fh, &st), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.o", "x", 1, 0), 0);
	/* a second open of the unlinked inode (as /proc/self/fd) */
	uint64_t fh2;
	assert_int_equal(fs_open(t->fs, &t->root, f, O_RDONLY, &fh2), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_true(has_inode(t, f));
	assert_int_equal(pread_n(t, fh2, got, 10, 0), 10);
	assert_int_equal(fs_release(t->fs, fh2), 0);
	/* the last release deletes everything at once */
	assert_false(has_inode(t, f));
	assert_false(has_orphan(t, f));
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	assert_int_equal(engine_count(t, FS_K_XATTR, f), 0);
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.orphans, 0);
	assert_int_equal(s.files, 0);
	assert_int_equal(fs_open(t->fs, &t->root, f, O_RDONLY, &fh2), -ENOENT);
	/* rename over an open file orphans it the same way */
	uint64_t g = mk(t, FS_ROOT_INO, "g", S_IFREG | 0644);
	mk(t, FS_ROOT_INO, "h", S_IFREG | 0644);
	fh = open_rw(t, g);
	assert_int_equal(fs_rename(t->fs, &t->root, FS_ROOT_INO, "h", FS_ROOT_INO, "g", 0), 0);
	assert_true(has_orphan(t, g));
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_false(has_inode(t, g));
	/* an open directory removed */
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	assert_int_equal(fs_opendir(t->fs, &t->root, d, O_RDONLY, &fh), 0);
	assert_int_equal(fs_rmdir(t->fs, &t->root, FS_ROOT_INO, "d"), 0);
	assert_true(has_orphan(t, d));
	struct names ns;
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(fs_readdir(t->fs, fh, 0, collect, &ns), 0);
	assert_int_equal(ns.count, 0);
	assert_int_equal(fs_mknod(t->fs, &t->root, d, "x", S_IFREG, 0, &st), -ENOENT);
	assert_int_equal(fs_releasedir(t->fs, fh), 0);
	assert_false(has_inode(t, d));
	assert_false(has_orphan(t, d));
}

static void test_orphan_crash(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t keep = mk(t, FS_ROOT_INO, "keep", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	char buf[50000];
	memset(buf, 'c', sizeof(buf));
	pwrite_all(t, fh, buf, sizeof(buf), 0);
	assert_int_equal(fs_setxattr(t->fs, &t->root, f, "user.x", "1", 1, 0), 0);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "f"), 0);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	uint64_t last_ino = s.next_ino;
	/* crash: no release, no clean unmount */
	fs_abort(t->fs);
	t->fs = NULL;
	do_mount(t);
	assert_false(has_inode(t, f));
	assert_false(has_orphan(t, f));
	assert_int_equal(engine_count(t, FS_K_BLOCK, f), 0);
	assert_int_equal(engine_count(t, FS_K_XATTR, f), 0);
	assert_int_equal(lookup(t, FS_ROOT_INO, "keep"), keep);
	/* counters recounted; inode numbers not reused */
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.inodes, 2);
	assert_int_equal(s.files, 1);
	assert_int_equal(s.dirs, 1);
	assert_int_equal(s.orphans, 0);
	uint64_t n = mk(t, FS_ROOT_INO, "new", S_IFREG | 0644);
	assert_true(n >= last_ino);
	/* clean unmount with a handle open: the orphan stays on disk and the
	 * next mount reclaims it */
	fh = open_rw(t, n);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "new"), 0);
	remount(t);
	assert_false(has_inode(t, n));
	assert_false(has_orphan(t, n));
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.inodes, 2);
}

static void test_persistence(void **state)
{
	struct t *t = *state;
	uint64_t d = mk(t, FS_ROOT_INO, "dir", S_IFDIR | 0750);
	uint64_t f = mk(t, d, "file", S_IFREG | 0640);
	uint64_t fh = open_rw(t, f);
	pwrite_all(t, fh, "persist me", 10, 0);
	assert_int_equal(fs_fsync(t->fs, fh, false), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	struct stat in = { .st_uid = 7, .st_gid = 8 };
	struct stat st;
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_UID | FS_SET_GID, 0, &st), 0);
	struct stat before = getattr(t, f);
	for (int i = 0; i < 3; i++)
		remount(t);
	assert_int_equal(lookup(t, FS_ROOT_INO, "dir"), d);
	assert_int_equal(lookup(t, d, "file"), f);
	struct stat after = getattr(t, f);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_uid, 7);
	assert_int_equal(after.st_gid, 8);
	assert_int_equal(after.st_size, 10);
	assert_true(ts_eq(after.st_mtim, before.st_mtim));
	assert_true(ts_eq(after.st_ctim, before.st_ctim));
	fh = open_rw(t, f);
	char buf[16];
	assert_int_equal(pread_n(t, fh, buf, 16, 0), 10);
	assert_memory_equal(buf, "persist me", 10);
	assert_int_equal(fs_release(t->fs, fh), 0);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_true(s.inodes == 3 && s.files == 1 && s.dirs == 2);
	/* a crash (no clean unmount): the counters are recounted */
	mk(t, d, "more", S_IFIFO | 0600);
	fs_abort(t->fs);
	t->fs = NULL;
	do_mount(t);
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_true(s.inodes == 4 && s.files == 1 && s.dirs == 2 && s.specials == 1);
	assert_true(lookup(t, d, "more") != 0);
}

static void test_statfs_and_misc(void **state)
{
	struct t *t = *state;
	struct statvfs sv;
	assert_int_equal(fs_statfs(t->fs, &sv), 0);
	assert_int_equal(sv.f_bsize, 4096);
	assert_int_equal(sv.f_namemax, FS_NAME_MAX);
	assert_true(sv.f_blocks >= sv.f_bfree && sv.f_bfree >= sv.f_bavail);
	assert_true(sv.f_files > sv.f_ffree);
	uint64_t before = sv.f_files - sv.f_ffree;
	mk(t, FS_ROOT_INO, "x", S_IFREG | 0644);
	assert_int_equal(fs_statfs(t->fs, &sv), 0);
	assert_int_equal(sv.f_files - sv.f_ffree, before + 1);
	assert_int_equal(fs_flush_engine(t->fs, true), 0);
	assert_int_equal(fs_compact(t->fs), 0);
	assert_int_equal(fs_sync(t->fs), 0);
	assert_int_equal(lookup(t, FS_ROOT_INO, "x") != 0, 1);
	/* bad handles */
	size_t got;
	char b[4];
	assert_int_equal(fs_read(t->fs, 0, b, 4, 0, &got), -EBADF);
	assert_int_equal(fs_release(t->fs, 0), -EBADF);
	/* a handle pins the engine's sequence until released */
	uint64_t fh = open_rw(t, lookup(t, FS_ROOT_INO, "x"));
	uint64_t pinned = lsm_oldest_pinned_seq(fs_db(t->fs));
	mk(t, FS_ROOT_INO, "y", S_IFREG | 0644);
	assert_true(lsm_oldest_pinned_seq(fs_db(t->fs)) == pinned);
	assert_true(lsm_last_seq(fs_db(t->fs)) > pinned);
	assert_int_equal(fs_release(t->fs, fh), 0);
	assert_true(lsm_oldest_pinned_seq(fs_db(t->fs)) > pinned);
	/* read-only mount */
	assert_int_equal(fs_unmount(t->fs), 0);
	t->mo.read_only = true;
	do_mount(t);
	struct stat st;
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "z", S_IFREG, 0, &st), -EROFS);
	assert_int_equal(fs_open(t->fs, &t->root, lookup(t, FS_ROOT_INO, "x"), O_RDWR, &fh), -EROFS);
	assert_int_equal(fs_unlink(t->fs, &t->root, FS_ROOT_INO, "x"), -EROFS);
	assert_int_equal(fs_statfs(t->fs, &sv), 0);
	assert_true(sv.f_flag & ST_RDONLY);
	t->mo.read_only = false;
}

static void test_create_open(void **state)
{
	struct t *t = *state;
	struct stat st;
	uint64_t fh, fh2;
	/* create with a read-only mode still opens for writing */
	assert_int_equal(fs_create(t->fs, &t->alice, FS_ROOT_INO, "c", 0444, O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(st.st_mode & 0777, 0444 & ~022);
	size_t w;
	assert_int_equal(fs_write(t->fs, &t->alice, fh, "hi", 2, 0, 0, &w), 0);
	/* existing: O_EXCL fails, without it the file is opened */
	assert_int_equal(fs_create(t->fs, &t->alice, FS_ROOT_INO, "c", 0644, O_RDWR | O_CREAT | O_EXCL, &st, &fh2), -EEXIST);
	assert_int_equal(fs_create(t->fs, &t->alice, FS_ROOT_INO, "c", 0644, O_RDONLY | O_CREAT, &st, &fh2), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(fs_release(t->fs, fh2), 0);
	assert_int_equal(fs_create(t->fs, &t->alice, FS_ROOT_INO, "c", 0644, O_RDWR | O_CREAT, &st, &fh2), -EACCES);
	assert_int_equal(fs_create(t->fs, &t->root, FS_ROOT_INO, "c", 0644, O_RDWR | O_CREAT | O_TRUNC, &st, &fh2), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fs_release(t->fs, fh2), 0);
	assert_int_equal(fs_release(t->fs, fh), 0);
	mk(t, FS_ROOT_INO, "dir", S_IFDIR | 0755);
	assert_int_equal(fs_create(t->fs, &t->root, FS_ROOT_INO, "dir", 0644, O_RDONLY | O_CREAT, &st, &fh2), -EISDIR);
	assert_int_equal(fs_open(t->fs, &t->root, lookup(t, FS_ROOT_INO, "dir"), O_RDWR, &fh2), -EISDIR);
	/* O_NOATIME only for the owner */
	assert_int_equal(fs_open(t->fs, &t->bob, lookup(t, FS_ROOT_INO, "c"), O_RDONLY | O_NOATIME, &fh2), -EPERM);
}

static void test_atime_relatime(void **state)
{
	struct t *t = *state;
	uint64_t f = mk(t, FS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t fh = open_rw(t, f);
	pwrite_all(t, fh, "abc", 3, 0);
	struct stat in, st;
	memset(&in, 0, sizeof(in));
	in.st_atim.tv_sec = 100;	/* older than mtime */
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_ATIME, 0, &st), 0);
	char b[3];
	pread_n(t, fh, b, 3, 0);
	struct stat a1 = getattr(t, f);
	assert_true(a1.st_atim.tv_sec > 100);
	assert_false(ts_lt(a1.st_atim, a1.st_mtim));
	/* now newer than mtime/ctime and recent: a read leaves it */
	tick();
	pread_n(t, fh, b, 3, 0);
	assert_true(ts_eq(getattr(t, f).st_atim, a1.st_atim));
	assert_int_equal(fs_release(t->fs, fh), 0);
	/* O_NOATIME */
	assert_int_equal(fs_setattr(t->fs, &t->root, f, &in, FS_SET_ATIME, 0, &st), 0);
	assert_int_equal(fs_open(t->fs, &t->root, f, O_RDONLY | O_NOATIME, &fh), 0);
	pread_n(t, fh, b, 3, 0);
	assert_int_equal(getattr(t, f).st_atim.tv_sec, 100);
	assert_int_equal(fs_release(t->fs, fh), 0);
}

static void test_forget_frees_cache(void **state)
{
	struct t *t = *state;
	fs_stats s0, s1;
	assert_int_equal(fs_stats_get(t->fs, &s0), 0);
	struct stat st;
	assert_int_equal(fs_mknod(t->fs, &t->root, FS_ROOT_INO, "a", S_IFREG | 0644, 0, &st), 0);
	assert_int_equal(fs_lookup(t->fs, &t->root, FS_ROOT_INO, "a", &st), 0);
	assert_int_equal(fs_stats_get(t->fs, &s1), 0);
	assert_int_equal(s1.cached_inodes, s0.cached_inodes + 1);
	fs_forget(t->fs, st.st_ino, 1);
	assert_int_equal(fs_stats_get(t->fs, &s1), 0);
	assert_int_equal(s1.cached_inodes, s0.cached_inodes + 1);
	fs_forget(t->fs, st.st_ino, 1);
	assert_int_equal(fs_stats_get(t->fs, &s1), 0);
	assert_int_equal(s1.cached_inodes, s0.cached_inodes);
	/* getattr by number still works (loaded on demand) */
	assert_int_equal(fs_getattr(t->fs, st.st_ino, &st), 0);
	fs_forget(t->fs, 999999, 5);	/* unknown: ignored */
}

/* ---- concurrency ---------------------------------------------------------------------- */

struct worker {
	struct t *t;
	uint64_t dirs[4];
	unsigned seed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct t *t = w->t;
	unsigned s = w->seed;
	char buf[6000];
	memset(buf, (int)w->seed, sizeof(buf));
	for (int i = 0; i < 400; i++) {
		char n1[8], n2[8];
		snprintf(n1, sizeof(n1), "n%d", rand_r(&s) % 6);
		snprintf(n2, sizeof(n2), "n%d", rand_r(&s) % 6);
		uint64_t d1 = w->dirs[rand_r(&s) % 4], d2 = w->dirs[rand_r(&s) % 4];
		struct stat st;
		uint64_t fh;
		int rc;
		switch (rand_r(&s) % 7) {
		case 0:
			rc = fs_create(t->fs, &t->root, d1, n1, 0644, O_RDWR, &st, &fh);
			if (rc == 0) {
				size_t wr;
				fs_write(t->fs, &t->root, fh, buf, (size_t)(rand_r(&s) % 6000), 0, 0, &wr);
				fs_forget(t->fs, st.st_ino, 1);
				fs_release(t->fs, fh);
			}
			break;
		case 1:
			if (fs_mkdir(t->fs, &t->root, d1, n1, 0755, &st) == 0)
				fs_forget(t->fs, st.st_ino, 1);
			break;
		case 2:
			fs_unlink(t->fs, &t->root, d1, n1);
			break;
		case 3:
			fs_rmdir(t->fs, &t->root, d1, n1);
			break;
		case 4:
		case 5:
			fs_rename(t->fs, &t->root, d1, n1, d2, n2, (unsigned)(rand_r(&s) % 3));
			break;
		case 6:
			if (fs_lookup(t->fs, &t->root, d1, n1, &st) == 0) {
				if (S_ISREG(st.st_mode) &&
				    fs_open(t->fs, &t->root, st.st_ino, O_RDWR, &fh) == 0) {
					size_t got;
					fs_read(t->fs, fh, buf, sizeof(buf), 0, &got);
					fs_release(t->fs, fh);
				}
				fs_forget(t->fs, st.st_ino, 1);
			}
			break;
		}
	}
	return NULL;
}

/* Walk the tree: every dir's nlink is 2 + subdirs, ".." is right, every
 * entry's inode exists; returns the inodes seen. */
static uint64_t check_tree(struct t *t, uint64_t dir, uint64_t parent, int depth)
{
	struct names *ns = malloc(sizeof(*ns));
	list_dir(t, dir, ns);
	assert_true(depth < 100);
	assert_int_equal(ns->ino[1], parent);
	uint64_t seen = 1;
	int subdirs = 0;
	for (int i = 2; i < ns->count; i++) {
		struct stat st = getattr(t, ns->ino[i]);
		assert_int_equal(st.st_nlink > 0, 1);
		if (S_ISDIR(st.st_mode)) {
			subdirs++;
			seen += check_tree(t, ns->ino[i], dir, depth + 1);
		} else {
			seen++;
			assert_int_equal(st.st_nlink, 1);
		}
	}
	assert_int_equal(getattr(t, dir).st_nlink, 2 + subdirs);
	free(ns);
	return seen;
}

static void test_concurrent_ops(void **state)
{
	struct t *t = *state;
	uint64_t dirs[4];
	for (int i = 0; i < 4; i++) {
		char n[8];
		snprintf(n, sizeof(n), "D%d", i);
		dirs[i] = mk(t, FS_ROOT_INO, n, S_IFDIR | 0755);
	}
	/* nest two of them so cross-directory renames meet ancestors */
	assert_int_equal(fs_rename(t->fs, &t->root, FS_ROOT_INO, "D3", dirs[2], "D3", 0), 0);
	pthread_t th[6];
	struct worker w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ t, { dirs[0], dirs[1], dirs[2], dirs[3] }, (unsigned)i + 1 };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	fs_stats s;
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.orphans, 0);
	assert_int_equal(s.open_handles, 0);
	uint64_t seen = check_tree(t, FS_ROOT_INO, FS_ROOT_INO, 0);
	assert_int_equal(seen, s.inodes);
	remount(t);
	assert_int_equal(check_tree(t, FS_ROOT_INO, FS_ROOT_INO, 0), seen);
	fs_abort(t->fs);
	t->fs = NULL;
	do_mount(t);
	assert_int_equal(fs_stats_get(t->fs, &s), 0);
	assert_int_equal(s.inodes, seen);
}

/* ---- engine failures ---------------------------------------------------------------- */

/* A write the engine refuses changes nothing: the caller gets the error, the
 * cached attributes stay equal to what is stored, and a remount agrees. */
static void test_engine_write_failure(void **state)
{
	struct t *t = *state;
	assert_int_equal(fs_unmount(t->fs), 0);
	t->fs = NULL;
	lsm_env *fault = lsm_env_fault_new(t->env);
	lsm_options lo = t->lo;
	lo.env = fault;
	fs_mount_opts mo = t->mo;
	mo.lsm = &lo;
	assert_int_equal(fs_mount(STORE, &mo, &t->fs), 0);
	uint64_t d = mk(t, FS_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t f = mk(t, d, "f", S_IFREG | 0644);
	struct stat root0 = getattr(t, FS_ROOT_INO), d0 = getattr(t, d), f0 = getattr(t, f);
	struct stat st;
	lsm_env_fault_fail_nth(fault, LSM_FAULT_WRITE, 1, -EIO);
	int rc = fs_mkdir(t->fs, &t->root, FS_ROOT_INO, "x", 0755, &st);
	assert_true(rc < 0);
	lsm_env_fault_fail_nth(fault, LSM_FAULT_WRITE, 1, -EIO);
	assert_true(fs_rename(t->fs, &t->root, d, "f", FS_ROOT_INO, "g", 0) < 0);
	lsm_env_fault_fail_nth(fault, LSM_FAULT_WRITE, 1, -EIO);
	assert_true(fs_unlink(t->fs, &t->root, d, "f") < 0);
	lsm_env_fault_fail_nth(fault, LSM_FAULT_WRITE, 0, 0);
	struct stat root1 = getattr(t, FS_ROOT_INO), d1 = getattr(t, d), f1 = getattr(t, f);
	assert_int_equal(root1.st_nlink, root0.st_nlink);
	assert_true(ts_eq(root1.st_mtim, root0.st_mtim));
	assert_true(ts_eq(d1.st_mtim, d0.st_mtim));
	assert_int_equal(f1.st_nlink, f0.st_nlink);
	assert_true(ts_eq(f1.st_ctim, f0.st_ctim));
	assert_int_equal(fs_lookup(t->fs, &t->root, FS_ROOT_INO, "x", &st), -ENOENT);
	assert_int_equal(lookup(t, d, "f"), f);
	fs_unmount(t->fs);	/* may report the latched error */
	t->fs = NULL;
	do_mount(t);
	assert_int_equal(lookup(t, d, "f"), f);
	assert_int_equal(lookup(t, FS_ROOT_INO, "x"), 0);
	assert_int_equal(lookup(t, FS_ROOT_INO, "g"), 0);
	assert_int_equal(getattr(t, FS_ROOT_INO).st_nlink, root0.st_nlink);
	assert_int_equal(getattr(t, f).st_nlink, 1);
	fault->destroy(fault);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkfs_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkfs_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_lookup_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_rmdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_to_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_truncate_sparse, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_fallocate_seek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_and_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setattr_times_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suid_sgid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdirplus_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_unlinked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statfs_and_misc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atime_relatime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_frees_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_write_failure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
