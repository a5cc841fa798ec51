package train

import "testing"

// --shuffle=false keeps file order by default: grouping by length is on
// only with shuffling, unless asked for.
func TestGroupByLengthDefaultFollowsShuffle(t *testing.T) {
	a := DefaultArgs()
	if !a.GroupsByLength() {
		t.Error("shuffled default does not group by length")
	}
	a.Shuffle = false
	if a.GroupsByLength() {
		t.Error("--shuffle=false groups by length (reorders rows) by default")
	}
	on := true
	a.GroupByLength = &on
	if !a.GroupsByLength() {
		t.Error("explicit group_by_length ignored")
	}
}
