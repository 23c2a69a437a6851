// Package job is what the host and the emulated machine's init agree on:
// where the job is, what it holds, and the marker lines that report it.
package job

import "strings"

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

// Mount is a file system the init mounts inside the host's root before
// it enters it, over what the host has there.
type Mount struct{ FS, Dir string }

// Mounts are the kernel's file systems, and tmpfs where the tests'
// scratch files go (they stay in the machine's memory instead of crossing
// 9p), in the order the init mounts them. What the host keeps under their
// directories is not visible inside the machine.
var Mounts = []Mount{
	{"proc", "/proc"}, {"sysfs", "/sys"}, {"cgroup2", "/sys/fs/cgroup"},
	{"devtmpfs", "/dev"}, {"devpts", "/dev/pts"}, {"tmpfs", "/dev/shm"},
	{"tmpfs", "/tmp"}, {"tmpfs", "/run"},
}

// HiddenBy returns the mount that hides the host's path inside the
// machine, if one does: path is absolute and clean.
func HiddenBy(path string) (Mount, bool) {
	for _, m := range Mounts {
		if path == m.Dir || strings.HasPrefix(path, m.Dir+"/") {
			return m, true
		}
	}
	return Mount{}, false
}
