package data

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
)

// TestSamplerMatchesReference compares epoch orders with the goldens made
// by HF transformers' get_length_grouped_indices fed numpy's
// default_rng([seed, epoch]).permutation(n).
func TestSamplerMatchesReference(t *testing.T) {
	g := loadNumpyGoldens(t)
	if len(g.Sampler) == 0 {
		t.Fatal("no sampler goldens")
	}
	for i, c := range g.Sampler {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s, err := NewSampler(c.Lengths, SamplerOptions{BatchSize: c.BatchSize, Shuffle: c.Shuffle, Seed: c.Seed,
				GroupByLength: c.GroupByLength, MegaBatchMult: c.MegaBatchMult})
			if err != nil {
				t.Fatal(err)
			}
			for e, want := range c.Epochs {
				if got := s.EpochBatches(e); !reflect.DeepEqual(got, want) {
					t.Errorf("epoch %d batches differ from the reference:\n got %v\nwant %v", e, got, want)
				}
				for b := range want {
					if got := s.Next(); !reflect.DeepEqual(got, want[b]) {
						t.Fatalf("Next at epoch %d batch %d = %v, want %v", e, b, got, want[b])
					}
				}
			}
		})
	}
}

func synthLengths(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1 + (i*7919+i*i*31)%300
	}
	return out
}

func TestSamplerCoversEveryRowOnce(t *testing.T) {
	lengths := synthLengths(103)
	for _, o := range []SamplerOptions{
		{BatchSize: 1, Shuffle: true, Seed: 1},
		{BatchSize: 8, Shuffle: true, Seed: 1},
		{BatchSize: 8, Shuffle: true, Seed: 1, GroupByLength: true},
		{BatchSize: 10, Shuffle: false, GroupByLength: true},
		{BatchSize: 200},
	} {
		s, err := NewSampler(lengths, o)
		if err != nil {
			t.Fatal(err)
		}
		want := (103 + o.BatchSize - 1) / o.BatchSize
		for e := 0; e < 3; e++ {
			batches := s.EpochBatches(e)
			if len(batches) != want || s.BatchesPerEpoch() != want {
				t.Fatalf("%+v: %d batches, want %d", o, len(batches), want)
			}
			var all []int
			for i, b := range batches {
				if i < len(batches)-1 && len(b) != o.BatchSize {
					t.Fatalf("%+v: batch %d has %d rows", o, i, len(b))
				}
				all = append(all, b...)
			}
			sort.Ints(all)
			for i, v := range all {
				if v != i {
					t.Fatalf("%+v epoch %d: rows are not a permutation", o, e)
				}
			}
		}
	}
}

func TestSamplerDeterminism(t *testing.T) {
	lengths := synthLengths(50)
	o := SamplerOptions{BatchSize: 4, Shuffle: true, Seed: 9, GroupByLength: true}
	a, _ := NewSampler(lengths, o)
	b, _ := NewSampler(lengths, o)
	if !reflect.DeepEqual(a.EpochOrder(0), b.EpochOrder(0)) {
		t.Fatal("same seed, different order")
	}
	if reflect.DeepEqual(a.EpochOrder(0), a.EpochOrder(1)) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	o.Seed = 10
	c, _ := NewSampler(lengths, o)
	if reflect.DeepEqual(a.EpochOrder(0), c.EpochOrder(0)) {
		t.Fatal("seeds 9 and 10 give the same order")
	}
	seq, _ := NewSampler(lengths, SamplerOptions{BatchSize: 4})
	if got := seq.Next(); !reflect.DeepEqual(got, []int{0, 1, 2, 3}) {
		t.Fatalf("unshuffled first batch %v", got)
	}
}

func TestSamplerResumeFromState(t *testing.T) {
	lengths := synthLengths(37)
	o := SamplerOptions{BatchSize: 4, Shuffle: true, Seed: 123, GroupByLength: true}
	per := (37 + 3) / 4
	for _, stop := range []int{0, 1, per - 1, per, per + 3, 3*per + 2} {
		ref, _ := NewSampler(lengths, o)
		var want [][]int
		for i := 0; i < stop+2*per; i++ {
			want = append(want, ref.Next())
		}
		run, _ := NewSampler(lengths, o)
		for i := 0; i < stop; i++ {
			run.Next()
		}
		blob, err := json.Marshal(run.State())
		if err != nil {
			t.Fatal(err)
		}
		var st SamplerState
		if err := json.Unmarshal(blob, &st); err != nil {
			t.Fatal(err)
		}
		if st.Epoch != stop/per || st.Batch != stop%per {
			t.Fatalf("state after %d batches: %+v", stop, st)
		}
		resumed, _ := NewSampler(lengths, o)
		if err := resumed.Restore(st); err != nil {
			t.Fatal(err)
		}
		for i := stop; i < len(want); i++ {
			if got := resumed.Next(); !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("resumed at %d (%s): batch %d = %v, want %v", stop, blob, i, got, want[i])
			}
		}
	}
}

func TestSamplerRestoreRejectsMismatch(t *testing.T) {
	o := SamplerOptions{BatchSize: 4, Shuffle: true, Seed: 1}
	s, _ := NewSampler(synthLengths(20), o)
	st := s.State()
	other, _ := NewSampler(synthLengths(21), o)
	if err := other.Restore(st); err == nil {
		t.Error("different row count accepted")
	}
	o.Seed = 2
	other, _ = NewSampler(synthLengths(20), o)
	if err := other.Restore(st); err == nil {
		t.Error("different seed accepted")
	}
	bad := st
	bad.Batch = 5
	if err := s.Restore(bad); err == nil {
		t.Error("batch past the epoch accepted")
	}
	if _, err := NewSampler(nil, o); err == nil {
		t.Error("no rows accepted")
	}
	if _, err := NewSampler([]int{1}, SamplerOptions{}); err == nil {
		t.Error("batch size 0 accepted")
	}
}

// padFraction returns the share of padding when each epoch batch is padded
// to its longest row.
func padFraction(lengths []int, batches [][]int) float64 {
	total, pad := 0, 0
	for _, b := range batches {
		longest := 0
		for _, i := range b {
			longest = max(longest, lengths[i])
		}
		for _, i := range b {
			total += longest
			pad += longest - lengths[i]
		}
	}
	return float64(pad) / float64(total)
}

func TestLengthGroupingReducesPadding(t *testing.T) {
	lengths := synthLengths(1000)
	measurePadding(t, "synthetic lengths", lengths, 0.05, 0.25)
}

// TestLengthGroupingOnLaminiDocs measures padding on lamini_docs with byte
// lengths of question+answer (a stand-in for token lengths).
func TestLengthGroupingOnLaminiDocs(t *testing.T) {
	dir := sharedData(t)
	ex, _, err := ReadJSONLines(filepath.Join(dir, "lamini_docs_train.jsonl"), "question", "answer")
	if err != nil {
		t.Fatal(err)
	}
	lengths := make([]int, len(ex))
	for i, e := range ex {
		lengths[i] = len(e.Input) + len(e.Output)
	}
	measurePadding(t, "lamini_docs train, byte lengths", lengths, 0.15, 0.25)
}

func measurePadding(t *testing.T, what string, lengths []int, maxGrouped, minRandom float64) {
	t.Helper()
	longest, sum := 0, 0
	for _, l := range lengths {
		longest = max(longest, l)
		sum += l
	}
	t.Logf("%s: padding every row to the longest (%d) would be %.1f%% padding", what, longest, 100*(1-float64(sum)/float64(longest*len(lengths))))
	for _, bs := range []int{4, 8} {
		random, _ := NewSampler(lengths, SamplerOptions{BatchSize: bs, Shuffle: true, Seed: 42})
		grouped, _ := NewSampler(lengths, SamplerOptions{BatchSize: bs, Shuffle: true, Seed: 42, GroupByLength: true})
		pr := padFraction(lengths, random.EpochBatches(0))
		pg := padFraction(lengths, grouped.EpochBatches(0))
		t.Logf("%s, batch %d: padding %.1f%% shuffled, %.1f%% length-grouped", what, bs, 100*pr, 100*pg)
		if pg > maxGrouped || pr < minRandom || pg >= pr {
			t.Errorf("batch %d: padding %.3f grouped vs %.3f shuffled; want grouped ≤ %.2f and shuffled ≥ %.2f", bs, pg, pr, maxGrouped, minRandom)
		}
	}
}

// With one row per batch, grouping by length saves no padding and leaves
// the order alone: file order without shuffling, the plain permutation with.
func TestGroupByLengthKeepsOrderAtBatchSizeOne(t *testing.T) {
	lengths := []int{3, 9, 1, 7, 7, 2, 12, 5}
	for _, shuffle := range []bool{false, true} {
		plain, _ := NewSampler(lengths, SamplerOptions{BatchSize: 1, Shuffle: shuffle, Seed: 5})
		grouped, _ := NewSampler(lengths, SamplerOptions{BatchSize: 1, Shuffle: shuffle, Seed: 5, GroupByLength: true})
		for e := 0; e < 3; e++ {
			if got, want := grouped.EpochOrder(e), plain.EpochOrder(e); !reflect.DeepEqual(got, want) {
				t.Errorf("shuffle=%v epoch %d: grouped order %v, want %v", shuffle, e, got, want)
			}
		}
	}
}

// A position saved with one batch size restores into another (a run
// resumed with another world size) at the same row of the same epoch, and
// the rows that follow are the same, with length grouping too; off a batch
// boundary it is refused.
func TestSamplerRestoreOtherBatchSize(t *testing.T) {
	for _, group := range []bool{false, true} {
		restoreOtherBatchSize(t, group)
	}
}

func restoreOtherBatchSize(t *testing.T, group bool) {
	o := SamplerOptions{BatchSize: 4, Shuffle: true, Seed: 3, GroupByLength: group}
	s, _ := NewSampler(synthLengths(30), o)
	for range 7 { // row 28 of epoch 0 (8 batches of 4)
		s.Next()
	}
	st := s.State()
	var want []int
	for range 3 {
		want = append(want, s.Next()...)
	}
	o.BatchSize = 2
	small, _ := NewSampler(synthLengths(30), o) // by default, megabatches of another size
	if err := small.Restore(st); err != nil {
		t.Fatal(err)
	}
	var got []int
	for len(got) < len(want) {
		got = append(got, small.Next()...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("group_by_length %v: rows after restoring with batches of 2: %v, want %v", group, got, want)
	}
	o.BatchSize = 8
	big, _ := NewSampler(synthLengths(30), o)
	if err := big.Restore(st); err == nil {
		t.Error("a position off the batch boundary accepted") // row 28 of batches of 8
	}
}
