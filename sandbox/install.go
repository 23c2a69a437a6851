package sandbox

import (
	"fmt"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
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

// Policy assembles rules into the filter's policy: the allowed calls, and
// action for every other one.
func Policy(rules []Rule, action Action) (seccomp.Policy, error) {
	allow := seccomp.SyscallGroup{Action: seccomp.ActionAllow}
	conditional := map[string]bool{}
	for _, r := range rules {
		if len(r.Args) > 0 {
			conditional[r.Syscall] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		switch {
		case conditional[r.Syscall] && len(r.Args) == 0:
			return seccomp.Policy{}, fmt.Errorf("sandbox: %s is allowed both with and without argument checks", r.Syscall)
		case conditional[r.Syscall]:
			allow.NamesWithCondtions = append(allow.NamesWithCondtions, seccomp.NameWithConditions{Name: r.Syscall, Conditions: r.Args})
		case !seen[r.Syscall]:
			allow.Names = append(allow.Names, r.Syscall)
		}
		seen[r.Syscall] = true
	}
	def := seccomp.ActionTrap
	if action == Log {
		def = seccomp.ActionLog
	}
	return seccomp.Policy{DefaultAction: def, Syscalls: []seccomp.SyscallGroup{allow}}, nil
}

// Install confines every thread of the process, those the Go runtime
// starts later included (they inherit it), to rules: it sets no_new_privs
// and loads the filter with SECCOMP_FILTER_FLAG_TSYNC. It cannot be undone.
// With Trap it first installs the SIGSYS handler that reports a refused
// call. Everything the process opens or loads lazily must be done before:
// Install loads the local time zone (log timestamps) itself.
func Install(rules []Rule, action Action) error {
	policy, err := Policy(rules, action)
	if err != nil {
		return err
	}
	_ = time.Local.String() // opens /etc/localtime once, now rather than later
	if action == Trap {
		if err := installSIGSYSHandler(); err != nil {
			return err
		}
	}
	filter := seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: policy}
	if err := seccomp.LoadFilter(filter); err != nil {
		return fmt.Errorf("sandbox: install seccomp filter: %w", err)
	}
	return nil
}

// sigsysNames names each system call number for the SIGSYS handler's
// line; filled before the handler is installed and read-only after.
var sigsysNames [512]string

func fillSyscallNames() error {
	info, err := arch.GetInfo("")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	for nr, name := range info.SyscallNumbers {
		if nr >= 0 && nr < len(sigsysNames) {
			sigsysNames[nr] = name
		}
	}
	return nil
}
