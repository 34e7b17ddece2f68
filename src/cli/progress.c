#include "cli/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_progress_init(cli_progress *p, const char *command, const char *unit, int quiet)
{
    *p = (cli_progress){.mode = quiet ? PROGRESS_OFF : isatty(2) ? PROGRESS_BAR : PROGRESS_LINES,
                        .command = command,
                        .unit = unit,
                        .interval = 10.0};
    const char *env = getenv("SMOOTHCACHE_PROGRESS_INTERVAL");
    if (env && *env) {
        char *end;
        const double v = strtod(env, &end);
        if (!*end && v >= 0 && v <= 86400) p->interval = v;
    }
    p->t0 = p->last = cli_now();
}

/* "12.3 s", "4 min 05 s", "2 h 13 min". */
static void duration(char *buf, size_t cap, double s)
{
    if (s < 60) snprintf(buf, cap, "%.1f s", s);
    else if (s < 3600) snprintf(buf, cap, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else snprintf(buf, cap, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
}

void cli_progress_update(cli_progress *p, long done, long total, double elapsed)
{
    if (p->mode == PROGRESS_OFF || total <= 0) return;
    const double now = cli_now();
    if (elapsed < 0) elapsed = now - p->t0;
    const double per = done > 0 ? elapsed / (double)done : 0;
    char eta[32];
    duration(eta, sizeof eta, per * (double)(total - done));
    const char *label = p->label ? p->label : "";
    const char *sep = p->label ? "  " : "";
    if (p->mode == PROGRESS_BAR) {
        const int bar = (int)(24 * done / total);
        fprintf(stderr, "\r%s%s[%.*s%*s] %s %ld/%ld  %.2f s/%s  eta %s   ", label, sep, bar,
                "########################", 24 - bar, "", p->unit, done, total, per, p->unit, eta);
        p->open = 1;
        if (done == total) cli_progress_end(p);
        fflush(stderr);
        return;
    }
    /* Plain lines: one per interval (the first after one interval of work), none at the end (the
     * command's own summary says it finished). */
    if (done >= total || now - p->last < p->interval) return;
    p->last = now;
    fprintf(stderr, "smoothcache %s: %s%s%s %ld/%ld (%.0f%%), %.2f s/%s, eta %s\n", p->command, label,
            p->label ? ": " : "", p->unit, done, total, 100.0 * (double)done / (double)total, per, p->unit, eta);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->mode == PROGRESS_BAR && p->open) {
        fputc('\n', stderr);
        fflush(stderr);
    }
    p->open = 0;
}

int cli_progress_fn(void *user, int step, int steps, double secs, const float *latents)
{
    (void)latents;
    cli_progress_update(user, step, steps, secs);
    return 0;
}
