package checkpoint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return testutil.RepoRoot(t) }

// goldenDir is testdata/checkpoint, written by
// scripts/reference/checkpoint_goldens.py.
func goldenDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), "testdata", "checkpoint")
}

type goldenTensor struct {
	DType  string        `json:"dtype"`
	Shape  []int64       `json:"shape"`
	SHA256 string        `json:"sha256"`
	Values []json.Number `json:"values"`   // integer tensors and round-trip sources
	Bits   []uint32      `json:"f32_bits"` // float tensors: float32 bit patterns
}

type goldenFile struct {
	Format   string                  `json:"format"`
	Metadata map[string]string       `json:"metadata"`
	Tensors  map[string]goldenTensor `json:"tensors"`
}

type goldenExpected struct {
	Files     map[string]goldenFile `json:"files"`
	Roundtrip struct {
		Metadata map[string]string       `json:"metadata"`
		Tensors  map[string]goldenTensor `json:"tensors"`
	} `json:"roundtrip"`
	Conversions struct {
		EdgeF32         []uint32          `json:"edge_f32_bits"`
		EdgeF16         []uint16          `json:"edge_f16_bits"`
		EdgeBF16        []uint16          `json:"edge_bf16_bits"`
		WeylF16SHA      string            `json:"weyl_f16_sha256"`
		WeylBF16SHA     string            `json:"weyl_bf16_sha256"`
		F16TiesSHA      string            `json:"f16_ties_f16_sha256"`
		BF16TiesSHA     string            `json:"bf16_ties_bf16_sha256"`
		F16ToF32SHA     string            `json:"f16_to_f32_sha256"`
		BF16ToF32SHA    string            `json:"bf16_to_f32_sha256"`
		F16ToF32Sample  map[string]uint32 `json:"f16_to_f32_sample"`
		BF16ToF32Sample map[string]uint32 `json:"bf16_to_f32_sample"`
	} `json:"conversions"`
	LegacyPrefixHex string `json:"legacy_prefix_hex"`
	Pickles         []struct {
		Protocol int             `json:"protocol"`
		Hex      string          `json:"hex"`
		Value    json.RawMessage `json:"value"`
	} `json:"pickles"`
}

func loadExpected(t testing.TB) *goldenExpected {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir(t), "expected.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/reference/checkpoint_goldens.py): %v", err)
	}
	var e goldenExpected
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	return &e
}

// copyTree copies the regular files of dir src into a new temp dir.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
