/* tokenizer.json, Hugging Face tokenizers' serialised pipeline, as far as T5's tokenizers use
 * it: a Precompiled normaliser (alone or in a Sequence), WhitespaceSplit and Metaspace
 * pre-tokenizers, a Unigram model, a TemplateProcessing post-processor and added tokens split
 * from the raw text. Any other component is refused by name rather than approximated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/base64.h"
#include "io/json.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

#define HF_JSON_CAP (256u << 20)

static const char *type_of(const json_t *o) { return json_string_value(json_object_get(o, "type")); }

static sc_status normalizer(tokenizer *t, const json_t *n, const char *path, int depth)
{
    if (!n || json_is_null(n)) return SC_OK;
    const char *type = type_of(n);
    if (!json_is_object(n) || !type) return err_fail(SC_ERR_FORMAT, "%s: \"normalizer\" has no \"type\"", path);
    if (!strcmp(type, "Sequence") && depth == 0) {
        const json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list)) return err_fail(SC_ERR_FORMAT, "%s: a Sequence normaliser without \"normalizers\"", path);
        for (size_t i = 0; i < json_array_size(list); i++) {
            sc_status s = normalizer(t, json_array_get(list, i), path, 1);
            if (s) return s;
        }
        return SC_OK;
    }
    if (strcmp(type, "Precompiled"))
        return err_fail(SC_ERR_FORMAT, "%s: the %s normaliser is not read (T5's tokenizers use Precompiled)", path, type);
    if (t->has_map) return err_fail(SC_ERR_FORMAT, "%s: two Precompiled normalisers", path);
    const json_t *b = json_object_get(n, "precompiled_charsmap");
    if (json_is_null(b)) return SC_OK; /* an identity map */
    if (!json_is_string(b)) return err_fail(SC_ERR_FORMAT, "%s: \"precompiled_charsmap\" is not a base64 string", path);
    uint8_t *bytes;
    size_t len;
    char what[4200];
    snprintf(what, sizeof what, "%s: precompiled_charsmap", path);
    sc_status s = base64_decode(json_string_value(b), json_string_length(b), what, &bytes, &len);
    if (s) return s;
    s = charsmap_init(&t->map, bytes, len, what);
    free(bytes);
    t->has_map = !s && t->map.n_units > 0;
    return s;
}

static sc_status metaspace(tokenizer *t, const json_t *m, const char *path)
{
    const char *rep = json_string_value(json_object_get(m, "replacement"));
    uint32_t cp;
    if (!rep || !*rep || utf8_decode((const uint8_t *)rep, strlen(rep), &cp) != (int)strlen(rep))
        return err_fail(SC_ERR_FORMAT, "%s: Metaspace \"replacement\" is not one character", path);
    memcpy(t->meta, rep, strlen(rep) + 1);
    t->meta_len = strlen(rep);
    const json_t *scheme = json_object_get(m, "prepend_scheme"), *add = json_object_get(m, "add_prefix_space");
    if (json_is_string(scheme)) {
        const char *v = json_string_value(scheme);
        if (!strcmp(v, "always")) t->prepend = 1;
        else if (!strcmp(v, "never")) t->prepend = 0;
        else return err_fail(SC_ERR_FORMAT, "%s: Metaspace prepend_scheme \"%s\" is not read (always or never)", path, v);
    } else if (json_is_boolean(add)) { /* files of older tokenizers */
        t->prepend = json_is_true(add);
    } else {
        return err_fail(SC_ERR_FORMAT, "%s: Metaspace without prepend_scheme or add_prefix_space", path);
    }
    const json_t *split = json_object_get(m, "split");
    if (split && !json_is_boolean(split)) return err_fail(SC_ERR_FORMAT, "%s: Metaspace \"split\" is not a boolean", path);
    t->meta_split = split ? json_is_true(split) : 1;
    t->metaspace = 1;
    return SC_OK;
}

static sc_status pre_tokenizer(tokenizer *t, const json_t *p, const char *path)
{
    if (!p || json_is_null(p)) return SC_OK;
    const char *type = type_of(p);
    if (!json_is_object(p) || !type) return err_fail(SC_ERR_FORMAT, "%s: \"pre_tokenizer\" has no \"type\"", path);
    const json_t *one[1] = {p};
    const json_t *const *steps = one;
    size_t n = 1;
    const json_t *list = NULL;
    if (!strcmp(type, "Sequence")) {
        list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list)) return err_fail(SC_ERR_FORMAT, "%s: a Sequence pre-tokenizer without \"pretokenizers\"", path);
        n = json_array_size(list);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *st = list ? json_array_get(list, i) : steps[i];
        const char *ty = type_of(st);
        if (!ty) return err_fail(SC_ERR_FORMAT, "%s: a pre-tokenizer without \"type\"", path);
        if (!strcmp(ty, "WhitespaceSplit") && i == 0 && !t->metaspace) {
            t->whitespace_split = 1;
        } else if (!strcmp(ty, "Metaspace") && !t->metaspace) {
            sc_status s = metaspace(t, st, path);
            if (s) return s;
        } else {
            return err_fail(SC_ERR_FORMAT, "%s: the pre-tokenizer %s%s is not read (T5's: WhitespaceSplit, then Metaspace)",
                            path, ty, i ? " in that place" : "");
        }
    }
    return SC_OK;
}

static sc_status model(tokenizer *t, const json_t *m, const char *path)
{
    const char *type = type_of(m);
    if (!json_is_object(m) || !type) return err_fail(SC_ERR_FORMAT, "%s: no \"model\" with a \"type\"", path);
    if (strcmp(type, "Unigram"))
        return err_fail(SC_ERR_FORMAT, "%s: the %s model is not read (T5's tokenizers are Unigram)", path, type);
    if (json_is_true(json_object_get(m, "byte_fallback")))
        return err_fail(SC_ERR_FORMAT, "%s: byte_fallback is set; T5's Unigram has none and it is not read", path);
    const json_t *vocab = json_object_get(m, "vocab"), *unk = json_object_get(m, "unk_id");
    if (!json_is_array(vocab) || !json_array_size(vocab))
        return err_fail(SC_ERR_FORMAT, "%s: the Unigram model has no \"vocab\"", path);
    const size_t n = json_array_size(vocab);
    if (n > (1u << 22)) return err_fail(SC_ERR_FORMAT, "%s: %zu vocabulary entries (at most %u)", path, n, 1u << 22);
    if (!json_is_integer(unk) || json_integer_value(unk) < 0 || (size_t)json_integer_value(unk) >= n)
        return err_fail(SC_ERR_FORMAT, "%s: the Unigram \"unk_id\" is not an id of its %zu entries", path, n);
    char **pieces = calloc(n, sizeof *pieces);
    uint32_t *len = malloc(n * sizeof *len);
    double *score = malloc(n * sizeof *score);
    uint8_t *flags = malloc(n);
    sc_status s = pieces && len && score && flags ? SC_OK : err_fail(SC_ERR_NOMEM, "out of memory for %s", path);
    for (size_t i = 0; !s && i < n; i++) {
        const json_t *e = json_array_get(vocab, i), *p = json_array_get(e, 0), *v = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(v)) {
            s = err_fail(SC_ERR_FORMAT, "%s: vocabulary entry %zu is not [piece, score]", path, i);
            break;
        }
        const size_t l = json_string_length(p);
        if (!l || strlen(json_string_value(p)) != l) {
            s = err_fail(SC_ERR_FORMAT, "%s: vocabulary entry %zu is empty or holds a NUL", path, i);
            break;
        }
        pieces[i] = strdup(json_string_value(p));
        if (!pieces[i]) {
            s = err_fail(SC_ERR_NOMEM, "out of memory for %s", path);
            break;
        }
        len[i] = (uint32_t)l;
        score[i] = json_number_value(v);
        flags[i] = UNI_IN_TRIE;
    }
    if (!s) s = unigram_init(&t->uni, UNIGRAM_TOKENIZERS, (int)n, (const char *const *)pieces, len, score, flags, NULL,
                             (int)json_integer_value(unk), path);
    if (!s) {
        t->vocab = pieces;
        t->vocab_size = (int)n;
        pieces = NULL;
    }
    if (pieces)
        for (size_t i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
    free(len);
    free(score);
    free(flags);
    return s;
}

static sc_status added_tokens(tokenizer *t, const json_t *list, const char *path)
{
    if (!list || json_is_null(list)) return SC_OK;
    if (!json_is_array(list)) return err_fail(SC_ERR_FORMAT, "%s: \"added_tokens\" is not a list", path);
    const size_t n = json_array_size(list);
    if (n > 100000) return err_fail(SC_ERR_FORMAT, "%s: %zu added tokens", path, n);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return err_fail(SC_ERR_NOMEM, "out of memory for %s", path);
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i), *id = json_object_get(a, "id"), *c = json_object_get(a, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= t->vocab_size)
            return err_fail(SC_ERR_FORMAT, "%s: added token %zu has no id within the %d-entry vocabulary", path, i,
                            t->vocab_size);
        if (!json_is_string(c) || !json_string_length(c) || strlen(json_string_value(c)) != json_string_length(c))
            return err_fail(SC_ERR_FORMAT, "%s: added token %zu has no content", path, i);
        if (json_is_true(json_object_get(a, "single_word")) || json_is_true(json_object_get(a, "normalized")))
            return err_fail(SC_ERR_FORMAT, "%s: added token \"%s\" is single_word or normalized, which is not read "
                                           "(T5's are neither)", path, json_string_value(c));
        tok_added *d = &t->added[t->n_added++];
        if (!(d->text = strdup(json_string_value(c)))) return err_fail(SC_ERR_NOMEM, "out of memory for %s", path);
        d->len = strlen(d->text);
        d->id = (int32_t)json_integer_value(id);
        d->lstrip = json_is_true(json_object_get(a, "lstrip"));
        d->rstrip = json_is_true(json_object_get(a, "rstrip"));
    }
    return SC_OK;
}

/* The template's ids before and after $A. */
static sc_status post_processor(tokenizer *t, const json_t *p, const char *path)
{
    if (!p || json_is_null(p)) return SC_OK;
    const char *type = type_of(p);
    if (!type || strcmp(type, "TemplateProcessing"))
        return err_fail(SC_ERR_FORMAT, "%s: the post-processor %s is not read (T5's is TemplateProcessing)", path,
                        type ? type : "(without type)");
    const json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens");
    if (!json_is_array(single)) return err_fail(SC_ERR_FORMAT, "%s: TemplateProcessing without \"single\"", path);
    int seen_a = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i), *seq = json_object_get(item, "Sequence"),
                     *sp = json_object_get(item, "SpecialToken");
        if (seq) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (seen_a || !id || strcmp(id, "A"))
                return err_fail(SC_ERR_FORMAT, "%s: the single template must hold $A once", path);
            seen_a = 1;
            continue;
        }
        const char *name = json_string_value(json_object_get(sp, "id"));
        const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
        if (!name || !json_is_array(ids))
            return err_fail(SC_ERR_FORMAT, "%s: template item %zu names no special token with ids", path, i);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            const json_t *v = json_array_get(ids, k);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= t->vocab_size)
                return err_fail(SC_ERR_FORMAT, "%s: special token \"%s\" has an id outside the vocabulary", path, name);
            int32_t *dst = seen_a ? t->post_after : t->post_before;
            int *cnt = seen_a ? &t->n_after : &t->n_before;
            if (*cnt == 4) return err_fail(SC_ERR_FORMAT, "%s: more than 4 special ids on one side of $A", path);
            dst[(*cnt)++] = (int32_t)json_integer_value(v);
        }
    }
    if (!seen_a) return err_fail(SC_ERR_FORMAT, "%s: the single template has no $A", path);
    return SC_OK;
}

sc_status hf_json_from_object(tokenizer *t, const json_t *j, const char *path)
{
    sc_status s;
    if (!(s = model(t, json_object_get(j, "model"), path)) && !(s = normalizer(t, json_object_get(j, "normalizer"), path, 0)) &&
        !(s = pre_tokenizer(t, json_object_get(j, "pre_tokenizer"), path)) &&
        !(s = added_tokens(t, json_object_get(j, "added_tokens"), path)))
        s = post_processor(t, json_object_get(j, "post_processor"), path);
    if (s) return s;
    /* Padding uses <pad> (T5's pad_token); the template's last special id ends a sequence. */
    t->pad_id = -1;
    for (int i = 0; i < t->n_added && t->pad_id < 0; i++)
        if (!strcmp(t->added[i].text, "<pad>")) t->pad_id = t->added[i].id;
    for (int i = t->vocab_size - 1; i >= 0 && t->pad_id < 0; i--)
        if (!strcmp(t->vocab[i], "<pad>")) t->pad_id = i;
    if (t->pad_id < 0) return err_fail(SC_ERR_FORMAT, "%s: no <pad> token to pad with", path);
    t->eos_id = t->n_after ? t->post_after[t->n_after - 1] : -1;
    return SC_OK;
}

sc_status hf_json_load(tokenizer *t, const char *path)
{
    json_t *j;
    sc_status s = json_load_object_file(path, HF_JSON_CAP, &j);
    if (s) return s;
    s = hf_json_from_object(t, j, path);
    json_decref(j);
    return s;
}
