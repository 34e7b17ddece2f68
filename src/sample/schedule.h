/* Noise schedules, what a pipeline's scheduler configuration describes:
 *   discrete: a beta table over num_train timesteps and the cumulative products of (1 - beta), in
 *     the two numeric flavours the references use (docs/FORMATS.md): float64 (original DiT) and
 *     float32 emulating torch exactly (diffusers); continuous-sigma samplers run on it too, with
 *     sigma = sqrt((1 - abar) / abar) (sample/ksigma.c);
 *   flow: rectified flow / flow matching, x_s = (1 - s) x0 + s noise for s in [0, 1], as diffusers'
 *     FlowMatchEulerDiscreteScheduler with a static shift;
 *   sigma: continuous noise levels x_sigma = x0 + sigma noise between sigma_min and sigma_max, for a
 *     v-prediction model trained with k-diffusion's VDenoiser (Stable Audio): the polyexponential
 *     (rho 1: log-linear) sigmas of stable-audio-tools and of diffusers'
 *     CosineDPMSolverMultistepScheduler ("exponential"). */
#ifndef SC_SAMPLE_SCHEDULE_H
#define SC_SAMPLE_SCHEDULE_H

#include <jansson.h>

#include "smoothcache.h"

#define SCHED_MAX_TRAIN 1000

typedef enum { BETA_LINEAR, BETA_SCALED_LINEAR, BETA_SQUAREDCOS } beta_schedule;
typedef enum { SPACING_LEADING, SPACING_TRAILING, SPACING_LINSPACE } timestep_spacing;

typedef enum { SCHED_DISCRETE, SCHED_FLOW, SCHED_SIGMA } sched_kind;

typedef struct {
    sched_kind kind;
    int num_train;            /* training timesteps (1000) */
    beta_schedule beta;
    double beta_start, beta_end;
    timestep_spacing spacing;
    int spacing_given;        /* the file set timestep_spacing (else each sampler's default) */
    int steps_offset;
    int set_alpha_to_one;     /* DDIM: alpha_prev of the last step is 1 (else alphas_cumprod[0]) */
    int from_file;            /* 1 when read from a scheduler_config.json */
    double shift;             /* flow: sigma -> shift s / (1 + (shift - 1) s) (1 = none) */
    double clip_sample;       /* DDIM: the predicted x0 clamped to [-it, it] (clip_sample_range); 0 = off */
    double sigma_min, sigma_max, sigma_data; /* sigma: the range and the data's standard deviation */
    double rho;               /* sigma: the polyexponential schedule's exponent (1: log-linear) */
    int solver_order;         /* sigma, CosineDPMSolverMultistepScheduler: solver_order (2) */
    int solver_heun;          /* its solver_type is heun (else midpoint) */
    int final_sigma_min;      /* its final_sigmas_type is sigma_min (else zero) */
    int sampler;              /* the sampler the file's _class_name names (an sc_sampler: DDIMScheduler,
                               * DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler,
                               * CosineDPMSolverMultistepScheduler), -1: none */
} sched_config;

/* The DiT default: linear 1e-4..0.02 over 1000 steps, leading spacing, offset 0. */
void sched_default(sched_config *s);
/* A sigma schedule: Stable Audio Open's (stable-audio-tools' generate_diffusion_cond defaults and
 * the diffusers pipeline's scheduler): sigma 0.3 .. 500, sigma_data 1, rho 1. */
void sched_sigma_default(sched_config *s);
/* Reads a diffusers scheduler_config.json (a discrete scheduler's, FlowMatchEulerDiscreteScheduler's or
 * CosineDPMSolverMultistepScheduler's);
 * unknown keys are ignored, bad values are errors. */
sc_status sched_load(sched_config *s, const char *path);
/* The same from a parsed object (`path` names it in messages). */
sc_status sched_from_object(sched_config *s, const json_t *j, const char *path);

/* torch.linspace(start, end, n, dtype=float32) on the CPU, bit-exact: out [n]. */
void sched_linspace_f32(float start, float end, int n, float *out);
/* diffusers: torch.linspace / cumprod in float32, bit-exact (alphas_cumprod[num_train]). */
void sched_alphas_cumprod_f32(const sched_config *s, float *out);
/* Original DiT (gaussian_diffusion.py): the betas as numpy float64 computes them. */
void sched_betas_f64(const sched_config *s, double *betas);

#endif
