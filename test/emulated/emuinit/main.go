// Command emuinit is the init of the emulated machine in which package
// emulated runs the KVM tests of a host without /dev/kvm. It loads KVM
// (kvm_amd: the emulated CPU has SVM) and the 9p modules, mounts the
// host's root file system over virtio-9p, enters it, and runs the job's
// test binaries one after the other, their output as marker lines on the
// second serial port (job.Out). The kernel's console stays on the first.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/gluevmm/glue/test/emulated/job"
	"github.com/gluevmm/glue/test/machineinit"
)

// ModuleDir holds the modules the host put in the initramfs, and
// ModuleDir/order the order to load them in.
const ModuleDir = "/modules"

// HostRoot is where the host's root file system is mounted before the
// init enters it; HostTag is the tag QEMU's -virtfs gives it.
const (
	HostRoot = "/host"
	HostTag  = "hostroot"
)

func main() {
	machineinit.MountKernelFS()
	var out io.Writer = os.Stdout // without ttyS1, the markers go to the console
	if f, err := machineinit.RawSerial("/dev/ttyS1"); err == nil {
		out = f
	}
	if err := run(out); err != nil {
		fmt.Fprintf(out, "%s %v\n", job.Fatal, err)
	}
	machineinit.PowerOff()
}

func run(out io.Writer) error {
	if err := machineinit.LoadModules(ModuleDir, ModuleDir+"/order"); err != nil {
		return err
	}
	if err := enterHost(); err != nil {
		return err
	}
	kvm, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no /dev/kvm after loading the modules (does the CPU model have svm?): %w", err)
	}
	kvm.Close()
	j, err := readJob()
	if err != nil {
		return err
	}
	go monitor(os.Stdout) // the console
	orphans := &reaper{self: os.Getpid()}
	go orphans.watch()
	fmt.Fprintln(out, job.Ready)
	for i, r := range j.Runs {
		fmt.Fprintf(out, "%s %d\n", job.Begin, i)
		code := runTests(out, orphans, i, j.Env, r)
		fmt.Fprintf(out, "%s %d %d\n", job.End, i, code)
	}
	fmt.Fprintln(out, job.Done)
	return nil
}

// enterHost mounts the host's root on HostRoot, job.Mounts inside it, and
// chroots there.
func enterHost() error {
	// cache=loose: nothing on the host changes the files while the
	// machine runs, and every uncached lookup is a 9p round trip.
	if err := syscall.Mount(HostTag, HostRoot, "9p", 0, "trans=virtio,version=9p2000.L,msize=1048576,cache=loose"); err != nil {
		return fmt.Errorf("mount the host's root (9p %s): %w", HostTag, err)
	}
	for _, m := range job.Mounts {
		// A fresh devtmpfs has no pts or shm directory to mount on.
		if err := os.MkdirAll(HostRoot+m.Dir, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.FS, HostRoot+m.Dir, m.FS, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.FS, m.Dir, err)
		}
	}
	if err := syscall.Chroot(HostRoot); err != nil {
		return err
	}
	return os.Chdir("/")
}

// readJob reads the job named on the kernel command line.
func readJob() (job.Job, error) {
	var j job.Job
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return j, err
	}
	path := ""
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, job.Param+"="); ok {
			path = v
		}
	}
	if path == "" {
		return j, fmt.Errorf("no %s= on the kernel command line", job.Param)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return j, err
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return j, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// runTests runs r as orphans' own child, each line of its output a job.Out
// marker, and returns its exit code (-1 where it did not start or was
// killed by a signal).
func runTests(out io.Writer, orphans *reaper, i int, env []string, r job.Run) int {
	cmd := exec.Command(r.Binary, r.Args...)
	cmd.Dir, cmd.Env = r.Dir, env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64<<10), 4<<20)
		for s.Scan() {
			fmt.Fprintf(out, "%s %d %s\n", job.Out, i, s.Text())
		}
		io.Copy(io.Discard, pr) // a line past the buffer: keep the binary unblocked
	}()
	err := orphans.start(cmd)
	if err == nil {
		err = cmd.Wait()
		orphans.finished()
	}
	pw.Close()
	<-done
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			fmt.Fprintf(out, "%s %d %v\n", job.Out, i, err)
		}
	}
	return cmd.ProcessState.ExitCode()
}
