package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// testKernel returns the Debian bzImage the Linux tests boot, named by
// GLUE_TEST_KERNEL (.ci/run downloads it). Without it the test skips, or
// fails when GLUE_REQUIRE_KVM=1: CI must not silently lose these tests.
func testKernel(t *testing.T) string {
	t.Helper()
	return hosttest.Kernel(t)
}

// isPVMHost reports whether /dev/kvm is PVM, which runs a stock kernel only
// through early boot: PVM runs guest kernel mode in KVM's instruction
// emulator, and a stock kernel stops at an instruction the emulator lacks.
func isPVMHost() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}

// Linux's early boot output is slow under an emulating KVM: the first lines
// take ~20 s, the CPU count ~45 s on PVM hosts (seconds elsewhere).
const linuxMarkerTimeout = 3 * time.Minute

var e820Usable = regexp.MustCompile(`BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable`)

// One boot checks the banner, the command line, the e820 map and the CPU
// count; on a PVM host it then runs into the emulator's limits, which must
// end glue with a clear one-line error.
func TestBasicLinuxEarlyBoot(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	const memMiB, cpus = 300, 2
	params := "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=1 glue.marker=42"
	s := startGlue(t, "run", "-k", kernel, "-m", strconv.Itoa(memMiB), "-c", strconv.Itoa(cpus), "-p", params)

	s.waitFor("Linux version ", linuxMarkerTimeout)
	s.waitFor("Command line: ", linuxMarkerTimeout)
	s.waitFor("BIOS-e820", linuxMarkerTimeout)
	out := s.waitFor(fmt.Sprintf("smpboot: Allowing %d CPUs", cpus), linuxMarkerTimeout)

	cmdline := regexp.MustCompile(`Command line: (.*)`).FindStringSubmatch(out)
	if got := strings.TrimRight(cmdline[1], "\r"); got != params {
		t.Errorf("Linux saw command line %q, want %q", got, params)
	}
	var usable uint64
	for _, m := range e820Usable.FindAllStringSubmatch(out, -1) {
		start, _ := strconv.ParseUint(m[1], 16, 64)
		end, _ := strconv.ParseUint(m[2], 16, 64)
		usable += end - start + 1
	}
	if want := uint64(memMiB)<<20 - legacyHole; usable != want {
		t.Errorf("e820 usable RAM %d bytes, want %d (%d MiB less the legacy hole)", usable, want, memMiB)
	}

	if !isPVMHost() {
		return // on hardware KVM the boot goes on; the markers were the point
	}
	if code := s.wait(linuxMarkerTimeout); code != 1 {
		t.Fatalf("exit %d, want 1 after the emulation failure", code)
	}
	last := lastLine(s.output())
	for _, want := range []string{"glue: vcpu ", "emulation failure", "RIP 0x", "PVM"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
}

// The same kernel through the PVH entry: its extracted vmlinux carries
// the Xen PHYS32_ENTRY note, and glue must start the vCPU there, not at the
// ELF entry (startup_64) that the 64-bit boot protocol uses. Linux's early
// messages are the same either way here (a diff of both boots with
// "debug ignore_loglevel memblock=debug" shows only timestamps and
// kvm-clock's offset: Linux's PVH
// code builds its boot_params from hvm_start_info and says nothing), so
// what tells the paths apart at this stage is where glue entered, checked
// against the kernel's own note. Linux's view of it (type_of_loader 0xb0
// from its PVH code) is the hardware tier's check, which needs userspace.
func TestBasicLinuxEarlyBootPVH(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	linux64, pvh := vmlinuxEntries(t, kernel)
	if linux64 == pvh {
		t.Fatalf("the kernel's ELF entry and PVH note both say %#x", pvh)
	}
	params := "console=ttyS0 earlyprintk=serial,ttyS0,115200 glue.entry=pvh"
	s := startGlue(t, "-v", "run", "-k", kernel, "--boot", "pvh", "-m", "256", "-p", params)
	loaded := waitForMatch(s, kernelLoaded, linuxMarkerTimeout)
	if loaded[1] != "pvh" || loaded[2] != fmt.Sprintf("%#x", pvh) {
		t.Errorf("glue entered through %s at %s; the kernel's PVH note says %#x (its ELF entry %#x)", loaded[1], loaded[2], pvh, linux64)
	}
	s.waitFor("Linux version ", linuxMarkerTimeout)
	s.waitFor("Command line: "+params, linuxMarkerTimeout)
}

// kernelLoaded is glue's -v log line naming the protocol and the address
// at which the boot vCPU starts.
var kernelLoaded = regexp.MustCompile(`msg="kernel loaded" .*protocol=(\S+) entry=(0x[0-9a-f]+)`)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Pause, resume and stop while Linux is printing its early boot messages.
func TestFeaturesLinuxLifecycle(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	dir := vmDir(t)
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "linux", "-k", kernel, "-m", "256",
		"-p", "console=ttyS0 earlyprintk=serial,ttyS0,115200")
	s.waitFor("Linux version ", linuxMarkerTimeout)
	glueIn(t, dir, "pause", "-n", "linux")
	frozen := settled(s.output)
	time.Sleep(2 * time.Second)
	if got := s.output(); got != frozen {
		t.Fatalf("Linux printed while paused:\n%s", strings.TrimPrefix(got, frozen))
	}
	glueIn(t, dir, "resume", "-n", "linux")
	for deadline := time.Now().Add(linuxMarkerTimeout); len(s.output()) == len(frozen); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Linux printed nothing after resume")
		}
	}
	glueIn(t, dir, "stop", "-n", "linux")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after stop, want 0", code)
	}
}
