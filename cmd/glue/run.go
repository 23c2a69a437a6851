package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gluevmm/glue/console"
	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/jail"
	"github.com/gluevmm/glue/vmm"
)

// runFlags are the flags of `glue run` before they become a vmm.Config.
type runFlags struct {
	cpus         int
	mem          string
	kernel       string
	initrd       string
	params       string
	name         string
	consolePath  string // --console as given
	consoleFile  string // the file part of it
	boot         string
	bzImageEntry bool
	detach       bool
	rng          string
	balloon      string
	vsock        string
	transport    string
	acpi         string
	timeline     bool
	seccomp      string
	disks        []string
	nets         []string
	logPath      string
	jailFlags    jailFlags
	jail         *jail.Config // from jailFlags; nil without --jail
}

// flagOf returns the `glue run` flag that sets a vmm.Config field, for
// errors that name the flag. Every vmm.Field has one (a test checks).
func flagOf(f vmm.Field) (string, bool) {
	switch f {
	case vmm.FieldCPUs:
		return "--cpus", true
	case vmm.FieldMemMiB:
		return "--mem", true
	case vmm.FieldKernel:
		return "--kernel", true
	case vmm.FieldInitrd:
		return "--initrd", true
	case vmm.FieldCmdline:
		return "--params", true
	case vmm.FieldBoot:
		return "--boot", true
	case vmm.FieldDisks:
		return "--disk", true
	case vmm.FieldNets:
		return "--net", true
	case vmm.FieldRNG:
		return "--rng", true
	case vmm.FieldConsoleDevice:
		return "--console", true
	case vmm.FieldTransport:
		return "--transport", true
	case vmm.FieldNoACPI:
		return "--acpi", true
	case vmm.FieldBalloon:
		return "--balloon", true
	case vmm.FieldVsock:
		return "--vsock", true
	}
	return "", false
}

func runCommand() command {
	return command{
		name:    "run",
		summary: "Start a VM in this process",
		long: `Start a VM in this process; it runs until the guest resets or powers off,
the VM fails, or you quit.

Without --kernel glue boots its built-in test guest. --kernel takes an ELF
vmlinux, a PVH ELF or a bzImage (whose compressed vmlinux is extracted and
entered directly; --bzimage-entry uses the image's own 64-bit entry instead).

The guest's serial console (COM1, ttyS0) is this terminal: input goes to the
guest, and ` + console.EscapeHelp + `.`,
		example: `  glue run
  glue run -c 2 -m 1G -p "glue.test=cpus,mem"
  glue run -k vmlinuz -m 300 -p "console=ttyS0 earlyprintk=serial"`,
		setup: setupRun,
	}
}

func setupRun(fl *flagSet, g *globals) func(context.Context) error {
	f := &runFlags{}
	fl.IntVar(&f.cpus, "cpus", "c", 1, "`N` vCPUs, at most what KVM allows")
	fl.StringVar(&f.mem, "mem", "m", "512", "guest memory: `SIZE` in MiB, or with an M or G suffix")
	fl.StringVar(&f.kernel, "kernel", "k", "", "kernel image (ELF vmlinux, PVH ELF or bzImage) in `FILE` (default: the built-in guest)")
	fl.StringVar(&f.initrd, "initrd", "", "", "initial ramdisk from `FILE`")
	fl.StringVar(&f.params, "params", "p", "", "kernel command line `PARAMS`; default for Linux: \""+vmm.DefaultCmdline+"\"")
	fl.StringVar(&f.name, "name", "n", "", "`NAME` of the VM: 1-64 characters of [A-Za-z0-9._-]")
	fl.StringVar(&f.consolePath, "console", "", "",
		"console `DEVICE`: serial (COM1, default) or virtio (hvc0), and/or file=FILE to write its output to FILE instead of stdout (e.g. virtio,file=out.log)")
	fl.ListVar(&f.disks, "disk", "d", "raw disk image as a virtio-blk device: `SPEC` is FILE or path=FILE,ro=on,transport=pci|mmio (repeatable)")
	fl.ListVar(&f.nets, "net", "", "virtio-net device on a host tap: `SPEC` is tap=NAME[,mac=MAC][,transport=pci|mmio] (repeatable; a missing tap is created, and glue says so)")
	fl.StringVar(&f.transport, "transport", "", "", "virtio `TRANSPORT` of devices that name none: pci (default; what stock kernels see) or mmio (boots faster; needs a kernel with virtio_mmio)")
	fl.StringVar(&f.acpi, "acpi", "", "on", "ACPI tables `on` or off (off: MP table only, virtio-mmio devices on the command line)")
	fl.StringVar(&f.boot, "boot", "", "", "boot `PROTOCOL` for kernels that offer both: linux (64-bit boot protocol, default) or pvh")
	fl.BoolVar(&f.bzImageEntry, "bzimage-entry", "", "enter a bzImage through its own 64-bit entry instead of extracting its vmlinux")
	fl.OptionalVar(&f.rng, "rng", "off", "on", "add a virtio-rng entropy device fed from the host's random pool (getrandom(2)); `SPEC` is on (--rng alone), off or transport=pci|mmio")
	fl.OptionalVar(&f.balloon, "balloon", "off", "on", "add a virtio-balloon device ('glue balloon' sets its target); `SPEC` is on (--balloon alone), off or options stats=on|off,deflate-on-oom=on|off,reporting=on|off (all on by default),transport=pci|mmio")
	fl.StringVar(&f.vsock, "vsock", "", "", "add a virtio-vsock device: `SPEC` is cid=N[,socket=PATH][,transport=pci|mmio]; the guest's port P connects to PATH_P, host programs connect to PATH and write \"CONNECT P\\n\" (default PATH: NAME.vsock in the runtime dir, or in the --jail dir; see docs/vsock.md)")
	fl.BoolVar(&f.timeline, "boot-timeline", "", "print when each boot phase was reached (ms since glue started) when the VM ends")
	fl.StringVar(&f.seccomp, "seccomp", "", "on",
		"system-call filter `MODE`: on (a call outside glue's allow-list ends it, exit 159), log (allowed, logged by the kernel) or off; see docs/security.md")
	fl.StringVar(&f.logPath, "log", "", "", "the VM's log `FILE`: its lifecycle and how it ended, capped at 1 MiB and rotated once to FILE.1 (default: NAME.log in the runtime dir; see glue logs)")
	fl.StringVar(&f.jailFlags.dir, "jail", "", "", "run the VM jailed in `DIR`, which holds its files (kernel, initrd, disks); needs root, --jail-uid and --jail-gid; see docs/security.md")
	fl.StringVar(&f.jailFlags.uid, "jail-uid", "", "", "with --jail: the unprivileged `UID` (number or user name) the VM runs as once built")
	fl.StringVar(&f.jailFlags.gid, "jail-gid", "", "", "with --jail: the unprivileged `GID` (number or group name) the VM runs as once built")
	fl.StringVar(&f.jailFlags.netns, "jail-netns", "", "", "with --jail: start in the network namespace at `PATH` (e.g. /run/netns/NAME)")
	fl.StringVar(&f.jailFlags.cgroup, "jail-cgroup", "", "", "with --jail: the delegated cgroup v2 `DIR` to create the VM's cgroup under (default: glue's own, if it delegates)")
	fl.BoolVar(&f.detach, "detach", "", "run the VM in the background; print its name once it runs (see glue console)")
	markLeftOutFlags(fl)
	return func(ctx context.Context) error {
		if err := refuseEmpty(fl, "name", "kernel", "initrd", "log"); err != nil {
			return err
		}
		return runVM(ctx, g, f)
	}
}

// parseSeccomp maps --seccomp's words to the vmm's modes.
func parseSeccomp(s string) (vmm.SeccompMode, error) {
	switch s {
	case "on":
		return vmm.SeccompOn, nil
	case "log":
		return vmm.SeccompLog, nil
	case "off":
		return vmm.SeccompOff, nil
	}
	return "", fmt.Errorf("%q is not a mode: want on, log or off", s)
}

// parseMiB accepts "512", "512M", "512MiB", "2G", "2GiB".
func parseMiB(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "IB"), "B")
	mult := uint64(1)
	switch {
	case strings.HasSuffix(t, "G"):
		mult, t = 1024, strings.TrimSuffix(t, "G")
	case strings.HasSuffix(t, "M"):
		t = strings.TrimSuffix(t, "M")
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, fmt.Errorf("%q is not a size in MiB (e.g. 512, 512M, 2G)", s)
	}
	return n * mult, nil
}

func (f *runFlags) config(g *globals) (vmm.Config, error) {
	mem, err := parseMiB(f.mem)
	if err != nil {
		return vmm.Config{}, usageErrorf("--mem: %v", err)
	}
	if f.name != "" {
		if err := control.ValidName(f.name); err != nil {
			return vmm.Config{}, usageErrorf("--name: %v", err)
		}
	}
	var disks []vmm.Disk
	for _, d := range f.disks {
		disk, err := parseDisk(d)
		if err != nil {
			return vmm.Config{}, usageErrorf("--disk: %v", err)
		}
		disks = append(disks, disk)
	}
	var nets []vmm.Net
	for _, n := range f.nets {
		nw, err := parseNet(n)
		if err != nil {
			return vmm.Config{}, usageErrorf("--net: %v", err)
		}
		nets = append(nets, nw)
	}
	seccomp, err := parseSeccomp(f.seccomp)
	if err != nil {
		return vmm.Config{}, usageErrorf("--seccomp: %v", err)
	}
	console, err := parseConsole(f.consolePath)
	if err != nil {
		return vmm.Config{}, usageErrorf("--console: %v", err)
	}
	f.consoleFile = console.file
	rng, rngTransport, err := parseRNG(f.rng)
	if err != nil {
		return vmm.Config{}, usageErrorf("--rng: %v", err)
	}
	balloon, err := parseBalloon(f.balloon)
	if err != nil {
		return vmm.Config{}, usageErrorf("--balloon: %v", err)
	}
	var vs *vmm.Vsock
	if f.vsock != "" {
		if vs, err = parseVsock(f.vsock); err != nil {
			return vmm.Config{}, usageErrorf("--vsock: %v", err)
		}
	}
	transport, err := parseTransport(f.transport)
	if err != nil {
		return vmm.Config{}, usageErrorf("--transport: %v", strings.TrimPrefix(err.Error(), "transport="))
	}
	acpi, err := onOff(f.acpi)
	if err != nil || f.acpi == "" {
		return vmm.Config{}, usageErrorf("--acpi: %q: want on or off", f.acpi)
	}
	cfg := vmm.Config{
		Transport:        transport,
		NoACPI:           !acpi,
		Disks:            disks,
		Nets:             nets,
		ConsoleDevice:    console.dev,
		ConsoleTransport: console.transport,
		ConsoleLimit:     console.limit,
		RNGTransport:     rngTransport,
		Name:             f.name,
		CPUs:             f.cpus,
		MemMiB:           mem,
		Kernel:           f.kernel,
		Initrd:           f.initrd,
		Cmdline:          f.params,
		Boot:             vmm.BootProtocol(f.boot),
		BzImageEntry:     f.bzImageEntry,
		RNG:              rng,
		Balloon:          balloon,
		Vsock:            vs,
		Seccomp:          seccomp,
		Logger:           g.logger(),
	}
	// Refused here, before --detach or the VM's name, so that a flag this
	// build cannot serve fails like any other bad flag.
	if err := cfg.CheckComponents(); err != nil {
		return vmm.Config{}, configFlagError(err)
	}
	if f.jail, err = f.jailFlags.jailConfig(cfg); err != nil {
		return vmm.Config{}, err
	}
	return cfg, nil
}

func runVM(ctx context.Context, g *globals, f *runFlags) error {
	cfg, err := f.config(g)
	if err != nil {
		return err
	}
	if f.detach && os.Getenv(detachedEnv) == "" {
		return startDetached(f)
	}
	status := detachedStatus() // nil unless this is the child of --detach
	if f.jail != nil && !jail.Inside() {
		err = runJailed(ctx, g, f, cfg, status)
	} else {
		err = serveVM(ctx, g, f, cfg, status)
	}
	// Classified here, so that a detached child reports the same status.
	err = runtimeDirFlagError(err)
	if status != nil && err != nil {
		// Said to the waiting parent, or once it has gone, in the log's
		// last line; stderr is the log, so not again there.
		status.fail(err)
		return reportedExit(exitStatus(err))
	}
	return err
}

// serveVM claims the VM's name, builds the VM, serves its control socket and
// runs it until it ends. From the name on, its end is recorded: in its log
// and its record in the runtime dir.
func serveVM(ctx context.Context, g *globals, f *runFlags, cfg vmm.Config, status *detachStatus) (err error) {
	dir, err := g.dir()
	if err != nil {
		return err
	}
	jailed, err := newJailStage(f.jail)
	if err != nil {
		return err
	}
	// In the host's runtime directory, before the jail hides it: clients
	// reach the socket there, and the lock holds the host's PID of us.
	srv, err := control.ListenAs(dir, cfg.Name, jailed.pid())
	if err != nil {
		var inUse *control.NameInUseError
		if errors.As(err, &inUse) {
			return usageErrorf("--name: %v", err)
		}
		return err
	}
	defer srv.Close()
	generatedName := cfg.Name == "" || jailed.namedByParent()
	cfg.Name = srv.Name()
	if cfg.Vsock != nil && cfg.Vsock.Socket == "" {
		cfg.Vsock.Socket = defaultVsockSocket(dir, f.jail, cfg.Name)
	}
	end, err := recordVM(dir, f.logPath, g.verbose, status != nil, &cfg)
	if err != nil {
		return err
	}
	defer func() {
		// Last: after the VM's own last lines, the console sessions'
		// included (the history has closed by now, ending them).
		srv.EndConsoles(consoleDrainTimeout)
		end.finish(err)
	}()
	// The log only: a foreground run's stderr stays as it was.
	srv.Logger = end.fileLog

	if f.timeline {
		// Deferred before vm.Close, so it prints after the VM's last
		// console output is flushed.
		cfg.Timeline = vmm.NewTimeline(processStart)
		cfg.Timeline.MarkBefore("before main (CPU time: exec, Go runtime, package init)", cpuBeforeMain)
		cfg.Timeline.Mark("flags parsed")
		defer cfg.Timeline.WriteTo(os.Stderr)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Guest output goes to the console history (for `glue console`) and,
	// unless detached, to stdout or --console FILE.
	history := control.NewConsoleBuffer(control.DefaultConsoleHistory)
	defer history.Close()
	var out io.Writer
	if status == nil {
		// A closed stdout is then EPIPE rather than a SIGPIPE that kills
		// glue with the terminal raw and the socket left behind.
		signal.Ignore(syscall.SIGPIPE)
		out = &stdoutWriter{w: os.Stdout, closed: func() { cancel(errStdoutClosed) }}
	}
	if f.consoleFile != "" {
		file, err := openConsoleFile(f.consoleFile)
		if err != nil {
			return usageErrorf("--console: %w", err)
		}
		w := &consoleFileWriter{f: file, log: cfg.Logger}
		defer w.Close()
		out = w
	}
	// vmm writes it directly when out is ready and buffers it otherwise,
	// so a stalled terminal or file never stalls a vCPU.
	cfg.Console = consoleOutput{history: history, out: out}

	hostKernel := cfg.Kernel
	if cfg, err = jailed.enter(cfg); err != nil {
		return err
	}
	vm, err := vmm.Build(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			// A signal during start-up (kernel loading included) is a
			// stop like any later one, not a failure.
			end.reason = fmt.Sprintf("stopped during start-up: %v", context.Cause(ctx))
			return nil
		}
		return configFlagError(err)
	}
	defer vm.Close()
	// Built: everything that needs privilege is open.
	if err := jailed.drop(); err != nil {
		return err
	}
	// Only now does the VM exist: a name printed before Build would
	// precede the errors of a VM that never ran.
	if generatedName && status == nil {
		fmt.Fprintf(os.Stderr, "glue: VM name %s\n", cfg.Name)
	}
	if cfg.ConsoleDevice == vmm.ConsoleVirtio && cfg.Kernel != "" && cfg.Cmdline != "" && !namesConsole(cfg.Cmdline) {
		// glue's default command line names hvc0; one the user wrote may
		// not, and a kernel without it talks only to a screen glue lacks.
		cfg.Logger.Warn("--console virtio: the kernel command line names no console; add console=hvc0, or Linux may print nothing")
	}

	// Served until srv.Close, the last step: the name is released only
	// after the VM's end is recorded, so no listing finds it gone first.
	go srv.Serve(context.WithoutCancel(ctx), controlTarget{vm, control.NewConsolePort(history, vm.ConsoleInput), jailed.pid(), hostKernel})
	if status == nil {
		restore, err := console.RawTerminal(int(os.Stdin.Fd()))
		if err != nil {
			return err
		}
		defer restore()
		go pumpInput(ctx, cancel, vm)
	}

	type result struct {
		outcome vmm.Outcome
		err     error
	}
	ran := make(chan result, 1)
	go func() {
		outcome, err := vm.Run(ctx)
		ran <- result{outcome, err}
	}()
	var r result
	select {
	case <-vm.Running(): // confined and started: a detached parent may print the name
		status.ready(cfg.Name)
		r = <-ran
	case r = <-ran:
	}
	if r.err != nil {
		return r.err
	}
	end.reason = outcomeReason(ctx, r.outcome)
	cfg.Logger.Info("vm ended", "name", cfg.Name, "reason", r.outcome)
	return nil
}

// consoleDrainTimeout bounds how long a VM's end waits for attached
// console clients to receive the last of its output.
const consoleDrainTimeout = 2 * time.Second

// controlTarget is the VM as the control socket sees it.
type controlTarget struct {
	*vmm.VM
	console control.ConsolePort
	pid     int    // as the host sees it, also in a jail
	kernel  string // the path given, not the one in a jail
}

func (t controlTarget) Console() control.ConsolePort { return t.console }

func (t controlTarget) Info() control.Info {
	info := t.VM.Info()
	info.PID, info.Kernel = t.pid, t.kernel
	return info
}

// errUserQuit ends the VM when the user types the escape sequence.
var errUserQuit = errors.New("stopped from the console (Ctrl-a x)")

// pumpInput copies host stdin to the guest console through the escape
// filter until EOF, a read error, or the quit sequence.
func pumpInput(ctx context.Context, cancel context.CancelCauseFunc, vm *vmm.VM) {
	var esc console.Escape
	buf := make([]byte, 256)
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 {
			data, quit := esc.Filter(buf[:n])
			if err := vm.ConsoleInput(ctx, data); err != nil {
				return
			}
			if quit {
				cancel(errUserQuit)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// refuseEmpty rejects flags given with an empty value, which would
// otherwise mean their default (a generated name, the built-in guest).
func refuseEmpty(fs *flagSet, flags ...string) error {
	for _, name := range flags {
		if fs.changed(name) && fs.value(name) == "" {
			return usageErrorf("--%s: empty value", name)
		}
	}
	return nil
}

// namesConsole reports whether a kernel command line has a console=
// parameter.
func namesConsole(cmdline string) bool {
	for _, p := range strings.Fields(cmdline) {
		if strings.HasPrefix(p, "console=") {
			return true
		}
	}
	return false
}
