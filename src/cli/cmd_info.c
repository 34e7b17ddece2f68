/* smoothcache info: what a checkpoint holds and what one forward costs. */
#include <stdio.h>

#include "cli/commands.h"

static const cli_opt k_opts[] = {CLI_MODEL_OPTS};

int cmd_info(int argc, char **argv)
{
    cli_args a = {"info", "Print a model's architecture, size, dtype and cost per forward.",
                  "--model PATH [options]", NULL, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_model *m;
    if ((r = cli_load_model(&a, &m, 0))) return r;
    sc_model_info i;
    sc_model_get_info(m, &i);
    int ts[4];
    printf("model:          %s\n", cli_get(&a, "--model"));
    printf("layout:         %s\n", i.layout);
    printf("numerics:       %s\n", i.origin == SC_ORIGIN_ORIGINAL
                                       ? "original DiT (timestep freq /128, LayerNorm eps 1e-6, CFG on 3 channels)"
                                       : "diffusers (timestep freq /127, pre-MLP LayerNorm eps from config, CFG on all channels)");
    printf("dtype:          %s\n", i.dtype);
    printf("depth:          %d blocks\n", i.depth);
    printf("hidden:         %d (%d heads x %d)\n", i.hidden, i.heads, i.head_dim);
    printf("patch:          %d\n", i.patch);
    printf("latent:         %d x %d x %d -> %d tokens\n", i.in_channels, i.input_size, i.input_size, i.tokens);
    printf("output:         %d channels%s\n", i.out_channels, i.learned_sigma ? " (learned sigma)" : "");
    printf("classes:        %d (null class %d)\n", i.num_classes, i.num_classes);
    printf("parameters:     %llu (%.1f M)\n", (unsigned long long)i.params, (double)i.params / 1e6);
    printf("MACs/forward:   %.3f G per sample (x2 with guidance)\n", (double)i.macs_per_forward / 1e9);
    printf("  per block:    attention %.3f G, MLP %.3f G\n", (double)i.macs_block_attn / 1e9,
           (double)i.macs_block_mlp / 1e9);
    if (sc_sampler_timesteps(m, SC_SAMPLER_DDIM, 4, ts) == SC_OK)
        printf("DDIM 4 steps:   timesteps %d %d %d %d\n", ts[0], ts[1], ts[2], ts[3]);
    sc_model_free(m);
    return 0;
}
