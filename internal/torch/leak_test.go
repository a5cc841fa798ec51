package torch

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	lib "github.com/sugarme/gotch/libtch"
)

// rss returns the resident set size after handing free Go and C heap memory
// back to the OS, so that what remains is what is live.
func rss(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	ReleaseFreeMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("resident memory needs /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("/proc/self/statm %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// decodeOps runs one of each op a decoding step uses on small tensors.
func decodeOps(s *Scope, x, w, b, idx *Tensor) {
	h := s.LayerNorm(x, b, b, 1e-5)
	y := s.RowLinear(h, w, b)
	y = s.Gelu(s.View(y, 1, 1, 64), "none")
	q := s.Permute(s.Select(s.View(s.Narrow(y, 2, 0, 32), 1, 1, 2, 16), 2, 0), 1, 0, 2) // [1, 1, 16]
	q = s.Addcmul(s.Mul(q, q), s.IndexSelect(q, -1, idx), q)
	p := s.Softmax(s.MulScalar(s.Matmul(q, s.Transpose(q, 1, 2)), 0.5), -1, Float32)
	s.Copy(s.Narrow(x, 1, 0, 1), s.Add(s.Sum(p, Float32), s.Narrow(x, 1, 0, 1)))
	s.Argmax(s.Reshape(y, -1), 0, false)
	s.Close()
}

// Our op layer leaves nothing behind per op: after 5,000 warm-up rounds of
// the 17 ops a decoding step uses, 15,000 more (255,000 ops) keep resident
// memory flat. Bound: 2 MiB. Measured: 8–456 KiB; with 2,000 warm-up rounds
// 0.7–1.2 MiB, the same after 38,000 and 158,000 rounds (a one-time settling
// of glibc's arenas and the Go runtime's metadata, not growth per op). One leaked 32-byte allocation per op, as
// gotch's lib.AtgGelu leaks (TestGotchGeluLeaks), would add about 8 MiB.
func TestOpsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("340,000 ops")
	}
	const rounds, warm, bound = 20000, 5000, 2 << 20
	var growth int64
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		threads, err := NumThreads()
		if err != nil {
			return err
		}
		defer SetNumThreads(threads)             //nolint:errcheck
		if err := SetNumThreads(1); err != nil { // as in decoding (exact GELU is slow with a thread team)
			return err
		}
		k := NewScope()
		defer k.Close()
		x := k.Randn([]int64{1, 64}, Float32, CPU)
		w := k.Randn([]int64{64, 64}, Float32, CPU)
		b := k.Randn([]int64{64}, Float32, CPU)
		idx := k.Int64([]int64{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7}, 16)
		s := NewScope()
		var before int64
		for i := 0; i < rounds; i++ {
			decodeOps(s, x, w, b, idx)
			if err := s.Err(); err != nil {
				return err
			}
			if i+1 == warm {
				before = rss(t)
			}
		}
		growth = rss(t) - before
		return k.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resident growth over %d rounds: %d KiB (bound %d KiB)", rounds-warm, growth>>10, bound>>10)
	if growth > bound {
		t.Errorf("resident memory grew by %d KiB over %d rounds of ops (bound %d KiB): a leak per op", growth>>10, rounds-warm, bound>>10)
	}
}

// The leak the test above guards against is real: gotch's own lib.AtgGelu,
// which Gelu (gelu.go) replaces, copies its mode string with C.CString on
// every call and never frees it (measured: 100,000 calls, +9.9 MiB).
func TestGotchGeluLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 calls")
	}
	const calls = 100000
	var growth int64
	err := Do(context.Background(), func() error {
		threads, err := NumThreads()
		if err != nil {
			return err
		}
		defer SetNumThreads(threads) //nolint:errcheck
		if err := SetNumThreads(1); err != nil {
			return err
		}
		s := NewScope()
		defer s.Close()
		x := s.Randn([]int64{4}, Float32, CPU)
		if err := s.Err(); err != nil {
			return err
		}
		before := rss(t)
		for i := 0; i < calls; i++ {
			var out lib.Ctensor
			lib.AtgGelu(&out, x.c, "none")
			lib.AtFree(out)
		}
		growth = rss(t) - before
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gotch lib.AtgGelu: %d calls grew resident memory by %d KiB", calls, growth>>10)
	if growth < calls*16 {
		t.Errorf("lib.AtgGelu no longer leaks (%d KiB over %d calls): Gelu's own binding in gelu.go can go", growth>>10, calls)
	}
}
