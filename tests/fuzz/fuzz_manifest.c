/* libFuzzer target: the manifest reader.  The input is installed as a
 * store's MANIFEST (with a CURRENT naming it) and opened the way fsck does
 * (lsm_check), which replays every version edit; the input is also
 * decoded directly as one edit. */
#include <stdlib.h>
#include "fuzz_common.h"
#include "version_edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_problem(void *ctx, const lsm_check_report *r)
{
	(void)ctx;
	(void)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lsm_env *env = fuzz_env_with_file("/s/MANIFEST-000001", data, size);
	lsm_file *f;
	lsm_options o;
	lsm_version_edit e;
	if (!env)
		abort();
	if (env->open(env, "/s/CURRENT", LSM_OPEN_WRITE, &f) == 0) {
		env->append(env, f, "MANIFEST-000001\n", 16);
		env->close(env, f);
	}
	lsm_options_init(&o);
	o.env = env;
	lsm_check("/s", &o, on_problem, NULL);
	lsm_edit_init(&e);
	lsm_edit_decode(&e, lsm_slice_of(data, size));
	lsm_edit_clear(&e);
	env->destroy(env);
	return 0;
}
