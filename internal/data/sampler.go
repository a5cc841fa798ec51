package data

import (
	"fmt"
	"sort"
)

// SamplerOptions controls how a Sampler orders rows into batches.
type SamplerOptions struct {
	// BatchSize is the number of rows per batch (≥ 1). The last batch of an
	// epoch holds the remainder: nothing is dropped.
	BatchSize int
	// Shuffle draws a new order every epoch; false keeps the rows' order.
	Shuffle bool
	// Seed makes the order reproducible: epoch e's order is numpy's
	// default_rng([Seed, e]).permutation(n).
	Seed uint64
	// GroupByLength puts rows of similar length in the same batch, as HF's
	// group_by_length (LengthGroupedSampler) does: the epoch's order is cut
	// into megabatches of MegaBatchMult*BatchSize rows, each sorted by
	// length, longest first (ties keep their order), and the longest row
	// of all is swapped to the front so a memory error shows up at once.
	// Batches then pad far less. Without Shuffle the megabatches are cut
	// from the rows' own order. With BatchSize 1 there is no padding to
	// save and grouping leaves the order alone.
	GroupByLength bool
	// MegaBatchMult is the number of batches per megabatch; 0 means HF's
	// default min(n/(4*BatchSize), 50), at least 1.
	MegaBatchMult int
}

// DefaultSamplerOptions returns batch size 1 with shuffling, seed 42 (HF's
// TrainingArguments seed) and no length grouping.
func DefaultSamplerOptions() SamplerOptions {
	return SamplerOptions{BatchSize: 1, Shuffle: true, Seed: 42}
}

// SamplerState is a Sampler's position: the batch that Next returns next.
// It is small and JSON-serialisable, for checkpoints; Restore checks that
// the sampler it is given was built for the same rows and options.
type SamplerState struct {
	Epoch         int    `json:"epoch"`
	Batch         int    `json:"batch"`
	Seed          uint64 `json:"seed"`
	Rows          int    `json:"rows"`
	BatchSize     int    `json:"batch_size"`
	Shuffle       bool   `json:"shuffle"`
	GroupByLength bool   `json:"group_by_length"`
	MegaBatchMult int    `json:"mega_batch_mult"`
}

// Sampler yields batches of row indices, epoch after epoch. The order of
// an epoch is a pure function of the rows' lengths, the options and the
// epoch number, so a sampler restored from its State continues exactly as
// the original would have. It is not safe for concurrent use.
type Sampler struct {
	lengths []int
	opts    SamplerOptions
	epoch   int
	batch   int
	order   []int // order of the current epoch
	ordered int   // epoch that order belongs to, -1 for none
}

// NewSampler returns a sampler over rows with the given lengths (token
// counts; only used when grouping by length), positioned at epoch 0,
// batch 0.
func NewSampler(lengths []int, opts SamplerOptions) (*Sampler, error) {
	if len(lengths) == 0 {
		return nil, fmt.Errorf("data: sampler: no rows")
	}
	if opts.BatchSize < 1 {
		return nil, fmt.Errorf("data: sampler: batch size %d must be at least 1", opts.BatchSize)
	}
	if opts.MegaBatchMult < 0 {
		return nil, fmt.Errorf("data: sampler: megabatch multiple %d is negative", opts.MegaBatchMult)
	}
	if opts.MegaBatchMult == 0 {
		opts.MegaBatchMult = max(1, min(len(lengths)/(opts.BatchSize*4), 50))
	}
	return &Sampler{lengths: append([]int(nil), lengths...), opts: opts, ordered: -1}, nil
}

// BatchesPerEpoch returns ceil(rows / batch size).
func (s *Sampler) BatchesPerEpoch() int {
	return (len(s.lengths) + s.opts.BatchSize - 1) / s.opts.BatchSize
}

// Next returns the next batch's row indices (a new slice) and moves on,
// into the next epoch after the last batch of one.
func (s *Sampler) Next() []int {
	if s.ordered != s.epoch {
		s.order = s.EpochOrder(s.epoch)
		s.ordered = s.epoch
	}
	lo := s.batch * s.opts.BatchSize
	hi := min(lo+s.opts.BatchSize, len(s.order))
	out := append([]int(nil), s.order[lo:hi]...)
	s.batch++
	if s.batch == s.BatchesPerEpoch() {
		s.epoch++
		s.batch = 0
	}
	return out
}

// State returns the position of the batch Next returns next.
func (s *Sampler) State() SamplerState {
	return SamplerState{
		Epoch: s.epoch, Batch: s.batch, Seed: s.opts.Seed, Rows: len(s.lengths),
		BatchSize: s.opts.BatchSize, Shuffle: s.opts.Shuffle,
		GroupByLength: s.opts.GroupByLength, MegaBatchMult: s.opts.MegaBatchMult,
	}
}

// Restore moves the sampler to a saved position. The state must come from
// a sampler with the same number of rows and the same options, except that
// the batch size may differ (a run resumed with another world size or
// per-device batch): the position moves to the same row of the same epoch,
// which must start a batch of this sampler. An epoch's row order does not
// depend on the batch size, except through GroupByLength's megabatches of
// MegaBatchMult batches: this sampler then takes the saved megabatches'
// size in rows, which must be a whole number of its batches.
func (s *Sampler) Restore(st SamplerState) error {
	cur := s.State()
	if st.BatchSize != cur.BatchSize && st.BatchSize > 0 && st.GroupByLength == cur.GroupByLength {
		row := st.Batch * st.BatchSize
		if row%cur.BatchSize != 0 {
			return fmt.Errorf("data: sampler state at row %d of epoch %d (batches of %d) is not at a batch boundary of batches of %d", row, st.Epoch, st.BatchSize, cur.BatchSize)
		}
		if cur.GroupByLength {
			rows := st.MegaBatchMult * st.BatchSize
			if rows%cur.BatchSize != 0 {
				return fmt.Errorf("data: sampler state groups rows by length in megabatches of %d rows, not a whole number of batches of %d", rows, cur.BatchSize)
			}
			s.opts.MegaBatchMult = rows / cur.BatchSize
			s.ordered = -1
		}
		st.Batch, st.BatchSize, st.MegaBatchMult = row/cur.BatchSize, cur.BatchSize, s.opts.MegaBatchMult
		cur = s.State()
	}
	cur.Epoch, cur.Batch = st.Epoch, st.Batch
	if cur != st {
		return fmt.Errorf("data: sampler state %+v does not fit this sampler (%+v): the data or batching options changed", st, cur)
	}
	if st.Epoch < 0 || st.Batch < 0 || st.Batch >= s.BatchesPerEpoch() {
		return fmt.Errorf("data: sampler state at epoch %d batch %d is out of range (%d batches per epoch)", st.Epoch, st.Batch, s.BatchesPerEpoch())
	}
	s.epoch, s.batch = st.Epoch, st.Batch
	return nil
}

// EpochOrder returns the row order of an epoch (every row once).
func (s *Sampler) EpochOrder(epoch int) []int {
	n := len(s.lengths)
	var order []int
	if s.opts.Shuffle {
		order = Permutation(n, s.opts.Seed, uint64(epoch))
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	if s.opts.GroupByLength && s.opts.BatchSize > 1 {
		s.groupByLength(order)
	}
	return order
}

// EpochBatches returns an epoch's batches.
func (s *Sampler) EpochBatches(epoch int) [][]int {
	order := s.EpochOrder(epoch)
	out := make([][]int, 0, s.BatchesPerEpoch())
	for lo := 0; lo < len(order); lo += s.opts.BatchSize {
		out = append(out, order[lo:min(lo+s.opts.BatchSize, len(order))])
	}
	return out
}

// groupByLength sorts each megabatch of order in place by length, longest
// first, then swaps the longest row overall to the front (HF's
// get_length_grouped_indices).
func (s *Sampler) groupByLength(order []int) {
	size := s.opts.MegaBatchMult * s.opts.BatchSize
	best, bestLen := 0, -1 // megabatch start holding the longest first row
	for lo := 0; lo < len(order); lo += size {
		mb := order[lo:min(lo+size, len(order))]
		sort.SliceStable(mb, func(a, b int) bool { return s.lengths[mb[a]] > s.lengths[mb[b]] })
		if l := s.lengths[mb[0]]; l > bestLen {
			best, bestLen = lo, l
		}
	}
	order[0], order[best] = order[best], order[0]
}
