package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gluevmm/glue/control"
)

func logsCommand() command {
	return command{
		name:    "logs",
		args:    "-n NAME",
		summary: "Print a VM's log: its lifecycle and how it ended",
		long: `Print the log of a VM that runs or ran: the rotated part (FILE.1) first,
then the current file. Its last line, once the VM has ended, gives the exit
status and the reason. The log is the one glue run --log named, by default
NAME.log in the runtime directory.`,
		example: `  glue logs -n web`,
		setup:   setupLogs,
	}
}

func setupLogs(fl *flagSet, g *globals) func(context.Context) error {
	var name string
	fl.StringVar(&name, "name", "n", "", "`NAME` of the VM")
	return func(context.Context) error {
		if err := refuseEmpty(fl, "name"); err != nil {
			return err
		}
		if err := requireName(name, "glue list --all"); err != nil {
			return err
		}
		dir, err := g.dir()
		if err != nil {
			return err
		}
		rec, err := control.ReadRecord(dir, name)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no VM named %q ran in %s (or glue rm removed it)", name, dir)
		}
		if err != nil {
			return err
		}
		if rec.Log == "" {
			return fmt.Errorf("VM %q has no log", name)
		}
		return printLog(os.Stdout, rec.Log)
	}
}

// printLog copies the rotated log, if any, then the log itself to w.
func printLog(w io.Writer, path string) error {
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return err
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	}
	return nil
}

func rmCommand() command {
	return command{
		name:    "rm",
		args:    "(-n NAME ... | --all)",
		summary: "Remove what ended VMs left: their record and default log",
		long: `Remove ended VMs from glue list --all: their record and, if it is the
default one in the runtime directory, their log (a --log FILE elsewhere is
left alone). A running VM is refused; stop it first. With --all, every
ended VM is removed.`,
		example: `  glue rm -n web
  glue rm --all`,
		setup: setupRm,
	}
}

func setupRm(fl *flagSet, g *globals) func(context.Context) error {
	var names []string
	var all bool
	fl.ListVar(&names, "name", "n", "`NAME` of the VM (repeatable)")
	fl.BoolVar(&all, "all", "", "every ended VM")
	return func(context.Context) error {
		dir, err := g.dir()
		if err != nil {
			return err
		}
		switch {
		case all && len(names) > 0:
			return usageErrorf("--all and --name exclude each other")
		case !all && len(names) == 0:
			return usageErrorf("--name: which VM? name one with -n NAME, or use --all (glue list --all shows them)")
		case all:
			ended, err := control.Ended(dir)
			if err != nil {
				return err
			}
			for _, r := range ended {
				names = append(names, r.Name)
			}
		}
		for _, n := range names {
			if err := control.ValidName(n); err != nil {
				return usageErrorf("--name: %w", err)
			}
		}
		failed := false
		for _, n := range names {
			if err := control.Remove(dir, n); err != nil {
				fmt.Fprintf(os.Stderr, "glue: %s: %s\n", n, userMessage(err))
				failed = true
			}
		}
		if failed {
			return errReported
		}
		return nil
	}
}

// requireName checks a -n NAME given to a command about one VM; lister is
// the command that shows the names it takes.
func requireName(name, lister string) error {
	if name == "" {
		return usageErrorf("--name: which VM? name one with -n NAME (%s shows them)", lister)
	}
	if err := control.ValidName(name); err != nil {
		return usageErrorf("--name: %w", err)
	}
	return nil
}
