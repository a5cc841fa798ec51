package torch

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// One goroutine, locked to its OS thread, runs all libtorch work of the
// process. Grad mode, libtorch's last-error slot and the OpenMP team are
// per-thread state; keeping every call on one thread keeps them coherent and
// avoids building competing thread teams (3–4× slower GEMV when unpinned).
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

// Do runs fn on the libtorch worker thread and returns its error. Calls from
// several goroutines are serialised, so concurrent callers are safe. fn must
// not call Do itself (it would wait for itself): code below the public API
// assumes it already runs on the worker. A panic inside fn is recovered and
// returned as an error, and grad mode is restored to enabled. If fn ends
// the worker goroutine instead (runtime.Goexit, as t.Fatal does inside fn),
// Do returns an error and a new worker takes over, rather than every later
// call waiting forever.
func Do(fn func() error) error {
	workOnce.Do(startWorker)
	done := make(chan error, 1)
	workCh <- func() {
		returned := false
		defer func() {
			if r := recover(); r != nil {
				setGradEnabled(true)
				done <- fmt.Errorf("torch: panic in tensor work: %v\n%s", r, debug.Stack())
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
	return <-done
}
