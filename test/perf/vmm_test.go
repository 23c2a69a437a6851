package perf

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// vmm is one monitor under test: how to boot the guest ELF with a given
// guest command line and devices.
type vmm struct {
	name string
	path string
	args func(cmdline string, dev devices) []string
	env  []string // added to the benchmark's environment, if any
}

// devices are the virtio devices a boot gives the guest; the zero value
// gives none, and then the command lines are those of the start-up and
// exits benchmarks.
type devices struct {
	disk string // raw image for a virtio-blk device
	tap  string // host tap for a virtio-net device
}

// guestMiB is the guest RAM of every run; the peak-RSS target is stated
// for a 512 MiB guest.
const guestMiB = 512

// The virtio transports a benchmark can put the devices on.
const (
	mmio = "mmio"
	pci  = "pci"
)

// glueVMM runs glue with its devices on transport (mmio or pci) and its
// control sockets in runDir, so that a VM the benchmark kills leaves its
// socket and lock file there.
func glueVMM(bin, elf, runDir, transport string) vmm {
	return vmm{
		name: "glue",
		path: bin,
		args: func(cmdline string, dev devices) []string {
			args := []string{"run", "--runtime-dir", runDir, "-c", "1", "-m", fmt.Sprint(guestMiB), "--transport", transport}
			if dev.disk != "" {
				args = append(args, "-d", dev.disk)
			}
			if dev.tap != "" {
				args = append(args, "--net", "tap="+dev.tap)
			}
			return append(args, "-k", elf, "-p", cmdline)
		},
	}
}

// qemuVMM runs QEMU's microvm with its devices on transport (mmio or pci).
func qemuVMM(bin, elf, transport string) vmm {
	return vmm{
		name: "qemu",
		path: bin,
		args: func(cmdline string, dev devices) []string {
			// -cpu host alone aborts on PVM hosts ("failed to set MSR
			// 0x10a"); rtc=on gives the guest the same RTC glue has.
			machine, kind := "microvm,rtc=on", "device"
			switch {
			case transport == pci:
				// A PCIe root (GPEX) described by ACPI, as glue's PCI
				// is. Devices on its root bus are transitional unless
				// told otherwise; the guest drives modern ones only.
				machine, kind = machine+",pcie=on", "pci,disable-legacy=on"
			case dev != (devices{}):
				// Only without ACPI does microvm put virtio_mmio.device=
				// on the command line, which is how the guest finds its
				// devices in this mode; force-legacy=false makes them
				// virtio 1.x, the only version the guest drives.
				machine += ",acpi=off"
			}
			args := []string{"-M", machine, "-enable-kvm", "-cpu", "host,-arch-capabilities",
				"-m", fmt.Sprintf("%dM", guestMiB), "-smp", "1", "-nographic", "-no-reboot",
				"-kernel", elf, "-append", cmdline}
			if dev != (devices{}) && transport == mmio {
				args = append(args, "-global", "virtio-mmio.force-legacy=false")
			}
			if dev.disk != "" {
				args = append(args, "-drive", "id=d0,file="+dev.disk+",format=raw,if=none,cache=writeback",
					"-device", "virtio-blk-"+kind+",drive=d0")
			}
			if dev.tap != "" {
				args = append(args, "-netdev", "tap,id=n0,ifname="+dev.tap+",script=no,downscript=no",
					"-device", "virtio-net-"+kind+",netdev=n0")
			}
			return args
		},
	}
}

// transport is the virtio transport of both VMMs in the benchmarks other
// than BenchmarkTransports: MMIO, like microvm's default, unless -pci
// asks for PCI on both.
func transport() string {
	if *pciFlag {
		return pci
	}
	return mmio
}

// line is one line of guest output and when its newline reached us.
type line struct {
	text string
	at   time.Duration // since just before the VMM was started
	cpu  time.Duration // the VMM's user+system time then, in 10 ms ticks
}

// trace is what one boot produced.
type trace struct {
	firstByte time.Duration // first byte of guest output read from the pipe
	lines     []line
	end       line          // the line that ended the boot (bootOpts.until)
	ended     bool          // whether it came
	mem       memUse        // when it arrived
	cpu       time.Duration // user+system time of the whole process, until killed
	stderr    string        // all the VMM wrote there (glue's --boot-timeline, its errors)
}

// find returns the first line starting with prefix.
func (t *trace) find(prefix string) (line, bool) {
	for _, l := range t.lines {
		if strings.HasPrefix(l.text, prefix) {
			return l, true
		}
	}
	return line{}, false
}

// guestCmdline is the guest command line for a list of tests. The guest
// halts after GLUE-DONE, so that both VMMs are still alive, with all their
// memory, when the harness reads /proc and then kills them. (The default,
// a reset through the i8042, would end glue but not QEMU's microvm, which
// has no i8042.)
func guestCmdline(tests string) string { return "glue.test=" + tests + " glue.end=halt" }

// bootOpts are what a boot needs besides the guest command line.
type bootOpts struct {
	dev   devices
	netns string // run the VMM in this network namespace (ip netns exec)
	// onLine, if set, sees each line as it arrives, before boot acts on
	// it. It may block (e.g. to ping the guest): the guest's later lines
	// wait in the pipe, and are timestamped late.
	onLine func(line)
	// onStart, if set, is told the VMM's PID once it runs, before any
	// line arrives (for benchmarks that read its /proc themselves).
	onStart func(pid int)
	// until is the text of the line, or a part of it, that ends the
	// boot; "" is the guest's GLUE-DONE.
	until string
	// stop is the signal that ends the VMM then; nil is SIGKILL.
	stop os.Signal
}

// ends reports whether text is the line that ends the boot.
func (o bootOpts) ends(text string) bool {
	if o.until == "" {
		return text == "GLUE-DONE"
	}
	return strings.Contains(text, o.until)
}

// boot runs the VMM on the guest command line until the guest prints
// GLUE-DONE, reads its memory use and kills it, timing every output line.
// (bootWith can end at another line.)
func boot(v vmm, cmdline string, timeout time.Duration) (*trace, error) {
	return bootWith(v, cmdline, bootOpts{}, timeout)
}

// bootWith is boot with devices and the other options.
//
// Stdout is an os.Pipe handed straight to the child (not an io.Writer,
// which would make exec add a copying goroutine and its latency); it is
// read here, and each read is timestamped as it returns, with Go's
// monotonic clock, against a time taken just before fork+exec.
func bootWith(v vmm, cmdline string, o bootOpts, timeout time.Duration) (*trace, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	var stderr bytes.Buffer
	path, args := v.path, v.args(cmdline, o.dev)
	if o.netns != "" {
		// ip execs the VMM in place after entering the namespace, so the
		// child's PID, the one /proc is read for, is the VMM's.
		path, args = "ip", append([]string{"netns", "exec", o.netns, path}, args...)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = pw, &stderr // stdin stays /dev/null
	if v.env != nil {
		cmd.Env = append(os.Environ(), v.env...)
	}

	start := time.Now()
	err = cmd.Start()
	pw.Close() // the child holds the only write end now: EOF when it exits
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.name, err)
	}
	if o.onStart != nil {
		o.onStart(cmd.Process.Pid)
	}
	timer := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	defer timer.Stop()

	tr := &trace{firstByte: -1}
	var procErr error
	tr.read(pr, start, func(l *line) {
		if procErr != nil || tr.ended {
			return // being stopped or killed already
		}
		pid := cmd.Process.Pid
		if l.cpu, procErr = procCPU(pid); procErr == nil && o.onLine != nil {
			o.onLine(*l)
		}
		if procErr == nil && o.ends(l.text) {
			tr.end, tr.ended = *l, true
			tr.mem, procErr = readMem(pid)
		}
		switch {
		case procErr != nil:
			cmd.Process.Kill()
		case tr.ended:
			cmd.Process.Signal(cmp.Or(o.stop, os.Kill))
		}
	})
	werr := cmd.Wait() // "killed", unless it died on its own
	tr.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	tr.stderr = stderr.String()
	if procErr != nil {
		return nil, fmt.Errorf("%s: reading /proc: %w", v.name, procErr)
	}
	if !tr.ended {
		return nil, fmt.Errorf("%s: no %s within %v (%v)\nstdout:\n%s\nstderr:\n%s", v.name, cmp.Or(o.until, "GLUE-DONE"), timeout, werr, tr.output(), stderr.String())
	}
	if l, ok := tr.find("GLUE-FAIL"); ok {
		return nil, fmt.Errorf("%s: guest reported %q", v.name, l.text)
	}
	return tr, nil
}

// read consumes the VMM's stdout until EOF, timestamping each read as it
// returns, and calls onLine for each line as it arrives.
func (t *trace) read(r io.Reader, start time.Time, onLine func(*line)) {
	var partial []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		now := time.Since(start)
		if n > 0 && t.firstByte < 0 {
			t.firstByte = now
		}
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			text := strings.TrimRight(string(partial[:i]), "\r")
			partial = partial[i+1:]
			t.lines = append(t.lines, line{text: text, at: now})
			onLine(&t.lines[len(t.lines)-1])
		}
		if err != nil {
			return // EOF: the VMM has exited (or been killed)
		}
	}
}

func (t *trace) output() string {
	var b strings.Builder
	for _, l := range t.lines {
		fmt.Fprintf(&b, "%8.3fms %s\n", ms(l.at), l.text)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
