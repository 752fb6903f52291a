/*
 * schema.c — encoding and decoding of lsmfs keys and values (the layout is
 * described in schema.h and fs/doc/schema.md).  Pure functions: no engine
 * calls, no shared state; decoders bound every read by the value's length
 * and report malformed input as LSM_E_CORRUPT naming the byte offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"
#include "schema.h"

/* ---- errors (here so that the pure encoding code and its tests need no
 * engine) ------------------------------------------------------------- */

static __thread char fs_detail[512];

int fs_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs_detail, sizeof(fs_detail), fmt, ap);
	va_end(ap);
	return code;
}

int fs_eng(int rc, const char *what)
{
	snprintf(fs_detail, sizeof(fs_detail), "%s: %s%s%s", what,
		 lsm_strerror(rc), *lsm_errdetail() ? ": " : "",
		 lsm_errdetail());
	if (rc <= LSM_E_LAST && rc >= LSM_E_FIRST)
		return -EIO;
	return rc;
}

const char *fs_errdetail(void)
{
	return fs_detail;
}

const char *fs_strerror(int code)
{
	return lsm_strerror(code);
}

/* Names are checked here too: their length bounds the D keys. */
int fs_name_check(const char *name, size_t *len)
{
	size_t n = strnlen(name, FS_NAME_MAX + 1);
	if (n > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

void fs_be64_put(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (56 - 8 * i));
}

uint64_t fs_be64_get(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | u[i];
	return v;
}

void fs_be32_put(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (24 - 8 * i));
}

uint32_t fs_be32_get(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

/* ---- keys ------------------------------------------------------------------ */

size_t fs_key_ino(char *out, char type, uint64_t ino)
{
	out[0] = type;
	fs_be64_put(out + 1, ino);
	return FS_KEY_INO_LEN;
}

size_t fs_key_ino_end(char *out, char type, uint64_t ino)
{
	if (ino == UINT64_MAX) {
		out[0] = (char)(type + 1);
		fs_be64_put(out + 1, 0);
	} else {
		out[0] = type;
		fs_be64_put(out + 1, ino + 1);
	}
	return FS_KEY_INO_LEN;
}

size_t fs_key_block(char *out, uint64_t ino, uint64_t block)
{
	out[0] = FS_K_BLOCK;
	fs_be64_put(out + 1, ino);
	fs_be64_put(out + 9, block);
	return FS_KEY_BLOCK_LEN;
}

size_t fs_key_named(char *out, char type, uint64_t ino, const char *name,
		    size_t len)
{
	out[0] = type;
	fs_be64_put(out + 1, ino);
	memcpy(out + 9, name, len);
	return 9 + len;
}

int fs_key_parse(const void *key, size_t len, fs_key *out)
{
	const char *k = key;
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fs_err(LSM_E_CORRUPT, "empty key");
	out->type = k[0];
	switch (k[0]) {
	case FS_K_SUPER:
		return 0;
	case FS_K_INODE:
	case FS_K_SYMLINK:
	case FS_K_ORPHAN:
		if (len != FS_KEY_INO_LEN)
			break;
		out->ino = fs_be64_get(k + 1);
		return 0;
	case FS_K_BLOCK:
		if (len != FS_KEY_BLOCK_LEN)
			break;
		out->ino = fs_be64_get(k + 1);
		out->block = fs_be64_get(k + 9);
		return 0;
	case FS_K_DENTRY:
	case FS_K_XATTR:
		if (len <= 9 || len > FS_KEY_NAME_MAX)
			break;
		out->ino = fs_be64_get(k + 1);
		out->name = k + 9;
		out->name_len = len - 9;
		return 0;
	default:
		return fs_err(LSM_E_CORRUPT, "key of unknown type 0x%02x (%zu bytes)",
			      (unsigned char)k[0], len);
	}
	return fs_err(LSM_E_CORRUPT, "'%c' key of bad length %zu", k[0], len);
}

/* ---- inode values ------------------------------------------------------------
 *
 *   0 u8 record version (1)   1 u8 reserved   2 u16 flags
 *   4 mode  8 uid  12 gid  16 nlink                         (u32 each)
 *  20 size  28 nblocks  36 maxblk  44 rdev  52 parent  60 generation (u64)
 *  68 atime  80 mtime  92 ctime  104 btime        (s64 seconds + u32 ns)
 * 116 inline data (size bytes) when flags has FS_IF_INLINE
 */

static void put_ts(char *p, const struct timespec *ts)
{
	fs_be64_put(p, (uint64_t)(int64_t)ts->tv_sec);
	fs_be32_put(p + 8, (uint32_t)ts->tv_nsec);
}

static int get_ts(const char *p, struct timespec *ts)
{
	uint32_t ns = fs_be32_get(p + 8);
	if (ns >= 1000000000u)
		return -1;
	ts->tv_sec = (time_t)(int64_t)fs_be64_get(p);
	ts->tv_nsec = ns;
	return 0;
}

void fs_inode_encode(char *out, const fs_attr *a)
{
	out[0] = 1;
	out[1] = 0;
	out[2] = (char)(a->flags >> 8);
	out[3] = (char)a->flags;
	fs_be32_put(out + 4, a->mode);
	fs_be32_put(out + 8, a->uid);
	fs_be32_put(out + 12, a->gid);
	fs_be32_put(out + 16, a->nlink);
	fs_be64_put(out + 20, a->size);
	fs_be64_put(out + 28, a->nblocks);
	fs_be64_put(out + 36, a->maxblk);
	fs_be64_put(out + 44, a->rdev);
	fs_be64_put(out + 52, a->parent);
	fs_be64_put(out + 60, a->generation);
	put_ts(out + 68, &a->atime);
	put_ts(out + 80, &a->mtime);
	put_ts(out + 92, &a->ctime);
	put_ts(out + 104, &a->btime);
}

int fs_inode_decode(const void *val, size_t len, uint64_t ino, fs_attr *a,
		    const char **idata, size_t *ilen)
{
	const char *v = val;
	if (len < FS_INODE_HDR_LEN)
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": value of %zu bytes, header needs %d (byte offset %zu)",
			      ino, len, FS_INODE_HDR_LEN, len);
	if (v[0] != 1)
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": unknown record version %u (byte offset 0)",
			      ino, (unsigned char)v[0]);
	memset(a, 0, sizeof(*a));
	a->flags = (uint32_t)(unsigned char)v[2] << 8 | (unsigned char)v[3];
	a->mode = fs_be32_get(v + 4);
	a->uid = fs_be32_get(v + 8);
	a->gid = fs_be32_get(v + 12);
	a->nlink = fs_be32_get(v + 16);
	a->size = fs_be64_get(v + 20);
	a->nblocks = fs_be64_get(v + 28);
	a->maxblk = fs_be64_get(v + 36);
	a->rdev = fs_be64_get(v + 44);
	a->parent = fs_be64_get(v + 52);
	a->generation = fs_be64_get(v + 60);
	static const int tso[4] = { 68, 80, 92, 104 };
	struct timespec *ts[4] = { &a->atime, &a->mtime, &a->ctime, &a->btime };
	for (int i = 0; i < 4; i++)
		if (get_ts(v + tso[i], ts[i]) < 0)
			return fs_err(LSM_E_CORRUPT,
				      "inode %" PRIu64 ": nanoseconds out of range (byte offset %d)",
				      ino, tso[i] + 8);
	if (a->flags & ~(uint32_t)(FS_IF_INLINE | FS_IF_XATTR))
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": unknown flags 0x%x (byte offset 2)",
			      ino, a->flags);
	uint32_t t = a->mode & S_IFMT;
	if (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFCHR &&
	    t != S_IFBLK && t != S_IFIFO && t != S_IFSOCK)
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": bad file type 0%o (byte offset 4)",
			      ino, t);
	if (a->size > FS_MAX_FILE_SIZE)
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": size %" PRIu64 " too large (byte offset 20)",
			      ino, a->size);
	size_t rest = len - FS_INODE_HDR_LEN;
	if (a->flags & FS_IF_INLINE) {
		if (rest != a->size)
			return fs_err(LSM_E_CORRUPT,
				      "inode %" PRIu64 ": %zu bytes of inline data for size %" PRIu64
				      " (byte offset %d)",
				      ino, rest, a->size, FS_INODE_HDR_LEN);
	} else if (rest != 0) {
		return fs_err(LSM_E_CORRUPT,
			      "inode %" PRIu64 ": %zu trailing bytes (byte offset %d)",
			      ino, rest, FS_INODE_HDR_LEN);
	}
	if (idata)
		*idata = v + FS_INODE_HDR_LEN;
	if (ilen)
		*ilen = rest;
	return 0;
}

/* ---- dentries ---------------------------------------------------------------- */

void fs_dentry_encode(char *out, uint64_t ino, uint32_t mode)
{
	fs_be64_put(out, ino);
	out[8] = (char)((mode & S_IFMT) >> 12);
}

int fs_dentry_decode(const void *val, size_t len, uint64_t *ino,
		     uint32_t *type)
{
	const char *v = val;
	if (len != FS_DENTRY_LEN)
		return fs_err(LSM_E_CORRUPT, "dentry value of %zu bytes, want %d (byte offset %zu)",
			      len, FS_DENTRY_LEN, len < FS_DENTRY_LEN ? len : (size_t)FS_DENTRY_LEN);
	*ino = fs_be64_get(v);
	*type = (uint32_t)(unsigned char)v[8] << 12;
	uint32_t t = *type;
	if (*ino == 0 ||
	    (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFCHR &&
	     t != S_IFBLK && t != S_IFIFO && t != S_IFSOCK))
		return fs_err(LSM_E_CORRUPT, "dentry: bad ino %" PRIu64 " or type %u (byte offset %d)",
			      *ino, (unsigned char)v[8], *ino == 0 ? 0 : 8);
	return 0;
}

/* ---- superblock --------------------------------------------------------------
 *
 *   0 magic "LSMFS-SB"  8 version  12 flags  16 block_size  20 inline_max
 *  24 compression (s32)  28 created_ns (s64)  36 next_ino
 *  44 inodes  52 files  60 dirs  68 symlinks  76 specials
 *  84 uuid[16]  100 label length (u8)  101 label
 */

size_t fs_super_encode(char *out, const fs_super *s)
{
	size_t ll = strnlen(s->label, sizeof(s->label) - 1);
	memcpy(out, FS_SUPER_MAGIC, 8);
	fs_be32_put(out + 8, s->version);
	fs_be32_put(out + 12, s->flags);
	fs_be32_put(out + 16, s->block_size);
	fs_be32_put(out + 20, s->inline_max);
	fs_be32_put(out + 24, (uint32_t)s->compression);
	fs_be64_put(out + 28, (uint64_t)s->created_ns);
	fs_be64_put(out + 36, s->next_ino);
	fs_be64_put(out + 44, s->inodes);
	fs_be64_put(out + 52, s->files);
	fs_be64_put(out + 60, s->dirs);
	fs_be64_put(out + 68, s->symlinks);
	fs_be64_put(out + 76, s->specials);
	memcpy(out + 84, s->uuid, 16);
	out[100] = (char)ll;
	memcpy(out + 101, s->label, ll);
	return FS_SUPER_LEN + ll;
}

int fs_super_decode(const void *val, size_t len, fs_super *s)
{
	const char *v = val;
	memset(s, 0, sizeof(*s));
	if (len < 12 || memcmp(v, FS_SUPER_MAGIC, 8) != 0)
		return fs_err(LSM_E_CORRUPT, "superblock: bad magic (byte offset 0)");
	s->version = fs_be32_get(v + 8);
	if (s->version > FS_FORMAT_VERSION)
		return fs_err(LSM_E_VERSION,
			      "superblock: format version %u is newer than this build's %d",
			      s->version, FS_FORMAT_VERSION);
	if (s->version == 0)
		return fs_err(LSM_E_CORRUPT, "superblock: format version 0 (byte offset 8)");
	if (len < FS_SUPER_LEN)
		return fs_err(LSM_E_CORRUPT, "superblock: %zu bytes, need %d (byte offset %zu)",
			      len, FS_SUPER_LEN, len);
	s->flags = fs_be32_get(v + 12);
	s->block_size = fs_be32_get(v + 16);
	s->inline_max = fs_be32_get(v + 20);
	s->compression = (int32_t)fs_be32_get(v + 24);
	s->created_ns = (int64_t)fs_be64_get(v + 28);
	s->next_ino = fs_be64_get(v + 36);
	s->inodes = fs_be64_get(v + 44);
	s->files = fs_be64_get(v + 52);
	s->dirs = fs_be64_get(v + 60);
	s->symlinks = fs_be64_get(v + 68);
	s->specials = fs_be64_get(v + 76);
	memcpy(s->uuid, v + 84, 16);
	size_t ll = (unsigned char)v[100];
	if (ll > FS_LABEL_MAX || len != FS_SUPER_LEN + ll)
		return fs_err(LSM_E_CORRUPT, "superblock: label length %zu in %zu bytes (byte offset 100)",
			      ll, len);
	memcpy(s->label, v + 101, ll);
	s->label[ll] = 0;
	uint32_t bs = s->block_size;
	if (bs < 512 || bs > (1u << 20) || (bs & (bs - 1)))
		return fs_err(LSM_E_CORRUPT, "superblock: bad block size %u (byte offset 16)", bs);
	if (s->inline_max > bs)
		return fs_err(LSM_E_CORRUPT, "superblock: inline max %u over block size (byte offset 20)",
			      s->inline_max);
	if (s->next_ino < 2)
		return fs_err(LSM_E_CORRUPT, "superblock: next inode %" PRIu64 " (byte offset 36)",
			      s->next_ino);
	return 0;
}
