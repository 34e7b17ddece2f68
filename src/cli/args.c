#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "smoothcache.h"

int cli_usage_error(const cli_args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "smoothcache %s: ", a->command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see: smoothcache %s --help)\n", a->command);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_path_ext(const cli_args *a, const char *flag, const char *ext)
{
    const char *v = cli_get(a, flag);
    const size_t n = v ? strlen(v) : 0, e = strlen(ext);
    if (!v || (n > e && !strcmp(v + n - e, ext))) return 0;
    return cli_usage_error(a, "%s: '%s' must end in %s", flag, v, ext);
}

/* The folder part of a path ("." when none) into dir, and where its last name starts. */
static const char *split_path(const char *p, char *dir, size_t cap)
{
    const char *slash = strrchr(p, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        return p;
    }
    snprintf(dir, cap, "%.*s", slash == p ? 1 : (int)(slash - p), p);
    return slash + 1;
}

/* Two names of one file: the same string, two paths to one existing file, or the same name in
 * one folder reached by two paths ("x.npy" and "./x.npy", before either exists). */
static int same_file(const char *x, const char *y)
{
    if (!strcmp(x, y)) return 1;
    struct stat sx, sy;
    if (!stat(x, &sx) && !stat(y, &sy)) return sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino;
    char dx[4096], dy[4096];
    const char *bx = split_path(x, dx, sizeof dx), *by = split_path(y, dy, sizeof dy);
    return *bx && !strcmp(bx, by) && !stat(dx, &sx) && !stat(dy, &sy) && sx.st_dev == sy.st_dev &&
           sx.st_ino == sy.st_ino;
}

int cli_outputs_distinct(const cli_args *a, const char *const *flags, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const char *x = cli_get(a, flags[i]), *y = cli_get(a, flags[j]);
            if (x && y && same_file(x, y))
                return cli_usage_error(a, "%s and %s name the same file (%s): give each output its own", flags[i],
                                       flags[j], x);
        }
    return 0;
}

/* The library's messages name its parameters; on the command line they are these flags. */
static const char *const k_param_flags[][2] = {
    {"(set force to overwrite)", "(use --force to overwrite)"},
    {"sc_load_opts.num_heads", "--heads"},
    {"sc_load_opts.input_size", "--input-size"},
};

int cli_fail(const cli_args *a)
{
    const char *m = sc_last_error();
    fprintf(stderr, "smoothcache %s: ", a->command);
    while (*m) {
        size_t i = 0, n = sizeof k_param_flags / sizeof *k_param_flags;
        while (i < n && strncmp(m, k_param_flags[i][0], strlen(k_param_flags[i][0]))) i++;
        if (i < n) {
            fputs(k_param_flags[i][1], stderr);
            m += strlen(k_param_flags[i][0]);
        } else {
            fputc(*m++, stderr);
        }
    }
    fputc('\n', stderr);
    return sc_last_status() == SC_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

void cli_usage(const cli_args *a, FILE *out)
{
    fprintf(out, "usage: smoothcache %s %s\n\n%s\n\noptions:\n", a->command, a->usage, a->summary);
    for (int i = 0; i < a->n_opts; i++) {
        const cli_opt *o = &a->opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help and exit");
    if (a->epilog) fprintf(out, "\n%s", a->epilog);
    fprintf(out, "\nexit status: 0 ok, 1 failure (file, format, numeric), 2 bad usage.\n");
}

int cli_parse(cli_args *a, int argc, char **argv)
{
    memset(a->parsed.values, 0, sizeof a->parsed.values);
    a->parsed.n_repeats = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_usage(a, stdout);
            return -1;
        }
        int k;
        const char *eq = strchr(arg, '=');
        size_t len = eq && !strncmp(arg, "--", 2) ? (size_t)(eq - arg) : strlen(arg);
        for (k = 0; k < a->n_opts; k++)
            if (strlen(a->opts[k].name) == len && !strncmp(a->opts[k].name, arg, len)) break;
        if (k == a->n_opts) {
            if (arg[0] == '-') return cli_usage_error(a, "unknown option '%s'", arg);
            return cli_usage_error(a, "unexpected argument '%s'", arg);
        }
        const cli_opt *o = &a->opts[k];
        const size_t ml = o->metavar ? strlen(o->metavar) : 0;
        const int repeatable = ml > 3 && !strcmp(o->metavar + ml - 3, "...");
        if (a->parsed.values[k] && !repeatable) return cli_usage_error(a, "%s given more than once", o->name);
        if (!o->metavar) {
            if (eq && len == strlen(arg) - strlen(eq)) return cli_usage_error(a, "%s takes no value", o->name);
            a->parsed.values[k] = "1";
        } else if (eq && len < strlen(arg)) {
            a->parsed.values[k] = eq + 1;
        } else {
            if (i + 1 >= argc) return cli_usage_error(a, "%s needs a value (%s)", o->name, o->metavar);
            a->parsed.values[k] = argv[++i];
        }
        if (repeatable) {
            if (a->parsed.n_repeats == CLI_MAX_REPEAT) return cli_usage_error(a, "%s given more than %d times", o->name, CLI_MAX_REPEAT);
            a->parsed.repeats[a->parsed.n_repeats++] = a->parsed.values[k];
        }
    }
    return 0;
}

const char *const *cli_get_all(const cli_args *a, int *n)
{
    *n = a->parsed.n_repeats;
    return a->parsed.repeats;
}

const char *cli_get(const cli_args *a, const char *name)
{
    for (int k = 0; k < a->n_opts; k++)
        if (!strcmp(a->opts[k].name, name)) return a->parsed.values[k];
    return NULL;
}

/* Base-10 digits with an optional leading '-' (when allowed): no spaces, '+', hex or suffix. */
static int plain_integer(const char *s, int allow_minus)
{
    if (allow_minus && *s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

int cli_int(const cli_args *a, const char *flag, long min, long max, long def, long *out)
{
    const char *v = cli_get(a, flag);
    *out = def;
    if (!v) return 0;
    if (!plain_integer(v, 1)) return cli_usage_error(a, "%s: '%s' is not an integer", flag, v);
    errno = 0;
    long x = strtol(v, NULL, 10); /* "-3" where min >= 0: out of range, said below */
    if (errno == ERANGE || x < min || x > max)
        return cli_usage_error(a, "%s: %s is out of range [%ld, %ld]", flag, v, min, max);
    *out = x;
    return 0;
}

int cli_u64(const cli_args *a, const char *flag, uint64_t def, uint64_t *out)
{
    const char *v = cli_get(a, flag);
    *out = def;
    if (!v) return 0;
    if (*v == '-' && plain_integer(v, 1)) return cli_usage_error(a, "%s: %s is out of range [0, 2^64-1]", flag, v);
    if (!plain_integer(v, 0)) return cli_usage_error(a, "%s: '%s' is not a non-negative integer", flag, v);
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno == ERANGE) return cli_usage_error(a, "%s: %s is out of range [0, 2^64-1]", flag, v);
    *out = x;
    return 0;
}

int cli_float(const cli_args *a, const char *flag, double min, double max, double def, double *out)
{
    const char *v = cli_get(a, flag);
    *out = def;
    if (!v) return 0;
    const char *p = v;
    if (*p == '-' || *p == '+') p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan"))
        return cli_usage_error(a, "%s: %s is not a finite number in [%g, %g]", flag, v, min, max);
    p = v;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p) && *p != '.') return cli_usage_error(a, "%s: '%s' is not a number", flag, v);
    for (const char *q = v; *q; q++)
        if (*q == 'x' || *q == 'X') return cli_usage_error(a, "%s: '%s' is not a decimal number", flag, v);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || end == v) return cli_usage_error(a, "%s: '%s' is not a number", flag, v);
    if (errno == ERANGE || !isfinite(x) || !(x >= min && x <= max))
        return cli_usage_error(a, "%s: %s is out of range [%g, %g]", flag, v, min, max);
    *out = x;
    return 0;
}

int cli_int_list(const cli_args *a, const char *flag, long min, long max, int **out, int *n)
{
    const char *v = cli_get(a, flag);
    *out = NULL;
    *n = 0;
    if (!v) return 0;
    size_t cap = 1;
    for (const char *q = v; *q; q++) cap += *q == ',';
    int *list = malloc(cap * sizeof *list);
    if (!list) return cli_usage_error(a, "out of memory");
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[32];
        if (len == 0 || len >= sizeof buf) {
            free(list);
            return cli_usage_error(a, "%s: '%s' is not a comma-separated list of integers", flag, v);
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        long x;
        errno = 0;
        if (!plain_integer(buf, min < 0) || (x = strtol(buf, NULL, 10), errno == ERANGE) || x < min || x > max) {
            free(list);
            return cli_usage_error(a, "%s: '%s' is not an integer in [%ld, %ld]", flag, buf, min, max);
        }
        list[(*n)++] = (int)x;
        if (!comma) break;
        p = comma + 1;
    }
    *out = list;
    return 0;
}
