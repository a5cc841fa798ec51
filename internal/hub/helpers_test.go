package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/hub/hubtest"
	"github.com/rs/zerolog"
)

// TestMain lets tests re-execute the test binary as a second process that
// runs Resolve (see startChild).
func TestMain(m *testing.M) {
	if os.Getenv("GOLAMINI_HUB_CHILD") == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain resolves the model named in the environment and prints the directory.
func childMain() int {
	opts := Options{
		Endpoint: os.Getenv("GOLAMINI_HUB_ENDPOINT"),
		CacheDir: os.Getenv("GOLAMINI_HUB_CACHE"),
		Logger:   zerolog.New(os.Stderr).With().Int("pid", os.Getpid()).Logger(),
	}
	dir, err := Resolve(context.Background(), os.Getenv("GOLAMINI_HUB_MODEL"), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println(dir)
	return 0
}

// startChild starts this test binary as a process resolving model.
func startChild(t *testing.T, model, endpoint, cache string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"GOLAMINI_HUB_CHILD=1",
		"GOLAMINI_HUB_MODEL="+model,
		"GOLAMINI_HUB_ENDPOINT="+endpoint,
		"GOLAMINI_HUB_CACHE="+cache,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd, &stdout, &stderr
}

// newHub starts the stand-in hub with hubtest's fixture repositories.
func newHub(t *testing.T) (*hubtest.Server, map[string]string) {
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
	return s, commits
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testOptions returns options for s with a fresh cache; logs go to the returned buffer.
func testOptions(t *testing.T, s *hubtest.Server) (Options, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	return Options{
		Revision:    "main",
		CacheDir:    t.TempDir(),
		Endpoint:    s.URL(),
		Logger:      zerolog.New(logs),
		Concurrency: 4,
	}, logs
}

func resolveOK(t *testing.T, model string, opts Options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir, err := Resolve(ctx, model, opts)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", model, err)
	}
	return dir
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkSnapshot asserts that dir holds exactly want (name -> content), each a
// relative symlink to ../../blobs/{etag} where etag is the git blob id for
// small files and the sha256 for LFS files.
func checkSnapshot(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	sort.Strings(got)
	sort.Strings(wantNames)
	if strings.Join(got, ",") != strings.Join(wantNames, ",") {
		t.Fatalf("snapshot files:\n got  %v\n want %v", got, wantNames)
	}
	for name, data := range want {
		p := filepath.Join(dir, name)
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		etag := hubtest.GitBlobSHA1(data)
		if strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin") {
			etag = sha256Hex(data)
		}
		depth := strings.Count(name, "/")
		wantTarget := strings.Repeat("../", depth+2) + "blobs/" + etag
		if target != wantTarget {
			t.Errorf("%s -> %s, want %s", name, target, wantTarget)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Errorf("%s: content differs from the hub's (%d vs %d bytes)", name, len(b), len(data))
		}
	}
}

// pick returns the named entries of files.
func pick(files map[string][]byte, names ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, n := range names {
		out[n] = files[n]
	}
	return out
}

// noIncomplete asserts that no partial download is left in the cache.
func noIncomplete(t *testing.T, cache string) {
	t.Helper()
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".incomplete") {
			t.Errorf("partial download left behind: %s", p)
		}
		return nil
	})
}

func mustFiles(t *testing.T, f func() (map[string][]byte, error)) map[string][]byte {
	t.Helper()
	files, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return files
}
