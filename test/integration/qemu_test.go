package integration

import (
	"bufio"
	"bytes"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// The built-in guest's virtio drivers against an independent device model:
// QEMU's microvm boots the same guest/glue-guest.elf through PVH, with
// QEMU's virtio-mmio devices at QEMU's addresses, window sizes and IRQs,
// described on the command line by QEMU itself (microvm does so only
// without ACPI). A driver bug that glue's devices happen to share shows up
// here. The guest ends with a triple fault, which -no-reboot turns into
// QEMU's exit.

// qemuGuestELF is the committed guest, the file glue embeds.
const qemuGuestELF = "../../guest/glue-guest.elf"

// startQEMU boots the guest with cmdline and the extra QEMU arguments,
// inside the network namespace ns if it is not empty; COM1 is the
// session's output.
func startQEMU(t *testing.T, ns netns, cmdline string, extra ...string) *session {
	t.Helper()
	requireKVM(t)
	qemu := hosttest.LookPath(t, "qemu-system-x86_64")
	elf, err := filepath.Abs(qemuGuestELF)
	if err != nil {
		t.Fatal(err)
	}
	// -cpu host alone aborts on PVM hosts ("failed to set MSR 0x10a");
	// rtc=on gives the guest the RTC it has under glue.
	args := append([]string{"-M", "microvm,rtc=on,acpi=off", "-enable-kvm", "-cpu", "host,-arch-capabilities",
		"-m", "64M", "-smp", "1", "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
		"-kernel", elf, "-append", cmdline + " glue.end=triple"}, extra...)
	if ns != "" {
		return startProcess(t, "ip", append([]string{"netns", "exec", string(ns), qemu}, args...)...)
	}
	return startProcess(t, qemu, args...)
}

// modern makes QEMU's virtio-mmio transports virtio 1.x (version 2), the
// only version the guest drives; QEMU's default is the legacy interface.
var modern = []string{"-global", "virtio-mmio.force-legacy=false"}

// mmioEntries returns the virtio_mmio.device= words of a command line.
func mmioEntries(cmdline string) []string {
	return regexp.MustCompile(`virtio_mmio\.device=\S+`).FindAllString(cmdline, -1)
}

// Block, entropy and console under QEMU: the marker the guest flushed is
// in the image file, each disk's serial comes back through GET_ID, a
// read-only disk refuses the write and stays unchanged, 64 bytes of
// entropy arrive, and a line goes each way through hvc0.
func TestDevicesQEMU(t *testing.T) {
	t.Parallel()
	img, roImg := diskImage(t, 16), diskImage(t, 8)
	roBefore := fileSHA256(t, roImg)
	sock := filepath.Join(t.TempDir(), "hvc0.sock")
	// wait=on: QEMU starts the guest only once the test has connected,
	// so no console output is lost.
	s := startQEMU(t, "", "glue.test=cmdline,virtio,blk,rng,console glue.blk.marker=5eed0e",
		append(slices.Clone(modern),
			"-drive", "id=d0,file="+img+",format=raw,if=none,cache=writeback",
			"-device", "virtio-blk-device,drive=d0,serial=glue-qemu-disk",
			"-drive", "id=d1,file="+roImg+",format=raw,if=none,readonly=on",
			"-device", "virtio-blk-device,drive=d1,serial=glue-qemu-ro",
			"-device", "virtio-rng-device",
			"-device", "virtio-serial-device",
			"-chardev", "socket,id=h0,path="+sock+",server=on,wait=on",
			"-device", "virtconsole,chardev=h0")...)
	hvc := dialRetry(t, sock, time.Minute)
	hvcOut := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(hvc).ReadString('\n')
		hvcOut <- line
	}()
	s.waitFor("GLUE-READY console", time.Minute)
	if _, err := hvc.Write([]byte("typed on the host\r")); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("QEMU exited %d", code)
	}
	out := s.output()
	m := markers(t, out)
	entries := mmioEntries(m["cmdline"])
	t.Logf("QEMU describes its devices as %s", strings.Join(entries, " "))
	if len(entries) != 4 {
		t.Errorf("QEMU's command line has %d virtio_mmio.device= entries, want 4: %q", len(entries), m["cmdline"])
	}
	ids := strings.Split(field(m["virtio"], "ids"), ",")
	slices.Sort(ids)
	if field(m["virtio"], "devices") != "4" || !slices.Equal(ids, []string{"2", "2", "3", "4"}) {
		t.Errorf("virtio: %q, want 4 devices with ids 2, 2, 3, 4", m["virtio"])
	}
	disks := blkLines(out)
	rw, ro := disks["glue-qemu-disk"], disks["glue-qemu-ro"]
	if len(disks) != 2 || field(rw, "capacity") != "32768" || field(rw, "flushed") != "1" ||
		field(rw, "verified") == "0" || field(rw, "verified") != field(rw, "wrote") {
		t.Errorf("blk lines by disk id: %q", disks)
	}
	// IOERR (1), which the virtio spec asks of a device for a write with
	// VIRTIO_BLK_F_RO offered; glue's test asks the same of glue.
	if field(ro, "ro") != "1" || field(ro, "write-rejected") != "1" || field(ro, "status") != "1" ||
		field(ro, "feature-ro") != "1" || field(ro, "capacity") != "16384" {
		t.Errorf("read-only disk: %q", ro)
	}
	if !bytes.HasPrefix(sectorZero(t, img), []byte("5eed0e\n")) {
		t.Errorf("marker not in the image: % x", sectorZero(t, img)[:16])
	}
	if fileSHA256(t, roImg) != roBefore {
		t.Error("read-only image changed")
	}
	if field(m["rng"], "bytes") != "64" {
		t.Errorf("rng: %q", m["rng"])
	}
	if m["console"] != "echo=typed on the host" {
		t.Errorf("console: %q", m["console"])
	}
	select {
	case line := <-hvcOut:
		if line != "GLUE-CONSOLE hello from hvc0\n" {
			t.Errorf("hvc0 said %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Error("nothing came out of hvc0")
	}
}

// The host pings the guest through a tap in a namespace the test makes,
// with QEMU's virtio-net-device on it; the guest reads its MAC address
// from the device's configuration.
func TestDevicesQEMUNetworkPing(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	const mac = "02:00:00:00:00:3c"
	s := startQEMU(t, ns, "glue.test=virtio,net glue.ip=192.0.2.2 glue.net.pings=3",
		append(slices.Clone(modern),
			"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
			"-device", "virtio-net-device,netdev=n0,mac="+mac)...)
	s.waitFor("GLUE-READY net", time.Minute)
	ns.run(t, "ping", "-c", "3", "-W", "10", "192.0.2.2")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("QEMU exited %d", code)
	}
	m := markers(t, s.output())
	if field(m["virtio"], "ids") != "1" || field(m["net"], "mac") != mac || field(m["net"], "echo") != "3" {
		t.Fatalf("virtio: %q, net: %q; want one network device, mac=%s, echo=3", m["virtio"], m["net"], mac)
	}
}

// QEMU's default virtio-mmio transport is the legacy interface (version
// 1): the guest finds it, counts it as legacy and drives nothing.
func TestDevicesQEMULegacyTransport(t *testing.T) {
	t.Parallel()
	img := diskImage(t, 1)
	s := startQEMU(t, "", "glue.test=virtio,blk",
		"-drive", "id=d0,file="+img+",format=raw,if=none", "-device", "virtio-blk-device,drive=d0")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("QEMU exited %d", code)
	}
	out := s.output()
	for _, want := range []string{
		"GLUE-OK virtio devices=0 ids=- legacy=1\n",
		"GLUE-FAIL blk no virtio-blk device (1 legacy virtio-mmio device(s) skipped: only version 2 is driven)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the guest's output:\n%s", want, out)
		}
	}
}

// blkLines returns the details of each "GLUE-OK blk dev=" line, by the
// disk's id (its GET_ID serial).
func blkLines(out string) map[string]string {
	disks := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if details, ok := strings.CutPrefix(line, "GLUE-OK blk dev="); ok {
			disks[field(details, "id")] = details
		}
	}
	return disks
}

// dialRetry connects to the Unix socket QEMU is about to create.
func dialRetry(t *testing.T, path string, timeout time.Duration) net.Conn {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("QEMU's console socket: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
