package checkpoint

import (
	"fmt"
	"os"
)

// mappedFile is one opened weight file whose bytes are mapped into memory.
type mappedFile struct {
	path  string
	data  []byte
	unmap func() error
}

// openMapped opens and maps path read-only.
func openMapped(path string) (*mappedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &mappedFile{path: path, data: data, unmap: unmap}, nil
}

func (m *mappedFile) close() error {
	if m.unmap == nil {
		return nil
	}
	err := m.unmap()
	m.unmap, m.data = nil, nil
	if err != nil {
		return fmt.Errorf("%s: %w", m.path, err)
	}
	return nil
}

// MapFile maps the regular file at path read-only (reading it into memory
// on systems without mmap) and returns its bytes and the function that
// releases them. The bytes must not be modified or used after release. It
// lets other weight formats (GGUF) share this package's mapping.
func MapFile(path string) ([]byte, func() error, error) {
	mf, err := openMapped(path)
	if err != nil {
		return nil, nil, err
	}
	return mf.data, mf.close, nil
}
