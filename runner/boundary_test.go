package runner

import (
	"context"
	"math"
	"strings"
	"testing"
)

// LogLikelihood at and past the model's context (128 tokens for tiny-seq):
// the joined ids are cut to context+1 and the model reads all but the last,
// as lm-evaluation-harness does; the result is what scoring those ids gives.
func TestLogLikelihoodAtContextBoundary(t *testing.T) {
	r := newTiny(t)
	ctx := context.Background()
	n := r.Config().ContextLength
	cont := " the end"
	contIDs := r.tok.Encode(cont)
	seen := map[string]bool{}
	for k := n - 12; k < n+40; k++ {
		context_ := strings.Repeat("word ", k) + "word"
		ctxIDs := r.tok.Encode(context_)
		all := append(append([]int{}, ctxIDs...), contIDs...)
		total := len(all)
		switch {
		case total <= n:
			seen["inside"] = true
		case total == n+1:
			seen["context+1"] = true
		default:
			seen["past"] = true
		}
		ll, _, err := r.LogLikelihood(ctx, context_, cont)
		if err != nil {
			t.Fatalf("%d tokens (context %d): %v", total, n, err)
		}
		keep := all[max(0, len(all)-(n+1)):]
		lp, err := r.TokenLogProbs(ctx, keep)
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for _, v := range lp[len(lp)-len(contIDs):] {
			want += v
		}
		if math.Abs(ll-want) > 1e-9 || math.IsNaN(ll) {
			t.Errorf("%d tokens: loglikelihood %v, scoring the last %d ids gives %v", total, ll, len(keep), want)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("cases covered %v, want inside, context+1 and past the context", seen)
	}
	// Reading ids[:n] is causal: the first positions of a context+1 score
	// equal those of a shorter one.
	ids := make([]int, n+1)
	for i := range ids {
		ids[i] = (i*37 + 11) % r.Config().VocabSize
	}
	long, err := r.TokenLogProbs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	short, err := r.TokenLogProbs(ctx, ids[:n/2])
	if err != nil {
		t.Fatal(err)
	}
	for i := range short {
		if math.Abs(long[i]-short[i]) > 1e-4 {
			t.Fatalf("position %d: %v with %d ids, %v with %d", i, long[i], len(ids), short[i], n/2)
		}
	}
	if _, err := r.TokenLogProbs(ctx, append(ids, 1)); err == nil {
		t.Error("context+2 ids: no error")
	}
}

// InferStream's pieces and result stop before the first stop string, and
// text that might begin one is held back until it is known not to.
func TestInferStreamCutsAtStopStrings(t *testing.T) {
	r := newTiny(t)
	ctx := context.Background()
	o := DefaultGenerateOptions()
	o.MaxNewTokens, o.StopAtEOS = 24, false
	full, err := r.InferStream(ctx, "Hello", o, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 6 {
		t.Skipf("the tiny model generated only %q", full)
	}
	// A stop string from the middle of the text the model produces.
	stop := full[len(full)/2 : len(full)/2+3]
	o.StopStrings = []string{stop}
	var pieces []string
	got, err := r.InferStream(ctx, "Hello", o, func(p string) bool { pieces = append(pieces, p); return true })
	if err != nil {
		t.Fatal(err)
	}
	want := full[:strings.Index(full, stop)]
	if got != want || strings.Join(pieces, "") != want {
		t.Errorf("stop %q: returned %q, streamed %q; want %q", stop, got, strings.Join(pieces, ""), want)
	}
	g, err := r.Generate(ctx, []string{"Hello"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(g[0].Text, stop) {
		t.Errorf("Generate kept the stop string: %q", g[0].Text)
	}
}
