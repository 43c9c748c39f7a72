//go:build !noxla && cgo && ((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

/*
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

static int mvp_host_memory_kept;

#if defined(__GLIBC__)

// glibc's own allocator, for everything the cache of large blocks below does not serve.
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

// Blocks of at least this size come from the cache, shared by all threads. glibc serves every
// thread but the main one from heaps of at most 64 MiB and maps anything larger on its own,
// unmapping it when freed; and a block in one thread's heap cannot serve another thread (XLA's
// threads take turns running an update's large scratch buffers).
#define MVP_LARGE_MIN ((size_t)4 << 20)
#define MVP_LARGE_SLOTS 64

typedef struct {
	char *map;   // the mapping, NULL for an empty slot
	size_t len;  // its length
	char *mem;   // the block handed out, inside the mapping
	int in_use;
} mvp_large_block;

// The usable bytes of b: from its block to the end of its mapping.
static size_t mvp_large_size(const mvp_large_block *b) { return (size_t)(b->map + b->len - b->mem); }

static int mvp_large_on; // set by the constructor: before it, and with the policy off, glibc serves all
static mvp_large_block mvp_large[MVP_LARGE_SLOTS];
static char *mvp_large_mem[MVP_LARGE_SLOTS]; // the slots' mem, read without the lock by free
static pthread_mutex_t mvp_large_mu = PTHREAD_MUTEX_INITIALIZER;

// Returns the slot of p when p is a block of the cache, -1 otherwise. Lock-free: a pointer freed
// by one thread was handed out to another before, which published the slot. The header before
// every block glibc hands out tells most pointers apart at once: only blocks of the cache and
// glibc's own mappings carry the "mapped" bit.
static int mvp_large_slot(const void *p) {
	if (p == NULL || !__atomic_load_n(&mvp_large_on, __ATOMIC_RELAXED) || (((const size_t *)p)[-1] & 2) == 0) {
		return -1;
	}
	for (int i = 0; i < MVP_LARGE_SLOTS; i++) {
		if (__atomic_load_n(&mvp_large_mem[i], __ATOMIC_ACQUIRE) == p) {
			return i;
		}
	}
	return -1;
}

// The smallest free block of the cache that holds size at alignment (and is at most twice as
// large: a small request must not hold on to a large block the next large request then maps
// again), or a new mapping; a new mapping replaces the free blocks smaller than it (it serves
// their requests from now on), so the cache keeps about the peak of large blocks in use at once.
// NULL when the request is below MVP_LARGE_MIN, the policy is off or the cache cannot take it:
// glibc serves it then.
static void *mvp_large_get(size_t alignment, size_t size) {
	if (size < MVP_LARGE_MIN || !__atomic_load_n(&mvp_large_on, __ATOMIC_RELAXED)) {
		return NULL;
	}
	if (alignment < 16) {
		alignment = 16;
	}
	pthread_mutex_lock(&mvp_large_mu);
	int best = -1;
	for (int i = 0; i < MVP_LARGE_SLOTS; i++) {
		mvp_large_block *b = &mvp_large[i];
		size_t have = mvp_large_size(b);
		if (b->map != NULL && !b->in_use && have >= size && have / 2 <= size &&
		    (uintptr_t)b->mem % alignment == 0 && (best < 0 || have < mvp_large_size(&mvp_large[best]))) {
			best = i;
		}
	}
	if (best >= 0) {
		mvp_large[best].in_use = 1;
		pthread_mutex_unlock(&mvp_large_mu);
		return mvp_large[best].mem;
	}
	pthread_mutex_unlock(&mvp_large_mu);

	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (size > SIZE_MAX / 2 || alignment > SIZE_MAX / 4) {
		return NULL;
	}
	size_t len = (size + 16 + alignment + page - 1) / page * page;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		return NULL;
	}
	char *mem = (char *)(((uintptr_t)map + 16 + alignment - 1) & ~(uintptr_t)(alignment - 1));
	// The header glibc writes before a block it maps itself (offset in the mapping, size with the
	// "mapped" bit), so that malloc_usable_size answers for these blocks too.
	size_t *header = (size_t *)(mem - 16);
	header[0] = (size_t)(mem - 16 - map);
	header[1] = (len - header[0]) | 2;

	mvp_large_block evicted[MVP_LARGE_SLOTS];
	int n_evicted = 0;
	pthread_mutex_lock(&mvp_large_mu);
	int slot = -1;
	for (int i = 0; i < MVP_LARGE_SLOTS; i++) {
		mvp_large_block *b = &mvp_large[i];
		if (b->map != NULL && !b->in_use && mvp_large_size(b) < size) { // superseded by the new block
			evicted[n_evicted++] = *b;
			*b = (mvp_large_block){0};
			__atomic_store_n(&mvp_large_mem[i], NULL, __ATOMIC_RELEASE);
		}
		if (b->map == NULL && slot < 0) {
			slot = i;
		}
	}
	for (int i = 0; i < MVP_LARGE_SLOTS && slot < 0; i++) { // full: replace a block nobody uses
		if (!mvp_large[i].in_use) {
			slot = i;
			evicted[n_evicted++] = mvp_large[i];
		}
	}
	if (slot >= 0) {
		mvp_large[slot] = (mvp_large_block){map, len, mem, 1};
		__atomic_store_n(&mvp_large_mem[slot], mem, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mvp_large_mu);
	for (int i = 0; i < n_evicted; i++) {
		munmap(evicted[i].map, evicted[i].len);
	}
	if (slot < 0) { // every slot holds a block in use
		munmap(map, len);
		return NULL;
	}
	return mem;
}

// Marks the block of slot free for the next request; its memory stays mapped and faulted in.
static void mvp_large_put(int slot) {
	pthread_mutex_lock(&mvp_large_mu);
	mvp_large[slot].in_use = 0;
	pthread_mutex_unlock(&mvp_large_mu);
}

#ifndef MVP_SYSTEM_MALLOC // build tag mvp_system_malloc: for programs that link their own malloc

// The C allocator's entry points that can take or hand out a large block, as the program's own
// definitions (they take precedence over glibc's for every library, the PJRT plugin included):
// large blocks go through the cache, all else to glibc unchanged.

void *malloc(size_t size) {
	void *p = mvp_large_get(16, size);
	return p != NULL ? p : __libc_malloc(size);
}

void free(void *ptr) {
	int slot = mvp_large_slot(ptr);
	if (slot >= 0) {
		mvp_large_put(slot);
		return;
	}
	__libc_free(ptr);
}

void *realloc(void *ptr, size_t size) {
	int slot = mvp_large_slot(ptr);
	if (slot < 0) {
		return __libc_realloc(ptr, size);
	}
	if (size == 0) { // as glibc: frees and returns NULL
		mvp_large_put(slot);
		return NULL;
	}
	// The old block's size, read before the new allocation takes the cache's lock.
	size_t have = mvp_large_size(&mvp_large[slot]);
	void *q = malloc(size);
	if (q == NULL) {
		return NULL;
	}
	memcpy(q, ptr, have < size ? have : size);
	mvp_large_put(slot);
	return q;
}

void *reallocarray(void *ptr, size_t n, size_t size) {
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(ptr, total);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
	if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) {
		return EINVAL;
	}
	int saved = errno;
	void *p = mvp_large_get(alignment, size);
	if (p == NULL) {
		p = __libc_memalign(alignment, size);
	}
	errno = saved;
	if (p == NULL) {
		return ENOMEM;
	}
	*out = p;
	return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
	void *p = NULL;
	if (alignment != 0 && (alignment & (alignment - 1)) == 0) { // others: glibc's rounding
		p = mvp_large_get(alignment, size);
	}
	return p != NULL ? p : __libc_memalign(alignment, size);
}

#endif // MVP_SYSTEM_MALLOC
#endif // __GLIBC__

// Runs when the binary is loaded, before any thread of XLA exists. Each thread keeps its own heap
// (glibc's default: one shared heap made the threads queue for its lock, costing compilations and
// batch-1 decisions several per cent), but blocks are never mapped on their own and freed memory
// is not given back, so that the buffers one execution frees serve the next one.
__attribute__((constructor)) static void mvp_keep_host_memory(void) {
#if defined(__GLIBC__)
	const char *off = getenv("MVP_KEEP_HOST_MEMORY"); // KeepHostMemoryEnv (Go code runs too late to read it)
	if (off != NULL && strcmp(off, "0") == 0) {
		return;
	}
	int ok = mallopt(M_MMAP_MAX, 0);
	ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) && ok;
#ifndef MVP_SYSTEM_MALLOC
	__atomic_store_n(&mvp_large_on, 1, __ATOMIC_RELEASE);
#else
	// Without the cache, one heap for all threads is what keeps blocks over 64 MiB (a thread's own
	// heap cannot hold them), at the price of its lock.
	ok = mallopt(M_ARENA_MAX, 1) && ok;
#endif
	mvp_host_memory_kept = ok;
#endif
}

static int mvp_host_memory_is_kept(void) { return mvp_host_memory_kept; }

#if defined(__GLIBC__)
// For tests: the number of large blocks mapped and of those in use.
static void mvp_large_count(int *mapped, int *in_use) {
	*mapped = 0;
	*in_use = 0;
	pthread_mutex_lock(&mvp_large_mu);
	for (int i = 0; i < MVP_LARGE_SLOTS; i++) {
		if (mvp_large[i].map != NULL) {
			(*mapped)++;
			*in_use += mvp_large[i].in_use;
		}
	}
	pthread_mutex_unlock(&mvp_large_mu);
}
static size_t mvp_usable_size(void *p) { return malloc_usable_size(p); }
static size_t mvp_large_min(void) { return MVP_LARGE_MIN; }
static int mvp_large_cache_on(void) { return __atomic_load_n(&mvp_large_on, __ATOMIC_ACQUIRE); }
static void *mvp_reallocarray(void *p, size_t n, size_t size) { return reallocarray(p, n, size); }
static int mvp_large_slots(void) { return MVP_LARGE_SLOTS; }
#else
static size_t mvp_large_min(void) { return 0; }
static int mvp_large_cache_on(void) { return 0; }
static void *mvp_reallocarray(void *p, size_t n, size_t size) { return realloc(p, n * size); }
static int mvp_large_slots(void) { return 0; }
static void mvp_large_count(int *mapped, int *in_use) { *mapped = 0; *in_use = 0; }
static size_t mvp_usable_size(void *p) { return 0; }
#endif
*/
import "C"

import "unsafe"

// HostMemoryKept reports whether the C allocator runs with the policy of KeepHostMemoryEnv.
func HostMemoryKept() bool { return C.mvp_host_memory_is_kept() != 0 }

// The C allocator as the PJRT plugin sees it, for the tests of the large-block cache.

func cMalloc(size uintptr) unsafe.Pointer { return C.malloc(C.size_t(size)) }

func cFree(p unsafe.Pointer) { C.free(p) }

func cRealloc(p unsafe.Pointer, size uintptr) unsafe.Pointer { return C.realloc(p, C.size_t(size)) }

func cReallocArray(p unsafe.Pointer, n, size uintptr) unsafe.Pointer {
	return C.mvp_reallocarray(p, C.size_t(n), C.size_t(size))
}

func cPosixMemalign(alignment, size uintptr) (unsafe.Pointer, int) {
	var p unsafe.Pointer
	rc := C.posix_memalign(&p, C.size_t(alignment), C.size_t(size))
	return p, int(rc)
}

func cUsableSize(p unsafe.Pointer) uintptr { return uintptr(C.mvp_usable_size(p)) }

// largeBlockCacheOn reports whether the C allocator's large blocks go through the cache.
func largeBlockCacheOn() bool { return C.mvp_large_cache_on() != 0 }

// largeBlockLimits returns the smallest size the cache serves and its number of slots.
func largeBlockLimits() (minSize uintptr, slots int) {
	return uintptr(C.mvp_large_min()), int(C.mvp_large_slots())
}

// largeBlocks returns how many large blocks the cache holds and how many of them are in use.
func largeBlocks() (mapped, inUse int) {
	var m, u C.int
	C.mvp_large_count(&m, &u)
	return int(m), int(u)
}
