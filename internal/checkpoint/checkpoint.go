package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Format names returned by Checkpoint.Format.
const (
	FormatSafetensors = "safetensors"
	FormatPyTorch     = "pytorch"
)

// The file names Open looks for in a model directory, in order of
// preference.
const (
	SafetensorsName      = "model.safetensors"
	SafetensorsIndexName = "model.safetensors.index.json"
	PyTorchName          = "pytorch_model.bin"
	PyTorchIndexName     = "pytorch_model.bin.index.json"
)

// tensorSource yields the bytes of one tensor.
type tensorSource interface {
	// bytes returns the tensor's contiguous little-endian data. When
	// aliased is true the slice points into a mapped file: it must not be
	// modified and is valid only until Close.
	bytes() (data []byte, aliased bool, err error)
}

// entry is one tensor of an opened checkpoint.
type entry struct {
	info TensorInfo
	file string // the file holding it, for error messages
	src  tensorSource
}

// ErrInvalid matches (errors.Is) every error about the weight files
// themselves: missing, unreadable, truncated, corrupt or inconsistent
// (a shard index naming absent tensors, a CRC-32 mismatch, a size that
// does not fit the file).
var ErrInvalid = errors.New("invalid or unreadable checkpoint")

// invalidError marks err as ErrInvalid without changing its message.
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{e.err, ErrInvalid} }

func invalid(err error) error {
	if err == nil || errors.Is(err, ErrInvalid) {
		return err
	}
	return &invalidError{err}
}

// Checkpoint is an opened set of weight files: one file, or the shards of a
// sharded checkpoint. Its methods may be called from several goroutines at
// once, Close included (it waits for reads in progress).
type Checkpoint struct {
	// mu is held for reading while tensor bytes are read from the mapped
	// files (and for the whole of a ReadView callback), and for writing by
	// Close, so the files are never unmapped under a reader.
	mu sync.RWMutex

	source   string // the directory or file it was opened from
	format   string
	files    []*mappedFile
	entries  map[string]*entry
	names    []string // sorted
	metadata map[string]string
}

// Open opens the weights of a HuggingFace model directory. It uses the first
// of these that exists: model.safetensors, model.safetensors.index.json
// (with its shards), pytorch_model.bin, pytorch_model.bin.index.json (with
// its shards). Only headers are read; tensor data is read on demand.
//
// Every error it returns matches ErrInvalid, and the os errors it wraps
// (os.ErrNotExist, ...) still match through it.
func Open(dir string) (*Checkpoint, error) {
	c, err := open(dir)
	return c, invalid(err)
}

func open(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: model directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("checkpoint: %s is not a directory (use OpenFile for a single weight file)", dir)
	}
	candidates := []string{SafetensorsName, SafetensorsIndexName, PyTorchName, PyTorchIndexName}
	for _, name := range candidates {
		path := filepath.Join(dir, name)
		// Lstat: a dangling symlink (a hub cache with a missing blob) is an
		// error from OpenFile, not a reason to fall back to another format.
		if _, err := os.Lstat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		var c *Checkpoint
		switch name {
		case SafetensorsIndexName:
			c, err = openIndex(path, FormatSafetensors)
		case PyTorchIndexName:
			c, err = openIndex(path, FormatPyTorch)
		default:
			c, err = OpenFile(path)
		}
		if err != nil {
			return nil, err
		}
		c.source = dir
		return c, nil
	}
	return nil, fmt.Errorf("checkpoint: no model weights in %s: looked for %s", dir, strings.Join(candidates, ", "))
}

// OpenFile opens one weight file: a .safetensors file, or a PyTorch .bin
// (.pt, .pth) file written by torch.save (zip format, torch >= 1.6). The
// format is recognised from the file's first bytes, not its name. Its
// errors match ErrInvalid.
func OpenFile(path string) (*Checkpoint, error) {
	c := &Checkpoint{source: path, entries: map[string]*entry{}}
	if err := c.addFile(path, ""); err != nil {
		c.Close()
		return nil, invalid(err)
	}
	c.finish()
	return c, nil
}

// addFile opens one file and adds its tensors. want, when not empty, is the
// format the file must have (a shard of an index).
func (c *Checkpoint) addFile(path, want string) error {
	mf, err := openMapped(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return c.addMapped(mf, want)
}

// addMapped adds the tensors of an opened file; c owns mf from here on.
func (c *Checkpoint) addMapped(mf *mappedFile, want string) error {
	path := mf.path
	c.files = append(c.files, mf)
	format := sniffFormat(mf.data)
	if want != "" && format != want {
		format = want // let the parser of the expected format say what is wrong
	}
	if c.format == "" {
		c.format = format
	}
	var entries []*entry
	var err error
	switch format {
	case FormatSafetensors:
		entries, err = safetensorsEntries(mf, c)
	default:
		entries, err = torchEntries(mf)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	for _, e := range entries {
		if prev, dup := c.entries[e.info.Name]; dup {
			return fmt.Errorf("checkpoint: tensor %q is in both %s and %s", e.info.Name, prev.file, path)
		}
		c.entries[e.info.Name] = e
	}
	return nil
}

// sniffFormat tells a file's format from its first bytes. A safetensors file
// is recognised by its structure (a plausible header length followed by
// '{'), since its first byte can be anything; zip archives, pickles (torch's
// legacy format) and tar files are PyTorch's; anything else is reported by
// the safetensors parser.
func sniffFormat(b []byte) string {
	if len(b) >= 9 && b[8] == '{' {
		if n := binary.LittleEndian.Uint64(b); n <= maxSafetensorsHeader && n <= uint64(len(b)-8) {
			return FormatSafetensors
		}
	}
	if len(b) >= 4 && string(b[:4]) == "PK\x03\x04" || len(b) >= 2 && b[0] == 0x80 && b[1] <= 5 || isTar(b) {
		return FormatPyTorch
	}
	return FormatSafetensors
}

func safetensorsEntries(mf *mappedFile, c *Checkpoint) ([]*entry, error) {
	h, err := parseSafetensors(mf.data)
	if err != nil {
		return nil, err
	}
	if c.metadata == nil && h.metadata != nil {
		c.metadata = h.metadata
	}
	out := make([]*entry, len(h.tensors))
	for i, t := range h.tensors {
		out[i] = &entry{info: t.info, file: mf.path, src: &sliceSource{data: mf.data[t.begin:t.end:t.end]}}
	}
	return out, nil
}

// sliceSource is a tensor stored contiguously in a mapped file.
type sliceSource struct{ data []byte }

func (s *sliceSource) bytes() ([]byte, bool, error) { return s.data, true, nil }

// finish sorts the tensor names once all files are added.
func (c *Checkpoint) finish() {
	c.names = make([]string, 0, len(c.entries))
	for name := range c.entries {
		c.names = append(c.names, name)
	}
	sort.Strings(c.names)
}

// Tensors returns the description of every tensor, sorted by name.
func (c *Checkpoint) Tensors() []TensorInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]TensorInfo, len(c.names))
	for i, name := range c.names {
		info := c.entries[name].info
		info.Shape = cloneShape(info.Shape)
		out[i] = info
	}
	return out
}

// Info returns the description of the named tensor and whether it exists.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := e.info
	info.Shape = cloneShape(info.Shape)
	return info, true
}

// Format returns "safetensors" or "pytorch".
func (c *Checkpoint) Format() string { return c.format }

// Metadata returns the "__metadata__" strings of a safetensors checkpoint
// (of its first shard when sharded), or nil.
func (c *Checkpoint) Metadata() map[string]string {
	if c.metadata == nil {
		return nil
	}
	out := make(map[string]string, len(c.metadata))
	for k, v := range c.metadata {
		out[k] = v
	}
	return out
}

// Files returns the paths of the weight files opened, in the order opened.
func (c *Checkpoint) Files() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

func (c *Checkpoint) lookup(name string) (*entry, error) {
	if c.entries == nil {
		return nil, fmt.Errorf("checkpoint: %s: tensor %q: checkpoint is closed", c.source, name)
	}
	e, ok := c.entries[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint: %s: no tensor %q", c.source, name)
	}
	return e, nil
}

// ReadRaw returns the named tensor's description and its contiguous data,
// little-endian, in the stored dtype. The bytes are a fresh copy the caller
// owns (a non-contiguous PyTorch view is gathered into row-major order).
func (c *Checkpoint) ReadRaw(name string) (TensorInfo, []byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	info, data, aliased, err := c.view(name)
	if err != nil {
		return TensorInfo{}, nil, err
	}
	if aliased {
		data = append([]byte(nil), data...)
	}
	return info, data, nil
}

// ReadView is ReadRaw without the copy where it can: fn gets the tensor's
// data in the host's byte order (little-endian hosts get the mapped file's
// bytes themselves), so it may be handed to code that reads native numbers.
// The bytes are valid only while fn runs and must not be modified or kept:
// Close waits for running callbacks, so the mapping cannot go away under
// them. Loaders that convert straight into their own memory use it.
func (c *Checkpoint) ReadView(name string, fn func(info TensorInfo, data []byte) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	info, data, aliased, err := c.view(name)
	if err != nil {
		return err
	}
	if !hostLittleEndian {
		if aliased {
			data = append([]byte(nil), data...)
		}
		swapBytes(data, int(info.DType.Size()))
	}
	return fn(info, data)
}

// view returns the named tensor's description, its contiguous little-endian
// data, and whether that data aliases the mapped file.
func (c *Checkpoint) view(name string) (TensorInfo, []byte, bool, error) {
	e, err := c.lookup(name)
	if err != nil {
		return TensorInfo{}, nil, false, err
	}
	data, aliased, err := e.src.bytes()
	if err != nil {
		return TensorInfo{}, nil, false, invalid(fmt.Errorf("checkpoint: %s: tensor %q: %w", e.file, name, err))
	}
	if want := e.info.NumElements() * e.info.DType.Size(); int64(len(data)) != want {
		return TensorInfo{}, nil, false, invalid(fmt.Errorf("checkpoint: %s: tensor %q: %d bytes, its shape and dtype need %d", e.file, name, len(data), want))
	}
	info := e.info
	info.Shape = cloneShape(info.Shape)
	return info, data, aliased, nil
}

// swapBytes reverses the byte order of every size-byte element of b.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		for j, k := i, i+size-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// ReadFloat32 returns the named tensor converted to float32 (from F32, F16,
// BF16 or F64), in row-major order. Only this tensor is read.
func (c *Checkpoint) ReadFloat32(name string) ([]float32, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, e.info.NumElements())
	if err := c.readFloat32(e, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadFloat32Into converts the named tensor to float32 into dst, which must
// have exactly the tensor's number of elements. It lets a loader reuse one
// buffer for all tensors.
func (c *Checkpoint) ReadFloat32Into(name string, dst []float32) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, err := c.lookup(name)
	if err != nil {
		return err
	}
	if int64(len(dst)) != e.info.NumElements() {
		return fmt.Errorf("checkpoint: %s: tensor %q has %d elements, destination holds %d", e.file, name, e.info.NumElements(), len(dst))
	}
	return c.readFloat32(e, dst)
}

func (c *Checkpoint) readFloat32(e *entry, dst []float32) error {
	if !e.info.DType.IsFloat() {
		return fmt.Errorf("checkpoint: %s: tensor %q: dtype %v cannot be read as float32 (want F32, F16, BF16 or F64)", e.file, e.info.Name, e.info.DType)
	}
	data, _, err := e.src.bytes()
	if err == nil {
		err = DecodeFloat32(e.info.DType, data, dst)
	}
	if err != nil {
		return invalid(fmt.Errorf("checkpoint: %s: tensor %q: %w", e.file, e.info.Name, err))
	}
	return nil
}

// Close unmaps the checkpoint's files, after waiting for reads and ReadView
// callbacks in progress. Slices from ReadRaw and ReadFloat32 stay valid
// (they are copies); later reads return an error.
func (c *Checkpoint) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, f := range c.files {
		if err := f.close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.files, c.entries, c.names = nil, nil, nil
	return errors.Join(errs...)
}
