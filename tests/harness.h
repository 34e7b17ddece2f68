/* A minimal test harness: tests register themselves, the runner (tests/main.c) forks one
 * process per test so a crash counts as one failure, and prints "<N> passed, <N> failed". */
#ifndef SC_TEST_HARNESS_H
#define SC_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smoothcache.h"

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn);
_Noreturn void harness_fail(const char *file, int line, const char *msg);

#define TEST(name)                                                                        \
    static void name(void);                                                               \
    __attribute__((constructor)) static void reg_##name(void) { harness_register(#name, name); } \
    static void name(void)

#define CHECK(cond) \
    do { if (!(cond)) harness_fail(__FILE__, __LINE__, #cond); } while (0)

#define CHECK_MSG(cond, ...)                                    \
    do {                                                        \
        if (!(cond)) {                                          \
            char m_[1024];                                      \
            snprintf(m_, sizeof m_, __VA_ARGS__);               \
            harness_fail(__FILE__, __LINE__, m_);               \
        }                                                       \
    } while (0)

/* The call must fail with `code` and an error message containing `needle`. */
#define CHECK_ERR(call, code, needle)                                                              \
    do {                                                                                          \
        sc_status s_ = (call);                                                                    \
        CHECK_MSG(s_ == (code) && strstr(sc_last_error(), (needle)),                              \
                  "%s: got status %d, message \"%s\"; expected status %d with \"%s\"", #call, (int)s_, \
                  s_ ? sc_last_error() : "(none)", (int)(code), (needle));                        \
    } while (0)

#define CHECK_OK(call)                                                                         \
    do {                                                                                       \
        sc_status s_ = (call);                                                                 \
        CHECK_MSG(s_ == SC_OK, "%s failed: %s", #call, sc_last_error());                       \
    } while (0)

/* A fresh temporary directory for this test (removed by the runner afterwards). */
const char *test_tmpdir(void);
/* test_tmpdir()/name into a static buffer rotated over 8 slots. */
const char *test_path(const char *name);
/* Writes bytes to a file; aborts the test on failure. */
void test_write(const char *path, const void *data, size_t n);
/* The folder of committed fixtures. */
const char *test_fixtures(void);
/* Runs the CLI with the given arguments (a shell-quoted string), capturing stderr+stdout into
 * *output (malloc'ed, may be NULL); returns the exit status. */
int test_cli(const char *args, char **output);

#endif
