/* One model evaluation, for any family (models/model.h): the runner walks the blocks and asks the
 * cache run, per block boundary and per component, whether to compute or reuse. */
#include "core/error.h"
#include "pipeline/pipeline.h"

/* The model's signals, as the cache's views ask for them. */
typedef struct {
    const model *m;
    model_ws *ws;
} signal_ctx;

static sc_status modulated_input(const cache_view *v, float *out)
{
    const signal_ctx *s = v->ctx;
    SC_ASSERT(s->m->family->modulated_input && v->l < s->m->depth);
    return s->m->family->modulated_input(s->m, s->ws, v->l, out);
}

sc_status pipeline_forward(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c,
                           float *out, cache_run *cache)
{
    const model_family *f = m->family;
    const backend *be = m->be;
    const int rows = ws->rows;
    signal_ctx sig = {m, ws};
    if (cache) cache_run_set_signals(cache, f->modulated_input ? modulated_input : NULL, &sig);
    sc_status s = f->embed(m, ws, x, t, c);
    int l = 0;
    while (l < m->depth && !s) {
        s = f->block(m, ws, l);
        if (s) break;
        /* A step-level policy may skip a run of blocks by adding its stored residual. */
        const int next = cache ? cache_run_boundary(cache, l, ws->h) : l;
        if (next > l) {
            l = next;
            continue;
        }
        for (int k = 0; k < m->n_comp && !s; k++) {
            /* The raw output lives in the cache buffer when the policy may reuse it: computing
             * refreshes it in place, reusing reads it; the component is skipped on reuse, but the
             * current step's gate and residual are always applied. */
            float *buf = NULL;
            const int compute = cache ? cache_run_decide(cache, l, k, &buf) : 1;
            if (!buf) buf = ws->sub;
            if (compute) {
                s = f->component(m, ws, l, k, buf);
                if (s) break;
                if (cache) cache_run_observe(cache, l, k, buf);
            }
            const int gate = m->comp[k].gate;
            if (gate >= 0)
                be->gated_add(ws->h, buf, rows, ws->tokens, m->hidden, ws->mod + (size_t)gate * m->hidden, ws->mod_stride);
            else
                be->add(ws->h, buf, (size_t)rows * ws->tokens * m->hidden);
        }
        l++;
    }
    if (!s && cache) cache_run_boundary(cache, m->depth, ws->h);
    if (!s) s = f->final(m, ws, out);
    if (!s && cache) cache_run_output(cache, out, (size_t)rows * m->out_channels * (model_shape_count(&ws->latent) / ws->latent.dims[0]));
    return s;
}
