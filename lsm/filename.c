/*
 * filename.c — the one owner of the names of files in a store directory:
 *   NNNNNN.log        write-ahead log
 *   NNNNNN.sst        sorted table
 *   MANIFEST-NNNNNN   version edits
 *   CURRENT           name of the live manifest (installed atomically)
 *   LOCK              exclusive-open lock, holds the holder's description
 *   NNNNNN.tmp        a file being written (never live)
 *   LOG               informational log of the engine
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db_impl.h"

char *lsm_fname(const char *dir, enum lsm_ftype t, uint64_t number)
{
	char *s = NULL;
	int r = -1;
	unsigned long long n = (unsigned long long)number;
	switch (t) {
	case LSM_F_LOG: r = asprintf(&s, "%s/%06llu.log", dir, n); break;
	case LSM_F_TABLE: r = asprintf(&s, "%s/%06llu.sst", dir, n); break;
	case LSM_F_MANIFEST: r = asprintf(&s, "%s/MANIFEST-%06llu", dir, n); break;
	case LSM_F_CURRENT: r = asprintf(&s, "%s/CURRENT", dir); break;
	case LSM_F_LOCK: r = asprintf(&s, "%s/LOCK", dir); break;
	case LSM_F_TEMP: r = asprintf(&s, "%s/%06llu.tmp", dir, n); break;
	case LSM_F_INFO: r = asprintf(&s, "%s/LOG", dir); break;
	default: break;
	}
	return r < 0 ? NULL : s;
}

static bool parse_num(const char *p, const char *suffix, uint64_t *out)
{
	uint64_t v = 0;
	const char *q = p;
	while (*q >= '0' && *q <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*q - '0');
		q++;
	}
	if (q == p || strcmp(q, suffix) != 0)
		return false;
	*out = v;
	return true;
}

enum lsm_ftype lsm_fname_parse(const char *name, uint64_t *number)
{
	*number = 0;
	if (strcmp(name, "CURRENT") == 0)
		return LSM_F_CURRENT;
	if (strcmp(name, "LOCK") == 0)
		return LSM_F_LOCK;
	if (strcmp(name, "LOG") == 0 || strcmp(name, "LOG.old") == 0)
		return LSM_F_INFO;
	if (strncmp(name, "MANIFEST-", 9) == 0)
		return parse_num(name + 9, "", number) ? LSM_F_MANIFEST : LSM_F_UNKNOWN;
	if (parse_num(name, ".log", number))
		return LSM_F_LOG;
	if (parse_num(name, ".sst", number))
		return LSM_F_TABLE;
	if (parse_num(name, ".tmp", number))
		return LSM_F_TEMP;
	return LSM_F_UNKNOWN;
}
