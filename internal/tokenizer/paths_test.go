package tokenizer

import (
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return testutil.RepoRoot(t) }

// sharedFile returns the path of a file of the shared data folder
// ($GOLAMINI_SHARED, else ../shared next to the repository) or skips.
func sharedFile(t testing.TB, name string) string { return testutil.Shared(t, "data", name) }

// testTokenizerDir is the project's small Pythia-like tokenizer.
func testTokenizerDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), "testdata", "tokenizer")
}
