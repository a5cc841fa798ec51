package dist

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/torch"
)

// DefaultTimeout bounds the rendezvous and every collective (--ddp-timeout).
const DefaultTimeout = 60 * time.Second

// Config says how to join a group.
type Config struct {
	// Env places this process; the zero value means EnvFromOS.
	Env Env
	// Backend is "gloo" or "nccl"; "" picks nccl for a CUDA device and
	// gloo otherwise, as torch.distributed does.
	Backend string
	// Timeout bounds reaching the master, joining, and each collective;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// BucketBytes is the size of the gradient all-reduce buckets; 0 means
	// torch DDP's 25 MB.
	BucketBytes int64
	// Log receives what the group does (joining, waiting); nil logs nothing.
	Log *zerolog.Logger
}

// ErrMismatch is returned (wrapped) by Check when ranks disagree.
var ErrMismatch = errors.New("ranks disagree")

// Group is this process's membership of a data-parallel group.
type Group struct {
	env     Env
	store   *torch.Store
	pg      *torch.ProcessGroup
	dev     torch.Device
	bucket  int64
	timeout time.Duration
	checks  int
	gathers int
}

// Join connects to the group's store and process group. Rank 0 serves the
// store (unless torchrun's agent does); the others connect to it, waiting
// up to cfg.Timeout, and fail with an error naming the address.
func Join(cfg Config, dev torch.Device) (*Group, error) {
	e := cfg.Env
	if e.WorldSize == 0 {
		var err error
		if e, err = EnvFromOS(); err != nil {
			return nil, err
		}
	} else if err := e.Validate(); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	backend := cfg.Backend
	if backend == "" {
		backend = "gloo"
		if dev.IsCUDA() {
			backend = "nccl"
		}
	}
	if backend != "gloo" && backend != "nccl" {
		return nil, fmt.Errorf("dist: backend %q: want gloo or nccl", backend)
	}
	if backend == "gloo" && dev != torch.CPU {
		return nil, fmt.Errorf("dist: the gloo backend reduces CPU tensors; the model is on %v (use nccl)", dev)
	}
	log := zerolog.Nop()
	if cfg.Log != nil {
		log = *cfg.Log
	}
	master := e.Rank == 0 && !e.UseAgentStore
	addr := fmt.Sprintf("%s:%d", e.MasterAddr, e.MasterPort)
	if master {
		log.Info().Str("master", addr).Int("world_size", e.WorldSize).Dur("timeout", timeout).Msg("serving the rendezvous store; waiting for the other ranks")
	} else {
		log.Info().Str("master", addr).Int("rank", e.Rank).Dur("timeout", timeout).Msg("waiting for the master")
	}
	// Say so when the wait is long: on every rank, warnings included (ranks
	// other than 0 log warnings only).
	still := time.AfterFunc(min(5*time.Second, timeout/2), func() {
		log.Warn().Str("master", addr).Int("rank", e.Rank).Int("world_size", e.WorldSize).Dur("timeout", timeout).
			Msg("still waiting for the rendezvous at the master")
	})
	store, err := torch.NewStore(torch.StoreOptions{Host: e.MasterAddr, Port: e.MasterPort, Master: master, WorldSize: e.WorldSize,
		Timeout: timeout, Prefix: "golamini/attempt_" + strconv.Itoa(e.RestartCount) + "/"})
	still.Stop()
	if err != nil {
		if master {
			return nil, fmt.Errorf("dist: rank 0: rendezvous store at %s (world size %d, timeout %v): %w", addr, e.WorldSize, timeout, err)
		}
		hint := ""
		if e.UseAgentStore {
			hint = " (this is torchrun's agent store: a torchrun newer than torch 2.1 speaks a store protocol libtorch 2.1.0 cannot; run with GOLAMINI_OWN_STORE=1 to have rank 0 serve golamini's own store on MASTER_PORT+1)"
		}
		return nil, fmt.Errorf("dist: rank %d: cannot reach the master at %s within %v: %w%s", e.Rank, addr, timeout, err, hint)
	}
	pg, err := torch.NewProcessGroup(store, torch.ProcessGroupOptions{Backend: backend, Rank: e.Rank, Size: e.WorldSize, Timeout: timeout})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("dist: rank %d of %d: join the %s group at %s: %w", e.Rank, e.WorldSize, backend, addr, err)
	}
	bucket := cfg.BucketBytes
	if bucket <= 0 {
		bucket = torch.DefaultBucketBytes
	}
	log.Info().Int("rank", e.Rank).Int("world_size", e.WorldSize).Str("backend", backend).Str("master", addr).Msg("joined the process group")
	return &Group{env: e, store: store, pg: pg, dev: dev, bucket: bucket, timeout: timeout}, nil
}

// Rank, Size and LocalRank place this process; Env returns all of it.
func (g *Group) Rank() int      { return g.env.Rank }
func (g *Group) Size() int      { return g.env.WorldSize }
func (g *Group) LocalRank() int { return g.env.LocalRank }
func (g *Group) Env() Env       { return g.env }

// IsMain reports whether this is rank 0, the one that writes files.
func (g *Group) IsMain() bool { return g.env.Rank == 0 }

// Backend names the c10d backend in use.
func (g *Group) Backend() string { return g.pg.Backend() }

func (g *Group) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("dist: rank %d of %d: %s: %w (another rank probably failed or stopped answering; see its log)", g.env.Rank, g.env.WorldSize, op, err)
}

// SumGrads adds every rank's gradients of params into each rank's, in
// buckets; a parameter without a gradient counts as zeros.
func (g *Group) SumGrads(params []*torch.Tensor) error {
	return g.wrap("all-reduce gradients", g.pg.AllReduceGrads(params, torch.ReduceSum, g.bucket))
}

// AllReduce reduces ts in place (ReduceAvg averages).
func (g *Group) AllReduce(ts []*torch.Tensor, op torch.Reduction) error {
	return g.wrap("all-reduce", g.pg.AllReduce(ts, op, g.bucket))
}

// Broadcast copies rank 0's ts into every rank's.
func (g *Group) Broadcast(ts []*torch.Tensor) error {
	return g.wrap("broadcast", g.pg.Broadcast(ts, 0, g.bucket))
}

// Sum adds a few numbers across ranks (exactly: float64).
func (g *Group) Sum(vs ...float64) ([]float64, error) {
	out, err := g.pg.AllReduceFloat64s(vs, torch.ReduceSum, g.dev)
	return out, g.wrap("all-reduce", err)
}

// Max takes the largest of each number across ranks.
func (g *Group) Max(vs ...float64) ([]float64, error) {
	out, err := g.pg.AllReduceFloat64s(vs, torch.ReduceMax, g.dev)
	return out, g.wrap("all-reduce", err)
}

// Barrier waits for every rank.
func (g *Group) Barrier() error { return g.wrap("barrier", g.pg.Barrier()) }

// Check compares named fingerprints (of the data, the model, the
// arguments…) across ranks through the store: every rank publishes its own
// and reads all the others', so every rank reports a disagreement the same
// way, naming what differs and between which ranks (ErrMismatch).
func (g *Group) Check(what map[string]string) error {
	g.checks++
	b, err := json.Marshal(what)
	if err != nil {
		return err
	}
	key := func(r int) string { return fmt.Sprintf("check/%d/%d", g.checks, r) }
	if err := g.store.Set(key(g.env.Rank), b); err != nil {
		return g.wrap("publish start-up check", err)
	}
	names := make([]string, 0, len(what))
	for k := range what {
		names = append(names, k)
	}
	sort.Strings(names)
	var ref map[string]string
	for r := 0; r < g.env.WorldSize; r++ {
		v, err := g.store.Get(key(r), g.timeout)
		if err != nil {
			return g.wrap(fmt.Sprintf("read rank %d's start-up check", r), err)
		}
		var got map[string]string
		if err := json.Unmarshal(v, &got); err != nil {
			return fmt.Errorf("dist: rank %d's start-up check: %w", r, err)
		}
		if r == 0 {
			ref = got
			continue
		}
		var diffs []string
		for _, k := range names {
			if got[k] != ref[k] {
				diffs = append(diffs, fmt.Sprintf("%s (rank 0: %s, rank %d: %s)", k, short(ref[k]), r, short(got[k])))
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("dist: rank %d and rank 0 %w on %s: every rank must run with the same data, model and arguments",
				r, ErrMismatch, strings.Join(diffs, ", "))
		}
	}
	return nil
}

// Gather collects every rank's b on rank 0 through the store: rank 0 gets
// them in rank order, the other ranks nil (they do not wait for rank 0).
// Every rank must call it, the same number of times. For small things
// (a rank's data position, its RNG state), not tensors.
func (g *Group) Gather(b []byte) ([][]byte, error) {
	g.gathers++
	key := func(r int) string { return fmt.Sprintf("gather/%d/%d", g.gathers, r) }
	if err := g.store.Set(key(g.env.Rank), b); err != nil {
		return nil, g.wrap("gather", err)
	}
	if g.env.Rank != 0 {
		return nil, nil
	}
	out := make([][]byte, g.env.WorldSize)
	for r := range out {
		v, err := g.store.Get(key(r), g.timeout)
		if err != nil {
			return nil, g.wrap(fmt.Sprintf("gather rank %d's part", r), err)
		}
		out[r] = v
	}
	return out, nil
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// Close leaves the group and closes the store.
func (g *Group) Close() {
	g.pg.Close()
	g.store.Close()
}
