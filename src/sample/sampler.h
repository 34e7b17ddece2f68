/* Samplers: the plan of each (the model's time input per step, the input scaling, the per-step
 * scalars) and one update step on a batch of latents, for any latent shape (the update is
 * element-wise over n floats). Model-independent: the pipeline feeds each step the model's
 * guided prediction.
 *
 * Over a discrete (beta) schedule:
 *   ddim       diffusers DDIMScheduler, eta 0, float32 like torch;
 *   iddpm      the original DiT p_sample loop, respaced, learned-range variance, float64 tables
 *              cast to float32 per step;
 *   dpmpp2m    diffusers DPMSolverMultistepScheduler, dpmsolver++, order 2, midpoint,
 *              lower_order_final, final sigma 0.
 * Continuous sigma (k-diffusion, on Karras et al.'s sigmas with rho 7; a discrete model is
 * evaluated at sigma as k-diffusion's DiscreteEpsDDPMDenoiser does: input / sqrt(sigma^2 + 1),
 * a fractional timestep interpolated in log sigma, denoised = x - sigma eps):
 *   k-euler    sample_euler (no churn);
 *   k-dpmpp2m  sample_dpmpp_2m.
 * Flow matching (a model that predicts the velocity noise - x0):
 *   flow-euler diffusers FlowMatchEulerDiscreteScheduler (static shift), x += (s_next - s) v.
 * A sigma schedule (a v-prediction model trained with k-diffusion's VDenoiser: Stable Audio; the
 * model's time input is atan(sigma) 2 / pi, the plan's integer timesteps are 1000 times it,
 * rounded, as labels):
 *   k-dpmpp3m-sde       sample_dpmpp_3m_sde on polyexponential sigmas, the caller's noise per step
 *                       (stable-audio-tools);
 *   cosine-dpmpp2m-sde  diffusers CosineDPMSolverMultistepScheduler: DPM-Solver++(2M) SDE on its
 *                       exponential sigmas, EDM preconditioning, the caller's noise per step (the
 *                       diffusers Stable Audio pipeline). */
#ifndef SC_SAMPLE_SAMPLER_H
#define SC_SAMPLE_SAMPLER_H

#include <stddef.h>

#include "sample/schedule.h"
#include "smoothcache.h"

#define SAMPLER_NCOEF 12

/* What the model's output (after guidance) predicts. */
typedef enum { PREDICTS_EPSILON, PREDICTS_V, PREDICTS_FLOW } sample_prediction;

typedef struct {
    sc_sampler kind;
    int steps;
    int timesteps[SCHED_MAX_TRAIN];      /* model timestep of each step, rounded, in call order */
    float model_t[SCHED_MAX_TRAIN];      /* the model's time input (fractional for sigma samplers) */
    float c_in[SCHED_MAX_TRAIN];         /* the model's input is c_in x (when scales_input) */
    int scales_input;
    int own_time;                        /* the plan set model_t itself (else the timesteps) */
    float init_sigma;                    /* the initial latent is unit noise times this */
    float coef[SCHED_MAX_TRAIN][SAMPLER_NCOEF]; /* per-step float32 scalars (sampler-specific) */
    float *prev;                         /* dpmpp2m, k-dpmpp2m, the SDE samplers: the previous x0 estimate [n] */
    float *prev2;                        /* k-dpmpp3m-sde: the one before [n] */
    size_t n;                            /* latent elements stepped (all images) */
    int needs_noise;                     /* iddpm, k-dpmpp3m-sde, cosine-dpmpp2m-sde */
    int uses_variance;                   /* iddpm with learned sigma: needs the v channels */
} sampler_plan;

/* Builds the plan for `steps` steps over latents of n elements for a model that predicts `pred`
 * (allocates the multistep history). SC_ERR_ARG when the sampler and the schedule or the
 * prediction do not go together. */
sc_status sampler_plan_make(sampler_plan *p, const sched_config *sc, sc_sampler kind, int steps, size_t n,
                            int learned_sigma, sample_prediction pred);
void sampler_plan_free(sampler_plan *p);

/* x [n] *= init_sigma (the unit noise the loop starts from). */
void sampler_init_latents(const sampler_plan *p, float *x);
/* in [n] = the model's input at step k from the latents x [n]. */
void sampler_model_input(const sampler_plan *p, int k, const float *x, float *in);

/* One update of step k (0-based, in call order): x [n] in place, from the guided prediction
 * [n], the variance interpolation v [n] (iddpm with learned sigma, else NULL), and noise [n]
 * (iddpm, steps that add noise, else NULL). */
void sampler_step(sampler_plan *p, int k, float *x, const float *pred, const float *v, const float *noise);

/* 1 if step k adds noise (needs `noise`). */
int sampler_step_adds_noise(const sampler_plan *p, int k);

/* "ddim", "iddpm", "dpmpp2m", "k-euler", "k-dpmpp2m", "flow-euler", "k-dpmpp3m-sde",
 * "cosine-dpmpp2m-sde". */
const char *sampler_name(sc_sampler s);

/* Per-sampler plan builders and steps (one file each). */
sc_status ddim_plan(sampler_plan *p, const sched_config *sc, int steps);
void ddim_step(const sampler_plan *p, int k, float *x, const float *eps);
sc_status iddpm_plan(sampler_plan *p, const sched_config *sc, int steps, int learned_sigma);
void iddpm_step(const sampler_plan *p, int k, float *x, const float *eps, const float *v, const float *noise);
sc_status dpmpp2m_plan(sampler_plan *p, const sched_config *sc, int steps);
void dpmpp2m_step(sampler_plan *p, int k, float *x, const float *eps);
sc_status keuler_plan(sampler_plan *p, const sched_config *sc, int steps);
void keuler_step(const sampler_plan *p, int k, float *x, const float *eps);
sc_status kdpmpp2m_plan(sampler_plan *p, const sched_config *sc, int steps);
void kdpmpp2m_step(sampler_plan *p, int k, float *x, const float *eps);
sc_status flow_euler_plan(sampler_plan *p, const sched_config *sc, int steps);
void flow_euler_step(const sampler_plan *p, int k, float *x, const float *v);
sc_status kdpmpp3m_sde_plan(sampler_plan *p, const sched_config *sc, int steps);
void kdpmpp3m_sde_step(sampler_plan *p, int k, float *x, const float *v, const float *noise);
sc_status cosine_dpmpp2m_sde_plan(sampler_plan *p, const sched_config *sc, int steps);
void cosine_dpmpp2m_sde_step(sampler_plan *p, int k, float *x, const float *v, const float *noise);

/* k-diffusion over a discrete schedule (ksigma.c): sigmas [steps + 1] (Karras, rho 7, ending in
 * 0) between the schedule's smallest and largest sigma, and for each of the first `steps` the
 * model's fractional timestep, its input scale 1/sqrt(sigma^2 + 1), and the rounded timestep. */
sc_status ksigma_plan(sampler_plan *p, const sched_config *sc, int steps, float *sigmas);

/* numpy helpers shared by the plans. */
double np_round(double x);               /* round half to even */
sc_status diffusers_timesteps(const sched_config *sc, int steps, timestep_spacing sp, int leading_plus_one,
                              int *out);

#endif
