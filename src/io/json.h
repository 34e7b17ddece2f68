/* JSON through jansson, made strict: duplicate keys, a BOM, depth over 64, trailing content and
 * NaN/Infinity literals are errors, and typed getters refuse "12", 12.5 or true for an integer. */
#ifndef SC_IO_JSON_H
#define SC_IO_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

#define SC_JSON_MAX_DEPTH 64
#define SC_JSON_FILE_CAP (1u << 20) /* config, schedule and calibration files: 1 MB */

/* Parses `len` bytes; `what` names the source in errors (a path). */
sc_status json_parse(const char *src, size_t len, const char *what, json_t **out);
/* Reads and parses a file of at most `cap` bytes; the root must be an object. */
sc_status json_load_object_file(const char *path, uint64_t cap, json_t **out);
/* The same with every number read as a double: for files other tools write with integers past
 * 64 bits (transformers' model_max_length of 1e30). */
sc_status json_load_object_file_reals(const char *path, uint64_t cap, json_t **out);
/* The same for files Python's json module wrote: the NaN, Infinity and -Infinity it writes (not
 * JSON) are read as the strings "NaN", "Infinity" and "-Infinity". */
sc_status json_load_object_file_py(const char *path, uint64_t cap, json_t **out);

/* Writes `root` (JSON text and a newline) to path atomically; refuses to overwrite unless force.
 * flags: jansson's dump flags (indentation, real precision). */
sc_status json_save(const char *path, const json_t *root, size_t flags, int force);

/* Typed getters. A missing key leaves *out = def and succeeds when `required` is 0.
 * Errors name `what` (file) and the key. */
sc_status json_get_int(const json_t *obj, const char *key, const char *what, int required,
                       long long min, long long max, long long def, long long *out);
sc_status json_get_num(const json_t *obj, const char *key, const char *what, int required,
                       double min, double max, double def, double *out);
sc_status json_get_bool(const json_t *obj, const char *key, const char *what, int required,
                        int def, int *out);
/* *out points into the JSON value (valid while obj lives), or is `def`. */
sc_status json_get_str(const json_t *obj, const char *key, const char *what, int required,
                       const char *def, const char **out);

#endif
