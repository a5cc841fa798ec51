package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A safetensors file's first byte is the low byte of its header length, so
// it can look like a pickle (0x80) or a zip ("PK"); the format must still be
// recognised.
func TestSniffSafetensorsThatLookLikeOtherFormats(t *testing.T) {
	dir := t.TempDir()
	tensors := []NamedTensor{{Name: "w", DType: F32, Shape: []int64{2}, Data: Float32Bytes([]float32{3, 4})}}
	for _, want := range []uint64{0x80, 0x4b50} {
		// Find the metadata padding that gives this header length.
		pad := -1
		for p := 0; p < 20000; p++ {
			_, h, err := safetensorsLayout([]TensorInfo{{Name: "w", DType: F32, Shape: []int64{2}}}, map[string]string{"pad": strings.Repeat("x", p)})
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(h)) == want {
				pad = p
				break
			}
		}
		if pad < 0 {
			t.Fatalf("no padding gives header length %#x", want)
		}
		path := filepath.Join(dir, "m.safetensors")
		if err := WriteSafetensors(path, tensors, map[string]string{"pad": strings.Repeat("x", pad)}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if binary.LittleEndian.Uint64(b) != want {
			t.Fatalf("header length %d, want %d", binary.LittleEndian.Uint64(b), want)
		}
		c, err := OpenFile(path)
		if err != nil {
			t.Fatalf("header length %#x (first bytes %q): %v", want, b[:2], err)
		}
		v, err := c.ReadFloat32("w")
		c.Close()
		if err != nil || !reflect.DeepEqual(v, []float32{3, 4}) {
			t.Errorf("header length %#x: w = %v, %v", want, v, err)
		}
	}
}

// torch never compresses records, but a re-zipped checkpoint may: deflated
// records are read (and CRC-checked) through archive/zip.
func TestTorchDeflatedRecords(t *testing.T) {
	src := filepath.Join(goldenDir(t), "bin_views", "pytorch_model.bin")
	want, err := readAll(src)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(src)
	zr, err := zip.NewReader(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "deflated.bin")
	os.WriteFile(path, buf.Bytes(), 0o644)
	got, err := readAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("deflated copy reads differently")
	}
}
