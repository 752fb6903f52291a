/*
 * handle.c — open file and directory handles, and the end of orphans.
 *
 * A handle holds one reference to its inode, counts in the inode's nopen,
 * and pins the engine's sequence with a snapshot from open to release (the
 * GC cutoff: what the handle may still need is never compacted away).
 * When the last handle of an inode without names goes, the inode, its
 * xattrs, its data (one range tombstone) and its orphan record are deleted
 * in one batch.
 *
 * The handle id given to callers is the handle's address; a magic number
 * catches a stale or foreign id.  Threads: fs->h_mu guards the list of
 * handles (used only to drop them all at unmount); h->mu serializes readdir
 * on a directory handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"

struct fs_handle *fs_handle_get(uint64_t fh)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fh;
	if (!h || h->magic != FS_HANDLE_MAGIC)
		return NULL;
	return h;
}

int fs_handle_new(lsmfs *fs, struct fs_inode *ip, int flags, bool dir,
		  uint64_t *fh)
{
	struct fs_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->magic = FS_HANDLE_MAGIC;
	h->ip = ip;
	h->fs = fs;
	h->flags = flags;
	h->dir = dir;
	h->snap = lsm_snapshot_acquire(fs->db);
	if (!h->snap) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	fs_key_ino(h->lo, FS_K_DENTRY, ip->ino);
	fs_key_ino_end(h->hi, FS_K_DENTRY, ip->ino);
	pthread_mutex_lock(&fs->h_mu);
	h->next = fs->handles;
	if (fs->handles)
		fs->handles->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->h_mu);
	fs_atomic_add(&fs->n_handles, 1);
	*fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static void handle_unlist(lsmfs *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->h_mu);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->h_mu);
	fs_atomic_add(&fs->n_handles, -1);
}

static void handle_free(lsmfs *fs, struct fs_handle *h)
{
	if (h->it)
		lsm_iter_free(h->it);
	if (h->snap)
		lsm_snapshot_release(fs->db, h->snap);
	fs_iput(fs, h->ip);
	pthread_mutex_destroy(&h->mu);
	h->magic = 0;
	free(h);
}

void fs_handles_drop(lsmfs *fs)
{
	pthread_mutex_lock(&fs->h_mu);
	struct fs_handle *h = fs->handles, *n;
	fs->handles = NULL;
	pthread_mutex_unlock(&fs->h_mu);
	for (; h; h = n) {
		n = h->next;
		fs_atomic_add(&fs->n_handles, -1);
		handle_free(fs, h);
	}
}

/* The last close of an inode without names deletes it (and its orphan
 * record).  ip->lock held.  A failed write leaves the orphan record for the
 * next mount to reclaim. */
static int last_close(lsmfs *fs, struct fs_inode *ip)
{
	if (ip->nopen > 0 || ip->a.nlink > 0 || ip->gone || fs->read_only)
		return 0;
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return -ENOMEM;
	int rc = fs_batch_destroy(fs, b, ip->ino, &ip->a, ip->orphan);
	if (rc == 0) {
		rc = lsm_write(fs->db, fs_wo(), b);
		if (rc < 0)
			rc = fs_eng(rc, "deleting an orphan");
	}
	lsm_batch_free(b);
	if (rc < 0)
		return rc;
	ip->gone = true;
	if (ip->orphan) {
		ip->orphan = false;
		fs_atomic_add(&fs->n_orphans, -1);
	}
	fs_count(fs, ip->a.mode, -1);
	if (ip->idata)
		fs_idata_set(fs, ip, NULL, true);
	return 0;
}

static int handle_close(lsmfs *fs, struct fs_handle *h)
{
	struct fs_inode *ip = h->ip;
	pthread_mutex_lock(&ip->lock);
	ip->nopen--;
	int rc = last_close(fs, ip);
	if (ip->nopen == 0)
		fs_idata_trim(fs, ip);
	pthread_mutex_unlock(&ip->lock);
	handle_unlist(fs, h);
	handle_free(fs, h);
	return rc;
}

int fs_open_inode(lsmfs *fs, const fs_cred *c, struct fs_inode *ip,
		  int flags, bool created, uint64_t *fh)
{
	int rc = 0;
	int acc = flags & O_ACCMODE;
	bool wr = acc == O_WRONLY || acc == O_RDWR;
	lsm_batch *b = NULL;

	pthread_mutex_lock(&ip->lock);
	fs_attr a = ip->a;
	if (ip->gone || a.nlink == 0) {
		/* Opening needs a name, and this inode has none (fs_open
		 * by number of an unlinked inode still open elsewhere is
		 * allowed: /proc/self/fd reopen). */
		if (ip->gone || ip->nopen == 0) {
			rc = -ENOENT;
			goto err;
		}
	}
	if (S_ISDIR(a.mode) && (wr || (flags & O_TRUNC))) {
		rc = -EISDIR;
		goto err;
	}
	if (S_ISLNK(a.mode)) {
		rc = -ELOOP;
		goto err;
	}
	if ((wr || (flags & O_TRUNC)) && fs->read_only) {
		rc = -EROFS;
		goto err;
	}
	if (!created) {
		int mask = 0;
		if (acc == O_RDONLY || acc == O_RDWR)
			mask |= R_OK;
		if (wr || (flags & O_TRUNC))
			mask |= W_OK;
		if ((rc = fs_perm(fs, c, &a, mask)) < 0)
			goto err;
		if ((flags & O_NOATIME) && !fs->kperm && c->uid != 0 &&
		    c->uid != a.uid) {
			rc = -EPERM;
			goto err;
		}
	}
	if ((flags & O_TRUNC) && S_ISREG(a.mode) && !created) {
		/* open(O_TRUNC) marks mtime and ctime even when the file was
		 * already empty (POSIX). */
		char *nidata = NULL;
		struct timespec now;
		fs_now(&now);
		b = lsm_batch_new();
		if (!b) {
			rc = -ENOMEM;
			goto err;
		}
		if ((a.flags & FS_IF_INLINE) && (rc = fs_idata_load(fs, ip)) < 0)
			goto err;
		FS_ERR(fs_truncate_prep(fs, ip, b, &a, 0, &nidata));
		if (!fs->kperm && c->uid != 0)
			fs_kill_priv(&a);
		a.mtime = a.ctime = now;
		rc = fs_batch_inode(b, ip->ino, &a, nidata);
		if (rc == 0 && (rc = lsm_write(fs->db, fs_wo(), b)) < 0)
			rc = fs_eng(rc, "open(O_TRUNC)");
		if (rc < 0) {
			free(nidata);
			goto err;
		}
		fs_idata_set(fs, ip, NULL, false);
		ip->a = a;
		fs_idata_set(fs, ip, nidata, true);
	}
	if ((rc = fs_handle_new(fs, ip, flags, S_ISDIR(a.mode), fh)) < 0)
		goto err;
	ip->nopen++;
err:
	pthread_mutex_unlock(&ip->lock);
	lsm_batch_free(b);
	return rc;
}

int fs_open(lsmfs *fs, const fs_cred *c, uint64_t ino, int flags,
	    uint64_t *fh)
{
	struct fs_inode *ip;
	int rc = fs_iget(fs, ino, &ip);
	if (rc < 0)
		return rc;
	rc = fs_open_inode(fs, c, ip, flags, false, fh);
	if (rc < 0)
		fs_iput(fs, ip);	/* else the handle owns the ref */
	return rc;
}

int fs_release(lsmfs *fs, uint64_t fh)
{
	struct fs_handle *h = fs_handle_get(fh);
	if (!h)
		return -EBADF;
	return handle_close(fs, h);
}

int fs_flush(lsmfs *fs, uint64_t fh)
{
	(void)fs;
	return fs_handle_get(fh) ? 0 : -EBADF;
}

int fs_fsync(lsmfs *fs, uint64_t fh, bool datasync)
{
	(void)datasync;
	if (!fs_handle_get(fh))
		return -EBADF;
	return fs_sync(fs);
}

int fs_opendir(lsmfs *fs, const fs_cred *c, uint64_t ino, int flags,
	       uint64_t *fh)
{
	struct fs_inode *ip;
	int rc = fs_iget(fs, ino, &ip);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ip->lock);
	if (ip->gone)
		rc = -ENOENT;
	else if (!S_ISDIR(ip->a.mode))
		rc = -ENOTDIR;
	else
		rc = fs_perm(fs, c, &ip->a, R_OK);
	if (rc == 0)
		rc = fs_handle_new(fs, ip, flags, true, fh);
	if (rc == 0)
		ip->nopen++;
	pthread_mutex_unlock(&ip->lock);
	if (rc < 0)
		fs_iput(fs, ip);
	return rc;
}

int fs_releasedir(lsmfs *fs, uint64_t fh)
{
	struct fs_handle *h = fs_handle_get(fh);
	if (!h)
		return -EBADF;
	return handle_close(fs, h);
}

int fs_fsyncdir(lsmfs *fs, uint64_t fh, bool datasync)
{
	(void)datasync;
	if (!fs_handle_get(fh))
		return -EBADF;
	return fs_sync(fs);
}
