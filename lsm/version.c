/*
 * version.c — versions (which tables are live, level by level), the
 * manifest that records them, the table cache and the level iterator.
 *
 * A version is immutable once built; readers hold a reference while they
 * use it.  Edits are appended to the manifest (and synced) before the new
 * version is installed, so the manifest is the single truth of what is
 * live.  A new manifest is started at every open and when the current one
 * grows past MANIFEST_ROLL bytes; CURRENT is replaced by temp file, fsync,
 * rename, directory fsync.
 *
 * Threads: version refs are atomic; building and installing versions
 * happens under db->mu.  The table cache is internally synchronised.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"

#define MANIFEST_ROLL (4u << 20)

/* ---- versions ---------------------------------------------------------- */

void lsm_version_ref(lsm_version *v)
{
	atomic_fetch_add(&v->refs, 1);
}

void lsm_version_unref(lsm_version *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		for (size_t i = 0; i < v->nfiles[l]; i++)
			lsm_file_meta_unref(v->files[l][i]);
		free(v->files[l]);
	}
	free(v);
}

static int cmp_l0(const void *a, const void *b)
{
	const lsm_file_meta *x = *(lsm_file_meta *const *)a;
	const lsm_file_meta *y = *(lsm_file_meta *const *)b;
	/* newest first */
	if (x->max_seq != y->max_seq)
		return x->max_seq < y->max_seq ? 1 : -1;
	return (x->number < y->number) - (x->number > y->number);
}

static int cmp_sorted(const void *a, const void *b)
{
	const lsm_file_meta *x = *(lsm_file_meta *const *)a;
	const lsm_file_meta *y = *(lsm_file_meta *const *)b;
	int r = lsm_ikey_cmp(lsm_buf_slice(&x->smallest), lsm_buf_slice(&y->smallest));
	if (r)
		return r;
	return (x->number > y->number) - (x->number < y->number);
}

static bool edit_deletes(const lsm_version_edit *e, int level, uint64_t number)
{
	for (size_t i = 0; i < e->ndels; i++)
		if (e->dels[i].level == level && e->dels[i].number == number)
			return true;
	return false;
}

int lsm_version_apply(const lsm_version *base, const lsm_version_edit *e,
		      int num_levels, lsm_version **out)
{
	lsm_version *v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	atomic_init(&v->refs, 1);
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		size_t cap = (base ? base->nfiles[l] : 0);
		for (size_t i = 0; i < e->nadds; i++)
			cap += e->adds[i].level == l;
		if (cap == 0)
			continue;
		if (l >= num_levels) {
			/* levels beyond LSM_MAX_LEVELS never decode: this is an
			 * options mismatch, not damage */
			lsm_version_unref(v);
			return lsm_err(LSM_E_INVALID, "the store has tables in level %d: open it with num_levels of at least %d (not %d)",
				       l, l + 1, num_levels);
		}
		v->files[l] = malloc(cap * sizeof(lsm_file_meta *));
		if (!v->files[l]) {
			lsm_version_unref(v);
			return -ENOMEM;
		}
		size_t n = 0;
		for (size_t i = 0; base && i < base->nfiles[l]; i++) {
			lsm_file_meta *f = base->files[l][i];
			if (edit_deletes(e, l, f->number))
				continue;
			lsm_file_meta_ref(f);
			v->files[l][n++] = f;
		}
		for (size_t i = 0; i < e->nadds; i++) {
			if (e->adds[i].level != l)
				continue;
			lsm_file_meta *f = e->adds[i].meta;
			lsm_file_meta_ref(f);
			f->level = l;
			v->files[l][n++] = f;
		}
		v->nfiles[l] = n;
		qsort(v->files[l], n, sizeof(lsm_file_meta *), l == 0 ? cmp_l0 : cmp_sorted);
	}
	*out = v;
	return 0;
}

size_t lsm_version_find(lsm_file_meta **files, size_t n, lsm_slice ukey)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		lsm_slice lg = lsm_ikey_user(lsm_buf_slice(&files[mid]->largest));
		if (lsm_slice_cmp(lg, ukey) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool file_overlaps(const lsm_file_meta *f, const lsm_slice *lo,
			  const lsm_slice *hi)
{
	lsm_slice s = lsm_ikey_user(lsm_buf_slice(&f->smallest));
	lsm_slice l = lsm_ikey_user(lsm_buf_slice(&f->largest));
	if (lo && lsm_slice_cmp(l, *lo) < 0)
		return false;
	if (hi && lsm_slice_cmp(s, *hi) > 0)
		return false;
	return true;
}

bool lsm_version_overlaps(const lsm_version *v, int level, const lsm_slice *lo,
			  const lsm_slice *hi)
{
	if (level == 0) {
		for (size_t i = 0; i < v->nfiles[0]; i++)
			if (file_overlaps(v->files[0][i], lo, hi))
				return true;
		return false;
	}
	size_t n = v->nfiles[level];
	size_t i = lo ? lsm_version_find(v->files[level], n, *lo) : 0;
	return i < n && file_overlaps(v->files[level][i], lo, hi);
}

size_t lsm_version_overlapping(const lsm_version *v, int level,
			       const lsm_slice *lo_in, const lsm_slice *hi_in,
			       lsm_file_meta ***out)
{
	size_t n = v->nfiles[level], cnt = 0;
	lsm_file_meta **res = malloc((n ? n : 1) * sizeof *res);
	lsm_buf lob = {0}, hib = {0};
	lsm_slice lo, hi;
	bool has_lo = lo_in != NULL, has_hi = hi_in != NULL;
	*out = res;
	if (!res)
		return 0;
	if (has_lo)
		lo = *lo_in;
	if (has_hi)
		hi = *hi_in;
restart:
	cnt = 0;
	for (size_t i = 0; i < n; i++) {
		lsm_file_meta *f = v->files[level][i];
		if (!file_overlaps(f, has_lo ? &lo : NULL, has_hi ? &hi : NULL))
			continue;
		if (level == 0) {
			/* L0 files overlap each other: widen the range until
			 * it is closed, so a newer version is never left
			 * behind while an older one moves down. */
			lsm_slice s = lsm_ikey_user(lsm_buf_slice(&f->smallest));
			lsm_slice l = lsm_ikey_user(lsm_buf_slice(&f->largest));
			if (has_lo && lsm_slice_cmp(s, lo) < 0) {
				lsm_buf_set(&lob, s.data, s.size);
				lo = lsm_buf_slice(&lob);
				goto restart;
			}
			if (has_hi && lsm_slice_cmp(l, hi) > 0) {
				lsm_buf_set(&hib, l.data, l.size);
				hi = lsm_buf_slice(&hib);
				goto restart;
			}
		}
		res[cnt++] = f;
	}
	lsm_buf_free(&lob);
	lsm_buf_free(&hib);
	return cnt;
}

uint64_t lsm_version_level_bytes(const lsm_version *v, int level)
{
	uint64_t s = 0;
	for (size_t i = 0; i < v->nfiles[level]; i++)
		s += v->files[level][i]->size;
	return s;
}

/* ---- table cache --------------------------------------------------------- */

static void tcache_deleter(const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	lsm_tcache_entry *e = value;
	lsm_frag_free(e->frag);
	lsm_table_close(e->table);
	free(e);
}

int lsm_tcache_get(lsm_db *db, const lsm_file_meta *f, lsm_cache_handle **h)
{
	char key[8];
	lsm_enc64(key, f->number);
	*h = lsm_cache_lookup(db->table_cache, key, 8);
	if (*h)
		return 0;
	char *path = lsm_fname(db->path, LSM_F_TABLE, f->number);
	if (!path)
		return -ENOMEM;
	lsm_table *t;
	int rc = lsm_table_open(db->env, path, f->size, db->block_cache, &t);
	if (rc == -ENOENT)
		rc = lsm_err(LSM_E_CORRUPT, "%s: corrupt at offset 0: table named by the manifest is missing",
			     path);
	free(path);
	if (rc < 0)
		return rc;
	lsm_tcache_entry *e = calloc(1, sizeof *e);
	if (!e) {
		lsm_table_close(t);
		return -ENOMEM;
	}
	e->table = t;
	const lsm_rangedel *rd;
	size_t nrd = lsm_table_rangedels(t, &rd);
	if (nrd) {
		e->frag = lsm_frag_new(rd, nrd);
		if (!e->frag) {
			tcache_deleter(NULL, 0, e);
			return -ENOMEM;
		}
	}
	*h = lsm_cache_insert(db->table_cache, key, 8, e, 1, tcache_deleter);
	if (!*h) {
		tcache_deleter(NULL, 0, e);
		return -ENOMEM;
	}
	return 0;
}

void lsm_tcache_evict(lsm_db *db, uint64_t number)
{
	char key[8];
	lsm_enc64(key, number);
	lsm_cache_erase(db->table_cache, key, 8);
}

/* An iterator that releases a table-cache handle when destroyed. */
struct tc_it {
	lsm_it base;
	lsm_it *inner;
	lsm_db *db;
	lsm_cache_handle *h;
};

static bool tc_valid(lsm_it *it) { return lsm_it_valid(((struct tc_it *)it)->inner); }
static void tc_first(lsm_it *it) { lsm_it_seek_first(((struct tc_it *)it)->inner); }
static void tc_last(lsm_it *it) { lsm_it_seek_last(((struct tc_it *)it)->inner); }
static void tc_seek(lsm_it *it, lsm_slice t) { lsm_it_seek(((struct tc_it *)it)->inner, t); }
static void tc_next(lsm_it *it) { lsm_it_next(((struct tc_it *)it)->inner); }
static void tc_prev(lsm_it *it) { lsm_it_prev(((struct tc_it *)it)->inner); }
static lsm_slice tc_key(lsm_it *it) { return lsm_it_key(((struct tc_it *)it)->inner); }
static lsm_slice tc_value(lsm_it *it) { return lsm_it_value(((struct tc_it *)it)->inner); }
static int tc_status(lsm_it *it) { return lsm_it_status(((struct tc_it *)it)->inner); }
static void tc_destroy(lsm_it *it)
{
	struct tc_it *t = (struct tc_it *)it;
	lsm_it_free(t->inner);
	lsm_cache_release(t->db->table_cache, t->h);
	free(t);
}

static const struct lsm_it_ops tc_ops = {
	tc_valid, tc_first, tc_last, tc_seek, tc_next, tc_prev,
	tc_key, tc_value, tc_status, tc_destroy,
};

lsm_it *lsm_tcache_iter(lsm_db *db, const lsm_file_meta *f, bool fill_cache)
{
	lsm_cache_handle *h;
	int rc = lsm_tcache_get(db, f, &h);
	if (rc < 0)
		return lsm_it_empty(rc);
	struct tc_it *t = calloc(1, sizeof *t);
	lsm_it *inner = t ? lsm_table_iter(lsm_tcache_entry_of(h)->table, fill_cache) : NULL;
	if (!t || !inner) {
		free(t);
		lsm_cache_release(db->table_cache, h);
		return lsm_it_empty(-ENOMEM);
	}
	t->base.ops = &tc_ops;
	t->inner = inner;
	t->db = db;
	t->h = h;
	return &t->base;
}

/* ---- level iterator -------------------------------------------------------- */

struct level_it {
	lsm_it base;
	lsm_db *db;
	lsm_file_meta **files;
	size_t n;
	size_t cur;		/* n: none */
	lsm_it *it;
	bool fill_cache;
	int err;
};

static void lv_open(struct level_it *l, size_t i)
{
	if (l->it && l->cur == i)
		return;
	if (l->it) {
		int st = lsm_it_status(l->it);
		if (st < 0 && !l->err)
			l->err = st;
		lsm_it_free(l->it);
		l->it = NULL;
	}
	l->cur = i;
	if (i < l->n) {
		l->it = lsm_tcache_iter(l->db, l->files[i], l->fill_cache);
		if (!l->it)
			l->err = -ENOMEM;
	}
}

static bool lv_valid(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	return l->it && lsm_it_valid(l->it);
}

static void lv_skip_fwd(struct level_it *l)
{
	while (l->it && !lsm_it_valid(l->it)) {
		if (lsm_it_status(l->it) < 0) {
			if (!l->err)
				l->err = lsm_it_status(l->it);
			return;
		}
		if (l->cur + 1 >= l->n) {
			lv_open(l, l->n);
			return;
		}
		lv_open(l, l->cur + 1);
		if (l->it)
			lsm_it_seek_first(l->it);
	}
}

static void lv_skip_back(struct level_it *l)
{
	while (l->it && !lsm_it_valid(l->it)) {
		if (lsm_it_status(l->it) < 0) {
			if (!l->err)
				l->err = lsm_it_status(l->it);
			return;
		}
		if (l->cur == 0) {
			lv_open(l, l->n);
			return;
		}
		lv_open(l, l->cur - 1);
		if (l->it)
			lsm_it_seek_last(l->it);
	}
}

static void lv_first(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	lv_open(l, 0);
	if (l->it)
		lsm_it_seek_first(l->it);
	lv_skip_fwd(l);
}

static void lv_last(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	if (l->n == 0)
		return;
	lv_open(l, l->n - 1);
	if (l->it)
		lsm_it_seek_last(l->it);
	lv_skip_back(l);
}

static void lv_seek(lsm_it *it, lsm_slice target)
{
	struct level_it *l = (struct level_it *)it;
	/* first file whose largest internal key >= target */
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lsm_ikey_cmp(lsm_buf_slice(&l->files[mid]->largest), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	lv_open(l, lo);
	if (l->it)
		lsm_it_seek(l->it, target);
	lv_skip_fwd(l);
}

static void lv_next(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	lsm_it_next(l->it);
	lv_skip_fwd(l);
}

static void lv_prev(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	lsm_it_prev(l->it);
	lv_skip_back(l);
}

static lsm_slice lv_key(lsm_it *it) { return lsm_it_key(((struct level_it *)it)->it); }
static lsm_slice lv_value(lsm_it *it) { return lsm_it_value(((struct level_it *)it)->it); }

static int lv_status(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	if (l->err)
		return l->err;
	return l->it ? lsm_it_status(l->it) : 0;
}

static void lv_destroy(lsm_it *it)
{
	struct level_it *l = (struct level_it *)it;
	lsm_it_free(l->it);
	for (size_t i = 0; i < l->n; i++)
		lsm_file_meta_unref(l->files[i]);
	free(l->files);
	free(l);
}

static const struct lsm_it_ops level_ops = {
	lv_valid, lv_first, lv_last, lv_seek, lv_next, lv_prev,
	lv_key, lv_value, lv_status, lv_destroy,
};

lsm_it *lsm_level_iter(lsm_db *db, lsm_file_meta **files, size_t n,
		       bool fill_cache)
{
	struct level_it *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->files = malloc((n ? n : 1) * sizeof *files);
	if (!l->files) {
		free(l);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		lsm_file_meta_ref(files[i]);
		l->files[i] = files[i];
	}
	l->base.ops = &level_ops;
	l->db = db;
	l->n = n;
	l->cur = n;
	l->fill_cache = fill_cache;
	return &l->base;
}

/* ---- the manifest ---------------------------------------------------------- */

static int snapshot_edit(lsm_db *db, lsm_version_edit *e)
{
	e->has_format = true;
	e->format = LSM_FORMAT_VERSION;
	e->has_next_file = true;
	e->next_file = db->next_file;
	e->has_last_seq = true;
	e->last_seq = atomic_load(&db->last_seq);
	e->has_log_number = true;
	e->log_number = db->min_log_number;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (size_t i = 0; i < db->current->nfiles[l]; i++)
			LSM_TRY(lsm_edit_add_file(e, l, db->current->files[l][i]));
	return 0;
}

/* *renamed tells whether CURRENT was replaced (even if the call then
 * failed to make that durable). */
static int write_current(lsm_db *db, uint64_t manifest_number, bool *renamed)
{
	uint64_t tmpno = lsm_db_new_file_number(db);
	char *tmp = lsm_fname(db->path, LSM_F_TEMP, tmpno);
	char *cur = lsm_fname(db->path, LSM_F_CURRENT, 0);
	char line[64];
	lsm_file *f = NULL;
	int rc = 0;
	if (!tmp || !cur) {
		rc = -ENOMEM;
		goto err;
	}
	int n = snprintf(line, sizeof line, "MANIFEST-%06llu\n",
			 (unsigned long long)manifest_number);
	LSM_ERR(db->env->open(db->env, tmp, LSM_OPEN_WRITE, &f));
	LSM_ERR(db->env->append(db->env, f, line, (size_t)n));
	LSM_ERR(db->env->sync(db->env, f));
	rc = db->env->close(db->env, f);
	f = NULL;
	if (rc < 0)
		goto err;
	LSM_ERR(db->env->rename(db->env, tmp, cur));
	*renamed = true;
	LSM_ERR(db->env->sync_dir(db->env, db->path));
err:
	if (f)
		db->env->close(db->env, f);
	if (rc < 0 && tmp)
		db->env->remove(db->env, tmp);
	free(tmp);
	free(cur);
	return rc;
}

int lsm_db_new_manifest(lsm_db *db)
{
	lsm_version_edit e;
	lsm_buf rec = {0};
	lsm_file *f = NULL;
	lsm_wal_writer *w = NULL;
	uint64_t number = lsm_db_new_file_number(db);
	char *path = lsm_fname(db->path, LSM_F_MANIFEST, number);
	bool renamed = false;
	int rc = 0;

	lsm_edit_init(&e);
	if (!path) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(snapshot_edit(db, &e));
	e.next_file = db->next_file;
	LSM_ERR(lsm_edit_encode(&e, &rec));
	LSM_ERR(db->env->open(db->env, path, LSM_OPEN_WRITE, &f));
	rc = lsm_wal_writer_new(db->env, f, path, 0, &w);
	if (rc < 0)
		goto err;
	f = NULL;
	LSM_ERR(lsm_wal_add(w, lsm_buf_slice(&rec)));
	LSM_ERR(lsm_wal_sync(w));
	LSM_ERR(write_current(db, number, &renamed));
	if (db->manifest)
		lsm_wal_writer_close(db->manifest);
	db->manifest = w;
	db->manifest_number = number;
	db->manifest_unsure = false;	/* CURRENT durably names a full snapshot */
	w = NULL;
err:
	if (f)
		db->env->close(db->env, f);
	if (w) {
		lsm_wal_writer_close(w);
		/* Once CURRENT names it, the new manifest is the store's
		 * truth (or will be after a reboot): keep it. */
		if (!renamed) {
			db->env->remove(db->env, path);
		} else {
			/* CURRENT may name either manifest until a later one
			 * is durable: keep every file both name, and make the
			 * next edit start yet another manifest. */
			db->manifest_unsure = true;
			if (db->manifest) {
				lsm_wal_writer_close(db->manifest);
				db->manifest = NULL;
			}
		}
	}
	free(path);
	lsm_buf_free(&rec);
	lsm_edit_clear(&e);
	return rc;
}

/* Tables an edit drops stay on disk while older versions hold them. */
static void keep_dropped(lsm_db *db, const lsm_version *old,
			 const lsm_version_edit *e)
{
	for (size_t i = 0; i < e->ndels; i++) {
		int l = e->dels[i].level;
		for (size_t j = 0; l >= 0 && l < LSM_MAX_LEVELS && j < old->nfiles[l]; j++)
			if (old->files[l][j]->number == e->dels[i].number)
				lsm_db_add_zombie(db, old->files[l][j]);
	}
}

int lsm_db_log_and_apply(lsm_db *db, lsm_version_edit *e)
{
	lsm_version *v = NULL;
	lsm_buf rec = {0};
	int rc;

	if (!e->has_log_number) {
		e->has_log_number = true;
		e->log_number = db->min_log_number;
	}
	e->has_next_file = true;
	e->next_file = db->next_file;
	e->has_last_seq = true;
	e->last_seq = atomic_load(&db->last_seq);
	LSM_ERR(lsm_version_apply(db->current, e, db->opt.num_levels, &v));
	/* New tables were created since the directory was last synced: their
	 * names must be durable before a durable edit names them, or a power
	 * cut leaves a manifest pointing at missing files (and the logs they
	 * replace already removed). */
	if (e->nadds > 0)
		LSM_ERR(db->env->sync_dir(db->env, db->path));
	if (!db->manifest || lsm_wal_size(db->manifest) > MANIFEST_ROLL) {
		/* The new manifest snapshots the new version. */
		lsm_version *old = db->current;
		uint64_t old_min = db->min_log_number;
		/* (readers may see v while it is written: its data is what
		 * the store already holds, moved or flushed) */
		pthread_mutex_lock(&db->sv_mu);
		db->current = v;
		pthread_mutex_unlock(&db->sv_mu);
		db->min_log_number = e->log_number;
		rc = lsm_db_new_manifest(db);
		if (rc < 0) {
			pthread_mutex_lock(&db->sv_mu);
			db->current = old;
			pthread_mutex_unlock(&db->sv_mu);
			db->min_log_number = old_min;
			goto err;
		}
		keep_dropped(db, old, e);
		lsm_version_unref(old);
		v = NULL;
		goto out;
	}
	LSM_ERR(lsm_edit_encode(e, &rec));
	rc = lsm_wal_add(db->manifest, lsm_buf_slice(&rec));
	if (rc == 0)
		rc = lsm_wal_sync(db->manifest);
	if (rc < 0) {
		/* The record may or may not be on disk: never append to this
		 * manifest again.  A fresh manifest that snapshots the version
		 * actually installed settles it; until one is written, a
		 * reopen may read the edit either way, so the tables it names
		 * must stay (manifest_unsure) and writes stop (latched). */
		int err = rc;
		char detail[512];
		snprintf(detail, sizeof detail, "%s", lsm_errdetail());
		lsm_wal_writer_close(db->manifest);
		db->manifest = NULL;
		db->manifest_unsure = true;
		if (lsm_db_new_manifest(db) < 0) {	/* success clears unsure */
			lsm_err_set_detail(detail);
			lsm_db_set_bg_error(db, err);
		}
		rc = lsm_err(err, "%s", detail);
		goto err;
	}
	keep_dropped(db, db->current, e);
	lsm_version *old = db->current;
	pthread_mutex_lock(&db->sv_mu);
	db->current = v;
	pthread_mutex_unlock(&db->sv_mu);
	lsm_version_unref(old);
	db->min_log_number = e->log_number;
	v = NULL;
out:
	rc = 0;
err:
	if (v)
		lsm_version_unref(v);
	lsm_buf_free(&rec);
	return rc;
}
