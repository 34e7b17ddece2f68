#include "cache/predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "core/mem.h"

sc_status predict_parse(const char *name, predict_kind *kind, int *order)
{
    /* Exact names only (sscanf's %d would take "taylor+2" and "ab 3"). */
    static const char *const taylor[] = {"taylor1", "taylor2", "taylor3", "taylor4"}, *const ab[] = {"ab2", "ab3", "ab4"};
    for (int v = 0; v < 4; v++)
        if (!strcmp(name, taylor[v])) {
            *kind = PREDICT_TAYLOR;
            *order = v + 1;
            return SC_OK;
        }
    for (int v = 0; v < 3; v++)
        if (!strcmp(name, ab[v])) {
            *kind = PREDICT_LAGRANGE;
            *order = v + 1;
            return SC_OK;
        }
    return err_fail(SC_ERR_ARG, "cache option predict=%s: not taylor1..taylor4 or ab2..ab4", name);
}

sc_status predict_init(predictor *p, const cache_gen *g, predict_kind kind, int order, int modules, size_t elems)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    /* The options were validated: taylor1..4, AB-Cache with 2..4 points (the fixed arrays of
     * predict_update and predict_eval hold that many). */
    SC_ASSERT(order >= 1 && (kind == PREDICT_TAYLOR ? order <= 4 : order <= 3));
    p->kind = kind;
    p->order = order;
    p->modules = modules;
    p->elems = elems;
    size_t floats;
    if (__builtin_mul_overflow((size_t)modules * (size_t)(order + 1), elems, &floats))
        return err_fail(SC_ERR_NOMEM, "out of memory for %d x %d predicted outputs", modules, order + 1);
    p->hist = g->be->alloc(floats, "prediction history");
    p->count = calloc((size_t)modules, sizeof *p->count);
    p->head = calloc((size_t)modules, sizeof *p->head);
    p->steps = calloc((size_t)modules * (size_t)(order + 1), sizeof *p->steps);
    if (!p->hist || !p->count || !p->head || !p->steps) {
        predict_free(p);
        return err_fail(SC_ERR_NOMEM, "out of memory for %d x %d predicted outputs", modules, order + 1);
    }
    return SC_OK;
}

void predict_free(predictor *p)
{
    if (p->g) p->g->be->release(p->hist);
    free(p->count);
    free(p->head);
    free(p->steps);
    memset(p, 0, sizeof *p);
}

static float *slot(const predictor *p, int m, int i)
{
    return p->hist + ((size_t)m * (size_t)(p->order + 1) + (size_t)i) * p->elems;
}

void predict_update(predictor *p, int m, int n, const float *out)
{
    const size_t E = p->elems;
    int *st = p->steps + (size_t)m * (size_t)(p->order + 1);
    if (p->kind == PREDICT_TAYLOR) {
        /* new D(0) = F(n); new D(j+1) = (new D(j) - old D(j)) / (n - last update), for the
         * orders whose old factor exists (diffusers' TaylorSeerState.update). One pass over the
         * elements: old D(j) is read before new D(j) replaces it, so the update is in place
         * (memory-bound: order 1 reads F and D0 and writes D0 and D1, nothing more). */
        const int have = p->count[m];
        const int top = have < p->order ? have : p->order;
        const float delta = have ? (float)(n - st[0]) : 1.0f;
        float *d[5];
        for (int j = 0; j <= top; j++) d[j] = slot(p, m, j);
        p->g->be->taylor_update(d, top, out, delta, E);
        st[0] = n;
        p->count[m] = top + 1;
        return;
    }
    /* Lagrange: the last order + 1 outputs in a ring (no copying of the older ones); steps[i]
     * is the evaluation of slot i, head[m] the slot of the newest. */
    const int k = p->order + 1;
    const int h = p->count[m] == 0 ? 0 : (p->head[m] + 1) % k;
    p->g->be->copy(slot(p, m, h), out, E);
    st[h] = n;
    p->head[m] = h;
    if (p->count[m] < k) p->count[m]++;
}

void predict_eval(const predictor *p, int m, int n, float *out)
{
    const size_t E = p->elems;
    const int have = p->count[m];
    const int *st = p->steps + (size_t)m * (size_t)(p->order + 1);
    SC_ASSERT(have > 0); /* the engine predicts only what it has computed (and shown) before */
    if (p->kind == PREDICT_TAYLOR) {
        /* sum_i D(i) q^i / i!, q = n - last update; coefficients rounded to float32 as torch
         * does when a Python float multiplies a float32 tensor. */
        const double q = (double)(n - st[0]);
        float coef[8];
        double f = 1.0, qi = 1.0;
        for (int i = 0; i < have; i++) {
            if (i) {
                f *= i;
                qi *= q;
            }
            coef[i] = (float)(qi / f);
        }
        const float *d[8];
        for (int i = 0; i < have; i++) d[i] = slot(p, m, i);
        p->g->be->taylor_eval(out, d, coef, have, E); /* summed in the order of diffusers' */
        return;
    }
    /* Lagrange weights w_i = prod_{j != i} (n - t_j) / (t_i - t_j) over the points we have,
     * newest first (slot head, head - 1, ... of the ring). */
    const int k = p->order + 1;
    float w[4] = {0};
    int sl[4];
    for (int i = 0; i < have; i++) sl[i] = (p->head[m] - i + k) % k;
    for (int i = 0; i < have; i++) {
        double wi = 1.0;
        for (int j = 0; j < have; j++)
            if (j != i) wi *= (double)(n - st[sl[j]]) / (double)(st[sl[i]] - st[sl[j]]);
        w[i] = (float)wi;
    }
    const float *src[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < have; i++) src[i] = slot(p, m, sl[i]);
    p->g->be->lagrange_eval(out, src, w, have, E);
}
