package mvp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rewriteCheckpoint decodes a v2 checkpoint file, lets edit change its header and tensor blobs,
// and writes it back as a valid file (correct CRC): a fixture for a crafted checkpoint.
func rewriteCheckpoint(t *testing.T, src, dst string, edit func(h *checkpointHeader, blobs map[string][]byte)) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	_, hjson, data, err := parseContainer("checkpoint", src, raw, checkpointMagic)
	if err != nil {
		t.Fatal(err)
	}
	var h checkpointHeader
	if err := json.Unmarshal(hjson, &h); err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{}
	for _, e := range h.Variables {
		blobs[e.Name] = data[e.Offset : e.Offset+e.Bytes]
	}
	edit(&h, blobs)
	var out [][]byte
	var off int64
	for i := range h.Variables {
		e := &h.Variables[i]
		b := blobs[e.Name]
		e.Offset, e.Bytes = off, int64(len(b))
		off += e.Bytes
		out = append(out, b)
	}
	if _, err := writeContainer(dst, checkpointMagic, h, out); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointVariableIndex crafts valid-CRC checkpoints with a variable missing, an extra one
// and a mis-shaped one, and with absurd dimensions: each is refused, naming the variable, before
// any tensor is allocated, where version 1 silently re-initialised the missing layer.
func TestCheckpointVariableIndex(t *testing.T) {
	backend := agentTestBackend(t)
	a, err := NewAgent(backend, tinyAgentConfig(KindMVP))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := SaveCheckpoint(dir, 1, a, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	const layer = "/actor/layer_1/dense/weights"
	const adam = "/critic/q0/output/dense/biases"
	cases := []struct {
		name string
		edit func(h *checkpointHeader, blobs map[string][]byte)
		// readErr is the error ReadCheckpoint gives ("" when it reads and LoadAgent refuses).
		readErr, loadErr string
	}{
		{"missing", func(h *checkpointHeader, _ map[string][]byte) {
			h.Variables = dropEntry(h.Variables, layer)
		}, "", "variable " + layer + " (Float32[16 16]) is missing"},
		{"extra", func(h *checkpointHeader, blobs map[string][]byte) {
			h.Variables = append(h.Variables, TensorEntry{Name: "/actor/layer_9/dense/weights", DType: "Float32", Shape: []int{2}})
			blobs["/actor/layer_9/dense/weights"] = make([]byte, 8)
		}, "", "variable /actor/layer_9/dense/weights (Float32[2]) is not part of the spec's agent"},
		{"misshaped", func(h *checkpointHeader, blobs map[string][]byte) {
			for i, e := range h.Variables {
				if e.Name == adam {
					h.Variables[i].Shape = []int{2}
					blobs[adam] = make([]byte, 8)
				}
			}
		}, "", "variable " + adam + " is stored as Float32[2], the spec builds Float32[1]"},
		{"spec-changed", func(h *checkpointHeader, _ map[string][]byte) {
			h.Spec.Generator.Hidden = []int{16, 16, 16}
		}, "", "variable /actor/layer_2/dense/weights (Float32[16 16]) is missing"},
		{"huge-dims", func(h *checkpointHeader, blobs map[string][]byte) {
			for i, e := range h.Variables {
				if e.Name == layer {
					h.Variables[i].Shape = []int{1 << 30, 1 << 30, 1 << 30}
				}
			}
		}, "tensor " + layer + ": shape [1073741824 1073741824 1073741824] overflows", ""},
		{"huge-spec", func(h *checkpointHeader, _ map[string][]byte) {
			h.Spec.Generator.Hidden = []int{1 << 40}
		}, "hidden width 1099511627776 must be in", ""},
		{"negative-dim", func(h *checkpointHeader, _ map[string][]byte) {
			h.Variables[0].Shape = []int{-1, 4}
		}, "dimension -1 out of range", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "ckpt-000000000001.gmvp")
			rewriteCheckpoint(t, src, dst, tc.edit)
			ck, err := ReadCheckpoint(dst)
			if tc.readErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.readErr) || !strings.Contains(err.Error(), dst) {
					t.Fatalf("ReadCheckpoint: got %v, want an error naming %s and containing %q", err, dst, tc.readErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadAgent(backend, ck)
			if err == nil || !strings.Contains(err.Error(), tc.loadErr) {
				t.Fatalf("LoadAgent: got %v, want an error containing %q", err, tc.loadErr)
			}
		})
	}
	// The untouched file, rewritten the same way, loads: the refusals above come from the edits.
	same := filepath.Join(t.TempDir(), "ckpt-000000000001.gmvp")
	rewriteCheckpoint(t, src, same, func(*checkpointHeader, map[string][]byte) {})
	ck, err := ReadCheckpoint(same)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgent(backend, ck); err != nil {
		t.Fatal(err)
	}
}

func dropEntry(es []TensorEntry, name string) []TensorEntry {
	var out []TensorEntry
	for _, e := range es {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// TestCheckpointV1Loads loads a checkpoint written by the version-1 writer (testdata, a tiny MVP
// agent after one update): the spec is rebuilt from the kind table and the agent acts exactly as
// it did when saved (act.txt holds the float32 bits it returned then).
func TestCheckpointV1Loads(t *testing.T) {
	dir := filepath.Join("testdata", "checkpoint-v1")
	ck, err := LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Version != 1 || ck.Spec.Kind != KindMVP || ck.Spec.Generator.Type != "mean_flow" || len(ck.Spec.Generator.Hidden) != 1 {
		t.Fatalf("v1 checkpoint read as version %d, spec %+v", ck.Version, ck.Spec)
	}
	a, err := LoadAgent(agentTestBackend(t), ck)
	if err != nil {
		t.Fatal(err)
	}
	// act.txt holds the graph's decision, with the noise the graph draws from the ActRNG.
	if err := a.SetDirectAct(false); err != nil {
		t.Fatal(err)
	}
	got, err := a.Act([]float32{0.1, 0.2, 0.3}, NewActRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "act.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(raw))
	if len(want) != len(got) {
		t.Fatalf("%d actions, act.txt has %d", len(got), len(want))
	}
	// Equal to float32 rounding: the go backend's kernels add in another order on AVX-512 than on
	// the AVX2 machine that wrote act.txt (on one machine the bits are equal). Actions lie in
	// [-1, 1]; a parameter loaded wrongly moves them by far more than 1e-6.
	for i, w := range want {
		bits, _ := strconv.ParseUint(w, 16, 32)
		saved := math.Float32frombits(uint32(bits))
		if d := math.Abs(float64(got[i]) - float64(saved)); d > 1e-6 {
			t.Fatalf("action %d is %v (%08x), the version-1 agent returned %v (%s): %.2g apart",
				i, got[i], math.Float32bits(got[i]), saved, w, d)
		}
	}
	// Its online transitions (JSON in the v1 state) come back, to be written as the first segment.
	tr := &Trainer{Config: TrainConfig{Agent: ck.Spec, Out: t.TempDir()}}
	if err := json.Unmarshal(ck.State, &tr.state); err != nil {
		t.Fatal(err)
	}
	if err := tr.restoreReplay(ck); err != nil {
		t.Fatal(err)
	}
	if tr.restored.Len() != 3 || tr.pending.Len() != 3 {
		t.Fatalf("restored %d and pending %d online transitions, want 3 and 3", tr.restored.Len(), tr.pending.Len())
	}
}

// TestLatestCheckpointFallback corrupts the newest checkpoint: the next older one is used, and the
// warning names the bad file and the reason.
func TestLatestCheckpointFallback(t *testing.T) {
	a, err := NewAgent(agentTestBackend(t), tinyAgentConfig(KindBC))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for step := int64(1); step <= 2; step++ {
		if _, err := SaveCheckpoint(dir, step, a, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := ListCheckpoints(dir)
	raw, _ := os.ReadFile(all[1])
	raw[len(raw)/2] ^= 1
	os.WriteFile(all[1], raw, 0o644)
	var warn bytes.Buffer
	old := CheckpointWarnings
	CheckpointWarnings = &warn
	defer func() { CheckpointWarnings = old }()
	ck, err := LatestCheckpoint(dir)
	if err != nil || ck.Step != 1 {
		t.Fatalf("LatestCheckpoint = %v, %v; want step 1", ck, err)
	}
	if w := warn.String(); !strings.Contains(w, all[1]) || !strings.Contains(w, "CRC-32C mismatch") || !strings.Contains(w, all[0]) {
		t.Errorf("warning %q does not name the bad file, the reason and the file used", w)
	}
}

// TestReplaySegmentsIncremental runs an online phase with several checkpoints: each checkpoint
// writes one new segment (older ones are not rewritten), the checkpoint files stay the size of the
// agent, and a damaged segment is refused, naming the file.
func TestReplaySegmentsIncremental(t *testing.T) {
	backend := agentTestBackend(t)
	d := toyData(t, "toy:pointmass", "10")
	cfg := smallTrainConfig(KindBC, d, t.TempDir())
	cfg.OfflineSteps, cfg.OnlineSteps, cfg.StartSteps, cfg.EvalEvery, cfg.Keep = 10, 300, 10, 0, 0
	tr, err := NewTrainer(backend, cfg, d, toyEnvs("toy:pointmass"))
	if err != nil {
		t.Fatal(err)
	}
	var modTimes []int64
	segDir := filepath.Join(cfg.Out, "checkpoints", replayDir)
	tr.AfterUpdate = func(step int64, _ map[string]float64) {
		if st, err := os.Stat(filepath.Join(segDir, "seg-000000000000-100.gmvps")); err == nil && len(modTimes) == 0 {
			modTimes = append(modTimes, st.ModTime().UnixNano())
		}
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, err := LatestCheckpoint(filepath.Join(cfg.Out, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Replay) != 3 {
		t.Fatalf("last checkpoint lists %d segments (%+v), want one per 100-step episode", len(ck.Replay), ck.Replay)
	}
	st, _ := os.Stat(filepath.Join(segDir, "seg-000000000000-100.gmvps"))
	if len(modTimes) == 0 || st.ModTime().UnixNano() != modTimes[0] {
		t.Errorf("the first segment was rewritten by later checkpoints")
	}
	// A checkpoint holds the agent and small state only: no transitions in its header.
	if strings.Contains(string(ck.State), "observations") || strings.Contains(string(ck.State), `"online":`) {
		t.Errorf("checkpoint state carries transitions: %.200s", ck.State)
	}
	on, err := ReadReplay(filepath.Join(cfg.Out, "checkpoints"), ck.Replay, d.ObsDim, d.ActDim)
	if err != nil {
		t.Fatal(err)
	}
	if on.Len() != 300 || on.Validate() != nil {
		t.Fatalf("replay holds %d transitions (%v), want 300", on.Len(), on.Validate())
	}
	seg := filepath.Join(cfg.Out, "checkpoints", ck.Replay[1].File)
	raw, _ := os.ReadFile(seg)
	raw[len(raw)/3] ^= 0x10
	os.WriteFile(seg, raw, 0o644)
	if _, err := ReadReplay(filepath.Join(cfg.Out, "checkpoints"), ck.Replay, d.ObsDim, d.ActDim); err == nil || !strings.Contains(err.Error(), seg) {
		t.Errorf("damaged segment: got %v, want an error naming %s", err, seg)
	}
	os.Remove(seg)
	if _, err := ReadCheckpoint(ck.Path); err == nil || !strings.Contains(err.Error(), "replay segment") {
		t.Errorf("checkpoint with a missing segment: got %v, want an error naming the segment", err)
	}
}

// TestResumeRefusesChangedSettings resumes a run directory with other settings: agent, widths and
// learning rate, the policy target and the replay capacity are refused with each field named; a changed seed is refused unless the seed is
// left to the run; a longer budget is accepted when allowed.
func TestResumeRefusesChangedSettings(t *testing.T) {
	backend := agentTestBackend(t)
	d := toyData(t, "toy:pointmass", "10")
	out := t.TempDir()
	base := smallTrainConfig(KindMVP, d, out)
	base.OfflineSteps, base.EvalEvery, base.EvalEpisodes = 10, 0, 0
	tr, err := NewTrainer(backend, base, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := smallTrainConfig(KindBC, d, out)
	other.OfflineSteps, other.EvalEvery, other.EvalEpisodes = 10, 0, 0
	other.Agent.Generator.Hidden, other.Agent.LearningRate = []int{64, 64}, 0.5
	_, err = NewTrainer(backend, other, d, nil)
	for _, want := range []string{"agent.kind", "agent.generator.hidden", "agent.learning_rate", "agent.generator.type"} {
		if err == nil || !strings.Contains(err.Error(), want+":") {
			t.Errorf("resume with another agent: got %v, want %s named", err, want)
		}
	}

	// The policy target and the replay capacity change what the run learns: no flag allows them.
	target := base
	target.Agent.PolicyTarget, target.ReplayCapacity = PolicyTargetBestOfN, 1000
	target.AllowChange = ResumeChangeable
	_, err = NewTrainer(backend, target, d, nil)
	for _, want := range []string{`agent.policy_target: unset → "best-of-n"`, "replay_capacity: unset → 1000"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("resume with another policy target and replay capacity: got %v, want %s", err, want)
		}
	}

	seeded := base
	seeded.Seed = base.Seed + 1
	if _, err := NewTrainer(backend, seeded, d, nil); err == nil || !strings.Contains(err.Error(), "seed: 3 → 4") {
		t.Errorf("resume with another seed: got %v, want the seed named", err)
	}
	seeded.AllowChange = []string{"seed"}
	tr, err = NewTrainer(backend, seeded, d, nil)
	if err != nil || tr.Config.Seed != base.Seed || tr.Agent.Spec.Seed != base.Seed {
		t.Fatalf("resume leaving the seed to the run: %v (seed %v)", err, tr)
	}

	longer := base
	longer.OfflineSteps = 20
	if _, err := NewTrainer(backend, longer, d, nil); err == nil || !strings.Contains(err.Error(), "offline_steps: 10 → 20") {
		t.Errorf("longer budget without --allow-change: got %v", err)
	}
	longer.AllowChange = []string{"offline-steps"}
	tr, err = NewTrainer(backend, longer, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(context.Background())
	if err != nil || sum.Steps != 20 || sum.ResumedFrom != 10 {
		t.Fatalf("longer budget: %+v, %v; want 10 → 20 updates", sum, err)
	}
	unsafe := base
	unsafe.AllowChange = []string{"horizon"}
	if _, err := NewTrainer(backend, unsafe, d, nil); err == nil || !strings.Contains(err.Error(), `"horizon" cannot change`) {
		t.Errorf("allowing an unsafe change: got %v", err)
	}
}

// TestSpecJSONRoundTrip checks that every kind's spec survives JSON (what a checkpoint stores).
func TestSpecJSONRoundTrip(t *testing.T) {
	for _, kind := range Kinds {
		s, err := DefaultSpec(kind, 7, 3)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(s)
		var back Spec
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if d := SpecDiff(s, back); len(d) > 0 {
			t.Errorf("%s: JSON round trip changes %v", kind, d)
		}
		if err := back.Validate(); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	if _, err := DefaultSpec("sac", 1, 1); err == nil || !strings.Contains(err.Error(), `unknown agent kind "sac"`) {
		t.Errorf("unknown kind: %v", err)
	}
	a, _ := DefaultSpec(KindMVP, 1, 1)
	b, _ := DefaultSpec(KindMVPLambda0, 1, 1)
	if d := fmt.Sprint(SpecDiff(a, b)); !strings.Contains(d, "generator.lambda: 1 → 0") || !strings.Contains(d, "kind:") {
		t.Errorf("mvp vs mvp-lambda0 differ in %s, want kind and generator.lambda only", d)
	}
}
