package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/gluevmm/glue/console"
	"github.com/gluevmm/glue/control"
)

func consoleCommand() command {
	return command{
		name:    "console",
		args:    "-n NAME [-f]",
		summary: "Attach this terminal to a VM's serial console",
		long: `Attach this terminal to a running VM's serial console: its recent output
first, then live output; what you type goes to the guest. Ctrl-a x detaches
and leaves the VM running (Ctrl-a Ctrl-a sends a Ctrl-a). One terminal at a
time may be attached. Stdin that ends (a file, /dev/null) detaches once the
recent output is printed.

With --follow (-f), like tail -f, glue console only prints: it never reads
stdin, leaves the terminal as it is, and ends when the VM ends (status 0,
also when it has already ended or ends while this attaches), or on
Ctrl-C / SIGTERM, which leave the VM running. For scripts and logs.`,
		example: `  glue console -n web
  glue console -n web --follow > web.log`,
		setup: setupConsole,
	}
}

func setupConsole(fl *flagSet, g *globals) func(context.Context) error {
	var name string
	var follow bool
	fl.StringVar(&name, "name", "n", "", "`NAME` of the VM")
	fl.BoolVar(&follow, "follow", "f", "only print the console's output, until the VM ends; never read stdin")
	return func(ctx context.Context) error {
		if err := requireName(name, "glue list"); err != nil {
			return err
		}
		if follow {
			return followVM(ctx, g, name)
		}
		c, err := g.dialVM(name)
		if err != nil {
			return err
		}
		conn, err := c.Console(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		restore, err := console.RawTerminal(int(os.Stdin.Fd()))
		if err != nil {
			return err
		}
		defer restore()
		fmt.Fprintf(os.Stderr, "glue: attached to %s; Ctrl-a x detaches\r\n", name)
		return attach(conn)
	}
}

// followAttempts bounds how often --follow attaches again after the VM cut
// it off: a VM that ends closes its clients, then its socket, then gives
// its name up, so a few tries apart see it gone.
const (
	followAttempts = 10
	followRetry    = 10 * time.Millisecond
)

// followVM attaches to name's console and copies it out until the VM
// ends. A VM that has ended, or ends while this attaches (it refuses,
// resets or hangs up on the request, then gives its name up), leaves
// nothing to follow: status 0.
func followVM(ctx context.Context, g *globals, name string) error {
	for attempt := 1; ; attempt++ {
		c, err := g.dialVM(name)
		if errors.Is(err, control.ErrNotRunning) && hasEnded(g, name) {
			return nil
		}
		if err != nil {
			return err
		}
		conn, err := c.Console(ctx)
		if err == nil {
			defer conn.Close()
			return followConsole(ctx, conn)
		}
		if !cutOff(err) || attempt == followAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(followRetry)
	}
}

// cutOff reports whether attaching failed because the VM's server went
// away under the request, as it does when the VM ends.
func cutOff(err error) bool {
	return errors.Is(err, control.ErrNotRunning) || errors.Is(err, control.ErrHungUp) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// hasEnded reports whether name is a VM that ran and has ended: it does
// not answer, but left its record (glue list --all shows it). A name that
// never ran has no record.
func hasEnded(g *globals, name string) bool {
	dir, err := g.dir()
	if err != nil {
		return false
	}
	_, err = control.ReadRecord(dir, name)
	return err == nil
}

// followConsole copies the console to stdout until it ends (the VM ended:
// status 0) or ctx does (a signal: the VM keeps running, also status 0).
func followConsole(ctx context.Context, conn io.ReadWriteCloser) error {
	// Closing the stream is what ends the copy when ctx does.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_, err := io.Copy(os.Stdout, conn)
	// A reset, like EOF, is the VM's process going away: the VM ended.
	if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return err
}

// attach copies the console to stdout and stdin (through the escape
// filter) to the console, until the VM ends or the user detaches. Stdin
// that ends (a file, /dev/null) detaches too, but only once what the VM
// had for this client, its history first, is printed.
func attach(conn *control.ConsoleStream) error {
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(os.Stdout, conn)
		outDone <- err
	}()
	detached := make(chan struct{})
	go func() {
		var esc console.Escape
		buf := make([]byte, 256)
		for {
			n, err := os.Stdin.Read(buf)
			data, quit := esc.Filter(buf[:n])
			if len(data) > 0 {
				if _, werr := conn.Write(data); werr != nil {
					return
				}
			}
			if quit {
				close(detached)
				return
			}
			if err != nil {
				conn.CloseWrite() // the output ends after what was queued
				return
			}
		}
	}()
	select {
	case err := <-outDone: // the VM ended, or the console after stdin did
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	case <-detached:
		return nil
	}
}
