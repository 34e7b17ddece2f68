/* libFuzzer target: any bytes as a prompt, through the tiny fixture tokenizer (tests/fixtures/
 * t5tok/tiny) with both semantics, unpadded and padded to 16. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "text/tokenizer.h"

static tokenizer *g_tok[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_tok[0]) {
        const char *dir = SC_SOURCE_DIR "/tests/fixtures/t5tok/tiny";
        if (tokenizer_load(dir, TOK_TRANSFORMERS, &g_tok[0]) != SC_OK ||
            tokenizer_load(dir, TOK_SENTENCEPIECE, &g_tok[1]) != SC_OK)
            abort(); /* the fixture must load */
    }
    for (int k = 0; k < 2; k++) {
        id_buf a = {0}, b = {0};
        tokenizer_encode(g_tok[k], (const char *)data, size, 0, &a);
        tokenizer_encode(g_tok[k], (const char *)data, size, 16, &b);
        ib_free(&a);
        ib_free(&b);
    }
    return 0;
}
