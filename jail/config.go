package jail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MountPoint is where Dir appears inside the jail.
const MountPoint = "/vm"

// Config describes one jail. Run and Enter must be given the same Config:
// the jailed process derives it from the same command line.
type Config struct {
	// Dir is the host directory that holds the files the jailed process
	// opens (kernel, initrd, disk images); it appears at MountPoint.
	Dir string
	// UID and GID are what the process drops to; neither may be 0.
	UID, GID int
	// NetNS, if not empty, is the path of a network namespace to start in
	// (/run/netns/NAME, /proc/PID/ns/net); otherwise the host's is kept.
	NetNS string
	// Cgroup, if not empty, is the cgroup v2 directory under which Run
	// creates the jail's cgroup; otherwise the cgroup Run's process is in.
	Cgroup string
	// Devices are the device nodes created in the jail's /dev.
	Devices []Device
	// Hostname is set in the jail's UTS namespace (default "glue").
	Hostname string
	// Limits are written into the jail's cgroup.
	Limits Limits
}

// Device is a character device node made in the jail.
type Device struct {
	Path         string // absolute, under /dev
	Major, Minor uint32
}

// The devices a VMM needs.
var (
	KVM = Device{Path: "/dev/kvm", Major: 10, Minor: 232}
	Tun = Device{Path: "/dev/net/tun", Major: 10, Minor: 200}
)

// ConfigError is a Config that cannot work; a CLI reports it as bad input.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{fmt.Errorf(format, args...)}
}

// Check validates c: Dir an existing directory given by an absolute
// path without symbolic links (so that the paths mapped into it mean the
// same inside), ids not 0, NetNS an existing file, devices under /dev.
func (c Config) Check() error {
	if !filepath.IsAbs(c.Dir) {
		return configErrorf("jail: directory %q is not an absolute path", c.Dir)
	}
	fi, err := os.Stat(c.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return configErrorf("jail: directory %s does not exist", c.Dir)
	case err != nil:
		return configErrorf("jail: directory: %w", err)
	case !fi.IsDir():
		return configErrorf("jail: %s is not a directory", c.Dir)
	}
	if real, err := filepath.EvalSymlinks(c.Dir); err != nil || real != filepath.Clean(c.Dir) {
		return configErrorf("jail: directory %s has a symbolic link in its path (use %s)", c.Dir, real)
	}
	if c.Dir == "/" {
		return configErrorf("jail: directory / would hide nothing")
	}
	if c.UID <= 0 || c.GID <= 0 {
		return configErrorf("jail: uid %d, gid %d: both must be set and not 0 (root)", c.UID, c.GID)
	}
	if c.NetNS != "" {
		if _, err := os.Stat(c.NetNS); err != nil {
			return configErrorf("jail: network namespace: %w", err)
		}
	}
	for _, d := range c.Devices {
		if !strings.HasPrefix(d.Path, "/dev/") || filepath.Clean(d.Path) != d.Path {
			return configErrorf("jail: device %q is not a clean path under /dev", d.Path)
		}
	}
	return nil
}

// Path maps host, a file inside Dir, to the path the jailed process opens.
// A file outside Dir (after symbolic links are resolved, so a link cannot
// lead out) is refused: the jailed process could not reach it.
func (c Config) Path(host string) (string, error) {
	abs, err := filepath.Abs(host)
	if err != nil {
		return "", configErrorf("jail: %s: %w", host, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", configErrorf("jail: %w", err)
	}
	rel, err := filepath.Rel(c.Dir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", configErrorf("jail: %s is outside the jail directory %s: move or copy it there", host, c.Dir)
	}
	return filepath.Join(MountPoint, rel), nil
}

// LookupID resolves a --jail-uid or --jail-gid value: a number, or a name
// in the host's user (group) database.
func LookupID(s string, group bool) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 1<<31-2 {
			return 0, configErrorf("jail: id %d is out of range", n)
		}
		return n, nil
	}
	db, kind := passwdFile, "user"
	if group {
		db, kind = groupFile, "group"
	}
	id, found, err := lookupDB(db, s)
	switch {
	case err != nil:
		return 0, configErrorf("jail: %s %s: %w", kind, s, err)
	case !found:
		return 0, configErrorf("jail: unknown %s %s", kind, s)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, configErrorf("jail: id %q of %s is not a number", id, s)
	}
	return n, nil
}
