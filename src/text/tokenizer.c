/* Loading (which file, which semantics) and encoding. tokenizer.json is read by
 * text/hf_json.c; spiece.model by text/spm_model.c. */
#include "text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "text/spm_model.h"
#include "text/utf8.h"

sc_status hf_json_load(tokenizer *t, const char *path);
sc_status hf_json_from_object(tokenizer *t, const json_t *j, const char *path);

void tokenizer_free(tokenizer *t)
{
    if (!t) return;
    charsmap_free(&t->map);
    unigram_free(&t->uni);
    if (t->vocab)
        for (int i = 0; i < t->vocab_size; i++) free(t->vocab[i]);
    free(t->vocab);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].text);
    free(t->added);
    free(t);
}

/* ------------------------------------------------------------------ encoding */

/* The longest added token at s[0 ..), or NULL. */
static const tok_added *added_at(const tokenizer *t, const uint8_t *s, size_t n)
{
    const tok_added *best = NULL;
    for (int i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        if (a->len <= n && (!best || a->len > best->len) && !memcmp(s, a->text, a->len)) best = a;
    }
    return best;
}

/* Metaspace on one word (no whitespace in it): prepend, then cut before every replacement. */
static void metaspace_word(const tokenizer *t, const uint8_t *w, size_t n, text_buf *tmp, id_buf *out)
{
    tmp->n = 0;
    const size_t m = t->meta_len;
    if (t->prepend && !(n >= m && !memcmp(w, t->meta, m))) tb_add(tmp, t->meta, m);
    for (size_t i = 0; i < n; i++) {
        if (w[i] == ' ') tb_add(tmp, t->meta, m);
        else tb_add(tmp, w + i, 1);
    }
    if (tmp->failed) {
        out->failed = 1;
        return;
    }
    if (!t->meta_split) {
        unigram_encode(&t->uni, tmp->p, tmp->n, out);
        return;
    }
    size_t start = 0;
    for (size_t i = m; i + m <= tmp->n; i++)
        if (!memcmp(tmp->p + i, t->meta, m)) {
            if (i > start) unigram_encode(&t->uni, tmp->p + start, i - start, out);
            start = i;
            i += m - 1;
        }
    if (tmp->n > start) unigram_encode(&t->uni, tmp->p + start, tmp->n - start, out);
}

/* One segment of text between added tokens: normalise, split on whitespace, Metaspace, model. */
static void transformers_segment(const tokenizer *t, const uint8_t *s, size_t n, text_buf *norm, text_buf *tmp,
                                 id_buf *out)
{
    norm->n = 0;
    if (t->has_map) hf_precompiled(&t->map, s, n, norm);
    else tb_add(norm, s, n);
    if (norm->failed) {
        out->failed = 1;
        return;
    }
    const uint8_t *p = norm->p;
    const size_t len = norm->n;
    if (!t->whitespace_split) {
        if (t->metaspace) metaspace_word(t, p, len, tmp, out);
        else unigram_encode(&t->uni, p, len, out);
        return;
    }
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int k = utf8_decode(p + i, len - i, &cp);
        if (!k) k = 1, cp = 0xFFFD;
        if (utf8_is_white_space(cp)) {
            i += (size_t)k;
            continue;
        }
        size_t j = i + (size_t)k;
        while (j < len) {
            k = utf8_decode(p + j, len - j, &cp);
            if (!k) k = 1, cp = 0xFFFD;
            if (utf8_is_white_space(cp)) break;
            j += (size_t)k;
        }
        if (t->metaspace) metaspace_word(t, p + i, j - i, tmp, out);
        else unigram_encode(&t->uni, p + i, j - i, out);
        i = j;
    }
}

static int is_ws_at(const uint8_t *s, size_t n, size_t i, int *k)
{
    uint32_t cp;
    *k = utf8_decode(s + i, n - i, &cp);
    return *k && utf8_is_white_space(cp);
}

static void encode_transformers(const tokenizer *t, const uint8_t *s, size_t n, id_buf *out)
{
    text_buf norm = {0}, tmp = {0};
    size_t seg = 0, i = 0;
    while (i < n) {
        const tok_added *a = added_at(t, s + i, n - i);
        if (!a) {
            i += (size_t)utf8_len_of_lead(s[i]);
            continue;
        }
        /* lstrip / rstrip: the token swallows the whitespace beside it. */
        size_t left = i, right = i + a->len;
        if (a->lstrip)
            while (left > seg) {
                size_t b = left - 1;
                while (b > seg && (s[b] & 0xC0) == 0x80) b--;
                int k;
                if (!is_ws_at(s, n, b, &k)) break;
                left = b;
            }
        if (a->rstrip) {
            int k;
            while (right < n && is_ws_at(s, n, right, &k)) right += (size_t)k;
        }
        if (left > seg) transformers_segment(t, s + seg, left - seg, &norm, &tmp, out);
        ib_add(out, a->id);
        seg = i = right;
    }
    if (n > seg) transformers_segment(t, s + seg, n - seg, &norm, &tmp, out);
    tb_free(&norm);
    tb_free(&tmp);
}

static void encode_sentencepiece(const tokenizer *t, const uint8_t *s, size_t n, id_buf *out)
{
    text_buf norm = {0};
    spm_normalize(&t->norm, s, n, &norm);
    if (norm.failed) out->failed = 1;
    else unigram_encode(&t->uni, norm.p, norm.n, out);
    tb_free(&norm);
}

sc_status tokenizer_pieces(const tokenizer *t, const char *text, size_t len, id_buf *out)
{
    const size_t bad = utf8_check((const uint8_t *)text, len);
    if (bad != len) return err_fail(SC_ERR_ARG, "the text is not valid UTF-8 (byte %zu)", bad);
    if (t->sem == TOK_TRANSFORMERS) encode_transformers(t, (const uint8_t *)text, len, out);
    else encode_sentencepiece(t, (const uint8_t *)text, len, out);
    if (out->failed) return err_fail(SC_ERR_NOMEM, "out of memory while tokenizing");
    return SC_OK;
}

sc_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int max_length, id_buf *out)
{
    const int specials = t->n_before + t->n_after;
    if (max_length && max_length < specials)
        return err_fail(SC_ERR_ARG, "a maximum length of %d leaves no room for the %d special tokens", max_length, specials);
    id_buf pieces = {0};
    sc_status s = tokenizer_pieces(t, text, len, &pieces);
    if (s) {
        ib_free(&pieces);
        return s;
    }
    size_t keep = pieces.n;
    if (max_length && keep > (size_t)(max_length - specials)) keep = (size_t)(max_length - specials);
    for (int i = 0; i < t->n_before; i++) ib_add(out, t->post_before[i]);
    for (size_t i = 0; i < keep; i++) ib_add(out, pieces.p[i]);
    for (int i = 0; i < t->n_after; i++) ib_add(out, t->post_after[i]);
    ib_free(&pieces);
    if (out->failed) return err_fail(SC_ERR_NOMEM, "out of memory while tokenizing");
    return SC_OK;
}

/* ------------------------------------------------------------------ loading spiece.model */

static sc_status keep_vocab(tokenizer *t, int n, char *const *pieces)
{
    t->vocab = calloc((size_t)n, sizeof *t->vocab);
    if (!t->vocab) return err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    t->vocab_size = n;
    for (int i = 0; i < n; i++)
        if (!(t->vocab[i] = strdup(pieces[i]))) return err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    return SC_OK;
}

static sc_status from_spm_sentencepiece(tokenizer *t, const spm_model *m)
{
    const int n = m->n;
    double *score = malloc((size_t)n * sizeof *score);
    uint8_t *flags = malloc((size_t)n), *normal = malloc((size_t)n);
    sc_status s = score && flags && normal ? SC_OK : err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    int users = 0;
    for (int i = 0; !s && i < n; i++) {
        const int ty = m->type[i];
        score[i] = m->score[i];
        normal[i] = ty == SPM_NORMAL;
        flags[i] = ty == SPM_NORMAL || ty == SPM_USER_DEFINED || ty == SPM_UNUSED ? UNI_IN_TRIE : 0;
        if (ty == SPM_USER_DEFINED) flags[i] |= UNI_USER_DEFINED, users++;
        if (ty == SPM_UNUSED) flags[i] |= UNI_SKIP;
    }
    if (!s) s = unigram_init(&t->uni, UNIGRAM_SENTENCEPIECE, n, (const char *const *)m->piece, m->piece_len, score,
                             flags, normal, m->unk_id, t->path);
    free(score);
    free(flags);
    free(normal);
    if (s) return s;
    if (m->eos_id < 0) return err_fail(SC_ERR_FORMAT, "%s: the model has no </s> (eos_id -1); T5 appends it", t->path);
    t->eos_id = m->eos_id;
    t->pad_id = m->pad_id >= 0 ? m->pad_id : m->eos_id;
    t->post_after[0] = m->eos_id;
    t->n_after = 1;
    t->norm = (spm_norm){&t->map, users ? &t->uni : NULL, m->add_dummy_prefix, m->remove_extra_whitespaces,
                         m->escape_whitespaces};
    return keep_vocab(t, n, m->piece);
}

static sc_status add_special(tokenizer *t, const char *text, int32_t id)
{
    tok_added *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    t->added = a;
    a = &t->added[t->n_added];
    memset(a, 0, sizeof *a);
    if (!(a->text = strdup(text))) return err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    a->len = strlen(text);
    a->id = id;
    t->n_added++;
    return SC_OK;
}

/* The id of a piece (the last one of that text, as a hash map would keep), or -1. */
static int32_t find_piece(const tokenizer *t, const char *text)
{
    for (int i = t->vocab_size - 1; i >= 0; i--)
        if (!strcmp(t->vocab[i], text)) return i;
    return -1;
}

/* As transformers' T5Tokenizer builds itself from spiece.model: the pieces and then the
 * sentinels <extra_id_{E-1}> .. <extra_id_0> (score 0) as one Unigram vocabulary with unknown id
 * 2; the model's character map as the Precompiled normaliser; WhitespaceSplit then Metaspace
 * (U+2581, prepend always, split); <pad>, </s>, <unk> and the sentinels as special tokens;
 * "$A </s>" after. */
static sc_status from_spm_transformers(tokenizer *t, const spm_model *m, int extra_ids)
{
    const int n = m->n + extra_ids;
    char **pieces = calloc((size_t)n, sizeof *pieces);
    uint32_t *len = malloc((size_t)n * sizeof *len);
    double *score = malloc((size_t)n * sizeof *score);
    uint8_t *flags = malloc((size_t)n);
    sc_status s = pieces && len && score && flags ? SC_OK : err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
    for (int i = 0; !s && i < n; i++) {
        if (i < m->n) {
            pieces[i] = strdup(m->piece[i]);
            score[i] = m->score[i];
        } else {
            char name[32];
            snprintf(name, sizeof name, "<extra_id_%d>", n - 1 - i);
            pieces[i] = strdup(name);
            score[i] = 0.0;
        }
        if (!pieces[i]) s = err_fail(SC_ERR_NOMEM, "out of memory for %s", t->path);
        else len[i] = (uint32_t)strlen(pieces[i]);
        flags[i] = UNI_IN_TRIE;
    }
    if (!s && (m->n <= 2 || m->type[2] != SPM_UNKNOWN))
        s = err_fail(SC_ERR_FORMAT, "%s: piece 2 is not <unk>, which transformers' T5Tokenizer takes as the unknown id "
                                    "(read it with the sentencepiece semantics instead)", t->path);
    if (!s) s = unigram_init(&t->uni, UNIGRAM_TOKENIZERS, n, (const char *const *)pieces, len, score, flags, NULL, 2, t->path);
    if (!s) s = keep_vocab(t, n, pieces);
    if (pieces)
        for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
    free(len);
    free(score);
    free(flags);
    if (s) return s;
    t->whitespace_split = 1;
    t->metaspace = 1;
    memcpy(t->meta, "\xE2\x96\x81", 4);
    t->meta_len = 3;
    t->prepend = 1;
    t->meta_split = 1;
    static const char *const specials[3] = {"<pad>", "</s>", "<unk>"};
    int32_t ids[3];
    for (int k = 0; k < 3; k++) {
        if ((ids[k] = find_piece(t, specials[k])) < 0)
            return err_fail(SC_ERR_FORMAT, "%s: no piece \"%s\", which T5's tokenizer needs", t->path, specials[k]);
        if ((s = add_special(t, specials[k], ids[k]))) return s;
    }
    for (int k = 0; k < extra_ids; k++) {
        char name[32];
        snprintf(name, sizeof name, "<extra_id_%d>", k);
        if ((s = add_special(t, name, find_piece(t, name)))) return s;
    }
    t->pad_id = ids[0];
    t->eos_id = ids[1];
    t->post_after[0] = ids[1];
    t->n_after = 1;
    return SC_OK;
}

/* tokenizer_config.json beside the tokenizer: extra_ids and model_max_length, when present. */
static sc_status read_config(const char *dir, int *extra_ids, int *max_length)
{
    char path[4096];
    *extra_ids = 100;
    *max_length = 0;
    if (file_join(path, sizeof path, dir, "tokenizer_config.json") || !file_is_regular(path)) return SC_OK;
    json_t *j;
    /* Numbers as doubles: transformers writes model_max_length 1e30 ("no limit") as an integer
     * of 31 digits. */
    sc_status s = json_load_object_file_reals(path, 16u << 20, &j);
    if (s) return s;
    const json_t *e = json_object_get(j, "extra_ids"), *ml = json_object_get(j, "model_max_length");
    if (e) {
        const double v = json_number_value(e);
        if (!json_is_number(e) || v != (double)(int)v || v < 0 || v > 10000)
            s = err_fail(SC_ERR_FORMAT, "%s: \"extra_ids\" is not a whole number in 0..10000", path);
        else *extra_ids = (int)v;
    }
    if (!s && json_is_number(ml) && json_number_value(ml) >= 1 && json_number_value(ml) <= 1000000 &&
        json_number_value(ml) == (double)(int)json_number_value(ml))
        *max_length = (int)json_number_value(ml);
    json_decref(j);
    return s;
}

static sc_status from_spm_bytes(tokenizer *t, const uint8_t *data, size_t len, const char *what, int extra_ids);

static sc_status load_spm(tokenizer *t, const char *file, const char *dir)
{
    int extra_ids, max_len;
    sc_status s = read_config(dir, &extra_ids, &max_len);
    if (s) return s;
    t->model_max_length = max_len;
    file_mapping f;
    if ((s = file_map(file, &f))) return s;
    if (f.size > (1u << 30)) s = err_fail(SC_ERR_FORMAT, "%s: %llu bytes is larger than a tokenizer model may be", file,
                                          (unsigned long long)f.size);
    else s = from_spm_bytes(t, f.data, (size_t)f.size, file, extra_ids);
    file_unmap(&f);
    return s;
}

static sc_status from_spm_bytes(tokenizer *t, const uint8_t *data, size_t len, const char *what, int extra_ids)
{
    spm_model m;
    sc_status s = spm_model_parse(data, len, what, &m);
    if (s) return s;
    s = charsmap_init(&t->map, m.charsmap, m.charsmap_len, what);
    t->has_map = !s && t->map.n_units > 0;
    if (!s) s = t->sem == TOK_SENTENCEPIECE ? from_spm_sentencepiece(t, &m) : from_spm_transformers(t, &m, extra_ids);
    spm_model_free(&m);
    return s;
}

sc_status tokenizer_from_spm_bytes(const uint8_t *data, size_t len, tok_semantics sem, const char *what,
                                   tokenizer **out)
{
    *out = NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return err_fail(SC_ERR_NOMEM, "out of memory");
    t->sem = sem;
    snprintf(t->path, sizeof t->path, "%s", what);
    sc_status s = from_spm_bytes(t, data, len, what, 100);
    if (s) tokenizer_free(t);
    else *out = t;
    return s;
}

sc_status tokenizer_from_json_text(const char *text, size_t len, const char *what, tokenizer **out)
{
    *out = NULL;
    json_t *j;
    sc_status s = json_parse(text, len, what, &j);
    if (s) return s;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) s = err_fail(SC_ERR_NOMEM, "out of memory");
    if (!s) {
        t->sem = TOK_TRANSFORMERS;
        snprintf(t->path, sizeof t->path, "%s", what);
        s = json_is_object(j) ? hf_json_from_object(t, j, what) : err_fail(SC_ERR_FORMAT, "%s: not a JSON object", what);
    }
    json_decref(j);
    if (s) tokenizer_free(t);
    else *out = t;
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

sc_status tokenizer_load(const char *path, tok_semantics sem, tokenizer **out)
{
    *out = NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return err_fail(SC_ERR_NOMEM, "out of memory");
    t->sem = sem;
    char dir[4096], probe[4096];
    sc_status s = SC_OK;
    if (strlen(path) >= sizeof dir) s = err_fail(SC_ERR_ARG, "%.60s...: path too long", path);
    if (!s && file_is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        /* A pipeline folder: its tokenizer/. */
        if (!file_join(probe, sizeof probe, dir, "model_index.json") && file_is_regular(probe)) {
            if ((s = file_join(probe, sizeof probe, dir, "tokenizer"))) goto done;
            if (!file_is_dir(probe)) {
                s = err_fail(SC_ERR_FORMAT, "%s: a pipeline folder without tokenizer/", path);
                goto done;
            }
            snprintf(dir, sizeof dir, "%s", probe);
        }
        char json_path[4096], spm_path[4096];
        const int has_json = !file_join(json_path, sizeof json_path, dir, "tokenizer.json") && file_is_regular(json_path);
        const int has_spm = !file_join(spm_path, sizeof spm_path, dir, "spiece.model") && file_is_regular(spm_path);
        if (sem == TOK_TRANSFORMERS && has_json) {
            snprintf(t->path, sizeof t->path, "%s", json_path);
            int extra_ids;
            s = read_config(dir, &extra_ids, &t->model_max_length);
            if (!s) s = hf_json_load(t, json_path);
        } else if (has_spm) {
            snprintf(t->path, sizeof t->path, "%s", spm_path);
            s = load_spm(t, spm_path, dir);
        } else {
            char list[512];
            file_list_dir(dir, list, sizeof list);
            s = err_fail(SC_ERR_FORMAT, "%s: no %s (found %s)", dir,
                         sem == TOK_TRANSFORMERS ? "tokenizer.json or spiece.model" : "spiece.model", list);
        }
    } else if (!s) {
        snprintf(t->path, sizeof t->path, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        if (ends_with(path, ".json")) {
            if (sem == TOK_SENTENCEPIECE)
                s = err_fail(SC_ERR_ARG, "%s: the sentencepiece semantics read spiece.model, not tokenizer.json", path);
            else {
                int extra_ids;
                s = read_config(dir, &extra_ids, &t->model_max_length);
                if (!s) s = hf_json_load(t, path);
            }
        } else {
            s = load_spm(t, path, dir);
        }
    }
done:
    if (s) {
        tokenizer_free(t);
        return s;
    }
    *out = t;
    return SC_OK;
}
