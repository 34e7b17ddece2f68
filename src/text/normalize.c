#include "text/normalize.h"

#include <string.h>
#include <utf8proc.h>

#include "text/utf8.h"

#define META "\xE2\x96\x81" /* U+2581, SentencePiece's meta space */

/* NormalizePrefix: what replaces the start of s, and how many bytes it consumes. */
static const uint8_t *prefix(const spm_norm *nm, const uint8_t *s, size_t n, size_t *out_len, size_t *consumed)
{
    if (nm->user) {
        const size_t k = unigram_user_prefix(nm->user, s, n);
        if (k) {
            *out_len = *consumed = k;
            return s;
        }
    }
    size_t len[64];
    uint32_t val[64];
    const int found = charsmap_prefixes(nm->map, s, n, len, val, 64);
    if (found) {
        const char *t = charsmap_text(nm->map, val[found - 1]);
        *consumed = len[found - 1];
        *out_len = strlen(t);
        return (const uint8_t *)t;
    }
    uint32_t cp;
    const int k = utf8_decode(s, n, &cp);
    if (!k) { /* a malformed byte: U+FFFD for one byte (the callers pass valid text) */
        *consumed = 1;
        *out_len = 3;
        return (const uint8_t *)"\xEF\xBF\xBD";
    }
    *out_len = *consumed = (size_t)k;
    return s;
}

void spm_normalize(const spm_norm *nm, const uint8_t *s, size_t n, text_buf *out)
{
    const size_t start = out->n;
    if (nm->remove_extra_whitespaces) { /* leading spaces (after mapping) go */
        while (n) {
            size_t olen, used;
            const uint8_t *r = prefix(nm, s, n, &olen, &used);
            if (!(olen == 1 && r[0] == ' ')) break;
            s += used;
            n -= used;
        }
    }
    if (!n) return;
    if (nm->add_dummy_prefix) {
        if (nm->escape_whitespaces) tb_add(out, META, 3);
        else tb_add(out, " ", 1);
    }
    int prev_space = nm->remove_extra_whitespaces;
    while (n) {
        size_t olen, used;
        const uint8_t *r = prefix(nm, s, n, &olen, &used);
        if (prev_space)
            while (olen && r[0] == ' ') r++, olen--;
        if (olen) {
            for (size_t i = 0; i < olen; i++) {
                if (nm->escape_whitespaces && r[i] == ' ') tb_add(out, META, 3);
                else tb_add(out, r + i, 1);
            }
            prev_space = r[olen - 1] == ' ';
        }
        s += used;
        n -= used;
        if (!nm->remove_extra_whitespaces) prev_space = 0;
    }
    if (nm->remove_extra_whitespaces) { /* trailing spaces go */
        const char *sp = nm->escape_whitespaces ? META : " ";
        const size_t k = strlen(sp);
        while (out->n - start >= k && !memcmp(out->p + out->n - k, sp, k)) out->n -= k;
        if (out->p) out->p[out->n] = 0;
    }
}

/* tokenizers' Precompiled::transform: the first (shortest) key that prefixes the chunk. */
static const char *shortest(const charsmap *map, const uint8_t *s, size_t n)
{
    size_t len[1];
    uint32_t val[1];
    return charsmap_prefixes(map, s, n, len, val, 1) ? charsmap_text(map, val[0]) : NULL;
}

void hf_precompiled(const charsmap *map, const uint8_t *s, size_t n, text_buf *out)
{
    size_t i = 0;
    while (i < n) {
        /* One extended grapheme cluster [i, j). */
        utf8proc_int32_t state = 0, prev = -1;
        size_t j = i;
        while (j < n) {
            uint32_t cp;
            const int k = utf8_decode(s + j, n - j, &cp);
            if (!k) break; /* callers pass valid text */
            if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, (utf8proc_int32_t)cp, &state)) break;
            prev = (utf8proc_int32_t)cp;
            j += (size_t)k;
        }
        if (j == i) j = i + 1;
        if (j - i < 6) {
            const char *t = shortest(map, s + i, j - i);
            if (t) {
                tb_add(out, t, strlen(t));
                i = j;
                continue;
            }
        }
        while (i < j) {
            uint32_t cp;
            int k = utf8_decode(s + i, j - i, &cp);
            if (!k) k = 1;
            const char *t = shortest(map, s + i, (size_t)k);
            if (t) tb_add(out, t, strlen(t));
            else tb_add(out, s + i, (size_t)k);
            i += (size_t)k;
        }
    }
}
