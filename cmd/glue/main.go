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
	"syscall"

	"github.com/spf13/cobra"
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
	verbose int
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
		Long: `glue is a small KVM virtual machine monitor. Each 'glue run' process is one VM.

Without --kernel, 'glue run' boots glue's own built-in test guest, which reports
the vCPUs, memory and devices it finds.

Exit status: 0 when the guest reset or powered off or the VM was stopped,
1 when the VM failed (the reason is printed on one line), 2 for bad flags.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().BoolP("version", "V", false, "print the version and exit")
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more (repeat for debug output)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCommand(g))
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "glue: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return exitUsage
	}
	return exitVM
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
