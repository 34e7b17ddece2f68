/* libFuzzer target: the JSON files users hand us, through the strict parser and each reader
 * built on it: a DiT config.json, a PixArt config.json, a T5 config.json, Stable Audio's transformer
 * and projection configs, an Oobleck config, a scheduler config, a SmoothCache schedule
 * (28 blocks x 50 evaluations, and 2 x 4, with DiT's and PixArt's components), a calibration file
 * and a shard manifest. */
#include <stddef.h>
#include <stdint.h>

#include "cache/errors.h"
#include "cache/schedule.h"
#include "io/json.h"
#include "io/shard.h"
#include "models/dit/dit.h"
#include "models/oobleck/oobleck.h"
#include "models/pixart/pixart.h"
#include "models/stableaudio/stableaudio.h"
#include "models/t5/t5.h"
#include "sample/schedule.h"

/* DiT's components, as a schedule for it is read. */
static const cache_comps k_dit = {.n = 2, .name = {"attn", "mlp"}, .aliases = {"attn1", "ff"}};
/* PixArt's, with its cross-attention. */
static const cache_comps k_pixart = {.n = 3, .name = {"attn", "cross", "mlp"}, .aliases = {"attn1", "attn2", "ff"}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j;
    if (json_parse((const char *)data, size, "fuzz", &j) != SC_OK) return 0;
    dit_config c;
    if (dit_config_from_object(&c, j, "fuzz") == SC_OK) dit_config_finish(&c, SC_ORIGIN_DIFFUSERS, "fuzz");
    pixart_config px;
    pixart_config_from_object(&px, j, "fuzz");
    t5_config t5;
    t5_config_from_json(&t5, j, "fuzz");
    sa_config sa;
    sa_config_from_objects(&sa, j, "fuzz", j, "fuzz");
    oobleck_config ob;
    oobleck_config_from_object(&ob, j, "fuzz");
    sched_config sc;
    sched_from_object(&sc, j, "fuzz");
    shard_manifest m;
    shard_manifest_from_object(j, "fuzz", &m);
    static const int shapes[2][2] = {{28, 50}, {2, 4}};
    for (int i = 0; i < 2; i++) {
        cache_schedule s;
        for (int k = 0; k < 2; k++) {
            if (schedule_alloc(&s, shapes[i][0], shapes[i][1], k ? &k_pixart : &k_dit) != SC_OK) continue;
            schedule_from_json(j, "fuzz", "fuzz", &s);
            schedule_free(&s);
        }
    }
    cache_errors e;
    if (errors_from_object(j, "fuzz", &e) == SC_OK) {
        cache_schedule s;
        if (schedule_alloc(&s, e.depth, e.steps, &k_dit) == SC_OK) {
            schedule_from_errors(&e, 0.1, e.has_blocks, &s);
            schedule_free(&s);
        }
        errors_free(&e);
    }
    json_decref(j);
    return 0;
}
