package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/control"
)

// endingVM holds a VM name in dir the way a glue run does (the name's lock
// and a record), with a socket whose server the test drives by hand, to
// stage the ways a VM's end can meet a client that attaches.
type endingVM struct {
	t        *testing.T
	sock     string
	lockFile *os.File
	ln       net.Listener
}

func newEndingVM(t *testing.T, dir, name string) *endingVM {
	t.Helper()
	rec, err := control.CreateRecord(dir, name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Finish(0, "test"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f.WriteString(strconv.Itoa(os.Getpid()))
	vm := &endingVM{t: t, sock: filepath.Join(dir, name+".sock"), lockFile: f}
	if vm.ln, err = net.Listen("unix", vm.sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.end)
	return vm
}

// end closes the socket and gives the name up, as a VM's process does last.
func (vm *endingVM) end() {
	vm.ln.Close()
	os.Remove(vm.sock)
	os.Remove(vm.lockFile.Name())
	vm.lockFile.Close()
}

// followIn runs `glue console -n name -f` against dir.
func followIn(dir, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return execute(ctx, []command{consoleCommand()}, []string{"--runtime-dir", dir, "console", "-n", name, "-f"}, io.Discard)
}

func runtimeDirForTest(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := control.EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A VM that ends while `glue console -f` attaches leaves nothing to
// follow: status 0, however its end met the request.
func TestFollowAVMThatEndsWhileAttaching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		serve func(vm *endingVM)
	}{
		{"hangs up after reading the request", func(vm *endingVM) {
			c, err := vm.ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Close()
			vm.end()
		}},
		{"closes before reading the request", func(vm *endingVM) {
			c, err := vm.ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			vm.end()
		}},
		{"has closed its socket, not yet given its name up", func(vm *endingVM) {
			vm.ln.Close()
			time.Sleep(50 * time.Millisecond)
			vm.end()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := runtimeDirForTest(t)
			vm := newEndingVM(t, dir, "ends")
			go tc.serve(vm)
			if err := followIn(dir, "ends"); err != nil {
				t.Fatalf("glue console -f: %v, want status 0", err)
			}
		})
	}
}

// A VM that stays up but hangs up on every request is an error, not an
// end: --follow tries again a few times, then says so.
func TestFollowAVMThatHangsUpButRuns(t *testing.T) {
	t.Parallel()
	dir := runtimeDirForTest(t)
	vm := newEndingVM(t, dir, "rude")
	go func() {
		for {
			c, err := vm.ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	err := followIn(dir, "rude")
	if err == nil || !strings.Contains(err.Error(), "without replying") {
		t.Fatalf("glue console -f of a live VM that hangs up: %v, want the hang-up reported", err)
	}
}
