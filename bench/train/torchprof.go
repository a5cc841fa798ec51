package main

// #cgo CXXFLAGS: -std=c++17 -O2
// #cgo LDFLAGS: -ltorch_cpu -lc10
// #include <stdlib.h>
// #include "torchprof.h"
import "C"

import (
	"errors"
	"unsafe"
)

func profErr(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New("torch profiler: " + C.GoString(msg))
}

// startTorchProfiler records libtorch's operators into a chrome://tracing
// file at path until stopTorchProfiler. Run both on the torch worker.
func startTorchProfiler(path string) error {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return profErr(C.bench_prof_start(p))
}

func stopTorchProfiler() error { return profErr(C.bench_prof_stop()) }
