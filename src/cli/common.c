#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

int cli_load_model(const cli_args *a, sc_model **m)
{
    const char *path = cli_get(a, "--model");
    if (!path) return cli_usage_error(a, "--model is required");
    long heads, size;
    if (cli_int(a, "--heads", 1, 1024, 0, &heads) || cli_int(a, "--input-size", 1, 4096, 0, &size))
        return CLI_EXIT_USAGE;
    sc_load_opts o = {.num_heads = (int)heads, .input_size = (int)size};
    const char *origin = cli_get(a, "--origin");
    if (origin) {
        if (!strcmp(origin, "original")) o.origin = SC_ORIGIN_ORIGINAL;
        else if (!strcmp(origin, "diffusers")) o.origin = SC_ORIGIN_DIFFUSERS;
        else return cli_usage_error(a, "--origin: '%s' is not 'original' or 'diffusers'", origin);
    }
    if (sc_model_load(path, &o, m) != SC_OK) return cli_fail(a);
    return 0;
}

int cli_threads(const cli_args *a, int *threads)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN), t;
    if (n < 1) n = 1;
    if (cli_int(a, "--threads", 1, n, 0, &t)) return CLI_EXIT_USAGE;
    *threads = (int)t;
    return 0;
}
