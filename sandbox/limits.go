package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limits are the resource limits Limit sets; core dumps are always off.
type Limits struct {
	Files uint64 // RLIMIT_NOFILE: one more than the highest descriptor allowed
	// Threads is RLIMIT_NPROC: tasks (threads) of the real uid, all
	// processes together; 0 leaves it as it is, for a process the kernel
	// does not apply it to (NprocApplies).
	Threads uint64
}

// Limit sets RLIMIT_NOFILE, RLIMIT_NPROC and RLIMIT_CORE (0), each with
// the hard limit equal to the soft one, so that they cannot be raised
// again without privilege (and with the filter, not at all).
func Limit(l Limits) error {
	for _, r := range []struct {
		name     string
		resource int
		value    uint64
	}{
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, l.Files},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, l.Threads},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
	} {
		if r.resource == unix.RLIMIT_NPROC && r.value == 0 {
			continue
		}
		if err := unix.Setrlimit(r.resource, &unix.Rlimit{Cur: r.value, Max: r.value}); err != nil {
			return fmt.Errorf("sandbox: set %s to %d: %w", r.name, r.value, err)
		}
	}
	return nil
}

// OpenFiles returns one more than the process's highest open descriptor.
func OpenFiles() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("sandbox: count open files: %w", err)
	}
	highest := -1
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > highest {
			highest = fd
		}
	}
	return highest + 1, nil
}

// NprocApplies reports whether the kernel holds this process to
// RLIMIT_NPROC. It does not (kernel/fork.c, copy_process) for the real uid
// 0 of the initial user namespace, nor for a process with CAP_SYS_RESOURCE
// or CAP_SYS_ADMIN there; counting the uid's tasks (UserTasks, a walk of
// /proc that took 9 ms of glue's start-up on a host with 110 processes)
// is then wasted.
func NprocApplies() (bool, error) {
	uidMap, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false, fmt.Errorf("sandbox: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return false, fmt.Errorf("sandbox: capget: %w", err)
	}
	effective := uint64(caps[1].Effective)<<32 | uint64(caps[0].Effective)
	return nprocApplies(os.Getuid(), effective, uidMap), nil
}

// nprocApplies is NprocApplies' rule, for a real uid, an effective
// capability set and the contents of /proc/self/uid_map.
func nprocApplies(uid int, effective uint64, uidMap []byte) bool {
	// Only the initial user namespace maps every uid to itself; inside
	// another, uid 0 and capabilities do not exempt a process.
	if !slices.Equal(strings.Fields(string(uidMap)), []string{"0", "0", "4294967295"}) {
		return true
	}
	exempt := uint64(1)<<unix.CAP_SYS_RESOURCE | uint64(1)<<unix.CAP_SYS_ADMIN
	return uid != 0 && effective&exempt == 0
}

// UserTasks returns how many tasks (threads) processes of this process's
// real uid have now: what RLIMIT_NPROC counts.
func UserTasks() (int, error) {
	statuses, err := filepath.Glob("/proc/[0-9]*/status")
	if err != nil {
		return 0, fmt.Errorf("sandbox: count tasks: %w", err)
	}
	uid := strconv.Itoa(os.Getuid())
	total := 0
	for _, path := range statuses {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		realUID, threads := parseStatus(data)
		if realUID == uid {
			total += threads
		}
	}
	return total, nil
}

// parseStatus returns the real uid and the thread count of a
// /proc/PID/status file.
func parseStatus(data []byte) (uid string, threads int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, _ := bytes.Cut(sc.Bytes(), []byte(":"))
		fields := bytes.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch string(key) {
		case "Uid":
			uid = string(fields[0])
		case "Threads":
			threads, _ = strconv.Atoi(string(fields[0]))
		}
	}
	return uid, threads
}

// SetNoNewPrivs sets no_new_privs on every thread of the process (Install
// does it as part of loading the filter). It needs a program without cgo.
func SetNoNewPrivs() error {
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); errno != 0 {
		return fmt.Errorf("sandbox: set no_new_privs on every thread: %w", errno)
	}
	return nil
}
