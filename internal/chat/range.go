package chat

import (
	"fmt"

	"github.com/ardanlabs/jinja"
)

// maxRange is the most items range() may make, the limit of the sandboxed
// Jinja environment transformers renders chat templates in (jinja2.sandbox's
// MAX_RANGE). A template is input the model's files bring: without a bound,
// range(10**12) would try to allocate the whole list.
const maxRange = 100000

// sandboxRange is Python's range(stop) / range(start, stop[, step]) over
// integers, refusing ranges longer than maxRange as jinja2's sandbox does.
func sandboxRange(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) < 1 || len(args) > 3 {
		return jinja.Undefined(), fmt.Errorf("range expected 1 to 3 arguments, got %d", len(args))
	}
	n := make([]int64, len(args))
	for i, a := range args {
		switch {
		case a.IsInt():
			n[i] = a.AsInt()
		case a.IsBool() && a.AsBool():
			n[i] = 1
		case a.IsBool():
			n[i] = 0
		default:
			return jinja.Undefined(), fmt.Errorf("range argument %d (%s) is not an integer", i+1, a.String())
		}
	}
	start, stop, step := int64(0), n[0], int64(1)
	if len(n) > 1 {
		start, stop = n[0], n[1]
	}
	if len(n) > 2 {
		step = n[2]
	}
	if step == 0 {
		return jinja.Undefined(), fmt.Errorf("range() arg 3 must not be zero")
	}
	count := rangeLen(start, stop, step)
	if count > maxRange {
		return jinja.Undefined(), fmt.Errorf("range too big: the sandbox blocks ranges larger than %d items", maxRange)
	}
	items := make([]jinja.Value, count)
	for i := range items {
		items[i] = jinja.NewInt(start + int64(i)*step)
	}
	return jinja.NewList(items), nil
}

// rangeLen is len(range(start, stop, step)) for step != 0, without overflow:
// the distance is taken in uint64, where it always fits.
func rangeLen(start, stop, step int64) uint64 {
	if step > 0 {
		if start >= stop {
			return 0
		}
		return (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	}
	if start <= stop {
		return 0
	}
	// -step as uint64 is exact even for step = math.MinInt64.
	return (uint64(start)-uint64(stop)-1)/(uint64(^step)+1) + 1
}
