#include "cli/report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "smoothcache_tools.h"

void report_fill(report_entry *e, const char *policy, const sc_cache_stats *st, const float *latents,
                 const sc_cache_stats *ref_stats, const float *ref_latents, size_t n)
{
    memset(e, 0, sizeof *e);
    snprintf(e->policy, sizeof e->policy, "%s", policy);
    e->stats = *st;
    e->mac_ratio = st->macs_uncached > 0 ? st->macs / st->macs_uncached : 1.0;
    e->psnr = e->ssim = e->latent_rel_l2 = e->speedup = e->accuracy = e->audio_snr = e->mel_distance = NAN;
    if (ref_stats) {
        e->has_ref = 1;
        e->ref_seconds = ref_stats->seconds;
        e->speedup = st->seconds > 0 ? ref_stats->seconds / st->seconds : NAN;
        e->latent_rel_l2 = sc_rel_l2(latents, ref_latents, n);
    }
}

void report_timing(report_entry *e, const double *ref, const double *run, int n)
{
    timing_summarise(ref, run, n, e->mac_ratio, &e->timing);
    e->stats.seconds = e->timing.seconds;
    e->ref_seconds = e->timing.ref_seconds;
    e->speedup = e->timing.speedup;
}

/* The warning for a speed-up that skipping work cannot give. */
static void print_noise(FILE *f, const report_entry *e)
{
    fprintf(f, "warning: %s: a %.2fx speed-up at MAC ratio %.3f is beyond what skipping work can give (%.2fx): "
               "the timing is noise from other work on this machine; rerun on a quiet machine or with more --repeats\n",
            e->policy, e->speedup, e->mac_ratio, e->timing.limit);
}

void report_images(report_entry *e, const uint8_t *rgb, const uint8_t *ref, int n, int side)
{
    const size_t per = (size_t)side * side * 3;
    e->psnr = sc_psnr(rgb, ref, per * (size_t)n);
    double ssim = 0;
    for (int i = 0; i < n; i++) ssim += sc_ssim(rgb + per * (size_t)i, ref + per * (size_t)i, side, side, 3);
    e->ssim = ssim / n;
}

void report_audio(report_entry *e, const float *wave, const float *ref, int n, int channels, int64_t samples,
                  int rate)
{
    const size_t per = (size_t)channels * (size_t)samples;
    double sig = 0, err = 0;
    for (size_t i = 0; i < per * (size_t)n; i++) {
        const double d = (double)wave[i] - ref[i];
        sig += (double)ref[i] * ref[i];
        err += d * d;
    }
    e->has_audio = 1;
    e->audio_snr = err != err || sig != sig ? NAN : err > 0 ? 10.0 * log10(sig / err) : INFINITY;
    const int64_t T = sc_spectrogram_frames(samples);
    float *a = malloc((size_t)SC_MEL_BANDS * (size_t)T * sizeof *a), *b = malloc((size_t)SC_MEL_BANDS * (size_t)T * sizeof *b);
    double sum = 0;
    int ok = a && b;
    for (int i = 0; i < n && ok; i++) {
        ok = sc_spectrogram(wave + (size_t)i * per, channels, samples, rate, a) == SC_OK &&
             sc_spectrogram(ref + (size_t)i * per, channels, samples, rate, b) == SC_OK;
        for (size_t j = 0; ok && j < (size_t)SC_MEL_BANDS * (size_t)T; j++) sum += fabs((double)a[j] - b[j]);
    }
    e->mel_distance = ok ? sum / ((double)n * SC_MEL_BANDS * (double)T) : NAN;
    free(a);
    free(b);
}

void report_print_line(FILE *f, const report_entry *e, int steps)
{
    const sc_cache_stats *s = &e->stats;
    fprintf(f, "%s: %d step%s in %.2f s (%.3f s/step); computed", e->policy, steps, steps == 1 ? "" : "s", s->seconds, s->seconds / steps);
    for (int c = 0; c < s->n_components; c++)
        fprintf(f, "%s %s %ld/%ld", c ? "," : "", s->components[c], s->computed[c], s->computed[c] + s->skipped[c]);
    fprintf(f, "; MACs %.3fx uncached", e->mac_ratio);
    if (e->has_ref) {
        /* A speed-up under 1 (a busy machine, a policy that cannot skip) reads as a slowdown. */
        char sp[48];
        timing_speedup_text(sp, sizeof sp, e->speedup);
        const timing_summary *t = &e->timing;
        if (t->repeats > 1)
            fprintf(f, "; %s uncached (%.2f s; median of %d paired runs, range %.2f-%.2fx)", sp, e->ref_seconds,
                    t->repeats, t->speedup_lo, t->speedup_hi);
        else
            fprintf(f, "; %s uncached (%.2f s; one run, --repeats 3 or more gives a median)", sp, e->ref_seconds);
        fprintf(f, "; latent rel-L2 %.4g", e->latent_rel_l2);
        if (!isnan(e->psnr)) fprintf(f, "; PSNR %.2f dB, SSIM %.4f", e->psnr, e->ssim);
        if (e->has_audio) fprintf(f, "; audio SNR %.2f dB, log-mel distance %.3f dB", e->audio_snr, e->mel_distance);
    }
    fputc('\n', f);
    if (e->has_ref && e->timing.impossible) print_noise(f, e);
}

#define NAME_COLS 44

/* A policy spec as the table shows it: option values that are paths lose their folders
 * (smooth:schedule=/x/y/s.json -> smooth:schedule=s.json), and what is still too long loses
 * its middle, keeping the end (from an option boundary), where a sweep's knob usually is. */
static void display_name(const char *spec, char out[NAME_COLS + 1])
{
    char buf[1024];
    size_t n = 0;
    for (const char *p = spec; *p && n < sizeof buf - 1;) {
        if (*p == '=') {
            const char *end = p + 1 + strcspn(p + 1, ","), *base = p + 1;
            for (const char *q = p + 1; q < end; q++)
                if (*q == '/') base = q + 1;
            buf[n++] = '=';
            for (const char *q = base; q < end && n < sizeof buf - 1; q++) buf[n++] = *q;
            p = end;
        } else {
            buf[n++] = *p++;
        }
    }
    buf[n] = '\0';
    if (n <= NAME_COLS) {
        memcpy(out, buf, n + 1);
        return;
    }
    const size_t head = 14;
    const char *tail = buf + n - (NAME_COLS - head - 3);
    const char *comma = strchr(tail, ',');
    if (comma && comma[1]) tail = comma + 1; /* start at a whole option, not inside one */
    memcpy(out, buf, head);
    memcpy(out + head, "...", 3);
    memcpy(out + head + 3, tail, strlen(tail) + 1);
}

/* A number column, or "-" where the quality is undefined (no images to compare). */
static void print_num(FILE *f, const char *fmt, int width, double v)
{
    if (isnan(v)) fprintf(f, " %*s", width, "-");
    else fprintf(f, fmt, v);
}

void report_print_table(FILE *f, const report_entry *e, int n, int prompted)
{
    int acc = 0, sound = 0;
    for (int i = 0; i < n; i++) acc |= !isnan(e[i].accuracy);
    for (int i = 0; i < n; i++) sound |= e[i].has_audio;
    /* sound: the SNR and log-mel distance (dB) of the clips where pictures have PSNR and SSIM */
    fprintf(f, "%-44s %9s %9s %11s %9s %8s %8s %12s %10s %9s%s\n", "policy", "seconds", "speedup", "range", "MAC ratio",
            sound ? "SNR dB" : "PSNR", sound ? "mel dB" : "SSIM", "latent relL2", "policy ms", "setup ms",
            acc ? (prompted ? " prompt acc" : "  class acc") : "");
    int noisy = 0;
    for (int i = 0; i < n; i++) {
        char name[NAME_COLS + 1], range[24] = "-";
        display_name(e[i].policy, name);
        if (e[i].timing.repeats > 1)
            snprintf(range, sizeof range, "%.2f-%.2f", e[i].timing.speedup_lo, e[i].timing.speedup_hi);
        noisy |= e[i].timing.impossible;
        fprintf(f, "%-44s %9.3f %7.2fx%s %11s %9.3f", name, e[i].stats.seconds, e[i].speedup,
                e[i].timing.impossible ? "!" : " ", range, e[i].mac_ratio);
        print_num(f, " %8.2f", 8, sound ? e[i].audio_snr : e[i].psnr);
        print_num(f, " %8.4f", 8, sound ? e[i].mel_distance : e[i].ssim);
        fprintf(f, " %12.4g %10.2f %9.2f", e[i].latent_rel_l2, 1e3 * e[i].stats.policy_seconds,
                1e3 * e[i].stats.setup_seconds);
        if (acc) fprintf(f, "  %9.1f%%", 100 * e[i].accuracy);
        fputc('\n', f);
    }
    if (n > 0 && e[0].timing.repeats > 0)
        fprintf(f, "seconds: median of %d runs; speedup: median of the paired runs' ratios (baseline and policy run "
                   "back to back), range: their lowest and highest\n",
                e[0].timing.repeats);
    for (int i = 0; noisy && i < n; i++)
        if (e[i].timing.impossible) print_noise(f, &e[i]);
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *entry_json(const report_entry *e)
{
    const sc_cache_stats *s = &e->stats;
    json_t *o = json_object();
    json_object_set_new(o, "policy", json_string(e->policy));
    json_object_set_new(o, "seconds", json_real(s->seconds));
    json_t *c = json_object(), *k = json_object();
    for (int i = 0; i < s->n_components; i++) {
        json_object_set_new(c, s->components[i], json_integer(s->computed[i]));
        json_object_set_new(k, s->components[i], json_integer(s->skipped[i]));
    }
    json_object_set_new(o, "computed", c);
    json_object_set_new(o, "skipped", k);
    json_object_set_new(o, "macs", json_real(s->macs));
    json_object_set_new(o, "macs_uncached", json_real(s->macs_uncached));
    json_object_set_new(o, "mac_ratio", json_real(e->mac_ratio));
    if (e->has_ref) {
        json_object_set_new(o, "uncached_seconds", json_real(e->ref_seconds));
        json_object_set_new(o, "speedup", num_or_null(e->speedup));
        if (e->timing.repeats > 0) {
            json_object_set_new(o, "repeats", json_integer(e->timing.repeats));
            json_object_set_new(o, "speedup_min", num_or_null(e->timing.speedup_lo));
            json_object_set_new(o, "speedup_max", num_or_null(e->timing.speedup_hi));
            json_object_set_new(o, "speedup_limit", num_or_null(e->timing.limit));
            json_object_set_new(o, "speedup_is_noise", json_boolean(e->timing.impossible));
        }
        json_object_set_new(o, "latent_rel_l2", num_or_null(e->latent_rel_l2));
        json_object_set_new(o, "psnr", num_or_null(e->psnr));
        json_object_set_new(o, "ssim", num_or_null(e->ssim));
        if (e->has_audio) {
            json_object_set_new(o, "audio_snr_db", num_or_null(e->audio_snr));
            json_object_set_new(o, "mel_distance_db", num_or_null(e->mel_distance));
        }
    }
    json_object_set_new(o, "policy_seconds", json_real(s->policy_seconds));
    json_object_set_new(o, "setup_seconds", json_real(s->setup_seconds));
    if (!isnan(e->accuracy)) json_object_set_new(o, "class_accuracy", json_real(e->accuracy));
    return o;
}

/* JSON text (and a newline) written atomically. */
static sc_status save_json(const char *path, const json_t *root, size_t flags, int force)
{
    char *text = json_dumps(root, flags);
    if (!text) return SC_ERR_NOMEM;
    const size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return SC_ERR_NOMEM;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    sc_status s = sc_write_file(path, line, len + 1, force);
    free(line);
    return s;
}

sc_status report_write(const char *path, const char *model, const char *dtype, const sc_gen_params *p,
                       const char *prompts, const report_entry *e, int n, int force)
{
    json_t *root = json_object(), *cls = json_array(), *runs = json_array();
    json_object_set_new(root, "model", json_string(model));
    json_object_set_new(root, "dtype", json_string(dtype));
    json_object_set_new(root, "sampler", json_string(sc_sampler_name(p->sampler)));
    json_object_set_new(root, "steps", json_integer(p->steps));
    json_object_set_new(root, "cfg", json_real(p->cfg));
    json_object_set_new(root, "seed", json_integer((json_int_t)p->seed));
    for (int i = 0; p->cond->classes && i < p->cond->n; i++) json_array_append_new(cls, json_integer(p->cond->classes[i]));
    if (prompts) {
        json_decref(cls);
        json_object_set_new(root, "prompts", json_string(prompts));
    } else {
        json_object_set_new(root, "classes", cls);
    }
    for (int i = 0; i < n; i++) json_array_append_new(runs, entry_json(&e[i]));
    json_object_set_new(root, "runs", runs);
    sc_status s = save_json(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(8), force);
    json_decref(root);
    return s;
}

sc_status report_write_csv(const char *path, const report_entry *e, int n, int force)
{
    size_t cap = 256 + (size_t)n * 512, len = 0;
    char *buf = malloc(cap);
    if (!buf) return SC_ERR_NOMEM;
    int sound = 0; /* clips: their SNR and log-mel distance too (the JSON's audio_snr_db, mel_distance_db) */
    for (int i = 0; i < n; i++) sound |= e[i].has_audio;
    len += (size_t)snprintf(buf, cap, "policy,seconds,policy_seconds,setup_seconds,speedup,mac_ratio,psnr,ssim,latent_rel_l2,%s",
                            sound ? "audio_snr_db,mel_distance_db," : "");
    for (int c = 0; n > 0 && c < e[0].stats.n_components; c++)
        len += (size_t)snprintf(buf + len, cap - len, "computed_%s,skipped_%s,", e[0].stats.components[c],
                                e[0].stats.components[c]);
    len += (size_t)snprintf(buf + len, cap - len, "class_accuracy,repeats,speedup_min,speedup_max,speedup_is_noise\n");
    for (int i = 0; i < n && len < cap; i++) {
        const sc_cache_stats *s = &e[i].stats;
        /* Policies contain commas: quote the field (CSV rules: double any quote). */
        len += (size_t)snprintf(buf + len, cap - len, "\"");
        for (const char *p = e[i].policy; *p && len + 2 < cap; p++) {
            if (*p == '"') buf[len++] = '"';
            buf[len++] = *p;
        }
        len += (size_t)snprintf(buf + len, cap - len, "\",%.6f,%.6f,%.6f,%.4f,%.6f,%.4f,%.6f,%.6g,", s->seconds,
                                s->policy_seconds, s->setup_seconds, e[i].speedup, e[i].mac_ratio, e[i].psnr, e[i].ssim,
                                e[i].latent_rel_l2);
        if (sound && len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%.4f,%.6f,", e[i].has_audio ? e[i].audio_snr : NAN,
                                    e[i].has_audio ? e[i].mel_distance : NAN);
        for (int c = 0; c < s->n_components && len < cap; c++)
            len += (size_t)snprintf(buf + len, cap - len, "%ld,%ld,", s->computed[c], s->skipped[c]);
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%.4f,%d,%.4f,%.4f,%d\n", e[i].accuracy, e[i].timing.repeats,
                                    e[i].timing.repeats ? e[i].timing.speedup_lo : NAN,
                                    e[i].timing.repeats ? e[i].timing.speedup_hi : NAN, e[i].timing.impossible);
    }
    sc_status st = len < cap ? sc_write_file(path, buf, len, force) : SC_ERR_NOMEM;
    free(buf);
    return st;
}

/* The line a sweep point belongs to: the policy name, and its predictor when it has one
 * (smooth and smooth:...,predict=taylor1 are different methods). */
static void series_key(const char *spec, char out[64])
{
    const char *pred = strstr(spec, "predict=");
    const int name = (int)strcspn(spec, ":");
    if (pred && pred > spec + name && (pred[-1] == ':' || pred[-1] == ','))
        snprintf(out, 64, "%.*s+%.*s", name, spec, (int)strcspn(pred + 8, ","), pred + 8);
    else
        snprintf(out, 64, "%.*s", name, spec);
}

/* Option `i` ("k=v") of a spec's option list, as [*k, *k + *len); 0 when there is none. */
static int spec_option(const char *spec, int i, const char **k, size_t *len)
{
    const char *p = strchr(spec, ':');
    if (!p) return 0;
    p++;
    for (int j = 0; *p; j++) {
        const size_t l = strcspn(p, ",");
        if (j == i) {
            *k = p;
            *len = l;
            return l > 0;
        }
        p += l + (p[l] == ',');
    }
    return 0;
}

/* Does `spec` hold exactly the option opt[0..len)? */
static int has_option(const char *spec, const char *opt, size_t len)
{
    const char *k;
    size_t l;
    for (int i = 0; spec_option(spec, i, &k, &l); i++)
        if (l == len && !memcmp(k, opt, len)) return 1;
    return 0;
}

/* A point's label: the options that tell it from the other points of its series (a sweep's
 * knob: "n=3", "alpha=0.1"), or all its options when it is alone; paths lose their folders. */
static void point_label(const report_entry *e, int n, int i, char *out, size_t cap)
{
    char key[64], other[64];
    series_key(e[i].policy, key);
    int peers = 0;
    for (int j = 0; j < n; j++) {
        series_key(e[j].policy, other);
        peers += j != i && !strcmp(key, other);
    }
    size_t used = 0;
    out[0] = '\0';
    const char *k;
    size_t len;
    for (int o = 0; spec_option(e[i].policy, o, &k, &len); o++) {
        int differs = !peers;
        for (int j = 0; j < n && !differs; j++) {
            series_key(e[j].policy, other);
            differs = j != i && !strcmp(key, other) && !has_option(e[j].policy, k, len);
        }
        if (!differs) continue;
        const char *eq = memchr(k, '=', len), *v = k;
        for (const char *q = eq ? eq : k; q < k + len; q++)
            if (*q == '/') v = q + 1;
        const int head = eq && v > eq ? (int)(eq + 1 - k) : 0;
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%.*s%.*s", used ? "," : "", head, k,
                                 (int)(k + len - (head ? v : k)), head ? v : k);
        if (used >= cap) break;
    }
}

sc_status report_plot(const char *path, const report_entry *e, int n, int by_macs, int force)
{
    int images = 1;
    for (int i = 0; i < n; i++) images &= isfinite(e[i].psnr) || isinf(e[i].psnr);
    sc_figure p = {.title = images ? "Quality against speed (PSNR vs uncached)" : "Quality against speed (latent error vs uncached)",
                   .x_label = by_macs ? "MAC speed-up (uncached MACs / executed; uncached = 1)" : "wall-clock speed-up (uncached = 1)",
                   .y_label = images ? "PSNR, dB" : "relative L2 of the final latents"};
    static char names[SC_FIGURE_MAX_SERIES][64];
    double *x = malloc(sizeof(double) * (size_t)n * 2), *y = x ? x + n : NULL;
    char(*text)[48] = malloc(sizeof *text * (size_t)n);
    const char **labels = malloc(sizeof *labels * (size_t)n);
    if (!x || !text || !labels) {
        free(x);
        free(text);
        free(labels);
        return SC_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) point_label(e, n, i, text[i], sizeof text[i]);
    int used = 0;
    /* Group by policy name; within a series, points in order of speed-up. The uncached baseline
     * is the reference (speed-up 1, PSNR infinite): with pictures it is no point of the plot. */
    for (int i = 0; i < n; i++) {
        char name[64];
        if (images && !strcmp(e[i].policy, "none")) continue;
        series_key(e[i].policy, name);
        int k;
        for (k = 0; k < p.n_series; k++)
            if (!strcmp(names[k], name)) break;
        if (k == p.n_series) {
            if (p.n_series == SC_FIGURE_MAX_SERIES) continue;
            snprintf(names[k], sizeof names[k], "%s", name);
            p.series[k].name = names[k];
            p.series[k].markers = 1;
            p.n_series++;
        }
    }
    for (int k = 0; k < p.n_series; k++) {
        p.series[k].x = x + used;
        p.series[k].y = y + used;
        p.series[k].labels = labels + used;
        for (int i = 0; i < n; i++) {
            char key[64];
            if (images && !strcmp(e[i].policy, "none")) continue;
            series_key(e[i].policy, key);
            if (strcmp(key, names[k])) continue;
            double xv = by_macs ? 1.0 / e[i].mac_ratio : e[i].speedup;
            double yv = images ? (isinf(e[i].psnr) ? NAN : e[i].psnr) : e[i].latent_rel_l2;
            int j = p.series[k].n++;
            while (j > 0 && x[used + j - 1] > xv) {
                x[used + j] = x[used + j - 1];
                y[used + j] = y[used + j - 1];
                labels[used + j] = labels[used + j - 1];
                j--;
            }
            x[used + j] = xv;
            y[used + j] = yv;
            labels[used + j] = text[i];
        }
        used += p.series[k].n;
    }
    sc_status s = sc_figure_write_png(&p, path, force);
    free(x);
    free(text);
    free(labels);
    return s;
}
