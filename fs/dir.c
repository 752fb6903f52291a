/*
 * dir.c — names: lookup, mknod/mkdir/symlink/create, unlink/rmdir, link,
 * rename, readlink, and readdir over a directory handle's snapshot.
 *
 * Every change of names is one batch: the dentry (or two), the inodes whose
 * link counts change, and the parents' mtime/ctime (and nlink for
 * directories).  A directory's own lock serializes changes of its entries;
 * the entry check ("does this name exist?") is one engine get under that
 * lock, so create costs one get plus one batch.
 *
 * Lock discipline (fs_internal.h): directories first in ino order; a child
 * found under the directory lock is try-locked, and on contention
 * everything is relocked in ino order and the names are checked again.
 * Renames between directories hold rename_mu, which keeps every
 * directory's parent still while the loop check walks up the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"


/* ---- helpers ------------------------------------------------------------------ */

static int dentry_get(lsmfs *fs, uint64_t dir, const char *name, size_t len,
		      uint64_t *ino, uint32_t *type)
{
	char k[FS_KEY_NAME_MAX];
	void *v = NULL;
	size_t vl = 0;
	size_t kl = fs_key_named(k, FS_K_DENTRY, dir, name, len);
	int rc = lsm_get(fs->db, NULL, k, kl, &v, &vl);
	if (rc == LSM_E_NOTFOUND)
		return -ENOENT;
	if (rc < 0)
		return fs_eng(rc, "reading a directory entry");
	rc = fs_dentry_decode(v, vl, ino, type);
	free(v);
	return rc < 0 ? -EIO : 0;
}

static int batch_dentry_put(lsm_batch *b, uint64_t dir, const char *name,
			    size_t len, uint64_t ino, uint32_t mode)
{
	char k[FS_KEY_NAME_MAX], v[FS_DENTRY_LEN];
	size_t kl = fs_key_named(k, FS_K_DENTRY, dir, name, len);
	fs_dentry_encode(v, ino, mode);
	return lsm_batch_put(b, k, kl, v, sizeof(v));
}

static int batch_dentry_del(lsm_batch *b, uint64_t dir, const char *name,
			    size_t len)
{
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_DENTRY, dir, name, len);
	return lsm_batch_delete(b, k, kl);
}

/* 1 if directory ino has no entries, 0 if it has, or an error. */
static int dir_empty(lsmfs *fs, uint64_t ino)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	fs_key_ino(lo, FS_K_DENTRY, ino);
	fs_key_ino_end(hi, FS_K_DENTRY, ino);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	int rc = lsm_iter_new(fs->db, &ro, &it);
	if (rc < 0)
		return fs_eng(rc, "checking a directory");
	lsm_iter_seek(it, lo, sizeof(lo));
	rc = lsm_iter_valid(it) ? 0 : 1;
	int st = lsm_iter_status(it);
	lsm_iter_free(it);
	return st < 0 ? fs_eng(st, "checking a directory") : rc;
}

/* A directory usable for changing entries: locked, not removed. */
static int dir_usable(const struct fs_inode *d)
{
	if (d->gone || d->a.nlink == 0)
		return -ENOENT;
	if (!S_ISDIR(d->a.mode))
		return -ENOTDIR;
	return 0;
}

/*
 * Lock dir, resolve name in it and lock the child too.  On success both
 * are locked and *child holds a reference.
 */
static int lock_dir_child(lsmfs *fs, struct fs_inode *dir, const char *name,
			  size_t len, struct fs_inode **child, uint32_t *type)
{
	int rc;
	uint64_t ino;
	*child = NULL;
	for (;;) {
		pthread_mutex_lock(&dir->lock);
		if ((rc = dir_usable(dir)) < 0 ||
		    (rc = dentry_get(fs, dir->ino, name, len, &ino, type)) < 0)
			goto fail;
		struct fs_inode *ci;
		if ((rc = fs_iget(fs, ino, &ci)) < 0) {
			if (rc == -ENOENT)
				rc = fs_err(-EIO, "entry '%.*s' in directory %" PRIu64
					    " names missing inode %" PRIu64,
					    (int)len, name, dir->ino, ino);
			goto fail;
		}
		if (pthread_mutex_trylock(&ci->lock) == 0) {
			*child = ci;
			return 0;
		}
		pthread_mutex_unlock(&dir->lock);
		struct fs_inode *set[2] = { dir, ci };
		fs_lock_set(set, 2);
		uint64_t again;
		uint32_t t2;
		if (dir_usable(dir) == 0 &&
		    dentry_get(fs, dir->ino, name, len, &again, &t2) == 0 &&
		    again == ino) {
			*child = ci;
			*type = t2;
			return 0;
		}
		fs_unlock_set(set, 2);
		fs_iput(fs, ci);
	}
fail:
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

/* ---- lookup ------------------------------------------------------------------- */

int fs_lookup(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      struct stat *st)
{
	struct fs_inode *dir = NULL, *ip = NULL;
	size_t len = strnlen(name, FS_NAME_MAX + 1);
	uint64_t ino;
	uint32_t type;
	int rc;

	if (len > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0)
		return -ENOENT;
	if ((rc = fs_iget(fs, parent, &dir)) < 0)
		return rc;
	pthread_mutex_lock(&dir->lock);
	if (dir->gone)
		rc = -ENOENT;
	else if (!S_ISDIR(dir->a.mode))
		rc = -ENOTDIR;
	else
		rc = fs_perm(fs, c, &dir->a, X_OK);
	uint64_t up = __atomic_load_n(&dir->dparent, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dir->lock);
	if (rc < 0)
		goto out;
	if (strcmp(name, ".") == 0)
		ino = parent;
	else if (strcmp(name, "..") == 0)
		ino = up;
	else if ((rc = dentry_get(fs, parent, name, len, &ino, &type)) < 0)
		goto out;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		goto out;
	pthread_mutex_lock(&ip->lock);
	/* A concurrent unlink may have removed the name since the get:
	 * then the lookup happened after it. */
	if (ip->gone || ip->a.nlink == 0)
		rc = -ENOENT;
	else
		fs_istat(fs, ip, st);
	pthread_mutex_unlock(&ip->lock);
	if (rc == 0)
		fs_ilookup(fs, ip);
out:
	fs_iput(fs, ip);
	fs_iput(fs, dir);
	return rc;
}

/* ---- creating names ------------------------------------------------------------ */

/*
 * Create a new inode of mode (type included) named name in parent.  On
 * success *out holds a reference to the new inode and *st its attributes;
 * the lookup is NOT counted (callers do, once the whole call succeeds).
 * -EEXIST with *existing set when the name is taken.
 */
static int do_create(lsmfs *fs, const fs_cred *c, uint64_t parent,
		     const char *name, uint32_t mode, uint64_t rdev,
		     const char *target, struct fs_inode **out,
		     uint64_t *existing)
{
	struct fs_inode *dir = NULL;
	lsm_batch *b = NULL;
	size_t len, tlen = 0;
	int rc;

	*out = NULL;
	if (existing)
		*existing = 0;
	if ((rc = fs_name_check(name, &len)) < 0)
		return rc;
	if (fs_is_dot(name))
		return -EEXIST;
	if (target) {
		tlen = strnlen(target, FS_SYMLINK_MAX + 1);
		if (tlen == 0)
			return -ENOENT;
		if (tlen > FS_SYMLINK_MAX)
			return -ENAMETOOLONG;
	}
	if ((rc = fs_iget(fs, parent, &dir)) < 0)
		return rc;
	pthread_mutex_lock(&dir->lock);
	if ((rc = dir_usable(dir)) < 0)
		goto err;
	if ((rc = fs_perm(fs, c, &dir->a, W_OK | X_OK)) < 0)
		goto err;
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	uint64_t ino;
	uint32_t type;
	rc = dentry_get(fs, parent, name, len, &ino, &type);
	if (rc == 0) {
		if (existing)
			*existing = ino;
		rc = -EEXIST;
		goto err;
	}
	if (rc != -ENOENT)
		goto err;
	if (S_ISDIR(mode) && dir->a.nlink >= UINT32_MAX - 1) {
		rc = -EMLINK;
		goto err;
	}
	FS_ERR(fs_ino_alloc(fs, &ino));

	struct timespec now;
	fs_now(&now);
	fs_attr a;
	memset(&a, 0, sizeof(a));
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	/* The umask, or the parent's default ACL instead (which also gives
	 * the new inode its ACLs, in this batch). */
	uint32_t perm = mode & 07777;
	bool acls = false;
	if (!S_ISLNK(mode))
		FS_ERR(fs_acl_inherit(fs, b, &dir->a, parent, ino, mode & S_IFMT, &perm,
				      c->umask, &acls));
	a.mode = (mode & S_IFMT) | perm;
	a.uid = c->uid;
	a.gid = c->gid;
	if (dir->a.mode & S_ISGID) {
		/* BSD group semantics in a setgid directory; subdirectories
		 * carry the bit on. */
		a.gid = dir->a.gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	if (!S_ISDIR(mode) && (a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
	    c->uid != 0 && !fs_in_group(c, a.gid))
		a.mode &= ~(uint32_t)S_ISGID;
	a.nlink = S_ISDIR(mode) ? 2 : 1;
	a.parent = S_ISDIR(mode) ? parent : 0;
	a.rdev = (S_ISCHR(mode) || S_ISBLK(mode)) ? rdev : 0;
	if (S_ISREG(mode) && fs->inline_max > 0)
		a.flags = FS_IF_INLINE;
	if (acls)
		a.flags |= FS_IF_XATTR;
	if (S_ISLNK(mode))
		a.size = tlen;
	a.atime = a.mtime = a.ctime = a.btime = now;

	fs_attr pa = dir->a;
	pa.mtime = pa.ctime = now;
	if (S_ISDIR(mode))
		pa.nlink++;

	FS_ERR(fs_batch_inode(b, ino, &a, NULL));
	FS_ERR(batch_dentry_put(b, parent, name, len, ino, a.mode));
	FS_ERR(fs_batch_inode(b, parent, &pa, NULL));
	if (target) {
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_SYMLINK, ino);
		FS_ERR(lsm_batch_put(b, k, sizeof(k), target, tlen));
	}
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, "creating an inode");
		goto err;
	}
	dir->a = pa;
	fs_count(fs, a.mode, 1);
	struct fs_inode *ip;
	if ((rc = fs_iget_new(fs, ino, &a, &ip)) < 0)
		goto err;
	if (target) {
		pthread_mutex_lock(&ip->lock);
		if (!ip->symlink)
			ip->symlink = strndup(target, tlen);
		pthread_mutex_unlock(&ip->lock);
	}
	*out = ip;
err:
	pthread_mutex_unlock(&dir->lock);
	lsm_batch_free(b);
	fs_iput(fs, dir);
	return rc;
}

static int finish_entry(lsmfs *fs, struct fs_inode *ip, struct stat *st)
{
	pthread_mutex_lock(&ip->lock);
	fs_istat(fs, ip, st);
	pthread_mutex_unlock(&ip->lock);
	fs_ilookup(fs, ip);
	fs_iput(fs, ip);
	return 0;
}

int fs_mknod(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	     mode_t mode, dev_t rdev, struct stat *st)
{
	uint32_t t = mode & S_IFMT;
	if (t == 0)
		t = S_IFREG;
	if (t == S_IFDIR)
		return -EPERM;
	if (t != S_IFREG && t != S_IFCHR && t != S_IFBLK && t != S_IFIFO &&
	    t != S_IFSOCK)
		return -EINVAL;
	if ((t == S_IFCHR || t == S_IFBLK) && !fs->kperm && c->uid != 0)
		return -EPERM;	/* CAP_MKNOD */
	struct fs_inode *ip;
	int rc = do_create(fs, c, parent, name, t | (mode & 07777), rdev, NULL,
			   &ip, NULL);
	return rc < 0 ? rc : finish_entry(fs, ip, st);
}

int fs_mkdir(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	     mode_t mode, struct stat *st)
{
	struct fs_inode *ip;
	int rc = do_create(fs, c, parent, name, S_IFDIR | (mode & 07777), 0,
			   NULL, &ip, NULL);
	return rc < 0 ? rc : finish_entry(fs, ip, st);
}

int fs_symlink(lsmfs *fs, const fs_cred *c, const char *target,
	       uint64_t parent, const char *name, struct stat *st)
{
	struct fs_inode *ip;
	int rc = do_create(fs, c, parent, name, S_IFLNK | 0777, 0, target, &ip,
			   NULL);
	return rc < 0 ? rc : finish_entry(fs, ip, st);
}

int fs_create(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      mode_t mode, int flags, struct stat *st, uint64_t *fh)
{
	struct fs_inode *ip = NULL;
	uint64_t existing;
	bool created = true;
	int rc = do_create(fs, c, parent, name, S_IFREG | (mode & 07777), 0,
			   NULL, &ip, &existing);
	if (rc == -EEXIST && existing && !(flags & O_EXCL)) {
		created = false;
		if ((rc = fs_iget(fs, existing, &ip)) < 0)
			return rc;
		pthread_mutex_lock(&ip->lock);
		bool isdir = S_ISDIR(ip->a.mode);
		pthread_mutex_unlock(&ip->lock);
		if (isdir) {
			fs_iput(fs, ip);
			return -EISDIR;
		}
	} else if (rc < 0) {
		return rc;
	}
	rc = fs_open_inode(fs, c, ip, flags, created, fh);
	if (rc < 0) {
		fs_iput(fs, ip);
		return rc;
	}
	/* The handle owns the reference taken above; take one for the
	 * lookup bookkeeping of finish_entry. */
	fs_iref(fs, ip);
	return finish_entry(fs, ip, st);
}

/* ---- removing names ---------------------------------------------------------------- */

static int do_remove(lsmfs *fs, const fs_cred *c, uint64_t parent,
		     const char *name, bool rmdir)
{
	struct fs_inode *dir = NULL, *child = NULL;
	lsm_batch *b = NULL;
	size_t len;
	uint32_t type;
	int rc;

	if ((rc = fs_name_check(name, &len)) < 0)
		return rc;
	if (fs_is_dot(name)) {
		if (!rmdir)
			return -EISDIR;
		return name[1] ? -ENOTEMPTY : -EINVAL;
	}
	if ((rc = fs_iget(fs, parent, &dir)) < 0)
		return rc;
	if ((rc = lock_dir_child(fs, dir, name, len, &child, &type)) < 0) {
		fs_iput(fs, dir);
		return rc;
	}
	if ((rc = fs_perm(fs, c, &dir->a, W_OK | X_OK)) < 0)
		goto err;
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	bool isdir = S_ISDIR(child->a.mode);
	if (rmdir && !isdir) {
		rc = -ENOTDIR;
		goto err;
	}
	if (!rmdir && isdir) {
		rc = -EISDIR;
		goto err;
	}
	if ((rc = fs_sticky(fs, c, &dir->a, &child->a)) < 0)
		goto err;
	if (rmdir) {
		rc = dir_empty(fs, child->ino);
		if (rc < 0)
			goto err;
		if (rc == 0) {
			rc = -ENOTEMPTY;
			goto err;
		}
	}
	struct timespec now;
	fs_now(&now);
	fs_attr pa = dir->a, ca;
	int effect;
	pa.mtime = pa.ctime = now;
	if (isdir)
		pa.nlink--;
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	FS_ERR(batch_dentry_del(b, parent, name, len));
	FS_ERR(fs_batch_inode(b, parent, &pa, NULL));
	FS_ERR(fs_unlink_child(fs, b, child, &now, &ca, &effect));
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, rmdir ? "rmdir" : "unlink");
		goto err;
	}
	dir->a = pa;
	fs_unlink_commit(fs, child, &ca, effect);
err:
	lsm_batch_free(b);
	struct fs_inode *set[2] = { dir, child };
	fs_unlock_set(set, 2);
	fs_iput(fs, child);
	fs_iput(fs, dir);
	return rc;
}

int fs_unlink(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name)
{
	return do_remove(fs, c, parent, name, false);
}

int fs_rmdir(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name)
{
	return do_remove(fs, c, parent, name, true);
}

/* ---- link ---------------------------------------------------------------------------- */

int fs_link(lsmfs *fs, const fs_cred *c, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *st)
{
	struct fs_inode *ip = NULL, *dir = NULL;
	lsm_batch *b = NULL;
	size_t len;
	int rc;

	if ((rc = fs_name_check(newname, &len)) < 0)
		return rc;
	if (fs_is_dot(newname))
		return -EEXIST;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		return rc;
	if ((rc = fs_iget(fs, newparent, &dir)) < 0) {
		fs_iput(fs, ip);
		return rc;
	}
	struct fs_inode *set[2] = { dir, ip };
	fs_lock_set(set, 2);
	if (S_ISDIR(ip->a.mode)) {
		rc = -EPERM;
		goto err;
	}
	if ((rc = dir_usable(dir)) < 0)
		goto err;
	if (ip->gone || ip->a.nlink == 0) {
		rc = -ENOENT;
		goto err;
	}
	if ((rc = fs_perm(fs, c, &dir->a, W_OK | X_OK)) < 0)
		goto err;
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	if (ip->a.nlink >= UINT32_MAX - 1) {
		rc = -EMLINK;
		goto err;
	}
	uint64_t other;
	uint32_t type;
	rc = dentry_get(fs, newparent, newname, len, &other, &type);
	if (rc == 0) {
		rc = -EEXIST;
		goto err;
	}
	if (rc != -ENOENT)
		goto err;
	struct timespec now;
	fs_now(&now);
	fs_attr a = ip->a, pa = dir->a;
	a.nlink++;
	a.ctime = now;
	pa.mtime = pa.ctime = now;
	if ((a.flags & FS_IF_INLINE) && a.size)
		FS_ERR(fs_idata_load(fs, ip));
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	FS_ERR(batch_dentry_put(b, newparent, newname, len, ino, a.mode));
	FS_ERR(fs_batch_inode(b, ino, &a, ip->idata));
	FS_ERR(fs_batch_inode(b, newparent, &pa, NULL));
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, "link");
		goto err;
	}
	ip->a = a;
	dir->a = pa;
	fs_istat(fs, ip, st);
	fs_idata_trim(fs, ip);
err:
	lsm_batch_free(b);
	fs_unlock_set(set, 2);
	if (rc == 0)
		fs_ilookup(fs, ip);
	fs_iput(fs, dir);
	fs_iput(fs, ip);
	return rc;
}

/* ---- rename ---------------------------------------------------------------------------- */

/* True if anc is ino or one of its ancestors.  rename_mu held. */
static int is_ancestor(lsmfs *fs, uint64_t anc, uint64_t ino, bool *yes)
{
	*yes = false;
	for (uint64_t d = ino, n = 0; ; n++) {
		if (d == anc) {
			*yes = true;
			return 0;
		}
		if (d == FS_ROOT_INO)
			return 0;
		if (n > (UINT64_C(1) << 24))
			return fs_err(-EIO, "directory %" PRIu64 ": parent chain does not reach the root",
				      ino);
		struct fs_inode *ip;
		int rc = fs_iget(fs, d, &ip);
		if (rc < 0)
			return rc == -ENOENT ? fs_err(-EIO, "directory %" PRIu64 " has a missing ancestor %" PRIu64,
						      ino, d) : rc;
		uint64_t p = __atomic_load_n(&ip->dparent, __ATOMIC_RELAXED);
		fs_iput(fs, ip);
		d = p;
	}
}

static int load_idata_if(lsmfs *fs, struct fs_inode *ip, const fs_attr *a)
{
	if ((a->flags & FS_IF_INLINE) && a->size)
		return fs_idata_load(fs, ip);
	return 0;
}

int fs_rename(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	struct fs_inode *od = NULL, *nd = NULL, *src = NULL, *tgt = NULL;
	lsm_batch *b = NULL;
	size_t olen, nlen;
	bool cross = parent != newparent, locked = false;
	bool exch = flags & FS_RENAME_EXCHANGE;
	int rc;

	bool whiteout = flags & FS_RENAME_WHITEOUT;
	if (flags & ~(unsigned)(FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE |
				FS_RENAME_WHITEOUT))
		return -EINVAL;
	if (((flags & FS_RENAME_NOREPLACE) || whiteout) && exch)
		return -EINVAL;
	if ((rc = fs_name_check(name, &olen)) < 0 ||
	    (rc = fs_name_check(newname, &nlen)) < 0)
		return rc;
	if (fs_is_dot(name) || fs_is_dot(newname))
		return -EBUSY;
	if (fs->read_only)
		return -EROFS;
	if (cross)
		pthread_mutex_lock(&fs->rename_mu);
	if ((rc = fs_iget(fs, parent, &od)) < 0 ||
	    (rc = fs_iget(fs, newparent, &nd)) < 0)
		goto err;

	for (;;) {
		struct fs_inode *dirs[2] = { od, nd };
		fs_lock_set(dirs, 2);
		locked = true;
		uint64_t sino, tino = 0;
		uint32_t stype, ttype;
		if ((rc = dir_usable(od)) < 0 || (rc = dir_usable(nd)) < 0)
			goto err;
		if ((rc = dentry_get(fs, parent, name, olen, &sino, &stype)) < 0)
			goto err;
		rc = dentry_get(fs, newparent, newname, nlen, &tino, &ttype);
		if (rc == -ENOENT)
			tino = 0;
		else if (rc < 0)
			goto err;
		rc = 0;
		/* Linux's order: missing names, NOREPLACE, the loop traps,
		 * then "the same file" (nothing to do), then types. */
		if (exch && !tino) {
			rc = -ENOENT;
			goto err;
		}
		if ((flags & FS_RENAME_NOREPLACE) && tino) {
			rc = -EEXIST;
			goto err;
		}
		if (cross) {
			bool bad;
			/* A directory may not move into its own subtree ... */
			if ((rc = is_ancestor(fs, sino, newparent, &bad)) < 0)
				goto err;
			if (bad) {
				rc = -EINVAL;
				goto err;
			}
			/* ... nor replace (or trade places with) one of the
			 * source's ancestors. */
			if (tino && (rc = is_ancestor(fs, tino, parent, &bad)) < 0)
				goto err;
			if (tino && bad) {
				rc = exch ? -EINVAL : -ENOTEMPTY;
				goto err;
			}
		}
		if (sino == tino)
			goto err;	/* the same file: nothing to do (POSIX) */
		if ((rc = fs_iget(fs, sino, &src)) < 0 ||
		    (tino && (rc = fs_iget(fs, tino, &tgt)) < 0)) {
			if (rc == -ENOENT)
				rc = fs_err(-EIO, "rename: an entry names a missing inode");
			goto err;
		}
		/* Children: try-lock (we hold directories that may have
		 * larger numbers); on contention relock all in order. */
		bool s_l = false, t_l = false, ok = true;
		if (src != nd) {
			ok = pthread_mutex_trylock(&src->lock) == 0;
			s_l = ok;
		}
		if (ok && tgt && tgt != od) {
			ok = pthread_mutex_trylock(&tgt->lock) == 0;
			t_l = ok;
		}
		if (ok)
			break;
		if (s_l)
			pthread_mutex_unlock(&src->lock);
		if (t_l)
			pthread_mutex_unlock(&tgt->lock);
		fs_unlock_set(dirs, 2);
		struct fs_inode *all[4] = { od, nd, src, tgt };
		fs_lock_set(all, 4);
		uint64_t s2, t2 = 0;
		uint32_t x;
		bool same = dir_usable(od) == 0 && dir_usable(nd) == 0 &&
			    dentry_get(fs, parent, name, olen, &s2, &x) == 0 &&
			    s2 == sino;
		if (same) {
			int r2 = dentry_get(fs, newparent, newname, nlen, &t2, &x);
			same = (r2 == 0 && t2 == tino) || (r2 == -ENOENT && tino == 0);
		}
		if (same)
			break;
		fs_unlock_set(all, 4);
		locked = false;
		fs_iput(fs, src);
		fs_iput(fs, tgt);
		src = tgt = NULL;
	}

	fs_attr sa = src->a, ta;
	if (tgt)
		ta = tgt->a;
	bool sdir = S_ISDIR(sa.mode), tdir = tgt && S_ISDIR(ta.mode);
	if (tgt && !exch) {
		if (sdir && !tdir) {
			rc = -ENOTDIR;
			goto err;
		}
		if (!sdir && tdir) {
			rc = -EISDIR;
			goto err;
		}
	}
	if (tgt && !exch && tdir) {
		rc = dir_empty(fs, tgt->ino);
		if (rc < 0)
			goto err;
		if (rc == 0) {
			rc = -ENOTEMPTY;
			goto err;
		}
		rc = 0;
	}
	if ((rc = fs_perm(fs, c, &od->a, W_OK | X_OK)) < 0 ||
	    (rc = fs_perm(fs, c, &nd->a, W_OK | X_OK)) < 0 ||
	    (rc = fs_sticky(fs, c, &od->a, &sa)) < 0 ||
	    (tgt && (rc = fs_sticky(fs, c, &nd->a, &ta)) < 0))
		goto err;
	/* Moving a directory to another parent rewrites its "..": that
	 * needs write permission on it (as Linux). */
	if (cross && sdir && (rc = fs_perm(fs, c, &sa, W_OK)) < 0)
		goto err;
	if (cross && exch && tdir && (rc = fs_perm(fs, c, &ta, W_OK)) < 0)
		goto err;

	struct timespec now;
	fs_now(&now);
	fs_attr oa = od->a, na = nd->a, tafter, wa;
	fs_attr *pna = cross ? &na : &oa;
	uint64_t wino = 0;
	int effect = 0;
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	FS_ERR(load_idata_if(fs, src, &sa));
	sa.ctime = now;
	if (exch) {
		FS_ERR(load_idata_if(fs, tgt, &ta));
		ta.ctime = now;
		FS_ERR(batch_dentry_put(b, parent, name, olen, tgt->ino, ta.mode));
		FS_ERR(batch_dentry_put(b, newparent, newname, nlen, src->ino, sa.mode));
		if (cross) {
			if (sdir) {
				sa.parent = newparent;
				oa.nlink--;
				pna->nlink++;
			}
			if (tdir) {
				ta.parent = parent;
				pna->nlink--;
				oa.nlink++;
			}
		}
		FS_ERR(fs_batch_inode(b, tgt->ino, &ta, tgt->idata));
	} else {
		if (whiteout) {
			/* The source name becomes a whiteout (overlayfs): a
			 * character device 0:0, mode 0, the caller's, made
			 * in this batch as ext4 does. */
			FS_ERR(fs_ino_alloc(fs, &wino));
			memset(&wa, 0, sizeof(wa));
			wa.mode = S_IFCHR;
			wa.uid = c->uid;
			wa.gid = (od->a.mode & S_ISGID) ? od->a.gid : c->gid;
			wa.nlink = 1;
			wa.atime = wa.mtime = wa.ctime = wa.btime = now;
			FS_ERR(fs_batch_inode(b, wino, &wa, NULL));
			FS_ERR(batch_dentry_put(b, parent, name, olen, wino, wa.mode));
		} else {
			FS_ERR(batch_dentry_del(b, parent, name, olen));
		}
		FS_ERR(batch_dentry_put(b, newparent, newname, nlen, src->ino, sa.mode));
		if (tgt) {
			FS_ERR(fs_unlink_child(fs, b, tgt, &now, &tafter, &effect));
			if (tdir)
				pna->nlink--;
		}
		if (sdir && cross) {
			sa.parent = newparent;
			oa.nlink--;
			pna->nlink++;
		}
	}
	FS_ERR(fs_batch_inode(b, src->ino, &sa, src->idata));
	oa.mtime = oa.ctime = now;
	pna->mtime = pna->ctime = now;
	FS_ERR(fs_batch_inode(b, parent, &oa, NULL));
	if (cross)
		FS_ERR(fs_batch_inode(b, newparent, &na, NULL));
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, "rename");
		goto err;
	}
	od->a = oa;
	if (cross)
		nd->a = na;
	src->a = sa;
	if (sdir)
		__atomic_store_n(&src->dparent, sa.parent, __ATOMIC_RELAXED);
	if (exch) {
		tgt->a = ta;
		if (tdir)
			__atomic_store_n(&tgt->dparent, ta.parent, __ATOMIC_RELAXED);
	} else if (tgt) {
		fs_unlink_commit(fs, tgt, &tafter, effect);
	}
	if (wino)
		fs_count(fs, wa.mode, 1);
	fs_idata_trim(fs, src);
err:
	lsm_batch_free(b);
	if (locked) {
		struct fs_inode *all[4] = { od, nd, src, tgt };
		fs_unlock_set(all, 4);
	}
	fs_iput(fs, src);
	fs_iput(fs, tgt);
	fs_iput(fs, nd);
	fs_iput(fs, od);
	if (cross)
		pthread_mutex_unlock(&fs->rename_mu);
	return rc;
}

/* ---- readlink -------------------------------------------------------------------------- */

int fs_readlink(lsmfs *fs, uint64_t ino, char *buf, size_t bufsize,
		size_t *len)
{
	struct fs_inode *ip;
	int rc = fs_iget(fs, ino, &ip);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (ip->gone) {
		rc = -ENOENT;
		goto out;
	}
	if (!S_ISLNK(ip->a.mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (!ip->symlink) {
		char k[FS_KEY_INO_LEN];
		void *v = NULL;
		size_t vl = 0;
		fs_key_ino(k, FS_K_SYMLINK, ino);
		rc = lsm_get(fs->db, NULL, k, sizeof(k), &v, &vl);
		if (rc == LSM_E_NOTFOUND) {
			rc = fs_err(-EIO, "symlink %" PRIu64 " has no target record", ino);
			goto out;
		}
		if (rc < 0) {
			rc = fs_eng(rc, "readlink");
			goto out;
		}
		if (vl == 0 || vl > FS_SYMLINK_MAX || memchr(v, 0, vl)) {
			free(v);
			rc = fs_err(-EIO, "symlink %" PRIu64 ": bad target of %zu bytes", ino, vl);
			goto out;
		}
		ip->symlink = strndup(v, vl);
		free(v);
		if (!ip->symlink) {
			rc = -ENOMEM;
			goto out;
		}
	}
	size_t n = strlen(ip->symlink);
	if (n >= bufsize) {
		rc = -ERANGE;
		goto out;
	}
	memcpy(buf, ip->symlink, n + 1);
	*len = n;
	fs_touch_atime(fs, ip, 0);
out:
	pthread_mutex_unlock(&ip->lock);
	fs_iput(fs, ip);
	return rc;
}

/* ---- readdir ---------------------------------------------------------------------------- */

static int readdir_common(lsmfs *fs, uint64_t fh, uint64_t off,
			  fs_dirent_cb cb, void *ctx, bool plus)
{
	struct fs_handle *h = fs_handle_get(fh);
	int rc = 0;
	if (!h)
		return -EBADF;
	if (!h->dir)
		return -ENOTDIR;
	struct fs_inode *dip = h->ip;
	pthread_mutex_lock(&h->mu);
	pthread_mutex_lock(&dip->lock);
	bool removed = dip->gone || dip->a.nlink == 0;
	uint64_t up = __atomic_load_n(&dip->dparent, __ATOMIC_RELAXED);
	if (off == 0 && !removed)
		fs_touch_atime(fs, dip, h->flags);
	pthread_mutex_unlock(&dip->lock);
	if (removed)
		goto out;	/* a removed directory lists nothing */
	if (off == 0) {
		/* rewinddir: a fresh view of the directory. */
		const lsm_snapshot *s = lsm_snapshot_acquire(fs->db);
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		lsm_snapshot_release(fs->db, h->snap);
		h->snap = s;
		if (h->it) {
			lsm_iter_free(h->it);
			h->it = NULL;
		}
	}
	if (off == 0) {
		if (cb(ctx, ".", dip->ino, S_IFDIR, 1, NULL))
			goto out;
		off = 1;
	}
	if (off == 1) {
		if (cb(ctx, "..", up, S_IFDIR, 2, NULL))
			goto out;
		off = 2;
	}
	if (!h->it || h->pos != off) {
		/* A seek (or the first call): position by counting from the
		 * start of the same snapshot, so offsets stay exact. */
		if (h->it)
			lsm_iter_free(h->it);
		h->it = NULL;
		lsm_read_options ro = { .snapshot = h->snap, .fill_cache = true,
					.lower = h->lo, .lower_len = sizeof(h->lo),
					.upper = h->hi, .upper_len = sizeof(h->hi) };
		if ((rc = lsm_iter_new(fs->db, &ro, &h->it)) < 0) {
			h->it = NULL;
			rc = fs_eng(rc, "readdir");
			goto out;
		}
		lsm_iter_seek(h->it, h->lo, sizeof(h->lo));
		h->pos = 2;
		while (h->pos < off && lsm_iter_valid(h->it)) {
			lsm_iter_next(h->it);
			h->pos++;
		}
		if (h->pos < off)
			goto out;	/* past the end */
	}
	for (; lsm_iter_valid(h->it); lsm_iter_next(h->it), h->pos++) {
		size_t kl, vl;
		const char *k = lsm_iter_key(h->it, &kl);
		const char *v = lsm_iter_value(h->it, &vl);
		uint64_t ino;
		uint32_t type;
		char name[FS_NAME_MAX + 1];
		if (kl <= FS_KEY_INO_LEN || kl > FS_KEY_NAME_MAX ||
		    fs_dentry_decode(v, vl, &ino, &type) < 0) {
			rc = fs_err(-EIO, "directory %" PRIu64 ": malformed entry (%zu-byte key, %zu-byte value)",
				    dip->ino, kl, vl);
			goto out;
		}
		memcpy(name, k + FS_KEY_INO_LEN, kl - FS_KEY_INO_LEN);
		name[kl - FS_KEY_INO_LEN] = 0;
		if (!plus) {
			if (cb(ctx, name, ino, type, h->pos + 1, NULL))
				goto out;
			continue;
		}
		struct fs_inode *ip;
		struct stat st;
		if (fs_iget(fs, ino, &ip) < 0)
			continue;	/* deleted since the snapshot */
		pthread_mutex_lock(&ip->lock);
		bool dead = ip->gone || ip->a.nlink == 0;
		fs_istat(fs, ip, &st);
		pthread_mutex_unlock(&ip->lock);
		if (dead) {
			fs_iput(fs, ip);
			continue;
		}
		if (cb(ctx, name, ino, type, h->pos + 1, &st)) {
			fs_iput(fs, ip);
			goto out;
		}
		fs_ilookup(fs, ip);
		fs_iput(fs, ip);
	}
	rc = lsm_iter_status(h->it);
	if (rc < 0)
		rc = fs_eng(rc, "readdir");
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int fs_readdir(lsmfs *fs, uint64_t fh, uint64_t off, fs_dirent_cb cb,
	       void *ctx)
{
	return readdir_common(fs, fh, off, cb, ctx, false);
}

int fs_readdirplus(lsmfs *fs, uint64_t fh, uint64_t off, fs_dirent_cb cb,
		   void *ctx)
{
	return readdir_common(fs, fh, off, cb, ctx, true);
}
