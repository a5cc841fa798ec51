// row_attention.h: attention of one new position per row, each row with its
// own length (RowAttention, RowAttentionGrouped).
#ifndef GOLAMINI_ROW_ATTENTION_H
#define GOLAMINI_ROW_ATTENTION_H

#include <stdint.h>

// glm_row_attention: see RowAttention in row_attention.go. Returns 0, or -1
// when it cannot allocate its scratch buffer.
int glm_row_attention(const float *qkv, const float *cos, const float *sin, int rot, float *kc, float *vc, float *y,
                      int B, int nh, int hs, int64_t cap, const int64_t *past, float scale);

// glm_row_attention_grouped: see RowAttentionGrouped in row_attention.go.
// Returns 0, or -1 when it cannot allocate its scratch buffer.
int glm_row_attention_grouped(const float *qkv, const float *cos, const float *sin, int rot, const float *qnorm,
                              const float *knorm, float eps, float *kc, float *vc, float *y, int B, int nh, int nkv,
                              int hs, int64_t cap, const int64_t *past, float scale);

#endif
