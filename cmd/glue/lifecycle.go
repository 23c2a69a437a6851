package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gluevmm/glue/control"
)

// targetFlags select VMs: -n NAME (repeatable) or --all.
type targetFlags struct {
	names []string
	all   bool
}

func (f *targetFlags) add(fl *flagSet) {
	fl.ListVar(&f.names, "name", "n", "`NAME` of the VM (repeatable)")
	fl.BoolVar(&f.all, "all", "", "every VM of this user")
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
func forEach(ctx context.Context, g *globals, f *targetFlags, op func(context.Context, *control.Client) error) error {
	dir, err := g.dir()
	if err != nil {
		return err
	}
	names, err := f.resolve(ctx, dir)
	if err != nil {
		return err
	}
	failed := 0
	for _, name := range names {
		if err := dialAnd(ctx, g, dir, name, op); err != nil {
			var de *control.DirError
			var ue usageError
			if errors.As(err, &de) || errors.As(err, &ue) {
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

func dialAnd(ctx context.Context, g *globals, dir, name string, op func(context.Context, *control.Client) error) error {
	c, err := g.dial(dir, name)
	if err != nil {
		return err
	}
	return op(ctx, c)
}

// errReported ends a command with status 1 after its errors were printed.
var errReported = errors.New("")

func lifecycleCommand(name, summary string, op func(*control.Client, context.Context) error) command {
	return command{
		name:    name,
		args:    "(-n NAME ... | --all)",
		summary: summary,
		setup: func(fl *flagSet, g *globals) func(context.Context) error {
			f := &targetFlags{}
			f.add(fl)
			return func(ctx context.Context) error {
				return forEach(ctx, g, f, func(ctx context.Context, c *control.Client) error { return op(c, ctx) })
			}
		},
	}
}

// stopWait is how long `glue stop` waits for a VM's process to exit once
// the VM stops; the process gives its vCPUs vmm.StopTimeout, then exits
// anyway.
const stopWait = 15 * time.Second

// killWait is how long `glue stop --force` waits for a killed process to
// exit; SIGKILL is not delayed by anything the process does.
const killWait = 10 * time.Second

func stopCommand() command {
	return command{
		name:    "stop",
		args:    "(-n NAME ... | --all) [--timeout DURATION] [--force]",
		summary: "Power VMs off (ACPI power button), stop them, and wait for their processes to exit",
		long: `Stop VMs: a VM with ACPI first gets its power button pressed and up to
--timeout to shut down and power off (glue list shows it stopping); then,
or at once with --timeout 0 or without ACPI, the vCPUs leave the guest,
devices are flushed, and the 'glue run' process exits with status 0,
removing its socket. stop waits for that; a VM that does not end in time
is reported.

A VM that does not answer within --reply-timeout (its process stopped or
wedged) is reported with status 1. With --force, stop then ends such a VM,
or one still running --timeout plus ` + stopWait.String() + ` after it accepted
the stop, by SIGKILL to the pid in its lock file, after checking that this
process still holds the VM's lock (so it is that VM, never a process that
reused its pid); its socket is removed and its end recorded in its log.`,
		example: `  glue stop -n web
  glue stop -n web --timeout 0
  glue stop -n wedged --force --reply-timeout 2s`,
		setup: setupStop,
	}
}

func setupStop(fl *flagSet, g *globals) func(context.Context) error {
	f := &targetFlags{}
	var grace time.Duration
	var force bool
	f.add(fl)
	fl.DurationVar(&grace, "timeout", control.DefaultStopTimeout, "how long (`DURATION`) the guest has to power off after the power button, e.g. 30s; 0 stops at once")
	fl.BoolVar(&force, "force", "", "end a VM that does not answer, or does not end in time, by SIGKILL to its recorded pid (checked against its lock)")
	return func(ctx context.Context) error {
		dir, err := g.dir()
		if err != nil {
			return err
		}
		if grace < 0 || grace > control.MaxStopTimeout {
			return usageErrorf("--timeout: %v: want 0 to %v", grace, control.MaxStopTimeout)
		}
		return forEach(ctx, g, f, func(ctx context.Context, c *control.Client) error {
			err := c.Stop(ctx, grace)
			if err == nil {
				err = waitGone(ctx, g, dir, c.Name(), grace+stopWait)
			}
			var na *control.NoAnswerError
			var still errStillRunning
			switch {
			case err == nil:
				return nil
			case force && (errors.As(err, &na) || errors.As(err, &still)):
				return forceStop(dir, c.Name(), err)
			case errors.As(err, &na) || errors.As(err, &still):
				return fmt.Errorf("%w (glue stop --force ends its process)", err)
			}
			return err
		})
	}
}

// forceStop kills a VM that did not stop on request (why), and records
// that as its end.
func forceStop(dir, name string, why error) error {
	pid, err := control.Kill(dir, name, killWait)
	if errors.Is(err, control.ErrNotRunning) {
		return nil // it ended on its own meanwhile
	}
	if err != nil {
		return fmt.Errorf("%s; --force: %w", userMessage(why), err)
	}
	reason := fmt.Sprintf("killed by glue stop --force (pid %d): %s", pid, userMessage(why))
	if err := control.RecordKill(dir, name, pid, reason); err != nil {
		return fmt.Errorf("%s; and its end could not be recorded: %w", reason, err)
	}
	fmt.Fprintf(os.Stderr, "glue: %s: %s\n", name, reason)
	return nil
}

// errStillRunning is a VM that accepted a stop but did not end in time.
type errStillRunning struct{ wait time.Duration }

func (e errStillRunning) Error() string {
	return fmt.Sprintf("still running %v after the stop request", e.wait)
}

// waitGone polls until the VM no longer answers: its process has exited
// and released its name.
func waitGone(ctx context.Context, g *globals, dir, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := g.dial(dir, name)
		if errors.Is(err, control.ErrNotRunning) {
			return nil
		}
		if err == nil {
			c.Info(ctx) // still there; keep waiting
		}
		if time.Now().After(deadline) {
			return errStillRunning{timeout}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
