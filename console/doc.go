// Package console is the host side of a guest console: a writer that never
// blocks the vCPU producing the output, the escape sequence that lets a user
// quit from a raw terminal, and the terminal mode switch itself.
//
// Device models (package serial) write guest output to an io.Writer from a
// vCPU thread. If that writer blocked — a stalled pipe, a paused terminal —
// the vCPU would stall with it, so the VMM gives them an AsyncWriter: bytes go
// into a bounded buffer and one goroutine copies them out; when the buffer is
// full, new output is dropped and counted rather than waited for.
package console
