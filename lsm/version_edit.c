/*
 * version_edit.c — table metadata records and the encoding of version
 * edits (the MANIFEST record payload, doc/manifest_format.md).
 *
 * Invariants: the decoder consumes its input only through the checked
 * decoders of util.h, so it never reads past the record; every allocation
 * it makes is for bytes actually present in the record (keys) or one
 * entry per decoded field, so a hostile record cannot make it allocate
 * more than a small multiple of its own size.
 *
 * Threads: see version_edit.h; meta reference counts use atomic builtins.
 */
#include <errno.h>
#include <stdlib.h>
#include "dbformat.h"
#include "version_edit.h"

/* ---- table metadata ----------------------------------------------------- */

lsm_file_meta *lsm_file_meta_new(void)
{
	lsm_file_meta *m = calloc(1, sizeof *m);
	if (m)
		m->refs = 1;
	return m;
}

lsm_file_meta *lsm_file_meta_dup(const lsm_file_meta *m)
{
	lsm_file_meta *d = lsm_file_meta_new();
	if (!d)
		return NULL;
	d->number = m->number;
	d->size = m->size;
	d->min_seq = m->min_seq;
	d->max_seq = m->max_seq;
	d->entries = m->entries;
	d->deletions = m->deletions;
	d->range_deletions = m->range_deletions;
	d->raw_bytes = m->raw_bytes;
	if (lsm_buf_set(&d->smallest, m->smallest.data, m->smallest.len) < 0 ||
	    lsm_buf_set(&d->largest, m->largest.data, m->largest.len) < 0) {
		lsm_file_meta_unref(d);
		return NULL;
	}
	return d;
}

void lsm_file_meta_ref(lsm_file_meta *m)
{
	__atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
}

void lsm_file_meta_unref(lsm_file_meta *m)
{
	if (!m)
		return;
	/* acq_rel: the last holder must see every other holder's writes
	 * before it frees. */
	if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	lsm_buf_free(&m->smallest);
	lsm_buf_free(&m->largest);
	free(m);
}

/* ---- edits -------------------------------------------------------------- */

void lsm_edit_init(lsm_version_edit *e)
{
	memset(e, 0, sizeof *e);
}

void lsm_edit_clear(lsm_version_edit *e)
{
	for (size_t i = 0; i < e->nadds; i++)
		lsm_file_meta_unref(e->adds[i].meta);
	free(e->adds);
	free(e->dels);
	lsm_edit_init(e);
}

/* Make room for one more element of size sz in *arr (n used, *cap). */
static int edit_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / sz)
		return -ENOMEM;
	void *p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static bool edit_level_ok(int level)
{
	return level >= 0 && level < LSM_MAX_LEVELS;
}

int lsm_edit_add_file(lsm_version_edit *e, int level, lsm_file_meta *m)
{
	if (!m || !edit_level_ok(level))
		return lsm_err(LSM_E_INVALID, "version edit: cannot add file "
			       "at level %d", level);
	void *arr = e->adds;
	LSM_TRY(edit_grow(&arr, e->nadds, &e->cap_adds, sizeof *e->adds));
	e->adds = arr;
	lsm_file_meta_ref(m);
	e->adds[e->nadds].level = level;
	e->adds[e->nadds].meta = m;
	e->nadds++;
	return 0;
}

int lsm_edit_del_file(lsm_version_edit *e, int level, uint64_t number)
{
	if (!edit_level_ok(level))
		return lsm_err(LSM_E_INVALID, "version edit: cannot delete "
			       "file at level %d", level);
	void *arr = e->dels;
	LSM_TRY(edit_grow(&arr, e->ndels, &e->cap_dels, sizeof *e->dels));
	e->dels = arr;
	e->dels[e->ndels].level = level;
	e->dels[e->ndels].number = number;
	e->ndels++;
	return 0;
}

/* ---- encoding ----------------------------------------------------------- */

/* What decode demands of a table's metadata; NULL if fine. */
static const char *edit_meta_problem(const lsm_file_meta *m)
{
	if (m->smallest.len < 8 || m->largest.len < 8)
		return "table key shorter than an internal-key trailer";
	if (m->min_seq > m->max_seq)
		return "table min_seq above max_seq";
	if (m->max_seq > LSM_SEQ_MAX)
		return "table sequence above the maximum";
	return NULL;
}

int lsm_edit_encode(const lsm_version_edit *e, lsm_buf *out)
{
	int rc;
	size_t start = out->len;
	const char *why = NULL;

	if (e->has_format && e->format == 0)
		why = "format 0";
	else if (e->has_last_seq && e->last_seq > LSM_SEQ_MAX)
		why = "last sequence above the maximum";
	for (size_t i = 0; !why && i < e->ndels; i++)
		if (!edit_level_ok(e->dels[i].level))
			why = "deletion level out of range";
	for (size_t i = 0; !why && i < e->nadds; i++)
		if (!edit_level_ok(e->adds[i].level))
			why = "addition level out of range";
		else
			why = edit_meta_problem(e->adds[i].meta);
	if (why)
		return lsm_err(LSM_E_INVALID, "version edit: cannot encode: %s",
			       why);

	if (e->has_format) {
		LSM_ERR(lsm_putv32(out, LSM_TAG_FORMAT));
		LSM_ERR(lsm_putv32(out, e->format));
	}
	if (e->has_log_number) {
		LSM_ERR(lsm_putv32(out, LSM_TAG_LOG_NUMBER));
		LSM_ERR(lsm_putv64(out, e->log_number));
	}
	if (e->has_next_file) {
		LSM_ERR(lsm_putv32(out, LSM_TAG_NEXT_FILE));
		LSM_ERR(lsm_putv64(out, e->next_file));
	}
	if (e->has_last_seq) {
		LSM_ERR(lsm_putv32(out, LSM_TAG_LAST_SEQ));
		LSM_ERR(lsm_putv64(out, e->last_seq));
	}
	for (size_t i = 0; i < e->ndels; i++) {
		LSM_ERR(lsm_putv32(out, LSM_TAG_DEL_FILE));
		LSM_ERR(lsm_putv32(out, (uint32_t)e->dels[i].level));
		LSM_ERR(lsm_putv64(out, e->dels[i].number));
	}
	for (size_t i = 0; i < e->nadds; i++) {
		const lsm_file_meta *m = e->adds[i].meta;
		LSM_ERR(lsm_putv32(out, LSM_TAG_ADD_FILE));
		LSM_ERR(lsm_putv32(out, (uint32_t)e->adds[i].level));
		LSM_ERR(lsm_putv64(out, m->number));
		LSM_ERR(lsm_putv64(out, m->size));
		LSM_ERR(lsm_put_lp(out, lsm_buf_slice(&m->smallest)));
		LSM_ERR(lsm_put_lp(out, lsm_buf_slice(&m->largest)));
		LSM_ERR(lsm_putv64(out, m->min_seq));
		LSM_ERR(lsm_putv64(out, m->max_seq));
		LSM_ERR(lsm_putv64(out, m->entries));
		LSM_ERR(lsm_putv64(out, m->deletions));
		LSM_ERR(lsm_putv64(out, m->range_deletions));
		LSM_ERR(lsm_putv64(out, m->raw_bytes));
	}
	LSM_ERR(lsm_putv32(out, LSM_TAG_END));
	return 0;
err:
	out->len = start;	/* never leave half an edit behind */
	return rc;
}

/* ---- decoding ----------------------------------------------------------- */

/* Where the decoder is, for error details. */
struct edit_dec {
	lsm_slice in;
	size_t total;
};

static size_t dec_pos(const struct edit_dec *d)
{
	return d->total - d->in.size;
}

static int dec_corrupt(size_t at, const char *why)
{
	return lsm_err(LSM_E_CORRUPT, "version edit: %s at byte %zu", why, at);
}

static int dec_level(struct edit_dec *d, int *level)
{
	size_t at = dec_pos(d);
	uint32_t v;
	if (!lsm_getv32(&d->in, &v))
		return dec_corrupt(at, "truncated level");
	if (v >= LSM_MAX_LEVELS)
		return dec_corrupt(at, "level out of range");
	*level = (int)v;
	return 0;
}

static int dec_u64(struct edit_dec *d, uint64_t *v, const char *what)
{
	size_t at = dec_pos(d);
	if (!lsm_getv64(&d->in, v))
		return dec_corrupt(at, what);
	return 0;
}

static int dec_key(struct edit_dec *d, lsm_buf *key, const char *what)
{
	size_t at = dec_pos(d);
	lsm_slice s;
	if (!lsm_get_lp(&d->in, &s))
		return dec_corrupt(at, what);
	if (s.size < 8)
		return dec_corrupt(at, "table key shorter than an "
				   "internal-key trailer");
	return lsm_buf_set(key, s.data, s.size);
}

static int dec_add(struct edit_dec *d, lsm_version_edit *e)
{
	int rc, level;
	size_t at = dec_pos(d);
	lsm_file_meta *m = lsm_file_meta_new();

	if (!m) {
		rc = -ENOMEM;
		goto err;
	}
	LSM_ERR(dec_level(d, &level));
	LSM_ERR(dec_u64(d, &m->number, "truncated table number"));
	LSM_ERR(dec_u64(d, &m->size, "truncated table size"));
	LSM_ERR(dec_key(d, &m->smallest, "truncated smallest key"));
	LSM_ERR(dec_key(d, &m->largest, "truncated largest key"));
	LSM_ERR(dec_u64(d, &m->min_seq, "truncated min_seq"));
	LSM_ERR(dec_u64(d, &m->max_seq, "truncated max_seq"));
	LSM_ERR(dec_u64(d, &m->entries, "truncated entry count"));
	LSM_ERR(dec_u64(d, &m->deletions, "truncated deletion count"));
	LSM_ERR(dec_u64(d, &m->range_deletions,
			"truncated range deletion count"));
	LSM_ERR(dec_u64(d, &m->raw_bytes, "truncated raw byte count"));
	const char *why = edit_meta_problem(m);
	if (why) {
		rc = dec_corrupt(at, why);
		goto err;
	}
	m->level = level;
	LSM_ERR(lsm_edit_add_file(e, level, m));
	lsm_file_meta_unref(m);		/* the edit holds its own ref now */
	return 0;
err:
	lsm_file_meta_unref(m);
	return rc;
}

/* A scalar tag may appear once per edit. */
static int dec_once(size_t at, bool *seen)
{
	if (*seen)
		return dec_corrupt(at, "tag repeated");
	*seen = true;
	return 0;
}

int lsm_edit_decode(lsm_version_edit *e, lsm_slice in)
{
	int rc;
	struct edit_dec d = { in, in.size };

	lsm_edit_clear(e);
	for (;;) {
		if (d.in.size == 0) {
			rc = dec_corrupt(dec_pos(&d), "edit ends without its "
					 "end tag");
			goto err;
		}
		size_t at = dec_pos(&d);
		uint32_t tag;
		if (!lsm_getv32(&d.in, &tag)) {
			rc = dec_corrupt(at, "truncated or overlong tag");
			goto err;
		}
		switch (tag) {
		case LSM_TAG_FORMAT:
			LSM_ERR(dec_once(at, &e->has_format));
			if (!lsm_getv32(&d.in, &e->format)) {
				rc = dec_corrupt(at, "truncated format");
				goto err;
			}
			if (e->format == 0) {
				rc = dec_corrupt(at, "format 0");
				goto err;
			}
			if (e->format > LSM_MANIFEST_FORMAT) {
				rc = lsm_err(LSM_E_VERSION, "version edit: "
					     "format %u is newer than this "
					     "build's %d", (unsigned)e->format,
					     LSM_MANIFEST_FORMAT);
				goto err;
			}
			break;
		case LSM_TAG_LOG_NUMBER:
			LSM_ERR(dec_once(at, &e->has_log_number));
			LSM_ERR(dec_u64(&d, &e->log_number,
					"truncated log number"));
			break;
		case LSM_TAG_NEXT_FILE:
			LSM_ERR(dec_once(at, &e->has_next_file));
			LSM_ERR(dec_u64(&d, &e->next_file,
					"truncated next file number"));
			break;
		case LSM_TAG_LAST_SEQ:
			LSM_ERR(dec_once(at, &e->has_last_seq));
			LSM_ERR(dec_u64(&d, &e->last_seq,
					"truncated last sequence"));
			if (e->last_seq > LSM_SEQ_MAX) {
				rc = dec_corrupt(at, "last sequence above "
						 "the maximum");
				goto err;
			}
			break;
		case LSM_TAG_DEL_FILE: {
			int level;
			uint64_t number;
			LSM_ERR(dec_level(&d, &level));
			LSM_ERR(dec_u64(&d, &number, "truncated table number"));
			LSM_ERR(lsm_edit_del_file(e, level, number));
			break;
		}
		case LSM_TAG_ADD_FILE:
			LSM_ERR(dec_add(&d, e));
			break;
		case LSM_TAG_END:
			if (d.in.size != 0) {
				rc = dec_corrupt(dec_pos(&d), "bytes after the "
						 "end tag");
				goto err;
			}
			return 0;
		default:
			rc = lsm_err(LSM_E_CORRUPT, "version edit: unknown tag "
				     "%u at byte %zu", (unsigned)tag, at);
			goto err;
		}
	}
err:
	lsm_edit_clear(e);
	return rc;
}
