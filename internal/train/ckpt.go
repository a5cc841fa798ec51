package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Checkpoint folders are output_dir/checkpoint-<step>, as HF names them.
const checkpointPrefix = "checkpoint-"

// Files of a checkpoint beyond the model's.
const (
	optimizerFile = "optimizer.safetensors" // HF writes optimizer.pt; torch pickles are not ours to write
	progressFile  = "trainer_progress.json" // step, data order, scheduler and optimizer counters
	stateFile     = "trainer_state.json"
	argsFile      = "training_args.json"
)

// tokenizerFiles are copied from the source model directory.
// chat_template.jinja is where transformers 5 saves the chat template
// (earlier versions kept it in tokenizer_config.json).
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"}

// WriteModelDir writes a HuggingFace model directory: config.json,
// model.safetensors (the model's dtype), and the tokenizer, chat template
// and generation files copied from srcDir. Files are written to
// temporaries and renamed.
func WriteModelDir(dir string, m *model.Model, srcDir string) error {
	return WriteModelDirAs(dir, m, srcDir, m.DType)
}

// WriteModelDirAs is WriteModelDir with the weights stored in dtype.
func WriteModelDirAs(dir string, m *model.Model, srcDir string, dtype torch.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := m.Config
	cfg.TorchDType = dtype.String()
	if len(cfg.Architectures) == 0 {
		cfg.Architectures = []string{cfg.Family()}
	}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "config.json"), append(cb, '\n')); err != nil {
		return err
	}
	params := m.Parameters()
	byName := map[string]*torch.Tensor{}
	infos := make([]checkpoint.TensorInfo, len(params))
	dt, err := checkpointDType(dtype)
	if err != nil {
		return err
	}
	for i, p := range params {
		byName[p.Name] = p.Tensor
		infos[i] = checkpoint.TensorInfo{Name: p.Name, DType: dt, Shape: p.Tensor.Shape()}
	}
	err = checkpoint.WriteSafetensorsFunc(filepath.Join(dir, "model.safetensors"), infos, map[string]string{"format": "pt"},
		func(ti checkpoint.TensorInfo) ([]byte, error) {
			t := byName[ti.Name]
			if t.DType() == dtype && t.Device() == torch.CPU {
				return t.Raw()
			}
			s := torch.NewScope()
			defer s.Close()
			c := s.To(t, dtype, torch.CPU)
			if err := s.Err(); err != nil {
				return nil, err
			}
			return c.Raw()
		})
	if err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		if err := copyIfExists(filepath.Join(srcDir, f), filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "generation_config.json")); errors.Is(err, os.ErrNotExist) {
		gc := map[string]any{"_from_model_config": true, "bos_token_id": cfg.BOSTokenID, "eos_token_id": cfg.EOSTokenID}
		b, _ := json.MarshalIndent(gc, "", "  ")
		if err := writeFileAtomic(filepath.Join(dir, "generation_config.json"), append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func checkpointDType(d torch.DType) (checkpoint.DType, error) {
	switch d {
	case torch.Float32:
		return checkpoint.F32, nil
	case torch.Float16:
		return checkpoint.F16, nil
	case torch.BFloat16:
		return checkpoint.BF16, nil
	}
	return 0, fmt.Errorf("train: cannot save weights of dtype %v", d)
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, synced and renamed, so a crash never leaves a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600 files; a model directory is for sharing
		tmp.Close()
		os.Remove(name)
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return os.Rename(name, path)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func copyIfExists(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	return writeFileAtomic(dst, b)
}

// saveOptimizer writes the optimizer's state tensors (float32).
func saveOptimizer(path string, o optimizer) error {
	slots, _ := o.slots()
	names := make([]string, 0, len(slots))
	for n := range slots {
		names = append(names, n)
	}
	sort.Strings(names)
	infos := make([]checkpoint.TensorInfo, len(names))
	for i, n := range names {
		infos[i] = checkpoint.TensorInfo{Name: n, DType: checkpoint.F32, Shape: slots[n].Shape()}
	}
	return checkpoint.WriteSafetensorsFunc(path, infos, map[string]string{"format": "golamini-optimizer"},
		func(ti checkpoint.TensorInfo) ([]byte, error) { return slots[ti.Name].Raw() })
}

// loadOptimizer restores state tensors written by saveOptimizer.
func loadOptimizer(path string, o optimizer, dev torch.Device, step int) error {
	slots, _ := o.slots()
	if len(slots) > 0 {
		freeAll(slots)
		for k := range slots {
			delete(slots, k)
		}
	}
	ck, err := checkpoint.OpenFile(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	for _, ti := range ck.Tensors() {
		v, err := ck.ReadFloat32(ti.Name)
		if err != nil {
			return err
		}
		t, err := torch.FromFloat32(v, ti.Shape...)
		if err != nil {
			return err
		}
		if dev != torch.CPU {
			s := torch.NewScope()
			s.Own(t)
			moved := s.To(t, torch.Float32, dev)
			if err := s.Err(); err != nil {
				s.Close()
				return err
			}
			t = s.Keep(moved)
			s.Close()
		}
		slots[ti.Name] = t
	}
	o.setStep(step)
	return nil
}

// loadWeights copies a checkpoint's weights into the model's parameters.
func loadWeights(dir string, m *model.Model) error {
	ck, err := checkpoint.Open(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	defer torch.NoGrad()()
	defer m.WeightsChanged()
	for _, p := range m.Parameters() {
		v, err := ck.ReadFloat32(p.Name)
		if err != nil {
			return err
		}
		t, err := torch.FromFloat32(v, p.Tensor.Shape()...)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", p.Name, err)
		}
		err = p.Tensor.CopyFrom(t)
		t.Free()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", p.Name, err)
		}
	}
	return nil
}

// listCheckpoints returns output_dir's checkpoint-<step> folders, by step.
func listCheckpoints(outputDir string) ([]string, error) {
	entries, err := os.ReadDir(outputDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type ck struct {
		step int
		path string
	}
	var cks []ck
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), checkpointPrefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), checkpointPrefix))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(outputDir, e.Name(), progressFile)); err != nil {
			continue // not complete: never resume from it
		}
		cks = append(cks, ck{n, filepath.Join(outputDir, e.Name())})
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step < cks[j].step })
	out := make([]string, len(cks))
	for i, c := range cks {
		out[i] = c.path
	}
	return out, nil
}
