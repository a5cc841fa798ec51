package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

func repoRoot(t testing.TB) string { return testutil.RepoRoot(t) }

// sharedData returns the shared data folder (../shared/data or
// $GOLAMINI_SHARED/data), skipping the test when it is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	return filepath.Dir(testutil.Shared(t, "data", "lamini_docs.jsonl"))
}

// testdataPath returns testdata/data/<name> under the repository root.
func testdataPath(t testing.TB, name string) string {
	t.Helper()
	return testutil.Testdata(t, "data", name)
}

// loadJSON decodes a golden file.
func loadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (regenerate with scripts/reference/data_goldens.py): %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

// writeFile writes content to name in a temporary directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
