/*
 * bench_gc — figures for the GC story, not a test (built, never run by
 * meson test): write amplification and bytes on disk after
 *   1. N random inserts (16-byte keys, 100-byte values; default options,
 *      posix env, a fresh directory under /tmp),
 *   2. deleting a random half of those keys (point deletes),
 *   3. a full compaction, lsm_compact_range(NULL..NULL),
 * with the time each phase took.  Values are random bytes, so compression
 * does not flatter the figures.
 *
 * Usage: bench_gc [N [write_buffer_MiB]]   (default 1,000,000 and the
 * default write buffer, 64 MiB; a smaller buffer makes background
 * compaction do its share during the inserts).  The directory is removed
 * at the end.  Single-threaded; the engine's background threads run inside.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lsm.h"

static uint64_t rng = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int report(lsm_db *db, const char *phase, double secs)
{
	lsm_stats st;
	int rc = lsm_get_stats(db, &st);
	if (rc != 0)
		return rc;
	uint64_t tables = 0, bytes = 0, entries = 0, tombs = 0;
	for (int l = 0; l < st.num_levels; l++) {
		tables += st.level[l].tables;
		bytes += st.level[l].bytes;
		entries += st.level[l].entries;
		tombs += st.level[l].tombstones;
	}
	printf("%-16s %7.2f s  write_amp %5.2f  disk %8.2f MiB (tables %6.2f MiB in %3" PRIu64
	       ")  entries %8" PRIu64 "  tombstones %7" PRIu64 "\n",
	       phase, secs, st.write_amp, (double)st.disk_bytes / 1048576.0,
	       (double)bytes / 1048576.0, tables, entries, tombs);
	printf("%-16s user %.1f MiB, wal %.1f MiB, flush %.1f MiB, compaction %.1f MiB written "
	       "(%.1f MiB read), %" PRIu64 " compactions, %" PRIu64 " moves, %" PRIu64
	       " stalls, %" PRIu64 " slowdowns; dropped %" PRIu64 " entries, %" PRIu64
	       " tombstones\n", "",
	       (double)st.user_bytes_written / 1048576.0, (double)st.wal_bytes_written / 1048576.0,
	       (double)st.flush_bytes_written / 1048576.0,
	       (double)st.compaction_bytes_written / 1048576.0,
	       (double)st.compaction_bytes_read / 1048576.0, st.compactions, st.trivial_moves,
	       st.write_stalls, st.write_slowdowns, st.entries_dropped, st.tombstones_dropped);
	printf("%-16s levels:", "");
	for (int l = 0; l < st.num_levels; l++)
		printf(" L%d %" PRIu64 "/%.1fM", l, st.level[l].tables,
		       (double)st.level[l].bytes / 1048576.0);
	printf("\n");
	return 0;
}

static void remove_dir(lsm_env *env, const char *dir)
{
	char **names;
	size_t n;
	if (env->list(env, dir, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *p;
			if (asprintf(&p, "%s/%s", dir, names[i]) >= 0) {
				env->remove(env, p);
				free(p);
			}
		}
		lsm_env_free_list(names, n);
	}
	remove(dir);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/bench_gc.XXXXXX";
	unsigned char *keys = malloc(n * 16);
	lsm_options o;
	lsm_db *db = NULL;
	int rc;
	if (!keys || !mkdtemp(dir)) {
		perror("bench_gc");
		return 1;
	}
	lsm_options_init(&o);
	o.create_if_missing = true;
	if (argc > 2)
		o.write_buffer_size = (size_t)strtoull(argv[2], NULL, 10) << 20;
	rc = lsm_open(dir, &o, &db);
	if (rc != 0)
		goto err;
	printf("bench_gc: %zu random inserts (16-byte keys, 100-byte values) in %s, "
	       "write buffer %zu MiB\n", n, dir, o.write_buffer_size >> 20);

	double t0 = now_s(), t;
	unsigned char val[100];
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < 16; j += 8) {
			uint64_t r = rnd();
			memcpy(keys + i * 16 + j, &r, 8);
		}
		for (int j = 0; j < 100; j += 4) {
			uint32_t r = (uint32_t)rnd();
			memcpy(val + j, &r, 4);
		}
		rc = lsm_put(db, NULL, keys + i * 16, 16, val, sizeof val);
		if (rc != 0)
			goto err;
	}
	t = now_s();
	if ((rc = report(db, "inserted", t - t0)) != 0)
		goto err;

	/* delete a random half: each key with probability 1/2 */
	t0 = now_s();
	size_t deleted = 0;
	for (size_t i = 0; i < n; i++) {
		if (rnd() & 1)
			continue;
		rc = lsm_delete(db, NULL, keys + i * 16, 16);
		if (rc != 0)
			goto err;
		deleted++;
	}
	t = now_s();
	printf("deleted %zu keys\n", deleted);
	if ((rc = report(db, "half deleted", t - t0)) != 0)
		goto err;

	t0 = now_s();
	rc = lsm_compact_range(db, NULL, 0, NULL, 0);
	if (rc != 0)
		goto err;
	t = now_s();
	if ((rc = report(db, "full compaction", t - t0)) != 0)
		goto err;
	rc = lsm_close(db);
	db = NULL;
	if (rc != 0)
		goto err;
	remove_dir(lsm_env_posix(), dir);
	free(keys);
	return 0;
err:
	fprintf(stderr, "bench_gc: %s (%s)\n", lsm_strerror(rc), lsm_errdetail());
	if (db)
		lsm_close(db);
	remove_dir(lsm_env_posix(), dir);
	free(keys);
	return 1;
}
