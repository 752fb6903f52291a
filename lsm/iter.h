/*
 * iter.h — the engine's internal iterator interface.
 *
 * Every source of sorted entries (a block, a table, a memtable, a level, a
 * merge of those) is an lsm_it: a struct whose first member points at an
 * ops table.  Keys are internal keys (dbformat.h) unless a module says
 * otherwise.  key() and value() stay valid until the iterator moves.
 * status() reports the first error met (an iterator that hits corruption
 * becomes invalid and keeps the error).
 *
 * Threads: an iterator belongs to one thread at a time.
 */
#ifndef LSM_ITER_H
#define LSM_ITER_H

#include "util.h"

typedef struct lsm_it lsm_it;

/* Orders keys; returns <0, 0, >0. */
typedef int (*lsm_cmp_fn)(lsm_slice a, lsm_slice b);

struct lsm_it_ops {
	bool (*valid)(lsm_it *it);
	void (*seek_first)(lsm_it *it);
	void (*seek_last)(lsm_it *it);
	/* Position at the first entry >= target. */
	void (*seek)(lsm_it *it, lsm_slice target);
	void (*next)(lsm_it *it);	/* REQUIRES: valid */
	void (*prev)(lsm_it *it);	/* REQUIRES: valid */
	lsm_slice (*key)(lsm_it *it);	/* REQUIRES: valid */
	lsm_slice (*value)(lsm_it *it);	/* REQUIRES: valid */
	int (*status)(lsm_it *it);
	void (*destroy)(lsm_it *it);
};

struct lsm_it {
	const struct lsm_it_ops *ops;
};

static inline bool lsm_it_valid(lsm_it *it) { return it->ops->valid(it); }
static inline void lsm_it_seek_first(lsm_it *it) { it->ops->seek_first(it); }
static inline void lsm_it_seek_last(lsm_it *it) { it->ops->seek_last(it); }
static inline void lsm_it_seek(lsm_it *it, lsm_slice t) { it->ops->seek(it, t); }
static inline void lsm_it_next(lsm_it *it) { it->ops->next(it); }
static inline void lsm_it_prev(lsm_it *it) { it->ops->prev(it); }
static inline lsm_slice lsm_it_key(lsm_it *it) { return it->ops->key(it); }
static inline lsm_slice lsm_it_value(lsm_it *it) { return it->ops->value(it); }
static inline int lsm_it_status(lsm_it *it) { return it->ops->status(it); }
static inline void lsm_it_free(lsm_it *it) { if (it) it->ops->destroy(it); }

/* An iterator with no entries, carrying status err (0 for plain empty). */
lsm_it *lsm_it_empty(int err);

/* Merge n children (taking ownership) into one sorted stream under cmp.
 * Equal keys from different children come out lower child index first.
 * Supports both directions. */
lsm_it *lsm_it_merge(lsm_it **children, size_t n, lsm_cmp_fn cmp);

#endif
