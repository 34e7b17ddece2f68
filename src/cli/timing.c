#include "cli/timing.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double timing_median(const double *v, int n)
{
    double s[TIMING_MAX_REPEATS];
    if (n > TIMING_MAX_REPEATS) n = TIMING_MAX_REPEATS;
    memcpy(s, v, (size_t)n * sizeof *s);
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            const double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

void timing_summarise(const double *ref, const double *run, int n, double mac_ratio, timing_summary *out)
{
    double ratio[TIMING_MAX_REPEATS];
    if (n > TIMING_MAX_REPEATS) n = TIMING_MAX_REPEATS;
    memset(out, 0, sizeof *out);
    out->repeats = n;
    out->speedup_lo = INFINITY;
    out->speedup_hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        ratio[i] = run[i] > 0 ? ref[i] / run[i] : NAN;
        out->speedup_lo = fmin(out->speedup_lo, ratio[i]);
        out->speedup_hi = fmax(out->speedup_hi, ratio[i]);
    }
    out->seconds = timing_median(run, n);
    out->ref_seconds = timing_median(ref, n);
    out->speedup = timing_median(ratio, n);
    out->limit = mac_ratio > 0 && mac_ratio <= 1 ? 1.0 / mac_ratio : NAN;
    out->impossible = isfinite(out->limit) && out->speedup > TIMING_NOISE_MARGIN * out->limit;
}

void timing_speedup_text(char *buf, unsigned long cap, double speedup)
{
    if (!isfinite(speedup)) snprintf(buf, cap, "of unknown speed against");
    else if (speedup >= 1.005) snprintf(buf, cap, "%.2fx faster than", speedup);
    else if (speedup > 1 / 1.005) snprintf(buf, cap, "as fast as");
    else snprintf(buf, cap, "%.2fx slower than", 1.0 / speedup);
}
