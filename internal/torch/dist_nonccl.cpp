//go:build !golamini_cuda

// dist_nonccl.cpp: builds without the golamini_cuda tag link libtorch's CPU
// library only, which has no ProcessGroupNCCL.
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <stdexcept>

c10::intrusive_ptr<c10d::Backend> gl_nccl_new(const c10::intrusive_ptr<c10d::Store> &, int, int,
                                              std::chrono::milliseconds) {
  throw std::runtime_error(
      "the nccl backend needs a CUDA build of golamini (GOLAMINI_CUDA=1 with a CUDA libtorch; see the README)");
}
