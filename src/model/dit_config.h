#ifndef SC_MODEL_DIT_CONFIG_H
#define SC_MODEL_DIT_CONFIG_H

#include <jansson.h>

#include "model/dit.h"

/* Reads a diffusers DiTTransformer2DModel config.json (FORMATS.md 2). */
sc_status dit_config_from_json(dit_config *c, const char *path);
/* The same from a parsed object; `path` names it in errors. */
sc_status dit_config_from_object(dit_config *c, const json_t *j, const char *path);
/* Validates sizes and fills tokens, head_dim, learned_sigma and the origin's numerics. */
sc_status dit_config_finish(dit_config *c, sc_origin origin, const char *what);

#endif
