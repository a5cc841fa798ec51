package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/train"
)

// LoRA adapters in HF PEFT's format (adapter_config.json and
// adapter_model.safetensors). A Runner may hold several adapters over its
// one base model, each under a name; at most one is active at a time and
// Infer, Generate, the scoring calls, Evaluate and training see the base
// model plus the active adapter.

// ErrAdapterMismatch is wrapped by errors about an adapter that does not
// fit the model (modules it names are absent, other shapes).
var ErrAdapterMismatch = lora.ErrMismatch

// ErrAdapterUnsupported is wrapped by errors about adapter_config.json
// settings golamini does not implement (DoRA, rank patterns, …).
var ErrAdapterUnsupported = lora.ErrUnsupported

// WithAdapter loads the PEFT adapter in dir when New loads the model,
// under its directory's name, and makes it active. Given several times, it
// loads each (the last one is active); see SetAdapter to switch.
func WithAdapter(dir string) Option {
	return func(o *Options) { o.Adapters = append(o.Adapters, dir) }
}

// LoRAConfig asks Train for LoRA: only a low-rank adapter over the
// frozen model is trained, and output_dir and its checkpoints hold the
// adapter in PEFT's format. The fields are PEFT LoraConfig's.
type LoRAConfig struct {
	R             int      // rank r (PEFT's default 8)
	Alpha         float64  // lora_alpha: the update is scaled by Alpha/R (PEFT's default 8)
	Dropout       float64  // lora_dropout on the adapter's input while training (PEFT's default 0)
	TargetModules []string // module names to adapt; nil = PEFT's default for the family (query_key_value for GPT-NeoX)
	// ModulesToSave lists modules trained in full beside the adapter and
	// saved with it (PEFT's modules_to_save): the output head, "lm_head"
	// (or GPT-NeoX's "embed_out"). With tied embeddings the head's copy is
	// trained and the input embedding stays as it is (PEFT's behaviour);
	// merging unties them.
	ModulesToSave []string
	UseRSLoRA     bool   // scale by Alpha/√R instead
	Bias          string // "none" (the only kind implemented, PEFT's default)
	// Init is a PEFT adapter directory to continue training from; its
	// adapter_config.json then defines the adapter (R, Alpha, targets) and
	// only Dropout is taken from here.
	Init string
}

// DefaultLoRAConfig returns PEFT's LoraConfig defaults: r 8, lora_alpha 8,
// no dropout, the family's default targets, bias "none".
func DefaultLoRAConfig() LoRAConfig { return LoRAConfig{R: 8, Alpha: 8, Bias: "none"} }

func (c *LoRAConfig) loraConfig(base string) *lora.Config {
	lc := lora.NewConfig(c.R, c.Alpha, c.Dropout, c.TargetModules)
	lc.UseRSLoRA = c.UseRSLoRA
	lc.ModulesToSave = c.ModulesToSave
	if c.Bias != "" {
		lc.Bias = c.Bias
	}
	lc.BaseModelNameOrPath = &base
	return &lc
}

// adapterName is the name an adapter directory is loaded under.
func adapterName(dir string) string {
	return filepath.Base(filepath.Clean(dir))
}

// LoadAdapter loads the PEFT adapter in dir under name ("" = the
// directory's name) and makes it active. An adapter that does not fit the
// model is an error wrapping ErrAdapterMismatch that names the module or
// tensor.
func (r *Runner) LoadAdapter(name, dir string) error {
	if name == "" {
		name = adapterName(dir)
	}
	r.mu.Lock()
	_, taken := r.adapters[name]
	r.mu.Unlock()
	if taken {
		return fmt.Errorf("runner: an adapter named %q is already loaded", name)
	}
	err := r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		a, err := lora.Load(dir, m, name)
		if err != nil {
			return err
		}
		r.mu.Lock()
		if r.adapters == nil {
			r.adapters = map[string]*lora.Adapter{}
		}
		r.adapters[name] = a
		r.active = name
		r.mu.Unlock()
		a.Attach(m)
		return nil
	})
	if err != nil {
		return fmt.Errorf("runner: adapter %s: %w", dir, err)
	}
	r.log.Info().Str("adapter", name).Str("dir", dir).Msg("adapter loaded")
	return nil
}

// SetAdapter makes the named adapter active; "" runs the base model alone.
func (r *Runner) SetAdapter(name string) error {
	return r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if name == "" {
			lora.Detach(m)
			r.active = ""
			return nil
		}
		a, ok := r.adapters[name]
		if !ok {
			return fmt.Errorf("runner: no adapter named %q (loaded: %s)", name, strings.Join(r.adapterNamesLocked(), ", "))
		}
		a.Attach(m)
		r.active = name
		return nil
	})
}

// Adapter returns the active adapter's name ("" for none).
func (r *Runner) Adapter() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// Adapters returns the names of the loaded adapters, sorted.
func (r *Runner) Adapters() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adapterNamesLocked()
}

func (r *Runner) adapterNamesLocked() []string {
	names := make([]string, 0, len(r.adapters))
	for n := range r.adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnloadAdapter frees the named adapter (deactivating it if active).
func (r *Runner) UnloadAdapter(name string) error {
	return r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		a, ok := r.adapters[name]
		if !ok {
			return fmt.Errorf("runner: no adapter named %q", name)
		}
		if r.active == name {
			a.Detach(m)
			r.active = ""
		}
		a.Free()
		delete(r.adapters, name)
		return nil
	})
}

// MergeAdapter folds the active adapter into the model's weights
// (W ← W + scale·B·A, as PEFT's merge_and_unload) and unloads it: the
// model then computes what it computed with the adapter, without its cost.
// Other loaded adapters stay loaded and now apply over the merged weights.
func (r *Runner) MergeAdapter() error {
	return r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		a, ok := r.adapters[r.active]
		if !ok {
			return errors.New("runner: no active adapter to merge")
		}
		a.Attach(m)
		if err := a.Merge(m); err != nil {
			return fmt.Errorf("runner: %w", err)
		}
		a.Free()
		delete(r.adapters, r.active)
		r.active = ""
		return nil
	})
}

// SaveAdapter writes the active adapter as a PEFT adapter directory
// (adapter_config.json, adapter_model.safetensors) with the tokenizer files.
func (r *Runner) SaveAdapter(dir string) error {
	return r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		r.mu.Lock()
		a, ok := r.adapters[r.active]
		r.mu.Unlock()
		if !ok {
			return errors.New("runner: no active adapter to save")
		}
		return train.WriteAdapterDir(dir, a, r.dir)
	})
}

// SaveModel writes the model as a HuggingFace model directory that
// transformers loads (config.json, model.safetensors in dtype: "float32",
// "float16" or "bfloat16"; "" = the compute dtype; tokenizer files copied).
// It is written into a temporary directory beside dir and renamed into
// place, so dir is never left half-written; dir must not exist yet or be
// empty. With an active adapter, merge it first (MergeAdapter).
func (r *Runner) SaveModel(dir, dtype string) error {
	dt := r.dtype
	if dtype != "" {
		var err error
		if dt, err = parseDType(dtype); err != nil {
			return err
		}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("runner: save model: %s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("runner: save model: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("runner: save model: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("runner: save model: %w", err)
	}
	err = r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		if m.LinearHook != nil {
			return fmt.Errorf("runner: save model: adapter %q is active: merge it (MergeAdapter) or deactivate it (SetAdapter(\"\")) first", r.Adapter())
		}
		return train.WriteModelDirAs(tmp, m, r.dir, dt)
	})
	if err == nil {
		os.Remove(dir) // an empty directory in the way
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("runner: save model %s: %w", dir, err)
	}
	return nil
}

// loadAdapters loads Options.Adapters (New).
func (r *Runner) loadAdapters(ctx context.Context) error {
	for _, dir := range r.opts.Adapters {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.LoadAdapter("", dir); err != nil {
			return err
		}
	}
	return nil
}

// freeAdapters releases every adapter (Close); runs on the worker.
func (r *Runner) freeAdapters(m *model.Model) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, a := range r.adapters {
		if m != nil {
			a.Detach(m)
		}
		a.Free()
		delete(r.adapters, n)
	}
	r.active = ""
}
