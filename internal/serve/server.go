package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/constrain"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
)

// ChatTemplate renders a conversation as the model's prompt text, with the
// opening of the assistant's turn when addGenerationPrompt is set. Stop and
// StopIDs are the strings and token ids that end the assistant's turn (its
// end-of-turn token), which end a chat completion besides EOS.
type ChatTemplate interface {
	Render(messages []ChatMessage, addGenerationPrompt bool) (string, error)
	Stop() []string
	StopIDs() []int
}

// Options configure a Server.
type Options struct {
	// ModelID is the name /v1/models lists and requests must give.
	ModelID string
	// Aliases are other names accepted for the model (e.g. the path it was
	// loaded from).
	Aliases []string
	// Adapters are the names of LoRA adapters served over the model: each
	// is listed by /v1/models as a model of its own, and a request naming
	// one runs with it (Request.Adapter); the base model's id runs without.
	// EngineOptions.Adapter (Options.Adapter here) resolves the names.
	Adapters []string
	// Adapter resolves Adapters' names on the torch worker; see
	// EngineOptions.Adapter.
	Adapter AdapterFunc
	// APIKey, when set, must come as "Authorization: Bearer KEY" on /v1/.
	APIKey string
	// MaxConcurrent is the most requests waiting to join the batch; past it
	// requests get 429 with Retry-After.
	MaxConcurrent int
	// MaxBatch is the most sequences decoded together.
	MaxBatch int
	// PrefillChunk is the most prompt tokens run per iteration.
	PrefillChunk int
	// ChatTemplate renders chat requests; nil means the model has none and
	// /v1/chat/completions answers 400.
	ChatTemplate ChatTemplate
	// NoChatTemplate is the 400's message when ChatTemplate is nil.
	NoChatTemplate string
	// ShutdownGrace is how long Serve lets running requests finish after
	// its context ends before cancelling them.
	ShutdownGrace time.Duration
	Logger        zerolog.Logger
}

// DefaultOptions: batch of 16, 64 waiting, 128-token prefill chunks, 30 s
// grace.
func DefaultOptions() Options {
	return Options{ModelID: "model", MaxConcurrent: 64, MaxBatch: 16, PrefillChunk: 128, ShutdownGrace: 30 * time.Second, Logger: zerolog.Nop()}
}

// Server is the OpenAI-compatible HTTP API over one model.
type Server struct {
	o       Options
	tok     *tokenizer.Tokenizer
	cfg     model.Config
	engine  *Engine
	metrics *Metrics
	mux     *http.ServeMux
	created int64

	vocabOnce sync.Once
	vocab     *constrain.Vocab
	vocabErr  error
	schemas   *constrain.Cache
}

// New starts a server's engine over the model that do gives access to.
func New(do Do, tok *tokenizer.Tokenizer, cfg model.Config, o Options) *Server {
	if o.MaxConcurrent < 1 {
		o.MaxConcurrent = 1
	}
	s := &Server{o: o, tok: tok, cfg: cfg, metrics: NewMetrics(), created: time.Now().Unix()}
	eo := EngineOptions{MaxBatch: o.MaxBatch, MaxQueue: o.MaxConcurrent, PrefillChunk: o.PrefillChunk, Logger: o.Logger, Adapter: o.Adapter}
	s.engine = NewEngine(do, tok, cfg, eo, s.metrics)
	s.mux = http.NewServeMux()
	s.route("/v1/models", http.MethodGet, s.handleModels)
	s.route("/v1/models/{id}", http.MethodGet, s.handleModel)
	s.route("/v1/completions", http.MethodPost, s.handleCompletions)
	s.route("/v1/chat/completions", http.MethodPost, s.handleChat)
	s.route("/health", http.MethodGet, s.handleHealth)
	s.route("/metrics", http.MethodGet, s.handleMetrics)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.count(r, "other", http.StatusNotFound)
		writeError(w, &apiError{status: http.StatusNotFound, Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), Type: "invalid_request_error"})
	})
	return s
}

// route registers a path for one method; other methods get a JSON 405.
func (s *Server) route(path, method string, h http.HandlerFunc) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			s.count(r, path, http.StatusMethodNotAllowed)
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, path, method), Type: "invalid_request_error"})
			return
		}
		if strings.HasPrefix(path, "/v1/") && !s.authorized(r) {
			s.count(r, path, http.StatusUnauthorized)
			writeError(w, &apiError{status: http.StatusUnauthorized, Message: "Incorrect or missing API key: send it as \"Authorization: Bearer KEY\".", Type: "invalid_request_error", Code: strp("invalid_api_key")})
			return
		}
		h(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.o.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.o.APIKey)) == 1
}

func (s *Server) count(r *http.Request, endpoint string, code int) {
	s.metrics.requests.WithLabel(endpoint, fmt.Sprint(code)).Inc()
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the engine: running requests end with an error.
func (s *Server) Close() { s.engine.Close() }

// Serve listens on addr and serves until ctx ends; then it stops accepting,
// lets running requests finish for ShutdownGrace, cancels the rest and
// returns nil.
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	if host, _, err := net.SplitHostPort(ln.Addr().String()); err == nil && s.o.APIKey == "" && !isLoopback(host) {
		s.o.Logger.Warn().Str("addr", ln.Addr().String()).Msg("serving beyond localhost without an API key: anyone who can reach this address can use the model (set --api-key)")
	}
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := &http.Server{Handler: s, BaseContext: func(net.Listener) context.Context { return base }, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.o.Logger.Info().Str("addr", ln.Addr().String()).Str("model", s.o.ModelID).Msg("serving the OpenAI API")
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.o.Logger.Info().Dur("grace", s.o.ShutdownGrace).Msg("shutting down: no new requests; running ones may finish")
	gctx, gcancel := context.WithTimeout(context.Background(), s.o.ShutdownGrace)
	defer gcancel()
	err := hs.Shutdown(gctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.o.Logger.Warn().Msg("grace period over: cancelling running requests")
		cancel() // request contexts end: the engine drops their rows
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		err = hs.Shutdown(cctx)
		if err != nil {
			hs.Close()
		}
	}
	s.Close()
	<-errc
	return nil
}

// isLoopback reports whether host (an IP or name) is only reachable from
// this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether the host of addr ("host:port") is only
// reachable from this machine; an empty host (all interfaces) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopback(host)
}

func (s *Server) constraintVocab() (*constrain.Vocab, error) {
	s.vocabOnce.Do(func() {
		toks := make([][]byte, s.cfg.VocabSize)
		n := 0
		for id := range toks {
			if b, ok := s.tok.TokenBytes(id); ok {
				toks[id] = b
				n++
			}
		}
		if n == 0 {
			s.vocabErr = errors.New("this model's tokenizer has no byte-level decoder, which response_format needs")
			return
		}
		s.vocab = constrain.NewVocab(toks, s.tok.EOSID())
		s.schemas = constrain.NewCache(s.vocab, 32)
	})
	return s.vocab, s.vocabErr
}
