// Command glue is a KVM virtual machine monitor: `glue run` starts a VM in
// this process. See `glue help` and README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/control"
)

// Exit statuses, documented in `glue help` and README.md.
const (
	exitOK    = 0 // the guest reset or powered off, or the VM was stopped
	exitVM    = 1 // the VM failed: guest crash, KVM error, unreadable image
	exitUsage = 2 // bad flags or arguments
)

// usageError marks errors in what the user typed; they exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// globals are the flags every subcommand sees, before or after its name.
type globals struct {
	verbose      int
	runtimeDir   string
	replyTimeout time.Duration
	help         bool
	version      bool
	sets         []*flagSet // where they were parsed: glue's own, then the subcommand's
}

// register adds the global flags to fs, glue's own flag set; each
// subcommand's inherits them.
func (g *globals) register(fs *flagSet) {
	fs.BoolVar(&g.help, "help", "h", "print help and exit")
	fs.BoolVar(&g.version, "version", "V", "print the version and exit (with -v: the components and build tags)")
	fs.CountVar(&g.verbose, "verbose", "v", "log more: -v informational, -vv debug (including the guest's unhandled port and MMIO accesses)")
	fs.Var(countValue{p: &g.verbose, step: 2}, "vv", "", "").hidden = true
	fs.StringVar(&g.runtimeDir, "runtime-dir", "", "",
		"`DIR` of the VMs' control sockets (default $"+control.EnvRuntimeDir+", else $XDG_RUNTIME_DIR/glue, /run/glue for root)")
	fs.DurationVar(&g.replyTimeout, "reply-timeout", control.DefaultTimeout,
		"how long (`DURATION`, e.g. 2s) a client command waits for a VM to answer each request: connect, request and reply; glue list's default is "+control.ListTimeout.String())
	for _, spec := range fs.specs {
		spec.global = true
	}
}

// changed reports whether the global flag named long was given.
func (g *globals) changed(long string) bool {
	for _, fs := range g.sets {
		if fs.changed(long) {
			return true
		}
	}
	return false
}

// dial returns a client for the VM name in dir that waits at most
// --reply-timeout for each answer.
func (g *globals) dial(dir, name string) (*control.Client, error) {
	if g.replyTimeout <= 0 {
		return nil, usageErrorf("--reply-timeout: %v: want a positive duration, e.g. 5s", g.replyTimeout)
	}
	c, err := control.Dial(dir, name)
	if err != nil {
		return nil, err
	}
	c.Timeout = g.replyTimeout
	return c, nil
}

// dialVM returns a client for the VM name in the runtime directory.
func (g *globals) dialVM(name string) (*control.Client, error) {
	dir, err := g.dir()
	if err != nil {
		return nil, err
	}
	return g.dial(dir, name)
}

// dir resolves the runtime directory that holds the VMs' control sockets.
func (g *globals) dir() (string, error) {
	dir, err := control.RuntimeDir(g.runtimeDir)
	if err != nil {
		return "", usageErrorf("--runtime-dir: %v", err)
	}
	return dir, nil
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case g.verbose >= 2:
		level = slog.LevelDebug
	case g.verbose == 1:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// rootHelp begins `glue help`.
const rootHelp = `glue is a small KVM virtual machine monitor. Each 'glue run' process is one VM,
and serves a control socket that 'glue list', 'pause', 'resume', 'stop',
'console' and 'balloon' talk to; VMs are found by name (-n). Each VM keeps a log of its
lifecycle and how it ended ('glue logs'), and ended VMs stay in
'glue list --all' until 'glue rm'.

Without --kernel, 'glue run' boots glue's own built-in test guest, which reports
the vCPUs, memory and devices it finds.

Exit status: 0 when the guest reset or powered off or the VM was stopped,
1 when the VM failed (the reason is printed on one line), 2 for bad flags
or bad input (files, names, --runtime-dir) in any subcommand.`

// commandTable is glue's subcommands, in the order `glue help` lists them.
func commandTable() []command {
	return []command{
		runCommand(),
		listCommand(),
		consoleCommand(),
		lifecycleCommand("pause", "Pause VMs: stop their vCPUs until resumed", (*control.Client).Pause),
		lifecycleCommand("resume", "Resume paused VMs where they stopped", (*control.Client).Resume),
		stopCommand(),
		logsCommand(),
		rmCommand(),
		balloonCommand(),
	}
}

// processStart is when main began: the origin of --boot-timeline;
// cpuBeforeMain is the CPU time the process had spent by then (exec, the
// Go runtime's start and the package initialisers, on all threads).
var (
	processStart  time.Time
	cpuBeforeMain time.Duration
)

// processCPUTime is the CPU time of all the process's threads so far.
func processCPUTime() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func main() {
	processStart, cpuBeforeMain = time.Now(), processCPUTime()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// SIGHUP (the terminal closed) stops a VM in order too: its socket is
	// removed and the terminal restored, as far as one is left.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	err := execute(ctx, commandTable(), args, os.Stdout)
	if err == nil {
		return exitOK
	}
	var status reportedExit
	if errors.As(err, &status) {
		return int(status)
	}
	err = runtimeDirFlagError(err)
	if !errors.Is(err, errReported) {
		fmt.Fprintf(os.Stderr, "glue: %s\n", userMessage(err))
	}
	return exitStatus(err)
}

// exitStatus is the status glue exits with for err.
func exitStatus(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitVM
}

// runtimeDirFlagError reports a runtime directory that cannot be used as a
// bad --runtime-dir (status 2), whichever command found it.
func runtimeDirFlagError(err error) error {
	var de *control.DirError
	var ue usageError
	if errors.As(err, &de) && !errors.As(err, &ue) {
		return usageErrorf("--runtime-dir: %w", de)
	}
	return err
}

// packagePrefixes are glue's package names as its errors begin with them
// ("loader: open ...", the convention inside the module). They say where
// in glue an error arose, which a user has no use for.
var packagePrefixes = []string{
	"acpi", "aml", "balloon", "blk", "bus", "console", "control", "eventloop", "guestmem",
	"i8042", "jail", "kvm", "loader", "mmio", "pci", "rng", "rtc", "sandbox", "serial",
	"tap", "vconsole", "vcpu", "virtio", "virtiopci", "vmm", "vnet", "vsock", "x86",
}

// userMessage is err's message without glue's package prefixes, at its
// start or after a ": " where a wrapped error begins.
func userMessage(err error) string {
	parts := strings.Split(err.Error(), ": ")
	kept := parts[:0]
	for _, p := range parts {
		if !slices.Contains(packagePrefixes, p) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ": ")
}
