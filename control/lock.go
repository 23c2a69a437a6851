package control

// The liveness protocol. A VM owns its name while it holds an exclusive
// flock on <name>.lock; the kernel drops the lock when the process dies.
//
//   - claim: open (create) the lock file, flock LOCK_EX|LOCK_NB, then check
//     that the path still names the inode we locked (fstat vs stat). If not,
//     a reaper unlinked it between our open and our flock: we hold a lock on
//     a dead inode, so drop it and start over. Holding the lock on the
//     current inode, any <name>.sock is stale: remove it, then bind.
//   - reap (clients): the same open/flock/verify. If the lock is taken, the
//     VM lives. If we get it, the VM is dead: unlink the socket, then the
//     lock file, both while holding the lock, then release.
//   - release (the server's Close): unlink the socket, then the lock file,
//     then close the lock.
//
// Why this cannot remove a live VM's socket: a socket is only bound or
// unlinked by someone holding the lock on the inode that the lock path names
// at that moment, and that inode only changes when its holder unlinks it.
// Two processes can therefore never both believe they own a name.
//
// A claimer that finds the lock taken retries for a moment (claimRetry),
// because the holder may be a reaper about to unlink a dead VM's files
// rather than a live VM.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NameInUseError is Listen's error when a live VM holds the name.
type NameInUseError struct {
	Name string
	PID  int // 0 when the holder has not written it yet
}

func (e *NameInUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("control: a VM named %q is already running", e.Name)
	}
	return fmt.Sprintf("control: a VM named %q is already running (pid %d)", e.Name, e.PID)
}

const (
	claimRetry = 100 * time.Millisecond
	claimPoll  = 5 * time.Millisecond
	// maxRelock bounds the open/flock/verify loop; each round means
	// another process unlinked the file under us, which cannot go on.
	maxRelock = 100
)

// claim takes name's lock for this process, writes pid (ours, as clients
// see it) into it and removes a stale socket. The returned file holds the
// lock until closed.
func claim(sock, lock, name string, pid int) (*os.File, error) {
	deadline := time.Now().Add(claimRetry)
	for range maxRelock {
		f, ok, err := lockCurrent(lock)
		if err != nil {
			return nil, err
		}
		if !ok {
			if f == nil {
				continue // the path changed under us: start over at once
			}
			pid := readPID(f)
			f.Close()
			if time.Now().After(deadline) {
				return nil, &NameInUseError{Name: name, PID: pid}
			}
			time.Sleep(claimPoll)
			continue
		}
		if err := writePID(f, pid); err != nil {
			release(f, "", lock)
			return nil, err
		}
		if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
			release(f, "", lock)
			return nil, fmt.Errorf("control: remove stale socket: %w", err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("control: lock %s keeps changing under us", lock)
}

// reap checks whether the VM behind lock is alive. If it is not, reap
// removes its socket and lock file. pid is the live holder's, as written in
// its lock file (0 if not yet written).
func reap(sock, lock string) (alive bool, pid int, err error) {
	for range maxRelock {
		f, ok, err := lockCurrent(lock)
		if err != nil {
			return false, 0, err
		}
		if !ok {
			if f == nil {
				continue
			}
			pid := readPID(f)
			f.Close()
			return true, pid, nil
		}
		return false, 0, release(f, sock, lock)
	}
	return false, 0, fmt.Errorf("control: lock %s keeps changing under us", lock)
}

// Reap removes the socket and lock file of the VM name in dir if no
// process holds its name any more; a live VM's are left alone. It is for
// a process that served the name from a root where the runtime directory
// is out of reach (package jail), and could not remove them itself.
func Reap(dir, name string) error {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(lock); errors.Is(err, os.ErrNotExist) {
		return nil // removed by its holder; reap would create it
	}
	_, _, err = reap(sock, lock)
	return err
}

// lockCurrent opens (creating) lock and tries to flock it. ok means we hold
// the lock on the inode the path names now. !ok with f != nil means someone
// else holds it (f is open, unlocked, for reading the pid); !ok with f ==
// nil means the path changed between open and flock: try again.
func lockCurrent(lock string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(lock, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("control: open lock: %w", err)
	}
	switch err := flock(f, unix.LOCK_EX|unix.LOCK_NB); {
	case errors.Is(err, unix.EWOULDBLOCK):
		return f, false, nil
	case err != nil:
		f.Close()
		return nil, false, fmt.Errorf("control: lock %s: %w", lock, err)
	}
	same, err := sameFile(f, lock)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	if !same {
		f.Close() // closing drops the lock on the unlinked inode
		return nil, false, nil
	}
	return f, true, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// sameFile reports whether path still names the file f has open.
func sameFile(f *os.File, path string) (bool, error) {
	var fst, pst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
		return false, fmt.Errorf("control: fstat %s: %w", path, err)
	}
	switch err := unix.Lstat(path, &pst); {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("control: stat %s: %w", path, err)
	}
	return fst.Dev == pst.Dev && fst.Ino == pst.Ino, nil
}

// release gives up a held name: the socket (if sock is not empty) and then
// the lock file are unlinked while the lock is still held.
func release(f *os.File, sock, lock string) error {
	var errs []error
	if sock != "" {
		if err := removeFile(sock); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeFile(lock); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, f.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("control: release %s: %w", lock, err)
	}
	return nil
}

// removeFile unlinks path, which is gone already or a file. Unlike
// os.Remove it never tries rmdir when the unlink fails, which the seccomp
// filter of a running VM refuses (it allows unlinkat of files only): a
// jailed VM, whose runtime directory is out of reach, ends its run here.
func removeFile(path string) error {
	if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("control: write pid: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return fmt.Errorf("control: write pid: %w", err)
	}
	return nil
}

// readPID returns the pid in a lock file, or 0 if there is none yet.
func readPID(f *os.File) int {
	var b [24]byte
	n, _ := f.ReadAt(b[:], 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}
