package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// okLines returns the details of every "GLUE-OK name ..." line, in order.
func okLines(out, name string) []string {
	var lines []string
	for _, m := range regexp.MustCompile(`(?m)^GLUE-OK `+name+` (.*?)\r?$`).FindAllStringSubmatch(out, -1) {
		lines = append(lines, m[1])
	}
	return lines
}

// Every kind of device works over PCI and over MMIO in the same VM: each
// of the two VMs puts each kind on one transport and the other VM on the
// other (there is one entropy device and one console per VM), disks on
// both. The guest finds the PCI devices by scanning bus 0 and the MMIO
// ones in the DSDT, and reports which transport carried each test.
func TestPCIAndMMIOInOneVM(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	tests := []struct {
		name                    string
		net, rng, console, disk string // transports; the second disk is on the other one
	}{
		{"net and console on pci", "pci", "mmio", "pci", "pci"},
		{"net and console on mmio", "mmio", "pci", "mmio", "mmio"},
	}
	other := map[string]string{"pci": "mmio", "mmio": "pci"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNetns(t)
			ns.tap(t, "tap0", "192.0.2.1/24")
			args := []string{"run", "-m", "64", "-c", "2",
				"--disk", "path=" + diskImage(t, 8) + ",transport=" + tc.disk,
				"--disk", "path=" + diskImage(t, 8) + ",transport=" + other[tc.disk],
				"--net", "tap=tap0,transport=" + tc.net,
				"--rng=transport=" + tc.rng,
				"--console", "virtio,transport=" + tc.console,
				"-p", "glue.test=pci,virtio,blk,rng,net,console glue.ip=192.0.2.2 glue.net.pings=1"}
			s := startProcess(t, "ip", append([]string{"netns", "exec", string(ns), glueBin}, args...)...)
			s.waitFor("GLUE-READY net", time.Minute)
			ns.run(t, "ping", "-c", "1", "-W", "10", "192.0.2.2")
			s.waitFor("GLUE-READY console", time.Minute)
			fmt.Fprint(s.stdin, consoleLine+"\r")
			if code := s.wait(2 * time.Minute); code != 0 {
				t.Fatalf("exit %d:\n%s", code, s.output())
			}
			out := s.output()
			m := markers(t, out)
			if v := m["virtio"]; field(v, "devices") != "5" || !strings.Contains(v, "mmio-from=dsdt") {
				t.Errorf("virtio: %q, want 5 devices, the MMIO ones from the DSDT", v)
			}
			disks := okLines(out, "blk")
			if len(disks) != 2 {
				t.Fatalf("%d blk lines, want 2:\n%s", len(disks), out)
			}
			got := []string{field(disks[0], "transport"), field(disks[1], "transport")}
			if !(got[0] != got[1] && (got[0] == "pci" || got[0] == "mmio") && (got[1] == "pci" || got[1] == "mmio")) {
				t.Errorf("disks on transports %v, want one on each", got)
			}
			for _, c := range []struct{ test, want string }{{"net", tc.net}, {"rng", tc.rng}, {"console", tc.console}} {
				if got := field(m[c.test], "transport"); got != c.want {
					t.Errorf("%s ran over %q, want %q (%s)", c.test, got, c.want, m[c.test])
				}
			}
			if echo := field(m["console"], "echo"); echo != consoleLine {
				t.Errorf("console echo %q, want %q", echo, consoleLine)
			}
		})
	}
}

// PCI devices interrupt the guest with MSI-X (a GSI route and irqfd per
// vector) and, when the driver leaves MSI-X off, with INTx through the
// IOAPIC line the _PRT names: every request's completion arrives as an
// interrupt either way. Configuration space works through ECAM and through
// CF8/CFC, the only way without ACPI (no MCFG).
func TestPCIInterruptsAndConfigAccess(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	tests := []struct {
		name, intr, via, acpi string
	}{
		{"msix over ecam", "msix", "ecam", "on"},
		{"intx over ecam", "intx", "ecam", "on"},
		{"msix over cf8 without acpi", "msix", "cf8", "off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, "run", "-m", "64", "-c", "2", "--acpi", tc.acpi, "-d", diskImage(t, 8), "--rng",
				"-p", "glue.test=pci,virtio,blk,rng glue.pci.intr="+tc.intr+" glue.pci.via="+tc.via)
			if res.code != 0 {
				t.Fatalf("exit %d: %s\n%s", res.code, res.stderr, res.stdout)
			}
			m := markers(t, res.stdout)
			if pci := m["pci"]; field(pci, "via") != tc.via || !strings.Contains(pci, "1af4:1042") || !strings.Contains(pci, "1af4:1044") {
				t.Errorf("pci: %q, want the disk and the entropy device via %s", pci, tc.via)
			}
			for _, test := range []string{"blk", "rng"} {
				d := m[test]
				irqs, _ := strconv.Atoi(field(d, "irqs"))
				if field(d, "transport") != "pci" || field(d, "intr") != tc.intr || irqs == 0 {
					t.Errorf("%s: %q, want transport=pci intr=%s and interrupts", test, d, tc.intr)
				}
			}
		})
	}
}

// The guest moves every virtio-pci BAR to other free room in the window:
// glue moves each BAR's region on its MMIO bus, and the device tests then
// run from there. (That the queues' ioeventfds follow is checked against
// KVM in vmm's TestPCIVirtioNotifyFollowsBAR: without them notifications
// still work, through exits.)
func TestPCIBARRelocation(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run", "-m", "64", "-d", diskImage(t, 8), "--rng",
		"-p", "glue.test=pci,virtio,blk,rng glue.pci.move=1")
	if res.code != 0 {
		t.Fatalf("exit %d: %s\n%s", res.code, res.stderr, res.stdout)
	}
	m := markers(t, res.stdout)
	if mv := m["pci-move"]; field(mv, "moved") != "2" || field(mv, "answer") != "2" {
		t.Errorf("pci-move: %q, want both BARs moved and answering there", mv)
	}
	for _, test := range []string{"blk", "rng"} {
		if field(m[test], "transport") != "pci" {
			t.Errorf("%s: %q, want it to pass over PCI after the move", test, m[test])
		}
	}
}

// A hostile guest moves a BAR onto its own RAM: glue ignores the move and
// says so, the device stays where it was, and the RAM keeps its contents.
func TestPCIBARMovedOntoRAMIsIgnored(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run", "-m", "64", "--rng", "-p", "glue.test=pci glue.pci.move=ram")
	if res.code != 0 {
		t.Fatalf("exit %d: %s\n%s", res.code, res.stderr, res.stdout)
	}
	mv := markers(t, res.stdout)["pci-move"]
	for k, want := range map[string]string{"target": "ram", "old-answers": "1", "ram-intact": "1", "back": "1"} {
		if got := field(mv, k); got != want {
			t.Errorf("pci-move %s=%q, want %q (%s)", k, got, want, mv)
		}
	}
	if !strings.Contains(res.stderr, "guest BAR move ignored") || !strings.Contains(res.stderr, "outside every BAR window") {
		t.Errorf("glue did not log the refused move:\n%s", res.stderr)
	}
}
