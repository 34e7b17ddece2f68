/* The sharded-sampling helpers of include/smoothcache_tools.h: which shard a process is, the
 * shard's range, names and manifest, and the merge (the files: io/shard.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/shard.h"
#include "io/weights.h"
#include "pipeline/pipeline.h"
#include "smoothcache_tools.h"

sc_status sc_model_fingerprint(const sc_model *m, char hex[17])
{
    if (!m->net->files) return err_fail(SC_ERR_ARG, "the model's weight files are no longer open");
    snprintf(hex, 17, "%016llx", (unsigned long long)weights_fingerprint(m->net->files));
    return SC_OK;
}

/* A decimal integer in [min, max] from all of text. */
static int parse_int(const char *text, long min, long max, long *out)
{
    if (!text || !*text || *text == '-' || *text == '+' || *text == ' ') return 0;
    char *end = NULL;
    const long v = strtol(text, &end, 10);
    if (*end || v < min || v > max) return 0;
    *out = v;
    return 1;
}

/* index from variable iv and count from cv (or the hint), when the launcher set them. */
static sc_status from_env(const char *iv, const char *cv, int count_hint, const char *source, sc_shard *out, int *found)
{
    const char *i = getenv(iv), *c = cv ? getenv(cv) : NULL;
    *found = 0;
    if (!i || (cv && !c)) return SC_OK;
    long count = count_hint, index;
    if (cv && !parse_int(c, 1, SHARD_MAX, &count))
        return err_fail(SC_ERR_ARG, "$%s is '%s': not a task count in 1..%d", cv, c, SHARD_MAX);
    if (!cv && count_hint < 1)
        return err_fail(SC_ERR_ARG, "$%s is set (%s) but the number of tasks is not: give --shards N", iv, source);
    if (!parse_int(i, 0, count - 1, &index))
        return err_fail(SC_ERR_ARG, "$%s is '%s': not a task index in 0..%ld", iv, i, count - 1);
    if (count > 1) {
        *out = (sc_shard){(int)index, (int)count, source};
        *found = 1;
    }
    return SC_OK;
}

sc_status sc_shard_detect(const char *spec, int count_hint, sc_shard *out)
{
    *out = (sc_shard){0, 1, NULL};
    if (spec) {
        const char *slash = strchr(spec, '/');
        char a[32];
        long i, n;
        if (!slash || (size_t)(slash - spec) >= sizeof a)
            return err_fail(SC_ERR_ARG, "--shard: '%s' is not I/N (0 <= I < N)", spec);
        memcpy(a, spec, (size_t)(slash - spec));
        a[slash - spec] = '\0';
        if (!parse_int(slash + 1, 1, SHARD_MAX, &n) || !parse_int(a, 0, n - 1, &i))
            return err_fail(SC_ERR_ARG, "--shard: '%s' is not I/N with 0 <= I < N <= %d", spec, SHARD_MAX);
        *out = (sc_shard){(int)i, (int)n, "--shard"};
        return SC_OK;
    }
    int found = 0;
    sc_status s = from_env("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", 0, "OpenMPI", out, &found);
    if (!s && !found) s = from_env("PMI_RANK", "PMI_SIZE", 0, "PMI", out, &found);
    if (!s && !found) s = from_env("SLURM_PROCID", "SLURM_NTASKS", 0, "Slurm tasks", out, &found);
    if (!s && !found && getenv("SLURM_ARRAY_TASK_ID")) {
        /* An array's task ids run from SLURM_ARRAY_TASK_MIN (often 0 or 1) in steps of 1. */
        long id, min = 0, count;
        const char *c = getenv("SLURM_ARRAY_TASK_COUNT"), *m = getenv("SLURM_ARRAY_TASK_MIN");
        if (!c) return err_fail(SC_ERR_ARG, "$SLURM_ARRAY_TASK_ID is set but $SLURM_ARRAY_TASK_COUNT is not");
        if (!parse_int(c, 1, SHARD_MAX, &count))
            return err_fail(SC_ERR_ARG, "$SLURM_ARRAY_TASK_COUNT is '%s': not a task count in 1..%d", c, SHARD_MAX);
        if (m && !parse_int(m, 0, 1L << 30, &min))
            return err_fail(SC_ERR_ARG, "$SLURM_ARRAY_TASK_MIN is '%s': not a task id", m);
        if (!parse_int(getenv("SLURM_ARRAY_TASK_ID"), min, min + count - 1, &id))
            return err_fail(SC_ERR_ARG, "$SLURM_ARRAY_TASK_ID is '%s': not in %ld..%ld (an array with steps or gaps "
                            "needs --shard I/N)", getenv("SLURM_ARRAY_TASK_ID"), min, min + count - 1);
        if (count > 1) *out = (sc_shard){(int)(id - min), (int)count, "Slurm array"};
        return SC_OK;
    }
    if (!s && !found) s = from_env("JOB_COMPLETION_INDEX", NULL, count_hint, "Kubernetes", out, &found);
    return s;
}

void sc_shard_range(uint64_t num, int batch, int index, int count, uint64_t *begin, uint64_t *end)
{
    shard_range(num, batch, index, count, begin, end);
}

sc_status sc_shard_names(const char *out, int index, int count, char *npz, char *json, size_t cap)
{
    return shard_names(out, index, count, npz, json, cap);
}

static sc_status to_manifest(const sc_shard_info *in, shard_manifest *m)
{
    memset(m, 0, sizeof *m);
    const char *cache = in->cache ? in->cache : "";
    if (strlen(cache) >= sizeof m->cache || strlen(in->sampler) >= sizeof m->sampler ||
        strlen(in->dtype) >= sizeof m->dtype || strlen(in->model) >= sizeof m->model ||
        strlen(in->model_fingerprint) != 16 || (in->vae_fingerprint[0] && strlen(in->vae_fingerprint) != 16))
        return err_fail(SC_ERR_ARG, "shard manifest: a setting is too long for the manifest");
    *m = (shard_manifest){.shard = in->index, .shards = in->count, .begin = in->begin, .end = in->end, .num = in->num,
                          .batch = in->batch, .steps = in->steps, .side = in->side, .seed = in->seed, .cfg = in->cfg,
                          .complete = 1};
    snprintf(m->sampler, sizeof m->sampler, "%s", in->sampler);
    snprintf(m->dtype, sizeof m->dtype, "%s", in->dtype);
    snprintf(m->cache, sizeof m->cache, "%s", cache);
    snprintf(m->model, sizeof m->model, "%s", in->model);
    snprintf(m->model_fp, sizeof m->model_fp, "%s", in->model_fingerprint);
    snprintf(m->vae_fp, sizeof m->vae_fp, "%s", in->vae_fingerprint);
    return SC_OK;
}

sc_status sc_shard_manifest_write(const char *json, const sc_shard_info *info, int force)
{
    shard_manifest m;
    sc_status s = to_manifest(info, &m);
    return s ? s : shard_manifest_write(json, &m, force);
}

int sc_shard_is_complete(const char *json, const char *npz, const sc_shard_info *info, char *why, size_t cap)
{
    shard_manifest want, have;
    if (cap) why[0] = '\0';
    if (to_manifest(info, &want)) {
        snprintf(why, cap, "%s", sc_last_error()); /* this run's settings do not fit a manifest */
        return -1;
    }
    if (!file_is_regular(json)) return 0;
    if (shard_manifest_read(json, &have)) {
        snprintf(why, cap, "%s", sc_last_error());
        return -1;
    }
    if (shard_settings_differ(&have, &want, why, cap)) return -1;
    if (have.begin != want.begin || have.end != want.end) {
        snprintf(why, cap, "it holds images %llu..%llu, this shard is %llu..%llu", (unsigned long long)have.begin,
                 (unsigned long long)have.end - 1, (unsigned long long)want.begin, (unsigned long long)want.end - 1);
        return -1;
    }
    if (!have.complete) {
        snprintf(why, cap, "it is not complete");
        return 0;
    }
    if (!file_is_regular(npz)) {
        snprintf(why, cap, "its .npz %s is missing", npz);
        return 0;
    }
    return 1;
}

sc_status sc_shard_merge(const char *out, const char *const *shards, int n, int force, uint64_t *images)
{
    return shard_merge(out, shards, n, force, images);
}
