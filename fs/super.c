/*
 * super.c — the filesystem as a whole: mkfs, mount (superblock check,
 * orphan reclaim, recount after an unclean shutdown), unmount, statfs,
 * statistics and control hooks, inode-number allocation, atime policy, and
 * the error-detail helpers.
 *
 * Superblock invariants:
 *   S1  Every inode number ever handed out is below the persisted
 *       next_ino: numbers are reserved FS_INO_CHUNK at a time, and the
 *       reservation is written (under sb_mu) before any of them is used.
 *       The engine applies writes in order, so an inode record that
 *       survives a crash implies its reservation survived: recovery never
 *       reuses a number.
 *   S2  The counters in the superblock are exact only when FS_SB_CLEAN is
 *       set; mount clears the flag (durably) and unmount sets it again, so
 *       after a crash the next mount recounts by scanning the I records.
 * Threads: sb_mu guards fs->sb, fs->next_ino and every S write.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statvfs.h>

#include "fs_internal.h"

fs_cred fs_cred_root(void)
{
	fs_cred c = { 0 };
	return c;
}

/* ---- superblock I/O ------------------------------------------------------ */

/* Write s as the superblock.  sb_mu held (or single-threaded). */
static int sb_write(lsm_db *db, const fs_super *s, bool sync)
{
	char buf[FS_SUPER_LEN + 64];
	size_t n = fs_super_encode(buf, s);
	lsm_write_options wo = { .sync = sync };
	int rc = lsm_put(db, &wo, FS_SUPER_KEY, FS_SUPER_KEY_LEN, buf, n);
	return rc < 0 ? fs_eng(rc, "writing the superblock") : 0;
}

static int sb_read(lsm_db *db, const char *path, fs_super *s)
{
	void *v = NULL;
	size_t vl = 0;
	int rc = lsm_get(db, NULL, FS_SUPER_KEY, FS_SUPER_KEY_LEN, &v, &vl);
	if (rc == LSM_E_NOTFOUND)
		return fs_err(LSM_E_NOSTORE, "%s: the store holds no lsmfs superblock (run mkfs.lsmfs)",
			      path);
	if (rc < 0)
		return fs_eng(rc, "reading the superblock");
	rc = fs_super_decode(v, vl, s);
	free(v);
	if (rc < 0) {
		char d[512];
		snprintf(d, sizeof(d), "%s", fs_errdetail());
		fs_err(rc, "%s: %s", path, d);
	}
	return rc;
}

int fs_ino_alloc(lsmfs *fs, uint64_t *ino)
{
	int rc = 0;
	pthread_mutex_lock(&fs->sb_mu);
	if (fs->next_ino >= fs->sb.next_ino) {
		fs_super s = fs->sb;
		if (fs->next_ino > UINT64_MAX - FS_INO_CHUNK) {
			rc = fs_err(-ENOSPC, "inode numbers exhausted");
			goto out;
		}
		s.next_ino = fs->next_ino + FS_INO_CHUNK;
		s.flags &= ~(uint32_t)FS_SB_CLEAN;
		rc = sb_write(fs->db, &s, false);
		if (rc < 0)
			goto out;
		fs->sb = s;
	}
	*ino = fs->next_ino++;
out:
	pthread_mutex_unlock(&fs->sb_mu);
	return rc;
}

/* ---- mkfs ---------------------------------------------------------------- */

void fs_mkfs_opts_init(fs_mkfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->block_size = 4096;
	o->inline_max = 2048;
	o->compression = 1;
	o->root_mode = 0755;
}

static bool store_empty(lsm_db *db, int *err)
{
	lsm_iter *it = NULL;
	*err = lsm_iter_new(db, NULL, &it);
	if (*err < 0)
		return false;
	lsm_iter_seek_first(it);
	bool empty = !lsm_iter_valid(it);
	*err = lsm_iter_status(it);
	lsm_iter_free(it);
	return empty;
}

int fs_mkfs(const char *path, const fs_mkfs_opts *o, const lsm_options *lo)
{
	fs_mkfs_opts def;
	lsm_options eo;
	lsm_db *db = NULL;
	lsm_batch *b = NULL;
	int rc = 0;

	if (!o) {
		fs_mkfs_opts_init(&def);
		o = &def;
	}
	uint32_t bs = o->block_size;
	if (bs < 512 || bs > (1u << 20) || (bs & (bs - 1)))
		return fs_err(-EINVAL, "block size %u: want a power of two from 512 to 1 MiB", bs);
	if (o->inline_max > bs)
		return fs_err(-EINVAL, "inline max %u is over the block size %u", o->inline_max, bs);
	if (o->label && strlen(o->label) > FS_LABEL_MAX)
		return fs_err(-EINVAL, "label longer than %d bytes", FS_LABEL_MAX);
	if (o->compression < -10 || o->compression > 22)
		return fs_err(-EINVAL, "compression level %d: want 0 (off), 1 to 22, or -1 to -10",
			      o->compression);

	if (lo)
		eo = *lo;
	else
		lsm_options_init(&eo);
	eo.create_if_missing = true;
	eo.error_if_exists = false;
	eo.read_only = false;
	eo.compression = o->compression;
	rc = lsm_open(path, &eo, &db);
	if (rc < 0) {
		fs_eng(rc, path);
		return rc;
	}

	int err = 0;
	bool empty = store_empty(db, &err);
	if (err < 0) {
		rc = fs_eng(err, "scanning the store");
		goto err;
	}
	b = lsm_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto err;
	}
	if (!empty) {
		if (!o->force) {
			rc = fs_err(-EEXIST, "%s: the store is not empty (use force to replace it)", path);
			goto err;
		}
		/* Every lsmfs key starts with an ASCII letter: one range
		 * tombstone clears the store. */
		FS_ERR(lsm_batch_delete_range(b, "\x00", 1, "\xff", 1));
	}

	struct timespec now;
	fs_now(&now);
	fs_super s;
	memset(&s, 0, sizeof(s));
	s.version = FS_FORMAT_VERSION;
	s.flags = FS_SB_CLEAN;
	s.block_size = bs;
	s.inline_max = o->inline_max;
	s.compression = o->compression;
	s.created_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	s.next_ino = FS_ROOT_INO + 1;
	s.inodes = 1;
	s.dirs = 1;
	if (getrandom(s.uuid, sizeof(s.uuid), 0) != (ssize_t)sizeof(s.uuid)) {
		/* No entropy source: the time is unique enough for a label. */
		memcpy(s.uuid, &now, sizeof(now) < 16 ? sizeof(now) : 16);
	}
	if (o->label)
		snprintf(s.label, sizeof(s.label), "%s", o->label);
	char sbuf[FS_SUPER_LEN + 64];
	size_t sn = fs_super_encode(sbuf, &s);
	FS_ERR(lsm_batch_put(b, FS_SUPER_KEY, FS_SUPER_KEY_LEN, sbuf, sn));

	fs_attr root;
	memset(&root, 0, sizeof(root));
	root.mode = S_IFDIR | (o->root_mode & 07777);
	root.uid = o->root_uid;
	root.gid = o->root_gid;
	root.nlink = 2;
	root.parent = FS_ROOT_INO;
	root.atime = root.mtime = root.ctime = root.btime = now;
	FS_ERR(fs_batch_inode(b, FS_ROOT_INO, &root, NULL));

	lsm_write_options wo = { .sync = true };
	rc = lsm_write(db, &wo, b);
	if (rc < 0) {
		rc = fs_eng(rc, "writing the new filesystem");
		goto err;
	}
err:
	lsm_batch_free(b);
	int crc = lsm_close(db);
	if (rc == 0 && crc < 0)
		rc = fs_eng(crc, "closing the store");
	return rc;
}

/* ---- mount ---------------------------------------------------------------- */

void fs_mount_opts_init(fs_mount_opts *o)
{
	memset(o, 0, sizeof(*o));
}

/* After an unclean shutdown: count the I records by type.  Also makes sure
 * next_ino is above every inode present (S1 makes it so already; this only
 * guards against a damaged superblock). */
static int recount(lsmfs *fs)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	fs_key_ino(lo, FS_K_INODE, 0);
	fs_key_ino_end(hi, FS_K_INODE, UINT64_MAX);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	int rc = lsm_iter_new(fs->db, &ro, &it);
	if (rc < 0)
		return fs_eng(rc, "recounting inodes");
	fs->n_inodes = fs->n_files = fs->n_dirs = fs->n_symlinks = fs->n_specials = 0;
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const char *k = lsm_iter_key(it, &kl);
		const char *v = lsm_iter_value(it, &vl);
		fs_key key;
		if (kl != FS_KEY_INO_LEN || fs_key_parse(k, kl, &key) < 0 ||
		    vl < FS_INODE_HDR_LEN) {
			rc = fs_err(LSM_E_CORRUPT, "recount: malformed inode record (%zu-byte key, %zu-byte value)",
				    kl, vl);
			goto out;
		}
		fs_count(fs, fs_be32_get(v + 4), 1);
		if (key.ino >= fs->next_ino)
			fs->next_ino = key.ino + 1;
	}
	rc = lsm_iter_status(it);
	if (rc < 0)
		rc = fs_eng(rc, "recounting inodes");
out:
	lsm_iter_free(it);
	return rc;
}

/* Delete every inode with an orphan record (they were open and unlinked
 * when the filesystem went down), each in one batch with its O record. */
static int reclaim_orphans(lsmfs *fs)
{
	char lo[FS_KEY_INO_LEN], hi[FS_KEY_INO_LEN];
	fs_key_ino(lo, FS_K_ORPHAN, 0);
	fs_key_ino_end(hi, FS_K_ORPHAN, UINT64_MAX);
	lsm_read_options ro = { .lower = lo, .lower_len = sizeof(lo),
				.upper = hi, .upper_len = sizeof(hi) };
	lsm_iter *it = NULL;
	lsm_batch *b = lsm_batch_new();
	int rc = b ? lsm_iter_new(fs->db, &ro, &it) : -ENOMEM;
	if (rc < 0)
		goto out;
	for (lsm_iter_seek(it, lo, sizeof(lo)); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl;
		const char *k = lsm_iter_key(it, &kl);
		fs_key key;
		if (fs_key_parse(k, kl, &key) < 0 || key.type != FS_K_ORPHAN)
			continue;
		char ik[FS_KEY_INO_LEN];
		void *v = NULL;
		size_t vl = 0;
		fs_attr a;
		lsm_batch_clear(b);
		fs_key_ino(ik, FS_K_INODE, key.ino);
		rc = lsm_get(fs->db, NULL, ik, sizeof(ik), &v, &vl);
		if (rc == 0) {
			rc = fs_inode_decode(v, vl, key.ino, &a, NULL, NULL);
			free(v);
			if (rc < 0) {
				/* Unreadable inode: delete every record it
				 * may have (data and xattrs here, the symlink
				 * target below). */
				char lk[FS_KEY_INO_LEN];
				memset(&a, 0, sizeof(a));
				a.mode = S_IFREG;
				a.flags = FS_IF_XATTR;
				a.maxblk = 1;
				fs_key_ino(lk, FS_K_SYMLINK, key.ino);
				if (lsm_batch_delete(b, lk, sizeof(lk)) < 0) {
					rc = -ENOMEM;
					goto out;
				}
			} else {
				fs_count(fs, a.mode, -1);
			}
			rc = fs_batch_destroy(fs, b, key.ino, &a, true);
		} else if (rc == LSM_E_NOTFOUND) {
			rc = lsm_batch_delete(b, k, kl);
		}
		if (rc == 0)
			rc = lsm_write(fs->db, fs_wo(), b);
		if (rc < 0) {
			rc = fs_eng(rc, "reclaiming an orphan");
			goto out;
		}
	}
	rc = lsm_iter_status(it);
	if (rc < 0)
		rc = fs_eng(rc, "scanning orphans");
out:
	lsm_iter_free(it);
	lsm_batch_free(b);
	return rc;
}

/*
 * Room for the engine on the host filesystem.  The engine needs free space
 * to turn memtables into tables and to compact, and deleting a file is a
 * write too: a store that filled its disk to the last byte could never be
 * emptied again.  So, as ext4 keeps blocks back, lsmfs keeps fs->reserve
 * bytes of the host free: data writes fail with ENOSPC once they would
 * reach into it (fs_space_check), while deletions, truncations, renames
 * and other metadata go on, and statfs counts it as unavailable.  The
 * reserve is what flushing every memtable takes, (2 + max_immutable) write
 * buffers; on a small host filesystem the write buffer is first cut to a
 * sixteenth of it (1 MiB at least), so the reserve stays about a quarter.
 * What running background compactions may still write
 * (lsm_space_reserved) is kept free on top; the engine itself starts a
 * background compaction only when its inputs fit beside the memtables'
 * room (lsm/compact.c room_for_job), so compactions never eat the room
 * deletions need.
 */
static void fit_to_host(lsmfs *fs)
{
	struct statvfs h;
	if (!fs->host_statfs || statvfs(fs->path, &h) != 0)
		return;
	uint64_t cap = (uint64_t)h.f_blocks * h.f_frsize / 16;
	if (cap < (1u << 20))
		cap = 1u << 20;
	if (fs->lo.write_buffer_size > cap)
		fs->lo.write_buffer_size = (size_t)cap;
	uint64_t imm = fs->lo.max_immutable > 0 ? (uint64_t)fs->lo.max_immutable : 1;
	fs->reserve = (2 + imm) * fs->lo.write_buffer_size;
}

int fs_space_check(lsmfs *fs, uint64_t need)
{
	struct statvfs h;
	if (!fs->reserve || statvfs(fs->path, &h) != 0)
		return 0;
	uint64_t avail = (uint64_t)h.f_bavail * h.f_frsize;
	/* what running compactions may still write is not free either */
	uint64_t keep = fs->reserve + lsm_space_reserved(fs->db);
	if (avail >= keep && avail - keep >= need)
		return 0;
	return fs_err(-ENOSPC, "%s: %" PRIu64 " bytes free on the host filesystem, %" PRIu64
		      " kept for flushes, compaction and deletions", fs->path, avail, keep);
}

static void fs_free(lsmfs *fs)
{
	if (!fs)
		return;
	fs_itable_free(fs);
	pthread_mutex_destroy(&fs->sb_mu);
	pthread_mutex_destroy(&fs->rename_mu);
	pthread_mutex_destroy(&fs->h_mu);
	free(fs->path);
	free(fs);
}

int fs_mount(const char *path, const fs_mount_opts *o, lsmfs **out)
{
	fs_mount_opts def;
	int rc = 0;
	*out = NULL;
	if (!o) {
		fs_mount_opts_init(&def);
		o = &def;
	}
	lsmfs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->sb_mu, NULL);
	pthread_mutex_init(&fs->rename_mu, NULL);
	pthread_mutex_init(&fs->h_mu, NULL);
	fs->path = strdup(path);
	if (!fs->path || fs_itable_init(fs) < 0) {
		rc = -ENOMEM;
		goto err;
	}
	if (o->lsm)
		fs->lo = *o->lsm;
	else
		lsm_options_init(&fs->lo);
	fs->lo.create_if_missing = false;
	fs->lo.error_if_exists = false;
	fs->lo.read_only = o->read_only;
	fs->read_only = o->read_only;
	fs->kperm = o->kernel_permissions;
	fs->noatime = o->noatime;
	fs->host_statfs = fs->lo.env == NULL || fs->lo.env == lsm_env_posix();
	if (!fs->read_only)
		fit_to_host(fs);

	rc = lsm_open(path, &fs->lo, &fs->db);
	if (rc < 0) {
		fs_eng(rc, path);
		goto err;
	}
	rc = sb_read(fs->db, path, &fs->sb);
	if (rc < 0)
		goto err;
	if (!o->lsm_compression_set && fs->lo.compression != fs->sb.compression) {
		/* The superblock's level governs the tables written from now
		 * on; options are fixed at open, so reopen. */
		lsm_close(fs->db);
		fs->db = NULL;
		fs->lo.compression = fs->sb.compression;
		rc = lsm_open(path, &fs->lo, &fs->db);
		if (rc < 0) {
			fs_eng(rc, path);
			goto err;
		}
	}
	fs->bs = fs->sb.block_size;
	fs->bshift = (uint32_t)__builtin_ctz(fs->bs);
	fs->inline_max = fs->sb.inline_max;
	fs->next_ino = fs->sb.next_ino;

	if (fs->sb.flags & FS_SB_CLEAN) {
		fs->n_inodes = fs->sb.inodes;
		fs->n_files = fs->sb.files;
		fs->n_dirs = fs->sb.dirs;
		fs->n_symlinks = fs->sb.symlinks;
		fs->n_specials = fs->sb.specials;
	} else {
		rc = recount(fs);
		if (rc < 0)
			goto err;
	}
	if (!fs->read_only) {
		rc = reclaim_orphans(fs);
		if (rc < 0)
			goto err;
		fs_super s = fs->sb;
		s.flags &= ~(uint32_t)FS_SB_CLEAN;
		if (fs->next_ino > s.next_ino)
			s.next_ino = fs->next_ino;
		rc = sb_write(fs->db, &s, true);
		if (rc < 0)
			goto err;
		fs->sb = s;
	}
	*out = fs;
	return 0;
err:
	if (fs->db)
		lsm_close(fs->db);
	fs_free(fs);
	return rc;
}

int fs_unmount(lsmfs *fs)
{
	int rc = 0;
	if (!fs)
		return 0;
	fs_handles_drop(fs);
	if (!fs->read_only) {
		pthread_mutex_lock(&fs->sb_mu);
		fs_super s = fs->sb;
		s.flags |= FS_SB_CLEAN;
		s.next_ino = fs->next_ino > s.next_ino ? fs->next_ino : s.next_ino;
		s.inodes = fs_atomic_get(&fs->n_inodes);
		s.files = fs_atomic_get(&fs->n_files);
		s.dirs = fs_atomic_get(&fs->n_dirs);
		s.symlinks = fs_atomic_get(&fs->n_symlinks);
		s.specials = fs_atomic_get(&fs->n_specials);
		rc = sb_write(fs->db, &s, true);
		pthread_mutex_unlock(&fs->sb_mu);
	}
	int crc = lsm_close(fs->db);
	if (rc == 0 && crc < 0)
		rc = fs_eng(crc, "closing the store");
	fs_free(fs);
	return rc;
}

void fs_abort(lsmfs *fs)
{
	if (!fs)
		return;
	fs_handles_drop(fs);
	lsm_close(fs->db);
	fs_free(fs);
}

lsm_db *fs_db(lsmfs *fs)
{
	return fs->db;
}

/* ---- atime ------------------------------------------------------------------ */

static bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/*
 * relatime, as Linux mounts by default: atime moves only when it is not
 * newer than mtime or ctime, or is a day old, so a file read over and over
 * costs one inode write per modification (or per day), not one per read.
 * Best effort: a failed write leaves atime as it was.
 */
static bool atime_due(const lsmfs *fs, const struct fs_inode *ip, int hflags,
		      const struct timespec *now)
{
	if (fs->noatime || fs->read_only || (hflags & O_NOATIME) || ip->gone)
		return false;
	const fs_attr *a = &ip->a;
	return ts_le(&a->atime, &a->mtime) || ts_le(&a->atime, &a->ctime) ||
	       now->tv_sec - a->atime.tv_sec >= 86400;
}

void fs_touch_atime(lsmfs *fs, struct fs_inode *ip, int hflags)
{
	struct timespec now;
	fs_now(&now);
	if (!atime_due(fs, ip, hflags, &now))
		return;
	fs_attr a = ip->a;
	a.atime = now;
	if ((a.flags & FS_IF_INLINE) && a.size && fs_idata_load(fs, ip) < 0)
		return;
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return;
	if (fs_batch_inode(b, ip->ino, &a, ip->idata) == 0 &&
	    lsm_write(fs->db, fs_wo(), b) == 0)
		ip->a = a;
	lsm_batch_free(b);
	fs_idata_trim(fs, ip);
}

bool fs_keep_cache(lsmfs *fs, uint64_t fh)
{
	struct fs_handle *h = fs_handle_get(fh);
	if (!h || h->dir)
		return false;
	struct timespec now;
	fs_now(&now);
	pthread_mutex_lock(&h->ip->lock);
	bool due = atime_due(fs, h->ip, h->flags, &now);
	pthread_mutex_unlock(&h->ip->lock);
	return !due;
}

/* ---- statfs, stats, control ------------------------------------------------- */

int fs_statfs(lsmfs *fs, struct statvfs *sv)
{
	struct statvfs h;
	uint64_t total, freeb, avail;
	memset(sv, 0, sizeof(*sv));
	if (fs->host_statfs && statvfs(fs->path, &h) == 0) {
		total = (uint64_t)h.f_blocks * h.f_frsize;
		freeb = (uint64_t)h.f_bfree * h.f_frsize;
		avail = (uint64_t)h.f_bavail * h.f_frsize;
		avail = avail > fs->reserve ? avail - fs->reserve : 0;	/* fit_to_host */
	} else {
		/* A store not on the host (in-memory env): a nominal 1 TiB
		 * beside what the engine holds. */
		lsm_stats es;
		uint64_t used = 0;
		if (lsm_get_stats(fs->db, &es) == 0)
			used = es.disk_bytes;
		total = (UINT64_C(1) << 40) + used;
		freeb = avail = UINT64_C(1) << 40;
	}
	sv->f_bsize = fs->bs;
	sv->f_frsize = fs->bs;
	sv->f_blocks = total / fs->bs;
	sv->f_bfree = freeb / fs->bs;
	sv->f_bavail = avail / fs->bs;
	/* An inode costs a few hundred bytes of keys and values: offer one
	 * per 512 free bytes. */
	uint64_t ffree = avail / 512;
	uint64_t used = fs_atomic_get(&fs->n_inodes);
	sv->f_files = used + ffree;
	sv->f_ffree = ffree;
	sv->f_favail = ffree;
	uint64_t id;
	memcpy(&id, fs->sb.uuid, sizeof(id));
	sv->f_fsid = (unsigned long)id;
	sv->f_flag = fs->read_only ? ST_RDONLY : 0;
	sv->f_namemax = FS_NAME_MAX;
	return 0;
}

int fs_stats_get(lsmfs *fs, fs_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->inodes = fs_atomic_get(&fs->n_inodes);
	st->files = fs_atomic_get(&fs->n_files);
	st->dirs = fs_atomic_get(&fs->n_dirs);
	st->symlinks = fs_atomic_get(&fs->n_symlinks);
	st->specials = fs_atomic_get(&fs->n_specials);
	st->orphans = fs_atomic_get(&fs->n_orphans);
	st->open_handles = fs_atomic_get(&fs->n_handles);
	st->cached_inodes = fs_atomic_get(&fs->n_cached);
	pthread_mutex_lock(&fs->sb_mu);
	st->next_ino = fs->next_ino;
	st->format_version = fs->sb.version;
	st->block_size = fs->sb.block_size;
	st->inline_max = fs->sb.inline_max;
	st->compression = fs->sb.compression;
	st->created_ns = fs->sb.created_ns;
	memcpy(st->label, fs->sb.label, sizeof(st->label));
	pthread_mutex_unlock(&fs->sb_mu);
	int rc = lsm_get_stats(fs->db, &st->engine);
	return rc < 0 ? fs_eng(rc, "engine statistics") : 0;
}

int fs_compact(lsmfs *fs)
{
	if (fs->read_only)
		return -EROFS;
	int rc = lsm_compact_range(fs->db, NULL, 0, NULL, 0);
	if (rc == -ENOSPC) {
		/* Say why the space did not come back when handles hold it. */
		uint64_t nh = fs_atomic_get(&fs->n_handles);
		lsm_stats es;
		if (nh > 0 && lsm_get_stats(fs->db, &es) == 0 && es.gc_cutoff < es.last_seq)
			return fs_err(-ENOSPC, "compacting: out of space on the host filesystem;"
				      " %" PRIu64 " open handle(s) pin the GC cutoff at sequence %" PRIu64
				      " (last %" PRIu64 "), so what was deleted since cannot be dropped"
				      " until they close", nh, es.gc_cutoff, es.last_seq);
	}
	return rc < 0 ? fs_eng(rc, "compacting") : 0;
}

int fs_flush_engine(lsmfs *fs, bool wait)
{
	if (fs->read_only)
		return -EROFS;
	int rc = lsm_flush(fs->db, wait);
	return rc < 0 ? fs_eng(rc, "flushing the memtable") : 0;
}

int fs_sync(lsmfs *fs)
{
	if (fs->read_only)
		return 0;
	int rc = lsm_sync(fs->db);
	return rc < 0 ? fs_eng(rc, "sync") : 0;
}
