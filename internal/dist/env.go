package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Env is a process's place in a distributed run, as torchrun (or a
// scheduler such as Slurm or Kubernetes) describes it in the environment.
type Env struct {
	Rank           int    // RANK: 0 … WorldSize-1
	WorldSize      int    // WORLD_SIZE
	LocalRank      int    // LOCAL_RANK: the rank on this machine (picks the GPU)
	LocalWorldSize int    // LOCAL_WORLD_SIZE
	MasterAddr     string // MASTER_ADDR: host of rank 0's store
	MasterPort     int    // MASTER_PORT
	// UseAgentStore (TORCHELASTIC_USE_AGENT_STORE=True) means torchrun's
	// agent already serves the store at MasterAddr:MasterPort: every rank,
	// rank 0 included, connects to it as a client.
	UseAgentStore bool
	// RestartCount (TORCHELASTIC_RESTART_COUNT) keeps the keys of a
	// restarted attempt apart from the failed one's.
	RestartCount int
}

// ErrNoEnv is returned by EnvFromOS when WORLD_SIZE is not set.
var ErrNoEnv = errors.New("dist: WORLD_SIZE is not set (not launched by torchrun or golamini --nproc-per-node)")

// InEnvironment reports whether the environment describes a distributed run
// (WORLD_SIZE is set).
func InEnvironment() bool {
	_, ok := os.LookupEnv("WORLD_SIZE")
	return ok
}

// EnvFromOS reads the torchrun variables. LOCAL_RANK and LOCAL_WORLD_SIZE
// default to RANK and WORLD_SIZE (one machine), MASTER_ADDR to 127.0.0.1
// and MASTER_PORT to 29500, torchrun's defaults.
func EnvFromOS() (Env, error) {
	if !InEnvironment() {
		return Env{}, ErrNoEnv
	}
	var e Env
	var err error
	num := func(name string, def int) int {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return def
		}
		n, perr := strconv.Atoi(v)
		if perr != nil && err == nil {
			err = fmt.Errorf("dist: %s=%q is not a number", name, v)
		}
		return n
	}
	e.WorldSize = num("WORLD_SIZE", 1)
	e.Rank = num("RANK", 0)
	e.LocalRank = num("LOCAL_RANK", e.Rank)
	e.LocalWorldSize = num("LOCAL_WORLD_SIZE", e.WorldSize)
	e.MasterPort = num("MASTER_PORT", 29500)
	e.RestartCount = num("TORCHELASTIC_RESTART_COUNT", 0)
	e.MasterAddr = os.Getenv("MASTER_ADDR")
	if e.MasterAddr == "" {
		e.MasterAddr = "127.0.0.1"
	}
	if v := os.Getenv("TORCHELASTIC_USE_AGENT_STORE"); v == "True" || v == "true" || v == "1" {
		e.UseAgentStore = true
	}
	// torchrun from a torch newer than the libtorch 2.1.0 golamini links
	// serves its agent store in a newer protocol that 2.1's client cannot
	// speak; GOLAMINI_OWN_STORE=1 has rank 0 serve golamini's own store on
	// the next port instead.
	if e.UseAgentStore && os.Getenv("GOLAMINI_OWN_STORE") == "1" {
		e.UseAgentStore = false
		e.MasterPort++
	}
	if err != nil {
		return Env{}, err
	}
	return e, e.Validate()
}

// Validate reports an inconsistent description, naming the variable.
func (e Env) Validate() error {
	switch {
	case e.WorldSize < 1:
		return fmt.Errorf("dist: WORLD_SIZE=%d must be ≥ 1", e.WorldSize)
	case e.Rank < 0 || e.Rank >= e.WorldSize:
		return fmt.Errorf("dist: RANK=%d must be in [0, WORLD_SIZE=%d)", e.Rank, e.WorldSize)
	case e.LocalWorldSize < 1 || e.LocalRank < 0 || e.LocalRank >= e.LocalWorldSize:
		return fmt.Errorf("dist: LOCAL_RANK=%d must be in [0, LOCAL_WORLD_SIZE=%d)", e.LocalRank, e.LocalWorldSize)
	case e.MasterPort < 1 || e.MasterPort > 65535:
		return fmt.Errorf("dist: MASTER_PORT=%d is not a TCP port", e.MasterPort)
	case e.MasterAddr == "":
		return errors.New("dist: MASTER_ADDR is empty")
	}
	return nil
}

// Vars returns the variables that describe e, for a child's environment.
func (e Env) Vars() []string {
	return []string{
		"RANK=" + strconv.Itoa(e.Rank), "WORLD_SIZE=" + strconv.Itoa(e.WorldSize),
		"LOCAL_RANK=" + strconv.Itoa(e.LocalRank), "LOCAL_WORLD_SIZE=" + strconv.Itoa(e.LocalWorldSize),
		"GROUP_RANK=0", "ROLE_RANK=" + strconv.Itoa(e.Rank), "ROLE_WORLD_SIZE=" + strconv.Itoa(e.WorldSize),
		"MASTER_ADDR=" + e.MasterAddr, "MASTER_PORT=" + strconv.Itoa(e.MasterPort),
		"TORCHELASTIC_RESTART_COUNT=" + strconv.Itoa(e.RestartCount),
	}
}
