package gguf

import (
	"fmt"

	"github.com/golamini/golamini/internal/checkpoint"
)

// File is an opened GGUF file. Its methods may be called from several
// goroutines at once, except Close.
type File struct {
	// Path is the file's path ("" for Parse).
	Path string
	// Version is the GGUF version, 2 or 3.
	Version uint32
	// KV is the metadata in file order.
	KV []KV
	// Tensors describes the tensors in file order.
	Tensors []TensorInfo
	// Alignment is the alignment of tensor data (general.alignment or 32).
	Alignment uint64
	// DataOffset is the file offset of the data section.
	DataOffset int64

	kv      map[string]int
	tensors map[string]int
	sizes   []int64
	data    []byte
	unmap   func() error
}

// Open maps the GGUF file at path read-only and parses its header. Tensor
// data is read from the mapping only when asked for.
func Open(path string) (*File, error) {
	data, unmap, err := checkpoint.MapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.Path, f.unmap = path, unmap
	return f, nil
}

// Parse parses a whole GGUF file held in memory. The File refers to b,
// which must stay unchanged while it is used.
func Parse(b []byte) (*File, error) {
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

func parse(b []byte) (*File, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	f := &File{
		Version: h.version, KV: h.kv, Tensors: h.tensors, Alignment: h.alignment, DataOffset: h.dataOffset,
		kv: make(map[string]int, len(h.kv)), tensors: make(map[string]int, len(h.tensors)), sizes: h.sizes, data: b,
	}
	for i, kv := range h.kv {
		f.kv[kv.Key] = i
	}
	for i, t := range h.tensors {
		f.tensors[t.Name] = i
	}
	return f, nil
}

// name is the file's name for error messages.
func (f *File) name() string {
	if f.Path == "" {
		return "<memory>"
	}
	return f.Path
}

// Get returns the metadata value of key and whether it exists.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kv[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Tensor returns the description of the named tensor and whether it
// exists.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns the named tensor's stored bytes (quantized blocks for
// a quantized type). The slice points into the mapped file: it must not be
// modified and is valid only until Close.
func (f *File) TensorData(name string) (TensorInfo, []byte, error) {
	i, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("gguf: %s: no tensor %q", f.name(), name)
	}
	if f.data == nil {
		return TensorInfo{}, nil, fmt.Errorf("gguf: %s: tensor %q: file is closed", f.name(), name)
	}
	t := f.Tensors[i]
	start := f.DataOffset + int64(t.Offset) // both checked against the file size by parseHeader
	return t, f.data[start : start+f.sizes[i] : start+f.sizes[i]], nil
}

// ReadFloat32 returns the named tensor dequantized to float32, in row-major
// order (see Dequantize).
func (f *File) ReadFloat32(name string) ([]float32, error) {
	t, data, err := f.TensorData(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	if err := Dequantize(t.Type, data, out); err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.name(), name, err)
	}
	return out, nil
}

// Close releases the mapping. Slices returned by TensorData become invalid.
func (f *File) Close() error {
	if f.unmap == nil {
		f.data = nil
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	if err != nil {
		return fmt.Errorf("gguf: %s: %w", f.name(), err)
	}
	return nil
}
