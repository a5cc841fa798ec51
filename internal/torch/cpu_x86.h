// cpu_x86.h: which SIMD kernels this CPU runs, asked once per C file.
#ifndef GOLAMINI_CPU_X86_H
#define GOLAMINI_CPU_X86_H

// The SIMD kernels are x86-64 only (GCC/Clang intrinsics, picked at run
// time); elsewhere, and with GLM_PORTABLE (scripts/check-portable), only
// the portable C runs.
#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

// glm_avx2_fma reports whether the CPU has AVX2 and FMA (0 off x86-64).
static inline int glm_avx2_fma(void) {
#if defined(GLM_X86)
	static int has = -1;
	int v = __atomic_load_n(&has, __ATOMIC_RELAXED);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		__atomic_store_n(&has, v, __ATOMIC_RELAXED);
	}
	return v;
#else
	return 0;
#endif
}

#endif
