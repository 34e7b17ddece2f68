/* libFuzzer target: the --cache NAME[:key=value,...] parser and every policy's option checks.
 * Specs that name files (schedule=, errors=, ratios=, coef_file=) are only parsed, not opened. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cache_spec spec;
    if (spec_parse(text, &spec) == SC_OK && !strstr(text, "schedule=") && !strstr(text, "errors=") &&
        !strstr(text, "ratios=") && !strstr(text, "coef_file=")) {
        cache_run *r;
        if (cache_run_create(text, &r) == SC_OK) cache_run_free(r);
    }
    free(text);
    return 0;
}
