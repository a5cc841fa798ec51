package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/hub/hubtest"
)

// layoutEntry is one path in a cache, as scripts/reference/hub_interop.py records it.
type layoutEntry struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Target string `json:"target,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

func (e layoutEntry) String() string {
	switch e.Type {
	case "symlink":
		return fmt.Sprintf("%s -> %s", e.Path, e.Target)
	case "file":
		return fmt.Sprintf("%s (%d bytes, sha256 %.12s)", e.Path, e.Size, e.SHA256)
	}
	return e.Path + "/"
}

// cacheLayout lists every entry under dir like the Python script does.
func cacheLayout(t *testing.T, dir string) []layoutEntry {
	t.Helper()
	var out []layoutEntry
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := layoutEntry{Path: filepath.ToSlash(rel)}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			e.Type = "symlink"
			e.Target, err = os.Readlink(p)
		case d.IsDir():
			e.Type = "dir"
		default:
			e.Type = "file"
			f, ferr := os.Open(p)
			if ferr != nil {
				return ferr
			}
			h := sha256.New()
			e.Size, err = io.Copy(h, f)
			f.Close()
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		out = append(out, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// TestCacheLayoutMatchesPython downloads hubtest's fixtures with Go and
// compares the cache, entry by entry (locks, blobs, symlink targets, refs,
// .no_exist markers), with the one huggingface_hub produced for the same
// server (internal/hub/testdata/python_cache_layout.json, written by
// scripts/reference/hub_interop.py).
func TestCacheLayoutMatchesPython(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "python_cache_layout.json"))
	if err != nil {
		t.Fatalf("golden missing (run scripts/reference/hub_interop.py): %v", err)
	}
	var golden struct {
		Commits map[string]string `json:"commits"`
		Entries []layoutEntry     `json:"entries"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatalf("python_cache_layout.json: %v", err)
	}
	s, commits := newHub(t)
	for id, c := range golden.Commits {
		if commits[id] != c {
			t.Fatalf("fixture %s is commit %s here but %s in the golden: the fixtures changed; rerun scripts/reference/hub_interop.py", id, commits[id], c)
		}
	}
	opts, _ := testOptions(t, s)
	for _, id := range []string{hubtest.TinyRepo, hubtest.ShardedRepo, hubtest.BinRepo} {
		resolveOK(t, id, opts)
	}
	got := cacheLayout(t, opts.CacheDir)

	want := map[string]layoutEntry{}
	for _, e := range golden.Entries {
		want[e.Path] = e
	}
	have := map[string]layoutEntry{}
	for _, e := range got {
		have[e.Path] = e
	}
	var diffs []string
	for _, e := range golden.Entries {
		g, ok := have[e.Path]
		switch {
		case !ok:
			diffs = append(diffs, "missing in Go's cache: "+e.String())
		case g != e:
			diffs = append(diffs, fmt.Sprintf("differs: Python %s, Go %s", e, g))
		}
	}
	for _, g := range got {
		if _, ok := want[g.Path]; !ok {
			diffs = append(diffs, "only in Go's cache: "+g.String())
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("cache layout differs from huggingface_hub's:\n%s", strings.Join(diffs, "\n"))
	}
	if len(got) < 70 {
		t.Fatalf("only %d entries compared", len(got))
	}
}
