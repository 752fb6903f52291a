/*
 * test_fs_model.c — randomized model test of the filesystem core.
 *
 * Thousands of random operations (create, mkdir, symlink, link, unlink,
 * rmdir, rename with every flag, write, truncate, punch, xattrs, chmod,
 * open/close handles, open-unlinked files, clean remounts and crashes) run
 * against the real core and a tiny in-memory model of the tree.  Every
 * operation's return code must equal the model's prediction; the visible
 * tree (names, inode numbers, types, link counts, sizes, modes, "..") is
 * compared after every operation, and file contents and xattrs every few
 * operations and after every remount or crash.  Seeds are fixed, so a
 * failure reproduces; the failing seed and step are printed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"

#define MAXN 1024	/* model nodes (slots are not reused) */
#define MAXE 256	/* model entries (slots are reused) */
#define MAXH 6		/* open handles */
#define MAXX 3		/* xattrs per node */
#define MAXDATA 40000	/* file size bound */
#define MAXLIVE 60	/* inodes in the tree, about */

struct mnode {
	bool live;
	uint64_t ino;
	uint32_t type;
	uint32_t perm;
	uint32_t nlink;
	int parent;		/* dirs */
	unsigned char *data;
	size_t size;
	char target[32];
	int nx;
	char xn[MAXX][16];
	char xv[MAXX][16];
	size_t xl[MAXX];
	int nopen;
};

struct ment {
	bool used;
	int dir;
	char name[8];
	int child;
};

struct mh {
	bool used;
	uint64_t fh;
	int node;
};

struct model {
	struct mnode n[MAXN];
	int nn;
	struct ment e[MAXE];
	struct mh h[MAXH];
};

struct run {
	lsm_env *env;
	lsm_options lo;
	fs_mount_opts mo;
	lsmfs *fs;
	fs_cred cr;
	struct model *m;
	uint64_t rng;
	unsigned seed;
	int step;
	const char *op;
};

static uint64_t rnd(struct run *r)
{
	/* xorshift64* */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * UINT64_C(2685821657736338717);
}

static int rn(struct run *r, int n)
{
	return (int)(rnd(r) % (uint64_t)n);
}

#define CHECK(cond, ...)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			print_error("seed %u step %d op %s: ", r->seed, r->step, \
				    r->op);                                   \
			print_error(__VA_ARGS__);                             \
			print_error("\n");                                    \
			fail();                                               \
		}                                                             \
	} while (0)

#define CHECK_RC(got, want)                                                  \
	CHECK((got) == (want), "rc %d, model expects %d (line %d)", (int)(got), \
	      (int)(want), __LINE__)

/* ---- model helpers -------------------------------------------------------------- */

static const char *names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

static int m_find(struct model *m, int dir, const char *name)
{
	for (int i = 0; i < MAXE; i++)
		if (m->e[i].used && m->e[i].dir == dir && strcmp(m->e[i].name, name) == 0)
			return i;
	return -1;
}

static void m_add(struct model *m, int dir, const char *name, int child)
{
	for (int i = 0; i < MAXE; i++)
		if (!m->e[i].used) {
			m->e[i].used = true;
			m->e[i].dir = dir;
			snprintf(m->e[i].name, sizeof(m->e[i].name), "%s", name);
			m->e[i].child = child;
			return;
		}
	fail_msg("model entry table full");
}

static int m_count(struct model *m, int dir)
{
	int n = 0;
	for (int i = 0; i < MAXE; i++)
		n += m->e[i].used && m->e[i].dir == dir;
	return n;
}

static int m_new(struct model *m, uint32_t type, uint64_t ino)
{
	for (int i = 0; i < MAXN; i++)
		if (!m->n[i].live && !m->n[i].data && m->n[i].ino == 0 && i != 0) {
			struct mnode *n = &m->n[i];
			memset(n, 0, sizeof(*n));
			n->live = true;
			n->type = type;
			n->ino = ino;
			return i;
		}
	fail_msg("model node table full");
	return -1;
}

static void m_maybe_free(struct model *m, int id)
{
	struct mnode *n = &m->n[id];
	if (n->nlink == 0 && n->nopen == 0) {
		n->live = false;
		free(n->data);
		n->data = NULL;
		n->size = 0;
		/* keep ino non-zero: the slot is not reused, so a stale
		 * number can be checked to be gone */
	}
}

/* Is a an ancestor of (or equal to) directory d? */
static bool m_is_anc(struct model *m, int a, int d)
{
	for (int x = d;; x = m->n[x].parent) {
		if (x == a)
			return true;
		if (x == 0)
			return false;
	}
}

/* Random live node of type (0: any), reachable through a name. */
static int pick_node(struct run *r, uint32_t type)
{
	struct model *m = r->m;
	int cand[MAXE + 1], k = 0;
	if (type == 0 || type == S_IFDIR)
		cand[k++] = 0;
	for (int i = 0; i < MAXE; i++)
		if (m->e[i].used && (type == 0 || m->n[m->e[i].child].type == type))
			cand[k++] = m->e[i].child;
	if (k == 0)
		return -1;
	return cand[rn(r, k)];
}

static const char *pick_name(struct run *r)
{
	return names[rn(r, 8)];
}

/* ---- comparing the tree ----------------------------------------------------------- */

struct lst {
	char name[64][8];
	uint64_t ino[64];
	uint32_t type[64];
	int n;
	bool overflow;
};

static int lst_cb(void *ctx, const char *name, uint64_t ino, mode_t type,
		  uint64_t next_off, const struct stat *st)
{
	(void)next_off;
	(void)st;
	struct lst *l = ctx;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (l->n >= 64) {
		l->overflow = true;
		return 1;
	}
	snprintf(l->name[l->n], 8, "%s", name);
	l->ino[l->n] = ino;
	l->type[l->n] = type;
	l->n++;
	return 0;
}

static void compare_node(struct run *r, int id, bool data)
{
	struct model *m = r->m;
	struct mnode *n = &m->n[id];
	struct stat st;
	int rc = fs_getattr(r->fs, n->ino, &st);
	CHECK(rc == 0, "getattr of ino %llu: %d", (unsigned long long)n->ino, rc);
	CHECK((st.st_mode & S_IFMT) == n->type, "ino %llu type 0%o want 0%o",
	      (unsigned long long)n->ino, st.st_mode & S_IFMT, n->type);
	CHECK(st.st_nlink == n->nlink, "ino %llu nlink %u want %u",
	      (unsigned long long)n->ino, (unsigned)st.st_nlink, n->nlink);
	if (n->type != S_IFDIR)
		CHECK((size_t)st.st_size == n->size, "ino %llu size %lld want %zu",
		      (unsigned long long)n->ino, (long long)st.st_size, n->size);
	if (n->type != S_IFLNK)
		CHECK((st.st_mode & 07777) == n->perm, "ino %llu mode 0%o want 0%o",
		      (unsigned long long)n->ino, st.st_mode & 07777, n->perm);
	if (!data)
		return;
	if (n->type == S_IFREG) {
		uint64_t fh;
		CHECK_RC(fs_open(r->fs, &r->cr, n->ino, O_RDONLY, &fh), 0);
		unsigned char *buf = malloc(n->size + 100);
		size_t got;
		CHECK_RC(fs_read(r->fs, fh, buf, n->size + 100, 0, &got), 0);
		CHECK(got == n->size, "read %zu want %zu", got, n->size);
		CHECK(n->size == 0 || memcmp(buf, n->data, n->size) == 0,
		      "ino %llu content differs", (unsigned long long)n->ino);
		free(buf);
		CHECK_RC(fs_release(r->fs, fh), 0);
	} else if (n->type == S_IFLNK) {
		char t[64];
		size_t len;
		CHECK_RC(fs_readlink(r->fs, n->ino, t, sizeof(t), &len), 0);
		CHECK(strcmp(t, n->target) == 0, "symlink %s want %s", t, n->target);
	}
	/* xattrs: the list has exactly the model's names */
	char lb[256];
	size_t ll;
	CHECK_RC(fs_listxattr(r->fs, &r->cr, n->ino, lb, sizeof(lb), &ll), 0);
	int cnt = 0;
	for (size_t o = 0; o < ll; o += strlen(lb + o) + 1)
		cnt++;
	CHECK(cnt == n->nx, "ino %llu has %d xattrs, want %d",
	      (unsigned long long)n->ino, cnt, n->nx);
	for (int i = 0; i < n->nx; i++) {
		char v[32];
		size_t vl;
		CHECK_RC(fs_getxattr(r->fs, &r->cr, n->ino, n->xn[i], v, sizeof(v), &vl), 0);
		CHECK(vl == n->xl[i] && memcmp(v, n->xv[i], vl) == 0, "xattr %s differs", n->xn[i]);
	}
}

static void compare_dir(struct run *r, int dir, bool data, int depth)
{
	struct model *m = r->m;
	uint64_t fh;
	struct lst l;
	memset(&l, 0, sizeof(l));
	CHECK(depth < 64, "tree too deep (a loop?)");
	CHECK_RC(fs_opendir(r->fs, &r->cr, m->n[dir].ino, O_RDONLY, &fh), 0);
	CHECK_RC(fs_readdir(r->fs, fh, 0, lst_cb, &l), 0);
	CHECK_RC(fs_releasedir(r->fs, fh), 0);
	CHECK(!l.overflow, "listing overflow");
	CHECK(l.n == m_count(m, dir), "dir ino %llu lists %d entries, model %d",
	      (unsigned long long)m->n[dir].ino, l.n, m_count(m, dir));
	for (int i = 0; i < l.n; i++) {
		int e = m_find(m, dir, l.name[i]);
		CHECK(e >= 0, "unexpected name %s", l.name[i]);
		int c = m->e[e].child;
		CHECK(l.ino[i] == m->n[c].ino, "%s: ino %llu want %llu", l.name[i],
		      (unsigned long long)l.ino[i], (unsigned long long)m->n[c].ino);
		CHECK(l.type[i] == m->n[c].type, "%s: dirent type", l.name[i]);
	}
	compare_node(r, dir, data);
	struct stat st;
	CHECK_RC(fs_lookup(r->fs, &r->cr, m->n[dir].ino, "..", &st), 0);
	fs_forget(r->fs, st.st_ino, 1);
	CHECK(st.st_ino == m->n[m->n[dir].parent].ino, "\"..\" of %llu is %llu",
	      (unsigned long long)m->n[dir].ino, (unsigned long long)st.st_ino);
	for (int i = 0; i < MAXE; i++) {
		if (!m->e[i].used || m->e[i].dir != dir)
			continue;
		int c = m->e[i].child;
		if (m->n[c].type == S_IFDIR)
			compare_dir(r, c, data, depth + 1);
		else
			compare_node(r, c, data);
	}
}

static void compare_all(struct run *r, bool data)
{
	compare_dir(r, 0, data, 0);
	/* open-but-unlinked nodes still answer through their handles */
	for (int i = 0; i < MAXH; i++)
		if (r->m->h[i].used)
			compare_node(r, r->m->h[i].node, false);
	fs_stats s;
	CHECK_RC(fs_stats_get(r->fs, &s), 0);
	uint64_t live = 0, files = 0, dirs = 0;
	for (int i = 0; i < MAXN; i++)
		if (r->m->n[i].live) {
			live++;
			files += r->m->n[i].type == S_IFREG;
			dirs += r->m->n[i].type == S_IFDIR;
		}
	CHECK(s.inodes == live, "inode counter %llu, model %llu",
	      (unsigned long long)s.inodes, (unsigned long long)live);
	CHECK(s.files == files && s.dirs == dirs, "file/dir counters");
}

/* ---- operations ------------------------------------------------------------------ */

static int m_live(struct model *m)
{
	int n = 0;
	for (int i = 0; i < MAXN; i++)
		n += m->n[i].live;
	return n;
}

static void op_create(struct run *r, uint32_t type)
{
	struct model *m = r->m;
	/* Keep the tree small enough to compare after every operation. */
	if (m_live(m) > MAXLIVE)
		return;
	int d = pick_node(r, S_IFDIR);
	const char *nm = pick_name(r);
	int want = m_find(m, d, nm) >= 0 ? -EEXIST : 0;
	struct stat st;
	uint32_t perm = (uint32_t)(0600 | rn(r, 0200));
	int rc;
	char target[32];
	snprintf(target, sizeof(target), "t%d", rn(r, 1000));
	uint64_t fh = 0;
	bool via_create = type == S_IFREG && rn(r, 2);
	if (type == S_IFDIR) {
		r->op = "mkdir";
		rc = fs_mkdir(r->fs, &r->cr, m->n[d].ino, nm, perm, &st);
	} else if (type == S_IFLNK) {
		r->op = "symlink";
		rc = fs_symlink(r->fs, &r->cr, target, m->n[d].ino, nm, &st);
	} else if (via_create) {
		r->op = "create";
		rc = fs_create(r->fs, &r->cr, m->n[d].ino, nm, perm,
			       O_RDWR | O_CREAT | O_EXCL, &st, &fh);
	} else {
		r->op = "mknod";
		rc = fs_mknod(r->fs, &r->cr, m->n[d].ino, nm, S_IFREG | perm, 0, &st);
	}
	CHECK_RC(rc, want);
	if (rc < 0)
		return;
	fs_forget(r->fs, st.st_ino, 1);
	int id = m_new(m, type, st.st_ino);
	struct mnode *n = &m->n[id];
	n->perm = type == S_IFLNK ? 0777 : perm;
	n->nlink = type == S_IFDIR ? 2 : 1;
	n->parent = d;
	if (type == S_IFLNK) {
		snprintf(n->target, sizeof(n->target), "%s", target);
		n->size = strlen(target);
	}
	if (type == S_IFDIR)
		m->n[d].nlink++;
	m_add(m, d, nm, id);
	if (fh) {
		for (int i = 0; i < MAXH; i++)
			if (!m->h[i].used) {
				m->h[i] = (struct mh){ true, fh, id };
				n->nopen++;
				return;
			}
		CHECK_RC(fs_release(r->fs, fh), 0);
	}
}

static void op_link(struct run *r)
{
	struct model *m = r->m;
	r->op = "link";
	int f = pick_node(r, rn(r, 2) ? S_IFREG : S_IFLNK);
	if (f < 0)
		return;
	int d = pick_node(r, S_IFDIR);
	const char *nm = pick_name(r);
	int want = m_find(m, d, nm) >= 0 ? -EEXIST : 0;
	struct stat st;
	CHECK_RC(fs_link(r->fs, &r->cr, m->n[f].ino, m->n[d].ino, nm, &st), want);
	if (want < 0)
		return;
	fs_forget(r->fs, st.st_ino, 1);
	m->n[f].nlink++;
	CHECK(st.st_nlink == m->n[f].nlink, "link: reply nlink %u want %u",
	      (unsigned)st.st_nlink, m->n[f].nlink);
	m_add(m, d, nm, f);
}

static void op_remove(struct run *r, bool dir)
{
	struct model *m = r->m;
	r->op = dir ? "rmdir" : "unlink";
	int d = pick_node(r, S_IFDIR);
	const char *nm = pick_name(r);
	int e = m_find(m, d, nm);
	int want = 0;
	if (e < 0)
		want = -ENOENT;
	else if (dir && m->n[m->e[e].child].type != S_IFDIR)
		want = -ENOTDIR;
	else if (!dir && m->n[m->e[e].child].type == S_IFDIR)
		want = -EISDIR;
	else if (dir && m_count(m, m->e[e].child) > 0)
		want = -ENOTEMPTY;
	int rc = dir ? fs_rmdir(r->fs, &r->cr, m->n[d].ino, nm)
		     : fs_unlink(r->fs, &r->cr, m->n[d].ino, nm);
	CHECK_RC(rc, want);
	if (rc < 0)
		return;
	int c = m->e[e].child;
	m->e[e].used = false;
	if (dir) {
		m->n[c].nlink = 0;
		m->n[d].nlink--;
	} else {
		m->n[c].nlink--;
	}
	m_maybe_free(m, c);
}

static void op_rename(struct run *r)
{
	struct model *m = r->m;
	r->op = "rename";
	int d1 = pick_node(r, S_IFDIR), d2 = pick_node(r, S_IFDIR);
	const char *n1 = pick_name(r), *n2 = pick_name(r);
	unsigned flags = 0;
	int f = rn(r, 6);
	if (f == 0)
		flags = FS_RENAME_NOREPLACE;
	else if (f == 1)
		flags = FS_RENAME_EXCHANGE;
	int es = m_find(m, d1, n1), et = m_find(m, d2, n2);
	int s = es >= 0 ? m->e[es].child : -1, t = et >= 0 ? m->e[et].child : -1;
	int want = 0;
	bool cross = d1 != d2;
	if (s < 0)
		want = -ENOENT;
	else if ((flags & FS_RENAME_EXCHANGE) && t < 0)
		want = -ENOENT;
	else if ((flags & FS_RENAME_NOREPLACE) && t >= 0)
		want = -EEXIST;
	else if (cross && m->n[s].type == S_IFDIR && m_is_anc(m, s, d2))
		want = -EINVAL;
	else if (cross && t >= 0 && m->n[t].type == S_IFDIR && m_is_anc(m, t, d1))
		want = (flags & FS_RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
	else if (s == t)
		want = 1;	/* nothing happens */
	else if (t >= 0 && !(flags & FS_RENAME_EXCHANGE)) {
		bool sd = m->n[s].type == S_IFDIR, td = m->n[t].type == S_IFDIR;
		if (sd && !td)
			want = -ENOTDIR;
		else if (!sd && td)
			want = -EISDIR;
		else if (td && m_count(m, t) > 0)
			want = -ENOTEMPTY;
	}
	int rc = fs_rename(r->fs, &r->cr, m->n[d1].ino, n1, m->n[d2].ino, n2, flags);
	CHECK_RC(rc, want == 1 ? 0 : want);
	if (want != 0)
		return;
	bool sd = m->n[s].type == S_IFDIR;
	if (flags & FS_RENAME_EXCHANGE) {
		bool td = m->n[t].type == S_IFDIR;
		m->e[es].child = t;
		m->e[et].child = s;
		if (cross) {
			if (sd) {
				m->n[s].parent = d2;
				m->n[d1].nlink--;
				m->n[d2].nlink++;
			}
			if (td) {
				m->n[t].parent = d1;
				m->n[d2].nlink--;
				m->n[d1].nlink++;
			}
		}
		return;
	}
	m->e[es].used = false;
	if (t >= 0) {
		if (m->n[t].type == S_IFDIR) {
			m->n[t].nlink = 0;
			m->n[d2].nlink--;
		} else {
			m->n[t].nlink--;
		}
		m->e[et].child = s;
		m_maybe_free(m, t);
	} else {
		m_add(m, d2, n2, s);
	}
	if (sd && cross) {
		m->n[s].parent = d2;
		m->n[d1].nlink--;
		m->n[d2].nlink++;
	}
}

/* A handle on node id: an open one, or a temporary one (*tmp set). */
static uint64_t get_handle(struct run *r, int id, bool *tmp)
{
	for (int i = 0; i < MAXH; i++)
		if (r->m->h[i].used && r->m->h[i].node == id) {
			*tmp = false;
			return r->m->h[i].fh;
		}
	uint64_t fh;
	*tmp = true;
	CHECK_RC(fs_open(r->fs, &r->cr, r->m->n[id].ino, O_RDWR, &fh), 0);
	return fh;
}

/* A regular file: through an open handle half the time (which may be
 * unlinked), else a named one. */
static int pick_file(struct run *r)
{
	if (rn(r, 2)) {
		int k = rn(r, MAXH);
		if (r->m->h[k].used)
			return r->m->h[k].node;
	}
	return pick_node(r, S_IFREG);
}

static void m_resize(struct mnode *n, size_t size)
{
	if (size > n->size) {
		n->data = realloc(n->data, size);
		memset(n->data + n->size, 0, size - n->size);
	}
	n->size = size;
}

static void op_write(struct run *r)
{
	r->op = "write";
	int id = pick_file(r);
	if (id < 0)
		return;
	struct mnode *n = &r->m->n[id];
	size_t off = (size_t)rn(r, MAXDATA / 2);
	size_t len = (size_t)(rn(r, 4) ? rn(r, 300) + 1 : rn(r, MAXDATA / 2) + 1);
	if (rn(r, 4) == 0)
		off = n->size;	/* append */
	if (off + len > MAXDATA)
		return;
	unsigned char *buf = malloc(len);
	unsigned char seed = (unsigned char)rnd(r);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i * 13);
	bool tmp;
	uint64_t fh = get_handle(r, id, &tmp);
	size_t w;
	CHECK_RC(fs_write(r->fs, &r->cr, fh, buf, len, off, 0, &w), 0);
	CHECK(w == len, "short write");
	if (off + len > n->size)
		m_resize(n, off + len);
	memcpy(n->data + off, buf, len);
	/* read back a window through the same handle */
	size_t ro = off > 10 ? off - 10 : 0, rl = len + 20, got;
	unsigned char *rb = malloc(rl);
	CHECK_RC(fs_read(r->fs, fh, rb, rl, ro, &got), 0);
	size_t exp = ro >= n->size ? 0 : (n->size - ro < rl ? n->size - ro : rl);
	CHECK(got == exp, "read back %zu want %zu", got, exp);
	CHECK(memcmp(rb, n->data + ro, got) == 0, "read back differs");
	free(rb);
	free(buf);
	if (tmp)
		CHECK_RC(fs_release(r->fs, fh), 0);
}

static void op_truncate(struct run *r)
{
	r->op = "truncate";
	int id = pick_file(r);
	if (id < 0)
		return;
	struct mnode *n = &r->m->n[id];
	size_t size = (size_t)(rn(r, 3) == 0 ? 0 : rn(r, MAXDATA));
	struct stat in, st;
	memset(&in, 0, sizeof(in));
	in.st_size = (off_t)size;
	CHECK_RC(fs_setattr(r->fs, &r->cr, n->ino, &in, FS_SET_SIZE, 0, &st), 0);
	CHECK((size_t)st.st_size == size, "truncate reply size");
	m_resize(n, size);
}

static void op_punch(struct run *r)
{
	r->op = "punch";
	int id = pick_file(r);
	if (id < 0)
		return;
	struct mnode *n = &r->m->n[id];
	size_t off = (size_t)rn(r, MAXDATA), len = (size_t)rn(r, MAXDATA / 4) + 1;
	bool tmp;
	uint64_t fh = get_handle(r, id, &tmp);
	CHECK_RC(fs_fallocate(r->fs, &r->cr, fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, len), 0);
	if (off < n->size)
		memset(n->data + off, 0, (off + len < n->size ? off + len : n->size) - off);
	if (tmp)
		CHECK_RC(fs_release(r->fs, fh), 0);
}

static void op_xattr(struct run *r)
{
	struct model *m = r->m;
	int id = pick_node(r, 0);
	struct mnode *n = &m->n[id];
	char name[16], val[16];
	snprintf(name, sizeof(name), "user.x%d", rn(r, 4));
	int k = -1;
	for (int i = 0; i < n->nx; i++)
		if (strcmp(n->xn[i], name) == 0)
			k = i;
	if (rn(r, 3) == 0) {
		r->op = "removexattr";
		int want = n->type == S_IFLNK ? -EPERM : (k < 0 ? -ENODATA : 0);
		CHECK_RC(fs_removexattr(r->fs, &r->cr, n->ino, name), want);
		if (want == 0) {
			n->nx--;
			memmove(n->xn[k], n->xn[n->nx], sizeof(n->xn[0]));
			memmove(n->xv[k], n->xv[n->nx], sizeof(n->xv[0]));
			n->xl[k] = n->xl[n->nx];
		}
		return;
	}
	r->op = "setxattr";
	size_t vl = (size_t)rn(r, 12);
	for (size_t i = 0; i < vl; i++)
		val[i] = (char)('a' + rn(r, 26));
	int flags = rn(r, 3) == 0 ? XATTR_CREATE : (rn(r, 3) == 0 ? XATTR_REPLACE : 0);
	int want = 0;
	if (n->type == S_IFLNK)
		want = -EPERM;
	else if ((flags & XATTR_CREATE) && k >= 0)
		want = -EEXIST;
	else if ((flags & XATTR_REPLACE) && k < 0)
		want = -ENODATA;
	else if (k < 0 && n->nx == MAXX)
		return;	/* the model's table is full */
	CHECK_RC(fs_setxattr(r->fs, &r->cr, n->ino, name, val, vl, flags), want);
	if (want < 0)
		return;
	if (k < 0)
		k = n->nx++;
	snprintf(n->xn[k], sizeof(n->xn[k]), "%s", name);
	memcpy(n->xv[k], val, vl);
	n->xl[k] = vl;
}

static void op_chmod(struct run *r)
{
	r->op = "chmod";
	int id = pick_node(r, rn(r, 2) ? S_IFREG : S_IFDIR);
	if (id < 0)
		return;
	struct mnode *n = &r->m->n[id];
	struct stat in, st;
	memset(&in, 0, sizeof(in));
	in.st_mode = (mode_t)(0700 | rn(r, 0100));
	CHECK_RC(fs_setattr(r->fs, &r->cr, n->ino, &in, FS_SET_MODE, 0, &st), 0);
	n->perm = in.st_mode;
}

static void op_open(struct run *r)
{
	r->op = "open";
	int id = pick_node(r, S_IFREG);
	int k = rn(r, MAXH);
	if (id < 0 || r->m->h[k].used)
		return;
	uint64_t fh;
	CHECK_RC(fs_open(r->fs, &r->cr, r->m->n[id].ino, O_RDWR, &fh), 0);
	r->m->h[k] = (struct mh){ true, fh, id };
	r->m->n[id].nopen++;
}

static void op_close(struct run *r)
{
	r->op = "close";
	int k = rn(r, MAXH);
	if (!r->m->h[k].used)
		return;
	int id = r->m->h[k].node;
	CHECK_RC(fs_release(r->fs, r->m->h[k].fh), 0);
	r->m->h[k].used = false;
	r->m->n[id].nopen--;
	uint64_t ino = r->m->n[id].ino;
	m_maybe_free(r->m, id);
	if (!r->m->n[id].live) {
		struct stat st;
		CHECK(fs_getattr(r->fs, ino, &st) == -ENOENT, "closed orphan %llu still there",
		      (unsigned long long)ino);
	}
}

/* Unmount (clean or crash) and mount again: handles are gone, orphans are
 * reclaimed. */
static void op_remount(struct run *r, bool crash)
{
	r->op = crash ? "crash" : "remount";
	if (crash)
		fs_abort(r->fs);
	else
		CHECK_RC(fs_unmount(r->fs), 0);
	r->fs = NULL;
	for (int i = 0; i < MAXH; i++)
		if (r->m->h[i].used) {
			r->m->h[i].used = false;
			r->m->n[r->m->h[i].node].nopen--;
			m_maybe_free(r->m, r->m->h[i].node);
		}
	CHECK_RC(fs_mount("/m", &r->mo, &r->fs), 0);
	compare_all(r, true);
}

static void run_seed(unsigned seed, uint32_t bs, uint32_t inl, int steps)
{
	struct run rr, *r = &rr;
	memset(r, 0, sizeof(*r));
	r->m = calloc(1, sizeof(*r->m));
	r->seed = seed;
	r->rng = UINT64_C(0x9E3779B97F4A7C15) * (seed + 1);
	r->env = lsm_env_mem_new();
	lsm_options_init(&r->lo);
	r->lo.env = r->env;
	r->lo.write_buffer_size = 4 << 20;
	fs_mount_opts_init(&r->mo);
	r->mo.lsm = &r->lo;
	r->cr = fs_cred_root();
	fs_mkfs_opts mo;
	fs_mkfs_opts_init(&mo);
	mo.block_size = bs;
	mo.inline_max = inl;
	mo.root_mode = 0755;
	r->op = "mkfs";
	CHECK_RC(fs_mkfs("/m", &mo, &r->lo), 0);
	CHECK_RC(fs_mount("/m", &r->mo, &r->fs), 0);
	struct mnode *root = &r->m->n[0];
	root->live = true;
	root->ino = FS_ROOT_INO;
	root->type = S_IFDIR;
	root->perm = 0755;
	root->nlink = 2;
	r->m->nn = 1;

	for (r->step = 0; r->step < steps; r->step++) {
		int op = rn(r, 100);
		if (op < 14)
			op_create(r, S_IFREG);
		else if (op < 22)
			op_create(r, S_IFDIR);
		else if (op < 25)
			op_create(r, S_IFLNK);
		else if (op < 30)
			op_link(r);
		else if (op < 40)
			op_remove(r, false);
		else if (op < 45)
			op_remove(r, true);
		else if (op < 57)
			op_rename(r);
		else if (op < 70)
			op_write(r);
		else if (op < 75)
			op_truncate(r);
		else if (op < 79)
			op_punch(r);
		else if (op < 85)
			op_xattr(r);
		else if (op < 88)
			op_chmod(r);
		else if (op < 93)
			op_open(r);
		else if (op < 98)
			op_close(r);
		else if (op < 99)
			op_remount(r, false);
		else
			op_remount(r, true);
		compare_all(r, r->step % 25 == 0);
	}
	r->op = "final";
	op_remount(r, false);
	for (int i = 0; i < MAXH; i++)
		if (r->m->h[i].used)
			fs_release(r->fs, r->m->h[i].fh);
	CHECK_RC(fs_unmount(r->fs), 0);
	r->env->destroy(r->env);
	for (int i = 0; i < MAXN; i++)
		free(r->m->n[i].data);
	free(r->m);
}

static void test_model_small_blocks(void **state)
{
	(void)state;
	for (unsigned s = 1; s <= 2; s++)
		run_seed(s, 512, 100, 1000);
}

static void test_model_default_blocks(void **state)
{
	(void)state;
	run_seed(11, 4096, 2048, 1000);
}

static void test_model_no_inline(void **state)
{
	(void)state;
	run_seed(21, 1024, 0, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_small_blocks),
		cmocka_unit_test(test_model_default_blocks),
		cmocka_unit_test(test_model_no_inline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
