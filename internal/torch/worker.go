package torch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// One goroutine, locked to its OS thread, runs all libtorch work of the
// process. Grad mode, libtorch's last-error slot and the OpenMP team are
// per-thread state; keeping every call on one thread keeps them coherent and
// avoids building a competing OpenMP thread team for every goroutine's
// thread, which would fight over the same cores.
var (
	workOnce sync.Once
	workCh   chan func()
)

func startWorker() {
	workCh = make(chan func())
	go serve()
}

// serve is the worker: it runs the queued functions on its locked thread.
func serve() {
	runtime.LockOSThread() // never unlocked: the thread is ours until the goroutine ends
	for f := range workCh {
		f()
	}
}

// Do runs fn on the libtorch worker thread and returns its error.
//
// libtorch work is serialised per process: grad mode, libtorch's last-error
// slot and the OpenMP thread team belong to an OS thread, so every call runs
// on the one worker goroutine locked to its thread. Calls from several
// goroutines are therefore safe and run one after another. A call whose ctx
// ends while it waits for the worker returns ctx.Err() without running fn;
// once fn runs, it runs to its end (long work checks ctx itself).
//
// fn must not call Do itself (it would wait for itself): code below the
// public API assumes it already runs on the worker. A panic inside fn is
// recovered and returned as an error wrapping ErrPanic, and grad mode is
// restored to enabled; state fn was updating may be half-written, so callers
// that hold such state (the trainer) must stop on that error. If fn ends the
// worker goroutine instead (runtime.Goexit, as t.Fatal does inside fn), Do
// returns an error and a new worker takes over, rather than every later call
// waiting forever.
func Do(ctx context.Context, fn func() error) error {
	workOnce.Do(startWorker)
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	job := func() {
		returned := false
		defer func() {
			if r := recover(); r != nil {
				setGradEnabled(true)
				done <- fmt.Errorf("%w: %v\n%s", ErrPanic, r, debug.Stack())
				return
			}
			if !returned { // runtime.Goexit: this goroutine and its thread end
				done <- errors.New("torch: tensor work called runtime.Goexit (t.Fatal inside torch.Do?); the worker was replaced")
				go serve()
			}
		}()
		err := fn()
		returned = true
		done <- err
	}
	// workCh is unbuffered: the send completes only when the worker takes
	// the job, so a caller queued behind long work can still give up.
	select {
	case workCh <- job:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-done
}

// ErrPanic marks an error that Do made from a panic inside tensor work.
var ErrPanic = errors.New("torch: panic in tensor work")
