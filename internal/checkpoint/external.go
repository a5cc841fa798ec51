package checkpoint

import "fmt"

// External is a source of tensors in a format this package does not parse
// itself (a GGUF file, whose quantized tensors are dequantized on demand).
type External interface {
	// Tensors describes every tensor.
	Tensors() []TensorInfo
	// ReadTensor returns the named tensor's contiguous little-endian data
	// in its TensorInfo's dtype; the caller owns the slice.
	ReadTensor(name string) ([]byte, error)
	// Close releases the source; Checkpoint.Close calls it.
	Close() error
}

// FromExternal wraps an External source as a Checkpoint, so that loaders
// written for safetensors and .bin files read it tensor by tensor too.
// source names it in errors and format is what Format returns ("gguf").
// The Checkpoint owns x from here on, also when FromExternal fails.
func FromExternal(source, format string, x External) (*Checkpoint, error) {
	c := &Checkpoint{source: source, format: format, entries: map[string]*entry{}}
	c.files = append(c.files, &mappedFile{path: source, unmap: x.Close})
	for _, ti := range x.Tensors() {
		if _, err := checkedBytes(ti.DType, ti.Shape); err != nil {
			c.Close()
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: %w", source, ti.Name, err)
		}
		if _, dup := c.entries[ti.Name]; dup {
			c.Close()
			return nil, fmt.Errorf("checkpoint: %s: tensor %q appears twice", source, ti.Name)
		}
		ti.Shape = cloneShape(ti.Shape)
		c.entries[ti.Name] = &entry{info: ti, file: source, src: &externalSource{x: x, name: ti.Name}}
	}
	c.finish()
	return c, nil
}

// externalSource reads one tensor of an External source.
type externalSource struct {
	x    External
	name string
}

func (s *externalSource) bytes() ([]byte, bool, error) {
	b, err := s.x.ReadTensor(s.name)
	return b, false, err
}
