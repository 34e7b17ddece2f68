/* T5's tokenizer: SentencePiece unigram segmentation with T5's conventions on top (</s> after
 * the pieces, truncation that keeps room for it, padding with <pad> and an attention mask),
 * read from what pipelines ship, in either of the two references' semantics:
 *   - TRANSFORMERS (the default; what the pipelines run): Hugging Face tokenizers' pipeline, read
 *     from tokenizer.json, or built from spiece.model exactly as transformers' T5Tokenizer builds
 *     it (Precompiled normaliser from the model's character map; WhitespaceSplit; Metaspace
 *     "always", split; Unigram in float64 over the pieces and <extra_id_N> sentinels; special
 *     tokens split out of the raw text first);
 *   - SENTENCEPIECE: the sentencepiece library's own encode of spiece.model (its normaliser and
 *     whitespace rules, float32 Viterbi), plus </s>. Special strings in text are plain text.
 * docs/TEXT.md has the rules and where the two differ. */
#ifndef SC_TEXT_TOKENIZER_H
#define SC_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"
#include "text/buf.h"
#include "text/charsmap.h"
#include "text/normalize.h"
#include "text/unigram.h"

typedef enum { TOK_TRANSFORMERS = 1, TOK_SENTENCEPIECE = 2 } tok_semantics;

typedef struct {
    char *text;
    size_t len;
    int32_t id;
    int lstrip, rstrip;
} tok_added;

typedef struct tokenizer {
    tok_semantics sem;
    char path[4096];      /* the file read */
    charsmap map;
    int has_map;
    unigram uni;
    int32_t eos_id, pad_id;
    int vocab_size;       /* every id is below it */
    char **vocab;         /* piece text per id (for messages and tests) */
    /* SENTENCEPIECE */
    spm_norm norm;
    /* TRANSFORMERS */
    int whitespace_split;
    int metaspace;        /* a Metaspace step: replacement, prepend, split */
    char meta[8];
    size_t meta_len;
    int prepend;          /* 1 always, 0 never */
    int meta_split;
    tok_added *added;
    int n_added;
    int32_t post_before[4], post_after[4]; /* template ids around $A */
    int n_before, n_after;
    int model_max_length; /* tokenizer_config.json, 0 when absent */
} tokenizer;

/* path: a tokenizer.json, a spiece.model, a folder holding either, or a pipeline folder (its
 * tokenizer/). A folder is read as tokenizer.json when it has one and sem is TRANSFORMERS. */
sc_status tokenizer_load(const char *path, tok_semantics sem, tokenizer **out);
void tokenizer_free(tokenizer *t);
/* The same from bytes in memory (a spiece.model's; 100 sentinels for TRANSFORMERS) or the text
 * of a tokenizer.json (TRANSFORMERS); `what` names them in messages. For the fuzz targets. */
sc_status tokenizer_from_spm_bytes(const uint8_t *data, size_t len, tok_semantics sem, const char *what,
                                   tokenizer **out);
sc_status tokenizer_from_json_text(const char *text, size_t len, const char *what, tokenizer **out);

/* The pieces' ids of text[0 .. len) (valid UTF-8, checked), without the special ids around them. */
sc_status tokenizer_pieces(const tokenizer *t, const char *text, size_t len, id_buf *out);
/* The ids with </s> (the template's special ids); max_length > 0 truncates the pieces so that
 * the whole fits in max_length (no padding here). */
sc_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int max_length, id_buf *out);

#endif
