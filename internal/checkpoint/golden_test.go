package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkGolden compares every tensor of c with what the reference script
// recorded: names, dtypes, shapes, the sha256 of the raw bytes and every
// value, exactly.
func checkGolden(t *testing.T, c *Checkpoint, want goldenFile) {
	t.Helper()
	if c.Format() != want.Format {
		t.Errorf("Format() = %q, want %q", c.Format(), want.Format)
	}
	if want.Metadata != nil && !reflect.DeepEqual(c.Metadata(), want.Metadata) {
		t.Errorf("Metadata() = %v, want %v", c.Metadata(), want.Metadata)
	}
	var wantNames []string
	for name := range want.Tensors {
		wantNames = append(wantNames, name)
	}
	sort.Strings(wantNames)
	var gotNames []string
	for _, info := range c.Tensors() {
		gotNames = append(gotNames, info.Name)
	}
	if !reflect.DeepEqual(gotNames, wantNames) {
		t.Fatalf("Tensors() names = %v, want %v", gotNames, wantNames)
	}
	for _, name := range wantNames {
		w := want.Tensors[name]
		info, ok := c.Info(name)
		if !ok {
			t.Fatalf("Info(%q) not found", name)
		}
		if info.DType.String() != w.DType || !reflect.DeepEqual(info.Shape, append([]int64{}, w.Shape...)) {
			t.Errorf("%s: got %v%v, want %s%v", name, info.DType, info.Shape, w.DType, w.Shape)
			continue
		}
		if n := int64(len(w.Values) + len(w.Bits)); info.NumElements() != n {
			t.Errorf("%s: NumElements() = %d, want %d", name, info.NumElements(), n)
			continue
		}
		_, raw, err := c.ReadRaw(name)
		if err != nil {
			t.Fatalf("ReadRaw(%q): %v", name, err)
		}
		sum := sha256.Sum256(raw)
		if hex.EncodeToString(sum[:]) != w.SHA256 {
			t.Errorf("%s: sha256 of raw bytes differs from torch's", name)
		}
		if info.DType.IsFloat() {
			got, err := c.ReadFloat32(name)
			if err != nil {
				t.Fatalf("ReadFloat32(%q): %v", name, err)
			}
			for i, b := range w.Bits {
				if math.Float32bits(got[i]) != b {
					t.Errorf("%s[%d] = %v, want %v", name, i, got[i], math.Float32frombits(b))
					break
				}
			}
			continue
		}
		if _, err := c.ReadFloat32(name); err == nil {
			t.Errorf("ReadFloat32(%q) of %v succeeded, want an error", name, info.DType)
		}
		for i, v := range w.Values {
			want, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := intAt(info.DType, raw, i); got != want {
				t.Errorf("%s[%d] = %d, want %d", name, i, got, want)
				break
			}
		}
	}
}

func intAt(dt DType, raw []byte, i int) int64 {
	switch dt {
	case I64:
		return int64(binary.LittleEndian.Uint64(raw[8*i:]))
	case I32:
		return int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
	case I16:
		return int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
	case I8:
		return int64(int8(raw[i]))
	default:
		return int64(raw[i])
	}
}

func TestGoldenCheckpoints(t *testing.T) {
	exp := loadExpected(t)
	if len(exp.Files) < 11 {
		t.Fatalf("expected.json lists %d checkpoints, want at least 11", len(exp.Files))
	}
	for tag, want := range exp.Files {
		t.Run(tag, func(t *testing.T) {
			c, err := Open(filepath.Join(goldenDir(t), tag))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			checkGolden(t, c, want)
		})
	}
}

func TestOpenFileSingleShard(t *testing.T) {
	c, err := OpenFile(filepath.Join(goldenDir(t), "st_sharded", "model-00002-of-00002.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(c.Tensors()); n != 4 {
		t.Errorf("second shard has %d tensors, want 4", n)
	}
}

// The views checkpoint shares storages between tensors; reading one must not
// disturb another, and the gathered copies are independent of the file.
func TestSharedStorageCopiesAreIndependent(t *testing.T) {
	c, err := Open(filepath.Join(goldenDir(t), "bin_views"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.ReadFloat32("tied_a")
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := c.ReadRaw("tied_b")
	if err != nil {
		t.Fatal(err)
	}
	raw[0] ^= 0xff // must not change the mapped file
	b, err := c.ReadFloat32("tied_b")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("tied tensors differ after modifying a ReadRaw copy")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if a[0] != b[0] { // still readable after Close: copies
		t.Error("copies changed after Close")
	}
	if _, err := c.ReadFloat32("tied_a"); err == nil {
		t.Error("ReadFloat32 after Close succeeded")
	}
}

func TestReadFloat32IntoAndConcurrentReads(t *testing.T) {
	c, err := Open(filepath.Join(goldenDir(t), "bin_views"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want, err := c.ReadFloat32("transposed")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadFloat32Into("transposed", make([]float32, 3)); err == nil {
		t.Error("ReadFloat32Into with a short buffer succeeded")
	}
	done := make(chan []float32)
	for g := 0; g < 8; g++ {
		go func() {
			dst := make([]float32, len(want))
			if err := c.ReadFloat32Into("transposed", dst); err != nil {
				t.Error(err)
			}
			done <- dst
		}()
	}
	for g := 0; g < 8; g++ {
		if got := <-done; !reflect.DeepEqual(got, want) {
			t.Error("concurrent read differs")
		}
	}
}

// ReadView gives the bytes ReadRaw gives (in the host's order, which on the
// little-endian machines this runs on is the file's), for mapped safetensors
// and for gathered PyTorch views alike; swapBytes reverses each element.
func TestReadViewMatchesReadRaw(t *testing.T) {
	for _, dir := range []string{"bin_views", "st_bf16", "bin_f16"} {
		c, err := Open(filepath.Join(goldenDir(t), dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range c.Tensors() {
			_, raw, err := c.ReadRaw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			err = c.ReadView(ti.Name, func(info TensorInfo, view []byte) error {
				if hostLittleEndian && !reflect.DeepEqual(raw, view) || info.Name != ti.Name {
					t.Errorf("%s/%s: ReadView differs from ReadRaw", dir, ti.Name)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	swapBytes(b, 4)
	if !reflect.DeepEqual(b, []byte{4, 3, 2, 1, 8, 7, 6, 5}) {
		t.Errorf("swapBytes: %v", b)
	}
}

// Close cannot unmap the file under a ReadView callback: it waits for the
// callback to return, and reads after Close are errors, not SIGSEGVs.
func TestReadViewCloseWaits(t *testing.T) {
	c, err := Open(filepath.Join(goldenDir(t), "st_f32"))
	if err != nil {
		t.Fatal(err)
	}
	name := c.Tensors()[0].Name
	inside, closed := make(chan struct{}), make(chan struct{})
	var sum int
	go func() {
		<-inside
		c.Close()
		close(closed)
	}()
	err = c.ReadView(name, func(_ TensorInfo, data []byte) error {
		close(inside)
		select {
		case <-closed:
			t.Error("Close returned while a ReadView callback held the data")
		case <-time.After(50 * time.Millisecond):
		}
		for _, b := range data { // the mapping is still there
			sum += int(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-closed
	if err := c.ReadView(name, func(TensorInfo, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("ReadView after Close: %v", err)
	}
	if _, _, err := c.ReadRaw(name); err == nil {
		t.Error("ReadRaw after Close: no error")
	}
}
