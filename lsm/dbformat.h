/*
 * dbformat.h — internal keys: a user key followed by an 8-byte trailer
 * (sequence << 8 | type), little-endian.  Internal keys order by user key
 * ascending (memcmp), then by trailer descending, so the newest version of
 * a key comes first.
 *
 * The type values reach disk: FROZEN.
 */
#ifndef LSM_DBFORMAT_H
#define LSM_DBFORMAT_H

#include "util.h"

enum lsm_vtype {
	LSM_T_DEL = 0,		/* point tombstone */
	LSM_T_VAL = 1,		/* value */
	LSM_T_RANGEDEL = 2,	/* range tombstone: key = begin, value = end */
	LSM_T_SEEK = 2,		/* highest type: sorts first for a given seq */
};

#define LSM_SEQ_MAX ((UINT64_C(1) << 56) - 1)

static inline uint64_t lsm_pack_trailer(uint64_t seq, int type)
{
	return seq << 8 | (uint64_t)type;
}

/* Append the internal key (ukey, seq, type) to b. */
int lsm_ikey_append(lsm_buf *b, lsm_slice ukey, uint64_t seq, int type);

/* Parse; false if shorter than the trailer or the type is unknown. */
bool lsm_ikey_parse(lsm_slice ikey, lsm_slice *ukey, uint64_t *seq, int *type);

static inline lsm_slice lsm_ikey_user(lsm_slice ikey)
{
	return lsm_slice_of(ikey.data, ikey.size >= 8 ? ikey.size - 8 : 0);
}
static inline uint64_t lsm_ikey_trailer(lsm_slice ikey)
{
	return ikey.size >= 8 ? lsm_dec64(ikey.data + ikey.size - 8) : 0;
}

/* The internal-key order; keys shorter than 8 bytes sort as raw bytes
 * (corrupt input never crashes the comparator). */
int lsm_ikey_cmp(lsm_slice a, lsm_slice b);

/* A range tombstone: deletes user keys in [begin, end) written before seq. */
typedef struct lsm_rangedel {
	lsm_slice begin;
	lsm_slice end;
	uint64_t seq;
} lsm_rangedel;

#endif
