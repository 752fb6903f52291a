/*
 * ingest.c — tables built outside the tree (lsm_sst_writer) added to it
 * atomically, optionally removing (excising) a key range in the same
 * manifest edit.
 *
 * External tables carry sequence 0.  At ingest, with write leadership held
 * (no write runs meanwhile) and compaction paused:
 *   1. memtables overlapping the ingested or excised keys are flushed;
 *   2. the excise range is cut out of every level: tables wholly inside it
 *      are dropped, tables straddling it are rewritten without it;
 *   3. each ingested table goes to the lowest level it fits: if no data of
 *      the store overlaps it, to the last level as it is (linked, not
 *      copied, where the env can); otherwise just above the shallowest
 *      level holding overlapping data, rewritten with a fresh sequence so
 *      it shadows everything older;
 *   4. one edit drops, adds and places everything; it is durable before
 *      any of it is visible.
 * Threads: lsm_ingest may be called from any thread; it serialises with
 * writers through the write queue.
 */
#include <errno.h>
#include <stdlib.h>
#include "db_impl.h"

/* ---- the external table writer ------------------------------------------ */

struct lsm_sst_writer {
	lsm_env *env;
	lsm_file *f;
	char *path;
	lsm_table_builder *tb;
	lsm_buf last;
	bool has_last;
	lsm_buf key;
};

int lsm_sst_writer_open(const lsm_options *o, const char *path,
			lsm_sst_writer **out)
{
	lsm_options defaults;
	lsm_table_opts to;
	int rc;
	if (!o) {
		lsm_options_init(&defaults);
		o = &defaults;
	}
	lsm_sst_writer *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->env = o->env ? o->env : lsm_env_posix();
	w->path = strdup(path);
	if (!w->path) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(w->env->open(w->env, path, LSM_OPEN_WRITE, &w->f));
	lsm_table_opts_from(o, LSM_LEVEL_DEEP, &to);
	LSM_ERR(lsm_tb_new(w->env, w->f, path, &to, &w->tb));
	*out = w;
	return 0;
err:
	lsm_sst_writer_abandon(w);
	return rc;
}

int lsm_sst_writer_put(lsm_sst_writer *w, const void *key, size_t klen,
		       const void *val, size_t vlen)
{
	lsm_slice k = lsm_slice_of(key, klen);
	if (w->has_last && lsm_slice_cmp(k, lsm_buf_slice(&w->last)) <= 0)
		return lsm_err(LSM_E_INVALID, "%s: keys must be added in strictly increasing order",
			       w->path);
	LSM_TRY(lsm_buf_set(&w->last, key, klen));
	w->has_last = true;
	lsm_buf_clear(&w->key);
	LSM_TRY(lsm_ikey_append(&w->key, k, 0, LSM_T_VAL));
	return lsm_tb_add(w->tb, lsm_buf_slice(&w->key), lsm_slice_of(val, vlen));
}

int lsm_sst_writer_delete_range(lsm_sst_writer *w, const void *begin,
				size_t blen, const void *end, size_t elen)
{
	return lsm_tb_add_rangedel(w->tb, lsm_slice_of(begin, blen),
				   lsm_slice_of(end, elen), 0);
}

int lsm_sst_writer_finish(lsm_sst_writer *w)
{
	lsm_table_props p;
	int rc;
	memset(&p, 0, sizeof p);
	rc = lsm_tb_finish(w->tb, &p);
	if (rc == 0)
		rc = w->env->sync(w->env, w->f);
	lsm_table_props_free(&p);
	lsm_tb_free(w->tb);
	w->tb = NULL;
	int c = w->env->close(w->env, w->f);
	w->f = NULL;
	if (rc == 0)
		rc = c;
	if (rc < 0)
		w->env->remove(w->env, w->path);
	lsm_buf_free(&w->last);
	lsm_buf_free(&w->key);
	free(w->path);
	free(w);
	return rc;
}

void lsm_sst_writer_abandon(lsm_sst_writer *w)
{
	if (!w)
		return;
	if (w->tb)
		lsm_tb_free(w->tb);
	if (w->f) {
		w->env->close(w->env, w->f);
		w->env->remove(w->env, w->path);
	}
	lsm_buf_free(&w->last);
	lsm_buf_free(&w->key);
	free(w->path);
	free(w);
}

/* ---- rewriting tables ----------------------------------------------------- */

/*
 * Copy table src into a new table of the store, keeping only user keys
 * outside [xb, xe) (when xb), and giving every entry sequence seq (when
 * seq != 0; an ingested table's user keys are unique).  Range tombstones
 * are clipped the same way.  meta->number must be set; meta->size is 0 if
 * nothing remained.
 */
static int rewrite_table(lsm_db *db, const char *src, uint64_t src_size,
			 const lsm_slice *xb, const lsm_slice *xe, uint64_t seq,
			 lsm_file_meta *meta)
{
	char *path = lsm_fname(db->path, LSM_F_TABLE, meta->number);
	lsm_table *t = NULL;
	lsm_it *it = NULL;
	lsm_table_builder *tb = NULL;
	lsm_file *f = NULL;
	lsm_table_props props;
	lsm_table_opts to;
	lsm_buf k = {0};
	int rc;

	memset(&props, 0, sizeof props);
	meta->size = 0;
	if (!path)
		return -ENOMEM;
	LSM_ERR(lsm_table_open(db->env, src, src_size, NULL, &t));
	LSM_ERR(db->env->open(db->env, path, LSM_OPEN_WRITE, &f));
	lsm_table_opts_from(&db->opt, LSM_LEVEL_DEEP, &to);
	LSM_ERR(lsm_tb_new(db->env, f, path, &to, &tb));
	it = lsm_table_iter(t, false);
	if (!it) {
		rc = -ENOMEM;
		goto err;
	}
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		lsm_slice ik = lsm_it_key(it), uk = lsm_ikey_user(ik);
		if (xb && lsm_slice_cmp(uk, *xb) >= 0 && lsm_slice_cmp(uk, *xe) < 0)
			continue;
		if (seq) {
			lsm_buf_clear(&k);
			LSM_ERR(lsm_ikey_append(&k, uk, seq, (int)(lsm_ikey_trailer(ik) & 0xff)));
			ik = lsm_buf_slice(&k);
		}
		LSM_ERR(lsm_tb_add(tb, ik, lsm_it_value(it)));
	}
	LSM_ERR(lsm_it_status(it));
	const lsm_rangedel *rd;
	size_t nrd = lsm_table_rangedels(t, &rd);
	for (size_t i = 0; i < nrd; i++) {
		lsm_slice b = rd[i].begin, e = rd[i].end;
		uint64_t s = seq ? seq : rd[i].seq;
		if (xb && lsm_slice_cmp(b, *xb) < 0 && lsm_slice_cmp(e, *xb) > 0)
			LSM_ERR(lsm_tb_add_rangedel(tb, b, *xb, s));
		if (xb && lsm_slice_cmp(e, *xe) > 0 && lsm_slice_cmp(b, *xe) < 0)
			LSM_ERR(lsm_tb_add_rangedel(tb, *xe, e, s));
		if (xb && (lsm_slice_cmp(b, *xe) >= 0 || lsm_slice_cmp(e, *xb) <= 0))
			LSM_ERR(lsm_tb_add_rangedel(tb, b, e, s));
		if (!xb)
			LSM_ERR(lsm_tb_add_rangedel(tb, b, e, s));
	}
	LSM_ERR(lsm_tb_finish(tb, &props));
	if (props.entries == 0 && props.range_deletions == 0)
		goto err;	/* nothing left: rc 0, size 0 */
	LSM_ERR(db->env->sync(db->env, f));
	LSM_ERR(lsm_meta_from_props(meta, &props));
err:
	lsm_it_free(it);
	if (tb)
		lsm_tb_free(tb);
	if (f)
		db->env->close(db->env, f);
	if (t)
		lsm_table_close(t);
	if (rc < 0 || meta->size == 0)
		db->env->remove(db->env, path);
	lsm_table_props_free(&props);
	lsm_buf_free(&k);
	free(path);
	return rc;
}

/* Link src into the store as table number, or copy it where links fail. */
static int place_file(lsm_db *db, const char *src, uint64_t number)
{
	char *dst = lsm_fname(db->path, LSM_F_TABLE, number);
	lsm_file *in = NULL, *out = NULL;
	char *buf = NULL;
	int rc;
	if (!dst)
		return -ENOMEM;
	rc = db->env->link ? db->env->link(db->env, src, dst) : -ENOTSUP;
	if (rc == 0)
		goto err;
	buf = malloc(1u << 20);
	if (!buf) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(db->env->open(db->env, src, LSM_OPEN_READ, &in));
	LSM_ERR(db->env->open(db->env, dst, LSM_OPEN_WRITE, &out));
	for (uint64_t off = 0;;) {
		size_t got;
		LSM_ERR(db->env->pread(db->env, in, buf, 1u << 20, off, &got));
		if (got == 0)
			break;
		LSM_ERR(db->env->append(db->env, out, buf, got));
		off += got;
	}
	rc = db->env->sync(db->env, out);
err:
	if (in)
		db->env->close(db->env, in);
	if (out) {
		db->env->close(db->env, out);
		if (rc < 0)
			db->env->remove(db->env, dst);
	}
	free(buf);
	free(dst);
	return rc;
}

/* ---- ingest ------------------------------------------------------------------- */

struct ingest_file {
	const char *path;
	uint64_t size;
	lsm_buf lo, hi;		/* user-key range */
	uint64_t entries;
};

static bool mem_overlaps(lsm_db *db, lsm_slice lo, lsm_slice hi)
{
	lsm_memrec *m[1 + 64];
	size_t n = 0;
	m[n++] = &db->mem;
	for (size_t i = 0; i < db->nimm && n < 65; i++)
		m[n++] = &db->imm[i];
	bool hit = false;
	lsm_buf seek = {0};
	for (size_t i = 0; i < n && !hit; i++) {
		if (lsm_mem_empty(m[i]->mem))
			continue;
		lsm_rangedel *rd = NULL;
		size_t nrd = lsm_mem_rangedels(m[i]->mem, &rd);
		if (nrd == SIZE_MAX)
			return true;	/* cannot tell: flush to be safe */
		for (size_t k = 0; k < nrd && !hit; k++)
			hit = lsm_slice_cmp(rd[k].begin, hi) <= 0 && lsm_slice_cmp(rd[k].end, lo) > 0;
		free(rd);
		lsm_it *it = lsm_mem_iter(m[i]->mem);
		if (!it)
			return true;	/* cannot tell: flush to be safe */
		lsm_buf_clear(&seek);
		lsm_ikey_append(&seek, lo, LSM_SEQ_MAX, LSM_T_SEEK);
		lsm_it_seek(it, lsm_buf_slice(&seek));
		if (lsm_it_valid(it) && lsm_slice_cmp(lsm_ikey_user(lsm_it_key(it)), hi) <= 0)
			hit = true;
		lsm_it_free(it);
	}
	lsm_buf_free(&seek);
	return hit;
}

static int read_range(lsm_db *db, struct ingest_file *f)
{
	lsm_table *t;
	LSM_TRY(db->env->size(db->env, f->path, &f->size));
	LSM_TRY(lsm_table_open(db->env, f->path, f->size, NULL, &t));
	const lsm_table_props *p = lsm_table_get_props(t);
	lsm_slice s = lsm_ikey_user(lsm_buf_slice(&p->smallest));
	lsm_slice l = lsm_ikey_user(lsm_buf_slice(&p->largest));
	int rc = lsm_buf_set(&f->lo, s.data, s.size);
	if (rc == 0)
		rc = lsm_buf_set(&f->hi, l.data, l.size);
	f->entries = p->entries + p->range_deletions;
	lsm_table_close(t);
	return rc;
}

int lsm_ingest(lsm_db *db, const char *const *paths, size_t n,
	       const void *excise_begin, size_t eblen,
	       const void *excise_end, size_t eelen)
{
	struct ingest_file *files = NULL;
	lsm_version_edit e;
	lsm_version *v = NULL;
	lsm_writer w;
	lsm_slice xb = lsm_slice_of(excise_begin, eblen);
	lsm_slice xe = lsm_slice_of(excise_end, eelen);
	bool excise = excise_begin != NULL;
	uint64_t *created = NULL;
	size_t ncreated = 0;
	bool paused = false;
	int rc = 0;

	if (db->read_only)
		return lsm_err(LSM_E_NOTSUP, "store is open read-only");
	if (excise && (!excise_end || lsm_slice_cmp(xb, xe) >= 0))
		return lsm_err(LSM_E_INVALID, "excise range is empty or inverted");
	lsm_edit_init(&e);
	files = calloc(n ? n : 1, sizeof *files);
	created = calloc(2 * n + 64, sizeof *created);
	if (!files || !created) {
		free(files);
		free(created);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		files[i].path = paths[i];
		rc = read_range(db, &files[i]);
		if (rc < 0) {
			rc = lsm_err(rc, "%s: cannot ingest: %s", paths[i], lsm_errdetail());
			goto out_nolock;
		}
	}

	lsm_db_lead_begin(db, &w);	/* mu held from here */
	if (db->bg_error) {
		rc = db->bg_error;
		goto err;
	}
	/* 1. memtables holding keys we are about to shadow or excise */
	bool flush = excise && mem_overlaps(db, xb, xe);
	for (size_t i = 0; i < n && !flush; i++)
		flush = mem_overlaps(db, lsm_buf_slice(&files[i].lo), lsm_buf_slice(&files[i].hi));
	if (flush) {
		LSM_ERR(lsm_db_make_room(db, true));
		while (db->nimm > 0 && !db->bg_error && !db->closing)
			pthread_cond_wait(&db->bg_cv, &db->mu);
		if (db->bg_error) {
			rc = db->bg_error;
			goto err;
		}
	}
	lsm_compact_pause(db);
	paused = true;
	v = db->current;
	lsm_version_ref(v);

	/* 2. excise */
	if (excise) {
		lsm_slice hi_incl = xe;	/* overlap test is inclusive; harmless */
		for (int l = 0; l < db->opt.num_levels; l++) {
			lsm_file_meta **ov = NULL;
			size_t no = 0;
			for (size_t i = 0; i < v->nfiles[l]; i++) {
				lsm_file_meta *f = v->files[l][i];
				lsm_slice s = lsm_ikey_user(lsm_buf_slice(&f->smallest));
				lsm_slice g = lsm_ikey_user(lsm_buf_slice(&f->largest));
				if (lsm_slice_cmp(g, xb) < 0 || lsm_slice_cmp(s, hi_incl) >= 0)
					continue;
				LSM_ERR(lsm_edit_del_file(&e, l, f->number));
				bool inside = lsm_slice_cmp(s, xb) >= 0 && lsm_slice_cmp(g, xe) < 0;
				if (inside)
					continue;
				lsm_file_meta *m = lsm_file_meta_new();
				if (!m) {
					rc = -ENOMEM;
					goto err;
				}
				m->number = lsm_db_new_file_number(db);
				lsm_db_pending_add(db, m->number);
				created[ncreated++] = m->number;
				char *src = lsm_fname(db->path, LSM_F_TABLE, f->number);
				pthread_mutex_unlock(&db->mu);
				rc = src ? rewrite_table(db, src, f->size, &xb, &xe, 0, m) : -ENOMEM;
				pthread_mutex_lock(&db->mu);
				free(src);
				if (rc == 0 && m->size > 0)
					rc = lsm_edit_add_file(&e, l, m);
				lsm_file_meta_unref(m);
				if (rc < 0)
					goto err;
			}
			(void)ov;
			(void)no;
		}
	}

	/* 3. place each ingested table */
	lsm_version *after = NULL;
	LSM_ERR(lsm_version_apply(v, &e, db->opt.num_levels, &after));
	for (size_t i = 0; i < n; i++) {
		struct ingest_file *f = &files[i];
		lsm_slice lo = lsm_buf_slice(&f->lo), hi = lsm_buf_slice(&f->hi);
		if (f->entries == 0)
			continue;
		int shallowest = -1;
		for (int l = 0; l < db->opt.num_levels && shallowest < 0; l++)
			if (lsm_version_overlaps(after, l, &lo, &hi))
				shallowest = l;
		lsm_file_meta *m = lsm_file_meta_new();
		if (!m) {
			rc = -ENOMEM;
			lsm_version_unref(after);
			goto err;
		}
		m->number = lsm_db_new_file_number(db);
		lsm_db_pending_add(db, m->number);
		created[ncreated++] = m->number;
		int level;
		/* A table of sequence-0 entries would be visible to every
		 * snapshot, also those taken before the ingest: with any pin
		 * held, it is rewritten with a fresh sequence instead. */
		pthread_mutex_lock(&db->snap_mu);
		bool pinned = db->nsnapshots > 0;
		pthread_mutex_unlock(&db->snap_mu);
		pthread_mutex_unlock(&db->mu);
		if (shallowest < 0 && !pinned) {
			level = db->opt.num_levels - 1;
			rc = place_file(db, f->path, m->number);
			if (rc == 0) {
				lsm_table *t;
				char *p = lsm_fname(db->path, LSM_F_TABLE, m->number);
				rc = p ? lsm_table_open(db->env, p, f->size, NULL, &t) : -ENOMEM;
				free(p);
				if (rc == 0) {
					rc = lsm_meta_from_props(m, lsm_table_get_props(t));
					m->size = f->size;
					lsm_table_close(t);
				}
			}
		} else {
			level = shallowest < 0 ? db->opt.num_levels - 1
			      : shallowest > 0 ? shallowest - 1 : 0;
			uint64_t seq = atomic_load(&db->last_seq) + 1;
			rc = rewrite_table(db, f->path, f->size, NULL, NULL, seq, m);
			if (rc == 0)
				atomic_store_explicit(&db->last_seq, seq, memory_order_release);
		}
		pthread_mutex_lock(&db->mu);
		if (rc == 0 && m->size > 0) {
			rc = lsm_edit_add_file(&e, level, m);
			lsm_version_edit one;
			lsm_edit_init(&one);
			if (rc == 0)
				rc = lsm_edit_add_file(&one, level, m);
			lsm_version *next = NULL;
			if (rc == 0)
				rc = lsm_version_apply(after, &one, db->opt.num_levels, &next);
			lsm_edit_clear(&one);
			if (rc == 0) {
				lsm_version_unref(after);
				after = next;
			}
		}
		lsm_file_meta_unref(m);
		if (rc < 0) {
			lsm_version_unref(after);
			goto err;
		}
	}
	lsm_version_unref(after);

	/* 4. one edit */
	LSM_ERR(lsm_db_log_and_apply(db, &e));
	lsm_log(db, "ingested %zu table(s)%s", n, excise ? " with an excise" : "");
err:
	for (size_t i = 0; i < ncreated; i++) {
		lsm_db_pending_remove(db, created[i]);
		if (rc < 0 && !db->manifest_unsure) {
			char *p = lsm_fname(db->path, LSM_F_TABLE, created[i]);
			if (p)
				db->env->remove(db->env, p);
			free(p);
		}
	}
	if (v)
		lsm_version_unref(v);
	if (paused)
		lsm_compact_resume(db);
	if (rc == 0)
		lsm_db_remove_obsolete(db);
	lsm_db_lead_end(db, &w);	/* releases mu */
out_nolock:
	for (size_t i = 0; i < n; i++) {
		lsm_buf_free(&files[i].lo);
		lsm_buf_free(&files[i].hi);
	}
	free(files);
	free(created);
	lsm_edit_clear(&e);
	return rc;
}
