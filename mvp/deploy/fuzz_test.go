package deploy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary policy.json and weights.bin contents to Load: it must return an error
// or a policy that acts, never panic. The seeds (testdata/fuzz/FuzzLoad) are an exported tiny MVP
// policy and damaged copies.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, config, weights []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), config, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, WeightsFile), weights, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(dir)
		if err != nil {
			return
		}
		c := p.Config
		if c.ObsDim > 64 || c.ChunkDim() > 64 || c.Candidates > 64 || len(weights) > 1<<20 {
			return
		}
		if _, err := p.Act(make([]float32, c.ObsDim), p.Noise(1, 1)); err != nil {
			t.Fatalf("a policy that loads fails to act: %v", err)
		}
	})
}
