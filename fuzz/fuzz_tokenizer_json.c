/* libFuzzer target: a tokenizer.json (Hugging Face tokenizers' pipeline) read into a tokenizer,
 * then a few texts encoded. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "text/tokenizer.h"

static const char *const k_texts[] = {"", "a red fox", "  <extra_id_5> </s> \xC3\xA9\xE2\x96\x81x\t\n", "\xE4\xB8\xAD\xE6\x96\x87"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tokenizer *t;
    if (tokenizer_from_json_text((const char *)data, size, "fuzz", &t) != SC_OK) return 0;
    for (size_t i = 0; i < sizeof k_texts / sizeof *k_texts; i++) {
        id_buf out = {0};
        tokenizer_encode(t, k_texts[i], strlen(k_texts[i]), 0, &out);
        ib_free(&out);
    }
    tokenizer_free(t);
    return 0;
}
