package chat

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Ranges at the int64 limits are measured without overflow: the huge ones
// are refused at once (no allocation), the long-stepped ones have Python's
// length (len(range(5, -2**63, -2**63)) == 2).
func TestRangeLimits(t *testing.T) {
	for _, c := range []struct {
		start, stop, step int64
		want              uint64
	}{
		{0, 5, 1, 5}, {5, 0, 1, 0}, {10, 0, -3, 4}, {2, 10, 3, 3},
		{math.MinInt64, math.MaxInt64, 1, math.MaxUint64},
		{math.MaxInt64, math.MinInt64, -1, math.MaxUint64},
		{5, math.MinInt64, math.MinInt64, 2},
		{math.MinInt64, math.MaxInt64, math.MaxInt64, 3},
	} {
		if got := rangeLen(c.start, c.stop, c.step); got != c.want {
			t.Errorf("len(range(%d, %d, %d)) = %d, want %d", c.start, c.stop, c.step, got, c.want)
		}
	}
	tm, err := Parse("{{ range(n) | length }}")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{1e12, math.MaxInt64} {
		_, err := tm.Render(Input{Messages: []Message{{Role: "user", Content: "x"}}, Vars: map[string]any{"n": n}})
		if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "range too big") {
			t.Errorf("range(%d): %v", n, err)
		}
	}
}
