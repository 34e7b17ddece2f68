#include "text/charsmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

/* A unit: bits 0-7 the label (bit 31 set on leaf units, so they match no byte), bit 8 "has a
 * leaf", bit 9 "offset scaled by 256", bits 10-31 the offset; a leaf unit's low 31 bits are its
 * value. */
static inline uint32_t u_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static inline int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

int charsmap_prefixes(const charsmap *c, const uint8_t *s, size_t n, size_t *len, uint32_t *val, int cap)
{
    int found = 0;
    if (!c->n_units) return 0;
    uint32_t node = u_offset(c->units[0]);
    for (size_t i = 0; i < n && s[i]; i++) {
        node ^= s[i];
        if (node >= c->n_units) return found; /* unreachable after the load-time walk */
        const uint32_t u = c->units[node];
        if (u_label(u) != s[i]) return found;
        node ^= u_offset(u);
        if (node >= c->n_units) return found;
        if (u_has_leaf(u) && found < cap) {
            len[found] = i + 1;
            val[found] = u_value(c->units[node]);
            found++;
        }
    }
    return found;
}

/* Depth-first walk of every reachable node: indices in range, values valid; `seen` marks nodes
 * already walked (a malformed array may join or loop). */
static sc_status walk(const charsmap *c, uint32_t node, uint8_t *seen, int depth, const char *what)
{
    if (depth > 256) return err_fail(SC_ERR_FORMAT, "%s: the character map's trie is deeper than 256 bytes", what);
    if (seen[node]) return SC_OK;
    seen[node] = 1;
    for (uint32_t b = 1; b < 256; b++) {
        const uint32_t child = node ^ b;
        if (child >= c->n_units || u_label(c->units[child]) != b) continue;
        const uint32_t next = child ^ u_offset(c->units[child]);
        if (next >= c->n_units)
            return err_fail(SC_ERR_FORMAT, "%s: the character map's trie points past its %u units", what, c->n_units);
        if (u_has_leaf(c->units[child])) {
            const uint32_t v = u_value(c->units[next]);
            if (v >= c->blob_len)
                return err_fail(SC_ERR_FORMAT, "%s: a character map value (%u) lies past its %zu-byte strings", what, v,
                                c->blob_len);
            const char *t = c->blob + v;
            if (utf8_check((const uint8_t *)t, strlen(t)) != strlen(t))
                return err_fail(SC_ERR_FORMAT, "%s: a character map replacement is not valid UTF-8", what);
        }
        sc_status s = walk(c, next, seen, depth + 1, what);
        if (s) return s;
    }
    return SC_OK;
}

sc_status charsmap_init(charsmap *c, const uint8_t *data, size_t len, const char *what)
{
    memset(c, 0, sizeof *c);
    if (!len) return SC_OK; /* no map: identity */
    if (len < 4) return err_fail(SC_ERR_FORMAT, "%s: a character map of %zu bytes (needs 4 for its size)", what, len);
    const uint32_t t = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    if (t % 4 || t > len - 4 || t == 0)
        return err_fail(SC_ERR_FORMAT, "%s: the character map declares a %u-byte trie in %zu bytes", what, t, len - 4);
    c->n_units = t / 4;
    c->blob_len = len - 4 - t;
    c->units = malloc((size_t)c->n_units * sizeof *c->units);
    c->blob = malloc(c->blob_len + 1);
    uint8_t *seen = calloc(c->n_units, 1);
    sc_status s = SC_OK;
    if (!c->units || !c->blob || !seen) {
        s = err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    } else {
        for (uint32_t i = 0; i < c->n_units; i++) {
            const uint8_t *p = data + 4 + 4 * (size_t)i;
            c->units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
        memcpy(c->blob, data + 4 + t, c->blob_len);
        c->blob[c->blob_len] = '\0';
        const uint32_t root = u_offset(c->units[0]);
        if (root >= c->n_units) s = err_fail(SC_ERR_FORMAT, "%s: the character map's root lies past its trie", what);
        else s = walk(c, root, seen, 0, what);
    }
    free(seen);
    if (s) charsmap_free(c);
    return s;
}

void charsmap_free(charsmap *c)
{
    free(c->units);
    free(c->blob);
    memset(c, 0, sizeof *c);
}
