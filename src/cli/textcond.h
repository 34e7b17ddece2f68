/* The text conditioning of a generation from a text-to-image model (generate, sample): prompts
 * encoded by the model's pipeline, or embeddings from `encode`, and the negative side. */
#ifndef SC_CLI_TEXTCOND_H
#define SC_CLI_TEXTCOND_H

#include <stdint.h>

#include "cli/args.h"
#include "smoothcache.h"

/* The flags cli_text_cond reads (a command's option table includes them): CLI_TEXT_OPTS, or
 * CLI_TEXT_FILE_OPTS for a command whose repeatable flag is another (bench's --cache). */
#define CLI_TEXT_OPTS                                                                                        \
    {"--prompt", "TEXT...", "text models (PixArt, Stable Audio): a prompt, one image or clip each (repeat the flag for more)"},    \
    CLI_TEXT_FILE_OPTS
#define CLI_TEXT_FILE_OPTS                                                                                   \
    {"--prompts", "FILE", "text models: UTF-8 text, one prompt a line (an empty line: the empty prompt; '-': the standard input), one image or clip each"},            \
    {"--negative-prompt", "TEXT", "what guidance steers away from (default as the pipelines: PixArt the empty prompt, Stable Audio an all-zero text)"}, \
    {"--prompt-embeds", "FILE.npz", "prompts already encoded by smoothcache encode (prompt_embeds, attention_mask)"}, \
    {"--negative-embeds", "FILE.npz", "the negative side already encoded (1 row, or one per prompt)"},       \
    {"--text-encoder", "PATH", "T5 encoder folder (default: the pipeline folder's text_encoder/)"},          \
    {"--tokenizer", "PATH", "tokenizer.json, spiece.model or their folder (default: beside the text encoder)"}, \
    {"--max-length", "N", "tokens per prompt, 1..4096 (default: the pipeline's: PixArt-alpha 120, Sigma 300, Stable Audio its tokenizer's model_max_length)"}

typedef struct {
    int n, L, D;         /* prompts, tokens, width */
    float *text;         /* [n, L, D] */
    int32_t *mask;       /* [n, L] */
    float *neg;          /* [n, L, D], NULL without guidance */
    int32_t *neg_mask;
    char *summary;       /* the prompts as one line (PNG text, reports) */
    char **prompts;      /* [n] each prompt (NULL when given as embeddings) */
} cli_text;

/* For a class-conditional model: a usage error naming the first text-only flag given (the
 * negative side, the encoder, the tokenizer, the length), else 0. */
int cli_text_flags_unused(const cli_args *a);

/* Reads the prompts or embeddings and encodes what needs encoding (the text encoder is freed
 * before returning). guided: the negative side is needed. Returns an exit status. */
int cli_text_cond(const cli_args *a, sc_model *m, const sc_model_info *info, int guided, int quiet, cli_text *t);
void cli_text_free(cli_text *t);
/* c = the conditioning of t (pointers into t). */
void cli_text_to_cond(const cli_text *t, sc_cond *c);

#endif
