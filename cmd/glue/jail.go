package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/jail"
	"github.com/gluevmm/glue/vmm"
)

// `glue run --jail DIR` runs the VM in a jail (package jail): this process
// stays on the host, starts the same command again inside new namespaces
// and waits for it; that second process claims the VM's name in the host's
// runtime directory, enters the jail, builds the VM, drops to --jail-uid
// and runs it under the seccomp filter.

// jailFlags are the --jail flags as given.
type jailFlags struct {
	dir, uid, gid, netns, cgroup string
}

// jailMemoryOverhead is what the jail's memory.max allows over guest RAM:
// glue's heap, device buffers and page tables.
const jailMemoryOverhead = 256 << 20

// jailTaskHeadroom is what pids.max allows over the vCPUs: the Go
// runtime's threads (as vmm's RLIMIT_NPROC headroom).
const jailTaskHeadroom = 1024

// generatedNameEnv tells the jailed process that the name it got with
// --name was generated for it, so that it announces it as usual.
const generatedNameEnv = "GLUE_JAIL_GENERATED_NAME"

// jailConfig checks the --jail flags against cfg and returns the jail, or
// nil without --jail. Every file cfg names must be inside the directory.
func (j jailFlags) jailConfig(cfg vmm.Config) (*jail.Config, error) {
	if j.dir == "" {
		if j.uid != "" || j.gid != "" || j.netns != "" || j.cgroup != "" {
			return nil, usageErrorf("--jail-uid, --jail-gid, --jail-netns and --jail-cgroup need --jail DIR")
		}
		return nil, nil
	}
	if j.uid == "" || j.gid == "" {
		return nil, usageErrorf("--jail: --jail-uid and --jail-gid are required (the unprivileged ids the VM runs as)")
	}
	if os.Geteuid() != 0 {
		return nil, usageErrorf("--jail: needs root (namespaces, pivot_root and the uid drop need CAP_SYS_ADMIN and CAP_SETUID)")
	}
	uid, err := jail.LookupID(j.uid, false)
	if err != nil {
		return nil, usageErrorf("--jail-uid: %v", err)
	}
	gid, err := jail.LookupID(j.gid, true)
	if err != nil {
		return nil, usageErrorf("--jail-gid: %v", err)
	}
	jc := &jail.Config{
		Dir: j.dir, UID: uid, GID: gid, NetNS: j.netns, Cgroup: j.cgroup,
		Devices:  []jail.Device{jail.KVM},
		Hostname: cfg.Name,
		Limits: jail.Limits{
			MemoryBytes: cfg.MemMiB<<20 + jailMemoryOverhead,
			CPUs:        cfg.CPUs + 1, // the vCPUs and the event loop
			Tasks:       cfg.CPUs + jailTaskHeadroom,
		},
	}
	if len(cfg.Nets) > 0 {
		jc.Devices = append(jc.Devices, jail.Tun)
	}
	if err := jc.Check(); err != nil {
		return nil, usageErrorf("--jail: %v", err)
	}
	if _, err := jailPaths(*jc, cfg); err != nil {
		return nil, err
	}
	return jc, nil
}

// jailPaths returns cfg with its files' paths as the jailed process sees
// them.
func jailPaths(jc jail.Config, cfg vmm.Config) (vmm.Config, error) {
	mapPath := func(flag string, p *string) error {
		if *p == "" {
			return nil
		}
		in, err := jc.Path(*p)
		if err != nil {
			return usageErrorf("%s: %v", flag, err)
		}
		*p = in
		return nil
	}
	if err := mapPath("--kernel", &cfg.Kernel); err != nil {
		return cfg, err
	}
	if err := mapPath("--initrd", &cfg.Initrd); err != nil {
		return cfg, err
	}
	cfg.Disks = append([]vmm.Disk(nil), cfg.Disks...)
	for i := range cfg.Disks {
		if err := mapPath("--disk", &cfg.Disks[i].Path); err != nil {
			return cfg, err
		}
	}
	if cfg.Vsock != nil && cfg.Vsock.Socket != "" {
		// The socket is made later: its directory must be in the jail.
		v := *cfg.Vsock
		dir := filepath.Dir(v.Socket)
		if err := mapPath("--vsock socket", &dir); err != nil {
			return cfg, err
		}
		v.Socket = filepath.Join(dir, filepath.Base(v.Socket))
		cfg.Vsock = &v
	}
	return cfg, nil
}

// defaultVsockSocket is --vsock's socket when socket= is not given:
// NAME.vsock in the runtime directory, or in the jail directory, since
// the jail hides the runtime directory from the VM; host programs reach
// it there, and the guest's PATH_P sockets belong next to it.
func defaultVsockSocket(runtimeDir string, jc *jail.Config, name string) string {
	if jc != nil {
		return filepath.Join(jc.Dir, name+".vsock")
	}
	return filepath.Join(runtimeDir, name+".vsock")
}

// removeJailedVsockSocket removes the vsock socket a jailed VM made: once
// it has dropped root it may not be allowed to remove it from DIR.
func removeJailedVsockSocket(runtimeDir string, jc jail.Config, cfg vmm.Config, name string) error {
	if cfg.Vsock == nil {
		return nil
	}
	path := cfg.Vsock.Socket
	if path == "" {
		path = defaultVsockSocket(runtimeDir, &jc, name)
	}
	st, err := os.Lstat(path)
	if err != nil || st.Mode().Type() != os.ModeSocket {
		return nil // gone already, or not the VM's to remove
	}
	return os.Remove(path)
}

// runJailed is the host side: it starts this command again in the jail
// and waits for it, then removes the control files the jailed process
// could not reach. Its exit status is the jailed process's.
func runJailed(ctx context.Context, g *globals, f *runFlags, cfg vmm.Config, status *detachStatus) error {
	dir, err := g.dir()
	if err != nil {
		return err
	}
	// Named here, so that the cgroup and the clean-up know the name.
	name, args := cfg.Name, os.Args[1:]
	env := os.Environ()
	if name == "" {
		name = control.GenerateName()
		args = append(args, "--name", name)
		env = append(env, generatedNameEnv+"=1")
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if status != nil {
		// The jailed process reports to the --detach parent itself.
		cmd.ExtraFiles = []*os.File{status.f}
		env = append(env, detachedEnv+"=3")
	}
	cmd.Env = env
	jc := *f.jail
	jc.Hostname = name
	err = jail.Run(ctx, jc, name, cmd, cfg.Logger)
	if rerr := control.Reap(dir, name); rerr != nil {
		cfg.Logger.Warn("jail: clean up the control socket", "err", rerr)
	}
	if rerr := removeJailedVsockSocket(dir, jc, cfg, name); rerr != nil {
		cfg.Logger.Warn("jail: clean up the vsock socket", "err", rerr)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		// The jailed process has said why, on the same stderr.
		return reportedExit(jailedStatus(exit))
	}
	var ce *jail.ConfigError
	if errors.As(err, &ce) {
		return usageErrorf("--jail: %v", err)
	}
	return err
}

// jailedStatus is the jailed process's exit status as a shell reports it.
func jailedStatus(exit *exec.ExitError) int {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exit.ExitCode()
}

// reportedExit is an error whose message was printed already: glue exits
// with this status and prints nothing more.
type reportedExit int

func (e reportedExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// jailStage is the jailed process's part of serveVM; nil outside a jail,
// where each method does what an unjailed VM needs.
type jailStage struct {
	cfg     jail.Config
	hostPID int
}

// newJailStage returns the stage when this process runs in a jail. It
// must run before the jail is entered: it reads the host's PID of us.
func newJailStage(jc *jail.Config) (*jailStage, error) {
	if jc == nil || !jail.Inside() {
		return nil, nil
	}
	pid, err := jail.HostPID()
	if err != nil {
		return nil, err
	}
	return &jailStage{cfg: *jc, hostPID: pid}, nil
}

// pid is the VM process's PID as the host sees it.
func (s *jailStage) pid() int {
	if s == nil {
		return os.Getpid()
	}
	return s.hostPID
}

// namedByParent reports whether --name was generated by the host side.
func (s *jailStage) namedByParent() bool {
	return s != nil && os.Getenv(generatedNameEnv) == "1"
}

// enter moves into the jail and returns cfg with the paths seen there.
func (s *jailStage) enter(cfg vmm.Config) (vmm.Config, error) {
	if s == nil {
		return cfg, nil
	}
	inside, err := jailPaths(s.cfg, cfg)
	if err != nil {
		return cfg, err
	}
	s.cfg.Hostname = cfg.Name
	if err := jail.Enter(s.cfg); err != nil {
		return cfg, err
	}
	return inside, nil
}

// drop gives up root once the VM holds what it needs.
func (s *jailStage) drop() error {
	if s == nil {
		return nil
	}
	return jail.Drop(s.cfg)
}
