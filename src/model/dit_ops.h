/* Element-wise and layout kernels of the DiT forward (OpenMP over rows). Shapes in comments:
 * B batch rows, T tokens, D hidden, mod rows of the adaLN modulation [B, 6D]. */
#ifndef SC_MODEL_DIT_OPS_H
#define SC_MODEL_DIT_OPS_H

/* z[b,t,:] = LN(h[b,t,:]; eps) * (1 + scale[b,:]) + shift[b,:]; h, z [B*T, D];
 * shift/scale point into row b at b * mod_stride. */
void ops_ln_modulate(float *z, const float *h, int B, int T, int D, float eps,
                     const float *shift, const float *scale, int mod_stride);

/* h[b,t,:] += gate[b,:] * sub[b,t,:]; h, sub [B*T, D]. */
void ops_gated_add(float *h, const float *sub, int B, int T, int D, const float *gate, int mod_stride);

/* out[i] = in[i] * sigmoid(in[i]). */
void ops_silu(float *out, const float *in, int n);

/* Sinusoidal timestep features [B, 256] = [cos(t f_k) | sin(t f_k)], f_k = exp(-ln(1e4) k / div),
 * all in float32 the way torch computes them (FORMATS.md 1.3). */
void ops_timestep_features(float *out, const float *t, int B, int div);

/* x [B, C, S, S] -> patches [B*T, C*p*p] in (c, u, v) order, matching the conv weight [D, C, p, p]. */
void ops_patchify(float *patches, const float *x, int B, int C, int S, int p);

/* h [B*T, D] += pos [T, D]. */
void ops_add_pos(float *h, const float *pos, int B, int T, int D);

/* o [B*T, p*p*Co] with o[t=(i,j)][(u*p+v)*Co + c] -> out [B, Co, S, S]. */
void ops_unpatchify(float *out, const float *o, int B, int Co, int S, int p);

#endif
