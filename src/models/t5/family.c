/* The T5 encoder family: recognised by its config.json (model_type t5, mt5 or umt5). */
#include <string.h>

#include "models/t5/t5.h"

static int detect(const encoder_probe *p)
{
    if (!p->config) return 0;
    const char *type = json_string_value(json_object_get(p->config, "model_type"));
    if (type && (!strcmp(type, "t5") || !strcmp(type, "mt5") || !strcmp(type, "umt5"))) return 100;
    const json_t *arch = json_object_get(p->config, "architectures");
    for (size_t i = 0; i < json_array_size(arch); i++) {
        const char *a = json_string_value(json_array_get(arch, i));
        if (a && strstr(a, "T5")) return 60;
    }
    return 0;
}

const encoder_family encoder_family_t5 = {
    .name = "t5",
    .about = "T5 / Flan-T5 / mT5 / umT5 encoder (transformers' T5EncoderModel)",
    .looks_for = "config.json with model_type t5, mt5 or umt5",
    .detect = detect,
    .load = t5_load,
    .free = t5_free,
    .encode = t5_encode,
};
