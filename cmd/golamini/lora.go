package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/golamini/golamini/runner"
)

func init() {
	register(command{name: "merge", short: "merge a LoRA adapter into its base model and write a full model", run: runMerge})
}

// loraFlags are train's LoRA flags.
type loraFlags struct {
	r              int
	alpha, dropout float64
	targets, init  string
	modulesToSave  string
	rslora         bool
}

func addLoRAFlags(fs *flag.FlagSet) *loraFlags {
	l := &loraFlags{}
	def := runner.DefaultLoRAConfig()
	fs.IntVar(&l.r, "lora-r", 0, fmt.Sprintf("train a LoRA adapter of this rank instead of all weights (0 = full fine-tuning; PEFT's default is %d)", def.R))
	fs.Float64Var(&l.alpha, "lora-alpha", def.Alpha, "LoRA alpha: the update is scaled by alpha/r")
	fs.Float64Var(&l.dropout, "lora-dropout", def.Dropout, "dropout on the LoRA branch's input while training")
	fs.StringVar(&l.targets, "lora-target-modules", "", "comma-separated module names to adapt (default: PEFT's for the family, query_key_value for GPT-NeoX)")
	fs.StringVar(&l.modulesToSave, "lora-modules-to-save", "", "comma-separated modules trained in full and saved with the adapter (PEFT's modules_to_save; the output head: lm_head, or embed_out)")
	fs.BoolVar(&l.rslora, "lora-use-rslora", false, "scale the update by alpha/sqrt(r) (rsLoRA)")
	fs.StringVar(&l.init, "lora-init", "", "continue training this PEFT adapter directory (its adapter_config.json sets r, alpha and targets)")
	return l
}

// config returns the LoRA configuration the flags ask for; nil = full
// fine-tuning.
func (l *loraFlags) config() (*runner.LoRAConfig, error) {
	if l.r < 0 {
		return nil, fmt.Errorf("%w: --lora-r must be ≥ 0", errUsage)
	}
	if l.r == 0 && l.init == "" {
		if l.targets != "" || l.rslora || l.modulesToSave != "" {
			return nil, fmt.Errorf("%w: LoRA flags need --lora-r > 0 (or --lora-init)", errUsage)
		}
		return nil, nil
	}
	c := runner.DefaultLoRAConfig()
	c.R, c.Alpha, c.Dropout, c.UseRSLoRA, c.Init = l.r, l.alpha, l.dropout, l.rslora, l.init
	if l.targets != "" {
		for _, t := range strings.Split(l.targets, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.TargetModules = append(c.TargetModules, t)
			}
		}
	}
	for _, t := range strings.Split(l.modulesToSave, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.ModulesToSave = append(c.ModulesToSave, t)
		}
	}
	return &c, nil
}

// adapterOpts adds WithAdapter(dir) to opts when dir is set.
func adapterOpts(dir string, opts ...runner.Option) []runner.Option {
	if dir != "" {
		opts = append(opts, runner.WithAdapter(dir))
	}
	return opts
}

func runMerge(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", stderr)
	modelDir := fs.String("model", "", "base model directory or hub id")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter directory")
	out := fs.String("output-dir", "", "where the merged model goes (must not exist or be empty)")
	dtype := fs.String("dtype", "float32", "dtype of the written weights: float32, float16 or bfloat16 (the merge itself runs in float32)")
	device := fs.String("device", "cpu", "auto, cpu, cuda or cuda:N")
	quiet := fs.Bool("quiet", false, "log warnings only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *adapter == "" || *out == "" {
		return fmt.Errorf("%w: --model, --adapter and --output-dir are required", errUsage)
	}
	dir, err := resolveForInfo(ctx, *modelDir, stderr)
	if err != nil {
		return err
	}
	r, err := runner.NewContext(ctx, dir, runner.WithDevice(*device), runner.WithDType("float32"),
		runner.WithLogger(newLogger(stderr, *quiet)), runner.WithAdapter(*adapter))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MergeAdapter(); err != nil {
		return err
	}
	if err := r.SaveModel(*out, *dtype); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s into %s: %s model in %s\n", *adapter, *modelDir, *dtype, *out)
	return nil
}
