/* Port of tools/audiodemo/check.py (its docstring is the specification, steps 1-8); every
 * threshold, order and tie rule is the Python one. */
#include "metrics/audiodemo_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AD_PI 3.14159265358979323846
#define AD_SHORT_BELOW 0.75

static int pow2_at_least(double v)
{
    int n = 1;
    while (n < v) n *= 2;
    return n;
}

/* In-place complex DFT of re, im [n] (n a power of two): X[k] = sum x[t] e^(-2 pi i k t / n). */
static void fft(double *re, double *im, int n)
{
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        const int half = len / 2;
        for (int k = 0; k < half; k++) {
            const double a = -2.0 * AD_PI * k / len, wr = cos(a), wi = sin(a);
            for (int i = k; i < n; i += len) {
                const double xr = re[i + half] * wr - im[i + half] * wi, xi = re[i + half] * wi + im[i + half] * wr;
                re[i + half] = re[i] - xr;
                im[i + half] = im[i] - xi;
                re[i] += xr;
                im[i] += xi;
            }
        }
    }
}

/* The power of the Hann-windowed frame x[start, start + n): out [n/2 + 1]; work [2n]. */
static void frame_power(const double *x, int64_t start, int n, double *work, double *out)
{
    double *re = work, *im = work + n;
    for (int t = 0; t < n; t++) {
        re[t] = x[start + t] * (0.5 - 0.5 * cos(2.0 * AD_PI * t / n));
        im[t] = 0;
    }
    fft(re, im, n);
    for (int k = 0; k <= n / 2; k++) out[k] = re[k] * re[k] + im[k] * im[k];
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v [m] (sorted in place): the middle one, or the mean of the middle two. */
static double median(double *v, int m)
{
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

/* Sorts the bins cand [n] (ascending) by P descending, keeping ascending bins on ties. */
static void sort_by_power(int *cand, int n, const double *P)
{
    for (int i = 1; i < n; i++) {
        const int k = cand[i];
        int j = i;
        for (; j > 0 && P[cand[j - 1]] < P[k]; j--) cand[j] = cand[j - 1];
        cand[j] = k;
    }
}

/* Steps 5-8 on the mono clip x [samples] (at least N) with the envelope's swing (step 3): sets
 * h->kind and its fields. */
static int read_spectral(const double *x, int64_t samples, int sr, int N, double swing, audiodemo_heard *h)
{
    const int M = N / 4, bins = N / 2 + 1, sbins = M / 2 + 1;
    const int64_t frames = (samples - N) / (N / 4) + 1, sframes = (samples - M) / (M / 2) + 1;
    double *P = calloc((size_t)bins, sizeof *P), *Q = malloc((size_t)bins * sizeof *Q);
    double *work = malloc((size_t)2 * N * sizeof *work), *S = malloc((size_t)sframes * sbins * sizeof *S);
    double *E = malloc((size_t)sframes * sizeof *E), *pk = malloc((size_t)sframes * sizeof *pk);
    int *cand = malloc((size_t)bins * sizeof *cand), *notes = malloc((size_t)bins * sizeof *notes);
    double *kept_f = malloc((size_t)bins * sizeof *kept_f);
    int rc = 0;
    if (!P || !Q || !work || !S || !E || !pk || !cand || !notes || !kept_f) {
        rc = -2;
        goto done;
    }
    /* 5. the mean power spectrum P [N/2 + 1] over frames at hop N/4 */
    for (int64_t j = 0; j < frames; j++) {
        frame_power(x, j * (N / 4), N, work, Q);
        for (int k = 0; k < bins; k++) P[k] += Q[k];
    }
    for (int k = 0; k < bins; k++) P[k] /= (double)frames;
    const int klo = (int)ceil(100.0 * N / sr), khi = (int)floor(3500.0 * N / sr);
    double pmax = P[klo];
    for (int k = klo; k <= khi; k++) pmax = P[k] > pmax ? P[k] : pmax;
    /* 6. noise: spectral flatness over the band */
    double lsum = 0, sum = 0;
    for (int k = klo; k <= khi; k++) {
        const double b = P[k] + 1e-10 * pmax;
        lsum += log(b);
        sum += b;
    }
    const int nb = khi - klo + 1;
    if (exp(lsum / nb) / (sum / nb) > 0.25) {
        h->kind = AD_NOISE;
        goto done;
    }
    /* 7. sweep: the peak bin of each loud frame of M samples, S [sframes][M/2 + 1] */
    double emax = 0;
    for (int64_t j = 0; j < sframes; j++) {
        double *Sj = S + (size_t)j * sbins;
        frame_power(x, j * (M / 2), M, work, Sj);
        E[j] = 0;
        for (int k = 0; k < sbins; k++) E[j] += Sj[k];
        emax = E[j] > emax ? E[j] : emax;
    }
    const int slo = (int)ceil(100.0 * M / sr), shi = (int)floor(3500.0 * M / sr);
    int m = 0;
    for (int64_t j = 0; j < sframes; j++) {
        if (!(E[j] >= 0.1 * emax)) continue;
        const double *Sj = S + (size_t)j * sbins;
        int best = slo;
        for (int k = slo + 1; k <= shi; k++)
            if (Sj[k] > Sj[best]) best = k;
        pk[m++] = best;
    }
    if (m >= 6) {
        const int third = m / 3;
        const double a = median(pk, third), b = median(pk + (m - third), third);
        if (b > 2 * a || a > 2 * b) {
            h->kind = AD_SWEEP;
            h->direction = b > 2 * a ? 0 : 1;
            goto done;
        }
    }
    /* 8. tonal: peaks of P, harmonics of louder peaks dropped */
    int nc = 0;
    const double floor_p = pow(10.0, -1.5) * pmax;
    for (int k = klo; k <= (int)floor(3000.0 * N / sr); k++)
        if (P[k] > P[k - 1] && P[k] >= P[k + 1] && P[k] >= floor_p) cand[nc++] = k;
    sort_by_power(cand, nc, P);
    int nk = 0;
    for (int c = 0; c < nc; c++) {
        const int k = cand[c];
        const double la = log(P[k - 1]), lb = log(P[k]), lc = log(P[k + 1]);
        const double f = (k + (la - lc) / (2.0 * (la - 2.0 * lb + lc))) * sr / N;
        int harmonic = 0;
        for (int g = 0; g < nk && !harmonic; g++)
            for (int hh = 1; hh <= 8 && !harmonic; hh++) harmonic = fabs(f / (hh * kept_f[g]) - 1.0) < 0.03;
        if (harmonic) continue;
        kept_f[nk] = f;
        nk++;
    }
    for (int i = 0; i < nk; i++) {
        const double mi = 69.0 + 12.0 * log2(kept_f[i] / 440.0);
        if (fabs(mi - nearbyint(mi)) > 0.4) goto done;
        notes[i] = (int)nearbyint(mi);
    }
    if (nk == 1) {
        h->kind = AD_TONE;
        h->midi = notes[0];
        h->timbre = swing > 0.3;
    } else if (nk == 3) {
        int r = notes[0], t = notes[1], v = notes[2], s;
        if (r > t) s = r, r = t, t = s;
        if (t > v) s = t, t = v, v = s;
        if (r > t) s = r, r = t, t = s;
        if (v - r == 7 && (t - r == 3 || t - r == 4)) {
            h->kind = AD_CHORD;
            h->root = r;
            h->quality = t - r == 4 ? 0 : 1;
        }
    }
done:
    free(P);
    free(Q);
    free(work);
    free(S);
    free(E);
    free(pk);
    free(cand);
    free(notes);
    free(kept_f);
    return rc;
}

int audiodemo_read(const float *wave, int channels, int64_t samples, int sample_rate, audiodemo_heard *h)
{
    *h = (audiodemo_heard){.kind = -1, .midi = -1, .timbre = -1, .root = -1, .quality = -1, .direction = -1,
                           .rate = -1, .seconds = -1.0};
    const int sr = sample_rate;
    /* the band reaches 3.5 kHz; the frames stay below a million samples */
    if (!wave || channels < 1 || sr < 8000 || sr > 1000000) return 0;
    const int H = (int)nearbyint(0.016 * sr), F = 2 * H, N = pow2_at_least(0.256 * sr);
    if (samples < N) return 0;
    /* 1. mono x [samples] */
    double *x = malloc((size_t)samples * sizeof *x);
    const int64_t T = (samples - F) / H + 1;
    double *e = malloc((size_t)T * sizeof *e);
    if (!x || !e) {
        free(x);
        free(e);
        return -2;
    }
    for (int64_t i = 0; i < samples; i++) {
        double acc = 0;
        for (int c = 0; c < channels; c++) acc += wave[(size_t)c * (size_t)samples + (size_t)i];
        x[i] = acc / channels;
    }
    /* 2. envelope e [T] */
    double emax = 0;
    for (int64_t t = 0; t < T; t++) {
        double acc = 0;
        for (int i = 0; i < F; i++) acc += x[t * H + i] * x[t * H + i];
        e[t] = sqrt(acc / F);
        emax = e[t] > emax ? e[t] : emax;
    }
    int rc = 0;
    if (emax < 1e-3) goto done;
    /* 3. bursts and length */
    int64_t bursts = 0, first = -1, last = -1, t0 = -1, t1 = -1;
    int on = 0;
    for (int64_t t = 0; t < T; t++) {
        if (!on && e[t] > 0.3 * emax) {
            on = 1;
            if (!bursts++) first = t;
            last = t;
        } else if (on && e[t] < 0.1 * emax) {
            on = 0;
        }
        if (e[t] > 0.1 * emax) {
            if (t0 < 0) t0 = t;
            t1 = t;
        }
    }
    h->seconds = (double)((t1 - t0) * H + F) / sr;
    /* the swing of the inner frames t0 + 3 .. t1 - 3 */
    double swing = 0, lo = INFINITY, hi = 0;
    for (int64_t t = t0 + 3; t <= t1 - 3; t++) {
        lo = e[t] < lo ? e[t] : lo;
        hi = e[t] > hi ? e[t] : hi;
    }
    if (t1 - t0 - 5 >= 3 && hi > 0) swing = 1.0 - lo / hi;
    /* 4. rhythm */
    if (bursts >= 3) {
        const double period = (double)((last - first) * H) / sr / (double)(bursts - 1);
        h->kind = AD_RHYTHM;
        h->rate = period < 0.26 ? 1 : 0;
        goto done;
    }
    if (bursts == 2) goto done;
    rc = read_spectral(x, samples, sr, N, swing, h);
done:
    free(x);
    free(e);
    return rc;
}

/* caption words, lower-cased (ASCII), split on single spaces */
typedef struct {
    char *buf;
    char **w;
    int n;
} words;

static int words_split(const char *s, words *ws)
{
    const size_t len = strlen(s);
    int n = 1;
    for (size_t i = 0; i < len; i++) n += s[i] == ' ';
    ws->buf = malloc(len + 1);
    ws->w = malloc((size_t)n * sizeof *ws->w);
    if (!ws->buf || !ws->w) {
        free(ws->buf);
        free(ws->w);
        return -2;
    }
    ws->n = 0;
    ws->w[ws->n++] = ws->buf;
    for (size_t i = 0; i <= len; i++) {
        const char c = s[i];
        ws->buf[i] = c == ' ' ? '\0' : (c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c);
        if (c == ' ') ws->w[ws->n++] = ws->buf + i + 1;
    }
    return 0;
}

static int index_of(const char *word, const char *const *names, int count)
{
    for (int k = 0; k < count; k++)
        if (!strcmp(word, names[k])) return k;
    return -1;
}

/* The position of the first word (in caption order) found in names, that name's index in
 * *which; -1 when none. */
static int first_of(const words *ws, const char *const *names, int count, int *which)
{
    for (int i = 0; i < ws->n; i++)
        if ((*which = index_of(ws->w[i], names, count)) >= 0) return i;
    return -1;
}

static int has_word(const words *ws, const char *name)
{
    int k;
    return first_of(ws, &name, 1, &k) >= 0;
}

static const char *const k_notes[] = {"c4", "e4", "g4", "a4", "c5", "e5", "g5", "a5"};
static const int k_note_midi[] = {60, 64, 67, 69, 72, 76, 79, 81};
static const char *const k_roots[] = {"c", "d", "e", "f", "g", "a"};
static const int k_root_midi[] = {60, 62, 64, 65, 67, 69};
static const char *const k_timbres[] = {"steady", "tremolo"};
static const char *const k_qualities[] = {"major", "minor"};
static const char *const k_directions[] = {"rising", "falling"};
static const char *const k_rates[] = {"slow", "fast"};
static const char *const k_lengths[] = {"short", "long"};

int audiodemo_hears(const float *wave, int channels, int64_t samples, int sample_rate, const char *caption)
{
    words ws;
    if (!caption) return -1;
    if (words_split(caption, &ws)) return -2;
    static const char *const kinds[] = {"chord", "tone", "noise", "sweep", "rhythm", "clicks"};
    int kind = -1;
    for (int k = 0; k < 6 && kind < 0; k++)
        if (has_word(&ws, kinds[k])) kind = k;
    /* what must be heard: -1 where anything goes */
    audiodemo_heard want = {.kind = -1, .midi = -1, .timbre = -1, .root = -1, .quality = -1, .direction = -1,
                            .rate = -1};
    int length = -1, a, b, rc = -1;
    if (first_of(&ws, k_lengths, 2, &a) >= 0) length = a;
    if (kind == 0) {
        const int i = first_of(&ws, k_qualities, 2, &a);
        if (i < 1 || (b = index_of(ws.w[i - 1], k_roots, 6)) < 0) goto done;
        want = (audiodemo_heard){.kind = AD_CHORD, .root = k_root_midi[b], .quality = a};
    } else if (kind == 1) {
        if (first_of(&ws, k_timbres, 2, &a) < 0 || first_of(&ws, k_notes, 8, &b) < 0) goto done;
        want = (audiodemo_heard){.kind = AD_TONE, .midi = k_note_midi[b], .timbre = a};
    } else if (kind == 2) {
        want.kind = AD_NOISE;
    } else if (kind == 3) {
        if (first_of(&ws, k_directions, 2, &a) < 0) goto done;
        want.kind = AD_SWEEP;
        want.direction = a;
    } else if (kind >= 4) {
        if (first_of(&ws, k_rates, 2, &a) < 0) goto done;
        want.kind = AD_RHYTHM;
        want.rate = a;
    } else {
        goto done;
    }
    audiodemo_heard got;
    if (audiodemo_read(wave, channels, samples, sample_rate, &got)) {
        rc = -2;
        goto done;
    }
    rc = got.kind == want.kind;
    if (want.kind == AD_TONE) rc = rc && got.midi == want.midi && got.timbre == want.timbre;
    if (want.kind == AD_CHORD) rc = rc && got.root == want.root && got.quality == want.quality;
    if (want.kind == AD_SWEEP) rc = rc && got.direction == want.direction;
    if (want.kind == AD_RHYTHM) rc = rc && got.rate == want.rate;
    if (rc && length >= 0 && (want.kind == AD_TONE || want.kind == AD_NOISE))
        rc = (got.seconds < AD_SHORT_BELOW) == (length == 0);
done:
    free(ws.buf);
    free(ws.w);
    return rc;
}
