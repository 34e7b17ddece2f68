/* The weight source every loader reads through: one model's weight files (one file, or the
 * shards of an index; safetensors or PyTorch .bin/.pt alike), tensors fetched by name with their
 * shape checked against what the configuration needs, a record of which tensors were used (so a
 * loader can warn about the rest), and the diffusers folder conventions (pipeline components,
 * weight file names). A family loader only says which names it needs (models/<family>/).
 *
 *     weights *w;
 *     weights_open_folder("DiT-XL-2-256/transformer", &w);       // or weights_open_file(path, &w)
 *     const uint64_t dims[2] = {6912, 1152};
 *     weights_get(w, "transformer_blocks.0.norm1.linear.weight", 2, dims, 0, &data, &owned);
 *     ...
 *     weights_close(w);   // F32 tensors are views into the files: close after the last use
 */
#ifndef SC_IO_WEIGHTS_H
#define SC_IO_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "smoothcache.h"

#define WEIGHTS_MAX_FILES 64

typedef struct weights weights;

/* One file, safetensors or a torch.save zip (read without running its pickle). */
sc_status weights_open_file(const char *path, weights **out);
/* The weights of a diffusers model folder, in this order of preference:
 * diffusion_pytorch_model.safetensors, its .safetensors.index.json (shards), the .fp16.safetensors
 * variant, diffusion_pytorch_model.bin, its .bin.index.json (shards); then transformers' names
 * (a text encoder's folder): model.safetensors, its index, pytorch_model.bin, its index. */
sc_status weights_open_folder(const char *dir, weights **out);
void weights_close(weights *w);

/* The file or folder opened (for messages). */
const char *weights_path(const weights *w);
/* Names are looked up as prefix + name from now on ("" by default; a full Stable Diffusion
 * checkpoint keeps its VAE under "first_stage_model."). The prefix is copied. */
void weights_set_prefix(weights *w, const char *prefix);
const char *weights_prefix(const weights *w);
/* "model" or "VAE": the word error messages use for what needs the shapes ("... but the model
 * configuration needs [...]"). Default "model". Not copied. */
void weights_set_role(weights *w, const char *role);

/* The tensor prefix + name, or NULL; find() records it as used, peek() does not. *file (may be
 * NULL) receives the file that holds it. */
const st_tensor *weights_find(weights *w, const char *name, st_file **file);
const st_tensor *weights_peek(const weights *w, const char *name);
/* All tensors, in file order then name order (for scans such as counting blocks). */
size_t weights_count(const weights *w);
const char *weights_name_at(const weights *w, size_t i);

enum {
    /* A 1x1 convolution weight [o, i, 1, 1] may come as the linear [o, i] (the same bytes):
     * diffusers stores attention projections as linears where LDM has 1x1 convolutions. */
    WEIGHTS_POINTWISE_AS_LINEAR = 1
};
/* prefix + name as float32, with exactly the shape dims[0..rank): a missing tensor or another
 * shape fails with a message naming both. Zero-copy for aligned F32 (*owned = NULL); F16, BF16
 * and unaligned F32 are converted into *owned (free with mem_free). */
sc_status weights_get(weights *w, const char *name, int rank, const uint64_t *dims, int flags, const float **data,
                      float **owned);
/* Parameters and dtypes of everything weights_get returned so far: the dtype name ("F32",
 * "BF16"...) when all agree, else "mixed"; "" before the first. */
uint64_t weights_params(const weights *w);
const char *weights_dtype(const weights *w);
/* The dtype of every floating-point tensor in the files ("F32", "F16", "BF16"), "mixed", or ""
 * when there is none; from the headers, before anything is read (weights_dtype says the same of
 * the tensors fetched so far). */
const char *weights_stored_dtype(const weights *w);
/* A 64-bit fingerprint of every tensor in the files (names, dtypes, shapes, bytes), reading them
 * once (pages given back as it goes): equal weights give equal fingerprints whatever the files'
 * layout or sharding. */
uint64_t weights_fingerprint(const weights *w);

/* Forgets which tensors were used (after a scan that touched them). */
void weights_reset_used(weights *w);
/* Tensors under the prefix that were not used and that `skip` (may be NULL) does not excuse;
 * *example is one of them. */
size_t weights_unused(const weights *w, int (*skip)(const char *name), const char **example);

/* Pipeline folders (diffusers model_index.json). 1 when `dir` is a pipeline folder, and then
 * `out` is its `component` subfolder; 0 when dir has no model_index.json; a failure (with
 * `missing` in the message) when the pipeline has no such component. */
sc_status weights_pipeline_component(const char *dir, const char *component, const char *missing, char *out,
                                     size_t cap, int *is_pipeline);

#endif
