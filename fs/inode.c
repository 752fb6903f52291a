/*
 * inode.c — the in-memory inode table (lookup counts, references, cached
 * attributes), inode records, permission rules, getattr/setattr/forget/
 * access, and the "drop one link" step shared by unlink, rmdir and rename.
 *
 * The table is sharded by inode number; a shard's mutex guards its chains
 * and the refs/nlookup counts of its inodes (invariant T1 in
 * fs_internal.h).  Loading an inode from the engine happens under the shard
 * mutex, so two threads never load the same inode twice and a loader never
 * races with the thread that frees the entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"

/* ---- the table --------------------------------------------------------------- */

static struct fs_shard *shard_of(lsmfs *fs, uint64_t ino)
{
	return &fs->shards[ino % FS_SHARDS];
}

static size_t bucket_of(const struct fs_shard *s, uint64_t ino)
{
	uint64_t h = (ino / FS_SHARDS) * UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(h >> 32) & (s->nbuckets - 1);
}

int fs_itable_init(lsmfs *fs)
{
	for (int i = 0; i < FS_SHARDS; i++) {
		struct fs_shard *s = &fs->shards[i];
		pthread_mutex_init(&s->mu, NULL);
		s->nbuckets = 16;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets)
			return -ENOMEM;
	}
	return 0;
}

static void inode_free(lsmfs *fs, struct fs_inode *ip)
{
	if (ip->idata)
		fs_atomic_add(&fs->idata_bytes, -(int64_t)ip->a.size);
	free(ip->idata);
	free(ip->symlink);
	pthread_mutex_destroy(&ip->lock);
	free(ip);
	fs_atomic_add(&fs->n_cached, -1);
}

void fs_itable_free(lsmfs *fs)
{
	for (int i = 0; i < FS_SHARDS; i++) {
		struct fs_shard *s = &fs->shards[i];
		if (!s->buckets)
			continue;
		for (size_t j = 0; j < s->nbuckets; j++) {
			struct fs_inode *ip = s->buckets[j], *n;
			for (; ip; ip = n) {
				n = ip->hnext;
				inode_free(fs, ip);
			}
		}
		free(s->buckets);
		s->buckets = NULL;
		pthread_mutex_destroy(&s->mu);
	}
}

static struct fs_inode *shard_find(struct fs_shard *s, uint64_t ino)
{
	struct fs_inode *ip = s->buckets[bucket_of(s, ino)];
	while (ip && ip->ino != ino)
		ip = ip->hnext;
	return ip;
}

static void shard_insert(struct fs_shard *s, struct fs_inode *ip)
{
	if (s->count >= s->nbuckets) {
		size_t nb = s->nbuckets * 2;
		struct fs_inode **nbk = calloc(nb, sizeof(*nbk));
		if (nbk) {	/* else keep the longer chains */
			struct fs_shard t = { .buckets = nbk, .nbuckets = nb };
			for (size_t j = 0; j < s->nbuckets; j++) {
				struct fs_inode *p = s->buckets[j], *n;
				for (; p; p = n) {
					n = p->hnext;
					size_t b = bucket_of(&t, p->ino);
					p->hnext = nbk[b];
					nbk[b] = p;
				}
			}
			free(s->buckets);
			s->buckets = nbk;
			s->nbuckets = nb;
		}
	}
	size_t b = bucket_of(s, ip->ino);
	ip->hnext = s->buckets[b];
	s->buckets[b] = ip;
	s->count++;
}

static void shard_remove(struct fs_shard *s, struct fs_inode *ip)
{
	struct fs_inode **pp = &s->buckets[bucket_of(s, ip->ino)];
	while (*pp && *pp != ip)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = ip->hnext;
		s->count--;
	}
}

static struct fs_inode *inode_alloc(lsmfs *fs, uint64_t ino, const fs_attr *a)
{
	struct fs_inode *ip = calloc(1, sizeof(*ip));
	if (!ip)
		return NULL;
	ip->ino = ino;
	ip->a = *a;
	ip->refs = 1;
	ip->dparent = a->parent;
	pthread_mutex_init(&ip->lock, NULL);
	fs_atomic_add(&fs->n_cached, 1);
	return ip;
}

int fs_iget(lsmfs *fs, uint64_t ino, struct fs_inode **out)
{
	struct fs_shard *s = shard_of(fs, ino);
	int rc = 0;
	void *v = NULL;
	size_t vl = 0;

	*out = NULL;
	if (ino == 0)
		return -ENOENT;
	pthread_mutex_lock(&s->mu);
	struct fs_inode *ip = shard_find(s, ino);
	if (ip) {
		ip->refs++;
		goto out;
	}
	char k[FS_KEY_INO_LEN];
	fs_key_ino(k, FS_K_INODE, ino);
	rc = lsm_get(fs->db, NULL, k, sizeof(k), &v, &vl);
	if (rc == LSM_E_NOTFOUND) {
		rc = -ENOENT;
		goto out;
	}
	if (rc < 0) {
		rc = fs_eng(rc, "reading an inode");
		goto out;
	}
	fs_attr a;
	const char *idata;
	size_t ilen;
	rc = fs_inode_decode(v, vl, ino, &a, &idata, &ilen);
	if (rc < 0) {
		rc = -EIO;	/* the detail names the inode and offset */
		goto out;
	}
	ip = inode_alloc(fs, ino, &a);
	if (!ip) {
		rc = -ENOMEM;
		goto out;
	}
	/* The inline data came with the record: keep it while the cache
	 * budget allows, so the read that usually follows costs nothing. */
	if (a.flags & FS_IF_INLINE) {
		if (ilen == 0) {
			ip->idata_valid = true;
		} else if (fs_atomic_get(&fs->idata_bytes) + ilen <= FS_IDATA_BUDGET) {
			ip->idata = malloc(ilen);
			if (ip->idata) {
				memcpy(ip->idata, idata, ilen);
				ip->idata_valid = true;
				fs_atomic_add(&fs->idata_bytes, (int64_t)ilen);
			}
		}
	} else {
		ip->idata_valid = true;
	}
	shard_insert(s, ip);
out:
	pthread_mutex_unlock(&s->mu);
	free(v);
	*out = ip;
	return rc;
}

int fs_iget_new(lsmfs *fs, uint64_t ino, const fs_attr *a,
		struct fs_inode **out)
{
	struct fs_shard *s = shard_of(fs, ino);
	pthread_mutex_lock(&s->mu);
	struct fs_inode *ip = shard_find(s, ino);
	if (ip) {
		ip->refs++;
	} else {
		ip = inode_alloc(fs, ino, a);
		if (ip) {
			ip->idata_valid = true;	/* new: empty */
			shard_insert(s, ip);
		}
	}
	pthread_mutex_unlock(&s->mu);
	*out = ip;
	return ip ? 0 : -ENOMEM;
}

void fs_iref(lsmfs *fs, struct fs_inode *ip)
{
	struct fs_shard *s = shard_of(fs, ip->ino);
	pthread_mutex_lock(&s->mu);
	ip->refs++;
	pthread_mutex_unlock(&s->mu);
}

void fs_iput(lsmfs *fs, struct fs_inode *ip)
{
	if (!ip)
		return;
	struct fs_shard *s = shard_of(fs, ip->ino);
	bool dead = false;
	pthread_mutex_lock(&s->mu);
	if (--ip->refs == 0 && ip->nlookup == 0) {
		shard_remove(s, ip);
		dead = true;
	}
	pthread_mutex_unlock(&s->mu);
	if (dead)
		inode_free(fs, ip);
}

void fs_ilookup(lsmfs *fs, struct fs_inode *ip)
{
	struct fs_shard *s = shard_of(fs, ip->ino);
	pthread_mutex_lock(&s->mu);
	ip->nlookup++;
	pthread_mutex_unlock(&s->mu);
}

void fs_forget(lsmfs *fs, uint64_t ino, uint64_t nlookup)
{
	struct fs_shard *s = shard_of(fs, ino);
	struct fs_inode *dead = NULL;
	pthread_mutex_lock(&s->mu);
	struct fs_inode *ip = shard_find(s, ino);
	if (ip) {
		ip->nlookup -= nlookup < ip->nlookup ? nlookup : ip->nlookup;
		if (ip->nlookup == 0 && ip->refs == 0) {
			shard_remove(s, ip);
			dead = ip;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (dead)
		inode_free(fs, dead);
}

/* ---- locking several inodes -------------------------------------------------- */

static int ino_cmp(const void *x, const void *y)
{
	const struct fs_inode *a = *(struct fs_inode *const *)x;
	const struct fs_inode *b = *(struct fs_inode *const *)y;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

static int dedupe(struct fs_inode **ips, int n, struct fs_inode **out)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (ips[i])
			out[m++] = ips[i];
	qsort(out, (size_t)m, sizeof(*out), ino_cmp);
	int k = 0;
	for (int i = 0; i < m; i++)
		if (k == 0 || out[k - 1] != out[i])
			out[k++] = out[i];
	return k;
}

void fs_lock_set(struct fs_inode **ips, int n)
{
	struct fs_inode *s[8];
	int k = dedupe(ips, n, s);
	for (int i = 0; i < k; i++)
		pthread_mutex_lock(&s[i]->lock);
}

void fs_unlock_set(struct fs_inode **ips, int n)
{
	struct fs_inode *s[8];
	int k = dedupe(ips, n, s);
	for (int i = k - 1; i >= 0; i--)
		pthread_mutex_unlock(&s[i]->lock);
}

/* ---- attributes and records ---------------------------------------------------- */

void fs_attr_to_stat(const lsmfs *fs, uint64_t ino, const fs_attr *a,
		     struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = fs->bs;
	/* Sizes and block counts as ext4 reports them, so that du, ls -s
	 * and tools comparing trees see the same numbers: an inline file
	 * with data occupies one block (inline_max <= block size), a
	 * directory one block of size bs (the stored size stays 0: entries
	 * are separate keys), a symlink whose target would not fit in
	 * ext4's inode (60 bytes with its NUL) one block. */
	if (S_ISDIR(a->mode)) {
		st->st_size = a->nlink ? (off_t)fs->bs : 0;	/* removed: 0 */
		st->st_blocks = (blkcnt_t)(fs->bs / 512);
	} else if (S_ISLNK(a->mode)) {
		st->st_blocks = a->size >= 60 ? (blkcnt_t)(fs->bs / 512) : 0;
	} else if (a->flags & FS_IF_INLINE) {
		st->st_blocks = a->size ? (blkcnt_t)(fs->bs / 512) : 0;
	} else {
		st->st_blocks = (blkcnt_t)(a->nblocks * (fs->bs / 512));
	}
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

void fs_istat(const lsmfs *fs, struct fs_inode *ip, struct stat *st)
{
	if (st)
		fs_attr_to_stat(fs, ip->ino, &ip->a, st);
}

int fs_batch_inode(lsm_batch *b, uint64_t ino, const fs_attr *a,
		   const char *idata)
{
	char k[FS_KEY_INO_LEN];
	char stackbuf[FS_INODE_HDR_LEN + 512];
	size_t dl = (a->flags & FS_IF_INLINE) ? (size_t)a->size : 0;
	size_t n = FS_INODE_HDR_LEN + dl;
	char *v = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
	if (!v)
		return -ENOMEM;
	fs_inode_encode(v, a);
	if (dl)
		memcpy(v + FS_INODE_HDR_LEN, idata, dl);
	fs_key_ino(k, FS_K_INODE, ino);
	int rc = lsm_batch_put(b, k, sizeof(k), v, n);
	if (v != stackbuf)
		free(v);
	return rc;
}

void fs_idata_set(lsmfs *fs, struct fs_inode *ip, char *data, bool valid)
{
	if (ip->idata)
		fs_atomic_add(&fs->idata_bytes, -(int64_t)ip->a.size);
	free(ip->idata);
	ip->idata = data;
	ip->idata_valid = valid;
	/* Accounted at the size the caller has committed to ip->a. */
	if (data)
		fs_atomic_add(&fs->idata_bytes, (int64_t)ip->a.size);
}

int fs_idata_load(lsmfs *fs, struct fs_inode *ip)
{
	if (ip->idata_valid)
		return 0;
	if (!(ip->a.flags & FS_IF_INLINE) || ip->a.size == 0) {
		ip->idata_valid = true;
		return 0;
	}
	char k[FS_KEY_INO_LEN];
	void *v = NULL;
	size_t vl = 0;
	fs_attr a;
	const char *d;
	size_t dl;
	fs_key_ino(k, FS_K_INODE, ip->ino);
	int rc = lsm_get(fs->db, NULL, k, sizeof(k), &v, &vl);
	if (rc < 0)
		return fs_eng(rc == LSM_E_NOTFOUND ? LSM_E_CORRUPT : rc,
			      "reading inline data");
	rc = fs_inode_decode(v, vl, ip->ino, &a, &d, &dl);
	if (rc == 0 && dl != ip->a.size)
		rc = fs_err(LSM_E_CORRUPT, "inode %" PRIu64 ": inline data of %zu bytes, cached size %" PRIu64,
			    ip->ino, dl, ip->a.size);
	if (rc < 0) {
		free(v);
		return -EIO;
	}
	char *copy = malloc(dl);
	if (!copy) {
		free(v);
		return -ENOMEM;
	}
	memcpy(copy, d, dl);
	free(v);
	ip->idata = copy;
	ip->idata_valid = true;
	fs_atomic_add(&fs->idata_bytes, (int64_t)dl);
	return 0;
}

void fs_idata_trim(lsmfs *fs, struct fs_inode *ip)
{
	if (ip->nopen == 0 && ip->idata &&
	    fs_atomic_get(&fs->idata_bytes) > FS_IDATA_BUDGET)
		fs_idata_set(fs, ip, NULL, false);
}

int fs_batch_destroy(lsmfs *fs, lsm_batch *b, uint64_t ino, const fs_attr *a,
		     bool orphan)
{
	(void)fs;
	char k[FS_KEY_INO_LEN], e[FS_KEY_INO_LEN];
	int rc;
	fs_key_ino(k, FS_K_INODE, ino);
	if ((rc = lsm_batch_delete(b, k, sizeof(k))) < 0)
		return rc;
	if (S_ISREG(a->mode) && !(a->flags & FS_IF_INLINE) && a->maxblk > 0) {
		/* All of the file's data: one range tombstone (none when the
		 * file never had a block: F1 in file.c). */
		fs_key_ino(k, FS_K_BLOCK, ino);
		fs_key_ino_end(e, FS_K_BLOCK, ino);
		if ((rc = lsm_batch_delete_range(b, k, sizeof(k), e, sizeof(e))) < 0)
			return rc;
	}
	if (a->flags & FS_IF_XATTR) {
		fs_key_ino(k, FS_K_XATTR, ino);
		fs_key_ino_end(e, FS_K_XATTR, ino);
		if ((rc = lsm_batch_delete_range(b, k, sizeof(k), e, sizeof(e))) < 0)
			return rc;
	}
	if (S_ISLNK(a->mode)) {
		fs_key_ino(k, FS_K_SYMLINK, ino);
		if ((rc = lsm_batch_delete(b, k, sizeof(k))) < 0)
			return rc;
	}
	if (orphan) {
		fs_key_ino(k, FS_K_ORPHAN, ino);
		if ((rc = lsm_batch_delete(b, k, sizeof(k))) < 0)
			return rc;
	}
	return 0;
}

void fs_count(lsmfs *fs, uint32_t mode, int delta)
{
	fs_atomic_add(&fs->n_inodes, delta);
	switch (mode & S_IFMT) {
	case S_IFREG: fs_atomic_add(&fs->n_files, delta); break;
	case S_IFDIR: fs_atomic_add(&fs->n_dirs, delta); break;
	case S_IFLNK: fs_atomic_add(&fs->n_symlinks, delta); break;
	default: fs_atomic_add(&fs->n_specials, delta); break;
	}
}

/* ---- permissions -------------------------------------------------------------- */

bool fs_in_group(const fs_cred *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

int fs_perm_check(const fs_cred *c, const fs_attr *a, int mask)
{
	mask &= R_OK | W_OK | X_OK;
	if (c->uid == 0) {
		/* CAP_DAC_OVERRIDE: everything but executing a file no one
		 * may execute. */
		if ((mask & X_OK) && !S_ISDIR(a->mode) && !(a->mode & 0111))
			return -EACCES;
		return 0;
	}
	uint32_t bits;
	if (c->uid == a->uid)
		bits = a->mode >> 6;
	else if (fs_in_group(c, a->gid))
		bits = a->mode >> 3;
	else
		bits = a->mode;
	return (mask & ~(int)bits & 7) ? -EACCES : 0;
}

int fs_perm(const lsmfs *fs, const fs_cred *c, const fs_attr *a, int mask)
{
	return fs->kperm ? 0 : fs_perm_check(c, a, mask);
}

int fs_sticky(const lsmfs *fs, const fs_cred *c, const fs_attr *dir,
	      const fs_attr *child)
{
	(void)fs;
	if (!(dir->mode & S_ISVTX) || c->uid == 0 || c->uid == dir->uid ||
	    c->uid == child->uid)
		return 0;
	return -EPERM;
}

void fs_kill_priv(fs_attr *a)
{
	if (S_ISDIR(a->mode))
		return;
	a->mode &= ~(uint32_t)S_ISUID;
	if ((a->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		a->mode &= ~(uint32_t)S_ISGID;
}

int fs_access(lsmfs *fs, const fs_cred *c, uint64_t ino, int mask)
{
	struct fs_inode *ip;
	int rc = fs_iget(fs, ino, &ip);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (ip->gone)
		rc = -ENOENT;
	else if ((mask & W_OK) && fs->read_only)
		rc = -EROFS;
	else if (mask != F_OK)
		rc = fs_perm_check(c, &ip->a, mask);
	pthread_mutex_unlock(&ip->lock);
	fs_iput(fs, ip);
	return rc;
}

/* ---- getattr / setattr -------------------------------------------------------- */

int fs_getattr(lsmfs *fs, uint64_t ino, struct stat *st)
{
	struct fs_inode *ip;
	int rc = fs_iget(fs, ino, &ip);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	fs_istat(fs, ip, st);
	pthread_mutex_unlock(&ip->lock);
	fs_iput(fs, ip);
	return 0;
}

static void set_time(struct timespec *dst, const struct timespec *src,
		     const struct timespec *now)
{
	*dst = src->tv_nsec == UTIME_NOW ? *now : *src;
}

int fs_setattr(lsmfs *fs, const fs_cred *c, uint64_t ino,
	       const struct stat *attr, int to_set, uint64_t fh,
	       struct stat *st)
{
	struct fs_inode *ip = NULL;
	lsm_batch *b = NULL;
	char *nidata = NULL;
	bool nidata_set = false;
	int rc;

	if (to_set & FS_SET_ATIME && attr->st_atim.tv_nsec == UTIME_OMIT)
		to_set &= ~FS_SET_ATIME;
	if (to_set & FS_SET_MTIME && attr->st_mtim.tv_nsec == UTIME_OMIT)
		to_set &= ~FS_SET_MTIME;
	if (to_set & FS_SET_CTIME && attr->st_ctim.tv_nsec == UTIME_OMIT)
		to_set &= ~FS_SET_CTIME;
	struct fs_handle *h = fh ? fs_handle_get(fh) : NULL;
	if (fh && !h)
		return -EBADF;
	if ((rc = fs_iget(fs, ino, &ip)) < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (ip->gone) {
		rc = -ENOENT;
		goto err;
	}
	if (to_set == 0) {
		fs_istat(fs, ip, st);
		goto err;
	}
	if (fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	struct timespec now;
	fs_now(&now);
	fs_attr a = ip->a;
	bool owner = c->uid == 0 || c->uid == a.uid;

	if (to_set & (FS_SET_UID | FS_SET_GID)) {
		uid_t nu = (to_set & FS_SET_UID) ? attr->st_uid : a.uid;
		gid_t ng = (to_set & FS_SET_GID) ? attr->st_gid : a.gid;
		if (!fs->kperm && c->uid != 0) {
			/* Only root gives a file away; the owner may move it
			 * to one of its own groups. */
			if (nu != a.uid || c->uid != a.uid ||
			    (ng != a.gid && !fs_in_group(c, ng))) {
				rc = -EPERM;
				goto err;
			}
		}
		a.uid = nu;
		a.gid = ng;
		/* As Linux: any chown of a non-directory drops setuid, and
		 * setgid when it means "group-exec" (not mandatory locking) —
		 * unless this very call sets the mode. */
		if (!(to_set & FS_SET_MODE))
			fs_kill_priv(&a);
	}
	if (to_set & FS_SET_MODE) {
		if (!fs->kperm && !owner) {
			rc = -EPERM;
			goto err;
		}
		uint32_t m = attr->st_mode & 07777;
		if (!fs->kperm && c->uid != 0 && (m & S_ISGID) && !fs_in_group(c, a.gid))
			m &= ~(uint32_t)S_ISGID;
		a.mode = (a.mode & S_IFMT) | m;
	}
	if (to_set & FS_SET_SIZE) {
		if (S_ISDIR(a.mode)) {
			rc = -EISDIR;
			goto err;
		}
		if (!S_ISREG(a.mode)) {
			rc = -EINVAL;
			goto err;
		}
		if (attr->st_size < 0) {
			rc = -EINVAL;
			goto err;
		}
		if ((uint64_t)attr->st_size > FS_MAX_FILE_SIZE) {
			rc = -EFBIG;
			goto err;
		}
		if (h) {
			if ((h->flags & O_ACCMODE) == O_RDONLY) {
				rc = -EINVAL;	/* ftruncate of a read-only fd */
				goto err;
			}
		} else if ((rc = fs_perm(fs, c, &a, W_OK)) < 0) {
			goto err;
		}
	}
	if (to_set & (FS_SET_ATIME | FS_SET_MTIME)) {
		bool explicit_t =
			((to_set & FS_SET_ATIME) && attr->st_atim.tv_nsec != UTIME_NOW) ||
			((to_set & FS_SET_MTIME) && attr->st_mtim.tv_nsec != UTIME_NOW);
		if (!fs->kperm && !owner) {
			if (explicit_t) {
				rc = -EPERM;
				goto err;
			}
			if ((rc = fs_perm_check(c, &a, W_OK)) < 0)
				goto err;
		}
	}

	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	if ((to_set & FS_SET_MODE) && ((a.mode ^ ip->a.mode) & 0777))
		FS_ERR(fs_acl_chmod(fs, b, ino, &a, a.mode));
	if ((to_set & FS_SET_SIZE)) {
		if ((a.flags & FS_IF_INLINE) && (rc = fs_idata_load(fs, ip)) < 0)
			goto err;
		FS_ERR(fs_truncate_prep(fs, ip, b, &a, (uint64_t)attr->st_size, &nidata));
		nidata_set = true;
		if (!fs->kperm && c->uid != 0)
			fs_kill_priv(&a);
		if (!(to_set & FS_SET_MTIME))
			a.mtime = now;
	}
	if (to_set & FS_SET_ATIME)
		set_time(&a.atime, &attr->st_atim, &now);
	if (to_set & FS_SET_MTIME)
		set_time(&a.mtime, &attr->st_mtim, &now);
	if (to_set & FS_SET_CTIME)
		set_time(&a.ctime, &attr->st_ctim, &now);
	else
		a.ctime = now;

	const char *idata = ip->idata;
	if (nidata_set) {
		idata = nidata;
	} else if ((a.flags & FS_IF_INLINE) && a.size) {
		FS_ERR(fs_idata_load(fs, ip));
		idata = ip->idata;
	}
	FS_ERR(fs_batch_inode(b, ino, &a, idata));
	rc = lsm_write(fs->db, fs_wo(), b);
	if (rc < 0) {
		rc = fs_eng(rc, "setattr");
		goto err;
	}
	if (nidata_set) {
		fs_idata_set(fs, ip, NULL, false);
		ip->a = a;
		fs_idata_set(fs, ip, nidata, true);
		nidata = NULL;
	} else {
		ip->a = a;
	}
	fs_istat(fs, ip, st);
	fs_idata_trim(fs, ip);
err:
	free(nidata);
	lsm_batch_free(b);
	pthread_mutex_unlock(&ip->lock);
	fs_iput(fs, ip);
	return rc;
}

/* ---- dropping a link ----------------------------------------------------------- */

int fs_unlink_child(lsmfs *fs, lsm_batch *b, struct fs_inode *child,
		    const struct timespec *now, fs_attr *after, int *effect)
{
	int rc;
	*after = child->a;
	after->ctime = *now;
	if (S_ISDIR(after->mode) || after->nlink <= 1)
		after->nlink = 0;
	else
		after->nlink--;
	if (after->nlink > 0) {
		*effect = 0;
		if ((after->flags & FS_IF_INLINE) && after->size &&
		    (rc = fs_idata_load(fs, child)) < 0)
			return rc;
		return fs_batch_inode(b, child->ino, after, child->idata);
	}
	if (child->nopen > 0) {
		/* Still open: keep the inode (nlink 0) and say so with an
		 * orphan record, in the same batch as the name's removal. */
		*effect = 2;
		if ((after->flags & FS_IF_INLINE) && after->size &&
		    (rc = fs_idata_load(fs, child)) < 0)
			return rc;
		if ((rc = fs_batch_inode(b, child->ino, after, child->idata)) < 0)
			return rc;
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_ORPHAN, child->ino);
		return lsm_batch_put(b, k, sizeof(k), "", 0);
	}
	*effect = 1;
	return fs_batch_destroy(fs, b, child->ino, after, child->orphan);
}

void fs_unlink_commit(lsmfs *fs, struct fs_inode *child, const fs_attr *after,
		      int effect)
{
	child->a = *after;
	if (effect == 1) {
		child->gone = true;
		fs_count(fs, after->mode, -1);
		if (child->idata) {
			/* Nothing can read it any more. */
			fs_idata_set(fs, child, NULL, true);
		}
	} else if (effect == 2) {
		child->orphan = true;
		fs_atomic_add(&fs->n_orphans, 1);
	}
}
