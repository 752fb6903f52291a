/*
 * fuzz_schema.c — libFuzzer target for the lsmfs record decoders of
 * fs/schema.h: fs_key_parse, fs_inode_decode, fs_dentry_decode and
 * fs_super_decode.  These read keys and values straight out of the engine,
 * so any byte string can reach them after a bit flip on disk.
 *
 * Input: byte 0 picks the decoder (its value mod 5; 4 = every decoder on the
 * same bytes), the rest is the key or value.  Besides "no crash, no
 * sanitizer report", every accepted record must round-trip: encoding what
 * was decoded gives back the input bytes (except the inode's reserved byte
 * 1, and keys of type 'S' whose tail the parser ignores), so a decoder can
 * never accept bytes it would then write differently.  A mismatch aborts:
 * that is a finding like a crash.
 *
 * The seed corpus (corpus/schema/) holds valid encodings of every record
 * with the selector byte in front.  Threads: libFuzzer's one thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const char *what)
{
	fprintf(stderr, "fuzz_schema: %s does not round-trip\n", what);
	abort();
}

static void fuzz_key(const char *p, size_t n)
{
	fs_key k;
	char out[FS_KEY_NAME_MAX + 16];
	size_t m;
	if (fs_key_parse(p, n, &k) < 0)
		return;
	switch (k.type) {
	case FS_K_INODE:
	case FS_K_SYMLINK:
	case FS_K_ORPHAN:
		m = fs_key_ino(out, k.type, k.ino);
		break;
	case FS_K_BLOCK:
		m = fs_key_block(out, k.ino, k.block);
		break;
	case FS_K_DENTRY:
	case FS_K_XATTR:
		if (k.name != p + 9 || k.name_len != n - 9 || k.name_len == 0 ||
		    k.name_len > FS_KEY_NAME_MAX - 9)
			mismatch("named key (name bounds)");
		m = fs_key_named(out, k.type, k.ino, k.name, k.name_len);
		break;
	default:
		return;	/* 'S': only its first byte means anything */
	}
	if (m != n || memcmp(out, p, n) != 0)
		mismatch("key");
}

static void fuzz_inode(const char *p, size_t n)
{
	fs_attr a;
	const char *idata = NULL;
	size_t ilen = 0;
	char out[FS_INODE_HDR_LEN];
	if (fs_inode_decode(p, n, 42, &a, &idata, &ilen) < 0)
		return;
	if (idata != p + FS_INODE_HDR_LEN || ilen != n - FS_INODE_HDR_LEN)
		mismatch("inode (inline data bounds)");
	if ((a.flags & FS_IF_INLINE) ? ilen != a.size : ilen != 0)
		mismatch("inode (inline length)");
	fs_inode_encode(out, &a);
	if (out[0] != p[0] || memcmp(out + 2, p + 2, FS_INODE_HDR_LEN - 2) != 0)
		mismatch("inode");
}

static void fuzz_dentry(const char *p, size_t n)
{
	uint64_t ino;
	uint32_t type;
	char out[FS_DENTRY_LEN];
	if (fs_dentry_decode(p, n, &ino, &type) < 0)
		return;
	if (ino == 0 || (type & ~(uint32_t)S_IFMT) != 0)
		mismatch("dentry (ino or type)");
	fs_dentry_encode(out, ino, type);
	if (n != FS_DENTRY_LEN || memcmp(out, p, n) != 0)
		mismatch("dentry");
}

static void fuzz_super(const char *p, size_t n)
{
	fs_super s;
	char out[FS_SUPER_LEN + 64];
	if (fs_super_decode(p, n, &s) < 0)
		return;
	size_t ll = strnlen(s.label, sizeof(s.label));
	if (ll >= sizeof(s.label))
		mismatch("superblock (label not terminated)");
	size_t m = fs_super_encode(out, &s);
	/* A label with a NUL inside decodes to its prefix (a label is a C
	 * string): then only the fixed part must match. */
	bool nul = memchr(p + FS_SUPER_LEN, 0, n - FS_SUPER_LEN) != NULL;
	if (nul ? memcmp(out, p, FS_SUPER_LEN - 1) != 0
		: m != n || memcmp(out, p, n) != 0)
		mismatch("superblock");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0] % 5;
	size_t n = size - 1;
	/* A private copy, exactly n bytes long, so ASan sees any overread. */
	char *p = malloc(n ? n : 1);
	if (!p)
		return 0;
	memcpy(p, data + 1, n);
	if (sel == 0 || sel == 4)
		fuzz_key(p, n);
	if (sel == 1 || sel == 4)
		fuzz_inode(p, n);
	if (sel == 2 || sel == 4)
		fuzz_dentry(p, n);
	if (sel == 3 || sel == 4)
		fuzz_super(p, n);
	free(p);
	return 0;
}
