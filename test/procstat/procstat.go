// Package procstat reads what the module's tests need of /proc/PID/stat:
// the command name, the state letter, the parent, the flags and the CPU
// times. One parser, because the line is easy to get wrong: the command
// name, field 2, is in parentheses and may itself hold spaces and
// parentheses, so the fields after it are counted from its last ")".
package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is one process's line of /proc/PID/stat, the fields the tests use.
type Stat struct {
	Comm  string // field 2, without its parentheses
	State byte   // field 3: 'R', 'S', 'D', 'T', 'Z', ...
	PPID  int    // field 4
	Flags uint64 // field 9: the kernel's PF_* bits
	UTime int64  // field 14, in clock ticks (UserHZ a second)
	STime int64  // field 15, in clock ticks
}

// UserHZ is the unit of the CPU times: USER_HZ, which the kernel fixes at
// 100 for user space on x86.
const UserHZ = 100

// PFKthread is the kernel's PF_KTHREAD flag (include/linux/sched.h).
const PFKthread = 0x00200000

// CPU is the user and system time, all threads together.
func (s Stat) CPU() time.Duration {
	return time.Duration(s.UTime+s.STime) * time.Second / UserHZ
}

// Kthread says whether the task is a kernel thread.
func (s Stat) Kthread() bool { return s.Flags&PFKthread != 0 }

// Read reads and parses /proc/PID/stat.
func Read(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return Parse(string(b))
}

// Parse parses one /proc/PID/stat line:
// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
// majflt cmajflt utime stime ...
func Parse(line string) (Stat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("procstat: %q has no (comm)", line)
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 13 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("procstat: %q: too few fields after (comm)", line)
	}
	ppid, err1 := strconv.Atoi(f[1])
	flags, err2 := strconv.ParseUint(f[6], 10, 64)
	utime, err3 := strconv.ParseInt(f[11], 10, 64)
	stime, err4 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Stat{}, fmt.Errorf("procstat: %q: %w", line, err)
	}
	return Stat{Comm: line[open+1 : end], State: f[0][0], PPID: ppid, Flags: flags, UTime: utime, STime: stime}, nil
}
