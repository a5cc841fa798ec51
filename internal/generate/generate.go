package generate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Why a row stopped.
const (
	StopLength   = "length"   // reached MaxNewTokens
	StopEOS      = "eos"      // generated EOSID
	StopString   = "stop"     // output contains a stop string
	StopCallback = "callback" // the callback asked to stop
)

// Result is the output of one prompt.
type Result struct {
	NewIDs []int  // generated ids, EOS included when it stopped there
	Reason string // StopLength, StopEOS, StopString or StopCallback
}

// Callback sees each new token of each row as it is chosen; returning false
// stops that row.
type Callback func(row, id int) bool

// Generate continues each prompt (token ids) with the model. Prompts of
// different lengths are left-padded and masked, with positions counted from
// each row's first real token, so every row gets what it would get alone.
// On cancellation it returns what was generated so far with ctx's error.
func Generate(ctx context.Context, m *model.Model, prompts [][]int, o Options, cb Callback) ([]Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(prompts) == 0 {
		return nil, errors.New("generate: no prompts")
	}
	V := m.Config.VocabSize
	B := len(prompts)
	L := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("generate: prompt %d is empty", i)
		}
		for _, id := range p {
			if id < 0 || id >= V {
				return nil, fmt.Errorf("generate: prompt %d: token id %d outside the vocabulary [0, %d)", i, id, V)
			}
		}
		L = max(L, len(p))
	}
	defer torch.NoGrad()()
	m.AdviseHugePages() // once per model: decoding streams the weights every token
	threads, err := torch.NumThreads()
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	defer torch.SetNumThreads(threads) //nolint:errcheck // restores a value libtorch gave us

	g := &state{m: m, o: &o, B: B, L: L, pad: make([]int, B), threads: threads}
	g.seqs = make([][]int, B) // padded sequences so far
	for b, p := range prompts {
		g.pad[b] = L - len(p)
		row := make([]int, L, L+o.MaxNewTokens)
		copy(row[g.pad[b]:], p)
		g.seqs[b] = row
		if g.pad[b] > 0 {
			g.padded = true
		}
	}
	if o.UseCache {
		cache, err := m.NewCache(int64(B), int64(L+o.MaxNewTokens))
		if err != nil {
			return nil, err
		}
		defer cache.Free()
		g.cache = cache
	}

	results := make([]Result, B)
	done := make([]bool, B)
	seen := make([]map[int]struct{}, B)
	for b, p := range prompts {
		if o.RepetitionPenalty != 1 {
			seen[b] = map[int]struct{}{}
			for _, id := range p {
				seen[b][id] = struct{}{}
			}
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	active := B
	for step := 0; step < o.MaxNewTokens && active > 0; step++ {
		if err := ctx.Err(); err != nil {
			return finish(results, done), err
		}
		chosen, logits, err := g.next(step)
		if err != nil {
			return nil, err
		}
		for b := 0; b < B; b++ {
			if done[b] {
				g.seqs[b] = append(g.seqs[b], 0) // keeps the batch rectangular; masked out
				continue
			}
			var id int
			if chosen != nil {
				id = int(chosen[b])
			} else {
				id = pick(logits[b*V:(b+1)*V], seen[b], &o, rng)
			}
			g.seqs[b] = append(g.seqs[b], id)
			r := &results[b]
			r.NewIDs = append(r.NewIDs, id)
			if seen[b] != nil {
				seen[b][id] = struct{}{}
			}
			stop := ""
			switch {
			case cb != nil && !cb(b, id):
				stop = StopCallback
			case o.StopAtEOS && id == o.EOSID, slices.Contains(o.StopIDs, id):
				stop = StopEOS
			case len(o.StopStrings) > 0 && containsAny(o.Decode(r.NewIDs), o.StopStrings):
				stop = StopString
			}
			if stop != "" {
				r.Reason, done[b] = stop, true
				active--
			}
		}
	}
	return finish(results, done), nil
}

func finish(rs []Result, done []bool) []Result {
	for i := range rs {
		if !done[i] && rs[i].Reason == "" {
			rs[i].Reason = StopLength
		}
	}
	return rs
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if x != "" && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// state is one batch being decoded.
type state struct {
	m      *model.Model
	o      *Options
	B, L   int
	pad    []int   // left padding per row
	padded bool    // any row padded: positions and masks needed
	seqs   [][]int // padded ids so far, per row
	cache  *model.Cache

	threads int // libtorch's intra-op threads outside decoding steps
}

// setThreads picks libtorch's intra-op thread count for a step over rows
// positions (batch × new tokens). Speed helper: a decoding step is a few
// hundred small ops plus matrix-vector products, which torch.RowLinear already
// spreads over the cores; libtorch's OpenMP team would only add barriers that
// stall whenever one of its threads is descheduled (measured on the shared
// 2-core machine: 2 threads 19–37 tokens/s, 1 thread 52–63). Steps over many
// positions (a long prompt) are GEMMs and keep all threads.
func (g *state) setThreads(rows int) error {
	n := g.threads
	if rows <= torch.RowLinearMaxRows {
		n = 1
	}
	if cur, err := torch.NumThreads(); err != nil || cur == n {
		return err
	}
	return torch.SetNumThreads(n)
}

// next runs the model on what it has not seen yet. Greedy decoding without a
// repetition penalty gets the chosen id of every row from model.Greedy (the
// argmax, first maximum as in Go's argmax and torch's, without computing all
// V logits), so 8 bytes per row come back instead of V floats; otherwise it
// returns the logits of the last position of every row, [B·V] row-major, for
// pick.
func (g *state) next(step int) (chosen []int64, logits []float32, err error) {
	s := torch.NewScope()
	defer s.Close()
	total := len(g.seqs[0])
	from := 0
	if g.cache != nil && step > 0 {
		from = total - 1
	}
	T := total - from
	if err := g.setThreads(g.B * T); err != nil {
		return nil, nil, fmt.Errorf("generate: step %d: %w", step, err)
	}
	ids := make([]int64, 0, g.B*T)
	for b := 0; b < g.B; b++ {
		for _, id := range g.seqs[b][from:] {
			ids = append(ids, int64(id))
		}
	}
	p := model.Pass{Cache: g.cache}
	if g.padded {
		p.Positions = s.Int64(g.positions(from, T), int64(g.B), int64(T)) // [B, T]
		p.Mask = g.mask(s, from, T)                                       // [B, 1, T, total]
	}
	h := g.m.Forward(s, s.Int64(ids, int64(g.B), int64(T)), p) // [B, T, H]
	last := s.Narrow(h, 1, int64(T-1), 1)                      // [B, 1, H]
	greedy := g.o.Temperature == 0 && g.o.RepetitionPenalty == 1
	var best, lg *torch.Tensor
	if greedy {
		best = g.m.Greedy(s, last) // [B]
	} else {
		lg = g.m.Logits(s, last) // [B, 1, V]
	}
	if err := s.Err(); err != nil {
		return nil, nil, fmt.Errorf("generate: step %d: %w", step, err)
	}
	if greedy {
		chosen, err = best.Int64s()
	} else {
		logits, err = lg.Float32s()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generate: step %d: %w", step, err)
	}
	return chosen, logits, nil
}

// positions counts from each row's first real token; padding gets 0.
func (g *state) positions(from, T int) []int64 {
	out := make([]int64, 0, g.B*T)
	for b := 0; b < g.B; b++ {
		for j := from; j < from+T; j++ {
			out = append(out, int64(max(0, j-g.pad[b])))
		}
	}
	return out
}

// mask lets query j attend key k when k ≤ j and k is not padding; a padding
// query attends itself only, so no softmax row is empty.
func (g *state) mask(s *torch.Scope, from, T int) *torch.Tensor {
	S := from + T
	raw := make([]byte, g.B*T*S)
	i := 0
	for b := 0; b < g.B; b++ {
		for j := from; j < from+T; j++ {
			for k := 0; k < S; k++ {
				if (k <= j && k >= g.pad[b]) || k == j {
					raw[i] = 1
				}
				i++
			}
		}
	}
	t, err := torch.FromRaw(raw, torch.Bool, int64(g.B), 1, int64(T), int64(S))
	if err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(t)
}
