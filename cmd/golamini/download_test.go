package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

// hubEnv starts the stand-in hub and isolates the HF environment variables.
func hubEnv(t *testing.T) (*hubtest.Server, map[string]string) {
	t.Helper()
	s, err := hubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	commits, err := hubtest.AddFixtures(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", s.URL())
	return s, commits
}

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDownloadPrintsSnapshotThenWorksOffline(t *testing.T) {
	s, commits := hubEnv(t)
	cache := t.TempDir()
	code, out, errOut := runCLI("download", hubtest.TinyRepo, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	want := filepath.Join(cache, "models--golamini-test--tiny-neox", "snapshots", commits[hubtest.TinyRepo])
	if out != want+"\n" {
		t.Fatalf("stdout = %q, want %q", out, want+"\n")
	}
	for _, f := range []string{"config.json", "tokenizer.json", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(want, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	if !strings.Contains(errOut, "model.safetensors") {
		t.Errorf("no log line per file on stderr:\n%s", errOut)
	}

	s.ResetRequests()
	code, out, errOut = runCLI("download", "--offline", "--cache-dir", cache, hubtest.TinyRepo)
	if code != 0 || out != want+"\n" {
		t.Fatalf("offline: exit %d, stdout %q\n%s", code, out, errOut)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("--offline made %d requests", n)
	}
}

func TestDownloadRevisionAndCacheFromEnv(t *testing.T) {
	_, commits := hubEnv(t)
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	code, out, errOut := runCLI("download", "--revision", commits[hubtest.ShardedRepo], "--quiet", hubtest.ShardedRepo)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if want := filepath.Join(cache, "models--golamini-test--tiny-neox-sharded", "snapshots", commits[hubtest.ShardedRepo]); strings.TrimSpace(out) != want {
		t.Fatalf("stdout %q, want %s", out, want)
	}
	if strings.Contains(errOut, `"level":"info"`) {
		t.Errorf("--quiet still logs info:\n%s", errOut)
	}
}

func TestDownloadErrors(t *testing.T) {
	hubEnv(t)
	cache := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"download"}, 2, "missing MODEL"},
		{[]string{"download", hubtest.TinyRepo, "extra"}, 2, "unexpected argument"},
		{[]string{"download", "--bogus", hubtest.TinyRepo}, 2, "bogus"},
		{[]string{"download", "golamini-test/nope", "--cache-dir", cache}, 1, "HF_TOKEN"},
		{[]string{"download", "../escape", "--cache-dir", cache}, 1, "invalid model id"},
		{[]string{"download", hubtest.TinyRepo, "--cache-dir", cache, "--offline"}, 1, "offline"},
		{[]string{"download", hubtest.TinyRepo, "--cache-dir", cache, "--revision", "nope"}, 1, "revision"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr lacks %q:\n%s", c.args, code, c.code, out, c.want, errOut)
		}
	}
}

// A local directory that is no hub id is an error, not printed back.
func TestDownloadLocalDirIsNotAHubID(t *testing.T) {
	hubEnv(t)
	dir := t.TempDir()
	code, out, errOut := runCLI("download", dir)
	if code == 0 || out != "" || !strings.Contains(errOut, "not a hub model id") || !strings.Contains(errOut, "also a local directory") {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
}

// download always means the hub: a local folder named like the model id does
// not turn it into a silent no-op.
func TestDownloadIgnoresLocalDirectoryOfSameName(t *testing.T) {
	_, commits := hubEnv(t)
	cache := t.TempDir()
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(hubtest.TinyRepo, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("download", hubtest.TinyRepo, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	want := filepath.Join(cache, "models--golamini-test--tiny-neox", "snapshots", commits[hubtest.TinyRepo])
	if out != want+"\n" {
		t.Errorf("stdout = %q, want the snapshot %q", out, want+"\n")
	}
	if !strings.Contains(errOut, "also a local directory") {
		t.Errorf("no note about the local directory:\n%s", errOut)
	}
}
