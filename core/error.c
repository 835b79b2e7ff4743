#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char dg_error_buf[1024];

int dg_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dg_error_buf, sizeof dg_error_buf, fmt, ap);
    va_end(ap);
    return DG_ERR;
}

int dg_error_wrap(const char *fmt, ...) {
    char prefix[512], old[sizeof dg_error_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, dg_error_buf, sizeof old);
    snprintf(dg_error_buf, sizeof dg_error_buf, "%s%s", prefix, old);
    return DG_ERR;
}

const char *dg_last_error(void) { return dg_error_buf[0] ? dg_error_buf : "unknown error"; }

void dg_error_clear(void) { dg_error_buf[0] = 0; }
