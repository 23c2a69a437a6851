package scenario

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gluevmm/glue/loader"
)

// Scenario is one glue VM booting Linux to the test init.
type Scenario struct {
	Name   string
	CPUs   int
	MemMiB int
	// ELF boots the vmlinux ELF file (Env.Vmlinux) instead of the
	// bzImage, which glue would otherwise extract itself: under emulation
	// that decompression takes most of a minute.
	ELF bool
	// Entry are the glue run flags that choose how glue enters the
	// kernel; none: the 64-bit boot protocol, through the vmlinux that glue
	// extracts from a bzImage.
	Entry []string
	// End is how init ends after its checks (glue.hw.end): "reset",
	// "poweroff", "button" (glue stop presses the ACPI power button and
	// Linux powers off), or "tick" for Control.
	End string
	// PayloadMiB > 0 appends an archive with a file of that size to the
	// initramfs, which init hashes (the large --initrd check).
	PayloadMiB int
	// Control runs the VM with --detach and drives it with glue pause,
	// resume and stop while init prints ticks.
	Control bool
	// Devices are the glue run flags of the VM's devices, and Virtio the
	// number of virtio devices Linux must find.
	Devices []string
	Virtio  int
	// Checks are init's device checks (glue.hw), in order.
	Checks []string
	// Net gives the VM the tap NetTap, which Run creates with the host's
	// address NetHost and serves the tcp check on.
	Net bool
	// Vsock gives the VM virtio-vsock (CID VsockCID) on a socket in
	// WorkDir, whose host side Run serves; Balloon a virtio-balloon
	// without DEFLATE_ON_OOM, which Run drives with glue balloon.
	Vsock, Balloon bool
	// KernelParams are added to the scenario's command line.
	KernelParams string
	// Jail runs glue with --jail in a directory of its own holding the
	// kernel and initramfs, its cgroup under Env.Cgroup; init's hold
	// check gives the host time to read that cgroup (cgroup.go).
	Jail bool
	// BlkperfMiB > 0 is what init's blkperf check writes and reads
	// (glue.hw.blkperf.mib); 0 leaves init's default.
	BlkperfMiB int
	// Deadline, if set, replaces Env.Deadline for each of its boots.
	Deadline time.Duration
	// Steps, if any, are the boots of a VM with an ext4 root disk
	// (root=/dev/vda), a fresh copy of Env.RootImage, one glue run each on
	// the same disk; they replace End and Checks.
	Steps []Step
}

// Step is one boot of a scenario with a root disk.
type Step struct {
	Checks []string
	End    string
	// ReadOnly offers the disk read-only (ro=on).
	ReadOnly bool
	// KillAfter > 0 kills glue with SIGKILL once init has acknowledged
	// that many fsyncs (GLUE-FSYNC N).
	KillAfter int
	// Fsck runs e2fsck -n -f on the image after glue ended.
	Fsck bool
}

// Boots are the steps s runs: its Steps, or one made of End and Checks.
func (s Scenario) Boots() []Step {
	if len(s.Steps) > 0 {
		return s.Steps
	}
	return []Step{{Checks: s.Checks, End: s.End}}
}

// The tap of a Net scenario and its addresses; the tcp check's size.
const (
	NetTap   = "gluetap0"
	NetHost  = "192.0.2.1"
	NetGuest = "192.0.2.2/24"
	TCPMiB   = 64 // host to guest
	// TCPUpKiB is the guest's part: guest-to-host TCP through glue's
	// virtio-net runs at tens of KiB/s inside the emulated machine
	// (docs/testing.md), where the other way runs at ~0.7 MiB/s.
	TCPUpKiB = 256
	TCPPort  = 5201 // init's tcp.go spells the same port
)

// netDeadline is the network scenario's: 64 MiB to the guest take 80-105 s
// of an emulated machine on top of a 40 s boot.
const netDeadline = 210 * time.Second

// killAfterFsyncs is how many acknowledged fsyncs the kill -9 waits for.
const killAfterFsyncs = 16

// All is the tier's scenarios. Each boot costs ~10-25 s inside the
// emulated machine, so the checks are combined: every scenario checks the
// command line, CPUs, memory and clock, and each adds one entry path, one
// way of ending, the large initramfs, or devices that Linux's own drivers
// drive.
var All = []Scenario{
	{Name: "extracted-elf-1cpu-reset", CPUs: 1, MemMiB: 256, End: "reset"},
	{Name: "bzimage-entry-2cpu-large-initrd", CPUs: 2, MemMiB: 384, Entry: []string{"--bzimage-entry"},
		End: "reset", PayloadMiB: 32},
	{Name: "vmlinux-pvh-4cpu-poweroff", CPUs: 4, MemMiB: 256, ELF: true, Entry: []string{"--boot", "pvh"}, End: "poweroff"},
	{Name: "vmlinux-control-pause-resume-stop", CPUs: 1, MemMiB: 256, ELF: true, End: "tick", Control: true},
	{Name: "vmlinux-stop-power-button", CPUs: 2, MemMiB: 256, ELF: true, End: "button"},
	{Name: "vmlinux-pci-rng-net-tcp-hvc0", CPUs: 2, MemMiB: 256, ELF: true, End: "reset",
		Devices: []string{"--rng=on", "--console", "virtio", "--net", "tap=" + NetTap}, Virtio: 3,
		Checks: []string{"rng", "net", "tcp", "hvc0"}, Net: true, Deadline: netDeadline},
	// pci=nomsi: Linux's virtio-pci falls back to INTx, which glue routes
	// through the IOAPIC with a resampling irqfd.
	{Name: "vmlinux-pci-nomsi-intx-rng", CPUs: 1, MemMiB: 256, ELF: true, End: "poweroff",
		Devices: []string{"--rng=on"}, Virtio: 1, KernelParams: "pci=nomsi", Checks: []string{"rng", "intx"}},
	{Name: "vmlinux-mmio-rng-hvc0", CPUs: 1, MemMiB: 256, ELF: true, End: "poweroff",
		Devices: []string{"--transport", "mmio", "--rng=on", "--console", "virtio"}, Virtio: 2,
		Checks: []string{"rng", "hvc0"}},
	{Name: "vmlinux-pci-vsock-balloon", CPUs: 1, MemMiB: 256, ELF: true, End: "poweroff", Virtio: 2,
		Checks: []string{"vsock", "balloon"}, Vsock: true, Balloon: true},
	// The jail's cgroup v2 limits, read from the kernel's files by the
	// host while the VM runs.
	{Name: "vmlinux-jail-cgroup-rng", CPUs: 2, MemMiB: 256, ELF: true, End: "poweroff",
		Devices: []string{"--rng=on"}, Virtio: 1, Checks: []string{"rng", "hold"}, Jail: true},
	{Name: "vmlinux-pci-ext4-root-kill9-fsck-readonly", CPUs: 1, MemMiB: 256, ELF: true, Virtio: 1, Steps: []Step{
		{Checks: []string{"fsync"}, End: "reset", KillAfter: killAfterFsyncs},
		{Checks: []string{"rootrw"}, End: "reset", Fsck: true},
		{Checks: []string{"rootro"}, End: "poweroff", ReadOnly: true, Fsck: true},
	}},
}

// PVH reports whether s enters the kernel through PVH.
func (s Scenario) PVH() bool { return slices.Contains(s.Entry, "pvh") }

// WantBoot is what init's boot check must print for s: the
// type_of_loader and boot protocol version of the boot_params Linux kept.
// Through the 64-bit boot protocol they are glue's zero page: glue's
// loader ID 0xff, and the bzImage's setup header, or none for the ELF
// file. Through PVH Linux builds its own from hvm_start_info: loader
// 0xb0 (PVH, not Xen) and version 2.12.
func (s Scenario) WantBoot(env Env) string {
	switch {
	case s.PVH():
		return "loader=0xb0 version=0x020c"
	case s.ELF:
		return "loader=0xff version=0x0000"
	}
	return "loader=0xff version=" + env.SetupVersion
}

// SetupVersion returns a bzImage's boot protocol version (setup header
// offset 0x206) as init's boot check prints it.
func SetupVersion(bzImage string) (string, error) {
	b, err := os.ReadFile(bzImage)
	if err != nil {
		return "", fmt.Errorf("scenario: %w", err)
	}
	if len(b) < 0x208 || string(b[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("scenario: %s is not a bzImage", bzImage)
	}
	return fmt.Sprintf("%#04x", binary.LittleEndian.Uint16(b[0x206:])), nil
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range All {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// BootDeadline is how long one boot of s may take in env.
func (s Scenario) BootDeadline(env Env) time.Duration {
	if s.Deadline > 0 {
		return s.Deadline
	}
	return env.Deadline
}

// Env is what a scenario runs with, the same on both hosts.
type Env struct {
	Glue    string   // the glue binary
	Kernel  string   // Debian's bzImage
	Vmlinux string   // the vmlinux ELF inside it (WriteVmlinux)
	Initrd  string   // the test initramfs (initramfs.Build)
	Modules []string // the modules Initrd carries, in load order
	Token   string   // echoed by init's cmdline check
	// SetupVersion is Kernel's boot protocol version as init's boot
	// check prints it (SetupVersion), which glue's zero page carries.
	SetupVersion string
	WorkDir      string // for the large initramfs, runtime directories, consoles, disks
	// Deadline is how long one boot may take before it counts as stalled.
	Deadline time.Duration
	// RootImage is the ext4 image that root-disk scenarios copy
	// (initramfs.RootfsImage with Token); "": Run makes one with mkfs.ext4.
	RootImage string
	// Fsck is e2fsck; "": found in PATH.
	Fsck string
	// Cgroup is a cgroup v2 directory that delegates cpu, memory and
	// pids (DelegateCgroup), for Jail scenarios.
	Cgroup string
}

// BaseParams start every scenario's command line: panic=-1 resets at
// once if init dies, reboot=k makes init's reset go through the i8042,
// which ends glue with status 0, and quiet keeps the kernel's boot
// messages off the serial port, which is slow under emulation (init
// prints the kernel log when a check fails).
const BaseParams = "console=ttyS0 panic=-1 reboot=k rdinit=/init quiet"

// Params is the kernel command line for step of s.
func (s Scenario) Params(env Env, step Step) string {
	p := BaseParams + " glue.hw.token=" + env.Token + " glue.hw.end=" + step.End +
		" glue.hw.virtio=" + strconv.Itoa(s.Virtio)
	checks := step.Checks
	if s.PayloadMiB > 0 {
		checks = append([]string{"payload"}, checks...)
	}
	if len(checks) > 0 {
		p += " glue.hw=" + strings.Join(checks, ",")
	}
	if s.Net {
		p += fmt.Sprintf(" glue.hw.ip=%s glue.hw.peer=%s glue.hw.tcp=%d glue.hw.tcp.up=%d", NetGuest, NetHost, TCPMiB, TCPUpKiB)
	}
	if s.Vsock {
		p += fmt.Sprintf(" glue.hw.vsock.up=%d", VsockUpKiB)
	}
	if s.Balloon {
		p += fmt.Sprintf(" glue.hw.balloon=%d", BalloonMiB)
	}
	if s.BlkperfMiB > 0 {
		p += fmt.Sprintf(" glue.hw.blkperf.mib=%d", s.BlkperfMiB)
	}
	if len(s.Steps) > 0 {
		p += " root=/dev/vda"
	}
	if s.KernelParams != "" {
		p += " " + s.KernelParams
	}
	return p
}

// RunArgs are the glue run arguments for step of s with initrd as its
// initramfs and disk as its root disk, if it has one; --boot-timeline
// puts glue's boot phases in the log, which says where an emulated
// machine's time went.
func (s Scenario) RunArgs(env Env, initrd string, step Step, disk string) []string {
	kernel := env.Kernel
	if s.ELF {
		kernel = env.Vmlinux
	}
	args := []string{"run", "-k", kernel, "--initrd", initrd, "-m", strconv.Itoa(s.MemMiB),
		"-c", strconv.Itoa(s.CPUs), "--boot-timeline", "-p", s.Params(env, step)}
	args = append(append(args, s.Entry...), s.Devices...)
	if s.Vsock {
		args = append(args, "--vsock", fmt.Sprintf("cid=%d,socket=%s", VsockCID, vsockSocket(env, s.Name)))
	}
	if s.Balloon {
		// Without DEFLATE_ON_OOM Linux takes the balloon's pages out of
		// MemTotal, which init watches.
		args = append(args, "--balloon=deflate-on-oom=off")
	}
	if disk != "" {
		spec := "path=" + disk
		if step.ReadOnly {
			spec += ",ro=on"
		}
		args = append(args, "-d", spec)
	}
	return args
}

// QEMUArgs are the arguments that make QEMU's microvm boot s the way
// glue does on the same /dev/kvm, for the side-by-side comparison: the
// vmlinux ELF through PVH (how microvm boots an ELF), the same CPUs,
// memory, initramfs and command line, an RTC and a serial port, and ACPI
// tables as glue gives them (docs/performance.md gives both command
// lines). s must be ELF with PVH.
//
// A disk (a raw image; "": none) becomes a virtio-blk on virtio-mmio,
// which microvm describes in its DSDT, as glue does: without ACPI it
// would announce it on the command line (virtio_mmio.device=), which
// Debian's kernel ignores (no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES). Its
// host I/O is QEMU's cache=writeback, which is glue's: the image opened
// without O_DIRECT, so through the host's page cache, and the guest's
// flush an fdatasync (virtio/blk). QEMU's default is the same; it is
// spelt out because the comparison depends on it.
func (s Scenario) QEMUArgs(env Env, initrd, disk string) []string {
	args := []string{"-M", QEMUMachine, "-enable-kvm", "-cpu", "host",
		"-m", strconv.Itoa(s.MemMiB) + "M", "-smp", strconv.Itoa(s.CPUs),
		"-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
		"-kernel", env.Vmlinux, "-initrd", initrd, "-append", s.Params(env, s.Boots()[0])}
	if disk != "" {
		args = append(args, "-drive", "id=d0,file="+disk+",format=raw,if=none,cache="+QEMUCache,
			"-device", "virtio-blk-device,drive=d0")
	}
	if s.Net {
		args = append(args, "-netdev", "tap,id=n0,ifname="+NetTap+",script=no,downscript=no",
			"-device", "virtio-net-device,netdev=n0")
	}
	return args
}

// QEMUMachine is QEMUArgs's machine, and QEMUCache its disk's cache mode.
const (
	QEMUMachine = "microvm,rtc=on,acpi=on"
	QEMUCache   = "writeback"
)

// Result is what running a scenario showed. It travels as JSON from the
// emulated machine to the test, without Output, which travels line by
// line.
type Result struct {
	Exit    int       `json:"exit"`    // the last boot's glue exit status; -1 when it did not exit by itself
	Stalled bool      `json:"stalled"` // a boot's deadline passed first
	Boots   []Boot    `json:"boots"`   // one per step that ran
	Secs    float64   `json:"secs"`    // wall time, the first glue's start to the last one's end
	End     time.Time `json:"end"`     // the host's clock at the end, for the RTC check
	// PayloadSHA256 is the hex SHA-256 of the payload packed, if any.
	PayloadSHA256 string `json:"payload_sha256,omitempty"`
	// Net is the host's side of the tcp check.
	Net *TCPResult `json:"net,omitempty"`
	// Vsock and Balloon are the host's sides of those checks.
	Vsock   *VsockResult   `json:"vsock,omitempty"`
	Balloon *BalloonResult `json:"balloon,omitempty"`
	// Problems are failures seen while driving the VM (control steps).
	Problems []string `json:"problems,omitempty"`
	// Output is glue's stdout and stderr, or the console file, each
	// boot's after a BootMarker line.
	Output string `json:"-"`
}

// Boot is what one glue run of a scenario showed.
type Boot struct {
	Exit   int  `json:"exit"`   // glue's exit status; -1 when it did not exit by itself
	Halted bool `json:"halted"` // Linux halted and glue ran on, until killed
	Killed bool `json:"killed"` // killed with SIGKILL during init's fsync loop
	// Acked is the last fsync init acknowledged before the kill.
	Acked int `json:"acked,omitempty"`
	// Fsck is e2fsck -n's exit status (-1: not run) and FsckOutput what
	// it said.
	Fsck       int    `json:"fsck"`
	FsckOutput string `json:"fsck_output,omitempty"`
	// ImageBefore and ImageAfter are the disk image's SHA-256 around the
	// boot.
	ImageBefore string `json:"image_before,omitempty"`
	ImageAfter  string `json:"image_after,omitempty"`
}

// TCPResult is what the host sent to the guest and received from it.
type TCPResult struct {
	Sent, Received       int64
	SentSHA, ReceivedSHA string
	Err                  string `json:",omitempty"`
}

// BootMarker starts each boot's output in Result.Output: "GLUE-BOOT N".
const BootMarker = "GLUE-BOOT "

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// GuestCrashed reports whether the inner guest ended glue with a triple
// fault, which glue reports and exits 1 for: no scenario ends that way,
// but inside the emulated machine a guest under load sometimes does
// (docs/testing.md, "Guest-to-host TCP in the emulated machine").
func (r Result) GuestCrashed() bool {
	return r.Exit != 0 && strings.Contains(r.Output, "guest triple fault (KVM_EXIT_SHUTDOWN)")
}

// LastLines returns the last n lines of the output, for a stall report.
func (r Result) LastLines(n int) []string {
	lines := strings.Split(strings.TrimRight(r.Output, "\n"), "\n")
	return lines[max(0, len(lines)-n):]
}

// WriteVmlinux writes the vmlinux ELF inside the bzImage kernel to out,
// with glue's own extraction (loader.ExtractVmlinux).
func WriteVmlinux(kernel, out string) error {
	image, err := os.ReadFile(kernel)
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	vmlinux, _, err := loader.ExtractVmlinux(image)
	if err != nil {
		return fmt.Errorf("scenario: extract the vmlinux of %s: %w", kernel, err)
	}
	if err := os.WriteFile(out, vmlinux, 0o644); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	return nil
}
