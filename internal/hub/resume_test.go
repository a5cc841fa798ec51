package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

// addBig publishes a repository whose model.safetensors is n bytes.
func addBig(t *testing.T, s *hubtest.Server, id string, n int) map[string][]byte {
	t.Helper()
	st, err := hubtest.RandomSafetensors(n, 42)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"config.json": []byte(`{"model_type": "gpt_neox"}` + "\n"), "model.safetensors": st}
	if _, err := s.AddRepo(id, files, hubtest.RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	return files
}

// rangeStart parses "bytes=N-".
func rangeStart(t *testing.T, h string) int64 {
	t.Helper()
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || !strings.HasSuffix(spec, "-") {
		t.Fatalf("Range %q is not bytes=N-", h)
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(spec, "-"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestResumeAfterTransferCut(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 3<<20)
	const cut = 1 << 20
	s.CutNext("model.safetensors", cut)
	opts, logs := testOptions(t, s)
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)

	gets := s.FileGETs("model.safetensors")
	if len(gets) != 2 {
		t.Fatalf("GETs of model.safetensors: %+v, want 2 (cut, then resumed)", gets)
	}
	if gets[0].Range != "" {
		t.Errorf("first GET had Range %q", gets[0].Range)
	}
	from := rangeStart(t, gets[1].Range)
	if from <= 0 || from > cut {
		t.Errorf("resumed from %d, want within (0, %d]", from, cut)
	}
	if sent := s.Sent("model.safetensors"); sent != int64(len(files["model.safetensors"]))+cut-from {
		t.Errorf("server sent %d bytes for a %d-byte file cut at %d and resumed at %d", sent, len(files["model.safetensors"]), cut, from)
	}
	if !strings.Contains(logs.String(), "transfer interrupted; resuming") {
		t.Errorf("no log about the resume:\n%s", logs)
	}
	noIncomplete(t, opts.CacheDir)
}

func TestResumeWhenServerIgnoresRange(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 2<<20)
	s.CutNext("model.safetensors", 500_000)
	s.SetIgnoreRange(true)
	opts, _ := testOptions(t, s)
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)
	gets := s.FileGETs("model.safetensors")
	if len(gets) != 2 || gets[1].Range == "" || gets[1].Status != 200 {
		t.Fatalf("GETs: %+v; want a cut GET then a ranged GET answered 200 in full", gets)
	}
}

// TestResumeAfterProcessKilled kills a downloading process, then checks that
// the next Resolve continues from the partial blob with a Range request.
func TestResumeAfterProcessKilled(t *testing.T) {
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
			t.Fatalf("child did not start downloading; stderr:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	blob := filepath.Join(cache, "models--golamini-test--big", "blobs", sha256Hex(files["model.safetensors"]))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 {
		t.Fatalf("no partial blob after the kill: %v", err)
	}
	if _, err := os.Stat(blob); err == nil {
		t.Fatal("the complete blob exists although the download was killed")
	}
	partial := st.Size()

	s.SetRate(0)
	s.ResetRequests()
	opts, _ := testOptions(t, s)
	opts.CacheDir = cache
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)
	gets := s.FileGETs("model.safetensors")
	if len(gets) != 1 || rangeStart(t, gets[0].Range) != partial {
		t.Fatalf("GETs after the kill: %+v; want one from byte %d", gets, partial)
	}
	if sent := s.Sent("model.safetensors"); sent != int64(len(files["model.safetensors"]))-partial {
		t.Errorf("resumed download moved %d bytes, want %d", sent, int64(len(files["model.safetensors"]))-partial)
	}
	noIncomplete(t, cache)
}

func TestChecksumMismatchDiscarded(t *testing.T) {
	for _, name := range []string{"model.safetensors", "config.json"} {
		t.Run(name, func(t *testing.T) {
			s, _ := newHub(t)
			s.SetCorrupt(name, true)
			opts, _ := testOptions(t, s)
			_, err := Resolve(context.Background(), hubtest.TinyRepo, opts)
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("corrupt %s: err = %v, want ErrChecksum", name, err)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), hubtest.TinyRepo) {
				t.Errorf("error does not name the file and model: %v", err)
			}
			files := mustFiles(t, hubtest.TinyFiles)
			etag := hubtest.GitBlobSHA1(files[name])
			if strings.HasSuffix(name, ".safetensors") {
				etag = sha256Hex(files[name])
			}
			blob := filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox", "blobs", etag)
			for _, p := range []string{blob, blob + ".incomplete"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s kept after a checksum mismatch", p)
				}
			}
			if _, err := os.Stat(filepath.Join(opts.CacheDir, "models--golamini-test--tiny-neox", "refs", "main")); err == nil {
				t.Error("ref written although the download failed")
			}
			// Fixed upstream: the next call succeeds.
			s.SetCorrupt(name, false)
			dir := resolveOK(t, hubtest.TinyRepo, opts)
			b, _ := os.ReadFile(filepath.Join(dir, name))
			if sha256Hex(b) != sha256Hex(files[name]) {
				t.Error("content wrong after a clean retry")
			}
		})
	}
}

// A corrupt partial file left from an earlier run fails the hash after the
// resume; Resolve then downloads from scratch once.
func TestCorruptPartialFileRestartsFromScratch(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 1<<20)
	opts, logs := testOptions(t, s)
	blob := filepath.Join(opts.CacheDir, "models--golamini-test--big", "blobs", sha256Hex(files["model.safetensors"]))
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		t.Fatal(err)
	}
	junk := []byte(strings.Repeat("not the file's bytes ", 1000))
	if err := os.WriteFile(blob+".incomplete", junk, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)
	gets := s.FileGETs("model.safetensors")
	if len(gets) != 2 || rangeStart(t, gets[0].Range) != int64(len(junk)) || gets[1].Range != "" {
		t.Fatalf("GETs: %+v; want a resume from %d then a full download", gets, len(junk))
	}
	if !strings.Contains(logs.String(), "from scratch") {
		t.Errorf("no warning about restarting:\n%s", logs)
	}
}

func TestDiskFullBeforeDownload(t *testing.T) {
	s, _ := newHub(t)
	s.SetClaimedSize("model.safetensors", 1<<60)
	opts, _ := testOptions(t, s)
	_, err := Resolve(context.Background(), hubtest.TinyRepo, opts)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("err = %v, want ErrDiskFull", err)
	}
	for _, want := range []string{"model.safetensors", opts.CacheDir, "HF_HUB_CACHE", hubtest.TinyRepo} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n := len(s.FileGETs("model.safetensors")); n != 0 {
		t.Errorf("%d GETs started although the disk cannot hold the file", n)
	}
}

// Writes that hit a full disk (here /dev/full, which answers ENOSPC) are
// reported as ErrDiskFull.
func TestDiskFullOnWrite(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full on this system: %v", err)
	}
	defer f.Close()
	_, werr := f.Write([]byte("x"))
	if werr == nil {
		t.Skip("/dev/full accepted a write")
	}
	err = fmt.Errorf("write blob: %w", diskErr(werr))
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("diskErr(%v) = %v", werr, err)
	}
	if diskErr(os.ErrPermission) == nil || errors.Is(diskErr(os.ErrPermission), ErrDiskFull) {
		t.Error("other errors must pass through unmarked")
	}
}

// Cancelling the context (Ctrl-C) stops the download promptly, keeps the
// partial blob and releases the lock; the next call resumes.
func TestCancelKeepsPartialForResume(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 8<<20)
	s.SetRate(4 << 20)
	opts, _ := testOptions(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for s.Sent("model.safetensors") < 1<<20 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	began := time.Now()
	_, err := Resolve(ctx, "golamini-test/big", opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("cancel took effect after %v", d)
	}
	blob := filepath.Join(opts.CacheDir, "models--golamini-test--big", "blobs", sha256Hex(files["model.safetensors"]))
	st, err := os.Stat(blob + ".incomplete")
	if err != nil || st.Size() == 0 {
		t.Fatalf("partial blob: %v", err)
	}
	s.SetRate(0)
	s.ResetRequests()
	dir := resolveOK(t, "golamini-test/big", opts)
	checkSnapshot(t, dir, files)
	if gets := s.FileGETs("model.safetensors"); len(gets) != 1 || rangeStart(t, gets[0].Range) != st.Size() {
		t.Fatalf("GETs after cancel: %+v, want one from %d", gets, st.Size())
	}
}
