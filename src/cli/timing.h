/* What may be said from timed runs: a baseline and a compared run repeated in pairs (baseline,
 * run, baseline, run...), each pair measured close together so that a machine that slows down
 * slows both. The speed-up is the median of the pairs' ratios, with their range; a speed-up
 * beyond what skipping work can give (1 / MAC ratio, plus 10%) is noise, and is flagged. */
#ifndef SC_CLI_TIMING_H
#define SC_CLI_TIMING_H

#define TIMING_MAX_REPEATS 100
/* How far above 1 / MAC ratio a measured speed-up may go before it is called noise. */
#define TIMING_NOISE_MARGIN 1.10

typedef struct {
    int repeats;
    double seconds, ref_seconds;  /* medians of the run's and of the baseline's times */
    double speedup;               /* median of ref[i] / run[i] */
    double speedup_lo, speedup_hi;
    double limit;                 /* 1 / mac_ratio: the most that skipping work can give */
    int impossible;               /* speedup > TIMING_NOISE_MARGIN * limit */
} timing_summary;

/* The median of v[0..n) (n >= 1; v is not modified). */
double timing_median(const double *v, int n);
/* From n paired times (ref[i] the baseline's, run[i] the compared run's) and the run's MAC ratio. */
void timing_summarise(const double *ref, const double *run, int n, double mac_ratio, timing_summary *out);
/* "1.52x faster than" / "1.31x slower than" / "as fast as" into buf (then the baseline's name). */
void timing_speedup_text(char *buf, unsigned long cap, double speedup);

#endif
