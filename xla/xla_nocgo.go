//go:build noxla || !cgo || !((linux && (amd64 || arm64)) || (darwin && arm64))

package xla

// xlaLinked reports that the XLA/PJRT backend is not compiled in (pure-Go build).
const xlaLinked = false
