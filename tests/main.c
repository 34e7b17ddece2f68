/* The test runner: `run_tests [NAME_PREFIX...]` forks each registered test (or those whose name
 * starts with a prefix), reports failures, and ends with exactly "<N> passed, <N> failed". */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_TESTS 1024

static struct { const char *name; test_fn fn; } g_tests[MAX_TESTS];
static int g_n;
static char g_tmp[1024];

void harness_register(const char *name, test_fn fn)
{
    if (g_n == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        abort();
    }
    g_tests[g_n].name = name;
    g_tests[g_n].fn = fn;
    g_n++;
}

void harness_fail(const char *file, int line, const char *msg)
{
    fprintf(stderr, "    %s:%d: %s\n", file, line, msg);
    exit(1);
}

const char *test_tmpdir(void) { return g_tmp; }

const char *test_path(const char *name)
{
    static char bufs[8][4096];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", g_tmp, name);
    return b;
}

/* With SC_CORPUS_DIR set (scripts/fuzz.sh), every file a test generates is also kept there
 * as a seed for the fuzzers. */
static void keep_seed(const void *data, size_t n)
{
    const char *dir = getenv("SC_CORPUS_DIR");
    if (!dir || !*dir || n > 65536) return;
    static unsigned counter;
    char p[2048];
    snprintf(p, sizeof p, "%s/seed-%d-%u", dir, (int)getpid(), counter++);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

void test_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
    keep_seed(data, n);
}

/* SC_FIXTURES points the suite at freshly regenerated fixtures (make reference-check). */
const char *test_fixtures(void)
{
    const char *e = getenv("SC_FIXTURES");
    return e && *e ? e : SC_SOURCE_DIR "/tests/fixtures";
}

static char *rotate(void)
{
    static char bufs[8][4096];
    static int k;
    return bufs[k++ % 8];
}

const char *test_fixture(const char *rel)
{
    char *b = rotate();
    snprintf(b, 4096, "%s/%s", test_fixtures(), rel);
    return b;
}

const char *test_fixture_sub(const char *dir, const char *name)
{
    char *b = rotate();
    snprintf(b, 4096, "%s/%s/%s", test_fixtures(), dir, name);
    return b;
}

const char *test_source(const char *rel)
{
    char *b = rotate();
    snprintf(b, 4096, "%s/%s", SC_SOURCE_DIR, rel);
    return b;
}

double test_rel_err(const float *a, const float *ref, size_t n)
{
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - ref[i]);
        if (!(d <= md)) md = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return md / (mr > 0 ? mr : 1);
}

char *test_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    const long size = ftell(f);
    CHECK(size >= 0 && fseek(f, 0, SEEK_SET) == 0);
    char *buf = malloc((size_t)size + 1);
    CHECK(buf && fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    buf[size] = '\0';
    *n = (size_t)size;
    return buf;
}

char *test_cli_output;

int test_clif(const char *fmt, ...)
{
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    free(test_cli_output);
    test_cli_output = NULL;
    return test_cli(args, &test_cli_output);
}

int test_cli(const char *args, char **output)
{
    char cmd[16384], out[1100];
    snprintf(out, sizeof out, "%s/cli-output.txt", g_tmp);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", SC_CLI_PATH, args, out);
    int st = system(cmd);
    if (output) {
        FILE *f = fopen(out, "rb");
        *output = calloc(1, 1 << 20);
        if (f && *output) {
            size_t n = fread(*output, 1, (1 << 20) - 1, f);
            (*output)[n] = '\0';
        }
        if (f) fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f)
{
    (void)s; (void)flag; (void)f;
    return remove(p);
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (!strncmp(name, argv[i], strlen(argv[i]))) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *tmp = getenv("TMPDIR");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < g_n; i++) {
        if (!selected(g_tests[i].name, argc, argv)) continue;
        snprintf(g_tmp, sizeof g_tmp, "%s/sc-test-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
        if (!mkdtemp(g_tmp)) {
            fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
            return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            sc_set_quiet(1);
            g_tests[i].fn();
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            passed++;
        } else {
            failed++;
            if (WIFSIGNALED(st)) fprintf(stderr, "    killed by signal %d\n", WTERMSIG(st));
            fprintf(stderr, "FAIL %s\n", g_tests[i].name);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "(%.1f s)\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
