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

	"github.com/spf13/cobra"

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

// globals are the flags every subcommand sees.
type globals struct {
	verbose      int
	runtimeDir   string
	replyTimeout time.Duration
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

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "glue [FLAGS] [SUBCOMMAND]",
		Short: "glue is a small KVM virtual machine monitor",
		Long: `glue is a small KVM virtual machine monitor. Each 'glue run' process is one VM,
and serves a control socket that 'glue list', 'pause', 'resume', 'stop',
'console' and 'balloon' talk to; VMs are found by name (-n). Each VM keeps a log of its
lifecycle and how it ended ('glue logs'), and ended VMs stay in
'glue list --all' until 'glue rm'.

Without --kernel, 'glue run' boots glue's own built-in test guest, which reports
the vCPUs, memory and devices it finds.

Exit status: 0 when the guest reset or powered off or the VM was stopped,
1 when the VM failed (the reason is printed on one line), 2 for bad flags
or bad input (files, names, --runtime-dir) in any subcommand.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// -V prints one line; -V -v adds what this build contains. The
	// template sees the parsed flags, which no cobra hook does before it
	// handles --version.
	root.Annotations = map[string]string{"build": buildDetails()}
	root.SetVersionTemplate(`{{.Version}}` + "\n" + `{{if .Flags.Changed "verbose"}}{{index .Annotations "build"}}{{end}}`)
	root.Flags().BoolP("version", "V", false, "print the version and exit (with -v: the components and build tags)")
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more (repeat for debug output)")
	root.PersistentFlags().StringVar(&g.runtimeDir, "runtime-dir", "",
		"`DIR` of the VMs' control sockets (default $"+control.EnvRuntimeDir+", else $XDG_RUNTIME_DIR/glue, /run/glue for root)")
	root.PersistentFlags().DurationVar(&g.replyTimeout, "reply-timeout", control.DefaultTimeout,
		"how long a client command waits for a VM to answer each request (connect, request and reply; glue list's default is "+control.ListTimeout.String()+"), e.g. 2s")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCommand(g), newListCommand(g), newConsoleCommand(g),
		newLifecycleCommand(g, "pause", "Pause VMs: stop their vCPUs until resumed", (*control.Client).Pause),
		newLifecycleCommand(g, "resume", "Resume paused VMs where they stopped", (*control.Client).Resume),
		newStopCommand(g), newLogsCommand(g), newRmCommand(g), newBalloonCommand(g))
	return root
}

// processStart is when main began: the origin of --boot-timeline.
var processStart time.Time

func main() {
	processStart = time.Now()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// SIGHUP (the terminal closed) stops a VM in order too: its socket is
	// removed and the terminal restored, as far as one is left.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
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
	case errors.As(err, &ue) || isCobraUsageError(err):
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

// isCobraUsageError recognises the argument errors cobra creates itself
// (unknown subcommand, unexpected arguments), which bypass SetFlagErrorFunc.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "invalid argument"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
