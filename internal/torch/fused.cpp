// fused.cpp: see fused.h. Plain ATen calls plus two hand-written loops; no
// gotch internals. Compiled by cgo with the flags of scripts/libtorch-env.
#include "fused.h"
#include "fused_errors.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#if defined(__SSE2__) || defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

at::Tensor &T(void *p) { return *static_cast<at::Tensor *>(p); }

// Rows per chunk, in chunks of equal size: at most about 128 MB of float32
// logits, or 640 rows where 640 rows take at most 512 MB, and at least 64
// rows. Each chunk re-reads embed_out twice and adds its share into the
// [V,H] gradient once, so fewer, larger chunks are faster (measured: 64 MB
// chunks 3% slower at pythia-70m, 16 MB ones 15%), while the chunk buffer
// is what the head holds beyond its gradients. Why the 640 rows: 128 MB is
// about 670 rows at Pythia's and SmolLM's vocabularies but 205 at Qwen2.5's
// 151,936, where MKL's three products over the [V,H] weight run well below
// their rate on taller blocks (bench/RESULTS.md's families floor table times
// each product at its shape: the head's run below the 2,048-row ones).
int64_t default_chunk(int64_t rows, int64_t vocab) {
  const int64_t row_bytes = 4 * std::max<int64_t>(vocab, 1);
  const int64_t tall = std::min<int64_t>(640, (int64_t(512) << 20) / row_bytes);
  const int64_t most = std::max<int64_t>({(int64_t(128) << 20) / row_bytes, tall, 64});
  const int64_t chunks = std::max<int64_t>((rows + most - 1) / most, 1);
  return std::max<int64_t>((rows + chunks - 1) / chunks, 1);
}

struct LCEResult {
  at::Tensor loss, gx, gw;
};

// The fused head. For each chunk of c rows: logits = x_c·wᵀ [c,V] (into a
// reused buffer), softmax per row (float32), loss −= Σ log p[target]; when
// gradients are wanted, p[target] −= 1 (the gradient of the summed loss
// with respect to the logits), then gx_c = p·w and gw += pᵀ·x_c, both times
// grad_scale. Rows whose target is ignored never
// reach the matrix products: they are dropped up front and their gx is 0.
LCEResult lce(const at::Tensor &x, const at::Tensor &w, const at::Tensor &targets, int64_t ignore, double scale,
              int64_t chunk, bool want_gx, bool want_gw) {
  TORCH_CHECK(x.dim() == 2 && w.dim() == 2, "linear_cross_entropy: x must be [N,H] and w [V,H], got ", x.sizes(), " and ",
              w.sizes());
  TORCH_CHECK(x.size(1) == w.size(1), "linear_cross_entropy: x is ", x.sizes(), " but w is ", w.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == x.size(0), "linear_cross_entropy: targets must be [",
              x.size(0), "], got ", targets.sizes());
  TORCH_CHECK(targets.scalar_type() == at::kLong, "linear_cross_entropy: targets must be int64");
  TORCH_CHECK(x.scalar_type() == w.scalar_type(), "linear_cross_entropy: x is ", x.scalar_type(), " but w is ",
              w.scalar_type());
  const int64_t N = x.size(0), H = x.size(1), V = w.size(0);

  at::Tensor valid = targets.ne(ignore);
  const int64_t n = valid.sum().item<int64_t>();
  if (chunk <= 0) chunk = default_chunk(n, V);
  at::Tensor xs = x, ts = targets, idx;
  const bool all = n == N;
  if (!all) {
    idx = valid.nonzero().squeeze(1);
    xs = x.index_select(0, idx);
    ts = targets.index_select(0, idx);
  }
  xs = xs.contiguous();
  const auto fopt = x.options().dtype(at::kFloat);
  at::Tensor loss = at::zeros({}, x.options().dtype(at::kDouble));
  at::Tensor gxs, gw;
  if (want_gx) gxs = at::empty({n, H}, x.options());
  if (want_gw) gw = n == 0 ? at::zeros_like(w, at::MemoryFormat::Contiguous) : at::empty_like(w, at::MemoryFormat::Contiguous);
  const bool fp32 = x.scalar_type() == at::kFloat;
  const int64_t c0 = std::min(chunk, n);
  at::Tensor logits_buf;
  if (c0 > 0) logits_buf = at::empty({c0, V}, x.options());
  const at::Tensor wt = w.t();
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t c = std::min(chunk, n - start);
    at::Tensor xc = xs.narrow(0, start, c);
    at::Tensor tc = ts.narrow(0, start, c).unsqueeze(1);  // [c,1]
    at::Tensor logits = logits_buf.narrow(0, 0, c);
    at::mm_out(logits, xc, wt);
    // Softmax in place (float32 logits; others were converted into a new
    // tensor): one chunk buffer read and written instead of a second one.
    at::Tensor p = fp32 ? logits : logits.to(at::kFloat);
    at::_softmax_out(p, p, 1, false);
    // loss_row = −log p[target]. Where p[target] is so small that float32
    // may have lost it (< 1e-30: a loss above 69), take log_softmax of the
    // row's logits instead, computed again for those rows.
    at::Tensor picked = p.gather(1, tc);  // [c,1]
    at::Tensor rows_loss = picked.log().neg_();
    at::Tensor tiny = picked.lt(1e-30).squeeze(1);
    if (tiny.any().item<bool>()) {
      at::Tensor r = tiny.nonzero().squeeze(1);
      at::Tensor lr = at::mm(xc.index_select(0, r), wt).to(at::kFloat);
      at::Tensor exact = at::log_softmax(lr, 1).gather(1, tc.index_select(0, r)).neg_();
      rows_loss.index_copy_(0, r, exact);
    }
    loss.add_(rows_loss.sum(at::kDouble));
    if (!want_gx && !want_gw) continue;
    p.scatter_add_(1, tc, at::full({c, 1}, -1.0, fopt));
    at::Tensor dl = fp32 ? p : p.to(x.scalar_type());
    if (want_gx) {
      at::Tensor out = gxs.narrow(0, start, c);
      at::mm_out(out, dl, w);
      if (scale != 1.0) out.mul_(scale);
    }
    if (want_gw) {
      at::Tensor xsc = scale != 1.0 ? xc.mul(scale) : xc;
      if (start == 0) {
        at::mm_out(gw, dl.t(), xsc);
      } else {
        gw.addmm_(dl.t(), xsc);
      }
    }
  }
  LCEResult r;
  r.loss = loss.to(x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  if (want_gx) {
    if (all) {
      r.gx = gxs;
    } else {
      r.gx = at::zeros({N, H}, x.options());
      if (n > 0) r.gx.index_copy_(0, idx, gxs);
    }
  }
  r.gw = gw;
  return r;
}

struct AdamWConsts {
  float gs, wdf, w1, b2f, c2, inv_bc2, eps, step_size;
};

// adamw_span updates elements [b, e) of one parameter: torch.optim.AdamW's
// ops (mul_ for weight decay, lerp_, mul_ and addcmul_, sqrt / √bc2 + eps,
// addcdiv_) fused per element, sixteen lanes at a time with AVX-512 where
// the CPU has it, else four with SSE2 where the compiler targets x86-64 (cgo
// does not allow -fno-math-errno, without which the compiler will not
// vectorise a loop with sqrt). Each lane does the scalar code's operations
// in the same order, so all give the same bits.
#if defined(__x86_64__)
// adamw_span_avx512 is adamw_span's vector loop sixteen lanes at a time,
// for CPUs with AVX-512, without contracting products and sums into fused
// multiply-adds, so it gives the same bits. It returns where it stopped.
__attribute__((target("avx512f"), optimize("fp-contract=off"))) int64_t adamw_span_avx512(
    float *__restrict__ P, const float *__restrict__ G, float *__restrict__ M, float *__restrict__ Q, int64_t b,
    int64_t e, const AdamWConsts k) {
  const __m512 gs = _mm512_set1_ps(k.gs), wdf = _mm512_set1_ps(k.wdf), w1 = _mm512_set1_ps(k.w1),
               b2f = _mm512_set1_ps(k.b2f), c2 = _mm512_set1_ps(k.c2), inv = _mm512_set1_ps(k.inv_bc2),
               eps = _mm512_set1_ps(k.eps), step = _mm512_set1_ps(k.step_size);
  int64_t j = b;
  for (; j + 16 <= e; j += 16) {
    const __m512 g = _mm512_mul_ps(_mm512_loadu_ps(G + j), gs);
    const __m512 pj = _mm512_mul_ps(_mm512_loadu_ps(P + j), wdf);
    __m512 mj = _mm512_loadu_ps(M + j);
    mj = _mm512_add_ps(mj, _mm512_mul_ps(w1, _mm512_sub_ps(g, mj)));
    const __m512 vj = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(Q + j), b2f), _mm512_mul_ps(_mm512_mul_ps(c2, g), g));
    const __m512 denom = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(vj), inv), eps);
    _mm512_storeu_ps(P + j, _mm512_add_ps(pj, _mm512_div_ps(_mm512_mul_ps(step, mj), denom)));
    _mm512_storeu_ps(M + j, mj);
    _mm512_storeu_ps(Q + j, vj);
  }
  return j;
}

bool have_avx512() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return yes;
}
#endif

void adamw_span(float *__restrict__ P, const float *__restrict__ G, float *__restrict__ M, float *__restrict__ Q,
                int64_t b, int64_t e, const AdamWConsts k) {
  const bool lerp_low = k.w1 < 0.5f;
  int64_t j = b;
#if defined(__x86_64__)
  if (lerp_low && have_avx512()) j = adamw_span_avx512(P, G, M, Q, b, e, k);
#endif
#if defined(__SSE2__)
  if (lerp_low) {
    const __m128 gs = _mm_set1_ps(k.gs), wdf = _mm_set1_ps(k.wdf), w1 = _mm_set1_ps(k.w1), b2f = _mm_set1_ps(k.b2f),
                 c2 = _mm_set1_ps(k.c2), inv = _mm_set1_ps(k.inv_bc2), eps = _mm_set1_ps(k.eps),
                 step = _mm_set1_ps(k.step_size);
    for (; j + 4 <= e; j += 4) {
      const __m128 g = _mm_mul_ps(_mm_loadu_ps(G + j), gs);
      const __m128 pj = _mm_mul_ps(_mm_loadu_ps(P + j), wdf);
      __m128 mj = _mm_loadu_ps(M + j);
      mj = _mm_add_ps(mj, _mm_mul_ps(w1, _mm_sub_ps(g, mj)));
      const __m128 vj = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(Q + j), b2f), _mm_mul_ps(_mm_mul_ps(c2, g), g));
      const __m128 denom = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vj), inv), eps);
      _mm_storeu_ps(P + j, _mm_add_ps(pj, _mm_div_ps(_mm_mul_ps(step, mj), denom)));
      _mm_storeu_ps(M + j, mj);
      _mm_storeu_ps(Q + j, vj);
    }
  }
#endif
  for (; j < e; j++) {
    const float g = G[j] * k.gs;
    const float pj = P[j] * k.wdf;
    float mj = M[j];
    mj = lerp_low ? mj + k.w1 * (g - mj) : g - (g - mj) * (1 - k.w1);  // lerp_
    const float vj = Q[j] * k.b2f + k.c2 * g * g;                       // mul_, addcmul_
    const float denom = std::sqrt(vj) * k.inv_bc2 + k.eps;               // sqrt / √bc2 + eps
    P[j] = pj + k.step_size * mj / denom;                               // addcdiv_
    M[j] = mj;
    Q[j] = vj;
  }
}

struct LinearCrossEntropy : public torch::autograd::Function<LinearCrossEntropy> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                            const at::Tensor &targets, int64_t ignore, double scale, int64_t chunk) {
    const bool want_gx = ctx->needs_input_grad(0), want_gw = ctx->needs_input_grad(1);
    LCEResult r = lce(x, w, targets, ignore, scale, chunk, want_gx, want_gw);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["has_gx"] = want_gx;
    ctx->saved_data["has_gw"] = want_gw;
    if (want_gx) ctx->saved_data["gx"] = r.gx;
    if (want_gw) ctx->saved_data["gw"] = r.gw;
    return r.loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_out) {
    const double scale = ctx->saved_data["scale"].toDouble();
    at::Tensor gx, gw;
    // Take the gradients out of the context so autograd holds the only
    // reference and may adopt the buffer as .grad without a copy.
    if (ctx->saved_data["has_gx"].toBool()) {
      gx = ctx->saved_data["gx"].toTensor();
      ctx->saved_data.erase("gx");
    }
    if (ctx->saved_data["has_gw"].toBool()) {
      gw = ctx->saved_data["gw"].toTensor();
      ctx->saved_data.erase("gw");
    }
    // The gradients were made for an upstream gradient of `scale`; rescale
    // them when another one arrives.
    const double g = grad_out[0].item<double>();
    if (g != static_cast<double>(static_cast<float>(scale)) && g != scale) {
      const double f = g / scale;
      if (gx.defined()) gx.mul_(f);
      if (gw.defined()) gw.mul_(f);
    }
    return {gx, gw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" {

char *gl_linear_cross_entropy(void **out, void *x, void *w, void *targets, int64_t ignore_index, double grad_scale,
                              int64_t chunk_rows) {
  GL_TRY
  const at::Tensor &X = T(x), &W = T(w), &Y = T(targets);
  at::Tensor loss;
  if (at::GradMode::is_enabled() && (X.requires_grad() || W.requires_grad())) {
    loss = LinearCrossEntropy::apply(X, W, Y, ignore_index, grad_scale, chunk_rows);
  } else {
    loss = lce(X, W, Y, ignore_index, grad_scale, chunk_rows, false, false).loss;
  }
  *out = new at::Tensor(loss);
  GL_CATCH
}

char *gl_adamw(void **params, void **grads, void **exp_avg, void **exp_avg_sq, const uint8_t *decay, int n, double lr,
               double beta1, double beta2, double eps, double weight_decay, int64_t step, double grad_scale) {
  GL_TRY
  at::NoGradGuard no_grad;
  const double bc1 = 1 - std::pow(beta1, double(step));
  const double bc2 = 1 - std::pow(beta2, double(step));
  // The constants as torch.optim.AdamW (single-tensor, foreach=False) hands
  // them to its float32 kernels.
  const float wdf = float(1 - lr * weight_decay);
  const float w1 = float(1 - beta1);
  const float b2f = float(beta2), c2 = float(1 - beta2);
  const float inv_bc2 = float(1 / std::sqrt(bc2));
  const float epsf = float(eps);
  const float step_size = float(-lr / bc1);
  const float gs = float(grad_scale);
  for (int i = 0; i < n; i++) {
    at::Tensor &p = T(params[i]), &m = T(exp_avg[i]), &v = T(exp_avg_sq[i]);
    const at::Tensor &gref = T(grads[i]);
    if (!gref.defined()) continue;
    const bool wd = decay[i] != 0 && weight_decay != 0;
    const bool fast = p.device().is_cpu() && p.scalar_type() == at::kFloat && gref.scalar_type() == at::kFloat &&
                      m.scalar_type() == at::kFloat && v.scalar_type() == at::kFloat && p.is_contiguous() &&
                      gref.is_contiguous() && m.is_contiguous() && v.is_contiguous() && p.numel() == gref.numel() &&
                      m.numel() == p.numel() && v.numel() == p.numel();
    if (!fast) {
      // Any other layout or device: the same update as ATen ops.
      at::Tensor g = grad_scale != 1.0 ? gref.mul(grad_scale) : gref;
      if (wd) p.mul_(1 - lr * weight_decay);
      m.lerp_(g, 1 - beta1);
      v.mul_(beta2).addcmul_(g, g, 1 - beta2);
      at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
      p.addcdiv_(m, denom, -lr / bc1);
      continue;
    }
    float *P = p.data_ptr<float>(), *M = m.data_ptr<float>(), *Q = v.data_ptr<float>();
    const float *G = gref.data_ptr<float>();
    const AdamWConsts k{gs, wd ? wdf : 1.0f, w1, b2f, c2, inv_bc2, epsf, step_size};
    at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t b, int64_t e) { adamw_span(P, G, M, Q, b, e, k); });
  }
  GL_CATCH
}

char *gl_grad_norm(void **grads, int n, double *out) {
  GL_TRY
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> gs;
  for (int i = 0; i < n; i++) {
    if (T(grads[i]).defined()) gs.push_back(T(grads[i]));
  }
  if (gs.empty()) {
    *out = 0;
    return nullptr;
  }
  std::vector<at::Tensor> norms = at::_foreach_norm(gs, 2);
  *out = at::linalg_vector_norm(at::stack(norms), 2).item<double>();
  GL_CATCH
}

char *gl_convert_float32(void **out, const void *data, int dtype, const int64_t *shape, int ndim) {
  GL_TRY
  at::Tensor src = at::from_blob(const_cast<void *>(data), at::IntArrayRef(shape, ndim),
                                 at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
  *out = new at::Tensor(src.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true));
  GL_CATCH
}

char *gl_drop_grad(void *t) {
  GL_TRY
  T(t).mutable_grad().reset();
  GL_CATCH
}

char *gl_causal_attention(void **out, void *q, void *k, void *v, double scale) {
  GL_TRY
  at::Tensor y = at::scaled_dot_product_attention(T(q), T(k), T(v), c10::nullopt, 0.0, true, scale);
  *out = new at::Tensor(y);
  GL_CATCH
}

}  // extern "C"
