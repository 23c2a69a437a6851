package sandbox

import (
	"fmt"
	"time"

	"golang.org/x/net/bpf"
)

// Action is what a system call outside the allow-list gets.
type Action int

// The actions.
const (
	// Trap ends the process: the kernel raises SIGSYS on the calling
	// thread, whose handler writes one line to stderr naming the call and
	// its first arguments, and exits with ExitBlocked.
	Trap Action = iota
	// Log lets the call through and has the kernel log it
	// (SECCOMP_RET_LOG: an audit record, type=1326, in the kernel log).
	Log
)

// ExitBlocked is the exit status of a process that made a call the filter
// refuses: 128 + SIGSYS, the status a shell shows for a process killed by
// SIGSYS.
const ExitBlocked = 159

// Install confines every thread of the process, those the Go runtime
// starts later included (they inherit it), to rules: it sets no_new_privs
// and loads the filter with SECCOMP_FILTER_FLAG_TSYNC. It cannot be undone.
// With Trap it first installs the SIGSYS handler that reports a refused
// call. Everything the process opens or loads lazily must be done before:
// Install loads the local time zone (log timestamps) itself.
func Install(rules []Rule, action Action) error {
	prog, err := Program(rules, action)
	if err != nil {
		return err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("sandbox: assemble the filter: %w", err)
	}
	_ = time.Local.String() // opens /etc/localtime once, now rather than later
	if action == Trap {
		if err := installSIGSYSHandler(); err != nil {
			return err
		}
	}
	return load(raw)
}
