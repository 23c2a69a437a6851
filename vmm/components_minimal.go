//go:build glue_minimal

package vmm

// glue_minimal leaves out every optional component (each one's file is
// guarded by !glue_minimal too); this only makes errors and `glue -V -v`
// name the tag the user actually gave.
func init() { minimal = true }
