package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// WriteTensor is one tensor to write: Shape is row-major (as torch and
// numpy see it; the file stores it reversed) and Data holds the stored
// bytes of Type (see Quantize).
type WriteTensor struct {
	Name  string
	Type  TensorType
	Shape []int64
	Data  []byte
	// Load, when Data is nil, produces the data while the file is written,
	// so that a large model is converted one tensor at a time.
	Load func() ([]byte, error)
}

// Writer collects metadata and tensors and writes a GGUF v3 file laid out
// as gguf.GGUFWriter lays it out: header, metadata in the order set,
// tensor descriptions in the order added, then each tensor's data padded
// to the alignment.
type Writer struct {
	kv        []KV
	keys      map[string]int
	tensors   []WriteTensor
	names     map[string]bool
	alignment uint64
}

// NewWriter returns an empty Writer with the default alignment (32).
func NewWriter() *Writer {
	return &Writer{keys: map[string]int{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// Set sets the metadata key to a Go value (see NewValue for the types);
// setting a key again replaces its value in place. general.alignment must
// be a uint32 power of two and sets the alignment.
func (w *Writer) Set(key string, v any) error {
	val, err := NewValue(v)
	if err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	return w.SetValue(key, val)
}

// SetValue is Set for a Value.
func (w *Writer) SetValue(key string, val Value) error {
	if key == "" {
		return errors.New("gguf: empty metadata key")
	}
	if key == KeyAlignment {
		a, ok := val.Any().(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: metadata %q must be a uint32 power of two", KeyAlignment)
		}
		w.alignment = uint64(a)
	}
	if val.Type == ValueArray && val.Len() == 0 {
		// llama.cpp reads an empty array fine, but gguf-py's writer refuses one; keep to what both write.
		return fmt.Errorf("gguf: metadata %q: empty array", key)
	}
	if i, ok := w.keys[key]; ok {
		w.kv[i].Value = val
		return nil
	}
	w.keys[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: val})
	return nil
}

// AddTensor adds a tensor; its data must have the size its type and shape
// imply. The Writer keeps t.Data until the file is written.
func (w *Writer) AddTensor(t WriteTensor) error {
	if t.Name == "" {
		return errors.New("gguf: tensor with an empty name")
	}
	if w.names[t.Name] {
		return fmt.Errorf("gguf: tensor %q added twice", t.Name)
	}
	if len(t.Shape) == 0 || len(t.Shape) > maxDims {
		return fmt.Errorf("gguf: tensor %q: shape %v: want 1 to %d dimensions", t.Name, t.Shape, maxDims)
	}
	size, err := tensorBytes(t.Type, reversed(t.Shape))
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	if t.Data == nil && t.Load == nil {
		return fmt.Errorf("gguf: tensor %q: no data", t.Name)
	}
	if t.Data != nil && int64(len(t.Data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, %v%v needs %d", t.Name, len(t.Data), t.Type, t.Shape, size)
	}
	w.names[t.Name] = true
	t.Shape = append([]int64(nil), t.Shape...)
	w.tensors = append(w.tensors, t)
	return nil
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	le := binary.LittleEndian
	var buf []byte
	buf = append(buf, Magic...)
	buf = le.AppendUint32(buf, 3)
	buf = le.AppendUint64(buf, uint64(len(w.tensors)))
	buf = le.AppendUint64(buf, uint64(len(w.kv)))
	for _, kv := range w.kv {
		buf = appendString(buf, kv.Key)
		buf = le.AppendUint32(buf, uint32(kv.Value.Type))
		var err error
		if buf, err = appendValue(buf, kv.Value); err != nil {
			return 0, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
	}
	var off uint64
	for _, t := range w.tensors {
		buf = appendString(buf, t.Name)
		buf = le.AppendUint32(buf, uint32(len(t.Shape)))
		for i := len(t.Shape) - 1; i >= 0; i-- {
			buf = le.AppendUint64(buf, uint64(t.Shape[i]))
		}
		buf = le.AppendUint32(buf, uint32(t.Type))
		buf = le.AppendUint64(buf, off)
		size, _ := tensorBytes(t.Type, reversed(t.Shape))
		off += pad(uint64(size), w.alignment)
	}
	buf = append(buf, make([]byte, pad(uint64(len(buf)), w.alignment)-uint64(len(buf)))...)
	cw.Write(buf)
	zeros := make([]byte, w.alignment)
	for _, t := range w.tensors {
		data := t.Data
		if data == nil {
			var err error
			if data, err = t.Load(); err != nil {
				return cw.n, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
			}
			if size, _ := tensorBytes(t.Type, reversed(t.Shape)); int64(len(data)) != size {
				return cw.n, fmt.Errorf("gguf: tensor %q: %d bytes of data, %v%v needs %d", t.Name, len(data), t.Type, t.Shape, size)
			}
		}
		cw.Write(data)
		cw.Write(zeros[:pad(uint64(len(data)), w.alignment)-uint64(len(data))])
		if cw.err != nil {
			return cw.n, cw.err
		}
	}
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, cw.err
}

// WriteFile writes the file to path atomically: into a temporary file in
// the same directory, synced, then renamed over path. On error nothing is
// left behind and an existing file at path is unchanged.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	return nil
}

func reversed(s []int64) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[len(s)-1-i] = d
	}
	return out
}

func pad(x, a uint64) uint64 { return (x + a - 1) / a * a }

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue encodes v's payload (without its type, which the caller
// writes).
func appendValue(b []byte, v Value) ([]byte, error) {
	le := binary.LittleEndian
	switch x := v.Any().(type) {
	case uint8:
		return append(b, x), nil
	case int8:
		return append(b, byte(x)), nil
	case uint16:
		return le.AppendUint16(b, x), nil
	case int16:
		return le.AppendUint16(b, uint16(x)), nil
	case uint32:
		return le.AppendUint32(b, x), nil
	case int32:
		return le.AppendUint32(b, uint32(x)), nil
	case float32:
		return le.AppendUint32(b, math.Float32bits(x)), nil
	case bool:
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case string:
		return appendString(b, x), nil
	case uint64:
		return le.AppendUint64(b, x), nil
	case int64:
		return le.AppendUint64(b, uint64(x)), nil
	case float64:
		return le.AppendUint64(b, math.Float64bits(x)), nil
	}
	if v.Type != ValueArray {
		return nil, fmt.Errorf("value of type %v holds a %T", v.Type, v.Any())
	}
	return appendArrayBody(b, v)
}

// appendArrayBody appends an array's element type, count and elements.
func appendArrayBody(b []byte, v Value) ([]byte, error) {
	le := binary.LittleEndian
	if v.Elem == ValueArray {
		b = le.AppendUint32(b, uint32(ValueArray))
		b = le.AppendUint64(b, uint64(v.Len()))
		var err error
		for _, e := range v.Any().([]Value) {
			if b, err = appendArrayBody(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	b = le.AppendUint32(b, uint32(v.Elem))
	b = le.AppendUint64(b, uint64(v.Len()))
	var err error
	each := func(n int, at func(i int) any) {
		for i := 0; i < n && err == nil; i++ {
			var e Value
			if e, err = NewValue(at(i)); err == nil {
				b, err = appendValue(b, e)
			}
		}
	}
	switch x := v.Any().(type) {
	case []uint8:
		b = append(b, x...)
	case []int8:
		each(len(x), func(i int) any { return x[i] })
	case []uint16:
		each(len(x), func(i int) any { return x[i] })
	case []int16:
		each(len(x), func(i int) any { return x[i] })
	case []uint32:
		each(len(x), func(i int) any { return x[i] })
	case []int32:
		each(len(x), func(i int) any { return x[i] })
	case []float32:
		each(len(x), func(i int) any { return x[i] })
	case []bool:
		each(len(x), func(i int) any { return x[i] })
	case []string:
		for _, s := range x {
			b = appendString(b, s)
		}
	case []uint64:
		each(len(x), func(i int) any { return x[i] })
	case []int64:
		each(len(x), func(i int) any { return x[i] })
	case []float64:
		each(len(x), func(i int) any { return x[i] })
	default:
		return nil, fmt.Errorf("array of %v holds a %T", v.Elem, v.Any())
	}
	return b, err
}
