package vmm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gluevmm/glue/x86"
)

// Config is everything needed to build a VM: plain, validated data. The CLI
// only fills it in; other Go programs can do the same.
type Config struct {
	// Name identifies the VM in logs (and, later, on the control socket).
	Name string
	// CPUs is the number of vCPUs, 1..the host's KVM limit.
	CPUs int
	// MemMiB is guest RAM in MiB.
	MemMiB uint64
	// Kernel is the path of the kernel image (ELF vmlinux, PVH ELF or
	// bzImage). Empty means glue's built-in guest.
	Kernel string
	// Initrd is an optional initial ramdisk.
	Initrd string
	// Cmdline is the kernel command line. Empty means DefaultCmdline for
	// a Linux kernel and the built-in guest's demo for the built-in guest.
	Cmdline string
	// Boot selects the entry protocol for ELF images that offer several.
	Boot BootProtocol
	// RNG adds a virtio-rng device fed from the host's crypto/rand.
	RNG bool

	// BzImageEntry makes glue enter a bzImage through its own 64-bit entry
	// (in-guest decompression) instead of extracting the vmlinux payload.
	BzImageEntry bool

	// Console receives the guest's serial output. It should not block;
	// Build wraps it so that a slow consumer never stalls a vCPU.
	Console io.Writer
	// Logger receives glue's own messages; nil discards them.
	Logger *slog.Logger
}

// BootProtocol names a kernel entry protocol.
type BootProtocol string

// The entry protocols glue implements.
const (
	BootAuto    BootProtocol = ""      // Linux 64-bit entry where the image has one, else PVH
	BootLinux64 BootProtocol = "linux" // Linux 64-bit boot protocol (zero page in RSI)
	BootPVH     BootProtocol = "pvh"   // Xen PVH: 32-bit entry, hvm_start_info in EBX
)

// DefaultCmdline is used for a Linux kernel when Config.Cmdline is empty.
const DefaultCmdline = "console=ttyS0 reboot=k panic=1"

// MinMemMiB is the least guest RAM glue accepts: enough for the boot
// structures in the first MiB and a small kernel above them.
const MinMemMiB = 4

// ConfigError is a Config value that cannot work. Field is the Config field
// (the CLI maps it to its flag); Build returns it before touching KVM where it
// can, and when the kernel turns out not to fit in memory.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks what can be checked without KVM. maxCPUs is KVM's limit;
// hostMemMiB the host's RAM (0 skips that check).
func (c *Config) Validate(maxCPUs int, hostMemMiB uint64) error {
	if c.CPUs < 1 {
		return configErr("CPUs", "%d vCPUs: need at least 1", c.CPUs)
	}
	if c.CPUs > maxCPUs {
		return configErr("CPUs", "%d vCPUs: KVM on this host allows at most %d", c.CPUs, maxCPUs)
	}
	if c.CPUs > x86.MaxCPUs {
		return configErr("CPUs", "%d vCPUs: the MP table holds at most %d", c.CPUs, x86.MaxCPUs)
	}
	if c.MemMiB < MinMemMiB {
		return configErr("MemMiB", "%d MiB of memory: need at least %d MiB", c.MemMiB, MinMemMiB)
	}
	if c.MemMiB > x86.MaxRAM>>20 {
		return configErr("MemMiB", "%d MiB of memory: glue supports at most %d MiB", c.MemMiB, uint64(x86.MaxRAM>>20))
	}
	if hostMemMiB != 0 && c.MemMiB > hostMemMiB {
		return configErr("MemMiB", "%d MiB of memory: the host has only %d MiB", c.MemMiB, hostMemMiB)
	}
	switch c.Boot {
	case BootAuto, BootLinux64, BootPVH:
	default:
		return configErr("Boot", "unknown boot protocol %q (want %q or %q)", c.Boot, BootLinux64, BootPVH)
	}
	for _, f := range []struct{ field, path string }{{"Kernel", c.Kernel}, {"Initrd", c.Initrd}} {
		if f.path == "" {
			continue
		}
		if err := checkReadableFile(f.path); err != nil {
			return &ConfigError{Field: f.field, Err: err}
		}
	}
	return nil
}

func checkReadableFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	f.Close()
	return nil
}

// errNoKernelFit marks loader failures caused by too little guest memory.
var errNoKernelFit = errors.New("does not fit in guest memory")
