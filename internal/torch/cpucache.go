package torch

// #include <stdlib.h>
// #include <unistd.h>
// #include "cpucache.h"
import "C"

import "fmt"

// CPUCacheStats describes the CPU allocation cache (EnableCPUCache).
type CPUCacheStats struct {
	CachedBytes, LimitBytes int64
	// CachedBytes is the free memory the cache holds with its pages still
	// mapped. Hits and Misses count allocations of 1 MiB or more served
	// from that memory and from fresh pages (a new segment, or a free block
	// whose pages were given back) since the cache was first enabled.
	Hits, Misses int64
}

// EnableCPUCache makes libtorch keep CPU memory blocks of 1 MiB or more
// that tensors free, up to limitBytes of free memory in all, and hand them
// to later tensors. A training loop allocates the same activations,
// gradients and temporaries at every step; glibc returns blocks of 32 MiB
// and more to the kernel at once, so without the cache every step maps them
// again and the kernel faults in and zeroes every page. On a virtual
// machine that is dear: HF's training steps, whose allocator gives such
// memory back, spent about half their CPU time in the kernel
// (bench/RESULTS.md, families section). PyTorch users get a similar effect
// by preloading jemalloc or tcmalloc.
//
// Memory comes from the system in segments, one per allocation the cache
// could not serve, and each is cut into blocks as needed: a tensor gets the
// smallest free block that holds it, split when the rest is 1 MiB or more,
// and a freed block merges with the free blocks beside it. So memory freed
// by one phase of a step serves the next phase's tensors of other sizes. An
// allocation that no free block holds first gives back whole free segments
// (necessarily smaller than it), oldest first, up to its own size, so
// shapes that grow from step to step (batches of varying length) replace
// segments instead of piling new ones on top. When the free memory exceeds
// limitBytes, whole free segments go back to the system, oldest first, and
// then the pages of the oldest free blocks go back to the kernel
// (madvise): resident memory stays at most limitBytes above what live
// tensors use.
//
// The setting is process-wide and may be called again to change the limit;
// limitBytes ≤ 0 puts libtorch's default allocator back and gives back all
// free memory (blocks still in use are given back when their tensors are
// freed). Run it on the torch worker (inside Do) before the tensor work it
// should speed up.
func EnableCPUCache(limitBytes int64) error {
	if msg := C.gl_cpu_cache_enable(C.int64_t(limitBytes)); msg != nil {
		return fusedErr(fmt.Sprintf("enable CPU cache (%d bytes)", limitBytes), msg)
	}
	return nil
}

// DefaultCPUCacheBytes is the limit the trainer gives EnableCPUCache: half
// of the machine's physical memory, and at least 2 GiB. A step's free
// memory between its phases is about its activations: gigabytes at the
// families benchmark's shapes (Qwen2.5-0.5B, batch 4 × 512: its peak RSS
// is 4–5 GB above the 7.9 GB of weights, gradients and AdamW state), so a
// fixed small limit would send most of it back to the kernel at every
// step; and what the cache holds was in use by the same process moments
// before.
func DefaultCPUCacheBytes() int64 {
	const least = 2 << 30
	pages, size := int64(C.sysconf(C._SC_PHYS_PAGES)), int64(C.sysconf(C._SC_PAGESIZE))
	if pages <= 0 || size <= 0 {
		return least
	}
	return max(pages*size/2, least)
}

// TrimCPUCache gives back the free memory the CPU cache holds (it stays
// enabled): whole free segments to the system, the pages of free blocks in
// segments partly in use to the kernel.
func TrimCPUCache() { C.gl_cpu_cache_trim() }

// CPUCacheInfo returns the CPU cache's counters.
func CPUCacheInfo() CPUCacheStats {
	var c, l, h, m C.int64_t
	C.gl_cpu_cache_stats(&c, &l, &h, &m)
	return CPUCacheStats{CachedBytes: int64(c), LimitBytes: int64(l), Hits: int64(h), Misses: int64(m)}
}
