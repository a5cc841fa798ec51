package runner

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/data"
)

// TestTrainInChatFormat: conversations (LoadChatFromJSONLines) and pairs with
// DataOptions.ChatTemplate become rows rendered by the model's chat template whose
// labels are only the replies and their end-of-turn token (the demo's eos, which also pads
// its batches); training on them runs.
func TestTrainInChatFormat(t *testing.T) {
	dir := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate})
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := filepath.Join(t.TempDir(), "chat.jsonl")
	lines := `{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I train?"}, {"role": "assistant", "content": "Call r.Train()."}, {"role": "user", "content": "Then?"}, {"role": "assistant", "content": "Call r.Infer."}]}
{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
`
	os.WriteFile(p, []byte(lines), 0o644)
	if err := r.LoadChatFromJSONLines(p); err != nil {
		t.Fatal(err)
	}
	if r.ChatLen() != 2 {
		t.Fatalf("%d conversations", r.ChatLen())
	}
	o := DefaultDataOptions()
	o.EvalFraction = 0
	rows, _, err := r.tokenizedSplit(o)
	if err != nil {
		t.Fatal(err)
	}
	learned := func(row data.Tokenized) string {
		var ids []int
		for _, l := range row.Labels {
			if l != data.IgnoreIndex {
				ids = append(ids, l)
			}
		}
		return r.Tokenizer().Decode(ids, false)
	}
	if got := learned(rows[0]); got != " Call r.Train().<|endoftext|> Call r.Infer.<|endoftext|>" {
		t.Errorf("conversation 0 learns %q", got)
	}
	if got := learned(rows[1]); got != " Hello.<|endoftext|>" {
		t.Errorf("conversation 1 learns %q", got)
	}

	// Pairs alongside conversations need ChatTemplate.
	if err := r.LoadData([]map[string]any{{"input": "What is golamini?", "output": "A Go SDK."}, {"input": "x", "output": "y"}}, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.tokenizedSplit(o); err == nil || !strings.Contains(err.Error(), "ChatTemplate") {
		t.Errorf("mixed data without ChatTemplate: %v", err)
	}
	o.ChatTemplate = true
	if rows, _, err = r.tokenizedSplit(o); err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if got := learned(rows[2]); got != " A Go SDK.<|endoftext|>" {
		t.Errorf("pair learns %q", got)
	}

	cfg := DefaultTrainConfig()
	cfg.Data = o
	cfg.Args.OutputDir = t.TempDir()
	cfg.Args.MaxSteps = 2
	cfg.Args.PerDeviceTrainBatchSize = 2
	cfg.Args.SaveStrategy = "no"
	res, err := r.TrainContext(context.Background(), cfg)
	if err != nil || res.Steps != 2 || math.IsNaN(res.TrainLoss) {
		t.Fatalf("train: %+v %v", res, err)
	}
}
