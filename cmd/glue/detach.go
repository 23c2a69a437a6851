package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/gluevmm/glue/control"
)

// `glue run --detach` starts the same command again as a child in its own
// session, with no terminal, and waits on a pipe for the child to say that
// the VM runs ("ok NAME") or why it could not start ("error CODE MESSAGE").
// The child finds the pipe as fd 3 through detachedEnv.

const detachedEnv = "GLUE_DETACHED_STATUS_FD"

// startDetached is the parent's side.
func startDetached(f *runFlags) error {
	name := f.name
	if name == "" {
		name = control.GenerateName()
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer r.Close()
	// The child gets the same command line (flags can follow `run` in any
	// order), plus the name chosen here so that it can be printed.
	args := os.Args[1:]
	if f.name == "" {
		args = append(args, "--name", name)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), detachedEnv+"=3")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("detach: start: %w", err)
	}
	w.Close()
	cmd.Process.Release()

	line, _ := bufio.NewReader(r).ReadString('\n')
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch word {
	case "ok":
		fmt.Println(rest)
		return nil
	case "error":
		code, msg, _ := strings.Cut(rest, " ")
		if code == strconv.Itoa(exitUsage) {
			return usageErrorf("%s", msg)
		}
		return errors.New(msg)
	}
	return errors.New("detach: the VM process exited before its VM ran")
}

// detachStatus is the child's side: the pipe to the waiting parent.
type detachStatus struct{ f *os.File }

// detachedStatus returns the status pipe when this process is the child
// of --detach, and nil otherwise.
func detachedStatus() *detachStatus {
	fd, err := strconv.Atoi(os.Getenv(detachedEnv))
	if err != nil {
		return nil
	}
	os.Unsetenv(detachedEnv)
	return &detachStatus{os.NewFile(uintptr(fd), "detach-status")}
}

// ready tells the parent the VM runs. A nil status (not detached) ignores it.
func (s *detachStatus) ready(name string) {
	if s == nil || s.f == nil {
		return
	}
	fmt.Fprintf(s.f, "ok %s\n", name)
	s.f.Close()
	s.f = nil
}

// fail tells the parent why the VM did not start; after ready it does
// nothing (the parent has gone).
func (s *detachStatus) fail(err error) {
	if s.f == nil {
		return
	}
	code := exitVM
	var ue usageError
	if errors.As(err, &ue) {
		code = exitUsage
	}
	fmt.Fprintf(s.f, "error %d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
	s.f.Close()
	s.f = nil
}
