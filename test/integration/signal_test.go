package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's two ends, closed when the test ends.
func openPTY(t *testing.T) (master, terminal *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("a pseudo-terminal for the test: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminal.Close() })
	return master, terminal
}

func termMode(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

// signalRun is a foreground `glue run` with a terminal as stdin (which glue
// puts in raw mode) and stdout as a pipe the test reads.
type signalRun struct {
	cmd      *exec.Cmd
	terminal *os.File
	before   unix.Termios
	stdout   *bufio.Reader
	stdoutR  *os.File
	dir      string
}

func startSignalRun(t *testing.T, name string) *signalRun {
	t.Helper()
	_, terminal := openPTY(t)
	r := &signalRun{terminal: terminal, before: termMode(t, terminal), dir: vmDir(t)}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.stdoutR, r.stdout = pr, bufio.NewReader(pr)
	r.cmd = exec.Command(glueBin, "--runtime-dir", r.dir, "run", "-n", name, "-m", "32", "-p", "glue.test=counter")
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = terminal, pw, os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	return r
}

// readCount reads stdout up to the first counter line.
func (r *signalRun) readCount(t *testing.T) {
	t.Helper()
	for {
		line, err := r.stdout.ReadString('\n')
		if err != nil {
			t.Fatalf("stdout ended before a counter line: %v", err)
		}
		if strings.HasPrefix(line, "GLUE-COUNT ") {
			return
		}
	}
}

// checkOrderlyEnd checks that glue exited 0, put the terminal back as it
// found it, removed its socket and lock, and logged why it ended.
func (r *signalRun) checkOrderlyEnd(t *testing.T, name, reason string) {
	t.Helper()
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("glue run: %v, want exit 0", err)
	}
	if after := termMode(t, r.terminal); after != r.before {
		t.Errorf("terminal mode not restored:\nbefore %+v\nafter  %+v", r.before, after)
	}
	for _, f := range []string{name + ".sock", name + ".lock"} {
		if _, err := os.Stat(filepath.Join(r.dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", f, err)
		}
	}
	if last := lastLine(glueIn(t, r.dir, "logs", "-n", name)); !strings.Contains(last, "status=0") || !strings.Contains(last, reason) {
		t.Errorf("log ends %q, want status 0 and %q", last, reason)
	}
}

// SIGHUP (the terminal closed) stops the VM in order.
func TestSignalHangupStopsInOrder(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	r := startSignalRun(t, "hup")
	r.readCount(t)
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.checkOrderlyEnd(t, "hup", "hangup")
}

// glue run | head -3: once stdout's reader is gone, the VM stops in order
// (documented choice) instead of SIGPIPE killing glue with the terminal
// raw and its socket left.
func TestSignalClosedStdoutStopsInOrder(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	r := startSignalRun(t, "piped")
	r.readCount(t)
	r.stdoutR.Close() // what head does after its lines
	r.checkOrderlyEnd(t, "piped", "stdout was closed")
}

// SIGTERM while the kernel loads (a Debian bzImage, whose xz payload takes
// seconds to decompress here) ends glue like a later stop: status 0, no
// "context canceled"; the decompression is abandoned, so the kernel is
// never reported loaded.
func TestSignalTermDuringKernelLoading(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	dir := vmDir(t)
	s := startGlue(t, "--runtime-dir", dir, "-vv", "run", "-n", "early", "-k", kernel, "-m", "256", "-p", "console=ttyS0")
	s.waitFor(`step="write ACPI tables"`, time.Minute) // the step before loading
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM during loading, want 0:\n%s", code, s.output())
	}
	out := s.output()
	if strings.Contains(out, "context canceled") || strings.Contains(out, `msg="kernel loaded"`) {
		t.Errorf("glue reported a failure or finished loading:\n%s", out)
	}
	if last := lastLine(glueIn(t, dir, "logs", "-n", "early")); !strings.Contains(last, "stopped during start-up") {
		t.Errorf("log ends %q, want a stop during start-up", last)
	}
}
