#include "sample/schedule.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"

void sched_default(sched_config *s)
{
    memset(s, 0, sizeof *s);
    s->num_train = 1000;
    s->beta = BETA_LINEAR;
    s->beta_start = 1e-4;
    s->beta_end = 0.02;
    s->spacing = SPACING_LEADING;
    s->steps_offset = 0;
    s->set_alpha_to_one = 1;
    s->shift = 1.0;
    s->sampler = -1;
}

void sched_sigma_default(sched_config *s)
{
    sched_default(s);
    s->kind = SCHED_SIGMA;
    s->sigma_min = 0.3;
    s->sigma_max = 500.0;
    s->sigma_data = 1.0;
    s->rho = 1.0;
    s->solver_order = 2;
}

/* diffusers' CosineDPMSolverMultistepScheduler (Stable Audio's pipeline): its sigma range and
 * schedule, and its solver, which the file names as the folder's sampler (cosine-dpmpp2m-sde,
 * src/sample/cosine_dpmpp2m_sde.c). Its solver settings are kept for that sampler, which refuses
 * the ones diffusers cannot run (an order-3 step) or that end on a step of zero length
 * (final_sigmas_type sigma_min); k-dpmpp3m-sde reads only the sigma range. */
static sc_status sigma_load(sched_config *s, const json_t *j, const char *path)
{
    const char *sched = "exponential", *pred = "v_prediction", *type = "midpoint", *final = "zero";
    long long n = 1000, order = 2;
    int lof = 1, euler_final = 0;
    sc_status st;
    sched_sigma_default(s);
    if ((st = json_get_num(j, "sigma_min", path, 0, 1e-6, 1e6, 0.3, &s->sigma_min)) ||
        (st = json_get_num(j, "sigma_max", path, 0, 1e-6, 1e6, 500.0, &s->sigma_max)) ||
        (st = json_get_num(j, "sigma_data", path, 0, 1e-6, 1e6, 1.0, &s->sigma_data)) ||
        (st = json_get_str(j, "sigma_schedule", path, 0, "exponential", &sched)) ||
        (st = json_get_str(j, "prediction_type", path, 0, "v_prediction", &pred)) ||
        (st = json_get_int(j, "num_train_timesteps", path, 0, 2, SCHED_MAX_TRAIN, 1000, &n)) ||
        (st = json_get_int(j, "solver_order", path, 0, 1, 3, 2, &order)) ||
        (st = json_get_str(j, "solver_type", path, 0, "midpoint", &type)) ||
        (st = json_get_str(j, "final_sigmas_type", path, 0, "zero", &final)) ||
        (st = json_get_bool(j, "lower_order_final", path, 0, 1, &lof)) ||
        (st = json_get_bool(j, "euler_at_final", path, 0, 0, &euler_final)))
        return st;
    if (strcmp(sched, "exponential"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: sigma_schedule \"%.40s\" is not supported (\"exponential\", the "
                                            "log-linear sigmas Stable Audio samples with)", path, sched);
    if (strcmp(pred, "v_prediction"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: prediction_type \"%.40s\" is not supported on a sigma schedule "
                                            "(v_prediction)", path, pred);
    if (!(s->sigma_max > s->sigma_min))
        return err_fail(SC_ERR_ARG, "%s: sigma_max %g must be above sigma_min %g", path, s->sigma_max, s->sigma_min);
    /* diffusers maps logrho, bh1 and bh2 (UniPC's names) to midpoint and rejects anything else. */
    const int heun = !strcmp(type, "heun");
    if (!heun && strcmp(type, "midpoint") && strcmp(type, "logrho") && strcmp(type, "bh1") && strcmp(type, "bh2"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: solver_type \"%.40s\" is not supported (midpoint or heun)", path,
                        type);
    if (strcmp(final, "zero") && strcmp(final, "sigma_min"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: final_sigmas_type \"%.40s\" is not supported (zero or sigma_min)",
                        path, final);
    /* lower_order_final and euler_at_final change only a last step that ends above 0: with
     * final_sigmas_type zero that step is first-order whatever they say. */
    s->solver_order = (int)order;
    s->solver_heun = heun;
    s->final_sigma_min = !strcmp(final, "sigma_min");
    s->num_train = (int)n;
    s->from_file = 1;
    s->sampler = SC_SAMPLER_COSINE_DPMPP2M_SDE;
    return SC_OK;
}

/* DPMSolverMultistepScheduler as the engine's dpmpp2m runs it (docs/FAMILIES.md): the settings
 * the PixArt converters leave at their defaults; anything else is refused rather than sampled
 * differently. */
static sc_status dpm_check(const json_t *j, const char *path)
{
    const char *algo = "dpmsolver++", *type = "midpoint", *final = "zero", *var = NULL;
    long long order = 2;
    int lof = 1, karras = 0, thresh = 0, euler_final = 0, lu = 0, expo = 0, beta = 0, flow = 0;
    sc_status st;
    if ((st = json_get_str(j, "algorithm_type", path, 0, algo, &algo)) ||
        (st = json_get_str(j, "solver_type", path, 0, type, &type)) ||
        (st = json_get_str(j, "final_sigmas_type", path, 0, final, &final)) ||
        (st = json_get_str(j, "variance_type", path, 0, NULL, &var)) ||
        (st = json_get_int(j, "solver_order", path, 0, 1, 3, 2, &order)) ||
        (st = json_get_bool(j, "lower_order_final", path, 0, 1, &lof)) ||
        (st = json_get_bool(j, "use_karras_sigmas", path, 0, 0, &karras)) ||
        (st = json_get_bool(j, "use_exponential_sigmas", path, 0, 0, &expo)) ||
        (st = json_get_bool(j, "use_beta_sigmas", path, 0, 0, &beta)) ||
        (st = json_get_bool(j, "use_flow_sigmas", path, 0, 0, &flow)) ||
        (st = json_get_bool(j, "use_lu_lambdas", path, 0, 0, &lu)) ||
        (st = json_get_bool(j, "thresholding", path, 0, 0, &thresh)) ||
        (st = json_get_bool(j, "euler_at_final", path, 0, 0, &euler_final)))
        return st;
    const char *bad = strcmp(algo, "dpmsolver++") ? "algorithm_type (dpmsolver++ only)"
                      : strcmp(type, "midpoint")  ? "solver_type (midpoint only)"
                      : strcmp(final, "zero")     ? "final_sigmas_type (zero only)"
                      : var                       ? "variance_type (none only)"
                      : order != 2                ? "solver_order (2 only)"
                      : !lof                      ? "lower_order_final false"
                      : karras || expo || beta || flow || lu ? "another sigma spacing"
                      : thresh                    ? "thresholding"
                      : euler_final               ? "euler_at_final"
                                                  : NULL;
    if (bad) return err_fail(SC_ERR_UNSUPPORTED, "%s: DPMSolverMultistepScheduler with this %s is not supported", path, bad);
    /* -inf: no clipping of the last timesteps (a finite value moves them; cosine schedules need it). */
    const json_t *clip = json_object_get(j, "lambda_min_clipped");
    if (clip && !json_is_null(clip) && !(json_is_string(clip) && !strcmp(json_string_value(clip), "-Infinity")))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: DPMSolverMultistepScheduler with a finite lambda_min_clipped is not "
                                            "supported (-Infinity only: no clipping)", path);
    return SC_OK;
}

/* FlowMatchEulerDiscreteScheduler: num_train_timesteps and a static shift; the resolution-dependent
 * and stochastic variants and the alternative sigma spacings are refused. */
static sc_status flow_load(sched_config *s, const json_t *j, const char *path)
{
    long long n = 1000;
    int dyn = 0, stoch = 0, invert = 0, karras = 0, expo = 0, beta = 0;
    sc_status st;
    if ((st = json_get_int(j, "num_train_timesteps", path, 0, 2, SCHED_MAX_TRAIN, 1000, &n)) ||
        (st = json_get_num(j, "shift", path, 0, 1e-3, 1e3, 1.0, &s->shift)) ||
        (st = json_get_bool(j, "use_dynamic_shifting", path, 0, 0, &dyn)) ||
        (st = json_get_bool(j, "stochastic_sampling", path, 0, 0, &stoch)) ||
        (st = json_get_bool(j, "invert_sigmas", path, 0, 0, &invert)) ||
        (st = json_get_bool(j, "use_karras_sigmas", path, 0, 0, &karras)) ||
        (st = json_get_bool(j, "use_exponential_sigmas", path, 0, 0, &expo)) ||
        (st = json_get_bool(j, "use_beta_sigmas", path, 0, 0, &beta)))
        return st;
    const json_t *term = json_object_get(j, "shift_terminal");
    if (dyn || stoch || invert || karras || expo || beta || (term && !json_is_null(term)))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: %s is not supported (a static shift only)", path,
                        dyn ? "use_dynamic_shifting" : stoch ? "stochastic_sampling" : invert ? "invert_sigmas"
                        : karras || expo || beta ? "another sigma spacing" : "shift_terminal");
    s->kind = SCHED_FLOW;
    s->num_train = (int)n;
    s->from_file = 1;
    s->sampler = SC_SAMPLER_FLOW_EULER;
    return SC_OK;
}

sc_status sched_from_object(sched_config *s, const json_t *j, const char *path)
{
    sc_status st = SC_OK;
    sched_default(s);
    const json_t *cls = json_object_get(j, "_class_name");
    if (json_is_string(cls) && !strcmp(json_string_value(cls), "FlowMatchEulerDiscreteScheduler")) {
        return flow_load(s, j, path);
    }
    if (json_is_string(cls) && !strcmp(json_string_value(cls), "CosineDPMSolverMultistepScheduler")) {
        return sigma_load(s, j, path);
    }
    long long n = 1000, off = 0;
    const char *beta = "linear", *spacing = "leading", *pred = "epsilon";
    int one = 1;
    if ((st = json_get_int(j, "num_train_timesteps", path, 0, 2, SCHED_MAX_TRAIN, 1000, &n)) ||
        (st = json_get_num(j, "beta_start", path, 0, 0.0, 1.0, 1e-4, &s->beta_start)) ||
        (st = json_get_num(j, "beta_end", path, 0, 0.0, 1.0, 0.02, &s->beta_end)) ||
        (st = json_get_str(j, "beta_schedule", path, 0, "linear", &beta)) ||
        (st = json_get_str(j, "timestep_spacing", path, 0, "leading", &spacing)) ||
        (st = json_get_int(j, "steps_offset", path, 0, 0, 999, 0, &off)) ||
        (st = json_get_bool(j, "set_alpha_to_one", path, 0, 1, &one)) ||
        (st = json_get_str(j, "prediction_type", path, 0, "epsilon", &pred)))
        goto done;
    int zsnr = 0;
    if ((st = json_get_bool(j, "rescale_betas_zero_snr", path, 0, 0, &zsnr))) goto done;
    if (zsnr) {
        st = err_fail(SC_ERR_UNSUPPORTED, "%s: rescale_betas_zero_snr is not supported", path);
        goto done;
    }
    const json_t *tb = json_object_get(j, "trained_betas");
    if (tb && !json_is_null(tb)) {
        st = err_fail(SC_ERR_UNSUPPORTED, "%s: \"trained_betas\" is not supported", path);
        goto done;
    }
    s->num_train = (int)n;
    s->steps_offset = (int)off;
    s->set_alpha_to_one = one;
    if (!(s->beta_start < s->beta_end)) {
        st = err_fail(SC_ERR_FORMAT, "%s: beta_start must be below beta_end", path);
        goto done;
    }
    if (!(s->beta_end < 1.0)) {
        st = err_fail(SC_ERR_FORMAT, "%s: beta_end must be below 1 (a beta of 1 leaves no signal to sample from)", path);
        goto done;
    }
    if (!strcmp(beta, "linear")) s->beta = BETA_LINEAR;
    else if (!strcmp(beta, "scaled_linear")) s->beta = BETA_SCALED_LINEAR;
    else if (!strcmp(beta, "squaredcos_cap_v2")) s->beta = BETA_SQUAREDCOS;
    else {
        st = err_fail(SC_ERR_UNSUPPORTED, "%s: beta_schedule \"%.40s\" is not supported (linear, scaled_linear, squaredcos_cap_v2)", path, beta);
        goto done;
    }
    if (!strcmp(spacing, "leading")) s->spacing = SPACING_LEADING;
    else if (!strcmp(spacing, "trailing")) s->spacing = SPACING_TRAILING;
    else if (!strcmp(spacing, "linspace")) s->spacing = SPACING_LINSPACE;
    else {
        st = err_fail(SC_ERR_UNSUPPORTED, "%s: timestep_spacing \"%.40s\" is not supported (leading, trailing, linspace)", path, spacing);
        goto done;
    }
    if (strcmp(pred, "epsilon")) {
        st = err_fail(SC_ERR_UNSUPPORTED, "%s: prediction_type \"%.40s\" is not supported (DiT predicts epsilon)", path, pred);
        goto done;
    }
    s->spacing_given = json_object_get(j, "timestep_spacing") != NULL;
    s->from_file = 1;
    if (json_is_string(cls) && !strcmp(json_string_value(cls), "DDIMScheduler")) {
        /* DDIMScheduler clamps x0 unless told not to (clip_sample defaults to true there). */
        int clip = 1, thresh = 0;
        double range = 1.0;
        if ((st = json_get_bool(j, "clip_sample", path, 0, 1, &clip)) ||
            (st = json_get_num(j, "clip_sample_range", path, 0, 1e-6, 1e6, 1.0, &range)) ||
            (st = json_get_bool(j, "thresholding", path, 0, 0, &thresh)))
            goto done;
        if (thresh) {
            st = err_fail(SC_ERR_UNSUPPORTED, "%s: DDIMScheduler with thresholding is not supported", path);
            goto done;
        }
        s->clip_sample = clip ? range : 0.0;
        s->sampler = SC_SAMPLER_DDIM;
    }
    if (json_is_string(cls) && !strcmp(json_string_value(cls), "DPMSolverMultistepScheduler")) {
        if ((st = dpm_check(j, path))) goto done;
        s->sampler = SC_SAMPLER_DPMPP2M;
    }
    {
        /* alphas_cumprod as the samplers compute it must stay above 0: where it underflows, every
         * sampler divides by it (betas as large as 0.5..0.999 over 1000 steps do that). */
        float ab[SCHED_MAX_TRAIN];
        sched_alphas_cumprod_f32(s, ab);
        for (int t = 0; t < s->num_train; t++)
            if (!(ab[t] > 0.0f)) {
                st = err_fail(SC_ERR_FORMAT, "%s: with these betas alphas_cumprod underflows to 0 at timestep %d of %d "
                                             "(no signal left to sample from): beta_start/beta_end are too large",
                              path, t, s->num_train);
                goto done;
            }
    }
done:
    return st;
}

sc_status sched_load(sched_config *s, const char *path)
{
    json_t *j;
    sched_default(s);
    /* Python's json writes -Infinity (DPMSolverMultistepScheduler's lambda_min_clipped). */
    sc_status st = json_load_object_file_py(path, SC_JSON_FILE_CAP, &j);
    if (st) return st;
    st = sched_from_object(s, j, path);
    json_decref(j);
    return st;
}

/* torch.linspace(start, end, n, dtype=float32) on the CPU: the step is a float32 division and
 * each half is an fma from its own end (checked bit-exact against torch 2.x). */
void sched_linspace_f32(float start, float end, int n, float *out)
{
    if (n == 1) { out[0] = start; return; }
    float step = (end - start) / (float)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++)
        out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
}

/* diffusers' betas_for_alpha_bar(n, "cosine"), computed in float64 then cast. */
static double alpha_bar_cos(double t)
{
    const double pi = 3.14159265358979323846;
    double c = cos((t + 0.008) / 1.008 * pi / 2);
    return c * c;
}

void sched_alphas_cumprod_f32(const sched_config *s, float *out)
{
    float betas[SCHED_MAX_TRAIN];
    int n = s->num_train;
    if (s->beta == BETA_LINEAR) {
        sched_linspace_f32((float)s->beta_start, (float)s->beta_end, n, betas);
    } else if (s->beta == BETA_SCALED_LINEAR) {
        sched_linspace_f32((float)sqrt(s->beta_start), (float)sqrt(s->beta_end), n, betas);
        for (int i = 0; i < n; i++) betas[i] = betas[i] * betas[i];
    } else {
        for (int i = 0; i < n; i++) {
            double b = 1.0 - alpha_bar_cos((double)(i + 1) / n) / alpha_bar_cos((double)i / n);
            betas[i] = (float)(b < 0.999 ? b : 0.999);
        }
    }
    /* torch.cumprod on float32 accumulates in double and rounds each output. */
    double acc = 1.0;
    for (int i = 0; i < n; i++) {
        acc *= (double)(1.0f - betas[i]);
        out[i] = (float)acc;
    }
}

void sched_betas_f64(const sched_config *s, double *betas)
{
    /* numpy.linspace(start, end, n, dtype=float64): start + i * step, last = end exactly. */
    int n = s->num_train;
    if (s->beta == BETA_SQUAREDCOS) {
        for (int i = 0; i < n; i++) {
            double b = 1.0 - alpha_bar_cos((double)(i + 1) / n) / alpha_bar_cos((double)i / n);
            betas[i] = b < 0.999 ? b : 0.999;
        }
        return;
    }
    int sq = s->beta == BETA_SCALED_LINEAR;
    double b0 = sq ? sqrt(s->beta_start) : s->beta_start, b1 = sq ? sqrt(s->beta_end) : s->beta_end;
    double step = (b1 - b0) / (n - 1);
    for (int i = 0; i < n; i++) betas[i] = i * step + b0;
    betas[n - 1] = b1;
    if (sq)
        for (int i = 0; i < n; i++) betas[i] *= betas[i];
}
