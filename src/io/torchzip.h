/* PyTorch checkpoints (torch.save since 1.6: .pt, .pth, diffusers' .bin) read without Python and
 * without running the pickle (docs/FORMATS.md, "Weight files"; docs/RELIABILITY.md):
 *     ZIP (src/io/zip.c)  ->  <prefix>/data.pkl through the restricted pickle VM (src/io/pickle.c)
 *     ->  each tensor's storage <prefix>/data/<key> checked against its declared size
 *     ->  an st_file whose tensors point into the mapping.
 * So everything downstream (the model loader, st_to_f32, st_write) treats torch files exactly
 * like safetensors: F32 zero-copy when aligned (torch aligns data to 64 bytes), F16/BF16
 * converted. Legacy (pre-1.6 pickle or tar) files are refused with advice.
 */
#ifndef SC_IO_TORCHZIP_H
#define SC_IO_TORCHZIP_H

#include <stdint.h>

#include "io/safetensors.h"
#include "smoothcache.h"

#define TORCH_MAX_PICKLE (64ull << 20) /* data.pkl */

/* Maps and reads a torch.save zip file. */
sc_status torch_open(const char *path, st_file **out);
/* The same over an in-memory image (the fuzz target's entry); the bytes must outlive the
 * st_file. `what` names it in errors. */
sc_status torch_parse(const uint8_t *bytes, uint64_t size, const char *what, st_file **out);
/* Opens a weight file by its content: a ZIP or a legacy torch file goes to torch_open, anything
 * else to st_open. */
sc_status torch_or_safetensors_open(const char *path, st_file **out);

#endif
