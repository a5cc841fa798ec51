package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
)

// Options configure New. Start from DefaultOptions or pass Option functions.
type Options struct {
	// Device is "auto" (CUDA when libtorch sees a GPU, else CPU), "cpu",
	// "cuda" or "cuda:N". Asking for CUDA where there is none is an error.
	Device string
	// DType is the compute dtype of the weights: "float32" (default),
	// "float16" or "bfloat16", whatever the checkpoint stores.
	DType string
	// Logger receives structured progress (zerolog). Default: info level
	// on stderr, human-readable on a terminal and JSON lines otherwise;
	// pass zerolog.Nop() to silence it.
	Logger zerolog.Logger
	// Seed is the sampling seed of generation calls whose
	// GenerateOptions.Seed is 0 (training has its own, Args.Seed).
	Seed uint64
	// Tokenizer overrides where tokenizer.json is read from (a file or a
	// directory); default: the model directory.
	Tokenizer string
	// Hub configures hub downloads; nil = DefaultHubOptions().
	Hub *HubOptions
	// Adapters are PEFT adapter directories loaded at New (WithAdapter).
	Adapters []string
	// Threads is libtorch's intra-op thread count for the process (it is
	// one setting for all Runners). 0 chooses: the cores this process may
	// use, less those already busy with other work (from the load
	// average), at least 1; GOLAMINI_THREADS (else OMP_NUM_THREADS)
	// overrides that choice. The number chosen, and why, is logged when
	// the model loads.
	Threads int
}

// DefaultOptions returns auto device, float32, logging to stderr, seed 0.
func DefaultOptions() Options {
	return Options{Device: "auto", DType: "float32", Logger: DefaultLogger()}
}

// DefaultLogger writes info-level lines to stderr: human-readable on a
// terminal, JSON lines otherwise.
func DefaultLogger() zerolog.Logger {
	var w io.Writer = os.Stderr
	if term.IsTerminal(int(os.Stderr.Fd())) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

// Option changes Options.
type Option func(*Options)

// WithDevice sets Options.Device.
func WithDevice(d string) Option { return func(o *Options) { o.Device = d } }

// WithDType sets Options.DType.
func WithDType(d string) Option { return func(o *Options) { o.DType = d } }

// WithLogger sets Options.Logger.
func WithLogger(l zerolog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithSeed sets Options.Seed.
func WithSeed(s uint64) Option { return func(o *Options) { o.Seed = s } }

// WithThreads sets Options.Threads.
func WithThreads(n int) Option { return func(o *Options) { o.Threads = n } }

// WithTokenizer sets Options.Tokenizer.
func WithTokenizer(path string) Option { return func(o *Options) { o.Tokenizer = path } }

// Runner holds a model, its tokenizer and the data loaded for training.
//
// A Runner may be used from several goroutines at once. Its tensor work
// (loading, generation, scoring, training, evaluation) runs one call at a
// time, in the order the calls reach the process's libtorch worker (see
// the package documentation); every such call takes a context, and a call
// whose context ends while it waits behind another returns ErrCancelled
// without running. Close may be called at any time: it stops calls in
// progress at their next check and makes later calls return ErrClosed.
type Runner struct {
	// Set by New and never changed: safe to read without the lock.
	opts   Options
	log    zerolog.Logger
	source string // what New was given
	dir    string // local model directory
	device torch.Device
	dtype  torch.DType
	tok    *tokenizer.Tokenizer
	cfg    model.Config
	eosIDs []int           // the ids generation stops at (stopIDs)
	life   context.Context // cancelled by Close
	stop   context.CancelFunc

	mu      sync.Mutex // guards the fields below
	closed  bool
	model   *model.Model        // nil once closed
	failed  error               // a panic inside training left the weights in an unknown state
	data    data.Set            // pairs loaded for training
	chats   []data.Conversation // conversations loaded for training
	trained bool                // Train has run: the model holds trained weights
	// adapters are the loaded LoRA adapters by name; active names the one
	// attached to the model ("" = none). See adapter.go.
	adapters map[string]*lora.Adapter
	active   string
}

// New loads a model: a local HuggingFace model directory (config.json,
// tokenizer.json and safetensors or .bin weights) or a hub id such as
// "EleutherAI/pythia-70m", found in the HuggingFace cache or downloaded
// into it (see HubOptions).
func New(modelPath string, opts ...Option) (*Runner, error) {
	return NewContext(context.Background(), modelPath, opts...)
}

// NewContext is New with a context: cancelling it stops a download or the
// loading of the weights.
//
// Errors: ErrNotFound (no such directory or hub model), ErrUnauthorized,
// ErrOffline (hub downloads), ErrBadCheckpoint (weight files missing,
// truncated or corrupt), ErrCancelled (ctx ended), ErrInternal.
func NewContext(ctx context.Context, modelPath string, opts ...Option) (*Runner, error) {
	r, err := newRunner(ctx, modelPath, opts...)
	return r, classify(err)
}

func newRunner(ctx context.Context, modelPath string, opts ...Option) (*Runner, error) {
	o := DefaultOptions()
	for _, f := range opts {
		f(&o)
	}
	r := &Runner{opts: o, log: o.Logger, source: modelPath}
	var err error
	if r.dtype, err = parseDType(o.DType); err != nil {
		return nil, err
	}
	if r.device, err = parseDevice(o.Device); err != nil {
		return nil, err
	}
	if r.dtype == torch.Float16 && r.device == torch.CPU {
		return nil, errors.New("runner: float16 compute needs CUDA (libtorch 2.1 has no float16 matmul on CPU); use bfloat16 or float32 on CPU")
	}
	if r.dir, err = resolveModel(ctx, modelPath, o); err != nil {
		return nil, err
	}
	tokPath := r.dir
	if o.Tokenizer != "" {
		tokPath = o.Tokenizer
	}
	if r.tok, err = loadTokenizer(tokPath); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	threads := torch.SetDefaultThreads(o.Threads)
	err = torch.Do(ctx, func() error {
		m, err := model.Load(ctx, r.dir, model.LoadOptions{Device: r.device, DType: r.dtype})
		if err != nil {
			return err
		}
		r.model = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.cfg = r.model.Config
	r.life, r.stop = context.WithCancel(context.Background())
	if r.tok.VocabSize() > r.cfg.VocabSize {
		r.Close()
		return nil, fmt.Errorf("runner: tokenizer has %d ids but the model's vocab_size is %d", r.tok.VocabSize(), r.cfg.VocabSize)
	}
	if r.eosIDs, err = stopIDs(r.dir, r.tok.EOSID(), r.cfg); err != nil {
		r.Close()
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.log.Info().Str("model", modelPath).Str("dir", r.dir).Str("device", r.device.String()).
		Str("dtype", r.dtype.String()).Int64("parameters", r.cfg.NumParameters(false)).
		Int("threads", threads.Threads).Str("threads_why", threads.Reason).Msg("model loaded")
	if err := r.loadAdapters(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// resolveModel turns what the user gave into a local model directory. A
// GGUF file, or a directory holding one GGUF file and no config.json, gets
// a model directory in the cache (see GGUFModelDir).
func resolveModel(ctx context.Context, name string, o Options) (string, error) {
	if st, err := os.Stat(name); err == nil {
		if !st.IsDir() {
			if strings.HasSuffix(strings.ToLower(name), ".gguf") {
				return GGUFModelDir(name)
			}
			return "", fmt.Errorf("runner: model %q is a file; give the model directory that holds config.json, or a .gguf file", name)
		}
		if _, err := os.Stat(filepath.Join(name, "config.json")); err != nil {
			ggufs, _ := filepath.Glob(filepath.Join(name, "*.gguf"))
			if len(ggufs) == 1 {
				return GGUFModelDir(ggufs[0])
			}
			if len(ggufs) > 1 {
				return "", fmt.Errorf("runner: model directory %q has no config.json and %d GGUF files; name the one to use", name, len(ggufs))
			}
			return "", fmt.Errorf("runner: model directory %q has no config.json", name)
		}
		return name, nil
	}
	return resolveHub(ctx, name, o)
}

// GGUFModelDir returns a model directory for a GGUF file: config.json and
// the tokenizer files made from its metadata and a link to the file (see
// gguf.WriteHFDir), under the cache folder, keyed by the file's path, size
// and modification time so that a changed file gets a new one, and by
// gguf.HFDirLayout so that a golamini that maps the metadata differently
// does not reuse a folder an older one wrote.
func GGUFModelDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00layout %d", abs, st.Size(), st.ModTime().UnixNano(), ggufDirLayout)))
	cache := os.Getenv("GOLAMINI_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("runner: cache folder for %s: %w", path, err)
		}
		cache = filepath.Join(base, "golamini")
	}
	dir := filepath.Join(cache, "gguf", strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))+"-"+hex.EncodeToString(key[:6]))
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, nil
	}
	if err := gguf.WriteHFDir(abs, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "config.json")); statErr == nil {
			return dir, nil // another process made it first
		}
		return "", fmt.Errorf("runner: %w", err)
	}
	return dir, nil
}

// ggufDirLayout is gguf.HFDirLayout (a variable for tests).
var ggufDirLayout = gguf.HFDirLayout

func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if st.IsDir() {
		return tokenizer.Load(path)
	}
	return tokenizer.LoadFile(path)
}

func parseDType(s string) (torch.DType, error) {
	switch strings.ToLower(s) {
	case "", "float32", "fp32", "float":
		return torch.Float32, nil
	case "float16", "fp16", "half":
		return torch.Float16, nil
	case "bfloat16", "bf16":
		return torch.BFloat16, nil
	}
	return 0, fmt.Errorf("runner: unknown dtype %q (float32, float16, bfloat16)", s)
}

func parseDevice(s string) (torch.Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "auto":
		if torch.CUDAAvailable() {
			return torch.CUDA(0), nil
		}
		return torch.CPU, nil
	case s == "cpu":
		return torch.CPU, nil
	case s == "cuda" || strings.HasPrefix(s, "cuda:"):
		i := 0
		if s != "cuda" {
			if _, err := fmt.Sscanf(s, "cuda:%d", &i); err != nil || i < 0 {
				return 0, fmt.Errorf("runner: bad device %q (want cpu, cuda or cuda:N)", s)
			}
		}
		if !torch.CUDAAvailable() {
			return 0, errors.New("runner: CUDA was asked for but libtorch sees no CUDA device (is this a CUDA build of libtorch? see the README's CUDA section)")
		}
		if n := torch.CUDADeviceCount(); i >= n {
			return 0, fmt.Errorf("runner: device %q asked for but only %d CUDA device(s) exist", s, n)
		}
		return torch.CUDA(i), nil
	}
	return 0, fmt.Errorf("runner: unknown device %q (auto, cpu, cuda, cuda:N)", s)
}

// Close frees the model's memory. Calls in progress are stopped at their
// next check (a training run saves a checkpoint, as when its context is
// cancelled) and Close waits for them; later calls return ErrClosed.
// Closing again does nothing. It returns nil; the error is for io.Closer.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	m := r.model
	r.model = nil
	r.mu.Unlock()
	if r.stop != nil {
		r.stop()
	}
	if m != nil {
		// Queued behind any call still running on the worker, which holds m
		// until it returns: the weights are freed only after it.
		_ = torch.Do(context.Background(), func() error { r.freeAdapters(m); m.Free(); return nil })
	}
	return nil
}

// Dir returns the local model directory.
func (r *Runner) Dir() string { return r.dir }

// Config returns the model's configuration (it stays readable after Close).
func (r *Runner) Config() Config { return publicConfig(r.cfg, r.dtype) }

// Tokenizer returns the runner's tokenizer (it stays usable after Close).
func (r *Runner) Tokenizer() Tokenizer { return Tokenizer{t: r.tok} }

// checkOpen returns ErrClosed after Close, and ErrInternal after a failed
// training run left the weights in an unknown state.
func (r *Runner) checkOpen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.openLocked()
}

func (r *Runner) openLocked() error {
	if r.closed {
		return ErrClosed
	}
	if r.failed != nil {
		return &kindError{err: fmt.Errorf("runner: the model's weights are in an unknown state after training failed (make a new Runner): %w", r.failed), kinds: []error{ErrInternal}}
	}
	return nil
}

// do runs fn with the current model on the torch worker. fn's context ends
// when ctx does or when the Runner is closed. The error is classified (see
// classify): a call stopped by Close matches ErrClosed, one stopped by its
// own context ErrCancelled and ctx's error.
func (r *Runner) do(ctx context.Context, fn func(ctx context.Context, m *model.Model) error) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(r.life, func() { cancel(ErrClosed) })()
	err := torch.Do(cctx, func() error {
		r.mu.Lock()
		m, err := r.model, r.openLocked()
		r.mu.Unlock()
		if err != nil {
			return err
		}
		return fn(cctx, m)
	})
	return r.callError(ctx, cctx, err)
}

// serveDo is do for internal/serve, whose requests carry their own
// cancellation: it still stops at Close and returns ErrClosed after it.
func (r *Runner) serveDo(fn func(m *model.Model) error) error {
	return r.do(context.Background(), func(_ context.Context, m *model.Model) error { return fn(m) })
}

// callError classifies err from a call made with ctx (cctx: ctx, also ended
// by Close).
func (r *Runner) callError(ctx, cctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed):
		return err
	case ctx.Err() == nil && errors.Is(context.Cause(cctx), ErrClosed):
		return &kindError{err: err, kinds: []error{ErrClosed}}
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		// The trainer reports a cancelled run in its own words; keep ctx's
		// error matchable too.
		return classify(&kindError{err: err, kinds: []error{ctx.Err()}})
	}
	return classify(err)
}
