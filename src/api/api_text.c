/* The text entry points: T5's tokenizer (src/text/). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "smoothcache.h"
#include "pipeline/pipeline.h"
#include "text/tokenizer.h"

struct sc_tokenizer {
    tokenizer *t;
};

sc_status sc_tokenizer_load(const char *path, sc_tokenizer_semantics sem, sc_tokenizer **out)
{
    if (!out) return err_fail(SC_ERR_ARG, "sc_tokenizer_load: no output pointer");
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "sc_tokenizer_load: no path");
    if (sem != SC_TOKENIZER_TRANSFORMERS && sem != SC_TOKENIZER_SENTENCEPIECE)
        return err_fail(SC_ERR_ARG, "sc_tokenizer_load: semantics %d is neither transformers (0) nor sentencepiece (1)",
                        (int)sem);
    sc_tokenizer *h = calloc(1, sizeof *h);
    if (!h) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = tokenizer_load(path, sem == SC_TOKENIZER_TRANSFORMERS ? TOK_TRANSFORMERS : TOK_SENTENCEPIECE, &h->t);
    if (s) {
        free(h);
        return s;
    }
    *out = h;
    return SC_OK;
}

void sc_tokenizer_free(sc_tokenizer *t)
{
    if (!t) return;
    tokenizer_free(t->t);
    free(t);
}

void sc_tokenizer_get_info(const sc_tokenizer *t, sc_tokenizer_info *info)
{
    memset(info, 0, sizeof *info);
    info->vocab_size = t->t->vocab_size;
    info->pad_id = t->t->pad_id;
    info->eos_id = t->t->eos_id;
    info->model_max_length = t->t->model_max_length;
    info->path = t->t->path;
    info->semantics = t->t->sem == TOK_TRANSFORMERS ? "transformers" : "sentencepiece";
}

const char *sc_tokenizer_piece(const sc_tokenizer *t, int id)
{
    return id >= 0 && id < t->t->vocab_size ? t->t->vocab[id] : NULL;
}

sc_status sc_tokenize(const sc_tokenizer *t, const char *text, size_t len, int max_length, int32_t *ids,
                      int32_t *mask, int cap, int *n)
{
    if (!t || (!text && len) || !ids || !n || max_length < 0 || cap < 1)
        return err_fail(SC_ERR_ARG, "sc_tokenize: a missing argument, a negative max_length or no room");
    if (max_length > cap) return err_fail(SC_ERR_ARG, "sc_tokenize: room for %d ids, max_length %d", cap, max_length);
    id_buf out = {0};
    sc_status s = tokenizer_encode(t->t, text ? text : "", len, max_length, &out);
    if (!s && out.n > (size_t)cap)
        s = err_fail(SC_ERR_ARG, "the text makes %zu tokens; room was given for %d", out.n, cap);
    if (!s) {
        memcpy(ids, out.p, out.n * sizeof *ids);
        for (int i = (int)out.n; i < max_length; i++) ids[i] = t->t->pad_id;
        if (mask) {
            const int total = max_length ? max_length : (int)out.n;
            for (int i = 0; i < total; i++) mask[i] = i < (int)out.n;
        }
        *n = (int)out.n;
    }
    ib_free(&out);
    return s;
}

struct sc_text_encoder {
    encoder *e;
};

sc_status sc_text_encoder_load(const char *path, sc_text_encoder **out)
{
    return sc_text_encoder_load_opts(path, NULL, out);
}

sc_status sc_text_encoder_load_opts(const char *path, const sc_load_opts *opts, sc_text_encoder **out)
{
    if (!out) return err_fail(SC_ERR_ARG, "sc_text_encoder_load: no output pointer");
    *out = NULL;
    sc_text_encoder *h = calloc(1, sizeof *h);
    if (!h) return err_fail(SC_ERR_NOMEM, "out of memory");
    if (opts && sc_dtype_name(opts->dtype) == NULL)
        return free(h), err_fail(SC_ERR_ARG, "sc_load_opts.dtype %d is not a precision", (int)opts->dtype);
    sc_status s = pipeline_encoder_load(path, opts, &h->e);
    if (s) {
        free(h);
        return s;
    }
    *out = h;
    return SC_OK;
}

void sc_text_encoder_free(sc_text_encoder *e)
{
    if (!e) return;
    e->e->family->free(e->e);
    free(e);
}

void sc_text_encoder_get_info(const sc_text_encoder *e, sc_text_encoder_info *info)
{
    memset(info, 0, sizeof *info);
    info->family = e->e->family->name;
    info->variant = e->e->variant;
    info->vocab_size = e->e->vocab_size;
    info->width = e->e->width;
    info->depth = e->e->depth;
    info->params = e->e->params;
    info->dtype = e->e->dtype;
    info->path = e->e->path;
    info->compute_dtype = sc_dtype_name(e->e->be->dtype);
    info->weight_bytes = e->e->weight_bytes;
}

sc_status sc_text_encode(sc_text_encoder *e, int n, int L, const int32_t *ids, const int32_t *mask, float *out,
                         int threads)
{
    if (!e || !ids || !out) return err_fail(SC_ERR_ARG, "sc_text_encode: a missing argument");
    return e->e->family->encode(e->e, n, L, ids, mask, out, threads_resolve(threads));
}

sc_status sc_encode_prompts(const sc_model *m, const sc_tokenizer *t, sc_text_encoder *e, int n,
                            const char *const *prompts, int max_length, float *embeds, int32_t *mask, int threads)
{
    const model_family *f = m->net->family;
    sc_model_info mi;
    sc_model_get_info(m, &mi);
    if (!f->prompt_prepare) return err_fail(SC_ERR_ARG, "this model (%s) takes no text", f->name);
    if (n < 1 || n > 1 << 20) return err_fail(SC_ERR_ARG, "number of prompts must be in 1..%d (got %d)", 1 << 20, n);
    const int L = max_length ? max_length : mi.text_len;
    if (L < 1 || L > 4096) return err_fail(SC_ERR_ARG, "max_length must be in 1..4096 (got %d)", L);
    sc_text_encoder_info ei;
    sc_text_encoder_get_info(e, &ei);
    if (ei.width != mi.text_dim)
        return err_fail(SC_ERR_ARG, "the text encoder %s gives embeddings %d wide; the model takes %d (its "
                                    "caption_channels)", ei.path, ei.width, mi.text_dim);
    sc_tokenizer_info ti;
    sc_tokenizer_get_info(t, &ti);
    if (ti.vocab_size > ei.vocab_size)
        return err_fail(SC_ERR_ARG, "the tokenizer %s makes ids up to %d but the text encoder %s embeds %d", ti.path,
                        ti.vocab_size - 1, ei.path, ei.vocab_size);
    int32_t *ids = malloc((size_t)n * L * sizeof *ids);
    if (!ids) return err_fail(SC_ERR_NOMEM, "out of memory for %d prompts of %d tokens", n, L);
    sc_status s = SC_OK;
    for (int i = 0; i < n && !s; i++) {
        if (!prompts[i]) {
            s = err_fail(SC_ERR_ARG, "prompt %d is NULL", i);
            break;
        }
        const size_t len = strlen(prompts[i]);
        char *prep = malloc(len + 1);
        if (!prep) {
            s = err_fail(SC_ERR_NOMEM, "out of memory");
            break;
        }
        const size_t k = f->prompt_prepare(prompts[i], len, prep);
        int used;
        s = sc_tokenize(t, prep, k, L, ids + (size_t)i * L, mask + (size_t)i * L, L, &used);
        free(prep);
    }
    if (!s) s = sc_text_encode(e, n, L, ids, mask, embeds, threads);
    free(ids);
    return s;
}
