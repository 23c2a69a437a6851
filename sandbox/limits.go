package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limits are the resource limits Limit sets; core dumps are always off.
type Limits struct {
	Files   uint64 // RLIMIT_NOFILE: one more than the highest descriptor allowed
	Threads uint64 // RLIMIT_NPROC: tasks (threads) of the real uid, all processes together
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
