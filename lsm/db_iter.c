/*
 * db_iter.c — the public iterator: a merge of every memtable and table,
 * reduced to the newest version of each user key visible at the
 * iterator's sequence, with point and range tombstones applied and the
 * read options' bounds honoured, in both directions.
 *
 * Range tombstones of every source that may overlap the bounds are
 * gathered once at creation and fragmented (rangedel.h), so each key
 * costs one O(log n) cover query.
 *
 * Direction handling follows the classic scheme: moving forward, the
 * inner iterator sits on the current entry; moving backward, it sits just
 * before all entries of the current user key, whose value is saved.
 * Threads: one thread at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include "db_impl.h"

struct lsm_iter {
	lsm_db *db;
	lsm_it *it;		/* merged internal iterator */
	lsm_frag *frag;		/* NULL: no range tombstones */
	lsm_version *ver;
	lsm_memtable **mems;
	size_t nmems;
	uint64_t seq;
	bool valid;
	bool reverse;
	int err;
	lsm_buf saved_key;	/* reverse: current user key; also scratch */
	lsm_buf saved_val;
	lsm_buf lower, upper;
	bool has_lower, has_upper;
	lsm_buf seekbuf;
};

static bool covered(const lsm_iter *di, lsm_slice ukey, uint64_t seq)
{
	return di->frag && seq < lsm_frag_cover(di->frag, ukey, di->seq);
}

static bool past_upper(const lsm_iter *di, lsm_slice ukey)
{
	return di->has_upper && lsm_slice_cmp(ukey, lsm_buf_slice(&di->upper)) >= 0;
}

static bool before_lower(const lsm_iter *di, lsm_slice ukey)
{
	return di->has_lower && lsm_slice_cmp(ukey, lsm_buf_slice(&di->lower)) < 0;
}

static void check_status(lsm_iter *di)
{
	int st = lsm_it_status(di->it);
	if (st < 0 && !di->err)
		di->err = st;
}

/* Forward: stop at the newest visible live version of the next user key;
 * when skipping, user keys <= skip are passed over. */
static void find_next(lsm_iter *di, bool skipping)
{
	lsm_slice uk;
	uint64_t seq;
	int type;
	di->valid = false;
	while (lsm_it_valid(di->it)) {
		if (!lsm_ikey_parse(lsm_it_key(di->it), &uk, &seq, &type)) {
			di->err = lsm_err(LSM_E_CORRUPT, "corrupt internal key in iteration");
			return;
		}
		if (past_upper(di, uk))
			return;
		if (seq <= di->seq) {
			if (skipping && lsm_slice_cmp(uk, lsm_buf_slice(&di->saved_key)) <= 0) {
				/* an older version of a key already decided */
			} else if (type == LSM_T_DEL || covered(di, uk, seq)) {
				lsm_buf_set(&di->saved_key, uk.data, uk.size);
				skipping = true;
			} else {
				di->valid = true;
				return;
			}
		}
		lsm_it_next(di->it);
	}
	check_status(di);
}

/* Backward: walk versions oldest to newest; the last visible one decides
 * the key; stop when the previous user key begins. */
static void find_prev(lsm_iter *di)
{
	int value_type = LSM_T_DEL;
	lsm_slice uk;
	uint64_t seq;
	int type;
	lsm_buf_clear(&di->saved_key);
	lsm_buf_clear(&di->saved_val);
	while (lsm_it_valid(di->it)) {
		if (!lsm_ikey_parse(lsm_it_key(di->it), &uk, &seq, &type)) {
			di->err = lsm_err(LSM_E_CORRUPT, "corrupt internal key in iteration");
			break;
		}
		if (seq <= di->seq) {
			if (value_type != LSM_T_DEL &&
			    lsm_slice_cmp(uk, lsm_buf_slice(&di->saved_key)) < 0)
				break;
			if (before_lower(di, uk)) {
				value_type = LSM_T_DEL;
				break;
			}
			value_type = (type == LSM_T_DEL || covered(di, uk, seq)) ? LSM_T_DEL : type;
			if (value_type == LSM_T_DEL) {
				lsm_buf_clear(&di->saved_key);
				lsm_buf_clear(&di->saved_val);
			} else {
				lsm_slice v = lsm_it_value(di->it);
				lsm_buf_set(&di->saved_key, uk.data, uk.size);
				lsm_buf_set(&di->saved_val, v.data, v.size);
			}
		}
		lsm_it_prev(di->it);
	}
	check_status(di);
	if (value_type == LSM_T_DEL) {
		di->valid = false;
		lsm_buf_clear(&di->saved_key);
		lsm_buf_clear(&di->saved_val);
		di->reverse = false;
	} else {
		di->valid = true;
	}
}

static lsm_slice seek_key(lsm_iter *di, lsm_slice uk, uint64_t seq, int type)
{
	lsm_buf_clear(&di->seekbuf);
	lsm_ikey_append(&di->seekbuf, uk, seq, type);
	return lsm_buf_slice(&di->seekbuf);
}

void lsm_iter_seek(lsm_iter *di, const void *key, size_t klen)
{
	lsm_slice k = lsm_slice_of(key, klen);
	if (before_lower(di, k))
		k = lsm_buf_slice(&di->lower);
	di->reverse = false;
	lsm_buf_clear(&di->saved_val);
	lsm_it_seek(di->it, seek_key(di, k, di->seq, LSM_T_SEEK));
	find_next(di, false);
}

void lsm_iter_seek_first(lsm_iter *di)
{
	di->reverse = false;
	lsm_buf_clear(&di->saved_val);
	if (di->has_lower)
		lsm_it_seek(di->it, seek_key(di, lsm_buf_slice(&di->lower), LSM_SEQ_MAX, LSM_T_SEEK));
	else
		lsm_it_seek_first(di->it);
	find_next(di, false);
}

void lsm_iter_seek_last(lsm_iter *di)
{
	di->reverse = true;
	if (di->has_upper) {
		lsm_it_seek(di->it, seek_key(di, lsm_buf_slice(&di->upper), LSM_SEQ_MAX, LSM_T_SEEK));
		if (lsm_it_valid(di->it))
			lsm_it_prev(di->it);
		else
			lsm_it_seek_last(di->it);
	} else {
		lsm_it_seek_last(di->it);
	}
	find_prev(di);
}

void lsm_iter_seek_for_prev(lsm_iter *di, const void *key, size_t klen)
{
	lsm_slice k = lsm_slice_of(key, klen);
	if (past_upper(di, k)) {
		lsm_iter_seek_last(di);
		return;
	}
	di->reverse = true;
	/* (k, 0, DEL) sorts after every version of k. */
	lsm_it_seek(di->it, seek_key(di, k, 0, LSM_T_DEL));
	if (lsm_it_valid(di->it))
		lsm_it_prev(di->it);
	else
		lsm_it_seek_last(di->it);
	find_prev(di);
}

void lsm_iter_next(lsm_iter *di)
{
	if (!di->valid)
		return;
	if (di->reverse) {
		/* The inner iterator is before the saved key's entries. */
		di->reverse = false;
		if (lsm_it_valid(di->it))
			lsm_it_next(di->it);
		else
			lsm_it_seek_first(di->it);
		if (!lsm_it_valid(di->it)) {
			di->valid = false;
			lsm_buf_clear(&di->saved_key);
			return;
		}
	} else {
		lsm_slice uk = lsm_ikey_user(lsm_it_key(di->it));
		lsm_buf_set(&di->saved_key, uk.data, uk.size);
		lsm_it_next(di->it);
	}
	find_next(di, true);
}

void lsm_iter_prev(lsm_iter *di)
{
	if (!di->valid)
		return;
	if (!di->reverse) {
		lsm_slice uk = lsm_ikey_user(lsm_it_key(di->it));
		lsm_buf_set(&di->saved_key, uk.data, uk.size);
		for (;;) {
			lsm_it_prev(di->it);
			if (!lsm_it_valid(di->it)) {
				check_status(di);
				di->valid = false;
				lsm_buf_clear(&di->saved_key);
				lsm_buf_clear(&di->saved_val);
				return;
			}
			if (lsm_slice_cmp(lsm_ikey_user(lsm_it_key(di->it)),
					  lsm_buf_slice(&di->saved_key)) < 0)
				break;
		}
		di->reverse = true;
	}
	find_prev(di);
}

bool lsm_iter_valid(const lsm_iter *di)
{
	return di->valid && !di->err;
}

const void *lsm_iter_key(const lsm_iter *di, size_t *klen)
{
	lsm_slice k = di->reverse ? lsm_buf_slice(&di->saved_key)
				  : lsm_ikey_user(lsm_it_key(di->it));
	*klen = k.size;
	return k.size ? k.data : "";	/* never NULL, even when empty */
}

const void *lsm_iter_value(const lsm_iter *di, size_t *vlen)
{
	lsm_slice v = di->reverse ? lsm_buf_slice(&di->saved_val) : lsm_it_value(di->it);
	*vlen = v.size;
	return v.size ? v.data : "";	/* never NULL, even when empty */
}

int lsm_iter_status(const lsm_iter *di)
{
	if (di->err)
		return di->err;
	return lsm_it_status(di->it);
}

void lsm_iter_free(lsm_iter *di)
{
	if (!di)
		return;
	lsm_it_free(di->it);
	lsm_frag_free(di->frag);
	for (size_t i = 0; i < di->nmems; i++)
		lsm_mem_unref(di->mems[i]);
	free(di->mems);
	if (di->ver)
		lsm_version_unref(di->ver);
	lsm_buf_free(&di->saved_key);
	lsm_buf_free(&di->saved_val);
	lsm_buf_free(&di->lower);
	lsm_buf_free(&di->upper);
	lsm_buf_free(&di->seekbuf);
	free(di);
}

/* Gather the range tombstones of a source that overlap the iterator's
 * bounds into a growing array (a bounded scan, such as a readdir, then
 * pays nothing for tombstones elsewhere in the key space). */
static int add_rdels(const lsm_iter *di, lsm_rangedel **all, size_t *n, size_t *cap,
		     const lsm_rangedel *rd, size_t nrd)
{
	for (size_t i = 0; i < nrd; i++) {
		if (di->has_upper && lsm_slice_cmp(rd[i].begin, lsm_buf_slice(&di->upper)) >= 0)
			continue;
		if (di->has_lower && lsm_slice_cmp(rd[i].end, lsm_buf_slice(&di->lower)) <= 0)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			lsm_rangedel *p = realloc(*all, c * sizeof *p);
			if (!p)
				return -ENOMEM;
			*all = p;
			*cap = c;
		}
		(*all)[(*n)++] = rd[i];
	}
	return 0;
}

int lsm_iter_new(lsm_db *db, const lsm_read_options *ro, lsm_iter **out)
{
	lsm_iter *di = calloc(1, sizeof *di);
	lsm_it **children = NULL;
	size_t nch = 0, cap;
	lsm_rangedel *rd = NULL;
	size_t nrd = 0, caprd = 0;
	lsm_cache_handle **handles = NULL;
	size_t nh = 0;
	bool fill = ro ? ro->fill_cache : true;
	int rc = 0;

	*out = NULL;
	if (!di)
		return -ENOMEM;
	di->db = db;
	if (ro && ro->lower) {
		di->has_lower = true;
		LSM_ERR(lsm_buf_set(&di->lower, ro->lower, ro->lower_len));
	}
	if (ro && ro->upper) {
		di->has_upper = true;
		LSM_ERR(lsm_buf_set(&di->upper, ro->upper, ro->upper_len));
	}
	lsm_slice lo = lsm_buf_slice(&di->lower), hi = lsm_buf_slice(&di->upper);

	pthread_mutex_lock(&db->sv_mu);
	di->seq = ro && ro->snapshot ? ro->snapshot->seq
				     : atomic_load_explicit(&db->last_seq, memory_order_acquire);
	di->mems = malloc((db->nimm + 1) * sizeof *di->mems);
	if (!di->mems) {
		pthread_mutex_unlock(&db->sv_mu);
		rc = -ENOMEM;
		goto err;
	}
	di->mems[di->nmems++] = db->mem.mem;
	for (size_t i = db->nimm; i-- > 0;)
		di->mems[di->nmems++] = db->imm[i].mem;
	for (size_t i = 0; i < di->nmems; i++)
		lsm_mem_ref(di->mems[i]);
	di->ver = db->current;
	lsm_version_ref(di->ver);
	pthread_mutex_unlock(&db->sv_mu);

	lsm_version *v = di->ver;
	cap = di->nmems + v->nfiles[0] + LSM_MAX_LEVELS;
	children = calloc(cap, sizeof *children);
	if (!children) {
		rc = -ENOMEM;
		goto err;
	}
	for (size_t i = 0; i < di->nmems; i++) {
		lsm_rangedel *mrd = NULL;
		size_t n = lsm_mem_rangedels(di->mems[i], &mrd);
		rc = n == SIZE_MAX ? -ENOMEM : add_rdels(di, &rd, &nrd, &caprd, mrd, n);
		free(mrd);
		if (rc < 0)
			goto err;
		if (!(children[nch++] = lsm_mem_iter(di->mems[i]))) {
			rc = -ENOMEM;
			goto err;
		}
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		lsm_file_meta **files = NULL;
		size_t n = lsm_version_overlapping(v, l, di->has_lower ? &lo : NULL,
						   di->has_upper ? &hi : NULL, &files);
		if (!files) {
			rc = -ENOMEM;
			goto err;
		}
		for (size_t i = 0; i < n; i++) {
			if (!files[i]->range_deletions)
				continue;
			lsm_cache_handle *h;
			rc = lsm_tcache_get(db, files[i], &h);
			if (rc < 0) {
				free(files);
				goto err;
			}
			const lsm_rangedel *trd;
			size_t tn = lsm_table_rangedels(lsm_tcache_entry_of(h)->table, &trd);
			rc = add_rdels(di, &rd, &nrd, &caprd, trd, tn);
			/* rd's slices point into the table: keep it open until
			 * the fragmenter has copied them. */
			if (rc == 0) {
				lsm_cache_handle **hp = realloc(handles, (nh + 1) * sizeof *hp);
				if (!hp) {
					rc = -ENOMEM;
				} else {
					handles = hp;
					handles[nh++] = h;
				}
			}
			if (rc < 0) {
				lsm_cache_release(db->table_cache, h);
				free(files);
				goto err;
			}
		}
		if (l == 0) {
			for (size_t i = 0; i < n; i++)
				if (!(children[nch++] = lsm_tcache_iter(db, files[i], fill))) {
					free(files);
					rc = -ENOMEM;
					goto err;
				}
		} else if (n > 0) {
			if (!(children[nch++] = lsm_level_iter(db, files, n, fill))) {
				free(files);
				rc = -ENOMEM;
				goto err;
			}
		}
		free(files);
	}
	if (nrd) {
		di->frag = lsm_frag_new(rd, nrd);
		if (!di->frag) {
			rc = -ENOMEM;
			goto err;
		}
	}
	/* the merge takes the children, not the array */
	di->it = lsm_it_merge(children, nch, lsm_ikey_cmp);
	free(children);
	children = NULL;
	if (!di->it) {
		rc = -ENOMEM;
		goto err;
	}
	rc = 0;
err:
	for (size_t i = 0; i < nh; i++)
		lsm_cache_release(db->table_cache, handles[i]);
	free(handles);
	free(rd);
	if (children) {
		for (size_t i = 0; i < nch; i++)
			lsm_it_free(children[i]);
		free(children);
	}
	if (rc < 0) {
		lsm_iter_free(di);
		return rc;
	}
	*out = di;
	return 0;
}
