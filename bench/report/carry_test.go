package main

import (
	"strings"
	"testing"
)

func TestCarryOver(t *testing.T) {
	prev := "# Benchmarks\n\nWritten by `make bench (bench/run.sh)` on 2026-11-29T06:33:42Z (commit 541fbd4).\n\nMachine: 2 CPUs (`nproc`), Intel(R) Xeon(R) Processor, 23.5 GiB memory.\n\n" +
		"## Build and test\n\nbuild old\n\n" +
		"## Decode: tokens/s\n\ndecode old\n\n" +
		"## Other benchmark: bench/train/run.sh\n\n## Training tokens/s: inner header\n\ntrain old\n\n" +
		"<!-- included from bench/RESULTS-tokenizer.md -->\ntok old\n\n"
	cur := "# Benchmarks\n\nWritten by `x` on 2026-12-07T05:00:00Z (commit abc).\n\n" +
		"## Decode: tokens/s\n\ndecode new\n\n" +
		"## Other benchmark: bench/families/run.sh\n\nfamilies new\n\n" +
		"<!-- included from bench/RESULTS-tokenizer.md -->\ntok new\n\n"
	got := carryOver(cur, prev)
	want := []string{"commit abc", "build old", "decode new", "## Training tokens/s: inner header", "train old", "families new", "tok new"}
	at := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 || i < at {
			t.Fatalf("%q missing or out of order in:\n%s", w, got)
		}
		at = i
	}
	for _, gone := range []string{"decode old", "tok old"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q was retaken but the old text stayed:\n%s", gone, got)
		}
	}
	if n := strings.Count(got, "carried over from the run of 2026-11-29T06:33:42Z (commit 541fbd4) on 2 CPUs of Intel(R) Xeon(R) Processor"); n != 2 {
		t.Errorf("%d carried-over marks, want 2 (build, train):\n%s", n, got)
	}
	// Carrying again keeps the first run's mark, not a second one.
	again := carryOver("# Benchmarks\n\nWritten by `x` on 2026-12-08T00:00:00Z (commit def).\n\n", got)
	if strings.Count(again, "commit 541fbd4)") != 2 {
		t.Errorf("re-carried sections lost their original mark:\n%s", again)
	}
}
