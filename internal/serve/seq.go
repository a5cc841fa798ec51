package serve

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golamini/golamini/internal/constrain"
	"github.com/golamini/golamini/internal/generate"
)

// seq is one choice of a job: a row of the batch.
type seq struct {
	job    *Job
	choice int

	out      []int // generated ids
	last     int   // the newest id, fed at the next step
	pos      int64 // its position: the row holds positions 0…pos−1 in cache columns 0…pos−1
	finished bool

	opts  generate.Options
	rng   *rand.Rand
	state constrain.State
	allow []int // scratch for the constraint's allowed ids
	sent  int   // bytes of text already sent
	endID bool  // the last id ended the choice (EOS, end of turn): not part of the text
}

// text is the generated ids that make the choice's text.
func (s *seq) text() []int {
	if s.endID {
		return s.out[:len(s.out)-1]
	}
	return s.out
}

func newSeq(e *Engine, j *Job, c int) *seq {
	r := j.req
	s := &seq{job: j, choice: c, pos: int64(len(r.Prompt)),
		opts: generate.Options{Temperature: r.Temperature, TopK: r.TopK, TopP: r.TopP, RepetitionPenalty: 1},
		rng:  generate.NewRand(r.Seed + uint64(c))}
	if r.Constraint != nil {
		s.state = r.Constraint.Grammar().Start()
	}
	return s
}

func jobStart(j *Job) time.Time { return j.start }

// advance picks the next token from the row's logits, reports it, and says
// whether the choice ended.
func (s *seq) advance(e *Engine, logits []float32) bool {
	r := s.job.req
	var lp []float32
	if r.Logprobs >= 0 {
		lp = logSoftmax(logits)
	}
	if r.Constraint != nil {
		budget := r.MaxTokens - len(s.out)
		s.allow = r.Constraint.Allowed(s.allow[:0], s.state, budget)
		if len(s.allow) == 0 {
			// Only a vocabulary without every single byte can get here.
			e.o.Logger.Error().Msg("serve: constrained decoding found no token to continue; the vocabulary lacks bytes the JSON needs")
			return s.finish(e, "length")
		}
		masked := make([]float32, len(logits))
		for i := range masked {
			masked[i] = float32(math.Inf(-1))
		}
		for _, id := range s.allow {
			if id < len(logits) {
				masked[id] = logits[id]
			}
		}
		logits = masked
	}
	id := generate.Pick(logits, nil, &s.opts, s.rng)
	return s.accept(e, id, lp)
}

// greedyOnly reports whether the row's next token is the largest logit and
// nothing else of the logits is wanted (no log-probabilities, no grammar, no
// penalty), so the decoding step may pick it with Model.Greedy.
func (s *seq) greedyOnly() bool {
	r := s.job.req
	return r.Logprobs < 0 && r.Constraint == nil && s.opts.Temperature == 0 && s.opts.RepetitionPenalty == 1
}

// accept takes id as the row's next token (lp: the row's log-probabilities
// when the request asked for them), reports it, and says whether the
// choice ended.
func (s *seq) accept(e *Engine, id int, lp []float32) bool {
	r := s.job.req
	s.out = append(s.out, id)
	s.last = id
	s.job.completion++
	e.m.tokens.Inc()
	if len(s.out) == 1 && s.choice == 0 {
		e.m.firstToken.Observe(time.Since(s.job.start).Seconds())
	}
	var tl *TokenLogprob
	if lp != nil {
		tl = s.logprob(e, id, lp, r.Logprobs)
	}
	reason := ""
	isEOS := e.eos[id] || slices.Contains(r.StopIDs, id)
	if r.Constraint != nil && !isEOS {
		s.state, _ = s.state.FeedBytes(e.tokenBytes(id))
		if s.state.Done() {
			reason = "stop"
		}
	}
	switch {
	case isEOS && (!r.IgnoreEOS || r.Constraint != nil):
		reason = "stop"
	}
	if isEOS && reason == "stop" {
		s.endID = true
	}
	text := e.tok.Decode(s.text(), true)
	if cut, ok := cutStop(text, r.Stop); ok {
		text, reason = cut, "stop"
	}
	if reason == "" && len(s.out) >= r.MaxTokens {
		reason = "length"
	}
	if reason != "" {
		if tl != nil || s.sent < len(text) {
			s.job.Events <- Event{Choice: s.choice, Text: text[min(s.sent, len(text)):], Token: tl}
		}
		return s.finish(e, reason)
	}
	safe := heldBack(text, r.Stop)
	piece := ""
	if len(safe) > s.sent {
		piece = safe[s.sent:]
		s.sent = len(safe)
	}
	if piece != "" || tl != nil {
		s.job.Events <- Event{Choice: s.choice, Text: piece, Token: tl}
	}
	return false
}

func (s *seq) finish(e *Engine, reason string) bool {
	r := s.job.req
	var final string
	if r.CleanUp && r.Constraint == nil {
		final = e.tok.DecodeTransformers(s.text(), true)
	} else {
		final = e.tok.Decode(s.text(), true)
	}
	if cut, ok := cutStop(final, r.Stop); ok {
		final = cut
	}
	j := s.job
	if j.open < 0 {
		return true
	}
	j.Events <- Event{Choice: s.choice, Finish: reason, Final: final}
	e.m.finished.WithLabel(reason).Inc()
	j.open--
	if j.open == 0 {
		u := Usage{PromptTokens: len(r.Prompt), CompletionTokens: j.completion}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		j.Events <- Event{Done: true, Usage: u}
		close(j.Events)
		j.open = -1
		e.m.requestSeconds.Observe(time.Since(j.start).Seconds())
	}
	return true
}

func (e *Engine) tokenBytes(id int) []byte {
	b, _ := e.tok.TokenBytes(id)
	return b
}

func (s *seq) logprob(e *Engine, id int, lp []float32, top int) *TokenLogprob {
	t := &TokenLogprob{ID: id, Bytes: e.tokenBytes(id), Logprob: lp[id]}
	if top > 0 {
		for _, i := range topK(lp, top) {
			t.Top = append(t.Top, TopLogprob{ID: i, Bytes: e.tokenBytes(i), Logprob: lp[i]})
		}
	}
	return t
}

// topK returns the indices of the k largest values, largest first (the
// lower index first among equals).
func topK(v []float32, k int) []int {
	best := make([]int, 0, k+1)
	for i, x := range v {
		if len(best) == k && x <= v[best[k-1]] {
			continue
		}
		j := sort.Search(len(best), func(j int) bool { return v[best[j]] < x })
		best = append(best, 0)
		copy(best[j+1:], best[j:])
		best[j] = i
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

// cutStop cuts text before the first stop string it contains.
func cutStop(text string, stops []string) (string, bool) {
	cut := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		return text, false
	}
	return text[:cut], true
}

// heldBack is the part of text that can be sent now: without a trailing
// partial character and without a tail that may be the start of a stop
// string.
func heldBack(text string, stops []string) string {
	text = strings.TrimSuffix(text, string(utf8.RuneError))
	keep := len(text)
	for _, s := range stops {
		for k := min(len(s)-1, len(text)); k > 0; k-- {
			if strings.HasSuffix(text, s[:k]) {
				keep = min(keep, len(text)-k)
				break
			}
		}
	}
	return text[:keep]
}
