package vmm

import (
	"io"
	"log/slog"

	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/ratelimit"
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
	// Transport is the virtio transport of every device that does not
	// name its own: TransportPCI, TransportMMIO, or TransportDefault for
	// PCI (what stock kernels see), or MMIO in a build without virtio-pci.
	Transport Transport
	// NoACPI leaves the ACPI tables out: the guest then finds the CPUs in
	// the MP table, virtio-mmio devices on its command line and PCI through
	// configuration mechanism #1 only. With ACPI (the default) virtio-mmio
	// devices are described in the DSDT only, never on the command line,
	// or Linux would register them twice.
	NoACPI bool

	// Disks are virtio-blk devices, in order (the guest's vda, vdb, ...).
	Disks []Disk
	// Nets are virtio-net devices, each on a host tap interface.
	Nets []Net
	// RNG adds a virtio-rng device fed from the host kernel's random pool
	// (getrandom(2), as crypto/rand reads it), on
	// RNGTransport (TransportDefault: Transport).
	RNG          bool
	RNGTransport Transport
	// ConsoleDevice is where the guest's console is: ConsoleSerial (COM1,
	// the default) or ConsoleVirtio (a virtio-console, the guest's hvc0).
	// Output from both goes to Console; host input goes to this one. A
	// virtio console is on ConsoleTransport (TransportDefault: Transport).
	ConsoleDevice    ConsoleDevice
	ConsoleTransport Transport
	// Balloon, if set, adds a virtio-balloon device: the control socket
	// sets its target (VM.Balloon), and the memory the guest gives up goes
	// back to the host.
	Balloon *Balloon
	// ConsoleLimit limits the guest's console output (serial and virtio
	// console together) in bytes per second; what is over it is dropped
	// and counted (VM.ConsoleOutputThrottled), never waited for. The
	// zero value limits nothing.
	ConsoleLimit ratelimit.Bucket
	// Vsock, if set, adds a virtio-vsock device (docs/vsock.md).
	Vsock *Vsock

	// Seccomp is the system-call filter Run installs on the whole process
	// before the first KVM_RUN: SeccompOn (the zero value), SeccompLog or
	// SeccompOff. Run also sets no_new_privs and resource limits
	// (docs/security.md); a program embedding vmm is confined with it.
	Seccomp SeccompMode

	// BzImageEntry makes glue enter a bzImage through its own 64-bit entry
	// (in-guest decompression) instead of extracting the vmlinux payload.
	BzImageEntry bool

	// Console receives the guest's console output (serial and virtio
	// console). It may be slow or block: Build puts a bounded buffer in
	// front of it (see GuestOutputBuffer), so a slow consumer never stalls
	// a vCPU; output that does not fit is dropped and counted. A Console
	// that is a file descriptor (implements syscall.Conn, as *os.File
	// does) is written directly from the vCPU thread while it is ready
	// and nothing is queued, and so is one that says its Write never
	// waits (console.NeverWaiter), or nil (console.AsyncWriter).
	Console io.Writer
	// Logger receives glue's own messages; nil discards them.
	Logger *slog.Logger
	// Timeline, if set, records when each boot phase is reached.
	Timeline *Timeline
}

// Disk is a raw disk image.
type Disk struct {
	Path      string
	ReadOnly  bool
	Transport Transport // TransportDefault: Config.Transport
	Limit     RateLimit // bandwidth and requests per second
}

// Net is a network device backed by a host tap interface.
type Net struct {
	Tap string // interface name, opened (or created) through /dev/net/tun
	MAC string // guest MAC; empty derives a stable one from the VM name

	Transport Transport // TransportDefault: Config.Transport
	// RxLimit limits what the guest receives, TxLimit what it sends, in
	// bytes and frames per second.
	RxLimit, TxLimit RateLimit
}

// Balloon is a virtio-balloon device and the features it offers.
type Balloon struct {
	Stats        bool      // the guest reports memory statistics
	DeflateOnOOM bool      // the guest may deflate when it runs out of memory
	Reporting    bool      // the guest reports free memory, which the host discards
	Transport    Transport // TransportDefault: Config.Transport
}

// Vsock is a virtio-vsock device with its host side on Unix sockets.
type Vsock struct {
	// CID is the guest's address: 3..4294966294 (0, 1, 2 and
	// 4294967295 are reserved).
	CID uint32
	// Socket is the Unix socket host programs connect to (then write
	// "CONNECT <port>\n"); the guest's connections to port P go to the
	// socket Socket_P.
	Socket    string
	Transport Transport // TransportDefault: Config.Transport
}

// RateLimit limits a device's I/O with two token buckets (package
// ratelimit): bytes per second and operations (requests, frames) per
// second. Work over the limit is deferred, not failed. The zero value
// limits nothing.
type RateLimit struct {
	Bytes, Ops ratelimit.Bucket
}

// limiter returns the limiter for r, nil if r limits nothing.
func (r RateLimit) limiter() (*ratelimit.Limiter, error) {
	return ratelimit.New(ratelimit.Config{Bytes: r.Bytes, Ops: r.Ops})
}

func (r RateLimit) check() error {
	return ratelimit.Config{Bytes: r.Bytes, Ops: r.Ops}.Validate()
}

// ConsoleDevice names the device that carries the guest's console input.
type ConsoleDevice string

// The console devices.
const (
	ConsoleSerial ConsoleDevice = ""
	ConsoleVirtio ConsoleDevice = "virtio"
)

// BootProtocol names a kernel entry protocol.
type BootProtocol string

// The entry protocols glue implements.
const (
	BootAuto    BootProtocol = ""      // Linux 64-bit entry where the image has one, else PVH
	BootLinux64 BootProtocol = "linux" // Linux 64-bit boot protocol (zero page in RSI)
	BootPVH     BootProtocol = "pvh"   // Xen PVH: 32-bit entry, hvm_start_info in EBX
)

// DefaultCmdline is used for a Linux kernel when Config.Cmdline is empty;
// DefaultVirtioCmdline when the console is the virtio console.
const (
	DefaultCmdline       = "console=ttyS0 reboot=k panic=1"
	DefaultVirtioCmdline = "console=hvc0 reboot=k panic=1"
)

// MinMemMiB is the least guest RAM glue accepts: enough for the boot
// structures in the first MiB and a small kernel above them.
const MinMemMiB = 4

// Validate checks what can be checked without KVM, asking each backend
// whether its path or name is usable (images, taps, kernel files). maxCPUs is
// KVM's limit; hostMemMiB the host's RAM (0 skips that check).
func (c *Config) Validate(maxCPUs int, hostMemMiB uint64) error {
	if c.CPUs < 1 {
		return configErr(FieldCPUs, "%d vCPUs: need at least 1", c.CPUs)
	}
	// Quote the tighter of the two limits: it is the one that applies.
	limit, limiter := x86.MaxCPUs, "the boot tables describe"
	if maxCPUs < limit {
		limit, limiter = maxCPUs, "KVM on this host allows"
	}
	if c.CPUs > limit {
		return configErr(FieldCPUs, "%d vCPUs: %s at most %d", c.CPUs, limiter, limit)
	}
	if c.MemMiB < MinMemMiB {
		return configErr(FieldMemMiB, "%d MiB of memory: need at least %d MiB", c.MemMiB, MinMemMiB)
	}
	if c.MemMiB > x86.MaxRAM>>20 {
		return configErr(FieldMemMiB, "%d MiB of memory: glue supports at most %d MiB", c.MemMiB, uint64(x86.MaxRAM>>20))
	}
	if hostMemMiB != 0 && c.MemMiB > hostMemMiB {
		return configErr(FieldMemMiB, "%d MiB of memory: the host has only %d MiB", c.MemMiB, hostMemMiB)
	}
	switch c.Boot {
	case BootAuto, BootLinux64, BootPVH:
	default:
		return configErr(FieldBoot, "unknown boot protocol %q (want %q or %q)", c.Boot, BootLinux64, BootPVH)
	}
	if err := c.CheckComponents(); err != nil {
		return err
	}
	if err := c.Seccomp.check(); err != nil {
		return err
	}
	switch c.ConsoleDevice {
	case ConsoleSerial, ConsoleVirtio:
	default:
		return configErr(FieldConsoleDevice, "unknown console device %q", c.ConsoleDevice)
	}
	if err := (RateLimit{Bytes: c.ConsoleLimit}).check(); err != nil {
		return configErr(FieldConsoleDevice, "console rate limit: %v", err)
	}
	for i, d := range c.Disks {
		if d.Path == "" {
			return configErr(FieldDisks, "disk %d: no path", i)
		}
		if err := d.Limit.check(); err != nil {
			return configErr(FieldDisks, "disk %s: %v", d.Path, err)
		}
		if err := checkDisk(d); err != nil {
			return fieldError(FieldDisks, err)
		}
	}
	for i, n := range c.Nets {
		if n.Tap == "" {
			return configErr(FieldNets, "net %d: no tap name", i)
		}
		for _, l := range []RateLimit{n.RxLimit, n.TxLimit} {
			if err := l.check(); err != nil {
				return configErr(FieldNets, "net %s: %v", n.Tap, err)
			}
		}
		if err := checkNet(n); err != nil {
			return fieldError(FieldNets, err)
		}
	}
	if c.Vsock != nil {
		if err := checkVsock(*c.Vsock); err != nil {
			return fieldError(FieldVsock, err)
		}
	}
	if err := c.checkTransports(); err != nil {
		return err
	}
	for _, f := range []struct {
		field Field
		path  string
	}{{FieldKernel, c.Kernel}, {FieldInitrd, c.Initrd}} {
		if f.path == "" {
			continue
		}
		if err := loader.CheckFile(f.path); err != nil {
			return &ConfigError{Field: f.field, Err: err}
		}
	}
	return nil
}
