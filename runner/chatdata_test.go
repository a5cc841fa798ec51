package runner

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/train"
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

// TestEvaluateInChatFormat: with DataOptions.ChatTemplate, Evaluate measures
// the pairs in the chat format Train uses: its loss is the model's loss on
// the held-out rows Train would hold out (rendered by the template, replies
// learned), not on the plain concatenation, and its answers are generated
// after the template's generation prompt.
func TestEvaluateInChatFormat(t *testing.T) {
	dir := demoWithTemplate(t, map[string]string{"chat_template.jinja": demoTemplate})
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	o := DefaultEvaluateOptions()
	o.Data.ChatTemplate = true
	o.MaxRows, o.Generate.MaxNewTokens = 1, 4
	rep, err := r.EvaluateWith(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, heldOut, err := r.tokenizedSplit(o.Data)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	err = r.do(context.Background(), func(ctx context.Context, m *model.Model) error {
		var err error
		want, err = train.Evaluate(ctx, m, heldOut, r.padID(), 8)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HeldOut != 13 || len(heldOut) != 13 || math.Abs(rep.Loss-want) > 1e-9 {
		t.Errorf("chat-format evaluation: %d rows, loss %v; the held-out chat rows: %d, loss %v", rep.HeldOut, rep.Loss, len(heldOut), want)
	}
	plain := DefaultEvaluateOptions()
	plain.MaxRows, plain.Generate.MaxNewTokens = 1, 4
	pr, err := r.EvaluateWith(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Loss == rep.Loss {
		t.Errorf("the chat-format and plain losses are both %v", pr.Loss)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Input != pr.Rows[0].Input {
		t.Errorf("rows %+v vs %+v", rep.Rows, pr.Rows)
	}
}
