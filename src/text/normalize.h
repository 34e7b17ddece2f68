/* The two ways a precompiled character map normalises text:
 *   - SentencePiece (src/normalizer.cc Normalize): longest-prefix replacement; whitespace rules
 *     on the result (leading spaces dropped, runs collapsed, trailing ones dropped), one U+2581
 *     in front, every kept space written as U+2581; user-defined pieces pass through untouched;
 *   - Hugging Face tokenizers' Precompiled normaliser: the text is cut into extended grapheme
 *     clusters; a cluster shorter than 6 bytes that any key prefixes is replaced whole by the
 *     replacement of the SHORTEST such key (the rest of the cluster is dropped, as tokenizers
 *     does); every other cluster is mapped character by character. No whitespace rules: those
 *     are later steps of a tokenizer.json. */
#ifndef SC_TEXT_NORMALIZE_H
#define SC_TEXT_NORMALIZE_H

#include "text/buf.h"
#include "text/charsmap.h"
#include "text/unigram.h"

typedef struct {
    const charsmap *map;    /* may hold no trie (identity) */
    const unigram *user;    /* user-defined pieces kept as they are, or NULL */
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} spm_norm;

/* s[0 .. n) is valid UTF-8. Appends the normalised text to out. */
void spm_normalize(const spm_norm *nm, const uint8_t *s, size_t n, text_buf *out);
void hf_precompiled(const charsmap *map, const uint8_t *s, size_t n, text_buf *out);

#endif
