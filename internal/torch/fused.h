// fused.h: training kernels that gotch's generated bindings lack, written
// against ATen in fused.cpp. Every function returns NULL on success or a
// malloc'd error message the caller frees. Tensors are gotch handles
// (torch::Tensor*); results are new handles the caller frees with AtFree.
#ifndef GOLAMINI_FUSED_H
#define GOLAMINI_FUSED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Summed cross-entropy of the logits x·wᵀ (x [N,H], w [V,H]) against int64
// targets [N], skipping targets equal to ignore_index, without holding the
// [N,V] logits: rows go through in chunks of chunk_rows (0: automatic).
// When autograd needs them, the gradients of x and w are made during the
// forward pass for an upstream gradient grad_scale and kept for backward.
char *gl_linear_cross_entropy(void **out, void *x, void *w, void *targets, int64_t ignore_index,
                              double grad_scale, int64_t chunk_rows);

// One torch.optim.AdamW step over n parameters, in place: per element one
// pass over p, g, m, v. Each gradient is first multiplied by grad_scale
// (gradient clipping's coefficient; 1 for none). decay[i] != 0 applies the
// decoupled weight decay to parameter i. Parameters whose grad is undefined
// are skipped.
char *gl_adamw(void **params, void **grads, void **exp_avg, void **exp_avg_sq, const uint8_t *decay, int n,
               double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step,
               double grad_scale);

// The total 2-norm of n gradients the way torch.nn.utils.clip_grad_norm_
// computes it: the norm of the per-tensor norms (float32).
char *gl_grad_norm(void **grads, int n, double *out);

// A new float32 CPU tensor of the given shape converted from data, which
// holds that many elements of dtype (Float16, BFloat16, Float32 or Float64)
// in the host's byte order, aligned to the element size; data is only read
// (libtorch converts with all its threads).
char *gl_convert_float32(void **out, const void *data, int dtype, const int64_t *shape, int ndim);

// Sets t's gradient to undefined (zero_grad(set_to_none=True)), so that the
// next backward hands it a fresh gradient instead of adding into the old one.
char *gl_drop_grad(void *t);

// Causal scaled dot-product attention without a mask tensor
// (is_causal=true), over [B, heads, T, D]: libtorch then may take its
// flash-attention kernel, which an explicit mask rules out.
char *gl_causal_attention(void **out, void *q, void *k, void *v, double scale);

// GPT-NeoX rotary embedding of x [B, T, heads, D] (float32 CPU, last
// dimension contiguous) with tables cos, sin [1 or B, T, 1, D]:
// y = x·cos + swap(x)·sin, swap exchanging the halves of the first rot
// values; an autograd op when x requires grad (rotary.cpp).
char *gl_rotary(void **out, void *x, void *cos, void *sin, int64_t rot);

// HF's LlamaRMSNorm in float32: w ⊙ x·rsqrt(mean(x²) + eps) over the last
// dimension of x [..., D] with w [D] (float32 CPU); an autograd op when x or w
// requires grad (rmsnorm.cpp).
char *gl_rms_norm(void **out, void *x, void *w, double eps);

#ifdef __cplusplus
}
#endif

#endif
