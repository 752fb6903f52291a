/*
 * check.c — verification of a closed store (fsck's engine pass) and the
 * two repairs fsck may make at this layer.
 *
 * lsm_check reads, never writes: CURRENT and the manifest parse; every
 * live table exists at its recorded size and every block verifies (keys in
 * order, checksums); tables of L1 and below do not overlap; no table holds
 * a sequence beyond the manifest's; every WAL record before a torn tail
 * verifies; files that no live state names are reported.  Each problem is
 * handed to the caller's callback; the return value says only whether the
 * check could run.
 *
 * Repairs open the store for writing (so they take its lock): dropping a
 * table from the manifest, optionally salvaging the entries still readable
 * into a replacement table, and removing a file the manifest does not
 * name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"

struct check_ctx {
	lsm_check_cb cb;
	void *ctx;
	const char *file;
	uint64_t number;
	int level;
	int problems;
};

static void report(struct check_ctx *c, enum lsm_check_problem p, const char *file,
		   uint64_t offset, uint64_t number, int level, const char *detail)
{
	lsm_check_report r = { p, file, offset, number, level, detail };
	c->problems++;
	if (c->cb)
		c->cb(c->ctx, &r);
}

static void table_problem(void *ctx, uint64_t offset, const char *msg)
{
	struct check_ctx *c = ctx;
	enum lsm_check_problem p = strstr(msg, "order") ? LSM_CHECK_KEY_ORDER
							: LSM_CHECK_TABLE_CORRUPT;
	report(c, p, c->file, offset, c->number, c->level, msg);
}

static void check_tables(lsm_db *db, struct check_ctx *c, uint64_t last_seq)
{
	lsm_version *v = db->current;
	char name[64], detail[512];
	for (int l = 0; l < db->opt.num_levels; l++) {
		for (size_t i = 0; i < v->nfiles[l]; i++) {
			lsm_file_meta *f = v->files[l][i];
			char *path = lsm_fname(db->path, LSM_F_TABLE, f->number);
			uint64_t size;
			lsm_table *t;
			snprintf(name, sizeof name, "%06llu.sst", (unsigned long long)f->number);
			if (!path)
				continue;
			int rc = db->env->size(db->env, path, &size);
			if (rc < 0) {
				snprintf(detail, sizeof detail, "table %s of level %d is missing", name, l);
				report(c, LSM_CHECK_TABLE_MISSING, name, 0, f->number, l, detail);
				free(path);
				continue;
			}
			if (size != f->size) {
				snprintf(detail, sizeof detail,
					 "table %s is %llu bytes, the manifest says %llu", name,
					 (unsigned long long)size, (unsigned long long)f->size);
				report(c, LSM_CHECK_TABLE_SIZE, name, size, f->number, l, detail);
				free(path);
				continue;
			}
			rc = lsm_table_open(db->env, path, f->size, NULL, &t);
			free(path);
			if (rc < 0) {
				report(c, LSM_CHECK_TABLE_CORRUPT, name, 0, f->number, l, lsm_errdetail());
				continue;
			}
			c->file = name;
			c->number = f->number;
			c->level = l;
			lsm_table_verify(t, table_problem, c);
			lsm_table_close(t);
			if (f->max_seq > last_seq) {
				snprintf(detail, sizeof detail,
					 "table %s holds sequence %llu beyond the store's last %llu",
					 name, (unsigned long long)f->max_seq,
					 (unsigned long long)last_seq);
				report(c, LSM_CHECK_SEQ, name, 0, f->number, l, detail);
			}
		}
		if (l == 0)
			continue;
		for (size_t i = 1; i < v->nfiles[l]; i++) {
			lsm_file_meta *a = v->files[l][i - 1], *b = v->files[l][i];
			if (lsm_ikey_cmp(lsm_buf_slice(&a->largest), lsm_buf_slice(&b->smallest)) >= 0) {
				snprintf(name, sizeof name, "%06llu.sst", (unsigned long long)b->number);
				snprintf(detail, sizeof detail,
					 "tables %06llu.sst and %06llu.sst of level %d overlap",
					 (unsigned long long)a->number, (unsigned long long)b->number, l);
				report(c, LSM_CHECK_LEVEL_OVERLAP, name, 0, b->number, l, detail);
			}
		}
	}
}

static int check_logs(lsm_db *db, struct check_ctx *c, char **names, size_t n)
{
	lsm_buf rec = {0};
	for (size_t i = 0; i < n; i++) {
		uint64_t num;
		if (lsm_fname_parse(names[i], &num) != LSM_F_LOG || num < db->min_log_number)
			continue;
		char *path = lsm_fname(db->path, LSM_F_LOG, num);
		lsm_wal_reader *r;
		if (!path)
			return -ENOMEM;
		int rc = lsm_wal_reader_open(db->env, path, &r);
		free(path);
		if (rc < 0) {
			report(c, LSM_CHECK_WAL_CORRUPT, names[i], 0, num, -1, lsm_errdetail());
			continue;
		}
		for (;;) {
			uint64_t off = lsm_wal_reader_offset(r);
			rc = lsm_wal_read(r, &rec);
			if (rc == 0)
				break;
			if (rc < 0) {
				report(c, LSM_CHECK_WAL_CORRUPT, names[i], off, num, -1, lsm_errdetail());
				break;
			}
		}
		lsm_wal_reader_close(r);
	}
	lsm_buf_free(&rec);
	return 0;
}

static bool table_live(const lsm_version *v, uint64_t number)
{
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (size_t i = 0; i < v->nfiles[l]; i++)
			if (v->files[l][i]->number == number)
				return true;
	return false;
}

/* Is name a file the store's live state does not need? */
static bool is_extra(lsm_db *db, const char *name, uint64_t max_log)
{
	uint64_t num;
	switch (lsm_fname_parse(name, &num)) {
	case LSM_F_TABLE:
		return !table_live(db->current, num);
	case LSM_F_MANIFEST:
		return num != db->manifest_number;
	case LSM_F_LOG:
		/* older logs are obsolete; the newest one may be empty */
		return num < db->min_log_number && num != max_log;
	case LSM_F_TEMP:
		return true;
	default:
		return false;
	}
}

int lsm_check(const char *path, const lsm_options *o, lsm_check_cb cb, void *ctx)
{
	struct check_ctx c = { cb, ctx, NULL, 0, -1, 0 };
	lsm_db *db;
	char **names = NULL;
	size_t n = 0;
	int rc = lsm_db_open_meta(path, o, &db);
	if (rc == LSM_E_CORRUPT || rc == -ENOENT) {
		const char *d = lsm_errdetail();
		enum lsm_check_problem p = strstr(d, "CURRENT") ? LSM_CHECK_CURRENT
								: LSM_CHECK_MANIFEST;
		report(&c, p, strstr(d, "CURRENT") ? "CURRENT" : "MANIFEST", 0, 0, -1, d);
		return 0;
	}
	if (rc < 0)
		return rc;
	uint64_t last_seq = atomic_load(&db->last_seq);
	rc = db->env->list(db->env, db->path, &names, &n);
	if (rc < 0)
		goto out;
	/* WAL records carry sequences beyond the manifest's */
	check_logs(db, &c, names, n);
	/* a table never holds a sequence beyond the last the manifest
	 * recorded when it was added (the WAL's may be newer) */
	check_tables(db, &c, last_seq);
	uint64_t max_log = 0, num;
	for (size_t i = 0; i < n; i++)
		if (lsm_fname_parse(names[i], &num) == LSM_F_LOG && num > max_log)
			max_log = num;
	for (size_t i = 0; i < n; i++) {
		if (!is_extra(db, names[i], max_log))
			continue;
		char detail[512];
		snprintf(detail, sizeof detail, "file %s is not named by the manifest", names[i]);
		lsm_fname_parse(names[i], &num);
		report(&c, LSM_CHECK_EXTRA_FILE, names[i], 0, num, -1, detail);
	}
	rc = 0;
out:
	lsm_env_free_list(names, n);
	lsm_db_close_meta(db);
	return rc;
}

/* ---- repairs ------------------------------------------------------------------- */

static int open_for_repair(const char *path, const lsm_options *o, lsm_db **db)
{
	lsm_options ro;
	if (o)
		ro = *o;
	else
		lsm_options_init(&ro);
	ro.create_if_missing = false;
	ro.read_only = false;
	ro.disable_auto_compaction = true;
	return lsm_open(path, &ro, db);
}

/* Copy the readable entries of table src into meta's new table: forward
 * until the first unreadable block, then backward from the end until it. */
static int salvage(lsm_db *db, const lsm_file_meta *src, lsm_file_meta *meta)
{
	char *in = lsm_fname(db->path, LSM_F_TABLE, src->number);
	char *out = lsm_fname(db->path, LSM_F_TABLE, meta->number);
	lsm_table *t = NULL;
	lsm_it *it = NULL;
	lsm_file *f = NULL;
	lsm_table_builder *tb = NULL;
	lsm_table_props props;
	lsm_table_opts to;
	lsm_buf *tail = NULL;
	size_t ntail = 0, captail = 0;
	lsm_buf last = {0};
	bool have_last = false;
	uint64_t size;
	int rc;

	memset(&props, 0, sizeof props);
	meta->size = 0;
	if (!in || !out) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(db->env->size(db->env, in, &size));
	LSM_ERR(lsm_table_open(db->env, in, size, NULL, &t));
	LSM_ERR(db->env->open(db->env, out, LSM_OPEN_WRITE, &f));
	lsm_table_opts_from(&db->opt, LSM_LEVEL_DEEP, &to);
	LSM_ERR(lsm_tb_new(db->env, f, out, &to, &tb));
	it = lsm_table_iter(t, false);
	if (!it) {
		rc = -ENOMEM;
		goto err;
	}
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		LSM_ERR(lsm_tb_add(tb, lsm_it_key(it), lsm_it_value(it)));
		LSM_ERR(lsm_buf_set(&last, lsm_it_key(it).data, lsm_it_key(it).size));
		have_last = true;
	}
	if (lsm_it_status(it) < 0) {
		/* collect the tail backwards with a fresh iterator (errors
		 * are sticky), stopping at what we already have */
		lsm_it_free(it);
		it = lsm_table_iter(t, false);
		if (!it) {
			rc = -ENOMEM;
			goto err;
		}
		for (lsm_it_seek_last(it); lsm_it_valid(it); lsm_it_prev(it)) {
			lsm_slice k = lsm_it_key(it);
			if (have_last && lsm_ikey_cmp(k, lsm_buf_slice(&last)) <= 0)
				break;
			if (ntail == captail) {
				size_t cap = captail ? captail * 2 : 64;
				lsm_buf *p = realloc(tail, cap * 2 * sizeof *p);
				if (!p) {
					rc = -ENOMEM;
					goto err;
				}
				memset(p + captail * 2, 0, (cap - captail) * 2 * sizeof *p);
				tail = p;
				captail = cap;
			}
			LSM_ERR(lsm_buf_set(&tail[2 * ntail], k.data, k.size));
			LSM_ERR(lsm_buf_set(&tail[2 * ntail + 1], lsm_it_value(it).data,
					    lsm_it_value(it).size));
			ntail++;
		}
		for (size_t i = ntail; i-- > 0;)
			LSM_ERR(lsm_tb_add(tb, lsm_buf_slice(&tail[2 * i]),
					   lsm_buf_slice(&tail[2 * i + 1])));
	}
	const lsm_rangedel *rd;
	size_t nrd = lsm_table_rangedels(t, &rd);
	for (size_t i = 0; i < nrd; i++)
		LSM_ERR(lsm_tb_add_rangedel(tb, rd[i].begin, rd[i].end, rd[i].seq));
	LSM_ERR(lsm_tb_finish(tb, &props));
	if (props.entries == 0 && props.range_deletions == 0)
		goto err;
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
	if ((rc < 0 || meta->size == 0) && out)
		db->env->remove(db->env, out);
	for (size_t i = 0; i < 2 * ntail; i++)
		lsm_buf_free(&tail[i]);
	free(tail);
	lsm_buf_free(&last);
	lsm_table_props_free(&props);
	free(in);
	free(out);
	return rc;
}

int lsm_repair_drop_table(const char *path, const lsm_options *o,
			  uint64_t number, bool do_salvage)
{
	lsm_db *db;
	lsm_version_edit e;
	lsm_file_meta *m = NULL;
	int rc;

	LSM_TRY(open_for_repair(path, o, &db));
	lsm_edit_init(&e);
	pthread_mutex_lock(&db->mu);
	lsm_compact_pause(db);
	lsm_file_meta *victim = NULL;
	int level = -1;
	for (int l = 0; l < LSM_MAX_LEVELS && !victim; l++)
		for (size_t i = 0; i < db->current->nfiles[l]; i++)
			if (db->current->files[l][i]->number == number) {
				victim = db->current->files[l][i];
				level = l;
				break;
			}
	if (!victim) {
		rc = lsm_err(LSM_E_NOTFOUND, "table %06llu is not live", (unsigned long long)number);
		goto err;
	}
	lsm_file_meta_ref(victim);
	LSM_ERR(lsm_edit_del_file(&e, level, number));
	if (do_salvage) {
		m = lsm_file_meta_new();
		if (!m) {
			rc = -ENOMEM;
			goto err;
		}
		m->number = lsm_db_new_file_number(db);
		lsm_db_pending_add(db, m->number);
		pthread_mutex_unlock(&db->mu);
		rc = salvage(db, victim, m);
		pthread_mutex_lock(&db->mu);
		lsm_db_pending_remove(db, m->number);
		if (rc == 0 && m->size > 0)
			rc = lsm_edit_add_file(&e, level, m);
		if (rc < 0)
			goto err;
	}
	LSM_ERR(lsm_db_log_and_apply(&*db, &e));
	lsm_log(db, "repair: dropped table %06llu from level %d%s", (unsigned long long)number,
		level, do_salvage ? ", salvaging its readable entries" : "");
err:
	if (victim)
		lsm_file_meta_unref(victim);
	if (m)
		lsm_file_meta_unref(m);
	lsm_compact_resume(db);
	pthread_mutex_unlock(&db->mu);
	lsm_edit_clear(&e);
	int c = lsm_close(db);
	return rc < 0 ? rc : c;
}

int lsm_repair_remove_extra(const char *path, const lsm_options *o, const char *file)
{
	lsm_db *db;
	int rc;
	if (strchr(file, '/'))
		return lsm_err(LSM_E_INVALID, "%s: not a file name of the store", file);
	LSM_TRY(lsm_db_open_meta(path, o, &db));
	bool extra = is_extra(db, file, UINT64_MAX);
	char *p = NULL;
	if (!extra) {
		rc = lsm_err(LSM_E_INVALID, "%s is part of the store's live state", file);
		goto out;
	}
	if (asprintf(&p, "%s/%s", path, file) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = db->env->remove(db->env, p);
	free(p);
out:
	lsm_db_close_meta(db);
	return rc;
}

int lsm_repair_truncate_log(const char *path, const lsm_options *o,
			    const char *file, uint64_t offset)
{
	lsm_env *env = o && o->env ? o->env : lsm_env_posix();
	char *src = NULL, *tmp = NULL, *buf = NULL;
	lsm_file *in = NULL, *out = NULL;
	uint64_t num, size;
	int rc;

	lsm_file *lock = NULL;
	char other[256] = "";
	if (strchr(file, '/') || lsm_fname_parse(file, &num) != LSM_F_LOG)
		return lsm_err(LSM_E_INVALID, "%s: not a log file of the store", file);
	/* never under an open store */
	char *lockp = lsm_fname(path, LSM_F_LOCK, 0);
	rc = lockp ? env->lock(env, lockp, "lsm_repair_truncate_log", &lock, other, sizeof other)
		   : -ENOMEM;
	free(lockp);
	if (rc == LSM_E_LOCKED)
		return lsm_err(rc, "%s: store is in use by %s", path, other[0] ? other : "another process");
	if (rc < 0)
		return rc;
	if (asprintf(&src, "%s/%s", path, file) < 0 || asprintf(&tmp, "%s/%s.trunc", path, file) < 0 ||
	    !(buf = malloc(1u << 20))) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(env->size(env, src, &size));
	if (offset > size) {
		rc = lsm_err(LSM_E_INVALID, "%s: offset %llu is past its end", src,
			     (unsigned long long)offset);
		goto err;
	}
	/* copy the good prefix, then replace the log atomically */
	LSM_ERR(env->open(env, src, LSM_OPEN_READ, &in));
	LSM_ERR(env->open(env, tmp, LSM_OPEN_WRITE, &out));
	for (uint64_t off = 0; off < offset;) {
		size_t got;
		LSM_ERR(env->pread(env, in, buf, (size_t)LSM_MIN((uint64_t)(1u << 20), offset - off),
				   off, &got));
		if (got == 0)
			break;
		LSM_ERR(env->append(env, out, buf, got));
		off += got;
	}
	LSM_ERR(env->sync(env, out));
	env->close(env, out);
	out = NULL;
	LSM_ERR(env->rename(env, tmp, src));
	rc = env->sync_dir(env, path);
err:
	if (in)
		env->close(env, in);
	if (out) {
		env->close(env, out);
		env->remove(env, tmp);
	}
	free(src);
	free(tmp);
	free(buf);
	if (lock)
		env->unlock(env, lock);
	return rc;
}
