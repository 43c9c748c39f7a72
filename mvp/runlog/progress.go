package runlog

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Progress draws "phase [#####.....] 1234/5000 25% 3.2 it/s ETA 19m40s | k=v …" on one terminal line,
// redrawn at most every Interval. It prints nothing when out is not a terminal (logs and CI stay
// clean); the JSONL log holds the same numbers.
type Progress struct {
	out      io.Writer
	enabled  bool
	phase    string
	total    int64
	start    time.Time
	startAt  int64
	last     time.Time
	Interval time.Duration
	metrics  map[string]float64
}

// NewProgress returns a bar on os.Stderr, enabled only when stderr is a terminal.
func NewProgress() *Progress {
	return &Progress{out: os.Stderr, enabled: isTerminal(os.Stderr), Interval: 200 * time.Millisecond}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Start begins a phase of total steps, counting from step done.
func (p *Progress) Start(phase string, done, total int64) {
	p.phase, p.total, p.startAt, p.start = phase, total, done, time.Now()
	p.metrics = nil
}

// SetMetrics replaces the metrics shown after the bar.
func (p *Progress) SetMetrics(m map[string]float64) { p.metrics = m }

// Update redraws the bar at step done (rate-limited).
func (p *Progress) Update(done int64) {
	if !p.enabled || time.Since(p.last) < p.Interval {
		return
	}
	p.last = time.Now()
	fmt.Fprint(p.out, "\r\033[K"+p.line(done, time.Now()))
}

// Finish ends the line.
func (p *Progress) Finish(done int64) {
	if !p.enabled {
		return
	}
	fmt.Fprintln(p.out, "\r\033[K"+p.line(done, time.Now()))
}

// line renders the bar; separated from Update for tests.
func (p *Progress) line(done int64, now time.Time) string {
	const width = 20
	frac := 0.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s] %d/%d %3.0f%%", p.phase, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, p.total, 100*frac)
	el := now.Sub(p.start).Seconds()
	if n := done - p.startAt; n > 0 && el > 0 {
		rate := float64(n) / el
		eta := time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&b, " %.1f it/s ETA %s", rate, eta)
	}
	if len(p.metrics) > 0 {
		keys := make([]string, 0, len(p.metrics))
		for k := range p.metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" |")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%.4g", k, p.metrics[k])
		}
	}
	return b.String()
}
