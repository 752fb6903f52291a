/*
 * xattr.c — extended attributes: X ino name -> value, one key each.
 *
 * The inode's FS_IF_XATTR flag says X keys may exist; while it is clear,
 * getxattr/listxattr answer from the cache without touching the engine
 * (the kernel asks for security.capability on every write and for ACLs on
 * permission checks, so the common "none" answer must be free).  The flag
 * is set in the same batch as the first X key and never cleared (a stale
 * flag costs one scan, never a wrong answer).  setxattr and removexattr
 * update ctime, as Linux does.
 *
 * POSIX ACLs (system.posix_acl_access / _default) are stored as given;
 * with FUSE's posix_acl the kernel interprets them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs_internal.h"

enum ns { NS_USER, NS_TRUSTED, NS_SECURITY, NS_ACL_ACCESS, NS_ACL_DEFAULT };

static int classify(const char *name, size_t *len, enum ns *ns)
{
	size_t n = strnlen(name, FS_XATTR_NAME_MAX + 1);
	if (n > FS_XATTR_NAME_MAX)
		return -ERANGE;
	*len = n;
	if (strncmp(name, "user.", 5) == 0)
		*ns = NS_USER;
	else if (strncmp(name, "trusted.", 8) == 0)
		*ns = NS_TRUSTED;
	else if (strncmp(name, "security.", 9) == 0)
		*ns = NS_SECURITY;
	else if (strcmp(name, "system.posix_acl_access") == 0)
		*ns = NS_ACL_ACCESS;
	else if (strcmp(name, "system.posix_acl_default") == 0)
		*ns = NS_ACL_DEFAULT;
	else
		return -EOPNOTSUPP;
	const char *dot = strchr(name, '.');
	if (dot[1] == 0)
		return -EINVAL;	/* a bare prefix */
	return 0;
}

/* May c change name's namespace on inode a?  (Linux xattr_permission.) */
static int may_write(lsmfs *fs, const fs_cred *c, const fs_attr *a, enum ns ns)
{
	switch (ns) {
	case NS_USER:
		if (!S_ISREG(a->mode) && !S_ISDIR(a->mode))
			return -EPERM;
		if (S_ISDIR(a->mode) && (a->mode & S_ISVTX) && !fs->kperm &&
		    c->uid != 0 && c->uid != a->uid)
			return -EPERM;
		return fs_perm(fs, c, a, W_OK);
	case NS_TRUSTED:
	case NS_SECURITY:
		return (fs->kperm || c->uid == 0) ? 0 : -EPERM;
	case NS_ACL_ACCESS:
	case NS_ACL_DEFAULT:
		if (ns == NS_ACL_DEFAULT && !S_ISDIR(a->mode))
			return -EACCES;
		if (S_ISLNK(a->mode))
			return -EOPNOTSUPP;
		return (fs->kperm || c->uid == 0 || c->uid == a->uid) ? 0 : -EPERM;
	}
	return -EOPNOTSUPP;
}

/* Read access: -ENODATA hides what the caller may not see. */
static int may_read(lsmfs *fs, const fs_cred *c, const fs_attr *a, enum ns ns)
{
	switch (ns) {
	case NS_USER:
		if (!S_ISREG(a->mode) && !S_ISDIR(a->mode))
			return -ENODATA;
		return fs_perm(fs, c, a, R_OK);
	case NS_TRUSTED:
		return (fs->kperm || c->uid == 0) ? 0 : -ENODATA;
	default:
		return 0;
	}
}

static int xattr_exists(lsmfs *fs, const char *k, size_t kl, bool *yes)
{
	void *v = NULL;
	size_t vl;
	int rc = lsm_get(fs->db, NULL, k, kl, &v, &vl);
	free(v);
	if (rc == LSM_E_NOTFOUND) {
		*yes = false;
		return 0;
	}
	if (rc < 0)
		return fs_eng(rc, "reading an xattr");
	*yes = true;
	return 0;
}

/* Shared by set and remove: value == NULL removes. */
static int xattr_change(lsmfs *fs, const fs_cred *c, uint64_t ino,
			const char *name, const void *value, size_t size,
			int flags)
{
	struct fs_inode *ip;
	lsm_batch *b = NULL;
	size_t nl;
	enum ns ns;
	int rc;

	if ((rc = classify(name, &nl, &ns)) < 0)
		return rc;
	if (value && size > FS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (ip->gone) {
		rc = -ENOENT;
		goto err;
	}
	fs_attr a = ip->a;
	if ((rc = may_write(fs, c, &a, ns)) < 0)
		goto err;
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_XATTR, ino, name, nl);
	bool exists = false;
	if ((a.flags & FS_IF_XATTR) && (!value || flags) &&
	    (rc = xattr_exists(fs, k, kl, &exists)) < 0)
		goto err;
	if (!value && !exists) {
		rc = -ENODATA;
		goto err;
	}
	if (value && (flags & XATTR_CREATE) && exists) {
		rc = -EEXIST;
		goto err;
	}
	if (value && (flags & XATTR_REPLACE) && !exists) {
		rc = -ENODATA;
		goto err;
	}
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	if (value)
		FS_ERR(lsm_batch_put(b, k, kl, value, size));
	else
		FS_ERR(lsm_batch_delete(b, k, kl));
	a.flags |= value ? FS_IF_XATTR : 0;
	fs_now(&a.ctime);
	if ((a.flags & FS_IF_INLINE) && a.size)
		FS_ERR(fs_idata_load(fs, ip));
	FS_ERR(fs_batch_inode(b, ino, &a, ip->idata));
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, value ? "setxattr" : "removexattr");
		goto err;
	}
	ip->a = a;
	fs_idata_trim(fs, ip);
err:
	lsm_batch_free(b);
	pthread_mutex_unlock(&ip->lock);
	fs_iput(fs, ip);
	return rc;
}

int fs_setxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	return xattr_change(fs, c, ino, name, value ? value : "", size, flags);
}

int fs_removexattr(lsmfs *fs, const fs_cred *c, uint64_t ino,
		   const char *name)
{
	return xattr_change(fs, c, ino, name, NULL, 0, 0);
}

int fs_getxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, const char *name,
		void *buf, size_t size, size_t *len)
{
	struct fs_inode *ip;
	size_t nl;
	enum ns ns;
	int rc;

	*len = 0;
	if ((rc = classify(name, &nl, &ns)) < 0)
		return rc == -EINVAL ? -ENODATA : rc;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	bool any = ip->a.flags & FS_IF_XATTR;
	if (ip->gone)
		rc = -ENOENT;
	else
		rc = may_read(fs, c, &ip->a, ns);
	pthread_mutex_unlock(&ip->lock);
	if (rc == 0 && !any)
		rc = -ENODATA;
	if (rc < 0)
		goto out;
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_XATTR, ino, name, nl);
	void *v = NULL;
	size_t vl = 0;
	rc = lsm_get(fs->db, NULL, k, kl, &v, &vl);
	if (rc == LSM_E_NOTFOUND) {
		rc = -ENODATA;
		goto out;
	}
	if (rc < 0) {
		rc = fs_eng(rc, "getxattr");
		goto out;
	}
	*len = vl;
	if (size > 0) {
		if (vl > size)
			rc = -ERANGE;
		else
			memcpy(buf, v, vl);
	}
	free(v);
out:
	fs_iput(fs, ip);
	return rc;
}

int fs_listxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, char *buf,
		 size_t size, size_t *len)
{
	struct fs_inode *ip;
	int rc;
	*len = 0;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	bool any = ip->a.flags & FS_IF_XATTR;
	fs_attr a = ip->a;
	if (ip->gone)
		rc = -ENOENT;
	pthread_mutex_unlock(&ip->lock);
	if (rc < 0 || !any)
		goto out;
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	fs_key_ino(lo, FS_K_XATTR, ino);
	fs_key_ino_end(hi, FS_K_XATTR, ino);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	if ((rc = lsm_iter_new(fs->db, &ro, &it)) < 0) {
		rc = fs_eng(rc, "listxattr");
		goto out;
	}
	size_t total = 0;
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl;
		const char *k = lsm_iter_key(it, &kl);
		if (kl <= FS_KEY_INO_LEN)
			continue;
		const char *n = k + FS_KEY_INO_LEN;
		size_t nl = kl - FS_KEY_INO_LEN;
		/* Hide what getxattr would refuse to show. */
		if (nl >= 8 && memcmp(n, "trusted.", 8) == 0 && !fs->kperm && c->uid != 0)
			continue;
		if (nl >= 5 && memcmp(n, "user.", 5) == 0 &&
		    !S_ISREG(a.mode) && !S_ISDIR(a.mode))
			continue;
		if (size > 0) {
			if (total + nl + 1 > size) {
				rc = -ERANGE;
				break;
			}
			memcpy(buf + total, n, nl);
			buf[total + nl] = 0;
		}
		total += nl + 1;
	}
	int st = lsm_iter_status(it);
	lsm_iter_free(it);
	if (rc == 0 && st < 0)
		rc = fs_eng(st, "listxattr");
	*len = total;
out:
	fs_iput(fs, ip);
	return rc;
}
