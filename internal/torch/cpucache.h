// cpucache.h: an opt-in caching allocator for libtorch's CPU tensors,
// implemented in cpucache.cpp. See cpucache.go.
#ifndef GOLAMINI_CPUCACHE_H
#define GOLAMINI_CPUCACHE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Installs the caching allocator as libtorch's CPU allocator and keeps up to
// limit_bytes of freed blocks of 1 MiB or more for reuse; limit_bytes ≤ 0
// puts libtorch's default allocator back and frees the cache. NULL or a
// malloc'd error message.
char *gl_cpu_cache_enable(int64_t limit_bytes);

// Frees every cached block (the allocator stays installed).
void gl_cpu_cache_trim(void);

// Bytes cached now, the limit, and how many large allocations were served
// from the cache (hits) or from the system (misses).
void gl_cpu_cache_stats(int64_t *cached, int64_t *limit, int64_t *hits, int64_t *misses);

#ifdef __cplusplus
}
#endif

#endif
