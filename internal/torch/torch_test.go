package torch

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpsAndErrors(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		a := s.Float32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
		b := s.Float32([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
		c := s.Matmul(a, b) // [[4 5] [10 11]]
		got, err := c.Float32s()
		if err != nil {
			return err
		}
		want := []float32{4, 5, 10, 11}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("matmul = %v, want %v", got, want)
				break
			}
		}
		// A libtorch failure is an error naming the op, and later ops are no-ops.
		bad := s.Matmul(a, a)
		if bad != nil || s.Err() == nil || !strings.Contains(s.Err().Error(), "matmul") {
			t.Errorf("shape mismatch: %v, %v", bad, s.Err())
		}
		if x := s.Add(c, c); x != nil {
			t.Error("op after an error ran")
		}
		// Wrong element count is an error, not a crash.
		if _, err := FromFloat32([]float32{1, 2, 3}, 2, 2); err == nil {
			t.Error("3 elements into [2, 2]: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScopeKeepAndClose(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		x := s.Ones([]int64{4}, Float32, CPU)
		y := s.Keep(s.MulScalar(x, 3))
		s.Close()
		if x.Defined() {
			t.Error("scope-owned tensor survived Close")
		}
		v, err := y.Float32s()
		y.Free()
		if err != nil || v[0] != 3 {
			t.Errorf("kept tensor: %v %v", v, err)
		}
		y.Free() // idempotent
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGradAndNoGrad(t *testing.T) {
	err := Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		w := s.Float32([]float32{2, 3}, 2)
		if err := w.SetRequiresGrad(true); err != nil {
			return err
		}
		loss := s.Sum(s.Square(w), Float32) // d/dw = 2w
		if err := loss.Backward(); err != nil {
			return err
		}
		g, err := w.Grad()
		if err != nil {
			return err
		}
		v, _ := g.Float32s()
		g.Free()
		if v[0] != 4 || v[1] != 6 {
			t.Errorf("grad = %v, want [4 6]", v)
		}
		func() {
			defer NoGrad()()
			if y := s.MulScalar(w, 2); y.RequiresGrad() {
				t.Error("NoGrad: result requires grad")
			}
		}()
		if y := s.MulScalar(w, 2); !y.RequiresGrad() {
			t.Error("grad mode not restored after NoGrad")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Do serialises concurrent callers on one thread and turns a panic into an error.
func TestDoConcurrentAndPanic(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Do(context.Background(), func() error {
				s := NewScope()
				defer s.Close()
				_ = s.Sum(s.Ones([]int64{100}, Float32, CPU), Float32)
				return s.Err()
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	err := Do(context.Background(), func() error {
		defer NoGrad()()
		var x []int
		_ = x[3]
		return nil
	})
	if !errors.Is(err, ErrPanic) {
		t.Errorf("panic: %v, want an error wrapping ErrPanic", err)
	}
	// Grad mode is on again for the next job.
	err = Do(context.Background(), func() error {
		if !setGradEnabled(true) {
			t.Error("grad mode left off after a panic")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Work that ends the worker goroutine (t.Fatal inside Do) is an error,
	// and a new worker serves the next calls, on a locked thread with grad
	// mode on.
	err = Do(context.Background(), func() error {
		defer NoGrad()()
		runtime.Goexit()
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("Goexit: %v", err)
	}
	err = Do(context.Background(), func() error {
		s := NewScope()
		defer s.Close()
		if !setGradEnabled(true) {
			return errors.New("grad mode off on the new worker")
		}
		_ = s.Sum(s.Ones([]int64{10}, Float32, CPU), Float32)
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A call queued behind long work gives up when its context ends, without
// running; a call whose context is already done never runs.
func TestDoContext(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_ = Do(context.Background(), func() error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := Do(ctx, func() error { ran = true; return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Errorf("queued call: err %v, ran %v; want DeadlineExceeded without running", err, ran)
	}
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	err = Do(done, func() error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled call: err %v, ran %v", err, ran)
	}
	if err := Do(context.Background(), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestChooseThreads(t *testing.T) {
	cases := []struct {
		cpus int
		load float64
		env  string
		want int
	}{
		{8, 0, "", 8},
		{8, 0.4, "", 8},
		{8, 3.2, "", 5},
		{2, 7.9, "", 1}, // every core busy: one thread, not a team that waits on descheduled members
		{4, 0, "3", 3},  // the environment wins
		{4, 0, "x", 4},  // ignored when not a positive integer
		{4, -1, "0", 4}, // a nonsense load is ignored
		{0, 0, "", 1},
	}
	for _, c := range cases {
		got := ChooseThreads(c.cpus, c.load, "GOLAMINI_THREADS", c.env)
		if got.Threads != c.want || got.Reason == "" {
			t.Errorf("ChooseThreads(%d, %v, %q) = %+v, want %d", c.cpus, c.load, c.env, got, c.want)
		}
	}
}

func TestSetDefaultThreadsApplies(t *testing.T) {
	c := SetDefaultThreads(1)
	if c.Threads != 1 {
		t.Fatalf("%+v", c)
	}
	var n int
	if err := Do(context.Background(), func() (err error) { n, err = NumThreads(); return err }); err != nil || n != 1 {
		t.Fatalf("NumThreads = %d, %v", n, err)
	}
	if again := SetDefaultThreads(0); again != c {
		t.Errorf("a later default call changed the choice: %+v", again)
	}
}
