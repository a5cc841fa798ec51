package torch

// gotch's libtch compiles at_set_num_threads and at_get_num_threads
// (torch_api.cpp) but has no Go wrappers for them; declaring them in the
// preamble below links against that same object.

// void at_set_num_threads(int n_threads);
// int at_get_num_threads();
import "C"

import "fmt"

// SetNumThreads sets the size of libtorch's intra-op (OpenMP) thread team
// for the calling thread, which must be the worker (run it inside Do). On a
// machine whose cores are shared with other busy processes, a smaller team
// avoids OpenMP barriers waiting on a descheduled thread.
func SetNumThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("torch: set_num_threads(%d): need at least 1 thread", n)
	}
	C.at_set_num_threads(C.int(n))
	if err := lastErr(); err != nil {
		return fmt.Errorf("torch: set_num_threads(%d): %w", n, err)
	}
	return nil
}

// NumThreads returns the size of libtorch's intra-op thread team as seen from
// the calling thread (run it inside Do).
func NumThreads() (int, error) {
	n := int(C.at_get_num_threads())
	if err := lastErr(); err != nil {
		return 0, fmt.Errorf("torch: get_num_threads: %w", err)
	}
	return n, nil
}
