/*
 * status.c — the one message table for engine error codes, and the
 * per-thread error detail that names what went wrong (file, offset).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util.h"

static __thread char err_detail[1024];

static const char *const lsm_messages[] = {
	[-LSM_E_NOTFOUND - 1000] = "not found",
	[-LSM_E_CORRUPT - 1000] = "corruption",
	[-LSM_E_INVALID - 1000] = "invalid argument",
	[-LSM_E_LOCKED - 1000] = "store is locked by another process",
	[-LSM_E_VERSION - 1000] = "store format is newer than this program",
	[-LSM_E_NOTSUP - 1000] = "not supported",
	[-LSM_E_CLOSED - 1000] = "database is closing",
	[-LSM_E_CANCELLED - 1000] = "cancelled",
	[-LSM_E_NOSTORE - 1000] = "not an lsm store",
	[-LSM_E_EXISTS - 1000] = "store already exists",
	[-LSM_E_BUSY - 1000] = "busy",
};

const char *lsm_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code <= LSM_E_LAST && code >= LSM_E_FIRST) {
		const char *m = lsm_messages[-code - 1000];
		return m ? m : "unknown engine error";
	}
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}

const char *lsm_errdetail(void)
{
	return err_detail;
}

void lsm_err_set_detail(const char *detail)
{
	if (detail != err_detail)
		snprintf(err_detail, sizeof err_detail, "%s", detail ? detail : "");
}

int lsm_err(int code, const char *fmt, ...)
{
	va_list ap;
	char tmp[sizeof err_detail];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(err_detail, tmp, sizeof tmp);
	return code;
}
