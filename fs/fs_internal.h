/*
 * fs_internal.h — shared internals of the filesystem core (inode.c, dir.c,
 * file.c, xattr.c, handle.c, super.c).  Not for the FUSE layer or tools.
 *
 * The in-memory inode table.  Every inode some caller is working on, that
 * the kernel has looked up, or that has open handles, is in the table
 * (struct fs_inode); while it is there, its cached attributes are the
 * authority and every engine write of its records is made by a thread
 * holding its lock.  An inode not in the table is described by the engine
 * alone and nobody writes it.  Invariants:
 *   T1  ip->refs (op references + one per open handle) and ip->nlookup are
 *       guarded by the shard mutex; the inode is freed when both are 0.
 *   T2  ip->a, nopen, gone, orphan, idata are guarded by ip->lock.
 *   T3  A write of an inode's records builds the new attributes in a copy,
 *       writes the batch, and only then copies them into ip->a: a failed
 *       write leaves the cache equal to the engine.
 *   T4  gone: the inode's records are deleted from the engine (no names, no
 *       handles); it lives on in memory only to answer getattr until the
 *       last forget.  orphan: an O record exists (no names, open handles).
 *
 * Lock order (deadlock freedom): every blocking inode-lock acquisition is
 * made while holding only locks of inodes with smaller numbers.  Code that
 * must lock a child found under a held directory lock uses trylock and, on
 * failure, drops everything and relocks the whole set in ino order, then
 * re-checks the names (fs_lockset).  fs->rename_mu is taken before any
 * inode lock by renames between two directories (it keeps the tree shape
 * still while the loop check walks parents); fs->sb_mu is a leaf lock.
 */
#ifndef LSMFS_FS_INTERNAL_H
#define LSMFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fs.h"
#include "schema.h"

#define FS_SHARDS 256
#define FS_INO_CHUNK 4096	/* inode numbers reserved per superblock write */
#define FS_IDATA_BUDGET (64u << 20)	/* inline data kept in the cache */
#define FS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)
#define FS_HANDLE_MAGIC 0x6c736d6673686e64ull	/* "lsmfshnd" */
#define FS_FALLOC_CHUNK 65536	/* blocks per fallocate batch */

struct fs_inode {
	uint64_t ino;
	struct fs_inode *hnext;		/* shard chain */
	uint64_t refs;			/* T1 */
	uint64_t nlookup;		/* T1 */
	pthread_mutex_t lock;
	fs_attr a;			/* T2 */
	uint32_t nopen;
	bool gone;
	bool orphan;
	bool idata_valid;		/* idata holds the inline data */
	char *idata;			/* a.size bytes when valid and INLINE */
	char *symlink;			/* cached target (NUL-terminated) */
	/* Directories: the parent's ino, read and written with __atomic so
	 * the rename loop check can walk ancestors without their locks
	 * (it changes only under rename_mu or while creating). */
	uint64_t dparent;
};

struct fs_shard {
	pthread_mutex_t mu;
	struct fs_inode **buckets;
	size_t nbuckets;		/* power of two */
	size_t count;
};

struct fs_handle {
	uint64_t magic;
	struct fs_handle *prev, *next;	/* fs->handles, under fs->h_mu */
	struct fs_inode *ip;		/* holds one ref */
	lsmfs *fs;
	int flags;			/* open(2) flags */
	bool dir;
	const lsm_snapshot *snap;	/* the GC pin; readdir's view */
	/* directories: the cursor (one readdir at a time) */
	pthread_mutex_t mu;
	lsm_iter *it;			/* at snap, bounded to the D range */
	uint64_t pos;			/* offset of the entry it points at */
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
};

struct lsmfs {
	lsm_db *db;
	char *path;
	lsm_options lo;
	bool read_only;
	bool kperm;			/* kernel_permissions */
	bool noatime;
	bool host_statfs;		/* the store is on the host (posix env) */
	uint64_t reserve;		/* host bytes kept free for the engine */
	fs_super sb;			/* as last written (sb_mu) */
	uint32_t bs;			/* block size */
	uint32_t bshift;
	uint32_t inline_max;
	pthread_mutex_t sb_mu;		/* next_ino, sb, S writes */
	uint64_t next_ino;
	pthread_mutex_t rename_mu;
	struct fs_shard shards[FS_SHARDS];
	pthread_mutex_t h_mu;
	struct fs_handle *handles;
	/* counters (atomic) */
	uint64_t n_inodes, n_files, n_dirs, n_symlinks, n_specials;
	uint64_t n_orphans, n_handles, n_cached;
	uint64_t idata_bytes;
};

/* ---- errors (super.c) ---------------------------------------------------- */

/* Record a detail for fs_errdetail and return code. */
int fs_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An engine failure: keep its detail (prefixed by what), return -EIO for
 * LSM_E_* codes, the code itself for -errno. */
int fs_eng(int rc, const char *what);

/* Keep the first error in rc and jump to the function's err label. */
#define FS_ERR(x) do { rc = (x); if (rc < 0) goto err; } while (0)

/* ---- small helpers ------------------------------------------------------- */

static inline void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static inline bool fs_is_dir(const fs_attr *a) { return S_ISDIR(a->mode); }
static inline bool fs_is_reg(const fs_attr *a) { return S_ISREG(a->mode); }

static inline uint64_t fs_nblk(const lsmfs *fs, uint64_t size)
{
	return (size >> fs->bshift) + ((size & (fs->bs - 1)) != 0);
}

static inline void fs_atomic_add(uint64_t *p, int64_t d)
{
	__atomic_add_fetch(p, (uint64_t)d, __ATOMIC_RELAXED);
}
static inline uint64_t fs_atomic_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* 0 if name is a valid new component; -ENAMETOOLONG, -EINVAL ('/'), -ENOENT
 * (empty). */
int fs_name_check(const char *name, size_t *len);
static inline bool fs_is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

/* ---- inode table (inode.c) ----------------------------------------------- */

int fs_itable_init(lsmfs *fs);
/* Free every cached inode (unmount). */
void fs_itable_free(lsmfs *fs);
/* A reference to ino, loaded from the engine if not cached; -ENOENT if the
 * inode does not exist.  A gone inode still in the table is returned:
 * callers check ip->gone where it matters. */
int fs_iget(lsmfs *fs, uint64_t ino, struct fs_inode **out);
/* Enter a just-created inode (its records written) with one ref; if a
 * concurrent lookup loaded it already, that entry is used. */
int fs_iget_new(lsmfs *fs, uint64_t ino, const fs_attr *a,
		struct fs_inode **out);
void fs_iref(lsmfs *fs, struct fs_inode *ip);
void fs_iput(lsmfs *fs, struct fs_inode *ip);
/* Count one kernel lookup. */
void fs_ilookup(lsmfs *fs, struct fs_inode *ip);

/* Lock a set of inodes (NULLs and duplicates allowed) in ino order. */
void fs_lock_set(struct fs_inode **ips, int n);
void fs_unlock_set(struct fs_inode **ips, int n);

void fs_attr_to_stat(const lsmfs *fs, uint64_t ino, const fs_attr *a,
		     struct stat *st);
/* ip->lock held. */
void fs_istat(const lsmfs *fs, struct fs_inode *ip, struct stat *st);

/* Add the inode record of ino with attributes a (and inline data when a is
 * INLINE: idata of a->size bytes) to b. */
int fs_batch_inode(lsm_batch *b, uint64_t ino, const fs_attr *a,
		   const char *idata);
/* Make ip->idata valid (reads the inode record if needed).  ip->lock held. */
int fs_idata_load(lsmfs *fs, struct fs_inode *ip);
/* Replace the cached inline data (takes ownership of data, may be NULL). */
void fs_idata_set(lsmfs *fs, struct fs_inode *ip, char *data, bool valid);
/* Drop the cached inline data if nobody has the file open. */
void fs_idata_trim(lsmfs *fs, struct fs_inode *ip);
/* Add deletes of every record of the inode (I, B range, X range, L, and O
 * if orphan). */
int fs_batch_destroy(lsmfs *fs, lsm_batch *b, uint64_t ino, const fs_attr *a,
		     bool orphan);

/* Counters: delta applied to inodes and to the type's counter. */
void fs_count(lsmfs *fs, uint32_t mode, int delta);

/* ---- permissions (inode.c) ----------------------------------------------- */

bool fs_in_group(const fs_cred *c, gid_t gid);
/* mask: R_OK|W_OK|X_OK.  Always checks (fs_access). */
int fs_perm_check(const fs_cred *c, const fs_attr *a, int mask);
/* Checks unless the kernel did (kernel_permissions). */
int fs_perm(const lsmfs *fs, const fs_cred *c, const fs_attr *a, int mask);
/* Sticky directory rule for removing/replacing child from dir. */
int fs_sticky(const lsmfs *fs, const fs_cred *c, const fs_attr *dir,
	      const fs_attr *child);
/* Clear setuid, and setgid if group-exec (a write or a chown by non-root). */
void fs_kill_priv(fs_attr *a);

/* Drop one link of child (locked) in batch b, with the change written as
 * "child's records" — deletion if it was the last link and nothing has it
 * open, an orphan record if it is open.  *after receives the attributes to
 * commit on success; *effect: 0 still linked, 1 destroyed, 2 orphaned. */
int fs_unlink_child(lsmfs *fs, lsm_batch *b, struct fs_inode *child,
		    const struct timespec *now, fs_attr *after, int *effect);
/* Commit the result of fs_unlink_child after the batch was written. */
void fs_unlink_commit(lsmfs *fs, struct fs_inode *child, const fs_attr *after,
		      int effect);

/* ---- files (file.c) ------------------------------------------------------ */

/* Change the size of a locked regular file in batch b: updates *a (size,
 * nblocks, maxblk, flags), adds the block changes; *idata / *ilen: the new
 * inline data (malloc'd) when a stays INLINE. */
int fs_truncate_prep(lsmfs *fs, struct fs_inode *ip, lsm_batch *b,
		     fs_attr *a, uint64_t size, char **idata);

/* ---- handles (handle.c) -------------------------------------------------- */

struct fs_handle *fs_handle_get(uint64_t fh);
int fs_handle_new(lsmfs *fs, struct fs_inode *ip, int flags, bool dir,
		  uint64_t *fh);
/* Free every handle (unmount); orphans stay for the next mount. */
void fs_handles_drop(lsmfs *fs);
/* Open a file inode (ref held by the caller is passed to the handle on
 * success).  Used by fs_open and fs_create. */
int fs_open_inode(lsmfs *fs, const fs_cred *c, struct fs_inode *ip,
		  int flags, bool created, uint64_t *fh);

/* ---- superblock (super.c) ------------------------------------------------ */

int fs_ino_alloc(lsmfs *fs, uint64_t *ino);
/* Before a write that adds need bytes of data: -ENOSPC when the host
 * filesystem has less than need + fs->reserve free (see super.c). */
int fs_space_check(lsmfs *fs, uint64_t need);
/* Update atime relatime-style, if due; ip->lock held. */
void fs_touch_atime(lsmfs *fs, struct fs_inode *ip, int hflags);

static inline const lsm_write_options *fs_wo(void)
{
	static const lsm_write_options wo = { .sync = false };
	return &wo;
}

/* ---- POSIX ACLs (xattr.c) ----------------------------------------------- */

/* After a chmod to mode (in batch b, the inode locked): a stored access
 * ACL follows the new mode.  a: the inode's attributes. */
int fs_acl_chmod(lsmfs *fs, lsm_batch *b, uint64_t ino, const fs_attr *a,
		 uint32_t mode);
/* The permission bits (*perm) and ACLs of a new inode of type `type` under
 * dir: the umask, or dir's default ACL (then added to b for ino, with
 * *has_xattr set). */
int fs_acl_inherit(lsmfs *fs, lsm_batch *b, const fs_attr *dir, uint64_t dino,
		   uint64_t ino, uint32_t type, uint32_t *perm, mode_t umask,
		   bool *has_xattr);

#endif /* LSMFS_FS_INTERNAL_H */
