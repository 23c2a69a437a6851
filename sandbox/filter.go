package sandbox

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Op is how a Condition compares an argument with its value.
type Op int

// The comparisons, each over all 64 bits of the argument.
const (
	// Equal: the argument is the value.
	Equal Op = iota
	// BitsClear: none of the value's bits is set in the argument.
	BitsClear
)

// Condition is one check on a system call's argument.
type Condition struct {
	Arg   int // 0 to 5
	Op    Op
	Value uint64
}

// The offsets of struct seccomp_data, what a seccomp filter reads.
const (
	dataNr   = 0
	dataArch = 4
	dataArgs = 16 // six 64-bit arguments, each little-endian: low word first
)

// x32Bit marks a call through the x32 ABI (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// maxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const maxInstructions = 4096

// Program compiles rules into the seccomp filter Install loads (a caller
// can check its rules with it without confining itself): calls through another
// architecture's ABI get action, x32 calls ENOSYS, an allowed call
// SECCOMP_RET_ALLOW, every other call action.
//
// Calls are tested in the order of their first rule, so the caller puts
// the hottest first. A call allowed without conditions is one comparison,
// and one the kernel's per-call action cache answers without running the
// filter at all; a call with conditions jumps into its own block, where
// its rules are tried in order (any may allow it) and each rule's
// conditions all have to hold.
func Program(rules []Rule, action Action) ([]bpf.Instruction, error) {
	deny := uint32(unix.SECCOMP_RET_TRAP)
	if action == Log {
		deny = unix.SECCOMP_RET_LOG
	}
	calls, err := groupByCall(rules)
	if err != nil {
		return nil, err
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: dataArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipTrue: 1},
		bpf.RetConstant{Val: deny},
		bpf.LoadAbsolute{Off: dataNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	for _, c := range calls {
		if len(c.conditions) == 0 {
			prog = append(prog,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: c.nr, SkipFalse: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW})
			continue
		}
		block := conditionalBlock(c.conditions, deny)
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: c.nr, SkipTrue: 1},
			bpf.Jump{Skip: uint32(len(block))})
		prog = append(prog, block...)
	}
	prog = append(prog, bpf.RetConstant{Val: deny})
	if len(prog) > maxInstructions {
		return nil, fmt.Errorf("sandbox: the filter has %d instructions, more than the kernel's %d", len(prog), maxInstructions)
	}
	return prog, nil
}

// call is one system call of the allow-list: its number and, if it is
// allowed only for some arguments, the condition sets that allow it.
type call struct {
	nr         uint32
	conditions [][]Condition
}

// groupByCall gathers the rules by system call, in the order of each
// call's first rule. A call allowed both with and without conditions is
// an error: the unconditional rule would make the conditions moot.
func groupByCall(rules []Rule) ([]call, error) {
	var calls []call
	index := map[string]int{}
	for _, r := range rules {
		nr, ok := syscallNumber(r.Syscall)
		if !ok {
			return nil, fmt.Errorf("sandbox: no system call %q on x86-64", r.Syscall)
		}
		for _, c := range r.Args {
			if c.Arg < 0 || c.Arg > 5 {
				return nil, fmt.Errorf("sandbox: %s: argument %d: a system call has arguments 0 to 5", r.Syscall, c.Arg)
			}
			if c.Op != Equal && c.Op != BitsClear {
				return nil, fmt.Errorf("sandbox: %s: argument %d: unknown comparison %d", r.Syscall, c.Arg, c.Op)
			}
		}
		i, seen := index[r.Syscall]
		if !seen {
			index[r.Syscall] = len(calls)
			calls = append(calls, call{nr: nr})
			i = len(calls) - 1
		}
		if seen && (len(r.Args) == 0) != (len(calls[i].conditions) == 0) {
			return nil, fmt.Errorf("sandbox: %s is allowed both with and without argument checks", r.Syscall)
		}
		if len(r.Args) > 0 {
			calls[i].conditions = append(calls[i].conditions, r.Args)
		}
	}
	return calls, nil
}

// syscallNumber looks name up in the x86-64 table.
func syscallNumber(name string) (uint32, bool) {
	for nr, n := range syscallNames {
		if n == name && name != "" {
			return uint32(nr), true
		}
	}
	return 0, false
}

// conditionalBlock is the code of one call allowed for some arguments:
// each condition set in turn allows the call when all its conditions
// hold; a failed condition skips to the next set, and after the last the
// call gets deny.
func conditionalBlock(sets [][]Condition, deny uint32) []bpf.Instruction {
	var block []bpf.Instruction
	for _, set := range sets {
		var checks []bpf.Instruction
		for _, c := range set {
			checks = append(checks, conditionChecks(c)...)
		}
		// Each check's failure jumps past the rest of the set and its
		// RetConstant, to the next set: a set is at most 6 conditions
		// of 4 instructions, well within a conditional jump's 255.
		for i, ins := range checks {
			if j, ok := ins.(bpf.JumpIf); ok {
				past := uint8(len(checks) - i) // the rest, then the RetConstant
				if j.SkipTrue == failure {
					j.SkipTrue = past
				} else {
					j.SkipFalse = past
				}
				checks[i] = j
			}
		}
		block = append(block, checks...)
		block = append(block, bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW})
	}
	return append(block, bpf.RetConstant{Val: deny})
}

// failure marks the branch of a check that fails its condition, until
// conditionalBlock knows how far that branch jumps.
const failure = 0xff

// conditionChecks tests one condition, a 32-bit half at a time (a BPF
// load reads 32 bits); a half with nothing to test is left out.
func conditionChecks(c Condition) []bpf.Instruction {
	var checks []bpf.Instruction
	halves := [2]uint32{uint32(c.Value), uint32(c.Value >> 32)}
	for half, v := range halves {
		load := bpf.LoadAbsolute{Off: uint32(dataArgs + 8*c.Arg + 4*half), Size: 4}
		switch c.Op {
		case Equal:
			checks = append(checks, load, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipFalse: failure})
		case BitsClear:
			if v != 0 {
				checks = append(checks, load, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: v, SkipTrue: failure})
			}
		}
	}
	return checks
}
