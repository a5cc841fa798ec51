package main

import (
	"fmt"
	"regexp"
	"strings"
)

// A section of RESULTS.md: one of the report's own top-level parts (build and
// test, decode, checkpoint load), one other benchmark's output, or one
// included bench/RESULTS-*.md. key names it across runs.
type section struct {
	key, text string
}

// sectionStart matches the first line of every section the report writes.
// Other benchmarks print "## " headers of their own inside their output, so
// a section runs to the next line that starts a section, not to the next "## ".
var sectionStart = regexp.MustCompile(`^(## (Build and test|Decode: tokens/s|Checkpoint load|Other benchmark: \S+)|<!-- included from \S+ -->)$`)

// carryMarker starts the note under the header of a section taken over from an earlier run.
const carryMarker = "_Not run this time"

// splitSections cuts a RESULTS.md into its preamble (the title and machine
// lines) and its sections in file order.
func splitSections(doc string) (preamble string, secs []section) {
	lines := strings.SplitAfter(doc, "\n")
	cur := -1
	var pre strings.Builder
	for _, ln := range lines {
		if m := sectionStart.FindStringSubmatch(strings.TrimRight(ln, "\n")); m != nil {
			secs = append(secs, section{key: m[1]})
			cur = len(secs) - 1
		}
		if cur < 0 {
			pre.WriteString(ln)
		} else {
			secs[cur].text += ln
		}
	}
	return pre.String(), secs
}

var (
	writtenBy = regexp.MustCompile("Written by `[^`]*` on (\\S+) \\(commit (\\w+)\\)")
	machineIs = regexp.MustCompile("Machine: (\\d+) CPUs \\(`nproc`\\), ([^,]+),")
)

// carryOver returns the report cur with every section of the previous
// report prev that cur lacks (its step was skipped with BENCH_SKIP, or its
// benchmark left out with BENCH_OTHERS) put back in its old place, marked
// with the date and commit of the run that measured it, so a partial run
// updates RESULTS.md without dropping the numbers it did not retake.
func carryOver(cur, prev string) string {
	if prev == "" {
		return cur
	}
	prevPre, prevSecs := splitSections(prev)
	curPre, curSecs := splitSections(cur)
	have := map[string]bool{}
	for _, s := range curSecs {
		have[s.key] = true
	}
	when := "an earlier run"
	if m := writtenBy.FindStringSubmatch(prevPre); m != nil {
		when = fmt.Sprintf("the run of %s (commit %s)", m[1], m[2])
	}
	// The machine may have changed since (another CPU): say which it was.
	if m := machineIs.FindStringSubmatch(prevPre); m != nil {
		when += fmt.Sprintf(" on %s CPUs of %s", m[1], m[2])
	}
	out := curSecs
	after := -1 // index in out of the last previous section placed or found
	for _, s := range prevSecs {
		if have[s.key] {
			for i := range out {
				if out[i].key == s.key {
					after = i
				}
			}
			continue
		}
		text := s.text
		if !strings.Contains(text, carryMarker) {
			header, body, _ := strings.Cut(text, "\n")
			text = fmt.Sprintf("%s\n\n%s: carried over from %s._\n%s", header, carryMarker, when, body)
		}
		out = append(out[:after+1], append([]section{{key: s.key, text: text}}, out[after+1:]...)...)
		after++
	}
	var b strings.Builder
	b.WriteString(curPre)
	for _, s := range out {
		b.WriteString(s.text)
	}
	return b.String()
}
