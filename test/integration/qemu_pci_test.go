package integration

import (
	"bufio"
	"bytes"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// The built-in guest's PCI, virtio-pci, MSI-X, INTx and ACPI code against
// QEMU, an independent implementation of all of them: microvm with
// pcie=on and acpi=on (a GPEX host bridge whose ECAM base is in the DSDT's
// _CBA, BARs left unassigned for the guest to place, virtio-mmio
// transports described only in the DSDT, a GED power button), and q35
// (firmware that assigns BARs, an MCFG and the 0xcf8 ports). The devices
// are modern-only (disable-legacy=on), as glue's are.

// qemuMicrovmPCI is the machine most tests use.
const qemuMicrovmPCI = "microvm,rtc=on,acpi=on,pcie=on"

// startQEMUMachine boots the guest on machine with cmdline (glue.end is
// the caller's) and extra QEMU arguments, in ns if it is not empty.
func startQEMUMachine(t *testing.T, machine string, ns netns, cmdline string, extra ...string) *session {
	t.Helper()
	requireKVM(t)
	qemu := hosttest.LookPath(t, "qemu-system-x86_64")
	elf, err := filepath.Abs(qemuGuestELF)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-M", machine, "-enable-kvm", "-cpu", "host,-arch-capabilities",
		"-m", "64M", "-smp", "1", "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
		"-kernel", elf, "-append", cmdline}, extra...)
	if ns != "" {
		return startProcess(t, "ip", append([]string{"netns", "exec", string(ns), qemu}, args...)...)
	}
	return startProcess(t, qemu, args...)
}

// wantTransport checks a device line's transport, interrupt mode and
// that interrupts were counted where the mode has them.
func wantTransport(t *testing.T, name, details, transport, intr string) {
	t.Helper()
	irqs, err := strconv.Atoi(field(details, "irqs"))
	if field(details, "transport") != transport || field(details, "intr") != intr || err != nil {
		t.Errorf("%s: %q, want transport=%s intr=%s irqs=<n>", name, details, transport, intr)
		return
	}
	if (intr == "poll") != (irqs == 0) {
		t.Errorf("%s: irqs=%d with intr=%s", name, irqs, intr)
	}
}

// Block, entropy and console over virtio-pci, with MSI-X and with INTx:
// the guest finds the functions through ECAM, places their BARs, drives
// each device interrupt-driven and counts the interrupts, and the host
// sees the disk's marker and the console's line.
func TestPCIQEMUDevices(t *testing.T) {
	t.Parallel()
	for _, intr := range []string{"msix", "intx", "poll"} {
		t.Run(intr, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 16)
			sock := filepath.Join(t.TempDir(), "hvc0.sock")
			s := startQEMUMachine(t, qemuMicrovmPCI, "",
				"glue.test=acpi,pci,virtio,blk,rng,console glue.blk.marker=9c1e glue.end=triple glue.pci.intr="+intr,
				"-drive", "id=d0,file="+img+",format=raw,if=none,cache=writeback",
				"-device", "virtio-blk-pci,drive=d0,serial=glue-pci-disk,disable-legacy=on",
				"-device", "virtio-rng-pci,disable-legacy=on",
				"-device", "virtio-serial-pci,disable-legacy=on",
				"-chardev", "socket,id=h0,path="+sock+",server=on,wait=on",
				"-device", "virtconsole,chardev=h0")
			hvc := dialRetry(t, sock, time.Minute)
			hvcOut := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(hvc).ReadString('\n')
				hvcOut <- line
			}()
			s.waitFor("GLUE-READY console", time.Minute)
			if _, err := hvc.Write([]byte("over pci\r")); err != nil {
				t.Fatal(err)
			}
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("QEMU exited %d", code)
			}
			m := markers(t, s.output())
			ids := strings.Split(field(m["pci"], "ids"), ",")
			slices.Sort(ids)
			// The GPEX host bridge, then virtio-blk (0x1042), console (0x1043), rng (0x1044).
			if field(m["pci"], "via") != "ecam" || !slices.Equal(ids, []string{"1af4:1042", "1af4:1043", "1af4:1044", "1b36:0008"}) ||
				field(m["pci"], "msix") != "3" || field(m["pci"], "assigned") == "0" {
				t.Errorf("pci: %q, want via=ecam, the host bridge and three virtio functions with MSI-X, BARs assigned", m["pci"])
			}
			if field(m["virtio"], "pci") != "3" || field(m["virtio"], "devices") != "3" {
				t.Errorf("virtio: %q, want 3 devices, all on pci", m["virtio"])
			}
			if field(m["blk"], "capacity") != "32768" || field(m["blk"], "flushed") != "1" ||
				field(m["blk"], "verified") != field(m["blk"], "wrote") || field(m["blk"], "id") != "glue-pci-disk" {
				t.Errorf("blk: %q", m["blk"])
			}
			if !bytes.HasPrefix(sectorZero(t, img), []byte("9c1e\n")) {
				t.Errorf("marker not in the image: % x", sectorZero(t, img)[:16])
			}
			if field(m["rng"], "bytes") != "64" {
				t.Errorf("rng: %q", m["rng"])
			}
			if !strings.HasSuffix(m["console"], " echo=over pci") {
				t.Errorf("console: %q", m["console"])
			}
			for _, name := range []string{"blk", "rng", "console"} {
				wantTransport(t, name, m[name], "pci", intr)
			}
			wantHVCGreeting(t, hvcOut)
		})
	}
}

// The host pings the guest over virtio-net-pci, with MSI-X and with INTx.
func TestPCIQEMUNetworkPing(t *testing.T) {
	t.Parallel()
	for _, intr := range []string{"msix", "intx"} {
		t.Run(intr, func(t *testing.T) {
			t.Parallel()
			ns := newNetns(t)
			ns.tap(t, "tap0", "192.0.2.1/24")
			const mac = "02:00:00:00:00:3d"
			s := startQEMUMachine(t, qemuMicrovmPCI, ns,
				"glue.test=net glue.ip=192.0.2.2 glue.net.pings=3 glue.end=triple glue.pci.intr="+intr,
				"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
				"-device", "virtio-net-pci,netdev=n0,mac="+mac+",disable-legacy=on")
			s.waitFor("GLUE-READY net", time.Minute)
			ns.run(t, "ping", "-c", "3", "-W", "10", "192.0.2.2")
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("QEMU exited %d", code)
			}
			m := markers(t, s.output())
			if field(m["net"], "mac") != mac || field(m["net"], "echo") != "3" {
				t.Fatalf("net: %q; want mac=%s, echo=3", m["net"], mac)
			}
			wantTransport(t, "net", m["net"], "pci", intr)
		})
	}
}

// Both transports in one VM: with acpi=on microvm announces its
// virtio-mmio transports only in the DSDT (LNRO0005), which the guest
// reads when the command line names none; the PCI disk and the MMIO disk
// each pass.
func TestPCIQEMUBothTransports(t *testing.T) {
	t.Parallel()
	mmioImg, pciImg := diskImage(t, 4), diskImage(t, 8)
	s := startQEMUMachine(t, qemuMicrovmPCI, "", "glue.test=cmdline,virtio,blk glue.end=triple",
		append(slices.Clone(modern),
			"-drive", "id=d0,file="+mmioImg+",format=raw,if=none",
			"-device", "virtio-blk-device,drive=d0,serial=on-mmio",
			"-drive", "id=d1,file="+pciImg+",format=raw,if=none",
			"-device", "virtio-blk-pci,drive=d1,serial=on-pci,disable-legacy=on")...)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("QEMU exited %d", code)
	}
	out := s.output()
	m := markers(t, out)
	if len(mmioEntries(m["cmdline"])) != 0 {
		t.Fatalf("QEMU put virtio_mmio.device= on the command line: %q", m["cmdline"])
	}
	if field(m["virtio"], "mmio-from") != "dsdt" || field(m["virtio"], "pci") != "1" || field(m["virtio"], "ids") != "2,2" {
		t.Errorf("virtio: %q, want ids=2,2 with pci=1 mmio-from=dsdt", m["virtio"])
	}
	disks := blkLines(out)
	if len(disks) != 2 || field(disks["on-mmio"], "capacity") != "8192" || field(disks["on-pci"], "capacity") != "16384" {
		t.Fatalf("blk lines by disk id: %q", disks)
	}
	wantTransport(t, "blk on-mmio", disks["on-mmio"], "mmio", "poll")
	wantTransport(t, "blk on-pci", disks["on-pci"], "pci", "msix")
}

// MSI-X masking on QEMU's virtio-rng-pci: a request that completes while
// its vector is masked (by the entry, then by the function mask) sends
// nothing and sets the pending bit; unmasking sends the message once and
// clears the bit.
func TestPCIQEMUMSIXMasking(t *testing.T) {
	t.Parallel()
	s := startQEMUMachine(t, qemuMicrovmPCI, "", "glue.test=pci-msix glue.end=triple",
		"-device", "virtio-rng-pci,disable-legacy=on")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("QEMU exited %d", code)
	}
	got := markers(t, s.output())["pci-msix"]
	for key, want := range map[string]string{
		"dev": "1af4:1044", "masked-fired": "0", "pending": "1", "unmask-fired": "1", "pending-after": "0",
		"fmask-fired": "0", "fmask-pending": "1", "funmask-fired": "1", "fmask-pending-after": "0",
	} {
		if field(got, key) != want {
			t.Errorf("pci-msix %s=%q, want %q (line %q)", key, field(got, key), want, got)
		}
	}
}

// q35: firmware (SeaBIOS) assigns the BARs, the MCFG describes ECAM, and
// the 0xcf8/0xcfc ports reach the same configuration space; the guest
// drives the disk through either, with MSI-X and with INTx (routed by
// the interrupt line firmware wrote: q35's _PRT names link devices whose
// _CRS is a method).
func TestPCIQEMUQ35(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ via, intr string }{{"ecam", "msix"}, {"cf8", "intx"}} {
		t.Run(c.via, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 4)
			s := startQEMUMachine(t, "q35", "",
				"glue.test=acpi,pci,blk glue.end=triple glue.pci.via="+c.via+" glue.pci.intr="+c.intr,
				"-drive", "id=d0,file="+img+",format=raw,if=none",
				"-device", "virtio-blk-pci,drive=d0,serial=q35-disk,disable-legacy=on")
			if code := s.wait(2 * time.Minute); code != 0 {
				t.Fatalf("QEMU exited %d", code)
			}
			m := markers(t, s.output())
			if !strings.Contains(field(m["acpi"], "tables"), "MCFG") || field(m["acpi"], "checksums") != "ok" {
				t.Errorf("acpi: %q, want an MCFG and good checksums", m["acpi"])
			}
			if field(m["pci"], "via") != c.via || field(m["pci"], "assigned") != "0" ||
				!strings.Contains(field(m["pci"], "ids"), "1af4:1042") {
				t.Errorf("pci: %q, want via=%s, BARs assigned by firmware, the virtio-blk function", m["pci"], c.via)
			}
			if field(m["blk"], "id") != "q35-disk" || field(m["blk"], "verified") != field(m["blk"], "wrote") {
				t.Errorf("blk: %q", m["blk"])
			}
			wantTransport(t, "blk", m["blk"], "pci", c.intr)
		})
	}
}

// ACPI power-off under QEMU: with glue.end=s5 the guest enters S5 right
// after GLUE-DONE; with glue.end=poweroff it waits for the power button
// (QEMU's system_powerdown: a GED event on microvm, which is
// hardware-reduced; the fixed-feature PWRBTN_STS on q35, whose S5 goes
// through PM1a_CNT) and then enters S5. Either way QEMU itself powers off
// and exits 0; a guest that only halted would keep it running.
func TestPCIQEMUPowerOff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, machine, end, via, event string }{
		{"s5", qemuMicrovmPCI, "s5", "", ""},
		{"poweroff", qemuMicrovmPCI, "poweroff", "ged", "0x2"}, // QEMU's GED: event bit 1
		{"q35-poweroff", "q35", "poweroff", "fixed", "0x100"},  // PWRBTN_STS
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mon := filepath.Join(t.TempDir(), "monitor.sock")
			s := startQEMUMachine(t, c.machine, "", "glue.test=acpi glue.power.timeout=30 glue.end="+c.end,
				"-monitor", "unix:"+mon+",server=on,wait=off")
			if c.end == "poweroff" {
				s.waitFor("GLUE-READY power", 2*time.Minute)
				conn := dialRetry(t, mon, time.Minute)
				if _, err := conn.Write([]byte("system_powerdown\n")); err != nil {
					t.Fatal(err)
				}
			}
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("QEMU exited %d", code)
			}
			out := s.output()
			m := markers(t, out)
			if !strings.Contains(out, "GLUE-DONE\n") || !strings.Contains(out, "GLUE-S5\n") {
				t.Errorf("no GLUE-DONE, then GLUE-S5, in the output")
			}
			tables := strings.Split(field(m["acpi"], "tables"), ",")
			for _, want := range []string{"FACP", "DSDT", "APIC"} {
				if !slices.Contains(tables, want) {
					t.Errorf("acpi: %q lacks %s", m["acpi"], want)
				}
			}
			if field(m["acpi"], "cpus") != "1" || field(m["acpi"], "checksums") != "ok" {
				t.Errorf("acpi: %q, want cpus=1 checksums=ok", m["acpi"])
			}
			if c.via != "" && (field(m["power"], "via") != c.via || field(m["power"], "event") != c.event) {
				t.Errorf("power: %q, want via=%s event=%s", m["power"], c.via, c.event)
			}
		})
	}
}

// BAR relocation by the guest: glue.pci.move=1 moves every BAR of every
// virtio-pci function to a new address in the window, and the devices
// then work from there; glue.pci.move=ram moves one onto the guest's own
// RAM and back: the RAM keeps its contents and the device answers again
// at its address.
func TestPCIQEMUBARMove(t *testing.T) {
	t.Parallel()
	for _, move := range []string{"1", "ram"} {
		t.Run(move, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 4)
			s := startQEMUMachine(t, qemuMicrovmPCI, "", "glue.test=pci,blk,rng glue.end=triple glue.pci.move="+move,
				"-drive", "id=d0,file="+img+",format=raw,if=none",
				"-device", "virtio-blk-pci,drive=d0,disable-legacy=on",
				"-device", "virtio-rng-pci,disable-legacy=on")
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("QEMU exited %d", code)
			}
			m := markers(t, s.output())
			got := m["pci-move"]
			t.Logf("pci-move %s", got)
			// Two functions with two memory BARs each (MSI-X table, virtio structures).
			if move == "1" && (field(got, "moved") != "4" || field(got, "answer") != "4") {
				t.Errorf("pci-move: %q, want moved=4 answer=4", got)
			}
			if move == "ram" && (field(got, "ram-intact") != "1" || field(got, "back") != "1") {
				t.Errorf("pci-move: %q, want ram-intact=1 back=1", got)
			}
			if field(m["blk"], "verified") == "" || field(m["rng"], "bytes") != "64" {
				t.Errorf("after the move: blk %q, rng %q", m["blk"], m["rng"])
			}
		})
	}
}
