package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the alignment of tensor data when general.alignment
// is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the alignment of tensor data.
const KeyAlignment = "general.alignment"

// maxDims is the most dimensions a GGML tensor has (GGML_MAX_DIMS).
const maxDims = 4

// maxArrayDepth bounds the nesting of arrays of arrays.
const maxArrayDepth = 8

// ErrFormat is wrapped by every error about a malformed GGUF file.
var ErrFormat = errors.New("malformed GGUF file")

// ErrUnsupported is wrapped by errors about valid GGUF content this package
// cannot handle (a big-endian or version 1 file, a tensor type it cannot
// dequantize).
var ErrUnsupported = errors.New("unsupported GGUF content")

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name string
	Type TensorType
	// Dims are GGML's ne[]: Dims[0] is the length of a row (the fastest
	// varying dimension). Shape returns them in row-major order.
	Dims []int64
	// Offset is the start of the tensor's data relative to the data
	// section.
	Offset uint64
}

// Shape returns the row-major shape (Dims reversed), as numpy and torch see
// the tensor.
func (t TensorInfo) Shape() []int64 {
	out := make([]int64, len(t.Dims))
	for i, d := range t.Dims {
		out[len(t.Dims)-1-i] = d
	}
	return out
}

// NumElements returns the number of values of the tensor.
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// NumBytes returns the size of the tensor's data in bytes.
func (t TensorInfo) NumBytes() int64 {
	if t.Type.BlockSize() == 0 {
		return 0
	}
	return t.NumElements() / t.Type.BlockSize() * t.Type.TypeSize()
}

// tensorBytes checks a tensor's dims against its type and returns its byte
// size, with every product overflow-checked.
func tensorBytes(typ TensorType, dims []int64) (int64, error) {
	tr, ok := typeTable[typ]
	if !ok {
		return 0, fmt.Errorf("%w: unknown tensor type %d", ErrFormat, uint32(typ))
	}
	n := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension %d", ErrFormat, d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("%w: dimensions %v are too large", ErrFormat, dims)
		}
		n = lo
	}
	if len(dims) > 0 && dims[0]%tr.blockSize != 0 {
		return 0, fmt.Errorf("%w: row length %d is not a multiple of the %v block size %d", ErrFormat, dims[0], typ, tr.blockSize)
	}
	hi, lo := bits.Mul64(n/uint64(tr.blockSize), uint64(tr.typeSize))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("%w: dimensions %v are too large", ErrFormat, dims)
	}
	return int64(lo), nil
}

// header is a parsed GGUF header: everything before the tensor data.
type header struct {
	version    uint32
	kv         []KV
	tensors    []TensorInfo
	sizes      []int64 // byte size of each tensor
	alignment  uint64
	dataOffset int64 // absolute start of the data section
}

// cursor reads little-endian values from b, failing with the offset and
// what it was reading when the bytes run out.
type cursor struct {
	b   []byte
	off int
}

func (c *cursor) remaining() int { return len(c.b) - c.off }

func (c *cursor) need(n int, what string) error {
	if n < 0 || c.remaining() < n {
		return fmt.Errorf("%w: %s at offset %d needs %d bytes, %d remain (truncated?)", ErrFormat, what, c.off, n, c.remaining())
	}
	return nil
}

func (c *cursor) u32(what string) (uint32, error) {
	if err := c.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(c.b[c.off:])
	c.off += 4
	return v, nil
}

func (c *cursor) u64(what string) (uint64, error) {
	if err := c.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(c.b[c.off:])
	c.off += 8
	return v, nil
}

// str reads a GGUF string: a uint64 length and that many bytes.
func (c *cursor) str(what string) (string, error) {
	n, err := c.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(c.remaining()) {
		return "", fmt.Errorf("%w: %s at offset %d has length %d, but only %d bytes remain", ErrFormat, what, c.off-8, n, c.remaining())
	}
	s := string(c.b[c.off : c.off+int(n)])
	c.off += int(n)
	return s, nil
}

// parseHeader parses and validates the header of a whole GGUF file held in b.
func parseHeader(b []byte) (*header, error) {
	c := &cursor{b: b}
	if len(b) < 4 || string(b[:4]) != Magic {
		return nil, fmt.Errorf("%w: no GGUF magic at the start (not a GGUF file)", ErrFormat)
	}
	c.off = 4
	version, err := c.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version&0xffff == 0 && (bits.ReverseBytes32(version) == 2 || bits.ReverseBytes32(version) == 3):
		return nil, fmt.Errorf("%w: big-endian GGUF file (version %d byte-swapped)", ErrUnsupported, bits.ReverseBytes32(version))
	case version == 1:
		return nil, fmt.Errorf("%w: GGUF version 1 (only versions 2 and 3 are read)", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: unknown GGUF version %d", ErrFormat, version)
	}
	h := &header{version: version, alignment: DefaultAlignment}
	nTensors, err := c.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := c.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// A metadata entry takes at least 13 bytes (key length, type, one-byte
	// value), a tensor description at least 24: counts that the file
	// cannot hold are rejected before anything is allocated.
	if nKV > uint64(c.remaining())/13 {
		return nil, fmt.Errorf("%w: metadata count %d is more than the file can hold", ErrFormat, nKV)
	}
	h.kv = make([]KV, 0, nKV)
	seen := make(map[string]bool, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := c.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return nil, err
		}
		if key == "" || !utf8.ValidString(key) {
			return nil, fmt.Errorf("%w: metadata key %d (%q) is empty or not UTF-8", ErrFormat, i, key)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: metadata key %q appears twice", ErrFormat, key)
		}
		seen[key] = true
		t, err := c.u32(fmt.Sprintf("type of metadata %q", key))
		if err != nil {
			return nil, err
		}
		v, err := c.value(ValueType(t), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		h.kv = append(h.kv, KV{Key: key, Value: v})
	}
	for _, kv := range h.kv {
		if kv.Key != KeyAlignment {
			continue
		}
		a, ok := kv.Value.Any().(uint32)
		if !ok {
			return nil, fmt.Errorf("%w: metadata %q is a %s, want UINT32", ErrFormat, KeyAlignment, kv.Value.typeName())
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: metadata %q is %d, want a power of two", ErrFormat, KeyAlignment, a)
		}
		h.alignment = uint64(a)
	}

	if nTensors > uint64(c.remaining())/24 {
		return nil, fmt.Errorf("%w: tensor count %d is more than the file can hold", ErrFormat, nTensors)
	}
	h.tensors = make([]TensorInfo, 0, nTensors)
	h.sizes = make([]int64, 0, nTensors)
	names := make(map[string]bool, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		name, err := c.str(fmt.Sprintf("name of tensor %d", i))
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("%w: tensor %d has an empty name", ErrFormat, i)
		}
		if names[name] {
			return nil, fmt.Errorf("%w: tensor %q appears twice", ErrFormat, name)
		}
		names[name] = true
		ti, size, err := c.tensorInfo(name)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		h.tensors = append(h.tensors, ti)
		h.sizes = append(h.sizes, size)
	}
	start, ok := alignUp(uint64(c.off), h.alignment)
	if !ok || start > uint64(len(b)) && len(h.tensors) > 0 {
		return nil, fmt.Errorf("%w: data section at offset %d is beyond the end of the %d-byte file (truncated?)", ErrFormat, start, len(b))
	}
	h.dataOffset = int64(start)
	dataLen := uint64(0)
	if start < uint64(len(b)) {
		dataLen = uint64(len(b)) - start
	}
	for i, t := range h.tensors {
		if t.Offset%h.alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q: offset %d is not a multiple of the alignment %d", ErrFormat, t.Name, t.Offset, h.alignment)
		}
		end := t.Offset + uint64(h.sizes[i])
		if end < t.Offset || end > dataLen {
			return nil, fmt.Errorf("%w: tensor %q: data [%d, %d) lies beyond the %d bytes of the data section (truncated?)", ErrFormat, t.Name, t.Offset, end, dataLen)
		}
	}
	if err := checkOverlaps(h); err != nil {
		return nil, err
	}
	return h, nil
}

// tensorInfo reads the rest of one tensor description after its name.
func (c *cursor) tensorInfo(name string) (TensorInfo, int64, error) {
	nd, err := c.u32("dimension count")
	if err != nil {
		return TensorInfo{}, 0, err
	}
	if nd == 0 || nd > maxDims {
		return TensorInfo{}, 0, fmt.Errorf("%w: %d dimensions, want 1 to %d", ErrFormat, nd, maxDims)
	}
	dims := make([]int64, nd)
	for j := range dims {
		d, err := c.u64("dimension")
		if err != nil {
			return TensorInfo{}, 0, err
		}
		if d > math.MaxInt64 {
			return TensorInfo{}, 0, fmt.Errorf("%w: dimension %d is too large", ErrFormat, d)
		}
		dims[j] = int64(d)
	}
	t, err := c.u32("type")
	if err != nil {
		return TensorInfo{}, 0, err
	}
	off, err := c.u64("data offset")
	if err != nil {
		return TensorInfo{}, 0, err
	}
	ti := TensorInfo{Name: name, Type: TensorType(t), Dims: dims, Offset: off}
	size, err := tensorBytes(ti.Type, dims)
	if err != nil {
		return TensorInfo{}, 0, err
	}
	return ti, size, nil
}

// checkOverlaps rejects tensors whose data ranges overlap.
func checkOverlaps(h *header) error {
	idx := make([]int, len(h.tensors))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return h.tensors[idx[a]].Offset < h.tensors[idx[b]].Offset })
	for k := 1; k < len(idx); k++ {
		p, q := idx[k-1], idx[k]
		if h.tensors[p].Offset+uint64(h.sizes[p]) > h.tensors[q].Offset {
			return fmt.Errorf("%w: tensors %q and %q overlap", ErrFormat, h.tensors[p].Name, h.tensors[q].Name)
		}
	}
	return nil
}

func alignUp(x, a uint64) (uint64, bool) {
	r := (x + a - 1) / a * a
	return r, r >= x
}

// value reads one metadata value of type t.
func (c *cursor) value(t ValueType, depth int) (Value, error) {
	if !t.valid() {
		return Value{}, fmt.Errorf("%w: unknown value type %d", ErrFormat, uint32(t))
	}
	if t == ValueArray {
		return c.array(depth)
	}
	if t == ValueString {
		s, err := c.str("string")
		return Value{Type: t, v: s}, err
	}
	n := t.fixedSize()
	if err := c.need(n, t.String()); err != nil {
		return Value{}, err
	}
	b := c.b[c.off : c.off+n]
	c.off += n
	v, err := scalar(t, b)
	return Value{Type: t, v: v}, err
}

func scalar(t ValueType, b []byte) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return b[0], nil
	case ValueInt8:
		return int8(b[0]), nil
	case ValueBool:
		if b[0] > 1 {
			return nil, fmt.Errorf("%w: BOOL value %d is not 0 or 1", ErrFormat, b[0])
		}
		return b[0] == 1, nil
	case ValueUint16:
		return le.Uint16(b), nil
	case ValueInt16:
		return int16(le.Uint16(b)), nil
	case ValueUint32:
		return le.Uint32(b), nil
	case ValueInt32:
		return int32(le.Uint32(b)), nil
	case ValueFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case ValueUint64:
		return le.Uint64(b), nil
	case ValueInt64:
		return int64(le.Uint64(b)), nil
	case ValueFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	}
	return nil, fmt.Errorf("%w: value type %v is not a scalar", ErrFormat, t)
}

// array reads an ARRAY value: element type, count, elements.
func (c *cursor) array(depth int) (Value, error) {
	if depth >= maxArrayDepth {
		return Value{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrFormat, maxArrayDepth)
	}
	et, err := c.u32("array element type")
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.valid() {
		return Value{}, fmt.Errorf("%w: array of unknown value type %d", ErrFormat, et)
	}
	n, err := c.u64("array length")
	if err != nil {
		return Value{}, err
	}
	min := elem.fixedSize()
	if min == 0 {
		min = 8 // a string's or an array's length field
		if elem == ValueArray {
			min = 12
		}
	}
	if n > uint64(c.remaining()/min) {
		return Value{}, fmt.Errorf("%w: array of %d %v at offset %d needs at least %d bytes, %d remain", ErrFormat, n, elem, c.off, n*uint64(min), c.remaining())
	}
	v := Value{Type: ValueArray, Elem: elem}
	switch elem {
	case ValueString:
		s := make([]string, n)
		for i := range s {
			if s[i], err = c.str("string"); err != nil {
				return Value{}, fmt.Errorf("element %d: %w", i, err)
			}
		}
		v.v = s
		return v, nil
	case ValueArray:
		s := make([]Value, n)
		for i := range s {
			if s[i], err = c.array(depth + 1); err != nil {
				return Value{}, fmt.Errorf("element %d: %w", i, err)
			}
		}
		v.v = s
		return v, nil
	}
	raw := c.b[c.off : c.off+int(n)*min]
	c.off += int(n) * min
	v.v, err = scalarArray(elem, raw, int(n))
	return v, err
}

func scalarArray(t ValueType, b []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return append([]uint8(nil), b...), nil
	case ValueInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out, nil
	case ValueBool:
		out := make([]bool, n)
		for i := range out {
			if b[i] > 1 {
				return nil, fmt.Errorf("%w: element %d: BOOL value %d is not 0 or 1", ErrFormat, i, b[i])
			}
			out[i] = b[i] == 1
		}
		return out, nil
	case ValueUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return out, nil
	case ValueInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return out, nil
	case ValueUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return out, nil
	case ValueInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return out, nil
	case ValueFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return out, nil
	case ValueUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return out, nil
	case ValueInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return out, nil
	case ValueFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: value type %v is not a scalar", ErrFormat, t)
}
