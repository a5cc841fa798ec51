package torch

// Bindings for torch.distributed's c10d (dist.cpp, declared in dist.h): the
// TCPStore that ranks meet at and the process group whose collectives
// data-parallel training uses. Package internal/dist builds on these.

// #cgo CXXFLAGS: -I${SRCDIR}/gloostub -DUSE_C10D_GLOO
// #include <stdlib.h>
// #include "dist.h"
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// ErrClosed is returned by a Store or ProcessGroup used after Close.
var ErrClosed = errors.New("torch: distributed object is closed")

// StoreOptions say where a TCPStore is and how long to wait for it.
type StoreOptions struct {
	Host string
	Port int
	// Master listens on Port and waits for WorldSize-1 clients; the others
	// connect to Host:Port, retrying until Timeout.
	Master    bool
	WorldSize int
	Timeout   time.Duration
	// Prefix namespaces every key (c10d's PrefixStore), e.g. to stay clear
	// of the keys of torchrun's own agent store.
	Prefix string
}

// Store is c10d's TCPStore, the key-value rendezvous of a process group.
type Store struct {
	mu sync.Mutex
	c  unsafe.Pointer
}

// NewStore creates (master) or connects to (client) a TCPStore.
func NewStore(o StoreOptions) (*Store, error) {
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("torch: store port %d out of range", o.Port)
	}
	host, prefix := C.CString(o.Host), C.CString(o.Prefix)
	defer C.free(unsafe.Pointer(host))
	defer C.free(unsafe.Pointer(prefix))
	var out unsafe.Pointer
	master := 0
	if o.Master {
		master = 1
	}
	msg := C.gl_store_new(&out, host, C.int(o.Port), C.int(master), C.int(o.WorldSize), C.int64_t(millis(o.Timeout)), prefix)
	if err := fusedErr("tcp store", msg); err != nil {
		return nil, err
	}
	s := &Store{c: out}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

// Set stores value under key.
func (s *Store) Set(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return ErrClosed
	}
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var p *C.uint8_t
	if len(value) > 0 {
		p = (*C.uint8_t)(C.CBytes(value))
		defer C.free(unsafe.Pointer(p))
	}
	return fusedErr("store set "+key, C.gl_store_set(s.c, k, p, C.int64_t(len(value))))
}

// Get waits up to timeout for key to be set and returns its value.
func (s *Store) Get(key string, timeout time.Duration) ([]byte, error) {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c == nil {
		return nil, ErrClosed
	}
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var v *C.uint8_t
	var n C.int64_t
	if err := fusedErr("store get "+key, C.gl_store_get(c, k, C.int64_t(millis(timeout)), &v, &n)); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(v))
	runtime.KeepAlive(s)
	return C.GoBytes(unsafe.Pointer(v), C.int(n)), nil
}

// Close releases the store (the master stops serving).
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		C.gl_store_free(s.c)
		s.c = nil
	}
}

// Reduction is an all-reduce operation.
type Reduction int

// The reductions AllReduce offers. Avg sums and divides by the group size.
const (
	ReduceSum Reduction = C.GL_REDUCE_SUM
	ReduceAvg Reduction = C.GL_REDUCE_AVG
	ReduceMax Reduction = C.GL_REDUCE_MAX
	ReduceMin Reduction = C.GL_REDUCE_MIN
)

// ProcessGroupOptions configure NewProcessGroup.
type ProcessGroupOptions struct {
	// Backend is "gloo" (CPU tensors) or "nccl" (CUDA tensors, CUDA builds).
	Backend    string
	Rank, Size int
	// Timeout bounds joining and every collective: a rank that died or
	// stopped answering turns into an error after at most this long.
	Timeout time.Duration
}

// ProcessGroup is a c10d process group (ProcessGroupGloo or
// ProcessGroupNCCL). Its collectives block until every rank has taken part
// or the timeout passes; they are not safe for concurrent use.
type ProcessGroup struct {
	c       unsafe.Pointer
	opts    ProcessGroupOptions
	store   *Store
	failed  bool
	Timeout time.Duration
}

// NewProcessGroup joins the group through store.
func NewProcessGroup(store *Store, o ProcessGroupOptions) (*ProcessGroup, error) {
	store.mu.Lock()
	sc := store.c
	store.mu.Unlock()
	if sc == nil {
		return nil, ErrClosed
	}
	b := C.CString(o.Backend)
	defer C.free(unsafe.Pointer(b))
	var out unsafe.Pointer
	msg := C.gl_pg_new(&out, sc, b, C.int(o.Rank), C.int(o.Size), C.int64_t(millis(o.Timeout)))
	if err := fusedErr("process group "+o.Backend, msg); err != nil {
		return nil, err
	}
	return &ProcessGroup{c: out, opts: o, store: store, Timeout: o.Timeout}, nil
}

// Rank and Size are this process's place in the group and the group's size.
func (g *ProcessGroup) Rank() int { return g.opts.Rank }
func (g *ProcessGroup) Size() int { return g.opts.Size }

// Backend names the c10d backend.
func (g *ProcessGroup) Backend() string { return g.opts.Backend }

// DefaultBucketBytes is the size of the flat buffers collectives pack
// tensors into: torch DDP's bucket_cap_mb of 25 MB.
const DefaultBucketBytes = 25 << 20

func (g *ProcessGroup) call(op string, f func() *C.char) error {
	if g.c == nil {
		return ErrClosed
	}
	err := fusedErr(op, f())
	if err != nil {
		g.failed = true
	}
	return err
}

// AllReduce reduces ts in place across the group, in buckets of
// bucketBytes (0: DefaultBucketBytes).
func (g *ProcessGroup) AllReduce(ts []*Tensor, op Reduction, bucketBytes int64) error {
	return g.allReduce(ts, op, false, bucketBytes)
}

// AllReduceGrads reduces the gradients of params in place; a parameter
// without a gradient gets zeros first.
func (g *ProcessGroup) AllReduceGrads(params []*Tensor, op Reduction, bucketBytes int64) error {
	return g.allReduce(params, op, true, bucketBytes)
}

func (g *ProcessGroup) allReduce(ts []*Tensor, op Reduction, grads bool, bucketBytes int64) error {
	if len(ts) == 0 {
		return nil
	}
	if bucketBytes <= 0 {
		bucketBytes = DefaultBucketBytes
	}
	arr, free := tensorArray(ts)
	defer free()
	gr := 0
	if grads {
		gr = 1
	}
	err := g.call("all_reduce", func() *C.char {
		return C.gl_pg_allreduce(g.c, arr, C.int(len(ts)), C.int(op), C.int(gr), C.int64_t(bucketBytes), C.int64_t(millis(g.Timeout)))
	})
	runtime.KeepAlive(ts)
	return err
}

// Broadcast copies root's ts into every rank's ts, in buckets.
func (g *ProcessGroup) Broadcast(ts []*Tensor, root int, bucketBytes int64) error {
	if len(ts) == 0 {
		return nil
	}
	if bucketBytes <= 0 {
		bucketBytes = DefaultBucketBytes
	}
	arr, free := tensorArray(ts)
	defer free()
	err := g.call("broadcast", func() *C.char {
		return C.gl_pg_broadcast(g.c, arr, C.int(len(ts)), C.int(root), C.int64_t(bucketBytes), C.int64_t(millis(g.Timeout)))
	})
	runtime.KeepAlive(ts)
	return err
}

// Barrier returns once every rank has reached it.
func (g *ProcessGroup) Barrier() error {
	return g.call("barrier", func() *C.char { return C.gl_pg_barrier(g.c, C.int64_t(millis(g.Timeout))) })
}

// AllReduceFloat64s sums (or otherwise reduces) a few numbers across the
// group: a float64 CPU tensor (on the device for NCCL) round trip.
func (g *ProcessGroup) AllReduceFloat64s(vs []float64, op Reduction, dev Device) ([]float64, error) {
	raw := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
	}
	t, err := FromRaw(raw, Float64, int64(len(vs)))
	if err != nil {
		return nil, err
	}
	s := NewScope()
	defer s.Close()
	s.Own(t)
	if dev != CPU {
		t = s.To(t, Float64, dev)
		if err := s.Err(); err != nil {
			return nil, err
		}
	}
	if err := g.AllReduce([]*Tensor{t}, op, 0); err != nil {
		return nil, err
	}
	if raw, err = t.Raw(); err != nil {
		return nil, err
	}
	out := make([]float64, len(vs))
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out, nil
}

// Close leaves the group. After a failed collective the group is not torn
// down (its destructor would wait for work a dead peer never finishes); the
// process is expected to exit, which ends it.
func (g *ProcessGroup) Close() {
	if g.c == nil {
		return
	}
	if !g.failed {
		C.gl_pg_free(g.c)
	}
	g.c = nil
}

func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, d.Milliseconds())
}
