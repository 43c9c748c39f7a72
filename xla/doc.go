// Package xla is the one place gomvp creates compute backends: NewBackend(config) and the
// process-wide Default().
//
// Without configuration it returns the pure-Go backend in DefaultGoConfig ("go:ops_sequential"),
// a worker-pool setting that cannot deadlock (the go backend's default can, on graphs as large as
// the MVP update). $GOMLX_BACKEND overrides it. "xla:cpu", "xla:cuda" or "xla:/path/plugin.so"
// select XLA/PJRT, compiled in only by cgo builds (make build, with gcc); FindPJRTPlugin locates the
// plugin ($PJRT_PLUGIN_LIBRARY_PATH, go-xla's directories, the CUDA plugin of an installed
// jax-cuda12/13-pjrt wheel) and nothing is ever downloaded.
//
// Subpackage jvp adds forward-mode Jacobian-vector products to GoMLX graphs.
package xla
