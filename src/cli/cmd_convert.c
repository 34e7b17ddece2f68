/* smoothcache convert: a PyTorch checkpoint (.pt/.pth/.bin, read without running its pickle) or a
 * safetensors file, rewritten as a clean safetensors file with the same tensors and dtypes. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const cli_opt k_opts[] = {
    {"--force", NULL, "overwrite OUT if it exists"},
    {"--dtype", "NAME", "bf16: write the F32/F16 tensors as bf16 (half the size of float32, rounded to "
                        "nearest even); f32: widen F16/BF16 to float32; default: every tensor as stored"},
};

int cmd_convert(int argc, char **argv)
{
    cli_args a = {"convert", "Rewrite a PyTorch checkpoint (torch.save zip: .pt, .pth, diffusers .bin) or a "
                             "safetensors file as safetensors: same tensor names, shapes, dtypes and bytes.",
                  "IN OUT.safetensors [--dtype bf16|f32] [--force]",
                  "IN is read without executing anything: only tensors, OrderedDict and the storage types of\n"
                  "torch.save are understood; training checkpoints give their \"ema\" weights. Example:\n"
                  "  smoothcache convert DiT-XL-2-256x256.pt DiT-XL-2-256x256.safetensors\n"
                  "  smoothcache convert DiT-XL-2-256x256.pt DiT-XL-2-256x256-bf16.safetensors --dtype bf16\n",
                  k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    /* The two positional arguments are taken out; the rest are options. */
    const char *pos[2];
    char *opts[8];
    int n_pos = 0, n_opts = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (n_opts + 2 > (int)(sizeof opts / sizeof *opts)) return cli_usage_error(&a, "too many options");
            opts[n_opts++] = argv[i];
            /* An option that takes a value, given as "--flag value": the value goes with it. */
            for (size_t k = 0; k < sizeof k_opts / sizeof *k_opts; k++)
                if (k_opts[k].metavar && !strcmp(argv[i], k_opts[k].name) && i + 1 < argc) opts[n_opts++] = argv[++i];
        } else {
            if (n_pos == 2) return cli_usage_error(&a, "unexpected argument '%s'", argv[i]);
            pos[n_pos++] = argv[i];
        }
    }
    int r = cli_parse(&a, n_opts, opts);
    if (r) return r < 0 ? 0 : r;
    if (n_pos != 2) return cli_usage_error(&a, "expected IN and OUT.safetensors");
    const size_t len = strlen(pos[1]);
    if (len <= 12 || strcmp(pos[1] + len - 12, ".safetensors"))
        return cli_usage_error(&a, "OUT: '%s' must end in .safetensors", pos[1]);
    sc_dtype dtype = SC_DTYPE_AUTO;
    if ((r = cli_dtype(&a, &dtype))) return r;
    if (dtype == SC_DTYPE_INT8)
        return cli_usage_error(&a, "--dtype: int8 weights are made at load (--dtype int8 on generate, sample...), "
                                   "not stored; convert writes f32 or bf16");
    size_t tensors;
    if (sc_convert_checkpoint_dtype(pos[0], pos[1], cli_get(&a, "--force") != NULL, dtype, &tensors) != SC_OK)
        return cli_fail(&a);
    printf("wrote %s (%zu tensors%s)\n", pos[1], tensors,
           dtype == SC_DTYPE_BF16 ? ", floating-point ones in bf16" : dtype == SC_DTYPE_F32 ? ", floating-point ones in float32" : "");
    return 0;
}
