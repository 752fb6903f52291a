/*
 * memtable.c — the memtable: an arena-backed concurrent skiplist of point
 * entries and a lock-free append-only array of range tombstones.
 *
 * Entry layout.  Each point entry is ONE arena allocation:
 *
 *     [next[h-1] .. next[1] next[0]][mem_node][user key][LE trailer][value]
 *                                   ^ node pointer
 *
 * The links sit below the header (link i at ((link *)node)[-1 - i]) so
 * that the header, next[0] and the first key bytes share a cache line:
 * a search step touches one line, however large the value.  The key bytes
 * followed by the trailer are exactly the internal key (dbformat.h), so
 * iterators hand out slices without copying.  The trailer is also kept
 * native in the header so searches compare the user key with memcmp and
 * then one integer.
 *
 * Skiplist invariants:
 *   S1. at every level, nodes are in internal-key order (user key asc,
 *       trailer desc) and no two nodes have equal internal keys;
 *   S2. a node at level i is also at every level below i;
 *   S3. a node's bytes and header are written before it is published, and
 *       never written after.
 *
 * Publication (the lock-free read protocol).  The one writer fills a node,
 * sets its next[] pointers (relaxed: nobody can see the node yet), then
 * links it bottom-up with release stores into its predecessors' next[].
 * Readers load next[] with acquire, so a node they reach is fully
 * written.  Linking bottom-up keeps S2 true at every instant, for readers.
 * The list height is a relaxed hint: a reader that sees a new height early
 * finds NULL (or the new node) in the head at that level, both fine.
 *
 * Range tombstones.  They live in an array in the arena; the writer
 * appends item n, then publishes count n + 1 with release.  When the array
 * is full the writer copies it into a twice larger one and publishes that
 * pointer (release) BEFORE the count that needs it; old arrays stay in the
 * arena (nobody frees them until the memtable dies), so a reader holding
 * one reads valid, immutable items.  Readers load the count (acquire)
 * first, then the array.
 *
 * Cover queries.  A memtable may take thousands of range tombstones (one
 * per deleted file), so cover() must not scan them all.  Readers lazily
 * build fragmenters (rangedel.h) over contiguous runs of the array, in
 * the "logarithmic method": levels of decreasing size, a new run merged
 * with the levels that are not larger than it.  Each tombstone is
 * re-fragmented O(log n) times; a query asks each level (O(log n) each)
 * and scans at most a short tail linearly.  The levels are read under a
 * rwlock (readers) and replaced under its write side; one builder at a
 * time (a trylock: a busy builder means the query just scans).
 *
 * Threads: see memtable.h.  Writer-only state: the arena cursor, the block
 * list, the random state.  Atomic: list links, height, counters, refs,
 * the tombstone array and count.  Under frag_lock: the fragment levels.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "memtable.h"
#include "rangedel.h"

#define MEM_MAX_HEIGHT 12
#define MEM_BLOCK_SIZE 8192		/* arena block */
#define MEM_BIG_ALLOC (MEM_BLOCK_SIZE / 4)	/* larger: a block of its own */
#define MEM_RD_TAIL 16			/* tombstones scanned before fragmenting */
#define MEM_FRAG_LEVELS 24

/* The header of an entry; its links precede it, its bytes follow it. */
struct mem_node {
	uint64_t trailer;	/* seq << 8 | type */
	uint32_t klen;		/* user key bytes */
	uint32_t vlen;		/* value bytes */
};

typedef _Atomic(struct mem_node *) mem_link;

struct mem_block {
	struct mem_block *next;
	size_t size;		/* bytes after this header */
};

struct mem_rdarr {
	size_t cap;
	lsm_rangedel item[];
};

struct lsm_memtable {
	atomic_int refs;
	struct mem_node *head;		/* MEM_MAX_HEIGHT links, no key */
	atomic_int height;		/* levels in use, >= 1 */
	atomic_size_t usage;
	atomic_uint_least64_t entries;
	atomic_uint_least64_t bytes_in;

	/* writer only */
	uint64_t rnd;
	char *aptr;			/* free bytes of the current block */
	size_t aleft;
	struct mem_block *blocks;

	/* range tombstones: array then count (see the file comment) */
	_Atomic(struct mem_rdarr *) rd;
	atomic_size_t nrd;

	/* fragment levels over rd->item[0 .. lv_end[nlv - 1]) */
	pthread_rwlock_t frag_lock;
	/* one builder at a time; builders read nlv and lv_end under it */
	pthread_mutex_t frag_build;
	int nlv;
	lsm_frag *lv[MEM_FRAG_LEVELS];
	size_t lv_end[MEM_FRAG_LEVELS];	/* level i = [lv_end[i-1], lv_end[i]) */
};

/* ---- arena (writer only) ---------------------------------------------- */

static size_t mem_round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static struct mem_block *mem_block_new(lsm_memtable *m, size_t size)
{
	struct mem_block *b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->next = m->blocks;
	b->size = size;
	m->blocks = b;
	atomic_fetch_add_explicit(&m->usage, sizeof *b + size,
				  memory_order_relaxed);
	return b;
}

/* n bytes, 8-aligned (the block header is 16 bytes and malloc aligns to
 * 16, so block data starts 8-aligned). */
static char *mem_alloc(lsm_memtable *m, size_t n)
{
	n = mem_round8(n);
	if (n <= m->aleft) {
		char *p = m->aptr;
		m->aptr += n;
		m->aleft -= n;
		return p;
	}
	if (n > MEM_BIG_ALLOC) {
		/* A big entry gets its own block so the current one keeps
		 * serving small entries; waste stays under a quarter. */
		struct mem_block *b = mem_block_new(m, n);
		return b ? (char *)(b + 1) : NULL;
	}
	struct mem_block *b = mem_block_new(m, MEM_BLOCK_SIZE);
	if (!b)
		return NULL;
	m->aptr = (char *)(b + 1) + n;
	m->aleft = MEM_BLOCK_SIZE - n;
	return (char *)(b + 1);
}

/* ---- nodes ------------------------------------------------------------ */

static const char *mem_node_kv(const struct mem_node *n)
{
	return (const char *)(n + 1);
}

static mem_link *mem_link_at(struct mem_node *n, int level)
{
	return (mem_link *)n - 1 - level;
}

static struct mem_node *mem_next(struct mem_node *n, int level)
{
	return atomic_load_explicit(mem_link_at(n, level),
				    memory_order_acquire);
}

/* Is node n before the target (ukey, trailer) in internal-key order? */
static bool mem_node_lt(const struct mem_node *n, lsm_slice ukey,
			uint64_t trailer)
{
	size_t min = n->klen < ukey.size ? n->klen : ukey.size;
	int r = min ? memcmp(mem_node_kv(n), ukey.data, min) : 0;
	if (r)
		return r < 0;
	if (n->klen != ukey.size)
		return n->klen < ukey.size;
	return n->trailer > trailer;
}

/* The first node >= target, or NULL; fills prev[] (if not NULL) with the
 * last node < target at every level. */
static struct mem_node *mem_find_ge(lsm_memtable *m, lsm_slice ukey,
				    uint64_t trailer,
				    struct mem_node **prev)
{
	struct mem_node *x = m->head, *known_ge = NULL;
	int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
	for (;;) {
		struct mem_node *nx = mem_next(x, level);
		/* known_ge: a node already found >= target one level up;
		 * meeting it again needs no comparison. */
		if (nx && nx != known_ge && mem_node_lt(nx, ukey, trailer)) {
			x = nx;
			continue;
		}
		known_ge = nx;
		if (prev)
			prev[level] = x;
		if (level == 0)
			return nx;
		level--;
	}
}

/* The last node < target, or the head if none. */
static struct mem_node *mem_find_lt(lsm_memtable *m, lsm_slice ukey,
				    uint64_t trailer)
{
	struct mem_node *x = m->head, *known_ge = NULL;
	int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
	for (;;) {
		struct mem_node *nx = mem_next(x, level);
		if (nx && nx != known_ge && mem_node_lt(nx, ukey, trailer)) {
			x = nx;
			continue;
		}
		known_ge = nx;
		if (level == 0)
			return x;
		level--;
	}
}

/* The last node, or the head if the list is empty. */
static struct mem_node *mem_find_last(lsm_memtable *m)
{
	struct mem_node *x = m->head;
	int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
	for (;;) {
		struct mem_node *nx = mem_next(x, level);
		if (nx) {
			x = nx;
			continue;
		}
		if (level == 0)
			return x;
		level--;
	}
}

/* Height with P(h > k) = 4^-k, capped. */
static int mem_random_height(lsm_memtable *m)
{
	int h = 1;
	while (h < MEM_MAX_HEIGHT) {
		/* xorshift64*: cheap, and good enough in the low bits after
		 * the multiply's high half is taken. */
		m->rnd ^= m->rnd >> 12;
		m->rnd ^= m->rnd << 25;
		m->rnd ^= m->rnd >> 27;
		uint64_t r = (m->rnd * UINT64_C(0x2545F4914F6CDD1D)) >> 32;
		if (r & 3)
			break;
		h++;
	}
	return h;
}

/* ---- life cycle ------------------------------------------------------- */

lsm_memtable *lsm_mem_new(void)
{
	lsm_memtable *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	bool rw = false, mu = false;
	/* Writer preference: glibc's default lets a stream of overlapping
	 * readers starve the rebuilder forever. */
	pthread_rwlockattr_t ra;
	if (pthread_rwlockattr_init(&ra) != 0)
		goto err;
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	int prc = pthread_rwlock_init(&m->frag_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (prc != 0)
		goto err;
	rw = true;
	if (pthread_mutex_init(&m->frag_build, NULL) != 0)
		goto err;
	mu = true;
	atomic_init(&m->refs, 1);
	atomic_init(&m->height, 1);
	atomic_init(&m->usage, sizeof *m);
	atomic_init(&m->entries, 0);
	atomic_init(&m->bytes_in, 0);
	atomic_init(&m->rd, NULL);
	atomic_init(&m->nrd, 0);
	m->rnd = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)(uintptr_t)m;
	if (!m->rnd)
		m->rnd = 1;
	char *hp = mem_alloc(m, MEM_MAX_HEIGHT * sizeof(mem_link) +
				       sizeof(struct mem_node));
	if (!hp)
		goto err;
	m->head = (struct mem_node *)(hp + MEM_MAX_HEIGHT * sizeof(mem_link));
	memset(m->head, 0, sizeof *m->head);
	for (int i = 0; i < MEM_MAX_HEIGHT; i++)
		atomic_init(mem_link_at(m->head, i), NULL);
	return m;
err:
	while (m->blocks) {
		struct mem_block *b = m->blocks;
		m->blocks = b->next;
		free(b);
	}
	if (mu)
		pthread_mutex_destroy(&m->frag_build);
	if (rw)
		pthread_rwlock_destroy(&m->frag_lock);
	free(m);
	return NULL;
}

void lsm_mem_ref(lsm_memtable *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void lsm_mem_unref(lsm_memtable *m)
{
	if (!m)
		return;
	/* acq_rel: every other holder's accesses happen before the free. */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < m->nlv; i++)
		lsm_frag_free(m->lv[i]);
	while (m->blocks) {
		struct mem_block *b = m->blocks;
		m->blocks = b->next;
		free(b);
	}
	pthread_mutex_destroy(&m->frag_build);
	pthread_rwlock_destroy(&m->frag_lock);
	free(m);
}

/* ---- writing ---------------------------------------------------------- */

static int mem_add_rangedel(lsm_memtable *m, uint64_t seq, lsm_slice begin,
			    lsm_slice end)
{
	size_t n = atomic_load_explicit(&m->nrd, memory_order_relaxed);
	struct mem_rdarr *arr = atomic_load_explicit(&m->rd,
						     memory_order_relaxed);
	char *p = mem_alloc(m, begin.size + end.size);
	if (!p && begin.size + end.size)
		return -ENOMEM;
	if (!arr || n == arr->cap) {
		size_t cap = arr ? 2 * arr->cap : 8;
		struct mem_rdarr *na = (struct mem_rdarr *)mem_alloc(
			m, sizeof *na + cap * sizeof na->item[0]);
		if (!na)
			return -ENOMEM;
		na->cap = cap;
		if (n)
			memcpy(na->item, arr->item, n * sizeof na->item[0]);
		/* The old array stays readable in the arena. */
		atomic_store_explicit(&m->rd, na, memory_order_release);
		arr = na;
	}
	if (begin.size)
		memcpy(p, begin.data, begin.size);
	if (end.size)
		memcpy(p + begin.size, end.data, end.size);
	arr->item[n].begin = lsm_slice_of(p, begin.size);
	arr->item[n].end = lsm_slice_of(p + begin.size, end.size);
	arr->item[n].seq = seq;
	atomic_store_explicit(&m->nrd, n + 1, memory_order_release);
	return 0;
}

int lsm_mem_add(lsm_memtable *m, uint64_t seq, int type, lsm_slice ukey,
		lsm_slice value)
{
	int rc = 0;
	if (type != LSM_T_VAL && type != LSM_T_DEL && type != LSM_T_RANGEDEL)
		return lsm_err(LSM_E_INVALID, "memtable: unknown entry type %d",
			       type);
	if (seq > LSM_SEQ_MAX)
		return lsm_err(LSM_E_INVALID, "memtable: seq %llu too large",
			       (unsigned long long)seq);
	if (ukey.size > UINT32_MAX || value.size > UINT32_MAX)
		return lsm_err(LSM_E_INVALID,
			       "memtable: key or value of 4 GiB or more");

	if (type == LSM_T_RANGEDEL) {
		LSM_ERR(mem_add_rangedel(m, seq, ukey, value));
	} else {
		uint64_t trailer = lsm_pack_trailer(seq, type);
		struct mem_node *prev[MEM_MAX_HEIGHT];
		struct mem_node *ge = mem_find_ge(m, ukey, trailer, prev);
		if (ge && ge->trailer == trailer && ge->klen == ukey.size &&
		    (ukey.size == 0 ||
		     memcmp(mem_node_kv(ge), ukey.data, ukey.size) == 0)) {
			rc = lsm_err(LSM_E_INVALID,
				     "memtable: duplicate entry at seq %llu",
				     (unsigned long long)seq);
			goto err;
		}

		int h = mem_random_height(m);
		uint32_t klen = (uint32_t)ukey.size, vlen = (uint32_t)value.size;
		size_t links = (size_t)h * sizeof(mem_link);
		char *p = mem_alloc(m, links + sizeof(struct mem_node) +
					       (size_t)klen + 8 + vlen);
		if (!p) {
			rc = -ENOMEM;
			goto err;
		}
		struct mem_node *x = (struct mem_node *)(p + links);
		x->trailer = trailer;
		x->klen = klen;
		x->vlen = vlen;
		char *kv = (char *)(x + 1);
		if (ukey.size)
			memcpy(kv, ukey.data, ukey.size);
		lsm_enc64(kv + ukey.size, trailer);
		if (value.size)
			memcpy(kv + ukey.size + 8, value.data, value.size);

		int cur = atomic_load_explicit(&m->height, memory_order_relaxed);
		if (h > cur) {
			for (int i = cur; i < h; i++)
				prev[i] = m->head;
			atomic_store_explicit(&m->height, h,
					      memory_order_relaxed);
		}
		for (int i = 0; i < h; i++) {
			atomic_store_explicit(mem_link_at(x, i),
					      mem_next(prev[i], i),
					      memory_order_relaxed);
			atomic_store_explicit(mem_link_at(prev[i], i), x,
					      memory_order_release);
		}
	}
	atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->bytes_in, ukey.size + value.size,
				  memory_order_relaxed);
	return 0;
err:
	return rc;
}

/* ---- point reads ------------------------------------------------------ */

int lsm_mem_get(lsm_memtable *m, lsm_slice ukey, uint64_t snap_seq,
		lsm_buf *val, int *type, uint64_t *seq)
{
	if (snap_seq > LSM_SEQ_MAX)
		snap_seq = LSM_SEQ_MAX;
	/* LSM_T_SEEK sorts before every type at snap_seq, so the first node
	 * >= it is the newest version with seq <= snap_seq. */
	struct mem_node *x = mem_find_ge(
		m, ukey, lsm_pack_trailer(snap_seq, LSM_T_SEEK), NULL);
	if (!x || x->klen != ukey.size ||
	    (ukey.size && memcmp(mem_node_kv(x), ukey.data, ukey.size) != 0))
		return LSM_E_NOTFOUND;
	int t = (int)(x->trailer & 0xff);
	if (t == LSM_T_VAL && val)
		LSM_TRY(lsm_buf_set(val, mem_node_kv(x) + x->klen + 8, x->vlen));
	if (type)
		*type = t;
	if (seq)
		*seq = x->trailer >> 8;
	return 0;
}

/* ---- range tombstones ------------------------------------------------- */

static bool mem_rd_covers(const lsm_rangedel *r, lsm_slice ukey)
{
	return lsm_slice_cmp(r->begin, ukey) <= 0 &&
	       lsm_slice_cmp(ukey, r->end) < 0;
}

/* Fragment the unfragmented tail (and the levels not larger than it) into
 * one new level.  Called by readers; one at a time, others skip. */
static void mem_frag_rebuild(lsm_memtable *m)
{
	if (pthread_mutex_trylock(&m->frag_build) != 0)
		return;
	size_t n = atomic_load_explicit(&m->nrd, memory_order_acquire);
	struct mem_rdarr *arr = atomic_load_explicit(&m->rd,
						     memory_order_acquire);
	/* nlv and lv_end change only under frag_build, which we hold. */
	int keep = m->nlv;
	size_t from = keep ? m->lv_end[keep - 1] : 0;
	if (n - from <= MEM_RD_TAIL)
		goto out;
	while (keep > 0) {
		size_t lo = keep > 1 ? m->lv_end[keep - 2] : 0;
		size_t size = m->lv_end[keep - 1] - lo;
		if (size > n - from && keep < MEM_FRAG_LEVELS)
			break;
		keep--;
		from = lo;
	}
	lsm_frag *f = lsm_frag_new(arr->item + from, n - from);
	if (!f)
		goto out;	/* no memory: queries keep scanning */
	lsm_frag *old[MEM_FRAG_LEVELS];
	int nold = 0;
	pthread_rwlock_wrlock(&m->frag_lock);
	for (int i = keep; i < m->nlv; i++)
		old[nold++] = m->lv[i];
	m->lv[keep] = f;
	m->lv_end[keep] = n;
	m->nlv = keep + 1;
	pthread_rwlock_unlock(&m->frag_lock);
	/* No reader can hold the replaced levels: they read under the lock. */
	for (int i = 0; i < nold; i++)
		lsm_frag_free(old[i]);
out:
	pthread_mutex_unlock(&m->frag_build);
}

uint64_t lsm_mem_rangedel_cover(lsm_memtable *m, lsm_slice ukey,
				uint64_t snap_seq)
{
	size_t n = atomic_load_explicit(&m->nrd, memory_order_acquire);
	if (n == 0)
		return 0;
	struct mem_rdarr *arr = atomic_load_explicit(&m->rd,
						     memory_order_acquire);
	uint64_t best = 0;
	size_t from = 0;
	/* Few tombstones: scanning our n items is exact and takes no lock
	 * (levels exist only once more than MEM_RD_TAIL were published, so
	 * any level is newer than our load and covers nothing we need). */
	if (n <= MEM_RD_TAIL)
		goto scan;
	pthread_rwlock_rdlock(&m->frag_lock);
	for (int i = 0; i < m->nlv; i++) {
		uint64_t s = lsm_frag_cover(m->lv[i], ukey, snap_seq);
		if (s > best)
			best = s;
	}
	if (m->nlv)
		from = m->lv_end[m->nlv - 1];
	pthread_rwlock_unlock(&m->frag_lock);
scan:
	/* The levels may reach past n (built after our load): then there
	 * is no tail to scan. */
	for (size_t i = from; i < n; i++) {
		const lsm_rangedel *r = &arr->item[i];
		if (r->seq > best && r->seq <= snap_seq && mem_rd_covers(r, ukey))
			best = r->seq;
	}
	if (from < n && n - from > MEM_RD_TAIL)
		mem_frag_rebuild(m);
	return best;
}

size_t lsm_mem_rangedels(lsm_memtable *m, lsm_rangedel **out)
{
	*out = NULL;
	size_t n = atomic_load_explicit(&m->nrd, memory_order_acquire);
	if (n == 0)
		return 0;
	struct mem_rdarr *arr = atomic_load_explicit(&m->rd,
						     memory_order_acquire);
	lsm_rangedel *c = malloc(n * sizeof *c);
	if (!c) {
		lsm_err(-ENOMEM, "memtable: copying %zu range tombstones", n);
		return SIZE_MAX;
	}
	memcpy(c, arr->item, n * sizeof *c);
	*out = c;
	return n;
}

/* ---- counters --------------------------------------------------------- */

size_t lsm_mem_usage(const lsm_memtable *m)
{
	return atomic_load_explicit(&((lsm_memtable *)m)->usage,
				    memory_order_relaxed);
}

uint64_t lsm_mem_entries(const lsm_memtable *m)
{
	return atomic_load_explicit(&((lsm_memtable *)m)->entries,
				    memory_order_relaxed);
}

bool lsm_mem_empty(const lsm_memtable *m)
{
	return lsm_mem_entries(m) == 0;
}

uint64_t lsm_mem_bytes_in(const lsm_memtable *m)
{
	return atomic_load_explicit(&((lsm_memtable *)m)->bytes_in,
				    memory_order_relaxed);
}

/* ---- iterator --------------------------------------------------------- */

struct mem_it {
	lsm_it base;
	lsm_memtable *m;
	struct mem_node *cur;	/* NULL: not valid */
};

static bool mi_valid(lsm_it *it)
{
	return ((struct mem_it *)it)->cur != NULL;
}

static void mi_seek_first(lsm_it *it)
{
	struct mem_it *mi = (struct mem_it *)it;
	mi->cur = mem_next(mi->m->head, 0);
}

static void mi_seek_last(lsm_it *it)
{
	struct mem_it *mi = (struct mem_it *)it;
	struct mem_node *x = mem_find_last(mi->m);
	mi->cur = x == mi->m->head ? NULL : x;
}

static void mi_seek(lsm_it *it, lsm_slice target)
{
	struct mem_it *mi = (struct mem_it *)it;
	/* A target too short to hold a trailer is taken as a bare user
	 * key: position at its newest version. */
	lsm_slice uk = target;
	uint64_t tr = UINT64_MAX;
	if (target.size >= 8) {
		uk = lsm_ikey_user(target);
		tr = lsm_ikey_trailer(target);
	}
	mi->cur = mem_find_ge(mi->m, uk, tr, NULL);
}

static void mi_next(lsm_it *it)
{
	struct mem_it *mi = (struct mem_it *)it;
	mi->cur = mem_next(mi->cur, 0);
}

static void mi_prev(lsm_it *it)
{
	struct mem_it *mi = (struct mem_it *)it;
	struct mem_node *c = mi->cur;
	struct mem_node *x = mem_find_lt(
		mi->m, lsm_slice_of(mem_node_kv(c), c->klen), c->trailer);
	mi->cur = x == mi->m->head ? NULL : x;
}

static lsm_slice mi_key(lsm_it *it)
{
	struct mem_node *c = ((struct mem_it *)it)->cur;
	return lsm_slice_of(mem_node_kv(c), (size_t)c->klen + 8);
}

static lsm_slice mi_value(lsm_it *it)
{
	struct mem_node *c = ((struct mem_it *)it)->cur;
	return lsm_slice_of(mem_node_kv(c) + c->klen + 8, c->vlen);
}

static int mi_status(lsm_it *it)
{
	(void)it;
	return 0;
}

static void mi_destroy(lsm_it *it)
{
	struct mem_it *mi = (struct mem_it *)it;
	lsm_mem_unref(mi->m);
	free(mi);
}

static const struct lsm_it_ops mem_it_ops = {
	.valid = mi_valid, .seek_first = mi_seek_first,
	.seek_last = mi_seek_last, .seek = mi_seek, .next = mi_next,
	.prev = mi_prev, .key = mi_key, .value = mi_value,
	.status = mi_status, .destroy = mi_destroy,
};

lsm_it *lsm_mem_iter(lsm_memtable *m)
{
	struct mem_it *mi = calloc(1, sizeof *mi);
	if (!mi)
		return NULL;
	mi->base.ops = &mem_it_ops;
	mi->m = m;
	lsm_mem_ref(m);
	return &mi->base;
}
