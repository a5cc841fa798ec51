package lora

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors
// (float32, PEFT's tensor names), each through a temporary file renamed
// into place. Runs on the torch worker.
func (a *Adapter) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	params := a.Parameters()
	byName := make(map[string]*torch.Tensor, len(params))
	infos := make([]checkpoint.TensorInfo, len(params))
	for i, p := range params {
		byName[p.Name] = p.Tensor
		infos[i] = checkpoint.TensorInfo{Name: p.Name, DType: checkpoint.F32, Shape: p.Tensor.Shape()}
	}
	err := checkpoint.WriteSafetensorsFunc(filepath.Join(dir, WeightsFile), infos, map[string]string{"format": "pt"},
		func(ti checkpoint.TensorInfo) ([]byte, error) {
			t := byName[ti.Name]
			if t.Device() != torch.CPU || t.DType() != torch.Float32 {
				s := torch.NewScope()
				defer s.Close()
				c := s.To(t, torch.Float32, torch.CPU)
				if err := s.Err(); err != nil {
					return nil, err
				}
				return c.Raw()
			}
			return t.Raw()
		})
	if err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	cfg := a.Config
	cfg.InferenceMode = true // as PEFT's save_pretrained writes it
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ConfigFile), append(b, '\n')); err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	return nil
}

// Load reads a PEFT adapter directory onto m's projections (not attached:
// see Attach). The adapter must fit m: every module target_modules selects
// must have its lora_A [r, in] and lora_B [out, r] of m's shapes, and the
// file may hold no other tensor; anything else is an error wrapping
// ErrMismatch that names the tensor or module. Runs on the torch worker.
func Load(dir string, m *model.Model, name string) (*Adapter, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	ts, err := targets(m, &cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (adapter %s)", err, dir)
	}
	path := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err2 := os.Stat(filepath.Join(dir, "adapter_model.bin")); err2 == nil {
			path = filepath.Join(dir, "adapter_model.bin")
		}
	}
	ck, err := checkpoint.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	defer ck.Close()
	want := map[string][]int64{}
	r := int64(cfg.R)
	for _, t := range ts {
		shape := t.W.Shape()
		want[ParamPrefix+t.Path+suffixA] = []int64{r, shape[1]}
		want[ParamPrefix+t.Path+suffixB] = []int64{shape[0], r}
	}
	head := ""
	if cfg.savesHead() {
		// transformers 4's PEFT saved GPT-NeoX's head under its module
		// name embed_out.
		head = HeadParam
		if _, ok := ck.Info(HeadParam); !ok {
			if _, ok := ck.Info(ParamPrefix + "embed_out.weight"); ok {
				head = ParamPrefix + "embed_out.weight"
			}
		}
		want[head] = m.EmbedOut.Shape()
	}
	var unknown []string
	for _, ti := range ck.Tensors() {
		shape, ok := want[ti.Name]
		if !ok {
			unknown = append(unknown, ti.Name)
			continue
		}
		if !equalShape(shape, ti.Shape) {
			return nil, fmt.Errorf("lora: %s: tensor %q has shape %v, the model's module and r = %d need %v: %w",
				path, ti.Name, ti.Shape, cfg.R, shape, ErrMismatch)
		}
		if !ti.DType.IsFloat() {
			return nil, fmt.Errorf("lora: %s: tensor %q has dtype %v, want a float type", path, ti.Name, ti.DType)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("lora: %s: %w: tensors for modules this model does not have or target_modules does not select: %s",
			path, ErrMismatch, strings.Join(unknown, ", "))
	}
	var missing []string
	for n := range want {
		if _, ok := ck.Info(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("lora: %s: %w: target_modules selects modules the file has no weights for: %s",
			path, ErrMismatch, strings.Join(missing, ", "))
	}
	a := newAdapter(cfg, name, 0)
	read := func(n string) (*torch.Tensor, error) {
		v, err := ck.ReadFloat32(n)
		if err != nil {
			return nil, fmt.Errorf("lora: %s: %w", path, err)
		}
		return onDevice(v, m.Device, want[n]...)
	}
	for _, t := range ts {
		A, err := read(ParamPrefix + t.Path + suffixA)
		if err != nil {
			a.Free()
			return nil, err
		}
		B, err := read(ParamPrefix + t.Path + suffixB)
		if err != nil {
			A.Free()
			a.Free()
			return nil, err
		}
		a.add(t.Path, A, B)
	}
	if head != "" {
		v, err := ck.ReadFloat32(head)
		if err == nil {
			a.Head, err = headTensor(v, m)
		}
		if err != nil {
			a.Free()
			return nil, fmt.Errorf("lora: %s: %s: %w", path, head, err)
		}
		a.Config.ModulesToSave = []string{HeadModule}
	}
	return a, nil
}

// headTensor makes a saved head [V, H] a tensor in m's dtype on m's device.
func headTensor(v []float32, m *model.Model) (*torch.Tensor, error) {
	t, err := torch.FromFloat32(v, m.EmbedOut.Shape()...)
	if err != nil || (m.DType == torch.Float32 && m.Device == torch.CPU) {
		return t, err
	}
	s := torch.NewScope()
	defer s.Close()
	s.Own(t)
	c := s.To(t, m.DType, m.Device)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return s.Keep(c), nil
}

// CopyFrom overwrites the adapter's tensors with those of the adapter in
// dir (a checkpoint of the same adapter). Runs on the torch worker.
func (a *Adapter) CopyFrom(dir string, m *model.Model) error {
	src, err := Load(dir, m, a.Name)
	if err != nil {
		return err
	}
	defer src.Free()
	if len(src.Layers) != len(a.Layers) {
		return fmt.Errorf("lora: %s: %w: it adapts %d modules, this adapter %d", dir, ErrMismatch, len(src.Layers), len(a.Layers))
	}
	defer torch.NoGrad()()
	for i, l := range a.Layers {
		o := src.Layers[i]
		if o.Path != l.Path {
			return fmt.Errorf("lora: %s: %w: module %d is %s, not %s", dir, ErrMismatch, i, o.Path, l.Path)
		}
		if err := l.A.CopyFrom(o.A); err != nil {
			return fmt.Errorf("lora: %s: %w", l.Path, err)
		}
		if err := l.B.CopyFrom(o.B); err != nil {
			return fmt.Errorf("lora: %s: %w", l.Path, err)
		}
	}
	if (src.Head == nil) != (a.Head == nil) {
		return fmt.Errorf("lora: %s: %w: modules_to_save differs from this adapter's", dir, ErrMismatch)
	}
	if a.Head != nil {
		if err := a.Head.CopyFrom(src.Head); err != nil {
			return fmt.Errorf("lora: %s: %w", HeadModule, err)
		}
	}
	return nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data through a synced temporary file renamed to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}
