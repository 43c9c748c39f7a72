package mvp

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomvp/gomvp/datasets"
)

// Checkpoint layouts compared by BenchmarkCheckpointReplay.
const (
	// layoutJSON is version 1's: the online transitions as JSON inside the checkpoint's header,
	// re-encoded whole at every checkpoint.
	layoutJSON = "json-v1"
	// layoutFull is version 2 writing every transition as one new segment (a run's first
	// checkpoint after collecting them all).
	layoutFull = "v2-full"
	// layoutIncremental is version 2 at a regular online checkpoint: the last tenth of the
	// transitions is new and written as a segment; the rest is already on disk.
	layoutIncremental = "v2-incremental"
)

// replayBenchAgent is a small agent for obs 40, act 5: the replay buffer dominates the checkpoint.
func replayBenchAgent(tb testing.TB) *Agent {
	s, err := DefaultSpec(KindMVP, 40, 5)
	if err != nil {
		tb.Fatal(err)
	}
	s.Generator.Hidden, s.Critic.Hidden, s.BatchSize, s.Candidates = []int{64, 64}, []int{64, 64}, 16, 4
	a, err := NewAgent(agentTestBackend(tb), s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// randomOnline returns rows random online transitions of obs 40, act 5.
func randomOnline(rows int) *datasets.Dataset {
	r := rand.New(rand.NewPCG(1, 2))
	d := &datasets.Dataset{Name: "online", ObsDim: 40, ActDim: 5}
	f := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	d.Observations, d.Actions, d.NextObservations = f(rows*40), f(rows*5), f(rows*40)
	d.Rewards, d.Masks, d.Terminals = f(rows), make([]float32, rows), make([]float32, rows)
	for i := range d.Masks {
		d.Masks[i] = 1
	}
	return d
}

// sliceRows returns rows [lo, hi) of d (sharing its arrays).
func sliceRows(d *datasets.Dataset, lo, hi int) *datasets.Dataset {
	o, a := d.ObsDim, d.ActDim
	return &datasets.Dataset{Name: d.Name, ObsDim: o, ActDim: a,
		Observations: d.Observations[lo*o : hi*o], Actions: d.Actions[lo*a : hi*a], NextObservations: d.NextObservations[lo*o : hi*o],
		Rewards: d.Rewards[lo:hi], Masks: d.Masks[lo:hi], Terminals: d.Terminals[lo:hi]}
}

// rawBytes is the size of the arrays a checkpoint must hold: the agent's variables and the online
// transitions as float32.
func rawBytes(a *Agent, d *datasets.Dataset) int64 {
	n := int64(4 * (len(d.Observations) + len(d.Actions) + len(d.NextObservations) + len(d.Rewards) + len(d.Masks) + len(d.Terminals)))
	return n + a.Store.ByteSize()
}

// writeReplayCheckpoint writes one checkpoint of a and the online transitions d into dir in the
// given layout (for layoutIncremental, after writing the first 90 % untimed) and returns the
// time of the checkpoint's own writes and the bytes of every file it needs.
func writeReplayCheckpoint(dir string, a *Agent, d *datasets.Dataset, layout string) (time.Duration, int64, error) {
	var files []string
	var took time.Duration
	switch layout {
	case layoutJSON:
		start := time.Now()
		p, err := SaveCheckpoint(dir, 1, a, trainState{Step: 1, EnvSteps: int64(d.Len()), Online: d}, 1)
		if err != nil {
			return 0, 0, err
		}
		took, files = time.Since(start), []string{p}
	case layoutFull, layoutIncremental:
		var segs []ReplaySegment
		first := 0
		if layout == layoutIncremental {
			first = d.Len() * 9 / 10
			seg, err := WriteReplaySegment(dir, 0, sliceRows(d, 0, first))
			if err != nil {
				return 0, 0, err
			}
			segs = append(segs, seg)
		}
		start := time.Now()
		seg, err := WriteReplaySegment(dir, int64(first), sliceRows(d, first, d.Len()))
		if err != nil {
			return 0, 0, err
		}
		segs = append(segs, seg)
		p, err := WriteCheckpoint(dir, 1, a, CheckpointContent{State: trainState{Step: 1, EnvSteps: int64(d.Len())}, Replay: segs}, 1)
		if err != nil {
			return 0, 0, err
		}
		took = time.Since(start)
		files = append(files, p)
		for _, s := range segs {
			files = append(files, filepath.Join(dir, s.File))
		}
	}
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return 0, 0, err
		}
		size += st.Size()
	}
	return took, size, nil
}

// TestWriteReplayCheckpointLayouts checks the benchmark's writer on a small buffer: every layout
// reads back, and version 2 stays within 1.3× the raw array bytes.
func TestWriteReplayCheckpointLayouts(t *testing.T) {
	a := replayBenchAgent(t)
	d := randomOnline(2000)
	for _, layout := range []string{layoutJSON, layoutFull, layoutIncremental} {
		dir := t.TempDir()
		_, size, err := writeReplayCheckpoint(dir, a, d, layout)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := LatestCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(size) / float64(rawBytes(a, d))
		t.Logf("%s: %d bytes, %.2f× raw", layout, size, ratio)
		if layout == layoutJSON {
			continue
		}
		back, err := ReadReplay(dir, ck.Replay, 40, 5)
		if err != nil || back.Len() != d.Len() || back.Observations[len(back.Observations)-1] != d.Observations[len(d.Observations)-1] {
			t.Fatalf("%s: read back %v transitions, %v", layout, back, err)
		}
		if ratio > 1.3 {
			t.Errorf("%s: %.2f× the raw bytes, want ≤ 1.3×", layout, ratio)
		}
	}
}

// BenchmarkCheckpointReplay writes a checkpoint at 1M online transitions (obs 40, act 5) in the
// version-1 JSON layout and in version 2 (whole buffer as one segment, and the regular case of a
// tenth of it new). Metrics: MB of files the checkpoint needs, their ratio to the raw array bytes,
// and the write time (ns/op). Run once: go test -run XXX -bench CheckpointReplay -benchtime 1x ./mvp/
func BenchmarkCheckpointReplay(b *testing.B) {
	a := replayBenchAgent(b)
	d := randomOnline(1_000_000)
	raw := rawBytes(a, d)
	for _, layout := range []string{layoutJSON, layoutFull, layoutIncremental} {
		b.Run(layout, func(b *testing.B) {
			var total time.Duration
			var size int64
			for range b.N {
				dir := b.TempDir()
				took, n, err := writeReplayCheckpoint(dir, a, d, layout)
				if err != nil {
					b.Fatal(err)
				}
				total += took
				size = n
				os.RemoveAll(dir)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(size)/1e6, "MB")
			b.ReportMetric(float64(size)/float64(raw), "x-raw")
		})
	}
}
