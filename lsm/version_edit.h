/*
 * version_edit.h — a version edit: one change to the set of live tables
 * (files added and removed per level, plus the counters that move with
 * them).  Each MANIFEST record is one encoded edit; the encoding (tag
 * varint, then that tag's fields) is documented in doc/manifest_format.md.
 *
 * Also the table metadata record, lsm_file_meta, shared by reference
 * between edits and versions.
 *
 * Invariants:
 *  1. An edit holds one reference on every meta in adds[]; lsm_edit_clear
 *     drops them.
 *  2. Only the fields documented as encoded reach disk; refs, level,
 *     being_compacted, marked and table_handle are runtime state.
 *  3. lsm_edit_decode accepts exactly what lsm_edit_encode can produce
 *     (format 1); any other byte string is LSM_E_CORRUPT (or LSM_E_VERSION
 *     for a newer format tag) and never crashes or over-allocates.
 *
 * Threads: an edit belongs to one thread.  A meta's reference count is
 * atomic, so metas may be shared by versions read from several threads;
 * its other fields are immutable once it is published in a version,
 * except the runtime flags, which the owner of the version set guards.
 */
#ifndef LSM_VERSION_EDIT_H
#define LSM_VERSION_EDIT_H

#include "util.h"

/* ---- on-disk constants: FROZEN (see doc/manifest_format.md) ------------ */

#define LSM_MANIFEST_FORMAT 1	/* the edit encoding this build writes */

enum lsm_edit_tag {
	LSM_TAG_FORMAT = 1,	/* varint32 format version */
	LSM_TAG_LOG_NUMBER = 2,	/* varint64 */
	LSM_TAG_NEXT_FILE = 3,	/* varint64 */
	LSM_TAG_LAST_SEQ = 4,	/* varint64 */
	LSM_TAG_DEL_FILE = 5,	/* varint32 level, varint64 number */
	LSM_TAG_ADD_FILE = 6,	/* varint32 level, then the meta fields */
	LSM_TAG_END = 7,	/* no fields; last byte of every edit */
};

/* ---- table metadata ----------------------------------------------------- */

typedef struct lsm_file_meta {
	uint64_t number, size;
	lsm_buf smallest, largest;	/* internal keys */
	uint64_t min_seq, max_seq, entries, deletions, range_deletions,
		raw_bytes;	/* raw_bytes = key+value bytes before compression */
	/* runtime only, never encoded: */
	int refs;
	int level;
	bool being_compacted;
	bool marked;
	void *table_handle;	/* not owned: unref never touches it */
} lsm_file_meta;

/* A zeroed meta with refs = 1; NULL when out of memory. */
lsm_file_meta *lsm_file_meta_new(void);
/* Deep copy of the encoded fields; refs = 1, other runtime fields zero.
 * NULL when out of memory. */
lsm_file_meta *lsm_file_meta_dup(const lsm_file_meta *m);
void lsm_file_meta_ref(lsm_file_meta *m);
/* Drop a reference; the last one frees m and its keys.  NULL is a no-op. */
void lsm_file_meta_unref(lsm_file_meta *m);

/* ---- edits -------------------------------------------------------------- */

typedef struct lsm_edit_file {
	int level;
	lsm_file_meta *meta;
} lsm_edit_file;

typedef struct lsm_edit_del {
	int level;
	uint64_t number;
} lsm_edit_del;

typedef struct lsm_version_edit {
	bool has_format;
	uint32_t format;
	bool has_log_number;
	uint64_t log_number;
	bool has_next_file;
	uint64_t next_file;
	bool has_last_seq;
	uint64_t last_seq;
	lsm_edit_del *dels;
	size_t ndels, cap_dels;
	lsm_edit_file *adds;	/* the edit holds one ref on each meta */
	size_t nadds, cap_adds;
} lsm_version_edit;

void lsm_edit_init(lsm_version_edit *e);
/* Free everything (dropping the refs on added metas) and re-init. */
void lsm_edit_clear(lsm_version_edit *e);
/* Record that m is added at level; takes a new reference on m (the caller
 * keeps its own).  LSM_E_INVALID for a level outside [0, LSM_MAX_LEVELS). */
int lsm_edit_add_file(lsm_version_edit *e, int level, lsm_file_meta *m);
/* Record that table number is removed from level. */
int lsm_edit_del_file(lsm_version_edit *e, int level, uint64_t number);

/*
 * Append the encoding of e to out.  Fields are written in a fixed order:
 * format, log number, next file, last sequence, deletions, additions, and
 * the END tag (so a truncated edit never decodes as a shorter valid one).
 * LSM_E_INVALID if e holds something decode would reject (a level out of
 * range, keys shorter than an internal-key trailer, min_seq > max_seq,
 * sequences above LSM_SEQ_MAX, format 0).
 */
int lsm_edit_encode(const lsm_version_edit *e, lsm_buf *out);
/*
 * Decode in into e.  REQUIRES: e initialised (lsm_edit_init); its previous
 * contents are cleared first.  Returns LSM_E_CORRUPT on anything malformed
 * (unknown tag, truncated field, missing END or bytes after it, level >=
 * LSM_MAX_LEVELS, a scalar tag given twice), LSM_E_VERSION when the format
 * tag names a newer format; the detail is "version edit: <why> at byte N"
 * (N counted within the record; the caller adds the file and record
 * offset).  On failure e is left empty.
 */
int lsm_edit_decode(lsm_version_edit *e, lsm_slice in);

#endif /* LSM_VERSION_EDIT_H */
