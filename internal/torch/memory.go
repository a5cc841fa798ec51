package torch

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static int glm_malloc_trim(void) { return malloc_trim(0); }
#else
static int glm_malloc_trim(void) { return 0; }
#endif
*/
import "C"

// ReleaseFreeMemory hands the C heap's free memory back to the operating
// system (glibc's malloc_trim; nothing elsewhere). libtorch allocates tensors
// with malloc, and glibc keeps freed blocks for reuse, so after a large
// computation (or before measuring resident memory) this lowers the resident
// size to what is live. Safe from any thread.
func ReleaseFreeMemory() { C.glm_malloc_trim() }
