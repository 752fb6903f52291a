/*
 * damage.c — inject one kind of damage into an lsmfs store, for the golden
 * fsck tests (tests/tools/t_damage.sh).  Not installed.
 *
 *   damage STORE ino PATH                 print PATH's inode number
 *   damage STORE add-entry DIR NAME INO   add entry DIR/NAME -> INO (a
 *                                         regular file) whatever INO is
 *   damage STORE unref                    add a regular file no entry names
 *                                         (inline data "unreferenced\n");
 *                                         prints its inode number
 *   damage STORE nlink PATH N             set PATH's link count to N
 *   damage STORE cycle A B                directory A (a child of the root)
 *                                         is moved into its own descendant
 *                                         B: A's entry in the root goes, B
 *                                         gets an entry naming A, A's parent
 *                                         pointer says B — a loop cut off
 *                                         from the root
 *   damage STORE leak PATH BLOCK [LEN]    put data block BLOCK (LEN bytes,
 *                                         default 100, of 0xab) in PATH's
 *                                         inode, its record unchanged
 *   damage STORE corrupt-inode PATH       replace PATH's inode record by
 *                                         10 bytes of garbage
 *   damage STORE bad-type DIR NAME        the entry DIR/NAME says "fifo"
 *   damage STORE drop-target PATH         delete symlink PATH's target
 *   damage STORE stray-xattr INO          an xattr of inode INO (missing)
 *   damage STORE stray-orphan INO         an orphan record of inode INO
 *   damage STORE stray-key                a key of no kind lsmfs writes
 *   damage flip FILE OFFSET               invert the byte at OFFSET of FILE
 *
 * Logical damage is written as raw keys through the engine (lsm_open,
 * synced writes), encoded only with fs/schema.h, exactly as a bug in the
 * core might have left it.  Paths are relative to the file system's root
 * ("a/b", or "/" for the root).
 * Threads: single-threaded.  Exit status 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "schema.h"

static lsm_db *db;

static int die(const char *what, int rc)
{
	fprintf(stderr, "damage: %s: %s %s\n", what, lsm_strerror(rc), lsm_errdetail());
	if (db)
		lsm_close(db);
	exit(1);
}

static const lsm_write_options wo_sync = { .sync = true };

/* Resolve a path from the root through the D records. */
static uint64_t lookup(const char *path)
{
	uint64_t ino = FS_ROOT_INO;
	char *copy = strdup(path), *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char k[FS_KEY_NAME_MAX];
		size_t kl = fs_key_named(k, FS_K_DENTRY, ino, c, strlen(c));
		void *v = NULL;
		size_t vl;
		int rc = lsm_get(db, NULL, k, kl, &v, &vl);
		if (rc < 0)
			die(path, rc);
		uint32_t type;
		if (fs_dentry_decode(v, vl, &ino, &type) < 0)
			die(path, LSM_E_CORRUPT);
		free(v);
	}
	free(copy);
	return ino;
}

static void get_inode(uint64_t ino, fs_attr *a, char **idata, size_t *ilen)
{
	char k[FS_KEY_INO_LEN];
	void *v = NULL;
	size_t vl;
	const char *d;
	fs_key_ino(k, FS_K_INODE, ino);
	int rc = lsm_get(db, NULL, k, sizeof k, &v, &vl);
	if (rc < 0)
		die("reading an inode", rc);
	if ((rc = fs_inode_decode(v, vl, ino, a, &d, ilen)) < 0)
		die("decoding an inode", rc);
	*idata = malloc(*ilen + 1);
	memcpy(*idata, d, *ilen);
	free(v);
}

static void batch_inode(lsm_batch *b, uint64_t ino, const fs_attr *a, const char *idata,
			size_t ilen)
{
	char k[FS_KEY_INO_LEN];
	char *v = malloc(FS_INODE_HDR_LEN + ilen);
	fs_key_ino(k, FS_K_INODE, ino);
	fs_inode_encode(v, a);
	memcpy(v + FS_INODE_HDR_LEN, idata, ilen);
	if (lsm_batch_put(b, k, sizeof k, v, FS_INODE_HDR_LEN + ilen) < 0)
		die("batch", -ENOMEM);
	free(v);
}

static void put_inode(uint64_t ino, const fs_attr *a, const char *idata, size_t ilen)
{
	lsm_batch *b = lsm_batch_new();
	batch_inode(b, ino, a, idata, ilen);
	int rc = lsm_write(db, &wo_sync, b);
	if (rc < 0)
		die("writing an inode", rc);
	lsm_batch_free(b);
}

static void read_super(fs_super *s)
{
	void *v = NULL;
	size_t vl;
	int rc = lsm_get(db, NULL, FS_SUPER_KEY, FS_SUPER_KEY_LEN, &v, &vl);
	if (rc < 0 || (rc = fs_super_decode(v, vl, s)) < 0)
		die("superblock", rc);
	free(v);
}

static int flip(const char *file, const char *off)
{
	long long o = atoll(off);
	int fd = open(file, O_RDWR);
	unsigned char c;
	if (fd < 0 || pread(fd, &c, 1, o) != 1) {
		perror(file);
		return 1;
	}
	c ^= 0xff;
	if (pwrite(fd, &c, 1, o) != 1 || fsync(fd) < 0) {
		perror(file);
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "flip"))
		return flip(argv[2], argv[3]);
	if (argc < 3) {
		fprintf(stderr, "usage: damage STORE COMMAND ARGS... (see damage.c)\n");
		return 1;
	}
	const char *store = argv[1], *cmd = argv[2];
	lsm_options o;
	lsm_options_init(&o);
	o.disable_auto_compaction = true;
	int rc = lsm_open(store, &o, &db);
	if (rc < 0)
		die(store, rc);
	fs_attr a;
	char *idata = NULL;
	size_t ilen = 0;

	if (!strcmp(cmd, "ino") && argc == 4) {
		printf("%" PRIu64 "\n", lookup(argv[3]));
	} else if (!strcmp(cmd, "add-entry") && argc == 6) {
		uint64_t dir = lookup(argv[3]);
		char k[FS_KEY_NAME_MAX], v[FS_DENTRY_LEN];
		size_t kl = fs_key_named(k, FS_K_DENTRY, dir, argv[4], strlen(argv[4]));
		fs_dentry_encode(v, strtoull(argv[5], NULL, 10), S_IFREG);
		if ((rc = lsm_put(db, &wo_sync, k, kl, v, sizeof v)) < 0)
			die("add-entry", rc);
	} else if (!strcmp(cmd, "unref") && argc == 3) {
		fs_super s;
		read_super(&s);
		uint64_t ino = s.next_ino;
		s.next_ino++;
		memset(&a, 0, sizeof a);
		static const char data[] = "unreferenced\n";
		a.mode = S_IFREG | 0644;
		a.nlink = 1;
		a.flags = FS_IF_INLINE;
		a.size = sizeof data - 1;
		clock_gettime(CLOCK_REALTIME, &a.mtime);
		a.atime = a.ctime = a.btime = a.mtime;
		lsm_batch *b = lsm_batch_new();
		char sb[FS_SUPER_LEN + 64];
		size_t sl = fs_super_encode(sb, &s);
		lsm_batch_put(b, FS_SUPER_KEY, FS_SUPER_KEY_LEN, sb, sl);
		batch_inode(b, ino, &a, data, sizeof data - 1);
		if ((rc = lsm_write(db, &wo_sync, b)) < 0)
			die("unref", rc);
		lsm_batch_free(b);
		printf("%" PRIu64 "\n", ino);
	} else if (!strcmp(cmd, "nlink") && argc == 5) {
		uint64_t ino = lookup(argv[3]);
		get_inode(ino, &a, &idata, &ilen);
		a.nlink = (uint32_t)strtoul(argv[4], NULL, 10);
		put_inode(ino, &a, idata, ilen);
	} else if (!strcmp(cmd, "cycle") && argc == 5) {
		const char *an = argv[3];
		while (*an == '/')
			an++;
		if (strchr(an, '/')) {
			fprintf(stderr, "damage: cycle: %s must be a child of the root\n", argv[3]);
			return 1;
		}
		uint64_t ia = lookup(argv[3]), ib = lookup(argv[4]);
		get_inode(ia, &a, &idata, &ilen);
		a.parent = ib;
		lsm_batch *b = lsm_batch_new();
		char k[FS_KEY_NAME_MAX], v[FS_DENTRY_LEN];
		size_t kl = fs_key_named(k, FS_K_DENTRY, FS_ROOT_INO, an, strlen(an));
		lsm_batch_delete(b, k, kl);
		kl = fs_key_named(k, FS_K_DENTRY, ib, an, strlen(an));
		fs_dentry_encode(v, ia, S_IFDIR);
		lsm_batch_put(b, k, kl, v, sizeof v);
		batch_inode(b, ia, &a, idata, ilen);
		if ((rc = lsm_write(db, &wo_sync, b)) < 0)
			die("cycle", rc);
		lsm_batch_free(b);
	} else if (!strcmp(cmd, "leak") && (argc == 5 || argc == 6)) {
		uint64_t ino = lookup(argv[3]);
		size_t len = argc == 6 ? strtoul(argv[5], NULL, 10) : 100;
		char k[FS_KEY_BLOCK_LEN], *v = malloc(len ? len : 1);
		memset(v, 0xab, len);
		fs_key_block(k, ino, strtoull(argv[4], NULL, 10));
		if ((rc = lsm_put(db, &wo_sync, k, sizeof k, v, len)) < 0)
			die("leak", rc);
		free(v);
	} else if (!strcmp(cmd, "corrupt-inode") && argc == 4) {
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_INODE, lookup(argv[3]));
		if ((rc = lsm_put(db, &wo_sync, k, sizeof k, "garbage!!!", 10)) < 0)
			die("corrupt-inode", rc);
	} else if (!strcmp(cmd, "bad-type") && argc == 5) {
		uint64_t dir = lookup(argv[3]), ino = 0;
		char k[FS_KEY_NAME_MAX], v[FS_DENTRY_LEN];
		size_t kl = fs_key_named(k, FS_K_DENTRY, dir, argv[4], strlen(argv[4]));
		void *old = NULL;
		size_t ol;
		uint32_t type;
		if ((rc = lsm_get(db, NULL, k, kl, &old, &ol)) < 0 ||
		    (rc = fs_dentry_decode(old, ol, &ino, &type)) < 0)
			die("bad-type", rc);
		free(old);
		fs_dentry_encode(v, ino, S_IFIFO);
		if ((rc = lsm_put(db, &wo_sync, k, kl, v, sizeof v)) < 0)
			die("bad-type", rc);
	} else if (!strcmp(cmd, "drop-target") && argc == 4) {
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_SYMLINK, lookup(argv[3]));
		if ((rc = lsm_delete(db, &wo_sync, k, sizeof k)) < 0)
			die("drop-target", rc);
	} else if (!strcmp(cmd, "stray-xattr") && argc == 4) {
		char k[FS_KEY_NAME_MAX];
		size_t kl = fs_key_named(k, FS_K_XATTR, strtoull(argv[3], NULL, 10), "user.x", 6);
		if ((rc = lsm_put(db, &wo_sync, k, kl, "v", 1)) < 0)
			die("stray-xattr", rc);
	} else if (!strcmp(cmd, "stray-orphan") && argc == 4) {
		char k[FS_KEY_INO_LEN];
		fs_key_ino(k, FS_K_ORPHAN, strtoull(argv[3], NULL, 10));
		if ((rc = lsm_put(db, &wo_sync, k, sizeof k, "", 0)) < 0)
			die("stray-orphan", rc);
	} else if (!strcmp(cmd, "stray-key") && argc == 3) {
		if ((rc = lsm_put(db, &wo_sync, "Zstray", 6, "?", 1)) < 0)
			die("stray-key", rc);
	} else {
		fprintf(stderr, "damage: unknown command or wrong arguments: %s\n", cmd);
		lsm_close(db);
		return 1;
	}
	free(idata);
	rc = lsm_close(db);
	if (rc < 0) {
		db = NULL;
		die("close", rc);
	}
	return 0;
}
