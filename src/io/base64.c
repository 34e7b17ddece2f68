#include "io/base64.h"

#include <stdlib.h>

#include "core/error.h"

static int digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

sc_status base64_decode(const char *s, size_t n, const char *what, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n % 4) return err_fail(SC_ERR_FORMAT, "%s: base64 text of %zu characters (a multiple of 4 is needed)", what, n);
    size_t pad = 0;
    if (n && s[n - 1] == '=') pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
    const size_t len = n / 4 * 3 - pad;
    uint8_t *b = malloc(len ? len : 1);
    if (!b) return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int d[4];
        const int last = i + 4 == n;
        for (int k = 0; k < 4; k++) {
            const int is_pad = last && (size_t)k >= 4 - pad;
            d[k] = is_pad ? 0 : digit((unsigned char)s[i + (size_t)k]);
            if (d[k] < 0) {
                free(b);
                return err_fail(SC_ERR_FORMAT, "%s: byte %zu of the base64 text is not a base64 digit", what,
                                i + (size_t)k);
            }
        }
        const uint32_t v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
        if (last && ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))) {
            free(b);
            return err_fail(SC_ERR_FORMAT, "%s: the base64 text ends with nonzero padding bits", what);
        }
        const size_t take = last ? 3 - pad : 3;
        for (size_t k = 0; k < take; k++) b[o++] = (uint8_t)(v >> (16 - 8 * k));
    }
    *out = b;
    *out_len = len;
    return SC_OK;
}
