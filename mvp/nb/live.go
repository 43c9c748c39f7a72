package nb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Live is a training monitor that redraws in place while a cell runs: a progress bar with speed and
// time left, the latest value of every metric, and one learning-curve panel per metric group.
//
// Metrics are logged by key; "group/name" draws name as one curve of panel group (so "loss/mf" and
// "loss/ivc" share a panel), a key without "/" gets a panel of its own. The figure is redrawn at most
// once per Every interval (default 1 s) and by Done, which leaves the final figure in the output.
// Outside a notebook it records but draws nothing. Log may be called from any goroutine.
type Live struct {
	mu          sync.Mutex
	title       string
	total       int
	id          string
	every       time.Duration
	start, last time.Time
	step        int
	panels      []*livePanel
	logPanels   map[string]bool
	maxPoints   int
	finished    bool
	manual      bool // progress set by SetProgress, not by the steps of Log
}

type livePanel struct {
	name   string
	series []*liveSeries
}

type liveSeries struct {
	key, name string
	x, y      []float64
}

// NewLive starts a monitor for a run of totalSteps steps (0 if unknown).
func NewLive(title string, totalSteps int) *Live {
	now := time.Now()
	return &Live{title: title, total: totalSteps, id: NewID(), every: time.Second, start: now,
		logPanels: map[string]bool{}, maxPoints: 300}
}

// Every sets the minimum time between redraws. Default 1 s.
func (l *Live) Every(d time.Duration) *Live { l.every = d; return l }

// LogScale draws the named panels with a log10 y axis (losses spanning decades).
func (l *Live) LogScale(panels ...string) *Live {
	for _, p := range panels {
		l.logPanels[p] = true
	}
	return l
}

// MaxPoints caps the points drawn per curve; longer curves are averaged over consecutive buckets.
// The recorded values are kept in full. Default 300.
func (l *Live) MaxPoints(n int) *Live { l.maxPoints = max(2, n); return l }

// Log records values at step and redraws if Every has passed since the last redraw.
func (l *Live) Log(step int, values map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.manual {
		l.step = max(l.step, step)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys) // panels and curves appear in a stable order
	for _, k := range keys {
		s := l.seriesLocked(k)
		s.x = append(s.x, float64(step))
		s.y = append(s.y, values[k])
	}
	if IsNotebook() && time.Since(l.last) >= l.every {
		l.refreshLocked()
	}
}

// Step advances the progress bar without recording a metric.
func (l *Live) Step(step int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step = max(l.step, step)
	if IsNotebook() && time.Since(l.last) >= l.every {
		l.refreshLocked()
	}
}

// SetProgress sets the progress bar to done steps of the total; from then on Log's steps only place
// points on the curves. For several runs drawn on one monitor, each logging its own steps from 1.
func (l *Live) SetProgress(done int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.manual, l.step = true, done
	if IsNotebook() && time.Since(l.last) >= l.every {
		l.refreshLocked()
	}
}

// Series returns the recorded curve of key (nil if never logged).
func (l *Live) Series(key string) (steps, values []float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.panels {
		for _, s := range p.series {
			if s.key == key {
				return slices.Clone(s.x), slices.Clone(s.y)
			}
		}
	}
	return nil, nil
}

// Last returns the most recent value of key, and false if it was never logged.
func (l *Live) Last(key string) (float64, bool) {
	_, y := l.Series(key)
	if len(y) == 0 {
		return 0, false
	}
	return y[len(y)-1], true
}

// Refresh redraws now.
func (l *Live) Refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refreshLocked()
}

// Done marks the run finished and draws the final figure, which stays in the cell's output.
func (l *Live) Done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished = true
	l.refreshLocked()
}

// HTML renders the current state of the monitor.
func (l *Live) HTML() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.htmlLocked()
}

func (l *Live) refreshLocked() {
	l.last = time.Now()
	Update(l.id, l.htmlLocked())
}

func (l *Live) seriesLocked(key string) *liveSeries {
	group, name, ok := strings.Cut(key, "/")
	if !ok {
		group, name = key, key
	}
	var p *livePanel
	for _, q := range l.panels {
		if q.name == group {
			p = q
		}
	}
	if p == nil {
		p = &livePanel{name: group}
		l.panels = append(l.panels, p)
	}
	for _, s := range p.series {
		if s.key == key {
			return s
		}
	}
	s := &liveSeries{key: key, name: name}
	p.series = append(p.series, s)
	return s
}

func (l *Live) htmlLocked() string {
	var b strings.Builder
	elapsed := time.Since(l.start)
	b.WriteString(`<div style="font-family:sans-serif;font-size:13px">`)
	if l.title != "" {
		fmt.Fprintf(&b, "<b>%s</b> ", esc(l.title))
	}
	status := fmt.Sprintf("step %d", l.step)
	if l.total > 0 {
		frac := math.Min(1, float64(l.step)/float64(l.total))
		status = fmt.Sprintf("step %d/%d", l.step, l.total)
		fmt.Fprintf(&b, `<div style="display:inline-block;vertical-align:middle;width:200px;height:10px;background:#eee;border:1px solid #bbb">`+
			`<div style="width:%.1f%%;height:100%%;background:#4c78a8"></div></div> `, 100*frac)
		if rate := float64(l.step) / elapsed.Seconds(); !l.finished && l.step > 0 && l.step < l.total && rate > 0 {
			left := time.Duration(float64(l.total-l.step) / rate * float64(time.Second))
			status += fmt.Sprintf(" · %s left", left.Round(time.Second))
		}
	}
	if s := elapsed.Seconds(); s > 0 && l.step > 0 {
		status += fmt.Sprintf(" · %.1f steps/s · %s", float64(l.step)/s, elapsed.Round(100*time.Millisecond))
	}
	if l.finished {
		status += " · done"
	}
	b.WriteString(esc(status))

	// Latest values.
	var latest []string
	for _, p := range l.panels {
		for _, s := range p.series {
			if n := len(s.y); n > 0 {
				latest = append(latest, fmt.Sprintf("%s = %s", esc(s.key), esc(FormatValue(s.y[n-1]))))
			}
		}
	}
	if len(latest) > 0 {
		fmt.Fprintf(&b, `<div style="color:#444;margin:2px 0">%s</div>`, strings.Join(latest, " · "))
	}

	// One panel per group.
	var figs []string
	for _, p := range l.panels {
		plot := NewPlot(p.name).Size(300, 210).Labels("step", "")
		if l.logPanels[p.name] {
			plot.LogY()
		}
		for _, s := range p.series {
			name := s.name
			if len(p.series) == 1 {
				name = ""
			}
			x, y := bucketMean(s.x, l.maxPoints), bucketMean(s.y, l.maxPoints)
			plot.Line(name, x, y)
		}
		figs = append(figs, plot.SVG())
	}
	if len(figs) > 0 {
		b.WriteString(Row(figs...))
	}
	b.WriteString(`</div>`)
	return b.String()
}

// bucketMean averages consecutive values into at most n buckets (NaNs ignored), so that a curve of
// 100k steps draws as a few hundred smooth points.
func bucketMean(v []float64, n int) []float64 {
	if len(v) <= n {
		return v
	}
	size := (len(v) + n - 1) / n
	out := make([]float64, 0, n)
	for i := 0; i < len(v); i += size {
		sum, cnt := 0.0, 0
		for _, x := range v[i:min(i+size, len(v))] {
			if finite(x) {
				sum += x
				cnt++
			}
		}
		if cnt == 0 {
			out = append(out, math.NaN())
		} else {
			out = append(out, sum/float64(cnt))
		}
	}
	return out
}

// FollowRunLog feeds l from the metrics.jsonl of a training run directory (as written by mvp's
// Trainer, one JSON object per line with "step", "phase" and the metrics) while the run goes on in
// another goroutine, polling every interval. keys maps "phase/metric" ("train/actor_mf",
// "eval/success_rate") to the key under which l logs it; other metrics are ignored, and a null
// (non-finite) value is logged as NaN. stop reads what is left, ends the polling and returns the
// first error met (a missing file is not one: the run may not have started writing yet).
func (l *Live) FollowRunLog(dir string, keys map[string]string, interval time.Duration) (stop func() error) {
	f := &runLogFollower{path: filepath.Join(dir, "metrics.jsonl"), keys: keys, live: l}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if err := f.poll(); err != nil && f.err == nil {
					f.err = err
				}
			}
		}
	}()
	return func() error {
		close(quit)
		<-done
		if err := f.poll(); err != nil && f.err == nil {
			f.err = err
		}
		return f.err
	}
}

type runLogFollower struct {
	path   string
	keys   map[string]string
	live   *Live
	offset int64
	err    error
}

// poll logs every complete line added since the last poll; a partly written last line waits.
func (f *runLogFollower) poll() error {
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nb: following %s: %w", f.path, err)
	}
	defer file.Close()
	if _, err := file.Seek(f.offset, io.SeekStart); err != nil {
		return fmt.Errorf("nb: following %s: %w", f.path, err)
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return fmt.Errorf("nb: following %s: %w", f.path, err)
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return nil
	}
	f.offset += int64(end + 1)
	for i, line := range bytes.Split(data[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row map[string]any
		if err := json.Unmarshal(line, &row); err != nil {
			return fmt.Errorf("nb: %s: line %d after byte %d: %w", f.path, i+1, f.offset, err)
		}
		step, _ := row["step"].(float64)
		phase, _ := row["phase"].(string)
		vals := map[string]float64{}
		for k, v := range row {
			key, ok := f.keys[phase+"/"+k]
			if !ok {
				continue
			}
			switch x := v.(type) {
			case float64:
				vals[key] = x
			case nil:
				vals[key] = math.NaN()
			}
		}
		if len(vals) > 0 {
			f.live.Log(int(step), vals)
		} else {
			f.live.Step(int(step))
		}
	}
	return nil
}
