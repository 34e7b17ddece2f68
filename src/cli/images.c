#include "cli/images.h"

#include <stdio.h>

#include "cli/commands.h"
#include "smoothcache_tools.h"

int cli_image_path_ok(const cli_args *a, const char *flag, const char *path)
{
    if (sc_images_path_ok(path)) return 1;
    cli_usage_error(a, "%s: '%s' must end in .png (a picture or grid) or .npz (a batch for FID tools); sound models "
                       "write .wav", flag, path);
    return 0;
}

int cli_open_vae(const cli_args *a, const sc_model *m, sc_vae **vae, char *path, size_t cap)
{
    *vae = NULL;
    const char *given = cli_get(a, "--vae");
    path[0] = '\0';
    if (given) snprintf(path, cap, "%s", given);
    else if (!sc_model_component_path(m, "vae", path, cap)) return 0;
    /* The command's --dtype holds for its VAE too (int8 and bf16: bf16 convolutions). */
    sc_load_opts o = {0};
    if (cli_dtype(a, &o.dtype)) return CLI_EXIT_USAGE;
    if (sc_vae_load_opts(path, &o, vae) != SC_OK) {
        const int r = cli_fail(a);
        cli_where_it_goes(a, "--vae", path);
        return r;
    }
    return 0;
}

int cli_load_vae(const cli_args *a, const sc_model *m, int need, sc_vae **vae)
{
    *vae = NULL;
    sc_model_info info;
    sc_model_get_info(m, &info);
    if (info.latent.rank == 2) /* sound: its decoder is cli_audio_decoder's (cli/audio.h) */
        return need ? cli_usage_error(a, "this %s model makes sound, not pictures: smoothcache generate --out "
                                         "FILE.wav makes its clips", info.family)
                    : 0;
    char path[4096];
    int r = cli_open_vae(a, m, vae, path, sizeof path);
    if (r) return r;
    if (*vae) {
        if (!sc_image_side(m, *vae)) {
            sc_vae_free(*vae);
            *vae = NULL;
            return cli_usage_error(a, "--vae %s does not decode this model's latents (channel mismatch)", path);
        }
        return 0;
    }
    if (need && !sc_image_side(m, NULL))
        return cli_usage_error(a, "this model makes latents, not pictures: give --vae PATH (an SD VAE) or use --latents-out");
    return 0;
}
