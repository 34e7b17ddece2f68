/* smoothcache encode: prompts -> T5 token ids, attention masks and embeddings in one .npz, so that
 * prompts are encoded once and reused (a calibration set, a sweep, a batch job). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/prompts.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    {"--model", "PATH", "a pipeline folder (tokenizer/ and text_encoder/) or a T5 encoder folder (config.json, "
                        "model.safetensors, and its tokenizer files unless --tokenizer names them)"},
    {"--tokenizer", "PATH", "tokenizer.json, spiece.model or their folder (default: from --model)"},
    {"--semantics", "NAME", "transformers (default: as the pipelines tokenize) or sentencepiece (the "
                            "sentencepiece library's encode of spiece.model)"},
    {"--prompt", "TEXT...", "a prompt (repeat the flag for more)"},
    {"--prompts", "FILE", "UTF-8 text, one prompt a line (an empty line is the empty prompt; '-': the standard input)"},
    {"--max-length", "N", "tokens per prompt, 1..4096: longer prompts are cut (</s> kept), shorter padded "
                          "(default: the longest prompt, cut at the tokenizer's model_max_length; a Stable Audio "
                          "pipeline: model_max_length, as its pipeline pads)"},
    {"--threads", "N", "threads, 1..CPUs; 0 or absent: all CPUs"},
    CLI_DTYPE_OPT,
    {"--out", "FILE.npz", "input_ids int32 [n, L], attention_mask int32 [n, L], prompt_embeds float32 [n, L, D]"},
    {"--force", NULL, "overwrite --out if it exists"},
    {"--quiet", NULL, "no progress, no summary"},
};

static const char k_epilog[] =
    "The prompts keep their order; a prompt given twice is encoded once. Padded positions of\n"
    "prompt_embeds hold what the encoder computes there (pipelines mask or zero them).\n"
    "examples:\n"
    "  smoothcache encode --model PixArt-XL-2-512x512/ --prompt \"a red fox in snow\" --max-length 120 --out fox.npz\n"
    "  smoothcache encode --model t5-base/ --prompts prompts.txt --out embeds.npz\n";

static const prompt_list *g_sort; /* qsort's comparator has no context argument */

static int cmp_prompt(const void *x, const void *y)
{
    const int p = *(const int *)x, q = *(const int *)y;
    const size_t lp = g_sort->len[p], lq = g_sort->len[q];
    const int c = memcmp(g_sort->text[p], g_sort->text[q], lp < lq ? lp : lq);
    if (c) return c;
    if (lp != lq) return lp < lq ? -1 : 1;
    return p < q ? -1 : p > q;
}

/* first[i]: the index of the first prompt equal to prompt i (i itself when none comes before). */
static int *first_of_each(const prompt_list *l)
{
    int *first = malloc((size_t)l->n * sizeof *first), *order = malloc((size_t)l->n * sizeof *order);
    if (!first || !order) {
        free(first);
        free(order);
        return NULL;
    }
    for (int i = 0; i < l->n; i++) order[i] = first[i] = i;
    g_sort = l;
    qsort(order, (size_t)l->n, sizeof *order, cmp_prompt); /* by text, then index */
    for (int i = 1; i < l->n; i++) {
        const int p = order[i - 1], q = order[i];
        if (l->len[p] == l->len[q] && !memcmp(l->text[p], l->text[q], l->len[p])) first[q] = first[p];
    }
    free(order);
    return first;
}

/* The tokenizer beside the model: --tokenizer, a pipeline's tokenizer/ (the library finds it),
 * or the encoder folder itself. */
/* 1 when `dir` is a pipeline folder whose model_index.json names StableAudioPipeline: its prompts
 * are padded to the tokenizer's model_max_length, because its DiT attends to every padded token. */
static int pads_to_max_length(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/model_index.json", dir) >= (int)sizeof path) return 0;
    json_t *j = json_load_file(path, 0, NULL);
    const json_t *c = j ? json_object_get(j, "_class_name") : NULL;
    const int yes = json_is_string(c) && !strcmp(json_string_value(c), "StableAudioPipeline");
    json_decref(j);
    return yes;
}

static const char *tokenizer_path(const cli_args *a)
{
    const char *t = cli_get(a, "--tokenizer");
    return t ? t : cli_get(a, "--model");
}

int cmd_encode(int argc, char **argv)
{
    cli_args a = {"encode", "Encode prompts with a T5 text encoder: token ids, masks and embeddings in one .npz.",
                  "--model PATH (--prompt TEXT ... | --prompts FILE) --out FILE.npz [options]", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_dtype dtype_check; /* a bad --dtype is a usage error before any file is looked at */
    if (cli_dtype(&a, &dtype_check)) return CLI_EXIT_USAGE;
    const char *model = cli_get(&a, "--model"), *out = cli_get(&a, "--out"), *file = cli_get(&a, "--prompts");
    const char *sem_name = cli_get(&a, "--semantics");
    const int force = cli_get(&a, "--force") != NULL, quiet = cli_get(&a, "--quiet") != NULL;
    int n_cli;
    const char *const *cli_prompts = cli_get_all(&a, &n_cli);
    if (!model) return cli_usage_error(&a, "--model is required (a pipeline folder or a T5 encoder folder)");
    if (!out) return cli_usage_error(&a, "--out FILE.npz is required");
    if ((r = cli_path_ext(&a, "--out", ".npz"))) return r;
    if (!n_cli && !file) return cli_usage_error(&a, "no prompts: give --prompt TEXT or --prompts FILE");
    sc_tokenizer_semantics sem = SC_TOKENIZER_TRANSFORMERS;
    if (sem_name && !strcmp(sem_name, "sentencepiece")) sem = SC_TOKENIZER_SENTENCEPIECE;
    else if (sem_name && strcmp(sem_name, "transformers"))
        return cli_usage_error(&a, "--semantics: '%s' is not transformers or sentencepiece", sem_name);
    long max_len;
    if (cli_int(&a, "--max-length", 1, 4096, 0, &max_len)) return CLI_EXIT_USAGE;
    int threads;
    if ((r = cli_threads(&a, &threads))) return r;
    if (sc_output_check(out, force) != SC_OK) return cli_fail(&a);
    sc_set_quiet(quiet);

    prompt_list pl = {0};
    for (int i = 0; i < n_cli; i++) {
        const size_t len = strlen(cli_prompts[i]);
        if (sc_utf8_check(cli_prompts[i], len) != len) {
            prompts_free(&pl);
            return cli_usage_error(&a, "--prompt %d is not valid UTF-8", i + 1);
        }
        if (!prompts_add(&pl, cli_prompts[i], len)) {
            prompts_free(&pl);
            return CLI_EXIT_FAIL;
        }
    }
    if (file && (r = prompts_read(&a, file, &pl))) {
        prompts_free(&pl);
        return r;
    }
    if (!pl.n) {
        prompts_free(&pl);
        return cli_usage_error(&a, "%s holds no prompt", file);
    }
    sc_load_opts lo = {0};
    if ((r = cli_dtype(&a, &lo.dtype))) {
        prompts_free(&pl);
        return r;
    }
    sc_tokenizer *tok = NULL;
    sc_text_encoder *enc = NULL;
    int32_t *ids = NULL, *mask = NULL;
    float *emb = NULL;
    int *first = NULL;
    r = CLI_EXIT_FAIL;
    if (sc_tokenizer_load(tokenizer_path(&a), sem, &tok) != SC_OK) {
        const int missing = strstr(sc_last_error(), ": no tokenizer.json or spiece.model") != NULL;
        r = cli_fail(&a);
        if (missing && !cli_get(&a, "--tokenizer"))
            fprintf(stderr, "smoothcache encode: (a T5 encoder folder without its tokenizer: name it with --tokenizer "
                            "PATH, or give the pipeline folder that holds tokenizer/ and text_encoder/)\n");
        goto done;
    }
    if (sc_text_encoder_load_opts(model, &lo, &enc) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    sc_tokenizer_info ti;
    sc_text_encoder_info ei;
    sc_tokenizer_get_info(tok, &ti);
    sc_text_encoder_get_info(enc, &ei);
    if (ti.vocab_size > ei.vocab_size) {
        fprintf(stderr, "smoothcache encode: the tokenizer (%s) makes ids up to %d but the encoder (%s) embeds %d\n",
                ti.path, ti.vocab_size - 1, ei.path, ei.vocab_size);
        goto done;
    }
    /* L: --max-length, else the longest prompt (cut at model_max_length when the tokenizer states one). */
    int L = (int)max_len;
    const int cap = 1 << 16;
    int32_t *row = malloc((size_t)cap * sizeof *row);
    if (!row) goto done;
    if (!L) {
        for (int i = 0; i < pl.n; i++) {
            int k;
            if (sc_tokenize(tok, pl.text[i], pl.len[i], 0, row, NULL, cap, &k) != SC_OK) {
                free(row);
                r = cli_fail(&a);
                goto done;
            }
            if (k > L) L = k;
        }
        if (ti.model_max_length && L > ti.model_max_length) L = ti.model_max_length;
        /* Stable Audio: the pipeline's padding, so that the embeddings give what --prompt gives. */
        if (ti.model_max_length > 0 && ti.model_max_length <= 4096 && pads_to_max_length(model)) L = ti.model_max_length;
    }
    free(row);
    const size_t D = (size_t)ei.width;
    ids = malloc((size_t)pl.n * L * sizeof *ids);
    mask = malloc((size_t)pl.n * L * sizeof *mask);
    emb = malloc((size_t)pl.n * L * D * sizeof *emb);
    first = first_of_each(&pl);
    if (!ids || !mask || !emb || !first) {
        fprintf(stderr, "smoothcache encode: out of memory for %d prompts of %d tokens\n", pl.n, L);
        goto done;
    }
    int unique = 0, cut = 0;
    for (int i = 0; i < pl.n; i++) {
        int k;
        if (sc_tokenize(tok, pl.text[i], pl.len[i], L, ids + (size_t)i * L, mask + (size_t)i * L, L, &k) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
        if (first[i] == i) unique++;
        int full;
        static int32_t probe[1 << 16];
        if (sc_tokenize(tok, pl.text[i], pl.len[i], 0, probe, NULL, 1 << 16, &full) == SC_OK && full > L) cut++;
    }
    /* Encode the first copy of every prompt, 8 at a time, and copy the rows of repeats. */
    enum { BATCH = 8 };
    int32_t *bid = malloc((size_t)BATCH * L * sizeof *bid), *bmask = malloc((size_t)BATCH * L * sizeof *bmask);
    float *bout = malloc((size_t)BATCH * L * D * sizeof *bout);
    if (!bid || !bmask || !bout) {
        free(bid);
        free(bmask);
        free(bout);
        fprintf(stderr, "smoothcache encode: out of memory\n");
        goto done;
    }
    int done_n = 0;
    cli_progress ps;
    cli_progress_init(&ps, "encode", "prompt", quiet);
    for (int i = 0; i < pl.n;) {
        int idx[BATCH], b = 0;
        for (; i < pl.n && b < BATCH; i++)
            if (first[i] == i) idx[b++] = i;
        if (!b) break;
        for (int k = 0; k < b; k++) { /* rows idx[k] -> k: [b, L] */
            memcpy(bid + (size_t)k * L, ids + (size_t)idx[k] * L, (size_t)L * sizeof *bid);
            memcpy(bmask + (size_t)k * L, mask + (size_t)idx[k] * L, (size_t)L * sizeof *bmask);
        }
        if (sc_text_encode(enc, b, L, bid, bmask, bout, threads) != SC_OK) { /* bout [b, L, D] */
            free(bid);
            free(bmask);
            free(bout);
            r = cli_fail(&a);
            goto done;
        }
        for (int k = 0; k < b; k++)
            memcpy(emb + (size_t)idx[k] * L * D, bout + (size_t)k * L * D, (size_t)L * D * sizeof *emb);
        done_n += b;
        cli_progress_update(&ps, done_n, unique, -1);
    }
    free(bid);
    free(bmask);
    free(bout);
    cli_progress_end(&ps);
    for (int i = 0; i < pl.n; i++)
        if (first[i] != i) memcpy(emb + (size_t)i * L * D, emb + (size_t)first[i] * L * D, (size_t)L * D * sizeof *emb);
    const uint64_t s2[2] = {(uint64_t)pl.n, (uint64_t)L}, s3[3] = {(uint64_t)pl.n, (uint64_t)L, D};
    const sc_npz_array arrays[3] = {{"input_ids", "<i4", 2, s2, ids},
                                    {"attention_mask", "<i4", 2, s2, mask},
                                    {"prompt_embeds", "<f4", 3, s3, emb}};
    if (sc_npz_write(out, 3, arrays, force) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "encoded %d prompt%s (%d distinct) to %d tokens with %s (%s weights computed in %s, %s tokenizer)",
                pl.n, pl.n == 1 ? "" : "s", unique, L, ei.variant, ei.dtype, ei.compute_dtype, ti.semantics);
        if (cut) fprintf(stderr, "; %d cut to fit", cut);
        fprintf(stderr, "\nwrote %s\n", out);
    }
    r = 0;
done:
    free(ids);
    free(mask);
    free(emb);
    free(first);
    sc_tokenizer_free(tok);
    sc_text_encoder_free(enc);
    prompts_free(&pl);
    return r;
}
