package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// EnvRuntimeDir overrides the runtime directory.
const EnvRuntimeDir = "GLUE_RUNTIME_DIR"

// maxSocketPath is the longest socket path: sun_path is 108 bytes and glue
// always NUL-terminates it.
const maxSocketPath = 108 - 1

// DirError is a runtime directory that cannot be used: not a directory,
// a symbolic link, another user's, open to others, or not creatable. A CLI
// reports it as a bad --runtime-dir.
type DirError struct {
	Dir string
	Err error
}

func (e *DirError) Error() string { return e.Err.Error() }
func (e *DirError) Unwrap() error { return e.Err }

func dirError(dir, format string, args ...any) error {
	return &DirError{Dir: dir, Err: fmt.Errorf(format, args...)}
}

// RuntimeDir returns the directory holding the VMs' sockets and locks:
// override if not empty (the CLI's --runtime-dir), else $GLUE_RUNTIME_DIR,
// else /run/glue for root, else $XDG_RUNTIME_DIR/glue, else
// <tmp>/glue-<uid> (like tmux: EnsureDir refuses it if another user made
// it first). It creates nothing; see EnsureDir.
func RuntimeDir(override string) (string, error) {
	return runtimeDir(override, os.Getenv, os.Geteuid(), os.TempDir())
}

func runtimeDir(override string, getenv func(string) string, euid int, tmp string) (string, error) {
	dir := override
	switch {
	case dir != "":
	case getenv(EnvRuntimeDir) != "":
		dir = getenv(EnvRuntimeDir)
	case euid == 0:
		dir = "/run/glue"
	case getenv("XDG_RUNTIME_DIR") != "":
		dir = filepath.Join(getenv("XDG_RUNTIME_DIR"), "glue")
	default:
		dir = filepath.Join(tmp, "glue-"+strconv.Itoa(euid))
	}
	// Absolute, so that a socket path is the same whatever the working
	// directory of the client.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", dirError(dir, "control: runtime dir %s: %w", dir, err)
	}
	return abs, nil
}

// EnsureDir creates dir with mode 0700 if it does not exist, and checks that
// it is a directory (not a symbolic link) owned by the effective user with
// mode exactly 0700. Its parent must exist. The check is made on an open
// descriptor (O_NOFOLLOW), so it is about the directory actually there, not
// one swapped in between a check and a use.
//
// Why 0700 matters: the socket is bound inside this directory, and nobody
// else can reach the socket between bind and the chmod to 0600 that follows
// it (umask is process-wide, so it is not the tool for this).
func EnsureDir(dir string) error {
	created := false
	switch err := os.Mkdir(dir, 0o700); {
	case err == nil:
		created = true
	case errors.Is(err, fs.ErrExist):
	default:
		return dirError(dir, "control: runtime dir: %w", err)
	}
	fd, st, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if int(st.Uid) != os.Geteuid() {
		return dirError(dir, "control: runtime dir %s is owned by uid %d, not by uid %d: refusing to use it", dir, st.Uid, os.Geteuid())
	}
	perm := st.Mode & 0o7777
	if created && perm != 0o700 {
		// A umask narrower than 077 took bits away; ours, so restore.
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return dirError(dir, "control: runtime dir %s: chmod: %w", dir, err)
		}
		perm = 0o700
	}
	if perm != 0o700 {
		return dirError(dir, "control: runtime dir %s has mode %04o, want 0700 (chmod 700 %s): refusing to use it", dir, perm, dir)
	}
	return nil
}

// checkDir is the client's check: dir must be a directory, not a link,
// that only its owner can use, owned by us (or, for root, by anyone). It
// keeps a client from talking to sockets another user could have placed.
func checkDir(dir string) error {
	fd, st, err := openDir(dir)
	if err != nil {
		return err
	}
	unix.Close(fd)
	if euid := os.Geteuid(); int(st.Uid) != euid && euid != 0 {
		return dirError(dir, "control: runtime dir %s is owned by uid %d, not by uid %d: refusing to use it", dir, st.Uid, euid)
	}
	if perm := st.Mode & 0o7777; perm&0o077 != 0 {
		return dirError(dir, "control: runtime dir %s has mode %04o, want 0700 (chmod 700 %s): refusing to use it", dir, perm, dir)
	}
	return nil
}

func openDir(dir string) (int, *unix.Stat_t, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ELOOP || err == unix.ENOTDIR {
		// Either errno can mean a link here; Lstat says which it was.
		if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return -1, nil, dirError(dir, "control: runtime dir %s is a symbolic link: refusing to use it", dir)
		}
	}
	switch {
	case errors.Is(err, unix.ENOTDIR):
		return -1, nil, dirError(dir, "control: runtime dir %s is not a directory", dir)
	case err != nil:
		return -1, nil, dirError(dir, "control: runtime dir %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, dirError(dir, "control: runtime dir %s: fstat: %w", dir, err)
	}
	return fd, &st, nil
}

// paths returns the socket and lock paths of name in dir, after checking
// the name and that the socket path fits in sun_path (never truncated).
func paths(dir, name string) (sock, lock string, err error) {
	if err := ValidName(name); err != nil {
		return "", "", err
	}
	sock = filepath.Join(dir, name+".sock")
	if len(sock) > maxSocketPath {
		return "", "", fmt.Errorf("control: socket path %s is %d bytes; a Unix socket path holds at most %d: use a shorter runtime dir or VM name", sock, len(sock), maxSocketPath)
	}
	return sock, filepath.Join(dir, name+".lock"), nil
}
