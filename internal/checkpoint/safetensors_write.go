package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode/utf8"
)

// WriteSafetensors writes tensors and metadata (for example
// {"format": "pt"}; nil writes no "__metadata__" entry) to path in the
// safetensors format, atomically: the file is written to a temporary file in
// the same directory, synced and renamed over path. The header and the
// order of the tensors are those the Python safetensors library writes
// (tensors sorted by dtype, widest first, then by name), so the file loads
// with safetensors.torch.load_file and HuggingFace transformers.
func WriteSafetensors(path string, tensors []NamedTensor, metadata map[string]string) error {
	infos := make([]TensorInfo, len(tensors))
	byName := make(map[string]*NamedTensor, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		infos[i] = TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape}
		byName[t.Name] = t
	}
	return WriteSafetensorsFunc(path, infos, metadata, func(info TensorInfo) ([]byte, error) {
		return byName[info.Name].Data, nil
	})
}

// WriteSafetensorsFunc is WriteSafetensors for callers that produce each
// tensor's bytes on demand: data is called once per tensor, in file order,
// and must return NumBytes little-endian bytes. A caller that copies one
// tensor at a time out of a model so never holds a second copy of all
// weights.
func WriteSafetensorsFunc(path string, tensors []TensorInfo, metadata map[string]string, data func(TensorInfo) ([]byte, error)) (err error) {
	order, header, err := safetensorsLayout(tensors, metadata)
	if err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	w.Write(lenBuf[:])
	w.Write(header)
	for _, t := range order {
		b, err := data(t)
		if err != nil {
			return fmt.Errorf("checkpoint: write %s: tensor %q: %w", path, t.Name, err)
		}
		if want := t.NumBytes(); int64(len(b)) != want {
			return fmt.Errorf("checkpoint: write %s: tensor %q: %d bytes of data, %v%v needs %d", path, t.Name, len(b), t.DType, t.Shape, want)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("checkpoint: write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint: write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable; failure is ignored (some file systems do
// not support syncing directories).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// safetensorsLayout validates the tensors and returns them in file order
// with the padded JSON header.
func safetensorsLayout(tensors []TensorInfo, metadata map[string]string) ([]TensorInfo, []byte, error) {
	order := make([]TensorInfo, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		switch {
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("tensor name %q is reserved", metadataKey)
		case !utf8.ValidString(t.Name):
			return nil, nil, fmt.Errorf("tensor name %q is not valid UTF-8", t.Name)
		case seen[t.Name]:
			return nil, nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		if _, err := checkedBytes(t.DType, t.Shape); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		t.Shape = cloneShape(t.Shape)
		order[i] = t
	}
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := safetensorsRank[order[i].DType], safetensorsRank[order[j].DType]
		if ri != rj {
			return ri > rj
		}
		return order[i].Name < order[j].Name
	})

	var h bytes.Buffer
	h.WriteByte('{')
	if metadata != nil {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("metadata %q is not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSONString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	var off int64
	for i, t := range order {
		if i > 0 || metadata != nil {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":"`)
		h.WriteString(t.DType.String())
		h.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.FormatInt(d, 10))
		}
		n := t.NumBytes()
		if off > (1<<62)-n {
			return nil, nil, errors.New("tensors are too large for one file")
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+n)
		off += n
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return order, h.Bytes(), nil
}

// writeJSONString writes s as a JSON string the way serde_json (used by the
// Python safetensors library) does: only '"', '\\' and control characters
// are escaped; other characters, non-ASCII included, are written as is.
func writeJSONString(w io.ByteWriter, s string) {
	const hex = "0123456789abcdef"
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			w.WriteByte('\\')
			w.WriteByte('"')
		case '\\':
			w.WriteByte('\\')
			w.WriteByte('\\')
		case '\b':
			w.WriteByte('\\')
			w.WriteByte('b')
		case '\f':
			w.WriteByte('\\')
			w.WriteByte('f')
		case '\n':
			w.WriteByte('\\')
			w.WriteByte('n')
		case '\r':
			w.WriteByte('\\')
			w.WriteByte('r')
		case '\t':
			w.WriteByte('\\')
			w.WriteByte('t')
		default:
			if c < 0x20 {
				for _, b := range []byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&0xf]} {
					w.WriteByte(b)
				}
			} else {
				w.WriteByte(c)
			}
		}
	}
	w.WriteByte('"')
}
