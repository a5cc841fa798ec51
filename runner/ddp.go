package runner

import (
	"fmt"

	"github.com/golamini/golamini/internal/dist"
	"github.com/golamini/golamini/internal/torch"
)

// DistributedConfig says how Train joins a data-parallel group: the
// process's place (Env; zero = the torchrun variables RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), the backend
// ("" = gloo on CPU, nccl on CUDA) and the timeout of the rendezvous and
// of every collective (0 = 60 s).
type DistributedConfig = dist.Config

// joinGroup joins the data-parallel group cfg.Distributed names or, when
// it is nil, the one the environment describes (a program started by
// torchrun or `golamini train --nproc-per-node` then trains data-parallel
// unchanged). It returns nil for a single-process run.
func (r *Runner) joinGroup(cfg TrainConfig) (*dist.Group, error) {
	dc := cfg.Distributed
	if dc == nil {
		if !dist.InEnvironment() {
			return nil, nil
		}
		dc = &DistributedConfig{}
	}
	c := *dc
	if c.Log == nil {
		c.Log = &r.log
	}
	r.mu.Lock()
	dev := torch.CPU
	if r.model != nil {
		dev = r.model.Device
	}
	r.mu.Unlock()
	g, err := dist.Join(c, dev)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return g, nil
}
