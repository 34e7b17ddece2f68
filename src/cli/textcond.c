/* The text conditioning of a text-to-image generation: prompts encoded by the model's pipeline
 * (its tokenizer/ and text_encoder/, or --text-encoder / --tokenizer), or embeddings from
 * `smoothcache encode` (--prompt-embeds), and the negative side guidance needs (the negative
 * prompt, "" by default as the pipelines do, or --negative-embeds). The text encoder is freed
 * before sampling starts: T5-XXL and the transformer need not share the memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/prompts.h"
#include "cli/textcond.h"
#include "smoothcache_tools.h"

void cli_text_free(cli_text *t)
{
    free(t->text);
    free(t->mask);
    free(t->neg);
    free(t->neg_mask);
    free(t->summary);
    for (int i = 0; t->prompts && i < t->n; i++) free(t->prompts[i]);
    free(t->prompts);
    memset(t, 0, sizeof *t);
}

/* embeds [rows, L, D] and mask [rows, L] of a .npz from `encode`; rows must be 1 or n (1 is
 * repeated), and L, D those given (0: any; then set). */
static int read_embeds(const cli_args *a, const char *flag, const char *path, int n, int *L, int *D, float **text,
                       int32_t **mask, int *rows_out)
{
    sc_array e = {0}, k = {0};
    if (sc_npz_read(path, "prompt_embeds", &e) != SC_OK || sc_npz_read(path, "attention_mask", &k) != SC_OK) {
        sc_array_free(&e);
        int r = cli_fail(a);
        cli_where_it_goes(a, flag, path);
        return r;
    }
    int r = 0;
    const int rows = e.rank == 3 ? (int)e.shape[0] : 0;
    if (e.rank != 3 || k.rank != 2 || k.shape[0] != e.shape[0] || k.shape[1] != e.shape[1] || !rows ||
        e.shape[1] > 4096 || e.shape[2] > 65536)
        r = cli_usage_error(a, "%s: %s must hold prompt_embeds [n, L, D] and attention_mask [n, L] (smoothcache "
                               "encode writes them)", flag, path);
    else if (n && rows != n && rows != 1)
        r = cli_usage_error(a, "%s: %s holds %d prompts; give 1 or %d", flag, path, rows, n);
    else if ((*L && (int)e.shape[1] != *L) || (*D && (int)e.shape[2] != *D))
        r = cli_usage_error(a, "%s: %s has embeddings [%d, %d]; the prompts' are [%d, %d] (encode both to the same "
                               "--max-length with the same encoder)", flag, path, (int)e.shape[1], (int)e.shape[2], *L, *D);
    if (!r) {
        *L = (int)e.shape[1];
        *D = (int)e.shape[2];
        const int want = n ? n : rows;
        const size_t per = (size_t)*L * *D;
        *text = malloc((size_t)want * per * sizeof **text);
        *mask = malloc((size_t)want * *L * sizeof **mask);
        if (!*text || !*mask) {
            fprintf(stderr, "smoothcache %s: out of memory\n", a->command);
            r = CLI_EXIT_FAIL;
        }
        for (int i = 0; i < want && !r; i++) {
            const int src = rows == 1 ? 0 : i;
            memcpy(*text + (size_t)i * per, e.data + (size_t)src * per, per * sizeof **text);
            for (int j = 0; j < *L; j++) {
                const float v = k.data[(size_t)src * *L + j];
                if (v != 0.0f && v != 1.0f) {
                    r = cli_usage_error(a, "%s: %s: attention_mask[%d][%d] is %g, not 0 or 1", flag, path, src, j,
                                        (double)v);
                    break;
                }
                (*mask)[(size_t)i * *L + j] = (int32_t)v;
            }
        }
        *rows_out = want;
    }
    sc_array_free(&e);
    sc_array_free(&k);
    return r;
}

/* "a; b; c" of the prompts, for the PNG text and the report. */
static char *summary_of_list(char *const *text, int count, const char *negative)
{
    size_t cap = 64 + (negative ? strlen(negative) : 0);
    for (int i = 0; i < count; i++) cap += strlen(text[i]) + 2;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t n = 0;
    for (int i = 0; i < count; i++) n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? "; " : "", text[i]);
    if (negative && *negative) snprintf(s + n, cap - n, " (negative: %s)", negative);
    return s;
}

int cli_text_cond(const cli_args *a, sc_model *m, const sc_model_info *info, int guided, int quiet, cli_text *t)
{
    memset(t, 0, sizeof *t);
    /* --prompt: repeatable (metavar "TEXT...") where it is the command's repeatable flag, once
     * where another flag is (bench's --cache) */
    int n_cli = 0, repeatable = 0;
    for (int i = 0; i < a->n_opts; i++)
        if (!strcmp(a->opts[i].name, "--prompt")) {
            const char *mv = a->opts[i].metavar;
            repeatable = mv && strlen(mv) > 3 && !strcmp(mv + strlen(mv) - 3, "...");
        }
    const char *single = repeatable ? NULL : cli_get(a, "--prompt");
    const char *const *cli_prompts = repeatable ? cli_get_all(a, &n_cli) : single ? &single : NULL;
    if (!repeatable) n_cli = single ? 1 : 0;
    const char *file = cli_get(a, "--prompts"), *embeds = cli_get(a, "--prompt-embeds");
    const char *neg_embeds = cli_get(a, "--negative-embeds"), *negative = cli_get(a, "--negative-prompt");
    const char *encoder = cli_get(a, "--text-encoder"), *tokenizer = cli_get(a, "--tokenizer");
    if (embeds && (n_cli || file))
        return cli_usage_error(a, "--prompt-embeds: give prompts either as text (--prompt, --prompts) or as "
                                  "embeddings, not both");
    if (neg_embeds && negative) return cli_usage_error(a, "--negative-embeds and --negative-prompt: give one of them");
    if (!embeds && !n_cli && !file)
        return cli_usage_error(a, "this model draws from prompts: give --prompt TEXT (or --prompts FILE, or "
                                  "--prompt-embeds FILE.npz from smoothcache encode)");
    long max_len;
    if (cli_int(a, "--max-length", 1, 4096, 0, &max_len)) return CLI_EXIT_USAGE;
    prompt_list pl = {0};
    int r = 0;
    for (int i = 0; i < n_cli && !r; i++) {
        const size_t len = strlen(cli_prompts[i]);
        if (sc_utf8_check(cli_prompts[i], len) != len) r = cli_usage_error(a, "--prompt %d is not valid UTF-8", i + 1);
        else if (!prompts_add(&pl, cli_prompts[i], len)) r = CLI_EXIT_FAIL;
    }
    if (!r && file) {
        r = prompts_read(a, file, &pl);
        if (!r && !pl.n) r = cli_usage_error(a, "--prompts: %s holds no prompt", file);
    }
    if (!r && negative && sc_utf8_check(negative, strlen(negative)) != strlen(negative))
        r = cli_usage_error(a, "--negative-prompt is not valid UTF-8");
    if (r) {
        prompts_free(&pl);
        return r;
    }
    if (!guided && (negative || neg_embeds))
        fprintf(stderr, "smoothcache %s: note: %s has no effect without guidance (--cfg 1)\n", a->command,
                negative ? "--negative-prompt" : "--negative-embeds");
    if (!negative) negative = "";
    int L = 0, D = 0, rows = 0;
    if (embeds && (r = read_embeds(a, "--prompt-embeds", embeds, 0, &L, &D, &t->text, &t->mask, &rows))) goto done;
    t->n = embeds ? rows : pl.n;
    if (embeds && D != info->text_dim) {
        r = cli_usage_error(a, "--prompt-embeds: %s holds embeddings %d wide; the model takes %d", embeds, D,
                            info->text_dim);
        goto done;
    }
    if (guided && neg_embeds) {
        int nr;
        if ((r = read_embeds(a, "--negative-embeds", neg_embeds, t->n, &L, &D, &t->neg, &t->neg_mask, &nr))) goto done;
    }
    /* Without a negative prompt, StableAudioPipeline leaves the unconditional rows' text all zero
     * (the family does that when no negative embeddings are given); the image pipelines encode "". */
    const int encode_negative = guided && !t->neg && (cli_get(a, "--negative-prompt") || strcmp(info->family, "stable_audio"));
    /* The text encoder, when prompts or the negative prompt need one. */
    const int need_encoder = pl.n || encode_negative;
    if (need_encoder) {
        char folder[4096];
        if (!encoder && !sc_model_component_path(m, "text_encoder", folder, sizeof folder)) {
            r = cli_usage_error(a, "%s has no text_encoder/ to encode %s with: give --text-encoder PATH (a T5 "
                                   "encoder folder)%s", cli_model_path(a), pl.n ? "the prompts" : "the negative prompt",
                                pl.n ? " or --prompt-embeds FILE.npz" : ", --negative-embeds FILE.npz or --cfg 1");
            goto done;
        }
        const char *enc_path = encoder ? encoder : cli_model_path(a);
        sc_load_opts lo = {0};
        if ((r = cli_dtype(a, &lo.dtype))) goto done;
        sc_tokenizer *tok = NULL;
        sc_text_encoder *enc = NULL;
        if (sc_tokenizer_load(tokenizer ? tokenizer : enc_path, SC_TOKENIZER_TRANSFORMERS, &tok) != SC_OK ||
            sc_text_encoder_load_opts(enc_path, &lo, &enc) != SC_OK) {
            r = cli_fail(a);
            sc_tokenizer_free(tok);
            goto done;
        }
        sc_text_encoder_info ei;
        sc_text_encoder_get_info(enc, &ei);
        sc_tokenizer_info ti;
        sc_tokenizer_get_info(tok, &ti);
        if (!L) {
            L = max_len ? (int)max_len : info->text_len;
            /* StableAudioPipeline pads to its tokenizer's model_max_length (Stable Audio Open's: 128). */
            if (!max_len && !strcmp(info->family, "stable_audio") && ti.model_max_length > 0 &&
                ti.model_max_length <= 4096)
                L = ti.model_max_length;
        } else if (max_len && max_len != L) {
            r = cli_usage_error(a, "--max-length %ld: the embeddings given have %d tokens", max_len, L);
            sc_text_encoder_free(enc);
            sc_tokenizer_free(tok);
            goto done;
        }
        /* The prompts, then the negative prompt as one more row. */
        const int k = pl.n + (encode_negative ? 1 : 0);
        const char **list = malloc((size_t)k * sizeof *list);
        float *emb = malloc((size_t)k * L * ei.width * sizeof *emb);
        int32_t *mask = malloc((size_t)k * L * sizeof *mask);
        if (!list || !emb || !mask) {
            fprintf(stderr, "smoothcache %s: out of memory for %d prompts of %d tokens\n", a->command, k, L);
            r = CLI_EXIT_FAIL;
        }
        for (int i = 0; i < pl.n && !r; i++) list[i] = pl.text[i];
        if (!r && k > pl.n) list[pl.n] = negative;
        if (!quiet && !r)
            fprintf(stderr, "encoding %d prompt%s%s with %s (%s)\n", pl.n, pl.n == 1 ? "" : "s",
                    k > pl.n ? " and the negative prompt" : "", ei.variant, ei.compute_dtype);
        /* A prompt longer than L tokens is cut, as the pipelines cut it: said, once per prompt. */
        int32_t *probe = r ? NULL : malloc((size_t)L * sizeof *probe);
        for (int i = 0; probe && i < k; i++) {
            int cnt = 0;
            if (sc_tokenize(tok, list[i], strlen(list[i]), 0, probe, NULL, L, &cnt) != SC_ERR_ARG) continue;
            char which[32] = "the negative prompt";
            if (i < pl.n) snprintf(which, sizeof which, "prompt %d", i + 1);
            fprintf(stderr, "smoothcache %s: note: %s is longer than %d tokens: cut to its first %d pieces and </s>, "
                            "as the pipeline cuts it\n", a->command, which, L, L - 1);
        }
        free(probe);
        if (!r && sc_encode_prompts(m, tok, enc, k, list, L, emb, mask, 0) != SC_OK) r = cli_fail(a);
        sc_text_encoder_free(enc);
        sc_tokenizer_free(tok);
        free(list);
        D = ei.width;
        const size_t per = (size_t)L * D;
        if (!r && pl.n) {
            t->text = malloc((size_t)pl.n * per * sizeof *t->text);
            t->mask = malloc((size_t)pl.n * L * sizeof *t->mask);
            if (t->text && t->mask) {
                memcpy(t->text, emb, (size_t)pl.n * per * sizeof *emb);
                memcpy(t->mask, mask, (size_t)pl.n * L * sizeof *mask);
            } else {
                r = CLI_EXIT_FAIL;
            }
        }
        if (!r && k > pl.n) { /* the negative row, once per sample */
            t->neg = malloc((size_t)t->n * per * sizeof *t->neg);
            t->neg_mask = malloc((size_t)t->n * L * sizeof *t->neg_mask);
            for (int i = 0; t->neg && t->neg_mask && i < t->n; i++) {
                memcpy(t->neg + (size_t)i * per, emb + (size_t)pl.n * per, per * sizeof *emb);
                memcpy(t->neg_mask + (size_t)i * L, mask + (size_t)pl.n * L, (size_t)L * sizeof *mask);
            }
            if (!t->neg || !t->neg_mask) r = CLI_EXIT_FAIL;
        }
        free(emb);
        free(mask);
        if (r == CLI_EXIT_FAIL && !t->neg) fprintf(stderr, "smoothcache %s: out of memory\n", a->command);
        if (r) goto done;
    }
    t->L = L;
    t->D = D;
    if (pl.n) { /* the lists' strings move over */
        t->prompts = pl.text;
        pl.text = NULL;
        pl.n = 0;
    }
    t->summary = embeds ? NULL : summary_of_list(t->prompts, t->n, negative);
    if (!t->summary) {
        const size_t cap = strlen(embeds ? embeds : "") + 64;
        t->summary = malloc(cap);
        if (t->summary) snprintf(t->summary, cap, "embeddings from %s", embeds ? embeds : "?");
    }
done:
    prompts_free(&pl);
    if (r) cli_text_free(t);
    return r;
}

void cli_text_to_cond(const cli_text *t, sc_cond *c)
{
    memset(c, 0, sizeof *c);
    c->n = t->n;
    c->text = t->text;
    c->text_mask = (const int *)t->mask;
    c->neg_text = t->neg;
    c->neg_text_mask = (const int *)t->neg_mask;
    c->text_len = t->L;
    c->text_dim = t->D;
}

int cli_text_flags_unused(const cli_args *a)
{
    static const char *const flags[] = {"--negative-prompt", "--negative-embeds", "--text-encoder", "--tokenizer",
                                        "--max-length"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (cli_get(a, flags[i]))
            return cli_usage_error(a, "%s: this model is class-conditional: it takes no text (--class N)", flags[i]);
    return 0;
}
