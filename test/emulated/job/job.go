// Package job is what the host and the emulated machine's init agree on:
// where the job is, what it holds, and the marker lines that report it.
package job

// The init finds the job's path on the kernel command line as
// Param=PATH, a path in the host's file system (the init enters it).
const Param = "emulated.job"

// Job is a list of test binaries to run, one after the other.
type Job struct {
	Env  []string // the environment of every run
	Runs []Run
}

// Run is one test binary: a package's tests, compiled on the host.
type Run struct {
	Dir    string   // the package's directory, the binary's working directory
	Binary string   // the compiled test binary
	Args   []string // -test.* flags
}

// The marker lines, one per line on the machine's second serial port.
const (
	Ready = "EMU-READY" // /dev/kvm opened; the host's root is entered
	Begin = "EMU-BEGIN" // "EMU-BEGIN i": run i starts
	Out   = "EMU-OUT"   // "EMU-OUT i TEXT": a line of run i's output
	End   = "EMU-END"   // "EMU-END i CODE": run i exited with CODE (-1: not started)
	Fatal = "EMU-FATAL" // "EMU-FATAL TEXT": the init could not go on
	Done  = "EMU-DONE"  // every run ended
)
