package floor

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

func qwenTiny(t *testing.T) model.Config {
	t.Helper()
	c, err := model.DefaultConfigFor("qwen2")
	if err != nil {
		t.Fatal(err)
	}
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.IntermediateSize = 300, 48, 3, 6, 2, 80
	c.TieWordEmbeddings = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func neoxTiny(t *testing.T) model.Config {
	t.Helper()
	c := model.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 400, 64, 3, 4, 256
	c.UseParallelResidual = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func total(ps []Product) float64 {
	f := 0.0
	for _, p := range ps {
		f += p.FLOPs()
	}
	return f
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*want {
		t.Errorf("%s: %.0f FLOPs, want %.0f", what, got, want)
	}
}

// attention is one layer's six causal products (forward QKᵀ, P·V; backward
// dP, dV, dQ, dK) written out by hand.
func attention(B, T, heads, hd float64) float64 {
	return 6 * 2 * B * heads * hd * T * (T + 1) / 2
}

// Full training: every linear three times (forward, dX, dW), attention six
// times over the causal half, the head three times over the B·(T−1) rows
// with a target.
func TestCountFull(t *testing.T) {
	c := qwenTiny(t)
	B, T := 3.0, 20.0
	N := B * T
	ps, err := Count(c, Step{Batch: 3, Seq: 20, Mode: Full})
	if err != nil {
		t.Fatal(err)
	}
	H, I, hd := 48.0, 80.0, 8.0
	q, kv := 6*hd, 2*hd
	perLayer := 3*2*N*(H*q+2*H*kv+q*H+3*H*I) + attention(B, T, 6, hd)
	want := 3*perLayer + 3*2*B*(T-1)*H*300
	near(t, "full step", total(ps), want)
}

// LoRA on a parallel-residual GPT-NeoX: the base weights get no dW; layer
// 0's query_key_value and dense_h_to_4h read the frozen embedding through
// frozen norms, so they run no dX, and dense_4h_to_h there has no backward
// at all; the head gets dX only.
func TestCountLoRA(t *testing.T) {
	c := neoxTiny(t)
	B, T, r := 2.0, 16.0, 4.0
	N := B * T
	ps, err := Count(c, Step{Batch: 2, Seq: 16, Mode: LoRA, LoRARank: 4, LoRATargets: []string{"query_key_value", "dense"}})
	if err != nil {
		t.Fatal(err)
	}
	H, I := 64.0, 256.0
	fwd := 2 * N * (H*3*H + H*H + 2*H*I)
	dX := 2 * N * (H*3*H + H*H + 2*H*I)
	dX0 := 2 * N * H * H // layer 0: only dense (its input, attention's output, needs a gradient through the adapter)
	lora := func(in, out float64, inGrad bool) float64 {
		f := 2*N*r*(in+out) + 2*N*r*out + 2*N*out*r + 2*r*N*in
		if inGrad {
			f += 2 * N * r * in
		}
		return f
	}
	att := attention(B, T, 4, 16)
	layer0 := fwd + dX0 + lora(H, 3*H, false) + lora(H, H, true) + att
	layerN := fwd + dX + lora(H, 3*H, true) + lora(H, H, true) + att
	want := layer0 + 2*layerN + 2*2*B*(T-1)*H*400
	near(t, "LoRA step", total(ps), want)
}

// Frozen (only layer 0's input norm trained): layer 0's query_key_value
// runs dX, its MLP (parallel, behind the frozen post-attention norm) none.
func TestCountFrozen(t *testing.T) {
	c := neoxTiny(t)
	B, T := 2.0, 16.0
	N := B * T
	ps, err := Count(c, Step{Batch: 2, Seq: 16, Mode: Frozen})
	if err != nil {
		t.Fatal(err)
	}
	H, I := 64.0, 256.0
	fwd := 2 * N * (H*3*H + H*H + 2*H*I)
	att := attention(B, T, 4, 16)
	layer0 := fwd + 2*N*(H*3*H+H*H) + att
	layerN := 2*fwd + att
	near(t, "frozen step", total(ps), layer0+2*layerN+2*2*B*(T-1)*H*400)
}

// The loss head runs in golamini's chunks: a vocabulary of 2^20 floats per
// row leaves 32 rows under 128 MB and 128 under 512 MB, so 100 rows go as
// one chunk; Qwen2.5's 151,936 leave 220 rows under 128 MB, raised to 640
// (389 MB), so 2044 rows go as 4 × 511; Pythia's 50,304 leave 667 rows; at
// 2^24 floats per row the 64-row least makes 300 rows 5 × 60.
func TestHeadChunks(t *testing.T) {
	for _, c := range []struct{ rows, vocab, want int64 }{{100, 1 << 20, 100}, {2044, 151936, 511}, {2044, 50304, 511}, {300, 1 << 24, 60}} {
		if got := headChunk(c.rows, c.vocab); got != c.want {
			t.Errorf("headChunk(%d, %d) = %d, want %d", c.rows, c.vocab, got, c.want)
		}
	}
}

func TestCountErrors(t *testing.T) {
	c := neoxTiny(t)
	if _, err := Count(c, Step{Batch: 1, Seq: 8, Mode: LoRA, LoRARank: 4, LoRATargets: []string{"q_proj"}}); err == nil || !strings.Contains(err.Error(), `"q_proj"`) {
		t.Errorf("a target the model lacks: %v, want an error naming it", err)
	}
	if _, err := Count(c, Step{Batch: 1, Seq: 1}); err == nil {
		t.Error("seq 1: no error")
	}
}

// The probe times real products: every shape gets a positive rate and the
// floor is the sum of FLOPs over rates.
func TestMeasure(t *testing.T) {
	c := qwenTiny(t)
	st := Step{Batch: 2, Seq: 8, Mode: LoRA, LoRARank: 2, LoRATargets: []string{"q_proj", "v_proj"}}
	err := torch.Do(context.Background(), func() error {
		rep, err := Measure(c, st, 1)
		if err != nil {
			return err
		}
		sum := 0.0
		for _, l := range rep.Lines {
			if l.GFLOPS <= 0 || l.FloorS <= 0 {
				t.Errorf("%s %s: rate %g, floor %g s", l.Product, l.Shape, l.GFLOPS, l.FloorS)
			}
			sum += l.GFLOP / l.GFLOPS
		}
		if math.Abs(sum-rep.FloorStepS) > 1e-9*sum || rep.FloorTokensPerS != 16/rep.FloorStepS {
			t.Errorf("floor %g s, tokens/s %g; the lines sum to %g s", rep.FloorStepS, rep.FloorTokensPerS, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
