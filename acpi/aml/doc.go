// Package aml builds ACPI Machine Language (ACPI 6.5, chapter 20), the
// bytecode of the DSDT and SSDTs, from Go values.
//
// Every constructor returns a Term (or, inside a resource template, a
// Descriptor) that records its operands; nothing is encoded until Encode
// walks the tree. Invalid input — a malformed name, an integer too wide
// for its field, an out-of-range argument count — is reported by Encode as
// an error naming the term, so a generator never panics on the data it was
// handed.
//
// Encodings follow the specification, not a particular compiler, and are
// the smallest ones: integers use ZeroOp, OneOp or the narrowest of the
// Byte/Word/DWord/QWord prefixes that holds the value, and package lengths
// the fewest of their one to four bytes. The package's tests check that
// Debian's iasl disassembles and recompiles the output to the same bytes.
package aml
