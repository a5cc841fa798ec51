// Command demomodel makes testdata/models/demo, the tiny GPT-NeoX checkpoint
// that `make demo` fine-tunes: Pythia's architecture shrunk (4 layers,
// hidden 128), the project's own tokenizer (testdata/tokenizer), weights
// initialised like HF's and briefly pre-trained with golamini's own trainer
// on the prose the project wrote (testdata/corpus). The Q&A set the demo
// fine-tunes on is not part of the pre-training text.
//
//	go run ./scripts/demomodel   (from the repo root, with scripts/libtorch-env's flags)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

const (
	out      = "testdata/models/demo"
	tokDir   = "testdata/tokenizer"
	chunkLen = 128
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demomodel:", err)
		os.Exit(1)
	}
}

func run() error {
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return err
	}
	files, err := filepath.Glob("testdata/corpus/*.txt")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no corpus in testdata/corpus: %v", err)
	}
	sort.Strings(files)
	var ids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		ids = append(append(ids, tok.Encode(string(b))...), tok.EOSID())
	}
	var rows []data.Tokenized
	for i := 0; i+chunkLen <= len(ids); i += chunkLen / 2 { // overlapping windows
		w := ids[i : i+chunkLen]
		rows = append(rows, data.Tokenized{InputIDs: w, Labels: w})
	}
	cfg := model.DefaultConfig()
	cfg.Architectures = []string{"GPTNeoXForCausalLM"}
	cfg.VocabSize, cfg.HiddenSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.IntermediateSize = tok.VocabSize(), 128, 4, 4, 512
	cfg.MaxPositionEmbeddings, cfg.RotaryPct = 256, 0.25
	bos, eos := tok.BOSID(), tok.EOSID()
	cfg.BOSTokenID, cfg.EOSTokenID = &bos, model.IDsOf(eos)
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	log.Info().Int("tokens", len(ids)).Int("windows", len(rows)).Int64("parameters", cfg.NumParameters(false)).Msg("pre-training the demo model")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		a := train.DefaultArgs()
		a.OutputDir, a.OverwriteOutputDir = out, true
		a.LearningRate, a.MaxSteps, a.PerDeviceTrainBatchSize = 2e-3, 300, 16
		a.LRSchedulerType, a.WarmupSteps, a.WeightDecay = "cosine", 20, 0.01
		a.LoggingSteps, a.SaveStrategy, a.GroupByLength = 25, "no", new(bool)
		tr := &train.Trainer{Args: a, Model: m, Train: rows, PadID: eos, ModelDir: tokDir, Log: log}
		if _, err := tr.Run(context.Background()); err != nil {
			return err
		}
		// The pre-training run's own records stay out of the checkpoint.
		for _, f := range []string{"trainer_state.json", "training_args.json", "loss_curve.png"} {
			os.Remove(filepath.Join(out, f))
		}
		return nil
	})
}
