package control

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NotHolderError is Kill's refusal: the pid in a VM's lock file names a
// process that does not hold the VM's lock, so it is not that VM (its pid
// may have been reused) and is left alone.
type NotHolderError struct {
	Name string
	PID  int
}

func (e *NotHolderError) Error() string {
	return fmt.Sprintf("control: pid %d does not hold VM %q's lock: it is not that VM, not killing it", e.PID, e.Name)
}

// Kill ends the process of the VM named name in dir, for a VM that no
// longer answers its socket, and returns its pid. It reads the pid from
// the VM's lock file, opens a pidfd on it, checks that this process holds
// the lock (one of its descriptors carries the flock on the lock file's
// inode: the VM itself, and no process that reused its pid), sends
// SIGKILL through the pidfd, waits up to wait for the process to exit, and
// removes the socket and lock file it left. It never looks a process up
// by name. A VM that is already gone is an error wrapping ErrNotRunning.
func Kill(dir, name string, wait time.Duration) (int, error) {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return 0, err
	}
	if err := checkDir(dir); err != nil {
		return 0, err
	}
	pid, err := lockHolder(sock, lock, name, dir)
	if err != nil {
		return 0, err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return 0, goneOrReaped(sock, lock, name, dir)
	}
	if err != nil {
		return 0, fmt.Errorf("control: kill %s: pidfd_open %d: %w", name, pid, err)
	}
	defer unix.Close(pidfd)
	// Checked after pidfd_open: if the process behind the pidfd is still
	// alive when signalled, it was alive through this check, so the pid
	// checked here was still its own.
	holds, err := holdsFlock(pid, lock)
	if err != nil {
		return 0, fmt.Errorf("control: kill %s: %w", name, err)
	}
	if !holds {
		return 0, &NotHolderError{Name: name, PID: pid}
	}
	switch err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); {
	case errors.Is(err, unix.ESRCH):
		return 0, goneOrReaped(sock, lock, name, dir)
	case err != nil:
		return 0, fmt.Errorf("control: kill %s (pid %d): %w", name, pid, err)
	}
	if err := waitExit(pidfd, wait); err != nil {
		return pid, fmt.Errorf("control: kill %s (pid %d): %w", name, pid, err)
	}
	if alive, _, err := reap(sock, lock); err != nil || alive {
		return pid, fmt.Errorf("control: kill %s (pid %d): its name is still held after it exited (%v)", name, pid, err)
	}
	return pid, nil
}

// lockHolder returns the pid written in a live VM's lock file.
func lockHolder(sock, lock, name, dir string) (int, error) {
	for range maxRelock {
		f, ok, err := lockCurrent(lock)
		if err != nil {
			return 0, err
		}
		if ok { // nobody holds it: the VM is gone
			if err := release(f, sock, lock); err != nil {
				return 0, err
			}
			return 0, notRunning(name, dir)
		}
		if f == nil {
			continue
		}
		pid := readPID(f)
		f.Close()
		if pid == 0 {
			return 0, fmt.Errorf("control: kill %s: its lock file names no pid yet", name)
		}
		return pid, nil
	}
	return 0, fmt.Errorf("control: lock %s keeps changing under us", lock)
}

// goneOrReaped reports a VM whose process exited before it could be
// killed, after cleaning up what it left.
func goneOrReaped(sock, lock, name, dir string) error {
	if _, _, err := reap(sock, lock); err != nil {
		return err
	}
	return notRunning(name, dir)
}

// holdsFlock reports whether process pid has a descriptor whose open file
// holds the exclusive flock on lock's inode, as its /proc fdinfo lists it
// ("lock: 1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF").
func holdsFlock(pid int, lock string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(lock, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", lock, err)
	}
	inode := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	dir := filepath.Join("/proc", fmt.Sprint(pid), "fdinfo")
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // exited meanwhile
	}
	if err != nil {
		return false, err
	}
	for _, de := range des {
		f, err := os.Open(filepath.Join(dir, de.Name()))
		if err != nil {
			continue // a descriptor closed meanwhile
		}
		found := false
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(strings.TrimPrefix(sc.Text(), "lock:"))
			// "1:" "FLOCK" "ADVISORY" "WRITE" pid inode start end
			if strings.HasPrefix(sc.Text(), "lock:") && len(fields) >= 6 &&
				fields[1] == "FLOCK" && fields[3] == "WRITE" && fields[5] == inode {
				found = true
			}
		}
		f.Close()
		if found {
			return true, nil
		}
	}
	return false, nil
}

// waitExit waits for the process behind pidfd to exit: the pidfd becomes
// readable then.
func waitExit(pidfd int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("still running %v after SIGKILL", wait)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return fmt.Errorf("poll pidfd: %w", err)
		case n > 0:
			return nil
		}
	}
}
