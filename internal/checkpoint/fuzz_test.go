package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func goldenFiles(f *testing.F, suffix string) [][]byte {
	var out [][]byte
	filepath.WalkDir(goldenDir(f), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == suffix {
			if b, err := os.ReadFile(path); err == nil {
				out = append(out, b)
			}
		}
		return nil
	})
	if len(out) == 0 {
		f.Fatalf("no golden %s files", suffix)
	}
	return out
}

// FuzzSafetensorsHeader: any bytes parse to an error or to a header whose
// tensors lie inside the file and can be decoded; never a panic.
func FuzzSafetensorsHeader(f *testing.F) {
	for _, b := range goldenFiles(f, ".safetensors") {
		f.Add(b)
	}
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseSafetensors(data)
		if err != nil {
			return
		}
		for _, st := range h.tensors {
			if st.begin < 8 || st.end > int64(len(data)) || st.end-st.begin != st.info.NumBytes() {
				t.Fatalf("tensor %q at [%d, %d) in a file of %d bytes", st.info.Name, st.begin, st.end, len(data))
			}
			if st.info.DType.IsFloat() {
				dst := make([]float32, st.info.NumElements())
				if err := DecodeFloat32(st.info.DType, data[st.begin:st.end], dst); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzTorchPickle: any bytes as a data.pkl give an error or tensors whose
// views can be gathered from a storage of the declared size; never a panic
// and never a read outside the storage.
func FuzzTorchPickle(f *testing.F) {
	for _, b := range goldenFiles(f, ".bin") {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			if filepath.Base(zf.Name) == "data.pkl" {
				r, _ := zf.Open()
				pkl, _ := io.ReadAll(r)
				f.Add(pkl)
			}
		}
	}
	for _, c := range loadExpected(f).Pickles {
		if b, err := hex.DecodeString(c.Hex); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tensors, err := parseTorchPickle(data)
		if err != nil {
			return
		}
		for _, nt := range tensors {
			st := nt.t.storage
			if st.numel > 1<<16 {
				continue
			}
			v, err := newViewSource(&sliceSource{data: make([]byte, st.numel*st.dtype.Size())}, nt.t)
			if err != nil {
				continue
			}
			b, _, err := v.bytes()
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != v.numel*v.elem {
				t.Fatalf("%q: %d bytes for %d elements", nt.name, len(b), v.numel)
			}
		}
	})
}

// FuzzTorchZip: any bytes as a .bin file give an error or readable tensors.
func FuzzTorchZip(f *testing.F) {
	for _, b := range goldenFiles(f, ".bin") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := torchEntries(&mappedFile{path: "fuzz.bin", data: data})
		if err != nil {
			return
		}
		for _, e := range entries {
			b, _, err := e.src.bytes()
			if err == nil && int64(len(b)) != e.info.NumBytes() {
				t.Fatalf("%q: %d bytes, want %d", e.info.Name, len(b), e.info.NumBytes())
			}
		}
	})
}
