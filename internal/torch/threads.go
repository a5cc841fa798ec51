package torch

// gotch's libtch compiles at_set_num_threads and at_get_num_threads
// (torch_api.cpp) but has no Go wrappers for them; declaring them in the
// preamble below links against that same object.

// void at_set_num_threads(int n_threads);
// int at_get_num_threads();
import "C"

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

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

// ThreadChoice is the intra-op thread count in use and why it was chosen.
type ThreadChoice struct {
	Threads int
	Reason  string
}

var (
	threadsMu     sync.Mutex
	threadsChosen *ThreadChoice
)

// SetDefaultThreads sets libtorch's intra-op thread count for the process
// and returns what it chose. n > 0 is used as given. n == 0 keeps an earlier
// choice, else takes $GOLAMINI_THREADS (or $OMP_NUM_THREADS) when set, else
// ChooseThreads from the
// CPUs this process may use (runtime.GOMAXPROCS, which follows CPU affinity
// and cgroup quotas) and the 1-minute load average. libtorch's default, one
// thread per core, stalls at every OpenMP barrier when some of those cores
// are busy with other processes; fewer threads than idle cores do not.
func SetDefaultThreads(n int) ThreadChoice {
	threadsMu.Lock()
	defer threadsMu.Unlock()
	var c ThreadChoice
	switch {
	case n > 0:
		c = ThreadChoice{n, "asked for"}
	case threadsChosen != nil:
		return *threadsChosen
	default:
		name := "GOLAMINI_THREADS"
		if os.Getenv(name) == "" && os.Getenv("OMP_NUM_THREADS") != "" {
			name = "OMP_NUM_THREADS" // libtorch's own setting, when ours is not given
		}
		c = ChooseThreads(runtime.GOMAXPROCS(0), loadAverage(), name, os.Getenv(name))
	}
	if err := Do(context.Background(), func() error { return SetNumThreads(c.Threads) }); err != nil {
		c.Reason += fmt.Sprintf(" (not applied: %v)", err)
	}
	threadsChosen = &c
	return c
}

// ChooseThreads picks an intra-op thread count: the environment variable
// envName's value env when it is a positive integer, else the usable CPUs
// less those the load average says other work keeps busy, at least 1.
func ChooseThreads(cpus int, load float64, envName, env string) ThreadChoice {
	if env != "" {
		if v, err := strconv.Atoi(strings.TrimSpace(env)); err == nil && v > 0 {
			return ThreadChoice{v, envName}
		}
	}
	if cpus < 1 {
		cpus = 1
	}
	if load < 0 || math.IsNaN(load) {
		load = 0
	}
	busy := int(math.Round(load))
	n := cpus - busy
	if n < 1 {
		n = 1
	}
	if busy == 0 {
		return ThreadChoice{n, fmt.Sprintf("%d usable CPUs, idle", cpus)}
	}
	return ThreadChoice{n, fmt.Sprintf("%d usable CPUs, load average %.1f", cpus, load)}
}

// loadAverage is the 1-minute load average (Linux /proc/loadavg), or 0
// where it cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return v
}
