package mvp

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomvp/gomvp/datasets"
)

// TestCheckpointWriterKilled runs a process that writes replay segments and checkpoints in a
// loop, as online training does, and kills it with SIGKILL at random moments: after every kill
// the newest readable checkpoint must load, with all its replay segments, and the next writer
// must carry on from it.
func TestCheckpointWriterKilled(t *testing.T) {
	if dir := os.Getenv("GOMVP_CKPT_WRITER_DIR"); dir != "" {
		checkpointWriterLoop(t, dir)
		return
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(4, 2))
	backend := agentTestBackend(t)
	kills := 0
	var last int64
	// At least 8 kills that each leave progress; on a loaded machine a writer may need longer to
	// start, so a round that made no progress waits longer next time (bounded).
	wait := 300 * time.Millisecond
	for round := 0; round < 60 && (kills < 8 || last < 8); round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointWriterKilled$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GOMVP_CKPT_WRITER_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait + time.Duration(r.IntN(700))*time.Millisecond)
		if cmd.Process.Kill() == nil {
			kills++
		}
		_ = cmd.Wait()
		ck, err := LatestCheckpoint(dir)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if ck == nil || ck.Step == last {
			wait = min(wait+500*time.Millisecond, 10*time.Second)
		}
		if ck == nil {
			continue // killed before the first checkpoint
		}
		if _, err := LoadAgent(backend, ck); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		on, err := ReadReplay(dir, ck.Replay, 3, 2)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if ck.Step < last {
			t.Fatalf("round %d: newest checkpoint went back from step %d to %d", round, last, ck.Step)
		}
		last = ck.Step
		if int64(on.Len()) != ck.Step*10 {
			t.Fatalf("round %d: checkpoint %d covers %d transitions, want %d", round, ck.Step, on.Len(), ck.Step*10)
		}
		for i, v := range on.Rewards {
			if v != float32(i) {
				t.Fatalf("round %d: transition %d has reward %v, want %d", round, i, v, i)
			}
		}
	}
	if err := RemoveReplayAfter(dir, last*10); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, replayDir)} {
		if tmps, _ := filepath.Glob(filepath.Join(d, ".tmp-*")); len(tmps) > 0 {
			t.Errorf("temporary files of interrupted writes left after the cleanup: %v", tmps)
		}
	}
	t.Logf("%d kills, last checkpoint at step %d", kills, last)
	if kills == 0 || last < 8 {
		t.Fatalf("%d kills and %d checkpoints: the test checked too little", kills, last)
	}
}

// checkpointWriterLoop continues from the newest checkpoint in dir: each step writes 10 new
// transitions (reward = their row) as a segment, then a checkpoint listing all segments.
func checkpointWriterLoop(t *testing.T, dir string) {
	a, err := NewAgent(agentTestBackend(t), tinyAgentConfig(KindMVP))
	if err != nil {
		t.Fatal(err)
	}
	var step int64
	var segs []ReplaySegment
	if ck, err := LatestCheckpoint(dir); err == nil && ck != nil {
		step, segs = ck.Step, ck.Replay
		if err := RemoveReplayAfter(dir, step*10); err != nil {
			t.Fatal(err)
		}
	}
	for {
		d := &datasets.Dataset{Name: "online", ObsDim: 3, ActDim: 2}
		for i := range 10 {
			row := float32(step*10 + int64(i))
			d.AppendTransition(datasets.Transition{Observation: []float32{row, 0, 0}, Action: []float32{0, 0},
				Reward: row, NextObservation: []float32{row + 1, 0, 0}, Mask: 1})
		}
		seg, err := WriteReplaySegment(dir, step*10, d)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
		step++
		if _, err := WriteCheckpoint(dir, step, a, CheckpointContent{State: map[string]string{"step": strconv.FormatInt(step, 10)}, Replay: segs}, 2); err != nil {
			t.Fatal(err)
		}
	}
}
