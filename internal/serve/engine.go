// Package serve is golamini's OpenAI-compatible HTTP server and the engine
// behind it: continuous batching of independent requests over one model,
// streaming, and JSON output enforced by internal/constrain.
//
// The engine keeps one batched KV cache (model.Cache) whose rows are the
// running sequences. Each iteration on the torch worker runs one chunk of
// the next prompt's prefill (in a separate one-row cache; prompts that fit
// one chunk and wait together are prefilled in one pass, one row each) and
// then one decoding step for all running rows: one Forward over [rows, 1] ids, so the
// weights are read once for every request. Rows join when their prefill
// ends (the prefilled row is copied in) and leave when they finish or their
// client goes away (the last row moves into the freed slot). Every row
// holds its own positions 0…n−1 in its own cache columns 0…n−1 and writes
// its next token at column n (model.Pass.RowLens), so rows of different
// lengths need no mask, leave no gaps and never need compacting.
//
// LoRA adapters: a request may name an adapter (Request.Adapter). The
// model applies one adapter to a whole forward pass (LinearHook, Head), so
// the batch runs one adapter at a time: a waiting request joins only while
// the running rows use its adapter (or none run), and requests keep their
// arrival order, so a request for another adapter waits for the running
// rows to finish and then the batch switches. Rows with different adapters
// never share a step, and every row's cache was computed with its own
// adapter.
package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
)

// ErrBusy is returned by Submit when the queue of waiting requests is full.
var ErrBusy = errors.New("serve: too many requests waiting")

// ErrTooShort is returned by Submit when max tokens cannot hold the
// shortest output a constraint allows.
var ErrTooShort = errors.New("serve: max tokens too small")

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("serve: engine closed")

// EngineOptions configure an Engine.
type EngineOptions struct {
	// MaxBatch is the most sequences decoded together (a request with n
	// choices takes n).
	MaxBatch int
	// MaxQueue is the most requests waiting to start; Submit returns
	// ErrBusy past it.
	MaxQueue int
	// PrefillChunk is the most prompt positions run in one iteration, so a
	// long prompt does not stall the running streams. Short prompts waiting
	// together are prefilled in one pass, padded to the longest of them;
	// the padded positions count.
	PrefillChunk int
	Logger       zerolog.Logger
	// Adapter, when set, puts the named LoRA adapter ("" = none) on the
	// model (its LinearHook and Head), called on the torch worker before
	// each step; the model's own adapter is restored after the step. Nil
	// leaves the model as it is and every request must name no adapter.
	Adapter AdapterFunc
}

// AdapterFunc puts a LoRA adapter, by name, on the model.
type AdapterFunc func(m *model.Model, name string) error

// DefaultEngineOptions: 16 sequences, 64 waiting, 128-token prefill chunks.
func DefaultEngineOptions() EngineOptions {
	return EngineOptions{MaxBatch: 16, MaxQueue: 64, PrefillChunk: 128, Logger: zerolog.Nop()}
}

// Do runs fn with the model on the torch worker thread (the runner's
// accessor, which also guards the model against Close).
type Do func(fn func(m *model.Model) error) error

// Engine runs requests in a continuous batch.
type Engine struct {
	do   Do
	tok  *tokenizer.Tokenizer
	ctxN int // model context
	V    int
	eos  map[int]bool // ids that end a sequence: the tokenizer's EOS and config.json's eos_token_id(s)
	o    EngineOptions
	m    *Metrics

	mu     sync.Mutex
	queue  []*Job
	active bool // rows running or a prefill under way (set by the loop)
	closed bool
	wake   chan struct{}
	quit   chan struct{}
	exited chan struct{}

	// Owned by the loop (the torch worker runs it):
	rows    []*seq
	big     *model.Cache // MaxBatch rows
	tmp     *model.Cache // one row, for prefill
	grp     *model.Cache // MaxBatch rows of PrefillChunk columns, for prompts prefilled together
	pf      *Job         // being prefilled
	pfMore  []*Job       // prefilled with pf in one pass (short prompts that waited together)
	adapter string       // the adapter of the rows and the prefill
	threads int
}

// NewEngine makes an engine and starts its loop.
func NewEngine(do Do, tok *tokenizer.Tokenizer, cfg model.Config, o EngineOptions, metrics *Metrics) *Engine {
	e := newEngine(do, tok, cfg, o, metrics)
	go e.loop()
	return e
}

// newEngine makes an engine without starting its loop (tests step it).
func newEngine(do Do, tok *tokenizer.Tokenizer, cfg model.Config, o EngineOptions, metrics *Metrics) *Engine {
	if o.MaxBatch < 1 {
		o.MaxBatch = 1
	}
	if o.PrefillChunk < 1 {
		o.PrefillChunk = 128
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	e := &Engine{do: do, tok: tok, ctxN: cfg.MaxPositionEmbeddings, V: cfg.VocabSize, o: o, m: metrics,
		eos:  map[int]bool{tok.EOSID(): true},
		wake: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
	for _, id := range cfg.EOSIDs() {
		e.eos[id] = true
	}
	return e
}

// Context is the model's context length: prompt plus max tokens must fit.
func (e *Engine) Context() int { return e.ctxN }

// Submit queues r; the job's events come as it runs. ctx cancels it (a
// client that went away): its rows are freed at the next token boundary.
func (e *Engine) Submit(ctx context.Context, r *Request) (*Job, error) {
	if r.N < 1 || r.N > e.o.MaxBatch {
		return nil, fmt.Errorf("serve: n = %d outside [1, %d]", r.N, e.o.MaxBatch)
	}
	if len(r.Prompt) == 0 || r.MaxTokens < 1 || len(r.Prompt)+r.MaxTokens > e.ctxN {
		return nil, fmt.Errorf("serve: prompt of %d tokens + %d new tokens does not fit the context of %d", len(r.Prompt), r.MaxTokens, e.ctxN)
	}
	if r.Constraint != nil {
		if need := r.Constraint.Grammar().Start().MinClose(); need > r.MaxTokens {
			return nil, fmt.Errorf("%w: the shortest output that fits the response format takes up to %d tokens, more than max tokens %d", ErrTooShort, need, r.MaxTokens)
		}
	}
	if r.TopP <= 0 || r.TopP > 1 {
		r.TopP = 1
	}
	if r.Adapter != "" && e.o.Adapter == nil {
		return nil, fmt.Errorf("serve: adapter %q: this engine serves no adapters", r.Adapter)
	}
	j := &Job{req: r, ctx: ctx, start: time.Now(), open: r.N, Events: make(chan Event, r.N*(r.MaxTokens+1)+2)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if len(e.queue) >= e.o.MaxQueue {
		return nil, ErrBusy
	}
	e.queue = append(e.queue, j)
	e.m.queue.Set(float64(len(e.queue)))
	e.signal()
	return j, nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Close stops the loop: running and waiting jobs end with ErrClosed, and
// the caches are freed.
func (e *Engine) Close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.quit)
	}
	e.mu.Unlock()
	<-e.exited
}

func (e *Engine) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.active && len(e.queue) == 0
}

func (e *Engine) loop() {
	defer close(e.exited)
	for {
		if e.idle() {
			select {
			case <-e.wake:
			case <-e.quit:
			}
		}
		select {
		case <-e.quit:
			e.shutdown()
			return
		default:
		}
		err := e.do(func(m *model.Model) error { return e.step(m) })
		if err != nil {
			e.o.Logger.Error().Err(err).Msg("serve: engine step failed; failing running requests")
			e.failAll(err)
		}
		e.mu.Lock()
		e.active = len(e.rows) > 0 || e.pf != nil
		e.mu.Unlock()
	}
}

// shutdown ends every job and frees the caches.
func (e *Engine) shutdown() {
	e.failAll(ErrClosed)
	e.mu.Lock()
	q := e.queue
	e.queue = nil
	e.mu.Unlock()
	for _, j := range q {
		j.fail(ErrClosed)
	}
	_ = torch.Do(context.Background(), func() error {
		e.big.Free()
		e.tmp.Free()
		e.grp.Free()
		e.big, e.tmp, e.grp = nil, nil, nil
		return nil
	})
}

// failAll ends the running jobs with err and forgets their rows.
func (e *Engine) failAll(err error) {
	seen := map[*Job]bool{}
	e.mu.Lock()
	rows := e.rows
	var pf []*Job
	if e.pf != nil {
		pf = append([]*Job{e.pf}, e.pfMore...)
	}
	e.rows, e.pf, e.pfMore = nil, nil, nil
	e.mu.Unlock()
	for _, s := range rows {
		if !seen[s.job] {
			seen[s.job] = true
			s.job.fail(err)
		}
	}
	for _, j := range pf {
		if !seen[j] {
			seen[j] = true
			j.fail(err)
		}
	}
	e.m.batch.Set(0)
}

func (j *Job) fail(err error) {
	if j.open < 0 {
		return
	}
	j.open = -1
	j.Events <- Event{Err: err}
	close(j.Events)
}

// step is one iteration: drop cancelled work, advance the prefill, decode
// one token for every running row.
func (e *Engine) step(m *model.Model) error {
	defer torch.NoGrad()()
	if e.o.Adapter != nil {
		// Other calls on the model between steps see its own hook.
		hook, head := m.LinearHook, m.Head
		defer func() { m.LinearHook, m.Head = hook, head }()
	}
	if e.threads == 0 {
		n, err := torch.NumThreads()
		if err != nil {
			return err
		}
		e.threads = n
		m.AdviseHugePages()
	}
	if err := e.ensureCaches(m); err != nil {
		return err
	}
	if err := e.dropCancelled(); err != nil {
		return err
	}
	if err := e.prefill(m); err != nil {
		return err
	}
	if len(e.rows) > 0 {
		return e.decode(m)
	}
	return nil
}

func (e *Engine) ensureCaches(m *model.Model) error {
	var err error
	if e.big == nil {
		if e.big, err = m.NewCache(int64(e.o.MaxBatch), int64(e.ctxN)); err != nil {
			return err
		}
		// Where the model's general path runs (a LoRA adapter's hook), a
		// step attends over the longest row's columns with the columns past
		// each shorter row's masked out; those must hold finite numbers, and
		// later only model outputs are written.
		if err = e.big.Zero(); err != nil {
			return err
		}
	}
	if e.tmp == nil {
		if e.tmp, err = m.NewCache(1, int64(e.ctxN)); err != nil {
			return err
		}
	}
	if e.grp == nil && e.o.MaxBatch > 1 {
		if e.grp, err = m.NewCache(int64(e.o.MaxBatch), int64(min(e.o.PrefillChunk, e.ctxN))); err != nil {
			return err
		}
	}
	return nil
}

// setThreads: libtorch's own thread team only for steps over many positions
// (a prefill chunk); decoding steps of a few rows run their matrix products
// through torch.RowLinear, which spreads them itself (as generate does).
func (e *Engine) setThreads(positions int) error {
	n := e.threads
	if positions <= torch.RowLinearMaxRows {
		n = 1
	}
	if cur, err := torch.NumThreads(); err != nil || cur == n {
		return err
	}
	return torch.SetNumThreads(n)
}

func (e *Engine) dropCancelled() error {
	for i := 0; i < len(e.rows); {
		s := e.rows[i]
		if s.job.ctx.Err() == nil && s.job.open >= 0 {
			i++
			continue
		}
		if s.job.open >= 0 {
			s.job.fail(s.job.ctx.Err())
			e.m.cancelled.Inc()
		}
		if err := e.removeRow(i); err != nil {
			return err
		}
	}
	if e.pf != nil && e.pf.ctx.Err() != nil {
		e.pf.fail(e.pf.ctx.Err())
		e.m.cancelled.Inc()
		e.pf = nil
	}
	more := e.pfMore[:0]
	for _, j := range e.pfMore {
		if j.ctx.Err() != nil {
			j.fail(j.ctx.Err())
			e.m.cancelled.Inc()
			continue
		}
		more = append(more, j)
	}
	clear(e.pfMore[len(more):])
	e.pfMore = more
	if e.pf == nil && len(e.pfMore) > 0 { // the rest keep their turn
		e.pf, e.pfMore = e.pfMore[0], e.pfMore[1:]
	}
	return nil
}

// removeRow frees row i: the last row moves into it.
func (e *Engine) removeRow(i int) error {
	last := len(e.rows) - 1
	if i != last {
		if err := e.big.CopyRow(int64(i), e.big, int64(last), e.rows[last].pos); err != nil {
			return err
		}
		e.rows[i] = e.rows[last]
	}
	e.rows[last] = nil
	e.rows = e.rows[:last]
	e.m.batch.Set(float64(len(e.rows)))
	return nil
}

// prefill runs one chunk of the job being prefilled, starting the next
// waiting one when there is room in the batch.
func (e *Engine) prefill(m *model.Model) error {
	if e.pf == nil {
		e.mu.Lock()
		for len(e.queue) > 0 && e.pf == nil {
			j := e.queue[0]
			if j.ctx.Err() != nil {
				e.queue = e.queue[1:]
				j.fail(j.ctx.Err())
				e.m.cancelled.Inc()
				continue
			}
			if len(e.rows)+j.req.N > e.o.MaxBatch {
				break
			}
			if len(e.rows) > 0 && j.req.Adapter != e.adapter {
				break // the batch runs one adapter: wait for these rows to end
			}
			e.queue = e.queue[1:]
			e.pf = j
			e.adapter = j.req.Adapter
			e.tmp.Len = 0
			e.m.queueWait.Observe(time.Since(jobStart(j)).Seconds())
		}
		if e.pf != nil {
			e.takeGroup()
		}
		e.m.queue.Set(float64(len(e.queue)))
		e.mu.Unlock()
		if e.pf == nil {
			return nil
		}
	}
	if len(e.pfMore) > 0 {
		return e.prefillGroup(m)
	}
	j := e.pf
	p := j.req.Prompt
	T := min(e.o.PrefillChunk, len(p)-j.filled)
	if err := e.setThreads(T); err != nil {
		return err
	}
	if err := e.useAdapter(m); err != nil {
		return err
	}
	s := torch.NewScope()
	defer s.Close()
	ids := make([]int64, T)
	for i := range ids {
		ids[i] = int64(p[j.filled+i])
	}
	h := m.Forward(s, s.Int64(ids, 1, int64(T)), model.Pass{Cache: e.tmp}) // [1, T, H]
	j.filled += T
	if j.filled < len(p) {
		return s.Err()
	}
	if err := e.startJobs(s, m, []*Job{j}, s.Narrow(h, 1, int64(T-1), 1), e.tmp); err != nil { // [1, 1, H]
		return err
	}
	e.pf = nil
	return nil
}

// takeGroup, with e.mu held and e.pf just taken from the queue, takes the
// requests waiting behind it into e.pfMore when they can be prefilled with
// it in one pass: every prompt fits one chunk, the padded pass (requests ×
// longest prompt) stays within PrefillChunk positions, their choices fit in
// the batch, and they use the batch's adapter. Requests keep their order: the
// first that cannot join ends the group.
func (e *Engine) takeGroup() {
	chunk := min(e.o.PrefillChunk, e.ctxN)
	longest, rows := len(e.pf.req.Prompt), len(e.rows)+e.pf.req.N
	if e.grp == nil || e.pf.filled > 0 || longest > chunk {
		return
	}
	for len(e.queue) > 0 && len(e.pfMore)+1 < e.o.MaxBatch {
		j := e.queue[0]
		L := max(longest, len(j.req.Prompt))
		if j.ctx.Err() != nil || len(j.req.Prompt) > chunk || (len(e.pfMore)+2)*L > chunk ||
			rows+j.req.N > e.o.MaxBatch || j.req.Adapter != e.adapter {
			return
		}
		e.queue = e.queue[1:]
		e.pfMore = append(e.pfMore, j)
		longest, rows = L, rows+j.req.N
		e.m.queueWait.Observe(time.Since(jobStart(j)).Seconds())
	}
}

// prefillGroup prefills e.pf and e.pfMore in one pass over [requests,
// longest prompt] ids, each prompt in its own row of e.grp and padded on
// the right: causal attention keeps a row's real positions from seeing its
// padding, and only the real columns are copied into the batch. The
// weights are read once for all the prompts, and the rows join the batch
// together instead of one per step.
func (e *Engine) prefillGroup(m *model.Model) error {
	jobs := append([]*Job{e.pf}, e.pfMore...)
	n, T := len(jobs), 0
	for _, j := range jobs {
		T = max(T, len(j.req.Prompt))
	}
	if err := e.setThreads(n * T); err != nil {
		return err
	}
	if err := e.useAdapter(m); err != nil {
		return err
	}
	view, err := e.grp.Rows(int64(n))
	if err != nil {
		return err
	}
	defer view.Free()
	view.Len = 0
	s := torch.NewScope()
	defer s.Close()
	ids := make([]int64, n*T) // padding: id 0, never seen by a real position
	last := make([]int64, n)  // each prompt's last position in the flattened [n·T]
	for i, j := range jobs {
		for k, id := range j.req.Prompt {
			ids[i*T+k] = int64(id)
		}
		last[i] = int64(i*T + len(j.req.Prompt) - 1)
		j.filled = len(j.req.Prompt)
	}
	h := m.Forward(s, s.Int64(ids, int64(n), int64(T)), model.Pass{Cache: view}) // [n, T, H]
	H := int64(m.Config.HiddenSize)
	hl := s.View(s.IndexSelect(s.View(h, int64(n*T), H), 0, s.Int64(last, int64(n))), int64(n), 1, H) // [n, 1, H]
	if err := e.startJobs(s, m, jobs, hl, view); err != nil {
		return err
	}
	e.pf, e.pfMore = nil, nil
	return nil
}

// startJobs gives each of jobs its first token from the hidden state of its
// prompt's last position, hl [jobs, 1, H], and puts its choices into the
// batch, each a copy of row i of the prefill cache c for jobs[i]. The jobs
// stay in e.pf (and e.pfMore) until it returns, so an error fails them.
func (e *Engine) startJobs(s *torch.Scope, m *model.Model, jobs []*Job, hl *torch.Tensor, c *model.Cache) error {
	seqs := make([][]*seq, len(jobs))
	greedy := true
	for i, j := range jobs {
		seqs[i] = make([]*seq, j.req.N)
		for k := range seqs[i] {
			seqs[i][k] = newSeq(e, j, k)
		}
		greedy = greedy && seqs[i][0].greedyOnly()
	}
	// Greedy requests need only the largest logit of their first token:
	// Greedy screens the output projection instead of computing every
	// logit (a whole decoding step's head, once per request).
	var first []int64
	var logits []float32
	var err error
	if greedy {
		first, err = m.Greedy(s, hl).Int64s() // [jobs]
	} else {
		logits, err = m.Logits(s, hl).Float32s() // [jobs, 1, V]
	}
	if err == nil {
		err = s.Err()
	}
	if err != nil {
		return fmt.Errorf("serve: prefill of %d prompts: %w", len(jobs), err)
	}
	V := len(logits) / len(jobs)
	for i := range jobs {
		var f int64
		var lg []float32
		if greedy {
			f = first[i]
		} else {
			lg = logits[i*V : (i+1)*V]
		}
		if err := e.join(seqs[i], f, lg, c, int64(i)); err != nil {
			return err
		}
	}
	e.m.batch.Set(float64(len(e.rows)))
	return nil
}

// join takes each choice's first token (first, or from the prompt's last
// logits when they are given) and puts the choices that go on into the
// batch, each a copy of row `row` of the prefill cache c.
func (e *Engine) join(seqs []*seq, first int64, logits []float32, c *model.Cache, row int64) error {
	for _, sq := range seqs {
		var done bool
		if logits == nil {
			done = sq.accept(e, int(first), nil)
		} else {
			done = sq.advance(e, append([]float32(nil), logits...))
		}
		if done {
			continue // ended at its first token
		}
		if err := e.big.CopyRow(int64(len(e.rows)), c, row, int64(len(sq.job.req.Prompt))); err != nil {
			return err
		}
		e.rows = append(e.rows, sq)
	}
	return nil
}

// useAdapter puts the adapter of the rows and the prefill on the model.
func (e *Engine) useAdapter(m *model.Model) error {
	if e.o.Adapter == nil {
		return nil
	}
	if err := e.o.Adapter(m, e.adapter); err != nil {
		return fmt.Errorf("serve: adapter %q: %w", e.adapter, err)
	}
	return nil
}

// decode feeds every row its last token and picks the next.
func (e *Engine) decode(m *model.Model) error {
	n := len(e.rows)
	if err := e.setThreads(n); err != nil {
		return err
	}
	if err := e.useAdapter(m); err != nil {
		return err
	}
	start := time.Now()
	s := torch.NewScope()
	defer s.Close()
	ids := make([]int64, n)
	lens := make([]int64, n) // row i's columns 0…pos−1 hold its positions; its token goes to column pos
	same := true
	for i, sq := range e.rows {
		ids[i] = int64(sq.last)
		lens[i] = sq.pos
		same = same && sq.pos == lens[0]
	}
	view, err := e.big.Rows(int64(n))
	if err != nil {
		return err
	}
	defer view.Free()
	pass := model.Pass{Cache: view, RowLens: lens}
	if same {
		// Every row (a lone client's every step) holds the same length:
		// plain incremental decoding, without the rows' mask and position
		// tensors that RowLens makes for the general path.
		view.Len = lens[0]
		pass = model.Pass{Cache: view}
	}
	h := m.Forward(s, s.Int64(ids, int64(n), 1), pass) // [n, 1, H]
	greedy := true
	for _, sq := range e.rows {
		greedy = greedy && sq.greedyOnly()
	}
	// Only the largest logit of each row is wanted when every row is greedy:
	// Greedy screens the output projection instead of computing and copying
	// every logit.
	var out *torch.Tensor
	if greedy {
		out = m.Greedy(s, h) // [n]
	} else {
		out = m.Logits(s, h) // [n, 1, V]
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("serve: decode step over %d rows: %w", n, err)
	}
	var picked []int64
	var logits []float32
	if greedy {
		picked, err = out.Int64s()
	} else {
		logits, err = out.Float32s()
	}
	if err != nil {
		return fmt.Errorf("serve: decode step: %w", err)
	}
	V := len(logits) / n
	for i, sq := range e.rows {
		sq.pos++
		var done bool
		if greedy {
			done = sq.accept(e, int(picked[i]), nil)
		} else {
			done = sq.advance(e, logits[i*V:(i+1)*V])
		}
		sq.finished = sq.finished || done
	}
	for i := 0; i < len(e.rows); {
		if e.rows[i].finished {
			if err := e.removeRow(i); err != nil {
				return err
			}
			continue
		}
		i++
	}
	e.m.stepSeconds.Observe(time.Since(start).Seconds())
	e.m.stepRows.Observe(float64(n))
	return nil
}

// logSoftmax returns log-probabilities of logits.
func logSoftmax(logits []float32) []float32 {
	mx := float32(math.Inf(-1))
	for _, l := range logits {
		mx = max(mx, l)
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l - mx))
	}
	lse := float64(mx) + math.Log(sum)
	out := make([]float32, len(logits))
	for i, l := range logits {
		out[i] = float32(float64(l) - lse)
	}
	return out
}
