package dist

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/torch"
)

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// joinAll joins a group of n ranks in this process, one goroutine per rank,
// and runs f on each.
func joinAll(t *testing.T, n int, f func(g *Group) error) []error {
	t.Helper()
	port := freePort(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := Join(Config{Env: Env{Rank: r, WorldSize: n, LocalRank: r, LocalWorldSize: n, MasterAddr: "127.0.0.1", MasterPort: port},
				Timeout: 20 * time.Second, BucketBytes: 64}, torch.CPU)
			if err != nil {
				errs[r] = err
				return
			}
			errs[r] = f(g)
			if errs[r] == nil {
				errs[r] = g.Barrier()
			}
			g.Close()
		}()
	}
	wg.Wait()
	return errs
}

// Gloo all-reduce, broadcast and the start-up check between two ranks: the
// buckets (64 bytes here) split and pack tensors of mixed sizes.
func TestGlooCollectives(t *testing.T) {
	errs := joinAll(t, 2, func(g *Group) error {
		r := float32(g.Rank() + 1)
		a, _ := torch.FromFloat32([]float32{r, 2 * r, 3 * r}, 3)
		b, _ := torch.FromFloat32(make([]float32, 40), 4, 10) // 160 bytes: a bucket of its own
		c, _ := torch.FromFloat32([]float32{10 * r}, 1)
		defer a.Free()
		defer b.Free()
		defer c.Free()
		if err := g.AllReduce([]*torch.Tensor{a, b, c}, torch.ReduceSum); err != nil {
			return err
		}
		got, _ := a.Float32s()
		gc, _ := c.Float32s()
		if fmt.Sprint(got, gc) != "[3 6 9] [30]" {
			return fmt.Errorf("sum: %v %v", got, gc)
		}
		if err := g.AllReduce([]*torch.Tensor{c}, torch.ReduceAvg); err != nil {
			return err
		}
		if gc, _ = c.Float32s(); gc[0] != 30 {
			return fmt.Errorf("avg: %v", gc)
		}
		d, _ := torch.FromFloat32([]float32{r, r}, 2)
		defer d.Free()
		if err := g.Broadcast([]*torch.Tensor{d}); err != nil {
			return err
		}
		if gd, _ := d.Float32s(); gd[0] != 1 || gd[1] != 1 {
			return fmt.Errorf("broadcast: %v", gd)
		}
		s, err := g.Sum(1.5, float64(g.Rank()))
		if err != nil || s[0] != 3 || s[1] != 1 {
			return fmt.Errorf("sum64 %v %v", s, err)
		}
		return g.Check(map[string]string{"data": "abc", "args": "x"})
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// Gather brings every rank's bytes to rank 0 in rank order, twice in a row
// (the second call's parts are not the first's).
func TestGather(t *testing.T) {
	errs := joinAll(t, 3, func(g *Group) error {
		for round := range 2 {
			got, err := g.Gather([]byte(fmt.Sprintf("rank %d round %d", g.Rank(), round)))
			if err != nil {
				return err
			}
			if g.Rank() != 0 {
				if got != nil {
					return fmt.Errorf("rank %d got %q", g.Rank(), got)
				}
				continue
			}
			if want := fmt.Sprintf("[rank 0 round %d rank 1 round %d rank 2 round %d]", round, round, round); fmt.Sprintf("%s", got) != want {
				return fmt.Errorf("round %d: %s, want %s", round, got, want)
			}
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestCheckMismatch(t *testing.T) {
	errs := joinAll(t, 2, func(g *Group) error {
		return g.Check(map[string]string{"data": "abc", "args": fmt.Sprint("lr=", g.Rank())})
	})
	for r, err := range errs {
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "args (rank 0: lr=0, rank 1: lr=1)") {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// A rank whose master never answers fails after the timeout, naming it.
func TestUnreachableMaster(t *testing.T) {
	port := freePort(t)
	start := time.Now()
	_, err := Join(Config{Env: Env{Rank: 1, WorldSize: 2, LocalRank: 1, LocalWorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		Timeout: 2 * time.Second}, torch.CPU)
	took := time.Since(start)
	want := fmt.Sprintf("cannot reach the master at 127.0.0.1:%d within 2s", port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if took > 30*time.Second {
		t.Errorf("gave up after %v, want at most about 2s", took)
	}
}

// A master whose peers never come fails after the timeout too.
func TestMissingRank(t *testing.T) {
	port := freePort(t)
	_, err := Join(Config{Env: Env{Rank: 0, WorldSize: 2, LocalRank: 0, LocalWorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		Timeout: 2 * time.Second}, torch.CPU)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvFromOS(t *testing.T) {
	for k, v := range map[string]string{"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
		"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234", "TORCHELASTIC_USE_AGENT_STORE": "True", "TORCHELASTIC_RESTART_COUNT": "2"} {
		t.Setenv(k, v)
	}
	e, err := EnvFromOS()
	want := Env{Rank: 3, WorldSize: 4, LocalRank: 1, LocalWorldSize: 2, MasterAddr: "10.0.0.1", MasterPort: 1234, UseAgentStore: true, RestartCount: 2}
	if err != nil || e != want {
		t.Fatalf("%+v %v", e, err)
	}
	t.Setenv("RANK", "4")
	if _, err := EnvFromOS(); err == nil || !strings.Contains(err.Error(), "RANK=4") {
		t.Errorf("RANK=4: %v", err)
	}
	t.Setenv("RANK", "x")
	if _, err := EnvFromOS(); err == nil || !strings.Contains(err.Error(), `RANK="x"`) {
		t.Errorf("RANK=x: %v", err)
	}
}
