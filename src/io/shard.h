/* Sharded sampling on disk (docs/SCALE.md): the manifest each shard writes beside its .npz, the
 * names both take, the split of a run into shards, and the merge of complete shards into the one
 * .npz an evaluator reads.
 *
 * A run of `num` images in batches of `batch` is split by whole global batches (batch k holds
 * images [k batch, (k + 1) batch)): shard i of n takes batches [floor(i nb / n), floor((i + 1) nb
 * / n)) of the nb = ceil(num / batch). Every image is computed in the same batch whatever n is, so
 * the union of the shards equals the one-process run byte for byte.
 *
 * The manifest (JSON, "format": "smoothcache-shard", version 1) records what the images depend on
 * (settings and fingerprints of the model and VAE files), the index range, the counts and
 * whether the shard is complete; it is written, atomically, only after its .npz is in place. */
#ifndef SC_IO_SHARD_H
#define SC_IO_SHARD_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "smoothcache.h"

#define SHARD_MAX 100000

typedef struct {
    int shard, shards;           /* this shard's index (0-based) and the count it was made as */
    uint64_t begin, end;         /* images [begin, end) */
    uint64_t num;                /* images of the whole run */
    int batch, steps, side;
    uint64_t seed;
    double cfg;
    char sampler[32];
    char dtype[8];
    char cache[1024];            /* the --cache spec, "" for none */
    char model[4096];            /* the model path as given (informative) */
    char model_fp[17], vae_fp[17]; /* fingerprints (hex), vae_fp "" without a VAE */
    int complete;
} shard_manifest;

/* Images [*begin, *end) of shard i of n, for num images in batches of `batch`. */
void shard_range(uint64_t num, int batch, int i, int n, uint64_t *begin, uint64_t *end);

/* The file names of shard i of n of the output `out` ("samples.npz"):
 * "samples.shard-00002-of-00008.npz" and ".json" beside it. SC_ERR_ARG when out does not end in
 * .npz or the names would not fit in cap. */
sc_status shard_names(const char *out, int i, int n, char *npz, char *json, size_t cap);
/* The manifest beside a shard's .npz (".npz" -> ".json"). */
sc_status shard_manifest_path(const char *npz, char *json, size_t cap);

sc_status shard_manifest_write(const char *path, const shard_manifest *m, int force);
/* Strict: every key present with its type and range, no unknown key, begin < end <= num. */
sc_status shard_manifest_read(const char *path, shard_manifest *m);
/* The same from a parsed object (the fuzz target's entry); path names it in errors. */
sc_status shard_manifest_from_object(const json_t *o, const char *path, shard_manifest *m);
/* 0 when a and b come from the same run settings (everything but shard, shards, begin, end and
 * complete); otherwise 1 with the first difference described in why. */
int shard_settings_differ(const shard_manifest *a, const shard_manifest *b, char *why, size_t cap);

/* Merges complete shards (their .npz paths; manifests beside them) into out: checks they share
 * their settings, tile [0, num) with no gap and no overlap, and that each .npz holds exactly its
 * range as uint8 [count, side, side, 3]; then streams them in index order, a slice at a time
 * (memory bounded by the slice, not the run). *images receives num. */
sc_status shard_merge(const char *out, const char *const *shards, int n, int force, uint64_t *images);

#endif
