package serve

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
)

// Metrics are the server's Prometheus metrics, written in the text
// exposition format by Write. A handful of counters, gauges and
// histograms do not need a client library: the format is a few lines per
// series.
type Metrics struct {
	mu     sync.Mutex
	series []metric

	requests       *counterVec // by endpoint and status
	tokens         *counter
	finished       *counterVec // by finish reason
	cancelled      *counter
	queue          *gauge
	batch          *gauge
	stepSeconds    *histogram
	stepRows       *histogram
	queueWait      *histogram
	requestSeconds *histogram
	firstToken     *histogram
}

type metric interface {
	write(w io.Writer)
}

// NewMetrics makes the server's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{}
	lat := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	m.requests = m.addVec("golamini_requests_total", "HTTP requests by endpoint and status code.", "endpoint", "code")
	m.tokens = m.addCounter("golamini_generated_tokens_total", "Tokens generated over all requests.")
	m.finished = m.addVec("golamini_choices_finished_total", "Choices ended, by finish reason.", "reason")
	m.cancelled = m.addCounter("golamini_requests_cancelled_total", "Requests whose client went away before they ended.")
	m.queue = m.addGauge("golamini_queue_length", "Requests waiting to join the batch.")
	m.batch = m.addGauge("golamini_batch_size", "Sequences in the running batch.")
	m.stepSeconds = m.addHist("golamini_decode_step_seconds", "Time of one batched decoding step (one token for every row).", lat)
	m.stepRows = m.addHist("golamini_decode_step_rows", "Rows in a decoding step.", []float64{1, 2, 4, 8, 16, 32, 64})
	m.queueWait = m.addHist("golamini_queue_wait_seconds", "Time from arrival to the start of prefill.", lat)
	m.firstToken = m.addHist("golamini_time_to_first_token_seconds", "Time from arrival to the first generated token.", lat)
	m.requestSeconds = m.addHist("golamini_request_seconds", "Time from arrival to the last token.", lat)
	return m
}

// Write writes every metric in Prometheus' text format.
func (m *Metrics) Write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.series {
		s.write(w)
	}
}

type header struct{ name, help, typ string }

func (h header) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", h.name, h.help, h.name, h.typ)
}

type counter struct {
	header
	mu sync.Mutex
	v  float64
}

func (c *counter) Inc() { c.Add(1) }
func (c *counter) Add(x float64) {
	c.mu.Lock()
	c.v += x
	c.mu.Unlock()
}
func (c *counter) write(w io.Writer) {
	c.header.write(w)
	c.mu.Lock()
	fmt.Fprintf(w, "%s %s\n", c.name, num(c.v))
	c.mu.Unlock()
}

type gauge struct{ counter }

func (g *gauge) Set(x float64) {
	g.mu.Lock()
	g.v = x
	g.mu.Unlock()
}

type counterVec struct {
	header
	labels []string
	mu     sync.Mutex
	v      map[string]*counter
}

// WithLabel returns the counter for these label values.
func (c *counterVec) WithLabel(values ...string) *counter {
	var b strings.Builder
	for i, l := range c.labels {
		if i > 0 {
			b.WriteByte(',')
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		fmt.Fprintf(&b, "%s=%q", l, v)
	}
	k := b.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.v[k]
	if !ok {
		x = &counter{}
		c.v[k] = x
	}
	return x
}

func (c *counterVec) write(w io.Writer) {
	c.header.write(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.v))
	for k := range c.v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x := c.v[k]
		x.mu.Lock()
		fmt.Fprintf(w, "%s{%s} %s\n", c.name, k, num(x.v))
		x.mu.Unlock()
	}
}

type histogram struct {
	header
	bounds []float64
	mu     sync.Mutex
	counts []uint64 // per bound, not cumulative
	n      uint64
	sum    float64
}

func (h *histogram) Observe(x float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.SearchFloat64s(h.bounds, x)
	if i < len(h.bounds) {
		h.counts[i]++
	}
	h.n++
	h.sum += x
}

func (h *histogram) write(w io.Writer) {
	h.header.write(w)
	h.mu.Lock()
	defer h.mu.Unlock()
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.name, num(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", h.name, h.n, h.name, num(h.sum), h.name, h.n)
}

func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return fmt.Sprintf("%d", int64(x))
	}
	return fmt.Sprintf("%g", x)
}

func (m *Metrics) addCounter(name, help string) *counter {
	c := &counter{header: header{name, help, "counter"}}
	m.series = append(m.series, c)
	return c
}

func (m *Metrics) addGauge(name, help string) *gauge {
	g := &gauge{counter{header: header{name, help, "gauge"}}}
	m.series = append(m.series, g)
	return g
}

func (m *Metrics) addVec(name, help string, labels ...string) *counterVec {
	c := &counterVec{header: header{name, help, "counter"}, labels: labels, v: map[string]*counter{}}
	m.series = append(m.series, c)
	return c
}

func (m *Metrics) addHist(name, help string, bounds []float64) *histogram {
	h := &histogram{header: header{name, help, "histogram"}, bounds: bounds, counts: make([]uint64, len(bounds))}
	m.series = append(m.series, h)
	return h
}
