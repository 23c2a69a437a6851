//go:build glue_minimal

package vmm

// glue_minimal leaves out every optional component (each device_*_missing.go
// file is selected by it too); this only makes errors and `glue -V -v`
// name the tag the user actually gave.
const minimal = true
