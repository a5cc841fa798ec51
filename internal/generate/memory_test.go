package generate

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// residentBytes reads the process's resident set size from /proc/self/statm
// after handing free Go and C heap memory back to the OS, so that what is
// left is what is live (Go heap, libtorch's and C's allocations).
func residentBytes(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	torch.ReleaseFreeMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("resident memory needs /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("/proc/self/statm: unexpected %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("/proc/self/statm %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// Resident memory stays flat over 200 generation calls. Every call makes and
// frees a KV cache, logits and a few thousand per-op intermediates through our
// torch layer, so anything left behind per op, per token or per call shows up
// as growth between call 20 (all caches warm: libtorch's, glibc's arenas, the
// RowLinear helper thread) and call 200. Calls rotate through greedy with a
// cache, sampling with a repetition penalty, a left-padded batch of three
// prompts, and decoding without a cache.
//
// Bound: 1 MiB, well above the noise of glibc arenas settling and the Go
// runtime's own metadata (both move up and down between runs; the C side
// levels off after a few hundred calls). What it catches, over these 180
// calls: one leaked 32-byte allocation per op ≈ 8 MiB; a leaked logits tensor
// per token ≈ 14 MiB; a leaked KV cache per call ≈ 2.7 MiB. Finer, per-op
// leaks are checked in internal/torch (TestOpsDoNotLeak), where gotch's own
// leaking lib.AtgGelu is also measured (TestGotchGeluLeaks).
func TestGenerateMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("200 generation calls")
	}
	const calls, warm, bound = 200, 20, 1 << 20
	withModel(t, "tiny-seq", func(m *model.Model) error {
		var at20 int64
		for i := 0; i < calls; i++ {
			o := DefaultOptions()
			o.MaxNewTokens, o.StopAtEOS, o.Seed = 20, false, uint64(i)
			prompts := [][]int{{5, 6, 7, 8, 9, 10, 11}}
			switch i % 4 {
			case 1:
				o.Temperature, o.TopK, o.TopP, o.RepetitionPenalty = 0.8, 40, 0.9, 1.2
			case 2:
				prompts = [][]int{{5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}, {16}}
			case 3:
				o.UseCache, o.MaxNewTokens = false, 8
			}
			if _, err := Generate(context.Background(), m, prompts, o, nil); err != nil {
				return err
			}
			if i+1 == warm {
				at20 = residentBytes(t)
			}
		}
		at200 := residentBytes(t)
		growth := at200 - at20
		t.Logf("resident after call %d: %d KiB, after call %d: %d KiB, growth %d KiB (bound %d KiB)",
			warm, at20>>10, calls, at200>>10, growth>>10, bound>>10)
		if growth > bound {
			t.Errorf("resident memory grew by %d KiB between call %d and call %d (bound %d KiB): something leaks per call",
				growth>>10, warm, calls, bound>>10)
		}
		return nil
	})
}
