package hub

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

func TestOfflineWithoutCache(t *testing.T) {
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	opts.Offline = true
	_, err := Resolve(context.Background(), hubtest.TinyRepo, opts)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("err = %v, want ErrOffline", err)
	}
	for _, want := range []string{hubtest.TinyRepo, "HF_HUB_OFFLINE", filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("offline error lacks %q: %v", want, err)
		}
	}
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Errorf("offline mode made %d requests", len(reqs))
	}
}

func TestOfflineWithCache(t *testing.T) {
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, hubtest.TinyRepo, opts)
	// Drop an optional file: offline still serves the snapshot, online refetches it.
	if err := os.Remove(filepath.Join(dir, "generation_config.json")); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	offline := opts
	offline.Offline = true
	offline.Endpoint = "http://127.0.0.1:1" // unused: no request may be made
	if got := resolveOK(t, hubtest.TinyRepo, offline); got != dir {
		t.Fatalf("offline Resolve = %s, want %s", got, dir)
	}
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Fatalf("offline mode made %d requests", len(reqs))
	}
	resolveOK(t, hubtest.TinyRepo, opts)
	if _, err := os.Stat(filepath.Join(dir, "generation_config.json")); err != nil {
		t.Errorf("online Resolve did not restore the optional file: %v", err)
	}
	// Weights gone: offline refuses and says what is missing.
	if err := os.Remove(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(context.Background(), hubtest.TinyRepo, offline)
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "weights") {
		t.Fatalf("offline with no weights: %v", err)
	}
}

func TestOfflineFromEnvironment(t *testing.T) {
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN_PATH", "")
	for _, v := range []string{"1", "true", "ON", "yes"} {
		t.Setenv("HF_HUB_OFFLINE", v)
		if !DefaultOptions().Offline {
			t.Errorf("HF_HUB_OFFLINE=%s not honoured", v)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "0")
	t.Setenv("TRANSFORMERS_OFFLINE", "")
	if DefaultOptions().Offline {
		t.Error("HF_HUB_OFFLINE=0 taken as offline")
	}
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestUnreachableHub(t *testing.T) {
	cache := t.TempDir()
	opts := Options{CacheDir: cache, Endpoint: closedPort(t)}
	_, err := Resolve(context.Background(), hubtest.TinyRepo, opts)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	for _, want := range []string{"offline", filepath.Join(cache, "models--golamini-test--tiny-neox"), "HF_HUB_OFFLINE", hubtest.TinyRepo} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unreachable error lacks %q: %v", want, err)
		}
	}
}

// When the hub cannot be reached but the cache holds config and weights
// (some optional file missing), the cached snapshot is used, as
// huggingface_hub does.
func TestUnreachableHubFallsBackToUsableCache(t *testing.T) {
	s, _ := newHub(t)
	opts, logs := testOptions(t, s)
	dir := resolveOK(t, hubtest.TinyRepo, opts)
	os.Remove(filepath.Join(dir, "special_tokens_map.json"))
	opts.Endpoint = closedPort(t)
	if got := resolveOK(t, hubtest.TinyRepo, opts); got != dir {
		t.Fatalf("fallback = %s, want %s", got, dir)
	}
	if !strings.Contains(logs.String(), "hub unavailable") {
		t.Errorf("no warning about the fallback:\n%s", logs)
	}
}

const secret = "hf_sEcReTtOkEn1234567890"

func TestPrivateRepoNeedsToken(t *testing.T) {
	s, _ := newHub(t)
	s.SetToken(secret)
	if _, err := s.AddRepo("golamini-test/private", mustFiles(t, hubtest.TinyFiles), hubtest.RepoOptions{Private: true}); err != nil {
		t.Fatal(err)
	}
	opts, logs := testOptions(t, s)

	_, err := Resolve(context.Background(), "golamini-test/private", opts)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "HF_TOKEN") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v; want ErrAccessDenied naming 401 and HF_TOKEN", err)
	}

	opts.Token = "hf_wrong_" + secret
	_, err = Resolve(context.Background(), "golamini-test/private", opts)
	if !errors.Is(err, ErrAccessDenied) || strings.Contains(err.Error(), "hf_wrong") {
		t.Fatalf("wrong token: %v", err)
	}

	opts.Token = secret
	dir := resolveOK(t, "golamini-test/private", opts)
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests() {
		if r.Server == "storage" && r.Authorized {
			t.Errorf("token sent to storage: %s %s", r.Method, r.Path)
		}
		if r.Server == "hub" && r.Status < 400 && !r.Authorized {
			t.Errorf("hub request without token: %s %s", r.Method, r.Path)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("token written to the logs")
	}
	// Errors with a token set do not print it either.
	_, err = Resolve(context.Background(), "golamini-test/no-such-model", opts)
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), secret) {
		t.Fatalf("404 with token: %v", err)
	}
	if !strings.Contains(err.Error(), "404") {
		t.Errorf("404 not named: %v", err)
	}
}

func TestGatedRepo(t *testing.T) {
	s, _ := newHub(t)
	s.SetToken(secret)
	if _, err := s.AddRepo("golamini-test/gated", mustFiles(t, hubtest.TinyFiles), hubtest.RepoOptions{Gated: true}); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, s)
	_, err := Resolve(context.Background(), "golamini-test/gated", opts)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "gated") || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("gated without token: %v", err)
	}
	opts.Token = "hf_other_account"
	_, err = Resolve(context.Background(), "golamini-test/gated", opts)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("gated with a token lacking access: %v", err)
	}
	opts.Token = secret
	resolveOK(t, "golamini-test/gated", opts)
}

func TestUnknownModel404(t *testing.T) {
	s, _ := newHub(t)
	s.SetToken(secret)
	opts, _ := testOptions(t, s)
	// Anonymous: the hub answers 401 for unknown and private alike.
	_, err := Resolve(context.Background(), "golamini-test/nope", opts)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "check the id") {
		t.Fatalf("anonymous unknown: %v", err)
	}
	opts.Token = secret
	_, err = Resolve(context.Background(), "golamini-test/nope", opts)
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccessDenied) {
		t.Fatalf("authenticated unknown: %v", err)
	}
}

// HEAD of a file the commit lacks is the hub's 404 EntryNotFound, which
// Resolve treats as "absent" for optional files.
func TestHeadMissingFile(t *testing.T) {
	s, commits := newHub(t)
	c, err := newClient(s.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.head(context.Background(), hubtest.TinyRepo, commits[hubtest.TinyRepo], "no_such_file.json")
	if !isEntryNotFound(err) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("HEAD of a missing file: %v, want 404 EntryNotFound", err)
	}
	m, err := c.head(context.Background(), hubtest.TinyRepo, commits[hubtest.TinyRepo], "model.safetensors")
	if err != nil || !m.lfs || m.auth || !strings.HasPrefix(m.url, s.StorageURL()) {
		t.Fatalf("HEAD of an LFS file: %+v, %v", m, err)
	}
}

func TestEndpointMustBeHTTP(t *testing.T) {
	_, err := Resolve(context.Background(), hubtest.TinyRepo, Options{CacheDir: t.TempDir(), Endpoint: "ftp://user:pw@example.com"})
	if err == nil || !strings.Contains(err.Error(), "HF_ENDPOINT") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("bad endpoint: %v", err)
	}
}

func TestNotAHub(t *testing.T) {
	// A web server that is not a hub: it answers, but without X-Repo-Commit.
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	opts.Endpoint = s.StorageURL()
	_, err := Resolve(context.Background(), hubtest.TinyRepo, opts)
	if err == nil {
		t.Fatal("Resolve against a non-hub succeeded")
	}
}
