package runner

import (
	"testing"

	"github.com/golamini/golamini/internal/hub/hubtest"
	"github.com/golamini/golamini/internal/testutil"
)

// A model served by a stand-in hub (same endpoints and headers as the real
// one) loads by id, generates what the local directory generates, and then
// loads offline from the cache.
func TestNewFromHubID(t *testing.T) {
	srv, err := hubtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const id = "golamini-test/tiny-seq"
	if _, err := srv.AddDir(id, testutil.Testdata(t, "models", "tiny-seq"), hubtest.RepoOptions{}); err != nil {
		t.Fatal(err)
	}
	h := DefaultHubOptions()
	h.Endpoint, h.CacheDir, h.Token, h.Offline = srv.URL(), t.TempDir(), "", false
	h.Progress = nil
	r, err := New(id, WithDevice("cpu"), WithHub(h))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Infer("How do I train a model?")
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	local := newTiny(t)
	want, err := local.Infer("How do I train a model?")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("hub model says %q, local directory %q", got, want)
	}
	h.Offline = true
	r2, err := New(id, WithDevice("cpu"), WithHub(h))
	if err != nil {
		t.Fatalf("offline from cache: %v", err)
	}
	r2.Close()
	if _, err := New("golamini-test/does-not-exist", WithHub(h)); err == nil {
		t.Error("unknown id offline: no error")
	}
}
