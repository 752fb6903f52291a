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
 * POSIX ACLs (system.posix_acl_access / _default) are X keys holding
 * Linux's xattr form of the ACL, checked and normalised on the way in, and
 * the core keeps them in step with the mode the way Linux file systems do
 * (posix_acl_update_mode, posix_acl_chmod, posix_acl_create):
 *   A1  setting an access ACL sets the mode's permission bits (group bits
 *       from the mask) in the same batch; an ACL the mode says all of is
 *       not stored (the old one is deleted); a caller outside the file's
 *       group who is not root loses setgid;
 *   A2  chmod rewrites the owner, mask (or group) and other entries of a
 *       stored access ACL in the same batch as the mode (fs_acl_chmod);
 *   A3  a new inode under a directory with a default ACL gets its mode
 *       masked by that ACL instead of the umask, the ACL itself as access
 *       ACL (unless the mode says it all) and, for a directory, as its
 *       default ACL too, all in the create batch (fs_acl_inherit);
 *   A4  removing an ACL that is not there succeeds and changes nothing.
 * Enforcing them is the kernel's (FUSE's posix_acl: it asks for the access
 * ACL when a permission check needs it); the core's own checks (without
 * kernel_permissions) look at the mode only.
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
		if (S_ISLNK(a->mode))
			return -EOPNOTSUPP;
		if (ns == NS_ACL_DEFAULT && !S_ISDIR(a->mode))
			return -EACCES;
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

/* ---- POSIX ACLs ---------------------------------------------------------------- */

/* The xattr form: a 4-byte header (version 2), then 8-byte entries {tag,
 * perm, id} (16, 16, 32 bits), all little-endian, in the order the kernel
 * keeps them (owner, named users, owning group, named groups, mask,
 * other). */
#define ACL_XVERSION 2
#define ACL_HDR 4
#define ACL_ENT 8
#define ACL_MAX 1024		/* entries; 8 KiB, more than any kernel sends */
#define ACL_NOID 0xffffffffu	/* the id of the entries that have none */
enum {
	ACL_USER_OBJ = 0x01,
	ACL_USER = 0x02,
	ACL_GROUP_OBJ = 0x04,
	ACL_GROUP = 0x08,
	ACL_MASK = 0x10,
	ACL_OTHER = 0x20,
};

static const char ACL_ACCESS[] = "system.posix_acl_access";
static const char ACL_DEFAULT[] = "system.posix_acl_default";

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

static uint32_t get_le(const unsigned char *p, int n)
{
	uint32_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/*
 * Parse and check an ACL as Linux does (posix_acl_from_xattr, then
 * posix_acl_valid): -EOPNOTSUPP for another version, -EINVAL for a bad
 * size, tag, permission or order, or a missing mask where named entries
 * need one.  *n may be 0 (an empty ACL: "remove").  e holds ACL_MAX.
 */
static int acl_parse(const void *val, size_t size, struct acl_ent *e, int *n)
{
	const unsigned char *v = val;
	*n = 0;
	if (size < ACL_HDR)
		return -EINVAL;
	if (get_le(v, 4) != ACL_XVERSION)
		return -EOPNOTSUPP;
	if ((size - ACL_HDR) % ACL_ENT || (size - ACL_HDR) / ACL_ENT > ACL_MAX)
		return -EINVAL;
	int count = (int)((size - ACL_HDR) / ACL_ENT);
	enum { S_UO, S_U, S_G, S_O, S_DONE } state = S_UO;
	bool needs_mask = false;
	for (int i = 0; i < count; i++) {
		const unsigned char *p = v + ACL_HDR + (size_t)i * ACL_ENT;
		struct acl_ent x = { (uint16_t)get_le(p, 2), (uint16_t)get_le(p + 2, 2),
				     get_le(p + 4, 4) };
		if (x.perm & ~7u)
			return -EINVAL;
		switch (x.tag) {
		case ACL_USER_OBJ:
			if (state != S_UO)
				return -EINVAL;
			state = S_U;
			x.id = ACL_NOID;
			break;
		case ACL_USER:
			if (state != S_U || x.id == ACL_NOID)
				return -EINVAL;
			needs_mask = true;
			break;
		case ACL_GROUP_OBJ:
			if (state != S_U)
				return -EINVAL;
			state = S_G;
			x.id = ACL_NOID;
			break;
		case ACL_GROUP:
			if (state != S_G || x.id == ACL_NOID)
				return -EINVAL;
			needs_mask = true;
			break;
		case ACL_MASK:
			if (state != S_G)
				return -EINVAL;
			state = S_O;
			x.id = ACL_NOID;
			break;
		case ACL_OTHER:
			if (state != S_O && (state != S_G || needs_mask))
				return -EINVAL;
			state = S_DONE;
			x.id = ACL_NOID;
			break;
		default:
			return -EINVAL;
		}
		e[i] = x;
	}
	if (count > 0 && state != S_DONE)
		return -EINVAL;
	*n = count;
	return 0;
}

/* The xattr form of e[0..n) into out (ACL_HDR + n * ACL_ENT bytes). */
static size_t acl_encode(const struct acl_ent *e, int n, unsigned char *out)
{
	put_le(out, ACL_XVERSION, 4);
	for (int i = 0; i < n; i++) {
		unsigned char *p = out + ACL_HDR + (size_t)i * ACL_ENT;
		put_le(p, e[i].tag, 2);
		put_le(p + 2, e[i].perm, 2);
		put_le(p + 4, e[i].id, 4);
	}
	return ACL_HDR + (size_t)n * ACL_ENT;
}

/* The permission bits an ACL stands for (posix_acl_equiv_mode); false if
 * it has entries the mode cannot say (named users or groups, a mask). */
static bool acl_equiv_mode(const struct acl_ent *e, int n, uint32_t *perm)
{
	uint32_t m = 0;
	bool equiv = true;
	for (int i = 0; i < n; i++) {
		switch (e[i].tag) {
		case ACL_USER_OBJ: m |= (uint32_t)e[i].perm << 6; break;
		case ACL_GROUP_OBJ: m |= (uint32_t)e[i].perm << 3; break;
		case ACL_OTHER: m |= e[i].perm; break;
		case ACL_MASK:	/* after GROUP_OBJ: the group bits are the mask */
			m = (m & ~(uint32_t)S_IRWXG) | (uint32_t)e[i].perm << 3;
			equiv = false;
			break;
		default: equiv = false; break;
		}
	}
	*perm = m;
	return equiv;
}

/* chmod: the owner, mask (or owning group) and other entries take the
 * new permission bits (posix_acl_chmod). */
static void acl_apply_mode(struct acl_ent *e, int n, uint32_t mode)
{
	struct acl_ent *group = NULL, *mask = NULL;
	for (int i = 0; i < n; i++) {
		switch (e[i].tag) {
		case ACL_USER_OBJ: e[i].perm = (mode >> 6) & 7; break;
		case ACL_GROUP_OBJ: group = &e[i]; break;
		case ACL_MASK: mask = &e[i]; break;
		case ACL_OTHER: e[i].perm = mode & 7; break;
		default: break;
		}
	}
	if (mask)
		mask->perm = (mode >> 3) & 7;
	else if (group)
		group->perm = (mode >> 3) & 7;
}

/* A new inode's access ACL from its parent's default ACL and the mode the
 * creator asked for; both are narrowed (posix_acl_create_masq).  Returns
 * whether the ACL says more than the mode. */
static bool acl_create_masq(struct acl_ent *e, int n, uint32_t *mode)
{
	struct acl_ent *group = NULL, *mask = NULL;
	bool not_equiv = false;
	uint32_t m = *mode;
	for (int i = 0; i < n; i++) {
		switch (e[i].tag) {
		case ACL_USER_OBJ:
			e[i].perm &= (m >> 6) & 7;
			m &= ((uint32_t)e[i].perm << 6) | ~(uint32_t)S_IRWXU;
			break;
		case ACL_USER:
		case ACL_GROUP:
			not_equiv = true;
			break;
		case ACL_GROUP_OBJ:
			group = &e[i];
			break;
		case ACL_OTHER:
			e[i].perm &= m & 7;
			m &= e[i].perm | ~(uint32_t)S_IRWXO;
			break;
		case ACL_MASK:
			mask = &e[i];
			not_equiv = true;
			break;
		}
	}
	struct acl_ent *g = mask ? mask : group;
	if (g) {
		g->perm &= (m >> 3) & 7;
		m &= ((uint32_t)g->perm << 3) | ~(uint32_t)S_IRWXG;
	}
	*mode = m;
	return not_equiv;
}

/* Read X ino name (ACL_DEFAULT or ACL_ACCESS) into e; *n = 0 if absent. */
static int acl_get(lsmfs *fs, uint64_t ino, const char *name, struct acl_ent *e,
		   int *n)
{
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_XATTR, ino, name, strlen(name));
	void *v = NULL;
	size_t vl = 0;
	*n = 0;
	int rc = lsm_get(fs->db, NULL, k, kl, &v, &vl);
	if (rc == LSM_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return fs_eng(rc, "reading an ACL");
	rc = acl_parse(v, vl, e, n);
	free(v);
	if (rc < 0)
		return fs_err(-EIO, "inode %" PRIu64 ": malformed %s (%zu bytes)", ino, name, vl);
	return 0;
}

/* Add X ino name = the xattr form of e[0..n) to b. */
static int acl_put(lsm_batch *b, uint64_t ino, const char *name,
		   const struct acl_ent *e, int n)
{
	char k[FS_KEY_NAME_MAX];
	unsigned char v[ACL_HDR + ACL_MAX * ACL_ENT];
	size_t kl = fs_key_named(k, FS_K_XATTR, ino, name, strlen(name));
	return lsm_batch_put(b, k, kl, v, acl_encode(e, n, v));
}

/*
 * A2: after a chmod to mode (in batch b, the inode locked): a stored access
 * ACL follows.  a: the inode's attributes (FS_IF_XATTR says whether to
 * look at all).
 */
int fs_acl_chmod(lsmfs *fs, lsm_batch *b, uint64_t ino, const fs_attr *a,
		 uint32_t mode)
{
	if (!(a->flags & FS_IF_XATTR) || S_ISLNK(a->mode))
		return 0;
	struct acl_ent *e = malloc(ACL_MAX * sizeof(*e));
	int n, rc;
	if (!e)
		return -ENOMEM;
	rc = acl_get(fs, ino, ACL_ACCESS, e, &n);
	if (rc == 0 && n > 0) {
		acl_apply_mode(e, n, mode);
		rc = acl_put(b, ino, ACL_ACCESS, e, n);
	}
	free(e);
	return rc;
}

/*
 * A3: the permission bits (*perm, 07777) and ACLs of a new inode of type
 * `type` under dir (locked).  Without a default ACL on dir, *perm loses
 * the umask.  With one, the umask is ignored: *perm is narrowed by the
 * ACL, and the new inode's ACLs are added to b for ino (and *has_xattr
 * set).
 */
int fs_acl_inherit(lsmfs *fs, lsm_batch *b, const fs_attr *dir, uint64_t dino,
		   uint64_t ino, uint32_t type, uint32_t *perm, mode_t umask,
		   bool *has_xattr)
{
	struct acl_ent *e = NULL;
	int n = 0, rc = 0;
	*has_xattr = false;
	if ((dir->flags & FS_IF_XATTR) && !S_ISLNK(type)) {
		if (!(e = malloc(ACL_MAX * sizeof(*e))))
			return -ENOMEM;
		if ((rc = acl_get(fs, dino, ACL_DEFAULT, e, &n)) < 0)
			goto out;
	}
	if (n == 0) {
		*perm &= ~(uint32_t)umask;
		goto out;
	}
	if (S_ISDIR(type)) {
		if ((rc = acl_put(b, ino, ACL_DEFAULT, e, n)) < 0)
			goto out;
		*has_xattr = true;
	}
	uint32_t m = *perm & 0777;
	if (acl_create_masq(e, n, &m)) {
		if ((rc = acl_put(b, ino, ACL_ACCESS, e, n)) < 0)
			goto out;
		*has_xattr = true;
	}
	*perm = (*perm & ~(uint32_t)0777) | m;
out:
	free(e);
	return rc;
}

/* Shared by set and remove: value == NULL removes. */
static int xattr_change(lsmfs *fs, const fs_cred *c, uint64_t ino,
			const char *name, const void *value, size_t size,
			int flags)
{
	struct fs_inode *ip;
	lsm_batch *b = NULL;
	struct acl_ent *acl = NULL;
	int nacl = 0;
	size_t nl;
	enum ns ns;
	int rc;

	if ((rc = classify(name, &nl, &ns)) < 0)
		return rc;
	if (value && size > FS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	bool is_acl = ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT;
	bool removing = !value;
	if (is_acl && value) {
		if (!(acl = malloc(ACL_MAX * sizeof(*acl))))
			return -ENOMEM;
		if ((rc = acl_parse(value, size, acl, &nacl)) < 0) {
			free(acl);
			return rc;
		}
		if (nacl == 0)
			value = NULL;	/* an empty ACL: remove it (as Linux) */
	}
	if ((rc = fs_iget(fs, ino, &ip)) < 0) {
		free(acl);
		return rc;
	}
	pthread_mutex_lock(&ip->lock);
	if (ip->gone) {
		rc = -ENOENT;
		goto err;
	}
	fs_attr a = ip->a;
	if ((rc = may_write(fs, c, &a, ns)) < 0) {
		/* Removing the default ACL of a non-directory: nothing to
		 * do (A4). */
		if (rc == -EACCES && ns == NS_ACL_DEFAULT && removing)
			rc = 0;
		goto err;
	}
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	char k[FS_KEY_NAME_MAX];
	size_t kl = fs_key_named(k, FS_K_XATTR, ino, name, nl);
	bool exists = false;
	if ((a.flags & FS_IF_XATTR) && (!value || flags || is_acl) &&
	    (rc = xattr_exists(fs, k, kl, &exists)) < 0)
		goto err;
	if (!value && !exists) {
		rc = is_acl ? 0 : -ENODATA;	/* A4 */
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
	if (value && ns == NS_ACL_ACCESS) {
		/* A1: the mode follows; an ACL the mode says all of is not
		 * kept. */
		uint32_t perm;
		bool equiv = acl_equiv_mode(acl, nacl, &perm);
		a.mode = (a.mode & ~(uint32_t)0777) | perm;
		if (c->uid != 0 && !fs_in_group(c, a.gid))
			a.mode &= ~(uint32_t)S_ISGID;
		if (equiv) {
			if (exists)
				FS_ERR(lsm_batch_delete(b, k, kl));
		} else {
			FS_ERR(acl_put(b, ino, name, acl, nacl));
			a.flags |= FS_IF_XATTR;
		}
	} else if (value && is_acl) {
		FS_ERR(acl_put(b, ino, name, acl, nacl));
		a.flags |= FS_IF_XATTR;
	} else if (value) {
		FS_ERR(lsm_batch_put(b, k, kl, value, size));
		a.flags |= FS_IF_XATTR;
	} else {
		FS_ERR(lsm_batch_delete(b, k, kl));
	}
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
	free(acl);
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
		/* The kernel leaves listing to us: trusted.* is root's
		 * even with kernel permission checks (as ext4 lists it). */
		if (nl >= 8 && memcmp(n, "trusted.", 8) == 0 && c->uid != 0)
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
