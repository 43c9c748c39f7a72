// Package xla is the one place gomvp creates compute backends: NewBackend(config) and the
// process-wide Default().
//
// Select (and so Default) takes an explicit request, else $GOMLX_BACKEND, else the fastest backend
// found: XLA with a CUDA PJRT plugin when a GPU is visible, XLA with its CPU plugin, then the pure-Go
// backend in DefaultGoConfig ("go:ops_sequential", a worker-pool setting that cannot deadlock). XLA
// is compiled in only by cgo builds (make build, with gcc); FindPJRTPlugin locates the plugins
// ($PJRT_PLUGIN_LIBRARY_PATH, the project's .venv, go-xla's directories, the CUDA plugin of an
// installed jax-cuda12/13-pjrt wheel) and nothing is ever downloaded. Binaries with XLA also set the
// C allocator to keep XLA's freed host buffers (KeepHostMemoryEnv).
//
// Subpackage jvp adds forward-mode Jacobian-vector products to GoMLX graphs.
package xla
