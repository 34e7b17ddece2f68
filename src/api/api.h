/* What the public API's files share (src/api/): the calibration object behind sc_calibration. */
#ifndef SC_API_API_H
#define SC_API_API_H

#include <jansson.h>

#include "cache/calibrator.h"
#include "smoothcache.h"

struct sc_calibration {
    const cache_calibrator *cal;
    void *state;
    char policy[32];
    json_t *meta; /* what the observed generations were: model, cfg, seed, classes, MACs */
};

/* Adds a finished observed generation's settings to c->meta. */
sc_status calibration_record(sc_calibration *c, const sc_model *m, const sc_gen_params *p);

#endif
