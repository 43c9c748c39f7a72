// Package runlog records training runs: metrics as JSON lines, as CSV and as a TensorBoard event
// file, and a one-line progress bar with ETA on a terminal.
package runlog

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// Record is one row of metrics at a step. Phase names where it comes from ("train", "eval").
type Record struct {
	Step    int64
	Phase   string
	Time    time.Time
	Metrics map[string]float64
}

// Logger writes every record to metrics.jsonl, <phase>.csv and a TensorBoard event file in one
// directory. Files are appended to, so a resumed run continues its logs.
type Logger struct {
	dir   string
	jsonl *os.File
	jw    *bufio.Writer
	csvs  map[string]*csvLog
	tb    *EventWriter
}

type csvLog struct {
	f    *os.File
	w    *csv.Writer
	cols []string
}

// Open creates (or appends to) the logs in dir.
func Open(dir string) (*Logger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	tb, err := NewEventWriter(dir)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Logger{dir: dir, jsonl: f, jw: bufio.NewWriter(f), csvs: map[string]*csvLog{}, tb: tb}, nil
}

// Log writes one record everywhere. Non-finite values are written as null in JSON.
func (l *Logger) Log(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	row := map[string]any{"step": r.Step, "phase": r.Phase, "time": r.Time.UTC().Format(time.RFC3339Nano)}
	for _, k := range keys {
		v := r.Metrics[k]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			row[k] = nil
		} else {
			row[k] = v
		}
	}
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("runlog: %w", err)
	}
	l.jw.Write(b)
	l.jw.WriteByte('\n')
	if err := l.jw.Flush(); err != nil {
		return fmt.Errorf("runlog: writing metrics.jsonl: %w", err)
	}
	if err := l.logCSV(r, keys); err != nil {
		return err
	}
	tags := make(map[string]float64, len(keys))
	for _, k := range keys {
		tags[r.Phase+"/"+k] = r.Metrics[k]
	}
	return l.tb.WriteScalars(r.Step, r.Time, tags)
}

func (l *Logger) logCSV(r Record, keys []string) error {
	c := l.csvs[r.Phase]
	if c == nil {
		path := filepath.Join(l.dir, r.Phase+".csv")
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("runlog: %w", err)
		}
		c = &csvLog{f: f, w: csv.NewWriter(f), cols: keys}
		if statErr != nil { // new file: header
			c.w.Write(append([]string{"step", "time"}, keys...))
		} else if cols, err := readCSVHeader(path); err == nil && len(cols) > 2 {
			c.cols = cols[2:]
		}
		l.csvs[r.Phase] = c
	}
	rec := []string{strconv.FormatInt(r.Step, 10), r.Time.UTC().Format(time.RFC3339Nano)}
	for _, k := range c.cols {
		if v, ok := r.Metrics[k]; ok {
			rec = append(rec, strconv.FormatFloat(v, 'g', 8, 64))
		} else {
			rec = append(rec, "")
		}
	}
	c.w.Write(rec)
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("runlog: writing %s.csv: %w", r.Phase, err)
	}
	return nil
}

func readCSVHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).Read()
}

// Close flushes and closes every file.
func (l *Logger) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(l.jw.Flush())
	keep(l.jsonl.Close())
	for _, c := range l.csvs {
		c.w.Flush()
		keep(c.f.Close())
	}
	keep(l.tb.Close())
	return first
}

// ReadJSONL reads back every record of a metrics.jsonl file (for plots and reports).
func ReadJSONL(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("runlog: %s line %d: %w", path, line, err)
		}
		r := Record{Metrics: map[string]float64{}}
		for k, v := range row {
			switch k {
			case "step":
				f, _ := v.(float64)
				r.Step = int64(f)
			case "phase":
				r.Phase, _ = v.(string)
			case "time":
				s, _ := v.(string)
				r.Time, _ = time.Parse(time.RFC3339Nano, s)
			default:
				if f, ok := v.(float64); ok {
					r.Metrics[k] = f
				} else {
					r.Metrics[k] = math.NaN()
				}
			}
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
