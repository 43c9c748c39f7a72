//go:build mvp_system_malloc && !noxla && cgo

package xla

// With the build tag mvp_system_malloc the binary does not define the C allocator's entry points
// (for programs that link an allocator of their own, e.g. jemalloc or tcmalloc, which would
// otherwise clash with them at link time). KeepHostMemoryEnv's policy then falls back to one glibc
// heap for all threads, which keeps large blocks too but makes the threads share its lock.

// #cgo CFLAGS: -DMVP_SYSTEM_MALLOC
import "C"
