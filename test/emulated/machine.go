package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gluevmm/glue/test/emulated/job"
	"github.com/gluevmm/glue/test/initramfs"
	"github.com/gluevmm/glue/test/nested"
)

// modules are what the init loads: KVM, 9p over virtio-pci for the host's
// root, tun for the network tests' taps. Resolve adds their dependencies.
var modules = []string{"virtio_pci", "9pnet_virtio", "9p", "kvm", "kvm_amd", "tun"}

// writeInitramfs writes the machine's initramfs to path: the init and the
// modules of kernel's package, uncompressed (QEMU hands it over in memory;
// decompressing under emulation would cost more than it saves).
func writeInitramfs(ctx context.Context, dir, kernel, path string) error {
	modDir, err := initramfs.ModulesDir(kernel)
	if err != nil {
		return err
	}
	mods, err := initramfs.Resolve(modDir, modules...)
	if err != nil {
		return err
	}
	initBin := dir + "/emuinit"
	if err := nested.BuildStatic(ctx, "github.com/gluevmm/glue/test/emulated/emuinit", initBin); err != nil {
		return err
	}
	initImage, err := os.ReadFile(initBin)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := initramfs.NewWriter(f)
	var firstErr error
	add := func(err error) {
		if firstErr == nil && err != nil {
			firstErr = fmt.Errorf("emulated: initramfs: %w", err)
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "host", "modules"} {
		add(w.AddDir(d, 0o755))
	}
	add(w.AddCharDevice("dev/console", 0o600, 5, 1))
	add(w.AddFile("init", 0o755, initImage))
	var order []string
	for _, m := range mods {
		add(w.AddFile("modules/"+m.Name+".ko", 0o644, m.Data))
		order = append(order, m.Name)
	}
	add(w.AddFile("modules/order", 0o644, []byte(strings.Join(order, "\n")+"\n")))
	add(w.Close())
	if firstErr != nil {
		return firstErr
	}
	return f.Close()
}

// machine is QEMU's TCG emulating an AMD CPU with SVM, the host's root
// file system shared read-write over virtio-9p.
type machine struct {
	qemu, kernel, initrd string
	cpus, memMiB         int
	console              string // the kernel's console (ttyS0) goes here
	// quiet is how long the init may send no marker before the machine
	// counts as wedged; once the console reports a soft lockup,
	// nested.LockupQuiet.
	quiet time.Duration
}

func (m machine) args(jobPath string) []string {
	return []string{"-accel", "tcg,thread=multi", "-cpu", "EPYC,+svm", "-smp", strconv.Itoa(m.cpus), "-m", strconv.Itoa(m.memMiB),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-serial", "file:" + m.console, "-serial", "stdio",
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,multidevs=remap",
		"-kernel", m.kernel, "-initrd", m.initrd,
		"-append", nested.OuterParams + " " + job.Param + "=" + jobPath}
}

// bootResult is how one boot ended.
type bootResult struct {
	ready, done bool
	wedged      bool   // killed: no marker for too long
	fatal       string // the init's EMU-FATAL
	err         error  // QEMU's own failure
}

// boot runs the machine on jobPath until it powers off, ctx ends, or it
// wedges; line gets every marker line as it comes.
func (m machine) boot(ctx context.Context, jobPath string, line func(string)) bootResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.qemu, m.args(jobPath)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return bootResult{err: err}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return bootResult{err: err}
	}
	watchdog := nested.Watch(ctx, cancel, m.quiet, m.console)
	var r bootResult
	s := bufio.NewScanner(stdout)
	s.Buffer(make([]byte, 64<<10), 8<<20)
	for s.Scan() {
		l := strings.TrimRight(s.Text(), "\r")
		watchdog.Marker()
		switch word, rest, _ := strings.Cut(l, " "); word {
		case job.Ready:
			r.ready = true
		case job.Done:
			r.done = true
		case job.Fatal:
			r.fatal = rest
		}
		line(l)
	}
	err = cmd.Wait()
	cancel()
	r.wedged = watchdog.Wedged()
	if err != nil && !r.wedged && !r.done {
		r.err = fmt.Errorf("%s: %w: %s", m.qemu, err, strings.TrimSpace(stderr.String()))
	}
	return r
}
