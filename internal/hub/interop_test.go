package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/hub/hubtest"
	"github.com/golamini/golamini/internal/testutil"
)

// The tests below run Python's huggingface_hub (scripts/reference/hub_interop.py)
// against the same stand-in hub and cache as our code.

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t *testing.T) string {
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

// refPython finds the reference venv's python: $GOLAMINI_PYTHON, else the
// full or the light venv under ~/.cache/golamini. It skips the test when
// there is none.
func refPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("GOLAMINI_PYTHON")
	if py == "" {
		root := os.Getenv("GOLAMINI_CACHE")
		if root == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, _ := os.UserHomeDir()
				base = filepath.Join(home, ".cache")
			}
			root = filepath.Join(base, "golamini")
		}
		for _, v := range []string{"venv-ref", "venv-light"} {
			if _, err := os.Stat(filepath.Join(root, v, ".complete")); err == nil {
				py = filepath.Join(root, v, "bin", "python")
				break
			}
		}
	}
	if py == "" {
		testutil.Missing(t, "no reference Python venv with huggingface_hub: run `make test-python-env` or scripts/reference-venv, or set GOLAMINI_PYTHON")
	}
	if out, err := exec.Command(py, "-c", "import huggingface_hub, safetensors").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s cannot import huggingface_hub and safetensors (%v): %s", py, err, out)
	}
	return py
}

// python runs hub_interop.py with args in a clean HF environment.
func python(t *testing.T, ctx context.Context, py string, args ...string) *exec.Cmd {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.CommandContext(ctx, py, append([]string{filepath.Join(root, "scripts", "reference", "hub_interop.py")}, args...)...)
	cmd.Dir = root
	env := []string{"HF_HOME=" + t.TempDir(), "HF_HUB_DISABLE_TELEMETRY=1", "HF_HUB_DISABLE_PROGRESS_BARS=1",
		"TRANSFORMERS_VERBOSITY=error", "TOKENIZERS_PARALLELISM=false", "OMP_NUM_THREADS=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HF_") || strings.HasPrefix(name, "HUGGING") || name == "TRANSFORMERS_OFFLINE" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	return cmd
}

// runPython runs the script and decodes its JSON answer into out.
func runPython(t *testing.T, py string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := python(t, ctx, py, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hub_interop.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("hub_interop.py %s: bad JSON %q: %v\n%s", args[0], stdout.String(), err, stderr.String())
	}
}

type pyFill struct {
	Snapshot string            `json:"snapshot"`
	Files    map[string]string `json:"files"`
}

type pyRead struct {
	Snapshot  string            `json:"snapshot"`
	Files     map[string]string `json:"files"`
	Absent    []string          `json:"absent"`
	Tensors   map[string][]int  `json:"tensors"`
	Generated []int             `json:"generated"`
}

// Python fills the cache (as snapshot_download does, and file by file as
// transformers does); our Resolve then finds everything there without a
// single request and returns the very same snapshot directory.
func TestInteropGoReadsPythonCache(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	for _, how := range []string{"snapshot", "files"} {
		for _, id := range []string{hubtest.TinyRepo, hubtest.ShardedRepo, hubtest.BinRepo} {
			t.Run(how+"/"+id, func(t *testing.T) {
				cache := t.TempDir()
				var fill pyFill
				runPython(t, py, &fill, "fill", "--endpoint", s.URL(), "--cache-dir", cache, "--repo", id, "--how", how)
				s.ResetRequests()
				opts, _ := testOptions(t, s)
				opts.CacheDir = cache
				dir := resolveOK(t, id, opts)
				if reqs := s.Requests(); len(reqs) != 0 {
					t.Errorf("Resolve made %d requests on a cache Python filled: %+v", len(reqs), reqs)
				}
				if dir != fill.Snapshot {
					t.Fatalf("Resolve = %s, Python's snapshot = %s", dir, fill.Snapshot)
				}
				for name, sum := range fill.Files {
					b, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil || sha256Hex(b) != sum {
						t.Errorf("%s: %v, or sha256 differs from what Python downloaded", name, err)
					}
				}
			})
		}
	}
}

// Our code fills the cache; huggingface_hub reads it with local_files_only
// and HF_HUB_OFFLINE=1, finds the same snapshot, files and absent markers,
// and (with transformers installed) loads the model and generates.
func TestInteropPythonReadsGoCache(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	tiny := mustFiles(t, hubtest.TinyFiles)
	sharded := mustFiles(t, hubtest.ShardedFiles)
	bin := mustFiles(t, hubtest.BinFiles)
	cases := []struct {
		id     string
		files  map[string][]byte
		absent []string
		model  bool
	}{
		{hubtest.TinyRepo, pick(tiny, "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "model.safetensors"), nil, true},
		{hubtest.ShardedRepo, pick(sharded, "config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), []string{"generation_config.json", "special_tokens_map.json"}, true},
		{hubtest.BinRepo, bin, []string{"generation_config.json", "tokenizer_config.json", "special_tokens_map.json"}, false},
	}
	var wantTensors []string
	for _, ts := range hubtest.TinyTensors() {
		wantTensors = append(wantTensors, ts.Name)
	}
	sort.Strings(wantTensors)
	opts, _ := testOptions(t, s)
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			dir := resolveOK(t, c.id, opts)
			var got pyRead
			args := []string{"read", "--cache-dir", opts.CacheDir, "--repo", c.id}
			if !c.model {
				args = append(args, "--no-model")
			}
			runPython(t, py, &got, args...)
			if got.Snapshot != dir {
				t.Fatalf("Python's snapshot %s, ours %s", got.Snapshot, dir)
			}
			want := map[string]string{}
			for name, data := range c.files {
				want[name] = sha256Hex(data)
			}
			if !reflect.DeepEqual(got.Files, want) {
				t.Errorf("files Python read:\n got  %v\n want %v", got.Files, want)
			}
			if strings.Join(got.Absent, ",") != strings.Join(c.absent, ",") {
				t.Errorf("files Python sees as absent upstream: %v, want %v", got.Absent, c.absent)
			}
			if c.model {
				var names []string
				for n := range got.Tensors {
					names = append(names, n)
				}
				sort.Strings(names)
				if !reflect.DeepEqual(names, wantTensors) {
					t.Errorf("tensors Python read: %v", names)
				}
				if got.Generated == nil {
					t.Log("transformers not installed in this venv: model load and generation not checked")
				} else if len(got.Generated) < 3 {
					t.Errorf("transformers generated %v", got.Generated)
				}
			}
		})
	}
}

// Python and Go download the same model into the same cache at the same
// time: they share huggingface_hub's lock files, so each file crosses the
// wire once and both see the same, complete snapshot.
func TestInteropConcurrentWithPython(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 8<<20)
	s.HoldUntilHeads("model.safetensors", 2)
	s.SetRate(32 << 20)
	opts, _ := testOptions(t, s)

	var wg sync.WaitGroup
	var fill pyFill
	wg.Add(1)
	go func() {
		defer wg.Done()
		runPython(t, py, &fill, "fill", "--endpoint", s.URL(), "--cache-dir", opts.CacheDir, "--repo", "golamini-test/big")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := Resolve(ctx, "golamini-test/big", opts)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	if dir != fill.Snapshot {
		t.Fatalf("Go %s, Python %s", dir, fill.Snapshot)
	}
	checkSnapshot(t, dir, files)
	wantOneGETEach(t, s, files)
	noIncomplete(t, opts.CacheDir)
}

// Python is killed in the middle of a download; our Resolve resumes its
// partial blob (blobs/{sha256}.incomplete) with a Range request.
func TestInteropGoResumesPythonPartialDownload(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	// huggingface_hub writes in 10 MB chunks: let it receive more than one
	// chunk (socket buffers hold a few MB more than it has read) before the kill.
	files := addBig(t, s, "golamini-test/big", 32<<20)
	s.SetRate(8 << 20)
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := python(t, ctx, py, "fill", "--endpoint", s.URL(), "--cache-dir", cache, "--repo", "golamini-test/big")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s.Sent("model.safetensors") < 18<<20 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("Python did not start downloading:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	blob := filepath.Join(cache, "models--golamini-test--big", "blobs", sha256Hex(files["model.safetensors"]))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 {
		t.Fatalf("Python left no partial blob: %v", err)
	}
	s.SetRate(0)
	s.ResetRequests()
	opts, _ := testOptions(t, s)
	opts.CacheDir = cache
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)
	gets := s.FileGETs("model.safetensors")
	if len(gets) != 1 || rangeStart(t, gets[0].Range) != st.Size() {
		t.Fatalf("GETs: %+v; want one resuming Python's %d bytes", gets, st.Size())
	}
}

// The reverse: our process is killed mid-download and huggingface_hub
// resumes the partial blob it left, with a Range request.
func TestInteropPythonResumesGoPartialDownload(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 8<<20)
	s.SetRate(4 << 20)
	cache := t.TempDir()
	cmd, _, stderr := startChild(t, "golamini-test/big", s.URL(), cache)
	deadline := time.Now().Add(30 * time.Second)
	for s.Sent("model.safetensors") < 2<<20 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start downloading:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	blob := filepath.Join(cache, "models--golamini-test--big", "blobs", sha256Hex(files["model.safetensors"]))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 {
		t.Fatalf("no partial blob after the kill: %v", err)
	}
	s.SetRate(0)
	s.ResetRequests()
	var fill pyFill
	runPython(t, py, &fill, "fill", "--endpoint", s.URL(), "--cache-dir", cache, "--repo", "golamini-test/big")
	checkSnapshot(t, fill.Snapshot, files)
	gets := s.FileGETs("model.safetensors")
	if len(gets) != 1 || rangeStart(t, gets[0].Range) != st.Size() {
		t.Fatalf("Python's GETs: %+v; want one resuming our %d bytes", gets, st.Size())
	}
}

// huggingface_hub and our code follow a renamed repository's relative
// redirects alike and file it under the name asked for.
func TestInteropRenamedRepo(t *testing.T) {
	py := refPython(t)
	s, _ := newHub(t)
	s.Rename("golamini-test/old-name", hubtest.TinyRepo)
	cache := t.TempDir()
	var fill pyFill
	runPython(t, py, &fill, "fill", "--endpoint", s.URL(), "--cache-dir", cache, "--repo", "golamini-test/old-name")
	s.ResetRequests()
	opts, _ := testOptions(t, s)
	opts.CacheDir = cache
	if dir := resolveOK(t, "golamini-test/old-name", opts); dir != fill.Snapshot {
		t.Fatalf("Go %s, Python %s", dir, fill.Snapshot)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests on Python's cache", n)
	}
}
