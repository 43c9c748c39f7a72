package xla

// KeepHostMemoryEnv, set to "0" when the program starts, leaves the C allocator's defaults alone.
//
// Otherwise binaries with XLA (cgo builds on glibc) keep the host memory XLA's CPU runtime frees,
// from the moment they are loaded. XLA allocates each execution's temporary buffers (about 110 MiB
// in one block for an MVP update at the paper's sizes) and frees them when it ends; with glibc's
// defaults a block that large is a fresh mapping, unmapped on free, so every update paid some
// 30,000 page faults and the kernel's zeroing of the memory, about a sixth of its CPU time. With
// the policy, blocks of 4 MiB and more are kept mapped in a cache shared by all threads and handed
// out again for the next request of up to their size, and glibc's heaps (one per thread) neither
// map blocks on their own nor give memory back. The process keeps about its peak of host memory.
// Programs that link their own malloc build with the tag mvp_system_malloc (docs/backends.md).
const KeepHostMemoryEnv = "MVP_KEEP_HOST_MEMORY"
