/* libFuzzer target: a spiece.model (SentencePiece's protobuf) read into a tokenizer with both
 * semantics, then a few texts encoded with each. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "text/tokenizer.h"

static const char *const k_texts[] = {"", "a red fox", "  <extra_id_5> </s> \xC3\xA9\xE2\x96\x81x\t\n", "\xE4\xB8\xAD\xE6\x96\x87"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int sem = TOK_TRANSFORMERS; sem <= TOK_SENTENCEPIECE; sem++) {
        tokenizer *t;
        if (tokenizer_from_spm_bytes(data, size, (tok_semantics)sem, "fuzz", &t) != SC_OK) continue;
        for (size_t i = 0; i < sizeof k_texts / sizeof *k_texts; i++) {
            id_buf out = {0};
            tokenizer_encode(t, k_texts[i], strlen(k_texts[i]), 8, &out);
            ib_free(&out);
        }
        tokenizer_free(t);
    }
    return 0;
}
