package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluevmm/glue/control"
)

// targetFlags select VMs: -n NAME (repeatable) or --all.
type targetFlags struct {
	names []string
	all   bool
}

func (f *targetFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.names, "name", "n", nil, "`NAME` of the VM (repeatable)")
	cmd.Flags().BoolVar(&f.all, "all", false, "every VM of this user")
}

// resolve returns the names to act on.
func (f *targetFlags) resolve(ctx context.Context, dir string) ([]string, error) {
	switch {
	case f.all && len(f.names) > 0:
		return nil, usageErrorf("--all and --name exclude each other")
	case !f.all && len(f.names) == 0:
		return nil, usageErrorf("--name: which VM? name one with -n NAME, or use --all (glue list shows them)")
	case len(f.names) > 0:
		for _, name := range f.names {
			if err := control.ValidName(name); err != nil {
				return nil, usageErrorf("--name: %w", err)
			}
		}
		return f.names, nil
	}
	entries, err := control.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names, nil
}

// forEach runs op on every selected VM, reporting each failure on its own
// line; it fails if any did.
func forEach(cmd *cobra.Command, g *globals, f *targetFlags, op func(context.Context, *control.Client) error) error {
	dir, err := g.dir()
	if err != nil {
		return err
	}
	names, err := f.resolve(cmd.Context(), dir)
	if err != nil {
		return err
	}
	failed := 0
	for _, name := range names {
		if err := dialAnd(cmd.Context(), dir, name, op); err != nil {
			var de *control.DirError
			if errors.As(err, &de) {
				return err // the same for every VM: say it once
			}
			fmt.Fprintf(os.Stderr, "glue: %s: %s\n", name, userMessage(err))
			failed++
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

func dialAnd(ctx context.Context, dir, name string, op func(context.Context, *control.Client) error) error {
	c, err := control.Dial(dir, name)
	if err != nil {
		return err
	}
	return op(ctx, c)
}

// errReported ends a command with status 1 after its errors were printed.
var errReported = errors.New("")

func newLifecycleCommand(g *globals, use, short string, op func(*control.Client, context.Context) error) *cobra.Command {
	f := &targetFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return forEach(cmd, g, f, func(ctx context.Context, c *control.Client) error { return op(c, ctx) })
		},
	}
	f.add(cmd)
	return cmd
}

// stopWait is how long `glue stop` waits for a VM's process to exit once
// the VM stops; the process gives its vCPUs vmm.StopTimeout, then exits
// anyway.
const stopWait = 15 * time.Second

func newStopCommand(g *globals) *cobra.Command {
	f := &targetFlags{}
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Power VMs off (ACPI power button), stop them, and wait for their processes to exit",
		Long: `Stop VMs: a VM with ACPI first gets its power button pressed and up to
--timeout to shut down and power off (glue list shows it stopping); then,
or at once with --timeout 0 or without ACPI, the vCPUs leave the guest,
devices are flushed, and the 'glue run' process exits with status 0,
removing its socket. stop waits for that; a VM that does not end in time
is reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dir()
			if err != nil {
				return err
			}
			if grace < 0 || grace > control.MaxStopTimeout {
				return usageErrorf("--timeout: %v: want 0 to %v", grace, control.MaxStopTimeout)
			}
			return forEach(cmd, g, f, func(ctx context.Context, c *control.Client) error {
				if err := c.Stop(ctx, grace); err != nil {
					return err
				}
				return waitGone(ctx, dir, c.Name(), grace+stopWait)
			})
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&grace, "timeout", control.DefaultStopTimeout, "how long the guest has to power off after the power button, e.g. 30s; 0 stops at once")
	return cmd
}

// waitGone polls until the VM no longer answers: its process has exited
// and released its name.
func waitGone(ctx context.Context, dir, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := control.Dial(dir, name)
		if errors.Is(err, control.ErrNotRunning) {
			return nil
		}
		if err == nil {
			c.Info(ctx) // still there; keep waiting
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still running %v after the stop request", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
