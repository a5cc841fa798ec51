// dist.h: torch.distributed's c10d as C functions for the Go side (dist.go):
// a TCPStore for rendezvous and a process group (ProcessGroupGloo; with the
// golamini_cuda build tag also ProcessGroupNCCL) with the collectives
// data-parallel training needs. As in fused.h, every function returns NULL on
// success or a malloc'd error message the caller frees; tensors are gotch
// handles (torch::Tensor*). Timeouts are in milliseconds and bound every call
// that waits on another process.
#ifndef GOLAMINI_DIST_H
#define GOLAMINI_DIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// A TCPStore at host:port. The master (is_master != 0) listens and waits up
// to timeout_ms for world_size-1 clients; a client retries connecting for up
// to timeout_ms. A non-empty prefix namespaces every key (PrefixStore).
char *gl_store_new(void **out, const char *host, int port, int is_master, int world_size, int64_t timeout_ms,
                   const char *prefix);
void gl_store_free(void *store);
char *gl_store_set(void *store, const char *key, const uint8_t *value, int64_t n);
// Waits up to timeout_ms for key, then returns its value (malloc'd, freed by
// the caller with free).
char *gl_store_get(void *store, const char *key, int64_t timeout_ms, uint8_t **value, int64_t *n);

// A process group over store: backend "gloo" (CPU tensors) or "nccl" (CUDA
// tensors; only in builds with the golamini_cuda tag). Joining waits up to
// timeout_ms for every rank, and timeout_ms is the group's collective timeout.
char *gl_pg_new(void **out, void *store, const char *backend, int rank, int size, int64_t timeout_ms);
void gl_pg_free(void *pg);

// Reductions for gl_pg_allreduce.
enum { GL_REDUCE_SUM = 0, GL_REDUCE_AVG = 1, GL_REDUCE_MAX = 2, GL_REDUCE_MIN = 3 };

// All-reduces n tensors in place, packed into flat buckets of at most
// bucket_bytes (a tensor larger than that is a bucket of its own) that are
// all in flight at once. With grads != 0 the tensors are parameters and
// their gradients are reduced instead; a parameter without one gets zeros
// first (a rank whose share of a batch was empty still takes part).
char *gl_pg_allreduce(void *pg, void **tensors, int n, int op, int grads, int64_t bucket_bytes, int64_t timeout_ms);
// Broadcasts n tensors in place from rank root, bucketed the same way.
char *gl_pg_broadcast(void *pg, void **tensors, int n, int root, int64_t bucket_bytes, int64_t timeout_ms);
char *gl_pg_barrier(void *pg, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
