// rotary.cpp: GPT-NeoX's rotary embedding as one autograd op (gl_rotary in
// fused.h; the Go side is Rotary in rotary.go).
//
// y = x·cos + swap(x)·sin over the last dimension, swap exchanging the two
// halves of the first rot values and passing the rest through; the tables
// hold cos|1 and (−sin_a)|sin_b|0 (model.ensureRotary), so the pass-through
// values come out unchanged. swap is its own inverse, so the backward is
// dx = dy·cos + swap(dy·sin).
#include "fused.h"
#include "fused_errors.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>


namespace {

// Rows of x are its last dimension; row r = ((b·T + t)·H + h) of a
// [B, T, H, D] tensor, which may be strided except in the last dimension.
struct Rows {
  int64_t B, T, H, D;
  int64_t sb, st, sh;  // x's strides
  int64_t cb, ct;      // the tables' strides over batch (0 when shared) and time
};

// swap_index is the position whose value lands at i.
inline int64_t swap_index(int64_t i, int64_t half, int64_t rot) {
  return i < half ? i + half : (i < rot ? i - half : i);
}

// apply computes out = in·c + swap(in·w)… for every row: forward with
// (c, s) = (cos, sin) and swapping in; backward with the swap applied to
// in·sin instead. out is contiguous [B, T, H, D].
void rotate(const float *in, const Rows &g, const float *cos, const float *sin, int64_t rot, bool backward,
            float *out) {
  const int64_t half = rot / 2, D = g.D;
  at::parallel_for(0, g.B * g.T * g.H, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const int64_t h = r % g.H, t = (r / g.H) % g.T, b = r / (g.H * g.T);
      const float *x = in + b * g.sb + t * g.st + h * g.sh;
      const float *c = cos + b * g.cb + t * g.ct, *s = sin + b * g.cb + t * g.ct;
      float *y = out + r * D;
      if (!backward) {
        for (int64_t i = 0; i < D; i++) y[i] = x[i] * c[i] + x[swap_index(i, half, rot)] * s[i];
      } else {
        for (int64_t i = 0; i < D; i++) {
          const int64_t j = swap_index(i, half, rot);
          y[i] = x[i] * c[i] + x[j] * s[j];
        }
      }
    }
  });
}

Rows rows_of(const at::Tensor &x, const at::Tensor &cos) {
  Rows g{x.size(0), x.size(1), x.size(2), x.size(3), x.stride(0), x.stride(1), x.stride(2),
         cos.size(0) == 1 ? 0 : cos.stride(0), cos.stride(1)};
  return g;
}

at::Tensor rotary_forward(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin, int64_t rot) {
  at::Tensor y = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  rotate(x.data_ptr<float>(), rows_of(x, cos), cos.data_ptr<float>(), sin.data_ptr<float>(), rot, false,
         y.data_ptr<float>());
  return y;
}

struct RotaryFn : public torch::autograd::Function<RotaryFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &cos,
                            const at::Tensor &sin, int64_t rot) {
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["rot"] = rot;
    return rotary_forward(x, cos, sin, rot);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    at::Tensor dy = grad_out[0];
    if (dy.stride(3) != 1) dy = dy.contiguous();
    at::Tensor dx = at::empty(dy.sizes(), dy.options().memory_format(at::MemoryFormat::Contiguous));
    rotate(dy.data_ptr<float>(), rows_of(dy, saved[0]), saved[0].data_ptr<float>(), saved[1].data_ptr<float>(),
           ctx->saved_data["rot"].toInt(), true, dx.data_ptr<float>());
    return {dx, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" char *gl_rotary(void **out, void *xp, void *cosp, void *sinp, int64_t rot) {
  GL_TRY
  const at::Tensor &x = *static_cast<at::Tensor *>(xp), &cos = *static_cast<at::Tensor *>(cosp),
                   &sin = *static_cast<at::Tensor *>(sinp);
  for (const at::Tensor *t : {&x, &cos, &sin}) {
    if (!t->defined() || t->device().type() != at::kCPU || t->scalar_type() != at::kFloat || t->dim() != 4)
      return gl_error_message("rotary: x, cos and sin must be 4-d float32 CPU tensors");
  }
  const int64_t B = x.size(0), T = x.size(1), D = x.size(3);
  if (x.stride(3) != 1) return gl_error_message("rotary: x's last dimension must be contiguous");
  if (!cos.is_contiguous() || !sin.is_contiguous() || cos.sizes() != sin.sizes() ||
      (cos.size(0) != 1 && cos.size(0) != B) || cos.size(1) != T || cos.size(2) != 1 || cos.size(3) != D)
    return gl_error_message("rotary: cos and sin must be contiguous [1 or B, T, 1, D] for x [B, T, H, D]");
  if (rot < 0 || rot > D || rot % 2 != 0) return gl_error_message("rotary: rot must be even and within the head size");
  at::Tensor y;
  if (at::GradMode::is_enabled() && x.requires_grad()) {
    y = RotaryFn::apply(x, cos, sin, rot);
  } else {
    y = rotary_forward(x, cos, sin, rot);
  }
  *out = new at::Tensor(y);
  GL_CATCH
}
