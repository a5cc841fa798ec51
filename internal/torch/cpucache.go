package torch

// #include <stdlib.h>
// #include "cpucache.h"
import "C"

import "fmt"

// CPUCacheStats describes the CPU allocation cache (EnableCPUCache).
type CPUCacheStats struct {
	CachedBytes, LimitBytes int64
	// Hits and Misses count allocations of 1 MiB or more served from the
	// cache and from the system since the cache was first enabled.
	Hits, Misses int64
}

// EnableCPUCache makes libtorch keep CPU memory blocks of 1 MiB or more
// that tensors free, up to limitBytes in all, and hand them to later
// tensors of about the same size (at most 1/8 larger). An allocation the
// cache cannot serve first gives back at least as many bytes of the oldest
// cached blocks, so shapes that change from step to step (batches of
// varying length) do not pile unusable blocks on top of new ones. A training loop
// allocates the same activations, gradients and temporaries at every step;
// glibc returns blocks of 32 MiB and more to the kernel at once, so without
// the cache every step maps them again and the kernel faults in and zeroes
// every page (about a tenth of a pythia-70m training step's CPU time on 2
// cores, bench/RESULTS-train.md). PyTorch users get the same effect by
// preloading jemalloc or tcmalloc.
//
// The setting is process-wide and may be called again to change the limit;
// limitBytes ≤ 0 puts libtorch's default allocator back and frees the
// cache. Resident memory stays up to limitBytes above what live tensors use
// while enabled. Run it on the torch worker (inside Do) before the tensor
// work it should speed up.
func EnableCPUCache(limitBytes int64) error {
	if msg := C.gl_cpu_cache_enable(C.int64_t(limitBytes)); msg != nil {
		return fusedErr(fmt.Sprintf("enable CPU cache (%d bytes)", limitBytes), msg)
	}
	return nil
}

// TrimCPUCache frees the blocks the CPU cache holds (it stays enabled).
func TrimCPUCache() { C.gl_cpu_cache_trim() }

// CPUCacheInfo returns the CPU cache's counters.
func CPUCacheInfo() CPUCacheStats {
	var c, l, h, m C.int64_t
	C.gl_cpu_cache_stats(&c, &l, &h, &m)
	return CPUCacheStats{CachedBytes: int64(c), LimitBytes: int64(l), Hits: int64(h), Misses: int64(m)}
}
