//go:build glue_seccomp_probe

// A test-only build (test/integration's sandbox tests build glue with
// -tags glue_seccomp_probe; the product is never built with it): once the
// process is confined, a goroutine makes the system call that
// GLUE_SECCOMP_PROBE names, as a compromised glue would, while the vCPUs
// run.

package vmm

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() {
	confineOnly := confine
	confine = func(vm *VM) error {
		if err := confineOnly(vm); err != nil {
			return err
		}
		if probe, ok := seccompProbes[os.Getenv("GLUE_SECCOMP_PROBE")]; ok {
			go func() {
				runtime.LockOSThread()
				err := probe(vm)
				fmt.Fprintf(os.Stderr, "glue: seccomp probe survived: %v\n", err)
			}()
		}
		return nil
	}
}

var seccompProbes = map[string]func(*VM) error{
	"execve": func(*VM) error { return syscall.Exec("/bin/true", []string{"true"}, nil) },
	"open":   func(*VM) error { _, err := os.Open("/etc/passwd"); return err },
	"socket": func(*VM) error { _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); return err },
	"mmap-exec": func(*VM) error {
		_, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		return err
	},
	// Allowed: KVM_IRQ_LINE, as the serial port, i8042 and RTC raise their
	// interrupts (the own guest and early Linux poll, so nothing else here
	// makes it): IRQ 5 is unused, and lowering a low line changes nothing.
	"irq-line": func(vm *VM) error { return vm.machine.vm.IRQLine(5, false) },
	// KVM_CREATE_VCPU: a KVM request the running VM never makes.
	"kvm-ioctl": func(vm *VM) error { _, err := vm.machine.vm.CreateVCPU(100); return err },
	"fork": func(*VM) error {
		pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if errno == 0 && pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		return errno
	},
}
