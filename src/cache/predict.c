#include "cache/predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

sc_status predict_parse(const char *name, predict_kind *kind, int *order)
{
    int v;
    char tail;
    if (sscanf(name, "taylor%d%c", &v, &tail) == 1 && v >= 1 && v <= 4) {
        *kind = PREDICT_TAYLOR;
        *order = v;
        return SC_OK;
    }
    if (sscanf(name, "ab%d%c", &v, &tail) == 1 && v >= 2 && v <= 4) {
        *kind = PREDICT_LAGRANGE;
        *order = v - 1;
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "--cache: predictor '%s' is not taylor1..taylor4 or ab2..ab4", name);
}

sc_status predict_init(predictor *p, predict_kind kind, int order, int modules, size_t elems)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->order = order;
    p->modules = modules;
    p->elems = elems;
    p->hist = sc_alloc_array((size_t)modules * (size_t)(order + 1), elems * sizeof(float), "prediction history");
    p->count = calloc((size_t)modules, sizeof *p->count);
    p->steps = calloc((size_t)modules * (size_t)(order + 1), sizeof *p->steps);
    if (!p->hist || !p->count || !p->steps) {
        predict_free(p);
        return sc_fail(SC_ERR_NOMEM, "out of memory for %d x %d predicted outputs", modules, order + 1);
    }
    return SC_OK;
}

void predict_free(predictor *p)
{
    sc_free(p->hist);
    free(p->count);
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
         * orders whose old factor exists (diffusers' TaylorSeerState.update). Order by order,
         * vectorised: the difference is formed in the next order's slot before D(j) is replaced,
         * because new D(j+1) replaces old D(j+1) only after it is no longer needed. */
        const int have = p->count[m];
        const int top = have < p->order ? have : p->order;
        const float delta = have ? (float)(n - st[0]) : 1.0f;
        /* Highest order first: new D(top) needs new D(top-1), which needs ...; build the chain
         * of differences bottom-up in place, from the top slot down, using the identity
         * new D(j) = (new D(j-1) - old D(j-1)) / delta applied recursively on the input. */
        for (int j = top; j >= 1; j--) {
            /* new D(j) = (F - sum...) is the j-th divided difference of (F, old chain): compute
             * it as ((...((F - old D0)/d - old D1)/d ...) - old D(j-1))/d. */
            float *dj = slot(p, m, j);
            #pragma omp parallel for simd schedule(static)
            for (size_t e = 0; e < E; e++) {
                float v = out[e];
                for (int i = 0; i < j; i++) v = (v - slot(p, m, i)[e]) / delta;
                dj[e] = v;
            }
        }
        memcpy(slot(p, m, 0), out, E * sizeof(float));
        st[0] = n;
        p->count[m] = top + 1;
        return;
    }
    /* Lagrange: keep the last order + 1 outputs, newest first. */
    const int k = p->order + 1, have = p->count[m] < k ? p->count[m] : k - 1;
    for (int i = have; i >= 1; i--) {
        memcpy(slot(p, m, i), slot(p, m, i - 1), E * sizeof(float));
        st[i] = st[i - 1];
    }
    memcpy(slot(p, m, 0), out, E * sizeof(float));
    st[0] = n;
    if (p->count[m] < k) p->count[m]++;
}

void predict_eval(const predictor *p, int m, int n, float *out)
{
    const size_t E = p->elems;
    const int have = p->count[m];
    const int *st = p->steps + (size_t)m * (size_t)(p->order + 1);
    if (have == 0) {
        memset(out, 0, E * sizeof *out);
        return;
    }
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
        /* Term by term (vectorised); the sum runs in the same order as diffusers'. */
        const float *d0 = slot(p, m, 0);
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < E; e++) out[e] = d0[e] * coef[0];
        for (int i = 1; i < have; i++) {
            const float *di = slot(p, m, i), ci = coef[i];
            #pragma omp parallel for simd schedule(static)
            for (size_t e = 0; e < E; e++) out[e] = out[e] + di[e] * ci;
        }
        return;
    }
    /* Lagrange weights w_i = prod_{j != i} (n - t_j) / (t_i - t_j) over the points we have. */
    float w[8];
    for (int i = 0; i < have; i++) {
        double wi = 1.0;
        for (int j = 0; j < have; j++)
            if (j != i) wi *= (double)(n - st[j]) / (double)(st[i] - st[j]);
        w[i] = (float)wi;
    }
    #pragma omp parallel for schedule(static)
    for (size_t e = 0; e < E; e++) {
        float acc = 0.0f;
        for (int i = 0; i < have; i++) acc += w[i] * slot(p, m, i)[e];
        out[e] = acc;
    }
}
