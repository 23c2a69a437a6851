package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// rootOptions size the jail's root tmpfs: it holds a few directories and
// device nodes, never data.
const rootOptions = "mode=0755,size=64k,nr_inodes=64"

// HostPID returns this process's PID as the host sees it, which getpid
// does not in a PID namespace (there it is 1). It reads the host's /proc,
// so it must be called before Enter.
func HostPID() (int, error) {
	link, err := os.Readlink("/proc/self")
	if err != nil {
		return 0, fmt.Errorf("jail: host pid: %w", err)
	}
	pid, err := strconv.Atoi(link)
	if err != nil {
		return 0, fmt.Errorf("jail: host pid: /proc/self is %q", link)
	}
	return pid, nil
}

// Enter moves the process Run started into the jail's root: a fresh tmpfs
// with c.Dir at MountPoint, c.Devices in /dev and a proc of the jail's own
// PID namespace, read-only once done. The host's file system is
// unreachable from then on; descriptors opened before stay usable. The
// process is still root: open what needs privilege, then call Drop.
func Enter(c Config) error {
	if os.Getpid() != 1 {
		return errors.New("jail: enter: this process is not the first of a new PID namespace (start it with jail.Run)")
	}
	// Nothing mounted from here on may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("jail: make mounts private: %w", err)
	}
	if err := attachRoot(c.Dir); err != nil {
		return err
	}
	// The tmpfs is mounted over Dir itself, so Dir's contents are kept
	// through a descriptor opened first, and nothing is written to Dir.
	dir, err := unix.Open(c.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("jail: open %s: %w", c.Dir, err)
	}
	defer unix.Close(dir)
	root := c.Dir
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, rootOptions); err != nil {
		return fmt.Errorf("jail: mount root tmpfs: %w", err)
	}
	if err := bindDir(dir, filepath.Join(root, MountPoint)); err != nil {
		return err
	}
	for _, d := range c.Devices {
		if err := makeDevice(root, d); err != nil {
			return err
		}
	}
	if err := mountProc(filepath.Join(root, "proc")); err != nil {
		return err
	}
	if err := pivot(root); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("jail: make root read-only: %w", err)
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname = "glue"
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("jail: set hostname: %w", err)
	}
	return nil
}

// bindDir mounts the directory open as fd at target, without set-uid
// programs, devices or execution.
func bindDir(fd int, target string) error {
	if err := os.Mkdir(target, 0o755); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	// Not recursive: the root tmpfs is mounted over this very directory,
	// and a recursive bind would bring it along on top. Mounts under the
	// jail directory therefore stay out of the jail.
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("jail: bind the jail directory: %w", err)
	}
	const flags = unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("jail: restrict the jail directory: %w", err)
	}
	return nil
}

// makeDevice creates d under root, owned by root with mode 0600: only
// the still-privileged process opens it, never the dropped uid.
func makeDevice(root string, d Device) error {
	path := filepath.Join(root, d.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("jail: device %s: %w", d.Path, err)
	}
	if err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
		return fmt.Errorf("jail: device %s: %w", d.Path, err)
	}
	return nil
}

// mountProc mounts a proc of the jail's PID namespace: what a process
// reads about itself (its descriptors, its threads) is there, and no host
// process is.
func mountProc(target string) error {
	if err := os.Mkdir(target, 0o555); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	if err := unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("jail: mount proc: %w", err)
	}
	return nil
}

// attachRoot makes the root a mount that pivot_root can move. The kernel
// will not move its mount namespace's own root (EINVAL), and that is the
// root of a host that runs from its initramfs without switching to
// another root file system. Then, as switch_root does, a recursive bind
// of the root is mounted at via and moved onto the root, and becomes the
// process's root; the initramfs stays below it, in this mount namespace
// only, as the rootfs below every host's root does, and the pivot later
// detaches the bind with everything else.
func attachRoot(via string) error {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	if !rootIsNamespaceRoot(info) {
		return nil
	}
	if err := unix.Mount("/", via, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("jail: bind the initramfs root: %w", err)
	}
	if err := unix.Chdir(via); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("jail: move the initramfs root's bind onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	return unix.Chdir("/")
}

// rootIsNamespaceRoot reports whether the mount at / in mountinfo (the
// topmost, where several are stacked) is its mount namespace's root,
// which proc shows as its own parent.
func rootIsNamespaceRoot(mountinfo []byte) bool {
	var id, parent string
	for _, line := range strings.Split(string(mountinfo), "\n") {
		// ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
			id, parent = f[0], f[1]
		}
	}
	return id != "" && id == parent
}

// pivot makes root the process's root and detaches the old one, so that
// no path leads back to the host (chroot alone leaves the old root
// mounted and reachable by a process with CAP_SYS_CHROOT).
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on the new one, where
	// it is unmounted at once: no directory for it is needed.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("jail: pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("jail: detach the host's root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("jail: %w", err)
	}
	return nil
}

// Drop sets the process's groups, gid and uid (real, effective and
// saved, on every thread) to c's, which ends its root privileges and
// capabilities for good; it checks that root cannot be regained.
func Drop(c Config) error {
	if c.UID <= 0 || c.GID <= 0 {
		return fmt.Errorf("jail: drop to uid %d gid %d: not an unprivileged id", c.UID, c.GID)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("jail: drop supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(c.GID, c.GID, c.GID); err != nil {
		return fmt.Errorf("jail: set gid %d: %w", c.GID, err)
	}
	if err := syscall.Setresuid(c.UID, c.UID, c.UID); err != nil {
		return fmt.Errorf("jail: set uid %d: %w", c.UID, err)
	}
	if err := syscall.Setresuid(0, 0, 0); err == nil {
		return errors.New("jail: drop: root could be regained after setresuid")
	}
	// The kernel clears the parent-death signal Run asked for when the
	// credentials change: without it again, a jailed process would
	// outlive a killed Run.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("jail: drop: restore the parent-death signal: %w", err)
	}
	return nil
}
