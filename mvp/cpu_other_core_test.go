//go:build !unix

package mvp

func processCPU() float64 { return 0 }
