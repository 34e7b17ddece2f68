#include "cli/images.h"

#include "cli/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "io/file.h"
#include "io/image.h"
#include "io/npz.h"
#include "io/png.h"

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

int cli_image_path_ok(const cli_args *a, const char *flag, const char *path)
{
    if (has_suffix(path, ".png") || has_suffix(path, ".npz")) return 1;
    cli_usage_error(a, "%s: '%s' must end in .png (a picture or grid) or .npz (a batch for FID tools)", flag, path);
    return 0;
}

int cli_load_vae(const cli_args *a, const sc_model *m, int need, sc_vae **vae)
{
    const char *path = cli_get(a, "--vae"), *model = cli_model_path(a);
    char pipe_vae[4096];
    *vae = NULL;
    if (!path && model && file_is_dir(model)) {
        char index[4096];
        if (file_join(index, sizeof index, model, "model_index.json") == SC_OK && file_is_regular(index) &&
            file_join(pipe_vae, sizeof pipe_vae, model, "vae") == SC_OK && file_is_dir(pipe_vae))
            path = pipe_vae;
    }
    if (path) {
        if (sc_vae_load(path, vae) != SC_OK) return cli_fail(a);
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

sc_status cli_write_images(const char *path, const uint8_t *rgb, int n, int side, const char *comment, int force)
{
    if (has_suffix(path, ".npz")) {
        const uint64_t shape[4] = {(uint64_t)n, (uint64_t)side, (uint64_t)side, 3};
        return npz_write_u8(path, "arr_0", rgb, 4, shape, force);
    }
    const png_text_kv text = {"smoothcache", comment ? comment : ""};
    if (n == 1) return png_write_rgb8(path, side, side, rgb, &text, 1, force);
    uint8_t *grid;
    int w, h;
    sc_status s = image_grid(&grid, &w, &h, rgb, n, side, side, 0, side >= 64 ? 4 : 2);
    if (s) return s;
    s = png_write_rgb8(path, w, h, grid, &text, 1, force);
    mem_free(grid);
    return s;
}
