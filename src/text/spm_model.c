/* Protocol buffers' wire format, as far as a ModelProto needs it: a field is a varint key
 * (number << 3 | wire type) followed by a varint (type 0), 8 bytes (1), a varint length and
 * that many bytes (2) or 4 bytes (5). Every length is checked against what the buffer holds. */
#include "text/spm_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

#define SPM_MAX_PIECES (1 << 22)

typedef struct {
    const uint8_t *p, *end;
    const char *what;
} reader;

static sc_status varint(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return err_fail(SC_ERR_FORMAT, "%s: truncated varint", r->what);
        const uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return SC_OK;
        }
    }
    return err_fail(SC_ERR_FORMAT, "%s: varint longer than 10 bytes", r->what);
}

/* One field: its number, wire type, and for type 2 the payload [*data, *data + *len), for types
 * 0/1/5 its value in *v. */
static sc_status field(reader *r, uint32_t *num, int *wt, uint64_t *v, const uint8_t **data, size_t *len)
{
    uint64_t key = 0;
    sc_status s = varint(r, &key);
    if (s) return s;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    if (!*num || key >> 3 > 0x1FFFFFFF) return err_fail(SC_ERR_FORMAT, "%s: field number %llu is invalid", r->what,
                                                        (unsigned long long)(key >> 3));
    switch (*wt) {
    case 0:
        return varint(r, v);
    case 1:
    case 5: {
        const size_t n = *wt == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) return err_fail(SC_ERR_FORMAT, "%s: truncated fixed-size field %u", r->what, *num);
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++) x |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        *v = x;
        return SC_OK;
    }
    case 2: {
        uint64_t n = 0;
        if ((s = varint(r, &n))) return s;
        if (n > (uint64_t)(r->end - r->p))
            return err_fail(SC_ERR_FORMAT, "%s: field %u declares %llu bytes but %zu remain", r->what, *num,
                            (unsigned long long)n, (size_t)(r->end - r->p));
        *data = r->p;
        *len = (size_t)n;
        r->p += n;
        return SC_OK;
    }
    default:
        return err_fail(SC_ERR_FORMAT, "%s: field %u has wire type %d (groups and unknown types are not read)",
                        r->what, *num, *wt);
    }
}

static sc_status expect(const reader *r, int wt, int want, const char *name)
{
    if (wt == want) return SC_OK;
    return err_fail(SC_ERR_FORMAT, "%s: %s has wire type %d, expected %d", r->what, name, wt, want);
}

static int as_int32(uint64_t v) { return (int)(int32_t)(uint32_t)v; } /* proto int32: two's complement */

static sc_status parse_piece(const uint8_t *d, size_t n, const char *what, spm_model *m, int id)
{
    reader r = {d, d + n, what};
    const uint8_t *text = NULL;
    size_t text_len = 0;
    float score = 0.0f;
    uint64_t type = SPM_NORMAL;
    while (r.p < r.end) {
        uint32_t num;
        int wt;
        uint64_t v = 0;
        const uint8_t *pd = NULL;
        size_t pl = 0;
        sc_status s = field(&r, &num, &wt, &v, &pd, &pl);
        if (s) return s;
        if (num == 1) {
            if ((s = expect(&r, wt, 2, "a piece's text"))) return s;
            text = pd;
            text_len = pl;
        } else if (num == 2) {
            if ((s = expect(&r, wt, 5, "a piece's score"))) return s;
            const uint32_t bits = (uint32_t)v;
            memcpy(&score, &bits, sizeof score);
        } else if (num == 3) {
            if ((s = expect(&r, wt, 0, "a piece's type"))) return s;
            type = v;
        }
    }
    if (!text) return err_fail(SC_ERR_FORMAT, "%s: piece %d has no text", what, id);
    if (!text_len) return err_fail(SC_ERR_FORMAT, "%s: piece %d is empty", what, id);
    if (memchr(text, 0, text_len) || utf8_check(text, text_len) != text_len)
        return err_fail(SC_ERR_FORMAT, "%s: piece %d is not valid UTF-8 text", what, id);
    if (type < SPM_NORMAL || type > SPM_BYTE)
        return err_fail(SC_ERR_FORMAT, "%s: piece %d has type %llu (1..6 exist)", what, id, (unsigned long long)type);
    if (!(score == score) || score > 3.0e38f || score < -3.0e38f)
        return err_fail(SC_ERR_FORMAT, "%s: piece %d has a score that is not a finite number", what, id);
    m->piece[id] = malloc(text_len + 1);
    if (!m->piece[id]) return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    memcpy(m->piece[id], text, text_len);
    m->piece[id][text_len] = '\0';
    m->piece_len[id] = (uint32_t)text_len;
    m->score[id] = score;
    m->type[id] = (uint8_t)type;
    return SC_OK;
}

static sc_status parse_trainer(const uint8_t *d, size_t n, const char *what, spm_model *m)
{
    reader r = {d, d + n, what};
    while (r.p < r.end) {
        uint32_t num;
        int wt;
        uint64_t v = 0;
        const uint8_t *pd = NULL;
        size_t pl = 0;
        sc_status s = field(&r, &num, &wt, &v, &pd, &pl);
        if (s) return s;
        int *dst = NULL;
        switch (num) {
        case 3: dst = &m->model_type; break;
        case 24: dst = &m->treat_whitespace_as_suffix; break;
        case 35: dst = &m->byte_fallback; break;
        case 40: dst = &m->unk_id; break;
        case 41: dst = &m->bos_id; break;
        case 42: dst = &m->eos_id; break;
        case 43: dst = &m->pad_id; break;
        default: break;
        }
        if (dst) {
            if ((s = expect(&r, wt, 0, "a trainer_spec number"))) return s;
            *dst = as_int32(v);
        }
    }
    return SC_OK;
}

static sc_status parse_normalizer(const uint8_t *d, size_t n, const char *what, spm_model *m)
{
    reader r = {d, d + n, what};
    while (r.p < r.end) {
        uint32_t num;
        int wt;
        uint64_t v = 0;
        const uint8_t *pd = NULL;
        size_t pl = 0;
        sc_status s = field(&r, &num, &wt, &v, &pd, &pl);
        if (s) return s;
        if (num == 1) {
            if ((s = expect(&r, wt, 2, "normalizer_spec.name"))) return s;
            if (pl >= sizeof m->norm_name || memchr(pd, 0, pl))
                return err_fail(SC_ERR_FORMAT, "%s: normalizer name of %zu bytes", what, pl);
            memcpy(m->norm_name, pd, pl);
            m->norm_name[pl] = '\0';
        } else if (num == 2) {
            if ((s = expect(&r, wt, 2, "normalizer_spec.precompiled_charsmap"))) return s;
            free(m->charsmap);
            m->charsmap = NULL;
            m->charsmap_len = pl;
            if (pl) {
                if (!(m->charsmap = malloc(pl))) return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
                memcpy(m->charsmap, pd, pl);
            }
        } else if (num >= 3 && num <= 5) {
            if ((s = expect(&r, wt, 0, "a normalizer_spec switch"))) return s;
            int *dst = num == 3 ? &m->add_dummy_prefix : num == 4 ? &m->remove_extra_whitespaces : &m->escape_whitespaces;
            *dst = v != 0;
        }
    }
    return SC_OK;
}

sc_status spm_model_parse(const uint8_t *data, size_t len, const char *what, spm_model *m)
{
    memset(m, 0, sizeof *m);
    m->model_type = 1;
    m->unk_id = 0;
    m->bos_id = 1;
    m->eos_id = 2;
    m->pad_id = -1;
    m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
    /* First pass: count the pieces (field 1) so that the arrays are sized once. */
    reader r = {data, data + len, what};
    long count = 0;
    sc_status s = SC_OK;
    while (!s && r.p < r.end) {
        uint32_t num;
        int wt;
        uint64_t v;
        const uint8_t *pd;
        size_t pl;
        s = field(&r, &num, &wt, &v, &pd, &pl);
        if (!s && num == 1) count++;
    }
    if (s) return s;
    if (!count) return err_fail(SC_ERR_FORMAT, "%s: no pieces (not a SentencePiece model)", what);
    if (count > SPM_MAX_PIECES) return err_fail(SC_ERR_FORMAT, "%s: %ld pieces (at most %d)", what, count, SPM_MAX_PIECES);
    m->n = (int)count;
    m->piece = calloc((size_t)count, sizeof *m->piece);
    m->piece_len = calloc((size_t)count, sizeof *m->piece_len);
    m->score = calloc((size_t)count, sizeof *m->score);
    m->type = calloc((size_t)count, 1);
    if (!m->piece || !m->piece_len || !m->score || !m->type) {
        spm_model_free(m);
        return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    }
    r.p = data;
    int id = 0;
    while (!s && r.p < r.end) {
        uint32_t num;
        int wt;
        uint64_t v;
        const uint8_t *pd = NULL;
        size_t pl = 0;
        if ((s = field(&r, &num, &wt, &v, &pd, &pl))) break;
        if (num >= 1 && num <= 3 && (s = expect(&r, wt, 2, num == 1 ? "a piece" : num == 2 ? "trainer_spec" : "normalizer_spec")))
            break;
        if (num == 1) s = parse_piece(pd, pl, what, m, id++);
        else if (num == 2) s = parse_trainer(pd, pl, what, m);
        else if (num == 3) s = parse_normalizer(pd, pl, what, m);
    }
    if (!s && m->model_type != 1)
        s = err_fail(SC_ERR_FORMAT, "%s: model type %d; only unigram models (type 1, as T5's) are read", what,
                     m->model_type);
    if (!s && m->treat_whitespace_as_suffix)
        s = err_fail(SC_ERR_FORMAT, "%s: treat_whitespace_as_suffix is set; only prefix meta-spaces (as T5's) are read",
                     what);
    const int *ids[4] = {&m->unk_id, &m->bos_id, &m->eos_id, &m->pad_id};
    static const char *const names[4] = {"unk_id", "bos_id", "eos_id", "pad_id"};
    for (int k = 0; !s && k < 4; k++)
        if (*ids[k] < -1 || *ids[k] >= m->n)
            s = err_fail(SC_ERR_FORMAT, "%s: %s %d is outside the %d pieces", what, names[k], *ids[k], m->n);
    if (!s && (m->unk_id < 0 || m->type[m->unk_id] != SPM_UNKNOWN))
        s = err_fail(SC_ERR_FORMAT, "%s: unk_id %d is not a piece of type UNKNOWN", what, m->unk_id);
    for (int i = 0; !s && i < m->n; i++)
        if (m->type[i] == SPM_UNKNOWN && i != m->unk_id)
            s = err_fail(SC_ERR_FORMAT, "%s: piece %d is a second UNKNOWN piece (unk_id is %d)", what, i, m->unk_id);
    if (s) spm_model_free(m);
    return s;
}

void spm_model_free(spm_model *m)
{
    if (m->piece)
        for (int i = 0; i < m->n; i++) free(m->piece[i]);
    free(m->piece);
    free(m->piece_len);
    free(m->score);
    free(m->type);
    free(m->charsmap);
    memset(m, 0, sizeof *m);
}
