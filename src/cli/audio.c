#include "cli/audio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/images.h"
#include "smoothcache_tools.h"

int cli_is_audio(const sc_model_info *info) { return info->latent.rank == 2; }

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

void cli_audio_free(cli_audio *au)
{
    free(au->starts);
    free(au->totals);
    memset(au, 0, sizeof *au);
}

int cli_audio_flags_unused(const cli_args *a)
{
    static const char *const flags[] = {"--seconds-start", "--seconds-total", "--seconds", "--wav-format",
                                        "--spectrogram"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (cli_get(a, flags[i])) return cli_usage_error(a, "%s: this model makes pictures, not sound", flags[i]);
    return 0;
}

int cli_audio_decoder(const cli_args *a, const sc_model *m, const sc_model_info *info, int need, sc_vae **vae)
{
    char path[4096];
    int r = cli_open_vae(a, m, vae, path, sizeof path);
    if (r) return r;
    if (!*vae) {
        if (need)
            return cli_usage_error(a, "%s has no vae/ to turn its latents into sound: give --vae PATH (an Oobleck "
                                      "autoencoder folder) or write the latents with --latents-out",
                                   cli_model_path(a));
        return 0;
    }
    sc_vae_info vi;
    sc_vae_get_info(*vae, &vi);
    const char *why = !vi.sample_rate ? "it makes pictures, not sound"
                      : vi.latent_channels != info->latent.dims[0] ? "its latent channels differ from the model's"
                                                                   : NULL;
    if (why) {
        r = cli_usage_error(a, "--vae %s does not decode this model's latents: %s (%d latent channels; the "
                                         "model makes %d)", path, why, vi.latent_channels, info->latent.dims[0]);
        sc_vae_free(*vae);
        *vae = NULL;
        return r;
    }
    return 0;
}

int cli_audio_settings(const cli_args *a, const sc_model_info *info, const sc_vae *vae, int quiet, cli_audio *au)
{
    memset(au, 0, sizeof *au);
    au->frames = info->latent.dims[1];
    au->latent_channels = info->latent.dims[0];
    double max_len = 0; /* the longest clip the model makes, in seconds (with a decoder) */
    if (vae) {
        sc_vae_info vi;
        sc_vae_get_info(vae, &vi);
        au->rate = vi.sample_rate;
        au->channels = vi.out_channels;
        au->length = sc_audio_length(vae, au->frames);
        /* The pipeline's max_audio_length_in_s: frames times the hop, not the decoded length. */
        max_len = (double)au->frames * vi.upscale / vi.sample_rate;
    }
    if (cli_get(a, "--seconds") && cli_get(a, "--seconds-total"))
        return cli_usage_error(a, "--seconds and --seconds-total: give one of them (--seconds S means "
                                  "--seconds-total = --seconds-start + S)");
    double len = 0;
    if (cli_float(a, "--seconds-start", 0, 1e6, 0, &au->start) || cli_float(a, "--seconds", 1e-9, 1e6, 0, &len) ||
        cli_float(a, "--seconds-total", 1e-9, 1e6, 0, &au->total))
        return CLI_EXIT_USAGE;
    if (len > 0) au->total = au->start + len;
    if (au->total == 0) {
        if (!vae)
            return cli_usage_error(a, "give --seconds-total S (the clip's length in seconds): without a decoder "
                                      "(vae/ or --vae) the model's longest clip is not known");
        au->total = max_len;
    }
    if (!(au->total > au->start))
        return cli_usage_error(a, "--seconds-total %g must be after --seconds-start %g", au->total, au->start);
    if (vae && au->total - au->start > max_len * (1 + 1e-9))
        return cli_usage_error(a, "the clip asked for (%g s, from %g to %g) is longer than this model makes: %g s "
                                  "(%lld latent frames of %d samples at %d Hz)", au->total - au->start, au->start,
                               au->total, max_len, (long long)au->frames, (int)(max_len * au->rate / au->frames + 0.5),
                               au->rate);
    if (vae) {
        /* The pipeline's cut: [int(start * rate), int(total * rate)), within what the decoder makes. */
        au->cut0 = (int64_t)(au->start * au->rate);
        au->cut1 = (int64_t)(au->total * au->rate);
        const int64_t want = au->cut1 - au->cut0;
        if (want < 1)
            return cli_usage_error(a, "the clip asked for (%g s, from %g to %g) is shorter than one sample at %d Hz",
                                   au->total - au->start, au->start, au->total, au->rate);
        if (au->cut1 > au->length) au->cut1 = au->length;
        if (au->cut0 >= au->cut1)
            return cli_usage_error(a, "--seconds-start %g leaves no sound: the decoder makes %lld samples at %d Hz "
                                      "(%g s)", au->start, (long long)au->length, au->rate, (double)au->length / au->rate);
        if (au->cut1 - au->cut0 < want && !quiet)
            fprintf(stderr, "smoothcache %s: note: the clip will be %lld samples, not %lld: the decoder makes %lld "
                            "(%g s) and the clip is cut at its end, as the diffusers pipeline cuts it\n", a->command,
                    (long long)(au->cut1 - au->cut0), (long long)want, (long long)au->length,
                    (double)au->length / au->rate);
    }
    return 0;
}

int cli_audio_scalars(const cli_args *a, int n, cli_audio *au, sc_cond *cond)
{
    if (cond->n_scalars + 2 > SC_MAX_SCALARS) return cli_usage_error(a, "too many conditioning numbers");
    au->starts = malloc((size_t)n * sizeof *au->starts);
    au->totals = malloc((size_t)n * sizeof *au->totals);
    if (!au->starts || !au->totals) {
        fprintf(stderr, "smoothcache %s: out of memory\n", a->command);
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < n; i++) {
        au->starts[i] = (float)au->start;
        au->totals[i] = (float)au->total;
    }
    cond->scalars[cond->n_scalars++] = (sc_scalar){"seconds_start", au->starts};
    cond->scalars[cond->n_scalars++] = (sc_scalar){"seconds_total", au->totals};
    return 0;
}

int cli_audio_name(const char *path, int k, int n, char *out, size_t cap)
{
    if (n == 1 || ends_with(path, ".npz") || ends_with(path, ".npy"))
        return snprintf(out, cap, "%s", path) < (int)cap;
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) dot = path + strlen(path);
    int width = 1;
    for (int m = n; m >= 10; m /= 10) width++;
    return snprintf(out, cap, "%.*s-%0*d%s", (int)(dot - path), path, width, k + 1, dot) < (int)cap;
}

int cli_audio_paths_ok(const cli_args *a, const char *out, const char *out_ref, const char *spec)
{
    const char *outs[2] = {out, out_ref}, *flags[2] = {"--out", "--out-uncached"};
    for (int i = 0; i < 2; i++)
        if (outs[i] && !ends_with(outs[i], ".wav") && !ends_with(outs[i], ".npz"))
            return cli_usage_error(a, "%s: '%s': this model makes sound: write FILE.wav (one file per clip) or "
                                      "FILE.npz (every clip, float32)", flags[i], outs[i]);
    if (spec && !ends_with(spec, ".png") && !ends_with(spec, ".npy"))
        return cli_usage_error(a, "--spectrogram: '%s' must end in .png (a picture per clip) or .npy (the decibels)",
                               spec);
    const char *fmt = cli_get(a, "--wav-format");
    if (fmt && strcmp(fmt, "pcm16") && strcmp(fmt, "float32"))
        return cli_usage_error(a, "--wav-format: '%s' is not pcm16 or float32", fmt);
    return 0;
}

int cli_audio_outputs_check(const cli_args *a, const char *path, int n, int force)
{
    char name[4096];
    for (int k = 0; path && k < n; k++) {
        if (!cli_audio_name(path, k, n, name, sizeof name))
            return cli_usage_error(a, "%s: the name of clip %d is too long", path, k + 1);
        if (sc_output_check(name, force) != SC_OK) return cli_fail(a);
        if (n == 1 || ends_with(path, ".npz") || ends_with(path, ".npy")) break;
    }
    return 0;
}

int cli_audio_decode(const cli_args *a, sc_vae *vae, const cli_audio *au, int n, const float *latents, int threads,
                     float **wave)
{
    *wave = NULL;
    const size_t per = (size_t)au->channels * (size_t)au->length, kept = (size_t)(au->cut1 - au->cut0);
    float *full = malloc((size_t)n * per * sizeof *full);
    if (!full) {
        fprintf(stderr, "smoothcache %s: out of memory for %d clips of %lld samples\n", a->command, n,
                (long long)au->length);
        return CLI_EXIT_FAIL;
    }
    /* full [n, channels, length] = decode(latents [n, C, frames]) */
    if (sc_decode_audio(vae, n, au->latent_channels, au->frames, latents, full, threads) != SC_OK) {
        free(full);
        return cli_fail(a);
    }
    /* [n, channels, cut0:cut1] in place: each row moves to the front, in order. */
    for (size_t r = 0; r < (size_t)n * (size_t)au->channels; r++)
        memmove(full + r * kept, full + r * (size_t)au->length + (size_t)au->cut0, kept * sizeof *full);
    *wave = full;
    return 0;
}

/* The text of clip k: the run's settings, its own seed and its own prompt. */
static void clip_comment(char *out, size_t cap, const char *settings, uint64_t seed, int k, char *const *prompts)
{
    snprintf(out, cap, "%s seed=%llu%s%s", settings, (unsigned long long)(seed + (uint64_t)k),
             prompts ? " prompt=" : "", prompts ? prompts[k] : "");
}

int cli_audio_write(const cli_args *a, const char *path, const cli_audio *au, int n, const float *wave,
                    char *const *prompts, const char *settings, uint64_t seed, int force, int quiet)
{
    const int64_t L = au->cut1 - au->cut0;
    if (ends_with(path, ".npz")) {
        const uint64_t shape[3] = {(uint64_t)n, (uint64_t)au->channels, (uint64_t)L}, one = 1;
        const int32_t rate = au->rate;
        const sc_npz_array arrays[2] = {{"audio", "<f4", 3, shape, wave}, {"sample_rate", "<i4", 1, &one, &rate}};
        return sc_npz_write(path, 2, arrays, force) != SC_OK ? cli_fail(a) : 0;
    }
    const char *fmt = cli_get(a, "--wav-format");
    const sc_wav_format f = fmt && !strcmp(fmt, "float32") ? SC_WAV_FLOAT32 : SC_WAV_PCM16;
    char name[4096];
    int64_t clipped_all = 0, nans = 0;
    for (size_t i = 0; i < (size_t)n * (size_t)au->channels * (size_t)L; i++) nans += wave[i] != wave[i];
    if (nans && !quiet)
        fprintf(stderr, "smoothcache %s: warning: %lld samples are NaN (the sampling diverged)%s\n", a->command,
                (long long)nans, f == SC_WAV_PCM16 ? "; the 16-bit WAV holds 0 there" : "");
    for (int k = 0; k < n; k++) {
        int64_t clipped = 0;
        if (!cli_audio_name(path, k, n, name, sizeof name))
            return cli_usage_error(a, "%s: the name of clip %d is too long", path, k + 1);
        char comment[8192];
        clip_comment(comment, sizeof comment, settings, seed, k, prompts);
        if (sc_wav_write(name, wave + (size_t)k * (size_t)au->channels * (size_t)L, au->channels, L, au->rate, f,
                         prompts ? prompts[k] : NULL, comment, force, &clipped) != SC_OK)
            return cli_fail(a);
        clipped_all += clipped;
    }
    if (clipped_all && !quiet)
        fprintf(stderr, "smoothcache %s: warning: %lld samples were beyond [-1, 1] and clipped in the 16-bit WAV "
                        "(--wav-format float32 keeps them)\n", a->command, (long long)clipped_all);
    return 0;
}

int cli_audio_spectrogram(const cli_args *a, const char *path, const cli_audio *au, int n, const float *wave,
                          char *const *prompts, const char *settings, uint64_t seed, int force)
{
    const int64_t L = au->cut1 - au->cut0;
    if (ends_with(path, ".npy"))
        return sc_spectrogram_write(path, wave, n, au->channels, L, au->rate, settings, force) != SC_OK ? cli_fail(a) : 0;
    char name[4096];
    for (int k = 0; k < n; k++) {
        if (!cli_audio_name(path, k, n, name, sizeof name))
            return cli_usage_error(a, "%s: the name of clip %d is too long", path, k + 1);
        char comment[8192];
        clip_comment(comment, sizeof comment, settings, seed, k, prompts);
        if (sc_spectrogram_write(name, wave + (size_t)k * (size_t)au->channels * (size_t)L, 1, au->channels, L,
                                 au->rate, comment, force) != SC_OK)
            return cli_fail(a);
    }
    return 0;
}

void cli_audio_print_written(const char *path, int n, const char *what)
{
    char first[4096], last[4096];
    if (!cli_audio_name(path, 0, n, first, sizeof first) || !cli_audio_name(path, n - 1, n, last, sizeof last)) return;
    if (!strcmp(first, last)) fprintf(stderr, "wrote %s%s\n", first, what);
    else fprintf(stderr, "wrote %s .. %s (%d clips)%s\n", first, last, n, what);
}
