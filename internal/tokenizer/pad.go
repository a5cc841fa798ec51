package tokenizer

// Side says which end of a sequence truncation cuts or padding fills.
type Side int

const (
	// Right is the end of the sequence (transformers' default).
	Right Side = iota
	// Left is the start of the sequence.
	Left
)

// String returns "right" or "left".
func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// Truncate returns at most max ids: the first max (side Right) or the last
// max (side Left). The result shares ids' backing array. max <= 0 gives an
// empty slice.
func Truncate(ids []int, max int, side Side) []int {
	if max < 0 {
		max = 0
	}
	if len(ids) <= max {
		return ids
	}
	if side == Left {
		return ids[len(ids)-max:]
	}
	return ids[:max]
}

// Pad pads every sequence of batch with padID to the length of the longest,
// at the end (Right) or the start (Left), and returns new slices with the
// attention mask (1 for a real token, 0 for padding).
func Pad(batch [][]int, side Side, padID int) (ids [][]int, mask [][]int) {
	longest := 0
	for _, b := range batch {
		longest = max(longest, len(b))
	}
	return PadTo(batch, longest, side, padID)
}

// PadTo is Pad to a given length: sequences shorter than length are padded to
// it; longer ones are copied unchanged (truncate first to bound them).
func PadTo(batch [][]int, length int, side Side, padID int) (ids [][]int, mask [][]int) {
	ids = make([][]int, len(batch))
	mask = make([][]int, len(batch))
	for i, b := range batch {
		n := max(length, len(b))
		row, m := make([]int, n), make([]int, n)
		off := 0
		if side == Left {
			off = n - len(b)
		}
		for j := range row {
			row[j] = padID
		}
		copy(row[off:], b)
		for j := off; j < off+len(b); j++ {
			m[j] = 1
		}
		ids[i], mask[i] = row, m
	}
	return ids, mask
}
