// argmax_screen_rows.h: ArgmaxLinear's screening pass for several input rows
// at once (argmax_screen_rows.c).
#ifndef GOLAMINI_ARGMAX_SCREEN_ROWS_H
#define GOLAMINI_ARGMAX_SCREEN_ROWS_H

#include <stdint.h>

// glm_screen7_preferred reports whether glm_screen_rows7 beats the one-row
// kernels for several rows on this CPU: AVX2 without AVX-512 VNNI (whose
// one-row kernel multiplies 64 bytes per instruction).
int glm_screen7_preferred(void);

// glm_screen_quantize7 quantizes one input row x [K] to 7 bits: xq =
// round(x/sx) in [−63, 63], sx = max|x|/63, stored as xu = xq + 64 (uint8,
// 1…127). It returns sx and sets *xnorm ≥ ‖x‖₂ and *xerr ≥ ‖x − sx·xq‖₂;
// it returns −1 when x is not finite.
float glm_screen_quantize7(const float *x, int K, uint8_t *xu, double *xnorm, double *xerr);

// glm_screen_rows7 is glm_screen_rows_m for m inputs quantized by
// glm_screen_quantize7 (xu [m, K], sx [m]): out[i·ldo + r − r0] =
// scale_r·sx_i·(q_r·xq_i) for rows [r0, r0+n) of the index, the integer dot
// products exact.
void glm_screen_rows7(const uint8_t *xu, const float *sx, int m, const int8_t *q, const float *scale,
                      const int32_t *qsum, float *out, int ldo, int K, int64_t r0, int n);

#endif
