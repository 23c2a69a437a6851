// Command init is PID 1 of the initramfs that the hardware-KVM tests in
// test/integration boot Debian's kernel into. It checks what a full boot
// gives userspace — the mounts, the command line, the boot parameters
// (which entry path ran), CPUs, memory, the RTC, the kernel modules it
// carries, and then glue's virtio devices through Linux's own drivers —
// and reports each check on the console as
//
//	GLUE-OK init <check> <details>
//	GLUE-FAIL init <check> <reason>
//
// ending with GLUE-DONE, after which it ends as glue.hw.end says (see
// finish).
//
// It is static, uses only the standard library and golang.org/x/sys, and
// takes its orders from the kernel command line:
//
//	glue.hw=blk,rootfs,rng,net,hvc0   device checks to run, in this order;
//	                                  payload checks the initramfs's /payload;
//	                                  fsync, rootrw, rootro the ext4 disk of root=
//	                                  (disk.go), tcp a transfer with the peer,
//	                                  vsock both ways to the host, balloon,
//	                                  intx how virtio interrupts arrive,
//	                                  blkperf sequential O_DIRECT write and read
//	                                  MiB/s of the first virtio disk (blkperf.go),
//	                                  hold waits for a line from the host (hold.go)
//	glue.hw.end=reset                 after GLUE-DONE: reset (default), poweroff,
//	                                  tick (print GLUE-TICK N lines until stopped),
//	                                  or button (power off on the ACPI power button)
//	glue.hw.tcp=MiB                   the tcp check's size from the peer (default 64)
//	glue.hw.tcp.up=KiB                and to the peer (default 1024)
//	glue.hw.vsock.up=KiB              what the vsock check sends the host (default 256)
//	glue.hw.balloon=MiB               the balloon target the host sets
//	glue.hw.blkperf.mib=MiB           what blkperf writes and reads (default 32)
//	glue.hw.token=STRING              echoed by the cmdline check; the disk marker
//	glue.hw.rootfs=vdb                the ext4 disk the rootfs check mounts (default vda)
//	glue.hw.ip=192.0.2.2/24           the guest's address for the net check
//	glue.hw.peer=192.0.2.1            the host it pings
//	glue.hw.virtio=N                  virtio devices to expect (default: those on the command line)
//
// Build it with test/initramfs.BuildInit; nothing else in the repository
// runs it.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

func main() {
	r := &report{out: os.Stdout}
	mountAll(r)
	params := kernelParams(r)

	r.check("pid1", func() (string, error) {
		if pid := os.Getpid(); pid != 1 {
			return "", fmt.Errorf("running as pid %d", pid)
		}
		return "pid=1", nil
	})
	r.check("cmdline", func() (string, error) { return cmdlineCheck(params) })
	r.check("boot", bootCheck)
	r.check("cpus", cpusCheck)
	r.check("mem", memCheck)
	r.check("rtc", rtcCheck)
	loadModules(r, params)
	r.check("virtio", func() (string, error) { return virtioCheck(params) })

	checks := map[string]func(*report, map[string]string){
		"blk": blkCheck, "rootfs": rootfsCheck, "rng": rngCheck, "net": netCheck, "hvc0": hvc0Check,
		"payload": payloadCheck, "fsync": fsyncCheck, "rootrw": rootrwCheck, "rootro": rootroCheck, "tcp": tcpCheck,
		"intx": intxCheck, "vsock": vsockCheck, "balloon": balloonCheck,
		"blkperf": blkperfCheck, "hold": holdCheck,
	}
	for _, name := range strings.Split(params["glue.hw"], ",") {
		if name == "" {
			continue
		}
		if run, ok := checks[name]; ok {
			run(r, params)
		} else {
			r.fail(name, "unknown check in glue.hw")
		}
	}
	finish(r, params["glue.hw.end"])
}

// report writes the markers. Each marker is one write, so a line reaches
// the serial port whole even if the kernel prints at the same time.
type report struct {
	out       io.Writer
	ok, fails int
}

func (r *report) line(format string, args ...any) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

func (r *report) pass(check, details string) {
	r.ok++
	r.line("GLUE-OK init %s %s", check, details)
}

func (r *report) fail(check string, format string, args ...any) {
	r.fails++
	r.line("GLUE-FAIL init %s %s", check, fmt.Sprintf(format, args...))
}

// check runs one check and reports its result.
func (r *report) check(name string, f func() (string, error)) {
	details, err := f()
	if err != nil {
		r.fail(name, "%v", err)
		return
	}
	r.pass(name, details)
}

// mountAll mounts what the checks read. The kernel has already opened
// /dev/console from the initramfs as stdin, stdout and stderr; devtmpfs
// then hides that node, which does not matter to open descriptors. If the
// archive had no console node the markers go to a freshly opened one.
func mountAll(r *report) {
	var mounted []string
	var errs []string
	for _, m := range []struct{ fs, dir string }{{"proc", "/proc"}, {"sysfs", "/sys"}, {"devtmpfs", "/dev"}} {
		os.Mkdir(m.dir, 0o755)
		if err := syscall.Mount(m.fs, m.dir, m.fs, 0, ""); err != nil {
			errs = append(errs, fmt.Sprintf("%s on %s: %v", m.fs, m.dir, err))
			continue
		}
		mounted = append(mounted, m.fs)
	}
	var st syscall.Stat_t
	if syscall.Fstat(1, &st) != nil {
		if f, err := os.OpenFile("/dev/console", os.O_WRONLY|syscall.O_NOCTTY, 0); err == nil {
			r.out = f
		}
	}
	// The kernel's own messages would otherwise interleave with the
	// markers on the same serial port; from here on only emergencies
	// (panics) print. finish dumps the kernel log if anything failed.
	os.WriteFile("/proc/sys/kernel/printk", []byte("1"), 0)
	if len(errs) > 0 {
		r.fail("mounts", "%s", strings.Join(errs, "; "))
		return
	}
	r.pass("mounts", strings.Join(mounted, ","))
}

// finish reports the totals and ends init as end says:
//
//   - "reset" or "": reset the machine, through the keyboard controller
//     with reboot=k on the command line; glue ends with status 0.
//   - "poweroff": ask the kernel to power off, which it does through
//     ACPI's S5 ("reboot: Power down"); glue ends with status 0. Should
//     the call return, init exits and panic=-1 resets.
//   - "tick": print GLUE-TICK 1, 2, ... every tickInterval until the VM is
//     stopped, so a test can watch output stop while the VM is paused.
//   - "button": wait for the ACPI power button (glue stop), then power
//     off as "poweroff" does.
//
// On success it never returns; if the reboot call fails, init exits, the
// kernel panics and panic=-1 resets instead — the GLUE-FAIL line still
// tells the test.
func finish(r *report, end string) {
	if r.fails > 0 {
		dumpKernelLog(r)
	}
	r.line("GLUE-DONE init ok=%d failed=%d", r.ok, r.fails)
	syscall.Sync()
	switch end {
	case "", "reset":
		err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_RESTART)
		r.fail("reset", "reboot(RESTART): %v", err)
	case "poweroff":
		err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
		r.fail("poweroff", "reboot(POWER_OFF): %v", err)
	case "button":
		awaitPowerButton(r)
	case "tick":
		for n := 1; ; n++ {
			r.line("GLUE-TICK %d", n)
			time.Sleep(tickInterval)
		}
	default:
		r.fail("end", "unknown glue.hw.end=%q", end)
	}
	time.Sleep(time.Second)
}

// tickInterval spaces the GLUE-TICK lines: often enough that a paused VM's
// silence shows within a second or two, rarely enough not to flood a slow
// serial port.
const tickInterval = 250 * time.Millisecond

// dumpKernelLog prints the kernel's log buffer, which the console no longer
// shows, so a failed check can be diagnosed from the test's output alone.
func dumpKernelLog(r *report) {
	const readAll, sizeBuffer = 3, 10 // SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_SIZE_BUFFER
	size, err := syscall.Klogctl(sizeBuffer, nil)
	if err != nil || size <= 0 {
		size = 1 << 20
	}
	buf := make([]byte, size)
	n, err := syscall.Klogctl(readAll, buf)
	if err != nil {
		r.line("GLUE-KLOG (cannot read the kernel log: %v)", err)
		return
	}
	for _, l := range strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n") {
		r.line("GLUE-KLOG %s", l)
	}
}
