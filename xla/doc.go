// Package xla is the one place gomvp creates compute backends: the pure-Go backend by default
// (with a worker-pool setting that cannot deadlock on the MVP update graph), GOMLX_BACKEND when set,
// and XLA/PJRT (CPU or CUDA plugin) when asked for, with plugin discovery and no download attempts.
// Subpackage jvp adds forward-mode Jacobian-vector products to GoMLX graphs.
package xla
