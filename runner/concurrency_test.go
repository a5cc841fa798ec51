package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// Infer, Score, LogLikelihood, Generate and Close from many goroutines at
// once: every call either works or returns ErrClosed; nothing panics or
// races (run with -race, as make test does).
func TestConcurrentCallsAndClose(t *testing.T) {
	r := newTiny(t)
	o := DefaultGenerateOptions()
	o.MaxNewTokens = 4
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	check := func(err error) {
		if err != nil && !errors.Is(err, ErrClosed) {
			errs <- err
		}
	}
	start := make(chan struct{})
	for i := 0; i < 6; i++ {
		wg.Add(4)
		go func() {
			defer wg.Done()
			<-start
			_, err := r.InferContext(context.Background(), "Hello")
			check(err)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _, err := r.ScoreText(context.Background(), "Hello world")
			check(err)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _, err := r.LogLikelihood(context.Background(), "Hello", " world")
			check(err)
			_ = r.Config()
			_ = r.Report(10)
			_ = r.Tokenizer().Encode("x")
		}()
		go func() {
			defer wg.Done()
			<-start
			_, err := r.Generate(context.Background(), []string{"a", "bc"}, o)
			check(err)
			if i%3 == 2 {
				r.Close()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r.Close()
	if _, err := r.Infer("Hello"); !errors.Is(err, ErrClosed) {
		t.Errorf("Infer after Close: %v", err)
	}
}

// Every call that touches the model returns ErrClosed after Close.
func TestUseAfterClose(t *testing.T) {
	r := newTiny(t)
	if err := r.LoadData([]map[string]any{{"input": "a", "output": "b"}, {"input": "c", "output": "d"}}, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Infer":        func() error { _, err := r.Infer("x"); return err },
		"InferContext": func() error { _, err := r.InferContext(ctx, "x"); return err },
		"InferBatch":   func() error { _, err := r.InferBatch(ctx, []string{"x"}, DefaultGenerateOptions()); return err },
		"InferStream": func() error {
			_, err := r.InferStream(ctx, "x", DefaultGenerateOptions(), func(string) bool { return true })
			return err
		},
		"Generate":      func() error { _, err := r.Generate(ctx, []string{"x"}, DefaultGenerateOptions()); return err },
		"TokenLogProbs": func() error { _, err := r.TokenLogProbs(ctx, []int{1, 2, 3}); return err },
		"ScoreText":     func() error { _, _, err := r.ScoreText(ctx, "x y"); return err },
		"LogLikelihood": func() error { _, _, err := r.LogLikelihood(ctx, "x", " y"); return err },
		"Train":         func() error { _, err := r.Train(); return err },
		"Evaluate":      func() error { _, err := r.Evaluate(ctx); return err },
		"LoadData":      func() error { return r.LoadData([]map[string]any{{"input": "a", "output": "b"}}, "", "") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// What never changes stays readable.
	if c := r.Config(); c.ContextLength != 128 || c.ModelType != "gpt_neox" {
		t.Errorf("Config after Close: %+v", c)
	}
}

// A call queued behind long tensor work gives up when its deadline passes,
// without running, and says why.
func TestQueuedCallHonoursDeadline(t *testing.T) {
	r := newTiny(t)
	busy, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- torch.Do(context.Background(), func() error { close(busy); <-release; return nil })
	}()
	<-busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := r.InferContext(ctx, "Hello")
	waited := time.Since(t0)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrCancelled and context.DeadlineExceeded", err)
	}
	if waited > 10*time.Second {
		t.Errorf("returned after %v, long after its deadline", waited)
	}
	_, _, err = r.ScoreText(ctx, "Hello world")
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("ScoreText with an ended context: %v", err)
	}
}

// Close stops a training run at its next step (which saves a checkpoint)
// and the run's error says the Runner was closed.
func TestCloseStopsTraining(t *testing.T) {
	r := newTiny(t)
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir, cfg.Args.MaxSteps = t.TempDir(), 100000
	cfg.Args.PerDeviceTrainBatchSize, cfg.Args.SaveStrategy, cfg.Data.MaxLength = 1, "no", 16
	cfg.Args.LoggingSteps = 1
	errc := make(chan error, 1)
	go func() {
		_, err := r.TrainContext(context.Background(), cfg)
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	r.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) || errors.Is(err, ErrCancelled) {
			t.Errorf("training stopped by Close: %v, want ErrClosed (and not ErrCancelled)", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("training did not stop after Close")
	}
}

// A panic inside training stops the run with ErrInternal (torch.ErrPanic
// under it), and the Runner refuses to use weights it may have left half
// updated.
func TestPanicInTrainingStopsRunner(t *testing.T) {
	r := newTiny(t)
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	trainHook = func() { panic("simulated libtorch failure mid-step") }
	defer func() { trainHook = nil }()
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir, cfg.Args.MaxSteps, cfg.Data.MaxLength = t.TempDir(), 2, 16
	_, err := r.TrainContext(context.Background(), cfg)
	if !errors.Is(err, ErrInternal) || !errors.Is(err, torch.ErrPanic) {
		t.Fatalf("err = %v, want ErrInternal and torch.ErrPanic", err)
	}
	trainHook = nil
	if _, err := r.Infer("Hello"); !errors.Is(err, ErrInternal) {
		t.Errorf("Infer after a panic in training: %v, want ErrInternal", err)
	}
	if _, err := r.TrainContext(context.Background(), cfg); !errors.Is(err, ErrInternal) {
		t.Errorf("training again after a panic: %v, want ErrInternal", err)
	}
}

// The runner's sentinels match the errors of the layers underneath.
func TestErrorsMatchSentinels(t *testing.T) {
	ctx := context.Background()
	offline := DefaultHubOptions()
	offline.CacheDir, offline.Offline = t.TempDir(), true
	if _, err := New("EleutherAI/pythia-70m", WithHub(offline), WithDevice("cpu")); !errors.Is(err, ErrOffline) {
		t.Errorf("offline, not cached: %v", err)
	}
	if _, err := New("not a model id!", WithDevice("cpu")); !errors.Is(err, ErrNotFound) {
		t.Errorf("neither a directory nor a hub id: %v", err)
	}

	// A checkpoint cut short.
	dir := t.TempDir()
	src := testutil.Testdata(t, "models", "tiny-seq")
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "model.safetensors" {
			b = b[:len(b)/2]
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	if _, err := New(dir, WithDevice("cpu")); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("truncated weights: %v", err)
	}

	// config.json that cannot describe a model.
	cfgPath := filepath.Join(dir, "config.json")
	cfg, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), `"num_hidden_layers": 2`, `"num_hidden_layers": -3`, 1)), 0o644)
	if _, err := New(dir, WithDevice("cpu")); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "num_hidden_layers") {
		t.Errorf("invalid config.json: %v", err)
	}

	r := newTiny(t)
	if _, err := r.Train(); !errors.Is(err, ErrNoData) {
		t.Errorf("Train without data: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"input\": \"a\", \"output\": 3}\n"), 0o644)
	if err := r.LoadDataFromJSONLines(bad, "", ""); !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), "bad.jsonl line 1") {
		t.Errorf("bad data: %v", err)
	}
	if err := r.LoadDataFromJSONLines(filepath.Join(t.TempDir(), "absent.jsonl"), "", ""); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrBadData) {
		t.Errorf("missing file: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.InferContext(cctx, "x"); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// Config and Tokenizer are the runner's own types, with the model's facts.
func TestPublicConfigAndTokenizer(t *testing.T) {
	r := newTiny(t)
	c := r.Config()
	want := Config{ModelType: "gpt_neox", Architectures: []string{"GPTNeoXForCausalLM"}, VocabSize: 1024, HiddenSize: 48,
		IntermediateSize: 96, Layers: 2, Heads: 4, KVHeads: 4, ContextLength: 128, StoredDType: "float32", DType: "float32",
		Parameters: c.Parameters}
	if c.Parameters <= 0 || strings.Join(c.Architectures, ",") != strings.Join(want.Architectures, ",") {
		t.Fatalf("%+v", c)
	}
	c.Architectures, want.Architectures = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Config() = %+v\nwant %+v", c, want)
	}
	tk := r.Tokenizer()
	ids := tk.Encode("Hello world")
	if len(ids) == 0 || tk.Decode(ids, false) != "Hello world" || tk.VocabSize() != 1024 {
		t.Errorf("tokenizer round trip: %v → %q", ids, tk.Decode(ids, false))
	}
}
