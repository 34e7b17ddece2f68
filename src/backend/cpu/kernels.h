/* The CPU float32 backend's kernels, one function per operation of the table in
 * backend/backend.h (which states each one's contract); cpu.c assembles the table. Files:
 * eltwise.c (element-wise, normalisation, layout), reduce.c (deterministic reductions),
 * history.c (prediction from past outputs), attention.c (oneDNN products + softmax); the row
 * kernels whose code or rounding depends on the instruction set are vec.h's, chosen at run time. */
#ifndef SC_BACKEND_CPU_KERNELS_H
#define SC_BACKEND_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/matmul.h"

void cpu_ln_modulate(float *z, const float *h, int B, int T, int D, float eps, const float *shift,
                     const float *scale, int mod_stride);
void cpu_gated_add(float *h, const float *sub, int B, int T, int D, const float *gate, int mod_stride);
void cpu_group_norm(float *y, const float *x, long P, int C, int G, float eps, const float *gamma,
                    const float *beta, int silu, double *stats);
void cpu_add(float *y, const float *x, size_t n);
void cpu_sub(float *y, const float *a, const float *b, size_t n);
void cpu_copy(float *y, const float *x, size_t n);
void cpu_to_bf16(uint16_t *y, const float *x, size_t n);
void cpu_from_bf16(float *x, const uint16_t *y, size_t n);
void cpu_silu(float *y, const float *x, size_t n);
void cpu_mul(float *y, const float *x, size_t n);
void cpu_swiglu(float *y, const float *x, int64_t M, int I);
void cpu_rope(float *x, int B, int T, int64_t ld, int H, int hd, int rot, const float *cs, const float *sn);
void cpu_snake(float *y, const float *x, int64_t rows, int C, const float *a, const float *ib);
void cpu_im2col1d(float *col, const float *x, int64_t L, int C, int k, int d, int pad, int64_t t0, int64_t n);
void cpu_col2im1d_add(float *y, int64_t Lo, const float *z, int C, int k, int s, int p, int64_t i0, int64_t n);
void cpu_gather_rows(float *y, const float *table, const int32_t *ids, long n, int D);
void cpu_rms_norm(float *y, const float *x, long rows, int D, float eps, const float *w);
void cpu_add_rows(float *y, const float *table, const int *ids, int B, int D);
void cpu_add_pos(float *h, const float *pos, int B, int T, int D);
void cpu_timestep_features(float *out, const float *t, int B, int div);
void cpu_patchify(float *patches, const float *x, int B, int C, int H, int W, int p);
void cpu_unpatchify(float *out, const float *o, int B, int Co, int H, int W, int p);
void cpu_planes_to_pixels(float *dst, const float *src, int C, long HW, float div, float add);
void cpu_pixels_to_planes(float *dst, const float *src, int C, long HW);
void cpu_upsample_shuffle(float *dst, const float *src, int s, int c);
void cpu_cfg_combine(float *e, const float *cond, const float *uncond, float s, size_t n);

void cpu_l1_diff(const float *a, const float *b, size_t n, double *diff, double *ref);
void cpu_l1_diff_residual(const float *h, const float *h0, const float *b, size_t n, double *diff, double *ref);
void cpu_residual_norms(const float *h, const float *h0, size_t rows, int D, double *norms);

void cpu_taylor_update(float *const *d, int top, const float *out, float delta, size_t n);
void cpu_taylor_eval(float *out, const float *const *d, const float *coef, int have, size_t n);
void cpu_lagrange_eval(float *out, const float *const *src, const float *w, int have, size_t n);
void cpu_extrapolate(float *out, const float *a1, float *a2, float w, size_t n);

/* Query rows per block of the score matrix: at most CPU_ATT_QBLOCK x T scores of one (sample,
 * head) are live at a time once T exceeds it, so 512-px images (T = 1024) never hold the whole
 * [B, H, T, T] matrix (134 MB for DiT-XL/2, through DRAM, 25x slower). */
#define CPU_ATT_QBLOCK 256

size_t cpu_attention_scratch(int B, int T, int H);
/* dt: the element type of both products' inputs (MM_F32, or MM_BF16: q, k, v and the
 * probabilities rounded to bf16; scores, softmax and outputs float32). */
sc_status cpu_attention(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld, float *att,
                        float *dense, float *scores, int B, int T, int H, int hd, int dt);
/* The bf16 scheme of cpu_attention as one pass per (sample, head) with AVX512-BF16 instructions
 * (attention_bf16.c): q, k, v [B*T, H*hd] rows of stride ld -> att [B*T, H*hd]. Available when
 * the CPU has them (cpu_attention_bf16_available); cpu_attention uses it then. Its per-thread
 * buffers are the context's scratch slot 1. */
int cpu_attention_bf16_available(void);
sc_status cpu_attention_bf16_fused(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld, float *att,
                                   int B, int T, int H, int hd);
/* softmax(scale q k^T + bias[h, i, j] + key_mask[b, j]) v with Tq queries and Tk keys per sample:
 * q [B*Tq, D], k, v [B*Tk, D] dense; bias [H, Tq, Tk] and key_mask [B, Tk] may be NULL; scores:
 * cpu_attention_cross_scratch() floats. A text encoder's attention is Tq = Tk. */
size_t cpu_attention_cross_scratch(int B, int Tq, int Tk, int H);
sc_status cpu_attention_general(mm_ctx *mm, const float *q, const float *k, const float *v, float *att, float *scores,
                                int B, int Tq, int Tk, int H, int hd, float scale, const float *bias,
                                const float *key_mask, int dt);

#endif
