/*
 * db.c — the database: open and recovery, the write path with group
 * commit and write stalls, point reads, snapshots, the flush thread,
 * removal of obsolete files, statistics.
 *
 * Write path (one leader at a time, see db_impl.h for locks):
 *   writer enqueues -> the head of the queue becomes leader -> makes room
 *   (may switch memtables, delay or stall) -> merges followers' batches
 *   into one group -> unlocks -> appends the group to the WAL (one record)
 *   and, if any member asked, syncs it once for all -> inserts the group
 *   into the memtable -> locks -> publishes last_seq -> wakes the group.
 * A failed WAL append or sync is latched: every later write returns it.
 *
 * Recovery: CURRENT -> manifest edits -> the version; then every WAL at or
 * above the manifest's log number is replayed into memtables (flushed to
 * L0 as they fill), a fresh WAL and manifest are started, and files no
 * version names are removed and logged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "db_impl.h"

#define GROUP_MAX (1u << 20)

void lsm_options_init(lsm_options *o)
{
	memset(o, 0, sizeof *o);
	o->write_buffer_size = 64u << 20;
	o->max_immutable = 2;
	o->block_size = 4096;
	o->block_restart_interval = 16;
	o->compression = 1;
	o->compression_l0l1 = -1;
	o->bloom_bits_per_key = 10;
	o->block_cache_size = 64u << 20;
	o->max_open_tables = 1000;
	o->target_file_size = 8u << 20;
	o->l0_compaction_trigger = 4;
	o->l0_slowdown_trigger = 8;
	o->l0_stop_trigger = 12;
	o->level_base_bytes = 64u << 20;
	o->level_multiplier = 10;
	o->num_levels = 7;
	o->compaction_threads = 1;
	o->tombstone_density = 0.20;
	o->emergency_dead_ratio = 0.70;
}

void lsm_log(lsm_db *db, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!db->opt.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	db->opt.log(db->opt.log_ctx, line);
}

void lsm_db_set_bg_error(lsm_db *db, int err)
{
	if (db->bg_error || err >= 0)
		return;
	db->bg_error = err;
	snprintf(db->bg_error_detail, sizeof db->bg_error_detail, "%s",
		 lsm_errdetail()[0] ? lsm_errdetail() : lsm_strerror(err));
	lsm_log(db, "background error latched: %s (%s); writes will fail",
		lsm_strerror(err), db->bg_error_detail);
	pthread_cond_broadcast(&db->bg_cv);
}

static int latched(lsm_db *db)
{
	lsm_err_set_detail(db->bg_error_detail);
	return db->bg_error;
}

uint64_t lsm_db_new_file_number(lsm_db *db)
{
	return db->next_file++;
}

void lsm_db_pending_add(lsm_db *db, uint64_t number)
{
	if (db->npending == db->cap_pending) {
		size_t cap = db->cap_pending ? db->cap_pending * 2 : 16;
		uint64_t *p = realloc(db->pending_outputs, cap * sizeof *p);
		if (!p) {
			/* the file being written must not look obsolete:
			 * stop removing tables until the next open */
			db->keep_tables = true;
			return;
		}
		db->pending_outputs = p;
		db->cap_pending = cap;
	}
	db->pending_outputs[db->npending++] = number;
}

void lsm_db_pending_remove(lsm_db *db, uint64_t number)
{
	for (size_t i = 0; i < db->npending; i++)
		if (db->pending_outputs[i] == number) {
			db->pending_outputs[i] = db->pending_outputs[--db->npending];
			return;
		}
}

static bool pending(lsm_db *db, uint64_t number)
{
	for (size_t i = 0; i < db->npending; i++)
		if (db->pending_outputs[i] == number)
			return true;
	return false;
}

static int cmp_number(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The live table numbers of v, sorted (malloc'd; NULL when out of memory). */
static uint64_t *live_numbers(const lsm_version *v, size_t *n)
{
	size_t total = 0, k = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		total += v->nfiles[l];
	uint64_t *a = malloc((total ? total : 1) * sizeof *a);
	if (!a)
		return NULL;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (size_t i = 0; i < v->nfiles[l]; i++)
			a[k++] = v->files[l][i]->number;
	qsort(a, k, sizeof *a, cmp_number);
	*n = k;
	return a;
}

/*
 * The directory listing and the unlinks run with mu released (they are
 * I/O, and writers and readers need mu); only the decisions are made
 * under it, against the state of that moment.  A table number never
 * becomes live again once dropped, so a decision stays right while mu is
 * released; two concurrent runs at worst both try one unlink.
 */
void lsm_db_remove_obsolete(lsm_db *db)
{
	char **names = NULL, **doomed = NULL;
	size_t n = 0, ndoomed = 0, nlive = 0;
	uint64_t *live = NULL;
	/* While a failed edit may be durable, or no manifest writer says
	 * which manifest CURRENT names, every file may still be needed. */
	if (db->read_only || db->manifest_unsure || !db->manifest)
		return;
	pthread_mutex_unlock(&db->mu);
	int rc = db->env->list(db->env, db->path, &names, &n);
	pthread_mutex_lock(&db->mu);
	if (rc < 0 || db->manifest_unsure || !db->manifest)
		goto out;
	live = live_numbers(db->current, &nlive);
	doomed = calloc(n ? n : 1, sizeof *doomed);
	if (!live || !doomed)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t num;
		enum lsm_ftype t = lsm_fname_parse(names[i], &num);
		bool keep = true;
		switch (t) {
		case LSM_F_LOG:
			keep = num >= db->min_log_number || num == db->log_number;
			for (size_t j = 0; j < db->nimm; j++)
				keep |= db->imm[j].log_number == num;
			break;
		case LSM_F_MANIFEST:
			keep = num == db->manifest_number;
			break;
		case LSM_F_TABLE:
			keep = db->keep_tables || pending(db, num) ||
			       bsearch(&num, live, nlive, sizeof *live, cmp_number);
			for (size_t z = 0; !keep && z < db->nzombies; z++)
				if (db->zombies[z]->number == num &&
				    __atomic_load_n(&db->zombies[z]->refs, __ATOMIC_ACQUIRE) > 1)
					keep = true;
			break;
		case LSM_F_TEMP:
			keep = db->keep_tables || pending(db, num);
			break;
		default:
			break;
		}
		if (!keep) {
			doomed[ndoomed++] = names[i];
			names[i] = NULL;
		}
	}
	/* Forget zombies no older version holds any more (their files go
	 * below) or that a trivial move kept live under the same number. */
	size_t k = 0;
	for (size_t z = 0; z < db->nzombies; z++) {
		lsm_file_meta *m = db->zombies[z];
		if (__atomic_load_n(&m->refs, __ATOMIC_ACQUIRE) > 1 &&
		    !bsearch(&m->number, live, nlive, sizeof *live, cmp_number))
			db->zombies[k++] = m;
		else
			lsm_file_meta_unref(m);
	}
	db->nzombies = k;
	pthread_mutex_unlock(&db->mu);
	for (size_t i = 0; i < ndoomed; i++) {
		uint64_t num;
		char *p;
		if (lsm_fname_parse(doomed[i], &num) == LSM_F_TABLE)
			lsm_tcache_evict(db, num);
		if (asprintf(&p, "%s/%s", db->path, doomed[i]) < 0)
			continue;
		if (db->env->remove(db->env, p) == 0)
			lsm_log(db, "removed obsolete file %s", doomed[i]);
		free(p);
	}
	pthread_mutex_lock(&db->mu);
out:
	lsm_env_free_list(doomed, ndoomed);
	lsm_env_free_list(names, n);
	free(live);
}

void lsm_db_add_zombie(lsm_db *db, lsm_file_meta *m)
{
	if (db->nzombies == db->cap_zombies) {
		size_t cap = db->cap_zombies ? db->cap_zombies * 2 : 16;
		lsm_file_meta **p = realloc(db->zombies, cap * sizeof *p);
		if (!p) {
			/* a reader may still use it: stop removing tables
			 * until the next open, which removes it */
			db->keep_tables = true;
			return;
		}
		db->zombies = p;
		db->cap_zombies = cap;
	}
	lsm_file_meta_ref(m);
	db->zombies[db->nzombies++] = m;
}

/* ---- the write path -------------------------------------------------------- */

static int switch_memtable(lsm_db *db)
{
	uint64_t number = lsm_db_new_file_number(db);
	char *path = lsm_fname(db->path, LSM_F_LOG, number);
	lsm_file *f = NULL;
	lsm_wal_writer *w = NULL;
	lsm_memtable *m = NULL;
	lsm_memrec *imm;
	int rc = 0;

	if (!path)
		return -ENOMEM;
	LSM_ERR(db->env->open(db->env, path, LSM_OPEN_WRITE, &f));
	rc = lsm_wal_writer_new(db->env, f, path, 0, &w);
	if (rc < 0)
		goto err;
	f = NULL;
	/* The new log's name must be durable before a sync of the log can
	 * promise durability to a writer. */
	LSM_ERR(db->env->sync_dir(db->env, db->path));
	m = lsm_mem_new();
	pthread_mutex_lock(&db->sv_mu);	/* realloc may move the array */
	imm = realloc(db->imm, (db->nimm + 1) * sizeof *imm);
	if (imm)
		db->imm = imm;
	pthread_mutex_unlock(&db->sv_mu);
	if (!m || !imm) {
		rc = -ENOMEM;
		goto err;
	}
	/* Writes in the old log that were not synced become durable only
	 * when its memtable is flushed; sync it now so that lsm_sync, which
	 * syncs the current log, covers every earlier write.  (A log whose
	 * append failed is retired here too: see lsm_db_nospace_retry.) */
	LSM_ERR(lsm_wal_sync_final(db->log));
	lsm_wal_writer_close(db->log);
	db->log = w;
	db->log_number = number;
	w = NULL;
	pthread_mutex_lock(&db->sv_mu);
	db->imm[db->nimm++] = db->mem;
	db->mem.mem = m;
	db->mem.log_number = number;
	pthread_mutex_unlock(&db->sv_mu);
	m = NULL;
	pthread_cond_signal(&db->flush_cv);
err:
	if (f)
		db->env->close(db->env, f);
	if (w) {
		lsm_wal_writer_close(w);
		db->env->remove(db->env, path);
	}
	if (m)
		lsm_mem_unref(m);
	free(path);
	return rc;
}

/*
 * Running out of space is the one latched error that can go away: the user
 * deletes files, compaction or another process frees space.  So a latched
 * -ENOSPC does not stop writes for good: a write that finds it (once per
 * call) clears it and tries again.  The flush thread and the compaction
 * workers are woken to retry their jobs (a failed job has removed its
 * partial output), and a log whose append failed — it may end in part of
 * a record, after which nothing may be appended — is retired by make_room
 * like a full memtable: synced as it is, replaced by a fresh log, its
 * memtable flushed like any other.  If anything fails again, the error is
 * latched again and the caller gets it.  Every other error stays latched.
 * Manual compactions retry the same way (compact.c manual_level).
 * REQUIRES: mu held, bg_error == -ENOSPC; a caller that writes next must
 * be the write leader (make_room then retires a failed log).
 */
void lsm_db_nospace_retry(lsm_db *db)
{
	lsm_log(db, "out of space earlier (%s); trying again", db->bg_error_detail);
	db->bg_error = 0;
	pthread_cond_signal(&db->flush_cv);
	lsm_compact_maybe_schedule(db);
}

/* REQUIRES: mu held, caller is the write leader. */
static int make_room(lsm_db *db, bool force)
{
	bool allow_delay = !force;
	bool retried = false;
	for (;;) {
		if (db->bg_error) {
			if (db->bg_error != -ENOSPC || retried)
				return latched(db);
			retried = true;
			lsm_db_nospace_retry(db);
			continue;
		}
		if (db->closing)
			return lsm_err(LSM_E_CLOSED, "database is closing");
		size_t l0 = db->current->nfiles[0];
		/* Slowing or stopping writes until compaction catches up makes
		 * sense only while it can run: when it waits for disk space,
		 * waiting here could last for ever, and the writes that would
		 * wait include the deletions that bring space back.  L0 then
		 * grows past its triggers; flushes still need their room and
		 * fail with ENOSPC without it. */
		bool compacting = !db->opt.disable_auto_compaction &&
				  !lsm_compact_waiting_for_room(db);
		if (allow_delay && compacting &&
		    l0 >= (size_t)db->opt.l0_slowdown_trigger) {
			/* Spread the slowdown over many writes instead of
			 * stopping one for a long time. */
			atomic_fetch_add(&db->st_slowdowns, 1);
			pthread_mutex_unlock(&db->mu);
			db->env->sleep_micros(db->env, 1000);
			pthread_mutex_lock(&db->mu);
			allow_delay = false;
			continue;
		}
		/* after lsm_db_nospace_retry: a log whose append failed is replaced */
		bool retire = lsm_wal_failed(db->log);
		/* an empty memtable always has room (even when the buffer is
		 * set below what an empty one takes) */
		if (!retire && !force && (lsm_mem_empty(db->mem.mem) ||
					  lsm_mem_usage(db->mem.mem) <= db->opt.write_buffer_size))
			return 0;
		if (!retire && force && lsm_mem_empty(db->mem.mem))
			return 0;
		if (db->nimm >= (size_t)db->opt.max_immutable) {
			atomic_fetch_add(&db->st_stalls, 1);
			pthread_cond_wait(&db->bg_cv, &db->mu);
			continue;
		}
		if (compacting && l0 >= (size_t)db->opt.l0_stop_trigger) {
			atomic_fetch_add(&db->st_stalls, 1);
			lsm_compact_maybe_schedule(db);
			pthread_cond_wait(&db->bg_cv, &db->mu);
			continue;
		}
		int rc = switch_memtable(db);
		if (rc < 0) {
			lsm_db_set_bg_error(db, rc);
			return rc;
		}
		force = false;
	}
}

/* Join the write queue and wait to lead it.  Returns true when w leads
 * (mu held); false when a leader completed w (mu held, w->status set). */
static bool lead_wait(lsm_db *db, lsm_writer *w)
{
	if (db->wq_tail)
		db->wq_tail->next = w;
	else
		db->wq_head = w;
	db->wq_tail = w;
	while (!w->done && db->wq_head != w)
		pthread_cond_wait(&w->cv, &db->mu);
	return !w->done;
}

/* Complete the writers from the head up to last with rc, hand leadership
 * to the next in line.  REQUIRES: mu held, leader == head. */
static void lead_release(lsm_db *db, lsm_writer *leader, lsm_writer *last, int rc)
{
	for (;;) {
		lsm_writer *h = db->wq_head;
		db->wq_head = h->next;
		if (!db->wq_head)
			db->wq_tail = NULL;
		if (h != leader) {
			h->status = rc;
			h->done = true;
			pthread_cond_signal(&h->cv);
		}
		if (h == last)
			break;
	}
	if (db->wq_head)
		pthread_cond_signal(&db->wq_head->cv);
}

static void writer_init(lsm_writer *w, lsm_batch *b, bool sync, bool force)
{
	memset(w, 0, sizeof *w);
	w->batch = b;
	w->sync = sync;
	w->force = force;
	pthread_cond_init(&w->cv, NULL);
}

int lsm_db_lead_begin(lsm_db *db, lsm_writer *w)
{
	writer_init(w, NULL, false, false);
	pthread_mutex_lock(&db->mu);
	lead_wait(db, w);	/* a NULL-batch writer is never completed by others */
	return 0;
}

void lsm_db_lead_end(lsm_db *db, lsm_writer *w)
{
	lead_release(db, w, w, 0);
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w->cv);
}

int lsm_db_make_room(lsm_db *db, bool force)
{
	return make_room(db, force);
}

static int write_internal(lsm_db *db, const lsm_write_options *wo,
			  lsm_batch *b, bool force_switch)
{
	lsm_writer w;
	int rc = 0;

	if (db->read_only)
		return lsm_err(LSM_E_NOTSUP, "store is open read-only");
	writer_init(&w, b, wo && wo->sync, force_switch);
	pthread_mutex_lock(&db->mu);
	if (!lead_wait(db, &w)) {
		pthread_mutex_unlock(&db->mu);
		pthread_cond_destroy(&w.cv);
		if (w.status < 0)
			lsm_err_set_detail(db->bg_error_detail);
		return w.status;
	}

	lsm_writer *last = &w;
	rc = make_room(db, force_switch);
	if (rc == 0) {
		/* Build the group: followers join while the group stays
		 * small, and a non-sync leader never carries a sync write.
		 * A follower asking for a memtable switch ends the group. */
		lsm_batch *group = b;
		uint32_t count = b ? lsm_batch_count(b) : 0;
		bool sync = w.sync;
		size_t size = b ? lsm_batch_size(b) : 0;
		size_t limit = size <= (128u << 10) ? size + (128u << 10) : GROUP_MAX;
		for (lsm_writer *f = w.next; f; f = f->next) {
			if ((f->sync && !sync) || f->force)
				break;
			if (!f->batch) {
				/* only an lsm_sync rides along; a non-sync
				 * NULL-batch writer (lsm_db_lead_begin) must
				 * lead itself */
				if (!f->sync)
					break;
				last = f;
				continue;
			}
			if (size + lsm_batch_size(f->batch) > limit)
				break;
			if (group != db->group) {
				lsm_batch_clear(db->group);
				if (group && (rc = lsm_batch_append(db->group, group)) < 0)
					break;
				group = db->group;
			}
			if ((rc = lsm_batch_append(group, f->batch)) < 0)
				break;
			size += lsm_batch_size(f->batch);
			count += lsm_batch_count(f->batch);
			last = f;
		}
		if (rc == 0 && (count > 0 || sync)) {
			uint64_t seq = atomic_load_explicit(&db->last_seq, memory_order_relaxed) + 1;
			lsm_wal_writer *log = db->log;
			lsm_memtable *mem = db->mem.mem;
			if (count > 0)
				lsm_batch_set_seq(group, seq);
			pthread_mutex_unlock(&db->mu);
			if (count > 0) {
				rc = lsm_wal_add(log, lsm_batch_rep(group));
				atomic_fetch_add(&db->st_wal_bytes, lsm_batch_size(group));
			}
			if (rc == 0 && sync)
				rc = lsm_wal_sync(log);
			if (rc == 0 && count > 0) {
				rc = lsm_batch_insert(group, mem);
				atomic_fetch_add(&db->st_user_bytes, lsm_batch_user_bytes(group));
			}
			pthread_mutex_lock(&db->mu);
			if (rc < 0)
				lsm_db_set_bg_error(db, rc);
			else if (count > 0)
				atomic_store_explicit(&db->last_seq, seq + count - 1,
						      memory_order_release);
		}
		if (group == db->group)
			lsm_batch_clear(db->group);
	}
	lead_release(db, &w, last, rc);
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

int lsm_write(lsm_db *db, const lsm_write_options *wo, lsm_batch *b)
{
	if (!b)
		return lsm_err(LSM_E_INVALID, "no batch");
	return write_internal(db, wo, b, false);
}

int lsm_sync(lsm_db *db)
{
	lsm_write_options wo = { .sync = true };
	return write_internal(db, &wo, NULL, false);
}

static int write_one(lsm_db *db, const lsm_write_options *wo, int type,
		     const void *k, size_t kl, const void *v, size_t vl)
{
	lsm_batch *b = lsm_batch_new();
	int rc;
	if (!b)
		return -ENOMEM;
	if (type == LSM_T_VAL)
		rc = lsm_batch_put(b, k, kl, v, vl);
	else if (type == LSM_T_DEL)
		rc = lsm_batch_delete(b, k, kl);
	else
		rc = lsm_batch_delete_range(b, k, kl, v, vl);
	if (rc == 0)
		rc = lsm_write(db, wo, b);
	lsm_batch_free(b);
	return rc;
}

int lsm_put(lsm_db *db, const lsm_write_options *wo, const void *key,
	    size_t klen, const void *val, size_t vlen)
{
	return write_one(db, wo, LSM_T_VAL, key, klen, val, vlen);
}

int lsm_delete(lsm_db *db, const lsm_write_options *wo, const void *key,
	       size_t klen)
{
	return write_one(db, wo, LSM_T_DEL, key, klen, NULL, 0);
}

int lsm_delete_range(lsm_db *db, const lsm_write_options *wo,
		     const void *begin, size_t blen, const void *end,
		     size_t elen)
{
	return write_one(db, wo, LSM_T_RANGEDEL, begin, blen, end, elen);
}

/* ---- point reads -------------------------------------------------------------- */

/* Newest-to-oldest search; tomb carries the highest range-tombstone
 * sequence covering the key seen so far (sources are ordered by age, so a
 * point entry older than it is deleted). */
static int get_decide(int rc, int type, uint64_t seq, uint64_t tomb)
{
	if (rc < 0)
		return rc;
	if (type == LSM_T_DEL || seq < tomb)
		return LSM_E_NOTFOUND;
	return 0;
}

static int get_from_file(lsm_db *db, lsm_file_meta *f, lsm_slice k,
			 uint64_t snap, bool fill, lsm_buf *val,
			 uint64_t *tomb, bool *decided)
{
	lsm_cache_handle *h;
	int type, rc;
	uint64_t seq;

	if (f->min_seq > snap && f->min_seq != 0)
		return 0;
	rc = lsm_tcache_get(db, f, &h);
	if (rc < 0) {
		*decided = true;
		return rc;
	}
	lsm_tcache_entry *e = lsm_tcache_entry_of(h);
	if (e->frag) {
		uint64_t c = lsm_frag_cover(e->frag, k, snap);
		if (c > *tomb)
			*tomb = c;
	}
	rc = lsm_table_get(e->table, k, snap, fill, val, &type, &seq);
	lsm_cache_release(db->table_cache, h);
	if (rc == LSM_E_NOTFOUND)
		return 0;
	*decided = true;
	return get_decide(rc, type, seq, *tomb);
}

int lsm_get(lsm_db *db, const lsm_read_options *ro, const void *key,
	    size_t klen, void **val, size_t *vlen)
{
	lsm_slice k = lsm_slice_of(key, klen);
	lsm_buf v = {0};
	lsm_memrec mems[8];
	lsm_memrec *mp = mems;
	size_t nm = 0;
	lsm_version *ver;
	uint64_t snap, tomb = 0, seq;
	bool fill = ro ? ro->fill_cache : true;
	bool decided = false;
	int rc = LSM_E_NOTFOUND, type;

	pthread_mutex_lock(&db->sv_mu);
	snap = ro && ro->snapshot ? ro->snapshot->seq
				  : atomic_load_explicit(&db->last_seq, memory_order_acquire);
	if (db->nimm + 1 > 8) {
		mp = malloc((db->nimm + 1) * sizeof *mp);
		if (!mp) {
			pthread_mutex_unlock(&db->sv_mu);
			return -ENOMEM;
		}
	}
	mp[nm++] = db->mem;
	for (size_t i = db->nimm; i-- > 0;)
		mp[nm++] = db->imm[i];
	for (size_t i = 0; i < nm; i++)
		lsm_mem_ref(mp[i].mem);
	ver = db->current;
	lsm_version_ref(ver);
	pthread_mutex_unlock(&db->sv_mu);

	for (size_t i = 0; i < nm && !decided; i++) {
		uint64_t c = lsm_mem_rangedel_cover(mp[i].mem, k, snap);
		if (c > tomb)
			tomb = c;
		int r = lsm_mem_get(mp[i].mem, k, snap, &v, &type, &seq);
		if (r != LSM_E_NOTFOUND) {
			decided = true;
			rc = get_decide(r, type, seq, tomb);
		}
	}
	for (size_t i = 0; !decided && i < ver->nfiles[0]; i++) {
		lsm_file_meta *f = ver->files[0][i];
		lsm_slice s = lsm_ikey_user(lsm_buf_slice(&f->smallest));
		lsm_slice l = lsm_ikey_user(lsm_buf_slice(&f->largest));
		if (lsm_slice_cmp(k, s) < 0 || lsm_slice_cmp(k, l) > 0)
			continue;
		rc = get_from_file(db, f, k, snap, fill, &v, &tomb, &decided);
	}
	for (int lv = 1; !decided && lv < LSM_MAX_LEVELS; lv++) {
		size_t n = ver->nfiles[lv];
		if (!n)
			continue;
		/* Usually one table; two when a table's range ends with a
		 * range tombstone's exclusive end equal to k, the first key
		 * of the next table. */
		for (size_t i = lsm_version_find(ver->files[lv], n, k); !decided && i < n; i++) {
			lsm_file_meta *f = ver->files[lv][i];
			if (lsm_slice_cmp(k, lsm_ikey_user(lsm_buf_slice(&f->smallest))) < 0)
				break;
			rc = get_from_file(db, f, k, snap, fill, &v, &tomb, &decided);
		}
	}
	if (!decided)
		rc = LSM_E_NOTFOUND;
	for (size_t i = 0; i < nm; i++)
		lsm_mem_unref(mp[i].mem);
	if (mp != mems)
		free(mp);
	lsm_version_unref(ver);
	if (rc == 0) {
		if (v.len == 0) {
			/* a zero-length value still needs a freeable pointer */
			lsm_buf_reserve(&v, 1);
			if (!v.data)
				return -ENOMEM;
		}
		*val = v.data;
		*vlen = v.len;
		return 0;
	}
	lsm_buf_free(&v);
	if (rc == LSM_E_NOTFOUND)
		return LSM_E_NOTFOUND;
	return rc;
}

/* ---- snapshots ---------------------------------------------------------------- */

const lsm_snapshot *lsm_snapshot_acquire(lsm_db *db)
{
	lsm_snapshot *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	pthread_mutex_lock(&db->snap_mu);
	s->seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
	s->next = &db->snap_head;
	s->prev = db->snap_head.prev;
	s->prev->next = s;
	db->snap_head.prev = s;
	db->nsnapshots++;
	pthread_mutex_unlock(&db->snap_mu);
	return s;
}

void lsm_snapshot_release(lsm_db *db, const lsm_snapshot *cs)
{
	lsm_snapshot *s = (lsm_snapshot *)cs;
	bool was_oldest;
	if (!s)
		return;
	pthread_mutex_lock(&db->snap_mu);
	was_oldest = db->snap_head.next == s;
	s->prev->next = s->next;
	s->next->prev = s->prev;
	db->nsnapshots--;
	pthread_mutex_unlock(&db->snap_mu);
	free(s);
	if (was_oldest && !db->read_only) {
		/* The cutoff moved: tables whose garbage is now collectable
		 * become candidates. */
		pthread_mutex_lock(&db->mu);
		lsm_compact_maybe_schedule(db);
		pthread_mutex_unlock(&db->mu);
	}
}

uint64_t lsm_snapshot_seq(const lsm_snapshot *s)
{
	return s->seq;
}

uint64_t lsm_last_seq(lsm_db *db)
{
	return atomic_load_explicit(&db->last_seq, memory_order_acquire);
}

uint64_t lsm_oldest_pinned_seq(lsm_db *db)
{
	uint64_t r;
	pthread_mutex_lock(&db->snap_mu);
	r = db->snap_head.next != &db->snap_head
		    ? db->snap_head.next->seq
		    : atomic_load_explicit(&db->last_seq, memory_order_acquire);
	pthread_mutex_unlock(&db->snap_mu);
	return r;
}

uint64_t lsm_db_snapshot_list(lsm_db *db, uint64_t **seqs, size_t *n)
{
	uint64_t cutoff;
	size_t i = 0;
	pthread_mutex_lock(&db->snap_mu);
	cutoff = db->snap_head.next != &db->snap_head
			 ? db->snap_head.next->seq
			 : atomic_load_explicit(&db->last_seq, memory_order_acquire);
	*seqs = malloc((db->nsnapshots + 1) * sizeof(uint64_t));
	for (lsm_snapshot *s = db->snap_head.next; *seqs && s != &db->snap_head; s = s->next)
		if (i == 0 || (*seqs)[i - 1] != s->seq)
			(*seqs)[i++] = s->seq;
	pthread_mutex_unlock(&db->snap_mu);
	/* without the list, stripes are unknown: no garbage may be judged */
	*n = *seqs ? i : SIZE_MAX;
	return cutoff;
}

/* ---- building tables (flush) ---------------------------------------------------- */

void lsm_table_opts_from(const lsm_options *o, int level, lsm_table_opts *to)
{
	to->block_size = o->block_size;
	to->restart_interval = o->block_restart_interval;
	to->compression = o->compression && level <= 1 ? o->compression_l0l1 : o->compression;
	to->bloom_bits_per_key = o->bloom_bits_per_key;
}

int lsm_meta_from_props(lsm_file_meta *m, const lsm_table_props *p)
{
	m->size = p->file_size;
	m->min_seq = p->min_seq;
	m->max_seq = p->max_seq;
	m->entries = p->entries;
	m->deletions = p->deletions;
	m->range_deletions = p->range_deletions;
	m->raw_bytes = p->raw_key_bytes + p->raw_value_bytes;
	LSM_TRY(lsm_buf_set(&m->smallest, p->smallest.data, p->smallest.len));
	return lsm_buf_set(&m->largest, p->largest.data, p->largest.len);
}

int lsm_out_open(lsm_db *db, uint64_t number, int level, lsm_out_table *o)
{
	lsm_table_opts to;
	int rc;
	memset(o, 0, sizeof *o);
	o->path = lsm_fname(db->path, LSM_F_TABLE, number);
	if (!o->path)
		return -ENOMEM;
	lsm_table_opts_from(&db->opt, level, &to);
	LSM_ERR(db->env->open(db->env, o->path, LSM_OPEN_WRITE, &o->f));
	LSM_ERR(lsm_tb_new(db->env, o->f, o->path, &to, &o->tb));
	return 0;
err:
	lsm_out_abandon(db, o, true);
	return rc;
}

void lsm_out_abandon(lsm_db *db, lsm_out_table *o, bool remove)
{
	if (o->tb)
		lsm_tb_free(o->tb);
	if (o->f)
		db->env->close(db->env, o->f);
	if (remove && o->path)
		db->env->remove(db->env, o->path);
	free(o->path);
	memset(o, 0, sizeof *o);
}

int lsm_out_finish(lsm_db *db, lsm_out_table *o, lsm_file_meta *meta)
{
	lsm_table_props props;
	int rc;
	memset(&props, 0, sizeof props);
	meta->size = 0;
	LSM_ERR(lsm_tb_finish(o->tb, &props));
	if (props.entries == 0 && props.range_deletions == 0)
		goto err;	/* nothing to keep: rc 0, size 0, file removed */
	LSM_ERR(db->env->sync(db->env, o->f));
	LSM_ERR(lsm_meta_from_props(meta, &props));
	lsm_tb_free(o->tb);
	o->tb = NULL;
	rc = db->env->close(db->env, o->f);
	o->f = NULL;
	if (rc < 0)
		meta->size = 0;
err:
	lsm_table_props_free(&props);
	lsm_out_abandon(db, o, rc < 0 || meta->size == 0);
	return rc;
}

int lsm_build_table(lsm_db *db, uint64_t number, lsm_it *it,
		    const lsm_rangedel *rdels, size_t nrdels,
		    lsm_file_meta *meta)
{
	lsm_out_table o;
	int rc;

	meta->size = 0;
	LSM_TRY(lsm_out_open(db, number, 0, &o));
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it))
		LSM_ERR(lsm_tb_add(o.tb, lsm_it_key(it), lsm_it_value(it)));
	LSM_ERR(lsm_it_status(it));
	for (size_t i = 0; i < nrdels; i++) {
		/* lsm_delete_range accepts an empty or inverted range (it
		 * deletes nothing); the table format refuses one */
		if (lsm_slice_cmp(rdels[i].begin, rdels[i].end) >= 0)
			continue;
		LSM_ERR(lsm_tb_add_rangedel(o.tb, rdels[i].begin, rdels[i].end, rdels[i].seq));
	}
	return lsm_out_finish(db, &o, meta);
err:
	lsm_out_abandon(db, &o, true);
	return rc;
}

/* Write memtable m to a new L0 table and add it to e.  REQUIRES: mu held
 * (released while writing). */
static int flush_memtable(lsm_db *db, lsm_memtable *m, lsm_version_edit *e)
{
	uint64_t number = lsm_db_new_file_number(db);
	lsm_file_meta *meta = lsm_file_meta_new();
	lsm_rangedel *rd = NULL;
	lsm_it *it = NULL;
	int rc = 0;

	if (!meta) {
		rc = -ENOMEM;
		goto out;
	}
	meta->number = number;
	lsm_db_pending_add(db, number);
	pthread_mutex_unlock(&db->mu);
	size_t nrd = lsm_mem_rangedels(m, &rd);
	it = lsm_mem_iter(m);
	if (!it || nrd == SIZE_MAX)
		rc = -ENOMEM;	/* never flush without the tombstones */
	else
		rc = lsm_build_table(db, number, it, rd, nrd, meta);
	lsm_it_free(it);
	free(rd);
	pthread_mutex_lock(&db->mu);
	if (rc == 0 && meta->size > 0) {
		atomic_fetch_add(&db->st_flush_bytes, meta->size);
		atomic_fetch_add(&db->st_flushes, 1);
		rc = lsm_edit_add_file(e, 0, meta);
		lsm_log(db, "flushed memtable to table %06llu (%llu bytes, %llu entries)",
			(unsigned long long)number, (unsigned long long)meta->size,
			(unsigned long long)meta->entries);
	}
	lsm_db_pending_remove(db, number);
out:
	if (meta)
		lsm_file_meta_unref(meta);
	return rc;
}

static void *flush_main(void *arg)
{
	lsm_db *db = arg;
	pthread_mutex_lock(&db->mu);
	for (;;) {
		while (!db->closing && (db->nimm == 0 || db->bg_error))
			pthread_cond_wait(&db->flush_cv, &db->mu);
		if (db->closing)
			break;
		lsm_memrec r = db->imm[0];
		lsm_version_edit e;
		lsm_edit_init(&e);
		db->flush_running = true;
		int rc = flush_memtable(db, r.mem, &e);
		if (rc == 0) {
			e.has_log_number = true;
			e.log_number = db->nimm > 1 ? db->imm[1].log_number : db->mem.log_number;
			rc = lsm_db_log_and_apply(db, &e);
		}
		db->flush_running = false;
		lsm_edit_clear(&e);
		if (rc < 0) {
			lsm_db_set_bg_error(db, rc);
		} else {
			pthread_mutex_lock(&db->sv_mu);
			memmove(db->imm, db->imm + 1, (db->nimm - 1) * sizeof *db->imm);
			db->nimm--;
			pthread_mutex_unlock(&db->sv_mu);
			lsm_mem_unref(r.mem);
			lsm_db_remove_obsolete(db);
			lsm_compact_maybe_schedule(db);
		}
		pthread_cond_broadcast(&db->bg_cv);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

int lsm_flush(lsm_db *db, bool wait)
{
	lsm_write_options wo = { .sync = false };
	int rc = write_internal(db, &wo, NULL, true);
	if (rc < 0 || !wait)
		return rc;
	pthread_mutex_lock(&db->mu);
	while (db->nimm > 0 && !db->bg_error && !db->closing)
		pthread_cond_wait(&db->bg_cv, &db->mu);
	rc = db->bg_error ? latched(db) : 0;
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* ---- open and recovery ---------------------------------------------------------- */

static int read_current(lsm_db *db, uint64_t *manifest_number)
{
	char *cur = lsm_fname(db->path, LSM_F_CURRENT, 0);
	char buf[128];
	size_t got = 0;
	lsm_file *f = NULL;
	int rc;

	if (!cur)
		return -ENOMEM;
	rc = db->env->open(db->env, cur, LSM_OPEN_READ, &f);
	if (rc == 0) {
		rc = db->env->pread(db->env, f, buf, sizeof buf - 1, 0, &got);
		db->env->close(db->env, f);
	}
	if (rc < 0) {
		rc = lsm_err(rc, "%s: cannot read: %s", cur, lsm_strerror(rc));
		goto out;
	}
	buf[got] = 0;
	uint64_t n;
	char *nl = strchr(buf, '\n');
	if (!nl || nl[1] != 0)
		goto bad;
	*nl = 0;
	if (lsm_fname_parse(buf, &n) != LSM_F_MANIFEST)
		goto bad;
	*manifest_number = n;
	rc = 0;
	goto out;
bad:
	rc = lsm_err(LSM_E_CORRUPT, "%s: corrupt at offset 0: does not name a manifest", cur);
out:
	free(cur);
	return rc;
}

static int recover_manifest(lsm_db *db)
{
	uint64_t mnum = 0;
	lsm_wal_reader *r = NULL;
	lsm_version_edit e;
	lsm_buf rec = {0};
	char *path = NULL;
	bool have_next = false, have_seq = false, have_log = false;
	int rc;

	lsm_edit_init(&e);
	LSM_ERR(read_current(db, &mnum));
	path = lsm_fname(db->path, LSM_F_MANIFEST, mnum);
	if (!path) {
		rc = -ENOMEM;
		goto err;
	}
	rc = lsm_wal_reader_open(db->env, path, &r);
	if (rc < 0) {
		rc = lsm_err(rc == -ENOENT ? LSM_E_CORRUPT : rc,
			     "%s: named by CURRENT but cannot be opened: %s", path,
			     lsm_strerror(rc));
		goto err;
	}
	for (;;) {
		uint64_t off = lsm_wal_reader_offset(r);
		rc = lsm_wal_read(r, &rec);
		if (rc < 0)
			goto err;
		if (rc == 0)
			break;
		lsm_edit_clear(&e);
		rc = lsm_edit_decode(&e, lsm_buf_slice(&rec));
		if (rc == LSM_E_VERSION) {
			rc = lsm_err(LSM_E_VERSION, "%s: store format is newer than this program's %u (%s)",
				     path, LSM_FORMAT_VERSION, lsm_errdetail());
			goto err;
		}
		if (rc < 0) {
			rc = lsm_err(rc == -ENOMEM ? rc : LSM_E_CORRUPT,
				     "%s: corrupt version edit at offset %llu: %s",
				     path, (unsigned long long)off, lsm_errdetail());
			goto err;
		}
		if (e.has_format && e.format > LSM_FORMAT_VERSION) {
			rc = lsm_err(LSM_E_VERSION, "%s: store format %u is newer than this program's %u",
				     path, e.format, LSM_FORMAT_VERSION);
			goto err;
		}
		lsm_version *v;
		LSM_ERR(lsm_version_apply(db->current, &e, db->opt.num_levels, &v));
		lsm_version_unref(db->current);
		db->current = v;
		if (e.has_next_file) {
			db->next_file = e.next_file;
			have_next = true;
		}
		if (e.has_last_seq) {
			atomic_store(&db->last_seq, e.last_seq);
			have_seq = true;
		}
		if (e.has_log_number) {
			db->min_log_number = e.log_number;
			have_log = true;
		}
	}
	uint64_t torn_at;
	if (lsm_wal_reader_torn(r, &torn_at))
		lsm_log(db, "%s: dropped a torn record at offset %llu", path,
			(unsigned long long)torn_at);
	if (!have_next || !have_seq || !have_log) {
		rc = lsm_err(LSM_E_CORRUPT, "%s: corrupt at offset 0: missing %s", path,
			     !have_next ? "next file number" : !have_seq ? "last sequence" : "log number");
		goto err;
	}
	if (db->next_file <= mnum)
		db->next_file = mnum + 1;
	db->manifest_number = mnum;
	rc = 0;
err:
	if (r)
		lsm_wal_reader_close(r);
	lsm_buf_free(&rec);
	lsm_edit_clear(&e);
	free(path);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Replay one WAL into db->mem.mem, flushing full memtables into e. */
static int replay_log(lsm_db *db, uint64_t number, lsm_version_edit *e)
{
	char *path = lsm_fname(db->path, LSM_F_LOG, number);
	lsm_wal_reader *r = NULL;
	lsm_batch *b = lsm_batch_new();
	lsm_buf rec = {0};
	int rc;

	if (!path || !b) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(lsm_wal_reader_open(db->env, path, &r));
	for (;;) {
		uint64_t off = lsm_wal_reader_offset(r);
		rc = lsm_wal_read(r, &rec);
		if (rc < 0)
			goto err;
		if (rc == 0)
			break;
		rc = lsm_batch_set_rep(b, lsm_buf_slice(&rec));
		if (rc == 0)
			rc = lsm_batch_insert(b, db->mem.mem);
		if (rc < 0) {
			rc = lsm_err(LSM_E_CORRUPT, "%s: corrupt batch at offset %llu: %s",
				     path, (unsigned long long)off, lsm_errdetail());
			goto err;
		}
		uint64_t last = lsm_batch_seq(b) + lsm_batch_count(b) - 1;
		if (lsm_batch_count(b) && last > atomic_load(&db->last_seq))
			atomic_store(&db->last_seq, last);
		if (lsm_mem_usage(db->mem.mem) > db->opt.write_buffer_size && !db->read_only) {
			LSM_ERR(flush_memtable(db, db->mem.mem, e));
			lsm_mem_unref(db->mem.mem);
			db->mem.mem = lsm_mem_new();
			if (!db->mem.mem) {
				rc = -ENOMEM;
				goto err;
			}
		}
	}
	uint64_t torn_at;
	if (lsm_wal_reader_torn(r, &torn_at))
		lsm_log(db, "%s: dropped a torn tail at offset %llu (a write not acknowledged as durable)",
			path, (unsigned long long)torn_at);
	rc = 0;
err:
	if (r)
		lsm_wal_reader_close(r);
	lsm_batch_free(b);
	lsm_buf_free(&rec);
	free(path);
	return rc;
}

static int recover_logs(lsm_db *db)
{
	char **names = NULL;
	size_t n = 0, nlogs = 0;
	uint64_t *logs = NULL;
	lsm_version_edit e;
	int rc;

	lsm_edit_init(&e);
	LSM_ERR(db->env->list(db->env, db->path, &names, &n));
	logs = malloc((n ? n : 1) * sizeof *logs);
	if (!logs) {
		rc = -ENOMEM;
		goto err;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t num;
		enum lsm_ftype t = lsm_fname_parse(names[i], &num);
		if (num >= db->next_file && t != LSM_F_UNKNOWN && t != LSM_F_CURRENT &&
		    t != LSM_F_LOCK && t != LSM_F_INFO)
			db->next_file = num + 1;
		if (t == LSM_F_LOG && num >= db->min_log_number)
			logs[nlogs++] = num;
	}
	qsort(logs, nlogs, sizeof *logs, cmp_u64);
	for (size_t i = 0; i < nlogs; i++)
		LSM_ERR(replay_log(db, logs[i], &e));
	if (db->read_only) {
		rc = 0;
		goto err;
	}
	if (!lsm_mem_empty(db->mem.mem)) {
		LSM_ERR(flush_memtable(db, db->mem.mem, &e));
		lsm_mem_unref(db->mem.mem);
		db->mem.mem = lsm_mem_new();
		if (!db->mem.mem) {
			rc = -ENOMEM;
			goto err;
		}
	}
	/* A fresh log for new writes; the replayed logs become obsolete
	 * once the edit naming their tables is durable. */
	uint64_t number = lsm_db_new_file_number(db);
	char *path = lsm_fname(db->path, LSM_F_LOG, number);
	lsm_file *f = NULL;
	if (!path) {
		rc = -ENOMEM;
		goto err;
	}
	rc = db->env->open(db->env, path, LSM_OPEN_WRITE, &f);
	if (rc == 0) {
		rc = lsm_wal_writer_new(db->env, f, path, 0, &db->log);
		if (rc < 0)
			db->env->close(db->env, f);
	}
	free(path);
	if (rc < 0)
		goto err;
	db->log_number = number;
	db->mem.log_number = number;
	e.has_log_number = true;
	e.log_number = number;
	/* Start a new manifest holding the whole recovered state. */
	if (db->manifest) {
		lsm_wal_writer_close(db->manifest);
		db->manifest = NULL;
	}
	LSM_ERR(lsm_db_log_and_apply(db, &e));
	LSM_ERR(db->env->sync_dir(db->env, db->path));
	rc = 0;
err:
	lsm_env_free_list(names, n);
	free(logs);
	lsm_edit_clear(&e);
	return rc;
}

static void log_unknown_files(lsm_db *db)
{
	char **names = NULL;
	size_t n = 0;
	if (db->env->list(db->env, db->path, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t num;
		if (lsm_fname_parse(names[i], &num) == LSM_F_UNKNOWN)
			lsm_log(db, "unknown file %s in store (left alone)", names[i]);
	}
	lsm_env_free_list(names, n);
}

static void db_free(lsm_db *db)
{
	if (db->manifest)
		lsm_wal_writer_close(db->manifest);
	if (db->log)
		lsm_wal_writer_close(db->log);
	if (db->mem.mem)
		lsm_mem_unref(db->mem.mem);
	for (size_t i = 0; i < db->nimm; i++)
		lsm_mem_unref(db->imm[i].mem);
	free(db->imm);
	if (db->current)
		lsm_version_unref(db->current);
	if (db->table_cache)
		lsm_cache_free(db->table_cache);
	if (db->block_cache)
		lsm_cache_free(db->block_cache);
	if (db->group)
		lsm_batch_free(db->group);
	if (db->lock)
		db->env->unlock(db->env, db->lock);
	for (size_t z = 0; z < db->nzombies; z++)
		lsm_file_meta_unref(db->zombies[z]);
	free(db->zombies);
	/* snapshots the caller never released */
	while (db->snap_head.next && db->snap_head.next != &db->snap_head) {
		lsm_snapshot *sn = db->snap_head.next;
		db->snap_head.next = sn->next;
		free(sn);
	}
	free(db->pending_outputs);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->sv_mu);
	pthread_mutex_destroy(&db->snap_mu);
	pthread_cond_destroy(&db->bg_cv);
	pthread_cond_destroy(&db->flush_cv);
	free(db->path);
	free(db);
}

static int check_options(const lsm_options *o)
{
	if (o->num_levels < 2 || o->num_levels > LSM_MAX_LEVELS)
		return lsm_err(LSM_E_INVALID, "num_levels must be 2..%d", LSM_MAX_LEVELS);
	if (o->block_size < 256 || o->write_buffer_size < 4096 || o->max_immutable < 1 ||
	    o->l0_compaction_trigger < 1 || o->l0_slowdown_trigger < o->l0_compaction_trigger ||
	    o->l0_stop_trigger < o->l0_slowdown_trigger || o->level_multiplier < 2 ||
	    o->compaction_threads < 1 || o->max_open_tables < 8 || o->block_restart_interval < 1)
		return lsm_err(LSM_E_INVALID, "inconsistent engine options");
	return 0;
}

/* The in-memory shell of a database: options, caches, an empty version. */
static int db_alloc(const char *path, const lsm_options *o, lsm_db **out)
{
	lsm_db *db;
	int rc;
	*out = NULL;
	LSM_TRY(check_options(o));
	db = calloc(1, sizeof *db);
	if (!db)
		return -ENOMEM;
	db->opt = *o;
	db->env = o->env ? o->env : lsm_env_posix();
	db->read_only = o->read_only;
	db->path = strdup(path);
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->sv_mu, NULL);
	pthread_mutex_init(&db->snap_mu, NULL);
	pthread_cond_init(&db->bg_cv, NULL);
	pthread_cond_init(&db->flush_cv, NULL);
	db->snap_head.next = db->snap_head.prev = &db->snap_head;
	db->next_file = 2;
	db->block_cache = lsm_cache_new(o->block_cache_size ? o->block_cache_size : 1);
	db->table_cache = lsm_cache_new((size_t)o->max_open_tables);
	db->group = lsm_batch_new();
	db->mem.mem = lsm_mem_new();
	if (!db->path || !db->block_cache || !db->table_cache || !db->group || !db->mem.mem) {
		rc = -ENOMEM;
		goto err;
	}
	{
		lsm_version_edit empty;
		lsm_edit_init(&empty);
		rc = lsm_version_apply(NULL, &empty, db->opt.num_levels, &db->current);
		lsm_edit_clear(&empty);
		if (rc < 0)
			goto err;
	}
	*out = db;
	return 0;
err:
	db_free(db);
	return rc;
}

int lsm_db_open_meta(const char *path, const lsm_options *o, lsm_db **out)
{
	lsm_options defaults;
	lsm_db *db;
	int rc;
	if (!o) {
		lsm_options_init(&defaults);
		o = &defaults;
	}
	LSM_TRY(db_alloc(path, o, &db));
	db->read_only = true;
	char *cur = lsm_fname(path, LSM_F_CURRENT, 0);
	uint64_t sz;
	rc = cur ? db->env->size(db->env, cur, &sz) : -ENOMEM;
	free(cur);
	if (rc == -ENOENT)
		rc = lsm_err(LSM_E_NOSTORE, "%s: not an lsm store (no CURRENT file)", path);
	if (rc == 0)
		rc = recover_manifest(db);
	if (rc < 0) {
		db_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

void lsm_db_close_meta(lsm_db *db)
{
	db_free(db);
}

int lsm_open(const char *path, const lsm_options *o, lsm_db **out)
{
	lsm_options defaults;
	lsm_db *db;
	char **names = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!o) {
		lsm_options_init(&defaults);
		o = &defaults;
	}
	LSM_TRY(db_alloc(path, o, &db));

	rc = db->env->list(db->env, path, &names, &n);
	lsm_env_free_list(names, n);
	if (rc == -ENOENT && o->create_if_missing && !o->read_only)
		rc = db->env->mkdir(db->env, path);
	if (rc < 0) {
		rc = lsm_err(rc, "%s: %s", path, rc == -ENOENT ? "no such store directory"
								: lsm_strerror(rc));
		goto err;
	}
	if (!o->create_if_missing) {
		/* Refuse a directory that is not a store before the lock
		 * would leave a LOCK file in it. */
		char *curp = lsm_fname(path, LSM_F_CURRENT, 0);
		uint64_t sz;
		rc = curp ? db->env->size(db->env, curp, &sz) : -ENOMEM;
		free(curp);
		if (rc == -ENOENT) {
			rc = lsm_err(LSM_E_NOSTORE, "%s: not an lsm store (no CURRENT file)", path);
			goto err;
		}
	}
	if (!o->read_only) {
		char *lockp = lsm_fname(path, LSM_F_LOCK, 0);
		char holder[256], other[256] = "";
		char comm[64] = "?";
		FILE *cf = fopen("/proc/self/comm", "r");
		if (cf) {
			if (fgets(comm, sizeof comm, cf))
				comm[strcspn(comm, "\n")] = 0;
			fclose(cf);
		}
		snprintf(holder, sizeof holder, "pid %ld (%s)", (long)getpid(), comm);
		rc = lockp ? db->env->lock(db->env, lockp, holder, &db->lock, other, sizeof other)
			   : -ENOMEM;
		free(lockp);
		if (rc == LSM_E_LOCKED) {
			rc = lsm_err(LSM_E_LOCKED, "%s: store is already open by %s", path,
				     other[0] ? other : "another process");
			goto err;
		}
		if (rc < 0) {
			rc = lsm_err(rc, "%s: cannot take the store lock: %s", path,
				     lsm_strerror(rc));
			goto err;
		}
	}
	char *cur = lsm_fname(path, LSM_F_CURRENT, 0);
	uint64_t cursize;
	rc = cur ? db->env->size(db->env, cur, &cursize) : -ENOMEM;
	free(cur);
	if (rc == -ENOENT) {
		if (!o->create_if_missing || o->read_only) {
			rc = lsm_err(LSM_E_NOSTORE, "%s: not an lsm store (no CURRENT file)", path);
			goto err;
		}
		/* A new store: an empty version in a first manifest. */
		uint64_t number = lsm_db_new_file_number(db);
		char *lp = lsm_fname(path, LSM_F_LOG, number);
		lsm_file *f = NULL;
		rc = lp ? db->env->open(db->env, lp, LSM_OPEN_WRITE, &f) : -ENOMEM;
		if (rc == 0 && (rc = lsm_wal_writer_new(db->env, f, lp, 0, &db->log)) < 0)
			db->env->close(db->env, f);
		free(lp);
		if (rc < 0)
			goto err;
		db->log_number = db->mem.log_number = db->min_log_number = number;
		LSM_ERR(lsm_db_new_manifest(db));
		lsm_log(db, "created new store in %s", path);
	} else if (rc < 0) {
		goto err;
	} else {
		if (o->error_if_exists) {
			rc = lsm_err(LSM_E_EXISTS, "%s: store already exists", path);
			goto err;
		}
		LSM_ERR(recover_manifest(db));
		/* Replay flushes memtables and logs edits, which REQUIRE mu
		 * (flush_memtable drops and retakes it around the write). */
		pthread_mutex_lock(&db->mu);
		rc = recover_logs(db);
		pthread_mutex_unlock(&db->mu);
		if (rc < 0)
			goto err;
		log_unknown_files(db);
	}
	if (!db->read_only) {
		pthread_mutex_lock(&db->mu);
		lsm_db_remove_obsolete(db);
		pthread_mutex_unlock(&db->mu);
		LSM_ERR(lsm_compact_init(db));
		if (pthread_create(&db->flush_thread, NULL, flush_main, db) != 0) {
			rc = -EAGAIN;
			goto err;
		}
		db->flush_thread_started = true;
		pthread_mutex_lock(&db->mu);
		lsm_compact_maybe_schedule(db);
		pthread_mutex_unlock(&db->mu);
	}
	*out = db;
	return 0;
err:
	if (db->cs)
		lsm_compact_shutdown(db);
	db_free(db);
	return rc;
}

int lsm_close(lsm_db *db)
{
	int rc = 0;
	if (!db)
		return 0;
	pthread_mutex_lock(&db->mu);
	/* Let a running flush finish; queued writers see closing. */
	while (db->flush_running)
		pthread_cond_wait(&db->bg_cv, &db->mu);
	db->closing = true;
	pthread_cond_broadcast(&db->flush_cv);
	pthread_cond_broadcast(&db->bg_cv);
	pthread_mutex_unlock(&db->mu);
	if (db->flush_thread_started)
		pthread_join(db->flush_thread, NULL);
	if (db->cs)
		lsm_compact_shutdown(db);
	if (db->log && !db->bg_error)
		rc = lsm_wal_sync(db->log);
	pthread_mutex_lock(&db->mu);
	if (!db->read_only && !db->bg_error)
		lsm_db_remove_obsolete(db);
	pthread_mutex_unlock(&db->mu);
	db_free(db);
	return rc;
}

/* ---- statistics ------------------------------------------------------------------ */

uint64_t lsm_space_reserved(lsm_db *db)
{
	return atomic_load(&db->space_reserved);
}

int lsm_get_stats(lsm_db *db, lsm_stats *st)
{
	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&db->mu);
	lsm_version *v = db->current;
	st->num_levels = db->opt.num_levels;
	uint64_t table_bytes = 0;
	double live = 0;
	for (int l = 0; l < db->opt.num_levels; l++) {
		lsm_level_stats *ls = &st->level[l];
		for (size_t i = 0; i < v->nfiles[l]; i++) {
			lsm_file_meta *f = v->files[l][i];
			ls->tables++;
			ls->bytes += f->size;
			ls->entries += f->entries;
			ls->tombstones += f->deletions;
			ls->range_tombstones += f->range_deletions;
			/* a table's share of live data: its bytes less its
			 * tombstones' share (an upper bound: versions that
			 * shadow older ones below count as live, the shadowed
			 * ones too) */
			if (f->entries)
				live += (double)f->size * (double)(f->entries - f->deletions) /
					(double)f->entries;
		}
		table_bytes += ls->bytes;
	}
	st->live_bytes_estimate = (uint64_t)live;
	st->memtable_bytes = lsm_mem_usage(db->mem.mem);
	for (size_t i = 0; i < db->nimm; i++)
		st->memtable_bytes += lsm_mem_usage(db->imm[i].mem);
	st->background_error = db->bg_error;
	/* The write leader appends to the log outside mu, so its writer's
	 * size is not ours to read: ask the env by name.  The manifest is
	 * only written under mu. */
	char *logp = db->log ? lsm_fname(db->path, LSM_F_LOG, db->log_number) : NULL;
	uint64_t logsz = 0;
	uint64_t mansz = db->manifest ? lsm_wal_size(db->manifest) : 0;
	lsm_compact_stats(db, st);
	pthread_mutex_unlock(&db->mu);
	if (logp && db->env->size(db->env, logp, &logsz) < 0)
		logsz = 0;	/* switched and removed meanwhile */
	free(logp);

	st->user_bytes_written = atomic_load(&db->st_user_bytes);
	st->wal_bytes_written = atomic_load(&db->st_wal_bytes);
	st->flush_bytes_written = atomic_load(&db->st_flush_bytes);
	st->compaction_bytes_written = atomic_load(&db->st_compact_bytes);
	st->compaction_bytes_read = atomic_load(&db->st_compact_read);
	st->flushes = atomic_load(&db->st_flushes);
	st->compactions = atomic_load(&db->st_compactions);
	st->trivial_moves = atomic_load(&db->st_trivial_moves);
	st->entries_dropped = atomic_load(&db->st_dropped);
	st->tombstones_dropped = atomic_load(&db->st_tomb_dropped);
	st->range_tombstones_dropped = atomic_load(&db->st_rtomb_dropped);
	st->write_slowdowns = atomic_load(&db->st_slowdowns);
	st->write_stalls = atomic_load(&db->st_stalls);
	if (st->user_bytes_written)
		st->write_amp = (double)(st->wal_bytes_written + st->flush_bytes_written +
					 st->compaction_bytes_written) /
				(double)st->user_bytes_written;
	st->disk_bytes = table_bytes + logsz + mansz;
	pthread_mutex_lock(&db->snap_mu);
	st->snapshots = db->nsnapshots;
	pthread_mutex_unlock(&db->snap_mu);
	st->last_seq = lsm_last_seq(db);
	st->gc_cutoff = lsm_oldest_pinned_seq(db);
	uint64_t hits = 0, misses = 0;
	lsm_cache_stats(db->block_cache, &hits, &misses);
	st->block_cache_hits = hits;
	st->block_cache_misses = misses;
	st->block_cache_bytes = lsm_cache_usage(db->block_cache);
	if (st->live_bytes_estimate)
		st->space_amp = (double)st->disk_bytes / (double)st->live_bytes_estimate;
	return 0;
}
