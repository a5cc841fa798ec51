package data

import (
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"testing"
)

type numpyGoldens struct {
	NumpyVersion string `json:"numpy_version"`
	SeedSequence []struct {
		Entropy  []string `json:"entropy"`
		Pool     []uint32 `json:"pool"`
		State32  []uint32 `json:"state32"`
		PCGState string   `json:"pcg_state"`
		PCGInc   string   `json:"pcg_inc"`
		Raw64    []string `json:"raw64"`
	} `json:"seed_sequence"`
	Permutation []struct {
		N       int      `json:"n"`
		Entropy []string `json:"entropy"`
		Perm    []int    `json:"perm"`
	} `json:"permutation"`
	Split []struct {
		N            int     `json:"n"`
		TestFraction float64 `json:"test_fraction"`
		Seed         uint64  `json:"seed"`
		Test         []int   `json:"test"`
		Train        []int   `json:"train"`
	} `json:"split"`
	Sampler []struct {
		Lengths       []int     `json:"lengths"`
		BatchSize     int       `json:"batch_size"`
		Seed          uint64    `json:"seed"`
		Shuffle       bool      `json:"shuffle"`
		GroupByLength bool      `json:"group_by_length"`
		MegaBatchMult int       `json:"mega_batch_mult"`
		Epochs        [][][]int `json:"epochs"`
	} `json:"sampler"`
}

func loadNumpyGoldens(t *testing.T) numpyGoldens {
	t.Helper()
	var g numpyGoldens
	loadJSON(t, testdataPath(t, "numpy_goldens.json"), &g)
	if len(g.Permutation) == 0 || len(g.SeedSequence) == 0 {
		t.Fatal("numpy goldens are empty")
	}
	return g
}

func parseEntropy(t *testing.T, ss []string) []uint64 {
	t.Helper()
	out := make([]uint64, len(ss))
	for i, s := range ss {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func TestSeedSequenceAndPCG64MatchNumpy(t *testing.T) {
	g := loadNumpyGoldens(t)
	for _, c := range g.SeedSequence {
		t.Run(fmt.Sprint(c.Entropy), func(t *testing.T) {
			ent := parseEntropy(t, c.Entropy)
			ss := newSeedSequence(entropyWords(ent...))
			if !reflect.DeepEqual(ss.pool[:], c.Pool) {
				t.Errorf("pool = %v, numpy %v", ss.pool, c.Pool)
			}
			if got := ss.state32(8); !reflect.DeepEqual(got, c.State32) {
				t.Errorf("generate_state(8) = %v, numpy %v", got, c.State32)
			}
			p := newPCG64(ent...)
			if got := fmt.Sprintf("%016x%016x", p.hi, p.lo); got != c.PCGState {
				t.Errorf("state = %s, numpy %s", got, c.PCGState)
			}
			if got := fmt.Sprintf("%016x%016x", p.incHi, p.incLo); got != c.PCGInc {
				t.Errorf("inc = %s, numpy %s", got, c.PCGInc)
			}
			for i, want := range c.Raw64 {
				w, ok := new(big.Int).SetString(want, 10)
				if !ok {
					t.Fatalf("bad golden %q", want)
				}
				if got := p.next64(); got != w.Uint64() {
					t.Errorf("random_raw[%d] = %d, numpy %s", i, got, want)
				}
			}
		})
	}
}

func TestPermutationMatchesNumpy(t *testing.T) {
	g := loadNumpyGoldens(t)
	for _, c := range g.Permutation {
		ent := parseEntropy(t, c.Entropy)
		got := Permutation(c.N, ent...)
		want := c.Perm
		if want == nil {
			want = []int{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Permutation(%d, %v) differs from numpy %s: got %v..., want %v...", c.N, ent, g.NumpyVersion, head(got), head(want))
		}
	}
}

func head(xs []int) []int {
	if len(xs) > 12 {
		return xs[:12]
	}
	return xs
}

func TestIntervalStaysInRange(t *testing.T) {
	p := newPCG64(5)
	for _, max := range []uint64{1, 2, 3, 7, 8, 1000, 1<<32 - 1, 1 << 32, 1<<40 + 3, 1<<64 - 1} {
		for i := 0; i < 200; i++ {
			if v := p.interval(max); v > max {
				t.Fatalf("interval(%d) = %d", max, v)
			}
		}
	}
}
