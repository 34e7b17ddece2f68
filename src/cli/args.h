/* Command-line parsing shared by the subcommands: a table of flags per command, strict number
 * parsing (base 10, no sign tricks, no hex, no nan/inf, range-checked), --help from the table.
 * Usage errors print one line naming the flag and exit with status 2. */
#ifndef SC_CLI_ARGS_H
#define SC_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

typedef struct {
    const char *name;     /* "--steps" */
    const char *metavar;  /* "N", or NULL for a switch; ending in "..." = may be repeated */
    const char *help;
} cli_opt;

#define CLI_MAX_REPEAT 32

typedef struct {
    const char *command;  /* "generate" */
    const char *summary;  /* one line */
    const char *usage;    /* "--model PATH --class N[,N...] [options]" */
    const char *epilog;   /* examples, or NULL */
    const cli_opt *opts;
    int n_opts;
    struct { /* filled by cli_parse; initialise with {0} */
        int n_repeats;
        const char *values[48]; /* value per option (switches: "1"), NULL if absent */
        const char *repeats[CLI_MAX_REPEAT]; /* every value of the repeatable option */
    } parsed;
} cli_args;

/* Parses argv (after the command name). Returns 0 to continue, -1 after printing --help (exit
 * 0), or CLI_EXIT_USAGE after an error (already printed). A flag may not be repeated; values
 * may be given as "--flag value" or "--flag=value". */
int cli_parse(cli_args *a, int argc, char **argv);
const char *cli_get(const cli_args *a, const char *name);
/* All values of the (single) repeatable option, in order. */
const char *const *cli_get_all(const cli_args *a, int *n);
void cli_usage(const cli_args *a, FILE *out);

/* Strict value parsers: each prints "smoothcache <cmd>: <flag>: <problem>" and returns nonzero
 * on a bad value. */
int cli_int(const cli_args *a, const char *flag, long min, long max, long def, long *out);
int cli_u64(const cli_args *a, const char *flag, uint64_t def, uint64_t *out);
int cli_float(const cli_args *a, const char *flag, double min, double max, double def, double *out);
/* "1,2,3" -> ints in [min, max]; *out is malloc'ed. */
int cli_int_list(const cli_args *a, const char *flag, long min, long max, int **out, int *n);

/* Prints "smoothcache <cmd>: <message>" and returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the library's last error, its parameter names given as this command line's flags
 * (sc_load_opts.num_heads as --heads...), and returns the exit status for its code. */
int cli_fail(const cli_args *a);

/* The value of flag, when given, must end in ext (".npy"); else a usage error naming the flag. */
int cli_path_ext(const cli_args *a, const char *flag, const char *ext);
/* No two of the given output flags name one file (it would be written twice, the last one
 * winning): else a usage error naming both. */
int cli_outputs_distinct(const cli_args *a, const char *const *flags, int n);

#endif
