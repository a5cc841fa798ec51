package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the package directory to the folder holding go.mod.
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

// sharedData returns ../shared/data (or $GOLAMINI_SHARED/data), skipping the
// test when it is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GOLAMINI_SHARED")
	if base == "" {
		base = filepath.Join(repoRoot(t), "..", "shared")
	}
	dir := filepath.Join(base, "data")
	if _, err := os.Stat(filepath.Join(dir, "lamini_docs.jsonl")); err != nil {
		t.Skipf("shared data not available (%v); set GOLAMINI_SHARED or put it at ../shared relative to the repo root", err)
	}
	return dir
}

// testdataPath returns testdata/data/<name> under the repository root.
func testdataPath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "testdata", "data", name)
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
