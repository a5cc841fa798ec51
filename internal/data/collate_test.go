package data

import (
	"reflect"
	"testing"
)

func TestCollatePadsRight(t *testing.T) {
	rows := []Tokenized{
		{InputIDs: []int{5, 6, 7}, Labels: []int{-100, 6, 7}},
		{InputIDs: []int{8}, Labels: []int{8}},
		{InputIDs: []int{9, 0}, Labels: []int{9, 0}}, // a real EOS equal to the pad id
	}
	b := Collate(rows, 0, 0)
	want := Batch{
		InputIDs: [][]int{{5, 6, 7}, {8, 0, 0}, {9, 0, 0}},
		Labels:   [][]int{{-100, 6, 7}, {8, -100, -100}, {9, 0, -100}},
		Mask:     [][]int{{1, 1, 1}, {1, 0, 0}, {1, 1, 0}},
		// after the shift: row 0 positions 1,2; row 1 none; row 2 position 1
		Tokens: 3,
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("got  %+v\nwant %+v", b, want)
	}
	if b.Width() != 3 {
		t.Errorf("width %d", b.Width())
	}
	if got := b.PadFraction(); got != 3.0/9 {
		t.Errorf("pad fraction %v", got)
	}
	// Inputs are not aliased.
	b.InputIDs[0][0] = 99
	if rows[0].InputIDs[0] != 5 {
		t.Error("Collate aliases its input")
	}
}

func TestCollatePadToMaxLength(t *testing.T) {
	rows := []Tokenized{{InputIDs: []int{5, 6}, Labels: []int{5, 6}}}
	b := Collate(rows, 1, 5)
	want := Batch{
		InputIDs: [][]int{{5, 6, 1, 1, 1}},
		Labels:   [][]int{{5, 6, -100, -100, -100}},
		Mask:     [][]int{{1, 1, 0, 0, 0}},
		Tokens:   1,
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("got %+v, want %+v", b, want)
	}
	// padTo below the longest row never cuts.
	if got := Collate(rows, 1, 1); got.Width() != 2 {
		t.Fatalf("width %d", got.Width())
	}
	if got := Collate(nil, 0, 0); got.Width() != 0 || len(got.InputIDs) != 0 || got.Tokens != 0 {
		t.Fatalf("empty batch %+v", got)
	}
}

// TestPipelineOnBytes runs tokenize → sampler → collate and checks that
// every batch's label tokens add up to the tokenized rows' own counts.
func TestPipelineOnBytes(t *testing.T) {
	var ex []Example
	for i := 0; i < 23; i++ {
		ex = append(ex, Example{Input: string(make([]byte, 1+i%7)), Output: string(make([]byte, 1+(i*5)%11)), Row: i})
	}
	rows, err := Tokenize(ex, byteEncoder{}, TokenizeOptions{AppendEOS: true, AnswerOnlyLoss: true, TruncateLeft: true, MaxLength: 12})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range rows {
		for _, l := range r.Labels[1:] {
			if l != IgnoreIndex {
				want++
			}
		}
	}
	s, err := NewSampler(Lengths(rows), SamplerOptions{BatchSize: 4, Shuffle: true, Seed: 3, GroupByLength: true})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for b := 0; b < s.BatchesPerEpoch(); b++ {
		idx := s.Next()
		batch := make([]Tokenized, len(idx))
		for i, j := range idx {
			batch[i] = rows[j]
		}
		cb := Collate(batch, 0, 0)
		got += cb.Tokens
		if cb.Width() > 12 {
			t.Fatalf("batch wider than max length: %d", cb.Width())
		}
	}
	if got != want {
		t.Fatalf("label tokens over the epoch %d, want %d", got, want)
	}
}
