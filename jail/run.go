package jail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// insideEnv marks the process Run started, for Inside.
const insideEnv = "GLUE_JAIL_INSIDE"

// namespaces are the ones the jailed process gets of its own. The network
// namespace is Config.NetNS or the host's: a new empty one would have no
// way out, and a tap must be made in the namespace it is to be used in.
const namespaces = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// Run starts cmd (normally this program again, with the same arguments) as
// the first process of new mount, PID, IPC and UTS namespaces, in c.NetNS
// if set and in a cgroup of its own named after name if the host
// delegates one (see Limits; otherwise log says why there are none), and
// waits for it to exit. When ctx ends, the jailed process gets SIGTERM;
// when the calling process dies, SIGKILL. It needs root (CAP_SYS_ADMIN).
//
// The returned error is cmd.Wait's (an *exec.ExitError for a status other
// than 0) or why the jail could not be made.
func Run(ctx context.Context, c Config, name string, cmd *exec.Cmd, log *slog.Logger) error {
	if err := c.Check(); err != nil {
		return err
	}
	cg, err := jailCgroup(c, name, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := cg.remove(); err != nil {
			log.Warn(err.Error())
		}
	}()
	cmd.Env = append(cmd.Environ(), insideEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: namespaces, Pdeathsig: syscall.SIGKILL}
	if cg != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.dir.Fd())
	}

	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		// The child is cloned from this thread, so it inherits the
		// network namespace set on it, and Pdeathsig fires when this
		// thread ends: the thread stays locked until the child has
		// exited, and is then discarded (never unlocked), since its
		// namespace is no longer the process's.
		runtime.LockOSThread()
		if c.NetNS != "" {
			if err := enterNetNS(c.NetNS); err != nil {
				started <- err
				return
			}
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("jail: start: %w", err)
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return err
	}
	done := ctx.Done()
	for {
		select {
		case err := <-exited:
			return err
		case <-done:
			cmd.Process.Signal(syscall.SIGTERM)
			done = nil
		}
	}
}

// enterNetNS moves the calling thread into the network namespace at path.
func enterNetNS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &ConfigError{fmt.Errorf("jail: network namespace: %w", err)}
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return &ConfigError{fmt.Errorf("jail: network namespace %s: %w (not a network namespace?)", path, err)}
	}
	return nil
}

// Inside reports whether this process was started by Run.
func Inside() bool { return os.Getenv(insideEnv) == "1" }
