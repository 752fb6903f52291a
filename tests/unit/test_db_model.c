/*
 * Model-based test of the whole engine: long random sequences of puts,
 * deletes, range deletes, mixed batches, point reads, short forward and
 * backward scans (with bounds, seeks and direction switches) and reads at
 * snapshots, interleaved with flushes, manual compactions and close +
 * reopen, all checked read by read against an in-memory reference model.
 *
 * The key space is small (2000 keys of varying length, so that many are
 * prefixes of others) so overwrites, deletes and range deletes collide
 * constantly; the write buffer and level sizes are tiny so that flushes
 * and background compactions really run.  One long run goes over the
 * in-memory env, a shorter one over the posix env in a mkdtemp directory.
 *
 * The model keeps, per key, the id of the write that produced its value
 * (0: absent); values are regenerated from (key, write id), so a snapshot
 * of the model is a copy of one small array.  Every run uses a fixed seed
 * and a failure names the seed and the step.
 * Threads: single-threaded (the engine's own threads run underneath).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lsm.h"
#include "test_util.h"

#define NKEYS 2000
#define MAXSNAP 3
#define MAXVAL 6000

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* ---- the key universe -------------------------------------------------------- */

static char keys[NKEYS][12];	/* sorted by memcmp order */
static size_t klen[NKEYS];

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void init_keys(void)
{
	/* "k0".."k1999": variable length, "k1" < "k10" < "k100" < "k1000" */
	for (int i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof keys[i], "k%d", i);
	qsort(keys, NKEYS, sizeof keys[0], cmp_str);
	for (int i = 0; i < NKEYS; i++)
		klen[i] = strlen(keys[i]);
}

/* First rank whose key >= t (NKEYS if none). */
static int rank_ge(const char *t, size_t tl)
{
	int lo = 0, hi = NKEYS;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		size_t n = klen[mid] < tl ? klen[mid] : tl;
		int c = memcmp(keys[mid], t, n);
		if (c == 0)
			c = (klen[mid] > tl) - (klen[mid] < tl);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- values -------------------------------------------------------------------- */

static size_t val_len(uint32_t wid)
{
	uint64_t h = mix(wid);
	switch (h % 200) {
	case 0: case 1:
		return 0;
	case 2:
		return 1000 + (h >> 20) % (MAXVAL - 1000);
	default:
		return 4 + (h >> 20) % 60;
	}
}

static void gen_val(char *b, int rank, uint32_t wid)
{
	size_t n = val_len(wid);
	uint64_t h = mix((uint64_t)wid << 16 | (uint64_t)rank);
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			h = mix(h + i);
		b[i] = (char)(h >> (8 * (i & 7)));
	}
	/* the first bytes name the key and the write, for failure messages */
	if (n >= 12) {
		char tag[32];
		snprintf(tag, sizeof tag, "%05d:%05u", rank % 100000, wid % 100000);
		memcpy(b, tag, 11);
	}
}

/* ---- the model and the run --------------------------------------------------------- */

struct snap {
	const lsm_snapshot *s;
	uint32_t *wid;		/* the model when it was taken */
};

struct run {
	const char *name;
	uint64_t seed;
	long step;
	lsm_options opt;
	const char *path;
	lsm_db *db;
	uint32_t wid[NKEYS];	/* 0: absent */
	uint32_t next_wid;
	struct snap snaps[MAXSNAP];
	int nsnaps;
	/* a long-lived iterator, stepped now and then while writes, flushes
	 * and compactions go on; it must keep reading its creation state */
	lsm_iter *lit;
	uint32_t *lit_wid;
	int lit_pos;
	char vbuf[MAXVAL], vbuf2[MAXVAL];
	long n_get, n_scan, n_steps_checked, n_reopen, n_flush, n_compact;
	/* engine counters summed over every open */
	uint64_t flushes, compactions, moves, stalls, slowdowns;
};

#define BAD(r, ...) bad(r, __FILE__, __LINE__, __VA_ARGS__)

static void bad(struct run *r, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void bad(struct run *r, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error("%s:%d: run %s, seed %llu, step %ld: %s\n", file, line, r->name,
		    (unsigned long long)r->seed, r->step, msg);
	fail();
}

static void ok(struct run *r, int rc, const char *what)
{
	if (rc != 0)
		BAD(r, "%s: %s (%s)", what, lsm_strerror(rc), lsm_errdetail());
}

/* ---- writes ------------------------------------------------------------------------ */

/* One random write added to b (or, with b NULL, performed directly) and
 * applied to the model. */
static void rnd_write(struct run *r, lsm_batch *b, const lsm_write_options *wo)
{
	uint64_t c = rnd_below(100);
	int k = (int)rnd_below(NKEYS);
	if (c < 70) {
		uint32_t w = ++r->next_wid;
		gen_val(r->vbuf, k, w);
		if (b)
			ok(r, lsm_batch_put(b, keys[k], klen[k], r->vbuf, val_len(w)), "batch_put");
		else
			ok(r, lsm_put(r->db, wo, keys[k], klen[k], r->vbuf, val_len(w)), "put");
		r->wid[k] = w;
	} else if (c < 95) {
		if (b)
			ok(r, lsm_batch_delete(b, keys[k], klen[k]), "batch_delete");
		else
			ok(r, lsm_delete(r->db, wo, keys[k], klen[k]), "delete");
		r->wid[k] = 0;
	} else {
		/* [begin, end): universe keys, or strings between them */
		char lo[16], hi[16];
		int span = (int)rnd_below(rnd_below(4) ? 30 : 400);
		int e = k + span < NKEYS ? k + span : NKEYS - 1;
		snprintf(lo, sizeof lo, "%s%s", keys[k], rnd_below(3) ? "" : "!");
		snprintf(hi, sizeof hi, "%s%s", e == NKEYS - 1 && rnd_below(2) ? "l" : keys[e],
			 rnd_below(3) ? "" : "!");
		if (b)
			ok(r, lsm_batch_delete_range(b, lo, strlen(lo), hi, strlen(hi)), "batch_delrange");
		else
			ok(r, lsm_delete_range(r->db, wo, lo, strlen(lo), hi, strlen(hi)), "delete_range");
		int a = rank_ge(lo, strlen(lo)), z = rank_ge(hi, strlen(hi));
		for (int i = a; i < z; i++)
			r->wid[i] = 0;
	}
}

/* ---- reads --------------------------------------------------------------------------- */

static void check_get(struct run *r, const lsm_snapshot *s, const uint32_t *wid, int k)
{
	lsm_read_options ro = { .snapshot = s, .fill_cache = rnd_below(4) != 0 };
	void *v = NULL;
	size_t vl = 0;
	int rc = lsm_get(r->db, &ro, keys[k], klen[k], &v, &vl);
	r->n_get++;
	if (!wid[k]) {
		if (rc != LSM_E_NOTFOUND)
			BAD(r, "get %s%s: expected absent, got %s (%s)", keys[k], s ? " at snapshot" : "",
			    rc ? lsm_strerror(rc) : "a value", rc ? lsm_errdetail() : "");
		return;
	}
	if (rc != 0)
		BAD(r, "get %s%s: expected write %u, got %s (%s)", keys[k], s ? " at snapshot" : "",
		    wid[k], lsm_strerror(rc), lsm_errdetail());
	gen_val(r->vbuf2, k, wid[k]);
	size_t want = val_len(wid[k]);
	if (vl != want || (vl && memcmp(v, r->vbuf2, vl) != 0))
		BAD(r, "get %s%s: wrong value (%zu bytes \"%.11s\", want write %u: %zu bytes)",
		    keys[k], s ? " at snapshot" : "", vl, vl >= 11 ? (char *)v : "", wid[k], want);
	free(v);
}

struct scan_b {
	bool has_lo, has_hi;
	char lo[16], hi[16];
	int rlo, rhi;		/* rank range [rlo, rhi) the bounds allow */
};

static int m_next(const uint32_t *wid, const struct scan_b *sb, int pos)
{
	for (int i = pos + 1; i < sb->rhi; i++)
		if (i >= sb->rlo && wid[i])
			return i;
	return -1;
}

static int m_prev(const uint32_t *wid, const struct scan_b *sb, int pos)
{
	for (int i = (pos < 0 ? NKEYS : pos) - 1; i >= sb->rlo; i--)
		if (i < sb->rhi && wid[i])
			return i;
	return -1;
}

static void expect_at(struct run *r, lsm_iter *it, const uint32_t *wid, int pos,
		      const char *what)
{
	int st = lsm_iter_status(it);
	r->n_steps_checked++;
	if (st)
		BAD(r, "%s: iterator status %s (%s)", what, lsm_strerror(st), lsm_errdetail());
	if (pos < 0) {
		if (lsm_iter_valid(it)) {
			size_t kl;
			const char *k = lsm_iter_key(it, &kl);
			BAD(r, "%s: iterator at %.*s, model at the end", what, (int)kl, k);
		}
		return;
	}
	if (!lsm_iter_valid(it))
		BAD(r, "%s: iterator at the end, model at %s", what, keys[pos]);
	size_t kl, vl;
	const char *k = lsm_iter_key(it, &kl);
	const char *v = lsm_iter_value(it, &vl);
	if (kl != klen[pos] || memcmp(k, keys[pos], kl) != 0)
		BAD(r, "%s: iterator at %.*s, model at %s", what, (int)kl, k, keys[pos]);
	gen_val(r->vbuf2, pos, wid[pos]);
	if (vl != val_len(wid[pos]) || (vl && memcmp(v, r->vbuf2, vl) != 0))
		BAD(r, "%s: %s has a wrong value (%zu bytes, want write %u)", what, keys[pos], vl,
		    wid[pos]);
}

static void rnd_target(char *t)
{
	int k = (int)rnd_below(NKEYS);
	switch (rnd_below(6)) {
	case 0:
		snprintf(t, 16, "%s!", keys[k]);
		break;
	case 1:
		strcpy(t, rnd_below(2) ? "a" : "l");
		break;
	default:
		snprintf(t, 16, "%s", keys[k]);
	}
}

/* A short scan: a seek of some kind, then up to 25 steps that may switch
 * direction, each compared with the model. */
static void check_scan(struct run *r, const lsm_snapshot *s, const uint32_t *wid)
{
	struct scan_b sb;
	lsm_read_options ro = { .snapshot = s, .fill_cache = true };
	lsm_iter *it;
	char t[16], what[96];
	int pos;

	memset(&sb, 0, sizeof sb);
	sb.rlo = 0;
	sb.rhi = NKEYS;
	if (rnd_below(4) == 0) {
		sb.has_lo = true;
		rnd_target(sb.lo);
		ro.lower = sb.lo;
		ro.lower_len = strlen(sb.lo);
		sb.rlo = rank_ge(sb.lo, strlen(sb.lo));
	}
	if (rnd_below(4) == 0) {
		sb.has_hi = true;
		rnd_target(sb.hi);
		ro.upper = sb.hi;
		ro.upper_len = strlen(sb.hi);
		sb.rhi = rank_ge(sb.hi, strlen(sb.hi));
	}
	ok(r, lsm_iter_new(r->db, &ro, &it), "iter_new");
	r->n_scan++;
	switch (rnd_below(4)) {
	case 0:
		lsm_iter_seek_first(it);
		pos = m_next(wid, &sb, -1);
		snprintf(what, sizeof what, "seek_first");
		break;
	case 1:
		lsm_iter_seek_last(it);
		pos = m_prev(wid, &sb, -1);
		snprintf(what, sizeof what, "seek_last");
		break;
	case 2:
		rnd_target(t);
		lsm_iter_seek(it, t, strlen(t));
		pos = m_next(wid, &sb, rank_ge(t, strlen(t)) - 1);
		snprintf(what, sizeof what, "seek(%s)", t);
		break;
	default: {
		rnd_target(t);
		lsm_iter_seek_for_prev(it, t, strlen(t));
		int g = rank_ge(t, strlen(t));
		/* last key <= t: t itself if present, else before g */
		if (g < NKEYS && klen[g] == strlen(t) && memcmp(keys[g], t, klen[g]) == 0)
			g++;
		pos = m_prev(wid, &sb, g);
		snprintf(what, sizeof what, "seek_for_prev(%s)", t);
		break;
	}
	}
	if (sb.has_lo || sb.has_hi) {
		size_t n = strlen(what);
		snprintf(what + n, sizeof what - n, " in [%s, %s)", sb.has_lo ? sb.lo : "-",
			 sb.has_hi ? sb.hi : "-");
	}
	expect_at(r, it, wid, pos, what);
	bool fwd = rnd_below(2);
	int steps = (int)rnd_below(25);
	for (int i = 0; i < steps && pos >= 0; i++) {
		if (rnd_below(5) == 0)
			fwd = !fwd;
		if (fwd) {
			lsm_iter_next(it);
			pos = m_next(wid, &sb, pos);
		} else {
			lsm_iter_prev(it);
			pos = m_prev(wid, &sb, pos);
		}
		char w2[128];
		snprintf(w2, sizeof w2, "%s, step %d %s", what, i, fwd ? "next" : "prev");
		expect_at(r, it, wid, pos, w2);
	}
	lsm_iter_free(it);
}

/* Every key by get and one full scan each way. */
static void check_all(struct run *r)
{
	struct scan_b sb = { .rlo = 0, .rhi = NKEYS };
	lsm_iter *it;
	for (int k = 0; k < NKEYS; k++)
		check_get(r, NULL, r->wid, k);
	ok(r, lsm_iter_new(r->db, NULL, &it), "iter_new");
	int pos = m_next(r->wid, &sb, -1);
	lsm_iter_seek_first(it);
	expect_at(r, it, r->wid, pos, "full scan");
	while (pos >= 0) {
		lsm_iter_next(it);
		pos = m_next(r->wid, &sb, pos);
		expect_at(r, it, r->wid, pos, "full scan");
	}
	pos = m_prev(r->wid, &sb, -1);
	lsm_iter_seek_last(it);
	expect_at(r, it, r->wid, pos, "full reverse scan");
	while (pos >= 0) {
		lsm_iter_prev(it);
		pos = m_prev(r->wid, &sb, pos);
		expect_at(r, it, r->wid, pos, "full reverse scan");
	}
	lsm_iter_free(it);
}

/* ---- snapshots, maintenance ------------------------------------------------------------ */

static void snap_take(struct run *r)
{
	struct snap *s = &r->snaps[r->nsnaps];
	s->s = lsm_snapshot_acquire(r->db);
	if (!s->s)
		BAD(r, "snapshot_acquire failed");
	if (lsm_snapshot_seq(s->s) != lsm_last_seq(r->db))
		BAD(r, "snapshot seq %llu != last seq %llu",
		    (unsigned long long)lsm_snapshot_seq(s->s),
		    (unsigned long long)lsm_last_seq(r->db));
	s->wid = malloc(sizeof r->wid);
	assert_non_null(s->wid);
	memcpy(s->wid, r->wid, sizeof r->wid);
	r->nsnaps++;
}

static void snap_drop(struct run *r, int i)
{
	lsm_snapshot_release(r->db, r->snaps[i].s);
	free(r->snaps[i].wid);
	r->snaps[i] = r->snaps[--r->nsnaps];
}

/* Add the engine's counters of this open to the run's totals. */
static void tally(struct run *r)
{
	lsm_stats st;
	ok(r, lsm_get_stats(r->db, &st), "stats");
	if (st.background_error)
		BAD(r, "background error %d latched", st.background_error);
	r->flushes += st.flushes;
	r->compactions += st.compactions;
	r->moves += st.trivial_moves;
	r->stalls += st.write_stalls;
	r->slowdowns += st.write_slowdowns;
}

static void lit_drop(struct run *r)
{
	lsm_iter_free(r->lit);
	free(r->lit_wid);
	r->lit = NULL;
	r->lit_wid = NULL;
}

static void lit_step(struct run *r)
{
	struct scan_b sb = { .rlo = 0, .rhi = NKEYS };
	if (!r->lit) {
		lsm_read_options ro = { .fill_cache = true };
		ok(r, lsm_iter_new(r->db, &ro, &r->lit), "iter_new(long-lived)");
		r->lit_wid = malloc(sizeof r->wid);
		assert_non_null(r->lit_wid);
		memcpy(r->lit_wid, r->wid, sizeof r->wid);
		int k = (int)rnd_below(NKEYS);
		lsm_iter_seek(r->lit, keys[k], klen[k]);
		r->lit_pos = m_next(r->lit_wid, &sb, k - 1);
		expect_at(r, r->lit, r->lit_wid, r->lit_pos, "long-lived iterator seek");
		return;
	}
	if (r->lit_pos < 0 || rnd_below(50) == 0) {
		lit_drop(r);
		return;
	}
	if (rnd_below(3)) {
		lsm_iter_next(r->lit);
		r->lit_pos = m_next(r->lit_wid, &sb, r->lit_pos);
	} else {
		lsm_iter_prev(r->lit);
		r->lit_pos = m_prev(r->lit_wid, &sb, r->lit_pos);
	}
	expect_at(r, r->lit, r->lit_wid, r->lit_pos, "long-lived iterator step");
}

static void reopen(struct run *r)
{
	lit_drop(r);
	while (r->nsnaps)
		snap_drop(r, r->nsnaps - 1);
	tally(r);
	ok(r, lsm_close(r->db), "close");
	r->db = NULL;
	ok(r, lsm_open(r->path, &r->opt, &r->db), "reopen");
	r->n_reopen++;
}

static void rnd_compact(struct run *r)
{
	r->n_compact++;
	if (rnd_below(3) == 0) {
		ok(r, lsm_compact_range(r->db, NULL, 0, NULL, 0), "compact_range(all)");
		return;
	}
	int a = (int)rnd_below(NKEYS), b = a + (int)rnd_below(300);
	if (b >= NKEYS)
		b = NKEYS - 1;
	ok(r, lsm_compact_range(r->db, keys[a], klen[a], keys[b], klen[b]), "compact_range");
}

/* ---- the run ---------------------------------------------------------------------------- */

static void run_model(struct run *r, long nsteps)
{
	lsm_batch *b = lsm_batch_new();
	assert_non_null(b);
	rng_state = r->seed;
	r->next_wid = 0;
	memset(r->wid, 0, sizeof r->wid);
	ok(r, lsm_open(r->path, &r->opt, &r->db), "open");

	for (r->step = 0; r->step < nsteps; r->step++) {
		uint64_t c = rnd_below(10000);
		lsm_write_options wo = { .sync = rnd_below(100) == 0 };
		if (c < 3000) {
			rnd_write(r, NULL, &wo);
		} else if (c < 3800) {
			int n = 1 + (int)rnd_below(30);
			lsm_batch_clear(b);
			for (int i = 0; i < n; i++)
				rnd_write(r, b, NULL);
			if (lsm_batch_count(b) != (uint32_t)n)
				BAD(r, "batch count %u != %d", lsm_batch_count(b), n);
			ok(r, lsm_write(r->db, &wo, b), "write(batch)");
		} else if (c < 5800) {
			int si = r->nsnaps && rnd_below(4) == 0 ? (int)rnd_below((uint64_t)r->nsnaps) : -1;
			check_get(r, si >= 0 ? r->snaps[si].s : NULL,
				  si >= 0 ? r->snaps[si].wid : r->wid, (int)rnd_below(NKEYS));
		} else if (c < 6800) {
			lit_step(r);
		} else if (c < 9900) {
			int si = r->nsnaps && rnd_below(4) == 0 ? (int)rnd_below((uint64_t)r->nsnaps) : -1;
			check_scan(r, si >= 0 ? r->snaps[si].s : NULL,
				   si >= 0 ? r->snaps[si].wid : r->wid);
		} else if (c < 9940) {
			if (r->nsnaps < MAXSNAP)
				snap_take(r);
		} else if (c < 9970) {
			if (r->nsnaps)
				snap_drop(r, (int)rnd_below((uint64_t)r->nsnaps));
		} else if (c < 9985) {
			r->n_flush++;
			ok(r, lsm_flush(r->db, rnd_below(2)), "flush");
		} else if (c < 9993) {
			rnd_compact(r);
		} else if (c < 9997) {
			reopen(r);
		} else {
			ok(r, lsm_sync(r->db), "sync");
		}
		if (r->step % 25000 == 24999)
			check_all(r);
	}
	check_all(r);
	lit_drop(r);
	for (int i = 0; i < r->nsnaps; i++)
		for (int k = 0; k < NKEYS; k += 7)
			check_get(r, r->snaps[i].s, r->snaps[i].wid, k);
	reopen(r);
	check_all(r);
	ok(r, lsm_compact_range(r->db, NULL, 0, NULL, 0), "final compact_range");
	check_all(r);

	tally(r);
	print_message("  %s: %ld steps, %ld gets, %ld scans (%ld positions), %ld reopens, "
		      "%llu flushes, %llu compactions, %llu moves, %llu stalls, %llu slowdowns\n",
		      r->name, nsteps, r->n_get, r->n_scan, r->n_steps_checked, r->n_reopen,
		      (unsigned long long)r->flushes, (unsigned long long)r->compactions,
		      (unsigned long long)r->moves, (unsigned long long)r->stalls,
		      (unsigned long long)r->slowdowns);
	/* the point of the small buffers: the engine really flushed and
	 * compacted on its own */
	if (r->flushes < 10 || r->compactions + r->moves < 5)
		BAD(r, "too little background work to be a test");
	ok(r, lsm_close(r->db), "close");
	r->db = NULL;
	lsm_batch_free(b);
}

static void small_options(lsm_options *o)
{
	o->create_if_missing = true;
	o->write_buffer_size = 64u << 10;
	o->level_base_bytes = 128u << 10;
	o->level_multiplier = 4;
	o->target_file_size = 48u << 10;
	o->block_size = 1024;
	o->l0_compaction_trigger = 3;
	o->block_cache_size = 256u << 10;
	o->max_open_tables = 64;
}

static void test_model_mem(void **state)
{
	(void)state;
	struct run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	lsm_env *env = lsm_env_mem_new();
	assert_non_null(env);
	lsm_options_init(&r->opt);
	small_options(&r->opt);
	r->opt.env = env;
	r->opt.num_levels = 4;
	r->name = "mem";
	r->seed = 20240601;
	r->path = "/model";
	run_model(r, 100000);
	env->destroy(env);
	free(r);
}

static void test_model_mem_compression_off(void **state)
{
	/* a second seed, uncompressed blocks, no bloom filter, several
	 * compaction threads */
	(void)state;
	struct run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	lsm_env *env = lsm_env_mem_new();
	assert_non_null(env);
	lsm_options_init(&r->opt);
	small_options(&r->opt);
	r->opt.env = env;
	r->opt.compression = 0;
	r->opt.bloom_bits_per_key = 0;
	r->opt.compaction_threads = 3;
	r->name = "mem-plain";
	r->seed = 77;
	r->path = "/model2";
	run_model(r, 15000);
	env->destroy(env);
	free(r);
}


static void test_model_posix(void **state)
{
	(void)state;
	char root[] = "/tmp/lsm_test_db_model_XXXXXX";
	char path[512];
	struct run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof path, "%s/db", root);
	lsm_options_init(&r->opt);
	small_options(&r->opt);
	r->name = "posix";
	r->seed = 4711;
	r->path = path;
	run_model(r, 12000);
	free(r);
	rm_tree(root);
}

int main(void)
{
	init_keys();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_mem),
		cmocka_unit_test(test_model_mem_compression_off),
		cmocka_unit_test(test_model_posix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
