/*
 * env_posix.c — the process-wide env over POSIX system calls, and
 * lsm_env_free_list (shared by every env).
 *
 * Invariants:
 *  1. Every descriptor is opened O_CLOEXEC, so a fork+exec never inherits a
 *     store file or, worse, the store lock.
 *  2. Files opened for writing are O_RDWR|O_APPEND: appends always land at
 *     the end whatever else touched the offset, and the same handle can be
 *     pread (a table being written, a log being recovered).
 *  3. The store lock is an open-file-description lock (F_OFD_SETLK).  A
 *     classic fcntl lock belongs to the process, so a second open inside the
 *     same process would "succeed" and closing any descriptor of the file
 *     would silently drop it; an OFD lock belongs to the open file, so a
 *     second lsm_open in this process is refused like one from elsewhere.
 *  4. Every failure returns -errno and records a detail naming the
 *     operation and the path.
 *
 * Threads: the env is stateless; every function may run concurrently.
 * pread and append on one descriptor are safe together: pread never moves
 * the file offset and O_APPEND positions each write atomically.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

/* Our lsm_file: a descriptor and the path it was opened by (for details). */
struct posix_file {
	int fd;
	char path[];
};

static struct posix_file *posix_f(lsm_file *f)
{
	return (struct posix_file *)f;
}

static int posix_fail(int e, const char *op, const char *path)
{
	return lsm_err(-e, "%s %s: %s", op, path, lsm_strerror(-e));
}

void lsm_env_free_list(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int posix_open_fd(const char *path, int oflags, int *fd)
{
	do
		*fd = open(path, oflags | O_CLOEXEC, 0644);
	while (*fd < 0 && errno == EINTR);
	return *fd < 0 ? -errno : 0;
}

static int posix_open(lsm_env *env, const char *path, int flags,
		      lsm_file **out)
{
	(void)env;
	struct posix_file *pf = NULL;
	struct stat st;
	size_t plen = strlen(path);
	int oflags, fd = -1, rc;

	if (flags & ~(LSM_OPEN_WRITE | LSM_OPEN_APPEND | LSM_OPEN_EXCL))
		return lsm_err(LSM_E_INVALID, "open %s: bad flags %#x", path,
			       (unsigned)flags);
	if (flags & (LSM_OPEN_WRITE | LSM_OPEN_APPEND)) {
		oflags = O_RDWR | O_CREAT | O_APPEND;
		if (flags & LSM_OPEN_EXCL)
			oflags |= O_EXCL;
		else if (flags & LSM_OPEN_WRITE)
			oflags |= O_TRUNC;
	} else {
		oflags = O_RDONLY;
	}
	pf = malloc(sizeof *pf + plen + 1);
	if (!pf)
		return -ENOMEM;
	memcpy(pf->path, path, plen + 1);
	rc = posix_open_fd(path, oflags, &fd);
	if (rc < 0) {
		rc = posix_fail(-rc, "open", path);
		goto err;
	}
	/* A directory opens fine read-only; refuse it here, as the mem env
	 * does, rather than fail on the first read. */
	if (fstat(fd, &st) < 0) {
		rc = posix_fail(errno, "fstat", path);
		goto err;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = posix_fail(EISDIR, "open", path);
		goto err;
	}
	pf->fd = fd;
	*out = (lsm_file *)pf;
	return 0;
err:
	if (fd >= 0)
		close(fd);
	free(pf);
	return rc;
}

static int posix_close(lsm_env *env, lsm_file *f)
{
	(void)env;
	struct posix_file *pf = posix_f(f);
	int rc = 0;

	if (!pf)
		return 0;
	/* Never retry close on EINTR: on Linux the descriptor is gone. */
	if (close(pf->fd) < 0 && errno != EINTR)
		rc = posix_fail(errno, "close", pf->path);
	free(pf);
	return rc;
}

static int posix_pread(lsm_env *env, lsm_file *f, void *buf, size_t n,
		       uint64_t off, size_t *got)
{
	(void)env;
	struct posix_file *pf = posix_f(f);
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		if (off + done > (uint64_t)INT64_MAX)
			break;	/* beyond any file: reads as end of file */
		ssize_t r = pread(pf->fd, p + done, n - done,
				  (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*got = done;
			return posix_fail(errno, "pread", pf->path);
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

static int posix_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	(void)env;
	struct posix_file *pf = posix_f(f);
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(pf->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return posix_fail(errno, "write", pf->path);
		}
		if (w == 0)	/* no progress and no error: treat as full */
			return posix_fail(ENOSPC, "write", pf->path);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int posix_sync(lsm_env *env, lsm_file *f)
{
	(void)env;
	struct posix_file *pf = posix_f(f);
	int r;

	do
		r = fdatasync(pf->fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? posix_fail(errno, "fdatasync", pf->path) : 0;
}

static int posix_fsize(lsm_env *env, lsm_file *f, uint64_t *size)
{
	(void)env;
	struct posix_file *pf = posix_f(f);
	struct stat st;

	if (fstat(pf->fd, &st) < 0)
		return posix_fail(errno, "fstat", pf->path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int posix_size(lsm_env *env, const char *path, uint64_t *size)
{
	(void)env;
	struct stat st;

	if (stat(path, &st) < 0)
		return posix_fail(errno, "stat", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int posix_remove(lsm_env *env, const char *path)
{
	(void)env;
	if (unlink(path) == 0)
		return 0;
	/* An empty directory can be removed too (rmdir), as in the mem env. */
	if (errno == EISDIR && rmdir(path) == 0)
		return 0;
	return posix_fail(errno, "remove", path);
}

static int posix_rename(lsm_env *env, const char *from, const char *to)
{
	(void)env;
	if (rename(from, to) < 0) {
		int e = errno;

		return lsm_err(-e, "rename %s to %s: %s", from, to,
			       lsm_strerror(-e));
	}
	return 0;
}

static int posix_link(lsm_env *env, const char *from, const char *to)
{
	(void)env;
	if (link(from, to) < 0) {
		int e = errno;

		return lsm_err(-e, "link %s to %s: %s", from, to,
			       lsm_strerror(-e));
	}
	return 0;
}

static int posix_mkdir(lsm_env *env, const char *path)
{
	(void)env;
	struct stat st;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return posix_fail(errno, "mkdir", path);
	if (stat(path, &st) < 0)
		return posix_fail(errno, "mkdir", path);
	if (!S_ISDIR(st.st_mode))
		return posix_fail(EEXIST, "mkdir", path);
	return 0;
}

static int posix_list(lsm_env *env, const char *dir, char ***names,
		      size_t *n)
{
	(void)env;
	DIR *d = NULL;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;

	d = opendir(dir);
	if (!d)
		return posix_fail(errno, "opendir", dir);
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				LSM_ERR(posix_fail(errno, "readdir", dir));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof *nv);
			if (!nv)
				LSM_ERR(-ENOMEM);
			v = nv;
			cap = ncap;
		}
		v[cnt] = strdup(de->d_name);
		if (!v[cnt])
			LSM_ERR(-ENOMEM);
		cnt++;
	}
	closedir(d);
	*names = v;
	*n = cnt;
	return 0;
err:
	closedir(d);
	lsm_env_free_list(v, cnt);
	return rc;
}

static int posix_sync_dir(lsm_env *env, const char *dir)
{
	(void)env;
	int fd = -1, rc;

	rc = posix_open_fd(dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY, &fd);
	if (rc < 0)
		return posix_fail(-rc, "open dir", dir);
	while (fsync(fd) < 0) {
		if (errno != EINTR) {
			rc = posix_fail(errno, "fsync dir", dir);
			break;
		}
	}
	close(fd);
	return rc;
}

/* Read the holder line out of a lock file into line (NUL-terminated, at
 * most one line).  Best effort: an unreadable file gives "". */
static void posix_read_holder(int fd, char *line, size_t len)
{
	ssize_t r;

	do
		r = pread(fd, line, len - 1, 0);
	while (r < 0 && errno == EINTR);
	line[r > 0 ? (size_t)r : 0] = '\0';
	line[strcspn(line, "\n")] = '\0';
}

static int posix_write_all_at0(int fd, const char *p, size_t n)
{
	off_t off = 0;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -ENOSPC;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int posix_lock(lsm_env *env, const char *path, const char *holder,
		      lsm_file **lock, char *other, size_t other_len)
{
	(void)env;
	struct posix_file *pf = NULL;
	struct flock fl;
	char *line = NULL;
	size_t plen = strlen(path), hlen;
	int fd = -1, rc;

	if (!holder)
		holder = "";
	hlen = strlen(holder);
	pf = malloc(sizeof *pf + plen + 1);
	line = malloc(hlen + 2);
	if (!pf || !line)
		LSM_ERR(-ENOMEM);
	memcpy(pf->path, path, plen + 1);
	memcpy(line, holder, hlen);
	line[hlen] = '\n';
	line[hlen + 1] = '\0';
	rc = posix_open_fd(path, O_RDWR | O_CREAT, &fd);
	if (rc < 0)
		LSM_ERR(posix_fail(-rc, "open lock", path));
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;	/* l_start = l_len = 0: the whole file */
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES) {
			char who[512];

			posix_read_holder(fd, who, sizeof who);
			if (other && other_len)
				snprintf(other, other_len, "%s", who);
			rc = lsm_err(LSM_E_LOCKED, "store is locked by %s",
				     who[0] ? who : "an unknown holder");
		} else {
			rc = posix_fail(errno, "lock", path);
		}
		goto err;
	}
	if (ftruncate(fd, 0) < 0)
		LSM_ERR(posix_fail(errno, "truncate lock", path));
	rc = posix_write_all_at0(fd, line, hlen + 1);
	if (rc < 0)
		LSM_ERR(posix_fail(-rc, "write lock", path));
	free(line);
	pf->fd = fd;
	*lock = (lsm_file *)pf;
	return 0;
err:
	if (fd >= 0)
		close(fd);	/* also drops the lock if we took it */
	free(line);
	free(pf);
	return rc;
}

static int posix_unlock(lsm_env *env, lsm_file *lock)
{
	struct posix_file *pf = posix_f(lock);
	struct flock fl;

	if (!pf)
		return 0;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	/* Closing the last descriptor releases an OFD lock anyway; unlocking
	 * first just makes the release explicit. */
	(void)fcntl(pf->fd, F_OFD_SETLK, &fl);
	return posix_close(env, lock);
}

static uint64_t posix_now_micros(lsm_env *env)
{
	(void)env;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void posix_sleep_micros(lsm_env *env, uint64_t micros)
{
	(void)env;
	struct timespec ts, rem;

	ts.tv_sec = (time_t)(micros / 1000000u);
	ts.tv_nsec = (long)(micros % 1000000u) * 1000;
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
		ts = rem;
}

static void posix_destroy(lsm_env *env)
{
	(void)env;	/* the shared env lives as long as the process */
}

static int posix_free_space(lsm_env *env, const char *dir, uint64_t *bytes)
{
	(void)env;
	struct statvfs v;
	if (statvfs(dir, &v) != 0)
		return posix_fail(errno, "statvfs", dir);
	*bytes = (uint64_t)v.f_bavail * v.f_frsize;
	return 0;
}

static lsm_env posix_env = {
	.open = posix_open,
	.close = posix_close,
	.pread = posix_pread,
	.append = posix_append,
	.sync = posix_sync,
	.fsize = posix_fsize,
	.size = posix_size,
	.remove = posix_remove,
	.rename = posix_rename,
	.link = posix_link,
	.mkdir = posix_mkdir,
	.list = posix_list,
	.sync_dir = posix_sync_dir,
	.lock = posix_lock,
	.unlock = posix_unlock,
	.now_micros = posix_now_micros,
	.sleep_micros = posix_sleep_micros,
	.destroy = posix_destroy,
	.free_space = posix_free_space,
};

lsm_env *lsm_env_posix(void)
{
	return &posix_env;
}
