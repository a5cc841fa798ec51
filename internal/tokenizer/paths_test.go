package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
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
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// sharedFile returns the path of a file of the shared data folder
// ($GOLAMINI_SHARED, else ../shared/data next to the repository) or skips.
func sharedFile(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("GOLAMINI_SHARED")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared")
	}
	path := filepath.Join(dir, "data", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared data file %s not available (set GOLAMINI_SHARED to the shared folder): %v", path, err)
	}
	return path
}

// testTokenizerDir is the project's small Pythia-like tokenizer.
func testTokenizerDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), "testdata", "tokenizer")
}
