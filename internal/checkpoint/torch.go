package checkpoint

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"strings"
	"sync"
)

// maxDataPkl bounds the size of a data.pkl read into memory.
const maxDataPkl = 1 << 30

// errLegacyFormat is returned for checkpoints torch.save wrote before the zip
// format (torch < 1.6, or _use_new_zipfile_serialization=False).
var errLegacyFormat = errors.New("legacy (pre-1.6, non-zip) torch.save format is unsupported: re-save it with torch>=1.6, e.g. torch.save(torch.load(path), path)")

// isTar reports whether b looks like a tar archive (torch's oldest format).
func isTar(b []byte) bool {
	return len(b) >= 262 && string(b[257:262]) == "ustar"
}

// torchEntries parses a torch.save zip archive whose data.pkl holds a state
// dict and returns its tensors; the data stays in the mapped file.
func torchEntries(mf *mappedFile) ([]*entry, error) {
	b := mf.data
	if len(b) >= 2 && b[0] == 0x80 || isTar(b) {
		return nil, errLegacyFormat
	}
	if len(b) < 4 || string(b[:4]) != "PK\x03\x04" {
		return nil, errors.New("not a PyTorch zip checkpoint (bad magic; truncated or corrupt?)")
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a valid zip archive (truncated or corrupt?): %w", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	var pkl []string
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("zip archive has two entries named %q", f.Name)
		}
		files[f.Name] = f
		if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			pkl = append(pkl, f.Name)
		}
	}
	if len(pkl) != 1 {
		for name := range files {
			if strings.HasSuffix(name, "constants.pkl") {
				return nil, errors.New("this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
			}
		}
		return nil, fmt.Errorf("zip archive has %d data.pkl records, want 1 (not a torch.save checkpoint)", len(pkl))
	}
	prefix := strings.TrimSuffix(pkl[0], "data.pkl")
	if f := files[prefix+"byteorder"]; f != nil {
		order, err := readZipFile(f, 16)
		if err != nil {
			return nil, err
		}
		if string(order) != "little" {
			return nil, fmt.Errorf("byte order %q is unsupported (only little-endian checkpoints)", order)
		}
	}
	pklData, err := readZipFile(files[pkl[0]], maxDataPkl)
	if err != nil {
		return nil, err
	}
	tensors, err := parseTorchPickle(pklData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl[0], err)
	}

	records := map[string]*storageRecord{}
	out := make([]*entry, 0, len(tensors))
	seen := map[string]bool{}
	for _, nt := range tensors {
		if seen[nt.name] {
			return nil, fmt.Errorf("tensor %q appears twice", nt.name)
		}
		seen[nt.name] = true
		st := nt.t.storage
		rec := records[st.key]
		if rec == nil {
			name := prefix + "data/" + st.key
			f := files[name]
			if f == nil {
				return nil, fmt.Errorf("tensor %q: storage record %s is missing", nt.name, name)
			}
			want, err := checkedBytes(st.dtype, []int64{st.numel})
			if err != nil {
				return nil, fmt.Errorf("tensor %q: storage record %s: %w", nt.name, name, err)
			}
			if f.UncompressedSize64 != uint64(want) {
				return nil, fmt.Errorf("tensor %q: storage record %s holds %d bytes, want %d (%d × %v)", nt.name, name, f.UncompressedSize64, want, st.numel, st.dtype)
			}
			if err := recordFits(f, int64(len(b))); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", nt.name, err)
			}
			rec = &storageRecord{f: f, file: b, size: want}
			records[st.key] = rec
		}
		src, err := newViewSource(rec, nt.t)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", nt.name, err)
		}
		out = append(out, &entry{
			info: TensorInfo{Name: nt.name, DType: st.dtype, Shape: cloneShape(nt.t.shape)},
			file: mf.path,
			src:  src,
		})
	}
	return out, nil
}

// maxDeflateRatio bounds how much DEFLATE can expand its input (zlib's
// documented limit is 1032:1: a 258-byte match costs at least two bits), so
// a record claiming more than that many bytes per compressed byte cannot be
// genuine.
const maxDeflateRatio = 1032

// recordFits checks a record's sizes from the zip directory against the
// archive of fileSize bytes before anything is read or allocated: a stored
// record lies whole inside the file, and a deflated one cannot inflate past
// maxDeflateRatio times its compressed size. All arithmetic is in uint64 with
// explicit bounds, so a size near 2^64 cannot wrap or turn negative.
func recordFits(f *zip.File, fileSize int64) error {
	if f.CompressedSize64 > uint64(fileSize) {
		return fmt.Errorf("record %s: %d compressed bytes run past the end of the %d-byte file (truncated?)", f.Name, f.CompressedSize64, fileSize)
	}
	switch f.Method {
	case zip.Store:
		if f.UncompressedSize64 != f.CompressedSize64 {
			return fmt.Errorf("record %s: stored record claims %d bytes but holds %d (corrupt?)", f.Name, f.UncompressedSize64, f.CompressedSize64)
		}
	case zip.Deflate:
		if f.UncompressedSize64/maxDeflateRatio > f.CompressedSize64+1 {
			return fmt.Errorf("record %s: claims %d bytes from %d compressed bytes, more than DEFLATE can produce (corrupt or a zip bomb)", f.Name, f.UncompressedSize64, f.CompressedSize64)
		}
	default:
		return fmt.Errorf("record %s: unsupported zip compression method %d", f.Name, f.Method)
	}
	return nil
}

// readZipFile reads a small record whole; archive/zip checks its CRC-32.
// Inflation stops one byte past the size the directory declares, so a stream
// that holds more is an error, never a larger allocation.
func readZipFile(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("record %s is %d bytes, over the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, int64(f.UncompressedSize64)+1))
	if err == nil && uint64(len(data)) != f.UncompressedSize64 {
		err = fmt.Errorf("holds %d bytes, the directory says %d", len(data), f.UncompressedSize64)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s (corrupt?): %w", f.Name, err)
	}
	return data, nil
}

// storageRecord is one data/<key> record of the archive. torch stores
// records uncompressed, so their bytes are used in place in the mapped file
// after one CRC-32 check; a compressed record is inflated on every read.
type storageRecord struct {
	f    *zip.File
	file []byte
	size int64

	once   sync.Once
	mapped []byte // the verified bytes in the mapped file, when stored
	err    error
}

func (r *storageRecord) bytes() (data []byte, aliased bool, err error) {
	if r.f.Method != zip.Store {
		data, err := readZipFile(r.f, uint64(r.size))
		return data, false, err
	}
	r.once.Do(func() {
		off, err := r.f.DataOffset()
		if err != nil {
			r.err = fmt.Errorf("record %s: %w", r.f.Name, err)
			return
		}
		if off < 0 || r.size < 0 || off > int64(len(r.file)) || r.size > int64(len(r.file))-off {
			r.err = fmt.Errorf("record %s: data runs past the end of the file (truncated?)", r.f.Name)
			return
		}
		data := r.file[off : off+r.size : off+r.size]
		if got := crc32.ChecksumIEEE(data); got != r.f.CRC32 {
			r.err = fmt.Errorf("record %s: CRC-32 mismatch (file corrupt): got %08x, want %08x", r.f.Name, got, r.f.CRC32)
			return
		}
		r.mapped = data
	})
	return r.mapped, true, r.err
}

// viewSource is a tensor that views a storage record with an offset and
// strides, possibly sharing the storage with other tensors.
type viewSource struct {
	rec        tensorSource // the whole storage
	elem       int64
	offset     int64
	shape      []int64
	stride     []int64
	numel      int64
	contiguous bool
}

func newViewSource(rec tensorSource, t *tensorRef) (*viewSource, error) {
	elem := t.storage.dtype.Size()
	nbytes, err := checkedBytes(t.storage.dtype, t.shape)
	if err != nil {
		return nil, err
	}
	v := &viewSource{rec: rec, elem: elem, offset: t.offset, shape: t.shape, stride: t.stride, numel: nbytes / elem, contiguous: true}
	if v.numel == 0 {
		return v, nil
	}
	// The last element the view touches must lie inside the storage.
	last := uint64(t.offset)
	expected := int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		hi, lo := bits.Mul64(uint64(t.shape[i]-1), uint64(t.stride[i]))
		var carry uint64
		last, carry = bits.Add64(last, lo, 0)
		if hi != 0 || carry != 0 || last > math.MaxInt64 {
			return nil, errors.New("size and stride reach past any storage")
		}
		if t.shape[i] != 1 && t.stride[i] != expected {
			v.contiguous = false
		}
		expected *= t.shape[i]
	}
	if last >= uint64(t.storage.numel) {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of a storage of %d", t.offset, t.shape, t.stride, last, t.storage.numel)
	}
	return v, nil
}

func (v *viewSource) bytes() ([]byte, bool, error) {
	if v.numel == 0 {
		return []byte{}, false, nil
	}
	src, aliased, err := v.rec.bytes()
	if err != nil {
		return nil, false, err
	}
	if v.contiguous {
		start := v.offset * v.elem
		end := start + v.numel*v.elem
		return src[start:end:end], aliased, nil
	}
	return gather(src, v.elem, v.offset, v.shape, v.stride, v.numel), false, nil
}

// gather copies a strided view of src (elements of elem bytes) into a new
// row-major buffer.
func gather(src []byte, elem, offset int64, shape, stride []int64, numel int64) []byte {
	out := make([]byte, numel*elem)
	nd := len(shape)
	if nd == 0 {
		copy(out, src[offset*elem:(offset+1)*elem])
		return out
	}
	inner, istride := shape[nd-1], stride[nd-1]
	idx := make([]int64, nd)
	base, pos := offset, int64(0)
	for {
		p := base
		if istride == 1 {
			pos += int64(copy(out[pos:], src[p*elem:(p+inner)*elem]))
		} else {
			for j := int64(0); j < inner; j++ {
				pos += int64(copy(out[pos:pos+elem], src[p*elem:(p+1)*elem]))
				p += istride
			}
		}
		d := nd - 2
		for ; d >= 0; d-- {
			idx[d]++
			base += stride[d]
			if idx[d] < shape[d] {
				break
			}
			base -= stride[d] * shape[d]
			idx[d] = 0
		}
		if d < 0 {
			return out
		}
	}
}
