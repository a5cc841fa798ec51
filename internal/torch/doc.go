// Package torch is a thin, explicit layer over libtorch 2.1 through gotch's
// low-level libtch bindings.
//
// Why not gotch's ts package: each ts operation allocates a 100 KB Go ballast,
// formats a name, takes a global lock and registers a finalizer (see
// gotch's ts/tensor.go), which costs far more than the op itself for the
// small tensors of decoding, and its Must* forms call log.Fatal. Here an op
// is one cgo call plus an error check, memory is freed explicitly, and every
// failure is an error.
//
// Ownership: every *Tensor returned by an op belongs to the Scope that made
// it and is freed by Scope.Close unless the caller takes it with Scope.Keep,
// after which the caller calls Free. A Scope has a sticky error: after the
// first failure further ops return nil and do nothing, so model code reads
// like the math and checks Err once.
//
// Threads: libtorch keeps grad mode, the last error and the OpenMP thread
// team per OS thread. All tensor work must run through Do, which executes it
// on one goroutine locked to one OS thread.
package torch
