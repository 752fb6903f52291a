/*
 * merge.c — the merging iterator (lsm_it_merge, declared in iter.h): one
 * sorted stream out of n sorted children, in both directions.
 *
 * Order.  Entries are ordered by (key under cmp, child index): equal keys
 * from different children come out lower index first going forward and,
 * as the exact mirror, higher index first going backward, so prev() always
 * undoes next().  A child may itself repeat a key; its entries keep their
 * own order.
 *
 * Invariants (current entry E = (K, c), c the current child):
 *   M1. forward: every other child sits at its first entry after E in the
 *       order above (for j < c: first key > K; for j > c: first key >= K),
 *       or is exhausted; so the next entry is the smallest child entry.
 *   M2. backward: the mirror: every other child sits at its last entry
 *       before E (j < c: last key <= K; j > c: last key < K), or is
 *       exhausted.
 * Changing direction re-seeks every other child to restore the other
 * invariant (the LevelDB MergingIterator idea, extended with the index
 * tie-break so that equal keys across children also survive a switch).
 *
 * The current child is found by a linear scan for few children and by a
 * binary heap of child indexes (min-heap forward, max-heap backward)
 * otherwise.  Each child's validity and key are cached after every move,
 * so comparisons do not go through the child's vtable.
 *
 * Status: the first non-zero status among the children, in index order.
 * A child that fails stops the whole merge (it becomes invalid at once,
 * status set): carrying on without it would hand out older versions of
 * keys the failed source holds newer ones of.
 * Threads: one thread at a time, like every iterator.
 */
#include <errno.h>
#include <stdlib.h>
#include "iter.h"

#define MERGE_LINEAR_MAX 4	/* up to this many children: linear scan */
#define MERGE_NONE SIZE_MAX

struct merge_child {
	lsm_it *it;
	lsm_slice key;		/* cached while valid */
	bool valid;
};

struct merge_it {
	lsm_it base;
	lsm_cmp_fn cmp;
	size_t n;
	struct merge_child *c;
	size_t *heap;		/* valid children's indexes; NULL if linear */
	size_t nheap;
	size_t cur;		/* current child or MERGE_NONE */
	bool fwd;
	int err;		/* first child error: the merge stops */
};

static void merge_sync(struct merge_it *mi, size_t i)
{
	struct merge_child *ch = &mi->c[i];
	ch->valid = lsm_it_valid(ch->it);
	if (ch->valid)
		ch->key = lsm_it_key(ch->it);
	else if (!mi->err)
		mi->err = lsm_it_status(ch->it);	/* ended, or failed */
}

/* Does child a come before child b in the current direction? */
static bool merge_before(const struct merge_it *mi, size_t a, size_t b)
{
	int r = mi->cmp(mi->c[a].key, mi->c[b].key);
	if (r == 0)
		r = a < b ? -1 : 1;
	return mi->fwd ? r < 0 : r > 0;
}

static void merge_sift_down(struct merge_it *mi, size_t i)
{
	size_t *h = mi->heap, n = mi->nheap;
	for (;;) {
		size_t l = 2 * i + 1, best = i;
		if (l < n && merge_before(mi, h[l], h[best]))
			best = l;
		if (l + 1 < n && merge_before(mi, h[l + 1], h[best]))
			best = l + 1;
		if (best == i)
			return;
		size_t t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
}

/* Choose the current child from scratch (after every child moved). */
static void merge_rebuild(struct merge_it *mi)
{
	if (!mi->heap) {
		mi->cur = MERGE_NONE;
		for (size_t i = 0; i < mi->n; i++)
			if (mi->c[i].valid &&
			    (mi->cur == MERGE_NONE || merge_before(mi, i, mi->cur)))
				mi->cur = i;
		return;
	}
	mi->nheap = 0;
	for (size_t i = 0; i < mi->n; i++)
		if (mi->c[i].valid)
			mi->heap[mi->nheap++] = i;
	for (size_t i = mi->nheap / 2; i-- > 0;)
		merge_sift_down(mi, i);
	mi->cur = mi->nheap ? mi->heap[0] : MERGE_NONE;
}

/* The current child moved one step in the current direction. */
static void merge_advanced(struct merge_it *mi)
{
	merge_sync(mi, mi->cur);
	if (!mi->heap) {
		merge_rebuild(mi);
		return;
	}
	if (!mi->c[mi->cur].valid)
		mi->heap[0] = mi->heap[--mi->nheap];
	if (mi->nheap)
		merge_sift_down(mi, 0);
	mi->cur = mi->nheap ? mi->heap[0] : MERGE_NONE;
}

static bool merge_valid(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	return mi->cur != MERGE_NONE && !mi->err;
}

static void merge_seek_first(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	for (size_t i = 0; i < mi->n; i++) {
		lsm_it_seek_first(mi->c[i].it);
		merge_sync(mi, i);
	}
	mi->fwd = true;
	merge_rebuild(mi);
}

static void merge_seek_last(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	for (size_t i = 0; i < mi->n; i++) {
		lsm_it_seek_last(mi->c[i].it);
		merge_sync(mi, i);
	}
	mi->fwd = false;
	merge_rebuild(mi);
}

static void merge_seek(lsm_it *it, lsm_slice target)
{
	struct merge_it *mi = (struct merge_it *)it;
	for (size_t i = 0; i < mi->n; i++) {
		lsm_it_seek(mi->c[i].it, target);
		merge_sync(mi, i);
	}
	mi->fwd = true;
	merge_rebuild(mi);
}

/* Move child j past every entry equal to k (it is at its first entry >=
 * k): it ends at its first entry > k, or exhausted. */
static void merge_skip_equal(struct merge_it *mi, size_t j, lsm_slice k)
{
	while (mi->c[j].valid && mi->cmp(mi->c[j].key, k) == 0) {
		lsm_it_next(mi->c[j].it);
		merge_sync(mi, j);
	}
}

/* Re-establish M1 from M2 (backward -> forward) at the current entry. */
static void merge_to_forward(struct merge_it *mi)
{
	size_t c = mi->cur;
	lsm_slice k = mi->c[c].key;	/* stays valid: child c does not move */
	for (size_t j = 0; j < mi->n; j++) {
		if (j == c)
			continue;
		lsm_it_seek(mi->c[j].it, k);
		merge_sync(mi, j);
		if (j < c)
			merge_skip_equal(mi, j, k);
	}
	mi->fwd = true;
	merge_rebuild(mi);	/* c is the strict minimum: cur stays c */
}

/* Re-establish M2 from M1 (forward -> backward) at the current entry. */
static void merge_to_backward(struct merge_it *mi)
{
	size_t c = mi->cur;
	lsm_slice k = mi->c[c].key;
	for (size_t j = 0; j < mi->n; j++) {
		if (j == c)
			continue;
		lsm_it *ch = mi->c[j].it;
		lsm_it_seek(ch, k);
		merge_sync(mi, j);
		if (j < c)
			merge_skip_equal(mi, j, k);
		/* Now at the first entry after the ones wanted: step back. */
		if (mi->c[j].valid)
			lsm_it_prev(ch);
		else
			lsm_it_seek_last(ch);
		merge_sync(mi, j);
	}
	mi->fwd = false;
	merge_rebuild(mi);	/* c is the strict maximum: cur stays c */
}

static void merge_next(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	if (!mi->fwd)
		merge_to_forward(mi);
	lsm_it_next(mi->c[mi->cur].it);
	merge_advanced(mi);
}

static void merge_prev(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	if (mi->fwd)
		merge_to_backward(mi);
	lsm_it_prev(mi->c[mi->cur].it);
	merge_advanced(mi);
}

static lsm_slice merge_key(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	return mi->c[mi->cur].key;
}

static lsm_slice merge_value(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	return lsm_it_value(mi->c[mi->cur].it);
}

static int merge_status(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	if (mi->err)
		return mi->err;
	for (size_t i = 0; i < mi->n; i++) {
		int rc = lsm_it_status(mi->c[i].it);
		if (rc)
			return rc;
	}
	return 0;
}

static void merge_destroy(lsm_it *it)
{
	struct merge_it *mi = (struct merge_it *)it;
	for (size_t i = 0; i < mi->n; i++)
		lsm_it_free(mi->c[i].it);
	free(mi->c);
	free(mi->heap);
	free(mi);
}

static const struct lsm_it_ops merge_ops = {
	.valid = merge_valid, .seek_first = merge_seek_first,
	.seek_last = merge_seek_last, .seek = merge_seek,
	.next = merge_next, .prev = merge_prev, .key = merge_key,
	.value = merge_value, .status = merge_status,
	.destroy = merge_destroy,
};

/*
 * Owns the children from the call on, even on failure.  n == 0 gives an
 * empty iterator, n == 1 the child itself.  On ENOMEM — including a NULL
 * child, the mark of a child that could not be allocated — the children
 * are freed and the result is an empty iterator carrying -ENOMEM (or NULL
 * if even that cannot be allocated).
 */
lsm_it *lsm_it_merge(lsm_it **children, size_t n, lsm_cmp_fn cmp)
{
	struct merge_it *mi = NULL;
	if (n == 0)
		return lsm_it_empty(0);
	for (size_t i = 0; i < n; i++)
		if (!children[i])
			goto err;
	if (n == 1)
		return children[0];
	mi = calloc(1, sizeof *mi);
	if (!mi)
		goto err;
	mi->c = calloc(n, sizeof *mi->c);
	if (!mi->c)
		goto err;
	if (n > MERGE_LINEAR_MAX) {
		mi->heap = calloc(n, sizeof *mi->heap);
		if (!mi->heap)
			goto err;
	}
	mi->base.ops = &merge_ops;
	mi->cmp = cmp;
	mi->n = n;
	mi->cur = MERGE_NONE;
	mi->fwd = true;
	for (size_t i = 0; i < n; i++)
		mi->c[i].it = children[i];
	return &mi->base;
err:
	if (mi) {
		free(mi->c);
		free(mi->heap);
		free(mi);
	}
	for (size_t i = 0; i < n; i++)
		lsm_it_free(children[i]);
	return lsm_it_empty(-ENOMEM);
}
