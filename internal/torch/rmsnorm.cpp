// rmsnorm.cpp: HF's LlamaRMSNorm in float32 as one autograd op (gl_rms_norm
// in fused.h; the Go side is RMSNorm in rmsnorm.go).
//
// Per row of x [N, D]: r = 1/sqrt(mean(x²) + eps), n = x·r, y = w ⊙ n.
// Backward, for the upstream gradient dy:
//   dw = Σ_rows dy ⊙ n
//   dx = r·(dn − n·mean(dn ⊙ n)), dn = dy ⊙ w
// (r depends on x: ∂r/∂x_j = −r³·x_j/D). Only x and the N values of r are
// saved; libtorch's op-by-op form keeps x², the mean and r·x as well.
#include "fused.h"
#include "fused_errors.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <vector>

namespace {

// dot is Σ a ⊙ b in 16 float lanes (vectorisable without reassociating one
// accumulator), the lanes summed in double.
inline double dot(const float *a, const float *b, int64_t D) {
  float acc[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= D; j += 16)
    for (int k = 0; k < 16; k++) acc[k] += a[j + k] * b[j + k];
  double s = 0;
  for (int k = 0; k < 16; k++) s += acc[k];
  for (; j < D; j++) s += (double)a[j] * b[j];
  return s;
}

void forward_rows(const float *x, const float *w, float *y, float *r, int64_t N, int64_t D, double eps) {
  at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const float *xi = x + i * D;
      float *yi = y + i * D;
      // float32 like HF: the mean of x² in float32, plus eps, rsqrt.
      const float ri = 1.0f / std::sqrt((float)(dot(xi, xi, D) / (double)D) + (float)eps);
      if (r) r[i] = ri;
      for (int64_t j = 0; j < D; j++) yi[j] = w[j] * (xi[j] * ri);
    }
  });
}

at::Tensor check_rows(const at::Tensor &x) { return x.is_contiguous() ? x : x.contiguous(); }

struct RMSNormFn : public torch::autograd::Function<RMSNormFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x_in, const at::Tensor &w,
                            double eps) {
    at::Tensor x = check_rows(x_in);
    const int64_t D = x.size(-1), N = x.numel() / D;
    at::Tensor y = at::empty(x.sizes(), x.options());
    at::Tensor r = at::empty({N}, x.options());
    forward_rows(x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), r.data_ptr<float>(), N, D, eps);
    ctx->save_for_backward({x, w, r});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &r = saved[2];
    at::Tensor dy = grad_out[0].contiguous();
    const int64_t D = x.size(-1), N = x.numel() / D;
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *rp = r.data_ptr<float>(),
                *dyp = dy.data_ptr<float>();
    const bool want_x = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    at::Tensor dx = want_x ? at::empty(x.sizes(), x.options()) : at::Tensor();
    // dw is summed over rows: each of a fixed number of row chunks sums
    // into its own row of partial (double), then the chunks are added in
    // order, so the result does not depend on which thread takes a chunk.
    const int64_t parts = std::min<int64_t>(N, std::max<int64_t>(1, at::get_num_threads()));
    at::Tensor partial = want_w ? at::zeros({parts, D}, x.options().dtype(at::kDouble)) : at::Tensor();
    float *dxp = want_x ? dx.data_ptr<float>() : nullptr;
    double *pp = want_w ? partial.data_ptr<double>() : nullptr;
    at::parallel_for(0, parts, 1, [&](int64_t cb, int64_t ce) {
      std::vector<float> dn(D);
      for (int64_t c = cb; c < ce; c++) {
        const int64_t rb = c * N / parts, re = (c + 1) * N / parts;
        for (int64_t i = rb; i < re; i++) {
          const float *xi = xp + i * D, *dyi = dyp + i * D;
          const float ri = rp[i];
          if (pp) {
            double *pc = pp + c * D;
            for (int64_t j = 0; j < D; j++) pc[j] += (double)dyi[j] * (xi[j] * ri);
          }
          if (dxp) {
            for (int64_t j = 0; j < D; j++) dn[j] = dyi[j] * wp[j];
            // n·mean(dn ⊙ n) = x·r²·Σ(dn ⊙ x)/D, so dx = r·(dn − x·mr).
            const float mr = (float)(dot(dn.data(), xi, D) / (double)D) * ri * ri;
            float *dxi = dxp + i * D;
            for (int64_t j = 0; j < D; j++) dxi[j] = ri * (dn[j] - xi[j] * mr);
          }
        }
      }
    });
    at::Tensor dw;
    if (want_w) dw = partial.sum(0).to(at::kFloat).view(w.sizes());
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

extern "C" char *gl_rms_norm(void **out, void *xp, void *wp, double eps) {
  GL_TRY
  const at::Tensor &x = *static_cast<at::Tensor *>(xp), &w = *static_cast<at::Tensor *>(wp);
  for (const at::Tensor *t : {&x, &w}) {
    if (!t->defined() || t->device().type() != at::kCPU || t->scalar_type() != at::kFloat)
      return gl_error_message("rms_norm: x and w must be float32 CPU tensors");
  }
  if (x.dim() < 1 || w.dim() != 1 || w.size(0) != x.size(-1) || !w.is_contiguous() || x.numel() == 0)
    return gl_error_message("rms_norm: w must be a contiguous [D] for a non-empty x [..., D]");
  at::Tensor y;
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad())) {
    y = RMSNormFn::apply(x, w, eps);
  } else {
    at::Tensor xc = check_rows(x);
    const int64_t D = xc.size(-1);
    y = at::empty(xc.sizes(), xc.options());
    forward_rows(xc.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), nullptr, xc.numel() / D, D, eps);
  }
  *out = new at::Tensor(y);
  GL_CATCH
}
