/* Pictures on the command line: which VAE to use, and which output names are pictures (written
 * with sc_images_write). */
#ifndef SC_CLI_IMAGES_H
#define SC_CLI_IMAGES_H

#include "cli/args.h"
#include "smoothcache.h"

#define CLI_VAE_OPT {"--vae", "PATH", "VAE for latent models (default: the pipeline folder's vae/)"}

/* The VAE: --vae PATH, else the vae/ folder of a pipeline given as --model, else none (pixel-space
 * models need none). With need = 1 it is an error (exit 2) when the model cannot make pictures.
 * Returns an exit status; *vae may be NULL. */
int cli_load_vae(const cli_args *a, const sc_model *m, int need, sc_vae **vae);
/* The decoder alone, of any kind: --vae PATH, else the pipeline's vae/ (*vae NULL, path "" when
 * there is neither); the path used goes to path. Returns an exit status. */
int cli_open_vae(const cli_args *a, const sc_model *m, sc_vae **vae, char *path, size_t cap);

/* 1 if path ends in .png or .npz (else prints a usage error and returns 0). */
int cli_image_path_ok(const cli_args *a, const char *flag, const char *path);

#endif
