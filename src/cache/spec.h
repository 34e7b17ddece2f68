/* The --cache specification: NAME[:key=value[,key=value...]]. Parsing checks the syntax; each
 * policy reads the keys it knows through the typed getters (which validate the values), and
 * spec_check_unused() then reports any key no policy read. */
#ifndef SC_CACHE_SPEC_H
#define SC_CACHE_SPEC_H

#include "smoothcache.h"

#define SPEC_MAX_KV 16

typedef struct {
    char key[32];
    char value[1024];
    int used;
} spec_kv;

typedef struct {
    char name[32];
    spec_kv kv[SPEC_MAX_KV];
    int n;
    char text[2048]; /* the whole spec, for messages */
} cache_spec;

sc_status spec_parse(const char *text, cache_spec *out);
/* Getters: absent key -> *out = def and SC_OK (or an error when required). Values are parsed
 * strictly (base-10 integers, finite decimal numbers within [min, max]). */
sc_status spec_int(cache_spec *s, const char *key, int required, long min, long max, long def, long *out);
sc_status spec_num(cache_spec *s, const char *key, int required, double min, double max, double def, double *out);
sc_status spec_str(cache_spec *s, const char *key, int required, const char **out);
int spec_has(const cache_spec *s, const char *key);
/* The strict number syntax of every option value, for values made of several numbers (TeaCache's
 * coef=a/b/c/d/e, AdaCache's codebook=t:r/...): s[0..len) is a finite decimal number (digits, '.',
 * an exponent, a leading '-'; no spaces, '+', hex, inf or nan) / a base-10 integer. 1 if so. */
int spec_number(const char *s, size_t len, double *out);
int spec_integer(const char *s, size_t len, long *out);

/* SC_ERR_ARG naming the first key nobody read, listing `known`. */
sc_status spec_check_unused(const cache_spec *s, const char *known);

#endif
