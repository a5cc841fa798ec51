package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/testutil"
)

// asCLI makes the test binary behave as golamini itself, so the launcher
// (which runs its own executable) and the fault tests can start ranks.
const asCLI = "GOLAMINI_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ddpArgs trains tiny-seq on sdk_qa.jsonl: 3 optimizer steps of 2
// micro-batches, evaluating at the end.
func ddpArgs(t *testing.T, out string, batch int, extra ...string) []string {
	return append([]string{"train", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--data", testutil.Testdata(t, "sdk_qa.jsonl"),
		"--input-key", "question", "--output-key", "answer", "--output-dir", out, "--max-steps", "3",
		"--per-device-train-batch-size", strconv.Itoa(batch), "--gradient-accumulation-steps", "2", "--learning-rate", "1e-3",
		"--logging-steps", "1", "--save-strategy", "no", "--eval-strategy", "steps", "--eval-steps", "3", "--per-device-eval-batch-size", "3",
		"--seed", "7", "--max-length", "48", "--quiet"}, extra...)
}

type logged struct {
	loss, eval []float64
}

func readLog(t *testing.T, dir string) logged {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		LogHistory []struct {
			Loss     *float64 `json:"loss"`
			EvalLoss *float64 `json:"eval_loss"`
		} `json:"log_history"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var l logged
	for _, e := range st.LogHistory {
		if e.Loss != nil {
			l.loss = append(l.loss, *e.Loss)
		}
		if e.EvalLoss != nil {
			l.eval = append(l.eval, *e.EvalLoss)
		}
	}
	return l
}

// Two ranks (Gloo over loopback, two processes started by
// --nproc-per-node) with per-device batch 2 take the steps of one process
// with batch 4 over the same rows: the same per-step losses within 1e-5
// relative, the same evaluation loss and the same final weights within
// float32 reduction noise.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	t.Setenv(asCLI, "1")
	one, two := t.TempDir(), t.TempDir()
	if _, stderr, code := run(t, "", ddpArgs(t, one, 4)...); code != 0 {
		t.Fatalf("one process: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "", append(ddpArgs(t, two, 2), "--nproc-per-node", "2", "--ddp-timeout", "60s",
		"--save-strategy", "steps", "--save-steps", "2")...)
	if code != 0 {
		t.Fatalf("two ranks: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "trained 3 steps") || strings.Count(stdout, "trained") != 1 {
		t.Errorf("stdout (rank 0 alone reports): %q", stdout)
	}
	compareRuns(t, one, two)

	// Rank 0's checkpoint at step 2 resumes in one process with batch 4 (the
	// same global batch): step 3 takes the same rows and ends the same.
	resumed := t.TempDir()
	if _, stderr, code := run(t, "", ddpArgs(t, resumed, 4, "--resume-from-checkpoint", filepath.Join(two, "checkpoint-2"))...); code != 0 {
		t.Fatalf("resume in one process: exit %d: %s", code, stderr)
	}
	compareRuns(t, one, resumed)

	// Every rank wrote its own file into the checkpoint.
	for rank := range 2 {
		var st struct {
			Rank        int `json:"rank"`
			WorldSize   int `json:"world_size"`
			ShardOffset int `json:"shard_offset"`
		}
		b, err := os.ReadFile(filepath.Join(two, "checkpoint-2", fmt.Sprintf("rng_state_%d.json", rank)))
		if err != nil || json.Unmarshal(b, &st) != nil || st.Rank != rank || st.WorldSize != 2 || st.ShardOffset != 2*rank {
			t.Errorf("rng_state_%d.json: %v: %s", rank, err, b)
		}
	}
	// Without rank 1's file (the state a crash between rank 0's rename and
	// rank 1's write could leave before every rank's file went in ahead of
	// the rename), resuming is refused, naming the file.
	broken := filepath.Join(t.TempDir(), "checkpoint-2")
	if err := os.CopyFS(broken, os.DirFS(filepath.Join(two, "checkpoint-2"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(broken, "rng_state_1.json")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "", ddpArgs(t, t.TempDir(), 4, "--resume-from-checkpoint", broken)...); code == 0 || !strings.Contains(stderr, "rng_state_1.json is missing") {
		t.Errorf("resume without rng_state_1.json: exit %d: %s", code, stderr)
	}
	// Resumed in one process with the per-device batch of the ranks and
	// twice the accumulation (another world size, the same global batch):
	// the same rows in each step, the same losses and weights.
	resumed = t.TempDir()
	if _, stderr, code := run(t, "", ddpArgs(t, resumed, 2, "--gradient-accumulation-steps", "4", "--resume-from-checkpoint", filepath.Join(two, "checkpoint-2"))...); code != 0 {
		t.Fatalf("resume in one process with batch 2: exit %d: %s", code, stderr)
	}
	compareRuns(t, one, resumed)
	// A global batch of other rows is refused.
	if _, stderr, code := run(t, "", ddpArgs(t, t.TempDir(), 2, "--resume-from-checkpoint", filepath.Join(two, "checkpoint-2"))...); code == 0 || !strings.Contains(stderr, "took 8 rows") {
		t.Errorf("resume with half the global batch: exit %d: %s", code, stderr)
	}
}

// compareRuns checks that the runs in directories one and two logged the
// same losses and ended with the same weights.
func compareRuns(t *testing.T, one, two string) {
	t.Helper()
	a, b := readLog(t, one), readLog(t, two)
	if len(a.loss) != 3 || len(b.loss) != 3 || len(a.eval) != 1 || len(b.eval) != 1 {
		t.Fatalf("log entries: one process %+v, two ranks %+v", a, b)
	}
	for i := range a.loss {
		if rel := math.Abs(a.loss[i]-b.loss[i]) / math.Abs(a.loss[i]); rel > 1e-5 {
			t.Errorf("step %d: loss %.8f (one process) vs %.8f (two ranks), relative %.2g", i+1, a.loss[i], b.loss[i], rel)
		}
	}
	if rel := math.Abs(a.eval[0]-b.eval[0]) / a.eval[0]; rel > 1e-5 {
		t.Errorf("eval loss %.8f vs %.8f", a.eval[0], b.eval[0])
	}
	wa, wb := readWeights(t, one), readWeights(t, two)
	worst, name := 0.0, ""
	for n, x := range wa {
		y := wb[n]
		if len(x) != len(y) {
			t.Fatalf("%s: %d vs %d values", n, len(x), len(y))
		}
		for i := range x {
			if d := math.Abs(float64(x[i] - y[i])); d > worst {
				worst, name = d, n
			}
		}
	}
	t.Logf("losses %v vs %v; largest weight difference %.3g (%s)", a.loss, b.loss, worst, name)
	// AdamW divides each gradient element by its own running scale, so an
	// element whose gradient is at rounding level (its sum taken in another
	// order by the all-reduce) can move by a good part of lr (1e-3) either
	// way: a tenth of lr bounds that noise; a wrong row or a missing
	// gradient moves weights by whole multiples of lr.
	if worst > 1e-4 {
		t.Errorf("final weights differ by up to %.3g (%s)", worst, name)
	}
}

func readWeights(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	out := map[string][]float32{}
	for _, ti := range ck.Tensors() {
		if out[ti.Name], err = ck.ReadFloat32(ti.Name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Killing one rank ends the other and the launcher, non-zero, in bounded
// time, leaving no process behind.
func TestDataParallelRankKilled(t *testing.T) {
	out := t.TempDir()
	args := append(ddpArgs(t, out, 2, "--nproc-per-node", "2", "--ddp-timeout", "30s"), "--max-steps", "100000", "--eval-strategy", "no")
	for i, a := range args {
		if a == "--quiet" { // rank 0's step logs tell when training runs
			args = append(args[:i:i], args[i+1:]...)
			break
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCLI+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	started := regexp.MustCompile(`started rank (\d) of 2 \(pid (\d+)\)`)
	pids := map[string]int{}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log strings.Builder
	deadline := time.After(5 * time.Minute)
	killed := false
	var exited chan error
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				exited = make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				continue
			}
			log.WriteString(l + "\n")
			if m := started.FindStringSubmatch(l); m != nil {
				pids[m[1]], _ = strconv.Atoi(m[2])
			}
			if !killed && strings.Contains(l, `"message":"train"`) && pids["1"] > 0 {
				if err := syscall.Kill(pids["1"], syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				deadline = time.After(90 * time.Second) // the c10d error or the launcher's SIGTERM ends rank 0 well before
			}
		case err := <-exited:
			var ee *exec.ExitError
			if !killed || !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("launcher: %v (killed %v)\n%s", err, killed, log.String())
			}
			if !strings.Contains(log.String(), "rank failed: rank") {
				t.Errorf("no clear error:\n%s", log.String())
			}
			for r, pid := range pids {
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("rank %s (pid %d) still there: %v", r, pid, err)
				}
			}
			return
		case <-deadline:
			t.Fatalf("no exit in time (killed %v):\n%s", killed, log.String())
		}
	}
}

// A rank whose master never answers logs that it waits and fails after
// --ddp-timeout naming the address and port.
func TestDataParallelUnreachableMaster(t *testing.T) {
	port := freePort(t)
	for k, v := range map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": strconv.Itoa(port)} {
		t.Setenv(k, v)
	}
	start := time.Now()
	_, stderr, code := run(t, "", ddpArgs(t, t.TempDir(), 2, "--ddp-timeout", "3s")...)
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("cannot reach the master at 127.0.0.1:%d within 3s", port)) ||
		!strings.Contains(stderr, "still waiting for the rendezvous") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if took := time.Since(start); took > 60*time.Second {
		t.Errorf("took %v", took)
	}
}

// Ranks started with different arguments refuse to train, all of them
// saying what differs.
func TestDataParallelMismatch(t *testing.T) {
	port := freePort(t)
	out := t.TempDir()
	var cmds []*exec.Cmd
	var logs []*strings.Builder
	for r, lr := range []string{"1e-3", "2e-3"} {
		c := exec.Command(os.Args[0], ddpArgs(t, out, 2, "--learning-rate", lr, "--ddp-timeout", "60s")...)
		c.Env = append(os.Environ(), asCLI+"=1", "RANK="+strconv.Itoa(r), "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port))
		var b strings.Builder
		c.Stderr = &b
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, logs = append(cmds, c), append(logs, &b)
	}
	for r, c := range cmds {
		err := c.Wait()
		if err == nil || !strings.Contains(logs[r].String(), "rank 1 and rank 0 ranks disagree on arguments") {
			t.Errorf("rank %d: %v\n%s", r, err, logs[r].String())
		}
	}
}

// The same run under torchrun (torch.distributed's launcher, with its own
// agent store that every rank joins as a client): set GOLAMINI_TORCHRUN to a
// torchrun executable (e.g. ~/.cache/golamini/venv-ref5/bin/torchrun); not
// part of make test, which installs no torch.
func TestDataParallelUnderTorchrun(t *testing.T) {
	torchrun := os.Getenv("GOLAMINI_TORCHRUN")
	if torchrun == "" {
		t.Skip("GOLAMINI_TORCHRUN is not set (path to torchrun)")
	}
	t.Setenv(asCLI, "1")
	one, two := t.TempDir(), t.TempDir()
	if _, stderr, code := run(t, "", ddpArgs(t, one, 4)...); code != 0 {
		t.Fatalf("one process: exit %d: %s", code, stderr)
	}
	args := append([]string{"--no-python", "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", strconv.Itoa(freePort(t)), os.Args[0]},
		ddpArgs(t, two, 2)...)
	c := exec.Command(torchrun, args...)
	c.Env = append(os.Environ(), "GOLAMINI_OWN_STORE=1") // torchrun's agent store may be newer than libtorch 2.1's client
	b, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("torchrun: %v\n%s", err, b)
	}
	compareRuns(t, one, two)
}
