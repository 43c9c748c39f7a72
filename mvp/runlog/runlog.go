// Package runlog records training runs: metrics as JSON lines, as CSV and as a TensorBoard event
// file, and a one-line progress bar with ETA on a terminal.
package runlog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
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

// TornLineError reports that the last line of a log file is incomplete (the process writing it
// was killed mid-line). ReadJSONL returns it together with every complete record.
type TornLineError struct {
	Path string
	Line int
}

func (e *TornLineError) Error() string {
	return fmt.Sprintf("runlog: %s: line %d is incomplete (torn by an interrupted write) and was skipped", e.Path, e.Line)
}

// ReadJSONL reads back every record of a metrics.jsonl file (for plots and reports). A torn last
// line is skipped: the records before it come back with a *TornLineError. A bad line anywhere
// else is an error naming the file and line.
func ReadJSONL(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // after the final newline
	}
	var out []Record
	for i, l := range lines {
		r, err := parseRecord(bytes.TrimSuffix(l, []byte("\n")))
		// Only the last line can lack its newline; unreadable, it was torn as well.
		if i == len(lines)-1 && (l[len(l)-1] != '\n' || err != nil) {
			return out, &TornLineError{Path: path, Line: i + 1}
		}
		if err != nil {
			return nil, fmt.Errorf("runlog: %s line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRecord(line []byte) (Record, error) {
	var row map[string]any
	if err := json.Unmarshal(line, &row); err != nil {
		return Record{}, err
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
	return r, nil
}

// Truncate cuts the logs in dir back to step, for a run resuming from a checkpoint at that step:
// records of later steps (logged after the checkpoint, and logged again by the resumed run) and a
// torn last line are removed from metrics.jsonl and every <phase>.csv (CSV files without the
// logger's "step,time" header are not touched). Files are rewritten through a
// temporary file and a rename, so an interruption leaves the old or the new file. TensorBoard event
// files are left as they are: a resumed run starts a new one, and TensorBoard shows the newest value
// of a step that appears twice.
func Truncate(dir string, step int64) error {
	if err := truncateFile(filepath.Join(dir, "metrics.jsonl"), step, func(line []byte, _ int) (int64, bool) {
		r, err := parseRecord(line)
		return r.Step, err == nil
	}); err != nil {
		return err
	}
	csvs, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return fmt.Errorf("runlog: %w", err)
	}
	for _, p := range csvs {
		if cols, err := readCSVHeader(p); err != nil || len(cols) < 2 || cols[0] != "step" || cols[1] != "time" {
			continue // not a log of ours
		}
		if err := truncateFile(p, step, func(line []byte, i int) (int64, bool) {
			if i == 0 {
				return -1, true // the header
			}
			f, _, _ := bytes.Cut(line, []byte(","))
			n, err := strconv.ParseInt(string(f), 10, 64)
			return n, err == nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// truncateFile keeps the complete lines of path whose step (as stepOf reads it) is at most step.
// A line stepOf cannot read is kept unless it is the last one (torn), so nothing else is lost.
func truncateFile(path string, step int64, stepOf func(line []byte, i int) (int64, bool)) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runlog: %w", err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // after the final newline
	}
	var kept []byte
	for i, l := range lines {
		s, ok := stepOf(bytes.TrimSuffix(l, []byte("\n")), i)
		last := i == len(lines)-1
		if ok && s > step || last && (l[len(l)-1] != '\n' || !ok) {
			continue // a later step, or a torn last line
		}
		kept = append(kept, l...)
	}
	if len(kept) == len(data) {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.Write(kept)
		if serr := f.Sync(); err == nil {
			err = serr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("runlog: cutting %s back to step %d: %w", path, step, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("runlog: cutting %s back to step %d: %w", path, step, err)
	}
	return nil
}
