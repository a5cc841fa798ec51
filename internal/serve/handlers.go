package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/golamini/golamini/internal/constrain"
)

// maxBody bounds a request body.
const maxBody = 8 << 20

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.count(r, "/health", http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.count(r, "/metrics", http.StatusOK)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.Write(w)
}

// modelObject describes the base model ("" ) or an adapter over it.
func (s *Server) modelObject(adapter string) modelObject {
	if adapter == "" {
		return modelObject{ID: s.o.ModelID, Object: "model", Created: s.created, OwnedBy: "golamini"}
	}
	return modelObject{ID: adapter, Object: "model", Created: s.created, OwnedBy: "golamini", Parent: &s.o.ModelID}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.count(r, "/v1/models", http.StatusOK)
	list := modelList{Object: "list", Data: []modelObject{s.modelObject("")}}
	for _, a := range s.o.Adapters {
		list.Data = append(list.Data, s.modelObject(a))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	adapter, ok := s.resolveModel(r.PathValue("id"))
	if !ok {
		s.count(r, "/v1/models/{id}", http.StatusNotFound)
		writeError(w, &apiError{status: http.StatusNotFound, Message: fmt.Sprintf("The model %q does not exist; this server serves %s.", r.PathValue("id"), s.servedModels()), Type: "invalid_request_error", Param: strp("model"), Code: strp("model_not_found")})
		return
	}
	s.count(r, "/v1/models/{id}", http.StatusOK)
	writeJSON(w, http.StatusOK, s.modelObject(adapter))
}

// resolveModel maps a request's model name to the adapter it selects: ""
// for the base model (its id or an alias), the adapter's name for one of
// Options.Adapters; ok is false for any other name.
func (s *Server) resolveModel(name string) (adapter string, ok bool) {
	if slices.Contains(s.o.Adapters, name) {
		return name, true
	}
	return "", name == s.o.ModelID || slices.Contains(s.o.Aliases, name)
}

// servedModels lists the names requests may give, for error messages.
func (s *Server) servedModels() string {
	names := fmt.Sprintf("%q", s.o.ModelID)
	for _, a := range s.o.Adapters {
		names += fmt.Sprintf(", %q", a)
	}
	return names
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON object into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	d := json.NewDecoder(body)
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("", "invalid_json", "request body is empty; send a JSON object")
		}
		return decodeError(err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "invalid_json", "request body has data after the JSON object")
	}
	return nil
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// plan is a validated request: one engine request per prompt.
type plan struct {
	reqs    []*Request
	n       int
	stream  bool
	usage   bool   // stream_options.include_usage
	logprob int    // top alternatives asked for; -1 none
	model   string // the served model's id (the base's or the adapter's), echoed in responses
	adapter string // the LoRA adapter it selects ("" = the base model)
}

// common validates the fields completions and chat share and fills the
// parts of an engine request they set. prompts are tokenized already.
func (s *Server) common(sp *sampling, prompts [][]int, promptParam string, defaultMax int, maxTokens *int, maxParam string, logprobs int) (*plan, *apiError) {
	if sp.Model == "" {
		return nil, badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	adapter, ok := s.resolveModel(sp.Model)
	if !ok {
		return nil, badRequest("model", "model_not_found", "The model %q does not exist; this server serves %s.", sp.Model, s.servedModels())
	}
	for _, x := range []struct {
		name string
		v    *float64
	}{{"frequency_penalty", sp.FrequencyPenalty}, {"presence_penalty", sp.PresencePenalty}} {
		if x.v != nil && *x.v != 0 {
			return nil, badRequest(x.name, "unsupported_parameter", "%s is not supported by this server (only 0)", x.name)
		}
	}
	if len(sp.LogitBias) > 0 {
		return nil, badRequest("logit_bias", "unsupported_parameter", "logit_bias is not supported by this server")
	}
	p := &plan{n: 1, stream: sp.Stream, logprob: logprobs, model: s.o.ModelID, adapter: adapter}
	if adapter != "" {
		p.model = adapter
	}
	if sp.N != nil {
		if *sp.N < 1 || *sp.N > s.o.MaxBatch {
			return nil, badRequest("n", "invalid_value", "n must be between 1 and %d, got %d", s.o.MaxBatch, *sp.N)
		}
		p.n = *sp.N
	}
	if sp.StreamOptions != nil {
		if !sp.Stream {
			return nil, badRequest("stream_options", "invalid_value", "stream_options is only allowed with stream: true")
		}
		p.usage = sp.StreamOptions.IncludeUsage
	}
	temp := 1.0
	if sp.Temperature != nil {
		if *sp.Temperature < 0 || *sp.Temperature > 2 {
			return nil, badRequest("temperature", "invalid_value", "temperature must be between 0 and 2, got %v", *sp.Temperature)
		}
		temp = *sp.Temperature
	}
	topP := 1.0
	if sp.TopP != nil {
		if *sp.TopP <= 0 || *sp.TopP > 1 {
			return nil, badRequest("top_p", "invalid_value", "top_p must be in (0, 1], got %v", *sp.TopP)
		}
		topP = *sp.TopP
	}
	topK := 0
	if sp.TopK != nil {
		if *sp.TopK < 0 {
			return nil, badRequest("top_k", "invalid_value", "top_k must be ≥ 0, got %d", *sp.TopK)
		}
		topK = *sp.TopK
	}
	stops, e := parseStop(sp.Stop)
	if e != nil {
		return nil, e
	}
	var seed uint64
	if sp.Seed != nil {
		seed = uint64(*sp.Seed)
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	var ix *constrain.Index
	if rf := sp.ResponseFormat; rf != nil {
		var g *constrain.Grammar
		switch rf.Type {
		case "text":
		case "json_object":
			g = constrain.JSONObject()
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return nil, badRequest("response_format.json_schema", "invalid_value", `response_format of type "json_schema" needs "json_schema": {"name": ..., "schema": {...}}`)
			}
			var err error
			if g, err = constrain.CompileSchema(rf.JSONSchema.Schema); err != nil {
				return nil, badRequest("response_format.json_schema.schema", "invalid_value", "%v", err)
			}
		default:
			return nil, badRequest("response_format.type", "invalid_value", "response_format type must be text, json_object or json_schema, got %q", rf.Type)
		}
		if g != nil {
			if _, err := s.constraintVocab(); err != nil {
				return nil, badRequest("response_format", "unsupported_value", "%v", err)
			}
			ix = s.schemas.Index(g)
		}
	}
	ctxN := s.engine.Context()
	for _, ids := range prompts {
		if len(ids) >= ctxN {
			return nil, badRequest(promptParam, "context_length_exceeded", "This model's maximum context length is %d tokens, but the prompt has %d tokens (it is never truncated); shorten it.", ctxN, len(ids))
		}
		mt := defaultMax
		if mt <= 0 || mt > ctxN-len(ids) {
			mt = ctxN - len(ids)
		}
		if maxTokens != nil {
			mt = *maxTokens
			if mt <= 0 {
				return nil, badRequest(maxParam, "invalid_value", "%s must be at least 1, got %d", maxParam, mt)
			}
			if len(ids)+mt > ctxN {
				return nil, badRequest(maxParam, "context_length_exceeded", "This model's maximum context length is %d tokens: the prompt's %d tokens plus %s %d do not fit; lower %s.", ctxN, len(ids), maxParam, mt, maxParam)
			}
		}
		if ix != nil {
			if need := ix.Grammar().Start().MinClose(); need > mt {
				return nil, badRequest(maxParam, "invalid_value", "%s %d is too small for response_format: its shortest valid output takes up to %d tokens", maxParam, mt, need)
			}
		}
		p.reqs = append(p.reqs, &Request{Adapter: p.adapter, Prompt: ids, N: p.n, MaxTokens: mt, Temperature: temp, TopK: topK, TopP: topP,
			Seed: seed, Stop: stops, IgnoreEOS: sp.IgnoreEOS, Logprobs: logprobs, Constraint: ix, CleanUp: !sp.Stream})
	}
	return p, nil
}

func parseStop(raw json.RawMessage) ([]string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "invalid_type", "stop must be a string or an array of up to 4 strings")
	}
	if len(many) > 4 {
		return nil, badRequest("stop", "invalid_value", "stop takes at most 4 strings, got %d", len(many))
	}
	return many, nil
}

// parsePrompt reads a completions prompt: a string, an array of strings,
// an array of token ids or an array of arrays of them.
func (s *Server) parsePrompt(raw json.RawMessage) ([][]int, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("prompt", "missing_required_parameter", "you must provide a prompt")
	}
	enc := func(text string) []int {
		ids := s.tok.Encode(text)
		if len(ids) == 0 {
			ids = []int{s.tok.EOSID()} // an empty prompt starts from end-of-text, as `golamini infer` does
		}
		return ids
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return [][]int{enc(one)}, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) > 0 {
		out := make([][]int, len(texts))
		for i, t := range texts {
			out[i] = enc(t)
		}
		return out, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return [][]int{ids}, s.checkIDs(ids)
	}
	var batch [][]int
	if json.Unmarshal(raw, &batch) == nil && len(batch) > 0 {
		for _, b := range batch {
			if len(b) == 0 {
				return nil, badRequest("prompt", "invalid_value", "a prompt of token ids must not be empty")
			}
			if e := s.checkIDs(b); e != nil {
				return nil, e
			}
		}
		return batch, nil
	}
	return nil, badRequest("prompt", "invalid_type", "prompt must be a string, an array of strings, an array of token ids or an array of such arrays (non-empty)")
}

func (s *Server) checkIDs(ids []int) *apiError {
	for _, id := range ids {
		if id < 0 || id >= s.cfg.VocabSize {
			return badRequest("prompt", "invalid_value", "token id %d is outside the vocabulary [0, %d)", id, s.cfg.VocabSize)
		}
	}
	return nil
}

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/completions"
	var req completionRequest
	if e := decodeBody(w, r, &req); e != nil {
		s.fail(w, r, ep, e)
		return
	}
	switch {
	case req.Echo:
		s.fail(w, r, ep, badRequest("echo", "unsupported_parameter", "echo is not supported by this server"))
		return
	case req.Suffix != nil && *req.Suffix != "":
		s.fail(w, r, ep, badRequest("suffix", "unsupported_parameter", "suffix is not supported by this server"))
		return
	case req.BestOf != nil && *req.BestOf != 1 && (req.N == nil || *req.BestOf != *req.N):
		s.fail(w, r, ep, badRequest("best_of", "unsupported_parameter", "best_of is not supported by this server"))
		return
	}
	lp := -1
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > 5 {
			s.fail(w, r, ep, badRequest("logprobs", "invalid_value", "logprobs must be between 0 and 5, got %d", *req.Logprobs))
			return
		}
		lp = *req.Logprobs
	}
	prompts, e := s.parsePrompt(req.Prompt)
	if e != nil {
		s.fail(w, r, ep, e)
		return
	}
	p, e := s.common(&req.sampling, prompts, "prompt", 16, req.MaxTokens, "max_tokens", lp)
	if e != nil {
		s.fail(w, r, ep, e)
		return
	}
	s.run(w, r, ep, p, false)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/chat/completions"
	var req chatRequest
	if e := decodeBody(w, r, &req); e != nil {
		s.fail(w, r, ep, e)
		return
	}
	if len(bytes.TrimSpace(req.Tools)) > 0 && string(bytes.TrimSpace(req.Tools)) != "null" && string(bytes.TrimSpace(req.Tools)) != "[]" {
		s.fail(w, r, ep, badRequest("tools", "unsupported_parameter", "tools are not supported by this server"))
		return
	}
	if len(req.Messages) == 0 {
		s.fail(w, r, ep, badRequest("messages", "missing_required_parameter", "messages must be a non-empty array"))
		return
	}
	msgs := make([]ChatMessage, len(req.Messages))
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			s.fail(w, r, ep, badRequest(param+".role", "invalid_value", "%s.role must be system, developer, user or assistant, got %q", param, m.Role))
			return
		}
		text, e := messageText(m.Content, param+".content")
		if e != nil {
			s.fail(w, r, ep, e)
			return
		}
		msgs[i] = ChatMessage{Role: m.Role, Content: text, Name: m.Name}
	}
	lp := -1
	if req.Logprobs != nil && *req.Logprobs {
		lp = 0
	}
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > 20 {
			s.fail(w, r, ep, badRequest("top_logprobs", "invalid_value", "top_logprobs must be between 0 and 20, got %d", *req.TopLogprobs))
			return
		}
		if lp < 0 {
			s.fail(w, r, ep, badRequest("top_logprobs", "invalid_value", "top_logprobs needs logprobs: true"))
			return
		}
		lp = *req.TopLogprobs
	}
	if s.o.ChatTemplate == nil {
		msg := s.o.NoChatTemplate
		if msg == "" {
			msg = fmt.Sprintf("model %q has no chat template, so /v1/chat/completions cannot prompt it; use /v1/completions", s.o.ModelID)
		}
		s.fail(w, r, ep, badRequest("model", "no_chat_template", "%s", msg))
		return
	}
	text, err := s.o.ChatTemplate.Render(msgs, true)
	if err != nil {
		s.fail(w, r, ep, badRequest("messages", "invalid_value", "the model's chat template cannot render these messages: %v", err))
		return
	}
	maxTok, maxParam := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		maxTok, maxParam = req.MaxCompletionTokens, "max_completion_tokens"
	}
	ids := s.tok.Encode(text)
	p, e := s.common(&req.sampling, [][]int{ids}, "messages", 0, maxTok, maxParam, lp)
	if e != nil {
		s.fail(w, r, ep, e)
		return
	}
	for _, rq := range p.reqs {
		rq.StopIDs = s.o.ChatTemplate.StopIDs()
		for _, st := range s.o.ChatTemplate.Stop() {
			if st != "" && !slices.Contains(rq.Stop, st) && rq.Constraint == nil {
				rq.Stop = append(rq.Stop, st)
			}
		}
	}
	s.run(w, r, ep, p, true)
}

// messageText reads a message's content: a string or an array of text
// parts.
func messageText(raw json.RawMessage, param string) (string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", badRequest(param, "invalid_type", "%s must be a string or an array of text parts", param)
	}
	var out string
	for i, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", badRequest(fmt.Sprintf("%s[%d]", param, i), "unsupported_value", "only text parts are supported (type %q)", p.Type)
		}
		out += *p.Text
	}
	return out, nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, ep string, e *apiError) {
	s.count(r, ep, e.status)
	writeError(w, e)
}

// tagged is an event of the job at index job.
type tagged struct {
	job int
	ev  Event
}

// submit queues every request of p; on failure it cancels what it queued.
func (s *Server) submit(ctx context.Context, p *plan) ([]*Job, *apiError) {
	var jobs []*Job
	for _, rq := range p.reqs {
		j, err := s.engine.Submit(ctx, rq)
		switch {
		case errors.Is(err, ErrBusy):
			return nil, &apiError{status: http.StatusTooManyRequests, Message: fmt.Sprintf("The server has %d requests waiting already; retry shortly.", s.o.MaxConcurrent), Type: "requests", Code: strp("rate_limit_exceeded"), retryAfter: 1}
		case errors.Is(err, ErrClosed):
			return nil, &apiError{status: http.StatusServiceUnavailable, Message: "The server is shutting down.", Type: "server_error"}
		case err != nil:
			return nil, badRequest("", "invalid_value", "%v", err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// fanIn merges the jobs' events; it stops forwarding when ctx ends (the
// engine then ends the jobs, whose channels are drained here).
func fanIn(ctx context.Context, jobs []*Job) <-chan tagged {
	out := make(chan tagged)
	done := make(chan struct{})
	for i, j := range jobs {
		go func() {
			defer func() { done <- struct{}{} }()
			for ev := range j.Events {
				select {
				case out <- tagged{i, ev}:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		for range jobs {
			<-done
		}
		close(out)
	}()
	return out
}

// choiceState accumulates one choice's output.
type choiceState struct {
	text     string
	final    *string
	reason   *string
	tokens   []*TokenLogprob
	pendingT []*TokenLogprob // streamed: tokens not yet sent with a piece
}

func (s *Server) run(w http.ResponseWriter, r *http.Request, ep string, p *plan, chat bool) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	jobs, e := s.submit(ctx, p)
	if e != nil {
		s.fail(w, r, ep, e)
		return
	}
	id := newID("cmpl-")
	if chat {
		id = newID("chatcmpl-")
	}
	created := time.Now().Unix()
	n := p.n
	states := make([]choiceState, len(jobs)*n)
	var usage Usage
	if p.stream {
		s.count(r, ep, http.StatusOK)
		s.stream(ctx, w, jobs, p, chat, id, created, states)
		return
	}
	for t := range fanIn(ctx, jobs) {
		ev := t.ev
		if ev.Err != nil {
			status := http.StatusInternalServerError
			if ctx.Err() != nil {
				return // the client went away
			}
			s.fail(w, r, ep, &apiError{status: status, Message: fmt.Sprintf("generation failed: %v", ev.Err), Type: "server_error"})
			return // the deferred cancel ends the other jobs
		}
		if ev.Done {
			usage.PromptTokens += ev.Usage.PromptTokens
			usage.CompletionTokens += ev.Usage.CompletionTokens
			usage.TotalTokens += ev.Usage.TotalTokens
			continue
		}
		st := &states[t.job*n+ev.Choice]
		if ev.Token != nil {
			st.tokens = append(st.tokens, ev.Token)
		}
		if ev.Finish != "" {
			f, rs := ev.Final, ev.Finish
			st.final, st.reason = &f, &rs
		}
	}
	if ctx.Err() != nil {
		return
	}
	s.count(r, ep, http.StatusOK)
	if chat {
		resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: p.model, Usage: &usage}
		for i := range states {
			st := &states[i]
			c := chatChoice{Index: i, Message: &chatMessageOut{Role: "assistant", Content: st.final}, FinishReason: st.reason}
			if p.logprob >= 0 {
				c.Logprobs = &chatLogprobs{Content: chatLogprobEntries(st.tokens)}
			}
			resp.Choices = append(resp.Choices, c)
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: p.model, Usage: &usage}
	for i := range states {
		st := &states[i]
		c := completionChoice{Index: i, FinishReason: st.reason}
		if st.final != nil {
			c.Text = *st.final
		}
		if p.logprob >= 0 {
			c.Logprobs = completionLogprobEntries(st.tokens, 0)
		}
		resp.Choices = append(resp.Choices, c)
	}
	writeJSON(w, http.StatusOK, resp)
}

func chatLogprobEntries(ts []*TokenLogprob) []chatTokenLogprob {
	out := make([]chatTokenLogprob, 0, len(ts))
	for _, t := range ts {
		e := chatTokenLogprob{Token: string(t.Bytes), Logprob: t.Logprob, Bytes: byteInts(t.Bytes), TopLogprobs: []chatTopLogprob{}}
		for _, a := range t.Top {
			e.TopLogprobs = append(e.TopLogprobs, chatTopLogprob{Token: string(a.Bytes), Logprob: a.Logprob, Bytes: byteInts(a.Bytes)})
		}
		out = append(out, e)
	}
	return out
}

func completionLogprobEntries(ts []*TokenLogprob, offset int) *completionLogprobs {
	l := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float32{}, TopLogprobs: []map[string]float32{}, TextOffset: []int{}}
	for _, t := range ts {
		l.Tokens = append(l.Tokens, string(t.Bytes))
		l.TokenLogprobs = append(l.TokenLogprobs, t.Logprob)
		top := map[string]float32{}
		for _, a := range t.Top {
			if _, ok := top[string(a.Bytes)]; !ok {
				top[string(a.Bytes)] = a.Logprob
			}
		}
		l.TopLogprobs = append(l.TopLogprobs, top)
		l.TextOffset = append(l.TextOffset, offset)
		offset += len(t.Bytes)
	}
	return l
}

func byteInts(b []byte) []int {
	out := make([]int, len(b))
	for i, x := range b {
		out[i] = int(x)
	}
	return out
}
