package testutil

import (
	"path/filepath"
	"testing"
)

// recorder stands in for a test to see whether a helper skipped or failed.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(args ...any)      { r.skipped = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(args ...any)     { r.failed = true }

// A missing dependency skips on a developer's machine and fails in CI.
func TestMissingFailsInCI(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "nothing-here")
	t.Setenv("GOLAMINI_SHARED", absent)
	for _, c := range []struct {
		ci            string
		skip, failure bool
	}{{"", true, false}, {"false", true, false}, {"true", false, true}, {"1", false, true}} {
		t.Setenv("CI", c.ci)
		r := &recorder{TB: t}
		Shared(r, "data", "lamini_docs.jsonl")
		if r.skipped != c.skip || r.failed != c.failure {
			t.Errorf("CI=%q: skipped %v failed %v, want %v %v", c.ci, r.skipped, r.failed, c.skip, c.failure)
		}
	}
}
