/* Writes small random DiT checkpoints from C (original naming, F32), with optional defects, so
 * loader tests need no Python. */
#ifndef SC_TEST_TINY_DIT_H
#define SC_TEST_TINY_DIT_H

typedef struct {
    int depth, hidden, in_ch, out_ch, patch, input_size, classes;
    int with_pos;              /* write pos_embed */
    const char *drop;          /* omit this tensor */
    const char *misshape;      /* write this tensor with its first dim + 1 */
    const char *dtype;         /* "F32" (default) or e.g. "I32" for all tensors */
    const char *extra;         /* add this unused tensor */
    const char *poison;        /* fill this tensor with NaN */
} tiny_dit;

tiny_dit tiny_dit_default(void);
/* Writes the checkpoint to `path`; aborts the test on I/O failure. */
void tiny_dit_write(const char *path, const tiny_dit *t);

#endif
