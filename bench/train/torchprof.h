// torchprof.h: libtorch's own operator profiler (the legacy autograd
// profiler that torch.autograd.profiler wraps), for the profile mode.
#ifndef GOLAMINI_BENCH_TORCHPROF_H
#define GOLAMINI_BENCH_TORCHPROF_H
#ifdef __cplusplus
extern "C" {
#endif
// Starts recording every ATen operator (forward and backward) of the
// calling thread into a chrome://tracing file written at stop. NULL or a
// malloc'd error.
char *bench_prof_start(const char *path);
char *bench_prof_stop(void);
#ifdef __cplusplus
}
#endif
#endif
