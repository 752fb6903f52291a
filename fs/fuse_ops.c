/*
 * fuse_ops.c — the FUSE low-level operations table of the lsmfs daemon.
 *
 * Each handler decodes one kernel request, calls the core (fs.h) and sends
 * one reply.  Nothing here knows about keys or the engine: POSIX semantics
 * live in the core.  This is the only place where the core's return codes
 * become the errno values the kernel sees (fuse_errno).
 *
 * Invariants:
 *  - Every request gets exactly one reply (fuse_reply_* or fuse_reply_none
 *    for forget).
 *  - Replies carry attributes as they are after the operation (the core
 *    fills them so), because the kernel caches them for attr_timeout.
 *  - Lookup counts: the core counts one lookup for every entry it hands
 *    out; if the kernel does not take the reply (the request was
 *    interrupted), we give the count back with fs_forget, and a handle the
 *    kernel never learned of is released here, or the inode would never be
 *    freed.
 *  - POSIX ACLs work as on ext4: the kernel enforces them (FUSE's
 *    posix_acl), the core keeps mode and access ACL in step and applies
 *    default ACLs to new inodes (xattr.c); so the kernel sends modes
 *    unmasked together with the umask (DONT_MASK), applied in the core.
 *  - Handles never carry O_APPEND: the kernel places appending writes.
 *  - The control channel: a few virtual extended attributes named
 *    "lsmfs.*" on the root directory (stats, flush, sync, compact).  They
 *    never appear in listxattr, so copying the tree does not copy them, and
 *    they cannot be stored as real xattrs (the core refuses the
 *    namespace).
 *
 * Threads: handlers run on the session's worker threads, many at once; the
 * core is thread-safe.  The one piece of state here (struct lsmfs_fuse) is
 * written before the session starts and read-only afterwards.  One mount
 * per process.
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"

/* The daemon's settings, fixed before the session starts. */
struct lsmfs_fuse {
	lsmfs *fs;
	struct fuse_session *se;	/* for cache invalidations */
	double entry_timeout;
	double attr_timeout;
	bool writeback;
};

/* The session's userdata, and the one mount of this process. */
static struct lsmfs_fuse g_mount;

#define FS_OF(req) (((struct lsmfs_fuse *)fuse_req_userdata(req))->fs)
#define CFG_OF(req) ((struct lsmfs_fuse *)fuse_req_userdata(req))

/* Largest write the kernel may send us (conn->max_write). */
#define LSMFS_MAX_WRITE (1u << 20)

/* Supplementary groups fetched per request; more are silently ignored
 * (the kernel has already made the permission decision; the core uses
 * them only for setgid side effects). */
#define LSMFS_MAX_GROUPS 256

/* Prefix of the virtual control attributes on the root directory. */
#define CTL_PREFIX "lsmfs."

/*
 * The single conversion from the core's codes to an errno for the kernel.
 * The core returns -errno for everything but fs_mount's engine codes; the
 * engine codes are mapped anyway, should one leak through.
 */
static int fuse_errno(int rc)
{
	if (rc >= 0)
		return 0;
	if (rc > LSM_E_NOTFOUND)	/* a negative errno */
		return -rc;
	switch (rc) {
	case LSM_E_NOTFOUND:
		return ENOENT;
	case LSM_E_INVALID:
		return EINVAL;
	case LSM_E_NOTSUP:
		return EOPNOTSUPP;
	case LSM_E_EXISTS:
		return EEXIST;
	case LSM_E_BUSY:
	case LSM_E_LOCKED:
		return EBUSY;
	case LSM_E_CLOSED:
	case LSM_E_CANCELLED:
		return ESHUTDOWN;
	default:
		return EIO;
	}
}

/* Log a failed rc with the core's detail: "WHAT: message: detail". */
static void log_rc(int prio, const char *what, int rc)
{
	const char *d = fs_errdetail();
	lsmfs_log(prio, "%s: %s%s%s", what, fs_strerror(rc), *d ? ": " : "", d);
}

/* Reply with an error (or 0: success).  An I/O error is also logged with
 * the core's detail: it is the one message that says what went wrong. */
static void reply_rc(fuse_req_t req, const char *op, int rc)
{
	int e = fuse_errno(rc);
	if (e == EIO) {
		char what[128];
		snprintf(what, sizeof what, "%s: replied EIO", op);
		log_rc(LOG_ERR, what, rc);
	}
	fuse_reply_err(req, e);
}

static void cred_init(fuse_req_t req, fs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	memset(c, 0, sizeof *c);
	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->pid = ctx->pid;
	c->umask = ctx->umask;
}

/* For the calls whose side effects depend on group membership (setgid
 * inheritance and clearing): fetch the caller's supplementary groups. */
static void cred_groups(fuse_req_t req, fs_cred *c, gid_t *buf)
{
	int n = fuse_req_getgroups(req, LSMFS_MAX_GROUPS, buf);
	if (n > LSMFS_MAX_GROUPS)
		n = LSMFS_MAX_GROUPS;
	if (n > 0) {
		c->ngroups = n;
		c->groups = buf;
	}
}

/* The groups of a caller creating an inode with mode: the core needs them
 * only to decide whether a new file may keep a setgid bit it asks for
 * (root always may).  fuse_req_getgroups reads and parses
 * /proc/PID/task/TID/status, which was a fifth of the daemon's time in
 * creating empty files (fsbench): skip it when nothing depends on it. */
static void cred_groups_create(fuse_req_t req, fs_cred *c, gid_t *buf,
			       mode_t mode)
{
	if ((mode & S_ISGID) && c->uid != 0)
		cred_groups(req, c, buf);
}

/* Reply with an entry the core has counted a lookup for; if the kernel
 * does not take it, give the lookup back. */
static void reply_entry(fuse_req_t req, const struct stat *st)
{
	struct lsmfs_fuse *m = CFG_OF(req);
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	e.ino = st->st_ino;
	e.generation = 0;
	e.attr = *st;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget(m->fs, st->st_ino, 1);
}

/* ---- session setup ----------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lsmfs_fuse *m = userdata;

	/* ls -l in one pass; "auto" lets the kernel fall back to plain
	 * readdir for listings that do not stat. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	/* O_TRUNC arrives with open, so truncation is one atomic batch. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Inode numbers are never reused, but we do not implement the
	 * lookup of "." / ".." by handle that NFS export needs. */
	conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
	/* Data goes through our own buffers into the engine: nothing to
	 * gain from splice. */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_SPLICE_MOVE);
	/* POSIX ACLs as on ext4: the kernel enforces them (it asks us for
	 * system.posix_acl_access when a permission check needs it); the
	 * core keeps the mode and the access ACL in step and applies a
	 * parent's default ACL to new inodes.  That last part needs the
	 * mode unmasked (DONT_MASK): the core applies the umask itself, and
	 * only where no default ACL replaces it. */
	if (conn->capable & FUSE_CAP_POSIX_ACL) {
		conn->want |= FUSE_CAP_POSIX_ACL;
		if (conn->capable & FUSE_CAP_DONT_MASK)
			conn->want |= FUSE_CAP_DONT_MASK;
	}
	/* Let the kernel clear setuid/setgid on write, truncate and chown
	 * (it sends us the resulting mode). */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Writeback caching changes who decides mtime and size; off unless
	 * asked for (-o writeback) until it is measured. */
	if (m->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = LSMFS_MAX_WRITE;
	lsmfs_log(LOG_INFO, "connected: FUSE protocol %u.%u, max_write %u%s",
	       conn->proto_major, conn->proto_minor, conn->max_write,
	       (conn->want & FUSE_CAP_WRITEBACK_CACHE) ? ", writeback cache" : "");
}

/* ---- names and attributes ---------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_cred c;
	struct stat st;
	cred_init(req, &c);
	int rc = fs_lookup(FS_OF(req), &c, parent, name, &st);
	if (rc < 0)
		reply_rc(req, "lookup", rc);
	else
		reply_entry(req, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(FS_OF(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	lsmfs *fs = FS_OF(req);
	for (size_t i = 0; i < count; i++)
		fs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	int rc = fs_getattr(FS_OF(req), ino, &st);
	if (rc < 0)
		reply_rc(req, "getattr", rc);
	else
		fuse_reply_attr(req, &st, CFG_OF(req)->attr_timeout);
}

/*
 * setgid without group-execute: Linux (setattr_should_drop_sgid) also
 * drops it when a file is written, truncated or given away by someone who
 * is neither root nor in the file's group; the FUSE kernel module's own
 * clearing (we leave it killpriv) only knows the group-execute case.  So
 * that case is ours, as one more setattr after the call.
 */
static bool sgid_nogx(mode_t m)
{
	return S_ISREG(m) && (m & (S_ISGID | S_IXGRP)) == S_ISGID;
}

static bool cred_in_group(fuse_req_t req, fs_cred *c, gid_t *groups, gid_t gid)
{
	if (c->gid == gid)
		return true;
	if (!c->groups)
		cred_groups(req, c, groups);
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* Clear setgid of ino (mode m) for an outsider's change; *st (may be
 * NULL) receives the attributes after. */
static int drop_sgid(fuse_req_t req, fuse_ino_t ino, const fs_cred *c, mode_t m,
		     struct stat *st)
{
	struct stat in;
	memset(&in, 0, sizeof in);
	in.st_mode = m & 07777 & ~(mode_t)S_ISGID;
	return fs_setattr(FS_OF(req), c, ino, &in, FS_SET_MODE, 0, st);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	struct stat in = *attr, st;
	int set = 0;

	cred_init(req, &c);
	/* Root's changes never depend on its groups (cred_groups_create). */
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    c.uid != 0)
		cred_groups(req, &c, groups);
	if (to_set & FUSE_SET_ATTR_MODE)
		set |= FS_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		set |= FS_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		set |= FS_SET_GID;
	if (to_set & FUSE_SET_ATTR_SIZE)
		set |= FS_SET_SIZE;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		set |= FS_SET_ATIME;
		in.st_atim.tv_sec = 0;
		in.st_atim.tv_nsec = UTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		set |= FS_SET_ATIME;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		set |= FS_SET_MTIME;
		in.st_mtim.tv_sec = 0;
		in.st_mtim.tv_nsec = UTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		set |= FS_SET_MTIME;
	}
	if (to_set & FUSE_SET_ATTR_CTIME)
		set |= FS_SET_CTIME;
	/* A setattr that sets nothing is chown(f, -1, -1): the kernel has
	 * checked it and, without the writeback cache, does not send the
	 * ctime it wants changed.  Linux changes it. */
	if (set == 0) {
		set = FS_SET_CTIME;
		in.st_ctim.tv_sec = 0;
		in.st_ctim.tv_nsec = UTIME_NOW;
	}

	/* An outsider's chown (see sgid_nogx): judged by the group the file
	 * had before. */
	bool outsider = false;
	struct stat old;
	if ((set & (FS_SET_UID | FS_SET_GID)) && c.uid != 0 &&
	    fs_getattr(FS_OF(req), ino, &old) == 0 && sgid_nogx(old.st_mode))
		outsider = !cred_in_group(req, &c, groups, old.st_gid);

	/* A stored access ACL follows a chmod (in the core, same batch). */
	int rc = fs_setattr(FS_OF(req), &c, ino, &in, set, fi ? fi->fh : 0, &st);
	if (rc < 0) {
		reply_rc(req, "setattr", rc);
		return;
	}
	if (!outsider && (set & FS_SET_SIZE) && c.uid != 0 && sgid_nogx(st.st_mode))
		outsider = !cred_in_group(req, &c, groups, st.st_gid);
	if (outsider && sgid_nogx(st.st_mode) &&
	    (rc = drop_sgid(req, ino, &c, st.st_mode, &st)) < 0) {
		reply_rc(req, "setattr", rc);
		return;
	}
	fuse_reply_attr(req, &st, CFG_OF(req)->attr_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[FS_SYMLINK_MAX + 1];
	size_t len;
	int rc = fs_readlink(FS_OF(req), ino, buf, sizeof buf, &len);
	if (rc < 0)
		reply_rc(req, "readlink", rc);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	struct stat st;
	cred_init(req, &c);
	cred_groups_create(req, &c, groups, mode);
	int rc = fs_mknod(FS_OF(req), &c, parent, name, mode, rdev, &st);
	if (rc < 0)
		reply_rc(req, "mknod", rc);
	else
		reply_entry(req, &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	struct stat st;
	cred_init(req, &c);
	cred_groups_create(req, &c, groups, mode);
	int rc = fs_mkdir(FS_OF(req), &c, parent, name, mode, &st);
	if (rc < 0)
		reply_rc(req, "mkdir", rc);
	else
		reply_entry(req, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_cred c;
	cred_init(req, &c);
	reply_rc(req, "unlink", fs_unlink(FS_OF(req), &c, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_cred c;
	cred_init(req, &c);
	reply_rc(req, "rmdir", fs_rmdir(FS_OF(req), &c, parent, name));
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	fs_cred c;
	struct stat st;
	cred_init(req, &c);
	int rc = fs_symlink(FS_OF(req), &c, link, parent, name, &st);
	if (rc < 0)
		reply_rc(req, "symlink", rc);
	else
		reply_entry(req, &st);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fs_cred c;
	cred_init(req, &c);
	reply_rc(req, "rename",
		 fs_rename(FS_OF(req), &c, parent, name, newparent, newname, flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	fs_cred c;
	struct stat st;
	cred_init(req, &c);
	int rc = fs_link(FS_OF(req), &c, ino, newparent, newname, &st);
	if (rc < 0)
		reply_rc(req, "link", rc);
	else
		reply_entry(req, &st);
}

/* ---- files ------------------------------------------------------------- */

/* The kernel places O_APPEND writes itself (at its i_size, under the inode
 * lock), and only it sees fcntl(F_SETFL) turn O_APPEND off later: a handle
 * that kept O_APPEND would go on appending writes meant for an offset.  So
 * handles never carry it.  With the writeback cache the kernel also reads
 * pages of files opened only for writing: open them read-write. */
static int open_flags(fuse_req_t req, int flags)
{
	if (CFG_OF(req)->writeback && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_cred c;
	uint64_t fh;
	lsmfs *fs = FS_OF(req);
	cred_init(req, &c);
	int rc = fs_open(fs, &c, ino, open_flags(req, fi->flags), &fh);
	if (rc < 0) {
		reply_rc(req, "open", rc);
		return;
	}
	fi->fh = fh;
	/* Keep the kernel's cached pages across opens: every change to a
	 * file's data reaches the store through this mount, and the kernel
	 * updates or drops its pages for each (write, truncate, fallocate,
	 * copy_file_range), so what it cached is still what the store holds
	 * -- unless the next read must move atime (fs_keep_cache): then the
	 * pages go and that read reaches the daemon. */
	if (!(fi->flags & O_DIRECT) && fs_keep_cache(fs, fh))
		fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0)
		fs_release(fs, fh);	/* the open was interrupted */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct lsmfs_fuse *m = CFG_OF(req);
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	struct stat st;
	uint64_t fh;
	struct fuse_entry_param e;

	cred_init(req, &c);
	cred_groups_create(req, &c, groups, mode);
	int rc = fs_create(m->fs, &c, parent, name, mode,
			   open_flags(req, fi->flags), &st, &fh);
	if (rc < 0) {
		reply_rc(req, "create", rc);
		return;
	}
	memset(&e, 0, sizeof e);
	e.ino = st.st_ino;
	e.attr = st;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	fi->fh = fh;
	if (!(fi->flags & O_DIRECT) && fs_keep_cache(m->fs, fh))
		fi->keep_cache = 1;	/* as in op_open */
	if (fuse_reply_create(req, &e, fi) != 0) {
		fs_release(m->fs, fh);
		fs_forget(m->fs, st.st_ino, 1);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t got = 0;
	(void)ino;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = fs_read(FS_OF(req), fi->fh, buf, size, (uint64_t)off, &got);
	if (rc < 0)
		reply_rc(req, "read", rc);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	fs_cred c;
	size_t written = 0;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cred_init(req, &c);
	int rc = fs_write(FS_OF(req), &c, fi->fh, buf, size, (uint64_t)off, 0,
			  &written);
	if (rc < 0) {
		reply_rc(req, "write", rc);
		return;
	}
	/* An outsider's write (see sgid_nogx).  Writeback requests come as
	 * uid 0: who wrote is unknown there, and nothing is dropped. */
	struct stat st;
	gid_t groups[LSMFS_MAX_GROUPS];
	if (written > 0 && c.uid != 0 && fs_getattr(FS_OF(req), ino, &st) == 0 &&
	    sgid_nogx(st.st_mode) && !cred_in_group(req, &c, groups, st.st_gid) &&
	    drop_sgid(req, ino, &c, st.st_mode, NULL) == 0)
		fuse_lowlevel_notify_inval_inode(CFG_OF(req)->se, ino, -1, 0);
	fuse_reply_write(req, written);
}

/* No .flush: close(2) has nothing to do here (fs_flush: writes are not
 * buffered in the daemon, and the kernel writes back its dirty pages before
 * it would send FLUSH anyway).  The kernel takes the ENOSYS of the first
 * FLUSH as "never send it again", which saves one round trip on every
 * close: a quarter of those of creating an empty file (fsbench). */

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, "release", fs_release(FS_OF(req), fi->fh));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, "fsync", fs_fsync(FS_OF(req), fi->fh, datasync != 0));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	fs_cred c;
	(void)ino;
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cred_init(req, &c);
	reply_rc(req, "fallocate",
		 fs_fallocate(FS_OF(req), &c, fi->fh, mode, (uint64_t)offset,
			      (uint64_t)length));
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	uint64_t res;
	(void)ino;
	/* With the writeback cache, data still dirty in the kernel's page
	 * cache is not ours yet: a SEEK_DATA answered from the store would
	 * skip it, and cp(1) would copy holes over data.  ENOSYS makes the
	 * kernel answer every later lseek itself (all data up to EOF). */
	if (CFG_OF(req)->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	int rc = fs_lseek(FS_OF(req), fi->fh, (uint64_t)off, whence, &res);
	if (rc < 0)
		reply_rc(req, "lseek", rc);
	else if (res > INT64_MAX)
		fuse_reply_err(req, EOVERFLOW);
	else
		fuse_reply_lseek(req, (off_t)res);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	fs_cred c;
	size_t copied = 0;
	(void)ino_in;
	(void)ino_out;
	if (off_in < 0 || off_out < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cred_init(req, &c);
	int rc = fs_copy_file_range(FS_OF(req), &c, fi_in->fh, (uint64_t)off_in,
				    fi_out->fh, (uint64_t)off_out, len,
				    (unsigned)flags, &copied);
	if (rc < 0)
		reply_rc(req, "copy_file_range", rc);
	else
		fuse_reply_write(req, copied);
}

/* ---- directories ------------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fs_cred c;
	uint64_t fh;
	lsmfs *fs = FS_OF(req);
	cred_init(req, &c);
	int rc = fs_opendir(fs, &c, ino, fi->flags, &fh);
	if (rc < 0) {
		reply_rc(req, "opendir", rc);
		return;
	}
	fi->fh = fh;
	if (fuse_reply_open(req, fi) != 0)
		fs_releasedir(fs, fh);
}

/* One readdir reply being filled. */
struct dirbuf {
	fuse_req_t req;
	bool plus;
	char *buf;
	size_t size;		/* capacity (the kernel's request size) */
	size_t len;		/* bytes used */
	uint64_t *inos;		/* readdirplus: entries a lookup was counted for */
	size_t ninos, capinos;
	double entry_timeout, attr_timeout;
};

static int dir_add(void *ctx, const char *name, uint64_t ino, mode_t type,
		   uint64_t next_off, const struct stat *st)
{
	struct dirbuf *d = ctx;
	size_t rem = d->size - d->len, need;

	if (next_off > INT64_MAX)
		return 1;
	if (!d->plus) {
		struct stat s;
		memset(&s, 0, sizeof s);
		s.st_ino = ino;
		s.st_mode = type;
		need = fuse_add_direntry(d->req, d->buf + d->len, rem, name, &s,
					 (off_t)next_off);
	} else {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof e);
		if (st) {
			e.ino = ino;
			e.attr = *st;
			e.attr_timeout = d->attr_timeout;
			e.entry_timeout = d->entry_timeout;
		} else {
			/* "." and "..": a name without an entry; ino 0 tells
			 * the kernel not to instantiate (or count) it. */
			e.attr.st_ino = ino;
			e.attr.st_mode = type;
		}
		if (st && d->ninos == d->capinos) {
			size_t cap = d->capinos ? 2 * d->capinos : 64;
			uint64_t *n = realloc(d->inos, cap * sizeof *n);
			if (!n)
				return 1;
			d->inos = n;
			d->capinos = cap;
		}
		need = fuse_add_direntry_plus(d->req, d->buf + d->len, rem, name,
					      &e, (off_t)next_off);
		if (need <= rem && st)
			d->inos[d->ninos++] = ino;
	}
	if (need > rem)
		return 1;	/* did not fit: not taken, stop here */
	d->len += need;
	return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct lsmfs_fuse *m = CFG_OF(req);
	struct dirbuf d;
	int rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memset(&d, 0, sizeof d);
	d.req = req;
	d.plus = plus;
	d.size = size;
	d.entry_timeout = m->entry_timeout;
	d.attr_timeout = m->attr_timeout;
	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (plus)
		rc = fs_readdirplus(m->fs, fi->fh, (uint64_t)off, dir_add, &d);
	else
		rc = fs_readdir(m->fs, fi->fh, (uint64_t)off, dir_add, &d);
	if (rc < 0 && d.len == 0) {
		/* Entries already taken were counted: give them back. */
		for (size_t i = 0; i < d.ninos; i++)
			fs_forget(m->fs, d.inos[i], 1);
		reply_rc(req, plus ? "readdirplus" : "readdir", rc);
	} else if (fuse_reply_buf(req, d.buf, d.len) != 0) {
		/* The kernel never saw these entries. */
		for (size_t i = 0; i < d.ninos; i++)
			fs_forget(m->fs, d.inos[i], 1);
	}
	free(d.inos);
	free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, "releasedir", fs_releasedir(FS_OF(req), fi->fh));
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino;
	reply_rc(req, "fsyncdir", fs_fsyncdir(FS_OF(req), fi->fh, datasync != 0));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	(void)ino;
	int rc = fs_statfs(FS_OF(req), &sv);
	if (rc < 0)
		reply_rc(req, "statfs", rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	cred_init(req, &c);
	cred_groups(req, &c, groups);
	reply_rc(req, "access", fs_access(FS_OF(req), &c, ino, mask));
}

/* ---- the control channel ----------------------------------------------- */

static bool is_ctl(fuse_ino_t ino, const char *name)
{
	return ino == FS_ROOT_INO && !strncmp(name, CTL_PREFIX, strlen(CTL_PREFIX));
}

/* The stats document: fs counters, the superblock and the engine, as JSON.
 * *out is malloc'd. */
static int ctl_stats_json(lsmfs *fs, char **out, size_t *outlen)
{
	fs_stats s;
	char *buf = NULL;
	size_t len = 0;
	int rc = fs_stats_get(fs, &s);
	if (rc < 0)
		return rc;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	const lsm_stats *e = &s.engine;
	fprintf(f, "{\n  \"fs\": {\"inodes\": %" PRIu64 ", \"files\": %" PRIu64
		   ", \"dirs\": %" PRIu64 ", \"symlinks\": %" PRIu64
		   ", \"specials\": %" PRIu64 ", \"orphans\": %" PRIu64
		   ", \"open_handles\": %" PRIu64 ", \"cached_inodes\": %" PRIu64
		   ", \"next_ino\": %" PRIu64 "},\n",
		s.inodes, s.files, s.dirs, s.symlinks, s.specials, s.orphans,
		s.open_handles, s.cached_inodes, s.next_ino);
	fprintf(f, "  \"superblock\": {\"format_version\": %" PRIu32
		   ", \"block_size\": %" PRIu32 ", \"inline_max\": %" PRIu32
		   ", \"compression\": %d, \"created_ns\": %" PRId64 ", \"label\": \"",
		s.format_version, s.block_size, s.inline_max, s.compression,
		s.created_ns);
	for (const unsigned char *p = (const unsigned char *)s.label; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fprintf(f, "\"},\n  \"engine\": {\n    \"levels\": [");
	for (int i = 0; i < e->num_levels && i < LSM_MAX_LEVELS; i++) {
		const lsm_level_stats *l = &e->level[i];
		fprintf(f, "%s\n      {\"level\": %d, \"tables\": %" PRIu64
			   ", \"bytes\": %" PRIu64 ", \"entries\": %" PRIu64
			   ", \"tombstones\": %" PRIu64 ", \"range_tombstones\": %" PRIu64 "}",
			i ? "," : "", i, l->tables, l->bytes, l->entries,
			l->tombstones, l->range_tombstones);
	}
	fprintf(f, "],\n");
#define U64(name) fprintf(f, "    \"" #name "\": %" PRIu64 ",\n", e->name)
	U64(user_bytes_written);
	U64(wal_bytes_written);
	U64(flush_bytes_written);
	U64(compaction_bytes_written);
	U64(compaction_bytes_read);
	fprintf(f, "    \"write_amp\": %.3f,\n    \"space_amp\": %.3f,\n",
		e->write_amp, e->space_amp);
	U64(disk_bytes);
	U64(live_bytes_estimate);
	U64(flushes);
	U64(compactions);
	U64(compactions_running);
	U64(trivial_moves);
	U64(entries_dropped);
	U64(tombstones_dropped);
	U64(range_tombstones_dropped);
	U64(gc_cutoff);
	U64(last_seq);
	U64(snapshots);
	U64(bytes_held_by_cutoff);
	U64(write_slowdowns);
	U64(write_stalls);
	U64(memtable_bytes);
	U64(block_cache_bytes);
	U64(block_cache_hits);
	U64(block_cache_misses);
#undef U64
	fprintf(f, "    \"background_error\": %d\n  }\n}\n", e->background_error);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static void ctl_getxattr(fuse_req_t req, const char *name, size_t size)
{
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(name, CTL_PREFIX "stats") != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rc = ctl_stats_json(FS_OF(req), &doc, &len);
	if (rc < 0) {
		reply_rc(req, "getxattr(stats)", rc);
		return;
	}
	if (size == 0) {
		/* The numbers may grow between the size probe and the read;
		 * promise room for that (the read returns the real length). */
		fuse_reply_xattr(req, len + 1024 > FS_XATTR_SIZE_MAX ? len : len + 1024);
	} else if (len > size) {
		fuse_reply_err(req, ERANGE);
	} else {
		fuse_reply_buf(req, doc, len);
	}
	free(doc);
}

static void ctl_setxattr(fuse_req_t req, const char *name)
{
	lsmfs *fs = FS_OF(req);
	int rc;

	/* Maintenance is the administrator's: root only. */
	if (fuse_req_ctx(req)->uid != 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!strcmp(name, CTL_PREFIX "compact")) {
		lsmfs_log(LOG_INFO, "control: full compaction requested");
		rc = fs_compact(fs);
	} else if (!strcmp(name, CTL_PREFIX "flush")) {
		rc = fs_flush_engine(fs, true);
	} else if (!strcmp(name, CTL_PREFIX "sync")) {
		rc = fs_sync(fs);
	} else {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (rc < 0 && fuse_errno(rc) != EIO) {	/* reply_rc logs EIO itself */
		char what[128];
		snprintf(what, sizeof what, "control: %s", name);
		log_rc(LOG_WARNING, what, rc);
	}
	reply_rc(req, name, rc);
}

/* ---- extended attributes ----------------------------------------------- */

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	fs_cred c;
	gid_t groups[LSMFS_MAX_GROUPS];
	if (is_ctl(ino, name)) {
		ctl_setxattr(req, name);
		return;
	}
	cred_init(req, &c);
	bool acl = !strcmp(name, "system.posix_acl_access");
	if (acl)
		cred_groups(req, &c, groups);	/* setgid is kept only in-group */
	int rc = fs_setxattr(FS_OF(req), &c, ino, name, value, size, flags);
	/* Setting an access ACL changes the mode: a kernel without FUSE's
	 * posix_acl would not expect that, so drop the attributes it
	 * caches (attributes only: never blocks). */
	if (rc == 0 && acl)
		fuse_lowlevel_notify_inval_inode(CFG_OF(req)->se, ino, -1, 0);
	reply_rc(req, "setxattr", rc);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	fs_cred c;
	size_t len = 0;
	char *buf = NULL;
	int rc;

	if (is_ctl(ino, name)) {
		ctl_getxattr(req, name, size);
		return;
	}
	cred_init(req, &c);
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	rc = fs_getxattr(FS_OF(req), &c, ino, name, buf, size, &len);
	if (rc < 0)
		reply_rc(req, "getxattr", rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fs_cred c;
	size_t len = 0;
	char *buf = NULL;
	int rc;

	cred_init(req, &c);
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	rc = fs_listxattr(FS_OF(req), &c, ino, buf, size, &len);
	if (rc < 0)
		reply_rc(req, "listxattr", rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fs_cred c;
	if (is_ctl(ino, name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	cred_init(req, &c);
	reply_rc(req, "removexattr", fs_removexattr(FS_OF(req), &c, ino, name));
}

/* ---- the table --------------------------------------------------------- */

static const struct fuse_lowlevel_ops lsmfs_ll_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.copy_file_range = op_copy_file_range,
};

/* Create the FUSE session for fs (daemon.h). */
struct fuse_session *lsmfs_fuse_session_new(struct fuse_args *args, lsmfs *fs,
					    double entry_timeout,
					    double attr_timeout,
					    bool writeback)
{
	g_mount.fs = fs;
	g_mount.entry_timeout = entry_timeout;
	g_mount.attr_timeout = attr_timeout;
	g_mount.writeback = writeback;
	g_mount.se = fuse_session_new(args, &lsmfs_ll_ops, sizeof lsmfs_ll_ops,
				      &g_mount);
	return g_mount.se;
}
