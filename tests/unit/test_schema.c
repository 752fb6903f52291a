/*
 * test_schema.c — the lsmfs key and value encodings (fs/schema.c): key
 * order, round trips, and every malformed-input rejection.  No engine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_internal.h"
#include "schema.h"

static int keycmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int r = memcmp(a, b, n);
	return r ? r : (al > bl) - (al < bl);
}

static void test_be(void **state)
{
	(void)state;
	char b[8];
	fs_be64_put(b, UINT64_C(0x0102030405060708));
	assert_int_equal(b[0], 1);
	assert_int_equal(b[7], 8);
	assert_true(fs_be64_get(b) == UINT64_C(0x0102030405060708));
	fs_be32_put(b, 0xa1b2c3d4u);
	assert_int_equal((unsigned char)b[0], 0xa1);
	assert_int_equal(fs_be32_get(b), 0xa1b2c3d4u);
}

static void test_ino_keys_sort_numerically(void **state)
{
	(void)state;
	uint64_t v[] = { 0, 1, 255, 256, 65535, 65536, UINT64_C(1) << 40, UINT64_MAX - 1 };
	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
		char a[FS_KEY_INO_LEN], b[FS_KEY_INO_LEN];
		fs_key_ino(a, FS_K_INODE, v[i]);
		fs_key_ino(b, FS_K_INODE, v[i + 1]);
		assert_true(memcmp(a, b, sizeof(a)) < 0);
	}
}

static void test_block_keys(void **state)
{
	(void)state;
	char a[FS_KEY_BLOCK_LEN], b[FS_KEY_BLOCK_LEN], e[FS_KEY_INO_LEN];
	assert_int_equal(fs_key_block(a, 7, 255), FS_KEY_BLOCK_LEN);
	fs_key_block(b, 7, 256);
	assert_true(memcmp(a, b, sizeof(a)) < 0);
	/* every block of 7 is below the prefix end of 7 and above its prefix */
	fs_key_ino_end(e, FS_K_BLOCK, 7);
	fs_key_block(b, 7, UINT64_MAX);
	assert_true(keycmp(b, sizeof(b), e, sizeof(e)) < 0);
	fs_key_block(b, 8, 0);
	assert_true(keycmp(b, sizeof(b), e, sizeof(e)) >= 0);
	fs_key k;
	assert_int_equal(fs_key_parse(a, sizeof(a), &k), 0);
	assert_int_equal(k.type, FS_K_BLOCK);
	assert_true(k.ino == 7 && k.block == 255);
}

static void test_ino_end_of_max(void **state)
{
	(void)state;
	char e[FS_KEY_INO_LEN], k[FS_KEY_BLOCK_LEN];
	fs_key_ino_end(e, FS_K_BLOCK, UINT64_MAX);
	fs_key_block(k, UINT64_MAX, UINT64_MAX);
	assert_true(keycmp(k, sizeof(k), e, sizeof(e)) < 0);
	assert_int_equal(e[0], FS_K_BLOCK + 1);
}

static void test_dentry_keys_group_by_parent(void **state)
{
	(void)state;
	char a[FS_KEY_NAME_MAX], b[FS_KEY_NAME_MAX], e[FS_KEY_INO_LEN];
	size_t al = fs_key_named(a, FS_K_DENTRY, 5, "\xff\xff\xff", 3);
	size_t bl = fs_key_named(b, FS_K_DENTRY, 6, "", 0);
	assert_true(keycmp(a, al, b, bl) < 0);
	fs_key_ino_end(e, FS_K_DENTRY, 5);
	assert_true(keycmp(a, al, e, sizeof(e)) < 0);
	fs_key k;
	assert_int_equal(fs_key_parse(a, al, &k), 0);
	assert_int_equal(k.type, FS_K_DENTRY);
	assert_true(k.ino == 5);
	assert_int_equal(k.name_len, 3);
	assert_memory_equal(k.name, "\xff\xff\xff", 3);
}

static void test_key_parse_errors(void **state)
{
	(void)state;
	fs_key k;
	char buf[FS_KEY_NAME_MAX + 2] = { 0 };
	assert_int_equal(fs_key_parse(buf, 0, &k), LSM_E_CORRUPT);
	buf[0] = 'Q';
	assert_int_equal(fs_key_parse(buf, 9, &k), LSM_E_CORRUPT);
	assert_non_null(strstr(fs_errdetail(), "unknown type"));
	fs_key_ino(buf, FS_K_INODE, 3);
	assert_int_equal(fs_key_parse(buf, 8, &k), LSM_E_CORRUPT);
	assert_int_equal(fs_key_parse(buf, 10, &k), LSM_E_CORRUPT);
	assert_int_equal(fs_key_parse(buf, 9, &k), 0);
	assert_true(k.ino == 3);
	buf[0] = FS_K_DENTRY;
	assert_int_equal(fs_key_parse(buf, 9, &k), LSM_E_CORRUPT);	/* no name */
	memset(buf + 9, 'a', 256);
	assert_int_equal(fs_key_parse(buf, 9 + 256, &k), LSM_E_CORRUPT);
	assert_int_equal(fs_key_parse(buf, 9 + 255, &k), 0);
	buf[0] = FS_K_BLOCK;
	assert_int_equal(fs_key_parse(buf, 16, &k), LSM_E_CORRUPT);
	assert_int_equal(fs_key_parse(FS_SUPER_KEY, FS_SUPER_KEY_LEN, &k), 0);
	assert_int_equal(k.type, FS_K_SUPER);
	fs_key_ino(buf, FS_K_ORPHAN, 99);
	assert_int_equal(fs_key_parse(buf, 9, &k), 0);
	assert_int_equal(k.type, FS_K_ORPHAN);
}

static fs_attr sample_attr(void)
{
	fs_attr a;
	memset(&a, 0, sizeof(a));
	a.mode = S_IFREG | 04755;
	a.uid = 1000;
	a.gid = 4000000000u;
	a.nlink = 3;
	a.flags = FS_IF_INLINE | FS_IF_XATTR;
	a.size = 5;
	a.nblocks = 0;
	a.maxblk = 0;
	a.rdev = UINT64_C(0x1234567890);
	a.parent = 0;
	a.generation = 9;
	a.atime.tv_sec = -5;	/* before the epoch */
	a.atime.tv_nsec = 999999999;
	a.mtime.tv_sec = INT64_C(1) << 40;
	a.mtime.tv_nsec = 1;
	a.ctime.tv_sec = 1700000000;
	a.ctime.tv_nsec = 123456789;
	a.btime.tv_sec = 1;
	return a;
}

static void test_inode_roundtrip(void **state)
{
	(void)state;
	fs_attr a = sample_attr(), b;
	char v[FS_INODE_HDR_LEN + 5];
	fs_inode_encode(v, &a);
	memcpy(v + FS_INODE_HDR_LEN, "hello", 5);
	const char *d;
	size_t dl;
	assert_int_equal(fs_inode_decode(v, sizeof(v), 42, &b, &d, &dl), 0);
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "hello", 5);
	assert_int_equal(b.mode, a.mode);
	assert_int_equal(b.uid, a.uid);
	assert_int_equal(b.gid, a.gid);
	assert_int_equal(b.nlink, a.nlink);
	assert_int_equal(b.flags, a.flags);
	assert_true(b.size == a.size && b.rdev == a.rdev && b.generation == 9);
	assert_true(b.atime.tv_sec == -5 && b.atime.tv_nsec == 999999999);
	assert_true(b.mtime.tv_sec == (INT64_C(1) << 40) && b.mtime.tv_nsec == 1);
	assert_true(b.ctime.tv_sec == 1700000000 && b.ctime.tv_nsec == 123456789);
	assert_true(b.btime.tv_sec == 1);

	/* a directory with blocks fields and no inline data */
	a.mode = S_IFDIR | 0700;
	a.flags = 0;
	a.size = 0;
	a.parent = 77;
	a.nblocks = 3;
	a.maxblk = UINT64_C(1) << 50;
	fs_inode_encode(v, &a);
	assert_int_equal(fs_inode_decode(v, FS_INODE_HDR_LEN, 43, &b, NULL, NULL), 0);
	assert_true(b.parent == 77 && b.nblocks == 3 && b.maxblk == a.maxblk);
}

static void test_inode_corrupt(void **state)
{
	(void)state;
	fs_attr a = sample_attr(), b;
	char v[FS_INODE_HDR_LEN + 8];
	fs_inode_encode(v, &a);
	memcpy(v + FS_INODE_HDR_LEN, "hello", 5);
	/* short */
	assert_int_equal(fs_inode_decode(v, FS_INODE_HDR_LEN - 1, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	assert_non_null(strstr(fs_errdetail(), "inode 7"));
	assert_non_null(strstr(fs_errdetail(), "byte offset"));
	/* inline length mismatch */
	assert_int_equal(fs_inode_decode(v, FS_INODE_HDR_LEN + 4, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	assert_int_equal(fs_inode_decode(v, FS_INODE_HDR_LEN + 6, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	/* record version */
	char w[sizeof(v)];
	memcpy(w, v, sizeof(v));
	w[0] = 2;
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN + 5, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	/* unknown flags */
	memcpy(w, v, sizeof(v));
	w[3] |= 0x40;
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN + 5, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	/* bad type */
	memcpy(w, v, sizeof(v));
	fs_be32_put(w + 4, 0170000 | 0644);
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN + 5, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	/* nanoseconds out of range (mtime ns at 88) */
	memcpy(w, v, sizeof(v));
	fs_be32_put(w + 88, 1000000000u);
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN + 5, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	assert_non_null(strstr(fs_errdetail(), "offset 88"));
	/* trailing bytes on a non-inline inode */
	a.flags = 0;
	a.size = 1 << 20;
	fs_inode_encode(w, &a);
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN + 1, 7, &b, NULL, NULL), LSM_E_CORRUPT);
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN, 7, &b, NULL, NULL), 0);
	/* size beyond the maximum file size */
	fs_be64_put(w + 20, UINT64_MAX);
	assert_int_equal(fs_inode_decode(w, FS_INODE_HDR_LEN, 7, &b, NULL, NULL), LSM_E_CORRUPT);
}

static void test_dentry_values(void **state)
{
	(void)state;
	char v[FS_DENTRY_LEN + 1];
	uint64_t ino;
	uint32_t t;
	fs_dentry_encode(v, UINT64_C(1) << 60, S_IFLNK | 0777);
	assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN, &ino, &t), 0);
	assert_true(ino == (UINT64_C(1) << 60));
	assert_int_equal(t, S_IFLNK);
	assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN - 1, &ino, &t), LSM_E_CORRUPT);
	assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN + 1, &ino, &t), LSM_E_CORRUPT);
	fs_dentry_encode(v, 0, S_IFREG);
	assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN, &ino, &t), LSM_E_CORRUPT);
	fs_dentry_encode(v, 5, S_IFREG);
	v[8] = 3;	/* not a file type */
	assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN, &ino, &t), LSM_E_CORRUPT);
	uint32_t types[] = { S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK };
	for (size_t i = 0; i < 7; i++) {
		fs_dentry_encode(v, 9, types[i] | 0644);
		assert_int_equal(fs_dentry_decode(v, FS_DENTRY_LEN, &ino, &t), 0);
		assert_int_equal(t, types[i]);
	}
}

static fs_super sample_super(void)
{
	fs_super s;
	memset(&s, 0, sizeof(s));
	s.version = FS_FORMAT_VERSION;
	s.flags = FS_SB_CLEAN;
	s.block_size = 4096;
	s.inline_max = 2048;
	s.compression = 3;
	s.created_ns = INT64_C(1700000000123456789);
	s.next_ino = 8194;
	s.inodes = 10;
	s.files = 5;
	s.dirs = 3;
	s.symlinks = 1;
	s.specials = 1;
	for (int i = 0; i < 16; i++)
		s.uuid[i] = (uint8_t)(i * 17);
	strcpy(s.label, "scratch");
	return s;
}

static void test_super_roundtrip(void **state)
{
	(void)state;
	fs_super s = sample_super(), t;
	char v[FS_SUPER_LEN + 64];
	size_t n = fs_super_encode(v, &s);
	assert_int_equal(n, FS_SUPER_LEN + 7);
	assert_int_equal(fs_super_decode(v, n, &t), 0);
	assert_memory_equal(&s, &t, sizeof(s));
	/* a label of the maximum length */
	memset(s.label, 'x', FS_LABEL_MAX);
	s.label[FS_LABEL_MAX] = 0;
	n = fs_super_encode(v, &s);
	assert_int_equal(fs_super_decode(v, n, &t), 0);
	assert_string_equal(t.label, s.label);
}

static void test_super_newer_version(void **state)
{
	(void)state;
	fs_super s = sample_super(), t;
	char v[FS_SUPER_LEN + 64];
	s.version = FS_FORMAT_VERSION + 1;
	size_t n = fs_super_encode(v, &s);
	assert_int_equal(fs_super_decode(v, n, &t), LSM_E_VERSION);
	assert_non_null(strstr(fs_errdetail(), "newer"));
	/* even if the rest is in a layout we do not know */
	assert_int_equal(fs_super_decode(v, 12, &t), LSM_E_VERSION);
}

static void test_super_corrupt(void **state)
{
	(void)state;
	fs_super s = sample_super(), t;
	char v[FS_SUPER_LEN + 64], w[FS_SUPER_LEN + 64];
	size_t n = fs_super_encode(v, &s);
	memcpy(w, v, n);
	w[0] = 'X';
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
	assert_int_equal(fs_super_decode(v, n - 1, &t), LSM_E_CORRUPT);	/* label cut */
	assert_int_equal(fs_super_decode(v, 50, &t), LSM_E_CORRUPT);
	memcpy(w, v, n);
	fs_be32_put(w + 16, 3000);	/* block size not a power of two */
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
	assert_non_null(strstr(fs_errdetail(), "offset 16"));
	memcpy(w, v, n);
	fs_be32_put(w + 20, 8192);	/* inline over block size */
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
	memcpy(w, v, n);
	fs_be32_put(w + 8, 0);
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
	memcpy(w, v, n);
	w[100] = 64;	/* label too long */
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
	memcpy(w, v, n);
	fs_be64_put(w + 36, 1);	/* next inode at or below the root */
	assert_int_equal(fs_super_decode(w, n, &t), LSM_E_CORRUPT);
}

static void test_name_check(void **state)
{
	(void)state;
	size_t len;
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[256] = 0;
	assert_int_equal(fs_name_check(longname, &len), -ENAMETOOLONG);
	longname[255] = 0;
	assert_int_equal(fs_name_check(longname, &len), 0);
	assert_int_equal(len, 255);
	assert_int_equal(fs_name_check("", &len), -ENOENT);
	assert_int_equal(fs_name_check("a/b", &len), -EINVAL);
	assert_true(fs_is_dot(".") && fs_is_dot("..") && !fs_is_dot("...") && !fs_is_dot(".a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be),
		cmocka_unit_test(test_ino_keys_sort_numerically),
		cmocka_unit_test(test_block_keys),
		cmocka_unit_test(test_ino_end_of_max),
		cmocka_unit_test(test_dentry_keys_group_by_parent),
		cmocka_unit_test(test_key_parse_errors),
		cmocka_unit_test(test_inode_roundtrip),
		cmocka_unit_test(test_inode_corrupt),
		cmocka_unit_test(test_dentry_values),
		cmocka_unit_test(test_super_roundtrip),
		cmocka_unit_test(test_super_newer_version),
		cmocka_unit_test(test_super_corrupt),
		cmocka_unit_test(test_name_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
