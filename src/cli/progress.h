/* Progress of long work on stderr: a bar rewritten in place when stderr is a terminal; when it is
 * not (a log file, a batch system), a plain line every `interval` seconds (10 by default,
 * $SMOOTHCACHE_PROGRESS_INTERVAL overrides it; 0 prints every update); nothing with --quiet. */
#ifndef SC_CLI_PROGRESS_H
#define SC_CLI_PROGRESS_H

typedef enum { PROGRESS_OFF, PROGRESS_BAR, PROGRESS_LINES } cli_progress_mode;

typedef struct {
    cli_progress_mode mode;
    const char *command;  /* "generate": plain lines start with "smoothcache generate: " */
    const char *label;    /* what runs now ("uncached", a cache spec, "sample 3/10"), or NULL */
    const char *unit;     /* "step", "image", "prompt" */
    double interval;      /* seconds between plain lines */
    double t0;            /* when the work began (monotonic seconds, set by init) */
    double last;          /* when the last plain line was printed */
    int open;             /* a bar line is on screen without its newline */
} cli_progress;

void cli_progress_init(cli_progress *p, const char *command, const char *unit, int quiet);
/* done of total units after `elapsed` seconds of the work (elapsed < 0: measured from init). */
void cli_progress_update(cli_progress *p, long done, long total, double elapsed);
/* Ends the bar's line on a terminal. */
void cli_progress_end(cli_progress *p);
/* An sc_progress_fn for sc_gen_params.progress (user = cli_progress *): "step i/N". */
int cli_progress_fn(void *user, int step, int steps, double secs, const float *latents);
/* Monotonic seconds. */
double cli_now(void);

#endif
