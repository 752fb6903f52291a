/*
 * rangedel.c — the range-tombstone fragmenter (see rangedel.h).
 *
 * Construction is a sweep: every valid tombstone yields a begin event and
 * an end event; events are sorted by key and applied one distinct key at a
 * time to an "active" multiset of seqs.  After the events at boundary k
 * are applied, the active set is exactly the set of tombstones covering
 * [k, next boundary), so a non-empty active set emits one fragment there.
 * Because every active tombstone ends at a later boundary, a fragment
 * always has a next boundary to end at.
 *
 * Layout: the distinct boundary keys are copied once, in order, into one
 * byte buffer; fragment i runs from keys[kidx[i]] to keys[kidx[i] + 1]
 * (consecutive boundaries), so adjacent fragments share their key bytes.
 * The seqs of fragment i are seqs[soff[i] .. soff[i + 1]).
 *
 * The worst case (n tombstones all overlapping) stores O(n^2) seqs; that
 * is inherent in per-fragment seq lists and fine for the tombstone counts
 * one table or memtable holds.
 *
 * Threads: immutable after lsm_frag_new; concurrent queries are safe.
 */
#include <errno.h>
#include <stdlib.h>
#include "rangedel.h"

struct lsm_frag {
	size_t n;		/* fragments */
	lsm_slice *keys;	/* distinct boundaries, ascending */
	size_t *kidx;		/* fragment i = [keys[kidx[i]], keys[kidx[i]+1]) */
	size_t *soff;		/* n + 1 offsets into seqs */
	uint64_t *seqs;		/* per fragment, strictly descending */
	char *bytes;		/* the boundary key bytes */
};

struct frag_ev {
	lsm_slice key;
	uint64_t seq;
	bool begin;
};

static int frag_ev_cmp(const void *a, const void *b)
{
	return lsm_slice_cmp(((const struct frag_ev *)a)->key,
			     ((const struct frag_ev *)b)->key);
}

/* Insert s into the descending multiset act[0..*n). */
static void frag_act_add(uint64_t *act, size_t *n, uint64_t s)
{
	size_t i = 0;
	while (i < *n && act[i] > s)
		i++;
	memmove(act + i + 1, act + i, (*n - i) * sizeof *act);
	act[i] = s;
	(*n)++;
}

/* Remove one copy of s from act[0..*n); it is there, because every end
 * event pairs with a begin event at a smaller key. */
static void frag_act_del(uint64_t *act, size_t *n, uint64_t s)
{
	size_t i = 0;
	while (i < *n && act[i] != s)
		i++;
	if (i == *n)
		return;
	memmove(act + i, act + i + 1, (*n - i - 1) * sizeof *act);
	(*n)--;
}

static int frag_seqs_reserve(lsm_frag *f, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	uint64_t *p = reallocarray(f->seqs, c, sizeof *p);
	if (!p)
		return -ENOMEM;
	f->seqs = p;
	*cap = c;
	return 0;
}

lsm_frag *lsm_frag_new(const lsm_rangedel *tombs, size_t n)
{
	struct frag_ev *ev = NULL;
	uint64_t *act = NULL;
	lsm_frag *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;

	size_t m = 0, bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (lsm_slice_cmp(tombs[i].begin, tombs[i].end) >= 0)
			continue;
		m++;
		bytes += tombs[i].begin.size + tombs[i].end.size;
	}
	f->soff = calloc(1, sizeof *f->soff);	/* soff[0] = 0 when empty */
	if (!f->soff)
		goto err;
	if (m == 0)
		return f;

	size_t nev = 2 * m, scap = 0, nact = 0, nk = 0, nseq = 0;
	ev = calloc(nev, sizeof *ev);
	act = calloc(m, sizeof *act);
	f->bytes = malloc(bytes);
	f->keys = calloc(nev, sizeof *f->keys);
	f->kidx = calloc(nev, sizeof *f->kidx);
	free(f->soff);
	f->soff = calloc(nev + 1, sizeof *f->soff);
	if (!ev || !act || !f->bytes || !f->keys || !f->kidx || !f->soff)
		goto err;
	for (size_t i = 0, j = 0; i < n; i++) {
		if (lsm_slice_cmp(tombs[i].begin, tombs[i].end) >= 0)
			continue;
		ev[j++] = (struct frag_ev){ tombs[i].begin, tombs[i].seq, true };
		ev[j++] = (struct frag_ev){ tombs[i].end, tombs[i].seq, false };
	}
	qsort(ev, nev, sizeof *ev, frag_ev_cmp);

	char *bp = f->bytes;
	for (size_t i = 0; i < nev;) {
		lsm_slice k = ev[i].key;
		if (k.size)
			memcpy(bp, k.data, k.size);
		f->keys[nk] = lsm_slice_of(bp, k.size);
		bp += k.size;
		for (; i < nev && lsm_slice_eq(ev[i].key, k); i++) {
			if (ev[i].begin)
				frag_act_add(act, &nact, ev[i].seq);
			else
				frag_act_del(act, &nact, ev[i].seq);
		}
		if (nact > 0) {
			if (frag_seqs_reserve(f, &scap, nseq + nact) < 0)
				goto err;
			f->kidx[f->n] = nk;
			f->soff[f->n] = nseq;
			for (size_t a = 0; a < nact; a++)
				if (a == 0 || act[a] != act[a - 1])
					f->seqs[nseq++] = act[a];
			f->n++;
		}
		nk++;
	}
	f->soff[f->n] = nseq;
	free(ev);
	free(act);
	return f;
err:
	free(ev);
	free(act);
	lsm_frag_free(f);
	return NULL;
}

void lsm_frag_free(lsm_frag *f)
{
	if (!f)
		return;
	free(f->keys);
	free(f->kidx);
	free(f->soff);
	free(f->seqs);
	free(f->bytes);
	free(f);
}

size_t lsm_frag_count(const lsm_frag *f)
{
	return f->n;
}

void lsm_frag_at(const lsm_frag *f, size_t i, lsm_slice *begin,
		 lsm_slice *end, const uint64_t **seqs, size_t *nseqs)
{
	if (begin)
		*begin = f->keys[f->kidx[i]];
	if (end)
		*end = f->keys[f->kidx[i] + 1];
	if (seqs)
		*seqs = f->seqs + f->soff[i];
	if (nseqs)
		*nseqs = f->soff[i + 1] - f->soff[i];
}

size_t lsm_frag_lower_bound(const lsm_frag *f, lsm_slice ukey)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lsm_slice_cmp(f->keys[f->kidx[mid] + 1], ukey) > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

uint64_t lsm_frag_cover(const lsm_frag *f, lsm_slice ukey, uint64_t snap_seq)
{
	size_t i = lsm_frag_lower_bound(f, ukey);
	if (i == f->n || lsm_slice_cmp(f->keys[f->kidx[i]], ukey) > 0)
		return 0;
	/* The seqs descend: find the first one <= snap_seq. */
	const uint64_t *s = f->seqs + f->soff[i];
	size_t lo = 0, hi = f->soff[i + 1] - f->soff[i];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s[mid] <= snap_seq)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < f->soff[i + 1] - f->soff[i] ? s[lo] : 0;
}
