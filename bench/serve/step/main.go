// Command step times the batched decoding step that `golamini serve` runs
// for its continuous batch: one Forward over B rows of a shared KV cache,
// each row at its own length (model.Pass.RowLens), then Greedy (the screened
// argmax of the output projection). It prints the milliseconds per step and
// per row for B = 1 and each -rows, so the cost of batching is seen without
// HTTP, tokenizing or the load generator sharing the CPU.
//
//	go run ./bench/serve/step [-model DIR] [-rows 4,16] [-steps 100]
//
// Without -model it uses a random-weight pythia-70m-shaped model, as
// bench/serve/run.sh does.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

type result struct {
	Rows       int     `json:"rows"`
	Steps      int     `json:"steps"`
	StepMsMin  float64 `json:"step_ms_min"`
	StepMsP10  float64 `json:"step_ms_p10"`
	StepMsP50  float64 `json:"step_ms_p50"`
	StepMsP90  float64 `json:"step_ms_p90"`
	RowMsP50   float64 `json:"row_ms_p50"`
	TokensPerS float64 `json:"tokens_per_s"`
}

func main() {
	dir := flag.String("model", "", "model directory (default: random pythia-70m shape)")
	rowsFlag := flag.String("rows", "1,4,16", "batch sizes, comma-separated")
	steps := flag.Int("steps", 100, "timed steps per batch size (after 5 untimed)")
	start := flag.Int("len", 12, "cache length of row 0 at the first step; row i starts 5·i longer")
	newTokens := flag.Int("new", 64, "steps after which each row starts over at its first length (bench/serve/run.sh generates 64 tokens per request)")
	flag.Parse()
	var rows []int
	for _, f := range strings.Split(*rowsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "step: -rows: %q is not a positive integer\n", f)
			os.Exit(2)
		}
		rows = append(rows, n)
	}
	err := torch.Do(context.Background(), func() error {
		defer torch.NoGrad()()
		// As the server's decoding steps: libtorch's own threads off, the
		// products spread by torch.RowLinear's helpers.
		if err := torch.SetNumThreads(1); err != nil {
			return err
		}
		var m *model.Model
		var err error
		if *dir != "" {
			m, err = model.Load(context.Background(), *dir, model.DefaultLoadOptions())
		} else {
			m, err = model.NewRandom(model.Pythia70M(), model.DefaultLoadOptions(), 1)
		}
		if err != nil {
			return err
		}
		defer m.Free()
		for _, B := range rows {
			r, err := timeRows(m, B, *steps, int64(*start), int64(*newTokens))
			if err != nil {
				return err
			}
			if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "step:", err)
		os.Exit(1)
	}
}

// timeRows runs 5 + steps decoding steps over B rows and returns their times.
// Every newTokens steps each row starts over at its first length, as a
// request of the serving benchmark ends and the next begins.
func timeRows(m *model.Model, B, steps int, start, newTokens int64) (result, error) {
	if newTokens < 1 {
		return result{}, fmt.Errorf("-new %d: want at least 1", newTokens)
	}
	capacity := start + int64(5*B) + newTokens + 8
	big, err := m.NewCache(int64(B), capacity)
	if err != nil {
		return result{}, err
	}
	defer big.Free()
	if err := big.Zero(); err != nil { // the cached keys and values are zeros: the step's work does not depend on them
		return result{}, err
	}
	view, err := big.Rows(int64(B))
	if err != nil {
		return result{}, err
	}
	defer view.Free()
	lens := make([]int64, B)
	ids := make([]int64, B)
	for i := range lens {
		lens[i] = start + int64(5*i)
		ids[i] = int64(100 + i)
	}
	var times []float64
	for step := range 5 + steps {
		t0 := time.Now()
		s := torch.NewScope()
		pass := model.Pass{Cache: view, RowLens: lens}
		if B == 1 { // as the server does when every row has one length
			view.Len = lens[0]
			pass = model.Pass{Cache: view}
		}
		h := m.Forward(s, s.Int64(ids, int64(B), 1), pass) // [B, 1, H]
		picked, err := m.Greedy(s, h).Int64s()             // [B]
		if err == nil {
			err = s.Err()
		}
		s.Close()
		if err != nil {
			return result{}, fmt.Errorf("step %d over %d rows: %w", step, B, err)
		}
		if step >= 5 {
			times = append(times, time.Since(t0).Seconds()*1e3)
		}
		copy(ids, picked)
		for i := range lens {
			lens[i]++
			if (int64(step)+1)%newTokens == 0 {
				lens[i] = start + int64(5*i)
			}
		}
	}
	sort.Float64s(times)
	p50 := times[len(times)/2]
	return result{Rows: B, Steps: steps, StepMsMin: times[0], StepMsP10: times[len(times)/10], StepMsP50: p50,
		StepMsP90: times[len(times)*9/10], RowMsP50: p50 / float64(B),
		TokensPerS: float64(B) * 1e3 / p50}, nil
}
