/*
 * main.c — lsmfs, the FUSE daemon: mount an lsmfs store on a directory.
 *
 *   lsmfs STORE MOUNTPOINT [-o opt[,opt...]] [-f] [-d] [-s]
 *
 * This is also the program mount(8) runs for `mount -t fuse.lsmfs STORE
 * MOUNTPOINT -o opts` (through mount.fuse3, which calls "lsmfs STORE
 * MOUNTPOINT -o opts"), so it must accept exactly that argument order.
 *
 * Startup order, and why:
 *  1. Parse the command line (our options, then libfuse's).
 *  2. Unless in the foreground, fork now.  The engine starts background
 *     threads when the store is opened, and a fork after that (as
 *     fuse_daemonize would do) would leave them behind in the parent.  The
 *     child becomes the daemon; the parent only waits on a pipe for the
 *     child's verdict and exits with it, so `lsmfs ...` returns once the
 *     file system is mounted, or fails with the child's message.
 *  3. The child opens the store (fs_mount), creates the session and mounts.
 *     Until it reports success its stderr is still the caller's terminal,
 *     so refusals (no such store, not a store, newer format, in use) are
 *     one clear line there, and exit status 1.
 *  4. Then it detaches (chdir /, stdio to /dev/null), logs to syslog only,
 *     and serves requests until unmounted or signalled (SIGTERM, SIGINT,
 *     SIGHUP end the loop; the kernel connection is then unmounted).
 *  5. Last, the core is closed cleanly (fs_unmount: sync, clean mark,
 *     engine close), after every worker thread has finished.
 *
 * Threads: main runs on one thread until the session loop starts; the
 * loop's workers call into fuse_ops.c; everything here after the loop runs
 * once they are gone.
 */
#define FUSE_USE_VERSION 314

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"

/* Our options; everything else goes to libfuse. */
struct lsmfs_opts {
	char *store;		/* first non-option argument, made absolute */
	char *store_arg;	/* as given: what messages name */
	double entry_timeout;
	double attr_timeout;
	int writeback;
	int create;
	int ro;
	int noatime;
	int show_help;
	int show_version;
};

enum {
	KEY_RO,
	KEY_NOATIME,
	KEY_HELP,
	KEY_VERSION,
};

#define LSMFS_OPT(t, p, v) { t, offsetof(struct lsmfs_opts, p), v }

static const struct fuse_opt lsmfs_opt_spec[] = {
	LSMFS_OPT("entry_timeout=%lf", entry_timeout, 0),
	LSMFS_OPT("attr_timeout=%lf", attr_timeout, 0),
	LSMFS_OPT("writeback", writeback, 1),
	LSMFS_OPT("no_writeback", writeback, 0),
	LSMFS_OPT("create", create, 1),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("noatime", KEY_NOATIME),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

/* Whether log lines also go to stderr (until the daemon detaches, and
 * always in the foreground). */
static volatile int log_to_stderr = 1;

static void logv(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	syslog(prio, "%s", line);
	if (log_to_stderr)
		fprintf(stderr, "lsmfs: %s\n", line);
}

void lsmfs_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	logv(prio, fmt, ap);
	va_end(ap);
}

#define msg lsmfs_log

/* libfuse's own messages: same destinations. */
static void fuse_log_to_syslog(enum fuse_log_level level, const char *fmt,
			       va_list ap)
{
	/* The -d request trace is for the terminal, not for syslog. */
	if (level == FUSE_LOG_DEBUG) {
		if (log_to_stderr)
			vfprintf(stderr, fmt, ap);
		return;
	}
	logv((int)level, fmt, ap);
}

/* The engine's informational lines. */
static void engine_log(void *ctx, const char *line)
{
	(void)ctx;
	syslog(LOG_INFO, "engine: %s", line);
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct lsmfs_opts *o = data;
	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->store) {
			o->store = strdup(arg);
			return 0;	/* ours; the next one is the mount point */
		}
		return 1;
	case KEY_RO:
		o->ro = 1;
		return 1;		/* libfuse makes it a read-only mount too */
	case KEY_NOATIME:
		o->noatime = 1;
		return 1;
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	default:
		return 1;
	}
}

static void usage(const char *prog)
{
	printf("usage: %s STORE MOUNTPOINT [options]\n\n"
	       "lsmfs options:\n"
	       "    -o entry_timeout=SECS  cache names this long (1.0)\n"
	       "    -o attr_timeout=SECS   cache attributes this long (1.0)\n"
	       "    -o writeback           enable the kernel's writeback cache\n"
	       "    -o create              create the store if it does not exist\n"
	       "    -o ro                  mount read-only\n"
	       "    -o noatime             never update access times\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Why the store cannot be mounted, as one line on stderr/syslog. */
static void report_mount_error(const struct lsmfs_opts *o, int rc)
{
	const char *store = o->store;
	/* The engine's detail is the most specific; drop the leading path,
	 * which the message names already. */
	const char *d = lsm_errdetail();
	if (!*d)
		d = fs_errdetail();
	size_t sl = strlen(store);
	while (!strncmp(d, store, sl) && !strncmp(d + sl, ": ", 2))
		d += sl + 2;
	store = o->store_arg;
	switch (rc) {
	case -ENOENT:
		msg(LOG_ERR, "%s: no such store (create it with mkfs.lsmfs)", store);
		break;
	case LSM_E_NOSTORE:
	case -EINVAL:
	case -ENOTDIR:
		msg(LOG_ERR, "%s: not an lsmfs store (create one with mkfs.lsmfs)%s%s",
		    store, *d ? ": " : "", d);
		break;
	case LSM_E_VERSION:
		msg(LOG_ERR, "%s: store format is newer than this lsmfs supports%s%s",
		    store, *d ? ": " : "", d);
		break;
	case LSM_E_LOCKED:
		msg(LOG_ERR, "%s: store is in use%s%s", store, *d ? ": " : "", d);
		break;
	case LSM_E_CORRUPT:
		msg(LOG_ERR, "%s: store is damaged (run fsck.lsmfs)%s%s", store,
		    *d ? ": " : "", d);
		break;
	default:
		msg(LOG_ERR, "%s: cannot open store: %s%s%s", store,
		    fs_strerror(rc), *d ? ": " : "", d);
		break;
	}
}

/*
 * Open (and with -o create, first create) the store.  Refuses early, with
 * the messages users will search for, what fs_mount would report less
 * plainly: a missing path, a path that is not a directory.
 */
/* 1 if path is a directory with no entries, 0 if not, -errno. */
static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/*
 * Open the store; with -o create, first create it where nothing is yet (a
 * missing path or an empty directory; never over anything else).  Refuses
 * early, with the messages users will search for, what fs_mount would
 * report less plainly: a missing path, a path that is not a directory.
 */
static int open_store(const struct lsmfs_opts *o, lsm_options *lo, lsmfs **fs)
{
	struct stat st;
	fs_mount_opts mo;
	bool make = false;
	int rc;

	if (stat(o->store, &st) < 0) {
		rc = -errno;
		if (rc != -ENOENT || !o->create)
			goto err;
		make = true;
	} else if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		goto err;
	} else if (o->create) {
		rc = dir_is_empty(o->store);
		if (rc < 0)
			goto err;
		make = rc == 1;
	}
	if (make) {
		fs_mkfs_opts mk;
		fs_mkfs_opts_init(&mk);
		rc = fs_mkfs(o->store, &mk, lo);
		if (rc < 0)
			goto err;
		msg(LOG_INFO, "%s: created a new store", o->store_arg);
	}

	fs_mount_opts_init(&mo);
	mo.lsm = lo;
	mo.read_only = o->ro != 0;
	mo.kernel_permissions = true;	/* default_permissions is always on */
	mo.noatime = o->noatime != 0;
	rc = fs_mount(o->store, &mo, fs);
	if (rc < 0)
		goto err;
	return 0;
err:
	report_mount_error(o, rc);
	return rc;
}

/* The parent of a daemonizing lsmfs: wait for the child's verdict. */
static int wait_for_child(pid_t child, int rfd)
{
	unsigned char status = 1;
	ssize_t n;
	do {
		n = read(rfd, &status, 1);
	} while (n < 0 && errno == EINTR);
	close(rfd);
	if (n == 1)
		return status;
	/* The child died before reporting: collect it. */
	int ws;
	if (waitpid(child, &ws, 0) == child && WIFEXITED(ws) && WEXITSTATUS(ws))
		return WEXITSTATUS(ws);
	return 1;
}

/* Tell the waiting parent how startup went (once). */
static void report_to_parent(int *wfd, unsigned char status)
{
	if (*wfd < 0)
		return;
	ssize_t n;
	do {
		n = write(*wfd, &status, 1);
	} while (n < 0 && errno == EINTR);
	close(*wfd);
	*wfd = -1;
}

/* Become a daemon after a successful mount: no terminal, no cwd. */
static void detach(void)
{
	int nfd = open("/dev/null", O_RDWR);
	if (chdir("/") < 0) {
		/* not fatal: we only hold the directory busy */
	}
	if (nfd >= 0) {
		dup2(nfd, STDIN_FILENO);
		dup2(nfd, STDOUT_FILENO);
		dup2(nfd, STDERR_FILENO);
		if (nfd > STDERR_FILENO)
			close(nfd);
	}
	log_to_stderr = 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct lsmfs_opts o;
	struct fuse_cmdline_opts co;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	lsmfs *fs = NULL;
	lsm_options lo;
	char *store_abs = NULL, *fsname = NULL;
	int wfd = -1, ret = 1, mounted = 0, handlers = 0;

	memset(&o, 0, sizeof o);
	memset(&co, 0, sizeof co);
	o.entry_timeout = 1.0;
	o.attr_timeout = 1.0;
	openlog("lsmfs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(fuse_log_to_syslog);

	if (fuse_opt_parse(&args, &o, lsmfs_opt_spec, opt_proc) < 0)
		goto out;
	if (o.show_version) {
		printf("lsmfs version %s\n", LSMFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (o.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	/* The kernel checks permissions against the attributes we return. */
	if (fuse_opt_add_arg(&args, "-odefault_permissions") < 0 ||
	    fuse_parse_cmdline(&args, &co) != 0)
		goto out;
	if (co.show_help || co.show_version) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (!o.store || !co.mountpoint) {
		fprintf(stderr, "usage: lsmfs STORE MOUNTPOINT [-o options] [-f] [-d] [-s] "
				"(lsmfs --help for the options)\n");
		goto out;
	}
	if (o.entry_timeout < 0 || o.attr_timeout < 0) {
		fprintf(stderr, "lsmfs: timeouts must not be negative\n");
		goto out;
	}
	/* The daemon changes directory to /: keep the store's full path. */
	o.store_arg = strdup(o.store);
	if (!o.store_arg)
		goto out;
	if (o.store[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd) ||
		    asprintf(&store_abs, "%s/%s", cwd, o.store) < 0) {
			fprintf(stderr, "lsmfs: %s: cannot resolve path\n", o.store);
			goto out;
		}
		free(o.store);
		o.store = store_abs;
		store_abs = NULL;
	}
	/* Show the store as the source in /proc/mounts and df. */
	{
		char *opt = NULL;
		if (asprintf(&fsname, "fsname=%s", o.store) < 0 ||
		    fuse_opt_add_opt_escaped(&opt, fsname) < 0 ||
		    fuse_opt_insert_arg(&args, 1, "-o") < 0 ||
		    fuse_opt_insert_arg(&args, 2, opt) < 0 ||
		    fuse_opt_add_arg(&args, "-osubtype=lsmfs") < 0) {
			free(opt);
			goto out;
		}
		free(opt);
	}

	if (!co.foreground) {
		int pfd[2];
		if (pipe(pfd) < 0) {
			perror("lsmfs: pipe");
			goto out;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("lsmfs: fork");
			goto out;
		}
		if (pid > 0) {
			close(pfd[1]);
			ret = wait_for_child(pid, pfd[0]);
			goto out;
		}
		close(pfd[0]);
		wfd = pfd[1];
		if (setsid() < 0) {
			perror("lsmfs: setsid");
			goto out;
		}
	}

	lsm_options_init(&lo);
	lo.log = engine_log;
	lo.log_ctx = NULL;
	if (open_store(&o, &lo, &fs) < 0)
		goto out;

	se = lsmfs_fuse_session_new(&args, fs, o.entry_timeout, o.attr_timeout,
				    o.writeback != 0);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = 1;
	if (fuse_session_mount(se, co.mountpoint) != 0)
		goto out;
	mounted = 1;
	/* Quiet on the terminal of a daemonizing mount, as mount(8) is. */
	if (co.foreground)
		msg(LOG_INFO, "mounted %s on %s%s", o.store, co.mountpoint,
		    o.ro ? " (read-only)" : "");
	else
		syslog(LOG_INFO, "mounted %s on %s%s", o.store, co.mountpoint,
		       o.ro ? " (read-only)" : "");
	if (!co.foreground) {
		report_to_parent(&wfd, 0);
		detach();
	}

	if (co.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)co.clone_fd);
		/* UINT_MAX means "not given": keep libfuse's default. */
		if (co.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, co.max_threads);
		ret = fuse_session_loop_mt(se, lc);
	}
	/* fuse_session_loop returns -errno or the signal number that ended it;
	 * both are clean endings of the daemon. */
	ret = ret < 0 ? 1 : 0;

out:
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	if (fs) {
		/* Every worker is gone: no request can reach the core now. */
		int rc = fs_unmount(fs);
		if (rc < 0) {
			const char *d = fs_errdetail();
			msg(LOG_ERR, "%s: closing the store failed: %s%s%s", o.store,
			    fs_strerror(rc), *d ? ": " : "", d);
			ret = 1;
		} else if (mounted) {
			msg(LOG_INFO, "unmounted %s", o.store);
		}
	}
	if (wfd >= 0)
		report_to_parent(&wfd, ret ? (unsigned char)ret : 1);
	free(co.mountpoint);
	free(o.store);
	free(o.store_arg);
	free(fsname);
	fuse_opt_free_args(&args);
	closelog();
	return ret;
}
