package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// roundtripTensors builds, in Go, the tensors the reference script wrote to
// roundtrip.safetensors: float16/bfloat16 data comes from Go's own
// conversions of the float32 source values.
func roundtripTensors(t *testing.T, exp *goldenExpected) []NamedTensor {
	t.Helper()
	var names []string
	for name := range exp.Roundtrip.Tensors {
		names = append(names, name)
	}
	// Any input order must give the same file: use reverse name order.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var out []NamedTensor
	for _, name := range names {
		spec := exp.Roundtrip.Tensors[name]
		dt, err := ParseDType(spec.DType)
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		switch dt {
		case F32, F16, BF16:
			v := make([]float32, len(spec.Values))
			for i, s := range spec.Values {
				f, err := strconv.ParseFloat(string(s), 64)
				if err != nil {
					t.Fatal(err)
				}
				v[i] = float32(f)
			}
			data = map[DType]func([]float32) []byte{F32: Float32Bytes, F16: F16Bytes, BF16: BF16Bytes}[dt](v)
		default:
			for _, s := range spec.Values {
				n, err := strconv.ParseInt(string(s), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				if dt == I64 {
					data = binary.LittleEndian.AppendUint64(data, uint64(n))
				} else {
					data = append(data, byte(n))
				}
			}
		}
		out = append(out, NamedTensor{Name: name, DType: dt, Shape: spec.Shape, Data: data})
	}
	return out
}

// TestWriteSafetensorsMatchesPython writes the round-trip tensors and
// compares the file byte for byte with the one Python's safetensors wrote,
// then reads it back.
func TestWriteSafetensorsMatchesPython(t *testing.T) {
	exp := loadExpected(t)
	tensors := roundtripTensors(t, exp)
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteSafetensors(path, tensors, exp.Roundtrip.Metadata); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(goldenDir(t), "roundtrip.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		n := binary.LittleEndian.Uint64(want[:8])
		t.Fatalf("Go-written file differs from Python's\ngo:     %q\npython: %q", got[8:min(len(got), 8+int(n))], want[8:8+n])
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("file mode: %v %v", st.Mode(), err)
	}

	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, nt := range tensors {
		info, data, err := c.ReadRaw(nt.Name)
		if err != nil {
			t.Fatal(err)
		}
		if info.DType != nt.DType || !bytes.Equal(data, nt.Data) || len(info.Shape) != len(nt.Shape) {
			t.Errorf("%q: read back %v%v, differs", nt.Name, info.DType, info.Shape)
		}
	}
	if c.Metadata()["format"] != "pt" {
		t.Errorf("metadata = %v", c.Metadata())
	}
}

// referencePython returns the reference venv's python, or skips.
func referencePython(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GOLAMINI_REF_PYTHON"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory: cannot find the reference venv")
	}
	venv := filepath.Join(home, ".cache", "golamini", "venv-ref")
	if _, err := os.Stat(filepath.Join(venv, ".complete")); err != nil {
		t.Skipf("reference venv %s not installed (scripts/reference-venv creates it): skipping the Python check", venv)
	}
	return filepath.Join(venv, "bin", "python")
}

// TestWriteSafetensorsLoadsInPython has safetensors.torch.load_file read a
// Go-written file (through the goldens script's --verify mode).
func TestWriteSafetensorsLoadsInPython(t *testing.T) {
	py := referencePython(t)
	exp := loadExpected(t)
	path := filepath.Join(t.TempDir(), "go.safetensors")
	if err := WriteSafetensors(path, roundtripTensors(t, exp), exp.Roundtrip.Metadata); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "scripts/reference/checkpoint_goldens.py", "--verify", path)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("python --verify: %v\n%s", err, out)
	}

	// And a file that is wrong must be rejected by the same check.
	bad := roundtripTensors(t, exp)
	bad[0].Data = append([]byte(nil), bad[0].Data...)
	bad[0].Data[len(bad[0].Data)-1] ^= 1
	if err := WriteSafetensors(path, bad, exp.Roundtrip.Metadata); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(py, "scripts/reference/checkpoint_goldens.py", "--verify", path)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("python --verify accepted a modified file:\n%s", out)
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	ok := NamedTensor{Name: "a", DType: F32, Shape: []int64{2}, Data: Float32Bytes([]float32{1, 2})}
	if err := WriteSafetensors(path, []NamedTensor{ok}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	cases := map[string][]NamedTensor{
		"bytes of data":   {{Name: "a", DType: F32, Shape: []int64{3}, Data: Float32Bytes([]float32{1, 2})}},
		"appears twice":   {ok, ok},
		"reserved":        {{Name: "__metadata__", DType: F32, Shape: []int64{2}, Data: ok.Data}},
		"negative":        {{Name: "n", DType: F32, Shape: []int64{-1}}},
		"invalid dtype":   {{Name: "d", Shape: []int64{1}, Data: []byte{0}}},
		"not valid UTF-8": {{Name: "\xff", DType: U8, Shape: []int64{1}, Data: []byte{0}}},
	}
	for want, tensors := range cases {
		err := WriteSafetensors(path, tensors, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	// A failing producer leaves the old file untouched and no temp file.
	err := WriteSafetensorsFunc(path, []TensorInfo{{Name: "a", DType: F32, Shape: []int64{2}}, {Name: "b", DType: F32, Shape: []int64{1}}}, nil,
		func(info TensorInfo) ([]byte, error) {
			if info.Name == "b" {
				return nil, errors.New("device lost")
			}
			return ok.Data, nil
		})
	if err == nil || !strings.Contains(err.Error(), "device lost") || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("producer error: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after failed writes, want 1", len(ents))
	}
}

func TestWriteSafetensorsEdgeShapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.safetensors")
	tensors := []NamedTensor{
		{Name: "scalar", DType: F64, Shape: []int64{}, Data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(2.5))},
		{Name: "empty", DType: BF16, Shape: []int64{0, 4}, Data: nil},
		{Name: "weird \"q\" \\ \n\x01 é", DType: Bool, Shape: []int64{2}, Data: []byte{1, 0}},
	}
	if err := WriteSafetensors(path, tensors, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Metadata(); got == nil || len(got) != 0 {
		t.Errorf("empty metadata read back as %v", got)
	}
	v, err := c.ReadFloat32("scalar")
	if err != nil || len(v) != 1 || v[0] != 2.5 {
		t.Errorf("scalar = %v, %v", v, err)
	}
	v, err = c.ReadFloat32("empty")
	if err != nil || len(v) != 0 {
		t.Errorf("empty = %v, %v", v, err)
	}
	if _, raw, err := c.ReadRaw(tensors[2].Name); err != nil || !bytes.Equal(raw, []byte{1, 0}) {
		t.Errorf("escaped name: %v %v", raw, err)
	}
}
