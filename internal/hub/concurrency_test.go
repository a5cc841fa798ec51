package hub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

// wantOneGETEach asserts that every file was transferred exactly once.
func wantOneGETEach(t *testing.T, s *hubtest.Server, files map[string][]byte) {
	t.Helper()
	for name := range files {
		if gets := s.FileGETs(name); len(gets) != 1 {
			t.Errorf("%s transferred %d times, want 1: %+v", name, len(gets), gets)
		}
	}
}

// Two goroutines resolve one model into one cache at the same time. The
// server holds the weights until both have asked for their metadata, so the
// downloads certainly overlap; the file lock lets only one transfer happen.
func TestConcurrentResolveGoroutines(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 4<<20)
	s.HoldUntilHeads("model.safetensors", 2)
	s.SetRate(16 << 20)
	opts, _ := testOptions(t, s)

	var wg sync.WaitGroup
	dirs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dirs[i], errs[i] = Resolve(ctx, "golamini-test/big", opts)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if dirs[0] != dirs[1] {
		t.Fatalf("different directories: %v", dirs)
	}
	checkSnapshot(t, dirs[0], files)
	wantOneGETEach(t, s, files)
	noIncomplete(t, opts.CacheDir)
}

// The same across two processes (this test binary re-executed twice).
func TestConcurrentResolveProcesses(t *testing.T) {
	s, _ := newHub(t)
	files := addBig(t, s, "golamini-test/big", 4<<20)
	s.HoldUntilHeads("model.safetensors", 2)
	s.SetRate(16 << 20)
	cache := t.TempDir()

	type child struct {
		wait           func() error
		stdout, stderr interface{ String() string }
	}
	var children []child
	for range 2 {
		cmd, out, errb := startChild(t, "golamini-test/big", s.URL(), cache)
		children = append(children, child{cmd.Wait, out, errb})
	}
	var dirs []string
	for i, c := range children {
		if err := c.wait(); err != nil {
			t.Fatalf("process %d: %v\nstderr:\n%s", i, err, c.stderr.String())
		}
		dirs = append(dirs, strings.TrimSpace(c.stdout.String()))
	}
	if dirs[0] != dirs[1] || !strings.HasPrefix(dirs[0], cache) {
		t.Fatalf("directories: %q", dirs)
	}
	checkSnapshot(t, dirs[0], files)
	wantOneGETEach(t, s, files)
	noIncomplete(t, cache)
	// The downloads overlapped: at least one process waited on the other's
	// lock (both may, each on a different file).
	waited := 0
	for _, c := range children {
		if strings.Contains(c.stderr.String(), "waiting for another download") {
			waited++
		}
	}
	if waited == 0 {
		t.Error("no process reported waiting for the other's lock")
	}
}

func TestLockExcludesAndHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".locks", "m", "x.lock")
	l1, err := acquireLock(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	waited := false
	if _, err := acquireLock(ctx, path, func() { waited = true }); err != context.DeadlineExceeded || !waited {
		t.Fatalf("second lock while held: err=%v waited=%v", err, waited)
	}
	got := make(chan error, 1)
	go func() {
		l2, err := acquireLock(context.Background(), path, nil)
		if err == nil {
			l2.release()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	l1.release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lock not handed over after release")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("lock file removed on release (huggingface_hub keeps it): %v", err)
	}
}
