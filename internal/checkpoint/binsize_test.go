package checkpoint

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storagePickle is a state dict {"w": FloatStorage key "0" of numel elements
// viewed as shape (2,)}; numel is written as LONG1 so it can be any int64.
func storagePickle(numel int64) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(numel))
	return []byte("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu\x8a\x08" +
		string(n[:]) + "tQK\x00K\x02\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.")
}

// rawZip writes files whose central-directory sizes are given by hand (so a
// test can make them lie), stored or deflated as they come.
type rawRecord struct {
	name   string
	method uint16
	raw    []byte // the bytes as they lie in the archive
	size   uint64 // the uncompressed size the directory claims
	crc    uint32
}

func writeRawZip(t *testing.T, path string, recs []rawRecord) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: r.name, Method: r.method, CRC32: r.crc,
			CompressedSize64: uint64(len(r.raw)), UncompressedSize64: r.size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stored(name string, b []byte) rawRecord {
	return rawRecord{name: name, method: zip.Store, raw: b, size: uint64(len(b)), crc: crc32.ChecksumIEEE(b)}
}

// TestTorchRecordSizesAreOverflowSafe: sizes read out of a .bin (the
// storage's element count, the directory's record size) cannot wrap around,
// go negative or claim more than the archive can hold; each is an error
// naming the tensor, never a panic or a huge allocation.
func TestTorchRecordSizesAreOverflowSafe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	data := make([]byte, 8)
	cases := []struct {
		name string
		recs []rawRecord
		want string
	}{
		// 4 × (2^62+2) wraps to 8: the 8-byte record used to pass the size check.
		{"numel×size wraps", []rawRecord{stored("x/data.pkl", storagePickle(1<<62+2)), stored("x/data/0", data)}, "too large"},
		// The directory claims 2^63+8 bytes (a negative int64) for a stored record.
		{"negative record size", []rawRecord{stored("x/data.pkl", storagePickle(1<<61+2)),
			{name: "x/data/0", method: zip.Store, raw: data, size: 1<<63 + 8, crc: crc32.ChecksumIEEE(data)}}, "too large"},
		// A stored record claiming more bytes than the archive holds.
		{"stored record larger than file", []rawRecord{stored("x/data.pkl", storagePickle(1<<28)),
			{name: "x/data/0", method: zip.Store, raw: data, size: 1 << 30, crc: crc32.ChecksumIEEE(data)}}, "holds 8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeRawZip(t, path, c.recs)
			_, err := readAll(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"w"`) {
				t.Errorf("err = %v, want one naming \"w\" and containing %q", err, c.want)
			}
		})
	}
}

// TestTorchDeflateBombCapped: a deflated record cannot claim more than
// DEFLATE can expand its compressed bytes to, and inflation stops at the
// declared size however much the stream would produce.
func TestTorchDeflateBombCapped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	deflate := func(n int) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		w.Write(make([]byte, n))
		w.Close()
		return b.Bytes()
	}
	// 8 bytes deflated; the directory claims 2^40 bytes.
	small := deflate(8)
	bomb := rawRecord{name: "x/data/0", method: zip.Deflate, raw: small, size: 1 << 40}
	writeRawZip(t, path, []rawRecord{stored("x/data.pkl", storagePickle(1<<38)), bomb})
	if _, err := readAll(path); err == nil || !strings.Contains(err.Error(), "compressed") || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("claimed 1 TiB from %d compressed bytes: err = %v", len(small), err)
	}
	// The stream holds more than the directory says: reading stops at the
	// declared size plus one byte and reports the mismatch.
	big := deflate(1 << 20)
	writeRawZip(t, path, []rawRecord{stored("x/data.pkl", storagePickle(2)),
		{name: "x/data/0", method: zip.Deflate, raw: big, size: 8, crc: crc32.ChecksumIEEE(make([]byte, 8))}})
	if _, err := readAll(path); err == nil || !strings.Contains(err.Error(), "x/data/0") {
		t.Errorf("stream longer than declared: err = %v", err)
	}
}

// Errors about the files match ErrInvalid, and the os errors under them
// still match.
func TestErrInvalid(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "absent"))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrInvalid) {
		t.Errorf("no weights: %v", err)
	}
	path := filepath.Join(dir, "x.bin")
	writeRawZip(t, path, []rawRecord{stored("x/data.pkl", storagePickle(1<<62+2)), stored("x/data/0", make([]byte, 8))})
	if _, err := OpenFile(path); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt .bin: %v", err)
	}
}
