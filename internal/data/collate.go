package data

// Batch is a padded batch, row-major, ready to become tensors.
type Batch struct {
	// InputIDs holds each row's ids, padded on the right with the pad id.
	InputIDs [][]int
	// Labels holds each row's labels, -100 on padding.
	Labels [][]int
	// Mask is the attention mask: 1 on real tokens, 0 on padding.
	Mask [][]int
	// Tokens is the number of label tokens the loss counts after the
	// next-token shift: labels other than -100 at positions 1.. of each
	// row. Gradient accumulation normalises by the sum of these.
	Tokens int
}

// Width returns the padded length of the batch's rows.
func (b Batch) Width() int {
	if len(b.InputIDs) == 0 {
		return 0
	}
	return len(b.InputIDs[0])
}

// PadFraction returns the share of positions that are padding.
func (b Batch) PadFraction() float64 {
	total, pad := 0, 0
	for _, m := range b.Mask {
		for _, v := range m {
			total++
			if v == 0 {
				pad++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(pad) / float64(total)
}

// Collate pads rows on the right to a common width: the longest row's
// length, or padTo when padTo is larger (the course's "pad to max length"
// behaviour, for benchmarks; rows are never cut, so a padTo below the
// longest row acts as 0). Padding positions get padID in InputIDs, -100 in
// Labels and 0 in Mask. Padding is masked by position, not by id, so a
// real EOS equal to the pad id keeps its label.
func Collate(rows []Tokenized, padID int, padTo int) Batch {
	width := padTo
	for _, r := range rows {
		width = max(width, len(r.InputIDs))
	}
	b := Batch{
		InputIDs: make([][]int, len(rows)),
		Labels:   make([][]int, len(rows)),
		Mask:     make([][]int, len(rows)),
	}
	for i, r := range rows {
		ids := make([]int, width)
		labels := make([]int, width)
		mask := make([]int, width)
		n := copy(ids, r.InputIDs)
		copy(labels, r.Labels)
		for j := 0; j < width; j++ {
			if j < n {
				mask[j] = 1
				if j >= len(r.Labels) {
					labels[j] = IgnoreIndex
				}
				if j >= 1 && labels[j] != IgnoreIndex {
					b.Tokens++
				}
				continue
			}
			ids[j] = padID
			labels[j] = IgnoreIndex
		}
		b.InputIDs[i], b.Labels[i], b.Mask[i] = ids, labels, mask
	}
	return b
}
