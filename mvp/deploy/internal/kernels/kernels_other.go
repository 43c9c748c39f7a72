//go:build !amd64

package kernels

// useAsm is false off amd64: the Go loops run.
var useAsm = false

// HasAsm reports whether the assembly kernels run on this CPU.
func HasAsm() bool { return false }

func tile4x64(a *float32, lda int, b *float32, k int, bias *float32, c *float32, ldc int) {
	panic("kernels: no assembly on this architecture")
}

func geluAVX512(x *float32, n int) { panic("kernels: no assembly on this architecture") }

func layerNormAVX512(x *float32, n int, gain, offset *float32, invN, eps float32) {
	panic("kernels: no assembly on this architecture")
}
