//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

/*
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <limits.h>
#include <malloc.h>
#endif

static int mvp_host_memory_kept;

// Runs when the binary is loaded, before any thread has allocated: glibc fixes its number of
// heaps ("arenas") at the first allocation of a second thread, so a later mallopt would not reach
// the threads that already have one.
__attribute__((constructor)) static void mvp_keep_host_memory(void) {
#if defined(__GLIBC__)
	const char *off = getenv("MVP_KEEP_HOST_MEMORY"); // KeepHostMemoryEnv (Go code runs too late to read it)
	if (off != NULL && strcmp(off, "0") == 0) {
		return;
	}
	int ok = mallopt(M_ARENA_MAX, 1);
	ok = mallopt(M_MMAP_MAX, 0) && ok;
	ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) && ok;
	mvp_host_memory_kept = ok;
#endif
}

static int mvp_host_memory_is_kept(void) { return mvp_host_memory_kept; }
*/
import "C"

// HostMemoryKept reports whether the C allocator runs with the policy of KeepHostMemoryEnv.
func HostMemoryKept() bool { return C.mvp_host_memory_is_kept() != 0 }
