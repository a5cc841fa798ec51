package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readAll opens path and reads every tensor's raw bytes; it returns the
// first error.
func readAll(path string) (map[string][]byte, error) {
	c, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	return readAllFrom(c)
}

// readAllBytes is readAll for file contents held in memory under the name
// path: the same parsing and reading as OpenFile, without the file system
// (so every byte of every golden file can be cut or flipped quickly).
func readAllBytes(path string, data []byte) (map[string][]byte, error) {
	c := &Checkpoint{source: path, entries: map[string]*entry{}}
	if err := c.addMapped(&mappedFile{path: path, data: data}, ""); err != nil {
		return nil, err
	}
	c.finish()
	return readAllFrom(c)
}

func readAllFrom(c *Checkpoint) (map[string][]byte, error) {
	defer c.Close()
	out := map[string][]byte{}
	for _, info := range c.Tensors() {
		_, b, err := c.ReadRaw(info.Name)
		if err != nil {
			return nil, err
		}
		out[info.String()] = b // name, dtype and shape
	}
	return out, nil
}

var corruptCases = []string{
	"st_f16/model.safetensors",
	"st_sharded/model-00002-of-00002.safetensors",
	"bin_f16/pytorch_model.bin",
	"bin_views/pytorch_model.bin",
	"bin_buffers/pytorch_model.bin",
	"bin_proto4/pytorch_model.bin",
}

// TestTruncatedFiles cuts every golden file at every length: each cut must
// give an error that names the file.
func TestTruncatedFiles(t *testing.T) {
	for _, rel := range corruptCases {
		orig, err := os.ReadFile(filepath.Join(goldenDir(t), rel))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), filepath.Base(rel))
		for n := 0; n < len(orig); n++ {
			var err error
			if n%97 == 0 { // through the file system now and then
				if err := os.WriteFile(path, orig[:n], 0o644); err != nil {
					t.Fatal(err)
				}
				_, err = readAll(path)
			} else {
				_, err = readAllBytes(path, append([]byte(nil), orig[:n]...))
			}
			if err == nil {
				t.Fatalf("%s cut to %d of %d bytes: no error", rel, n, len(orig))
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("%s cut to %d bytes: error does not name the file: %v", rel, n, err)
			}
		}
	}
}

// TestCorruptedFiles flips each byte of the golden files. A PyTorch zip
// checkpoint carries CRC-32s, so a flip must give an error or leave every
// tensor exactly as it was (a flip in a field the reader does not use). A
// safetensors file has no checksum: a flip in its data changes values
// undetectably (a property of the format), so only the length field and the
// header are checked: an error, or a header that still describes valid data.
func TestCorruptedFiles(t *testing.T) {
	for _, rel := range corruptCases {
		src := filepath.Join(goldenDir(t), rel)
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want, err := readAll(src)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), filepath.Base(rel))
		limit := len(orig)
		isST := strings.HasSuffix(rel, ".safetensors")
		if isST {
			limit = 8 + int(binary.LittleEndian.Uint64(orig))
		}
		errs, same, renamed := 0, 0, 0
		for i := 0; i < limit; i++ {
			b := append([]byte(nil), orig...)
			b[i] ^= 0x5a
			var got map[string][]byte
			var err error
			if i%97 == 0 {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				got, err = readAll(path)
			} else {
				got, err = readAllBytes(path, b)
			}
			switch {
			case err != nil:
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("%s byte %d flipped: error does not name the file: %v", rel, i, err)
				}
				errs++
			case reflect.DeepEqual(got, want):
				same++
			case isST && i >= 8:
				// A name, dtype letter or metadata changed inside the header
				// and still parses: the data offsets were still validated.
				renamed++
			default:
				t.Fatalf("%s byte %d flipped: read different tensors without an error", rel, i)
			}
		}
		if isST {
			for i := 0; i < 8; i++ {
				b := append([]byte(nil), orig...)
				b[i] ^= 0x01
				os.WriteFile(path, b, 0o644)
				if _, err := readAll(path); err == nil {
					t.Errorf("%s: header length byte %d flipped: no error", rel, i)
				}
			}
		}
		t.Logf("%s: %d flips → error, %d → unchanged tensors, %d → a header that still parses", rel, errs, same, renamed)
	}
}

func writeZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRejectsCodeInPickles: globals outside the allow-list are errors that
// name them; nothing is executed.
func TestRejectsCodeInPickles(t *testing.T) {
	cases := map[string]string{
		// GLOBAL os.system; REDUCE ("echo hi",)
		"os.system": "\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.",
		// STACK_GLOBAL builtins.eval
		"builtins.eval": "\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.",
		// An allowed global called with a disallowed one nested inside.
		"subprocess.Popen": "\x80\x02}(X\x01\x00\x00\x00acsubprocess\nPopen\n)Ru.",
		// A torch function that is not on the list.
		"torch._utils._rebuild_qtensor": "\x80\x02ctorch._utils\n_rebuild_qtensor\n).",
	}
	dir := t.TempDir()
	for name, pkl := range cases {
		path := filepath.Join(dir, "evil.bin")
		writeZip(t, path, map[string][]byte{"evil/data.pkl": []byte(pkl), "evil/version": []byte("3\n")})
		_, err := OpenFile(path)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestTorchStructuralErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	// A state dict whose storage record is missing.
	pkl := "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x02\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs."
	cases := []struct {
		files map[string][]byte
		want  string
	}{
		{map[string][]byte{"x/data.pkl": []byte(pkl)}, "x/data/0 is missing"},
		{map[string][]byte{"x/data.pkl": []byte(pkl), "x/data/0": make([]byte, 4)}, "holds 4 bytes, want 8"},
		{map[string][]byte{"x/data.pkl": []byte(pkl), "x/data/0": make([]byte, 8), "x/byteorder": []byte("big")}, "byte order"},
		{map[string][]byte{"x/data.pkl": []byte("\x80\x02K\x01.")}, "not a state dict"},
		{map[string][]byte{"x/data.pkl": []byte("\x80\x02}X\x01\x00\x00\x00aK\x01s.")}, `entry "a" is a int`},
		{map[string][]byte{"x/constants.pkl": []byte("."), "x/code/m.py": nil}, "TorchScript"},
		{map[string][]byte{"x/data.pkl": []byte("\x80\x02}X\x01\x00\x00\x00a")}, "truncated"},
	}
	for _, c := range cases {
		writeZip(t, path, c.files)
		_, err := readAll(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("want error containing %q, got %v", c.want, err)
		}
	}
	// The same pickle with a correct record reads (so the cases above fail
	// for the reason they name).
	writeZip(t, path, map[string][]byte{"x/data.pkl": []byte(pkl), "x/data/0": Float32Bytes([]float32{1.5, -2})})
	c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.ReadFloat32("w"); err != nil || !reflect.DeepEqual(v, []float32{1.5, -2}) {
		t.Errorf("w = %v, %v", v, err)
	}
}

// A view reaching past its storage is an error, never an out-of-range read.
func TestTorchViewOutOfRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bin")
	// size (3,) stride (1,) offset 0 over a storage of 2 floats.
	pkl := "\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x03\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs."
	writeZip(t, path, map[string][]byte{"x/data.pkl": []byte(pkl), "x/data/0": make([]byte, 8)})
	if _, err := OpenFile(path); err == nil || !strings.Contains(err.Error(), `"w"`) || !strings.Contains(err.Error(), "storage of 2") {
		t.Errorf("err = %v", err)
	}
}

func TestLegacyFormat(t *testing.T) {
	prefix, err := hex.DecodeString(loadExpected(t).LegacyPrefixHex)
	if err != nil || len(prefix) < 16 {
		t.Fatalf("legacy prefix: %v", err)
	}
	path := filepath.Join(t.TempDir(), "pytorch_model.bin")
	os.WriteFile(path, append(prefix, make([]byte, 64)...), 0o644)
	_, err = OpenFile(path)
	if err == nil || !strings.Contains(err.Error(), "legacy") || !strings.Contains(err.Error(), "torch>=1.6") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
}
