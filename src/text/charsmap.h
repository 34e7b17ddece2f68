/* SentencePiece's precompiled character map (normalizer_spec.precompiled_charsmap, or the
 * "Precompiled" normaliser of a tokenizer.json): a little-endian u32 T, T bytes of Darts-clone
 * double-array units (u32 each) keyed by UTF-8 byte strings, then a blob of NUL-terminated
 * replacement strings that the trie's values index. The whole reachable trie is walked once at
 * load: every unit index it reaches lies in the array and every value names a valid UTF-8
 * replacement inside the blob, so lookups need no further checks. */
#ifndef SC_TEXT_CHARSMAP_H
#define SC_TEXT_CHARSMAP_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

typedef struct {
    uint32_t *units;
    uint32_t n_units;
    char *blob;        /* replacement strings (a NUL added past the end) */
    size_t blob_len;
} charsmap;

sc_status charsmap_init(charsmap *c, const uint8_t *data, size_t len, const char *what);
void charsmap_free(charsmap *c);

/* Every key that is a prefix of s[0 .. n) (stopping at a NUL byte), shortest first: up to cap of
 * them, their byte lengths in len[] and replacement offsets in val[]. Returns the count. */
int charsmap_prefixes(const charsmap *c, const uint8_t *s, size_t n, size_t *len, uint32_t *val, int cap);

/* The replacement at offset v: up to the NUL or the blob's end. */
static inline const char *charsmap_text(const charsmap *c, uint32_t v) { return c->blob + v; }

#endif
