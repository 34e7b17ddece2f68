/* smoothcache merge: the shards of a sharded `sample` run into the one .npz an evaluator reads
 * (docs/SCALE.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    {"--force", NULL, "overwrite OUT if it exists"},
    {"--quiet", NULL, "no summary"},
};

int cmd_merge(int argc, char **argv)
{
    cli_args a = {"merge", "Merge the shards of a sharded `smoothcache sample` run into one .npz.",
                  "OUT.npz SHARD.npz... [--force]",
                  "Each shard's manifest (SHARD.json beside SHARD.npz) must say it is complete; the shards must\n"
                  "come from the same run (settings, model and VAE fingerprints) and cover its images exactly\n"
                  "once. The output holds arr_0, uint8 [N, H, W, 3], in image order, identical to what one\n"
                  "process would have written. Memory stays bounded: the shards are streamed.\n"
                  "example:\n"
                  "  smoothcache merge samples.npz samples.shard-*.npz\n",
                  k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    /* Positional arguments (OUT, then shards) are taken out; the rest are options. */
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char **opts = calloc((size_t)argc + 1, sizeof *opts);
    if (!pos || !opts) {
        free(pos), free(opts);
        fprintf(stderr, "smoothcache merge: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int n_pos = 0, n_opts = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0') opts[n_opts++] = argv[i];
        else pos[n_pos++] = argv[i];
    }
    int r = cli_parse(&a, n_opts, opts);
    if (!r && n_pos < 2) r = cli_usage_error(&a, "expected OUT.npz and at least one SHARD.npz");
    if (!r) {
        const size_t len = strlen(pos[0]);
        if (len < 5 || strcmp(pos[0] + len - 4, ".npz")) r = cli_usage_error(&a, "OUT: '%s' must end in .npz", pos[0]);
    }
    for (int i = 1; !r && i < n_pos; i++)
        if (!strcmp(pos[i], pos[0])) r = cli_usage_error(&a, "OUT %s is also given as a shard", pos[0]);
    if (!r) {
        uint64_t images = 0;
        if (sc_shard_merge(pos[0], pos + 1, n_pos - 1, cli_get(&a, "--force") != NULL, &images) != SC_OK) {
            r = cli_fail(&a);
        } else if (!cli_get(&a, "--quiet")) {
            printf("wrote %s (%llu images from %d shard%s)\n", pos[0], (unsigned long long)images, n_pos - 1,
                   n_pos == 2 ? "" : "s");
        }
    }
    free(pos);
    free(opts);
    return r < 0 ? 0 : r;
}
