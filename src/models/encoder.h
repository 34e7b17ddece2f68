/* The encoder-family interface: what turns token ids into the embeddings a text-conditioned
 * model attends to. An encoder family is a folder under src/models/ (t5/: T5 and umT5) with an
 * encoder_family table and a line in registry.c; the API encodes through it without knowing
 * which one runs. */
#ifndef SC_MODELS_ENCODER_H
#define SC_MODELS_ENCODER_H

#include <jansson.h>
#include <stdint.h>

#include "backend/backend.h"
#include "io/weights.h"
#include "smoothcache.h"

/* A loaded encoder. Families extend it (their struct starts with an `encoder`). */
typedef struct encoder {
    const struct encoder_family *family;
    const backend *be;
    int vocab_size;      /* ids it embeds: 0 .. vocab_size-1 */
    int width;           /* features per token of its output */
    int depth;           /* layers */
    uint64_t params;
    char dtype[8];       /* of the weights in the file */
    uint64_t weight_bytes; /* bytes its weights take in memory once loaded */
    char variant[64];    /* "t5 (relu)", "t5 (gated-gelu)", "umt5 (gated-gelu)" */
    char path[4096];
} encoder;

typedef struct {
    const char *path;
    const json_t *config;
    const char *config_path;
    const sc_load_opts *opts; /* only dtype applies; may be NULL */
} encoder_probe;

typedef struct encoder_family {
    const char *name;        /* "t5" */
    const char *about;
    const char *looks_for;   /* for the message when no family recognises a checkpoint */
    int (*detect)(const encoder_probe *p); /* 0 .. 100 */
    sc_status (*load)(const encoder_probe *p, encoder **out);
    void (*free)(encoder *e);
    /* ids [n, L] and mask [n, L] (1 token, 0 padding; NULL: all tokens) -> out [n, L, width].
     * Padded positions are computed too (as the references do) and are the caller's to mask.
     * threads > 0 sets the thread count. */
    sc_status (*encode)(encoder *e, int n, int L, const int32_t *ids, const int32_t *mask, float *out, int threads);
} encoder_family;

sc_status encoders_detect(const encoder_probe *p, const encoder_family **out);

#endif
