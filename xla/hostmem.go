package xla

// KeepHostMemoryEnv, set to "0" when the program starts, leaves the C allocator's defaults alone.
//
// Otherwise binaries with XLA (cgo builds on glibc) make glibc's malloc serve all threads from one
// heap, never map a block on its own and never give freed memory back, from the moment they are
// loaded. XLA's CPU runtime allocates each execution's temporary buffers (about 110 MiB for an MVP
// update at the paper's sizes) with malloc and frees them when it ends; with glibc's defaults a
// block that large is a fresh mapping, unmapped on free, so every update paid some 30,000 page
// faults and the kernel's zeroing of the memory, about a sixth of its CPU time. With the policy
// the block one update frees is the block the next one gets. The process keeps its peak heap.
const KeepHostMemoryEnv = "MVP_KEEP_HOST_MEMORY"
