package hub

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
)

// progress counts the bytes of one Resolve call and, when its writer is a
// terminal, draws a bar there.
type progress struct {
	w     io.Writer // nil when not drawing
	label string
	start time.Time
	total atomic.Int64
	done  atomic.Int64

	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// newProgress starts counting; it draws on w only if w is a terminal.
func newProgress(w io.Writer, label string) *progress {
	p := &progress{label: label, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if w == nil || !isTerminal(w) {
		close(p.stopped)
		return p
	}
	p.w = w
	go p.loop()
	return p
}

// drawing reports whether a bar is shown (per-file log lines are then debug).
func (p *progress) drawing() bool { return p.w != nil }

func (p *progress) addTotal(n int64) { p.total.Add(n) }
func (p *progress) add(n int64)      { p.done.Add(n) }

func (p *progress) loop() {
	defer close(p.stopped)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			if p.total.Load() > 0 {
				p.draw()
				fmt.Fprintln(p.w)
			}
			return
		case <-t.C:
			if p.total.Load() > 0 {
				p.draw()
			}
		}
	}
}

func (p *progress) draw() {
	total, done := p.total.Load(), p.done.Load()
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	const width = 30
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r\033[K%s [%s] %3.0f%% %s/%s %s/s", p.label, bar, frac*100,
		formatBytes(done), formatBytes(total), formatBytes(int64(rate)))
}

// finish stops drawing, ending the bar's line.
func (p *progress) finish() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.stopped
}
