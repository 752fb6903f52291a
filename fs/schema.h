/*
 * schema.h — how lsmfs keys and values are encoded: the only place that
 * knows the byte layout (fs/doc/schema.md describes it; FS_FORMAT_VERSION
 * names it).  Everything here is pure encoding: no engine calls, no locks.
 *
 * Keys compare as bytes; every integer in a key or value is big-endian so
 * keys sort numerically and values read the same on every host.
 *
 *   S                       superblock
 *   I ino(8)                inode (attributes; small files' data inline)
 *   D parent(8) name        directory entry -> child ino, file type
 *   B ino(8) block(8)       one data block (a missing block reads as zeros;
 *                           a short value is zero-padded to the block size)
 *   X ino(8) name           extended attribute
 *   L ino(8)                symlink target
 *   O ino(8)                orphan: inode without names, still open
 *
 * Decoders never trust their input: a malformed value returns
 * LSM_E_CORRUPT with a detail naming the record and the byte offset.
 * Threads: all functions are reentrant.
 */
#ifndef LSMFS_SCHEMA_H
#define LSMFS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The on-disk format this build writes and the newest it reads.  FROZEN
 * meaning: bump it for any change of the layout below. */
#define FS_FORMAT_VERSION 1

/* Key type bytes.  FROZEN. */
enum {
	FS_K_SUPER = 'S',
	FS_K_INODE = 'I',
	FS_K_DENTRY = 'D',
	FS_K_BLOCK = 'B',
	FS_K_XATTR = 'X',
	FS_K_SYMLINK = 'L',
	FS_K_ORPHAN = 'O',
};

#define FS_KEY_INO_LEN 9		/* type + ino: I, L, O and range prefixes */
#define FS_KEY_BLOCK_LEN 17		/* B ino block */
#define FS_KEY_NAME_MAX (9 + 255)	/* D or X key with the longest name */
#define FS_SUPER_KEY "S"
#define FS_SUPER_KEY_LEN 1

/* Inode flags (fs_attr.flags).  FROZEN. */
enum {
	FS_IF_INLINE = 1,	/* data lives in the inode value; no B keys */
	FS_IF_XATTR = 2,	/* X keys may exist */
};

/* The attributes of one inode as stored. */
typedef struct fs_attr {
	uint32_t mode;		/* type and permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint32_t flags;		/* FS_IF_* */
	uint64_t size;
	uint64_t nblocks;	/* B keys present */
	uint64_t maxblk;	/* every B key has block < maxblk */
	uint64_t rdev;
	uint64_t parent;	/* directories: the parent's ino (root: itself) */
	uint64_t generation;
	struct timespec atime, mtime, ctime, btime;
} fs_attr;

/* Bytes of an inode value before the inline data.  FROZEN for v1. */
#define FS_INODE_HDR_LEN 116

/* The superblock. */
typedef struct fs_super {
	uint32_t version;	/* FS_FORMAT_VERSION when written */
	uint32_t flags;		/* FS_SB_* */
	uint32_t block_size;
	uint32_t inline_max;
	int32_t compression;
	int64_t created_ns;
	uint64_t next_ino;	/* every number below may have been used */
	uint64_t inodes, files, dirs, symlinks, specials;	/* valid if CLEAN */
	uint8_t uuid[16];
	char label[64];		/* NUL-terminated, at most 63 bytes */
} fs_super;

enum {
	FS_SB_CLEAN = 1,	/* unmounted cleanly: the counters are exact */
};

#define FS_SUPER_MAGIC "LSMFS-SB"	/* 8 bytes, FROZEN */
#define FS_SUPER_LEN 101		/* fixed part before the label */

/* ---- keys ---------------------------------------------------------------- */

/* type + ino: the I, L and O keys, and the prefix of ino's D, B, X keys.
 * Writes FS_KEY_INO_LEN bytes. */
size_t fs_key_ino(char *out, char type, uint64_t ino);
/* The first key after every key starting with (type, ino): type + ino+1, or
 * type+1 + zeros when ino is the largest. */
size_t fs_key_ino_end(char *out, char type, uint64_t ino);
size_t fs_key_block(char *out, uint64_t ino, uint64_t block);
/* D parent name / X ino name; out holds FS_KEY_NAME_MAX bytes; name of at
 * most 255 bytes (callers check). */
size_t fs_key_named(char *out, char type, uint64_t ino, const char *name,
		    size_t len);

/* A decoded key: type, ino, and the block number or the name. */
typedef struct fs_key {
	char type;
	uint64_t ino;
	uint64_t block;		/* B */
	const char *name;	/* D, X: points into the key */
	size_t name_len;
} fs_key;

/* Parse any lsmfs key; LSM_E_CORRUPT for an unknown or malformed one. */
int fs_key_parse(const void *key, size_t len, fs_key *out);

/* ---- values ------------------------------------------------------------- */

/* Inode value: FS_INODE_HDR_LEN bytes of attributes, then inline data. */
void fs_inode_encode(char *out, const fs_attr *a);
/* Decode; idata and ilen (may be NULL) get the inline data inside val. */
int fs_inode_decode(const void *val, size_t len, uint64_t ino, fs_attr *a,
		    const char **idata, size_t *ilen);

/* Dentry value: child ino(8) + type (mode >> 12) (1). */
#define FS_DENTRY_LEN 9
void fs_dentry_encode(char *out, uint64_t ino, uint32_t mode);
/* *type is an S_IF* value. */
int fs_dentry_decode(const void *val, size_t len, uint64_t *ino,
		     uint32_t *type);

/* Superblock value; out holds FS_SUPER_LEN + 64 bytes; returns length. */
size_t fs_super_encode(char *out, const fs_super *s);
/* LSM_E_VERSION (detail with both versions) for a newer format,
 * LSM_E_CORRUPT for a damaged one. */
int fs_super_decode(const void *val, size_t len, fs_super *s);

/* Big-endian helpers (exported for the tests and fsck). */
void fs_be64_put(char *p, uint64_t v);
uint64_t fs_be64_get(const char *p);
void fs_be32_put(char *p, uint32_t v);
uint32_t fs_be32_get(const char *p);

#endif /* LSMFS_SCHEMA_H */
