/* The unigram language model's segmentation: a byte trie over the vocabulary and the Viterbi
 * search of SentencePiece's EncodeOptimized (src/unigram_model.cc), in its two arithmetics:
 *   - SENTENCEPIECE: float32 path scores, sums and comparisons (equal to the sentencepiece 0.2.3
 *     library on exact ties, where a double sum picks the other split); the trie holds NORMAL,
 *     USER_DEFINED and UNUSED pieces (UNUSED ones are found and passed over); a USER_DEFINED
 *     piece scores length * max - 0.1; unknown = min over NORMAL scores - 10;
 *   - TOKENIZERS (Hugging Face, models/unigram/model.rs): float64 path scores; the trie holds
 *     every vocabulary entry; unknown = min over all scores - 10.
 * Both: candidates in order of start, then length; a candidate replaces the best path ending at
 * its end only when strictly better (or the first); a character that no single piece covers
 * gets an unknown candidate; runs of unknown pieces come out as one unknown id. */
#ifndef SC_TEXT_UNIGRAM_H
#define SC_TEXT_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"
#include "text/buf.h"

typedef enum { UNIGRAM_SENTENCEPIECE, UNIGRAM_TOKENIZERS } unigram_arith;

enum { UNI_IN_TRIE = 1, UNI_USER_DEFINED = 2, UNI_SKIP = 4 /* found but never chosen (UNUSED) */ };

typedef struct {
    uint32_t first_edge; /* edges[first_edge .. first_edge + n_edges), sorted by byte */
    uint16_t n_edges;
    int32_t piece;       /* the piece ending here, or -1 */
} uni_node;

typedef struct {
    uint8_t byte;
    uint32_t child;
} uni_edge;

typedef struct {
    unigram_arith arith;
    int n;
    double *score;
    uint8_t *flags;
    int unk_id;
    double min_score, max_score;
    uni_node *nodes;
    uni_edge *edges;
    uint32_t n_nodes;
} unigram;

/* pieces[i] (len[i] bytes) with score[i] and flags[i] (UNI_*); unk_id names the unknown piece.
 * Copies what it keeps. A piece given twice is an error for SENTENCEPIECE (as the library) and
 * the later one's for TOKENIZERS (a hash map's insert). For SENTENCEPIECE, min/max are taken over the pieces flagged `normal`
 * (normal[i] != 0); for TOKENIZERS over all (normal may be NULL). */
sc_status unigram_init(unigram *u, unigram_arith arith, int n, const char *const *pieces, const uint32_t *len,
                       const double *score, const uint8_t *flags, const uint8_t *normal, int unk_id, const char *what);
void unigram_free(unigram *u);

/* Segments s[0 .. n) (valid UTF-8) and appends the ids to out. */
void unigram_encode(const unigram *u, const uint8_t *s, size_t n, id_buf *out);

/* The longest piece flagged UNI_USER_DEFINED that is a prefix of s[0 .. n): its length, or 0. */
size_t unigram_user_prefix(const unigram *u, const uint8_t *s, size_t n);

#endif
