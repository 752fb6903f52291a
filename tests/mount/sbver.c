/*
 * sbver.c — mount-test helper: rewrite the format version in a closed
 * store's superblock, so the daemon's refusal of a store written by a newer
 * lsmfs can be tested without such an lsmfs.
 *
 *   sbver STORE bump >SAVED     version = FS_FORMAT_VERSION + 1; the old
 *                               superblock value is printed (hex)
 *   sbver STORE restore <SAVED  put the saved value back
 *
 * Uses the core's schema (fs/schema.h) to decode and encode the superblock
 * and the engine's public API to write it; exit 0 on success.
 * Threads: single-threaded program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsm.h"
#include "schema.h"

int main(int argc, char **argv)
{
	lsm_options o;
	lsm_db *db = NULL;
	void *val = NULL;
	size_t vlen = 0;
	fs_super sb;
	char out[FS_SUPER_LEN + 64];
	lsm_write_options wo = { .sync = true };
	size_t n = 0;
	int rc;

	if (argc != 3 || (strcmp(argv[2], "bump") && strcmp(argv[2], "restore"))) {
		fprintf(stderr, "usage: sbver STORE bump|restore\n");
		return 2;
	}
	lsm_options_init(&o);
	rc = lsm_open(argv[1], &o, &db);
	if (rc < 0)
		goto err;
	if (!strcmp(argv[2], "restore")) {
		unsigned x;
		while (n < sizeof out && scanf("%2x", &x) == 1)
			out[n++] = (char)x;
	} else {
		rc = lsm_get(db, NULL, FS_SUPER_KEY, strlen(FS_SUPER_KEY), &val, &vlen);
		if (rc < 0)
			goto err;
		rc = fs_super_decode(val, vlen, &sb);
		if (rc < 0)
			goto err;
		for (size_t i = 0; i < vlen; i++)
			printf("%02x", (unsigned char)((char *)val)[i]);
		printf("\n");
		sb.version = FS_FORMAT_VERSION + 1;
		n = fs_super_encode(out, &sb);
	}
	rc = lsm_put(db, &wo, FS_SUPER_KEY, strlen(FS_SUPER_KEY), out, n);
	if (rc < 0)
		goto err;
	free(val);
	return lsm_close(db) < 0;
err:
	fprintf(stderr, "sbver: %s: %s\n", lsm_strerror(rc), lsm_errdetail());
	free(val);
	if (db)
		lsm_close(db);
	return 1;
}
