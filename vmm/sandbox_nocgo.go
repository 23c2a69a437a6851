//go:build !cgo

package vmm

// cgoLinked: see sandbox_cgo.go.
const cgoLinked = false
