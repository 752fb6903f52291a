/*
 * fuzz_common.h — shared by the libFuzzer targets: put the input bytes in
 * a file of a fresh in-memory env, so every target reads through the same
 * env path as the engine does.
 */
#ifndef LSM_FUZZ_COMMON_H
#define LSM_FUZZ_COMMON_H
#include <stdint.h>
#include <stddef.h>
#include "lsm.h"

static inline lsm_env *fuzz_env_with_file(const char *path, const uint8_t *data, size_t size)
{
	lsm_env *env = lsm_env_mem_new();
	lsm_file *f;
	if (!env)
		return NULL;
	if (env->open(env, path, LSM_OPEN_WRITE, &f) == 0) {
		if (size)
			env->append(env, f, data, size);
		env->close(env, f);
	}
	return env;
}
#endif
