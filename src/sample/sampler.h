/* Samplers: the timestep plan of each and one update step on a batch of latents.
 *   ddim     diffusers DDIMScheduler, eta 0 (FORMATS.md 3.2), float32 like torch;
 *   iddpm    the original DiT p_sample loop, respaced, learned-range variance (FORMATS.md 3.3),
 *            float64 tables cast to float32 per step;
 *   dpmpp2m  diffusers DPMSolverMultistepScheduler, dpmsolver++, order 2, midpoint,
 *            lower_order_final, final sigma 0. */
#ifndef SC_SAMPLE_SAMPLER_H
#define SC_SAMPLE_SAMPLER_H

#include <stddef.h>

#include "sample/schedule.h"
#include "smoothcache.h"

#define SAMPLER_NCOEF 8

typedef struct {
    sc_sampler kind;
    int steps;
    int timesteps[SCHED_MAX_TRAIN];      /* model timestep of each step, in call order */
    float coef[SCHED_MAX_TRAIN][SAMPLER_NCOEF]; /* per-step float32 scalars (sampler-specific) */
    float *prev;                         /* dpmpp2m: previous x0 prediction [n] */
    size_t n;                            /* latent elements stepped (all images) */
    int needs_noise;                     /* iddpm */
    int uses_variance;                   /* iddpm with learned sigma: needs the v channels */
} sampler_plan;

/* Builds the plan for `steps` steps over latents of n elements (allocates dpmpp2m history). */
sc_status sampler_plan_make(sampler_plan *p, const sched_config *sc, sc_sampler kind, int steps,
                            size_t n, int learned_sigma);
void sampler_plan_free(sampler_plan *p);

/* One update of step k (0-based, in call order): x [n] in place, from eps [n], the variance
 * interpolation v [n] (iddpm with learned sigma, else NULL), and noise [n] (iddpm, steps that add
 * noise, else NULL). */
void sampler_step(sampler_plan *p, int k, float *x, const float *eps, const float *v, const float *noise);

/* 1 if step k adds noise (needs `noise`). */
int sampler_step_adds_noise(const sampler_plan *p, int k);

/* Per-sampler plan builders (one file each). */
sc_status ddim_plan(sampler_plan *p, const sched_config *sc, int steps);
void ddim_step(const sampler_plan *p, int k, float *x, const float *eps);
sc_status iddpm_plan(sampler_plan *p, const sched_config *sc, int steps, int learned_sigma);
void iddpm_step(const sampler_plan *p, int k, float *x, const float *eps, const float *v, const float *noise);
sc_status dpmpp2m_plan(sampler_plan *p, const sched_config *sc, int steps);
void dpmpp2m_step(sampler_plan *p, int k, float *x, const float *eps);

/* "ddim", "iddpm", "dpmpp2m". */
const char *sampler_name(sc_sampler s);

/* numpy helpers shared by the plans. */
double np_round(double x);               /* round half to even */
sc_status diffusers_timesteps(const sched_config *sc, int steps, timestep_spacing sp, int leading_plus_one,
                              int *out);

#endif
