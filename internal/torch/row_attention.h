// row_attention.h: attention of one new position per row, each row with its
// own length (RowAttention, RowAttentionGrouped).
#ifndef GOLAMINI_ROW_ATTENTION_H
#define GOLAMINI_ROW_ATTENTION_H

#include <stdint.h>

// RowAttention and RowAttentionGrouped (row_attention.go) in two halves, so
// rows can be attended on several threads: _write puts every row's new key
// (normed, rotated) and value into the caches at column past[b]; _rows then
// attends rows b0…b0+nb−1, row b's merged heads going to y + (b−b0)·nh·hs,
// and only reads the caches. Those returning int give -1 when they cannot
// allocate their scratch, else 0.
void glm_row_attention_write(const float *qkv, const float *cos, const float *sin, int rot, float *kc, float *vc,
                             int B, int nh, int hs, int64_t cap, const int64_t *past);
int glm_row_attention_rows(const float *qkv, const float *cos, const float *sin, int rot, const float *kc,
                           const float *vc, float *y, int b0, int nb, int nh, int hs, int64_t cap, const int64_t *past,
                           float scale);
int glm_row_attention_grouped_write(const float *qkv, const float *cos, const float *sin, int rot,
                                    const float *knorm, float eps, float *kc, float *vc, int B, int nh, int nkv,
                                    int hs, int64_t cap, const int64_t *past);
int glm_row_attention_grouped_rows(const float *qkv, const float *cos, const float *sin, int rot, const float *qnorm,
                                   float eps, const float *kc, const float *vc, float *y, int b0, int nb, int nh,
                                   int nkv, int hs, int64_t cap, const int64_t *past, float scale);

#endif
