/* Two error tiers (docs/ARCHITECTURE.md):
 *   - bad input (files, flags, requests): err_fail() records a code and a message that names the
 *     thing and the problem, and the caller returns the code up to the user;
 *   - broken internal invariants: SC_ASSERT() aborts with file and line, always (not only in
 *     debug builds), because a silent wrong answer is worse than a crash. */
#ifndef SC_CORE_ERROR_H
#define SC_CORE_ERROR_H

#include "smoothcache.h"

/* Records the error for err_last_message() (sc_last_error) and returns `code`, so callers write
 * `return err_fail(SC_ERR_FORMAT, "%s: ...", path);`. */
sc_status err_fail(sc_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "<prefix>: " (used to add a file name to a parser's error). */
void err_prefix(const char *prefix);

/* Prints "smoothcache: warning: ..." on stderr unless warnings are silenced. */
void err_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last failure's message and code on this thread; warnings silenced (1) or not (0). */
const char *err_last_message(void);
sc_status err_last_code(void);
void err_set_quiet(int quiet);

_Noreturn void err_abort_invariant(const char *file, int line, const char *expr);

#define SC_ASSERT(cond) \
    do { if (!(cond)) err_abort_invariant(__FILE__, __LINE__, #cond); } while (0)

#endif
