/* PixArt's 2-D sin-cos position table for any token grid (diffusers' get_2d_sincos_pos_embed with
 * base_size and interpolation_scale): the positions are computed in float32 as torch does, the
 * frequencies, products, sines and cosines in double, the result rounded to float. */
#include <math.h>
#include <stddef.h>

#include "models/pixart/pixart.h"

/* Position k of n along an axis: k / (n / base) / scale, each division rounded to float. */
static float axis_pos(int k, int n, int base, double scale)
{
    const float step = (float)((double)n / base);
    return ((float)k / step) / (float)scale;
}

/* pos[t = i gw + j] = [sin(x w) | cos(x w) | sin(y w) | cos(y w)] with x = axis_pos(j, gw),
 * y = axis_pos(i, gh), w_k = 10000^(-k / (D/4)): the first half encodes the column, the second
 * the row. With gh = gw = base and scale 1 it is DiT's table. */
void pixart_pos_embed(float *pos, int gh, int gw, int base, double scale, int D)
{
    const int q = D / 4;
    for (int i = 0; i < gh; i++) {
        const double y = axis_pos(i, gh, base, scale);
        for (int j = 0; j < gw; j++) {
            const double x = axis_pos(j, gw, base, scale);
            float *p = pos + ((size_t)i * gw + j) * D;
            for (int k = 0; k < q; k++) {
                const double w = 1.0 / pow(10000.0, (double)k / (D / 4.0));
                p[k] = (float)sin(x * w);
                p[q + k] = (float)cos(x * w);
                p[2 * q + k] = (float)sin(y * w);
                p[3 * q + k] = (float)cos(y * w);
            }
        }
    }
}
