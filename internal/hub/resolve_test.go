package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

func TestResolveFreshDownloadThenCache(t *testing.T) {
	s, commits := newHub(t)
	opts, logs := testOptions(t, s)
	dir := resolveOK(t, hubtest.TinyRepo, opts)

	repoDir := filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox")
	if want := filepath.Join(repoDir, "snapshots", commits[hubtest.TinyRepo]); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	files := mustFiles(t, hubtest.TinyFiles)
	checkSnapshot(t, dir, pick(files, "config.json", "generation_config.json", "tokenizer.json",
		"tokenizer_config.json", "special_tokens_map.json", "model.safetensors"))
	ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	if err != nil || string(ref) != commits[hubtest.TinyRepo] {
		t.Fatalf("refs/main = %q, %v; want %s", ref, err, commits[hubtest.TinyRepo])
	}
	lock := filepath.Join(opts.CacheDir, ".locks", "models--golamini-test--tiny-neox", sha256Hex(files["model.safetensors"])+".lock")
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("lock file like huggingface_hub's: %v", err)
	}
	noIncomplete(t, opts.CacheDir)

	// One GET per wanted file; the decoy .bin, README and .gitattributes untouched.
	for _, name := range []string{"config.json", "tokenizer.json", "model.safetensors"} {
		if n := len(s.FileGETs(name)); n != 1 {
			t.Errorf("%s fetched %d times, want 1", name, n)
		}
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "pytorch_model.bin") || strings.Contains(r.Path, "README") || strings.Contains(r.Path, "gitattributes") {
			t.Errorf("unwanted request %s %s", r.Method, r.Path)
		}
		if r.Server == "storage" && r.Authorized {
			t.Errorf("Authorization sent to storage: %s", r.Path)
		}
	}
	if !strings.Contains(logs.String(), `"file":"model.safetensors"`) {
		t.Errorf("no log line for model.safetensors:\n%s", logs)
	}

	// Second call: served from the cache without a single request.
	s.ResetRequests()
	if again := resolveOK(t, hubtest.TinyRepo, opts); again != dir {
		t.Fatalf("second Resolve = %s, want %s", again, dir)
	}
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Fatalf("second Resolve made %d requests, want 0: %+v", len(reqs), reqs)
	}
}

func TestResolveShardedRecordsAbsentFiles(t *testing.T) {
	s, commits := newHub(t)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, hubtest.ShardedRepo, opts)
	files := mustFiles(t, hubtest.ShardedFiles)
	checkSnapshot(t, dir, pick(files, "config.json", "tokenizer.json", "tokenizer_config.json",
		"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"))
	// Missing optional files are recorded the way huggingface_hub records a 404.
	for _, name := range []string{"generation_config.json", "special_tokens_map.json"} {
		p := filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox-sharded", ".no_exist", commits[hubtest.ShardedRepo], name)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("no .no_exist marker for %s: %v", name, err)
		}
	}
	s.ResetRequests()
	resolveOK(t, hubtest.ShardedRepo, opts)
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Fatalf("second Resolve made %d requests, want 0", len(reqs))
	}
}

func TestResolveMissingShardIsRefetched(t *testing.T) {
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, hubtest.ShardedRepo, opts)
	if err := os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors")); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	resolveOK(t, hubtest.ShardedRepo, opts)
	if n := len(s.FileGETs("model-00002-of-00002.safetensors")); n != 0 {
		t.Errorf("shard body fetched %d times; its blob was still cached, only the link was missing", n)
	}
	checkSnapshot(t, dir, pick(mustFiles(t, hubtest.ShardedFiles), "config.json", "tokenizer.json", "tokenizer_config.json",
		"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"))
}

func TestResolvePytorchBin(t *testing.T) {
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, hubtest.BinRepo, opts)
	checkSnapshot(t, dir, pick(mustFiles(t, hubtest.BinFiles), "config.json", "tokenizer.json", "pytorch_model.bin"))
}

func TestResolveNoWeightsOrConfig(t *testing.T) {
	s, _ := newHub(t)
	if _, err := s.AddRepo("golamini-test/no-weights", map[string][]byte{"config.json": []byte("{}")}, hubtest.RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRepo("golamini-test/no-config", map[string][]byte{"model.safetensors": []byte("x")}, hubtest.RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, s)
	_, err := Resolve(context.Background(), "golamini-test/no-weights", opts)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	_, err = Resolve(context.Background(), "golamini-test/no-config", opts)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config: %v", err)
	}
}

func TestResolveRevisions(t *testing.T) {
	s, commits := newHub(t)
	first := commits[hubtest.TinyRepo]
	files := mustFiles(t, hubtest.TinyFiles)
	files["config.json"] = []byte(`{"model_type": "gpt_neox", "note": "second commit"}` + "\n")
	second, err := s.AddRepo(hubtest.TinyRepo, files, hubtest.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRef(hubtest.TinyRepo, "refs/pr/1", first); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, s)

	if dir := resolveOK(t, hubtest.TinyRepo, opts); filepath.Base(dir) != second {
		t.Errorf("main resolved to %s, want %s", filepath.Base(dir), second)
	}
	pinned := opts
	pinned.Revision = first
	dir := resolveOK(t, hubtest.TinyRepo, pinned)
	if filepath.Base(dir) != first {
		t.Errorf("commit %s resolved to %s", first, dir)
	}
	if _, err := os.Stat(filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox", "refs", first)); err == nil {
		t.Errorf("a ref file was written for a commit hash")
	}
	// A ref with slashes is sent escaped and stored as nested ref files, like huggingface_hub.
	pr := opts
	pr.Revision = "refs/pr/1"
	if dir := resolveOK(t, hubtest.TinyRepo, pr); filepath.Base(dir) != first {
		t.Errorf("refs/pr/1 resolved to %s", dir)
	}
	if b, err := os.ReadFile(filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox", "refs", "refs", "pr", "1")); err != nil || string(b) != first {
		t.Errorf("refs/refs/pr/1 = %q, %v", b, err)
	}
	// The unchanged blobs were shared between the two commits: model.safetensors fetched once.
	if n := len(s.FileGETs("model.safetensors")); n != 1 {
		t.Errorf("model.safetensors fetched %d times across commits, want 1", n)
	}
	bad := opts
	bad.Revision = "no-such-branch"
	_, err = Resolve(context.Background(), hubtest.TinyRepo, bad)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("unknown revision: %v", err)
	}
}

func TestResolveLocalDirAsIs(t *testing.T) {
	dir := t.TempDir()
	got, err := Resolve(context.Background(), dir, Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil || got != dir {
		t.Fatalf("Resolve(local dir) = %q, %v", got, err)
	}
	if !IsLocalDir(dir) || IsLocalDir(filepath.Join(dir, "nope")) || IsLocalDir("") {
		t.Error("IsLocalDir wrong")
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if IsLocalDir(f) {
		t.Error("IsLocalDir(file) = true")
	}
}

func TestInvalidModelIDsRejectedBeforeIO(t *testing.T) {
	s, _ := newHub(t)
	opts, _ := testOptions(t, s)
	bad := []string{
		"", "../etc", "org/../../etc", "/abs/path/not-there", "org//name", "org/name/extra",
		"org/", "/name", "org/na me", "org/name\x00", `org\name`, "org/-name", "org/name.",
		".hidden/name", "org/na--me", "org/name.git", "~/models/x", "org/ñame", strings.Repeat("a", 97),
		"org/name?x=1", "org/name#frag", "org/..",
	}
	for _, id := range bad {
		_, err := Resolve(context.Background(), id, opts)
		if !errors.Is(err, ErrInvalidModelID) {
			t.Errorf("Resolve(%q) = %v, want ErrInvalidModelID", id, err)
		}
	}
	for _, rev := range []string{"../x", "a//b", "/main", "a/./b", "ma\nin", `a\b`} {
		o := opts
		o.Revision = rev
		if _, err := Resolve(context.Background(), hubtest.TinyRepo, o); !errors.Is(err, ErrInvalidModelID) {
			t.Errorf("revision %q: %v, want ErrInvalidModelID", rev, err)
		}
	}
	if reqs := s.Requests(); len(reqs) != 0 {
		t.Errorf("invalid ids caused %d requests", len(reqs))
	}
	if entries, _ := os.ReadDir(opts.CacheDir); len(entries) != 0 {
		t.Errorf("invalid ids wrote to the cache: %v", entries)
	}
	for _, id := range []string{"gpt2", "EleutherAI/pythia-410m", "a/b", "Org_1/name.v2-x", "_x/y_"} {
		if err := ValidateModelID(id); err != nil {
			t.Errorf("ValidateModelID(%q) = %v", id, err)
		}
	}
}

func TestBadFileNamesFromHubRejected(t *testing.T) {
	for _, name := range []string{"../x.safetensors", "/etc/passwd", "a//b", "a/../b", `a\b`, ""} {
		if err := validateRepoFile(name); err == nil {
			t.Errorf("validateRepoFile(%q) accepted", name)
		}
	}
	// A weights index naming a shard outside the snapshot is refused.
	s, _ := newHub(t)
	files := map[string][]byte{
		"config.json":                  []byte("{}"),
		"model.safetensors.index.json": []byte(`{"weight_map": {"w": "../../../../escape.safetensors"}}`),
	}
	if _, err := s.AddRepo("golamini-test/evil-index", files, hubtest.RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, s)
	_, err := Resolve(context.Background(), "golamini-test/evil-index", opts)
	if err == nil || !strings.Contains(err.Error(), "unsafe file name") {
		t.Fatalf("evil index: %v", err)
	}
}

// A renamed repository answers 307 with a relative Location; the API call
// and the HEADs follow it (as huggingface_hub does) and the cache keeps the
// name that was asked for.
func TestResolveRenamedRepo(t *testing.T) {
	s, commits := newHub(t)
	s.Rename("golamini-test/old-name", hubtest.TinyRepo)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, "golamini-test/old-name", opts)
	if want := filepath.Join(opts.CacheDir, "models--golamini-test--old-name", "snapshots", commits[hubtest.TinyRepo]); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	checkSnapshot(t, dir, pick(mustFiles(t, hubtest.TinyFiles), "config.json", "generation_config.json", "tokenizer.json",
		"tokenizer_config.json", "special_tokens_map.json", "model.safetensors"))
	redirects := 0
	for _, r := range s.Requests() {
		if r.Status == 307 {
			redirects++
		}
	}
	if redirects < 7 { // the API call and six HEADs
		t.Errorf("%d redirects followed, want at least 7", redirects)
	}
}
