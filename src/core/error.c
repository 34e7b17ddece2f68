#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[1024];
static _Thread_local sc_status g_code;
static int g_quiet_warnings;

sc_status err_fail(sc_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    g_code = code;
    return code;
}

void err_prefix(const char *prefix)
{
    char tmp[sizeof g_msg + 512];
    snprintf(tmp, sizeof tmp, "%.500s: %s", prefix, g_msg);
    memcpy(g_msg, tmp, sizeof g_msg - 1);
    g_msg[sizeof g_msg - 1] = '\0';
}

const char *err_last_message(void) { return g_msg[0] ? g_msg : "no error"; }

sc_status err_last_code(void) { return g_code; }

void err_set_quiet(int quiet) { g_quiet_warnings = quiet; }

void err_warn(const char *fmt, ...)
{
    if (g_quiet_warnings) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("smoothcache: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void err_abort_invariant(const char *file, int line, const char *expr)
{
    fprintf(stderr, "smoothcache: internal error at %s:%d: %s\n", file, line, expr);
    abort();
}
