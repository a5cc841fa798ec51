// decode_attention.h: attention of one new position per row (DecodeAttention).
#ifndef GOLAMINI_DECODE_ATTENTION_H
#define GOLAMINI_DECODE_ATTENTION_H

#include <stdint.h>

// glm_decode_attention: see DecodeAttention in decode_attention.go. Returns 0,
// or -1 when it cannot allocate its scratch buffer.
int glm_decode_attention(const float *qkv, const float *cos, const float *sin, int rot,
                         float *kc, float *vc, float *y, int B, int nh, int hs,
                         int64_t cap, int64_t past, float scale);

#endif
