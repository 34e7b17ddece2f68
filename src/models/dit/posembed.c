#include <math.h>
#include <stddef.h>

#include "models/dit/dit.h"

/* pos[t = i*G + j] = [sin(j w) | cos(j w) | sin(i w) | cos(i w)], w_k = 10000^(-k / (D/4)):
 * the first half encodes the column j, the second the row i; computed in double like numpy. */
void dit_pos_embed(float *pos, int grid, int D)
{
    const int q = D / 4;
    for (int i = 0; i < grid; i++)
        for (int j = 0; j < grid; j++) {
            float *p = pos + ((size_t)i * grid + j) * D;
            for (int k = 0; k < q; k++) {
                double w = 1.0 / pow(10000.0, (double)k / (D / 4.0));
                p[k] = (float)sin(j * w);
                p[q + k] = (float)cos(j * w);
                p[2 * q + k] = (float)sin(i * w);
                p[3 * q + k] = (float)cos(i * w);
            }
        }
}
