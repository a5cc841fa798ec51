package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"unicode/utf8"
)

// maxSafetensorsHeader is the largest JSON header accepted, the same limit
// the Python safetensors library applies (100 MB).
const maxSafetensorsHeader = 100 << 20

// metadataKey is the reserved header entry that holds string metadata.
const metadataKey = "__metadata__"

// stTensor is one tensor entry of a safetensors header; begin and end are
// absolute byte offsets in the file.
type stTensor struct {
	info       TensorInfo
	begin, end int64
}

// safetensorsHeader is a parsed and validated safetensors header.
type safetensorsHeader struct {
	metadata map[string]string
	tensors  []stTensor // sorted by begin
}

// stEntry is the JSON form of one tensor in the header.
type stEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseSafetensors parses and validates the header of a whole safetensors
// file held in b: 8-byte little-endian header length, JSON header, then the
// data buffer, which the tensors must cover exactly, without gaps or
// overlaps (the rules of the Python safetensors library).
func parseSafetensors(b []byte) (*safetensorsHeader, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for a safetensors header (truncated?)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxSafetensorsHeader {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit (not a safetensors file, or corrupt)", n, maxSafetensorsHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d exceeds the file size %d (truncated?)", n, len(b))
	}
	hdr := b[8 : 8+n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("header does not start with '{' (not a safetensors file, or corrupt)")
	}
	if !utf8.Valid(hdr) {
		return nil, errors.New("header is not valid UTF-8")
	}
	dataStart := int64(8 + n)
	dataLen := int64(len(b)) - dataStart

	h := &safetensorsHeader{}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("header JSON: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("header JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("header JSON: unexpected %v", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("header JSON: duplicate entry %q", name)
		}
		seen[name] = true
		if name == metadataKey {
			if err := dec.Decode(&h.metadata); err != nil {
				return nil, fmt.Errorf("header JSON: %s: want an object of strings: %w", metadataKey, err)
			}
			continue
		}
		var e stEntry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("header JSON: tensor %q: %w", name, err)
		}
		t, err := e.validate(name, dataStart)
		if err != nil {
			return nil, fmt.Errorf("header: tensor %q: %w", name, err)
		}
		h.tensors = append(h.tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("header JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("header JSON: trailing data after the header object")
	}

	sort.Slice(h.tensors, func(i, j int) bool {
		if h.tensors[i].begin != h.tensors[j].begin {
			return h.tensors[i].begin < h.tensors[j].begin
		}
		return h.tensors[i].end < h.tensors[j].end
	})
	pos := dataStart
	for _, t := range h.tensors {
		if t.begin != pos {
			if t.begin < pos {
				return nil, fmt.Errorf("header: tensor %q: data_offsets overlap the previous tensor", t.info.Name)
			}
			return nil, fmt.Errorf("header: tensor %q: data_offsets leave a gap of %d bytes before it", t.info.Name, t.begin-pos)
		}
		pos = t.end
	}
	if end := pos - dataStart; end != dataLen {
		if end > dataLen {
			return nil, fmt.Errorf("tensor data needs %d bytes but the file holds %d after the header (truncated?)", end, dataLen)
		}
		return nil, fmt.Errorf("tensor data covers %d bytes but the file holds %d after the header", end, dataLen)
	}
	return h, nil
}

// validate checks one header entry and returns it with absolute offsets.
func (e stEntry) validate(name string, dataStart int64) (stTensor, error) {
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return stTensor{}, errors.New("entry needs dtype, shape and data_offsets")
	}
	dt, err := ParseDType(*e.DType)
	if err != nil {
		return stTensor{}, err
	}
	nbytes, err := checkedBytes(dt, *e.Shape)
	if err != nil {
		return stTensor{}, err
	}
	off := *e.DataOffsets
	if len(off) != 2 {
		return stTensor{}, fmt.Errorf("data_offsets has %d values, want 2", len(off))
	}
	if off[0] < 0 || off[1] < off[0] {
		return stTensor{}, fmt.Errorf("invalid data_offsets [%d, %d]", off[0], off[1])
	}
	if off[1]-off[0] != nbytes {
		return stTensor{}, fmt.Errorf("data_offsets [%d, %d] span %d bytes, but %v%v needs %d", off[0], off[1], off[1]-off[0], dt, *e.Shape, nbytes)
	}
	if off[1] > (1<<62)-dataStart {
		return stTensor{}, fmt.Errorf("data_offsets [%d, %d] are out of range", off[0], off[1])
	}
	return stTensor{
		info:  TensorInfo{Name: name, DType: dt, Shape: cloneShape(*e.Shape)},
		begin: dataStart + off[0],
		end:   dataStart + off[1],
	}, nil
}
