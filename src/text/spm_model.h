/* SentencePiece's model file (spiece.model): the serialized ModelProto of sentencepiece's
 * sentencepiece_model.proto, read field by field with proto2's defaults for what a file omits
 * (a NORMAL piece carries no type; the normaliser's three switches default to true). Fields
 * this engine does not use are skipped; what it cannot honour is refused by name. */
#ifndef SC_TEXT_SPM_MODEL_H
#define SC_TEXT_SPM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

/* SentencePiece.Type */
enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER_DEFINED = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };

typedef struct {
    int n;                /* pieces, in id order */
    char **piece;         /* UTF-8, NUL-terminated (a piece holds no NUL) */
    uint32_t *piece_len;  /* bytes */
    float *score;
    uint8_t *type;
    /* TrainerSpec */
    int model_type;       /* 1 unigram, 2 BPE, 3 word, 4 char */
    int byte_fallback;
    int treat_whitespace_as_suffix;
    int unk_id, bos_id, eos_id, pad_id; /* -1: none */
    /* NormalizerSpec */
    char norm_name[64];
    uint8_t *charsmap;    /* precompiled_charsmap bytes, or NULL */
    size_t charsmap_len;
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} spm_model;

/* Parses the bytes of a ModelProto; `what` names the file in messages. */
sc_status spm_model_parse(const uint8_t *data, size_t len, const char *what, spm_model *m);
void spm_model_free(spm_model *m);

#endif
