/*
 * fs.h — the lsmfs filesystem core: POSIX semantics on top of the engine's
 * public API (lsm.h), usable without a mount.  The FUSE layer
 * (fuse_ops.c), fsck, tools and the unit tests call it directly.
 *
 * Model: inode-number based calls mirroring the FUSE low-level operations.
 * Inode numbers are the engine's keys; the root is FS_ROOT_INO (== FUSE's
 * FUSE_ROOT_ID).  Inode numbers are never reused, so the generation of every
 * inode is 0.
 *
 * Returns: every int function returns 0 or a negative errno (-ENOENT,
 * -EEXIST, ...); engine failures surface as -EIO with the engine's detail
 * kept in fs_errdetail().  Only fs_mkfs and fs_mount may also return LSM_E_*
 * codes (LSM_E_VERSION for a newer on-disk format, LSM_E_LOCKED,
 * LSM_E_NOSTORE, LSM_E_CORRUPT ...); fs_strerror() names any code.
 *
 * Attributes: every call that takes a `struct stat *st` out-parameter fills
 * it with the attributes AS THEY ARE AFTER the operation (nlink after link,
 * ctime after rename, size after truncate).  st may be NULL when the caller
 * does not want them.  st_blksize is the filesystem's block size; st_blocks
 * counts 512-byte units of data actually allocated (sparse files are honest).
 *
 * Lookup counts (FUSE semantics): each successful call that hands out an
 * entry — fs_lookup, fs_mknod, fs_mkdir, fs_symlink, fs_link, fs_create and
 * every entry accepted by a fs_readdirplus callback — adds one to the
 * inode's lookup count.  fs_forget(ino, n) drops n.  The FUSE layer must call
 * fs_forget(ino, 1) itself if it fails to deliver such a reply.  Callers
 * that are not the kernel (fsck, tests) may ignore forget: the counts only
 * keep memory until fs_unmount.
 *
 * Handles: fs_open/fs_create/fs_opendir return a handle id (never 0) in
 * *fh; it stays valid until fs_release/fs_releasedir.  Each handle pins the
 * engine's sequence (a snapshot) for its whole life.  File reads and writes
 * through a handle see the latest data; readdir iterates at the directory
 * handle's snapshot (see fs_readdir).
 *
 * Unlinked-but-open files: removing the last name of a file with open
 * handles removes the name at once and writes an orphan record; the handles
 * keep working; the inode and its data are deleted at the last release.  A
 * crash in between is repaired by the next fs_mount.
 *
 * Credentials and permissions: calls that can be refused take the caller's
 * fs_cred.  Unless the mount sets kernel_permissions, the core checks
 * permissions itself as Linux does (owner/group/other bits, root bypass,
 * sticky directories, chmod/chown rules), using cred->groups for
 * supplementary group membership.  With kernel_permissions (FUSE
 * default_permissions), the generic access checks the kernel has already
 * made are skipped; side effects (setgid-directory inheritance, umask,
 * chown clearing setuid/setgid) always apply, while clearing them on write
 * or truncation is then the kernel's (see FS_WRITE_KILL_PRIV).  fs_access
 * always checks.
 *
 * Threads: an lsmfs may be used from any number of threads at once.
 * Operations on different files run in parallel; a handle may be used by
 * several threads, except that fs_readdir/fs_readdirplus calls on one
 * directory handle must not overlap (the kernel never does that).
 */
#ifndef LSMFS_FS_H
#define LSMFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "lsm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lsmfs lsmfs;

#define FS_ROOT_INO 1			/* == FUSE_ROOT_ID */
#define FS_NAME_MAX 255			/* bytes in one name */
#define FS_SYMLINK_MAX 4095		/* bytes in a symlink target */
#define FS_XATTR_NAME_MAX 255		/* bytes in an xattr name */
#define FS_XATTR_SIZE_MAX 65536		/* bytes in an xattr value */
#define FS_LABEL_MAX 63			/* bytes in a filesystem label */

/* The name of a code: 0, -errno or LSM_E_*. */
const char *fs_strerror(int code);
/* The calling thread's description of its last fs error ("" if none). */
const char *fs_errdetail(void);

/* ---- caller context ---------------------------------------------------- */

typedef struct fs_cred {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	mode_t umask;		/* applied to the mode of new inodes */
	int ngroups;		/* supplementary groups (may be 0) */
	const gid_t *groups;
} fs_cred;

/* Root, umask 0, no groups: for fsck, tools and tests. */
fs_cred fs_cred_root(void);

/* ---- mkfs / mount ------------------------------------------------------ */

typedef struct fs_mkfs_opts {
	uint32_t block_size;	/* data block bytes: power of two, 512 .. 1 MiB; 4096 */
	uint32_t inline_max;	/* files up to this size live in the inode; 0 .. block_size; 2048 */
	int compression;	/* engine zstd level; 0 = off; 1 */
	const char *label;	/* up to FS_LABEL_MAX bytes; NULL = "" */
	uid_t root_uid;		/* owner of the root directory; 0 */
	gid_t root_gid;		/* 0 */
	mode_t root_mode;	/* permission bits of the root directory; 0755 */
	bool force;		/* replace an existing lsmfs in the store */
} fs_mkfs_opts;

void fs_mkfs_opts_init(fs_mkfs_opts *o);

/*
 * Create a filesystem in the store directory path (created if missing).
 * lo: engine options (env etc.); NULL = defaults.  Fails with -EEXIST if the
 * store is not empty (an lsmfs or anything else) and !o->force; with force,
 * everything in it is deleted first.
 */
int fs_mkfs(const char *path, const fs_mkfs_opts *o, const lsm_options *lo);

typedef struct fs_mount_opts {
	/* Engine options (env, cache sizes ...); NULL = defaults.  Unless
	 * lsm_compression_set, the compression level is the superblock's. */
	const lsm_options *lsm;
	bool lsm_compression_set;
	bool read_only;		/* every modifying call fails with -EROFS */
	/* The kernel checks permissions (FUSE default_permissions): skip the
	 * core's generic access checks. */
	bool kernel_permissions;
	bool noatime;		/* never update atime (default: relatime) */
} fs_mount_opts;

void fs_mount_opts_init(fs_mount_opts *o);

/*
 * Open the store at path, check the superblock (LSM_E_VERSION, with a
 * detail naming both versions, for a newer format; LSM_E_NOSTORE for a
 * store without an lsmfs superblock), reclaim orphans left by a crash,
 * recount inodes after an unclean shutdown.
 */
int fs_mount(const char *path, const fs_mount_opts *o, lsmfs **out);

/*
 * Clean unmount: handles still open are dropped (their orphans stay on disk
 * and are reclaimed by the next mount), the superblock is marked clean, the
 * engine is synced and closed, fs is freed.  Returns the first error; fs is
 * freed in any case.
 */
int fs_unmount(lsmfs *fs);

/*
 * Tests: drop fs as a crash would — nothing more is written (no clean
 * mark, no orphan reclaim, no sync); the engine is closed and fs freed.
 */
void fs_abort(lsmfs *fs);

/* The engine under fs (for fsck and tools: read, do not write). */
lsm_db *fs_db(lsmfs *fs);

/* ---- names and attributes ---------------------------------------------- */

/* Look name up in directory parent; counts a lookup.  "." and ".." work. */
int fs_lookup(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      struct stat *st);
/* Drop nlookup kernel lookups of ino (never fails; unknown ino ignored). */
void fs_forget(lsmfs *fs, uint64_t ino, uint64_t nlookup);
int fs_getattr(lsmfs *fs, uint64_t ino, struct stat *st);

/* fs_setattr: what to set (bits of to_set) */
enum {
	FS_SET_MODE = 1 << 0,	/* permission bits + setuid/setgid/sticky of attr->st_mode */
	FS_SET_UID = 1 << 1,
	FS_SET_GID = 1 << 2,
	FS_SET_SIZE = 1 << 3,	/* truncate or extend to attr->st_size */
	FS_SET_ATIME = 1 << 4,	/* attr->st_atim; tv_nsec == UTIME_NOW: now */
	FS_SET_MTIME = 1 << 5,	/* attr->st_mtim; tv_nsec == UTIME_NOW: now */
	FS_SET_CTIME = 1 << 6,	/* attr->st_ctim (explicit ctime, as FUSE may send) */
};

/*
 * Change attributes of ino.  A time with tv_nsec == UTIME_OMIT is not set.
 * fh: the handle the change comes through (ftruncate, futimens) or 0; a
 * size change through a writable handle needs no write permission.  Rules
 * as Linux: only root changes the owner; the owner may change the group to
 * one of its groups; chmod by owner or root (setgid dropped when a
 * non-root caller is not in the file's group); any chown of a
 * non-directory clears setuid, and setgid if group-exec (root's too, unless
 * the same call sets the mode); a size change by non-root clears them
 * likewise (see FS_WRITE_KILL_PRIV); times set to now need write permission
 * or ownership, explicit times need ownership.  ctime is updated.
 */
int fs_setattr(lsmfs *fs, const fs_cred *c, uint64_t ino,
	       const struct stat *attr, int to_set, uint64_t fh,
	       struct stat *st);

/* mode carries the file type: S_IFREG (or 0), S_IFCHR, S_IFBLK, S_IFIFO,
 * S_IFSOCK.  S_IFDIR: use fs_mkdir (here -EPERM). */
int fs_mknod(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	     mode_t mode, dev_t rdev, struct stat *st);
int fs_mkdir(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	     mode_t mode, struct stat *st);
int fs_unlink(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name);
int fs_rmdir(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name);
int fs_symlink(lsmfs *fs, const fs_cred *c, const char *target,
	       uint64_t parent, const char *name, struct stat *st);
/* Copy the target (NUL-terminated) into buf; *len = its length without the
 * NUL.  -ERANGE if bufsize <= length; -EINVAL if ino is not a symlink. */
int fs_readlink(lsmfs *fs, uint64_t ino, char *buf, size_t bufsize,
		size_t *len);

/* fs_rename flags (the values of Linux's RENAME_*) */
enum {
	FS_RENAME_NOREPLACE = 1,
	FS_RENAME_EXCHANGE = 2,
	FS_RENAME_WHITEOUT = 4,	/* leave a whiteout (char device 0:0) */
};
int fs_rename(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);
/* Add the name newparent/newname for ino (not a directory: -EPERM). */
int fs_link(lsmfs *fs, const fs_cred *c, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *st);

/* ---- files ------------------------------------------------------------- */

/*
 * Open ino with open(2) flags: O_ACCMODE, O_TRUNC, O_APPEND (writes go to
 * the end whatever offset is passed), O_NOATIME.  Directories: -EISDIR for
 * write access, otherwise use fs_opendir.
 */
int fs_open(lsmfs *fs, const fs_cred *c, uint64_t ino, int flags,
	    uint64_t *fh);
/*
 * Create and open parent/name (mode as fs_mknod, type ignored: regular).
 * If the name exists: -EEXIST with O_EXCL, else it is opened (as fs_open
 * with flags).  The lookup is counted in both cases.
 */
int fs_create(lsmfs *fs, const fs_cred *c, uint64_t parent, const char *name,
	      mode_t mode, int flags, struct stat *st, uint64_t *fh);

/* Read up to size bytes at off; *got is short only at end of file. */
int fs_read(lsmfs *fs, uint64_t fh, void *buf, size_t size, uint64_t off,
	    size_t *got);

enum {
	/* The kernel asks for setuid/setgid to be cleared (FUSE
	 * FUSE_WRITE_KILL_SUIDGID).  Without it they are cleared when the
	 * writer is not root — unless the mount has kernel_permissions: then
	 * the kernel clears them itself (a separate setattr), and the uid of
	 * a writeback request says nothing about who wrote, so the core
	 * clears them only when asked.  The same holds for truncation
	 * (setattr size, O_TRUNC, fallocate). */
	FS_WRITE_KILL_PRIV = 1,
};
/* Write size bytes at off (at end of file for O_APPEND handles). */
int fs_write(lsmfs *fs, const fs_cred *c, uint64_t fh, const void *buf,
	     size_t size, uint64_t off, unsigned flags, size_t *written);
/* May the kernel keep its cached pages of fh's file across this open?
 * Every change to file data goes through the mount, so the pages are
 * current; but a read served from them never reaches the daemon, so they
 * may be kept only when such a read would not move atime (relatime not
 * due, noatime, O_NOATIME).  False for a bad or directory handle. */
bool fs_keep_cache(lsmfs *fs, uint64_t fh);
/* close(2) of one descriptor: nothing to do (writes are not buffered). */
int fs_flush(lsmfs *fs, uint64_t fh);
/* Last close: frees the handle, releases its snapshot; deletes an orphan
 * inode when this was its last handle. */
int fs_release(lsmfs *fs, uint64_t fh);
/* Durable when it returns (datasync: same). */
int fs_fsync(lsmfs *fs, uint64_t fh, bool datasync);

/*
 * fallocate(2) modes: 0 (allocate, extend size), FALLOC_FL_KEEP_SIZE,
 * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE
 * (optionally | KEEP_SIZE).  Others: -EOPNOTSUPP.
 */
int fs_fallocate(lsmfs *fs, const fs_cred *c, uint64_t fh, int mode,
		 uint64_t off, uint64_t len);
/* whence: SEEK_DATA or SEEK_HOLE (others: -EINVAL); -ENXIO past the end. */
int fs_lseek(lsmfs *fs, uint64_t fh, uint64_t off, int whence,
	     uint64_t *result);
/* Copy len bytes from one open file to another; *copied may be short only
 * at the end of the input.  flags must be 0. */
int fs_copy_file_range(lsmfs *fs, const fs_cred *c, uint64_t fh_in,
		       uint64_t off_in, uint64_t fh_out, uint64_t off_out,
		       size_t len, unsigned flags, size_t *copied);

/* ---- directories ------------------------------------------------------- */

int fs_opendir(lsmfs *fs, const fs_cred *c, uint64_t ino, int flags,
	       uint64_t *fh);

/*
 * One directory entry for a readdir callback.  next_off is the offset to
 * pass to resume after this entry.  type is the S_IF* file type.  st is
 * NULL for fs_readdir; for fs_readdirplus it holds the entry's attributes,
 * except for "." and ".." where it is NULL (no lookup is counted for them:
 * reply with entry ino 0).  Return 0 to accept the entry (readdirplus then
 * counts one lookup), nonzero if it did not fit: the entry is not taken
 * and the listing stops.
 */
typedef int (*fs_dirent_cb)(void *ctx, const char *name, uint64_t ino,
			    mode_t type, uint64_t next_off,
			    const struct stat *st);

/*
 * List the directory from offset off (0, or a next_off given earlier on the
 * same handle).  "." and ".." come first.  The listing is taken at the
 * handle's snapshot: an entry never appears twice and one that existed
 * throughout is never skipped, however the directory changes meanwhile.
 * off == 0 takes a fresh snapshot (rewinddir).  Returns 0 at end of
 * directory and when cb stopped it.
 */
int fs_readdir(lsmfs *fs, uint64_t fh, uint64_t off, fs_dirent_cb cb,
	       void *ctx);
int fs_readdirplus(lsmfs *fs, uint64_t fh, uint64_t off, fs_dirent_cb cb,
		   void *ctx);
int fs_releasedir(lsmfs *fs, uint64_t fh);
int fs_fsyncdir(lsmfs *fs, uint64_t fh, bool datasync);

/* f_bsize/f_frsize = block size; f_blocks/f_bfree/f_bavail from the host
 * filesystem under the store; f_files/f_ffree from the inode counters;
 * f_namemax = FS_NAME_MAX. */
int fs_statfs(lsmfs *fs, struct statvfs *sv);

/* F_OK, or an OR of R_OK, W_OK, X_OK. */
int fs_access(lsmfs *fs, const fs_cred *c, uint64_t ino, int mask);

/* ---- extended attributes ----------------------------------------------- */

/*
 * Namespaces: user.* (regular files and directories only; read/write
 * permission on the file), trusted.* and security.* (root to set),
 * system.posix_acl_access / system.posix_acl_default (owner or root to set;
 * checked and normalised; setting an access ACL sets the mode's permission
 * bits in the same batch, and an ACL the mode expresses is not stored;
 * default only on directories, inherited by what is created in them).
 * Others: -EOPNOTSUPP.
 * flags: XATTR_CREATE (-EEXIST if present), XATTR_REPLACE (-ENODATA if
 * absent).  Names over FS_XATTR_NAME_MAX: -ERANGE; values over
 * FS_XATTR_SIZE_MAX: -E2BIG.
 */
int fs_setxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, const char *name,
		const void *value, size_t size, int flags);
/* size == 0: *len = the value's length.  Otherwise copy into buf; -ERANGE
 * if it does not fit.  -ENODATA if absent. */
int fs_getxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, const char *name,
		void *buf, size_t size, size_t *len);
/* NUL-separated names, same size convention as fs_getxattr. */
int fs_listxattr(lsmfs *fs, const fs_cred *c, uint64_t ino, char *buf,
		 size_t size, size_t *len);
int fs_removexattr(lsmfs *fs, const fs_cred *c, uint64_t ino,
		   const char *name);

/* ---- control (lsmfs-stat, tests) --------------------------------------- */

typedef struct fs_stats {
	/* live inode counters */
	uint64_t inodes;	/* every inode record, orphans included */
	uint64_t files;		/* regular files */
	uint64_t dirs;
	uint64_t symlinks;
	uint64_t specials;	/* devices, fifos, sockets */
	uint64_t orphans;	/* unlinked, still open */
	uint64_t open_handles;	/* files and directories */
	uint64_t cached_inodes;	/* in the in-memory inode table */
	uint64_t next_ino;	/* next inode number to hand out */
	/* the superblock */
	uint32_t format_version;
	uint32_t block_size;
	uint32_t inline_max;
	int compression;
	int64_t created_ns;	/* mkfs time, ns since the epoch */
	char label[FS_LABEL_MAX + 1];
	/* the engine */
	lsm_stats engine;
} fs_stats;

int fs_stats_get(lsmfs *fs, fs_stats *st);
/* Compact the whole key space to the last level (lsm_compact_range). */
int fs_compact(lsmfs *fs);
/* Flush the engine's memtable (lsm_flush). */
int fs_flush_engine(lsmfs *fs, bool wait);
/* Make everything written so far durable (lsm_sync). */
int fs_sync(lsmfs *fs);

#ifdef __cplusplus
}
#endif
#endif /* LSMFS_FS_H */
/* FS_API_READY */
