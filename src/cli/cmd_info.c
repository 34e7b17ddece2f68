/* smoothcache info: what a checkpoint holds and what one forward costs. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/audio.h"
#include "cli/commands.h"
#include "cli/images.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {CLI_MODEL_OPTS_DEFAULT("the shipped class demo"), CLI_VAE_OPT};

int cmd_info(int argc, char **argv)
{
    cli_args a = {"info", "Print a model's architecture, size, dtype and cost per forward.",
                  "[--model PATH] [options]", NULL, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    /* A text encoder's folder (T5: config.json with model_type t5), not a pipeline's. */
    const char *path = cli_get(&a, "--model");
    char index[4200];
    snprintf(index, sizeof index, "%s/model_index.json", path ? path : "");
    sc_text_encoder *enc = NULL;
    sc_load_opts eo = {0};
    if (cli_dtype(&a, &eo.dtype)) return CLI_EXIT_USAGE;
    if (path && sc_is_folder(path) && access(index, F_OK) != 0 && sc_text_encoder_load_opts(path, &eo, &enc) == SC_OK) {
        sc_text_encoder_info ei;
        sc_text_encoder_get_info(enc, &ei);
        printf("model:          %s\n", path);
        printf("family:         %s text encoder, %s\n", ei.family, ei.variant);
        printf("dtype:          %s\n", ei.dtype);
        printf("compute:        %s, weights %.1f MB in memory\n", ei.compute_dtype, (double)ei.weight_bytes / 1e6);
        printf("depth:          %d layers\n", ei.depth);
        printf("width:          %d features per token\n", ei.width);
        printf("vocabulary:     %d ids\n", ei.vocab_size);
        printf("parameters:     %llu (%.1f M)\n", (unsigned long long)ei.params, (double)ei.params / 1e6);
        sc_tokenizer *tok = NULL;
        if (sc_tokenizer_load(path, SC_TOKENIZER_TRANSFORMERS, &tok) == SC_OK) {
            sc_tokenizer_info ti;
            sc_tokenizer_get_info(tok, &ti);
            printf("tokenizer:      %s (%d ids, pad %d, </s> %d", ti.path, ti.vocab_size, ti.pad_id, ti.eos_id);
            if (ti.model_max_length) printf(", model_max_length %d", ti.model_max_length);
            printf(")\n");
            sc_tokenizer_free(tok);
        } else {
            printf("tokenizer:      none beside it (encode --tokenizer PATH)\n");
        }
        sc_text_encoder_free(enc);
        return 0;
    }
    sc_model *m;
    if ((r = cli_load_model(&a, &m, 0))) return r;
    sc_model_info mi;
    sc_model_get_info(m, &mi);
    int ts[4];
    printf("model:          %s\n", cli_model_path(&a));
    printf("family:         %s\n", mi.family);
    printf("layout:         %s\n", mi.layout);
    printf("numerics:       %s\n", mi.numerics);
    printf("dtype:          %s\n", mi.dtype);
    printf("compute:        %s, weights %.1f MB in memory (%s)\n", mi.compute_dtype, (double)mi.weight_bytes / 1e6,
           !strcmp(mi.weights_source, "mapped")      ? "float32 views of the file"
           : !strcmp(mi.weights_source, "converted") ? "copies made at load"
                                                    : "partly mapped, partly copied");
    printf("depth:          %d block%s\n", mi.depth, mi.depth == 1 ? "" : "s");
    printf("hidden:         %d (%d heads x %d)\n", mi.hidden, mi.heads, mi.head_dim);
    printf("patch:          %d\n", mi.patch);
    printf("latent:         ");
    for (int k = 0; k < mi.latent.rank; k++) printf("%s%d", k ? " x " : "", mi.latent.dims[k]);
    printf(" -> %d tokens\n", mi.tokens);
    printf("output:         %d channels%s\n", mi.out_channels, mi.learned_sigma ? " (learned sigma)" : "");
    if (mi.num_classes) printf("classes:        %d (null class %d)\n", mi.num_classes, mi.num_classes);
    if (mi.takes_text) {
        /* Stable Audio pads to its tokenizer's model_max_length (textcond.c); the image families to
         * their pipeline's length. */
        int len = mi.text_len;
        sc_tokenizer *tok = NULL;
        sc_tokenizer_info ti;
        if (!strcmp(mi.family, "stable_audio") &&
            sc_tokenizer_load(cli_model_path(&a), SC_TOKENIZER_TRANSFORMERS, &tok) == SC_OK) {
            sc_tokenizer_get_info(tok, &ti);
            if (ti.model_max_length > 0 && ti.model_max_length <= 4096) len = ti.model_max_length;
            sc_tokenizer_free(tok);
        }
        printf("text:           T5 embeddings %d wide, prompts padded to %d tokens (--prompt, --prompt-embeds)\n",
               mi.text_dim, len);
    }
    printf("parameters:     %llu (%.1f M)\n", (unsigned long long)mi.params, (double)mi.params / 1e6);
    printf("MACs/forward:   %.3f G per sample (x2 with guidance)\n", (double)mi.macs_per_forward / 1e9);
    printf("  per block:   ");
    for (int k = 0; k < mi.n_components; k++)
        printf("%s %s %.3f G", k ? "," : "", mi.components[k], (double)mi.macs_component[k] / 1e9);
    printf(" (the cacheable components)\n");
    printf("scheduler:      %s\n", mi.scheduler);
    printf("defaults:       %s, %d steps, guidance %g (the pipeline's; --sampler, --steps, --cfg)\n",
           sc_sampler_name((sc_sampler)mi.default_sampler), mi.default_steps, (double)mi.default_cfg);
    if (sc_sampler_timesteps(m, (sc_sampler)mi.default_sampler, 4, ts) == SC_OK)
        printf("4 steps:        timesteps %d %d %d %d\n", ts[0], ts[1], ts[2], ts[3]);
    sc_vae *vae = NULL;
    if (cli_is_audio(&mi)) {
        if ((r = cli_audio_decoder(&a, m, &mi, 0, &vae))) {
            sc_model_free(m);
            return r;
        }
        if (vae) {
            sc_vae_info v;
            sc_vae_get_info(vae, &v);
            const int64_t frames = mi.latent.dims[1];
            printf("sound:          %d latent channels -> %d audio channel%s at %d Hz, %d samples per latent frame\n",
                   v.latent_channels, v.out_channels, v.out_channels == 1 ? "" : "s", v.sample_rate, v.upscale);
            printf("  clips:        up to %.2f s (%lld frames; the decoder makes %lld samples)\n",
                   (double)frames * v.upscale / v.sample_rate, (long long)frames,
                   (long long)sc_audio_length(vae, frames));
        } else {
            printf("sound:          none without a decoder (--vae PATH: an Oobleck autoencoder)\n");
        }
        sc_vae_free(vae);
        sc_model_free(m);
        return 0;
    }
    if ((r = cli_load_vae(&a, m, 0, &vae))) {
        sc_model_free(m);
        return r;
    }
    if (vae) {
        sc_vae_info v;
        sc_vae_get_info(vae, &v);
        printf("VAE:            %s names, %d latent channels -> %d, scaling factor %g\n", v.naming, v.latent_channels,
               v.out_channels, v.scaling_factor);
        printf("  decoder:      %d block%s (", v.blocks, v.blocks == 1 ? "" : "s");
        for (int i = 0; i < v.blocks; i++) printf("%s%d", i ? ", " : "", v.block_out[i]);
        printf("), %d resnets each, GroupNorm %d\n", v.layers_per_block + 1, v.groups);
        int side = sc_image_side(m, vae);
        printf("  images:       %d x %d (x%d)\n", side, side, v.upscale);
    } else if (sc_image_side(m, NULL)) {
        printf("images:         %d x %d, the model's own output (pixel space)\n", mi.latent.dims[1], mi.latent.dims[2]);
    } else {
        printf("images:         none without a VAE (--vae PATH)\n");
    }
    sc_vae_free(vae);
    sc_model_free(m);
    return 0;
}
