/* make_seeds.c — writes the fuzzers' seed corpus: a small store built by
 * the engine (tables with values, deletions and range tombstones; a WAL;
 * a manifest), whose files are copied into corpus/<target>/.
 *   make_seeds OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lsm.h"

static void copy(lsm_env *env, const char *from, const char *to)
{
	lsm_file *f;
	char buf[1 << 16];
	size_t got;
	if (env->open(env, from, LSM_OPEN_READ, &f) < 0)
		return;
	FILE *o = fopen(to, "wb");
	for (uint64_t off = 0; o && env->pread(env, f, buf, sizeof buf, off, &got) == 0 && got; off += got)
		fwrite(buf, 1, got, o);
	if (o)
		fclose(o);
	env->close(env, f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds OUTDIR\n");
		return 2;
	}
	lsm_env *env = lsm_env_mem_new();
	lsm_options o;
	lsm_db *db;
	lsm_write_options wo = {0};
	char k[32], v[64], path[4096];
	lsm_options_init(&o);
	o.env = env;
	o.create_if_missing = true;
	o.block_size = 256;
	o.disable_auto_compaction = true;
	if (lsm_open("/s", &o, &db) < 0)
		return 1;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 40; i++) {
			int kn = snprintf(k, sizeof k, "key%03d", i * 3 + round);
			int vn = snprintf(v, sizeof v, "value-%d-%d", round, i);
			lsm_put(db, &wo, k, (size_t)kn, v, (size_t)vn);
		}
		lsm_delete(db, &wo, "key010", 6);
		lsm_delete_range(db, &wo, "key020", 6, "key030", 6);
		if (round == 0) {
			o.compression = 0;
			lsm_flush(db, true);
		}
	}
	lsm_close(db);	/* leaves round 1 in the WAL */
	char **names;
	size_t n;
	env->list(env, "/s", &names, &n);
	for (size_t i = 0; i < n; i++) {
		char from[256];
		const char *dir = strstr(names[i], ".sst") ? "sst" : strstr(names[i], ".log") ? "wal"
				: strncmp(names[i], "MANIFEST", 8) == 0 ? "manifest" : NULL;
		if (!dir)
			continue;
		snprintf(from, sizeof from, "/s/%s", names[i]);
		snprintf(path, sizeof path, "%s/%s/%s", argv[1], dir, names[i]);
		copy(env, from, path);
	}
	lsm_env_free_list(names, n);
	env->destroy(env);
	return 0;
}
