/*
 * compact.c — leveled compaction in three roles:
 *
 *   scheduler     pick_job(): scores the levels and the tables and picks
 *                 one job, under db->mu.  Order: the
 *                 emergency (a table more than emergency_dead_ratio dead),
 *                 size (L0 by file count, L1+ by bytes over target),
 *                 tombstone density, then bottommost tables whose garbage
 *                 the cutoff now lets go.
 *   executor      run_job(): merges a job's input tables into new tables
 *                 without holding db->mu, with its own table handles,
 *                 applying the garbage-collection rules below.
 *   orchestrator  worker_main(): waits for work, reserves the two levels a
 *                 job touches (jobs never share a level), runs it, applies
 *                 its result to the manifest in one edit, and checks for
 *                 more work after every job; lsm_compact_maybe_schedule is
 *                 called after every flush and snapshot release.
 *
 * GC rules for one user key, versions walked newest to oldest, where the
 * pinned sequences split sequence space into stripes (a version is visible
 * to the snapshots of its stripe) and C is the cutoff (oldest pin, or the
 * last sequence when nothing is pinned):
 *   1. a version in the same stripe as a newer kept version is dropped;
 *   2. a point or range tombstone at or below C is dropped only when no
 *      level below the output holds that key (else an older value would
 *      come back), and what it shadows goes with it by rule 1;
 *   3. a version covered by a newer range tombstone of its own stripe is
 *      dropped;
 *   4. one user key's versions never split across two output tables.
 * Flushes (db.c) never drop anything.
 *
 * A cancelled or failed job removes its partial outputs; nothing is live
 * until the edit naming it is durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "db_impl.h"

enum job_kind { JOB_SIZE, JOB_DENSITY, JOB_EMERGENCY, JOB_BOTTOM, JOB_MANUAL };

static const char *const job_names[] = {
	"size", "tombstone-density", "emergency", "cutoff-moved", "manual",
};

typedef struct lsm_job {
	uint64_t id;
	enum job_kind kind;
	int level;		/* input level */
	int out_level;
	lsm_file_meta **in[2];	/* inputs of level and out_level */
	size_t nin[2];
	uint64_t cutoff;
	uint64_t *snaps;	/* pinned sequences, ascending */
	size_t nsnaps;
	double bloom_fpr;	/* informational; bits per key come from opts */
	lsm_version *ver;	/* the version the job was picked from */
	bool trivial;
	bool bottommost;	/* no level below the output holds its keys */
	uint64_t reserve;	/* disk it may take while running: its inputs'
				 * size (0 for a trivial move) */
} lsm_job;

struct held {
	uint64_t number, bytes;
};

struct lsm_compaction_state {
	pthread_t *threads;
	int nthreads;
	pthread_cond_t work_cv;
	bool busy[LSM_MAX_LEVELS];
	int running;
	int paused;		/* lsm_compact_pause depth: no new jobs */
	bool stop;
	atomic_bool cancel;
	uint64_t next_job_id;
	int manual_waiting;	/* manual compactions waiting for levels */
	int manual_running;
	/* rate budget: a token bucket shared by the workers */
	pthread_mutex_t rate_mu;
	double tokens;
	uint64_t last_refill;
	/* per-table bytes kept only for pinned sequences */
	struct held *held;
	size_t nheld, capheld;
	uint64_t last_cutoff;
	/* Background jobs wait for room on the disk (pick_job found too
	 * little, or a job ran out): workers then look again every second
	 * and after every flush, rather than only when woken. */
	bool nospace_wait;
};

/* ---- rate budget ------------------------------------------------------------ */

static void rate_charge(lsm_db *db, uint64_t bytes)
{
	struct lsm_compaction_state *cs = db->cs;
	uint64_t rate = db->opt.compaction_rate;
	if (!rate)
		return;
	pthread_mutex_lock(&cs->rate_mu);
	for (;;) {
		uint64_t now = db->env->now_micros(db->env);
		cs->tokens += (double)(now - cs->last_refill) * (double)rate / 1e6;
		if (cs->tokens > (double)rate)
			cs->tokens = (double)rate;	/* at most one second of burst */
		cs->last_refill = now;
		if (cs->tokens >= 0 || atomic_load(&cs->cancel))
			break;
		uint64_t wait = (uint64_t)(-cs->tokens * 1e6 / (double)rate) + 1;
		pthread_mutex_unlock(&cs->rate_mu);
		db->env->sleep_micros(db->env, wait > 100000 ? 100000 : wait);
		pthread_mutex_lock(&cs->rate_mu);
	}
	cs->tokens -= (double)bytes;
	pthread_mutex_unlock(&cs->rate_mu);
}

/* ---- scoring and picking (scheduler) ------------------------------------------ */

static uint64_t level_target(const lsm_db *db, int level)
{
	uint64_t t = db->opt.level_base_bytes;
	for (int i = 1; i < level; i++)
		t *= (uint64_t)db->opt.level_multiplier;
	return t;
}

static double file_dead_ratio(const lsm_file_meta *f)
{
	if (!f->entries)
		return f->range_deletions ? 1.0 : 0.0;
	return (double)(f->deletions + f->range_deletions) / (double)f->entries;
}

/* Is level the last one holding any data in the user range of f? */
static bool nothing_below(const lsm_version *v, int level, const lsm_db *db,
			  lsm_slice lo, lsm_slice hi)
{
	for (int l = level + 1; l < db->opt.num_levels; l++)
		if (lsm_version_overlaps(v, l, &lo, &hi))
			return false;
	return true;
}

static lsm_slice ukey_of(const lsm_buf *ik)
{
	return lsm_ikey_user(lsm_buf_slice(ik));
}

static void job_free(lsm_job *j)
{
	if (!j)
		return;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < j->nin[k]; i++)
			lsm_file_meta_unref(j->in[k][i]);
		free(j->in[k]);
	}
	free(j->snaps);
	if (j->ver)
		lsm_version_unref(j->ver);
	free(j);
}

static bool any_busy(lsm_file_meta **f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i]->being_compacted)
			return true;
	return false;
}

/* Fill job inputs: level files (given) and overlapping out_level files. */
static int job_fill(lsm_db *db, lsm_job *j, lsm_file_meta **files, size_t n)
{
	lsm_version *v = db->current;
	lsm_slice lo = {0}, hi = {0};
	j->in[0] = files;
	j->nin[0] = n;
	for (size_t i = 0; i < n; i++) {
		lsm_file_meta_ref(files[i]);
		lsm_slice s = ukey_of(&files[i]->smallest), l = ukey_of(&files[i]->largest);
		if (i == 0 || lsm_slice_cmp(s, lo) < 0)
			lo = s;
		if (i == 0 || lsm_slice_cmp(l, hi) > 0)
			hi = l;
	}
	if (j->out_level != j->level) {
		j->nin[1] = lsm_version_overlapping(v, j->out_level, &lo, &hi, &j->in[1]);
		if (!j->in[1])
			return -ENOMEM;
		for (size_t i = 0; i < j->nin[1]; i++)
			lsm_file_meta_ref(j->in[1][i]);
	}
	return 0;
}

static lsm_job *job_new(lsm_db *db, enum job_kind kind, int level, int out)
{
	lsm_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->id = ++db->cs->next_job_id;
	j->kind = kind;
	j->level = level;
	j->out_level = out;
	j->bloom_fpr = 0.01;
	return j;
}

/* A job over the given files of level into out; NULL if its inputs are
 * busy.  Takes ownership of files (a malloc'd array). */
static lsm_job *make_job(lsm_db *db, enum job_kind kind, int level, int out,
			 lsm_file_meta **files, size_t n)
{
	lsm_job *j;
	if (n == 0 || any_busy(files, n)) {
		free(files);
		return NULL;
	}
	j = job_new(db, kind, level, out);
	if (!j) {
		free(files);
		return NULL;
	}
	if (job_fill(db, j, files, n) < 0 || any_busy(j->in[1], j->nin[1])) {
		job_free(j);
		return NULL;
	}
	return j;
}

static lsm_file_meta **one_file(lsm_file_meta *f)
{
	lsm_file_meta **a = malloc(sizeof *a);
	if (a)
		a[0] = f;
	return a;
}

static lsm_job *pick_l0(lsm_db *db, enum job_kind kind)
{
	lsm_version *v = db->current;
	lsm_file_meta **files = NULL;
	/* All of L0 that overlaps the oldest file, closed under overlap. */
	lsm_file_meta *oldest = v->files[0][v->nfiles[0] - 1];
	lsm_slice lo = ukey_of(&oldest->smallest), hi = ukey_of(&oldest->largest);
	size_t n = lsm_version_overlapping(v, 0, &lo, &hi, &files);
	if (!files)
		return NULL;
	return make_job(db, kind, 0, 1, files, n);
}

static bool levels_free(struct lsm_compaction_state *cs, int a, int b)
{
	return !cs->busy[a] && !cs->busy[b];
}

/* Tables whose dead share is above ratio, largest share first. */
static lsm_job *pick_dead(lsm_db *db, double ratio, enum job_kind kind, uint64_t cutoff)
{
	lsm_version *v = db->current;
	struct lsm_compaction_state *cs = db->cs;
	int last = db->opt.num_levels - 1;
	double best = ratio;
	int bl = -1;
	lsm_file_meta *bf = NULL;
	for (int l = 0; l < db->opt.num_levels; l++) {
		for (size_t i = 0; i < v->nfiles[l]; i++) {
			lsm_file_meta *f = v->files[l][i];
			double r = file_dead_ratio(f);
			/* Only tables whose tombstones are all collectable:
			 * otherwise compaction could not make progress. */
			if (f->being_compacted || r <= best || f->max_seq > cutoff)
				continue;
			best = r;
			bl = l;
			bf = f;
		}
	}
	if (!bf)
		return NULL;
	if (bl == 0)
		return levels_free(cs, 0, 1) ? pick_l0(db, kind) : NULL;
	bool bottom = bl == last || nothing_below(v, bl, db, ukey_of(&bf->smallest),
						  ukey_of(&bf->largest));
	int out = bottom ? bl : bl + 1;
	if (!levels_free(cs, bl, out))
		return NULL;
	return make_job(db, kind, bl, out, one_file(bf), 1);
}

static uint64_t job_input_bytes(const lsm_job *j)
{
	uint64_t n = 0;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < j->nin[k]; i++)
			n += j->in[k][i]->size;
	return n;
}

/*
 * Room on the disk for a background job: its outputs may take as much as
 * its inputs until the inputs are deleted (j->reserve), and flushes must
 * still find room for every memtable after it (they carry the writes, and
 * deletions are writes).  What running jobs may still write is counted as
 * taken (db->space_reserved).  A job that does not fit is not started:
 * compactions wait (cs->nospace_wait) while writes go on, instead of
 * failing half-way and taking the room flushes need.  Manual compactions
 * do not ask: they are how room comes back after mass deletion, and
 * their output is then small.  REQUIRES: mu held.
 */
static bool room_for_job(lsm_db *db, const lsm_job *j)
{
	uint64_t free_bytes;
	if (!db->env->free_space || db->env->free_space(db->env, db->path, &free_bytes) < 0)
		return true;	/* unknown: do not hold work back */
	uint64_t flushes = (uint64_t)db->opt.write_buffer_size * (uint64_t)(1 + db->opt.max_immutable);
	uint64_t need = j->reserve + flushes + atomic_load(&db->space_reserved);
	if (free_bytes >= need)
		return true;
	if (!db->cs->nospace_wait) {
		lsm_log(db, "compaction (%s) L%d->L%d waits for disk space: %llu bytes free,"
			" %llu wanted (inputs, memtables, running jobs)", job_names[j->kind],
			j->level, j->out_level, (unsigned long long)free_bytes,
			(unsigned long long)need);
		/* writers stalled on L0 stop waiting (db.c make_room) */
		pthread_cond_broadcast(&db->bg_cv);
	}
	db->cs->nospace_wait = true;
	return false;
}

/* Bottommost tables holding tombstones that the cutoff now covers. */
static lsm_job *pick_bottom(lsm_db *db, uint64_t cutoff)
{
	lsm_version *v = db->current;
	for (int l = db->opt.num_levels - 1; l >= 1; l--) {
		if (db->cs->busy[l])
			continue;
		for (size_t i = 0; i < v->nfiles[l]; i++) {
			lsm_file_meta *f = v->files[l][i];
			if (f->being_compacted || (!f->deletions && !f->range_deletions) ||
			    f->max_seq > cutoff)
				continue;
			if (!nothing_below(v, l, db, ukey_of(&f->smallest), ukey_of(&f->largest)))
				continue;
			return make_job(db, JOB_BOTTOM, l, l, one_file(f), 1);
		}
	}
	return NULL;
}

static lsm_job *pick_job(lsm_db *db)
{
	struct lsm_compaction_state *cs = db->cs;
	lsm_version *v = db->current;
	uint64_t *snaps = NULL;
	size_t nsnaps = 0;
	uint64_t cutoff = lsm_db_snapshot_list(db, &snaps, &nsnaps);
	if (nsnaps == SIZE_MAX)
		return NULL;	/* no memory for the pins: judge no garbage now */
	lsm_job *j = NULL;

	/* a waiting manual compaction goes first: start nothing new */
	if (cs->paused || cs->manual_waiting) {
		free(snaps);
		return NULL;
	}
	if (!db->opt.disable_auto_compaction) {
		j = pick_dead(db, db->opt.emergency_dead_ratio, JOB_EMERGENCY, cutoff);
		if (!j) {
			/* size: the level with the highest score >= 1 */
			double best = 1.0;
			int bl = -1;
			for (int l = 0; l < db->opt.num_levels - 1; l++) {
				double s = l == 0 ? (double)v->nfiles[0] / db->opt.l0_compaction_trigger
						  : (double)lsm_version_level_bytes(v, l) /
							    (double)level_target(db, l);
				if (s >= best && levels_free(cs, l, l + 1)) {
					best = s;
					bl = l;
				}
			}
			if (bl == 0) {
				j = pick_l0(db, JOB_SIZE);
			} else if (bl > 0) {
				/* the first table not being compacted, in key order;
				 * a round-robin pointer would spread work better */
				for (size_t i = 0; !j && i < v->nfiles[bl]; i++)
					if (!v->files[bl][i]->being_compacted)
						j = make_job(db, JOB_SIZE, bl, bl + 1,
							     one_file(v->files[bl][i]), 1);
			}
		}
		if (!j)
			j = pick_dead(db, db->opt.tombstone_density, JOB_DENSITY, cutoff);
		if (!j)
			j = pick_bottom(db, cutoff);
	}
	if (!j) {
		free(snaps);
		return NULL;
	}
	j->cutoff = cutoff;
	j->snaps = snaps;
	j->nsnaps = nsnaps;
	j->ver = v;
	lsm_version_ref(v);
	/* A lone table with nothing to merge below moves without a rewrite,
	 * unless the job exists to drop its garbage. */
	if (j->out_level != j->level && j->nin[1] == 0 && j->nin[0] == 1 &&
	    j->kind == JOB_SIZE) {
		/* (an L0 input set is closed under overlap, so a lone L0
		 * table overlaps no other L0 table) */
		j->trivial = true;
	}
	j->reserve = j->trivial ? 0 : job_input_bytes(j);
	if (!j->trivial && !room_for_job(db, j)) {
		job_free(j);
		return NULL;
	}
	cs->nospace_wait = false;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < j->nin[k]; i++)
			j->in[k][i]->being_compacted = true;
	cs->busy[j->level] = cs->busy[j->out_level] = true;
	return j;
}

/* ---- execution (executor) ------------------------------------------------------ */

/* Index of the stripe of seq: the first pinned sequence >= seq
 * (nsnaps means above every pin). */
static size_t stripe(const lsm_job *j, uint64_t seq)
{
	size_t lo = 0, hi = j->nsnaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (j->snaps[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Can a level below the output hold ukey? */
static bool below_holds(const lsm_db *db, const lsm_job *j, lsm_slice lo, lsm_slice hi)
{
	for (int l = j->out_level + 1; l < db->opt.num_levels; l++)
		if (lsm_version_overlaps(j->ver, l, &lo, &hi))
			return true;
	return false;
}

struct out_table {
	lsm_file_meta *meta;
	lsm_table_builder *tb;
	lsm_file *f;
	char *path;
	lsm_buf first_ukey;	/* the table's first user key */
	uint64_t held;
};

struct job_run {
	lsm_db *db;
	lsm_job *j;
	struct out_table *outs;
	size_t nouts, capouts;
	lsm_frag *frag;
	uint64_t bytes_read, bytes_written, dropped, tomb_dropped, rtomb_dropped;
	uint64_t held;
	uint64_t charged;
};

static int open_output(struct job_run *r, lsm_slice first_ukey)
{
	lsm_db *db = r->db;
	lsm_table_opts to;
	struct out_table *o;
	int rc;
	if (r->nouts == r->capouts) {
		size_t cap = r->capouts ? r->capouts * 2 : 4;
		struct out_table *p = realloc(r->outs, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->outs = p;
		r->capouts = cap;
	}
	o = &r->outs[r->nouts];
	memset(o, 0, sizeof *o);
	o->meta = lsm_file_meta_new();
	if (!o->meta)
		return -ENOMEM;
	pthread_mutex_lock(&db->mu);
	o->meta->number = lsm_db_new_file_number(db);
	lsm_db_pending_add(db, o->meta->number);
	pthread_mutex_unlock(&db->mu);
	r->nouts++;
	o->path = lsm_fname(db->path, LSM_F_TABLE, o->meta->number);
	if (!o->path)
		return -ENOMEM;
	LSM_TRY(lsm_buf_set(&o->first_ukey, first_ukey.data, first_ukey.size));
	LSM_TRY(db->env->open(db->env, o->path, LSM_OPEN_WRITE, &o->f));
	lsm_table_opts_from(&db->opt, r->j->out_level, &to);
	rc = lsm_tb_new(db->env, o->f, o->path, &to, &o->tb);
	return rc;
}

/* Clip the kept range tombstones to [lo, hi) (hi NULL: unbounded) and add
 * them to the table being finished. */
static int add_tombstones(struct job_run *r, struct out_table *o, const lsm_slice *lo,
			  const lsm_slice *hi)
{
	lsm_frag *f = r->frag;
	const lsm_job *j = r->j;
	if (!f)
		return 0;
	size_t n = lsm_frag_count(f);
	for (size_t i = lo ? lsm_frag_lower_bound(f, *lo) : 0; i < n; i++) {
		lsm_slice b, e;
		const uint64_t *seqs;
		size_t ns;
		lsm_frag_at(f, i, &b, &e, &seqs, &ns);
		if (hi && lsm_slice_cmp(b, *hi) >= 0)
			break;
		if (lo && lsm_slice_cmp(b, *lo) < 0)
			b = *lo;
		if (hi && lsm_slice_cmp(e, *hi) > 0)
			e = *hi;
		if (lsm_slice_cmp(b, e) >= 0)
			continue;
		bool below = below_holds(r->db, j, b, e);
		size_t last_stripe = (size_t)-1;
		for (size_t k = 0; k < ns; k++) {
			uint64_t s = seqs[k];	/* descending */
			size_t st = stripe(j, s);
			if (st == last_stripe) {
				r->rtomb_dropped++;	/* shadowed within its stripe */
				continue;
			}
			last_stripe = st;
			if (s <= j->cutoff && !below) {
				r->rtomb_dropped++;	/* collectable: dropped */
				continue;
			}
			LSM_TRY(lsm_tb_add_rangedel(o->tb, b, e, s));
		}
	}
	return 0;
}

static int finish_output(struct job_run *r, struct out_table *o, const lsm_slice *hi)
{
	lsm_db *db = r->db;
	lsm_table_props props;
	int rc;
	lsm_slice lo = lsm_buf_slice(&o->first_ukey);
	memset(&props, 0, sizeof props);
	/* the first table also takes tombstones starting before its first key */
	LSM_ERR(add_tombstones(r, o, o == r->outs ? NULL : &lo, hi));
	if (lsm_tb_entries(o->tb) == 0 && lsm_tb_size_estimate(o->tb) == 0) {
		/* no entries; a table of tombstones alone is still written */
	}
	LSM_ERR(lsm_tb_finish(o->tb, &props));
	if (props.entries == 0 && props.range_deletions == 0) {
		o->meta->size = 0;
		goto err;
	}
	LSM_ERR(db->env->sync(db->env, o->f));
	LSM_ERR(lsm_meta_from_props(o->meta, &props));
	r->bytes_written += props.file_size;
	rate_charge(db, props.file_size > r->charged ? props.file_size - r->charged : 0);
	r->charged = 0;
err:
	lsm_table_props_free(&props);
	lsm_tb_free(o->tb);
	o->tb = NULL;
	if (o->f) {
		int c = db->env->close(db->env, o->f);
		o->f = NULL;
		if (rc == 0)
			rc = c;
	}
	return rc;
}

static void discard_outputs(struct job_run *r, bool remove_files)
{
	lsm_db *db = r->db;
	for (size_t i = 0; i < r->nouts; i++) {
		struct out_table *o = &r->outs[i];
		if (o->tb)
			lsm_tb_free(o->tb);
		if (o->f)
			db->env->close(db->env, o->f);
		if (remove_files && o->path)
			db->env->remove(db->env, o->path);
		pthread_mutex_lock(&db->mu);
		lsm_db_pending_remove(db, o->meta->number);
		pthread_mutex_unlock(&db->mu);
		lsm_file_meta_unref(o->meta);
		free(o->path);
		lsm_buf_free(&o->first_ukey);
	}
	free(r->outs);
	r->outs = NULL;
	r->nouts = 0;
}

static int gather_inputs(struct job_run *r, lsm_it ***its, size_t *nits,
			 lsm_table ***tables, size_t *ntables)
{
	lsm_db *db = r->db;
	lsm_job *j = r->j;
	size_t total = j->nin[0] + j->nin[1];
	lsm_rangedel *rd = NULL;
	size_t nrd = 0;
	int rc = 0;
	*its = calloc(total ? total : 1, sizeof **its);
	*tables = calloc(total ? total : 1, sizeof **tables);
	*nits = *ntables = 0;
	if (!*its || !*tables)
		return -ENOMEM;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < j->nin[k]; i++) {
			lsm_file_meta *f = j->in[k][i];
			char *path = lsm_fname(db->path, LSM_F_TABLE, f->number);
			lsm_table *t;
			if (!path)
				return -ENOMEM;
			/* the job's own handle, outside the shared caches */
			rc = lsm_table_open(db->env, path, f->size, NULL, &t);
			free(path);
			if (rc < 0)
				goto out;
			(*tables)[(*ntables)++] = t;
			r->bytes_read += f->size;
			const lsm_rangedel *trd;
			size_t tn = lsm_table_rangedels(t, &trd);
			if (tn) {
				lsm_rangedel *p = realloc(rd, (nrd + tn) * sizeof *p);
				if (!p) {
					rc = -ENOMEM;
					goto out;
				}
				rd = p;
				memcpy(rd + nrd, trd, tn * sizeof *trd);
				nrd += tn;
			}
			lsm_it *it = lsm_table_iter(t, false);
			if (!it) {
				rc = -ENOMEM;
				goto out;
			}
			(*its)[(*nits)++] = it;
		}
	}
	if (nrd) {
		r->frag = lsm_frag_new(rd, nrd);
		if (!r->frag)
			rc = -ENOMEM;
	}
out:
	free(rd);
	return rc;
}

/* Does no level below the output hold any key of the job's range? */
static void job_set_bottommost(const lsm_db *db, lsm_job *j)
{
	lsm_slice lo = {0}, hi = {0};
	bool first = true;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < j->nin[k]; i++) {
			lsm_slice s = ukey_of(&j->in[k][i]->smallest);
			lsm_slice g = ukey_of(&j->in[k][i]->largest);
			if (first || lsm_slice_cmp(s, lo) < 0)
				lo = s;
			if (first || lsm_slice_cmp(g, hi) > 0)
				hi = g;
			first = false;
		}
	j->bottommost = first || !below_holds(db, j, lo, hi);
}

static int run_job(struct job_run *r)
{
	lsm_db *db = r->db;
	lsm_job *j = r->j;
	lsm_it **its = NULL, *it = NULL;
	lsm_table **tables = NULL;
	size_t nits = 0, ntables = 0;
	lsm_buf cur = {0};	/* current user key */
	lsm_buf zk = {0};	/* a key with its sequence zeroed */
	bool have_cur = false;
	size_t last_stripe = 0;
	bool have_kept = false;
	uint64_t entries = 0;
	int rc;

	LSM_ERR(gather_inputs(r, &its, &nits, &tables, &ntables));
	job_set_bottommost(db, j);
	it = lsm_it_merge(its, nits, lsm_ikey_cmp);
	free(its);
	its = NULL;
	if (!it) {
		rc = -ENOMEM;
		goto err;
	}
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		lsm_slice ik = lsm_it_key(it), uk;
		uint64_t seq;
		int type;
		if ((++entries & 1023) == 0 && atomic_load(&db->cs->cancel)) {
			rc = lsm_err(LSM_E_CANCELLED, "compaction job %llu cancelled",
				     (unsigned long long)j->id);
			goto err;
		}
		if (!lsm_ikey_parse(ik, &uk, &seq, &type)) {
			rc = lsm_err(LSM_E_CORRUPT, "compaction job %llu: corrupt internal key",
				     (unsigned long long)j->id);
			goto err;
		}
		bool new_key = !have_cur || !lsm_slice_eq(uk, lsm_buf_slice(&cur));
		if (new_key) {
			LSM_ERR(lsm_buf_set(&cur, uk.data, uk.size));
			have_cur = true;
			have_kept = false;
		}
		size_t st = stripe(j, seq);
		bool drop = false;
		if (have_kept && st == last_stripe) {
			drop = true;			/* rule 1 */
		} else if (r->frag && seq < lsm_frag_cover(r->frag, uk, LSM_SEQ_MAX)) {
			/* covered: dropped if a covering tombstone shares
			 * its stripe (rule 3) */
			uint64_t c = lsm_frag_cover(r->frag, uk, j->snaps && st < j->nsnaps
									? j->snaps[st] : LSM_SEQ_MAX);
			if (c > seq)
				drop = true;
		}
		if (!drop && type == LSM_T_DEL && seq <= j->cutoff &&
		    !below_holds(db, j, uk, uk)) {
			drop = true;			/* rule 2 */
			r->tomb_dropped++;
			/* what it shadows falls under rule 1 */
			have_kept = true;
			last_stripe = st;
			continue;
		}
		if (drop) {
			r->dropped++;
			if (type == LSM_T_DEL)
				r->tomb_dropped++;
			continue;
		}
		/* an older version, or a covered one, survives only because a
		 * pinned sequence can still read it */
		if (have_kept || (r->frag && lsm_frag_cover(r->frag, uk, LSM_SEQ_MAX) > seq))
			r->held += ik.size + lsm_it_value(it).size;
		have_kept = true;
		last_stripe = st;
		/* cut a new table only between user keys (rule 4) */
		struct out_table *o = r->nouts ? &r->outs[r->nouts - 1] : NULL;
		if (o && new_key && lsm_tb_size_estimate(o->tb) >= db->opt.target_file_size) {
			o->held = r->held;
			r->held = 0;
			LSM_ERR(finish_output(r, o, &uk));
			o = NULL;
		}
		if (!o || !o->tb) {
			LSM_ERR(open_output(r, uk));
			o = &r->outs[r->nouts - 1];
		}
		if (j->bottommost && type == LSM_T_VAL && seq <= j->cutoff && seq != 0) {
			/* Nothing below, and every pin sees this version: its
			 * sequence says nothing any more.  Zero trailers make
			 * the bottom level smaller (they compress away), and
			 * it still sorts after any newer version kept. */
			lsm_buf_clear(&zk);
			LSM_ERR(lsm_ikey_append(&zk, uk, 0, LSM_T_VAL));
			ik = lsm_buf_slice(&zk);
		}
		LSM_ERR(lsm_tb_add(o->tb, ik, lsm_it_value(it)));
		uint64_t est = lsm_tb_size_estimate(o->tb);
		if (est > r->charged + (256u << 10)) {
			rate_charge(db, est - r->charged);
			r->charged = est;
		}
	}
	LSM_ERR(lsm_it_status(it));
	/* range tombstones may outlive every point key */
	if (r->nouts == 0 && r->frag) {
		lsm_slice b, e;
		const uint64_t *s;
		size_t ns;
		lsm_frag_at(r->frag, 0, &b, &e, &s, &ns);
		LSM_ERR(open_output(r, b));
	}
	if (r->nouts && r->outs[r->nouts - 1].tb) {
		r->outs[r->nouts - 1].held = r->held;
		LSM_ERR(finish_output(r, &r->outs[r->nouts - 1], NULL));
	}
	rc = 0;
err:
	lsm_it_free(it);
	if (its) {
		for (size_t i = 0; i < nits; i++)
			lsm_it_free(its[i]);
		free(its);
	}
	for (size_t i = 0; i < ntables; i++)
		lsm_table_close(tables[i]);
	free(tables);
	lsm_buf_free(&cur);
	lsm_buf_free(&zk);
	return rc;
}

static void held_set(struct lsm_compaction_state *cs, uint64_t number, uint64_t bytes)
{
	if (!bytes)
		return;
	if (cs->nheld == cs->capheld) {
		size_t cap = cs->capheld ? cs->capheld * 2 : 16;
		struct held *p = realloc(cs->held, cap * sizeof *p);
		if (!p)
			return;
		cs->held = p;
		cs->capheld = cap;
	}
	cs->held[cs->nheld].number = number;
	cs->held[cs->nheld].bytes = bytes;
	cs->nheld++;
}

/* Apply a finished job in one manifest edit.  REQUIRES: mu. */
static int install_job(lsm_db *db, struct job_run *r)
{
	lsm_job *j = r->j;
	lsm_version_edit e;
	int rc;
	lsm_edit_init(&e);
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < j->nin[k]; i++)
			LSM_ERR(lsm_edit_del_file(&e, j->in[k][i]->level,
						  j->in[k][i]->number));
	if (j->trivial) {
		/* The moved table keeps its meta object, not a copy: older
		 * versions still name the same file through it, and the file
		 * may be removed only when no version at all holds it.  With a
		 * copy, the old meta's zombie is forgotten while the number is
		 * live (lsm_db_remove_obsolete), so once the copy is compacted
		 * away the file went while a reader of an older version still
		 * needed it ("table named by the manifest is missing"). */
		LSM_ERR(lsm_edit_add_file(&e, j->out_level, j->in[0][0]));
	} else {
		for (size_t i = 0; i < r->nouts; i++)
			if (r->outs[i].meta->size > 0)
				LSM_ERR(lsm_edit_add_file(&e, j->out_level, r->outs[i].meta));
	}
	LSM_ERR(lsm_db_log_and_apply(db, &e));
	for (size_t i = 0; i < r->nouts; i++)
		if (r->outs[i].meta->size > 0)
			held_set(db->cs, r->outs[i].meta->number, r->outs[i].held);
err:
	lsm_edit_clear(&e);
	return rc;
}

static void *worker_main(void *arg)
{
	lsm_db *db = arg;
	struct lsm_compaction_state *cs = db->cs;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10); /* foreground first */
	pthread_mutex_lock(&db->mu);
	for (;;) {
		lsm_job *j = NULL;
		while (!cs->stop && !(db->bg_error == 0 && (j = pick_job(db)))) {
			if (cs->nospace_wait) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&cs->work_cv, &db->mu, &ts);
			} else {
				pthread_cond_wait(&cs->work_cv, &db->mu);
			}
		}
		if (cs->stop) {
			job_free(j);
			break;
		}
		cs->running++;
		struct job_run r;
		memset(&r, 0, sizeof r);
		r.db = db;
		r.j = j;
		int rc = 0;
		atomic_fetch_add(&db->space_reserved, j->reserve);
		pthread_mutex_unlock(&db->mu);
		if (!j->trivial)
			rc = run_job(&r);
		pthread_mutex_lock(&db->mu);
		atomic_fetch_sub(&db->space_reserved, j->reserve);
		if (rc == 0 && !cs->stop)
			rc = install_job(db, &r);
		else if (rc == 0)
			rc = LSM_E_CANCELLED;
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < j->nin[k]; i++)
				j->in[k][i]->being_compacted = false;
		cs->busy[j->level] = cs->busy[j->out_level] = false;
		cs->running--;
		if (rc == 0) {
			atomic_fetch_add(&db->st_compact_bytes, r.bytes_written);
			atomic_fetch_add(&db->st_compact_read, j->trivial ? 0 : r.bytes_read);
			atomic_fetch_add(&db->st_dropped, r.dropped);
			atomic_fetch_add(&db->st_tomb_dropped, r.tomb_dropped);
			atomic_fetch_add(&db->st_rtomb_dropped, r.rtomb_dropped);
			if (j->trivial)
				atomic_fetch_add(&db->st_trivial_moves, 1);
			else
				atomic_fetch_add(&db->st_compactions, 1);
			lsm_log(db, "compaction %llu (%s) L%d->L%d: %zu+%zu tables in, %zu out, %llu bytes written, %llu entries dropped%s",
				(unsigned long long)j->id, job_names[j->kind], j->level, j->out_level,
				j->nin[0], j->nin[1], r.nouts, (unsigned long long)r.bytes_written,
				(unsigned long long)r.dropped, j->trivial ? " (moved)" : "");
		} else if (rc != LSM_E_CANCELLED) {
			lsm_log(db, "compaction %llu failed: %s", (unsigned long long)j->id,
				lsm_errdetail());
		}
		char why[512];
		snprintf(why, sizeof why, "%s", lsm_errdetail());
		bool unsure = db->manifest_unsure;
		pthread_mutex_unlock(&db->mu);
		discard_outputs(&r, rc < 0 && !unsure);
		lsm_frag_free(r.frag);
		pthread_mutex_lock(&db->mu);
		/* The error is latched once the partial outputs are gone: who
		 * retries after running out of space needs that room.  Out of
		 * space is not latched: nothing was lost (the inputs stay), so
		 * writes go on while background jobs wait for room. */
		if (rc == -ENOSPC && !unsure) {
			cs->nospace_wait = true;	/* bg_cv is broadcast below */
		} else if (rc < 0 && rc != LSM_E_CANCELLED) {
			lsm_err_set_detail(why);
			lsm_db_set_bg_error(db, rc);
		}
		job_free(j);
		if (rc == 0)
			lsm_db_remove_obsolete(db);
		pthread_cond_broadcast(&db->bg_cv);
		pthread_cond_broadcast(&cs->work_cv);	/* check for more work */
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* ---- the orchestrator's entry points -------------------------------------------- */

int lsm_compact_init(lsm_db *db)
{
	struct lsm_compaction_state *cs = calloc(1, sizeof *cs);
	if (!cs)
		return -ENOMEM;
	pthread_cond_init(&cs->work_cv, NULL);
	pthread_mutex_init(&cs->rate_mu, NULL);
	atomic_init(&cs->cancel, false);
	cs->last_refill = db->env->now_micros(db->env);
	cs->threads = calloc((size_t)db->opt.compaction_threads, sizeof(pthread_t));
	db->cs = cs;
	if (!cs->threads)
		return -ENOMEM;
	for (int i = 0; i < db->opt.compaction_threads; i++) {
		if (pthread_create(&cs->threads[i], NULL, worker_main, db) != 0)
			return -EAGAIN;
		cs->nthreads++;
	}
	return 0;
}

void lsm_compact_pause(lsm_db *db)
{
	struct lsm_compaction_state *cs = db->cs;
	if (!cs)
		return;
	cs->paused++;
	while (cs->running > 0)
		pthread_cond_wait(&db->bg_cv, &db->mu);
}

void lsm_compact_resume(lsm_db *db)
{
	struct lsm_compaction_state *cs = db->cs;
	if (!cs)
		return;
	cs->paused--;
	pthread_cond_broadcast(&cs->work_cv);
}

bool lsm_compact_waiting_for_room(const lsm_db *db)
{
	return db->cs && db->cs->nospace_wait;
}

void lsm_compact_maybe_schedule(lsm_db *db)
{
	if (db->cs)
		pthread_cond_broadcast(&db->cs->work_cv);
}

void lsm_compact_shutdown(lsm_db *db)
{
	struct lsm_compaction_state *cs = db->cs;
	if (!cs)
		return;
	pthread_mutex_lock(&db->mu);
	cs->stop = true;
	atomic_store(&cs->cancel, true);
	pthread_cond_broadcast(&cs->work_cv);
	pthread_cond_broadcast(&db->bg_cv);
	pthread_mutex_unlock(&db->mu);
	for (int i = 0; i < cs->nthreads; i++)
		pthread_join(cs->threads[i], NULL);
	/* wait for manual callers to leave */
	pthread_mutex_lock(&db->mu);
	while (cs->manual_waiting || cs->manual_running)
		pthread_cond_wait(&db->bg_cv, &db->mu);
	pthread_mutex_unlock(&db->mu);
	free(cs->threads);
	free(cs->held);
	pthread_cond_destroy(&cs->work_cv);
	pthread_mutex_destroy(&cs->rate_mu);
	free(cs);
	db->cs = NULL;
}

void lsm_compact_stats(lsm_db *db, lsm_stats *st)
{
	struct lsm_compaction_state *cs = db->cs;
	if (!cs)
		return;
	st->compactions_running = (uint64_t)cs->running;
	for (size_t i = 0; i < cs->nheld; i++) {
		bool live = false;
		for (int l = 0; !live && l < LSM_MAX_LEVELS; l++)
			for (size_t k = 0; k < db->current->nfiles[l]; k++)
				if (db->current->files[l][k]->number == cs->held[i].number) {
					live = true;
					break;
				}
		if (live)
			st->bytes_held_by_cutoff += cs->held[i].bytes;
	}
}

static bool any_level_busy(const struct lsm_compaction_state *cs, int from, int to)
{
	for (int l = from; l <= to; l++)
		if (cs->busy[l])
			return true;
	return false;
}

/*
 * The manual job over [begin, end]: every table of every level that
 * overlaps it, with the range widened until no table outside the job
 * overlaps it (so no version of a key the job moves down stays above it),
 * merged straight into the last level.  Each byte is rewritten once, not
 * once per level.  REQUIRES: mu; no level busy.
 */
static lsm_job *manual_job(lsm_db *db, const lsm_slice *begin, const lsm_slice *end)
{
	lsm_version *v = db->current;
	int last = db->opt.num_levels - 1;
	lsm_buf lob = {0}, hib = {0};
	lsm_slice lo = begin ? *begin : (lsm_slice){0}, hi = end ? *end : (lsm_slice){0};
	bool has_lo = begin != NULL, has_hi = end != NULL;
	lsm_job *j = NULL;
	size_t total;

	for (bool widened = true; widened;) {
		widened = false;
		for (int l = 0; l <= last; l++) {
			lsm_file_meta **files = NULL;
			size_t n = lsm_version_overlapping(v, l, has_lo ? &lo : NULL,
							   has_hi ? &hi : NULL, &files);
			if (!files)
				goto out;
			for (size_t i = 0; i < n; i++) {
				lsm_slice s = ukey_of(&files[i]->smallest);
				lsm_slice g = ukey_of(&files[i]->largest);
				if (has_lo && lsm_slice_cmp(s, lo) < 0) {
					lsm_buf_set(&lob, s.data, s.size);
					lo = lsm_buf_slice(&lob);
					widened = true;
				}
				if (has_hi && lsm_slice_cmp(g, hi) > 0) {
					lsm_buf_set(&hib, g.data, g.size);
					hi = lsm_buf_slice(&hib);
					widened = true;
				}
			}
			free(files);
		}
	}
	j = job_new(db, JOB_MANUAL, 0, last);
	if (!j)
		goto out;
	total = 0;
	for (int l = 0; l <= last; l++)
		total += v->nfiles[l];
	j->in[0] = malloc((total ? total : 1) * sizeof(lsm_file_meta *));
	if (!j->in[0]) {
		job_free(j);
		j = NULL;
		goto out;
	}
	for (int l = 0; l <= last; l++) {
		lsm_file_meta **files = NULL;
		size_t n = lsm_version_overlapping(v, l, has_lo ? &lo : NULL, has_hi ? &hi : NULL,
						   &files);
		if (!files) {
			job_free(j);
			j = NULL;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			lsm_file_meta_ref(files[i]);
			j->in[0][j->nin[0]++] = files[i];
		}
		free(files);
	}
	j->level = 0;
out:
	lsm_buf_free(&lob);
	lsm_buf_free(&hib);
	return j;
}

/*
 * Manual compaction runs in the caller's thread, at the caller's priority
 * (the background workers run niced): it waits until no job holds a level
 * (new background jobs are held off meanwhile), reserves every level, runs
 * one job into the last level and installs it.  A latched out-of-space
 * error is cleared first, since compacting is how space comes back; the
 * job's own failure is returned, not latched (its outputs are removed and
 * nothing acknowledged depends on it).
 */
int lsm_compact_manual(lsm_db *db, const lsm_slice *begin, const lsm_slice *end)
{
	struct lsm_compaction_state *cs = db->cs;
	int last = db->opt.num_levels - 1;
	struct job_run r;
	lsm_job *j = NULL;
	int rc = 0;

	pthread_mutex_lock(&db->mu);
	if (db->bg_error == -ENOSPC)
		lsm_db_nospace_retry(db);
	cs->manual_waiting++;
	/* Another job running out of space does not stop this one: its
	 * levels come free, nothing new starts while a manual job waits, and
	 * this job, which sees every tombstone, may well fit. */
	while (!cs->stop && (!db->bg_error || db->bg_error == -ENOSPC) &&
	       (cs->paused || any_level_busy(cs, 0, last)))
		pthread_cond_wait(&db->bg_cv, &db->mu);
	if (db->bg_error == -ENOSPC)
		lsm_db_nospace_retry(db);
	cs->manual_waiting--;
	if (cs->stop || db->bg_error) {
		if (db->bg_error) {
			rc = db->bg_error;
			lsm_err_set_detail(db->bg_error_detail);
		} else {
			rc = lsm_err(LSM_E_CLOSED, "database is closing");
		}
		goto out;
	}
	j = manual_job(db, begin, end);
	if (!j) {
		rc = -ENOMEM;
		goto out;
	}
	if (j->nin[0] == 0)
		goto out;	/* nothing in the range */
	uint64_t *snaps = NULL;
	size_t nsnaps = 0;
	j->cutoff = lsm_db_snapshot_list(db, &snaps, &nsnaps);
	if (nsnaps == SIZE_MAX) {
		rc = -ENOMEM;
		goto out;
	}
	j->snaps = snaps;
	j->nsnaps = nsnaps;
	j->ver = db->current;
	lsm_version_ref(j->ver);
	for (size_t i = 0; i < j->nin[0]; i++)
		j->in[0][i]->being_compacted = true;
	for (int l = 0; l <= last; l++)
		cs->busy[l] = true;
	cs->manual_running++;
	memset(&r, 0, sizeof r);
	r.db = db;
	r.j = j;
	pthread_mutex_unlock(&db->mu);
	rc = run_job(&r);
	pthread_mutex_lock(&db->mu);
	if (rc == 0)
		rc = install_job(db, &r);
	for (size_t i = 0; i < j->nin[0]; i++)
		j->in[0][i]->being_compacted = false;
	for (int l = 0; l <= last; l++)
		cs->busy[l] = false;
	cs->manual_running--;
	if (rc == 0) {
		atomic_fetch_add(&db->st_compact_bytes, r.bytes_written);
		atomic_fetch_add(&db->st_compact_read, r.bytes_read);
		atomic_fetch_add(&db->st_dropped, r.dropped);
		atomic_fetch_add(&db->st_tomb_dropped, r.tomb_dropped);
		atomic_fetch_add(&db->st_rtomb_dropped, r.rtomb_dropped);
		atomic_fetch_add(&db->st_compactions, 1);
		lsm_log(db, "compaction %llu (manual) L0..L%d->L%d: %zu tables in, %zu out, %llu bytes written, %llu entries dropped",
			(unsigned long long)j->id, last, last, j->nin[0], r.nouts,
			(unsigned long long)r.bytes_written, (unsigned long long)r.dropped);
	} else {
		lsm_log(db, "manual compaction failed: %s", lsm_errdetail());
	}
	bool unsure = db->manifest_unsure;
	pthread_mutex_unlock(&db->mu);
	discard_outputs(&r, rc < 0 && !unsure);
	lsm_frag_free(r.frag);
	job_free(j);	/* before removing obsolete files: the job holds its inputs */
	j = NULL;
	pthread_mutex_lock(&db->mu);
	if (rc == 0)
		lsm_db_remove_obsolete(db);
out:
	pthread_cond_broadcast(&db->bg_cv);
	pthread_cond_broadcast(&cs->work_cv);
	pthread_mutex_unlock(&db->mu);
	job_free(j);
	return rc;
}

int lsm_compact_range(lsm_db *db, const void *begin, size_t blen,
		      const void *end, size_t elen)
{
	lsm_slice b = lsm_slice_of(begin, blen), e = lsm_slice_of(end, elen);
	if (db->read_only)
		return lsm_err(LSM_E_NOTSUP, "store is open read-only");
	/* Out of space may be another job's (a background compaction that
	 * did not see the newest tombstones ran out of room); compacting is
	 * how room comes back, so try again a few times: each attempt clears
	 * the latched error (db.c lsm_db_nospace_retry). */
	int rc = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		rc = lsm_flush(db, true);
		if (rc == 0)
			rc = lsm_compact_manual(db, begin ? &b : NULL, end ? &e : NULL);
		if (rc != -ENOSPC)
			break;
	}
	return rc;
}
