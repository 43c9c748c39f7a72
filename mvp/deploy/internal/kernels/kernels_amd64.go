package kernels

import "golang.org/x/sys/cpu"

// useAsm selects the AVX-512 assembly; it is a variable so the tests can compare both paths.
var useAsm = cpu.X86.HasAVX512F

// HasAsm reports whether the assembly kernels run on this CPU.
func HasAsm() bool { return cpu.X86.HasAVX512F }

// tile4x64: y[r, 0:64] = bias[0:64] + Σ_k a[r, k]·b[k, 0:64] for r = 0…3; lda and ldc in bytes.
//
//go:noescape
func tile4x64(a *float32, lda int, b *float32, k int, bias *float32, c *float32, ldc int)

// geluAVX512 applies GELU to n values in place, n a multiple of 32.
//
//go:noescape
func geluAVX512(x *float32, n int)

// layerNormAVX512 normalises n values (n a multiple of 16) in place; invN = 1/n.
//
//go:noescape
func layerNormAVX512(x *float32, n int, gain, offset *float32, invN, eps float32)
