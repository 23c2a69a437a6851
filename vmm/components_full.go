//go:build !glue_minimal

package vmm

// Without glue_minimal, a left-out component was left out by its own tag;
// see components_minimal.go.
const minimal = false
