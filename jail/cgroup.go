package jail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bound the jail's cgroup; a zero field is left at the kernel's
// default (unlimited).
type Limits struct {
	MemoryBytes uint64 // memory.max
	CPUs        int    // cpu.max: this many CPUs' worth of time per period
	Tasks       int    // pids.max: processes and threads
}

// cgroupMount is where the cgroup v2 hierarchy is mounted.
const cgroupMount = "/sys/fs/cgroup"

// cpuPeriod is cpu.max's period in microseconds (the kernel's default).
const cpuPeriod = 100000

// controllers are the ones the limits need.
var controllers = []string{"cpu", "memory", "pids"}

// cgroup is a jail's own cgroup directory, open for CLONE_INTO_CGROUP.
type cgroup struct {
	path string
	dir  *os.File
}

// NoCgroupError says why a jail runs without cgroup limits.
type NoCgroupError struct{ Reason string }

func (e *NoCgroupError) Error() string { return "jail: no cgroup limits: " + e.Reason }

// jailCgroup creates the cgroup for c. Without c.Cgroup, a host that
// offers no delegated cgroup v2 is not an error: the jail runs without
// limits and log says why. A c.Cgroup that cannot be used is an error.
func jailCgroup(c Config, name string, log *slog.Logger) (*cgroup, error) {
	parent := c.Cgroup
	if parent == "" {
		var err error
		if parent, err = ownCgroup(cgroupMount, "/proc/self/cgroup"); err != nil {
			log.Warn(err.Error() + "; the jail runs without memory, CPU and task limits")
			return nil, nil
		}
	}
	if err := delegates(parent); err != nil {
		if c.Cgroup == "" {
			log.Warn(err.Error() + "; the jail runs without memory, CPU and task limits")
			return nil, nil
		}
		return nil, &ConfigError{err}
	}
	return createCgroup(parent, "glue-"+name, c.Limits)
}

// ownCgroup returns the cgroup v2 directory of this process: mount plus
// the "0::" line of selfCgroup (/proc/self/cgroup).
func ownCgroup(mount, selfCgroup string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", &NoCgroupError{mount + " is not a cgroup v2 hierarchy"}
	}
	data, err := os.ReadFile(selfCgroup)
	if err != nil {
		return "", &NoCgroupError{err.Error()}
	}
	path, ok := unifiedPath(data)
	if !ok {
		return "", &NoCgroupError{selfCgroup + " names no cgroup v2 (no 0:: line)"}
	}
	return filepath.Join(mount, path), nil
}

// unifiedPath returns the path of the "0::PATH" line of a /proc/PID/cgroup.
func unifiedPath(data []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if path, ok := strings.CutPrefix(sc.Text(), "0::"); ok && strings.HasPrefix(path, "/") {
			return filepath.Clean(path), true
		}
	}
	return "", false
}

// delegates checks that parent hands cpu, memory and pids to the cgroups
// under it (cgroup.subtree_control). A cgroup with processes of its own
// cannot, except a hierarchy's root (the no-internal-processes rule), so
// this is the root of a cgroup namespace or a cgroup delegated for the
// purpose (systemd's Delegate=yes).
func delegates(parent string) error {
	data, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		return &NoCgroupError{fmt.Sprintf("cgroup %s: %v", parent, err)}
	}
	have := strings.Fields(string(data))
	var missing []string
	for _, c := range controllers {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	if missing != nil {
		return &NoCgroupError{fmt.Sprintf("cgroup %s does not delegate %s to sub-cgroups (its cgroup.subtree_control has %q)",
			parent, strings.Join(missing, ", "), strings.TrimSpace(string(data)))}
	}
	return nil
}

// createCgroup makes parent/name, writes the limits and opens it.
func createCgroup(parent, name string, l Limits) (*cgroup, error) {
	path := filepath.Join(parent, name)
	err := os.Mkdir(path, 0o755)
	if errors.Is(err, fs.ErrExist) {
		// Left by a jail that was killed before it could remove it: an
		// empty cgroup can go; one with processes is a live jail's.
		if rerr := unix.Rmdir(path); rerr != nil {
			return nil, fmt.Errorf("jail: cgroup %s exists and cannot be removed: %w", path, rerr)
		}
		err = os.Mkdir(path, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("jail: create cgroup: %w", err)
	}
	cg := &cgroup{path: path}
	for _, w := range limitFiles(l) {
		if err := os.WriteFile(filepath.Join(path, w.file), []byte(w.value), 0o644); err != nil {
			cg.remove()
			return nil, fmt.Errorf("jail: cgroup %s: set %s to %s: %w", path, w.file, w.value, err)
		}
	}
	if cg.dir, err = os.Open(path); err != nil {
		cg.remove()
		return nil, fmt.Errorf("jail: open cgroup: %w", err)
	}
	return cg, nil
}

type limitFile struct{ file, value string }

// limitFiles are the cgroup files that express l.
func limitFiles(l Limits) []limitFile {
	var out []limitFile
	if l.MemoryBytes > 0 {
		out = append(out, limitFile{"memory.max", strconv.FormatUint(l.MemoryBytes, 10)})
	}
	if l.CPUs > 0 {
		out = append(out, limitFile{"cpu.max", fmt.Sprintf("%d %d", l.CPUs*cpuPeriod, cpuPeriod)})
	}
	if l.Tasks > 0 {
		out = append(out, limitFile{"pids.max", strconv.Itoa(l.Tasks)})
	}
	return out
}

// remove deletes the cgroup once the jailed process is gone. The kernel
// may take a moment to see the cgroup empty after the wait, so EBUSY is
// retried briefly.
func (cg *cgroup) remove() error {
	if cg == nil {
		return nil
	}
	if cg.dir != nil {
		cg.dir.Close()
	}
	var err error
	for range 50 {
		if err = unix.Rmdir(cg.path); err != unix.EBUSY {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil && err != unix.ENOENT {
		return fmt.Errorf("jail: remove cgroup %s: %w", cg.path, err)
	}
	return nil
}
