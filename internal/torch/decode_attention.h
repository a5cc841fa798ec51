// decode_attention.h: attention of one new position per row (DecodeAttention).
#ifndef GOLAMINI_DECODE_ATTENTION_H
#define GOLAMINI_DECODE_ATTENTION_H

#include <stdint.h>

// glm_decode_attention: see DecodeAttention in decode_attention.go. Returns 0,
// or -1 when it cannot allocate its scratch buffer.
int glm_decode_attention(const float *qkv, const float *cos, const float *sin, int rot,
                         float *kc, float *vc, float *y, int B, int nh, int hs,
                         int64_t cap, int64_t past, float scale);

// glm_decode_attention_grouped: see DecodeAttentionGrouped in
// decode_attention.go. Returns 0, or -1 when it cannot allocate its scratch.
int glm_decode_attention_grouped(const float *qkv, const float *cos, const float *sin, int rot,
                                 const float *qnorm, const float *knorm, float eps,
                                 float *kc, float *vc, float *y, int B, int nh, int nkv, int hs,
                                 int64_t cap, int64_t past, float scale);

#endif
