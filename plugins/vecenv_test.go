package plugins_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomvp/gomvp/plugins"
)

// counterEnv adds the action to its state; it fails on a negative action.
type counterEnv struct {
	x      float32
	closed *atomic.Int32
}

func (c *counterEnv) ObservationDim() int  { return 1 }
func (c *counterEnv) ActionDim() int       { return 1 }
func (c *counterEnv) MaxEpisodeSteps() int { return 10 }
func (c *counterEnv) Reset(seed int64) ([]float32, error) {
	c.x = float32(seed)
	return []float32{c.x}, nil
}
func (c *counterEnv) Step(a []float32) (plugins.Step, error) {
	if a[0] < 0 {
		return plugins.Step{}, errors.New("negative action")
	}
	c.x += a[0]
	return plugins.Step{Observation: []float32{c.x}, Reward: float64(c.x)}, nil
}
func (c *counterEnv) Close() error { c.closed.Add(1); return nil }

func TestVecEnv(t *testing.T) {
	var closed atomic.Int32
	v := plugins.NewVecEnv(&counterEnv{closed: &closed}, &counterEnv{closed: &closed}, &counterEnv{closed: &closed})
	obs, err := v.Reset([]int64{1, 2, 3})
	if err != nil || obs[2][0] != 3 {
		t.Fatalf("reset: %v %v", obs, err)
	}
	steps, err := v.Step([][]float32{{1}, nil, {10}})
	if err != nil || steps[0].Observation[0] != 2 || steps[1].Observation != nil || steps[2].Observation[0] != 13 {
		t.Fatalf("step: %+v %v", steps, err)
	}
	if _, err := v.Step([][]float32{{1}, {-1}, {1}}); err == nil || !strings.Contains(err.Error(), "environment 1: negative action") {
		t.Errorf("error of one member: %v", err)
	}
	obs, err = v.ResetSome([]int64{7, 8, 9}, []bool{false, true, false})
	if err != nil || obs[0] != nil || obs[1][0] != 8 || obs[2] != nil {
		t.Fatalf("reset of one member: %v %v", obs, err)
	}
	// 3 and 14: the failed step above still stepped the other members.
	if steps, err = v.Step([][]float32{{0}, {0}, {0}}); err != nil || steps[0].Observation[0] != 3 || steps[1].Observation[0] != 8 || steps[2].Observation[0] != 14 {
		t.Fatalf("members not reset changed: %+v %v", steps, err)
	}
	if _, err := v.Step([][]float32{{1}}); err == nil {
		t.Error("too few actions accepted")
	}
	if _, err := v.Reset([]int64{1}); err == nil {
		t.Error("too few seeds accepted")
	}
	if err := v.Close(); err != nil || closed.Load() != 3 {
		t.Errorf("close: %v, %d closed", err, closed.Load())
	}
}
