//go:build golamini_cuda

// dist_nccl.cpp: ProcessGroupNCCL for builds with the golamini_cuda tag
// (scripts/libtorch-env sets it when GOLAMINI_CUDA=1). It needs a CUDA build
// of libtorch 2.1.0 and the CUDA and NCCL headers (CUDA_HOME/include, or
// NCCL_INCLUDE_DIR) that ProcessGroupNCCL.hpp includes.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>

c10::intrusive_ptr<c10d::Backend> gl_nccl_new(const c10::intrusive_ptr<c10d::Store> &store, int rank, int size,
                                              std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
}
