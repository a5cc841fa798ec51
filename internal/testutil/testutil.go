// Package testutil finds the repository's testdata and the shared data
// folder (../shared beside the repository) for tests.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, walking up from the test's
// working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testutil: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Testdata returns the path of a file or folder under testdata/.
func Testdata(t testing.TB, elem ...string) string {
	return filepath.Join(append([]string{RepoRoot(t), "testdata"}, elem...)...)
}

// Shared returns a path under the shared data folder ($GOLAMINI_SHARED, else
// ../shared beside the repository) and skips the test when it is absent.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	base := os.Getenv("GOLAMINI_SHARED")
	if base == "" {
		base = filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	}
	p := filepath.Join(append([]string{base}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s is absent (set GOLAMINI_SHARED or place shared/ beside the repository): %v", p, err)
	}
	return p
}
