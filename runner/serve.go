package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/serve"
)

// ServeOptions configure Serve and NewServer.
type ServeOptions struct {
	// ModelName is the model's name in the API (/v1/models, the "model"
	// field of requests). Default: the model as given to New; its base
	// name is accepted too.
	ModelName string
	// APIKey, when set, must come as "Authorization: Bearer KEY" on every
	// /v1/ request (401 otherwise).
	APIKey string
	// MaxConcurrent is the most requests waiting to join the batch; more
	// get 429 with Retry-After (default 64).
	MaxConcurrent int
	// MaxBatch is the most sequences decoded together in one step; each
	// choice of a request is one (default 16).
	MaxBatch int
	// PrefillChunk is the most prompt tokens run per iteration, so a long
	// prompt does not stall running streams (default 128). Short prompts
	// waiting together are prefilled in one pass, padded to the longest;
	// the padding counts.
	PrefillChunk int
	// ShutdownGrace is how long Serve lets running requests finish once its
	// context ends (default 30 s).
	ShutdownGrace time.Duration
}

// DefaultServeOptions: 64 waiting, batches of 16, 128-token prefill
// chunks, 30 s grace.
func DefaultServeOptions() ServeOptions {
	d := serve.DefaultOptions()
	return ServeOptions{MaxConcurrent: d.MaxConcurrent, MaxBatch: d.MaxBatch, PrefillChunk: d.PrefillChunk, ShutdownGrace: d.ShutdownGrace}
}

// Server is the OpenAI-compatible HTTP API over a runner's model, an
// http.Handler for programs that mount it in their own server. Close it
// when done.
type Server struct{ s *serve.Server }

// ServeHTTP serves GET /v1/models, POST /v1/completions, POST
// /v1/chat/completions, GET /health and GET /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.s.ServeHTTP(w, r) }

// Close stops generation; requests still running end with an error.
func (s *Server) Close() { s.s.Close() }

// NewServer makes the API handler. Requests share the model through a
// continuous batch, so other calls on the runner (Infer, Train) wait for
// its steps; training while serving changes the weights mid-request.
//
// The LoRA adapters loaded when NewServer is called (WithAdapter,
// LoadAdapter) are served too: GET /v1/models lists each under its name
// (with the base model as "parent"), a request whose "model" is an
// adapter's name runs with that adapter, and one naming the base model
// runs without any, whichever adapter is active on the runner. The batch
// runs one adapter at a time (requests for another wait for the running
// ones to finish, in arrival order). Unloading a served adapter fails the
// requests that use it.
func (r *Runner) NewServer(o ServeOptions) (*Server, error) {
	so := serve.DefaultOptions()
	so.ModelID = o.ModelName
	if so.ModelID == "" {
		so.ModelID = r.source
	}
	so.Adapters = r.Adapters()
	for _, a := range []string{filepath.Base(r.source), filepath.Base(r.dir)} {
		if !slices.Contains(so.Adapters, a) {
			so.Aliases = append(so.Aliases, a)
		}
	}
	if slices.Contains(so.Adapters, so.ModelID) {
		return nil, fmt.Errorf("runner: serve: adapter %q has the model's name; give the model another (ServeOptions.ModelName, serve --model-name)", so.ModelID)
	}
	so.Adapter = r.serveAdapter
	so.APIKey = o.APIKey
	if o.MaxConcurrent > 0 {
		so.MaxConcurrent = o.MaxConcurrent
	}
	if o.MaxBatch > 0 {
		so.MaxBatch = o.MaxBatch
	}
	if o.PrefillChunk > 0 {
		so.PrefillChunk = o.PrefillChunk
	}
	if o.ShutdownGrace > 0 {
		so.ShutdownGrace = o.ShutdownGrace
	}
	so.Logger = r.log
	so.NoChatTemplate = r.noChatTemplate()
	ct, err := r.serveChatTemplate()
	if err != nil {
		return nil, err
	}
	if ct != nil {
		so.ChatTemplate = ct
	}
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	return &Server{s: serve.New(r.serveDo, r.tok, r.cfg, so)}, nil
}

// Serve listens on addr ("host:port") and serves the OpenAI API until ctx
// ends; then it stops accepting, lets running requests finish for
// ServeOptions.ShutdownGrace, cancels the rest and returns nil. Binding
// beyond localhost without an APIKey logs a warning.
func (r *Runner) Serve(ctx context.Context, addr string, o ServeOptions) error {
	s, err := r.NewServer(o)
	if err != nil {
		return err
	}
	return s.s.Serve(ctx, addr)
}

// serveAdapter puts a served adapter ("" = none) on the model (on the
// torch worker, for the serving engine).
func (r *Runner) serveAdapter(m *model.Model, name string) error {
	if name == "" {
		lora.Detach(m)
		return nil
	}
	r.mu.Lock()
	a, ok := r.adapters[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("runner: adapter %q is no longer loaded", name)
	}
	a.Attach(m)
	return nil
}

// noChatTemplate explains why /v1/chat/completions cannot prompt this
// model (used only when serveChatTemplate found no template).
func (r *Runner) noChatTemplate() string {
	has := false
	if b, err := os.ReadFile(filepath.Join(r.dir, "tokenizer_config.json")); err == nil {
		var c struct {
			ChatTemplate json.RawMessage `json:"chat_template"`
		}
		has = json.Unmarshal(b, &c) == nil && len(c.ChatTemplate) > 0 && string(c.ChatTemplate) != "null"
	}
	if _, err := os.Stat(filepath.Join(r.dir, "chat_template.jinja")); err == nil {
		has = true
	}
	if has {
		return fmt.Sprintf("model %q has a chat template file, but no usable template in it; use /v1/completions with the prompt written out", r.source)
	}
	return fmt.Sprintf("model %q has no chat template (tokenizer_config.json \"chat_template\" or chat_template.jinja), so /v1/chat/completions cannot prompt it; use /v1/completions", r.source)
}
