/* smoothcache convert: a PyTorch checkpoint (.pt/.pth/.bin, read without running its pickle) or a
 * safetensors file, rewritten as a clean safetensors file with the same tensors and dtypes. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const cli_opt k_opts[] = {
    {"--force", NULL, "overwrite OUT if it exists"},
};

int cmd_convert(int argc, char **argv)
{
    cli_args a = {"convert", "Rewrite a PyTorch checkpoint (torch.save zip: .pt, .pth, diffusers .bin) or a "
                             "safetensors file as safetensors: same tensor names, shapes, dtypes and bytes.",
                  "IN OUT.safetensors [--force]",
                  "IN is read without executing anything: only tensors, OrderedDict and the storage types of\n"
                  "torch.save are understood; training checkpoints give their \"ema\" weights. Example:\n"
                  "  smoothcache convert DiT-XL-2-256x256.pt DiT-XL-2-256x256.safetensors\n",
                  k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    /* The two positional arguments are taken out; the rest are options. */
    const char *pos[2];
    char *opts[8];
    int n_pos = 0, n_opts = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (n_opts == (int)(sizeof opts / sizeof *opts)) return cli_usage_error(&a, "too many options");
            opts[n_opts++] = argv[i];
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
    size_t tensors;
    if (sc_convert_checkpoint(pos[0], pos[1], cli_get(&a, "--force") != NULL, &tensors) != SC_OK) return cli_fail(&a);
    printf("wrote %s (%zu tensors)\n", pos[1], tensors);
    return 0;
}
