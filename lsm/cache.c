/*
 * cache.c — the sharded LRU cache (see cache.h for the contract).
 *
 * Each shard keeps every entry it holds in a chained hash table and on
 * exactly one of two lists: lru (only the cache references it; eviction
 * candidates, oldest first) or in_use (some handle holds it).  An entry out
 * of the cache (in_cache false) is on no list and in no table; it lives on
 * only through held handles.
 *
 * refs counts the cache's own reference (while in_cache) plus one per held
 * handle.  The entry moves between the lists when refs crosses 1, so
 * eviction pops lru in O(1) without looking at held entries.
 *
 * Deleters run after the shard lock is dropped: they may free large
 * buffers, and must be free to use the cache themselves.
 *
 * Threads: one mutex per shard guards its table, lists, usage and
 * counters; the id counter is atomic.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "cache.h"

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1 << CACHE_SHARD_BITS)
#define CACHE_MIN_BUCKETS 16

struct cache_link {
	struct cache_link *prev, *next;
};

struct lsm_cache_handle {
	struct cache_link link;		/* first: lists hold links */
	struct lsm_cache_handle *hnext;	/* hash chain, or free list */
	void *value;
	lsm_cache_deleter del;
	size_t charge;
	uint64_t hash;
	uint32_t refs;
	bool in_cache;
	size_t klen;
	char key[];
};

struct cache_shard {
	pthread_mutex_t mu;
	size_t capacity;
	size_t usage;
	struct cache_link lru;		/* refs == 1, in cache; next = oldest */
	struct cache_link in_use;	/* held by handles */
	struct lsm_cache_handle **table;
	size_t nbuckets;		/* power of two */
	size_t count;
	uint64_t hits, misses;
	char pad[64];			/* keep hot locks off one cache line */
};

struct lsm_cache {
	struct cache_shard shard[CACHE_SHARDS];
	uint64_t last_id;		/* atomic */
};

static void link_init(struct cache_link *l)
{
	l->prev = l->next = l;
}

static void link_remove(struct cache_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

/* Append at the tail: the most recently used end. */
static void link_append(struct cache_link *head, struct cache_link *l)
{
	l->next = head;
	l->prev = head->prev;
	head->prev->next = l;
	head->prev = l;
}

static uint64_t cache_hash(const void *key, size_t klen)
{
	return XXH3_64bits(key, klen);
}

static struct cache_shard *shard_of(lsm_cache *c, uint64_t hash)
{
	return &c->shard[hash >> (64 - CACHE_SHARD_BITS)];
}

lsm_cache *lsm_cache_new(size_t capacity)
{
	lsm_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	size_t per = capacity / CACHE_SHARDS +
		     (capacity % CACHE_SHARDS ? 1 : 0);
	int i;
	for (i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shard[i];
		s->table = calloc(CACHE_MIN_BUCKETS, sizeof *s->table);
		if (!s->table)
			goto err;
		if (pthread_mutex_init(&s->mu, NULL) != 0) {
			free(s->table);
			goto err;
		}
		s->nbuckets = CACHE_MIN_BUCKETS;
		s->capacity = per;
		link_init(&s->lru);
		link_init(&s->in_use);
	}
	return c;
err:
	while (i-- > 0) {
		pthread_mutex_destroy(&c->shard[i].mu);
		free(c->shard[i].table);
	}
	free(c);
	return NULL;
}

static void entry_free(struct lsm_cache_handle *e)
{
	if (e->del)
		e->del(e->key, e->klen, e->value);
	free(e);
}

static void free_list(struct lsm_cache_handle *dead)
{
	while (dead) {
		struct lsm_cache_handle *n = dead->hnext;
		entry_free(dead);
		dead = n;
	}
}

void lsm_cache_free(lsm_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shard[i];
		struct lsm_cache_handle *dead = NULL;
		for (size_t b = 0; b < s->nbuckets; b++) {
			struct lsm_cache_handle *e = s->table[b];
			while (e) {
				struct lsm_cache_handle *n = e->hnext;
				e->in_cache = false;
				link_remove(&e->link);
				/* A still-held entry breaks the REQUIRES; it is
				 * left to leak rather than freed under the
				 * holder's feet. */
				if (--e->refs == 0) {
					e->hnext = dead;
					dead = e;
				}
				e = n;
			}
		}
		free_list(dead);
		free(s->table);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

/* The slot pointing at key's entry, or at the NULL ending its chain. */
static struct lsm_cache_handle **find_slot(struct cache_shard *s, uint64_t hash,
					   const void *key, size_t klen)
{
	struct lsm_cache_handle **p = &s->table[hash & (s->nbuckets - 1)];
	while (*p && ((*p)->hash != hash || (*p)->klen != klen ||
		      memcmp((*p)->key, key, klen) != 0))
		p = &(*p)->hnext;
	return p;
}

static void table_grow(struct cache_shard *s)
{
	size_t nb = s->nbuckets * 2;
	struct lsm_cache_handle **t = calloc(nb, sizeof *t);
	if (!t)
		return;		/* longer chains, still correct */
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct lsm_cache_handle *e = s->table[b];
		while (e) {
			struct lsm_cache_handle *n = e->hnext;
			struct lsm_cache_handle **slot = &t[e->hash & (nb - 1)];
			e->hnext = *slot;
			*slot = e;
			e = n;
		}
	}
	free(s->table);
	s->table = t;
	s->nbuckets = nb;
}

static void entry_ref(struct cache_shard *s, struct lsm_cache_handle *e)
{
	if (e->refs == 1 && e->in_cache) {
		link_remove(&e->link);
		link_append(&s->in_use, &e->link);
	}
	e->refs++;
}

/* Drop one reference; a dead entry is pushed on *dead for freeing after
 * the lock is released. */
static void entry_unref(struct cache_shard *s, struct lsm_cache_handle *e,
			struct lsm_cache_handle **dead)
{
	e->refs--;
	if (e->refs == 0) {
		e->hnext = *dead;
		*dead = e;
	} else if (e->in_cache && e->refs == 1) {
		link_remove(&e->link);
		link_append(&s->lru, &e->link);
	}
}

/* e has been unlinked from the hash table: take it out of the cache. */
static void entry_evict(struct cache_shard *s, struct lsm_cache_handle *e,
			struct lsm_cache_handle **dead)
{
	link_remove(&e->link);
	e->in_cache = false;
	s->usage -= e->charge;
	s->count--;
	entry_unref(s, e, dead);
}

static void shard_trim(struct cache_shard *s, struct lsm_cache_handle **dead)
{
	while (s->usage > s->capacity && s->lru.next != &s->lru) {
		struct lsm_cache_handle *old = (struct lsm_cache_handle *)s->lru.next;
		struct lsm_cache_handle **slot =
			find_slot(s, old->hash, old->key, old->klen);
		*slot = old->hnext;
		entry_evict(s, old, dead);
	}
}

lsm_cache_handle *lsm_cache_insert(lsm_cache *c, const void *key, size_t klen,
				   void *value, size_t charge,
				   lsm_cache_deleter del)
{
	if (klen > SIZE_MAX - sizeof(struct lsm_cache_handle))
		return NULL;
	struct lsm_cache_handle *e = malloc(sizeof *e + klen);
	if (!e)
		return NULL;
	uint64_t hash = cache_hash(key, klen);
	struct cache_shard *s = shard_of(c, hash);
	struct lsm_cache_handle *dead = NULL;

	e->value = value;
	e->del = del;
	e->charge = charge;
	e->hash = hash;
	e->refs = 1;			/* the returned handle */
	e->in_cache = false;
	e->klen = klen;
	e->hnext = NULL;
	if (klen)
		memcpy(e->key, key, klen);
	link_init(&e->link);

	pthread_mutex_lock(&s->mu);
	if (s->capacity > 0) {
		e->refs++;		/* the cache's own */
		e->in_cache = true;
		link_append(&s->in_use, &e->link);
		s->usage += charge;
		struct lsm_cache_handle **slot = find_slot(s, hash, key, klen);
		struct lsm_cache_handle *old = *slot;
		s->count++;
		if (old) {
			e->hnext = old->hnext;
			*slot = e;
			entry_evict(s, old, &dead);
		} else {
			*slot = e;
			if (s->count > s->nbuckets)
				table_grow(s);
		}
		shard_trim(s, &dead);
	}
	pthread_mutex_unlock(&s->mu);
	free_list(dead);
	return e;
}

lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, const void *key, size_t klen)
{
	uint64_t hash = cache_hash(key, klen);
	struct cache_shard *s = shard_of(c, hash);
	pthread_mutex_lock(&s->mu);
	struct lsm_cache_handle *e = *find_slot(s, hash, key, klen);
	if (e) {
		entry_ref(s, e);
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

void *lsm_cache_value(lsm_cache_handle *h)
{
	return h->value;
}

void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h)
{
	struct cache_shard *s = shard_of(c, h->hash);
	struct lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	entry_unref(s, h, &dead);
	/* usage may exceed capacity while everything is held; now that this
	 * entry may be evictable, restore the bound */
	shard_trim(s, &dead);
	pthread_mutex_unlock(&s->mu);
	free_list(dead);
}

void lsm_cache_erase(lsm_cache *c, const void *key, size_t klen)
{
	uint64_t hash = cache_hash(key, klen);
	struct cache_shard *s = shard_of(c, hash);
	struct lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	struct lsm_cache_handle **slot = find_slot(s, hash, key, klen);
	struct lsm_cache_handle *e = *slot;
	if (e) {
		*slot = e->hnext;
		entry_evict(s, e, &dead);
	}
	pthread_mutex_unlock(&s->mu);
	free_list(dead);
}

uint64_t lsm_cache_new_id(lsm_cache *c)
{
	return __atomic_add_fetch(&c->last_id, 1, __ATOMIC_RELAXED);
}

size_t lsm_cache_usage(lsm_cache *c)
{
	size_t u = 0;
	for (int i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].mu);
		u += c->shard[i].usage;
		pthread_mutex_unlock(&c->shard[i].mu);
	}
	return u;
}

void lsm_cache_stats(lsm_cache *c, uint64_t *hits, uint64_t *misses)
{
	uint64_t h = 0, m = 0;
	for (int i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].mu);
		h += c->shard[i].hits;
		m += c->shard[i].misses;
		pthread_mutex_unlock(&c->shard[i].mu);
	}
	if (hits)
		*hits = h;
	if (misses)
		*misses = m;
}
