/*
 * daemon.h — what the two halves of the FUSE daemon share: main.c (options,
 * mount, the loop, logging) and fuse_ops.c (the operations table).
 */
#ifndef LSMFS_DAEMON_H
#define LSMFS_DAEMON_H

#include <stdbool.h>
#ifndef FUSE_USE_VERSION
#error "define FUSE_USE_VERSION before including daemon.h"
#endif
#include <fuse_lowlevel.h>

#include "fs.h"

/* The FUSE session for fs (fuse_ops.c).  args: the FUSE options left after
 * the daemon's own were taken out. */
struct fuse_session *lsmfs_fuse_session_new(struct fuse_args *args, lsmfs *fs,
					    double entry_timeout,
					    double attr_timeout,
					    bool writeback);

/* A log line (main.c): to syslog, and to stderr while the daemon runs in
 * the foreground or has not detached yet.  prio: a syslog priority. */
void lsmfs_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
