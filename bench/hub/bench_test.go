// Package hubbench measures download throughput of internal/hub from the
// local stand-in hub (hubtest) on loopback: a 200 MiB model.safetensors,
// fetched through the hub's redirect to storage, sha256-verified, synced and
// linked into a fresh HuggingFace cache each time. run.sh also times Python's
// huggingface_hub on the same server and file.
package hubbench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/golamini/golamini/internal/hub"
	"github.com/golamini/golamini/internal/hub/hubtest"
)

// sizeMiB is the size of the benchmark's weights file (BENCH_HUB_MIB overrides).
func sizeMiB() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_HUB_MIB")); err == nil && n > 0 {
		return n
	}
	return 200
}

func bigHub(b *testing.B) (*hubtest.Server, int64) {
	b.Helper()
	s, err := hubtest.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	st, err := hubtest.RandomSafetensors(sizeMiB()<<20, 7)
	if err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{"config.json": []byte(`{"model_type": "gpt_neox"}` + "\n"), "model.safetensors": st}
	if _, err := s.AddRepo("golamini-test/big", files, hubtest.RepoOptions{}); err != nil {
		b.Fatal(err)
	}
	return s, int64(len(st))
}

// BenchmarkDownload is a fresh download per iteration (MB/s = throughput).
func BenchmarkDownload(b *testing.B) {
	s, size := bigHub(b)
	b.SetBytes(size)
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cache := filepath.Join(root, strconv.Itoa(i))
		opts := hub.Options{Endpoint: s.URL(), CacheDir: cache}
		if _, err := hub.Resolve(context.Background(), "golamini-test/big", opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(cache)
		b.StartTimer()
	}
}

// BenchmarkCached is the cost of resolving a model already in the cache (no network).
func BenchmarkCached(b *testing.B) {
	s, _ := bigHub(b)
	opts := hub.Options{Endpoint: s.URL(), CacheDir: b.TempDir()}
	if _, err := hub.Resolve(context.Background(), "golamini-test/big", opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := hub.Resolve(context.Background(), "golamini-test/big", opts); err != nil {
			b.Fatal(err)
		}
	}
}
