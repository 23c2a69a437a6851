package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/test/initramfs"
	"github.com/gluevmm/glue/test/scenario"
)

// Tier 4, the hardware-KVM tier: Debian's kernel boots all the way to a
// tiny init (test/initramfs/init) that checks what userspace sees and
// drives glue's virtio devices through Linux's own drivers, then resets
// the VM. On a PVM host a stock kernel never gets that far (docs/testing.md#pvm-hosts),
// so these tests skip there, saying so; TestBasicLinuxInitrd checks
// the part of the chain that PVM hosts can run.

// hwModules are the drivers init loads, ext4 for the rootfs check, and
// the ACPI power button with evdev for the scenario that presses it.
// Debian builds them as modules, and the initramfs must carry them and
// their dependencies.
var hwModules = append([]string{"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console",
	"vmw_vsock_virtio_transport", "virtio_balloon",
	"button", "evdev"}, initramfs.RootfsModules...)

// hwParams is the start of every tier-4 command line: panic=-1 resets at
// once if init dies, reboot=k makes init's reset go through the i8042,
// which ends glue with status 0 (an ACPI reset would too), and
// earlyprintk shows the boot up to the serial console's start, so a boot
// that stops early still says where.
const hwParams = "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 reboot=k rdinit=/init"

// requireHardwareKVM skips a tier-4 test on a PVM host, with the reason
// hosttest.ReasonHardwareKVM, and inside package emulated's machine, where
// each Linux boot takes minutes of TCG and package nested runs the same
// scenarios, with hosttest.ReasonTier4Nested. It never lets the test
// pass: it skips, or the test runs.
func requireHardwareKVM(t *testing.T) {
	t.Helper()
	if hosttest.InEmulatedMachine() {
		hosttest.Skip(t, hosttest.ReasonTier4Nested, "hardware-KVM tier inside package emulated's TCG machine: "+
			"test/nested boots the same scenarios in the same kind of machine, see docs/testing.md#kvm-tests-on-a-host-without-devkvm")
	}
	if isPVMHost() {
		hosttest.Skip(t, hosttest.ReasonHardwareKVM, "hardware-KVM tier: this host's /dev/kvm is PVM (kvm_pvm, no VMX/SVM); "+
			"a stock kernel only gets through early boot here, see docs/testing.md#pvm-hosts")
	}
}

// buildInitramfs builds the init program and a gzip initramfs with it and
// the kernel's modules for hwModules, and returns the archive's path and
// the module names in load order. A kernel without a module directory
// next to it gets no modules: its drivers must be built in.
func buildInitramfs(t *testing.T, kernel string) (string, []string) {
	t.Helper()
	var mods []initramfs.Module
	dir, err := initramfs.ModulesDir(kernel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.Logf("%v; assuming the kernel has its virtio drivers built in", err)
	case err != nil:
		t.Fatal(err)
	default:
		if mods, err = initramfs.Resolve(dir, hwModules...); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path, err := initramfs.Build(ctx, t.TempDir(), mods, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	return path, names
}

// initReport is what init printed: details by check, and whether it got
// to GLUE-DONE. Every GLUE-FAIL line fails the test.
type initReport struct {
	checks map[string]string
	done   bool
}

func parseInitReport(t *testing.T, out string) initReport {
	t.Helper()
	r := initReport{checks: map[string]string{}}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if rest, ok := strings.CutPrefix(line, "GLUE-FAIL init "); ok {
			t.Errorf("init: %s", rest)
		}
		if rest, ok := strings.CutPrefix(line, "GLUE-OK init "); ok {
			check, details, _ := strings.Cut(rest, " ")
			r.checks[check] = details
		}
		r.done = r.done || strings.HasPrefix(line, "GLUE-DONE init ")
	}
	if !r.done {
		t.Error("init did not finish (no GLUE-DONE)")
	}
	if strings.Contains(out, "Kernel panic") {
		t.Error("the kernel panicked")
	}
	return r
}

// want fails the test unless check reported key=value.
func (r initReport) want(t *testing.T, check, key, value string) {
	t.Helper()
	details, ok := r.checks[check]
	if !ok {
		t.Errorf("no GLUE-OK for %s", check)
		return
	}
	if got := field(details, key); got != value {
		t.Errorf("%s: %s=%q, want %q (%s)", check, key, got, value, details)
	}
}

// wantInt returns check's key as a number, failing the test if it is not.
func (r initReport) wantInt(t *testing.T, check, key string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(field(r.checks[check], key), 10, 64)
	if err != nil {
		t.Errorf("%s: %s: %v (%q)", check, key, err, r.checks[check])
	}
	return v
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// The tier-4 scenarios of test/scenario, each a Linux boot to init: the
// entry paths (extracted vmlinux, the bzImage's own decompressor, the
// vmlinux ELF file, PVH),
// 1-4 CPUs, the command line, memory, the clock, a large initramfs, reset
// and power-off, and pause/resume/stop. test/nested runs the same table
// inside an emulated SVM machine.
func TestBasicLinuxHardwareKVMBoot(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	requireHardwareKVM(t)
	img, modules := buildInitramfs(t, kernel)
	setupVersion, err := scenario.SetupVersion(kernel)
	if err != nil {
		t.Fatal(err)
	}
	vmlinux := filepath.Join(t.TempDir(), "vmlinux")
	if err := scenario.WriteVmlinux(kernel, vmlinux); err != nil {
		t.Fatal(err)
	}
	for _, s := range scenario.All {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			env := scenario.Env{Glue: glueBin, Kernel: kernel, Vmlinux: vmlinux, Initrd: img, Modules: modules,
				Token: randomToken(t), SetupVersion: setupVersion, WorkDir: t.TempDir(), Deadline: linuxMarkerTimeout}
			if s.Jail {
				env.Cgroup = jailCgroup(t)
			}
			r := scenario.Run(context.Background(), env, s, io.Discard)
			for _, e := range scenario.Verify(s, env, r) {
				t.Error(e)
			}
			if t.Failed() {
				t.Logf("glue's output:\n%s", r.Output)
			}
		})
	}
}

// jailCgroup delegates a cgroup of the host's cgroup v2 hierarchy to the
// jail scenario, as a service manager would, and removes it afterwards.
func jailCgroup(t *testing.T) string {
	t.Helper()
	hosttest.Root(t, "the jail scenario needs root")
	dir, err := scenario.DelegateCgroup("/sys/fs/cgroup", "glue-test-"+randomToken(t))
	if err != nil {
		t.Fatalf("the jail scenario needs the host's cgroup v2 at /sys/fs/cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// Every virtio device through Linux's drivers: a disk marker read and one
// written back and flushed, entropy, a ping each way through a tap, and
// the virtio console both ways.
func TestDevicesLinuxHardwareKVM(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	requireHardwareKVM(t)
	img, _ := buildInitramfs(t, kernel)
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	const mac = "02:00:00:00:00:2a"
	token := randomToken(t)
	disk := diskImage(t, 16)
	if err := os.WriteFile(disk, []byte("glue-hwkvm-in "+token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 16<<20); err != nil {
		t.Fatal(err)
	}

	s := startProcess(t, "ip", "netns", "exec", string(ns), glueBin, "run", "-k", kernel, "--initrd", img,
		"-m", "256", "-c", "2", "-d", disk, "--net", "tap=tap0,mac="+mac, "--rng", "--console", "virtio",
		"-p", hwParams+" glue.hw=blk,rng,net,hvc0 glue.hw.ip=192.0.2.2/24 glue.hw.peer=192.0.2.1 glue.hw.token="+token)
	s.waitFor("GLUE-READY init host", linuxMarkerTimeout)
	ns.run(t, "ping", "-c", "3", "-W", "10", "192.0.2.2")
	fmt.Fprint(s.stdin, "typed on the host\r")
	if code := s.wait(linuxMarkerTimeout); code != 0 {
		t.Fatalf("exit %d, want 0 (init resets the VM)", code)
	}

	out := s.output()
	r := parseInitReport(t, out)
	// glue adds disks, networks, entropy, console, in that order; the ids
	// are virtio's device types, sorted.
	r.want(t, "virtio", "devices", "4")
	r.want(t, "virtio", "ids", "1,2,3,4")
	r.want(t, "blk", "read", token)
	r.want(t, "blk", "sectors", strconv.Itoa(16<<20/512))
	r.want(t, "blk", "verified", "1")
	r.want(t, "rng", "bytes", "32")
	r.want(t, "net", "mac", mac)
	r.want(t, "net", "replies", "3")
	if got := r.checks["hvc0"]; got != "echo=typed on the host" {
		t.Errorf("hvc0: %q, want the line typed on glue's stdin", got)
	}
	if n := r.wantInt(t, "net-in", "echo-requests"); n < 3 {
		t.Errorf("guest received %d echo requests, the host sent 3", n)
	}
	if !strings.Contains(out, "GLUE-HVC0 hello from hvc0") {
		t.Error("hvc0 output did not reach glue's stdout")
	}
	written := make([]byte, 512)
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(written, 4096); err != nil {
		t.Fatal(err)
	}
	if want := "glue-hwkvm-out " + token + "\n"; !bytes.HasPrefix(written, []byte(want)) {
		t.Errorf("image at 4096: %q, want %q", written[:32], want)
	}
}

// A root filesystem on glue's disk: an ext4 image made by mkfs.ext4 -d,
// holding a random token in /etc/glue-rootfs, which init mounts read-only
// through virtio-blk and Linux's ext4 (modules in Debian's kernel) and
// reads back.
func TestDevicesLinuxHardwareKVMRootfs(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	requireHardwareKVM(t)
	hosttest.LookPath(t, "mkfs.ext4")
	img, _ := buildInitramfs(t, kernel)
	token := randomToken(t)
	disk := filepath.Join(t.TempDir(), "rootfs.ext4")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := initramfs.RootfsImage(ctx, disk, 32, token); err != nil {
		t.Fatal(err)
	}
	s := startGlue(t, "run", "-k", kernel, "--initrd", img, "-m", "256", "-c", "2", "-d", disk,
		"-p", hwParams+" glue.hw=rootfs glue.hw.rootfs=vda glue.hw.token="+token)
	if code := s.wait(linuxMarkerTimeout); code != 0 {
		t.Fatalf("exit %d, want 0 (init resets the VM)", code)
	}
	r := parseInitReport(t, s.output())
	r.want(t, "virtio", "devices", "1")
	r.want(t, "virtio", "ids", "2")
	r.want(t, "rootfs", "token", token)
	r.want(t, "rootfs", "dev", "vda")
	r.want(t, "rootfs", "ro", "1")
}

var ramdiskLine = regexp.MustCompile(`RAMDISK: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]`)

// glue's --initrd as Linux sees it, early enough to run on PVM hosts too:
// the kernel reserves the initramfs where the zero page says it is, with
// its size rounded up to a page.
func TestBasicLinuxInitrd(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	img, _ := buildInitramfs(t, kernel)
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	const memMiB = 256
	s := startGlue(t, "run", "-k", kernel, "--initrd", img, "-m", strconv.Itoa(memMiB),
		"-p", "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=1")
	m := waitForMatch(s, ramdiskLine, linuxMarkerTimeout)
	start, _ := strconv.ParseUint(m[1], 16, 64)
	last, _ := strconv.ParseUint(m[2], 16, 64)
	const page = 4096
	if want := (uint64(fi.Size()) + page - 1) &^ (page - 1); last+1-start != want || start%page != 0 {
		t.Errorf("RAMDISK [%#x-%#x]: %d bytes at a page boundary, want %d (the %d-byte file rounded up to a page)",
			start, last, last+1-start, want, fi.Size())
	}
	if start < 1<<20 || last >= memMiB<<20 {
		t.Errorf("RAMDISK [%#x-%#x] is outside the VM's RAM above 1 MiB", start, last)
	}
	if out := s.output(); strings.Contains(out, "initrd overlaps") || strings.Contains(out, "initrd extends beyond") {
		t.Errorf("Linux rejected the initrd:\n%s", out)
	}
}

// waitForMatch waits until the output matches re and returns the
// submatches, failing the test after timeout or if glue exits first.
func waitForMatch(s *session, re *regexp.Regexp, timeout time.Duration) []string {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := re.FindStringSubmatch(s.output()); m != nil {
			return m
		}
		select {
		case <-s.notify:
		case <-s.done:
			if m := re.FindStringSubmatch(s.output()); m != nil {
				return m
			}
			s.t.Fatalf("glue exited (%v) before printing a match for %s", s.err, re)
		case <-deadline:
			s.t.Fatalf("no match for %s within %v", re, timeout)
		}
	}
}

// The modules the initramfs carries come after their dependencies: a
// check of buildInitramfs that needs no KVM, only the kernel package.
func TestBasicLinuxHardwareKVMModules(t *testing.T) {
	t.Parallel()
	kernel := testKernel(t)
	dir, err := initramfs.ModulesDir(kernel)
	if errors.Is(err, fs.ErrNotExist) {
		hosttest.Skip(t, hosttest.ReasonKernel, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	mods, err := initramfs.Resolve(dir, hwModules...)
	if err != nil {
		t.Fatal(err)
	}
	var loaded []string
	for _, m := range mods {
		for _, d := range m.Depends {
			if !slices.Contains(loaded, d) {
				t.Errorf("%s would load before its dependency %s", m.Name, d)
			}
		}
		loaded = append(loaded, m.Name)
	}
	for _, want := range hwModules {
		if !slices.Contains(loaded, want) {
			t.Errorf("%s missing from %v (built in? then %s/modules.builtin says so)", want, loaded, dir)
		}
	}
}
