// dist.cpp: the c10d glue declared in dist.h. Everything distributed is
// libtorch's own: TCPStore, PrefixStore, ProcessGroupGloo (and, in CUDA
// builds, ProcessGroupNCCL from dist_nccl.cpp); this file only packs tensors
// into buckets and turns c10d's exceptions into messages.
#include "dist.h"
#include "fused_errors.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using StorePtr = c10::intrusive_ptr<c10d::Store>;
using BackendPtr = c10::intrusive_ptr<c10d::Backend>;

// gl_nccl_new is defined by dist_nccl.cpp in golamini_cuda builds and by
// dist_nonccl.cpp (an error) otherwise.
BackendPtr gl_nccl_new(const StorePtr &store, int rank, int size, std::chrono::milliseconds timeout);

namespace {

std::chrono::milliseconds ms(int64_t v) { return std::chrono::milliseconds(v); }

// gloo_devices mirrors torch.distributed: the interfaces named in
// GLOO_SOCKET_IFNAME (comma-separated), else the address the host name
// resolves to (or loopback when it resolves to nothing local).
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices() {
  std::vector<std::shared_ptr<::gloo::transport::Device>> out;
  const char *env = std::getenv("GLOO_SOCKET_IFNAME");
  if (env != nullptr && *env != '\0') {
    std::stringstream ss(env);
    std::string name;
    while (std::getline(ss, name, ',')) {
      if (!name.empty()) out.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
  }
  if (out.empty()) out.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return out;
}

void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>> &works, int64_t timeout_ms) {
  std::exception_ptr first;
  for (auto &w : works) {
    try {
      w->wait(ms(timeout_ms));
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

// A bucket is a run of tensors of one dtype and device packed into flat.
struct Bucket {
  std::vector<at::Tensor> tensors;
  at::Tensor flat;
};

std::vector<Bucket> buckets(const std::vector<at::Tensor> &ts, int64_t bucket_bytes) {
  std::vector<Bucket> out;
  int64_t bytes = 0;
  for (const auto &t : ts) {
    int64_t nb = t.numel() * static_cast<int64_t>(t.element_size());
    bool fresh = out.empty() || bytes + nb > bucket_bytes || out.back().tensors[0].scalar_type() != t.scalar_type() ||
                 out.back().tensors[0].device() != t.device();
    if (fresh) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().tensors.push_back(t);
    bytes += nb;
  }
  for (auto &b : out) {
    if (b.tensors.size() == 1 && b.tensors[0].is_contiguous()) {
      b.flat = b.tensors[0];  // reduced in place
      continue;
    }
    std::vector<at::Tensor> flat;
    flat.reserve(b.tensors.size());
    for (const auto &t : b.tensors) flat.push_back(t.reshape({-1}));
    b.flat = at::cat(flat);
  }
  return out;
}

void unpack(Bucket &b) {
  if (b.flat.is_same(b.tensors[0])) return;
  int64_t off = 0;
  for (auto &t : b.tensors) {
    t.copy_(b.flat.narrow(0, off, t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

std::vector<at::Tensor> tensors_of(void **ts, int n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) out.push_back(*static_cast<at::Tensor *>(ts[i]));
  return out;
}

}  // namespace

extern "C" {

char *gl_store_new(void **out, const char *host, int port, int is_master, int world_size, int64_t timeout_ms,
                   const char *prefix) {
  GL_TRY
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = is_master != 0;
  // Every rank counts itself in (the master waits for world_size of them),
  // as torch.distributed's env:// rendezvous does.
  o.numWorkers = static_cast<std::size_t>(world_size);
  o.waitWorkers = true;
  o.timeout = ms(timeout_ms);
  StorePtr s = c10::make_intrusive<c10d::TCPStore>(std::string(host), o);
  if (prefix != nullptr && *prefix != '\0') s = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), s);
  s->setTimeout(ms(timeout_ms));
  *out = new StorePtr(s);
  GL_CATCH
}

void gl_store_free(void *store) { delete static_cast<StorePtr *>(store); }

char *gl_store_set(void *store, const char *key, const uint8_t *value, int64_t n) {
  GL_TRY
  std::vector<uint8_t> v(value, value + n);
  (*static_cast<StorePtr *>(store))->set(std::string(key), v);
  GL_CATCH
}

char *gl_store_get(void *store, const char *key, int64_t timeout_ms, uint8_t **value, int64_t *n) {
  GL_TRY
  auto &s = *static_cast<StorePtr *>(store);
  s->wait({std::string(key)}, ms(timeout_ms));
  std::vector<uint8_t> v = s->get(std::string(key));
  *value = static_cast<uint8_t *>(std::malloc(v.size() > 0 ? v.size() : 1));
  if (*value == nullptr) throw std::bad_alloc();
  std::copy(v.begin(), v.end(), *value);
  *n = static_cast<int64_t>(v.size());
  GL_CATCH
}

char *gl_pg_new(void **out, void *store, const char *backend, int rank, int size, int64_t timeout_ms) {
  GL_TRY
  auto &s = *static_cast<StorePtr *>(store);
  std::string b(backend);
  BackendPtr pg;
  if (b == "gloo") {
    auto opts = c10d::ProcessGroupGloo::Options::create(ms(timeout_ms));
    opts->devices = gloo_devices();
    opts->threads = static_cast<int>(opts->devices.size()) * 2;  // torch.distributed's choice
    pg = c10::make_intrusive<c10d::ProcessGroupGloo>(s, rank, size, opts);
  } else if (b == "nccl") {
    pg = gl_nccl_new(s, rank, size, ms(timeout_ms));
  } else {
    throw std::invalid_argument("unknown backend \"" + b + "\" (gloo, nccl)");
  }
  *out = new BackendPtr(pg);
  GL_CATCH
}

void gl_pg_free(void *pg) { delete static_cast<BackendPtr *>(pg); }

char *gl_pg_allreduce(void *pg, void **tensors, int n, int op, int grads, int64_t bucket_bytes, int64_t timeout_ms) {
  GL_TRY
  c10::NoGradGuard no_grad;
  auto &p = *static_cast<BackendPtr *>(pg);
  std::vector<at::Tensor> ts = tensors_of(tensors, n);
  if (grads != 0) {
    for (auto &t : ts) {
      if (!t.grad().defined()) t.mutable_grad() = at::zeros_like(t);
      t = t.grad();
    }
  }
  c10d::AllreduceOptions o;
  switch (op) {
    case GL_REDUCE_SUM:
    case GL_REDUCE_AVG:  // Gloo has no AVG: sum, then divide
      o.reduceOp = c10d::ReduceOp::SUM;
      break;
    case GL_REDUCE_MAX:
      o.reduceOp = c10d::ReduceOp::MAX;
      break;
    case GL_REDUCE_MIN:
      o.reduceOp = c10d::ReduceOp::MIN;
      break;
    default:
      throw std::invalid_argument("unknown reduction " + std::to_string(op));
  }
  o.timeout = ms(timeout_ms);
  auto bs = buckets(ts, bucket_bytes);
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto &b : bs) {
    std::vector<at::Tensor> one{b.flat};
    works.push_back(p->allreduce(one, o));
  }
  wait_all(works, timeout_ms);
  for (auto &b : bs) {
    if (op == GL_REDUCE_AVG) b.flat.div_(p->getSize());
    unpack(b);
  }
  GL_CATCH
}

char *gl_pg_broadcast(void *pg, void **tensors, int n, int root, int64_t bucket_bytes, int64_t timeout_ms) {
  GL_TRY
  c10::NoGradGuard no_grad;
  auto &p = *static_cast<BackendPtr *>(pg);
  std::vector<at::Tensor> ts = tensors_of(tensors, n);
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = ms(timeout_ms);
  auto bs = buckets(ts, bucket_bytes);
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto &b : bs) {
    std::vector<at::Tensor> one{b.flat};
    works.push_back(p->broadcast(one, o));
  }
  wait_all(works, timeout_ms);
  for (auto &b : bs) unpack(b);
  GL_CATCH
}

char *gl_pg_barrier(void *pg, int64_t timeout_ms) {
  GL_TRY
  c10d::BarrierOptions o;
  o.timeout = ms(timeout_ms);
  auto w = (*static_cast<BackendPtr *>(pg))->barrier(o);
  w->wait(ms(timeout_ms));
  GL_CATCH
}

}  // extern "C"
