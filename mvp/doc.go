// Package mvp is the Mean Velocity Policy: the mean-velocity network u_θ(a, t, r, s), the mean-flow
// (MF) and instantaneous-velocity-constraint (IVC) losses, one-step and k-step samplers, the
// flow-matching baselines, the agents (generate-and-select with a critic) and their training loops.
package mvp
